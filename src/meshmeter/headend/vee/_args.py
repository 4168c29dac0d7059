"""The argument checks of VEE, one set for the package: each raises ``ValueError`` naming the argument.

Booleans are never numbers here (``True`` is refused where a number or an instant is expected), NaN
and infinities are never finite, and every check returns the value converted (``float``, ``int``,
epoch seconds), so a caller uses what it checked.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TypeVar

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_T = TypeVar("_T", bound=str)


def finite(name: str, value: object, *, low: float | None = None, low_open: bool = False) -> float:
    """A finite real number (not a bool), at least ``low`` (above it with ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    number = float(value)
    if low is not None and (number < low or (low_open and number == low)):
        sign = ">" if low_open else ">="
        raise ValueError(f"{name} must be {sign} {low:g}, got {value!r}")
    return number


def integer(name: str, value: object, *, low: int) -> int:
    """An integer (not a bool) of at least ``low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def flag(name: str, value: object) -> bool:
    """A bool (not 0 or 1)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool, got {value!r}")
    return value


def choice(name: str, value: _T, options: tuple[_T, ...]) -> _T:
    """One of ``options`` (the values of a ``Literal``)."""
    if value not in options:
        quoted = [repr(o) for o in options]
        raise ValueError(f"{name} must be {', '.join(quoted[:-1])} or {quoted[-1]}, got {value!r}")
    return value


def epoch_s(name: str, value: object) -> int:
    """One instant as integer epoch seconds: an aware datetime, a datetime64 or an integer."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware, got the naive datetime {value.isoformat()}")
        return math.floor(value.timestamp())
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[s]").astype(np.int64))
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"{name} must be an aware datetime, a datetime64 or integer epoch seconds, got {value!r}"
        )
    return int(value)


def epoch_array(name: str, values: object) -> IntArray:
    """Instants as an int64 array of epoch seconds (datetime64, integers or aware datetimes)."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if np.issubdtype(array.dtype, np.datetime64):
        if np.isnat(array).any():
            raise ValueError(f"{name} must not contain NaT")
        return array.astype("datetime64[s]").astype(np.int64)
    if array.dtype == np.bool_:
        raise ValueError(f"{name} must hold instants, got booleans")
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64)
    if array.dtype == object or array.size == 0:
        return np.array([epoch_s(f"{name}[{i}]", v) for i, v in enumerate(array.tolist())], dtype=np.int64)
    raise ValueError(
        f"{name} must hold aware datetimes, datetime64 or integer epoch seconds, got {array.dtype}"
    )


def float_array(name: str, values: object, size: int, *, allow_nan: bool = True) -> FloatArray:
    """A one-dimensional float array of ``size`` values, without infinities (NaN only with ``allow_nan``)."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers [Wh], got {values!r}") from None
    if array.ndim != 1 or array.size != size:
        raise ValueError(f"{name} must have the length of interval_end ({size}), got shape {array.shape}")
    if np.isinf(array).any() or (not allow_nan and np.isnan(array).any()):
        raise ValueError(f"{name} must be finite{'' if not allow_nan else ' or NaN'}")
    return array


def _pairs(name: str, items: object, *, records: bool) -> Iterator[tuple[int, int, object, object]]:
    """Each item as ``(position, first instant in epoch seconds, item, second value)``."""
    if items is None:
        return
    if not isinstance(items, Iterable):
        raise ValueError(f"{name} must be a sequence of pairs, got {items!r}")
    for i, item in enumerate(items):
        if records and hasattr(item, "read_at") and hasattr(item, "energy_wh"):
            item = (item.read_at, item.energy_wh)
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise ValueError(f"{name}[{i}] must be a pair, got {item!r}")
        yield i, epoch_s(f"{name}[{i}][0]", item[0]), item, item[1]


def register_reads(name: str, items: object) -> list[tuple[int, int]]:
    """
    Register reads ``(read_at, energy_wh)`` as (epoch seconds, Wh), sorted; None is none.

    Each read is a pair or a :class:`~meshmeter.store.RegisterRead`; the energy a non-negative integer. [Wh]
    """
    return sorted(
        (at, integer(f"{name}[{i}].energy_wh [Wh]", energy, low=0))
        for i, at, _, energy in _pairs(name, items, records=True)
    )


def spans(name: str, items: object) -> list[tuple[int, int]]:
    """Spans ``(start, end)`` with ``start < end`` as epoch seconds, sorted; None is none."""
    out: list[tuple[int, int]] = []
    for i, first, item, second in _pairs(name, items, records=False):
        last = epoch_s(f"{name}[{i}][1]", second)
        if last <= first:
            raise ValueError(f"{name}[{i}] must end after it starts, got {item!r}")
        out.append((first, last))
    return sorted(out)
