"""The dashboard by keyboard alone (issue 15: "keyboard navigable"), in Debian's chromium.

On the staff's pages, Tab from the top of the page reaches the skip link first, then the main navigation
in its order, then the page's own links, buttons and fields; every element reached shows a focus indicator
(an outline or a box shadow it does not have unfocused); no element keeps the focus (a chart must not trap
it). The skip link moves the focus to the main content. A chart's toolbar (plotly's modebar, shown on
hover only) is shown while the focus is in it, its focused button ringed. The pages and the demo
building are those of ``test_browser_matrix`` (imported, not copied).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.dashboard import test_browser_matrix as matrix
from tests.dashboard.test_pages import _contrast

pytestmark = [pytest.mark.browser, pytest.mark.slow]

base_url = matrix.base_url
contexts = matrix.contexts

PAGES = ["/dashboard", "/dashboard/vee", "/dashboard/tenants", f"/dashboard/meters/{matrix.SERIAL}"]
"""A page of each kind: figures and a list, a work list with forms, a management page, charts."""

_FOCUSED = """() => {
  const e = document.activeElement;
  const s = getComputedStyle(e);
  return {
    tag: e.tagName.toLowerCase(), href: e.getAttribute('href'), text: (e.innerText || e.value || '').trim(),
    outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0, shadow: s.boxShadow !== 'none',
    inMain: !!e.closest('main'), inNav: !!e.closest('nav[aria-label=Main]'),
  };
}"""


@pytest.mark.parametrize("path", PAGES)
def test_tab_walks_skip_link_nav_then_the_page(contexts: dict[str, Any], path: str) -> None:
    page = contexts["admin"].new_page()
    try:
        answer = page.goto(path)
        assert answer is not None
        assert answer.status == 200
        nav = page.locator("nav[aria-label=Main] a").evaluate_all("a => a.map(x => x.getAttribute('href'))")
        reached: list[dict[str, Any]] = []
        for _ in range(len(nav) + 12):
            page.keyboard.press("Tab")
            reached.append(page.evaluate(_FOCUSED))
        assert reached[0]["href"] == "#main", reached[0]  # the skip link first
        brand_and_nav = [r["href"] for r in reached[1 : len(nav) + 2] if r["inNav"]]
        assert brand_and_nav == nav  # the navigation, in its order
        assert any(r["inMain"] for r in reached), f"Tab never reached the content of {path}"
        for r in reached:
            assert r["tag"] != "body", f"the focus was lost on {path}: {reached}"
            assert r["outline"] or r["shadow"], f"no visible focus on {r} of {path}"
        hrefs = [(r["tag"], r["href"], r["text"]) for r in reached]
        assert len(set(hrefs)) > len(nav) + 2, f"the focus is trapped on {path}: {hrefs}"
    finally:
        page.close()


def test_the_skip_link_moves_the_focus_to_the_content(contexts: dict[str, Any]) -> None:
    page = contexts["operator"].new_page()
    try:
        page.goto("/dashboard/vee")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.id") == "main"
        page.keyboard.press("Tab")
        assert page.evaluate("() => !!document.activeElement.closest('main')")
    finally:
        page.close()


_IN_TOOLBAR = """() => {
  const e = document.activeElement;
  const bar = e.closest('.modebar');
  if (!bar) { return null; }
  let opacity = 1;
  for (let x = e; x && !x.classList.contains('js-plotly-plot'); x = x.parentElement) {
    opacity *= parseFloat(getComputedStyle(x).opacity);
  }
  const s = getComputedStyle(e);
  return {
    label: e.getAttribute('aria-label'), chart: e.closest('.js-plotly-plot').id, opacity: opacity,
    groups: [...bar.querySelectorAll('.modebar-group')].map(g => parseFloat(getComputedStyle(g).opacity)),
    outline: s.outlineStyle === 'none' ? 0 : parseFloat(s.outlineWidth), colour: s.outlineColor,
    icon: getComputedStyle(e.querySelector('svg path')).fill,
  };
}"""


def _hex(rgb: str) -> str:
    """``rgb(9, 105, 218)`` as ``#0969da``."""
    r, g, b = (int(v) for v in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


@pytest.mark.parametrize(
    ("path", "chart"),
    [(f"/dashboard/meters/{matrix.SERIAL}", "interval-chart"), ("/dashboard/network", "network-graph")],
)
def test_the_charts_toolbar_shows_when_tabbed_to(contexts: dict[str, Any], path: str, chart: str) -> None:
    """plotly shows a chart's toolbar (its "modebar") on hover only: tabbed to, it shows too, with a focus
    ring as visible as the page's own (3:1 against the chart's white at least, 2 px or more), and icons
    of 3:1 at least (WCAG 1.4.11)."""
    page = contexts["admin"].new_page()
    try:
        page.goto(path)
        page.wait_for_selector(f"#{chart}[data-ready=true]")
        hidden = page.evaluate(
            "(id) => [...document.querySelectorAll(`#${id} .modebar-group`)]"
            ".map(g => parseFloat(getComputedStyle(g).opacity))",
            chart,
        )
        assert hidden, f"#{chart} has no toolbar"
        assert max(hidden) == 0, f"the toolbar of #{chart} is shown untouched: {hidden}"
        found = None
        for _ in range(120):
            page.keyboard.press("Tab")
            found = page.evaluate(_IN_TOOLBAR)
            if found is not None:
                break
        assert found is not None, f"Tab never reached a chart's toolbar on {path}"
        assert found["chart"] == chart, found  # the first chart's toolbar is the first reached
        assert found["opacity"] == 1, f"the focused button of the toolbar is not fully shown: {found}"
        assert found["groups"] == [1] * len(found["groups"]), f"the toolbar is not fully shown: {found}"
        assert found["outline"] >= 2, f"the focused toolbar button's ring is thin: {found}"
        assert _contrast(_hex(found["colour"]), "#ffffff") >= 3, found
        assert _contrast(_hex(found["icon"]), "#ffffff") >= 3, f"the button's icon is faint: {found}"
    finally:
        page.close()
