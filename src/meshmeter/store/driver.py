"""The store's hot SQL, written out per driver (SQLite's ``sqlite3``, psycopg 3), and its bulk paths.

The ingest's and the interval reads' statements run on the driver's own cursor, with no SQLAlchemy
compilation or result processing: reads of integer columns that numpy reads as one stream
(:func:`_driver_columns`; PostgreSQL by ``COPY (SELECT ...) TO STDOUT`` in the binary format), and the
writes of new raw rows (:func:`_write_new_rows`: SQLite by ``executemany`` of multi-row ``INSERT``
statements, PostgreSQL by a binary ``COPY`` that numpy assembles, :mod:`meshmeter.store.columns`).
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import chain, repeat
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    cast,
    func,
    select,
    type_coerce,
)

from meshmeter.store.columns import (
    _DAY_S,
    _RAW_COLUMNS_SQL,
    IntArray,
    _decode_cumulative,
    _pg_binary_columns,
    _pg_binary_rows,
)
from meshmeter.store.schema import ingest_batches
from meshmeter.store.types import UtcDateTime, epoch_s


def _in_window(
    table: Table, meter_id: int, lo: datetime, hi: datetime, column: str = "interval_end"
) -> ColumnElement[bool]:
    """One meter's rows with ``lo < column <= hi``: the store's ranges are open at their start."""
    time_column = table.c[column]
    return and_(table.c.meter_id == meter_id, time_column > lo, time_column <= hi)


def _epoch_column(column: Any, dialect_name: str) -> ColumnElement[int]:
    """A time column as integer seconds since the Unix epoch, computed by the database (no ``datetime``)."""
    if dialect_name == "postgresql":
        return cast(func.extract("epoch", column), BigInteger())
    return type_coerce(column, BigInteger())  # SQLite stores the epoch seconds themselves


def _int_columns(connection: Connection, query: Select[Any], width: int) -> list[IntArray]:
    """
    The ``width`` integer columns of a query's rows, as int64 arrays.

    The query runs on the driver's own cursor: its rows are the driver's tuples, with no SQLAlchemy row
    or result processing around them (the columns must be plain integers), and numpy reads each column
    from a list of ints, far faster than from a list of rows.
    """
    compiled = query.compile(dialect=connection.dialect)
    utc = UtcDateTime()
    params = {
        name: utc.process_bind_param(value, connection.dialect) if isinstance(value, datetime) else value
        for name, value in compiled.construct_params().items()
    }
    args: Any = [params[name] for name in compiled.positiontup or ()] if compiled.positional else params
    cursor = connection.connection.cursor()
    try:
        cursor.execute(str(compiled), args)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    columns = list(zip(*rows, strict=True)) or [()] * width
    return [np.array(column, dtype=np.int64) for column in columns]


_HOT_SQL: dict[str, tuple[str, str]] = {
    "main": (
        "SELECT interval_end, energy_wh, COALESCE(cumulative_wh, -2), batch_id FROM raw_intervals "
        "WHERE meter_id = ? AND interval_end > ? AND interval_end <= ? ORDER BY interval_end",
        "SELECT CAST(EXTRACT(EPOCH FROM interval_end) AS BIGINT), energy_wh, COALESCE(cumulative_wh, -2), "
        "batch_id FROM raw_intervals WHERE meter_id = %s AND interval_end > to_timestamp(%s) "
        "AND interval_end <= to_timestamp(%s) ORDER BY interval_end",
    ),
    "main_energy": (
        "SELECT interval_end, energy_wh FROM raw_intervals "
        "WHERE meter_id = ? AND interval_end > ? AND interval_end <= ? ORDER BY interval_end",
        "SELECT CAST(EXTRACT(EPOCH FROM interval_end) AS BIGINT), energy_wh FROM raw_intervals "
        "WHERE meter_id = %s AND interval_end > to_timestamp(%s) AND interval_end <= to_timestamp(%s) "
        "ORDER BY interval_end",
    ),
    "revisions": (
        "SELECT interval_end, revision, energy_wh, COALESCE(cumulative_wh, -1), batch_id "
        "FROM raw_interval_revisions WHERE meter_id = ? AND interval_end > ? AND interval_end <= ? "
        "ORDER BY interval_end, revision",
        "SELECT CAST(EXTRACT(EPOCH FROM interval_end) AS BIGINT), CAST(revision AS BIGINT), energy_wh, "
        "COALESCE(cumulative_wh, -1), batch_id FROM raw_interval_revisions WHERE meter_id = %s "
        "AND interval_end > to_timestamp(%s) AND interval_end <= to_timestamp(%s) "
        "ORDER BY interval_end, revision",
    ),
    "lock_meter": (
        "SELECT id FROM meters WHERE id = ?",
        "SELECT id FROM meters WHERE id = %s FOR NO KEY UPDATE",
    ),
    "bump_data_version": (
        "UPDATE meters SET data_version = data_version + 1 WHERE id = ?",
        "UPDATE meters SET data_version = data_version + 1 WHERE id = %s",
    ),
    "lock_serial": (
        "SELECT id FROM meters WHERE serial = ?",
        "SELECT id FROM meters WHERE serial = %s FOR NO KEY UPDATE",
    ),
    "batch_new": (
        "INSERT INTO ingest_batches (source, received_at) VALUES (?, ?) "
        "ON CONFLICT (source, received_at) DO NOTHING",
        "INSERT INTO ingest_batches (source, received_at) VALUES (%s, to_timestamp(%s)) "
        "ON CONFLICT (source, received_at) DO NOTHING",
    ),
    "batch_id": (
        "SELECT id FROM ingest_batches WHERE source = ? AND received_at = ?",
        "SELECT id FROM ingest_batches WHERE source = %s AND received_at = to_timestamp(%s)",
    ),
}
"""The statements of the ingest's and the interval reads' hot path, written out for each driver
(SQLite, psycopg): run on the driver's cursor, they cost no compilation and no result processing.
Times are integer seconds since the Unix epoch on both sides."""


def _driver(connection: Connection, name: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one of :data:`_HOT_SQL` on the driver's cursor; its rows (none for a statement without)."""
    sql = _HOT_SQL[name][1 if connection.dialect.name == "postgresql" else 0]
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, tuple(params))
        return list(cursor.fetchall()) if cursor.description is not None else []
    finally:
        cursor.close()


def _driver_columns(connection: Connection, name: str, params: Sequence[Any], width: int) -> list[IntArray]:
    """
    Run one of :data:`_HOT_SQL` whose rows are ``width`` integers; its columns as int64 arrays.

    numpy reads the cursor's rows as one flat stream of integers (no list of rows, no column lists):
    a year of one meter's quarter-hours is 35,136 rows.
    """
    if connection.dialect.name == "postgresql":
        return _pg_copy_columns(connection, _HOT_SQL[name][1], params, width)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_HOT_SQL[name][0], tuple(params))
        rows = typing.cast(Iterable[Sequence[int]], cursor)  # a DB-API cursor iterates its rows
        flat = np.fromiter(chain.from_iterable(rows), dtype=np.int64)
    finally:
        cursor.close()
    table = flat.reshape(-1, width)
    return [np.ascontiguousarray(table[:, k]) for k in range(width)]


def _pg_copy_columns(
    connection: Connection, select_sql: str, params: Sequence[Any], width: int
) -> list[IntArray]:
    """
    PostgreSQL: the ``width`` BIGINT columns (none NULL) of a query, by ``COPY (query) TO STDOUT`` in
    the binary format, read by numpy as fixed-size records
    (:func:`~meshmeter.store.columns._pg_binary_columns`).
    """
    cursor = connection.connection.cursor()
    try:
        with cursor.copy(f"COPY ({select_sql}) TO STDOUT (FORMAT BINARY)", tuple(params)) as copy:
            data = b"".join(bytes(block) for block in copy)
    finally:
        cursor.close()
    return _pg_binary_columns(data, width)


def _main_columns(
    connection: Connection, meter_id: int, lo_s: int, hi_s: int, *, decode: bool
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """
    Revision 0 of a meter's raw intervals with ``lo_s < interval_end <= hi_s``, as columns.

    Returns ends [s], energy [Wh], counters [Wh] (-1 none; with ``decode`` False the stored codes, -2 for a
    derived one) and batch ids. With ``decode``, rows from the UTC midnight before ``lo_s`` are read too,
    so that every derived counter is rebuilt from a stored one.
    """
    read_lo = (lo_s // _DAY_S) * _DAY_S - 1 if decode else lo_s
    ends, energy, codes, batch = _driver_columns(connection, "main", (meter_id, read_lo, hi_s), 4)
    if decode:
        codes = _decode_cumulative(ends, energy, codes)
        if read_lo != lo_s:
            keep = ends > lo_s
            ends, energy, codes, batch = ends[keep], energy[keep], codes[keep], batch[keep]
    return ends, energy, codes, batch


def _revision_columns(
    connection: Connection, meter_id: int, lo_s: int, hi_s: int
) -> tuple[IntArray, IntArray, IntArray, IntArray, IntArray]:
    """Revisions 1, 2 ... with ``lo_s < interval_end <= hi_s``: ends, revision, energy, counter (-1 none),
    batch id, by end then revision."""
    ends, revision, energy, cumulative, batch = _driver_columns(
        connection, "revisions", (meter_id, lo_s, hi_s), 5
    )
    return ends, revision, energy, cumulative, batch


SEAL_SOURCE = "vee:seal"
"""The ``source`` of the empty batches a VEE run makes when it reads the ingest watermark (the seals)."""


def _batch_id(connection: Connection, source: str, received_at: datetime) -> int:
    """The id of the delivery ``(source, received_at)``, made when new.

    A delivery is named by its source and second; a second delivery of the same second joins its batch,
    unless a VEE run has sealed the batches since (``ValidatedIntervalsMixin.ingest_watermark``): rows
    added then to a batch the run counted would pass as validated unseen, so the delivery takes the next
    free second instead."""
    at = epoch_s(received_at)
    sealed = connection.execute(
        select(func.max(ingest_batches.c.id)).where(ingest_batches.c.source == SEAL_SOURCE)
    ).scalar()
    while True:
        _driver(connection, "batch_new", (source, at))
        found = int(_driver(connection, "batch_id", (source, at))[0][0])
        if sealed is None or found > sealed:
            return found
        at += 1


def _latest_raw_energy(c: Connection, meter_id: int, lo_s: int, hi_s: int) -> dict[int, int]:
    """Energy of the latest revision of each raw interval with ``lo_s < interval_end <= hi_s``. [Wh]"""
    ends, energy, _, _ = _main_columns(c, meter_id, lo_s, hi_s, decode=False)
    out = dict(zip(ends.tolist(), energy.tolist(), strict=True))
    r_ends, _, r_energy, _, _ = _revision_columns(c, meter_id, lo_s, hi_s)
    out.update(zip(r_ends.tolist(), r_energy.tolist(), strict=True))
    return out


SQLITE_ROWS_PER_INSERT = 100
"""Rows of one ``INSERT ... VALUES (...), (...)`` of the SQLite bulk path (500 parameters): one statement
step per 100 rows instead of per row, about twice the rows per second of a row-per-statement
``executemany``."""


def _sqlite_insert(rows: int) -> str:
    """``INSERT INTO raw_intervals ... VALUES`` of ``rows`` rows of parameters."""
    return f"INSERT INTO raw_intervals ({_RAW_COLUMNS_SQL}) VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * rows)


def _slices(flat: list[int | None], stop: int, width: int) -> list[list[int | None]]:
    """``flat[0:width]``, ``flat[width:2 * width]`` ... up to ``stop``."""
    return [flat[start : start + width] for start in range(0, stop, width)]


_MAX_INT64 = 2**63 - 1


def _write_new_rows(
    connection: Connection,
    meter_id: int,
    batch_id: int,
    ends_s: IntArray,
    energy_wh: IntArray,
    cumulative_wh: IntArray,
    derived: NDArray[np.bool_],
) -> None:
    """
    Write rows known to be new (the meter is locked and its stored rows were read): SQLite by the
    driver's ``executemany`` of multi-row ``INSERT`` statements, PostgreSQL by a binary ``COPY`` that
    numpy assembles. ``cumulative_wh`` is stored NULL where ``derived``.
    """
    n = ends_s.size
    if n == 0:
        return
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.cursor()
        try:
            with cursor.copy(f"COPY raw_intervals ({_RAW_COLUMNS_SQL}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(_pg_binary_rows(meter_id, batch_id, ends_s, energy_wh, cumulative_wh, derived))
        finally:
            cursor.close()
        return
    if derived.any():
        coded = cumulative_wh.astype(object)
        coded[derived] = None
        codes: list[int | None] = coded.tolist()
    else:
        codes = cumulative_wh.tolist()
    # The values of every row, flat, in the columns' order; then SQLITE_ROWS_PER_INSERT rows a statement.
    flat: list[int | None] = [None] * (5 * n)
    flat[0::5] = repeat(meter_id, n)
    flat[1::5] = ends_s.tolist()
    flat[2::5] = energy_wh.tolist()
    flat[3::5] = codes
    flat[4::5] = repeat(batch_id, n)
    width = 5 * SQLITE_ROWS_PER_INSERT
    whole = (n // SQLITE_ROWS_PER_INSERT) * width
    cursor = connection.connection.cursor()
    try:
        if whole:
            cursor.executemany(_sqlite_insert(SQLITE_ROWS_PER_INSERT), _slices(flat, whole, width))
        if whole < len(flat):
            cursor.execute(_sqlite_insert((len(flat) - whole) // 5), flat[whole:])
    finally:
        cursor.close()
