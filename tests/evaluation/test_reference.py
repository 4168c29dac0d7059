"""The reference standard's arithmetic, from hand-worked numbers."""

from __future__ import annotations

import math

import pytest

from meshmeter.evaluation.reference import (
    percent_registration,
    pulses_for_resolution,
    reference_energy_wh,
    run_duration_s,
)


@pytest.mark.parametrize(
    ("args", "lines", "expected_wh"),
    [
        # full load at TA, both elements: 2 × 120 V × 30 A × 1.0 × 10 000 s / 3600 = 20 000 Wh
        ((120.0, 30.0, 1.0, 10_000.0), 2, 20_000.0),
        # 0.5 PF halves it; one line
        ((120.0, 30.0, 0.5, 3600.0), 1, 1800.0),
        # no load
        ((132.0, 0.0, 1.0, 21_600.0), 2, 0.0),
    ],
)
def test_reference_energy(args: tuple[float, float, float, float], lines: int, expected_wh: float) -> None:
    assert reference_energy_wh(*args, lines=lines) == pytest.approx(expected_wh, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"voltage_v": -1.0}, "voltage_v"),
        ({"current_a": math.nan}, "current_a"),
        ({"pf": 1.2}, "pf"),
        ({"duration_s": math.inf}, "duration_s"),
        ({"lines": 0}, "lines"),
    ],
)
def test_reference_energy_refuses_bad_input(kwargs: dict[str, float], needle: str) -> None:
    args: dict[str, float] = {"voltage_v": 120.0, "current_a": 1.0, "pf": 1.0, "duration_s": 1.0}
    lines = int(kwargs.pop("lines", 1))
    args.update(kwargs)
    with pytest.raises(ValueError, match=needle):
        reference_energy_wh(**args, lines=lines)


@pytest.mark.parametrize(
    ("tolerance", "resolution", "pulses"),
    [
        (0.5, 0.1, 2000),  # one pulse = 0.05 % = a tenth of ±0.5 %
        (0.75, 0.1, 1334),  # 100 / 0.075 = 1333.3
        (0.5, 1.0, 200),
    ],
)
def test_pulses_for_resolution(tolerance: float, resolution: float, pulses: int) -> None:
    assert pulses_for_resolution(tolerance, resolution) == pulses
    assert 100.0 / pulses <= resolution * tolerance + 1e-12


@pytest.mark.parametrize(("tolerance", "resolution"), [(0.0, 0.1), (-0.5, 0.1), (0.5, 0.0), (0.5, 1.5)])
def test_pulses_for_resolution_refuses(tolerance: float, resolution: float) -> None:
    with pytest.raises(ValueError, match=r"tolerance_percent|resolution"):
        pulses_for_resolution(tolerance, resolution)


def test_run_duration() -> None:
    # 2000 pulses of 10 Wh at 7200 W: 20 000 Wh in 10 000 s
    assert run_duration_s(2000, 7200.0) == 10_000.0
    # 1334 pulses at 1800 W (one element, 30 A, PF 0.5): 26 680 s
    assert run_duration_s(1334, 1800.0) == 26_680.0
    # rounded up to a whole second
    assert run_duration_s(1, 7.0) == math.ceil(10 * 3600 / 7.0)
    with pytest.raises(ValueError, match="power_w"):
        run_duration_s(10, 0.0)
    with pytest.raises(ValueError, match="pulses"):
        run_duration_s(0, 100.0)


def test_percent_registration() -> None:
    assert percent_registration(20_100.0, 20_000.0) == pytest.approx(100.5)
    assert percent_registration(0.0, 20_000.0) == 0.0
    with pytest.raises(ValueError, match="reference_energy_wh"):
        percent_registration(10.0, 0.0)
