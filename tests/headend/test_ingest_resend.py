"""Issue 12, defect 8: data sent again, all of it already stored, changes nothing at all in the store.

Every way in (JSON on the fast path and on the row path, CSV, the DCAP's deliveries, the store's own
``insert_raw_intervals``) is sent twice; the second time no table of the store may gain or lose a row,
``ingest_batches`` included. An ingest that is partly new still records its batch, and its new rows
name it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from meshmeter.amr.dcap import Delivery
from meshmeter.amr.records import IntervalRecord
from meshmeter.headend import ingest_csv, ingest_deliveries, ingest_json
from meshmeter.store import METADATA, Store, raw
from tests.headend.conftest import EUI, add_meter

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each ingest received a second after the one before: a batch is named by (source, second)."""
    ticks = itertools.count()
    monkeypatch.setattr(
        raw, "_now", lambda: datetime(2026, 2, 1, tzinfo=UTC) + timedelta(seconds=next(ticks))
    )


def _counts(store: Store) -> dict[str, int]:
    """Rows of every table of the store."""
    with store._read() as c:
        return {
            t.name: int(c.execute(select(func.count()).select_from(t)).scalar_one())
            for t in METADATA.sorted_tables
        }


def _intervals(n: int, *, offset: str = "Z", first: int = 1) -> list[dict[str, object]]:
    ends = [T0 + timedelta(minutes=15 * i) for i in range(first, first + n)]
    stamps = [e.strftime("%Y-%m-%dT%H:%M:%S") + ("Z" if offset == "Z" else "+00:00") for e in ends]
    return [
        {"interval_end": s, "energy_wh": 10 * i, "cumulative_wh": 1000 + 10 * i * (i + 1) // 2}
        for i, s in enumerate(stamps, start=first)
    ]


def _json_fast(store: Store) -> Callable[[int], object]:
    return lambda n: ingest_json(
        store, json.dumps({"meter": "MM00000001", "intervals": _intervals(n)}), source="http"
    )


def _json_rows(store: Store) -> Callable[[int], object]:  # an offset, not Z: the row-by-row path
    return lambda n: ingest_json(
        store, json.dumps({"meter": "MM00000001", "intervals": _intervals(n, offset="+")}), source="http"
    )


def _csv(store: Store) -> Callable[[int], object]:
    def send(n: int) -> object:
        lines = ["meter,interval_end,energy_wh,cumulative_wh"]
        lines += [
            f"MM00000001,{r['interval_end']},{r['energy_wh']},{r['cumulative_wh']}" for r in _intervals(n)
        ]
        return ingest_csv(store, "\n".join(lines) + "\n", source="csv")

    return send


def _deliveries(store: Store) -> Callable[[int], object]:
    def send(n: int) -> object:
        records = [
            IntervalRecord(
                sequence=s, interval_end_s=int(T0.timestamp()) + 900 * (s + 1), cumulative_pulses=3 * s
            )
            for s in range(n)
        ]
        return ingest_deliveries(store, [Delivery(EUI, r, 0.0) for r in records])

    return send


def _store_rows(store: Store) -> Callable[[int], object]:
    def send(n: int) -> object:
        meter = store.get_meter(serial="MM00000001")
        assert meter is not None
        rows = [(T0 + timedelta(minutes=15 * i), 5 * i, None) for i in range(1, n + 1)]
        return store.insert_raw_intervals(meter_id=meter.id, rows=rows, source="test")

    return send


WAYS = {
    "json-fast": _json_fast,
    "json-rows": _json_rows,
    "csv": _csv,
    "dcap": _deliveries,
    "store": _store_rows,
}


@pytest.mark.parametrize("way", WAYS)
def test_a_resend_changes_nothing(store: Store, way: str) -> None:
    add_meter(store)
    send = WAYS[way](store)
    send(8)
    before = _counts(store)
    watermark = store.ingest_watermark()
    assert before["ingest_batches"] == 1
    for _ in range(3):
        send(8)  # all of it stored already
        send(5)  # a part of what is stored
        assert _counts(store) == before
    assert store.ingest_watermark() == watermark


@pytest.mark.parametrize("way", WAYS)
def test_a_partly_new_ingest_records_its_batch(store: Store, way: str) -> None:
    add_meter(store)
    send = WAYS[way](store)
    send(4)
    before = _counts(store)
    send(8)  # four stored, four new
    after = _counts(store)
    assert after["ingest_batches"] == before["ingest_batches"] + 1
    meter = store.get_meter(serial="MM00000001")
    assert meter is not None
    rows = store.raw_intervals(meter_id=meter.id, start=T0, end=T0 + timedelta(days=1))
    assert len(rows) == 8
    assert len({r.received_at for r in rows}) == 2  # two batches, each named by the rows it wrote
    send(8)
    assert _counts(store) == after


def test_a_revision_records_its_batch(store: Store) -> None:
    add_meter(store, eui64=None)
    ingest_json(store, json.dumps({"meter": "MM00000001", "intervals": _intervals(2)}), source="http")
    before = _counts(store)
    changed = _intervals(2)
    changed[1]["energy_wh"] = 11  # a revision, nothing new
    result = ingest_json(store, json.dumps({"meter": "MM00000001", "intervals": changed}), source="http")
    assert (result.new, result.revised, result.duplicates) == (0, 1, 1)
    after = _counts(store)
    assert after["ingest_batches"] == before["ingest_batches"] + 1
    assert after["raw_interval_revisions"] == before["raw_interval_revisions"] + 1
    again = _counts(store)
    ingest_json(store, json.dumps({"meter": "MM00000001", "intervals": changed}), source="http")
    assert _counts(store) == again
