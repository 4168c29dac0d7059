"""``meshmeter source add | map | list`` and ``meshmeter collect`` (issue 14), as a user types them, on a
SQLite file and on PostgreSQL.

The rtlamr source reads a file of the lines ``rtlamr -format=json -msgtype=scm`` prints (Go's
``encoding/json`` of rtlamr's ``protocol.LogMessage``, github.com/bemasher/rtlamr ``protocol/parse.go`` and
``scm/scm.go``): an ERT meter's SCM consumption register in 0.01 kWh (10 Wh a count), heard every five
minutes, each broadcast heard twice (rtlamr prints every copy it decodes).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from meshmeter.cli import app
from meshmeter.store import Store
from tests.collect.test_rtlamr import scm_line
from tests.store.conftest import postgres_schema_url

__all__ = ["postgres_schema_url"]  # a fixture of these tests

runner = CliRunner()
ENV = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
T0 = datetime(2026, 7, 1, 7, 0, 30, tzinfo=UTC)
ERT = 33333333


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A site, Oak Court, with meters MM-4A, MM-2B and MM-STREET, made through the CLI; its URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'sources.db'}"
    else:
        found: URL = request.getfixturevalue("postgres_schema_url")
        url = found.render_as_string(hide_password=False)
    code, out, err = run(url, "site", "add", "--name", "Oak Court", "--timezone", "America/Los_Angeles")
    assert code == 0, out + err
    for serial in ("MM-4A", "MM-2B", "MM-STREET"):
        code, out, err = run(url, "meter", "add", "--serial", serial, "--site-id", "1")
        assert code == 0, out + err
    return url


def run(database: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--database", database], env=ENV)
    return result.exit_code, result.stdout, result.stderr


def _words(text: str) -> str:
    return " ".join(text.split())


def _sources(database: str) -> list[dict[str, object]]:
    code, out, err = run(database, "source", "list", "--site", "Oak Court", "--json")
    assert code == 0, out + err
    rows: list[dict[str, object]] = json.loads(out)
    return rows


def test_add_map_and_list(database: str) -> None:
    code, out, err = run(
        database, "source", "add", "--site", "Oak Court", "--name", "tasmota-4a", "--kind", "mqtt",
        "--format", "tasmota_counter", "--address", "mqtt://127.0.0.1:1883", "--setting", "timezone=UTC",
        "--setting", "comm_loss_after_s=600",
    )  # fmt: skip
    assert code == 0, out + err
    source_id = int(out.strip())
    code, out, err = run(
        database, "source", "map", "tasmota-4a", "--site", "Oak Court", "--device", "unit4a", "--channel",
        "C1", "--meter", "MM-4A", "--unit", "pulse", "--wh-per-unit", "10", "--json",
    )  # fmt: skip
    assert code == 0, out + err
    channel = json.loads(out)
    assert (channel["device"], channel["channel"], channel["meter"]) == ("unit4a", "C1", "MM-4A")
    assert (channel["unit"], channel["wh_per_unit"], channel["resets"]) == ("pulse", "10", True)
    [row] = _sources(database)
    assert row["id"] == source_id
    assert (row["name"], row["kind"], row["format"]) == ("tasmota-4a", "mqtt", "tasmota_counter")
    assert row["settings"] == {"timezone": "UTC", "comm_loss_after_s": 600}
    assert row["state"] == "never"
    assert row["readings"] == 0
    assert [c["meter"] for c in row["channels"]] == ["MM-4A"]  # type: ignore[attr-defined]
    # the table names what each source feeds and its state
    code, out, err = run(database, "source", "list", "--site", "Oak Court")
    assert code == 0, out + err
    assert "(MM-4A, unit4a/C1)" in out  # names first: the meter's unit or role, then serial and channel
    assert "never" in out


def test_bad_input_names_every_problem_and_stores_nothing(database: str) -> None:
    code, out, err = run(
        database, "source", "add", "--site", "Oak Court", "--name", "x", "--kind", "mqtt",
        "--format", "tasmota_countr", "--address", "http://broker",
    )  # fmt: skip
    assert code == 2
    said = _words(err)
    assert "tasmota_countr" in said
    assert "address" in said
    code, out, err = run(
        database, "source", "add", "--site", "Nowhere", "--name", "x", "--kind", "mqtt", "--format",
        "tasmota_counter", "--address", "mqtt://127.0.0.1",
    )  # fmt: skip
    assert code == 2
    assert "'Nowhere' is not a site's id or name" in _words(err)
    code, out, err = run(
        database, "source", "add", "--site", "Oak Court", "--name", "sdm", "--kind", "modbus_tcp", "--format",
        "no-such-map", "--address", "nowhere", "--setting", "unit_id",
    )  # fmt: skip
    assert code == 2
    assert "--setting takes KEY=VALUE, got 'unit_id'" in _words(err)
    assert _sources(database) == []
    # a mapping with every problem named: unknown unit, no energy per pulse
    code, out, err = run(
        database, "source", "add", "--site", "Oak Court", "--name", "rtl", "--kind", "rtlamr", "--format",
        "rtlamr", "--address", "-",
    )  # fmt: skip
    assert code == 0, out + err
    code, out, err = run(
        database, "source", "map", "rtl", "--site", "Oak Court", "--device", str(ERT), "--channel",
        "consumption", "--meter", "MM-STREET", "--unit", "litre", "--max-apportion", "60",
    )  # fmt: skip
    assert code == 2
    said = _words(err)
    assert "litre" in said
    assert "wh_per_unit is required" in said
    assert "max_apportion_s must be at least the meter's interval (900 s)" in said
    code, out, err = run(
        database, "source", "map", "rtl", "--site", "Oak Court", "--device", str(ERT), "--channel",
        "consumption", "--meter", "NOPE", "--unit", "count", "--wh-per-unit", "10",
    )  # fmt: skip
    assert code == 2
    assert "--meter 'NOPE' is not a known meter's serial" in _words(err)
    [row] = _sources(database)
    assert row["channels"] == []


def test_a_name_the_site_has_and_a_meter_fed_already_are_refused(database: str) -> None:
    add = ["source", "add", "--site", "Oak Court", "--kind", "rtlamr", "--format", "rtlamr", "--address", "-"]
    assert run(database, *add, "--name", "rtl")[0] == 0
    code, _out, err = run(database, *add, "--name", "rtl")
    assert code == 2
    assert "has a source named 'rtl' already" in _words(err)
    mapping = ["--site", "Oak Court", "--channel", "consumption", "--unit", "count", "--wh-per-unit", "10"]
    assert run(database, "source", "map", "rtl", *mapping, "--device", "1", "--meter", "MM-2B")[0] == 0
    code, _out, err = run(database, "source", "map", "rtl", *mapping, "--device", "2", "--meter", "MM-2B")
    assert code == 2
    assert "meter 'MM-2B' is fed by a channel already" in _words(err)
    assert len(_sources(database)) == 1


def _rtlamr_file(path: Path) -> Path:
    """An hour of SCM broadcasts every five minutes from T0, 3 counts (30 Wh) apart: 90 Wh a quarter hour;
    each printed twice, as rtlamr prints every copy it decodes."""
    lines = []
    for k in range(13):
        line = scm_line(ERT, 500_000 + 3 * k, T0 + timedelta(minutes=5 * k))
        lines += [line, line]
    lines.append('{"Time":"2026-07-01T08:01:00Z","Type":"SCM","Message":')  # cut short
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_collect_until_done_reads_an_rtlamr_file_into_intervals(database: str, tmp_path: Path) -> None:
    lines = _rtlamr_file(tmp_path / "rtlamr.json")
    code, out, err = run(
        database, "source", "add", "--site", "Oak Court", "--name", "rtl-street", "--kind", "rtlamr",
        "--format", "rtlamr", "--address", str(lines),
    )  # fmt: skip
    assert code == 0, out + err
    code, out, err = run(
        database, "source", "map", "rtl-street", "--site", "Oak Court", "--device", str(ERT), "--channel",
        "consumption", "--meter", "MM-STREET", "--unit", "count", "--wh-per-unit", "10", "--msg-type", "SCM",
        "--json",
    )  # fmt: skip
    assert code == 0, out + err
    assert json.loads(out)["modulus"] == str(2**24)  # SCM's register is 24 bits (scm/scm.go)
    code, out, err = run(database, "collect", "--site", "Oak Court", "--until-done", "--json")
    assert code == 0, out + err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary == [
        {
            "source": "rtl-street",
            "readings": 13,
            "rejected": {"duplicate": 13, "malformed": 1},
            "last_error": summary[0]["last_error"],
        }
    ]
    assert "malformed" in summary[0]["last_error"]
    with Store(database) as store:
        meter = store.get_meter(serial="MM-STREET")
        assert meter is not None
        rows = store.raw_intervals(
            meter_id=meter.id, start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=2)
        )
    # readings at 07:00:30, 07:05:30 ... 08:00:30: the first whole quarter hour after the first reading
    # starts at 07:15 (the one before began unheard); the last reading closes 08:00
    ends = [r.interval_end for r in rows]
    assert ends == [datetime(2026, 7, 1, 7, 30, tzinfo=UTC) + timedelta(minutes=15 * k) for k in range(3)]
    assert [r.energy_wh for r in rows] == [90, 90, 90]
    [row] = _sources(database)
    assert row["readings"] == 13
    assert row["last_reading_at"] == (T0 + timedelta(hours=1)).isoformat()
    # collected again from the same file: every interval is known already, none doubled
    code, out, err = run(database, "collect", "--site", "Oak Court", "--until-done", "--json")
    assert code == 0, out + err
    with Store(database) as store:
        again = store.raw_intervals(
            meter_id=meter.id, start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=2)
        )
    assert [(r.interval_end, r.energy_wh) for r in again] == [(r.interval_end, r.energy_wh) for r in rows]


def test_collect_with_nothing_to_run_is_refused(database: str) -> None:
    code, _out, err = run(database, "collect", "--site", "Oak Court", "--until-done")
    assert code == 2
    assert "no source to run" in _words(err)
    code, _out, err = run(database, "collect", "--source", "ghost", "--until-done")
    assert code == 2
    assert "no source named 'ghost'" in _words(err)
