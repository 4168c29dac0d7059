"""Databases as older versions of the schema made them, to test the migrations that bring them forward.

The tables that versions 1 and 2 had are taken from today's METADATA, except those that version 3
changed or added: ``raw_intervals`` is written out here as versions 1 and 2 had it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    ForeignKey,
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
LATER_TABLES = frozenset({"bills", "vee_runs", "ingest_formats"})
"""Tables that versions after 3 added: none of the legacy versions has them."""


def legacy_metadata(version: int) -> MetaData:
    """The schema at ``version`` 1 or 2."""
    if version not in (1, 2):
        raise ValueError(f"version must be 1 or 2, got {version!r}")
    old = MetaData(naming_convention=METADATA.naming_convention)
    for table in METADATA.sorted_tables:
        if table.name in V3_TABLES | LATER_TABLES or (version == 1 and table.name == "api_tokens"):
            continue
        if table.name == "meters":  # version 5 added interval_s and role, version 6 data_version
            Table(
                "meters",
                old,
                *(c._copy() for c in table.columns if c.name not in ("interval_s", "role", "data_version")),
                CheckConstraint("ct_ratio > 0", name="ct_ratio_positive"),
                CheckConstraint("multiplier > 0", name="multiplier_positive"),
            )
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
