"""``meshmeter collect`` killed at the worst moments and started again loses and doubles no interval.

The collector runs as its own process (``python -m meshmeter collect``) on a simulated clock 900 times as
fast as the real one (``MESHMETER_COLLECT_CLOCK``: a 15-minute interval a second), and is killed with
SIGKILL:

- during a Modbus poll: pymodbus's own server, on 127.0.0.1, holds the answer while the test kills;
- during an MQTT burst: Tasmota ``tele/<topic>/SENSOR`` messages with their ``Time`` on the real broker.

Then it is started again, and every interval stored is compared with the device's truth.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer

from meshmeter.collect.collector import CLOCK_ENV
from meshmeter.headend.mqtt import parse_mqtt_url
from meshmeter.services.sources import add_source
from meshmeter.store import Store
from tests.collect.test_modbus import Server, device, free_port, sunspec_words, u32_words

SCALE = 900.0
"""Simulated seconds per real second: one 15-minute interval a second."""
START_LEAD_S = 4.0
"""Real seconds from starting a collector to T0 - 15 min on the simulated clock: its start (imports, store)
takes 1.3 s on an idle machine and several on a loaded one."""
T0 = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
T0_S = int(T0.timestamp())
SUNSPEC_BASE = 40000
TOT_WH_IMP = SUNSPEC_BASE + 2 + 68 + 46
"""TotWhImp of model 203: after "SunS" (2 registers), model 1 (68 with its ID and length), at offset 46
of the meter model counted from its ID (SunSpec model 203, as ``tests/collect/test_modbus.py`` lays it)."""


def rate_wh_per_min(k: int) -> int:
    """The load in the k-th interval after T0: 60, 120 or 180 Wh a minute (3.6, 7.2, 10.8 kW)."""
    return 60 * (1 + k % 3)


def register_wh(t_s: float) -> int:
    """The meter's import register at simulated time ``t_s``, whole minutes counted (it steps once a
    minute, as a register of 1 Wh resolution read by a poll just after an interval's end does)."""
    minutes = max(0, int((t_s - T0_S) // 60))  # the load starts at T0
    whole, part = divmod(minutes, 15)
    done = sum(15 * rate_wh_per_min(k) for k in range(whole))
    return 1_000_000 + done + part * rate_wh_per_min(whole)


def truth(end_s: int) -> int:
    """The energy of the interval ending at ``end_s``. [Wh]"""
    return 0 if end_s <= T0_S else 15 * rate_wh_per_min((end_s - T0_S) // 900 - 1)


class SimClock:
    def __init__(self, lead_s: float = 1.0) -> None:
        self.anchor(lead_s)

    def anchor(self, lead_s: float) -> None:
        """Start again: T0 - 15 min ``lead_s`` real seconds from now. A collector started now must be up
        (its imports, its store) before T0 to take T0's poll, so the lead covers a slow machine's start."""
        self.real_anchor = time.time() + lead_s
        self.env = f"{self.real_anchor},{T0_S - 900},{SCALE}"

    def now_s(self) -> float:
        return T0_S - 900 + (time.time() - self.real_anchor) * SCALE


def _collect(db: Path, clock: SimClock, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, CLOCK_ENV: clock.env}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "meshmeter",
            "collect",
            "--site",
            "Oak Court",
            "--database",
            f"sqlite:///{db}",
            *args,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _intervals(db: Path, serial: str) -> tuple[dict[int, int], set[int]]:
    with Store(f"sqlite:///{db}") as store:
        meter = store.get_meter(serial=serial)
        assert meter is not None
        lo, hi = T0 - timedelta(days=1), T0 + timedelta(days=2)
        rows = store.raw_intervals(meter_id=meter.id, start=lo, end=hi, all_revisions=True)
        marks = store.apportioned_ends(meter_id=meter.id, start=lo, end=hi)
    ends = [int(r.interval_end.timestamp()) for r in rows]
    assert len(ends) == len(set(ends)), "an interval stored twice"
    return {int(r.interval_end.timestamp()): r.energy_wh for r in rows}, set(marks)


def _wait_sim(clock: SimClock, t_s: float) -> None:
    """Sleep until the simulated clock reads ``t_s``."""
    time.sleep(max(0.0, (t_s - clock.now_s()) / SCALE))


@pytest.fixture
def sunspec_device() -> Iterator[tuple[int, SimClock, threading.Event, threading.Event]]:
    """A SunSpec model 203 meter on pymodbus's own server whose register follows the simulated clock; set
    ``hold`` and the next read of it waits (``held`` is set while it does) long enough to be killed."""
    clock = SimClock()
    hold, held = threading.Event(), threading.Event()

    async def follow(
        function: int, start: int, address: int, count: int, registers: list[int], values: object
    ) -> ExcCodes | None:
        if start <= TOT_WH_IMP < start + len(registers) - 1:
            at = TOT_WH_IMP - start
            registers[at : at + 2] = u32_words(register_wh(clock.now_s()))
            if hold.is_set() and address <= TOT_WH_IMP < address + count:
                held.set()
                await asyncio.sleep(2.0)
        return None

    words = sunspec_words(exp_wh=0, imp_wh=register_wh(T0_S), sf=0)
    port = free_port()
    meter = device(1, holding=[(SUNSPEC_BASE, words)], action=follow)
    server = Server(lambda: ModbusTcpServer([meter], address=("127.0.0.1", port)))
    try:
        yield port, clock, hold, held
    finally:
        server.stop()


def _site(db: Path, **source: object) -> None:
    with Store(f"sqlite:///{db}") as store:
        site = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
        store.create_meter(serial="HOUSE-1", designation="SunSpec 203 meter", ct_ratio=2000, site_id=site.id)
        add_source(store, site_id=site.id, **source)  # type: ignore[arg-type]


def test_killed_during_a_modbus_poll_loses_and_doubles_nothing(
    tmp_path: Path, sunspec_device: tuple[int, SimClock, threading.Event, threading.Event]
) -> None:
    port, clock, hold, held = sunspec_device
    db = tmp_path / "collect.sqlite"
    _site(
        db,
        name="house-meter",
        kind="modbus_tcp",
        format="sunspec-meter",
        address=f"127.0.0.1:{port}",
        settings={"unit_id": 1, "poll_offset_s": 0, "timeout_s": 5.0, "attempts": 1},
        channels=[
            {"device": "1", "channel": "import", "meter": "HOUSE-1", "unit": "Wh", "max_apportion_s": 14400}
        ],
    )
    # the clock starts once the site is stored, with time for the collector's start: on a loaded
    # machine it missed T0's poll, and the first interval stored was a later one (about 1 run in 3)
    clock.anchor(START_LEAD_S)
    first = _collect(db, clock)
    try:
        _wait_sim(clock, T0_S + 4 * 900 + 300)  # polls of 00:00 .. 01:00 taken
        hold.set()
        assert held.wait(10), "no poll reached the device"
        first.send_signal(signal.SIGKILL)  # during the poll of 01:15
        hold.clear()
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate(timeout=10)
    assert first.returncode == -signal.SIGKILL
    second = _collect(db, clock)
    try:
        _wait_sim(clock, T0_S + 12 * 900 + 300)
    finally:
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=30)
    assert second.returncode == 0, err.decode()
    stored, marks = _intervals(db, "HOUSE-1")
    ends = sorted(stored)
    # none missing from the first stored to the last, none twice (_intervals)
    assert ends == list(range(ends[0], ends[-1] + 900, 900)), ends
    assert ends[0] <= T0_S + 900
    assert ends[-1] >= T0_S + 11 * 900
    wrong = [(e, stored[e], truth(e)) for e in ends if e not in marks and stored[e] != truth(e)]
    assert not wrong
    # the killed poll, and those the restart missed, are apportioned between the readings around them:
    # marked, and together exactly what the register moved
    assert marks, "the killed poll left no apportioned interval"
    assert sum(stored[e] for e in marks) == sum(truth(e) for e in marks)


# --------------------------------------------------------------------------------------------------------
# An MQTT burst

COUNTERS = ("unit1a", "unit1b", "unit2a", "unit2b")


def pulses_in_minute(counter: int, minute: int) -> int:
    """Pulses of output "10" (10 Wh each, manual §3.2) counter ``counter`` counts in minute ``minute``."""
    return (3 * counter + 7 * minute) % 11


def tasmota_message(counter: int, minute: int) -> tuple[str, bytes]:
    """A Tasmota telemetry message as its documentation shows one (``tele/<topic>/SENSOR`` with ``Time``
    and ``COUNTER``; SetOption52 1 adds the zone offset to ``Time``,
    https://tasmota.github.io/docs/Commands/#setoption52), read at the end of ``minute``."""
    count = sum(pulses_in_minute(counter, m) for m in range(minute + 1))
    at = T0 + timedelta(minutes=minute + 1)
    body = {"Time": at.strftime("%Y-%m-%dT%H:%M:%S+00:00"), "COUNTER": {"C1": count}}
    return f"tele/{COUNTERS[counter]}/SENSOR", json.dumps(body).encode()


def burst_truth(counter: int, end_s: int) -> int:
    """Energy of the interval ending ``end_s`` for a counter: its pulses x 10 Wh. [Wh]"""
    first = (end_s - 900 - T0_S) // 60
    return 10 * sum(pulses_in_minute(counter, m) for m in range(first, first + 15))


def _wait_line(process: subprocess.Popen[bytes], text: str, timeout_s: float = 30.0) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline().decode()
        if text in line:
            return
        if not line and process.poll() is not None:
            raise AssertionError(
                f"collect ended before {text!r}: {process.stderr.read().decode() if process.stderr else ''}"
            )
    raise AssertionError(f"collect did not print {text!r} within {timeout_s} s")


def _positions(db: Path) -> list[int]:
    with Store(f"sqlite:///{db}") as store:
        return [int(c.state["at_ms"]) if c.state else 0 for c in store.source_channels()]


@pytest.mark.mqtt
def test_killed_during_an_mqtt_burst_loses_and_doubles_nothing(tmp_path: Path, mqtt_url: str) -> None:
    db = tmp_path / "collect.sqlite"
    host, port, _, _, _ = parse_mqtt_url(mqtt_url)
    run = os.urandom(4).hex()  # this run's device names, so that parallel runs share no topic
    names = [f"{c}-{run}" for c in COUNTERS]
    with Store(f"sqlite:///{db}") as store:
        site = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
        for c in COUNTERS:
            store.create_meter(
                serial=f"MM-{c}", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id
            )
        add_source(
            store,
            site_id=site.id,
            name="tasmota",
            kind="mqtt",
            format="tasmota_counter",
            address=mqtt_url,
            channels=[
                {"device": names[k], "channel": "C1", "meter": f"MM-{c}", "unit": "pulse", "wh_per_unit": 10}
                for k, c in enumerate(COUNTERS)
            ],
        )
    messages = []
    for minute in range(180):
        for k in range(len(COUNTERS)):
            topic, body = tasmota_message(k, minute)
            messages.append((topic.replace(COUNTERS[k], names[k]), body))
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"burst-{run}")
    publisher.connect(host, port)
    publisher.loop_start()
    first = _collect(db, SimClock())
    try:
        _wait_line(first, "collecting from 1 source")
        for topic, body in messages[:500]:
            publisher.publish(topic, body, qos=1)
        deadline = time.monotonic() + 30
        while max(_positions(db)) < int((T0 + timedelta(minutes=40)).timestamp() * 1000):
            assert time.monotonic() < deadline, "the collector took nothing"
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)  # amid the burst: messages received, some stored, some not
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate(timeout=10)
    for topic, body in messages[500:]:  # published while the collector is down: kept by its session
        publisher.publish(topic, body, qos=1).wait_for_publish(5)
    second = _collect(db, SimClock())
    try:
        _wait_line(second, "collecting from 1 source")
        last = int((T0 + timedelta(minutes=180)).timestamp() * 1000)
        deadline = time.monotonic() + 60
        while min(_positions(db)) < last:
            assert time.monotonic() < deadline, f"positions {_positions(db)} short of {last}"
            time.sleep(0.05)
    finally:
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=30)
        publisher.loop_stop()
        publisher.disconnect()
    assert second.returncode == 0, err.decode()
    for k, c in enumerate(COUNTERS):
        stored, marks = _intervals(db, f"MM-{c}")
        # readings every minute on the minute: every boundary is read exactly, so every interval is measured,
        # equal to the pulses counted; the first reading is 00:01, so the first interval is (00:15, 00:30]
        assert sorted(stored) == [T0_S + 900 * n for n in range(2, 13)], c
        assert marks == set()
        assert {e: stored[e] for e in stored} == {e: burst_truth(k, e) for e in stored}, c
