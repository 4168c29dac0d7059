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
from meshmeter.api.auth import ROUTE_ROLES, Principal, Role
from meshmeter.api.dashboard import SECURITY_HEADERS, render
from meshmeter.api.dashboard.tenant import (
    UsageScale,
    account_names,
    bill_names,
    tenure_downloads,
    tenure_usage,
)
from meshmeter.api.dashboard.views import (
    LINK_QUALITY_COLOURS,
    as_of,
    cit_from_dict,
    device_positions,
    local_day_bounds,
    meter_lcd,
    meter_reading,
    network_graph,
    site_overview,
    site_zone,
)
from meshmeter.api.deps import MAX_ID, Name, PrincipalDep, StoreDep, StoreId, known_site
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.api.routes.network import NetworkReportProvider
from meshmeter.api.scope import is_scoped
from meshmeter.headend.alerts import AlertKind, active_alerts, communication_status
from meshmeter.services.diagnosis import diagnosis
from meshmeter.store import Occupancy, Site, Store

if TYPE_CHECKING:
    from meshmeter.billing.bill import Bill
    from meshmeter.store import StoredCorrection

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
    return known_site(store, site_id)


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


@router.get(
    "", response_class=HTMLResponse, summary="Dashboard: site overview", responses={**_HTML, **problems()}
)
def overview(request: Request, store: StoreDep, principal: PrincipalDep) -> HTMLResponse:
    """
    The overview page (HTML), per site: the meters that need attention first, each with what to do
    (``meshmeter.api.dashboard.overview``); consumption and production apart, today, this month and the
    same month last year; the tenants' charges so far this month (for the roles that see bills); then
    each meter by unit and tenant with its latest reading. Days and months are those of the latest
    interval heard, when that is before now (a simulated site), in the site's local time.
    """
    from meshmeter.api.dashboard.overview import site_summaries

    alerts = active_alerts(store)
    now = _now()
    overviews = site_overview(store, now=now, alerts=alerts)
    with_cost = principal.role in ROUTE_ROLES[("GET", "/bills")]
    return render(
        request,
        "overview.html",
        role=principal.role,
        sites=site_summaries(store, overviews, alerts=alerts, with_cost=with_cost, now=now),
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
    quality), each device named (an MDT by the meter and unit it serves, a repeater by its site-file
    name or ``Repeater n``: ``meshmeter.api.dashboard.network_view``) with its join state and LED, the
    CIT's suggestions for the MDTs that could not join, and the figures of the CIT report (manual §5.2).
    """
    site = _site(store, site_id)
    report, taken_at, report_problem = _report(request, store, site)
    from meshmeter.api.dashboard.network_view import device_names, named_plot, named_suggestion
    from meshmeter.services.device_names import served_meters
    from meshmeter.services.names import meter_names

    now = _now()
    names = meter_names(store, site_id=None if site is None else site.id, at=now)
    graph = None
    devices = {}
    if report is not None:
        installs = store.events(kind="install")
        served = served_meters(store, report.devices, names)
        meters = {eui: name.serial for eui, name in served.items()}
        graph = network_graph(report, meters, device_positions(installs))
        devices = device_names(report, served, installs)
    statuses = communication_status(store, now=now)
    return render(
        request,
        "network.html",
        role=principal.role,
        site=site,
        sites=store.sites(),
        graph=graph,
        devices=devices,
        names=names,
        taken_at=taken_at,
        report_problem=report_problem,
        plot=None if graph is None else json.dumps(named_plot(graph.to_plot(), devices)),
        colours=LINK_QUALITY_COLOURS,
        statuses=[s for s in statuses if s.meter_id in names],
        suggestion=lambda text: named_suggestion(text, devices),
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
    A meter's page (HTML), read as a meter record (``meshmeter.api.dashboard.meter_record``): its names
    first (site, unit, tenant and account now) and the tenures of its unit; its make and ratings; where
    its readings come from and how that path is doing; the interval chart from a year down to 15
    minutes, a load heat map of the last 31 days (local day × hour), daily and monthly bars (the script
    fetches ``GET /meters/{serial}/intervals`` at the resolution that fits each), all in kWh; the LCD as
    the head-end can rebuild it; the wiring diagnosis with what to do (manual §7); register reads; and
    the events in words.
    """
    from meshmeter.api.dashboard.meter_record import meter_record
    from meshmeter.api.routes.dashboard_meters import meter_manage_context

    meter = store.get_meter(serial=serial)
    if meter is None:
        raise Problem(404, f"no meter has serial {serial!r}")
    site = None if meter.site_id is None else store.get_site(site_id=meter.site_id)
    zone = site_zone(site)
    now = _now()
    status = next((s for s in communication_status(store, now=now) if s.meter_id == meter.id), None)
    last = None if status is None else status.last_interval_end
    instant = as_of([last], now)
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
        record=meter_record(store, meter, zone=zone, now=now, status=status),
        diagnosis=diagnosis(store, meter, alerts),
        week=_chart_range(end_day, 7),
        month=_chart_range(end_day, 31),
        year=_month_range(end_day, 12),
        **meter_manage_context(request, store, principal, meter),
    )


@router.get(
    "/vee",
    response_class=HTMLResponse,
    summary="Dashboard: the VEE work list",
    responses={**_HTML, **problems(400, 404)},
)
def vee_page(
    request: Request,
    store: StoreDep,
    principal: PrincipalDep,
    site_id: Annotated[StoreId | None, Query(description="the site; default the first")] = None,
    days: Annotated[
        int, Query(ge=1, le=MAX_VEE_DAYS, description="the window, ending at the latest data [day]")
    ] = 31,
    meter: Annotated[str | None, Query(max_length=200, description="one meter, by serial")] = None,
    check: Annotated[str | None, Query(max_length=200, description="only what this check flagged")] = None,
    state: Annotated[str | None, Query(max_length=200, description="open, accepted, edited, reread")] = None,
) -> HTMLResponse:
    """
    The VEE page (HTML): the work list of the site (``meshmeter.services.vee_worklist``): every
    interval VEE flagged or estimated over the last ``days`` days of data, open ones first, names first,
    with the checks and their reasons, the raw value, the estimate and its method, the state, and (for
    the roles that may act) a form to accept, edit or ask for a re-read, with a reason.
    """
    from meshmeter.api.routes.vee import vee_page_response

    return vee_page_response(request, store, principal, site_id, days, meter, check, state)


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
        corrections = store.list_corrections(bill_id=found.id)
        return _bill_page(
            request, store, principal.role, stored_bill(found), bill, view, corrections, found.account_id
        )
    corrected: dict[int, int] = {}
    account_ids: list[int | None] | None = None
    if provider is not None:
        bills = list(provider())
    else:
        from meshmeter.api.routes.bills import stored_bills

        bills = stored_bills(store)
        listed = store.list_bills()
        if len(listed) == len(bills):
            account_ids = [b.account_id for b in listed]
        number_of = {b.id: n for n, b in enumerate(listed, start=1)}
        for c in store.list_corrections():
            if c.bill_id in number_of:
                corrected[number_of[c.bill_id]] = corrected.get(number_of[c.bill_id], 0) + 1
    if csv:
        from meshmeter.billing.bill import bills_to_csv

        return Response(
            bills_to_csv(bills),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="bills.csv"'},
        )
    if bill is None:
        return render(
            request,
            "bills.html",
            role=principal.role,
            bills=bills,
            names=bill_names(store, bills, account_ids),
            corrected=corrected,
            meter_links=_may_open_meters(principal.role),
            chosen=None,
        )
    if bill > len(bills):
        raise Problem(404, f"no bill has number {bill}; there are {len(bills)}")
    return _bill_page(request, store, principal.role, bills[bill - 1], bill, view, [], None)


def _may_open_meters(role: Role) -> bool:
    """Whether the role may open a meter's page: then a serial links to it."""
    return role in ROUTE_ROLES[("GET", "/dashboard/meters/{serial}")]


def _bill_page(
    request: Request,
    store: Store,
    role: Role,
    chosen: Bill,
    number: int,
    view: BillsView,
    corrections: Sequence[StoredCorrection],
    account_id: int | None,
) -> Response:
    """One bill's page, or its printable view; ``corrections``: those issued for it, in order;
    ``account_id``: the store's account billed, when known."""
    if view is BillsView.PRINT:
        from meshmeter.billing.bill import bill_to_html

        return HTMLResponse(bill_to_html(chosen), headers=SECURITY_HEADERS)
    from meshmeter.billing.bill import printed

    return render(
        request,
        "bill.html",
        role=role,
        bill=chosen,
        bill_name=bill_names(store, [chosen], [account_id])[0],
        meter_links=_may_open_meters(role),
        corrections=corrections,
        number=number,
        zone=ZoneInfo(chosen.timezone),
        printed=printed,
    )


def _tenancies(store: Store, principal: Principal) -> list[Occupancy]:
    """The caller's account's tenures, oldest first (the route is a tenant's: its token names one)."""
    if principal.account_id is None:
        raise Problem(403, "these pages are a tenant's: sign in with a tenant token")
    found = store.occupancies(account_id=principal.account_id)
    return sorted(found, key=lambda o: (o.move_in, o.id))


def _holder(store: Store, principal: Principal) -> tuple[str | None, str | None]:
    """The account's tenant's name and its number, for a page's heading."""
    account = None if principal.account_id is None else store.get_account(account_id=principal.account_id)
    if account is None:
        return None, None
    tenant = store.get_tenant(tenant_id=account.tenant_id)
    return (None if tenant is None else tenant.name), account.number


@router.get(
    "/usage",
    response_class=HTMLResponse,
    summary="Dashboard: a tenant's usage",
    responses={**_HTML, **problems()},
)
def usage_page(
    request: Request,
    store: StoreDep,
    principal: PrincipalDep,
    scale: Annotated[UsageScale, Query(description="sum by local day, month or year")] = UsageScale.DAY,
) -> HTMLResponse:
    """
    A tenant's "My usage" (HTML): the kWh of each unit it occupies, within its tenure only, by local
    day (the last 31), month (the last 12) or year, as a bar per period.
    """
    tenancies = _tenancies(store, principal)
    now = _now()
    names = account_names(store, tenancies, now)
    usage = [tenure_usage(store, o, scale=scale, now=now, names=names) for o in tenancies]
    tenant, account = _holder(store, principal)
    return render(
        request,
        "tenant_usage.html",
        role=principal.role,
        usage=usage,
        scale=scale.value,
        scales=[s.value for s in UsageScale],
        tenant=tenant,
        account=account,
    )


@router.get(
    "/download",
    response_class=HTMLResponse,
    summary="Dashboard: a tenant's data to download",
    responses={**_HTML, **problems()},
)
def download_page(request: Request, store: StoreDep, principal: PrincipalDep) -> HTMLResponse:
    """
    A tenant's "Download my data" (HTML): for each tenure, links to its intervals as Green Button
    (ESPI XML, ``GET /meters/{serial}/greenbutton``) and as CSV (``GET /meters/{serial}/intervals``),
    every range within one request's limits; the routes cut the data to the tenure.
    """
    tenancies = _tenancies(store, principal)
    now = _now()
    names = account_names(store, tenancies, now)
    tenant, account = _holder(store, principal)
    return render(
        request,
        "tenant_download.html",
        role=principal.role,
        tenures=[tenure_downloads(store, o, now=now, names=names) for o in tenancies],
        tenant=tenant,
        account=account,
    )
