"""Tests of meshmeter.catalog.ratings: the ratings (manual §3.1, certificate p.1-2) and IEEE C57.13."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest

from meshmeter.catalog import (
    C57_13_ACCURACY_CLASSES,
    CT_ACCURACY_CLASS_0_3,
    MINI_METER_RATINGS,
    C5713Limits,
    Ratings,
    accuracy_tolerance_percent,
    c57_13_limits,
    check_current_primary,
    check_frequency,
    check_in_rating,
    check_power_factor,
    check_supply_voltage,
    check_temperature,
    transformer_correction_factor,
    within_c57_13,
)
from meshmeter.errors import MeshmeterError, RatingError

# --------------------------------------------------------------------------------------
# The ratings as data: every number of the spec, read from the spec's words
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("supply_min_v", 102.0),  # manual §3.1 "Min. 102 VAC"
        ("supply_max_v", 138.0),  # manual §3.1 "Max. 138 VAC"
        ("nominal_voltage_ln_v", 120.0),  # certificate p.1 "L1 to Neutral is 120 VAC"
        ("voltage_ll_v", (208.0, 240.0)),  # certificate p.1 "L1 to L2 is 208/240 VAC"
        ("frequency_min_hz", 50.0),  # manual §3.1 "50-60 Hz"
        ("frequency_max_hz", 60.0),
        ("frequency_tolerance_hz", 2.0),
        ("pf_min", 0.5),  # manual §3.1 "0.5 to 1.0, leading or lagging"
        ("class_current_a", 200.0),  # certificate p.1 "Class: 200"
        ("max_current_primary_a", 220.0),  # manual §3.1 "220 A primary for 200 A models"
        ("max_current_secondary_a", 0.11),  # manual §3.1 "0.11 A secondary"
        ("test_amperes_a", 30.0),  # certificate p.1 "TA: 30 Amps"
        ("max_input_power_va", 8.0),  # manual §3.1 "8 VA"
        ("operating_temperature_min_c", -30.0),  # manual §3.1 "-30 to +70 degrees C"
        ("operating_temperature_max_c", 70.0),
        ("accuracy_percent_pf_1", 0.5),  # manual §3.1 "+/- 0.5% ... @ 1.0pf"
        ("accuracy_percent_pf_05", 0.75),  # manual §3.1 "+/- 0.75% ... @ 0.5pf"
        ("accuracy_min_current_a", 2.0),  # manual §3.1 "2 to 200 A"
        ("accuracy_max_current_a", 200.0),
        ("load_led_kt_wh", 10.0),  # certificate p.2 "Kt of 10"
        ("pulse_output_kh_wh", (10, 100, 1000)),  # manual §3.2 Table 2B
        ("rated_pollution_degree", 2),  # manual §3.1
        ("rated_relative_humidity_percent", 80.0),  # manual §3.1
    ],
)
def test_mini_meter_ratings(name, expected):
    assert getattr(MINI_METER_RATINGS, name) == expected


def test_ratings_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        MINI_METER_RATINGS.supply_max_v = 240.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"supply_min_v": 140.0}, "supply_min_v"),
        ({"frequency_min_hz": 61.0}, "frequency_min_hz"),
        ({"pf_min": 0.0}, "pf_min"),
        ({"frequency_tolerance_hz": -1.0}, "frequency_tolerance_hz"),
    ],
)
def test_ratings_refuse_inconsistent(changes, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(MINI_METER_RATINGS, **changes)


# --------------------------------------------------------------------------------------
# Accuracy tolerance
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pf", "expected"),
    [
        (1.0, 0.5),  # manual §3.1
        (0.5, 0.75),  # manual §3.1
        (0.75, 0.625),  # midway, linear in PF: 0.5 + 0.5 * 0.25
        (0.9, 0.55),  # 0.5 + (0.1 / 0.5) * 0.25
        (np.float64(0.5), 0.75),
        (1, 0.5),
    ],
)
def test_accuracy_tolerance_percent(pf, expected):
    assert accuracy_tolerance_percent(pf) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("pf", [0.3, 0.4999, 1.0001, -1.0, math.nan, math.inf])
def test_accuracy_tolerance_percent_refuses(pf):
    with pytest.raises(ValueError, match=r"pf = .* outside the allowed range \[0\.5, 1\.0\]"):
        accuracy_tolerance_percent(pf)


def test_accuracy_tolerance_percent_uses_given_ratings():
    ratings = dataclasses.replace(MINI_METER_RATINGS, accuracy_percent_pf_1=1.0, accuracy_percent_pf_05=2.0)
    assert accuracy_tolerance_percent(0.75, ratings) == pytest.approx(1.5)


def test_accuracy_tolerance_percent_monotonic():
    pfs = np.linspace(0.5, 1.0, 51)
    tolerances = [accuracy_tolerance_percent(float(pf)) for pf in pfs]
    assert all(a >= b for a, b in itertools.pairwise(tolerances))


# --------------------------------------------------------------------------------------
# Rating checks
# --------------------------------------------------------------------------------------


def test_check_in_rating_returns_float():
    result = check_in_rating("x_v", 5, 0.0, 10.0)
    assert result == 5.0
    assert type(result) is float


@pytest.mark.parametrize("value", [0.0, 10.0, 5.5, np.float64(3.0)])
def test_check_in_rating_bounds_included(value):
    assert check_in_rating("x_v", value, 0.0, 10.0) == float(value)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (-0.1, r"x_v = -0\.1 is outside the allowed range \[0\.0, 10\.0\]"),
        (10.1, r"x_v = 10\.1 is outside the allowed range \[0\.0, 10\.0\]"),
        (math.nan, r"x_v = nan is outside"),
        (math.inf, r"x_v = inf is outside"),
        (-math.inf, r"x_v = -inf is outside"),
        ("5", r"x_v must be a real number"),
        (None, r"x_v must be a real number"),
        (True, r"x_v must be a real number"),
    ],
)
def test_check_in_rating_refuses(value, match):
    with pytest.raises(RatingError, match=match):
        check_in_rating("x_v", value, 0.0, 10.0)


def test_check_in_rating_quotes_clause():
    with pytest.raises(RatingError, match=r"\(manual §3\.1\)"):
        check_in_rating("x_v", 11.0, 0.0, 10.0, clause="manual §3.1")


def test_check_in_rating_refuses_reversed_range():
    with pytest.raises(ValueError, match="low"):
        check_in_rating("x_v", 1.0, 10.0, 0.0)


def test_rating_error_is_value_error_and_meshmeter_error():
    with pytest.raises(RatingError) as info:
        check_supply_voltage(200.0)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, MeshmeterError)


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (check_supply_voltage, 102.0),
        (check_supply_voltage, 138.0),
        (check_supply_voltage, 120.0),
        (check_frequency, 50.0),
        (check_frequency, 60.0),
        (check_frequency, 48.0),  # 50 Hz - 2 Hz tolerance
        (check_frequency, 62.0),  # 60 Hz + 2 Hz tolerance
        (check_frequency, 59.95),
        (check_power_factor, 0.5),
        (check_power_factor, 1.0),
        (check_current_primary, 0.0),
        (check_current_primary, 200.0),
        (check_current_primary, 220.0),
        (check_temperature, -30.0),
        (check_temperature, 70.0),
        (check_temperature, 25.0),
    ],
)
def test_checks_accept(check, value):
    assert check(value) == value


@pytest.mark.parametrize(
    ("check", "value", "match"),
    [
        (check_supply_voltage, 101.9, r"voltage_v = 101\.9 .*\[102\.0, 138\.0\]"),
        (check_supply_voltage, 138.1, r"voltage_v = 138\.1 .*\[102\.0, 138\.0\]"),
        (check_supply_voltage, 240.0, r"voltage_v = 240\.0"),
        (check_supply_voltage, math.nan, r"voltage_v = nan"),
        (check_frequency, 47.9, r"frequency_hz = 47\.9 .*\[48\.0, 62\.0\]"),
        (check_frequency, 62.1, r"frequency_hz = 62\.1 .*\[48\.0, 62\.0\]"),
        (check_frequency, 400.0, r"frequency_hz = 400\.0"),
        (check_frequency, math.inf, r"frequency_hz = inf"),
        (check_power_factor, 0.49, r"pf = 0\.49 .*\[0\.5, 1\.0\]"),
        (check_power_factor, 1.01, r"pf = 1\.01"),
        (check_power_factor, math.nan, r"pf = nan"),
        (check_current_primary, 220.1, r"current_a = 220\.1 .*\[0\.0, 220\.0\]"),
        (check_current_primary, -1.0, r"current_a = -1\.0"),
        (check_current_primary, math.nan, r"current_a = nan"),
        (check_temperature, -30.1, r"temperature_c = -30\.1 .*\[-30\.0, 70\.0\]"),
        (check_temperature, 70.1, r"temperature_c = 70\.1"),
        (check_temperature, -math.inf, r"temperature_c = -inf"),
    ],
)
def test_checks_refuse(check, value, match):
    with pytest.raises(RatingError, match=match):
        check(value)


def test_checks_use_given_ratings():
    ratings = dataclasses.replace(MINI_METER_RATINGS, supply_max_v=277.0)
    assert check_supply_voltage(240.0, ratings=ratings) == 240.0


# --------------------------------------------------------------------------------------
# IEEE C57.13
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accuracy_class", "percent", "low", "high"),
    [
        (0.3, 100.0, 0.997, 1.003),  # 1 ± 0.3/100
        (0.3, 10.0, 0.994, 1.006),  # 1 ± 2·0.3/100
        (0.3, 200.0, 0.997, 1.003),  # above 100 % (up to the rating factor): 100 % limits
        (0.3, 50.0, 0.994, 1.006),  # between 10 and 100 %: the 10 % limits
        (0.3, 99.9, 0.994, 1.006),
        (0.3, 5.0, 0.994, 1.006),  # below 10 %: the standard is silent; 10 % limits returned
        (0.3, 0.0, 0.994, 1.006),
        (0.15, 100.0, 0.9985, 1.0015),
        (0.15, 10.0, 0.997, 1.003),
        (0.6, 100.0, 0.994, 1.006),
        (0.6, 10.0, 0.988, 1.012),
        (1.2, 100.0, 0.988, 1.012),
        (1.2, 10.0, 0.976, 1.024),
    ],
)
def test_c57_13_limits(accuracy_class, percent, low, high):
    limits = c57_13_limits(accuracy_class, percent)
    assert limits == C5713Limits(
        accuracy_class=accuracy_class,
        percent_rated_current=percent,
        rcf_min=low,
        rcf_max=high,
        tcf_min=low,
        tcf_max=high,
    )


def test_c57_13_classes():
    assert C57_13_ACCURACY_CLASSES == (0.15, 0.3, 0.6, 1.2)


def test_ct_accuracy_class_0_3():
    assert set(CT_ACCURACY_CLASS_0_3) == {100.0, 10.0}
    assert (CT_ACCURACY_CLASS_0_3[100.0].rcf_min, CT_ACCURACY_CLASS_0_3[100.0].rcf_max) == (0.997, 1.003)
    assert (CT_ACCURACY_CLASS_0_3[10.0].tcf_min, CT_ACCURACY_CLASS_0_3[10.0].tcf_max) == (0.994, 1.006)
    with pytest.raises(TypeError):
        CT_ACCURACY_CLASS_0_3[50.0] = CT_ACCURACY_CLASS_0_3[10.0]  # type: ignore[index]


@pytest.mark.parametrize("accuracy_class", [0.5, 0.2, 0.0, 2.4, math.nan, "0.3", True])
def test_c57_13_limits_refuses_class(accuracy_class):
    with pytest.raises(ValueError, match=r"accuracy_class .*0\.15, 0\.3, 0\.6, 1\.2"):
        c57_13_limits(accuracy_class, 100.0)


@pytest.mark.parametrize("percent", [-1.0, math.nan, math.inf])
def test_c57_13_limits_refuses_percent(percent):
    with pytest.raises(ValueError, match="percent_rated_current"):
        c57_13_limits(0.3, percent)


@pytest.mark.parametrize(
    ("rcf", "beta_min", "expected"),
    [
        (1.0, 0.0, 1.0),
        (1.0, 2.6, 1.001),  # 2.6 / 2600 = 0.001
        (0.999, -5.2, 0.997),  # secondary lags: TCF below RCF
        (1.002, 13.0, 1.007),
    ],
)
def test_transformer_correction_factor(rcf, beta_min, expected):
    assert transformer_correction_factor(rcf, beta_min) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("rcf", "beta_min"), [(math.nan, 0.0), (1.0, math.inf), (None, 0.0)])
def test_transformer_correction_factor_refuses(rcf, beta_min):
    with pytest.raises(ValueError, match=r"rcf|phase_displacement_min"):
        transformer_correction_factor(rcf, beta_min)


@pytest.mark.parametrize(
    ("rcf", "beta_min", "percent", "expected"),
    [
        (1.0, 0.0, 100.0, True),  # a perfect CT
        (0.997, 0.0, 100.0, True),  # RCF on its lower bound
        (1.003, 0.0, 100.0, True),  # RCF on its upper bound
        (0.9969, 0.0, 100.0, False),  # RCF just outside
        (1.0031, 0.0, 100.0, False),
        (1.0, 7.8, 100.0, True),  # TCF = 1 + 7.8/2600 = 1.003, on the bound
        (1.0, 7.9, 100.0, False),  # TCF = 1.00304 > 1.003
        (1.0, -7.8, 100.0, True),  # TCF = 0.997
        (1.0, -7.9, 100.0, False),
        (1.003, 1.0, 100.0, False),  # corner of the parallelogram: TCF > 1.003
        (0.997, 15.6, 100.0, True),  # opposite corner: TCF = 0.997 + 0.006 = 1.003
        (0.997, 15.7, 100.0, False),
        (1.005, 0.0, 100.0, False),
        (1.005, 0.0, 10.0, True),  # within 1.006 at 10 %
        (1.0, 15.6, 10.0, True),  # TCF = 1.006 at 10 %
        (1.0, 15.7, 10.0, False),
    ],
)
def test_within_c57_13_class_0_3(rcf, beta_min, percent, expected):
    assert within_c57_13(rcf, beta_min, 0.3, percent) is expected


def test_within_c57_13_refuses_bad_class():
    with pytest.raises(ValueError, match="accuracy_class"):
        within_c57_13(1.0, 0.0, 0.5, 100.0)


@pytest.mark.parametrize(("rcf", "beta_min"), [(math.nan, 0.0), (1.0, math.nan)])
def test_within_c57_13_refuses_nan(rcf, beta_min):
    with pytest.raises(ValueError, match=r"rcf|phase_displacement_min"):
        within_c57_13(rcf, beta_min, 0.3, 100.0)


def test_ratings_type():
    assert isinstance(MINI_METER_RATINGS, Ratings)
