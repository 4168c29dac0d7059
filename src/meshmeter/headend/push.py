"""Push from the durable outbox: MQTT (QoS 1) and HTTP(S) webhooks, at least once (``docs/push.md``).

Data to push is first written to the store's outbox (:func:`enqueue_intervals`, or
:meth:`~meshmeter.store.Store.outbox_enqueue` for any JSON message), each message under a deterministic
idempotency key. Senders then *claim* due messages of their channel, deliver them, and settle each:

* :class:`MqttPublisher` (channel ``"mqtt"``) publishes with QoS 1 and marks a message delivered only
  after the broker's PUBACK;
* :class:`WebhookSender` (channel ``"webhook"``) POSTs the JSON body and marks it delivered only on a 2xx
  answer.

A failed attempt is marked failed with an exponential back-off (:class:`Backoff`); a claim that is never
settled (the sender died) comes due again when its lease expires. Nothing is dropped and nothing is
reported delivered that was not acknowledged; a receiver may see a message more than once and drops the
repeats by ``idempotency_key``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from meshmeter import __version__
from meshmeter.headend.mqtt import MqttConnectionError, parse_mqtt_url
from meshmeter.store import OutboxMessage, Store

__all__ = [
    "ATTEMPT_HEADER",
    "DEAD_LETTER_AT",
    "DEFAULT_PUSH_TOPIC_PREFIX",
    "IDEMPOTENCY_HEADER",
    "INTERVALS_KIND",
    "SIGNATURE_HEADER",
    "Backoff",
    "MqttPublisher",
    "PushStats",
    "WebhookSender",
    "enqueue_intervals",
    "intervals_payload",
    "is_dead_letter",
    "push_topic",
    "redrive",
    "sign_body",
    "verify_signature",
    "wire_body",
]

DEFAULT_PUSH_TOPIC_PREFIX = "meshmeter/v1/push"
INTERVALS_KIND = "intervals"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_HEADER = "Meshmeter-Signature"
ATTEMPT_HEADER = "Meshmeter-Attempt"
KEY_PREFIX = "mm1-"
"""Every key made by :func:`enqueue_intervals` starts with this (version 1 of the key derivation)."""

DEAD_LETTER_AT = datetime(9999, 1, 1, tzinfo=UTC)
"""``next_attempt_at`` of a dead-lettered message: never due again until :func:`redrive`."""
DEAD_LETTER_PREFIX = "dead-letter: "
"""``last_error`` of a dead-lettered message starts with this."""

_ONE_S = timedelta(seconds=1)


# -- messages ---------------------------------------------------------------------------------------------


def _canonical(value: Any) -> bytes:
    """The JSON of a value as signed and hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_int(name: str, value: object, *, minimum: int | None = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise ValueError(f"{name} must be an int{bound}, got {value!r}")
    return value


def _interval_item(index: int, item: object) -> tuple[datetime, dict[str, Any]]:
    """One interval as ``(interval_end, JSON object)``, checked."""
    name = f"intervals[{index}]"
    if hasattr(item, "interval_end") and hasattr(item, "energy_wh"):
        end: object = getattr(item, "interval_end")  # noqa: B009
        energy: object = getattr(item, "energy_wh")  # noqa: B009
        extras = {
            field: getattr(item, field)
            for field in ("quality", "revision", "cumulative_wh")
            if getattr(item, field, None) is not None
        }
    elif isinstance(item, tuple) and len(item) == 2:
        end, energy = item
        extras = {}
    else:
        raise ValueError(
            f"{name} must be an interval (interval_end, energy_wh) or have those attributes, got {item!r}"
        )
    if not isinstance(end, datetime) or end.utcoffset() is None:
        raise ValueError(f"{name}.interval_end must be a timezone-aware datetime, got {end!r}")
    if end.microsecond:
        raise ValueError(f"{name}.interval_end must be a whole second, got {end.isoformat()}")
    end = end.astimezone(UTC)
    body: dict[str, Any] = {"interval_end": _iso(end), "energy_wh": _check_int(f"{name}.energy_wh", energy)}
    for field, value in extras.items():
        body[field] = _check_int(f"{name}.{field}", value)
    return end, body


def intervals_payload(
    meter_serial: str, utc_day: date, intervals: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The outbox payload of one meter's intervals of one UTC day (``docs/push.md``)."""
    return {
        "kind": INTERVALS_KIND,
        "version": 1,
        "meter": meter_serial,
        "utc_day": utc_day.isoformat(),
        "intervals": [dict(i) for i in intervals],
    }


def enqueue_intervals(
    store: Store,
    *,
    meter_serial: str,
    intervals: Iterable[object],
    channel: str,
    now: datetime | None = None,
) -> list[OutboxMessage]:
    """
    Put a meter's intervals in the push outbox: one message per UTC day, under deterministic keys.

    Parameters
    ----------
    store : Store
        The store whose outbox holds the messages.
    meter_serial : str
        The meter's serial number, as receivers know it.
    intervals : iterable
        Raw or validated intervals (:class:`~meshmeter.store.RawInterval`,
        :class:`~meshmeter.store.ValidatedInterval`, their ``...In`` tuples, or plain
        ``(interval_end, energy_wh)`` pairs). ``interval_end`` aware, whole seconds; ``energy_wh`` an int
        >= 0 [Wh]; ``quality``, ``revision`` and ``cumulative_wh`` [Wh] are sent where present.
    channel : str
        The outbox channel: ``"mqtt"``, ``"webhook"`` ... (enqueue once per channel to push both ways).
    now : datetime, optional
        When; default now. The messages are due at once.

    Returns
    -------
    list of OutboxMessage
        The messages, oldest day first: new ones, or the ones already stored for the same data.

    Notes
    -----
    A day holds the intervals that end within ``(D 00:00Z, D+1 00:00Z]``, sorted by end. The key is
    ``"mm1-" + sha256(canonical JSON of {channel, payload})``: the same data on the same channel always
    gives the same key, so enqueueing it again adds nothing; a changed value (a new revision, a VEE edit)
    gives a new message, which the receiver takes as the newer.

    Raises
    ------
    ValueError
        On a bad argument, or when one interval is given twice with different values; nothing is enqueued.
    """
    if not isinstance(meter_serial, str) or not meter_serial.strip():
        raise ValueError(f"meter_serial must be a non-empty string, got {meter_serial!r}")
    if not isinstance(channel, str) or not channel.strip():
        raise ValueError(f"channel must be a non-empty string, got {channel!r}")
    if isinstance(intervals, str | bytes) or not isinstance(intervals, Iterable):
        raise ValueError(f"intervals must be an iterable of intervals, got {intervals!r}")
    by_end: dict[datetime, dict[str, Any]] = {}
    for index, item in enumerate(intervals):
        end, body = _interval_item(index, item)
        if end in by_end and by_end[end] != body:
            raise ValueError(
                f"intervals[{index}] gives interval_end {_iso(end)} a second, different value: "
                f"{body} and {by_end[end]}"
            )
        by_end[end] = body
    days: dict[date, list[dict[str, Any]]] = {}
    for end in sorted(by_end):
        days.setdefault((end - _ONE_S).date(), []).append(by_end[end])
    messages = []
    for day, rows in sorted(days.items()):
        payload = intervals_payload(meter_serial, day, rows)
        key = KEY_PREFIX + hashlib.sha256(_canonical({"channel": channel, "payload": payload})).hexdigest()
        messages.append(store.outbox_enqueue(channel=channel, idempotency_key=key, payload=payload, now=now))
    return messages


def wire_body(message: OutboxMessage) -> dict[str, Any]:
    """
    What a receiver gets: the payload object with ``idempotency_key``, ``sequence`` and ``enqueued_at``.

    ``sequence`` is the outbox id (it grows with each new message, so of two messages about the same
    interval the higher one is the newer) and ``enqueued_at`` when the message was enqueued (UTC). A
    payload that is not a JSON object is sent under ``"payload"``. The body of a message never changes
    between attempts.
    """
    meta = {
        "idempotency_key": message.idempotency_key,
        "sequence": message.id,
        "enqueued_at": _iso(message.created_at),
    }
    if isinstance(message.payload, dict):
        return {**message.payload, **meta}
    return {**meta, "payload": message.payload}


def _level(value: str) -> str:
    """A topic level: percent-encoded, so that ``/``, ``+`` and ``#`` cannot split or widen it."""
    return quote(value, safe="")


def push_topic(message: OutboxMessage, topic_prefix: str = DEFAULT_PUSH_TOPIC_PREFIX) -> str:
    """
    The MQTT topic of a message: ``{prefix}/{kind}/{meter}``, ``{prefix}/{kind}`` or ``{prefix}/messages``.

    ``kind`` and ``meter`` are the payload's fields of those names (percent-encoded), where present.
    """
    payload = message.payload if isinstance(message.payload, dict) else {}
    kind, meter = payload.get("kind"), payload.get("meter")
    if isinstance(kind, str) and kind:
        if isinstance(meter, str) and meter:
            return f"{topic_prefix}/{_level(kind)}/{_level(meter)}"
        return f"{topic_prefix}/{_level(kind)}"
    return f"{topic_prefix}/messages"


# -- signatures -------------------------------------------------------------------------------------------


def _secret_bytes(secret: str | bytes) -> bytes:
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, bytes) or not secret:
        raise ValueError("secret must be a non-empty str or bytes")
    return secret


def sign_body(secret: str | bytes, body: bytes, timestamp: int) -> str:
    """
    The signature header value of a webhook body: ``t={timestamp},v1={hex}``.

    ``hex`` is HMAC-SHA256, keyed by the secret (UTF-8), of ``f"{timestamp}."`` followed by the body bytes
    exactly as sent. ``timestamp`` is the Unix time of the attempt [s].
    """
    mac = hmac.new(_secret_bytes(secret), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str | bytes,
    body: bytes,
    header: str | None,
    *,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """
    Check a webhook's signature header, as a receiver should: right MAC, timestamp within tolerance.

    Parameters
    ----------
    secret : str or bytes
        The shared secret.
    body : bytes
        The request body as received.
    header : str or None
        The ``Meshmeter-Signature`` header.
    tolerance_s : float, optional
        How far the timestamp may be from ``now`` (replay window). [s]
    now : float, optional
        Unix time; default the clock. [s]
    """
    if not header:
        return False
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    clock = time.time() if now is None else now
    if abs(clock - timestamp) > tolerance_s:
        return False
    expected = sign_body(secret, body, timestamp).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, v) for v in fields.get("v1", []))


# -- back-off and results ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Backoff:
    """
    Exponential back-off after a failed attempt: ``min(cap_s, base_s * factor ** (attempts - 1))``.

    Defaults: 2 s, 4 s, 8 s ... doubling, at most 10 min (reached after the 10th attempt).

    Parameters
    ----------
    base_s : float
        Delay after the first failed attempt. [s]
    factor : float
        Growth per further attempt, >= 1. [1]
    cap_s : float
        Longest delay. [s]
    """

    base_s: float = 2.0
    factor: float = 2.0
    cap_s: float = 600.0

    def __post_init__(self) -> None:
        for name in ("base_s", "cap_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not (0 < value < math.inf):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if (
            isinstance(self.factor, bool)
            or not isinstance(self.factor, int | float)
            or not (1 <= self.factor < math.inf)
        ):
            raise ValueError(f"factor must be a finite number >= 1, got {self.factor!r}")
        if self.cap_s < self.base_s:
            raise ValueError(f"cap_s must be >= base_s, got cap_s={self.cap_s} base_s={self.base_s}")

    def delay_s(self, attempts: int) -> float:
        """The delay before the next attempt, after ``attempts`` attempts (>= 1) [s]."""
        exponent = max(attempts, 1) - 1
        try:
            delay = self.base_s * self.factor**exponent
        except OverflowError:
            return float(self.cap_s)
        return float(min(self.cap_s, delay))


@dataclass(frozen=True, slots=True)
class PushStats:
    """
    What one :meth:`run_once` did.

    Attributes
    ----------
    sent : int
        Messages delivered and acknowledged (PUBACK, 2xx), now marked delivered. [1]
    failed : int
        Messages claimed but not delivered, now waiting for a retry (their back-off), those not tried
        because the batch stopped included. [1]
    dead_lettered : int
        Messages refused for good after ``dead_letter_after`` attempts; kept, never due again until
        :func:`redrive`. [1]
    pending : int
        Messages of the channel not delivered after the run (dead letters included). [1]
    """

    sent: int = 0
    failed: int = 0
    dead_lettered: int = 0
    pending: int = 0


def is_dead_letter(message: OutboxMessage) -> bool:
    """True for a dead-lettered message (refused for good; see :func:`redrive`)."""
    return message.delivered_at is None and message.next_attempt_at >= DEAD_LETTER_AT


def redrive(store: Store, *, message_id: int, now: datetime | None = None) -> None:
    """Make a dead-lettered (or waiting) message due again now, e.g. after the receiver was fixed."""
    message = store.outbox_get(message_id=message_id)
    if message is None:
        raise ValueError(f"message_id {message_id} is not an outbox message")
    error = message.last_error or "redriven"
    if error.startswith(DEAD_LETTER_PREFIX):
        error = "redriven after " + error
    store.outbox_mark_failed(
        message_id=message_id, retry_at=datetime.now(UTC) if now is None else now, error=error
    )


def _ceil_second(value: datetime) -> datetime:
    """Round up to a whole second: the store keeps whole seconds, and a retry must not come early."""
    if value.microsecond:
        return value.replace(microsecond=0) + _ONE_S
    return value


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How one delivery attempt ended."""

    delivered: bool
    error: str = ""
    permanent: bool = False
    """Refused for good (counts towards dead-lettering)."""
    stop: bool = False
    """The receiver as a whole is unavailable: settle the rest of the batch without trying."""
    retry_after_s: float | None = None
    """The receiver's own ``Retry-After``, which replaces the back-off. [s]"""


class _OutboxSender:
    """Claim, deliver, settle: the loop that both senders share."""

    channel: str

    def __init__(
        self,
        store: Store,
        *,
        channel: str,
        batch_size: int,
        lease_s: float,
        backoff: Backoff | None,
        dead_letter_after: int,
        poll_interval_s: float,
    ) -> None:
        if not isinstance(store, Store):
            raise ValueError(f"store must be a Store, got {store!r}")
        if not isinstance(channel, str) or not channel.strip():
            raise ValueError(f"channel must be a non-empty string, got {channel!r}")
        _check_int("batch_size", batch_size, minimum=1)
        _check_int("dead_letter_after", dead_letter_after, minimum=1)
        for name, value in (("lease_s", lease_s), ("poll_interval_s", poll_interval_s)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not (0 < value < math.inf):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        self.store = store
        self.channel = channel
        self.batch_size = batch_size
        self.lease_s = float(lease_s)
        self.backoff = Backoff() if backoff is None else backoff
        self.dead_letter_after = dead_letter_after
        self.poll_interval_s = float(poll_interval_s)
        self.last_error: str | None = None
        self.unavailable: str | None = None
        """Why the receiver as a whole could not be used in the last :meth:`run_once` (cannot be reached,
        refused the connection, or answered that it is unavailable), else None."""

    # subclasses -----------------------------------------------------------------------------------------

    def _open(self) -> None:
        """Get ready to deliver (connect); raise ``ConnectionError`` when the receiver cannot be reached."""

    def _deliver(self, message: OutboxMessage) -> _Outcome:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""

    # the loop -------------------------------------------------------------------------------------------

    def run_once(self, now: datetime | None = None) -> PushStats:
        """
        Claim up to ``batch_size`` due messages of the channel, deliver them, settle each.

        Parameters
        ----------
        now : datetime, optional
            The time of the run (aware); default the clock. Claims, back-off and delivery stamps are
            counted from it, plus the whole seconds the run has taken so far; a retry time is rounded
            up to a whole second (the store's resolution).

        Returns
        -------
        PushStats
        """
        start = datetime.now(UTC) if now is None else now
        if not isinstance(start, datetime) or start.utcoffset() is None:
            raise ValueError(f"now must be a timezone-aware datetime, got {now!r}")
        t0 = time.monotonic()
        self.unavailable = None

        def clock() -> datetime:
            # the run's time plus the whole seconds it has taken: deterministic for a given ``now``
            return start + timedelta(seconds=int(time.monotonic() - t0))

        messages = self.store.outbox_claim(
            limit=self.batch_size, channel=self.channel, now=start, lease_s=self.lease_s
        )
        sent = failed = dead = 0
        if messages:
            try:
                self._open()
            except (ConnectionError, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                self.last_error = self.unavailable = error
                retry_at = self._retry_at(clock(), messages[0], None)
                for message in messages:
                    self._fail(message, retry_at, error)
                failed = len(messages)
            else:
                for index, message in enumerate(messages):
                    outcome = self._deliver(message)
                    if outcome.delivered:
                        self.store.outbox_mark_delivered(message_id=message.id, at=clock())
                        sent += 1
                        continue
                    self.last_error = f"message {message.id}: {outcome.error}"
                    if outcome.permanent and message.attempts >= self.dead_letter_after:
                        self.store.outbox_mark_failed(
                            message_id=message.id,
                            retry_at=DEAD_LETTER_AT,
                            error=f"{DEAD_LETTER_PREFIX}{outcome.error} (after {message.attempts} attempts)",
                        )
                        dead += 1
                        continue
                    retry_at = self._retry_at(clock(), message, outcome.retry_after_s)
                    self._fail(message, retry_at, outcome.error)
                    failed += 1
                    if outcome.stop:
                        self.unavailable = outcome.error
                        rest = messages[index + 1 :]
                        for other in rest:
                            self._fail(other, retry_at, f"not attempted: {outcome.error}")
                        failed += len(rest)
                        break
        pending = self.store.outbox_pending(channel=self.channel)
        return PushStats(sent=sent, failed=failed, dead_lettered=dead, pending=pending)

    def _retry_at(self, at: datetime, message: OutboxMessage, retry_after_s: float | None) -> datetime:
        delay_s = self.backoff.delay_s(message.attempts) if retry_after_s is None else retry_after_s
        return _ceil_second(at + timedelta(seconds=delay_s))

    def _fail(self, message: OutboxMessage, retry_at: datetime, error: str) -> None:
        self.store.outbox_mark_failed(
            message_id=message.id, retry_at=retry_at, error=error[:1000] or "failed"
        )

    def run(self, stop_event: threading.Event) -> None:
        """
        Run until ``stop_event`` is set: a full batch is followed at once by the next, otherwise wait
        ``poll_interval_s``. An error of the store is kept in :attr:`last_error` and the loop goes on
        (the messages stay in the outbox). The sender is closed when it returns.
        """
        try:
            while not stop_event.is_set():
                try:
                    stats = self.run_once()
                except Exception as exc:  # the store failed: nothing was lost; try again later
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    stop_event.wait(self.poll_interval_s)
                    continue
                if stats.sent + stats.failed + stats.dead_lettered < self.batch_size or stats.failed:
                    stop_event.wait(self.poll_interval_s)
        finally:
            self.close()


# -- MQTT -------------------------------------------------------------------------------------------------


class MqttPublisher(_OutboxSender):
    """
    Publish outbox messages to an MQTT broker with QoS 1 (paho-mqtt, MQTT 5), delivered on PUBACK.

    Parameters
    ----------
    store : Store
        The store whose outbox is sent.
    url : str
        The broker: ``mqtt://[user[:password]@]host[:port]`` or ``mqtts://`` (TLS).
    topic_prefix : str, optional
        Topics are ``{topic_prefix}/{kind}/{meter}`` (:func:`push_topic`).
    qos : int, optional
        1 (default) or 2; delivery is confirmed by the broker's PUBACK (PUBCOMP for 2).
    client_id : str, optional
        The MQTT client id; default a random ``meshmeter-push-...``.
    channel : str, optional
        The outbox channel sent, ``"mqtt"``.
    batch_size : int, optional
        Messages claimed per run. [1]
    lease_s : float, optional
        How long a claim hides a message from other senders; must exceed a batch's time. [s]
    backoff : Backoff, optional
        Delays after failed attempts (default :class:`Backoff`).
    dead_letter_after : int, optional
        A PUBACK refusing the message (a failure reason code) dead-letters it from this attempt on. [1]
    connect_timeout_s, publish_timeout_s : float, optional
        Waits for the CONNACK and for each PUBACK. [s]
    keepalive_s : int, optional
        MQTT keep-alive. [s]
    poll_interval_s : float, optional
        :meth:`run`'s wait when the outbox is empty or the broker is down. [s]

    Notes
    -----
    A broker that cannot be reached, refuses the connection, or does not acknowledge a message within
    ``publish_timeout_s`` stops the batch: the message and the rest of the batch are marked failed with
    the back-off, the connection is dropped, and the next run connects again. One publisher instance is
    not to be run from two threads at once; several publishers (processes) may share one outbox.
    """

    def __init__(
        self,
        store: Store,
        url: str,
        *,
        topic_prefix: str = DEFAULT_PUSH_TOPIC_PREFIX,
        qos: int = 1,
        client_id: str | None = None,
        channel: str = "mqtt",
        batch_size: int = 100,
        lease_s: float = 120.0,
        backoff: Backoff | None = None,
        dead_letter_after: int = 10,
        connect_timeout_s: float = 5.0,
        publish_timeout_s: float = 10.0,
        keepalive_s: int = 30,
        poll_interval_s: float = 1.0,
    ) -> None:
        super().__init__(
            store,
            channel=channel,
            batch_size=batch_size,
            lease_s=lease_s,
            backoff=backoff,
            dead_letter_after=dead_letter_after,
            poll_interval_s=poll_interval_s,
        )
        self._host, self._port, self._tls, self._username, self._password = parse_mqtt_url(url)
        if not isinstance(topic_prefix, str) or not topic_prefix.strip("/") or set("+#") & set(topic_prefix):
            raise ValueError(f"topic_prefix must be a topic without wildcards, got {topic_prefix!r}")
        if qos not in (1, 2) or isinstance(qos, bool):
            raise ValueError(f"qos must be 1 or 2 (acknowledged delivery), got {qos!r}")
        for name, value in (
            ("connect_timeout_s", connect_timeout_s),
            ("publish_timeout_s", publish_timeout_s),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not (0 < value < math.inf):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        _check_int("keepalive_s", keepalive_s, minimum=5)
        self.url = url
        self.topic_prefix = topic_prefix.strip("/")
        self.qos = qos
        self.client_id = client_id or f"meshmeter-push-{secrets.token_hex(6)}"
        self.connect_timeout_s = float(connect_timeout_s)
        self.publish_timeout_s = float(publish_timeout_s)
        self.keepalive_s = keepalive_s
        self._client: mqtt.Client | None = None
        self._acks: dict[int, ReasonCode] = {}
        self._acks_lock = threading.Lock()

    def __enter__(self) -> MqttPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """True while connected to the broker."""
        return self._client is not None and self._client.is_connected()

    def close(self) -> None:
        """Disconnect (the outbox keeps everything not yet acknowledged)."""
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def _open(self) -> None:
        if self.connected:
            return
        self.close()  # a connection that dropped: start afresh, no stale in-flight state
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        client.connect_timeout = self.connect_timeout_s
        if self._username is not None:
            client.username_pw_set(self._username, self._password)
        if self._tls:
            client.tls_set()
        connected = threading.Event()
        refusal: list[str] = []

        def on_connect(
            client: mqtt.Client,
            userdata: Any,
            flags: mqtt.ConnectFlags,
            reason_code: ReasonCode,
            properties: Properties | None,
        ) -> None:
            if reason_code.is_failure:
                refusal.append(f"connection refused: {reason_code}")
            connected.set()

        client.on_connect = on_connect
        client.on_publish = self._on_publish
        with self._acks_lock:
            self._acks.clear()
        try:
            client.connect(self._host, self._port, keepalive=self.keepalive_s, clean_start=True)
        except OSError as exc:
            raise MqttConnectionError(f"the MQTT broker {self.url} cannot be reached: {exc}") from exc
        client.loop_start()
        if not connected.wait(self.connect_timeout_s) or refusal:
            client.disconnect()
            client.loop_stop()
            why = refusal[0] if refusal else f"no CONNACK within {self.connect_timeout_s} s"
            raise MqttConnectionError(f"MQTT broker {self.url}: {why}")
        self._client = client

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties,
    ) -> None:
        with self._acks_lock:
            self._acks[mid] = reason_code

    def _deliver(self, message: OutboxMessage) -> _Outcome:
        client = self._client
        if client is None:
            return _Outcome(False, "not connected", stop=True)
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]  # paho: no annotation
        properties.UserProperty = [("idempotency-key", message.idempotency_key)]
        properties.ContentType = "application/json"
        body = _canonical(wire_body(message))
        topic = push_topic(message, self.topic_prefix)
        try:
            info = client.publish(topic, body, qos=self.qos, properties=properties)
            info.wait_for_publish(timeout=self.publish_timeout_s)
        except (RuntimeError, ValueError) as exc:  # not connected, queue full
            self.close()
            return _Outcome(False, f"publish failed: {exc}", stop=True)
        if not info.is_published():
            self.close()  # a broker that does not answer: reconnect next time
            return _Outcome(False, f"no PUBACK within {self.publish_timeout_s} s", stop=True)
        with self._acks_lock:
            reason = self._acks.pop(info.mid, None)
        if reason is not None and reason.is_failure:
            return _Outcome(False, f"broker refused the message: {reason}", permanent=True)
        return _Outcome(True)


# -- webhooks ---------------------------------------------------------------------------------------------

_RETRY_STATUSES = frozenset({408, 409, 425, 429})
"""4xx answers that are worth trying again (timeout, conflict in flight, too early, too many requests)."""
_STOP_STATUSES = frozenset({429, 502, 503, 504})
"""Answers that say the receiver as a whole is unavailable: the rest of the batch waits too."""


def _retry_after_s(value: str | None, now: datetime, cap_s: float) -> float | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) as a delay in [0, cap_s], or None. [s]"""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        delay = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        delay = (when - now).total_seconds()
    return min(max(delay, 0.0), cap_s)


class WebhookSender(_OutboxSender):
    """
    POST outbox messages to an HTTP(S) endpoint, delivered on a 2xx answer.

    Parameters
    ----------
    store : Store
        The store whose outbox is sent.
    url : str
        The endpoint, ``https://...`` (``http://`` for local receivers and tests).
    secret : str or bytes, optional
        Signs each request (:data:`SIGNATURE_HEADER`, :func:`sign_body`); none by default.
    timeout_s : float, optional
        Connect, read and write timeout of a request. [s]
    channel : str, optional
        The outbox channel sent, ``"webhook"``.
    batch_size, lease_s, backoff, poll_interval_s
        As for :class:`MqttPublisher`.
    dead_letter_after : int, optional
        A message answered with a permanent refusal (a 3xx or 4xx other than 408, 409, 425, 429) is
        tried again with back-off, and dead-lettered once it has had this many attempts. [1]
    max_retry_after_s : float, optional
        Longest ``Retry-After`` honoured. [s]
    headers : mapping, optional
        More headers for every request (e.g. ``Authorization``).
    transport : httpx.BaseTransport, optional
        For tests.

    Notes
    -----
    Each request: ``POST url``, ``Content-Type: application/json``, the body :func:`wire_body` as
    canonical JSON, ``Idempotency-Key``, ``Meshmeter-Attempt`` and, with a secret,
    ``Meshmeter-Signature: t=...,v1=...``. Connection errors, timeouts, 429, 502, 503 and 504 stop the
    batch (the receiver is away; the rest waits the same back-off); 408, 409, 425 and other 5xx retry
    that message and go on. ``Retry-After`` on 429 and 503 replaces the back-off.
    """

    def __init__(
        self,
        store: Store,
        url: str,
        *,
        secret: str | bytes | None = None,
        timeout_s: float = 10.0,
        channel: str = "webhook",
        batch_size: int = 100,
        lease_s: float = 120.0,
        backoff: Backoff | None = None,
        dead_letter_after: int = 5,
        max_retry_after_s: float = 86400.0,
        poll_interval_s: float = 1.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            store,
            channel=channel,
            batch_size=batch_size,
            lease_s=lease_s,
            backoff=backoff,
            dead_letter_after=dead_letter_after,
            poll_interval_s=poll_interval_s,
        )
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ValueError(f"url must be an https:// (or http://) URL, got {url!r}")
        for name, value in (("timeout_s", timeout_s), ("max_retry_after_s", max_retry_after_s)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not (0 < value < math.inf):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        self.url = url
        self._secret = None if secret is None else _secret_bytes(secret)
        self.timeout_s = float(timeout_s)
        self.max_retry_after_s = float(max_retry_after_s)
        base_headers = {"User-Agent": f"meshmeter/{__version__}", "Content-Type": "application/json"}
        base_headers.update(headers or {})
        self._http = httpx.Client(
            timeout=httpx.Timeout(self.timeout_s),
            follow_redirects=False,
            headers=base_headers,
            transport=transport,
        )

    def __enter__(self) -> WebhookSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def _deliver(self, message: OutboxMessage) -> _Outcome:
        body = _canonical(wire_body(message))
        headers = {IDEMPOTENCY_HEADER: message.idempotency_key, ATTEMPT_HEADER: str(message.attempts)}
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign_body(self._secret, body, int(time.time()))
        try:
            response = self._http.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return _Outcome(False, f"timeout after {self.timeout_s} s: {type(exc).__name__}", stop=True)
        except httpx.HTTPError as exc:  # connection refused, reset, DNS ...
            return _Outcome(False, f"{type(exc).__name__}: {exc}", stop=True)
        status = response.status_code
        if 200 <= status < 300:
            return _Outcome(True)
        error = f"HTTP {status}: {response.text[:200]}".strip()
        retry_after = None
        if status in (429, 503):
            retry_after = _retry_after_s(
                response.headers.get("Retry-After"), datetime.now(UTC), self.max_retry_after_s
            )
        if status >= 500 or status in _RETRY_STATUSES:
            return _Outcome(False, error, stop=status in _STOP_STATUSES, retry_after_s=retry_after)
        return _Outcome(False, error, permanent=True)
