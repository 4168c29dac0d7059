"""Databases as older versions of the schema made them, to test the migrations that bring them forward.

The tables that versions 1 and 2 had are taken from today's METADATA, except those that later versions
changed or added: ``raw_intervals`` (version 3), ``meters`` (versions 5, 6, 8 and 9), ``accounts`` and
``api_tokens`` (version 7), ``sites`` (version 8) and ``interval_edits`` (version 10) are written out here
as versions 1 and 2 had them.
A database at a later version is one at version 2 brought forward by the released steps
(:func:`create_at_version`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
)

from meshmeter.store.migrations import MIGRATIONS
from meshmeter.store.schema import _ID, METADATA
from meshmeter.store.types import UtcDateTime

V3_TABLES = frozenset({"ingest_batches", "raw_intervals", "raw_interval_revisions", "network_reports"})
LATER_TABLES = frozenset(
    {
        "bills",
        "vee_runs",
        "ingest_formats",
        "units",
        "occupancies",
        "tenancy_events",
        "api_token_sites",
        "meter_changes",
        "bill_corrections",
        "sources",
        "source_channels",
        "apportioned_intervals",
        "vee_findings",
        "account_tariffs",
    }
)
"""Tables that versions after 3 added: none of the legacy versions has them."""


def legacy_metadata(version: int) -> MetaData:
    """The schema at ``version`` 1 or 2."""
    if version not in (1, 2):
        raise ValueError(f"version must be 1 or 2, got {version!r}")
    old = MetaData(naming_convention=METADATA.naming_convention)
    for table in METADATA.sorted_tables:
        if table.name in V3_TABLES | LATER_TABLES or (version == 1 and table.name == "api_tokens"):
            continue
        if table.name == "sites":  # version 8 added what a site's bills say and do
            Table("sites", old, *(c._copy() for c in table.columns if c.name in ("id", "name", "timezone")))
            continue
        if table.name == "meters":  # version 5 added interval_s and role, 6 data_version, 8 the rest
            later = (
                *("interval_s", "role", "data_version", "register_digits", "export_of_meter_id"),
                *("manufacturer", "model", "elements", "voltage_max_v", "current_max_a"),  # version 9
            )
            Table(
                "meters",
                old,
                *(c._copy() for c in table.columns if c.name not in later),
                CheckConstraint("ct_ratio > 0", name="ct_ratio_positive"),
                CheckConstraint("multiplier > 0", name="multiplier_positive"),
            )
            continue
        if table.name == "accounts":  # version 7 reshaped it into accounts, units and occupancies
            Table(
                "accounts",
                old,
                Column("id", _ID, primary_key=True),
                Column("tenant_id", _ID, ForeignKey("tenants.id"), nullable=False, index=True),
                Column("meter_id", _ID, ForeignKey("meters.id"), nullable=False, index=True),
                Column("unit", Text, nullable=False),
                Column("move_in", UtcDateTime, nullable=False),
                Column("move_out", UtcDateTime, nullable=True),
                CheckConstraint("move_out IS NULL OR move_out > move_in", name="move_out_after_move_in"),
            )
            continue
        if table.name == "api_tokens":  # version 7 added account_id and the tenant role
            Table(
                "api_tokens",
                old,
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
            continue
        if table.name == "interval_edits":  # version 10 added action (the VEE work list)
            edits = Table("interval_edits", old, *(c._copy() for c in table.columns if c.name != "action"))
            Index(None, edits.c.meter_id, edits.c.interval_end)
            continue
        table.to_metadata(old)
    Table(
        "raw_intervals",
        old,
        Column("meter_id", _ID, ForeignKey("meters.id"), nullable=False),
        Column("interval_end", UtcDateTime, nullable=False),
        Column("revision", SmallInteger, nullable=False),
        Column("energy_wh", BigInteger, nullable=False),
        Column("cumulative_wh", BigInteger, nullable=True),
        Column("source", Text, nullable=False),
        Column("received_at", UtcDateTime, nullable=False),
        PrimaryKeyConstraint("meter_id", "interval_end", "revision"),
        CheckConstraint("energy_wh >= 0", name="energy_wh_nonnegative"),
        CheckConstraint("cumulative_wh IS NULL OR cumulative_wh >= 0", name="cumulative_wh_nonnegative"),
        CheckConstraint("revision >= 0", name="revision_nonnegative"),
        sqlite_with_rowid=False,
    )
    return old


def create_legacy(connection: Connection, version: int) -> MetaData:
    """Drop every table of today's schema, build the schema at ``version`` and stamp it; returns it."""
    old = legacy_metadata(version)
    for table in reversed(METADATA.sorted_tables):
        table.drop(connection, checkfirst=True)
    old.create_all(connection)
    connection.execute(
        old.tables["schema_version"].insert(),
        [
            {"version": m.version, "description": m.description, "applied_at": datetime.now(UTC)}
            for m in MIGRATIONS[:version]
        ],
    )
    return old


def create_at_version(connection: Connection, version: int) -> None:
    """Drop every table of today's schema and build the schema at ``version`` (2 .. latest - 1) as the
    released steps made it: version 2's tables, then steps 3 .. ``version``, stamped."""
    if not 2 <= version < len(MIGRATIONS):
        raise ValueError(f"version must be from 2 to {len(MIGRATIONS) - 1}, got {version!r}")
    old = create_legacy(connection, 2)
    for step in MIGRATIONS[2:version]:
        step.apply(connection)
    connection.execute(
        old.tables["schema_version"].insert(),
        [
            {"version": m.version, "description": m.description, "applied_at": datetime.now(UTC)}
            for m in MIGRATIONS[2:version]
        ],
    )
