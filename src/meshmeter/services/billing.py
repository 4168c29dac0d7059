"""Bill from the store: one meter's account at a tariff (California re-rating), or a site's master bill shared
by kWh (Maryland allocation), from the validated view and at each meter's own interval length.

``meshmeter bill``, the demo and the dashboard call these; ``docs/billing.md`` has the rules of the bills
themselves (:mod:`meshmeter.billing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from meshmeter.billing import Bill, Tariff, Tenant, bill_meter, maryland_bills
from meshmeter.billing.calendar import interval_grid
from meshmeter.billing.engine import align_intervals
from meshmeter.billing.meterlife import meter_life_inputs, with_meter_life
from meshmeter.errors import NotFoundError, NothingToBillError
from meshmeter.intervals import ESTIMATED_QUALITIES, IntervalColumns, Quality, rollup, zone
from meshmeter.services.corrections import carry_corrections
from meshmeter.services.meterlife import MeterLife, life_reads, life_series, meter_life, own_series
from meshmeter.services.statement import with_statement_from_store
from meshmeter.store import Account, Meter, Occupancy, Site, Store, StoredBill

__all__ = [
    "MarylandRun",
    "MarylandUnit",
    "accounts_in_service",
    "bill_account_from_store",
    "bill_meter_as_occupied",
    "bill_meter_from_store",
    "bill_site_accounts",
    "bill_tenure_from_store",
    "billable_view",
    "find_account",
    "find_meter",
    "find_site",
    "meter_timezone",
    "save_account_bill",
    "save_meter_bill",
    "served_units",
    "share_master_bill",
    "stored_tenant",
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
    credit_in_wh: Sequence[int] | None = None,
    credit_in: Decimal | None = None,
    true_up: bool = False,
    true_up_sell_rate: Decimal | None = None,
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
    credit_in_wh : sequence of int, optional
        Net metering: the kWh credit carried in, per energy period; default, for a meter with an export
        register, the previous stored bill's ``credit_out_wh`` (:func:`credit_carried_in`). [Wh]
    credit_in : Decimal, optional
        Net billing: the dollar credit carried in; default as ``credit_in_wh``. [USD]
    true_up : bool
        Whether this bill is the account's true-up bill: the credit left is settled on it.
    true_up_sell_rate : Decimal, optional
        Net metering true-up: the operator's price of a kWh of credit left (0: it expires unpaid). [USD/kWh]

    Notes
    -----
    Exports (``docs/billing.md``, "Exports from the store"): a meter with an export register
    (:meth:`Store.export_register`) is billed with that register's validated view over the same period
    and grid as its ``export_wh``. Import and export are one measurement of an interval: the interval is
    billed only where both registers' intervals are billed, flagged estimated where either was estimated,
    else apportioned (derived, 11) where either was apportioned between a real device's readings;
    where either is absent, raw or questionable, neither is billed (counted as not billed).

    A meter's life within the period (``docs/billing.md``, "A meter's life";
    :func:`meshmeter.services.meterlife.meter_life`): where the meter was exchanged, the place is billed
    once, from the old meter's intervals up to the exchange and the new meter's after, under the serial of
    the meter serving at the end; each interval is billed at the multiplier in force at its end; an
    install or removal within the period limits the service (as a move-in or move-out does). The bill's
    ``reads`` give each meter's reads, its ``meter_events`` what changed; both are recorded in its inputs
    (``meter_life``) and re-billing gives them back.

    Raises
    ------
    NothingToBillError
        When no interval of the period is validated yet (of the meter or of its export register), or no
        meter was in service in it.
    ValueError
        When the credit to carry in cannot be found (a gap since the previous stored bill).
    """
    register = store.export_register(meter_id=meter.id)
    if register is not None and credit_in_wh is None and credit_in is None:
        credit_in_wh, credit_in = credit_carried_in(store, meter, tariff, start, end)
    carry: dict[str, Any] = {
        "credit_in_wh": credit_in_wh,
        "credit_in": credit_in,
        "true_up": true_up,
        "true_up_sell_rate": true_up_sell_rate,
    }
    life = meter_life(store, meter, start, end)
    reads, events = life_reads(store, life, opening_read_wh=opening_read_wh)
    recorded = meter_life_inputs(reads, events)
    if life.simple:  # one meter, the whole period, multiplier 1, nothing changed: billed as it always was
        view = billable_view(store, meter, start, end, "the period")
        view, exported = _with_exports(store, meter, register, view, start, end)
        opening = _register_read(store, meter, start) if opening_read_wh is None else opening_read_wh
        bill = bill_meter(
            tariff,
            view.interval_end_s,
            view.energy_wh,
            view.quality,
            export_wh=exported,
            **carry,
            start=start,
            end=end,
            timezone=timezone,
            meter=meter.serial,
            tenant=tenant,
            opening_read_wh=opening,
            closing_read_wh=_register_read(store, meter, end),
            interval_s=view.interval_s,
        )
        return with_statement_from_store(store, with_meter_life(bill, recorded), meter)
    # The place's series: each meter's intervals over its part, at its multiplier, on one grid; one bill.
    series, exported = _with_exports(store, meter, register, life_series(store, life), start, end)
    one = reads[0] if len(reads) == 1 else None
    opening = one.opening_wh if one is not None and one.opening_source in _BILL_READS else None
    closing = one.closing_wh if one is not None and one.closing_source in _BILL_READS else None
    if one is not None and closing is None and one.multiplier != 1.0:
        opening = None  # the engine would add energy (after the multiplier) to a register read (before it)
    bill = bill_meter(
        tariff,
        series.interval_end_s,
        series.energy_wh,
        series.quality,
        export_wh=exported,
        **carry,
        start=start,
        end=end,
        timezone=timezone,
        meter=life.last_meter.serial,
        tenant=_in_service(tenant, life),
        opening_read_wh=opening,
        closing_read_wh=closing,
        interval_s=series.interval_s,
    )
    return with_statement_from_store(store, with_meter_life(bill, recorded), life.last_meter)


def _with_exports(
    store: Store,
    meter: Meter,
    register: Meter | None,
    imported: IntervalColumns,
    start: datetime,
    end: datetime,
) -> tuple[IntervalColumns, np.ndarray | None]:
    """
    The meter's imports and its export register's exports on the period's grid, with one quality per
    interval: billed only where both are, estimated where either is, else derived (apportioned, 11) where
    either is (else the import's code); where either is not billed, the code of the one that is not.
    Without an export register, the imports as given and no exports.

    Raises
    ------
    NothingToBillError
        When the export register has no validated interval in the period.
    """
    if register is None:
        return imported, None
    exported = own_series(store, register, start, end)  # its time in service, at its multiplier
    if not exported.billed().any():
        raw = int(np.count_nonzero(exported.quality == int(Quality.RAW)))
        raise NothingToBillError(
            f"export register {register.serial!r} of meter {meter.serial!r} has no validated intervals in"
            f" the period; run meshmeter vee ({len(exported)} intervals stored, {raw} of them not yet"
            " validated)"
        )
    length = imported.interval_s
    if exported.interval_s != length:
        exported = rollup(exported, length)
    grid = interval_grid(start, end, interval_s=length)
    e_in, q_in = align_intervals(
        grid, imported.interval_end_s, imported.energy_wh, imported.quality, interval_s=length
    )
    e_out, q_out = align_intervals(
        grid, exported.interval_end_s, exported.energy_wh, exported.quality, interval_s=length
    )
    on_grid = IntervalColumns(grid, e_in, q_in, length)
    billed_in, billed_out = on_grid.billed(), IntervalColumns(grid, e_out, q_out, length).billed()
    estimated_in = np.isin(q_in, sorted(ESTIMATED_QUALITIES))
    estimated_out = np.isin(q_out, sorted(ESTIMATED_QUALITIES))
    quality = q_in.copy()
    derived = int(Quality.DERIVED)
    both = billed_in & billed_out
    take_out = (billed_in & ~billed_out) | (both & estimated_out & ~estimated_in)
    # an export apportioned between readings makes the interval's figures apportioned (never an estimate's)
    take_out |= both & ~estimated_in & ~estimated_out & (q_out == derived) & (q_in != derived)
    quality[take_out] = q_out[take_out]
    return IntervalColumns(grid, e_in, quality, length), e_out


def credit_carried_in(
    store: Store, meter: Meter, tariff: Tariff, start: datetime, end: datetime
) -> tuple[list[int] | None, Decimal | None]:
    """
    The credit a meter's bill of ``(start, end]`` carries in: the credit left by the previous stored
    bill of the same account and meter (the California bill whose period ends at ``start``; the account
    is the one account of the meter in service in the period, as :func:`save_meter_bill` keeps it, else
    bills kept under no account). A new tenant's first bill carries no one else's credit.

    Returns
    -------
    credit_in_wh, credit_in : list of int or None, Decimal or None
        Net metering: the previous bill's ``credit_out_wh`` (zeros where it carried none, and on the
        first bill); net billing: its ``credit_out`` (0 likewise); neither for a tariff that carries no
        credit (Buy All Sell All). [Wh], [USD]

    Raises
    ------
    ValueError
        When the latest earlier bill ends before ``start``: the credit of the gap is unknown; bill the gap
        first, or give the credit.
    """
    rule = tariff.export_rule
    if rule == "buy all sell all":
        return None, None
    served = accounts_in_service(store, meter, start, end)
    account_id = served[0].account_id if len(served) == 1 else None
    earlier = [
        b
        for b in store.list_bills(meter=meter.serial, end=start)
        if b.mode == "california" and b.account_id == account_id and b.period_end <= start
    ]
    previous = max(earlier, key=lambda b: (b.period_end, b.id), default=None)
    if previous is not None and previous.period_end != start:
        raise ValueError(
            f"meter {meter.serial!r}: its last stored bill (id {previous.id}) ends at"
            f" {previous.period_end.isoformat()}, not at this period's start {start.isoformat()}, so the"
            " credit to carry in is unknown; bill the gap first, or give the credit"
        )
    doc = {} if previous is None else previous.document
    if rule == "net metering":
        periods = len(tariff.energy_tiers)
        carried = doc.get("credit_out_wh")
        return ([0] * periods if carried is None else [int(v) for v in carried]), None
    return None, Decimal(str(doc.get("credit_out", "0")))


_BILL_READS = ("given", "stored", "install", "removal", "change")
"""Where a read printed as the bill's opening or closing read may come from: read, not computed."""


def _in_service(tenant: Tenant | None, life: MeterLife) -> Tenant | None:
    """The tenant's service cut to the meters' time in service (an install or removal within the period)."""
    if life.service_start is None and life.service_end is None:
        return tenant
    move_in = [t for t in (None if tenant is None else tenant.move_in, life.service_start) if t is not None]
    move_out = [t for t in (None if tenant is None else tenant.move_out, life.service_end) if t is not None]
    return Tenant(
        life.last_meter.serial if tenant is None else tenant.account,
        max(move_in) if move_in else None,
        min(move_out) if move_out else None,
    )


def accounts_in_service(store: Store, meter: Meter, start: datetime, end: datetime) -> list[Occupancy]:
    """The occupancies of the meter's units in service at some time of ``(start, end]``: each account's
    tenure (its ``account_id``, unit, move-in and move-out), by move-in. The units are those the meter
    measures now and those it measured before it was exchanged, while it was in service in the period."""
    found = [o for o in store.occupancies(meter_id=meter.id) if o.covers(start, end)]
    for unit_id, lo, hi in served_units(store, meter):
        if (
            unit_id in {o.unit_id for o in found}
            or not (lo is None or lo < end)
            or not (hi is None or hi > start)
        ):
            continue
        for o in store.occupancies(unit_id=unit_id):
            if o.covers(max(start, lo or start), min(end, hi or end)):
                found.append(o)
    return sorted(found, key=lambda o: (o.move_in, o.id))


def served_units(store: Store, meter: Meter) -> list[tuple[int, datetime | None, datetime | None]]:
    """The units a meter measured before an exchange, with its time in service then (install, removal;
    None: before its recorded history). [unit id, UTC, UTC]"""
    out: list[tuple[int, datetime | None, datetime | None]] = []
    opened: datetime | None = None
    for c in store.meter_changes(meter_id=meter.id):
        if c.kind == "install":
            opened = c.at
        elif c.kind == "remove":
            units = c.detail.get("unit_ids") or ([] if c.unit_id is None else [c.unit_id])
            out.extend((int(u), opened, c.at) for u in units if isinstance(u, int))
            opened = None
    return out


def save_meter_bill(store: Store, bill: Bill, meter: Meter) -> tuple[StoredBill, bool]:
    """
    Keep a meter's bill with its inputs (idempotent), tied to its site, the meter and, where exactly one
    account of the meter was in service in the period, that account. Returns the stored bill and whether
    it is new. The account's pending corrections of earlier bills are carried onto it as adjustment lines
    (:func:`meshmeter.services.corrections.carry_corrections`).
    """
    if bill.meter != meter.serial:  # an exchange within the period: kept under the meter serving at its end
        meter = find_meter(store, bill.meter)
    served = accounts_in_service(store, meter, bill.start, bill.end)
    account_id = served[0].account_id if len(served) == 1 else None
    bill, carried = carry_corrections(store, bill, account_id=account_id)
    return store.save_bill(
        document=bill.to_dict(),
        site_id=meter.site_id,
        account_id=account_id,
        meter_id=meter.id,
        carried=carried,
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
        view = rollup(own_series(store, meter, start, end), length)  # its time in service, multiplied
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
        bill = with_statement_from_store(store, bill, meter, account=account)
        stored = None
        if save:
            bill, carried = carry_corrections(store, bill, account_id=account.account_id)
            stored = store.save_bill(
                document=bill.to_dict(),
                site_id=site.id,
                account_id=account.account_id,
                meter_id=meter.id,
                carried=carried,
            )
        units.append(MarylandUnit(account, meter, tenant, billed, bill, stored))
    return MarylandRun(site, tz, start, end, master_total, admin_fee, length, units)


# --------------------------------------------------------------------------------------------------
# Bill an account, or every account of a site, from its stored tenures
# --------------------------------------------------------------------------------------------------


def find_account(store: Store, site: Site, number: str) -> Account:
    """The account of this number at the site; :class:`~meshmeter.errors.NotFoundError` naming the site's
    account numbers when there is none."""
    found = store.find_account(site_id=site.id, number=number)
    if found is None:
        numbers = ", ".join(a.number for a in store.accounts(site_id=site.id)) or "none"
        raise NotFoundError(
            "account", number, f"site {site.name!r} has accounts {numbers}; meshmeter account create"
        )
    return found


def _shown_tenure(o: Occupancy) -> str:
    out = "open-ended" if o.move_out is None else o.move_out.isoformat()
    return f"unit {o.unit} ({o.move_in.isoformat()} .. {out})"


def _account_name(store: Store, account: Account) -> str:
    """How bills and errors name an account: ``account 1001 (Ann Alvarez)``."""
    person = store.get_tenant(tenant_id=account.tenant_id)
    return f"account {account.number}" + ("" if person is None else f" ({person.name})")


def stored_tenant(store: Store, tenure: Occupancy, start: datetime, end: datetime) -> Tenant:
    """
    The tenant a tenure bills as over ``(start, end]``: the tenant's name, and the stored move-in and
    move-out where they fall inside the period (proration); None where the tenure runs past its bounds.
    """
    person = store.get_tenant(tenant_id=tenure.tenant_id)
    return Tenant(
        tenure.unit if person is None else person.name,
        tenure.move_in if tenure.move_in > start else None,
        tenure.move_out if tenure.move_out is not None and tenure.move_out < end else None,
    )


def bill_tenure_from_store(
    store: Store,
    *,
    tenure: Occupancy,
    tariff: Tariff,
    start: datetime,
    end: datetime,
    timezone: str,
    opening_read_wh: int | None = None,
    true_up: bool = False,
    true_up_sell_rate: Decimal | None = None,
    meter: Meter | None = None,
) -> Bill:
    """
    Bill one tenure (an account's occupancy of a unit) over ``(start, end]``: the unit's meter
    (:func:`bill_meter_from_store`, its exchanges included) under the tenant's name, prorated by the stored
    move-in and move-out, with the statement of that account (number, unit, the account's own history).
    ``true_up`` and ``true_up_sell_rate`` [USD/kWh] settle the credit carried (:func:`bill_meter_from_store`).
    ``meter`` is the meter asked for (``meshmeter bill --meter``); default the one serving the unit at the
    end of the tenure's part of the period (before an exchange made since, the meter it replaced).
    """
    if meter is None:
        meter = _meter_serving(store, tenure, min(end, tenure.move_out or end))
    bill = bill_meter_from_store(
        store,
        meter=meter,
        tariff=tariff,
        start=start,
        end=end,
        timezone=timezone,
        tenant=stored_tenant(store, tenure, start, end),
        opening_read_wh=opening_read_wh,
        true_up=true_up,
        true_up_sell_rate=true_up_sell_rate,
    )
    billed = meter if bill.meter == meter.serial else find_meter(store, bill.meter)
    return with_statement_from_store(store, bill, billed, account=tenure)


def _meter_serving(store: Store, tenure: Occupancy, at: datetime) -> Meter:
    """The meter that served the tenure's unit at ``at``: its meter now, or, where that one was installed
    at or after ``at`` in place of another, the one it replaced (and so on back)."""
    meter = store.get_meter(meter_id=tenure.meter_id)
    for _ in range(64):
        if meter is None:  # a unit's meter is a foreign key: only a store changed under us
            raise NotFoundError("meter", tenure.meter_id)
        install = next(
            (
                c
                for c in store.meter_changes(meter_id=meter.id)
                if c.kind == "install" and c.replaces_meter_id
            ),
            None,
        )
        if install is None or install.replaces_meter_id is None or install.at < at:
            return meter
        meter = store.get_meter(meter_id=install.replaces_meter_id)
    raise NotFoundError("meter", tenure.meter_id)


def _account_zone(store: Store, account: Account, timezone: str | None) -> str:
    if timezone is None:
        site = None if account.site_id is None else store.get_site(site_id=account.site_id)
        if site is None:
            raise ValueError(f"account {account.number!r} has no site; give its time zone")
        timezone = site.timezone
    zone(timezone)
    return timezone


def _check_period(start: datetime, end: datetime) -> None:
    if end <= start:
        raise ValueError(f"end must be after start, got start={start.isoformat()} end={end.isoformat()}")


def bill_account_from_store(
    store: Store,
    *,
    account: Account,
    tariff: Tariff | None,
    start: datetime,
    end: datetime,
    timezone: str | None = None,
) -> list[Bill]:
    """
    Bill a stored account over ``(start, end]``: one bill per tenure of the account in the period.

    Parameters
    ----------
    store : Store
        Read: the account's occupancies, tenant, units, meters and their validated views.
    account : Account
        The account (:func:`find_account`).
    tariff : Tariff or None
        The tariff (:func:`meshmeter.billing.load_tariff`); None: the account's own, in force at the
        period's end (:func:`meshmeter.services.account_tariffs.tariff_for_period`).
    start, end : datetime
        The billing period, aware.
    timezone : str, optional
        IANA zone of the tariff's local time; default the account's site's.

    Returns
    -------
    list of Bill
        By move-in: usually one; a transfer within the period gives one per unit. Each is billed on its
        unit's meter (:func:`bill_tenure_from_store`) under the tenant's name, prorated where the stored
        move-in or move-out falls inside the period, with the account's statement (its number, unit and
        usage history). Nothing is stored (:func:`save_account_bill`).

    Raises
    ------
    NothingToBillError
        When the account has no tenure in the period (the message names its tenures), or a tenure's
        meter has no validated interval in it.
    MissingTariffError
        With no ``tariff``, when the account has none in force at the period's end.
    """
    _check_period(start, end)
    tz = _account_zone(store, account, timezone)
    if tariff is None:
        from meshmeter.services.account_tariffs import tariff_for_period

        tariff = tariff_for_period(store, account, end)
    tenures = store.occupancies(account_id=account.id)
    billed = [o for o in tenures if o.covers(start, end)]
    if not billed:
        held = "; ".join(_shown_tenure(o) for o in tenures) or "it never moved in"
        raise NothingToBillError(
            f"{_account_name(store, account)} has no tenure in {start.isoformat()} .. {end.isoformat()}: "
            f"its tenures: {held}"
        )
    return [
        bill_tenure_from_store(store, tenure=o, tariff=tariff, start=start, end=end, timezone=tz)
        for o in billed
    ]


def bill_site_accounts(
    store: Store,
    *,
    site: Site,
    tariff: Tariff | None,
    start: datetime,
    end: datetime,
    timezone: str | None = None,
) -> list[tuple[Account, list[Bill]]]:
    """
    Bill every account of a site in service at some time of ``(start, end]``
    (:func:`bill_account_from_store`), by account number: at ``tariff``, or, when None, each at its own
    tariff in force at the period's end (:func:`meshmeter.services.account_tariffs.tariffs_for_period`).

    Raises
    ------
    ValueError
        When no account of the site was in service in the period.
    MissingTariffError
        With no ``tariff``, naming every account in service without a tariff in force; nothing is billed.
    NothingToBillError
        Naming every account whose meter has no validated interval in the period; nothing is billed.
    """
    _check_period(start, end)
    tz = site.timezone if timezone is None else timezone
    zone(tz)
    served = [
        a
        for a in store.accounts(site_id=site.id)
        if any(o.covers(start, end) for o in store.occupancies(account_id=a.id))
    ]
    if not served:
        raise ValueError(f"site {site.name!r} has no account in service during the period")
    own: dict[int, Tariff] = {}
    if tariff is None:
        from meshmeter.services.account_tariffs import tariffs_for_period

        own = tariffs_for_period(store, served, end)
    out: list[tuple[Account, list[Bill]]] = []
    problems: list[str] = []
    for a in sorted(served, key=lambda a: (len(a.number), a.number, a.id)):
        try:
            out.append(
                (
                    a,
                    bill_account_from_store(
                        store,
                        account=a,
                        tariff=own[a.id] if tariff is None else tariff,
                        start=start,
                        end=end,
                        timezone=tz,
                    ),
                )
            )
        except NothingToBillError as exc:
            problems.append(f"{_account_name(store, a)}: {exc}")
    if problems:
        raise NothingToBillError("; ".join(problems))
    return out


def save_account_bill(store: Store, bill: Bill, account: Account) -> tuple[StoredBill, bool]:
    """
    Keep an account's bill with its inputs (idempotent), tied to the account, its site and the meter
    billed; the account's pending corrections are carried onto it (:func:`save_meter_bill`).
    """
    meter = find_meter(store, bill.meter)
    bill, carried = carry_corrections(store, bill, account_id=account.id)
    return store.save_bill(
        document=bill.to_dict(),
        site_id=account.site_id if account.site_id is not None else meter.site_id,
        account_id=account.id,
        meter_id=meter.id,
        carried=carried,
    )


def bill_meter_as_occupied(
    store: Store,
    *,
    meter: Meter,
    tariff: Tariff,
    start: datetime,
    end: datetime,
    timezone: str,
    opening_read_wh: int | None = None,
    true_up: bool = False,
    true_up_sell_rate: Decimal | None = None,
) -> tuple[Bill, list[Occupancy]]:
    """
    Bill a meter over ``(start, end]`` as the store says it was occupied: where exactly one account was in
    service, that account's bill (:func:`bill_tenure_from_store`: its tenant's name, prorated by its
    stored move-in and move-out, its statement); else the meter's whole bill under its serial
    (:func:`bill_meter_from_store`). Returns the bill and the tenures in service (several: the caller says
    how to bill each account). ``true_up`` and ``true_up_sell_rate`` [USD/kWh] settle the credit carried.
    """
    served = accounts_in_service(store, meter, start, end)
    if len(served) == 1:
        bill = bill_tenure_from_store(
            store,
            meter=meter,
            tenure=served[0],
            tariff=tariff,
            start=start,
            end=end,
            timezone=timezone,
            opening_read_wh=opening_read_wh,
            true_up=true_up,
            true_up_sell_rate=true_up_sell_rate,
        )
        return bill, served
    bill = bill_meter_from_store(
        store,
        meter=meter,
        tariff=tariff,
        start=start,
        end=end,
        timezone=timezone,
        opening_read_wh=opening_read_wh,
        true_up=true_up,
        true_up_sell_rate=true_up_sell_rate,
    )
    return bill, served
