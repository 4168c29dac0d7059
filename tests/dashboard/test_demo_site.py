"""The dashboard over the demo building of ``meshmeter demo`` (24 units, a house and a solar meter, an MDT
each, repeaters, a DCAP), two days across the spring-forward change, in Debian's chromium."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from meshmeter.api import Settings, create_app
from meshmeter.demo import run_site_demo
from meshmeter.site.config import parse_site
from meshmeter.site.example import demo_site_toml
from meshmeter.store import Store
from tests.dashboard.conftest import ADMIN_TOKEN, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

START = datetime(2026, 3, 7, 8, tzinfo=UTC)
"""Local midnight of Saturday 2026-03-07 in Los Angeles; the clocks spring forward the next night."""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    store = Store(f"sqlite:///{path}")
    try:
        run_site_demo(store, parse_site(demo_site_toml()), start=START, days=2)
        yield store
    finally:
        store.close()


@pytest.fixture(scope="module")
def page(browser: Any, demo: Store) -> Iterator[Any]:
    app = create_app(demo, Settings(admin_token=ADMIN_TOKEN, environment="development"))
    with serve(app) as url:
        ctx = browser.new_context(base_url=url, viewport={"width": 1280, "height": 900})
        p = ctx.new_page()
        errors: list[str] = []
        p.on("pageerror", lambda e: errors.append(str(e)))
        p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        p.goto("/dashboard/login")
        p.fill("#token", ADMIN_TOKEN)
        p.click("button[type=submit]")
        p.wait_for_url("**/dashboard")
        try:
            yield p
        finally:
            ctx.close()
        assert errors == [], errors


def _chart(page: Any, selector: str) -> dict[str, Any]:
    page.wait_for_selector(f"{selector}[data-ready=true]", timeout=15_000)
    chart: dict[str, Any] = page.evaluate(
        f"""() => {{ const el = document.querySelector("{selector}");
                 return {{source: el.dataset.source, resolution: el.dataset.resolution || null,
                          y: el.data[0].y}}; }}"""
    )
    doc = page.request.get(chart["source"]).json()
    # the charts are in kWh, as the footer says (issue 15): the API's Wh / 1000
    assert chart["y"] == [None if d["energy_wh"] is None else d["energy_wh"] / 1000 for d in doc["data"]]
    return {**chart, "doc": doc}


def test_demo_overview(page: Any, demo: Store, screenshots: Path) -> None:
    page.goto("/dashboard")
    serials = [m.serial for m in demo.meters()]
    assert len(serials) == 26
    rows = page.locator("table.meters tbody tr")
    assert rows.count() == 26
    # today: the local day of the latest interval heard, up to it (the run ends at local midnight;
    # what the mesh delivered after it is the next day's start)
    site = page.locator("section.site")
    day_start, as_of = site.get_attribute("data-day-start"), site.get_attribute("data-as-of")
    assert datetime.fromisoformat(day_start) >= START
    for serial in (serials[0], serials[-1]):
        today = int(page.locator(f"tr[data-serial={serial}]").get_attribute("data-today-wh"))
        doc = page.request.get(
            f"/meters/{serial}/intervals",
            params={"start": day_start, "end": as_of, "resolution": "15min"},
        ).json()
        assert today == sum(d["energy_wh"] or 0 for d in doc["data"])
    page.screenshot(path=str(screenshots / "demo_overview.png"), full_page=True)


def test_overview_keeps_production_apart_from_consumption(page: Any, demo: Store) -> None:
    """Issue 11: the overview's "this month" added the solar meter's production to the consumption."""
    page.goto("/dashboard")
    roles = {m.serial: m.role for m in demo.meters()}
    assert sorted(set(roles.values())) == ["house", "production", "unit"]
    month: dict[str, int] = {}
    for serial, role in roles.items():
        row = page.locator(f"tr[data-serial={serial}]")
        assert row.get_attribute("data-role") == role
        month[role] = month.get(role, 0) + int(row.get_attribute("data-month-wh"))
    assert month["production"] > 0
    site = page.locator("section.site")
    consumed = round((month["unit"] + month["house"]) / 1000, 1)
    produced = round(month["production"] / 1000, 1)
    assert float(site.locator(".month-total").inner_text().replace(",", "")) == pytest.approx(
        consumed, abs=0.05
    )
    assert float(site.locator(".production-month-total").inner_text().replace(",", "")) == pytest.approx(
        produced, abs=0.05
    )


def test_demo_network(page: Any, demo: Store, screenshots: Path) -> None:
    stored = demo.latest_network_report()
    assert stored is not None
    page.goto("/dashboard/network")
    page.wait_for_selector("#network-graph[data-ready=true]")
    points = page.evaluate(
        """() => document.getElementById("network-graph").data
                   .filter(t => t.meta && t.meta.role === "devices").flatMap(t => t.customdata)"""
    )
    assert sorted(points) == sorted(d["eui64"] for d in stored.report["devices"])
    assert "installed positions" in page.locator("#main").inner_text()
    page.screenshot(path=str(screenshots / "demo_network.png"), full_page=True)


def test_demo_meter_across_the_dst_change(page: Any, demo: Store, screenshots: Path) -> None:
    solar = demo.meters()[-1].serial
    page.goto(f"/dashboard/meters/{solar}")
    week = _chart(page, "#interval-chart")
    assert week["resolution"] == "hourly"
    days = _chart(page, "#daily-chart")
    spring = next(d for d in days["doc"]["data"] if d["interval_end"].startswith("2026-03-09"))
    assert spring["expected"] == 92  # the spring-forward day has 23 hours
    page.evaluate(
        """() => Plotly.relayout(document.getElementById("interval-chart"),
                                {"xaxis.range": ["2026-03-08 00:00:00", "2026-03-08 23:59:00"]})"""
    )
    page.wait_for_function(
        """() => document.getElementById("interval-chart").dataset.resolution === "15min"
                 && document.getElementById("interval-chart").dataset.ready === "true" """
    )
    quarter = _chart(page, "#interval-chart")
    assert len(quarter["y"]) == 92
    page.screenshot(path=str(screenshots / "demo_solar_meter.png"), full_page=True)


def test_demo_vee_and_bills_pages(page: Any) -> None:
    assert page.goto("/dashboard/vee").status == 200
    # the work list (issue 15): one row per flagged or estimated interval, named by unit, never by serial
    count = int(page.locator("#worklist-heading .count").inner_text())
    rows = page.locator("#worklist tbody tr")
    assert rows.count() == min(count, 500)
    for unit in rows.locator("th[data-label=Unit]").all_inner_texts():
        assert unit
        assert not unit.startswith("MM")
    assert page.goto("/dashboard/bills").status == 200
