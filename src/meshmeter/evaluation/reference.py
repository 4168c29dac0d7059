"""The bench's reference standard and its arithmetic: pure functions over numbers.

The reference standard gives the true energy from the applied voltage, current, power factor and time,
independently of the meter's own maths; the meter under test is read on its test output (Kt = 10 Wh,
certificate p.2) by counting pulses. A run is made long enough that one pulse is a small fraction of the
tolerance (the resolution), so the count's ±1 pulse cannot decide a point.
"""

from __future__ import annotations

import math

__all__ = [
    "SECONDS_PER_HOUR",
    "percent_registration",
    "pulses_for_resolution",
    "reference_energy_wh",
    "run_duration_s",
]

SECONDS_PER_HOUR = 3600.0


def _finite(name: str, value: float, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def reference_energy_wh(
    voltage_v: float, current_a: float, pf: float, duration_s: float, *, lines: int = 1
) -> float:
    """
    True energy of a steady sinusoidal load, as a reference standard measures it.

    Parameters
    ----------
    voltage_v : float
        RMS voltage of each loaded line to neutral. [V]
    current_a : float
        RMS current of each loaded line. [A]
    pf : float
        Power factor magnitude, in [0, 1]. [1]
    duration_s : float
        Length of the run. [s]
    lines : int
        How many lines carry this load (1, or 2 for both elements). [1]

    Returns
    -------
    energy_wh : float
        :math:`E = n\\,V I\\,\\mathrm{PF}\\,t / 3600`. [Wh]
    """
    v = _finite("voltage_v", voltage_v)
    i = _finite("current_a", current_a)
    p = _finite("pf", pf)
    if p > 1.0:
        raise ValueError(f"pf must be in [0, 1], got {pf!r}")
    t = _finite("duration_s", duration_s)
    if isinstance(lines, bool) or not isinstance(lines, int) or lines < 1:
        raise ValueError(f"lines must be an int >= 1, got {lines!r}")
    return lines * v * i * p * t / SECONDS_PER_HOUR


def pulses_for_resolution(tolerance_percent: float, resolution: float = 0.1) -> int:
    """
    Test-output pulses a run needs so that one pulse is at most ``resolution`` of the tolerance.

    Parameters
    ----------
    tolerance_percent : float
        Half-width of the allowed error of registration. [%]
    resolution : float
        Largest share of the tolerance one pulse may be, in (0, 1]. [1]

    Returns
    -------
    pulses : int
        :math:`N = \\lceil 100 / (r\\,t) \\rceil`: 2000 for ±0.5 % at r = 0.1, 1334 for ±0.75 %. [1]
    """
    t = _finite("tolerance_percent", tolerance_percent, positive=True)
    r = _finite("resolution", resolution, positive=True)
    if r > 1.0:
        raise ValueError(f"resolution must be in (0, 1], got {resolution!r}")
    # a hair below the exact quotient so that 100 / (0.1 * 0.5) is 2000, not 2001 from rounding
    return math.ceil(100.0 / (r * t) - 1e-9)


def run_duration_s(pulses: int, power_w: float, kt_wh: float = 10.0) -> float:
    """
    Whole seconds of run for the reference energy to reach ``pulses`` test-output pulses.

    Parameters
    ----------
    pulses : int
        Pulses wanted. [1]
    power_w : float
        True power of the load. [W]
    kt_wh : float
        Energy per test-output pulse, 10 Wh (certificate p.2). [Wh]

    Returns
    -------
    duration_s : float
        :math:`\\lceil N K_t \\cdot 3600 / P \\rceil`. [s]
    """
    if isinstance(pulses, bool) or not isinstance(pulses, int) or pulses < 1:
        raise ValueError(f"pulses must be an int >= 1, got {pulses!r}")
    p = _finite("power_w", power_w, positive=True)
    k = _finite("kt_wh", kt_wh, positive=True)
    return float(math.ceil(pulses * k * SECONDS_PER_HOUR / p - 1e-9))


def percent_registration(meter_energy_wh: float, reference_energy_wh: float) -> float:
    """
    Percent registration: meter energy over reference energy × 100 (ANSI C12.1 definition).

    Parameters
    ----------
    meter_energy_wh : float
        Energy the meter registered (pulses × Kt). [Wh]
    reference_energy_wh : float
        Energy the reference standard measured, > 0. [Wh]

    Returns
    -------
    percent : float
        [%]
    """
    m = _finite("meter_energy_wh", meter_energy_wh)
    r = _finite("reference_energy_wh", reference_energy_wh, positive=True)
    return m / r * 100.0
