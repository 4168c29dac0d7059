"""Tariff calendars: local hour, month and day type at each interval's start, DST and holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from meshmeter.billing import holiday_dates, interval_grid, local_calendar, period_index
from meshmeter.billing.calendar import DAY_HOLIDAY, DAY_WEEKDAY, DAY_WEEKEND
from meshmeter.billing.tariff import HolidayRules
from tests.billing.conftest import LA, local


def test_fall_back_day_has_100_intervals_and_the_1_am_hour_twice():
    grid = interval_grid(local(2026, 11, 1), local(2026, 11, 2))
    cal = local_calendar(grid, LA, None)
    assert grid.size == 100
    assert (cal.intervals_in_day == 100).all()
    assert np.bincount(cal.hour, minlength=24)[1] == 8
    assert (cal.intervals_in_month == 30 * 96 + 4).all()


def test_spring_forward_day_has_92_intervals_and_no_2_am():
    grid = interval_grid(local(2026, 3, 8), local(2026, 3, 9))
    cal = local_calendar(grid, LA, None)
    assert grid.size == 92
    assert np.bincount(cal.hour, minlength=24)[2] == 0
    assert (cal.day_type == DAY_WEEKEND).all()  # a Sunday


def test_start_instant_decides_hour_and_month():
    # The interval ending 00:00 local on 1 August lies in 31 July 23:45-24:00: July, hour 23.
    end = int(local(2026, 8, 1).timestamp())
    cal = local_calendar(np.array([end]), LA, None)
    assert cal.month.tolist() == [7]
    assert cal.hour.tolist() == [23]
    assert cal.day.tolist() == [date(2026, 7, 31).toordinal()]


def test_holidays_observed_and_named():
    rules = HolidayRules("US", "CA", True, ("Independence Day", "Christmas Day"))
    days = holiday_dates(rules, [2026, 2027])
    assert date(2026, 7, 3) in days  # observed Friday for Saturday 4 July
    assert date(2027, 7, 5) in days  # observed Monday for Sunday 4 July
    assert date(2027, 12, 24) in days
    assert date(2026, 11, 26) not in days  # Thanksgiving is not named
    assert holiday_dates(None, [2026]) == frozenset()
    grid = interval_grid(local(2026, 7, 3), local(2026, 7, 4))
    assert (local_calendar(grid, LA, rules).day_type == DAY_HOLIDAY).all()
    assert (local_calendar(grid, LA, None).day_type == DAY_WEEKDAY).all()


def test_period_index_uses_weekend_schedule_on_holidays():
    weekday = np.zeros((12, 24), dtype=np.int64)
    weekend = np.ones((12, 24), dtype=np.int64)
    grid = interval_grid(local(2026, 7, 2), local(2026, 7, 5))  # Thursday, observed holiday, Saturday
    cal = local_calendar(grid, LA, HolidayRules("US", None, True, ("Independence Day",)))
    assert np.bincount(period_index(weekday, weekend, cal)).tolist() == [96, 192]
    with pytest.raises(ValueError, match="12 x 24"):
        period_index(weekday[:11], weekend, cal)


def test_grid_bad_input():
    with pytest.raises(ValueError, match="timezone-aware"):
        interval_grid(datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC))
    with pytest.raises(ValueError, match="end must be on the 15-minute grid"):
        interval_grid(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, 0, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone"):
        local_calendar(np.array([900]), "Nowhere/City", None)
