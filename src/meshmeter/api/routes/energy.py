"""Energy management: daily and monthly consumption, the average load profile by hour of day, the top
consumers and the comparison with the previous period, of a site or of a tenant (issue 5, manual §2.6).

The maths is :mod:`meshmeter.billing.energy`; this module reads the store and shapes the answer
(``docs/energy.md``). What counts is what a bill would bill: the validated intervals whose quality is
billed (:data:`meshmeter.billing.engine.BILLED_QUALITIES`); raw intervals VEE has not yet validated and
intervals that failed it are left out, and each answer says how many intervals it counted.

* A **site** is the sum of its meters; a **tenant** the sum of its accounts' occupancies, each over its tenure
  (``move_in < interval_end <= move_out``).
* Days and months are local to the site's time zone (``tz`` overrides it); ``start`` and ``end`` are
  local midnights (the first of a month for monthly figures), and the range ``(start, end]`` holds
  the intervals it ends, as everywhere (``docs/conventions.md``).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from meshmeter.api.deps import StoreDep, StoreId, TimeText, ZoneName, known_site
from meshmeter.api.intervals import MAX_SPAN_DAYS, Resolution, boundaries, parse_instant, parse_timezone
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.billing.calendar import local_calendar
from meshmeter.billing.energy import (
    average_load_profile,
    compare_periods,
    daily_consumption,
    monthly_consumption,
    top_consumers,
)
from meshmeter.intervals import BILLED_QUALITIES, INTERVAL_S, IntervalColumns, rollup
from meshmeter.store import CONSUMPTION_ROLES, Store

__all__ = [
    "ComparisonPublic",
    "ConsumptionPublic",
    "ConsumptionRow",
    "LoadProfilePublic",
    "LoadProfileRow",
    "PeriodPublic",
    "TopConsumer",
    "TopConsumersPublic",
    "router",
]

router = APIRouter(prefix="/energy", tags=["energy"], route_class=GuardedRoute)

IntArray = npt.NDArray[np.int64]

_BILLED = np.array(sorted(BILLED_QUALITIES), dtype=np.int64)


class Format(StrEnum):
    """The forms of a table's answer."""

    JSON = "json"
    CSV = "csv"


# -- the scope: a site's meters or a tenant's accounts -------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Part:
    """One meter's share of the scope: its serial, the units it serves there, its occupancy window."""

    meter_id: int
    serial: str
    units: tuple[str, ...]
    lo: datetime | None
    hi: datetime | None


@dataclass(frozen=True, slots=True)
class _Scope:
    head: dict[str, Any]
    parts: list[_Part]
    timezone: str


def _scope(store: Store, site_id: int | None, tenant_id: int | None, tz: str | None) -> _Scope:
    """The meters (and windows) of a site or a tenant; 400 or 404 problems for a bad scope."""
    if (site_id is None) == (tenant_id is None):
        raise Problem(400, "give exactly one of site_id and tenant_id")
    if tz is not None:
        try:
            parse_timezone(tz)
        except ValueError as exc:
            raise Problem(400, str(exc)) from None
    if site_id is not None:
        site = known_site(store, site_id)
        # the site's consumption: its unit and house meters, never production (or the master meter again)
        meters = [m for m in store.meters(site_id=site.id) if m.role in CONSUMPTION_ROLES]
        units: dict[int, list[str]] = {}
        for meter in meters:
            units[meter.id] = sorted({o.unit for o in store.occupancies(meter_id=meter.id)})
        parts = [_Part(m.id, m.serial, tuple(units[m.id]), None, None) for m in meters]
        head: dict[str, Any] = {"site_id": site.id, "site": site.name}
        return _Scope(head, parts, tz if tz is not None else site.timezone)
    assert tenant_id is not None
    tenant = store.get_tenant(tenant_id=tenant_id)
    if tenant is None:
        raise Problem(404, f"no tenant has id {tenant_id}")
    parts = []
    zone = tz
    for occupancy in store.occupancies(tenant_id=tenant.id):
        served = store.get_meter(meter_id=occupancy.meter_id)
        if served is None:  # a meter outside the caller's sites: not part of what it sees
            continue
        parts.append(
            _Part(served.id, served.serial, (occupancy.unit,), occupancy.move_in, occupancy.move_out)
        )
        if zone is None and served.site_id is not None:
            home = store.get_site(site_id=served.site_id)
            zone = None if home is None else home.timezone
    # The tenant by id only: its name is personal data, which read-only tokens do not see (/tenants).
    head = {"tenant_id": tenant.id}
    return _Scope(head, parts, zone if zone is not None else "UTC")


@dataclass(frozen=True, slots=True)
class _Query:
    """A request's scope, its time zone and its range ``(lo, hi]``, resolved."""

    scope: _Scope
    zone: tzinfo
    lo: datetime
    hi: datetime

    def head(self) -> dict[str, Any]:
        """The fields every answer over a range opens with (:class:`_RangeHead`)."""
        return {
            **self.scope.head,
            "tz": self.scope.timezone,
            "start": self.lo.astimezone(self.zone),
            "end": self.hi.astimezone(self.zone),
        }

    def csv(self, what: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Response:
        """The CSV answer, named by the scope, ``what`` it holds and the range."""
        return _csv(header, rows, f"{_name(self.scope)}_{what}_{self.lo:%Y%m%d}_{self.hi:%Y%m%d}.csv")


def _query(
    store: Store,
    site_id: int | None,
    tenant_id: int | None,
    tz: str | None,
    start: str,
    end: str,
    resolution: Resolution,
) -> _Query:
    """The scope and the range of a request; 400 or 404 problems for a bad one."""
    scope = _scope(store, site_id, tenant_id, tz)
    zone = parse_timezone(scope.timezone)
    try:
        lo = parse_instant("start", start, zone)
        hi = parse_instant("end", end, zone)
        boundaries(lo, hi, resolution, zone)
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    return _Query(scope, zone, lo, hi)


def _columns(store: Store, part: _Part, lo: datetime, hi: datetime) -> IntervalColumns:
    """A part's validated intervals in ``(lo, hi]`` and inside its occupancy, with their quality."""
    a = lo if part.lo is None else max(lo, part.lo)
    b = hi if part.hi is None else min(hi, part.hi)
    if b <= a:
        found = store.get_meter(meter_id=part.meter_id)
        return IntervalColumns.empty(INTERVAL_S if found is None else found.interval_s)
    return store.interval_view(meter_id=part.meter_id, start=a, end=b)


@dataclass(frozen=True, slots=True)
class _Series:
    """Billed intervals of every part in the range, concatenated; and how many were left out.

    Parts of several interval lengths are rolled up exactly to the longest (``interval_s``), so that
    their intervals add up interval by interval; nothing finer is invented.
    """

    ends_s: IntArray
    energy_wh: IntArray
    owner: IntArray
    excluded: int
    interval_s: int = INTERVAL_S


def _series(store: Store, scope: _Scope, lo: datetime, hi: datetime) -> _Series:
    views = [_columns(store, part, lo, hi) for part in scope.parts]
    length = max((v.interval_s for v in views), default=INTERVAL_S)
    ends: list[IntArray] = []
    energy: list[IntArray] = []
    owner: list[IntArray] = []
    excluded = 0
    for k, view in enumerate(views):
        coarse = rollup(view, length)
        keep = np.isin(coarse.quality, _BILLED)
        excluded += int(keep.size - np.count_nonzero(keep))
        ends.append(coarse.interval_end_s[keep])
        energy.append(coarse.energy_wh[keep])
        owner.append(np.full(int(np.count_nonzero(keep)), k, dtype=np.int64))
    if not ends:
        empty = np.zeros(0, dtype=np.int64)
        return _Series(empty, empty, empty, excluded, length)
    return _Series(np.concatenate(ends), np.concatenate(energy), np.concatenate(owner), excluded, length)


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if cell is None else cell for cell in row] for row in rows)
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _name(scope: _Scope) -> str:
    if "site_id" in scope.head:
        return f"site{scope.head['site_id']}"
    return f"tenant{scope.head['tenant_id']}"


# -- query parameters ----------------------------------------------------------------------------------

SiteQuery = Annotated[
    StoreId | None, Query(description="the site: the sum of its meters (or give tenant_id)")
]
TenantQuery = Annotated[
    StoreId | None, Query(description="the tenant: the sum of its accounts over their occupancy (or site_id)")
]
StartQuery = Annotated[
    TimeText, Query(description="ISO 8601 date or date-time at local midnight; without an offset, local time")
]
EndQuery = Annotated[TimeText, Query(description="ISO 8601 date or date-time at local midnight, after start")]
TzQuery = Annotated[
    ZoneName | None, Query(description="IANA time zone of the days; default the site's (UTC for no site)")
]
FormatQuery = Annotated[Format, Query(description="json (default) or csv")]

_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}, "description": "JSON, or CSV"}}


# -- the fields every answer opens with -----------------------------------------------------------------


class _ScopeHead(BaseModel):
    """The scope of an answer: a site (``site_id``, ``site``) or a tenant (``tenant_id``), and its zone."""

    site_id: int | None = None
    site: str | None = None
    tenant_id: int | None = None
    tz: str


class _RangeHead(_ScopeHead):
    """The scope and the range ``(start, end]`` of an answer, in local time."""

    start: datetime
    end: datetime


# -- daily and monthly consumption ---------------------------------------------------------------------


class ConsumptionRow(BaseModel):
    """The energy of one local day or month."""

    period_start: datetime = Field(description="local midnight that opens it")
    period_end: datetime = Field(description="local midnight that closes it")
    energy_wh: int | None = Field(description="energy of the billed intervals; null when there is none")
    intervals: int = Field(
        description="how many billed intervals it holds, at the scope's longest meter interval (15 minutes "
        "for Mini Meters)"
    )


class ConsumptionPublic(_RangeHead):
    """Energy per local day or month over ``(start, end]``."""

    resolution: str = Field(description="daily or monthly")
    energy_wh: int = Field(description="energy of the whole range")
    excluded_intervals: int = Field(description="intervals left out: not validated, or failed VEE")
    data: list[ConsumptionRow]
    count: int


def _consumption(
    store: Store,
    site_id: int | None,
    tenant_id: int | None,
    start: str,
    end: str,
    tz: str | None,
    format: Format,
    resolution: Resolution,
) -> Response:
    q = _query(store, site_id, tenant_id, tz, start, end, resolution)
    scope, zone, lo, hi = q.scope, q.zone, q.lo, q.hi
    series = _series(store, scope, lo, hi)
    ones = np.ones_like(series.energy_wh)
    if resolution is Resolution.DAILY:
        days, wh = daily_consumption(
            series.ends_s, series.energy_wh, timezone=scope.timezone, interval_s=series.interval_s
        )
        _, counted = daily_consumption(
            series.ends_s, ones, timezone=scope.timezone, interval_s=series.interval_s
        )
        keys: list[str] = [d.isoformat() for d in days]
    else:
        keys, wh = monthly_consumption(
            series.ends_s, series.energy_wh, timezone=scope.timezone, interval_s=series.interval_s
        )
        _, counted = monthly_consumption(
            series.ends_s, ones, timezone=scope.timezone, interval_s=series.interval_s
        )
    found = {k: (int(w), int(n)) for k, w, n in zip(keys, wh, counted, strict=True)}
    bounds = boundaries(lo, hi, resolution, zone)
    rows: list[ConsumptionRow] = []
    for a, b in itertools.pairwise(bounds):
        opening = datetime.fromtimestamp(a, zone)
        key = opening.date().isoformat() if resolution is Resolution.DAILY else f"{opening:%Y-%m}"
        energy, n = found.get(key, (None, 0))
        rows.append(ConsumptionRow(period_start=opening, period_end=datetime.fromtimestamp(b, zone),
                                   energy_wh=energy, intervals=n))  # fmt: skip
    if format is Format.CSV:
        table = [
            (r.period_start.isoformat(), r.period_end.isoformat(), r.energy_wh, r.intervals) for r in rows
        ]
        return q.csv(resolution.value, ("period_start", "period_end", "energy_wh", "intervals"), table)
    body = ConsumptionPublic(
        **q.head(),
        resolution=resolution.value,
        energy_wh=int(series.energy_wh.sum()),
        excluded_intervals=series.excluded,
        data=rows,
        count=len(rows),
    )
    return Response(body.model_dump_json(), media_type="application/json")


@router.get(
    "/daily",
    response_model=ConsumptionPublic,
    summary="Daily consumption of a site or tenant",
    responses={**problems(400, 404), **_CSV},
)
def get_daily(
    store: StoreDep,
    start: StartQuery,
    end: EndQuery,
    site_id: SiteQuery = None,
    tenant_id: TenantQuery = None,
    tz: TzQuery = None,
    format: FormatQuery = Format.JSON,
) -> Response:
    """Energy per local day over ``(start, end]`` (local midnights, at most 1116 days), every day listed;
    a day with no billed interval has ``energy_wh`` null. A day counts the intervals that start in it."""
    return _consumption(store, site_id, tenant_id, start, end, tz, format, Resolution.DAILY)


@router.get(
    "/monthly",
    response_model=ConsumptionPublic,
    summary="Monthly consumption of a site or tenant",
    responses={**problems(400, 404), **_CSV},
)
def get_monthly(
    store: StoreDep,
    start: StartQuery,
    end: EndQuery,
    site_id: SiteQuery = None,
    tenant_id: TenantQuery = None,
    tz: TzQuery = None,
    format: FormatQuery = Format.JSON,
) -> Response:
    """Energy per local calendar month over ``(start, end]``: both at local midnight on the first of a
    month, at most 1116 days; every month listed, null when it has no billed interval."""
    return _consumption(store, site_id, tenant_id, start, end, tz, format, Resolution.MONTHLY)


# -- average load profile ------------------------------------------------------------------------------


class LoadProfileRow(BaseModel):
    """The average demand of one local hour of the day."""

    hour: int = Field(description="local hour of the day, 0 to 23 (the hour the intervals start in)")
    demand_kw: float | None = Field(
        description="mean block demand at the scope's interval length (15-minute for Mini Meters) [kW]; "
        "null with no interval"
    )
    intervals: int = Field(description="how many intervals (of the scope's sum) it averages")


class LoadProfilePublic(_RangeHead):
    """The average load profile by hour of day over ``(start, end]``."""

    excluded_intervals: int
    data: list[LoadProfileRow]
    count: int


@router.get(
    "/load-profile",
    response_model=LoadProfilePublic,
    summary="Average load profile by hour of day",
    responses={**problems(400, 404), **_CSV},
)
def get_load_profile(
    store: StoreDep,
    start: StartQuery,
    end: EndQuery,
    site_id: SiteQuery = None,
    tenant_id: TenantQuery = None,
    tz: TzQuery = None,
    format: FormatQuery = Format.JSON,
) -> Response:
    """The mean block demand in each local hour of the day, 0 to 23, over ``(start, end]`` (local
    midnights). The scope's meters are first summed interval by interval (meters of a longer interval make
    the sum coarser: 15-minute ones are rolled up exactly to an hourly meter's hours); each hour averages
    the intervals, of any day in the range, that start in it."""
    q = _query(store, site_id, tenant_id, tz, start, end, Resolution.DAILY)
    scope = q.scope
    series = _series(store, scope, q.lo, q.hi)
    ends, inverse = np.unique(series.ends_s, return_inverse=True)
    summed = np.zeros(ends.size, dtype=np.int64)
    np.add.at(summed, inverse.ravel(), series.energy_wh)
    kw = average_load_profile(ends, summed, timezone=scope.timezone, interval_s=series.interval_s)
    per_hour = np.bincount(
        local_calendar(ends, scope.timezone, None, interval_s=series.interval_s).hour, minlength=24
    )
    rows = [
        LoadProfileRow(
            hour=h,
            demand_kw=None if per_hour[h] == 0 else round(float(kw[h]), 6),
            intervals=int(per_hour[h]),
        )
        for h in range(24)
    ]
    if format is Format.CSV:
        table = [(r.hour, r.demand_kw, r.intervals) for r in rows]
        return q.csv("load_profile", ("hour", "demand_kw", "intervals"), table)
    body = LoadProfilePublic(
        **q.head(),
        excluded_intervals=series.excluded,
        data=rows,
        count=len(rows),
    )
    return Response(body.model_dump_json(), media_type="application/json")


# -- top consumers -------------------------------------------------------------------------------------


class TopConsumer(BaseModel):
    """A meter and its share of the scope's energy."""

    rank: int = Field(description="1 for the largest")
    meter: str = Field(description="serial number of the meter")
    units: list[str] = Field(description="the units (apartments, suites) its accounts serve")
    energy_wh: int
    share: float = Field(description="of the energy of every meter of the scope, 0 to 1")


class TopConsumersPublic(_RangeHead):
    """The largest consumers over ``(start, end]``, largest first."""

    energy_wh: int = Field(description="energy of every meter of the scope")
    excluded_intervals: int
    data: list[TopConsumer]
    count: int


@router.get(
    "/top-consumers",
    response_model=TopConsumersPublic,
    summary="Top consumers of a site or tenant",
    responses={**problems(400, 404), **_CSV},
)
def get_top_consumers(
    store: StoreDep,
    start: StartQuery,
    end: EndQuery,
    site_id: SiteQuery = None,
    tenant_id: TenantQuery = None,
    tz: TzQuery = None,
    n: Annotated[int, Query(ge=1, le=1000, description="how many to list")] = 10,
    format: FormatQuery = Format.JSON,
) -> Response:
    """The ``n`` meters of the scope that used the most energy over ``(start, end]`` (local midnights),
    largest first (ties by serial), each with its share of the scope's whole; a tenant's meters count
    over its occupancy only."""
    q = _query(store, site_id, tenant_id, tz, start, end, Resolution.DAILY)
    scope = q.scope
    series = _series(store, scope, q.lo, q.hi)
    per_part = np.bincount(series.owner, weights=series.energy_wh, minlength=len(scope.parts))
    totals: dict[str, int] = {}
    units: dict[str, set[str]] = {}
    for k, part in enumerate(scope.parts):
        totals[part.serial] = totals.get(part.serial, 0) + round(float(per_part[k]))
        units.setdefault(part.serial, set()).update(part.units)
    ranked = top_consumers(totals, n) if totals else []
    rows = [
        TopConsumer(rank=i + 1, meter=name, units=sorted(units[name]), energy_wh=wh, share=float(share))
        for i, (name, wh, share) in enumerate(ranked)
    ]
    if format is Format.CSV:
        table = [(r.rank, r.meter, " ".join(r.units), r.energy_wh, f"{r.share:.6f}") for r in rows]
        return q.csv("top_consumers", ("rank", "meter", "units", "energy_wh", "share"), table)
    body = TopConsumersPublic(
        **q.head(),
        energy_wh=sum(totals.values()),
        excluded_intervals=series.excluded,
        data=rows,
        count=len(rows),
    )
    return Response(body.model_dump_json(), media_type="application/json")


# -- comparison with the previous period ---------------------------------------------------------------


class PeriodPublic(BaseModel):
    """One period of the comparison."""

    start: datetime
    end: datetime
    days: int = Field(description="local days it spans")
    energy_wh: int
    daily_wh: float = Field(description="energy per day, so periods of unequal length compare [Wh/day]")
    intervals: int = Field(description="billed intervals it holds, at its meter's length")


class ComparisonPublic(_ScopeHead):
    """A period against the one before it."""

    basis: str = Field(description="months (whole calendar months) or days: how 'previous' was measured")
    current: PeriodPublic
    previous: PeriodPublic
    change_wh: int = Field(description="current minus previous energy")
    change_ratio: float | None = Field(description="change over the previous energy; null when it was 0")
    daily_change_ratio: float | None = Field(description="the same, per day; null when the previous was 0")


def _months_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _previous(lo: datetime, hi: datetime, zone: tzinfo) -> tuple[datetime, str]:
    """The start of the period before ``(lo, hi]``: as many whole months back when the range is whole
    months, else as many local days back."""
    a, b = lo.astimezone(zone).date(), hi.astimezone(zone).date()
    if a.day == 1 and b.day == 1:
        months = (b.year * 12 + b.month) - (a.year * 12 + a.month)
        opening = _months_back(a, months)
        basis = "months"
    else:
        opening = a - (b - a)
        basis = "days"
    return datetime.combine(opening, datetime.min.time(), tzinfo=zone).astimezone(UTC), basis


def _period(series: _Series, lo: datetime, hi: datetime, zone: tzinfo) -> PeriodPublic:
    keep = (series.ends_s > int(lo.timestamp())) & (series.ends_s <= int(hi.timestamp()))
    days = (hi.astimezone(zone).date() - lo.astimezone(zone).date()).days
    energy = int(series.energy_wh[keep].sum())
    return PeriodPublic(
        start=lo.astimezone(zone),
        end=hi.astimezone(zone),
        days=days,
        energy_wh=energy,
        daily_wh=energy / days,
        intervals=int(np.count_nonzero(keep)),
    )


@router.get(
    "/comparison",
    response_model=ComparisonPublic,
    summary="Compare a period with the previous one",
    responses=problems(400, 404),
)
def get_comparison(
    store: StoreDep,
    start: StartQuery,
    end: EndQuery,
    site_id: SiteQuery = None,
    tenant_id: TenantQuery = None,
    tz: TzQuery = None,
) -> ComparisonPublic:
    """The energy of ``(start, end]`` (local midnights) against the period just before it: as many whole
    calendar months back when both bounds open a month (March against February), else as many local
    days back. Per-day figures compare periods of unequal length."""
    q = _query(store, site_id, tenant_id, tz, start, end, Resolution.DAILY)
    scope, zone, lo, hi = q.scope, q.zone, q.lo, q.hi
    before, basis = _previous(lo, hi, zone)
    if hi - before > timedelta(days=MAX_SPAN_DAYS[Resolution.DAILY]):
        raise Problem(
            400, f"the range and the one before it may span at most {MAX_SPAN_DAYS[Resolution.DAILY]} days"
        )
    series = _series(store, scope, before, hi)
    current = _period(series, lo, hi, zone)
    previous = _period(series, before, lo, zone)
    compared = compare_periods(
        current.energy_wh, previous.energy_wh, current_days=current.days, previous_days=previous.days
    )
    daily_ratio = (
        None
        if compared.previous_daily_wh == 0
        else float((compared.current_daily_wh - compared.previous_daily_wh) / compared.previous_daily_wh)
    )
    return ComparisonPublic(
        **scope.head,
        tz=scope.timezone,
        basis=basis,
        current=current,
        previous=previous,
        change_wh=compared.change_wh,
        change_ratio=None if compared.change_ratio is None else float(compared.change_ratio),
        daily_change_ratio=daily_ratio,
    )
