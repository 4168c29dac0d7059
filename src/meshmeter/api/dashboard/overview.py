"""What the overview page shows beyond each site's figures: names, last year's month, cost, attention.

Issue 15: a building manager opening the dashboard wants to know, by unit and tenant, which meters need
someone now and what that someone should do, then how much was used and what it costs. This module
puts together, per site, on top of :func:`meshmeter.api.dashboard.views.site_overview`:

- the meters' names (:func:`meshmeter.services.names.meter_names`), first in every row;
- consumption and production of the same local month last year (whole month); [Wh]
- the tenants' charges so far this month (:func:`meshmeter.services.charges.month_charges`: each account
  at its tariff, :func:`~meshmeter.services.charges.account_tariff`; kept while nothing they are made of
  changes);
- the attention list (:func:`meshmeter.services.attention.site_attention`, which ``meshmeter status``
  shows too): meters not reporting, with an alert in force, a wiring fault or intervals VEE flagged and
  nobody has acted on, each with what to do in words.

No HTTP and no HTML here (``docs/dashboard.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

from meshmeter.api.dashboard.views import SiteOverview
from meshmeter.services.attention import Attention, silent_since, site_attention
from meshmeter.services.charges import MonthCost, month_charges
from meshmeter.services.names import MeterName, meter_names
from meshmeter.store import CONSUMPTION_ROLES

if TYPE_CHECKING:
    from meshmeter.headend.alerts import Alert
    from meshmeter.store import Store

__all__ = ["SiteSummary", "site_summaries"]


@dataclass(frozen=True)
class SiteSummary:
    """A site on the overview: its figures (:class:`~meshmeter.api.dashboard.views.SiteOverview`) and more."""

    figures: SiteOverview
    names: dict[int, MeterName]
    last_year_month_wh: int | None
    """Consumption of the same local month a year before, whole; None when nothing is stored. [Wh]"""
    last_year_production_wh: int | None
    """Production of that month; None when nothing is stored. [Wh]"""
    last_year_label: str
    """That month in words: ``January 2025``."""
    cost: MonthCost | None
    """None when the caller may not see bills (the page then says nothing of money)."""
    attention: list[Attention]
    silent_since: datetime | None = None
    """When the whole site went silent (its latest interval, older than the silence threshold before
    now): the DCAP or its link, not each meter, is then what needs attention; a simulated site's run
    ends so too. None while the site reports."""


def _month_before(start: datetime, zone: tzinfo, years: int) -> tuple[datetime, datetime]:
    """The local month starting at ``start`` (a local midnight), ``years`` earlier: its start and end, UTC."""
    first = start.astimezone(zone).date().replace(day=1)
    first = first.replace(year=first.year - years)
    nxt = first.replace(year=first.year + (first.month == 12), month=first.month % 12 + 1)
    return (
        datetime(first.year, first.month, 1, tzinfo=zone).astimezone(UTC),
        datetime(nxt.year, nxt.month, 1, tzinfo=zone).astimezone(UTC),
    )


def _stored_energy(store: Store, meter_ids: list[int], start: datetime, end: datetime) -> int | None:
    """Energy of the meters' intervals ending in ``(start, end]``; None when none is stored. [Wh]"""
    total, seen = 0, False
    for meter_id in meter_ids:
        view = store.interval_view(meter_id=meter_id, start=start, end=end)
        if len(view):
            seen = True
            total += view.total_wh
    return total if seen else None


def site_summaries(
    store: Store,
    overviews: list[SiteOverview],
    *,
    alerts: list[Alert],
    with_cost: bool,
    now: datetime,
) -> list[SiteSummary]:
    """
    Each site of the overview with its names, last year's month, cost and attention list.

    Parameters
    ----------
    store : Store
        The store (a scoped one shows its caller's sites only).
    overviews : list of SiteOverview
        :func:`meshmeter.api.dashboard.views.site_overview`'s sites.
    alerts : list of Alert
        The alerts in force.
    with_cost : bool
        Whether the caller may see bills (then the month's charges are computed).
    now : datetime
        The present, aware: a site whose latest interval is older than the silence threshold is silent
        as a whole. Each meter's silence is judged at the site's ``as_of`` instead, so that the list
        names the meters silent among those that report.
    """
    out = []
    for s in overviews:
        names = (
            meter_names(store, site_id=s.site.id, at=s.as_of)
            if s.site is not None
            else {k: v for k, v in meter_names(store, at=s.as_of).items() if v.site_id is None}
        )
        start, end = _month_before(s.month_start, s.zone, 1)
        consumers = [r.meter.id for r in s.meters if r.meter.role in CONSUMPTION_ROLES]
        producers = [r.meter.id for r in s.meters if r.meter.role == "production"]
        label = start.astimezone(s.zone).strftime("%B %Y")
        cost = None
        if with_cost and s.site is not None:
            cost = month_charges(store, s.site, start=s.month_start, end=s.as_of)
        out.append(
            SiteSummary(
                figures=s,
                names=names,
                last_year_month_wh=_stored_energy(store, consumers, start, end),
                last_year_production_wh=_stored_energy(store, producers, start, end) if producers else None,
                last_year_label=label,
                cost=cost,
                attention=site_attention(
                    store, site=s.site, meters=s.meters, names=names, alerts=alerts, judged_at=s.as_of
                ),
                silent_since=silent_since((r.last_interval_end for r in s.meters), s.as_of, now),
            )
        )
    return out
