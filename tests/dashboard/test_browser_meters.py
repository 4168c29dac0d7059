"""Meters and their sources in Debian's chromium: issue 15's walk-through on the demo building.

An operator signs in, registers a meter and sees it listed by name, sends a refused registration and reads
every problem named with nothing stored, changes a meter's multiplier and reads it in the meter's life, adds a
source, maps a channel to a meter and disables the source; then registers a meter on a phone. A read-only
token sees the same pages without their forms. Screenshots at 1280x900 and 375x800; the pages never scroll
sideways and log no error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meshmeter.store import Store
from tests.dashboard.conftest import REFUSED_IN_CONSOLE, no_sideways_scroll, sign_in, snapshot
from tests.dashboard.tenant_world import World

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NEW = "MM26000950"
"""The meter the operator registers at 1280 px."""
PHONE = "MM26000951"
"""The meter the operator registers on the phone."""


@pytest.fixture(scope="module")
def errors() -> list[str]:
    """The console errors and uncaught exceptions of every page opened."""
    return []


@pytest.fixture(scope="module")
def operator(browser: Any, world_url: str, world: tuple[Store, World], errors: list[str]) -> Iterator[Any]:
    """A page at 1280x900, signed in with the operator's token through the sign-in form."""
    ctx = browser.new_context(base_url=world_url, viewport={"width": 1280, "height": 900})
    page = sign_in(ctx, world_url, world[1].tokens["operator"], errors)
    try:
        yield page
    finally:
        ctx.close()


def _submit(page: Any, form: Any, button: str = "button[type=submit]") -> None:
    with page.expect_navigation():
        form.locator(button).click()


def _cells(row: Any) -> list[str]:
    return [" ".join(c.split()) for c in row.locator("th, td").all_inner_texts()]


def test_register_a_meter_and_see_it_listed_by_name(
    operator: Any, world: tuple[Store, World], screenshots: Path, errors: list[str]
) -> None:
    store, _ = world
    page = operator
    page.click("header nav >> text=Meters")
    page.wait_for_url("**/dashboard/meters")
    assert page.locator("#meters tbody tr").count() == len(store.meters())
    form = page.locator("#register-form")
    form.locator("[name=serial]").fill(NEW)
    form.locator("[name=designation]").select_option("MM-S1202001-T-SCC")
    form.locator("[name=role]").select_option("house")
    _submit(page, form)
    row = page.locator(f"#meter-{NEW}")
    cells = _cells(row)
    assert cells[0] == "House meter"  # named by its role, no unit yet
    assert cells[2:7] == [NEW, "MM-S1202001-T-SCC", "2000:1", "1", "house meter"]
    assert cells[7] == "in service"
    made = store.get_meter(serial=NEW)
    assert made is not None
    assert (made.designation, made.ct_ratio, made.role) == ("MM-S1202001-T-SCC", 2000, "house")
    page.screenshot(path=str(screenshots / "meters_registered.png"), full_page=True)
    no_sideways_scroll(page, 1280)
    assert errors == [], errors


def test_a_refused_registration_names_what_is_wrong_and_stores_nothing(
    operator: Any, world: tuple[Store, World], screenshots: Path, errors: list[str]
) -> None:
    store, w = world
    page = operator
    page.goto("/dashboard/meters?site_id=1")
    before = snapshot(store)
    form = page.locator("#register-form")
    form.locator("[name=serial]").fill(w.serials["104"])  # taken by unit 104's meter
    form.locator("[name=ct_ratio]").fill("0")
    _submit(page, form)
    assert page.locator("#register-errors li").all_inner_texts() == [
        "ct_ratio must be a finite number > 0, got 0.0",
        f"serial '{w.serials['104']}' is already a meter",
    ]
    assert page.locator("#register-errors").inner_text().count("Nothing was stored") == 1
    # what was typed is kept, to be corrected
    assert page.locator("#register-form [name=serial]").input_value() == w.serials["104"]
    assert page.locator("#register-form [name=ct_ratio]").input_value() == "0"
    assert snapshot(store) == before
    page.screenshot(path=str(screenshots / "meters_refused.png"), full_page=True)
    no_sideways_scroll(page, 1280)
    assert errors == [REFUSED_IN_CONSOLE], errors
    errors.clear()


def test_a_multiplier_change_is_read_in_the_meters_life(
    operator: Any, world: tuple[Store, World], screenshots: Path, errors: list[str]
) -> None:
    store, w = world
    page = operator
    serial = w.serials["105"]
    who = store.find_api_token(token=w.tokens["operator"])
    assert who is not None
    page.goto("/dashboard/meters?site_id=1")
    with page.expect_navigation():
        page.locator(f"#meter-{serial} a", has_text=serial).click()
    assert page.locator("#life-none").is_visible()  # nothing in its life yet
    form = page.locator("#manage-multiplier")
    form.locator("[name=at]").fill("2026-03-08")
    form.locator("[name=value]").fill("2")
    form.locator("[name=read_kwh]").fill("1234.567")
    _submit(page, form)
    life = page.locator("#life-list li").all_inner_texts()
    assert len(life) == 1
    assert " ".join(life[0].split()) == (
        f"2026-03-08 00:00 PST Multiplier 1 → 2, register 1,234.567 kWh recorded by token {who.id} (operator)"
    )
    meter = store.get_meter(serial=serial)
    assert meter is not None
    [change] = store.meter_changes(meter_id=meter.id)
    assert (change.kind, change.value, change.read_wh) == ("multiplier", 2.0, 1234567)
    page.screenshot(path=str(screenshots / "meters_life.png"), full_page=True)
    no_sideways_scroll(page, 1280)
    assert errors == [], errors


def test_add_a_source_map_a_channel_and_disable_it(
    operator: Any, world: tuple[Store, World], screenshots: Path, errors: list[str]
) -> None:
    store, w = world
    page = operator
    serial = w.serials["106"]
    page.click("header nav >> text=Sources")
    page.wait_for_url("**/dashboard/sources")
    form = page.locator("#add-source")
    form.locator("[name=name]").fill("panel-w")
    form.locator("[name=kind]").select_option("mqtt")
    form.locator("[name=format]").fill("tasmota_counter")
    form.locator("[name=address]").fill("mqtt://127.0.0.1:1883")
    form.locator("[name=settings]").fill("topic=tele/panel-w/SENSOR\ncomm_loss_after_s=900")
    _submit(page, form)
    source = store.get_source(site_id=1, name="panel-w")
    assert source is not None
    assert source.settings == {"topic": "tele/panel-w/SENSOR", "comm_loss_after_s": 900}
    card = page.locator(f"#source-{source.id}")
    assert "Nothing mapped yet" in card.inner_text()

    mapping = card.locator(f"#map-{source.id}")
    mapping.locator("[name=device]").fill("panel-w")
    mapping.locator("[name=channel]").fill("C1")
    mapping.locator("[name=meter]").select_option(serial)
    mapping.locator("[name=unit]").select_option("pulse")
    mapping.locator("[name=wh_per_unit]").fill("10")
    _submit(page, mapping)
    feeds = page.locator(f"#source-{source.id} td.feeds").all_inner_texts()
    assert len(feeds) == 1
    name, shown_serial = feeds[0].splitlines()
    assert name.startswith("Unit 106 · ")  # the unit and who lives there, the serial under it
    assert shown_serial == serial
    [channel] = store.source_channels(source_id=source.id)
    assert (channel.device, channel.channel, channel.unit, channel.wh_per_unit) == (
        "panel-w",
        "C1",
        "pulse",
        10,
    )

    _submit(page, page.locator(f"#source-{source.id} form.source-toggle"), "button[value=disable]")
    title = page.locator(f"#source-title-{source.id}").inner_text()
    assert "disabled" in title
    assert page.locator(f"#source-{source.id} form.source-toggle button").inner_text() == "Enable panel-w"
    found = store.get_source(source_id=source.id)
    assert found is not None
    assert found.enabled is False
    page.screenshot(path=str(screenshots / "meters_sources.png"), full_page=True)
    no_sideways_scroll(page, 1280)
    assert errors == [], errors


def test_register_a_meter_on_a_phone(
    browser: Any, world_url: str, world: tuple[Store, World], screenshots: Path, errors: list[str]
) -> None:
    store, w = world
    ctx = browser.new_context(base_url=world_url, viewport={"width": 375, "height": 800})
    page = sign_in(ctx, world_url, w.tokens["operator"], errors)
    page.goto("/dashboard/meters?site_id=1")
    form = page.locator("#register-form")
    form.scroll_into_view_if_needed()
    form.locator("[name=serial]").fill(PHONE)
    _submit(page, form)
    row = page.locator(f"#meter-{PHONE}")
    assert row.is_visible()
    assert PHONE in row.inner_text()
    assert store.get_meter(serial=PHONE) is not None
    page.screenshot(path=str(screenshots / "meters_phone.png"), full_page=True)
    no_sideways_scroll(page, 375)
    for path, name in (
        (f"/dashboard/meters/{w.serials['105']}", "meters_meter_phone.png"),
        ("/dashboard/sources?site_id=1", "meters_sources_phone.png"),
    ):
        page.goto(path)
        page.screenshot(path=str(screenshots / name), full_page=True)
        no_sideways_scroll(page, 375)
    ctx.close()
    assert errors == [], errors


def test_a_read_only_token_sees_the_pages_without_their_forms(
    browser: Any, world_url: str, world: tuple[Store, World], screenshots: Path, errors: list[str]
) -> None:
    _store, w = world
    ctx = browser.new_context(base_url=world_url, viewport={"width": 1280, "height": 900})
    page = sign_in(ctx, world_url, w.tokens["read-only"], errors)
    for path, shown in (
        ("/dashboard/meters?site_id=1", "#meters"),
        (f"/dashboard/meters/{w.serials['105']}", "#life"),
        ("/dashboard/sources?site_id=1", "main h1"),
    ):
        page.goto(path)
        assert page.locator(shown).first.is_visible(), path
        acts = page.locator("main form[method=post]")
        assert acts.count() == 0, (path, acts.evaluate_all("fs => fs.map(f => f.outerHTML.slice(0, 80))"))
        assert page.locator("#register-form, #manage, #add-source").count() == 0
    page.screenshot(path=str(screenshots / "meters_sources_read_only.png"), full_page=True)
    ctx.close()
    assert errors == [], errors
