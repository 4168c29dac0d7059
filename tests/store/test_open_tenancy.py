"""A tenant, its account and its move-in in one transaction (:meth:`Store.open_tenancy`, the dashboard's
"New tenant"): all stored, or nothing, with every problem of the three named at once; on each backend."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meshmeter.errors import TenancyError
from meshmeter.services.tenancy import new_tenant
from meshmeter.store import Store

AT = datetime(2026, 12, 1, 8, tzinfo=UTC)
"""Local midnight of 2026-12-01 in Los Angeles (PST)."""


def _building(store: Store) -> tuple[int, int]:
    site = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
    meter = store.create_meter(serial="M1", designation="MM-1", ct_ratio=2000, site_id=site.id)
    unit = store.create_unit(site_id=site.id, name="101", meter_id=meter.id)
    return site.id, unit.id


def _everything(store: Store) -> tuple[object, ...]:
    return (store.tenants(), store.accounts(), store.occupancies(), store.tenancy_history())


def test_a_tenant_moves_in_with_its_new_account(store: Store) -> None:
    site_id, unit_id = _building(store)
    tenant, account, tenure = new_tenant(
        store, name="Ada Alvarez", site_id=site_id, unit_id=unit_id, at="2026-12-01", by="front desk"
    )
    assert (account.tenant_id, account.site_id, account.number, account.opened_at) == (
        tenant.id,
        site_id,
        "1001",
        AT,
    )
    assert tenure is not None
    assert (tenure.account_id, tenure.unit_id, tenure.move_in, tenure.move_out) == (
        account.id,
        unit_id,
        AT,
        None,
    )
    kinds = [(e.kind, e.recorded_by) for e in store.tenancy_history(tenant_id=tenant.id)]
    assert kinds == [
        ("tenant_created", "front desk"),
        ("account_opened", "front desk"),
        ("moved_in", "front desk"),
    ]


def test_every_problem_is_named_and_nothing_is_stored(store: Store) -> None:
    site_id, unit_id = _building(store)
    first = new_tenant(store, name="Ada Alvarez", site_id=site_id, unit_id=unit_id, at="2026-12-01")[1]
    before = _everything(store)
    with pytest.raises(TenancyError) as refused:
        new_tenant(store, name=" ", site_id=site_id, number=first.number, unit_id=unit_id, at="2026-12-05")
    assert refused.value.problems == [
        "name must be a non-empty string, got ' '",
        f"number '1001' is already account_id {first.id} at site {site_id}",
        f"unit 101 is occupied by account 1001 from {AT.isoformat()} to open-ended",
    ]
    assert not refused.value.unknown
    with pytest.raises(TenancyError) as unknown:
        new_tenant(store, name="Bo", site_id=site_id, unit_id=unit_id + 99, at="2026-12-05")
    assert unknown.value.problems == [f"unit_id {unit_id + 99} is not a known unit"]
    assert unknown.value.unknown
    with pytest.raises(ValueError, match="at must be an ISO 8601 date"):
        new_tenant(store, name="Bo", site_id=site_id, unit_id=unit_id, at="soon")
    assert _everything(store) == before


def test_without_a_unit_the_account_opens_now(store: Store) -> None:
    site_id, _ = _building(store)
    _, account, tenure = new_tenant(store, name="Bo", site_id=site_id, number="B-7")
    assert tenure is None
    assert account.number == "B-7"
    assert abs((account.opened_at - datetime.now(UTC)).total_seconds()) < 60
