"""A meter's life (schema version 8, ``docs/billing.md``, "A meter's life"): install, removal, exchange, and
multiplier or CT ratio changes from a date on, each one row of ``meter_changes`` that is never edited.

An **exchange** is one transaction: the old meter's ``remove`` with its final read, the new meter's
``install`` with its first read naming the meter it replaces, and every unit the old meter measured
re-pointed to the new one (``units.meter_id``). A **multiplier** or **CT ratio** change updates the meter's
row (its value from then on) and keeps the history here, with the value before in ``detail["from"]``.

Every operation checks everything it can against the stored state, in the writing transaction, and refuses
with one :class:`~meshmeter.errors.MeterLifeError` naming every problem found: an unknown meter or unit, a
time off the meter's interval grid, a change dated before the meter's last recorded one, a removal not
after the install, a meter removed already or installed already, a new meter that serves a unit already,
a read below the last counter the store holds for the meter then (``raw_intervals``' cumulative, register
reads), a read a register of the meter's digits cannot show. Nothing of a refused call is stored. The
meters concerned are locked while they are checked and written (PostgreSQL ``FOR NO KEY UPDATE``;
SQLite's one writer).

Reads are the register as read, in Wh, before the multiplier: the unit of ``register_reads`` and of the
intervals' counters. A register of ``register_digits`` whole-kWh digits shows ``0 .. 10**digits kWh`` and
then starts again at 0, so a read below the last counter is taken as a rollover when the register passes
zero within the last tenth of its range (:data:`ROLLOVER_SHARE`); otherwise it ran backwards, and is refused.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Row, func, insert, select, update

from meshmeter.errors import MeterLifeError
from meshmeter.store import _validate as v
from meshmeter.store.base import StoreBase, _now
from meshmeter.store.columns import _overlay_latest
from meshmeter.store.driver import _main_columns, _revision_columns
from meshmeter.store.models import MeterChange
from meshmeter.store.schema import meter_changes, meters, raw_intervals, register_reads, sites, units
from meshmeter.store.types import epoch_s

__all__ = ["ROLLOVER_SHARE", "MeterLifeMixin"]

ROLLOVER_SHARE = 10
"""A read below the last counter is a rollover only when the register passes zero within the last
``1 / ROLLOVER_SHARE`` of its range (a 6-digit register: within 100,000 kWh of 1,000,000 kWh). [1]"""

_DAY_S = 86_400
_T = TypeVar("_T")


def _register_modulus_wh(register_digits: int | None) -> int | None:
    """Where a register of ``register_digits`` whole-kWh digits rolls over, in Wh of the register: the
    store's copy of :func:`meshmeter.billing.meterlife.register_modulus_wh`, which the store may not
    import (``docs/architecture.md``, the house). [Wh]"""
    return None if register_digits is None else 10 ** (int(register_digits) + 3)


def _kwh(wh: int) -> str:
    """A read in words: ``12,345.670 kWh``."""
    return f"{wh / 1000:,.3f} kWh"


def _change(r: Row[Any]) -> MeterChange:
    def opt(value: Any) -> int | None:
        return None if value is None else int(value)

    return MeterChange(
        int(r.id),
        int(r.meter_id),
        r.kind,
        r.at,
        opt(r.read_wh),
        None if r.value is None else float(r.value),
        opt(r.replaces_meter_id),
        opt(r.unit_id),
        r.recorded_at,
        r.recorded_by,
        dict(r.detail),
    )


class _Problems:
    """Problems gathered before refusing (``unknown``: one of them is an id or serial naming nothing)."""

    def __init__(self, given: Sequence[str] = ()) -> None:
        self.items: list[str] = list(given)
        self.given = bool(given)
        self.unknown = False

    def add(self, text: str, *, unknown: bool = False) -> None:
        self.items.append(text)
        self.unknown = self.unknown or unknown

    def check(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T | None:
        """``fn(*args)``, or None with its ValueError kept as a problem."""
        try:
            return fn(*args, **kwargs)
        except ValueError as exc:
            self.add(str(exc))
            return None

    def raise_any(self) -> None:
        if self.items:
            raise MeterLifeError(self.items, unknown=self.unknown)


def _read(problems: _Problems, name: str, value: object, *, required: bool = True) -> int | None:
    if value is None:
        if required and not problems.given:
            problems.add(f"{name} is required: the register as read then [Wh]")
        return None
    return problems.check(v.check_energy_wh, name, value)


def _value(problems: _Problems, name: str, value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        problems.add(f"{name} must be a finite number > 0, got {value!r}")
        return None
    if float(value) <= 0:
        problems.add(f"{name} must be a finite number > 0, got {value!r}")
        return None
    return float(value)


class MeterLifeMixin(StoreBase):
    """A meter's life: install, removal, exchange, multiplier and CT ratio changes, and their history."""

    # -- reading -----------------------------------------------------------------------------------------

    def meter_changes(
        self,
        *,
        meter_id: int | None = None,
        unit_id: int | None = None,
        meter_ids: Sequence[int] | None = None,
        replaces_meter_id: int | None = None,
    ) -> list[MeterChange]:
        """
        Changes in meters' lives, by ``at`` then id: of one meter, one unit (the changes that name it), one
        of ``meter_ids``, the installs that replaced a meter (``replaces_meter_id``), or every one when
        none is given.
        """
        t = meter_changes
        query = select(t).order_by(t.c.at, t.c.id)
        if meter_id is not None:
            query = query.where(t.c.meter_id == v.check_id("meter_id", meter_id))
        if unit_id is not None:
            query = query.where(t.c.unit_id == v.check_id("unit_id", unit_id))
        if meter_ids is not None:
            query = query.where(t.c.meter_id.in_(sorted({v.check_id("meter_ids", m) for m in meter_ids})))
        if replaces_meter_id is not None:
            query = query.where(t.c.replaces_meter_id == v.check_id("replaces_meter_id", replaces_meter_id))
        with self._read() as c:
            rows = c.execute(query).all()
        return [_change(r) for r in rows]

    def last_counter_wh(self, *, meter_id: int, at: datetime) -> tuple[datetime, int] | None:
        """The last register counter the store holds for the meter at or before ``at``: the latest of its
        raw intervals' cumulative and its register reads, with when it was taken; None when it holds none.
        [Wh]"""
        meter_id = v.check_id("meter_id", meter_id)
        at = v.check_utc("at", at)
        with self._read() as c:
            return self._last_counter(c, meter_id, at)

    # -- writing -----------------------------------------------------------------------------------------

    def install_meter(
        self,
        *,
        meter_id: int,
        at: datetime,
        first_read_wh: int | None,
        unit_id: int | None = None,
        by: str | None = None,
        given_problems: Sequence[str] = (),
    ) -> MeterChange:
        """
        Record that a meter was installed at ``at`` with its register reading ``first_read_wh``.

        Parameters
        ----------
        meter_id : int
            The meter.
        at : datetime
            When, on the meter's interval grid: its intervals ending after ``at`` are in service.
        first_read_wh : int
            The register as read at installation, before the multiplier. [Wh]
        unit_id : int, optional
            The unit it measures: one measured by this meter, or one with no meter in service. Default:
            the unit this meter measures, when it is exactly one.
        by : str, optional
            Who, for the history.
        given_problems : sequence of str, optional
            Problems the caller found in what it was given (a read typed wrong; every method takes
            them): named first, with every problem found here; a read it could not read is None.

        Raises
        ------
        MeterLifeError
            Naming every problem (see the module); nothing is stored.
        """
        p = _Problems(given_problems)
        mid = p.check(v.check_id, "meter_id", meter_id)
        when = p.check(v.check_utc, "at", at)
        read = _read(p, "first_read_wh", first_read_wh)
        unit_id = None if unit_id is None else p.check(v.check_id, "unit_id", unit_id)
        by = None if by is None else p.check(v.check_text, "by", by)
        if mid is None or when is None:
            raise MeterLifeError(p.items)
        meter_id, at = mid, when
        with self._write() as c:
            meter = self._meter_row(c, p, meter_id, "meter_id")
            if meter is not None:
                self._check_on_grid(p, meter, at)
                self._check_installable(c, p, meter, at)
                if read is not None:
                    self._check_read_range(p, meter, "first_read_wh", read)
                units_of = self._units_of(c, meter_id)
                if unit_id is None:
                    unit_id = units_of[0] if len(units_of) == 1 else None
                else:
                    row = c.execute(select(units).where(units.c.id == unit_id)).first()
                    if row is None:
                        p.add(f"unit_id {unit_id} is not a known unit", unknown=True)
                    elif int(row.meter_id) != meter_id:
                        p.add(
                            f"unit {row.name!r} (unit_id {unit_id}) is measured by meter_id {row.meter_id}: "
                            f"exchange that meter for this one instead"
                        )
            p.raise_any()
            assert meter is not None
            assert read is not None
            change = self._insert_change(
                c, meter_id, "install", at, by, read_wh=read, unit_id=unit_id, detail={}
            )
            self._set_install_date(c, meter, at)
        return change

    def remove_meter(
        self,
        *,
        meter_id: int,
        at: datetime,
        final_read_wh: int | None,
        by: str | None = None,
        given_problems: Sequence[str] = (),
    ) -> MeterChange:
        """
        Record that a meter was removed at ``at`` with its register reading ``final_read_wh``; its units
        keep naming it until another meter is installed in its place (:meth:`exchange_meter`).

        Raises
        ------
        MeterLifeError
            Naming every problem (see the module): a removal not after the install, a meter removed
            already, a final read below the last counter the store holds for it then ...; nothing is stored.
        """
        p = _Problems(given_problems)
        mid = p.check(v.check_id, "meter_id", meter_id)
        when = p.check(v.check_utc, "at", at)
        read = _read(p, "final_read_wh", final_read_wh)
        by = None if by is None else p.check(v.check_text, "by", by)
        if mid is None or when is None:
            raise MeterLifeError(p.items)
        meter_id, at = mid, when
        with self._write() as c:
            meter = self._meter_row(c, p, meter_id, "meter_id")
            if meter is not None:
                self._check_on_grid(p, meter, at)
                self._check_removable(c, p, meter, at)
                if read is not None:
                    self._check_final_read(c, p, meter, at, "final_read_wh", read)
            p.raise_any()
            assert read is not None
            units_of = self._units_of(c, meter_id)
            change = self._insert_change(
                c,
                meter_id,
                "remove",
                at,
                by,
                read_wh=read,
                unit_id=units_of[0] if len(units_of) == 1 else None,
                detail={"unit_ids": units_of},
            )
        return change

    def exchange_meter(
        self,
        *,
        old_meter_id: int,
        new_meter_id: int,
        at: datetime,
        final_read_wh: int | None,
        first_read_wh: int | None,
        by: str | None = None,
        given_problems: Sequence[str] = (),
    ) -> tuple[MeterChange, MeterChange]:
        """
        Exchange a meter at ``at``, in one transaction: the old meter's removal with its final read, the new
        meter's install with its first read naming the old one, and the old meter's units re-pointed to the
        new meter. The account of each unit is billed from the old meter's intervals up to ``at`` and the
        new meter's after (``meshmeter.services.billing``).

        Parameters
        ----------
        old_meter_id, new_meter_id : int
            The meter taken out and the meter put in.
        at : datetime
            When, on both meters' interval grids.
        final_read_wh, first_read_wh : int
            The old meter's register at removal and the new meter's at install, before their
            multipliers. [Wh]
        by : str, optional
            Who, for the history.

        Returns
        -------
        (MeterChange, MeterChange)
            The removal and the install.

        Raises
        ------
        MeterLifeError
            Naming every problem: unknown meters, the same meter twice, a time off either meter's grid or
            before a recorded change, an old meter removed already, a new meter installed already or
            serving a unit, a meter of another site, a final read below the old meter's last counter, a
            read its register cannot show; nothing is stored.
        """
        p = _Problems(given_problems)
        old_id = p.check(v.check_id, "old_meter_id", old_meter_id)
        new_id = p.check(v.check_id, "new_meter_id", new_meter_id)
        when = p.check(v.check_utc, "at", at)
        final = _read(p, "final_read_wh", final_read_wh)
        first = _read(p, "first_read_wh", first_read_wh)
        by = None if by is None else p.check(v.check_text, "by", by)
        if old_id is not None and old_id == new_id:
            p.add(f"new_meter_id {new_id} is the old meter: an exchange puts another meter in its place")
        if old_id is None or new_id is None or when is None or old_id == new_id:
            raise MeterLifeError(p.items)
        at = when
        with self._write() as c:
            for meter_id in sorted((old_id, new_id)):  # in one order, so two exchanges cannot deadlock
                self._lock_meter_quietly(c, meter_id)
            old = self._meter_row(c, p, old_id, "old_meter_id")
            new = self._meter_row(c, p, new_id, "new_meter_id")
            if old is not None:
                self._check_on_grid(p, old, at)
                self._check_removable(c, p, old, at)
                if final is not None:
                    self._check_final_read(c, p, old, at, "final_read_wh", final)
            if new is not None:
                self._check_on_grid(p, new, at)
                self._check_installable(c, p, new, at)
                if first is not None:
                    self._check_read_range(p, new, "first_read_wh", first)
                for row in c.execute(select(units).where(units.c.meter_id == new_id).order_by(units.c.id)):
                    p.add(
                        f"new meter {new.serial!r} already measures unit {row.name!r} (unit_id {row.id}): "
                        "a meter serves one place at a time"
                    )
            if old is not None and new is not None:
                if new.site_id is not None and old.site_id is not None and new.site_id != old.site_id:
                    p.add(
                        f"new meter {new.serial!r} is of site_id {new.site_id}, the old meter "
                        f"{old.serial!r} of site_id {old.site_id}"
                    )
                if new.role != old.role:
                    p.add(
                        f"new meter {new.serial!r} measures {new.role!r}, the old meter {old.serial!r} "
                        f"{old.role!r}: an exchange keeps what is measured"
                    )
            p.raise_any()
            assert old is not None
            assert new is not None
            assert final is not None
            assert first is not None
            units_of = self._units_of(c, old_id)
            unit_id = units_of[0] if len(units_of) == 1 else None
            detail = {"unit_ids": units_of}
            removal = self._insert_change(
                c, old_id, "remove", at, by, read_wh=final, unit_id=unit_id, detail=detail
            )
            install = self._insert_change(
                c,
                new_id,
                "install",
                at,
                by,
                read_wh=first,
                unit_id=unit_id,
                replaces_meter_id=old_id,
                detail=detail,
            )
            if units_of:
                c.execute(update(units).where(units.c.meter_id == old_id).values(meter_id=new_id))
            if new.site_id is None and old.site_id is not None:
                c.execute(update(meters).where(meters.c.id == new_id).values(site_id=old.site_id))
            self._set_install_date(c, new, at, site_id=old.site_id if new.site_id is None else None)
        return removal, install

    def change_meter_multiplier(
        self,
        *,
        meter_id: int,
        at: datetime,
        multiplier: float,
        read_wh: int | None = None,
        by: str | None = None,
        given_problems: Sequence[str] = (),
    ) -> MeterChange:
        """
        Change a meter's multiplier (register reading to energy) from ``at`` on: its intervals ending after
        ``at`` are billed at it. The meter's row takes the new value; the history keeps the old one.

        Parameters
        ----------
        multiplier : float
            The new multiplier, > 0. [1]
        read_wh : int, optional
            The register as read then, before either multiplier. [Wh]

        Raises
        ------
        MeterLifeError
            Naming every problem: an unknown or removed meter, a time off its grid or before its last
            recorded change, the multiplier it has already, a read below its last counter; nothing is
            stored.
        """
        return self._change_value(meter_id, at, "multiplier", multiplier, read_wh, by, given_problems)

    def change_meter_ct_ratio(
        self,
        *,
        meter_id: int,
        at: datetime,
        ct_ratio: float,
        read_wh: int | None = None,
        by: str | None = None,
        given_problems: Sequence[str] = (),
    ) -> MeterChange:
        """
        Change a meter's CT ratio (CT primary / secondary, 200:0.1 A gives 2000) from ``at`` on: other CTs
        were fitted. The meter's row takes the new value (the ingest doors' limit follows it); the
        history keeps the old one. It does not scale energy by itself: when the meter's register does not
        account for the new CTs, change its multiplier too (``docs/billing.md``, "A meter's life").

        Raises
        ------
        MeterLifeError
            As :meth:`change_meter_multiplier`.
        """
        return self._change_value(meter_id, at, "ct_ratio", ct_ratio, read_wh, by, given_problems)

    # -- checks and writes -------------------------------------------------------------------------------

    def _change_value(
        self,
        meter_id: int,
        at: datetime,
        kind: str,
        value: float,
        read_wh: int | None,
        by: str | None,
        given_problems: Sequence[str],
    ) -> MeterChange:
        p = _Problems(given_problems)
        mid = p.check(v.check_id, "meter_id", meter_id)
        when = p.check(v.check_utc, "at", at)
        checked = _value(p, kind, value)
        read = _read(p, "read_wh", read_wh, required=False)
        by = None if by is None else p.check(v.check_text, "by", by)
        if mid is None or when is None:
            raise MeterLifeError(p.items)
        meter_id, at = mid, when
        with self._write() as c:
            meter = self._meter_row(c, p, meter_id, "meter_id")
            before: float | None = None
            if meter is not None:
                self._check_on_grid(p, meter, at)
                self._check_in_order(c, p, meter, at, kind)
                state = self._state(c, meter_id)
                if state is not None and state[0] == "remove" and state[1] <= at:
                    p.add(f"meter {meter.serial!r} was removed at {state[1].isoformat()}")
                before = float(meter.multiplier if kind == "multiplier" else meter.ct_ratio)
                if checked is not None and checked == before:
                    p.add(f"meter {meter.serial!r} has {kind} {before:g} already")
                if read is not None:
                    self._check_final_read(c, p, meter, at, "read_wh", read)
            p.raise_any()
            assert checked is not None
            change = self._insert_change(
                c, meter_id, kind, at, by, read_wh=read, value=checked, detail={"from": before}
            )
            c.execute(update(meters).where(meters.c.id == meter_id).values({kind: checked}))
        return change

    def _meter_row(self, c: Connection, p: _Problems, meter_id: int, field: str) -> Row[Any] | None:
        self._lock_meter_quietly(c, meter_id)
        row = c.execute(select(meters).where(meters.c.id == meter_id)).first()
        if row is None:
            p.add(f"{field} {meter_id} is not a known meter", unknown=True)
        return row

    def _lock_meter_quietly(self, c: Connection, meter_id: int) -> None:
        """Lock the meter's row when it exists (PostgreSQL); an unknown one is named by the caller."""
        if self.dialect_name == "postgresql":
            c.execute(select(meters.c.id).where(meters.c.id == meter_id).with_for_update(key_share=True))

    @staticmethod
    def _check_on_grid(p: _Problems, meter: Row[Any], at: datetime) -> None:
        step = int(meter.interval_s)
        if epoch_s(at) % step:
            p.add(
                f"at {at.isoformat()} is not on meter {meter.serial!r}'s grid of {step // 60}-minute "
                "intervals: a change takes effect at an interval's end"
            )

    @staticmethod
    def _state(c: Connection, meter_id: int) -> tuple[str, datetime] | None:
        """The meter's last install or removal (kind, at), or None."""
        t = meter_changes
        row = c.execute(
            select(t.c.kind, t.c.at)
            .where(t.c.meter_id == meter_id, t.c.kind.in_(("install", "remove")))
            .order_by(t.c.at.desc(), t.c.id.desc())
            .limit(1)
        ).first()
        return None if row is None else (row.kind, row.at)

    @staticmethod
    def _check_in_order(c: Connection, p: _Problems, meter: Row[Any], at: datetime, kind: str) -> None:
        """A change is not dated before the meter's last recorded one (the history is in time order)."""
        t = meter_changes
        last = c.execute(
            select(t.c.kind, t.c.at).where(t.c.meter_id == meter.id).order_by(t.c.at.desc()).limit(1)
        ).first()
        if last is not None and at < last.at:
            p.add(
                f"at {at.isoformat()} is before meter {meter.serial!r}'s last recorded change "
                f"({last.kind} at {last.at.isoformat()}): changes are recorded in time order"
            )

    def _check_installable(self, c: Connection, p: _Problems, meter: Row[Any], at: datetime) -> None:
        self._check_in_order(c, p, meter, at, "install")
        state = self._state(c, meter.id)
        if state is not None and state[0] == "install":
            p.add(
                f"meter {meter.serial!r} is installed already (since {state[1].isoformat()}): remove it first"
            )
        elif state is not None and at <= state[1]:
            p.add(
                f"the install of meter {meter.serial!r} at {at.isoformat()} is not after its removal at "
                f"{state[1].isoformat()}"
            )

    def _check_removable(self, c: Connection, p: _Problems, meter: Row[Any], at: datetime) -> None:
        self._check_in_order(c, p, meter, at, "remove")
        state = self._state(c, meter.id)
        if state is not None and state[0] == "remove":
            p.add(f"meter {meter.serial!r} was removed already at {state[1].isoformat()}")
        elif state is not None and at <= state[1]:
            p.add(
                f"the removal of meter {meter.serial!r} at {at.isoformat()} is not after its install at "
                f"{state[1].isoformat()}"
            )

    @staticmethod
    def _check_read_range(p: _Problems, meter: Row[Any], name: str, read: int) -> None:
        modulus = _register_modulus_wh(meter.register_digits)
        if modulus is not None and read >= modulus:
            p.add(
                f"{name} {_kwh(read)} is more than meter {meter.serial!r}'s register of "
                f"{meter.register_digits} digits shows (it rolls over to 0 at {_kwh(modulus)})"
            )

    def _check_final_read(
        self, c: Connection, p: _Problems, meter: Row[Any], at: datetime, name: str, read: int
    ) -> None:
        """A read at ``at`` not below the last counter the store holds for the meter then (modulo its
        register's range, through a rollover near the top of it)."""
        self._check_read_range(p, meter, name, read)
        last = self._last_counter(c, int(meter.id), at)
        if last is None:
            return
        when, counter = last
        modulus = _register_modulus_wh(meter.register_digits)
        shown = counter if modulus is None else counter % modulus
        if read >= shown:
            return
        if modulus is not None and read + modulus - shown <= modulus // ROLLOVER_SHARE:
            return  # the register rolled over to 0 since
        p.add(
            f"{name} {_kwh(read)} is below {_kwh(shown)}, the counter of meter {meter.serial!r} at "
            f"{when.isoformat()}: a register never runs backwards"
        )

    @staticmethod
    def _last_counter(c: Connection, meter_id: int, at: datetime) -> tuple[datetime, int] | None:
        found: tuple[datetime, int] | None = None
        last_end = c.execute(
            select(func.max(raw_intervals.c.interval_end)).where(
                raw_intervals.c.meter_id == meter_id, raw_intervals.c.interval_end <= at
            )
        ).scalar_one_or_none()
        if last_end is not None:
            hi = epoch_s(last_end)
            lo = hi - 2 * _DAY_S
            ends, energy, cumulative, _ = _main_columns(c, meter_id, lo, hi, decode=True)
            r_ends, _, r_energy, r_cumulative, _ = _revision_columns(c, meter_id, lo, hi)
            energy, cumulative = _overlay_latest(ends, r_ends, (energy, r_energy), (cumulative, r_cumulative))
            known = (cumulative >= 0).nonzero()[0]
            if known.size:
                i = int(known[-1])
                found = (datetime.fromtimestamp(int(ends[i]), last_end.tzinfo), int(cumulative[i]))
        t = register_reads
        read = c.execute(
            select(t.c.read_at, t.c.energy_wh)
            .where(t.c.meter_id == meter_id, t.c.read_at <= at)
            .order_by(t.c.read_at.desc())
            .limit(1)
        ).first()
        if read is not None and (found is None or read.read_at > found[0]):
            found = (read.read_at, int(read.energy_wh))
        return found

    @staticmethod
    def _units_of(c: Connection, meter_id: int) -> list[int]:
        rows = c.execute(select(units.c.id).where(units.c.meter_id == meter_id).order_by(units.c.id))
        return [int(r.id) for r in rows]

    @staticmethod
    def _set_install_date(c: Connection, meter: Row[Any], at: datetime, site_id: int | None = None) -> None:
        """The meter's ``install_date``: the local date of ``at`` at its site (UTC without one)."""
        site = meter.site_id if site_id is None else site_id
        tz = None if site is None else c.execute(select(sites.c.timezone).where(sites.c.id == site)).scalar()
        local = at.astimezone(ZoneInfo(tz)) if tz else at
        c.execute(update(meters).where(meters.c.id == meter.id).values(install_date=local.date()))

    @staticmethod
    def _insert_change(
        c: Connection,
        meter_id: int,
        kind: str,
        at: datetime,
        by: str | None,
        *,
        read_wh: int | None = None,
        value: float | None = None,
        unit_id: int | None = None,
        replaces_meter_id: int | None = None,
        detail: dict[str, Any],
    ) -> MeterChange:
        recorded_at = _now()
        values = {
            "meter_id": meter_id,
            "kind": kind,
            "at": at,
            "read_wh": read_wh,
            "value": value,
            "replaces_meter_id": replaces_meter_id,
            "unit_id": unit_id,
            "recorded_at": recorded_at,
            "recorded_by": by,
            "detail": v.check_json("detail", detail),
        }
        new_id = int(
            c.execute(insert(meter_changes).values(**values).returning(meter_changes.c.id)).scalar_one()
        )
        return MeterChange(
            new_id,
            meter_id,
            kind,
            at,
            read_wh,
            value,
            replaces_meter_id,
            unit_id,
            recorded_at,
            by,
            values["detail"],
        )
