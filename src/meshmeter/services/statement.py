"""What a printed bill says besides its charges, gathered from the store: the owner or manager who bills and
their address, the site, the unit and its address, the account's number and tenant, how to pay, the due
days, and the account's usage of the 13 months ending with the bill's (``docs/billing.md``, "The printed
bill").

:func:`statement_for` reads; it never writes. The bill services attach its result to every bill made from
the store (:mod:`meshmeter.services.billing`), so a saved bill keeps what it said when it was issued.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Final

import numpy as np

from meshmeter.billing.bill import Bill, Statement, UsageMonth
from meshmeter.intervals import Quality, zone
from meshmeter.store import Meter, Occupancy, Store

__all__ = ["HISTORY_MONTHS", "statement_for", "with_statement_from_store"]

HISTORY_MONTHS: Final = 13
"""Months of usage a printed bill shows, ending with the bill's own: a year back, and the same month then."""


def _month_start(year: int, month: int, timezone: str) -> datetime:
    """Local midnight of a month's first day, as UTC."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=zone(timezone)).astimezone(UTC)


def _bill_month(bill: Bill) -> tuple[int, int]:
    """The local calendar month of the bill's period: the month of its middle (1 July to 1 August is July;
    a cycle of 15 July to 14 August too)."""
    middle = (bill.start + (bill.end - bill.start) / 2).astimezone(zone(bill.timezone))
    return middle.year, middle.month


def _history(
    store: Store, spans: list[tuple[int, datetime | None, datetime | None]], bill: Bill
) -> tuple[UsageMonth, ...]:
    """
    Monthly billed, estimated and apportioned (derived, quality 11) energy of the meters' validated views
    over ``spans`` (meter id, from, to), in the 13 local months ending with the bill's. [Wh]
    """
    year, month = _bill_month(bill)
    first = month - HISTORY_MONTHS + 1
    bounds = [_month_start(year, first + k, bill.timezone) for k in range(HISTORY_MONTHS + 1)]
    bounds_s = np.array([int(b.timestamp()) for b in bounds], dtype=np.int64)
    energy = np.zeros(HISTORY_MONTHS, dtype=np.int64)
    estimated = np.zeros(HISTORY_MONTHS, dtype=np.int64)
    apportioned = np.zeros(HISTORY_MONTHS, dtype=np.int64)
    seen = np.zeros(HISTORY_MONTHS, dtype=bool)
    for meter_id, since, until in spans:
        lo = bounds[0] if since is None else max(since, bounds[0])
        hi = bounds[-1] if until is None else min(until, bounds[-1])
        if hi <= lo:
            continue
        view = store.interval_view(meter_id=meter_id, start=lo, end=hi)
        billed = view.billed()
        if not billed.any():
            continue
        # An interval is named by its end: one ending on a month's first midnight is the month before's.
        index = np.searchsorted(bounds_s, view.interval_end_s[billed], side="left") - 1
        wh = view.energy_wh[billed]
        np.add.at(energy, index, wh)
        np.add.at(estimated, index, np.where(view.estimated()[billed], wh, 0))
        np.add.at(apportioned, index, np.where(view.quality[billed] == int(Quality.DERIVED), wh, 0))
        seen[np.unique(index)] = True
    local = zone(bill.timezone)
    return tuple(
        UsageMonth(
            date(bounds[k].astimezone(local).year, bounds[k].astimezone(local).month, 1),
            int(energy[k]) if seen[k] else None,
            int(estimated[k]),
            int(apportioned[k]),
        )
        for k in range(HISTORY_MONTHS)
    )


def _with_replaced_meters(
    store: Store, spans: list[tuple[int, datetime | None, datetime | None]]
) -> list[tuple[int, datetime | None, datetime | None]]:
    """
    Each span of a meter, cut at the meter's install where it replaced another, the part before it on the
    meter it replaced (and so on back): a unit's history runs across its meter exchanges.
    """
    out: list[tuple[int, datetime | None, datetime | None]] = []
    todo = list(spans)
    while todo and len(out) < 64:
        meter_id, since, until = todo.pop()
        install = next(
            (
                c
                for c in store.meter_changes(meter_id=meter_id)
                if c.kind == "install" and c.replaces_meter_id
            ),
            None,
        )
        if (
            install is None
            or install.replaces_meter_id is None
            or (since is not None and since >= install.at)
        ):
            out.append((meter_id, since, until))
            continue
        if until is None or until > install.at:
            out.append((meter_id, install.at, until))
        todo.append(
            (install.replaces_meter_id, since, install.at if until is None else min(until, install.at))
        )
    return out


def statement_for(store: Store, bill: Bill, meter: Meter, *, account: Occupancy | None = None) -> Statement:
    """
    What the printed bill of ``meter``'s ``bill`` says besides its charges, from the store.

    Parameters
    ----------
    store : Store
        Read: the meter's site (owner, address, payment instructions, due days), the account's unit,
        number and tenant, and the validated views of the account's meters.
    bill : Bill
        The bill: its period and time zone set the 13 months of history.
    meter : Meter
        The meter billed.
    account : Occupancy, optional
        The account's tenure billed (a shared master bill names each); default the one account of the
        meter in service in the period, when exactly one was.

    Returns
    -------
    Statement
        Not yet issued (``issued`` None): a saved bill is issued on the day it is stored. The history is
        the account's own usage (its tenures of units, on their meters), never a previous tenant's; with
        no account, the meter's.
    """
    site = None if meter.site_id is None else store.get_site(site_id=meter.site_id)
    if account is None:
        served = [o for o in store.occupancies(meter_id=meter.id) if o.covers(bill.start, bill.end)]
        account = served[0] if len(served) == 1 else None
    spans: list[tuple[int, datetime | None, datetime | None]]
    if account is None:
        spans = [(meter.id, None, None)]
        unit = next(iter(store.units(meter_id=meter.id)), None)
        unit_name, unit_address = (None, None) if unit is None else (unit.name, unit.address)
        number = person = None
    else:
        tenures = store.occupancies(account_id=account.account_id)
        spans = [(o.meter_id, o.move_in, o.move_out) for o in tenures]
        unit = store.get_unit(unit_id=account.unit_id)
        unit_name = account.unit
        unit_address = None if unit is None else unit.address
        found = store.get_account(account_id=account.account_id)
        number = None if found is None else found.number
        tenant = store.get_tenant(tenant_id=account.tenant_id)
        person = None if tenant is None else tenant.name
    return Statement(
        site=None if site is None else site.name,
        owner_name=None if site is None else site.owner_name,
        owner_address=None if site is None else site.owner_address,
        unit=unit_name,
        unit_address=unit_address,
        account_number=number,
        tenant=person,
        payment_instructions=None if site is None else site.payment_instructions,
        due_days=21 if site is None else site.due_days,
        history=_history(store, _with_replaced_meters(store, spans), bill),
    )


def with_statement_from_store(
    store: Store, bill: Bill, meter: Meter, *, account: Occupancy | None = None
) -> Bill:
    """The bill with its statement (:func:`statement_for`) attached."""
    return replace(bill, statement=statement_for(store, bill, meter, account=account))
