"""Ingest from an MQTT broker: interval data published per meter, stored through :func:`ingest_json`.

Topic layout (``docs/ingest.md``)::

    {topic_prefix}/{site}/meters/{serial}/intervals
    meshmeter/v1/campus-a/meters/MM00000001/intervals      (an example)

The payload is the JSON of :func:`meshmeter.headend.ingest.ingest_json` for the meter of the topic (an
object, or a list of objects, each naming that meter). The ingestor subscribes with QoS 1 and
acknowledges a message only once it is settled: stored, or refused for good (a bad message, counted in
:attr:`MqttIngestor.rejected` by reason). A message that could not be stored (the database failed) is not
acknowledged, so a persistent session (``persistent=True``, a fixed ``client_id``) has the broker send it
again; nothing is reported stored that was not. A bad message never stops the loop.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from meshmeter.errors import MqttConnectionError
from meshmeter.headend.ingest import IngestError, IngestResult, ingest_json
from meshmeter.headend.mapping import IngestMapping, ingest_mapped, resolve_format
from meshmeter.store import Store

__all__ = [
    "BAD_TOPIC",
    "DEFAULT_MQTT_URL",
    "DEFAULT_TOPIC_PREFIX",
    "MqttConnectionError",
    "MqttIngestor",
    "interval_topic",
    "parse_mqtt_url",
]

DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"
DEFAULT_TOPIC_PREFIX = "meshmeter/v1"
BAD_TOPIC = "bad_topic"
"""The reason counted for a message on a topic outside the layout."""

_WILDCARDS = frozenset("+#/")


def parse_mqtt_url(url: str) -> tuple[str, int, bool, str | None, str | None]:
    """
    Split a broker URL.

    Parameters
    ----------
    url : str
        ``mqtt://[user[:password]@]host[:port]`` (default port 1883) or ``mqtts://...`` (TLS, 8883).

    Returns
    -------
    tuple
        ``(host, port, tls, username, password)``.
    """
    if not isinstance(url, str):
        raise ValueError(f"url must be an mqtt:// or mqtts:// URL, got {url!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"url must be mqtt://host[:port] or mqtts://host[:port], got {url!r}")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ValueError(f"url has a bad port: {url!r}") from None
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return parts.hostname, port, tls, username, password


def _check_level(name: str, value: str) -> str:
    if not isinstance(value, str) or not value or _WILDCARDS & set(value):
        raise ValueError(f"{name} must be a non-empty topic level without '/', '+' or '#', got {value!r}")
    return value


def interval_topic(site: str, serial: str, *, topic_prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    """The topic on which a meter's intervals are published: ``{prefix}/{site}/meters/{serial}/intervals``."""
    return f"{topic_prefix}/{_check_level('site', site)}/meters/{_check_level('serial', serial)}/intervals"


class MqttIngestor:
    """
    Subscribe to meters' interval topics and store every message (paho-mqtt, MQTT 3.1.1, QoS 1).

    Parameters
    ----------
    store : Store
        Where the intervals go.
    url : str, optional
        The broker, ``mqtt://host:port`` (default ``mqtt://127.0.0.1:1883``) or ``mqtts://``.
    topic_prefix : str, optional
        The first levels of every topic, default ``meshmeter/v1``.
    site : str, optional
        Only this site's meters; default every site (``+``).
    qos : int, optional
        Subscription QoS, 1 by default (at least once); 0 or 2 also accepted.
    client_id : str, optional
        The MQTT client id; default a random one. Required with ``persistent``.
    persistent : bool, optional
        Keep the session on the broker (``clean_session=False``): QoS 1 messages published while the
        ingestor is away, or not acknowledged, are sent again when it returns.
    shared_group : str, optional
        Subscribe through ``$share/{group}/...``: several ingestors share the messages (scaling out).
    source : str, optional
        The ``source`` of the stored rows, default ``"mqtt"``.
    ingest_format : str, optional
        The name of an ingest format (built in or saved in the store, ``docs/ingest.md``) the payloads
        are in; the topic's meter is the meter of every row. Default meshmeter's JSON.
    keepalive_s : int, optional
        MQTT keep-alive. [s]

    Attributes
    ----------
    messages : int
        Messages received. [1]
    accepted : int
        Messages stored (or already stored: a duplicate is a success). [1]
    rejected : collections.Counter
        Messages refused for good, by reason (:class:`meshmeter.headend.ingest.IngestReason`, or
        ``"bad_topic"``). [1]
    failed : int
        Messages that could not be stored (the store raised); not acknowledged. [1]
    result : IngestResult
        The sum of what the accepted messages did.
    last_error : str or None
        The last refusal or failure, for people.
    """

    def __init__(
        self,
        store: Store,
        url: str = DEFAULT_MQTT_URL,
        *,
        topic_prefix: str = DEFAULT_TOPIC_PREFIX,
        site: str | None = None,
        qos: int = 1,
        client_id: str | None = None,
        persistent: bool = False,
        shared_group: str | None = None,
        source: str = "mqtt",
        ingest_format: str | None = None,
        keepalive_s: int = 30,
    ) -> None:
        self._host, self._port, tls, username, password = parse_mqtt_url(url)
        if not isinstance(topic_prefix, str) or not topic_prefix.strip("/") or set("+#") & set(topic_prefix):
            raise ValueError(f"topic_prefix must be a topic without wildcards, got {topic_prefix!r}")
        if qos not in (0, 1, 2) or isinstance(qos, bool):
            raise ValueError(f"qos must be 0, 1 or 2, got {qos!r}")
        if persistent and not client_id:
            raise ValueError("client_id is required with persistent=True (the broker keys the session by it)")
        if not isinstance(source, str) or not source.strip():
            raise ValueError(f"source must be a non-empty string, got {source!r}")
        if isinstance(keepalive_s, bool) or not isinstance(keepalive_s, int) or keepalive_s < 5:
            raise ValueError(f"keepalive_s must be an int >= 5, got {keepalive_s!r}")
        self.store = store
        self.mapping: IngestMapping | None = (
            None if ingest_format is None else resolve_format(store, ingest_format)
        )
        self.url = url
        self.topic_prefix = topic_prefix.strip("/")
        self.qos = qos
        self.source = source
        self._keepalive_s = keepalive_s
        pattern = (
            f"{self.topic_prefix}/{'+' if site is None else _check_level('site', site)}/meters/+/intervals"
        )
        if shared_group is not None:
            pattern = f"$share/{_check_level('shared_group', shared_group)}/{pattern}"
        self.subscription = pattern
        self.client_id = client_id or f"meshmeter-ingest-{secrets.token_hex(6)}"

        self.messages = 0
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self.failed = 0
        self.result = IngestResult()
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._connect_error: str | None = None
        self._started = False

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=not persistent,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if username is not None:
            client.username_pw_set(username, password)
        if tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        self._client = client

    # -- life cycle --------------------------------------------------------------------------------------

    def start(self, *, timeout_s: float = 10.0) -> None:
        """
        Connect, subscribe, and run the network loop in a background thread (paho ``loop_start``).

        Returns once the broker has granted the subscription.

        Raises
        ------
        MqttConnectionError
            When the broker cannot be reached, refuses, or does not grant the subscription within
            ``timeout_s``; the ingestor is then stopped.
        """
        if self._started:
            raise RuntimeError("the ingestor is already started")
        self._subscribed.clear()
        self._connect_error = None
        try:
            self._client.connect(self._host, self._port, keepalive=self._keepalive_s)
        except OSError as exc:
            raise MqttConnectionError(f"the MQTT broker {self.url} cannot be reached: {exc}") from exc
        self._client.loop_start()
        self._started = True
        if not self._subscribed.wait(timeout_s) or self._connect_error is not None:
            why = self._connect_error or f"no subscription granted within {timeout_s} s"
            self.stop()
            raise MqttConnectionError(f"MQTT broker {self.url}: {why}")

    def stop(self) -> None:
        """Disconnect and stop the network loop (a persistent session stays on the broker)."""
        if not self._started:
            return
        self._client.disconnect()
        self._client.loop_stop()
        self._started = False

    def __enter__(self) -> MqttIngestor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        """True while connected to the broker."""
        return self._client.is_connected()

    # -- messages ----------------------------------------------------------------------------------------

    def serial_of(self, topic: str) -> str | None:
        """The meter serial of an interval topic, or None when the topic is outside the layout."""
        head = f"{self.topic_prefix}/"
        if not topic.startswith(head):
            return None
        levels = topic[len(head) :].split("/")
        if len(levels) != 4 or levels[1] != "meters" or levels[3] != "intervals" or not all(levels):
            return None
        return levels[2]

    def handle(self, topic: str, payload: bytes | bytearray) -> IngestResult | None:
        """
        Store one message; count it.

        Returns
        -------
        IngestResult or None
            What was stored, or None when the message was refused (counted in :attr:`rejected`).

        Raises
        ------
        Exception
            Whatever the store raises when it cannot store (the message is then to be sent again).
        """
        with self._lock:
            self.messages += 1
        serial = self.serial_of(topic)
        try:
            if serial is None:
                raise IngestError(
                    BAD_TOPIC, f"the topic {topic!r} is not {self.topic_prefix}/SITE/meters/SERIAL/intervals"
                )
            if self.mapping is not None:
                result = ingest_mapped(self.store, payload, self.mapping, source=self.source, meter=serial)
            else:
                result = ingest_json(self.store, payload, source=self.source, meter=serial)
        except IngestError as exc:
            with self._lock:
                self.rejected[exc.reason] += 1
                self.last_error = f"{topic}: {exc}"
            return None
        with self._lock:
            self.accepted += 1
            self.result += result
        return result

    @property
    def rejected_total(self) -> int:
        """Messages refused, all reasons. [1]"""
        return sum(self.rejected.values())

    # -- paho callbacks (the network thread) -------------------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._connect_error = f"connection refused: {reason_code}"
            self._subscribed.set()  # wake start(), which reports the error
            return
        client.subscribe(self.subscription, qos=self.qos)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        refused = [code for code in reason_codes if code.is_failure]
        if refused:
            self._connect_error = f"subscription to {self.subscription!r} refused: {refused[0]}"
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            self.handle(message.topic, message.payload)
        except Exception as exc:  # the store failed: do not acknowledge; the broker sends it again
            with self._lock:
                self.failed += 1
                self.last_error = f"{message.topic}: {type(exc).__name__}: {exc}"
            return
        client.ack(message.mid, message.qos)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._subscribed.clear()
