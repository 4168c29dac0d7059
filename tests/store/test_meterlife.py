"""A meter's life in the store (issue 13, "A meter's life, and bills that stay right"): install, removal,
exchange in one transaction, multiplier and CT ratio from a date; every problem named at once and nothing
stored, on every backend.

Numbers from the spec: the pulse output "10" gives 10 Wh a pulse (manual §5.1), so the counters here are
multiples of 10 Wh; 200:0.1 A CTs are a CT ratio of 2000, 400:0.1 A ones 4000 (certificate p.1).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meshmeter.errors import MeterLifeError
from meshmeter.store import Store

T0 = datetime(2026, 7, 1, 7, tzinfo=UTC)
X = datetime(2026, 7, 16, 7, tzinfo=UTC)
"""The exchange: local midnight of 16 July 2026 in Los Angeles."""


def _world(store: Store, *, digits: int | None = None, start_wh: int = 1_000_000) -> dict[str, int]:
    """Meter OLD measuring unit 1A, with 10 Wh pulses, 12 a quarter-hour (120 Wh) from ``start_wh`` up to
    the exchange; meter NEW and a spare meter SPARE of the same site, serving nothing."""
    site = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
    old = store.create_meter(serial="OLD", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id)
    if digits is not None:
        old = store.create_meter(
            serial="OLD6",
            designation="MM-D1202001-T-SCC",
            ct_ratio=2000,
            site_id=site.id,
            register_digits=digits,
        )
    new = store.create_meter(serial="NEW", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id)
    spare = store.create_meter(
        serial="SPARE", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id
    )
    unit = store.create_unit(site_id=site.id, name="1A", meter_id=old.id)
    n = int((X - T0).total_seconds() // 900)
    rows = [(T0 + timedelta(minutes=15 * (i + 1)), 120, start_wh + 120 * (i + 1)) for i in range(n)]
    store.insert_raw_intervals(meter_id=old.id, rows=rows, source="test")
    return {
        "site": site.id,
        "old": old.id,
        "new": new.id,
        "spare": spare.id,
        "unit": unit.id,
        "last": rows[-1][2],
    }


def test_an_exchange_removes_installs_and_repoints_the_unit_at_once(store: Store) -> None:
    w = _world(store)
    assert store.last_counter_wh(meter_id=w["old"], at=X) == (X, 1_000_000 + 120 * 1440)
    removal, install = store.exchange_meter(
        old_meter_id=w["old"], new_meter_id=w["new"], at=X, final_read_wh=w["last"], first_read_wh=0, by="ops"
    )
    assert (removal.kind, removal.meter_id, removal.read_wh, removal.unit_id) == (
        "remove",
        w["old"],
        w["last"],
        w["unit"],
    )
    assert (install.kind, install.meter_id, install.read_wh, install.replaces_meter_id) == (
        "install",
        w["new"],
        0,
        w["old"],
    )
    assert install.detail == {"unit_ids": [w["unit"]]}
    assert store.get_unit(unit_id=w["unit"]).meter_id == w["new"]
    assert [c.kind for c in store.meter_changes(unit_id=w["unit"])] == ["remove", "install"]
    assert store.meter_changes(replaces_meter_id=w["old"]) == [install]
    assert store.meter_changes(meter_id=w["old"]) == [removal]
    assert store.get_meter(meter_id=w["new"]).install_date.isoformat() == "2026-07-16"  # local date


def test_a_bad_exchange_names_every_problem_and_stores_nothing(store: Store) -> None:
    w = _world(store)
    store.exchange_meter(
        old_meter_id=w["spare"], new_meter_id=w["new"], at=X, final_read_wh=0, first_read_wh=0
    )
    before = store.meter_changes()
    late = X + timedelta(minutes=7)
    with pytest.raises(MeterLifeError) as refused:
        # NEW serves unit-less SPARE's place now? No: it serves nothing, but it is installed already; the
        # final read is below OLD's counter; the time is off the grid.
        store.exchange_meter(
            old_meter_id=w["old"],
            new_meter_id=w["new"],
            at=late,
            final_read_wh=w["last"] - 10,
            first_read_wh=0,
        )
    problems = refused.value.problems
    assert any("is not on meter 'OLD''s grid of 15-minute intervals" in p for p in problems), problems
    assert any("is not on meter 'NEW''s grid" in p for p in problems), problems
    assert any(
        "final_read_wh 1,172.790 kWh is below 1,172.800 kWh, the counter of meter 'OLD'" in p
        for p in problems
    ), problems
    assert any("meter 'NEW' is installed already (since 2026-07-16T07:00:00+00:00)" in p for p in problems), (
        problems
    )
    assert not refused.value.unknown
    assert store.meter_changes() == before
    assert store.get_unit(unit_id=w["unit"]).meter_id == w["old"]


def test_a_new_meter_that_serves_a_unit_is_refused(store: Store) -> None:
    w = _world(store)
    other = store.create_unit(site_id=w["site"], name="2B", meter_id=w["new"])
    with pytest.raises(MeterLifeError, match=r"new meter 'NEW' already measures unit '2B' \(unit_id \d+\)"):
        store.exchange_meter(
            old_meter_id=w["old"], new_meter_id=w["new"], at=X, final_read_wh=w["last"], first_read_wh=0
        )
    assert store.meter_changes() == []
    assert store.get_unit(unit_id=other.id).meter_id == w["new"]


def test_unknown_meters_and_bad_arguments_are_named_together(store: Store) -> None:
    w = _world(store)
    with pytest.raises(MeterLifeError) as refused:
        store.exchange_meter(
            old_meter_id=w["old"], new_meter_id=999, at=X, final_read_wh=-5, first_read_wh=1.5
        )  # type: ignore[arg-type]
    assert refused.value.unknown
    text = str(refused.value)
    assert "final_read_wh must be a non-negative integer [Wh], got -5" in text
    assert "first_read_wh must be a non-negative integer [Wh], got 1.5" in text
    assert "new_meter_id 999 is not a known meter" in text
    assert store.meter_changes() == []
    with pytest.raises(MeterLifeError, match="is the old meter"):
        store.exchange_meter(
            old_meter_id=w["old"], new_meter_id=w["old"], at=X, final_read_wh=0, first_read_wh=0
        )


def test_a_removal_not_after_the_install_and_a_second_install_are_refused(store: Store) -> None:
    w = _world(store)
    store.install_meter(meter_id=w["spare"], at=X, first_read_wh=500)
    with pytest.raises(MeterLifeError) as refused:
        store.remove_meter(meter_id=w["spare"], at=X - timedelta(hours=1), final_read_wh=400)
    text = str(refused.value)
    assert "the removal of meter 'SPARE' at 2026-07-16T06:00:00+00:00 is not after its install at" in text
    assert "is before meter 'SPARE''s last recorded change (install at 2026-07-16T07:00:00+00:00)" in text
    with pytest.raises(MeterLifeError, match="meter 'SPARE' is installed already"):
        store.install_meter(meter_id=w["spare"], at=X + timedelta(days=1), first_read_wh=500)
    assert [c.kind for c in store.meter_changes(meter_id=w["spare"])] == ["install"]
    removed = store.remove_meter(meter_id=w["spare"], at=X + timedelta(days=2), final_read_wh=900)
    assert removed.read_wh == 900
    with pytest.raises(MeterLifeError, match="meter 'SPARE' was removed already"):
        store.remove_meter(meter_id=w["spare"], at=X + timedelta(days=3), final_read_wh=900)
    with pytest.raises(MeterLifeError, match="meter 'SPARE' was removed at"):
        store.change_meter_multiplier(meter_id=w["spare"], at=X + timedelta(days=3), multiplier=2)


def test_an_install_names_a_unit_of_another_meter(store: Store) -> None:
    w = _world(store)
    with pytest.raises(
        MeterLifeError, match=r"unit '1A' \(unit_id \d+\) is measured by meter_id \d+: exchange"
    ):
        store.install_meter(meter_id=w["spare"], at=X, first_read_wh=0, unit_id=w["unit"])
    with pytest.raises(MeterLifeError, match="unit_id 99 is not a known unit") as refused:
        store.install_meter(meter_id=w["spare"], at=X, first_read_wh=0, unit_id=99)
    assert refused.value.unknown
    assert store.meter_changes() == []


def test_a_multiplier_and_a_ct_ratio_from_a_date_keep_their_history(store: Store) -> None:
    w = _world(store)
    at = datetime(2026, 7, 11, 7, tzinfo=UTC)
    # 400:0.1 A CTs fitted on a meter calibrated for 200:0.1 A: ratio 4000, and the register counts half.
    ct = store.change_meter_ct_ratio(meter_id=w["old"], at=at, ct_ratio=4000, by="ops")
    mult = store.change_meter_multiplier(
        meter_id=w["old"], at=at, multiplier=2, read_wh=1_000_000 + 120 * 960
    )
    assert (ct.kind, ct.value, ct.detail) == ("ct_ratio", 4000.0, {"from": 2000.0})
    assert (mult.kind, mult.value, mult.detail, mult.read_wh) == ("multiplier", 2.0, {"from": 1.0}, 1_115_200)
    meter = store.get_meter(meter_id=w["old"])
    assert (meter.ct_ratio, meter.multiplier) == (4000.0, 2.0)
    assert [c.kind for c in store.meter_changes(meter_id=w["old"])] == ["ct_ratio", "multiplier"]
    with pytest.raises(MeterLifeError) as refused:
        store.change_meter_multiplier(meter_id=w["old"], at=at - timedelta(days=1), multiplier=2, read_wh=5)
    text = str(refused.value)
    assert "meter 'OLD' has multiplier 2 already" in text
    assert "is before meter 'OLD''s last recorded change" in text
    assert "read_wh 0.005 kWh is below 1,103.680 kWh, the counter of meter 'OLD'" in text
    with pytest.raises(MeterLifeError, match=r"ct_ratio must be a finite number > 0, got nan"):
        store.change_meter_ct_ratio(meter_id=w["old"], at=X, ct_ratio=float("nan"))
    assert store.get_meter(meter_id=w["old"]).multiplier == 2.0
    assert len(store.meter_changes()) == 2


def test_a_final_read_through_the_rollover_of_a_6_digit_register(store: Store) -> None:
    # The counter reaches 999,972.800 kWh at the exchange: a final read of 30 kWh went through 0.
    w = _world(store, digits=6, start_wh=999_800_000)
    last = store.last_counter_wh(meter_id=w["old"], at=X)
    assert last == (X, 999_972_800)
    with pytest.raises(MeterLifeError) as refused:
        store.exchange_meter(
            old_meter_id=w["old"], new_meter_id=w["new"], at=X, final_read_wh=500_000_000, first_read_wh=10**9
        )
    text = str(refused.value)
    assert "final_read_wh 500,000.000 kWh is below 999,972.800 kWh" in text
    assert "first_read_wh" not in text  # NEW's register never rolls over: any read is one it can show
    store.exchange_meter(
        old_meter_id=w["old"], new_meter_id=w["new"], at=X, final_read_wh=30_000, first_read_wh=0
    )
    assert store.meter_changes(meter_id=w["old"])[0].read_wh == 30_000


def test_a_read_a_6_digit_register_cannot_show_is_refused(store: Store) -> None:
    w = _world(store, digits=6, start_wh=0)
    with pytest.raises(
        MeterLifeError,
        match=r"final_read_wh 1,000,000.000 kWh is more than meter 'OLD6''s register of 6 digits",
    ):
        store.remove_meter(meter_id=w["old"], at=X, final_read_wh=10**9)
    with pytest.raises(ValueError, match="register_digits must be whole-kWh digits, 3 to 12"):
        store.create_meter(serial="BAD", designation="d", ct_ratio=2000, register_digits=13)
