"""Sharing what no tenant's meter measures (``docs/billing.md``).

- Maryland proportional allocation: a master bill shared by each unit's kWh, plus an administrative fee.
- Ratio utility billing (RUBS): an amount no unit meter measures — the common-area (house) meter's bill, or
  the unmetered remainder (the master bill less what the sub-meters measured) — shared by floor area, by
  occupants or by fixed shares, each unit's weight prorated by the part of the period it was occupied; the
  vacant part is the owner's.

Every share is in whole cents by largest remainder, so that the shares sum to the amount to the cent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Final, Literal

import numpy.typing as npt

from meshmeter.billing.bill import CENT, Bill, LineItem
from meshmeter.billing.calendar import INTERVAL_S
from meshmeter.billing.engine import Tenant, bill_meters
from meshmeter.billing.tariff import parse_tariff

__all__ = [
    "ALLOCATION_BASES",
    "AllocationBasis",
    "RatioAllocation",
    "ShareBasis",
    "allocate_cents",
    "maryland_bills",
    "ratio_lines",
    "ratio_shares",
    "remainder_amount",
    "unmetered_remainder_wh",
]

_CENTS: Final = Decimal(100)

_COUNT_ONLY = parse_tariff(
    {
        "name": "energy count (no charges)",
        "energyratestructure": [[{"rate": 0}]],
        "energyweekdayschedule": [[0] * 24] * 12,
        "energyweekendschedule": [[0] * 24] * 12,
    }
)
"""A tariff with no charge: the engine counts each unit's billed energy with it."""


def _cents(name: str, amount: object) -> int:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError(f"{name} must be a finite Decimal in USD, got {amount!r}")
    cents = amount * _CENTS
    if cents != cents.to_integral_value():
        raise ValueError(f"{name} must be a whole number of cents, got {amount}")
    return int(cents)


def _integer_weights(weights: Sequence[int | Fraction]) -> list[int]:
    """Weights as integers in the same ratios, exactly (fractions brought to their common denominator)."""
    fractions = [Fraction(w) for w in weights]
    common = math.lcm(*(f.denominator for f in fractions)) if fractions else 1
    return [int(f * common) for f in fractions]


def allocate_cents(total: Decimal, weights_wh: Sequence[int | Fraction]) -> list[Decimal]:
    """
    Share an amount by weights, in whole cents that sum to it exactly (largest remainder).

    Parameters
    ----------
    total : Decimal
        The amount, a whole number of cents, may be negative (a credit). [USD]
    weights_wh : sequence of int or Fraction
        Each unit's weight, non-negative: its energy for the Maryland allocation [Wh], its prorated floor
        area, occupants or fixed share for ratio utility billing (:func:`ratio_shares`); all zero shares
        evenly.

    Returns
    -------
    list of Decimal
        Each unit's share: ``floor(cents × w_i / W)`` cents, plus one cent for the largest remainders
        (ties to the earlier unit). [USD]
    """
    cents = _cents("total", total)
    if any(isinstance(w, bool) or not isinstance(w, (int, Fraction)) for w in weights_wh):
        raise ValueError(f"weights_wh must be non-negative integers or fractions, got {list(weights_wh)!r}")
    if any(w < 0 for w in weights_wh):
        raise ValueError(f"weights_wh must be non-negative, got {list(weights_wh)!r}")
    if not weights_wh:
        raise ValueError("weights_wh must name at least one unit, got none")
    weights = _integer_weights(weights_wh)
    if sum(weights) == 0:
        weights = [1] * len(weights)
    whole = sum(weights)
    sign = -1 if cents < 0 else 1
    magnitude = abs(cents)
    base = [magnitude * w // whole for w in weights]
    remainders = [magnitude * w % whole for w in weights]
    short = magnitude - sum(base)
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:short]:
        base[i] += 1
    return [Decimal(sign * b) / _CENTS for b in base]


def maryland_bills(
    master_total: Decimal,
    energy_wh: npt.ArrayLike,
    quality: npt.ArrayLike,
    *,
    start: datetime,
    end: datetime,
    timezone: str,
    meters: Sequence[str],
    admin_fee: Decimal,
    tenants: Sequence[Tenant | None] | None = None,
    interval_s: int = INTERVAL_S,
) -> list[Bill]:
    """
    Share a master bill among units by their billed kWh, and add a per-unit administrative fee.

    Parameters
    ----------
    master_total : Decimal
        The utility's master bill for the period, whole cents. [USD]
    energy_wh, quality : array-like of int, shape (m, n)
        Each unit's intervals on the period's grid and their ESPI quality codes (as for
        :func:`~meshmeter.billing.engine.bill_meters`: estimated intervals billed and flagged, failed
        ones not billed). [Wh]
    start, end : datetime
        The billing period ``(start, end]``.
    timezone : str
        IANA time zone of local time on the bills.
    meters : sequence of str
        Each unit's meter serial (a meter may appear twice, for a tenant moving out and one moving in).
    admin_fee : Decimal
        Administrative fee per unit bill, whole cents, non-negative. [USD]
    tenants : sequence of Tenant or None, optional
        Each unit's tenant.
    interval_s : int
        Length of every unit's intervals: 300, 900 (default), 1800 or 3600. [s]

    Returns
    -------
    list of Bill
        One per unit; the shares (without fees) sum to ``master_total`` exactly.
    """
    fee_cents = _cents("admin_fee", admin_fee)
    if fee_cents < 0:
        raise ValueError(f"admin_fee must not be negative, got {admin_fee}")
    _cents("master_total", master_total)
    counted = bill_meters(
        _COUNT_ONLY,
        energy_wh,
        quality,
        start=start,
        end=end,
        timezone=timezone,
        meters=meters,
        tenants=tenants,
        interval_s=interval_s,
    )
    units = [b.energy_wh for b in counted]
    shares = allocate_cents(master_total, units)
    whole_wh = sum(units)
    out = []
    for i, (b, share) in enumerate(zip(counted, shares, strict=True)):
        kwh = Decimal(b.energy_wh) / 1000
        lines = [
            LineItem(
                "allocation",
                f"Share of master bill {master_total} USD: {kwh} of {Decimal(whole_wh) / 1000} kWh",
                Decimal(1),
                "bill",
                share,
                Decimal(1),
                share,
            ),
            LineItem("admin_fee", "Administrative fee", Decimal(1), "bill", admin_fee, Decimal(1), admin_fee),
        ]
        inputs = dict(b.inputs)
        inputs.update(
            {
                "mode": "maryland",
                "master_total": str(master_total),
                "admin_fee": str(admin_fee),
                "unit_index": i,
                "units_energy_wh": units,
            }
        )
        out.append(
            replace(
                b,
                mode="maryland",
                tariff_name="Master bill allocation by kWh",
                energy_by_period_tier_wh=((b.energy_wh,),),
                lines=tuple(lines),
                inputs=inputs,
                max_demand_kw=None,
            )
        )
    return out


# -----------------------------------------------------------------------------------------------------
# Ratio utility billing (RUBS): the house meter and the unmetered remainder
# -----------------------------------------------------------------------------------------------------

AllocationBasis = Literal["floor_area", "occupants", "fixed"]

ALLOCATION_BASES: Final = ("floor_area", "occupants", "fixed")
"""How a shared amount is divided among units: by floor area, by occupants, or by fixed shares."""

_BASIS_WORDS: Final = {"floor_area": "floor area", "occupants": "occupants", "fixed": "fixed share"}


@dataclass(frozen=True, slots=True)
class ShareBasis:
    """
    What one unit brings to a ratio allocation.

    Attributes
    ----------
    account : str
        The account billed the share.
    floor_area : Decimal or None
        The unit's floor area, in one unit of area for every unit of the site. [ft² or m²]
    occupants : int or None
        People living in the unit.
    fixed_share : Decimal or None
        The unit's agreed share (a fraction or a percentage: each is taken relative to the sum of all). [1]
    occupied : Fraction
        The part of the billing period the account occupied the unit, 0 to 1 (e.g. days occupied over
        days in the period); the rest of the unit's weight is the owner's (a vacant unit's share is not
        passed to the other tenants). [1]
    """

    account: str
    floor_area: Decimal | None = None
    occupants: int | None = None
    fixed_share: Decimal | None = None
    occupied: Fraction = Fraction(1)


@dataclass(frozen=True, slots=True)
class RatioAllocation:
    """
    An amount shared by ratio.

    Attributes
    ----------
    total : Decimal
        The amount shared, whole cents. [USD]
    basis : str
        One of :data:`ALLOCATION_BASES`.
    accounts : tuple of str
        The units' accounts, in the order given.
    weights : tuple of Fraction
        Each unit's weight: its basis value times the part of the period it was occupied. [ft², m²,
        persons or 1]
    owner_weight : Fraction
        The vacant parts' weight, borne by the owner.
    shares : tuple of Decimal
        Each unit's share. [USD]
    owner_share : Decimal
        The owner's share (vacancy). ``sum(shares) + owner_share == total``, to the cent. [USD]
    """

    total: Decimal
    basis: str
    accounts: tuple[str, ...]
    weights: tuple[Fraction, ...]
    owner_weight: Fraction
    shares: tuple[Decimal, ...]
    owner_share: Decimal

    @property
    def whole_weight(self) -> Fraction:
        """The weights of the units and the vacancy together: what a unit's weight is a part of."""
        return sum(self.weights, Fraction(0)) + self.owner_weight


def _basis_value(unit: ShareBasis, basis: str, k: int, problems: list[str]) -> Fraction:
    where = f"units[{k}] ({unit.account!r})"
    if basis == "occupants":
        value: object = unit.occupants
        if value is None or isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(f"{where}: occupants must be a whole number of people, 0 or more, got {value!r}")
            return Fraction(0)
        return Fraction(value)
    value = unit.floor_area if basis == "floor_area" else unit.fixed_share
    name = "floor_area" if basis == "floor_area" else "fixed_share"
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        problems.append(f"{where}: {name} must be a finite Decimal, 0 or more, got {value!r}")
        return Fraction(0)
    return Fraction(value)


def ratio_shares(total: Decimal, units: Sequence[ShareBasis], basis: str) -> RatioAllocation:
    """
    Share an amount among units by floor area, occupants or fixed shares (ratio utility billing).

    Parameters
    ----------
    total : Decimal
        The amount to share, whole cents (a credit may be negative): the house meter's bill, or the
        :func:`remainder_amount` of the master bill. [USD]
    units : sequence of ShareBasis
        The units, each with the value of ``basis`` and the part of the period it was occupied.
    basis : str
        ``"floor_area"``, ``"occupants"`` or ``"fixed"``.

    Returns
    -------
    RatioAllocation
        Unit ``i`` bears ``value_i × occupied_i / Σ value`` of the amount; the vacant parts
        ``Σ value_j × (1 − occupied_j)`` are the owner's. Shares in whole cents by largest remainder
        (:func:`allocate_cents`), the owner's last: they sum to ``total`` exactly.

    Raises
    ------
    ValueError
        Naming every problem at once: an unknown basis, no unit, a unit without the basis value or with a
        negative one, an occupied part outside 0..1, a total that is not whole cents, all values zero.

    Notes
    -----
    Worked example (tests/billing/test_allocation.py): a house meter bill of $100.00 over 600, 900 and
    1,500 ft², the 900 ft² unit occupied half the period: weights 600, 450, 1,500 and the owner's 450 of
    3,000 ft²; shares $20.00, $15.00, $50.00 and $15.00 to the owner.
    """
    problems: list[str] = []
    if basis not in ALLOCATION_BASES:
        problems.append(f"basis must be one of {', '.join(ALLOCATION_BASES)}, got {basis!r}")
    if not units:
        problems.append("units must name at least one unit, got none")
    if not isinstance(total, Decimal) or not total.is_finite() or total != total.quantize(CENT):
        problems.append(f"total must be a whole number of cents (a Decimal in USD), got {total!r}")
    values: list[Fraction] = []
    parts: list[Fraction] = []
    for k, unit in enumerate(units):
        values.append(_basis_value(unit, basis, k, problems) if basis in ALLOCATION_BASES else Fraction(0))
        part: object = unit.occupied
        if isinstance(part, bool) or not isinstance(part, (Fraction, int)) or not 0 <= part <= 1:
            problems.append(
                f"units[{k}] ({unit.account!r}): occupied must be a fraction 0 to 1, got {part!r}"
            )
            part = Fraction(0)
        parts.append(Fraction(part))
    if not problems and sum(values) == 0:
        problems.append(f"every unit's {_BASIS_WORDS[basis]} is 0: nothing to share by")
    if problems:
        raise ValueError("cannot share the amount: " + "; ".join(problems))
    weights = [v * p for v, p in zip(values, parts, strict=True)]
    owner = sum((v * (1 - p) for v, p in zip(values, parts, strict=True)), Fraction(0))
    cents = allocate_cents(total, [*weights, owner])
    return RatioAllocation(
        total=total,
        basis=basis,
        accounts=tuple(u.account for u in units),
        weights=tuple(weights),
        owner_weight=owner,
        shares=tuple(cents[:-1]),
        owner_share=cents[-1],
    )


def unmetered_remainder_wh(master_wh: int, submeters_wh: Sequence[int]) -> int:
    """
    The energy the master meter measured that no sub-meter did. [Wh]

    Parameters
    ----------
    master_wh : int
        The master (utility) meter's energy over the period. [Wh]
    submeters_wh : sequence of int
        Every sub-meter's energy over the same period: the units' and the house meter's. [Wh]

    Raises
    ------
    ValueError
        When the sub-meters add up to more than the master: a CT or wiring fault (a reversed or swapped CT,
        the wrong CT ratio; manual §7), not something to share out.
    """
    for name, value in (
        ("master_wh", master_wh),
        *((f"submeters_wh[{k}]", w) for k, w in enumerate(submeters_wh)),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be non-negative integer Wh, got {value!r}")
    measured = sum(submeters_wh)
    if measured > master_wh:
        raise ValueError(
            f"the sub-meters add up to {measured} Wh, more than the master meter's {master_wh} Wh: verify CT "
            "connections, orientations and phases and each meter's CT ratio (manual §7) before sharing"
        )
    return master_wh - measured


def remainder_amount(master_total: Decimal, master_wh: int, remainder_wh: int) -> Decimal:
    """
    The part of the master bill that pays for the unmetered remainder, at the master bill's average price.

    ``master_total × remainder_wh / master_wh``, to the cent (half up). [USD]

    Raises
    ------
    ValueError
        On a total that is not whole cents, a master energy of 0 with a remainder, or a remainder outside
        0..master_wh.
    """
    cents = _cents("master_total", master_total)
    if isinstance(master_wh, bool) or not isinstance(master_wh, int) or master_wh < 0:
        raise ValueError(f"master_wh must be non-negative integer Wh, got {master_wh!r}")
    if (
        isinstance(remainder_wh, bool)
        or not isinstance(remainder_wh, int)
        or not 0 <= remainder_wh <= master_wh
    ):
        raise ValueError(
            f"remainder_wh must be integer Wh from 0 to master_wh ({master_wh}), got {remainder_wh!r}"
        )
    if remainder_wh == 0:
        return Decimal(0) * CENT
    amount = Decimal(cents) * remainder_wh / master_wh / 100
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _number_text(value: Fraction) -> str:
    """A weight as people write it: 450, 1.5, 0.333 (three decimals where it does not end)."""
    if value.denominator == 1:
        return f"{value.numerator:,}"
    text = f"{float(value):,.3f}".rstrip("0").rstrip(".")
    return text


def ratio_lines(allocation: RatioAllocation, label: str, *, area_unit: str = "ft²") -> list[LineItem]:
    """
    One bill line per unit for its share: ``"<label>, by floor area: 600 of 3,000 ft²"``.

    Parameters
    ----------
    allocation : RatioAllocation
        From :func:`ratio_shares`.
    label : str
        What is shared, e.g. ``"Common area (house meter)"`` or ``"Unmetered remainder"``.
    area_unit : str
        How floor areas are named on the line. [``ft²`` or ``m²``]

    Returns
    -------
    list of LineItem
        Kind ``"allocation"``, quantity 1 bill at the share, in the order of the units.
    """
    unit_word = {"floor_area": f" {area_unit}", "occupants": " occupants", "fixed": ""}[allocation.basis]
    whole = _number_text(allocation.whole_weight)
    lines = []
    for weight, share in zip(allocation.weights, allocation.shares, strict=True):
        description = (
            f"{label}, by {_BASIS_WORDS[allocation.basis]}: {_number_text(weight)} of {whole}{unit_word}"
        )
        lines.append(LineItem("allocation", description, Decimal(1), "bill", share, Decimal(1), share))
    return lines
