"""Bill from the store: one meter's account at a tariff (California re-rating), or a site's master bill shared
by kWh (Maryland allocation), from the validated view and at each meter's own interval length.

``meshmeter bill``, the demo and the dashboard call these; ``docs/billing.md`` has the rules of the bills
themselves (:mod:`meshmeter.billing`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np

from meshmeter.billing import Bill, Tariff, Tenant, bill_meter, maryland_bills
from meshmeter.billing.calendar import interval_grid
from meshmeter.billing.engine import align_intervals
from meshmeter.errors import NotFoundError, NothingToBillError
from meshmeter.intervals import IntervalColumns, Quality, rollup, zone
from meshmeter.store import Meter, Occupancy, Site, Store, StoredBill

__all__ = [
    "MarylandRun",
    "MarylandUnit",
    "accounts_in_service",
    "bill_meter_from_store",
    "billable_view",
    "find_meter",
    "find_site",
    "meter_timezone",
    "save_meter_bill",
    "share_master_bill",
]

_SECOND = timedelta(seconds=1)


def find_meter(store: Store, serial: str) -> Meter:
    """The stored meter of this serial; :class:`~meshmeter.errors.NotFoundError` when there is none."""
    found = store.get_meter(serial=serial)
    if found is None:
        raise NotFoundError("meter", serial, "meshmeter meter add")
    return found


def find_site(store: Store, name: str) -> Site:
    """The stored site of this name; :class:`~meshmeter.errors.NotFoundError` when there is none."""
    for site in store.sites():
        if site.name == name:
            return site
    raise NotFoundError("site", name, "meshmeter site add")


def meter_timezone(store: Store, meter: Meter, timezone: str | None = None) -> str:
    """The IANA zone a meter is billed in: ``timezone`` if given, else its site's (checked)."""
    if timezone is None:
        site = None if meter.site_id is None else store.get_site(site_id=meter.site_id)
        if site is None:
            raise ValueError(f"meter {meter.serial!r} has no site; give its time zone")
        timezone = site.timezone
    zone(timezone)
    return timezone


def _register_read(store: Store, meter: Meter, at: datetime) -> int | None:
    """The register read taken at ``at`` exactly, if any. [Wh]"""
    reads = store.register_reads(meter_id=meter.id, start=at - _SECOND, end=at)
    return reads[-1].energy_wh if reads else None


def billable_view(store: Store, meter: Meter, start: datetime, end: datetime, what: str) -> IntervalColumns:
    """
    The meter's validated view of ``(start, end]``, refused when nothing in it can be billed yet.

    Raises
    ------
    NothingToBillError
        Saying how many intervals are stored and how many of them VEE has not passed yet.
    """
    view = store.interval_view(meter_id=meter.id, start=start, end=end)
    if not view.billed().any():
        raw = int(np.count_nonzero(view.quality == int(Quality.RAW)))
        raise NothingToBillError(
            f"meter {meter.serial!r} has no validated intervals in {what}; run meshmeter vee "
            f"({len(view)} intervals stored, {raw} of them not yet validated)"
        )
    return view


def bill_meter_from_store(
    store: Store,
    *,
    meter: Meter,
    tariff: Tariff,
    start: datetime,
    end: datetime,
    timezone: str,
    tenant: Tenant | None = None,
    opening_read_wh: int | None = None,
) -> Bill:
    """
    Bill one meter's intervals of ``(start, end]`` at a tariff, from the validated view.

    Parameters
    ----------
    store : Store
        Read: the validated view, register reads at ``start`` and ``end``.
    meter : Meter
        The meter; billed at its own interval length.
    tariff : Tariff
        The tariff (:func:`meshmeter.billing.load_tariff`).
    start, end : datetime
        The billing period, aware, on the meter's grid.
    timezone : str
        IANA zone of the tariff's local time (:func:`meter_timezone`).
    tenant : Tenant, optional
        The account printed on the bill, with its move-in and move-out (proration).
    opening_read_wh : int, optional
        The opening register read; default the store's read at ``start``. [Wh]

    Raises
    ------
    NothingToBillError
        When no interval of the period is validated yet.
    """
    view = billable_view(store, meter, start, end, "the period")
    opening = _register_read(store, meter, start) if opening_read_wh is None else opening_read_wh
    return bill_meter(
        tariff,
        view.interval_end_s,
        view.energy_wh,
        view.quality,
        start=start,
        end=end,
        timezone=timezone,
        meter=meter.serial,
        tenant=tenant,
        opening_read_wh=opening,
        closing_read_wh=_register_read(store, meter, end),
        interval_s=view.interval_s,
    )


def accounts_in_service(store: Store, meter: Meter, start: datetime, end: datetime) -> list[Occupancy]:
    """The occupancies of the meter's units in service at some time of ``(start, end]``: each account's
    tenure (its ``account_id``, unit, move-in and move-out), by move-in."""
    return [o for o in store.occupancies(meter_id=meter.id) if o.covers(start, end)]


def save_meter_bill(store: Store, bill: Bill, meter: Meter) -> tuple[StoredBill, bool]:
    """
    Keep a meter's bill with its inputs (idempotent), tied to its site, the meter and, where exactly one
    account of the meter was in service in the period, that account. Returns the stored bill and whether
    it is new.
    """
    served = accounts_in_service(store, meter, bill.start, bill.end)
    return store.save_bill(
        document=bill.to_dict(),
        site_id=meter.site_id,
        account_id=served[0].account_id if len(served) == 1 else None,
        meter_id=meter.id,
    )


@dataclass(frozen=True)
class MarylandUnit:
    """One account's part in a shared master bill (``account``: its tenure of the unit billed)."""

    account: Occupancy
    meter: Meter
    tenant: Tenant
    billed_intervals: int
    """Intervals of the meter's validated view billed in the period (0: the account gets no share). [1]"""
    bill: Bill = field(repr=False)
    stored: tuple[StoredBill, bool] | None = None
    """The stored bill and whether it was new, when the run was saved."""


@dataclass(frozen=True)
class MarylandRun:
    """A site's master bill shared among the accounts in service (:func:`share_master_bill`)."""

    site: Site
    timezone: str
    start: datetime
    end: datetime
    master_total: Decimal
    admin_fee: Decimal
    interval_s: int
    """The grid the shares were counted on: the longest interval length among the site's meters. [s]"""
    units: list[MarylandUnit]

    @property
    def bills(self) -> list[Bill]:
        """Each unit's bill, in order."""
        return [u.bill for u in self.units]

    @property
    def without_share(self) -> list[MarylandUnit]:
        """The units whose meter has no validated interval in the period: they get no share."""
        return [u for u in self.units if not u.billed_intervals]


def share_master_bill(
    store: Store,
    *,
    site: Site,
    master_total: Decimal,
    admin_fee: Decimal,
    start: datetime,
    end: datetime,
    timezone: str | None = None,
    save: bool = False,
) -> MarylandRun:
    """
    Share a site's master bill among the accounts of its meters by each one's billed kWh (Maryland).

    Parameters
    ----------
    store : Store
        Read: the site's meters, accounts, tenants and validated views. Written with ``save``: each unit's
        bill (idempotent).
    site : Site
        The site.
    master_total, admin_fee : Decimal
        The utility's master bill for the period, and the fee per unit bill. [USD]
    start, end : datetime
        The period, aware.
    timezone : str, optional
        IANA zone of the bills' local time; default the site's.
    save : bool, optional
        Keep each unit's bill.

    Notes
    -----
    Meters of several interval lengths are shared on the longest one: finer data is rolled up exactly
    (:func:`~meshmeter.intervals.rollup`); nothing is invented for a finer grid.

    Raises
    ------
    ValueError
        No account in service in the period, or a period that is not one.
    NothingToBillError
        When no meter of the site has a validated interval in the period.
    """
    tz = site.timezone if timezone is None else timezone
    zone(tz)
    if end <= start:
        raise ValueError(f"end must be after start, got start={start.isoformat()} end={end.isoformat()}")
    served: list[tuple[Meter, list[Occupancy]]] = []
    for meter in store.meters(site_id=site.id):
        accounts = accounts_in_service(store, meter, start, end)
        if accounts:
            served.append((meter, accounts))
    if not served:
        raise ValueError(f"site {site.name!r} has no account in service during the period")
    length = max(m.interval_s for m, _ in served)
    grid = interval_grid(start, end, interval_s=length)
    energy: list[np.ndarray] = []
    quality: list[np.ndarray] = []
    parts: list[tuple[Occupancy, Meter, Tenant, int]] = []
    for meter, accounts in served:
        view = rollup(store.interval_view(meter_id=meter.id, start=start, end=end), length)
        on_grid, q_grid = align_intervals(
            grid, view.interval_end_s, view.energy_wh, view.quality, interval_s=length
        )
        billed = int(np.count_nonzero(view.billed()))
        for a in accounts:
            person = store.get_tenant(tenant_id=a.tenant_id)
            tenant = Tenant(
                person.name if person is not None else a.unit,
                a.move_in if a.move_in > start else None,
                a.move_out if a.move_out is not None and a.move_out < end else None,
            )
            parts.append((a, meter, tenant, billed))
            energy.append(on_grid)
            quality.append(q_grid)
    if not any(billed for *_, billed in parts):
        raise NothingToBillError(
            f"the meters of site {site.name!r} have no validated intervals in the period; run meshmeter vee"
        )
    bills = maryland_bills(
        master_total,
        np.stack(energy),
        np.stack(quality),
        start=start,
        end=end,
        timezone=tz,
        meters=[m.serial for _, m, _, _ in parts],
        admin_fee=admin_fee,
        tenants=[t for _, _, t, _ in parts],
        interval_s=length,
    )
    units = []
    for (account, meter, tenant, billed), bill in zip(parts, bills, strict=True):
        stored = None
        if save:
            stored = store.save_bill(
                document=bill.to_dict(), site_id=site.id, account_id=account.account_id, meter_id=meter.id
            )
        units.append(MarylandUnit(account, meter, tenant, billed, bill, stored))
    return MarylandRun(site, tz, start, end, master_total, admin_fee, length, units)
