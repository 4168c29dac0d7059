"""The tenants' month-to-date charges, kept while nothing they are made of changes (issue 15).

A small building in Los Angeles, three units metered from 1 July 2026 (200 Wh every quarter-hour, validated):
Ada's account (unit 1A) was last billed at PG&E's E-1 Residential Service, Baseline Region T (OpenEI URDB
``60e4c63a5457a3a91679e0f2``), Ben's (1B) at Florida Power & Light's RS-1 Residential Service
(``5550d6fd5457a3187e8b4567``), both public domain, in ``tests/data/urdb/`` (sources in its ``SOURCES.md``);
Cy's (1C) was never billed, so it has no tariff.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

import meshmeter.services.charges as charges
from meshmeter.billing import load_tariff
from meshmeter.intervals import Quality
from meshmeter.services.billing import bill_account_from_store, save_account_bill
from meshmeter.services.charges import account_tariff, clear_charges_cache, month_charges
from meshmeter.store import Account, Site, Store
from tests.store.conftest import postgres_schema_url

URDB = Path(__file__).resolve().parents[1] / "data" / "urdb"
E1 = URDB / "pge-e-1-region-t.json"
RS1 = URDB / "fpl-rs-1.json"
__all__ = ["postgres_schema_url"]  # the fixture, for the PostgreSQL runs
START = datetime(2026, 7, 1, 7, tzinfo=UTC)
"""Local midnight of 1 July 2026 in Los Angeles."""
END = START + timedelta(days=10)
"""The month so far."""


@pytest.fixture(params=["sqlite", "postgresql"])
def building(request: pytest.FixtureRequest) -> Iterator[tuple[Store, Site, Account]]:
    url = "sqlite://" if request.param == "sqlite" else request.getfixturevalue("postgres_schema_url")
    store = Store(url)
    try:
        site = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
        accounts = {}
        for serial, unit, name in (("M1", "1A", "Ada"), ("M2", "1B", "Ben"), ("M3", "1C", "Cy")):
            meter = store.create_meter(serial=serial, designation="MM-1", ct_ratio=2000, site_id=site.id)
            tenant = store.create_tenant(name=name)
            store.create_account(tenant_id=tenant.id, meter_id=meter.id, unit=unit, move_in=START)
            rows = [(START + timedelta(minutes=15 * (i + 1)), 200, 0) for i in range(96 * 10)]
            store.put_validated_intervals(meter_id=meter.id, rows=rows, edited_by="vee", reason="test")
            accounts[name] = next(a for a in store.accounts() if a.tenant_id == tenant.id)
        for name, path in (("Ada", E1), ("Ben", RS1)):
            account = accounts[name]
            (bill,) = bill_account_from_store(
                store, account=account, tariff=load_tariff(path), start=START, end=START + timedelta(days=5)
            )
            save_account_bill(store, bill, account)
        yield store, site, accounts["Ada"]
    finally:
        store.close()


@pytest.fixture(autouse=True)
def _cold() -> None:
    clear_charges_cache()


def _same(a: charges.MonthCost, b: charges.MonthCost) -> None:
    assert (a.total, a.billed, a.untariffed, a.unbilled) == (b.total, b.billed, b.untariffed, b.unbilled)


def test_the_account_is_priced_at_its_latest_bills_tariff(building: tuple[Store, Site, Account]) -> None:
    store, _site, ada = building
    choice = account_tariff(store, ada, at=END)
    assert choice is not None
    assert choice.sha256 == load_tariff(E1).sha256
    tariff = choice.read()
    assert tariff is not None
    assert "Region T" in tariff.name


def test_cached_answer_equals_the_fresh_one_and_is_kept(building: tuple[Store, Site, Account]) -> None:
    store, site, _ada = building
    first = month_charges(store, site, start=START, end=END)
    fresh = month_charges(store, site, start=START, end=END, cached=False)
    _same(first, fresh)
    assert first.total is not None
    assert first.total > 0
    billed = {b.account_id for b in store.list_bills()}
    cy = next(a.number for a in store.accounts() if a.id not in billed)
    assert (first.billed, first.untariffed, first.unbilled) == (2, [cy], [])
    assert month_charges(store, site, start=START, end=END) is first  # nothing changed: kept


def test_a_write_of_an_interval_changes_the_answer(building: tuple[Store, Site, Account]) -> None:
    store, site, ada = building
    before = month_charges(store, site, start=START, end=END)
    (tenure,) = [o for o in store.occupancies(account_id=ada.id)]
    at = START + timedelta(days=7, hours=12)
    (old,) = store.interval_view(meter_id=tenure.meter_id, start=at - timedelta(minutes=15), end=at).energy_wh
    changed = store.put_validated_intervals(
        meter_id=tenure.meter_id,
        rows=[(at, int(old) + 20_000, int(Quality.EDITED))],
        edited_by="test",
        reason="a reading corrected by hand",
    )
    assert changed == 1
    after = month_charges(store, site, start=START, end=END)
    assert after is not before
    assert after.total is not None
    assert before.total is not None
    assert after.total > before.total + Decimal(1)  # 20 kWh more at a residential rate
    _same(after, month_charges(store, site, start=START, end=END, cached=False))


def test_a_new_bill_at_another_tariff_reprices_the_account(building: tuple[Store, Site, Account]) -> None:
    store, site, ada = building
    before = month_charges(store, site, start=START, end=END)
    day6 = (START + timedelta(days=5), START + timedelta(days=6))
    (bill,) = bill_account_from_store(store, account=ada, tariff=load_tariff(RS1), start=day6[0], end=day6[1])
    save_account_bill(store, bill, ada)
    choice = account_tariff(store, ada, at=END)
    assert choice is not None
    assert choice.sha256 == load_tariff(RS1).sha256
    after = month_charges(store, site, start=START, end=END)
    assert after.total != before.total
    _same(after, month_charges(store, site, start=START, end=END, cached=False))


def test_a_move_out_changes_the_answer(building: tuple[Store, Site, Account]) -> None:
    store, site, ada = building
    before = month_charges(store, site, start=START, end=END)
    store.move_out(account_id=ada.id, at=START + timedelta(days=8))
    after = month_charges(store, site, start=START, end=END)
    assert after.total is not None
    assert before.total is not None
    assert after.total < before.total  # two days fewer of Ada's unit
    _same(after, month_charges(store, site, start=START, end=END, cached=False))


def test_a_new_rule_for_the_tariff_is_a_new_key(
    building: tuple[Store, Site, Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, site, _ada = building
    kept = month_charges(store, site, start=START, end=END)
    monkeypatch.setattr(charges, "TARIFF_RULE", "tariff-in-force/1")
    again = month_charges(store, site, start=START, end=END)
    assert again is not kept
    _same(again, kept)


def test_an_empty_period_costs_nothing(building: tuple[Store, Site, Account]) -> None:
    store, site, _ada = building
    cost = month_charges(store, site, start=START, end=START)
    assert (cost.total, cost.billed) == (Decimal(0), 0)
