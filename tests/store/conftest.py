"""Shared fixtures of the store's tests: every backend, each test on a fresh database.

The backends: a SQLite file in a temporary directory, SQLite in memory, and PostgreSQL where
``MESHMETER_TEST_POSTGRES_URL`` is set. On PostgreSQL each test gets a schema of its own (a random name,
first on the ``search_path``), dropped afterwards, so tests never see each other's rows. Without the
variable the PostgreSQL cases are skipped with a reason; with it, an unreachable server skips them
locally but fails them in CI (``CI=true``), as ``.ci/run`` expects.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import URL

from meshmeter.store import METADATA, Store, database_url

POSTGRES_ENV = "MESHMETER_TEST_POSTGRES_URL"


def _libpq_url(url: URL) -> str:
    """The URL as libpq takes it (no SQLAlchemy driver name)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_base_url() -> URL:
    """The test server's URL; skip (or, in CI, fail) when it is not set or cannot be reached."""
    text = os.environ.get(POSTGRES_ENV)
    if not text:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    url = database_url(text)
    try:
        with psycopg.connect(_libpq_url(url), connect_timeout=5):
            pass
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL at {url.render_as_string(hide_password=True)} cannot be reached: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def postgres_schema_url() -> Iterator[URL]:
    """A URL whose connections work in a fresh, private schema of the test server."""
    base = postgres_base_url()
    schema = f"test_store_{secrets.token_hex(6)}"
    with psycopg.connect(_libpq_url(base), autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"})
    finally:
        with psycopg.connect(_libpq_url(base), autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session")
def _postgres_session_schema() -> Iterator[URL]:
    """A private schema of the test server, migrated once for the whole session."""
    base = postgres_base_url()
    schema = f"test_session_{secrets.token_hex(6)}"
    with psycopg.connect(_libpq_url(base), autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        Store(url).close()  # migrate
        yield url
    finally:
        with psycopg.connect(_libpq_url(base), autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def postgres_empty_url(_postgres_session_schema: URL) -> URL:
    """A migrated, empty schema of the test server: the session's, every table but ``schema_version``
    emptied and every id sequence restarted.

    Emptying a migrated schema takes a few milliseconds where making and migrating one takes a few
    hundred (and ``TRUNCATE`` of every table about a hundred). Tests of the schema itself (migrations)
    take :func:`postgres_schema_url`, a fresh schema each.
    """
    deletes = "".join(
        f'DELETE FROM "{t.name}";' for t in reversed(METADATA.sorted_tables) if t.name != "schema_version"
    )
    with psycopg.connect(_libpq_url(_postgres_session_schema), autocommit=True) as connection:
        sequences = [
            name
            for (name,) in connection.execute(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"
            )
        ]
        restart = "".join(f'ALTER SEQUENCE "{name}" RESTART;' for name in sequences)
        connection.execute(f"BEGIN;{deletes}{restart}COMMIT;".encode())
    return _postgres_session_schema


BACKENDS = [
    "sqlite-file",
    "sqlite-memory",
    pytest.param("postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> URL | str:
    """The URL of a fresh, empty database on each backend."""
    if request.param == "sqlite-file":
        return f"sqlite:///{tmp_path / 'meshmeter.db'}"
    if request.param == "sqlite-memory":
        return "sqlite:///:memory:"
    url: URL = request.getfixturevalue("postgres_schema_url")
    return url


@pytest.fixture(params=[b for b in BACKENDS if b != "sqlite-memory"])
def durable_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> URL | str:
    """The URL of a fresh database that outlives its engines: a SQLite file, or PostgreSQL."""
    if request.param == "sqlite-file":
        return f"sqlite:///{tmp_path / 'meshmeter.db'}"
    url: URL = request.getfixturevalue("postgres_schema_url")
    return url


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store on each backend."""
    url: URL | str
    if request.param == "sqlite-file":
        url = f"sqlite:///{tmp_path / 'meshmeter.db'}"
    elif request.param == "sqlite-memory":
        url = "sqlite:///:memory:"
    else:
        url = request.getfixturevalue("postgres_empty_url")
    opened = Store(url)
    try:
        yield opened
    finally:
        opened.close()
