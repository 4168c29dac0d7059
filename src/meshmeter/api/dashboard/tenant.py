"""What a tenant's own pages show: their usage by day, month and year, and the downloads of their data.

A tenant token is bound to one account (:mod:`meshmeter.api.scope`); its pages read through the
:class:`~meshmeter.api.scope.ScopedStore`, which cuts every meter's intervals to the account's tenures.
The functions here cut again, by the tenure they are given, so that they say the same through any
store: a tenure's usage is the intervals of its unit's meter ending in ``(move_in, move_out]``, as bills
count them (``docs/dashboard.md``, "A tenant's pages"). No HTTP, no HTML: dataclasses the templates
render; energy stays integer Wh, times aware UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from meshmeter.api.dashboard.views import site_zone
from meshmeter.api.intervals import MAX_SPAN_DAYS
from meshmeter.headend.buckets import BucketColumns, Resolution, aggregate_columns, bucket_bounds
from meshmeter.intervals import INTERVAL_S, floor_to_grid
from meshmeter.services.names import MeterName, meter_names
from meshmeter.store import Meter, Occupancy, Store

if TYPE_CHECKING:
    from meshmeter.billing.bill import Bill

__all__ = [
    "DAYS_SHOWN",
    "MONTHS_SHOWN",
    "BillName",
    "DownloadRange",
    "TenureDownloads",
    "TenureUsage",
    "UsageRow",
    "UsageScale",
    "account_names",
    "bill_names",
    "tenure_downloads",
    "tenure_usage",
]

DAYS_SHOWN = 31
"""Local days the "by day" view shows, ending with the day of the latest interval. [day]"""

MONTHS_SHOWN = 12
"""Local months the "by month" view shows, ending with the month of the latest interval. [month]"""

_GREENBUTTON_CHUNK_DAYS = 365
"""Span of one Green Button or 15-minute CSV link: within the API's limits (372 days for both). [day]"""


class UsageScale(StrEnum):
    """How ``GET /dashboard/usage?scale=`` sums a tenant's usage."""

    DAY = "day"
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True)
class UsageRow:
    """One day, month or year of a tenure's usage."""

    label: str
    """The period as a person reads it: ``Sat 7 Mar``, ``Mar 2026``, ``2026``."""
    start: datetime
    end: datetime
    """The period ``(start, end]``, UTC, cut to the tenure (a move-in day starts at the move-in)."""
    energy_wh: int | None
    """Energy of the intervals present; None when none is. [Wh]"""
    count: int
    """Intervals present. [1]"""
    expected: int
    """Intervals the period spans within the tenure. [1]"""
    share: float
    """``energy_wh`` over the largest of its view, 0..1: the length of its bar. [1]"""

    @property
    def complete(self) -> bool:
        """Every interval of the period within the tenure is present."""
        return self.count >= self.expected


@dataclass(frozen=True)
class TenureUsage:
    """A tenure of a unit (an :class:`~meshmeter.store.Occupancy`) and its usage, as the page shows it."""

    occupancy: Occupancy
    name: MeterName | None
    """The unit's meter as people name it (None: the store shows no such meter)."""
    zone: tzinfo
    """The site's time zone: days, months and years are its wall clock's."""
    start: datetime
    """The move-in, UTC."""
    end: datetime
    """The end of what is shown: the move-out, or the latest interval heard (or now when none). UTC"""
    latest: datetime | None
    """End of the latest interval of the tenure; None before the first."""
    rows: list[UsageRow]
    """The periods of the chosen scale, oldest first."""
    total_wh: int
    """Energy of the periods shown. [Wh]"""


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _day_of(instant: datetime, zone: tzinfo) -> date:
    """The local day holding the interval that ends at ``instant`` (an end at midnight is the day before)."""
    return (instant - timedelta(seconds=1)).astimezone(zone).date()


def _month_after(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _span(
    occupancy: Occupancy, store: Store, now: datetime
) -> tuple[datetime, datetime | None, datetime | None]:
    """The tenure's end as shown (move-out, else now), and its first and latest interval ends (None: no
    interval heard)."""
    stop = occupancy.move_out if occupancy.move_out is not None else now
    stop = max(stop, occupancy.move_in + timedelta(seconds=INTERVAL_S))
    view = store.interval_view(meter_id=occupancy.meter_id, start=occupancy.move_in, end=stop)
    if view.interval_end_s.size == 0:
        return stop, None, None
    ends = view.interval_end_s
    return stop, datetime.fromtimestamp(int(ends[0]), UTC), datetime.fromtimestamp(int(ends[-1]), UTC)


def _buckets(
    store: Store, occupancy: Occupancy, first: date, stop_day: date, resolution: Resolution, zone: tzinfo
) -> tuple[BucketColumns, list[int]]:
    """Local days or months from ``first`` to ``stop_day`` (exclusive), the intervals cut to the tenure."""
    lo, hi = _local_midnight(first, zone), _local_midnight(stop_day, zone)
    bounds = bucket_bounds(lo, hi, resolution, zone)
    cut_lo = max(lo, occupancy.move_in)
    cut_hi = hi if occupancy.move_out is None else min(hi, occupancy.move_out)
    view = store.interval_view(meter_id=occupancy.meter_id, start=cut_lo, end=max(cut_hi, cut_lo))
    keep = (view.interval_end_s > int(cut_lo.timestamp())) & (view.interval_end_s <= int(cut_hi.timestamp()))
    columns = aggregate_columns(
        view.interval_end_s[keep],
        view.energy_wh[keep],
        view.quality[keep],
        bounds,
        interval_s=view.interval_s,
    )
    return columns, bounds


def _expected(lo_s: int, hi_s: int, occupancy: Occupancy, interval_s: int) -> int:
    """Intervals of ``(lo_s, hi_s]`` within the tenure. [1]"""
    lo = max(lo_s, int(occupancy.move_in.timestamp()))
    hi = hi_s if occupancy.move_out is None else min(hi_s, int(occupancy.move_out.timestamp()))
    return max(0, (hi - lo) // interval_s)


def tenure_usage(
    store: Store, occupancy: Occupancy, *, scale: UsageScale, now: datetime, names: dict[int, MeterName]
) -> TenureUsage:
    """
    A tenure's usage by local day (the last :data:`DAYS_SHOWN`), month (the last :data:`MONTHS_SHOWN`)
    or calendar year (every one of the tenure), from the validated view of its unit's meter.

    Parameters
    ----------
    store : Store
        The store, scoped to the tenant (:class:`~meshmeter.api.scope.ScopedStore`) or not.
    occupancy : Occupancy
        The tenure ``(move_in, move_out]``: nothing outside it is counted.
    scale : UsageScale
        Day, month or year.
    now : datetime
        The present, aware: the end of a tenure that goes on.
    names : dict of int to MeterName
        The meters' names (:func:`~meshmeter.services.names.meter_names`).

    Returns
    -------
    TenureUsage
        Periods end with the one holding the latest interval heard (a simulated site whose data ends in
        the past shows its last days, not empty real ones) and begin no earlier than the move-in.
    """
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    meter = store.get_meter(meter_id=occupancy.meter_id)
    zone, _ = _zone_of(store, meter)
    stop, first_heard, latest = _span(occupancy, store, now)
    shown_end = latest if latest is not None else stop
    last_day = _day_of(shown_end, zone)
    # from the move-in, or the first interval heard when that is later: no empty months before the data
    first_day = max(occupancy.move_in, first_heard or occupancy.move_in).astimezone(zone).date()
    first_day = min(first_day, last_day)
    interval_s = INTERVAL_S if meter is None else meter.interval_s
    if scale is UsageScale.DAY:
        first = max(first_day, last_day - timedelta(days=DAYS_SHOWN - 1))
        stop_day = last_day + timedelta(days=1)
        resolution, fmt = Resolution.DAILY, "%a %d %b %Y"
    else:
        first = first_day.replace(day=1)
        if scale is UsageScale.MONTH:
            index = last_day.year * 12 + last_day.month - MONTHS_SHOWN
            first = max(first, date(index // 12, index % 12 + 1, 1))
        stop_day = _month_after(last_day.replace(day=1))
        resolution, fmt = Resolution.MONTHLY, "%b %Y"
    columns, bounds = _buckets(store, occupancy, first, stop_day, resolution, zone)
    periods: list[tuple[str, int, int, int | None, int]] = []
    for k, (energy, count) in enumerate(zip(columns.energy_wh.tolist(), columns.count.tolist(), strict=True)):
        lo_s, hi_s = bounds[k], bounds[k + 1]
        label = datetime.fromtimestamp(lo_s, UTC).astimezone(zone).strftime(fmt)
        periods.append((label, lo_s, hi_s, None if count == 0 else energy, count))
    if scale is UsageScale.YEAR:
        years: dict[str, tuple[str, int, int, int | None, int]] = {}
        for label, lo_s, hi_s, energy, count in periods:
            year = label[-4:]
            if year not in years:
                years[year] = (year, lo_s, hi_s, energy, count)
                continue
            _, y_lo, _, y_energy, y_count = years[year]
            summed = energy if y_energy is None else y_energy + (energy or 0)
            years[year] = (year, y_lo, hi_s, summed, y_count + count)
        periods = list(years.values())
    top = max((p[3] for p in periods if p[3] is not None), default=0)
    rows = [
        UsageRow(
            label=label,
            start=max(datetime.fromtimestamp(lo_s, UTC), occupancy.move_in),
            end=datetime.fromtimestamp(hi_s, UTC),
            energy_wh=energy,
            count=count,
            expected=_expected(lo_s, hi_s, occupancy, interval_s),
            share=0.0 if energy is None or top <= 0 else max(0.0, energy / top),
        )
        for label, lo_s, hi_s, energy, count in periods
    ]
    return TenureUsage(
        occupancy=occupancy,
        name=names.get(occupancy.meter_id),
        zone=zone,
        start=occupancy.move_in,
        end=shown_end,
        latest=latest,
        rows=rows,
        total_wh=int(sum(r.energy_wh for r in rows if r.energy_wh is not None)),
    )


@dataclass(frozen=True)
class DownloadRange:
    """A stretch of a tenure and the links that download its data (the API's own routes)."""

    start: datetime
    end: datetime
    """``(start, end]``, UTC."""
    greenbutton_url: str
    """``GET /meters/{serial}/greenbutton``: ESPI Atom, with quality codes (``docs/greenbutton.md``)."""
    intervals_csv_url: str
    """``GET /meters/{serial}/intervals?format=csv`` at 15 minutes (the meter's own length when longer)."""
    daily_csv_url: str
    """The same, daily totals in the site's local days."""


@dataclass(frozen=True)
class TenureDownloads:
    """A tenure and the links to its data."""

    occupancy: Occupancy
    name: MeterName | None
    zone: tzinfo
    """The site's time zone, in which the page gives the dates."""
    ranges: list[DownloadRange]
    """Oldest first; empty when no interval of the tenure was heard yet."""


def _zone_of(store: Store, meter: Meter | None) -> tuple[tzinfo, str]:
    site = None if meter is None or meter.site_id is None else store.get_site(site_id=meter.site_id)
    return site_zone(site), "UTC" if site is None else site.timezone


def tenure_downloads(
    store: Store, occupancy: Occupancy, *, now: datetime, names: dict[int, MeterName]
) -> TenureDownloads:
    """
    Links to a tenure's data, oldest stretch first, each within the API's limits of one request
    (:data:`~meshmeter.api.intervals.MAX_SPAN_DAYS`, the Green Button's 372 days).

    The routes cut to the tenure themselves, through the tenant's scope; the ranges here only keep the
    links short and whole: from the start of the first interval heard in the tenure to the latest
    (none when none was heard yet).
    """
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    meter = store.get_meter(meter_id=occupancy.meter_id)
    zone, tz_name = _zone_of(store, meter)
    found = TenureDownloads(occupancy, names.get(occupancy.meter_id), zone, [])
    if meter is None:
        return found
    _, first_heard, latest = _span(occupancy, store, now)
    if first_heard is None or latest is None:
        return found
    # from the interval that starts the tenure's data (not years of nothing from an early move-in)
    lo = floor_to_grid(first_heard - timedelta(seconds=meter.interval_s), meter.interval_s)
    fine = Resolution.QUARTER_HOUR if meter.interval_s <= INTERVAL_S else Resolution.HOURLY
    chunk = timedelta(days=min(_GREENBUTTON_CHUNK_DAYS, MAX_SPAN_DAYS[fine]))
    while lo < latest:
        hi = min(lo + chunk, latest)
        if fine is Resolution.HOURLY:  # an hourly bucket ends on a whole local hour
            hi = min(latest, floor_to_grid(hi, 3600) + timedelta(hours=1))
        day_lo, day_hi = lo.astimezone(zone).date(), _day_of(hi, zone) + timedelta(days=1)
        stamp = {"start": _iso(lo), "end": _iso(hi)}
        daily = {
            "start": day_lo.isoformat(),
            "end": day_hi.isoformat(),
            "resolution": Resolution.DAILY.value,
            "tz": tz_name,
            "format": "csv",
        }
        found.ranges.append(
            DownloadRange(
                start=lo,
                end=hi,
                greenbutton_url=f"/meters/{quote(meter.serial)}/greenbutton?{urlencode(stamp)}",
                intervals_csv_url=f"/meters/{quote(meter.serial)}/intervals?"
                + urlencode({**stamp, "resolution": fine.value, "tz": tz_name, "format": "csv"}),
                daily_csv_url=f"/meters/{quote(meter.serial)}/intervals?{urlencode(daily)}",
            )
        )
        lo = hi
    return found


def _iso(instant: datetime) -> str:
    """An instant as the API reads it, in UTC with ``Z``."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def account_names(store: Store, occupancies: list[Occupancy], at: datetime) -> dict[int, MeterName]:
    """The names of the meters of the tenures, each site read once (:func:`meter_names`)."""
    out: dict[int, MeterName] = {}
    for site_id in sorted({m.site_id for m in store.meters() if m.site_id is not None}):
        out.update(meter_names(store, site_id=site_id, at=at))
    missing = {o.meter_id for o in occupancies} - set(out)
    if missing:
        out.update({k: n for k, n in meter_names(store, at=at).items() if k in missing})
    return out


# ---------------------------------------------------------------------------------------------------
# bills, names first
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BillName:
    """Who and what a bill is for, as people name them (issue 15): unit, tenant, account; serial second."""

    unit: str
    """The unit billed (``Unit 101``), else the meter's role in words, else its serial."""
    tenant: str
    """The tenant (account name) as billed."""
    account: str | None
    """The account's number, when the store names the account living there at the period's end."""
    address: str | None
    serial: str


def bill_names(
    store: Store, bills: Sequence[Bill], account_ids: Sequence[int | None] | None = None
) -> list[BillName]:
    """
    The names of each bill's unit, tenant and account (same order).

    ``account_ids``, when given (a stored bill's :attr:`~meshmeter.store.StoredBill.account_id`, one per
    bill), name the account billed; otherwise the account is the one living in the unit at the period's
    end, given only when its tenant is the one billed. A meter the store does not show (another's scope,
    a bill from elsewhere) is named by its serial.
    """
    cache: dict[tuple[int | None, datetime], dict[int, MeterName]] = {}
    ids = list(account_ids) if account_ids is not None else [None] * len(bills)
    if len(ids) != len(bills):
        raise ValueError(f"account_ids must give one id per bill ({len(bills)}), got {len(ids)}")
    out = []
    for b, account_id in zip(bills, ids, strict=True):
        meter = store.get_meter(serial=b.meter)
        name = None
        if meter is not None:
            key = (meter.site_id, b.end)
            if key not in cache:
                cache[key] = meter_names(store, site_id=meter.site_id, at=b.end)
            name = cache[key].get(meter.id)
        account = None if account_id is None else store.get_account(account_id=account_id)
        if account is not None:
            number: str | None = account.number
        elif name is not None and name.tenant == b.account:
            number = name.account
        else:
            number = None
        if name is None:
            out.append(BillName(b.meter, b.account, number, None, b.meter))
        else:
            out.append(BillName(name.label, b.account, number, name.address, b.meter))
    return out
