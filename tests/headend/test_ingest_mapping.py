"""The operator's own files in (issue 11): mappings, built-in and saved formats, through the ``meshmeter``
command as users drive it (typer's CliRunner on a SQLite file)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshmeter.cli import app
from meshmeter.headend.exports import export_csv
from meshmeter.headend.ingest import IngestError
from meshmeter.headend.mapping import (
    IngestMapping,
    MappingError,
    ingest_mapped,
    mapping_from_dict,
    read_with_mapping,
)
from meshmeter.store import Store

LA = "America/Los_Angeles"
START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)
runner = CliRunner()

# A billing service's hourly file (meter,interval_end,kwh): each hour named by its end, in local time of
# the meter's site (Los Angeles) without an offset, energy in kWh with decimals. It models the day DST
# ends, 2026-11-01: the clock goes from 01:59 PDT back to 01:00 PST, so "01:00" ends two hours: the
# first row of it is the daylight hour (08:00Z), the second the standard one (09:00Z). 25 hours.
BILLING_DST_DAY = "meter,interval_end,kwh\n" + "".join(
    f"UTIL-1,{stamp},{kwh}\n"
    for stamp, kwh in [
        ("2026-11-01 01:00", "1.250"),
        ("2026-11-01 01:00", "1.375"),
        *((f"2026-11-01 {h:02d}:00", f"0.{h:02d}4") for h in range(2, 24)),
        ("2026-11-02 00:00", "2"),
    ]
)


def _cli(db: str, *args: str) -> object:
    return runner.invoke(app, [*args, "--database", db])


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'meshmeter.db'}"


def _store(db: str) -> Store:
    return Store(db)


def _setup(db: str) -> None:
    with _store(db) as store:
        site = store.create_site(name="Oak Court", timezone=LA)
        store.create_meter(
            serial="UTIL-1", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id, interval_s=3600
        )
        store.create_meter(serial="MM1", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id)


def _rows(db: str, serial: str) -> list[tuple[str, int, int | None]]:
    with _store(db) as store:
        meter = store.get_meter(serial=serial)
        assert meter is not None
        found = store.raw_intervals(meter_id=meter.id, start=START, end=END)
    return [(r.interval_end.strftime("%Y-%m-%dT%H:%MZ"), r.energy_wh, r.cumulative_wh) for r in found]


def _count(db: str) -> int:
    return sum(len(_rows(db, s)) for s in ("UTIL-1", "MM1"))


def test_a_billing_services_hourly_file_with_the_end_of_dst(db: str, tmp_path: Path) -> None:
    _setup(db)
    path = tmp_path / "utility.csv"
    path.write_text(BILLING_DST_DAY)
    result = _cli(db, "ingest", str(path), "--format", "billing-kwh-hourly", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["new"] == 25
    rows = _rows(db, "UTIL-1")
    assert len(rows) == 25
    assert rows[:3] == [
        ("2026-11-01T08:00Z", 1250, None),
        ("2026-11-01T09:00Z", 1375, None),
        ("2026-11-01T10:00Z", 24, None),
    ]
    assert rows[-1] == ("2026-11-02T08:00Z", 2000, None)
    again = _cli(db, "ingest", str(path), "--format", "billing-kwh-hourly", "--json")
    assert json.loads(again.output)["duplicates"] == 25  # idempotent


def test_bad_billing_file_lists_every_problem_and_stores_nothing(db: str, tmp_path: Path) -> None:
    _setup(db)
    bad = (
        "meter,interval_end,kwh\n"
        "UTIL-1,2026-11-01 00:00,1.0\n"
        "UTIL-1,2026-11-01 01:00,1.0\n"  # 01:00 once, between 00:00 and 02:00: the order cannot tell which
        "UTIL-1,2026-11-01 02:00,1.0\n"
        "UTIL-1,2026-03-08 02:00,1.0\n"  # does not exist in Los Angeles (DST begins)
        "UTIL-9,2026-11-02 05:00,1.0\n"  # unknown meter
        "UTIL-1,2026-11-02 05:00,x\n"  # not a number
        "UTIL-1,2026-11-02 06:00,1.0004\n"  # 1000.4 Wh: not a whole Wh
    )
    path = tmp_path / "bad.csv"
    path.write_text(bad)
    result = _cli(db, "ingest", str(path), "--format", "billing-kwh-hourly")
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "5 problems" in out
    for expected in (
        "ambiguous_time: line 3: interval_end",
        "line 5: interval_end '2026-03-08 02:00' does not exist",
        "unknown_meter: line 6: meter 'UTIL-9'",
        "bad_type: line 7: kwh must be a number [kWh]",
        "not_whole_wh: line 8: kwh is 1.0004 kWh = 1000.4 Wh",
    ):
        assert expected in out
    assert out.index("line 3") < out.index("line 5") < out.index("line 8")  # by row
    assert _count(db) == 0


def test_an_ambiguous_hour_given_once_is_refused(db: str) -> None:
    _setup(db)
    text = (
        "meter,interval_end,kwh\n"
        "UTIL-1,2026-11-01 00:00,1\nUTIL-1,2026-11-01 01:00,1\nUTIL-1,2026-11-01 02:00,1\n"
    )
    with _store(db) as store, pytest.raises(IngestError) as caught:
        ingest_mapped(store, text, mapping_from_dict({**_billing(), "timezone": LA}), source="file")
    assert caught.value.reason == "ambiguous_time"
    assert caught.value.field == "line 3: interval_end"
    # unambiguous by order: the row before is already the standard-time 01:00's neighbour
    ordered = "meter,interval_end,kwh\nUTIL-1,2026-11-01 01:00,1\nUTIL-1,2026-11-01 01:00,1\n"
    with _store(db) as store:
        assert ingest_mapped(store, ordered, mapping_from_dict(_billing()), source="file").new == 2


def _billing() -> dict[str, object]:
    return {
        "meter_column": "meter",
        "time_column": "interval_end",
        "energy_column": "kwh",
        "energy_unit": "kWh",
        "interval_minutes": 60,
        "timezone": "site",
    }


def test_meshmeter_csv_export_ingests_back_unchanged(db: str, tmp_path: Path) -> None:
    _setup(db)
    rows = [(datetime(2026, 3, 8, 8, tzinfo=UTC).timestamp() + 900 * (i + 1), 10 + i % 7) for i in range(200)]
    with _store(db) as store:
        meter = store.get_meter(serial="MM1")
        assert meter is not None
        store.insert_raw_intervals(
            meter_id=meter.id,
            rows=[(datetime.fromtimestamp(t, UTC), e) for t, e in rows if int(t) % 7200],  # gaps
            source="test",
        )
        first = export_csv(store, meter_serial="MM1", start=START, end=END, timezone=LA)
    path = tmp_path / "export.csv"
    path.write_text(first)
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    _setup(fresh)
    result = _cli(fresh, "ingest", str(path), "--format", "meshmeter-csv", "--meter", "MM1", "--json")
    assert result.exit_code == 0, result.output
    with _store(fresh) as store:
        second = export_csv(store, meter_serial="MM1", start=START, end=END, timezone=LA)
    assert second == first  # interval_end, energy_wh, quality (raw both times) and local time


def test_saved_formats_by_name(db: str, tmp_path: Path) -> None:
    _setup(db)
    mapping = {
        "kind": "json",
        "rows_path": "data",
        "meter": "MM1",
        "start_column": "from",
        "end_column": "to",
        "energy_column": "wh",
    }
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(mapping))
    saved = _cli(db, "ingest-format", "save", "vendor-json", str(path))
    assert saved.exit_code == 0, saved.output
    listed = _cli(db, "ingest-format", "list", "--json")
    assert {"name": "vendor-json", "kind": "saved"} in json.loads(listed.output)
    assert {"name": "meshmeter-csv", "kind": "built-in"} in json.loads(listed.output)
    shown = _cli(db, "ingest-format", "show", "vendor-json")
    assert json.loads(shown.output) == mapping
    body = {
        "data": [
            {"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:15:00Z", "wh": 5},
            {"from": "2026-01-01T00:15:00+00:00", "to": "2026-01-01T00:30:00+00:00", "wh": 6.0},
        ]
    }
    data = tmp_path / "data.json"
    data.write_text(json.dumps(body))
    result = _cli(db, "ingest", str(data), "--format", "vendor-json", "--json")
    assert result.exit_code == 0, result.output
    assert [r[1] for r in _rows(db, "MM1")] == [5, 6]
    # mixed interval lengths: one row of 60 minutes for a 15-minute meter, one of 7 minutes
    body["data"] += [
        {"from": "2026-01-01T01:00:00Z", "to": "2026-01-01T02:00:00Z", "wh": 5},
        {"from": "2026-01-01T03:00:00Z", "to": "2026-01-01T03:07:00Z", "wh": 5},
    ]
    data.write_text(json.dumps(body))
    mixed = _cli(db, "ingest", str(data), "--format", "vendor-json")
    assert mixed.exit_code == 2
    out = " ".join(mixed.output.split())
    assert "data[2].from, to gives 60-minute intervals" in out
    assert "data[3].from, to are 7 minutes apart" in out
    assert len(_rows(db, "MM1")) == 2
    unknown = _cli(db, "ingest", str(data), "--format", "nope")
    assert unknown.exit_code == 2
    assert "'nope'" in unknown.output


def test_a_bad_mapping_lists_all_its_problems(db: str, tmp_path: Path) -> None:
    with pytest.raises(MappingError) as caught:
        mapping_from_dict(
            {"energy_unit": "J", "interval_minutes": 7, "colour": "red", "timezone": "Mars/Base"}
        )
    assert len(caught.value.problems) == 6
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"energy_unit": "J", "time_column": "t"}))
    result = _cli(db, "ingest-format", "save", "x", str(path))
    assert result.exit_code == 2
    assert "energy_unit" in result.output
    assert "energy_column" in result.output
    assert _cli(db, "ingest-format", "save", "meshmeter-csv", str(path)).exit_code == 2


def test_a_mapping_naming_a_missing_column(db: str, tmp_path: Path) -> None:
    _setup(db)
    path = tmp_path / "f.csv"
    path.write_text("meter,interval_end,kWh\nUTIL-1,2026-11-03 00:00,1\n")
    result = _cli(db, "ingest", str(path), "--format", "billing-kwh-hourly")
    assert result.exit_code == 2
    assert "energy_column 'kwh' is not a column" in " ".join(result.output.split())
    assert _count(db) == 0


def test_naive_times_without_a_zone_and_wrong_units(db: str) -> None:
    _setup(db)
    mapping = IngestMapping(meter_column="meter", time_column="end", energy_column="kwh", energy_unit="kWh")
    text = "meter,end,kwh\nMM1,2026-01-01 00:15,1\nMM1,2026-01-01T00:30Z,0.0005\nMM1,2026-01-01T00:45Z,-1\n"
    with _store(db) as store, pytest.raises(IngestError) as caught:
        ingest_mapped(store, text, mapping, source="file")
    reasons = [p.reason for p in caught.value.problems]
    assert reasons == ["naive_time", "not_whole_wh", "negative_energy"]
    assert [p.field for p in caught.value.problems] == ["line 2: end", "line 3: kwh", "line 4: kwh"]
    assert _count(db) == 0


def test_register_reads_become_differences_and_a_missing_read_a_gap() -> None:
    mapping = IngestMapping(
        meter="MM1", time_column="t", register_column="kwh", energy_unit="kWh", interval_minutes=15
    )
    text = (
        "t,kwh\n2026-01-01T00:00Z,100.000\n2026-01-01T00:15Z,100.250\n2026-01-01T00:30Z,100.500\n"
        "2026-01-01T01:00Z,101.000\n2026-01-01T01:15Z,101.010\n"
    )
    read = read_with_mapping(text, mapping)
    assert read.problem_count == 0
    assert [(r.interval_end.strftime("%H:%M"), r.energy_wh, r.cumulative_wh) for r in read.rows] == [
        ("00:15", 250, 100250),
        ("00:30", 250, 100500),
        ("01:15", 10, 101010),  # 00:45 missing: no row for 01:00 (a gap, never a guess)
    ]


def test_stamps_naming_the_start_of_the_interval(db: str) -> None:
    _setup(db)
    mapping = IngestMapping(
        meter="MM1", time_column="start", time_names="start", energy_column="wh", timezone=LA
    )
    text = "start,wh\n2026-01-01 00:00,4\n2026-01-01 00:15,5\n"
    with _store(db) as store:
        assert ingest_mapped(store, text, mapping, source="file").new == 2
    assert [r[0] for r in _rows(db, "MM1")] == ["2026-01-01T08:15Z", "2026-01-01T08:30Z"]
