"""Column types shared by both backends.

Time is timezone-aware UTC inside meshmeter (``docs/conventions.md``). :class:`UtcDateTime` keeps it so
on both backends, at a resolution of one second:

* PostgreSQL: ``timestamp with time zone``; values read back are converted to UTC.
* SQLite: ``INTEGER`` seconds since the Unix epoch (1970-01-01T00:00:00Z). An integer sorts and compares
  like the instant it names, costs 4 bytes for today's dates in SQLite's record format, and cannot be
  mistaken for local time.

A naive ``datetime`` is refused (``ValueError``); sub-second parts are dropped (floored), so the same
value reads back the same from either backend.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["EPOCH", "UtcDateTime", "epoch_s", "from_epoch_s"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The Unix epoch, origin of the SQLite representation."""

_ONE_S = timedelta(seconds=1)


def epoch_s(value: datetime) -> int:
    """Whole seconds since the Unix epoch of an aware datetime, floored. [s]"""
    return (value - EPOCH) // _ONE_S


def from_epoch_s(value: int) -> datetime:
    """The aware UTC datetime of a count of seconds since the Unix epoch."""
    return EPOCH + timedelta(seconds=value)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC ``datetime``, stored at one-second resolution (see the module docstring)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise ValueError(f"a timezone-aware datetime is required, got {value!r}")
        if dialect.name == "sqlite":
            return epoch_s(value)
        return value.astimezone(UTC).replace(microsecond=0)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return from_epoch_s(int(value))
