"""The store's API tokens (schema version 2): only a hash stored, lookup, revoke, list; the migration."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select

from meshmeter.store import LATEST_VERSION, Store, make_engines, migrate
from meshmeter.store.migrations import current_version
from meshmeter.store.schema import api_tokens, sites
from tests.store.legacy import create_legacy


def test_token_is_shown_once_and_only_its_hash_is_stored(store):
    record, token = store.create_api_token(role="operator", label="ops")
    assert token.startswith("mm_")
    assert len(token) == 46
    assert record.prefix == token[:9]
    assert record.active
    with store.engines.reader.connect() as c:
        stored = c.execute(select(api_tokens)).one()
    assert bytes(stored.token_hash) == hashlib.sha256(token.encode()).digest()
    assert token not in repr(tuple(stored))
    assert store.find_api_token(token=token) == record
    assert store.find_api_token(token=token + "x") is None
    assert store.find_api_token(token="") is None


def test_revoke_is_idempotent_and_listing(store):
    a, _ = store.create_api_token(role="admin")
    b, _ = store.create_api_token(role="billing")
    first = datetime(2024, 1, 1, tzinfo=UTC)
    revoked = store.revoke_api_token(token_id=a.id, at=first)
    assert revoked.revoked_at == first
    assert not revoked.active
    assert store.revoke_api_token(token_id=a.id, at=datetime(2025, 1, 1, tzinfo=UTC)).revoked_at == first
    assert [t.id for t in store.api_tokens()] == [a.id, b.id]
    assert [t.id for t in store.api_tokens(include_revoked=False)] == [b.id]
    with pytest.raises(ValueError, match="token_id 999 is not a known API token"):
        store.revoke_api_token(token_id=999)


def test_bad_role_is_refused(store):
    with pytest.raises(ValueError, match="role must be one of"):
        store.create_api_token(role="root")
    assert store.api_tokens() == []


def test_sites_and_meters_listing(store):
    a = store.create_site(name="A", timezone="UTC")
    b = store.create_site(name="B", timezone="UTC")
    m1 = store.create_meter(serial="1", designation="d", ct_ratio=1, site_id=b.id)
    m2 = store.create_meter(serial="2", designation="d", ct_ratio=1)
    assert store.sites() == [a, b]
    assert store.meters() == [m1, m2]
    assert store.meters(site_id=b.id) == [m1]
    assert store.meters(site_id=a.id) == []


def test_migration_from_version_1_keeps_data(store):
    url = store.engines.writer.url
    store.close()
    engines = make_engines(url)
    try:
        with engines.writer.begin() as c:
            create_legacy(c, 1)
            c.execute(sites.insert().values(name="kept", timezone="UTC"))
            assert current_version(c) == 1
        assert migrate(engines.writer) == LATEST_VERSION
        with engines.writer.connect() as c:
            assert current_version(c) == LATEST_VERSION
            columns = sorted(col["name"] for col in inspect(c).get_columns("api_tokens"))
        assert columns == sorted(api_tokens.columns.keys())
        reopened = Store(url)
        try:
            assert [s.name for s in reopened.sites()] == ["kept"]
            _, token = reopened.create_api_token(role="read-only")
            assert reopened.find_api_token(token=token) is not None
        finally:
            reopened.close()
    finally:
        engines.dispose()
