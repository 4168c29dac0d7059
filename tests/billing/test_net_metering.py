"""Credit carried between a meter's bills: net metering kWh per period, net billing dollars, the true-up.

Bills worked by hand on small tariffs (``conftest.tou_document``: weekday peak 4-9 pm at $0.30/kWh,
period 1; everything else $0.10/kWh, period 2) and the shipped E-TOU-C-shaped example; the same rules are
checked against NREL SAM on real URDB tariffs in ``test_urdb_sam.py``.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import numpy as np
import pytest

from meshmeter.billing import (
    bill_meter,
    bill_meters,
    bill_to_html,
    bills_to_csv,
    example_tariff,
    interval_grid,
    parse_tariff,
    rebill,
    shown_lines,
    verify_bill,
)
from meshmeter.billing.engine import credit_targets
from meshmeter.errors import BillMismatchError
from tests.billing.conftest import LA, local, tou_document

NET_BILLING = tou_document(
    dgrules="Net Billing Instantaneous",
    energyratestructure=[[{"rate": 0.30, "sell": 0.05}], [{"rate": 0.10, "sell": 0.05}]],
    fixedchargefirstmeter=10,
    fixedchargeunits="$/month",
    mincharge=12,
    minchargeunits="$/month",
)
"""tou_document billed by net billing: exports at $0.05/kWh, a $10 customer charge, a $12 minimum."""


class Meter:
    """A month of a bidirectional meter's two registers, filled interval by interval (local times)."""

    def __init__(self, year: int, month: int) -> None:
        self.start = local(year, month, 1)
        self.end = local(year + month // 12, month % 12 + 1, 1)
        self.grid = interval_grid(self.start, self.end)
        self.imported = np.zeros(self.grid.size, dtype=np.int64)
        self.exported = np.zeros(self.grid.size, dtype=np.int64)

    def add(self, first_end: datetime, count: int, *, imported: int = 0, exported: int = 0) -> Meter:
        """``count`` quarter hours from the one ending at ``first_end``, each with these Wh."""
        i = int(np.searchsorted(self.grid, int(first_end.timestamp())))
        self.imported[i : i + count] += imported
        self.exported[i : i + count] += exported
        return self

    def bill(self, tariff, **kwargs):
        return bill_meter(
            tariff,
            self.grid,
            self.imported,
            start=self.start,
            end=self.end,
            timezone=LA,
            meter="MM1",
            export_wh=self.exported,
            **kwargs,
        )


def rows(bill) -> list[tuple[str, str, Decimal, Decimal, Decimal]]:
    return [(line.kind, line.description, line.quantity, line.rate, line.amount) for line in bill.lines]


def july() -> Meter:
    # Wednesday 1 July 2026: 1 kWh imported on peak (10 quarter hours of 100 Wh from 4 pm), 5 kWh exported
    # off peak (20 quarter hours of 250 Wh from 10 am); Thursday 2 July 2 kWh imported off peak (8 x 250 Wh
    # after midnight).
    return (
        Meter(2026, 7)
        .add(local(2026, 7, 1, 16, 15), 10, imported=100)
        .add(local(2026, 7, 1, 10, 15), 20, exported=250)
        .add(local(2026, 7, 2, 0, 15), 8, imported=250)
    )


# -----------------------------------------------------------------------------------------------------
# Net metering: kWh per period
# -----------------------------------------------------------------------------------------------------


def test_net_metering_credit_nets_in_its_period_and_the_excess_is_carried():
    # Off peak: 2 kWh imported - 5 kWh exported - 1.5 kWh carried in from June = -4.5 kWh: nothing billed
    # there, 4.5 kWh carried to August. Peak: 1 kWh x $0.30. June's off-peak credit lands in July's off
    # peak (the period of the same time of day: both months' schedules have period 2 at midnight).
    bill = july().bill(parse_tariff(tou_document()), credit_in_wh=[0, 1500])
    assert bill.energy_by_period_wh == (1000, 0)
    assert rows(bill) == [
        ("energy", "Energy, period 1", Decimal(1), Decimal("0.3"), Decimal("0.3")),
        (
            "export",
            "Net metering credit from the last bill, period 2",
            Decimal("1.5"),
            Decimal(0),
            Decimal(0),
        ),
        (
            "export",
            "Net excess generation, period 2, carried to the next bill",
            Decimal("4.5"),
            Decimal(0),
            Decimal(0),
        ),
    ]
    assert bill.credit_out_wh == (0, 4500)
    assert bill.credit_out is None
    assert bill.total == Decimal("0.3")
    # Without carry-over (no credit_in_wh) the excess is credited within the bill at the period's sell
    # rate (none here: shown, not credited), and nothing is carried.
    alone = july().bill(parse_tariff(tou_document()))
    assert alone.credit_out_wh is None
    assert [r[1] for r in rows(alone)][-1] == "Net excess generation, period 2 (no sell rate: not credited)"


def test_the_next_bill_takes_the_credit_and_the_true_up_settles_what_is_left():
    tariff = parse_tariff(tou_document())
    carried = july().bill(tariff, credit_in_wh=[0, 0]).credit_out_wh
    assert carried == (0, 3000)  # 2 kWh imported - 5 kWh exported off peak
    # August: 6 kWh imported off peak on Monday 3 August (24 x 250 Wh after midnight): 6 - 3 = 3 kWh billed.
    august = Meter(2026, 8).add(local(2026, 8, 3, 0, 15), 24, imported=250)
    bill = august.bill(tariff, credit_in_wh=list(carried))
    assert bill.energy_by_period_wh == (0, 3000)
    assert bill.total == Decimal("0.3")
    assert bill.credit_out_wh == (0, 0)
    # August as the true-up bill with 1 kWh imported: 2 kWh left, paid at $0.04/kWh after the charges.
    small = Meter(2026, 8).add(local(2026, 8, 3, 0, 15), 4, imported=250)
    settled = small.bill(tariff, credit_in_wh=list(carried), true_up=True, true_up_sell_rate=Decimal("0.04"))
    assert rows(settled)[-1] == (
        "true_up",
        "True-up: net excess generation left at the end of the year",
        Decimal(2),
        Decimal("-0.04"),
        Decimal("-0.08"),
    )
    assert settled.credit_out_wh == (0, 0)
    assert settled.total == Decimal("-0.08")
    # At a true-up rate of 0 the credit expires: the line says so and stays on the printed bill.
    expired = small.bill(tariff, credit_in_wh=list(carried), true_up=True, true_up_sell_rate=Decimal(0))
    line = expired.lines[-1]
    assert line.description.endswith("(no true-up rate: not paid)")
    assert line.amount == 0
    assert line in shown_lines(expired)


def test_credit_moves_to_the_period_of_the_same_time_of_day_across_a_season():
    # The E-TOU-C-shaped example: summer (June-September) peak 0 and off-peak 1, winter peak 2 and
    # off-peak 3. September's off-peak credit (3 kWh) goes to October's off peak (period 4 on the bill):
    # 2 kWh imported off peak on 1 October, 1 kWh carried on, no energy billed; the minimum charge
    # ($0.35 a day x 31) is the bill.
    tariff = example_tariff("e-tou-c-example")
    assert credit_targets(tariff, 9, 10).tolist() == [2, 3, 2, 3]
    october = Meter(2026, 10).add(local(2026, 10, 1, 0, 15), 8, imported=250)
    bill = october.bill(tariff, credit_in_wh=[0, 3000, 0, 0])
    assert bill.energy_wh == 0
    assert bill.credit_out_wh == (0, 0, 0, 1000)
    assert [r[1] for r in rows(bill)][:2] == [
        "Net metering credit from the last bill, period 4",
        "Net excess generation, period 4, carried to the next bill",
    ]
    assert bill.total == Decimal("0.35") * 31
    # Back to summer in June (from May, winter): winter peak credit to summer peak, off peak to off peak; a
    # period May does not use (summer's) is found in the months before it, the same way.
    assert credit_targets(tariff, 5, 6).tolist() == [0, 1, 0, 1]


def test_credit_targets_follow_sam_hour_order_and_keep_weekend_only_periods():
    # Month 1's weekday schedule has period 0 at hours 0-4 and 11-15; month 2 has period 2 at 0-4 and 3 at
    # 11-15: SAM looks at 12 am first, so period 0's credit goes to 2. Period 1 is only on weekends: SAM's
    # weekday-only look would drop its credit; meshmeter finds it on the weekend schedule.
    weekday = [[1] * 24 for _ in range(12)]
    weekday[0] = [0 if h < 5 or 11 <= h < 16 else 4 for h in range(24)]
    weekday[1] = [2 if h < 5 else 3 if 11 <= h < 16 else 4 for h in range(24)]
    for m in range(12):
        if m > 1:
            weekday[m] = [4] * 24
    weekend = [[1] * 24 for _ in range(12)]
    tariff = parse_tariff(
        {
            "energyratestructure": [[{"rate": 0.1}] for _ in range(5)],
            "energyweekdayschedule": weekday,
            "energyweekendschedule": weekend,
        }
    )
    assert credit_targets(tariff, 1, 2).tolist() == [2, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="to_month must be a calendar month 1 to 12, got 13"):
        credit_targets(tariff, 1, 13)


def test_credit_applies_without_exports_in_the_bill():
    # A month with no export register given (export_wh None): the credit still nets the imports.
    meter = Meter(2026, 8).add(local(2026, 8, 3, 0, 15), 4, imported=250)
    bill = bill_meter(
        parse_tariff(tou_document()),
        meter.grid,
        meter.imported,
        start=meter.start,
        end=meter.end,
        timezone=LA,
        credit_in_wh=[0, 400],
    )
    assert bill.energy_by_period_wh == (0, 600)
    assert bill.credit_out_wh == (0, 0)


# -----------------------------------------------------------------------------------------------------
# Net billing: dollars
# -----------------------------------------------------------------------------------------------------


def net_billing_july() -> Meter:
    # 2 kWh imported off peak ($0.20), 10 kWh exported off peak (-$0.50 at $0.05/kWh).
    return (
        Meter(2026, 7)
        .add(local(2026, 7, 2, 0, 15), 8, imported=250)
        .add(local(2026, 7, 1, 10, 15), 20, exported=500)
    )


def test_net_billing_credit_beyond_the_energy_charges_is_carried_in_dollars():
    # 0.20 - 0.50 - 0.10 carried in = -0.40: the energy part of the bill is 0 and $0.40 is carried out;
    # the customer charge is not offset by it ($10), and the $12 minimum tops the bill up by $2.
    bill = net_billing_july().bill(parse_tariff(NET_BILLING), credit_in=Decimal("0.10"))
    assert [(r[0], r[1], r[4]) for r in rows(bill)] == [
        ("energy", "Energy, period 2", Decimal("0.2")),
        ("export", "Export credit, period 2", Decimal("-0.50")),
        ("export", "Net billing credit from the last bill", Decimal("-0.10")),
        ("export", "Net billing credit carried to the next bill", Decimal("0.40")),
        ("fixed", "Customer charge", Decimal(10)),
        ("minimum", "Minimum charge (1 month at 12) less charges above", Decimal("2.00")),
    ]
    assert bill.credit_out == Decimal("0.40")
    assert bill.credit_out_wh is None
    assert bill.total == Decimal(12)
    # The true-up bill pays the $0.40 left, after the minimum (as SAM does).
    settled = net_billing_july().bill(parse_tariff(NET_BILLING), credit_in=Decimal("0.10"), true_up=True)
    assert rows(settled)[-1][:2] == (
        "true_up",
        "True-up: net billing credit left at the end of the year, paid",
    )
    assert settled.total == Decimal("11.60")
    assert settled.credit_out == 0


def test_net_billing_credit_smaller_than_the_charges_is_used_up():
    # 10 kWh imported off peak ($1.00), 2 kWh exported (-$0.10), $0.50 carried in: $0.40 of energy, none out.
    meter = (
        Meter(2026, 7)
        .add(local(2026, 7, 2, 0, 15), 40, imported=250)
        .add(local(2026, 7, 1, 10, 15), 4, exported=500)
    )
    bill = meter.bill(parse_tariff(NET_BILLING), credit_in=Decimal("0.50"))
    energy = sum(line.amount for line in bill.lines if line.kind in ("energy", "export"))
    assert energy == Decimal("0.40")
    assert bill.credit_out == 0


# -----------------------------------------------------------------------------------------------------
# Many meters at once, reproduction, the printed bill
# -----------------------------------------------------------------------------------------------------


def test_many_meters_with_and_without_carry_over_equal_one_by_one():
    tariff = parse_tariff(tou_document())
    m = july()
    energy = np.stack([m.imported] * 3)
    exported = np.stack([m.exported] * 3)
    credits = [None, [0, 0], [0, 1500]]
    bills = bill_meters(
        tariff,
        energy,
        np.zeros_like(energy),
        start=m.start,
        end=m.end,
        timezone=LA,
        meters=["A", "B", "C"],
        export_wh=exported,
        credit_in_wh=credits,
        true_up=[False, False, True],
        true_up_sell_rate=Decimal("0.04"),
    )
    for bill, credit, settle in zip(bills, credits, (False, False, True), strict=True):
        alone = m.bill(tariff, credit_in_wh=credit, true_up=settle, true_up_sell_rate=Decimal("0.04"))
        assert rows(bill) == rows(alone)
        assert bill.credit_out_wh == alone.credit_out_wh
    assert [b.credit_out_wh for b in bills] == [None, (0, 3000), (0, 0)]


def test_carried_credit_and_true_up_are_recorded_and_reproduced():
    nem = july().bill(
        parse_tariff(tou_document()), credit_in_wh=[0, 1500], true_up=True, true_up_sell_rate=Decimal("0.04")
    )
    nb = net_billing_july().bill(parse_tariff(NET_BILLING), credit_in=Decimal("0.10"))
    for bill in (nem, nb):
        document = json.loads(json.dumps(bill.to_dict()))
        assert verify_bill(document).total == bill.total
        assert rebill(json.dumps(document)).credit_out_wh == bill.credit_out_wh
    doc = nem.to_dict()
    assert doc["inputs"]["credit_in_wh"] == [0, 1500]
    assert (doc["inputs"]["true_up"], doc["inputs"]["true_up_sell_rate"]) == (True, "0.04")
    assert doc["credit_out_wh"] == [0, 0]
    assert nb.to_dict()["credit_out"] == "0.40"
    assert nb.to_dict()["inputs"]["credit_in"] == "0.10"
    # A bill without carry-over has none of these members: its document is what it always was.
    plain = july().bill(parse_tariff(tou_document())).to_dict()
    assert not {"credit_out_wh", "credit_out"} & plain.keys()
    assert not {"credit_in_wh", "credit_in", "true_up", "true_up_sell_rate"} & plain["inputs"].keys()
    # A changed credit is caught: the one carried out, and the one carried in (its lines differ).
    out = nb.to_dict()
    out["credit_out"] = "0.41"
    with pytest.raises(BillMismatchError, match=r"credit_out: the bill says '0\.41', its inputs give"):
        verify_bill(out)
    carried_in = july().bill(parse_tariff(tou_document()), credit_in_wh=[0, 1500]).to_dict()
    carried_in["inputs"]["credit_in_wh"] = [0, 1000]
    with pytest.raises(BillMismatchError, match=r"credit_out_wh: the bill says \[0, 4500\], its inputs"):
        verify_bill(carried_in)


def test_the_printed_bill_says_what_is_carried_in_words():
    bill = july().bill(parse_tariff(tou_document()), credit_in_wh=[0, 1500])
    html = bill_to_html(bill)
    assert "Net metering credit from the last bill, period 2" in html
    assert "Net excess generation, period 2, carried to the next bill" in html
    assert ">4.500<" in html  # kWh as people read them, to the Wh
    assert ">1.500<" in html
    csv_text = bills_to_csv([bill])
    assert "carried to the next bill" in csv_text


# -----------------------------------------------------------------------------------------------------
# Bad input
# -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "kwargs", "message"),
    [
        (
            tou_document(),
            {"credit_in_wh": [0, -5]},
            "credit_in_wh of MM1, period 2: must not be negative, got -5",
        ),
        (
            tou_document(),
            {"credit_in_wh": [0, 1.5]},
            r"credit_in_wh of MM1, period 2: must be whole Wh, got 1\.5",
        ),
        (tou_document(), {"credit_in_wh": [0]}, r"must give one credit per energy period \(2\), got \[0\]"),
        (tou_document(), {"credit_in": Decimal(1)}, "credit_in: the tariff nets energy"),
        (NET_BILLING, {"credit_in_wh": [0, 0]}, "credit_in_wh: the tariff bills exports by net billing"),
        (NET_BILLING, {"credit_in": Decimal(-1)}, "credit_in of MM1 must not be negative, got -1"),
        (NET_BILLING, {"credit_in": 0.5}, "credit_in of MM1 must be Decimal USD, got 0.5"),
        (tou_document(dgrules="Buy All Sell All"), {"credit_in_wh": [0, 0]}, "buys all load and sells all"),
        (
            tou_document(),
            {"true_up": True, "true_up_sell_rate": Decimal(0)},
            r"credit_in_wh \(zeros for none\)",
        ),
        (tou_document(), {"credit_in_wh": [0, 0], "true_up": True}, "true_up_sell_rate, which was not given"),
        (
            tou_document(),
            {"credit_in_wh": [0, 0], "true_up": True, "true_up_sell_rate": Decimal("-0.01")},
            "true_up_sell_rate must not be negative, got -0.01",
        ),
        (NET_BILLING, {"credit_in": Decimal(0), "true_up_sell_rate": Decimal("0.04")}, "at no rate per kWh"),
    ],
)
def test_bad_carry_over_is_refused(document, kwargs, message):
    meter = Meter(2026, 8).add(local(2026, 8, 3, 0, 15), 4, imported=250, exported=0)
    if "Buy All" in str(document.get("dgrules")):
        meter.exported[:] = 0
    with pytest.raises(ValueError, match=message):
        meter.bill(parse_tariff(document), **kwargs)


def test_every_problem_is_named_at_once():
    tariff = parse_tariff(
        tou_document(
            energyratestructure=[[{"rate": 0.30}], [{"rate": 0.10}], [{"rate": 0.5}]],  # period 3 unused
        )
    )
    meter = Meter(2026, 8)
    with pytest.raises(ValueError, match="credit_in_wh of MM1") as info:
        meter.bill(tariff, credit_in_wh=[-1, 0, 700], true_up=True)
    text = str(info.value)
    assert "period 1: must not be negative, got -1" in text
    assert "period 3: no schedule of the tariff uses the period, so it earned no credit, got 700" in text
    assert "true_up_sell_rate, which was not given" in text


def test_many_meters_need_one_entry_each():
    m = july()
    energy = np.stack([m.imported] * 2)
    common = {"start": m.start, "end": m.end, "timezone": LA, "meters": ["A", "B"]}
    tariff = parse_tariff(tou_document())
    with pytest.raises(ValueError, match=r"credit_in_wh must have one entry per meter \(2\), got 1"):
        bill_meters(tariff, energy, np.zeros_like(energy), credit_in_wh=[[0, 0]], **common)
    with pytest.raises(ValueError, match="true_up of B must be true or false, got 'yes'"):
        bill_meters(
            tariff,
            energy,
            np.zeros_like(energy),
            credit_in_wh=[[0, 0], [0, 0]],
            true_up=[False, "yes"],  # type: ignore[list-item]
            **common,
        )
