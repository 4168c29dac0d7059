"""The demo keeps its whole bills for the dashboard and stores each meter's element measurements, so that
the bills pages show the demo's bills and each meter page its wiring diagnosis (issue 6)."""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from meshmeter.api import Settings, create_app
from meshmeter.billing import Bill
from meshmeter.billing.reproduce import verify_bill
from meshmeter.demo import (
    ELEMENT_MEASUREMENTS_EVENT,
    DemoSummary,
    element_measurements_detail,
    run_site_demo,
    store_element_measurements,
)
from meshmeter.meter.diagnostics import ElementMeasurement
from meshmeter.site.config import parse_site
from meshmeter.site.example import demo_site_toml
from meshmeter.store import Store
from tests.store.conftest import postgres_schema_url

__all__ = ["postgres_schema_url"]  # a fixture of this module

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

START = datetime(2026, 6, 1, 7, tzinfo=UTC)
TOKEN = "demo-dashboard-" + "b" * 32
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Accept": "text/html"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, DemoSummary]]:
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    store = Store(f"sqlite:///{path}")
    try:
        summary = run_site_demo(store, parse_site(demo_site_toml()), start=START, days=1)
        yield store, summary
    finally:
        store.close()


@pytest.fixture(scope="module")
def client(demo: tuple[Store, DemoSummary]) -> Iterator[TestClient]:
    store, summary = demo
    bills = summary.tenant_bills  # what `meshmeter demo` gives the app it serves
    app = create_app(store, Settings(admin_token=TOKEN, environment="development"), bills=lambda: bills)
    with TestClient(app) as c:
        yield c


def test_the_summary_keeps_each_whole_bill(demo: tuple[Store, DemoSummary]) -> None:
    _, summary = demo
    # one per account in service during the day: 24 units, one of them changing hands
    assert len(summary.bills) == len(summary.tenant_bills) >= 24
    assert all(isinstance(b, Bill) for b in summary.tenant_bills)
    for line, bill in zip(summary.bills, summary.tenant_bills, strict=True):
        assert bill.printed_total == line.total_usd
        assert bill.energy_wh == round(line.energy_kwh * 1000)
        assert bill.meter == line.meter
    # the JSON summary stays what it was: no bill objects in it
    assert set(summary.to_dict()["bills"][0]) == {
        "account",
        "meter",
        "unit",
        "energy_kwh",
        "estimated_kwh",
        "total_usd",
        "bill_id",
    }


def test_the_demo_stores_its_bills_and_they_rebill_exactly(demo: tuple[Store, DemoSummary]) -> None:
    store, summary = demo
    listed = store.list_bills()
    assert [b.id for b in listed] == [line.bill_id for line in summary.bills]
    site = store.sites()[0]
    for line, stored in zip(summary.bills, listed, strict=True):
        assert (stored.site_id, stored.account, stored.meter) == (site.id, line.account, line.meter)
        assert stored.printed_total == line.total_usd
        assert stored.account_id is not None
        assert store.get_meter(meter_id=stored.meter_id).serial == line.meter
        whole = store.get_bill(stored.id)
        assert whole is not None
        assert verify_bill(whole.document).lines == line.bill.lines


def test_without_a_provider_the_dashboard_lists_the_stored_bills(demo: tuple[Store, DemoSummary]) -> None:
    store, summary = demo
    app = create_app(store, Settings(admin_token=TOKEN, environment="development"))
    with TestClient(app) as c:
        page = c.get("/dashboard/bills", headers=HEADERS)
        assert page.status_code == 200
        assert page.text.count('<tr data-bill="') == len(summary.bills)
        last = summary.tenant_bills[-1]
        detail = c.get("/dashboard/bills", params={"bill": len(summary.bills)}, headers=HEADERS)
        assert f"{last.printed_total:,.2f}" in detail.text
        api = c.get("/bills", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert api["count"] == len(summary.bills)


def test_the_bills_pages_show_the_demos_bills(client: TestClient, demo: tuple[Store, DemoSummary]) -> None:
    _, summary = demo
    n = len(summary.tenant_bills)
    page = client.get("/dashboard/bills", headers=HEADERS)
    assert page.status_code == 200
    assert page.text.count('<tr data-bill="') == n
    assert "No bills yet" not in page.text
    first = summary.tenant_bills[0]
    detail = client.get("/dashboard/bills", params={"bill": 1}, headers=HEADERS)
    assert detail.status_code == 200
    assert f"{first.printed_total:,.2f}" in detail.text
    printable = client.get("/dashboard/bills", params={"bill": n, "view": "print"}, headers=HEADERS)
    assert printable.status_code == 200
    assert f"{summary.tenant_bills[-1].printed_total:,.2f}" in printable.text
    rows = list(csv.DictReader(io.StringIO(client.get("/dashboard/bills?csv=true", headers=HEADERS).text)))
    assert len(rows) == sum(len(b.lines) + 1 for b in summary.tenant_bills)  # the lines, then a total
    totals = [r for r in rows if "total" in r.values()]
    assert [t["account"] for t in totals] == [b.account for b in summary.tenant_bills]
    assert client.get("/dashboard/bills", params={"bill": n + 1}, headers=HEADERS).status_code == 404


def test_every_meter_has_its_element_measurements(demo: tuple[Store, DemoSummary]) -> None:
    store, summary = demo
    meters = store.meters()
    assert len(meters) == 26
    for meter in meters:
        found = store.events(meter_id=meter.id, kind=ELEMENT_MEASUREMENTS_EVENT)
        assert len(found) == 1, meter.serial
        event = found[0]
        assert event.at == summary.end
        elements = event.detail["elements"]
        assert [e["element"] for e in elements] == list(range(1, len(elements) + 1))
        for e in elements:
            assert set(e) == {
                "element",
                "voltage_v",
                "voltage_angle_deg",
                "current_a",
                "current_angle_deg",
                "power_w",
                "ct_open",
            }
            assert 100.0 < e["voltage_v"] < 140.0  # 120 V lines (manual §4.1)


def test_each_meter_page_shows_its_wiring_diagnosis(
    client: TestClient, demo: tuple[Store, DemoSummary]
) -> None:
    store, _ = demo
    for meter in store.meters()[:3] + store.meters()[-2:]:
        page = client.get(f"/dashboard/meters/{meter.serial}", headers=HEADERS)
        assert page.status_code == 200
        assert 'id="no-measurements"' not in page.text, meter.serial
        assert 'id="findings' in page.text, meter.serial


def test_element_measurements_detail_is_the_documented_form() -> None:
    measured = [
        ElementMeasurement(1, 120.0, 0.0, 4.0, -10.0, 472.7),
        ElementMeasurement(2, 120.0, 180.0, 0.0, 180.0, 0.0, ct_open=True),
    ]
    assert element_measurements_detail(measured) == {
        "elements": [
            {
                "element": 1,
                "voltage_v": 120.0,
                "voltage_angle_deg": 0.0,
                "current_a": 4.0,
                "current_angle_deg": -10.0,
                "power_w": 472.7,
                "ct_open": False,
            },
            {
                "element": 2,
                "voltage_v": 120.0,
                "voltage_angle_deg": 180.0,
                "current_a": 0.0,
                "current_angle_deg": 180.0,
                "power_w": 0.0,
                "ct_open": True,
            },
        ]
    }


def test_no_measurements_store_nothing(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'm.sqlite'}") as store:
        meter = store.create_meter(serial="X1", designation="MM-D1202001-T-SCC", ct_ratio=2000)
        assert not store_element_measurements(store, meter_id=meter.id, at=START, measurements=())
        assert store.events(meter_id=meter.id) == []
        measured = [ElementMeasurement(1, 120.0, 0.0, 4.0, -10.0, 472.7)]
        assert store_element_measurements(store, meter_id=meter.id, at=START, measurements=measured)
        assert [e.kind for e in store.events(meter_id=meter.id)] == [ELEMENT_MEASUREMENTS_EVENT]


@pytest.mark.postgres
def test_the_demo_stores_its_bills_on_postgresql(postgres_schema_url) -> None:
    with Store(postgres_schema_url) as store:
        summary = run_site_demo(store, parse_site(demo_site_toml()), start=START, days=0.25)
        listed = store.list_bills()
        assert [b.id for b in listed] == [line.bill_id for line in summary.bills]
        assert len(listed) >= 24
        for stored in (listed[0], listed[-1]):
            whole = store.get_bill(stored.id)
            assert whole is not None
            assert verify_bill(whole.document).printed_total == stored.printed_total
