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
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo

import numpy as np
from numpy.typing import NDArray

from meshmeter.headend.buckets import (
    INTERVAL_S,
    QUALITY_RANK,
    RAW_QUALITY,
    Bucket,
    BucketColumns,
    Resolution,
    aggregate_columns,
    bucket_bounds,
    worst_quality,
)
from meshmeter.intervals import zone

__all__ = [
    "CSV_COLUMNS",
    "FIRST_INSTANT",
    "INTERVAL_S",
    "LAST_INSTANT",
    "MAX_SPAN_DAYS",
    "QUALITY_RANK",
    "RAW_QUALITY",
    "Bucket",
    "BucketColumns",
    "Resolution",
    "aggregate",
    "aggregate_columns",
    "boundaries",
    "check_instant",
    "columns_to_csv",
    "columns_to_json",
    "parse_instant",
    "parse_timezone",
    "to_csv",
    "to_json",
    "worst_quality",
]

IntArray = NDArray[np.int64]

MAX_SPAN_DAYS: dict[Resolution, int] = {
    Resolution.QUARTER_HOUR: 372,
    Resolution.HOURLY: 372,
    Resolution.DAILY: 1116,
    Resolution.MONTHLY: 1116,
}
"""Longest range one request may ask for, by resolution (a year and a week; three years and three
weeks). [day]"""


FIRST_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
"""The earliest instant a request may name: the Unix epoch, before any meter's data."""

LAST_INSTANT = datetime(9999, 1, 1, tzinfo=UTC)
"""The latest instant a request may name. A year short of the last ``datetime``, so that no arithmetic
on a bound (a local time in any zone, the month after, the period before) leaves the calendar."""


def check_instant(name: str, value: datetime) -> datetime:
    """
    ``value`` when it lies within :data:`FIRST_INSTANT` .. :data:`LAST_INSTANT`.

    Raises
    ------
    ValueError
        Naming ``name`` and the value, when it lies outside.
    """
    if not FIRST_INSTANT <= value <= LAST_INSTANT:
        raise ValueError(
            f"{name} must lie between {FIRST_INSTANT.isoformat()} and {LAST_INSTANT.isoformat()}, "
            f"got {value.isoformat()}"
        )
    return value


def parse_timezone(name: str | None) -> tzinfo:
    """The time zone of an IANA name (UTC for None); ``ValueError`` naming ``tz`` otherwise."""
    return UTC if name is None else zone(name, name="tz")


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
        When ``text`` is not an ISO 8601 date or date-time, or names an instant outside
        :data:`FIRST_INSTANT` .. :data:`LAST_INSTANT` (:func:`check_instant`).
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{name} must be an ISO 8601 date or date-time (2024-03-10, 2024-03-10T08:00:00Z), got {text!r}"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    try:
        instant = value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0, 9999-12-31T23:00-02:00 in year 10000
        raise ValueError(
            f"{name} must lie between {FIRST_INSTANT.isoformat()} and {LAST_INSTANT.isoformat()}, "
            f"got {text!r}"
        ) from None
    return check_instant(name, instant)


def boundaries(start: datetime, end: datetime, resolution: Resolution, tz: tzinfo = UTC) -> list[int]:
    """
    :func:`meshmeter.headend.buckets.bucket_bounds`, refusing a range longer than :data:`MAX_SPAN_DAYS`.

    Raises
    ------
    ValueError
        When ``end`` is not after ``start``, the range is longer than :data:`MAX_SPAN_DAYS`, or a bound
        is not on a boundary of the resolution.
    """
    if end <= start:
        raise ValueError(f"end must be after start, got start={start.isoformat()} end={end.isoformat()}")
    limit = MAX_SPAN_DAYS[resolution]
    if end - start > timedelta(days=limit):
        raise ValueError(f"the range may span at most {limit} days at resolution {resolution.value}")
    return bucket_bounds(start, end, resolution, tz)


def aggregate(
    ends_s: Sequence[int], energy_wh: Sequence[int], quality: Sequence[int], bounds: Sequence[int]
) -> list[Bucket]:
    """
    Sum intervals into buckets.

    Parameters
    ----------
    ends_s, energy_wh, quality : sequences of int
        The intervals, sorted by end (:meth:`meshmeter.store.Store.interval_view`). [s], [Wh], [1]
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
        out.extend(np.char.add(_iso_seconds(bounds_s[start:stop] + offset), suffix).tolist())
    return out


def _iso_seconds(seconds: IntArray) -> NDArray[np.str_]:
    """
    ``YYYY-MM-DDTHH:MM:SS`` of instants given in seconds since 1970-01-01T00:00:00 (years 1 to 9999).

    The calendar date comes from the day count by H. Hinnant's ``civil_from_days`` (proleptic
    Gregorian), and the text is assembled as digits in a byte array: three times faster than
    ``numpy.datetime_as_string``, which costs a tenth of a year's answer otherwise.
    """
    days, second_of_day = np.divmod(seconds, 86400)
    z = days + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    hour, rest = np.divmod(second_of_day, 3600)
    minute, second = np.divmod(rest, 60)
    text = np.empty((seconds.size, 19), dtype=np.uint8)
    text[:, [4, 7]] = ord("-")
    text[:, 10] = ord("T")
    text[:, [13, 16]] = ord(":")
    for column, value, width in (
        (0, year, 4),
        (5, month, 2),
        (8, day, 2),
        (11, hour, 2),
        (14, minute, 2),
        (17, second, 2),
    ):
        for k in range(width):
            text[:, column + width - 1 - k] = ord("0") + (value // 10**k) % 10
    return text.view("S19").ravel().astype("U19")


_JSON_PIECES = (
    '},{"interval_start":"',
    '","interval_end":"',
    '","energy_wh":',
    ',"quality":',
    ',"count":',
    ',"expected":',
)
"""The constant text of a row of :func:`columns_to_json` before each of its six values; the first piece
also closes the row before."""


def columns_to_json(columns: BucketColumns, tz: tzinfo, head: Mapping[str, object]) -> str:
    """:func:`to_json` of the buckets of ``columns``: the same document, byte for byte."""
    stamps = _stamps_of(columns.bounds_s, tz)
    empty = columns.count == 0
    texts = [
        _int_texts(columns.energy_wh, empty, "null"),
        _int_texts(columns.quality, empty, "null"),
        _int_texts(columns.count, None, ""),
        _int_texts(columns.expected, None, ""),
    ]
    n = int(columns.count.size)
    # Every row is 6 constant pieces and 6 values: put them in place column by column, join once.
    parts: list[str] = [""] * (12 * n)
    for k, piece in enumerate(_JSON_PIECES):
        parts[2 * k :: 12] = [piece] * n
    if n:
        parts[0] = _JSON_PIECES[0][2:]  # no row before the first
        parts.append("}")
    parts[1::12] = stamps[:-1]
    parts[3::12] = stamps[1:]
    for k, values in enumerate(texts):
        parts[5 + 2 * k :: 12] = values
    rows = "".join(parts)
    opening = json.dumps(dict(head), separators=(",", ":"))[:-1]
    separator = "," if head else ""
    return f'{opening}{separator}"data":[{rows}],"count":{n}}}'


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


_SMALL_INT_TEXTS = np.array([str(i) for i in range(1 << 15)], dtype=object)
"""The decimal text of 0 ... 32767: most energies, qualities and counts of an answer, looked up by numpy
instead of formatted one by one."""


def _int_texts(values: IntArray, empty: NDArray[np.bool_] | None, empty_text: str) -> list[str]:
    """The decimal text of each value, ``empty_text`` where ``empty`` is true."""
    if empty is not None and empty.any():
        values = np.where(empty, 0, values)
    if values.size and (values.min() < 0 or values.max() >= _SMALL_INT_TEXTS.size):
        texts = np.array(list(map(str, values.tolist())), dtype=object)
    else:
        texts = _SMALL_INT_TEXTS[values]
    if empty is not None and empty.any():
        texts[empty] = empty_text
    out: list[str] = texts.tolist()
    return out


def _values(columns: BucketColumns, empty: str) -> tuple[list[object], list[object], list[int], list[int]]:
    """Energy, quality (``empty`` in an empty bucket), count and expected of each bucket, as lists."""
    count: list[int] = columns.count.tolist()
    energy: list[object] = columns.energy_wh.tolist()
    quality: list[object] = columns.quality.tolist()
    if count and not columns.count.all():
        energy = [empty if c == 0 else e for e, c in zip(energy, count, strict=True)]
        quality = [empty if c == 0 else q for q, c in zip(quality, count, strict=True)]
    return energy, quality, count, columns.expected.tolist()
