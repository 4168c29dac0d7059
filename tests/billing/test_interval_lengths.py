"""Billing at a meter's own interval length (issue 11): 5, 15, 30 or 60-minute intervals, nothing invented."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest

from meshmeter.billing import (
    Tenant,
    align_intervals,
    average_load_profile,
    bill_meter,
    bill_meters,
    bill_to_html,
    bill_to_pdf,
    daily_consumption,
    example_tariff,
    interval_grid,
    local_calendar,
    maryland_bills,
    monthly_consumption,
    parse_tariff,
    production_report,
    verify_bill,
)
from meshmeter.billing.intervals_csv import parse_intervals_csv
from tests.billing.conftest import LA, local, schedule, tou_document

HOUR_S = 3600


def quarters(hourly_wh: np.ndarray) -> np.ndarray:
    """Each hour's energy split over its four 15-minute intervals, in whole Wh summing to the hour's."""
    out = np.repeat(hourly_wh // 4, 4).reshape(-1, 4)
    out[:, 0] += hourly_wh % 4
    return out.ravel()


def demand_tariff(**extra: object) -> dict[str, object]:
    """Energy $0.10/kWh at all hours; demand $10/kW, one period at all hours."""
    doc: dict[str, object] = {
        "name": "demand test",
        "energyratestructure": [[{"rate": 0.10}]],
        "energyweekdayschedule": schedule(range(0), 0, 0),
        "energyweekendschedule": schedule(range(0), 0, 0),
        "demandratestructure": [[{"rate": 10}]],
        "demandweekdayschedule": schedule(range(0), 0, 0),
        "demandweekendschedule": schedule(range(0), 0, 0),
    }
    doc.update(extra)
    return doc


# -----------------------------------------------------------------------------------------------------
# (1) The same energy, hourly and in 15-minute intervals, gives the same energy charges
# -----------------------------------------------------------------------------------------------------


def test_hourly_and_quarter_hourly_give_the_same_tou_energy_charges():
    # Test TOU tariff (tou_document): weekday peak 16:00-21:00 at $0.30/kWh, else $0.10/kWh; its periods
    # change only on the hour. Monday 6 and Tuesday 7 July 2026, Los Angeles; the hour starting at local
    # h carries 1000 + 100 h Wh (the 15-minute meter has a quarter of it in each quarter hour).
    # Each interval takes the period of its start: the hourly interval ending 16:00 (15:00-16:00) is
    # off-peak, the one ending 21:00 (20:00-21:00) is peak, as are the 15-minute ones within those hours.
    # A day: peak hours 16..20: 5 x 1000 + 100 x (16+17+18+19+20 = 90) = 14 000 Wh; all 24 hours:
    # 24 x 1000 + 100 x 276 = 51 600 Wh, so 37 600 Wh off-peak.
    # Two days: peak 28.000 kWh x 0.30 = 8.40; off-peak 75.200 kWh x 0.10 = 7.52; total 15.92 USD.
    tariff = parse_tariff(tou_document())
    start, end = local(2026, 7, 6), local(2026, 7, 8)
    hours = interval_grid(start, end, interval_s=HOUR_S)
    assert hours.size == 48
    local_hour = local_calendar(hours, LA, None, interval_s=HOUR_S).hour
    hourly = 1000 + 100 * local_hour
    bill_h = bill_meter(tariff, hours, hourly, start=start, end=end, timezone=LA, interval_s=HOUR_S)
    grid_q = interval_grid(start, end)
    bill_q = bill_meter(tariff, grid_q, quarters(hourly), start=start, end=end, timezone=LA)
    for bill in (bill_h, bill_q):
        assert bill.energy_by_period_wh == (28_000, 75_200)
        assert {line.description: line.amount for line in bill.lines} == {
            "Energy, period 1": Decimal("8.4"),
            "Energy, period 2": Decimal("7.52"),
        }
        assert bill.total == Decimal("15.92")
        assert bill.unbilled_intervals == 0
    assert bill_h.interval_s == HOUR_S
    assert bill_q.interval_s == 900
    assert len(bill_h.interval_columns[0]) == 48  # billed from its 48 hourly intervals, nothing invented
    assert len(bill_q.interval_columns[0]) == 192


def test_hourly_and_quarter_hourly_agree_on_the_shipped_tou_tariff_for_a_month():
    # The shipped E-TOU-C-shaped tariff (peak 4-9 pm, daily baseline tiers, $0.35/day minimum) over July
    # 2026: any hourly profile split in four gives the same lines, tiers, baseline and total.
    tariff = example_tariff("e-tou-c-example")
    start, end = local(2026, 7, 1), local(2026, 8, 1)
    hours = interval_grid(start, end, interval_s=HOUR_S)
    assert hours.size == 31 * 24
    hourly = np.random.default_rng(11).integers(0, 3_000, hours.size)
    bill_h = bill_meter(tariff, hours, hourly, start=start, end=end, timezone=LA, interval_s=HOUR_S)
    bill_q = bill_meter(
        tariff, interval_grid(start, end), quarters(hourly), start=start, end=end, timezone=LA
    )
    assert bill_h.lines == bill_q.lines
    assert bill_h.energy_by_period_tier_wh == bill_q.energy_by_period_tier_wh
    assert bill_h.tier_limits_wh == bill_q.tier_limits_wh == (418_500,)
    assert bill_h.total == bill_q.total
    assert bill_h.energy_wh == int(hourly.sum())


# -----------------------------------------------------------------------------------------------------
# (2) Hourly demand
# -----------------------------------------------------------------------------------------------------


def test_hourly_demand_is_the_peak_hours_energy_over_one_hour():
    # April 2026 (30 days, 720 hours), 400 Wh every hour except Wednesday 15 April 14:00-15:00 local,
    # 5400 Wh. Hourly demand = 5400 Wh / 1 h = 5.4 kW; at $10/kW, 54.00.
    # Energy: 719 x 400 + 5400 = 293 000 Wh = 293 kWh x 0.10 = 29.30. Total 83.30.
    # The same hour metered in quarters of 2000, 1400, 1000 and 1000 Wh has a 15-minute demand of
    # 2000 Wh / 0.25 h = 8 kW: the engine does not turn one into the other.
    tariff = parse_tariff(demand_tariff())
    start, end = local(2026, 4, 1), local(2026, 5, 1)
    hours = interval_grid(start, end, interval_s=HOUR_S)
    peak_end = int(local(2026, 4, 15, 15).timestamp())
    hourly = np.full(hours.size, 400, dtype=np.int64)
    hourly[hours == peak_end] = 5_400
    bill = bill_meter(tariff, hours, hourly, start=start, end=end, timezone=LA, interval_s=HOUR_S)
    assert bill.energy_wh == 293_000
    assert bill.max_demand_kw == Decimal("5.4")
    demand = [line for line in bill.lines if line.kind == "demand"]
    assert [(d.quantity, d.amount) for d in demand] == [(Decimal("5.4"), Decimal("54.0"))]
    assert demand[0].description == "Demand 2026-04 (hourly demand)"
    assert bill.total == Decimal("83.30")

    quarter = quarters(hourly)
    at = int(np.flatnonzero(interval_grid(start, end) == peak_end - 2700)[0])  # 14:00-14:15
    quarter[at : at + 4] = [2000, 1400, 1000, 1000]
    q_bill = bill_meter(tariff, interval_grid(start, end), quarter, start=start, end=end, timezone=LA)
    assert q_bill.energy_wh == bill.energy_wh
    assert q_bill.max_demand_kw == Decimal(8)
    assert [line.description for line in q_bill.lines if line.kind == "demand"] == ["Demand 2026-04"]

    # The bill says the demand is hourly, and reproduces from its document.
    assert "Maximum hourly demand" in bill_to_html(bill)
    assert "Maximum 15-min demand" in bill_to_html(q_bill)
    assert bill_to_pdf(bill).startswith(b"%PDF")
    doc = bill.to_dict()
    assert doc["inputs"]["interval_s"] == HOUR_S
    assert "interval_s" not in q_bill.to_dict()["inputs"]  # a 15-minute bill's document is as before
    assert verify_bill(doc).total == bill.total


@pytest.mark.parametrize(("interval_s", "kw"), [(300, "18"), (900, "6"), (1800, "3"), (3600, "1.5")])
def test_demand_is_interval_energy_over_its_length(interval_s, kw):
    # One interval of 1500 Wh in an otherwise empty day: 1.5 kWh / (interval_s / 3600 h).
    tariff = parse_tariff(demand_tariff())
    start, end = local(2026, 4, 15), local(2026, 4, 16)
    grid = interval_grid(start, end, interval_s=interval_s)
    energy = np.zeros(grid.size, dtype=np.int64)
    energy[grid.size // 2] = 1_500
    bill = bill_meter(tariff, grid, energy, start=start, end=end, timezone=LA, interval_s=interval_s)
    assert bill.max_demand_kw == Decimal(kw)
    assert verify_bill(bill.to_dict()).lines == bill.lines


def test_hourly_load_profile_is_an_hourly_demand():
    # Two days, 1000 Wh every hour but 2500 Wh in the 4 pm hour: 1 kW and 2.5 kW.
    hours = interval_grid(local(2026, 7, 1), local(2026, 7, 3), interval_s=HOUR_S)
    energy = np.full(hours.size, 1000)
    energy[local_calendar(hours, LA, None, interval_s=HOUR_S).hour == 16] = 2500
    kw = average_load_profile(hours, energy, timezone=LA, interval_s=HOUR_S)
    assert kw[16] == pytest.approx(2.5)
    assert kw[3] == pytest.approx(1.0)


# -----------------------------------------------------------------------------------------------------
# (3) DST days and proration at an hour
# -----------------------------------------------------------------------------------------------------


def test_dst_days_have_23_and_25_hourly_intervals():
    spring = interval_grid(local(2026, 3, 8), local(2026, 3, 9), interval_s=HOUR_S)
    fall = interval_grid(local(2026, 11, 1), local(2026, 11, 2), interval_s=HOUR_S)
    assert spring.size == 23
    assert fall.size == 25
    cal_s = local_calendar(spring, LA, None, interval_s=HOUR_S)
    cal_f = local_calendar(fall, LA, None, interval_s=HOUR_S)
    assert (cal_s.intervals_in_day == 23).all()
    assert (cal_f.intervals_in_day == 25).all()
    assert np.bincount(cal_s.hour, minlength=24)[2] == 0  # no 2 am on 8 March
    assert np.bincount(cal_f.hour, minlength=24)[1] == 2  # 1 am twice on 1 November
    assert (cal_s.intervals_in_month == 31 * 24 - 1).all()  # March: 743 hours
    assert (cal_f.intervals_in_month == 30 * 24 + 1).all()  # November: 721 hours
    assert cal_f.interval_s == HOUR_S
    # Energy per day counts the hours of the day it has.
    _, wh = daily_consumption(fall, np.full(fall.size, 10), timezone=LA, interval_s=HOUR_S)
    assert wh.tolist() == [250]
    months, mwh = monthly_consumption(spring, np.full(spring.size, 10), timezone=LA, interval_s=HOUR_S)
    assert (months, mwh.tolist()) == (["2026-03"], [230])


def test_month_proration_counts_hourly_intervals_across_dst():
    # Tiered flat tariff ($10/month customer charge; tiers up to 500 and 1000 kWh a month), March 2026 in
    # Los Angeles: 743 hours (8 March has 23). A tenant from local 1 March to local 9 March is in service
    # 7 x 24 + 23 = 191 hours: the month part is 191/743, the customer charge 10 x 191/743, the tier
    # limits 500 kWh x 191/743 = 128.53297 -> 128.533 kWh and 1000 kWh x 191/743 = 257.06595 -> 257.066
    # kWh (whole Wh). The 15-minute bill counts 764 of 2972 intervals: the same part. The whole month is
    # exactly one month.
    tariff = example_tariff("tiered-flat-example")
    start, end = local(2026, 3, 1), local(2026, 4, 1)
    hours = interval_grid(start, end, interval_s=HOUR_S)
    assert hours.size == 743
    hourly = np.full(hours.size, 1_000, dtype=np.int64)
    tenant = Tenant("Unit 1", move_out=local(2026, 3, 9))
    bill = bill_meter(
        tariff, hours, hourly, start=start, end=end, timezone=LA, tenant=tenant, interval_s=HOUR_S
    )
    fixed = [line for line in bill.lines if line.kind == "fixed"]
    assert [line.quantity for line in fixed] == [Decimal(191) / Decimal(743)]
    assert bill.energy_wh == 191_000
    assert bill.tier_limits_wh == (128_533, 257_066)
    assert bill.service_start == local(2026, 3, 1).astimezone(UTC)
    assert bill.service_end == local(2026, 3, 9).astimezone(UTC)
    quarter = bill_meter(
        tariff,
        interval_grid(start, end),
        quarters(hourly),
        start=start,
        end=end,
        timezone=LA,
        tenant=tenant,
    )
    assert quarter.lines == bill.lines
    whole = bill_meter(tariff, hours, hourly, start=start, end=end, timezone=LA, interval_s=HOUR_S)
    assert [line.quantity for line in whole.lines if line.kind == "fixed"] == [Decimal(1)]


def test_missing_hours_are_not_billed_and_nothing_is_invented():
    # A day of hourly data with two hours absent and one questionable: 21 hours billed, 3 not.
    tariff = parse_tariff(tou_document())
    start, end = local(2026, 7, 1), local(2026, 7, 2)
    hours = interval_grid(start, end, interval_s=HOUR_S)
    quality = np.zeros(hours.size, dtype=np.int64)
    quality[5] = 10
    keep = np.ones(hours.size, dtype=bool)
    keep[[7, 8]] = False
    energy = np.full(hours.size, 1_000, dtype=np.int64)
    bill = bill_meter(
        tariff, hours[keep], energy[keep], quality[keep], start=start, end=end, timezone=LA, interval_s=HOUR_S
    )
    assert bill.energy_wh == 21_000
    assert bill.unbilled_intervals == 3
    assert bill.unbilled_wh == 1_000
    aligned, q = align_intervals(hours, hours[keep], energy[keep], quality[keep], interval_s=HOUR_S)
    assert aligned.size == 24
    assert q[[7, 8]].tolist() == [14, 14]


def test_maryland_and_production_at_an_hour():
    start, end = local(2026, 7, 1), local(2026, 8, 1)
    hours = interval_grid(start, end, interval_s=HOUR_S)
    energy = np.stack([np.full(hours.size, 100), np.full(hours.size, 300)]).astype(np.int64)
    bills = maryland_bills(
        Decimal("100.00"),
        energy,
        np.zeros_like(energy),
        start=start,
        end=end,
        timezone=LA,
        meters=["A", "B"],
        admin_fee=Decimal(0),
        interval_s=HOUR_S,
    )
    assert [b.lines[0].amount for b in bills] == [Decimal("25.00"), Decimal("75.00")]
    assert verify_bill(bills[1].to_dict()).lines == bills[1].lines
    report = production_report(
        "PV",
        hours,
        energy[0],
        np.zeros(hours.size, dtype=np.int64),
        year=2026,
        month=7,
        timezone=LA,
        interval_s=HOUR_S,
    )
    assert report.interval_end_s.size == 744
    assert report.counted_wh == 74_400


def test_interval_csv_at_an_hour():
    text = "interval_end,energy_wh\n2026-07-01T08:00:00Z,1200\n2026-07-01T09:00:00Z,900\n"
    ends, energy, _ = parse_intervals_csv(text, interval_s=HOUR_S)
    assert energy.tolist() == [1200, 900]
    assert ends.tolist()[1] - ends.tolist()[0] == HOUR_S
    with pytest.raises(ValueError, match="line 2: interval_end must end a 60-minute interval"):
        parse_intervals_csv("interval_end,energy_wh\n2026-07-01T08:15:00Z,1\n", interval_s=HOUR_S)


# -----------------------------------------------------------------------------------------------------
# (4) Lengths other than 5, 15, 30 or 60 minutes are refused
# -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [600, 0, -900, 7200, 900.0, "900", True, None])
def test_bad_interval_length_is_refused(bad):
    start, end = local(2026, 7, 1), local(2026, 7, 2)
    tariff = parse_tariff(tou_document())
    grid = interval_grid(start, end)
    energy = np.zeros(grid.size, dtype=np.int64)
    needle = rf"interval_s must be one of 300, 900, 1800, 3600 seconds, got {bad!r}"
    calls = [
        lambda: interval_grid(start, end, interval_s=bad),
        lambda: local_calendar(grid, LA, None, interval_s=bad),
        lambda: align_intervals(grid, grid, energy, energy, interval_s=bad),
        lambda: bill_meter(tariff, grid, energy, start=start, end=end, timezone=LA, interval_s=bad),
        lambda: bill_meters(
            tariff,
            energy[None, :],
            energy[None, :],
            start=start,
            end=end,
            timezone=LA,
            meters=["m"],
            interval_s=bad,
        ),
        lambda: daily_consumption(grid, energy, timezone=LA, interval_s=bad),
        lambda: average_load_profile(grid, energy, timezone=LA, interval_s=bad),
        lambda: parse_intervals_csv("interval_end,energy_wh\n", interval_s=bad),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
            call()


def test_off_grid_input_at_an_hour_is_refused():
    start = datetime(2026, 7, 1, 7, 15, tzinfo=UTC)
    with pytest.raises(ValueError, match="start must be on the 60-minute grid"):
        interval_grid(start, local(2026, 7, 2), interval_s=HOUR_S)
    hours = interval_grid(local(2026, 7, 1), local(2026, 7, 2), interval_s=HOUR_S)
    with pytest.raises(ValueError, match="interval_end_s must be on the 60-minute grid"):
        align_intervals(hours, [hours[0] - 900], [1], [0], interval_s=HOUR_S)
    with pytest.raises(ValueError, match="grid_s must be a grid of 900 s intervals"):
        align_intervals(hours, hours, np.ones(24, dtype=np.int64), np.zeros(24, dtype=np.int64))
    with pytest.raises(ValueError, match="energy_wh must have shape"):
        bill_meters(
            parse_tariff(tou_document()),
            np.ones((1, 24), dtype=np.int64),
            np.zeros((1, 24), dtype=np.int64),
            start=local(2026, 7, 1),
            end=local(2026, 7, 2),
            timezone=LA,
            meters=["m"],
        )
