"""CSV export (``meshmeter.headend.exports``): header, rows, local time, buckets over a DST day."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from meshmeter.headend.exports import (
    AGGREGATE_COLUMNS,
    CSV_COLUMNS,
    LOCAL_COLUMN,
    export_csv,
    worst_quality,
)
from meshmeter.headend.vee import run_vee
from meshmeter.store import Store

SERIAL = "MMCSV0001"
# 2012-03-11 is the spring-forward day in America/New_York: local midnight is 05:00 UTC, the next
# local midnight 04:00 UTC on the 12th, 23 hours (92 quarter-hours) later.
SPRING_MIDNIGHT = datetime(2012, 3, 11, 5, tzinfo=UTC)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    """A store with one meter holding 3 local days of 10 Wh intervals from 2012-03-10 00:00 EST."""
    meter = sqlite_store.create_meter(serial=SERIAL, designation="MM-D1202001-T-SCC", ct_ratio=2000)
    first = datetime(2012, 3, 10, 5, 15, tzinfo=UTC)
    ends = [first + timedelta(minutes=15 * k) for k in range(96 + 92 + 96)]
    sqlite_store.insert_raw_intervals(meter_id=meter.id, rows=[(e, 10) for e in ends], source="test")
    run_vee(sqlite_store, meter_id=meter.id, start=first - timedelta(minutes=15), end=ends[-1])
    return sqlite_store


def test_intervals_not_yet_validated_are_exported_raw(sqlite_store: Store) -> None:
    """Before VEE runs, the export says so: quality 14 (raw), not 0 (valid)."""
    meter = sqlite_store.create_meter(serial=SERIAL, designation="MM-D1202001-T-SCC", ct_ratio=2000)
    end = SPRING_MIDNIGHT + timedelta(minutes=15)
    sqlite_store.insert_raw_intervals(meter_id=meter.id, rows=[(end, 10)], source="test")
    text = export_csv(sqlite_store, meter_serial=SERIAL, start=SPRING_MIDNIGHT, end=end)
    assert _rows(text)[1] == ["2012-03-11T05:15:00Z", "10", "14"]
    run_vee(sqlite_store, meter_id=meter.id, start=SPRING_MIDNIGHT, end=end)
    text = export_csv(sqlite_store, meter_serial=SERIAL, start=SPRING_MIDNIGHT, end=end)
    assert _rows(text)[1] == ["2012-03-11T05:15:00Z", "10", "0"]


def test_header_and_rows_in_utc(store: Store) -> None:
    text = export_csv(
        store,
        meter_serial=SERIAL,
        start=SPRING_MIDNIGHT,
        end=SPRING_MIDNIGHT + timedelta(minutes=30),
    )
    assert _rows(text) == [
        list(CSV_COLUMNS),
        ["2012-03-11T05:15:00Z", "10", "0"],
        ["2012-03-11T05:30:00Z", "10", "0"],
    ]
    assert text.endswith("\n")
    assert "\r" not in text


def test_local_column_across_the_spring_forward_gap(store: Store) -> None:
    # 06:45 and 07:00 UTC are 01:45 EST and 03:00 EDT: the local hour 02:00-03:00 does not exist.
    text = export_csv(
        store,
        meter_serial=SERIAL,
        start=datetime(2012, 3, 11, 6, 30, tzinfo=UTC),
        end=datetime(2012, 3, 11, 7, 0, tzinfo=UTC),
        timezone="America/New_York",
    )
    rows = _rows(text)
    assert rows[0] == [*CSV_COLUMNS, LOCAL_COLUMN]
    assert [r[3] for r in rows[1:]] == ["2012-03-11T01:45:00-05:00", "2012-03-11T03:00:00-04:00"]


def test_gap_is_a_missing_row_and_validated_quality_wins(store: Store) -> None:
    meter = store.get_meter(serial=SERIAL)
    assert meter is not None
    t1 = SPRING_MIDNIGHT + timedelta(minutes=15)
    store.put_validated_intervals(meter_id=meter.id, rows=[(t1, 12, 9)], edited_by="test", reason="test")
    text = export_csv(store, meter_serial=SERIAL, start=SPRING_MIDNIGHT, end=t1 + timedelta(minutes=15))
    assert _rows(text)[1] == ["2012-03-11T05:15:00Z", "12", "9"]
    empty = export_csv(
        store,
        meter_serial=SERIAL,
        start=datetime(2013, 1, 1, tzinfo=UTC),
        end=datetime(2013, 1, 2, tzinfo=UTC),
    )
    assert _rows(empty) == [list(CSV_COLUMNS)]


def test_daily_buckets_count_92_on_the_spring_forward_day(store: Store) -> None:
    text = export_csv(
        store,
        meter_serial=SERIAL,
        start=datetime(2012, 3, 10, 5, tzinfo=UTC),
        end=datetime(2012, 3, 13, 4, tzinfo=UTC),
        resolution="daily",
        timezone="America/New_York",
    )
    rows = _rows(text)
    assert rows[0] == [*CSV_COLUMNS, LOCAL_COLUMN, *AGGREGATE_COLUMNS]
    # hand count: 96, 92 and 96 intervals of 10 Wh
    assert [(r[1], r[4], r[5]) for r in rows[1:]] == [
        ("960", "96", "96"),
        ("920", "92", "92"),
        ("960", "96", "96"),
    ]
    assert [r[3] for r in rows[1:]] == [
        "2012-03-11T00:00:00-05:00",
        "2012-03-12T00:00:00-04:00",
        "2012-03-13T00:00:00-04:00",
    ]


def test_hourly_buckets_with_an_empty_one(store: Store) -> None:
    start = datetime(2012, 3, 14, 3, tzinfo=UTC)  # a day after the last interval (13 March 04:00 UTC)
    text = export_csv(
        store, meter_serial=SERIAL, start=start, end=start + timedelta(hours=1), resolution="hourly"
    )
    assert _rows(text)[1:] == [["2012-03-14T04:00:00Z", "", "", "0", "4"]]


def test_worst_quality() -> None:
    assert worst_quality([0, 7, 9]) == 9
    assert worst_quality([0, 14, 8]) == 14
    assert worst_quality([]) is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"meter_serial": "NOPE"}, "meter_serial 'NOPE' is not a known meter"),
        ({"start": datetime(2012, 3, 11)}, "start must be a timezone-aware"),
        ({"end": SPRING_MIDNIGHT}, "end must be after start"),
        ({"resolution": "weekly"}, "resolution must be one of"),
        ({"timezone": "Mars/Olympus"}, "timezone must be an IANA"),
        ({"resolution": "daily", "timezone": "America/New_York"}, "end must be at local midnight"),
        (
            {"resolution": "hourly", "start": SPRING_MIDNIGHT + timedelta(minutes=15)},
            "start must be on a whole hour",
        ),
        ({"resolution": "monthly"}, "start must be at local midnight on the first of a month"),
    ],
)
def test_bad_arguments(store: Store, kwargs: dict[str, object], match: str) -> None:
    arguments: dict[str, object] = {
        "meter_serial": SERIAL,
        "start": SPRING_MIDNIGHT,
        "end": SPRING_MIDNIGHT + timedelta(hours=25),
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        export_csv(store, **arguments)  # type: ignore[arg-type]
