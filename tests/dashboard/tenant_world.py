"""The demo building of ``meshmeter demo`` (24 units with tenants, a house and a solar meter) for the tests of
a tenant's pages and of every page for every role: two days across the spring-forward change, one tenant
moving out of unit 102 at the end of the first day and another moving in, and a token of each role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from meshmeter.demo import run_site_demo
from meshmeter.site.config import parse_site
from meshmeter.site.example import demo_site_toml
from meshmeter.store import Account, Store

START = datetime(2026, 3, 7, 8, tzinfo=UTC)
"""Local midnight of Saturday 2026-03-07 in Los Angeles; the clocks spring forward the next night."""
DAYS = 2
MOVE = START + timedelta(days=1)
"""When the Baker household leaves unit 102 and the Newman household moves in (local midnight, PST)."""


@dataclass(frozen=True)
class World:
    """What :func:`build_world` made."""

    tokens: dict[str, str]
    """A token of each role; ``tenant`` is the Alvarez household's (unit 101), ``leaver`` the Baker
    household's (unit 102 until :data:`MOVE`), ``newcomer`` the Newman household's (unit 102 from it)."""
    serials: dict[str, str]
    """Unit name → its meter's serial."""


def build_world(store: Store) -> World:
    """Run the demo into ``store``, move a tenant, and make a token of each role."""
    run_site_demo(store, parse_site(demo_site_toml()), start=START, days=DAYS)
    units = {u.name: u for u in store.units()}
    serials = {}
    for name, unit in units.items():
        meter = store.get_meter(meter_id=unit.meter_id) if unit.meter_id is not None else None
        if meter is not None:
            serials[name] = meter.serial
    tenants = {t.id: t.name for t in store.tenants()}
    accounts = {tenants[a.tenant_id]: a for a in store.accounts()}
    baker, alvarez = accounts["Baker household"], accounts["Alvarez household"]
    store.move_out(account_id=baker.id, at=MOVE)
    newman = store.create_tenant(name="Newman household")
    new_account = store.open_account(tenant_id=newman.id, site_id=units["102"].site_id or 0, opened_at=MOVE)
    store.move_in(account_id=new_account.id, unit_id=units["102"].id, at=MOVE)
    tokens = {}
    for role in ("operator", "read-only", "billing"):
        _, tokens[role] = store.create_api_token(role=role, label=role)
    for key, account in (("tenant", alvarez), ("leaver", baker), ("newcomer", new_account)):
        _, tokens[key] = store.create_api_token(role="tenant", account_id=account.id, label=key)
    return World(tokens, serials)


def account_of(store: Store, tenant: str) -> Account:
    """The one account of the tenant named ``tenant``."""
    (found,) = [
        a for a in store.accounts() if (t := store.get_tenant(tenant_id=a.tenant_id)) and t.name == tenant
    ]
    return found
