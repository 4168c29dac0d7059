"""What the overview page shows beyond each site's figures: names, last year's month, cost, attention.

Issue 15: a building manager opening the dashboard wants to know, by unit and tenant, which meters need
someone now and what that someone should do, then how much was used and what it costs. This module
puts together, per site, on top of :func:`meshmeter.api.dashboard.views.site_overview`:

- the meters' names (:func:`meshmeter.services.names.meter_names`), first in every row;
- consumption and production of the same local month last year (whole month); [Wh]
- the tenants' charges so far this month, each account at the tariff of its latest stored bill (the
  server keeps no tariff of its own: a bill carries its tariff in its inputs, ``docs/billing.md``);
- the attention list: meters not reporting, with an alert in force (tamper, reverse phase, low battery,
  a source gone silent, a master meter's balance), a wiring fault found by the diagnosis
  (:func:`meshmeter.meter.diagnostics.diagnose`) or intervals VEE flagged and nobody has acted on, each
  with what to do in words.

No HTTP and no HTML here (``docs/dashboard.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING

from meshmeter.api.dashboard.views import SiteOverview, diagnosis
from meshmeter.billing import parse_tariff
from meshmeter.errors import MeshmeterError
from meshmeter.headend.alerts import DEFAULT_SILENCE_S, Alert, AlertKind
from meshmeter.meter.diagnostics import Severity
from meshmeter.services.billing import bill_account_from_store
from meshmeter.services.names import MeterName, meter_names
from meshmeter.services.vee_worklist import worklist
from meshmeter.store import CONSUMPTION_ROLES

if TYPE_CHECKING:
    from meshmeter.billing import Tariff
    from meshmeter.store import Site, Store

__all__ = [
    "ATTENTION_VEE_DAYS",
    "Attention",
    "Concern",
    "MonthCost",
    "SiteSummary",
    "month_cost",
    "site_summaries",
]

ATTENTION_VEE_DAYS = 31
"""How far back open VEE intervals put a meter on the attention list: the VEE page's default window. [day]"""

_RANK = {
    "silent": 0,
    "tamper": 1,
    "wiring": 2,
    "reverse": 2,
    "source": 3,
    "balance": 3,
    "battery": 4,
    "vee": 5,
}
"""Which problems come first on the attention list: a meter that says nothing, then one tampered with, then
wrong readings, then the rest."""


@dataclass(frozen=True, slots=True)
class Concern:
    """One thing wrong with a meter: what is seen, what to do, and where to look."""

    kind: str
    """``silent``, ``tamper``, ``reverse``, ``wiring``, ``source``, ``balance``, ``battery`` or ``vee``."""
    seen: str
    """What is wrong, with its time: ``Not reporting since 14:15``."""
    action: str
    """What to do, in words: ``check the MDT's power and the radio path (CIT)``."""
    link: str | None = None
    """The page to look at (the VEE list of the meter, the network page ...)."""
    link_text: str = "open"
    """The link's words, saying where it leads: ``the network page``."""


@dataclass(frozen=True, slots=True)
class Attention:
    """A meter that needs someone, named as people name it, with its problems, worst first."""

    name: MeterName
    problems: tuple[Concern, ...]

    @property
    def rank(self) -> int:
        """Its worst problem's place (:data:`_RANK`): lower comes first."""
        return min(_RANK[p.kind] for p in self.problems)


@dataclass(frozen=True, slots=True)
class MonthCost:
    """The tenants' charges of a period, each account billed at the tariff of its latest stored bill."""

    total: Decimal | None
    """Sum of the bills' exact totals; None when no account could be billed. [USD]"""
    billed: int
    """Accounts billed. [1]"""
    untariffed: list[str] = field(default_factory=list)
    """Accounts with no stored bill, hence no tariff, by number."""
    unbilled: list[str] = field(default_factory=list)
    """Accounts with a tariff that could not be billed, each with why."""


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


def _local_time(at: datetime, zone: tzinfo, as_of: datetime) -> str:
    """``14:15`` on the day of ``as_of``, else ``Jan 3 14:15`` (local time)."""
    local, now = at.astimezone(zone), as_of.astimezone(zone)
    if local.date() == now.date():
        return local.strftime("%H:%M")
    return f"{local.strftime('%b')} {local.day} {local.strftime('%H:%M')}"


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


def month_cost(store: Store, site: Site, *, start: datetime, end: datetime) -> MonthCost:
    """
    The tenants' charges of ``(start, end]``: each account of the site in service then, billed
    (:func:`meshmeter.services.billing.bill_account_from_store`) at the tariff of its latest stored bill.

    An account with no stored bill has no tariff: it is named in ``untariffed``, not counted as zero.
    Nothing is stored. An empty period (the month's first instant) costs nothing.
    """
    if end <= start:
        return MonthCost(total=Decimal(0), billed=0)
    untariffed: list[str] = []
    unbilled: list[str] = []
    tariffs: dict[str, Tariff] = {}
    total = Decimal(0)
    billed = 0
    for account in sorted(store.accounts(site_id=site.id), key=lambda a: (len(a.number), a.number)):
        if not any(o.covers(start, end) for o in store.occupancies(account_id=account.id)):
            continue
        listed = store.list_bills(account_id=account.id)
        latest = max(listed, key=lambda b: (b.period_end, b.id)) if listed else None
        stored = None if latest is None else store.get_bill(latest.id)
        inputs = {} if stored is None else stored.document.get("inputs") or {}
        if "tariff" not in inputs:
            untariffed.append(account.number)
            continue
        sha = str(inputs.get("tariff_sha256", ""))
        try:
            if sha not in tariffs:
                tariffs[sha] = parse_tariff(inputs["tariff"])
            bills = bill_account_from_store(
                store, account=account, tariff=tariffs[sha], start=start, end=end, timezone=site.timezone
            )
        except (MeshmeterError, ValueError) as exc:
            unbilled.append(f"{account.number}: {exc}")
            continue
        total += sum((b.total for b in bills), Decimal(0))
        billed += 1
    return MonthCost(total=total if billed else None, billed=billed, untariffed=untariffed, unbilled=unbilled)


def _alert_problem(alert: Alert, zone: tzinfo, as_of: datetime, site_id: int | None) -> Concern | None:
    """An alert in force on a meter as a problem with what to do; None for kinds the list shows otherwise."""
    when = _local_time(alert.at, zone, as_of)
    detail = alert.detail
    if alert.kind is AlertKind.TAMPER:
        return Concern(
            "tamper",
            f"Enclosure cover opened at {when} (tamper switch)",
            "inspect the meter and its seals, then close the cover (manual §2.5.2)",
        )
    if alert.kind is AlertKind.REVERSE_PHASE:
        elements = ", ".join(str(e) for e in detail.get("elements", [])) or "?"
        return Concern(
            "reverse",
            f"Reverse phase on element {elements} since {when}",
            "check that CT's orientation and its leads (LINE side toward the incoming line, white lead to "
            "X2), see the meter's wiring diagnosis (manual §4.5.1, §7)",
        )
    if alert.kind is AlertKind.LOW_BATTERY:
        left = detail.get("fraction_left")
        share = f" ({100 * float(left):.0f} % left)" if isinstance(left, int | float) else ""
        return Concern(
            "battery", f"MDT battery low{share} since {when}", "replace the MDT's battery (manual §5)"
        )
    if alert.kind is AlertKind.SOURCE_COMM_LOSS:
        source = detail.get("source", "its source")
        return Concern(
            "source",
            f"No reading from {source} since {when}",
            "check the source device's power and its link to the collector (Sources page)",
            "/dashboard/sources" + ("" if site_id is None else f"?site_id={site_id}"),
            "the sources page",
        )
    if alert.kind is AlertKind.SUBMETER_EXCESS:
        return Concern(
            "balance",
            f"Sub-meters add up to more than this master meter on {detail.get('day', when)}",
            "check the sub-meters' CTs and wiring (manual §7); run meshmeter reconcile",
        )
    if alert.kind is AlertKind.REMAINDER_JUMP:
        return Concern(
            "balance",
            f"Unmetered remainder jumped on {detail.get('day', when)}",
            "look for an unmetered load or a sub-meter that stopped; run meshmeter reconcile",
        )
    return None  # comm_loss: shown from the meter's silence; repeater power: not a meter's


def _attention(
    store: Store,
    summary: SiteOverview,
    names: dict[int, MeterName],
    alerts: list[Alert],
) -> list[Attention]:
    """The site's meters that need someone, worst first, then by name."""
    found: dict[int, list[Concern]] = {}
    zone, as_of = summary.zone, summary.as_of
    site_q = "" if summary.site is None else f"site_id={summary.site.id}&"
    network = "/dashboard/network" + ("" if summary.site is None else f"?site_id={summary.site.id}")
    for row in summary.meters:
        m = row.meter
        last = row.last_interval_end
        if last is None or (as_of - last).total_seconds() > DEFAULT_SILENCE_S:
            if last is None:
                seen = "Never heard"
                action = (
                    "check that the MDT is installed on the meter's pulse output, powered and joined (CIT)"
                )
            else:
                seen = f"Not reporting since {_local_time(last, zone, as_of)}"
                action = "check the MDT's power and the radio path (CIT)"
            found.setdefault(m.id, []).append(Concern("silent", seen, action, network, "the network page"))
    mine = [a for a in alerts if a.meter_id in names]
    for alert in mine:
        problem = _alert_problem(alert, zone, as_of, None if summary.site is None else summary.site.id)
        if problem is not None and alert.meter_id is not None:
            found.setdefault(alert.meter_id, []).append(problem)
    for row in summary.meters:
        own = [a for a in mine if a.meter_id == row.meter.id]
        d = diagnosis(store, row.meter, own)
        for f in d.findings:
            if f.severity is Severity.ERROR:
                found.setdefault(row.meter.id, []).append(Concern("wiring", f.message, f.remedy))
    if summary.site is not None:
        start = summary.as_of - timedelta(days=ATTENTION_VEE_DAYS)
        open_items: dict[int, int] = {}
        for item in worklist(store, site_id=summary.site.id, start=start, end=summary.as_of, state="open"):
            open_items[item.name.meter_id] = open_items.get(item.name.meter_id, 0) + 1
        for meter_id, n in open_items.items():
            serial = names[meter_id].serial
            found.setdefault(meter_id, []).append(
                Concern(
                    "vee",
                    f"{n} interval{'s' if n > 1 else ''} flagged by VEE, not yet reviewed",
                    "review them on the VEE page: accept, edit or ask for a re-read",
                    f"/dashboard/vee?{site_q}meter={serial}",
                    "its VEE list",
                )
            )
    out = [
        Attention(names[mid], tuple(sorted(ps, key=lambda p: _RANK[p.kind])))
        for mid, ps in found.items()
        if mid in names
    ]
    out.sort(key=lambda a: (a.rank, a.name.label, a.name.serial))
    return out


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
            cost = month_cost(store, s.site, start=s.month_start, end=s.as_of)
        out.append(
            SiteSummary(
                figures=s,
                names=names,
                last_year_month_wh=_stored_energy(store, consumers, start, end),
                last_year_production_wh=_stored_energy(store, producers, start, end) if producers else None,
                last_year_label=label,
                cost=cost,
                attention=_attention(store, s, names, alerts),
                silent_since=s.as_of
                if any(r.last_interval_end for r in s.meters)
                and (now - s.as_of).total_seconds() > DEFAULT_SILENCE_S
                else None,
            )
        )
    return out
