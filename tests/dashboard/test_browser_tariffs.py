"""The Tariffs page in Debian's chromium: issue 15's walk-through on the demo building.

An operator signs in, sends a refused setting (no account checked, a date that is none) and reads every
problem with nothing stored; checks two accounts, chooses an example tariff and sets it from a date, and
sees both rows show it and since when in the site's time; pastes a URDB document with its label for a
third; then bills the accounts without naming a tariff (``POST /accounts/{id}/bills``, the admin's bearer)
and finds each priced at the tariff set. On a phone, a tariff set for one more account. Screenshots at
1280x900 and 375x800; the page never scrolls sideways and logs no error.

The URDB document is ``tests/data/urdb/pge-e-1-region-t.json``: Pacific Gas & Electric, E-1 Residential
Service Baseline Region T, copied from firstof9/python-openei (``tests/fixtures/plan_tier_data.json``), as
``tests/data/urdb/SOURCES.md`` says.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from meshmeter.billing.tariff import example_tariff
from meshmeter.store import Account, Store
from tests.dashboard.conftest import REFUSED_IN_CONSOLE, bearer, no_sideways_scroll, sign_in, snapshot
from tests.dashboard.tenant_world import World, account_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]

URDB = Path(__file__).resolve().parents[1] / "data" / "urdb" / "pge-e-1-region-t.json"
LABEL = "60e4c63a5457a3a91679e0f2"
"""The URDB label of the rate in :data:`URDB`."""
PERIOD = {"start": "2026-03-07", "end": "2026-03-09"}
"""The two days of the demo building, billed."""


def _submit(page: Any) -> None:
    with page.expect_navigation():
        page.locator("#set-tariff button[type=submit]").click()


def _row(page: Any, account: Account) -> dict[str, str]:
    """The account's row of the table: each cell's label → its text."""
    row = page.locator(f"#account-{account.id}")
    cells = row.locator("td, th").all()
    return {c.get_attribute("data-label") or "Unit": " ".join(c.inner_text().split()) for c in cells}


def _total(url: str, world: tuple[Store, World], account: Account, **tariff: Any) -> Decimal:
    """What ``POST /accounts/{id}/bills`` prices the account at over :data:`PERIOD`; with no tariff
    named, at its own."""
    answer = httpx.post(
        f"{url}/accounts/{account.id}/bills", json={**PERIOD, **tariff}, headers=bearer(world, "admin")
    )
    assert answer.status_code == 200, answer.text
    (bill,) = answer.json()["bills"]
    return Decimal(bill["printed_total"])


@pytest.fixture(scope="module")
def operator(browser: Any, world_url: str, world: tuple[Store, World]) -> Iterator[tuple[Any, list[str]]]:
    """A page at 1280x900 signed in with the operator's token, and the errors it logs."""
    ctx = browser.new_context(base_url=world_url, viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    try:
        yield sign_in(ctx, world_url, world[1].tokens["operator"], errors), errors
    finally:
        ctx.close()


def test_a_refused_setting_names_every_problem_and_stores_nothing(
    operator: tuple[Any, list[str]], world: tuple[Store, World], world_url: str, screenshots: Path
) -> None:
    store, _ = world
    page, errors = operator
    page.click("header nav >> text=Tariffs")
    page.wait_for_url("**/dashboard/tariffs")
    before = snapshot(store)
    page.locator("#tariff-example").select_option("e-tou-c-example")
    page.locator("#tariff-effective").fill("2026-02-30")
    _submit(page)
    problems = page.locator(".tariff-errors li").all_inner_texts()
    assert problems[0] == "choose at least one account: check it in the table"
    assert len(problems) == 2
    # the date named in the API's words
    api = httpx.put(
        f"{world_url}/accounts/1/tariff",
        json={"example": "e-tou-c-example", "effective": "2026-02-30"},
        headers=bearer(world, "admin"),
    )
    assert api.status_code == 400
    assert problems[1] == api.json()["detail"]
    assert "'2026-02-30'" in problems[1]
    assert snapshot(store) == before
    # what was typed is kept
    assert page.locator("#tariff-effective").input_value() == "2026-02-30"
    assert page.locator("#tariff-example").input_value() == "e-tou-c-example"
    page.screenshot(path=str(screenshots / "tariffs_refused.png"), full_page=True)
    no_sideways_scroll(page, 1280)
    assert errors == [REFUSED_IN_CONSOLE], errors
    errors.clear()


def test_an_example_tariff_set_for_two_accounts_is_what_they_are_billed_at(
    operator: tuple[Any, list[str]], world: tuple[Store, World], world_url: str, screenshots: Path
) -> None:
    store, w = world
    page, errors = operator
    who = store.find_api_token(token=w.tokens["operator"])
    assert who is not None
    alvarez, third = account_of(store, "Alvarez household"), store.accounts()[2]
    page.goto("/dashboard/tariffs?site_id=1")
    for account in (alvarez, third):
        page.locator(f"#choose-{account.id}").check()
    page.locator("#set-tariff [name=source][value=example]").check()
    page.locator("#tariff-example").select_option("e-tou-c-example")
    page.locator("#tariff-effective").fill("2026-03-08")
    _submit(page)
    name = example_tariff("e-tou-c-example").name
    for account in (alvarez, third):
        row = _row(page, account)
        assert row["Account"] == account.number
        assert row["Tariff in force"] == name
        assert row["Since"] == "2026-03-08 00:00 PST"  # the site's midnight, in its zone
        assert row["Set by"] == f"token {who.id} (operator)"
    assert _row(page, store.accounts()[3])["Tariff in force"] != name  # only the accounts checked
    page.screenshot(path=str(screenshots / "tariffs_set.png"), full_page=True)
    no_sideways_scroll(page, 1280)
    assert errors == [], errors

    # billed with no tariff named: at the one in force at the period's end, the tariff just set
    for account in (alvarez, third):
        own = _total(world_url, world, account)
        assert own == _total(world_url, world, account, example="e-tou-c-example")
        assert own != _total(world_url, world, account, example="tiered-flat-example")


def test_a_pasted_urdb_document_with_its_label(
    operator: tuple[Any, list[str]], world: tuple[Store, World], world_url: str, screenshots: Path
) -> None:
    store, _ = world
    page, errors = operator
    account = store.accounts()[3]
    document = URDB.read_text(encoding="utf-8")
    page.goto("/dashboard/tariffs?site_id=1")
    page.locator(f"#choose-{account.id}").check()
    page.locator("#set-tariff [name=source][value=document]").check()
    # pasted, as a person pastes it: copied to the clipboard, then Ctrl+V in the box
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.evaluate("text => navigator.clipboard.writeText(text)", document)
    page.locator("#tariff-document").focus()
    page.keyboard.press("Control+V")
    assert page.locator("#tariff-document").input_value() == document
    page.locator("#tariff-label").fill(LABEL)
    page.locator("#tariff-effective").fill("2026-03-08")
    _submit(page)
    setting = store.account_tariffs(account_id=account.id)[-1]
    assert setting.label == LABEL
    row = _row(page, account)
    assert row["Tariff in force"] == f"{setting.name} URDB label {LABEL}"
    assert "E-1" in setting.name
    assert row["Since"] == "2026-03-08 00:00 PST"
    page.screenshot(path=str(screenshots / "tariffs_urdb.png"), full_page=True)
    assert errors == [], errors
    # billed with no tariff named: at the document set, as when the document is named
    named = _total(world_url, world, account, tariff=json.loads(document), label=LABEL)
    assert _total(world_url, world, account) == named


def test_set_a_tariff_on_a_phone(
    browser: Any, world_url: str, world: tuple[Store, World], screenshots: Path
) -> None:
    store, w = world
    account = store.accounts()[4]
    ctx = browser.new_context(base_url=world_url, viewport={"width": 375, "height": 800})
    errors: list[str] = []
    page = sign_in(ctx, world_url, w.tokens["operator"], errors)
    page.goto("/dashboard/tariffs?site_id=1")
    no_sideways_scroll(page, 375)
    page.locator(f"#choose-{account.id}").check()
    page.locator("#tariff-example").select_option("e-tou-c-example")
    page.locator("#tariff-effective").fill("2026-04-01")
    _submit(page)
    row = _row(page, account)
    assert row["Tariff in force"] == example_tariff("e-tou-c-example").name
    assert row["Since"] == "2026-04-01 00:00 PDT"  # after the spring-forward: daylight time
    page.screenshot(path=str(screenshots / "tariffs_phone.png"), full_page=True)
    no_sideways_scroll(page, 375)
    ctx.close()
    assert errors == [], errors
