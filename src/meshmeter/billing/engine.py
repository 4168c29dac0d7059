"""The tariff engine: bills for many meters at once over one billing period (``docs/billing.md``).

Vectorised across meters: the local calendar and each interval's tariff period are computed once per
billing period and time zone; the intervals fall in groups (energy period, calendar month, demand
period), and every meter's energy per group is one matrix product with the groups' indicator matrix
(its demand a masked maximum). Tiers are a cumulative clip of each meter's total against its limits.
:class:`~decimal.Decimal` appears only where a line item is priced.

Rules (the issue is silent on them; ``docs/billing.md`` gives the reasons):

- Quality codes are ESPI's ``QualityOfReading``. Billed: 0 valid, 7 edited, 17 validated, 18 verified,
  19 revenue quality; billed and flagged as estimated: 8 (reference day), 9 (interpolation); not billed:
  every other code (10 questionable, 14 raw or missing, ...).
- Tier limits apply to the service's total energy across periods (the baseline allowance is the first
  limit); ``kWh daily`` limits count the days of service, ``kWh`` ones the part of each calendar month in
  service. Each period's energy is split over the tiers in proportion to the tiers' shares of the total,
  in whole Wh by largest remainder.
- Charges per month (fixed, minimum, demand) are prorated by the part of each local calendar month in
  service, counted in intervals (so a DST month is still one month); charges per day by the days of
  service, a partial day counted in its own intervals.
- A meter's intervals all have one length ``interval_s`` (300, 900 by default, 1800 or 3600 s), and all
  meters of one :func:`bill_meters` call share it. An interval covers ``(end - interval_s, end]`` and
  takes the tariff period of its start instant in local time. Nothing is invented: an hourly meter is
  billed from its hourly intervals, and an absent one is not billed (quality 14).
- Demand is the highest block demand (interval energy / ``interval_s / 3600`` h) in service, per
  calendar month of the period and per demand period; estimated intervals count, failed ones do not.
  The demand interval is the meter's interval: with hourly data the demand is an hourly demand, and the
  bill says so (a tariff's own demand window is not applied).
- The minimum charge raises the total of energy, demand and fixed charges to it, as its own line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from meshmeter.billing.bill import ENGINE_VERSION, Bill, LineItem, demand_name
from meshmeter.billing.calendar import (
    INTERVAL_S,
    LocalCalendar,
    check_interval_s,
    grid_name,
    interval_grid,
    local_calendar,
    period_index,
)
from meshmeter.billing.tariff import Tariff, Tier
from meshmeter.intervals import BILLED_QUALITIES, ESTIMATED_QUALITIES, Quality

__all__ = [
    "BILLED_QUALITIES",
    "ESTIMATED_QUALITIES",
    "MAX_QUALITY",
    "Tenant",
    "align_intervals",
    "bill_meter",
    "bill_meters",
    "split_tiers",
    "tier_totals",
]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

MAX_QUALITY: Final = 19
"""Highest ESPI ``QualityOfReading`` code."""
QUALITY_MISSING: Final = int(Quality.RAW)
"""ESPI raw: what an interval absent from the data gets."""

_BILLED = np.zeros(MAX_QUALITY + 1, dtype=np.bool_)
_BILLED[sorted(BILLED_QUALITIES)] = True
_ESTIMATED = np.zeros(MAX_QUALITY + 1, dtype=np.bool_)
_ESTIMATED[sorted(ESTIMATED_QUALITIES)] = True

_CHUNK: Final = 1024
"""Meters per vectorised block (bounds the working memory)."""


@dataclass(frozen=True, slots=True)
class Tenant:
    """
    A tenant (account) of a meter, with the instants of moving in and out.

    Attributes
    ----------
    account : str
        Account name or number, printed on the bill.
    move_in : datetime or None
        Start of service, timezone-aware; None for before the billing period.
    move_out : datetime or None
        End of service, timezone-aware; None for after the billing period.
    """

    account: str
    move_in: datetime | None = None
    move_out: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("move_in", "move_out"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
                raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
        if self.move_in is not None and self.move_out is not None and self.move_out <= self.move_in:
            raise ValueError(f"move_out must be after move_in, got {self.move_out!r} <= {self.move_in!r}")


# -----------------------------------------------------------------------------------------------------
# Pure pieces
# -----------------------------------------------------------------------------------------------------


def tier_totals(total_wh: IntArray, limits_wh: IntArray) -> IntArray:
    """
    Split each meter's total energy over tiers: a cumulative clip against the tier limits.

    Parameters
    ----------
    total_wh : ndarray of int, shape (m,)
        Total energy. [Wh]
    limits_wh : ndarray of int, shape (m, K-1)
        Increasing upper limits of every tier but the last. [Wh]

    Returns
    -------
    ndarray of int64, shape (m, K)
        Energy in each tier; rows sum to ``total_wh``. [Wh]
    """
    total = np.asarray(total_wh, dtype=np.int64)
    limits = np.asarray(limits_wh, dtype=np.int64).reshape(total.shape[0], -1)
    cum = np.minimum(total[:, None], limits)
    edges = np.concatenate([np.zeros((total.shape[0], 1), np.int64), cum, total[:, None]], axis=1)
    return np.diff(edges, axis=1)


def split_tiers(period_wh: IntArray, tiers_wh: IntArray) -> IntArray:
    """
    Split each period's energy over the tiers in proportion to the tiers' shares of the total.

    Parameters
    ----------
    period_wh : ndarray of int, shape (m, P)
        Energy per period. [Wh]
    tiers_wh : ndarray of int, shape (m, K)
        Energy per tier (:func:`tier_totals`); rows sum to the rows of ``period_wh``. [Wh]

    Returns
    -------
    ndarray of int64, shape (m, P, K)
        Whole Wh: ``floor(E_p × T_k / E)`` plus one for the largest remainders within each period (ties
        to the lower tier), so that each period's tiers sum to its energy exactly. [Wh]
    """
    e_p = np.asarray(period_wh, dtype=np.int64)
    t_k = np.asarray(tiers_wh, dtype=np.int64)
    k = t_k.shape[1]
    if k == 1:
        return e_p[:, :, None].copy()
    total = np.maximum(e_p.sum(axis=1), 1)
    num = e_p[:, :, None] * t_k[:, None, :]
    base = num // total[:, None, None]
    rem = num % total[:, None, None]
    short = e_p - base.sum(axis=2)
    rank = np.argsort(np.argsort(-rem, axis=2, kind="stable"), axis=2, kind="stable")
    out: IntArray = base + (rank < short[:, :, None]).astype(np.int64)
    return out


def _quality(name: str, quality: npt.ArrayLike, shape: tuple[int, ...]) -> IntArray:
    q = np.asarray(quality)
    if q.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {q.shape}")
    if q.size and (not np.issubdtype(q.dtype, np.integer) or q.min() < 0 or q.max() > MAX_QUALITY):
        bad = q.flat[0] if not np.issubdtype(q.dtype, np.integer) else (q.min() if q.min() < 0 else q.max())
        raise ValueError(f"{name} must hold ESPI quality codes 0 to {MAX_QUALITY}, got {bad!r}")
    return q


def align_intervals(
    grid_s: IntArray,
    interval_end_s: npt.ArrayLike,
    energy_wh: npt.ArrayLike,
    quality: npt.ArrayLike,
    *,
    interval_s: int = INTERVAL_S,
) -> tuple[IntArray, IntArray]:
    """
    Put one meter's intervals onto a billing period's grid; absent intervals get quality 14 (raw).

    Parameters
    ----------
    grid_s : ndarray of int64
        The period's interval ends at ``interval_s`` (:func:`~meshmeter.billing.calendar.interval_grid`). [s]
    interval_end_s : array-like of int
        The meter's interval ends, each on the grid of ``interval_s``, no duplicates; those outside the
        period are ignored. [s]
    energy_wh : array-like of int
        Energy of each interval, non-negative. [Wh]
    quality : array-like of int
        ESPI quality code of each interval.
    interval_s : int
        Length of each of the meter's intervals: 300, 900 (default), 1800 or 3600. Nothing is invented:
        each interval goes to its own grid position, an absent one stays absent. [s]

    Returns
    -------
    energy_wh, quality : ndarray of int64, shape (len(grid_s),)
    """
    step = check_interval_s(interval_s)
    grid_s = np.asarray(grid_s, dtype=np.int64)
    if grid_s.size > 1 and (grid_s[1] - grid_s[0] != step or grid_s[0] % step):
        raise ValueError(
            f"grid_s must be a grid of {step} s intervals (interval_grid with interval_s={step}), got one"
            f" with a step of {int(grid_s[1] - grid_s[0])} s from {int(grid_s[0])}"
        )
    ends = np.asarray(interval_end_s, dtype=np.int64)
    energy = np.asarray(energy_wh)
    if ends.ndim != 1:
        raise ValueError(f"interval_end_s must be one-dimensional, got shape {ends.shape}")
    if energy.shape != ends.shape:
        raise ValueError(f"energy_wh must have the shape of interval_end_s {ends.shape}, got {energy.shape}")
    if energy.size and not np.issubdtype(energy.dtype, np.integer):
        raise ValueError(f"energy_wh must be integer Wh, got dtype {energy.dtype}")
    q = _quality("quality", quality, ends.shape)
    if energy.size and energy.min() < 0:
        raise ValueError(f"energy_wh must not be negative, got {int(energy.min())}")
    off = ends % step != 0
    if off.any():
        raise ValueError(f"interval_end_s must be on the {grid_name(step)} grid, got {int(ends[off][0])}")
    inside = (ends > grid_s[0] - step) & (ends <= grid_s[-1])
    ends, energy, q = ends[inside], energy[inside].astype(np.int64), q[inside].astype(np.int64)
    pos = (ends - grid_s[0]) // step
    if np.unique(pos).size != pos.size:
        raise ValueError("interval_end_s must not repeat an interval")
    out_e = np.zeros(grid_s.size, dtype=np.int64)
    out_q = np.full(grid_s.size, QUALITY_MISSING, dtype=np.int64)
    out_e[pos] = energy
    out_q[pos] = q
    return out_e, out_q


# -----------------------------------------------------------------------------------------------------
# The period: calendar, groups, proration
# -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """What is computed once per billing period, time zone and tariff."""

    grid: IntArray
    calendar: LocalCalendar
    indicator: FloatArray  # (n, G): 1 where interval i is in group g
    group_to_period: IntArray  # (G, P): 1 where group g is of energy period p
    segment_keys: IntArray  # year * 12 + month - 1 of each segment
    segment_pos: IntArray  # segment of each interval
    demand_pos: IntArray  # demand period of each interval (0 when none)
    demand_keys: tuple[tuple[int, int], ...]  # (segment, demand period) pairs that occur
    interval_s: int  # length of each interval [s]


def _layout(tariff: Tariff, grid: IntArray, timezone: str, interval_s: int) -> _Layout:
    cal = local_calendar(grid, timezone, tariff.holidays, interval_s=interval_s)
    energy_p = period_index(tariff.energy_weekday, tariff.energy_weekend, cal)
    if tariff.demand_weekday is not None and tariff.demand_weekend is not None:
        demand_p = period_index(tariff.demand_weekday, tariff.demand_weekend, cal)
        n_demand = len(tariff.demand_tiers)
    else:
        demand_p = np.zeros(grid.size, dtype=np.int64)
        n_demand = 1
    segment_keys, segment_pos = np.unique(cal.month_key, return_inverse=True)
    segment_pos = segment_pos.astype(np.int64)
    n_seg = segment_keys.size
    key = (energy_p * n_seg + segment_pos) * n_demand + demand_p
    group_keys, group_of = np.unique(key, return_inverse=True)
    indicator = np.zeros((grid.size, group_keys.size), dtype=np.float64)
    indicator[np.arange(grid.size), group_of.ravel()] = 1.0
    group_to_period = np.zeros((group_keys.size, len(tariff.energy_tiers)), dtype=np.int64)
    group_to_period[np.arange(group_keys.size), group_keys // (n_seg * n_demand)] = 1
    pairs = sorted(set(zip(segment_pos.tolist(), demand_p.tolist(), strict=True)))
    return _Layout(
        grid=grid,
        calendar=cal,
        indicator=indicator,
        group_to_period=group_to_period,
        segment_keys=segment_keys,
        segment_pos=segment_pos,
        demand_pos=demand_p,
        demand_keys=tuple(pairs),
        interval_s=interval_s,
    )


@dataclass(frozen=True)
class _Proration:
    """Parts of months and days in service, for one service window of the period."""

    month_parts: tuple[Decimal, ...]  # per segment, 0 to 1 [month]
    months: Decimal  # sum of month_parts [month]
    days: Decimal  # days of service [day]
    tier_limits_wh: tuple[int, ...]


def _fraction(num: int, den: int) -> Decimal:
    return Decimal(1) if num == den else Decimal(num) / Decimal(den)


def _proration(tariff: Tariff, layout: _Layout, i0: int, i1: int) -> _Proration:
    cal = layout.calendar
    sl = slice(i0, i1)
    seg = layout.segment_pos[sl]
    n_seg = layout.segment_keys.size
    in_seg = np.bincount(seg, minlength=n_seg)
    month_total = np.zeros(n_seg, dtype=np.int64)
    month_total[layout.segment_pos] = cal.intervals_in_month
    month_parts = tuple(
        _fraction(int(a), int(b)) if a else Decimal(0) for a, b in zip(in_seg, month_total, strict=True)
    )
    days_u, day_counts = np.unique(cal.day[sl], return_counts=True)
    day_len = cal.intervals_in_day[sl][np.searchsorted(cal.day[sl], days_u)] if days_u.size else days_u
    day_parts = [_fraction(int(a), int(b)) for a, b in zip(day_counts, day_len, strict=True)]
    days = sum(day_parts, Decimal(0))
    limits: list[int] = []
    if tariff.tier_count > 1:
        months_of_day = cal.month[sl][np.searchsorted(cal.day[sl], days_u)] if days_u.size else days_u
        for k in range(tariff.tier_count - 1):
            if tariff.tier_unit == "kWh daily":
                kwh = sum(
                    (
                        part * tariff.tier_limits_kwh(int(mo))[k]
                        for part, mo in zip(day_parts, months_of_day, strict=True)
                    ),
                    Decimal(0),
                )
            else:
                kwh = sum(
                    (
                        part * tariff.tier_limits_kwh(int(key) % 12 + 1)[k]
                        for part, key in zip(month_parts, layout.segment_keys, strict=True)
                    ),
                    Decimal(0),
                )
            limits.append(int((kwh * 1000).to_integral_value()))
    return _Proration(
        month_parts=month_parts, months=sum(month_parts, Decimal(0)), days=days, tier_limits_wh=tuple(limits)
    )


def _window(grid: IntArray, tenant: Tenant | None, interval_s: int) -> tuple[int, int]:
    """Grid positions [i0, i1) of the intervals in service (whole intervals after move-in, up to move-out)."""
    if tenant is None:
        return 0, grid.size
    i0, i1 = 0, grid.size
    if tenant.move_in is not None:
        t = int(tenant.move_in.timestamp())
        i0 = int(np.searchsorted(grid, t + interval_s, side="left"))
    if tenant.move_out is not None:
        t = int(tenant.move_out.timestamp())
        i1 = int(np.searchsorted(grid, t, side="right"))
    if i1 <= i0:
        raise ValueError(
            f"tenant {tenant.account!r} is not in service in the billing period (move_in={tenant.move_in},"
            f" move_out={tenant.move_out})"
        )
    return i0, i1


# -----------------------------------------------------------------------------------------------------
# Pricing: Decimal, line by line
# -----------------------------------------------------------------------------------------------------


_BLOCK_HOURS: Final = {900: Decimal("0.25"), 1800: Decimal("0.5"), 3600: Decimal(1)}
"""Length of an interval in hours, where that is a finite decimal. [h]"""


def _kw(wh: int, interval_s: int) -> Decimal:
    """Block demand from an interval's energy: Wh / (interval_s / 3600 h) / 1000 (0.25 h for 15 min). [kW]"""
    hours = _BLOCK_HOURS.get(interval_s)
    if hours is None:  # 5 minutes is 1/12 h, not a finite decimal: times 12 per hour, exactly
        return Decimal(wh) * (3600 // interval_s) / 1000
    # Divided as always, so a 15-minute demand keeps its decimal form (stored bills re-bill to the letter).
    return Decimal(wh) / 1000 / hours


def _tiered_demand(
    kind: str, label: str, kw: Decimal, tiers: Sequence[Tier], factor: Decimal, period: int
) -> list[LineItem]:
    lines = []
    low = Decimal(0)
    for k, tier in enumerate(tiers):
        high = tier.max
        part = (kw if high is None else min(kw, high)) - low
        if part <= 0:
            break
        amount = part * tier.rate * factor
        tier_text = f", tier {k + 1}" if len(tiers) > 1 else ""
        lines.append(LineItem(kind, f"{label}{tier_text}", part, "kW", tier.rate, factor, amount, period, k))
        if high is None:
            break
        low = high
    return lines


_CHARGE_NAME: Final = {"$/month": "month", "$/day": "day", "$/year": "month"}


def _recurring(tariff: Tariff, rate: Decimal, unit: str, pr: _Proration) -> tuple[Decimal, str, Decimal]:
    """Quantity, its unit and the rate per that unit of a $/month, $/day or $/year charge."""
    if unit == "$/day":
        return pr.days, "day", rate
    if unit == "$/year":
        return pr.months, "month", rate / 12
    return pr.months, "month", rate


def _price(
    tariff: Tariff,
    layout: _Layout,
    pr: _Proration,
    period_tier_wh: Sequence[Sequence[int]],
    demand_max_wh: dict[tuple[int, int], int],
    flat_max_wh: dict[int, int],
) -> list[LineItem]:
    lines: list[LineItem] = []
    # The demand interval is the meter's; a length other than the Mini Meter's 15 minutes is named.
    demand_note = "" if layout.interval_s == INTERVAL_S else f" ({demand_name(layout.interval_s)} demand)"
    many_periods = len(tariff.energy_tiers) > 1
    many_tiers = tariff.tier_count > 1
    for p, tiers in enumerate(tariff.energy_tiers):
        for k, tier in enumerate(tiers):
            wh = period_tier_wh[p][k]
            if wh == 0:
                continue
            kwh = Decimal(wh) / 1000
            name = "Energy"
            if many_periods:
                name += f", period {p + 1}"
            if many_tiers:
                baseline = k == 0 and tariff.tier_unit == "kWh daily"
                name += ", baseline (tier 1)" if baseline else f", tier {k + 1}"
            lines.append(LineItem("energy", name, kwh, "kWh", tier.rate, Decimal(1), kwh * tier.rate, p, k))
    for (seg, d), wh in sorted(demand_max_wh.items()):
        factor = pr.month_parts[seg]
        if wh == 0 or factor == 0:
            continue
        key = int(layout.segment_keys[seg])
        label = f"Demand {key // 12}-{key % 12 + 1:02d}"
        if len(tariff.demand_tiers) > 1:
            label += f", period {d + 1}"
        label += demand_note
        kw = _kw(wh, layout.interval_s)
        lines.extend(_tiered_demand("demand", label, kw, tariff.demand_tiers[d], factor, d))
    if tariff.flat_demand_months is not None:
        for seg, wh in sorted(flat_max_wh.items()):
            factor = pr.month_parts[seg]
            if wh == 0 or factor == 0:
                continue
            key = int(layout.segment_keys[seg])
            fp = int(tariff.flat_demand_months[key % 12])
            label = f"Demand (flat) {key // 12}-{key % 12 + 1:02d}{demand_note}"
            kw = _kw(wh, layout.interval_s)
            lines.extend(_tiered_demand("flat_demand", label, kw, tariff.flat_demand_tiers[fp], factor, fp))
    if tariff.fixed_charge:
        qty, unit, rate = _recurring(tariff, tariff.fixed_charge, tariff.fixed_charge_unit, pr)
        lines.append(LineItem("fixed", "Customer charge", qty, unit, rate, Decimal(1), qty * rate))
    if tariff.min_charge:
        qty, unit, rate = _recurring(tariff, tariff.min_charge, tariff.min_charge_unit, pr)
        minimum = qty * rate
        subtotal = sum((line.amount for line in lines), Decimal(0))
        if subtotal < minimum:
            lines.append(
                LineItem(
                    "minimum",
                    f"Minimum charge ({qty.normalize():f} {unit} at {rate.normalize():f}) less charges above",
                    Decimal(1),
                    "bill",
                    minimum - subtotal,
                    Decimal(1),
                    minimum - subtotal,
                )
            )
    return lines


# -----------------------------------------------------------------------------------------------------
# Bills
# -----------------------------------------------------------------------------------------------------


def _utc(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _reads(name: str, values: Sequence[int | None] | None, m: int) -> list[int | None]:
    if values is None:
        return [None] * m
    if len(values) != m:
        raise ValueError(f"{name} must have one value per meter ({m}), got {len(values)}")
    for v in values:
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0):
            raise ValueError(f"{name} must be non-negative integer Wh or None, got {v!r}")
    return [None if v is None else int(v) for v in values]


def bill_meters(
    tariff: Tariff,
    energy_wh: npt.ArrayLike,
    quality: npt.ArrayLike,
    *,
    start: datetime,
    end: datetime,
    timezone: str,
    meters: Sequence[str],
    tenants: Sequence[Tenant | None] | None = None,
    opening_reads_wh: Sequence[int | None] | None = None,
    closing_reads_wh: Sequence[int | None] | None = None,
    interval_s: int = INTERVAL_S,
) -> list[Bill]:
    """
    Bill many meters over one billing period at a tariff (California re-rating, PU Code §739.5).

    Parameters
    ----------
    tariff : Tariff
        The residential schedule each submeter is billed at.
    energy_wh : array-like of int, shape (m, n)
        Energy of each meter's intervals on the period's grid at ``interval_s`` (:func:`interval_grid`). [Wh]
    quality : array-like of int, shape (m, n)
        ESPI quality code of each interval (``docs/billing.md``: which are billed).
    start, end : datetime
        The billing period ``(start, end]``, timezone-aware, on the grid of ``interval_s``.
    timezone : str
        IANA time zone of the tariff's local time.
    meters : sequence of str
        Each meter's serial.
    tenants : sequence of Tenant or None, optional
        Each meter's tenant (move-in and move-out); None for a whole period under the meter's serial.
    opening_reads_wh, closing_reads_wh : sequence of int or None, optional
        Register reads at the start and end of service. When only the opening read is known the closing
        read is the opening read plus the billed energy. [Wh]
    interval_s : int
        Length of every interval of these meters: 300, 900 (default), 1800 or 3600. Proration counts
        intervals of this length; demand is interval energy over this length (hourly data gives an hourly
        demand). [s]

    Returns
    -------
    list of Bill
        One per meter, in order.
    """
    step = check_interval_s(interval_s)
    t0, t1 = _utc("start", start), _utc("end", end)
    grid = interval_grid(t0, t1, interval_s=step)
    energy = np.asarray(energy_wh)
    if energy.ndim != 2 or energy.shape[1] != grid.size:
        raise ValueError(f"energy_wh must have shape (meters, {grid.size}), got {energy.shape}")
    if energy.size and not np.issubdtype(energy.dtype, np.integer):
        raise ValueError(f"energy_wh must be integer Wh, got dtype {energy.dtype}")
    if energy.size and energy.min() < 0:
        raise ValueError(f"energy_wh must not be negative, got {int(energy.min())}")
    m = energy.shape[0]
    q_all = _quality("quality", quality, energy.shape)
    if len(meters) != m:
        raise ValueError(f"meters must name each of the {m} meters, got {len(meters)}")
    if tenants is not None and len(tenants) != m:
        raise ValueError(f"tenants must have one entry per meter ({m}), got {len(tenants)}")
    opening = _reads("opening_reads_wh", opening_reads_wh, m)
    closing = _reads("closing_reads_wh", closing_reads_wh, m)
    layout = _layout(tariff, grid, timezone, step)
    windows = [_window(grid, None if tenants is None else tenants[i], step) for i in range(m)]
    prorations: dict[tuple[int, int], _Proration] = {}
    common: dict[str, Any] = {
        "engine_version": ENGINE_VERSION,
        "mode": "california",
        "tariff_sha256": tariff.sha256,
        "tariff": tariff.document,
        "start": t0.isoformat(),
        "end": t1.isoformat(),
        "timezone": timezone,
    }
    if step != INTERVAL_S:
        # Recorded only when not the default, so a 15-minute bill's document is what it always was (a
        # stored one still matches it); re-billing takes 900 when it is absent.
        common["interval_s"] = step
    bills: list[Bill] = []
    n_seg = layout.segment_keys.size
    for c0 in range(0, m, _CHUNK):
        c1 = min(m, c0 + _CHUNK)
        e = np.asarray(energy[c0:c1], dtype=np.int64)
        q = np.asarray(q_all[c0:c1])
        billed = _BILLED[q]
        estimated = _ESTIMATED[q]
        win = windows[c0:c1]
        if any(w != (0, grid.size) for w in win):
            cols = np.arange(grid.size)
            lo = np.array([w[0] for w in win])[:, None]
            hi = np.array([w[1] for w in win])[:, None]
            service = (cols >= lo) & (cols < hi)
            billed &= service
            estimated &= service
        else:
            service = None
        eb = np.where(billed, e, 0)
        # Energy per group: one matrix product with the groups' indicator (exact: sums < 2**53 Wh).
        group_sum = np.rint(eb.astype(np.float64) @ layout.indicator).astype(np.int64)
        if estimated.any():
            est_wh = np.where(estimated, e, 0).sum(axis=1)
            est_n = estimated.sum(axis=1)
        else:
            est_wh = est_n = np.zeros(c1 - c0, dtype=np.int64)
        failed = ~billed if service is None else (~billed & service)
        if failed.any():
            unbilled_n = failed.sum(axis=1)
            unbilled_wh = np.where(failed, e, 0).sum(axis=1)
        else:
            unbilled_n = unbilled_wh = np.zeros(c1 - c0, dtype=np.int64)
        period_wh = group_sum @ layout.group_to_period
        total = period_wh.sum(axis=1)
        # Demand maxima per (segment, demand period) and per segment, over the intervals in each.
        dmax = (
            {
                key: eb.max(
                    axis=1, where=(layout.segment_pos == key[0]) & (layout.demand_pos == key[1]), initial=0
                )
                for key in layout.demand_keys
            }
            if tariff.demand_tiers
            else {}
        )
        smax = (
            {s: eb.max(axis=1, where=layout.segment_pos == s, initial=0) for s in range(n_seg)}
            if tariff.flat_demand_months is not None
            else {}
        )
        overall_max = eb.max(axis=1, initial=0)
        # Tiers: one proration per service window.
        for w in set(win):
            if w not in prorations:
                prorations[w] = _proration(tariff, layout, *w)
        limits = np.array([prorations[w].tier_limits_wh for w in win], dtype=np.int64).reshape(c1 - c0, -1)
        tiers_wh = tier_totals(total, limits)
        period_tier = split_tiers(period_wh, tiers_wh).tolist()
        period_list = period_wh.tolist()
        total_list = total.tolist()
        max_list = overall_max.tolist()
        est_wh_list, est_n_list = est_wh.tolist(), est_n.tolist()
        unbilled_n_list, unbilled_wh_list = unbilled_n.tolist(), unbilled_wh.tolist()
        dmax_lists = {key: v.tolist() for key, v in dmax.items()}
        smax_lists = {key: v.tolist() for key, v in smax.items()}
        for j in range(c1 - c0):
            i = c0 + j
            w = win[j]
            pr = prorations[w]
            lines = _price(
                tariff,
                layout,
                pr,
                period_tier[j],
                {key: v[j] for key, v in dmax_lists.items()},
                {key: v[j] for key, v in smax_lists.items()},
            )
            tenant = None if tenants is None else tenants[i]
            account = meters[i] if tenant is None else tenant.account
            service_start = datetime.fromtimestamp(int(grid[w[0]]) - step, UTC)
            service_end = datetime.fromtimestamp(int(grid[w[1] - 1]), UTC)
            billed_wh = total_list[j]
            close = closing[i]
            if close is None and opening[i] is not None:
                close = opening[i] + billed_wh
            inputs = dict(common)
            inputs.update(
                {
                    "meter": meters[i],
                    "tenant": None
                    if tenant is None
                    else {
                        "account": tenant.account,
                        "move_in": None if tenant.move_in is None else tenant.move_in.isoformat(),
                        "move_out": None if tenant.move_out is None else tenant.move_out.isoformat(),
                    },
                    "opening_read_wh": opening[i],
                    "closing_read_wh": closing[i],
                }
            )
            bills.append(
                Bill(
                    account=account,
                    meter=meters[i],
                    mode="california",
                    tariff_name=tariff.name,
                    start=t0,
                    end=t1,
                    timezone=timezone,
                    service_start=service_start,
                    service_end=service_end,
                    opening_read_wh=opening[i],
                    closing_read_wh=close,
                    energy_wh=billed_wh,
                    energy_by_period_wh=tuple(period_list[j]),
                    energy_by_period_tier_wh=tuple(tuple(row) for row in period_tier[j]),
                    tier_limits_wh=pr.tier_limits_wh,
                    max_demand_kw=_kw(max_list[j], step),
                    estimated_wh=est_wh_list[j],
                    estimated_intervals=est_n_list[j],
                    unbilled_intervals=unbilled_n_list[j],
                    unbilled_wh=unbilled_wh_list[j],
                    lines=tuple(lines),
                    inputs=inputs,
                    interval_columns=(grid, energy[i], q_all[i]),
                    interval_s=step,
                )
            )
    return bills


def bill_meter(
    tariff: Tariff,
    interval_end_s: npt.ArrayLike,
    energy_wh: npt.ArrayLike,
    quality: npt.ArrayLike | None = None,
    *,
    start: datetime,
    end: datetime,
    timezone: str,
    meter: str = "meter",
    tenant: Tenant | None = None,
    opening_read_wh: int | None = None,
    closing_read_wh: int | None = None,
    interval_s: int = INTERVAL_S,
) -> Bill:
    """
    Bill one meter from its intervals, in any order and with gaps (California re-rating).

    Parameters
    ----------
    tariff : Tariff
        The tariff.
    interval_end_s : array-like of int
        Interval ends, seconds since the Unix epoch, on the grid of ``interval_s``; those outside the
        period are ignored, absent ones are not billed (quality 14). [s]
    energy_wh : array-like of int
        Energy of each interval. [Wh]
    quality : array-like of int, optional
        ESPI quality codes; default all 0 (valid).
    start, end : datetime
        The billing period ``(start, end]``.
    timezone : str
        IANA time zone of the tariff's local time.
    meter : str
        The meter's serial.
    tenant : Tenant, optional
        The tenant, with move-in and move-out.
    opening_read_wh, closing_read_wh : int, optional
        Register reads at the start and end of service. [Wh]
    interval_s : int
        Length of each of the meter's intervals: 300, 900 (default), 1800 or 3600 (:func:`bill_meters`). [s]

    Returns
    -------
    Bill
    """
    grid = interval_grid(_utc("start", start), _utc("end", end), interval_s=interval_s)
    ends = np.asarray(interval_end_s, dtype=np.int64)
    q = np.zeros(ends.shape, dtype=np.int64) if quality is None else quality
    energy, qual = align_intervals(grid, ends, energy_wh, q, interval_s=interval_s)
    return bill_meters(
        tariff,
        energy[None, :],
        qual[None, :],
        start=start,
        end=end,
        timezone=timezone,
        meters=[meter],
        tenants=None if tenant is None else [tenant],
        opening_reads_wh=[opening_read_wh],
        closing_reads_wh=[closing_read_wh],
        interval_s=interval_s,
    )[0]
