"""The collector's workers: one per broker, one per polled device, one per rtlamr stream.

``docs/collect.md`` says how they run.

:class:`CollectorRunner` starts them over a :class:`~meshmeter.collect.collector.Collector`, watches each
source's silence (a communication-loss alert per source, cleared when it is heard again), and stops them.
"""

from __future__ import annotations

import hashlib
import secrets
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from meshmeter.collect import modbus, pulse, rtlamr
from meshmeter.collect.collector import Collector
from meshmeter.collect.readings import Reading, Rejection
from meshmeter.errors import DeviceError, MeshmeterError, PayloadError
from meshmeter.headend.alerts import check_source_communication
from meshmeter.headend.mqtt import parse_mqtt_url
from meshmeter.store import Source

__all__ = [
    "DEFAULT_COMM_LOSS_S",
    "CollectorRunner",
    "check_source",
    "comm_loss_after_s",
    "source_problems",
]

DEFAULT_COMM_LOSS_S = 1800
"""A source silent this long (two of the Mini Meter's 15-minute intervals) raises its communication-loss
alert, unless its settings say ``comm_loss_after_s``. [s]"""


def comm_loss_after_s(source: Source) -> float:
    """The silence after which a source is lost: its ``comm_loss_after_s``, else :data:`DEFAULT_COMM_LOSS_S`.
    [s]"""
    return float(source.settings.get("comm_loss_after_s", DEFAULT_COMM_LOSS_S))


RTLAMR2MQTT = "rtlamr2mqtt"
"""The format of an ``mqtt`` source fed by rtlamr2mqtt."""

RTLAMR2MQTT_BASE = "rtlamr"
"""rtlamr2mqtt's default ``mqtt.base_topic``: readings on ``rtlamr/<meter_id>/state``."""

MODBUS_KINDS = ("modbus_tcp", "modbus_rtu")


def source_problems(kind: str, format: str, address: str, settings: dict[str, Any]) -> list[str]:
    """
    What is wrong with a source's kind, format, address and settings: every problem, in words.

    ``mqtt``: a pulse-counter format (:data:`meshmeter.collect.pulse.PULSE_FORMATS`) or ``rtlamr2mqtt``,
    a broker URL; ``modbus_tcp``: a register map (:func:`meshmeter.collect.modbus.available_maps` or a
    file), ``host:port``, ``unit_id`` 0..255; ``modbus_rtu``: a map, a serial port, ``unit_id`` 1..247,
    ``baudrate``, ``parity``; ``rtlamr``: format ``rtlamr``, address ``-`` (standard input) or a file.
    """
    problems: list[str] = []
    if kind == "mqtt":
        if format != RTLAMR2MQTT:
            try:
                pulse.check_format(format)
            except ValueError as error:
                problems.append(f"format: {error} (or {RTLAMR2MQTT!r})")
        try:
            parse_mqtt_url(address)
        except ValueError as error:
            problems.append(f"address: {error}")
    elif kind in MODBUS_KINDS:
        try:
            modbus.load_map(format)
        except (ValueError, OSError) as error:
            problems.append(f"format: {error}")
        try:
            _link(kind, address, settings)
        except ValueError as error:
            problems.append(f"address: {error}")
        unit_id = settings.get("unit_id", 1)
        high, low = (255, 0) if kind == "modbus_tcp" else (247, 1)
        if isinstance(unit_id, bool) or not isinstance(unit_id, int) or not low <= unit_id <= high:
            problems.append(f"settings.unit_id must be {low}..{high}, got {unit_id!r}")
        every_s = settings.get("poll_every_s")
        if every_s is not None and (
            isinstance(every_s, bool) or not isinstance(every_s, int) or every_s <= 0
        ):
            problems.append(
                f"settings.poll_every_s must be whole seconds dividing the interval, got {every_s!r}"
            )
    elif kind == "rtlamr":
        if format != "rtlamr":
            problems.append(f"format of an rtlamr source must be 'rtlamr', got {format!r}")
        if address != "-" and not address.strip():
            problems.append("address must be '-' (standard input) or a file")
    else:
        problems.append(f"kind must be one of mqtt, modbus_tcp, modbus_rtu, rtlamr, got {kind!r}")
    after = settings.get("comm_loss_after_s")
    if after is not None and (isinstance(after, bool) or not isinstance(after, int | float) or after <= 0):
        problems.append(f"settings.comm_loss_after_s must be a positive number of seconds, got {after!r}")
    return problems


def check_source(kind: str, format: str, address: str, settings: dict[str, Any]) -> None:
    """:func:`source_problems`, raised: ``ValueError`` naming every problem."""
    problems = source_problems(kind, format, address, settings)
    if problems:
        raise ValueError("; ".join(problems))


def _link(kind: str, address: str, settings: dict[str, Any]) -> modbus.TcpLink | modbus.SerialLink:
    if kind == "modbus_tcp":
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"a Modbus TCP address is host:port, got {address!r}")
        return modbus.TcpLink(host, int(port))
    return modbus.SerialLink(
        address,
        baudrate=int(settings.get("baudrate", 9600)),
        parity=str(settings.get("parity", "N")),
        stopbits=int(settings.get("stopbits", 1)),
    )


def _now_utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class _MqttWorker:
    """One broker: every ``mqtt`` source on it, each message acknowledged once what it made is stored."""

    def __init__(self, runner: CollectorRunner, url: str, sources: list[Source], client_id: str) -> None:
        self.runner = runner
        self.url = url
        self.sources = sources
        host, port, tls, username, password = parse_mqtt_url(url)
        self._host, self._port = host, port
        self.filters: list[tuple[str, Source]] = []
        for source in sources:
            devices: list[str | None] = [*sorted(runner.collector.devices(source.id))] or [None]
            for device in devices:
                for topic in self._subscriptions(source, device):
                    self.filters.append((topic, source))
        # a message's sources: filters without wildcards by a lookup of its topic (one per device, so
        # a thousand counters are a thousand filters), only the others matched one by one
        self._exact: dict[str, dict[int, Source]] = {}
        self._wildcards: list[tuple[str, Source]] = []
        for topic, source in self.filters:
            if "+" in topic or "#" in topic:
                self._wildcards.append((topic, source))
            else:
                self._exact.setdefault(topic, {})[source.id] = source
        self.connected = threading.Event()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if username is not None:
            client.username_pw_set(username, password)
        if tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        client.reconnect_delay_set(1, 30)
        self.client = client

    @staticmethod
    def _subscriptions(source: Source, device: str | None) -> list[str]:
        topic = source.settings.get("topic")
        if isinstance(topic, str) and topic:
            return [topic]
        if source.format == RTLAMR2MQTT:
            base = source.settings.get("base_topic", RTLAMR2MQTT_BASE)
            return [f"{base}/{device or '+'}/state"]
        return pulse.subscriptions(source.format, device)

    def start(self) -> None:
        try:
            self.client.connect_async(self._host, self._port, keepalive=30)
        except OSError as error:
            for source in self.sources:
                self.runner.collector.fail(source, f"the MQTT broker {self.url} cannot be reached: {error}")
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            for source in self.sources:
                self.runner.collector.fail(source, f"the MQTT broker {self.url} refused: {reason_code}")
            return
        for topic in sorted({t for t, _ in self.filters}):
            client.subscribe(topic, qos=1)
        self.connected.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connected.clear()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        received_ms = self.runner.collector.clock.now_ms()
        matched = dict(self._exact.get(message.topic, {}))
        matched.update((s.id, s) for t, s in self._wildcards if mqtt.topic_matches_sub(t, message.topic))
        try:
            for source in matched.values():
                self.runner.handle_message(source, message.topic, bytes(message.payload), received_ms)
        except Exception as error:  # the store failed: not acknowledged, the broker sends it again
            for source in matched.values():
                self.runner.note_error(source, f"{message.topic}: {type(error).__name__}: {error}")
            return
        client.ack(message.mid, message.qos)


class CollectorRunner:
    """
    A collector's workers, and the watch of each source's silence.

    Parameters
    ----------
    collector : Collector
        The collector (its store, clock and sources).
    stdin : text stream, optional
        Where an rtlamr source with address ``-`` reads; default ``sys.stdin``.
    watch_every_s : float, optional
        Time between two checks of the sources' silence. [s]
    client_id : str, optional
        The MQTT client ID prefix; the persistent session on each broker is keyed by it (default one
        per store and site, so a restarted collector gets the messages it did not acknowledge).

    Attributes
    ----------
    messages : int
        MQTT messages and rtlamr lines handled.
    """

    def __init__(
        self,
        collector: Collector,
        *,
        stdin: IO[str] | None = None,
        watch_every_s: float = 60.0,
        client_id: str | None = None,
    ) -> None:
        self.collector = collector
        self._stdin = stdin
        self.watch_every_s = watch_every_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._brokers: dict[str, _MqttWorker] = {}
        self._workers: dict[int, tuple[threading.Thread, threading.Event]] = {}
        """Each polled device's and rtlamr stream's worker, by source id, with the event that stops it."""
        self._refresh_lock = threading.Lock()
        self._dedupe: dict[int, rtlamr.Deduper] = {}
        self.messages = 0
        self._lock = threading.Lock()
        site = collector.site_id if collector.site_id is not None else "all"
        where = hashlib.sha256(str(collector.store.engines.writer.url).encode()).hexdigest()[:10]
        self.client_id = client_id or f"meshmeter-collect-{where}-{site}"
        self.finished: dict[int, threading.Event] = {}

    # -- messages, lines and polls -----------------------------------------------------------------------

    def handle_message(self, source: Source, topic: str, payload: bytes, received_ms: int) -> None:
        """One MQTT message of a source: parsed, taken; a bad one counted, never raised."""
        with self._lock:
            self.messages += 1
        try:
            if source.format == RTLAMR2MQTT:
                base = source.settings.get("base_topic", RTLAMR2MQTT_BASE)
                readings = rtlamr.parse_rtlamr2mqtt(
                    topic, payload, received_ms, base_topic=base if isinstance(base, str) else None
                )
            else:
                timezone = source.settings.get("timezone")
                readings = pulse.parse_pulse_message(
                    source.format,
                    topic,
                    payload,
                    received_at_ms=received_ms,
                    timezone=timezone if isinstance(timezone, str) else None,
                )
        except PayloadError as error:
            self.collector.refuse(source, {str(error.reason): 1}, str(error))  # it names the topic
            return
        if readings:
            self.collector.take(source, readings)

    def _readings(self, source: Source, message: rtlamr.RtlamrMessage) -> list[Reading]:
        """An rtlamr message's readings, heard once (copies refused by the source's deduper), without those
        its channel has passed already (an IDM's rebuilt history)."""
        self._dedupe.setdefault(source.id, rtlamr.Deduper()).check(message)
        state = self.collector.positions.get((source.id, message.meter_id, "consumption"))
        return rtlamr.to_readings(message, after_ms=None if state is None else state.at_ms)

    def handle_line(self, source: Source, line: str) -> None:
        """One line of rtlamr's output: parsed, deduplicated, taken; a bad one counted."""
        with self._lock:
            self.messages += 1
        try:
            message = rtlamr.parse_rtlamr_line(line, received_at_ms=self.collector.clock.now_ms())
            readings = self._readings(source, message)
        except PayloadError as error:
            if error.reason == Rejection.DUPLICATE:  # heard again: counted, not an error, stored in bulk
                self.collector.refuse(source, {str(error.reason): 1}, None, write=False)
            else:
                self.collector.refuse(source, {str(error.reason): 1}, str(error))
            return
        if readings:
            self.collector.take(source, readings)

    def note_error(self, source: Source, error: str) -> None:
        """An error that is not the input's (the store failed): kept as the source's last error."""
        try:
            self.collector.store.record_source_health(source_id=source.id, error=error)
        except Exception:  # the store is what failed; the error stays in memory
            self.collector.last_error[source.id] = error

    def _lines(self, source: Source) -> None:
        done = self.finished.setdefault(source.id, threading.Event())
        try:
            if source.address == "-":
                stream: IO[str] = self._stdin if self._stdin is not None else sys.stdin
                self._read_lines(source, stream)
            else:
                with Path(source.address).open(encoding="utf-8", errors="replace") as stream:
                    self._read_lines(source, stream)
        except OSError as error:
            self.collector.fail(source, f"cannot read {source.address}: {error}")
        finally:
            done.set()

    def _read_lines(self, source: Source, stream: IO[str]) -> None:
        stop = self._workers[source.id][1]
        for line in rtlamr.iter_lines(stream):
            if stop.is_set():
                return
            self.handle_line(source, line)

    def _poll_loop(self, source: Source) -> None:
        stop = self._workers[source.id][1]
        settings = source.settings
        channels = self.collector.channels(source.id)
        interval_s = min((c.config.interval_s for c in channels), default=900)
        every_s = settings.get("poll_every_s")
        offset_s = float(settings.get("poll_offset_s", 1.0))
        try:
            device = modbus.ModbusDevice(
                source.format,
                _link(source.kind, source.address, settings),
                int(settings.get("unit_id", 1)),
                device=str(settings["device"]) if "device" in settings else None,
                timeout_s=float(settings.get("timeout_s", 1.0)),
                attempts=int(settings.get("attempts", 3)),
            )
        except (ValueError, OSError, MeshmeterError) as error:
            self.collector.fail(source, f"{source.name}: {error}")
            return
        clock = self.collector.clock
        try:
            while not stop.is_set():
                at_ms = modbus.next_poll_ms(
                    clock.now_ms(), interval_s, offset_s, every_s if isinstance(every_s, int) else None
                )
                if not clock.sleep_until_ms(at_ms, stop):
                    return
                try:
                    readings = device.poll(clock.now_ms())
                except (DeviceError, PayloadError) as error:
                    self.collector.fail(source, error)
                    continue
                try:
                    self.collector.take(source, readings)
                except Exception as error:  # the store failed: the next poll reads the register again
                    self.note_error(source, f"{type(error).__name__}: {error}")
        finally:
            device.close()

    # -- the watch --------------------------------------------------------------------------------------

    def check_silence(self) -> int:
        """Raise or clear each source's communication-loss alert now; returns how many changed."""
        changed = 0
        now_ms = self.collector.clock.now_ms()
        for source in self.collector.sources.values():
            channels = self.collector.channels(source.id)
            if not channels:
                continue
            after = comm_loss_after_s(source)
            last_ms = self.collector.last_reading_at_ms(source.id)
            changed += len(
                check_source_communication(
                    self.collector.store,
                    source_id=source.id,
                    source_name=source.name,
                    meter_id=channels[0].channel.meter_id,
                    now=_now_utc(now_ms),
                    last_reading_at=None if last_ms is None else _now_utc(last_ms),
                    silence_s=float(after),
                )
            )
        return changed

    def _watch(self) -> None:
        while not self._stop.wait(self.watch_every_s / self.collector.clock.scale):
            try:
                self.collector.write_health()
                self.refresh()
                self.check_silence()
            except Exception as error:  # a failed check must not end the watch
                for source in self.collector.sources.values():
                    self.collector.last_error.setdefault(source.id, f"{type(error).__name__}: {error}")

    # -- life cycle -------------------------------------------------------------------------------------

    def _thread(self, target: Callable[..., None], *args: object, name: str) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _start_source(self, source: Source) -> None:
        """Start the worker of a polled device or an rtlamr stream (an MQTT source is its broker's)."""
        if source.kind in MODBUS_KINDS:
            target, name = self._poll_loop, f"meshmeter-poll-{source.name}"
        elif source.kind == "rtlamr":
            target, name = self._lines, f"meshmeter-rtlamr-{source.name}"
        else:
            return
        thread = threading.Thread(target=target, args=(source,), name=name, daemon=True)
        self._workers[source.id] = (thread, threading.Event())
        thread.start()

    def _stop_source(self, source_id: int, timeout_s: float = 10.0) -> None:
        """Stop a source's worker, waiting for the poll or line under way to be stored."""
        worker = self._workers.pop(source_id, None)
        if worker is not None:
            worker[1].set()
            worker[0].join(timeout_s)

    def _start_broker(self, url: str) -> None:
        """(Re)start the worker of a broker with its sources now; its client ID, hence its persistent
        session (the messages not yet acknowledged), is the same each time."""
        old = self._brokers.pop(url, None)
        if old is not None:
            old.stop()
        sources = [s for s in self.collector.sources.values() if s.kind == "mqtt" and s.address == url]
        if not sources:
            return
        worker = _MqttWorker(self, url, sources, self.broker_client_id(url))
        worker.start()
        self._brokers[url] = worker

    def start(self) -> None:
        """Start every worker and the watch (which also takes the sources changed since: :meth:`refresh`)."""
        for source in self.collector.sources.values():
            self._start_source(source)
        for url in sorted({s.address for s in self.collector.sources.values() if s.kind == "mqtt"}):
            self._start_broker(url)
        self._thread(self._watch, name="meshmeter-collect-watch")

    def broker_client_id(self, url: str) -> str:
        """The MQTT client ID on the broker at ``url``: the collector's, with the broker's own mark, the
        same at every start, so that the persistent session there keeps what came while it was away."""
        return f"{self.client_id}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"

    def refresh(self) -> set[int]:
        """
        Take the sources added, changed (settings, address, channels), disabled or removed in the store
        since they were read: their workers start, start again or stop; the others run on untouched.

        An MQTT broker's worker starts again with the same client ID when one of its sources changed, so
        its persistent session keeps what came meanwhile. An rtlamr stream on standard input is read by
        one worker for the collector's life: it stops only when its source goes.

        Returns
        -------
        set of int
            The sources whose workers changed, by id.
        """
        with self._refresh_lock:
            if self._stop.is_set():
                return set()
            before = dict(self.collector.sources)
            changed = self.collector.load()
            brokers: set[str] = set()
            for source_id in sorted(changed):
                old, new = before.get(source_id), self.collector.sources.get(source_id)
                brokers.update(s.address for s in (old, new) if s is not None and s.kind == "mqtt")
                reads_stdin = old is not None and old.kind == "rtlamr" and old.address == "-"
                if reads_stdin and new is not None and new.address == "-" and source_id in self._workers:
                    continue
                self._stop_source(source_id)
                if new is not None:
                    self._start_source(new)
            for url in sorted(brokers):
                self._start_broker(url)
            return changed

    def wait_connected(self, timeout_s: float = 10.0) -> bool:
        """Whether every broker is connected and subscribed within ``timeout_s``."""
        return all(w.connected.wait(timeout_s) for w in list(self._brokers.values()))

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop every worker (persistent MQTT sessions stay on their brokers)."""
        self._stop.set()
        with self._refresh_lock:
            for _thread, stop in self._workers.values():
                stop.set()
            for worker in self._brokers.values():
                worker.stop()
            for thread, _stop in self._workers.values():
                thread.join(timeout_s)
        for thread in self._threads:
            thread.join(timeout_s)
        self.collector.write_health()

    def run(self, stop: threading.Event | None = None) -> None:
        """Start, then run until ``stop`` is set (or forever), then stop."""
        self.start()
        try:
            (stop or threading.Event()).wait()
        finally:
            self.stop()

    def new_client_id(self) -> str:
        """A fresh MQTT client ID (a session of its own)."""
        return f"{self.client_id}-{secrets.token_hex(4)}"
