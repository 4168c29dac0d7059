"""Versioned migrations: idempotent, refuse a database newer than the code, build the whole schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, inspect, select

from meshmeter.errors import TenancyError
from meshmeter.store import (
    LATEST_VERSION,
    METADATA,
    MIGRATIONS,
    RawInterval,
    SchemaVersionError,
    Store,
    make_engines,
    migrate,
)
from meshmeter.store.migrations import _accounts_v6, _api_tokens_v6, _tenancy_events_v7, current_version
from meshmeter.store.schema import schema_version
from meshmeter.store.tokens import hash_api_token
from tests.api.test_bills import make_bill
from tests.store.legacy import create_at_version, create_legacy


@pytest.fixture
def engines(store_url):
    made = make_engines(store_url)
    try:
        yield made
    finally:
        made.dispose()


def _snapshot(engine):
    with engine.connect() as c:
        inspector = inspect(c)
        tables = {
            name: sorted(col["name"] for col in inspector.get_columns(name))
            for name in inspector.get_table_names()
        }
        versions = c.execute(select(schema_version).order_by(schema_version.c.version)).all()
    return tables, versions


def test_fresh_database_is_at_version_zero(engines):
    with engines.writer.connect() as c:
        assert current_version(c) == 0


def test_migrate_creates_every_table_of_the_metadata(engines):
    assert migrate(engines.writer) == LATEST_VERSION
    tables, versions = _snapshot(engines.writer)
    assert set(tables) == set(METADATA.tables)
    for name, table in METADATA.tables.items():
        assert tables[name] == sorted(table.columns.keys()), name
    assert [row.version for row in versions] == [m.version for m in MIGRATIONS]


def test_migrate_twice_changes_nothing(engines):
    first = migrate(engines.writer, now=datetime(2024, 1, 1, tzinfo=UTC))
    before = _snapshot(engines.writer)
    second = migrate(engines.writer, now=datetime(2025, 1, 1, tzinfo=UTC))
    assert first == second == LATEST_VERSION
    assert _snapshot(engines.writer) == before


def test_database_newer_than_code_is_refused(engines):
    migrate(engines.writer)
    newer = LATEST_VERSION + 1
    with engines.writer.begin() as c:
        c.execute(
            insert(schema_version).values(
                version=newer, description="from the future", applied_at=datetime.now(UTC)
            )
        )
    with pytest.raises(SchemaVersionError, match=rf"version {newer}.*version {LATEST_VERSION}") as info:
        migrate(engines.writer)
    assert info.value.database_version == newer
    assert info.value.code_version == LATEST_VERSION
    with engines.writer.connect() as c:
        assert current_version(c) == newer


def test_migration_from_version_2_carries_raw_intervals_forward(durable_store_url):
    """A v2 database's raw intervals, revisions, sources and counters read back the same after v3."""
    store_url = durable_store_url  # the database must outlive the engines that built it
    q = timedelta(minutes=15)
    t0 = datetime(2026, 1, 4, 23, 0, tzinfo=UTC)  # eight intervals across UTC midnight
    received = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    later = datetime(2026, 1, 6, 8, 0, tzinfo=UTC)
    rows = [
        {
            "meter_id": 7,
            "interval_end": t0 + k * q,
            "revision": 0,
            "energy_wh": 20 + k,
            "cumulative_wh": 1000 + 21 * k,
            "source": "dcap",
            "received_at": received,
        }
        for k in range(1, 9)
    ]
    # a revision from a CSV file, and an interval without a counter
    rows.append({**rows[2], "revision": 1, "energy_wh": 99, "cumulative_wh": None, "source": "csv"})
    rows[-1]["received_at"] = later
    noon = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    rows.append({**rows[0], "interval_end": noon, "energy_wh": 5, "cumulative_wh": None, "source": "http"})
    engines = make_engines(store_url)
    try:
        with engines.writer.begin() as c:
            old = create_legacy(c, 2)
            c.execute(
                old.tables["meters"]
                .insert()
                .values(id=7, serial="M7", designation="d", ct_ratio=2000, multiplier=1)
            )
            c.execute(old.tables["raw_intervals"].insert(), rows)
        assert migrate(engines.writer) == LATEST_VERSION
    finally:
        engines.dispose()
    store = Store(store_url)
    try:
        day0, day2 = datetime(2026, 1, 4, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC)
        got = store.raw_intervals(meter_id=7, start=day0, end=day2, all_revisions=True)
        expected = sorted(
            (
                RawInterval(
                    7,
                    r["interval_end"],
                    r["revision"],
                    r["energy_wh"],
                    r["cumulative_wh"],
                    r["source"],
                    r["received_at"],
                )
                for r in rows
            ),
            key=lambda r: (r.interval_end, r.revision),
        )
        assert got == expected
        latest = store.raw_intervals(meter_id=7, start=t0 + 2 * q, end=t0 + 3 * q)
        assert [(r.revision, r.energy_wh, r.source) for r in latest] == [(1, 99, "csv")]
        # new data continues the migrated rows: its counter is derived from theirs
        nxt = t0 + 9 * q
        assert (
            store.insert_raw_intervals(meter_id=7, rows=[(nxt, 30, 1000 + 21 * 8 + 30)], source="dcap") == 1
        )
        assert store.raw_intervals(meter_id=7, start=t0, end=nxt)[-1].cumulative_wh == 1000 + 21 * 8 + 30
    finally:
        store.close()


def test_migration_from_version_6_reshapes_accounts_keeping_bills_and_tokens(durable_store_url):
    """Version 6's accounts (a tenant in a unit of a meter, move-in to move-out) become units, accounts
    under the same ids (bills still point at them), occupancies and their history; tokens keep their roles."""
    t0 = datetime(2024, 1, 1, 8, tzinfo=UTC)
    day = timedelta(days=1)
    engines = make_engines(durable_store_url)
    try:
        with engines.writer.begin() as c:
            create_at_version(c, 6)
            m = METADATA.tables
            c.execute(
                insert(m["sites"]),
                [
                    {"id": 1, "name": "Oak", "timezone": "America/Los_Angeles"},
                    {"id": 2, "name": "Elm", "timezone": "UTC"},
                ],
            )
            c.execute(
                insert(m["meters"]),
                [
                    {
                        "id": i,
                        "serial": s,
                        "designation": "MM",
                        "ct_ratio": 2000.0,
                        "multiplier": 1.0,
                        "site_id": site,
                    }
                    for i, s, site in ((1, "M1", 1), (2, "M2", 1), (3, "E1", 2), (4, "LOOSE", None))
                ],
            )
            c.execute(insert(m["tenants"]), [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Ben"}])
            rows = [  # the accounts of version 6: a tenant in a unit of a meter, move-in to move-out
                (1, 1, "1A", t0, t0 + 30 * day),
                (2, 1, "1A", t0 + 30 * day, None),
                (2, 2, "1A", t0, None),  # another meter's unit of the same name at the site
                (1, 3, "9", t0, None),
                (1, 4, "shed", t0, None),
            ]
            for r in rows:  # ids 1 .. 5 from the table's own sequence, as version 6 made them
                c.execute(
                    insert(_accounts_v6),
                    dict(zip(("tenant_id", "meter_id", "unit", "move_in", "move_out"), r, strict=True)),
                )
            c.execute(
                insert(_api_tokens_v6).values(
                    token_hash=hash_api_token("mm_old"),
                    prefix="mm_abcdef",
                    role="billing",
                    label="svc",
                    created_at=t0,
                )
            )
        store = Store(durable_store_url, migrate=False)
        try:
            bill, _ = store.save_bill(
                document=make_bill("Ben", "M1").to_dict(), site_id=1, account_id=2, meter_id=1
            )
        finally:
            store.close()
        assert migrate(engines.writer) == LATEST_VERSION
    finally:
        engines.dispose()
    store = Store(durable_store_url)
    try:
        accounts = {a.id: a for a in store.accounts()}
        assert [(a.id, a.number, a.site_id, a.tenant_id) for a in accounts.values()] == [
            (1, "1001", 1, 1),
            (2, "1002", 1, 2),
            (3, "1003", 1, 2),
            (4, "1001", 2, 1),
            (5, "1001", None, 1),
        ]
        assert (accounts[1].opened_at, accounts[1].closed_at) == (t0, t0 + 30 * day)
        assert accounts[2].closed_at is None
        assert [(u.site_id, u.name, u.meter_id) for u in store.units()] == [
            (1, "1A", 1),
            (1, "1A (M2)", 2),
            (2, "9", 3),
            (None, "shed", 4),
        ]
        assert [(o.account_id, o.unit, o.move_in, o.move_out) for o in store.occupancies(meter_id=1)] == [
            (1, "1A", t0, t0 + 30 * day),
            (2, "1A", t0 + 30 * day, None),
        ]
        assert [e.kind for e in store.account_history(account_id=1)] == [
            "account_opened",
            "moved_in",
            "moved_out",
            "account_closed",
        ]
        assert {e.recorded_by for e in store.tenancy_history()} == {"migration to schema version 7"}
        # the stored bill still names its account; new rows follow the migrated ones
        assert store.get_bill(bill.id).account_id == 2
        assert store.list_bills(account_id=2)[0].id == bill.id
        fresh = store.open_account(tenant_id=1, site_id=1)
        assert (fresh.id, fresh.number) == (6, "1004")
        with pytest.raises(TenancyError, match="occupied"):
            store.move_in(account_id=fresh.id, unit_id=store.units()[0].id, at=t0 + 40 * day)
        token = store.find_api_token(token="mm_old")
        assert (token.role, token.label, token.account_id, token.site_ids) == ("billing", "svc", None, ())
        tenant_token, _ = store.create_api_token(role="tenant", account_id=2)
        assert tenant_token.account_id == 2
    finally:
        store.close()


def test_migration_from_version_7_keeps_what_sites_units_and_meters_did(durable_store_url):
    """Version 8 adds what a site's bills say and do, units' floor area and occupants and meters'
    register digits with values that keep version 7's behaviour, and the two tables of meter life and
    issued corrections, empty."""
    engines = make_engines(durable_store_url)
    try:
        with engines.writer.begin() as c:
            create_at_version(c, 7)
            c.exec_driver_sql("INSERT INTO sites (id, name, timezone) VALUES (1, 'Oak', 'America/Denver')")
            c.exec_driver_sql(
                "INSERT INTO meters (id, serial, designation, ct_ratio, multiplier, site_id) "
                "VALUES (1, 'M1', 'MM', 2000.0, 1.0, 1)"
            )
            c.exec_driver_sql("INSERT INTO units (id, site_id, name, meter_id) VALUES (1, 1, '1A', 1)")
        assert migrate(engines.writer) == LATEST_VERSION
    finally:
        engines.dispose()
    store = Store(durable_store_url)
    try:
        (site,) = store.sites()
        assert (site.owner_name, site.payment_instructions, site.due_days, site.correction_mode) == (
            None,
            None,
            21,
            "corrected_bill",
        )
        assert store.get_meter(serial="M1").register_digits is None
        (unit,) = store.units()
        assert (unit.floor_area_ft2, unit.occupants) == (None, None)
        changed = store.update_site(site_id=1, owner_name="Oak LLC", due_days=14, correction_mode="next_bill")
        assert (changed.owner_name, changed.due_days, changed.correction_mode) == ("Oak LLC", 14, "next_bill")
        assert store.get_site(site_id=1) == changed
    finally:
        store.close()


def test_migration_to_version_8_keeps_the_history_and_admits_unit_updated(durable_store_url):
    """Version 8 admits ``unit_updated`` in the history of tenancies (SQLite remakes the table with its
    rows; PostgreSQL replaces the CHECK constraint); the rows of version 7 stay as they were."""
    engines = make_engines(durable_store_url)
    try:
        with engines.writer.begin() as c:
            create_at_version(c, 7)
            c.exec_driver_sql("INSERT INTO sites (id, name, timezone) VALUES (1, 'Oak', 'America/Denver')")
            c.exec_driver_sql(
                "INSERT INTO meters (id, serial, designation, ct_ratio, multiplier, site_id) "
                "VALUES (1, 'M1', 'MM', 2000.0, 1.0, 1)"
            )
            c.exec_driver_sql("INSERT INTO units (id, site_id, name, meter_id) VALUES (1, 1, '1A', 1)")
            made = datetime(2026, 1, 1, tzinfo=UTC)
            c.execute(
                insert(_tenancy_events_v7).values(
                    kind="unit_created", at=made, recorded_at=made, recorded_by="v7", unit_id=1,
                    detail={"name": "1A"},
                )
            )  # fmt: skip
        assert migrate(engines.writer) == LATEST_VERSION
    finally:
        engines.dispose()
    store = Store(durable_store_url)
    try:
        changed = store.update_unit(unit_id=1, floor_area_ft2=850.0, occupants=2, by="test")
        assert (changed.floor_area_ft2, changed.occupants) == (850.0, 2)
        (old, new) = store.tenancy_history()
        assert (old.id, old.kind, old.recorded_by, old.detail) == (1, "unit_created", "v7", {"name": "1A"})
        assert new.kind == "unit_updated"
        assert new.detail == {
            "name": "1A",
            "changed": {"floor_area_ft2": [None, 850.0], "occupants": [None, 2]},
        }
        assert store.update_unit(unit_id=1, occupants=2) == changed  # nothing changed: nothing recorded
        assert len(store.tenancy_history()) == 2
        with pytest.raises(ValueError, match=r"floor_area_ft2 must be .* > 0.*occupants must be .*0 or more"):
            store.update_unit(unit_id=1, floor_area_ft2=0, occupants=-1)
        with pytest.raises(TenancyError, match="unit_id 9 is not a known unit"):
            store.update_unit(unit_id=9, occupants=1)
        assert store.get_unit(unit_id=1) == changed
    finally:
        store.close()


def test_site_settings_are_checked_all_at_once_and_nothing_changes(store_url):
    store = Store(store_url)
    try:
        site = store.create_site(name="Elm", timezone="UTC", owner_name="Elm Mgmt")
        with pytest.raises(ValueError, match="due_days") as raised:
            store.update_site(site_id=site.id, due_days=120, correction_mode="later", colour="red")
        message = str(raised.value)
        for part in (
            "due_days must be whole days, 0 to 90, got 120",
            "correction_mode must be one of",
            "colour",
        ):
            assert part in message
        assert store.get_site(site_id=site.id) == site
        with pytest.raises(ValueError, match="is not in the store"):
            store.update_site(site_id=site.id + 99, due_days=5)
    finally:
        store.close()


def test_migration_to_version_10_keeps_the_audit_and_opens_the_vee_work_list(durable_store_url):
    """Version 10 adds ``interval_edits.action`` (NULL for every earlier record) and ``vee_findings``;
    an edit of version 9 stays as it was, and a refused action leaves nothing behind."""
    engines = make_engines(durable_store_url)
    made = datetime(2026, 1, 1, 8, tzinfo=UTC)
    try:
        with engines.writer.begin() as c:
            create_at_version(c, 9)
            c.exec_driver_sql("INSERT INTO sites (id, name, timezone) VALUES (1, 'Oak', 'America/Denver')")
            c.exec_driver_sql(
                "INSERT INTO meters (id, serial, designation, ct_ratio, multiplier, site_id) "
                "VALUES (1, 'M1', 'MM', 2000.0, 1.0, 1)"
            )
            c.exec_driver_sql(
                "INSERT INTO validated_intervals (meter_id, interval_end, energy_wh, quality) "
                f"VALUES (1, {int(made.timestamp())}, 120, 9)"
                if c.dialect.name == "sqlite"
                else "INSERT INTO validated_intervals (meter_id, interval_end, energy_wh, quality) "
                f"VALUES (1, '{made.isoformat()}', 120, 9)"
            )
        with engines.writer.begin() as c:
            assert "action" not in {col["name"] for col in inspect(c).get_columns("interval_edits")}
        assert migrate(engines.writer) == LATEST_VERSION
    finally:
        engines.dispose()
    store = Store(durable_store_url)
    try:
        assert store.vee_findings(meter_id=1, start=made - timedelta(hours=1), end=made) == []
        assert store.request_reread(meter_id=1, interval_ends=[made], requested_by="clerk", reason="odd") == 1
        (edit,) = store.interval_edits(meter_id=1, start=made - timedelta(hours=1), end=made)
        assert (edit.action, edit.new_energy_wh, edit.new_quality, edit.edited_by) == (
            "reread",
            120,
            9,
            "clerk",
        )
        with pytest.raises(ValueError, match="action must be"):
            store.put_validated_intervals(
                meter_id=1, rows=[(made, 100, 7)], edited_by="clerk", reason="x", action="approve"
            )
        assert len(store.interval_edits(meter_id=1, start=made - timedelta(hours=1), end=made)) == 1
    finally:
        store.close()
