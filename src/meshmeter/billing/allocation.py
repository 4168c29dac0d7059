"""Maryland proportional allocation: a master bill shared by each unit's kWh, plus an administrative fee.

Each unit's share of the master bill is its billed energy over the units' total, in whole cents by
largest remainder, so that the shares sum to the master bill to the cent (``docs/billing.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Final

import numpy.typing as npt

from meshmeter.billing.bill import Bill, LineItem
from meshmeter.billing.calendar import INTERVAL_S
from meshmeter.billing.engine import Tenant, bill_meters
from meshmeter.billing.tariff import parse_tariff

__all__ = ["allocate_cents", "maryland_bills"]

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


def allocate_cents(total: Decimal, weights_wh: Sequence[int]) -> list[Decimal]:
    """
    Share an amount by energy, in whole cents that sum to it exactly (largest remainder).

    Parameters
    ----------
    total : Decimal
        The amount, a whole number of cents, may be negative (a credit). [USD]
    weights_wh : sequence of int
        Each unit's energy, non-negative; all zero shares evenly. [Wh]

    Returns
    -------
    list of Decimal
        Each unit's share: ``floor(cents × w_i / W)`` cents, plus one cent for the largest remainders
        (ties to the earlier unit). [USD]
    """
    cents = _cents("total", total)
    weights = [int(w) for w in weights_wh]
    if any(w < 0 for w in weights) or any(isinstance(w, bool) for w in weights_wh):
        raise ValueError(f"weights_wh must be non-negative integer Wh, got {list(weights_wh)!r}")
    if not weights:
        raise ValueError("weights_wh must name at least one unit, got none")
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
