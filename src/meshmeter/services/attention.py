"""Which meters of a site need someone now, and what that someone should do (issue 15).

One place for the list that the dashboard's overview ("Needs attention") and ``meshmeter status`` both
show, so that the page and the command never disagree. A meter is on it when it is:

- not reporting: no interval for more than the silence threshold
  (:data:`meshmeter.headend.alerts.DEFAULT_SILENCE_S`) before the instant the site is judged at
  (:func:`as_of`), or never heard;
- under an alert in force (:func:`meshmeter.headend.alerts.active_alerts`): tamper, reverse phase, low
  battery, a source gone silent, a master meter's balance;
- wrongly wired, by the errors of its wiring diagnosis (:func:`meshmeter.services.diagnosis.diagnosis`);
- holding intervals VEE flagged that nobody has acted on (:func:`meshmeter.services.vee_worklist.worklist`),
  within :data:`ATTENTION_VEE_DAYS`.

Each problem says what is seen, since when (in the site's local time) and what to do, in words (an
alert's in those of :data:`meshmeter.services.alert_words.ALERT_WORDS`, as ``meshmeter alerts`` says
them); the meters come worst first (:data:`RANK`). Reads only; no HTTP, no HTML, no printing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Protocol

from meshmeter.headend.alerts import DEFAULT_SILENCE_S, Alert, AlertKind
from meshmeter.intervals import floor_to_grid, zone
from meshmeter.meter.diagnostics import Severity
from meshmeter.services.alert_words import ALERT_WORDS, alert_meaning
from meshmeter.services.diagnosis import diagnosis
from meshmeter.services.vee_worklist import worklist

if TYPE_CHECKING:
    from meshmeter.services.names import MeterName
    from meshmeter.store import Meter, Site, Store

__all__ = [
    "ATTENTION_VEE_DAYS",
    "RANK",
    "Attention",
    "Concern",
    "HeardMeter",
    "as_of",
    "silent_since",
    "site_attention",
    "site_zone",
]

ATTENTION_VEE_DAYS = 31
"""How far back open VEE intervals put a meter on the attention list: the VEE page's default window. [day]"""

RANK = {
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
        """Its worst problem's place (:data:`RANK`): lower comes first."""
        return min(RANK[p.kind] for p in self.problems)


def site_zone(site: Site | None) -> tzinfo:
    """The site's time zone; UTC without a site or for an unknown zone name."""
    if site is None:
        return UTC
    try:
        return zone(site.timezone)
    except ValueError:
        return UTC


def as_of(latest: Iterable[datetime | None], now: datetime) -> datetime:
    """
    The instant a site is judged at: the latest interval end heard, but not after ``now``.

    A simulated site whose data ends in the past is shown as of its last interval, so that "today"
    is the last day with data rather than an empty real today.

    Parameters
    ----------
    latest : iterable of datetime or None
        Latest interval end of each meter (None: never heard).
    now : datetime
        The present, aware.

    Returns
    -------
    datetime
        Aware UTC, on a 15-minute boundary; ``now`` rounded down when nothing was heard.
    """
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    known = [t for t in latest if t is not None]
    instant = min(max(known), now) if known else now
    return floor_to_grid(instant)


def silent_since(latest: Iterable[datetime | None], judged_at: datetime, now: datetime) -> datetime | None:
    """
    When the whole site went silent: ``judged_at`` (:func:`as_of`, its latest interval) when some meter
    was ever heard and that is older than the silence threshold before ``now``; None while it reports.

    The DCAP or its link, not each meter, then needs attention; a simulated site's run ends so too.
    """
    heard = any(t is not None for t in latest)
    return judged_at if heard and (now - judged_at).total_seconds() > DEFAULT_SILENCE_S else None


class HeardMeter(Protocol):
    """A meter with the end of its latest interval heard (the overview's rows are such)."""

    @property
    def meter(self) -> Meter: ...

    @property
    def last_interval_end(self) -> datetime | None: ...


def _local_time(at: datetime, zone: tzinfo, as_of: datetime) -> str:
    """``14:15`` on the day of ``as_of``, else ``Jan 3 14:15`` (local time)."""
    local, now = at.astimezone(zone), as_of.astimezone(zone)
    if local.date() == now.date():
        return local.strftime("%H:%M")
    return f"{local.strftime('%b')} {local.day} {local.strftime('%H:%M')}"


_CONCERNS: dict[AlertKind, str] = {
    AlertKind.TAMPER: "tamper",
    AlertKind.REVERSE_PHASE: "reverse",
    AlertKind.LOW_BATTERY: "battery",
    AlertKind.SOURCE_COMM_LOSS: "source",
    AlertKind.SUBMETER_EXCESS: "balance",
    AlertKind.REMAINDER_JUMP: "balance",
}
"""The kind of problem (:data:`RANK`) each alert in force on a meter is on the list as; communication
loss is shown from the meter's own silence, and a repeater's power is no meter's."""


def _alert_problem(alert: Alert, zone: tzinfo, as_of: datetime, site_id: int | None) -> Concern | None:
    """An alert in force on a meter as a problem with what to do, in the words of
    :data:`meshmeter.services.alert_words.ALERT_WORDS`; None for kinds the list shows otherwise."""
    kind = _CONCERNS.get(alert.kind)
    if kind is None:
        return None
    seen = alert_meaning(alert)
    if kind != "balance" or not alert.detail.get("day"):  # a day's balance already says its day
        seen += f" since {_local_time(alert.at, zone, as_of)}"
    action = ALERT_WORDS[alert.kind].action
    if alert.kind is AlertKind.SOURCE_COMM_LOSS:
        sources = "/dashboard/sources" + ("" if site_id is None else f"?site_id={site_id}")
        return Concern(kind, seen, action, sources, "the sources page")
    return Concern(kind, seen, action)


def site_attention(
    store: Store,
    *,
    site: Site | None,
    meters: Sequence[HeardMeter],
    names: dict[int, MeterName],
    alerts: Sequence[Alert],
    judged_at: datetime,
) -> list[Attention]:
    """
    The meters of a site that need someone, worst first (:data:`RANK`), then by name.

    Parameters
    ----------
    store : Store
        The store (a scoped one shows its caller's sites only).
    site : Site or None
        The site; None for the meters of no site (then no VEE item is looked for).
    meters : sequence of HeardMeter
        The site's meters, each with its latest interval end.
    names : dict
        The meters' names by meter id (:func:`meshmeter.services.names.meter_names`); a meter not named
        is left out.
    alerts : sequence of Alert
        The alerts in force (:func:`meshmeter.headend.alerts.active_alerts`); those of other meters are
        ignored.
    judged_at : datetime
        The instant each meter's silence is judged at (:func:`as_of`), aware; times are said in the
        site's zone (:func:`site_zone`).
    """
    found: dict[int, list[Concern]] = {}
    tz = site_zone(site)
    site_q = "" if site is None else f"site_id={site.id}&"
    network = "/dashboard/network" + ("" if site is None else f"?site_id={site.id}")
    for row in meters:
        m = row.meter
        last = row.last_interval_end
        if last is None or (judged_at - last).total_seconds() > DEFAULT_SILENCE_S:
            if last is None:
                seen = "Never heard"
                action = (
                    "check that the MDT is installed on the meter's pulse output, powered and joined (CIT)"
                )
            else:
                silent = ALERT_WORDS[AlertKind.COMM_LOSS]
                seen = f"{silent.meaning} since {_local_time(last, tz, judged_at)}"
                action = silent.action
            found.setdefault(m.id, []).append(Concern("silent", seen, action, network, "the network page"))
    mine = [a for a in alerts if a.meter_id in names]
    for alert in mine:
        problem = _alert_problem(alert, tz, judged_at, None if site is None else site.id)
        if problem is not None and alert.meter_id is not None:
            found.setdefault(alert.meter_id, []).append(problem)
    for row in meters:
        own = [a for a in mine if a.meter_id == row.meter.id]
        d = diagnosis(store, row.meter, own)
        for f in d.findings:
            if f.severity is Severity.ERROR:
                found.setdefault(row.meter.id, []).append(Concern("wiring", f.message, f.remedy))
    if site is not None:
        start = judged_at - timedelta(days=ATTENTION_VEE_DAYS)
        open_items: dict[int, int] = {}
        for item in worklist(store, site_id=site.id, start=start, end=judged_at, state="open"):
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
        Attention(names[mid], tuple(sorted(ps, key=lambda p: RANK[p.kind])))
        for mid, ps in found.items()
        if mid in names
    ]
    out.sort(key=lambda a: (a.rank, a.name.label, a.name.serial))
    return out
