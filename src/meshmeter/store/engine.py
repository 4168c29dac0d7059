"""Engines for the two backends, selected by a URL.

* ``MESHMETER_DATABASE_URL`` selects the database; without it, ``sqlite:///meshmeter.db`` (a file in the
  current directory). ``sqlite:///:memory:`` gives a private in-memory database (tests).
* ``postgresql://...`` (or ``postgres://``) is driven by psycopg 3 (``postgresql+psycopg://``).

SQLite is set up as datasette does: WAL journal, foreign keys on, one writer connection whose every
transaction starts with ``BEGIN IMMEDIATE`` (so a write never fails half-way on a lock upgrade), and a
pool of reader connections whose transactions start with a deferred ``BEGIN`` (a consistent snapshot).
An in-memory database is one connection shared by all (``StaticPool``).

Two failures of the environment leave the engines as domain errors, each saying what failed and what to
do (:func:`translate_error`): a database that cannot be reached or opened,
:class:`~meshmeter.errors.DatabaseUnavailableError`; a SQLite write lock held by another process for
longer than :data:`SQLITE_BUSY_TIMEOUT_MS`, :class:`~meshmeter.errors.DatabaseLockedError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL, ExceptionContext
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from meshmeter.errors import DatabaseLockedError, DatabaseUnavailableError, MeshmeterError

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ENV_DATABASE_URL",
    "ENV_SQLITE_SYNCHRONOUS",
    "READ_POOL_SIZE",
    "SQLITE_SYNCHRONOUS",
    "Engines",
    "database_url",
    "make_engines",
    "sqlite_synchronous",
    "translate_error",
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

READ_POOL_SIZE = 40
"""Connections kept open for reads: as many as the API has worker threads for its synchronous routes
(anyio's default limit, 40), so that concurrent readers reuse connections instead of opening and closing
one per request (issue 12: readers under load). More may open for a burst; those are closed after use."""


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
    else:
        kwargs["pool_size"] = READ_POOL_SIZE
        kwargs["max_overflow"] = -1
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


def _shown(url: URL) -> str:
    """The URL as people write it: no driver name, no password."""
    backend = url.get_backend_name()
    return url.set(drivername=backend).render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].strip() if lines else type(exc).__name__


_SQLITE_LOCKED = ("SQLITE_BUSY", "SQLITE_LOCKED")
_SQLITE_CANNOT_OPEN = ("SQLITE_CANTOPEN",)


def translate_error(url: URL, error: BaseException, *, connecting: bool) -> MeshmeterError | None:
    """
    The domain error for a driver's error that is a failure of the environment, else None.

    Parameters
    ----------
    url : URL
        The database (shown without its password).
    error : BaseException
        The driver's exception (``sqlite3`` or psycopg).
    connecting : bool
        True when the error came while opening a connection, or the connection was lost.

    Returns
    -------
    MeshmeterError or None
        :class:`~meshmeter.errors.DatabaseLockedError` for a SQLite lock not released within
        :data:`SQLITE_BUSY_TIMEOUT_MS`; :class:`~meshmeter.errors.DatabaseUnavailableError` for a
        database that cannot be reached or opened; None for anything else (a query's own error).
    """
    shown = _shown(url)
    if url.get_backend_name() == "sqlite":
        name = getattr(error, "sqlite_errorname", "")
        text = str(error).lower()
        if name in _SQLITE_LOCKED or "database is locked" in text:
            return DatabaseLockedError(
                f"the database {url.database} is locked: another process has held its write lock for longer "
                f"than {SQLITE_BUSY_TIMEOUT_MS / 1000:g} s; wait for that process to finish (or stop it), "
                "then try again"
            )
        if name in _SQLITE_CANNOT_OPEN or "unable to open database" in text:
            return DatabaseUnavailableError(
                f"the database file {url.database} cannot be opened ({_first_line(error)}); check that its "
                "folder exists and that this user may write there"
            )
        return None
    if connecting and type(error).__name__ in ("OperationalError", "InterfaceError"):
        return DatabaseUnavailableError(
            f"the database {shown} cannot be reached ({_first_line(error)}); "
            "check that the server is running and that the URL is right"
        )
    return None


def _translate_errors(engine: Engine, url: URL) -> None:
    """Raise domain errors from ``engine`` for failures of the environment (:func:`translate_error`)."""

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> BaseException | None:
        if context.is_pre_ping:  # the pool tests a stale connection and opens another: not a failure yet
            return None
        connecting = context.connection is None or context.is_disconnect
        return translate_error(url, context.original_exception, connecting=connecting)


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
        :func:`meshmeter.store.migrations.migrate`). Connection failures and lock timeouts raise
        :class:`~meshmeter.errors.DatabaseUnavailableError` and
        :class:`~meshmeter.errors.DatabaseLockedError` (:func:`translate_error`).
    """
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        if _is_memory(parsed):
            engine = _sqlite_engine(parsed, begin="BEGIN IMMEDIATE", memory=True, pool_size=None)
            engine.echo = echo
            _translate_errors(engine, parsed)
            return Engines(writer=engine, reader=engine)
        synchronous = sqlite_synchronous()
        writer = _sqlite_engine(
            parsed, begin="BEGIN IMMEDIATE", memory=False, pool_size=1, synchronous=synchronous
        )
        reader = _sqlite_engine(parsed, begin="BEGIN", memory=False, pool_size=None, synchronous=synchronous)
        writer.echo = reader.echo = echo
        _translate_errors(writer, parsed)
        _translate_errors(reader, parsed)
        return Engines(writer=writer, reader=reader)
    # At most READ_POOL_SIZE + 10 connections (SQLAlchemy's overflow), well under the server's default
    # max_connections of 100; a request beyond them waits for one.
    engine = create_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=READ_POOL_SIZE)
    _translate_errors(engine, parsed)
    return Engines(writer=engine, reader=engine)
