"""The VEE work list of a site: the intervals VEE flagged or estimated, and a person's acts on them
(``docs/vee.md``; :mod:`meshmeter.services.vee_worklist`).

A GET changes nothing. A POST accepts, edits or asks for a re-read of one interval, recorded in the edit
audit with the caller (:attr:`~meshmeter.api.auth.Principal.recorded_as`) and the reason given. A token
bound to sites sees and acts on its sites only (another is 404, as if it did not exist).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from meshmeter.api.auth import ROUTE_ROLES, Principal
from meshmeter.api.dashboard import SECURITY_HEADERS, safe_next
from meshmeter.api.dashboard.forms import done_target, form_site, read_form
from meshmeter.api.deps import Name, PrincipalDep, StoreDep, StoreId, TimeText, known_site
from meshmeter.api.intervals import parse_instant, parse_timezone
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.services.vee_worklist import act, worklist, worklist_to_dict
from meshmeter.store import Store

__all__ = ["WorkItemPublic", "WorkListPublic", "WorklistActionIn", "router"]

router = APIRouter(tags=["vee"], route_class=GuardedRoute)


class CheckPublic(BaseModel):
    """A check that fired on the interval, and why."""

    check: str = Field(description="the check's name: spike, zero_run, missing, sum_check ...")
    reason: str = Field(description="why, in words")


class WorkItemPublic(BaseModel):
    """One interval of the work list: names first, the interval, why, the values and the state."""

    unit: str | None = Field(description="the unit the meter measures")
    label: str = Field(description="the meter's short name: the unit, else its role")
    tenant: str | None = Field(description="who lives there at the list's end; None: vacant")
    account: str | None = Field(description="the tenant's account number")
    occupant: str = Field(description="who lives there, with the account; vacant; an en dash for no unit")
    site: str | None
    site_id: int | None
    serial: str
    interval_end: str = Field(description="ISO 8601 UTC")
    local_end: str = Field(description="the interval's end in the site's local time")
    checks: list[CheckPublic]
    why: str = Field(description="the checks and their reasons, in words")
    raw_wh: int | None = Field(description="the latest raw value received; None: nothing received [Wh]")
    value_wh: int = Field(description="the value the validated view holds now [Wh]")
    quality: int = Field(description="its ESPI quality code now")
    estimate_wh: int | None = Field(description="VEE's estimate, where it made one [Wh]")
    method: str | None = Field(description="how: interpolation or reference like-day")
    state: str = Field(description="open, accepted, edited or reread")
    state_words: str = Field(description="the state in words")
    acted_by: str | None = Field(description="who acted on it last")
    acted_at: str | None = Field(description="when, ISO 8601 UTC")
    acted_reason: str | None = Field(description="why")


class WorkListPublic(BaseModel):
    """A site's work list, open intervals first."""

    data: list[WorkItemPublic]
    count: int


class WorklistActionIn(BaseModel):
    """One act on one interval of the work list."""

    action: str = Field(description="accept, edit or reread")
    serial: str = Field(description="the meter")
    interval_end: str = Field(
        default="", description="the interval's end: ISO 8601 date-time (local to the site without offset)"
    )
    value_wh: int | float | None = Field(
        default=None, description="edit only: the new value, whole Wh, 0 or more"
    )
    reason: str = Field(default="", description="why; required")


@router.get(
    "/sites/{site_id}/vee/worklist",
    response_model=WorkListPublic,
    summary="The VEE work list of a site",
    responses=problems(400, 404),
)
def get_worklist(
    site_id: StoreId,
    store: StoreDep,
    start: Annotated[
        TimeText | None, Query(description="ISO 8601 date (local midnight) or date-time")
    ] = None,
    end: Annotated[TimeText | None, Query(description="ISO 8601 date or date-time; default now")] = None,
    meter: Annotated[Name | None, Query(description="one meter, by serial")] = None,
    check: Annotated[Name | None, Query(description="only intervals this check flagged")] = None,
    state: Annotated[Name | None, Query(description="open, accepted, edited or reread")] = None,
) -> WorkListPublic:
    """Every interval of the site that VEE flagged (questionable) or estimated over ``(start, end]``,
    and those a person acted on: the meter's names and serial, the interval's end in local time, the
    checks that fired and why, the raw value, the estimate and its method, and the state. 400 naming
    every bad filter; 404 for an unknown site."""
    site = known_site(store, site_id)
    try:
        local = parse_timezone(site.timezone)
        t0 = None if start is None else parse_instant("start", start, local)
        t1 = None if end is None else parse_instant("end", end, local)
        items = worklist(store, site_id=site.id, start=t0, end=t1, meter=meter, check=check, state=state)
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    data = [WorkItemPublic.model_validate(worklist_to_dict(i)) for i in items]
    return WorkListPublic(data=data, count=len(data))


@router.post(
    "/sites/{site_id}/vee/worklist/actions",
    response_model=WorkItemPublic,
    summary="Accept, edit or ask for a re-read of an interval of the VEE work list",
    responses=problems(400, 404),
)
def post_worklist_action(
    site_id: StoreId, body: WorklistActionIn, store: StoreDep, principal: PrincipalDep
) -> WorkItemPublic:
    """Accept the flagged value or the estimate (stored as a person's edit, quality 7, so that bills
    count it), edit it to a new value, or ask for a re-read (recorded; no device can be asked for past
    intervals today); recorded in the edit audit with the caller and the reason. 400 naming every
    problem (unknown action or meter, empty reason, a value missing, negative or not whole, an interval
    not on the list), nothing changed; 404 for an unknown site."""
    return WorkItemPublic.model_validate(perform(store, site_id, body.model_dump(), principal.recorded_as))


def perform(store: Store, site_id: int, form: dict[str, Any], by: str) -> dict[str, Any]:
    """
    One act from a request's fields (the API's body, the dashboard's form): the item afterwards, as
    :func:`~meshmeter.services.vee_worklist.worklist_to_dict` gives it.

    Raises
    ------
    Problem
        404 for an unknown site; 400 naming every problem of the fields.
    """
    site = known_site(store, site_id)
    found: list[str] = []
    at = None
    text = str(form.get("interval_end") or "").strip()
    if text:
        try:
            at = parse_instant("interval_end", text, parse_timezone(site.timezone))
        except ValueError as exc:
            found.append(str(exc))
    value = form.get("value_wh")
    if isinstance(value, str):  # a form's text: a whole number becomes one, anything else is refused
        value = value.strip()
        value = None if not value else int(value) if value.lstrip("-").isdigit() else value
    try:
        item = act(
            store,
            action=str(form.get("action") or ""),
            meter=str(form.get("serial") or ""),
            interval_end=at,
            reason=str(form.get("reason") or ""),
            by=by,
            value_wh=value,
            site_id=site.id,
        )
    except ValueError as exc:
        given = bool(found)  # a bad time was named above: not again as missing
        found.extend(
            p
            for p in str(exc).split("; ")
            if p and not (given and p.startswith("interval_end must be given"))
        )
        raise Problem(400, "; ".join(found)) from None
    return worklist_to_dict(item)


# -- the dashboard's VEE page and its form ----------------------------------------------------------------


def _blank(value: str | None) -> str | None:
    return None if value is None or not value.strip() else value.strip()


def vee_page_response(
    request: Request,
    store: Store,
    principal: Principal,
    site_id: int | None,
    days: int,
    meter: str | None,
    check: str | None,
    state: str | None,
    *,
    errors: list[str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The VEE page (``GET /dashboard/vee``), also shown again by a refused form post with its errors."""
    from meshmeter.api.dashboard import render
    from meshmeter.api.dashboard.views import site_zone
    from meshmeter.api.dashboard.worklist import WorklistFilters, worklist_page

    site = store.sites()[0] if site_id is None and store.sites() else None
    if site_id is not None:
        site = known_site(store, site_id)
    filters = WorklistFilters(_blank(meter), _blank(check), _blank(state))
    shown: list[str] = list(errors or [])
    try:
        page = worklist_page(store, site, days=days, filters=filters, now=_now())
    except ValueError as exc:
        shown.extend(str(exc).split("; "))
        status = 400
        page = worklist_page(store, site, days=days, filters=WorklistFilters(), now=_now())
    query = urlencode(
        {
            k: v
            for k, v in (("site_id", site.id if site else None), ("days", days), *asdict(filters).items())
            if v
        }
    )
    return render(
        request,
        "vee.html",
        role=principal.role,
        status=status,
        site=site,
        sites=store.sites(),
        zone=site_zone(site),
        start=page.start,
        end=page.end,
        days=days,
        items=page.items,
        open_count=page.open_count,
        meters=page.meters,
        names=page.names,
        filters=filters,
        checks=page.checks,
        states=page.states,
        may_act=principal.role in ROUTE_ROLES[("POST", "/dashboard/vee")],
        back=f"/dashboard/vee?{query}",
        errors=shown,
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@router.post(
    "/dashboard/vee",
    response_class=HTMLResponse,
    summary="Dashboard: act on the VEE work list (form post)",
    responses={303: {"description": "Done: back to the page"}, **problems(400, 403, 404, 413)},
)
async def vee_form(request: Request, store: StoreDep, principal: PrincipalDep) -> Response:
    """
    The VEE page's form (``application/x-www-form-urlencoded``): ``site_id``, ``serial``,
    ``interval_end``, ``action`` (accept, edit, reread), ``reason`` and, to edit, ``value_wh``. Signed in
    with the session cookie, which counts on this post only from the dashboard's own pages
    (:data:`~meshmeter.api.auth.COOKIE_FORMS`). Done: 303 back to the page it came from; refused: the
    page again (400) naming every problem, nothing changed.
    """
    form = await read_form(request)
    back = safe_next(form.get("back"))
    site_id = (await run_in_threadpool(form_site, store, form)).id
    if form.get("action") != "edit":
        form.pop("value_wh", None)  # the form's value field counts for an edit only
    try:
        done = await run_in_threadpool(perform, store, site_id, form, principal.recorded_as)
    except Problem as exc:
        if exc.status_code != 400:
            raise
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return await run_in_threadpool(
            vee_page_response, request, store, principal, site_id, 31, None, None, None,
            errors=detail.split("; "), status=400,
        )  # fmt: skip
    target = done_target(f"{back}#{done['serial']}", f"vee_{form['action']}")
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
