"""The collector under a site's load (issue 14): MQTT pulse counters and Modbus meters, one process.

Run from the repository root with the package installed::

    python benchmarks/collect.py                         # 1,000 counters, 100 devices, 1 simulated h at 12x
    python benchmarks/collect.py --counters 20 --devices 3 --hours 1 --scale 600
    python benchmarks/collect.py --json
    python benchmarks/run.py --collect-counters 1000     # the same section among the other benchmarks

What runs (SQLite in a temporary directory; the MQTT broker of ``MESHMETER_TEST_MQTT_URL``, default
``mqtt://127.0.0.1:1883``; nothing but loopback is contacted):

* **Collector**: ``python -m meshmeter collect --site Bench --database sqlite:///...``, its own process, on a
  simulated clock (``MESHMETER_COLLECT_CLOCK``) ``--scale`` times as fast as the real one. Its CPU time is
  read from ``/proc/<pid>/stat`` (utime + stime, every thread) at the start and at the end of the span.
* **Counters**: one ``mqtt`` source of format ``tasmota_counter`` with ``--counters`` channels (10 Wh a
  pulse, one meter each). A paho client publishes, for every simulated minute, one Tasmota telemetry message
  a counter, ``tele/<topic>/SENSOR`` ``{"Time": "...+00:00", "COUNTER": {"C1": n}}`` (Tasmota's documented
  telemetry, ``SetOption52 1`` for the zone offset), QoS 1, as soon as the simulated clock passes that
  minute. The collector's subscription is QoS 1 with a persistent session; it acknowledges a message once
  what it made is stored. Mosquitto keeps at most 1,000 QoS 1 messages queued for a client (its default
  ``max_queued_messages``) and drops the rest, so the publisher holds back while more than
  :data:`MAX_BACKLOG` of its messages are not yet stored (read from ``sources.readings``): when the
  collector is slower than the clock, the stream runs late instead of losing messages, and the figure is
  what it sustains.
* **Devices**: ``--devices`` SunSpec model 203 meters (``sunspec-meter`` map: "SunS", model 1, model 203
  with TotWhExp, TotWhImp and TotWh_SF) on pymodbus's own TCP servers on 127.0.0.1, :data:`UNITS_PER_SERVER`
  unit IDs a server, run in this process's threads. Each device's import register follows the simulated
  clock (a fixed rate a minute, stepping each whole minute); its export register stays put. One
  ``modbus_tcp`` source a device, ``poll_every_s = 60``, both registers mapped (import and export, a meter
  each: an unmapped register would be refused as ``unknown_device``).
* **Baseline**, in the same run and before the collector: a plain paho subscriber in its own process (the
  same QoS 1 subscription, a persistent session, acknowledging on receipt) receiving the same messages
  published as fast as the publisher goes, doing nothing with them: messages per second from its first
  message to its last. At most :data:`BASELINE_MAX_MESSAGES` of the stream (its first minutes).

Figures: readings stored per second of wall time over the run (``sources.readings`` at the end minus at the
start of the span, MQTT and Modbus), the collector's CPU seconds and share of one core, the baseline's
messages per second, the ratio baseline rate / collector rate (how many times the plain receiving is
faster), the intervals stored, every refusal by reason (must be none), and the intervals checked: every
meter has every interval from the second of the span to its end, each equal to what its counter or
register moved.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from meshmeter.collect.collector import CLOCK_ENV, Collector
from meshmeter.collect.runner import CollectorRunner
from meshmeter.headend.mqtt import parse_mqtt_url
from meshmeter.services.sources import add_source
from meshmeter.store import Store

__all__ = [
    "COLLECT_HOURS",
    "COLLECT_SCALE",
    "CollectResult",
    "bench_collect",
    "format_collect",
    "main",
    "mqtt_broker",
]

COLLECT_HOURS = 1.0
"""Default simulated span: an hour, not a day. A day of 1,000 counters is 1.44 M messages, about two hours
of the collector's time on the project's 2-core machine (about 190 readings/s); ``--hours 24`` runs it. [h]"""
COLLECT_SCALE = 12.0
"""Default simulated seconds per real second: the clock then offers 1,000 counters and 100 devices at about
the rate the collector sustains (240 readings/s)."""
MQTT_ENV = "MESHMETER_TEST_MQTT_URL"
DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"

T0 = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
"""Start of the simulated span."""
T0_S = int(T0.timestamp())
INTERVAL_S = 900
"""The meters' interval (the store's default). [s]"""
MAX_BACKLOG = 600
"""Messages published and not yet stored above which the publisher waits (under Mosquitto's 1,000)."""
BASELINE_MAX_MESSAGES = 120_000
"""The baseline receives at most this many messages (whole minutes of the stream)."""
UNITS_PER_SERVER = 25
"""Modbus unit IDs on each pymodbus server."""
WH_PER_PULSE = 10
"""The counters' pulse weight (output "10" of the Mini Meter). [Wh]"""
SUNSPEC_BASE = 40000
TOT_WH_EXP = SUNSPEC_BASE + 2 + 68 + 38
"""TotWhExp of model 203 (offset 38 from its ID register, after "SunS" and model 1)."""
TOT_WH_IMP = SUNSPEC_BASE + 2 + 68 + 46
"""TotWhImp of model 203 (offset 46)."""
REGISTER_START_WH = 1_000_000
EXPORT_WH = 5_000


def pulses(counter: int, minute: int) -> int:
    """Pulses counter ``counter`` counts in minute ``minute`` of the span (0..10: up to 6 kW)."""
    return (3 * counter + 7 * minute) % 11


def device_rate_wh_per_min(d: int) -> int:
    """Device ``d``'s import a minute: 30 to 150 Wh (1.8 to 9 kW). [Wh]"""
    return 30 * (1 + d % 5)


def import_wh(d: int, t_s: float) -> int:
    """Device ``d``'s import register at simulated time ``t_s``, stepping each whole minute. [Wh]"""
    return REGISTER_START_WH + max(0, int((t_s - T0_S) // 60)) * device_rate_wh_per_min(d)


def _u32(value: int) -> list[int]:
    high, low = divmod(value & 0xFFFF_FFFF, 0x10000)
    return [high, low]


def _text(text: str, count: int) -> list[int]:
    raw = text.encode().ljust(count * 2, b"\0")
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, count * 2, 2)]


def sunspec_words(imp_wh: int, exp_wh: int) -> list[int]:
    """A SunSpec map from its marker (github.com/sunspec/models model_1.json, model_203.json): "SunS",
    model 1 (L = 66), model 203 (L = 105) with TotWhExp (38), TotWhImp (46), TotWh_SF = 0 (54), end."""
    common = [1, 66, *_text("meshmeter", 16), *_text("bench", 16), *_text("", 8)]
    common += [*_text("1.0", 8), *_text("BENCH", 16), 1, 0x8000]
    meter = [0] * 107
    meter[0], meter[1] = 203, 105
    meter[38:40] = _u32(exp_wh)
    meter[46:48] = _u32(imp_wh)
    return [0x5375, 0x6E53, *common, *meter, 0xFFFF, 0]


class SimClock:
    """The simulated clock the collector runs on: ``T0 - lead_s`` at ``real_anchor``, ``scale`` fast."""

    def __init__(self, scale: float, start_in_s: float, lead_s: float) -> None:
        self.scale = scale
        self.real_anchor = time.time() + start_in_s
        self.sim_anchor = T0_S - lead_s
        self.env = f"{self.real_anchor},{self.sim_anchor},{scale}"

    def now_s(self) -> float:
        return self.sim_anchor + (time.time() - self.real_anchor) * self.scale

    def real_at(self, t_s: float) -> float:
        return self.real_anchor + (t_s - self.sim_anchor) / self.scale

    def wait_until(self, t_s: float) -> None:
        time.sleep(max(0.0, self.real_at(t_s) - time.time()))


# --------------------------------------------------------------------------------------------------------
# pymodbus servers


class ModbusServers:
    """``devices`` SunSpec meters on pymodbus TCP servers on 127.0.0.1, in one asyncio thread."""

    def __init__(self, devices: int, clock: SimClock) -> None:
        self.ports: list[int] = []
        self.where: list[tuple[int, int]] = []  # (port, unit id) of each device
        self._clock = clock
        self._servers: list[ModbusTcpServer] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        groups = [
            list(range(k, min(k + UNITS_PER_SERVER, devices))) for k in range(0, devices, UNITS_PER_SERVER)
        ]
        for group in groups:
            port = _free_port()
            self.ports.append(port)
            self.where += [(port, 1 + j) for j in range(len(group))]
        self._groups = groups
        self._thread = threading.Thread(target=self._run, daemon=True, name="bench-modbus")
        self._thread.start()
        if not self._ready.wait(20):
            raise RuntimeError("the pymodbus servers did not start")
        if self._error is not None:
            raise self._error
        for port in self.ports:
            _wait_listening(port)

    def _device(self, d: int, unit_id: int) -> SimDevice:
        async def follow(
            function: int, start: int, address: int, count: int, registers: list[int], values: object
        ) -> None:
            if start <= TOT_WH_IMP < start + len(registers) - 1:
                at = TOT_WH_IMP - start
                registers[at : at + 2] = _u32(import_wh(d, self._clock.now_s()))

        bits = [SimData(0, count=1, values=False, datatype=DataType.BITS)]
        holding = [
            SimData(
                SUNSPEC_BASE, values=sunspec_words(import_wh(d, T0_S), EXPORT_WH), datatype=DataType.REGISTERS
            )
        ]
        inputs = [SimData(60000, values=[0], datatype=DataType.REGISTERS)]
        return SimDevice(unit_id, simdata=(bits, list(bits), holding, inputs), action=follow)

    def _run(self) -> None:
        async def main() -> None:
            try:
                self._loop = asyncio.get_running_loop()
                tasks = []
                for port, group in zip(self.ports, self._groups, strict=True):
                    devices = [self._device(d, 1 + j) for j, d in enumerate(group)]
                    server = ModbusTcpServer(devices, address=("127.0.0.1", port))
                    self._servers.append(server)
                    tasks.append(asyncio.create_task(server.serve_forever()))
            except BaseException as error:
                self._error = error
                self._ready.set()
                return
            self._ready.set()
            with suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks)

        asyncio.run(main())

    def stop(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            for server in self._servers:
                stopping = server.shutdown()  # type: ignore[no-untyped-call]
                asyncio.run_coroutine_threadsafe(stopping, self._loop).result(10)
        self._thread.join(10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


# --------------------------------------------------------------------------------------------------------
# MQTT stream


def mqtt_broker() -> tuple[str | None, str]:
    """The MQTT broker to use (``MESHMETER_TEST_MQTT_URL``, else the local default), and why none when it
    does not answer."""
    url = os.environ.get(MQTT_ENV) or DEFAULT_MQTT_URL
    host, port, _, _, _ = parse_mqtt_url(url)
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as error:
        return None, f"no MQTT broker answers at {url} ({MQTT_ENV}): {error}"
    return url, ""


def _topic(run: str, k: int) -> str:
    return f"tele/bench-{run}-{k}/SENSOR"


def minute_messages(run: str, counters: int, minute: int, counts: list[int]) -> list[tuple[str, bytes]]:
    """Every counter's Tasmota telemetry at the end of ``minute`` (``counts`` advanced in place)."""
    stamp = (T0 + timedelta(minutes=minute + 1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    out = []
    for k in range(counters):
        counts[k] += pulses(k, minute)
        body = '{"Time":"%s","COUNTER":{"C1":%d}}' % (stamp, counts[k])  # noqa: UP031 (as Tasmota writes it)
        out.append((_topic(run, k), body.encode()))
    return out


def _publisher(host: str, port: int, client_id: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.max_inflight_messages_set(100)
    client.connect(host, port)
    client.loop_start()
    return client


def _cpu_s(pid: int) -> float:
    """A process's user + system CPU time, every thread. [s]"""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _baseline_subscriber(
    host: str, port: int, client_id: str, topics: list[str], expected: int, received: Any, out: Any
) -> None:
    """A plain paho subscriber (its own process): QoS 1, one filter a device as the collector's, persistent
    session; counts (in ``received``, shared with the publisher) and does nothing else."""
    state = {"first": 0.0, "last": 0.0}
    done = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        n = received.value + 1
        if n == 1:
            state["first"] = now
        received.value = n
        state["last"] = now
        if n >= expected:
            done.set()

    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_connect = lambda c, *a: c.subscribe([(t, 1) for t in topics])
    client.connect(host, port)
    client.loop_start()
    if not subscribed.wait(20):
        out.put(("not subscribed", 0.0, 0.0))
        return
    out.put(("ready", 0.0, 0.0))
    seen = -1
    while not done.wait(5.0) and received.value != seen:  # stop when all came, or none for 5 s
        seen = received.value
    out.put(("done", state["last"] - state["first"], _cpu_s(os.getpid())))
    client.loop_stop()
    client.disconnect()


@dataclass(slots=True)
class Baseline:
    messages: int
    received: int
    seconds: float
    per_s: float
    cpu_s: float


def bench_baseline(host: str, port: int, run: str, counters: int, minutes: int) -> Baseline:
    """The same stream's first ``minutes`` to a plain paho subscriber in its own process, published as fast
    as it goes with the collector's flow control (at most :data:`MAX_BACKLOG` messages not yet received)."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    received = ctx.Value("q", 0, lock=False)
    expected = counters * minutes
    client_id = f"bench-plain-{run}"
    proc = ctx.Process(
        target=_baseline_subscriber,
        args=(host, port, client_id, [_topic(run, k) for k in range(counters)], expected, received, out),
    )
    proc.start()
    try:
        kind, *_ = out.get(timeout=60)
        if kind != "ready":
            raise RuntimeError(f"the baseline subscriber: {kind}")
        publisher = _publisher(host, port, f"bench-pub-plain-{run}")
        try:
            counts = [0] * counters
            published = 0
            for minute in range(minutes):
                batch = minute_messages(run, counters, minute, counts)
                for j in range(0, len(batch), 100):
                    while published - received.value > MAX_BACKLOG:
                        time.sleep(0.001)
                    for topic, body in batch[j : j + 100]:
                        publisher.publish(topic, body, qos=1)
                    published += len(batch[j : j + 100])
            kind, seconds, cpu_s = out.get(timeout=600)
        finally:
            publisher.loop_stop()
            publisher.disconnect()
    finally:
        proc.join(30)
        if proc.is_alive():
            proc.kill()
    _drop_session(host, port, client_id)
    n = int(received.value)
    return Baseline(expected, n, seconds, (n - 1) / seconds if seconds > 0 else 0.0, cpu_s)


def _drop_session(host: str, port: int, client_id: str) -> None:
    """End a persistent session on the broker (connect once with a clean session)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.connect(host, port)
    client.loop_start()
    time.sleep(0.2)
    client.loop_stop()
    client.disconnect()


# --------------------------------------------------------------------------------------------------------
# The run


@dataclass(slots=True)
class CollectResult:
    """The collector benchmark's figures (see the module)."""

    counters: int
    devices: int
    modbus_servers: int
    hours: float
    scale: float
    messages: int
    offered_per_s: float
    wall_s: float
    readings: int
    mqtt_readings: int
    modbus_readings: int
    readings_per_s: float
    mqtt_readings_per_s: float
    cpu_s: float
    cpu_share: float
    publisher_waited_s: float
    lag_end_s: float
    baseline_messages: int
    baseline_received: int
    baseline_per_s: float
    baseline_cpu_s: float
    ratio: float
    intervals_stored: int
    intervals_expected: int
    intervals_missing: int
    intervals_wrong: int
    intervals_apportioned: int
    rejected: dict[str, int] = field(default_factory=dict)
    last_errors: list[str] = field(default_factory=list)
    verdict: str = "-"
    """PASS when every interval is stored and right, nothing refused and the baseline got every message."""


class _NoServers:
    def __init__(self) -> None:
        self.where: list[tuple[int, int]] = []
        self.ports: list[int] = []


def _source_readings(db: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as c:
        return {name: int(n) for name, n in c.execute("SELECT name, readings FROM sources")}


def _setup(db: Path, run: str, counters: int, servers: ModbusServers | _NoServers, mqtt_url: str) -> None:
    with Store(f"sqlite:///{db}") as store:
        site = store.create_site(name="Bench", timezone="UTC")
        for k in range(counters):
            store.create_meter(
                serial=f"PC-{k}", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id
            )
        add_source(
            store,
            site_id=site.id,
            name="counters",
            kind="mqtt",
            format="tasmota_counter",
            address=mqtt_url,
            channels=[
                {
                    "device": f"bench-{run}-{k}",
                    "channel": "C1",
                    "meter": f"PC-{k}",
                    "unit": "pulse",
                    "wh_per_unit": WH_PER_PULSE,
                }
                for k in range(counters)
            ],
        )
        for d, (port, unit_id) in enumerate(servers.where):
            for side in ("IMP", "EXP"):
                store.create_meter(
                    serial=f"MB-{d}-{side}", designation="SunSpec 203 meter", ct_ratio=2000, site_id=site.id
                )
            add_source(
                store,
                site_id=site.id,
                name=f"modbus-{d}",
                kind="modbus_tcp",
                format="sunspec-meter",
                address=f"127.0.0.1:{port}",
                settings={"unit_id": unit_id, "poll_every_s": 60, "timeout_s": 5.0},
                channels=[
                    {"device": str(unit_id), "channel": "import", "meter": f"MB-{d}-IMP", "unit": "Wh"},
                    {"device": str(unit_id), "channel": "export", "meter": f"MB-{d}-EXP", "unit": "Wh"},
                ],
            )


def _check(
    db: Path, counters: int, devices: int, hours: float
) -> tuple[int, int, int, int, int, dict[str, int], list[str]]:
    """(stored, expected, missing, wrong, apportioned) intervals over the span after its first, refusals,
    errors.

    An interval measured (both its ends read within ``EXACT_WITHIN_S``) must be the truth; a run of
    apportioned intervals (a poll that landed late: its boundary is the straight line between the readings
    around it) must sum to the truth of the run, unless it reaches the span's last interval."""
    end_s = T0_S + round(hours * 3600)
    wanted = list(range(T0_S + 2 * INTERVAL_S, end_s + 1, INTERVAL_S))
    stored = expected = missing = wrong = apportioned = 0
    lo, hi = T0 + timedelta(seconds=INTERVAL_S), datetime.fromtimestamp(end_s, UTC)
    with Store(f"sqlite:///{db}") as store:
        truths: list[tuple[str, dict[int, int]]] = []
        for k in range(counters):
            truth = {
                e: WH_PER_PULSE * sum(pulses(k, m) for m in range((e - T0_S) // 60 - 15, (e - T0_S) // 60))
                for e in wanted
            }
            truths.append((f"PC-{k}", truth))
        for d in range(devices):
            truths.append((f"MB-{d}-IMP", dict.fromkeys(wanted, 15 * device_rate_wh_per_min(d))))
            truths.append((f"MB-{d}-EXP", dict.fromkeys(wanted, 0)))
        for serial, truth in truths:
            meter = store.get_meter(serial=serial)
            assert meter is not None
            rows = {
                int(r.interval_end.timestamp()): r.energy_wh
                for r in store.raw_intervals(meter_id=meter.id, start=lo, end=hi)
            }
            marks = store.apportioned_ends(meter_id=meter.id, start=T0, end=hi)
            stored += len(rows)
            expected += len(truth)
            apportioned += sum(1 for e in marks if e in truth)
            missing += sum(1 for e in truth if e not in rows)
            wrong += sum(1 for e, wh in truth.items() if e in rows and e not in marks and rows[e] != wh)
            run: list[int] = []
            for e in [*wanted, end_s + INTERVAL_S]:
                if e in marks and e in rows:
                    run.append(e)
                    continue
                bounded = e <= end_s and (run[:1] != wanted[:1] or wanted[0] - INTERVAL_S not in marks)
                if run and bounded and sum(rows[r] for r in run) != sum(truth[r] for r in run):
                    wrong += 1
                run = []
        rejected: dict[str, int] = {}
        errors = []
        for source in store.sources():
            for reason, n in source.rejected.items():
                rejected[reason] = rejected.get(reason, 0) + n
            if source.last_error:
                errors.append(f"{source.name}: {source.last_error}")
    return stored, expected, missing, wrong, apportioned, rejected, errors[:5]


@contextmanager
def _collector(db: Path, clock: SimClock) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, CLOCK_ENV: clock.env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshmeter", "collect", "--site", "Bench", "--database", f"sqlite:///{db}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            if "collecting from" in line:
                break
            if not line and proc.poll() is not None:
                raise RuntimeError(
                    f"meshmeter collect ended: {proc.stderr.read().decode() if proc.stderr else ''}"
                )
        else:
            raise RuntimeError("meshmeter collect did not start within 60 s")
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if proc.returncode not in (0, -signal.SIGTERM):
            raise RuntimeError(f"meshmeter collect exited {proc.returncode}: {err.decode()[-2000:]}")


def bench_collect(
    counters: int, devices: int, hours: float, scale: float, mqtt_url: str | None = None
) -> CollectResult:
    """Run the collector benchmark (see the module): ``counters`` MQTT counters, ``devices`` Modbus meters,
    ``hours`` simulated hours at ``scale`` simulated seconds per real second."""
    if counters < 1 or devices < 0 or hours <= 0.5 or scale <= 0:
        raise ValueError(
            "need counters >= 1, devices >= 0, hours > 0.5, scale > 0; "
            f"got {counters}, {devices}, {hours}, {scale}"
        )
    url = mqtt_url or os.environ.get(MQTT_ENV) or DEFAULT_MQTT_URL
    host, port, _, _, _ = parse_mqtt_url(url)
    run = os.urandom(4).hex()
    minutes = round(hours * 60)
    baseline_minutes = max(1, min(minutes, BASELINE_MAX_MESSAGES // counters))
    baseline = bench_baseline(host, port, run, counters, baseline_minutes)
    with tempfile.TemporaryDirectory(prefix="meshmeter-bench-collect-") as tmp:
        db = Path(tmp) / "collect.sqlite"
        # the collector starts a few real seconds before the clock reaches T0 - 1 min (polls before T0 read
        # the register's starting value)
        clock = SimClock(scale, start_in_s=0.0, lead_s=60.0)
        servers = ModbusServers(devices, clock) if devices else None
        try:
            _setup(db, run, counters, servers or _NoServers(), url)
            clock = SimClock(scale, start_in_s=5.0, lead_s=60.0)
            if servers is not None:
                servers._clock = clock
            with _collector(db, clock) as proc:
                publisher = _publisher(host, port, f"bench-pub-{run}")
                try:
                    clock.wait_until(T0_S)
                    started = time.perf_counter()
                    cpu0 = _cpu_s(proc.pid)
                    before = _source_readings(db)
                    counts = [0] * counters
                    published, waited = 0, 0.0
                    for minute in range(minutes):
                        clock.wait_until(T0_S + (minute + 1) * 60 + 0.5)
                        batch = minute_messages(run, counters, minute, counts)
                        for j in range(0, len(batch), 100):
                            t = time.perf_counter()
                            while (
                                published - (_source_readings(db)["counters"] - before["counters"])
                                > MAX_BACKLOG
                            ):
                                time.sleep(0.01)
                            waited += time.perf_counter() - t
                            for topic, body in batch[j : j + 100]:
                                publisher.publish(topic, body, qos=1)
                            published += len(batch[j : j + 100])
                    end_s = T0_S + minutes * 60
                    lag_end_s = max(0.0, clock.now_s() - end_s - 0.5)
                    # every message stored, and the clock past the last poll of the span
                    deadline = time.monotonic() + 600
                    while _source_readings(db)["counters"] - before["counters"] < published:
                        if time.monotonic() > deadline or proc.poll() is not None:
                            break
                        time.sleep(0.01)
                    clock.wait_until(end_s + 5)
                    wall_s = time.perf_counter() - started
                    cpu_s = _cpu_s(proc.pid) - cpu0
                    after = _source_readings(db)
                finally:
                    publisher.loop_stop()
                    publisher.disconnect()
        finally:
            if servers is not None:
                servers.stop()
        stored, expected, missing, wrong, apportioned, rejected, errors = _check(db, counters, devices, hours)
        with Store(f"sqlite:///{db}") as store:  # end the collector's persistent session on the broker
            site = store.sources()[0].site_id
            client_id = CollectorRunner(Collector(store, site_id=site)).broker_client_id(url)
        _drop_session(host, port, client_id)
    mqtt_n = after["counters"] - before["counters"]
    total = sum(after.values()) - sum(before.values())
    rate = total / wall_s
    return CollectResult(
        counters=counters,
        devices=devices,
        modbus_servers=0 if servers is None else len(servers.ports),
        hours=minutes / 60,
        scale=scale,
        messages=published,
        offered_per_s=(counters + 2 * devices) * scale / 60,
        wall_s=wall_s,
        readings=total,
        mqtt_readings=mqtt_n,
        modbus_readings=total - mqtt_n,
        readings_per_s=rate,
        mqtt_readings_per_s=mqtt_n / wall_s,
        cpu_s=cpu_s,
        cpu_share=cpu_s / wall_s,
        publisher_waited_s=waited,
        lag_end_s=lag_end_s / scale,
        baseline_messages=baseline.messages,
        baseline_received=baseline.received,
        baseline_per_s=baseline.per_s,
        baseline_cpu_s=baseline.cpu_s,
        ratio=baseline.per_s / rate if rate > 0 else float("inf"),
        intervals_stored=stored,
        intervals_expected=expected,
        intervals_missing=missing,
        intervals_wrong=wrong,
        intervals_apportioned=apportioned,
        rejected=rejected,
        last_errors=errors,
        verdict="PASS"
        if missing == wrong == 0 and not sum(rejected.values()) and baseline.received == baseline.messages
        else "MISS",
    )


def format_collect(r: CollectResult) -> str:
    """The section as text."""
    lines = [
        f"collector: {r.counters} MQTT counters (Tasmota, 1 a minute) + {r.devices} Modbus TCP devices "
        f"(SunSpec 203 on {r.modbus_servers} pymodbus servers, polled each minute, import and export), "
        f"{r.hours:g} simulated h at {r.scale:g}x, one `meshmeter collect` process",
        f"  offered by the clock   {r.offered_per_s:12,.0f} readings/s",
        f"  collector              {r.readings_per_s:12,.0f} readings/s sustained "
        f"({r.readings:,} readings in {r.wall_s:.1f} s: "
        f"{r.mqtt_readings:,} MQTT, {r.modbus_readings:,} Modbus)",
        f"  collector CPU          {r.cpu_s:12.1f} s ({100 * r.cpu_share:.0f} % of one core)",
        f"  publisher held back    {r.publisher_waited_s:12.1f} s "
        f"(stream late by {r.lag_end_s:.1f} s real at its end)",
        f"  baseline: plain paho   {r.baseline_per_s:12,.0f} messages/s ({r.baseline_received:,} of "
        f"{r.baseline_messages:,} received, CPU {r.baseline_cpu_s:.1f} s)",
        f"  ratio baseline/collector {r.ratio:10.1f}",
        f"  intervals stored {r.intervals_stored:,} of {r.intervals_expected:,} expected: "
        f"{r.intervals_missing} missing, {r.intervals_wrong} wrong, "
        f"{r.intervals_apportioned} apportioned (a poll late by more than 5 simulated s)",
        f"  refusals: {sum(r.rejected.values())} {dict(r.rejected) if r.rejected else ''}".rstrip(),
        f"  complete, right and nothing refused: {r.verdict}",
    ]
    lines += [f"  last error: {e}" for e in r.last_errors]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--counters", type=int, default=1000)
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--hours", type=float, default=COLLECT_HOURS)
    parser.add_argument("--scale", type=float, default=COLLECT_SCALE)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = bench_collect(args.counters, args.devices, args.hours, args.scale)
    print(json.dumps(asdict(result), indent=2) if args.json else format_collect(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
