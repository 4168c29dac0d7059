"""Engines for the two backends, selected by a URL.

* ``MESHMETER_DATABASE_URL`` selects the database; without it, ``sqlite:///meshmeter.db`` (a file in the
  current directory). ``sqlite:///:memory:`` gives a private in-memory database (tests).
* ``postgresql://...`` (or ``postgres://``) is driven by psycopg 3 (``postgresql+psycopg://``).

SQLite is set up as datasette does: WAL journal, foreign keys on, one writer connection whose every
transaction starts with ``BEGIN IMMEDIATE`` (so a write never fails half-way on a lock upgrade), and a
pool of reader connections whose transactions start with a deferred ``BEGIN`` (a consistent snapshot).
An in-memory database is one connection shared by all (``StaticPool``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ENV_DATABASE_URL",
    "ENV_SQLITE_SYNCHRONOUS",
    "SQLITE_SYNCHRONOUS",
    "Engines",
    "database_url",
    "make_engines",
    "sqlite_synchronous",
]

ENV_DATABASE_URL = "MESHMETER_DATABASE_URL"
"""Environment variable that selects the database."""

DEFAULT_DATABASE_URL = "sqlite:///meshmeter.db"
"""The embedded default: a SQLite file ``meshmeter.db`` in the current directory."""

ENV_SQLITE_SYNCHRONOUS = "MESHMETER_SQLITE_SYNCHRONOUS"
"""Environment variable that sets SQLite's ``synchronous`` for a database file: ``NORMAL`` (the default),
``FULL`` or ``EXTRA``."""

SQLITE_SYNCHRONOUS = "NORMAL"
"""SQLite's ``synchronous`` in WAL mode, by default. With ``NORMAL`` a commit does not wait for the disk:
a committed transaction survives the process being killed (SIGKILL, a crash) and the database is never
corrupted, but the last transactions before a power loss or an operating-system crash may be rolled back
(SQLite's documentation recommends it for WAL). ``FULL`` waits for the disk at every commit: durable
across power loss, and about a third of the ingest's rows per second when commits are many and the disk
is shared (``docs/store.md``)."""

_SYNCHRONOUS_LEVELS = ("NORMAL", "FULL", "EXTRA")


def sqlite_synchronous() -> str:
    """
    SQLite's ``synchronous`` for database files: ``$MESHMETER_SQLITE_SYNCHRONOUS``, else
    :data:`SQLITE_SYNCHRONOUS`.

    Raises
    ------
    ValueError
        When the variable is set to something else than NORMAL, FULL or EXTRA (OFF is refused: it can
        corrupt a database).
    """
    value = os.environ.get(ENV_SQLITE_SYNCHRONOUS, "").strip().upper() or SQLITE_SYNCHRONOUS
    if value not in _SYNCHRONOUS_LEVELS:
        raise ValueError(
            f"{ENV_SQLITE_SYNCHRONOUS} must be one of {', '.join(_SYNCHRONOUS_LEVELS)}, "
            f"got {os.environ.get(ENV_SQLITE_SYNCHRONOUS)!r}"
        )
    return value


SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite connection waits for a lock held by another process before failing. [ms]"""


def database_url(url: str | URL | None = None) -> URL:
    """
    The database URL to use, normalised.

    Parameters
    ----------
    url : str or URL, optional
        An explicit URL; without it, ``$MESHMETER_DATABASE_URL``, else :data:`DEFAULT_DATABASE_URL`.

    Returns
    -------
    URL
        ``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://``.

    Raises
    ------
    ValueError
        When the URL names a backend other than SQLite or PostgreSQL.
    """
    text = url if url is not None else os.environ.get(ENV_DATABASE_URL) or DEFAULT_DATABASE_URL
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise ValueError(f"database url is not a URL: {str(text)!r}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() in ("sqlite", "postgresql"):
        return parsed
    shown = parsed.render_as_string(hide_password=True)
    raise ValueError(f"database url must be sqlite:// or postgresql://, got {shown!r}")


@dataclass(frozen=True, slots=True)
class Engines:
    """
    The engines of one database.

    Attributes
    ----------
    writer : Engine
        Every write goes through it. SQLite: one connection, ``BEGIN IMMEDIATE``.
    reader : Engine
        Reads. SQLite file: a pool of connections, deferred ``BEGIN``; otherwise ``writer`` itself.
    """

    writer: Engine
    reader: Engine

    @property
    def dialect_name(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.writer.dialect.name

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or (
        url.database is not None and url.database.startswith("file::memory:")
    )


def _sqlite_engine(
    url: URL, *, begin: str, memory: bool, pool_size: int | None, synchronous: str = SQLITE_SYNCHRONOUS
) -> Engine:
    kwargs: dict[str, Any] = {}
    if memory:
        kwargs["poolclass"] = StaticPool
        kwargs["connect_args"] = {"check_same_thread": False}
    elif pool_size is not None:
        kwargs["pool_size"] = pool_size
        kwargs["max_overflow"] = 0
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (legacy mode, Python < 3.12): SQLAlchemy's
        # "begin" event below emits BEGIN itself, so DDL is transactional and reads are repeatable.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if not memory:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute(f"PRAGMA synchronous = {synchronous}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


def make_engines(url: str | URL | None = None, *, echo: bool = False) -> Engines:
    """
    Create the engines for a database URL (see :func:`database_url`).

    Parameters
    ----------
    url : str or URL, optional
        The database; without it, ``$MESHMETER_DATABASE_URL`` or the default SQLite file.
    echo : bool, optional
        Log every statement (SQLAlchemy's ``echo``).

    Returns
    -------
    Engines
        The writer and reader engines. Nothing is created in the database (see
        :func:`meshmeter.store.migrations.migrate`).
    """
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        if _is_memory(parsed):
            engine = _sqlite_engine(parsed, begin="BEGIN IMMEDIATE", memory=True, pool_size=None)
            engine.echo = echo
            return Engines(writer=engine, reader=engine)
        synchronous = sqlite_synchronous()
        writer = _sqlite_engine(
            parsed, begin="BEGIN IMMEDIATE", memory=False, pool_size=1, synchronous=synchronous
        )
        reader = _sqlite_engine(parsed, begin="BEGIN", memory=False, pool_size=None, synchronous=synchronous)
        writer.echo = reader.echo = echo
        return Engines(writer=writer, reader=reader)
    engine = create_engine(parsed, echo=echo, pool_pre_ping=True)
    return Engines(writer=engine, reader=engine)
