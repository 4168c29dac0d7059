"""``meshmeter vee list|accept|edit|reread`` (issue 15): the work list in words for people and JSON for
programs, a person's acts with who and why, and ``meshmeter vee --meter ...`` running VEE as before."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from meshmeter.cli import app
from meshmeter.store import Store
from tests.cli.test_errors import ENV, one_error_line
from tests.services.vee_world import END, GAP, SPIKE, T0, build

runner = CliRunner()


def run(*args: str, width: int = 100) -> Result:
    env = {**ENV, "COLUMNS": str(width), "TERMINAL_WIDTH": str(width)}
    return runner.invoke(app, list(args), env=env)


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'vee.db'}"
    store = Store(url)
    try:
        build(store)
    finally:
        store.close()
    return url


def _json(*args: str) -> dict:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_for_people_fits_the_terminal_and_puts_names_first(database) -> None:
    for width in (100, 80):
        result = run("vee", "list", "--site", "Oak Court", "--database", database, width=width)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert lines[0].split()[:3] == ["Unit", "Tenant", "Meter"]
        assert [line.split()[:2] for line in lines[1:] if line[:1].strip()] == [["Unit", "101"]] * 3
        assert all(len(line) <= width for line in lines), [len(line) for line in lines]
        assert "MM26000001" in lines[1]
    wide = run("vee", "list", "--site", "Oak Court", "--database", database, width=200).stdout
    first = wide.splitlines()[1]
    assert first.startswith("Unit 101  Alvarez household (1001)  MM26000001  2026-01-05 10:15 PST  open")
    assert "spike: 3000 Wh is more than 5× the day's third highest interval (500 Wh)" in wide
    assert "500 (interpolation)" in wide


def test_list_as_json_with_filters(database) -> None:
    body = _json("vee", "list", "--site", "Oak Court", "--check", "missing", "--database", database)
    assert body["count"] == 2
    assert [(d["local_end"], d["estimate_wh"], d["method"]) for d in body["data"]] == [
        ("2026-01-05 20:00 PST", 500, "interpolation"),
        ("2026-01-05 20:15 PST", 500, "interpolation"),
    ]
    assert _json("vee", "list", "--site", "1", "--meter", "MM26000002", "--database", database)["count"] == 0


def test_accept_edit_reread_record_who_and_why(database) -> None:
    at = SPIKE.isoformat()
    done = _json("vee", "accept", "--site", "Oak Court", "--meter", "MM26000001", "--at", at,
                 "--reason", "oven test", "--database", database)  # fmt: skip
    assert (done["state"], done["value_wh"], done["acted_reason"]) == ("accepted", 3000, "oven test")
    assert done["acted_by"].startswith("meshmeter vee accept")
    result = run("vee", "edit", "--site", "Oak Court", "--meter", "MM26000001", "--at", GAP[0].isoformat(),
                 "--value-wh", "420", "--reason", "register read", "--database", database)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "Unit 101 (MM26000001), 2026-01-05 20:00 PST: edited, 420 Wh; by meshmeter"
    )
    done = _json("vee", "reread", "--site", "Oak Court", "--meter", "MM26000001", "--at",
                 GAP[1].isoformat(), "--reason", "gap", "--database", database)  # fmt: skip
    assert done["state_words"] == "re-read requested"
    states = _json("vee", "list", "--site", "Oak Court", "--database", database)["data"]
    assert [d["state"] for d in states] == ["accepted", "edited", "reread"]
    assert (
        _json("vee", "list", "--site", "Oak Court", "--state", "open", "--database", database)["count"] == 0
    )
    store = Store(database)
    try:
        meter = store.get_meter(serial="MM26000001")
        audit = [e for e in store.interval_edits(meter_id=meter.id, start=T0, end=END) if e.action]
    finally:
        store.close()
    assert [(e.action, e.reason) for e in audit] == [("accept", "oven test"), ("edit", "register read"),
                                                     ("reread", "gap")]  # fmt: skip


def test_bad_acts_name_every_problem_and_change_nothing(database) -> None:
    result = run("vee", "edit", "--site", "Oak Court", "--meter", "NOPE", "--at", "yesterday",
                 "--value-wh", "1.5", "--reason", " ", "--database", database)  # fmt: skip
    assert result.exit_code == 2
    line = one_error_line(result)
    assert line.startswith("error: --at must be an ISO")  # parse_time's own words for the time
    assert "got 'yesterday'" in line
    assert line.endswith(
        "; reason must be given (why, in words); value_wh must be a whole number of Wh, got '1.5'; "
        "meter 'NOPE' is not a meter of site 1"
    )
    off_list = (T0 + timedelta(hours=1)).isoformat()
    result = run("vee", "accept", "--site", "Oak Court", "--meter", "MM26000001", "--at", off_list,
                 "--reason", "fine", "--database", database)  # fmt: skip
    assert result.exit_code == 2
    assert "is not on the work list" in one_error_line(result)
    result = run("vee", "list", "--site", "Nowhere", "--database", database)
    assert result.exit_code == 2
    assert "Nowhere" in one_error_line(result)
    assert (
        _json("vee", "list", "--site", "Oak Court", "--state", "open", "--database", database)["count"] == 3
    )


def test_vee_still_runs_with_its_options(database) -> None:
    result = run("vee", "--meter", "MM26000001", "--start", T0.isoformat(), "--end", END.isoformat(),
                 "--database", database, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["questionable"], report["interpolated"], report["intervals"]) == (1, 2, 192)
    result = run("vee", "--meter", "MM26000001", "--database", database)
    assert result.exit_code == 2
    assert one_error_line(result) == "error: missing options --start, --end"
