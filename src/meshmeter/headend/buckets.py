"""Interval buckets: the one implementation of their arithmetic, for the API and the exports alike.

Pure functions over numbers and numpy arrays; no database. An interval is named by its end
(``docs/conventions.md``): bucket ``k`` of bounds ``b`` holds the intervals with
``b[k] < interval_end <= b[k + 1]``. Buckets follow the wall clock of a time zone: hourly ones end on local
whole hours, daily ones at local midnight, monthly ones at local midnight on the first (a local day has
92 quarter-hours on the spring-forward day and 100 on the fall-back day). A bucket carries the least
trusted ESPI quality code of its intervals (:data:`QUALITY_RANK`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from meshmeter.intervals import INTERVAL_S, QUALITY_RANK, Quality, worst_quality

__all__ = [
    "INTERVAL_S",
    "QUALITY_RANK",
    "RAW_QUALITY",
    "Bucket",
    "BucketColumns",
    "Resolution",
    "aggregate_columns",
    "bucket_bounds",
    "worst_quality",
]

IntArray = NDArray[np.int64]

RAW_QUALITY = int(Quality.RAW)
"""ESPI quality code of a raw interval that VEE has not (yet) validated."""


class Resolution(StrEnum):
    """The resolutions the API aggregates to."""

    QUARTER_HOUR = "15min"
    HOURLY = "hourly"
    DAILY = "daily"
    MONTHLY = "monthly"


@dataclass(frozen=True, slots=True)
class Bucket:
    """
    One bucket of the answer.

    Attributes
    ----------
    start_s, end_s : int
        Its bounds, seconds since the Unix epoch; it holds the intervals with ``start_s < end <= end_s``. [s]
    energy_wh : int or None
        Energy of the intervals present; None when none is. [Wh]
    quality : int or None
        The least trusted ESPI code of the intervals present (:data:`QUALITY_RANK`); None when none is.
    count : int
        How many 15-minute intervals are present. [1]
    expected : int
        How many 15-minute intervals the bucket spans: 96 for a day, 92 or 100 on a DST change day. [1]
    """

    start_s: int
    end_s: int
    energy_wh: int | None
    quality: int | None
    count: int
    expected: int


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def _local_midnight(day: date, tz: tzinfo) -> int:
    return _epoch(datetime.combine(day, time(0), tzinfo=tz))


def _next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def bucket_bounds(start: datetime, end: datetime, resolution: Resolution, tz: tzinfo = UTC) -> list[int]:
    """
    The bounds of the buckets that cover ``(start, end]``, seconds since the Unix epoch.

    Parameters
    ----------
    start, end : datetime
        Aware; ``start < end``, both on the boundaries of ``resolution`` in ``tz``.
    resolution : Resolution
        15-minute, hourly (local whole hours), daily (local midnight), monthly (local midnight, the 1st).
    tz : tzinfo, optional
        Time zone of the wall clock; default UTC.

    Returns
    -------
    list of int
        ``[start, b1, ..., end]``: bucket ``i`` holds the intervals with
        ``b[i] < interval_end <= b[i+1]``. [s]

    Raises
    ------
    ValueError
        When ``end`` is not after ``start``, or a bound is not on a boundary of the resolution.
    """
    if end <= start:
        raise ValueError(f"end must be after start, got start={start.isoformat()} end={end.isoformat()}")
    if start.microsecond or end.microsecond:
        raise ValueError("start and end must be whole seconds")
    lo, hi = _epoch(start), _epoch(end)
    if resolution is Resolution.QUARTER_HOUR:
        for name, value in (("start", start), ("end", end)):
            if _epoch(value) % INTERVAL_S:
                raise ValueError(f"{name} must be on a 15-minute boundary (:00, :15, :30, :45), got {value}")
        return list(range(lo, hi + 1, INTERVAL_S))
    if resolution is Resolution.HOURLY:
        for name, value in (("start", start), ("end", end)):
            local = value.astimezone(tz)
            if (local.minute, local.second, local.microsecond) != (0, 0, 0):
                raise ValueError(f"{name} must be on a whole hour of local time, got {local.isoformat()}")
        return list(range(lo, hi + 1, 3600))
    step = _next_month if resolution is Resolution.MONTHLY else (lambda d: d + timedelta(days=1))
    days: list[date] = []
    for name, value in (("start", start), ("end", end)):
        day = value.astimezone(tz).date()
        if (resolution is Resolution.MONTHLY and day.day != 1) or _local_midnight(day, tz) != _epoch(value):
            what = "midnight on the first of a month" if resolution is Resolution.MONTHLY else "midnight"
            raise ValueError(f"{name} must be at local {what}, got {value.astimezone(tz).isoformat()}")
        days.append(day)
    out = []
    day = days[0]
    while day <= days[1]:
        out.append(_local_midnight(day, tz))
        day = step(day)
    return out


_NO_VALUE = -1
"""Marks an empty bucket's energy and quality in :class:`BucketColumns` (both are never negative)."""

_RANK_OF_CODE = np.full(max(QUALITY_RANK) + 1, -1, dtype=np.int64)
for _code, _rank in QUALITY_RANK.items():
    _RANK_OF_CODE[_code] = _rank
_CODE_OF_RANK = np.array(sorted(QUALITY_RANK, key=QUALITY_RANK.__getitem__), dtype=np.int64)


@dataclass(frozen=True, slots=True)
class BucketColumns:
    """
    The buckets of an answer as columns, one element per bucket (what :func:`aggregate` gives as objects).

    Attributes
    ----------
    bounds_s : ndarray of int64
        ``[start, b1, ..., end]``: bucket ``k`` spans ``(bounds_s[k], bounds_s[k + 1]]``. [s]
    energy_wh : ndarray of int64
        Energy of the intervals present; -1 where none is. [Wh]
    quality : ndarray of int64
        Least trusted ESPI code of the intervals present; -1 where none is.
    count, expected : ndarray of int64
        Intervals present, and spanned. [1]
    """

    bounds_s: IntArray
    energy_wh: IntArray
    quality: IntArray
    count: IntArray
    expected: IntArray

    def buckets(self) -> list[Bucket]:
        """The same as :class:`Bucket` objects."""
        b = self.bounds_s.tolist()
        return [
            Bucket(b[k], b[k + 1], None if c == 0 else e, None if c == 0 else q, c, x)
            for k, (e, q, c, x) in enumerate(
                zip(
                    self.energy_wh.tolist(),
                    self.quality.tolist(),
                    self.count.tolist(),
                    self.expected.tolist(),
                    strict=True,
                )
            )
        ]


def aggregate_columns(
    ends_s: IntArray,
    energy_wh: IntArray,
    quality: IntArray,
    bounds: Sequence[int],
    *,
    interval_s: int = INTERVAL_S,
) -> BucketColumns:
    """
    :func:`aggregate` over columns: sum intervals into buckets.

    Parameters
    ----------
    ends_s, energy_wh, quality : ndarray of int64
        The intervals, sorted by end (:meth:`meshmeter.store.Store.interval_view`); every quality in
        :data:`QUALITY_RANK`.
        [s], [Wh], [1]
    bounds : sequence of int
        Bucket bounds (:func:`boundaries`), at least two. [s]
    interval_s : int, optional
        The meter's interval length, by which ``expected`` counts; default 15 minutes. [s]

    Returns
    -------
    BucketColumns
        One bucket per pair of consecutive bounds, empty ones included.

    Raises
    ------
    ValueError
        When a quality code is not one of :data:`QUALITY_RANK`.
    """
    b = np.asarray(bounds, dtype=np.int64)
    n_buckets = b.size - 1
    # bucket k holds b[k] < end <= b[k + 1]: searchsorted(..., "left") is the first bound >= end
    k = np.searchsorted(b, ends_s, side="left") - 1
    inside = (k >= 0) & (k < n_buckets)
    if not inside.all():
        k, energy_wh, quality = k[inside], energy_wh[inside], quality[inside]
    codes_known = (quality >= 0) & (quality < _RANK_OF_CODE.size)
    ranks = _RANK_OF_CODE[np.where(codes_known, quality, 0)]
    if not codes_known.all() or (ranks < 0).any():
        raise ValueError(
            f"quality codes must be among {sorted(QUALITY_RANK)}, got {sorted(set(quality.tolist()))}"
        )
    energy = np.full(n_buckets, _NO_VALUE, dtype=np.int64)
    worst = np.full(n_buckets, _NO_VALUE, dtype=np.int64)
    count = np.zeros(n_buckets, dtype=np.int64)
    if k.size:
        first = np.flatnonzero(np.append(True, k[1:] != k[:-1]))  # first interval of each bucket present
        present = k[first]
        energy[present] = np.add.reduceat(energy_wh, first)
        worst[present] = _CODE_OF_RANK[np.maximum.reduceat(ranks, first)]
        count[present] = np.diff(np.append(first, k.size))
    return BucketColumns(b, energy, worst, count, np.diff(b) // interval_s)
