"""Tenants, units and accounts managed from the dashboard (issue 15; ``docs/dashboard.md``, "Tenants and
units"): the tenants page of a site, an account's page, and their one form.

Each act of the form calls what the API's route and the CLI's command call, so that a tenancy is checked
once, the same from every door: :mod:`meshmeter.services.tenancy` (``move_in``, ``move_out``,
``transfer``, ``close_account``, ``create_unit``, and ``new_tenant``: a tenant, its account and its
move-in, stored together or not at all), over the store the caller sees. Who acted is recorded as the
caller (:attr:`~meshmeter.api.auth.Principal.recorded_as`). Signed in with the session cookie, which counts
on this post only from the dashboard's own pages (:data:`~meshmeter.api.auth.COOKIE_FORMS`). Done: 303
back to the page; refused: the page again (400) naming every problem in the domain's own words (those
the API answers with), what was typed kept, nothing changed. A move-out and a close are confirmed first:
the page says what will happen ("Alvarez household leaves Unit 101 on 2026-12-01 00:00 PST") and asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from meshmeter.api.auth import ROUTE_ROLES, Principal
from meshmeter.api.dashboard import DASHBOARD_PREFIX, SECURITY_HEADERS, render, safe_next
from meshmeter.api.dashboard.forms import done_target, form_id, form_site, read_form
from meshmeter.api.deps import PrincipalDep, StoreDep, StoreId, known_site
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.api.scope import is_scoped
from meshmeter.errors import TenancyError
from meshmeter.intervals import zone
from meshmeter.services import tenancy
from meshmeter.store import Account, Site, Store

__all__ = ["ACTIONS", "router"]

router = APIRouter(prefix="/dashboard", tags=["dashboard"], route_class=GuardedRoute)

_HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "The page (HTML)"}
}
_FORM = {303: {"description": "Done: back to the page"}, **problems(400, 403, 404, 413)}

ACTIONS = ("new_tenant", "move_in", "move_out", "transfer", "close", "new_unit")
"""The acts of the form."""

_CONFIRMED = ("move_out", "close")
"""The acts the page asks to confirm, saying what they will do."""


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _may_act(principal: Principal) -> bool:
    return principal.role in ROUTE_ROLES[("POST", "/dashboard/tenants")]


def _meter_links(principal: Principal) -> bool:
    """Whether the role may open a meter's page: then a serial links to it."""
    return principal.role in ROUTE_ROLES[("GET", "/dashboard/meters/{serial}")]


def _local(value: datetime, site: Site) -> str:
    local = value.astimezone(zone(site.timezone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".strip()


@dataclass
class Shown:
    """What a post shows on the page again: the problems of a refused act, or the question of an act to
    confirm; the values typed and the act, so that nothing is typed twice."""

    action: str
    values: dict[str, str]
    errors: list[str]
    confirm: str | None = None


class RefusedError(Exception):
    """An act refused: every problem, one a line."""

    def __init__(self, problems_: list[str]) -> None:
        super().__init__("; ".join(problems_))
        self.problems = problems_


def _problems_of(exc: ValueError) -> list[str]:
    """The problems a refusal names: a tenancy's list, or a bad value's sentences."""
    if isinstance(exc, TenancyError):
        return list(exc.problems)
    return [p for p in str(exc).split("; ") if p]


def _blank(form: dict[str, str], name: str) -> str | None:
    text = form.get(name, "").strip()
    return text or None


def _number(text: str | None, kind: type[int] | type[float]) -> Any:
    """A form's number as a number; anything else as typed, for the store's own check to name."""
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        return text


def _account(store: Store, form: dict[str, str]) -> Account:
    account_id = form_id(form, "account_id")
    account = None if account_id is None else store.get_account(account_id=account_id)
    if account is None:
        given = form.get("account_id", "")
        raise RefusedError([f"account_id {given!r} names no account: choose one of the site's"])
    return account


def _unit_id(store: Store, form: dict[str, str], account: Account) -> int:
    text = form.get("unit", "").strip()
    if not text:
        raise RefusedError(["unit must be chosen (the unit moved into)"])
    return tenancy.resolve_unit(store, unit=text, account_id=account.id)


def perform(store: Store, site: Site, form: dict[str, str], by: str) -> str:
    """
    One act of the form on ``site``; the fragment of the page to go back to (``unit-3``, ``account-7``).

    Raises
    ------
    RefusedError
        Naming every problem; nothing was stored.
    """
    action = form.get("action", "")
    try:
        if action == "new_tenant":
            unit = _blank(form, "unit")
            _, account, _ = tenancy.new_tenant(
                store,
                name=form.get("name", ""),
                site_id=site.id,
                number=_blank(form, "number"),
                unit_id=None if unit is None else _number(unit, int),
                at=_blank(form, "at"),
                by=by,
            )
            return f"account-{account.id}"
        if action == "new_unit":
            made = tenancy.create_unit(
                store,
                site_id=site.id,
                name=form.get("name", "").strip(),
                meter=form.get("meter", "").strip(),
                address=_blank(form, "address"),
                by=by,
                floor_area_ft2=_number(_blank(form, "floor_area_ft2"), float),
                occupants=_number(_blank(form, "occupants"), int),
            )
            return f"unit-{made.id}"
        if action not in ACTIONS:
            raise RefusedError([f"action must be one of {', '.join(ACTIONS)}, got {action!r}"])
        account = _account(store, form)
        at = form.get("at", "")
        if action == "move_in":
            tenancy.move_in(
                store, account_id=account.id, unit_id=_unit_id(store, form, account), at=at, by=by
            )
        elif action == "transfer":
            unit_id = _unit_id(store, form, account)
            tenancy.transfer(store, account_id=account.id, unit_id=unit_id, at=at, by=by)
        elif action == "move_out":
            tenancy.move_out(store, account_id=account.id, at=at, by=by)
        else:
            tenancy.close_account(store, account_id=account.id, at=at.strip() or None, by=by)
        return f"account-{account.id}"
    except ValueError as exc:  # a TenancyError is one
        raise RefusedError(_problems_of(exc)) from None


def question(store: Store, site: Site, form: dict[str, str], *, now: datetime) -> str | None:
    """
    What a move-out or a close will do, in words, to ask before doing it; None when there is nothing to
    ask (the act is done, or refused, at once: an account with no unit to leave, one closed already).

    Raises
    ------
    RefusedError
        An account that names none, a time that is not one.
    """
    account = _account(store, form)
    tenant = store.get_tenant(tenant_id=account.tenant_id)
    who = "–" if tenant is None else tenant.name
    text = form.get("at", "").strip()
    try:
        at = (
            now
            if not text and form.get("action") == "close"
            else tenancy.effective_instant("at", text, site.timezone)
        )
    except ValueError as exc:
        raise RefusedError(_problems_of(exc)) from None
    if form.get("action") == "move_out":
        current = [o for o in store.occupancies(account_id=account.id) if o.move_out is None]
        if not current or account.closed_at is not None:
            return None
        return (
            f"{who} leaves Unit {current[-1].unit} on {_local(at, site)} (account {account.number}); "
            "the account stays open."
        )
    if account.closed_at is not None:
        return None
    return f"Account {account.number} of {who} closes on {_local(at, site)}: it takes no move-in afterwards."


# -- the pages ------------------------------------------------------------------------------------------


def tenants_response(
    request: Request,
    store: Store,
    principal: Principal,
    site_id: int | None,
    *,
    shown: Shown | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The tenants page (``GET /dashboard/tenants``), also shown again by a post with its problems or its
    question."""
    from meshmeter.api.dashboard.tenants import tenants_page

    sites = store.sites()
    site = sites[0] if site_id is None and sites else None
    if site_id is not None:
        site = known_site(store, site_id)
    now = _now()
    back = f"{DASHBOARD_PREFIX}/tenants" + ("" if site is None else f"?{urlencode({'site_id': site.id})}")
    return render(
        request,
        "tenants.html",
        role=principal.role,
        status=status,
        site=site,
        sites=sites,
        zone=zone(site.timezone) if site is not None else UTC,
        page=tenants_page(store, site, now=now),
        may_act=_may_act(principal),
        meter_links=_meter_links(principal),
        back=back,
        shown=shown,
    )


def account_response(
    request: Request,
    store: Store,
    principal: Principal,
    account_id: int,
    *,
    shown: Shown | None = None,
    status: int = 200,
) -> HTMLResponse:
    """An account's page (``GET /dashboard/accounts/{account_id}``), also shown again by a post."""
    from meshmeter.api.dashboard.tenants import account_page, tenants_page

    account = store.get_account(account_id=account_id)
    if account is None:
        raise Problem(404, f"no account has id {account_id}")
    site = None if account.site_id is None else store.get_site(site_id=account.site_id)
    local = UTC if site is None else zone(site.timezone)
    now = _now()
    page = account_page(store, account, local, now=now)
    provider = None if is_scoped(store) else getattr(request.app.state, "bills", None)
    bills = []
    if provider is None:  # the bills page numbers the store's bills: this account's are linked by number
        bills = [(n, b) for n, b in enumerate(store.list_bills(), start=1) if b.account_id == account.id]
    return render(
        request,
        "account.html",
        role=principal.role,
        status=status,
        site=site,
        zone=local,
        page=page,
        units=tenants_page(store, site, now=now) if site is not None else None,
        bills=bills,
        bills_elsewhere=provider is not None,
        may_act=_may_act(principal),
        meter_links=_meter_links(principal),
        back=f"{DASHBOARD_PREFIX}/accounts/{account.id}",
        shown=shown,
    )


@router.get(
    "/tenants",
    response_class=HTMLResponse,
    summary="Dashboard: tenants and units of a site",
    responses={**_HTML, **problems(404)},
)
def tenants_get(
    request: Request,
    store: StoreDep,
    principal: PrincipalDep,
    site_id: Annotated[StoreId | None, Query(description="the site; default the first")] = None,
) -> HTMLResponse:
    """
    The tenants page (HTML): the site's units, each with its address, floor area, meter and who lives
    there now (tenant, account, since) or vacant; the accounts in no unit, and the closed ones apart;
    for the roles that may act, the forms: a new tenant (moving in at once or not), move in, move out,
    transfer, close, a new unit. 404 for an unknown site.
    """
    return tenants_response(request, store, principal, site_id)


@router.get(
    "/accounts/{account_id}",
    response_class=HTMLResponse,
    summary="Dashboard: one account",
    responses={**_HTML, **problems(404)},
)
def account_get(
    account_id: StoreId, request: Request, store: StoreDep, principal: PrincipalDep
) -> HTMLResponse:
    """
    An account's page (HTML): its tenant and number, its occupancies over time, its history in words with
    who recorded each change and when (as ``GET /accounts/{id}/history``), its bills, and for the roles
    that may act the forms that apply to it now. 404 for an unknown account.
    """
    return account_response(request, store, principal, account_id)


def _again(
    request: Request, store: Store, principal: Principal, site: Site, back: str, shown: Shown, status: int
) -> HTMLResponse:
    """The page the form came from, shown again with ``shown``."""
    prefix = f"{DASHBOARD_PREFIX}/accounts/"
    if back.startswith(prefix) and back[len(prefix) :].isdigit():
        return account_response(
            request, store, principal, int(back[len(prefix) :]), shown=shown, status=status
        )
    return tenants_response(request, store, principal, site.id, shown=shown, status=status)


@router.post(
    "/tenants", response_class=HTMLResponse, summary="Dashboard: manage tenants (form post)", responses=_FORM
)
async def tenants_form(request: Request, store: StoreDep, principal: PrincipalDep) -> Response:
    """
    The tenants page's form and the account page's (``application/x-www-form-urlencoded``): ``site_id``,
    ``action`` and its fields: ``new_tenant`` (``name``, ``number``, and ``unit`` with ``at`` to move in
    at once), ``move_in`` and ``transfer`` (``account_id``, ``unit``, ``at``), ``move_out`` (``account_id``,
    ``at``), ``close`` (``account_id``, ``at``; default now), ``new_unit`` (``name``, ``meter``,
    ``address``, ``floor_area_ft2``, ``occupants``). A move-out or a close without ``confirm=yes`` shows
    the page asking to confirm, saying what it will do. Done: 303 back to the page (``back``); refused:
    the page again (400) naming every problem, nothing changed.
    """
    form = await read_form(request)
    back = safe_next(form.get("back"))
    site = await run_in_threadpool(form_site, store, form)
    action = form.get("action", "")
    values = {k: v for k, v in form.items() if k not in ("confirm", "back")}

    def act() -> tuple[str | None, Shown | None]:
        if action in _CONFIRMED and form.get("confirm") != "yes":
            asked = question(store, site, form, now=_now())
            if asked is not None:
                return None, Shown(action, values, [], confirm=asked)
        return perform(store, site, form, principal.recorded_as), None

    try:
        fragment, shown = await run_in_threadpool(act)
    except RefusedError as exc:
        shown, status = Shown(action, values, exc.problems), 400
        return await run_in_threadpool(_again, request, store, principal, site, back, shown, status)
    if shown is not None:
        return await run_in_threadpool(_again, request, store, principal, site, back, shown, 200)
    target = done_target(f"{back}#{fragment}", action)
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
