"""Synthetic load profiles for the twin: what a tenant's circuits draw, line by line, over time.

A residential unit on a 120/240 V service: a base load, morning and evening peaks, an air conditioner
that cycles on hot afternoons, a water heater and random appliance events, with the power factor of each.
Deterministic under a seed. The profile is a model input, not a measurement: it is what the meter twin
is run on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["LineProfile", "residential_profile"]

FloatArray = NDArray[np.float64]
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class LineProfile:
    """Per-line RMS voltage, load current and phase at a constant step; arrays of shape (lines, n)."""

    step_s: float
    """Step length. [s]"""
    voltage_v: FloatArray
    """RMS voltage of each line to neutral. [V]"""
    current_a: FloatArray
    """RMS current of each line's load. [A]"""
    phase_deg: FloatArray
    """Lag of each line's current behind its voltage. [deg]"""

    @property
    def n_steps(self) -> int:
        """Number of steps. [1]"""
        return int(self.voltage_v.shape[1])

    @property
    def true_energy_wh(self) -> float:
        """Energy the load drew over the profile. [Wh]"""
        power = self.voltage_v * self.current_a * np.cos(np.deg2rad(self.phase_deg))
        return float(power.sum() * self.step_s / 3600.0)


def _hour_of_day(time_s: FloatArray) -> FloatArray:
    result: FloatArray = (time_s % SECONDS_PER_DAY) / 3600.0
    return result


def residential_profile(
    *,
    days: float = 1.0,
    step_s: float = 60.0,
    lines: int = 2,
    nominal_voltage_v: float = 120.0,
    seed: int = 0,
    scale: float = 1.0,
) -> LineProfile:
    """
    A residential load on one or two lines.

    Parameters
    ----------
    days : float
        Length. [day]
    step_s : float
        Step. [s]
    lines : int
        1 (120 V, 2-wire) or 2 (120/240 V, 3-wire: 240 V loads draw the same current on both lines).
    nominal_voltage_v : float
        Line-to-neutral voltage around which the supply wanders (±2 %). [V]
    seed : int
        Random seed.
    scale : float
        Multiplies every current (a larger or smaller unit). [1]

    Returns
    -------
    LineProfile
        Starting at local midnight.
    """
    if lines not in (1, 2):
        raise ValueError(f"lines must be 1 or 2, got {lines!r}")
    for name, value in (("days", days), ("step_s", step_s), ("nominal_voltage_v", nominal_voltage_v)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    if not (np.isfinite(scale) and scale >= 0):
        raise ValueError(f"scale must be finite and >= 0, got {scale!r}")
    n = max(1, round(days * SECONDS_PER_DAY / step_s))
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64) * step_s
    hour = _hour_of_day(t)
    day = np.floor(t / SECONDS_PER_DAY)
    hot = rng.uniform(0.0, 1.0, size=int(day[-1]) + 1)[day.astype(np.intp)]  # how hot each day is

    # 120 V loads per line [W] and 240 V loads [W]
    base = 150.0 + 60.0 * np.sin(2 * np.pi * (hour - 4.0) / 24.0) ** 2
    morning = 900.0 * np.exp(-(((hour - 7.5) / 0.8) ** 2))
    evening = 1400.0 * np.exp(-(((hour - 19.0) / 1.6) ** 2))
    # air conditioner (240 V): cycles 15 min on / off on hot afternoons
    afternoon = (hour > 12.0) & (hour < 21.0)
    cycle_on = ((t // 900.0) % 2 == 0) & (rng.uniform(size=n) < 0.98)
    ac = np.where(afternoon & cycle_on & (hot > 0.4), 3500.0, 0.0)
    # water heater (240 V): morning and evening draws
    wh_on = ((hour > 6.5) & (hour < 7.5)) | ((hour > 20.0) & (hour < 21.0))
    water = np.where(wh_on, 4500.0, 0.0)
    # appliance events on each line (kettle, microwave, dryer ...): Poisson arrivals, 2-20 min long
    events = np.zeros((lines, n))
    per_day = 12.0
    count = rng.poisson(per_day * days)
    starts = rng.integers(0, n, size=count)
    lengths = np.maximum(1, (rng.uniform(120.0, 1200.0, size=count) / step_s).astype(np.intp))
    powers = rng.uniform(600.0, 1800.0, size=count)
    which = rng.integers(0, lines, size=count)
    for s, length, p, line in zip(starts, lengths, powers, which, strict=True):
        events[line, s : s + length] += p

    v = nominal_voltage_v * (1.0 + 0.02 * np.sin(2 * np.pi * (hour - 18.0) / 24.0)) + rng.normal(
        0.0, 0.3, (lines, n)
    )
    p120 = (base + morning + evening)[None, :] * (np.array([0.55, 0.45])[:lines, None]) + events
    # resistive-ish 120 V loads at PF 0.95 lag, AC at PF 0.85 lag, water heater at PF 1.0
    q120 = p120 * np.tan(np.arccos(0.95))
    p240 = ac + water  # split equally between the two lines (or all on the single line)
    q240 = ac * np.tan(np.arccos(0.85))
    share = 0.5 if lines == 2 else 1.0
    p_line = p120 + share * p240[None, :]
    q_line = q120 + share * q240[None, :]
    s_line = np.hypot(p_line, q_line)
    current = scale * s_line / v
    phase = np.rad2deg(np.arctan2(q_line, p_line))
    return LineProfile(step_s=float(step_s), voltage_v=v, current_a=current, phase_deg=phase)
