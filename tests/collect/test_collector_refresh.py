"""A running collector takes the sources added, changed and disabled since it started (issue 15: an operator
adds a source from the dashboard, the API or the CLI and expects its readings without restarting anything).

Driven as in service: a real :class:`CollectorRunner` started on a store, a source added with the service
every door calls (:func:`meshmeter.services.sources.add_source`) while it runs, then disabled as ``PATCH
/sources/{id}`` does; the devices are a Tasmota counter on the real broker (``tele/<topic>/SENSOR`` with
``COUNTER``, https://tasmota.github.io/docs/MQTT/) and a SunSpec model 203 meter on pymodbus's own server.
The Mini Meter's output "10" gives one pulse per 10 Wh (manual §3.2).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pymodbus.server import ModbusTcpServer

from meshmeter.collect.collector import Clock, Collector
from meshmeter.collect.runner import CollectorRunner
from meshmeter.headend.mqtt import parse_mqtt_url
from meshmeter.services.sources import add_source
from meshmeter.store import Store
from tests.collect.test_modbus import Server, device, free_port, sunspec_words
from tests.collect.test_rtlamr import scm_line

SUNSPEC_BASE = 40000


def _until(check: Callable[[], bool], timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def _raw_wh(store: Store, meter_id: int, around: datetime) -> int:
    rows = store.raw_intervals(
        meter_id=meter_id, start=around - timedelta(days=1), end=around + timedelta(days=1)
    )
    return sum(r.energy_wh for r in rows)


@pytest.fixture
def runner(sqlite_store: Store) -> Iterator[tuple[Store, CollectorRunner, int]]:
    """A site with two meters and no source yet: a running collector with nothing to run but its watch
    (every 12 simulated s, 0.2 s of real time)."""
    store = sqlite_store
    site = store.create_site(name="Oak Court", timezone="UTC")
    store.create_meter(serial="MM-4A", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id)
    store.create_meter(serial="HOUSE-1", designation="SunSpec 203 meter", ct_ratio=2000, site_id=site.id)
    now_s = time.time()  # a clock 60x real time from now: a minute's poll each second
    clock = Clock(real_anchor_s=now_s, simulated_anchor_s=now_s, scale=60.0)
    run = CollectorRunner(Collector(store, site_id=site.id, clock=clock), watch_every_s=12.0)
    run.start()
    try:
        yield store, run, site.id
    finally:
        run.stop()


def _tasmota(url: str, topic: str, at: datetime, count: int) -> None:
    host, port, _tls, _user, _password = parse_mqtt_url(url)
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"meshmeter-test-tasmota-{secrets.token_hex(4)}"
    )
    client.connect(host, port)
    client.loop_start()
    try:
        body = {"Time": at.strftime("%Y-%m-%dT%H:%M:%S"), "COUNTER": {"C1": count}}
        client.publish(f"tele/{topic}/SENSOR", json.dumps(body), qos=1).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def test_an_mqtt_source_added_while_running_is_collected_and_a_disabled_one_no_more(
    runner: tuple[Store, CollectorRunner, int], mqtt_url: str
) -> None:
    store, run, site_id = runner
    topic = f"unit4a-{secrets.token_hex(3)}"
    made = add_source(
        store,
        site_id=site_id,
        name="tasmota-4a",
        kind="mqtt",
        format="tasmota_counter",
        address=mqtt_url,
        settings={"timezone": "UTC"},
        channels=[{"device": topic, "channel": "C1", "meter": "MM-4A", "unit": "pulse", "wh_per_unit": 10}],
    )
    assert _until(lambda: made.id in run.collector.sources), "the watch did not take the new source"
    assert run.wait_connected(10)
    meter = store.get_meter(serial="MM-4A")
    assert meter is not None
    now = datetime.now(UTC).replace(minute=datetime.now(UTC).minute // 15 * 15, second=0, microsecond=0)
    start = now - timedelta(minutes=30)  # on the meter's 15-minute grid: each reading closes an interval
    # the new client's subscription is under way: the first reading is sent until it is taken (a copy
    # taken twice is stale, and changes nothing)
    for _ in range(30):
        _tasmota(mqtt_url, topic, start, 0)
        if _until(lambda: store.get_source(source_id=made.id).readings >= 1, timeout_s=1.0):
            break
    for k, count in ((15, 45), (30, 90)):  # 3 pulses a minute: 450 Wh a quarter hour
        _tasmota(mqtt_url, topic, start + timedelta(minutes=k), count)
    assert _until(lambda: _raw_wh(store, meter.id, now) == 900), _raw_wh(store, meter.id, now)

    store.update_source(source_id=made.id, enabled=False)  # what PATCH /sources/{id} {"enabled": false} does
    assert _until(lambda: made.id not in run.collector.sources), "the watch did not drop the disabled source"
    _tasmota(mqtt_url, topic, now + timedelta(minutes=15), 135)
    time.sleep(1.0)
    assert _raw_wh(store, meter.id, now) == 900  # the message closing the next quarter hour was not taken


def test_a_modbus_source_added_while_running_is_polled_and_stops_when_disabled(
    runner: tuple[Store, CollectorRunner, int],
) -> None:
    store, run, site_id = runner
    port = free_port()
    words = sunspec_words(exp_wh=0, imp_wh=1_234_000, sf=0)
    server = Server(
        lambda: ModbusTcpServer([device(1, holding=[(SUNSPEC_BASE, words)])], address=("127.0.0.1", port))
    )
    try:
        made = add_source(
            store,
            site_id=site_id,
            name="house-meter",
            kind="modbus_tcp",
            format="sunspec-meter",
            address=f"127.0.0.1:{port}",
            settings={"unit_id": 1, "poll_every_s": 60, "poll_offset_s": 0, "timeout_s": 2.0, "attempts": 1},
            channels=[{"device": "1", "channel": "import", "meter": "HOUSE-1", "unit": "Wh"}],
        )
        assert _until(lambda: made.id in run.collector.sources), "the watch did not take the new source"
        # polled at the next minute of the grid (a second of real time): its first reading is its position
        assert _until(lambda: store.get_source(source_id=made.id).readings >= 1, timeout_s=15), "never polled"
        channel = store.source_channels(source_id=made.id)[0]
        assert channel.state is not None
        assert channel.state["raw"] == "1234000"

        store.update_source(source_id=made.id, enabled=False)
        assert _until(lambda: made.id not in run.collector.sources)
        assert _until(lambda: made.id not in run._workers)  # its poller stopped
    finally:
        server.stop()


def test_a_changed_channel_keeps_its_position(sqlite_store: Store) -> None:
    """A reload that finds a channel's rules changed (its meter's register moved on, say) carries the position
    the collector holds over; an unchanged channel keeps its very runtime."""
    store = sqlite_store
    site = store.create_site(name="Oak Court", timezone="UTC")
    store.create_meter(serial="MM-4A", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id)
    made = add_source(
        store,
        site_id=site.id,
        name="tasmota-4a",
        kind="mqtt",
        format="tasmota_counter",
        address="mqtt://127.0.0.1:1883",
        channels=[
            {"device": "unit4a", "channel": "C1", "meter": "MM-4A", "unit": "pulse", "wh_per_unit": 10},
        ],
    )
    collector = Collector(store, site_id=site.id, clock=Clock())
    before = collector.channels(made.id)[0]
    assert collector.load() == set()  # nothing changed: nothing to restart
    assert collector.channels(made.id)[0] is before
    store.update_source(source_id=made.id, settings={"timezone": "America/Los_Angeles"})
    assert collector.load() == {made.id}  # its settings changed: its worker starts again
    assert collector.channels(made.id)[0] is before  # the channel itself did not


def test_copies_of_a_broadcast_are_counted_at_once_and_stored_in_bulk(sqlite_store: Store) -> None:
    """rtlamr prints every copy of a broadcast it decodes (github.com/bemasher/rtlamr): a meter heard
    twenty times in its 30 s is one reading and nineteen copies. The copies count at once in the collector's
    health and reach the store in one write, at the watch's round or at the stop, not one write each."""
    store = sqlite_store
    site = store.create_site(name="Oak Court", timezone="UTC")
    store.create_meter(serial="GAS-1", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id)
    made = add_source(
        store,
        site_id=site.id,
        name="rtl-street",
        kind="rtlamr",
        format="rtlamr",
        address="-",
        channels=[
            {
                "device": "33333333",
                "channel": "consumption",
                "meter": "GAS-1",
                "unit": "count",
                "wh_per_unit": 10,
                "msg_type": "SCM",
            }
        ],
    )
    run = CollectorRunner(Collector(store, site_id=site.id))
    source = run.collector.sources[made.id]
    line = scm_line(33333333, 1_978_226, datetime.now(UTC))
    for _ in range(20):
        run.handle_line(source, line)
    assert run.collector.counts[made.id]["duplicate"] == 19  # counted at once
    assert store.get_source(source_id=made.id).readings == 1  # the broadcast, once
    assert store.get_source(source_id=made.id).rejected == {}  # not one write per copy
    run.stop()
    assert store.get_source(source_id=made.id).rejected == {"duplicate": 19}
