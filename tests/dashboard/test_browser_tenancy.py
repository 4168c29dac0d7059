"""Tenants and units in Debian's chromium: issue 15's walk-through on the demo building.

An operator signs in, adds a unit, adds a tenant moving into it (a refused try first, named and kept), sees
them listed, moves them out (confirmed first), sees the unit vacant, and reads on the account's page who
did it. Screenshots at 1280x900 and 375x800; the pages never scroll sideways.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meshmeter.api import Settings, create_app
from meshmeter.store import Store
from tests.dashboard.conftest import ADMIN_TOKEN, serve
from tests.dashboard.tenant_world import World, build_world

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SERIAL = "MM26000301"
"""The meter of the unit the walk-through adds (registered beforehand, as the meters page would)."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, World]]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('tenancy-browser') / 'demo.sqlite'}")
    try:
        w = build_world(store)
        store.create_meter(
            serial=SERIAL, designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=store.sites()[0].id
        )
        yield store, w
    finally:
        store.close()


@pytest.fixture(scope="module")
def base_url(world: tuple[Store, World]) -> Iterator[str]:
    store, _ = world
    with serve(create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))) as url:
        yield url


def _no_sideways_scroll(page: Any, width: int) -> None:
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= width, f"the page is {scroll} px wide at {width} px"


def _unit_row(page: Any, name: str) -> Any:
    return page.locator("#units tbody tr", has=page.locator("th", has_text=f"Unit {name}"))


def test_add_a_tenant_move_them_out_and_read_who_did_it(
    browser: Any, base_url: str, world: tuple[Store, World], screenshots: Path
) -> None:
    store, w = world
    operator = store.find_api_token(token=w.tokens["operator"])
    assert operator is not None
    who = f"token {operator.id} (operator)"
    ctx = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/dashboard/login")
    page.fill("#token", w.tokens["operator"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/dashboard")
    page.click("header nav >> text=Tenants")
    page.wait_for_url(f"{base_url}/dashboard/tenants")
    assert page.locator("#units tbody tr").count() == 25  # 24 apartments and the house

    # a unit for the new tenant, measured by the meter registered for it
    form = page.locator("#form-new_unit")
    form.locator("[name=name]").fill("301")
    form.locator("[name=address]").fill("500 Mission St, Apt 301")
    form.locator("[name=meter]").select_option(SERIAL)
    form.locator("[name=floor_area_ft2]").fill("720")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert "vacant" in _unit_row(page, "301").inner_text()

    # a new tenant under a number already taken: refused, every problem named, what was typed kept
    form = page.locator("#form-new_tenant")
    form.locator("[name=name]").fill("Garza household")
    form.locator("[name=number]").fill("1001")
    form.locator("[name=unit]").select_option(label="Unit 301 · 500 Mission St, Apt 301")
    form.locator("[name=at]").fill("2026-11-01")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    problems = page.locator(".tenancy-errors li").all_inner_texts()
    assert problems == ["number '1001' is already account_id 1 at site 1"]
    assert page.locator("#form-new_tenant [name=name]").input_value() == "Garza household"
    assert page.locator("#form-new_tenant [name=at]").input_value() == "2026-11-01"
    assert errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    errors.clear()
    assert store.tenants()[-1].name != "Garza household"  # nothing stored

    # the same, with the next number of the site
    page.locator("#form-new_tenant [name=number]").fill("")
    with page.expect_navigation():
        page.locator("#form-new_tenant button[type=submit]").click()
    row = _unit_row(page, "301")
    assert "Garza household" in row.inner_text()
    assert "2026-11-01 00:00 PDT" in row.inner_text()
    page.screenshot(path=str(screenshots / "tenancy_tenants.png"), full_page=True)
    _no_sideways_scroll(page, 1280)

    # move them out: the page asks first, saying what it will do
    form = page.locator("#form-move_out")
    form.locator("[name=account_id]").select_option(label="Garza household (1027) · Unit 301")
    form.locator("[name=at]").fill("2026-11-20")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert page.locator("#confirm-text").inner_text() == (
        "Garza household leaves Unit 301 on 2026-11-20 00:00 PST (account 1027); the account stays open."
    )
    assert "Garza household" in _unit_row(page, "301").inner_text()  # asked, not done
    page.screenshot(path=str(screenshots / "tenancy_confirm.png"))
    with page.expect_navigation():
        page.locator("#confirm-yes").click()
    assert "vacant" in _unit_row(page, "301").inner_text()
    waiting = page.locator("#waiting tbody tr", has=page.locator("th", has_text="Garza household"))
    assert "moved out of Unit 301 on 2026-11-20 00:00 PST" in waiting.inner_text()

    # the account's page: its history says what was done, when, and who did it
    with page.expect_navigation():
        waiting.locator("a", has_text="1027").click()
    history = page.locator("#history li").all_inner_texts()
    assert [h.splitlines()[0] for h in history] == [
        "Account 1027 opened on 2026-11-01 00:00 PDT",
        "Moved into Unit 301 on 2026-11-01 00:00 PDT",
        "Moved out of Unit 301 on 2026-11-20 00:00 PST",
    ]
    assert all(f"by {who}" in h for h in history)
    assert page.locator("#account-unit").inner_text() == "no unit"
    page.screenshot(path=str(screenshots / "tenancy_account.png"), full_page=True)
    _no_sideways_scroll(page, 1280)
    assert errors == [], errors

    # the phone: cards, no sideways scroll, the forms within the screen
    phone = ctx.new_page()
    phone.set_viewport_size({"width": 375, "height": 800})
    for path, name in (
        ("/dashboard/tenants", "tenancy_tenants_phone.png"),
        (page.url, "tenancy_account_phone.png"),
    ):
        phone.goto(path)
        phone.screenshot(path=str(screenshots / name), full_page=True)
        _no_sideways_scroll(phone, 375)
    phone.close()
    page.close()
    ctx.close()
