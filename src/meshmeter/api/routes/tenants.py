"""Tenants, units, accounts and occupancies: list and create them; move in, move out, transfer, close; an
account's history (``docs/api.md``, "Tenants and accounts").

Every operation is :mod:`meshmeter.services.tenancy` over the store as the caller sees it; a refusal names
every problem found (409, or 404 when an id names nothing) and stores nothing. Times in bodies are local
to the account's site unless they carry an offset.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Query

from meshmeter.api.deps import Name, PrincipalDep, StoreDep, StoreId
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.models import (
    AccountCreate,
    AccountHistoryPublic,
    AccountPublic,
    AccountsPublic,
    Close,
    HistoryEntryPublic,
    MoveIn,
    MoveOut,
    OccupanciesPublic,
    OccupancyPublic,
    TenantCreate,
    TenantPublic,
    TenantsPublic,
    Transfer,
    UnitCreate,
    UnitPublic,
    UnitsPublic,
    UnitUpdate,
)
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.errors import MeshmeterError
from meshmeter.services import tenancy
from meshmeter.store import Account, Meter, Occupancy, Store, Tenant, Unit

router = APIRouter(tags=["tenants"], route_class=GuardedRoute)

_WRITE = problems(400, 404, 409)


def _tenant(store: Store, tenant_id: int) -> Tenant:
    tenant = store.get_tenant(tenant_id=tenant_id)
    if tenant is None:
        raise Problem(404, f"no tenant has id {tenant_id}")
    return tenant


def _account(store: Store, account_id: int) -> Account:
    account = store.get_account(account_id=account_id)
    if account is None:
        raise Problem(404, f"no account has id {account_id}")
    return account


def _meter_id(store: Store, serial: str | None) -> int | None:
    if serial is None:
        return None
    found = store.get_meter(serial=serial)
    if found is None:
        raise Problem(404, f"no meter has serial {serial!r}")
    return found.id


def _site(store: Store, site_id: int | None) -> None:
    if site_id is not None and store.get_site(site_id=site_id) is None:
        raise Problem(404, f"no site has id {site_id}")


def _serials(store: Store, meter_ids: set[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for meter_id in sorted(meter_ids):
        meter: Meter | None = store.get_meter(meter_id=meter_id)
        found[meter_id] = "" if meter is None else meter.serial
    return found


def _occupancy(o: Occupancy, serials: dict[int, str]) -> OccupancyPublic:
    return OccupancyPublic(
        id=o.id,
        account_id=o.account_id,
        unit_id=o.unit_id,
        unit=o.unit,
        meter_id=o.meter_id,
        meter=serials.get(o.meter_id, ""),
        move_in=o.move_in,
        move_out=o.move_out,
    )


def _public(store: Store, account: Account) -> AccountPublic:
    view = tenancy.account_view(store, account)
    serials = {meter_id: m.serial for meter_id, m in view.meters.items()}
    return AccountPublic(
        id=account.id,
        number=account.number,
        site_id=account.site_id,
        tenant_id=account.tenant_id,
        tenant="" if view.tenant is None else view.tenant.name,
        opened_at=account.opened_at,
        closed_at=account.closed_at,
        occupancies=[_occupancy(o, serials) for o in view.occupancies],
    )


def _unit(u: Unit, serials: dict[int, str]) -> UnitPublic:
    return UnitPublic(
        id=u.id,
        site_id=u.site_id,
        name=u.name,
        address=u.address,
        meter_id=u.meter_id,
        meter=serials.get(u.meter_id, ""),
        floor_area_ft2=u.floor_area_ft2,
        occupants=u.occupants,
    )


@contextmanager
def _refusals() -> Iterator[None]:
    """Bad input (a time that is not one, an empty name) as 400; the domain's refusals (a
    :class:`~meshmeter.errors.TenancyError`: 404 or 409 naming every problem) to the app's one handler."""
    try:
        yield
    except MeshmeterError:
        raise
    except ValueError as exc:
        raise Problem(400, str(exc)) from None


# -- tenants --------------------------------------------------------------------------------------------


@router.get("/tenants", response_model=TenantsPublic, summary="List tenants", responses=problems())
def list_tenants(store: StoreDep) -> TenantsPublic:
    """Every tenant, by id (a token bound to sites: those holding an account at one of them)."""
    data = [TenantPublic(id=t.id, name=t.name) for t in store.tenants()]
    return TenantsPublic(data=data, count=len(data))


@router.post(
    "/tenants", response_model=TenantPublic, status_code=201, summary="Create a tenant", responses=_WRITE
)
def create_tenant(body: TenantCreate, store: StoreDep, principal: PrincipalDep) -> TenantPublic:
    """Make a tenant (a person, a household, a business), recorded in the history; 201 with it."""
    with _refusals():
        tenant = store.create_tenant(name=body.name, by=principal.recorded_as)
    return TenantPublic(id=tenant.id, name=tenant.name)


@router.get(
    "/tenants/{tenant_id}", response_model=TenantPublic, summary="Get a tenant", responses=problems(404)
)
def get_tenant(tenant_id: StoreId, store: StoreDep) -> TenantPublic:
    """One tenant by its id; 404 when there is none."""
    tenant = _tenant(store, tenant_id)
    return TenantPublic(id=tenant.id, name=tenant.name)


# -- units ----------------------------------------------------------------------------------------------


@router.get("/units", response_model=UnitsPublic, summary="List units", responses=problems(404))
def list_units(
    store: StoreDep,
    site_id: Annotated[StoreId | None, Query(description="only the units of this site")] = None,
    meter: Annotated[Name | None, Query(description="only the units this meter (serial) measures")] = None,
) -> UnitsPublic:
    """Units (apartments, suites) with their meter, by id; of a site and/or a meter (404 when unknown)."""
    _site(store, site_id)
    found = store.units(site_id=site_id, meter_id=_meter_id(store, meter))
    serials = _serials(store, {u.meter_id for u in found})
    data = [_unit(u, serials) for u in found]
    return UnitsPublic(data=data, count=len(data))


@router.post("/units", response_model=UnitPublic, status_code=201, summary="Create a unit", responses=_WRITE)
def create_unit(body: UnitCreate, store: StoreDep, principal: PrincipalDep) -> UnitPublic:
    """Make a unit of a site, measured by a meter of that site (by serial); 201 with it. 404 for an unknown
    site or meter, 409 for a meter of another site or a name the site has already, each named."""
    with _refusals():
        unit = tenancy.create_unit(
            store,
            site_id=body.site_id,
            name=body.name,
            meter=body.meter,
            address=body.address,
            by=principal.recorded_as,
            floor_area_ft2=body.floor_area_ft2,
            occupants=body.occupants,
        )
    return _unit(unit, _serials(store, {unit.meter_id}))


@router.patch(
    "/units/{unit_id}", response_model=UnitPublic, summary="Change a unit", responses=problems(400, 404)
)
def update_unit(unit_id: StoreId, body: UnitUpdate, store: StoreDep, principal: PrincipalDep) -> UnitPublic:
    """Change a unit's address, floor area [ft²] or occupants (what ``meshmeter allocate`` shares by): the
    members given, null clearing one; recorded in the history (``unit_updated``, before and after). The
    unit as it now stands; 404 for an unknown unit."""
    settings = {name: getattr(body, name) for name in body.model_fields_set}
    with _refusals():
        unit = store.update_unit(unit_id=unit_id, by=principal.recorded_as, **settings)
    return _unit(unit, _serials(store, {unit.meter_id}))


# -- accounts -------------------------------------------------------------------------------------------


@router.get("/accounts", response_model=AccountsPublic, summary="List accounts", responses=problems(404))
def list_accounts(
    store: StoreDep,
    meter: Annotated[
        Name | None, Query(description="only the accounts that occupied a unit of this meter (serial)")
    ] = None,
    tenant_id: Annotated[StoreId | None, Query(description="only the accounts of this tenant")] = None,
    site_id: Annotated[StoreId | None, Query(description="only the accounts of this site")] = None,
    unit_id: Annotated[StoreId | None, Query(description="only the accounts that occupied this unit")] = None,
    open: Annotated[
        bool | None, Query(description="true: only open accounts; false: only closed ones")
    ] = None,
) -> AccountsPublic:
    """Accounts with their occupancies, by id: of a meter, a tenant, a site and/or a unit (404 for an
    unknown one), open or closed."""
    meter_id = _meter_id(store, meter)
    if tenant_id is not None:
        _tenant(store, tenant_id)
    _site(store, site_id)
    if unit_id is not None and store.get_unit(unit_id=unit_id) is None:
        raise Problem(404, f"no unit has id {unit_id}")
    found = store.accounts(meter_id=meter_id, tenant_id=tenant_id, site_id=site_id, unit_id=unit_id)
    if open is not None:
        found = [a for a in found if a.is_open is open]
    data = [_public(store, a) for a in found]
    return AccountsPublic(data=data, count=len(data))


@router.post(
    "/accounts", response_model=AccountPublic, status_code=201, summary="Open an account", responses=_WRITE
)
def open_account(body: AccountCreate, store: StoreDep, principal: PrincipalDep) -> AccountPublic:
    """Open an account for a tenant at a site, under a number unique in the site (default the next one,
    1001 ...); 201 with it. 404 for an unknown tenant or site, 409 for a number taken."""
    with _refusals():
        account = tenancy.open_account(
            store,
            tenant_id=body.tenant_id,
            site_id=body.site_id,
            number=body.number,
            opened=body.opened,
            by=principal.recorded_as,
        )
    return _public(store, account)


@router.get(
    "/accounts/{account_id}", response_model=AccountPublic, summary="Get an account", responses=problems(404)
)
def get_account(account_id: StoreId, store: StoreDep) -> AccountPublic:
    """One account with its occupancies; 404 when there is none. A tenant reads its own account (its
    units, meters and dates), and no other."""
    return _public(store, _account(store, account_id))


@router.get(
    "/accounts/{account_id}/history",
    response_model=AccountHistoryPublic,
    summary="Get an account's history",
    responses=problems(404),
)
def get_history(account_id: StoreId, store: StoreDep) -> AccountHistoryPublic:
    """What was done to the account, in the order it was recorded, each with when it takes effect, when
    and by whom it was recorded: opened, moved in, moved out, transferred, closed."""
    _account(store, account_id)
    data = [
        HistoryEntryPublic(
            id=e.id,
            kind=e.kind,
            at=e.at,
            recorded_at=e.recorded_at,
            recorded_by=e.recorded_by,
            tenant_id=e.tenant_id,
            account_id=e.account_id,
            unit_id=e.unit_id,
            occupancy_id=e.occupancy_id,
            detail=e.detail,
        )
        for e in store.account_history(account_id=account_id)
    ]
    return AccountHistoryPublic(account_id=account_id, data=data, count=len(data))


def _now_stands(store: Store, account_id: int) -> AccountPublic:
    return _public(store, _account(store, account_id))


@router.post(
    "/accounts/{account_id}/move-in",
    response_model=AccountPublic,
    summary="Move an account into a unit",
    responses=_WRITE,
)
def move_in(account_id: StoreId, body: MoveIn, store: StoreDep, principal: PrincipalDep) -> AccountPublic:
    """The account's occupancy of a unit of its site begins at ``at``; the account as it now stands. 404
    for an unknown account or unit; 409, naming every problem, for a closed account, an account that
    occupies a unit then already, a unit (or another unit of its meter) occupied then."""
    with _refusals():
        tenancy.move_in(
            store, account_id=account_id, unit_id=body.unit_id, at=body.at, by=principal.recorded_as
        )
    return _now_stands(store, account_id)


@router.post(
    "/accounts/{account_id}/move-out",
    response_model=AccountPublic,
    summary="Move an account out of its unit",
    responses=_WRITE,
)
def move_out(account_id: StoreId, body: MoveOut, store: StoreDep, principal: PrincipalDep) -> AccountPublic:
    """The account's open occupancy ends at ``at``; the account stays open (close it apart). 409 for an
    account with no open occupancy, a move-out not after the move-in, a closed account."""
    with _refusals():
        tenancy.move_out(store, account_id=account_id, at=body.at, by=principal.recorded_as)
    return _now_stands(store, account_id)


@router.post(
    "/accounts/{account_id}/transfer",
    response_model=AccountPublic,
    summary="Transfer an account to another unit",
    responses=_WRITE,
)
def transfer(account_id: StoreId, body: Transfer, store: StoreDep, principal: PrincipalDep) -> AccountPublic:
    """The account moves out of the unit it occupies and into another unit of its site at the same
    instant ``at``: same account, number and tenant (a new tenant opens its own account). 409 naming every
    problem of the move-out and the move-in together."""
    with _refusals():
        tenancy.transfer(
            store, account_id=account_id, unit_id=body.unit_id, at=body.at, by=principal.recorded_as
        )
    return _now_stands(store, account_id)


@router.post(
    "/accounts/{account_id}/close",
    response_model=AccountPublic,
    summary="Close an account",
    responses=_WRITE,
)
def close(account_id: StoreId, body: Close, store: StoreDep, principal: PrincipalDep) -> AccountPublic:
    """Close the account at ``at`` (default now): it takes no move-in afterwards. 409 for an account
    already closed, or with an occupancy open or ending after ``at`` (move out first)."""
    with _refusals():
        tenancy.close_account(store, account_id=account_id, at=body.at, by=principal.recorded_as)
    return _now_stands(store, account_id)


# -- occupancies ----------------------------------------------------------------------------------------


@router.get(
    "/occupancies", response_model=OccupanciesPublic, summary="List occupancies", responses=problems(404)
)
def list_occupancies(
    store: StoreDep,
    account_id: Annotated[StoreId | None, Query(description="only this account's")] = None,
    unit_id: Annotated[StoreId | None, Query(description="only this unit's")] = None,
    meter: Annotated[Name | None, Query(description="only those of units of this meter (serial)")] = None,
    site_id: Annotated[StoreId | None, Query(description="only those of units of this site")] = None,
    current: Annotated[bool, Query(description="only those still open (no move-out)")] = False,
) -> OccupanciesPublic:
    """Occupancies of units by accounts, by move-in: filtered by account, unit, meter and site (404 for an
    unknown one); with ``current=true`` only those with no move-out."""
    if account_id is not None:
        _account(store, account_id)
    if unit_id is not None and store.get_unit(unit_id=unit_id) is None:
        raise Problem(404, f"no unit has id {unit_id}")
    _site(store, site_id)
    found = store.occupancies(
        account_id=account_id, unit_id=unit_id, meter_id=_meter_id(store, meter), site_id=site_id
    )
    if current:
        found = [o for o in found if o.move_out is None]
    serials = _serials(store, {o.meter_id for o in found})
    data = [_occupancy(o, serials) for o in found]
    return OccupanciesPublic(data=data, count=len(data))
