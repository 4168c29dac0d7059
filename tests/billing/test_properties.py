"""Hypothesis properties of the engine and the allocation."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from meshmeter.billing import (
    allocate_cents,
    bill_meter,
    example_tariff,
    interval_grid,
    maryland_bills,
    parse_tariff,
)
from tests.billing.conftest import LA, local, tou_document

E_TOU_C = example_tariff("e-tou-c-example")
FLAT_TOU = parse_tariff(tou_document(meshmeter_holidays={"country": "US", "subdivision": "CA"}))


@st.composite
def month_of_intervals(draw):
    year = draw(st.integers(2024, 2027))
    month = draw(st.integers(1, 12))
    start = local(year, month, 1)
    end = local(year + month // 12, month % 12 + 1, 1)
    n = interval_grid(start, end).size
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    energy = rng.integers(0, draw(st.integers(1, 2000)), size=n)
    quality = rng.choice([0, 0, 0, 0, 7, 8, 9, 10, 14], size=n)
    return start, end, energy, quality


@settings(max_examples=25, deadline=None)
@given(month_of_intervals())
def test_tou_buckets_sum_to_the_total(case):
    start, end, energy, quality = case
    grid = interval_grid(start, end)
    bill = bill_meter(E_TOU_C, grid, energy, quality, start=start, end=end, timezone=LA)
    billed = energy[np.isin(quality, [0, 7, 8, 9])].sum()
    assert bill.energy_wh == billed
    assert sum(bill.energy_by_period_wh) == bill.energy_wh
    assert [sum(row) for row in bill.energy_by_period_tier_wh] == list(bill.energy_by_period_wh)
    assert sum(line.quantity for line in bill.lines if line.kind == "energy") * 1000 == bill.energy_wh


@settings(max_examples=25, deadline=None)
@given(month_of_intervals(), st.integers(2, 27), st.integers(0, 95))
def test_month_equals_its_two_halves_for_energy_charges(case, day, quarter):
    start, end, energy, quality = case
    grid = interval_grid(start, end)
    cut = start.replace(day=day) + timedelta(minutes=15 * quarter)
    whole = bill_meter(FLAT_TOU, grid, energy, quality, start=start, end=end, timezone=LA)
    first = bill_meter(FLAT_TOU, grid, energy, quality, start=start, end=cut, timezone=LA)
    second = bill_meter(FLAT_TOU, grid, energy, quality, start=cut, end=end, timezone=LA)

    def energy_charges(b):
        return sum((line.amount for line in b.lines if line.kind == "energy"), Decimal(0))

    assert energy_charges(first) + energy_charges(second) == energy_charges(whole)
    assert first.energy_wh + second.energy_wh == whole.energy_wh


@given(
    st.decimals(min_value=Decimal("-5000"), max_value=Decimal("100000"), places=2),
    st.lists(st.integers(0, 10**9), min_size=1, max_size=40),
)
def test_allocation_shares_sum_to_the_master_bill_to_the_cent(total, weights):
    shares = allocate_cents(total, weights)
    assert sum(shares) == total
    assert all(s == s.quantize(Decimal("0.01")) for s in shares)
    whole = sum(weights) or len(weights)
    for s, w in zip(shares, weights, strict=True):
        exact = total * (w if sum(weights) else 1) / whole
        assert abs(s - exact) < Decimal("0.01")


@settings(max_examples=15, deadline=None)
@given(
    st.decimals(min_value=Decimal("0"), max_value=Decimal("50000"), places=2),
    st.integers(1, 8),
    st.integers(0, 2**32 - 1),
)
def test_maryland_bills_share_the_master_bill_exactly(total, units, seed):
    start, end = local(2026, 3, 1), local(2026, 4, 1)  # a DST month
    n = interval_grid(start, end).size
    rng = np.random.default_rng(seed)
    energy = rng.integers(0, 500, size=(units, n))
    quality = rng.choice([0, 8, 10], size=(units, n))
    bills = maryland_bills(
        total, energy, quality, start=start, end=end, timezone=LA, meters=[f"u{i}" for i in range(units)],
        admin_fee=Decimal("2.50"),
    )  # fmt: skip
    shares = [b.lines[0].amount for b in bills]
    assert sum(shares) == total
    assert all(b.total == b.lines[0].amount + Decimal("2.50") for b in bills)
