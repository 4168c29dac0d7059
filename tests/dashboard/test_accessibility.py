"""Every dashboard page checked by axe-core for WCAG 2 A/AA, in Debian's chromium (issue 15).

The pages, roles, sizes and the demo building are those of ``test_browser_matrix`` (imported, not copied),
so a page added later is checked without a line here. On each page a role may open, and once per size on
the refusal page (403) and the sign-in page, axe-core (as bundled by ``axe-playwright-python``) runs the
rules tagged WCAG 2.0/2.1/2.2 A and AA and axe's best practices: colour contrast (4.5:1, 3:1 for large
text), names of fields, buttons, links and landmarks, headings' order, table headers, alt text. axe is
handed to the page by Playwright (``page.evaluate``, over the DevTools protocol), so the page keeps its
strict CSP (no script of its own is allowed in) and nothing is fetched from outside: the test holds every
request the browser makes to the app's own origin.

Kept fast: one tab per role and size, reused from page to page; a page is checked once its charts are
drawn (each ``.chart`` marked ``data-ready``), not after half a second of network silence; axe is handed
to each page once, and runs all its rules in one pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from meshmeter.api import ROUTE_ROLES
from meshmeter.api.auth import Role
from tests.dashboard import test_browser_matrix as matrix

pytestmark = [pytest.mark.browser, pytest.mark.slow]

axe_sync = pytest.importorskip("axe_playwright_python.sync_playwright")

base_url = matrix.base_url
contexts = matrix.contexts

AXE_SCRIPT: str = axe_sync.Axe().axe_script
"""axe-core's script, as ``axe-playwright-python`` bundles it (read once)."""
READY = "() => [...document.querySelectorAll('.chart')].every(e => e.dataset.ready === 'true')"
"""The page's charts are drawn (the page's script marks each ``.chart`` when plotly has drawn it)."""

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
"""The axe rules run: WCAG 2.0, 2.1 and 2.2 at levels A and AA, and axe's best practices."""

REPORTED: dict[tuple[str, str], str] = {}
"""Findings in pages another engineer owns, reported to the lead: (route, axe rule) → what to do."""


def _cases() -> list[tuple[str, str, str]]:
    """(route, URL, role) of each page a role may open, then the refusal page once (the first refused)."""
    allowed = []
    refused = []
    for route, url in matrix.PAGES:
        for role in matrix.ROLES:
            (allowed if Role(role) in ROUTE_ROLES[("GET", route)] else refused).append((route, url, role))
    return allowed + refused[:1]


CASES = _cases()


@dataclass
class Tab:
    """A page kept open for one role at one size, and what it saw since it was last cleared."""

    page: Any
    outside: list[str] = field(default_factory=list)
    """Requests to anywhere but the app."""
    csp: list[str] = field(default_factory=list)
    """Console messages of the Content Security Policy."""


@pytest.fixture(scope="module")
def tabs(contexts: dict[str, Any], base_url: str) -> Iterator[dict[tuple[str, str], Tab]]:
    """One tab per (role, size), each in its role's context, opened when first asked for."""

    class Tabs(dict[tuple[str, str], Tab]):
        def __missing__(self, key: tuple[str, str]) -> Tab:
            role, size = key
            width, height = matrix.SIZES[size]
            tab = Tab(contexts[role].new_page())
            tab.page.set_viewport_size({"width": width, "height": height})
            _listen(tab, base_url)
            self[key] = tab
            return tab

    made = Tabs()
    try:
        yield made
    finally:
        for tab in made.values():
            tab.page.close()


def _listen(tab: Tab, base_url: str) -> None:
    page = tab.page
    page.on("request", lambda r: None if r.url.startswith(base_url) else tab.outside.append(r.url))
    page.on("console", lambda m: tab.csp.append(m.text) if "Content Security Policy" in m.text else None)


def _axe(page: Any) -> dict[str, Any]:
    """axe-core's results on ``page``: the violations in full; passes and the rest by rule only. axe is
    handed to the page's document once; every rule of :data:`TAGS` runs in one ``axe.run``."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT)
    options = {"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]}
    results: dict[str, Any] = page.evaluate("(options) => axe.run(document, options)", options)
    return results


def _findings(results: dict[str, Any], route: str) -> list[str]:
    out = []
    for v in results["violations"]:
        if (route, v["id"]) in REPORTED:
            continue
        for node in v["nodes"][:6]:
            out.append(f"{v['id']} ({v['impact']}) at {' '.join(node['target'])}: {node['failureSummary']}")
    return out


def _check(tab: Tab, url: str, route: str, expect: int) -> None:
    page = tab.page
    tab.outside.clear()
    tab.csp.clear()
    answer = page.goto(url, wait_until="load")
    assert answer is not None
    assert answer.status == expect, f"{url}: {answer.status}"
    assert "script-src 'self'" in (answer.headers.get("content-security-policy") or "")
    page.wait_for_function(READY, timeout=30_000)
    results = _axe(page)
    assert any(r["id"] == "color-contrast" for r in results["passes"] + results["violations"]), (
        f"{url}: axe did not check the colour contrast"
    )
    findings = _findings(results, route)
    assert findings == [], f"{url}:\n" + "\n".join(findings)
    assert tab.outside == [], f"{url} fetched from outside: {tab.outside}"
    assert tab.csp == [], tab.csp


@pytest.mark.parametrize("size", list(matrix.SIZES))
@pytest.mark.parametrize(("route", "url", "role"), CASES, ids=[f"{role}:{url}" for _, url, role in CASES])
def test_axe_finds_nothing(
    tabs: dict[tuple[str, str], Tab], route: str, url: str, role: str, size: str
) -> None:
    expect = 200 if Role(role) in ROUTE_ROLES[("GET", route)] else 403
    _check(tabs[role, size], url, route, expect)


@pytest.mark.parametrize("size", list(matrix.SIZES))
def test_axe_finds_nothing_on_the_sign_in_page(browser: Any, base_url: str, size: str) -> None:
    width, height = matrix.SIZES[size]
    ctx = browser.new_context(base_url=base_url, viewport={"width": width, "height": height})
    try:
        tab = Tab(ctx.new_page())
        _listen(tab, base_url)
        _check(tab, "/dashboard/login", "/dashboard/login", 200)
        page = tab.page
        # and with a refusal shown: the error is announced, the field still named
        page.fill("#token", "not-a-token")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        findings = _findings(_axe(page), "/dashboard/login")
        assert findings == [], "\n".join(findings)
    finally:
        ctx.close()


def test_every_page_is_checked(browser: Any) -> None:
    assert {route for route, _, _ in CASES} == {route for route, _ in matrix.PAGES}
    page = browser.new_page()
    try:
        page.set_content("<!doctype html><title>rules</title>")
        page.evaluate(AXE_SCRIPT)
        rules = page.evaluate("(tags) => axe.getRules(tags).map(r => r.ruleId)", TAGS)
    finally:
        page.close()
    assert {"color-contrast", "label", "landmark-unique", "heading-order", "th-has-data-cells"} <= set(rules)
