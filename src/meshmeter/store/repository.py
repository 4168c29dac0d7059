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
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    DateTime,
    MetaData,
    Row,
    Select,
    SmallInteger,
    Table,
    Text,
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError

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
    OutboxMessage,
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
    QUALITY_CODES,
    accounts,
    api_tokens,
    events,
    frame_audit,
    interval_edits,
    mdts,
    meters,
    push_outbox,
    raw_intervals,
    register_reads,
    sites,
    tenants,
    validated_intervals,
)
from meshmeter.store.types import UtcDateTime

__all__ = ["API_TOKEN_PREFIX", "AUDIT_FREE_QUALITIES", "Store", "hash_api_token"]

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

_RAW_KEY = [raw_intervals.c.meter_id, raw_intervals.c.interval_end, raw_intervals.c.revision]

_raw_stage = Table(
    "meshmeter_raw_stage",
    MetaData(),
    Column("interval_end", DateTime(timezone=True)),
    Column("energy_wh", BigInteger),
    Column("cumulative_wh", BigInteger),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DELETE ROWS",
)
"""PostgreSQL: a session's staging table for ``COPY``, emptied at every commit (never in METADATA)."""


def _executemany_raw_sqlite(connection: Connection, params: list[dict[str, Any]]) -> int:
    """SQLite: ``INSERT ... ON CONFLICT DO NOTHING`` by ``executemany``; how many rows were new."""
    statement = sqlite.insert(raw_intervals).on_conflict_do_nothing(index_elements=_RAW_KEY)
    return int(connection.execute(statement, params, execution_options=_ROWCOUNT).rowcount)


def _copy_raw_postgresql(
    connection: Connection,
    *,
    meter_id: int,
    source: str,
    received_at: datetime,
    params: list[dict[str, Any]],
) -> int:
    """PostgreSQL: ``COPY`` into a temporary table, then ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``."""
    _raw_stage.create(connection, checkfirst=True)
    cursor = connection.connection.cursor()
    try:
        with cursor.copy(
            "COPY meshmeter_raw_stage (interval_end, energy_wh, cumulative_wh) FROM STDIN"
        ) as copy:
            for p in params:
                copy.write_row((p["interval_end"], p["energy_wh"], p["cumulative_wh"]))
    finally:
        cursor.close()
    s = _raw_stage.c
    statement = (
        postgresql.insert(raw_intervals)
        .from_select(
            ["meter_id", "interval_end", "revision", "energy_wh", "cumulative_wh", "source", "received_at"],
            select(
                literal(meter_id, BigInteger()),
                s.interval_end,
                literal(0, SmallInteger()),
                s.energy_wh,
                s.cumulative_wh,
                literal(source, Text()),
                literal(received_at, UtcDateTime()),
            ),
        )
        .on_conflict_do_nothing(index_elements=_RAW_KEY)
    )
    new = int(connection.execute(statement, execution_options=_ROWCOUNT).rowcount)
    connection.execute(_raw_stage.delete())
    return new


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
        found = connection.execute(
            select(meters.c.id).where(meters.c.id == meter_id).with_for_update(key_share=True)
        ).first()
        if found is None:
            raise ValueError(f"{field} {meter_id!r} is not a known meter")

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
        """
        serial = v.check_text("serial", serial)
        designation = v.check_text("designation", designation)
        ct_ratio = v.check_positive_float("ct_ratio", ct_ratio)
        multiplier = v.check_positive_float("multiplier", multiplier)
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
        }
        with self._write() as c:
            if site_id is not None:
                self._require(c, sites, site_id, "site_id", "site")
            try:
                meter_id = c.execute(insert(meters).values(**values).returning(meters.c.id)).scalar_one()
            except IntegrityError:
                raise ValueError(f"serial {serial!r} is already a meter") from None
        return Meter(int(meter_id), serial, designation, ct_ratio, multiplier, install_date, site_id)

    def get_meter(self, *, serial: str | None = None, meter_id: int | None = None) -> Meter | None:
        """The meter with this serial number or id (give exactly one), or None."""
        if (serial is None) == (meter_id is None):
            raise ValueError("give exactly one of serial and meter_id")
        where = meters.c.serial == serial if serial is not None else meters.c.id == meter_id
        with self._read() as c:
            row = c.execute(select(meters).where(where)).first()
        if row is None:
            return None
        return Meter(
            id=row.id,
            serial=row.serial,
            designation=row.designation,
            ct_ratio=row.ct_ratio,
            multiplier=row.multiplier,
            install_date=row.install_date,
            site_id=row.site_id,
        )

    def meters(self, *, site_id: int | None = None) -> list[Meter]:
        """Every meter, or those of one site, by id."""
        query = select(meters).order_by(meters.c.id)
        if site_id is not None:
            query = query.where(meters.c.site_id == v.check_id("site_id", site_id))
        with self._read() as c:
            rows = c.execute(query).all()
        return [
            Meter(r.id, r.serial, r.designation, r.ct_ratio, r.multiplier, r.install_date, r.site_id)
            for r in rows
        ]

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
        source = v.check_text("source", source)
        stamp = _now() if received_at is None else v.check_utc("received_at", received_at)
        batch: dict[datetime, tuple[int, int | None]] = {}
        for i, row in enumerate(rows):
            if not isinstance(row, tuple) or len(row) not in (2, 3):
                raise ValueError(f"rows[{i}] must be (interval_end, energy_wh[, cumulative_wh]), got {row!r}")
            end = v.check_utc(f"rows[{i}].interval_end", row[0], whole_second=True)
            energy = v.check_energy_wh(f"rows[{i}].energy_wh", row[1])
            cumulative = row[2] if len(row) == 3 else None
            if cumulative is not None:
                cumulative = v.check_energy_wh(f"rows[{i}].cumulative_wh", cumulative)
            values = (energy, cumulative)
            seen = batch.setdefault(end, values)
            if seen != values:
                raise ValueError(
                    f"rows[{i}].interval_end {end.isoformat()} appears twice in the batch with different "
                    f"values: {seen} and {values}"
                )
        params: list[dict[str, Any]] = [
            {
                "meter_id": meter_id,
                "interval_end": end,
                "revision": 0,
                "energy_wh": energy,
                "cumulative_wh": cumulative,
                "source": source,
                "received_at": stamp,
            }
            for end, (energy, cumulative) in batch.items()
        ]
        with self._write() as c:
            self._lock_meter(c, meter_id)
            if not params:
                return 0
            if self.dialect_name == "postgresql":
                new = _copy_raw_postgresql(
                    c, meter_id=meter_id, source=source, received_at=stamp, params=params
                )
            else:
                new = _executemany_raw_sqlite(c, params)
            if new == len(params):
                return new
            # Some intervals were there already: keep those whose values differ from every stored revision.
            t = raw_intervals
            stored: dict[datetime, list[tuple[int, int, int | None]]] = {}
            for end, revision, energy, cumulative in c.execute(
                select(t.c.interval_end, t.c.revision, t.c.energy_wh, t.c.cumulative_wh).where(
                    t.c.meter_id == meter_id,
                    t.c.interval_end >= min(batch),
                    t.c.interval_end <= max(batch),
                )
            ):
                stored.setdefault(end, []).append((revision, energy, cumulative))
            revisions = []
            for p in params:
                known = stored.get(p["interval_end"], [])
                if any((e, cw) == (p["energy_wh"], p["cumulative_wh"]) for _, e, cw in known):
                    continue
                revisions.append({**p, "revision": max((r for r, _, _ in known), default=-1) + 1})
            if revisions:
                c.execute(insert(raw_intervals), revisions)
        return new + len(revisions)

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
        t = raw_intervals
        columns = (
            t.c.meter_id,
            t.c.interval_end,
            t.c.revision,
            t.c.energy_wh,
            t.c.cumulative_wh,
            t.c.source,
            t.c.received_at,
        )  # in the order of RawInterval's fields
        query = (
            select(*columns).where(_in_window(t, meter_id, lo, hi)).order_by(t.c.interval_end, t.c.revision)
        )
        with self._read() as c:
            rows = c.execute(query).all()
        out = [RawInterval(*r) for r in rows]
        if all_revisions:
            return out
        latest: dict[datetime, RawInterval] = {}
        for item in out:
            latest[item.interval_end] = item
        return list(latest.values())

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
        t = raw_intervals
        query = (
            select(_epoch_column(t.c.interval_end, self.dialect_name), t.c.energy_wh)
            .where(_in_window(t, meter_id, lo, hi))
            .order_by(t.c.interval_end, t.c.revision)
        )
        with self._read() as c:
            ends, energy = _int_columns(c, query, 2)
        if ends.size > 1:
            latest = np.append(ends[1:] != ends[:-1], True)  # the last revision of each end
            if not latest.all():
                ends, energy = ends[latest], energy[latest]
        return ends, energy

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
            vt, rt = validated_intervals, raw_intervals
            current = {
                r.interval_end: (r.energy_wh, r.quality)
                for r in c.execute(
                    select(vt.c.interval_end, vt.c.energy_wh, vt.c.quality).where(
                        vt.c.meter_id == meter_id, vt.c.interval_end >= lo, vt.c.interval_end <= hi
                    )
                )
            }
            raw: dict[datetime, int] = {}
            for r in c.execute(
                select(rt.c.interval_end, rt.c.energy_wh)
                .where(rt.c.meter_id == meter_id, rt.c.interval_end >= lo, rt.c.interval_end <= hi)
                .order_by(rt.c.interval_end, rt.c.revision)
            ):
                raw[r.interval_end] = r.energy_wh
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
                    raw_energy = raw.get(end)
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
