"""Tests of the MDT battery model: charge per state, life left, low flag, power from the meter."""

from __future__ import annotations

import math

import numpy as np
import pytest

from meshmeter.amr.battery import SECONDS_PER_YEAR, Battery, BatteryConfig, DrawState, charge_mah

# a cell without self-discharge, so that the hand-worked numbers are exact
NO_SD = BatteryConfig(self_discharge_per_year=0.0)


@pytest.mark.parametrize(
    ("current_ma", "duration_s", "expected_mah"),
    [
        (10.0, 3600.0, 10.0),  # 10 mA for 1 h = 10 mAh
        (28.0, 0.01, 28.0 * 0.01 / 3600),  # a 10 ms transmission
        (0.003, SECONDS_PER_YEAR, 0.003 * 8766.0),  # 3 µA for a year: 26.3 mAh
        (0.0, 1e9, 0.0),
        (5.0, 0.0, 0.0),
    ],
)
def test_charge_hand_worked(current_ma: float, duration_s: float, expected_mah: float) -> None:
    assert charge_mah(current_ma, duration_s) == pytest.approx(expected_mah)


def test_charge_vector() -> None:
    np.testing.assert_allclose(charge_mah(np.array([1.0, 2.0]), 1800.0), [0.5, 1.0])


@pytest.mark.parametrize(
    ("current", "duration", "name"),
    [
        (-1.0, 1.0, "current_ma"),
        (np.nan, 1.0, "current_ma"),
        (1.0, -1.0, "duration_s"),
        (1.0, np.inf, "duration_s"),
    ],
)
def test_charge_refuses_bad_input(current: float, duration: float, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        charge_mah(current, duration)


def test_default_config_is_an_aa_lithium_thionyl_chloride_cell() -> None:
    c = BatteryConfig()
    assert c.capacity_mah == 2600.0
    assert c.voltage_v == 3.6
    assert c.current_ma("off") < c.current_ma("sleep") < c.current_ma("rx") < c.current_ma("tx")
    # 1 %/year of 2600 mAh = 26 mAh over 8766 h = 2.966 µA
    assert c.self_discharge_ma == pytest.approx(0.002966, abs=1e-6)
    # meter +12 VDC @ 10 mA through an 85 % converter onto 3.6 V: 28.33 mA
    assert c.external_max_ma == pytest.approx(28.333, abs=1e-3)


@pytest.mark.parametrize(
    ("state", "current_ma"),
    [
        (DrawState.OFF, 0.0005),
        ("sleep", 0.003),
        ("light_sleep", 0.003),
        ("rx", 8.0),
        (DrawState.TX, 28.0),
        ("led", 3.0),
    ],
)
def test_one_hour_in_each_state(state: DrawState | str, current_ma: float) -> None:
    b = Battery(NO_SD)
    b.spend(state, 3600.0)
    assert b.used_mah == pytest.approx(current_ma)
    assert b.by_state()[DrawState(state).value] == pytest.approx(current_ma)
    assert b.time_by_state()[DrawState(state).value] == 3600.0


def test_spends_accumulate_per_state() -> None:
    b = Battery(NO_SD)
    b.spend("tx", 1800.0)
    b.spend("rx", 3600.0)
    b.spend("tx", 1800.0)
    assert b.by_state()["tx"] == pytest.approx(28.0)
    assert b.by_state()["rx"] == pytest.approx(8.0)
    assert b.used_mah == pytest.approx(36.0)
    assert b.remaining_mah == pytest.approx(2564.0)
    assert b.fraction_left == pytest.approx(2564.0 / 2600.0)
    assert b.elapsed_s == 7200.0
    assert b.average_current_ma() == pytest.approx(18.0)  # 36 mAh over 2 h


def test_self_discharge_over_a_year_off() -> None:
    b = Battery()
    b.spend("off", SECONDS_PER_YEAR)
    # 1 % of 2600 mAh plus 0.5 µA for 8766 h
    assert b.self_discharge_mah == pytest.approx(26.0)
    assert b.used_mah == pytest.approx(26.0 + 0.0005 * 8766.0)


def test_led_adds_current_but_not_time() -> None:
    b = Battery()
    b.spend("rx", 10.0)
    b.spend("led", 10.0)  # lit while receiving
    assert b.elapsed_s == 10.0
    assert b.self_discharge_mah == pytest.approx(b.config.self_discharge_ma * 10 / 3600)


@pytest.mark.parametrize(
    ("average_ma", "expected_h"),
    [(1.0, 2600.0), (0.01, 260_000.0), (26.0, 100.0)],
)
def test_life_left_at_a_given_average_current(average_ma: float, expected_h: float) -> None:
    assert Battery(NO_SD).life_left_s(average_ma) == pytest.approx(expected_h * 3600.0)


def test_life_left_adds_self_discharge() -> None:
    b = Battery()
    sd = b.config.self_discharge_ma
    assert b.life_left_s(1.0) == pytest.approx(2600.0 / (1.0 + sd) * 3600.0)
    assert b.life_left_s(0.0) == pytest.approx(2600.0 / sd * 3600.0)  # ~100 years on shelf


def test_life_left_at_the_average_so_far() -> None:
    b = Battery(NO_SD)
    b.spend("rx", 3600.0)  # 8 mAh in 1 h
    b.spend("sleep", 3600.0)  # 0.003 mAh in 1 h
    average = (8.0 + 0.003) / 2.0
    assert b.average_current_ma() == pytest.approx(average)
    assert b.life_left_s() == pytest.approx((2600.0 - 8.003) / average * 3600.0)


def test_life_left_infinite_without_drain() -> None:
    assert Battery(NO_SD).life_left_s() == math.inf
    assert Battery(NO_SD).life_left_s(0.0) == math.inf


def test_low_flag_crosses_at_the_threshold() -> None:
    config = BatteryConfig(capacity_mah=100.0, self_discharge_per_year=0.0, rx_ma=10.0, low_fraction=0.10)
    b = Battery(config)
    lows = []
    b.spend("rx", 8.9 * 3600.0)  # 89 mAh: 11 % left
    lows.append(b.low)
    b.spend("rx", 0.1 * 3600.0)  # 90 mAh: 10 % left, not below
    assert b.fraction_left == pytest.approx(0.10)
    lows.append(b.low)
    b.spend("rx", 0.1 * 3600.0)  # 91 mAh: 9 % left
    lows.append(b.low)
    assert lows == [False, False, True]
    assert not b.empty


def test_empty_cell_stays_at_zero() -> None:
    b = Battery(BatteryConfig(capacity_mah=1.0, self_discharge_per_year=0.0))
    b.spend("tx", 3600.0)  # 28 mAh from a 1 mAh cell
    assert b.remaining_mah == 0.0
    assert b.fraction_left == 0.0
    assert b.empty
    assert b.low
    assert b.life_left_s(1.0) == 0.0


def test_initial_used_charge() -> None:
    b = Battery(NO_SD, used_mah=2500.0)
    assert b.remaining_mah == pytest.approx(100.0)
    assert b.average_current_ma() == 0.0
    b.spend("rx", 3600.0)
    assert b.average_current_ma() == pytest.approx(8.0)
    with pytest.raises(ValueError, match="used_mah"):
        Battery(NO_SD, used_mah=-1.0)


def test_external_power_spends_nothing_from_the_battery() -> None:
    b = Battery(NO_SD)
    for state in ("tx", "rx", "sleep", "led"):
        b.spend(state, 3600.0, external_power=True)
    assert b.used_mah == 0.0
    assert all(q == 0.0 for q in b.by_state().values())
    assert b.external_mah == pytest.approx(28.0 + 8.0 + 0.003 + 3.0)
    assert b.remaining_mah == 2600.0


def test_external_power_still_self_discharges() -> None:
    b = Battery()
    b.spend("sleep", SECONDS_PER_YEAR, external_power=True)
    assert b.by_state()["sleep"] == 0.0
    assert b.used_mah == pytest.approx(26.0)


def test_weak_external_supply_leaves_the_excess_to_the_battery() -> None:
    # 12 V x 5 mA x 0.85 / 3.6 V = 14.17 mA available; TX 28 mA -> 13.83 mA from the cell
    config = BatteryConfig(self_discharge_per_year=0.0, external_supply_max_ma=5.0)
    b = Battery(config)
    b.spend("tx", 3600.0, external_power=True)
    assert b.by_state()["tx"] == pytest.approx(28.0 - 12.0 * 5.0 * 0.85 / 3.6)
    assert b.external_mah == pytest.approx(12.0 * 5.0 * 0.85 / 3.6)


@pytest.mark.parametrize(
    ("state", "duration", "kwargs", "name"),
    [
        ("transmit", 1.0, {}, "state"),
        (3, 1.0, {}, "state"),
        ("tx", -1.0, {}, "duration_s"),
        ("tx", float("nan"), {}, "duration_s"),
        ("tx", float("inf"), {}, "duration_s"),
        ("tx", "10", {}, "duration_s"),
        ("tx", True, {}, "duration_s"),
        ("tx", 1.0, {"external_power": "yes"}, "external_power"),
    ],
)
def test_bad_spend_is_refused_and_changes_nothing(
    state: object, duration: object, kwargs: dict[str, object], name: str
) -> None:
    b = Battery()
    b.spend("rx", 100.0)
    before = (b.used_mah, b.by_state(), b.time_by_state(), b.elapsed_s, b.external_mah, b.self_discharge_mah)
    with pytest.raises(ValueError, match=name):
        b.spend(state, duration, **kwargs)  # type: ignore[arg-type]
    after = (b.used_mah, b.by_state(), b.time_by_state(), b.elapsed_s, b.external_mah, b.self_discharge_mah)
    assert after == before


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), True])
def test_life_left_refuses_bad_current(bad: float) -> None:
    with pytest.raises(ValueError, match="average_current_ma"):
        Battery().life_left_s(bad)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"capacity_mah": 0.0}, "capacity_mah"),
        ({"tx_ma": -1.0}, "tx_ma"),
        ({"low_fraction": 1.5}, "low_fraction"),
        ({"converter_efficiency": 1.2}, "converter_efficiency"),
        ({"sleep_ua": float("nan")}, "sleep_ua"),
    ],
)
def test_config_refuses_bad_values(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        BatteryConfig(**kwargs)


def test_a_joined_mdt_reporting_every_15_minutes_lasts_for_years() -> None:
    # per report: 10 ms TX and 30 ms RX (CSMA and the acknowledgement), asleep the rest of the 900 s
    b = Battery()
    day_reports = 96
    for _ in range(day_reports):
        b.spend("tx", 0.010)
        b.spend("rx", 0.030)
        b.spend("sleep", 900.0 - 0.040)
    # (28 x 0.01 + 8 x 0.03) mAs / 900 s = 0.58 µA, + 3 µA asleep, + 2.97 µA self-discharge: ~6.5 µA
    assert b.average_current_ma() == pytest.approx(0.00655, abs=0.0001)
    assert b.life_left_s() / SECONDS_PER_YEAR > 10.0
