"""The store's repository: the :class:`Store`, whose keyword-only methods are the only way in or out.

Every write runs in one transaction (SQLite: the one writer connection, ``BEGIN IMMEDIATE``): its arguments
are checked first, and bad input (NaN, a negative or non-integer energy, a naive datetime, an unknown
meter) is refused with a ``ValueError`` naming the field; nothing of a refused call is written.

Raw intervals are never overwritten. A repeated interval with the same values is ignored (idempotent
ingest); one whose values conflict with every value already stored for it is kept beside them as the next
*revision*. Reads return the latest revision unless asked for all (``docs/store.md``).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import chain, repeat
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Row,
    Select,
    Table,
    and_,
    bindparam,
    cast,
    func,
    insert,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError

from meshmeter.errors import MeshmeterError
from meshmeter.intervals import INTERVAL_S, IntervalColumns, IntervalLength, Quality
from meshmeter.store import _validate as v
from meshmeter.store.engine import Engines, make_engines
from meshmeter.store.migrations import migrate
from meshmeter.store.models import (
    Account,
    ApiToken,
    Event,
    FrameAudit,
    IntervalEdit,
    Mdt,
    Meter,
    NetworkReport,
    OutboxMessage,
    RawInsertResult,
    RawInterval,
    RawIntervalIn,
    RegisterRead,
    Site,
    Tenant,
    ValidatedInterval,
    ValidatedIntervalIn,
)
from meshmeter.store.schema import (
    API_TOKEN_ROLES,
    CUMULATIVE_NONE,
    METER_ROLES,
    QUALITY_CODES,
    accounts,
    api_tokens,
    bills,
    events,
    frame_audit,
    ingest_batches,
    ingest_formats,
    interval_edits,
    mdts,
    meters,
    network_reports,
    push_outbox,
    raw_interval_revisions,
    register_reads,
    sites,
    tenants,
    validated_intervals,
    vee_runs,
)
from meshmeter.store.types import UtcDateTime, epoch_s, from_epoch_s

__all__ = [
    "API_TOKEN_PREFIX",
    "AUDIT_FREE_QUALITIES",
    "BillConflictError",
    "Store",
    "StoredBill",
    "UnknownMeterError",
    "hash_api_token",
]


class UnknownMeterError(MeshmeterError, ValueError):
    """A meter id or serial number that the store does not know."""


AUDIT_FREE_QUALITIES = frozenset({0, 10, 14})
"""Qualities that, put for the first time with the raw value, pass raw data through (or flag it) and
need no edit record; every other change to a validated interval is audited."""


API_TOKEN_PREFIX = "mm_"
"""Every API token starts with this, so that a leaked one is easy to recognise (and to scan for)."""


def hash_api_token(token: str) -> bytes:
    """
    The SHA-256 of an API token, as stored.

    A token carries 256 random bits, so a fast hash suffices: there is nothing to guess that a slow
    hash (scrypt) would protect better, and every request checks one.
    """
    return hashlib.sha256(token.encode("utf-8")).digest()


def _api_token(r: Row[Any]) -> ApiToken:
    return ApiToken(r.id, r.prefix, r.role, r.label, r.created_at, r.revoked_at)


def _meter(r: Row[Any]) -> Meter:
    return Meter(
        r.id,
        r.serial,
        r.designation,
        r.ct_ratio,
        r.multiplier,
        r.install_date,
        r.site_id,
        int(r.interval_s),
        r.role,
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _range(start: object, end: object) -> tuple[datetime, datetime]:
    lo = v.check_utc("start", start)
    hi = v.check_utc("end", end)
    if lo > hi:
        raise ValueError(f"start must not be after end, got start={lo.isoformat()} end={hi.isoformat()}")
    return lo, hi


IntArray = NDArray[np.int64]


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


_ROWCOUNT = {"preserve_rowcount": True}
"""Keep the cursor's row count of an INSERT (SQLAlchemy guarantees it only for UPDATE and DELETE)."""

_INTERVAL_S = INTERVAL_S
"""The counter of a row is derived only from the row this much earlier (a 15-minute interval); rows of
meters of other lengths carry their counters. [s]"""

_DAY_S = 86400
"""A row ending at a multiple of this (UTC midnight) always carries its counter. [s]"""

_DERIVED = -2
"""How :func:`_main_columns` reads a NULL ``cumulative_wh`` (derived from the row before) before decoding."""

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


_PG_EPOCH_S = 946_684_800
"""PostgreSQL's epoch, 2000-01-01T00:00:00Z, in Unix seconds: binary timestamps count microseconds from it."""

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


_PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00"
"""The signature that starts PostgreSQL's binary ``COPY`` format (then 4 bytes of flags, 4 of extension)."""


def _pg_copy_columns(
    connection: Connection, select_sql: str, params: Sequence[Any], width: int
) -> list[IntArray]:
    """
    PostgreSQL: the ``width`` BIGINT columns (none NULL) of a query, by ``COPY (query) TO STDOUT`` in
    the binary format, read by numpy as fixed-size records: no Python object per row or value.

    A record is a 2-byte field count, then per field a 4-byte length (8) and the 8-byte big-endian
    integer.
    """
    fields: list[tuple[str, str]] = [("fields", ">i2")]
    for k in range(width):
        fields += [(f"length{k}", ">i4"), (f"value{k}", ">i8")]
    record = np.dtype(fields)
    cursor = connection.connection.cursor()
    try:
        with cursor.copy(f"COPY ({select_sql}) TO STDOUT (FORMAT BINARY)", tuple(params)) as copy:
            data = b"".join(bytes(block) for block in copy)
    finally:
        cursor.close()
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


def _batch_id(connection: Connection, source: str, received_at: datetime) -> int:
    """The id of the delivery ``(source, received_at)``, made when new."""
    at = epoch_s(received_at)
    _driver(connection, "batch_new", (source, at))
    return int(_driver(connection, "batch_id", (source, at))[0][0])


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


def _check_columns(
    name: str, meter_id: object, ends: object, energy: object, cumulative: object
) -> tuple[int | str, IntArray, IntArray, IntArray]:
    """One meter's columns checked and sorted by end; ``ValueError`` naming ``name`` and the field."""
    meter: int | str = (
        v.check_text(f"{name}.meter", meter_id)
        if isinstance(meter_id, str)
        else v.check_id(f"{name}.meter_id", meter_id)
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
            or (array.size and array.dtype.kind == "u" and int(array.max()) > _MAX_INT64)
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


class BillConflictError(MeshmeterError):
    """A bill of the same account, meter, period and tariff is stored with other figures."""


_BILL_MODES = ("california", "maryland")


@dataclass(frozen=True, slots=True)
class StoredBill:
    """
    A bill as the store keeps it (table ``bills``, ``docs/billing.md``).

    Attributes
    ----------
    id : int
        Its id.
    site_id, account_id, meter_id : int or None
        The site, the store's account (tenant in a unit) and the meter billed, when known.
    account, meter : str
        The account and the meter's serial, as printed on the bill.
    period_start, period_end : datetime
        The billing period ``(start, end]``, UTC.
    timezone : str
        IANA time zone of the tariff's local time.
    mode : str
        ``california`` (re-rating) or ``maryland`` (allocation).
    tariff_name, tariff_sha256 : str
        The tariff's name and the SHA-256 of its document (64 hex digits).
    engine_version : str
        The billing engine that made it.
    energy_wh : int
        Energy billed. [Wh]
    total, printed_total : Decimal
        Exact total of the lines, and the total of the cent-rounded lines (what is due). [USD]
    created_at : datetime
        When it was stored, UTC.
    document : dict
        The bill as ``Bill.to_dict()`` gave it: lines and figures, and, from :meth:`Store.get_bill`,
        ``inputs`` (tariff, intervals ...), enough to re-bill it exactly (``verify_bill``).
    """

    id: int
    site_id: int | None
    account_id: int | None
    meter_id: int | None
    account: str
    meter: str
    period_start: datetime
    period_end: datetime
    timezone: str
    mode: str
    tariff_name: str
    tariff_sha256: str
    engine_version: str
    energy_wh: int
    total: Decimal
    printed_total: Decimal
    created_at: datetime
    document: dict[str, Any] = dataclass_field(repr=False, compare=False)


def _bill_member(document: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = document.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"document.{name} is missing or malformed, got {value!r}")
    return value


def _bill_decimal(document: Mapping[str, Any], name: str) -> Decimal:
    text = _bill_member(document, name, str)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"document.{name} must be a decimal number as text, got {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"document.{name} must be finite, got {text!r}")
    return value


def _bill_row(document: Mapping[str, Any]) -> dict[str, Any]:
    """The columns of a bill's row from its document; ``ValueError`` naming a bad member."""
    if not isinstance(document, Mapping):
        raise ValueError(f"document must be a mapping (Bill.to_dict()), got {type(document).__name__}")
    doc: dict[str, Any] = v.check_json("document", dict(document))
    inputs = _bill_member(doc, "inputs", dict)
    sha = _bill_member(inputs, "tariff_sha256", str)
    if len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha):
        raise ValueError(f"document.inputs.tariff_sha256 must be 64 lower-case hex digits, got {sha!r}")
    mode = _bill_member(doc, "mode", str)
    if mode not in _BILL_MODES:
        raise ValueError(f"document.mode must be one of {_BILL_MODES}, got {mode!r}")
    try:
        start = datetime.fromisoformat(_bill_member(doc, "start", str))
        end = datetime.fromisoformat(_bill_member(doc, "end", str))
    except ValueError:
        raise ValueError("document.start and document.end must be ISO 8601 date-times") from None
    start, end = v.check_utc("document.start", start), v.check_utc("document.end", end)
    if end <= start:
        raise ValueError(f"document.end must be after document.start, got {end.isoformat()}")
    energy = _bill_member(doc, "energy_wh", int)
    total = _bill_decimal(doc, "total")
    printed_total = _bill_decimal(doc, "printed_total")
    if printed_total != printed_total.quantize(Decimal("0.01")):
        raise ValueError(f"document.printed_total must be whole cents, got {str(printed_total)!r}")
    lines = _bill_member(doc, "lines", list)
    figures = {k: w for k, w in doc.items() if k not in ("lines", "inputs")}
    return {
        "account": _bill_member(doc, "account", str),
        "meter": _bill_member(doc, "meter", str),
        "period_start": start,
        "period_end": end,
        "timezone": _bill_member(doc, "timezone", str),
        "mode": mode,
        "tariff_name": _bill_member(doc, "tariff", str),
        "tariff_sha256": sha,
        "engine_version": _bill_member(inputs, "engine_version", str),
        "energy_wh": energy,
        "total": str(total),
        "printed_total_cents": int(printed_total * 100),
        "figures": figures,
        "lines": lines,
        "inputs": inputs,
        "document": doc,
    }


def _stored_bill(r: Row[Any], *, with_inputs: bool = True) -> StoredBill:
    document = dict(r.figures)
    document["lines"] = list(r.lines)
    if with_inputs:
        document["inputs"] = dict(r.inputs)
    return StoredBill(
        id=r.id,
        site_id=r.site_id,
        account_id=r.account_id,
        meter_id=r.meter_id,
        account=r.account,
        meter=r.meter,
        period_start=r.period_start,
        period_end=r.period_end,
        timezone=r.timezone,
        mode=r.mode,
        tariff_name=r.tariff_name,
        tariff_sha256=r.tariff_sha256,
        engine_version=r.engine_version,
        energy_wh=int(r.energy_wh),
        total=Decimal(r.total),
        printed_total=Decimal(int(r.printed_total_cents)) / 100,
        created_at=r.created_at,
        document=document,
    )


class Store:
    """
    The durable store of one database (SQLite or PostgreSQL).

    Parameters
    ----------
    url : str or URL, optional
        The database (:func:`meshmeter.store.engine.database_url`): default ``$MESHMETER_DATABASE_URL``,
        else ``sqlite:///meshmeter.db``.
    migrate : bool, optional
        Bring the schema to the latest version on opening (default True).
    echo : bool, optional
        Log every statement.

    Notes
    -----
    Methods take keyword arguments only. Intervals are selected by their end: a range ``start, end``
    holds the intervals with ``start < interval_end <= end``, i.e. those that lie within (start, end].
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

    def __enter__(self) -> Store:
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
    def _require(connection: Connection, table: Table, key: int, field: str, what: str) -> None:
        if connection.execute(select(table.c.id).where(table.c.id == key)).first() is None:
            raise ValueError(f"{field} {key!r} is not a known {what}")

    # -- sites, meters, MDTs, tenants, accounts ----------------------------------------------------------

    def create_site(self, *, name: str, timezone: str) -> Site:
        """
        Create a site.

        Parameters
        ----------
        name : str
            Unique name.
        timezone : str
            IANA time zone of the site, e.g. ``"America/Los_Angeles"``.
        """
        name = v.check_text("name", name)
        timezone = v.check_text("timezone", timezone)
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone must be an IANA time zone name, got {timezone!r}") from None
        with self._write() as c:
            try:
                site_id = c.execute(
                    insert(sites).values(name=name, timezone=timezone).returning(sites.c.id)
                ).scalar_one()
            except IntegrityError:
                raise ValueError(f"name {name!r} is already a site") from None
        return Site(id=int(site_id), name=name, timezone=timezone)

    def get_site(self, *, site_id: int) -> Site | None:
        """The site with this id, or None."""
        with self._read() as c:
            row = c.execute(select(sites).where(sites.c.id == site_id)).first()
        return None if row is None else Site(id=row.id, name=row.name, timezone=row.timezone)

    def sites(self) -> list[Site]:
        """Every site, by id."""
        with self._read() as c:
            rows = c.execute(select(sites).order_by(sites.c.id)).all()
        return [Site(id=r.id, name=r.name, timezone=r.timezone) for r in rows]

    def create_meter(
        self,
        *,
        serial: str,
        designation: str,
        ct_ratio: float,
        multiplier: float = 1.0,
        install_date: date | None = None,
        site_id: int | None = None,
        interval_s: int = INTERVAL_S,
        role: str = "unit",
    ) -> Meter:
        """
        Create a meter.

        Parameters
        ----------
        serial : str
            Serial number, unique.
        designation : str
            Model designation (certificate p.1).
        ct_ratio : float
            CT primary / secondary, e.g. 2000 for 200:0.1 A. [1]
        multiplier : float, optional
            Register reading to energy, default 1. [1]
        install_date : date, optional
            Local date of installation.
        site_id : int, optional
            The site, which must exist.
        interval_s : int, optional
            Length of the meter's intervals, 300, 900 (default, the Mini Meter's MDT), 1800 or 3600. [s]
        role : str, optional
            ``"unit"`` (default), ``"house"``, ``"production"`` or ``"master"``
            (:data:`~meshmeter.store.schema.METER_ROLES`).
        """
        serial = v.check_text("serial", serial)
        designation = v.check_text("designation", designation)
        ct_ratio = v.check_positive_float("ct_ratio", ct_ratio)
        multiplier = v.check_positive_float("multiplier", multiplier)
        length = int(IntervalLength.of(interval_s))
        if role not in METER_ROLES:
            raise ValueError(f"role must be one of {', '.join(METER_ROLES)}, got {role!r}")
        if install_date is not None:
            install_date = v.check_date("install_date", install_date)
        if site_id is not None:
            site_id = v.check_id("site_id", site_id)
        values = {
            "serial": serial,
            "designation": designation,
            "ct_ratio": ct_ratio,
            "multiplier": multiplier,
            "install_date": install_date,
            "site_id": site_id,
            "interval_s": length,
            "role": role,
        }
        with self._write() as c:
            if site_id is not None:
                self._require(c, sites, site_id, "site_id", "site")
            try:
                meter_id = c.execute(insert(meters).values(**values).returning(meters.c.id)).scalar_one()
            except IntegrityError:
                raise ValueError(f"serial {serial!r} is already a meter") from None
        return Meter(
            int(meter_id), serial, designation, ct_ratio, multiplier, install_date, site_id, length, role
        )

    def get_meter(self, *, serial: str | None = None, meter_id: int | None = None) -> Meter | None:
        """The meter with this serial number or id (give exactly one), or None."""
        if (serial is None) == (meter_id is None):
            raise ValueError("give exactly one of serial and meter_id")
        where = meters.c.serial == serial if serial is not None else meters.c.id == meter_id
        with self._read() as c:
            row = c.execute(select(meters).where(where)).first()
        return None if row is None else _meter(row)

    def meters(self, *, site_id: int | None = None) -> list[Meter]:
        """Every meter, or those of one site, by id."""
        query = select(meters).order_by(meters.c.id)
        if site_id is not None:
            query = query.where(meters.c.site_id == v.check_id("site_id", site_id))
        with self._read() as c:
            rows = c.execute(query).all()
        return [_meter(r) for r in rows]

    def create_mdt(self, *, eui64: bytes, kit: str, key: bytes, meter_id: int | None = None) -> Mdt:
        """
        Create an MDT.

        Parameters
        ----------
        eui64 : bytes
            IEEE EUI-64, 8 bytes, unique.
        kit : str
            Kit designation, e.g. ``"MMSMT-C02"`` (manual §2.4).
        key : bytes
            AES-128 key, 16 bytes.
        meter_id : int, optional
            The meter whose pulse output it counts.
        """
        eui64 = v.check_bytes("eui64", eui64, 8)
        kit = v.check_text("kit", kit)
        key = v.check_bytes("key", key, 16)
        if meter_id is not None:
            meter_id = v.check_id("meter_id", meter_id)
        with self._write() as c:
            if meter_id is not None:
                self._require(c, meters, meter_id, "meter_id", "meter")
            try:
                mdt_id = c.execute(
                    insert(mdts).values(eui64=eui64, kit=kit, key=key, meter_id=meter_id).returning(mdts.c.id)
                ).scalar_one()
            except IntegrityError:
                raise ValueError(f"eui64 {eui64.hex()} is already an MDT") from None
        return Mdt(id=int(mdt_id), eui64=eui64, kit=kit, key=key, meter_id=meter_id)

    def get_mdt(self, *, eui64: bytes) -> Mdt | None:
        """The MDT with this EUI-64, or None."""
        eui64 = v.check_bytes("eui64", eui64, 8)
        with self._read() as c:
            row = c.execute(select(mdts).where(mdts.c.eui64 == eui64)).first()
        if row is None:
            return None
        return Mdt(id=row.id, eui64=bytes(row.eui64), kit=row.kit, key=bytes(row.key), meter_id=row.meter_id)

    def create_tenant(self, *, name: str) -> Tenant:
        """Create a tenant."""
        name = v.check_text("name", name)
        with self._write() as c:
            tenant_id = c.execute(insert(tenants).values(name=name).returning(tenants.c.id)).scalar_one()
        return Tenant(id=int(tenant_id), name=name)

    def get_tenant(self, *, tenant_id: int) -> Tenant | None:
        """The tenant with this id, or None."""
        with self._read() as c:
            row = c.execute(select(tenants).where(tenants.c.id == tenant_id)).first()
        return None if row is None else Tenant(id=row.id, name=row.name)

    def tenants(self) -> list[Tenant]:
        """Every tenant, by id."""
        with self._read() as c:
            rows = c.execute(select(tenants).order_by(tenants.c.id)).all()
        return [Tenant(id=r.id, name=r.name) for r in rows]

    def create_account(
        self,
        *,
        tenant_id: int,
        meter_id: int,
        unit: str,
        move_in: datetime,
        move_out: datetime | None = None,
    ) -> Account:
        """
        Open an account: a tenant in a unit served by a meter from ``move_in`` (to ``move_out``).

        Parameters
        ----------
        tenant_id, meter_id : int
            Existing tenant and meter.
        unit : str
            The unit (apartment, suite) served.
        move_in, move_out : datetime
            Aware instants; ``move_out`` after ``move_in``, None while the tenant stays.
        """
        tenant_id = v.check_id("tenant_id", tenant_id)
        meter_id = v.check_id("meter_id", meter_id)
        unit = v.check_text("unit", unit)
        move_in = v.check_utc("move_in", move_in)
        if move_out is not None:
            move_out = v.check_utc("move_out", move_out)
            if move_out <= move_in:
                raise ValueError(f"move_out must be after move_in, got {move_out.isoformat()}")
        with self._write() as c:
            self._require(c, tenants, tenant_id, "tenant_id", "tenant")
            self._require(c, meters, meter_id, "meter_id", "meter")
            account_id = c.execute(
                insert(accounts)
                .values(tenant_id=tenant_id, meter_id=meter_id, unit=unit, move_in=move_in, move_out=move_out)
                .returning(accounts.c.id)
            ).scalar_one()
        return Account(int(account_id), tenant_id, meter_id, unit, move_in, move_out)

    def close_account(self, *, account_id: int, move_out: datetime) -> Account:
        """Record the tenant's move-out; returns the account as stored."""
        account_id = v.check_id("account_id", account_id)
        move_out = v.check_utc("move_out", move_out)
        with self._write() as c:
            row = c.execute(select(accounts).where(accounts.c.id == account_id)).first()
            if row is None:
                raise ValueError(f"account_id {account_id!r} is not a known account")
            if move_out <= row.move_in:
                raise ValueError(f"move_out must be after move_in, got {move_out.isoformat()}")
            c.execute(update(accounts).where(accounts.c.id == account_id).values(move_out=move_out))
        return Account(row.id, row.tenant_id, row.meter_id, row.unit, row.move_in, move_out)

    def accounts(self, *, meter_id: int | None = None, tenant_id: int | None = None) -> list[Account]:
        """Accounts of a meter and/or a tenant (all when neither is given), by move-in."""
        query = select(accounts).order_by(accounts.c.move_in, accounts.c.id)
        if meter_id is not None:
            query = query.where(accounts.c.meter_id == meter_id)
        if tenant_id is not None:
            query = query.where(accounts.c.tenant_id == tenant_id)
        with self._read() as c:
            rows = c.execute(query).all()
        return [Account(r.id, r.tenant_id, r.meter_id, r.unit, r.move_in, r.move_out) for r in rows]

    # -- raw intervals -------------------------------------------------------------------------------------

    def insert_raw_intervals(
        self,
        *,
        meter_id: int,
        rows: Iterable[RawIntervalIn | tuple[Any, ...]],
        source: str,
        received_at: datetime | None = None,
    ) -> int:
        """
        Store intervals as received, in bulk; idempotent.

        Parameters
        ----------
        meter_id : int
            The meter, which must exist.
        rows : iterable of RawIntervalIn or tuple
            ``(interval_end, energy_wh[, cumulative_wh])``: aware end of the interval (a whole second),
            energy in it [Wh], cumulative register at its end [Wh] or None.
        source : str
            Where the batch came from (``"dcap"``, ``"mqtt"``, ``"http"``, ``"csv"`` ...).
        received_at : datetime, optional
            When it was received; default now.

        Returns
        -------
        int
            How many rows were stored: new intervals plus new revisions of conflicting ones. An interval
            whose values equal a value already stored for it (from any source) is not stored again.

        Raises
        ------
        ValueError
            When a row is bad (``rows[i].energy_wh`` ...), the batch gives one interval two different
            values, or the meter is unknown; nothing of the batch is stored.
        """
        meter_id = v.check_id("meter_id", meter_id)
        batch: dict[int, tuple[int, int]] = {}
        for i, row in enumerate(rows):
            if not isinstance(row, tuple) or len(row) not in (2, 3):
                raise ValueError(f"rows[{i}] must be (interval_end, energy_wh[, cumulative_wh]), got {row!r}")
            end = v.check_utc(f"rows[{i}].interval_end", row[0], whole_second=True)
            energy = v.check_energy_wh(f"rows[{i}].energy_wh", row[1])
            cumulative = row[2] if len(row) == 3 else None
            if cumulative is not None:
                cumulative = v.check_energy_wh(f"rows[{i}].cumulative_wh", cumulative)
            if energy > _MAX_INT64 or (cumulative is not None and cumulative > _MAX_INT64):
                raise ValueError(f"rows[{i}] energy_wh and cumulative_wh must fit in 64 bits, got {row!r}")
            values = (energy, CUMULATIVE_NONE if cumulative is None else cumulative)
            seen = batch.setdefault(epoch_s(end), values)
            if seen != values:
                shown = [(e, None if c == CUMULATIVE_NONE else c) for e, c in (seen, values)]
                raise ValueError(
                    f"rows[{i}].interval_end {end.isoformat()} appears twice in the batch with different "
                    f"values: {tuple(shown[0])} and {tuple(shown[1])}"
                )
        ends = np.fromiter(batch, dtype=np.int64, count=len(batch))
        values_array = np.array(list(batch.values()), dtype=np.int64).reshape(-1, 2)
        result = self.insert_raw_interval_columns(
            meter_id=meter_id,
            interval_end_s=ends,
            energy_wh=values_array[:, 0],
            cumulative_wh=values_array[:, 1],
            source=source,
            received_at=received_at,
        )
        return result.stored

    def insert_raw_interval_columns(
        self,
        *,
        meter_id: int,
        interval_end_s: IntArray,
        energy_wh: IntArray,
        cumulative_wh: IntArray | None = None,
        source: str,
        received_at: datetime | None = None,
    ) -> RawInsertResult:
        """
        Store one meter's intervals given as columns: the bulk path of ingest; idempotent.

        Parameters
        ----------
        meter_id : int
            The meter, which must exist.
        interval_end_s : ndarray of int64
            End of each interval, seconds since the Unix epoch, distinct (any order). [s]
        energy_wh : ndarray of int64
            Energy in each interval, non-negative. [Wh]
        cumulative_wh : ndarray of int64, optional
            Cumulative register at each end, -1 (:data:`~meshmeter.store.schema.CUMULATIVE_NONE`) where
            none was sent; default none at all. [Wh]
        source : str
            Where the batch came from.
        received_at : datetime, optional
            When it was received; default now.

        Returns
        -------
        RawInsertResult
            New intervals, duplicates (a value already stored for the interval) and revisions (a new
            value for an interval stored with others).

        Raises
        ------
        ValueError
            Arrays of other shapes or types, repeated ends, a negative energy or counter, an unknown
            meter; nothing is stored.
        """
        result = self.insert_raw_interval_batches(
            batches=[(meter_id, interval_end_s, energy_wh, cumulative_wh)],
            source=source,
            received_at=received_at,
        )
        return result[0]

    def insert_raw_interval_batches(
        self,
        *,
        batches: Sequence[tuple[int | str, IntArray, IntArray, IntArray | None]],
        source: str,
        received_at: datetime | None = None,
    ) -> list[RawInsertResult]:
        """
        :meth:`insert_raw_interval_columns` of several meters in one transaction: all or nothing.

        Parameters
        ----------
        batches : sequence of (meter, interval_end_s, energy_wh, cumulative_wh)
            One element per meter, as :meth:`insert_raw_interval_columns` takes them; ``meter`` is its id
            (int) or its serial number (str).
        source : str
            Where the delivery came from.
        received_at : datetime, optional
            When it was received; default now.

        Returns
        -------
        list of RawInsertResult
            One per element of ``batches``.

        Raises
        ------
        UnknownMeterError
            When a meter (id or serial) is not known; nothing is stored.
        ValueError
            On bad columns (see :meth:`insert_raw_interval_columns`); nothing is stored.

        Notes
        -----
        The rows of a meter are checked against what is stored for it under a lock of the meter
        (PostgreSQL: ``SELECT ... FOR NO KEY UPDATE``; SQLite: the one writer), so the rows found new
        are written straight into ``raw_intervals`` (SQLite: the driver's ``executemany``; PostgreSQL:
        ``COPY``). A counter that equals the counter of the meter's row 15 minutes earlier plus the
        interval's energy is not stored (``docs/store.md``), except at UTC midnight.
        """
        source = v.check_text("source", source)
        stamp = _now() if received_at is None else v.check_utc("received_at", received_at)
        checked = [_check_columns(f"batches[{k}]", *b) for k, b in enumerate(batches)]
        out: list[RawInsertResult] = []
        with self._write() as c:
            batch_id: int | None = None
            for meter, ends, energy, cumulative in checked:
                if isinstance(meter, str):
                    found = _driver(c, "lock_serial", (meter,))
                    if not found:
                        raise UnknownMeterError(f"meter {meter!r} is not a known meter's serial")
                    meter_id = int(found[0][0])
                else:
                    meter_id = meter
                    self._lock_meter(c, meter_id)
                if ends.size == 0:
                    out.append(RawInsertResult(0, 0, 0))
                    continue
                if batch_id is None:
                    batch_id = _batch_id(c, source, stamp)
                out.append(self._insert_meter_rows(c, meter_id, batch_id, ends, energy, cumulative))
        return out

    @staticmethod
    def _insert_meter_rows(
        c: Connection, meter_id: int, batch_id: int, ends: IntArray, energy: IntArray, cumulative: IntArray
    ) -> RawInsertResult:
        """One meter's checked, sorted rows: classify against the stored ones and write (see above)."""
        lo, hi = int(ends[0]), int(ends[-1])
        s_ends, s_energy, s_cum, _ = _main_columns(c, meter_id, lo - _INTERVAL_S - 1, hi, decode=True)
        at = np.searchsorted(s_ends, ends)
        at_c = np.minimum(at, max(s_ends.size - 1, 0))
        exists = (s_ends.size > 0) & (s_ends[at_c] == ends) if s_ends.size else np.zeros(ends.size, bool)
        new = ~exists
        # the counter of each row's predecessor as it will be stored: stored row, else a new row of the batch
        pred = ends - _INTERVAL_S
        pred_cum = np.full(ends.size, CUMULATIVE_NONE, dtype=np.int64)
        if s_ends.size:
            k = np.minimum(np.searchsorted(s_ends, pred), s_ends.size - 1)
            found = s_ends[k] == pred
            pred_cum[found] = s_cum[k[found]]
        else:
            found = np.zeros(ends.size, dtype=bool)
        k = np.minimum(np.searchsorted(ends, pred), ends.size - 1)
        in_batch = ~found & (ends[k] == pred) & new[k]
        pred_cum[in_batch] = cumulative[k[in_batch]]
        derived = (
            new
            & (ends % _DAY_S != 0)
            & (cumulative >= 0)
            & (pred_cum >= 0)
            & (cumulative == pred_cum + energy)
        )
        duplicates = revised = 0
        revisions: list[dict[str, Any]] = []
        if exists.any():
            r_ends, r_rev, r_energy, r_cum, _ = _revision_columns(c, meter_id, lo - 1, hi)
            known: dict[int, list[tuple[int, int]]] = {}
            for e, en, cu in zip(s_ends.tolist(), s_energy.tolist(), s_cum.tolist(), strict=True):
                known[e] = [(en, cu)]
            last_revision: dict[int, int] = {}
            for e, rv, en, cu in zip(
                r_ends.tolist(), r_rev.tolist(), r_energy.tolist(), r_cum.tolist(), strict=True
            ):
                known.setdefault(e, []).append((en, cu))
                last_revision[e] = rv
            for i in np.flatnonzero(exists).tolist():
                e, value = int(ends[i]), (int(energy[i]), int(cumulative[i]))
                if value in known[e]:
                    duplicates += 1
                    continue
                revised += 1
                revisions.append(
                    {
                        "meter_id": meter_id,
                        "interval_end": from_epoch_s(e),
                        "revision": last_revision.get(e, 0) + 1,
                        "energy_wh": value[0],
                        "cumulative_wh": None if value[1] == CUMULATIVE_NONE else value[1],
                        "batch_id": batch_id,
                    }
                )
        if new.all():
            new_ends, new_energy, new_cum, new_derived = ends, energy, cumulative, derived
        else:
            new_ends, new_energy, new_cum, new_derived = ends[new], energy[new], cumulative[new], derived[new]
        _write_new_rows(c, meter_id, batch_id, new_ends, new_energy, new_cum, new_derived)
        if revisions:
            c.execute(insert(raw_interval_revisions), revisions)
        return RawInsertResult(int(new_ends.size), duplicates, revised)

    def raw_intervals(
        self, *, meter_id: int, start: datetime, end: datetime, all_revisions: bool = False
    ) -> list[RawInterval]:
        """
        Raw intervals of a meter with ``start < interval_end <= end``, oldest first.

        Parameters
        ----------
        all_revisions : bool, optional
            Return every revision (by interval end, then revision); default only the latest of each.
        """
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = _range(start, end)
        lo_s, hi_s = epoch_s(lo), epoch_s(hi)
        with self._read() as c:
            ends, energy, cumulative, batch = _main_columns(c, meter_id, lo_s, hi_s, decode=True)
            r_ends, r_rev, r_energy, r_cum, r_batch = _revision_columns(c, meter_id, lo_s, hi_s)
            ids = sorted(set(batch.tolist()) | set(r_batch.tolist()))
            batches = {
                r.id: (r.source, r.received_at)
                for r in c.execute(select(ingest_batches).where(ingest_batches.c.id.in_(ids)))
            }
        items = [
            (e, 0, en, cu, b)
            for e, en, cu, b in zip(
                ends.tolist(), energy.tolist(), cumulative.tolist(), batch.tolist(), strict=True
            )
        ]
        if r_ends.size:
            items += zip(
                r_ends.tolist(),
                r_rev.tolist(),
                r_energy.tolist(),
                r_cum.tolist(),
                r_batch.tolist(),
                strict=True,
            )
            items.sort(key=lambda item: (item[0], item[1]))
        if not all_revisions and r_ends.size:
            latest: dict[int, tuple[int, int, int, int, int]] = {}
            for item in items:
                latest[item[0]] = item
            items = list(latest.values())
        return [
            RawInterval(
                meter_id,
                from_epoch_s(e),
                rv,
                en,
                None if cu == CUMULATIVE_NONE else cu,
                *batches[b],
            )
            for e, rv, en, cu, b in items
        ]

    def raw_interval_columns(
        self, *, meter_id: int, start: datetime, end: datetime
    ) -> tuple[IntArray, IntArray]:
        """
        The latest revision of each raw interval of a meter with ``start < interval_end <= end``, as columns.

        What :meth:`raw_intervals` returns, without a ``datetime`` or an object per row: for reads of many
        intervals (a year of one meter's 15-minute data is 35,136 rows).

        Parameters
        ----------
        meter_id : int
            The meter.
        start, end : datetime
            Aware; the range ``(start, end]`` of interval ends.

        Returns
        -------
        interval_end_s : ndarray of int64
            End of each interval, seconds since the Unix epoch, increasing. [s]
        energy_wh : ndarray of int64
            Energy in each interval, of its latest revision. [Wh]
        """
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = _range(start, end)
        lo_s, hi_s = epoch_s(lo), epoch_s(hi)
        with self._read() as c:
            ends, energy = _driver_columns(c, "main_energy", (meter_id, lo_s, hi_s), 2)
            r_ends, _, r_energy, _, _ = _revision_columns(c, meter_id, lo_s, hi_s)
        if r_ends.size:
            latest = np.append(r_ends[1:] != r_ends[:-1], True)  # the last revision of each end
            energy = energy.copy()
            energy[np.searchsorted(ends, r_ends[latest])] = r_energy[latest]
        return ends, energy

    def _latest_raw_energy(self, c: Connection, meter_id: int, lo_s: int, hi_s: int) -> dict[int, int]:
        """Energy of the latest revision of each raw interval with ``lo_s < interval_end <= hi_s``. [Wh]"""
        ends, energy, _, _ = _main_columns(c, meter_id, lo_s, hi_s, decode=False)
        out = dict(zip(ends.tolist(), energy.tolist(), strict=True))
        r_ends, _, r_energy, _, _ = _revision_columns(c, meter_id, lo_s, hi_s)
        out.update(zip(r_ends.tolist(), r_energy.tolist(), strict=True))
        return out

    # -- validated intervals -------------------------------------------------------------------------------

    def put_validated_intervals(
        self,
        *,
        meter_id: int,
        rows: Iterable[ValidatedIntervalIn | tuple[Any, ...]],
        edited_by: str,
        reason: str,
        edited_at: datetime | None = None,
    ) -> int:
        """
        Put validated intervals (VEE's output), auditing every edit and estimate.

        Parameters
        ----------
        meter_id : int
            The meter, which must exist.
        rows : iterable of ValidatedIntervalIn or tuple
            ``(interval_end, energy_wh, quality)``: aware end [whole second], energy [Wh], ESPI quality
            code (0 valid, 7 edited, 8 estimated from reference days, 9 linear interpolation,
            10 questionable, 14 raw).
        edited_by : str
            Who (a user, or ``"vee"``).
        reason : str
            Why (the rule or the person's note).
        edited_at : datetime, optional
            When; default now.

        Returns
        -------
        int
            How many intervals changed (an interval put again with the same value and quality does not).

        Notes
        -----
        Raw intervals are not touched. An audit record (:meth:`interval_edits`) with the old value is
        written for every change, except the first validated value of an interval that equals its latest
        raw value with quality 0, 10 or 14 (raw data passed or flagged unchanged). The old value is the
        previous validated value, else the latest raw value, else None (a gap that was estimated).
        """
        meter_id = v.check_id("meter_id", meter_id)
        edited_by = v.check_text("edited_by", edited_by)
        reason = v.check_text("reason", reason)
        stamp = _now() if edited_at is None else v.check_utc("edited_at", edited_at)
        batch: dict[datetime, tuple[int, int]] = {}
        for i, row in enumerate(rows):
            if not isinstance(row, tuple) or len(row) != 3:
                raise ValueError(f"rows[{i}] must be (interval_end, energy_wh, quality), got {row!r}")
            end = v.check_utc(f"rows[{i}].interval_end", row[0], whole_second=True)
            energy = v.check_energy_wh(f"rows[{i}].energy_wh", row[1])
            quality = row[2]
            if isinstance(quality, bool) or quality not in QUALITY_CODES:
                raise ValueError(
                    f"rows[{i}].quality must be an ESPI code in {sorted(QUALITY_CODES)}, got {quality!r}"
                )
            values = (energy, int(quality))
            seen = batch.setdefault(end, values)
            if seen != values:
                raise ValueError(
                    f"rows[{i}].interval_end {end.isoformat()} appears twice in the batch with different "
                    f"values: {seen} and {values}"
                )
        with self._write() as c:
            self._lock_meter(c, meter_id)
            if not batch:
                return 0
            lo, hi = min(batch), max(batch)
            vt = validated_intervals
            current = {
                r.interval_end: (r.energy_wh, r.quality)
                for r in c.execute(
                    select(vt.c.interval_end, vt.c.energy_wh, vt.c.quality).where(
                        vt.c.meter_id == meter_id, vt.c.interval_end >= lo, vt.c.interval_end <= hi
                    )
                )
            }
            raw = self._latest_raw_energy(c, meter_id, epoch_s(lo) - 1, epoch_s(hi))
            inserts: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            audits: list[dict[str, Any]] = []
            for end, (energy, quality) in batch.items():
                old = current.get(end)
                if old == (energy, quality):
                    continue
                if old is None:
                    inserts.append(
                        {"meter_id": meter_id, "interval_end": end, "energy_wh": energy, "quality": quality}
                    )
                    raw_energy = raw.get(epoch_s(end))
                    if raw_energy == energy and quality in AUDIT_FREE_QUALITIES:
                        continue
                    old_energy, old_quality = raw_energy, None
                else:
                    updates.append({"b_end": end, "b_energy": energy, "b_quality": quality})
                    old_energy, old_quality = old
                audits.append(
                    {
                        "meter_id": meter_id,
                        "interval_end": end,
                        "old_energy_wh": old_energy,
                        "old_quality": old_quality,
                        "new_energy_wh": energy,
                        "new_quality": quality,
                        "edited_by": edited_by,
                        "edited_at": stamp,
                        "reason": reason,
                    }
                )
            if inserts:
                c.execute(insert(vt), inserts)
            if updates:
                c.execute(
                    update(vt)
                    .where(
                        vt.c.meter_id == meter_id,
                        vt.c.interval_end == bindparam("b_end", type_=UtcDateTime()),
                    )
                    .values(energy_wh=bindparam("b_energy"), quality=bindparam("b_quality")),
                    updates,
                )
            if audits:
                c.execute(insert(interval_edits), audits)
        return len(inserts) + len(updates)

    def validated_intervals(
        self, *, meter_id: int, start: datetime, end: datetime
    ) -> list[ValidatedInterval]:
        """Validated intervals of a meter with ``start < interval_end <= end``, oldest first."""
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = _range(start, end)
        t = validated_intervals
        with self._read() as c:
            rows = c.execute(
                select(t).where(_in_window(t, meter_id, lo, hi)).order_by(t.c.interval_end)
            ).all()
        return [ValidatedInterval(r.meter_id, r.interval_end, r.energy_wh, r.quality) for r in rows]

    def validated_interval_columns(
        self, *, meter_id: int, start: datetime, end: datetime
    ) -> tuple[IntArray, IntArray, IntArray]:
        """
        Validated intervals of a meter with ``start < interval_end <= end``, as columns.

        What :meth:`validated_intervals` returns, without a ``datetime`` or an object per row.

        Returns
        -------
        interval_end_s : ndarray of int64
            End of each interval, seconds since the Unix epoch, increasing. [s]
        energy_wh : ndarray of int64
            Validated energy. [Wh]
        quality : ndarray of int64
            ESPI quality code (:data:`~meshmeter.store.schema.QUALITY_CODES`).
        """
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = _range(start, end)
        t = validated_intervals
        query = (
            select(_epoch_column(t.c.interval_end, self.dialect_name), t.c.energy_wh, t.c.quality)
            .where(_in_window(t, meter_id, lo, hi))
            .order_by(t.c.interval_end)
        )
        with self._read() as c:
            ends, energy, quality = _int_columns(c, query, 3)
        return ends, energy, quality

    # -- the validated view ---------------------------------------------------------------------------------

    def record_vee_run(
        self,
        *,
        meter_id: int,
        start: datetime,
        end: datetime,
        batch_watermark: int,
        ran_by: str,
        ran_at: datetime | None = None,
    ) -> None:
        """
        Record that VEE validated a meter's raw intervals of ``(start, end]`` delivered up to a batch.

        Parameters
        ----------
        batch_watermark : int
            The highest ingest batch id there was when VEE read the raw intervals
            (:meth:`ingest_watermark`): rows of later deliveries are not validated by this run.
        ran_by : str
            Who ran it (a user, or ``"vee"``).
        """
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = _range(start, end)
        if lo == hi:
            return
        if isinstance(batch_watermark, bool) or not isinstance(batch_watermark, int) or batch_watermark < 0:
            raise ValueError(f"batch_watermark must be a non-negative integer, got {batch_watermark!r}")
        ran_by = v.check_text("ran_by", ran_by)
        stamp = _now() if ran_at is None else v.check_utc("ran_at", ran_at)
        with self._write() as c:
            self._lock_meter(c, meter_id)
            c.execute(
                insert(vee_runs).values(
                    meter_id=meter_id,
                    period_start=lo,
                    period_end=hi,
                    batch_watermark=batch_watermark,
                    ran_by=ran_by,
                    ran_at=stamp,
                )
            )

    def ingest_watermark(self) -> int:
        """The highest ingest batch id so far (0 before any): what a VEE run saw (:meth:`record_vee_run`)."""
        with self._read() as c:
            found = c.execute(select(func.max(ingest_batches.c.id))).scalar()
        return 0 if found is None else int(found)

    def interval_view(
        self, *, meter_id: int, start: datetime, end: datetime, cumulative: bool = False
    ) -> IntervalColumns:
        """
        The intervals of a meter ending in ``(start, end]``, as billed: the one validated view.

        Bills, exports, the API, the dashboard and the demo read a meter's intervals here and nowhere else.

        Parameters
        ----------
        meter_id : int
            The meter.
        start, end : datetime
            Aware; the range ``(start, end]`` of interval ends.
        cumulative : bool, optional
            Also give the register at each end (:data:`~meshmeter.intervals.CUMULATIVE_NONE` where none
            is known, and at estimated intervals).

        Returns
        -------
        IntervalColumns
            At the meter's own interval length, by end. Each interval's value and quality:

            - VEE's validated row where it stored one: an edit (7), an estimate (8, 9) or a questionable
              value (10);
            - else the latest raw revision, valid (0) where a VEE run covered it and had seen its delivery
              (:meth:`record_vee_run`), raw (14) where no VEE run has yet;
            - intervals with neither are absent (missing).
        """
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = _range(start, end)
        lo_s, hi_s = epoch_s(lo), epoch_s(hi)
        t = validated_intervals
        with self._read() as c:
            length = c.execute(select(meters.c.interval_s).where(meters.c.id == meter_id)).scalar()
            if length is None:
                raise UnknownMeterError(f"meter_id {meter_id!r} is not a known meter")
            ends, energy, codes, batch = _main_columns(c, meter_id, lo_s, hi_s, decode=cumulative)
            r_ends, _, r_energy, r_cum, r_batch = _revision_columns(c, meter_id, lo_s, hi_s)
            runs = c.execute(
                select(vee_runs.c.period_start, vee_runs.c.period_end, vee_runs.c.batch_watermark).where(
                    vee_runs.c.meter_id == meter_id, vee_runs.c.period_end > lo, vee_runs.c.period_start < hi
                )
            ).all()
            query = (
                select(_epoch_column(t.c.interval_end, self.dialect_name), t.c.energy_wh, t.c.quality)
                .where(_in_window(t, meter_id, lo, hi))
                .order_by(t.c.interval_end)
            )
            v_ends, v_energy, v_quality = _int_columns(c, query, 3)
        if r_ends.size:
            last = np.append(r_ends[1:] != r_ends[:-1], True)  # the latest revision of each end
            at = np.searchsorted(ends, r_ends[last])
            energy, batch, codes = energy.copy(), batch.copy(), codes.copy()
            energy[at], batch[at], codes[at] = r_energy[last], r_batch[last], r_cum[last]
        quality = np.full(ends.size, int(Quality.RAW), dtype=np.int64)
        for run_lo, run_hi, watermark in runs:
            a, b = epoch_s(run_lo), epoch_s(run_hi)
            quality[(ends > a) & (ends <= b) & (batch <= watermark)] = int(Quality.VALID)
        if v_ends.size:
            all_ends = np.union1d(ends, v_ends)
            if all_ends.size != ends.size:  # VEE filled gaps
                at = np.searchsorted(all_ends, ends)
                grown_energy = np.zeros(all_ends.size, dtype=np.int64)
                grown_quality = np.zeros(all_ends.size, dtype=np.int64)
                grown_codes = np.full(all_ends.size, CUMULATIVE_NONE, dtype=np.int64)
                grown_energy[at], grown_quality[at], grown_codes[at] = energy, quality, codes
                ends, energy, quality, codes = all_ends, grown_energy, grown_quality, grown_codes
            else:
                energy, codes = energy.copy(), codes.copy()
            at = np.searchsorted(ends, v_ends)
            energy[at], quality[at] = v_energy, v_quality
            changed = v_quality != int(Quality.VALID)
            codes[at[changed]] = CUMULATIVE_NONE  # an edit or estimate has no register behind it
        return IntervalColumns(ends, energy, quality, int(length), codes if cumulative else None)

    # -- saved ingest formats -----------------------------------------------------------------------------

    def save_ingest_format(self, *, name: str, mapping: Mapping[str, Any]) -> bool:
        """
        Save an ingest mapping by name, replacing one of the same name; True when it is new.

        The mapping is JSON (``docs/ingest.md``); checking that it is a mapping that can be applied is the
        ingest's (:mod:`meshmeter.headend`), not the store's.
        """
        name = v.check_text("name", name)
        if not isinstance(mapping, Mapping):
            raise ValueError(f"mapping must be a JSON object, got {type(mapping).__name__}")
        document = dict(mapping)
        stamp = _now()
        with self._write() as c:
            found = c.execute(select(ingest_formats.c.name).where(ingest_formats.c.name == name)).first()
            if found is None:
                c.execute(
                    insert(ingest_formats).values(
                        name=name, mapping=document, created_at=stamp, updated_at=stamp
                    )
                )
                return True
            c.execute(
                update(ingest_formats)
                .where(ingest_formats.c.name == name)
                .values(mapping=document, updated_at=stamp)
            )
            return False

    def get_ingest_format(self, *, name: str) -> dict[str, Any] | None:
        """The saved ingest mapping of this name, or None."""
        with self._read() as c:
            found = c.execute(select(ingest_formats.c.mapping).where(ingest_formats.c.name == name)).scalar()
        return None if found is None else dict(found)

    def ingest_formats(self) -> dict[str, dict[str, Any]]:
        """Every saved ingest mapping, by name."""
        with self._read() as c:
            rows = c.execute(select(ingest_formats.c.name, ingest_formats.c.mapping).order_by("name")).all()
        return {r.name: dict(r.mapping) for r in rows}

    def interval_edits(self, *, meter_id: int, start: datetime, end: datetime) -> list[IntervalEdit]:
        """The audit of edits and estimates of a meter's intervals with ``start < interval_end <= end``."""
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = _range(start, end)
        t = interval_edits
        with self._read() as c:
            rows = c.execute(
                select(t).where(_in_window(t, meter_id, lo, hi)).order_by(t.c.interval_end, t.c.id)
            ).all()
        return [
            IntervalEdit(
                r.id,
                r.meter_id,
                r.interval_end,
                r.old_energy_wh,
                r.old_quality,
                r.new_energy_wh,
                r.new_quality,
                r.edited_by,
                r.edited_at,
                r.reason,
            )
            for r in rows
        ]

    # -- register reads, events, frames --------------------------------------------------------------------

    def add_register_read(self, *, meter_id: int, read_at: datetime, energy_wh: int) -> bool:
        """
        Store a reading of the meter's total register; idempotent.

        Returns
        -------
        bool
            True when stored, False when the same reading was already there.

        Raises
        ------
        ValueError
            On bad input, an unknown meter, or a different reading already stored at ``read_at``.
        """
        meter_id = v.check_id("meter_id", meter_id)
        read_at = v.check_utc("read_at", read_at, whole_second=True)
        energy_wh = v.check_energy_wh("energy_wh", energy_wh)
        t = register_reads
        with self._write() as c:
            self._lock_meter(c, meter_id)
            new = c.execute(
                self._insert(t)
                .values(meter_id=meter_id, read_at=read_at, energy_wh=energy_wh)
                .on_conflict_do_nothing(index_elements=[t.c.meter_id, t.c.read_at])
                .returning(t.c.read_at)
            ).first()
            if new is not None:
                return True
            stored = c.execute(
                select(t.c.energy_wh).where(t.c.meter_id == meter_id, t.c.read_at == read_at)
            ).scalar_one()
        if stored != energy_wh:
            raise ValueError(
                f"energy_wh {energy_wh} conflicts with the reading {stored} Wh already stored for meter "
                f"{meter_id} at read_at {read_at.isoformat()}"
            )
        return False

    def register_reads(self, *, meter_id: int, start: datetime, end: datetime) -> list[RegisterRead]:
        """Register reads of a meter with ``start < read_at <= end``, oldest first."""
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = _range(start, end)
        t = register_reads
        with self._read() as c:
            rows = c.execute(
                select(t).where(_in_window(t, meter_id, lo, hi, "read_at")).order_by(t.c.read_at)
            ).all()
        return [RegisterRead(r.meter_id, r.read_at, r.energy_wh) for r in rows]

    def add_event(
        self,
        *,
        kind: str,
        at: datetime,
        meter_id: int | None = None,
        eui64: bytes | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> Event:
        """
        Record an event (``"tamper"``, ``"reverse_phase"``, ``"comm_loss"``, ``"low_battery"`` ...).

        Parameters
        ----------
        kind : str
            What happened.
        at : datetime
            When, aware.
        meter_id : int, optional
            The meter concerned, which must exist.
        eui64 : bytes, optional
            The device concerned (8 bytes).
        detail : mapping, optional
            Anything more, as JSON (no NaN).
        """
        kind = v.check_text("kind", kind)
        at = v.check_utc("at", at)
        if meter_id is not None:
            meter_id = v.check_id("meter_id", meter_id)
        if eui64 is not None:
            eui64 = v.check_bytes("eui64", eui64, 8)
        if detail is not None and not isinstance(detail, Mapping):
            raise ValueError(f"detail must be a mapping, got {detail!r}")
        body: dict[str, Any] = v.check_json("detail", dict(detail or {}))
        with self._write() as c:
            if meter_id is not None:
                self._require(c, meters, meter_id, "meter_id", "meter")
            event_id = c.execute(
                insert(events)
                .values(kind=kind, meter_id=meter_id, eui64=eui64, at=at, detail=body)
                .returning(events.c.id)
            ).scalar_one()
        return Event(int(event_id), kind, meter_id, eui64, at, body)

    def events(
        self,
        *,
        meter_id: int | None = None,
        kind: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Event]:
        """Events, filtered by meter, kind and ``start < at <= end``, oldest first."""
        t = events
        query = select(t).order_by(t.c.at, t.c.id)
        if meter_id is not None:
            query = query.where(t.c.meter_id == meter_id)
        if kind is not None:
            query = query.where(t.c.kind == kind)
        if start is not None:
            query = query.where(t.c.at > v.check_utc("start", start))
        if end is not None:
            query = query.where(t.c.at <= v.check_utc("end", end))
        with self._read() as c:
            rows = c.execute(query).all()
        return [
            Event(r.id, r.kind, r.meter_id, None if r.eui64 is None else bytes(r.eui64), r.at, r.detail)
            for r in rows
        ]

    def audit_frame(
        self,
        *,
        eui64: bytes,
        frame_counter: int,
        accepted: bool,
        reason: str | None = None,
        received_at: datetime | None = None,
    ) -> FrameAudit:
        """
        Record a frame received: its sender, frame counter, and whether it was accepted, or why not.

        Parameters
        ----------
        eui64 : bytes
            The sender (8 bytes).
        frame_counter : int
            The frame counter (IEEE 802.15.4 security header), in [0, 2**32). [1]
        accepted : bool
            True when the frame passed every check.
        reason : str, optional
            Why it was refused (``"bad_mic"``, ``"replay"``, ``"malformed"`` ...); required when refused.
        received_at : datetime, optional
            When; default now.
        """
        eui64 = v.check_bytes("eui64", eui64, 8)
        if (
            isinstance(frame_counter, bool)
            or not isinstance(frame_counter, int)
            or not (0 <= frame_counter < 2**32)
        ):
            raise ValueError(f"frame_counter must be an int in [0, 2**32), got {frame_counter!r}")
        accepted = v.check_bool("accepted", accepted)
        if reason is not None:
            reason = v.check_text("reason", reason)
        elif not accepted:
            raise ValueError("reason is required for a refused frame")
        stamp = _now() if received_at is None else v.check_utc("received_at", received_at)
        with self._write() as c:
            audit_id = c.execute(
                insert(frame_audit)
                .values(
                    eui64=eui64,
                    frame_counter=frame_counter,
                    received_at=stamp,
                    accepted=accepted,
                    reason=reason,
                )
                .returning(frame_audit.c.id)
            ).scalar_one()
        return FrameAudit(int(audit_id), eui64, frame_counter, stamp, accepted, reason)

    def frame_audits(self, *, eui64: bytes | None = None, accepted: bool | None = None) -> list[FrameAudit]:
        """The audit of frames received, filtered by sender and outcome, in order of recording."""
        t = frame_audit
        query = select(t).order_by(t.c.id)
        if eui64 is not None:
            query = query.where(t.c.eui64 == v.check_bytes("eui64", eui64, 8))
        if accepted is not None:
            query = query.where(t.c.accepted == v.check_bool("accepted", accepted))
        with self._read() as c:
            rows = c.execute(query).all()
        return [
            FrameAudit(r.id, bytes(r.eui64), r.frame_counter, r.received_at, r.accepted, r.reason)
            for r in rows
        ]

    # -- push outbox ---------------------------------------------------------------------------------------

    @staticmethod
    def _message(r: Row[Any]) -> OutboxMessage:
        return OutboxMessage(
            r.id,
            r.channel,
            r.idempotency_key,
            r.payload,
            r.created_at,
            r.attempts,
            r.next_attempt_at,
            r.delivered_at,
            r.last_error,
        )

    def outbox_enqueue(
        self, *, channel: str, idempotency_key: str, payload: Any, now: datetime | None = None
    ) -> OutboxMessage:
        """
        Put a message in the push outbox, once per idempotency key.

        Parameters
        ----------
        channel : str
            Where it goes (``"mqtt"``, ``"webhook"`` ...).
        idempotency_key : str
            Unique key; the receiver uses it to drop duplicates of at-least-once delivery.
        payload : JSON
            The message (no NaN).
        now : datetime, optional
            When; default now. The message is due at once.

        Returns
        -------
        OutboxMessage
            The message stored: the earlier one when the key was already enqueued with the same channel
            and payload.

        Raises
        ------
        ValueError
            When the key is already used by a different message, or on bad input.
        """
        channel = v.check_text("channel", channel)
        idempotency_key = v.check_text("idempotency_key", idempotency_key)
        body = v.check_json("payload", payload)
        stamp = _now() if now is None else v.check_utc("now", now)
        t = push_outbox
        with self._write() as c:
            c.execute(
                self._insert(t)
                .values(
                    channel=channel,
                    idempotency_key=idempotency_key,
                    payload=body,
                    created_at=stamp,
                    attempts=0,
                    next_attempt_at=stamp,
                )
                .on_conflict_do_nothing(index_elements=[t.c.idempotency_key])
            )
            row = c.execute(select(t).where(t.c.idempotency_key == idempotency_key)).one()
        message = self._message(row)
        if (message.channel, message.payload) != (channel, body):
            raise ValueError(
                f"idempotency_key {idempotency_key!r} is already used by message {message.id} "
                "with a different channel or payload"
            )
        return message

    def outbox_claim(
        self,
        *,
        limit: int = 100,
        channel: str | None = None,
        now: datetime | None = None,
        lease_s: float = 60.0,
    ) -> list[OutboxMessage]:
        """
        Claim due, undelivered messages for sending, oldest due first.

        Each claimed message has its ``attempts`` counted and is hidden from other claims for ``lease_s``;
        if it is neither delivered nor failed by then (the sender died), it is due again: at-least-once.

        Parameters
        ----------
        limit : int, optional
            At most this many.
        channel : str, optional
            Only this channel.
        now : datetime, optional
            The time; default now.
        lease_s : float, optional
            How long a claim holds. [s]
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            raise ValueError(f"limit must be a positive int, got {limit!r}")
        lease_s = v.check_positive_float("lease_s", lease_s)
        stamp = _now() if now is None else v.check_utc("now", now)
        t = push_outbox
        due = (
            select(t.c.id)
            .where(t.c.delivered_at.is_(None), t.c.next_attempt_at <= stamp)
            .order_by(t.c.next_attempt_at, t.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if channel is not None:
            due = due.where(t.c.channel == v.check_text("channel", channel))
        with self._write() as c:
            ids = list(c.execute(due).scalars())
            if not ids:
                return []
            c.execute(
                update(t)
                .where(t.c.id.in_(ids))
                .values(attempts=t.c.attempts + 1, next_attempt_at=stamp + timedelta(seconds=lease_s))
            )
            rows = c.execute(select(t).where(t.c.id.in_(ids)).order_by(t.c.id)).all()
        order = {message_id: i for i, message_id in enumerate(ids)}
        return sorted((self._message(r) for r in rows), key=lambda m: order[m.id])

    def outbox_mark_delivered(self, *, message_id: int, at: datetime | None = None) -> None:
        """Mark a message delivered (idempotent: a second mark keeps the first time)."""
        message_id = v.check_id("message_id", message_id)
        stamp = _now() if at is None else v.check_utc("at", at)
        t = push_outbox
        with self._write() as c:
            self._require(c, t, message_id, "message_id", "outbox message")
            c.execute(
                update(t)
                .where(t.c.id == message_id, t.c.delivered_at.is_(None))
                .values(delivered_at=stamp, last_error=None)
            )

    def outbox_mark_failed(self, *, message_id: int, retry_at: datetime, error: str) -> None:
        """Record a failed attempt; the message is due again at ``retry_at`` (the sender's back-off)."""
        message_id = v.check_id("message_id", message_id)
        retry_at = v.check_utc("retry_at", retry_at)
        error = v.check_text("error", error)
        t = push_outbox
        with self._write() as c:
            self._require(c, t, message_id, "message_id", "outbox message")
            c.execute(
                update(t)
                .where(t.c.id == message_id, t.c.delivered_at.is_(None))
                .values(next_attempt_at=retry_at, last_error=error)
            )

    def outbox_get(self, *, message_id: int) -> OutboxMessage | None:
        """The outbox message with this id, or None."""
        with self._read() as c:
            row = c.execute(select(push_outbox).where(push_outbox.c.id == message_id)).first()
        return None if row is None else self._message(row)

    def outbox_pending(self, *, channel: str | None = None) -> int:
        """How many messages are not yet delivered."""
        t = push_outbox
        query = select(func.count()).select_from(t).where(t.c.delivered_at.is_(None))
        if channel is not None:
            query = query.where(t.c.channel == channel)
        with self._read() as c:
            return int(c.execute(query).scalar_one())

    # -- API tokens ----------------------------------------------------------------------------------------

    def create_api_token(
        self, *, role: str, label: str | None = None, now: datetime | None = None
    ) -> tuple[ApiToken, str]:
        """
        Make a new API token.

        Parameters
        ----------
        role : str
            One of :data:`~meshmeter.store.schema.API_TOKEN_ROLES`.
        label : str, optional
            Who or what holds it.
        now : datetime, optional
            When; default now.

        Returns
        -------
        (ApiToken, str)
            The record stored, and the token itself: ``mm_`` and 43 URL-safe characters (256 random
            bits). Only its SHA-256 is stored, so this is the one time it can be seen.
        """
        if role not in API_TOKEN_ROLES:
            raise ValueError(f"role must be one of {list(API_TOKEN_ROLES)}, got {role!r}")
        if label is not None:
            label = v.check_text("label", label)
        stamp = _now() if now is None else v.check_utc("now", now)
        token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        prefix = token[: len(API_TOKEN_PREFIX) + 6]
        with self._write() as c:
            token_id = c.execute(
                insert(api_tokens)
                .values(
                    token_hash=hash_api_token(token), prefix=prefix, role=role, label=label, created_at=stamp
                )
                .returning(api_tokens.c.id)
            ).scalar_one()
        return ApiToken(int(token_id), prefix, role, label, stamp, None), token

    def find_api_token(self, *, token: str) -> ApiToken | None:
        """The stored token whose hash is that of ``token`` (revoked or not), or None."""
        if not isinstance(token, str) or not token:
            return None
        with self._read() as c:
            row = c.execute(
                select(api_tokens).where(api_tokens.c.token_hash == hash_api_token(token))
            ).first()
        return None if row is None else _api_token(row)

    def revoke_api_token(self, *, token_id: int, at: datetime | None = None) -> ApiToken:
        """
        Revoke a token; idempotent (revoking it again keeps the first time).

        Raises
        ------
        ValueError
            When no token has this id.
        """
        token_id = v.check_id("token_id", token_id)
        stamp = _now() if at is None else v.check_utc("at", at)
        t = api_tokens
        with self._write() as c:
            self._require(c, t, token_id, "token_id", "API token")
            c.execute(update(t).where(t.c.id == token_id, t.c.revoked_at.is_(None)).values(revoked_at=stamp))
            row = c.execute(select(t).where(t.c.id == token_id)).one()
        return _api_token(row)

    def api_tokens(self, *, include_revoked: bool = True) -> list[ApiToken]:
        """The tokens stored (never the tokens themselves), by id."""
        query = select(api_tokens).order_by(api_tokens.c.id)
        if not include_revoked:
            query = query.where(api_tokens.c.revoked_at.is_(None))
        with self._read() as c:
            rows = c.execute(query).all()
        return [_api_token(r) for r in rows]

    # -- network reports -----------------------------------------------------------------------------------

    def save_network_report(self, *, site: int | Site, report: Any, taken_at: datetime) -> NetworkReport:
        """
        Store a health report of a site's radio network.

        Parameters
        ----------
        site : int or Site
            The site (its id, or the record), which must exist.
        report : CitReport or mapping
            The CIT report (manual §5.2): an object with ``to_dict()``
            (:class:`meshmeter.amr.cit.CitReport`) or its JSON members (no NaN).
        taken_at : datetime
            When it was taken, aware.

        Returns
        -------
        NetworkReport
            The report as stored.
        """
        site_id = v.check_id("site", site.id if isinstance(site, Site) else site)
        taken_at = v.check_utc("taken_at", taken_at)
        to_dict = getattr(report, "to_dict", None)
        body = to_dict() if callable(to_dict) else report
        if not isinstance(body, Mapping):
            raise ValueError(f"report must be a CitReport or a mapping, got {type(report).__name__}")
        checked: dict[str, Any] = v.check_json("report", dict(body))
        with self._write() as c:
            self._require(c, sites, site_id, "site", "site")
            report_id = c.execute(
                insert(network_reports)
                .values(site_id=site_id, taken_at=taken_at, report=checked)
                .returning(network_reports.c.id)
            ).scalar_one()
        return NetworkReport(int(report_id), site_id, taken_at, checked)

    def latest_network_report(self, *, site: int | Site | None = None) -> NetworkReport | None:
        """
        The latest network report of a site (of any site when ``site`` is None), or None.

        The latest is the one taken last; of two taken at once, the one stored last.
        """
        t = network_reports
        query = select(t).order_by(t.c.taken_at.desc(), t.c.id.desc()).limit(1)
        if site is not None:
            query = query.where(
                t.c.site_id == v.check_id("site", site.id if isinstance(site, Site) else site)
            )
        with self._read() as c:
            row = c.execute(query).first()
        return None if row is None else NetworkReport(row.id, row.site_id, row.taken_at, dict(row.report))

    # -- bills --------------------------------------------------------------------------------------------

    def save_bill(
        self,
        *,
        document: Mapping[str, Any],
        site_id: int | None = None,
        account_id: int | None = None,
        meter_id: int | None = None,
        created_at: datetime | None = None,
    ) -> tuple[StoredBill, bool]:
        """
        Store a bill with the inputs that produced it; idempotent.

        Parameters
        ----------
        document : mapping
            The bill as ``meshmeter.billing.Bill.to_dict()`` gives it, its intervals included: account,
            meter, mode, tariff, period (``start``, ``end``), time zone, energy [Wh], lines, ``total`` and
            ``printed_total`` (exact decimal text) [USD], and ``inputs`` (the tariff and its SHA-256, the
            engine version, the intervals ...).
        site_id, account_id, meter_id : int, optional
            The site, the store's account (tenant in a unit) and the meter billed, when known; each must
            exist.
        created_at : datetime, optional
            When; default now.

        Returns
        -------
        (StoredBill, bool)
            The bill as stored, and True when it was new. A bill of the same account, meter, period and
            tariff SHA-256 already stored with the same lines, total and inputs is returned as it is
            (False): re-running a bill changes nothing.

        Raises
        ------
        BillConflictError
            When a bill of the same account, meter, period and tariff is stored with other figures (the
            intervals changed since); nothing is changed.
        ValueError
            When the document lacks a member or has a malformed one (named).
        """
        row = _bill_row(document)
        site_id = None if site_id is None else v.check_id("site_id", site_id)
        account_id = None if account_id is None else v.check_id("account_id", account_id)
        meter_id = None if meter_id is None else v.check_id("meter_id", meter_id)
        created_at = _now() if created_at is None else v.check_utc("created_at", created_at)
        t = bills
        key = (
            (t.c.account == row["account"])
            & (t.c.meter == row["meter"])
            & (t.c.period_start == row["period_start"])
            & (t.c.period_end == row["period_end"])
            & (t.c.tariff_sha256 == row["tariff_sha256"])
        )
        with self._write() as c:
            if site_id is not None:
                self._require(c, sites, site_id, "site_id", "site")
            if account_id is not None:
                self._require(c, accounts, account_id, "account_id", "account")
            if meter_id is not None:
                self._require(c, meters, meter_id, "meter_id", "meter")
            found = c.execute(select(t).where(key)).first()
            if found is not None:
                old = _stored_bill(found)
                if old.document != row["document"]:
                    raise BillConflictError(
                        f"bill {old.id} of account {row['account']!r}, meter {row['meter']!r} for "
                        f"{row['period_start'].isoformat()} to {row['period_end'].isoformat()} at this "
                        "tariff is stored with other figures; its inputs changed since"
                    )
                return old, False
            values = {k: w for k, w in row.items() if k != "document"}
            bill_id = c.execute(
                insert(t)
                .values(
                    site_id=site_id,
                    account_id=account_id,
                    meter_id=meter_id,
                    created_at=created_at,
                    **values,
                )
                .returning(t.c.id)
            ).scalar_one()
            stored = c.execute(select(t).where(t.c.id == bill_id)).one()
        return _stored_bill(stored), True

    def list_bills(
        self,
        *,
        site: int | Site | None = None,
        account: str | None = None,
        account_id: int | None = None,
        meter: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[StoredBill]:
        """
        Stored bills, by period start then id, without their inputs (``document`` holds the lines and the
        figures; :meth:`get_bill` gives the whole bill).

        Parameters
        ----------
        site : int or Site, optional
            Only this site's.
        account : str, optional
            Only this account's (as billed).
        account_id : int, optional
            Only this store account's.
        meter : str, optional
            Only this meter's (serial).
        start, end : datetime, optional
            Aware; only the periods that overlap ``(start, end]``.
        """
        t = bills
        columns = [c for c in t.c if c.name != "inputs"]
        query = select(*columns).order_by(t.c.period_start, t.c.id)
        if site is not None:
            query = query.where(
                t.c.site_id == v.check_id("site", site.id if isinstance(site, Site) else site)
            )
        if account is not None:
            query = query.where(t.c.account == account)
        if account_id is not None:
            query = query.where(t.c.account_id == v.check_id("account_id", account_id))
        if meter is not None:
            query = query.where(t.c.meter == meter)
        if start is not None:
            query = query.where(t.c.period_end > v.check_utc("start", start))
        if end is not None:
            query = query.where(t.c.period_start < v.check_utc("end", end))
        with self._read() as c:
            rows = c.execute(query).all()
        return [_stored_bill(r, with_inputs=False) for r in rows]

    def get_bill(self, bill_id: int) -> StoredBill | None:
        """The stored bill with this id, its inputs included (``document`` is the whole bill), or None."""
        bill_id = v.check_id("bill_id", bill_id)
        with self._read() as c:
            row = c.execute(select(bills).where(bills.c.id == bill_id)).first()
        return None if row is None else _stored_bill(row)
