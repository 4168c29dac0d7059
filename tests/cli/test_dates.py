"""Every time option of every command reads a time by one rule (issue 15, "Command line").

``YYYY-MM-DD`` is local midnight of the site the command works on, a date-time without an offset local time
there, one with an offset or ``Z`` that instant (``meshmeter.cli.common.parse_time``, the rule of
``meshmeter.services.tenancy.effective_instant``). Driven through the ``meshmeter`` command on a store of
Oak Court (Los Angeles), with intervals ingested as a head-end receives them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from meshmeter.cli import app
from tests.cli.test_errors import ENV, one_error_line

runner = CliRunner()

INTERVALS_CSV = (
    "meter,interval_end,energy_wh\n"
    "M1,2026-11-01T06:45:00Z,50\n"
    "M1,2026-11-01T07:00:00Z,100\n"  # local midnight of 1 November in Los Angeles (PDT, UTC-7)
    "M1,2026-11-01T07:15:00Z,200\n"
    "M1,2026-11-01T07:30:00Z,300\n"
)


def run(*args: str) -> Result:
    return runner.invoke(app, list(args), env=ENV)


@pytest.fixture
def database(tmp_path: Path) -> str:
    """Oak Court (Los Angeles) with meter M1 and four of its intervals around local midnight of 1 Nov 2026."""
    url = f"sqlite:///{tmp_path / 'dates.db'}"
    data = tmp_path / "intervals.csv"
    data.write_text(INTERVALS_CSV, encoding="utf-8")
    for args in (
        ("site", "add", "--name", "Oak Court", "--timezone", "America/Los_Angeles"),
        ("meter", "add", "--serial", "M1", "--site-id", "1"),
        ("ingest", str(data)),
    ):
        result = run(*args, "--database", url)
        assert result.exit_code == 0, result.output
    return url


def exported(database: str, start: str, end: str) -> list[str]:
    result = run("export", "--meter", "M1", "--start", start, "--end", end, "--database", database)
    assert result.exit_code == 0, result.output
    return [line.split(",")[0] for line in result.stdout.splitlines()[1:]]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-11-01", "2026-11-01T00:30"),  # a date: local midnight; a date-time: local time
        ("2026-11-01T07:00:00Z", "2026-11-01T07:30Z"),  # instants in UTC
        ("2026-11-01T00:00-07:00", "2026-11-01T00:30:00-07:00"),  # instants with their offset
    ],
)
def test_export_reads_dates_in_the_site_zone(database: str, start: str, end: str) -> None:
    """The same window three ways: after local midnight (exclusive) to 00:30 local (inclusive)."""
    assert exported(database, start, end) == ["2026-11-01T07:15:00Z", "2026-11-01T07:30:00Z"]


def test_a_date_is_not_utc_midnight(database: str) -> None:
    """``--start 2026-11-01`` is the site's midnight (07:00Z), not UTC's: the 06:45Z interval is before it."""
    assert "2026-11-01T06:45:00Z" not in exported(database, "2026-11-01", "2026-11-02")
    assert "2026-11-01T06:45:00Z" in exported(database, "2026-10-31", "2026-11-02")


def test_account_opened_on_a_date_is_local_midnight(database: str) -> None:
    """``account create --opened`` takes the same dates: local midnight of the account's site."""
    db = ("--database", database)
    assert run("tenant", "create", "--name", "Ada Alvarez", *db).exit_code == 0
    result = run("account", "create", "--tenant", "1", "--site", "1", "--opened", "2026-11-01", "--json", *db)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["opened_at"].startswith("2026-11-01T07:00:00")


TIME_OPTIONS = [
    (("export", "--meter", "M1", "--end", "2026-11-02"), "--start"),
    (("export", "--meter", "M1", "--start", "2026-11-01"), "--end"),
    (("corrections", "list", "--site", "Oak Court"), "--start"),
    (("corrections", "list"), "--end"),
    (("reconcile", "Oak Court", "--end", "2026-11-02"), "--start"),
    (("reconcile", "Oak Court", "--start", "2026-11-01"), "--end"),
    (("allocate", "Oak Court", "--by", "area", "--end", "2026-11-02", "--master-total", "100"), "--start"),
    (("allocate", "Oak Court", "--by", "area", "--start", "2026-11-01", "--master-total", "100"), "--end"),
    (("bill", "--meter", "M1", "--tariff", "example:e-tou-c-example", "--end", "2026-12-01"), "--start"),
    (("bill", "--meter", "M1", "--tariff", "example:e-tou-c-example", "--start", "2026-11-01"), "--end"),
    (
        (
            "bill",
            "--meter",
            "M1",
            "--tariff",
            "example:e-tou-c-example",
            "--start",
            "2026-11-01",
            "--end",
            "2026-12-01",
        ),
        "--move-in",
    ),
    (("meter", "remove", "M1", "--final-read", "100"), "--at"),
    (("meter", "set-multiplier", "M1", "2"), "--at"),
    (("account", "create", "--tenant", "1", "--site", "1"), "--opened"),
]


@pytest.mark.parametrize(("args", "option"), TIME_OPTIONS, ids=[f"{a[0]} {o}" for a, o in TIME_OPTIONS])
@pytest.mark.parametrize("garbage", ["yesterday", "2026-13-01"])
def test_garbage_is_refused_naming_the_option(
    database: str, args: tuple[str, ...], option: str, garbage: str
) -> None:
    """A time that is not one: exit 2, one line that names the option and shows the forms it takes."""
    if args[0] == "account":
        assert run("tenant", "create", "--name", "Ada Alvarez", "--database", database).exit_code == 0
    result = run(*args, option, garbage, "--database", database)
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert option.lstrip("-") in line, line
    assert repr(garbage) in line, line
    assert "2024-03-01T12:00" in line, line  # what to type instead
    if args[0] == "account":  # nothing stored
        assert json.loads(run("account", "list", "--json", "--database", database).stdout) in (
            [],
            {"data": []},
        )
