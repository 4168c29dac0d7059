"""What people call a meter: its site, its unit, the tenant and account living there, in one place.

Building managers, installers and tenants think in buildings, units and tenants, not in serial numbers
(issue 15): every table of the dashboard and of the command line puts these names first and keeps the
serial one click (or one column) away. :func:`meter_names` reads them for a site, or for every site the
caller sees, in a handful of queries (not one per meter), through whatever store it is given: a scoped
store (:class:`meshmeter.api.scope.ScopedStore`) gives only what its caller may see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meshmeter.store import Meter, Store

__all__ = ["ROLE_NAMES", "MeterName", "meter_names"]

ROLE_NAMES: dict[str, str] = {
    "unit": "unit meter",
    "house": "house meter",
    "production": "production meter",
    "master": "master meter",
}
"""A meter's role in words (:attr:`meshmeter.store.Meter.role`)."""


@dataclass(frozen=True, slots=True)
class MeterName:
    """
    A meter as people name it, at one moment.

    Attributes
    ----------
    meter_id, serial : int, str
        The meter, and its serial (one click away, never first).
    role : str
        ``unit``, ``house``, ``production`` or ``master``.
    make : str
        Its manufacturer and model, or its Mini Meter designation.
    site_id, site : int or None, str or None
        Its site and the site's name.
    unit, address : str or None
        The unit it measures (as the operator names it) and the unit's postal address.
    tenant, account : str or None
        Who lives there at that moment, and their account number; None while the unit is vacant (or for
        a meter measuring no unit).
    account_id : int or None
        That account's id (its page is ``/dashboard/accounts/{account_id}``); None with ``account``.
    """

    meter_id: int
    serial: str
    role: str
    make: str
    site_id: int | None
    site: str | None
    unit: str | None
    address: str | None
    tenant: str | None
    account: str | None
    account_id: int | None = None

    @property
    def label(self) -> str:
        """The short name for a table's first column: the unit (``Unit 101``), else the role in words
        (``House meter``), else the serial."""
        if self.unit is not None:
            return self.unit if self.role != "unit" else f"Unit {self.unit}"
        return ROLE_NAMES.get(self.role, self.serial).capitalize()

    @property
    def occupant(self) -> str:
        """Who lives there, with the account: ``Alvarez household (1001)``; ``vacant`` for a unit meter
        with no tenant; an en dash for a meter of no unit that is not a unit meter."""
        if self.tenant is not None:
            return self.tenant if self.account is None else f"{self.tenant} ({self.account})"
        return "vacant" if self.role == "unit" else "–"

    @property
    def title(self) -> str:
        """One line that names it fully: ``Unit 101 · Alvarez household (1001) · MM26000001``."""
        parts = [self.label]
        if self.occupant not in ("–",):
            parts.append(self.occupant)
        parts.append(self.serial)
        return " · ".join(parts)


def _make(meter: Meter) -> str:
    if meter.manufacturer is not None:
        return " ".join(p for p in (meter.manufacturer, meter.model) if p)
    return meter.designation


def meter_names(
    store: Store, *, site_id: int | None = None, at: datetime | None = None
) -> dict[int, MeterName]:
    """
    The names of every meter of a site (every meter the store shows when ``site_id`` is None), by meter id.

    ``at`` is the moment whose tenant is named (default now): the occupancy of the meter's unit with
    ``move_in < at <= move_out`` (or no move-out yet), as bills count tenures. A meter that measures
    several units over its life is named by the unit that names it now
    (:attr:`meshmeter.store.Unit.meter_id`).
    """
    moment = datetime.now(UTC) if at is None else at
    meters = store.meters(site_id=site_id)
    sites = {s.id: s.name for s in store.sites()}
    units = {u.meter_id: u for u in store.units(site_id=site_id)}
    tenants = {t.id: t.name for t in store.tenants()}
    accounts = {a.id: a.number for a in store.accounts(site_id=site_id)}
    living: dict[int, tuple[int, int]] = {}
    for o in store.occupancies(site_id=site_id):
        if o.move_in < moment and (o.move_out is None or moment <= o.move_out):
            living[o.unit_id] = (o.tenant_id, o.account_id)
    out: dict[int, MeterName] = {}
    for m in meters:
        unit = units.get(m.id)
        tenant_id, account_id = living.get(unit.id, (None, None)) if unit is not None else (None, None)
        out[m.id] = MeterName(
            meter_id=m.id,
            serial=m.serial,
            role=m.role,
            make=_make(m),
            site_id=m.site_id,
            site=None if m.site_id is None else sites.get(m.site_id),
            unit=None if unit is None else unit.name,
            address=None if unit is None else unit.address,
            tenant=None if tenant_id is None else tenants.get(tenant_id),
            account=None if account_id is None else accounts.get(account_id),
            account_id=account_id,
        )
    return out
