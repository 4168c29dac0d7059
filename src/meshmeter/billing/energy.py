"""Energy-management figures: daily and monthly consumption, the average load profile by hour of day, top
consumers, and the comparison with the previous period (``docs/billing.md``).

Pure functions over interval columns. Each interval counts in the local day, month and hour of its start
instant, as for the tariff periods (:mod:`meshmeter.billing.calendar`); with quality codes given, only the
intervals a bill would bill are counted. A meter's intervals all have its length ``interval_s`` (300, 900 by
default, 1800 or 3600 s); an interval covers ``(end - interval_s, end]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from meshmeter.billing.calendar import INTERVAL_S, LocalCalendar, check_interval_s, grid_name, local_calendar
from meshmeter.billing.engine import BILLED_QUALITIES, MAX_QUALITY

__all__ = [
    "Comparison",
    "average_load_profile",
    "compare_periods",
    "daily_consumption",
    "monthly_consumption",
    "top_consumers",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def _columns(
    interval_end_s: npt.ArrayLike, energy_wh: npt.ArrayLike, quality: npt.ArrayLike | None, interval_s: int
) -> tuple[IntArray, IntArray]:
    ends = np.asarray(interval_end_s, dtype=np.int64)
    energy = np.asarray(energy_wh)
    if ends.ndim != 1 or energy.shape != ends.shape:
        raise ValueError(
            f"interval_end_s and energy_wh must be one-dimensional of one length, got {ends.shape} and"
            f" {energy.shape}"
        )
    if energy.size and not np.issubdtype(energy.dtype, np.integer):
        raise ValueError(f"energy_wh must be integer Wh, got dtype {energy.dtype}")
    if ends.size and (ends % interval_s).any():
        raise ValueError(
            f"interval_end_s must be on the {grid_name(interval_s)} grid,"
            f" got {int(ends[(ends % interval_s) != 0][0])}"
        )
    energy = energy.astype(np.int64)
    if quality is not None:
        q = np.asarray(quality)
        if q.shape != ends.shape or (q.size and (q.min() < 0 or q.max() > MAX_QUALITY)):
            raise ValueError(f"quality must hold one ESPI code (0 to {MAX_QUALITY}) per interval")
        keep = np.isin(q, sorted(BILLED_QUALITIES))
        ends, energy = ends[keep], energy[keep]
    return ends, energy


def _energy_by(
    interval_end_s: npt.ArrayLike,
    energy_wh: npt.ArrayLike,
    quality: npt.ArrayLike | None,
    timezone: str,
    key: Callable[[LocalCalendar], IntArray],
    interval_s: int,
) -> tuple[IntArray, IntArray]:
    """The distinct local keys (days, months) of the intervals, in order, and the energy of each. [Wh]"""
    step = check_interval_s(interval_s)
    ends, energy = _columns(interval_end_s, energy_wh, quality, step)
    keys, inverse = np.unique(key(local_calendar(ends, timezone, None, interval_s=step)), return_inverse=True)
    totals = np.zeros(keys.size, dtype=np.int64)
    np.add.at(totals, inverse.ravel(), energy)
    return keys, totals


def daily_consumption(
    interval_end_s: npt.ArrayLike,
    energy_wh: npt.ArrayLike,
    *,
    timezone: str,
    quality: npt.ArrayLike | None = None,
    interval_s: int = INTERVAL_S,
) -> tuple[list[date], IntArray]:
    """
    Energy per local calendar day.

    Parameters
    ----------
    interval_end_s : array-like of int
        Interval ends, seconds since the Unix epoch. [s]
    energy_wh : array-like of int
        Energy of each interval. [Wh]
    timezone : str
        IANA time zone of the days.
    quality : array-like of int, optional
        ESPI codes; when given only billed intervals count.
    interval_s : int
        Length of each interval: 300, 900 (default), 1800 or 3600. [s]

    Returns
    -------
    days : list of date
        The local days that have intervals, in order.
    energy_wh : ndarray of int64
        Energy of each day. [Wh]
    """
    days, totals = _energy_by(interval_end_s, energy_wh, quality, timezone, lambda cal: cal.day, interval_s)
    return [date.fromordinal(int(d)) for d in days], totals


def monthly_consumption(
    interval_end_s: npt.ArrayLike,
    energy_wh: npt.ArrayLike,
    *,
    timezone: str,
    quality: npt.ArrayLike | None = None,
    interval_s: int = INTERVAL_S,
) -> tuple[list[str], IntArray]:
    """
    Energy per local calendar month (parameters as :func:`daily_consumption`).

    Returns
    -------
    months : list of str
        ``YYYY-MM`` of each month that has intervals, in order.
    energy_wh : ndarray of int64
        Energy of each month. [Wh]
    """
    keys, totals = _energy_by(
        interval_end_s, energy_wh, quality, timezone, lambda cal: cal.month_key, interval_s
    )
    return [f"{int(k) // 12:04d}-{int(k) % 12 + 1:02d}" for k in keys], totals


def average_load_profile(
    interval_end_s: npt.ArrayLike,
    energy_wh: npt.ArrayLike,
    *,
    timezone: str,
    quality: npt.ArrayLike | None = None,
    interval_s: int = INTERVAL_S,
) -> FloatArray:
    """
    Average demand by local hour of day (parameters as :func:`daily_consumption`).

    Notes
    -----
    ``P_h = Σ E_i / (N_h × interval_s / 3600 h) / 1000`` over the ``N_h`` intervals whose start lies in
    local hour ``h``: the mean block demand of the meter's intervals in that hour (15-minute demand by
    default, hourly demand for hourly data).

    Returns
    -------
    ndarray of float64, shape (24,)
        Average demand in each local hour, 0 to 23; NaN for an hour with no interval. [kW]
    """
    step = check_interval_s(interval_s)
    ends, energy = _columns(interval_end_s, energy_wh, quality, step)
    cal = local_calendar(ends, timezone, None, interval_s=step)
    wh = np.bincount(cal.hour, weights=energy.astype(np.float64), minlength=24)
    n = np.bincount(cal.hour, minlength=24)
    with np.errstate(invalid="ignore", divide="ignore"):
        kw: FloatArray = wh / (n * (step / 3600.0)) / 1000.0
    return kw


def top_consumers(totals_wh: Mapping[str, int], n: int = 10) -> list[tuple[str, int, Decimal]]:
    """
    The largest consumers and their share of the whole.

    Parameters
    ----------
    totals_wh : mapping of str to int
        Energy of each meter or tenant. [Wh]
    n : int
        How many to return, at least 1.

    Returns
    -------
    list of (name, energy_wh, share)
        Largest first (ties by name); ``share`` of the sum of all, 0 to 1. [Wh], [1]
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    for name, wh in totals_wh.items():
        if isinstance(wh, bool) or not isinstance(wh, (int, np.integer)) or wh < 0:
            raise ValueError(f"totals_wh[{name!r}] must be non-negative integer Wh, got {wh!r}")
    whole = sum(int(v) for v in totals_wh.values())
    ranked = sorted(totals_wh.items(), key=lambda kv: (-int(kv[1]), kv[0]))[:n]
    return [
        (name, int(wh), Decimal(0) if whole == 0 else Decimal(int(wh)) / Decimal(whole))
        for name, wh in ranked
    ]


@dataclass(frozen=True, slots=True)
class Comparison:
    """
    A period against the one before.

    Attributes
    ----------
    current_wh, previous_wh : int
        Energy of each period. [Wh]
    change_wh : int
        ``current_wh - previous_wh``. [Wh]
    change_ratio : Decimal or None
        ``change_wh / previous_wh``; None when the previous period had no energy. [1]
    current_daily_wh, previous_daily_wh : Decimal
        Energy per day of each period, so periods of different lengths compare. [Wh/day]
    """

    current_wh: int
    previous_wh: int
    change_wh: int
    change_ratio: Decimal | None
    current_daily_wh: Decimal
    previous_daily_wh: Decimal


def compare_periods(
    current_wh: int, previous_wh: int, *, current_days: int, previous_days: int
) -> Comparison:
    """
    Compare a period's energy with the previous period's.

    Parameters
    ----------
    current_wh, previous_wh : int
        Energy of each period. [Wh]
    current_days, previous_days : int
        Length of each period, at least 1. [day]
    """
    for name, value in (("current_wh", current_wh), ("previous_wh", previous_wh)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be non-negative integer Wh, got {value!r}")
    for name, value in (("current_days", current_days), ("previous_days", previous_days)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    change = int(current_wh) - int(previous_wh)
    return Comparison(
        current_wh=int(current_wh),
        previous_wh=int(previous_wh),
        change_wh=change,
        change_ratio=None if previous_wh == 0 else Decimal(change) / Decimal(int(previous_wh)),
        current_daily_wh=Decimal(int(current_wh)) / current_days,
        previous_daily_wh=Decimal(int(previous_wh)) / previous_days,
    )
