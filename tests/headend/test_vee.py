"""Tests of VEE (``meshmeter.headend.vee``) and its calendar, from hand-worked cases."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from meshmeter.headend.calendar import day_type, us_federal_holidays
from meshmeter.headend.vee import (
    IntervalSeries,
    VeeConfig,
    check_counter,
    check_interval_size,
    check_negative,
    check_spike,
    check_sum,
    check_time_tolerance,
    check_zero_run,
    edit_intervals,
    estimate,
    interpolate_linear,
    largest_remainder,
    like_day_class,
    outage_mask,
    run_vee,
    validate,
)
from meshmeter.store import Store
from tests.headend.conftest import add_meter

Q = 900
MON = int(datetime(2024, 4, 29, tzinfo=UTC).timestamp())  # Monday 29 April 2024, 00:00 UTC


def series(values: list[float], *, t0: int = MON, cumulative: list[float] | None = None) -> IntervalSeries:
    """A regular series whose first interval ends at ``t0 + 900``."""
    ends = t0 + Q * np.arange(1, len(values) + 1)
    return IntervalSeries.from_arrays(ends, values, cumulative)


# --- calendar ---------------------------------------------------------------------------------------------


def test_us_federal_holidays_2024() -> None:
    days = us_federal_holidays(2024)
    assert days == {
        date(2024, 1, 1),
        date(2024, 1, 15),  # third Monday of January
        date(2024, 2, 19),
        date(2024, 5, 27),  # last Monday of May
        date(2024, 6, 19),
        date(2024, 7, 4),
        date(2024, 9, 2),
        date(2024, 10, 14),
        date(2024, 11, 11),
        date(2024, 11, 28),  # fourth Thursday of November
        date(2024, 12, 25),
    }


@pytest.mark.parametrize(
    ("year", "observed"),
    [
        (2021, date(2021, 12, 31)),  # New Year's Day 2022 is a Saturday
        (2026, date(2026, 7, 3)),  # 4 July 2026 is a Saturday
        (2022, date(2022, 12, 26)),  # Christmas 2022 is a Sunday
    ],
)
def test_us_federal_holidays_observed(year: int, observed: date) -> None:
    assert observed in us_federal_holidays(year)


def test_juneteenth_only_from_2021() -> None:
    assert date(2020, 6, 19) not in us_federal_holidays(2020)
    assert date(2021, 6, 19) in us_federal_holidays(2021)


def test_day_type() -> None:
    assert day_type(date(2024, 5, 27)) == "holiday"
    assert day_type(date(2024, 5, 25)) == "weekend"
    assert day_type(date(2024, 5, 28)) == "weekday"
    assert day_type(date(2024, 5, 27), holidays=frozenset()) == "weekday"


def test_us_federal_holidays_bad_year() -> None:
    with pytest.raises(ValueError, match="year"):
        us_federal_holidays(1900)


# --- configuration and ratings ----------------------------------------------------------------------------


def test_max_interval_energy_from_ratings() -> None:
    # without a meter, the default Mini Meter: 2 elements x 138 V x 220 A x PF 1 x 0.25 h = 15,180 Wh
    # (manual §3.1); run_vee sets the meter's own (tests/headend/test_ingest_limits.py)
    assert VeeConfig().max_energy_wh() == 15_180.0
    assert VeeConfig(interval_s=3600).max_energy_wh() == 60_720.0
    assert VeeConfig(max_interval_wh=1000.0).max_energy_wh() == 1000.0


@pytest.mark.parametrize(
    "field",
    [
        "time_tolerance_s",
        "spike_ratio",
        "spike_min_wh",
        "max_interval_wh",
        "zero_run_max_h",
        "sum_tolerance_fraction",
        "sum_tolerance_wh",
    ],
)
def test_config_refuses_nan(field: str) -> None:
    kwargs: dict[str, Any] = {field: math.nan}
    with pytest.raises(ValueError, match=field):
        VeeConfig(**kwargs)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("interval_s", 700),
        ("spike_ratio", 1.0),
        ("like_days", 0),
        ("max_interval_wh", 0.0),
        ("spike_rule", "sometimes"),
        ("like_days_by", "moon"),
        ("counter_modulus_wh", -5),
        ("scale_to_registers", 1),
    ],
)
def test_config_refuses_bad_values(field: str, value: object) -> None:
    kwargs: dict[str, Any] = {field: value}
    with pytest.raises(ValueError, match=field):
        VeeConfig(**kwargs)


# --- input ------------------------------------------------------------------------------------------------


def test_series_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="energy_wh"):
        IntervalSeries.from_arrays([Q, 2 * Q], [1.0])
    with pytest.raises(ValueError, match="cumulative_wh"):
        IntervalSeries.from_arrays([Q, 2 * Q], [1.0, 2.0], [1.0])


def test_series_unsorted() -> None:
    with pytest.raises(ValueError, match=r"interval_end.*increasing"):
        IntervalSeries.from_arrays([2 * Q, Q], [1.0, 2.0])


def test_series_naive_datetime() -> None:
    with pytest.raises(ValueError, match="interval_end"):
        IntervalSeries.from_arrays([datetime(2024, 1, 1)], [1.0])


def test_series_datetime64_equals_int() -> None:
    ints = IntervalSeries.from_arrays([MON + Q], [5.0])
    stamps = IntervalSeries.from_arrays(np.array([MON + Q], dtype="datetime64[s]"), [5.0])
    aware = IntervalSeries.from_arrays([datetime.fromtimestamp(MON + Q, UTC)], [5.0])
    assert ints.interval_end.tolist() == stamps.interval_end.tolist() == aware.interval_end.tolist()


def test_validate_bad_arguments() -> None:
    s = series([1.0, 2.0])
    with pytest.raises(ValueError, match="start"):
        validate(s, start=MON + 10)
    with pytest.raises(ValueError, match="timezone"):
        validate(s, timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="config"):
        validate(s, config="strict")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="register_reads"):
        validate(s, register_reads=[(MON, -1)])


# --- checks -----------------------------------------------------------------------------------------------


def test_time_tolerance() -> None:
    ends = [0, Q + 30, 2 * Q + 61, 3 * Q - 90]
    assert check_time_tolerance(ends, tolerance_s=60).tolist() == [False, False, True, True]


def test_interval_size() -> None:
    # 900 → 1900: consecutive boundaries (900, 1800) but 1000 s long; 0 → 2700 is a gap, not a size fault.
    assert check_interval_size([Q, 1900]).tolist() == [False, True]
    assert check_interval_size([0, 3 * Q]).tolist() == [False, False]
    assert check_interval_size([Q, 2 * Q], duration_s=[900.0, 600.0]).tolist() == [False, True]


def test_negative() -> None:
    assert check_negative([1.0, -1.0, np.nan, 0.0]).tolist() == [False, True, False, False]


def test_counter_rollover() -> None:
    rollover, reset, unwrapped, segment = check_counter([990, 995, 5, 10], modulus_wh=1000, max_step_wh=100)
    assert rollover.tolist() == [False, False, True, False]
    assert not reset.any()
    assert unwrapped.tolist() == [990, 995, 1005, 1010]
    assert segment.tolist() == [0, 0, 0, 0]


def test_counter_default_modulus_is_32_bit_pulses() -> None:
    top = 2**32 * 10
    rollover, _, unwrapped, _ = check_counter([top - 20, 30], max_step_wh=15_180)
    assert rollover.tolist() == [False, True]
    assert unwrapped[1] == top + 30


def test_counter_reset() -> None:
    # 600 → 100 is no rollover of a 1000 Wh counter within 100 Wh per interval: a reset
    rollover, reset, unwrapped, segment = check_counter(
        [500, 600, 100, np.nan, 200], modulus_wh=1000, max_step_wh=100
    )
    assert reset.tolist() == [False, False, True, False, False]
    assert not rollover.any()
    assert segment.tolist() == [0, 0, 1, 1, 1]
    assert np.isnan(unwrapped[3])
    _, reset_none, _, _ = check_counter([995, 5], modulus_wh=None)
    assert reset_none.tolist() == [False, True]


def test_spike_rating_20_kwh() -> None:
    # 20 kWh in 15 minutes on a meter rated for 15.18 kWh
    energy = [500.0] * 10 + [20_000.0]
    mask = check_spike(energy, max_interval_wh=VeeConfig().max_energy_wh(), rule="rating")
    assert mask.tolist() == [False] * 10 + [True]


@pytest.mark.parametrize(
    ("energy", "expected"),
    [
        ([100, 100, 100, 600], [False, False, False, True]),  # 600 > 5 x 100
        ([100, 100, 100, 500], [False, False, False, False]),  # 500 is not above 5 x 100
        ([100, 100, 100, 100, 800, 900], [False] * 4 + [True, True]),  # two spikes: both found
        ([10, 10, 10, 60], [False] * 4),  # below spike_min_wh
        ([100, 600], [False, False]),  # fewer than three values: no ratio test
        ([0, 0, 0, 600], [False] * 4),  # third highest 0: the ratio means nothing
    ],
)
def test_spike_ratio(energy: list[float], expected: list[bool]) -> None:
    assert check_spike(energy, ratio=5.0, min_wh=100.0, rule="ratio").tolist() == expected


def test_spike_rules_combine() -> None:
    energy = [15_000.0, 15_000.0, 15_000.0, 16_000.0, 100.0]
    kwargs: dict[str, Any] = {"ratio": 5.0, "min_wh": 100.0, "max_interval_wh": 15_180.0}
    assert check_spike(energy, rule="either", **kwargs).tolist() == [False, False, False, True, False]
    assert check_spike(energy, rule="both", **kwargs).tolist() == [False] * 5
    assert check_spike(energy, rule="ratio", **kwargs).tolist() == [False] * 5


def test_spike_groups() -> None:
    # 600 is a spike in a day of 100s, not in a day of 500s
    energy = [100, 100, 100, 600, 500, 500, 500, 600]
    groups = [0, 0, 0, 0, 1, 1, 1, 1]
    assert check_spike(energy, rule="ratio", groups=groups).tolist() == [False] * 3 + [True] + [False] * 4


def test_zero_run() -> None:
    # 4 h = 16 intervals: 17 zeros are too many, 16 are not
    assert check_zero_run([5.0] + [0.0] * 17 + [5.0], max_run=16).sum() == 17
    assert not check_zero_run([5.0] + [0.0] * 16 + [5.0], max_run=16).any()
    exempt = np.zeros(19, dtype=bool)
    exempt[1:18] = True
    assert not check_zero_run([5.0] + [0.0] * 17 + [5.0], max_run=16, exempt=exempt).any()


def test_outage_mask() -> None:
    # the outage (850, 2000) overlaps (0, 900], (900, 1800], (1800, 2700], not (2700, 3600]
    assert outage_mask([900, 1800, 2700, 3600], [(850, 2000)]).tolist() == [True, True, True, False]
    with pytest.raises(ValueError, match="outages"):
        outage_mask([900], [(2000, 850)])


@pytest.mark.parametrize(
    ("values", "delta", "passed"),
    [
        ([250, 250, 250, 250], 1000, True),
        ([250, 250, 250, 260], 1000, True),  # 10 Wh off: max(0.5 % x 1000 = 5, 10) = 10 Wh allowed
        ([250, 250, 250, 261], 1000, False),
        ([2500, 2500, 2500, 2550], 10_000, True),  # 50 Wh off: 0.5 % of 10,000 = 50 Wh allowed
        ([2500, 2500, 2500, 2551], 10_000, False),
    ],
)
def test_sum_check_tolerance(values: list[float], delta: int, passed: bool) -> None:
    ends = Q * np.arange(1, 5)
    (result,) = check_sum(ends, values, [(0, 7_000), (4 * Q, 7_000 + delta)])
    assert result.passed is passed
    assert result.register_delta_wh == delta


def test_sum_check_not_checked() -> None:
    ends = Q * np.arange(1, 5)
    (missing,) = check_sum(ends, [250, np.nan, 250, 250], [(0, 0), (4 * Q, 1000)])
    assert missing.passed is None
    assert missing.missing == 1
    (off,) = check_sum(ends, [250] * 4, [(0, 0), (4 * Q - 100, 1000)])
    assert off.passed is None


# --- validate ---------------------------------------------------------------------------------------------


def test_validate_quality_codes() -> None:
    values = [500.0] * 8 + [20_000.0] + [np.nan] + [-5.0] + [500.0]
    v = validate(series(values))
    assert v.quality.tolist() == [0] * 8 + [10, 14, 10, 0]
    assert v.masks["spike"][8]
    assert v.masks["missing"][9]
    assert v.masks["negative"][10]
    assert any("spike" in r for r in v.reasons(8))


def test_validate_places_records_on_the_grid() -> None:
    # ends at +900, +1800+30 (snapped silently), +3600+120 (snapped, flagged); +2700 is missing
    ends = [MON + Q, MON + 2 * Q + 30, MON + 4 * Q + 120]
    v = validate(IntervalSeries.from_arrays(ends, [10.0, 20.0, 40.0]), start=MON, end=MON + 4 * Q)
    assert (v.interval_end - MON).tolist() == [Q, 2 * Q, 3 * Q, 4 * Q]
    assert np.isnan(v.energy_wh[2])
    assert v.quality.tolist() == [0, 0, 14, 10]
    assert v.masks["time_tolerance"].tolist() == [False, False, False, True]


def test_validate_duplicate_keeps_nearer() -> None:
    ends = [MON + Q - 50, MON + Q + 10]
    v = validate(IntervalSeries.from_arrays(ends, [1.0, 2.0]), start=MON, end=MON + Q)
    assert v.energy_wh.tolist() == [2.0]
    assert v.masks["duplicate"][0]


def test_validate_zeros_in_outage_not_flagged() -> None:
    values = [100.0] * 4 + [0.0] * 20 + [100.0] * 4
    outage = (MON + 4 * Q, MON + 24 * Q)  # covers exactly the 20 zero intervals
    flagged = validate(series(values))
    assert flagged.masks["zero_run"].sum() == 20
    assert (flagged.quality[4:24] == 10).all()
    declared = validate(series(values), outages=[outage])
    assert not declared.masks["zero_run"].any()
    assert (declared.quality == 0).all()


def test_validate_rollover_is_not_questionable() -> None:
    top = 2**32 * 10
    v = validate(series([10.0, 10.0, 10.0], cumulative=[top - 10, 0, 10]))
    assert v.masks["rollover"].tolist() == [False, True, False]
    assert (v.quality == 0).all()
    assert v.counter_wh.tolist() == [top - 10, top, top + 10]


def test_validate_counter_reset_is_questionable() -> None:
    v = validate(series([10.0, 10.0, 10.0], cumulative=[5000, 6000, 10]))
    assert v.quality.tolist() == [0, 0, 10]


def test_validate_sum_check_flags_span() -> None:
    values = [250.0] * 4 + [100.0]
    ok = validate(series(values), register_reads=[(MON, 1000), (MON + 4 * Q, 2000)])
    assert ok.sum_checks[0].passed is True
    bad = validate(series(values), register_reads=[(MON, 1000), (MON + 4 * Q, 2100)])
    assert bad.sum_checks[0].passed is False
    assert bad.quality.tolist() == [10, 10, 10, 10, 0]


# --- estimation -------------------------------------------------------------------------------------------


def test_interpolate_linear_hand_worked() -> None:
    # E_k = E_0 + (E_m - E_0) k / m with m = 4: 100 + 300 x 1/4, 2/4, 3/4
    assert interpolate_linear(100.0, 400.0, 3).tolist() == [175.0, 250.0, 325.0]
    # one interval skipped before a 2-interval gap: m = 2 + 1 + 1 = 4, k = 2, 3: 500 x 2/4, 3/4
    assert interpolate_linear(0.0, 500.0, 2, before_gap=1).tolist() == [250.0, 375.0]
    assert interpolate_linear(1.0, 2.0, 0).size == 0


@pytest.mark.parametrize(
    ("weights", "total", "expected"),
    [
        ([1, 1, 1], 10, [4, 3, 3]),
        ([175, 250, 325], 751, [175, 250, 326]),  # 175.23, 250.33, 325.43: the largest remainder gets 1
        ([0, 0], 5, [3, 2]),
        ([3, 1], 0, [0, 0]),
    ],
)
def test_largest_remainder(weights: list[float], total: int, expected: list[int]) -> None:
    parts = largest_remainder(weights, total)
    assert parts.tolist() == expected
    assert parts.sum() == total


def test_largest_remainder_bad() -> None:
    with pytest.raises(ValueError, match="weights"):
        largest_remainder([1.0, np.nan], 3)
    with pytest.raises(ValueError, match="total_wh"):
        largest_remainder([1.0], -1)


def test_like_day_class() -> None:
    memorial = date(2024, 5, 27)
    holidays = us_federal_holidays(2024)
    assert like_day_class(memorial, holidays=holidays) == 6  # like a Sunday
    assert like_day_class(memorial, holidays=frozenset()) == 0
    assert like_day_class(memorial, holidays=holidays, by="day_type") == 1
    assert like_day_class(date(2024, 5, 28), holidays=holidays, by="day_type") == 0


def test_estimate_linear_interpolation() -> None:
    v = validate(series([100.0, np.nan, np.nan, np.nan, 400.0]))
    e = estimate(v)
    assert e.energy_wh.tolist() == [100, 175, 250, 325, 400]
    assert e.quality.tolist() == [0, 9, 9, 9, 0]
    assert "linear interpolation" in e.reasons[2]


def test_estimate_counter_total_exact() -> None:
    # counters: 1000 at the 100 Wh interval, 2151 at the 400 Wh one: the gap holds 2151 - 400 - 1000 = 751 Wh
    v = validate(
        series([100.0, np.nan, np.nan, np.nan, 400.0], cumulative=[1000, np.nan, np.nan, np.nan, 2151])
    )
    e = estimate(v)
    assert e.energy_wh[1:4].tolist() == [175, 250, 326]
    assert e.energy_wh[1:4].sum() == 751
    assert "counter difference of 751 Wh" in e.reasons[1]


def test_estimate_outage_not_end_point() -> None:
    values = [300.0, 0.0, np.nan, np.nan, 500.0]
    outage = [(MON + Q, MON + 2 * Q)]  # the 0 Wh interval
    # end points 300 (position 0) and 500 (position 4): 300 + 200 x 2/4, 3/4
    assert estimate(validate(series(values), outages=outage)).energy_wh[2:4].tolist() == [400, 450]
    # undeclared, the 0 is an end point: 0 + 500 x 1/3, 2/3 = 166.7, 333.3 → 167, 333
    assert estimate(validate(series(values))).energy_wh[2:4].tolist() == [167, 333]


def test_estimate_negative_replaced() -> None:
    e = estimate(validate(series([100.0, -50.0, 300.0])))
    assert e.energy_wh.tolist() == [100, 200, 300]
    assert e.quality[1] == 9


def _weeks(values_by_day: dict[date, float], first: date, last: date, zone: str = "UTC") -> IntervalSeries:
    """Intervals of local days first..last: the day's value plus 10 Wh per local hour of the start."""
    tz = ZoneInfo(zone)
    lo = int(datetime.combine(first, datetime.min.time(), tz).timestamp())
    hi = int(datetime.combine(last + timedelta(days=1), datetime.min.time(), tz).timestamp())
    ends = np.arange(lo + Q, hi + 1, Q, dtype=np.int64)
    energy = []
    for end in ends.tolist():
        local = datetime.fromtimestamp(end - Q, tz)
        energy.append(values_by_day.get(local.date(), 50.0) + 10.0 * local.hour)
    return IntervalSeries.from_arrays(ends, energy)


def _gap(s: IntervalSeries, lo: int, hi: int) -> IntervalSeries:
    energy = s.energy_wh.copy()
    energy[(s.interval_end > lo) & (s.interval_end <= hi)] = np.nan
    return IntervalSeries.from_arrays(s.interval_end, energy)


def test_estimate_monday_from_previous_four_mondays() -> None:
    mondays = {
        date(2024, 3, 25): 10_000.0,  # the fifth Monday back: not used
        date(2024, 4, 1): 100.0,
        date(2024, 4, 8): 200.0,
        date(2024, 4, 15): 300.0,
        date(2024, 4, 22): 400.0,
        date(2024, 4, 29): 999.0,
    }
    full = _weeks(mondays, date(2024, 3, 25), date(2024, 4, 29))
    gap_lo, gap_hi = MON + 10 * 3600, MON + 13 * 3600  # 10:00-13:00, 12 intervals
    e = estimate(validate(_gap(full, gap_lo, gap_hi)))
    idx = np.flatnonzero((e.interval_end > gap_lo) & (e.interval_end <= gap_hi))
    # mean(100, 200, 300, 400) = 250, plus 10 Wh per hour: 350 at 10:xx, 360 at 11:xx, 370 at 12:xx
    assert e.energy_wh[idx].tolist() == [350] * 4 + [360] * 4 + [370] * 4
    assert (e.quality[idx] == 8).all()


def test_estimate_holiday_like_sunday() -> None:
    days = {date(2024, 5, d): 1000.0 for d in (6, 13, 20)}  # Mondays
    days |= {
        date(2024, 5, 5): 20.0,
        date(2024, 5, 12): 40.0,
        date(2024, 5, 19): 60.0,
        date(2024, 5, 26): 80.0,
    }
    days |= {date(2024, 5, d): 10.0 for d in (4, 11, 18, 25)}  # Saturdays
    full = _weeks(days, date(2024, 4, 1), date(2024, 5, 27))
    memorial = int(datetime(2024, 5, 27, tzinfo=UTC).timestamp())
    lo, hi = memorial + 10 * 3600, memorial + 13 * 3600
    gapped = _gap(full, lo, hi)
    e = estimate(validate(gapped))
    idx = np.flatnonzero((e.interval_end > lo) & (e.interval_end <= hi))
    assert e.energy_wh[idx[0]] == 50 + 100  # mean of the Sundays 20, 40, 60, 80, plus 10 Wh x 10 h
    # by day type, weekend-like: 26 (80), 25 (10), 19 (60), 18 (10) → 40
    e2 = estimate(validate(gapped, config=VeeConfig(like_days_by="day_type")))
    assert e2.energy_wh[idx[0]] == 40 + 100
    # without holidays, Memorial Day is a plain Monday: mean of 6, 13, 20 May (1000) and 29 April (50)
    # = 762.5, + 100 = 862.5 Wh; the gap's 12 halves are rounded by largest remainder, earliest first
    e3 = estimate(validate(gapped), holidays=frozenset())
    assert e3.energy_wh[idx[:4]].tolist() == [863, 863, 863, 863]


def test_estimate_dst_day_uses_local_time() -> None:
    zone = "America/Los_Angeles"
    full = _weeks({}, date(2024, 2, 1), date(2024, 3, 10), zone)
    v_full = validate(full, timezone=zone)
    spring = date(2024, 3, 10).toordinal()
    assert int((v_full.local_day == spring).sum()) == 92  # the spring-forward day
    tz = ZoneInfo(zone)
    lo = int(datetime(2024, 3, 10, 12, tzinfo=tz).timestamp())  # 12:00 PDT = 19:00 UTC
    hi = int(datetime(2024, 3, 10, 15, tzinfo=tz).timestamp())
    e = estimate(validate(_gap(full, lo, hi), timezone=zone), holidays=frozenset())
    idx = np.flatnonzero((e.interval_end > lo) & (e.interval_end <= hi))
    # previous Sundays at 12:00-15:00 local (20:00-23:00 UTC in PST): 50 + 10 x local hour
    assert e.energy_wh[idx].tolist() == [170] * 4 + [180] * 4 + [190] * 4
    # in UTC the like days would be those of 19:00-22:00 UTC, i.e. 11:00-14:00 PST: 160, 170, 180
    e_utc = estimate(validate(_gap(full, lo, hi)), holidays=frozenset())
    assert e_utc.energy_wh[idx].tolist() != e.energy_wh[idx].tolist()


def test_estimate_scaled_to_register_reads() -> None:
    mondays = {date(2024, 4, d): 250.0 for d in (1, 8, 15, 22)}
    full = _weeks(mondays, date(2024, 3, 25), date(2024, 4, 29))
    gap_lo, gap_hi = MON + 10 * 3600, MON + 13 * 3600
    gapped = _gap(full, gap_lo, gap_hi)
    read_lo, read_hi = gap_lo - 3600, gap_hi + 3600
    known = full.energy_wh[
        ((full.interval_end > read_lo) & (full.interval_end <= gap_lo))
        | ((full.interval_end > gap_hi) & (full.interval_end <= read_hi))
    ].sum()
    # like days give 350, 360, 370 x 4 = 4320 Wh; the registers say the gap held 5184 Wh (x 1.2)
    reads = [(read_lo, 10_000), (read_hi, 10_000 + int(known) + 5184)]
    e = estimate(validate(gapped, register_reads=reads))
    idx = np.flatnonzero((e.interval_end > gap_lo) & (e.interval_end <= gap_hi))
    assert e.energy_wh[idx].tolist() == [420] * 4 + [432] * 4 + [444] * 4
    assert e.energy_wh[idx].sum() == 5184
    assert "register difference" in e.reasons[int(idx[0])]
    unscaled = estimate(validate(gapped, register_reads=reads, config=VeeConfig(scale_to_registers=False)))
    assert unscaled.energy_wh[idx].sum() == 4320


def test_estimate_long_gap_without_history_stays_missing() -> None:
    e = estimate(validate(series([100.0] + [np.nan] * 20 + [100.0])))
    assert len(e.unestimated) == 20
    assert (e.quality[1:21] == 14).all()


def test_estimate_long_gap_with_counters_split_evenly() -> None:
    values = [100.0] + [np.nan] * 10 + [100.0]
    cumulative = [1000.0] + [np.nan] * 10 + [1000.0 + 1003 + 100]
    e = estimate(validate(series(values, cumulative=cumulative)))
    assert e.energy_wh[1:11].tolist() == [101, 101, 101] + [100] * 7
    assert (e.quality[1:11] == 9).all()


# --- the store --------------------------------------------------------------------------------------------


def _utc(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _raw(store: Store, meter_id: int, values: list[float | None], t0: int = MON) -> None:
    rows = [(_utc(t0 + Q * (i + 1)), int(v)) for i, v in enumerate(values) if v is not None]
    store.insert_raw_intervals(meter_id=meter_id, rows=rows, source="test")


def test_run_vee_estimates_audits_and_is_idempotent(store: Store) -> None:
    meter = add_meter(store)
    _raw(store, meter.id, [100, None, None, None, 400, 500, 500, 500, 20_000, 500])
    raw_before = store.raw_intervals(
        meter_id=meter.id, start=_utc(MON), end=_utc(MON + 10 * Q), all_revisions=True
    )
    report = run_vee(store, meter_id=meter.id, start=_utc(MON), end=_utc(MON + 10 * Q))
    assert (report.interpolated, report.questionable, report.valid, report.missing) == (3, 1, 6, 0)
    assert report.changed == 4  # three estimates and one flag; valid intervals stay raw only
    rows = {
        r.interval_end: (r.energy_wh, r.quality)
        for r in store.validated_intervals(meter_id=meter.id, start=_utc(MON), end=_utc(MON + 10 * Q))
    }
    assert [rows[_utc(MON + k * Q)] for k in (2, 3, 4)] == [(175, 9), (250, 9), (325, 9)]
    assert rows[_utc(MON + 9 * Q)] == (20_000, 10)
    edits = store.interval_edits(meter_id=meter.id, start=_utc(MON), end=_utc(MON + 10 * Q))
    assert [(e.old_energy_wh, e.new_energy_wh, e.new_quality, e.edited_by) for e in edits] == [
        (None, 175, 9, "vee"),
        (None, 250, 9, "vee"),
        (None, 325, 9, "vee"),
    ]
    assert "linear interpolation" in edits[0].reason
    # raw data untouched
    assert (
        store.raw_intervals(meter_id=meter.id, start=_utc(MON), end=_utc(MON + 10 * Q), all_revisions=True)
        == raw_before
    )
    again = run_vee(store, meter_id=meter.id, start=_utc(MON), end=_utc(MON + 10 * Q))
    assert again.changed == 0
    assert len(store.interval_edits(meter_id=meter.id, start=_utc(MON), end=_utc(MON + 10 * Q))) == 3
    merged = store.interval_view(meter_id=meter.id, start=_utc(MON), end=_utc(MON + 10 * Q)).rows()
    assert [(e, q) for _, e, q in merged] == [
        (100, 0),
        (175, 9),
        (250, 9),
        (325, 9),
        (400, 0),
        (500, 0),
        (500, 0),
        (500, 0),
        (20_000, 10),
        (500, 0),
    ]


def test_run_vee_late_data_replaces_estimate(store: Store) -> None:
    meter = add_meter(store)
    _raw(store, meter.id, [100, None, 300])
    window: dict[str, Any] = {"meter_id": meter.id, "start": _utc(MON), "end": _utc(MON + 3 * Q)}
    run_vee(store, **window)
    _raw(store, meter.id, [None, 210, None])  # the missing interval arrives late
    report = run_vee(store, **window)
    assert report.changed == 1
    (row,) = store.validated_intervals(meter_id=meter.id, start=_utc(MON + Q), end=_utc(MON + 2 * Q))
    assert (row.energy_wh, row.quality) == (210, 0)
    last = store.interval_edits(meter_id=meter.id, start=_utc(MON), end=_utc(MON + 3 * Q))[-1]
    assert (last.old_energy_wh, last.old_quality, last.new_energy_wh, last.new_quality) == (200, 9, 210, 0)


def test_run_vee_keeps_human_edits(store: Store) -> None:
    meter = add_meter(store)
    _raw(store, meter.id, [100, None, 300])
    window: dict[str, Any] = {"meter_id": meter.id, "start": _utc(MON), "end": _utc(MON + 3 * Q)}
    run_vee(store, **window)
    assert (
        edit_intervals(
            store, meter_id=meter.id, rows=[(_utc(MON + 2 * Q), 150)], edited_by="alice", reason="site visit"
        )
        == 1
    )
    report = run_vee(store, **window)
    assert report.kept_edits == 1
    assert report.changed == 0
    (row,) = store.validated_intervals(meter_id=meter.id, start=_utc(MON + Q), end=_utc(MON + 2 * Q))
    assert (row.energy_wh, row.quality) == (150, 7)
    last = store.interval_edits(meter_id=meter.id, start=_utc(MON), end=_utc(MON + 3 * Q))[-1]
    assert (last.edited_by, last.reason, last.old_energy_wh) == ("alice", "site visit", 200)


def test_run_vee_outage_events(store: Store) -> None:
    meter = add_meter(store)
    values: list[float | None] = [*([100.0] * 4), *([0.0] * 20), *([100.0] * 4)]
    _raw(store, meter.id, values)
    window: dict[str, Any] = {"meter_id": meter.id, "start": _utc(MON), "end": _utc(MON + 28 * Q)}
    assert run_vee(store, **window).questionable == 20
    store.add_event(kind="power_down", at=_utc(MON + 4 * Q), meter_id=meter.id)
    store.add_event(kind="power_up", at=_utc(MON + 24 * Q), meter_id=meter.id)
    report = run_vee(store, **window)
    assert report.questionable == 0
    rows = store.validated_intervals(meter_id=meter.id, start=_utc(MON), end=_utc(MON + 28 * Q))
    assert {r.quality for r in rows} == {0}  # the flags were withdrawn, audited


def test_run_vee_store_valid_intervals(store: Store) -> None:
    meter = add_meter(store)
    _raw(store, meter.id, [100, 200, 300])
    report = run_vee(
        store,
        meter_id=meter.id,
        start=_utc(MON),
        end=_utc(MON + 3 * Q),
        config=VeeConfig(store_valid_intervals=True),
    )
    assert report.changed == 3
    assert store.interval_edits(meter_id=meter.id, start=_utc(MON), end=_utc(MON + 3 * Q)) == []


def test_run_vee_bad_arguments(store: Store) -> None:
    with pytest.raises(ValueError, match="meter_id"):
        run_vee(store, meter_id=99, start=_utc(MON), end=_utc(MON + Q))
    meter = add_meter(store)
    with pytest.raises(ValueError, match="start"):
        run_vee(store, meter_id=meter.id, start=_utc(MON + 7), end=_utc(MON + Q))
