"""Versioned migrations of the store's schema.

The database records its version in ``schema_version`` (one row per step applied). :func:`migrate`
brings a database to :data:`LATEST_VERSION`:

* a new, empty database is built from :data:`~meshmeter.store.schema.METADATA` (which always describes
  the latest version) and stamped with every version;
* a database at version ``n`` runs the steps ``n + 1 ... LATEST_VERSION`` in order;
* a database at the latest version is left alone, so running :func:`migrate` twice changes nothing;
* a database newer than this code is refused with :class:`SchemaVersionError`.

Everything happens in one transaction (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: under an advisory lock,
DDL being transactional on both), so a failed step leaves the database at its old version. How to add a
step: ``docs/store.md``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    case,
    column,
    func,
    insert,
    inspect,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from meshmeter.errors import SchemaVersionError
from meshmeter.store.schema import _ID, METADATA, schema_version
from meshmeter.store.types import UtcDateTime

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "Migration",
    "SchemaVersionError",
    "current_version",
    "migrate",
]

_PG_LOCK_KEY = 0x6D6D_7374  # "mmst": serialises concurrent migrate() calls on one PostgreSQL database


@dataclass(frozen=True, slots=True)
class Migration:
    """
    One step of the schema's history.

    Attributes
    ----------
    version : int
        The version the step brings the database to; steps are numbered 1, 2, 3 ... without gaps.
    description : str
        What the step does, recorded in ``schema_version``.
    apply : callable
        ``apply(connection)``: the DDL (and any data change) of the step, run inside the migration's
        transaction. It turns a database at ``version - 1`` into one at ``version``.
    """

    version: int
    description: str
    apply: Callable[[Connection], None]


def _create_baseline(connection: Connection) -> None:
    METADATA.create_all(connection)


_V2 = MetaData(naming_convention=METADATA.naming_convention)
_api_tokens_v2 = Table(
    "api_tokens",
    _V2,
    Column("id", _ID, primary_key=True),
    Column("token_hash", LargeBinary, nullable=False, unique=True),
    Column("prefix", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("label", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    CheckConstraint("length(token_hash) = 32", name="token_hash_length"),
    CheckConstraint("role IN ('admin', 'operator', 'billing', 'read-only')", name="role"),
)
"""``api_tokens`` as version 2 made it: frozen here, so that the step never changes with ``schema.py``."""


def _add_api_tokens(connection: Connection) -> None:
    _api_tokens_v2.create(connection)


_V3 = MetaData(naming_convention=METADATA.naming_convention)
_V3_JSON = JSON().with_variant(JSONB(), "postgresql")
Table("sites", _V3, Column("id", _ID, primary_key=True))
Table("meters", _V3, Column("id", _ID, primary_key=True))
_ingest_batches_v3 = Table(
    "ingest_batches",
    _V3,
    Column("id", _ID, primary_key=True),
    Column("source", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    UniqueConstraint("source", "received_at"),
)
_raw_intervals_v3 = Table(
    "raw_intervals",
    _V3,
    Column("meter_id", _ID, nullable=False),
    Column("interval_end", UtcDateTime, nullable=False),
    Column("energy_wh", BigInteger, nullable=False),
    Column("cumulative_wh", BigInteger, nullable=True),
    Column("batch_id", _ID, nullable=False),
    PrimaryKeyConstraint("meter_id", "interval_end"),
    CheckConstraint("energy_wh >= 0", name="energy_wh_nonnegative"),
    CheckConstraint("cumulative_wh IS NULL OR cumulative_wh >= -1", name="cumulative_wh_code"),
    sqlite_with_rowid=False,
)
_raw_interval_revisions_v3 = Table(
    "raw_interval_revisions",
    _V3,
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=False),
    Column("interval_end", UtcDateTime, nullable=False),
    Column("revision", SmallInteger, nullable=False),
    Column("energy_wh", BigInteger, nullable=False),
    Column("cumulative_wh", BigInteger, nullable=True),
    Column("batch_id", _ID, ForeignKey("ingest_batches.id"), nullable=False),
    PrimaryKeyConstraint("meter_id", "interval_end", "revision"),
    CheckConstraint("energy_wh >= 0", name="energy_wh_nonnegative"),
    CheckConstraint("cumulative_wh IS NULL OR cumulative_wh >= 0", name="cumulative_wh_nonnegative"),
    CheckConstraint("revision >= 1", name="revision_positive"),
    sqlite_with_rowid=False,
)
_network_reports_v3 = Table(
    "network_reports",
    _V3,
    Column("id", _ID, primary_key=True),
    Column("site_id", _ID, ForeignKey("sites.id"), nullable=False),
    Column("taken_at", UtcDateTime, nullable=False),
    Column("report", _V3_JSON, nullable=False),
    Index(None, "site_id", "taken_at"),
)
"""The tables version 3 made, frozen here (``sites`` and ``meters`` only as the targets of keys)."""

_V2_RAW = MetaData()
_raw_intervals_v2 = Table(
    "raw_intervals_v2",
    _V2_RAW,
    Column("meter_id", _ID),
    Column("interval_end", UtcDateTime),
    Column("revision", SmallInteger),
    Column("energy_wh", BigInteger),
    Column("cumulative_wh", BigInteger),
    Column("source", Text),
    Column("received_at", UtcDateTime),
)
"""``raw_intervals`` as versions 1 and 2 had it, under the name the step gives it before copying."""


def _compact_raw_intervals(connection: Connection) -> None:
    """
    Version 3: raw intervals stored once, compactly; revisions beside them; network reports.

    The old table is renamed, its rows copied (each distinct ``(source, received_at)`` becomes one
    ``ingest_batches`` row; revision 0 goes to ``raw_intervals`` with its counter written out, or -1 when
    it had none; later revisions to ``raw_interval_revisions``), and then dropped.
    """
    connection.execute(text("ALTER TABLE raw_intervals RENAME TO raw_intervals_v2"))
    if connection.dialect.name == "postgresql":
        # PostgreSQL names the primary key's index after the old table: free the name for the new one.
        connection.execute(
            text("ALTER TABLE raw_intervals_v2 RENAME CONSTRAINT pk_raw_intervals TO pk_raw_intervals_v2")
        )
    for made in (_ingest_batches_v3, _raw_intervals_v3, _raw_interval_revisions_v3, _network_reports_v3):
        made.create(connection)
    old, batches = _raw_intervals_v2, _ingest_batches_v3
    connection.execute(
        insert(batches).from_select(
            ["source", "received_at"],
            select(old.c.source, old.c.received_at).distinct().order_by(old.c.received_at, old.c.source),
        )
    )
    joined = old.join(
        batches, (batches.c.source == old.c.source) & (batches.c.received_at == old.c.received_at)
    )
    connection.execute(
        insert(_raw_intervals_v3).from_select(
            ["meter_id", "interval_end", "energy_wh", "cumulative_wh", "batch_id"],
            select(
                old.c.meter_id,
                old.c.interval_end,
                old.c.energy_wh,
                case((old.c.cumulative_wh.is_(None), -1), else_=old.c.cumulative_wh),
                batches.c.id,
            )
            .select_from(joined)
            .where(old.c.revision == 0),
        )
    )
    connection.execute(
        insert(_raw_interval_revisions_v3).from_select(
            ["meter_id", "interval_end", "revision", "energy_wh", "cumulative_wh", "batch_id"],
            select(
                old.c.meter_id,
                old.c.interval_end,
                old.c.revision,
                old.c.energy_wh,
                old.c.cumulative_wh,
                batches.c.id,
            )
            .select_from(joined)
            .where(old.c.revision > 0),
        )
    )
    connection.execute(text("DROP TABLE raw_intervals_v2"))


_V4 = MetaData(naming_convention=METADATA.naming_convention)
_V4_JSON = JSON().with_variant(JSONB(), "postgresql")
for _name in ("sites", "accounts", "meters"):
    Table(_name, _V4, Column("id", _ID, primary_key=True))
_bills_v4 = Table(
    "bills",
    _V4,
    Column("id", _ID, primary_key=True),
    Column("site_id", _ID, ForeignKey("sites.id"), nullable=True),
    Column("account_id", _ID, ForeignKey("accounts.id"), nullable=True),
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=True),
    Column("account", Text, nullable=False),
    Column("meter", Text, nullable=False),
    Column("period_start", UtcDateTime, nullable=False),
    Column("period_end", UtcDateTime, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("mode", Text, nullable=False),
    Column("tariff_name", Text, nullable=False),
    Column("tariff_sha256", Text, nullable=False),
    Column("engine_version", Text, nullable=False),
    Column("energy_wh", BigInteger, nullable=False),
    Column("total", Text, nullable=False),
    Column("printed_total_cents", BigInteger, nullable=False),
    Column("figures", _V4_JSON, nullable=False),
    Column("lines", _V4_JSON, nullable=False),
    Column("inputs", _V4_JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("account", "meter", "period_start", "period_end", "tariff_sha256"),
    CheckConstraint("period_end > period_start", name="period"),
    CheckConstraint("length(tariff_sha256) = 64", name="tariff_sha256_length"),
    CheckConstraint("mode IN ('california', 'maryland')", name="mode"),
    Index(None, "site_id", "period_start"),
    Index(None, "account_id"),
)
"""``bills`` as version 4 made it: frozen here, so that the step never changes with ``schema.py``."""


def _add_bills(connection: Connection) -> None:
    _bills_v4.create(connection)


_V5 = MetaData(naming_convention=METADATA.naming_convention)
_V5_JSON = JSON().with_variant(JSONB(), "postgresql")
Table("meters", _V5, Column("id", _ID, primary_key=True))
_vee_runs_v5 = Table(
    "vee_runs",
    _V5,
    Column("id", _ID, primary_key=True),
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=False),
    Column("period_start", UtcDateTime, nullable=False),
    Column("period_end", UtcDateTime, nullable=False),
    Column("batch_watermark", BigInteger, nullable=False),
    Column("ran_by", Text, nullable=False),
    Column("ran_at", UtcDateTime, nullable=False),
    CheckConstraint("period_end > period_start", name="period"),
    Index(None, "meter_id", "period_end"),
)
_ingest_formats_v5 = Table(
    "ingest_formats",
    _V5,
    Column("name", Text, primary_key=True),
    Column("mapping", _V5_JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
"""``vee_runs`` and ``ingest_formats`` as version 5 made them: frozen here, so that the step never changes
with ``schema.py``."""

_ROLE_OF_INSTALL = {"unit": "unit", "house": "house", "solar": "production", "production": "production"}
"""The meter role of schema version 5 from the ``role`` of a meter's ``install`` event before it."""


def _meter_roles_and_lengths(connection: Connection) -> None:
    """
    Version 5: each meter's interval length and role; what VEE validated; saved ingest formats.

    Every existing meter is a 15-minute meter (the only length before); its role is taken from the
    ``role`` of its latest ``install`` event where one says it (the demo's ``"solar"`` becomes
    ``"production"``), else ``"unit"``. VEE runs before this version left no record of what they passed:
    run ``meshmeter vee`` again over the periods to bill (``docs/vee.md``).
    """
    lengths = "300, 900, 1800, 3600"
    connection.execute(
        text(
            "ALTER TABLE meters ADD COLUMN interval_s INTEGER NOT NULL DEFAULT 900 "
            f"CONSTRAINT ck_meters_interval_s CHECK (interval_s IN ({lengths}))"
        )
    )
    connection.execute(
        text(
            "ALTER TABLE meters ADD COLUMN role TEXT NOT NULL DEFAULT 'unit' "
            "CONSTRAINT ck_meters_role CHECK (role IN ('unit', 'house', 'production', 'master'))"
        )
    )
    roles: dict[int, str] = {}
    for meter_id, detail in connection.execute(
        text(
            "SELECT meter_id, detail FROM events "
            "WHERE kind = 'install' AND meter_id IS NOT NULL ORDER BY at, id"
        )
    ):
        found = detail if isinstance(detail, dict) else json.loads(detail) if isinstance(detail, str) else {}
        role = _ROLE_OF_INSTALL.get(str(found.get("role", "")))
        if role is not None:
            roles[int(meter_id)] = role
    for meter_id, role in roles.items():
        connection.execute(
            text("UPDATE meters SET role = :role WHERE id = :id"), {"role": role, "id": meter_id}
        )
    _vee_runs_v5.create(connection)
    _ingest_formats_v5.create(connection)


def _meter_data_versions(connection: Connection) -> None:
    """Version 6: each meter's ``data_version``, raised by every write of its intervals (from 0)."""
    connection.execute(text("ALTER TABLE meters ADD COLUMN data_version BIGINT NOT NULL DEFAULT 0"))


_V7 = MetaData(naming_convention=METADATA.naming_convention)
_V7_JSON = JSON().with_variant(JSONB(), "postgresql")
for _name in ("sites", "meters", "tenants"):
    Table(_name, _V7, Column("id", _ID, primary_key=True))
_units_v7 = Table(
    "units",
    _V7,
    Column("id", _ID, primary_key=True),
    Column("site_id", _ID, ForeignKey("sites.id"), nullable=True),
    Column("name", Text, nullable=False),
    Column("address", Text, nullable=True),
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=False, index=True),
    UniqueConstraint("site_id", "name"),
)
_accounts_v7 = Table(
    "accounts",
    _V7,
    Column("id", _ID, primary_key=True),
    Column("number", Text, nullable=False),
    Column("site_id", _ID, ForeignKey("sites.id"), nullable=True, index=True),
    Column("tenant_id", _ID, ForeignKey("tenants.id"), nullable=False, index=True),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    UniqueConstraint("site_id", "number"),
)
_occupancies_v7 = Table(
    "occupancies",
    _V7,
    Column("id", _ID, primary_key=True),
    Column("account_id", _ID, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("unit_id", _ID, ForeignKey("units.id"), nullable=False),
    Column("move_in", UtcDateTime, nullable=False),
    Column("move_out", UtcDateTime, nullable=True),
    CheckConstraint("move_out IS NULL OR move_out > move_in", name="move_out_after_move_in"),
    Index(None, "unit_id", "move_in"),
)
_tenancy_events_v7 = Table(
    "tenancy_events",
    _V7,
    Column("id", _ID, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("recorded_by", Text, nullable=True),
    Column("tenant_id", _ID, ForeignKey("tenants.id"), nullable=True),
    Column("account_id", _ID, ForeignKey("accounts.id"), nullable=True),
    Column("unit_id", _ID, ForeignKey("units.id"), nullable=True),
    Column("occupancy_id", _ID, ForeignKey("occupancies.id"), nullable=True),
    Column("detail", _V7_JSON, nullable=False),
    CheckConstraint(
        "kind IN ('tenant_created', 'unit_created', 'account_opened', 'moved_in', 'moved_out', "
        "'transferred', 'account_closed')",
        name="kind",
    ),
    Index(None, "account_id", "id"),
    Index(None, "tenant_id"),
)
_V7_TOKEN_ROLES = "role IN ('admin', 'operator', 'billing', 'read-only', 'tenant')"
_V7_TENANT_ACCOUNT = (
    "(role = 'tenant' AND account_id IS NOT NULL) OR (role <> 'tenant' AND account_id IS NULL)"
)
_api_tokens_v7 = Table(
    "api_tokens",
    _V7,
    Column("id", _ID, primary_key=True),
    Column("token_hash", LargeBinary, nullable=False, unique=True),
    Column("prefix", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("label", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("account_id", _ID, ForeignKey("accounts.id"), nullable=True),
    CheckConstraint("length(token_hash) = 32", name="token_hash_length"),
    CheckConstraint(_V7_TOKEN_ROLES, name="role"),
    CheckConstraint(_V7_TENANT_ACCOUNT, name="tenant_account"),
)
_api_token_sites_v7 = Table(
    "api_token_sites",
    _V7,
    Column("token_id", _ID, ForeignKey("api_tokens.id"), nullable=False),
    Column("site_id", _ID, ForeignKey("sites.id"), nullable=False),
    PrimaryKeyConstraint("token_id", "site_id"),
)
"""The tables version 7 made or reshaped, frozen here (``sites``, ``meters``, ``tenants`` only as the
targets of keys)."""

_accounts_v6 = table(
    "accounts",
    column("id", _ID),
    column("tenant_id", _ID),
    column("meter_id", _ID),
    column("unit", Text),
    column("move_in", UtcDateTime),
    column("move_out", UtcDateTime),
)
_api_tokens_v6 = table(
    "api_tokens",
    *(column(c.name, c.type) for c in _api_tokens_v2.columns),
)
"""``accounts`` and ``api_tokens`` as version 6 had them, to read their rows."""

_V7_BY = "migration to schema version 7"
"""``recorded_by`` of the history rows the step writes for the accounts it finds."""

FIRST_ACCOUNT_NUMBER = 1001
"""The number of a site's first account when the operator gives none: 1001, 1002 ... per site."""


def _v7_units_and_numbers(
    olds: list[dict[str, object]], meters: dict[int, tuple[int | None, str]]
) -> tuple[list[dict[str, object]], dict[int, tuple[int | None, str]], dict[int, str]]:
    """
    The units to make for version 6's accounts, the unit (site, name) of each account, and each
    account's number.

    A unit is each distinct (meter, unit name) of the accounts, in the site of the meter; a name already
    taken in that site by another meter's unit gets the meter's serial: ``"2A (MM26000013)"``. Numbers
    are 1001, 1002 ... per site, in the order of the accounts' ids.
    """
    units: list[dict[str, object]] = []
    by_meter_name: dict[tuple[int, str], tuple[int | None, str]] = {}
    taken: set[tuple[int | None, str]] = set()
    unit_of: dict[int, tuple[int | None, str]] = {}
    numbers: dict[int, str] = {}
    next_number: dict[int | None, int] = {}
    for row in olds:
        account_id, meter_id, name = int(str(row["id"])), int(str(row["meter_id"])), str(row["unit"])
        site_id, serial = meters[meter_id]
        key = (meter_id, name)
        if key not in by_meter_name:
            shown = name
            if (site_id, shown) in taken:
                shown = f"{name} ({serial})"
            k = 2
            while (site_id, shown) in taken:
                shown, k = f"{name} ({serial}, {k})", k + 1
            taken.add((site_id, shown))
            by_meter_name[key] = (site_id, shown)
            units.append({"site_id": site_id, "name": shown, "address": None, "meter_id": meter_id})
        unit_of[account_id] = by_meter_name[key]
        number = next_number.get(site_id, FIRST_ACCOUNT_NUMBER)
        numbers[account_id] = str(number)
        next_number[site_id] = number + 1
    return units, unit_of, numbers


def _tenancies(connection: Connection) -> None:
    """
    Version 7: tenants' accounts reshaped into units, accounts and occupancies, with their history;
    tenant tokens bound to an account, other tokens optionally to sites.

    Version 6's ``accounts`` row (a tenant in a unit of a meter, from move-in to move-out) becomes:
    a unit (:func:`_v7_units_and_numbers`), the account under the same id (so stored bills keep
    pointing at it) with a number, its site the meter's, opened at the move-in and, where it had a
    move-out, closed then (a version 6 account could not go on after its tenant left), and one
    occupancy of the unit over the same dates; its history says so (``recorded_by`` the migration).
    Occupancies that overlapped in version 6 (nothing refused them) are kept as they were.

    SQLite cannot alter a table's columns or constraints in place: ``accounts`` and ``api_tokens`` are
    dropped and made again, with the foreign keys into ``accounts`` (``bills``) deferred to the commit,
    where the same ids are back. PostgreSQL alters them in place.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    old = _accounts_v6
    olds = [dict(r._mapping) for r in connection.execute(select(old).order_by(old.c.id))]
    meters = {
        int(r.id): (None if r.site_id is None else int(r.site_id), str(r.serial))
        for r in connection.execute(text("SELECT id, site_id, serial FROM meters"))
    }
    units, unit_of, numbers = _v7_units_and_numbers(olds, meters)
    new_accounts = [
        {
            "id": row["id"],
            "number": numbers[int(str(row["id"]))],
            "site_id": meters[int(str(row["meter_id"]))][0],
            "tenant_id": row["tenant_id"],
            "opened_at": row["move_in"],
            "closed_at": row["move_out"],
        }
        for row in olds
    ]
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        tokens = [dict(r._mapping) for r in connection.execute(select(_api_tokens_v6))]
        connection.execute(text("PRAGMA defer_foreign_keys = ON"))  # bills -> accounts, until the commit
        connection.execute(text("DROP TABLE accounts"))
        connection.execute(text("DROP TABLE api_tokens"))
        _accounts_v7.create(connection)
        if new_accounts:
            connection.execute(insert(_accounts_v7), new_accounts)
        _api_tokens_v7.create(connection)
        if tokens:
            connection.execute(insert(_api_tokens_v7), [{**t, "account_id": None} for t in tokens])
    else:
        for ddl in (
            "ALTER TABLE accounts ADD COLUMN number TEXT",
            "ALTER TABLE accounts ADD COLUMN site_id BIGINT "
            "CONSTRAINT fk_accounts_site_id_sites REFERENCES sites (id)",
            "ALTER TABLE accounts ADD COLUMN opened_at TIMESTAMP WITH TIME ZONE",
            "ALTER TABLE accounts ADD COLUMN closed_at TIMESTAMP WITH TIME ZONE",
        ):
            connection.execute(text(ddl))
        reshaped = table(
            "accounts",
            column("id", _ID),
            column("number", Text),
            column("site_id", _ID),
            column("opened_at", UtcDateTime),
            column("closed_at", UtcDateTime),
        )
        for row in new_accounts:
            connection.execute(
                reshaped.update()
                .where(reshaped.c.id == row["id"])
                .values(
                    number=row["number"],
                    site_id=row["site_id"],
                    opened_at=row["opened_at"],
                    closed_at=row["closed_at"],
                )
            )
        for ddl in (
            "ALTER TABLE accounts DROP COLUMN meter_id",
            "ALTER TABLE accounts DROP COLUMN unit",
            "ALTER TABLE accounts DROP COLUMN move_in",
            "ALTER TABLE accounts DROP COLUMN move_out",
            "ALTER TABLE accounts ALTER COLUMN number SET NOT NULL",
            "ALTER TABLE accounts ALTER COLUMN opened_at SET NOT NULL",
            "ALTER TABLE accounts ADD CONSTRAINT uq_accounts_site_id_number UNIQUE (site_id, number)",
            "CREATE INDEX ix_accounts_site_id ON accounts (site_id)",
            "ALTER TABLE api_tokens ADD COLUMN account_id BIGINT "
            "CONSTRAINT fk_api_tokens_account_id_accounts REFERENCES accounts (id)",
            "ALTER TABLE api_tokens DROP CONSTRAINT ck_api_tokens_role",
            f"ALTER TABLE api_tokens ADD CONSTRAINT ck_api_tokens_role CHECK ({_V7_TOKEN_ROLES})",
            "ALTER TABLE api_tokens ADD CONSTRAINT ck_api_tokens_tenant_account "
            f"CHECK ({_V7_TENANT_ACCOUNT})",
        ):
            connection.execute(text(ddl))
    for made in (_units_v7, _occupancies_v7, _tenancy_events_v7, _api_token_sites_v7):
        made.create(connection)
    if not olds:
        return
    connection.execute(insert(_units_v7), units)
    unit_ids = {
        (r.site_id, r.name): int(r.id)
        for r in connection.execute(select(_units_v7.c.id, _units_v7.c.site_id, _units_v7.c.name))
    }
    connection.execute(
        insert(_occupancies_v7),
        [
            {
                "account_id": row["id"],
                "unit_id": unit_ids[unit_of[int(str(row["id"]))]],
                "move_in": row["move_in"],
                "move_out": row["move_out"],
            }
            for row in olds
        ],
    )
    occupancy_of = {
        int(r.account_id): int(r.id)
        for r in connection.execute(select(_occupancies_v7.c.id, _occupancies_v7.c.account_id))
    }
    history: list[dict[str, object]] = []
    for row, account in zip(olds, new_accounts, strict=True):
        account_id = int(str(row["id"]))
        unit_id = unit_ids[unit_of[account_id]]
        common = {
            "recorded_at": now,
            "recorded_by": _V7_BY,
            "tenant_id": row["tenant_id"],
            "account_id": account_id,
            "unit_id": unit_id,
        }
        history.append(
            {
                **common,
                "kind": "account_opened",
                "at": row["move_in"],
                "occupancy_id": None,
                "detail": {"number": account["number"], "site_id": account["site_id"]},
            }
        )
        history.append(
            {
                **common,
                "kind": "moved_in",
                "at": row["move_in"],
                "occupancy_id": occupancy_of[account_id],
                "detail": {"unit": unit_of[account_id][1], "meter_id": row["meter_id"]},
            }
        )
        if row["move_out"] is not None:
            history.append(
                {
                    **common,
                    "kind": "moved_out",
                    "at": row["move_out"],
                    "occupancy_id": occupancy_of[account_id],
                    "detail": {"unit": unit_of[account_id][1]},
                }
            )
            history.append(
                {
                    **common,
                    "kind": "account_closed",
                    "at": row["move_out"],
                    "occupancy_id": None,
                    "detail": {},
                }
            )
    connection.execute(insert(_tenancy_events_v7), history)


_V8 = MetaData(naming_convention=METADATA.naming_convention)
for _name in ("meters", "units", "bills", "tenants", "accounts", "occupancies"):
    Table(_name, _V8, Column("id", _ID, primary_key=True))
_V8_EVENT_KINDS = (
    "kind IN ('tenant_created', 'unit_created', 'account_opened', 'moved_in', 'moved_out', "
    "'transferred', 'account_closed', 'unit_updated')"
)
_tenancy_events_v8 = Table(
    "tenancy_events",
    _V8,
    *(c._copy() for c in _tenancy_events_v7.columns),
    CheckConstraint(_V8_EVENT_KINDS, name="kind"),
    Index(None, "account_id", "id"),
    Index(None, "tenant_id"),
)
_meter_changes_v8 = Table(
    "meter_changes",
    _V8,
    Column("id", _ID, primary_key=True),
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("read_wh", BigInteger, nullable=True),
    Column("value", Float, nullable=True),
    Column("replaces_meter_id", _ID, ForeignKey("meters.id"), nullable=True),
    Column("unit_id", _ID, ForeignKey("units.id"), nullable=True),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("recorded_by", Text, nullable=True),
    Column("detail", _V7_JSON, nullable=False),
    CheckConstraint("kind IN ('install', 'remove', 'multiplier', 'ct_ratio')", name="kind"),
    CheckConstraint("read_wh IS NULL OR read_wh >= 0", name="read_wh_nonnegative"),
    CheckConstraint("value IS NULL OR value > 0", name="value_positive"),
    CheckConstraint("(kind IN ('multiplier', 'ct_ratio')) = (value IS NOT NULL)", name="value_of_kind"),
    Index(None, "meter_id", "at"),
    Index(None, "unit_id", "at"),
)
_bill_corrections_v8 = Table(
    "bill_corrections",
    _V8,
    Column("id", _ID, primary_key=True),
    Column("bill_id", _ID, ForeignKey("bills.id"), nullable=False),
    Column("sequence", SmallInteger, nullable=False),
    Column("mode", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("difference", Text, nullable=False),
    Column("document", _V7_JSON, nullable=False),
    Column("lines", _V7_JSON, nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("issued_by", Text, nullable=True),
    Column("applied_bill_id", _ID, ForeignKey("bills.id"), nullable=True),
    UniqueConstraint("bill_id", "sequence"),
    CheckConstraint("sequence >= 1", name="sequence_positive"),
    CheckConstraint("mode IN ('corrected_bill', 'next_bill')", name="mode"),
    Index(None, "applied_bill_id"),
)
"""The tables version 8 made or remade, frozen here (the tables they name by key only as stubs)."""


def _meter_life_and_corrections(connection: Connection) -> None:
    """
    Version 8: what a site's bills say and do (owner, payment instructions, due days, correction mode);
    units' floor area and occupants; meters' register digits and export registers; a meter's life
    (``meter_changes``); issued corrections of bills (``bill_corrections``); the history of tenancies
    takes ``unit_updated`` (SQLite cannot alter a CHECK constraint in place: ``tenancy_events`` is made
    again with its rows).

    Every column added is nullable or has a default that keeps what version 7 did: bills due 21 days after
    issue, corrections as corrected bills, registers that never roll over. Nothing is backfilled: a
    meter's install date stays on ``meters.install_date``, and its life starts being recorded now.
    """
    for ddl in (
        "ALTER TABLE sites ADD COLUMN owner_name TEXT",
        "ALTER TABLE sites ADD COLUMN owner_address TEXT",
        "ALTER TABLE sites ADD COLUMN payment_instructions TEXT",
        "ALTER TABLE sites ADD COLUMN due_days INTEGER NOT NULL DEFAULT 21 "
        "CONSTRAINT ck_sites_due_days CHECK (due_days >= 0 AND due_days <= 90)",
        "ALTER TABLE sites ADD COLUMN correction_mode TEXT NOT NULL DEFAULT 'corrected_bill' "
        "CONSTRAINT ck_sites_correction_mode CHECK (correction_mode IN ('corrected_bill', 'next_bill'))",
        "ALTER TABLE units ADD COLUMN floor_area_ft2 FLOAT "
        "CONSTRAINT ck_units_floor_area_positive CHECK (floor_area_ft2 IS NULL OR floor_area_ft2 > 0)",
        "ALTER TABLE units ADD COLUMN occupants INTEGER "
        "CONSTRAINT ck_units_occupants_nonnegative CHECK (occupants IS NULL OR occupants >= 0)",
        "ALTER TABLE meters ADD COLUMN register_digits INTEGER "
        "CONSTRAINT ck_meters_register_digits "
        "CHECK (register_digits IS NULL OR register_digits BETWEEN 3 AND 12)",
        "ALTER TABLE meters ADD COLUMN export_of_meter_id "
        + ("INTEGER" if connection.dialect.name == "sqlite" else "BIGINT")
        + " CONSTRAINT fk_meters_export_of_meter_id_meters REFERENCES meters (id) "
        "CONSTRAINT ck_meters_export_of_other CHECK (export_of_meter_id IS NULL OR export_of_meter_id <> id)",
        "CREATE UNIQUE INDEX ix_meters_export_of_meter_id ON meters (export_of_meter_id)",
    ):
        connection.execute(text(ddl))
    _meter_changes_v8.create(connection)
    _bill_corrections_v8.create(connection)
    if connection.dialect.name == "sqlite":
        history = [dict(r._mapping) for r in connection.execute(select(_tenancy_events_v7))]
        connection.execute(text("DROP TABLE tenancy_events"))
        _tenancy_events_v8.create(connection)
        if history:
            connection.execute(insert(_tenancy_events_v8), history)
    else:
        for ddl in (
            "ALTER TABLE tenancy_events DROP CONSTRAINT ck_tenancy_events_kind",
            f"ALTER TABLE tenancy_events ADD CONSTRAINT ck_tenancy_events_kind CHECK ({_V8_EVENT_KINDS})",
        ):
            connection.execute(text(ddl))


_V9 = MetaData(naming_convention=METADATA.naming_convention)
for _name in ("sites", "meters"):
    Table(_name, _V9, Column("id", _ID, primary_key=True))
_sources_v9 = Table(
    "sources",
    _V9,
    Column("id", _ID, primary_key=True),
    Column("site_id", _ID, ForeignKey("sites.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("format", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("settings", _V7_JSON, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_reading_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_error_at", UtcDateTime, nullable=True),
    Column("readings", BigInteger, nullable=False, server_default=text("0")),
    Column("rejected", _V7_JSON, nullable=False),
    UniqueConstraint("site_id", "name"),
    CheckConstraint("kind IN ('mqtt', 'modbus_tcp', 'modbus_rtu', 'rtlamr')", name="kind"),
)
_source_channels_v9 = Table(
    "source_channels",
    _V9,
    Column("id", _ID, primary_key=True),
    Column("source_id", _ID, ForeignKey("sources.id"), nullable=False, index=True),
    Column("device", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=False, unique=True),
    Column("unit", Text, nullable=False),
    Column("wh_per_unit", Text, nullable=False),
    Column("modulus", Text, nullable=True),
    Column("resets", Boolean, nullable=False),
    Column("max_apportion_s", Integer, nullable=False),
    Column("state", _V7_JSON, nullable=True),
    UniqueConstraint("source_id", "device", "channel"),
    CheckConstraint("unit IN ('pulse', 'count', 'Wh', 'kWh', 'MWh')", name="unit"),
    CheckConstraint("max_apportion_s > 0", name="max_apportion_positive"),
)
_apportioned_intervals_v9 = Table(
    "apportioned_intervals",
    _V9,
    Column("meter_id", _ID, nullable=False),
    Column("interval_end", UtcDateTime, nullable=False),
    Column("energy_wh", BigInteger, nullable=False),
    PrimaryKeyConstraint("meter_id", "interval_end"),
    sqlite_with_rowid=False,
)


def _real_meters(connection: Connection) -> None:
    """
    Version 9: meters of any make (manufacturer, model, elements, rated voltage and current, all nullable:
    NULL keeps reading a Mini Meter's designation); sources of real readings and their channels
    (``docs/collect.md``); the marks of apportioned raw intervals.
    """
    for ddl in (
        "ALTER TABLE meters ADD COLUMN manufacturer TEXT",
        "ALTER TABLE meters ADD COLUMN model TEXT",
        "ALTER TABLE meters ADD COLUMN elements INTEGER "
        "CONSTRAINT ck_meters_elements CHECK (elements IS NULL OR elements BETWEEN 1 AND 3)",
        "ALTER TABLE meters ADD COLUMN voltage_max_v FLOAT "
        "CONSTRAINT ck_meters_voltage_max_positive CHECK (voltage_max_v IS NULL OR voltage_max_v > 0)",
        "ALTER TABLE meters ADD COLUMN current_max_a FLOAT "
        "CONSTRAINT ck_meters_current_max_positive CHECK (current_max_a IS NULL OR current_max_a > 0)",
    ):
        connection.execute(text(ddl))
    for created in (_sources_v9, _source_channels_v9, _apportioned_intervals_v9):
        created.create(connection)


_V10 = MetaData(naming_convention=METADATA.naming_convention)
_vee_findings_v10 = Table(
    "vee_findings",
    _V10,
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=False),
    Column("interval_end", UtcDateTime, nullable=False),
    Column("check_name", Text, nullable=False),
    Column("reason", Text, nullable=False),
    PrimaryKeyConstraint("meter_id", "interval_end", "check_name"),
    sqlite_with_rowid=False,
)
Table("meters", _V10, Column("id", _ID, primary_key=True))
"""``vee_findings`` as version 10 made it (``meters`` only as the target of its key)."""


def _vee_worklist(connection: Connection) -> None:
    """
    Version 10: the VEE work list (``docs/vee.md``). VEE's findings of the intervals it flags or
    estimates, check and reason in words (``vee_findings``); and which act of a person on the work list
    an audit record is (``interval_edits.action``: accept, edit, re-read; NULL for every earlier record).
    Intervals VEE flagged before this version have no finding until VEE runs over them again.
    """
    connection.execute(
        text(
            "ALTER TABLE interval_edits ADD COLUMN action TEXT CONSTRAINT ck_interval_edits_action "
            "CHECK (action IS NULL OR action IN ('accept', 'edit', 'reread'))"
        )
    )
    _vee_findings_v10.create(connection)


_V11 = MetaData(naming_convention=METADATA.naming_convention)
_V11_JSON = JSON().with_variant(JSONB(), "postgresql")
Table("accounts", _V11, Column("id", _ID, primary_key=True))
_account_tariffs_v11 = Table(
    "account_tariffs",
    _V11,
    Column("id", _ID, primary_key=True),
    Column("account_id", _ID, ForeignKey("accounts.id"), nullable=False),
    Column("effective_from", UtcDateTime, nullable=False),
    Column("document", _V11_JSON, nullable=False),
    Column("label", Text, nullable=True),
    Column("period_names", _V11_JSON, nullable=True),
    Column("name", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("set_by", Text, nullable=True),
    Column("set_at", UtcDateTime, nullable=False),
    CheckConstraint("length(sha256) = 64", name="sha256_length"),
    Index(None, "account_id", "effective_from"),
)
"""``account_tariffs`` as version 11 made it (``accounts`` only as the target of its key)."""


def _account_tariffs(connection: Connection) -> None:
    """
    Version 11: the tariff of each account, from a date on (``account_tariffs``; ``docs/billing.md``,
    "The tariff of an account"). No account has one until it is set: bills name their tariff as before.
    """
    _account_tariffs_v11.create(connection)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial schema: sites, meters, mdts, tenants, accounts, raw_intervals, validated_intervals, "
        "interval_edits, register_reads, events, frame_audit, push_outbox",
        _create_baseline,
    ),
    Migration(2, "api_tokens: hashed API tokens with roles", _add_api_tokens),
    Migration(
        3,
        "compact raw intervals: ingest_batches, raw_intervals keyed (meter_id, interval_end) with derivable "
        "counters left out, raw_interval_revisions; network_reports",
        _compact_raw_intervals,
    ),
    Migration(4, "bills: tenants' bills with the inputs that produced them", _add_bills),
    Migration(
        5,
        "meters' interval length and role; vee_runs (what VEE validated); ingest_formats (saved mappings)",
        _meter_roles_and_lengths,
    ),
    Migration(
        6,
        "meters' data version: raised by every write of a meter's intervals, for readers' caches",
        _meter_data_versions,
    ),
    Migration(
        7,
        "tenancies: units, accounts with numbers, occupancies and their history (tenancy_events); "
        "tenant tokens bound to an account, tokens bound to sites (api_token_sites)",
        _tenancies,
    ),
    Migration(
        8,
        "bills of a site: owner, payment instructions, due days, correction mode; units' floor area and "
        "occupants; meters' register digits and export registers; meter_changes (install, removal, "
        "exchange, multiplier, CT ratio); bill_corrections (issued corrections of bills); tenancy_events "
        "admits unit_updated",
        _meter_life_and_corrections,
    ),
    Migration(
        9,
        "meters of any make: manufacturer, model, elements, rated voltage and current; sources of real "
        "readings (sources, source_channels); apportioned_intervals",
        _real_meters,
    ),
    Migration(
        10,
        "the VEE work list: vee_findings (check and reason of each flagged or estimated interval); "
        "interval_edits.action (a person's accept, edit or re-read request)",
        _vee_worklist,
    ),
    Migration(
        11,
        "account_tariffs: the tariff of each account from a date on (the URDB document as given, the "
        "label chosen, period names, name, SHA-256, who set it and when)",
        _account_tariffs,
    ),
)
"""Every step, in order. Append only; never edit a released step."""

LATEST_VERSION = MIGRATIONS[-1].version
"""The version this code creates and expects."""


def _check_steps() -> None:
    versions = [m.version for m in MIGRATIONS]
    if versions != list(range(1, len(MIGRATIONS) + 1)):
        raise RuntimeError(f"migration versions must be 1, 2, 3 ... without gaps, got {versions}")


_check_steps()


def current_version(connection: Connection) -> int:
    """The schema version of a database: 0 when it has none yet."""
    if not inspect(connection).has_table(schema_version.name):
        return 0
    version = connection.execute(select(func.max(schema_version.c.version))).scalar_one()
    return int(version) if version is not None else 0


def migrate(engine: Engine, *, now: datetime | None = None) -> int:
    """
    Bring a database to :data:`LATEST_VERSION`; idempotent.

    Parameters
    ----------
    engine : Engine
        The writer engine of the database (:func:`meshmeter.store.engine.make_engines`), whose
        transactions are real transactions (``BEGIN IMMEDIATE`` on SQLite).
    now : datetime, optional
        When, recorded in ``schema_version.applied_at``; default now (UTC).

    Returns
    -------
    int
        The version of the database afterwards, :data:`LATEST_VERSION`.

    Raises
    ------
    SchemaVersionError
        When the database is at a version newer than :data:`LATEST_VERSION`; nothing is changed.
    """
    applied_at = now if now is not None else datetime.now(UTC)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        version = current_version(connection)
        if version > LATEST_VERSION:
            raise SchemaVersionError(version, LATEST_VERSION)
        if version == LATEST_VERSION:
            return version
        if version == 0:
            # A new database: build the latest schema at once and record every step as applied.
            _create_baseline(connection)
            done = MIGRATIONS
        else:
            done = MIGRATIONS[version:]
            for step in done:
                step.apply(connection)
        connection.execute(
            insert(schema_version),
            [{"version": m.version, "description": m.description, "applied_at": applied_at} for m in done],
        )
    return LATEST_VERSION
