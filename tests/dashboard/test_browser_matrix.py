"""Every dashboard page for every role at a desktop's and a phone's size, in Debian's chromium (issue 15).

The pages are read from the app's own routes (every ``GET`` under ``/dashboard``), so that a page added
later is in the matrix without a line here; a parametrised one gets a real id of the demo building. For
each role (a token of each made in the store) and each size: 200 where ``ROUTE_ROLES`` lets the role in,
else 403; on each page seen, no horizontal overflow of the document, no console error, and no element
running past the right edge of the viewport unless it sits in a box that scrolls sideways
(``overflow-x: auto | scroll``). A screenshot of every case goes to
``test-artifacts/screenshots/matrix/<role>/<size>/<page>.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meshmeter.api import ROUTE_ROLES, Settings, create_app
from meshmeter.api.auth import SESSION_COOKIE, Role, iter_api_routes
from meshmeter.store import Store
from tests.dashboard.conftest import ADMIN_TOKEN, SCREENSHOTS, serve
from tests.dashboard.tenant_world import World

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROLES = ("admin", "operator", "read-only", "billing", "tenant")
SIZES = {"1280x900": (1280, 900), "375x800": (375, 800)}
SERIAL = "MM26000001"
"""Unit 101's meter: a real meter of the demo building (and the tenant's own)."""
ACCOUNT_ID = "1"
"""The Alvarez household's account (1001, Unit 101): a real account of the demo building."""
EXTRA = {"/dashboard/bills": ["/dashboard/bills?bill=1"]}
"""Pages that are one route with a query: a bill's page (the tenant's own first bill)."""


def _pages() -> list[tuple[str, str]]:
    """(route path, URL) of every dashboard page, from the app's routes."""
    app = create_app(Store("sqlite://"), Settings(admin_token=ADMIN_TOKEN, environment="development"))
    out = []
    for route in iter_api_routes(app.routes):
        if "GET" in (route.methods or ()) and route.path.startswith("/dashboard"):
            url = route.path.replace("{serial}", SERIAL).replace("{account_id}", ACCOUNT_ID)
            assert "{" not in url, f"give {route.path} a real id here"
            out.append((route.path, url))
            out.extend((route.path, extra) for extra in EXTRA.get(route.path, []))
    return sorted(out)


PAGES = _pages()

_CLIPPED = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if ((box.width === 0 && box.height === 0) || box.right <= width + 0.5) continue;
    let scrolls = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const x = getComputedStyle(p).overflowX;
      if (x === "auto" || x === "scroll") { scrolls = true; break; }
    }
    if (!scrolls) {
      const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
        + (typeof el.className === "string" && el.className ? "." + el.className.split(" ").join(".") : "");
      found.push(name + " right=" + Math.round(box.right));
    }
  }
  return found.slice(0, 8);
}"""


@pytest.fixture(scope="module")
def base_url(world: tuple[Store, World]) -> Iterator[str]:
    store, _ = world
    with serve(create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))) as url:
        yield url


@pytest.fixture(scope="module")
def contexts(browser: Any, base_url: str, world: tuple[Store, World]) -> Iterator[dict[str, Any]]:
    """One browser context per role, holding that role's session cookie."""
    made: dict[str, Any] = {}
    try:
        for role in ROLES:
            token = ADMIN_TOKEN if role == "admin" else world[1].tokens[role]
            ctx = browser.new_context(base_url=base_url)
            ctx.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": base_url}])
            made[role] = ctx
        yield made
    finally:
        for ctx in made.values():
            ctx.close()


def _file(url: str) -> str:
    name = url.removeprefix("/dashboard").strip("/").replace("/", "_").replace("?", "_").replace("=", "-")
    return (name or "overview").replace("&", "_") + ".png"


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("route", "url"), PAGES, ids=[u for _, u in PAGES])
def test_every_page_for_every_role(
    contexts: dict[str, Any], route: str, url: str, role: str, size: str
) -> None:
    width, height = SIZES[size]
    page = contexts[role].new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.set_viewport_size({"width": width, "height": height})
        answer = page.goto(url, wait_until="networkidle")
        assert answer is not None
        shot = SCREENSHOTS / "matrix" / role / size / _file(url)
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        allowed = Role(role) in ROUTE_ROLES[("GET", route)]
        if not allowed:
            assert answer.status == 403, f"{role} got {answer.status} for {url}"
            return
        assert answer.status == 200, f"{role} got {answer.status} for {url}"
        scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{url} is {scroll_width} px wide in a {width} px viewport"
        clipped = page.evaluate(_CLIPPED)
        assert clipped == [], f"{url} at {size}: elements past the right edge: {clipped}"
        assert errors == [], errors
    finally:
        page.close()


def test_the_matrix_holds_every_page() -> None:
    routes = {r for r, _ in PAGES}
    assert {k[1] for k in ROUTE_ROLES if k[0] == "GET" and k[1].startswith("/dashboard")} == routes
    assert {"/dashboard/usage", "/dashboard/download", "/dashboard/bills?bill=1"} <= {u for _, u in PAGES}


def test_screenshots_are_where_ci_keeps_them() -> None:
    assert Path(SCREENSHOTS).parts[-2:] == ("test-artifacts", "screenshots")
