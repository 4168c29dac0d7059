"""Fixtures of the collector's tests: a store on SQLite (and PostgreSQL), the MQTT broker.

The store and broker fixtures are the head-end's (``tests/headend/conftest.py``): PostgreSQL and MQTT cases
run where ``MESHMETER_TEST_POSTGRES_URL`` and ``MESHMETER_TEST_MQTT_URL`` are set, and fail in CI when the
server cannot be reached.
"""

from __future__ import annotations

from tests.headend.conftest import (
    _postgres_session_schema,
    mqtt_url,
    postgres_empty_url,
    postgres_schema_url,
    sqlite_store,
    store,
)

__all__ = [
    "_postgres_session_schema",
    "mqtt_url",
    "postgres_empty_url",
    "postgres_schema_url",
    "sqlite_store",
    "store",
]
