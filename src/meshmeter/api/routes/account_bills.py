"""Bill a stored account at a tariff (California re-rating), as ``meshmeter bill --site S --account-number N``
does (``docs/api.md``; ``docs/billing.md``, "Billing a stored account";
:func:`~meshmeter.services.billing.bill_account_from_store`).

The request carries the URDB rate document (with ``label`` to choose a rate of several), or names one of
the examples shipped with meshmeter; with neither, the account is billed at its own tariff in force at the
period's end (``PUT /accounts/{account_id}/tariff``; :mod:`meshmeter.services.account_tariffs`). A token
bound to sites bills the accounts of its sites only (another is 404, as if it did not exist).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from meshmeter.api.deps import Name, StoreDep, StoreId, TimeText
from meshmeter.api.intervals import parse_instant, parse_timezone
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.billing import Bill, Tariff
from meshmeter.billing.reproduce import rebill
from meshmeter.billing.tariff import ExampleTariff
from meshmeter.services.account_tariffs import MissingTariffError, choose_tariff
from meshmeter.services.billing import bill_account_from_store, save_account_bill

router = APIRouter(tags=["billing"], route_class=GuardedRoute)

__all__ = ["MAX_PERIOD", "AccountBillPublic", "AccountBillRequest", "AccountBillsPublic", "router"]

MAX_PERIOD = timedelta(days=366)
"""The longest period billed at once: a year (a bill is for a month, an annual true-up for a year)."""


class AccountBillRequest(BaseModel):
    """The tariff, the period, and whether to keep the bills."""

    model_config = ConfigDict(extra="forbid")

    tariff: dict[str, JsonValue] | list[JsonValue] | None = Field(
        None,
        description="the URDB rate document: one rate, a list of rates, or the URDB API's {items: [...]}; "
        "with neither this nor example, the account's own tariff in force at the period's end",
    )
    example: ExampleTariff | None = Field(
        None, description="an example tariff shipped with meshmeter, instead of a document"
    )
    label: Name | None = Field(None, description="the rate's URDB label, when the document holds several")
    start: TimeText = Field(
        description="ISO 8601 date (local midnight) or date-time; without an offset, local"
    )
    end: TimeText = Field(description="ISO 8601 date or date-time, after start, at most a year on")
    save: bool = Field(
        False, description="keep each bill against the account (idempotent), carrying its pending corrections"
    )


class AccountBillPublic(BaseModel):
    """One bill of the account: a tenure of a unit in the period."""

    bill_id: int | None = Field(description="the stored bill's id, with save; else null")
    new: bool | None = Field(description="with save: whether the bill was stored now (false: already stored)")
    unit: str | None = Field(description="the unit occupied")
    meter: str = Field(description="serial number of the meter billed (the one serving at the period's end)")
    energy_wh: int = Field(description="energy billed [Wh]")
    printed_total: Decimal = Field(description="total of the cent-rounded lines: what is due [USD]")
    document: dict[str, Any] = Field(
        description="the whole bill as GET /bills/{bill_id} gives it, without the intervals"
    )


class AccountBillsPublic(BaseModel):
    """An account's bills for a period: one per tenure of a unit in it (a transfer: one per unit)."""

    account_id: int
    account: str = Field(description="the account's number")
    tenant: str | None = Field(description="the tenant's name, as printed on the bills")
    site_id: int | None
    start: datetime
    end: datetime
    timezone: str = Field(description="IANA time zone of the tariff's local time: the site's")
    bills: list[AccountBillPublic]


@router.post(
    "/accounts/{account_id}/bills",
    response_model=AccountBillsPublic,
    summary="Bill an account from the store",
    responses=problems(400, 404, 409),
)
def bill_account(account_id: StoreId, body: AccountBillRequest, store: StoreDep) -> AccountBillsPublic:
    """Bill the account over ``(start, end]`` at the tariff given (else at the account's own tariff in
    force at the period's end, ``PUT /accounts/{account_id}/tariff``), from the validated intervals of the
    meters of the units it occupied: one bill per tenure in the period, under the tenant's name, prorated
    by the stored move-in and move-out, with the account's number, unit and usage history
    (``docs/billing.md``, "Billing a stored account"). With ``save`` each bill is kept against the account
    (again: the same bill, ``new`` false). 400 for a bad tariff or period (every problem of the rate
    named), 404 for an unknown account, 409 when the account has no tenure in the period (its tenures
    named), a meter has no validated interval in it, or no tariff is given and the account has none in
    force."""
    account = store.get_account(account_id=account_id)
    if account is None:
        raise Problem(404, f"no account has id {account_id}")
    site = None if account.site_id is None else store.get_site(site_id=account.site_id)
    if site is None:
        raise Problem(400, f"account {account.number!r} has no site: its time zone is not known")
    try:
        rate: Tariff | None = None
        if body.tariff is not None or body.example is not None:
            rate = choose_tariff(document=body.tariff, example=body.example, label=body.label)
        elif body.label is not None:
            raise ValueError("label chooses a rate of the tariff document given: give tariff with it")
        local = parse_timezone(site.timezone)
        start = parse_instant("start", body.start, local)
        end = parse_instant("end", body.end, local)
        if end <= start:
            raise ValueError(f"end must be after start, got start={body.start} end={body.end}")
        if end - start > MAX_PERIOD:
            raise ValueError(f"the period must be at most a year (366 days), got {body.start} .. {body.end}")
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    try:
        bills = bill_account_from_store(
            store, account=account, tariff=rate, start=start, end=end, timezone=site.timezone
        )
    except MissingTariffError as exc:
        raise Problem(409, f"{exc}: give tariff or example") from None
    kept: list[tuple[Bill, int | None, bool | None]] = [(b, None, None) for b in bills]
    if body.save:  # every bill made first: a refused request stores nothing
        kept = []
        for bill in bills:
            saved, new = save_account_bill(store, bill, account)
            kept.append((rebill(saved.document), saved.id, new))  # as stored: with corrections carried
    tenant = store.get_tenant(tenant_id=account.tenant_id)
    return AccountBillsPublic(
        account_id=account.id,
        account=account.number,
        tenant=None if tenant is None else tenant.name,
        site_id=account.site_id,
        start=start,
        end=end,
        timezone=site.timezone,
        bills=[
            AccountBillPublic(
                bill_id=bill_id,
                new=new,
                unit=None if b.statement is None else b.statement.unit,
                meter=b.meter,
                energy_wh=b.energy_wh,
                printed_total=b.printed_total,
                document=b.to_dict(include_intervals=False),
            )
            for b, bill_id, new in kept
        ],
    )
