"""Maryland allocation worked by hand."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from meshmeter.billing import Tenant, allocate_cents, interval_grid, maryland_bills
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
