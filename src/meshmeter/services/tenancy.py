"""Tenants, units, accounts and occupancies, as every door does them: the API, the command line, the site
file (``docs/store.md``, "Tenants, units, accounts and occupancies").

The store does the operations and their checks in one transaction each; this module reads what people
type (times local to the site, meter serials, unit names) and gathers what an account is for showing.

A time is an ISO 8601 date or date-time: a date is the site's local midnight, a date-time without an
offset the site's local time, one with an offset that instant (``2024-03-01``,
``2024-03-01T12:00``, ``2024-03-01T20:00:00Z``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from meshmeter.errors import TenancyError
from meshmeter.intervals import zone
from meshmeter.store import Account, Meter, Occupancy, Store, TenancyEvent, Tenant, Unit

__all__ = [
    "FIRST_INSTANT",
    "LAST_INSTANT",
    "AccountView",
    "account_view",
    "close_account",
    "create_unit",
    "effective_instant",
    "move_in",
    "move_out",
    "new_tenant",
    "open_account",
    "resolve_unit",
    "site_timezone",
    "transfer",
]

FIRST_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
LAST_INSTANT = datetime(9999, 1, 1, tzinfo=UTC)
"""The instants a tenancy may name: those the API takes anywhere (``docs/api.md``)."""


def effective_instant(name: str, text: str, timezone: str) -> datetime:
    """
    An instant from an ISO 8601 date or date-time, in UTC: a date is local midnight in ``timezone``, a
    date-time without an offset local time there.

    Raises
    ------
    ValueError
        Naming ``name``: not a date or date-time, or outside 1970-01-01 .. 9999-01-01 (UTC).
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{name} must be an ISO 8601 date or date-time (2024-03-01, 2024-03-01T12:00, "
            f"2024-03-01T20:00:00Z), got {text!r}"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    outside = ValueError(
        f"{name} must lie between {FIRST_INSTANT.isoformat()} and {LAST_INSTANT.isoformat()}, got {text!r}"
    )
    try:
        instant = value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0
        raise outside from None
    if not FIRST_INSTANT <= instant <= LAST_INSTANT:
        raise outside
    return instant.replace(microsecond=0)


def site_timezone(store: Store, site_id: int | None) -> str:
    """The IANA zone of a site; UTC for none (or one the caller cannot see)."""
    site = None if site_id is None else store.get_site(site_id=site_id)
    if site is None:
        return "UTC"
    zone(site.timezone)
    return site.timezone


def _account_zone(store: Store, account_id: int) -> str:
    account = store.get_account(account_id=account_id)
    return "UTC" if account is None else site_timezone(store, account.site_id)


def create_unit(
    store: Store,
    *,
    site_id: int,
    name: str,
    meter: str,
    address: str | None = None,
    by: str | None = None,
    floor_area_ft2: float | None = None,
    occupants: int | None = None,
) -> Unit:
    """A unit of a site measured by the meter of this serial, with its floor area [ft²] and occupants
    when given (:meth:`Store.create_unit`).

    Raises
    ------
    ValueError
        Every bad value: a floor area not > 0, occupants below 0.
    TenancyError
        Every problem: an unknown site or meter serial, a meter of another site, a name taken."""
    found = store.get_meter(serial=meter)
    if found is None:
        problems = [f"meter {meter!r} is not a known meter"]
        if store.get_site(site_id=site_id) is None:
            problems.insert(0, f"site_id {site_id} is not a known site")
        raise TenancyError(problems, unknown=True)
    return store.create_unit(
        site_id=site_id,
        name=name,
        meter_id=found.id,
        address=address,
        by=by,
        floor_area_ft2=floor_area_ft2,
        occupants=occupants,
    )


def resolve_unit(store: Store, *, unit: str, account_id: int) -> int:
    """
    The id of the unit named by its id (digits) or by its name in the account's site.

    Raises
    ------
    TenancyError
        Naming every problem: an unknown account, a unit that names none.
    """
    account = store.get_account(account_id=account_id)
    if unit.isdigit() and store.get_unit(unit_id=int(unit)) is not None:
        return int(unit)
    if account is not None:
        for u in store.units(site_id=account.site_id) if account.site_id is not None else ():
            if u.name == unit:
                return u.id
    if unit.isdigit():
        return int(unit)  # no unit of this name: the store names the unknown id with every other problem
    problems = [] if account is not None else [f"account_id {account_id} is not a known account"]
    where = "" if account is None else f" at site {account.site_id}"
    problems.append(f"unit {unit!r} names no unit{where} (meshmeter unit list)")
    raise TenancyError(problems, unknown=True)


def open_account(
    store: Store,
    *,
    tenant_id: int,
    site_id: int,
    number: str | None = None,
    opened: str | None = None,
    by: str | None = None,
) -> Account:
    """Open an account (:meth:`Store.open_account`), ``opened`` read in the site's local time."""
    opened_at = None if opened is None else effective_instant("opened", opened, site_timezone(store, site_id))
    return store.open_account(tenant_id=tenant_id, site_id=site_id, number=number, opened_at=opened_at, by=by)


def new_tenant(
    store: Store,
    *,
    name: str,
    site_id: int,
    number: str | None = None,
    unit_id: int | None = None,
    at: str | None = None,
    by: str | None = None,
) -> tuple[Tenant, Account, Occupancy | None]:
    """
    A new tenant with an account at a site and, with ``unit_id`` and ``at``, its move-in into that unit
    at ``at`` (local to the site; the account opens then), all stored or nothing
    (:meth:`Store.open_tenancy`); the account opens now when there is no move-in.

    Raises
    ------
    ValueError
        A time that is not one, or a unit without a time (or a time without a unit), every one named.
    TenancyError
        Every problem of the tenant, the account and the move-in together; nothing is stored.
    """
    problems: list[str] = []
    instant = None
    if at is not None:
        try:
            instant = effective_instant("at", at, site_timezone(store, site_id))
        except ValueError as exc:
            problems.append(str(exc))
    if unit_id is None and at is not None:
        problems.append("unit_id must be given with a move-in time (the unit moved into)")
    if unit_id is not None and at is None:
        problems.append("at must be given with a unit (when the tenant moves in)")
    if problems:
        raise ValueError("; ".join(problems))
    return store.open_tenancy(
        name=name,
        site_id=site_id,
        number=number,
        opened_at=instant,
        unit_id=unit_id,
        move_in=instant,
        by=by,
    )


def move_in(store: Store, *, account_id: int, unit_id: int, at: str, by: str | None = None) -> Occupancy:
    """The account moves into the unit at ``at``, local to its site (:meth:`Store.move_in`)."""
    instant = effective_instant("at", at, _account_zone(store, account_id))
    return store.move_in(account_id=account_id, unit_id=unit_id, at=instant, by=by)


def move_out(store: Store, *, account_id: int, at: str, by: str | None = None) -> Occupancy:
    """The account moves out of its unit at ``at``, local to its site (:meth:`Store.move_out`)."""
    instant = effective_instant("at", at, _account_zone(store, account_id))
    return store.move_out(account_id=account_id, at=instant, by=by)


def transfer(
    store: Store, *, account_id: int, unit_id: int, at: str, by: str | None = None
) -> tuple[Occupancy, Occupancy]:
    """The account moves from its unit to another of its site at ``at`` (:meth:`Store.transfer`)."""
    instant = effective_instant("at", at, _account_zone(store, account_id))
    return store.transfer(account_id=account_id, unit_id=unit_id, at=instant, by=by)


def close_account(store: Store, *, account_id: int, at: str | None = None, by: str | None = None) -> Account:
    """Close the account at ``at`` (default now), local to its site (:meth:`Store.close_account`)."""
    instant = None if at is None else effective_instant("at", at, _account_zone(store, account_id))
    return store.close_account(account_id=account_id, at=instant, by=by)


@dataclass(frozen=True)
class AccountView:
    """An account with what people read beside it: its tenant, its occupancies and their meters."""

    account: Account
    tenant: Tenant | None
    occupancies: list[Occupancy]
    meters: dict[int, Meter]
    """The meters of its occupancies, by id."""
    history: list[TenancyEvent] | None = None


def account_view(store: Store, account: Account, *, history: bool = False) -> AccountView:
    """The account's tenant, occupancies (by move-in) and their meters; its history with ``history``."""
    occupied = store.occupancies(account_id=account.id)
    meters: dict[int, Meter] = {}
    for o in occupied:
        if o.meter_id not in meters:
            found = store.get_meter(meter_id=o.meter_id)
            if found is not None:
                meters[o.meter_id] = found
    return AccountView(
        account,
        store.get_tenant(tenant_id=account.tenant_id),
        occupied,
        meters,
        store.account_history(account_id=account.id) if history else None,
    )
