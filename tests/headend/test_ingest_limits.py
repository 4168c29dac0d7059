"""Issue 12 hardening: the plausibility limit of an interval's energy is the meter's own, in every door.

Each meter's limit is :func:`meshmeter.catalog.max_interval_energy_wh` of its registry record (designation,
CT ratio, interval length), worked by hand from the spec: elements × 138 V (highest supply voltage,
manual §3.1) × CT ratio × 0.11 A (highest secondary current, 110 % of the CT's rating: "220 A primary for
200 A models", manual §3.1 note 1) × the interval. The JSON ingest (its fast path and its row path), the
CSV ingest, a mapped file, the DCAP's records, a Green Button file and VEE's rating check all take the
limit itself and refuse (or flag) one Wh more, naming the meter, the row and field, the value and the
limit; nothing is stored on refusal.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest

from meshmeter.amr.records import IntervalRecord
from meshmeter.catalog import max_interval_energy_wh
from meshmeter.headend import IngestError, ingest_csv, ingest_deliveries, ingest_json
from meshmeter.headend.greenbutton import GreenButtonError, export_greenbutton, import_greenbutton
from meshmeter.headend.ingest import _fast_json, _row_json
from meshmeter.headend.mapping import IngestMapping, ingest_mapped
from meshmeter.headend.vee import VeeConfig, run_vee
from meshmeter.store import Store
from tests.headend.conftest import KEY

END = datetime(2026, 1, 1, 1, tzinfo=UTC)
"""An interval end on every meter's grid (15 minutes and hourly)."""
EVER = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC))
DUAL = "MM-D1202001-T-SCC"
SINGLE = "MM-S1202001-T-SCC"


class Rated(NamedTuple):
    serial: str
    designation: str
    ct_ratio: float
    interval_s: int
    limit_wh: int
    """Worked by hand from the spec (certificate p.1, manual §3.1)."""


METERS = [
    # 1 element × 138 V × 220 A × 0.25 h (certificate p.1 "S": single element, 2-wire)
    Rated("SINGLE15", SINGLE, 2000, 900, 7_590),
    # 2 elements × 138 V × 220 A × 0.25 h (certificate p.1 "D": dual element, 3-wire)
    Rated("DUAL15", DUAL, 2000, 900, 15_180),
    # 2 × 138 V × 220 A × 1 h: an hourly meter
    Rated("DUAL60", DUAL, 2000, 3600, 60_720),
    # a 400:0.1 A CT (outside the certificate's "2001"; 110 % carried over): 2 × 138 V × 440 A × 0.25 h
    Rated("DUAL15CT400", DUAL, 4000, 900, 30_360),
    # a 100:0.1 A CT, "110 A primary for 100 A models" (manual §3.1 note 1): 2 × 138 V × 110 A × 0.25 h
    Rated("DUAL15CT100", DUAL, 1000, 900, 7_590),
    # a free designation: the default Mini Meter, dual element
    Rated("FREE15", "MM-1", 2000, 900, 15_180),
]
IDS = [m.serial for m in METERS]


def create(store: Store, m: Rated) -> int:
    meter = store.create_meter(
        serial=m.serial, designation=m.designation, ct_ratio=m.ct_ratio, interval_s=m.interval_s
    )
    assert max_interval_energy_wh(meter) == m.limit_wh
    return meter.id


def stored(store: Store, meter_id: int) -> list[tuple[datetime, int]]:
    rows = store.raw_intervals(meter_id=meter_id, start=EVER[0], end=EVER[1], all_revisions=True)
    return [(r.interval_end, r.energy_wh) for r in rows]


def json_doc(serial: str, energy_wh: int) -> str:
    """One interval in the common form that the fast path takes (all three members)."""
    interval = {"interval_end": "2026-01-01T01:00:00Z", "energy_wh": energy_wh, "cumulative_wh": None}
    return json.dumps({"meter": serial, "intervals": [interval]})


def csv_doc(serial: str, energy_wh: int) -> str:
    return f"meter,interval_end,energy_wh\n{serial},2026-01-01T01:00:00Z,{energy_wh}\n"


def assert_names_everything(error: IngestError, m: Rated, field: str, energy_wh: int) -> None:
    """The refusal names the meter, the row and field, the value and the limit."""
    assert error.reason == "energy_too_high"
    assert error.field == field
    assert error.total == 1
    assert f"{field} is {energy_wh} Wh, above {m.limit_wh} Wh" in str(error)
    assert repr(m.serial) in str(error)
    assert f"{m.interval_s // 60} minutes" in str(error)


# ---------------------------------------------------------------------------------------------------
# JSON: the fast path, the row path and ingest_json; CSV; a mapped file
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("m", METERS, ids=IDS)
def test_json_takes_the_meters_limit_on_both_paths(store: Store, m: Rated) -> None:
    meter_id = create(store, m)
    fast = _fast_json(store, json_doc(m.serial, m.limit_wh), "test", None)
    assert fast is not None  # the fast path takes the common form itself
    assert fast.new == 1
    assert stored(store, meter_id) == [(END, m.limit_wh)]
    rows = _row_json(store, json_doc(m.serial, m.limit_wh), "test", None)
    assert (rows.accepted, rows.new, rows.duplicates) == (1, 0, 1)  # the same value again: a duplicate


@pytest.mark.parametrize("m", METERS, ids=IDS)
def test_json_refuses_one_wh_more_on_both_paths(store: Store, m: Rated) -> None:
    meter_id = create(store, m)
    text = json_doc(m.serial, m.limit_wh + 1)
    assert _fast_json(store, text, "test", None) is None  # declined: the row path names the row
    with pytest.raises(IngestError) as by_rows:
        _row_json(store, text, "test", None)
    with pytest.raises(IngestError) as by_ingest:
        ingest_json(store, text, source="test")
    assert_names_everything(by_rows.value, m, "intervals[0].energy_wh", m.limit_wh + 1)
    assert by_ingest.value.problems == by_rows.value.problems
    assert stored(store, meter_id) == []


@pytest.mark.parametrize("m", METERS, ids=IDS)
def test_csv_takes_the_limit_and_refuses_one_wh_more(store: Store, m: Rated) -> None:
    meter_id = create(store, m)
    with pytest.raises(IngestError) as refused:
        ingest_csv(store, csv_doc(m.serial, m.limit_wh + 1), source="test")
    assert_names_everything(refused.value, m, "line 2: energy_wh", m.limit_wh + 1)
    assert stored(store, meter_id) == []
    assert ingest_csv(store, csv_doc(m.serial, m.limit_wh), source="test").new == 1
    assert stored(store, meter_id) == [(END, m.limit_wh)]


@pytest.mark.parametrize("m", METERS, ids=IDS)
def test_a_mapped_file_takes_the_limit_and_refuses_one_wh_more(store: Store, m: Rated) -> None:
    meter_id = create(store, m)
    mapping = IngestMapping(
        time_column="end", energy_column="kwh", energy_unit="kWh", interval_minutes=m.interval_s // 60
    )
    over = f"end,kwh\n2026-01-01T01:00:00Z,{(m.limit_wh + 1) / 1000}\n"
    with pytest.raises(IngestError) as refused:
        ingest_mapped(store, over, mapping, source="test", meter=m.serial)
    assert refused.value.reason == "energy_too_high"
    assert f"{m.limit_wh + 1} Wh, above {m.limit_wh} Wh" in str(refused.value)
    assert repr(m.serial) in str(refused.value)
    assert stored(store, meter_id) == []
    at = f"end,kwh\n2026-01-01T01:00:00Z,{m.limit_wh / 1000}\n"
    assert ingest_mapped(store, at, mapping, source="test", meter=m.serial).new == 1
    assert stored(store, meter_id) == [(END, m.limit_wh)]


def test_one_batch_of_two_meters_is_judged_meter_by_meter(store: Store) -> None:
    """7,591 Wh is possible for the dual element meter and not for the single one: the batch is refused
    for the single meter's row alone, and nothing of either is stored."""
    single, dual = METERS[0], METERS[1]
    ids = [create(store, single), create(store, dual)]
    doc = json.dumps([json.loads(json_doc(dual.serial, 7_591)), json.loads(json_doc(single.serial, 7_591))])
    with pytest.raises(IngestError) as refused:
        ingest_json(store, doc, source="test")
    assert [(p.reason, p.field) for p in refused.value.problems] == [
        ("energy_too_high", "[1].intervals[0].energy_wh")
    ]
    assert "above 7590 Wh" in str(refused.value)
    assert [stored(store, i) for i in ids] == [[], []]
    text = "meter,interval_end,energy_wh\n" + "".join(
        f"{serial},2026-01-01T01:00:00Z,7591\n" for serial in (dual.serial, single.serial)
    )
    with pytest.raises(IngestError) as by_csv:
        ingest_csv(store, text, source="test")
    assert [p.field for p in by_csv.value.problems] == ["line 3: energy_wh"]
    assert [stored(store, i) for i in ids] == [[], []]


def test_an_unknown_meter_is_refused_as_unknown_whatever_its_energy(store: Store) -> None:
    """Without a record there is no limit to name: the meter is unknown, and that is the one problem."""
    with pytest.raises(IngestError) as refused:
        ingest_json(store, json_doc("NOBODY", 10**9), source="test")
    assert [p.reason for p in refused.value.problems] == ["unknown_meter"]


def test_an_energy_beyond_any_store_is_refused_before_the_meter_is_known(store: Store) -> None:
    create(store, METERS[3])
    with pytest.raises(IngestError) as refused:
        ingest_json(store, json_doc("DUAL15CT400", 2**63), source="test")
    assert refused.value.reason == "energy_too_high"
    assert "the largest value stored" in str(refused.value)


# ---------------------------------------------------------------------------------------------------
# the DCAP's records: 10 Wh pulses (manual §5.1), 15 minutes whatever the record says
# ---------------------------------------------------------------------------------------------------

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z, the end of sequence 0
EUI = bytes.fromhex("00112233445566ff")


def with_mdt(store: Store, m: Rated) -> int:
    meter_id = create(store, m)
    store.create_mdt(eui64=EUI, kit="MMSMT-C02", key=KEY, meter_id=meter_id)
    return meter_id


@pytest.mark.parametrize("m", [m for m in METERS if m.interval_s == 900], ids=lambda m: m.serial)
def test_a_device_registering_more_than_its_meter_can_is_refused(store: Store, m: Rated) -> None:
    meter_id = with_mdt(store, m)
    pulses = m.limit_wh // 10  # the limits are whole tens of Wh: 759, 1518, 3036 pulses
    over = [(EUI, IntervalRecord(1, T0 + 900, 5)), (EUI, IntervalRecord(2, T0 + 1800, 5 + pulses + 1))]
    result = ingest_deliveries(store, over)
    refusal = result.refused[EUI.hex()]
    assert refusal.startswith("energy_too_high")
    assert f"{(pulses + 1) * 10} Wh" in refusal
    assert f"above {m.limit_wh} Wh" in refusal
    assert repr(m.serial) in refusal
    assert stored(store, meter_id) == []
    ok = [(EUI, IntervalRecord(1, T0 + 900, 5)), (EUI, IntervalRecord(2, T0 + 1800, 5 + pulses))]
    assert ingest_deliveries(store, ok).refused == {}
    assert stored(store, meter_id)[-1] == (datetime.fromtimestamp(T0 + 1800, UTC), m.limit_wh)


@pytest.mark.parametrize(("m", "refused"), [(METERS[0], True), (METERS[1], False)], ids=["single", "dual"])
def test_a_provisional_row_made_exact_is_held_to_the_meters_limit(
    store: Store, m: Rated, refused: bool
) -> None:
    """Sequence 3 arrives first (stored provisionally); sequence 2 then makes it 7,950 Wh: too much for a
    single element meter (7,590 Wh), possible for a dual one (15,180 Wh)."""
    meter_id = with_mdt(store, m)
    assert ingest_deliveries(store, [(EUI, IntervalRecord(3, T0 + 2700, 800))]).provisional == 1
    result = ingest_deliveries(store, [(EUI, IntervalRecord(2, T0 + 1800, 5))])
    if refused:
        assert result.refused[EUI.hex()].startswith("energy_too_high")
        assert "7950 Wh, above 7590 Wh" in result.refused[EUI.hex()]
        assert stored(store, meter_id) == [(datetime.fromtimestamp(T0 + 2700, UTC), 0)]
    else:
        assert result.refused == {}
        assert (datetime.fromtimestamp(T0 + 2700, UTC), 7_950) in stored(store, meter_id)


# ---------------------------------------------------------------------------------------------------
# Green Button
# ---------------------------------------------------------------------------------------------------


def greenbutton_file(store: Store, m: Rated, energy_wh: int) -> bytes:
    """A Green Button file of one reading of ``energy_wh`` ending at :data:`END`, of ``m``'s length."""
    source = store.create_meter(
        serial=f"SRC-{m.serial}", designation=DUAL, ct_ratio=2000, interval_s=m.interval_s
    )
    store.insert_raw_intervals(meter_id=source.id, rows=[(END, energy_wh)], source="test")
    return export_greenbutton(
        store, meter_serial=source.serial, start=END - timedelta(seconds=m.interval_s), end=END
    )


@pytest.mark.parametrize("m", METERS, ids=IDS)
def test_greenbutton_takes_the_limit_and_refuses_one_wh_more(store: Store, m: Rated) -> None:
    meter_id = create(store, m)
    over = greenbutton_file(store, m, m.limit_wh + 1)
    with pytest.raises(GreenButtonError) as refused:
        import_greenbutton(store, over, meter_serial=m.serial)
    assert refused.value.reason == "energy_too_high"
    start = (END - timedelta(seconds=m.interval_s)).isoformat()
    detail = refused.value.detail or ""
    assert f"starting {start} gives {m.limit_wh + 1} Wh, above {m.limit_wh} Wh" in detail
    assert m.serial in detail
    assert stored(store, meter_id) == []
    at = over.replace(f"<value>{m.limit_wh + 1}</value>".encode(), f"<value>{m.limit_wh}</value>".encode())
    assert import_greenbutton(store, at, meter_serial=m.serial).stored == 1
    assert stored(store, meter_id) == [(END, m.limit_wh)]


# ---------------------------------------------------------------------------------------------------
# VEE: the rating check's default is the meter's own limit
# ---------------------------------------------------------------------------------------------------


def test_vee_defaults_to_the_default_mini_meter_without_a_meter() -> None:
    assert VeeConfig().max_energy_wh() == 15_180  # 2 × 138 V × 220 A × 0.25 h
    assert VeeConfig(interval_s=3600).max_energy_wh() == 60_720
    assert VeeConfig(max_interval_wh=1000.0).max_energy_wh() == 1000.0


@pytest.mark.parametrize("m", METERS, ids=IDS)
def test_vee_flags_above_the_meters_own_limit(store: Store, m: Rated) -> None:
    meter_id = create(store, m)
    step = timedelta(seconds=m.interval_s)
    values = [500] * 8 + [m.limit_wh, m.limit_wh + 1] + [500] * 2
    start = END
    rows = [(start + step * (k + 1), wh, None) for k, wh in enumerate(values)]
    store.insert_raw_intervals(meter_id=meter_id, rows=rows, source="test")
    report = run_vee(
        store,
        meter_id=meter_id,
        start=start,
        end=start + step * len(values),
        config=VeeConfig(spike_rule="rating"),
    )
    assert [(f.check, f.reason) for f in report.findings] == [
        ("spike", f"{m.limit_wh + 1} Wh is above the rated maximum of {m.limit_wh} Wh")
    ]
    assert report.findings[0].interval_end == int((start + step * 10).timestamp())


def test_vee_keeps_a_limit_that_is_set(store: Store) -> None:
    meter_id = create(store, METERS[1])
    rows = [(END + timedelta(minutes=15 * (k + 1)), wh, None) for k, wh in enumerate([500, 1001, 500])]
    store.insert_raw_intervals(meter_id=meter_id, rows=rows, source="test")
    report = run_vee(
        store,
        meter_id=meter_id,
        start=END,
        end=END + timedelta(minutes=45),
        config=VeeConfig(spike_rule="rating", max_interval_wh=1000.0),
    )
    assert [f.reason for f in report.findings] == ["1001 Wh is above the rated maximum of 1000 Wh"]
