"""Codecs of the compact columns of ``raw_intervals`` (``docs/store.md``, "Raw intervals stored compactly").

Pure numpy over integer columns, no database: how a stored counter code is read back
(:func:`_decode_cumulative`), and PostgreSQL's binary ``COPY`` format, written for ``raw_intervals``
(:func:`_pg_binary_rows`) and read for any query of BIGINT columns (:func:`_pg_binary_columns`). The
statements that move these bytes are :mod:`meshmeter.store.driver`'s.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

from meshmeter.intervals import CUMULATIVE_NONE, INTERVAL_S

IntArray = NDArray[np.int64]

_INTERVAL_S: Final = INTERVAL_S
"""The counter of a row is derived only from the row this much earlier (a 15-minute interval); rows of
meters of other lengths carry their counters. [s]"""

_DAY_S = 86400
"""A row ending at a multiple of this (UTC midnight) always carries its counter. [s]"""

_DERIVED = -2
"""How :func:`meshmeter.store.driver._main_columns` reads a NULL ``cumulative_wh`` (derived from the row
before) before decoding."""

_RAW_COLUMNS_SQL = "meter_id, interval_end, energy_wh, cumulative_wh, batch_id"


def _decode_cumulative(ends_s: IntArray, energy_wh: IntArray, codes: IntArray) -> IntArray:
    """
    The counters of consecutive stored rows of one meter, from their stored codes.

    Parameters
    ----------
    ends_s : ndarray of int64
        Interval ends, increasing; the first row read must carry its counter (a UTC midnight or
        earlier rows are read too). [s]
    energy_wh : ndarray of int64
        Energy of each row. [Wh]
    codes : ndarray of int64
        ``cumulative_wh`` as stored: a counter, -1 (none sent) or -2 (NULL: the previous row's plus the
        row's energy). [Wh]

    Returns
    -------
    ndarray of int64
        The counter at the end of each row, -1 where none is known. [Wh]
    """
    n = codes.size
    if n == 0:
        return codes.copy()
    derived = codes == _DERIVED
    if not derived.any():
        return codes.copy()
    index = np.arange(n)
    anchor = np.maximum.accumulate(np.where(derived, -1, index))
    summed = np.cumsum(energy_wh)
    safe = np.maximum(anchor, 0)
    base = codes[safe]
    out = np.where(derived, base + summed - summed[safe], codes)
    out[derived & ((anchor < 0) | (base < 0))] = CUMULATIVE_NONE  # never written so; read as unknown
    return out


_PG_EPOCH_S = 946_684_800
"""PostgreSQL's epoch, 2000-01-01T00:00:00Z, in Unix seconds: binary timestamps count microseconds from it."""

_PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00"
"""The signature that starts PostgreSQL's binary ``COPY`` format (then 4 bytes of flags, 4 of extension)."""

_PG_ROW = np.dtype(
    [
        ("fields", ">i2"),
        *[
            (f"{name}_{part}", ">i4" if part == "length" else ">i8")
            for name in _RAW_COLUMNS_SQL.split(", ")
            for part in ("length", "value")
        ],
    ]
)
"""One row of ``raw_intervals`` in PostgreSQL's binary ``COPY`` format, every column present (62 bytes)."""

_PG_CUMULATIVE_AT = 2 + 3 * 12 + 4
"""Where the value of ``cumulative_wh`` starts in a :data:`_PG_ROW`: after the field count, three columns
(length and value) and its own length. [byte]"""


def _pg_binary_rows(
    meter_id: int,
    batch_id: int,
    ends_s: IntArray,
    energy_wh: IntArray,
    cumulative_wh: IntArray,
    derived: NDArray[np.bool_],
) -> bytes:
    """
    Rows of ``raw_intervals`` as a whole binary ``COPY`` stream (signature, rows, trailer), built by numpy.

    Each row is a field count and, per column, a length and a big-endian BIGINT (``interval_end``:
    microseconds since 2000-01-01 UTC); a NULL ``cumulative_wh`` (where ``derived``) is the length -1
    and no value, so those rows are 8 bytes shorter.
    """
    n = ends_s.size
    rows = np.zeros(n, dtype=_PG_ROW)
    rows["fields"] = 5
    for name, value in (
        ("meter_id", meter_id),
        ("interval_end", (ends_s - _PG_EPOCH_S) * 1_000_000),
        ("energy_wh", energy_wh),
        ("cumulative_wh", cumulative_wh),
        ("batch_id", batch_id),
    ):
        rows[f"{name}_length"] = 8
        rows[f"{name}_value"] = value
    body = rows.view(np.uint8).reshape(n, _PG_ROW.itemsize)
    if derived.any():
        rows["cumulative_wh_length"][derived] = -1
        keep = np.ones(body.shape, dtype=bool)
        keep[derived, _PG_CUMULATIVE_AT : _PG_CUMULATIVE_AT + 8] = False
        data = body[keep].tobytes()  # row by row, the NULL counters' 8 bytes left out
    else:
        data = body.tobytes()
    return _PG_COPY_HEADER + b"\x00" * 8 + data + b"\xff\xff"


def _pg_binary_columns(data: bytes, width: int) -> list[IntArray]:
    """
    The ``width`` BIGINT columns (none NULL) of a whole binary ``COPY ... TO STDOUT`` stream, read by
    numpy as fixed-size records: no Python object per row or value.

    A record is a 2-byte field count, then per field a 4-byte length (8) and the 8-byte big-endian
    integer.
    """
    fields: list[tuple[str, str]] = [("fields", ">i2")]
    for k in range(width):
        fields += [(f"length{k}", ">i4"), (f"value{k}", ">i8")]
    record = np.dtype(fields)
    extension = int.from_bytes(data[15:19], "big")
    start = 19 + extension
    if not data.startswith(_PG_COPY_HEADER) or data[-2:] != b"\xff\xff":
        raise RuntimeError("PostgreSQL sent a binary COPY stream that is not one")
    size = len(data) - start - 2
    if size % record.itemsize:
        raise RuntimeError(f"PostgreSQL sent records other than {width} non-null BIGINT columns")
    body = np.frombuffer(data, dtype=record, offset=start, count=size // record.itemsize)
    if (body["fields"] != width).any() or any((body[f"length{k}"] != 8).any() for k in range(width)):
        raise RuntimeError(f"PostgreSQL sent records other than {width} non-null BIGINT columns")
    return [body[f"value{k}"].astype(np.int64) for k in range(width)]


def _overlay_latest(
    ends: IntArray, revision_ends: IntArray, *pairs: tuple[IntArray, IntArray]
) -> list[IntArray]:
    """
    Revision-0 columns of a meter with each interval's latest revision put over them.

    Parameters
    ----------
    ends : ndarray of int64
        Interval ends of the revision-0 rows, increasing. [s]
    revision_ends : ndarray of int64
        Interval ends of revisions 1, 2 ..., by end then revision (each also among ``ends``). [s]
    *pairs : (ndarray, ndarray)
        Each a revision-0 column and the same column of the revisions.

    Returns
    -------
    list of ndarray
        The columns, with the last revision of each end in place (copies where any was replaced).
    """
    if revision_ends.size == 0:
        return [column for column, _ in pairs]
    latest = np.append(revision_ends[1:] != revision_ends[:-1], True)  # the last revision of each end
    at = np.searchsorted(ends, revision_ends[latest])
    out = []
    for column, revised in pairs:
        column = column.copy()
        column[at] = revised[latest]
        out.append(column)
    return out
