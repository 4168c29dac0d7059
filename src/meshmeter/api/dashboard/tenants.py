"""What the tenants page and an account's page show (``docs/dashboard.md``, "Tenants and units").

The tenants page is a site's units as a building manager reads them: each unit with its address, floor
area, meter and who lives there now (tenant, account, since), a vacant unit as vacant; then the accounts
in no unit (opened and not moved in, or moved out and not closed), and the closed ones apart. An
account's page is its tenant, number, occupancies over time and history in words, with who recorded
each change. Everything is read through the store the caller sees (a scoped store shows its sites only);
names first (:func:`meshmeter.services.names.meter_names`), times in the site's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from meshmeter.services.names import MeterName, meter_names
from meshmeter.store import Account, Occupancy, Site, Store, TenancyEvent, Unit

__all__ = [
    "AccountPage",
    "AccountRow",
    "TenantsPage",
    "UnitRow",
    "account_page",
    "event_words",
    "tenants_page",
]


def _local(value: datetime | None, zone: tzinfo) -> str:
    if value is None:
        return "–"
    local = value.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".strip()


@dataclass(frozen=True, slots=True)
class UnitRow:
    """A unit of the site as the page lists it: its meter, and who lives there now (None: vacant)."""

    unit: Unit
    meter: MeterName | None
    serial: str
    account: Account | None
    tenant: str | None
    since: datetime | None

    @property
    def label(self) -> str:
        """``Unit 101``."""
        return f"Unit {self.unit.name}"

    @property
    def vacant(self) -> bool:
        return self.account is None


@dataclass(frozen=True, slots=True)
class AccountRow:
    """An account in no unit now: opened and not moved in, moved out and not closed, or closed."""

    account: Account
    tenant: str
    last_unit: str | None
    """The unit it left, when it lived in one."""
    left: datetime | None
    """When it left that unit."""

    @property
    def state(self) -> str:
        """Where the account stands, in words."""
        if self.account.closed_at is not None:
            return "closed"
        if self.last_unit is None:
            return "opened, not moved in"
        return f"moved out of Unit {self.last_unit}"


@dataclass(frozen=True, slots=True)
class TenantsPage:
    """The tenants page of one site."""

    site: Site | None
    units: list[UnitRow]
    waiting: list[AccountRow]
    """Open accounts in no unit now."""
    closed: list[AccountRow]
    meters: list[MeterName]
    """The site's meters, by label: those a new unit may be measured by."""

    @property
    def vacant(self) -> list[UnitRow]:
        return [u for u in self.units if u.vacant]

    @property
    def occupied(self) -> list[UnitRow]:
        return [u for u in self.units if not u.vacant]


def _current(occupancies: list[Occupancy], now: datetime) -> dict[int, Occupancy]:
    """unit id → the occupancy living there at ``now`` (``move_in < now <= move_out``, or open-ended);
    a move-in recorded for a later day counts as living there from now on the page: it holds the unit."""
    found: dict[int, Occupancy] = {}
    for o in occupancies:
        if o.move_out is None or now <= o.move_out:
            found[o.unit_id] = o
    return found


def tenants_page(store: Store, site: Site | None, *, now: datetime) -> TenantsPage:
    """The units and accounts of ``site`` (None: no site; an empty page) as they stand at ``now``."""
    if site is None:
        return TenantsPage(None, [], [], [], [])
    names = meter_names(store, site_id=site.id, at=now)
    tenants = {t.id: t.name for t in store.tenants(site_ids=[site.id])}
    accounts = {a.id: a for a in store.accounts(site_id=site.id)}
    occupancies = store.occupancies(site_id=site.id)
    living = _current(occupancies, now)
    rows = []
    for unit in store.units(site_id=site.id):
        here = living.get(unit.id)
        account = None if here is None else accounts.get(here.account_id)
        name = names.get(unit.meter_id)
        rows.append(
            UnitRow(
                unit=unit,
                meter=name,
                serial="" if name is None else name.serial,
                account=account,
                tenant=None if account is None else tenants.get(account.tenant_id, "–"),
                since=None if here is None else here.move_in,
            )
        )
    rows.sort(key=lambda r: (len(r.unit.name), r.unit.name))  # 101 before 1001, 2A before 10B
    housed = {o.account_id for o in living.values()}
    last: dict[int, Occupancy] = {}
    for o in occupancies:  # by move-in: the last one wins
        last[o.account_id] = o
    waiting: list[AccountRow] = []
    closed: list[AccountRow] = []
    for a in accounts.values():
        if a.id in housed:
            continue
        left = last.get(a.id)
        row = AccountRow(
            a,
            tenants.get(a.tenant_id, "–"),
            None if left is None else left.unit,
            None if left is None else left.move_out,
        )
        (closed if a.closed_at is not None else waiting).append(row)
    meters = sorted(names.values(), key=lambda m: (m.label, m.serial))
    return TenantsPage(site, rows, waiting, closed, meters)


_KINDS = {
    "tenant_created": "tenant created",
    "account_opened": "account opened",
    "moved_in": "moved in",
    "moved_out": "moved out",
    "transferred": "transferred",
    "account_closed": "account closed",
    "unit_created": "unit created",
    "unit_updated": "unit changed",
}


def event_words(event: TenancyEvent, zone: tzinfo) -> str:
    """What a row of the history did, in words, with when it takes effect in the site's time:
    ``Moved into Unit 101 on 2026-12-01 00:00 PST``."""
    d = event.detail
    when = _local(event.at, zone)
    if event.kind == "account_opened":
        return f"Account {d.get('number', '')} opened on {when}"
    if event.kind == "moved_in":
        return f"Moved into Unit {d.get('unit', '?')} on {when}"
    if event.kind == "moved_out":
        return f"Moved out of Unit {d.get('unit', '?')} on {when}"
    if event.kind == "transferred":
        return f"Moved from Unit {d.get('from_unit', '?')} to Unit {d.get('to_unit', '?')} on {when}"
    if event.kind == "account_closed":
        return f"Account {d.get('number', '')} closed on {when}"
    if event.kind == "tenant_created":
        return f"Tenant {d.get('name', '')} created on {when}"
    return f"{_KINDS.get(event.kind, event.kind.replace('_', ' ')).capitalize()} on {when}"


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """A row of an account's history as the page says it."""

    words: str
    recorded_at: str
    recorded_by: str | None
    """Who recorded it; None: not recorded (a store call that named no one)."""


@dataclass(frozen=True, slots=True)
class AccountPage:
    """One account: its tenant, occupancies (with their meters' names), history and where it stands."""

    account: Account
    tenant: str
    site: Site | None
    occupancies: list[tuple[Occupancy, MeterName | None]]
    history: list[HistoryLine]
    current: Occupancy | None
    """The occupancy it holds now (or from a later day), if any."""

    @property
    def is_open(self) -> bool:
        return self.account.closed_at is None


def account_page(store: Store, account: Account, zone: tzinfo, *, now: datetime) -> AccountPage:
    """What the account's page shows; times in ``zone`` (the site's)."""
    from meshmeter.services.tenancy import account_view

    view = account_view(store, account, history=True)
    names = meter_names(store, site_id=account.site_id, at=now) if account.site_id is not None else {}
    site = None if account.site_id is None else store.get_site(site_id=account.site_id)
    current = next((o for o in view.occupancies if o.move_out is None or now <= o.move_out), None)
    history = [
        HistoryLine(event_words(e, zone), _local(e.recorded_at, zone), e.recorded_by)
        for e in view.history or []
    ]
    return AccountPage(
        account=account,
        tenant="–" if view.tenant is None else view.tenant.name,
        site=site,
        occupancies=[(o, names.get(o.meter_id)) for o in view.occupancies],
        history=history,
        current=current,
    )
