"""Meters, their intervals, their register reads and their life: install, removal, exchange, multiplier and
CT ratio changes, history (``docs/api.md``, "A meter's life").

A change is :mod:`meshmeter.services.meterlife` over the store as the caller sees it; a refusal names every
problem found (404 when a serial names no meter the caller sees, else 409) and stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from meshmeter.api.cache import CachedAnswer, cached_answer
from meshmeter.api.deps import Name, PrincipalDep, StoreDep, StoreId, TimeText, ZoneName, known_site
from meshmeter.api.intervals import (
    Resolution,
    aggregate_columns,
    boundaries,
    columns_to_csv,
    columns_to_json,
    parse_instant,
    parse_timezone,
)
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.models import (
    IntervalsPublic,
    MeterChangePublic,
    MeterCreate,
    MeterExchange,
    MeterHistoryPublic,
    MeterInstall,
    MeterPublic,
    MeterRemove,
    MetersPublic,
    MeterValueChange,
    RegisterReadPublic,
    RegisterReadsPublic,
)
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.api.scope import view_key
from meshmeter.catalog.limits import max_interval_energy_wh, rating_problems, rating_source
from meshmeter.errors import MeshmeterError
from meshmeter.headend.greenbutton import export_greenbutton
from meshmeter.intervals import INTERVAL_S
from meshmeter.services import meterlife
from meshmeter.store import Meter, MeterChange, Store

router = APIRouter(prefix="/meters", tags=["meters"], route_class=GuardedRoute)


class Format(StrEnum):
    """The forms of the intervals' answer."""

    JSON = "json"
    CSV = "csv"


def _public(m: Meter) -> MeterPublic:
    return MeterPublic(
        id=m.id,
        serial=m.serial,
        designation=m.designation,
        ct_ratio=m.ct_ratio,
        multiplier=m.multiplier,
        install_date=m.install_date,
        site_id=m.site_id,
        export_of_meter_id=m.export_of_meter_id,
        interval_s=m.interval_s,
        role=m.role,
        register_digits=m.register_digits,
        manufacturer=m.manufacturer,
        model=m.model,
        elements=m.elements,
        voltage_max_v=m.voltage_max_v,
        current_max_a=m.current_max_a,
        max_interval_energy_wh=max_interval_energy_wh(m),
        rating_source=rating_source(m),
    )


def _meter(store: Store, serial: str) -> Meter:
    meter = store.get_meter(serial=serial)
    if meter is None:
        raise Problem(404, f"no meter has serial {serial!r}")
    return meter


@router.get("", response_model=MetersPublic, summary="List meters", responses=problems(404))
def list_meters(
    store: StoreDep,
    site_id: Annotated[StoreId | None, Query(description="only the meters of this site")] = None,
) -> MetersPublic:
    """Every meter, or those of one site (404 when the site does not exist), by id."""
    if site_id is not None:
        known_site(store, site_id)
    data = [_public(m) for m in store.meters(site_id=site_id)]
    return MetersPublic(data=data, count=len(data))


@router.post(
    "",
    response_model=MeterPublic,
    status_code=201,
    summary="Register a meter",
    responses=problems(400, 404, 409),
)
def create_meter(body: MeterCreate, store: StoreDep) -> MeterPublic:
    """Register a meter, as ``meshmeter meter add`` does; 201 with it. A Mini Meter by its designation
    (its CT ratio from it); a meter of another make by ``manufacturer`` and ``model``, its designation free
    text, with its ratings (``elements``, ``voltage_max_v``, ``current_max_a``, all three) that bound what
    it can register in an interval (``docs/store.md``, "Meters of any make"). With ``export_of``, the
    export (received) register of that bidirectional meter, billed as its exports (``docs/billing.md``,
    "Exports from the store"). 400 for a designation that is not a Mini Meter's without a manufacturer,
    404 for an unknown site or ``export_of`` meter; 409 naming every problem (bad or partial ratings,
    ratings or a model without a manufacturer, a serial taken, a meter of another site or interval
    length, one that has an export register already or is one, a role other than production); nothing
    is stored then."""
    from meshmeter.catalog import DEFAULT_DESIGNATION, decode_meter
    from meshmeter.errors import DesignationError

    target = None
    if body.export_of is not None:
        target = store.get_meter(serial=body.export_of)
        if target is None:
            raise Problem(404, f"export_of: no meter has serial {body.export_of!r}")
    if body.site_id is not None:
        known_site(store, body.site_id)
    if body.manufacturer is None:
        spec = decode_meter(body.designation or DEFAULT_DESIGNATION)  # 400 when it is not a Mini Meter's
        designation, ct_ratio = spec.designation, spec.ct_ratio
    else:
        designation = body.designation or body.model or ""
        if not designation:  # named with every other problem of the make and ratings
            given = body.model_dump(include={"manufacturer", "elements", "voltage_max_v", "current_max_a"})
            problems = [
                "model is missing: a meter of another make is named by its model",
                *rating_problems(**given),
            ]
            raise Problem(409, "; ".join(problems))
        try:
            ct_ratio = decode_meter(designation).ct_ratio
        except DesignationError:
            ct_ratio = decode_meter(DEFAULT_DESIGNATION).ct_ratio
    try:
        made = store.create_meter(
            serial=body.serial,
            designation=designation,
            ct_ratio=ct_ratio if body.ct_ratio is None else body.ct_ratio,
            multiplier=body.multiplier,
            site_id=body.site_id,
            interval_s=body.interval_s,
            role=body.role,
            register_digits=body.register_digits,
            export_of_meter_id=None if target is None else target.id,
            manufacturer=body.manufacturer,
            model=body.model,
            elements=body.elements,
            voltage_max_v=body.voltage_max_v,
            current_max_a=body.current_max_a,
        )
    except MeshmeterError:
        raise
    except ValueError as exc:
        raise Problem(409, str(exc)) from None
    return _public(made)


@router.get("/{serial}", response_model=MeterPublic, summary="Get a meter", responses=problems(404))
def get_meter(serial: Name, store: StoreDep) -> MeterPublic:
    """One meter by its serial number; 404 when there is none."""
    return _public(_meter(store, serial))


_CSV_EXAMPLE = (
    "interval_start,interval_end,energy_wh,quality,count,expected\n"
    "2024-03-10T00:00:00-08:00,2024-03-11T00:00:00-07:00,11040,14,92,92\n"
)


@router.get(
    "/{serial}/intervals",
    response_model=IntervalsPublic,
    summary="Get a meter's intervals",
    responses={
        **problems(400, 404),
        200: {"content": {"text/csv": {"example": _CSV_EXAMPLE}}, "description": "JSON, or CSV"},
        304: {"description": "Not modified: If-None-Match names the ETag of the current answer"},
    },
)
def get_intervals(
    serial: Name,
    request: Request,
    store: StoreDep,
    start: Annotated[
        TimeText,
        Query(description="ISO 8601 date or date-time; without an offset it is local time in tz"),
    ],
    end: Annotated[TimeText, Query(description="ISO 8601 date or date-time, after start")],
    resolution: Annotated[Resolution, Query(description="bucket size")] = Resolution.QUARTER_HOUR,
    tz: Annotated[
        ZoneName | None,
        Query(description="IANA time zone of the buckets and stamps, e.g. America/Los_Angeles; default UTC"),
    ] = None,
    format: Annotated[Format, Query(description="json (default) or csv")] = Format.JSON,
) -> Response:
    """Energy of a meter over ``(start, end]`` in buckets of 15 minutes, hours, days or months.

    Buckets follow the wall clock of ``tz``: days end at local midnight (a spring-forward day spans
    92 quarter-hours, a fall-back day 100: see ``expected``), months at local midnight on the 1st.
    ``start`` and ``end`` must lie on bucket boundaries. The intervals are the validated view: VEE's
    edit or estimate where it made one, else the latest raw value, valid (0) where VEE passed it and raw
    (14) where VEE has not run yet; a bucket carries the least trusted quality of its intervals and
    ``count`` of the ``expected`` intervals at the meter's own length (an hourly meter has 24 a day and
    cannot be asked for 15-minute buckets). Empty buckets have
    ``energy_wh`` null. At most 372 days at 15 minutes or hourly, 1116 days daily or monthly.

    The answer carries an ``ETag`` that changes whenever the meter's intervals are written; sent back in
    ``If-None-Match``, it gives 304 and no body while they have not. Answers are kept for the next
    reader of the same request until the meter's intervals change (``MESHMETER_READ_CACHE_MB``).
    """
    try:
        zone = parse_timezone(tz)
        lo = parse_instant("start", start, zone)
        hi = parse_instant("end", end, zone)
        bounds = boundaries(lo, hi, resolution, zone)
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    meter = _meter(store, serial)
    if resolution is Resolution.QUARTER_HOUR and meter.interval_s > INTERVAL_S:
        raise Problem(
            400,
            f"meter {meter.serial} has {meter.interval_s // 60}-minute intervals: ask for resolution hourly, "
            "daily or monthly (nothing finer than a meter's own intervals is invented)",
        )
    # The meter (with its data version) is read before the view: the answer filed under the version is
    # never older than it.
    shown_tz = tz if tz is not None else "UTC"

    def make() -> CachedAnswer:
        # Columns (numpy arrays), not an object per interval: a year of quarter-hours is 35,136 of them.
        view = store.interval_view(meter_id=meter.id, start=lo, end=hi)
        buckets = aggregate_columns(
            view.interval_end_s, view.energy_wh, view.quality, bounds, interval_s=view.interval_s
        )
        if format is Format.CSV:
            filename = f"{meter.serial}_{resolution.value}_{lo:%Y%m%dT%H%MZ}_{hi:%Y%m%dT%H%MZ}.csv"
            return CachedAnswer(
                columns_to_csv(buckets, zone).encode(),
                "text/csv; charset=utf-8",
                (("Content-Disposition", f'attachment; filename="{filename}"'),),
            )
        head = {
            "meter": meter.serial,
            "resolution": resolution.value,
            "tz": shown_tz,
            "start": lo.astimezone(zone).isoformat(),
            "end": hi.astimezone(zone).isoformat(),
        }
        return CachedAnswer(columns_to_json(buckets, zone, head).encode(), "application/json")

    key = (
        "intervals",
        meter.id,
        meter.serial,
        meter.data_version,
        view_key(store, meter.id),
        lo,
        hi,
        resolution.value,
        shown_tz,
        format.value,
    )
    return cached_answer(request, key, make)


GREENBUTTON_MAX_DAYS = 372
"""Longest range of one Green Button download: a year and a week. [day]"""

GREENBUTTON_XML = "application/atom+xml"


@router.get(
    "/{serial}/greenbutton",
    summary="Download a meter's Green Button file",
    responses={
        **problems(400, 404),
        200: {
            "content": {GREENBUTTON_XML: {"schema": {"type": "string"}}},
            "description": "Green Button (ESPI Atom feed) of the meter's intervals, as an attachment",
        },
    },
)
def get_greenbutton(
    serial: Name,
    store: StoreDep,
    start: Annotated[
        TimeText | None,
        Query(
            description="ISO 8601 date or date-time, local to the meter's site without an offset; "
            "default a year before end"
        ),
    ] = None,
    end: Annotated[
        TimeText | None, Query(description="ISO 8601 date or date-time, after start; default now")
    ] = None,
    tz: Annotated[
        ZoneName | None, Query(description="IANA time zone of the usage point; default the meter's site's")
    ] = None,
) -> Response:
    """Green Button "Download My Data": the meter's intervals over ``(start, end]`` (at most 372 days)
    as an ESPI Atom feed (``docs/greenbutton.md``), the validated view with quality codes, one
    IntervalBlock per local day. A tenant downloads the meters it occupies, cut to its occupancies: the
    intervals outside them are not in the file. 404 for an unknown meter (or one outside the caller's
    scope), 400 for a bad range or time zone."""
    meter = _meter(store, serial)
    site = None if meter.site_id is None else store.get_site(site_id=meter.site_id)
    try:
        zone = parse_timezone(tz if tz is not None else None if site is None else site.timezone)
        hi = datetime.now(UTC).replace(microsecond=0) if end is None else parse_instant("end", end, zone)
        lo = hi - timedelta(days=366) if start is None else parse_instant("start", start, zone)
        if hi <= lo:
            raise ValueError(f"end must be after start, got start={lo.isoformat()} end={hi.isoformat()}")
        if hi - lo > timedelta(days=GREENBUTTON_MAX_DAYS):
            raise ValueError(f"the range may span at most {GREENBUTTON_MAX_DAYS} days")
        data = export_greenbutton(store, meter_serial=meter.serial, start=lo, end=hi, timezone=tz)
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in meter.serial)
    filename = f"greenbutton-{safe}-{lo:%Y%m%d}-{hi:%Y%m%d}.xml"
    return Response(
        data,
        media_type=GREENBUTTON_XML,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


_DAWN = datetime(1970, 1, 1, tzinfo=UTC)
_DOOM = datetime(9999, 12, 31, tzinfo=UTC)


@router.get(
    "/{serial}/register-reads",
    response_model=RegisterReadsPublic,
    summary="Get a meter's register reads",
    responses=problems(400, 404),
)
def get_register_reads(
    serial: Name,
    store: StoreDep,
    start: Annotated[
        TimeText | None, Query(description="only after this instant (ISO 8601; UTC if no offset)")
    ] = None,
    end: Annotated[TimeText | None, Query(description="only at or before this instant (ISO 8601)")] = None,
) -> RegisterReadsPublic:
    """Readings of the meter's total register with ``start < read_at <= end``, oldest first."""
    try:
        lo = _DAWN if start is None else parse_instant("start", start)
        hi = _DOOM if end is None else parse_instant("end", end)
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    if hi < lo:
        raise Problem(400, f"end must not be before start, got start={start} end={end}")
    meter = _meter(store, serial)
    data = [
        RegisterReadPublic(read_at=r.read_at, energy_wh=r.energy_wh)
        for r in store.register_reads(meter_id=meter.id, start=lo, end=hi)
    ]
    return RegisterReadsPublic(meter=meter.serial, data=data, count=len(data))


# -- a meter's life -------------------------------------------------------------------------------------

_LIFE_WRITE = problems(400, 404, 409)


def _changes(store: Store, serial: str, changes: list[MeterChange]) -> MeterHistoryPublic:
    ids = {c.meter_id for c in changes} | {c.replaces_meter_id for c in changes if c.replaces_meter_id}
    serials = {}
    for meter_id in sorted(ids):
        found = store.get_meter(meter_id=meter_id)
        serials[meter_id] = str(meter_id) if found is None else found.serial
    data = [
        MeterChangePublic(
            id=c.id,
            meter=serials[c.meter_id],
            kind=c.kind,
            at=c.at,
            read_wh=c.read_wh,
            value=c.value,
            replaces=None if c.replaces_meter_id is None else serials[c.replaces_meter_id],
            unit_id=c.unit_id,
            recorded_at=c.recorded_at,
            recorded_by=c.recorded_by,
            detail=c.detail,
        )
        for c in changes
    ]
    return MeterHistoryPublic(meter=serial, data=data, count=len(data))


def _life(call: Any) -> Any:
    """Run a change; bad input (a time that is not one) as 400, the domain's refusals (a
    :class:`~meshmeter.errors.MeterLifeError`: 404 or 409 naming every problem) to the app's handler."""
    try:
        return call()
    except MeshmeterError:
        raise
    except ValueError as exc:
        raise Problem(400, str(exc)) from None


@router.get(
    "/{serial}/history",
    response_model=MeterHistoryPublic,
    summary="Get a meter's life",
    responses=problems(404),
)
def get_history(serial: Name, store: StoreDep) -> MeterHistoryPublic:
    """The meter's installs, removals, exchanges (its own, and the install that replaced it), multiplier
    and CT ratio changes, by time; 404 for an unknown meter."""
    _meter(store, serial)
    _, changes = _life(lambda: meterlife.history(store, meter=serial))
    return _changes(store, serial, changes)


@router.post(
    "/{serial}/exchange",
    response_model=MeterHistoryPublic,
    status_code=201,
    summary="Exchange a meter",
    responses=_LIFE_WRITE,
)
def exchange_meter(
    serial: Name, body: MeterExchange, store: StoreDep, principal: PrincipalDep
) -> MeterHistoryPublic:
    """Exchange the meter for ``new`` at ``at``, in one transaction: its removal with its final read, the
    new meter's install with its first read, the units it measured re-pointed to the new meter; 201 with
    the two changes. The units' accounts are billed from the old meter's intervals up to ``at`` and the
    new meter's after, on one bill. 404 for an unknown meter, 409 naming every problem (a time off the
    meters' grid, a final read below the old meter's last counter, a new meter that serves a unit ...);
    nothing is stored then."""
    pair = _life(
        lambda: meterlife.exchange(
            store,
            old=serial,
            new=body.new,
            at=body.at,
            final_read=body.final_read_wh,
            first_read=body.first_read_wh,
            by=principal.recorded_as,
        )
    )
    return _changes(store, serial, list(pair))


@router.post(
    "/{serial}/install",
    response_model=MeterHistoryPublic,
    status_code=201,
    summary="Record a meter's install",
    responses=_LIFE_WRITE,
)
def install_meter(
    serial: Name, body: MeterInstall, store: StoreDep, principal: PrincipalDep
) -> MeterHistoryPublic:
    """The meter was installed at ``at`` with its first read: its service starts then; 201 with the change."""
    change = _life(
        lambda: meterlife.install(
            store,
            meter=serial,
            at=body.at,
            first_read=body.first_read_wh,
            unit_id=body.unit_id,
            by=principal.recorded_as,
        )
    )
    return _changes(store, serial, [change])


@router.post(
    "/{serial}/remove",
    response_model=MeterHistoryPublic,
    status_code=201,
    summary="Record a meter's removal",
    responses=_LIFE_WRITE,
)
def remove_meter(
    serial: Name, body: MeterRemove, store: StoreDep, principal: PrincipalDep
) -> MeterHistoryPublic:
    """The meter was removed at ``at`` with its final read: its service ends then; 201 with the change."""
    change = _life(
        lambda: meterlife.remove(
            store, meter=serial, at=body.at, final_read=body.final_read_wh, by=principal.recorded_as
        )
    )
    return _changes(store, serial, [change])


@router.post(
    "/{serial}/multiplier",
    response_model=MeterHistoryPublic,
    status_code=201,
    summary="Change a meter's multiplier",
    responses=_LIFE_WRITE,
)
def change_multiplier(
    serial: Name, body: MeterValueChange, store: StoreDep, principal: PrincipalDep
) -> MeterHistoryPublic:
    """The meter's multiplier (register reading to energy) is ``value`` from ``at`` on: its intervals after
    ``at`` are billed at it; 201 with the change."""
    change = _life(
        lambda: meterlife.change_multiplier(
            store,
            meter=serial,
            at=body.at,
            multiplier=body.value,
            read=body.read_wh,
            by=principal.recorded_as,
        )
    )
    return _changes(store, serial, [change])


@router.post(
    "/{serial}/ct-ratio",
    response_model=MeterHistoryPublic,
    status_code=201,
    summary="Change a meter's CT ratio",
    responses=_LIFE_WRITE,
)
def change_ct_ratio(
    serial: Name, body: MeterValueChange, store: StoreDep, principal: PrincipalDep
) -> MeterHistoryPublic:
    """Other CTs were fitted: the meter's CT ratio is ``value`` from ``at`` on (2000 for 200:0.1 A); 201
    with the change. It does not scale energy by itself: change the multiplier too when the register does
    not account for the new CTs."""
    change = _life(
        lambda: meterlife.change_ct_ratio(
            store, meter=serial, at=body.at, ct_ratio=body.value, read=body.read_wh, by=principal.recorded_as
        )
    )
    return _changes(store, serial, [change])
