"""The tariff of an account, kept by the head-end (``docs/api.md``; ``docs/billing.md``, "The tariff of an
account"; :mod:`meshmeter.services.account_tariffs`).

``PUT`` sets the account's tariff from a date on (a setting appended: the history is kept); ``GET`` gives
the tariff in force now, since when, who set it, and every setting. ``POST /accounts/{account_id}/bills``
without a tariff bills at the one in force at the period's end. A tenant reads its own account's tariff
only; a token bound to sites reads and sets those of its sites' accounts (another is 404, as if it did not
exist).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from starlette.concurrency import run_in_threadpool

from meshmeter.api.auth import ROUTE_ROLES, Principal
from meshmeter.api.dashboard import SECURITY_HEADERS
from meshmeter.api.dashboard.forms import done_target, form_site, read_form
from meshmeter.api.deps import Name, PrincipalDep, StoreDep, StoreId, TimeText, known_site
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.billing.tariff import ExampleTariff
from meshmeter.services.account_tariffs import TariffSettingError, set_tariff, set_tariffs
from meshmeter.services.tenancy import site_timezone
from meshmeter.store import AccountTariff, Store

__all__ = ["AccountTariffIn", "AccountTariffPublic", "TariffSettingPublic", "router"]

router = APIRouter(tags=["billing"], route_class=GuardedRoute)


class AccountTariffIn(BaseModel):
    """The tariff to set: a URDB document or an example, and from when."""

    model_config = ConfigDict(extra="forbid")

    tariff: dict[str, JsonValue] | list[JsonValue] | None = Field(
        None,
        description="the URDB rate document as published: one rate, a list of rates, or the URDB API's "
        "{items: [...]}; kept exactly as given",
    )
    example: ExampleTariff | None = Field(
        None, description="an example tariff shipped with meshmeter, instead of a document"
    )
    label: Name | None = Field(None, description="the rate's URDB label, when the document holds several")
    period_names: dict[str, dict[str, Name]] | Name | None = Field(
        None,
        description="period names merged into the rate: {kind: {period: name}} (kinds energy, demand, "
        "flat_demand, coincident; periods 0-based) or the command line's text, 0=peak,1=off-peak",
    )
    effective: TimeText | None = Field(
        None,
        description="in force from: ISO 8601 date (the site's local midnight) or date-time (local without "
        "an offset); default from the account's start (its opening or first move-in, the earlier) for "
        "its first tariff, else now",
    )


class TariffSettingPublic(BaseModel):
    """One setting of the account's tariff."""

    id: int
    name: str = Field(description="the tariff's name, as bills print it")
    label: str | None = Field(description="the URDB label of the rate chosen in the document")
    period_names: dict[str, dict[str, str]] | None = Field(description="period names merged into the rate")
    sha256: str = Field(description="SHA-256 of the rate read, 64 hex digits: what a bill at it records")
    effective_from: datetime = Field(description="in force from this instant (UTC) on")
    set_by: str | None = Field(description="who set it")
    set_at: datetime


class AccountTariffPublic(BaseModel):
    """An account's tariff in force now, and every setting of it."""

    account_id: int
    account: str = Field(description="the account's number")
    timezone: str = Field(description="IANA zone of the account's site: dates given are local to it")
    in_force: TariffSettingPublic | None = Field(
        description="the setting in force now; null after a PUT from a later date only"
    )
    document: JsonValue = Field(description="the URDB document of the setting in force, as it was given")
    history: list[TariffSettingPublic] = Field(description="every setting, oldest first")


def _setting(s: AccountTariff) -> TariffSettingPublic:
    return TariffSettingPublic(
        id=s.id,
        name=s.name,
        label=s.label,
        period_names=s.period_names,
        sha256=s.sha256,
        effective_from=s.effective_from,
        set_by=s.set_by,
        set_at=s.set_at,
    )


def _public(store: Store, account_id: int, *, required: bool) -> AccountTariffPublic:
    account = store.get_account(account_id=account_id)
    if account is None:
        raise Problem(404, f"no account has id {account_id}")
    in_force = store.account_tariff(account_id=account.id, at=datetime.now(UTC))
    history = store.account_tariffs(account_id=account.id)
    if in_force is None and required:
        later = f"; one is set from {history[0].effective_from.isoformat()}" if history else ""
        raise Problem(
            404,
            f"account {account.number} has no tariff in force now{later}: set one with "
            f"PUT /accounts/{account.id}/tariff",
        )
    return AccountTariffPublic(
        account_id=account.id,
        account=account.number,
        timezone=site_timezone(store, account.site_id),
        in_force=None if in_force is None else _setting(in_force),
        document=None if in_force is None else in_force.document,
        history=[_setting(s) for s in history],
    )


@router.get(
    "/accounts/{account_id}/tariff",
    response_model=AccountTariffPublic,
    summary="The tariff of an account in force now, and its history",
    responses=problems(404),
)
def get_account_tariff(account_id: StoreId, store: StoreDep) -> AccountTariffPublic:
    """The account's tariff in force now: its name, URDB label, period names, SHA-256, since when and who
    set it, its document as given, and every setting of the account, oldest first. 404 for an unknown
    account (a tenant's other than its own) or one with no tariff in force."""
    return _public(store, account_id, required=True)


@router.put(
    "/accounts/{account_id}/tariff",
    response_model=AccountTariffPublic,
    summary="Set the tariff of an account from a date on",
    responses=problems(400, 404, 409),
)
def put_account_tariff(
    account_id: StoreId, body: AccountTariffIn, store: StoreDep, principal: PrincipalDep
) -> AccountTariffPublic:
    """Set the account's tariff from ``effective`` on: a URDB document (``label`` chooses a rate of
    several) or an example, with period names merged. The rate is read by the parser bills use; every
    setting is kept. 400 naming every problem (the document, the label, the period names, the date),
    404 for an unknown account, 409 for a closed one's tariff from its close on (a tariff before it
    prices the final bill); nothing is stored then. The answer is the account's
    tariff afterwards (the one in force now, which a setting from a later date does not change yet)."""
    try:
        set_tariff(
            store,
            account_id=account_id,
            document=body.tariff,
            example=body.example,
            label=body.label,
            period_names=body.period_names,
            effective=body.effective,
            by=principal.recorded_as,
        )
    except TariffSettingError as exc:
        status = 404 if exc.unknown else 409 if exc.closed and len(exc.problems) == 1 else 400
        raise Problem(status, str(exc)) from None
    return _public(store, account_id, required=False)


# -- the dashboard's Tariffs page and its form ------------------------------------------------------------


def tariffs_page_response(
    request: Request,
    store: Store,
    principal: Principal,
    site_id: int | None,
    *,
    errors: list[str] | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The Tariffs page (``GET /dashboard/tariffs``), also shown again by a refused form post with its
    errors and what was typed."""
    from meshmeter.api.dashboard import render
    from meshmeter.api.dashboard.tariffs import EXAMPLE_NAMES, tariffs_page
    from meshmeter.api.dashboard.views import site_zone

    sites = store.sites()
    site = sites[0] if site_id is None and sites else None
    if site_id is not None:
        site = known_site(store, site_id)
    typed = typed or {}
    return render(
        request,
        "tariffs.html",
        role=principal.role,
        status=status,
        site=site,
        sites=sites,
        zone=site_zone(site),
        page=tariffs_page(store, site, now=datetime.now(UTC)),
        examples=EXAMPLE_NAMES,
        may_act=principal.role in ROUTE_ROLES[("POST", "/dashboard/tariffs")],
        checked={int(k.removeprefix("account_")) for k in typed if _CHECKED.fullmatch(k)},
        typed=typed,
        errors=errors or [],
    )


_CHECKED = re.compile(r"account_[1-9][0-9]{0,17}")
"""A checked account of the form: ``account_<id>=yes``."""


@router.get(
    "/dashboard/tariffs",
    response_class=HTMLResponse,
    summary="Dashboard: the tariff of each account of a site",
    responses={200: {"content": {"text/html": {}}, "description": "The page (HTML)"}, **problems(404)},
)
def tariffs_get(
    request: Request,
    store: StoreDep,
    principal: PrincipalDep,
    site_id: Annotated[StoreId | None, Query(description="the site; default the first")] = None,
) -> HTMLResponse:
    """The Tariffs page (HTML): every account of the site, names first (unit, tenant, account number),
    with its tariff in force, since when and who set it; every setting made; and the form that sets the
    tariff of the accounts checked. 404 for an unknown site."""
    return tariffs_page_response(request, store, principal, site_id)


def _set_from_form(store: Store, site_id: int, form: dict[str, str], by: str) -> list[AccountTariff]:
    """The form's setting, through the service the API and the CLI call; ``TariffSettingError`` naming
    every problem (the JSON of a pasted document's too)."""
    site = known_site(store, site_id)
    found: list[str] = []
    ids = [int(k.removeprefix("account_")) for k, v in form.items() if _CHECKED.fullmatch(k) and v]
    # an account of another site is not this page's: named as unknown, as the store would
    mine = {a.id for a in store.accounts(site_id=site.id)}
    for account_id in ids:
        if account_id not in mine:
            found.append(f"account_id {account_id} is not an account of site {site.name!r}")
    ids = [i for i in ids if i in mine]
    if not ids and not found:
        found.append("choose at least one account: check it in the table")
    source = form.get("source", "example")
    document: Any = None
    example: str | None = None
    if source == "document":
        text = form.get("document", "").strip()
        if not text:
            found.append("paste the URDB document (JSON) into the box, or read a file into it")
        else:
            try:
                document = json.loads(text)
            except json.JSONDecodeError as exc:
                found.append(f"the tariff document is not JSON: {exc}")
    elif source == "example":
        example = form.get("example", "")
    else:
        found.append(f"source must be example or document, got {source!r}")
    said = bool(found)  # no account, or no document: named above, not again below
    try:
        made = set_tariffs(
            store,
            account_ids=ids if not said else [],
            document=document,
            example=example,
            label=form.get("label") if source == "document" else None,
            period_names=form.get("period_names"),
            effective=form.get("effective"),
            by=by,
        )
    except TariffSettingError as exc:
        skipped = ("choose at least one account", "give exactly one of tariff (a URDB document) and example")
        found.extend(p for p in exc.problems if not (said and p in skipped))
    else:
        if not said:
            return made
    raise TariffSettingError(found)


@router.post(
    "/dashboard/tariffs",
    response_class=HTMLResponse,
    summary="Dashboard: set the tariff of accounts (form post)",
    responses={303: {"description": "Done: back to the page"}, **problems(400, 403, 404, 413)},
)
async def tariffs_form(request: Request, store: StoreDep, principal: PrincipalDep) -> Response:
    """
    The Tariffs page's form (``application/x-www-form-urlencoded``): ``site_id``, the accounts checked
    (``account_<id>=yes``), ``source`` (``example`` or ``document``), ``example`` or ``document`` (the
    URDB JSON) with ``label``, ``period_names`` and ``effective``. Signed in with the session cookie,
    which counts on this post only from the dashboard's own pages
    (:data:`~meshmeter.api.auth.COOKIE_FORMS`). Done: 303 back to the page; refused: the page again (400)
    naming every problem, what was typed kept, nothing changed.
    """
    form = await read_form(request)
    site_id = (await run_in_threadpool(form_site, store, form)).id
    try:
        made = await run_in_threadpool(_set_from_form, store, site_id, form, principal.recorded_as)
    except TariffSettingError as exc:
        return await run_in_threadpool(
            tariffs_page_response, request, store, principal, site_id,
            errors=exc.problems, typed=form, status=400,
        )  # fmt: skip
    target = f"/dashboard/tariffs?{urlencode({'site_id': site_id})}#account-{made[0].account_id}"
    return RedirectResponse(done_target(target, "tariff_set"), status_code=303, headers=SECURITY_HEADERS)
