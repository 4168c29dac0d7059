"""Reconcile a site with its master meter over a period, from the store, and raise what it shows.

:func:`reconcile_site` reads every meter of the site through the one validated view (cut to each meter's
time in service, at the multiplier in force: :func:`meshmeter.services.meterlife.own_series`), balances
them on one grid (:mod:`meshmeter.headend.reconcile`), sums the balance per interval, local day or local
month, and, when asked, raises the alerts of each local day (:mod:`meshmeter.headend.alerts`):

- ``submeter_excess`` when the sub-meters add up to more than the master beyond the meters' accuracy (a
  CT or wiring fault, manual §7), cleared by a later day within it;
- ``remainder_jump`` when a complete day's unmetered remainder is far above the median of the seven days
  before (those days are read too, before the period), cleared by a later ordinary day.

Each alert's key is ``<kind>:<master meter id>:<local date>`` (``...:cleared`` for the clearing one), at
the day's local midnight: a rerun adds nothing. ``meshmeter reconcile`` and
``GET /sites/{site_id}/reconciliation`` call :func:`reconcile_site` (the API without alerts: a GET
changes nothing); ``docs/reconcile.md`` has the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from meshmeter.errors import NotFoundError, NothingToBillError
from meshmeter.headend.alerts import DEFAULT_CHANNELS, Alert, AlertKind, alerts, raise_alert
from meshmeter.headend.reconcile import (
    BY,
    DEFAULT_JUMP_FACTOR,
    DEFAULT_JUMP_MIN_WH,
    DEFAULT_MASTER_ACCURACY,
    DEFAULT_PULSE_WH,
    DEFAULT_SUBMETER_ACCURACY,
    JUMP_DAYS,
    BalanceRow,
    MeterSeries,
    RemainderJump,
    balance,
    meter_part,
    period_bounds,
    reconcile_length,
    remainder_jumps,
    rows,
    site_meters,
)
from meshmeter.intervals import floor_to_grid, zone
from meshmeter.services.meterlife import meter_life, own_series
from meshmeter.store import Meter, Site, Store

__all__ = [
    "MeterSummary",
    "Reconciliation",
    "find_site",
    "reconcile_site",
    "reconciliation_to_dict",
]

_CHECK = (
    "verify CT connections, orientations and phases (CT1 on line 1, CT2 on line 2) and each meter's CT "
    "ratio and multiplier (manual §7)"
)


@dataclass(frozen=True, slots=True)
class MeterSummary:
    """One meter of the balance over the period."""

    meter: Meter
    side: str
    """``master``, ``master_export``, ``production``, ``unit`` or ``house``."""
    energy_wh: int
    """Its billed intervals' energy while in service, at its multiplier (reconciled or not). [Wh]"""
    intervals: int
    """Intervals of the reconciliation grid it was in service. [1]"""
    missing: int
    """Of them, those with no billed interval (absent, not validated, failed VEE). [1]"""
    estimated: int
    """Of them, those estimated (billed, flagged). [1]"""


@dataclass(frozen=True)
class Reconciliation:
    """What :func:`reconcile_site` found."""

    site: Site
    timezone: str
    start: datetime
    end: datetime
    by: str
    interval_s: int
    """The grid: the longest interval of the meters. [s]"""
    meters: tuple[MeterSummary, ...]
    rows: tuple[BalanceRow, ...]
    """The balance per interval, local day or local month, as asked."""
    total: BalanceRow
    """The whole period."""
    days: tuple[BalanceRow, ...]
    """Every local day of the period (cut to it at its ends): what the alerts are raised on."""
    excess_days: tuple[BalanceRow, ...]
    """The days whose sub-meters exceed the master beyond the tolerance."""
    jumps: tuple[RemainderJump, ...]
    """The days whose remainder jumped."""
    alerts: tuple[Alert, ...]
    """Alerts this run stored (raised or cleared); none when not asked to raise them."""
    warnings: tuple[str, ...]


def find_site(store: Store, text: str) -> Site:
    """
    The site named ``text``, or of id ``text`` when no site has that name.

    Raises
    ------
    NotFoundError
        When neither names a site.
    """
    for site in store.sites():
        if site.name == text:
            return site
    if text.strip().isdigit() and 0 < int(text) < 2**63:
        found = store.get_site(site_id=int(text))
        if found is not None:
            return found
    raise NotFoundError("site", text, "meshmeter site add")


def _in_service(store: Store, meter: Meter, start: datetime, end: datetime) -> tuple[tuple[int, int], ...]:
    """The spans ``(lo, hi]`` of ``(start, end]`` the meter was in service (its installs, removals). [s]"""
    try:
        life = meter_life(store, meter, start, end)
    except NothingToBillError:
        return ()
    return tuple(
        (int(p.start.timestamp()), int(p.end.timestamp())) for p in life.parts if p.meter.id == meter.id
    )


def _local_day(row: BalanceRow, timezone: str) -> str:
    return datetime.fromtimestamp(row.start_s, UTC).astimezone(zone(timezone)).date().isoformat()


def _row_detail(site: Site, master: Meter, row: BalanceRow, timezone: str) -> dict[str, Any]:
    return {
        "site_id": site.id,
        "site": site.name,
        "master": master.serial,
        "day": _local_day(row, timezone),
        "master_wh": row.master_wh,
        "production_wh": row.production_wh,
        "units_wh": row.units_wh,
        "house_wh": row.house_wh,
        "remainder_wh": row.remainder_wh,
        "reconciled_intervals": row.reconciled,
        "intervals": row.intervals,
    }


def _judge(
    store: Store,
    kind: AlertKind,
    master: Meter,
    judged: Sequence[tuple[BalanceRow, dict[str, Any] | None]],
    timezone: str,
    channels: Sequence[str],
) -> list[Alert]:
    """Raise ``kind`` for each day judged bad (a detail), clear it on a day judged good if in force then."""
    stored = [a for a in alerts(store, meter_id=master.id) if a.kind is kind and a.eui64 is None]
    known = {a.id for a in stored}
    added: list[Alert] = []
    for row, bad in judged:
        at = datetime.fromtimestamp(row.start_s, UTC)
        key = f"{kind.value}:{master.id}:{_local_day(row, timezone)}"
        if bad is not None:
            alert = raise_alert(
                store, kind, at=at, meter_id=master.id, detail=bad, key=key, channels=channels
            )
        else:
            before = [a for a in stored if a.at <= at]
            latest = max(before, key=lambda a: (a.at, a.id), default=None)
            if latest is None or not latest.active:
                continue
            alert = raise_alert(
                store,
                kind,
                at=at,
                meter_id=master.id,
                detail={"day": _local_day(row, timezone), "cleared": latest.key},
                key=f"{key}:cleared",
                active=False,
                channels=channels,
            )
        if alert.id not in known:
            known.add(alert.id)
            stored.append(alert)
            added.append(alert)
    return added


def reconcile_site(
    store: Store,
    *,
    site: Site,
    start: datetime,
    end: datetime,
    by: str = "day",
    raise_alerts: bool = False,
    submeter_accuracy: float = DEFAULT_SUBMETER_ACCURACY,
    master_accuracy: float = DEFAULT_MASTER_ACCURACY,
    pulse_wh: int = DEFAULT_PULSE_WH,
    jump_factor: float = DEFAULT_JUMP_FACTOR,
    jump_min_wh: int = DEFAULT_JUMP_MIN_WH,
    channels: Sequence[str] = DEFAULT_CHANNELS,
) -> Reconciliation:
    """
    Reconcile a site's sub-meters with its master meter over ``(start, end]``.

    Parameters
    ----------
    store : Store
        Read: the site's meters, their validated views and their lives; written with ``raise_alerts``:
        the alerts (events and push outbox).
    site : Site
        The site, with one meter of role ``master``.
    start, end : datetime
        Aware; on the grid of the site's longest interval length (local midnight is, in every zone of
        whole-hour offset).
    by : str
        Rows per ``interval`` (of the grid), ``day`` or ``month`` (local, the site's zone).
    raise_alerts : bool
        Store the ``submeter_excess`` and ``remainder_jump`` alerts of each local day of the period, and
        clear them on a later good day; idempotent.
    submeter_accuracy, master_accuracy, pulse_wh
        The excess tolerance (:func:`~meshmeter.headend.reconcile.excess_tolerance_wh`). [1], [1], [Wh]
    jump_factor, jump_min_wh
        What a remainder jump is (:func:`~meshmeter.headend.reconcile.remainder_jumps`). [1], [Wh]
    channels : sequence of str
        Outbox channels of the alerts' push messages.

    Returns
    -------
    Reconciliation

    Raises
    ------
    ValueError
        A bad ``by``, naive or empty period, a period off the grid; a site without a master meter or with
        two (named).
    """
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}, got {by!r}")
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    if end <= start:
        raise ValueError(f"end must be after start, got start={start.isoformat()} end={end.isoformat()}")
    tz = site.timezone
    local = zone(tz)
    found = site_meters(store.meters(site_id=site.id), site=site.name)
    sides = found.sides()
    length = reconcile_length([m.interval_s for _, m in sides])
    start_s, end_s = int(start.timestamp()), int(end.timestamp())
    for name, value_s in (("start", start_s), ("end", end_s)):
        if value_s % length:
            coarse = max((m for _, m in sides), key=lambda m: m.interval_s)
            shown = datetime.fromtimestamp(value_s, UTC).astimezone(local).isoformat()
            raise ValueError(
                f"{name} must be on the {length // 60}-minute grid the site is reconciled on (meter "
                f"{coarse.serial} has {length // 60}-minute intervals), got {shown}"
            )
    first_day = start.astimezone(local).date() - timedelta(days=JUMP_DAYS)
    lookback = datetime(first_day.year, first_day.month, first_day.day, tzinfo=local).astimezone(UTC)
    lookback = floor_to_grid(lookback, length)
    series = [
        MeterSeries(m, side, own_series(store, m, lookback, end), _in_service(store, m, lookback, end))
        for side, m in sides
    ]
    bal = balance(series, start_s=int(lookback.timestamp()), end_s=end_s)

    def cut(bounds: list[int]) -> list[BalanceRow]:
        return rows(
            bal,
            bounds,
            submeter_accuracy=submeter_accuracy,
            master_accuracy=master_accuracy,
            pulse_wh=pulse_wh,
        )

    asked = cut(period_bounds(start, end, by, tz, interval_s=length))
    (total,) = cut([start_s, end_s])
    every_day = cut(period_bounds(lookback, end, "day", tz, interval_s=length))
    days = cut(period_bounds(start, end, "day", tz, interval_s=length))
    excess_days = [d for d in days if d.reconciled and d.excessive]

    def whole(d: BalanceRow) -> bool:
        lo = datetime.fromtimestamp(d.start_s, UTC).astimezone(local)
        hi = datetime.fromtimestamp(d.end_s, UTC).astimezone(local)
        return lo.time() == hi.time() == datetime.min.time() and (hi.date() - lo.date()).days == 1

    judged = remainder_jumps([d for d in every_day if whole(d)], factor=jump_factor, min_jump_wh=jump_min_wh)
    judged = [(d, j) for d, j in judged if d.start_s >= start_s]
    jumps = [j for _, j in judged if j is not None]

    in_period = bal.interval_end_s > start_s
    summaries = []
    warnings: list[str] = []
    for s in series:
        part = meter_part(s, bal.interval_end_s, length)
        expected = part.expected & in_period
        summary = MeterSummary(
            s.meter,
            s.side,
            int(part.energy_wh[in_period].sum()),
            int(np.count_nonzero(expected)),
            int(np.count_nonzero(part.missing & in_period)),
            int(np.count_nonzero(part.estimated & in_period)),
        )
        summaries.append(summary)
        if summary.missing:
            warnings.append(
                f"meter {s.meter.serial} ({s.side}): {summary.missing} of {summary.intervals} intervals "
                "missing, not validated or failed VEE: not reconciled (run meshmeter vee; estimate or edit "
                "them)"
            )
    if length != found.master.interval_s:
        coarse = max((m for _, m in sides), key=lambda m: m.interval_s)
        warnings.append(
            f"reconciled on {length // 60}-minute intervals: meter {coarse.serial} has no finer ones"
        )
    for d in excess_days:
        warnings.append(
            f"{_local_day(d, tz)}: the sub-meters add up to {d.submeters_wh / 1000:.3f} kWh, "
            f"{d.excess_wh / 1000:.3f} kWh more than the master's {d.load_wh / 1000:.3f} kWh (tolerance "
            f"{d.tolerance_wh / 1000:.3f} kWh): a CT or wiring fault; {_CHECK}"
        )
    for jump in jumps:
        warnings.append(
            f"{_local_day(jump.day, tz)}: the unmetered remainder {jump.day.remainder_wh / 1000:.3f} kWh "
            f"jumped above {jump.threshold_wh / 1000:.3f} kWh (median of the {jump.days} days before "
            f"{jump.median_wh / 1000:.3f} kWh): an unmetered load, or a sub-meter that stopped counting"
        )

    raised: list[Alert] = []
    if raise_alerts:
        master = found.master
        excess_judged: list[tuple[BalanceRow, dict[str, Any] | None]] = []
        for d in days:
            if not d.reconciled:
                continue
            detail = None
            if d.excessive:
                detail = {
                    **_row_detail(site, master, d, tz),
                    "excess_wh": d.excess_wh,
                    "tolerance_wh": d.tolerance_wh,
                    "check": _CHECK,
                }
            excess_judged.append((d, detail))
        raised += _judge(store, AlertKind.SUBMETER_EXCESS, master, excess_judged, tz, channels)
        jump_judged: list[tuple[BalanceRow, dict[str, Any] | None]] = []
        for d, j in judged:
            detail = None
            if j is not None:
                detail = {
                    **_row_detail(site, master, d, tz),
                    "median_wh": j.median_wh,
                    "median_days": j.days,
                    "threshold_wh": j.threshold_wh,
                    "factor": float(jump_factor),
                    "min_jump_wh": jump_min_wh,
                }
            jump_judged.append((d, detail))
        raised += _judge(store, AlertKind.REMAINDER_JUMP, master, jump_judged, tz, channels)

    return Reconciliation(
        site=site,
        timezone=tz,
        start=start.astimezone(UTC),
        end=end.astimezone(UTC),
        by=by,
        interval_s=length,
        meters=tuple(summaries),
        rows=tuple(asked),
        total=total,
        days=tuple(days),
        excess_days=tuple(excess_days),
        jumps=tuple(jumps),
        alerts=tuple(raised),
        warnings=tuple(warnings),
    )


def _instant(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _row(row: BalanceRow) -> dict[str, Any]:
    share = row.metered_share
    return {
        "start": _instant(row.start_s),
        "end": _instant(row.end_s),
        "intervals": row.intervals,
        "reconciled": row.reconciled,
        "master_missing": row.master_missing,
        "submeters_missing": row.submeters_missing,
        "master_estimated": row.master_estimated,
        "submeters_estimated": row.submeters_estimated,
        "master_wh": row.master_wh,
        "production_wh": row.production_wh,
        "units_wh": row.units_wh,
        "house_wh": row.house_wh,
        "remainder_wh": row.remainder_wh,
        "metered_share": None if share is None else round(share, 6),
        "tolerance_wh": row.tolerance_wh,
        "excess": row.excessive,
    }


def reconciliation_to_dict(rec: Reconciliation) -> dict[str, Any]:
    """
    The reconciliation, JSON-ready (``meshmeter reconcile --json`` and the API's body): instants in ISO
    8601 UTC, energy in integer Wh, the metered share a fraction to six decimals.
    """
    return {
        "site": rec.site.name,
        "site_id": rec.site.id,
        "timezone": rec.timezone,
        "start": _instant(int(rec.start.timestamp())),
        "end": _instant(int(rec.end.timestamp())),
        "by": rec.by,
        "interval_s": rec.interval_s,
        "meters": [
            {
                "serial": m.meter.serial,
                "role": m.meter.role,
                "side": m.side,
                "interval_s": m.meter.interval_s,
                "energy_wh": m.energy_wh,
                "intervals": m.intervals,
                "missing": m.missing,
                "estimated": m.estimated,
            }
            for m in rec.meters
        ],
        "total": _row(rec.total),
        "rows": [_row(r) for r in rec.rows],
        "excess_days": [_local_day(d, rec.timezone) for d in rec.excess_days],
        "jumps": [
            {
                "day": _local_day(j.day, rec.timezone),
                "remainder_wh": j.day.remainder_wh,
                "median_wh": j.median_wh,
                "median_days": j.days,
                "threshold_wh": j.threshold_wh,
            }
            for j in rec.jumps
        ],
        "alerts": [
            {"key": a.key, "kind": a.kind.value, "active": a.active, "at": _instant(int(a.at.timestamp()))}
            for a in rec.alerts
        ],
        "warnings": list(rec.warnings),
    }
