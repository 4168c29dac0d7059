"""What the dashboard's pages show, computed from the store and the CIT report: no HTTP, no HTML.

Each function returns plain dataclasses that the templates render. Energy stays integer Wh; times are
aware UTC and are turned into the site's local time only by the templates' filters (``docs/dashboard.md``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from meshmeter.amr.cit import CitReport, DeviceRow
from meshmeter.headend.alerts import Alert, communication_status
from meshmeter.intervals import INTERVAL_S, Quality
from meshmeter.meter.display import LcdScreen, lcd_screens
from meshmeter.services.attention import as_of, site_zone
from meshmeter.store import CONSUMPTION_ROLES, Event, Meter, Site, Store

if TYPE_CHECKING:
    from meshmeter.services.sources import SourceHealth

__all__ = [
    "LINK_QUALITY_COLOURS",
    "QUALITY_NAMES",
    "GraphEdge",
    "GraphNode",
    "MeterRow",
    "NetworkGraph",
    "SiteOverview",
    "SourceRow",
    "as_of",
    "cit_from_dict",
    "device_positions",
    "energy_between",
    "join_state",
    "led_pattern",
    "link_quality",
    "local_day_bounds",
    "meter_events",
    "meter_lcd",
    "meter_reading",
    "network_graph",
    "site_overview",
    "site_zone",
    "source_rows",
]

QUALITY_NAMES: dict[int, str] = {
    **{int(q): q.text for q in Quality},
    int(Quality.ESTIMATED_REFERENCE_DAY): "estimated (reference days)",
    int(Quality.ESTIMATED_INTERPOLATION): "estimated (linear interpolation)",
    int(Quality.RAW): "raw (not validated)",
}
"""ESPI quality codes as the pages name them (``docs/vee.md``): :class:`~meshmeter.intervals.Quality`'s
words, shorter for the estimates."""

LINK_QUALITY_COLOURS: dict[str, str] = {"good": "#1a7f37", "fair": "#9a6700", "poor": "#cf222e"}
"""Colour of a link by quality; each has a contrast of at least 4.5:1 on white (WCAG AA)."""


# ---------------------------------------------------------------------------------------------------
# time
# ---------------------------------------------------------------------------------------------------

# site_zone and as_of are meshmeter.services.attention's (the attention list and `meshmeter status` judge
# a site by them too); imported above for the pages.


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def local_day_bounds(instant: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """
    Local midnight starting the day and the month that hold the interval ending at ``instant``.

    An interval ending at local midnight belongs to the day before (intervals are named by their end).
    """
    day = (instant - timedelta(seconds=1)).astimezone(zone).date()
    return _local_midnight(day, zone), _local_midnight(day.replace(day=1), zone)


# ---------------------------------------------------------------------------------------------------
# overview
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeterRow:
    """A meter on the overview."""

    meter: Meter
    last_interval_end: datetime | None
    reading_wh: int | None
    """Total register at the latest interval (the MDT's count of 10 Wh pulses), or a later register
    read. [Wh]"""
    today_wh: int
    """Energy of the local day of ``as_of`` up to it. [Wh]"""
    month_wh: int
    """Energy of the local month of ``as_of`` up to it. [Wh]"""
    silent: bool
    alerts: int
    """Alerts in force for this meter. [1]"""


@dataclass(frozen=True)
class SiteOverview:
    """A site on the overview."""

    site: Site | None
    """None: the meters that belong to no site."""
    zone: tzinfo
    as_of: datetime
    day_start: datetime
    month_start: datetime
    meters: list[MeterRow]
    today_wh: int
    """Consumption of the local day so far: unit and house meters, never production. [Wh]"""
    month_wh: int
    """Consumption of the local month so far. [Wh]"""
    production_today_wh: int = 0
    """Production (solar meters) of the local day so far. [Wh]"""
    production_month_wh: int = 0
    """Production of the local month so far. [Wh]"""


def energy_between(store: Store, meter_id: int, start: datetime, end: datetime) -> int:
    """Energy of the intervals ending in ``(start, end]`` in the validated view, raw ones too. [Wh]"""
    if end <= start:
        return 0
    return store.interval_view(meter_id=meter_id, start=start, end=end).total_wh


def meter_reading(store: Store, meter: Meter, last: datetime | None) -> int | None:
    """The meter's total register: the count at its latest interval, or a later register read. [Wh]"""
    reading: int | None = None
    reading_at: datetime | None = None
    if last is not None:
        rows = store.raw_intervals(meter_id=meter.id, start=last - timedelta(seconds=1), end=last)
        if rows and rows[-1].cumulative_wh is not None:
            reading, reading_at = rows[-1].cumulative_wh, last
    reads = store.register_reads(
        meter_id=meter.id, start=datetime(1970, 1, 1, tzinfo=UTC), end=datetime(9999, 1, 1, tzinfo=UTC)
    )
    if reads and (reading_at is None or reads[-1].read_at > reading_at):
        reading = reads[-1].energy_wh
    return reading


def site_overview(store: Store, *, now: datetime, alerts: Sequence[Alert]) -> list[SiteOverview]:
    """
    Every site with its meters: latest reading, today's and this month's energy, alerts in force.

    Parameters
    ----------
    store : Store
        The store.
    now : datetime
        The present, aware.
    alerts : sequence of Alert
        The alerts in force (:func:`~meshmeter.headend.alerts.active_alerts`).

    Returns
    -------
    list of SiteOverview
        By site id; meters of no site last, when there are any.
    """
    heard = {c.meter_id: c for c in communication_status(store, now=now)}
    per_meter: dict[int, int] = {}
    for alert in alerts:
        if alert.meter_id is not None:
            per_meter[alert.meter_id] = per_meter.get(alert.meter_id, 0) + 1
    groups: list[tuple[Site | None, list[Meter]]] = [(s, store.meters(site_id=s.id)) for s in store.sites()]
    orphans = [m for m in store.meters() if m.site_id is None]
    if orphans:
        groups.append((None, orphans))
    out = []
    for site, meters in groups:
        zone = site_zone(site)
        instant = as_of((heard[m.id].last_interval_end for m in meters if m.id in heard), now)
        day_start, month_start = local_day_bounds(instant, zone)
        rows = []
        for m in meters:
            status = heard.get(m.id)
            last = None if status is None else status.last_interval_end
            rows.append(
                MeterRow(
                    meter=m,
                    last_interval_end=last,
                    reading_wh=meter_reading(store, m, last),
                    today_wh=energy_between(store, m.id, day_start, instant),
                    month_wh=energy_between(store, m.id, month_start, instant),
                    silent=True if status is None else status.silent,
                    alerts=per_meter.get(m.id, 0),
                )
            )
        out.append(
            SiteOverview(
                site=site,
                zone=zone,
                as_of=instant,
                day_start=day_start,
                month_start=month_start,
                meters=rows,
                today_wh=sum(r.today_wh for r in rows if r.meter.role in CONSUMPTION_ROLES),
                month_wh=sum(r.month_wh for r in rows if r.meter.role in CONSUMPTION_ROLES),
                production_today_wh=sum(r.today_wh for r in rows if r.meter.role == "production"),
                production_month_wh=sum(r.month_wh for r in rows if r.meter.role == "production"),
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------
# network
# ---------------------------------------------------------------------------------------------------


_DERIVED = frozenset({"delivery_ratio", "on_time_ratio", "speedup", "events_per_s"})


def cit_from_dict(data: dict[str, Any]) -> CitReport:
    """
    A CIT report back from the JSON form the store keeps (:meth:`~meshmeter.amr.cit.CitReport.to_dict`).

    Raises
    ------
    ValueError
        When ``data`` lacks a member of the report or a device row.
    """
    try:
        members = {k: v for k, v in data.items() if k not in _DERIVED}
        members["devices"] = tuple(DeviceRow(**row) for row in data["devices"])
        members["hop_histogram"] = {int(k): int(v) for k, v in data["hop_histogram"].items()}
        members["unjoined"] = tuple(data["unjoined"])
        return CitReport(**members)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"data is not a CIT report: {exc}") from None


def link_quality(etx: float | None) -> str | None:
    """
    The quality class of a link from its ETX (expected transmissions per delivered frame).

    Parameters
    ----------
    etx : float or None
        ETX of the link to the parent, >= 1. [1]

    Returns
    -------
    str or None
        ``"good"`` up to 1.5, ``"fair"`` up to 3, ``"poor"`` above; None without a link.
    """
    if etx is None:
        return None
    value = float(etx)
    if math.isnan(value) or value < 1.0:
        raise ValueError(f"etx must be >= 1, got {etx!r}")
    if value <= 1.5:
        return "good"
    return "fair" if value <= 3.0 else "poor"


_LED_OF_STATE = {
    "off": "off",
    "searching": "slow flash",
    "joining": "rapid flash",
    "connected": "off",
    "light_sleep": "off",
    "light sleep": "off",
}


def join_state(row: DeviceRow) -> str:
    """The join state of a CIT row, as a word: off, searching, joining, connected, light sleep."""
    return row.state.rsplit(".", 1)[-1].replace("_", " ")


def led_pattern(state: str) -> str:
    """
    What a device's LED shows in a join state (manual §5.2, "Power-up LED Indications").

    Slow flash while searching for beacons, rapid flash while joining, solid for 10 s on joining and
    then off (a connected device's LED is dark); off when OFF or in light sleep.
    """
    key = state.rsplit(".", 1)[-1].lower()
    if key not in _LED_OF_STATE:
        raise ValueError(f"state must be one of {sorted(_LED_OF_STATE)}, got {state!r}")
    return _LED_OF_STATE[key]


@dataclass(frozen=True)
class GraphNode:
    """A device drawn on the network graph. ``x``, ``y`` are drawing coordinates, not metres."""

    row: DeviceRow
    x: float
    y: float
    meter: str | None
    """Serial number of the meter whose MDT it is."""
    state: str
    led: str


@dataclass(frozen=True)
class GraphEdge:
    """A link from a device to its parent."""

    child: str
    parent: str
    quality: str
    colour: str
    etx: float
    rssi_dbm: float | None
    lqi: int | None


@dataclass(frozen=True)
class NetworkGraph:
    """The mesh: at the devices' installed positions, or as a tree (the DCAP on top, one row per hop)."""

    nodes: list[GraphNode]
    edges: list[GraphEdge]
    report: CitReport
    positioned: bool = False
    """True when ``x``, ``y`` are the devices' positions [m]; False for the tree's drawing coordinates."""

    def to_plot(self) -> dict[str, Any]:
        """What the page's script draws (JSON-ready)."""
        return {
            "nodes": [
                {
                    "eui64": n.row.eui64,
                    "kind": n.row.kind,
                    "x": n.x,
                    "y": n.y,
                    "label": n.meter or n.row.eui64[-4:],
                    "text": f"{n.row.kind} {n.row.eui64}"
                    + (f" (meter {n.meter})" if n.meter else "")
                    + f"<br>{n.state}; LED {n.led}"
                    + ("" if n.row.hops is None else f"; {n.row.hops} hop(s)"),
                }
                for n in self.nodes
            ],
            "edges": [
                {
                    "child": e.child,
                    "parent": e.parent,
                    "quality": e.quality,
                    "colour": e.colour,
                    "etx": e.etx,
                }
                for e in self.edges
            ],
            "colours": LINK_QUALITY_COLOURS,
            "positioned": self.positioned,
        }


def device_positions(events: Iterable[Event]) -> dict[str, tuple[float, float]]:
    """
    Where each device was installed, from the store's ``install`` events (``meshmeter demo``, site files).

    Parameters
    ----------
    events : iterable of Event
        Events of kind ``install``; an MDT's position is ``detail["mdt"]["position_m"]``, a DCAP's or a
        repeater's ``detail["position_m"]``. [m]

    Returns
    -------
    dict of str to (float, float)
        EUI-64 (16 hex digits) → position, the latest event of a device winning. [m]
    """
    out: dict[str, tuple[float, float]] = {}
    for event in events:
        if event.eui64 is None or event.kind != "install":
            continue
        detail = event.detail
        mdt = detail.get("mdt")
        where = mdt.get("position_m") if isinstance(mdt, dict) else detail.get("position_m")
        if isinstance(where, list | tuple) and len(where) == 2:
            try:
                x, y = float(where[0]), float(where[1])
            except (TypeError, ValueError):
                continue
            if math.isfinite(x) and math.isfinite(y):
                out[event.eui64.hex()] = (x, y)
    return out


def network_graph(
    report: CitReport,
    meters_of_devices: dict[str, str],
    positions: dict[str, tuple[float, float]] | None = None,
) -> NetworkGraph:
    """
    Lay the mesh out as a tree and class its links by quality.

    Parameters
    ----------
    report : CitReport
        The CIT report (manual §5.2).
    meters_of_devices : dict of str to str
        EUI-64 (16 hex digits) of an MDT → serial number of its meter.
    positions : dict of str to (float, float), optional
        Installed position of each device (:func:`device_positions`). [m]

    Returns
    -------
    NetworkGraph

    Notes
    -----
    With a position for every device, the graph is drawn at the positions. Otherwise (the CIT report
    itself has positions only for the MDTs that could not join) it is drawn as a tree: depth is the
    hop count, each level ordered by its parents' places so that links rarely cross, every other label
    a little lower so that neighbours' labels do not overlap. Devices that have not joined are drawn in
    a row of their own, below the deepest level, without a link.
    """
    rows = {r.eui64: r for r in report.devices}
    children: dict[str | None, list[DeviceRow]] = {}
    for r in report.devices:
        parent = r.parent if r.parent in rows else None
        if r.kind == "dcap":
            parent = "__root__"
        children.setdefault(parent, []).append(r)
    placed: dict[str, tuple[float, float]] = {}
    levels: list[list[DeviceRow]] = [sorted(children.get("__root__", []), key=lambda r: r.index)]
    depth = 0
    while levels[-1]:
        nxt = []
        for r in levels[-1]:
            nxt.extend(sorted(children.get(r.eui64, []), key=lambda c: (c.kind != "repeater", c.index)))
        for i, r in enumerate(levels[-1]):
            placed[r.eui64] = (i - (len(levels[-1]) - 1) / 2.0, -float(depth) - 0.2 * (i % 2))
        levels.append([r for r in nxt if r.eui64 not in placed])
        depth += 1
        if depth > len(report.devices):  # a loop in the parents: stop
            break
    loose = [r for r in report.devices if r.eui64 not in placed]
    for i, r in enumerate(loose):
        placed[r.eui64] = (i - (len(loose) - 1) / 2.0, -float(depth))
    positioned = positions is not None and all(r.eui64 in positions for r in report.devices)
    if positioned and positions is not None:
        placed = {r.eui64: positions[r.eui64] for r in report.devices}
    nodes = []
    edges = []
    for r in report.devices:
        x, y = placed[r.eui64]
        state = join_state(r)
        nodes.append(GraphNode(r, x, y, meters_of_devices.get(r.eui64), state, led_pattern(r.state)))
        if r.parent is not None and r.parent in rows and r.etx is not None:
            quality = link_quality(r.etx)
            assert quality is not None
            edges.append(
                GraphEdge(r.eui64, r.parent, quality, LINK_QUALITY_COLOURS[quality], r.etx, r.rssi_dbm, r.lqi)
            )
    return NetworkGraph(nodes, edges, report, positioned)


# ---------------------------------------------------------------------------------------------------
# meter: LCD
# ---------------------------------------------------------------------------------------------------


def meter_lcd(
    store: Store, meter: Meter, *, last: datetime | None, reading_wh: int | None, reverse_phase: bool
) -> list[LcdScreen]:
    """
    What the meter's LCD shows, rebuilt from what the head-end holds (manual §3.2 Table 3).

    Parameters
    ----------
    store : Store
        The store.
    meter : Meter
        The meter.
    last : datetime or None
        End of its latest interval.
    reading_wh : int or None
        Its total register. [Wh]
    reverse_phase : bool
        A reverse-phase alert is in force for it.

    Returns
    -------
    list of LcdScreen
        The rotation of :func:`~meshmeter.meter.display.lcd_screens`: total, demand (the 15-minute
        block demand of the latest interval, ``energy / 0.25 h``), power (the latest interval's average
        power: the head-end has no instantaneous reading) and, with ``reverse_phase``, ``REV PHASE``.
        Empty when the meter has never been heard.
    """
    if last is None or reading_wh is None:
        return []
    rows = store.raw_intervals(meter_id=meter.id, start=last - timedelta(seconds=INTERVAL_S), end=last)
    demand_kw = None if not rows else rows[-1].energy_wh / 1000.0 / (INTERVAL_S / 3600.0)
    return lcd_screens(
        serial=meter.serial,
        total_energy_wh=reading_wh,
        demand_kw=demand_kw,
        power_kw=0.0 if demand_kw is None else demand_kw,
        reverse_phase=reverse_phase,
    )


def meter_events(store: Store, meter: Meter, limit: int = 200) -> list[Event]:
    """The meter's latest events, newest first, at most ``limit``."""
    return store.events(meter_id=meter.id)[::-1][:limit]


# ---------------------------------------------------------------------------------------------------
# sources of real readings
# ---------------------------------------------------------------------------------------------------

SOURCE_STATES: dict[str, tuple[str, str]] = {
    "ok": ("reporting", "ok"),
    "silent": ("silent", "bad"),
    "never": ("never heard", "warn"),
    "disabled": ("disabled", "off"),
}
"""A source's state (:func:`meshmeter.services.sources.source_health`) as the page shows it: its word and
the class of its badge (green, red, amber, grey)."""


@dataclass(frozen=True)
class SourceRow:
    """A source of real readings as its page shows it (``docs/dashboard.md``, "Sources")."""

    health: SourceHealth
    word: str
    """Its state in a word: reporting, silent, never heard, disabled."""
    badge: str
    """The class of its badge: ok, bad, warn, off."""
    feeds: list[tuple[str, str, str]]
    """Each channel: ``device/channel``, the serial of the meter it feeds, its units (``10 Wh/pulse``)."""
    refused: list[tuple[str, int]]
    """Refusals by reason, most first. [1]"""
    refused_total: int
    """Refusals in all. [1]"""
    silence: str
    """How long since its last reading, in words (``4 min``); an en dash when never."""


def _duration(seconds: float | None) -> str:
    """A span in the largest whole unit that fits: ``42 s``, ``7 min``, ``3 h``, ``2 d``."""
    if seconds is None:
        return "–"
    s = max(0.0, seconds)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if s >= size:
            return f"{int(s // size)} {unit}"
    return f"{int(s)} s"


def _per_unit(unit: str, wh_per_unit: Decimal) -> str:
    """A channel's units as the page names them: ``kWh``, ``10 Wh/pulse``."""
    if unit in ("Wh", "kWh", "MWh"):
        return unit
    d = wh_per_unit.normalize()
    return f"{d:f} Wh/{unit}" if -12 < d.adjusted() < 18 else f"{d} Wh/{unit}"


def source_rows(health: Sequence[SourceHealth]) -> list[SourceRow]:
    """The rows of a site's sources page, from their health (same order)."""
    out = []
    for h in health:
        word, badge = SOURCE_STATES.get(h.state, (h.state, "warn"))
        feeds = [
            (f"{c.device}/{c.channel}", h.meters.get(c.meter_id, "?"), _per_unit(c.unit, c.wh_per_unit))
            for c in h.channels
        ]
        refused = sorted(h.source.rejected.items(), key=lambda kv: (-kv[1], kv[0]))
        out.append(
            SourceRow(h, word, badge, feeds, refused, sum(n for _, n in refused), _duration(h.silence_s))
        )
    return out
