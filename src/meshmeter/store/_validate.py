"""Checks of the arguments of the store's functions: each refuses with a ``ValueError`` naming the field."""

from __future__ import annotations

import json
import math
import numbers
import typing
from collections.abc import Collection
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshmeter.intervals import CUMULATIVE_NONE
from meshmeter.store.schema import QUALITY_CODES
from meshmeter.store.types import from_epoch_s

__all__ = [
    "MAX_INT64",
    "check_bool",
    "check_bytes",
    "check_choice",
    "check_date",
    "check_energy_wh",
    "check_id",
    "check_int",
    "check_interval_columns",
    "check_json",
    "check_positive_float",
    "check_quality",
    "check_range",
    "check_text",
    "check_utc",
]

MAX_INT64 = 2**63 - 1
"""The largest value of a BIGINT column (and of an int64 array)."""


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


def check_range(start: object, end: object) -> tuple[datetime, datetime]:
    """A range ``(start, end]`` of aware instants, in UTC (:func:`check_utc`); ``start`` not after ``end``."""
    lo = check_utc("start", start)
    hi = check_utc("end", end)
    if lo > hi:
        raise ValueError(f"start must not be after end, got start={lo.isoformat()} end={hi.isoformat()}")
    return lo, hi


def check_int(name: str, value: object, *, low: int, high: int | None = None, expected: str) -> int:
    """
    A Python ``int`` (not a bool) with ``low <= value`` (and ``value < high``).

    ``expected`` says what is wanted in the message, e.g. ``"a positive int"``.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value >= high)
    ):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def check_choice(name: str, value: object, choices: Collection[str], *, shown: str | None = None) -> str:
    """One of ``choices``; the message lists them (``shown``, default comma-separated)."""
    if value not in choices:
        listed = ", ".join(choices) if shown is None else shown
        raise ValueError(f"{name} must be one of {listed}, got {value!r}")
    return typing.cast(str, value)


def check_quality(name: str, value: object) -> int:
    """An ESPI quality code (:data:`~meshmeter.store.schema.QUALITY_CODES`), not a bool."""
    if isinstance(value, bool) or value not in QUALITY_CODES:
        raise ValueError(f"{name} must be an ESPI code in {sorted(QUALITY_CODES)}, got {value!r}")
    return int(value)


IntArray = NDArray[np.int64]


def check_interval_columns(
    name: str, meter_id: object, ends: object, energy: object, cumulative: object
) -> tuple[int | str, IntArray, IntArray, IntArray]:
    """One meter's columns checked and sorted by end; ``ValueError`` naming ``name`` and the field."""
    meter: int | str = (
        check_text(f"{name}.meter", meter_id)
        if isinstance(meter_id, str)
        else check_id(f"{name}.meter_id", meter_id)
    )
    arrays: list[IntArray] = []
    for field, value in (("interval_end_s", ends), ("energy_wh", energy), ("cumulative_wh", cumulative)):
        if value is None and field == "cumulative_wh":
            arrays.append(np.full(arrays[0].size, CUMULATIVE_NONE, dtype=np.int64))
            continue
        array = np.asarray(value)
        if (
            array.ndim != 1
            or array.dtype.kind not in "iu"
            or (array.size and array.dtype.kind == "u" and int(array.max()) > MAX_INT64)
        ):
            raise ValueError(
                f"{name}.{field} must be a 1-D array of 64-bit integers, got {array.dtype} of shape "
                f"{array.shape}"
            )
        arrays.append(array.astype(np.int64, copy=False))
    ends_s, energy_wh, cumulative_wh = arrays
    if not (ends_s.size == energy_wh.size == cumulative_wh.size):
        raise ValueError(
            f"{name}: interval_end_s, energy_wh and cumulative_wh must have one length, got "
            f"{ends_s.size}, {energy_wh.size} and {cumulative_wh.size}"
        )
    if ends_s.size and (energy_wh < 0).any():
        bad = int(energy_wh[energy_wh < 0][0])
        raise ValueError(f"{name}.energy_wh must not be negative [Wh], got {bad}")
    if ends_s.size and (cumulative_wh < CUMULATIVE_NONE).any():
        bad = int(cumulative_wh[cumulative_wh < CUMULATIVE_NONE][0])
        raise ValueError(f"{name}.cumulative_wh must be a counter [Wh] or -1 (none), got {bad}")
    if ends_s.size > 1 and not (np.diff(ends_s) > 0).all():
        order = np.argsort(ends_s, kind="stable")
        ends_s, energy_wh, cumulative_wh = ends_s[order], energy_wh[order], cumulative_wh[order]
        repeated = np.flatnonzero(np.diff(ends_s) == 0)
        if repeated.size:
            at = from_epoch_s(int(ends_s[repeated[0]])).isoformat()
            raise ValueError(f"{name}.interval_end_s has {at} twice; give each interval once")
    return meter, ends_s, energy_wh, cumulative_wh
