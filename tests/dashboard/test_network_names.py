"""The network page by names (issue 15): an MDT by the meter and unit it serves, a repeater by its site-file
name (else ``Repeater n``), the CIT's suggestion for an MDT that cannot join in words; and, in Debian's
chromium, the overview and the network page of the demo building for admin, operator and read-only at
1280x900 and 375x800: the frame's navigation per role, a skip link, no sideways scroll, no console error.

The building is the demo's (``meshmeter demo``), one day, with unit 212's MDT moved out to 400 m from
the building in a metal box, so that it cannot join (nothing is billed: its meter has no interval).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from html import unescape
from typing import Any

import pytest

from meshmeter.api import ROUTE_ROLES, Settings, create_app
from meshmeter.api.auth import SESSION_COOKIE, Role
from meshmeter.demo import run_site_demo
from meshmeter.site.config import parse_site
from meshmeter.site.example import demo_site_toml
from meshmeter.store import Store
from tests.dashboard.conftest import ADMIN_TOKEN, SCREENSHOTS, serve
from tests.dashboard.site import DemoSite

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

START = datetime(2026, 3, 2, 8, tzinfo=UTC)
FAR_UNIT = "212"
ROLES = ("admin", "operator", "read-only")
SIZES = {"1280x900": (1280, 900), "375x800": (375, 800)}
NAV = {
    "Overview": "/dashboard",
    "Network": "/dashboard/network",
    "Meters": "/dashboard/meters",
    "VEE": "/dashboard/vee",
    "Sources": "/dashboard/sources",
    "Tenants": "/dashboard/tenants",
    "Tariffs": "/dashboard/tariffs",
    "Bills": "/dashboard/bills",
}
"""The main navigation's items of the staff: each shown to the roles that may open its page."""


@pytest.fixture(scope="module")
def building(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, dict[str, str]]]:
    """The demo building, unit 212's MDT out of reach; a token of each role but admin."""
    config = parse_site(demo_site_toml())
    meters = tuple(
        replace(m, mdt=replace(m.mdt, position_m=(400.0, 400.0), metal_box=True)) if m.unit == FAR_UNIT else m
        for m in config.meters
    )
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('network') / 'demo.sqlite'}")
    try:
        run_site_demo(store, replace(config, meters=meters), start=START, days=1, bill=False)
        tokens = {
            role: store.create_api_token(role=role, label=role)[1] for role in ("operator", "read-only")
        }
        yield store, tokens
    finally:
        store.close()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def _rows(page: str) -> dict[str, tuple[str, list[str]]]:
    """Each device row of the page: EUI-64 → (its name, the words of its cells)."""
    table = page[
        page.index('<table id="devices"') : page.index("</table>", page.index('<table id="devices"'))
    ]
    out = {}
    for eui, body in re.findall(r'<tr data-eui64="([0-9a-f]{16})"[^>]*>(.*?)</tr>', table, re.S):
        head = re.search(r'<th scope="row">(.*?)<span class="sub">', body, re.S)
        assert head is not None, body
        out[eui] = (_text(head.group(1)), [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)])
    return out


def test_devices_are_named_by_unit_and_site_file(building: tuple[Store, dict[str, str]]) -> None:
    store, tokens = building
    app = create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))
    with TestClient(app) as client:
        page = client.get(
            "/dashboard/network", headers={"Authorization": f"Bearer {tokens['read-only']}"}
        ).text
    rows = _rows(page)
    stored = store.latest_network_report()
    assert stored is not None
    assert sorted(rows) == sorted(d["eui64"] for d in stored.report["devices"])
    names = {name for name, _ in rows.values()}
    assert {
        "DCAP electrical room",
        "R1 corridor west",
        "R2 corridor east",
        "R3 stair west",
        "R4 stair east",
    } <= names
    assert not [n for n in names if re.fullmatch(r"[0-9a-f]{16}", n)]  # no device is named by its address
    unit_101 = store.get_meter(serial="MM26000001")
    assert unit_101 is not None
    mdt = next(eui for eui, (name, _) in rows.items() if name == "MDT of Unit 101")
    serves, _state, parent = rows[mdt][1][:3]
    assert serves == "Unit 101 Alvarez household (1001) · MM26000001"
    assert parent in names  # its parent by name too
    assert f'href="/dashboard/meters/{unit_101.serial}"' in page


def test_an_mdt_that_cannot_join_is_named_with_what_to_do(building: tuple[Store, dict[str, str]]) -> None:
    store, _tokens = building
    app = create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))
    with TestClient(app) as client:
        page = client.get("/dashboard/network", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).text
    block = page[
        page.index('<ul class="unjoined">') : page.index("</ul>", page.index('<ul class="unjoined">'))
    ]
    items = re.findall(r"<li[^>]*>(.*?)</li>", block, re.S)
    assert len(items) == 1
    said = _text(items[0])
    assert said.startswith(f"MDT of Unit {FAR_UNIT} ("), said
    assert "metal box: move it out (manual §5.2 caution)" in said
    # the device it should be brought nearer is named, its address is not repeated in the words
    what = said.split("What to do:", 1)[1]
    assert "would bring it within reach" in what
    assert not re.search(r"\b[0-9a-f]{16}\b", what), what


def test_a_site_without_names_numbers_its_repeaters(client: Any, demo_store: tuple[Store, DemoSite]) -> None:
    _store, site = demo_store
    page = client.get("/dashboard/network", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).text
    names = [name for name, _ in _rows(page).values()]
    assert names.count("DCAP") == 1
    assert [n for n in names if n.startswith("Repeater")] == ["Repeater 1"]
    # meters of no unit: each MDT says its meter's serial, so no two are named alike
    assert sorted(n for n in names if n.startswith("MDT of")) == sorted(
        f"MDT of Unit meter {s}" for s in site.serials
    )


def test_the_network_page_refuses_a_bad_site(building: tuple[Store, dict[str, str]]) -> None:
    store, _tokens = building
    app = create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with TestClient(app) as client:
        missing = client.get("/dashboard/network?site_id=99", headers=headers)
        assert missing.status_code == 404
        assert "no site has id 99" in missing.text
        bad = client.get("/dashboard/network?site_id=abc", headers=headers)
        assert bad.status_code == 422
        assert "site_id" in bad.text


# -- in the browser ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url(building: tuple[Store, dict[str, str]]) -> Iterator[str]:
    store, _ = building
    with serve(create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))) as url:
        yield url


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/network"])
def test_overview_and_network_fit_for_each_role(
    browser: Any, base_url: str, building: tuple[Store, dict[str, str]], path: str, role: str, size: str
) -> None:
    _store, tokens = building
    width, height = SIZES[size]
    ctx = browser.new_context(base_url=base_url, viewport={"width": width, "height": height})
    ctx.add_cookies(
        [{"name": SESSION_COOKIE, "value": ADMIN_TOKEN if role == "admin" else tokens[role], "url": base_url}]
    )
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        answer = page.goto(path, wait_until="networkidle")
        assert answer is not None
        assert answer.status == 200
        if path.endswith("network"):
            page.wait_for_selector("#network-graph[data-ready=true]")
        shot = SCREENSHOTS / "names" / role / size / f"{path.strip('/').replace('/', '_')}.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{path} is {scroll_width} px wide in a {width} px viewport"
        # the navigation: the pages this role may open, nothing else
        nav = page.locator("nav[aria-label=Main] a")
        shown = dict(
            zip(
                nav.all_inner_texts(),
                [nav.nth(i).get_attribute("href") for i in range(nav.count())],
                strict=True,
            )
        )
        allowed = {k: v for k, v in NAV.items() if Role(role) in ROUTE_ROLES[("GET", v)]}
        assert shown == allowed
        box = page.locator("nav[aria-label=Main]").bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= width
        # the first Tab reaches the skip link, which leads to the content
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.className") == "skip"
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.id") == "main"
        assert errors == [], errors
    finally:
        ctx.close()
