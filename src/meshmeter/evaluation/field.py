"""A realistic field load for the permanence period: pure functions over numpy arrays.

Certificate p.2: the meters were "sealed and installed at a field location" for "approximately 30 days".
The bench stands in a month of a small residential or office sub-metered load on both lines of a 120/240 V
service: a base load, morning and evening peaks, appliances switching on and off, the line voltage
wandering around 120 V and a lagging power factor between 0.8 and 0.99.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["FieldLoad", "field_load"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class FieldLoad:
    """Time series of each line's load, shape (lines, n)."""

    step_s: float
    """Step length. [s]"""
    voltage_v: FloatArray
    """RMS voltage of each line to neutral. [V]"""
    current_a: FloatArray
    """RMS current of each line. [A]"""
    phase_deg: FloatArray
    """Lag of each line's current behind its voltage (positive: lagging). [deg]"""

    @property
    def true_energy_wh(self) -> float:
        """Energy the load drew, :math:`\\sum V I \\cos\\varphi\\,\\Delta t / 3600`. [Wh]"""
        power = self.voltage_v * self.current_a * np.cos(np.deg2rad(self.phase_deg))
        return float(power.sum() * self.step_s / 3600.0)


def field_load(days: float, *, lines: int = 2, step_s: float = 60.0, seed: int = 0) -> FieldLoad:
    """
    A realistic load for ``days`` days at ``step_s`` steps, deterministic under ``seed``.

    Parameters
    ----------
    days : float
        Length of the field period, > 0. [d]
    lines : int
        1 or 2 lines. [1]
    step_s : float
        Step length, 1 to 3600 s. [s]
    seed : int
        Seed of the random appliance events and voltage wander.

    Returns
    -------
    FieldLoad

    Notes
    -----
    Per line, the current is a base load of 1.5 A, a daily shape (peaks of 12 A at 07:00 and 25 A at
    19:00 on a 3 A day load, Gaussian in time), and appliances of 5 to 30 A switching on at random
    (about two an hour per line) for 2 to 20 minutes; capped at 200 A (the meter's class, certificate
    p.1). The voltage wanders within 114–126 V; the power factor is 0.8–0.99 lagging, lower at light load.
    """
    if not (np.isfinite(days) and days > 0):
        raise ValueError(f"days must be finite and > 0, got {days!r}")
    if lines not in (1, 2):
        raise ValueError(f"lines must be 1 or 2, got {lines!r}")
    if not (np.isfinite(step_s) and 1.0 <= step_s <= 3600.0):
        raise ValueError(f"step_s must be in [1, 3600], got {step_s!r}")
    rng = np.random.default_rng(seed)
    n = max(1, round(days * 86400.0 / step_s))
    t = np.arange(n) * step_s
    hour = (t / 3600.0) % 24.0

    def bump(centre_h: float, width_h: float) -> FloatArray:
        d = (hour - centre_h + 12.0) % 24.0 - 12.0
        result: FloatArray = np.exp(-0.5 * (d / width_h) ** 2)
        return result

    daily = 1.5 + 3.0 * bump(13.0, 4.0) + 12.0 * bump(7.0, 1.0) + 25.0 * bump(19.0, 1.5)
    current = np.empty((lines, n))
    voltage = np.empty((lines, n))
    for line in range(lines):
        events = rng.poisson(2.0 * n * step_s / 3600.0)
        starts = rng.integers(0, n, size=events)
        lengths = np.maximum(1, (rng.uniform(120.0, 1200.0, size=events) / step_s).astype(np.int64))
        amps = rng.uniform(5.0, 30.0, size=events)
        delta = np.zeros(n + 1)
        np.add.at(delta, starts, amps)
        np.add.at(delta, np.minimum(starts + lengths, n), -amps)
        appliances = np.cumsum(delta)[:n]
        current[line] = np.clip(daily * rng.uniform(0.9, 1.1) + appliances, 0.0, 200.0)
        wander = np.cumsum(rng.normal(0.0, 0.05, size=n))
        wander -= np.linspace(0.0, wander[-1], n)  # a bridge: the voltage returns to its mean
        voltage[line] = np.clip(120.0 + wander, 114.0, 126.0)
    pf = np.clip(0.8 + 0.19 * np.minimum(current / 20.0, 1.0), 0.8, 0.99)
    phase = np.rad2deg(np.arccos(pf))
    return FieldLoad(step_s=float(step_s), voltage_v=voltage, current_a=current, phase_deg=phase)
