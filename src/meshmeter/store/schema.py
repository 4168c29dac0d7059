"""The one schema of meshmeter's store: SQLAlchemy Core tables, the same on SQLite and PostgreSQL.

Conventions (``docs/conventions.md``, ``docs/store.md``): energy is integer Wh (``BIGINT``); time is
timezone-aware UTC (:class:`~meshmeter.store.types.UtcDateTime`); an interval is named by its end
(``interval_end``). The measurement tables are keyed by ``meter_id`` first, so that they can be
distributed by meter (Citus-style) when one machine is not enough.

This module describes the schema at the latest version (:data:`meshmeter.store.migrations.LATEST_VERSION`);
the steps that bring an older database to it are in :mod:`meshmeter.store.migrations`.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
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
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from meshmeter.intervals import CUMULATIVE_NONE, IntervalLength, Quality
from meshmeter.store.types import UtcDateTime

__all__ = [
    "API_TOKEN_ROLES",
    "CONSUMPTION_ROLES",
    "CORRECTION_MODES",
    "CUMULATIVE_NONE",
    "ENERGY_UNIT_WH",
    "METADATA",
    "METER_CHANGE_KINDS",
    "METER_ROLES",
    "QUALITY_CODES",
    "READING_UNITS",
    "SITE_BOUND_ROLES",
    "SOURCE_KINDS",
    "TENANCY_EVENT_KINDS",
    "WORKLIST_ACTIONS",
    "account_tariffs",
    "accounts",
    "api_token_sites",
    "api_tokens",
    "apportioned_intervals",
    "bill_corrections",
    "bills",
    "events",
    "frame_audit",
    "ingest_batches",
    "ingest_formats",
    "interval_edits",
    "mdts",
    "meter_changes",
    "meters",
    "network_reports",
    "occupancies",
    "push_outbox",
    "raw_interval_revisions",
    "raw_intervals",
    "register_reads",
    "schema_version",
    "sites",
    "source_channels",
    "sources",
    "tenancy_events",
    "tenants",
    "units",
    "validated_intervals",
    "vee_findings",
    "vee_runs",
]

QUALITY_CODES: dict[int, str] = {int(q): q.text for q in Quality if q is not Quality.DERIVED}
"""ESPI (NAESB REQ.21) ``QualityOfReading`` codes that validated intervals may carry (:class:`Quality`).
Derived (apportioned, 11) is not one: it is what a raw row of a real device is (``apportioned_intervals``),
shown by the validated view where VEE passed the row, never a result of VEE."""

SOURCE_KINDS: tuple[str, ...] = ("mqtt", "modbus_tcp", "modbus_rtu", "rtlamr")
"""How a source of real readings is reached (``docs/collect.md``): an MQTT broker (pulse counters,
rtlamr2mqtt), Modbus over TCP or a serial line (RTU), rtlamr's JSON lines (standard input or a file)."""

ENERGY_UNIT_WH: dict[str, Decimal] = {"Wh": Decimal(1), "kWh": Decimal(1000), "MWh": Decimal(1_000_000)}
"""Energy of one unit of a reading whose unit is an energy [Wh]: a channel in one of these has that energy
per unit; ``pulse`` and ``count`` take the channel's own (``docs/collect.md``)."""

READING_UNITS: tuple[str, ...] = ("pulse", "count", *ENERGY_UNIT_WH)
"""Units of a channel's readings: pulses, a utility register's counts, or an energy
(:data:`ENERGY_UNIT_WH`)."""

CORRECTION_MODES: tuple[str, ...] = ("corrected_bill", "next_bill")
"""How a site issues the correction of a bill whose data changed (schema version 8): as a corrected bill
that references the original, or as adjustment lines on the account's next bill."""

WORKLIST_ACTIONS: tuple[str, ...] = ("accept", "edit", "reread")
"""What a person does to an interval of the VEE work list (schema version 10, ``docs/vee.md``): accept
the value VEE flagged or estimated, edit it, or ask for a re-read; recorded in ``interval_edits.action``."""

METER_ROLES: tuple[str, ...] = ("unit", "house", "production", "master")
"""What a meter measures for its site: a tenant's unit, the house (common areas), production (rooftop
solar, counted apart from consumption), or the utility's master meter of the building."""

CONSUMPTION_ROLES: tuple[str, ...] = ("unit", "house")
"""The roles whose energy is the site's consumption: a production meter's is production, and the master
meter's is the same consumption measured again at the service entrance."""

API_TOKEN_ROLES: tuple[str, ...] = ("admin", "operator", "billing", "read-only", "tenant")
"""The roles an API token may carry (``docs/api.md``); what each may do is decided by ``meshmeter.api``.
A ``tenant`` token is bound to one account (schema version 7)."""

SITE_BOUND_ROLES: tuple[str, ...] = ("operator", "billing", "read-only")
"""The roles whose tokens may be bound to a set of sites (``api_token_sites``); admin tokens never are."""

METADATA = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_ID = BigInteger().with_variant(Integer(), "sqlite")
"""Surrogate keys: BIGINT on PostgreSQL; INTEGER on SQLite, where only that is the rowid alias."""

_JSON = JSON().with_variant(JSONB(), "postgresql")

schema_version = Table(
    "schema_version",
    METADATA,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("applied_at", UtcDateTime, nullable=False),
)

sites = Table(
    "sites",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("timezone", Text, nullable=False, comment="IANA time zone name, e.g. America/Los_Angeles"),
    Column("owner_name", Text, nullable=True, comment="owner or manager, as printed on bills"),
    Column("owner_address", Text, nullable=True, comment="owner's or manager's postal address"),
    Column("payment_instructions", Text, nullable=True, comment="how tenants pay, as printed on bills"),
    Column(
        "due_days",
        Integer,
        nullable=False,
        server_default=text("21"),
        comment="days from a bill's issue to its due date",
    ),
    Column(
        "correction_mode",
        Text,
        nullable=False,
        server_default=text("'corrected_bill'"),
        comment="how corrections of issued bills go out: corrected_bill or next_bill",
    ),
    CheckConstraint("due_days >= 0 AND due_days <= 90", name="due_days"),
    CheckConstraint(
        f"correction_mode IN ({', '.join(repr(m) for m in CORRECTION_MODES)})", name="correction_mode"
    ),
)
"""Sites: a building with its meters, its time zone, and what its bills say and do (``owner_*``,
``payment_instructions``, ``due_days``, ``correction_mode`` since schema version 8)."""

meters = Table(
    "meters",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("serial", Text, nullable=False, unique=True),
    Column("designation", Text, nullable=False, comment="model designation (certificate p.1)"),
    Column("ct_ratio", Float, nullable=False, comment="CT primary / secondary, 200:0.1 A -> 2000"),
    Column("multiplier", Float, nullable=False, comment="register reading to energy"),
    Column("install_date", Date, nullable=True),
    Column("site_id", _ID, ForeignKey("sites.id"), nullable=True, index=True),
    Column(
        "interval_s",
        Integer,
        nullable=False,
        server_default=text("900"),
        comment="the meter's interval length: 300, 900, 1800 or 3600 s",
    ),
    Column(
        "role", Text, nullable=False, server_default=text("'unit'"), comment="unit, house, production, master"
    ),
    Column(
        "data_version",
        BigInteger,
        nullable=False,
        server_default=text("0"),
        comment="raised by every write of the meter's raw or validated intervals or VEE runs",
    ),
    Column(
        "register_digits",
        Integer,
        nullable=True,
        comment="whole-kWh digits of the register: it rolls over to 0 at 10**digits kWh; NULL: never",
    ),
    Column(
        "export_of_meter_id",
        _ID,
        ForeignKey("meters.id"),
        nullable=True,
        comment="this meter row is the export (received) register of that meter; NULL: a meter of its own",
    ),
    Column("manufacturer", Text, nullable=True, comment="NULL: a Mini Meter, its designation says the rest"),
    Column("model", Text, nullable=True, comment="the manufacturer's model name"),
    Column("elements", Integer, nullable=True, comment="measuring elements, 1 to 3; NULL: designation"),
    Column(
        "voltage_max_v", Float, nullable=True, comment="highest rated voltage, L-N [V]; NULL: designation"
    ),
    Column(
        "current_max_a",
        Float,
        nullable=True,
        comment="highest primary current an element measures [A]; NULL: CT ratio x the rated secondary",
    ),
    CheckConstraint("ct_ratio > 0", name="ct_ratio_positive"),
    CheckConstraint("multiplier > 0", name="multiplier_positive"),
    CheckConstraint("elements IS NULL OR elements BETWEEN 1 AND 3", name="elements"),
    CheckConstraint("voltage_max_v IS NULL OR voltage_max_v > 0", name="voltage_max_positive"),
    CheckConstraint("current_max_a IS NULL OR current_max_a > 0", name="current_max_positive"),
    CheckConstraint(f"interval_s IN ({', '.join(str(int(n)) for n in IntervalLength)})", name="interval_s"),
    CheckConstraint(f"role IN ({', '.join(repr(r) for r in METER_ROLES)})", name="role"),
    CheckConstraint("register_digits IS NULL OR register_digits BETWEEN 3 AND 12", name="register_digits"),
    CheckConstraint("export_of_meter_id IS NULL OR export_of_meter_id <> id", name="export_of_other"),
    Index("ix_meters_export_of_meter_id", "export_of_meter_id", unique=True),
)
"""Meters (``interval_s`` and ``role`` since schema version 5, ``data_version`` since 6,
``register_digits`` and ``export_of_meter_id`` since 8): a meter's intervals all have its length; its
role says whether its energy is consumption or production; its data version changes whenever its interval
view may have (readers' caches key on it); its register's digits say where the register rolls over. A
bidirectional meter's export (received) register is a meter row of its own that names it
(``export_of_meter_id``, at most one per meter): its intervals go through ingest and VEE as any meter's,
and bill as the meter's ``export_wh``. What changed in its life (install, removal, exchange, multiplier
or CT ratio) is in :data:`meter_changes`."""

METER_CHANGE_KINDS: tuple[str, ...] = ("install", "remove", "multiplier", "ct_ratio")
"""What a meter's life records (:data:`meter_changes`). An exchange is the old meter's ``remove`` with its
final read and the new meter's ``install`` with its first read, naming the meter it replaces."""

meter_changes = Table(
    "meter_changes",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False, comment="when it took effect"),
    Column("read_wh", BigInteger, nullable=True, comment="the register read at that moment [Wh]"),
    Column("value", Float, nullable=True, comment="the new multiplier or CT ratio from then on"),
    Column("replaces_meter_id", _ID, ForeignKey("meters.id"), nullable=True, comment="install: exchange of"),
    Column("unit_id", _ID, ForeignKey("units.id"), nullable=True, comment="the unit it serves or served"),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("recorded_by", Text, nullable=True, comment="who: a token, the command line, a site file"),
    Column("detail", _JSON, nullable=False),
    CheckConstraint(f"kind IN ({', '.join(repr(k) for k in METER_CHANGE_KINDS)})", name="kind"),
    CheckConstraint("read_wh IS NULL OR read_wh >= 0", name="read_wh_nonnegative"),
    CheckConstraint("value IS NULL OR value > 0", name="value_positive"),
    CheckConstraint("(kind IN ('multiplier', 'ct_ratio')) = (value IS NOT NULL)", name="value_of_kind"),
    Index(None, "meter_id", "at"),
    Index(None, "unit_id", "at"),
)
"""A meter's life (schema version 8), one row per change, never edited: installed (with its first read),
removed (with its final read), exchanged (a ``remove`` and an ``install`` that replaces it), a multiplier
or CT ratio changed from a date on. Bills show the changes of their period."""

mdts = Table(
    "mdts",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("eui64", LargeBinary, nullable=False, unique=True, comment="IEEE EUI-64, 8 bytes"),
    Column("kit", Text, nullable=False, comment="kit designation, e.g. MMSMT-C02 (manual §2.4)"),
    Column("key", LargeBinary, nullable=False, comment="AES-128 key, 16 bytes"),
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=True, index=True),
    CheckConstraint("length(eui64) = 8", name="eui64_length"),
    CheckConstraint("length(key) = 16", name="key_length"),
)

tenants = Table(
    "tenants",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("name", Text, nullable=False),
)

units = Table(
    "units",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("site_id", _ID, ForeignKey("sites.id"), nullable=True, comment="NULL only for a meter of no site"),
    Column("name", Text, nullable=False, comment="apartment, suite: as the operator names it"),
    Column("address", Text, nullable=True, comment="postal address of the unit"),
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=False, index=True),
    Column("floor_area_ft2", Float, nullable=True, comment="floor area, for allocation by area [ft²]"),
    Column("occupants", Integer, nullable=True, comment="people living there, for allocation by occupants"),
    UniqueConstraint("site_id", "name"),
    CheckConstraint("floor_area_ft2 IS NULL OR floor_area_ft2 > 0", name="floor_area_positive"),
    CheckConstraint("occupants IS NULL OR occupants >= 0", name="occupants_nonnegative"),
)
"""The units of a site (schema version 7): a name unique in its site, an address, and the meter that
measures it now (:data:`meter_changes` says which measured it before); its floor area and occupants
(version 8) weigh its share of what no tenant meter measures."""

accounts = Table(
    "accounts",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("number", Text, nullable=False, comment="operator-visible account number, unique per site"),
    Column("site_id", _ID, ForeignKey("sites.id"), nullable=True, index=True),
    Column("tenant_id", _ID, ForeignKey("tenants.id"), nullable=False, index=True),
    Column("opened_at", UtcDateTime, nullable=False),
    Column(
        "closed_at", UtcDateTime, nullable=True, comment="NULL while open; a closed account takes no move-in"
    ),
    UniqueConstraint("site_id", "number"),
)
"""Accounts (reshaped in schema version 7): a tenant's account at a site, under a number the operator
sees, open until closed. Which unit it occupies, and when, is in :data:`occupancies`."""

account_tariffs = Table(
    "account_tariffs",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("account_id", _ID, ForeignKey("accounts.id"), nullable=False),
    Column("effective_from", UtcDateTime, nullable=False, comment="in force from this instant on"),
    Column("document", _JSON, nullable=False, comment="the URDB document exactly as given"),
    Column("label", Text, nullable=True, comment="the URDB label of the rate chosen in the document"),
    Column("period_names", _JSON, nullable=True, comment="{kind: {period: name}} merged into the rate"),
    Column("name", Text, nullable=False, comment="the tariff's name, as bills print it"),
    Column("sha256", Text, nullable=False, comment="SHA-256 of the rate read, hex: as a bill names it"),
    Column("set_by", Text, nullable=True, comment="who: a token, the command line, the demo"),
    Column("set_at", UtcDateTime, nullable=False),
    CheckConstraint("length(sha256) = 64", name="sha256_length"),
    Index(None, "account_id", "effective_from"),
)
"""The tariff of each account, from a date on (schema version 11, ``docs/billing.md``, "The tariff of an
account"): one row per setting, never changed or deleted. The tariff in force at an instant is the row of
the latest ``effective_from`` not after it (of two from the same instant, the one set last)."""

occupancies = Table(
    "occupancies",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("account_id", _ID, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("unit_id", _ID, ForeignKey("units.id"), nullable=False),
    Column("move_in", UtcDateTime, nullable=False),
    Column("move_out", UtcDateTime, nullable=True, comment="NULL while the account stays"),
    CheckConstraint("move_out IS NULL OR move_out > move_in", name="move_out_after_move_in"),
    Index(None, "unit_id", "move_in"),
)
"""An account's tenure of a unit, ``(move_in, move_out]`` (schema version 7): the intervals of the unit's
meter that end in it are the account's. Never deleted; a move-out sets ``move_out`` once."""

TENANCY_EVENT_KINDS: tuple[str, ...] = (
    "tenant_created",
    "unit_created",
    "account_opened",
    "moved_in",
    "moved_out",
    "transferred",
    "account_closed",
    "unit_updated",
)
"""What the history of tenancies records, one row per operation (:data:`tenancy_events`); ``unit_updated``
(version 8): a unit's address, floor area or occupants changed, the values before and after in
``detail``."""

tenancy_events = Table(
    "tenancy_events",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False, comment="when it takes effect"),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("recorded_by", Text, nullable=True, comment="who: a token, the command line, a site file"),
    Column("tenant_id", _ID, ForeignKey("tenants.id"), nullable=True),
    Column("account_id", _ID, ForeignKey("accounts.id"), nullable=True),
    Column("unit_id", _ID, ForeignKey("units.id"), nullable=True),
    Column("occupancy_id", _ID, ForeignKey("occupancies.id"), nullable=True),
    Column("detail", _JSON, nullable=False),
    CheckConstraint(f"kind IN ({', '.join(repr(k) for k in TENANCY_EVENT_KINDS)})", name="kind"),
    Index(None, "account_id", "id"),
    Index(None, "tenant_id"),
)
"""The history of tenants, units, accounts and occupancies (schema version 7): every operation appends a
row; none is changed or deleted."""

ingest_batches = Table(
    "ingest_batches",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("source", Text, nullable=False, comment="dcap, mqtt, http, csv, greenbutton ..."),
    Column("received_at", UtcDateTime, nullable=False),
    UniqueConstraint("source", "received_at"),
)
"""What a delivery of raw intervals shares (schema version 3): where it came from and when, stored once
and referenced by a small id from each of its rows."""

raw_intervals = Table(
    "raw_intervals",
    METADATA,
    Column("meter_id", _ID, nullable=False),
    Column("interval_end", UtcDateTime, nullable=False),
    Column("energy_wh", BigInteger, nullable=False),
    Column(
        "cumulative_wh",
        BigInteger,
        nullable=True,
        comment="counter at the end [Wh]; NULL: the row 15 min before's plus energy_wh; -1: none sent",
    ),
    Column("batch_id", _ID, nullable=False),
    PrimaryKeyConstraint("meter_id", "interval_end"),
    CheckConstraint("energy_wh >= 0", name="energy_wh_nonnegative"),
    CheckConstraint("cumulative_wh IS NULL OR cumulative_wh >= -1", name="cumulative_wh_code"),
    sqlite_with_rowid=False,
)
"""The first value received of each interval (revision 0), never overwritten (schema version 3).

Compact by design (``docs/store.md``): keyed by (meter, end) alone, the delivery's source and time in
:data:`ingest_batches`, and the cumulative counter stored only where it cannot be rebuilt exactly: NULL
means "the counter of this meter's row ending 15 minutes earlier, which was stored before this one, plus
``energy_wh``". A row ending at UTC midnight always carries its counter, so a counter is rebuilt from at
most one day of rows.

No foreign keys, on purpose: the store writes this table only after checking the meter under its lock and
making the batch in the same transaction, and PostgreSQL checks a foreign key with a trigger per row,
which made ``COPY`` into the table about ten times slower (``docs/store.md``)."""

raw_interval_revisions = Table(
    "raw_interval_revisions",
    METADATA,
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=False),
    Column("interval_end", UtcDateTime, nullable=False),
    Column("revision", SmallInteger, nullable=False, comment="1, 2 ... in the order received"),
    Column("energy_wh", BigInteger, nullable=False),
    Column("cumulative_wh", BigInteger, nullable=True, comment="NULL: none sent"),
    Column("batch_id", _ID, ForeignKey("ingest_batches.id"), nullable=False),
    PrimaryKeyConstraint("meter_id", "interval_end", "revision"),
    CheckConstraint("energy_wh >= 0", name="energy_wh_nonnegative"),
    CheckConstraint("cumulative_wh IS NULL OR cumulative_wh >= 0", name="cumulative_wh_nonnegative"),
    CheckConstraint("revision >= 1", name="revision_positive"),
    sqlite_with_rowid=False,
)
"""Later values of an interval that conflicted with every value stored for it (schema version 3)."""

validated_intervals = Table(
    "validated_intervals",
    METADATA,
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=False),
    Column("interval_end", UtcDateTime, nullable=False),
    Column("energy_wh", BigInteger, nullable=False),
    Column("quality", SmallInteger, nullable=False, comment="ESPI QualityOfReading"),
    PrimaryKeyConstraint("meter_id", "interval_end"),
    CheckConstraint("energy_wh >= 0", name="energy_wh_nonnegative"),
    CheckConstraint(f"quality IN ({', '.join(str(q) for q in QUALITY_CODES)})", name="quality_code"),
    sqlite_with_rowid=False,
)

interval_edits = Table(
    "interval_edits",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=False),
    Column("interval_end", UtcDateTime, nullable=False),
    Column("old_energy_wh", BigInteger, nullable=True, comment="validated, else latest raw, else NULL"),
    Column("old_quality", SmallInteger, nullable=True),
    Column("new_energy_wh", BigInteger, nullable=False),
    Column("new_quality", SmallInteger, nullable=False),
    Column("edited_by", Text, nullable=False),
    Column("edited_at", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column(
        "action",
        Text,
        CheckConstraint(
            f"action IS NULL OR action IN ({', '.join(repr(a) for a in WORKLIST_ACTIONS)})", name="action"
        ),
        nullable=True,
        comment="a person's act on the VEE work list (schema version 10); NULL for VEE and other edits",
    ),
    Index(None, "meter_id", "interval_end"),
)

vee_findings = Table(
    "vee_findings",
    METADATA,
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=False),
    Column("interval_end", UtcDateTime, nullable=False),
    Column("check_name", Text, nullable=False, comment="the check's name (headend.vee.CHECKS)"),
    Column("reason", Text, nullable=False, comment="why, in words"),
    PrimaryKeyConstraint("meter_id", "interval_end", "check_name"),
    sqlite_with_rowid=False,
)

register_reads = Table(
    "register_reads",
    METADATA,
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=False),
    Column("read_at", UtcDateTime, nullable=False),
    Column("energy_wh", BigInteger, nullable=False),
    PrimaryKeyConstraint("meter_id", "read_at"),
    CheckConstraint("energy_wh >= 0", name="energy_wh_nonnegative"),
    sqlite_with_rowid=False,
)

events = Table(
    "events",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("kind", Text, nullable=False, comment="tamper, reverse_phase, comm_loss, low_battery ..."),
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=True),
    Column("eui64", LargeBinary, nullable=True, comment="the device, when not (only) a meter"),
    Column("at", UtcDateTime, nullable=False),
    Column("detail", _JSON, nullable=False),
    Index(None, "meter_id", "at"),
    Index(None, "kind", "at"),
)

frame_audit = Table(
    "frame_audit",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("eui64", LargeBinary, nullable=False),
    Column("frame_counter", BigInteger, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("accepted", Boolean, nullable=False),
    Column("reason", Text, nullable=True, comment="why refused: bad_mic, replay, malformed ..."),
    Index(None, "eui64", "frame_counter"),
    CheckConstraint("length(eui64) = 8", name="eui64_length"),
)

push_outbox = Table(
    "push_outbox",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("channel", Text, nullable=False, comment="mqtt, webhook ..."),
    Column("idempotency_key", Text, nullable=False, unique=True),
    Column("payload", _JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Index(
        "ix_push_outbox_pending",
        "next_attempt_at",
        sqlite_where=text("delivered_at IS NULL"),
        postgresql_where=text("delivered_at IS NULL"),
    ),
)

api_tokens = Table(
    "api_tokens",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("token_hash", LargeBinary, nullable=False, unique=True, comment="SHA-256 of the token, 32 bytes"),
    Column("prefix", Text, nullable=False, comment="first characters of the token, to recognise it"),
    Column("role", Text, nullable=False),
    Column("label", Text, nullable=True, comment="who or what holds it"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("account_id", _ID, ForeignKey("accounts.id"), nullable=True, comment="a tenant token's account"),
    CheckConstraint("length(token_hash) = 32", name="token_hash_length"),
    CheckConstraint(f"role IN ({', '.join(repr(r) for r in API_TOKEN_ROLES)})", name="role"),
    CheckConstraint(
        "(role = 'tenant' AND account_id IS NOT NULL) OR (role <> 'tenant' AND account_id IS NULL)",
        name="tenant_account",
    ),
)
"""API tokens (schema version 2): only a hash of each token is kept; the token is shown once, at creation.
Since version 7 a ``tenant`` token names its account (and only it does)."""

api_token_sites = Table(
    "api_token_sites",
    METADATA,
    Column("token_id", _ID, ForeignKey("api_tokens.id"), nullable=False),
    Column("site_id", _ID, ForeignKey("sites.id"), nullable=False),
    PrimaryKeyConstraint("token_id", "site_id"),
)
"""The sites an operator, billing or read-only token is bound to (schema version 7); a token with no row
here sees every site."""

network_reports = Table(
    "network_reports",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("site_id", _ID, ForeignKey("sites.id"), nullable=False),
    Column("taken_at", UtcDateTime, nullable=False),
    Column("report", _JSON, nullable=False, comment="the CIT report (manual §5.2) as JSON"),
    Index(None, "site_id", "taken_at"),
)
"""Health reports of a site's radio network (schema version 3): the CIT report of the simulated network,
or of the DCAP, as JSON."""

bills = Table(
    "bills",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("site_id", _ID, ForeignKey("sites.id"), nullable=True),
    Column("account_id", _ID, ForeignKey("accounts.id"), nullable=True, comment="the store's account"),
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=True),
    Column("account", Text, nullable=False, comment="the account as printed on the bill"),
    Column("meter", Text, nullable=False, comment="the meter's serial as printed on the bill"),
    Column("period_start", UtcDateTime, nullable=False),
    Column("period_end", UtcDateTime, nullable=False),
    Column("timezone", Text, nullable=False, comment="IANA time zone of the tariff's local time"),
    Column("mode", Text, nullable=False),
    Column("tariff_name", Text, nullable=False),
    Column("tariff_sha256", Text, nullable=False, comment="SHA-256 of the tariff document, hex"),
    Column("engine_version", Text, nullable=False),
    Column("energy_wh", BigInteger, nullable=False),
    Column("total", Text, nullable=False, comment="exact total of the lines, decimal text [USD]"),
    Column("printed_total_cents", BigInteger, nullable=False, comment="total of the printed lines [cent]"),
    Column("figures", _JSON, nullable=False, comment="the bill's other members (energy by period ...)"),
    Column("lines", _JSON, nullable=False, comment="the itemised charges"),
    Column("inputs", _JSON, nullable=False, comment="what produced it: tariff, intervals, reads ..."),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("account", "meter", "period_start", "period_end", "tariff_sha256"),
    CheckConstraint("period_end > period_start", name="period"),
    CheckConstraint("length(tariff_sha256) = 64", name="tariff_sha256_length"),
    CheckConstraint("mode IN ('california', 'maryland')", name="mode"),
    Index(None, "site_id", "period_start"),
    Index(None, "account_id"),
)
"""Tenants' bills with the inputs that produced them (schema version 4): re-billing a stored bill gives it
exactly (``meshmeter.billing.verify_bill``); one per account, meter, period and tariff."""

bill_corrections = Table(
    "bill_corrections",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("bill_id", _ID, ForeignKey("bills.id"), nullable=False, comment="the issued bill it corrects"),
    Column("sequence", SmallInteger, nullable=False, comment="1, 2 ... per bill, in the order issued"),
    Column("mode", Text, nullable=False, comment="corrected_bill or next_bill"),
    Column("reason", Text, nullable=False, comment="what changed under the bill, in words"),
    Column("difference", Text, nullable=False, comment="printed total now less before, decimal text [USD]"),
    Column("document", _JSON, nullable=False, comment="the corrected bill with its inputs"),
    Column("lines", _JSON, nullable=False, comment="the adjustment lines (printed-cent differences)"),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("issued_by", Text, nullable=True),
    Column(
        "applied_bill_id",
        _ID,
        ForeignKey("bills.id"),
        nullable=True,
        comment="next_bill: the account's bill that carries the lines; NULL until it is issued",
    ),
    UniqueConstraint("bill_id", "sequence"),
    CheckConstraint("sequence >= 1", name="sequence_positive"),
    CheckConstraint(f"mode IN ({', '.join(repr(m) for m in CORRECTION_MODES)})", name="mode"),
    Index(None, "applied_bill_id"),
)
"""Corrections of issued bills (schema version 8). An issued bill never changes: when the data under it
does, the correction is kept here beside it, with the corrected bill and the adjustment lines, and goes
out as a corrected bill referencing the original or as lines on the account's next bill (the site's
``correction_mode`` at the time of issue)."""

vee_runs = Table(
    "vee_runs",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=False),
    Column("period_start", UtcDateTime, nullable=False),
    Column("period_end", UtcDateTime, nullable=False),
    Column("batch_watermark", BigInteger, nullable=False, comment="highest ingest_batches.id VEE had seen"),
    Column("ran_by", Text, nullable=False),
    Column("ran_at", UtcDateTime, nullable=False),
    CheckConstraint("period_end > period_start", name="period"),
    Index(None, "meter_id", "period_end"),
)
"""What VEE has validated (schema version 5): a raw interval of the meter ending in
``(period_start, period_end]`` and delivered in a batch up to ``batch_watermark`` passed VEE, unless VEE
stored a validated row for it. The validated view (:meth:`meshmeter.store.Store.interval_view`) reads it so
that an interval VEE passed is valid (quality 0) with no copy of it stored, and data that arrived after the
run is shown as raw (14) until VEE runs again."""

ingest_formats = Table(
    "ingest_formats",
    METADATA,
    Column("name", Text, primary_key=True),
    Column("mapping", _JSON, nullable=False, comment="how to read one billing service's files"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
"""Saved ingest mappings by name (schema version 5): ``meshmeter ingest --format NAME``,
``POST /intervals?format=NAME`` and the MQTT ingestor read an operator's own files with them
(``docs/ingest.md``)."""

sources = Table(
    "sources",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("site_id", _ID, ForeignKey("sites.id"), nullable=False, index=True),
    Column("name", Text, nullable=False, comment="unique within the site"),
    Column("kind", Text, nullable=False, comment="mqtt, modbus_tcp, modbus_rtu, rtlamr"),
    Column("format", Text, nullable=False, comment="payload format or register map"),
    Column("address", Text, nullable=False, comment="broker URL, host:port, serial port, file or '-'"),
    Column("settings", _JSON, nullable=False, comment="what the kind adds: unit id, baud, poll period ..."),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_reading_at", UtcDateTime, nullable=True, comment="the last reading taken"),
    Column("last_error", Text, nullable=True),
    Column("last_error_at", UtcDateTime, nullable=True),
    Column("readings", BigInteger, nullable=False, server_default=text("0"), comment="readings taken"),
    Column("rejected", _JSON, nullable=False, comment="readings and messages refused, by reason"),
    UniqueConstraint("site_id", "name"),
    CheckConstraint(f"kind IN ({', '.join(repr(k) for k in SOURCE_KINDS)})", name="kind"),
)
"""Sources of real readings of a site (schema version 9, ``docs/collect.md``): how each is reached, and its
health as the collector last wrote it."""

source_channels = Table(
    "source_channels",
    METADATA,
    Column("id", _ID, primary_key=True),
    Column("source_id", _ID, ForeignKey("sources.id"), nullable=False, index=True),
    Column("device", Text, nullable=False, comment="the device's ID as the source names it"),
    Column("channel", Text, nullable=False, comment="the register on the device"),
    Column("meter_id", _ID, ForeignKey("meters.id"), nullable=False, unique=True),
    Column("unit", Text, nullable=False, comment="pulse, count, Wh, kWh, MWh"),
    Column("wh_per_unit", Text, nullable=False, comment="energy of one unit, a decimal [Wh]"),
    Column("modulus", Text, nullable=True, comment="the register rolls over at this many units; NULL: never"),
    Column("resets", Boolean, nullable=False, comment="a drop is a restart at 0 (pulse counters)"),
    Column("max_apportion_s", Integer, nullable=False, comment="longest time apportioned over [s]"),
    Column("state", _JSON, nullable=True, comment="the channel's durable position; NULL before a reading"),
    UniqueConstraint("source_id", "device", "channel"),
    CheckConstraint(f"unit IN ({', '.join(repr(u) for u in READING_UNITS)})", name="unit"),
    CheckConstraint("max_apportion_s > 0", name="max_apportion_positive"),
)
"""One register of a source's device mapped to one meter row, and where its readings stand (version 9)."""

apportioned_intervals = Table(
    "apportioned_intervals",
    METADATA,
    Column("meter_id", _ID, nullable=False),
    Column("interval_end", UtcDateTime, nullable=False),
    Column("energy_wh", BigInteger, nullable=False, comment="the apportioned value stored as raw"),
    PrimaryKeyConstraint("meter_id", "interval_end"),
    sqlite_with_rowid=False,
)
"""Raw intervals of real devices whose energy was apportioned between readings (version 9): the view
gives them quality derived (11) while the raw row still holds this value."""
