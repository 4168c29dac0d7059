"""VEE over the store: read one meter's raw data, validate and estimate it, write the validated copy.

:func:`run_vee` is the only part of VEE that does I/O; :func:`edit_intervals` is a person's edit
(quality 7), which VEE leaves alone afterwards (``docs/vee.md``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from meshmeter.catalog.limits import max_interval_energy_wh
from meshmeter.headend.vee import _args
from meshmeter.headend.vee._args import IntArray
from meshmeter.headend.vee.checks import SumCheck
from meshmeter.headend.vee.config import EXPORT_ZERO_RUN_MAX_H, SOLAR_ZERO_RUN_MAX_H, VeeConfig
from meshmeter.headend.vee.estimate import EstimationResult, estimate
from meshmeter.headend.vee.validate import Finding, IntervalSeries, ValidationResult, validate
from meshmeter.intervals import CUMULATIVE_NONE, Quality

if TYPE_CHECKING:
    from meshmeter.store import Meter, Store

__all__ = ["VeeReport", "edit_intervals", "run_vee"]

_WORKLIST_QUALITIES = frozenset(
    int(q) for q in (Quality.QUESTIONABLE, Quality.ESTIMATED_INTERPOLATION, Quality.ESTIMATED_REFERENCE_DAY)
)
"""Qualities of the intervals whose findings :func:`run_vee` stores: those a person works through."""


@dataclass(frozen=True, slots=True)
class VeeReport:
    """
    What :func:`run_vee` did for one meter over ``(start, end]``.

    Attributes
    ----------
    meter_id : int
    start, end : datetime
    intervals : int
        Boundaries in the window. [1]
    valid, questionable, interpolated, estimated_reference_day, missing : int
        Intervals by outcome: quality 0, 10, 9, 8, and still missing (14: nothing stored). [1]
    kept_edits : int
        Intervals left alone because a person edited them (quality 7). [1]
    changed : int
        Validated rows inserted or changed in the store (0 on an idempotent re-run). [1]
    findings : tuple of Finding
        The findings inside the window.
    sum_checks : tuple of SumCheck
        The sum checks that touch the window.
    """

    meter_id: int
    start: datetime
    end: datetime
    intervals: int
    valid: int
    questionable: int
    interpolated: int
    estimated_reference_day: int
    missing: int
    kept_edits: int
    changed: int
    findings: tuple[Finding, ...] = field(default=())
    sum_checks: tuple[SumCheck, ...] = field(default=())


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _meter_outages(store: Store, meter_id: int, lo: datetime, hi: datetime) -> list[tuple[int, int]]:
    """Outages from the store's ``power_down`` / ``power_up`` events of the meter."""
    spans: list[tuple[int, int]] = []
    down: int | None = None
    for event in store.events(meter_id=meter_id, start=lo - timedelta(days=7), end=hi):
        t = _args.epoch_s("event.at", event.at)
        if event.kind == "power_down" and down is None:
            down = t
        elif event.kind == "power_up" and down is not None:
            if t > down:
                spans.append((down, t))
            down = None
    if down is not None:
        spans.append((down, _args.epoch_s("end", hi) + 1))
    return spans


def _meter_config(meter: Meter, cfg: VeeConfig, *, given: bool) -> VeeConfig:
    """
    The settings for this meter: its own interval length, its own rated maximum unless set, and, when no
    settings were ``given``, the zero-run limit of what it measures: an export register's
    (:data:`~meshmeter.headend.vee.config.EXPORT_ZERO_RUN_MAX_H`, a year), else a production meter's
    (role ``production``: :data:`~meshmeter.headend.vee.config.SOLAR_ZERO_RUN_MAX_H`, its nights),
    else the settings' own (4 h by default). The same for every caller: ``meshmeter vee``, ingest, the
    demo (``docs/vee.md``).
    """
    if not given and meter.export_of_meter_id is not None:
        cfg = replace(cfg, zero_run_max_h=EXPORT_ZERO_RUN_MAX_H)
    elif not given and meter.role == "production":
        cfg = replace(cfg, zero_run_max_h=SOLAR_ZERO_RUN_MAX_H)
    if cfg.interval_s != meter.interval_s:
        cfg = replace(cfg, interval_s=meter.interval_s)  # a meter is validated at its own length
    if cfg.max_interval_wh is None:
        cfg = replace(cfg, max_interval_wh=float(max_interval_energy_wh(meter)))
    return cfg


def _read_series(store: Store, meter_id: int, lo: datetime, hi: datetime) -> IntervalSeries:
    """
    The raw intervals (latest revision) of ``(lo, hi]`` with their cumulative counters, read as columns
    (:meth:`~meshmeter.store.Store.raw_interval_counters`): the counters serve the rollover and reset checks
    and the exact gap totals.
    """
    ends, energy, cumulative = store.raw_interval_counters(meter_id=meter_id, start=lo, end=hi)
    counters = cumulative.astype(np.float64)
    counters[cumulative == CUMULATIVE_NONE] = np.nan
    return IntervalSeries.from_arrays(ends, energy.astype(np.float64), counters)


def run_vee(
    store: Store,
    *,
    meter_id: int,
    start: datetime,
    end: datetime,
    config: VeeConfig | None = None,
    edited_by: str = "vee",
    timezone: str | None = None,
    outages: Sequence[tuple[datetime, datetime]] | None = None,
    holidays: Collection[date] | None = None,
) -> VeeReport:
    """
    Validate, estimate and store one meter's intervals of ``(start, end]``.

    Parameters
    ----------
    store : Store
        Read: raw intervals (latest revision), register reads, ``power_down``/``power_up`` events,
        validated intervals. Written: validated intervals, through
        :meth:`~meshmeter.store.Store.put_validated_intervals`, which audits every change.
    meter_id : int
        The meter.
    start, end : datetime
        Aware; on interval boundaries.
    config : VeeConfig, optional
        Settings; ``max_interval_wh`` None takes the meter's own limit
        (:func:`meshmeter.catalog.max_interval_energy_wh` of its record: designation, CT ratio, interval
        length).
    edited_by : str, optional
        Who, for the audit.
    timezone : str, optional
        IANA zone of the like days; default the meter's site's zone, else UTC.
    outages : sequence of (datetime, datetime), optional
        Known outages besides those of the store's events.
    holidays : collection of date, optional
        Local holiday dates; default US federal holidays.

    Returns
    -------
    VeeReport

    Notes
    -----
    Raw intervals are read ``like_day_lookback_days`` before ``start`` (like days, counters) and a day
    after ``end`` (end points); only ``(start, end]`` is written. An interval a person edited
    (quality 7) is left alone. Nothing is written for an interval that stays missing, or negative
    (the store holds no negative energy). Writing the same results again changes nothing and adds no
    audit record: re-running is idempotent.
    """
    cfg = VeeConfig.of(config)
    meter = store.get_meter(meter_id=meter_id)
    if meter is None:
        raise ValueError(f"meter_id {meter_id!r} is not a known meter")
    cfg = _meter_config(meter, cfg, given=config is not None)
    lo, hi = _args.epoch_s("start", start), _args.epoch_s("end", end)
    if lo % cfg.interval_s or hi % cfg.interval_s or lo > hi:
        raise ValueError(
            f"start and end must be interval boundaries with start <= end, got {start!r}, {end!r}"
        )
    if timezone is None:
        site = store.get_site(site_id=meter.site_id) if meter.site_id is not None else None
        timezone = site.timezone if site is not None else "UTC"
    read_lo = _utc(lo - cfg.like_day_lookback_days * 86400 - 86400)
    read_hi = _utc(hi + 86400)
    watermark = store.ingest_watermark(seal=True)  # before the read: what arrives later is not validated
    series = _read_series(store, meter_id, read_lo, read_hi)
    reads = [
        (r.read_at, r.energy_wh) for r in store.register_reads(meter_id=meter_id, start=read_lo, end=read_hi)
    ]
    spans = _meter_outages(store, meter_id, read_lo, read_hi) + _args.spans("outages", outages)
    validation = validate(
        series,
        config=cfg,
        register_reads=reads,
        outages=spans,
        start=_args.epoch_s("start", read_lo),
        end=_args.epoch_s("end", read_hi),
        timezone=timezone,
    )
    result = estimate(validation, holidays=holidays)
    existing = {
        _args.epoch_s("interval_end", r.interval_end): (r.energy_wh, r.quality)
        for r in store.validated_intervals(meter_id=meter_id, start=_utc(lo), end=_utc(hi))
    }
    window = np.flatnonzero((result.interval_end > lo) & (result.interval_end <= hi))
    by_reason, counts = _rows_to_write(result, validation, window, existing, cfg)
    changed = 0
    for reason, rows in by_reason.items():
        changed += store.put_validated_intervals(
            meter_id=meter_id, rows=rows, edited_by=edited_by, reason=reason
        )
    flagged = {i for i in window.tolist() if int(result.quality[i]) in _WORKLIST_QUALITIES}
    store.put_vee_findings(  # the work list's "why" (docs/vee.md)
        meter_id=meter_id,
        start=_utc(lo),
        end=_utc(hi),
        findings=[
            (_utc(f.interval_end), f.check, f.reason) for f in validation.findings if f.index in flagged
        ],
        keep=[_utc(t) for t, (_, quality) in existing.items() if quality == Quality.EDITED],
    )
    store.record_vee_run(
        meter_id=meter_id, start=_utc(lo), end=_utc(hi), batch_watermark=watermark, ran_by=edited_by
    )
    inside = {int(i) for i in window.tolist()}
    return VeeReport(
        meter_id=meter_id,
        start=_utc(lo),
        end=_utc(hi),
        intervals=int(window.size),
        valid=counts["valid"],
        questionable=counts["questionable"],
        interpolated=counts["interpolated"],
        estimated_reference_day=counts["reference"],
        missing=counts["missing"],
        kept_edits=counts["kept"],
        changed=changed,
        findings=tuple(f for f in validation.findings if f.index in inside),
        sum_checks=tuple(s for s in validation.sum_checks if s.end > lo and s.start < hi),
    )


def _rows_to_write(
    result: EstimationResult,
    validation: ValidationResult,
    window: IntArray,
    existing: dict[int, tuple[int, int]],
    cfg: VeeConfig,
) -> tuple[dict[str, list[tuple[datetime, int, int]]], dict[str, int]]:
    """
    The validated rows of the window by reason, and the window's intervals counted by outcome.

    A person's edit (quality 7) is kept; a missing or negative interval is not written; a valid one only
    with ``store_valid_intervals`` or where it replaces another validated row.
    """
    by_reason: dict[str, list[tuple[datetime, int, int]]] = {}
    counts = dict.fromkeys(("valid", "questionable", "interpolated", "reference", "missing", "kept"), 0)
    for i in window.tolist():
        t = int(result.interval_end[i])
        old = existing.get(t)
        if old is not None and old[1] == Quality.EDITED:
            counts["kept"] += 1
            continue
        value, quality = result.energy_wh[i], int(result.quality[i])
        if np.isnan(value) or value < 0:
            counts["missing"] += 1
            continue
        row = (int(value), quality)
        if quality == Quality.VALID:
            counts["valid"] += 1
            if not cfg.store_valid_intervals and (old is None or old == row):
                continue
            reason = "vee: passed every check"
        elif quality == Quality.QUESTIONABLE:
            counts["questionable"] += 1
            checks = sorted({f.check for f in validation.findings if f.index == i and f.questionable})
            reason = "vee: questionable: " + ", ".join(checks)
        else:
            counts["interpolated" if quality == Quality.ESTIMATED_INTERPOLATION else "reference"] += 1
            reason = "vee: " + result.reasons[i]
        by_reason.setdefault(reason, []).append((_utc(t), *row))
    return by_reason, counts


def edit_intervals(
    store: Store,
    *,
    meter_id: int,
    rows: Iterable[tuple[datetime, int]],
    edited_by: str,
    reason: str,
    action: str | None = None,
) -> int:
    """
    A person's edit of validated intervals: each ``(interval_end, energy_wh)`` is stored with quality 7.

    The store audits the edit (who, when, why, the old value, and ``action``: the act on the VEE work
    list it is, ``accept`` or ``edit``); :func:`run_vee` leaves edited intervals alone afterwards.
    Returns how many intervals changed.
    """
    items = [(end, energy, Quality.EDITED) for end, energy in rows]
    return store.put_validated_intervals(
        meter_id=meter_id, rows=items, edited_by=edited_by, reason=reason, action=action
    )
