"""Tenants and their accounts (a tenant in a unit served by a meter, from move-in to move-out)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from meshmeter.api.deps import Name, StoreDep, StoreId
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.models import AccountPublic, AccountsPublic, TenantPublic, TenantsPublic
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.store import Store, Tenant

router = APIRouter(tags=["tenants"], route_class=GuardedRoute)


def _tenant(store: Store, tenant_id: int) -> Tenant:
    tenant = store.get_tenant(tenant_id=tenant_id)
    if tenant is None:
        raise Problem(404, f"no tenant has id {tenant_id}")
    return tenant


@router.get("/tenants", response_model=TenantsPublic, summary="List tenants", responses=problems())
def list_tenants(store: StoreDep) -> TenantsPublic:
    """Every tenant, by id."""
    data = [TenantPublic(id=t.id, name=t.name) for t in store.tenants()]
    return TenantsPublic(data=data, count=len(data))


@router.get(
    "/tenants/{tenant_id}", response_model=TenantPublic, summary="Get a tenant", responses=problems(404)
)
def get_tenant(tenant_id: StoreId, store: StoreDep) -> TenantPublic:
    """One tenant by its id; 404 when there is none."""
    tenant = _tenant(store, tenant_id)
    return TenantPublic(id=tenant.id, name=tenant.name)


@router.get("/accounts", response_model=AccountsPublic, summary="List accounts", responses=problems(404))
def list_accounts(
    store: StoreDep,
    meter: Annotated[
        Name | None, Query(description="only the accounts of this meter (serial number)")
    ] = None,
    tenant_id: Annotated[StoreId | None, Query(description="only the accounts of this tenant")] = None,
) -> AccountsPublic:
    """Accounts, of a meter and/or a tenant (all when neither is given), by move-in; 404 for an unknown
    meter or tenant."""
    meter_id = None
    if meter is not None:
        found = store.get_meter(serial=meter)
        if found is None:
            raise Problem(404, f"no meter has serial {meter!r}")
        meter_id = found.id
    if tenant_id is not None:
        _tenant(store, tenant_id)
    names = {t.id: t.name for t in store.tenants()}
    serials = {m.id: m.serial for m in store.meters()}
    data = [
        AccountPublic(
            id=a.id,
            tenant_id=a.tenant_id,
            tenant=names[a.tenant_id],
            meter_id=a.meter_id,
            meter=serials[a.meter_id],
            unit=a.unit,
            move_in=a.move_in,
            move_out=a.move_out,
        )
        for a in store.accounts(meter_id=meter_id, tenant_id=tenant_id)
    ]
    return AccountsPublic(data=data, count=len(data))
