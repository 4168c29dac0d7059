"""Tests of the synthetic load profiles."""

from __future__ import annotations

import numpy as np
import pytest

from meshmeter.site.profiles import residential_profile


def test_deterministic_under_a_seed() -> None:
    a = residential_profile(days=1, seed=3)
    b = residential_profile(days=1, seed=3)
    c = residential_profile(days=1, seed=4)
    assert np.array_equal(a.current_a, b.current_a)
    assert not np.array_equal(a.current_a, c.current_a)


@pytest.mark.parametrize(("days", "step_s", "n"), [(1.0, 60.0, 1440), (2.0, 900.0, 192), (1 / 24, 1.0, 3600)])
def test_shape(days: float, step_s: float, n: int) -> None:
    p = residential_profile(days=days, step_s=step_s, lines=2)
    assert p.voltage_v.shape == p.current_a.shape == p.phase_deg.shape == (2, n)
    assert p.n_steps == n


def test_physically_sensible() -> None:
    p = residential_profile(days=7, seed=1)
    assert np.all(p.current_a >= 0)
    assert np.all(np.abs(p.voltage_v - 120.0) < 6.0)  # within +/-5 % of nominal
    assert np.all((p.phase_deg >= 0) & (p.phase_deg <= 60.0))  # lagging, PF >= 0.5 (manual §3.1)
    assert np.all(p.current_a <= 200.0)  # within the meter's class
    daily_kwh = p.true_energy_wh / 7 / 1000
    assert 5.0 < daily_kwh < 80.0


def test_single_line() -> None:
    p = residential_profile(days=1, lines=1)
    assert p.current_a.shape[0] == 1


def test_scale_zero_is_no_load() -> None:
    assert residential_profile(days=1, scale=0.0).true_energy_wh == 0.0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"lines": 3}, "lines"),
        ({"days": 0.0}, "days"),
        ({"step_s": -1.0}, "step_s"),
        ({"scale": np.nan}, "scale"),
    ],
)
def test_bad_input(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        residential_profile(**kwargs)
