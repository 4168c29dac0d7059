"""Alerts: tamper, reverse phase, communication loss, low battery, repeater power loss ..., each with
what it means and what to do (:data:`meshmeter.services.alert_words.ALERT_WORDS`).

See ``docs/alerts.md``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from meshmeter.api.deps import StoreDep, TimeText
from meshmeter.api.intervals import parse_instant
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.headend.alerts import Alert, AlertKind, active_alerts, alerts
from meshmeter.services.alert_words import ALERT_WORDS, alert_meaning

__all__ = ["AlertPublic", "AlertsPublic", "router"]

router = APIRouter(prefix="/alerts", tags=["alerts"], route_class=GuardedRoute)


class AlertPublic(BaseModel):
    """An alert: raised (``active``) or clearing an earlier one."""

    id: int = Field(description="the event's id (``GET /events``)")
    kind: AlertKind
    active: bool = Field(description="true when it raises a condition, false when it clears one")
    at: datetime = Field(description="when the condition began (or ended)")
    meter_id: int | None
    meter: str | None = Field(description="serial number of the meter concerned")
    eui64: str | None = Field(description="the device concerned, 16 hexadecimal digits")
    key: str = Field(description="deterministic key; the push messages' idempotency keys derive from it")
    detail: dict[str, Any]
    meaning: str = Field(
        description="what it means, with its particulars: ``Reverse phase on element 2 (CT2)``; the words "
        "of ``meshmeter alerts`` and the dashboard (for a clearing alert, what had been wrong)"
    )
    action: str = Field(
        description="what to do about it, in words: ``replace the MDT's battery (manual §5)``"
    )


class AlertsPublic(BaseModel):
    """Alerts, oldest first."""

    data: list[AlertPublic]
    count: int


@router.get("", response_model=AlertsPublic, summary="List alerts", responses=problems(400))
def list_alerts(
    store: StoreDep,
    since: Annotated[
        TimeText | None, Query(description="only those after this instant (ISO 8601; UTC if no offset)")
    ] = None,
    include_cleared: Annotated[
        bool,
        Query(description="every alert, raised and clearing, not only those in force"),
    ] = False,
) -> AlertsPublic:
    """
    The alerts in force (for each kind, meter and device, its latest alert, when it raises), or with
    ``include_cleared=true`` every alert, raised and clearing; only those with ``at > since``.
    """
    try:
        lo = None if since is None else parse_instant("since", since)
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    found: list[Alert] = alerts(store, since=lo) if include_cleared else active_alerts(store, since=lo)
    serials = {m.id: m.serial for m in store.meters()}
    data = [
        AlertPublic(
            id=a.id,
            kind=a.kind,
            active=a.active,
            at=a.at,
            meter_id=a.meter_id,
            meter=None if a.meter_id is None else serials.get(a.meter_id),
            eui64=None if a.eui64 is None else a.eui64.hex(),
            key=a.key,
            detail=a.detail,
            meaning=alert_meaning(a),
            action=ALERT_WORDS[a.kind].action,
        )
        for a in found
    ]
    return AlertsPublic(data=data, count=len(data))
