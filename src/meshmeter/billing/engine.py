"""The tariff engine: bills for many meters at once over one billing period (``docs/billing.md``).

Vectorised across meters: the local calendar and each interval's tariff period are computed once per
billing period and time zone; the intervals fall in groups (energy period, calendar month, demand
period), and every meter's energy per group is one matrix product with the groups' indicator matrix
(its demand a masked maximum). Tiers are a cumulative clip of each meter's total against each period's
limits. :class:`~decimal.Decimal` appears only where a line item is priced.

Rules (the issue is silent on them; ``docs/billing.md`` gives the reasons):

- Quality codes are ESPI's ``QualityOfReading``. Billed: 0 valid, 7 edited, 17 validated, 18 verified,
  19 revenue quality; billed and flagged as estimated: 8 (reference day), 9 (interpolation); billed and
  counted as apportioned: 11 derived (a real device's interval whose end lies between two readings,
  ``docs/collect.md``); not billed: every other code (10 questionable, 14 raw or missing, ...).
- Tier limits apply to the service's total energy across periods (the baseline allowance is the first
  limit), each period with its own tiers, as SAM's Utilityrate5 does within a month; ``kWh daily``
  limits count the days of service, ``kWh`` ones the part of each calendar month in service. Each
  period's energy is split over its tiers in proportion to the tiers' shares of the total, in whole Wh
  by largest remainder.
- Charges per month (fixed, minimum, demand) are prorated by the part of each local calendar month in
  service, counted in intervals (so a DST month is still one month); charges per day by the days of
  service, a partial day counted in its own intervals.
- A meter's intervals all have one length ``interval_s`` (300, 900 by default, 1800 or 3600 s), and all
  meters of one :func:`bill_meters` call share it. An interval covers ``(end - interval_s, end]`` and
  takes the tariff period of its start instant in local time. Nothing is invented: an hourly meter is
  billed from its hourly intervals, and an absent one is not billed (quality 14).
- Demand is the highest block demand in service, per calendar month of the period and per demand
  period: the energy of a demand window over its length. The window is the tariff's ``demandwindow``
  (fixed clock windows, a whole number of the meter's intervals) or else the meter's interval (with
  hourly data an hourly demand; the bill says so). Estimated intervals count, failed ones do not.
- Ratchets raise a month's billing demand to a fraction of earlier months' peaks (``prior_peaks_kw``).
- Exported energy (``export_wh``) is netted per period (net metering) or credited at the tiers' ``sell``
  rates (net billing), by the tariff's ``dgrules`` / ``usenetmetering``.
- Credit carried between a meter's bills (``credit_in_wh``, ``credit_in``), as SAM's Utilityrate5 carries it:
  net metering carries each period's net excess kWh to the next bill, into the period of the same time of
  day, instead of paying it at ``sell``; net billing carries the export credit left after the bill's
  energy charges in dollars. The true-up bill (``true_up``) settles what is left: kWh at the operator's
  ``true_up_sell_rate``, dollars as they are, after the minimum charges.
- The minimum charge raises the total of the charges to it, as its own line; the annual minimum does so
  on the bill that ends the calendar year, against the year's charges (``year_to_date_charges``).
"""

from __future__ import annotations

import warnings
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
    zone,
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
    "credit_targets",
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
_APPORTIONED = np.zeros(MAX_QUALITY + 1, dtype=np.bool_)
_APPORTIONED[int(Quality.DERIVED)] = True

_CHUNK: Final = 1024
"""Meters per vectorised block (bounds the working memory)."""
_UNBOUNDED_WH: Final = 1 << 60
"""A tier limit that is never reached (the padding of a period with fewer tiers, a limit of 1e38). [Wh]"""


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
    tiers_wh : ndarray of int, shape (m, K) or (m, P, K)
        Energy per tier (:func:`tier_totals`) of the total, the same for every period, or each period's
        own (its own limits against the same total); rows sum to the rows of ``period_wh``. [Wh]

    Returns
    -------
    ndarray of int64, shape (m, P, K)
        Whole Wh: ``floor(E_p × T_k / E)`` plus one for the largest remainders within each period (ties
        to the lower tier), so that each period's tiers sum to its energy exactly. [Wh]
    """
    e_p = np.asarray(period_wh, dtype=np.int64)
    t_k = np.asarray(tiers_wh, dtype=np.int64)
    t_pk = t_k if t_k.ndim == 3 else t_k[:, None, :]
    k = t_pk.shape[2]
    if k == 1:
        return e_p[:, :, None].copy()
    total = np.maximum(e_p.sum(axis=1), 1)
    num = e_p[:, :, None] * t_pk
    base = num // total[:, None, None]
    rem = num % total[:, None, None]
    short = e_p - base.sum(axis=2)
    rank = np.argsort(np.argsort(-rem, axis=2, kind="stable"), axis=2, kind="stable")
    out: IntArray = base + (rank < short[:, :, None]).astype(np.int64)
    return out


def _period_tier_totals(total_wh: IntArray, limits_wh: IntArray) -> IntArray:
    """:func:`tier_totals` of one total against each period's limits: (m,), (m, P, K-1) -> (m, P, K). [Wh]"""
    m, p = limits_wh.shape[0], limits_wh.shape[1]
    whole = np.broadcast_to(total_wh[:, None, None], (m, p, 1))
    cum = np.minimum(whole, limits_wh)
    edges = np.concatenate([np.zeros((m, p, 1), np.int64), cum, whole], axis=2)
    out: IntArray = np.diff(edges, axis=2)
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
        raise ValueError(
            f"energy_wh must not be negative, got {int(energy.min())} (exported energy goes in export_wh)"
        )
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
    window_s: int  # length of a demand window: the tariff's demandwindow, else interval_s [s]
    window_starts: IntArray | None  # first interval of each demand window; None: windows are intervals
    demand_masks: dict[tuple[int, int], BoolArray]  # windows of each (segment, demand period)
    segment_masks: dict[int, BoolArray]  # windows of each segment
    coincident_masks: dict[tuple[int, int], BoolArray]  # windows of each (segment, coincident period)
    hour_starts: IntArray  # first interval of each clock hour (net billing hourly)


def _window_starts(grid: IntArray, interval_s: int, window_s: int) -> IntArray | None:
    """First grid position of each fixed clock window of ``window_s`` (None when it is the interval)."""
    if window_s == interval_s:
        return None
    # The interval (end - interval_s, end] lies in the window ending at ceil(end / window_s) * window_s.
    ids = (grid + window_s - 1) // window_s
    return np.concatenate([[0], np.flatnonzero(np.diff(ids)) + 1]).astype(np.int64)


def _layout(tariff: Tariff, grid: IntArray, timezone: str, interval_s: int) -> _Layout:
    window_s = tariff.demand_window_s or interval_s
    if window_s < interval_s or window_s % interval_s:
        raise ValueError(
            f"the tariff's demandwindow of {window_s // 60} min must be a whole number of the meter's"
            f" intervals (interval_s={interval_s}, {interval_s // 60} min): demand is not invented from"
            " longer intervals"
        )
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
    # Demand windows take the period of their start instant: that of their first interval (a window
    # divides an hour, so it lies in one local hour).
    starts = _window_starts(grid, interval_s, window_s)
    w_seg = segment_pos if starts is None else segment_pos[starts]
    w_dem = demand_p if starts is None else demand_p[starts]
    pairs = sorted(set(zip(w_seg.tolist(), w_dem.tolist(), strict=True)))
    demand_masks = (
        {pair: (w_seg == pair[0]) & (w_dem == pair[1]) for pair in pairs} if tariff.demand_tiers else {}
    )
    need_segments = tariff.flat_demand_months is not None or tariff.has_ratchet
    segment_masks = {s: w_seg == s for s in range(n_seg)} if need_segments else {}
    coincident_masks: dict[tuple[int, int], BoolArray] = {}
    if tariff.coincident_schedule is not None:
        cp = period_index(tariff.coincident_schedule, tariff.coincident_schedule, cal)
        w_cp = cp if starts is None else cp[starts]
        for pair in sorted(set(zip(w_seg.tolist(), w_cp.tolist(), strict=True))):
            coincident_masks[pair] = (w_seg == pair[0]) & (w_cp == pair[1])
    # A clock hour starts where the local hour or the UTC hour changes (the repeated hour of a DST day is
    # two hours).
    utc_hour = (grid - interval_s) // 3600
    change = (np.diff(cal.hour) != 0) | (np.diff(utc_hour) != 0)
    hour_starts = np.concatenate([[0], np.flatnonzero(change) + 1]).astype(np.int64)
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
        window_s=window_s,
        window_starts=starts,
        demand_masks=demand_masks,
        segment_masks=segment_masks,
        coincident_masks=coincident_masks,
        hour_starts=hour_starts,
    )


@dataclass(frozen=True)
class _Proration:
    """Parts of months and days in service, for one service window of the period."""

    month_parts: tuple[Decimal, ...]  # per segment, 0 to 1 [month]
    months: Decimal  # sum of month_parts [month]
    days: Decimal  # days of service [day]
    tier_limits_wh: tuple[int, ...]  # the first segment's reference period's limits [Wh]
    period_limits_wh: IntArray  # (P, K-1): each period's limits, padded with _UNBOUNDED_WH [Wh]


def _fraction(num: int, den: int) -> Decimal:
    return Decimal(1) if num == den else Decimal(num) / Decimal(den)


def _wh(kwh: Decimal) -> int:
    return min(int((kwh * 1000).to_integral_value()), _UNBOUNDED_WH)


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
    n_periods, k_max = len(tariff.energy_tiers), tariff.tier_count
    period_limits = np.full((n_periods, max(k_max - 1, 0)), _UNBOUNDED_WH, dtype=np.int64)
    if k_max > 1:
        months_of_day = cal.month[sl][np.searchsorted(cal.day[sl], days_u)] if days_u.size else days_u
        day_months = [int(mo) for mo in months_of_day]
        seg_months = [int(key) % 12 + 1 for key in layout.segment_keys]
        for p, tiers in enumerate(tariff.energy_tiers):
            if len(tiers) < 2:
                continue
            # kWh daily: each day of service takes its month's limit; kWh: each month its part in service.
            if tiers[0].unit == "kWh daily":
                parts, months = day_parts, day_months
            else:
                parts, months = list(month_parts), seg_months
            for k in range(len(tiers) - 1):
                kwh = sum(
                    (part * tariff.tier_limits_for(mo, p)[k] for part, mo in zip(parts, months, strict=True)),
                    Decimal(0),
                )
                period_limits[p, k] = _wh(kwh)
    # The bill's figure (the baseline allowance): the limits of the first month's reference period.
    ref = int(tariff.energy_weekday[int(layout.segment_keys[int(seg[0])]) % 12, 0]) if seg.size else 0
    limits = tuple(int(v) for v in period_limits[ref, : max(len(tariff.energy_tiers[ref]) - 1, 0)])
    return _Proration(
        month_parts=month_parts,
        months=sum(month_parts, Decimal(0)),
        days=days,
        tier_limits_wh=limits,
        period_limits_wh=period_limits,
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


def _shown(value: Decimal, places: int = 4) -> str:
    """A quantity or rate in a line's description: rounded for people (the amount stays exact)."""
    return f"{round(value, places).normalize():f}"


def _month_name(key: int) -> str:
    return f"{key // 12}-{key % 12 + 1:02d}"


def _ratchet_floor(tariff: Tariff, key: int, peaks: dict[int, Decimal]) -> tuple[Decimal, str]:
    """
    The least billing demand of month ``key`` (``year * 12 + month - 1``) from the peaks of earlier months.

    ``demandratchetpercentage[month]`` of the highest peak of the 11 months before; ``lookbackpercent``
    of the highest peak of the ``lookbackrange`` months before, or of the ``lookbackmonths`` among the 12
    months ending with this one. Returns the floor [kW] and how it was set, for the line.
    """
    floor, why = Decimal(0), ""

    def consider(percent: Decimal, months: Sequence[int]) -> None:
        nonlocal floor, why
        known = [(peaks[k], k) for k in months if k in peaks]
        if not known or not percent:
            return
        top, at = max(known)
        value = percent * top
        if value > floor:
            floor, why = value, f"{_shown(percent * 100, 2)} % of {_shown(top, 3)} kW in {_month_name(at)}"

    if tariff.ratchet_percent:
        consider(tariff.ratchet_percent[key % 12], range(key - 11, key))
    if tariff.lookback_percent > 0:
        if tariff.lookback_range:
            consider(tariff.lookback_percent, range(key - tariff.lookback_range, key))
        elif tariff.lookback_months:
            flags = tariff.lookback_months
            consider(tariff.lookback_percent, [k for k in range(key - 11, key + 1) if flags[k % 12]])
    return floor, why


@dataclass(frozen=True)
class _Extras:
    """A meter's inputs beyond its energy and demand, for the features a tariff may use."""

    coincident_max_wh: dict[tuple[int, int], int] | None = None
    credit_tier_wh: Sequence[Sequence[int]] | None = None
    peaks_kw: dict[int, Decimal] | None = None  # month key -> recorded peak, months before the bill
    annual: tuple[int, Decimal] | None = None  # (year the bill ends, charges of that year billed before)
    carried_in_wh: Sequence[int] | None = None  # net metering: credit applied to each period [Wh]
    carried_out_wh: Sequence[int] | None = None  # net metering: each period's net excess carried [Wh]
    credit_in: Decimal | None = None  # net billing: dollar credit carried in (carry-over on) [USD]
    true_up: bool = False  # this bill settles the credit left
    true_up_rate: Decimal | None = None  # net metering: price of a kWh left at the true-up [USD/kWh]


_NO_EXTRAS: Final = _Extras()


@dataclass(frozen=True)
class _Priced:
    """A bill's lines and the net-billing credit it carries out (None when it carries none)."""

    lines: list[LineItem]
    credit_out: Decimal | None = None


def _period_label(tariff: Tariff, p: int) -> str:
    """``", <period name>"`` when a bill names energy periods (several, or named), else ``""``."""
    if len(tariff.energy_tiers) > 1 or p in tariff.period_names.get("energy", {}):
        return f", {tariff.period_name('energy', p)}"
    return ""


def _carry_lines(tariff: Tariff, extras: _Extras, lines: list[LineItem]) -> Decimal | None:
    """
    The lines of credit carried between bills (net metering kWh, net billing dollars), appended to
    ``lines`` after the energy and export lines; returns the net billing credit carried out. [USD]
    """
    zero = Decimal(0)
    if extras.carried_in_wh is not None:
        for p, wh in enumerate(extras.carried_in_wh):
            if wh:
                kwh = Decimal(wh) / 1000
                text = f"Net metering credit from the last bill{_period_label(tariff, p)}"
                lines.append(LineItem("export", text, kwh, "kWh", zero, Decimal(1), zero, p))
    if extras.carried_out_wh is not None and not extras.true_up:
        for p, wh in enumerate(extras.carried_out_wh):
            if wh:
                kwh = Decimal(wh) / 1000
                text = f"Net excess generation{_period_label(tariff, p)}, carried to the next bill"
                lines.append(LineItem("export", text, kwh, "kWh", zero, Decimal(1), zero, p))
    if extras.credit_in is None:
        return None
    if extras.credit_in:
        amount = -extras.credit_in
        text = "Net billing credit from the last bill"
        lines.append(LineItem("export", text, Decimal(1), "bill", amount, Decimal(1), amount))
    energy = sum((line.amount for line in lines if line.kind in ("energy", "export")), zero)
    if energy >= 0:
        return zero
    # The credit beyond the energy charges leaves this bill (demand and fixed charges are not offset).
    left = -energy
    text = "Net billing credit carried to the next bill"
    lines.append(LineItem("export", text, Decimal(1), "bill", left, Decimal(1), left))
    return left


def _true_up_lines(extras: _Extras, credit_out: Decimal | None, lines: list[LineItem]) -> None:
    """The true-up: the credit left after this bill, paid (after the minimum charges, as SAM pays it)."""
    if not extras.true_up:
        return
    if extras.carried_out_wh is not None:
        left_wh = sum(extras.carried_out_wh)
        if left_wh:
            rate = extras.true_up_rate if extras.true_up_rate is not None else Decimal(0)
            kwh = Decimal(left_wh) / 1000
            text = "True-up: net excess generation left at the end of the year"
            if not rate:
                text += " (no true-up rate: not paid)"
            lines.append(LineItem("true_up", text, kwh, "kWh", -rate, Decimal(1), kwh * -rate))
    if credit_out:
        text = "True-up: net billing credit left at the end of the year, paid"
        lines.append(LineItem("true_up", text, Decimal(1), "bill", -credit_out, Decimal(1), -credit_out))


def _price(
    tariff: Tariff,
    layout: _Layout,
    pr: _Proration,
    period_tier_wh: Sequence[Sequence[int]],
    demand_max_wh: dict[tuple[int, int], int],
    flat_max_wh: dict[int, int],
    extras: _Extras = _NO_EXTRAS,
) -> _Priced:
    lines: list[LineItem] = []
    # The demand interval is the tariff's window, else the meter's; other than 15 minutes it is named.
    window = layout.window_s
    demand_note = "" if window == INTERVAL_S else f" ({demand_name(window)} demand)"
    many_periods = len(tariff.energy_tiers) > 1
    named = tariff.period_names.get("energy", {})
    for p, tiers in enumerate(tariff.energy_tiers):
        for k, tier in enumerate(tiers):
            wh = period_tier_wh[p][k]
            if wh == 0:
                continue
            kwh = Decimal(wh) / 1000
            name = "Energy"
            if many_periods or p in named:
                name += f", {tariff.period_name('energy', p)}"
            if len(tiers) > 1:
                baseline = k == 0 and tier.unit == "kWh daily"
                name += ", baseline (tier 1)" if baseline else f", tier {k + 1}"
            lines.append(LineItem("energy", name, kwh, "kWh", tier.rate, Decimal(1), kwh * tier.rate, p, k))
    if extras.credit_tier_wh is not None:
        netting = tariff.export_rule == "net metering"
        for p, tiers in enumerate(tariff.energy_tiers):
            for k, tier in enumerate(tiers):
                wh = extras.credit_tier_wh[p][k]
                if wh == 0:
                    continue
                kwh = Decimal(wh) / 1000
                name = "Net excess generation" if netting else "Export credit"
                if many_periods or p in named:
                    name += f", {tariff.period_name('energy', p)}"
                if len(tiers) > 1:
                    name += f", tier {k + 1}"
                if not tier.sell:
                    name += " (no sell rate: not credited)"
                rate = -tier.sell
                lines.append(LineItem("export", name, kwh, "kWh", rate, Decimal(1), kwh * rate, p, k))
    credit_out = _carry_lines(tariff, extras, lines)
    demand_names = tariff.period_names.get("demand", {})
    ratchet_tou = tariff.has_ratchet and tariff.flat_demand_months is None
    peaks = dict(extras.peaks_kw or {})
    for (seg, d), wh in sorted(demand_max_wh.items()):
        factor = pr.month_parts[seg]
        if factor == 0:
            continue
        key = int(layout.segment_keys[seg])
        kw = _kw(wh, window)
        why = ""
        if ratchet_tou:
            peaks[key] = kw
            floor, why = _ratchet_floor(tariff, key, peaks)
            if floor > kw:
                kw = floor
        if kw == 0:
            continue
        label = f"Demand {_month_name(key)}"
        if len(tariff.demand_tiers) > 1 or d in demand_names:
            label += f", {tariff.period_name('demand', d)}"
        label += demand_note
        if why and kw > _kw(wh, window):
            label += f" (ratchet: {why})"
        lines.extend(_tiered_demand("demand", label, kw, tariff.demand_tiers[d], factor, d))
    if tariff.flat_demand_months is not None:
        flat_names = tariff.period_names.get("flat_demand", {})
        for seg, wh in sorted(flat_max_wh.items()):
            factor = pr.month_parts[seg]
            if factor == 0:
                continue
            key = int(layout.segment_keys[seg])
            fp = int(tariff.flat_demand_months[key % 12])
            actual = kw = _kw(wh, window)
            why = ""
            if tariff.has_ratchet:
                peaks[key] = actual
                floor, why = _ratchet_floor(tariff, key, peaks)
                kw = max(kw, floor)
            if kw == 0:
                continue
            label = f"Demand (flat) {_month_name(key)}"
            if fp in flat_names:
                label += f", {flat_names[fp]}"
            label += demand_note
            if kw > actual:
                label += f" (ratchet: {why})"
            lines.extend(_tiered_demand("flat_demand", label, kw, tariff.flat_demand_tiers[fp], factor, fp))
    if extras.coincident_max_wh is not None:
        for (seg, cp), wh in sorted(extras.coincident_max_wh.items()):
            factor = pr.month_parts[seg]
            if wh == 0 or factor == 0:
                continue
            key = int(layout.segment_keys[seg])
            label = f"Coincident demand {_month_name(key)}"
            if len(tariff.coincident_tiers) > 1 or cp in tariff.period_names.get("coincident", {}):
                label += f", {tariff.period_name('coincident', cp)}"
            label += demand_note
            kw = _kw(wh, window)
            lines.extend(_tiered_demand("coincident", label, kw, tariff.coincident_tiers[cp], factor, cp))
    if tariff.fixed_charge:
        qty, unit, rate = _recurring(tariff, tariff.fixed_charge, tariff.fixed_charge_unit, pr)
        lines.append(LineItem("fixed", "Customer charge", qty, unit, rate, Decimal(1), qty * rate))
    minima: list[tuple[Decimal, str]] = []
    if tariff.min_charge:
        qty, unit, rate = _recurring(tariff, tariff.min_charge, tariff.min_charge_unit, pr)
        minima.append((qty * rate, f"Minimum charge ({_shown(qty)} {unit} at {_shown(rate)})"))
    if tariff.min_monthly_charge:
        qty, rate = pr.months, tariff.min_monthly_charge
        minima.append((qty * rate, f"Minimum monthly charge ({_shown(qty)} month at {_shown(rate)})"))
    if minima:
        minimum, text = max(minima, key=lambda item: item[0])
        subtotal = sum((line.amount for line in lines), Decimal(0))
        if subtotal < minimum:
            top_up = minimum - subtotal
            lines.append(
                LineItem(
                    "minimum", f"{text} less charges above", Decimal(1), "bill", top_up, Decimal(1), top_up
                )
            )
    if extras.annual is not None and tariff.annual_min_charge:
        year, before = extras.annual
        charged = before + sum((line.amount for line in lines), Decimal(0))
        if charged < tariff.annual_min_charge:
            top_up = tariff.annual_min_charge - charged
            text = (
                f"Annual minimum charge ({_shown(tariff.annual_min_charge, 2)} for {year}) less the year's"
                f" charges ({_shown(charged, 2)})"
            )
            lines.append(LineItem("minimum", text, Decimal(1), "bill", top_up, Decimal(1), top_up))
    _true_up_lines(extras, credit_out, lines)
    if extras.true_up and credit_out is not None:
        credit_out = Decimal(0)
    return _Priced(lines, credit_out)


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


class _Column:
    """An interval column in a bill's inputs, listed only when the bill's document is made (as the
    interval columns are): a month of 10,000 meters' exports is not 30 million Python ints."""

    __slots__ = ("values",)

    def __init__(self, values: IntArray) -> None:
        self.values = values

    def tolist(self) -> list[int]:
        out: list[int] = self.values.tolist()
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Column) and bool(np.array_equal(self.values, other.values))

    __hash__ = None  # type: ignore[assignment]


def _exports(name: str, export_wh: npt.ArrayLike | None, shape: tuple[int, ...]) -> IntArray | None:
    if export_wh is None:
        return None
    x = np.asarray(export_wh)
    if x.shape != shape:
        raise ValueError(f"{name} must have the shape of energy_wh {shape}, got {x.shape}")
    if x.size and not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"{name} must be integer Wh, got dtype {x.dtype}")
    if x.size and x.min() < 0:
        raise ValueError(f"{name} must not be negative (energy exported to the grid), got {int(x.min())}")
    return x.astype(np.int64, copy=False)


def _peaks(
    values: Sequence[Sequence[object] | None] | None, m: int, first_key: int
) -> list[dict[int, Decimal] | None]:
    """Each meter's recorded monthly peaks before the bill, by month key (``prior_peaks_kw``)."""
    if values is None:
        return [None] * m
    if len(values) != m:
        raise ValueError(f"prior_peaks_kw must have one sequence per meter ({m}), got {len(values)}")
    out: list[dict[int, Decimal] | None] = []
    for row in values:
        if row is None:
            out.append(None)
            continue
        got: dict[int, Decimal] = {}
        for j, v in enumerate(row):
            key = first_key - len(row) + j
            if v is None or (isinstance(v, float) and np.isnan(v)):
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float, Decimal, np.integer, np.floating)):
                raise ValueError(f"prior_peaks_kw must hold demands in kW or None, got {v!r}")
            kw = Decimal(str(v))
            if not kw.is_finite() or kw < 0:
                raise ValueError(f"prior_peaks_kw must hold non-negative demands in kW, got {v!r}")
            got[key] = kw
        out.append(got)
    return out


def _charges(values: Sequence[Decimal | None] | None, m: int) -> list[Decimal | None]:
    if values is None:
        return [None] * m
    if len(values) != m:
        raise ValueError(f"year_to_date_charges must have one value per meter ({m}), got {len(values)}")
    for v in values:
        if v is not None and not (isinstance(v, Decimal) and v.is_finite()):
            raise ValueError(f"year_to_date_charges must be Decimal USD or None, got {v!r}")
    return list(values)


_ROLLOVER_HOURS: Final = (0, 5, 11, 17, *(h for h in range(24) if h not in (0, 5, 11, 17)))
"""Local hours at which a period's credit finds its period in the next month: SAM's Utilityrate5 looks at
the weekday schedule at 12 am, 5 am, 11 am and 5 pm (in that order); meshmeter then at the other hours,
then the weekend schedule, so no credit is lost."""


def credit_targets(tariff: Tariff, from_month: int, to_month: int) -> IntArray:
    """
    Where net-metering credit of each energy period goes from one local calendar month to the next.

    A credit earned in period ``p`` in ``from_month`` goes to the period that ``to_month``'s schedule has at
    the first local hour (:data:`_ROLLOVER_HOURS`) at which ``from_month``'s schedule has ``p``: the weekday
    schedules first, then the weekend ones, as SAM's Utilityrate5 moves a month's surplus into the same
    time of day. A period ``from_month`` does not use is looked for in the months before it.

    Parameters
    ----------
    tariff : Tariff
        The tariff.
    from_month, to_month : int
        Local calendar months, 1 to 12.

    Returns
    -------
    ndarray of int64, shape (P,)
        The period of ``to_month`` for each period's credit; a period no schedule uses maps to itself.
    """
    for name, month in (("from_month", from_month), ("to_month", to_month)):
        if isinstance(month, bool) or not isinstance(month, (int, np.integer)) or not 1 <= month <= 12:
            raise ValueError(f"{name} must be a calendar month 1 to 12, got {month!r}")
    n = len(tariff.energy_tiers)
    out = np.arange(n, dtype=np.int64)
    schedules = (tariff.energy_weekday, tariff.energy_weekend)
    for p in range(n):
        found = None
        for back in range(12):
            row = (from_month - 1 - back) % 12
            for schedule in schedules:
                hours = [h for h in _ROLLOVER_HOURS if int(schedule[row, h]) == p]
                if hours:
                    found = int(schedule[to_month - 1, hours[0]])
                    break
            if found is not None:
                break
        if found is not None:
            out[p] = found
    return out


def _used_periods(tariff: Tariff) -> set[int]:
    return {int(v) for v in np.concatenate([tariff.energy_weekday.ravel(), tariff.energy_weekend.ravel()])}


@dataclass(frozen=True)
class _Carry:
    """Each meter's credit carried in, checked: kWh per period (net metering) or dollars (net billing)."""

    energy_wh: IntArray | None  # (m, P), as given (periods where earned); None: no meter carries kWh
    on_wh: BoolArray  # (m,): the meter carries kWh credit
    amount: list[Decimal | None]  # net billing dollars carried in; None: no carry-over for the meter
    true_up: list[bool]
    true_up_rate: Decimal | None


def _carry(
    tariff: Tariff,
    meters: Sequence[str],
    credit_in_wh: Sequence[Sequence[int] | None] | None,
    credit_in: Sequence[Decimal | None] | None,
    true_up: Sequence[bool] | None,
    true_up_sell_rate: Decimal | None,
) -> _Carry:
    """Check the carry-over inputs, naming every problem in one ValueError."""
    m, n = len(meters), len(tariff.energy_tiers)
    rule = tariff.export_rule
    problems: list[str] = []
    carrying = credit_in_wh is not None or credit_in is not None
    if carrying and rule == "buy all sell all":
        problems.append(
            f"{'credit_in_wh' if credit_in_wh is not None else 'credit_in'}: the tariff buys all load and"
            " sells all generation (dgrules Buy All Sell All): nothing is netted, so no credit is carried"
        )
    elif credit_in_wh is not None and rule != "net metering":
        problems.append(
            f"credit_in_wh: the tariff bills exports by {rule} (dgrules / usenetmetering), which carries"
            " a dollar credit (credit_in), not kWh"
        )
    elif credit_in is not None and rule == "net metering":
        problems.append(
            "credit_in: the tariff nets energy (net metering), which carries kWh credit per period"
            " (credit_in_wh), not dollars"
        )
    energy = np.zeros((m, n), dtype=np.int64)
    on_wh = np.zeros(m, dtype=np.bool_)
    if credit_in_wh is not None:
        if len(credit_in_wh) != m:
            problems.append(f"credit_in_wh must have one entry per meter ({m}), got {len(credit_in_wh)}")
        else:
            used = _used_periods(tariff)
            for i, row in enumerate(credit_in_wh):
                if row is None:
                    continue
                values = list(row) if isinstance(row, (list, tuple, np.ndarray)) else None
                if values is None or len(values) != n:
                    problems.append(
                        f"credit_in_wh of {meters[i]} must give one credit per energy period ({n}),"
                        f" got {row!r}"
                    )
                    continue
                for p, v in enumerate(values):
                    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                        problems.append(
                            f"credit_in_wh of {meters[i]}, period {p + 1}: must be whole Wh, got {v!r}"
                        )
                    elif v < 0:
                        problems.append(
                            f"credit_in_wh of {meters[i]}, period {p + 1}: must not be negative, got {int(v)}"
                        )
                    elif v and p not in used:
                        problems.append(
                            f"credit_in_wh of {meters[i]}, period {p + 1}: no schedule of the tariff uses the"
                            f" period, so it earned no credit, got {int(v)}"
                        )
                    else:
                        energy[i, p] = int(v)
                on_wh[i] = True
    amount: list[Decimal | None] = [None] * m
    if credit_in is not None:
        if len(credit_in) != m:
            problems.append(f"credit_in must have one entry per meter ({m}), got {len(credit_in)}")
        else:
            for i, v in enumerate(credit_in):
                if v is None:
                    continue
                if not isinstance(v, Decimal) or not v.is_finite():
                    problems.append(f"credit_in of {meters[i]} must be Decimal USD, got {v!r}")
                elif v < 0:
                    problems.append(f"credit_in of {meters[i]} must not be negative, got {v}")
                else:
                    amount[i] = v
    settle = [False] * m
    if true_up is not None:
        if len(true_up) != m:
            problems.append(f"true_up must have one entry per meter ({m}), got {len(true_up)}")
        else:
            flags: Sequence[object] = true_up  # checked: a caller's list may hold anything
            for i, v in enumerate(flags):
                if not isinstance(v, (bool, np.bool_)):
                    problems.append(f"true_up of {meters[i]} must be true or false, got {v!r}")
                    continue
                settle[i] = bool(v)
                if not v:
                    continue
                given = credit_in_wh if rule == "net metering" else credit_in
                if given is None or len(given) != m or given[i] is None:
                    nem = rule == "net metering"
                    what = "credit_in_wh (zeros for none)" if nem else "credit_in (0 for none)"
                    problems.append(
                        f"true_up of {meters[i]}: the bill settles the credit carried over the year, but"
                        f" {what} was not given for it"
                    )
                elif rule == "net metering" and true_up_sell_rate is None:
                    problems.append(
                        f"true_up of {meters[i]}: a net metering true-up pays the kWh left at"
                        " true_up_sell_rate, which was not given (0 for a credit that expires unpaid)"
                    )
    if true_up_sell_rate is not None:
        if not isinstance(true_up_sell_rate, Decimal) or not true_up_sell_rate.is_finite():
            problems.append(f"true_up_sell_rate must be Decimal USD/kWh, got {true_up_sell_rate!r}")
        elif true_up_sell_rate < 0:
            problems.append(f"true_up_sell_rate must not be negative, got {true_up_sell_rate}")
        elif rule != "net metering":
            problems.append(
                f"true_up_sell_rate: the tariff bills exports by {rule}, whose true-up pays the dollar"
                " credit left as it is, at no rate per kWh"
            )
    if problems:
        raise ValueError("; ".join(problems))
    return _Carry(
        energy_wh=energy if credit_in_wh is not None else None,
        on_wh=on_wh,
        amount=amount,
        true_up=settle,
        true_up_rate=true_up_sell_rate,
    )


def _year_end(t0: datetime, t1: datetime, timezone: str) -> tuple[int, int] | None:
    """The last calendar year that ends inside ``(t0, t1]`` in local time, and that instant [s]."""
    tz = zone(timezone)
    found = None
    for year in range(t0.astimezone(tz).year, t1.astimezone(tz).year + 1):
        instant = int(datetime(year + 1, 1, 1, tzinfo=tz).timestamp())
        if t0.timestamp() < instant <= t1.timestamp():
            found = (year, instant)
    return found


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
    export_wh: npt.ArrayLike | None = None,
    prior_peaks_kw: Sequence[Sequence[object] | None] | None = None,
    year_to_date_charges: Sequence[Decimal | None] | None = None,
    credit_in_wh: Sequence[Sequence[int] | None] | None = None,
    credit_in: Sequence[Decimal | None] | None = None,
    true_up: Sequence[bool] | None = None,
    true_up_sell_rate: Decimal | None = None,
) -> list[Bill]:
    """
    Bill many meters over one billing period at a tariff (California re-rating, PU Code §739.5).

    Parameters
    ----------
    tariff : Tariff
        The residential schedule each submeter is billed at.
    energy_wh : array-like of int, shape (m, n)
        Energy imported (delivered to the load) in each meter's intervals on the period's grid at
        ``interval_s`` (:func:`interval_grid`). [Wh]
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
        Register reads (of imported energy) at the start and end of service. When only the opening read
        is known the closing read is the opening read plus the energy imported. [Wh]
    interval_s : int
        Length of every interval of these meters: 300, 900 (default), 1800 or 3600. Proration counts
        intervals of this length; demand is the energy of a demand window over its length, the window
        being the tariff's ``demandwindow`` (a whole number of intervals) or this length. [s]
    export_wh : array-like of int, shape (m, n), optional
        Energy exported to the grid in each interval, with the quality of ``quality``: netted per energy
        period (net metering) or credited at the tiers' ``sell`` rates (net billing), by the tariff's
        :attr:`~meshmeter.billing.tariff.Tariff.export_rule`. None (default): the meters do not export. [Wh]
    prior_peaks_kw : sequence of (sequence of float or None) or None, optional
        For a tariff with a demand ratchet: each meter's recorded maximum demand (in the tariff's demand
        window) of each calendar month before the local month in which the billing period starts,
        oldest first, the last being the month before; None for unknown. None (default): no history,
        and a ratchet looks only at the months of this bill (a warning says so). [kW]
    year_to_date_charges : sequence of Decimal or None, optional
        For a tariff with ``annualmincharge``: each meter's charges billed earlier in the calendar year
        that this billing period ends; the annual minimum is applied against them plus this bill's. None
        on a bill that ends the year: the annual minimum is not applied (a warning says so). [USD]
    credit_in_wh : sequence of (sequence of int or None) or None, optional
        Net metering carry-over: each meter's kWh credit carried in from its previous bill
        (:attr:`Bill.credit_out_wh`), one value per energy period of the tariff, in the period where it
        was earned (zeros on the first bill of the true-up year); None for a meter without carry-over.
        A credit goes to the period of the same time of day in the bill's first month
        (:func:`credit_targets`) and is netted there with the bill's imports and exports; each
        period's net excess is then carried to the next bill (:attr:`Bill.credit_out_wh`) instead of
        being paid at ``sell``. Only for a net metering tariff. [Wh]
    credit_in : sequence of Decimal or None, optional
        Net billing carry-over: each meter's dollar credit carried in from its previous bill
        (:attr:`Bill.credit_out`; 0 on the first bill of the true-up year); None for a meter without
        carry-over. It and the bill's export credits offset the bill's energy charges; what is left is
        carried to the next bill. Only for a net billing tariff. [USD]
    true_up : sequence of bool, optional
        Whether each meter's bill is its true-up bill (the last of its year of credit): the credit left
        after the bill is settled on it, after the minimum charges, and none is carried out. Needs the
        carry-over input of the tariff's kind for the meter.
    true_up_sell_rate : Decimal, optional
        Net metering: the price of a kWh of credit left at the true-up (a utility's net surplus
        compensation rate; SAM's ``ur_nm_yearend_sell_rate``), needed by a net metering true-up bill;
        0 for credit that expires unpaid. [USD/kWh]

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
        raise ValueError(
            f"energy_wh must not be negative, got {int(energy.min())} (exported energy goes in export_wh)"
        )
    m = energy.shape[0]
    q_all = _quality("quality", quality, energy.shape)
    exports = _exports("export_wh", export_wh, energy.shape)
    if len(meters) != m:
        raise ValueError(f"meters must name each of the {m} meters, got {len(meters)}")
    if tenants is not None and len(tenants) != m:
        raise ValueError(f"tenants must have one entry per meter ({m}), got {len(tenants)}")
    opening = _reads("opening_reads_wh", opening_reads_wh, m)
    closing = _reads("closing_reads_wh", closing_reads_wh, m)
    layout = _layout(tariff, grid, timezone, step)
    first_key = int(layout.segment_keys[0])
    peaks_in = _peaks(prior_peaks_kw, m, first_key)
    ytd_in = _charges(year_to_date_charges, m)
    year_end = _year_end(t0, t1, timezone) if tariff.annual_min_charge else None
    carry = _carry(tariff, meters, credit_in_wh, credit_in, true_up, true_up_sell_rate)
    carried_in = None  # (m, P): net metering credit in each period of this bill, after the move [Wh]
    if carry.energy_wh is not None:
        before = datetime.fromtimestamp(t0.timestamp() - 1, zone(timezone)).month
        targets = credit_targets(tariff, before, int(layout.calendar.month[0]))
        carried_in = np.zeros_like(carry.energy_wh)
        for p_from, p_to in enumerate(targets.tolist()):
            carried_in[:, p_to] += carry.energy_wh[:, p_from]
    if exports is not None and tariff.export_rule == "buy all sell all" and exports.any():
        raise ValueError(
            "export_wh: the tariff sells all generation and buys all load (dgrules Buy All Sell All): bill"
            " the production meter's output apart, not a net meter's exports"
        )
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
    trim = any(len(t) != tariff.tier_count for t in tariff.energy_tiers)
    no_history: list[str] = []
    no_ytd: list[str] = []
    for c0 in range(0, m, _CHUNK):
        c1 = min(m, c0 + _CHUNK)
        e = np.asarray(energy[c0:c1], dtype=np.int64)
        q = np.asarray(q_all[c0:c1])
        billed = _BILLED[q]
        estimated = _ESTIMATED[q]
        apportioned = _APPORTIONED[q]
        win = windows[c0:c1]
        if any(w != (0, grid.size) for w in win):
            cols = np.arange(grid.size)
            lo = np.array([w[0] for w in win])[:, None]
            hi = np.array([w[1] for w in win])[:, None]
            service = (cols >= lo) & (cols < hi)
            billed &= service
            estimated &= service
            apportioned &= service
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
        if apportioned.any():
            app_wh = np.where(apportioned, e, 0).sum(axis=1)
            app_n = apportioned.sum(axis=1)
        else:
            app_wh = app_n = np.zeros(c1 - c0, dtype=np.int64)
        failed = ~billed if service is None else (~billed & service)
        if failed.any():
            unbilled_n = failed.sum(axis=1)
            unbilled_wh = np.where(failed, e, 0).sum(axis=1)
        else:
            unbilled_n = unbilled_wh = np.zeros(c1 - c0, dtype=np.int64)
        period_wh = group_sum @ layout.group_to_period
        imported = period_wh.sum(axis=1)
        credit_wh = None
        carry_in_c = carry_out_c = None
        if carried_in is not None:
            carry_in_c = carried_in[c0:c1]
            carry_out_c = np.zeros_like(carry_in_c)
        if exports is not None or carry_in_c is not None:
            xb = np.zeros_like(eb) if exports is None else np.where(billed, exports[c0:c1], 0)
            ee = eb
            if tariff.export_rule == "net billing hourly":
                # Import and export net within each clock hour, on the hour's first interval.
                hs = layout.hour_starts
                net = np.add.reduceat(eb, hs, axis=1) - np.add.reduceat(xb, hs, axis=1)
                ee, xb = np.zeros_like(eb), np.zeros_like(xb)
                ee[:, hs], xb[:, hs] = np.maximum(net, 0), np.maximum(-net, 0)
                period_wh = np.rint(ee.astype(np.float64) @ layout.indicator).astype(np.int64)
                period_wh = period_wh @ layout.group_to_period
            export_p = np.rint(xb.astype(np.float64) @ layout.indicator).astype(np.int64)
            export_p = export_p @ layout.group_to_period
            if tariff.export_rule == "net metering":
                net_p = period_wh - export_p
                if carry_in_c is not None and carry_out_c is not None:
                    # Credit carried in nets with the period's energy; the excess is carried, not paid.
                    on = carry.on_wh[c0:c1, None]
                    net_p = net_p - carry_in_c
                    carry_out_c = np.where(on, np.maximum(-net_p, 0), 0)
                    period_wh, credit_wh = np.maximum(net_p, 0), np.where(on, 0, np.maximum(-net_p, 0))
                else:
                    period_wh, credit_wh = np.maximum(net_p, 0), np.maximum(-net_p, 0)
            else:
                credit_wh = export_p
        total = period_wh.sum(axis=1)
        # Demand: windows of the tariff's length (or the intervals), their maxima per (segment, period).
        ew = eb if layout.window_starts is None else np.add.reduceat(eb, layout.window_starts, axis=1)
        dmax = {key: ew.max(axis=1, where=mask, initial=0) for key, mask in layout.demand_masks.items()}
        smax = {key: ew.max(axis=1, where=mask, initial=0) for key, mask in layout.segment_masks.items()}
        cmax = {key: ew.max(axis=1, where=mask, initial=0) for key, mask in layout.coincident_masks.items()}
        overall_max = ew.max(axis=1, initial=0)
        # Tiers: one proration per service window; each period's own limits against the total.
        for w in set(win):
            if w not in prorations:
                prorations[w] = _proration(tariff, layout, *w)
        limits = np.stack([prorations[w].period_limits_wh for w in win])
        period_tier_arr = split_tiers(period_wh, _period_tier_totals(total, limits))
        period_tier = period_tier_arr.tolist()
        credit_tier = None
        if credit_wh is not None:
            credit_tier = split_tiers(credit_wh, _period_tier_totals(credit_wh.sum(axis=1), limits)).tolist()
        period_list = period_wh.tolist()
        total_list = total.tolist()
        imported_list = imported.tolist()
        max_list = overall_max.tolist()
        est_wh_list, est_n_list = est_wh.tolist(), est_n.tolist()
        app_wh_list, app_n_list = app_wh.tolist(), app_n.tolist()
        unbilled_n_list, unbilled_wh_list = unbilled_n.tolist(), unbilled_wh.tolist()
        dmax_lists = {key: v.tolist() for key, v in dmax.items()}
        smax_lists = {key: v.tolist() for key, v in smax.items()}
        cmax_lists = {key: v.tolist() for key, v in cmax.items()} if cmax else None
        for j in range(c1 - c0):
            i = c0 + j
            w = win[j]
            pr = prorations[w]
            service_start = datetime.fromtimestamp(int(grid[w[0]]) - step, UTC)
            service_end = datetime.fromtimestamp(int(grid[w[1] - 1]), UTC)
            extras = _NO_EXTRAS
            wh_on = carry_in_c is not None and bool(carry.on_wh[i])
            if (
                cmax_lists is not None
                or credit_tier is not None
                or tariff.has_ratchet
                or year_end
                or wh_on
                or carry.amount[i] is not None
            ):
                annual = None
                if (
                    year_end is not None
                    and service_start.timestamp() < year_end[1] <= service_end.timestamp()
                ):
                    ytd = ytd_in[i]
                    if ytd is None:
                        no_ytd.append(meters[i])
                    else:
                        annual = (year_end[0], ytd)
                if tariff.has_ratchet and peaks_in[i] is None:
                    no_history.append(meters[i])
                extras = _Extras(
                    coincident_max_wh=None
                    if cmax_lists is None
                    else {k: v[j] for k, v in cmax_lists.items()},
                    credit_tier_wh=None if credit_tier is None else credit_tier[j],
                    peaks_kw=peaks_in[i],
                    annual=annual,
                    carried_in_wh=carry_in_c[j].tolist() if wh_on and carry_in_c is not None else None,
                    carried_out_wh=carry_out_c[j].tolist() if wh_on and carry_out_c is not None else None,
                    credit_in=carry.amount[i],
                    true_up=carry.true_up[i],
                    true_up_rate=carry.true_up_rate,
                )
            priced = _price(
                tariff,
                layout,
                pr,
                period_tier[j],
                {key: v[j] for key, v in dmax_lists.items()},
                {key: v[j] for key, v in smax_lists.items()},
                extras,
            )
            tenant = None if tenants is None else tenants[i]
            account = meters[i] if tenant is None else tenant.account
            billed_wh = total_list[j]
            close = closing[i]
            if close is None and opening[i] is not None:
                close = opening[i] + imported_list[j]
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
            # Recorded only when given, so a bill without them has the document it always had.
            if exports is not None:
                inputs["export_wh"] = _Column(exports[i])
            if prior_peaks_kw is not None:
                row = prior_peaks_kw[i]
                inputs["prior_peaks_kw"] = (
                    None if row is None else [None if v is None else str(v) for v in row]
                )
            if year_to_date_charges is not None:
                ytd = year_to_date_charges[i]
                inputs["year_to_date_charges"] = None if ytd is None else str(ytd)
            credit_out_wh: tuple[int, ...] | None = None
            if wh_on and carry.energy_wh is not None and carry_out_c is not None:
                inputs["credit_in_wh"] = carry.energy_wh[i].tolist()
                settled = carry.true_up[i]
                credit_out_wh = (
                    tuple(0 for _ in range(carry_out_c.shape[1]))
                    if settled
                    else tuple(carry_out_c[j].tolist())
                )
            if carry.amount[i] is not None:
                inputs["credit_in"] = str(carry.amount[i])
            if carry.true_up[i]:
                inputs["true_up"] = True
                if carry.true_up_rate is not None:
                    inputs["true_up_sell_rate"] = str(carry.true_up_rate)
            tier_rows = period_tier[j]
            if trim:
                tier_rows = [row[: len(t)] for row, t in zip(tier_rows, tariff.energy_tiers, strict=True)]
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
                    energy_by_period_tier_wh=tuple(tuple(row) for row in tier_rows),
                    tier_limits_wh=pr.tier_limits_wh,
                    max_demand_kw=_kw(max_list[j], layout.window_s),
                    estimated_wh=est_wh_list[j],
                    estimated_intervals=est_n_list[j],
                    unbilled_intervals=unbilled_n_list[j],
                    unbilled_wh=unbilled_wh_list[j],
                    lines=tuple(priced.lines),
                    inputs=inputs,
                    interval_columns=(grid, energy[i], q_all[i]),
                    interval_s=step,
                    apportioned_wh=app_wh_list[j],
                    apportioned_intervals=app_n_list[j],
                    credit_out_wh=credit_out_wh,
                    credit_out=priced.credit_out,
                )
            )
    if no_history:
        warnings.warn(
            f"the tariff's demand ratchet looks back {tariff.ratchet_months} months but prior_peaks_kw"
            f" was not given for {', '.join(no_history[:5])}{' ...' if len(no_history) > 5 else ''}:"
            " their billing demand looks only at the months of this bill",
            UserWarning,
            stacklevel=2,
        )
    if no_ytd:
        warnings.warn(
            f"the bill ends the year {year_end[0] if year_end else ''} and the tariff has an annual minimum"
            f" charge, but year_to_date_charges was not given for {', '.join(no_ytd[:5])}"
            f"{' ...' if len(no_ytd) > 5 else ''}: the annual minimum is not applied",
            UserWarning,
            stacklevel=2,
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
    export_wh: npt.ArrayLike | None = None,
    prior_peaks_kw: Sequence[object] | None = None,
    year_to_date_charges: Decimal | None = None,
    credit_in_wh: Sequence[int] | None = None,
    credit_in: Decimal | None = None,
    true_up: bool = False,
    true_up_sell_rate: Decimal | None = None,
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
        Energy imported in each interval. [Wh]
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
    export_wh : array-like of int, optional
        Energy exported in each interval, beside ``energy_wh`` (:func:`bill_meters`). [Wh]
    prior_peaks_kw : sequence of float or None, optional
        The meter's recorded maximum demand of each month before the billing period's first month,
        oldest first (:func:`bill_meters`). [kW]
    year_to_date_charges : Decimal, optional
        The meter's charges billed earlier in the year this period ends (:func:`bill_meters`). [USD]
    credit_in_wh : sequence of int, optional
        Net metering: the kWh credit carried in from the meter's previous bill, per energy period
        (its :attr:`Bill.credit_out_wh`; :func:`bill_meters`). [Wh]
    credit_in : Decimal, optional
        Net billing: the dollar credit carried in from the previous bill (its :attr:`Bill.credit_out`). [USD]
    true_up : bool
        Whether this bill settles the credit left (:func:`bill_meters`).
    true_up_sell_rate : Decimal, optional
        Net metering: price of a kWh left at the true-up (:func:`bill_meters`). [USD/kWh]

    Returns
    -------
    Bill
    """
    grid = interval_grid(_utc("start", start), _utc("end", end), interval_s=interval_s)
    ends = np.asarray(interval_end_s, dtype=np.int64)
    q = np.zeros(ends.shape, dtype=np.int64) if quality is None else quality
    energy, qual = align_intervals(grid, ends, energy_wh, q, interval_s=interval_s)
    exports = None
    if export_wh is not None:
        given = np.asarray(export_wh)
        if given.size and np.issubdtype(given.dtype, np.integer) and given.min() < 0:
            raise ValueError(
                f"export_wh must not be negative (energy exported to the grid), got {int(given.min())}"
            )
        exported, _ = align_intervals(grid, ends, given, q, interval_s=interval_s)
        exports = exported[None, :]
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
        export_wh=exports,
        prior_peaks_kw=None if prior_peaks_kw is None else [prior_peaks_kw],
        year_to_date_charges=None if year_to_date_charges is None else [year_to_date_charges],
        credit_in_wh=None if credit_in_wh is None else [credit_in_wh],
        credit_in=None if credit_in is None else [credit_in],
        true_up=[true_up] if true_up else None,
        true_up_sell_rate=true_up_sell_rate,
    )[0]
