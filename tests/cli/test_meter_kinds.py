"""Meters of any make from the command line (issue 14): ``meshmeter meter add`` with a manufacturer, model
and ratings, ``meter show`` and ``meter list`` printing them with the limit they give, ``meter set-kind``
changing them; bad input named all at once, nothing stored. On a SQLite file and on PostgreSQL.

The meters and their published figures (see ``tests/store/test_meter_kinds.py`` for the sources):
Eastron SDM630MCT on 400:5 A CTs, 3 × 289 V × 400 A × 0.25 h = 86,700 Wh in 15 minutes; Continental
Control Systems WattNode WNC-3Y-208-MB on 200 A CTs read to 120 %, hourly 3 × 120 V × 240 A × 1 h =
86,400 Wh; the Mini Meter, 2 × 138 V × 220 A × 0.25 h = 15,180 Wh.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from meshmeter.cli import app
from meshmeter.store import Store
from tests.store.conftest import postgres_schema_url

__all__ = ["postgres_schema_url"]  # a fixture of these tests

runner = CliRunner()
ENV = {"COLUMNS": "200", "TERMINAL_WIDTH": "200", "NO_COLOR": "1", "TERM": "dumb"}
SDM = [
    "--manufacturer", "Eastron", "--model", "SDM630MCT",
    "--elements", "3", "--voltage-max", "289", "--current-max", "400", "--ct-ratio", "400:5",
]  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'meters.db'}"
    else:
        url: URL = request.getfixturevalue("postgres_schema_url")
        yield url.render_as_string(hide_password=False)


def run(*args: str, database: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--database", database], env=ENV)
    return result.exit_code, result.stdout, result.stderr


def serials(database: str) -> list[str]:
    with Store(database) as store:
        return [m.serial for m in store.meters()]


def test_a_meter_of_another_make_is_added_shown_and_listed(database: str) -> None:
    code, out, err = run(
        "site", "add", "--name", "Oak Court", "--timezone", "America/Los_Angeles", database=database
    )
    assert code == 0, err
    site = out.strip()
    code, out, err = run(
        "meter",
        "add",
        "--serial",
        "SDM-1",
        "--site-id",
        site,
        *SDM,
        "--role",
        "master",
        "--register-digits",
        "7",
        database=database,
    )
    assert code == 0, err
    assert err == ""  # rated: nothing to warn of
    code, out, err = run(
        "meter",
        "add",
        "--serial",
        "WN-1",
        "--site-id",
        site,
        "--manufacturer",
        "Continental Control Systems",
        "--model",
        "WNC-3Y-208-MB",
        "--elements",
        "3",
        "--voltage-max",
        "120",
        "--current-max",
        "240",
        "--interval",
        "60",
        "--role",
        "house",
        "--multiplier",
        "2",
        database=database,
    )
    assert code == 0, err
    assert run("meter", "add", "--serial", "MM-1", "--site-id", site, database=database)[0] == 0

    code, out, err = run("meter", "show", "SDM-1", "--json", database=database)
    assert code == 0, err
    shown = json.loads(out)
    assert {k: shown[k] for k in shown if k not in ("id", "site_id")} == {
        "serial": "SDM-1",
        "designation": "SDM630MCT",
        "manufacturer": "Eastron",
        "model": "SDM630MCT",
        "elements": 3,
        "voltage_max_v": 289.0,
        "current_max_a": 400.0,
        "ct_ratio": 80.0,  # 400:5
        "multiplier": 1.0,
        "interval_s": 900,
        "role": "master",
        "register_digits": 7,
        "export_of": None,
        "install_date": None,
        "max_interval_energy_wh": 86_700,  # 3 × 289 V × 400 A × 0.25 h
        "rating_source": "ratings",
    }
    code, out, err = run("meter", "show", "SDM-1", database=database)
    assert code == 0, err
    assert "86,700 Wh per 15 minutes, from its own ratings" in out
    assert "manufacturer:           Eastron" in out

    code, out, err = run("meter", "list", "--site-id", site, "--json", database=database)
    assert code == 0, err
    listed = {m["serial"]: m for m in json.loads(out)}
    assert list(listed) == ["SDM-1", "WN-1", "MM-1"]
    assert (listed["WN-1"]["max_interval_energy_wh"], listed["WN-1"]["interval_s"]) == (86_400, 3600)
    assert (listed["WN-1"]["multiplier"], listed["WN-1"]["role"]) == (2.0, "house")
    assert (listed["MM-1"]["max_interval_energy_wh"], listed["MM-1"]["rating_source"]) == (
        15_180,
        "designation",
    )
    code, out, err = run("meter", "list", database=database)
    assert code == 0, err
    assert "3 × 289 V × 400 A" in out
    assert "86,700 (ratings)" in out


def test_a_manufacturer_without_ratings_is_warned_of_its_mini_meter_limit(database: str) -> None:
    code, _out, err = run(
        "meter",
        "add",
        "--serial",
        "SDM-2",
        "--manufacturer",
        "Eastron",
        "--model",
        "SDM630MCT",
        database=database,
    )
    assert code == 0, err
    said = " ".join(err.split())
    assert "warning: meter SDM-2 has no ratings (--elements, --voltage-max, --current-max)" in said
    assert "the default Mini Meter's (MM-D1202001-T-SCC), 15,180 Wh" in said
    # a manufacturer with a Mini Meter designation: the designation still decodes
    code, _out, err = run(
        "meter",
        "add",
        "--serial",
        "S-1",
        "--manufacturer",
        "Integrated Metering Systems",
        "--model",
        "Mini Meter",
        "--designation",
        "MM-S1202001-T-SCC",
        database=database,
    )
    assert code == 0, err
    assert "its designation's, 7,590 Wh" in " ".join(err.split())
    # a Mini Meter as before: no warning
    code, _, err = run("meter", "add", "--serial", "MM-2", "--model", "MM-S1202001", database=database)
    assert (code, err) == (0, "")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["--manufacturer", "Eastron", "--elements", "4", "--voltage-max", "-2"],
            [
                "--model is missing: a meter of another make is named by its model",
                "--elements must be a whole number, 1 to 3, got 4",
                "--voltage-max must be a finite number > 0 [V, line to neutral], got -2.0",
                "missing --current-max",
            ],
        ),
        (
            ["--elements", "0", "--voltage-max", "230", "--current-max", "100"],
            [
                "--elements must be a whole number, 1 to 3, got 0",
                "ratings are of a meter of another make: give its --manufacturer",
            ],
        ),
        (
            ["--manufacturer", "Eastron", "--model", "SDM630MCT", "--current-max", "400"],
            ["--elements, --voltage-max and --current-max go together", "missing --elements, --voltage-max"],
        ),
        (["--model", "SDM630MCT"], ["SDM630MCT"]),  # without --manufacturer, a Mini Meter designation
        (
            ["--model", "MM-D1202001", "--designation", "MM-S1202001"],
            ["give --model or --designation, not both"],
        ),
        ([*SDM[:-2], "--ct-ratio", "400:0"], ["ct_ratio must be a number (4000) or primary:secondary A"]),
    ],
)
def test_bad_input_is_named_at_once_and_nothing_is_stored(
    database: str, args: list[str], said: list[str]
) -> None:
    code, out, err = run("meter", "add", "--serial", "BAD-1", *args, database=database)
    assert code == 2, (out, err)
    text = " ".join(err.split())
    for problem in said:
        assert problem in text, text
    assert "Traceback" not in text
    assert serials(database) == []


def test_set_kind_records_the_ratings_of_a_meter_registered_before(database: str) -> None:
    assert run("meter", "add", "--serial", "OLD-1", database=database)[0] == 0
    code, out, err = run("meter", "set-kind", "OLD-1", *SDM[:-2], database=database)
    assert code == 0, err
    assert out.strip() == "OLD-1: at most 86,700 Wh per 15 minutes, from its own ratings"
    code, out, err = run(
        "meter", "set-kind", "OLD-1", "--manufacturer", "Eastron", "--elements", "9", database=database
    )
    assert code == 2
    text = " ".join(err.split())
    assert "--elements must be a whole number, 1 to 3, got 9" in text
    assert "missing --voltage-max, --current-max" in text
    with Store(database) as store:
        meter = store.get_meter(serial="OLD-1")
        assert meter is not None
        assert (meter.elements, meter.voltage_max_v, meter.current_max_a) == (3, 289.0, 400.0)  # unchanged
    assert run("meter", "set-kind", "OLD-1", "--mini-meter", "--elements", "3", database=database)[0] == 2
    assert run("meter", "set-kind", "NOPE", "--mini-meter", database=database)[0] == 2
    code, out, err = run("meter", "set-kind", "OLD-1", "--mini-meter", database=database)
    assert code == 0, err
    assert out.strip() == "OLD-1: at most 15,180 Wh per 15 minutes, from its designation"


def test_show_and_list_name_what_is_not_there(database: str) -> None:
    code, _out, err = run("meter", "show", "NOPE", database=database)
    assert code == 2
    assert "no meter has serial 'NOPE'" in err
    code, _, err = run("meter", "list", "--site-id", "99", database=database)
    assert code == 2
    assert "no site has id 99" in err
