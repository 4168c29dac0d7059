"""The meters page of a site and the meter page's "Manage this meter" section (issue 15: meters and their
sources managed from the dashboard, with the same checks as the CLI and API).

This module reads what the pages show, from the store as the caller sees it: each meter of the site
with its names first (:func:`meshmeter.services.names.meter_names`), its make, CT ratio, multiplier and
role, whether it is in service (its last install or removal), where its readings come from (an MDT over
the mesh, or a source of real readings) and whether it reports; the designations of the catalog for the
register form; a meter's changes in words (:func:`change_lines`). No HTTP, no HTML: the templates
``meters.html``, ``meter.html`` and ``sources.html`` render these (``docs/dashboard.md``, "Meters").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from meshmeter.api.dashboard.meter_record import SOURCE_KINDS
from meshmeter.api.dashboard.views import SOURCE_STATES
from meshmeter.catalog import DEFAULT_DESIGNATION, decode_meter
from meshmeter.catalog.designations import encode_meter
from meshmeter.headend.alerts import communication_status
from meshmeter.services.names import ROLE_NAMES, MeterName, meter_names
from meshmeter.services.sources import source_health
from meshmeter.store import Meter, MeterChange, Site, Store

__all__ = [
    "LIFE_ACTIONS",
    "ChangeLine",
    "MeterRow",
    "catalog_designations",
    "change_lines",
    "meter_rows",
    "site_meter_names",
]

LIFE_ACTIONS: dict[str, str] = {
    "exchange": "Exchange it for another meter",
    "remove": "Record its removal",
    "install": "Record its install",
    "multiplier": "Change its multiplier",
    "ct_ratio": "Change its CT ratio",
}
"""The acts of the meter page's form (``POST /dashboard/meters/{serial}``), each with its words."""


@dataclass(frozen=True, slots=True)
class MeterRow:
    """One meter of the meters page: names first, then the meter, its service, its source and health."""

    name: MeterName
    meter: Meter
    role: str
    """Its role in words: ``unit meter``, ``house meter`` ..."""
    service: str
    """``in service`` or ``removed``: its last install or removal (none recorded: in service)."""
    service_at: datetime | None
    """When its last install or removal took effect."""
    sources: list[tuple[str, str]]
    """Where its readings come from: (kind in words, name), e.g. (``MDT over the mesh``, its EUI-64)."""
    state: str
    """Whether it reports, in a word: reporting, silent, never heard, disabled."""
    badge: str
    """ok, bad, warn, off."""


def catalog_designations() -> list[tuple[str, str]]:
    """The Mini Meter designations of the catalog (certificate p.1), the default first, each with its
    choices in words: ``(designation, "2 elements, 100 Wh per count, self-contained")``."""
    out = []
    for elements in (2, 1):
        for kh_wh in (100, 1000):
            for contained in (True, False):
                designation = encode_meter(elements, kh_wh, contained)
                words = (
                    f"{elements} element{'s' if elements > 1 else ''}, {kh_wh} Wh per count, "
                    f"{'self-contained' if contained else 'external'} indicating element"
                )
                out.append((designation, words))
    out.sort(key=lambda d: d[0] != DEFAULT_DESIGNATION)
    return out


def default_ct_ratio() -> float:
    """The CT ratio a Mini Meter's designation gives (200:0.1 A). [1]"""
    return float(decode_meter(DEFAULT_DESIGNATION).ct_ratio)


def site_meter_names(store: Store, site: Site | None, at: datetime) -> dict[int, MeterName]:
    """Each meter of the site (none without one) as people name it at ``at``."""
    return {} if site is None else meter_names(store, site_id=site.id, at=at)


def _service(changes: Sequence[MeterChange]) -> tuple[str, datetime | None]:
    last = next((c for c in reversed(changes) if c.kind in ("install", "remove")), None)
    if last is None:  # registered, and no install or removal recorded since
        return "in service", None
    return ("in service" if last.kind == "install" else "removed"), last.at


def meter_rows(store: Store, site: Site | None, *, now: datetime) -> list[MeterRow]:
    """
    The site's meters as the meters page lists them, names first (units in order, then the other roles).

    Parameters
    ----------
    store : Store
        The store, as the caller sees it.
    site : Site or None
        The site; no row without one.
    now : datetime
        The present, aware: the names, the health of the sources and the meters' silence are of it.
    """
    if site is None:
        return []
    names = meter_names(store, site_id=site.id, at=now)
    meters = store.meters(site_id=site.id)
    changes: dict[int, list[MeterChange]] = {m.id: [] for m in meters}
    for change in store.meter_changes(meter_ids=[m.id for m in meters]) if meters else ():
        changes.setdefault(change.meter_id, []).append(change)
    fed: dict[int, list[tuple[str, str, str]]] = {}
    for h in source_health(store, site_id=site.id, now_s=now.timestamp()):
        for c in h.channels:
            kind = SOURCE_KINDS.get(h.source.kind, h.source.kind)
            fed.setdefault(c.meter_id, []).append((kind, h.source.name, h.state))
    mdts: dict[int, str] = {}
    for event in store.events(kind="install"):
        if event.eui64 is not None and event.meter_id is not None and event.meter_id not in mdts:
            mdt = store.get_mdt(eui64=event.eui64)
            if mdt is not None and mdt.meter_id == event.meter_id:
                mdts[event.meter_id] = mdt.eui64.hex()
    silent = {s.meter_id: s for s in communication_status(store, now=now)}
    rows = []
    for meter in meters:
        name = names[meter.id]
        service, at = _service(sorted(changes.get(meter.id, []), key=lambda c: (c.at, c.id)))
        sources = [(kind, source) for kind, source, _ in fed.get(meter.id, [])]
        if meter.id in mdts:
            sources.append(("MDT over the mesh", mdts[meter.id]))
        status = silent.get(meter.id)
        heard = status is not None and status.last_interval_end is not None
        if heard and status is not None and not status.silent:
            word, badge = SOURCE_STATES["ok"]
        elif fed.get(meter.id) and all(state == "disabled" for _, _, state in fed[meter.id]) and not mdts:
            word, badge = SOURCE_STATES["disabled"]
        elif heard:
            word, badge = SOURCE_STATES["silent"]
        else:
            word, badge = SOURCE_STATES["never"]
        rows.append(
            MeterRow(
                name=name,
                meter=meter,
                role=ROLE_NAMES.get(meter.role, meter.role),
                service=service,
                service_at=at,
                sources=sources,
                state=word,
                badge=badge,
            )
        )
    order = {"unit": 0, "master": 1, "house": 2, "production": 3}
    rows.sort(
        key=lambda r: (
            order.get(r.meter.role, 4),
            r.name.unit is None,
            _natural(r.name.label),
            r.meter.serial,
        )
    )
    return rows


def _natural(text: str) -> tuple[object, ...]:
    """A label sorted as people count: ``Unit 2`` before ``Unit 10``."""
    digits = "".join(ch for ch in text if ch.isdigit())
    return (text.rstrip("0123456789"), int(digits) if digits else -1, text)


# ---------------------------------------------------------------------------------------------------
# a meter's life in words
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangeLine:
    """One change in a meter's life, in words: when (local), what, who recorded it."""

    at: datetime
    kind: str
    text: str
    by: str | None


def _kwh(read_wh: int | None) -> str:
    return "" if read_wh is None else f", register {read_wh / 1000:,.3f} kWh"


def change_lines(store: Store, meter: Meter, changes: Sequence[MeterChange]) -> list[ChangeLine]:
    """
    A meter's changes (:func:`meshmeter.services.meterlife.history`) in words, oldest first.

    Parameters
    ----------
    store : Store
        The store (the serials of the meters an exchange names).
    meter : Meter
        The meter whose page it is.
    changes : sequence of MeterChange
        Its changes, by time.

    The words name no time: the page shows ``at`` in the site's local time.
    """
    out = []
    for c in changes:
        other = None
        if c.replaces_meter_id is not None:
            found = store.get_meter(meter_id=c.replaces_meter_id)
            other = str(c.replaces_meter_id) if found is None else found.serial
        if c.kind == "install" and c.meter_id != meter.id:
            found = store.get_meter(meter_id=c.meter_id)
            serial = str(c.meter_id) if found is None else found.serial
            text = f"Exchanged: meter {serial} installed in its place{_kwh(c.read_wh)}"
        elif c.kind == "install":
            text = "Installed" + (f" in place of meter {other}" if other else "") + _kwh(c.read_wh)
        elif c.kind == "remove":
            text = "Removed" + _kwh(c.read_wh)
        elif c.kind == "multiplier":
            before = c.detail.get("from")
            text = (
                f"Multiplier {before:g} → {c.value:g}"
                if isinstance(before, int | float)
                else f"Multiplier {c.value:g}"
            )
            text += _kwh(c.read_wh)
        elif c.kind == "ct_ratio":
            before = c.detail.get("from")
            text = (
                f"CT ratio {before:g}:1 → {c.value:g}:1"
                if isinstance(before, int | float)
                else f"CT ratio {c.value:g}:1"
            )
            text += _kwh(c.read_wh)
        else:
            text = c.kind.replace("_", " ")
        out.append(ChangeLine(at=c.at, kind=c.kind, text=text, by=c.recorded_by))
    return out
