"""Tenant bills worked by hand (California re-rating), and the engine's pure pieces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from meshmeter.billing import (
    Tenant,
    bill_meter,
    bill_meters,
    example_tariff,
    interval_grid,
    parse_tariff,
    split_tiers,
    tier_totals,
)
from tests.billing.conftest import LA, local, schedule, tou_document


def constant(start: datetime, end: datetime, wh: int) -> tuple[np.ndarray, np.ndarray]:
    grid = interval_grid(start, end)
    return grid, np.full(grid.size, wh, dtype=np.int64)


def amounts(bill) -> dict[str, Decimal]:
    return {line.description: line.amount for line in bill.lines}


# -----------------------------------------------------------------------------------------------------
# Hand-worked bills
# -----------------------------------------------------------------------------------------------------


def test_tou_month_with_a_tier_boundary():
    # The shipped E-TOU-C-shaped tariff, July 2026 (summer, 31 days), 250 Wh every 15 minutes (1 kW).
    # Peak 4-9 pm every day: 5 h x 1 kW = 5 kWh/day x 31 = 155 kWh; off-peak 19 kWh/day x 31 = 589 kWh;
    # total 744 kWh. Baseline (summer) 13.5 kWh/day x 31 = 418.5 kWh, so 325.5 kWh is above it.
    # Each period splits in proportion: peak 155 x 418.5/744 = 87.1875 -> 87.187 (+1 Wh by largest
    # remainder; the tie goes to the lower tier) = 87.188 kWh in baseline, 67.812 above;
    # off-peak 589 x 418.5/744 = 331.3125 -> 331.313 / 257.687.
    # Charges: 87.188 x 0.40 = 34.8752; 67.812 x 0.49 = 33.22788; 331.313 x 0.31 = 102.70703;
    # 257.687 x 0.40 = 103.0748; exact total 273.88491; printed lines 34.88 + 33.23 + 102.71 + 103.07
    # = 273.89. The minimum charge (0.35 x 31 = 10.85) is below it: no minimum line.
    tariff = example_tariff("e-tou-c-example")
    start, end = local(2026, 7, 1), local(2026, 8, 1)
    grid, energy = constant(start, end, 250)
    bill = bill_meter(tariff, grid, energy, start=start, end=end, timezone=LA, opening_read_wh=1_000_000)
    assert bill.energy_wh == 744_000
    assert bill.tier_limits_wh == (418_500,)
    assert bill.energy_by_period_wh == (155_000, 589_000, 0, 0)
    assert bill.energy_by_period_tier_wh == ((87_188, 67_812), (331_313, 257_687), (0, 0), (0, 0))
    assert [line.amount for line in bill.lines] == [
        Decimal("34.8752"),
        Decimal("33.22788"),
        Decimal("102.70703"),
        Decimal("103.0748"),
    ]
    assert bill.total == Decimal("273.88491")
    assert bill.printed_total == Decimal("273.89")
    assert bill.opening_read_wh == 1_000_000
    assert bill.closing_read_wh == 1_744_000
    assert "baseline" in bill.lines[0].description


def test_demand_charge():
    # Energy $0.10/kWh flat; TOU demand: period 0 (weekdays 12-18 h) $15/kW, period 1 $5/kW; flat demand
    # $2/kW every month. Wednesday 2026-04-15 (a weekday, not a holiday), 30-day April, 100 Wh per
    # interval (0.4 kW) except the interval 14:00-14:15 local with 1500 Wh (6 kW) and the interval
    # 22:00-22:15 with 800 Wh (3.2 kW).
    # Energy: 2880 intervals x 100 Wh = 288 kWh, + 1400 + 700 Wh = 290.1 kWh x 0.10 = 29.01.
    # Demand period 0: 6 kW x 15 = 90; period 1: 3.2 kW x 5 = 16; flat: 6 kW x 2 = 12. Total 147.01.
    doc = {
        "name": "demand test",
        "energyratestructure": [[{"rate": 0.10}]],
        "energyweekdayschedule": schedule(range(0), 0, 0),
        "energyweekendschedule": schedule(range(0), 0, 0),
        "demandratestructure": [[{"rate": 15}], [{"rate": 5}]],
        "demandweekdayschedule": schedule(range(12, 18), 0, 1),
        "demandweekendschedule": schedule(range(0), 0, 1),
        "flatdemandstructure": [[{"rate": 2}]],
        "flatdemandmonths": [0] * 12,
    }
    tariff = parse_tariff(doc)
    start, end = local(2026, 4, 1), local(2026, 5, 1)
    grid, energy = constant(start, end, 100)
    energy[grid == int(local(2026, 4, 15, 14, 15).timestamp())] = 1500
    energy[grid == int(local(2026, 4, 15, 22, 15).timestamp())] = 800
    bill = bill_meter(tariff, grid, energy, start=start, end=end, timezone=LA)
    assert bill.energy_wh == 290_100
    assert bill.max_demand_kw == Decimal(6)
    got = {(line.kind, line.period): (line.quantity, line.amount) for line in bill.lines}
    assert got[("energy", 0)] == (Decimal("290.1"), Decimal("29.01"))
    assert got[("demand", 0)] == (Decimal(6), Decimal(90))
    assert got[("demand", 1)] == (Decimal("3.2"), Decimal(16))
    assert got[("flat_demand", 0)] == (Decimal(6), Decimal(12))
    assert bill.total == Decimal("147.01")


def test_tiered_demand_charge():
    # Demand tiers: the first 5 kW at $10/kW, the rest at $20/kW. A 6 kW peak: 5 x 10 + 1 x 20 = 70.
    doc = tou_document(
        demandratestructure=[[{"max": 5, "rate": 10}, {"rate": 20}]],
        demandweekdayschedule=schedule(range(0), 0, 0),
        demandweekendschedule=schedule(range(0), 0, 0),
    )
    start, end = local(2026, 4, 1), local(2026, 5, 1)
    grid, energy = constant(start, end, 0)
    energy[100] = 1500
    bill = bill_meter(parse_tariff(doc), grid, energy, start=start, end=end, timezone=LA)
    demand = [line for line in bill.lines if line.kind == "demand"]
    assert [(d.quantity, d.amount) for d in demand] == [(Decimal(5), Decimal(50)), (Decimal(1), Decimal(20))]


def test_move_out_in_mid_month():
    # Tiered flat tariff (500 kWh at 0.12, 500 at 0.15, then 0.18; $10/month; minimum $15/month), July
    # 2026, 250 Wh per interval, move-out at local midnight starting 16 July: 15 days in service of 31.
    # Energy 15 x 24 kWh = 360 kWh. First tier prorated: 500 x 15/31 = 241.935483... -> 241.935 kWh
    # (whole Wh), so 118.065 kWh in tier 2. Charges: 241.935 x 0.12 = 29.0322; 118.065 x 0.15 =
    # 17.70975; customer charge 10 x 15/31 = 4.8387096...; minimum 15 x 15/31 = 7.26 < 51.58: no line.
    # Printed: 29.03 + 17.71 + 4.84 = 51.58.
    tariff = example_tariff("tiered-flat-example")
    start, end = local(2026, 7, 1), local(2026, 8, 1)
    grid, energy = constant(start, end, 250)
    tenant = Tenant("Unit 4B", move_out=local(2026, 7, 16))
    bill = bill_meter(tariff, grid, energy, start=start, end=end, timezone=LA, tenant=tenant)
    assert bill.account == "Unit 4B"
    assert bill.energy_wh == 360_000
    assert bill.service_end == local(2026, 7, 16).astimezone(UTC)
    assert bill.tier_limits_wh == (241_935, 483_871)  # 1000 x 15/31 = 483.870967... kWh
    assert bill.energy_by_period_tier_wh == ((241_935, 118_065, 0),)
    lines = amounts(bill)
    assert lines["Energy, tier 1"] == Decimal("29.0322")
    assert lines["Energy, tier 2"] == Decimal("17.70975")
    assert lines["Customer charge"] == Decimal(10) * Decimal(15) / Decimal(31)
    assert "minimum" not in {line.kind for line in bill.lines}
    assert bill.printed_total == Decimal("51.58")
    # The tenant who moves in that instant gets the other 16 days; the two cover the month exactly.
    other = bill_meter(
        tariff,
        grid,
        energy,
        start=start,
        end=end,
        timezone=LA,
        tenant=Tenant("Unit 4B-2", move_in=local(2026, 7, 16)),
    )
    assert other.energy_wh + bill.energy_wh == 744_000
    fixed = [line.quantity for b in (bill, other) for line in b.lines if line.kind == "fixed"]
    assert sum(fixed) == Decimal(1)


def test_minimum_charge_line_raises_a_small_bill():
    # Tiered flat tariff, July, 1 Wh per interval: 2.976 kWh x 0.12 = 0.35712 + 10 customer charge =
    # 10.35712 < 15 minimum: a minimum line of 4.64288 makes the bill 15.00.
    tariff = example_tariff("tiered-flat-example")
    start, end = local(2026, 7, 1), local(2026, 8, 1)
    grid, energy = constant(start, end, 1)
    bill = bill_meter(tariff, grid, energy, start=start, end=end, timezone=LA)
    assert amounts(bill)[bill.lines[-1].description] == Decimal("4.64288")
    assert bill.lines[-1].kind == "minimum"
    assert bill.total == Decimal(15)


def test_month_with_dst_change_and_holidays():
    # November 2026 in Los Angeles: DST ends Sunday 1 November (that day has 25 h, 100 intervals), so the
    # month has 30 x 96 + 4 = 2884 intervals; at 100 Wh each, 288.4 kWh. Weekday peak 4-9 pm at 0.30,
    # else 0.10; holidays (Veterans Day Wed 11th, Thanksgiving Thu 26th) on the weekend schedule.
    # Weekdays: 2-6, 9-13, 16-20, 23-27, 30 = 21, less the 2 holidays = 19 peak days x 5 h x 0.4 kWh =
    # 38 kWh at 0.30 = 11.40; the other 250.4 kWh at 0.10 = 25.04; total 36.44.
    doc = tou_document(
        meshmeter_holidays={
            "country": "US",
            "subdivision": "CA",
            "names": ["Veterans Day", "Thanksgiving Day"],
        }
    )
    start, end = local(2026, 11, 1), local(2026, 12, 1)
    grid, energy = constant(start, end, 100)
    assert grid.size == 2884
    bill = bill_meter(parse_tariff(doc), grid, energy, start=start, end=end, timezone=LA)
    assert bill.energy_by_period_wh == (38_000, 250_400)
    assert amounts(bill) == {"Energy, period 1": Decimal("11.4"), "Energy, period 2": Decimal("25.04")}
    assert bill.total == Decimal("36.44")


def test_spring_forward_day_bills_by_the_wall_clock():
    # 8 March 2026 (Sunday, weekend schedule) has 23 h; Monday 9 March is a normal weekday whose peak is
    # 16:00-21:00 PDT = 23:00-04:00 UTC. One day, 100 Wh per interval: 5 h x 0.4 kWh = 2 kWh peak.
    tariff = parse_tariff(tou_document())
    start, end = local(2026, 3, 8), local(2026, 3, 10)
    grid, energy = constant(start, end, 100)
    assert grid.size == 92 + 96
    bill = bill_meter(tariff, grid, energy, start=start, end=end, timezone=LA)
    assert bill.energy_by_period_wh == (2_000, 16_800)


def test_observed_holiday_is_billed_on_the_weekend_schedule():
    # Independence Day 2026 is a Saturday, observed Friday 3 July: no peak that Friday with observed
    # rules, a 5 h x 0.4 kWh = 2 kWh peak without them.
    start, end = local(2026, 7, 3), local(2026, 7, 4)
    grid, energy = constant(start, end, 100)
    rules = {"country": "US", "names": ["Independence Day"]}
    observed = parse_tariff(tou_document(meshmeter_holidays={**rules, "observed": True}))
    actual = parse_tariff(tou_document(meshmeter_holidays={**rules, "observed": False}))
    assert bill_meter(observed, grid, energy, start=start, end=end, timezone=LA).energy_by_period_wh[0] == 0
    assert bill_meter(actual, grid, energy, start=start, end=end, timezone=LA).energy_by_period_wh[0] == 2_000


def test_estimated_billed_and_flagged_failed_not_billed():
    # A day of 100 Wh intervals: 4 estimated (8, 9) are billed and flagged; 3 questionable (10) and 2
    # missing (absent) are not billed. Billed: (96 - 5) x 100 = 9100 Wh, of which 400 estimated.
    tariff = parse_tariff(tou_document())
    start, end = local(2026, 7, 1), local(2026, 7, 2)
    grid, energy = constant(start, end, 100)
    quality = np.zeros(grid.size, dtype=np.int64)
    quality[[0, 1]] = 8
    quality[[2, 3]] = 9
    quality[[10, 11, 12]] = 10
    keep = np.ones(grid.size, dtype=bool)
    keep[[20, 21]] = False
    bill = bill_meter(tariff, grid[keep], energy[keep], quality[keep], start=start, end=end, timezone=LA)
    assert bill.energy_wh == 9_100
    assert bill.estimated_wh == 400
    assert bill.estimated_intervals == 4
    assert bill.unbilled_intervals == 5
    assert bill.unbilled_wh == 300
    assert bill.estimated_share == Decimal(400) / Decimal(9100)


def test_interval_taken_at_its_start_instant():
    # The interval ending 16:00 lies in 15:00-16:00 (off-peak); the one ending 16:15 is the first of peak.
    tariff = parse_tariff(tou_document())
    start, end = local(2026, 7, 1, 15, 45), local(2026, 7, 1, 16, 15)
    grid, _ = constant(start, end, 0)
    bill = bill_meter(tariff, grid, np.array([1000, 10]), start=start, end=end, timezone=LA)
    assert bill.energy_by_period_wh == (10, 1000)


def test_many_meters_equal_one_at_a_time():
    tariff = example_tariff("e-tou-c-example")
    start, end = local(2026, 9, 20), local(2026, 10, 20)  # across the summer/winter change
    grid = interval_grid(start, end)
    rng = np.random.default_rng(5)
    energy = rng.integers(0, 600, size=(5, grid.size))
    quality = rng.choice([0, 0, 0, 8, 10, 14], size=(5, grid.size))
    tenants = [
        None,
        Tenant("a", move_in=local(2026, 9, 25, 6)),
        None,
        Tenant("c", move_out=local(2026, 10, 2)),
        None,
    ]
    many = bill_meters(
        tariff, energy, quality, start=start, end=end, timezone=LA, meters=list("abcde"), tenants=tenants
    )
    for i, b in enumerate(many):
        one = bill_meter(
            tariff,
            grid,
            energy[i],
            quality[i],
            start=start,
            end=end,
            timezone=LA,
            meter="abcde"[i],
            tenant=tenants[i],
        )
        assert b.lines == one.lines
        assert b.energy_wh == one.energy_wh


# -----------------------------------------------------------------------------------------------------
# Pure pieces and bad input
# -----------------------------------------------------------------------------------------------------


def test_tier_totals_cumulative_clip():
    got = tier_totals(np.array([0, 300, 700, 1500]), np.array([[500, 1000]] * 4))
    assert got.tolist() == [[0, 0, 0], [300, 0, 0], [500, 200, 0], [500, 500, 500]]


def test_split_tiers_rows_and_columns():
    period = np.array([[155_000, 589_000]])
    tiers = tier_totals(period.sum(axis=1), np.array([[418_500]]))
    got = split_tiers(period, tiers)
    assert got.tolist() == [[[87_188, 67_812], [331_313, 257_687]]]
    assert split_tiers(np.array([[0, 0]]), np.array([[0, 0]])).tolist() == [[[0, 0], [0, 0]]]


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"start": local(2026, 7, 1, 0, 7)}, "start"),
        ({"end": local(2026, 6, 1)}, "end must be after start"),
        ({"start": datetime(2026, 7, 1)}, "start"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"quality": [99] * 96}, "quality"),
        ({"energy_wh": [-1] * 96}, "energy_wh"),
        ({"energy_wh": [1.5] * 96}, "energy_wh"),
        ({"interval_end_s": "dup"}, "repeat"),
        ({"interval_end_s": "offgrid"}, "15-minute"),
        ({"tenant": Tenant("gone", move_out=local(2026, 6, 20))}, "not in service"),
    ],
)
def test_bad_input_is_refused(kwargs, needle):
    start, end = local(2026, 7, 1), local(2026, 7, 2)
    grid = interval_grid(start, end)
    args = {
        "interval_end_s": grid,
        "energy_wh": np.full(96, 10),
        "quality": None,
        "start": start,
        "end": end,
        "timezone": LA,
        "tenant": None,
    }
    args.update(kwargs)
    if isinstance(args["interval_end_s"], str) and args["interval_end_s"] == "dup":
        args["interval_end_s"] = np.r_[grid[:-1], grid[0]]
    elif isinstance(args["interval_end_s"], str):
        args["interval_end_s"] = grid + 60
    with pytest.raises(ValueError, match=needle):
        bill_meter(parse_tariff(tou_document()), **args)


def test_tenant_validation():
    with pytest.raises(ValueError, match="move_in"):
        Tenant("x", move_in=datetime(2026, 7, 1))
    with pytest.raises(ValueError, match="move_out must be after move_in"):
        Tenant("x", move_in=datetime(2026, 7, 2, tzinfo=UTC), move_out=datetime(2026, 7, 1, tzinfo=UTC))


def test_bill_meters_shape_checks():
    tariff = parse_tariff(tou_document())
    start = datetime(2026, 7, 1, tzinfo=UTC)
    end = start + timedelta(hours=1)
    with pytest.raises(ValueError, match="energy_wh must have shape"):
        bill_meters(
            tariff,
            np.zeros((2, 3), np.int64),
            np.zeros((2, 3), np.int64),
            start=start,
            end=end,
            timezone=LA,
            meters=["a", "b"],
        )
    with pytest.raises(ValueError, match="meters must name"):
        bill_meters(
            tariff,
            np.zeros((2, 4), np.int64),
            np.zeros((2, 4), np.int64),
            start=start,
            end=end,
            timezone=LA,
            meters=["a"],
        )
