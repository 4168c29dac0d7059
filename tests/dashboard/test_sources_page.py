"""The dashboard's sources page (issue 14): each source of a site with its kind, format and address, what each
channel feeds, its state in a word and a colour, its last reading, readings taken, refusals by reason and its
last error; over HTTP in process, and in Debian's chromium (a screenshot kept in test-artifacts/).

The site has four sources, one in each state: a Tasmota pulse counter heard a minute ago (``tele/<topic>/
SENSOR`` with ``COUNTER``, https://tasmota.github.io/docs/MQTT/), one message of it cut short; a Shelly
heard three hours ago (silent); a Modbus meter never heard; an rtlamr receiver disabled. Readings go through
the collector's own runner, as its broker's messages do.
"""

from __future__ import annotations

import json
import re
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from meshmeter.api import Settings, create_app
from meshmeter.api.dashboard import SECURITY_HEADERS
from meshmeter.collect.collector import Collector
from meshmeter.collect.runner import CollectorRunner
from meshmeter.services.sources import add_source
from meshmeter.store import Store
from tests.dashboard.conftest import ADMIN_TOKEN, serve

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
GREEN, RED, AMBER, GREY = "rgb(26, 127, 55)", "rgb(207, 34, 46)", "rgb(154, 103, 0)", "rgb(87, 96, 106)"
"""The badges' backgrounds: --good, --poor, --fair, --muted of dashboard.css."""


def _tasmota(at: datetime, count: int) -> bytes:
    return json.dumps({"Time": at.strftime("%Y-%m-%dT%H:%M:%S"), "COUNTER": {"C1": count}}).encode()


def _shelly(count_wh: float) -> bytes:
    """A Shelly Gen2 switch's status (https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Switch,
    ``aenergy.total`` in Wh)."""
    return json.dumps(
        {"id": 0, "aenergy": {"total": count_wh, "by_minute": [0, 0, 0], "minute_ts": 0}}
    ).encode()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, int]]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('sources') / 'meshmeter.db'}")
    oak = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
    elm = store.create_site(name="Elm House", timezone="America/New_York")
    for serial in ("MM-4A", "MM-2B", "MM-HOUSE", "MM-STREET"):
        store.create_meter(serial=serial, designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=oak.id)
    broker = "mqtt://127.0.0.1:1883"
    pulse = add_source(
        store, site_id=oak.id, name="tasmota-4a", kind="mqtt", format="tasmota_counter", address=broker,
        settings={"timezone": "UTC"},
        channels=[
            {"device": "unit4a", "channel": "C1", "meter": "MM-4A", "unit": "pulse", "wh_per_unit": 10}
        ],
    )  # fmt: skip
    shelly = add_source(
        store, site_id=oak.id, name="shelly-2b", kind="mqtt", format="shelly_gen2", address=broker,
        settings={"comm_loss_after_s": 1800},
        channels=[{"device": "shelly2b", "channel": "switch:0", "meter": "MM-2B", "unit": "Wh"}],
    )  # fmt: skip
    add_source(
        store, site_id=oak.id, name="sdm-house", kind="modbus_tcp", format="eastron-sdm630mct",
        address="192.0.2.10:502", settings={"unit_id": 1},
        channels=[{"device": "1", "channel": "import", "meter": "MM-HOUSE", "unit": "kWh"}],
    )  # fmt: skip
    add_source(
        store, site_id=oak.id, name="rtl-street", kind="rtlamr", format="rtlamr", address="-", enabled=False,
        channels=[{"device": "33333333", "channel": "consumption", "meter": "MM-STREET", "unit": "count",
                   "wh_per_unit": 10, "msg_type": "SCM"}],
    )  # fmt: skip
    add_source(store, site_id=elm.id, name="elm-only", kind="rtlamr", format="rtlamr", address="-")
    collector = Collector(store, site_id=oak.id)
    runner = CollectorRunner(collector)
    now = datetime.now(UTC).replace(microsecond=0)
    received = int(time.time() * 1000)
    for k in range(4):
        at = now - timedelta(minutes=31 - 10 * k)
        runner.handle_message(
            collector.sources[pulse.id], "tele/unit4a/SENSOR", _tasmota(at, 90 * k), received
        )
    runner.handle_message(collector.sources[pulse.id], "tele/unit4a/SENSOR", b'{"Time":"20', received)
    hours_ago = int((now - timedelta(hours=3)).timestamp() * 1000)
    for k, total in enumerate((1000.0, 1450.0)):
        runner.handle_message(
            collector.sources[shelly.id], "shelly2b/status/switch:0", _shelly(total), hours_ago + 60_000 * k
        )
    try:
        yield store, oak.id
    finally:
        store.close()


@pytest.fixture(scope="module")
def client(site: tuple[Store, int]) -> Iterator[TestClient]:
    store, _ = site
    with TestClient(create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))) as c:
        yield c


def _section(html: str, name: str) -> str:
    found = re.search(
        r'<section class="card source[^"]*"[^>]*>\s*<h2[^>]*>' + re.escape(name) + r" .*?</section>",
        html,
        re.S,
    )
    assert found is not None, f"no section of {name}"
    return found.group(0)


def test_each_source_with_its_state_feeds_readings_and_refusals(client, site) -> None:
    store, oak = site
    answer = client.get("/dashboard/sources", params={"site_id": oak}, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    for header, value in SECURITY_HEADERS.items():
        assert answer.headers[header] == value
    html = answer.text
    assert "<script" not in html  # nothing to run: no script at all
    assert "elm-only" not in html  # another site's
    states = {
        name: state for state, name in re.findall(r'data-state="(\w+)".*?<h2[^>]*>([\w-]+) ', html, re.S)
    }
    assert states == {
        "tasmota-4a": "ok",
        "shelly-2b": "silent",
        "sdm-house": "never",
        "rtl-street": "disabled",
    }
    pulse = _section(html, "tasmota-4a")
    assert '<span class="badge ok state">reporting</span>' in pulse
    assert "mqtt" in pulse
    assert "tasmota_counter" in pulse
    assert "mqtt://127.0.0.1:1883" in pulse
    assert "<code>unit4a/C1</code>" in pulse
    assert '<a href="/dashboard/meters/MM-4A">MM-4A</a>' in pulse
    assert "10 Wh/pulse" in pulse
    assert 'data-readings="4"' in pulse
    assert '<dd class="readings">4</dd>' in pulse
    assert '<span class="reason">malformed</span>: <span class="num">1</span>' in pulse
    assert 'class="last-error"' in pulse
    assert "tele/unit4a/SENSOR" in pulse
    # the last reading in the site's time (Los Angeles), a minute ago
    last = store.get_source(site_id=oak, name="tasmota-4a").last_reading_at
    local = last.astimezone(ZoneInfo("America/Los_Angeles"))
    assert local.strftime("%Y-%m-%d %H:%M") in pulse
    assert "(1 min ago)" in pulse
    shelly = _section(html, "shelly-2b")
    assert '<span class="badge bad state">silent</span>' in shelly
    assert "(2 h ago)" in shelly  # 2 h 59 min: whole hours
    assert 'data-readings="2"' in shelly
    assert "switch:0" in shelly
    assert "MM-2B" in shelly
    assert "Refused, by reason" not in shelly
    assert "last-error" not in shelly
    never = _section(html, "sdm-house")
    assert '<span class="badge warn state">never heard</span>' in never
    assert "modbus_tcp" in never
    assert "192.0.2.10:502" in never
    assert ">kWh<" in never
    off = _section(html, "rtl-street")
    assert '<span class="badge off state">disabled</span>' in off
    assert "MM-STREET" in off


def test_the_page_of_another_site_and_an_unknown_one(client, site) -> None:
    store, oak = site
    elm = next(s.id for s in store.sites() if s.id != oak)
    html = client.get("/dashboard/sources", params={"site_id": elm}, headers=ADMIN).text
    assert "elm-only" in html
    assert "tasmota-4a" not in html
    assert '<span class="badge warn state">never heard</span>' in html
    assert "Nothing mapped yet" in html
    assert client.get("/dashboard/sources", params={"site_id": 999}, headers=ADMIN).status_code == 404
    # the first site by default; the overview links to each site's page
    assert "tasmota-4a" in client.get("/dashboard/sources", headers=ADMIN).text
    overview = client.get("/dashboard", headers=ADMIN).text
    assert f'href="/dashboard/sources?site_id={oak}"' in overview


def test_who_may_open_it(client, site) -> None:
    store, oak = site
    for role, status in (("read-only", 200), ("operator", 200), ("billing", 403)):
        token = store.create_api_token(role=role)[1]
        got = client.get(
            "/dashboard/sources", params={"site_id": oak}, headers={"Authorization": f"Bearer {token}"}
        )
        assert got.status_code == status, role
    elm_token = store.create_api_token(
        role="read-only", site_ids=[next(s.id for s in store.sites() if s.id != oak)]
    )[1]
    headers = {"Authorization": f"Bearer {elm_token}"}
    assert client.get("/dashboard/sources", params={"site_id": oak}, headers=headers).status_code == 404
    assert "tasmota-4a" not in client.get("/dashboard/sources", headers=headers).text


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("viewport", [(1280, 900), (375, 740)], ids=["desktop", "phone"])
def test_in_chromium(browser: Any, site, screenshots: Path, viewport: tuple[int, int]) -> None:
    store, oak = site
    with serve(create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))) as url:
        context = browser.new_context(base_url=url, viewport={"width": viewport[0], "height": viewport[1]})
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(f"/dashboard/sources?site_id={oak}")
            page.fill("#token", ADMIN_TOKEN)  # not signed in: the form, then back here
            page.click("button[type=submit]")
            page.wait_for_url("**/dashboard/sources")  # back to the page (the first site: Oak Court)
            assert page.locator("h1").inner_text() == "Sources: Oak Court"
            colours = page.eval_on_selector_all(
                "section.source",
                "els => els.map(s => [s.querySelector('h2').firstChild.textContent.trim(),"
                " s.querySelector('.badge.state').textContent,"
                " getComputedStyle(s.querySelector('.badge.state')).backgroundColor])",
            )
            assert colours == [
                ["tasmota-4a", "reporting", GREEN],
                ["shelly-2b", "silent", RED],
                ["sdm-house", "never heard", AMBER],
                ["rtl-street", "disabled", GREY],
            ]
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= viewport[0], f"the page overflows: {width} px"
            name = "sources" if viewport[0] > 600 else "phone_sources"
            page.screenshot(path=str(screenshots / f"dashboard_{name}.png"), full_page=True)
            page.click(
                "#source-title-"
                + str(store.get_source(site_id=oak, name="tasmota-4a").id)
                + " ~ div >> text=MM-4A"
            )
            page.wait_for_url("**/dashboard/meters/MM-4A")
        finally:
            context.close()
        assert errors == [], errors
