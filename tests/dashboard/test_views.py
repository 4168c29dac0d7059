"""What the pages show, computed from the store and the CIT report (no HTTP)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meshmeter.amr.cit import CitReport, DeviceRow
from meshmeter.api.dashboard.views import (
    LINK_QUALITY_COLOURS,
    as_of,
    cit_from_dict,
    device_positions,
    energy_between,
    led_pattern,
    link_quality,
    local_day_bounds,
    meter_lcd,
    meter_reading,
    network_graph,
    site_overview,
)
from meshmeter.headend.alerts import AlertKind, active_alerts, check_reverse_phase
from meshmeter.store import Event, Store

LA = ZoneInfo("America/Los_Angeles")
T0 = datetime(2026, 1, 1, 8, tzinfo=UTC)
"""Local midnight of 2026-01-01 in Los Angeles (PST, UTC-8)."""


@pytest.fixture
def store():
    opened = Store("sqlite:///:memory:")
    try:
        yield opened
    finally:
        opened.close()


def _row(index, kind, eui, parent, etx, state="powerstate.connected", hops=1):
    return DeviceRow(
        index=index,
        kind=kind,
        eui64=eui,
        state=state,
        parent=parent,
        hops=hops,
        rssi_dbm=None if parent is None else -60.0,
        lqi=None if parent is None else 200,
        etx=etx,
        path_cost=etx,
        frames_sent=10,
        retried=1,
        lost=0,
        first_join_s=None if parent is None else 12.0,
        battery_left=0.9 if kind == "mdt" else None,
        battery_life_on_battery_days=100.0 if kind == "mdt" else None,
    )


DCAP, REP, M1, M2, M3 = ("00" * 7 + f"{i:02x}" for i in range(5))


def _report(devices):
    return CitReport(
        devices=tuple(devices),
        mdts=3,
        repeaters=1,
        joined_mdts=2,
        joined_repeaters=1,
        intervals_due=10,
        intervals_due_joined=10,
        intervals_due_unjoined=4,
        delivered=9,
        delivered_on_time=8,
        duplicates=1,
        latency_s={"p50": 10.0, "p90": 20.0, "p99": 30.0, "max": 40.0},
        hop_histogram={1: 1, 2: 1},
        join_time_s={"mdt": {"min": 1.0, "median": 2.0, "max": 3.0}},
        rejected={"bad_mic": 2},
        events={"TamperEvent": 1},
        unjoined=({"eui64": M3, "position_m": [90.0, 5.0], "best_rssi_dbm": -101.0, "suggestion": "move"},),
        simulated_s=86400.0,
        wall_s=1.5,
        sim_events=1000,
    )


REPORT = _report(
    [
        _row(0, "dcap", DCAP, None, None, state="connected", hops=0),
        _row(1, "repeater", REP, DCAP, 1.2),
        _row(2, "mdt", M1, DCAP, 2.5),
        _row(3, "mdt", M2, REP, 4.0, hops=2),
        _row(4, "mdt", M3, None, None, state="powerstate.searching", hops=None),
    ]
)


@pytest.mark.parametrize(
    ("etx", "quality"),
    [
        (1.0, "good"),
        (1.5, "good"),
        (1.51, "fair"),
        (3.0, "fair"),
        (3.01, "poor"),
        (50.0, "poor"),
        (None, None),
    ],
)
def test_link_quality_by_etx(etx, quality):
    assert link_quality(etx) == quality


@pytest.mark.parametrize("etx", [0.99, math.nan, -1.0])
def test_link_quality_refuses_a_bad_etx(etx):
    with pytest.raises(ValueError, match="etx"):
        link_quality(etx)


@pytest.mark.parametrize(
    ("state", "led"),
    [
        ("searching", "slow flash"),
        ("powerstate.joining", "rapid flash"),
        ("PowerState.CONNECTED", "off"),
        ("powerstate.light_sleep", "off"),
        ("off", "off"),
    ],
)
def test_led_pattern_of_each_join_state(state, led):  # manual §5.2, "Power-up LED Indications"
    assert led_pattern(state) == led


def test_led_pattern_refuses_an_unknown_state():
    with pytest.raises(ValueError, match="state"):
        led_pattern("dancing")


def test_as_of_is_the_latest_interval_not_after_now():
    now = datetime(2026, 11, 23, 5, 50, 12, tzinfo=UTC)
    t1, t2 = datetime(2026, 1, 3, tzinfo=UTC), datetime(2026, 1, 4, 0, 15, tzinfo=UTC)
    assert as_of([t1, None, t2], now) == t2
    assert as_of([now + timedelta(days=1)], now) == datetime(2026, 11, 23, 5, 45, tzinfo=UTC)
    assert as_of([], now) == datetime(2026, 11, 23, 5, 45, tzinfo=UTC)
    with pytest.raises(ValueError, match="now"):
        as_of([t1], datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("instant", "day", "month"),
    [
        # the interval ending at local midnight belongs to the day before
        (datetime(2026, 1, 3, 8, tzinfo=UTC), datetime(2026, 1, 2, 8, tzinfo=UTC), T0),
        (datetime(2026, 1, 3, 8, 15, tzinfo=UTC), datetime(2026, 1, 3, 8, tzinfo=UTC), T0),
        # spring forward: the day began at midnight PST, the month at midnight PST too
        (
            datetime(2026, 3, 8, 12, tzinfo=UTC),
            datetime(2026, 3, 8, 8, tzinfo=UTC),
            datetime(2026, 3, 1, 8, tzinfo=UTC),
        ),
        # the day after: midnight PDT
        (
            datetime(2026, 3, 9, 12, tzinfo=UTC),
            datetime(2026, 3, 9, 7, tzinfo=UTC),
            datetime(2026, 3, 1, 8, tzinfo=UTC),
        ),
    ],
)
def test_local_day_bounds(instant, day, month):
    assert local_day_bounds(instant, LA) == (day, month)


def test_cit_report_round_trips_through_its_json_form():
    assert cit_from_dict(REPORT.to_dict()) == REPORT


@pytest.mark.parametrize("data", [{}, {"devices": [{"index": 0}]}, {"devices": 3}])
def test_cit_from_dict_refuses_what_is_not_a_report(data):
    with pytest.raises(ValueError, match="not a CIT report"):
        cit_from_dict(data)


def test_network_graph_as_a_tree():
    graph = network_graph(REPORT, {M1: "A1", M2: "A2"})
    at = {n.row.eui64: (n.x, n.y) for n in graph.nodes}
    assert not graph.positioned
    assert at[DCAP] == (0.0, 0.0)
    assert {round(at[REP][1]), round(at[M1][1])} == {-1}  # one hop
    assert round(at[M2][1]) == -2  # under the repeater
    assert round(at[M3][1]) == -3  # not joined: a row of its own, below
    edges = {(e.child, e.parent): e for e in graph.edges}
    assert set(edges) == {(REP, DCAP), (M1, DCAP), (M2, REP)}
    assert edges[(REP, DCAP)].colour == LINK_QUALITY_COLOURS["good"]
    assert edges[(M1, DCAP)].quality == "fair"
    assert edges[(M2, REP)].quality == "poor"
    nodes = {n.row.eui64: n for n in graph.nodes}
    assert nodes[M1].meter == "A1"
    assert nodes[M3].state == "searching"
    assert nodes[M3].led == "slow flash"
    plot = graph.to_plot()
    assert [n["eui64"] for n in plot["nodes"]] == [DCAP, REP, M1, M2, M3]
    assert len(plot["edges"]) == 3


def test_network_graph_at_installed_positions():
    positions = {DCAP: (0.0, 0.0), REP: (10.0, 0.0), M1: (5.0, 5.0), M2: (20.0, 1.0), M3: (90.0, 5.0)}
    graph = network_graph(REPORT, {}, positions)
    assert graph.positioned
    assert {n.row.eui64: (n.x, n.y) for n in graph.nodes} == positions
    del positions[M3]
    assert not network_graph(REPORT, {}, positions).positioned  # one missing: the tree


def test_device_positions_from_install_events():
    at = T0
    events = [
        Event(1, "install", 1, bytes.fromhex(M1), at, {"mdt": {"position_m": [3.5, 4.0]}}),
        Event(2, "install", None, bytes.fromhex(REP), at, {"position_m": [10, 0]}),
        Event(3, "install", None, bytes.fromhex(DCAP), at, {"position_m": "here"}),
        Event(4, "tamper", 1, bytes.fromhex(M2), at, {"position_m": [1, 1]}),
        Event(5, "install", None, None, at, {"position_m": [1, 1]}),
        Event(6, "install", None, bytes.fromhex(M2), at, {"position_m": [math.inf, 1]}),
    ]
    assert device_positions(events) == {M1: (3.5, 4.0), REP: (10.0, 0.0)}


def _meter(store, serial="A1", site_id=None):
    return store.create_meter(serial=serial, designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site_id)


def test_lcd_rebuilt_from_the_latest_interval(store):
    meter = _meter(store)
    assert meter_lcd(store, meter, last=None, reading_wh=None, reverse_phase=False) == []
    end = T0 + timedelta(hours=1)
    store.insert_raw_intervals(
        meter_id=meter.id,
        rows=[(end - timedelta(minutes=15), 100, 1_234_267), (end, 300, 1_234_567)],
        source="t",
    )
    reading = meter_reading(store, meter, end)
    assert reading == 1_234_567
    screens = meter_lcd(store, meter, last=end, reading_wh=reading, reverse_phase=True)
    assert [s.name for s in screens] == ["total", "demand", "power", "reverse"]
    assert screens[0].text == "001234.5 kWh"  # truncated, manual Table 3
    assert screens[1].text.strip() == "1.200 kW"  # 300 Wh in 15 minutes
    assert all("REV" in s.annunciators for s in screens)


def test_reading_takes_a_later_register_read(store):
    meter = _meter(store)
    end = T0 + timedelta(hours=1)
    store.insert_raw_intervals(meter_id=meter.id, rows=[(end, 300, 5000)], source="t")
    assert meter_reading(store, meter, end) == 5000
    store.add_register_read(meter_id=meter.id, read_at=end + timedelta(hours=1), energy_wh=5200)
    assert meter_reading(store, meter, end) == 5200
    assert meter_reading(store, _meter(store, "A2"), None) is None


def test_site_overview_days_in_local_time(store):
    site = store.create_site(name="Oak", timezone="America/Los_Angeles")
    meter = _meter(store, site_id=site.id)
    orphan = _meter(store, "B1")
    # two local days of 10 Wh per quarter-hour from local midnight of 2026-01-31 PST, into February
    start = datetime(2026, 1, 31, 8, tzinfo=UTC)
    rows = [(start + timedelta(minutes=15 * (k + 1)), 10, 10 * (k + 1)) for k in range(96 + 40)]
    store.insert_raw_intervals(meter_id=meter.id, rows=rows, source="t")
    now = datetime(2026, 11, 23, tzinfo=UTC)
    sites = site_overview(store, now=now, alerts=[])
    assert [s.site.name if s.site else None for s in sites] == ["Oak", None]
    oak = sites[0]
    assert oak.as_of == rows[-1][0]
    assert oak.day_start == datetime(2026, 2, 1, 8, tzinfo=UTC)
    assert oak.month_start == datetime(2026, 2, 1, 8, tzinfo=UTC)
    (row,) = oak.meters
    assert row.today_wh == row.month_wh == 400  # 40 quarter-hours of 1 February
    assert row.reading_wh == 1360
    assert row.silent
    assert energy_between(store, meter.id, start, start + timedelta(days=1)) == 960
    assert energy_between(store, meter.id, start, start) == 0
    assert sites[1].meters[0].meter == orphan
    assert sites[1].meters[0].reading_wh is None
    assert date(2026, 2, 1) == oak.day_start.astimezone(LA).date()


def test_alerts_are_counted_per_meter(store):
    site = store.create_site(name="Oak", timezone="UTC")
    meter = _meter(store, site_id=site.id)
    check_reverse_phase(store, meter_id=meter.id, at=T0, element_power_w=[480.0, -470.0])
    alerts = active_alerts(store)
    assert [a.kind for a in alerts] == [AlertKind.REVERSE_PHASE]
    (oak,) = site_overview(store, now=T0, alerts=alerts)
    assert oak.meters[0].alerts == 1
