"""MQTT ingest against the real broker (``MESHMETER_TEST_MQTT_URL``), and message handling without one."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from meshmeter.headend.mqtt import MqttConnectionError, MqttIngestor, interval_topic, parse_mqtt_url
from meshmeter.store import Store
from tests.headend.conftest import add_meter

START = datetime(2025, 12, 31, tzinfo=UTC)
END = datetime(2026, 1, 3, tzinfo=UTC)


def payload(minute: int, energy_wh: int, serial: str = "MM00000001") -> bytes:
    end = f"2026-01-01T{minute // 60:02d}:{minute % 60:02d}:00Z"
    return json.dumps(
        {"meter": serial, "intervals": [{"interval_end": end, "energy_wh": energy_wh}]}
    ).encode()


def energies(store: Store) -> list[int]:
    meter = store.get_meter(serial="MM00000001")
    assert meter is not None
    return [r.energy_wh for r in store.raw_intervals(meter_id=meter.id, start=START, end=END)]


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {timeout_s} s")
        time.sleep(0.02)


@pytest.fixture
def prefix() -> str:
    """A topic prefix of this test alone."""
    return f"meshmeter-test-{secrets.token_hex(6)}/v1"


@pytest.fixture
def publisher(mqtt_url: str) -> Iterator[Callable[[str, bytes], None]]:
    """Publish with QoS 1, waiting for the broker's acknowledgement."""
    host, port, _tls, _user, _password = parse_mqtt_url(mqtt_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"meshmeter-test-pub-{secrets.token_hex(4)}")
    client.connect(host, port)
    client.loop_start()

    def publish(topic: str, body: bytes) -> None:
        client.publish(topic, body, qos=1).wait_for_publish(timeout=10)

    try:
        yield publish
    finally:
        client.disconnect()
        client.loop_stop()


# -- without a broker ---------------------------------------------------------------------------------


def test_topic_layout() -> None:
    assert interval_topic("campus-a", "MM1") == "meshmeter/v1/campus-a/meters/MM1/intervals"
    with pytest.raises(ValueError, match="serial"):
        interval_topic("campus-a", "MM/1")
    ingestor = MqttIngestor(Store("sqlite:///:memory:"), topic_prefix="x/v1", site="campus-a")
    assert ingestor.subscription == "x/v1/campus-a/meters/+/intervals"
    assert ingestor.serial_of("x/v1/campus-a/meters/MM1/intervals") == "MM1"
    for topic in ("x/v1/campus-a/meters/MM1", "y/v1/a/meters/MM1/intervals", "x/v1/a/meter/MM1/intervals"):
        assert ingestor.serial_of(topic) is None
    shared = MqttIngestor(Store("sqlite:///:memory:"), shared_group="ingest")
    assert shared.subscription == "$share/ingest/meshmeter/v1/+/meters/+/intervals"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://127.0.0.1:1883", ("127.0.0.1", 1883, False, None, None)),
        ("mqtt://broker", ("broker", 1883, False, None, None)),
        ("mqtts://u:p%40ss@broker", ("broker", 8883, True, "u", "p@ss")),
    ],
)
def test_parse_mqtt_url(url: str, expected: tuple[object, ...]) -> None:
    assert parse_mqtt_url(url) == expected


@pytest.mark.parametrize("url", ["http://broker", "mqtt://", "mqtt://h:99999", 1883])
def test_bad_urls_and_arguments(url: object) -> None:
    with pytest.raises(ValueError, match="url"):
        parse_mqtt_url(url)  # type: ignore[arg-type]


def test_persistent_sessions_need_a_client_id() -> None:
    with pytest.raises(ValueError, match="client_id"):
        MqttIngestor(Store("sqlite:///:memory:"), persistent=True)


def test_handle_counts_rejections_by_reason(sqlite_store: Store) -> None:
    add_meter(sqlite_store)
    ingestor = MqttIngestor(sqlite_store, topic_prefix="p/v1")
    topic = "p/v1/site/meters/MM00000001/intervals"
    assert ingestor.handle(topic, payload(15, 120)) is not None
    assert ingestor.handle(topic, b"{not json") is None
    assert ingestor.handle("p/v1/site/meters/MM00000001/other", payload(30, 1)) is None
    assert ingestor.handle("p/v1/site/meters/MM00000002/intervals", payload(30, 1)) is None
    assert ingestor.handle(topic, payload(31, 1)) is None
    assert ingestor.rejected == {"malformed": 1, "bad_topic": 1, "meter_mismatch": 1, "not_aligned": 1}
    assert (ingestor.messages, ingestor.accepted, ingestor.rejected_total) == (5, 1, 4)
    assert energies(sqlite_store) == [120]


def test_an_unreachable_broker_raises() -> None:
    ingestor = MqttIngestor(Store("sqlite:///:memory:"), "mqtt://127.0.0.1:1")
    with pytest.raises(MqttConnectionError, match="cannot be reached"):
        ingestor.start(timeout_s=2)


# -- against the broker -------------------------------------------------------------------------------


@pytest.mark.mqtt
def test_messages_are_stored_and_bad_ones_counted(
    sqlite_store: Store, mqtt_url: str, prefix: str, publisher: Callable[[str, bytes], None]
) -> None:
    add_meter(sqlite_store)
    topic = interval_topic("campus-a", "MM00000001", topic_prefix=prefix)
    with MqttIngestor(sqlite_store, mqtt_url, topic_prefix=prefix) as ingestor:
        assert ingestor.connected
        publisher(topic, payload(15, 120))
        publisher(topic, b"\xff not json")
        publisher(interval_topic("campus-a", "MM00000009", topic_prefix=prefix), payload(15, 5, "MM00000009"))
        publisher(topic, payload(30, 99_999))
        publisher(topic, payload(15, 120))  # again: a duplicate, stored once
        publisher(topic, payload(30, 80))  # the loop goes on after the bad ones
        wait_for(lambda: ingestor.accepted + ingestor.rejected_total + ingestor.failed == 6)  # handled
    assert energies(sqlite_store) == [120, 80]
    assert ingestor.rejected == {"malformed": 1, "unknown_meter": 1, "energy_too_high": 1}
    assert ingestor.accepted == 3
    assert (ingestor.result.new, ingestor.result.duplicates) == (2, 1)
    assert ingestor.failed == 0


@pytest.mark.mqtt
def test_a_persistent_session_gets_what_was_published_while_away(
    sqlite_store: Store, mqtt_url: str, prefix: str, publisher: Callable[[str, bytes], None]
) -> None:
    add_meter(sqlite_store)
    topic = interval_topic("campus-a", "MM00000001", topic_prefix=prefix)
    client_id = f"meshmeter-test-{secrets.token_hex(6)}"
    first = MqttIngestor(sqlite_store, mqtt_url, topic_prefix=prefix, client_id=client_id, persistent=True)
    first.start()
    first.stop()  # the session stays on the broker
    publisher(topic, payload(15, 10))
    publisher(topic, payload(30, 20))
    again = MqttIngestor(sqlite_store, mqtt_url, topic_prefix=prefix, client_id=client_id, persistent=True)
    with again:
        wait_for(lambda: again.accepted == 2)
    assert energies(sqlite_store) == [10, 20]
    with MqttIngestor(sqlite_store, mqtt_url, topic_prefix=prefix, client_id=client_id):
        pass  # a clean session of the same id ends the persistent one on the broker


@pytest.mark.mqtt
def test_a_store_failure_is_not_acknowledged_and_comes_again(
    sqlite_store: Store,
    mqtt_url: str,
    prefix: str,
    publisher: Callable[[str, bytes], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_meter(sqlite_store)
    topic = interval_topic("campus-a", "MM00000001", topic_prefix=prefix)
    client_id = f"meshmeter-test-{secrets.token_hex(6)}"
    broken = MqttIngestor(sqlite_store, mqtt_url, topic_prefix=prefix, client_id=client_id, persistent=True)

    def fail(**kwargs: object) -> int:
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(sqlite_store, "insert_raw_interval_batches", fail)
        with broken:
            publisher(topic, payload(15, 10))
            wait_for(lambda: broken.failed == 1)
    assert "disk full" in (broken.last_error or "")
    assert energies(sqlite_store) == []
    healthy = MqttIngestor(sqlite_store, mqtt_url, topic_prefix=prefix, client_id=client_id, persistent=True)
    with healthy:
        wait_for(lambda: healthy.accepted == 1)
    assert energies(sqlite_store) == [10]
    with MqttIngestor(sqlite_store, mqtt_url, topic_prefix=prefix, client_id=client_id):
        pass  # a clean session of the same id ends the persistent one on the broker
