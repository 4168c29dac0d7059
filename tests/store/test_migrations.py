"""Versioned migrations: idempotent, refuse a database newer than the code, build the whole schema."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, inspect, select

from meshmeter.store import LATEST_VERSION, METADATA, MIGRATIONS, SchemaVersionError, make_engines, migrate
from meshmeter.store.migrations import current_version
from meshmeter.store.schema import schema_version


@pytest.fixture
def engines(store_url):
    made = make_engines(store_url)
    try:
        yield made
    finally:
        made.dispose()


def _snapshot(engine):
    with engine.connect() as c:
        inspector = inspect(c)
        tables = {
            name: sorted(col["name"] for col in inspector.get_columns(name))
            for name in inspector.get_table_names()
        }
        versions = c.execute(select(schema_version).order_by(schema_version.c.version)).all()
    return tables, versions


def test_fresh_database_is_at_version_zero(engines):
    with engines.writer.connect() as c:
        assert current_version(c) == 0


def test_migrate_creates_every_table_of_the_metadata(engines):
    assert migrate(engines.writer) == LATEST_VERSION
    tables, versions = _snapshot(engines.writer)
    assert set(tables) == set(METADATA.tables)
    for name, table in METADATA.tables.items():
        assert tables[name] == sorted(table.columns.keys()), name
    assert [row.version for row in versions] == [m.version for m in MIGRATIONS]


def test_migrate_twice_changes_nothing(engines):
    first = migrate(engines.writer, now=datetime(2024, 1, 1, tzinfo=UTC))
    before = _snapshot(engines.writer)
    second = migrate(engines.writer, now=datetime(2025, 1, 1, tzinfo=UTC))
    assert first == second == LATEST_VERSION
    assert _snapshot(engines.writer) == before


def test_database_newer_than_code_is_refused(engines):
    migrate(engines.writer)
    newer = LATEST_VERSION + 1
    with engines.writer.begin() as c:
        c.execute(
            insert(schema_version).values(
                version=newer, description="from the future", applied_at=datetime.now(UTC)
            )
        )
    with pytest.raises(SchemaVersionError, match=rf"version {newer}.*version {LATEST_VERSION}") as info:
        migrate(engines.writer)
    assert info.value.database_version == newer
    assert info.value.code_version == LATEST_VERSION
    with engines.writer.connect() as c:
        assert current_version(c) == newer
