"""The health of the AMR network, as the head-end sees it: when each meter was last heard."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from meshmeter.amr.cit import CitReport
from meshmeter.api.deps import StoreDep, StoreId
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.api.scope import is_scoped
from meshmeter.headend.alerts import DEFAULT_SILENCE_S, communication_status

__all__ = [
    "MeterHealthPublic",
    "NetworkHealthPublic",
    "NetworkReportProvider",
    "NetworkSummaryPublic",
    "router",
]

router = APIRouter(prefix="/network", tags=["network"], route_class=GuardedRoute)

NetworkReportProvider = Callable[[], CitReport | None]
"""What ``create_app(network_report=...)`` takes: a function giving the latest CIT report, or None."""


class MeterHealthPublic(BaseModel):
    """When a meter was last heard."""

    meter_id: int
    serial: str
    last_interval_end: datetime | None = Field(
        description="end of its latest raw interval; null: never heard"
    )
    last_received_at: datetime | None = Field(description="when that interval was received")
    age_s: float | None = Field(description="now - last_interval_end [s]")
    silent: bool = Field(description="age_s above silence_s, or never heard")


class HealthCountsPublic(BaseModel):
    """Meters by state."""

    meters: int
    reporting: int = Field(description="heard within silence_s")
    silent: int = Field(description="not heard within silence_s, never-heard ones included")
    never_heard: int


class NetworkSummaryPublic(BaseModel):
    """The summary of the CIT report of the radio network (manual §5.2), when the app has one."""

    mdts: int
    repeaters: int
    joined_mdts: int
    joined_repeaters: int
    intervals_due: int
    delivered: int
    delivered_on_time: int
    delivery_ratio: float = Field(description="delivered in the end over due [1]")
    on_time_ratio: float = Field(description="delivered within the hour over due after joining [1]")
    duplicates: int
    rejected: dict[str, int] = Field(description="frames the DCAP refused, by reason")
    events: dict[str, int] = Field(description="events the DCAP received, by kind")
    unjoined: int = Field(description="MDTs that could not join")
    site_id: int | None = Field(default=None, description="the site of a stored report; null: the app's own")
    taken_at: datetime | None = Field(default=None, description="when a stored report was taken")


class NetworkHealthPublic(BaseModel):
    """The network's health."""

    now: datetime
    silence_s: float = Field(description="a meter not heard for longer is silent [s]")
    counts: HealthCountsPublic
    silent: list[str] = Field(description="serial numbers of the silent meters")
    meters: list[MeterHealthPublic]
    network: NetworkSummaryPublic | None = Field(description="the CIT report's summary; null without one")


def _summary(
    report: Mapping[str, Any], site_id: int | None = None, taken_at: datetime | None = None
) -> NetworkSummaryPublic:
    """The summary of a CIT report given as its JSON members (:meth:`CitReport.to_dict`)."""
    due, joined = int(report["intervals_due"]), int(report.get("intervals_due_joined", 0))
    delivered, on_time = int(report["delivered"]), int(report["delivered_on_time"])
    return NetworkSummaryPublic(
        mdts=report["mdts"],
        repeaters=report["repeaters"],
        joined_mdts=report["joined_mdts"],
        joined_repeaters=report["joined_repeaters"],
        intervals_due=due,
        delivered=delivered,
        delivered_on_time=on_time,
        delivery_ratio=report.get("delivery_ratio", delivered / due if due else 1.0),
        on_time_ratio=report.get("on_time_ratio", on_time / joined if joined else 1.0),
        duplicates=report["duplicates"],
        rejected=dict(report["rejected"]),
        events=dict(report["events"]),
        unjoined=len(report["unjoined"]),
        site_id=site_id,
        taken_at=taken_at,
    )


@router.get("/health", response_model=NetworkHealthPublic, summary="Network health", responses=problems(404))
def network_health(
    request: Request,
    store: StoreDep,
    silence_s: Annotated[
        float, Query(gt=0, le=366 * 86400, description="a meter not heard for longer is silent [s]")
    ] = DEFAULT_SILENCE_S,
    site_id: Annotated[
        StoreId | None, Query(description="the stored network report of this site; default the latest")
    ] = None,
) -> NetworkHealthPublic:
    """
    Per meter, its latest raw interval, when it was received and its age; the meters silent for longer
    than ``silence_s``; counts; and the summary of a CIT report: the app's own when it was given a
    provider, else the latest one stored (``Store.save_network_report``), of ``site_id`` when given (404
    when it names no site).
    """
    if site_id is not None and store.get_site(site_id=site_id) is None:
        raise Problem(404, f"no site has id {site_id}")
    now = datetime.now(UTC).replace(microsecond=0)
    statuses = communication_status(store, now=now, silence_s=silence_s)
    meters = [
        MeterHealthPublic(
            meter_id=s.meter_id,
            serial=s.serial,
            last_interval_end=s.last_interval_end,
            last_received_at=s.last_received_at,
            age_s=s.age_s,
            silent=s.silent,
        )
        for s in statuses
    ]
    never = sum(1 for s in statuses if s.last_interval_end is None)
    silent = [s.serial for s in statuses if s.silent]
    # the app's own report is of no stored site: a caller bound to sites reads the stored ones only
    provider: NetworkReportProvider | None = (
        None if is_scoped(store) else getattr(request.app.state, "network_report", None)
    )
    summary: NetworkSummaryPublic | None = None
    if provider is not None:
        report = provider()
        summary = None if report is None else _summary(report.to_dict())
    else:
        stored = store.latest_network_report(site=site_id)
        summary = None if stored is None else _summary(stored.report, stored.site_id, stored.taken_at)
    return NetworkHealthPublic(
        now=now,
        silence_s=silence_s,
        counts=HealthCountsPublic(
            meters=len(statuses), reporting=len(statuses) - len(silent), silent=len(silent), never_heard=never
        ),
        silent=silent,
        meters=meters,
        network=summary,
    )
