"""A tenant in Debian's chromium (issue 13): signed in with a token bound to their account, they land on
their bills, read their own bill and its printable view, and reach nothing of another account's or of the
operator's pages, on a phone and a desktop viewport alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meshmeter.api import Settings, create_app
from meshmeter.billing import Tenant
from meshmeter.billing.tariff import example_tariff
from meshmeter.services.billing import bill_meter_from_store, save_meter_bill
from meshmeter.store import Store
from tests.dashboard.conftest import ADMIN_TOKEN, serve
from tests.dashboard.site import TIMEZONE, DemoSite

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def tenancy(demo_store: tuple[Store, DemoSite]) -> dict[str, Any]:
    """Two tenants in two units of the small site, each with a stored bill; a tenant token for the first."""
    store, site = demo_store
    tariff = example_tariff("tiered-flat-example")
    made: dict[str, Any] = {"bills": {}}
    for name, serial, unit in (("Tess Tenant", site.serials[0], "1A"), ("Otto Other", site.serials[1], "2B")):
        meter = store.get_meter(serial=serial)
        assert meter is not None
        person = store.create_tenant(name=name)
        room = store.create_unit(
            site_id=site.site_id, name=unit, meter_id=meter.id, address=f"{unit} Oak Court"
        )
        account = store.open_account(tenant_id=person.id, site_id=site.site_id, opened_at=site.start)
        store.move_in(account_id=account.id, unit_id=room.id, at=site.start)
        bill = bill_meter_from_store(
            store, meter=meter, tariff=tariff, start=site.start, end=site.end, timezone=TIMEZONE,
            tenant=Tenant(name),
        )  # fmt: skip
        stored, _ = save_meter_bill(store, bill, meter)
        made["bills"][name] = (account, stored)
    account, _ = made["bills"]["Tess Tenant"]
    _, made["token"] = store.create_api_token(role="tenant", account_id=account.id, label="Tess")
    return made


@pytest.fixture(scope="module")
def store_server(demo_store: tuple[Store, DemoSite], tenancy: dict[str, Any]) -> Iterator[str]:
    """The app over the store alone (no bills provider): what ``meshmeter serve`` runs."""
    store, _ = demo_store
    with serve(create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))) as url:
        yield url


@pytest.mark.parametrize("viewport", [(375, 800), (1280, 900)], ids=["phone", "desktop"])
def test_a_tenant_reads_their_own_bill_and_nothing_else(
    browser: Any, store_server: str, tenancy: dict[str, Any], screenshots: Path, viewport: tuple[int, int]
) -> None:
    width, height = viewport
    ctx = browser.new_context(base_url=store_server, viewport={"width": width, "height": height})
    errors: list[str] = []
    try:
        page = ctx.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto("/dashboard/login")
        page.fill("#token", tenancy["token"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{store_server}/dashboard/bills")
        text = page.inner_text("body")
        assert "Tess Tenant" in text
        assert "Otto Other" not in text
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(screenshots / f"tenant-bills-{width}.png"), full_page=True)
        # their bill, and its printable view
        page.goto("/dashboard/bills?bill=1")
        assert "Tess Tenant" in page.inner_text("body")
        printable = page.goto("/dashboard/bills?bill=1&view=print")
        assert printable is not None
        assert printable.status == 200
        assert "Tess Tenant" in page.inner_text("body")
        assert "Otto Other" not in page.content()
        page.screenshot(path=str(screenshots / f"tenant-bill-print-{width}.png"), full_page=True)
        # nothing of the other account's, nor the operator's pages
        assert page.goto("/dashboard/bills?bill=2").status == 404  # type: ignore[union-attr]
        for path in ("/dashboard", "/dashboard/network", "/dashboard/vee"):
            answer = page.goto(path)
            assert answer is not None
            assert answer.status == 403, path
            assert "Otto Other" not in page.content()
        other = tenancy["bills"]["Otto Other"][1]
        answer = page.request.get(f"/bills/{other.id}")
        assert answer.status == 404
    finally:
        ctx.close()
    assert errors == [] or all("403" in e or "404" in e for e in errors), errors
