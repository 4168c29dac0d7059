"""Tests of meshmeter.amr.led: power-up, ON/OFF button and LED of an MDT (manual §5.2)."""

from __future__ import annotations

import pytest

from meshmeter.amr.led import (
    DOUBLE_FLASH_S,
    SINGLE_FLASH_S,
    SOLID_S,
    ButtonAction,
    DeviceLed,
    LedPattern,
    PowerState,
)

T0 = 1_700_000_100.0  # network time of the first event [s]
HOLD = 4.0  # "about four seconds" [s]
QUICK = 0.2  # a quick press [s]


def _on(t: float = T0, **kwargs: float) -> DeviceLed:
    led = DeviceLed(t, **kwargs)
    assert led.hold_button(t, HOLD) is ButtonAction.TURNED_ON
    return led


# --------------------------------------------------------------------------- power-up (manual §5.2)


def test_starts_off_and_dark():
    led = DeviceLed(T0)
    assert led.state is PowerState.OFF
    assert led.pattern is LedPattern.OFF
    assert led.next_deadline() is None
    assert led.states == []
    assert led.patterns == []


def test_hold_about_four_seconds_turns_on_with_slow_flash():
    led = _on()
    assert led.state is PowerState.SEARCHING
    assert led.pattern is LedPattern.SLOW_FLASH
    assert led.states == [(T0, PowerState.SEARCHING)]
    assert led.patterns == [(T0, LedPattern.SLOW_FLASH)]


def test_manual_power_up_sequence_slow_rapid_solid_off():
    # "After about 30 seconds the LED flash frequency will change from slow to fast. After another
    # 30 seconds, the LED will stay solid for 10 seconds then turn off" (manual §5.2)
    led = _on()
    assert led.beacon_heard(T0 + 30.0)
    assert led.pattern is LedPattern.RAPID_FLASH
    assert led.state is PowerState.JOINING
    assert led.joined(T0 + 60.0)
    assert led.state is PowerState.CONNECTED
    assert led.pattern is LedPattern.SOLID
    assert led.next_deadline() == T0 + 70.0
    led.advance(T0 + 100.0)
    assert led.pattern is LedPattern.OFF
    assert led.state is PowerState.CONNECTED
    assert led.patterns == [
        (T0, LedPattern.SLOW_FLASH),
        (T0 + 30.0, LedPattern.RAPID_FLASH),
        (T0 + 60.0, LedPattern.SOLID),
        (T0 + 70.0, LedPattern.OFF),
    ]
    assert led.pattern_at(T0 + 69.999) is LedPattern.SOLID
    assert led.pattern_at(T0 + 70.0) is LedPattern.OFF
    assert led.state_at(T0 + 45.0) is PowerState.JOINING
    assert led.state_at(T0 - 1.0) is PowerState.OFF
    assert led.next_deadline() is None


def test_solid_lasts_exactly_ten_seconds():
    led = _on()
    led.joined(T0 + 5.0)
    led.advance(T0 + 5.0 + SOLID_S - 1e-6)
    assert led.pattern is LedPattern.SOLID
    led.advance(T0 + 5.0 + SOLID_S)
    assert led.pattern is LedPattern.OFF


def test_no_network_slow_flash_90_s_then_light_sleep_then_search_again():
    # "the device will continue to flash slowly for 90 seconds then return to sleep mode for some
    # time before trying to connect to a signal again" (manual §5.2)
    led = _on(sleep_initial_s=300.0, sleep_max_s=3600.0)
    assert led.next_deadline() == T0 + 90.0
    led.advance(T0 + 89.999)
    assert led.state is PowerState.SEARCHING
    led.advance(T0 + 90.0)
    assert led.state is PowerState.LIGHT_SLEEP
    assert led.pattern is LedPattern.OFF
    assert led.sleep_s == 300.0
    assert led.next_deadline() == T0 + 390.0
    led.advance(T0 + 390.0)
    assert led.state is PowerState.SEARCHING
    assert led.pattern is LedPattern.SLOW_FLASH
    assert led.states == [
        (T0, PowerState.SEARCHING),
        (T0 + 90.0, PowerState.LIGHT_SLEEP),
        (T0 + 390.0, PowerState.SEARCHING),
    ]


def test_back_off_doubles_to_its_cap_and_resets_on_join():
    led = _on(sleep_initial_s=300.0, sleep_max_s=1000.0)
    sleeps = []
    for _ in range(4):
        deadline = led.next_deadline()
        assert deadline is not None
        led.advance(deadline)  # end of the search: sleep
        sleeps.append(led.sleep_s)
        deadline = led.next_deadline()
        assert deadline is not None
        led.advance(deadline)  # end of the sleep: search again
    assert sleeps == [300.0, 600.0, 1000.0, 1000.0]
    assert led.failed_attempts == 4
    t = led.time_s
    assert t is not None
    led.beacon_heard(t + 1.0)
    led.joined(t + 2.0)
    assert led.failed_attempts == 0
    led.lost_network(t + 100.0)
    led.advance(t + 190.0)
    assert led.sleep_s == 300.0


def test_advance_applies_many_transitions_at_once():
    led = _on(sleep_initial_s=300.0, sleep_max_s=300.0)
    # every cycle is 90 s searching + 300 s asleep
    led.advance(T0 + 10 * 390.0)
    assert led.state is PowerState.SEARCHING
    assert len(led.states) == 21
    totals = led.time_in_state()
    assert totals[PowerState.SEARCHING] == pytest.approx(900.0)
    assert totals[PowerState.LIGHT_SLEEP] == pytest.approx(3000.0)
    assert sum(totals.values()) == pytest.approx(3900.0)


def test_beacon_while_asleep_is_not_heard_and_transition_at_now_comes_first():
    led = _on()
    assert not led.beacon_heard(T0 + 90.0)  # the search ended at exactly this time: asleep
    assert led.state is PowerState.LIGHT_SLEEP


def test_join_that_never_completes_times_out_to_light_sleep():
    led = _on(join_timeout_s=90.0)
    led.beacon_heard(T0 + 30.0)
    led.advance(T0 + 120.0)
    assert led.state is PowerState.LIGHT_SLEEP
    assert led.failed_attempts == 1


def test_lost_network_searches_again():
    led = _on()
    led.joined(T0 + 60.0)
    assert led.lost_network(T0 + 65.0)
    assert led.state is PowerState.SEARCHING
    assert led.pattern is LedPattern.SLOW_FLASH  # the solid 10 s is cut short
    assert led.next_deadline() == T0 + 65.0 + 90.0
    assert not led.lost_network(T0 + 66.0)


# --------------------------------------------------------------------------- button


def test_hold_to_turn_off_flashes_twice_then_off():
    # "The LED will flash twice, indicating the device is OFF" (manual §5.2)
    led = _on()
    led.joined(T0 + 60.0)
    assert led.hold_button(T0 + 200.0, HOLD) is ButtonAction.TURNED_OFF
    assert led.state is PowerState.OFF
    assert led.pattern is LedPattern.DOUBLE_FLASH
    assert led.next_deadline() == T0 + 200.0 + DOUBLE_FLASH_S
    led.advance(T0 + 300.0)
    assert led.pattern is LedPattern.OFF
    assert led.next_deadline() is None
    assert [led.lit_at(T0 + 200.0 + dt) for dt in (0.1, 0.3, 0.6, 0.8, 1.1)] == [
        True,
        False,
        True,
        False,
        False,
    ]


@pytest.mark.parametrize("duration_s", [3.5, 4.0, 10.0])
def test_hold_threshold_is_configurable_and_inclusive(duration_s):
    led = DeviceLed(T0, hold_s=3.5)
    assert led.hold_button(T0, duration_s) is ButtonAction.TURNED_ON


@pytest.mark.parametrize("duration_s", [1.0, 2.0, 3.49])
def test_press_between_quick_and_hold_is_ignored(duration_s):
    led = DeviceLed(T0)
    assert led.hold_button(T0, duration_s) is ButtonAction.IGNORED
    assert led.state is PowerState.OFF
    assert led.patterns == []


def test_quick_press_when_off_double_flash():
    led = DeviceLed(T0)
    assert led.hold_button(T0 + 1.0, QUICK) is ButtonAction.ANSWERED
    assert led.pattern is LedPattern.DOUBLE_FLASH
    assert led.state is PowerState.OFF
    led.advance(T0 + 1.0 + DOUBLE_FLASH_S)
    assert led.pattern is LedPattern.OFF


def test_quick_press_in_light_sleep_single_flash_and_stays_asleep():
    led = _on()
    led.advance(T0 + 100.0)
    assert led.hold_button(T0 + 100.0, QUICK) is ButtonAction.ANSWERED
    assert led.pattern is LedPattern.SINGLE_FLASH
    assert led.lit_at(T0 + 100.1)
    assert not led.lit_at(T0 + 100.3)
    led.advance(T0 + 100.0 + SINGLE_FLASH_S)
    assert led.pattern is LedPattern.OFF
    assert led.state is PowerState.LIGHT_SLEEP


def test_quick_press_when_connected_ten_seconds_on():
    led = _on()
    led.joined(T0 + 60.0)
    led.advance(T0 + 80.0)
    assert led.hold_button(T0 + 80.0, QUICK) is ButtonAction.ANSWERED
    assert led.pattern is LedPattern.ON_10S
    assert led.next_deadline() == T0 + 90.0
    led.advance(T0 + 90.0)
    assert led.pattern is LedPattern.OFF
    assert led.state is PowerState.CONNECTED


@pytest.mark.parametrize("joining", [False, True])
def test_quick_press_while_searching_or_joining_is_ignored(joining):
    led = _on()
    if joining:
        led.beacon_heard(T0 + 10.0)
    before = led.patterns
    assert led.hold_button(T0 + 20.0, QUICK) is ButtonAction.IGNORED
    assert led.patterns == before


def test_first_pulse_turns_an_off_device_on():
    # "the first pulse will automatically turn on the MDT" (manual §5.2)
    led = DeviceLed(T0)
    assert led.first_pulse(T0 + 5.0)
    assert led.state is PowerState.SEARCHING
    assert led.pattern is LedPattern.SLOW_FLASH
    assert not led.first_pulse(T0 + 6.0)


@pytest.mark.parametrize("event", ["beacon_heard", "joined", "lost_network"])
def test_network_events_do_nothing_while_off(event):
    led = DeviceLed(T0)
    assert not getattr(led, event)(T0 + 1.0)
    assert led.state is PowerState.OFF


# --------------------------------------------------------------------------- timeline


def test_flash_rates_slow_1_hz_rapid_4_hz():
    led = _on()
    assert [led.lit_at(T0 + dt) for dt in (0.0, 0.4, 0.6, 1.2, 1.7)] == [True, True, False, True, False]
    led.beacon_heard(T0 + 10.0)
    assert [led.lit_at(T0 + 10.0 + dt) for dt in (0.05, 0.2, 0.3, 0.45)] == [True, False, True, False]
    assert not led.lit_at(T0 - 1.0)


def test_time_in_state_and_pattern_for_the_battery_model():
    led = DeviceLed(T0)
    led.hold_button(T0 + 10.0, HOLD)
    led.beacon_heard(T0 + 40.0)
    led.joined(T0 + 70.0)
    led.advance(T0 + 1000.0)
    states = led.time_in_state()
    assert states[PowerState.OFF] == 10.0
    assert states[PowerState.SEARCHING] == 30.0
    assert states[PowerState.JOINING] == 30.0
    assert states[PowerState.CONNECTED] == 930.0
    assert states[PowerState.LIGHT_SLEEP] == 0.0
    patterns = led.time_in_pattern()
    assert patterns[LedPattern.SOLID] == 10.0
    assert patterns[LedPattern.OFF] == 10.0 + 920.0
    assert led.time_in_state(T0 + 50.0)[PowerState.JOINING] == 10.0
    with pytest.raises(ValueError, match="until_s"):
        led.time_in_state(T0 + 2000.0)


def test_start_defaults_to_first_call():
    led = DeviceLed()
    assert led.time_in_state() == dict.fromkeys(PowerState, 0.0)
    led.hold_button(T0, HOLD)
    assert led.start_s == T0
    led.advance(T0 + 5.0)
    assert led.time_in_state()[PowerState.SEARCHING] == 5.0


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "call",
    [
        lambda led: led.advance(T0 + 9.0),
        lambda led: led.hold_button(T0 + 9.0, HOLD),
        lambda led: led.beacon_heard(T0 + 9.0),
        lambda led: led.joined(T0 + 9.0),
        lambda led: led.lost_network(T0 + 9.0),
        lambda led: led.first_pulse(T0 + 9.0),
    ],
)
def test_time_going_backwards_is_refused_and_changes_nothing(call):
    led = _on()
    led.advance(T0 + 10.0)
    before = (led.state, led.pattern, led.states, led.patterns, led.time_s)
    with pytest.raises(ValueError, match="now_s must be >="):
        call(led)
    assert (led.state, led.pattern, led.states, led.patterns, led.time_s) == before


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_time_refused(value):
    with pytest.raises(ValueError, match="now_s must be finite"):
        DeviceLed().advance(value)


def test_bad_duration_refused():
    with pytest.raises(ValueError, match="duration_s"):
        DeviceLed(T0).hold_button(T0, -1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hold_s": 0.0}, "hold_s"),
        ({"search_s": float("nan")}, "search_s"),
        ({"quick_press_s": 5.0}, "quick_press_s"),
        ({"sleep_initial_s": 600.0, "sleep_max_s": 300.0}, "sleep_max_s"),
        ({"sleep_factor": 0.5}, "sleep_factor"),
    ],
)
def test_bad_parameters_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DeviceLed(T0, **kwargs)


def test_power_lost_and_restored() -> None:
    # a mains repeater's power cut: dark at once (no double flash), searching again when power returns
    led = DeviceLed(0.0)
    led.hold_button(4.0, 4.0)
    led.beacon_heard(10.0)
    led.joined(20.0)
    assert led.power_lost(100.0)
    assert led.state is PowerState.OFF
    assert led.pattern is LedPattern.OFF
    assert led.power_restored(200.0)
    assert led.state is PowerState.SEARCHING
    assert led.pattern is LedPattern.SLOW_FLASH


def test_power_restored_does_not_turn_on_a_device_switched_off() -> None:
    led = DeviceLed(0.0)
    assert not led.power_lost(1.0)  # it was off
    assert not led.power_restored(2.0)
    assert led.state is PowerState.OFF
