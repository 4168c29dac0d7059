"""Fixtures of the API's tests: the app in process (TestClient) over a fresh store on each backend.

Backends: a SQLite file in a temporary directory, and PostgreSQL where ``MESHMETER_TEST_POSTGRES_URL`` is
set (a migrated schema of the session, emptied for each test:
:func:`tests.store.conftest.postgres_empty_url`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import URL
from starlette.exceptions import StarletteDeprecationWarning

from meshmeter.api import Settings, create_app
from meshmeter.store import Store
from tests.store.conftest import _postgres_session_schema, postgres_empty_url

__all__ = ["_postgres_session_schema", "postgres_empty_url"]  # fixtures of the API tests

with warnings.catch_warnings():
    # Starlette's TestClient warns that it would prefer httpx2; the httpx it has works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

ADMIN_TOKEN = "bootstrap-" + "a" * 40
ROLES = ("admin", "operator", "billing", "read-only")
T0 = datetime(2024, 3, 1, 8, tzinfo=UTC)
"""Local midnight of 2024-03-01 in America/Los_Angeles (PST, UTC-8)."""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store on each backend."""
    if request.param == "sqlite":
        url: URL | str = f"sqlite:///{tmp_path / 'meshmeter.db'}"
    else:
        url = request.getfixturevalue("postgres_empty_url")
    opened = Store(url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    app = create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))
    with TestClient(app) as c:
        yield c


@pytest.fixture
def tokens(store: Store) -> dict[str, str]:
    """A stored token of each role."""
    return {role: store.create_api_token(role=role, label=f"test {role}")[1] for role in ROLES}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ADMIN = bearer(ADMIN_TOKEN)


@pytest.fixture
def site_data(store: Store) -> dict[str, int]:
    """Two sites, three meters; M1 has 3 days of 100 Wh intervals from local midnight of 2024-03-01
    (Los Angeles), two register reads and two events; tenant Tess in unit 2A on M2 from 2024-03-11."""
    la = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
    ny = store.create_site(name="Elm House", timezone="America/New_York")
    m1 = store.create_meter(
        serial="M1", designation="MM-1", ct_ratio=2000, install_date=date(2024, 1, 2), site_id=la.id
    )
    m2 = store.create_meter(serial="M2", designation="MM-1", ct_ratio=2000, site_id=la.id)
    m3 = store.create_meter(serial="M3", designation="MM-2", ct_ratio=4000, multiplier=2, site_id=ny.id)
    rows = [(T0 + timedelta(minutes=15 * (i + 1)), 100, 100 * (i + 1)) for i in range(96 * 3)]
    store.insert_raw_intervals(meter_id=m1.id, rows=rows, source="test")
    store.add_register_read(meter_id=m1.id, read_at=T0, energy_wh=0)
    store.add_register_read(meter_id=m1.id, read_at=T0 + timedelta(days=1), energy_wh=9600)
    store.add_event(kind="tamper", at=T0 + timedelta(hours=1), meter_id=m1.id, detail={"switch": "open"})
    store.add_event(kind="low_battery", at=T0 + timedelta(hours=2), eui64=bytes(range(8)))
    tess = store.create_tenant(name="Tess")
    store.create_account(tenant_id=tess.id, meter_id=m2.id, unit="2A", move_in=T0 + timedelta(days=10))
    return {"la": la.id, "ny": ny.id, "m1": m1.id, "m2": m2.id, "m3": m3.id, "tess": tess.id}
