"""The MQTT ingestor reading payloads in a named ingest format, on the real broker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from meshmeter.headend.mapping import UnknownFormatError
from meshmeter.headend.mqtt import MqttIngestor, interval_topic
from meshmeter.store import Store
from tests.headend.test_mqtt import prefix, publisher, wait_for

__all__ = ["prefix", "publisher"]


def test_an_unknown_format_is_refused_when_the_ingestor_is_made() -> None:
    with pytest.raises(UnknownFormatError, match="'nope'"):
        MqttIngestor(Store("sqlite:///:memory:"), ingest_format="nope")


@pytest.mark.mqtt
def test_payloads_in_a_saved_format(
    sqlite_store: Store, mqtt_url: str, prefix: str, publisher: Callable[[str, bytes], None]
) -> None:
    sqlite_store.create_meter(serial="UTIL-1", designation="MM-1", ct_ratio=2000, interval_s=3600)
    sqlite_store.save_ingest_format(
        name="vendor",
        mapping={
            "kind": "json",
            "rows_path": "readings",
            "time_column": "ts",
            "energy_column": "kwh",
            "energy_unit": "kWh",
            "interval_minutes": 60,
        },
    )
    topic = interval_topic("campus-a", "UTIL-1", topic_prefix=prefix)
    with MqttIngestor(sqlite_store, mqtt_url, topic_prefix=prefix, ingest_format="vendor") as ingestor:
        publisher(topic, b'{"readings": [{"ts": "2026-01-01T01:00:00Z", "kwh": 1.25}]}')
        publisher(topic, b'{"readings": [{"ts": "2026-01-01T02:00:00Z", "kwh": 1.2345}]}')  # sub-Wh
        publisher(topic, b'{"readings": [{"ts": "2026-01-01T02:00:00Z", "kwh": 2}]}')
        wait_for(lambda: ingestor.accepted + ingestor.rejected_total + ingestor.failed == 3)  # handled
    assert ingestor.rejected == {"not_whole_wh": 1}
    meter = sqlite_store.get_meter(serial="UTIL-1")
    assert meter is not None
    rows = sqlite_store.raw_intervals(
        meter_id=meter.id, start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 1, 2, tzinfo=UTC)
    )
    assert [r.energy_wh for r in rows] == [1250, 2000]
