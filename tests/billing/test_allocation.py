"""Maryland allocation and ratio utility billing, worked by hand."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshmeter.billing import Tenant, allocate_cents, interval_grid, maryland_bills
from meshmeter.billing.allocation import (
    ShareBasis,
    ratio_lines,
    ratio_shares,
    remainder_amount,
    unmetered_remainder_wh,
)
from tests.billing.conftest import LA, local


def test_largest_remainder_by_hand():
    # $100.00 over 1 : 1 : 1 kWh: 3333.33... cents each; floors 3333 x 3 = 9999, the one cent left goes to
    # the first (all remainders tie, ties to the earlier unit).
    assert allocate_cents(Decimal("100.00"), [1, 1, 1]) == [
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    ]
    # $10.00 over 100 : 200 : 700 Wh: 100, 200, 700 cents exactly.
    assert allocate_cents(Decimal("10"), [100, 200, 700]) == [Decimal(1), Decimal(2), Decimal(7)]
    # A credit shares the same way, negated.
    assert allocate_cents(Decimal("-0.05"), [1, 1]) == [Decimal("-0.03"), Decimal("-0.02")]
    # No energy at all: an even split.
    assert allocate_cents(Decimal("0.03"), [0, 0, 0]) == [Decimal("0.01")] * 3


@pytest.mark.parametrize(
    ("total", "weights", "needle"),
    [
        (Decimal("1.005"), [1], "whole number of cents"),
        (1.5, [1], "Decimal"),
        (Decimal("NaN"), [1], "finite"),
        (Decimal(1), [], "at least one"),
        (Decimal(1), [-1, 2], "non-negative"),
    ],
)
def test_allocation_bad_input(total, weights, needle):
    with pytest.raises(ValueError, match=needle):
        allocate_cents(total, weights)


def test_maryland_bills_by_hand():
    # Master bill $1,234.57 for July; three units using 1 : 2 : 3 (250, 500, 750 Wh per interval;
    # 744, 1488, 2232 kWh). Shares 1234.57 x 1/6 = 205.7616..., x 2/6 = 411.5233..., x 3/6 = 617.285:
    # floors 205.76, 411.52, 617.28 = 1234.56; the cent left goes to the largest remainder (0.5 cent,
    # unit 3): 617.29. Each bill adds the $3.50 fee. Unit 2 moves out on 16 July: 15 days of 500 Wh
    # x 96 x 15 = 720 kWh, so the shares are over 744 + 720 + 2232 = 3696 kWh.
    start, end = local(2026, 7, 1), local(2026, 8, 1)
    n = interval_grid(start, end).size
    energy = np.stack([np.full(n, 250), np.full(n, 500), np.full(n, 750)])
    quality = np.zeros_like(energy)
    bills = maryland_bills(
        Decimal("1234.57"), energy, quality, start=start, end=end, timezone=LA, meters=["1", "2", "3"],
        admin_fee=Decimal("3.50"),
    )  # fmt: skip
    assert [b.lines[0].amount for b in bills] == [Decimal("205.76"), Decimal("411.52"), Decimal("617.29")]
    assert [b.total for b in bills] == [Decimal("209.26"), Decimal("415.02"), Decimal("620.79")]
    assert all(b.mode == "maryland" for b in bills)
    moved = maryland_bills(
        Decimal("1234.57"), energy, quality, start=start, end=end, timezone=LA, meters=["1", "2", "3"],
        admin_fee=Decimal("3.50"), tenants=[None, Tenant("2", move_out=local(2026, 7, 16)), None],
    )  # fmt: skip
    assert [b.energy_wh for b in moved] == [744_000, 720_000, 2_232_000]
    assert sum(b.lines[0].amount for b in moved) == Decimal("1234.57")
    # 1234.57 x 720/3696 = 240.4987... -> 240.50 (its remainder is the largest of the three)
    assert moved[1].lines[0].amount == Decimal("240.50")


def test_maryland_refuses_bad_fee():
    start, end = local(2026, 7, 1), local(2026, 7, 2)
    e = np.zeros((1, 96), dtype=np.int64)
    with pytest.raises(ValueError, match="admin_fee"):
        maryland_bills(
            Decimal(1), e, e, start=start, end=end, timezone=LA, meters=["a"], admin_fee=Decimal("-1")
        )


# -- ratio utility billing (issue 13: the house meter and the unmetered remainder) ----------------------


def test_ratio_by_floor_area_with_a_vacancy_by_hand():
    # $100.00 of house-meter energy over 600, 900 and 1,500 ft²; the 900 ft² unit was occupied half the
    # period. Weights 600, 450 and 1,500, the vacant 450 the owner's, of 3,000 ft² in all:
    # 100 x 600/3000 = 20.00, x 450/3000 = 15.00, x 1500/3000 = 50.00, owner 15.00.
    units = [
        ShareBasis("A-101", floor_area=Decimal(600)),
        ShareBasis("A-102", floor_area=Decimal(900), occupied=Fraction(1, 2)),
        ShareBasis("A-201", floor_area=Decimal(1500)),
    ]
    shared = ratio_shares(Decimal("100.00"), units, "floor_area")
    assert shared.shares == (Decimal("20.00"), Decimal("15.00"), Decimal("50.00"))
    assert shared.owner_share == Decimal("15.00")
    assert shared.whole_weight == 3000
    assert [line.description for line in ratio_lines(shared, "Common area (house meter)")] == [
        "Common area (house meter), by floor area: 600 of 3,000 ft²",
        "Common area (house meter), by floor area: 450 of 3,000 ft²",
        "Common area (house meter), by floor area: 1,500 of 3,000 ft²",
    ]
    assert [line.amount for line in ratio_lines(shared, "x")] == list(shared.shares)


def test_ratio_by_occupants_to_the_cent_by_hand():
    # $99.99 over 1, 2 and 3 occupants: 9,999 cents x 1/6 = 1,666.5, x 2/6 = 3,333, x 3/6 = 4,999.5;
    # floors 1,666 + 3,333 + 4,999 = 9,998; the cent left goes to the largest remainder, a tie of units
    # 1 and 3 (half a cent each), to the earlier: 16.67, 33.33, 49.99. No vacancy: the owner pays 0.
    units = [ShareBasis(a, occupants=n) for a, n in (("1", 1), ("2", 2), ("3", 3))]
    shared = ratio_shares(Decimal("99.99"), units, "occupants")
    assert shared.shares == (Decimal("16.67"), Decimal("33.33"), Decimal("49.99"))
    assert shared.owner_share == 0
    assert ratio_lines(shared, "Unmetered remainder")[1].description == (
        "Unmetered remainder, by occupants: 2 of 6 occupants"
    )


def test_ratio_by_fixed_shares_in_percent():
    # Shares are relative to their sum: 12.5 %, 37.5 % and 50 % of $80.00 are 10.00, 30.00, 40.00.
    units = [ShareBasis(a, fixed_share=Decimal(p)) for a, p in (("1", "12.5"), ("2", "37.5"), ("3", "50"))]
    assert ratio_shares(Decimal("80.00"), units, "fixed").shares == (
        Decimal("10.00"),
        Decimal("30.00"),
        Decimal("40.00"),
    )


def test_ratio_refusal_names_every_problem():
    units = [
        ShareBasis("1", occupants=2),
        ShareBasis("2", floor_area=Decimal(700)),
        ShareBasis("3", floor_area=Decimal(-5), occupied=Fraction(3, 2)),
    ]
    with pytest.raises(ValueError, match="cannot share the amount") as caught:
        ratio_shares(Decimal("10.005"), units, "floor_area")
    text = str(caught.value)
    for needle in (
        "total must be a whole number of cents",
        "units[0] ('1'): floor_area must be a finite Decimal",
        "units[2] ('3'): floor_area must be a finite Decimal, 0 or more, got Decimal('-5')",
        "units[2] ('3'): occupied must be a fraction 0 to 1",
    ):
        assert needle in text
    assert "units[1]" not in text
    with pytest.raises(ValueError, match="basis must be one of floor_area, occupants, fixed"):
        ratio_shares(Decimal(1), units, "kwh")
    with pytest.raises(ValueError, match="every unit's occupants is 0"):
        ratio_shares(Decimal(1), [ShareBasis("1", occupants=0)], "occupants")
    with pytest.raises(ValueError, match="at least one unit"):
        ratio_shares(Decimal(1), [], "occupants")


@given(
    cents=st.integers(min_value=-(10**7), max_value=10**7),
    units=st.lists(
        st.tuples(st.integers(min_value=0, max_value=5000), st.integers(min_value=0, max_value=31)),
        min_size=1,
        max_size=12,
    ),
)
def test_ratio_shares_always_add_up_to_the_cent(cents, units):
    if not any(area for area, _ in units):
        units = [(1, 31), *units]
    basis = [
        ShareBasis(str(k), floor_area=Decimal(a), occupied=Fraction(d, 31)) for k, (a, d) in enumerate(units)
    ]
    total = Decimal(cents) / 100
    shared = ratio_shares(total, basis, "floor_area")
    assert sum(shared.shares, Decimal(0)) + shared.owner_share == total
    for share in (*shared.shares, shared.owner_share):
        assert share == share.quantize(Decimal("0.01"))


def test_unmetered_remainder_and_its_amount_by_hand():
    # Master meter 1,000 kWh for $1,234.56; units 300 + 250 kWh and the house meter 100 kWh: 350 kWh no
    # sub-meter measured, at the master bill's average price: 1234.56 x 350/1000 = 432.096 -> 432.10.
    remainder = unmetered_remainder_wh(1_000_000, [300_000, 250_000, 100_000])
    assert remainder == 350_000
    assert remainder_amount(Decimal("1234.56"), 1_000_000, remainder) == Decimal("432.10")
    assert remainder_amount(Decimal("1234.56"), 1_000_000, 0) == 0
    assert unmetered_remainder_wh(5, []) == 5


def test_sub_meters_above_the_master_are_a_wiring_fault_not_a_remainder():
    with pytest.raises(ValueError, match=r"1000001 Wh, more than the master meter's 1000000 Wh.*manual §7"):
        unmetered_remainder_wh(1_000_000, [500_000, 500_001])
    with pytest.raises(ValueError, match="non-negative integer Wh"):
        unmetered_remainder_wh(1_000, [-1])
    with pytest.raises(ValueError, match="remainder_wh must be integer Wh from 0 to master_wh"):
        remainder_amount(Decimal("1.00"), 10, 11)
    with pytest.raises(ValueError, match="whole number of cents"):
        remainder_amount(Decimal("1.001"), 10, 5)
