"""Reconciliation of a site with its master meter: the site's balance, once (``docs/reconcile.md``).

The utility's master meter measures what the whole building takes at the service entrance; the unit and
house sub-meters measure parts of it. What no sub-meter measures is the **unmetered remainder**, the amount
that allocation shares out (:mod:`meshmeter.services.allocation`). This module is the one place where a
site's meters are sorted into the two sides of that balance and the remainder is computed, interval by
interval, on one grid:

- master side: the master meter's import, less its export register (``export_of_meter_id``) when it has
  one: the **net import** at the service; plus every other production meter of the site (a stand-alone
  production meter, an export register of a sub-meter): energy produced **behind** the master, which the
  building used or sent out through it. ``load_wh = master_wh + production_wh``;
- sub-meter side: the unit meters (``units_wh``) and the house meters (``house_wh``);
- ``remainder_wh = master_wh + production_wh - units_wh - house_wh``. Negative: the sub-meters measured
  more than the master, a CT or wiring fault (manual §7) once beyond the meters' accuracy
  (:func:`excess_tolerance_wh`).

An interval is **reconciled** only when every meter in service then has a billed interval there (estimated
ones count, flagged): an interval missing, not yet validated or failed on any side is counted as missing,
never as zero. Every energy of a row is summed over its reconciled intervals only, so a row balances.

Pure functions over the meters (:class:`~meshmeter.store.Meter`) and their columns
(:class:`~meshmeter.intervals.IntervalColumns`, from the one validated view); no database, no I/O.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from meshmeter.headend.buckets import Resolution, bucket_bounds
from meshmeter.intervals import IntervalColumns, check_interval_s, rollup, zone
from meshmeter.store import Meter

__all__ = [
    "BY",
    "DEFAULT_JUMP_FACTOR",
    "DEFAULT_JUMP_MIN_DAYS",
    "DEFAULT_JUMP_MIN_WH",
    "DEFAULT_MASTER_ACCURACY",
    "DEFAULT_PULSE_WH",
    "DEFAULT_SUBMETER_ACCURACY",
    "JUMP_DAYS",
    "SIDES",
    "Balance",
    "BalanceRow",
    "MeterPart",
    "MeterSeries",
    "RemainderJump",
    "SiteMeters",
    "balance",
    "excess_tolerance_wh",
    "meter_part",
    "period_bounds",
    "reconcile_length",
    "remainder_jumps",
    "rows",
    "site_meters",
]

By = Literal["interval", "day", "month"]

BY: Final = ("interval", "day", "month")
"""How rows are cut: each interval of the reconciliation grid, each local day, each local month."""

Side = Literal["master", "master_export", "production", "unit", "house"]

SIDES: Final = ("master", "master_export", "production", "unit", "house")
"""What a meter is in the balance: the master's import, its export register, production behind the master,
a unit meter, a house meter."""

_MASTER_SIDE: Final = frozenset({"master", "master_export", "production"})

DEFAULT_SUBMETER_ACCURACY: Final = 0.008
"""Relative error a sub-meter may have: the Mini Meter's ±0.5 % of registration at unity power factor
(manual §3.1) plus its CTs' accuracy class 0.3 (certificate p.1, IEEE C57.13), added. [1]"""

DEFAULT_MASTER_ACCURACY: Final = 0.005
"""Relative error the utility's master meter may have: ANSI C12.20 accuracy class 0.5 (a class 0.2 meter
does better; the larger is taken so that a good site raises nothing). [1]"""

DEFAULT_PULSE_WH: Final = 10
"""One pulse of the output "10" the MDT counts (10 Wh/P, manual §3.2, §5.1): each meter's count over a
span may miss up to one pulse, so each meter adds one to the tolerance. [Wh]"""

JUMP_DAYS: Final = 7
"""A day's remainder is compared with the median of the previous seven local days. [d]"""

DEFAULT_JUMP_MIN_DAYS: Final = 4
"""Of those seven days, at least four must be complete (every interval reconciled) for a median. [d]"""

DEFAULT_JUMP_FACTOR: Final = 3.0
"""A day's remainder above three times its trailing median is a jump (when above the floor too). [1]"""

DEFAULT_JUMP_MIN_WH: Final = 5000
"""A jump must also exceed the median by 5 kWh (about 210 W around the clock: a space heater or a unit
left off its meter) and by the day's excess tolerance, so that a remainder near zero and its noise raise
nothing. [Wh]"""


@dataclass(frozen=True, slots=True)
class SiteMeters:
    """A site's meters sorted into the balance (:func:`site_meters`)."""

    master: Meter
    master_export: Meter | None
    production: tuple[Meter, ...]
    units: tuple[Meter, ...]
    house: tuple[Meter, ...]

    def sides(self) -> list[tuple[Side, Meter]]:
        """Every meter of the balance with its side, the master first."""
        out: list[tuple[Side, Meter]] = [("master", self.master)]
        if self.master_export is not None:
            out.append(("master_export", self.master_export))
        out += [("production", m) for m in self.production]
        out += [("unit", m) for m in self.units]
        out += [("house", m) for m in self.house]
        return out


def site_meters(meters: Sequence[Meter], *, site: str) -> SiteMeters:
    """
    Sort a site's meters (``meters.role``) into the two sides of the balance.

    Parameters
    ----------
    meters : sequence of Meter
        Every meter of the site.
    site : str
        The site's name, for the errors.

    Returns
    -------
    SiteMeters
        The master (role ``master``), its export register (role ``production``, ``export_of_meter_id``
        the master), the other production meters (stand-alone, or export registers of sub-meters:
        produced behind the master), the unit and the house meters.

    Raises
    ------
    ValueError
        A site without a master meter, or with two or more (each named): its balance has no one side.
    """
    masters = [m for m in meters if m.role == "master"]
    if not masters:
        raise ValueError(
            f"site {site!r} has no master meter (a meter of role master, the utility's meter at the "
            "service entrance): nothing to reconcile its sub-meters with; set one with meshmeter meter add "
            "--role master"
        )
    if len(masters) > 1:
        named = ", ".join(m.serial for m in masters)
        raise ValueError(
            f"site {site!r} has {len(masters)} master meters ({named}): a site has one service entrance "
            "and one master meter; give the others their role (unit, house or production)"
        )
    master = masters[0]
    export = next((m for m in meters if m.export_of_meter_id == master.id), None)
    return SiteMeters(
        master=master,
        master_export=export,
        production=tuple(m for m in meters if m.role == "production" and m is not export),
        units=tuple(m for m in meters if m.role == "unit"),
        house=tuple(m for m in meters if m.role == "house"),
    )


@dataclass(frozen=True, slots=True)
class MeterSeries:
    """
    One meter's part in a reconciliation.

    Attributes
    ----------
    meter : Meter
    side : str
        One of :data:`SIDES`.
    columns : IntervalColumns
        Its validated view over the period at its own length, each interval's energy at the multiplier in
        force (what it measured for its place). [Wh]
    in_service : tuple of (int, int)
        The spans ``(lo, hi]`` it was in service (installs and removals), seconds since the Unix epoch:
        only intervals ending there are expected of it. [s]
    """

    meter: Meter
    side: Side
    columns: IntervalColumns
    in_service: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True, eq=False)
class Balance:
    """
    The site's balance on the reconciliation grid, one element per interval (:func:`balance`).

    Attributes
    ----------
    interval_s : int
        The grid's length: the longest of the meters'. [s]
    interval_end_s : ndarray of int64
        Every interval end of the period. [s]
    master_wh, production_wh, units_wh, house_wh : ndarray of int64
        Each side's energy: the master's net import (import less its export register), production behind
        the master, the unit meters', the house meters'; 0 from a meter not in service. [Wh]
    remainder_wh : ndarray of int64
        ``master + production - units - house``. [Wh]
    master_missing, submeters_missing : ndarray of bool
        A meter of that side in service has no billed interval there (absent, not validated, failed).
    master_estimated, submeters_estimated : ndarray of bool
        A meter of that side has an estimated interval there.
    meters : int
        The meters of the balance. [1]
    """

    interval_s: int
    interval_end_s: npt.NDArray[np.int64]
    master_wh: npt.NDArray[np.int64]
    production_wh: npt.NDArray[np.int64]
    units_wh: npt.NDArray[np.int64]
    house_wh: npt.NDArray[np.int64]
    remainder_wh: npt.NDArray[np.int64]
    master_missing: npt.NDArray[np.bool_]
    submeters_missing: npt.NDArray[np.bool_]
    master_estimated: npt.NDArray[np.bool_]
    submeters_estimated: npt.NDArray[np.bool_]
    meters: int

    @property
    def reconciled(self) -> npt.NDArray[np.bool_]:
        """True where nothing is missing on either side."""
        return ~(self.master_missing | self.submeters_missing)


@dataclass(frozen=True, slots=True)
class MeterPart:
    """One meter's intervals on the grid (:func:`meter_part`)."""

    energy_wh: npt.NDArray[np.int64]
    expected: npt.NDArray[np.bool_]
    missing: npt.NDArray[np.bool_]
    estimated: npt.NDArray[np.bool_]


def reconcile_length(lengths: Sequence[int]) -> int:
    """
    The grid a site is reconciled on: the longest interval length of its meters. [s]

    Finer meters are rolled up to it exactly (:func:`~meshmeter.intervals.rollup`); nothing is invented
    for a coarser one, so one 60-minute sub-meter makes the whole site reconcile hourly.
    """
    if not lengths:
        raise ValueError("lengths must name at least one meter's interval length, got none")
    return max(check_interval_s(s, "lengths") for s in lengths)


def _ends(start_s: int, end_s: int, interval_s: int) -> npt.NDArray[np.int64]:
    for name, value in (("start", start_s), ("end", end_s)):
        if value % interval_s:
            at = datetime.fromtimestamp(value, UTC).isoformat()
            raise ValueError(
                f"{name} must be on the {interval_s // 60}-minute grid the site is reconciled on (the "
                f"longest interval of its meters), got {at}"
            )
    if end_s <= start_s:
        raise ValueError(
            f"end must be after start, got start={datetime.fromtimestamp(start_s, UTC).isoformat()} "
            f"end={datetime.fromtimestamp(end_s, UTC).isoformat()}"
        )
    return np.arange(start_s + interval_s, end_s + 1, interval_s, dtype=np.int64)


def meter_part(series: MeterSeries, ends_s: npt.NDArray[np.int64], interval_s: int) -> MeterPart:
    """One meter's energy, and where it is expected, missing or estimated, on the grid ``ends_s``."""
    cols = series.columns
    if cols.interval_s != interval_s:
        cols = rollup(cols, interval_s)  # a coarse interval with a fine one absent is raw: missing
    n = ends_s.size
    energy = np.zeros(n, dtype=np.int64)
    billed = np.zeros(n, dtype=np.bool_)
    estimated = np.zeros(n, dtype=np.bool_)
    if n and len(cols):
        k = (cols.interval_end_s - ends_s[0]) // interval_s
        inside = (k >= 0) & (k < n) & ((cols.interval_end_s - ends_s[0]) % interval_s == 0)
        at = k[inside]
        energy[at] = cols.energy_wh[inside]
        billed[at] = cols.billed()[inside]
        estimated[at] = cols.estimated()[inside]
    expected = np.zeros(n, dtype=np.bool_)
    for lo, hi in series.in_service:
        expected |= (ends_s > lo) & (ends_s <= hi)
    usable = expected & billed
    return MeterPart(
        energy_wh=np.where(usable, energy, 0).astype(np.int64),
        expected=expected,
        missing=expected & ~billed,
        estimated=usable & estimated,
    )


def balance(series: Sequence[MeterSeries], *, start_s: int, end_s: int) -> Balance:
    """
    The site's balance over ``(start_s, end_s]``, interval by interval.

    Parameters
    ----------
    series : sequence of MeterSeries
        Every meter of the balance (:meth:`SiteMeters.sides`), exactly one of side ``master``.
    start_s, end_s : int
        The period, seconds since the Unix epoch, on the grid of the longest meter. [s]

    Returns
    -------
    Balance
        On the grid of :func:`reconcile_length`.

    Raises
    ------
    ValueError
        No master among ``series``, two, a side not of :data:`SIDES`, a period off the grid or empty.
    """
    masters = [s for s in series if s.side == "master"]
    if len(masters) != 1:
        raise ValueError(f"series must hold exactly one master meter, got {len(masters)}")
    for s in series:
        if s.side not in SIDES:
            raise ValueError(
                f"side of meter {s.meter.serial} must be one of {', '.join(SIDES)}, got {s.side!r}"
            )
    length = reconcile_length([s.columns.interval_s for s in series])
    ends = _ends(start_s, end_s, length)
    n = ends.size
    total = {side: np.zeros(n, dtype=np.int64) for side in SIDES}
    missing = {side: np.zeros(n, dtype=np.bool_) for side in ("master", "sub")}
    estimated = {side: np.zeros(n, dtype=np.bool_) for side in ("master", "sub")}
    for s in series:
        part = meter_part(s, ends, length)
        total[s.side] += part.energy_wh
        where = "master" if s.side in _MASTER_SIDE else "sub"
        missing[where] |= part.missing
        estimated[where] |= part.estimated
    master_wh = total["master"] - total["master_export"]
    remainder = master_wh + total["production"] - total["unit"] - total["house"]
    return Balance(
        interval_s=length,
        interval_end_s=ends,
        master_wh=master_wh,
        production_wh=total["production"],
        units_wh=total["unit"],
        house_wh=total["house"],
        remainder_wh=remainder,
        master_missing=missing["master"],
        submeters_missing=missing["sub"],
        master_estimated=estimated["master"],
        submeters_estimated=estimated["sub"],
        meters=len(series),
    )


def excess_tolerance_wh(
    *,
    master_wh: int,
    submeters_wh: int,
    meters: int,
    submeter_accuracy: float = DEFAULT_SUBMETER_ACCURACY,
    master_accuracy: float = DEFAULT_MASTER_ACCURACY,
    pulse_wh: int = DEFAULT_PULSE_WH,
) -> int:
    """
    How far the sub-meters may add up above the master before it is a fault, not the meters' accuracy.

    ``ceil(submeter_accuracy × submeters_wh + master_accuracy × |master_wh|) + pulse_wh × meters``: the
    sub-meters reading high and the master low, each at the edge of its class, and each meter's count one
    pulse off. [Wh]

    Parameters
    ----------
    master_wh : int
        The master's net import over the span. [Wh]
    submeters_wh : int
        The unit, house and production meters' energy over the same span. [Wh]
    meters : int
        The meters of the balance. [1]
    submeter_accuracy, master_accuracy : float
        Relative errors: :data:`DEFAULT_SUBMETER_ACCURACY` (manual §3.1, certificate p.1),
        :data:`DEFAULT_MASTER_ACCURACY` (ANSI C12.20 class 0.5). [1]
    pulse_wh : int
        One pulse: 10 Wh for the Mini Meter's output "10" (manual §3.2). [Wh]
    """
    for name, value in (("submeter_accuracy", submeter_accuracy), ("master_accuracy", master_accuracy)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise ValueError(f"{name} must be a fraction from 0 to 1 (0.008 for 0.8 %), got {value!r}")
    for name, count in (("meters", meters), ("pulse_wh", pulse_wh)):
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {count!r}")
    relative = submeter_accuracy * max(submeters_wh, 0) + master_accuracy * abs(master_wh)
    return math.ceil(round(relative, 6)) + pulse_wh * meters


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """
    The balance over one span ``(start_s, end_s]``: an interval, a local day or a local month.

    Every energy is summed over the span's reconciled intervals only, so that
    ``remainder_wh == master_wh + production_wh - units_wh - house_wh``. [Wh]
    """

    start_s: int
    end_s: int
    intervals: int
    """Intervals of the grid in the span. [1]"""
    reconciled: int
    """Of them, those with every meter's billed interval. [1]"""
    master_missing: int
    """Intervals with a meter of the master side (master, its export, production) missing. [1]"""
    submeters_missing: int
    """Intervals with a unit or house meter missing. [1]"""
    master_estimated: int
    """Reconciled intervals with an estimated interval on the master side. [1]"""
    submeters_estimated: int
    """Reconciled intervals with an estimated interval on the sub-meter side. [1]"""
    master_wh: int
    production_wh: int
    units_wh: int
    house_wh: int
    remainder_wh: int
    tolerance_wh: int
    """How far the sub-meters may exceed the master here (:func:`excess_tolerance_wh`). [Wh]"""

    @property
    def load_wh(self) -> int:
        """What the building used: the master's net import and production behind it. [Wh]"""
        return self.master_wh + self.production_wh

    @property
    def submeters_wh(self) -> int:
        """The unit and house meters together. [Wh]"""
        return self.units_wh + self.house_wh

    @property
    def metered_share(self) -> float | None:
        """The part of the load the sub-meters measured (above 1: an excess); None with no load. [1]"""
        return None if self.load_wh <= 0 else self.submeters_wh / self.load_wh

    @property
    def excess_wh(self) -> int:
        """How far the sub-meters add up above the load; 0 when they do not. [Wh]"""
        return max(-self.remainder_wh, 0)

    @property
    def excessive(self) -> bool:
        """The sub-meters exceed the master beyond :attr:`tolerance_wh`: a CT or wiring fault (manual §7)."""
        return self.excess_wh > self.tolerance_wh

    @property
    def complete(self) -> bool:
        """Every interval of the span reconciled."""
        return self.reconciled == self.intervals


def rows(
    bal: Balance,
    bounds_s: Sequence[int],
    *,
    submeter_accuracy: float = DEFAULT_SUBMETER_ACCURACY,
    master_accuracy: float = DEFAULT_MASTER_ACCURACY,
    pulse_wh: int = DEFAULT_PULSE_WH,
) -> list[BalanceRow]:
    """
    The balance summed into spans: row ``k`` holds the intervals ending in ``(bounds_s[k], bounds_s[k+1]]``.

    Parameters
    ----------
    bal : Balance
    bounds_s : sequence of int
        Increasing bounds, at least two (:func:`period_bounds`). [s]
    submeter_accuracy, master_accuracy, pulse_wh
        As :func:`excess_tolerance_wh`.
    """
    b = np.asarray(bounds_s, dtype=np.int64)
    if b.ndim != 1 or b.size < 2 or (np.diff(b) <= 0).any():
        raise ValueError(f"bounds_s must be at least two increasing instants, got {list(bounds_s)!r}")
    n = b.size - 1
    k = np.searchsorted(b, bal.interval_end_s, side="left") - 1
    inside = (k >= 0) & (k < n)
    k = k[inside]
    ok = bal.reconciled[inside]

    def count(mask: npt.NDArray[np.bool_]) -> list[int]:
        out = np.zeros(n, dtype=np.int64)
        np.add.at(out, k, mask.astype(np.int64))
        return [int(x) for x in out]

    def total(values: npt.NDArray[np.int64]) -> list[int]:
        out = np.zeros(n, dtype=np.int64)
        np.add.at(out, k, np.where(ok, values[inside], 0))
        return [int(x) for x in out]

    intervals = count(np.ones(k.size, dtype=np.bool_))
    reconciled = count(ok)
    master_missing = count(bal.master_missing[inside])
    sub_missing = count(bal.submeters_missing[inside])
    master_est = count(ok & bal.master_estimated[inside])
    sub_est = count(ok & bal.submeters_estimated[inside])
    master, production = total(bal.master_wh), total(bal.production_wh)
    units, house = total(bal.units_wh), total(bal.house_wh)
    out = []
    for i in range(n):
        remainder = master[i] + production[i] - units[i] - house[i]
        tolerance = excess_tolerance_wh(
            master_wh=master[i],
            submeters_wh=units[i] + house[i] + production[i],
            meters=bal.meters,
            submeter_accuracy=submeter_accuracy,
            master_accuracy=master_accuracy,
            pulse_wh=pulse_wh,
        )
        out.append(
            BalanceRow(
                start_s=int(b[i]),
                end_s=int(b[i + 1]),
                intervals=intervals[i],
                reconciled=reconciled[i],
                master_missing=master_missing[i],
                submeters_missing=sub_missing[i],
                master_estimated=master_est[i],
                submeters_estimated=sub_est[i],
                master_wh=master[i],
                production_wh=production[i],
                units_wh=units[i],
                house_wh=house[i],
                remainder_wh=remainder,
                tolerance_wh=tolerance,
            )
        )
    return out


def _midnight(day: date, timezone: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone(timezone)).astimezone(UTC)


def period_bounds(start: datetime, end: datetime, by: str, timezone: str, *, interval_s: int) -> list[int]:
    """
    The bounds of the rows of ``(start, end]``: each interval of the grid, or each local day or month.

    Local days and months follow the site's wall clock (:func:`meshmeter.headend.buckets.bucket_bounds`:
    a day of 23 or 25 hours on a DST change); the first and last are cut to the period when it starts or
    ends within one. [s]

    Raises
    ------
    ValueError
        A ``by`` not of :data:`BY`, naive or empty period, an unknown zone.
    """
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}, got {by!r}")
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    if end <= start:
        raise ValueError(f"end must be after start, got start={start.isoformat()} end={end.isoformat()}")
    lo_s, hi_s = int(start.timestamp()), int(end.timestamp())
    if by == "interval":
        return [lo_s, *(int(x) for x in _ends(lo_s, hi_s, interval_s))]
    tz = zone(timezone)
    first = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    if _midnight(last, timezone) < end:
        last += timedelta(days=1)
    if by == "month":
        first = first.replace(day=1)
        if last.day != 1:
            last = (last.replace(day=1) + timedelta(days=32)).replace(day=1)
        resolution = Resolution.MONTHLY
    else:
        resolution = Resolution.DAILY
    bounds = bucket_bounds(_midnight(first, timezone), _midnight(last, timezone), resolution, tz)
    inner = [x for x in bounds if lo_s < x < hi_s]
    return [lo_s, *inner, hi_s]


@dataclass(frozen=True, slots=True)
class RemainderJump:
    """A day whose remainder jumped above its trailing median (:func:`remainder_jumps`)."""

    day: BalanceRow
    median_wh: float
    """The median remainder of the complete days among the previous :data:`JUMP_DAYS`. [Wh]"""
    days: int
    """How many days the median is of. [1]"""
    threshold_wh: float
    """What the remainder had to exceed: ``max(factor × median, median + max(min_jump_wh, tolerance))``.
    [Wh]"""


def remainder_jumps(
    days: Sequence[BalanceRow],
    *,
    factor: float = DEFAULT_JUMP_FACTOR,
    min_jump_wh: int = DEFAULT_JUMP_MIN_WH,
    min_days: int = DEFAULT_JUMP_MIN_DAYS,
) -> list[tuple[BalanceRow, RemainderJump | None]]:
    """
    Each complete day judged against the median remainder of the previous :data:`JUMP_DAYS` days.

    Parameters
    ----------
    days : sequence of BalanceRow
        Consecutive local days, oldest first (the seven before the period included, for its first days).
    factor : float
        A jump is a remainder above ``factor ×`` the median ... [1]
    min_jump_wh : int
        ... and above the median by more than this and than the day's excess tolerance. [Wh]
    min_days : int
        Complete days among the previous seven needed for a median. [d]

    Returns
    -------
    list of (BalanceRow, RemainderJump or None)
        For every complete day with a median: the day, and its jump or None (an ordinary day). Days with an
        interval not reconciled, and days without enough complete days before them, are not judged.
    """
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor >= 1:
        raise ValueError(f"factor must be a number of 1 or more, got {factor!r}")
    if isinstance(min_jump_wh, bool) or not isinstance(min_jump_wh, int) or min_jump_wh < 0:
        raise ValueError(f"min_jump_wh must be a non-negative integer [Wh], got {min_jump_wh!r}")
    if isinstance(min_days, bool) or not isinstance(min_days, int) or not 1 <= min_days <= JUMP_DAYS:
        raise ValueError(f"min_days must be an integer from 1 to {JUMP_DAYS}, got {min_days!r}")
    judged: list[tuple[BalanceRow, RemainderJump | None]] = []
    for i, day in enumerate(days):
        if not day.complete:
            continue
        before = [d.remainder_wh for d in days[max(0, i - JUMP_DAYS) : i] if d.complete]
        if len(before) < min_days:
            continue
        median = float(statistics.median(before))
        threshold = max(factor * median, median + max(min_jump_wh, day.tolerance_wh))
        jump = day.remainder_wh > threshold
        judged.append((day, RemainderJump(day, median, len(before), threshold) if jump else None))
    return judged
