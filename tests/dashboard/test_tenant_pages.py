"""A tenant's own pages (issue 15): "My usage" by day, month and year within their tenure only, "My bills"
with names first, "Download my data" whose every link answers with their data only; nothing of another
account's by changing an id in the URL (404), no operator page (403)."""

from __future__ import annotations

import csv
import io
import re
import warnings
from datetime import datetime

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from meshmeter.store import Store
from tests.dashboard.conftest import bearer
from tests.dashboard.tenant_world import MOVE, START

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


def _kwh_cells(html: str) -> dict[str, str]:
    """Each row of the usage table: its period → its kWh as shown."""
    rows = re.findall(r'<th scope="row">([^<]+)</th>\s*<td class="num">([^<]+)</td>', html)
    return dict(rows)


def _wh(store: Store, serial: str, start: datetime, end: datetime) -> int:
    meter = store.get_meter(serial=serial)
    assert meter is not None
    return store.interval_view(meter_id=meter.id, start=start, end=end).total_wh


def test_my_usage_by_day_is_the_meters_within_the_tenure(world_client: TestClient, world) -> None:
    store, w = world
    serial = w.serials["102"]
    end = START.replace(day=10)
    for who, lo, hi in (("leaver", START, MOVE), ("newcomer", MOVE, end)):
        page = world_client.get("/dashboard/usage", headers=bearer(world, who))
        assert page.status_code == 200, page.text
        assert "Unit 102" in page.text
        total = re.search(r'class="usage-total">([^<]+) kWh<', page.text)
        assert total is not None
        assert total.group(1) == f"{_wh(store, serial, lo, hi) / 1000:,.1f}"
    # the leaver's only day is Saturday; the newcomer's begin on Sunday
    assert list(_kwh_cells(world_client.get("/dashboard/usage", headers=bearer(world, "leaver")).text)) == [
        "Sat 07 Mar 2026"
    ]
    newcomer = _kwh_cells(world_client.get("/dashboard/usage", headers=bearer(world, "newcomer")).text)
    assert list(newcomer) == ["Mon 09 Mar 2026", "Sun 08 Mar 2026"]
    sunday = _wh(store, serial, MOVE, MOVE.replace(hour=7, day=9))  # a 23-hour day: PDT from 03:00
    assert newcomer["Sun 08 Mar 2026"] == f"{sunday / 1000:,.1f}"


@pytest.mark.parametrize(("scale", "label"), [("month", "Mar 2026"), ("year", "2026")])
def test_my_usage_by_month_and_year(world_client: TestClient, world, scale: str, label: str) -> None:
    store, w = world
    page = world_client.get("/dashboard/usage", params={"scale": scale}, headers=bearer(world, "tenant"))
    assert page.status_code == 200
    assert 'aria-current="page">By ' + scale in page.text
    whole = _wh(store, w.serials["101"], START, START.replace(day=10))
    assert _kwh_cells(page.text) == {label: f"{whole / 1000:,.1f}"}


def test_a_bad_scale_is_refused_by_name(world_client: TestClient, world) -> None:
    answer = world_client.get("/dashboard/usage", params={"scale": "week"}, headers=bearer(world, "tenant"))
    assert answer.status_code == 422
    assert "scale" in answer.text


def test_every_download_link_gives_my_data_only(world_client: TestClient, world) -> None:
    store, w = world
    page = world_client.get("/dashboard/download", headers=bearer(world, "newcomer"))
    assert page.status_code == 200
    links = [u.replace("&amp;", "&") for u in re.findall(r'href="(/meters/[^"]+)"', page.text)]
    assert len(links) == 3
    assert all(w.serials["102"] in u for u in links)
    for url in links:
        answer = world_client.get(url, headers=bearer(world, "newcomer"))
        assert answer.status_code == 200, (url, answer.text)
        assert "attachment" in answer.headers["content-disposition"]
    greenbutton, quarter, daily = (world_client.get(u, headers=bearer(world, "newcomer")) for u in links)
    assert greenbutton.headers["content-type"].startswith("application/atom+xml")
    rows = list(csv.DictReader(io.StringIO(quarter.text)))
    filled = [r for r in rows if r["energy_wh"]]
    assert filled
    assert all(datetime.fromisoformat(r["interval_end"]) > MOVE for r in filled)
    assert sum(int(r["energy_wh"]) for r in filled) == _wh(
        store, w.serials["102"], MOVE, START.replace(day=10)
    )
    days = [r for r in csv.DictReader(io.StringIO(daily.text)) if r["energy_wh"]]
    assert sum(int(r["energy_wh"]) for r in days) == sum(int(r["energy_wh"]) for r in filled)


def test_nothing_of_another_account_by_changing_an_id(world_client: TestClient, world) -> None:
    store, w = world
    mine = bearer(world, "tenant")
    other = w.serials["102"]
    start, end = "2026-03-07T08:00:00Z", "2026-03-09T08:00:00Z"
    for url, params in (
        (f"/meters/{other}/intervals", {"start": start, "end": end}),
        (f"/meters/{other}/intervals", {"start": start, "end": end, "format": "csv"}),
        (f"/meters/{other}/greenbutton", {"start": start, "end": end}),
        ("/dashboard/bills", {"bill": 2}),
        ("/dashboard/bills", {"bill": 2, "view": "print"}),
    ):
        answer = world_client.get(url, params=params, headers=mine)
        assert answer.status_code == 404, (url, params, answer.status_code)
    baker = next(b for b in store.list_bills() if b.account == "Baker household")
    assert world_client.get(f"/bills/{baker.id}", headers=mine).status_code == 404
    for path in ("/dashboard", "/dashboard/network", "/dashboard/vee", f"/dashboard/meters/{other}"):
        assert world_client.get(path, headers=mine).status_code == 403, path
    # the pages name nobody else
    for path in ("/dashboard/usage", "/dashboard/bills", "/dashboard/download", "/dashboard/bills?bill=1"):
        text = world_client.get(path, headers=mine).text
        assert "Alvarez household" in text or path == "/dashboard/download"
        for name in ("Baker", "Newman", other):
            assert name not in text, (path, name)


@pytest.mark.parametrize("who", ["admin", "operator", "read-only", "billing"])
def test_the_tenant_pages_are_a_tenants(world_client: TestClient, world, who: str) -> None:
    for path in ("/dashboard/usage", "/dashboard/download"):
        answer = world_client.get(path, headers=bearer(world, who))
        assert answer.status_code == 403, (who, path)
        assert "tenant" in answer.json()["detail"]


def test_the_tenants_navigation(world_client: TestClient, world) -> None:
    page = world_client.get("/dashboard/bills", headers=bearer(world, "tenant")).text
    nav = page[page.index('<nav aria-label="Main">') : page.index("</nav>")]
    assert re.findall(r'href="([^"]+)"', nav) == [
        "/dashboard/usage",
        "/dashboard/bills",
        "/dashboard/download",
    ]
    assert "My bills" in nav
    # the brand and an error page lead a tenant back to their bills, never to the overview (a 403 for them)
    assert '<a class="brand" href="/dashboard/bills">' in page
    refused = world_client.get(
        "/dashboard/network", headers={**bearer(world, "tenant"), "Accept": "text/html"}
    ).text
    assert 'href="/dashboard"' not in refused


def test_bills_name_unit_tenant_and_account_first(world_client: TestClient, world) -> None:
    page = world_client.get("/dashboard/bills", headers=bearer(world, "admin")).text
    first = page[page.index('<tr data-bill="1">') : page.index('<tr data-bill="2">')]
    cells = re.findall(r'data-label="([^"]+)"', first)
    assert cells[:4] == ["No.", "Unit", "Tenant", "Account"]
    for shown in ("Unit 101", "Alvarez household", ">1001<"):
        assert shown in first
    assert first.index("Unit 101") < first.index("MM26000001")
    # the account billed, though another tenant lives in unit 102 at the end of the period
    second = page[page.index('<tr data-bill="2">') : page.index('<tr data-bill="3">')]
    for shown in ("Unit 102", "Baker household", ">1002<"):
        assert shown in second
    assert 'href="/dashboard/meters/MM26000001"' in first  # one click away, for those who may open it
    billing = world_client.get("/dashboard/bills", headers=bearer(world, "billing")).text
    assert 'href="/dashboard/meters/' not in billing  # billing may not open a meter's page
    detail = world_client.get("/dashboard/bills", params={"bill": 1}, headers=bearer(world, "tenant")).text
    due = re.search(r'id="bill-total-due">([^<]+) USD<', detail)
    total = re.search(r'id="bill-total"><strong>([^<]+)</strong>', detail)
    assert due is not None
    assert total is not None
    assert due.group(1) == total.group(1)
    assert detail.index("bill-total-due") < detail.index("bill-lines")  # the total first, above the lines
