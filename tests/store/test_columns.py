"""The column-wise interval reads equal the row-wise ones (every backend)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from meshmeter.store import RawIntervalIn, Store, ValidatedIntervalIn


def test_raw_interval_columns_equal_rows_latest_revision(store: Store) -> None:
    meter = store.create_meter(serial="COL1", designation="MM-D1202001-T-SCC", ct_ratio=2000)
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [RawIntervalIn(t0 + timedelta(minutes=15 * k), 100 + k, None) for k in range(1, 97)]
    store.insert_raw_intervals(meter_id=meter.id, rows=rows, source="a")
    # a conflicting value for one interval becomes revision 1: the latest is read
    store.insert_raw_intervals(
        meter_id=meter.id, rows=[RawIntervalIn(rows[10].interval_end, 999, None)], source="b"
    )
    start, end = t0, t0 + timedelta(days=1)
    ends, energy = store.raw_interval_columns(meter_id=meter.id, start=start, end=end)
    objects = store.raw_intervals(meter_id=meter.id, start=start, end=end)
    assert ends.dtype == np.int64
    assert energy.dtype == np.int64
    assert ends.tolist() == [int(r.interval_end.timestamp()) for r in objects]
    assert energy.tolist() == [r.energy_wh for r in objects]
    assert energy[10] == 999
    empty_ends, empty_energy = store.raw_interval_columns(
        meter_id=meter.id, start=end, end=end + timedelta(days=1)
    )
    assert empty_ends.size == 0
    assert empty_energy.size == 0


def test_validated_interval_columns_equal_rows(store: Store) -> None:
    meter = store.create_meter(serial="COL2", designation="MM-D1202001-T-SCC", ct_ratio=2000)
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    store.put_validated_intervals(
        meter_id=meter.id,
        rows=[
            ValidatedIntervalIn(t0 + timedelta(minutes=15), 50, 9),
            ValidatedIntervalIn(t0 + timedelta(minutes=30), 60, 8),
        ],
        edited_by="test",
        reason="estimated",
    )
    columns = store.validated_interval_columns(meter_id=meter.id, start=t0, end=t0 + timedelta(hours=1))
    objects = store.validated_intervals(meter_id=meter.id, start=t0, end=t0 + timedelta(hours=1))
    assert columns[0].tolist() == [int(v.interval_end.timestamp()) for v in objects]
    assert columns[1].tolist() == [v.energy_wh for v in objects]
    assert columns[2].tolist() == [v.quality for v in objects]


def test_raw_interval_counters_equal_the_rows(store: Store) -> None:
    """The column read VEE uses gives the latest revision's energy and counter, as the row read does."""
    meter = store.create_meter(serial="MCNT", designation="MM-D1202001-T-SCC", ct_ratio=2000)
    t0 = datetime(2026, 1, 1, 23, tzinfo=UTC)  # across UTC midnight, where stored counters restart
    rows = [(t0 + timedelta(minutes=15 * k), 10 + k, 1000 + sum(range(11, 11 + k))) for k in range(1, 9)]
    store.insert_raw_intervals(meter_id=meter.id, rows=rows, source="a")
    store.insert_raw_intervals(meter_id=meter.id, rows=[(rows[3][0], 99, None)], source="b")  # a revision
    store.insert_raw_intervals(meter_id=meter.id, rows=[(t0 + timedelta(hours=5), 7, None)], source="c")
    start, end = t0, t0 + timedelta(hours=6)
    ends, energy, cumulative = store.raw_interval_counters(meter_id=meter.id, start=start, end=end)
    expected = store.raw_intervals(meter_id=meter.id, start=start, end=end)
    assert ends.tolist() == [int(r.interval_end.timestamp()) for r in expected]
    assert energy.tolist() == [r.energy_wh for r in expected]
    assert cumulative.tolist() == [-1 if r.cumulative_wh is None else r.cumulative_wh for r in expected]
    assert energy[3] == 99
