"""VEE's estimation: missing, negative (or questionable) intervals filled in integer Wh (``docs/vee.md``).

Pure estimators (:func:`interpolate_linear`, :func:`largest_remainder`, :func:`like_day_class`) and
:func:`estimate`, which applies them to a :class:`~meshmeter.headend.vee.validate.ValidationResult`
gap by gap: an exact total from the counters, linear interpolation (quality 9), like days (quality 8),
scaling to register reads, and rounding by largest remainder so that each total is kept exactly.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Container, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Final

import numpy as np

from meshmeter.headend.calendar import us_federal_holidays
from meshmeter.headend.vee import _args
from meshmeter.headend.vee._args import BoolArray, FloatArray, IntArray
from meshmeter.headend.vee.checks import CHECKS, runs
from meshmeter.headend.vee.config import LIKE_DAYS_BY, LikeDaysBy
from meshmeter.headend.vee.validate import ValidationResult
from meshmeter.intervals import Quality

__all__ = ["EstimationResult", "estimate", "interpolate_linear", "largest_remainder", "like_day_class"]

_NOT_REPLACED: Final = frozenset({"missing", "rollover", "sum_check"})
"""Checks whose flag never makes :func:`estimate` replace a value (a sum check blames no one interval)."""


def interpolate_linear(
    before_wh: float, after_wh: float, n: int, *, before_gap: int = 0, after_gap: int = 0
) -> FloatArray:
    """
    Linear interpolation of the intervals of a gap between two known intervals.

    Parameters
    ----------
    before_wh, after_wh : float
        The known intervals on either side (the end points). [Wh]
    n : int
        Intervals in the gap. [1]
    before_gap, after_gap : int, optional
        Intervals skipped between an end point and the gap (e.g. in an outage). [1]

    Returns
    -------
    energy_wh : ndarray of float64
        The ``n`` estimates. [Wh]

    Notes
    -----
    With the end points at positions 0 and :math:`m = n + 1 + b + a` (``b``, ``a`` the skipped
    intervals) and the gap's intervals at :math:`k = b + 1 \\ldots b + n`:

    .. math:: E_k = E_0 + (E_m - E_0) \\, k / m

    e.g. 100 and 400 Wh around a 3-interval gap: 175, 250, 325 Wh.
    """
    y0 = _args.finite("before_wh", before_wh)
    y1 = _args.finite("after_wh", after_wh)
    count = _args.integer("n", n, low=0)
    b = _args.integer("before_gap", before_gap, low=0)
    a = _args.integer("after_gap", after_gap, low=0)
    m = count + 1 + b + a
    k = np.arange(b + 1, b + count + 1, dtype=np.float64)
    return y0 + (y1 - y0) * k / m


def largest_remainder(weights: object, total_wh: int) -> IntArray:
    """
    Split an integer total into integer parts proportional to weights (largest-remainder rounding).

    Parameters
    ----------
    weights : array-like of float
        Non-negative weights; all zero (or empty sum) means an even split.
    total_wh : int
        The total, a non-negative integer. [Wh]

    Returns
    -------
    parts : ndarray of int64
        ``floor(total × w_i / sum(w))`` plus one for the largest remainders (ties to the earliest), so
        that ``parts.sum() == total_wh`` exactly. [Wh]
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(
            f"weights must be a one-dimensional array of finite non-negative numbers, got {weights!r}"
        )
    total = _args.integer("total_wh", total_wh, low=0)
    if w.size == 0:
        if total:
            raise ValueError(f"total_wh {total} cannot be split over no parts")
        return np.zeros(0, dtype=np.int64)
    if w.sum() <= 0:
        w = np.ones(w.size)
    exact = w / w.sum() * total
    base = np.floor(exact)
    remainder = int(min(max(total - int(base.sum()), 0), w.size))
    order = np.argsort(-(exact - base), kind="stable")
    parts: IntArray = np.asarray(base, dtype=np.int64)
    parts[order[:remainder]] += 1
    parts[order[0]] += total - int(parts.sum())  # only binary rounding can leave a residue here
    return parts


def like_day_class(day: date, *, holidays: Container[date], by: LikeDaysBy = "day_of_week") -> int:
    """
    Class of a local day for like-day estimation.

    Parameters
    ----------
    day : date
        Local calendar date.
    holidays : container of date
        Holidays (e.g. :func:`~meshmeter.headend.calendar.us_federal_holidays`).
    by : {"day_of_week", "day_type"}, optional
        ``"day_of_week"``: Monday 0 ... Sunday 6, a holiday 6 (like a Sunday). ``"day_type"``: 0 for a
        working day (Monday to Friday, not a holiday), 1 for Saturday, Sunday or a holiday.

    Returns
    -------
    int
    """
    _args.choice("by", by, LIKE_DAYS_BY)
    if by == "day_of_week":
        return 6 if day in holidays else day.weekday()
    return 1 if day in holidays or day.weekday() >= 5 else 0


@dataclass(frozen=True, eq=False)
class EstimationResult:
    """
    The validated series after estimation.

    Attributes
    ----------
    interval_end : ndarray of int64
        The grid of the validation, epoch seconds. [s]
    energy_wh : ndarray of float64
        Energy: as received, or an integer estimate; NaN where still unknown. [Wh]
    quality : ndarray of int64
        0, 10, 14 as validated; 9 where interpolated, 8 where estimated from like days.
    estimated : ndarray of bool
        Intervals estimated here.
    reasons : mapping of int to str
        Why each estimated interval has its value (method, end points or like days, scaling).
    unestimated : tuple of int
        Positions that needed an estimate and got none (no end points and no like days).
    validation : ValidationResult
    """

    interval_end: IntArray
    energy_wh: FloatArray
    quality: IntArray
    estimated: BoolArray
    reasons: Mapping[int, str]
    unestimated: tuple[int, ...]
    validation: ValidationResult


@dataclass
class _Gap:
    """A run of intervals to estimate, its float estimates (the shape), how, and its exact total if known."""

    first: int
    stop: int
    values: FloatArray
    quality: int
    reason: str
    total_wh: int | None = None  # exact total from counters


@dataclass
class _Groups:
    """
    The rounding groups of the estimated intervals: each group is rounded to its total as one.

    ``slot_*`` hold, per interval of the series, its group (-1: not estimated), its float estimate and
    its gap; ``total_wh`` each group's exact total (None: the rounded sum of its values).
    """

    slot_group: IntArray
    slot_value: FloatArray
    slot_gap: IntArray
    total_wh: dict[int, int | None] = field(default_factory=dict)

    @classmethod
    def of_gaps(cls, gaps: list[_Gap], n: int) -> _Groups:
        """One group per gap to begin with."""
        groups = cls(np.full(n, -1, dtype=np.int64), np.full(n, np.nan), np.full(n, -1, dtype=np.int64))
        for g_id, gap in enumerate(gaps):
            groups.total_wh[g_id] = gap.total_wh
            groups.slot_group[gap.first : gap.stop] = g_id
            groups.slot_value[gap.first : gap.stop] = gap.values
            groups.slot_gap[gap.first : gap.stop] = g_id
        return groups


def _counter_total(v: ValidationResult, first: int, stop: int) -> int | None:
    """The gap's exact energy from the counters on both sides, if known and consistent."""
    if first == 0 or stop > v.energy_wh.size:
        return None
    c0 = v.counter_wh[first - 1]
    if np.isnan(c0):
        return None
    if not np.isnan(v.counter_wh[stop - 1]):
        c1, seg1 = v.counter_wh[stop - 1], v.counter_segment[stop - 1]
    elif stop < v.energy_wh.size and not np.isnan(v.counter_wh[stop]) and np.isfinite(v.energy_wh[stop]):
        c1, seg1 = v.counter_wh[stop] - v.energy_wh[stop], v.counter_segment[stop]
    else:
        return None
    if seg1 != v.counter_segment[first - 1] or v.masks["counter_reset"][first:stop].any():
        return None
    total = c1 - c0
    if total < 0 or total != math.floor(total):
        return None
    return int(total)


def _end_point(v: ValidationResult, usable: BoolArray, start: int, step: int) -> tuple[int, int] | None:
    """The nearest usable interval from ``start`` in direction ``step``, skipping outage intervals."""
    j, skipped = start, 0
    while 0 <= j < usable.size and v.outage[j]:
        j += step
        skipped += 1
    if 0 <= j < usable.size and usable[j]:
        return j, skipped
    return None


def _like_day_index(v: ValidationResult, usable: BoolArray) -> dict[tuple[int, int], list[int]]:
    """Usable intervals by (local day, local minute of day)."""
    index: dict[tuple[int, int], list[int]] = {}
    for i in np.flatnonzero(usable).tolist():
        index.setdefault((int(v.local_day[i]), int(v.local_minute[i])), []).append(i)
    return index


def _like_days(
    v: ValidationResult,
    index: Mapping[tuple[int, int], list[int]],
    first: int,
    stop: int,
    holidays: Container[date],
    classes: dict[int, int],
) -> FloatArray:
    """Per interval of the gap, the mean of the last ``like_days`` like days' values at that local time."""
    cfg = v.config

    def klass(ordinal: int) -> int:
        if ordinal not in classes:
            classes[ordinal] = like_day_class(
                date.fromordinal(ordinal), holidays=holidays, by=cfg.like_days_by
            )
        return classes[ordinal]

    out = np.full(stop - first, np.nan)
    for pos, i in enumerate(range(first, stop)):
        day, minute = int(v.local_day[i]), int(v.local_minute[i])
        want = klass(day)
        samples: list[float] = []
        for back in range(1, cfg.like_day_lookback_days + 1):
            d = day - back
            if klass(d) != want:
                continue
            hits = index.get((d, minute))
            if hits:
                samples.append(float(np.mean(v.energy_wh[hits])))
                if len(samples) == cfg.like_days:
                    break
        if samples:
            out[pos] = float(np.mean(samples))
    return out


def estimate(
    validation: ValidationResult,
    *,
    holidays: Collection[date] | None = None,
) -> EstimationResult:
    """
    Estimate the missing (and negative, or with ``estimate_questionable`` questionable) intervals.

    Parameters
    ----------
    validation : ValidationResult
        From :func:`validate` (its config, time zone, outages and sum checks are used).
    holidays : collection of date, optional
        Local holiday dates; default the US federal holidays (by rule) of the years of the series.

    Returns
    -------
    EstimationResult

    Notes
    -----
    Each maximal run of intervals to estimate (a gap) is handled in turn:

    1. Its exact total, where the unwrapped cumulative counters on both sides are known
       (:func:`check_counter`; the counter at the gap's end is the next interval's counter less its
       energy): ``total = c_end - c_before``.
    2. A gap of at most ``max_interpolation_intervals``: linear interpolation (quality 9) between the
       nearest usable intervals on each side (valid, not in an outage: outage intervals are skipped,
       never used as end points) by :func:`interpolate_linear`. With a known total the interpolated
       values are the shape, scaled to it.
    3. Otherwise, or when there are no end points: the mean of the last ``like_days`` like days at the
       same local time of day (quality 8), scaled to the known total if there is one.
    4. A known total with neither end points nor like days is split evenly: linear interpolation of
       the cumulative counter (quality 9).
    5. With ``scale_to_registers``, the estimates between two register reads whose intervals are
       otherwise complete are scaled so that everything between the reads sums to the register
       difference (unless a counter total already fixes them).

    Integer Wh: each group with a known total (a counter gap, a register span) is rounded by
    :func:`largest_remainder` to sum to it exactly; any other gap to its rounded float sum.
    """
    if not isinstance(validation, ValidationResult):
        raise ValueError(f"validation must be a ValidationResult, got {type(validation).__name__}")
    v = validation
    targets = _targets(v)
    gaps, unestimated = _fill_gaps(v, targets, _holiday_calendar(v, holidays))
    groups = _Groups.of_gaps(gaps, v.interval_end.size)
    if v.config.scale_to_registers:
        _scale_to_registers(v, targets, gaps, groups)
    energy = v.energy_wh.copy()
    qualities = v.quality.copy()
    estimated = np.zeros(v.interval_end.size, dtype=np.bool_)
    reasons: dict[int, str] = {}
    for g_id in sorted(set(groups.slot_group[groups.slot_group >= 0].tolist())):
        idx = np.flatnonzero(groups.slot_group == g_id)
        weights = np.clip(groups.slot_value[idx], 0.0, None)
        total = groups.total_wh[g_id]
        if total is None:
            total = math.floor(float(weights.sum()) + 0.5)
        energy[idx] = largest_remainder(weights, total).astype(np.float64)
        estimated[idx] = True
        for i in idx.tolist():
            gap = gaps[int(groups.slot_gap[i])]
            qualities[i] = gap.quality
            reasons[i] = gap.reason
    return EstimationResult(
        interval_end=v.interval_end,
        energy_wh=energy,
        quality=qualities,
        estimated=estimated,
        reasons=reasons,
        unestimated=tuple(unestimated),
        validation=v,
    )


def _holiday_calendar(v: ValidationResult, holidays: Collection[date] | None) -> Collection[date]:
    """``holidays``, else the US federal holidays of the series' years (and the year before)."""
    if holidays is not None:
        return holidays
    if not v.interval_end.size:
        return frozenset()
    first_year = date.fromordinal(int(v.local_day.min())).year
    last_year = date.fromordinal(int(v.local_day.max())).year
    return frozenset().union(
        *(us_federal_holidays(y) for y in range(max(first_year - 1, 1971), last_year + 1))
    )


def _targets(v: ValidationResult) -> BoolArray:
    """The intervals to estimate: missing and negative, and with ``estimate_questionable`` flagged ones."""
    mask = v.masks["missing"] | v.masks["negative"]
    if v.config.estimate_questionable:
        for name in CHECKS:
            if name not in _NOT_REPLACED:
                mask = mask | v.masks[name]
    return mask


def _fill_gaps(
    v: ValidationResult, targets: BoolArray, calendar: Collection[date]
) -> tuple[list[_Gap], list[int]]:
    """Float estimates of each gap (steps 1 to 4 of :func:`estimate`), and the positions left unestimated."""
    cfg = v.config
    usable = (v.quality == Quality.VALID) & ~v.outage & np.isfinite(v.energy_wh)
    index = _like_day_index(v, usable)
    classes: dict[int, int] = {}
    gaps: list[_Gap] = []
    unestimated: list[int] = []
    for first, stop in runs(targets):
        count = stop - first
        total = _counter_total(v, first, stop)
        values: FloatArray | None = None
        quality = int(Quality.ESTIMATED_INTERPOLATION)
        reason = ""
        if count <= cfg.max_interpolation_intervals:
            left = _end_point(v, usable, first - 1, -1)
            right = _end_point(v, usable, stop, +1)
            if left is not None and right is not None:
                (a, skip_a), (b, skip_b) = left, right
                values = interpolate_linear(
                    float(v.energy_wh[a]), float(v.energy_wh[b]), count, before_gap=skip_a, after_gap=skip_b
                )
                reason = (
                    f"linear interpolation between {v.energy_wh[a]:g} Wh and {v.energy_wh[b]:g} Wh over a "
                    f"gap of {count} interval(s)"
                )
        if values is None:
            like = _like_days(v, index, first, stop, calendar, classes)
            if not np.isnan(like).any():
                values, quality = like, int(Quality.ESTIMATED_REFERENCE_DAY)
                reason = (
                    f"average of the last {cfg.like_days} like days ({cfg.like_days_by}) "
                    "at the same local time"
                )
        if values is None and total is not None:
            values = np.zeros(count)
            reason = "even split of the counter difference (linear interpolation of the cumulative counter)"
        if values is None:
            unestimated.extend(range(first, stop))
            continue
        if total is not None:
            reason += f", scaled to the counter difference of {total} Wh"
        gaps.append(_Gap(first, stop, values, quality, reason, total))
    return gaps, unestimated


def _scale_to_registers(v: ValidationResult, targets: BoolArray, gaps: list[_Gap], groups: _Groups) -> None:
    """
    Step 5 of :func:`estimate`: regroup the free estimates between two register reads to their difference.

    A span qualifies when its reads are on the grid and inside the series, the register did not go
    down, every other interval in it is known, and no counter gap straddles it; its free estimates
    (those without a counter total) become one group whose total is the register difference less the
    known intervals and the counter totals inside.
    """
    cfg = v.config
    slot_group, slot_value, slot_gap, group_total = (
        groups.slot_group,
        groups.slot_value,
        groups.slot_gap,
        groups.total_wh,
    )
    next_group = len(gaps)
    for s in v.sum_checks:
        if s.register_delta_wh < 0 or s.start % cfg.interval_s or s.end % cfg.interval_s or s.stop <= s.first:
            continue
        if s.start < int(v.interval_end[0]) - cfg.interval_s or s.end > int(v.interval_end[-1]):
            continue
        span = slice(s.first, s.stop)
        inside = targets[span]
        if not inside.any() or np.isnan(slot_value[span][inside]).any():
            continue
        fixed = (
            np.array([group_total.get(int(g)) is not None for g in slot_group[span]], dtype=np.bool_) & inside
        )
        free = inside & ~fixed
        if not free.any():
            continue
        known = float(v.energy_wh[span][~inside].sum())
        fixed_groups = set(slot_group[span][fixed].tolist())
        fixed_sum = sum(group_total[int(g)] or 0 for g in fixed_groups)
        if any((slot_group[: s.first] == g).any() or (slot_group[s.stop :] == g).any() for g in fixed_groups):
            continue  # a counter gap straddles the span: its total is not all inside
        remaining = s.register_delta_wh - known - fixed_sum
        if remaining < 0 or remaining != math.floor(remaining):
            continue
        idx = np.flatnonzero(free) + s.first
        before = float(slot_value[idx].sum())
        scale = remaining / before if before > 0 else math.nan
        slot_group[idx] = next_group
        group_total[next_group] = int(remaining)
        note = (
            f", scaled x{scale:.4g} to the register difference"
            if before > 0
            else ", split evenly to the register difference"
        )
        for g_id in set(slot_gap[idx].tolist()):
            if not gaps[g_id].reason.endswith(note):
                gaps[g_id].reason += note
        next_group += 1
