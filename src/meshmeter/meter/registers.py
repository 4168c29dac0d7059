"""Energy and demand registers (manual §3.2, Table 3; docs/conventions.md "Intervals").

The LCD of the meter shows total kWh, kW demand and instantaneous kW (manual §3.2, Table 3).
This module holds what stands behind the first two:

* :class:`EnergyRegister` keeps an integer number of watt-hours and a fractional residue in
  [0, 1) Wh, and adds increments *exactly*, so nothing drifts however small the increments
  and however long the run.
* Pure functions over a time series of step energies: :func:`interval_energy_wh`,
  :func:`block_demand_kw`, :func:`rolling_demand_kw`, :func:`max_demand_kw`.
* :class:`DemandRegister`, the incremental (stateful) counterpart of those functions.

Time series convention
----------------------
A series is a run of contiguous *steps*: step ``i`` covers ``(time_s[i-1], time_s[i]]`` with
``time_s[-1]`` read as ``start_s``, so ``time_s`` holds the step **end** times and ``start_s``
the start of the first step. ``energy_wh[i]`` is the energy of step ``i``. Power is constant
within a step, so a step that straddles an interval boundary is split in proportion to time.
Steps need not be of equal length.

An interval is named by its end (docs/conventions.md): the interval of length ``interval_s``
ending at ``(k + 1) * interval_s`` covers ``(k * interval_s, (k + 1) * interval_s]``; intervals
are aligned on multiples of ``interval_s`` of ``time_s``. Only *complete* intervals, wholly
inside ``[start_s, time_s[-1]]``, are reported.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DemandRegister",
    "EnergyRegister",
    "block_demand_kw",
    "interval_energy_wh",
    "max_demand_kw",
    "rolling_demand_kw",
]

# Every finite float is an integer multiple of 2**-1074 (the smallest subnormal), so the
# residue is kept as an exact integer count of these units.
_SCALE_BITS = 1074
_SCALE = 1 << _SCALE_BITS
_MASK = _SCALE - 1
_RESIDUE_MAX = math.nextafter(1.0, 0.0)
# Chunk of increments summed at once by add_many: bounds memory, keeps bincount sums exact.
_CHUNK = 1 << 20
_WH_PER_KW_S = 3.6  # 1 Wh / 1 s = 3600 W = 3.6 kW
_DEMAND_TIE = 1e-9
"""Demands closer than this, relative to the larger, are one demand: the maximum stays at the first that
reached it. Equal power gives equal demands only up to rounding, and the step-by-step and the vectorised
feeds (and the series functions) sum a block's energy in different orders, so without it their maximum's
time could land on different intervals of a flat load. [1]"""


def _exceeds(demand: float, current: float) -> bool:
    """Whether ``demand`` is a new maximum over ``current``: larger by more than :data:`_DEMAND_TIE`."""
    return demand > current + _DEMAND_TIE * abs(current)


def _first_max(demand: NDArray[np.float64]) -> int:
    """Index of the first demand within :data:`_DEMAND_TIE` of the largest (a non-empty series)."""
    top = float(np.max(demand))
    return int(np.argmax(demand >= top - _DEMAND_TIE * abs(top)))


def _float_units(x: float) -> int:
    """Exact value of the float ``x`` in units of 2**-1074 [1]."""
    num, den = x.as_integer_ratio()
    return num << (_SCALE_BITS - (den.bit_length() - 1))


def _shift(value: int, bits: int) -> int:
    return value << bits if bits >= 0 else value >> -bits


def _exact_sum_units(values: NDArray[np.float64]) -> int:
    """Exact sum of finite floats, in units of 2**-1074 [1].

    Each float is ``m * 2**(e - 53)`` with ``m`` an integer of at most 53 bits (``numpy.frexp``).
    ``m`` is split into a high and a low part of at most 27 and 26 bits; the parts are summed per
    exponent with ``numpy.bincount`` (exact: the partial sums stay below 2**53), and the few
    per-exponent totals are combined with Python integers.
    """
    n_bins = 2100  # frexp exponents of finite floats lie in [-1073, 1024]
    hi_total = np.zeros(n_bins, dtype=np.int64)
    lo_total = np.zeros(n_bins, dtype=np.int64)
    for start in range(0, values.size, _CHUNK):
        chunk = values[start : start + _CHUNK]
        mant, expo = np.frexp(chunk)
        m = (mant * 2.0**53).astype(np.int64)
        hi = m >> 26
        lo = m & ((1 << 26) - 1)
        idx = expo + 1073
        hi_total += np.bincount(idx, weights=hi.astype(np.float64), minlength=n_bins).astype(np.int64)
        lo_total += np.bincount(idx, weights=lo.astype(np.float64), minlength=n_bins).astype(np.int64)
    total = 0
    for j in np.flatnonzero((hi_total != 0) | (lo_total != 0)):
        e = int(j) - 1073
        part = (int(hi_total[j]) << 26) + int(lo_total[j])
        # value = part * 2**(e - 53); in units of 2**-1074 that is part << (e - 53 + 1074)
        total += _shift(part, e + _SCALE_BITS - 53)
    return total


class EnergyRegister:
    """An energy register: integer watt-hours plus a fractional residue (manual §3.2).

    The register holds the exact sum of every increment it was given: ``energy_wh`` is the
    floor of that sum and ``residue_wh`` the rest, in [0, 1). Increments are added with exact
    integer arithmetic (every float is a multiple of 2**-1074 Wh), so the integer part never
    drifts and :meth:`add` and :meth:`add_many` agree exactly. Energy registers of a revenue
    meter are not resettable, and this one offers no reset.

    Parameters
    ----------
    energy_wh : int, default 0
        Starting integer value. [Wh]
    residue_wh : float, default 0.0
        Starting residue, in [0, 1). [Wh]
    signed : bool, default True
        True for a signed (net) element register that accepts negative increments; False for
        a register that never runs backwards (the total register, docs/conventions.md), which
        refuses negative increments and a negative start.

    Notes
    -----
    Negative increments use floor semantics: the residue stays in [0, 1), so a register at
    0 Wh given -0.25 Wh holds ``energy_wh == -1`` and ``residue_wh == 0.75``.
    """

    __slots__ = ("_energy_wh", "_residue_units", "_signed")

    def __init__(self, energy_wh: int = 0, residue_wh: float = 0.0, *, signed: bool = True) -> None:
        if isinstance(energy_wh, bool) or not isinstance(energy_wh, int | np.integer):
            raise ValueError(f"energy_wh must be an integer, got {energy_wh!r}")
        residue = float(residue_wh)
        if not (math.isfinite(residue) and 0.0 <= residue < 1.0):
            raise ValueError(f"residue_wh must be in [0, 1), got {residue_wh!r}")
        if not signed and energy_wh < 0:
            raise ValueError(f"energy_wh must be >= 0 for an unsigned register, got {energy_wh!r}")
        self._energy_wh = int(energy_wh)
        self._residue_units = _float_units(residue)
        self._signed = bool(signed)

    @property
    def energy_wh(self) -> int:
        """Integer part of the register. [Wh]"""
        return self._energy_wh

    @property
    def residue_wh(self) -> float:
        """Fractional residue, in [0, 1), rounded to the nearest float below 1. [Wh]"""
        return min(self._residue_units / _SCALE, _RESIDUE_MAX)

    @property
    def value_wh(self) -> float:
        """Whole value ``energy_wh + residue_wh``, correctly rounded to a float. [Wh]"""
        return ((self._energy_wh << _SCALE_BITS) + self._residue_units) / _SCALE

    @property
    def signed(self) -> bool:
        """Whether the register accepts negative increments."""
        return self._signed

    def _carry(self, units: int) -> int:
        total = self._residue_units + units
        whole = total >> _SCALE_BITS  # floor, also for negative totals
        self._energy_wh += whole
        self._residue_units = total & _MASK
        return whole

    def add(self, energy_wh: float) -> int:
        """Add one increment of energy.

        Parameters
        ----------
        energy_wh : float
            Energy to add; negative only for a signed register. [Wh]

        Returns
        -------
        carried_wh : int
            Whole watt-hours carried into ``energy_wh`` by this call (negative when a negative
            increment borrows). [Wh]

        Raises
        ------
        ValueError
            If ``energy_wh`` is not finite, or negative for an unsigned register. The register
            is left unchanged.
        """
        value = float(energy_wh)
        if not math.isfinite(value):
            raise ValueError(f"energy_wh must be finite, got {energy_wh!r}")
        if not self._signed and value < 0.0:
            raise ValueError(f"energy_wh must be >= 0 for an unsigned register, got {energy_wh!r}")
        return self._carry(_float_units(value))

    def add_many(self, increments: ArrayLike) -> int:
        """Add many increments at once (vectorised, exact).

        Gives exactly the same ``energy_wh`` and ``residue_wh`` as calling :meth:`add` on each
        increment in turn.

        Parameters
        ----------
        increments : array-like of float
            Energies to add. [Wh]

        Returns
        -------
        carried_wh : int
            Whole watt-hours carried into ``energy_wh`` by this call. [Wh]

        Raises
        ------
        ValueError
            If an increment is not finite, or negative for an unsigned register. The register
            is left unchanged.
        """
        values = np.asarray(increments, dtype=np.float64).ravel()
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(f"increments must be finite, got {values[bad][0]!r} at index {np.argmax(bad)}")
        if not self._signed and (values < 0.0).any():
            neg = values < 0.0
            raise ValueError(
                f"increments must be >= 0 for an unsigned register, got {values[neg][0]!r} "
                f"at index {np.argmax(neg)}"
            )
        if not values.any():  # nothing to add (a received register, most of the time)
            return 0
        return self._carry(_exact_sum_units(values))

    def __repr__(self) -> str:
        return (
            f"EnergyRegister(energy_wh={self._energy_wh}, residue_wh={self.residue_wh!r}, "
            f"signed={self._signed})"
        )


# --------------------------------------------------------------------------- demand


def _as_1d(name: str, values: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name} must be finite, got {arr[i]!r} at index {i}")
    return arr


def _check_positive(name: str, value: float) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0.0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return v


def _check_finite(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def _first_interval(start_s: float, interval_s: float) -> int:
    """Smallest ``k`` with ``k * interval_s >= start_s`` (products as floats)."""
    k = math.ceil(start_s / interval_s)
    while float(k) * interval_s < start_s:
        k += 1
    while float(k - 1) * interval_s >= start_s:
        k -= 1
    return k


def _last_interval(end_s: float, interval_s: float) -> int:
    """Largest ``k`` with ``k * interval_s <= end_s`` (products as floats)."""
    k = math.floor(end_s / interval_s)
    while float(k) * interval_s > end_s:
        k -= 1
    while float(k + 1) * interval_s <= end_s:
        k += 1
    return k


def _check_series(
    time_s: ArrayLike, energy_wh: ArrayLike, start_s: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    t = _as_1d("time_s", time_s)
    e = _as_1d("energy_wh", energy_wh)
    if t.shape != e.shape:
        raise ValueError(f"time_s and energy_wh must have the same length, got {t.size} and {e.size}")
    start = _check_finite("start_s", start_s)
    if t.size:
        if t[0] <= start:
            raise ValueError(f"time_s[0] must be > start_s, got {t[0]!r} <= {start!r}")
        steps = np.diff(t)
        if (steps <= 0.0).any():
            i = int(np.argmax(steps <= 0.0))
            raise ValueError(
                f"time_s must be strictly increasing, got {t[i + 1]!r} after {t[i]!r} at index {i + 1}"
            )
    return t, e, start


def interval_energy_wh(
    time_s: ArrayLike, energy_wh: ArrayLike, *, start_s: float, interval_s: float = 900.0
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Energy of each complete interval of a series of steps (docs/conventions.md "Intervals").

    Parameters
    ----------
    time_s : array-like of float
        End time of each step, strictly increasing. [s]
    energy_wh : array-like of float
        Energy of each step (signed). [Wh]
    start_s : float
        Start time of the first step; must be before ``time_s[0]``. [s]
    interval_s : float, default 900.0
        Interval length; intervals are aligned on multiples of it. [s]

    Returns
    -------
    interval_end_s : ndarray of float64
        End time of each complete interval. [s]
    energy_wh : ndarray of float64
        Energy registered in each interval. [Wh]

    Notes
    -----
    Power is constant within a step, so a step that straddles a boundary contributes to each
    side the fraction ``piece_s / step_s`` of its energy. An interval ``(k I, (k+1) I]`` is
    complete when ``start_s <= k I`` and ``(k+1) I <= time_s[-1]``.
    """
    t1, e, start = _check_series(time_s, energy_wh, start_s)
    step_i = _check_positive("interval_s", interval_s)
    empty = np.zeros(0, dtype=np.float64)
    if t1.size == 0:
        return empty, empty.copy()
    k_first = _first_interval(start, step_i)
    k_last = _last_interval(float(t1[-1]), step_i)
    n = k_last - k_first
    if n <= 0:
        return empty, empty.copy()
    t0 = np.concatenate(([start], t1[:-1]))
    ks = np.arange(k_first, k_last + 1, dtype=np.float64)
    boundaries = ks * step_i
    points = np.union1d(np.concatenate(([start], t1)), boundaries)
    piece_start = points[:-1]
    piece_end = points[1:]
    step = np.searchsorted(t1, piece_end, side="left")
    piece_e = e[step] * ((piece_end - piece_start) / (t1[step] - t0[step]))
    block = np.floor(((piece_start + piece_end) / 2.0) / step_i).astype(np.int64) - k_first
    keep = (block >= 0) & (block < n)
    sums = np.bincount(block[keep], weights=piece_e[keep], minlength=n)
    return boundaries[1:].copy(), sums.astype(np.float64)


def block_demand_kw(
    time_s: ArrayLike, energy_wh: ArrayLike, *, start_s: float, interval_s: float = 900.0
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Block demand: average power over each complete demand interval (manual §3.2, Table 3).

    Parameters
    ----------
    time_s : array-like of float
        End time of each step, strictly increasing. [s]
    energy_wh : array-like of float
        Energy of each step (signed). [Wh]
    start_s : float
        Start time of the first step. [s]
    interval_s : float, default 900.0
        Demand interval, 15 minutes by default, aligned on multiples of it. [s]

    Returns
    -------
    interval_end_s : ndarray of float64
        End time of each complete interval. [s]
    demand_kw : ndarray of float64
        ``energy_wh * 3.6 / interval_s`` of each interval. [kW]

    See Also
    --------
    interval_energy_wh : the series convention and how straddling steps are split.
    """
    ends, energy = interval_energy_wh(time_s, energy_wh, start_s=start_s, interval_s=interval_s)
    return ends, energy * _WH_PER_KW_S / float(interval_s)


def rolling_demand_kw(
    time_s: ArrayLike,
    energy_wh: ArrayLike,
    *,
    start_s: float,
    subinterval_s: float = 300.0,
    subintervals: int = 3,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Rolling (sliding-window) demand (manual §3.2; docs/conventions.md "Intervals").

    The average power over the last ``subintervals`` complete sub-intervals, one value per
    completed sub-interval once that many exist: by default the last three 5-minute
    sub-intervals, updated every 5 minutes.

    Parameters
    ----------
    time_s : array-like of float
        End time of each step, strictly increasing. [s]
    energy_wh : array-like of float
        Energy of each step (signed). [Wh]
    start_s : float
        Start time of the first step. [s]
    subinterval_s : float, default 300.0
        Sub-interval length, aligned on multiples of it. [s]
    subintervals : int, default 3
        Number of sub-intervals in the window. [1]

    Returns
    -------
    subinterval_end_s : ndarray of float64
        End time of the last sub-interval of each window. [s]
    demand_kw : ndarray of float64
        ``sum(window energy) * 3.6 / (subintervals * subinterval_s)``. [kW]
    """
    m = _check_subintervals(subintervals)
    ends, energy = interval_energy_wh(time_s, energy_wh, start_s=start_s, interval_s=subinterval_s)
    count = energy.size - m + 1
    if count <= 0:
        return np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.float64)
    window = energy[0:count].copy()
    for j in range(1, m):  # left-to-right, the same order as DemandRegister
        window += energy[j : j + count]
    return ends[m - 1 :].copy(), window * _WH_PER_KW_S / (m * float(subinterval_s))


def _check_subintervals(subintervals: int) -> int:
    if isinstance(subintervals, bool) or not isinstance(subintervals, int | np.integer) or subintervals < 1:
        raise ValueError(f"subintervals must be an integer >= 1, got {subintervals!r}")
    return int(subintervals)


def max_demand_kw(interval_end_s: ArrayLike, demand_kw: ArrayLike) -> tuple[float, float | None]:
    """Maximum demand and when it occurred (manual §3.2).

    A maximum-demand register starts at zero, so the result is ``(0.0, None)`` when there is no
    interval or no demand above zero.

    Parameters
    ----------
    interval_end_s : array-like of float
        End time of each interval. [s]
    demand_kw : array-like of float
        Demand of each interval. [kW]

    Returns
    -------
    max_demand_kw : float
        Largest demand, at least 0. [kW]
    max_demand_time_s : float or None
        End of the first interval that reached it (demands within a relative 1e-9 of each other are
        equal). [s]
    """
    ends = _as_1d("interval_end_s", interval_end_s)
    demand = _as_1d("demand_kw", demand_kw)
    if ends.shape != demand.shape:
        raise ValueError(
            f"interval_end_s and demand_kw must have the same length, got {ends.size} and {demand.size}"
        )
    if demand.size == 0:
        return 0.0, None
    i = _first_max(demand)
    if not _exceeds(float(demand[i]), 0.0):
        return 0.0, None
    return float(demand[i]), float(ends[i])


class _Accumulator:
    """Energy of the current aligned interval, fed by pieces of steps."""

    __slots__ = ("complete", "energy_wh", "interval_s", "k")

    def __init__(self, start_s: float, interval_s: float) -> None:
        self.interval_s = interval_s
        k = _first_interval(start_s, interval_s)
        self.complete = float(k) * interval_s == start_s
        # the interval that contains the time just after start_s
        self.k = k if self.complete else k - 1
        self.energy_wh = 0.0

    def feed(self, t0: float, t1: float, energy_wh: float) -> list[tuple[float, float]]:
        """Feed the step ``(t0, t1]``; return ``(end_s, energy_wh)`` of completed intervals."""
        done: list[tuple[float, float]] = []
        t = t0
        duration = t1 - t0
        while True:
            boundary = float(self.k + 1) * self.interval_s
            if t1 < boundary:
                self.energy_wh += energy_wh * ((t1 - t) / duration)
                return done
            self.energy_wh += energy_wh * ((boundary - t) / duration)
            if self.complete:
                done.append((boundary, self.energy_wh))
            self.k += 1
            self.energy_wh = 0.0
            self.complete = True
            t = boundary
            if t1 == boundary:
                return done


class DemandRegister:
    """Block and rolling demand with a resettable maximum (manual §3.2, Table 3).

    Fed incrementally with the energy of contiguous steps; agrees with
    :func:`block_demand_kw`, :func:`rolling_demand_kw` and :func:`max_demand_kw` over the same
    steps (see the module docstring for the series convention).

    Parameters
    ----------
    start_s : float, default 0.0
        Start time of the first step. [s]
    interval_s : float, default 900.0
        Block demand interval, aligned on its multiples. [s]
    subinterval_s : float, default 300.0
        Rolling demand sub-interval, aligned on its multiples. [s]
    subintervals : int, default 3
        Sub-intervals in the rolling window. [1]
    max_of : {"block", "rolling"}, default "block"
        Which demand the maximum-demand register follows. The manual is silent; the block
        demand is the usual billing quantity.
    """

    def __init__(
        self,
        start_s: float = 0.0,
        interval_s: float = 900.0,
        subinterval_s: float = 300.0,
        subintervals: int = 3,
        *,
        max_of: Literal["block", "rolling"] = "block",
    ) -> None:
        start = _check_finite("start_s", start_s)
        self._interval_s = _check_positive("interval_s", interval_s)
        self._subinterval_s = _check_positive("subinterval_s", subinterval_s)
        self._subintervals = _check_subintervals(subintervals)
        if max_of not in ("block", "rolling"):
            raise ValueError(f"max_of must be 'block' or 'rolling', got {max_of!r}")
        self._max_of = max_of
        self._time_s = start
        self._block = _Accumulator(start, self._interval_s)
        self._sub = _Accumulator(start, self._subinterval_s)
        self._window: deque[float] = deque(maxlen=self._subintervals)
        self._block_demand_kw: float | None = None
        self._block_end_s: float | None = None
        self._rolling_demand_kw: float | None = None
        self._rolling_end_s: float | None = None
        self._max_demand_kw = 0.0
        self._max_demand_time_s: float | None = None
        self._max_demand_resets = 0

    @property
    def time_s(self) -> float:
        """End of the last step fed (``start_s`` before the first). [s]"""
        return self._time_s

    @property
    def block_demand_kw(self) -> float | None:
        """Demand of the last completed block, None before the first. [kW]"""
        return self._block_demand_kw

    @property
    def block_demand_end_s(self) -> float | None:
        """End of the last completed block. [s]"""
        return self._block_end_s

    @property
    def rolling_demand_kw(self) -> float | None:
        """Last completed rolling demand, None until a full window exists. [kW]"""
        return self._rolling_demand_kw

    @property
    def rolling_demand_end_s(self) -> float | None:
        """End of the last sub-interval of the last completed rolling window. [s]"""
        return self._rolling_end_s

    @property
    def max_demand_kw(self) -> float:
        """Maximum demand since the last reset, 0 after a reset. [kW]"""
        return self._max_demand_kw

    @property
    def max_demand_time_s(self) -> float | None:
        """End of the interval at which the maximum demand was reached. [s]"""
        return self._max_demand_time_s

    @property
    def max_demand_resets(self) -> int:
        """Number of maximum-demand resets. [1]"""
        return self._max_demand_resets

    def _offer_max(self, end_s: float, demand: float) -> None:
        if _exceeds(demand, self._max_demand_kw):
            self._max_demand_kw = demand
            self._max_demand_time_s = end_s

    def add(self, time_s_end: float, energy_wh: float) -> None:
        """Feed one step ending at ``time_s_end`` that follows the previous one.

        Parameters
        ----------
        time_s_end : float
            End of the step; after the end of the previous step (or ``start_s``). [s]
        energy_wh : float
            Energy of the step, delivered at constant power over it (signed). [Wh]

        Raises
        ------
        ValueError
            If an argument is not finite or ``time_s_end`` does not advance; nothing changes.
        """
        t1 = _check_finite("time_s_end", time_s_end)
        e = _check_finite("energy_wh", energy_wh)
        if t1 <= self._time_s:
            raise ValueError(f"time_s_end must be > the previous end {self._time_s!r}, got {time_s_end!r}")
        t0 = self._time_s
        for end_s, block_e in self._block.feed(t0, t1, e):
            demand = block_e * _WH_PER_KW_S / self._interval_s
            self._block_demand_kw = demand
            self._block_end_s = end_s
            if self._max_of == "block":
                self._offer_max(end_s, demand)
        for end_s, sub_e in self._sub.feed(t0, t1, e):
            self._window.append(sub_e)
            if len(self._window) == self._subintervals:
                total = 0.0
                for x in self._window:
                    total += x
                demand = total * _WH_PER_KW_S / (self._subintervals * self._subinterval_s)
                self._rolling_demand_kw = demand
                self._rolling_end_s = end_s
                if self._max_of == "rolling":
                    self._offer_max(end_s, demand)
        self._time_s = t1

    def add_many(self, time_s_end: ArrayLike, energy_wh: ArrayLike) -> None:
        """Feed many contiguous steps at once; the same as :meth:`add` on each, vectorised.

        Power is constant within a step, so the cumulative energy is linear between step ends
        and the energy up to every interval boundary is read off it by interpolation: a month of
        1 s steps costs a few array passes, not millions of calls.

        Parameters
        ----------
        time_s_end : array-like of float
            End of each step, strictly increasing, the first after the previous end. [s]
        energy_wh : array-like of float
            Energy of each step (signed). [Wh]

        Raises
        ------
        ValueError
            On non-finite values, mismatched lengths or times that do not advance; nothing
            changes.
        """
        t, e, t0 = _check_series(time_s_end, energy_wh, self._time_s)
        if t.size == 0:
            return
        times = np.concatenate(([t0], t))
        cumulative = np.concatenate(([0.0], np.cumsum(e)))
        blocks = self._bulk_feed(self._block, times, cumulative)
        subs = self._bulk_feed(self._sub, times, cumulative)
        if blocks[0].size:
            demand = blocks[1] * _WH_PER_KW_S / self._interval_s
            self._block_demand_kw = float(demand[-1])
            self._block_end_s = float(blocks[0][-1])
            if self._max_of == "block":
                i = _first_max(demand)
                self._offer_max(float(blocks[0][i]), float(demand[i]))
        if subs[0].size:
            window = np.concatenate((np.asarray(self._window, dtype=np.float64), subs[1]))
            n_old = len(self._window)
            csum = np.concatenate(([0.0], np.cumsum(window)))
            last_index = np.arange(n_old, window.size)  # index in ``window`` of each new sub-interval
            full = last_index >= self._subintervals - 1
            if full.any():
                idx = last_index[full]
                totals = csum[idx + 1] - csum[idx + 1 - self._subintervals]
                demand = totals * _WH_PER_KW_S / (self._subintervals * self._subinterval_s)
                ends = subs[0][full]
                self._rolling_demand_kw = float(demand[-1])
                self._rolling_end_s = float(ends[-1])
                if self._max_of == "rolling":
                    i = _first_max(demand)
                    self._offer_max(float(ends[i]), float(demand[i]))
            self._window.clear()
            self._window.extend(float(x) for x in window[-self._subintervals :])
        self._time_s = float(t[-1])

    @staticmethod
    def _bulk_feed(
        acc: _Accumulator, times: NDArray[np.float64], cumulative: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Advance an accumulator over a whole curve; return (end_s, energy_wh) of completed intervals."""
        last_k = _last_interval(float(times[-1]), acc.interval_s)
        ks = np.arange(acc.k + 1, last_k + 1, dtype=np.float64)
        if ks.size == 0:
            acc.energy_wh += float(cumulative[-1])
            return np.zeros(0), np.zeros(0)
        bounds = ks * acc.interval_s
        at = np.interp(bounds, times, cumulative)
        energy = np.diff(np.concatenate(([0.0], at)))
        energy[0] += acc.energy_wh
        complete = np.ones(ks.size, dtype=bool)
        complete[0] = acc.complete
        acc.k = last_k
        acc.complete = True
        acc.energy_wh = float(cumulative[-1] - at[-1])
        return bounds[complete], energy[complete]

    def reset_max_demand(self) -> float:
        """Reset the maximum demand to zero.

        Returns
        -------
        cleared_kw : float
            The maximum demand that was cleared. [kW]
        """
        cleared = self._max_demand_kw
        self._max_demand_kw = 0.0
        self._max_demand_time_s = None
        self._max_demand_resets += 1
        return cleared
