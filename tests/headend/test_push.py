"""Push from the outbox: keys, back-off, signatures; webhooks against a local HTTP receiver; MQTT against the
real broker (``MESHMETER_TEST_MQTT_URL``). Stores: a SQLite file, and PostgreSQL where its URL is set."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy.engine import URL

from meshmeter.headend.mqtt import parse_mqtt_url
from meshmeter.headend.push import (
    DEAD_LETTER_AT,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    Backoff,
    MqttPublisher,
    PushStats,
    WebhookSender,
    _retry_after_s,
    enqueue_intervals,
    is_dead_letter,
    push_topic,
    redrive,
    sign_body,
    verify_signature,
    wire_body,
)
from meshmeter.store import OutboxMessage, RawIntervalIn, Store, ValidatedIntervalIn

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
DAY = datetime(2026, 1, 1, tzinfo=UTC)
FAST = Backoff(base_s=2.0, factor=2.0, cap_s=600.0)


def quarter(n: int) -> datetime:
    """The end of the n-th 15-minute interval after 2026-01-01T00:00Z."""
    return DAY + timedelta(minutes=15 * n)


def day_of_intervals(start: int = 1, count: int = 96, energy_wh: int = 25) -> list[tuple[datetime, int]]:
    return [(quarter(n), energy_wh + n % 7) for n in range(start, start + count)]


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {timeout_s} s")
        time.sleep(0.01)


def get(store: Store, message: OutboxMessage) -> OutboxMessage:
    stored = store.outbox_get(message_id=message.id)
    assert stored is not None
    return stored


@pytest.fixture(params=["sqlite-file", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> URL | str:
    """A database that two Store instances can open in turn (a head-end restart)."""
    if request.param == "sqlite-file":
        return f"sqlite:///{tmp_path / 'p.db'}"
    url: URL = request.getfixturevalue("postgres_schema_url")
    return url


# -- a local webhook receiver -----------------------------------------------------------------------------


@dataclass
class Planned:
    """One planned answer: status, headers, and a delay before answering [s]."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A threading HTTP server on 127.0.0.1: answers from a plan (then 200), records every request."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Received] = []
        self.plan: list[Planned] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.requests.append(Received(dict(self.headers.items()), body))
                    answer = receiver.plan.pop(0) if receiver.plan else Planned()
                if answer.delay_s:
                    time.sleep(answer.delay_s)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the client gave up (a timeout test)
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    def keys(self) -> list[str]:
        with self.lock:
            return [r.headers[IDEMPOTENCY_HEADER] for r in self.requests]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- enqueue, keys, messages (no network) -----------------------------------------------------------------


def test_enqueue_one_message_per_utc_day_and_idempotent(store: Store) -> None:
    rows = day_of_intervals(1, 100)  # 96 intervals of 1 January (the last ends at 2 Jan 00:00), 4 of the 2nd
    messages = enqueue_intervals(store, meter_serial="MM00000001", intervals=rows, channel="webhook")
    assert [m.payload["utc_day"] for m in messages] == ["2026-01-01", "2026-01-02"]
    assert [len(m.payload["intervals"]) for m in messages] == [96, 4]
    first = messages[0].payload
    assert first["kind"] == "intervals"
    assert first["meter"] == "MM00000001"
    assert first["intervals"][0] == {"interval_end": "2026-01-01T00:15:00Z", "energy_wh": 26}
    assert first["intervals"][-1]["interval_end"] == "2026-01-02T00:00:00Z"
    assert all(m.idempotency_key.startswith("mm1-") and len(m.idempotency_key) == 68 for m in messages)

    again = enqueue_intervals(store, meter_serial="MM00000001", intervals=reversed(rows), channel="webhook")
    assert [m.id for m in again] == [m.id for m in messages]
    assert store.outbox_pending() == 2

    other_channel = enqueue_intervals(store, meter_serial="MM00000001", intervals=rows, channel="mqtt")
    assert {m.idempotency_key for m in other_channel}.isdisjoint(m.idempotency_key for m in messages)
    revised = enqueue_intervals(
        store, meter_serial="MM00000001", intervals=[*rows[:-1], (rows[-1][0], 999)], channel="webhook"
    )
    assert revised[0].id == messages[0].id
    assert revised[1].id not in {m.id for m in messages}
    assert store.outbox_pending() == 5


def test_enqueue_carries_quality_revision_cumulative(store: Store) -> None:
    rows = [
        ValidatedIntervalIn(quarter(1), 10, 0),
        ValidatedIntervalIn(quarter(2), 12, 9),
    ]
    (message,) = enqueue_intervals(store, meter_serial="MM1", intervals=rows, channel="mqtt")
    assert message.payload["intervals"] == [
        {"interval_end": "2026-01-01T00:15:00Z", "energy_wh": 10, "quality": 0},
        {"interval_end": "2026-01-01T00:30:00Z", "energy_wh": 12, "quality": 9},
    ]
    (raw,) = enqueue_intervals(
        store, meter_serial="MM1", intervals=[RawIntervalIn(quarter(1), 10, 5000)], channel="mqtt"
    )
    assert raw.payload["intervals"] == [
        {"interval_end": "2026-01-01T00:15:00Z", "energy_wh": 10, "cumulative_wh": 5000}
    ]
    assert enqueue_intervals(store, meter_serial="MM1", intervals=[], channel="mqtt") == []


@pytest.mark.parametrize(
    ("intervals", "match"),
    [
        ([(datetime(2026, 1, 1, 0, 15), 1)], r"intervals\[0\].interval_end must be a timezone-aware"),
        ([(quarter(1).replace(microsecond=5), 1)], "whole second"),
        ([(quarter(1), -1)], r"intervals\[0\].energy_wh must be an int >= 0"),
        ([(quarter(1), 1.5)], "energy_wh"),
        ([(quarter(1), True)], "energy_wh"),
        ([(quarter(1), 1), (quarter(2), 2), (quarter(1), 3)], r"intervals\[2\] gives interval_end"),
        ([(quarter(1),)], r"intervals\[0\] must be an interval"),
    ],
)
def test_enqueue_refuses_bad_input_whole(sqlite_store: Store, intervals: list[Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        enqueue_intervals(sqlite_store, meter_serial="MM1", intervals=intervals, channel="mqtt")
    assert sqlite_store.outbox_pending() == 0


def test_enqueue_refuses_bad_arguments(sqlite_store: Store) -> None:
    with pytest.raises(ValueError, match="meter_serial"):
        enqueue_intervals(sqlite_store, meter_serial="", intervals=[], channel="mqtt")
    with pytest.raises(ValueError, match="channel"):
        enqueue_intervals(sqlite_store, meter_serial="MM1", intervals=[], channel=" ")
    with pytest.raises(ValueError, match="intervals must be an iterable"):
        enqueue_intervals(sqlite_store, meter_serial="MM1", intervals="abc", channel="mqtt")


def test_wire_body_and_topic(sqlite_store: Store) -> None:
    (message,) = enqueue_intervals(
        sqlite_store, meter_serial="MM/1+#", intervals=[(quarter(1), 1)], channel="m"
    )
    body = wire_body(message)
    assert body["idempotency_key"] == message.idempotency_key
    assert body["meter"] == "MM/1+#"
    assert push_topic(message, "p/v1") == "p/v1/intervals/MM%2F1%2B%23"
    other = sqlite_store.outbox_enqueue(channel="m", idempotency_key="k1", payload=[1, 2])
    assert wire_body(other) == {
        "idempotency_key": "k1",
        "sequence": other.id,
        "enqueued_at": other.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "payload": [1, 2],
    }
    assert body["sequence"] == message.id < other.id
    assert push_topic(other, "p") == "p/messages"
    alert = sqlite_store.outbox_enqueue(channel="m", idempotency_key="k2", payload={"kind": "tamper"})
    assert push_topic(alert, "p") == "p/tamper"


def test_backoff_defaults_and_cap() -> None:
    backoff = Backoff()
    assert [backoff.delay_s(n) for n in range(1, 12)] == [2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]
    assert backoff.delay_s(10_000) == 600
    assert Backoff(base_s=1, factor=1, cap_s=5).delay_s(50) == 1
    with pytest.raises(ValueError, match="base_s"):
        Backoff(base_s=0)
    with pytest.raises(ValueError, match="factor"):
        Backoff(factor=0.5)
    with pytest.raises(ValueError, match="cap_s must be >= base_s"):
        Backoff(base_s=10, cap_s=5)


def test_signature_round_trip() -> None:
    body = b'{"idempotency_key":"k"}'
    header = sign_body("s3cret", body, 1_767_268_800)
    assert header.startswith("t=1767268800,v1=")
    assert len(header.split("v1=")[1]) == 64
    assert verify_signature("s3cret", body, header, now=1_767_268_800 + 10)
    assert not verify_signature("other", body, header, now=1_767_268_800)
    assert not verify_signature("s3cret", body + b" ", header, now=1_767_268_800)
    assert not verify_signature("s3cret", body, header, now=1_767_268_800 + 301)  # a replay, too late
    assert not verify_signature("s3cret", body, None)
    assert not verify_signature("s3cret", body, "v1=abc")


def test_retry_after_header() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert _retry_after_s("30", now, 3600) == 30
    assert _retry_after_s(format_datetime(now + timedelta(seconds=90), usegmt=True), now, 3600) == 90
    assert _retry_after_s("99999", now, 3600) == 3600
    assert _retry_after_s("soon", now, 3600) is None
    assert _retry_after_s(None, now, 3600) is None


def test_senders_refuse_bad_arguments(sqlite_store: Store) -> None:
    with pytest.raises(ValueError, match="url must be an https://"):
        WebhookSender(sqlite_store, "ftp://x")
    with pytest.raises(ValueError, match="timeout_s"):
        WebhookSender(sqlite_store, "http://127.0.0.1:1/", timeout_s=0)
    with pytest.raises(ValueError, match="qos must be 1 or 2"):
        MqttPublisher(sqlite_store, "mqtt://127.0.0.1:1", qos=0)
    with pytest.raises(ValueError, match="url must be mqtt"):
        MqttPublisher(sqlite_store, "http://127.0.0.1:1")
    with pytest.raises(ValueError, match="batch_size"):
        MqttPublisher(sqlite_store, "mqtt://127.0.0.1:1", batch_size=0)


# -- webhooks ---------------------------------------------------------------------------------------------


def test_webhook_delivers_signed_with_idempotency_key(store: Store, receiver: Receiver) -> None:
    messages = [
        *enqueue_intervals(store, meter_serial="MM1", intervals=day_of_intervals(1, 150), channel="webhook"),
        *enqueue_intervals(store, meter_serial="MM2", intervals=day_of_intervals(1, 10), channel="webhook"),
    ]
    enqueue_intervals(store, meter_serial="MM1", intervals=day_of_intervals(1, 10), channel="mqtt")
    with WebhookSender(store, receiver.url, secret="s3cret", backoff=FAST) as sender:
        stats = sender.run_once()
    assert stats == PushStats(sent=3, failed=0, dead_lettered=0, pending=0)
    assert store.outbox_pending(channel="mqtt") == 1  # another channel's message is left alone
    assert sorted(receiver.keys()) == sorted(m.idempotency_key for m in messages)
    for request in receiver.requests:
        body = request.json
        assert body["idempotency_key"] == request.headers[IDEMPOTENCY_HEADER]
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["Meshmeter-Attempt"] == "1"
        assert verify_signature("s3cret", request.body, request.headers[SIGNATURE_HEADER])
        assert not verify_signature("wrong", request.body, request.headers[SIGNATURE_HEADER])
    assert all(get(store, m).delivered_at is not None for m in messages)


def test_webhook_without_secret_sends_no_signature(sqlite_store: Store, receiver: Receiver) -> None:
    enqueue_intervals(sqlite_store, meter_serial="MM1", intervals=[(quarter(1), 1)], channel="webhook")
    with WebhookSender(sqlite_store, receiver.url) as sender:
        assert sender.run_once().sent == 1
    assert SIGNATURE_HEADER not in receiver.requests[0].headers


def test_webhook_5xx_retries_with_exponential_backoff(store: Store, receiver: Receiver) -> None:
    (a,) = enqueue_intervals(
        store, meter_serial="MM1", intervals=[(quarter(1), 1)], channel="webhook", now=T0
    )
    (b,) = enqueue_intervals(
        store, meter_serial="MM2", intervals=[(quarter(1), 2)], channel="webhook", now=T0
    )
    receiver.plan = [Planned(500), Planned(200)]  # a 500 backs that message off; the batch goes on
    with WebhookSender(store, receiver.url, backoff=FAST) as sender:
        assert sender.run_once(now=T0) == PushStats(sent=1, failed=1, pending=1)
        assert get(store, b).delivered_at is not None
        first = get(store, a)
        assert first.delivered_at is None
        assert first.attempts == 1
        assert first.next_attempt_at == T0 + timedelta(seconds=2)
        assert first.last_error is not None
        assert first.last_error.startswith("HTTP 500")

        assert sender.run_once(now=T0 + timedelta(seconds=1)) == PushStats(pending=1)  # not yet due
        receiver.plan = [Planned(503)]
        assert sender.run_once(now=T0 + timedelta(seconds=2)).failed == 1
        assert get(store, a).next_attempt_at == T0 + timedelta(seconds=2 + 4)
        assert sender.run_once(now=T0 + timedelta(seconds=6)) == PushStats(sent=1, pending=0)
    done = get(store, a)
    assert done.attempts == 3
    assert done.delivered_at is not None
    assert done.last_error is None
    attempts = [r.headers["Meshmeter-Attempt"] for r in receiver.requests if r.json["meter"] == "MM1"]
    assert attempts == ["1", "2", "3"]


def test_webhook_429_respects_retry_after_and_stops_the_batch(store: Store, receiver: Receiver) -> None:
    messages = [
        enqueue_intervals(
            store, meter_serial=f"MM{i}", intervals=[(quarter(1), i)], channel="webhook", now=T0
        )[0]
        for i in range(3)
    ]
    receiver.plan = [Planned(429, {"Retry-After": "30"})]
    with WebhookSender(store, receiver.url, backoff=FAST) as sender:
        assert sender.run_once(now=T0) == PushStats(failed=3, pending=3)
        assert len(receiver.requests) == 1  # the rest of the batch was not tried
        assert {get(store, m).next_attempt_at for m in messages} == {T0 + timedelta(seconds=30)}
        assert sender.run_once(now=T0 + timedelta(seconds=29)).sent == 0
        assert sender.run_once(now=T0 + timedelta(seconds=30)) == PushStats(sent=3, pending=0)
    assert sorted(receiver.keys()) == sorted(
        [messages[0].idempotency_key] + [m.idempotency_key for m in messages]
    )


def test_webhook_timeout_is_a_failure_with_backoff(sqlite_store: Store, receiver: Receiver) -> None:
    (message,) = enqueue_intervals(
        sqlite_store, meter_serial="MM1", intervals=[(quarter(1), 1)], channel="webhook"
    )
    receiver.plan = [Planned(200, delay_s=1.0)]  # answers too late: not delivered, whatever it then says
    with WebhookSender(sqlite_store, receiver.url, timeout_s=0.2, backoff=FAST) as sender:
        before = datetime.now(UTC)
        stats = sender.run_once()
        assert stats == PushStats(failed=1, pending=1)
        stored = get(sqlite_store, message)
        assert stored.delivered_at is None
        assert stored.last_error is not None
        assert "timeout" in stored.last_error
        assert stored.next_attempt_at >= before + timedelta(seconds=2)
        assert sender.last_error is not None
        assert "timeout" in sender.last_error


def test_webhook_permanent_refusal_is_dead_lettered_then_redriven(store: Store, receiver: Receiver) -> None:
    (message,) = enqueue_intervals(
        store, meter_serial="MM1", intervals=[(quarter(1), 1)], channel="webhook", now=T0
    )
    receiver.plan = [Planned(400), Planned(422)]
    with WebhookSender(store, receiver.url, backoff=FAST, dead_letter_after=2) as sender:
        assert sender.run_once(now=T0) == PushStats(failed=1, pending=1)  # attempt 1: back off
        assert sender.run_once(now=T0 + timedelta(seconds=2)) == PushStats(dead_lettered=1, pending=1)
        dead = get(store, message)
        assert is_dead_letter(dead)
        assert dead.next_attempt_at == DEAD_LETTER_AT
        assert dead.last_error is not None
        assert dead.last_error.startswith("dead-letter: HTTP 422")
        assert sender.run_once(now=datetime(9000, 1, 1, tzinfo=UTC)) == PushStats(pending=1)  # kept, not due
        redrive(store, message_id=message.id, now=T0 + timedelta(seconds=3))
        assert not is_dead_letter(get(store, message))
        assert sender.run_once(now=T0 + timedelta(seconds=3)) == PushStats(sent=1, pending=0)
    assert len(receiver.requests) == 3


def test_webhook_receiver_down_gets_everything_once_up(store: Store) -> None:
    port = free_port()
    messages = [
        m
        for serial in ("MM1", "MM2", "MM3")
        for m in enqueue_intervals(
            store, meter_serial=serial, intervals=day_of_intervals(1, 192), channel="webhook"
        )
    ]
    with WebhookSender(store, f"http://127.0.0.1:{port}/hook", backoff=FAST, timeout_s=2) as sender:
        now = datetime.now(UTC)
        assert sender.run_once(now=now) == PushStats(failed=6, pending=6)  # connection refused
        for m in messages:
            stored = get(store, m)
            assert stored.delivered_at is None
            assert stored.next_attempt_at > now
        receiver = Receiver(port)
        try:
            assert sender.run_once(now=now).sent == 0  # backing off
            assert sender.run_once(now=now + timedelta(seconds=3)) == PushStats(sent=6, pending=0)
            assert sorted(receiver.keys()) == sorted(m.idempotency_key for m in messages)  # each once
        finally:
            receiver.stop()


def test_webhook_restart_picks_up_unsettled_claims(store_url: URL | str, receiver: Receiver) -> None:
    first = Store(store_url)
    try:
        messages = enqueue_intervals(
            first, meter_serial="MM1", intervals=day_of_intervals(1, 288), channel="webhook", now=T0
        )
        # a sender claimed them and died before settling any (no delivered/failed mark)
        assert len(first.outbox_claim(channel="webhook", now=T0, lease_s=60)) == 3
    finally:
        first.close()
    second = Store(store_url)  # the head-end starts again
    try:
        with WebhookSender(second, receiver.url, backoff=FAST) as sender:
            assert sender.run_once(now=T0 + timedelta(seconds=30)) == PushStats(pending=3)  # still leased
            assert sender.run_once(now=T0 + timedelta(seconds=60)) == PushStats(sent=3, pending=0)
        assert sorted(receiver.keys()) == sorted(m.idempotency_key for m in messages)
        assert all(get(second, m).attempts == 2 for m in messages)
    finally:
        second.close()


# -- MQTT, against the real broker ------------------------------------------------------------------------


@dataclass
class Subscriber:
    prefix: str
    messages: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keys(self) -> list[str]:
        with self.lock:
            return [body["idempotency_key"] for _topic, body, _props in self.messages]

    def count(self) -> int:
        with self.lock:
            return len(self.messages)


@pytest.fixture
def subscriber(mqtt_url: str) -> Iterator[Subscriber]:
    """A second client subscribed (QoS 1, MQTT 5) to a topic prefix of this test alone."""
    sub = Subscriber(f"meshmeter-test-{secrets.token_hex(6)}/push")
    host, port, _tls, _user, _password = parse_mqtt_url(mqtt_url)
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"meshmeter-test-sub-{secrets.token_hex(4)}",
        protocol=mqtt.MQTTv5,
    )
    subscribed = threading.Event()

    def on_connect(
        client: mqtt.Client, userdata: Any, flags: Any, reason_code: ReasonCode, properties: Any
    ) -> None:
        client.subscribe(f"{sub.prefix}/#", qos=1)

    def on_subscribe(client: mqtt.Client, userdata: Any, mid: int, codes: Any, properties: Any) -> None:
        subscribed.set()

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        props: Properties | None = getattr(message, "properties", None)
        user = dict(getattr(props, "UserProperty", []) or [])
        with sub.lock:
            sub.messages.append((message.topic, json.loads(message.payload), user))

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(host, port)
    client.loop_start()
    try:
        assert subscribed.wait(10), "no SUBACK"
        yield sub
    finally:
        client.disconnect()
        client.loop_stop()


def test_mqtt_publishes_every_message_with_its_key(
    store: Store, mqtt_url: str, subscriber: Subscriber
) -> None:
    messages = [
        m
        for serial in ("MM00000001", "MM00000002")
        for m in enqueue_intervals(
            store, meter_serial=serial, intervals=day_of_intervals(1, 192), channel="mqtt"
        )
    ]
    messages += [
        store.outbox_enqueue(channel="mqtt", idempotency_key=f"alert-{i}", payload={"kind": "tamper", "n": i})
        for i in range(20)
    ]
    enqueue_intervals(store, meter_serial="MM1", intervals=[(quarter(1), 1)], channel="webhook")
    with MqttPublisher(store, mqtt_url, topic_prefix=subscriber.prefix, backoff=FAST) as publisher:
        assert publisher.run_once() == PushStats(sent=24, pending=0)
        assert publisher.connected
    wait_for(lambda: subscriber.count() >= 24)
    assert sorted(subscriber.keys()) == sorted(m.idempotency_key for m in messages)
    by_key = {m.idempotency_key: m for m in messages}
    for topic, body, user in subscriber.messages:
        message = by_key[body["idempotency_key"]]
        assert topic == push_topic(message, subscriber.prefix)
        assert user == {"idempotency-key": message.idempotency_key}
        assert body == wire_body(message)
    assert all(get(store, m).delivered_at is not None for m in messages)
    assert store.outbox_pending(channel="webhook") == 1


def test_mqtt_broker_down_keeps_messages_then_delivers_after_restart(
    store_url: URL | str, mqtt_url: str, subscriber: Subscriber
) -> None:
    first = Store(store_url)
    try:
        messages = enqueue_intervals(
            first, meter_serial="MM00000001", intervals=day_of_intervals(1, 384), channel="mqtt"
        )
        with MqttPublisher(
            first, "mqtt://127.0.0.1:1", topic_prefix=subscriber.prefix, backoff=FAST, connect_timeout_s=1
        ) as down:
            now = datetime.now(UTC)
            assert down.run_once(now=now) == PushStats(failed=4, pending=4)
            assert down.last_error is not None
            assert "cannot be reached" in down.last_error
        for m in messages:
            stored = get(first, m)
            assert stored.delivered_at is None
            assert stored.attempts == 1
            assert stored.next_attempt_at >= now + timedelta(seconds=2)
    finally:
        first.close()
    second = Store(store_url)  # the head-end restarts, now pointed at a broker that is up
    try:
        with MqttPublisher(second, mqtt_url, topic_prefix=subscriber.prefix, backoff=FAST) as publisher:
            assert publisher.run_once(now=now) == PushStats(pending=4)  # backing off
            assert publisher.run_once(now=now + timedelta(seconds=3)) == PushStats(sent=4, pending=0)
        wait_for(lambda: subscriber.count() >= 4)
        assert sorted(subscriber.keys()) == sorted(m.idempotency_key for m in messages)
    finally:
        second.close()


class SilentBroker:
    """A TCP listener on 127.0.0.1 that answers CONNECT with a CONNACK (or nothing) and never a PUBACK."""

    def __init__(self, *, connack: bool) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.05)
        self.url = f"mqtt://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connack = connack
        self.received = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(0.05)
                answered = False
                while not self.stopping.is_set():
                    try:
                        data = connection.recv(65536)
                    except TimeoutError:
                        continue
                    except OSError:
                        break
                    if not data:
                        break
                    self.received += len(data)
                    if self.connack and not answered:
                        connection.sendall(b"\x20\x03\x00\x00\x00")  # MQTT 5 CONNACK, success
                        answered = True

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()


@pytest.mark.parametrize("connack", [False, True], ids=["no-connack", "no-puback"])
def test_mqtt_unacknowledged_is_never_delivered(sqlite_store: Store, connack: bool) -> None:
    messages = [
        enqueue_intervals(sqlite_store, meter_serial=f"MM{i}", intervals=[(quarter(1), i)], channel="mqtt")[0]
        for i in range(3)
    ]
    broker = SilentBroker(connack=connack)
    try:
        with MqttPublisher(
            sqlite_store, broker.url, backoff=FAST, connect_timeout_s=0.3, publish_timeout_s=0.3
        ) as publisher:
            now = datetime.now(UTC)
            assert publisher.run_once(now=now) == PushStats(failed=3, pending=3)
            assert not publisher.connected  # dropped: the next run connects afresh
            error = publisher.last_error
            assert error is not None
            assert ("no PUBACK" if connack else "no CONNACK") in error
    finally:
        broker.stop()
    for m in messages:
        stored = get(sqlite_store, m)
        assert stored.delivered_at is None
        assert stored.next_attempt_at >= now + timedelta(seconds=2)


def test_mqtt_run_loop_until_stopped(sqlite_store: Store, mqtt_url: str, subscriber: Subscriber) -> None:
    publisher = MqttPublisher(
        sqlite_store, mqtt_url, topic_prefix=subscriber.prefix, batch_size=2, poll_interval_s=0.05
    )
    stop = threading.Event()
    thread = threading.Thread(target=publisher.run, args=(stop,))
    thread.start()
    try:
        messages = enqueue_intervals(
            sqlite_store, meter_serial="MM1", intervals=day_of_intervals(1, 96 * 5), channel="mqtt"
        )
        wait_for(lambda: subscriber.count() >= 5)
        wait_for(lambda: sqlite_store.outbox_pending(channel="mqtt") == 0)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert not publisher.connected
    assert sorted(subscriber.keys()) == sorted(m.idempotency_key for m in messages)
