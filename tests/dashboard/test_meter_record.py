"""The meter page as a meter record (issue 15), over the demo building: names first, the unit's tenants over
time, make and ratings, events in words, where the readings come from and how that path is doing, who may
open it; and in chromium at 1280x900 and 375x800, the charts in kWh, the monthly bars over their own
month, the heat map holding the API's hours, nothing wider than the screen."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from meshmeter.api import Settings, create_app
from meshmeter.api.dashboard.meter_record import event_lines
from meshmeter.headend.alerts import AlertKind, raise_alert
from meshmeter.intervals import zone
from meshmeter.services.names import ROLE_NAMES, meter_names
from meshmeter.store import Event, Store
from tests.dashboard.conftest import ADMIN_TOKEN, serve
from tests.dashboard.tenant_world import MOVE, START, World, build_world

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

LA = zone("America/Los_Angeles")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, World]]:
    """The demo building, with a tamper opened and closed on unit 103's meter, a reverse phase on unit
    105's, a pulse counter feeding unit 104's meter, a second site and a token bound to each site."""
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('meter_record') / 'demo.sqlite'}")
    try:
        built = build_world(store)
        meters = {name: store.get_meter(serial=serial) for name, serial in built.serials.items()}
        m103, m104, m105 = meters["103"], meters["104"], meters["105"]
        assert m103 is not None
        assert m104 is not None
        assert m105 is not None
        opened = START + timedelta(hours=14, minutes=2)  # 14:02 PST
        raise_alert(store, AlertKind.TAMPER, at=opened, meter_id=m103.id, detail={"cover_open": True})
        raise_alert(
            store,
            AlertKind.TAMPER,
            at=opened + timedelta(minutes=29),
            meter_id=m103.id,
            detail={"cover_open": False},
            active=False,
        )
        raise_alert(
            store,
            AlertKind.REVERSE_PHASE,
            at=START + timedelta(hours=9),
            meter_id=m105.id,
            detail={"elements": [2], "element_power_w": [512.4123456789, -498.7000000001]},
        )
        site_id = m104.site_id
        assert site_id is not None
        source = store.create_source(
            site_id=site_id,
            name="panel-b",
            kind="mqtt",
            format="esphome_pulse_meter",
            address="mqtt://10.0.0.5",
        )
        store.add_source_channel(
            source_id=source.id,
            device="pulse-104",
            channel="pulses",
            meter_id=m104.id,
            unit="pulse",
            wh_per_unit=10,
        )
        other = store.create_site(name="Elm Yard", timezone="America/Los_Angeles")
        _, built.tokens["elm-bound"] = store.create_api_token(
            role="read-only", site_ids=[other.id], label="elm"
        )
        _, built.tokens["home-bound"] = store.create_api_token(
            role="operator", site_ids=[site_id], label="home"
        )
        yield store, built
    finally:
        store.close()


@pytest.fixture(scope="module")
def client(world: tuple[Store, World]) -> Iterator[TestClient]:
    store, _ = world
    with TestClient(create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))) as c:
        yield c


def _as(world: tuple[Store, World], who: str) -> dict[str, str]:
    token = ADMIN_TOKEN if who == "admin" else world[1].tokens[who]
    return {"Authorization": f"Bearer {token}"}


def _page(client: TestClient, world: tuple[Store, World], unit: str, who: str = "admin") -> str:
    response = client.get(f"/dashboard/meters/{world[1].serials[unit]}", headers=_as(world, who))
    assert response.status_code == 200, response.text
    return response.text


def _section(html: str, element_id: str) -> str:
    """The text of the element with this id, tags dropped and spaces collapsed."""
    start = html.index(f'id="{element_id}"')
    tag = html.rfind("<", 0, start)
    name = html[tag + 1 : start].split()[0]
    end = html.index(f"</{name}>", start)
    return " ".join(re.sub(r"<[^>]+>", " ", html[start:end].split(">", 1)[1]).split())


def test_names_come_first_and_the_tenants_over_time(client: TestClient, world: tuple[Store, World]) -> None:
    html = _page(client, world, "102")
    serial = world[1].serials["102"]
    assert "<h1>Unit 102</h1>" in html
    assert _section(html, "occupant").startswith("Newman household (")  # who lives there now
    tenures = _section(html, "tenures")
    # newest first: the Newman household from the move, the Baker household until it
    moved = MOVE.astimezone(LA).date().isoformat()
    assert tenures.index("Newman household") < tenures.index("Baker household")
    assert "Newman household (account" in tenures
    assert f"{moved} PST to now" in tenures
    assert f"to {moved} PST" in tenures.split("Baker household", 1)[1]
    assert "moved out" in tenures
    assert "moved in" in tenures
    # the serial and the model are on the secondary panel, not the heading
    ratings = _section(html, "ratings")
    assert serial in ratings
    assert "2000:1" in ratings
    assert "15 min" in ratings
    assert "unit meter" in ratings
    assert serial not in html[html.index("<h1>") : html.index("</h1>")]


def test_house_and_solar_meters_are_named_by_their_role(
    client: TestClient, world: tuple[Store, World]
) -> None:
    store, _ = world
    names = meter_names(store)
    others = [m for m in store.meters() if m.role != "unit"]
    assert {m.role for m in others} == {"house", "production"}
    for meter in others:
        response = client.get(f"/dashboard/meters/{meter.serial}", headers=_as(world, "admin"))
        assert response.status_code == 200
        assert f"<h1>{names[meter.id].label}</h1>" in response.text
        assert meter.serial not in names[meter.id].label
        assert f"{ROLE_NAMES[meter.role]}" in _section(response.text, "ratings")


def test_events_are_in_words(client: TestClient, world: tuple[Store, World]) -> None:
    events = _section(_page(client, world, "103"), "events")
    # the clear on the same day: its time; the words those of every door (services.alert_words)
    assert "Enclosure cover opened (tamper switch) 2026-03-07 14:02, closed 14:31" in events
    assert "Installed meter and MDT" in events
    assert "unit meter of unit 103" in events
    reverse = _section(_page(client, world, "105"), "events")
    assert "Reverse phase on element 2 (CT2) (element power 512, -499 W)" in reverse
    assert "(in force)" in reverse
    for text in (events, reverse):
        assert "{" not in text
        assert "'" not in text
        assert "active" not in text
        assert not re.search(r"\d\.\d{4,}", text), text  # no long decimals


def test_event_lines_pair_a_raise_with_its_clear_across_days() -> None:
    def event(i: int, at: datetime, active: bool) -> Event:
        return Event(i, "alert.tamper", 1, None, at, {"cover_open": active, "active": active})

    opened = datetime(2026, 3, 7, 23, 50, tzinfo=UTC)  # 15:50 PST
    lines = event_lines([event(1, opened, True), event(2, opened + timedelta(days=1), False)], LA)
    # closed a day later, after the clocks sprang forward: 16:50 PDT, with its date
    assert [(line.text, line.tone) for line in lines] == [
        ("Enclosure cover opened (tamper switch) 2026-03-07 15:50, closed 2026-03-08 16:50", "ok")
    ]
    # a clear without its raise, and an unknown kind: words, not a dump
    lone = event_lines(
        [event(3, opened, False), Event(4, "battery_swap", 1, None, opened, {"x": 0.123456789})], LA
    )
    assert [line.text for line in lone] == [
        "Battery swap 2026-03-07 15:50",
        "Enclosure cover opened (tamper switch): closed 2026-03-07 15:50",
    ]


def test_event_lines_survive_malformed_details() -> None:
    at = datetime(2026, 3, 7, 22, 2, tzinfo=UTC)  # 14:02 PST
    lines = event_lines(
        [
            Event(1, "alert.low_battery", 1, None, at, {"fraction_left": "lots", "active": True}),
            Event(2, "alert.low_battery", 1, None, at, {"fraction_left": 0.0912345, "active": True}),
            Event(
                3, "element_measurements", 1, None, at, {"elements": [{"element": 1, "voltage_v": "?"}, 7]}
            ),
            Event(4, "alert.reverse_phase", 1, None, at, {"elements": "2", "element_power_w": ["x"]}),
        ],
        LA,
    )
    assert [line.text for line in lines] == [
        "Reverse phase 2026-03-07 14:02 (in force)",
        "Element measurements 2026-03-07 14:02: element 1: – V, – A, – W",
        "MDT battery low (9 % left) 2026-03-07 14:02 (in force)",
        "MDT battery low 2026-03-07 14:02",
    ]


def test_the_source_and_its_health(client: TestClient, world: tuple[Store, World]) -> None:
    store, built = world
    paths = _section(_page(client, world, "104"), "paths")
    assert "never heard pulse counter over MQTT panel-b : pulse-104/pulses (10 Wh/pulse)" in paths
    assert "Last heard never" in paths
    # the MDT over the mesh too: its data ended in March, so it is silent
    assert "silent MDT over the mesh" in paths
    source = store.get_source(site_id=store.get_meter(serial=built.serials["104"]).site_id, name="panel-b")  # type: ignore[union-attr]
    assert source is not None
    store.record_source_health(source_id=source.id, error="connection refused by 10.0.0.5:1883")
    assert "Last error: connection refused by 10.0.0.5:1883" in _section(_page(client, world, "104"), "paths")
    # another unit's meter: no source, only its MDT
    assert "panel-b" not in _section(_page(client, world, "101"), "paths")


def test_the_monthly_bars_range_over_whole_months(client: TestClient, world: tuple[Store, World]) -> None:
    html = _page(client, world, "101")
    chart = html[html.index('id="monthly-chart"') :]
    # the last data is of 2026-03-08 local: the twelve months April 2025 to March 2026
    assert 'data-start="2025-04-01" data-end="2026-04-01"' in chart[: chart.index(">")]
    assert "[kWh]" in _section(html, "monthly-title")


@pytest.mark.parametrize("who", ["admin", "operator", "read-only", "home-bound"])
def test_each_monitoring_role_opens_the_page(
    client: TestClient, world: tuple[Store, World], who: str
) -> None:
    html = _page(client, world, "101", who)
    assert "<h1>Unit 101</h1>" in html
    assert "Alvarez household" in html


@pytest.mark.parametrize("who", ["billing", "tenant", "leaver", "newcomer"])
def test_billing_and_tenants_are_refused(client: TestClient, world: tuple[Store, World], who: str) -> None:
    # a tenant reads its own meter through "My usage" within its tenure; the meter record (events, the
    # source, other tenants) is the staff's, even for the tenant's own unit
    for unit in ("101", "102"):
        response = client.get(f"/dashboard/meters/{world[1].serials[unit]}", headers=_as(world, who))
        assert response.status_code == 403, (who, unit, response.status_code)
        assert "Alvarez" not in response.text
        assert "Newman" not in response.text


def test_a_token_of_another_site_and_an_unknown_serial_get_404(
    client: TestClient, world: tuple[Store, World]
) -> None:
    serial = world[1].serials["101"]
    response = client.get(f"/dashboard/meters/{serial}", headers=_as(world, "elm-bound"))
    assert response.status_code == 404
    assert serial in response.text
    assert "Alvarez" not in response.text
    response = client.get("/dashboard/meters/NOPE0000", headers=_as(world, "admin"))
    assert response.status_code == 404
    assert "NOPE0000" in response.text


# ---------------------------------------------------------------------------------------------------
# in the browser
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(world: tuple[Store, World]) -> Iterator[str]:
    store, _ = world
    with serve(create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))) as url:
        yield url


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("viewport", [(1280, 900), (375, 800)])
def test_the_page_in_the_browser(
    browser: Any, server: str, world: tuple[Store, World], viewport: tuple[int, int], screenshots: Any
) -> None:
    width, height = viewport
    ctx = browser.new_context(base_url=server, viewport={"width": width, "height": height})
    errors: list[str] = []
    try:
        page = ctx.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto("/dashboard/login")
        page.fill("#token", ADMIN_TOKEN)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/dashboard")
        serial = world[1].serials["102"]
        page.goto(f"/dashboard/meters/{serial}")
        for chart in ("#interval-chart", "#heatmap-chart", "#daily-chart", "#monthly-chart"):
            page.wait_for_selector(f"{chart}[data-ready=true]", timeout=20_000)
        # nothing wider than the screen
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        # the daily bars in kWh, each over its own day; the month's bar over March, not April
        daily = page.evaluate(
            """() => { const el = document.getElementById("daily-chart");
                     return {source: el.dataset.source, x: el.data[0].x, y: el.data[0].y,
                             title: el.layout.yaxis.title.text}; }"""
        )
        doc = page.request.get(daily["source"]).json()
        assert daily["y"] == [None if d["energy_wh"] is None else d["energy_wh"] / 1000 for d in doc["data"]]
        assert daily["x"] == [d["interval_start"][:19].replace("T", " ") for d in doc["data"]]
        assert daily["title"] == "kWh per day"
        bars = page.evaluate(
            """() => { const el = document.getElementById("monthly-chart");
                     return el.calcdata[0].filter(b => b.s > 0).map(b => b.p); }"""
        )
        march, april = (datetime(2026, m, 1, tzinfo=UTC).timestamp() * 1000 for m in (3, 4))
        assert len(bars) == 1, bars
        assert march < bars[0] < april, bars
        # the heat map holds the API's hours: its cells add up to the hourly data
        heat = page.evaluate(
            """() => { const el = document.getElementById("heatmap-chart");
                     return {source: el.dataset.source,
                             total: el.data[0].z.flat().reduce((a, v) => a + (v || 0), 0),
                             rows: el.data[0].y.length, cols: el.data[0].x.length}; }"""
        )
        hours = page.request.get(heat["source"]).json()
        assert heat["cols"] == 24
        assert heat["rows"] == 31
        assert heat["total"] == pytest.approx(sum(d["energy_wh"] or 0 for d in hours["data"]) / 1000)
        page.screenshot(path=str(screenshots / f"meter_record_{width}.png"), full_page=True)
    finally:
        ctx.close()
    assert errors == [], errors
