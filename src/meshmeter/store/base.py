"""What every part of the :class:`~meshmeter.store.Store` shares: its connections and their transactions.

:class:`StoreBase` opens the engines (:mod:`meshmeter.store.engine`) and gives the resource mixins of
:class:`~meshmeter.store.repository.Store` one way to write (``_write``: one transaction on the writer;
SQLite ``BEGIN IMMEDIATE``) and to read (``_read``: one consistent snapshot), and the checks that a
referenced row exists (``_require``, ``_lock_meter``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any, Self

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL

from meshmeter.errors import UnknownMeterError
from meshmeter.store.driver import _driver
from meshmeter.store.engine import Engines, make_engines
from meshmeter.store.migrations import migrate

__all__ = ["StoreBase", "UnknownMeterError"]


def _now() -> datetime:
    """Now, UTC, to the second (the store's resolution)."""
    return datetime.now(UTC).replace(microsecond=0)


class StoreBase:
    """
    The connections of one database (SQLite or PostgreSQL) and the plumbing of the store's methods.

    :class:`~meshmeter.store.repository.Store` is this with every resource mixin; its parameters are
    documented there.
    """

    def __init__(self, url: str | URL | None = None, *, migrate: bool = True, echo: bool = False) -> None:
        self._engines = make_engines(url, echo=echo)
        memory = self._engines.reader is self._engines.writer and self.dialect_name == "sqlite"
        # An in-memory SQLite database is one shared connection: serialise every use of it.
        self._lock: AbstractContextManager[Any] = threading.RLock() if memory else nullcontext()
        if migrate:
            self.migrate()

    # -- plumbing -----------------------------------------------------------------------------------------

    @property
    def engines(self) -> Engines:
        """The writer and reader engines."""
        return self._engines

    @property
    def dialect_name(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engines.dialect_name

    def migrate(self) -> int:
        """Bring the schema to the latest version (:func:`meshmeter.store.migrations.migrate`)."""
        with self._lock:
            return migrate(self._engines.writer)

    def close(self) -> None:
        """Close every connection."""
        self._engines.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._lock, self._engines.writer.begin() as connection:
            yield connection

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._lock, self._engines.reader.connect() as connection, connection.begin():
            yield connection

    @contextmanager
    def _read_one(self) -> Iterator[Connection]:
        """A connection for one read statement. PostgreSQL: in autocommit, so that the statement is its own
        transaction, without the round trips of ``BEGIN`` and ``COMMIT`` (the lookups every API request
        makes: its token, its meter). SQLite: as :meth:`_read`, whose ``BEGIN`` stays in the process."""
        if self.dialect_name != "postgresql":
            with self._read() as connection:
                yield connection
            return
        with self._engines.reader.connect() as connection:
            yield connection.execution_options(isolation_level="AUTOCOMMIT")

    def _insert(self, table: Table) -> Any:
        if self.dialect_name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    @staticmethod
    def _lock_meter(connection: Connection, meter_id: int, *, field: str = "meter_id") -> None:
        """Check that the meter exists and serialise writers of its data (PostgreSQL row lock)."""
        if not _driver(connection, "lock_meter", (meter_id,)):  # PostgreSQL: FOR NO KEY UPDATE
            raise UnknownMeterError(f"{field} {meter_id!r} is not a known meter")

    @staticmethod
    def _bump_data_version(connection: Connection, meter_id: int) -> None:
        """Raise the meter's ``data_version`` in the writing transaction: its interval view changed
        (raw rows, validated rows or a VEE run; :attr:`~meshmeter.store.models.Meter.data_version`)."""
        _driver(connection, "bump_data_version", (meter_id,))

    @staticmethod
    def _require(connection: Connection, table: Table, key: int, field: str, what: str) -> None:
        if connection.execute(select(table.c.id).where(table.c.id == key)).first() is None:
            raise ValueError(f"{field} {key!r} is not a known {what}")
