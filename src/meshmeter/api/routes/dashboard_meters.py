"""Meters and their sources managed from the dashboard (issue 15; ``docs/dashboard.md``, "Meters"): the
meters page of a site, its form to register a meter, the meter page's "Manage this meter" form, and the
sources page's forms.

Each form calls what the API's route and the CLI's command call, so that a meter or a source is checked
once, the same from every door: registering is :func:`meshmeter.api.routes.meters.create_meter`
(``POST /meters``); a meter's life is :mod:`meshmeter.services.meterlife` (reads in kWh as ``meshmeter
meter exchange`` takes them); a source is :func:`meshmeter.api.routes.sources.create_source`,
:func:`~meshmeter.api.routes.sources.update_source` and
:func:`~meshmeter.api.routes.sources.create_channel` (``POST /sites/{id}/sources``, ``PATCH
/sources/{id}``, ``POST /sources/{id}/channels``), over :mod:`meshmeter.services.sources`. Signed in with
the session cookie, which counts on these posts only from the dashboard's own pages
(:data:`~meshmeter.api.auth.COOKIE_FORMS`). Done: 303 back to the page; refused: the page again (400)
naming every problem, nothing changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from meshmeter.api.auth import ROUTE_ROLES, Principal
from meshmeter.api.dashboard import SECURITY_HEADERS, render
from meshmeter.api.dashboard.forms import done_target, form_id, form_site, read_form
from meshmeter.api.deps import PrincipalDep, StoreDep, StoreId, known_site
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.errors import MeshmeterError
from meshmeter.services.sources import setting_pairs
from meshmeter.store import Meter, Site, Store

__all__ = ["ManageForm", "meter_manage_context", "router", "source_forms_context"]

router = APIRouter(prefix="/dashboard", tags=["dashboard"], route_class=GuardedRoute)

_HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "The page (HTML)"}
}
_FORM = {303: {"description": "Done: back to the page"}, **problems(400, 403, 404, 413)}

SOURCE_ACTIONS = ("add", "enable", "disable", "map")
"""The acts of the sources page's form."""

_SOURCE_KINDS = ("mqtt", "modbus_tcp", "modbus_rtu", "rtlamr")
_CHANNEL_UNITS = ("pulse", "count", "Wh", "kWh", "MWh")


@dataclass
class ManageForm:
    """A refused form, shown again: its problems and the values typed, so that nothing is typed twice."""

    errors: list[str]
    values: dict[str, str] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _may(principal: Principal, method: str, path: str) -> bool:
    return principal.role in ROUTE_ROLES[(method, path)]


def _problems_of(exc: Exception) -> list[str]:
    """The problems a refusal names, one a line: a problem document's detail, a domain error's."""
    if isinstance(exc, Problem):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return [p for p in detail.split("; ") if p]
    if isinstance(exc, ValidationError):
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    problems_ = getattr(exc, "problems", None)
    if isinstance(problems_, list) and problems_:
        return [str(p) for p in problems_]
    return [p for p in str(exc).split("; ") if p]


def _refused(call: Callable[[], Any]) -> tuple[Any, list[str]]:
    """Run a change: (its result, []) or (None, the problems it was refused for). A 404 for what the form
    names (a meter, a source) is a problem of the form; the caller answers 404 for the page's own."""
    try:
        return call(), []
    except (Problem, ValidationError, MeshmeterError, ValueError) as exc:
        if isinstance(exc, Problem) and exc.status_code not in (400, 404, 409):
            raise
        return None, _problems_of(exc)


def _blank(value: str | None) -> str | None:
    return None if value is None or not value.strip() else value.strip()


# -- the meters page ------------------------------------------------------------------------------------


def meters_page_response(
    request: Request,
    store: Store,
    principal: Principal,
    site_id: int | None,
    *,
    form: ManageForm | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The meters page (``GET /dashboard/meters``), also shown again by a refused register form."""
    from meshmeter.api.dashboard.meters_page import catalog_designations, default_ct_ratio, meter_rows
    from meshmeter.api.dashboard.views import site_zone

    if site_id is None:
        sites = store.sites()
        site = sites[0] if sites else None
    else:
        site = known_site(store, site_id)
    return render(
        request,
        "meters.html",
        role=principal.role,
        status=status,
        site=site,
        sites=store.sites(),
        zone=site_zone(site),
        rows=meter_rows(store, site, now=_now()),
        designations=catalog_designations(),
        default_ct_ratio=default_ct_ratio(),
        roles=("unit", "house", "master", "production"),
        may_act=_may(principal, "POST", "/dashboard/meters"),
        errors=[] if form is None else form.errors,
        values={} if form is None else form.values,
    )


@router.get(
    "/meters",
    response_class=HTMLResponse,
    summary="Dashboard: the meters of a site",
    responses={**_HTML, **problems(404)},
)
def meters_page(
    request: Request,
    store: StoreDep,
    principal: PrincipalDep,
    site_id: Annotated[StoreId | None, Query(description="the site; default the first")] = None,
) -> HTMLResponse:
    """
    The meters page (HTML): each meter of the site, names first (unit, tenant and account now), then its
    serial, make, CT ratio and multiplier, role, whether it is in service, where its readings come from
    (an MDT, a pulse counter, a Modbus meter, rtlamr) and whether it reports; for admin and operator, a
    form to register a meter (``POST /dashboard/meters``, the checks of ``POST /meters``).
    """
    return meters_page_response(request, store, principal, site_id)


def register(store: Store, form: dict[str, str]) -> Meter:
    """
    Register a meter from the form's fields, through ``POST /meters``'s own code.

    Raises
    ------
    Problem, ValidationError, MeshmeterError
        Naming what is wrong; nothing is stored then.
    """
    from meshmeter.api.models import MeterCreate
    from meshmeter.api.routes.meters import create_meter

    body = {
        "serial": form.get("serial", "").strip(),
        "designation": _blank(form.get("designation")),
        "ct_ratio": _blank(form.get("ct_ratio")),
        "site_id": form.get("site_id", "").strip() or None,
        "role": _blank(form.get("role")),
    }
    made = create_meter(MeterCreate.model_validate({k: v for k, v in body.items() if v is not None}), store)
    found = store.get_meter(serial=made.serial)
    assert found is not None
    return found


@router.post(
    "/meters", response_class=HTMLResponse, summary="Dashboard: register a meter (form post)", responses=_FORM
)
async def register_form(request: Request, store: StoreDep, principal: PrincipalDep) -> Response:
    """
    The meters page's form (``application/x-www-form-urlencoded``): ``site_id``, ``serial``,
    ``designation`` (a Mini Meter's, from the catalog), ``ct_ratio`` (default the designation's) and
    ``role`` (unit, house, master, production), registered as ``POST /meters`` registers it. Done: 303
    back to the page, at the new meter; refused: the page again (400) naming every problem, nothing
    stored.
    """
    form = await read_form(request)
    site_id = (await run_in_threadpool(form_site, store, form)).id
    made, found = await run_in_threadpool(_refused, lambda: register(store, form))
    if found:
        return await run_in_threadpool(
            meters_page_response, request, store, principal, site_id,
            form=ManageForm(found, form), status=400,
        )  # fmt: skip
    target = f"/dashboard/meters?site_id={site_id}#meter-{quote(made.serial, safe='')}"
    return RedirectResponse(done_target(target, "meter_register"), status_code=303, headers=SECURITY_HEADERS)


# -- the meter page's "Manage this meter" -----------------------------------------------------------------


def meter_manage_context(
    request: Request, store: Store, principal: Principal, meter: Meter
) -> dict[str, Any]:
    """What the meter page's "Changes in its life" and "Manage this meter" sections show: the meter's
    changes in words, whether the caller may act, and a refused form's problems and values."""
    from meshmeter.api.dashboard.meters_page import LIFE_ACTIONS, change_lines
    from meshmeter.services import meterlife

    _, changes = meterlife.history(store, meter=meter.serial)
    form = getattr(request.state, "meter_form", None)
    serving = {u.meter_id for u in store.units(site_id=meter.site_id)} if meter.site_id else set()
    others = (
        [  # an exchange puts in a meter that measures no unit yet
            m for m in store.meters(site_id=meter.site_id) if m.id != meter.id and m.id not in serving
        ]
        if meter.site_id
        else []
    )
    return {
        "life": change_lines(store, meter, changes),
        "may_manage": _may(principal, "POST", "/dashboard/meters/{serial}"),
        "life_actions": LIFE_ACTIONS,
        "manage_errors": [] if form is None else form.errors,
        "manage_values": {} if form is None else form.values,
        "exchange_candidates": others,
    }


def _number(name: str, text: str, found: list[str]) -> float | None:
    """The form's number ``name``, in the words pydantic gives the API for the same bad value."""
    try:
        value: float = TypeAdapter(float).validate_python(text.strip())
    except ValidationError as exc:
        found.append(f"{name}: {exc.errors()[0]['msg']}")
        return None
    return value


def manage(store: Store, serial: str, form: dict[str, str], by: str) -> Any:
    """
    One act of the meter page's form on meter ``serial``, through :mod:`meshmeter.services.meterlife` as
    the API's routes call it; reads in kWh as the CLI takes them, times local to the meter's site.

    Raises
    ------
    MeterLifeError, ValueError
        Naming every problem; nothing is stored then.
    """
    from meshmeter.api.dashboard.meters_page import LIFE_ACTIONS
    from meshmeter.services import meterlife
    from meshmeter.services.tenancy import effective_instant, site_timezone

    action = form.get("action", "")
    at = form.get("at", "").strip()
    if action not in LIFE_ACTIONS:
        raise ValueError(f"action must be one of {', '.join(LIFE_ACTIONS)}, got {action!r}")
    if action == "install":
        return meterlife.install(store, meter=serial, at=at, first_read=form.get("first_read_kwh", ""), by=by)
    if action == "remove":
        return meterlife.remove(store, meter=serial, at=at, final_read=form.get("final_read_kwh", ""), by=by)
    if action == "exchange":
        return meterlife.exchange(
            store,
            old=serial,
            new=form.get("new", "").strip(),
            at=at,
            final_read=form.get("final_read_kwh", ""),
            first_read=form.get("first_read_kwh", ""),
            by=by,
        )
    found: list[str] = []
    value = _number("value", form.get("value", ""), found)
    read = _blank(form.get("read_kwh"))
    if value is None:  # named with the other fields' problems, by the service's own parsers
        meter = store.get_meter(serial=serial)
        zone_name = site_timezone(store, None if meter is None else meter.site_id)
        try:
            effective_instant("at", at, zone_name)
        except ValueError as exc:
            found.append(str(exc))
        try:
            _ = read is None or meterlife.kwh_to_wh("read_kwh", read)
        except ValueError as exc:
            found.append(str(exc))
        raise ValueError("; ".join(found))
    if action == "multiplier":
        return meterlife.change_multiplier(store, meter=serial, at=at, multiplier=value, read=read, by=by)
    return meterlife.change_ct_ratio(store, meter=serial, at=at, ct_ratio=value, read=read, by=by)


@router.post(
    "/meters/{serial}",
    response_class=HTMLResponse,
    summary="Dashboard: manage a meter (form post)",
    responses=_FORM,
)
async def manage_form(request: Request, serial: str, store: StoreDep, principal: PrincipalDep) -> Response:
    """
    The meter page's "Manage this meter" form (``application/x-www-form-urlencoded``): ``action``
    (``exchange``, ``remove``, ``install``, ``multiplier``, ``ct_ratio``), ``at`` (a date is local
    midnight of the meter's site, a time without an offset local time there), and the action's fields:
    ``final_read_kwh`` and ``first_read_kwh`` (register reads in kWh, to the Wh), ``new`` (the serial of
    the meter put in its place), ``value`` (the new multiplier or CT ratio) and ``read_kwh`` (optional).
    The same checks as ``POST /meters/{serial}/...`` and ``meshmeter meter ...``. Done: 303 back to the
    meter page; refused: the meter page again (400) naming every problem, nothing changed; 404 for an
    unknown meter.
    """
    form = await read_form(request)
    meter = await run_in_threadpool(store.get_meter, serial=serial)
    if meter is None:
        raise Problem(404, f"no meter has serial {serial!r}")
    _, found = await run_in_threadpool(_refused, lambda: manage(store, serial, form, principal.recorded_as))
    if found:
        from meshmeter.api.routes.dashboard import meter_page

        request.state.meter_form = ManageForm(found, form)
        page = await run_in_threadpool(meter_page, request, serial, store, principal)
        page.status_code = 400
        return page
    target = done_target(f"/dashboard/meters/{quote(serial, safe='')}#life", f"meter_{form['action']}")
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


# -- the sources page's forms ------------------------------------------------------------------------


def source_forms_context(
    request: Request, store: Store, principal: Principal, site: Site | None
) -> dict[str, Any]:
    """What the sources page adds for its forms: the meters by their names (for a channel's meter and the
    names of the meters each source feeds), whether the caller may act, and a refused form's problems."""
    from meshmeter.api.dashboard.meters_page import site_meter_names

    form = getattr(request.state, "sources_form", None)
    names = site_meter_names(store, site, _now())
    return {
        "may_act": _may(principal, "POST", "/dashboard/sources"),
        "meter_names": {n.serial: n for n in names.values()},
        "source_kinds": _SOURCE_KINDS,
        "channel_units": _CHANNEL_UNITS,
        "errors": [] if form is None else form.errors,
        "values": {} if form is None else form.values,
    }


def settings_of(text: str) -> dict[str, Any]:
    """A source's settings typed one ``KEY=VALUE`` a line (or separated by commas), read as ``meshmeter
    source add --setting`` reads them (:func:`meshmeter.services.sources.setting_pairs`), blanks around
    each key and value left out."""
    pairs = (p.strip() for line in text.splitlines() for p in line.split(","))
    return setting_pairs(
        (re.sub(r"\s*=\s*", "=", pair, count=1) for pair in pairs if pair), what="settings take"
    )


def _model(model: type[BaseModel], fields: dict[str, Any]) -> Any:
    return model.model_validate({k: v for k, v in fields.items() if v is not None})


def act_on_sources(store: Store, site_id: int, form: dict[str, str]) -> Any:
    """
    One act of the sources page's form, through the API's routes (over :mod:`meshmeter.services.sources`).

    Raises
    ------
    Problem, ValidationError, MeshmeterError, ValueError
        Naming what is wrong; nothing is stored then.
    """
    from meshmeter.api.routes import sources as api

    action = form.get("action", "")
    if action == "add":
        try:
            settings = settings_of(form.get("settings", ""))
        except ValueError as exc:  # named with what the kind, format and address are refused for
            from meshmeter.collect.runner import source_problems

            kind, format_, address = (form.get(k, "").strip() for k in ("kind", "format", "address"))
            raise ValueError("; ".join([str(exc), *source_problems(kind, format_, address, {})])) from None
        body = {
            "name": form.get("name", "").strip(),
            "kind": form.get("kind", "").strip(),
            "format": form.get("format", "").strip(),
            "address": form.get("address", "").strip(),
            "settings": settings,
            "enabled": form.get("enabled", "true") != "false",
        }
        return api.create_source(site_id, _model(api.SourceCreate, body), store)
    source_id = form_id(form, "source_id")
    if action in ("enable", "disable", "map"):
        if (
            source_id is None
            or (found := store.get_source(source_id=source_id)) is None
            or found.site_id != site_id
        ):
            raise Problem(400, f"source_id: no source of this site has id {form.get('source_id', '')!r}")
        if action == "map":
            body = {
                "device": form.get("device", "").strip(),
                "channel": form.get("channel", "").strip(),
                "meter": form.get("meter", "").strip(),
                "unit": form.get("unit", "").strip(),
                "wh_per_unit": _blank(form.get("wh_per_unit")),
            }
            return api.create_channel(source_id, _model(api.ChannelCreate, body), store)
        return api.update_source(
            source_id, api.SourceUpdate.model_validate({"enabled": action == "enable"}), store
        )
    raise ValueError(f"action must be one of {', '.join(SOURCE_ACTIONS)}, got {action!r}")


@router.post(
    "/sources",
    response_class=HTMLResponse,
    summary="Dashboard: add, enable, disable or map a source (form post)",
    responses=_FORM,
)
async def sources_form(request: Request, store: StoreDep, principal: PrincipalDep) -> Response:
    """
    The sources page's forms (``application/x-www-form-urlencoded``), by ``action``: ``add`` a source
    (``name``, ``kind``, ``format``, ``address``, ``settings`` one ``KEY=VALUE`` a line, as ``meshmeter
    source add`` takes them), ``enable`` or ``disable`` one (``source_id``, as ``PATCH /sources/{id}``),
    or ``map`` a channel of one to a meter (``source_id``, ``device``, ``channel``, ``meter`` by serial,
    ``unit``, ``wh_per_unit``); always ``site_id``. The same checks as the API and the CLI. Done: 303
    back to the page, at the source; refused: the page again (400) naming every problem, nothing changed.
    """
    form = await read_form(request)
    site_id = (await run_in_threadpool(form_site, store, form)).id
    done, found = await run_in_threadpool(_refused, lambda: act_on_sources(store, site_id, form))
    if found:
        from meshmeter.api.routes.sources import sources_page

        request.state.sources_form = ManageForm(found, form)
        page = await run_in_threadpool(sources_page, request, store, principal, site_id)
        page.status_code = 400
        return page
    source_id = getattr(done, "id", None) if form.get("action") != "map" else form_id(form, "source_id")
    anchor = "" if source_id is None else f"#source-{source_id}"
    target = done_target(f"/dashboard/sources?site_id={site_id}{anchor}", f"source_{form['action']}")
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
