"""The dashboard in Debian's chromium: every page loads, the charts hold what the API returns, the links
lead everywhere, a CSV downloads, the phone layout fits; screenshots are kept as test artefacts."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meshmeter.store import Store
from tests.dashboard.conftest import ADMIN_TOKEN
from tests.dashboard.site import DemoSite

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGES = ("/dashboard", "/dashboard/network", "/dashboard/vee", "/dashboard/bills")


@pytest.fixture(scope="module")
def context(browser: Any, server: str) -> Iterator[Any]:
    """A browser context signed in through the login form."""
    ctx = browser.new_context(base_url=server, accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.goto("/dashboard")
    assert page.url.startswith(f"{server}/dashboard/login"), page.url  # not signed in: the form
    page.fill("#token", ADMIN_TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/dashboard")
    cookie = next(c for c in ctx.cookies() if c["name"] == "meshmeter_session")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    page.close()
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    p = context.new_page()
    errors: list[str] = []
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield p
    finally:
        p.close()
    assert errors == [], errors  # no script error, no refused script or style (CSP)


def _api(page: Any, url: str) -> dict[str, Any]:
    """GET a JSON route with the page's own cookie, as its script does."""
    response = page.request.get(url)
    assert response.ok, (url, response.status)
    body: dict[str, Any] = response.json()
    return body


def _wall(stamp: str) -> str:
    return stamp[:19].replace("T", " ")


def _chart(page: Any, selector: str) -> dict[str, Any]:
    page.wait_for_selector(f"{selector}[data-ready=true]", timeout=15_000)
    data: dict[str, Any] = page.evaluate(
        f"""() => {{ const el = document.querySelector("{selector}");
                 return {{source: el.dataset.source, resolution: el.dataset.resolution || null,
                          x: el.data[0].x, y: el.data[0].y}}; }}"""
    )
    return data


def _assert_chart_holds_api(page: Any, selector: str) -> dict[str, Any]:
    """The chart's bars are the API's, in kWh; days and months drawn from their start (over their own
    period), finer bars at their end. ``y`` is returned in Wh, as the API gives it."""
    chart = _chart(page, selector)
    doc = _api(page, chart["source"])
    assert chart["y"] == [None if d["energy_wh"] is None else d["energy_wh"] / 1000 for d in doc["data"]]
    stamp = "interval_start" if doc["resolution"] in ("daily", "monthly") else "interval_end"
    assert chart["x"] == [_wall(d[stamp]) for d in doc["data"]]
    return {**chart, "y": [d["energy_wh"] for d in doc["data"]], "doc": doc}


@pytest.mark.parametrize("path", PAGES)
def test_each_page_loads_with_its_nav(page: Any, path: str, screenshots: Path) -> None:
    response = page.goto(path)
    assert response.status == 200
    # Overview, Network, Meters, VEE, Sources, Tenants, Tariffs, Bills: the admin's (issue 15)
    assert page.locator("nav[aria-label=Main] a").count() == 8
    assert page.locator('meta[name="viewport"]').count() == 1
    page.screenshot(path=str(screenshots / f"{path.strip('/').replace('/', '_')}.png"), full_page=True)


def test_every_page_is_reached_by_links(page: Any, demo_store: tuple[Store, DemoSite]) -> None:
    _store, site = demo_store
    page.goto("/dashboard")
    seen = {"/dashboard"}
    for name, path in (
        ("Network", "/dashboard/network"),
        ("VEE", "/dashboard/vee"),
        ("Bills", "/dashboard/bills"),
    ):
        page.click(f"nav[aria-label=Main] >> text={name}")
        page.wait_for_url(f"**{path}")
        seen.add(path)
        page.click("nav[aria-label=Main] >> text=Overview")
        page.wait_for_url("**/dashboard")
    # each meter has its link in the overview's table; follow one
    hrefs = page.locator("table.meters a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == [f"/dashboard/meters/{serial}" for serial in site.serials]
    page.click(f"table.meters tr[data-serial={site.serials[-1]}] th a")  # named first (issue 15)
    page.wait_for_url(f"**/dashboard/meters/{site.serials[-1]}")
    assert page.locator("h1").inner_text() == f"Meter {site.serials[-1]}"
    page.click(".crumbs >> text=Overview")
    page.wait_for_url("**/dashboard")
    # and from the network page's device table
    page.goto("/dashboard/network")
    page.click(f"#devices a[href='/dashboard/meters/{site.serials[0]}']")
    page.wait_for_url(f"**/dashboard/meters/{site.serials[0]}")
    assert seen == {"/dashboard", *PAGES}


def test_overview_shows_the_days_energy_the_api_gives(page: Any, demo_store: tuple[Store, DemoSite]) -> None:
    _store, site = demo_store
    page.goto("/dashboard")
    # 2026-01-03 is the last local day with data (the run ends 2026-01-04T00:30Z, 16:30 PST)
    doc = _api(
        page,
        f"/meters/{site.serials[1]}/intervals?start=2026-01-03&end=2026-01-04&resolution=daily&tz=America/Los_Angeles",
    )
    row = page.locator(f"tr[data-serial={site.serials[1]}]")
    assert int(row.get_attribute("data-today-wh")) == doc["data"][0]["energy_wh"]
    # the attention list (issue 15): the tampered meter and the reversed one, each with what to do
    assert (
        "Enclosure cover opened"
        in page.locator(f"ul.attention > li[data-serial={site.serials[2]}]").inner_text()
    )
    assert (
        "Reverse phase on element 2"
        in page.locator(f"ul.attention > li[data-serial={site.reversed_serial}]").inner_text()
    )


def test_meter_charts_hold_the_api_data_and_zoom(
    page: Any, demo_store: tuple[Store, DemoSite], screenshots: Path
) -> None:
    _store, site = demo_store
    page.goto(f"/dashboard/meters/{site.gap_serial}")
    week = _assert_chart_holds_api(page, "#interval-chart")
    assert week["resolution"] == "hourly"
    assert len(week["y"]) == 7 * 24
    assert sum(v for v in week["y"] if v is not None) > 0
    daily = _assert_chart_holds_api(page, "#daily-chart")
    assert len(daily["y"]) == 31
    monthly = _assert_chart_holds_api(page, "#monthly-chart")
    assert len(monthly["y"]) == 12
    # the days are the hours summed, the month the days
    assert sum(v for v in daily["y"] if v) == sum(v for v in week["y"] if v)
    assert sum(v for v in monthly["y"] if v) == sum(v for v in daily["y"] if v)
    page.screenshot(path=str(screenshots / "meter.png"), full_page=True)

    # zoom to one local day: 15-minute data, 96 bars
    page.evaluate(
        """() => Plotly.relayout(document.getElementById("interval-chart"),
                                {"xaxis.range": ["2026-01-02 00:00:00", "2026-01-02 23:59:00"]})"""
    )
    page.wait_for_function(
        """() => document.getElementById("interval-chart").dataset.resolution === "15min"
                 && document.getElementById("interval-chart").dataset.ready === "true" """
    )
    day = _assert_chart_holds_api(page, "#interval-chart")
    assert len(day["y"]) == 96
    assert "start=2026-01-02&end=2026-01-03" in day["source"]
    # zoom out to a year: daily bars
    page.evaluate(
        """() => Plotly.relayout(document.getElementById("interval-chart"),
                                {"xaxis.range": ["2025-01-05 00:00:00", "2026-01-04 00:00:00"]})"""
    )
    page.wait_for_function(
        """() => document.getElementById("interval-chart").dataset.resolution === "daily"
                 && document.getElementById("interval-chart").dataset.ready === "true" """
    )
    year = _assert_chart_holds_api(page, "#interval-chart")
    assert len(year["y"]) == 365
    page.screenshot(path=str(screenshots / "meter_year.png"), full_page=True)


def test_csv_download_is_the_view(page: Any, demo_store: tuple[Store, DemoSite]) -> None:
    _store, site = demo_store
    page.goto(f"/dashboard/meters/{site.serials[2]}")
    chart = _assert_chart_holds_api(page, "#interval-chart")
    with page.expect_download() as info:
        page.click("#csv-link")
    download = info.value
    assert download.suggested_filename.startswith(f"{site.serials[2]}_hourly_")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert [int(r["energy_wh"]) if r["energy_wh"] else None for r in rows] == chart["y"]


def test_meter_page_lcd_events_diagnosis(
    page: Any, demo_store: tuple[Store, DemoSite], screenshots: Path
) -> None:
    _store, site = demo_store
    page.goto(f"/dashboard/meters/{site.reversed_serial}")
    screens = page.locator(".lcd-screen")
    assert [screens.nth(i).get_attribute("data-name") for i in range(screens.count())] == [
        "total",
        "demand",
        "power",
        "reverse",
    ]
    assert page.locator(".lcd-screen.shown").count() == 1
    assert "REV" in page.locator(".lcd").inner_text()
    assert "element 2" in page.locator("#reverse-phase").inner_text()
    assert "ct reversed" in page.locator("#findings").inner_text()
    kinds = page.locator("#events li").evaluate_all("items => items.map(li => li.dataset.kind)")
    assert sorted(kinds) == ["alert.reverse_phase", "element_measurements", "install"]
    # in words, not as stored: the element and its CT named, the powers rounded to the watt
    words = page.locator("#events").inner_text()
    assert "Reverse phase on element 2 (CT2)" in words
    assert "{" not in words
    page.screenshot(path=str(screenshots / "meter_reversed.png"), full_page=True)


def test_network_graph_holds_every_device(
    page: Any, demo_store: tuple[Store, DemoSite], screenshots: Path
) -> None:
    _store, site = demo_store
    page.goto("/dashboard/network")
    page.wait_for_selector("#network-graph[data-ready=true]")
    points = page.evaluate(
        """() => document.getElementById("network-graph").data
                   .filter(t => t.meta && t.meta.role === "devices").flatMap(t => t.customdata)"""
    )
    assert sorted(points) == sorted(d.eui64 for d in site.report.devices)
    # drawn at the installed positions [m] of the install events
    positions = page.evaluate(
        """() => document.getElementById("network-graph").data
                   .filter(t => t.meta && t.meta.role === "devices")
                   .flatMap(t => t.x.map((x, i) => [t.customdata[i], x, t.y[i]]))"""
    )
    layout = site.positions
    assert {eui: (x, y) for eui, x, y in positions} == layout
    links = page.evaluate(
        """() => document.getElementById("network-graph").data
                   .filter(t => t.meta && t.meta.role === "links")
                   .reduce((n, t) => n + t.x.filter(v => v === null).length, 0)"""
    )
    assert links == sum(1 for d in site.report.devices if d.parent is not None)
    assert page.locator("#devices tbody tr").count() == len(site.report.devices)
    assert page.locator("#cit-mdts").inner_text() == f"{site.report.joined_mdts} / {site.report.mdts}"
    page.screenshot(path=str(screenshots / "network.png"), full_page=True)


def test_vee_page_lists_the_gap_and_the_edit(page: Any, demo_store: tuple[Store, DemoSite]) -> None:
    _store, site = demo_store
    page.goto("/dashboard/vee")
    gap = page.locator(f"#worklist tbody tr[data-serial={site.gap_serial}]")  # the VEE work list (issue 15)
    assert gap.count() == 4
    assert "interpolation" in gap.first.inner_text()
    assert page.locator("#worklist tbody tr").count() == 4  # the clerk's edit was no act on the list


def test_open_a_bill_and_its_printable_view(
    page: Any, demo_store: tuple[Store, DemoSite], screenshots: Path
) -> None:
    _store, site = demo_store
    page.goto("/dashboard/bills")
    rows = page.locator("#bills tbody tr")
    assert rows.count() == len(site.bills)
    totals = page.locator("#bills .bill-total").all_inner_texts()
    assert totals == [f"{b.printed_total:,.2f}" for b in site.bills]
    page.screenshot(path=str(screenshots / "bills.png"), full_page=True)
    chosen = site.bills[1]
    page.click(f"#bills >> text={chosen.account}")
    page.wait_for_url("**/dashboard/bills?bill=2")
    assert page.locator("h1").inner_text() == f"Bill 2: {chosen.account}"
    assert page.locator("#bill-total").inner_text() == f"{chosen.printed_total:,.2f}"
    assert page.locator("#bill-lines tbody tr").count() == len(chosen.lines)
    page.screenshot(path=str(screenshots / "bill.png"), full_page=True)
    page.click("#print-link")
    page.wait_for_url("**/dashboard/bills?bill=2&view=print")
    assert f"{chosen.printed_total:,.2f}" in page.content()
    page.screenshot(path=str(screenshots / "bill_print.png"), full_page=True)
    page.goto("/dashboard/bills")
    with page.expect_download() as info:
        page.click("#bills-csv")
    rows_csv = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
    assert sum(1 for r in rows_csv if r["kind"] == "total") == len(site.bills)


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/meters/MM00000000", "/dashboard/network"])
def test_phone_viewport_fits(context: Any, path: str, screenshots: Path) -> None:
    phone = context.new_page()
    phone.set_viewport_size({"width": 375, "height": 740})
    try:
        phone.goto(path)
        if path.endswith("MM00000000"):
            phone.wait_for_selector("#interval-chart[data-ready=true]")
        width = phone.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 375, f"{path} overflows a phone's width: {width} px"
        nav = phone.locator("nav[aria-label=Main]")
        assert nav.is_visible()
        assert nav.bounding_box()["width"] <= 375
        name = path.strip("/").replace("/", "_")
        phone.screenshot(path=str(screenshots / f"phone_{name}.png"), full_page=True)
    finally:
        phone.close()
