"""Tests of meshmeter.meter.pulses (manual Tables 2B and 3; certificate p.2 "Operation")."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshmeter.meter.pulses import (
    LedChange,
    LoadLed,
    PowerLed,
    PulseEdge,
    PulseOutput,
    edge_count,
    output_state,
    pulse_edge_times,
    pulse_edges_by_kh,
    pulses_from_energy,
)

# --------------------------------------------------------------------------- pure functions


@pytest.mark.parametrize(
    ("kh", "energy", "closed"),
    [
        # "10" output: 5 Wh on, 5 Wh off (manual Table 2B); open at zero (conventions)
        (10.0, [0.0, 4.999, 5.0, 9.999, 10.0, 14.99, 15.0], [False, False, True, True, False, False, True]),
        # "100" output: 50 Wh on, 50 Wh off
        (100.0, [0.0, 49.9, 50.0, 99.9, 100.0], [False, False, True, True, False]),
        # "1000" output: 500 Wh on, 500 Wh off
        (1000.0, [0.0, 499.9, 500.0, 999.9, 1000.0], [False, False, True, True, False]),
    ],
)
def test_output_state_fifty_percent_duty(kh, energy, closed):
    np.testing.assert_array_equal(output_state(energy, kh), closed)


@pytest.mark.parametrize(("kh", "pulses"), [(10.0, 100), (100.0, 10), (1000.0, 1)])
def test_one_kwh_gives_100_10_1_pulses(kh, pulses):
    assert pulses_from_energy(1000.0, kh) == pulses
    assert pulses_from_energy(999.999, kh) == pulses - 1


def test_pulses_from_energy_vector_equals_scalar():
    e = np.array([0.0, 9.99, 10.0, 25.0, 1234.5])
    vec = pulses_from_energy(e, 10.0)
    assert vec.dtype == np.int64
    np.testing.assert_array_equal(vec, [int(pulses_from_energy(x, 10.0)) for x in e])
    np.testing.assert_array_equal(vec, [0, 0, 1, 2, 123])


def test_pulses_complete_exactly_when_the_opening_edge_happens():
    e = np.arange(0, 100_000) * 0.1  # floats that are not exact multiples of 0.1
    kh = 0.3
    np.testing.assert_array_equal(pulses_from_energy(e, kh), edge_count(e, kh) // 2)
    k = edge_count(e, kh)
    assert np.all(k.astype(float) * (kh / 2) <= e)
    assert np.all((k + 1).astype(float) * (kh / 2) > e)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0])
def test_pure_functions_reject_bad_energy(bad):
    with pytest.raises(ValueError, match="energy_wh"):
        pulses_from_energy([1.0, bad], 10.0)
    with pytest.raises(ValueError, match="energy_wh"):
        output_state(bad, 10.0)


@pytest.mark.parametrize("bad", [0.0, -10.0, math.nan, math.inf])
def test_pure_functions_reject_bad_kh(bad):
    with pytest.raises(ValueError, match="kh_wh"):
        pulses_from_energy(1.0, bad)
    with pytest.raises(ValueError, match="kh_wh"):
        pulse_edge_times([0.0, 1.0], [0.0, 1.0], bad)


def test_pulses_from_energy_refuses_counts_beyond_float_precision():
    with pytest.raises(ValueError, match="2\\*\\*52"):
        pulses_from_energy(1e17, 10.0)


# --------------------------------------------------------------------------- pulse_edge_times


def test_load_led_at_200_w_changes_every_90_s():
    # manual Table 3: at 200 W, 1.5 minutes on, 1.5 minutes off
    t = np.arange(0.0, 3601.0, 1.0)
    e = t * (200.0 / 3600.0)
    edges = pulse_edge_times(t, e, 10.0)
    np.testing.assert_allclose(edges.time_s, 90.0 * np.arange(1, 41), atol=1e-9)
    np.testing.assert_array_equal(edges.closing, np.arange(1, 41) % 2 == 1)
    np.testing.assert_array_equal(edges.energy_wh, 5.0 * np.arange(1, 41))


@pytest.mark.parametrize("step_s", [1.0, 60.0])
def test_edges_do_not_drift_over_a_month_at_200_w(step_s):
    n = round(30 * 86400 / step_s)
    t = step_s * np.arange(n + 1, dtype=np.float64)
    e = t * (200.0 / 3600.0)
    edges = pulse_edge_times(t, e, 10.0)
    assert edges.k.size == 30 * 86400 // 90
    expected = edges.k.astype(np.float64) * 90.0
    assert np.all(np.abs(edges.time_s - expected) <= 1e-6)
    assert np.all(np.abs(edges.time_s - expected) / expected <= 1e-12)


def test_edges_inside_uneven_steps_are_interpolated():
    # 0..3 Wh in 60 s, then flat for 60 s, then 3..13 Wh in 10 s (1 Wh/s):
    # 5 Wh at 120 + 2 s, 10 Wh at 120 + 7 s
    t = [0.0, 60.0, 120.0, 130.0]
    e = [0.0, 3.0, 3.0, 13.0]
    edges = pulse_edge_times(t, e, 10.0)
    np.testing.assert_array_equal(edges.k, [1, 2])
    np.testing.assert_allclose(edges.time_s, [122.0, 127.0])
    np.testing.assert_array_equal(edges.closing, [True, False])


def test_edge_exactly_on_a_sample_takes_the_sample_time():
    edges = pulse_edge_times([0.0, 7.0, 9.0], [0.0, 5.0, 5.0], 10.0)
    assert edges.time_s.tolist() == [7.0]


def test_edges_continue_the_phase_from_a_nonzero_start():
    # register at 7 Wh (closed since 5 Wh): next is the opening at 10, closure at 15
    t = [100.0, 200.0]
    e = [7.0, 17.0]
    edges = pulse_edge_times(t, e, 10.0)
    np.testing.assert_array_equal(edges.k, [2, 3])
    np.testing.assert_array_equal(edges.closing, [False, True])
    np.testing.assert_allclose(edges.time_s, [130.0, 180.0])
    # an edge at exactly the start energy has already happened
    assert pulse_edge_times([0.0, 1.0], [5.0, 9.0], 10.0).k.size == 0


def test_no_load_no_edges():
    t = np.arange(0.0, 3601.0, 60.0)
    for start in (3.0, 7.0):  # open, closed
        edges = pulse_edge_times(t, np.full(t.size, start), 10.0)
        assert edges.k.size == 0


def test_edge_times_empty_and_single_sample():
    for t, e in (([], []), ([5.0], [3.0])):
        edges = pulse_edge_times(t, e, 10.0)
        assert edges.time_s.size == 0
        assert edges.k.dtype == np.int64
        assert edges.closing.dtype == np.bool_


@pytest.mark.parametrize(
    ("t", "e", "match"),
    [
        ([0.0, 1.0, 2.0], [0.0, 6.0, 5.0], "non-decreasing"),
        ([0.0, 1.0], [0.0, 6.0, 7.0], "same length"),
        ([0.0, 0.0], [0.0, 6.0], "strictly increasing"),
        ([1.0, 0.0], [0.0, 6.0], "strictly increasing"),
        ([0.0, math.nan], [0.0, 6.0], "time_s"),
        ([0.0, 1.0], [0.0, math.inf], "energy_wh_cumulative"),
        ([0.0, 1.0], [-1.0, 6.0], "energy_wh_cumulative"),
        ([[0.0, 1.0]], [[0.0, 6.0]], "one-dimensional"),
    ],
)
def test_pulse_edge_times_validates(t, e, match):
    with pytest.raises(ValueError, match=match):
        pulse_edge_times(t, e, 10.0)


# --------------------------------------------------------------------------- PulseOutput


@pytest.mark.parametrize(("kh", "half"), [(10.0, 5.0), (100.0, 50.0), (1000.0, 500.0)])
def test_pulse_output_closes_at_half_kh_and_opens_at_kh(kh, half):
    out = PulseOutput(kh, str(int(kh)))
    assert out.state is False
    assert out.advance(half - 0.001, 0.0, 1.0) == []
    (close,) = out.advance(0.001, 1.0, 2.0)
    assert close == PulseEdge(2.0, 1, half, True)
    assert out.state is True
    assert out.pulses == 0
    (opening,) = out.advance(half, 2.0, 3.0)
    assert opening == PulseEdge(3.0, 2, kh, False)
    assert out.state is False
    assert (out.pulses, out.closures, out.edges) == (1, 1, 2)


@pytest.mark.parametrize(("kh", "pulses"), [(10.0, 100), (100.0, 10), (1000.0, 1)])
def test_pulse_output_one_kwh(kh, pulses):
    out = PulseOutput(kh)
    for i in range(1000):
        out.advance(1.0, float(i), float(i + 1))
    assert out.pulses == pulses
    assert out.closures == pulses
    assert out.energy_wh == 1000.0


def test_pulse_output_step_with_many_edges_interpolates():
    out = PulseOutput(10.0)
    edges = out.advance(20.0, 0.0, 40.0)  # 0.5 Wh/s
    assert [e.time_s for e in edges] == [10.0, 20.0, 30.0, 40.0]
    assert [e.closing for e in edges] == [True, False, True, False]


def test_pulse_output_nonzero_start_continues_phase():
    out = PulseOutput(10.0, energy_wh=7.0)
    assert out.state is True
    assert out.pulses == 0
    edges = out.advance(10.0, 100.0, 200.0)
    assert [(e.k, e.closing, e.time_s) for e in edges] == [(2, False, 130.0), (3, True, 180.0)]
    assert out.closures == 1
    assert out.pulses == 1


def test_pulse_output_zero_length_step_puts_edges_at_its_time():
    out = PulseOutput(10.0)
    edges = out.advance(12.0, 5.0, 5.0)
    assert [e.time_s for e in edges] == [5.0, 5.0]


def test_pulse_output_month_at_200_w_in_1_minute_steps_does_not_drift():
    out = PulseOutput(10.0)
    step_wh = 200.0 / 60.0
    last = None
    for i in range(30 * 1440):
        for edge in out.advance(step_wh, 60.0 * i, 60.0 * (i + 1)):
            last = edge
    assert last is not None
    assert last.k == 30 * 86400 // 90
    assert last.time_s == pytest.approx(last.k * 90.0, abs=1e-6)


@settings(max_examples=80, deadline=None)
@given(
    st.integers(min_value=0, max_value=400),
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=600), st.integers(min_value=0, max_value=400)),
        min_size=1,
        max_size=80,
    ),
    st.sampled_from([10.0, 100.0, 1000.0, 1.0]),
)
def test_pulse_output_agrees_with_pulse_edge_times(start_eighths, steps, kh):
    # step energies in eighths of a Wh: float sums are exact, so both paths see the same energy
    start = start_eighths / 8.0
    dt = np.array([s[0] for s in steps], dtype=np.float64)
    de = np.array([s[1] for s in steps], dtype=np.float64) / 8.0
    t = np.concatenate(([0.0], np.cumsum(dt)))
    e = start + np.concatenate(([0.0], np.cumsum(de)))
    pure = pulse_edge_times(t, e, kh)
    out = PulseOutput(kh, energy_wh=start)
    edges: list[PulseEdge] = []
    for i in range(len(steps)):
        edges.extend(out.advance(float(de[i]), float(t[i]), float(t[i + 1])))
    assert [x.k for x in edges] == pure.k.tolist()
    assert [x.closing for x in edges] == pure.closing.tolist()
    np.testing.assert_allclose([x.time_s for x in edges], pure.time_s, rtol=1e-12, atol=1e-9)
    assert out.state == bool(output_state(e[-1], kh))
    assert out.pulses == int(pulses_from_energy(e[-1], kh))
    assert out.closures == int(np.count_nonzero(pure.closing))


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((-1.0, 10.0, 20.0), "energy_wh"),
        ((math.nan, 10.0, 20.0), "energy_wh"),
        ((1.0, math.inf, 20.0), "time_s_start"),
        ((1.0, 10.0, math.nan), "time_s_end"),
        ((1.0, 20.0, 10.0), "time_s_end"),
        ((1.0, 5.0, 20.0), "previous end"),  # overlaps the previous step
    ],
)
def test_pulse_output_rejects_bad_steps_and_changes_nothing(args, match):
    out = PulseOutput(10.0)
    out.advance(7.0, 0.0, 10.0)
    with pytest.raises(ValueError, match=match):
        out.advance(*args)
    assert (out.energy_wh, out.state, out.closures, out.time_s) == (7.0, True, 1, 10.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kh_wh": 0.0}, "kh_wh"),
        ({"kh_wh": math.nan}, "kh_wh"),
        ({"kh_wh": 10.0, "energy_wh": -1.0}, "energy_wh"),
    ],
)
def test_pulse_output_validates_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PulseOutput(**kwargs)


def test_pulse_output_accepts_any_positive_kh():
    out = PulseOutput(0.3, "test")
    assert out.kh_wh == 0.3
    assert out.name == "test"


# --------------------------------------------------------------------------- LEDs


def test_load_led_defaults_to_kt_10():
    led = LoadLed()
    assert led.kt_wh == 10.0
    assert led.name == "LOAD"
    assert led.lit is False
    with pytest.raises(ValueError, match="kt_wh"):
        LoadLed(kt_wh=-10.0)


def test_load_led_at_200_w_flashes_1_5_min_on_1_5_min_off():
    led = LoadLed()
    for i in range(60):  # one hour of 1-minute steps at 200 W
        led.advance(200.0 / 60.0, 60.0 * i, 60.0 * (i + 1))
    times = [c.time_s for c in led.changes]
    np.testing.assert_allclose(times, 90.0 * np.arange(1, 41), atol=1e-9)
    assert [c.lit for c in led.changes] == [k % 2 == 1 for k in range(1, 41)]
    assert led.lit_at(89.0) is False
    assert led.lit_at(90.0) is True
    assert led.lit_at(179.0) is True
    assert led.lit_at(180.0) is False
    assert led.changes[0] == LedChange(90.0, True)


@pytest.mark.parametrize("start_wh", [3.0, 7.0])  # LED off, LED on
def test_load_led_without_load_keeps_its_state_for_an_hour(start_wh):
    # certificate p.2: "will not change states unless a load is applied"
    led = LoadLed(energy_wh=start_wh)
    before = led.lit
    for i in range(3600):
        assert led.advance(0.0, float(i), float(i + 1)) == []
    assert led.lit is before
    assert led.changes == []
    assert led.lit_at(1800.0) is before


@pytest.mark.parametrize(
    ("voltages", "lit"),
    [
        ([120.0], True),
        ([0.0], False),
        ([0.0, 120.0], True),
        ([49.9, 10.0], False),
        ([50.0], True),
        ([-120.0], True),
    ],
)
def test_power_led_lit_when_line_voltage_present(voltages, lit):
    led = PowerLed()
    assert led.update(voltages) is lit
    assert led.lit is lit


def test_power_led_records_changes_with_time():
    led = PowerLed(presence_threshold_v=60.0)
    assert led.presence_threshold_v == 60.0
    led.update([120.0, 120.0], time_s=0.0)
    led.update([120.0, 121.0], time_s=1.0)
    led.update([0.0, 0.0], time_s=10.0)
    led.update([120.0, 0.0], time_s=20.0)
    assert led.changes == [LedChange(0.0, True), LedChange(10.0, False), LedChange(20.0, True)]
    assert led.lit_at(-1.0) is False
    assert led.lit_at(5.0) is True
    assert led.lit_at(10.0) is False
    assert led.lit_at(25.0) is True


@pytest.mark.parametrize(
    ("voltages", "time_s", "match"),
    [
        ([], None, "voltages_v"),
        ([math.nan], None, "voltages_v"),
        ([120.0], math.inf, "time_s"),
        ([0.0], 1.0, "time_s"),
    ],
)
def test_power_led_rejects_bad_input_and_changes_nothing(voltages, time_s, match):
    led = PowerLed()
    led.update([120.0], time_s=5.0)
    with pytest.raises(ValueError, match=match):
        led.update(voltages, time_s=time_s)
    assert led.lit is True
    assert led.changes == [LedChange(5.0, True)]


@pytest.mark.parametrize("bad", [0.0, -50.0, math.nan])
def test_power_led_validates_threshold(bad):
    with pytest.raises(ValueError, match="presence_threshold_v"):
        PowerLed(bad)


# --- pulse_edges_by_kh: several outputs on one curve ---------------------------------------------


def test_edges_by_kh_equal_single_calls() -> None:
    t = np.arange(0.0, 3601.0, 60.0)
    e = np.linspace(0.0, 1234.5, t.size)
    by = pulse_edges_by_kh(t, e, [10.0, 100.0, 1000.0, 10.0])
    assert set(by) == {10.0, 100.0, 1000.0}
    for kh, edges in by.items():
        single = pulse_edge_times(t, e, kh)
        assert np.array_equal(edges.k, single.k)
        assert np.allclose(edges.time_s, single.time_s)


def test_edge_range_holds_the_float_curve_to_the_exact_counts() -> None:
    # a curve that ends a hair below 10 Wh, where an exact register says 10 Wh was reached
    t = np.array([0.0, 90.0, 180.0])
    e = np.array([0.0, 5.0, 10.0 - 1e-12])
    by = pulse_edges_by_kh(t, e, [10.0], edge_range={10.0: (0, 2)})
    assert by[10.0].k.tolist() == [1, 2]
    assert by[10.0].time_s[-1] == 180.0
    none = pulse_edges_by_kh(t, e, [10.0], edge_range={10.0: (2, 2)})
    assert none[10.0].k.size == 0


def test_edge_range_refuses_inverted_range() -> None:
    with pytest.raises(ValueError, match="first <= last"):
        pulse_edges_by_kh([0.0, 1.0], [0.0, 10.0], [10.0], edge_range={10.0: (3, 1)})
