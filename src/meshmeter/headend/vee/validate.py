"""VEE's validation: one meter's series on its regular grid, with a quality code and reasons per interval.

:func:`validate` runs every check of :mod:`~meshmeter.headend.vee.checks` over an
:class:`IntervalSeries` and returns a :class:`ValidationResult`: quality 0 (valid), 10 (questionable)
or 14 (missing), with a :class:`Finding` per check that fired (``docs/vee.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np

from meshmeter.headend.vee import _args
from meshmeter.headend.vee._args import BoolArray, FloatArray, IntArray
from meshmeter.headend.vee.checks import (
    CHECKS,
    SumCheck,
    check_counter,
    check_interval_size,
    check_negative,
    check_sum,
    check_time_tolerance,
    check_zero_run,
    find_spikes,
    outage_mask,
    runs,
    snap,
)
from meshmeter.headend.vee.config import VeeConfig
from meshmeter.intervals import Quality, zone

__all__ = ["Finding", "IntervalSeries", "ValidationResult", "validate"]

_INFORMATIONAL: Final = frozenset({"missing", "rollover"})
"""Checks that do not make an interval questionable: a missing one is raw (14), a rollover is expected."""


@dataclass(frozen=True, eq=False)
class IntervalSeries:
    """
    One meter's interval data as received (build it with :meth:`from_arrays`).

    Attributes
    ----------
    interval_end : ndarray of int64
        Interval ends, epoch seconds UTC, strictly increasing. [s]
    energy_wh : ndarray of float64
        Energy of each interval; NaN where unknown. [Wh]
    cumulative_wh : ndarray of float64
        Cumulative counter at each interval end; NaN where not sent. [Wh]
    duration_s : ndarray of float64
        Length of each interval where the source states it (Green Button does); NaN where not. [s]
    """

    interval_end: IntArray
    energy_wh: FloatArray
    cumulative_wh: FloatArray
    duration_s: FloatArray

    @classmethod
    def from_arrays(
        cls,
        interval_end: object,
        energy_wh: object,
        cumulative_wh: object | None = None,
        duration_s: object | None = None,
    ) -> IntervalSeries:
        """
        Check and convert the arrays of a series.

        Parameters
        ----------
        interval_end : array-like
            Interval ends: int64 epoch seconds, ``datetime64`` or aware datetimes; strictly increasing.
        energy_wh : array-like
            Energy per interval, NaN for missing. [Wh]
        cumulative_wh : array-like, optional
            Cumulative counter at each end, NaN where unknown. [Wh]
        duration_s : array-like, optional
            Stated interval lengths, NaN where unknown. [s]

        Raises
        ------
        ValueError
            Naming the argument: mismatched lengths, unsorted or repeated times, infinite values.
        """
        ends = _args.epoch_array("interval_end", interval_end)
        n = ends.size
        if n > 1 and not (np.diff(ends) > 0).all():
            i = int(np.flatnonzero(np.diff(ends) <= 0)[0]) + 1
            raise ValueError(f"interval_end must be strictly increasing; interval_end[{i}] is not")
        energy = _args.float_array("energy_wh", energy_wh, n)
        cumulative = (
            np.full(n, np.nan)
            if cumulative_wh is None
            else _args.float_array("cumulative_wh", cumulative_wh, n)
        )
        duration = (
            np.full(n, np.nan) if duration_s is None else _args.float_array("duration_s", duration_s, n)
        )
        return cls(ends, energy, cumulative, duration)

    def __len__(self) -> int:
        return int(self.interval_end.size)


@dataclass(frozen=True, slots=True)
class Finding:
    """
    One check's finding: the interval (position and end), the check's name, why, and its weight.

    ``str(finding)`` says it in words, e.g.
    ``2026-11-03 14:15 UTC: spike — 20000 Wh is more than 5× the day's third highest interval (500 Wh)``.
    """

    index: int
    interval_end: int
    check: str
    reason: str
    questionable: bool

    def __str__(self) -> str:
        """The interval's end (UTC, to the minute), the check in words, and the reason."""
        return (
            f"{_clock(self.interval_end, '%Y-%m-%d %H:%M')}: {self.check.replace('_', ' ')} — {self.reason}"
        )


def _clock(epoch: int, pattern: str) -> str:
    """An instant of epoch seconds as UTC wall time, e.g. ``2026-11-03 14:15 UTC``."""
    return datetime.fromtimestamp(epoch, UTC).strftime(pattern) + " UTC"


@dataclass(frozen=True, eq=False)
class ValidationResult:
    """
    A series on its regular grid, with a quality code per interval and the reasons.

    Attributes
    ----------
    interval_end : ndarray of int64
        Every boundary with ``start < interval_end <= end``, epoch seconds. [s]
    energy_wh : ndarray of float64
        Energy as received, NaN where missing. [Wh]
    cumulative_wh : ndarray of float64
        Counter as received, NaN where unknown. [Wh]
    counter_wh : ndarray of float64
        Counter with rollovers undone (:func:`check_counter`). [Wh]
    counter_segment : ndarray of int64
        Counter segment (a reset starts a new one).
    quality : ndarray of int64
        0 valid, 10 questionable, 14 missing (raw, nothing to validate).
    masks : mapping of str to ndarray of bool
        Each check's mask, keyed by the names of :data:`CHECKS`.
    outage : ndarray of bool
        Intervals in a known outage.
    findings : tuple of Finding
        Every finding, in order of interval.
    sum_checks : tuple of SumCheck
        The sum checks.
    config : VeeConfig
    timezone : str
        IANA zone of the local days (spike groups, like days).
    local_day : ndarray of int64
        Local date (proleptic ordinal) of each interval's start.
    local_minute : ndarray of int64
        Local time of day of each interval's start, minutes after midnight.
    """

    interval_end: IntArray
    energy_wh: FloatArray
    cumulative_wh: FloatArray
    counter_wh: FloatArray
    counter_segment: IntArray
    quality: IntArray
    masks: Mapping[str, BoolArray]
    outage: BoolArray
    findings: tuple[Finding, ...]
    sum_checks: tuple[SumCheck, ...]
    config: VeeConfig
    timezone: str
    local_day: IntArray
    local_minute: IntArray

    def reasons(self, index: int) -> list[str]:
        """The reasons found for the interval at ``index``."""
        return [f"{f.check}: {f.reason}" for f in self.findings if f.index == index]


def _local(ends: IntArray, interval_s: int, zone: ZoneInfo) -> tuple[IntArray, IntArray]:
    """Local date ordinal and minute of day of each interval's start."""
    days = np.empty(ends.size, dtype=np.int64)
    minutes = np.empty(ends.size, dtype=np.int64)
    for i, end in enumerate(ends.tolist()):
        local = datetime.fromtimestamp(end - interval_s, zone)
        days[i] = local.toordinal()
        minutes[i] = local.hour * 60 + local.minute
    return days, minutes


def validate(
    series: IntervalSeries,
    *,
    config: VeeConfig | None = None,
    register_reads: object | None = None,
    outages: object | None = None,
    start: object | None = None,
    end: object | None = None,
    timezone: str = "UTC",
) -> ValidationResult:
    """
    Run every check over a meter's series and give each interval of the regular grid a quality code.

    Parameters
    ----------
    series : IntervalSeries
        The intervals as received (:meth:`IntervalSeries.from_arrays`).
    config : VeeConfig, optional
        Settings; default ``VeeConfig()``.
    register_reads : sequence of (read_at, energy_wh), optional
        Register reads for the sum check and the counter-free totals of :func:`estimate`. [Wh]
    outages : sequence of (start, end), optional
        Known outages (power-down to power-up); zeros within them are not questionable.
    start, end : datetime or int, optional
        The grid: boundaries with ``start < interval_end <= end``; default from the series' first to
        its last end (after snapping). Both must be on boundaries.
    timezone : str, optional
        IANA zone whose local days group the spike check (and, in :func:`estimate`, select like days).

    Returns
    -------
    ValidationResult
        Quality 14 for a missing interval, 10 for one with a questionable finding, 0 otherwise.

    Notes
    -----
    Order of work: snap each end within ``time_tolerance_s`` of a boundary to it (farther ones are
    snapped too, and flagged ``time_tolerance``); two records on one boundary keep the nearer one
    (``duplicate``); place the records on the grid (empty boundaries are ``missing``); then
    ``interval_size``, ``negative``, ``rollover``/``counter_reset``, ``spike`` (ratio test per local
    day), ``zero_run`` (outage aware) and ``sum_check`` (a failing pair flags every interval between).
    """
    if not isinstance(series, IntervalSeries):
        raise ValueError(f"series must be an IntervalSeries, got {type(series).__name__}")
    cfg = VeeConfig.of(config)
    tz = zone(timezone)
    step = cfg.interval_s
    snapped = snap(series.interval_end, step)
    lo = (int(snapped[0]) - step if snapped.size else 0) if start is None else _args.epoch_s("start", start)
    hi = (int(snapped[-1]) if snapped.size else 0) if end is None else _args.epoch_s("end", end)
    for name, value in (("start", lo), ("end", hi)):
        if value % step:
            raise ValueError(f"{name} must be on an interval boundary ({step} s), got {value}")
    if lo > hi:
        raise ValueError(f"start must not be after end, got {lo} and {hi}")
    grid = np.arange(lo + step, hi + 1, step, dtype=np.int64)
    n = grid.size
    masks: dict[str, BoolArray] = {name: np.zeros(n, dtype=np.bool_) for name in CHECKS}
    findings: list[Finding] = []

    def add(i: int, check: str, reason: str) -> None:
        masks[check][i] = True
        findings.append(Finding(i, int(grid[i]), check, reason, check not in _INFORMATIONAL))

    energy, cumulative = _place(series, snapped, grid, cfg, add)
    for i in np.flatnonzero(np.isnan(energy)).tolist():
        add(i, "missing", "no value")
    for i in np.flatnonzero(check_negative(energy)).tolist():
        add(i, "negative", f"{energy[i]:g} Wh is negative")
    max_wh = cfg.max_energy_wh()
    rollover, reset, counter, segment = check_counter(
        cumulative, modulus_wh=cfg.counter_modulus_wh, max_step_wh=max_wh
    )
    for i in np.flatnonzero(rollover).tolist():
        add(i, "rollover", f"counter rolled over at {cfg.counter_modulus_wh} Wh (expected)")
    for i in np.flatnonzero(reset).tolist():
        add(i, "counter_reset", f"counter went down to {cumulative[i]:.0f} Wh")
    local_day, local_minute = _local(grid, step, tz)
    spikes = find_spikes(
        energy,
        ratio=cfg.spike_ratio,
        min_wh=cfg.spike_min_wh,
        max_interval_wh=max_wh,
        rule=cfg.spike_rule,
        groups=local_day,
    )
    for i in np.flatnonzero(spikes.mask).tolist():
        why: list[str] = []
        if spikes.by_ratio[i] and cfg.spike_rule != "rating":
            why.append(
                f"more than {cfg.spike_ratio:g}× the day's third highest interval ({spikes.third_wh[i]:g} Wh)"
            )
        if spikes.by_rating[i] and cfg.spike_rule != "ratio":
            why.append(f"above the rated maximum of {max_wh:g} Wh")
        add(i, "spike", f"{energy[i]:g} Wh is {' and '.join(why)}")
    outage = outage_mask(grid, outages, interval_s=step)
    max_run = math.floor(cfg.zero_run_max_h * 3600 / step + 1e-9)
    zero = check_zero_run(energy, max_run=max_run, exempt=outage)
    for a, b in runs(zero):
        for i in range(a, b):
            add(
                i,
                "zero_run",
                f"{b - a} zero intervals in a row outside known outages (over {cfg.zero_run_max_h:g} h)",
            )
    sums = check_sum(
        grid,
        energy,
        register_reads,
        tolerance_fraction=cfg.sum_tolerance_fraction,
        tolerance_wh=cfg.sum_tolerance_wh,
        interval_s=step,
    )
    for s in sums:
        if s.passed is False:
            for i in range(s.first, s.stop):
                add(i, "sum_check", s.reason)
    findings.sort(key=lambda f: (f.index, CHECKS.index(f.check)))
    quality = np.full(n, Quality.VALID, dtype=np.int64)
    for f in findings:
        if f.questionable:
            quality[f.index] = Quality.QUESTIONABLE
    quality[masks["missing"]] = Quality.RAW
    return ValidationResult(
        interval_end=grid,
        energy_wh=energy,
        cumulative_wh=cumulative,
        counter_wh=counter,
        counter_segment=segment,
        quality=quality,
        masks=masks,
        outage=outage,
        findings=tuple(findings),
        sum_checks=sums,
        config=cfg,
        timezone=timezone,
        local_day=local_day,
        local_minute=local_minute,
    )


def _place(
    series: IntervalSeries,
    snapped: IntArray,
    grid: IntArray,
    cfg: VeeConfig,
    add: Callable[[int, str, str], None],
) -> tuple[FloatArray, FloatArray]:
    """
    Place the records on the grid: energy and counter per boundary (NaN where none).

    Each record goes to its nearest boundary (``snapped``); two on one boundary keep the nearer
    (``duplicate``); a record off its boundary by more than the tolerance is ``time_tolerance``, one of
    the wrong length ``interval_size``.
    """
    step = cfg.interval_s
    n = grid.size
    lo = int(grid[0]) - step if n else 0
    off = check_time_tolerance(series.interval_end, interval_s=step, tolerance_s=cfg.time_tolerance_s)
    size = check_interval_size(
        series.interval_end, interval_s=step, tolerance_s=cfg.time_tolerance_s, duration_s=series.duration_s
    )
    energy = np.full(n, np.nan)
    cumulative = np.full(n, np.nan)
    placed = np.full(n, -1, dtype=np.int64)
    distance = np.abs(series.interval_end - snapped)
    for k in range(len(series)):
        i = int((snapped[k] - lo) // step) - 1
        if not 0 <= i < n:
            continue
        if placed[i] >= 0:
            keep = int(placed[i]) if distance[placed[i]] <= distance[k] else k
            add(
                i,
                "duplicate",
                f"two records for this interval: kept the one {int(distance[keep])} s off its end",
            )
            if keep == int(placed[i]):
                continue
        placed[i] = k
        energy[i] = series.energy_wh[k]
        cumulative[i] = series.cumulative_wh[k]
    for i in np.flatnonzero(placed >= 0).tolist():
        k = int(placed[i])
        if off[k]:
            received = _clock(int(series.interval_end[k]), "%H:%M:%S")
            add(i, "time_tolerance", f"the record ends at {received}, {int(distance[k])} s off its boundary")
        if size[k]:
            stated = series.duration_s[k]
            length = stated if not np.isnan(stated) else series.interval_end[k] - series.interval_end[k - 1]
            add(i, "interval_size", f"interval of {float(length):g} s, expected {step} s")
    return energy, cumulative
