"""``meshmeter tenant``, ``unit``, ``account`` and ``token create --account/--site`` as an operator runs
them (issue 13): JSON out, one error line naming every problem, exit 0 / 2 / 3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from meshmeter.cli import app
from meshmeter.store import Store
from tests.cli.test_errors import ENV, UNREACHABLE_PG, one_error_line

runner = CliRunner()


def run(*args: str) -> Result:
    return runner.invoke(app, list(args), env=ENV)


@pytest.fixture
def database(tmp_path: Path) -> str:
    """A store with Oak Court (Los Angeles): meters M1 and M2, made by the command line."""
    url = f"sqlite:///{tmp_path / 'tenancy.db'}"
    for args in (
        ("site", "add", "--name", "Oak Court", "--timezone", "America/Los_Angeles"),
        ("meter", "add", "--serial", "M1", "--site-id", "1"),
        ("meter", "add", "--serial", "M2", "--site-id", "1"),
    ):
        result = run(*args, "--database", url)
        assert result.exit_code == 0, result.output
    return url


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_an_account_from_move_in_to_close(database: str) -> None:
    db = ("--database", database)
    assert json.loads(ok("tenant", "create", "--name", "Ada Alvarez", "--json", *db)) == {
        "id": 1,
        "name": "Ada Alvarez",
    }
    assert ok("unit", "add", "--site", "1", "--name", "1A", "--meter", "M1", *db).strip() == "1"
    made = json.loads(
        ok(
            "unit",
            "add",
            "--site",
            "1",
            "--name",
            "2B",
            "--meter",
            "M2",
            "--address",
            "2 Oak Ct",
            "--json",
            *db,
        )
    )
    assert made == {
        "id": 2,
        "site_id": 1,
        "name": "2B",
        "address": "2 Oak Ct",
        "meter": "M2",
        "floor_area_ft2": None,
        "occupants": None,
    }
    assert ok("account", "create", "--tenant", "1", "--site", "1", *db).strip() == "1"
    # a date is the site's local midnight (PST, UTC-8); a unit by its name in the account's site
    moved = json.loads(ok("account", "move-in", "1", "--unit", "1A", "--at", "2026-03-01", "--json", *db))
    assert moved["occupancies"] == [
        {
            "id": 1,
            "unit_id": 1,
            "unit": "1A",
            "meter": "M1",
            "move_in": "2026-03-01T08:00:00+00:00",
            "move_out": None,
        }
    ]
    moved = json.loads(
        ok("account", "transfer", "1", "--unit", "2", "--at", "2026-04-01T12:00", "--json", *db)
    )
    assert [(o["unit"], o["move_out"]) for o in moved["occupancies"]] == [
        ("1A", "2026-04-01T19:00:00+00:00"),
        ("2B", None),
    ]
    ok("account", "move-out", "1", "--at", "2026-05-01T00:00:00Z", *db)
    closed = json.loads(ok("account", "close", "1", "--at", "2026-05-01T00:00:00Z", "--json", *db))
    assert closed["closed_at"] == "2026-05-01T00:00:00+00:00"
    history = json.loads(ok("account", "history", "1", "--json", *db))["history"]
    assert [e["kind"] for e in history] == [
        "account_opened",
        "moved_in",
        "transferred",
        "moved_out",
        "account_closed",
    ]
    assert all(e["recorded_by"].startswith("meshmeter account") for e in history[1:])
    listed = json.loads(ok("account", "list", "--state", "closed", "--json", *db))
    assert [a["number"] for a in listed] == ["1001"]
    assert json.loads(ok("account", "list", "--state", "open", "--json", *db)) == []
    assert json.loads(ok("tenant", "list", "--site", "1", "--json", *db)) == [
        {"id": 1, "name": "Ada Alvarez", "accounts": ["1001"], "units": []}  # the account closed
    ]
    units = json.loads(ok("unit", "list", "--json", *db))
    assert [(u["name"], u["meter"], u["occupied_by"]) for u in units] == [
        ("1A", "M1", None),
        ("2B", "M2", None),
    ]
    text = ok("account", "history", "1", *db)
    assert "account 1001" in text
    assert "transferred" in text
    with Store(database) as store:
        assert [(o.unit, o.move_out is not None) for o in store.occupancies(account_id=1)] == [
            ("1A", True),
            ("2B", True),
        ]


def test_refusals_are_one_line_naming_every_problem_and_store_nothing(database: str) -> None:
    db = ("--database", database)
    ok("tenant", "create", "--name", "Ada", *db)
    ok("tenant", "create", "--name", "Ben", *db)
    ok("unit", "add", "--site", "1", "--name", "1A", "--meter", "M1", *db)
    ok("account", "create", "--tenant", "1", "--site", "1", *db)
    ok("account", "create", "--tenant", "2", "--site", "1", *db)
    ok("account", "move-in", "1", "--unit", "1A", "--at", "2026-03-01", *db)
    with Store(database) as store:
        before = (store.occupancies(), store.tenancy_history())
    for args, needles in [
        (
            ("account", "move-in", "2", "--unit", "1A", "--at", "2026-03-05"),
            ["unit 1A is occupied by account 1001"],
        ),
        (("account", "move-out", "1", "--at", "2026-02-01"), ["is not after the move-in"]),
        (
            ("account", "move-in", "9", "--unit", "8", "--at", "2026-03-05"),
            ["account_id 9 is not a known account", "unit_id 8 is not a known unit"],
        ),
        (("account", "move-in", "2", "--unit", "1A", "--at", "tomorrow"), ["at must be an ISO 8601 date"]),
        (("account", "close", "1"), ["move out first"]),
        (
            ("unit", "add", "--site", "1", "--name", "1A", "--meter", "NOPE"),
            ["meter 'NOPE' is not a known meter"],
        ),
        (("account", "list", "--state", "maybe"), ["state must be open, closed or all"]),
    ]:
        result = run(*args, *db)
        assert result.exit_code == 2, (args, result.output)
        line = one_error_line(result)
        for needle in needles:
            assert needle in line, (args, line)
    ok("account", "close", "2", "--at", "2026-03-02", *db)
    result = run("account", "move-in", "2", "--unit", "1A", "--at", "2026-03-05", *db)
    line = one_error_line(result)
    assert "a closed account takes no move-in" in line
    assert "unit 1A is occupied" in line
    with Store(database) as store:
        assert store.occupancies() == before[0]
        assert len(store.tenancy_history()) == len(before[1]) + 1  # the close only


def test_tenant_and_site_bound_tokens(database: str) -> None:
    db = ("--database", database)
    ok("tenant", "create", "--name", "Ada", *db)
    ok("account", "create", "--tenant", "1", "--site", "1", *db)
    result = run("token", "create", "--role", "tenant", "--account", "1", "--label", "Ada's portal", *db)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith("mm_")
    assert "(tenant, account 1)" in result.stderr
    result = run("token", "create", "--role", "billing", "--site", "1", "--site", "1", *db)
    assert result.exit_code == 0, result.output
    tokens = json.loads(ok("token", "list", "--json", *db))
    assert [(t["role"], t["account_id"], t["site_ids"]) for t in tokens] == [
        ("tenant", 1, []),
        ("billing", None, [1]),
    ]
    for args, needle in [
        (("--role", "tenant"), "a tenant token needs account_id"),
        (("--role", "admin", "--site", "1"), "never bound to sites"),
        (("--role", "read-only", "--site", "5"), "site_id 5 is not a known site"),
        (("--role", "tenant", "--account", "9"), "account_id 9 is not a known account"),
    ]:
        result = run("token", "create", *args, *db)
        assert result.exit_code == 2, result.output
        assert needle in one_error_line(result)


@pytest.mark.parametrize(
    "args",
    [
        ["tenant", "list"],
        ["account", "history", "1"],
        ["account", "move-in", "1", "--unit", "1A", "--at", "2026-03-01"],
        ["unit", "list"],
    ],
)
def test_an_unreachable_database_is_exit_3(args: list[str]) -> None:
    result = run(*args, "--database", UNREACHABLE_PG)
    assert result.exit_code == 3, result.output
    assert "cannot be reached" in one_error_line(result)
