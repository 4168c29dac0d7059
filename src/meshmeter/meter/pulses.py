"""Pulse outputs and LEDs (manual §3.2 Tables 2B and 3; certificate p.2 "Operation").

Convention (docs/conventions.md "Pulse outputs"): an output of constant Kh changes state every
Kh/2 of registered energy. It is open (off) at zero energy, closes (on) at Kh/2, opens at Kh,
and so on: 50 % duty, "5 watthours on, 5 watthours off" for the "10" output (manual Table 2B).
Edge number ``k`` (``k = 1, 2, ...``) happens when the cumulative energy reaches ``k * Kh/2``;
odd edges are closures, even edges openings, and edge ``2 m`` completes pulse ``m``.

* Pure, vectorised: :func:`edge_count`, :func:`pulses_from_energy`, :func:`output_state`,
  :func:`pulse_edge_times`.
* Stateful: :class:`PulseOutput` (the isolated 10 / 100 / 1000 outputs and the counter
  output), :class:`LoadLed` (Kt = 10, certificate p.2) and :class:`PowerLed`.

Edge energies are always the exact integer multiples ``k * (Kh/2)`` with ``k`` an int64, never
an accumulated float, so edges do not drift over long runs.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from meshmeter.meter.registers import EnergyRegister

__all__ = [
    "LedChange",
    "LoadLed",
    "PowerLed",
    "PulseEdge",
    "PulseEdges",
    "PulseOutput",
    "edge_count",
    "output_state",
    "pulse_edge_times",
    "pulse_edge_times_rows",
    "pulse_edges_by_kh",
    "pulses_from_energy",
]

# Largest edge count kept exact: k and k * Kh/2 must be exact in a float64.
_MAX_EDGES = 2.0**52


def _check_kh(kh_wh: float, name: str = "kh_wh") -> float:
    kh = float(kh_wh)
    if not (math.isfinite(kh) and kh > 0.0):
        raise ValueError(f"{name} must be finite and > 0, got {kh_wh!r}")
    return kh


def _as_energy(name: str, energy_wh: ArrayLike) -> NDArray[np.float64]:
    e = np.asarray(energy_wh, dtype=np.float64)
    bad = ~np.isfinite(e)
    if bad.any():
        raise ValueError(f"{name} must be finite, got {e[bad].ravel()[0]!r}")
    neg = e < 0.0
    if neg.any():
        raise ValueError(f"{name} must be >= 0, got {e[neg].ravel()[0]!r}")
    return e


def _edge_count(energy_wh: NDArray[np.float64], half_wh: float) -> NDArray[np.int64]:
    """Number of ``k >= 1`` with ``k * half_wh <= energy_wh`` (products as floats)."""
    k = np.floor(energy_wh / half_wh)
    if k.size and float(np.max(k)) >= _MAX_EDGES:
        raise ValueError(
            f"energy_wh / (kh_wh / 2) must be below 2**52, got {float(np.max(energy_wh))!r} Wh "
            f"for kh_wh = {2.0 * half_wh!r}"
        )
    k = np.where(k * half_wh > energy_wh, k - 1.0, k)
    k = np.where((k + 1.0) * half_wh <= energy_wh, k + 1.0, k)
    return k.astype(np.int64)


def _edge_count_scalar(energy_wh: float, half_wh: float) -> int:
    """Scalar :func:`_edge_count`, without numpy overhead, for the step-by-step path."""
    q = energy_wh / half_wh
    if q >= _MAX_EDGES:
        raise ValueError(
            f"energy_wh / (kh_wh / 2) must be below 2**52, got {energy_wh!r} Wh for kh_wh = {2.0 * half_wh!r}"
        )
    k = math.floor(q)
    if float(k) * half_wh > energy_wh:
        k -= 1
    if float(k + 1) * half_wh <= energy_wh:
        k += 1
    return k


def edge_count(energy_wh: ArrayLike, kh_wh: float) -> NDArray[np.int64]:
    """Number of state changes of a pulse output since zero energy (manual Table 2B).

    Parameters
    ----------
    energy_wh : array-like of float
        Cumulative registered energy, >= 0. [Wh]
    kh_wh : float
        Energy per output pulse (Kh). [Wh]

    Returns
    -------
    edges : ndarray of int64
        The number of ``k >= 1`` with ``k * kh_wh / 2 <= energy_wh``. [1]
    """
    kh = _check_kh(kh_wh)
    return _edge_count(_as_energy("energy_wh", energy_wh), kh / 2.0)


def pulses_from_energy(energy_wh: ArrayLike, kh_wh: float) -> NDArray[np.int64]:
    """Count whole output pulses for a cumulative registered energy (manual Table 2B).

    Parameters
    ----------
    energy_wh : array-like of float
        Cumulative registered energy, >= 0. [Wh]
    kh_wh : float
        Energy per output pulse, e.g. 10 for the "10" output. [Wh]

    Returns
    -------
    pulses : ndarray of int64
        Whole pulses emitted up to each sample, ``floor(energy_wh / kh_wh)``. [1]

    Notes
    -----
    Computed as half the :func:`edge_count`, so a pulse is complete exactly when its opening
    edge happens: at ``energy_wh == m * kh_wh`` (``2 m * (Kh/2)`` and ``m * Kh`` are the same
    float).
    """
    return edge_count(energy_wh, kh_wh) // 2


def output_state(energy_wh: ArrayLike, kh_wh: float) -> NDArray[np.bool_]:
    """State of a pulse output for a cumulative energy (manual Table 2B, 50 % duty).

    Parameters
    ----------
    energy_wh : array-like of float
        Cumulative registered energy, >= 0. [Wh]
    kh_wh : float
        Energy per output pulse. [Wh]

    Returns
    -------
    closed : ndarray of bool
        True (closed, LED on) when ``floor(energy_wh / (kh_wh / 2))`` is odd: open at zero
        energy, closed from Kh/2, open from Kh (docs/conventions.md).
    """
    closed: NDArray[np.bool_] = (edge_count(energy_wh, kh_wh) % 2) == 1
    return closed


@dataclass(frozen=True)
class PulseEdges:
    """State changes of a pulse output, in time order.

    Holds the times and edge numbers; the energy and direction of each edge follow from its number.
    """

    time_s: NDArray[np.float64]
    """Time of each change. [s]"""
    k: NDArray[np.int64]
    """Edge number since zero energy; odd for a closure. [1]"""
    half_wh: float
    """Kh/2 of the output: the energy between two changes. [Wh]"""

    @property
    def energy_wh(self) -> NDArray[np.float64]:
        """Cumulative energy at each change, ``k * kh_wh / 2``. [Wh]"""
        result: NDArray[np.float64] = self.k.astype(np.float64) * self.half_wh
        return result

    @property
    def closing(self) -> NDArray[np.bool_]:
        """True for a closure (rising, on), False for an opening."""
        result: NDArray[np.bool_] = (self.k & 1).astype(bool)
        return result

    def __len__(self) -> int:
        return int(self.k.size)

    def __getitem__(self, index: slice) -> PulseEdges:
        """The edges of a slice, e.g. ``edges[:8]``."""
        return PulseEdges(self.time_s[index], self.k[index], self.half_wh)


def pulse_edge_times(time_s: ArrayLike, energy_wh_cumulative: ArrayLike, kh_wh: float) -> PulseEdges:
    """Exact times of every state change of a pulse output (manual Table 2B).

    Between samples the energy is linear in time (constant power within a step), so each
    threshold ``k * Kh/2`` crossed is located by interpolation inside its step. The state at
    ``time_s[0]`` follows from ``energy_wh_cumulative[0]`` (which need not be zero: the phase
    continues from the register's value); only edges strictly after it are returned.

    Parameters
    ----------
    time_s : array-like of float
        Sample times, strictly increasing. [s]
    energy_wh_cumulative : array-like of float
        Cumulative registered energy at each sample, >= 0 and non-decreasing (the total register
        never runs backwards). [Wh]
    kh_wh : float
        Energy per output pulse (Kh, or Kt for the load LED). [Wh]

    Returns
    -------
    PulseEdges
        ``time_s`` [s], ``energy_wh`` [Wh], ``k`` and ``closing`` of each edge.

    Raises
    ------
    ValueError
        On non-finite values, mismatched lengths, times not strictly increasing, negative or
        decreasing energy, or ``kh_wh`` not finite and > 0.

    Notes
    -----
    For ``k`` from ``edge_count(E[0]) + 1`` to ``edge_count(E[-1])``, with target
    ``E_k = k * Kh/2`` (``k`` an int64, so no float accumulation), the step is
    the step ``i`` with ``E[i-1] < E_k <= E[i]`` (from the edge counts at each sample) and

    .. math:: t_k = t_{i-1} + (E_k - E_{i-1}) \\frac{t_i - t_{i-1}}{E_i - E_{i-1}}

    (exactly ``t_i`` when ``E_k == E_i``). Cost O(n + edges).
    """
    kh = _check_kh(kh_wh)
    t, e = _check_curve(time_s, energy_wh_cumulative)
    return _edges(t, e, _edge_count(e, kh / 2.0), kh / 2.0)


def pulse_edge_times_rows(
    time_s: ArrayLike, energy_wh_rows: ArrayLike, kh_wh: float, *, rows_per_pass: int = 64
) -> list[PulseEdges]:
    """:func:`pulse_edge_times` for many energy curves on one time grid, at once.

    Each row of ``energy_wh_rows`` is one output's curve (a meter's register) sampled at
    ``time_s``; its edges are those :func:`pulse_edge_times` gives for it, to the bit: the same
    thresholds, interpolated by the same expressions, only computed for many rows per numpy pass
    (a site's meters, a day at a time).

    Parameters
    ----------
    time_s : array-like of float
        Sample times common to every row, strictly increasing. [s]
    energy_wh_rows : array-like of float, shape (rows, samples)
        Cumulative registered energy of each curve at each sample, >= 0 and non-decreasing
        along each row. [Wh]
    kh_wh : float
        Energy per output pulse. [Wh]
    rows_per_pass : int, default 64
        Rows computed per pass (bounds the temporary arrays). [1]

    Returns
    -------
    list of PulseEdges
        One per row, in row order.

    Raises
    ------
    ValueError
        As :func:`pulse_edge_times` does, for the grid or any row (naming the row); on a
        ``rows_per_pass`` below 1.
    """
    kh = _check_kh(kh_wh)
    if isinstance(rows_per_pass, bool) or not isinstance(rows_per_pass, int) or rows_per_pass < 1:
        raise ValueError(f"rows_per_pass must be an int >= 1, got {rows_per_pass!r}")
    t = np.asarray(time_s, dtype=np.float64)
    e = np.asarray(energy_wh_rows, dtype=np.float64)
    if e.ndim != 2 or t.ndim != 1 or e.shape[1] != t.size:
        raise ValueError(
            f"energy_wh_rows must be of shape (rows, {t.size}) for time_s of shape {t.shape}, got {e.shape}"
        )
    if e.size:
        _check_curve(t, np.zeros(t.size))  # the grid
        e = _as_energy("energy_wh_rows", e)
        back = np.diff(e, axis=1) < 0.0
        if back.any():
            row, i = (int(v[0]) for v in np.nonzero(back))
            raise ValueError(
                f"energy_wh_rows must be non-decreasing along each row, got {e[row, i + 1]!r} after "
                f"{e[row, i]!r} in row {row} at index {i + 1}"
            )
    half = kh / 2.0
    out: list[PulseEdges] = []
    for lo in range(0, e.shape[0], rows_per_pass):
        out.extend(_edges_rows(t, e[lo : lo + rows_per_pass], half))
    return out


def _edges_rows(t: NDArray[np.float64], e: NDArray[np.float64], half: float) -> list[PulseEdges]:
    """:func:`_edges` of every row of a checked block of curves on one grid."""
    counts = _edge_count(e, half)
    per_step = np.diff(counts, axis=1)
    rows, steps = np.nonzero(per_step)  # row by row, each row's steps in order: the edges in order
    reps = per_step[rows, steps]
    t0 = t[steps]
    t1 = t[steps + 1]
    e0 = e[rows, steps]
    e1 = e[rows, steps + 1]
    rise = e1 - e0
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(rise > 0.0, (t1 - t0) / rise, 0.0)
    total = int(reps.sum())
    # the edges of a step are k = counts before it + 1 ... counts after it, numbered on from its row's
    run_start = np.cumsum(reps) - reps
    ks = np.repeat(counts[rows, steps] + 1 - run_start, reps) + np.arange(total, dtype=np.int64)
    # what _edges computes for each edge, element by element
    target = ks.astype(np.float64) * half
    start_t = np.repeat(t0, reps)
    end_t = np.repeat(t1, reps)
    at = start_t + (target - np.repeat(e0, reps)) * np.repeat(slope, reps)
    at = np.where(target >= np.repeat(e1, reps), end_t, np.minimum(at, end_t))
    times = np.maximum(at, start_t)
    bounds = np.concatenate(([0], np.cumsum(counts[:, -1] - counts[:, 0]))) if counts.size else [0]
    out = []
    for row in range(e.shape[0]):
        a, b = int(bounds[row]), int(bounds[row + 1])
        if a == b:
            out.append(PulseEdges(np.zeros(0, np.float64), np.zeros(0, np.int64), half))
        else:
            out.append(PulseEdges(times[a:b], ks[a:b], half))
    return out


def pulse_edges_by_kh(
    time_s: ArrayLike,
    energy_wh_cumulative: ArrayLike,
    kh_wh: Iterable[float],
    *,
    edge_range: Mapping[float, tuple[int, int]] | None = None,
) -> dict[float, PulseEdges]:
    """:func:`pulse_edge_times` for several outputs on one energy curve, checked once.

    Parameters
    ----------
    time_s, energy_wh_cumulative : array-like of float
        As in :func:`pulse_edge_times`.
    kh_wh : iterable of float
        The outputs' Kh; each distinct value is computed once. [Wh]
    edge_range : mapping of Kh to (first, last), optional
        The edge counts at the start and end of the curve as an exact register knows them. The
        float curve's counts are held within them and its last count set to ``last``, so that
        consecutive runs emit every edge exactly once even where the float curve and the exact
        register differ in the last bit. [1]

    Returns
    -------
    dict
        Kh → its :class:`PulseEdges`.
    """
    values = [_check_kh(kh) for kh in kh_wh]
    t, e = _check_curve(time_s, energy_wh_cumulative)
    out: dict[float, PulseEdges] = {}
    for kh in values:
        if kh in out:
            continue
        counts = _edge_count(e, kh / 2.0)
        if edge_range is not None and kh in edge_range and counts.size:
            first, last = edge_range[kh]
            if last < first:
                raise ValueError(
                    f"edge_range for kh_wh = {kh!r} must have first <= last, got {first}, {last}"
                )
            counts = np.clip(counts, first, last)
            counts[-1] = last
            counts[0] = first
        out[kh] = _edges(t, e, counts, kh / 2.0)
    return out


def _check_curve(
    time_s: ArrayLike, energy_wh_cumulative: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    t = np.asarray(time_s, dtype=np.float64)
    e = np.asarray(energy_wh_cumulative, dtype=np.float64)
    if t.ndim != 1 or e.ndim != 1:
        raise ValueError(
            f"time_s and energy_wh_cumulative must be one-dimensional, got shapes {t.shape} and {e.shape}"
        )
    if t.size != e.size:
        raise ValueError(
            f"time_s and energy_wh_cumulative must have the same length, got {t.size} and {e.size}"
        )
    bad_t = ~np.isfinite(t)
    if bad_t.any():
        raise ValueError(f"time_s must be finite, got {t[bad_t][0]!r} at index {int(np.argmax(bad_t))}")
    e = _as_energy("energy_wh_cumulative", e)
    dt = np.diff(t)
    if (dt <= 0.0).any():
        i = int(np.argmax(dt <= 0.0)) + 1
        raise ValueError(f"time_s must be strictly increasing, got {t[i]!r} after {t[i - 1]!r} at index {i}")
    de = np.diff(e)
    if (de < 0.0).any():
        i = int(np.argmax(de < 0.0)) + 1
        raise ValueError(
            f"energy_wh_cumulative must be non-decreasing, got {e[i]!r} after {e[i - 1]!r} at index {i}"
        )
    return t, e


_EDGE_CHUNK = 1 << 16  # edges computed at a time, so that the arrays stay in cache


def _edges(
    t: NDArray[np.float64], e: NDArray[np.float64], counts: NDArray[np.int64], half: float
) -> PulseEdges:
    """Edges of a checked curve, given the edge count at every sample."""
    if t.size == 0 or counts[-1] == counts[0]:
        return PulseEdges(np.zeros(0, np.float64), np.zeros(0, np.int64), half)
    first, last = int(counts[0]), int(counts[-1])
    # edge k falls in the step ending at sample i when counts[i-1] < k <= counts[i], i.e.
    # E[i-1] < k * Kh/2 <= E[i]: the step of every edge, in order, without a search
    per_step = np.diff(counts)
    steps = np.flatnonzero(per_step)
    reps = per_step[steps]
    t0 = t[steps]
    t1 = t[steps + 1]
    e0 = e[steps]
    e1 = e[steps + 1]
    rise = e1 - e0
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(rise > 0.0, (t1 - t0) / rise, 0.0)
    ks = np.arange(first + 1, last + 1, dtype=np.int64)
    times = np.empty(ks.size)
    ends = np.cumsum(reps)
    cuts = np.searchsorted(ends, np.arange(_EDGE_CHUNK, ends[-1], _EDGE_CHUNK), side="left")
    lo_step, lo_edge = 0, 0
    for hi_step in (*(int(c) + 1 for c in cuts), steps.size):
        if hi_step <= lo_step:
            continue
        hi_edge = int(ends[hi_step - 1])
        r = reps[lo_step:hi_step]
        target = ks[lo_edge:hi_edge].astype(np.float64) * half
        start_t = np.repeat(t0[lo_step:hi_step], r)
        end_t = np.repeat(t1[lo_step:hi_step], r)
        at = start_t + (target - np.repeat(e0[lo_step:hi_step], r)) * np.repeat(slope[lo_step:hi_step], r)
        # exactly the step's end when the threshold is its end energy (or beyond: an exact register
        # reached it where the float curve fell a hair short); never outside the step
        at = np.where(target >= np.repeat(e1[lo_step:hi_step], r), end_t, np.minimum(at, end_t))
        times[lo_edge:hi_edge] = np.maximum(at, start_t)
        lo_step, lo_edge = hi_step, hi_edge
    return PulseEdges(times, ks, half)


@dataclass(frozen=True, slots=True)
class PulseEdge:
    """One state change of a pulse output.

    Attributes
    ----------
    time_s : float
        When it happened. [s]
    k : int
        Edge number since zero energy; odd for a closure. [1]
    energy_wh : float
        Cumulative energy at the edge, ``k * kh_wh / 2``. [Wh]
    closing : bool
        True for a closure (on), False for an opening (off).
    """

    time_s: float
    k: int
    energy_wh: float
    closing: bool


class PulseOutput:
    """A pulse output of constant Kh, fed step by step (manual Table 2B).

    The incremental counterpart of :func:`pulse_edge_times`, for the waveform path and
    step-by-step runs. The energy seen is kept in an exact :class:`EnergyRegister`, so the
    edges do not drift. Any finite Kh > 0 is accepted: the isolated outputs use 10, 100 and
    1000 Wh, the counter output 100 or 1000 Wh, the load LED Kt = 10 Wh.

    Parameters
    ----------
    kh_wh : float
        Energy per output pulse. [Wh]
    name : str, default ""
        Label, e.g. ``"10"``, ``"100"``, ``"1000"``, ``"counter"``.
    energy_wh : float, default 0.0
        Cumulative energy at creation, >= 0: the phase continues from it. [Wh]
    """

    def __init__(self, kh_wh: float, name: str = "", *, energy_wh: float = 0.0) -> None:
        self._kh_wh = _check_kh(kh_wh)
        self._half_wh = self._kh_wh / 2.0
        start = float(energy_wh)
        if not (math.isfinite(start) and start >= 0.0):
            raise ValueError(f"energy_wh must be finite and >= 0, got {energy_wh!r}")
        self.name = name
        self._register = EnergyRegister(signed=False)
        self._register.add(start)
        self._k = _edge_count_scalar(start, self._half_wh)
        self._initial_state = self._k % 2 == 1
        self._closures = 0
        self._time_s: float | None = None

    @property
    def kh_wh(self) -> float:
        """Energy per pulse. [Wh]"""
        return self._kh_wh

    @property
    def energy_wh(self) -> float:
        """Total cumulative energy seen, including the start value. [Wh]"""
        return self._register.value_wh

    @property
    def state(self) -> bool:
        """True when closed (on)."""
        return self._k % 2 == 1

    @property
    def edges(self) -> int:
        """Edge number of the last state change since zero energy. [1]"""
        return self._k

    @property
    def pulses(self) -> int:
        """Whole pulses of the total energy, ``pulses_from_energy(energy_wh, kh_wh)``. [1]"""
        return self._k // 2

    @property
    def closures(self) -> int:
        """Closures emitted by this object since its creation (what a receiver counts). [1]"""
        return self._closures

    @property
    def time_s(self) -> float | None:
        """End of the last step, None before the first. [s]"""
        return self._time_s

    def advance(self, energy_wh: float, time_s_start: float, time_s_end: float) -> list[PulseEdge]:
        """Deliver energy uniformly over a step and return the edges it causes.

        Parameters
        ----------
        energy_wh : float
            Energy registered in the step, >= 0. [Wh]
        time_s_start : float
            Start of the step, not before the end of the previous one. [s]
        time_s_end : float
            End of the step, >= ``time_s_start``. [s]

        Returns
        -------
        list of PulseEdge
            The state changes in the step, in time order, with times interpolated as in
            :func:`pulse_edge_times`.

        Raises
        ------
        ValueError
            On a non-finite or negative energy, non-finite times, a step that ends before it
            starts or starts before the previous one ended. The output is left unchanged.
        """
        e = float(energy_wh)
        t0 = float(time_s_start)
        t1 = float(time_s_end)
        if not (math.isfinite(e) and e >= 0.0):
            raise ValueError(f"energy_wh must be finite and >= 0, got {energy_wh!r}")
        if not math.isfinite(t0):
            raise ValueError(f"time_s_start must be finite, got {time_s_start!r}")
        if not math.isfinite(t1):
            raise ValueError(f"time_s_end must be finite, got {time_s_end!r}")
        if t1 < t0:
            raise ValueError(f"time_s_end must be >= time_s_start {t0!r}, got {time_s_end!r}")
        if self._time_s is not None and t0 < self._time_s:
            raise ValueError(
                f"time_s_start must be >= the previous end {self._time_s!r}, got {time_s_start!r}"
            )
        v0 = self._register.value_wh
        _edge_count_scalar(v0 + e, self._half_wh)  # validate the range before mutating
        self._register.add(e)
        v1 = self._register.value_wh
        k1 = _edge_count_scalar(v1, self._half_wh)
        edges: list[PulseEdge] = []
        for k in range(self._k + 1, k1 + 1):
            target = float(k) * self._half_wh
            time = t1 if target == v1 else min(t0 + (target - v0) * ((t1 - t0) / (v1 - v0)), t1)
            closing = k % 2 == 1
            edges.append(PulseEdge(time, k, target, closing))
            if closing:
                self._closures += 1
        self._k = k1
        self._time_s = t1
        return edges


class LedChange(NamedTuple):
    """A change of an LED's state."""

    time_s: float
    """When it changed. [s]"""
    lit: bool
    """State after the change."""


def _change_time(change: LedChange) -> float:
    return change.time_s


def _lit_at(changes: list[LedChange], time_s: float, initial: bool) -> bool:
    """An LED's state at a time from its recorded changes (a change at that time counts)."""
    i = bisect.bisect_right(changes, float(time_s), key=_change_time)
    return changes[i - 1].lit if i else initial


class LoadLed(PulseOutput):
    """The green LOAD LED: a 50 % duty pulse indicator of Kt = 10 Wh (certificate p.2).

    "5 watt-hours on, 5 watt-hours off"; it "will not change states unless a load is applied"
    (certificate p.2). At 200 W it flashes 1.5 minutes on, 1.5 minutes off; with no load it
    remains on or off (manual Table 3). Lit means the output is closed. Every change is
    recorded in :attr:`changes`.

    Parameters
    ----------
    kt_wh : float, default 10.0
        Test-output constant Kt. [Wh]
    name : str, default "LOAD"
    energy_wh : float, default 0.0
        Cumulative energy at creation, >= 0. [Wh]
    """

    def __init__(self, kt_wh: float = 10.0, name: str = "LOAD", *, energy_wh: float = 0.0) -> None:
        super().__init__(_check_kh(kt_wh, "kt_wh"), name, energy_wh=energy_wh)
        self.changes: list[LedChange] = []

    @property
    def kt_wh(self) -> float:
        """Test-output constant. [Wh]"""
        return self.kh_wh

    @property
    def lit(self) -> bool:
        """True when the LED is on."""
        return self.state

    def advance(self, energy_wh: float, time_s_start: float, time_s_end: float) -> list[PulseEdge]:
        """Deliver energy over a step; record and return the changes (see PulseOutput.advance)."""
        edges = super().advance(energy_wh, time_s_start, time_s_end)
        self.changes.extend(LedChange(edge.time_s, edge.closing) for edge in edges)
        return edges

    def lit_at(self, time_s: float) -> bool:
        """State at ``time_s`` from the recorded changes (a change at ``time_s`` counts). [s]"""
        return _lit_at(self.changes, time_s, self._initial_state)


class PowerLed:
    """The POWER LED: lit whenever line voltage is present (certificate p.2).

    Parameters
    ----------
    presence_threshold_v : float, default 50.0
        RMS voltage from a line to neutral at or above which "line voltage is present". [V]
        The certificate gives no figure; 50 V is well below the 120 V nominal supply
        (certificate p.2) and well above induced or leakage voltages on a dead line.
    lit : bool, default False
        State at creation.

    Attributes
    ----------
    changes : list of LedChange
        State changes recorded by :meth:`update` calls that give a time.
    """

    def __init__(self, presence_threshold_v: float = 50.0, *, lit: bool = False) -> None:
        threshold = float(presence_threshold_v)
        if not (math.isfinite(threshold) and threshold > 0.0):
            raise ValueError(f"presence_threshold_v must be finite and > 0, got {presence_threshold_v!r}")
        self._threshold_v = threshold
        self._lit = bool(lit)
        self._initial = self._lit
        self._time_s: float | None = None
        self.changes: list[LedChange] = []

    @property
    def presence_threshold_v(self) -> float:
        """Presence threshold. [V]"""
        return self._threshold_v

    @property
    def lit(self) -> bool:
        """True when the LED is on."""
        return self._lit

    def update(self, voltages_v: ArrayLike, time_s: float | None = None) -> bool:
        """Set the LED from the line voltages.

        Parameters
        ----------
        voltages_v : array-like of float
            RMS voltage of each line to neutral (L1, and L2 on two-element meters); its
            magnitude is compared with the threshold. [V]
        time_s : float, optional
            Time of the reading, not before the previous one; when given, a change of state
            is recorded in :attr:`changes`. [s]

        Returns
        -------
        lit : bool
            True when any line voltage is at or above ``presence_threshold_v``.

        Raises
        ------
        ValueError
            On an empty or non-finite voltage, a non-finite time or a time going backwards;
            the LED is left unchanged.
        """
        v = np.asarray(voltages_v, dtype=np.float64).ravel()
        if v.size == 0:
            raise ValueError("voltages_v must hold at least one voltage, got an empty array")
        bad = ~np.isfinite(v)
        if bad.any():
            raise ValueError(f"voltages_v must be finite, got {v[bad][0]!r}")
        t: float | None = None
        if time_s is not None:
            t = float(time_s)
            if not math.isfinite(t):
                raise ValueError(f"time_s must be finite, got {time_s!r}")
            if self._time_s is not None and t < self._time_s:
                raise ValueError(f"time_s must be >= the previous time {self._time_s!r}, got {time_s!r}")
        lit = bool((np.abs(v) >= self._threshold_v).any())
        if t is not None:
            if lit != self._lit:
                self.changes.append(LedChange(t, lit))
            self._time_s = t
        self._lit = lit
        return lit

    def lit_at(self, time_s: float) -> bool:
        """State at ``time_s`` from the recorded changes (a change at ``time_s`` counts). [s]"""
        return _lit_at(self.changes, time_s, self._initial)
