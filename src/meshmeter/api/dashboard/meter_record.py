"""A meter's page as a meter record: who and where first, then make and ratings, reads, events, source.

Issue 15: the meter page named a meter by its serial and dumped its events as Python dictionaries. This
module reads what the page shows, from the store (a scoped one gives only what its caller may see):
the meter's names now (:func:`meshmeter.services.names.meter_names`), the tenures of its units and the
accounts' history, its make and ratings, its register reads, its events in words (:func:`event_lines`,
the one formatter of events for the page), and where its readings come from (an MDT over the mesh, or a
source of real readings: a pulse counter, a Modbus meter, an rtlamr receiver) with that path's health.
No HTTP, no HTML: the template ``meter.html`` renders these dataclasses (``docs/dashboard.md``, "Meter").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from meshmeter.api.dashboard.views import SOURCE_STATES, _duration, _per_unit
from meshmeter.headend.alerts import ALERT_PREFIX, AlertKind, MeterCommunication, communication_status
from meshmeter.services.alert_words import ALERT_WORDS, describe
from meshmeter.services.names import ROLE_NAMES, MeterName, meter_names
from meshmeter.services.sources import source_health
from meshmeter.store import Event, Meter, Store

__all__ = [
    "EVENT_LIMIT",
    "READ_LIMIT",
    "EventLine",
    "MeterRecord",
    "Path",
    "Ratings",
    "Tenure",
    "event_lines",
    "meter_record",
]

EVENT_LIMIT = 200
"""Most events the page lists, newest first. [1]"""

READ_LIMIT = 12
"""Most register reads the page lists, newest first. [1]"""

SOURCE_KINDS: dict[str, str] = {
    "mqtt": "pulse counter over MQTT",
    "modbus_tcp": "Modbus TCP meter",
    "modbus_rtu": "Modbus RTU meter",
    "rtlamr": "rtlamr radio receiver",
}
"""A source's kind (:data:`meshmeter.store.schema.SOURCE_KINDS`) in words."""

_TENANCY_WORDS: dict[str, str] = {
    "account_opened": "account opened",
    "moved_in": "moved in",
    "moved_out": "moved out",
    "transferred": "transferred",
    "account_closed": "account closed",
}


# ---------------------------------------------------------------------------------------------------
# events in words
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventLine:
    """One line of the meter's events: when, what in words, and its tone (``bad``, ``warn``, ``ok``,
    ``info``: the colour of its mark)."""

    at: datetime
    text: str
    tone: str
    kind: str
    """The stored kind (``alert.tamper``, ``install`` ...), for the page's data attribute."""


def _clock(at: datetime, since: datetime | None, zone: tzinfo) -> str:
    """Local ``14:02``; with the date when ``since`` is None or on another local day."""
    local = at.astimezone(zone)
    if since is not None and since.astimezone(zone).date() == local.date():
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def _number(value: Any, digits: int) -> str:
    """A stored number rounded to ``digits`` decimals; an en dash for what is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "–"
    return f"{value:,.{digits}f}"


def _alert_kind(event: Event) -> AlertKind | None:
    """The alert kind of an ``alert.*`` event; None for another event (or a kind this head-end does not
    know)."""
    if not event.kind.startswith(ALERT_PREFIX):
        return None
    try:
        return AlertKind(event.kind[len(ALERT_PREFIX) :])
    except ValueError:
        return None


def _alert_words(kind: AlertKind, detail: dict[str, Any]) -> str:
    """The raise's words (:func:`~meshmeter.services.alert_words.describe`), with what the page adds: the
    elements' power of a reverse phase, how long the silence lasted."""
    words = describe(kind, detail)
    if kind is AlertKind.REVERSE_PHASE:
        powers = detail.get("element_power_w")
        if isinstance(powers, list) and powers:
            shown = [p for p in (_number(w, 0) for w in powers) if p != "–"]
            if shown:
                words += f" (element power {', '.join(shown)} W)"
    elif kind in (AlertKind.COMM_LOSS, AlertKind.SOURCE_COMM_LOSS):
        silence = detail.get("silence_s")
        if isinstance(silence, int | float) and not isinstance(silence, bool):
            words += f" for more than {_duration(float(silence))}"
    return words


def _single(event: Event, zone: tzinfo) -> EventLine:
    """An event that pairs with no other, in words."""
    d = event.detail
    when = _clock(event.at, None, zone)
    if event.kind == "install":
        what = d.get("device") or "meter and MDT"
        role = d.get("role")
        unit = d.get("unit")
        text = f"Installed {what} {when}"
        if role in ROLE_NAMES:
            text += f" as the {ROLE_NAMES[str(role)]}"
        if unit:
            text += f" of unit {unit}"
        return EventLine(event.at, text, "info", event.kind)
    if event.kind == "element_measurements":
        elements = d.get("elements")
        parts = []
        for e in elements if isinstance(elements, list) else []:
            if not isinstance(e, dict):
                continue
            volts, amps, watts = (
                _number(e.get(k), n) for k, n in (("voltage_v", 1), ("current_a", 2), ("power_w", 0))
            )
            parts.append(f"element {e.get('element')}: {volts} V, {amps} A, {watts} W")
        text = f"Element measurements {when}" + (f": {'; '.join(parts)}" if parts else "")
        return EventLine(event.at, text, "info", event.kind)
    kind = _alert_kind(event)
    if kind is not None:
        said = ALERT_WORDS[kind]
        if d.get("active", True):
            return EventLine(event.at, f"{_alert_words(kind, d)} {when}", said.tone, event.kind)
        return EventLine(event.at, f"{said.meaning}: {said.cleared} {when}", "ok", event.kind)
    words = event.kind.replace(ALERT_PREFIX, "").replace("_", " ").capitalize()
    return EventLine(event.at, f"{words} {when}", "info", event.kind)


def event_lines(events: Sequence[Event], zone: tzinfo, *, limit: int = EVENT_LIMIT) -> list[EventLine]:
    """
    A meter's events in words, newest first: an alert raised and then cleared is one line.

    ``Cover opened 14:02, closed 14:31``; ``Reverse phase on element 2 (CT2) (element power 1,234,
    -1,180 W) 2026-01-01 08:00``; numbers rounded to what they mean (volts to 0.1, amperes to 0.01, watts
    to 1, battery to 1 %), times local to ``zone``, the date left out of a clear on the day of its raise.
    This is the one formatter of events of the page; an unknown kind is named in words, never dumped.

    Parameters
    ----------
    events : sequence of Event
        The meter's events, oldest first (:meth:`meshmeter.store.Store.events`).
    zone : tzinfo
        The site's time zone.
    limit : int, optional
        Most lines returned. [1]

    Returns
    -------
    list of EventLine
        Newest first (by the first event of each line).
    """
    lines: list[EventLine] = []
    open_at: dict[tuple[str, bytes | None], int] = {}
    for event in sorted(events, key=lambda e: (e.at, e.id)):
        kind = _alert_kind(event)
        if kind is not None:
            key = (kind, event.eui64)
            active = bool(event.detail.get("active", True))
            if not active and key in open_at:
                k = open_at.pop(key)
                raised = lines[k]
                cleared = f"{ALERT_WORDS[kind].cleared} {_clock(event.at, raised.at, zone)}"
                lines[k] = EventLine(raised.at, f"{raised.text}, {cleared}", "ok", raised.kind)
                continue
            if active:
                open_at[key] = len(lines)
        lines.append(_single(event, zone))
    for k in open_at.values():
        line = lines[k]
        lines[k] = EventLine(line.at, f"{line.text} (in force)", line.tone, line.kind)
    return lines[::-1][:limit]


# ---------------------------------------------------------------------------------------------------
# the record
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ratings:
    """The meter's make and ratings, for the secondary panel."""

    serial: str
    make: str
    """Manufacturer and model, or the Mini Meter designation."""
    designation: str
    ct_ratio: float
    """CT primary / secondary. [1]"""
    multiplier: float
    """Register reading to energy. [1]"""
    interval_min: int
    """Length of its intervals. [min]"""
    role: str
    """Its role in words: ``unit meter``, ``house meter`` ..."""


@dataclass(frozen=True, slots=True)
class Tenure:
    """One tenancy of the meter's unit: who, under which account, from when to when."""

    unit: str
    tenant: str
    account: str
    account_id: int
    """The account's id, for its page."""
    move_in: datetime
    move_out: datetime | None
    """None: still living there."""
    history: list[tuple[datetime, str]]
    """What was recorded on the account, in words, oldest first."""


@dataclass(frozen=True, slots=True)
class Path:
    """Where the meter's readings come from, and how that path is doing."""

    kind: str
    """In words: ``MDT over the mesh``, ``pulse counter over MQTT``, ``Modbus TCP meter`` ..."""
    name: str
    """The MDT's EUI-64, or the source's name."""
    detail: str
    """The channel and its units, the address; empty for an MDT."""
    state: str
    """In a word: reporting, silent, never heard, disabled."""
    badge: str
    """ok, bad, warn, off."""
    since: str
    """How long since it was last heard, in words; an en dash when never."""
    error: str | None = None
    """The source's last error, when later than its last reading."""
    link: str | None = None
    """The page to look at (the sources page, the network page)."""


@dataclass(frozen=True, slots=True)
class MeterRecord:
    """Everything the meter page shows beside its charts, LCD and diagnosis."""

    name: MeterName
    heading: str
    """The page's title: the unit or role, else ``Meter <serial>``."""
    ratings: Ratings
    tenures: list[Tenure]
    """Newest first."""
    reads: list[tuple[datetime, int]]
    """Register reads, newest first (at most :data:`READ_LIMIT`). [Wh]"""
    events: list[EventLine]
    paths: list[Path]


def _tenures(store: Store, meter: Meter, zone: tzinfo) -> list[Tenure]:
    tenants = {t.id: t.name for t in store.tenants()}
    out = []
    for o in sorted(store.occupancies(meter_id=meter.id), key=lambda o: (o.move_in, o.id), reverse=True):
        account = store.get_account(account_id=o.account_id)
        history = []
        for h in store.account_history(account_id=o.account_id):
            if h.kind in _TENANCY_WORDS and (h.occupancy_id in (None, o.id)):
                history.append((h.at, _TENANCY_WORDS[h.kind]))
        out.append(
            Tenure(
                unit=o.unit,
                tenant=tenants.get(o.tenant_id, f"tenant {o.tenant_id}"),
                account=account.number if account is not None else str(o.account_id),
                account_id=o.account_id,
                move_in=o.move_in,
                move_out=o.move_out,
                history=history,
            )
        )
    return out


def _paths(store: Store, meter: Meter, now: datetime, status: MeterCommunication | None) -> list[Path]:
    """The meter's sources of real readings with their health, and its MDT with its silence (``status``,
    the meter's communication status at ``now``)."""
    out: list[Path] = []
    if meter.site_id is not None:
        for h in source_health(store, site_id=meter.site_id, now_s=now.timestamp()):
            mine = [c for c in h.channels if c.meter_id == meter.id]
            if not mine:
                continue
            word, badge = SOURCE_STATES.get(h.state, (h.state, "warn"))
            s = h.source
            error = s.last_error
            if error is not None and s.last_reading_at is not None and s.last_error_at is not None:
                error = error if s.last_error_at > s.last_reading_at else None
            out.append(
                Path(
                    kind=SOURCE_KINDS.get(s.kind, s.kind),
                    name=s.name,
                    detail="; ".join(
                        f"{c.device}/{c.channel} ({_per_unit(c.unit, c.wh_per_unit)})" for c in mine
                    )
                    + f"; {s.format} at {s.address}",
                    state=word,
                    badge=badge,
                    since=_duration(h.silence_s),
                    error=error,
                    link=f"/dashboard/sources?site_id={meter.site_id}",
                )
            )
    euis = {e.eui64 for e in store.events(meter_id=meter.id) if e.eui64 is not None}
    mdts = [
        m for m in (store.get_mdt(eui64=e) for e in sorted(euis)) if m is not None and m.meter_id == meter.id
    ]
    if mdts:
        last = None if status is None else status.last_interval_end
        silent = status is None or status.silent
        for mdt in mdts:
            out.append(
                Path(
                    kind="MDT over the mesh",
                    name=mdt.eui64.hex(),
                    detail=f"kit {mdt.kit}, pulse output 10 Wh",
                    state="never heard" if last is None else ("silent" if silent else "reporting"),
                    badge="warn" if last is None else ("bad" if silent else "ok"),
                    since="–" if last is None else _duration((now - last).total_seconds()),
                    link=None if meter.site_id is None else f"/dashboard/network?site_id={meter.site_id}",
                )
            )
    return out


def meter_record(
    store: Store,
    meter: Meter,
    *,
    zone: tzinfo,
    now: datetime | None = None,
    status: MeterCommunication | None = None,
) -> MeterRecord:
    """
    What the meter page shows of a meter beside its charts, LCD and diagnosis.

    Parameters
    ----------
    store : Store
        The store, as the caller sees it.
    meter : Meter
        The meter.
    zone : tzinfo
        The site's time zone (events in words are in its local time).
    now : datetime, optional
        The present, aware; default now. The names are those of this moment.
    status : MeterCommunication, optional
        The meter's communication status at ``now``, as the caller already has it
        (:func:`~meshmeter.headend.alerts.communication_status`); read here when not given.

    Returns
    -------
    MeterRecord
    """
    moment = datetime.now(UTC).replace(microsecond=0) if now is None else now
    if status is None:
        status = next((s for s in communication_status(store, now=moment) if s.meter_id == meter.id), None)
    names = meter_names(store, site_id=meter.site_id, at=moment)
    name = names.get(meter.id)
    if name is None:  # a meter of no site, or not among its site's (cannot happen for a stored one)
        name = meter_names(store, at=moment)[meter.id]
    heading = name.label if (name.unit is not None or meter.role != "unit") else f"Meter {meter.serial}"
    ratings = Ratings(
        serial=meter.serial,
        make=name.make,
        designation=meter.designation,
        ct_ratio=meter.ct_ratio,
        multiplier=meter.multiplier,
        interval_min=meter.interval_s // 60,
        role=ROLE_NAMES.get(meter.role, meter.role),
    )
    reads = store.register_reads(
        meter_id=meter.id, start=datetime(1970, 1, 1, tzinfo=UTC), end=moment + timedelta(days=1)
    )
    return MeterRecord(
        name=name,
        heading=heading,
        ratings=ratings,
        tenures=_tenures(store, meter, zone),
        reads=[(r.read_at, r.energy_wh) for r in reads[::-1][:READ_LIMIT]],
        events=event_lines(store.events(meter_id=meter.id), zone),
        paths=_paths(store, meter, moment, status),
    )
