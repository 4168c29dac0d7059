"""``meshmeter status``: one screen for a site, what reports and what needs a person (issue 15).

The demo building (``meshmeter demo``) in the past, then, as it happens on a real site, three more hours of
readings arrive (``meshmeter ingest``) for every meter but unit 107's, whose MDT went quiet: the command
names Unit 107 and its tenant, says since when and what to do, and exits 1. A small site whose two
meters report up to its latest interval exits 0. An unknown site, or no ``--site`` in a store of
several, is bad input naming the sites.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshmeter.cli import app
from meshmeter.headend.alerts import active_alerts
from meshmeter.store import Store

START = datetime(2026, 3, 7, 8, tzinfo=UTC)
"""Local midnight of 2026-03-07 in Los Angeles, the demo's time zone."""
DAYS = 2
END = START + timedelta(days=DAYS)
LATER_H = 3
"""Hours of readings sent after the demo for every meter but unit 107's."""
SILENT_SERIAL = "MM26000007"
"""Unit 107's meter in the demo building (Garcia household, account 1007)."""
SITE = "Mission Court Apartments"


def _run(*args: str, columns: int = 80) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns), "NO_COLOR": "1"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _demo(path: Path, *extra: str) -> str:
    code, _out, err = _run("demo", "--days", str(DAYS), "--no-serve", "--database", str(path), *extra)
    assert code == 0, err
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def silent_one(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo in March 2026, then three more hours for every meter but unit 107's."""
    tmp = tmp_path_factory.mktemp("status")
    url = _demo(tmp / "demo.sqlite", "--start", "2026-03-07")
    with Store(url) as store:
        serials = [m.serial for m in store.meters()]
    rows = ["meter,interval_end,energy_wh"]
    for serial in serials:
        if serial == SILENT_SERIAL:
            continue
        for k in range(1, 4 * LATER_H + 1):
            rows.append(f"{serial},{(END + timedelta(minutes=15 * k)).isoformat()},120")
    csv = tmp / "later.csv"
    csv.write_text("\n".join(rows) + "\n")
    code, _out, err = _run("ingest", str(csv), "--database", url)
    assert code == 0, err
    return url


HEALTHY = "Elm Court"
HEALTHY_SERIALS = ("MM26100001", "MM26100002")


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small site of two meters whose readings, validated, come up to its latest interval."""
    tmp = tmp_path_factory.mktemp("status")
    url = f"sqlite:///{tmp / 'small.sqlite'}"
    code, out, err = _run("site", "add", "--name", HEALTHY, "--timezone", "America/Denver", "--database", url)
    assert code == 0, err
    site_id = out.split()[-1]
    rows = ["meter,interval_end,energy_wh"]
    for serial in HEALTHY_SERIALS:
        code, _out, err = _run("meter", "add", "--serial", serial, "--site-id", site_id, "--database", url)
        assert code == 0, err
        for k in range(1, 4 * 24 * DAYS + 1):
            rows.append(f"{serial},{(START + timedelta(minutes=15 * k)).isoformat()},{100 + 10 * (k % 7)}")
    csv = tmp / "small.csv"
    csv.write_text("\n".join(rows) + "\n")
    code, _out, err = _run("ingest", str(csv), "--vee", "--database", url)
    assert code == 0, err
    return url


def test_silent_unit_is_named_with_its_tenant_and_what_to_do(silent_one: str) -> None:
    with Store(silent_one) as store:
        alerts_before = len(active_alerts(store))
    code, out, err = _run("status", "--database", silent_one, columns=200)
    assert code == 1, err
    assert SITE in out
    assert "America/Los_Angeles" in out
    assert "Meters reporting: 25 of 26" in out
    assert "Needs a person" in out
    flat = " ".join(out.split())
    (row,) = [" ".join(line.split()) for line in out.splitlines() if "Unit 107" in line]
    # since when: its last interval, 2026-03-09 08:00 UTC, 01:00 PDT (local, on the day judged)
    assert row == (
        "│ Unit 107 │ Garcia household (1007) │ Not reporting since 01:00 │ "
        "check the MDT's power and the radio path (CIT) │"
    )
    assert "Latest data 2026-03-09 04:00 PDT" in flat  # judged as of the site's latest interval
    assert "Unit 108" not in flat  # reports: not on the list
    assert "Last bills: 25 for 2026-03-07 to 2026-03-09" in flat
    with Store(silent_one) as store:  # reads only
        assert len(active_alerts(store)) == alerts_before


def test_lines_fit_80_columns(silent_one: str) -> None:
    code, out, _err = _run("status", "--database", silent_one, columns=80)
    assert code == 1
    too_long = [line for line in out.splitlines() if len(line) > 80]
    assert not too_long, too_long


def test_json_has_stable_keys(silent_one: str) -> None:
    code, out, err = _run("status", "--site", SITE, "--json", "--database", silent_one)
    assert code == 1, err
    data = json.loads(out)
    assert set(data) == {
        "site",
        "site_id",
        "timezone",
        "now",
        "as_of",
        "silent_since",
        "meters",
        "reporting",
        "needs_person",
        "vee_open",
        "sources",
        "last_bills",
        "ok",
    }
    assert (data["site"], data["timezone"], data["meters"], data["reporting"]) == (
        SITE,
        "America/Los_Angeles",
        26,
        25,
    )
    assert data["ok"] is False
    assert data["as_of"] == (END + timedelta(hours=LATER_H)).isoformat()
    assert data["silent_since"] == data["as_of"]  # March 2026 is long before now
    (first,) = [p for p in data["needs_person"] if p["serial"] == SILENT_SERIAL]
    assert set(first) == {"label", "unit", "tenant", "account", "serial", "problems"}
    assert (first["unit"], first["tenant"], first["account"]) == ("107", "Garcia household", "1007")
    assert first["problems"][0]["kind"] == "silent"
    assert set(first["problems"][0]) == {"kind", "seen", "action"}
    assert data["needs_person"][0]["serial"] == SILENT_SERIAL  # silence comes first
    assert data["last_bills"]["bills"] == 25
    assert set(data["last_bills"]) == {"period_start", "period_end", "bills", "total_usd", "created_at"}
    assert data["sources"] == []


def test_the_site_by_id_is_the_same_site(silent_one: str) -> None:
    _code, by_name, _ = _run("status", "--site", SITE, "--json", "--database", silent_one)
    code, by_id, err = _run(
        "status", "--site", str(json.loads(by_name)["site_id"]), "--json", "--database", silent_one
    )
    assert code == 1, err
    assert json.loads(by_id)["needs_person"] == json.loads(by_name)["needs_person"]


def test_healthy_site_exits_0(healthy: str) -> None:
    code, out, err = _run("status", "--database", healthy)
    assert code == 0, out + err
    assert HEALTHY in out
    assert "Meters reporting: 2 of 2" in out
    assert "No meter needs a person." in out
    assert "Open VEE intervals: 0" in out
    code, out, err = _run("status", "--json", "--database", healthy)
    assert code == 0, err
    data = json.loads(out)
    assert (data["ok"], data["needs_person"], data["reporting"]) == (True, [], 2)
    assert data["as_of"] == END.isoformat()  # judged as of its latest interval, not now
    assert data["last_bills"] is None


def test_unknown_site_is_bad_input_naming_the_sites(healthy: str) -> None:
    code, out, err = _run("status", "--site", "Nowhere Court", "--database", healthy)
    assert code == 2
    assert out == ""
    assert "'Nowhere Court'" in err
    assert f"'{HEALTHY}'" in err


def test_no_site_in_a_store_of_two_names_both(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'two.sqlite'}"
    for name in ("Oak Court", "Elm Court"):
        code, _out, err = _run(
            "site", "add", "--name", name, "--timezone", "America/Denver", "--database", url
        )
        assert code == 0, err
    code, out, err = _run("status", "--database", url)
    assert code == 2
    assert out == ""
    flat = " ".join(err.split())
    assert "'Oak Court'" in flat
    assert "'Elm Court'" in flat
    assert "--site" in flat
    code, out, err = _run("status", "--site", "Elm Court", "--database", url)
    assert code == 0, err
    assert "Meters reporting: 0 of 0" in out
    assert "Last bills: none stored." in out


def test_empty_store_is_bad_input(tmp_path: Path) -> None:
    code, out, err = _run("status", "--database", f"sqlite:///{tmp_path / 'empty.sqlite'}")
    assert code == 2
    assert out == ""
    assert "no site" in err
    assert "meshmeter site add" in " ".join(err.split())


def test_a_source_never_heard_needs_a_person(healthy: str, tmp_path: Path) -> None:
    copy = tmp_path / "with-source.sqlite"
    copy.write_bytes(Path(healthy.removeprefix("sqlite:///")).read_bytes())
    url = f"sqlite:///{copy}"
    code, _out, err = _run(
        "source",
        "add",
        "--site",
        HEALTHY,
        "--name",
        "tasmota-4a",
        "--kind",
        "mqtt",
        "--format",
        "tasmota_counter",
        "--address",
        "mqtt://127.0.0.1:1883",
        "--database",
        url,
    )
    assert code == 0, err
    code, out, err = _run("status", "--database", url)
    assert code == 1, err
    assert "No meter needs a person." in out  # no meter's problem ...
    flat = " ".join(out.split())  # ... but a source nobody has heard from
    assert "Sources: tasmota-4a never (needs a person: meshmeter source list --site 'Elm Court')" in flat
    code, out, _err = _run("status", "--json", "--database", url)
    assert code == 1
    assert json.loads(out)["sources"] == [
        {"name": "tasmota-4a", "kind": "mqtt", "state": "never", "silence_s": None}
    ]
