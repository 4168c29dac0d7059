"""Compact raw intervals (schema version 3): counters left out where derivable and rebuilt exactly, the
bulk column path, and its refusals (every backend)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

from meshmeter.store import RawInsertResult, Store
from meshmeter.store.schema import ingest_batches, raw_intervals

Q = 900
T0 = datetime(2026, 3, 1, tzinfo=UTC)  # a UTC midnight
T0_S = int(T0.timestamp())


def _meter(store: Store, serial: str = "C1") -> int:
    return store.create_meter(serial=serial, designation="MM-D1202001-T-SCC", ct_ratio=2000).id


def _stored_counters(store: Store, meter_id: int) -> dict[int, int | None]:
    """``cumulative_wh`` as stored (NULL: derived), by end [s]."""
    t = raw_intervals
    with store.engines.reader.connect() as c:
        rows = c.execute(
            select(t.c.interval_end, t.c.cumulative_wh)
            .where(t.c.meter_id == meter_id)
            .order_by(t.c.interval_end)
        ).all()
    return {int(r.interval_end.timestamp()): r.cumulative_wh for r in rows}


def test_derivable_counters_are_not_stored_and_read_back_exactly(store: Store) -> None:
    m = _meter(store)
    n = 2 * 96 + 10  # two days and a bit, from 00:15
    ends = T0_S + Q * np.arange(1, n + 1, dtype=np.int64)
    energy = (np.arange(n, dtype=np.int64) * 7) % 120
    cumulative = 5_000 + np.cumsum(energy)
    result = store.insert_raw_interval_columns(
        meter_id=m, interval_end_s=ends, energy_wh=energy, cumulative_wh=cumulative, source="dcap"
    )
    assert result == RawInsertResult(new=n, duplicates=0, revised=0)
    stored = _stored_counters(store, m)
    kept = {end: value for end, value in stored.items() if value is not None}
    # the first row (no predecessor) and each UTC midnight carry their counter; no other row does
    assert sorted(kept) == [int(ends[0]), T0_S + 86400, T0_S + 2 * 86400]
    assert kept[T0_S + 86400] == int(cumulative[95])
    rows = store.raw_intervals(meter_id=m, start=T0, end=T0 + timedelta(days=3))
    assert [r.cumulative_wh for r in rows] == cumulative.tolist()
    assert [r.energy_wh for r in rows] == energy.tolist()
    # a window that starts mid-day rebuilds its counters from that day's midnight
    mid = store.raw_intervals(meter_id=m, start=T0 + timedelta(hours=30), end=T0 + timedelta(hours=31))
    assert [r.cumulative_wh for r in mid] == cumulative[120:124].tolist()


def test_counters_after_gaps_late_rows_and_none_sent(store: Store) -> None:
    m = _meter(store)
    t = [T0 + timedelta(minutes=15 * k) for k in range(10)]
    # 1, 2 then a gap (3 missing), 4, 5; 7 has no counter; 8 follows a row without one
    store.insert_raw_intervals(
        meter_id=m,
        rows=[
            (t[1], 10, 110),
            (t[2], 20, 130),
            (t[4], 15, 160),
            (t[5], 5, 165),
            (t[7], 9, None),
            (t[8], 1, 175),
        ],
        source="dcap",
    )
    stored = _stored_counters(store, m)
    assert stored[int(t[2].timestamp())] is None  # 110 + 20
    assert stored[int(t[4].timestamp())] == 160  # after the gap: written out
    assert stored[int(t[5].timestamp())] is None
    assert stored[int(t[7].timestamp())] == -1  # none sent
    assert stored[int(t[8].timestamp())] == 175
    # the missing interval arrives late: rows after it keep their own counters
    assert store.insert_raw_intervals(meter_id=m, rows=[(t[3], 15, 145)], source="dcap") == 1
    rows = store.raw_intervals(meter_id=m, start=T0, end=t[9])
    assert [(r.energy_wh, r.cumulative_wh) for r in rows] == [
        (10, 110),
        (20, 130),
        (15, 145),
        (15, 160),
        (5, 165),
        (9, None),
        (1, 175),
    ]


def test_a_counter_is_derived_only_from_the_value_stored_first(store: Store) -> None:
    m = _meter(store)
    t = [T0 + timedelta(minutes=15 * k) for k in range(4)]
    store.insert_raw_intervals(meter_id=m, rows=[(t[1], 10, 110)], source="dcap")
    # the batch gives t1 another value (a revision) and t2 following that other value
    assert store.insert_raw_intervals(meter_id=m, rows=[(t[1], 12, 112), (t[2], 8, 120)], source="csv") == 2
    every = store.raw_intervals(meter_id=m, start=T0, end=t[3], all_revisions=True)
    assert [(r.revision, r.energy_wh, r.cumulative_wh, r.source) for r in every] == [
        (0, 10, 110, "dcap"),
        (1, 12, 112, "csv"),
        (0, 8, 120, "csv"),
    ]
    assert _stored_counters(store, m)[int(t[2].timestamp())] == 120  # 110 + 8 != 120: written out


def test_column_insert_counts_duplicates_and_revisions_and_shares_a_batch(store: Store) -> None:
    m = _meter(store)
    ends = T0_S + Q * np.arange(1, 5, dtype=np.int64)
    energy = np.array([1, 2, 3, 4], dtype=np.int64)
    at = T0 + timedelta(days=1)
    first = store.insert_raw_interval_columns(
        meter_id=m, interval_end_s=ends, energy_wh=energy, source="http", received_at=at
    )
    assert first == RawInsertResult(4, 0, 0)
    again = store.insert_raw_interval_columns(
        meter_id=m, interval_end_s=ends[::-1], energy_wh=np.array([4, 9, 2, 1]), source="http", received_at=at
    )
    assert again == RawInsertResult(new=0, duplicates=3, revised=1)
    assert again.stored == 1
    with store.engines.reader.connect() as c:
        assert c.execute(select(func.count()).select_from(ingest_batches)).scalar_one() == 1
    latest = store.raw_intervals(meter_id=m, start=T0, end=T0 + timedelta(hours=1))
    assert [r.energy_wh for r in latest] == [1, 2, 9, 4]
    assert {r.cumulative_wh for r in latest} == {None}
    ends_read, energy_read = store.raw_interval_columns(meter_id=m, start=T0, end=T0 + timedelta(hours=1))
    assert ends_read.tolist() == ends.tolist()
    assert energy_read.tolist() == [1, 2, 9, 4]


@pytest.mark.parametrize(
    ("ends", "energy", "cumulative", "message"),
    [
        ([1.5, 2.5], [1, 2], None, "interval_end_s must be a 1-D array of 64-bit integers"),
        ([[900]], [1], None, "interval_end_s must be a 1-D array"),
        ([900, 1800], [1], None, "must have one length"),
        ([900, 900], [1, 1], None, "interval_end_s has 1970-01-01T00:15:00\\+00:00 twice"),
        ([900, 1800], [1, -1], None, "energy_wh must not be negative"),
        ([900, 1800], [1, 2], [5, -2], "cumulative_wh must be a counter"),
        ([900, 1800], [1, 2], [5.0, 6.0], "cumulative_wh must be a 1-D array"),
    ],
)
def test_bad_columns_are_refused_whole(store: Store, ends, energy, cumulative, message) -> None:
    m = _meter(store)
    with pytest.raises(ValueError, match=message):
        store.insert_raw_interval_columns(
            meter_id=m,
            interval_end_s=np.array(ends),
            energy_wh=np.array(energy),
            cumulative_wh=None if cumulative is None else np.array(cumulative),
            source="x",
        )
    assert store.raw_intervals(meter_id=m, start=datetime(1970, 1, 1, tzinfo=UTC), end=T0) == []


def test_a_batch_of_meters_is_all_or_nothing(store: Store) -> None:
    m = _meter(store)
    ends = T0_S + Q * np.arange(1, 3, dtype=np.int64)
    good = (m, ends, np.array([1, 2]), None)
    with pytest.raises(ValueError, match="meter_id 999 is not a known meter"):
        store.insert_raw_interval_batches(batches=[good, (999, ends, np.array([1, 2]), None)], source="x")
    assert store.raw_intervals(meter_id=m, start=T0, end=T0 + timedelta(hours=1)) == []
    assert [r.new for r in store.insert_raw_interval_batches(batches=[good], source="x")] == [2]


def test_the_postgresql_binary_row_layout() -> None:
    """The offset of the counter in a binary COPY row is the dtype's (no server needed)."""
    from meshmeter.store.repository import _PG_CUMULATIVE_AT, _PG_ROW, _pg_binary_rows

    fields = _PG_ROW.fields
    assert fields is not None
    assert fields["cumulative_wh_value"][1] == _PG_CUMULATIVE_AT
    ends = np.array([T0_S + Q, T0_S + 2 * Q], dtype=np.int64)
    stream = _pg_binary_rows(3, 4, ends, np.array([5, 6]), np.array([100, 106]), np.array([False, True]))
    assert stream.startswith(b"PGCOPY\n\xff\r\n\x00" + bytes(8))
    assert stream.endswith(b"\xff\xff")
    assert len(stream) == 19 + 62 + 54 + 2
    second = stream[19 + 62 :]
    assert second[:2] == (5).to_bytes(2, "big")
    assert second[_PG_CUMULATIVE_AT - 4 : _PG_CUMULATIVE_AT] == (-1).to_bytes(4, "big", signed=True)
    microseconds = (T0_S + 2 * Q - 946_684_800) * 1_000_000
    assert second[2 + 12 + 4 : 2 + 12 + 12] == microseconds.to_bytes(8, "big")
