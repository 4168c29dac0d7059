"""Bills stored with the inputs that produced them (issue 5): save, list, get, idempotent re-runs, refused
conflicts and malformed documents, the migration from the previous version, and a stored bill that
re-bills exactly from what the store holds, on every backend."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy import inspect

from meshmeter.billing import Tenant, bill_meter, example_tariff
from meshmeter.billing.reproduce import verify_bill
from meshmeter.store import Store, make_engines
from meshmeter.store.migrations import LATEST_VERSION, MIGRATIONS, migrate
from meshmeter.store.repository import BillConflictError
from tests.store.legacy import create_legacy

START = datetime(2026, 7, 1, 7, tzinfo=UTC)
"""Local midnight of 1 July 2026 in Los Angeles (PDT, UTC-7)."""
END = datetime(2026, 8, 1, 7, tzinfo=UTC)
LA = "America/Los_Angeles"


def _bill(energy_per_interval: int = 150, *, account: str = "Ada", move_out: datetime | None = None):
    """A July bill of meter M1 at the tiered example tariff: 2,976 quarter-hours of ``energy`` Wh."""
    n = int((END - START).total_seconds()) // 900
    ends = int(START.timestamp()) + 900 * np.arange(1, n + 1, dtype=np.int64)
    energy = np.full(n, energy_per_interval, dtype=np.int64)
    quality = np.zeros(n, dtype=np.int64)
    quality[10] = 9  # one interpolated interval: billed, flagged as estimated
    return bill_meter(
        example_tariff("tiered-flat-example"),
        ends,
        energy,
        quality,
        start=START,
        end=END,
        timezone=LA,
        meter="M1",
        tenant=Tenant(account, None, move_out),
    )


@pytest.fixture
def known(store: Store) -> dict[str, int]:
    site = store.create_site(name="Oak Court", timezone=LA)
    meter = store.create_meter(serial="M1", designation="MM-1", ct_ratio=2000, site_id=site.id)
    tenant = store.create_tenant(name="Ada")
    account = store.create_account(tenant_id=tenant.id, meter_id=meter.id, unit="1A", move_in=START)
    return {"site": site.id, "meter": meter.id, "account": account.id}


def test_a_stored_bill_rebills_exactly_from_what_the_store_holds(store: Store, known: dict[str, int]) -> None:
    bill = _bill()
    stored, new = store.save_bill(
        document=bill.to_dict(), site_id=known["site"], account_id=known["account"], meter_id=known["meter"]
    )
    assert new
    assert (stored.account, stored.meter, stored.mode) == ("Ada", "M1", "california")
    assert (stored.period_start, stored.period_end, stored.timezone) == (START, END, LA)
    assert stored.tariff_sha256 == bill.inputs["tariff_sha256"]
    assert len(stored.tariff_sha256) == 64
    assert stored.total == bill.total
    assert stored.printed_total == bill.printed_total
    assert stored.energy_wh == bill.energy_wh == 2976 * 150
    got = store.get_bill(stored.id)
    assert got is not None
    # Everything that produced it is in the store: re-billing from it gives every line and the total.
    again = verify_bill(got.document)
    assert again.total == bill.total
    assert again.lines == bill.lines
    assert json.loads(json.dumps(got.document)) == bill.to_dict()


def test_rerunning_a_bill_is_idempotent(store: Store, known: dict[str, int]) -> None:
    first, new = store.save_bill(document=_bill().to_dict(), site_id=known["site"])
    again, new_again = store.save_bill(document=_bill().to_dict(), site_id=known["site"])
    assert (new, new_again) == (True, False)
    assert again.id == first.id
    assert len(store.list_bills()) == 1


def test_a_changed_bill_for_the_same_period_is_refused(store: Store, known: dict[str, int]) -> None:
    store.save_bill(document=_bill(150).to_dict())
    with pytest.raises(BillConflictError, match="stored with other figures"):
        store.save_bill(document=_bill(160).to_dict())
    assert [b.energy_wh for b in store.list_bills()] == [2976 * 150]
    # Another account, or another tariff, for the same period is another bill.
    store.save_bill(document=_bill(160, account="Bea").to_dict())
    assert len(store.list_bills()) == 2


def test_list_bills_filters_and_leaves_the_inputs_out(store: Store, known: dict[str, int]) -> None:
    other = store.create_site(name="Elm House", timezone="America/New_York")
    a, _ = store.save_bill(document=_bill().to_dict(), site_id=known["site"], account_id=known["account"])
    b, _ = store.save_bill(document=_bill(account="Bea").to_dict(), site_id=other.id)
    c, _ = store.save_bill(
        document=_bill(account="Cy", move_out=START + timedelta(days=10)).to_dict(), site_id=known["site"]
    )
    assert [x.id for x in store.list_bills()] == [a.id, b.id, c.id]
    assert [x.id for x in store.list_bills(site=known["site"])] == [a.id, c.id]
    assert [x.id for x in store.list_bills(account="Bea")] == [b.id]
    assert [x.id for x in store.list_bills(account_id=known["account"])] == [a.id]
    assert [x.id for x in store.list_bills(meter="M1")] == [a.id, b.id, c.id]
    assert store.list_bills(meter="M2") == []
    assert len(store.list_bills(start=END - timedelta(days=1), end=END + timedelta(days=1))) == 3
    assert store.list_bills(start=END) == []
    assert store.list_bills(end=START) == []
    listed = store.list_bills(account="Cy")[0]
    assert "inputs" not in listed.document
    assert listed.document["lines"] == c.document["lines"]
    assert listed.printed_total == c.printed_total


def test_get_an_unknown_bill_is_none(store: Store) -> None:
    assert store.get_bill(12345) is None
    with pytest.raises(ValueError, match="bill_id"):
        store.get_bill(0)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.pop("inputs"), "document.inputs"),
        (lambda d: d["inputs"].update(tariff_sha256="abc"), "tariff_sha256"),
        (lambda d: d.update(mode="texas"), "document.mode"),
        (lambda d: d.update(total="lots"), "document.total"),
        (lambda d: d.update(printed_total="1.234"), "whole cents"),
        (lambda d: d.update(start="yesterday"), "ISO 8601"),
        (lambda d: d.update(end=d["start"]), "after document.start"),
        (lambda d: d.update(energy_wh=True), "document.energy_wh"),
        (lambda d: d.update(lines=None), "document.lines"),
    ],
)
def test_a_malformed_document_is_refused_by_member(store: Store, change, words: str) -> None:
    document = _bill().to_dict()
    change(document)
    with pytest.raises(ValueError, match=words):
        store.save_bill(document=document)
    assert store.list_bills() == []


def test_unknown_site_account_or_meter_is_refused(store: Store) -> None:
    for name in ("site_id", "account_id", "meter_id"):
        with pytest.raises(ValueError, match=name):
            store.save_bill(document=_bill().to_dict(), **{name: 999})
    assert store.list_bills() == []


def test_migration_from_an_older_version_adds_bills(durable_store_url) -> None:
    # A database as version 2 made it, with a site: migrating it makes the bills table (version 4).
    engines = make_engines(durable_store_url)
    try:
        with engines.writer.begin() as c:
            old = create_legacy(c, 2)
            c.execute(old.tables["sites"].insert().values(id=1, name="Oak Court", timezone=LA))
        assert "bills" not in inspect(engines.writer).get_table_names()
        assert migrate(engines.writer) == LATEST_VERSION
        assert "bills" in inspect(engines.writer).get_table_names()
    finally:
        engines.dispose()
    assert any(m.version == 4 and "bills" in m.description for m in MIGRATIONS)
    with Store(durable_store_url) as store:
        site = store.get_site(site_id=1)
        assert site is not None
        assert site.name == "Oak Court"
        stored, new = store.save_bill(document=_bill().to_dict(), site_id=site.id)
        assert new
        assert verify_bill(store.get_bill(stored.id).document).total == stored.total
        assert stored.total == Decimal(_bill().to_dict()["total"])
