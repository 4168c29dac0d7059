"""Intervals as the API serves them: time parameters, buckets in local time, aggregation, JSON and CSV.

Pure functions over numbers; no database. The routes call them with what the store returned.

* A bucket is named by its end, like every interval (``docs/conventions.md``); a range ``start, end``
  covers the intervals with ``start < interval_end <= end``.
* Buckets follow the wall clock of the time zone ``tz`` (UTC when none is given): hourly buckets end on
  local whole hours, daily ones at local midnight, monthly ones at local midnight on the first of the
  month. A local day therefore has 92 quarter-hours on the spring-forward day and 100 on the fall-back
  day, and a bucket's ``expected`` says how many it has.
* ``start`` and ``end`` must lie on the boundaries of the resolution, so that the answer covers exactly
  ``(start, end]``; a date or date-time without an offset is read as local time in ``tz``.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CSV_COLUMNS",
    "INTERVAL_S",
    "MAX_SPAN_DAYS",
    "QUALITY_RANK",
    "RAW_QUALITY",
    "Bucket",
    "BucketColumns",
    "Resolution",
    "aggregate",
    "aggregate_columns",
    "boundaries",
    "columns_to_csv",
    "columns_to_json",
    "merge_columns",
    "merge_intervals",
    "parse_instant",
    "parse_timezone",
    "to_csv",
    "to_json",
    "worst_quality",
]

IntArray = NDArray[np.int64]

INTERVAL_S = 900
"""Length of the meter's interval, 15 minutes. [s]"""

RAW_QUALITY = 14
"""ESPI quality code of a raw interval that VEE has not (yet) validated."""

QUALITY_RANK: dict[int, int] = {0: 0, 7: 1, 9: 2, 8: 3, 14: 4, 10: 5}
"""ESPI quality codes from most to least trusted: valid, edited, interpolated, estimated from reference
days, raw (not validated), questionable. A bucket carries the least trusted code of its intervals."""


class Resolution(StrEnum):
    """The resolutions the API aggregates to."""

    QUARTER_HOUR = "15min"
    HOURLY = "hourly"
    DAILY = "daily"
    MONTHLY = "monthly"


MAX_SPAN_DAYS: dict[Resolution, int] = {
    Resolution.QUARTER_HOUR: 372,
    Resolution.HOURLY: 372,
    Resolution.DAILY: 1116,
    Resolution.MONTHLY: 1116,
}
"""Longest range one request may ask for, by resolution (a year and a week; three years and three
weeks). [day]"""


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


def parse_timezone(name: str | None) -> tzinfo:
    """The time zone of an IANA name (UTC for None); ``ValueError`` naming ``tz`` otherwise."""
    if name is None:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"tz must be an IANA time zone name such as America/Los_Angeles, got {name!r}"
        ) from None


def parse_instant(name: str, text: str, tz: tzinfo = UTC) -> datetime:
    """
    An instant from an ISO 8601 date or date-time, as aware UTC.

    Parameters
    ----------
    name : str
        The parameter's name, for the error message.
    text : str
        ``2024-03-10``, ``2024-03-10T08:00:00Z``, ``2024-03-10T00:00:00-08:00`` ...
    tz : tzinfo, optional
        The zone of a value without an offset (a plain date is its local midnight); default UTC.

    Raises
    ------
    ValueError
        When ``text`` is not an ISO 8601 date or date-time.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{name} must be an ISO 8601 date or date-time (2024-03-10, 2024-03-10T08:00:00Z), got {text!r}"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def _local_midnight(day: date, tz: tzinfo) -> int:
    return _epoch(datetime.combine(day, time(0), tzinfo=tz))


def _next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def boundaries(start: datetime, end: datetime, resolution: Resolution, tz: tzinfo = UTC) -> list[int]:
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
        When ``end`` is not after ``start``, the range is longer than :data:`MAX_SPAN_DAYS`, or a bound
        is not on a boundary of the resolution.
    """
    if end <= start:
        raise ValueError(f"end must be after start, got start={start.isoformat()} end={end.isoformat()}")
    if start.microsecond or end.microsecond:
        raise ValueError("start and end must be whole seconds")
    limit = MAX_SPAN_DAYS[resolution]
    if end - start > timedelta(days=limit):
        raise ValueError(f"the range may span at most {limit} days at resolution {resolution.value}")
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


def merge_intervals(
    raw: Iterable[tuple[datetime, int]], validated: Iterable[tuple[datetime, int, int]]
) -> tuple[list[int], list[int], list[int]]:
    """
    The intervals to serve: each validated interval, else the raw one (quality 14), by end.

    Parameters
    ----------
    raw : iterable of (interval_end, energy_wh)
        Latest revision of each raw interval. [Wh]
    validated : iterable of (interval_end, energy_wh, quality)
        VEE's output, which wins where present (estimates fill gaps). [Wh]

    Returns
    -------
    (ends_s, energy_wh, quality) : three lists of int
        Sorted by end. [s], [Wh], [1]
    """
    merged: dict[int, tuple[int, int]] = {_epoch(end): (energy, RAW_QUALITY) for end, energy in raw}
    sort = False
    for end, energy, quality in validated:
        key = _epoch(end)
        sort = sort or key not in merged
        merged[key] = (energy, quality)
    keys = sorted(merged) if sort else list(merged)
    return keys, [merged[k][0] for k in keys], [merged[k][1] for k in keys]


def worst_quality(codes: Iterable[int]) -> int | None:
    """The least trusted of some ESPI codes (:data:`QUALITY_RANK`), None for none."""
    return max(codes, key=lambda q: QUALITY_RANK.get(q, len(QUALITY_RANK)), default=None)


def aggregate(
    ends_s: Sequence[int], energy_wh: Sequence[int], quality: Sequence[int], bounds: Sequence[int]
) -> list[Bucket]:
    """
    Sum intervals into buckets.

    Parameters
    ----------
    ends_s, energy_wh, quality : sequences of int
        The intervals, sorted by end (:func:`merge_intervals`). [s], [Wh], [1]
    bounds : sequence of int
        Bucket bounds (:func:`boundaries`). [s]

    Returns
    -------
    list of Bucket
        One per pair of consecutive bounds, empty ones included (energy None, count 0).
    """
    out: list[Bucket] = []
    n = len(ends_s)
    i = 0
    while i < n and ends_s[i] <= bounds[0]:
        i += 1
    for lo, hi in itertools.pairwise(bounds):
        j = i
        while j < n and ends_s[j] <= hi:
            j += 1
        expected = (hi - lo) // INTERVAL_S
        if j == i:
            out.append(Bucket(lo, hi, None, None, 0, expected))
        elif j == i + 1:
            out.append(Bucket(lo, hi, energy_wh[i], quality[i], 1, expected))
        else:
            out.append(Bucket(lo, hi, sum(energy_wh[i:j]), worst_quality(quality[i:j]), j - i, expected))
        i = j
    return out


def _stamps(buckets: Sequence[Bucket], tz: tzinfo) -> list[str]:
    """ISO 8601 stamps, with the offset of ``tz``, of every bound (each formatted once)."""
    if not buckets:
        return []
    bounds = [b.start_s for b in buckets] + [buckets[-1].end_s]
    return [datetime.fromtimestamp(s, tz).isoformat() for s in bounds]


CSV_COLUMNS = ("interval_start", "interval_end", "energy_wh", "quality", "count", "expected")
"""Columns of the CSV form, in order; the JSON form has the same members."""


def _json_int(value: int | None) -> str:
    return "null" if value is None else str(value)


def to_json(buckets: Sequence[Bucket], tz: tzinfo, head: Mapping[str, object]) -> str:
    """
    The JSON document of the answer: ``head``'s members, ``data`` (one object per bucket), ``count``.

    Notes
    -----
    The rows are written by hand rather than through ``json.dumps`` of a list of dicts, three times
    faster for a year of quarter-hours: every member is an integer, null, or an ISO 8601 stamp that
    needs no escaping.
    """
    stamps = _stamps(buckets, tz)
    rows = ",".join(
        f'{{"interval_start":"{stamps[k]}","interval_end":"{stamps[k + 1]}",'
        f'"energy_wh":{_json_int(b.energy_wh)},"quality":{_json_int(b.quality)},'
        f'"count":{b.count},"expected":{b.expected}}}'
        for k, b in enumerate(buckets)
    )
    opening = json.dumps(dict(head), separators=(",", ":"))[:-1]
    separator = "," if head else ""
    return f'{opening}{separator}"data":[{rows}],"count":{len(buckets)}}}'


def to_csv(buckets: Sequence[Bucket], tz: tzinfo) -> str:
    """The CSV form: a header of :data:`CSV_COLUMNS`, one row per bucket; empty cells for None."""
    stamps = _stamps(buckets, tz)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(
        (
            stamps[k],
            stamps[k + 1],
            "" if b.energy_wh is None else b.energy_wh,
            "" if b.quality is None else b.quality,
            b.count,
            b.expected,
        )
        for k, b in enumerate(buckets)
    )
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------
# The same answer from columns (numpy arrays): what the route uses. A year of quarter-hours is 35,136
# intervals; an object and two datetimes per interval cost more than the whole answer should.
# --------------------------------------------------------------------------------------------------

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


def merge_columns(
    raw_end_s: IntArray,
    raw_energy_wh: IntArray,
    validated_end_s: IntArray,
    validated_energy_wh: IntArray,
    validated_quality: IntArray,
) -> tuple[IntArray, IntArray, IntArray]:
    """
    :func:`merge_intervals` over columns: each validated interval, else the raw one (quality 14).

    Parameters
    ----------
    raw_end_s, raw_energy_wh : ndarray of int64
        Latest revision of each raw interval, ends increasing and distinct. [s], [Wh]
    validated_end_s, validated_energy_wh, validated_quality : ndarray of int64
        VEE's output, ends increasing and distinct. [s], [Wh], [1]

    Returns
    -------
    (ends_s, energy_wh, quality) : three ndarrays of int64
        Sorted by end. [s], [Wh], [1]
    """
    if validated_end_s.size == 0:
        return raw_end_s, raw_energy_wh, np.full(raw_end_s.size, RAW_QUALITY, dtype=np.int64)
    ends = np.union1d(raw_end_s, validated_end_s)
    energy = np.empty(ends.size, dtype=np.int64)
    quality = np.full(ends.size, RAW_QUALITY, dtype=np.int64)
    at = np.searchsorted(ends, raw_end_s)
    energy[at] = raw_energy_wh
    at = np.searchsorted(ends, validated_end_s)
    energy[at] = validated_energy_wh
    quality[at] = validated_quality
    return ends, energy, quality


def aggregate_columns(
    ends_s: IntArray, energy_wh: IntArray, quality: IntArray, bounds: Sequence[int]
) -> BucketColumns:
    """
    :func:`aggregate` over columns: sum intervals into buckets.

    Parameters
    ----------
    ends_s, energy_wh, quality : ndarray of int64
        The intervals, sorted by end (:func:`merge_columns`); every quality in :data:`QUALITY_RANK`.
        [s], [Wh], [1]
    bounds : sequence of int
        Bucket bounds (:func:`boundaries`), at least two. [s]

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
    return BucketColumns(b, energy, worst, count, np.diff(b) // INTERVAL_S)


def _offset_suffix(seconds: int, tz: tzinfo) -> tuple[int, str]:
    """The UTC offset of ``tz`` at an instant and its ISO 8601 form, as ``datetime.isoformat`` writes it."""
    local = datetime.fromtimestamp(seconds, tz)
    offset = local.utcoffset()
    return (0 if offset is None else offset // timedelta(seconds=1)), local.isoformat()[19:]


_OFFSET_PROBE_S = 6 * 3600
"""Offsets of a zone are probed this far apart, then bisected where they differ: no zone changes its
offset twice within six hours. [s]"""


def _stamps_of(bounds_s: IntArray, tz: tzinfo) -> list[str]:
    """
    ISO 8601 stamps with the offset of ``tz`` of many instants, equal to ``datetime.isoformat``'s.

    The offset is found once per stretch in which it is constant; the stamps themselves are formatted by
    numpy (``datetime64``), which would cost a ``datetime`` per instant otherwise.
    """
    n = bounds_s.size
    if n == 0:
        return []
    # (index where a stretch starts, offset, suffix) for each stretch of constant offset
    first, last = int(bounds_s[0]), int(bounds_s[-1])
    if tz.utcoffset(None) is not None:  # a fixed offset (UTC): one stretch
        probes = [0, n - 1]
    else:
        inner = np.searchsorted(bounds_s, np.arange(first + _OFFSET_PROBE_S, last, _OFFSET_PROBE_S))
        probes = [0, *inner.tolist(), n - 1]
    cache: dict[int, tuple[int, str]] = {}

    def at(i: int) -> tuple[int, str]:
        if i not in cache:
            cache[i] = _offset_suffix(int(bounds_s[i]), tz)
        return cache[i]

    stretches = [(0, *at(0))]
    for lo, hi in itertools.pairwise(probes):
        if at(lo)[0] == at(hi)[0]:
            continue
        while hi - lo > 1:  # bisect for the first index with the new offset
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if at(mid)[0] == at(lo)[0] else (lo, mid)
        stretches.append((hi, *at(hi)))
    out: list[str] = []
    for (start, offset, suffix), (stop, _, _) in itertools.pairwise([*stretches, (n, 0, "")]):
        local = (bounds_s[start:stop] + offset).astype("datetime64[s]")
        out.extend(s + suffix for s in np.datetime_as_string(local, unit="s").tolist())
    return out


def columns_to_json(columns: BucketColumns, tz: tzinfo, head: Mapping[str, object]) -> str:
    """:func:`to_json` of the buckets of ``columns``: the same document, byte for byte."""
    stamps = _stamps_of(columns.bounds_s, tz)
    energy, quality, count, expected = _values(columns, "null")
    rows = ",".join(
        [
            f'{{"interval_start":"{s0}","interval_end":"{s1}","energy_wh":{e},"quality":{q},'
            f'"count":{c},"expected":{x}}}'
            for s0, s1, e, q, c, x in zip(
                stamps[:-1], stamps[1:], energy, quality, count, expected, strict=True
            )
        ]
    )
    opening = json.dumps(dict(head), separators=(",", ":"))[:-1]
    separator = "," if head else ""
    return f'{opening}{separator}"data":[{rows}],"count":{len(count)}}}'


def columns_to_csv(columns: BucketColumns, tz: tzinfo) -> str:
    """
    :func:`to_csv` of the buckets of ``columns``: the same text, byte for byte.

    No cell needs quoting (stamps and integers), so rows are joined directly rather than through
    :mod:`csv`.
    """
    stamps = _stamps_of(columns.bounds_s, tz)
    energy, quality, count, expected = _values(columns, "")
    lines = [",".join(CSV_COLUMNS)]
    lines.extend(
        f"{s0},{s1},{e},{q},{c},{x}"
        for s0, s1, e, q, c, x in zip(stamps[:-1], stamps[1:], energy, quality, count, expected, strict=True)
    )
    lines.append("")
    return "\n".join(lines)


def _values(columns: BucketColumns, empty: str) -> tuple[list[object], list[object], list[int], list[int]]:
    """Energy, quality (``empty`` in an empty bucket), count and expected of each bucket, as lists."""
    count: list[int] = columns.count.tolist()
    energy: list[object] = columns.energy_wh.tolist()
    quality: list[object] = columns.quality.tolist()
    if count and not columns.count.all():
        energy = [empty if c == 0 else e for e, c in zip(energy, count, strict=True)]
        quality = [empty if c == 0 else q for q, c in zip(quality, count, strict=True)]
    return energy, quality, count, columns.expected.tolist()
