"""Sources of real readings of a site (``docs/collect.md``; ``docs/api.md``, "Sources of real readings"):
list them with their health, add one with its channels, change one, map one more channel; and the
dashboard's page of a site's sources.

Every write goes through :mod:`meshmeter.services.sources` (as ``meshmeter source add`` does) over the
store as the caller sees it: a refusal names every problem found and stores nothing, 409 when the stored
sources refuse it (a name the site has, a meter fed already, a register mapped already), else 400. A
token bound to sites sees and changes its sites' sources only (another is 404, as if it did not exist).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from meshmeter.api.deps import PRINTABLE, Name, PrincipalDep, StoreDep, StoreId, known_site
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.errors import MeshmeterError
from meshmeter.services.sources import SourceHealth, add_source, channel_defaults, source_health
from meshmeter.store import Source, SourceChannel, Store

__all__ = [
    "ChannelCreate",
    "ChannelPublic",
    "SourceCreate",
    "SourcePublic",
    "SourceUpdate",
    "SourcesPublic",
    "router",
]

router = APIRouter(tags=["sources"], route_class=GuardedRoute)

MAX_CHANNELS = 256
"""Most channels one request may map. [1]"""

MAX_ADDRESS_LENGTH = 1000
"""The longest address: a broker URL, ``host:port``, a serial port or a file. [character]"""

MAX_APPORTION_S = 2**31 - 1
"""The longest time between readings a channel may apportion over (the column is a 32-bit integer). [s]"""

MAX_WH_PER_UNIT = 10**9
"""The largest energy of one pulse or count a request may give (a MWh register's is 10**6). [Wh]"""

MAX_MODULUS = 10**18
"""The largest roll-over a request may give (a 12-digit kWh register counted in Wh is 10**15). [1]"""

Address = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ADDRESS_LENGTH, pattern=PRINTABLE)]


def _now_s() -> float:
    return time.time()


# -- models -------------------------------------------------------------------------------------------


class ChannelCreate(BaseModel):
    """One register of one of the source's devices, mapped to one meter."""

    model_config = ConfigDict(extra="forbid")

    device: Name = Field(description="the device's ID as the source names it: node, topic, unit ID, meter ID")
    channel: Name = Field(description="the register: total, C1, switch:0, import, export, consumption")
    meter: Name = Field(description="serial of the meter it feeds (one channel per meter), of the site")
    unit: Name = Field(description="what the device sends: pulse, count, Wh, kWh or MWh")
    wh_per_unit: Decimal | None = Field(
        None,
        gt=0,
        le=MAX_WH_PER_UNIT,
        allow_inf_nan=False,
        description="energy of one pulse or count [Wh], required for them: 10 for the Mini Meter's output "
        '"10" (manual §3.2); 1, 1000, 1000000 for Wh, kWh, MWh',
    )
    modulus: Decimal | None = Field(
        None,
        gt=0,
        le=MAX_MODULUS,
        allow_inf_nan=False,
        description="the register rolls over at this many units; default from the meter's register digits, "
        "or rtlamr's msg_type",
    )
    msg_type: Name | None = Field(None, description="rtlamr: SCM, SCM+, IDM, NetIDM or R900 (its wrap)")
    resets: bool | None = Field(
        None, description="a drop of the count is a reboot; default true for MQTT pulse counters"
    )
    max_apportion_s: int = Field(
        3600, ge=1, le=MAX_APPORTION_S, description="longest time between readings spread over intervals [s]"
    )


class SourceCreate(BaseModel):
    """A source of real readings of the site, with its channels (``meshmeter source add``, ``source map``)."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="unique in the site: tasmota-4a, sdm-house ...")
    kind: Name = Field(description="mqtt, modbus_tcp, modbus_rtu or rtlamr")
    format: Name = Field(
        description="mqtt: a pulse counter's payload (esphome_pulse_meter, tasmota_counter, shelly_gen2 ...) "
        "or rtlamr2mqtt; Modbus: a register map (sunspec-meter, eastron-sdm630mct ...); rtlamr: rtlamr"
    )
    address: Address = Field(
        description="mqtt://host:port, host:port (Modbus TCP), a serial port, a file, or - (standard input)"
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="what the kind adds: unit_id, baudrate, poll_every_s, topic, timezone, comm_loss_after_s",
    )
    enabled: bool = Field(True, description="false: the collector does not run it")
    channels: list[ChannelCreate] = Field(default_factory=list, max_length=MAX_CHANNELS)


class SourceUpdate(BaseModel):
    """What to change of a source: the members given; the others stay."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = Field(None, description="false: the collector no longer runs it")
    address: Address | None = Field(None, description="where it is reached, checked for its kind")
    settings: dict[str, Any] | None = Field(None, description="its settings, whole (they replace the old)")


class ChannelPublic(BaseModel):
    """A channel: one register of a device, feeding one meter, and where its readings stand."""

    id: int
    device: str
    channel: str
    meter_id: int
    meter: str = Field(description="serial of the meter it feeds")
    unit: str
    wh_per_unit: str = Field(description="energy of one unit [Wh], a decimal as text")
    modulus: str | None = Field(description="roll-over of the register in its units; null: never")
    resets: bool
    max_apportion_s: int = Field(description="[s]")
    position: dict[str, Any] | None = Field(
        description="where its readings stand (its last reading's time and count); null before the first"
    )


class SourcePublic(BaseModel):
    """A source with its channels and its health."""

    id: int
    site_id: int
    name: str
    kind: str
    format: str
    address: str
    settings: dict[str, Any]
    enabled: bool
    created_at: datetime
    state: str = Field(
        description="ok: a reading within its silence threshold (comm_loss_after_s, default 1800 s); "
        "silent: none for longer; never: no reading yet; disabled"
    )
    silence_s: float | None = Field(description="time since its last reading [s]; null: never read")
    last_reading_at: datetime | None
    readings: int = Field(description="readings taken")
    rejected: dict[str, int] = Field(description="messages and readings refused, by reason")
    last_error: str | None
    last_error_at: datetime | None
    channels: list[ChannelPublic]


class SourcesPublic(BaseModel):
    """The sources of a site, by id."""

    data: list[SourcePublic]
    count: int


# -- helpers ------------------------------------------------------------------------------------------


def _channel(c: SourceChannel, serials: Mapping[int, str]) -> ChannelPublic:
    return ChannelPublic(
        id=c.id,
        device=c.device,
        channel=c.channel,
        meter_id=c.meter_id,
        meter=serials.get(c.meter_id, "?"),
        unit=c.unit,
        wh_per_unit=str(c.wh_per_unit),
        modulus=None if c.modulus is None else str(c.modulus),
        resets=c.resets,
        max_apportion_s=c.max_apportion_s,
        position=c.state,
    )


def _public(h: SourceHealth) -> SourcePublic:
    s = h.source
    return SourcePublic(
        id=s.id,
        site_id=s.site_id,
        name=s.name,
        kind=s.kind,
        format=s.format,
        address=s.address,
        settings=s.settings,
        enabled=s.enabled,
        created_at=s.created_at,
        state=h.state,
        silence_s=None if h.silence_s is None else round(h.silence_s, 3),
        last_reading_at=s.last_reading_at,
        readings=s.readings,
        rejected=s.rejected,
        last_error=s.last_error,
        last_error_at=s.last_error_at,
        channels=[_channel(c, h.meters) for c in h.channels],
    )


def _source(store: Store, source_id: int) -> Source:
    found = store.get_source(source_id=source_id)
    if found is None:
        raise Problem(404, f"no source has id {source_id}")
    return found


def _health(store: Store, source: Source) -> SourcePublic:
    found = next(
        h for h in source_health(store, site_id=source.site_id, now_s=_now_s()) if h.source.id == source.id
    )
    return _public(found)


def _settings_problems(settings: Mapping[str, Any] | None) -> list[str]:
    """What the store cannot keep of settings: a NUL (PostgreSQL's JSON holds none)."""
    if settings is None:
        return []
    if "\\u0000" in json.dumps(settings):
        return ["settings must not hold a NUL character"]
    return []


def _server_files(kind: str, format: str | None, address: str) -> list[str]:
    """What would have the server read a file of its own, which a request may not name: an rtlamr file
    (its lines would come back as refusals and errors) or a register map file. The CLI, run on the server
    by someone who can read them, names them (``meshmeter source add``)."""
    from meshmeter.collect.modbus import available_maps

    out = []
    if kind == "rtlamr" and address != "-":
        out.append(
            "address: through the API an rtlamr source reads standard input (-); a file is named on the "
            "server (meshmeter source add)"
        )
    if (
        format is not None
        and kind in ("modbus_tcp", "modbus_rtu")
        and ("/" in format or "\\" in format or format.endswith(".toml"))
    ):
        out.append(
            f"format: through the API a Modbus source names a shipped register map "
            f"({', '.join(available_maps())}), got the file {format!r}; a map file is named on the server "
            "(meshmeter source add)"
        )
    return out


def _taken(store: Store, source_id: int | None, site_id: int, specs: Sequence[ChannelCreate]) -> list[str]:
    """The stored channels the new ones would clash with: a meter fed already, a register mapped already."""
    out = []
    stored = store.source_channels(site_id=site_id)
    fed = {c.meter_id: c.id for c in stored}
    mapped = {(c.source_id, c.device, c.channel) for c in stored}
    for k, spec in enumerate(specs):
        meter = store.get_meter(serial=spec.meter)
        if meter is not None and meter.id in fed:
            out.append(
                f"channels[{k}]: meter {spec.meter!r} is fed by a channel already (channel {fed[meter.id]})"
            )
        if source_id is not None and (source_id, spec.device, spec.channel) in mapped:
            out.append(f"channels[{k}]: the source maps {spec.device!r}/{spec.channel!r} already")
    return out


def _spec(spec: ChannelCreate) -> dict[str, Any]:
    """A channel's mapping as :func:`~meshmeter.services.sources.add_source` takes it (no member unset)."""
    return spec.model_dump(exclude_none=True)


# -- routes -------------------------------------------------------------------------------------------


@router.get(
    "/sites/{site_id}/sources",
    response_model=SourcesPublic,
    summary="List a site's sources of real readings",
    responses=problems(404),
)
def list_sources(site_id: StoreId, store: StoreDep) -> SourcesPublic:
    """The site's sources (MQTT pulse counters, Modbus meters, rtlamr), by id: each with what each of its
    channels feeds (the meter's serial), its state (ok, silent, never, disabled), its last reading,
    readings taken, refusals by reason and last error. 404 for an unknown site."""
    known_site(store, site_id)
    data = [_public(h) for h in source_health(store, site_id=site_id, now_s=_now_s())]
    return SourcesPublic(data=data, count=len(data))


@router.post(
    "/sites/{site_id}/sources",
    response_model=SourcePublic,
    status_code=201,
    summary="Add a source of real readings to a site",
    responses=problems(400, 404, 409),
)
def create_source(site_id: StoreId, body: SourceCreate, store: StoreDep) -> SourcePublic:
    """Add a source with its channels, as ``meshmeter source add`` and ``source map`` do; 201 with it.
    The kind, format, address and settings are checked together (a pulse format on a broker URL, a
    register map on ``host:port`` with a unit ID ...), and each channel's meter (a serial of the site),
    unit and limits. A request names no file of the server: an rtlamr source reads standard input (``-``),
    a Modbus source names a shipped register map (``meshmeter source add`` names files). 400 naming every
    problem; 409 when the stored sources refuse it (a name the site has, a meter fed by a channel
    already), naming every problem too; 404 for an unknown site. Nothing is stored then."""
    known_site(store, site_id)
    conflicts = _taken(store, None, site_id, body.channels)
    if store.get_source(site_id=site_id, name=body.name) is not None:
        conflicts.insert(0, f"site {site_id} has a source named {body.name!r} already")
    bad = _settings_problems(body.settings) + _server_files(body.kind, body.format, body.address)
    if bad:
        raise Problem(400, "; ".join(bad))
    try:
        made = add_source(
            store,
            site_id=site_id,
            name=body.name,
            kind=body.kind,
            format=body.format,
            address=body.address,
            settings=body.settings,
            channels=[_spec(c) for c in body.channels],
            enabled=body.enabled,
        )
    except MeshmeterError:
        raise
    except ValueError as exc:
        detail = str(exc)
        if conflicts:  # named by the store too when nothing else was wrong
            raise Problem(409, "; ".join([*(c for c in conflicts if c not in detail), detail])) from None
        raise Problem(400, detail) from None
    return _health(store, made)


@router.get(
    "/sources/{source_id}",
    response_model=SourcePublic,
    summary="Get a source of real readings",
    responses=problems(404),
)
def get_source(source_id: StoreId, store: StoreDep) -> SourcePublic:
    """A source with its channels and its health; 404 for an unknown one."""
    return _health(store, _source(store, source_id))


@router.patch(
    "/sources/{source_id}",
    response_model=SourcePublic,
    summary="Change a source of real readings",
    responses=problems(400, 404),
)
def update_source(source_id: StoreId, body: SourceUpdate, store: StoreDep) -> SourcePublic:
    """Enable or disable a source, or change its address or settings (whole): the members given. The
    address and settings are checked for the source's kind and format, every problem named (400);
    nothing changes then. A running collector takes the change when it is started again."""
    from meshmeter.collect.runner import source_problems

    found = _source(store, source_id)
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    bad = [
        f"{name} must not be null"
        for name in ("enabled", "address", "settings")
        if name in changes and changes[name] is None
    ]
    bad += _settings_problems(changes.get("settings"))
    if bad:
        raise Problem(400, "; ".join(bad))
    address = changes.get("address", found.address)
    settings = changes.get("settings", found.settings)
    bad = source_problems(found.kind, found.format, address, dict(settings))
    if "address" in changes:
        bad += _server_files(found.kind, None, address)
    if bad:
        raise Problem(400, "; ".join(bad))
    try:
        changed = store.update_source(source_id=source_id, **changes)
    except MeshmeterError:
        raise
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    return _health(store, changed)


@router.post(
    "/sources/{source_id}/channels",
    response_model=ChannelPublic,
    status_code=201,
    summary="Map one more channel of a source",
    responses=problems(400, 404, 409),
)
def create_channel(source_id: StoreId, body: ChannelCreate, store: StoreDep) -> ChannelPublic:
    """Map one register of one of the source's devices to a meter of its site, as ``meshmeter source
    map`` does; 201 with the channel. 400 naming every problem (an unknown meter, a bad unit, a
    ``wh_per_unit`` missing or wrong for the unit, ``max_apportion_s`` shorter than the meter's
    interval); 409 when the meter is fed by a channel already or the register is mapped already; 404
    for an unknown source."""
    from meshmeter.collect import rtlamr

    found = _source(store, source_id)
    meter = store.get_meter(serial=body.meter)
    bad = []
    if meter is None:
        bad.append(f"meter {body.meter!r} is not a known meter's serial")
    if body.msg_type is not None and body.msg_type not in rtlamr.MSG_TYPES:
        bad.append(f"msg_type must be one of {', '.join(rtlamr.MSG_TYPES)}, got {body.msg_type!r}")
    if meter is None or bad:
        raise Problem(400, "; ".join(bad))
    conflicts = [c.removeprefix("channels[0]: ") for c in _taken(store, found.id, found.site_id, [body])]
    spec = channel_defaults(found.kind, found.format, _spec(body), meter.register_digits)
    spec.pop("device"), spec.pop("channel")
    try:
        made = store.add_source_channel(
            source_id=found.id, device=body.device, channel=body.channel, meter_id=meter.id, **spec
        )
    except MeshmeterError:
        raise
    except ValueError as exc:
        raise Problem(409 if conflicts else 400, str(exc)) from None
    return _channel(made, {meter.id: meter.serial})


# -- the dashboard's page -----------------------------------------------------------------------------


@router.get(
    "/dashboard/sources",
    tags=["dashboard"],
    response_class=HTMLResponse,
    summary="Dashboard: sources of real readings",
    responses={200: {"content": {"text/html": {}}, "description": "The page (HTML)"}, **problems(404)},
)
def sources_page(
    request: Request,
    store: StoreDep,
    principal: PrincipalDep,
    site_id: Annotated[StoreId | None, Query(description="the site; default the first")] = None,
) -> HTMLResponse:
    """
    The sources page (HTML): each source of the site with its kind, format and address, what each of its
    channels feeds, its state in a word and a colour, its last reading, readings taken, refusals by reason
    and last error.
    """
    from meshmeter.api.dashboard import render
    from meshmeter.api.dashboard.views import site_zone, source_rows
    from meshmeter.api.routes.dashboard_meters import source_forms_context

    if site_id is None:
        sites = store.sites()
        site = sites[0] if sites else None
    else:
        site = known_site(store, site_id)
    rows = [] if site is None else source_rows(source_health(store, site_id=site.id, now_s=_now_s()))
    return render(
        request,
        "sources.html",
        role=principal.role,
        site=site,
        sites=store.sites(),
        zone=site_zone(site),
        rows=rows,
        **source_forms_context(request, store, principal, site),
    )
