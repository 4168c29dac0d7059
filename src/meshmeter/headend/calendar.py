"""Day types for VEE's like-day estimation: weekdays, weekends and US federal holidays by rule.

The ``holidays`` package is not a dependency yet (``docs/vee.md``); until it is, the eleven US federal
holidays of 5 U.S.C. 6103 are computed here by their rules, with the usual observance: a holiday that
falls on a Saturday is observed on the Friday before, one on a Sunday on the Monday after. Any other
calendar can be passed to VEE as a plain set of dates.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import date, timedelta
from typing import Final, Literal

__all__ = [
    "DayType",
    "day_type",
    "us_federal_holidays",
]

DayType = Literal["weekday", "weekend", "holiday"]

_MONDAY: Final = 0
_THURSDAY: Final = 3


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th (1-based) ``weekday`` (Monday 0) of a month."""
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    """The last ``weekday`` (Monday 0) of a month."""
    nxt = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    """The day off for a fixed-date holiday: Saturday → Friday before, Sunday → Monday after."""
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


def _actual(year: int) -> list[tuple[date, bool]]:
    """The holidays of ``year`` on their own dates, each with whether it is a fixed date (may move)."""
    days: list[tuple[date, bool]] = [(date(year, 1, 1), True)]
    if year >= 1986:
        days.append((_nth_weekday(year, 1, _MONDAY, 3), False))  # Birthday of Martin Luther King, Jr.
    days.append((_nth_weekday(year, 2, _MONDAY, 3), False))  # Washington's Birthday
    days.append((_last_weekday(year, 5, _MONDAY), False))  # Memorial Day
    if year >= 2021:
        days.append((date(year, 6, 19), True))  # Juneteenth National Independence Day
    days.append((date(year, 7, 4), True))  # Independence Day
    days.append((_nth_weekday(year, 9, _MONDAY, 1), False))  # Labor Day
    days.append((_nth_weekday(year, 10, _MONDAY, 2), False))  # Columbus Day
    days.append((date(year, 11, 11), True))  # Veterans Day
    days.append((_nth_weekday(year, 11, _THURSDAY, 4), False))  # Thanksgiving Day
    days.append((date(year, 12, 25), True))  # Christmas Day
    return days


def us_federal_holidays(year: int) -> frozenset[date]:
    """
    US federal holidays of a calendar year, computed by rule (5 U.S.C. 6103).

    Parameters
    ----------
    year : int
        Calendar year, 1971 or later (the Monday holidays of the Uniform Monday Holiday Act).

    Returns
    -------
    holidays : frozenset of date
        Every holiday's own date and, for a fixed-date holiday on a weekend, its observed day off
        (the Friday before a Saturday, the Monday after a Sunday). Only dates within ``year`` are
        returned: New Year's Day on a Saturday is observed on 31 December of the year before, which
        belongs to that year's set.

    Raises
    ------
    ValueError
        If ``year`` is not an integer from 1971 to 9998.

    Notes
    -----
    The holidays: New Year's Day (1 January); Birthday of Martin Luther King, Jr. (third Monday of
    January, from 1986); Washington's Birthday (third Monday of February); Memorial Day (last Monday of
    May); Juneteenth (19 June, from 2021); Independence Day (4 July); Labor Day (first Monday of
    September); Columbus Day (second Monday of October); Veterans Day (11 November); Thanksgiving Day
    (fourth Thursday of November); Christmas Day (25 December).
    """
    if isinstance(year, bool) or not isinstance(year, int) or not 1971 <= year <= 9998:
        raise ValueError(f"year must be an integer from 1971 to 9998, got {year!r}")
    out: set[date] = set()
    for y in (year, year + 1):
        for day, fixed in _actual(y):
            for d in (day, _observed(day)) if fixed else (day,):
                if d.year == year:
                    out.add(d)
    return frozenset(out)


def day_type(day: date, holidays: Container[date] | None = None) -> DayType:
    """
    The type of a local calendar day: ``"holiday"``, ``"weekend"`` (Saturday, Sunday) or ``"weekday"``.

    Parameters
    ----------
    day : date
        A local calendar date (of the site's time zone).
    holidays : container of date, optional
        The holidays; default the US federal holidays of ``day``'s year (:func:`us_federal_holidays`).

    Returns
    -------
    str
        ``"holiday"`` takes precedence over ``"weekend"``.
    """
    if not isinstance(day, date):
        raise ValueError(f"day must be a date, got {day!r}")
    calendar = us_federal_holidays(day.year) if holidays is None else holidays
    if day in calendar:
        return "holiday"
    return "weekend" if day.weekday() >= 5 else "weekday"
