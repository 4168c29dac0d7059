"""The head-end behind the DCAP: ingest (``docs/ingest.md``), and later VEE, alerts, push and exports.

Ingest takes interval data from the simulated DCAP in process (:func:`ingest_deliveries`), from files and
HTTP bodies (:func:`ingest_json`, :func:`ingest_csv`) and from an MQTT broker
(:class:`meshmeter.headend.mqtt.MqttIngestor`), into the store.
"""

from __future__ import annotations

from meshmeter.headend.ingest import (
    CSV_COLUMNS,
    MAX_CUMULATIVE_WH,
    IngestError,
    IngestReason,
    IngestResult,
    ingest_csv,
    ingest_deliveries,
    ingest_json,
)
from meshmeter.headend.mqtt import MqttConnectionError, MqttIngestor, interval_topic

__all__ = [
    "CSV_COLUMNS",
    "MAX_CUMULATIVE_WH",
    "IngestError",
    "IngestReason",
    "IngestResult",
    "MqttConnectionError",
    "MqttIngestor",
    "ingest_csv",
    "ingest_deliveries",
    "ingest_json",
    "interval_topic",
]
