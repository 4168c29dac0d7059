"""Bills at real tariffs' structures, worked by hand (issue 13): each period's own tiers, demand windows,
ratchets, coincident demand, exports (net metering and net billing), minimum and annual minimum charges,
period names and what a printed bill shows.

Real documents come from ``tests/data/urdb/`` (``SOURCES.md``) and ``tests/billing/tariff_data/``
(``README.md``); the others are small tariffs written out here.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from meshmeter.billing import (
    bill_meter,
    bill_meters,
    bill_to_html,
    interval_grid,
    load_tariff,
    parse_tariff,
    shown_lines,
    shown_quantity,
    shown_rate,
)
from tests.billing.conftest import LA, local, schedule, tou_document

CORPUS = Path(__file__).resolve().parents[1] / "data" / "urdb"
DATA = Path(__file__).resolve().parent / "tariff_data"


def constant(start: datetime, end: datetime, wh: int) -> tuple[np.ndarray, np.ndarray]:
    grid = interval_grid(start, end)
    return grid, np.full(grid.size, wh, dtype=np.int64)


def by_kind(bill) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for line in bill.lines:
        out[line.kind] = out.get(line.kind, Decimal(0)) + line.amount
    return out


def at(grid: np.ndarray, when: datetime) -> int:
    """Grid position of the interval ending at ``when``."""
    return int(np.flatnonzero(grid == int(when.timestamp()))[0])


def flat_demand_document(**extra: object) -> dict[str, object]:
    """Energy $0.10/kWh at all hours, flat demand $10/kW every month."""
    doc: dict[str, object] = {
        "name": "flat demand test",
        "energyratestructure": [[{"rate": 0.10}]],
        "energyweekdayschedule": schedule(range(0), 0, 0),
        "energyweekendschedule": schedule(range(0), 0, 0),
        "flatdemandstructure": [[{"rate": 10}]],
        "flatdemandmonths": [0] * 12,
    }
    doc.update(extra)
    return doc


# -----------------------------------------------------------------------------------------------------
# Real tariffs
# -----------------------------------------------------------------------------------------------------


def test_fpl_rs1_fixedmonthlycharge_and_two_tiers():
    # FPL RS-1 as published (tests/data/urdb/fpl-rs-1.json): 1000 kWh a month at 0.07531 + 0.0119, the
    # rest at 0.09613 + 0.0119; fixedmonthlycharge 7.57. July 2026, 2 kW all month: 1488 kWh.
    # 1000 x 0.08721 = 87.21; 488 x 0.10803 = 52.71864; 7.57; total 147.49864, printed 147.50.
    t = load_tariff(CORPUS / "fpl-rs-1.json")
    start, end = local(2026, 7, 1), local(2026, 8, 1)
    grid, energy = constant(start, end, 500)
    bill = bill_meter(t, grid, energy, start=start, end=end, timezone=LA)
    assert [(line.description, line.quantity, line.amount) for line in bill.lines] == [
        ("Energy, tier 1", Decimal(1000), Decimal("87.21")),
        ("Energy, tier 2", Decimal(488), Decimal("52.71864")),
        ("Customer charge", Decimal(1), Decimal("7.57")),
    ]
    assert bill.printed_total == Decimal("147.50")


def test_periods_with_different_tier_counts_by_hand():
    # REopt.jl's multi-tier rate (tests/data/urdb/reopt-jl-multi-tier.json; SAM refuses it, as its
    # January demand periods have 1 and 2 tiers). July 2026 (Los Angeles): energy period 1, 20,000 kWh
    # a month at 0.078891, then 0.06; demand period 1, 100 kW at 24.368, then 17.031; 3.298 $/day.
    # 40 kW all month (10,000 Wh a quarter hour), one quarter hour at 150 kW (37,500 Wh):
    # energy 40 x 744 + 110 x 0.25 = 29,787.5 kWh: 20,000 x 0.078891 = 1577.82, 9,787.5 x 0.06 = 587.25;
    # demand 100 x 24.368 = 2436.8 and 50 x 17.031 = 851.55; fixed 31 x 3.298 = 102.238.
    t = load_tariff(CORPUS / "reopt-jl-multi-tier.json")
    start, end = local(2026, 7, 1), local(2026, 8, 1)
    grid, energy = constant(start, end, 10_000)
    energy[at(grid, local(2026, 7, 15, 12))] = 37_500
    bill = bill_meter(t, grid, energy, start=start, end=end, timezone=LA)
    assert bill.energy_by_period_tier_wh == ((0,), (20_000_000, 9_787_500), (0,))
    assert [(line.kind, line.quantity, line.amount) for line in bill.lines] == [
        ("energy", Decimal(20000), Decimal("1577.82")),
        ("energy", Decimal("9787.5"), Decimal("587.25")),
        ("demand", Decimal(100), Decimal("2436.8")),
        ("demand", Decimal(50), Decimal("851.55")),
        ("fixed", Decimal(31), Decimal("102.238")),
    ]
    assert bill.total == Decimal("5555.658")
    # January: energy period 2 (one tier), demand period 0 on weekdays ($0/kW) and 1 at weekends.
    start, end = local(2026, 1, 1), local(2026, 2, 1)
    grid, energy = constant(start, end, 10_000)
    january = bill_meter(t, grid, energy, start=start, end=end, timezone=LA)
    assert by_kind(january)["energy"] == Decimal("29760") * Decimal("0.061731")
    assert by_kind(january)["demand"] == Decimal(40) * Decimal("24.368")
    # The weekday demand line is at a zero rate: kept in the lines, not printed.
    zero = [line for line in january.lines if line.rate == 0]
    assert [line.description for line in zero] == ["Demand 2026-01, period 1"]
    assert zero[0] not in shown_lines(january)
    assert "Demand 2026-01, period 1<" not in bill_to_html(january)


def test_each_period_its_own_tiers_against_the_total():
    # Peak (weekdays 4-9 pm) one tier at 0.30; off-peak two tiers, 10 kWh a day at 0.08, then 0.12.
    # Wednesday 1 July 2026, 1 kW all day: peak 5 kWh, off-peak 19 kWh, total 24 kWh.
    # Off-peak's tiers on the total (as SAM's formula): its share 19/24 of min(24, 10) = 7.9167 kWh in
    # tier 1 -> 7.917 (largest remainder), and 19/24 of 14 = 11.0833 -> 11.083 in tier 2.
    # 5 x 0.30 = 1.5; 7.917 x 0.08 = 0.63336; 11.083 x 0.12 = 1.32996.
    doc = tou_document()
    doc["energyratestructure"] = [
        [{"rate": 0.30}],
        [{"max": 10, "rate": 0.08, "unit": "kWh daily"}, {"rate": 0.12, "unit": "kWh daily"}],
    ]
    start, end = local(2026, 7, 1), local(2026, 7, 2)
    grid, energy = constant(start, end, 250)
    bill = bill_meter(parse_tariff(doc), grid, energy, start=start, end=end, timezone=LA)
    assert bill.energy_by_period_tier_wh == ((5_000,), (7_917, 11_083))
    assert [line.amount for line in bill.lines] == [Decimal("1.5"), Decimal("0.63336"), Decimal("1.32996")]
    assert [line.description for line in bill.lines] == [
        "Energy, period 1",
        "Energy, period 2, baseline (tier 1)",
        "Energy, period 2, tier 2",
    ]


def test_coincident_demand_at_peco_gs_ht():
    # PECO GS-HT as published (tests/data/urdb/peco-gs-ht.json): energy 0.0015 + 0.0684; flat demand
    # 3.55 + 1.71 $/kW; coincident demand 0.79 $/kW, its schedule every hour (period 0): the meter's own
    # highest demand; fixedmonthlycharge 298.92. July 2026, 100 kW, one quarter hour at 300 kW:
    # 74,450 kWh x 0.0699 = 5204.055; 300 x 5.26 = 1578; 300 x 0.79 = 237; total 7317.975.
    t = load_tariff(CORPUS / "peco-gs-ht.json")
    start, end = local(2026, 7, 1), local(2026, 8, 1)
    grid, energy = constant(start, end, 25_000)
    energy[at(grid, local(2026, 7, 9, 15))] = 75_000
    bill = bill_meter(t, grid, energy, start=start, end=end, timezone=LA)
    assert by_kind(bill) == {
        "energy": Decimal("5204.055"),
        "flat_demand": Decimal("1578.00"),
        "coincident": Decimal("237.00"),
        "fixed": Decimal("298.92"),
    }
    assert bill.total == Decimal("7317.975")
    coincident = next(line for line in bill.lines if line.kind == "coincident")
    assert coincident.description == "Coincident demand 2026-07"


def test_coincident_demand_in_its_own_hours():
    # Coincident period 0 (1 $/kW) 2-6 pm every day, period 1 ($0) otherwise: the meter's highest demand in
    # 2-6 pm is billed, not its higher one at night.
    doc = tou_document(
        coincidentratestructure=[[{"rate": 1}], [{"rate": 0}]],
        coincidentrateschedule=schedule(range(14, 18), 0, 1),
        coincidentrateunit="kW",
    )
    start, end = local(2026, 7, 1), local(2026, 7, 2)
    grid, energy = constant(start, end, 0)
    energy[at(grid, local(2026, 7, 1, 15))] = 1_000  # 4 kW at 2:45-3 pm
    energy[at(grid, local(2026, 7, 1, 23))] = 2_000  # 8 kW at night
    bill = bill_meter(parse_tariff(doc), grid, energy, start=start, end=end, timezone=LA)
    lines = [line for line in bill.lines if line.kind == "coincident"]
    assert [(line.quantity, line.amount) for line in lines] == [
        (Decimal(4), Decimal(4) * Decimal(1) / 31),
        (Decimal(8), Decimal(0)),
    ]


# -----------------------------------------------------------------------------------------------------
# Demand windows
# -----------------------------------------------------------------------------------------------------


def demand_doc(window: int | None) -> dict[str, object]:
    doc = flat_demand_document()
    if window is not None:
        doc["demandwindow"] = window
    return doc


@pytest.mark.parametrize(
    ("window", "kw"),
    [
        # 2-3 pm of a day of zeros, quarter hours 1000, 3000, 500, 500 Wh:
        (None, Decimal(12)),  # 15-min: 3000 Wh / 0.25 h
        (15, Decimal(12)),
        (30, Decimal(8)),  # (1000 + 3000) Wh / 0.5 h, the window 2:00-2:30 pm
        (60, Decimal(5)),  # 5000 Wh / 1 h
    ],
)
def test_demand_window_from_quarter_hours(window, kw):
    start, end = local(2026, 7, 1), local(2026, 7, 2)
    grid, energy = constant(start, end, 0)
    first = at(grid, local(2026, 7, 1, 14, 15))
    energy[first : first + 4] = [1000, 3000, 500, 500]
    bill = bill_meter(parse_tariff(demand_doc(window)), grid, energy, start=start, end=end, timezone=LA)
    assert bill.max_demand_kw == kw
    line = next(line for line in bill.lines if line.kind == "flat_demand")
    assert line.quantity == kw
    label = {None: "", 15: "", 30: " (30-min demand)", 60: " (hourly demand)"}[window]
    assert line.description == f"Demand (flat) 2026-07{label}"
    if window == 60:
        assert "Maximum hourly demand" in bill_to_html(bill)


def test_demand_windows_are_fixed_clock_windows():
    # The two high quarter hours 2:15-2:30 and 2:30-2:45 pm fall in two 30-minute windows: 2:00-2:30
    # (0 + 3000 Wh) and 2:30-3:00 (3000 + 0 Wh): 6 kW, not the rolling 12 kW.
    start, end = local(2026, 7, 1), local(2026, 7, 2)
    grid, energy = constant(start, end, 0)
    energy[at(grid, local(2026, 7, 1, 14, 30))] = 3000
    energy[at(grid, local(2026, 7, 1, 14, 45))] = 3000
    bill = bill_meter(parse_tariff(demand_doc(30)), grid, energy, start=start, end=end, timezone=LA)
    assert bill.max_demand_kw == Decimal(6)


def test_a_window_shorter_than_or_not_a_multiple_of_the_interval_is_refused():
    start, end = local(2026, 7, 1), local(2026, 7, 2)
    hourly = interval_grid(start, end, interval_s=3600)
    with pytest.raises(ValueError, match=r"demandwindow of 15 min .*interval_s=3600"):
        bill_meter(parse_tariff(demand_doc(15)), hourly, np.zeros(24, np.int64), start=start, end=end,
                   timezone=LA, interval_s=3600)  # fmt: skip
    half = interval_grid(start, end, interval_s=1800)
    with pytest.raises(ValueError, match="demandwindow of 15 min"):
        bill_meter(parse_tariff(demand_doc(15)), half, np.zeros(48, np.int64), start=start, end=end,
                   timezone=LA, interval_s=1800)  # fmt: skip
    # 5-minute data in 15-minute windows: three intervals each.
    five = interval_grid(start, end, interval_s=300)
    energy = np.zeros(five.size, np.int64)
    energy[:3] = [100, 200, 300]
    bill = bill_meter(parse_tariff(demand_doc(15)), five, energy, start=start, end=end, timezone=LA,
                      interval_s=300)  # fmt: skip
    assert bill.max_demand_kw == Decimal("2.4")  # 600 Wh / 0.25 h


# -----------------------------------------------------------------------------------------------------
# Ratchets
# -----------------------------------------------------------------------------------------------------


def july_with_peak(wh: int = 2000) -> tuple[np.ndarray, np.ndarray, datetime, datetime]:
    start, end = local(2026, 7, 1), local(2026, 8, 1)
    grid, energy = constant(start, end, 0)
    energy[100] = wh  # 8 kW
    return grid, energy, start, end


def flat_line(bill):
    return next(line for line in bill.lines if line.kind == "flat_demand")


def test_demand_ratchet_percentage_raises_the_billing_demand():
    # 80 % ratchet every month; recorded peaks April 10, May 20, June 5 kW; July's own peak 8 kW:
    # billing demand 0.8 x 20 = 16 kW x $10 = 160.
    t = parse_tariff(flat_demand_document(demandratchetpercentage=[0.8] * 12))
    grid, energy, start, end = july_with_peak()
    bill = bill_meter(t, grid, energy, start=start, end=end, timezone=LA, prior_peaks_kw=[10, 20, 5])
    line = flat_line(bill)
    assert (line.quantity, line.amount) == (Decimal("16.0"), Decimal("160.0"))
    assert line.description == "Demand (flat) 2026-07 (ratchet: 80 % of 20 kW in 2026-05)"
    assert bill.max_demand_kw == Decimal(8)  # the recorded peak stays the meter's own
    # Unknown months (None) count for nothing; a higher own peak is billed as it is.
    bill = bill_meter(t, grid, energy, start=start, end=end, timezone=LA, prior_peaks_kw=[10, None, 5])
    assert flat_line(bill).quantity == Decimal(8)
    grid, energy, start, end = july_with_peak(7500)  # 30 kW
    bill = bill_meter(t, grid, energy, start=start, end=end, timezone=LA, prior_peaks_kw=[10, 20, 5])
    assert flat_line(bill).quantity == Decimal(30)


def test_lookback_range_and_lookback_months():
    grid, energy, start, end = july_with_peak()  # 8 kW
    history = [0, 30, 0, 0, 0, 0, 0, 0, 0, 10, 20, 5]  # July 2025 ... June 2026
    ranged = parse_tariff(flat_demand_document(lookbackpercent=0.5, lookbackrange=2))
    bill = bill_meter(ranged, grid, energy, start=start, end=end, timezone=LA, prior_peaks_kw=history)
    assert flat_line(bill).quantity == Decimal(10)  # 0.5 x max(May 20, June 5)
    months = [False] * 6 + [True, True, False, False, False, False]  # July and August set the floor
    seasonal = parse_tariff(flat_demand_document(lookbackpercent=0.6, lookbackmonths=months))
    bill = bill_meter(seasonal, grid, energy, start=start, end=end, timezone=LA, prior_peaks_kw=history)
    # 0.6 x 30 kW of August 2025 (the flagged months of the 11 before and this one; July 2025 is not)
    assert flat_line(bill).quantity == Decimal(18)
    assert "2025-08" in flat_line(bill).description


def test_a_ratchet_across_two_months_of_one_bill_and_without_history():
    # A bill of 15 July to 15 August: July's 8 kW peak sets August's floor at 80 %.
    t = parse_tariff(flat_demand_document(demandratchetpercentage=[0.8] * 12))
    start, end = local(2026, 7, 15), local(2026, 8, 15)
    grid, energy = constant(start, end, 0)
    energy[10] = 2000
    with pytest.warns(UserWarning, match="prior_peaks_kw was not given for meter"):
        bill = bill_meter(t, grid, energy, start=start, end=end, timezone=LA)
    flat = [line for line in bill.lines if line.kind == "flat_demand"]
    assert [line.quantity for line in flat] == [Decimal(8), Decimal("6.4")]


def test_a_ratchet_on_a_one_period_tou_demand():
    doc = tou_document(
        demandratestructure=[[{"rate": 10}]],
        demandweekdayschedule=schedule(range(0), 0, 0),
        demandweekendschedule=schedule(range(0), 0, 0),
        demandratchetpercentage=[0.5] * 12,
    )
    grid, energy, start, end = july_with_peak()
    bill = bill_meter(parse_tariff(doc), grid, energy, start=start, end=end, timezone=LA,
                      prior_peaks_kw=[40])  # fmt: skip
    demand = next(line for line in bill.lines if line.kind == "demand")
    assert demand.quantity == Decimal(20)


# -----------------------------------------------------------------------------------------------------
# Exports
# -----------------------------------------------------------------------------------------------------


def export_day(
    hours: range, wh_per_interval: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, datetime, datetime]:
    """Wednesday 1 July 2026: 250 Wh imported every quarter hour; exports in ``hours``."""
    start, end = local(2026, 7, 1), local(2026, 7, 2)
    grid, energy = constant(start, end, 250)
    exported = np.zeros(grid.size, dtype=np.int64)
    for h in hours:
        first = at(grid, local(2026, 7, 1, h, 15))
        exported[first : first + 4] = wh_per_interval
    return grid, energy, exported, start, end


def sell_document(**extra: object) -> dict[str, object]:
    doc = tou_document(**extra)
    doc["energyratestructure"] = [[{"rate": 0.30, "sell": 0.09}], [{"rate": 0.10, "sell": 0.04}]]
    return doc


def test_net_metering_nets_each_period():
    # Imports 1 kWh an hour: peak 5 kWh at 0.30, off-peak 19 kWh at 0.10. Exports 7.5 kWh an hour from 10
    # am to 2 pm, off-peak: 30 kWh. Off-peak nets to -11 kWh: nothing to pay, 11 kWh of excess credited at
    # its sell rate 0.04 = -0.44. Peak is not netted against off-peak: 1.5. Total 1.06.
    grid, energy, exported, start, end = export_day(range(10, 14), 1875)
    t = parse_tariff(sell_document(usenetmetering=True))
    bill = bill_meter(t, grid, energy, start=start, end=end, timezone=LA, export_wh=exported)
    assert bill.energy_by_period_wh == (5_000, 0)
    assert [(line.kind, line.quantity, line.rate, line.amount) for line in bill.lines] == [
        ("energy", Decimal(5), Decimal("0.3"), Decimal("1.5")),
        ("export", Decimal(11), Decimal("-0.04"), Decimal("-0.44")),
    ]
    assert bill.lines[1].description == "Net excess generation, period 2"
    assert bill.total == Decimal("1.06")
    assert bill.energy_wh == 5_000
    assert "export_wh" in bill.to_dict()["inputs"]


def test_net_billing_credits_every_export_at_sell():
    # The same day without netting: imports 24 kWh (1.5 + 1.9), exports 30 kWh x 0.04 = -1.2; 2.2.
    grid, energy, exported, start, end = export_day(range(10, 14), 1875)
    t = parse_tariff(sell_document(usenetmetering=False))
    bill = bill_meter(t, grid, energy, start=start, end=end, timezone=LA, export_wh=exported)
    assert by_kind(bill) == {"energy": Decimal("3.4"), "export": Decimal("-1.2")}
    assert bill.lines[-1].description == "Export credit, period 2"


def test_net_billing_hourly_nets_within_each_hour():
    # dgrules Net Billing Hourly: within 10 am-2 pm each hour imports 1 kWh and exports 7.5 kWh, so nets
    # to 6.5 kWh exported (26 kWh in all, x 0.04 = -1.04); off-peak imports are the other 15 hours (1.5),
    # peak 1.5. Total 1.96.
    grid, energy, exported, start, end = export_day(range(10, 14), 1875)
    t = parse_tariff(sell_document(dgrules="Net Billing Hourly"))
    bill = bill_meter(t, grid, energy, start=start, end=end, timezone=LA, export_wh=exported)
    assert bill.energy_by_period_wh == (5_000, 15_000)
    assert by_kind(bill) == {"energy": Decimal("3.0"), "export": Decimal("-1.04")}


def test_exports_without_a_sell_rate_are_shown_not_credited():
    grid, energy, exported, start, end = export_day(range(10, 14), 1875)
    t = parse_tariff(tou_document())  # no dgrules, no usenetmetering: net metering, as SAM assumes
    assert t.export_rule == "net metering"
    bill = bill_meter(t, grid, energy, start=start, end=end, timezone=LA, export_wh=exported)
    excess = bill.lines[-1]
    assert (excess.kind, excess.quantity, excess.amount) == ("export", Decimal(11), Decimal(0))
    assert excess.description == "Net excess generation, period 2 (no sell rate: not credited)"
    assert excess in shown_lines(bill)  # shown, though its rate is zero


def test_export_input_is_checked_and_buy_all_sell_all_refused():
    grid, energy, exported, start, end = export_day(range(10, 14), 1875)
    t = parse_tariff(tou_document())
    with pytest.raises(ValueError, match="export_wh must not be negative"):
        bill_meter(t, grid, energy, start=start, end=end, timezone=LA, export_wh=-exported)
    with pytest.raises(ValueError, match="exported energy goes in export_wh"):
        bill_meter(t, grid, energy - exported, start=start, end=end, timezone=LA)
    with pytest.raises(ValueError, match="Buy All Sell All"):
        bill_meter(parse_tariff(tou_document(dgrules="Buy All Sell All")), grid, energy, start=start,
                   end=end, timezone=LA, export_wh=exported)  # fmt: skip
    with pytest.raises(ValueError, match="export_wh must have the shape"):
        bill_meters(t, energy[None, :], np.zeros((1, grid.size), np.int64), start=start, end=end,
                    timezone=LA, meters=["a"], export_wh=exported)  # fmt: skip


def test_exports_of_zero_change_nothing():
    grid, energy, _, start, end = export_day(range(0), 0)
    t = parse_tariff(sell_document())
    plain = bill_meter(t, grid, energy, start=start, end=end, timezone=LA)
    zero = bill_meter(t, grid, energy, start=start, end=end, timezone=LA, export_wh=np.zeros(grid.size, int))
    assert plain.lines == zero.lines


# -----------------------------------------------------------------------------------------------------
# Minimum charges
# -----------------------------------------------------------------------------------------------------


def test_minmonthlycharge_tops_up_a_small_bill():
    # 1 Wh a quarter hour in July 2026: peak (weekdays 4-9 pm) 23 weekdays x 20 Wh = 460 Wh x 0.30 =
    # 0.138; off-peak 2516 Wh x 0.10 = 0.2516; with minmonthlycharge 5 a minimum line of 4.6104.
    doc = tou_document(minmonthlycharge=5)
    start, end = local(2026, 7, 1), local(2026, 8, 1)
    grid, energy = constant(start, end, 1)
    bill = bill_meter(parse_tariff(doc), grid, energy, start=start, end=end, timezone=LA)
    assert bill.lines[-1].amount == Decimal("4.6104")
    assert bill.total == Decimal(5)
    assert bill.lines[-1].description == "Minimum monthly charge (1 month at 5) less charges above"


def test_the_larger_of_mincharge_and_minmonthlycharge_applies():
    doc = tou_document(minmonthlycharge=5, mincharge=0.2, minchargeunits="$/day")
    start, end = local(2026, 7, 1), local(2026, 8, 1)
    grid, energy = constant(start, end, 1)
    bill = bill_meter(parse_tariff(doc), grid, energy, start=start, end=end, timezone=LA)
    assert bill.total == Decimal("6.2")  # 31 days x 0.2
    assert bill.lines[-1].description.startswith("Minimum charge (31 day at 0.2)")


def test_annual_minimum_on_the_bill_that_ends_the_year():
    # annualmincharge 100: the December bill raises the year's charges to 100; other months do not.
    t = parse_tariff(tou_document(annualmincharge=100))
    start, end = local(2026, 12, 1), local(2027, 1, 1)
    grid, energy = constant(start, end, 10)  # 29.76 kWh
    bill = bill_meter(t, grid, energy, start=start, end=end, timezone=LA, year_to_date_charges=Decimal("60"))
    before = sum((line.amount for line in bill.lines if line.kind == "energy"), Decimal(0))
    top_up = bill.lines[-1]
    assert top_up.kind == "minimum"
    assert top_up.amount == Decimal(100) - Decimal(60) - before
    assert top_up.description.startswith("Annual minimum charge (100 for 2026)")
    assert bill.to_dict()["inputs"]["year_to_date_charges"] == "60"
    # Enough charges in the year: no line.
    bill = bill_meter(t, grid, energy, start=start, end=end, timezone=LA, year_to_date_charges=Decimal(99))
    assert bill.lines[-1].kind == "energy"
    # A month that does not end the year: nothing to check, no warning.
    start, end = local(2026, 11, 1), local(2026, 12, 1)
    grid, energy = constant(start, end, 10)
    assert all(
        line.kind == "energy" for line in bill_meter(t, grid, energy, start=start, end=end, timezone=LA).lines
    )
    # The year's end without the year's charges: not applied, and the caller is told.
    start, end = local(2026, 12, 1), local(2027, 1, 1)
    grid, energy = constant(start, end, 10)
    with pytest.warns(UserWarning, match="annual minimum is not applied"):
        bill = bill_meter(t, grid, energy, start=start, end=end, timezone=LA)
    assert all(line.kind == "energy" for line in bill.lines)


# -----------------------------------------------------------------------------------------------------
# Names and what is printed
# -----------------------------------------------------------------------------------------------------


def test_period_names_on_the_lines():
    doc = tou_document(
        demandratestructure=[[{"rate": 10}], [{"rate": 2}]],
        demandweekdayschedule=schedule(range(16, 21), 0, 1),
        demandweekendschedule=schedule(range(0), 0, 1),
    )
    t = parse_tariff(doc, period_names={"energy": {"0": "peak", "1": "off-peak"}, "demand": {"0": "on-peak"}})
    start, end = local(2026, 7, 1), local(2026, 7, 2)
    grid, energy = constant(start, end, 250)
    bill = bill_meter(t, grid, energy, start=start, end=end, timezone=LA)
    assert [line.description for line in bill.lines] == [
        "Energy, peak",
        "Energy, off-peak",
        "Demand 2026-07, on-peak",
        "Demand 2026-07, period 2",
    ]


def test_printed_quantities_are_readable_and_amounts_exact():
    # A bill of 1 July to 2 August: the customer charge is 1 + 1/31 months, printed 1.0323; its
    # amount stays exact. A $/year charge's monthly rate (120/12... 100/12 here) is printed to 6 places.
    doc = tou_document(fixedchargefirstmeter=100, fixedchargeunits="$/year")
    start, end = local(2026, 7, 1), local(2026, 8, 2)
    grid, energy = constant(start, end, 250)
    bill = bill_meter(parse_tariff(doc), grid, energy, start=start, end=end, timezone=LA)
    fixed = next(line for line in bill.lines if line.kind == "fixed")
    assert fixed.quantity == Decimal(1) + Decimal(1) / Decimal(31)
    assert shown_quantity(fixed) == "1.0323"
    assert shown_rate(fixed) == "8.333333"
    assert fixed.amount == fixed.quantity * (Decimal(100) / 12)
    assert ">1.0323<" in bill_to_html(bill)
    energy_line = bill.lines[0]
    assert shown_quantity(energy_line) == f"{energy_line.quantity.normalize():f}"


# -----------------------------------------------------------------------------------------------------
# Many meters at once equal one at a time
# -----------------------------------------------------------------------------------------------------


def test_many_meters_equal_one_at_a_time_with_the_new_structures():
    doc = sell_document(
        demandwindow=30,
        flatdemandstructure=[[{"max": 5, "rate": 10}, {"rate": 12}]],
        flatdemandmonths=[0] * 12,
        demandratchetpercentage=[0.7] * 12,
        coincidentratestructure=[[{"rate": 1}], [{"rate": 0.5}]],
        coincidentrateschedule=schedule(range(14, 18), 0, 1),
        dgrules="Net Billing Hourly",
        annualmincharge=500,
    )
    doc["energyratestructure"][1] = [
        {"max": 300, "rate": 0.08, "sell": 0.03},
        {"rate": 0.12, "sell": 0.04},
    ]
    t = parse_tariff(doc)
    start, end = local(2026, 12, 10), local(2027, 1, 10)
    grid = interval_grid(start, end)
    rng = np.random.default_rng(13)
    energy = rng.integers(0, 900, size=(4, grid.size))
    exported = rng.integers(0, 400, size=(4, grid.size))
    quality = rng.choice([0, 0, 0, 8, 10, 14], size=(4, grid.size))
    peaks = [[3, 9, None], None, [30], [1, 2, 3, 4]]
    ytd = [Decimal(100), Decimal(0), None, Decimal(700)]
    with (
        pytest.warns(UserWarning, match="year_to_date_charges was not given for c"),
        pytest.warns(UserWarning, match="prior_peaks_kw was not given for b"),
    ):
        many = bill_meters(t, energy, quality, start=start, end=end, timezone=LA, meters=list("abcd"),
                           export_wh=exported, prior_peaks_kw=peaks, year_to_date_charges=ytd)  # fmt: skip
    for i, b in enumerate(many):
        warned = pytest.warns(UserWarning, match="not given") if None in (peaks[i], ytd[i]) else _no_warning()
        with warned:
            one = bill_meter(t, grid, energy[i], quality[i], start=start, end=end, timezone=LA,
                             meter="abcd"[i], export_wh=exported[i], prior_peaks_kw=peaks[i],
                             year_to_date_charges=ytd[i])  # fmt: skip
        assert b.lines == one.lines
        assert b.energy_by_period_tier_wh == one.energy_by_period_tier_wh
    kinds = {line.kind for b in many for line in b.lines}
    assert {"energy", "export", "flat_demand", "coincident"} <= kinds


class _no_warning:  # noqa: N801 - used as a context manager beside pytest.warns
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_bills_of_tariffs_read_before_are_unchanged():
    # The shipped example, July 2026, 1 kW: the lines worked by hand in test_engine.py, and the bill's
    # document has no new inputs (a stored bill re-bills to the letter).
    from meshmeter.billing import example_tariff

    start, end = local(2026, 7, 1), local(2026, 8, 1)
    grid, energy = constant(start, end, 250)
    bill = bill_meter(example_tariff("e-tou-c-example"), grid, energy, start=start, end=end, timezone=LA)
    assert bill.total == Decimal("273.88491")
    inputs = bill.to_dict()["inputs"]
    assert not {"export_wh", "prior_peaks_kw", "year_to_date_charges"} & set(inputs)
    assert json.loads(json.dumps(inputs))["tariff"] == example_tariff("e-tou-c-example").document
