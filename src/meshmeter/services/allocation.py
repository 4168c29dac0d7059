"""Share what no tenant's meter measures among a site's accounts, from the store (ratio utility billing).

The common-area (house) meter's energy and the unmetered remainder (the master's energy less every unit and
house meter's) are priced, then shared among the site's units by floor area, occupants or fixed shares
(:func:`meshmeter.billing.ratio_shares`); a unit's share goes to the accounts that occupied it in the
period, by the days each occupied it, and the vacant part is the owner's. ``meshmeter allocate`` and
``POST /sites/{site_id}/allocation`` call :func:`allocate_site`; ``docs/billing.md`` ("Allocation") has the
rules.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Final

import numpy as np

from meshmeter.billing import (
    LineItem,
    RatioAllocation,
    ShareBasis,
    allocate_cents,
    ratio_lines,
    ratio_shares,
    remainder_amount,
    unmetered_remainder_wh,
)
from meshmeter.billing.bill import CENT
from meshmeter.intervals import zone
from meshmeter.store import Meter, Occupancy, Site, Store, Unit

__all__ = [
    "BASES",
    "SHARED",
    "AccountShare",
    "AllocationRun",
    "MeterEnergy",
    "SharedAmount",
    "allocate_site",
    "allocation_to_dict",
    "occupied_part",
]

BASES: Final = {"area": "floor_area", "occupants": "occupants", "shares": "fixed"}
"""What the command and the API call each basis, and the basis of :func:`~meshmeter.billing.ratio_shares`."""

SHARED: Final = ("house", "remainder")
"""What can be shared: the house meters' energy, the unmetered remainder."""

_LABELS: Final = {"house": "Common area (house meter)", "remainder": "Unmetered remainder"}
_SUBMETER_ROLES: Final = ("unit", "house")
"""The meters whose energy the master's includes and the remainder leaves out (not production)."""


def _local_day(moment: datetime, tz: str) -> Fraction:
    """The local calendar day of an instant as a number: its date's ordinal plus the part of that local day
    gone by (a 23- or 25-hour day on a DST change counted as one day)."""
    local = moment.astimezone(zone(tz))
    midnight = datetime(local.year, local.month, local.day, tzinfo=zone(tz))
    following = midnight + timedelta(days=1)  # wall-clock arithmetic: the next local midnight
    whole_s = int((following.astimezone(UTC) - midnight.astimezone(UTC)).total_seconds())
    gone_s = int((moment.astimezone(UTC) - midnight.astimezone(UTC)).total_seconds())
    return local.toordinal() + Fraction(gone_s, whole_s)


def occupied_part(occupancy: Occupancy, start: datetime, end: datetime, timezone: str) -> Fraction:
    """
    The part of the period ``(start, end]`` an account occupied its unit, in local days. [1]

    Days occupied over days in the period, each in local calendar days of the site (a move at local
    midnight counts whole days; a part of a day counts its part of that day's 23, 24 or 25 hours).
    """
    lo = max(occupancy.move_in, start)
    hi = end if occupancy.move_out is None else min(occupancy.move_out, end)
    if hi <= lo:
        return Fraction(0)
    return (_local_day(hi, timezone) - _local_day(lo, timezone)) / (
        _local_day(end, timezone) - _local_day(start, timezone)
    )


@dataclass(frozen=True)
class MeterEnergy:
    """A meter's energy in the period from its validated view."""

    serial: str
    role: str
    energy_wh: int
    """Its billed intervals' energy (estimated included, failed and missing left out). [Wh]"""
    intervals: int
    """Intervals of its grid in the period. [1]"""
    billed_intervals: int
    """Of them, those stored with a billed quality. [1]"""

    @property
    def unbilled_intervals(self) -> int:
        """Intervals missing or failed VEE. [1]"""
        return self.intervals - self.billed_intervals


@dataclass(frozen=True)
class SharedAmount:
    """One amount shared: the house meters' energy or the unmetered remainder, priced."""

    what: str
    """``house`` or ``remainder``."""
    label: str
    energy_wh: int
    """The energy shared. [Wh]"""
    amount: Decimal
    """Its price, whole cents. [USD]"""
    priced: str
    """How it was priced: ``at 0.31 USD/kWh`` or ``at the master bill's average price``."""
    by_unit: RatioAllocation
    """The amount among the units (each its occupied part) and the owner (the vacant parts)."""


@dataclass(frozen=True)
class AccountShare:
    """An account's part of a unit over the period, and its lines (kind ``allocation``), one per amount."""

    unit: Unit
    meter: str
    occupancy: Occupancy
    account: str
    """The account's number."""
    tenant: str
    occupied: Fraction
    """The part of the period it occupied the unit, in local days. [1]"""
    lines: tuple[LineItem, ...]

    @property
    def total(self) -> Decimal:
        """Its shares together. [USD]"""
        return sum((line.amount for line in self.lines), Decimal(0) * CENT)


@dataclass(frozen=True)
class AllocationRun:
    """What :func:`allocate_site` shared, and among whom."""

    site: Site
    timezone: str
    start: datetime
    end: datetime
    basis: str
    """``area``, ``occupants`` or ``shares``."""
    meters: tuple[MeterEnergy, ...]
    """The house meters', and for the remainder every sub-meter's and the master's, energy."""
    master_energy_wh: int | None
    master_source: str | None
    """``meter M1`` (the store) or ``given`` (the master bill's kWh the operator gave)."""
    master_total: Decimal | None
    remainder_wh: int | None
    amounts: tuple[SharedAmount, ...]
    accounts: tuple[AccountShare, ...]
    vacant_units: tuple[Unit, ...]
    """Units no account occupied at any time of the period: their whole share is the owner's."""
    warnings: tuple[str, ...]

    @property
    def owner_share(self) -> Decimal:
        """The vacant parts' share of every amount, the owner's. [USD]"""
        return sum((a.by_unit.owner_share for a in self.amounts), Decimal(0) * CENT)

    @property
    def total(self) -> Decimal:
        """Every amount shared. [USD]"""
        return sum((a.amount for a in self.amounts), Decimal(0) * CENT)


def _energy(store: Store, meter: Meter, start: datetime, end: datetime) -> MeterEnergy:
    view = store.interval_view(meter_id=meter.id, start=start, end=end)
    billed = view.billed()
    intervals = int((end - start).total_seconds()) // meter.interval_s
    return MeterEnergy(
        meter.serial,
        meter.role,
        int(view.energy_wh[billed].sum()),
        intervals,
        int(np.count_nonzero(billed)),
    )


def _money(name: str, value: Decimal | None, problems: list[str], *, whole_cents: bool) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        problems.append(f"{name} must be an amount in USD, 0 or more, got {value}")
    elif whole_cents and value != value.quantize(CENT):
        problems.append(f"{name} must be whole cents, got {value}")


def _fixed_shares(
    shares: Mapping[str, Decimal] | None, units: Sequence[Unit], problems: list[str]
) -> dict[str, Decimal]:
    if shares is None:
        problems.append("allocation by fixed shares needs the shares: each unit's name and its share")
        return {}
    names = {u.name for u in units}
    unknown = sorted(set(shares) - names)
    missing = [u.name for u in units if u.name not in shares]
    if unknown:
        problems.append(f"shares name units the site does not have: {', '.join(unknown)}")
    if missing:
        problems.append(f"shares give no share to unit(s) {', '.join(missing)}: every unit needs one")
    bad = [f"{k} {s}" for k, s in shares.items() if not isinstance(s, Decimal) or not s.is_finite() or s < 0]
    if bad:
        problems.append(f"a share must be a number 0 or more, got {', '.join(bad)}")
    elif sum(shares.values(), Decimal(0)) != 1:
        problems.append(
            f"the shares must add up to 1 exactly, they add up to {sum(shares.values(), Decimal(0))}"
        )
    return dict(shares)


def allocate_site(
    store: Store,
    *,
    site: Site,
    start: datetime,
    end: datetime,
    basis: str,
    share: Collection[str] = SHARED,
    fixed_shares: Mapping[str, Decimal] | None = None,
    house_meters: Sequence[str] | None = None,
    house_rate: Decimal | None = None,
    master_total: Decimal | None = None,
    master_energy_wh: int | None = None,
    timezone: str | None = None,
) -> AllocationRun:
    """
    Share a site's house meter energy and/or unmetered remainder among the accounts of its units.

    Parameters
    ----------
    store : Store
        Read only: the site's meters and their validated views, units, occupancies, accounts, tenants.
    site : Site
        The site.
    start, end : datetime
        The period ``(start, end]``, aware.
    basis : str
        ``area`` (units' ``floor_area_ft2``), ``occupants`` (units' ``occupants``) or ``shares``
        (``fixed_shares``).
    share : collection of str
        What to share: ``house``, ``remainder`` or both (:data:`SHARED`).
    fixed_shares : mapping of str to Decimal, optional
        With ``shares``: every unit's name and its share, adding up to 1 exactly. [1]
    house_meters : sequence of str, optional
        The house meters (serials, role ``house``, of the site); default every house meter of the site.
    house_rate : Decimal, optional
        The price of the house meters' energy; default the master bill's average price
        (``master_total`` over the master's energy). [USD/kWh]
    master_total : Decimal, optional
        The utility's master bill for the period, whole cents: needed to share the remainder. [USD]
    master_energy_wh : int, optional
        The master bill's energy; default the site's master meter(s) in the store. [Wh]
    timezone : str, optional
        IANA zone whose local days prorate moves; default the site's.

    Returns
    -------
    AllocationRun
        Each amount's shares, the accounts' lines and the owner's share: for each amount the accounts'
        shares and the owner's add up to it to the cent.

    Raises
    ------
    ValueError
        Naming every problem at once: a bad basis or period, nothing to share, a unit without its floor area
        or occupants, fixed shares that miss a unit, name an unknown one or do not add up to 1, a house
        meter that is not one, no price for the house energy, no master bill or master energy for the
        remainder, a meter of the remainder with intervals missing or failed, sub-meters that add up to
        more than the master (a CT or wiring fault, manual §7).
    """
    problems: list[str] = []
    tz = site.timezone if timezone is None else timezone
    zone(tz)
    if basis not in BASES:
        problems.append(f"basis must be one of {', '.join(BASES)}, got {basis!r}")
    if end <= start:
        problems.append(f"end must be after start, got start={start.isoformat()} end={end.isoformat()}")
    wanted = list(dict.fromkeys(share))
    if not wanted or any(w not in SHARED for w in wanted):
        problems.append(f"share must name house, remainder or both, got {', '.join(wanted) or 'nothing'}")
    if fixed_shares is not None and basis != "shares":
        problems.append(f"fixed shares go with the basis shares, not {basis}")
    _money("house_rate", house_rate, problems, whole_cents=False)
    _money("master_total", master_total, problems, whole_cents=True)
    if master_energy_wh is not None and (
        isinstance(master_energy_wh, bool) or not isinstance(master_energy_wh, int) or master_energy_wh <= 0
    ):
        problems.append(f"master_energy_wh must be a positive integer [Wh], got {master_energy_wh!r}")
    if problems:
        raise ValueError("cannot allocate: " + "; ".join(problems))

    meters = store.meters(site_id=site.id)
    tenant_meters = {m.id for m in meters if m.role == "unit"}
    units = [u for u in store.units(site_id=site.id) if u.meter_id in tenant_meters]
    if not units:
        problems.append(f"site {site.name!r} has no units to share among (meshmeter unit add)")
    by_serial = {m.serial: m for m in meters}
    serial_of = {m.id: m.serial for m in meters}
    houses: list[Meter] = []
    if "house" in wanted:
        if house_meters:
            for serial in dict.fromkeys(house_meters):
                found = by_serial.get(serial)
                if found is None:
                    problems.append(f"house meter {serial!r} is not a meter of site {site.name!r}")
                elif found.role != "house":
                    problems.append(f"meter {serial} has the role {found.role}, not house")
                else:
                    houses.append(found)
        else:
            houses = [m for m in meters if m.role == "house"]
            if not houses:
                problems.append(f"site {site.name!r} has no house meter (a meter of role house)")
        if house_rate is None and master_total is None:
            problems.append("the house energy needs a price: a rate [USD/kWh] or the master bill's total")
    masters = [m for m in meters if m.role == "master"]
    if "remainder" in wanted and master_total is None:
        problems.append("the remainder needs the master bill's total [USD]")
    needs_master = "remainder" in wanted or ("house" in wanted and house_rate is None)
    if needs_master and master_energy_wh is None and not masters:
        problems.append(
            f"site {site.name!r} has no master meter (a meter of role master): give the master bill's kWh"
        )

    values: dict[int, ShareBasis] = {}
    if basis == "area":
        missing = [u.name for u in units if u.floor_area_ft2 is None]
        if missing:
            problems.append(
                f"unit(s) {', '.join(missing)} have no floor area: set it (meshmeter unit set --floor-area)"
            )
        for u in units:
            area = None if u.floor_area_ft2 is None else Decimal(repr(u.floor_area_ft2))
            values[u.id] = ShareBasis(u.name, floor_area=area)
    elif basis == "occupants":
        missing = [u.name for u in units if u.occupants is None]
        if missing:
            problems.append(
                f"unit(s) {', '.join(missing)} have no occupants given: set them (meshmeter unit set "
                "--occupants; 0 for none)"
            )
        for u in units:
            values[u.id] = ShareBasis(u.name, occupants=u.occupants)
    else:
        fixed = _fixed_shares(fixed_shares, units, problems)
        for u in units:
            values[u.id] = ShareBasis(u.name, fixed_share=fixed.get(u.name))

    energies: list[MeterEnergy] = []
    warnings: list[str] = []
    house_wh = 0
    for m in houses:
        e = _energy(store, m, start, end)
        energies.append(e)
        house_wh += e.energy_wh
        if e.unbilled_intervals and "remainder" not in wanted:
            warnings.append(
                f"house meter {m.serial}: {e.unbilled_intervals} of {e.intervals} intervals missing or "
                "failed VEE, their energy is not shared"
            )
    master_wh: int | None = master_energy_wh
    source: str | None = None if master_energy_wh is None else "given"
    remainder_wh: int | None = None
    if needs_master and master_wh is None and masters:
        of_master = [_energy(store, m, start, end) for m in masters]
        energies += of_master
        master_wh = sum(e.energy_wh for e in of_master)
        source = ", ".join(f"meter {m.serial}" for m in masters)
        if "remainder" not in wanted:
            warnings += [
                f"master meter {e.serial}: {e.unbilled_intervals} of {e.intervals} intervals missing or "
                "failed VEE, the average price is of the rest"
                for e in of_master
                if e.unbilled_intervals
            ]
    if "remainder" in wanted and master_wh is not None:
        subs = [m for m in meters if m.role in _SUBMETER_ROLES and m not in houses]
        energies += [_energy(store, m, start, end) for m in subs]
        counted = [
            e for e in energies if e.role in _SUBMETER_ROLES or (source != "given" and e.role == "master")
        ]
        for e in counted:
            if e.unbilled_intervals:
                problems.append(
                    f"meter {e.serial} has {e.unbilled_intervals} of {e.intervals} intervals missing or "
                    "failed VEE in the period: the remainder would charge its energy to everyone (run "
                    "meshmeter vee; estimate or edit them)"
                )
        sub_wh = [e.energy_wh for e in energies if e.role in _SUBMETER_ROLES]
        try:
            remainder_wh = unmetered_remainder_wh(master_wh, sub_wh)
        except ValueError:
            problems.append(
                f"the sub-meters of site {site.name!r} add up to {sum(sub_wh) / 1000:.3f} kWh, more "
                f"than the master's {master_wh / 1000:.3f} kWh ({source}): a CT or wiring fault (a CT "
                "reversed or on the wrong phase, a wrong CT ratio; manual §7); verify the meters before "
                "sharing"
            )
    elif "house" in wanted and house_rate is None and master_wh is not None and house_wh > master_wh:
        problems.append(
            f"the house meters measured {house_wh / 1000:.3f} kWh, more than the master's "
            f"{master_wh / 1000:.3f} kWh ({source}): a CT or wiring fault (manual §7)"
        )
    if problems:
        raise ValueError("cannot allocate: " + "; ".join(problems))

    occupancies = [o for o in store.occupancies(site_id=site.id) if o.covers(start, end)]
    parts: dict[int, list[tuple[Occupancy, Fraction]]] = {u.id: [] for u in units}
    for o in occupancies:
        part = occupied_part(o, start, end, tz)
        if part > 0:
            parts[o.unit_id].append((o, part))
    entries = [
        replace(values[u.id], occupied=min(Fraction(1), sum((p for _, p in parts[u.id]), Fraction(0))))
        for u in units
    ]

    amounts: list[SharedAmount] = []
    to_share: list[tuple[str, int]] = []
    if "house" in wanted:
        to_share.append(("house", house_wh))
    if "remainder" in wanted:
        assert remainder_wh is not None
        to_share.append(("remainder", remainder_wh))
    for what, energy_wh in to_share:
        if what == "house" and house_rate is not None:
            amount = (Decimal(energy_wh) / 1000 * house_rate).quantize(CENT, rounding=ROUND_HALF_UP)
            priced = f"at {house_rate} USD/kWh"
        else:
            assert master_total is not None
            assert master_wh is not None
            amount = remainder_amount(master_total, master_wh, energy_wh)
            priced = "at the master bill's average price"
        by_unit = ratio_shares(amount, entries, BASES[basis])
        by_unit = replace(  # in cents as printed: 43.80, not 43.8 (the same amounts)
            by_unit,
            shares=tuple(x.quantize(CENT) for x in by_unit.shares),
            owner_share=by_unit.owner_share.quantize(CENT),
        )
        amounts.append(SharedAmount(what, _LABELS[what], energy_wh, amount, priced, by_unit))

    tenants = {t.id: t.name for t in store.tenants()}
    numbers = {a.id: a.number for a in store.accounts(site_id=site.id)}
    accounts: list[AccountShare] = []
    per_account: dict[int, list[LineItem]] = {}
    for k, u in enumerate(units):
        held = parts[u.id]
        if not held:
            continue
        for a in amounts:
            unit_share = a.by_unit.shares[k]
            split = [x.quantize(CENT) for x in allocate_cents(unit_share, [p for _, p in held])]
            value = a.by_unit.weights[k] / entries[k].occupied
            weights = tuple(value * p for _, p in held)
            labelled = replace(  # the unit's accounts, of the same whole weight (the lines say "of ...")
                a.by_unit,
                accounts=tuple(numbers.get(o.account_id, str(o.account_id)) for o, _ in held),
                weights=weights,
                owner_weight=a.by_unit.whole_weight - sum(weights, Fraction(0)),
                shares=tuple(split),
            )
            for (o, _), line in zip(held, ratio_lines(labelled, a.label), strict=True):
                per_account.setdefault(o.id, []).append(line)
        for o, p in held:
            accounts.append(
                AccountShare(
                    u,
                    serial_of.get(u.meter_id, ""),
                    o,
                    numbers.get(o.account_id, str(o.account_id)),
                    tenants.get(o.tenant_id, ""),
                    p,
                    tuple(per_account[o.id]),
                )
            )
    vacant = tuple(u for u in units if not parts[u.id])
    return AllocationRun(
        site=site,
        timezone=tz,
        start=start,
        end=end,
        basis=basis,
        meters=tuple(energies),
        master_energy_wh=master_wh,
        master_source=source,
        master_total=master_total,
        remainder_wh=remainder_wh,
        amounts=tuple(amounts),
        accounts=tuple(accounts),
        vacant_units=vacant,
        warnings=tuple(warnings),
    )


def _fraction_text(value: Fraction) -> str:
    """A part as exact text: ``15/31``, ``1``."""
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def allocation_to_dict(run: AllocationRun) -> dict[str, object]:
    """
    The allocation, JSON-ready (``meshmeter allocate --json`` and the API's body): money as decimal text
    [USD], energy as integer Wh, parts as exact fractions (``15/31``), each account's lines as a bill's.
    """
    return {
        "site": run.site.name,
        "site_id": run.site.id,
        "start": run.start.isoformat(),
        "end": run.end.isoformat(),
        "timezone": run.timezone,
        "basis": run.basis,
        "master_energy_wh": run.master_energy_wh,
        "master_source": run.master_source,
        "master_total": None if run.master_total is None else str(run.master_total),
        "remainder_wh": run.remainder_wh,
        "meters": [
            {
                "serial": e.serial,
                "role": e.role,
                "energy_wh": e.energy_wh,
                "intervals": e.intervals,
                "billed_intervals": e.billed_intervals,
            }
            for e in run.meters
        ],
        "amounts": [
            {
                "what": a.what,
                "label": a.label,
                "energy_wh": a.energy_wh,
                "amount": str(a.amount),
                "priced": a.priced,
                "units": [
                    {"unit": name, "weight": _fraction_text(w), "share": str(s)}
                    for name, w, s in zip(
                        a.by_unit.accounts, a.by_unit.weights, a.by_unit.shares, strict=True
                    )
                ],
                "owner_weight": _fraction_text(a.by_unit.owner_weight),
                "owner_share": str(a.by_unit.owner_share),
            }
            for a in run.amounts
        ],
        "accounts": [
            {
                "account": s.account,
                "account_id": s.occupancy.account_id,
                "tenant": s.tenant,
                "unit": s.unit.name,
                "unit_id": s.unit.id,
                "meter": s.meter,
                "move_in": s.occupancy.move_in.isoformat(),
                "move_out": None if s.occupancy.move_out is None else s.occupancy.move_out.isoformat(),
                "occupied": _fraction_text(s.occupied),
                "lines": [line.to_dict() for line in s.lines],
                "total": str(s.total),
            }
            for s in run.accounts
        ],
        "vacant_units": [u.name for u in run.vacant_units],
        "owner_share": str(run.owner_share),
        "total": str(run.total),
        "warnings": list(run.warnings),
    }
