"""Energy-management figures."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from meshmeter.billing import (
    average_load_profile,
    compare_periods,
    daily_consumption,
    interval_grid,
    monthly_consumption,
    top_consumers,
)
from tests.billing.conftest import LA, local


def test_daily_and_monthly_across_dst():
    # 31 Oct - 2 Nov 2026 local: 1 Nov has 25 h (100 intervals). 10 Wh each.
    grid = interval_grid(local(2026, 10, 31), local(2026, 11, 2))
    energy = np.full(grid.size, 10)
    days, wh = daily_consumption(grid, energy, timezone=LA)
    assert days == [date(2026, 10, 31), date(2026, 11, 1)]
    assert wh.tolist() == [960, 1000]
    months, mwh = monthly_consumption(grid, energy, timezone=LA)
    assert months == ["2026-10", "2026-11"]
    assert mwh.tolist() == [960, 1000]
    quality = np.zeros(grid.size, dtype=np.int64)
    quality[:6] = 10
    assert daily_consumption(grid, energy, timezone=LA, quality=quality)[1].tolist() == [900, 1000]


def test_average_load_profile():
    # Two days; 4 pm hour intervals carry 500 Wh (2 kW), the rest 100 Wh (0.4 kW).
    grid = interval_grid(local(2026, 7, 1), local(2026, 7, 3))
    energy = np.full(grid.size, 100)
    energy[np.isin((np.arange(grid.size) // 4) % 24, [16])] = 500
    kw = average_load_profile(grid, energy, timezone=LA)
    assert kw[16] == pytest.approx(2.0)
    assert kw[3] == pytest.approx(0.4)
    one = average_load_profile(grid[:4], energy[:4], timezone=LA)
    assert np.isnan(one[5])


def test_top_consumers_and_comparison():
    top = top_consumers({"a": 100, "b": 300, "c": 300, "d": 0}, n=2)
    assert top == [
        ("b", 300, Decimal("0.4285714285714285714285714286")),
        ("c", 300, Decimal(300) / Decimal(700)),
    ]
    c = compare_periods(1100, 1000, current_days=31, previous_days=30)
    assert c.change_wh == 100
    assert c.change_ratio == Decimal("0.1")
    assert compare_periods(5, 0, current_days=1, previous_days=1).change_ratio is None
    with pytest.raises(ValueError, match="n must"):
        top_consumers({"a": 1}, n=0)
    with pytest.raises(ValueError, match="totals_wh"):
        top_consumers({"a": -1})
    with pytest.raises(ValueError, match="previous_days"):
        compare_periods(1, 1, current_days=1, previous_days=0)


def test_energy_bad_input():
    with pytest.raises(ValueError, match="15-minute"):
        daily_consumption([100], [1], timezone=LA)
    with pytest.raises(ValueError, match="one length"):
        daily_consumption([900, 1800], [1], timezone=LA)
