"""Tenants, units, accounts and occupancies, with their history (schema version 7, 8: units' floor area and
occupants, ``unit_updated``; ``docs/store.md``).

A **tenant** holds **accounts**; an account, at one site and under a number the operator sees, occupies
**units** of that site over **occupancies** ``(move_in, move_out]``; a unit is measured by one meter, so
an occupancy names the intervals that are the account's. Every operation appends a row to the history
(``tenancy_events``); nothing is ever deleted, and an occupancy changes once only, when its move-out is
recorded.

Operations check everything they can against the stored state, in the writing transaction, and refuse
with one :class:`~meshmeter.errors.TenancyError` naming every problem found (unknown ids, overlapping
occupancies of one unit or meter, a move-out before the move-in, a move-in on a closed account ...);
nothing of a refused call is stored. The unit's meter is locked while its occupancies are checked and
written (PostgreSQL ``FOR NO KEY UPDATE``; SQLite's one writer), so two writers cannot both place an
account in one unit.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, exists, insert, or_, select, update

from meshmeter.errors import TenancyError
from meshmeter.store import _validate as v
from meshmeter.store.base import StoreBase, _now
from meshmeter.store.models import Account, Occupancy, TenancyEvent, Tenant, Unit
from meshmeter.store.schema import accounts, meters, occupancies, sites, tenancy_events, tenants, units

__all__ = ["FIRST_ACCOUNT_NUMBER", "TenancyMixin"]

FIRST_ACCOUNT_NUMBER = 1001
"""The number of a site's first account when none is given; then one more than the highest number of
the site that is all digits."""

_OCCUPANCY_COLUMNS = (
    occupancies.c.id,
    occupancies.c.account_id,
    accounts.c.tenant_id,
    occupancies.c.unit_id,
    units.c.name.label("unit"),
    units.c.meter_id,
    occupancies.c.move_in,
    occupancies.c.move_out,
)
_OCCUPANCY_FROM = occupancies.join(accounts, accounts.c.id == occupancies.c.account_id).join(
    units, units.c.id == occupancies.c.unit_id
)


def _tenant(r: Row[Any]) -> Tenant:
    return Tenant(id=int(r.id), name=r.name)


def _unit(r: Row[Any]) -> Unit:
    return Unit(
        int(r.id),
        None if r.site_id is None else int(r.site_id),
        r.name,
        r.address,
        int(r.meter_id),
        None if r.floor_area_ft2 is None else float(r.floor_area_ft2),
        None if r.occupants is None else int(r.occupants),
    )


def _account(r: Row[Any]) -> Account:
    site_id = None if r.site_id is None else int(r.site_id)
    return Account(int(r.id), r.number, site_id, int(r.tenant_id), r.opened_at, r.closed_at)


def _occupancy(r: Any) -> Occupancy:
    return Occupancy(
        int(r.id),
        int(r.account_id),
        int(r.tenant_id),
        int(r.unit_id),
        r.unit,
        int(r.meter_id),
        r.move_in,
        r.move_out,
    )


def _event(r: Row[Any]) -> TenancyEvent:
    def opt(value: Any) -> int | None:
        return None if value is None else int(value)

    return TenancyEvent(
        int(r.id),
        r.kind,
        r.at,
        r.recorded_at,
        r.recorded_by,
        opt(r.tenant_id),
        opt(r.account_id),
        opt(r.unit_id),
        opt(r.occupancy_id),
        dict(r.detail),
    )


def _shown(moment: datetime | None) -> str:
    return "open-ended" if moment is None else moment.isoformat()


def _overlap(a0: datetime, a1: datetime | None, b0: datetime, b1: datetime | None) -> bool:
    """Whether ``(a0, a1]`` and ``(b0, b1]`` share an instant (None: never ending)."""
    return (b1 is None or a0 < b1) and (a1 is None or b0 < a1)


def _ids(name: str, values: Collection[int] | None) -> list[int] | None:
    return None if values is None else sorted({v.check_id(name, x) for x in values})


def _by(by: str | None) -> str | None:
    return None if by is None else v.check_text("by", by)


_UNIT_SETTINGS = ("address", "floor_area_ft2", "occupants")


def _unit_settings(settings: dict[str, object]) -> dict[str, object]:
    """A unit's settings checked, every problem named at once (ValueError); None clears one."""
    problems: list[str] = []
    checked: dict[str, object] = {}
    for name, value in settings.items():
        if name not in _UNIT_SETTINGS:
            problems.append(f"{name} is not a setting of a unit (one of {', '.join(_UNIT_SETTINGS)})")
            continue
        try:
            if value is None:
                checked[name] = None
            elif name == "floor_area_ft2":
                checked[name] = v.check_positive_float(name, value)
            elif name == "occupants":
                checked[name] = v.check_int(
                    name, value, low=0, expected="a whole number of people, 0 or more"
                )
            else:
                checked[name] = v.check_text(name, value)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError("; ".join(problems))
    return checked


class TenancyMixin(StoreBase):
    """Tenants, units, accounts, occupancies and their history."""

    # -- reading -----------------------------------------------------------------------------------------

    def get_tenant(self, *, tenant_id: int) -> Tenant | None:
        """The tenant with this id, or None."""
        with self._read() as c:
            row = c.execute(select(tenants).where(tenants.c.id == tenant_id)).first()
        return None if row is None else _tenant(row)

    def tenants(self, *, site_ids: Collection[int] | None = None) -> list[Tenant]:
        """Every tenant, by id; with ``site_ids``, only those holding an account at one of these sites."""
        query = select(tenants).order_by(tenants.c.id)
        wanted = _ids("site_ids", site_ids)
        if wanted is not None:
            held = select(accounts.c.id).where(
                accounts.c.tenant_id == tenants.c.id, accounts.c.site_id.in_(wanted)
            )
            query = query.where(exists(held))
        with self._read() as c:
            rows = c.execute(query).all()
        return [_tenant(r) for r in rows]

    def get_unit(self, *, unit_id: int) -> Unit | None:
        """The unit with this id, or None."""
        with self._read() as c:
            row = c.execute(select(units).where(units.c.id == unit_id)).first()
        return None if row is None else _unit(row)

    def units(
        self,
        *,
        site_id: int | None = None,
        meter_id: int | None = None,
        site_ids: Collection[int] | None = None,
    ) -> list[Unit]:
        """Units, of a site, of a meter and/or of one of ``site_ids`` (every unit when none), by id."""
        query = select(units).order_by(units.c.id)
        if site_id is not None:
            query = query.where(units.c.site_id == v.check_id("site_id", site_id))
        if meter_id is not None:
            query = query.where(units.c.meter_id == v.check_id("meter_id", meter_id))
        wanted = _ids("site_ids", site_ids)
        if wanted is not None:
            query = query.where(units.c.site_id.in_(wanted))
        with self._read() as c:
            rows = c.execute(query).all()
        return [_unit(r) for r in rows]

    def get_account(self, *, account_id: int) -> Account | None:
        """The account with this id, or None."""
        with self._read() as c:
            row = c.execute(select(accounts).where(accounts.c.id == account_id)).first()
        return None if row is None else _account(row)

    def find_account(self, *, site_id: int | None, number: str) -> Account | None:
        """The account of this number at this site (None: of no site), or None."""
        where = accounts.c.site_id.is_(None) if site_id is None else accounts.c.site_id == site_id
        with self._read() as c:
            row = c.execute(select(accounts).where(where, accounts.c.number == number)).first()
        return None if row is None else _account(row)

    def accounts(
        self,
        *,
        tenant_id: int | None = None,
        meter_id: int | None = None,
        site_id: int | None = None,
        unit_id: int | None = None,
        site_ids: Collection[int] | None = None,
    ) -> list[Account]:
        """
        Accounts (every one when no filter is given), by id.

        Parameters
        ----------
        tenant_id : int, optional
            Only this tenant's.
        meter_id, unit_id : int, optional
            Only those that ever occupied a unit of this meter, or this unit.
        site_id : int, optional
            Only this site's.
        site_ids : collection of int, optional
            Only those of one of these sites.
        """
        query = select(accounts).order_by(accounts.c.id)
        if tenant_id is not None:
            query = query.where(accounts.c.tenant_id == v.check_id("tenant_id", tenant_id))
        if site_id is not None:
            query = query.where(accounts.c.site_id == v.check_id("site_id", site_id))
        wanted = _ids("site_ids", site_ids)
        if wanted is not None:
            query = query.where(accounts.c.site_id.in_(wanted))
        if meter_id is not None or unit_id is not None:
            held = (
                select(occupancies.c.id)
                .join(units, units.c.id == occupancies.c.unit_id)
                .where(occupancies.c.account_id == accounts.c.id)
            )
            if meter_id is not None:
                held = held.where(units.c.meter_id == v.check_id("meter_id", meter_id))
            if unit_id is not None:
                held = held.where(units.c.id == v.check_id("unit_id", unit_id))
            query = query.where(exists(held))
        with self._read() as c:
            rows = c.execute(query).all()
        return [_account(r) for r in rows]

    def occupancies(
        self,
        *,
        account_id: int | None = None,
        unit_id: int | None = None,
        meter_id: int | None = None,
        tenant_id: int | None = None,
        site_id: int | None = None,
        site_ids: Collection[int] | None = None,
    ) -> list[Occupancy]:
        """Occupancies filtered by account, unit, meter, tenant and site (every one when none), by move-in
        then id."""
        query = select(*_OCCUPANCY_COLUMNS).select_from(_OCCUPANCY_FROM)
        if account_id is not None:
            query = query.where(occupancies.c.account_id == v.check_id("account_id", account_id))
        if unit_id is not None:
            query = query.where(occupancies.c.unit_id == v.check_id("unit_id", unit_id))
        if meter_id is not None:
            query = query.where(units.c.meter_id == v.check_id("meter_id", meter_id))
        if tenant_id is not None:
            query = query.where(accounts.c.tenant_id == v.check_id("tenant_id", tenant_id))
        if site_id is not None:
            query = query.where(units.c.site_id == v.check_id("site_id", site_id))
        wanted = _ids("site_ids", site_ids)
        if wanted is not None:
            query = query.where(units.c.site_id.in_(wanted))
        with self._read() as c:
            rows = c.execute(query.order_by(occupancies.c.move_in, occupancies.c.id)).all()
        return [_occupancy(r) for r in rows]

    def account_history(self, *, account_id: int) -> list[TenancyEvent]:
        """What was done to the account, in the order it was recorded: opened, moves in and out, transfers,
        closed. Empty for an unknown account."""
        t = tenancy_events
        with self._read() as c:
            rows = c.execute(select(t).where(t.c.account_id == account_id).order_by(t.c.id)).all()
        return [_event(r) for r in rows]

    def tenancy_history(self, *, tenant_id: int | None = None) -> list[TenancyEvent]:
        """Every row of the history (of one tenant's tenancies with ``tenant_id``), in recorded order."""
        t = tenancy_events
        query = select(t).order_by(t.c.id)
        if tenant_id is not None:
            query = query.where(t.c.tenant_id == v.check_id("tenant_id", tenant_id))
        with self._read() as c:
            rows = c.execute(query).all()
        return [_event(r) for r in rows]

    # -- writing -----------------------------------------------------------------------------------------

    def create_tenant(self, *, name: str, at: datetime | None = None, by: str | None = None) -> Tenant:
        """Create a tenant (``at``: when, default now; ``by``: who, for the history)."""
        name = v.check_text("name", name)
        stamp = _now() if at is None else v.check_utc("at", at)
        by = _by(by)
        with self._write() as c:
            tenant_id = int(c.execute(insert(tenants).values(name=name).returning(tenants.c.id)).scalar_one())
            self._record(c, "tenant_created", stamp, by, tenant_id=tenant_id, detail={"name": name})
        return Tenant(id=tenant_id, name=name)

    def create_unit(
        self,
        *,
        site_id: int,
        name: str,
        meter_id: int,
        address: str | None = None,
        by: str | None = None,
        floor_area_ft2: float | None = None,
        occupants: int | None = None,
    ) -> Unit:
        """
        Create a unit of a site, measured by a meter of that site.

        Parameters
        ----------
        floor_area_ft2 : float, optional
            Its floor area, > 0 (allocation by area). [ft²]
        occupants : int, optional
            The people living there, 0 or more (allocation by occupants).

        Raises
        ------
        ValueError
            Naming every bad value at once.
        TenancyError
            Naming every problem: an unknown site or meter, a meter of another site, a name already a
            unit of the site.
        """
        site_id = v.check_id("site_id", site_id)
        meter_id = v.check_id("meter_id", meter_id)
        name = v.check_text("name", name)
        checked = _unit_settings(
            {"address": address, "floor_area_ft2": floor_area_ft2, "occupants": occupants}
        )
        by = _by(by)
        with self._write() as c:
            unit = self._create_unit(c, site_id, name, meter_id, address, by)
            extra = {k: value for k, value in checked.items() if k != "address" and value is not None}
            if extra:
                c.execute(update(units).where(units.c.id == unit.id).values(**extra))
                unit = replace(unit, **extra)  # type: ignore[arg-type]
        return unit

    def update_unit(self, *, unit_id: int, by: str | None = None, **settings: object) -> Unit:
        """
        Change a unit's address, floor area or occupants; returns the unit as it is now.

        What changed is recorded in the history (``unit_updated``, the values before and after), when
        something did.

        Parameters
        ----------
        unit_id : int
            The unit.
        by : str, optional
            Who, for the history.
        **settings
            Any of ``address`` (text), ``floor_area_ft2`` (> 0) [ft²] and ``occupants`` (0 or more);
            None clears one.

        Raises
        ------
        ValueError
            Naming every bad setting at once; nothing is changed.
        TenancyError
            When there is no such unit (``unknown``).
        """
        unit_id = v.check_id("unit_id", unit_id)
        checked = _unit_settings(dict(settings))
        by = _by(by)
        with self._write() as c:
            row = c.execute(select(units).where(units.c.id == unit_id).with_for_update()).first()
            if row is None:
                raise TenancyError([f"unit_id {unit_id} is not a known unit"], unknown=True)
            before = _unit(row)
            changed = {
                k: [getattr(before, k), value] for k, value in checked.items() if getattr(before, k) != value
            }
            if not changed:
                return before
            c.execute(update(units).where(units.c.id == unit_id).values(**checked))
            self._record(
                c,
                "unit_updated",
                _now(),
                by,
                unit_id=unit_id,
                detail={"name": before.name, "changed": changed},
            )
        return replace(before, **checked)  # type: ignore[arg-type]

    def open_account(
        self,
        *,
        tenant_id: int,
        site_id: int,
        number: str | None = None,
        opened_at: datetime | None = None,
        by: str | None = None,
    ) -> Account:
        """
        Open an account for a tenant at a site.

        Parameters
        ----------
        tenant_id, site_id : int
            The tenant and the site.
        number : str, optional
            The account's number, unique in the site; default one more than the site's highest number that
            is all digits (from :data:`FIRST_ACCOUNT_NUMBER`).
        opened_at : datetime, optional
            When; default now.
        by : str, optional
            Who, for the history.

        Raises
        ------
        TenancyError
            Naming every problem: an unknown tenant or site, a number already taken at the site.
        """
        tenant_id = v.check_id("tenant_id", tenant_id)
        site_id = v.check_id("site_id", site_id)
        number = None if number is None else v.check_text("number", number).strip()
        stamp = _now() if opened_at is None else v.check_utc("opened_at", opened_at)
        by = _by(by)
        with self._write() as c:
            account = self._open_account(c, tenant_id, site_id, number, stamp, by)
        return account

    def move_in(self, *, account_id: int, unit_id: int, at: datetime, by: str | None = None) -> Occupancy:
        """
        Start the account's occupancy of a unit at ``at`` (open-ended until its move-out).

        Raises
        ------
        TenancyError
            Naming every problem: an unknown account or unit, a closed account, a unit of another site,
            an account that occupies a unit then already (one unit at a time: see :meth:`transfer`), a
            unit, or another unit of the same meter, occupied then.
        """
        account_id = v.check_id("account_id", account_id)
        unit_id = v.check_id("unit_id", unit_id)
        at = v.check_utc("at", at)
        by = _by(by)
        with self._write() as c:
            occupancy = self._move_in(c, account_id, unit_id, at, None, by)
        return occupancy

    def move_out(self, *, account_id: int, at: datetime, by: str | None = None) -> Occupancy:
        """
        End the account's open occupancy at ``at``; the account stays open (:meth:`close_account`).

        Raises
        ------
        TenancyError
            Naming every problem: an unknown or closed account, one with no open occupancy, a move-out
            not after the move-in.
        """
        account_id = v.check_id("account_id", account_id)
        at = v.check_utc("at", at)
        by = _by(by)
        with self._write() as c:
            occupancy = self._move_out(c, account_id, at, by)
        return occupancy

    def transfer(
        self, *, account_id: int, unit_id: int, at: datetime, by: str | None = None
    ) -> tuple[Occupancy, Occupancy]:
        """
        Move the account from the unit it occupies to another unit of its site, at the same instant: its
        open occupancy ends at ``at`` and one of ``unit_id`` begins then. The account, its number and
        its tenant stay; a new tenant in the unit opens an account of its own.

        Returns
        -------
        (Occupancy, Occupancy)
            The occupancy ended and the one begun.

        Raises
        ------
        TenancyError
            Naming every problem of the move-out and of the move-in together.
        """
        account_id = v.check_id("account_id", account_id)
        unit_id = v.check_id("unit_id", unit_id)
        at = v.check_utc("at", at)
        by = _by(by)
        with self._write() as c:
            account = self._lock_account(c, account_id)
            target = self._find_unit(c, unit_id)
            problems: list[str] = []
            unknown = account is None or target is None
            if account is None:
                problems.append(f"account_id {account_id} is not a known account")
            if target is None:
                problems.append(f"unit_id {unit_id} is not a known unit")
            current = None
            if account is not None:
                current = self._open_occupancy(c, account_id)
                problems += self._out_problems(account, current, at)
                if current is not None and target is not None and current.unit_id == target.id:
                    problems.append(f"account {account.number} occupies unit {target.name} already")
            if account is not None and target is not None:
                problems += self._in_problems(c, account, target, at, None, skip=current)
            if problems:
                raise TenancyError(problems, unknown=unknown)
            assert account is not None
            assert target is not None
            assert current is not None
            c.execute(update(occupancies).where(occupancies.c.id == current.id).values(move_out=at))
            ended = replace(current, move_out=at)
            begun = self._insert_occupancy(c, account, target, at, None)
            self._record(
                c,
                "transferred",
                at,
                by,
                tenant_id=account.tenant_id,
                account_id=account.id,
                unit_id=target.id,
                occupancy_id=begun.id,
                detail={
                    "from_unit_id": current.unit_id,
                    "from_unit": current.unit,
                    "from_occupancy_id": current.id,
                    "to_unit_id": target.id,
                    "to_unit": target.name,
                },
            )
        return ended, begun

    def close_account(
        self,
        *,
        account_id: int,
        at: datetime | None = None,
        move_out: datetime | None = None,
        by: str | None = None,
    ) -> Account:
        """
        Close an account at ``at`` (default now); a closed account takes no move-in.

        With ``move_out`` (the call of schema version 6, when an account was one tenancy), its open
        occupancy ends then and the account closes at the same instant, in one transaction.

        Raises
        ------
        TenancyError
            Naming every problem: an unknown account, one already closed, an occupancy still open (move
            out first) or ending after ``at``.
        """
        account_id = v.check_id("account_id", account_id)
        if move_out is not None:
            move_out = v.check_utc("move_out", move_out)
            if at is not None and v.check_utc("at", at) != move_out:
                raise ValueError("give at or move_out, or the same instant for both")
        stamp = move_out if move_out is not None else _now() if at is None else v.check_utc("at", at)
        by = _by(by)
        with self._write() as c:
            if move_out is not None:
                self._move_out(c, account_id, move_out, by)
            account = self._close(c, account_id, stamp, by)
        return account

    def open_tenancy(
        self,
        *,
        name: str,
        site_id: int,
        number: str | None = None,
        opened_at: datetime | None = None,
        unit_id: int | None = None,
        move_in: datetime | None = None,
        by: str | None = None,
    ) -> tuple[Tenant, Account, Occupancy | None]:
        """
        A new tenant, an account for it at a site and, with ``unit_id`` and ``move_in``, its move-in into
        that unit, in one transaction: all of it is stored, or nothing.

        The checks are those of :meth:`create_tenant`, :meth:`open_account` and :meth:`move_in`, all made
        before anything is kept, so that one refusal names every problem of the three.

        Raises
        ------
        TenancyError
            Naming every problem: an empty name, an unknown site or unit, a number taken at the site, a
            unit of another site, or the unit (or another unit of its meter) occupied then.
        """
        problems: list[str] = []
        try:
            name = v.check_text("name", name)
        except ValueError as exc:
            problems.append(str(exc))
        site_id = v.check_id("site_id", site_id)
        number = None if number is None else v.check_text("number", number).strip()
        if (unit_id is None) != (move_in is None):
            raise ValueError("give unit_id and move_in together, or neither")
        if unit_id is not None:
            unit_id = v.check_id("unit_id", unit_id)
        if move_in is not None:
            move_in = v.check_utc("move_in", move_in)
        stamp = _now() if opened_at is None else v.check_utc("opened_at", opened_at)
        by = _by(by)
        unknown = False
        with self._write() as c:
            kept = name if isinstance(name, str) and name.strip() else "?"  # a refused name is never kept
            tenant_id = int(c.execute(insert(tenants).values(name=kept).returning(tenants.c.id)).scalar_one())
            self._record(c, "tenant_created", stamp, by, tenant_id=tenant_id, detail={"name": kept})
            account: Account | None = None
            try:
                account = self._open_account(c, tenant_id, site_id, number, stamp, by)
            except TenancyError as exc:
                problems += exc.problems
                unknown = unknown or exc.unknown
            occupancy = None
            if unit_id is not None and move_in is not None:
                unit = self._find_unit(c, unit_id)
                if unit is None:
                    problems.append(f"unit_id {unit_id} is not a known unit")
                    unknown = True
                else:
                    # the account that would be: its number is checked above, its tenure checked here
                    would_be = account or Account(0, number or "(new)", site_id, tenant_id, stamp, None)
                    problems += self._in_problems(c, would_be, unit, move_in, None)
                if not problems:
                    assert account is not None
                    occupancy = self._move_in(c, account.id, unit_id, move_in, None, by)
            if problems:
                raise TenancyError(problems, unknown=unknown)  # the transaction is rolled back
            assert account is not None
        return Tenant(id=tenant_id, name=name), account, occupancy

    def create_account(
        self,
        *,
        tenant_id: int,
        meter_id: int,
        unit: str,
        move_in: datetime,
        move_out: datetime | None = None,
        by: str | None = None,
    ) -> Account:
        """
        A tenant in a unit served by a meter from ``move_in`` (to ``move_out``), in one call: the call of
        schema version 6, kept for the site file and the callers written for it.

        In one transaction: the meter's unit of that name (made when there is none, at the meter's site;
        a name taken by another meter's unit there gets the meter's serial), an account of the tenant at
        the meter's site (opened at ``move_in``, numbered as :meth:`open_account` numbers), its move-in,
        and, with ``move_out``, its move-out and the account closed then.

        Raises
        ------
        ValueError
            ``move_out`` not after ``move_in``, a naive time.
        TenancyError
            An unknown tenant or meter; the unit or the meter occupied in the tenure.
        """
        tenant_id = v.check_id("tenant_id", tenant_id)
        meter_id = v.check_id("meter_id", meter_id)
        unit = v.check_text("unit", unit)
        move_in = v.check_utc("move_in", move_in)
        if move_out is not None:
            move_out = v.check_utc("move_out", move_out)
            if move_out <= move_in:
                raise ValueError(f"move_out must be after move_in, got {move_out.isoformat()}")
        by = _by(by)
        with self._write() as c:
            meter = c.execute(
                select(meters.c.id, meters.c.site_id, meters.c.serial).where(meters.c.id == meter_id)
            ).first()
            problems = []
            if c.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).first() is None:
                problems.append(f"tenant_id {tenant_id} is not a known tenant")
            if meter is None:
                problems.append(f"meter_id {meter_id} is not a known meter")
            if problems:
                raise TenancyError(problems, unknown=True)
            assert meter is not None
            site_id = None if meter.site_id is None else int(meter.site_id)
            same_site = units.c.site_id.is_(None) if site_id is None else units.c.site_id == site_id
            found = c.execute(
                select(units).where(same_site, units.c.meter_id == meter_id, units.c.name == unit)
            ).first()
            if found is None:
                name, k = unit, 2
                while c.execute(select(units.c.id).where(same_site, units.c.name == name)).first():
                    name = f"{unit} ({meter.serial})" if k == 2 else f"{unit} ({meter.serial}, {k})"
                    k += 1
                target = self._create_unit(c, site_id, name, meter_id, None, by, move_in)
            else:
                target = _unit(found)
            account = self._open_account(c, tenant_id, site_id, None, move_in, by)
            self._move_in(c, account.id, target.id, move_in, move_out, by)
            if move_out is not None:
                account = self._close(c, account.id, move_out, by)
        return account

    # -- the operations, inside a transaction ------------------------------------------------------------

    def _record(
        self,
        c: Connection,
        kind: str,
        at: datetime,
        by: str | None,
        *,
        tenant_id: int | None = None,
        account_id: int | None = None,
        unit_id: int | None = None,
        occupancy_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        c.execute(
            insert(tenancy_events).values(
                kind=kind,
                at=at,
                recorded_at=_now(),
                recorded_by=by,
                tenant_id=tenant_id,
                account_id=account_id,
                unit_id=unit_id,
                occupancy_id=occupancy_id,
                detail=v.check_json("detail", detail or {}),
            )
        )

    @staticmethod
    def _find_unit(c: Connection, unit_id: int) -> Unit | None:
        row = c.execute(select(units).where(units.c.id == unit_id)).first()
        return None if row is None else _unit(row)

    @staticmethod
    def _lock_account(c: Connection, account_id: int) -> Account | None:
        row = c.execute(select(accounts).where(accounts.c.id == account_id).with_for_update()).first()
        return None if row is None else _account(row)

    @staticmethod
    def _occupancies_where(c: Connection, *where: Any) -> list[Occupancy]:
        query = select(*_OCCUPANCY_COLUMNS).select_from(_OCCUPANCY_FROM).where(*where)
        rows = c.execute(query.order_by(occupancies.c.move_in, occupancies.c.id)).all()
        return [_occupancy(r) for r in rows]

    def _open_occupancy(self, c: Connection, account_id: int) -> Occupancy | None:
        found = self._occupancies_where(
            c, occupancies.c.account_id == account_id, occupancies.c.move_out.is_(None)
        )
        return found[-1] if found else None

    def _create_unit(
        self,
        c: Connection,
        site_id: int | None,
        name: str,
        meter_id: int,
        address: str | None,
        by: str | None,
        at: datetime | None = None,
    ) -> Unit:
        problems: list[str] = []
        unknown = False
        if site_id is not None and c.execute(select(sites.c.id).where(sites.c.id == site_id)).first() is None:
            problems.append(f"site_id {site_id} is not a known site")
            unknown = True
        meter = c.execute(select(meters.c.site_id, meters.c.serial).where(meters.c.id == meter_id)).first()
        if meter is None:
            problems.append(f"meter_id {meter_id} is not a known meter")
            unknown = True
        elif meter.site_id != site_id:
            problems.append(
                f"meter {meter.serial} is at site {meter.site_id}, not site {site_id}: a unit's meter is "
                "of its site"
            )
        same_site = units.c.site_id.is_(None) if site_id is None else units.c.site_id == site_id
        taken = c.execute(select(units.c.id).where(same_site, units.c.name == name)).first()
        if taken is not None:
            problems.append(f"site {site_id} has a unit named {name!r} already (unit_id {taken.id})")
        if problems:
            raise TenancyError(problems, unknown=unknown)
        unit_id = int(
            c.execute(
                insert(units)
                .values(site_id=site_id, name=name, address=address, meter_id=meter_id)
                .returning(units.c.id)
            ).scalar_one()
        )
        detail = {"name": name, "site_id": site_id, "meter_id": meter_id, "address": address}
        self._record(c, "unit_created", _now() if at is None else at, by, unit_id=unit_id, detail=detail)
        return Unit(unit_id, site_id, name, address, meter_id)

    def _open_account(
        self,
        c: Connection,
        tenant_id: int,
        site_id: int | None,
        number: str | None,
        opened_at: datetime,
        by: str | None,
    ) -> Account:
        problems: list[str] = []
        if c.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).first() is None:
            problems.append(f"tenant_id {tenant_id} is not a known tenant")
        # a site's row is locked while its next number is found (PostgreSQL): two opened at once get two
        site = select(sites.c.id).where(sites.c.id == site_id).with_for_update()
        if site_id is not None and c.execute(site).first() is None:
            problems.append(f"site_id {site_id} is not a known site")
        if problems:
            raise TenancyError(problems, unknown=True)
        same_site = accounts.c.site_id.is_(None) if site_id is None else accounts.c.site_id == site_id
        if number is None:
            numbers = [
                int(n) for (n,) in c.execute(select(accounts.c.number).where(same_site)) if n.isdigit()
            ]
            number = str(max([FIRST_ACCOUNT_NUMBER - 1, *numbers]) + 1)
        else:
            taken = c.execute(select(accounts.c.id).where(same_site, accounts.c.number == number)).first()
            if taken is not None:
                raise TenancyError([f"number {number!r} is already account_id {taken.id} at site {site_id}"])
        account_id = int(
            c.execute(
                insert(accounts)
                .values(number=number, site_id=site_id, tenant_id=tenant_id, opened_at=opened_at)
                .returning(accounts.c.id)
            ).scalar_one()
        )
        detail = {"number": number, "site_id": site_id}
        self._record(
            c, "account_opened", opened_at, by, tenant_id=tenant_id, account_id=account_id, detail=detail
        )
        return Account(account_id, number, site_id, tenant_id, opened_at, None)

    def _in_problems(
        self,
        c: Connection,
        account: Account,
        unit: Unit,
        move_in: datetime,
        move_out: datetime | None,
        *,
        skip: Occupancy | None = None,
    ) -> list[str]:
        """What refuses the account's tenure of the unit over ``(move_in, move_out]``; the meter is locked.

        ``skip``: an occupancy of the account that ends at ``move_in`` in the same operation (a transfer)."""
        problems: list[str] = []
        if account.closed_at is not None:
            problems.append(
                f"account {account.number} was closed at {account.closed_at.isoformat()}: a closed account "
                "takes no move-in"
            )
        if unit.site_id != account.site_id:
            problems.append(
                f"unit {unit.name} is at site {unit.site_id}, account {account.number} at site "
                f"{account.site_id}: an account occupies units of its own site"
            )
        self._lock_meter(c, unit.meter_id)
        serial = c.execute(select(meters.c.serial).where(meters.c.id == unit.meter_id)).scalar_one()
        others = self._occupancies_where(
            c,
            or_(
                units.c.meter_id == unit.meter_id,
                occupancies.c.account_id == account.id,
            ),
        )
        numbers = {
            int(r.id): r.number
            for r in c.execute(
                select(accounts.c.id, accounts.c.number).where(
                    accounts.c.id.in_(sorted({o.account_id for o in others}))
                )
            )
        }
        for o in others:
            end = move_in if skip is not None and o.id == skip.id else o.move_out
            if not _overlap(move_in, move_out, o.move_in, end):
                continue
            span = f"from {o.move_in.isoformat()} to {_shown(end)}"
            if o.account_id == account.id:
                problems.append(
                    f"account {account.number} occupies unit {o.unit} {span}: an account holds one unit at a "
                    "time (a transfer moves it)"
                )
            elif o.unit_id == unit.id:
                problems.append(f"unit {unit.name} is occupied by account {numbers[o.account_id]} {span}")
            else:
                problems.append(
                    f"meter {serial} of unit {unit.name} also measures unit {o.unit}, occupied by account "
                    f"{numbers[o.account_id]} {span}"
                )
        return problems

    def _insert_occupancy(
        self, c: Connection, account: Account, unit: Unit, move_in: datetime, move_out: datetime | None
    ) -> Occupancy:
        occupancy_id = int(
            c.execute(
                insert(occupancies)
                .values(account_id=account.id, unit_id=unit.id, move_in=move_in, move_out=move_out)
                .returning(occupancies.c.id)
            ).scalar_one()
        )
        return Occupancy(
            occupancy_id, account.id, account.tenant_id, unit.id, unit.name, unit.meter_id, move_in, move_out
        )

    def _move_in(
        self,
        c: Connection,
        account_id: int,
        unit_id: int,
        at: datetime,
        move_out: datetime | None,
        by: str | None,
    ) -> Occupancy:
        account = self._lock_account(c, account_id)
        unit = self._find_unit(c, unit_id)
        problems: list[str] = []
        if account is None:
            problems.append(f"account_id {account_id} is not a known account")
        if unit is None:
            problems.append(f"unit_id {unit_id} is not a known unit")
        if account is not None and unit is not None:
            problems += self._in_problems(c, account, unit, at, move_out)
        if problems:
            raise TenancyError(problems, unknown=account is None or unit is None)
        assert account is not None
        assert unit is not None
        occupancy = self._insert_occupancy(c, account, unit, at, move_out)
        detail = {"unit": unit.name, "meter_id": unit.meter_id}
        self._record(
            c,
            "moved_in",
            at,
            by,
            tenant_id=account.tenant_id,
            account_id=account.id,
            unit_id=unit.id,
            occupancy_id=occupancy.id,
            detail=detail,
        )
        if move_out is not None:
            self._record(
                c,
                "moved_out",
                move_out,
                by,
                tenant_id=account.tenant_id,
                account_id=account.id,
                unit_id=unit.id,
                occupancy_id=occupancy.id,
                detail={"unit": unit.name},
            )
        return occupancy

    @staticmethod
    def _out_problems(account: Account, current: Occupancy | None, at: datetime) -> list[str]:
        problems: list[str] = []
        if account.closed_at is not None:
            problems.append(f"account {account.number} was closed at {account.closed_at.isoformat()}")
        if current is None:
            problems.append(f"account {account.number} has no open occupancy: nothing to move out of")
        elif at <= current.move_in:
            problems.append(
                f"the move-out at {at.isoformat()} is not after the move-in at {current.move_in.isoformat()} "
                f"(account {account.number}, unit {current.unit})"
            )
        return problems

    def _move_out(self, c: Connection, account_id: int, at: datetime, by: str | None) -> Occupancy:
        account = self._lock_account(c, account_id)
        if account is None:
            raise TenancyError([f"account_id {account_id} is not a known account"], unknown=True)
        current = self._open_occupancy(c, account_id)
        problems = self._out_problems(account, current, at)
        if problems:
            raise TenancyError(problems)
        assert current is not None
        c.execute(update(occupancies).where(occupancies.c.id == current.id).values(move_out=at))
        self._record(
            c,
            "moved_out",
            at,
            by,
            tenant_id=account.tenant_id,
            account_id=account.id,
            unit_id=current.unit_id,
            occupancy_id=current.id,
            detail={"unit": current.unit},
        )
        return replace(current, move_out=at)

    def _close(self, c: Connection, account_id: int, at: datetime, by: str | None) -> Account:
        account = self._lock_account(c, account_id)
        if account is None:
            raise TenancyError([f"account_id {account_id} is not a known account"], unknown=True)
        problems: list[str] = []
        if account.closed_at is not None:
            problems.append(f"account {account.number} was closed already at {account.closed_at.isoformat()}")
        for o in self._occupancies_where(c, occupancies.c.account_id == account_id):
            if o.move_out is None:
                since = o.move_in.isoformat()
                problems.append(
                    f"account {account.number} occupies unit {o.unit} since {since}: move out first"
                )
            elif o.move_out > at:
                problems.append(
                    f"account {account.number} occupies unit {o.unit} until {o.move_out.isoformat()}, after "
                    f"the close at {at.isoformat()}"
                )
        if problems:
            raise TenancyError(problems)
        c.execute(update(accounts).where(accounts.c.id == account_id).values(closed_at=at))
        self._record(
            c,
            "account_closed",
            at,
            by,
            tenant_id=account.tenant_id,
            account_id=account_id,
            detail={"number": account.number},
        )
        return replace(account, closed_at=at)
