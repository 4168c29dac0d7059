"""Tests of the CT error model against IEEE C57.13 class 0.3 (certificate p.1: CT200124XX, class 0.3)."""

from __future__ import annotations

import numpy as np
import pytest

from meshmeter.meter.ct import MINUTES_PER_RADIAN, CurrentTransformer


@pytest.mark.parametrize(
    ("percent", "rcf_limit"),
    [
        # IEEE C57.13 Table 3, class 0.3: RCF and TCF within 1 ± 0.003 at 100 % of rated current and
        # 1 ± 0.006 at 10 %; TCF = RCF + beta/2600 for a CT, beta in minutes.
        (100.0, 0.003),
        (110.0, 0.003),  # 220 A, the meter's maximum (manual §3.1), is within the rating factor
        (50.0, 0.006),
        (10.0, 0.006),
    ],
)
def test_default_ct_is_within_class_0_3(percent: float, rcf_limit: float) -> None:
    ct = CurrentTransformer()
    current = ct.primary_a * percent / 100.0
    rcf = float(ct.ratio_correction_factor(current))
    beta = float(ct.phase_displacement_min(current))
    tcf = rcf + beta / 2600.0
    assert abs(rcf - 1.0) <= rcf_limit
    assert abs(tcf - 1.0) <= rcf_limit


def test_ratio_is_marked_ratio() -> None:
    # 200:0.1 A -> 2000 (certificate p.1)
    assert CurrentTransformer().ratio == 2000.0


def test_errors_grow_as_current_falls() -> None:
    ct = CurrentTransformer()
    currents = np.array([2.0, 3.0, 30.0, 60.0, 200.0])
    assert np.all(np.diff(np.abs(ct.ratio_error(currents))) < 0)
    assert np.all(np.diff(ct.phase_displacement_min(currents)) < 0)


def test_hand_worked_errors_at_200_a() -> None:
    # eps = -2e-4 - 3e-4 * sqrt(200/200) = -5e-4; beta = 2 + 0.8 * 1 = 2.8 min at 60 Hz, 3.36 min at 50 Hz
    ct = CurrentTransformer()
    assert float(ct.ratio_error(200.0)) == pytest.approx(-5e-4)
    assert float(ct.phase_displacement_min(200.0)) == pytest.approx(2.8)
    assert float(ct.phase_displacement_min(200.0, 50.0)) == pytest.approx(3.36)
    assert float(ct.phase_displacement_rad(200.0)) == pytest.approx(2.8 / MINUTES_PER_RADIAN)
    assert float(ct.secondary_current_a(200.0)) == pytest.approx(0.1 * (1 - 5e-4))


def test_no_load_is_finite() -> None:
    ct = CurrentTransformer()
    assert np.isfinite(ct.ratio_error(0.0))
    assert float(ct.secondary_current_a(0.0)) == 0.0


def test_vector_equals_scalar() -> None:
    ct = CurrentTransformer()
    currents = np.array([2.0, 30.0, 200.0])
    vec = ct.ratio_error(currents)
    assert np.allclose(vec, [float(ct.ratio_error(c)) for c in currents])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_current_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="current_primary_a"):
        CurrentTransformer().ratio_error(bad)


def test_bad_frequency_refused() -> None:
    with pytest.raises(ValueError, match="frequency_hz"):
        CurrentTransformer().phase_displacement_min(30.0, 0.0)


@pytest.mark.parametrize("name", ["primary_a", "secondary_a", "accuracy_class"])
def test_bad_construction_refused(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        CurrentTransformer(**{name: -1.0})
