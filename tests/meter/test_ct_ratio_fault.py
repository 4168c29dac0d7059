"""The twin's hook for a CT of another ratio installed on a meter (issue 7: bench faults)."""

from __future__ import annotations

import math

import pytest

from meshmeter.meter.twin import Meter, SteadyCondition


def _both(current_a: float, phase_deg: float = 0.0) -> SteadyCondition:
    return SteadyCondition(
        voltage_v=(120.0, 120.0), current_a=(current_a, current_a), phase_deg=(phase_deg,) * 2
    )


def test_default_is_the_designation_ratio() -> None:
    meter = Meter()
    assert meter.ct_ratio_installed == 2000.0  # 200:0.1 A, certificate p.1


@pytest.mark.parametrize(
    ("ratio", "expected_percent"),
    [
        # a 100:0.1 A CT gives twice the secondary current the meter expects: it reads double
        (1000.0, 200.0),
        # a 400:0.1 A CT gives half
        (4000.0, 50.0),
        (2000.0, 100.0),
    ],
)
def test_wrong_ratio_scales_registration(ratio: float, expected_percent: float) -> None:
    meter = Meter(ct_ratio_installed=ratio)
    result = meter.run_steady(_both(30.0), 3600.0)
    # at 30 A (TA) the nominal error is 0; the scaled current sees the CT's error at 30·2000/R A,
    # a few hundredths of a percent at most (docs/metrology.md)
    assert result.percent_registration == pytest.approx(expected_percent, rel=5e-4)


def test_ct_error_is_taken_at_the_scaled_current() -> None:
    # the installed 100:0.1 A CT at 30 A works at 30 % of its rating, like the 200:0.1 A CT at 60 A
    wrong = Meter(ct_ratio_installed=1000.0).run_steady(_both(30.0), 3600.0)
    nominal_60 = Meter().run_steady(_both(60.0), 3600.0)
    assert wrong.percent_registration == pytest.approx(2.0 * nominal_60.percent_registration, rel=1e-12)


def test_starting_threshold_applies_to_the_metered_current() -> None:
    # 0.15 A through a 400:0.1 A CT looks like 0.075 A to the meter, below its 0.1 A threshold
    meter = Meter(ct_ratio_installed=4000.0)
    assert meter.run_steady(_both(0.15), 3600.0).registered_energy_wh == 0.0
    assert Meter().run_steady(_both(0.15), 3600.0).registered_energy_wh > 0.0


def test_waveform_path_agrees() -> None:
    condition = _both(20.0, 60.0)
    profile = Meter(ct_ratio_installed=1000.0).run_steady(condition, 20.0)
    waveform = Meter(ct_ratio_installed=1000.0).run_steady(condition, 20.0, path="waveform")
    assert waveform.percent_registration == pytest.approx(profile.percent_registration, rel=5e-4)
    assert profile.percent_registration == pytest.approx(200.0, rel=5e-3)


def test_measured_current_shows_the_wrong_ratio() -> None:
    meter = Meter(ct_ratio_installed=4000.0)
    meter.run_steady(_both(40.0), 60.0)
    assert [m.current_a for m in meter.measurements] == pytest.approx([20.0, 20.0], rel=2e-3)


@pytest.mark.parametrize("bad", [0.0, -1000.0, math.nan, math.inf, True, "1000"])
def test_bad_ratio_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="ct_ratio_installed"):
        Meter(ct_ratio_installed=bad)  # type: ignore[arg-type]
