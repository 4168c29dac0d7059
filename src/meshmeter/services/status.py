"""One site at a glance: what reports, what does not, what needs a person (issue 15, ``meshmeter status``).

Gathers, for one site, what the other pages and commands already decide, without deciding it again:

- the meters reporting and the attention list, each meter named as people name it with what is wrong and
  what to do: :func:`meshmeter.services.attention.site_attention`, the list the dashboard's overview
  shows, on the alerts in force (:func:`meshmeter.headend.alerts.active_alerts`), so the command and the
  page never disagree. A meter's silence is judged at the site's latest stored interval when that is
  before now (a simulated or old site), else at now (:func:`meshmeter.services.attention.as_of`), as the
  overview does;
- the intervals VEE flagged that nobody has acted on (:func:`meshmeter.services.vee_worklist.worklist`);
- the health of the site's sources (:func:`meshmeter.services.sources.source_health`);
- the last bill run: the bills of the latest billing period stored (:meth:`Store.list_bills`).

No printing here: the CLI prints it (``meshmeter.cli.status``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meshmeter.services.attention import Attention
    from meshmeter.services.sources import SourceHealth
    from meshmeter.store import Meter, Site, Store, StoredBill

__all__ = ["BillRun", "SiteStatus", "choose_site", "site_status", "status_to_dict"]


@dataclass(frozen=True, slots=True)
class BillRun:
    """The bills of the latest billing period stored for a site."""

    period_start: datetime
    period_end: datetime
    """The period ``(start, end]``, UTC."""
    bills: int
    """Bills of that period. [1]"""
    total: Decimal
    """Sum of their printed totals (what is due). [USD]"""
    created_at: datetime
    """When the last of them was stored, UTC."""


@dataclass(frozen=True)
class SiteStatus:
    """A site's status: its meters reporting, the meters that need a person, VEE, sources, bills."""

    site: Site
    now: datetime
    """The present, aware."""
    as_of: datetime
    """The instant each meter's silence is judged at: the site's latest interval, but not after ``now``."""
    meters: int
    """Meters of the site. [1]"""
    reporting: int
    """Of those, the ones heard within the silence threshold before ``as_of``. [1]"""
    silent_since: datetime | None
    """The site's latest interval when it is older than the silence threshold before ``now`` (the whole
    site quiet: its DCAP or link, or a simulated run that ended); None while it reports."""
    attention: list[Attention]
    """The meters that need a person, worst first, each with what is wrong and what to do."""
    vee_open: int
    """Intervals VEE flagged or estimated that nobody has acted on, all stored time. [1]"""
    sources: list[SourceHealth]
    last_bills: BillRun | None
    """None when no bill of the site is stored."""

    @property
    def needs_person(self) -> bool:
        """Whether anything needs a person: a meter on the attention list (silent, an alert, a wiring
        fault, open VEE intervals) or a source that is silent or never heard."""
        return bool(self.attention) or any(s.state in ("silent", "never") for s in self.sources)


@dataclass(frozen=True, slots=True)
class _Heard:
    """A meter with the end of its latest interval (:class:`meshmeter.services.attention.HeardMeter`)."""

    meter: Meter
    last_interval_end: datetime | None


def choose_site(store: Store, site: str | None) -> Site:
    """
    The site ``--site`` names (by name, else id: :func:`meshmeter.services.reconcile.find_site`); without
    it, the store's only site.

    Raises
    ------
    ValueError
        Naming the store's sites: ``site`` names none of them, or none was named and the store has
        several or none.
    """
    from meshmeter.errors import NotFoundError
    from meshmeter.services.reconcile import find_site

    sites = store.sites()
    names = ", ".join(repr(s.name) for s in sites)
    if site is not None:
        try:
            return find_site(store, site)
        except NotFoundError:
            raise ValueError(f"site {site!r} is not in the store; its sites: {names or 'none'}") from None
    if not sites:
        raise ValueError("the store has no site: add one with `meshmeter site add` (or try `meshmeter demo`)")
    if len(sites) > 1:
        raise ValueError(f"the store has {len(sites)} sites ({names}); name one with --site")
    return sites[0]


def _last_bills(store: Store, site: Site) -> BillRun | None:
    """The bills of the site's latest stored period (by its end, then start)."""
    bills: list[StoredBill] = store.list_bills(site=site.id)
    if not bills:
        return None
    latest = max((b.period_end, b.period_start) for b in bills)
    run = [b for b in bills if (b.period_end, b.period_start) == latest]
    return BillRun(
        period_start=latest[1],
        period_end=latest[0],
        bills=len(run),
        total=sum((b.printed_total for b in run), Decimal(0)),
        created_at=max(b.created_at for b in run),
    )


def site_status(store: Store, site: Site, *, now: datetime) -> SiteStatus:
    """
    The status of ``site`` at ``now`` (aware). Reads only; nothing is stored.
    """
    from meshmeter.headend.alerts import active_alerts, communication_status
    from meshmeter.services.attention import as_of, silent_since, site_attention
    from meshmeter.services.names import meter_names
    from meshmeter.services.sources import source_health
    from meshmeter.services.vee_worklist import worklist

    alerts = active_alerts(store)
    heard = {c.meter_id: c.last_interval_end for c in communication_status(store, now=now)}
    meters = [_Heard(m, heard.get(m.id)) for m in store.meters(site_id=site.id)]
    latest = [m.last_interval_end for m in meters]
    judged_at = as_of(latest, now)
    names = meter_names(store, site_id=site.id, at=judged_at)
    attention = site_attention(
        store, site=site, meters=meters, names=names, alerts=alerts, judged_at=judged_at
    )
    silent = sum(1 for a in attention if any(p.kind == "silent" for p in a.problems))
    return SiteStatus(
        site=site,
        now=now,
        as_of=judged_at,
        meters=len(meters),
        reporting=len(meters) - silent,
        silent_since=silent_since(latest, judged_at, now),
        attention=attention,
        vee_open=len(worklist(store, site_id=site.id, state="open", now=now)),
        sources=source_health(store, site_id=site.id, now_s=now.timestamp()),
        last_bills=_last_bills(store, site),
    )


def status_to_dict(status: SiteStatus) -> dict[str, Any]:
    """The status as JSON-ready values, with stable keys (``docs/cli.md``, ``meshmeter status --json``)."""
    bills = status.last_bills
    return {
        "site": status.site.name,
        "site_id": status.site.id,
        "timezone": status.site.timezone,
        "now": status.now.isoformat(),
        "as_of": status.as_of.isoformat(),
        "silent_since": None if status.silent_since is None else status.silent_since.isoformat(),
        "meters": status.meters,
        "reporting": status.reporting,
        "needs_person": [
            {
                "label": a.name.label,
                "unit": a.name.unit,
                "tenant": a.name.tenant,
                "account": a.name.account,
                "serial": a.name.serial,
                "problems": [{"kind": p.kind, "seen": p.seen, "action": p.action} for p in a.problems],
            }
            for a in status.attention
        ],
        "vee_open": status.vee_open,
        "sources": [
            {
                "name": s.source.name,
                "kind": s.source.kind,
                "state": s.state,
                "silence_s": None if s.silence_s is None else round(s.silence_s, 1),
            }
            for s in status.sources
        ],
        "last_bills": None
        if bills is None
        else {
            "period_start": bills.period_start.isoformat(),
            "period_end": bills.period_end.isoformat(),
            "bills": bills.bills,
            "total_usd": str(bills.total),
            "created_at": bills.created_at.isoformat(),
        },
        "ok": not status.needs_person,
    }
