"""Ingest of the DCAP's deliveries: counters to energies, late and out-of-order records, gaps, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshmeter.amr.dcap import Delivery
from meshmeter.amr.records import IntervalRecord
from meshmeter.catalog import RatedMeter, max_interval_energy_wh
from meshmeter.headend import IngestResult, ingest_deliveries
from meshmeter.store import Store
from tests.headend.conftest import EUI, add_meter

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z, the end of sequence 0
LIMIT_WH = max_interval_energy_wh(RatedMeter())  # add_meter's dual element meter: 15,180 Wh in 15 minutes
PULSES = [3, 10, 22, 30, 41, 55]  # cumulative pulses at sequences 0..5, worked by hand:
TRUE_WH = [30, 70, 120, 80, 110, 140]  # sequence 0 counts from 0; then (10-3)*10, (22-10)*10 ...
START = datetime.fromtimestamp(T0 - 900, UTC)
END = datetime.fromtimestamp(T0 + 86_400, UTC)


def rec(seq: int, pulses: list[int] = PULSES, device: bytes = EUI) -> tuple[bytes, IntervalRecord]:
    return device, IntervalRecord(seq, T0 + 900 * seq, pulses[seq])


def end_of(seq: int) -> datetime:
    return datetime.fromtimestamp(T0 + 900 * seq, UTC)


def stored(store: Store, meter_id: int) -> dict[int, tuple[int, int | None]]:
    """Latest revision of each stored interval, by sequence: (energy_wh, cumulative_wh)."""
    return {
        (int(r.interval_end.timestamp()) - T0) // 900: (r.energy_wh, r.cumulative_wh)
        for r in store.raw_intervals(meter_id=meter_id, start=START, end=END)
    }


def truth(seqs: range | list[int]) -> dict[int, tuple[int, int]]:
    return {s: (TRUE_WH[s], PULSES[s] * 10) for s in seqs}


def test_in_order_counters_become_interval_energies(store: Store) -> None:
    meter = add_meter(store)
    result = ingest_deliveries(store, [rec(s) for s in range(6)])
    assert result == IngestResult(accepted=6, new=6)
    assert stored(store, meter.id) == truth(range(6))
    assert sum(e for e, _ in stored(store, meter.id).values()) == PULSES[5] * 10
    assert {r.source for r in store.raw_intervals(meter_id=meter.id, start=START, end=END)} == {"dcap"}


def test_delivery_objects_and_a_source(store: Store) -> None:
    meter = add_meter(store)
    deliveries = [Delivery(*rec(s), received_s=T0 + 900 * s + 2.5) for s in range(3)]
    result = ingest_deliveries(store, deliveries, source="dcap-7")
    assert result.new == 3
    rows = store.raw_intervals(meter_id=meter.id, start=START, end=END)
    assert [(r.energy_wh, r.source) for r in rows] == [(30, "dcap-7"), (70, "dcap-7"), (120, "dcap-7")]


def test_ingesting_twice_adds_nothing(store: Store) -> None:
    meter = add_meter(store)
    batch = [rec(s) for s in range(6)]
    ingest_deliveries(store, batch)
    again = ingest_deliveries(store, batch + batch[:2])  # the whole batch again, and repeats within it
    assert again == IngestResult(accepted=8, duplicates=8)
    assert len(store.raw_intervals(meter_id=meter.id, start=START, end=END, all_revisions=True)) == 6


def test_a_gap_is_provisional_then_rebuilt_exactly(store: Store) -> None:
    meter = add_meter(store)
    first = ingest_deliveries(store, [rec(0), rec(1), rec(2), rec(5)])
    assert (first.new, first.provisional) == (4, 1)
    # Sequence 5's predecessor (4) is unknown: its energy is not guessed, nothing is counted for 3 and 4.
    assert stored(store, meter.id) == {**truth([0, 1, 2]), 5: (0, PULSES[5] * 10)}
    late = ingest_deliveries(store, [rec(4), rec(3)])
    assert (late.new, late.rebuilt, late.provisional, late.duplicates) == (2, 1, 0, 0)
    assert stored(store, meter.id) == truth(range(6))
    assert sum(e for e, _ in stored(store, meter.id).values()) == PULSES[5] * 10  # nothing counted twice
    revisions = store.raw_intervals(meter_id=meter.id, start=end_of(4), end=end_of(5), all_revisions=True)
    assert [(r.revision, r.energy_wh) for r in revisions] == [(0, 0), (1, TRUE_WH[5])]  # raw kept


def test_the_record_after_the_gap_arriving_again_rebuilds_it(store: Store) -> None:
    meter = add_meter(store)
    ingest_deliveries(store, [rec(2)])
    result = ingest_deliveries(store, [rec(1), rec(2)])  # the MDT resends its backlog, oldest first
    assert (result.new, result.rebuilt, result.provisional) == (1, 1, 1)  # 1 is now the provisional one
    assert stored(store, meter.id) == {1: (0, PULSES[1] * 10), 2: truth([2])[2]}


def test_a_first_record_above_sequence_0_is_a_provisional_baseline(store: Store) -> None:
    meter = add_meter(store)
    assert ingest_deliveries(store, [rec(3)]).provisional == 1
    assert stored(store, meter.id) == {3: (0, PULSES[3] * 10)}
    assert ingest_deliveries(store, [rec(4)]).provisional == 0
    assert stored(store, meter.id) == {3: (0, PULSES[3] * 10), 4: truth([4])[4]}


def test_one_record_at_a_time_in_reverse(store: Store) -> None:
    meter = add_meter(store)
    results = [ingest_deliveries(store, [rec(s)]) for s in reversed(range(6))]
    assert stored(store, meter.id) == truth(range(6))
    assert sum(r.rebuilt for r in results) == 5
    assert sum(r.new for r in results) == 6


def test_a_zero_interval_is_exact_not_provisional(store: Store) -> None:
    meter = add_meter(store)
    pulses = [0, 4, 4, 9]
    ingest_deliveries(store, [rec(s, pulses) for s in (0, 1, 3)])
    ingest_deliveries(store, [rec(2, pulses)])
    assert stored(store, meter.id) == {0: (0, 0), 1: (40, 40), 2: (0, 40), 3: (50, 90)}


def test_unknown_devices_are_refused_and_others_stored(store: Store) -> None:
    meter = add_meter(store)
    unassigned = bytes.fromhex("00000000000000aa")
    store.create_mdt(eui64=unassigned, kit="MMSMT-C02", key=bytes(16))
    stranger = bytes.fromhex("ffffffffffffffff")
    result = ingest_deliveries(store, [rec(0), rec(0, device=stranger), rec(1, device=unassigned), rec(1)])
    assert result.new == 2
    assert set(result.refused) == {stranger.hex(), unassigned.hex()}
    assert result.refused[stranger.hex()].startswith("unknown_device")
    assert result.refused[unassigned.hex()].startswith("no_meter")
    assert stored(store, meter.id) == truth([0, 1])


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        ([IntervalRecord(1, T0 + 900, 5), IntervalRecord(1, T0 + 900, 6)], "conflict"),
        ([IntervalRecord(1, T0 + 900, 5), IntervalRecord(2, T0 + 900 * 3, 6)], "sequence_mismatch"),
        ([IntervalRecord(1, T0 + 900, 5), IntervalRecord(2, T0 + 1800, 4)], "counter_backwards"),
        (
            [
                IntervalRecord(1, T0 + 900, 5),
                IntervalRecord(2, T0 + 1800, 5 + LIMIT_WH // 10 + 1),
            ],
            "energy_too_high",
        ),
    ],
)
def test_an_inconsistent_device_is_refused_whole(
    store: Store, records: list[IntervalRecord], reason: str
) -> None:
    meter = add_meter(store)
    result = ingest_deliveries(store, [(EUI, r) for r in records])
    assert result.refused[EUI.hex()].startswith(reason)
    assert result.stored == 0
    assert stored(store, meter.id) == {}


def test_bad_arguments_raise() -> None:
    with Store("sqlite:///:memory:") as store, pytest.raises(ValueError, match=r"deliveries\[0\]"):
        ingest_deliveries(store, [b"not a delivery"])  # type: ignore[list-item]


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_arrival_order_and_batching_gives_the_true_energies(data: st.DataObject) -> None:
    """Records arrive shuffled, split into batches, some repeated: the end state is always exact."""
    n = data.draw(st.integers(2, 12), label="records")
    steps = data.draw(st.lists(st.integers(0, 200), min_size=n, max_size=n), label="pulses per interval")
    pulses = [sum(steps[: s + 1]) for s in range(n)]
    order = data.draw(st.permutations(range(n)), label="order")
    repeats = data.draw(st.lists(st.sampled_from(range(n)), max_size=4), label="repeats")
    arrivals = list(order) + repeats
    cuts = sorted(data.draw(st.sets(st.integers(1, len(arrivals) - 1), max_size=5), label="cuts"))
    batches = [arrivals[a:b] for a, b in zip([0, *cuts], [*cuts, len(arrivals)], strict=True)]
    with Store("sqlite:///:memory:") as store:
        meter = add_meter(store)
        for batch in batches:
            ingest_deliveries(store, [rec(s, pulses) for s in batch])
        energies = [pulses[0] * 10] + [(pulses[s] - pulses[s - 1]) * 10 for s in range(1, n)]
        assert stored(store, meter.id) == {s: (energies[s], pulses[s] * 10) for s in range(n)}
        again = ingest_deliveries(store, [rec(s, pulses) for s in range(n)])
        assert again.stored == 0


def test_interval_ends_are_the_records_ends(store: Store) -> None:
    meter = add_meter(store)
    ingest_deliveries(store, [rec(1)])
    (row,) = store.raw_intervals(meter_id=meter.id, start=START, end=END)
    assert row.interval_end == datetime(2026, 1, 1, 0, 15, tzinfo=UTC) == end_of(0) + timedelta(minutes=15)
