"""Day types for VEE's like-day estimation: weekdays, weekends and US federal holidays.

The holidays come from the ``holidays`` package, as the tariff calendars' do (``billing/calendar.py``): the
eleven US federal holidays of 5 U.S.C. 6103 with the usual observance (a holiday that falls on a Saturday
is observed on the Friday before, one on a Sunday on the Monday after). Any other calendar can be passed
to VEE as a plain set of dates.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import date
from typing import Literal

__all__ = [
    "DayType",
    "day_type",
    "us_federal_holidays",
]

DayType = Literal["weekday", "weekend", "holiday"]


def us_federal_holidays(year: int) -> frozenset[date]:
    """
    US federal holidays of a calendar year (5 U.S.C. 6103), from the ``holidays`` package.

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
    import holidays as holidays_package

    calendar = holidays_package.country_holidays("US", years=(year, year + 1), observed=True)
    return frozenset(d for d in calendar if d.year == year)


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
