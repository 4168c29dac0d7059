"""The dashboard's pages: server-rendered HTML from the store; the charts' script fetches the JSON API.

Every page is an API route with its entry in ``ROUTE_ROLES``: a browser signs in once through the login
form (``meshmeter.api.dashboard``) and its HttpOnly cookie then stands for the token on reads
(``docs/dashboard.md``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from meshmeter.amr.cit import CitReport
from meshmeter.api.auth import Role
from meshmeter.api.dashboard import SECURITY_HEADERS, render
from meshmeter.api.dashboard.views import (
    LINK_QUALITY_COLOURS,
    QUALITY_NAMES,
    as_of,
    cit_from_dict,
    device_positions,
    diagnosis,
    local_day_bounds,
    meter_events,
    meter_lcd,
    meter_reading,
    network_graph,
    site_overview,
    site_zone,
    vee_for_meter,
)
from meshmeter.api.deps import MAX_ID, Name, PrincipalDep, StoreDep, StoreId
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.api.routes.network import NetworkReportProvider
from meshmeter.api.scope import is_scoped
from meshmeter.headend.alerts import AlertKind, active_alerts, communication_status
from meshmeter.store import Site, Store

if TYPE_CHECKING:
    from meshmeter.billing.bill import Bill

__all__ = ["BillsProvider", "router"]

router = APIRouter(prefix="/dashboard", tags=["dashboard"], route_class=GuardedRoute)

BillsProvider = Callable[[], Sequence["Bill"]]
"""What ``create_app(bills=...)`` takes: a function giving the tenants' bills, in a stable order."""

_HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "The page (HTML)"}
}
MAX_VEE_DAYS = 366
"""Longest window of the VEE page. [day]"""


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _site(store: Store, site_id: int | None) -> Site | None:
    if site_id is None:
        sites = store.sites()
        return sites[0] if sites else None
    site = store.get_site(site_id=site_id)
    if site is None:
        raise Problem(404, f"no site has id {site_id}")
    return site


def _report(
    request: Request, store: Store, site: Site | None
) -> tuple[CitReport | None, datetime | None, str | None]:
    """
    The site's latest stored CIT report and when it was taken; else the app's provider's.

    The third member says why a stored report could not be read (the provider's is used instead).
    """
    stored = store.latest_network_report(site=site) if site is not None else None
    problem = None
    if stored is not None:
        try:
            return cit_from_dict(stored.report), stored.taken_at, None
        except ValueError as exc:
            problem = f"the report stored at {stored.taken_at.isoformat()} cannot be read: {exc}"
    provider: NetworkReportProvider | None = (
        None if is_scoped(store) else getattr(request.app.state, "network_report", None)
    )
    return (None if provider is None else provider()), None, problem


def _serials(store: Store) -> dict[int, str]:
    return {m.id: m.serial for m in store.meters()}


@router.get(
    "", response_class=HTMLResponse, summary="Dashboard: site overview", responses={**_HTML, **problems()}
)
def overview(request: Request, store: StoreDep, principal: PrincipalDep) -> HTMLResponse:
    """
    The overview page (HTML): each site's meters with their latest reading, today's and this month's
    energy in the site's local time, and the alerts in force. Days and months are those of the latest
    interval heard, when that is before now (a simulated site).
    """
    alerts = active_alerts(store)
    return render(
        request,
        "overview.html",
        role=principal.role,
        sites=site_overview(store, now=_now(), alerts=alerts),
        alerts=alerts,
        serials=_serials(store),
    )


@router.get(
    "/network",
    response_class=HTMLResponse,
    summary="Dashboard: the radio network",
    responses={**_HTML, **problems(404)},
)
def network(
    request: Request,
    store: StoreDep,
    principal: PrincipalDep,
    site_id: Annotated[StoreId | None, Query(description="the site; default the first")] = None,
) -> HTMLResponse:
    """
    The network page (HTML): the mesh drawn as a graph (DCAP, repeaters, MDTs, links coloured by
    quality), each device's join state and LED, and the figures of the CIT report (manual §5.2).
    """
    site = _site(store, site_id)
    report, taken_at, report_problem = _report(request, store, site)
    graph = None
    if report is not None:
        meters = {}
        for row in report.devices:
            if row.kind == "mdt":
                mdt = store.get_mdt(eui64=bytes.fromhex(row.eui64))
                if mdt is not None and mdt.meter_id is not None:
                    found = store.get_meter(meter_id=mdt.meter_id)
                    if found is not None:
                        meters[row.eui64] = found.serial
        graph = network_graph(report, meters, device_positions(store.events(kind="install")))
    statuses = communication_status(store, now=_now())
    site_meters = None if site is None else {m.id for m in store.meters(site_id=site.id)}
    return render(
        request,
        "network.html",
        role=principal.role,
        site=site,
        sites=store.sites(),
        graph=graph,
        taken_at=taken_at,
        report_problem=report_problem,
        plot=None if graph is None else json.dumps(graph.to_plot()),
        colours=LINK_QUALITY_COLOURS,
        statuses=[s for s in statuses if site_meters is None or s.meter_id in site_meters],
    )


def _chart_range(end_day: date, days: int) -> tuple[str, str]:
    return (end_day - timedelta(days=days)).isoformat(), end_day.isoformat()


def _month_range(end_day: date, months: int) -> tuple[str, str]:
    last = end_day - timedelta(days=1)
    stop = date(last.year + (last.month == 12), last.month % 12 + 1, 1)
    index = stop.year * 12 + stop.month - 1 - months
    return date(index // 12, index % 12 + 1, 1).isoformat(), stop.isoformat()


@router.get(
    "/meters/{serial}",
    response_class=HTMLResponse,
    summary="Dashboard: a meter",
    responses={**_HTML, **problems(404)},
)
def meter_page(request: Request, serial: Name, store: StoreDep, principal: PrincipalDep) -> HTMLResponse:
    """
    A meter's page (HTML): interval chart from a year down to 15 minutes, daily and monthly bars (the
    script fetches ``GET /meters/{serial}/intervals`` at the resolution that fits the view), the LCD
    as the head-end can rebuild it, the events, and the wiring diagnosis (manual §7).
    """
    meter = store.get_meter(serial=serial)
    if meter is None:
        raise Problem(404, f"no meter has serial {serial!r}")
    site = None if meter.site_id is None else store.get_site(site_id=meter.site_id)
    zone = site_zone(site)
    status = next((s for s in communication_status(store, now=_now()) if s.meter_id == meter.id), None)
    last = None if status is None else status.last_interval_end
    instant = as_of([last], _now())
    alerts = [a for a in active_alerts(store) if a.meter_id == meter.id]
    reading = meter_reading(store, meter, last)
    reverse = any(a.kind is AlertKind.REVERSE_PHASE for a in alerts)
    day_start, _month_start = local_day_bounds(instant, zone)
    end_day = day_start.astimezone(zone).date() + timedelta(days=1)
    tz_name = site.timezone if site is not None else "UTC"
    return render(
        request,
        "meter.html",
        role=principal.role,
        meter=meter,
        site=site,
        zone=zone,
        tz_name=tz_name,
        last=last,
        reading=reading,
        lcd=meter_lcd(store, meter, last=last, reading_wh=reading, reverse_phase=reverse),
        alerts=alerts,
        events=meter_events(store, meter),
        diagnosis=diagnosis(store, meter, alerts),
        week=_chart_range(end_day, 7),
        month=_chart_range(end_day, 31),
        year=_month_range(end_day, 12),
    )


@router.get(
    "/vee",
    response_class=HTMLResponse,
    summary="Dashboard: VEE",
    responses={**_HTML, **problems(404)},
)
def vee_page(
    request: Request,
    store: StoreDep,
    principal: PrincipalDep,
    site_id: Annotated[StoreId | None, Query(description="the site; default the first")] = None,
    days: Annotated[
        int, Query(ge=1, le=MAX_VEE_DAYS, description="the window, ending at the latest data [day]")
    ] = 31,
) -> HTMLResponse:
    """
    The VEE page (HTML): per meter of the site, the validated intervals VEE flagged (questionable,
    estimated, edited) and the audit of every edit made, over the last ``days`` days of data.
    """
    site = _site(store, site_id)
    meters = store.meters(site_id=None if site is None else site.id)
    statuses = {s.meter_id: s.last_interval_end for s in communication_status(store, now=_now())}
    end = as_of([statuses.get(m.id) for m in meters], _now())
    start = end - timedelta(days=days)
    rows = [vee_for_meter(store, m, start=start, end=end) for m in meters]
    return render(
        request,
        "vee.html",
        role=principal.role,
        site=site,
        sites=store.sites(),
        zone=site_zone(site),
        start=start,
        end=end,
        days=days,
        rows=rows,
        quality_names=QUALITY_NAMES,
    )


class BillsView(StrEnum):
    """How ``GET /dashboard/bills?bill=`` shows a bill."""

    PAGE = "page"
    PRINT = "print"


@router.get(
    "/bills",
    response_class=HTMLResponse,
    summary="Dashboard: bills",
    responses={
        **_HTML,
        **problems(404),
        200: {"content": {"text/html": {}, "text/csv": {}}, "description": "The page (HTML), or CSV"},
    },
)
def bills_page(
    request: Request,
    principal: PrincipalDep,
    store: StoreDep,
    bill: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="one bill, by its number in the list")
    ] = None,
    view: Annotated[
        BillsView, Query(description="with bill: the page, or the printable bill")
    ] = BillsView.PAGE,
    csv: Annotated[bool, Query(description="every bill as CSV, one row each")] = False,
) -> Response:
    """
    The bills page (HTML): the tenants' bills with their totals; with ``bill=n`` one bill's detail
    (lines, energy by period and tier, estimated share, reads), with ``view=print`` the printable bill;
    with ``csv=true`` the list as CSV. Bills come from the app's provider (``create_app(bills=...)``)
    when it has one, else from the store (``GET /bills``), each made again from its stored inputs; a
    tenant's are its account's, a site-bound token's its sites'.
    """
    # a tenant or a site-bound caller reads the stored bills of its scope, never the app's provider's
    provider: BillsProvider | None = None if is_scoped(store) else getattr(request.app.state, "bills", None)
    if provider is None and bill is not None and not csv:
        # one bill's page: make again from its stored inputs only that bill, not every stored one
        from meshmeter.api.routes.bills import stored_bill

        listed = store.list_bills()
        found = store.get_bill(listed[bill - 1].id) if bill <= len(listed) else None
        if found is None:
            raise Problem(404, f"no bill has number {bill}; there are {len(listed)}")
        return _bill_page(request, principal.role, stored_bill(found), bill, view)
    if provider is not None:
        bills = list(provider())
    else:
        from meshmeter.api.routes.bills import stored_bills

        bills = stored_bills(store)
    if csv:
        from meshmeter.billing.bill import bills_to_csv

        return Response(
            bills_to_csv(bills),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="bills.csv"'},
        )
    if bill is None:
        return render(request, "bills.html", role=principal.role, bills=bills, chosen=None)
    if bill > len(bills):
        raise Problem(404, f"no bill has number {bill}; there are {len(bills)}")
    return _bill_page(request, principal.role, bills[bill - 1], bill, view)


def _bill_page(request: Request, role: Role, chosen: Bill, number: int, view: BillsView) -> Response:
    """One bill's page, or its printable view."""
    if view is BillsView.PRINT:
        from meshmeter.billing.bill import bill_to_html

        return HTMLResponse(bill_to_html(chosen), headers=SECURITY_HEADERS)
    from meshmeter.billing.bill import printed

    return render(
        request,
        "bill.html",
        role=role,
        bill=chosen,
        number=number,
        zone=ZoneInfo(chosen.timezone),
        printed=printed,
    )
