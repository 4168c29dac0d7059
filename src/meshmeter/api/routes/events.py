"""Events: tamper, reverse phase, communication loss, low battery ..."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from meshmeter.api.deps import Name, StoreDep, TimeText
from meshmeter.api.intervals import parse_instant
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.models import EventPublic, EventsPublic
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems

router = APIRouter(prefix="/events", tags=["events"], route_class=GuardedRoute)


@router.get("", response_model=EventsPublic, summary="List events", responses=problems(400, 404))
def list_events(
    store: StoreDep,
    meter: Annotated[Name | None, Query(description="only this meter's (serial number)")] = None,
    kind: Annotated[Name | None, Query(description="only this kind: tamper, reverse_phase ...")] = None,
    start: Annotated[
        TimeText | None, Query(description="only after this instant (ISO 8601; UTC if no offset)")
    ] = None,
    end: Annotated[TimeText | None, Query(description="only at or before this instant (ISO 8601)")] = None,
) -> EventsPublic:
    """Events, oldest first, filtered by meter, kind and ``start < at <= end``."""
    try:
        lo = None if start is None else parse_instant("start", start)
        hi = None if end is None else parse_instant("end", end)
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    if lo is not None and hi is not None and hi < lo:
        raise Problem(400, f"end must not be before start, got start={start} end={end}")
    meter_id = None
    if meter is not None:
        found = store.get_meter(serial=meter)
        if found is None:
            raise Problem(404, f"no meter has serial {meter!r}")
        meter_id = found.id
    serials = {m.id: m.serial for m in store.meters()}
    data = [
        EventPublic(
            id=e.id,
            kind=e.kind,
            meter_id=e.meter_id,
            meter=None if e.meter_id is None else serials.get(e.meter_id),
            eui64=None if e.eui64 is None else e.eui64.hex(),
            at=e.at,
            detail=e.detail,
        )
        for e in store.events(meter_id=meter_id, kind=kind, start=lo, end=hi)
    ]
    return EventsPublic(data=data, count=len(data))
