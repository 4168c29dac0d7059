"""Durable storage: one schema, SQLite (embedded default) and PostgreSQL backends (``docs/store.md``).

Only this package speaks SQL. Open a :class:`Store` (it migrates the schema) and use its keyword-only
methods::

    from meshmeter.store import Store

    store = Store("sqlite:///meshmeter.db")  # or $MESHMETER_DATABASE_URL, or postgresql://...
    meter = store.create_meter(serial="A1", designation="...", ct_ratio=2000)
    store.insert_raw_intervals(meter_id=meter.id, rows=[(end, 120, 45_670)], source="dcap")
"""

from __future__ import annotations

from meshmeter.store.bills import CorrectionConflictError
from meshmeter.store.engine import DEFAULT_DATABASE_URL, ENV_DATABASE_URL, Engines, database_url, make_engines
from meshmeter.store.migrations import LATEST_VERSION, MIGRATIONS, Migration, SchemaVersionError, migrate
from meshmeter.store.models import (
    Account,
    ApiToken,
    Event,
    FrameAudit,
    IntervalEdit,
    Mdt,
    Meter,
    MeterChange,
    NetworkReport,
    Occupancy,
    OutboxMessage,
    RawInsertResult,
    RawInterval,
    RawIntervalIn,
    RegisterRead,
    Site,
    StoredCorrection,
    TenancyEvent,
    Tenant,
    Unit,
    ValidatedInterval,
    ValidatedIntervalIn,
    VeeFinding,
)
from meshmeter.store.repository import BillConflictError, Store, StoredBill, UnknownMeterError
from meshmeter.store.schema import (
    API_TOKEN_ROLES,
    CONSUMPTION_ROLES,
    CUMULATIVE_NONE,
    METADATA,
    METER_ROLES,
    QUALITY_CODES,
    SITE_BOUND_ROLES,
    TENANCY_EVENT_KINDS,
)
from meshmeter.store.sources import CollectedRows, Source, SourceChannel
from meshmeter.store.tariffs import AccountTariff

__all__ = [
    "API_TOKEN_ROLES",
    "CONSUMPTION_ROLES",
    "CUMULATIVE_NONE",
    "DEFAULT_DATABASE_URL",
    "ENV_DATABASE_URL",
    "LATEST_VERSION",
    "METADATA",
    "METER_ROLES",
    "MIGRATIONS",
    "QUALITY_CODES",
    "SITE_BOUND_ROLES",
    "TENANCY_EVENT_KINDS",
    "Account",
    "AccountTariff",
    "ApiToken",
    "BillConflictError",
    "CollectedRows",
    "CorrectionConflictError",
    "Engines",
    "Event",
    "FrameAudit",
    "IntervalEdit",
    "Mdt",
    "Meter",
    "MeterChange",
    "Migration",
    "NetworkReport",
    "Occupancy",
    "OutboxMessage",
    "RawInsertResult",
    "RawInterval",
    "RawIntervalIn",
    "RegisterRead",
    "SchemaVersionError",
    "Site",
    "Source",
    "SourceChannel",
    "Store",
    "StoredBill",
    "StoredCorrection",
    "TenancyEvent",
    "Tenant",
    "Unit",
    "UnknownMeterError",
    "ValidatedInterval",
    "ValidatedIntervalIn",
    "VeeFinding",
    "database_url",
    "make_engines",
    "migrate",
]
