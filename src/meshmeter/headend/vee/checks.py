"""VEE's checks: pure functions over numpy arrays, each returning a boolean mask (``docs/vee.md``).

No I/O and no state: :func:`~meshmeter.headend.vee.validate` runs them over one meter's series on its
regular grid and turns their masks into findings and quality codes.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from meshmeter.headend.vee import _args
from meshmeter.headend.vee._args import BoolArray, FloatArray, IntArray
from meshmeter.headend.vee.config import DEFAULT_COUNTER_MODULUS_WH, SPIKE_RULES, SpikeRule
from meshmeter.intervals import INTERVAL_S

__all__ = [
    "CHECKS",
    "Spikes",
    "SumCheck",
    "check_counter",
    "check_interval_size",
    "check_negative",
    "check_spike",
    "check_sum",
    "check_time_tolerance",
    "check_zero_run",
    "find_spikes",
    "outage_mask",
    "runs",
    "snap",
]

CHECKS: Final[tuple[str, ...]] = (
    "missing",
    "interval_size",
    "time_tolerance",
    "duplicate",
    "negative",
    "rollover",
    "counter_reset",
    "spike",
    "zero_run",
    "sum_check",
)
"""The names of the checks, as they appear in :attr:`ValidationResult.masks` and in findings."""


def check_time_tolerance(
    interval_end: object, *, interval_s: int = INTERVAL_S, tolerance_s: float = 60.0
) -> BoolArray:
    """
    Time tolerance check: interval ends off their :00/:15/:30/:45 boundary by more than a tolerance.

    Parameters
    ----------
    interval_end : array-like of int
        Interval ends, epoch seconds. [s]
    interval_s : int, optional
        Interval length. [s]
    tolerance_s : float, optional
        Largest accepted distance from the nearest boundary. [s]

    Returns
    -------
    mask : ndarray of bool
        True where ``|interval_end - nearest boundary| > tolerance_s``.
    """
    ends = _args.epoch_array("interval_end", interval_end)
    tolerance = _args.finite("tolerance_s", tolerance_s, low=0.0)
    seconds = _args.integer("interval_s", interval_s, low=1)
    offset = ends - snap(ends, seconds)
    return np.asarray(np.abs(offset) > tolerance, dtype=np.bool_)


def snap(ends: IntArray, interval_s: int) -> IntArray:
    """Nearest boundary (half-way rounds up)."""
    return ((ends + interval_s // 2) // interval_s) * interval_s


def check_interval_size(
    interval_end: object,
    *,
    interval_s: int = INTERVAL_S,
    tolerance_s: float = 60.0,
    duration_s: object | None = None,
) -> BoolArray:
    """
    Interval size check: intervals whose length is not ``interval_s``.

    Parameters
    ----------
    interval_end : array-like of int
        Interval ends, epoch seconds, strictly increasing. [s]
    interval_s : int, optional
        Expected length. [s]
    tolerance_s : float, optional
        Allowed deviation of a length. [s]
    duration_s : array-like, optional
        Stated lengths (NaN where not stated). [s]

    Returns
    -------
    mask : ndarray of bool
        True where a stated length, or else the length since the previous end, differs from
        ``interval_s`` by more than ``tolerance_s``. The length since the previous end is judged only
        where the two ends are on consecutive boundaries: a longer step is a gap (missing intervals),
        not a wrong size. The first interval, with no stated length, passes.
    """
    ends = _args.epoch_array("interval_end", interval_end)
    seconds = _args.integer("interval_s", interval_s, low=1)
    tolerance = _args.finite("tolerance_s", tolerance_s, low=0.0)
    mask = np.zeros(ends.size, dtype=np.bool_)
    if ends.size > 1:
        step = np.diff(ends)
        consecutive = np.diff(snap(ends, seconds)) == seconds
        mask[1:] = consecutive & (np.abs(step - seconds) > tolerance)
    if duration_s is not None:
        stated = _args.float_array("duration_s", duration_s, ends.size)
        known = ~np.isnan(stated)
        mask[known] = np.abs(stated[known] - seconds) > tolerance
    return mask


def check_negative(energy_wh: object) -> BoolArray:
    """
    Negative check: intervals of negative energy.

    Parameters
    ----------
    energy_wh : array-like
        Energy per interval, NaN for missing. [Wh]

    Returns
    -------
    mask : ndarray of bool
        True where ``energy_wh < 0`` (NaN is not negative).
    """
    energy = np.asarray(energy_wh, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.asarray(energy < 0, dtype=np.bool_)


def check_counter(
    cumulative_wh: object,
    *,
    modulus_wh: int | None = DEFAULT_COUNTER_MODULUS_WH,
    max_step_wh: float = math.inf,
) -> tuple[BoolArray, BoolArray, FloatArray, IntArray]:
    """
    Rollover and reset check of a cumulative counter.

    Parameters
    ----------
    cumulative_wh : array-like
        Cumulative counter at each interval end of a regular series, NaN where unknown. [Wh]
    modulus_wh : int or None, optional
        The counter wraps to 0 at this value; None when it never wraps. [Wh]
    max_step_wh : float, optional
        Highest plausible increase per interval (the maximum demand): a decrease is a rollover only
        when the wrapped increase ``c[j] + modulus_wh - c[i]`` is at most ``max_step_wh × (j - i)``. [Wh]

    Returns
    -------
    rollover : ndarray of bool
        True at the first known counter after a rollover (expected; not questionable).
    reset : ndarray of bool
        True at the first known counter after any other decrease (questionable).
    unwrapped_wh : ndarray of float64
        The counter with each rollover undone (``modulus_wh`` added from there on); NaN where unknown. [Wh]
    segment : ndarray of int64
        Counter segment: 0 up to the first reset, then 1, 2 ...; counters compare only within a segment.

    Notes
    -----
    Known counters ``c[i]``, ``c[j]`` (``i < j``, nothing known between) with ``c[j] < c[i]``: a rollover
    when ``0 <= c[j] + m - c[i] <= max_step_wh × (j - i)``, else a reset.
    """
    counter = np.asarray(cumulative_wh, dtype=np.float64)
    n = counter.size
    rollover = np.zeros(n, dtype=np.bool_)
    reset = np.zeros(n, dtype=np.bool_)
    unwrapped = np.full(n, np.nan)
    segment = np.zeros(n, dtype=np.int64)
    offset = 0.0
    seg = 0
    prev: int | None = None
    for j in np.flatnonzero(~np.isnan(counter)).tolist():
        if prev is not None and counter[j] < counter[prev]:
            wrapped = None if modulus_wh is None else counter[j] + modulus_wh - counter[prev]
            if wrapped is not None and 0 <= wrapped <= max_step_wh * (j - prev):
                rollover[j] = True
                offset += modulus_wh or 0
            else:
                reset[j] = True
                seg += 1
                offset = 0.0
        unwrapped[j] = counter[j] + offset
        segment[(prev + 1 if prev is not None else 0) : j + 1] = seg
        prev = j
    if prev is not None:
        segment[prev + 1 :] = seg
    return rollover, reset, unwrapped, segment


def runs(mask: BoolArray) -> list[tuple[int, int]]:
    """``[start, stop)`` of each run of True."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


@dataclass(frozen=True, eq=False)
class Spikes:
    """
    The spike check's result, test by test (:func:`find_spikes`).

    Attributes
    ----------
    mask : ndarray of bool
        Spikes: the two tests combined by the rule (what :func:`check_spike` returns).
    by_ratio, by_rating : ndarray of bool
        Where each test alone fails (the rating test never fails without a rated maximum).
    third_wh : ndarray of float64
        Where the ratio test fails: the third highest value the interval was compared with; else NaN. [Wh]
    """

    mask: BoolArray
    by_ratio: BoolArray
    by_rating: BoolArray
    third_wh: FloatArray


def find_spikes(
    energy_wh: object,
    *,
    ratio: float = 5.0,
    min_wh: float = 100.0,
    max_interval_wh: float | None = None,
    rule: SpikeRule = "either",
    groups: object | None = None,
) -> Spikes:
    """
    Spike check: the highest intervals against the third highest, and against the rated maximum.

    Parameters
    ----------
    energy_wh : array-like
        Energy per interval, NaN for missing. [Wh]
    ratio : float, optional
        Ratio test: the highest value of a group is a spike when above ``ratio`` × the third highest
        and at least ``min_wh``; it is then set aside and the test repeated on the rest. A group with
        fewer than three values, or whose third highest is 0 (the load mostly off: the ratio means
        nothing), is not ratio-tested. [1]
    min_wh : float, optional
        Smallest energy the ratio test flags. [Wh]
    max_interval_wh : float, optional
        Rating test: a value above it is a spike (the meter's own limit,
        :func:`meshmeter.catalog.max_interval_energy_wh`). None: no rating test. [Wh]
    rule : {"either", "both", "ratio", "rating"}, optional
        How the two tests combine.
    groups : array-like of int, optional
        Group of each interval for the ratio test (e.g. its local day); default one group.

    Returns
    -------
    Spikes
        The combined mask, each test's, and the values the ratio test compared with (for the words of a
        finding).
    """
    energy = np.asarray(energy_wh, dtype=np.float64)
    ratio = _args.finite("ratio", ratio, low=1.0, low_open=True)
    min_wh = _args.finite("min_wh", min_wh, low=0.0)
    _args.choice("rule", rule, SPIKE_RULES)
    keys = np.zeros(energy.size, dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    if keys.shape != energy.shape:
        raise ValueError(f"groups must have the length of energy_wh ({energy.size}), got shape {keys.shape}")
    by_ratio = np.zeros(energy.size, dtype=np.bool_)
    third_wh = np.full(energy.size, np.nan)
    usable = np.isfinite(energy) & (np.nan_to_num(energy, nan=-1.0) >= 0)
    for key in np.unique(keys[usable]).tolist():
        idx = np.flatnonzero(usable & (keys == key))
        values = energy[idx]
        order = np.argsort(-values, kind="stable")
        k = 0
        while order.size - k >= 3:
            high, third = values[order[k]], values[order[k + 2]]
            if third > 0 and high >= min_wh and high > ratio * third:
                by_ratio[idx[order[k]]] = True
                third_wh[idx[order[k]]] = third
                k += 1
            else:
                break
    by_rating = np.zeros(energy.size, dtype=np.bool_)
    if max_interval_wh is not None:
        limit = _args.finite("max_interval_wh", max_interval_wh, low=0.0, low_open=True)
        with np.errstate(invalid="ignore"):
            by_rating = np.asarray(energy > limit, dtype=np.bool_)
    if rule == "ratio":
        mask = by_ratio
    elif rule == "rating":
        mask = by_rating
    elif rule == "both":
        mask = by_ratio & by_rating
    else:
        mask = by_ratio | by_rating
    return Spikes(mask=mask, by_ratio=by_ratio, by_rating=by_rating, third_wh=third_wh)


def check_spike(
    energy_wh: object,
    *,
    ratio: float = 5.0,
    min_wh: float = 100.0,
    max_interval_wh: float | None = None,
    rule: SpikeRule = "either",
    groups: object | None = None,
) -> BoolArray:
    """
    Spike check as a mask: :func:`find_spikes`' combined result (same parameters).

    Returns
    -------
    mask : ndarray of bool
        True at spikes.
    """
    return find_spikes(
        energy_wh, ratio=ratio, min_wh=min_wh, max_interval_wh=max_interval_wh, rule=rule, groups=groups
    ).mask


def check_zero_run(energy_wh: object, *, max_run: int, exempt: object | None = None) -> BoolArray:
    """
    Zero consumption check with outage awareness.

    Parameters
    ----------
    energy_wh : array-like
        Energy per interval of a regular series, NaN for missing. [Wh]
    max_run : int
        Longest accepted run of zero intervals. [1]
    exempt : array-like of bool, optional
        Intervals where zero is expected (a known outage): they are never flagged, and break a run.

    Returns
    -------
    mask : ndarray of bool
        True on every interval of a run of more than ``max_run`` consecutive zero, non-exempt intervals
        (a missing interval breaks a run).
    """
    energy = np.asarray(energy_wh, dtype=np.float64)
    run = _args.integer("max_run", max_run, low=0)
    free = np.zeros(energy.size, dtype=np.bool_) if exempt is None else np.asarray(exempt, dtype=np.bool_)
    if free.shape != energy.shape:
        raise ValueError(f"exempt must have the length of energy_wh ({energy.size}), got shape {free.shape}")
    zero = (energy == 0) & ~free
    mask = np.zeros(energy.size, dtype=np.bool_)
    for a, b in runs(zero):
        if b - a > run:
            mask[a:b] = True
    return mask


def outage_mask(interval_end: object, outages: object, *, interval_s: int = INTERVAL_S) -> BoolArray:
    """
    Intervals that overlap a known outage (a power-down to power-up span).

    Parameters
    ----------
    interval_end : array-like
        Interval ends, epoch seconds. [s]
    outages : sequence of (start, end)
        Outage spans, aware datetimes or epoch seconds, ``start < end``.
    interval_s : int, optional
        Interval length. [s]

    Returns
    -------
    mask : ndarray of bool
        True where ``(interval_end - interval_s, interval_end]`` overlaps some ``(start, end)``.
    """
    ends = _args.epoch_array("interval_end", interval_end)
    mask = np.zeros(ends.size, dtype=np.bool_)
    for lo, hi in _args.spans("outages", outages):
        mask |= (ends > lo) & (ends - interval_s < hi)
    return mask


@dataclass(frozen=True, slots=True)
class SumCheck:
    """
    The sum check of the intervals between two register reads.

    Attributes
    ----------
    start, end : int
        The two reads, epoch seconds; the intervals with ``start < interval_end <= end`` are summed. [s]
    first, stop : int
        Those intervals' positions in the series: ``[first, stop)``.
    register_delta_wh : int
        Difference of the two reads. [Wh]
    interval_sum_wh : float
        Sum of the intervals that are known. [Wh]
    missing : int
        How many of them are missing. [1]
    passed : bool or None
        Whether the sum is within tolerance; None when it could not be checked (see ``reason``).
    reason : str
        In words.
    """

    start: int
    end: int
    first: int
    stop: int
    register_delta_wh: int
    interval_sum_wh: float
    missing: int
    passed: bool | None
    reason: str


def check_sum(
    interval_end: object,
    energy_wh: object,
    register_reads: object,
    *,
    tolerance_fraction: float = 0.005,
    tolerance_wh: float = 10.0,
    interval_s: int = INTERVAL_S,
) -> tuple[SumCheck, ...]:
    """
    Sum check: intervals between consecutive register reads against the register difference.

    Parameters
    ----------
    interval_end : array-like
        Interval ends of a regular series, epoch seconds. [s]
    energy_wh : array-like
        Energy per interval, NaN for missing. [Wh]
    register_reads : sequence of (read_at, energy_wh)
        Register reads (or :class:`~meshmeter.store.RegisterRead` records), on interval boundaries. [Wh]
    tolerance_fraction, tolerance_wh : float, optional
        A pair passes when ``|sum - delta| <= max(tolerance_fraction × delta, tolerance_wh)``.
    interval_s : int, optional
        Interval length. [s]

    Returns
    -------
    checks : tuple of SumCheck
        One per consecutive pair of reads. A pair is not checked (``passed`` None) when an interval
        between is missing, a read is off the boundaries or outside the series, or the register went
        down.
    """
    ends = _args.epoch_array("interval_end", interval_end)
    energy = _args.float_array("energy_wh", energy_wh, ends.size)
    frac = _args.finite("tolerance_fraction", tolerance_fraction, low=0.0)
    abs_wh = _args.finite("tolerance_wh", tolerance_wh, low=0.0)
    reads = _args.register_reads("register_reads", register_reads)
    out: list[SumCheck] = []
    if ends.size == 0:
        return ()
    lo_bound, hi_bound = int(ends[0]) - interval_s, int(ends[-1])
    for (t0, r0), (t1, r1) in itertools.pairwise(reads):
        first = int(np.searchsorted(ends, t0, side="right"))
        stop = int(np.searchsorted(ends, t1, side="right"))
        delta = r1 - r0
        values = energy[first:stop]
        known = values[~np.isnan(values)]
        total = float(known.sum())
        missing = int(values.size - known.size)
        passed: bool | None = None
        if t0 % interval_s or t1 % interval_s:
            reason = "a register read is not on an interval boundary"
        elif t0 < lo_bound or t1 > hi_bound:
            reason = "the reads reach outside the series"
        elif delta < 0:
            reason = f"the register went down by {-delta} Wh"
        elif missing:
            reason = f"{missing} interval(s) missing"
        else:
            allowed = max(frac * delta, abs_wh)
            passed = abs(total - delta) <= allowed
            verb = "within" if passed else "outside"
            reason = (
                f"intervals sum to {total:.0f} Wh, register difference {delta} Wh: {verb} the tolerance "
                f"of {allowed:g} Wh"
            )
        out.append(SumCheck(t0, t1, first, stop, delta, total, missing, passed, reason))
    return tuple(out)
