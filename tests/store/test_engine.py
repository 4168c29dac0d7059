"""Engines: URL selection, SQLite set-up (WAL, foreign keys, one writer)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from meshmeter.store import DEFAULT_DATABASE_URL, ENV_DATABASE_URL, database_url, make_engines


def test_default_url_is_sqlite_file_in_cwd(monkeypatch):
    monkeypatch.delenv(ENV_DATABASE_URL, raising=False)
    assert DEFAULT_DATABASE_URL == "sqlite:///meshmeter.db"
    assert database_url().render_as_string() == "sqlite:///meshmeter.db"


def test_env_selects_postgresql_with_psycopg(monkeypatch):
    monkeypatch.setenv(ENV_DATABASE_URL, "postgresql://postgres@127.0.0.1:5432/test")
    url = database_url()
    assert url.drivername == "postgresql+psycopg"
    assert url.host == "127.0.0.1"
    assert url.database == "test"


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///:memory:", "sqlite"),
    ],
)
def test_explicit_url_wins(monkeypatch, given, driver):
    monkeypatch.setenv(ENV_DATABASE_URL, "sqlite:///elsewhere.db")
    assert database_url(given).drivername == driver


def test_other_backend_refused():
    with pytest.raises(ValueError, match="database url must be sqlite:// or postgresql://"):
        database_url("mysql://u@h/db")


def test_sqlite_file_is_wal_with_foreign_keys(tmp_path: Path):
    engines = make_engines(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        for engine in (engines.writer, engines.reader):
            with engine.connect() as c:
                assert c.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
                assert c.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        assert engines.writer is not engines.reader
        assert engines.writer.pool.size() == 1  # type: ignore[attr-defined]
    finally:
        engines.dispose()


def test_sqlite_memory_is_one_shared_connection():
    engines = make_engines("sqlite:///:memory:")
    try:
        assert engines.writer is engines.reader
        with engines.writer.begin() as c:
            c.execute(text("CREATE TABLE t (x INTEGER)"))
            c.execute(text("INSERT INTO t VALUES (1)"))
        with engines.reader.connect() as c:
            assert c.execute(text("SELECT x FROM t")).scalar_one() == 1
    finally:
        engines.dispose()


def test_sqlite_write_transactions_begin_immediate(tmp_path: Path):
    """A write transaction holds the write lock from its start: another writer cannot slip in."""
    path = tmp_path / "m.db"
    engines = make_engines(f"sqlite:///{path}")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with engines.writer.begin() as c:
            c.execute(text("CREATE TABLE t (x INTEGER)"))
        with engines.writer.begin() as c:
            c.execute(text("SELECT 1"))  # only reads so far, yet the write lock is already held
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # released at commit
        other.execute("ROLLBACK")
    finally:
        other.close()
        engines.dispose()


@pytest.mark.parametrize(("setting", "level"), [(None, 1), ("full", 2), (" EXTRA ", 3), ("normal", 1)])
def test_sqlite_synchronous_is_normal_unless_set(tmp_path: Path, monkeypatch, setting, level):
    """PRAGMA synchronous: 1 NORMAL (the default in WAL mode), 2 FULL, 3 EXTRA."""
    if setting is None:
        monkeypatch.delenv("MESHMETER_SQLITE_SYNCHRONOUS", raising=False)
    else:
        monkeypatch.setenv("MESHMETER_SQLITE_SYNCHRONOUS", setting)
    engines = make_engines(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        for engine in (engines.writer, engines.reader):
            with engine.connect() as c:
                assert c.execute(text("PRAGMA synchronous")).scalar_one() == level
    finally:
        engines.dispose()


@pytest.mark.parametrize("setting", ["OFF", "fast", "0"])
def test_sqlite_synchronous_off_or_unknown_is_refused(tmp_path: Path, monkeypatch, setting):
    monkeypatch.setenv("MESHMETER_SQLITE_SYNCHRONOUS", setting)
    with pytest.raises(ValueError, match="MESHMETER_SQLITE_SYNCHRONOUS must be one of NORMAL, FULL, EXTRA"):
        make_engines(f"sqlite:///{tmp_path / 'm.db'}")
    assert not (tmp_path / "m.db").exists()


def _concurrent(n: int, call) -> None:
    """Run ``call`` in ``n`` threads at once (a barrier lines them up), as the API's worker threads do."""
    import threading

    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            call()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def test_concurrent_readers_reuse_pooled_connections(durable_store_url):
    """Issue 12 (readers under load): twenty readers at once, five times over, open twenty connections,
    not one per request (SQLAlchemy's default pool kept 5 + 10 and opened and closed the rest each time)."""
    from sqlalchemy import event

    from meshmeter.store import Store
    from meshmeter.store.engine import READ_POOL_SIZE

    with Store(durable_store_url) as store:
        store.create_meter(serial="MM-1", designation="6PSMT-200D", ct_ratio=200)
        opened: list[object] = []
        event.listen(store.engines.reader, "connect", lambda *_: opened.append(1))
        for _ in range(5):
            _concurrent(20, lambda: store.get_meter(serial="MM-1"))
        assert store.engines.reader.pool.size() == READ_POOL_SIZE
        assert 1 <= len(opened) <= 20


@pytest.mark.postgres
def test_single_statement_reads_leave_no_autocommit_behind(postgres_schema_url):
    """The token and meter lookups run in autocommit on PostgreSQL (no BEGIN/COMMIT round trips); the
    connection goes back to the pool in transaction mode, so the next multi-statement read is one snapshot."""
    from meshmeter.store import Store

    with Store(postgres_schema_url) as store:
        store.create_meter(serial="MM-1", designation="6PSMT-200D", ct_ratio=200)
        with store._read_one() as c:
            assert c.connection.dbapi_connection.autocommit is True
            first = c.execute(text("SELECT pg_current_xact_id_if_assigned() IS NULL, now()")).one()
        assert store.get_meter(serial="MM-1") is not None
        for _ in range(3):
            with store._read() as c:
                assert c.connection.dbapi_connection.autocommit is False
                a = c.execute(text("SELECT now()")).scalar_one()
                b = c.execute(text("SELECT now()")).scalar_one()
                assert a == b  # now() is the transaction's start: both statements in one transaction
        assert first[0] is True
