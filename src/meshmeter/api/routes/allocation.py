"""Allocation: a site's house meter and unmetered remainder shared among its accounts by floor area,
occupants or fixed shares (``docs/api.md``, "Allocation"; :mod:`meshmeter.services.allocation`).

The route computes and stores nothing: the shares are for the bills the operator issues. A token bound to
sites allocates its sites only (another is 404, as if it did not exist).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from meshmeter.api.deps import Name, StoreDep, StoreId, TimeText
from meshmeter.api.intervals import parse_instant, parse_timezone
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.services.allocation import allocate_site, allocation_to_dict

router = APIRouter(tags=["billing"], route_class=GuardedRoute)

__all__ = [
    "AccountAllocationPublic",
    "AllocationLinePublic",
    "AllocationPublic",
    "AllocationRequest",
    "SharedAmountPublic",
    "router",
]

Share = Annotated[Decimal, Field(ge=0, le=1, max_digits=12, decimal_places=9)]


class AllocationRequest(BaseModel):
    """What to share, how, and the figures of the master bill."""

    model_config = ConfigDict(extra="forbid")

    start: TimeText = Field(
        description="ISO 8601 date (local midnight) or date-time; without an offset, local"
    )
    end: TimeText = Field(description="ISO 8601 date or date-time, after start")
    by: Literal["area", "occupants", "shares"] = Field(
        description="floor area (units' floor_area_ft2), occupants, or the fixed shares given"
    )
    what: Literal["house", "remainder", "both"] = Field(
        "both", description="the house meters' energy, the unmetered remainder, or both"
    )
    shares: dict[Name, Share] | None = Field(
        None, max_length=5000, description="with by=shares: every unit's name and its share, adding up to 1"
    )
    house_meters: list[Name] | None = Field(
        None, max_length=100, description="the house meters (serials); default every one of the site"
    )
    rate: Decimal | None = Field(
        None,
        ge=0,
        max_digits=12,
        decimal_places=6,
        description="price of the house energy [USD/kWh]; default the master bill's average price",
    )
    master_total: Decimal | None = Field(
        None, ge=0, max_digits=14, decimal_places=2, description="the utility's master bill [USD]"
    )
    master_kwh: Decimal | None = Field(
        None,
        gt=0,
        max_digits=15,
        decimal_places=3,
        description="the master bill's energy [kWh]; default the site's master meter in the store",
    )


class AllocationLinePublic(BaseModel):
    """An account's bill line for one amount (kind ``allocation``)."""

    kind: str
    description: str
    quantity: Decimal
    unit: str
    rate: Decimal = Field(description="[USD/unit]")
    factor: Decimal
    amount: Decimal = Field(description="[USD]")
    printed_amount: Decimal = Field(description="[USD]")
    period: int | None
    tier: int | None


class AccountAllocationPublic(BaseModel):
    """An account's part of a unit over the period, and its lines, one per amount shared."""

    account: str = Field(description="the account's number")
    account_id: int
    tenant: str
    unit: str
    unit_id: int
    meter: str = Field(description="serial number of the unit's meter")
    move_in: datetime
    move_out: datetime | None
    occupied: str = Field(description="the part of the period occupied, in local days, exact: 15/31")
    lines: list[AllocationLinePublic]
    total: Decimal = Field(description="[USD]")


class UnitSharePublic(BaseModel):
    """A unit's weight (its value times the part occupied) and share of one amount."""

    unit: str
    weight: str = Field(description="exact: 9000/31")
    share: Decimal = Field(description="[USD]")


class SharedAmountPublic(BaseModel):
    """One amount shared: the house meters' energy or the unmetered remainder, priced."""

    what: Literal["house", "remainder"]
    label: str
    energy_wh: int = Field(description="[Wh]")
    amount: Decimal = Field(description="[USD]")
    priced: str
    units: list[UnitSharePublic]
    owner_weight: str = Field(description="the vacant parts' weight, exact")
    owner_share: Decimal = Field(description="the vacant parts' share, the owner's [USD]")


class MeterEnergyPublic(BaseModel):
    """A meter's energy in the period, from its validated intervals."""

    serial: str
    role: str
    energy_wh: int = Field(description="[Wh]")
    intervals: int
    billed_intervals: int


class AllocationPublic(BaseModel):
    """A site's allocation: every amount's shares, each account's lines, the owner's share."""

    site: str
    site_id: int
    start: datetime
    end: datetime
    timezone: str
    basis: Literal["area", "occupants", "shares"]
    master_energy_wh: int | None = Field(description="[Wh]")
    master_source: str | None = Field(description="meter M1 (the store) or given")
    master_total: Decimal | None = Field(description="[USD]")
    remainder_wh: int | None = Field(description="the unmetered remainder [Wh]")
    meters: list[MeterEnergyPublic]
    amounts: list[SharedAmountPublic]
    accounts: list[AccountAllocationPublic]
    vacant_units: list[str] = Field(description="units no account occupied in the period")
    owner_share: Decimal = Field(description="[USD]")
    total: Decimal = Field(description="every amount shared [USD]")
    warnings: list[str]


@router.post(
    "/sites/{site_id}/allocation",
    response_model=AllocationPublic,
    summary="Share the house meter and the unmetered remainder",
    responses=problems(400, 404),
)
def allocate(site_id: StoreId, body: AllocationRequest, store: StoreDep) -> AllocationPublic:
    """The site's house meter energy and/or unmetered remainder (the master's energy less every unit and
    house meter's) priced and shared among the accounts of its units by floor area, occupants or fixed
    shares; an account that moved prorated by days occupied, a vacant part the owner's; every share in
    whole cents, adding up to each amount exactly (``docs/billing.md``, "Allocation"). Nothing is stored.
    400 naming every problem (a unit without its floor area, shares not adding up to 1, sub-meters above
    the master: a wiring fault, intervals missing), 404 for an unknown site."""
    site = store.get_site(site_id=site_id)
    if site is None:
        raise Problem(404, f"no site has id {site_id}")
    try:
        local = parse_timezone(site.timezone)
        start = parse_instant("start", body.start, local)
        end = parse_instant("end", body.end, local)
        energy_wh = None if body.master_kwh is None else int(body.master_kwh * 1000)
        run = allocate_site(
            store,
            site=site,
            start=start,
            end=end,
            basis=body.by,
            share=("house", "remainder") if body.what == "both" else (body.what,),
            fixed_shares=body.shares,
            house_meters=body.house_meters,
            house_rate=body.rate,
            master_total=body.master_total,
            master_energy_wh=energy_wh,
        )
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    return AllocationPublic.model_validate(allocation_to_dict(run))
