"""Tariff calendars: the local hour, month and day type of each interval (``docs/billing.md``).

A meter's intervals all have its length ``interval_s``: 300, 900 (the Mini Meter's 15 minutes, the
default), 1800 or 3600 s. An interval is named by its end and covers ``(interval_end - interval_s,
interval_end]``; it takes the tariff period of its **start instant** in local time (the hour the whole
interval lies in, as every length divides an hour: the 15-minute interval ending at 16:00 is the last of
the 15:00 hour, and so is the hourly one, not peak at 16:00). Local time comes from :mod:`zoneinfo`, so a
DST change day has 92 or 100 15-minute intervals (23 or 25 hourly ones) and its repeated or skipped hour
is billed by the clock on the wall. Holidays come from the ``holidays`` package with the tariff's rules and
are billed on the weekend schedule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from meshmeter.billing.tariff import HolidayRules
from meshmeter.intervals import INTERVAL_S, check_interval_s, zone

__all__ = [
    "DAY_HOLIDAY",
    "DAY_WEEKDAY",
    "DAY_WEEKEND",
    "INTERVAL_S",
    "LocalCalendar",
    "check_interval_s",
    "grid_name",
    "holiday_dates",
    "interval_grid",
    "local_calendar",
    "period_index",
    "zone",
]

IntArray = npt.NDArray[np.int64]


DAY_WEEKDAY: Final = 0
DAY_WEEKEND: Final = 1
DAY_HOLIDAY: Final = 2

_DAY_S: Final = 86_400


def grid_name(interval_s: int) -> str:
    """How errors name a length's grid: ``"15-minute"``, ``"60-minute"``."""
    return f"{interval_s // 60}-minute"


def _utc(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def interval_grid(start: datetime, end: datetime, *, interval_s: int = INTERVAL_S) -> IntArray:
    """
    The ends of the intervals of a billing period ``(start, end]`` at one interval length.

    Parameters
    ----------
    start, end : datetime
        Timezone-aware bounds on the grid of ``interval_s`` (UTC seconds divisible by it); ``start`` is
        excluded, ``end`` included.
    interval_s : int
        Length of each interval: 300, 900 (default), 1800 or 3600. [s]

    Returns
    -------
    interval_end_s : ndarray of int64
        Interval ends, seconds since the Unix epoch, UTC: a DST change day in local time has 23 or 25
        hourly ones. [s]
    """
    step = check_interval_s(interval_s)
    t0 = int(_utc("start", start).timestamp())
    t1 = int(_utc("end", end).timestamp())
    if t0 % step:
        raise ValueError(f"start must be on the {grid_name(step)} grid, got {start.isoformat()}")
    if t1 % step:
        raise ValueError(f"end must be on the {grid_name(step)} grid, got {end.isoformat()}")
    if t1 <= t0:
        raise ValueError(f"end must be after start, got start={start.isoformat()} end={end.isoformat()}")
    return np.arange(t0 + step, t1 + 1, step, dtype=np.int64)


def holiday_dates(rules: HolidayRules | None, years: Iterable[int]) -> frozenset[date]:
    """
    The local dates a tariff bills as holidays.

    Parameters
    ----------
    rules : HolidayRules or None
        The tariff's rules (``meshmeter_holidays``); None gives no holiday.
    years : iterable of int
        Calendar years wanted.

    Returns
    -------
    frozenset of date
        Each recognised holiday on its own date and, with ``observed``, on its observed day off.
    """
    if rules is None:
        return frozenset()
    import holidays as holidays_package

    wanted = sorted(set(years))
    calendar = holidays_package.country_holidays(
        rules.country, subdiv=rules.subdivision, years=wanted, observed=rules.observed
    )
    names = set(rules.names)
    out = set()
    for day, label in calendar.items():
        if day.year not in wanted:
            continue
        labels = {n.strip().removesuffix(" (observed)") for n in label.split(";")}
        if not names or labels & names:
            out.add(day)
    return frozenset(out)


@dataclass(frozen=True)
class LocalCalendar:
    """
    The local calendar of a grid of intervals of one length, each taken at its start instant.

    Attributes
    ----------
    interval_end_s : ndarray of int64
        The grid. [s]
    month : ndarray of int64
        Local calendar month, 1 to 12.
    hour : ndarray of int64
        Local hour of day, 0 to 23.
    day_type : ndarray of int64
        :data:`DAY_WEEKDAY`, :data:`DAY_WEEKEND` or :data:`DAY_HOLIDAY`.
    day : ndarray of int64
        Local date as a proleptic ordinal (``date.toordinal``).
    month_key : ndarray of int64
        ``year * 12 + month - 1`` of the local date: one value per calendar month.
    intervals_in_day : ndarray of int64
        Number of intervals of the grid's length that start in the interval's whole local day: 96, or
        92 / 100 on a DST change day, for 15 minutes; 24, or 23 / 25, for an hour. [1]
    intervals_in_month : ndarray of int64
        Number of intervals of the grid's length that start in the interval's whole local calendar
        month. [1]
    interval_s : int
        Length of each interval. [s]
    """

    interval_end_s: IntArray
    month: IntArray
    hour: IntArray
    day_type: IntArray
    day: IntArray
    month_key: IntArray
    intervals_in_day: IntArray
    intervals_in_month: IntArray
    interval_s: int = INTERVAL_S


def _midnight_s(day: date, tz: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())


def _starts_between(t0: int, t1: int, step: int) -> int:
    """How many grid instants (multiples of ``step``) lie in ``[t0, t1)``: the intervals starting there."""
    return -(-t1 // step) - -(-t0 // step)


def local_calendar(
    interval_end_s: IntArray,
    timezone: str,
    holidays: HolidayRules | None,
    *,
    interval_s: int = INTERVAL_S,
) -> LocalCalendar:
    """
    Local month, hour and day type of each interval, at its start instant (``docs/billing.md``).

    Parameters
    ----------
    interval_end_s : array-like of int
        Interval ends, seconds since the Unix epoch, on the grid of ``interval_s``. [s]
    timezone : str
        IANA time zone of the tariff's local time.
    holidays : HolidayRules or None
        Holidays billed on the weekend schedule.
    interval_s : int
        Length of each interval: 300, 900 (default), 1800 or 3600. An interval covers
        ``(end - interval_s, end]`` and takes the local calendar of its start instant; the counts per day
        and month are of intervals of this length. [s]

    Returns
    -------
    LocalCalendar
    """
    step = check_interval_s(interval_s)
    tz = zone(timezone)
    ends = np.asarray(interval_end_s, dtype=np.int64)
    if ends.ndim != 1:
        raise ValueError(f"interval_end_s must be one-dimensional, got shape {ends.shape}")
    starts = ends - step
    # The UTC offset changes only at a DST transition: take it once per UTC hour, then index.
    if starts.size:
        hour0 = int(starts.min()) // 3600
        hours = np.arange(hour0, int(starts.max()) // 3600 + 1, dtype=np.int64)
        offsets = np.array(
            [int(datetime.fromtimestamp(int(h) * 3600, tz).utcoffset().total_seconds()) for h in hours],  # type: ignore[union-attr]
            dtype=np.int64,
        )
        # Zones whose offset is not whole hours change on the hour too; an instant inside an hour takes
        # that hour's offset, which is right as transitions fall on whole UTC hours in the tz database.
        offset = offsets[starts // 3600 - hour0]
    else:
        offset = np.zeros(0, dtype=np.int64)
    local = starts + offset
    day_num = local // _DAY_S  # days since 1970-01-01, local
    hour = (local % _DAY_S) // 3600
    months = day_num.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    month = months % 12 + 1
    month_key = months + 1970 * 12
    weekday = (day_num + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    day_type = np.where(weekday >= 5, DAY_WEEKEND, DAY_WEEKDAY).astype(np.int64)
    epoch_ordinal = date(1970, 1, 1).toordinal()
    unique_days = np.unique(day_num)
    if unique_days.size:
        years = range(int(month_key.min()) // 12 - 1, int(month_key.max()) // 12 + 2)
        off = holiday_dates(holidays, years)
        holiday_days = np.array([d.toordinal() - epoch_ordinal for d in off], dtype=np.int64)
        day_type[np.isin(day_num, holiday_days)] = DAY_HOLIDAY
    # Whole local days and months, DST included, from their local midnights: the grid instants from one
    # midnight (included) to the next (excluded) start the intervals of that day or month.
    per_day: dict[int, int] = {}
    for d in unique_days.tolist():
        first = date.fromordinal(d + epoch_ordinal)
        per_day[d] = _starts_between(_midnight_s(first, tz), _midnight_s(first + timedelta(days=1), tz), step)
    per_month: dict[int, int] = {}
    for k in np.unique(month_key).tolist():
        y, m = divmod(k, 12)
        first = date(y, m + 1, 1)
        nxt = date(y + 1, 1, 1) if m == 11 else date(y, m + 2, 1)
        per_month[k] = _starts_between(_midnight_s(first, tz), _midnight_s(nxt, tz), step)
    if unique_days.size:
        lookup_day = np.array([per_day[d] for d in unique_days.tolist()], dtype=np.int64)
        in_day = lookup_day[np.searchsorted(unique_days, day_num)]
        keys = np.array(sorted(per_month), dtype=np.int64)
        lookup_month = np.array([per_month[k] for k in keys.tolist()], dtype=np.int64)
        in_month = lookup_month[np.searchsorted(keys, month_key)]
    else:
        in_day = in_month = np.zeros(0, dtype=np.int64)
    return LocalCalendar(
        interval_end_s=ends,
        month=month.astype(np.int64),
        hour=hour.astype(np.int64),
        day_type=day_type,
        day=(day_num + epoch_ordinal).astype(np.int64),
        month_key=month_key.astype(np.int64),
        intervals_in_day=in_day,
        intervals_in_month=in_month,
        interval_s=step,
    )


def period_index(weekday_schedule: IntArray, weekend_schedule: IntArray, calendar: LocalCalendar) -> IntArray:
    """
    The tariff period of each interval from a URDB 12 × 24 weekday and weekend schedule.

    Parameters
    ----------
    weekday_schedule, weekend_schedule : ndarray of int, shape (12, 24)
        Period by month (January first) and local hour; holidays take the weekend schedule.
    calendar : LocalCalendar
        The intervals' local calendar.

    Returns
    -------
    ndarray of int64
        Period of each interval (0-based, as in URDB).
    """
    wd = np.asarray(weekday_schedule, dtype=np.int64)
    we = np.asarray(weekend_schedule, dtype=np.int64)
    if wd.shape != (12, 24) or we.shape != (12, 24):
        raise ValueError(f"schedules must be 12 x 24, got {wd.shape} and {we.shape}")
    m = calendar.month - 1
    return np.where(calendar.day_type == DAY_WEEKDAY, wd[m, calendar.hour], we[m, calendar.hour])
