"""Checks of the arguments of the store's functions: each refuses with a ``ValueError`` naming the field."""

from __future__ import annotations

import json
import math
import numbers
from datetime import UTC, date, datetime
from typing import Any

__all__ = [
    "check_bool",
    "check_bytes",
    "check_date",
    "check_energy_wh",
    "check_id",
    "check_json",
    "check_positive_float",
    "check_text",
    "check_utc",
]


def check_id(name: str, value: object) -> int:
    """A surrogate key: a positive integer."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) <= 0:
        raise ValueError(f"{name} must be a positive integer id, got {value!r}")
    return int(value)


def check_energy_wh(name: str, value: object) -> int:
    """Energy: a non-negative integer [Wh]; NaN, floats, bools and negative numbers are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a non-negative integer [Wh], got {value!r}")
    number = int(value)
    if number < 0:
        raise ValueError(f"{name} must be a non-negative integer [Wh], got {value!r}")
    return number


def check_utc(name: str, value: object, *, whole_second: bool = False) -> datetime:
    """
    A timezone-aware datetime, returned in UTC with its sub-second part dropped.

    With ``whole_second``, a sub-second part is refused instead: an interval's name must be exact.
    """
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got the naive datetime {value.isoformat()}")
    if whole_second and value.microsecond:
        raise ValueError(f"{name} must be a whole second, got {value.isoformat()}")
    return value.astimezone(UTC).replace(microsecond=0)


def check_text(name: str, value: object) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def check_positive_float(name: str, value: object) -> float:
    """A finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def check_bytes(name: str, value: object, length: int) -> bytes:
    """Exactly ``length`` bytes."""
    if not isinstance(value, bytes | bytearray | memoryview):
        raise ValueError(f"{name} must be {length} bytes, got {value!r}")
    data = bytes(value)
    if len(data) != length:
        raise ValueError(f"{name} must be {length} bytes, got {len(data)}")
    return data


def check_date(name: str, value: object) -> date:
    """A calendar date (not a datetime)."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueError(f"{name} must be a date, got {value!r}")
    return value


def check_bool(name: str, value: object) -> bool:
    """A bool."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool, got {value!r}")
    return value


def check_json(name: str, value: object) -> Any:
    """A value that JSON represents exactly (no NaN or infinity), returned as JSON would give it back."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be JSON (no NaN or infinity): {exc}") from None
