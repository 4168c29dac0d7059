"""The VEE work list in Debian's chromium: issue 15's walk-through on the demo store.

Open the work list, accept an estimate, edit an interval with a reason; then the bill is made again with
the edit, the CSV and Green Button exports and the API's intervals carry it, and the page and the audit
say who did it and why. Screenshots at 1280x900 and 375x800; the page never scrolls sideways.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from meshmeter.api import Settings, create_app
from meshmeter.billing.bill import Bill
from meshmeter.billing.engine import Tenant, bill_meter
from meshmeter.billing.tariff import example_tariff
from meshmeter.intervals import Quality
from meshmeter.store import Store
from tests.dashboard.conftest import ADMIN_TOKEN, serve
from tests.dashboard.site import TIMEZONE, DemoSite

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WHO = "admin token (MESHMETER_ADMIN_TOKEN)"


def rebill(store: Store, site: DemoSite) -> list[Bill]:
    """Each meter's bill made again from the validated view, as the demo made it (the app's provider)."""
    rates = example_tariff("tiered-flat-example")
    bills = []
    for serial in site.serials:
        meter = store.get_meter(serial=serial)
        assert meter is not None
        view = store.interval_view(meter_id=meter.id, start=site.start, end=site.end)
        bills.append(
            bill_meter(
                rates, view.interval_end_s, view.energy_wh, view.quality, start=site.start, end=site.end,
                timezone=TIMEZONE, meter=serial, tenant=Tenant(account=f"Unit {serial[-1]}"),
            )
        )  # fmt: skip
    return bills


@pytest.fixture(scope="module")
def rebilled_server(demo_store: tuple[Store, DemoSite]) -> Iterator[str]:
    """The app over the demo store, whose bills are made again from the store at each request."""
    store, site = demo_store
    app = create_app(
        store,
        Settings(admin_token=ADMIN_TOKEN, environment="development"),
        bills=lambda: rebill(store, site),
    )
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def signed_in(browser: Any, rebilled_server: str) -> Iterator[Any]:
    ctx = browser.new_context(base_url=rebilled_server, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.goto("/dashboard/login")
    page.fill("#token", ADMIN_TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{rebilled_server}/dashboard")
    page.close()
    try:
        yield ctx
    finally:
        ctx.close()


def _row(page: Any, serial: str, end: str) -> Any:
    return page.locator(f'#worklist tbody tr[data-serial="{serial}"][data-end="{end}"]')


def _no_sideways_scroll(page: Any, width: int) -> None:
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= width, f"the page is {scroll} px wide at {width} px"


def _energy(bills: Sequence[Bill], serial: str) -> tuple[int, int]:
    bill = next(b for b in bills if b.meter == serial)
    return bill.energy_wh, bill.estimated_wh


def test_accept_an_estimate_and_edit_an_interval(
    signed_in: Any, demo_store: tuple[Store, DemoSite], screenshots: Path
) -> None:
    store, site = demo_store
    serial = site.gap_serial
    before = rebill(store, site)
    page = signed_in.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/dashboard/vee")
    rows = page.locator("#worklist tbody tr")
    assert rows.count() == 4
    ends = [rows.nth(i).get_attribute("data-end") for i in range(4)]
    first = rows.first.inner_text()
    assert "missing: no value" in first
    assert "interpolation" in first
    assert "open" in first
    assert rows.first.locator(f'a[href="/dashboard/meters/{serial}"]').inner_text() == serial
    page.screenshot(path=str(screenshots / "vee_worklist.png"), full_page=True)
    _no_sideways_scroll(page, 1280)

    # accept the first estimate, with a reason
    row = _row(page, serial, ends[0])
    estimate = int(row.locator("td[data-label='Estimate [Wh]']").inner_text().split()[0])
    row.locator("input[name=reason]").fill("matches the register read")
    with page.expect_navigation():
        row.locator("button[value=accept]").click()
    row = _row(page, serial, ends[0])
    assert "accepted" in row.locator("td.state").inner_text()
    assert f"by {WHO}: matches the register read" in row.locator("td.state").inner_text()
    assert row.locator("button[value=accept]").count() == 0  # accepted: only an edit is left

    # a bad edit is refused with every problem named, nothing changed
    row = _row(page, serial, ends[1])
    row.locator("input[name=reason]").fill("  ")
    row.locator("input[name=value_wh]").fill("")
    with page.expect_navigation():
        row.locator("button[value=edit]").click()
    problems = page.locator(".worklist-errors li").all_inner_texts()
    assert problems == ["reason must be given (why, in words)", "value_wh must be given to edit an interval"]
    assert errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    errors.clear()  # the refused post's 400, and nothing else

    # edit the second interval to 250 Wh, with a reason
    row = _row(page, serial, ends[1])
    second = int(row.locator("td[data-label='Estimate [Wh]']").inner_text().split()[0])
    row.locator("input[name=reason]").fill("tenant's own meter read")
    row.locator("input[name=value_wh]").fill("250")
    with page.expect_navigation():
        row.locator("button[value=edit]").click()
    row = _row(page, serial, ends[1])
    assert "edited" in row.locator("td.state").inner_text()
    assert "edited (250 Wh)" in row.locator("td.state").inner_text()
    assert page.locator("#open-count").inner_text() == "2 open"
    assert errors == [], errors

    # the bill is made again with the edit: the accepted estimate is no longer an estimate
    after = rebill(store, site)
    old_wh, old_estimated_wh = _energy(before, serial)
    new_wh, new_estimated_wh = _energy(after, serial)
    assert new_wh == old_wh + 250 - second
    assert new_estimated_wh == old_estimated_wh - estimate - second
    number = [b.meter for b in after].index(serial) + 1
    page.goto(f"/dashboard/bills?bill={number}")
    assert page.locator("#bill-total").inner_text() == f"{after[number - 1].printed_total:,.2f}"

    # the API's intervals, the CSV and the Green Button export carry the edit
    edited_end = datetime.fromisoformat(ends[1])
    span = {
        "start": (edited_end - timedelta(minutes=15)).isoformat(),
        "end": edited_end.isoformat(),
    }
    doc = page.request.get(f"/meters/{serial}/intervals", params=span).json()
    assert [(d["energy_wh"], d["quality"]) for d in doc["data"]] == [(250, int(Quality.EDITED))]
    csv_text = page.request.get(f"/meters/{serial}/intervals", params={**span, "format": "csv"}).text()
    assert ",250," in csv_text.replace("\r", "")
    xml = page.request.get(
        f"/meters/{serial}/greenbutton",
        params={"start": site.start.isoformat(), "end": site.end.isoformat()},
    ).text()
    assert "<value>250</value>" in xml.replace(" ", "") or ">250<" in xml

    # the audit says who and why
    meter = store.get_meter(serial=serial)
    assert meter is not None
    audit = [e for e in store.interval_edits(meter_id=meter.id, start=site.start, end=site.end) if e.action]
    assert [(e.action, e.edited_by, e.reason, e.new_energy_wh) for e in audit] == [
        ("accept", WHO, "matches the register read", estimate),
        ("edit", WHO, "tenant's own meter read", 250),
    ]

    # the phone: cards, no sideways scroll
    phone = signed_in.new_page()
    phone.set_viewport_size({"width": 375, "height": 800})
    phone.goto("/dashboard/vee")
    assert phone.locator("#worklist tbody tr").count() == 4
    phone.screenshot(path=str(screenshots / "vee_worklist_phone.png"), full_page=True)
    _no_sideways_scroll(phone, 375)
    phone.close()
    page.close()
