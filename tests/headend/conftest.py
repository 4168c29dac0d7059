"""Fixtures of the head-end's tests: a store on a temporary SQLite file (and PostgreSQL), an MQTT broker.

The PostgreSQL cases reuse the store tests' fixtures (``tests/store/conftest.py``): each test on an empty
migrated schema of the server at ``MESHMETER_TEST_POSTGRES_URL``; skipped without the variable,
failed in CI when the server cannot be reached. The MQTT cases need ``MESHMETER_TEST_MQTT_URL`` (e.g.
``mqtt://127.0.0.1:1883``) likewise: skipped without it; with it, an unreachable broker skips them
locally and fails them in CI (``CI=true``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from meshmeter.headend.mqtt import parse_mqtt_url
from meshmeter.store import Meter, Store
from tests.store.conftest import _postgres_session_schema, postgres_empty_url, postgres_schema_url

__all__ = ["EUI", "KEY", "_postgres_session_schema", "add_meter", "postgres_empty_url", "postgres_schema_url"]

MQTT_ENV = "MESHMETER_TEST_MQTT_URL"

EUI = bytes.fromhex("0011223344556677")
KEY = bytes(range(16))


def add_meter(store: Store, serial: str = "MM00000001", eui64: bytes | None = EUI) -> Meter:
    """A meter, with an MDT of this EUI-64 counting its output "10" (none when ``eui64`` is None)."""
    meter = store.create_meter(serial=serial, designation="MM-D1202001-T-SCC", ct_ratio=2000)
    if eui64 is not None:
        store.create_mdt(eui64=eui64, kit="MMSMT-C02", key=KEY, meter_id=meter.id)
    return meter


@pytest.fixture(params=["sqlite-file", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store on a SQLite file, and on PostgreSQL where its URL is set."""
    url: URL | str
    if request.param == "sqlite-file":
        url = f"sqlite:///{tmp_path / 'meshmeter.db'}"
    else:
        url = request.getfixturevalue("postgres_empty_url")
    opened = Store(url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated store on a temporary SQLite file."""
    opened = Store(f"sqlite:///{tmp_path / 'meshmeter.db'}")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def mqtt_url() -> str:
    """The test broker's URL; skip (or, in CI, fail) when it is not set or cannot be reached."""
    url = os.environ.get(MQTT_ENV)
    if not url:
        pytest.skip(f"MQTT tests need {MQTT_ENV} (e.g. mqtt://127.0.0.1:1883)")
    host, port, _tls, _user, _password = parse_mqtt_url(url)
    try:
        with socket.create_connection((host, port), timeout=5):
            pass
    except OSError as exc:
        message = f"the MQTT broker at {url} cannot be reached: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return url
