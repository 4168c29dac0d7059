"""Reconciliation: a site's master meter against its sub-meters, per interval, local day or month
(``docs/reconcile.md``; :mod:`meshmeter.services.reconcile`).

A GET changes nothing: the route computes the balance and names the days that would raise an alert
(``excess_days``, ``jumps``), but raises none; ``meshmeter reconcile`` raises them. A token bound to sites
reconciles its sites only (another is 404, as if it did not exist).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from meshmeter.api.deps import StoreDep, StoreId, TimeText, known_site
from meshmeter.api.intervals import MAX_SPAN_DAYS, Resolution, parse_instant, parse_timezone
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.services.reconcile import reconcile_site, reconciliation_to_dict

__all__ = ["BalanceRowPublic", "ReconciliationPublic", "router"]

router = APIRouter(tags=["reconciliation"], route_class=GuardedRoute)

_SPAN = {
    "interval": MAX_SPAN_DAYS[Resolution.QUARTER_HOUR],
    "day": MAX_SPAN_DAYS[Resolution.DAILY],
    "month": MAX_SPAN_DAYS[Resolution.MONTHLY],
}
"""Longest period one request may ask for, by its rows. [day]"""


class BalanceRowPublic(BaseModel):
    """The balance over one span: energies summed over its reconciled intervals only."""

    start: str = Field(description="start of the span, ISO 8601 UTC (exclusive)")
    end: str = Field(description="end of the span, ISO 8601 UTC (inclusive)")
    intervals: int = Field(description="intervals of the grid in the span")
    reconciled: int = Field(description="of them, those with every meter's billed interval")
    master_missing: int = Field(description="intervals with a meter of the master side missing")
    submeters_missing: int = Field(description="intervals with a unit or house meter missing")
    master_estimated: int = Field(description="reconciled intervals estimated on the master side")
    submeters_estimated: int = Field(description="reconciled intervals estimated on the sub-meter side")
    master_wh: int = Field(description="the master's net import (import less its export register) [Wh]")
    production_wh: int = Field(description="production behind the master [Wh]")
    units_wh: int = Field(description="the unit meters [Wh]")
    house_wh: int = Field(description="the house meters [Wh]")
    remainder_wh: int = Field(description="master + production - units - house; negative: excess [Wh]")
    metered_share: float | None = Field(description="(units + house) / (master + production) [1]")
    tolerance_wh: int = Field(description="how far the sub-meters may exceed the master [Wh]")
    excess: bool = Field(description="the sub-meters exceed the master beyond the tolerance (manual §7)")


class MeterBalancePublic(BaseModel):
    """One meter of the balance over the period."""

    serial: str
    role: str
    side: Literal["master", "master_export", "production", "unit", "house"]
    interval_s: int = Field(description="[s]")
    energy_wh: int = Field(description="its billed intervals while in service, at its multiplier [Wh]")
    intervals: int = Field(description="intervals of the grid it was in service")
    missing: int = Field(description="of them, absent, not validated or failed VEE")
    estimated: int = Field(description="of them, estimated")


class JumpPublic(BaseModel):
    """A day whose unmetered remainder jumped above the median of the days before."""

    day: str = Field(description="local date")
    remainder_wh: int = Field(description="[Wh]")
    median_wh: float = Field(description="median remainder of the complete days among the 7 before [Wh]")
    median_days: int
    threshold_wh: float = Field(description="what the remainder exceeded [Wh]")


class AlertRaisedPublic(BaseModel):
    """An alert stored by the reconciliation (none by this route)."""

    key: str
    kind: str
    active: bool
    at: str


class ReconciliationPublic(BaseModel):
    """A site's master meter against its sub-meters over a period."""

    site: str
    site_id: int
    timezone: str
    start: str = Field(description="ISO 8601 UTC")
    end: str = Field(description="ISO 8601 UTC")
    by: Literal["interval", "day", "month"]
    interval_s: int = Field(description="the grid: the longest interval of the meters [s]")
    meters: list[MeterBalancePublic]
    total: BalanceRowPublic
    rows: list[BalanceRowPublic]
    excess_days: list[str] = Field(description="local days whose sub-meters exceed the master (manual §7)")
    jumps: list[JumpPublic]
    alerts: list[AlertRaisedPublic]
    warnings: list[str]


@router.get(
    "/sites/{site_id}/reconciliation",
    response_model=ReconciliationPublic,
    summary="Reconcile a site's sub-meters with its master meter",
    responses=problems(400, 404),
)
def get_reconciliation(
    site_id: StoreId,
    store: StoreDep,
    start: Annotated[TimeText, Query(description="ISO 8601 date (local midnight) or date-time")],
    end: Annotated[TimeText, Query(description="ISO 8601 date or date-time, after start")],
    by: Annotated[
        Literal["interval", "day", "month"], Query(description="rows per interval, local day or month")
    ] = "day",
) -> ReconciliationPublic:
    """The master meter's net import and production behind it against the unit and house meters, per
    interval of the grid (the longest of the meters'), local day or local month: the unmetered remainder
    (negative: the sub-meters measured more), the share metered, intervals missing or estimated on each
    side (an interval missing on any side is not reconciled). Names the days whose sub-meters exceed the
    master beyond the meters' accuracy (a CT or wiring fault, manual §7) and whose remainder jumped;
    stores nothing, raises no alert. 400 for a bad or too long period, a site without a master meter or
    with two; 404 for an unknown site."""
    site = known_site(store, site_id)
    try:
        local = parse_timezone(site.timezone)
        t0 = parse_instant("start", start, local)
        t1 = parse_instant("end", end, local)
        if t1 <= t0:
            raise ValueError(f"end must be after start, got start={start} end={end}")
        if t1 - t0 > timedelta(days=_SPAN[by]):
            raise ValueError(f"the period may span at most {_SPAN[by]} days with by={by}")
        rec = reconcile_site(store, site=site, start=t0, end=t1, by=by, raise_alerts=False)
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    return ReconciliationPublic.model_validate(reconciliation_to_dict(rec))
