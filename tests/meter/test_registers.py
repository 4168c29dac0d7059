"""Tests of meshmeter.meter.registers (manual §3.2; docs/conventions.md "Intervals")."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshmeter.meter.registers import (
    DemandRegister,
    EnergyRegister,
    block_demand_kw,
    interval_energy_wh,
    max_demand_kw,
    rolling_demand_kw,
)

# --------------------------------------------------------------------------- EnergyRegister


def exact_split(values: list[float], start: Fraction = Fraction(0)) -> tuple[int, Fraction]:
    total = start + sum((Fraction(v) for v in values), Fraction(0))
    whole = math.floor(total)
    return whole, total - whole


def test_register_starts_at_zero():
    r = EnergyRegister()
    assert (r.energy_wh, r.residue_wh, r.value_wh) == (0, 0.0, 0.0)
    assert r.signed


def test_register_has_no_reset():
    assert not hasattr(EnergyRegister(), "reset")


@pytest.mark.parametrize(
    ("increments", "carried", "energy", "residue"),
    [
        ([0.5], 0, 0, 0.5),
        ([0.5, 0.5], 1, 1, 0.0),  # second call carries 1
        ([2.75], 2, 2, 0.75),
        ([0.25, -0.5], -1, -1, 0.75),  # floor semantics for a signed register
        ([-3.0], -3, -3, 0.0),
    ],
)
def test_add_carries_whole_wh(increments, carried, energy, residue):
    r = EnergyRegister()
    out = [r.add(x) for x in increments]
    assert out[-1] == carried
    assert r.energy_wh == energy
    assert r.residue_wh == residue
    assert 0.0 <= r.residue_wh < 1.0


def test_add_many_thousandths_ten_million_times_is_exactly_10000_wh():
    r = EnergyRegister()
    carried = r.add_many(np.full(10_000_000, 0.001))
    assert carried == 10_000
    assert r.energy_wh == 10_000
    # float(0.001) exceeds 1/1000 by 2.08e-20; ten million of them leave 2.08e-13 Wh
    assert r.residue_wh < 1e-12


def test_add_many_thirds_three_million_times_is_1e6_wh_to_float_precision():
    # float(1/3) = 1/3 - 1.85e-17: the exact sum of 3e6 of them is 1e6 - 5.6e-11 Wh.
    # The register keeps that exact sum: no drift, whatever the number of additions.
    r = EnergyRegister()
    r.add_many(np.full(3_000_000, 1.0 / 3.0))
    assert r.value_wh == 1_000_000.0
    assert abs(r.energy_wh + r.residue_wh - 1e6) < 1e-6
    assert r.energy_wh == 999_999
    assert 1.0 - r.residue_wh == pytest.approx(3e6 * (Fraction(1, 3) - Fraction(1.0 / 3.0)), rel=1e-9)


def test_add_many_dyadic_is_exact():
    r = EnergyRegister()
    r.add_many(np.full(4_000_000, 0.25))
    assert (r.energy_wh, r.residue_wh) == (1_000_000, 0.0)


def test_add_many_equals_add_one_by_one():
    rng = np.random.default_rng(1)
    x = rng.normal(0.3, 2.0, 20_000) * 10.0 ** rng.integers(-12, 4, 20_000)
    a = EnergyRegister()
    b = EnergyRegister()
    for v in x:
        a.add(float(v))
    b.add_many(x)
    assert (a.energy_wh, a.residue_wh) == (b.energy_wh, b.residue_wh)
    whole, rest = exact_split([float(v) for v in x])
    assert a.energy_wh == whole
    assert a.residue_wh == float(rest)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False, allow_subnormal=True),
        max_size=50,
    ),
    st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_add_many_matches_exact_fraction_sum(values, residue):
    r = EnergyRegister(5, residue)
    carried = r.add_many(np.asarray(values, dtype=np.float64))
    whole, rest = exact_split(values, Fraction(residue))
    assert r.energy_wh == 5 + whole
    assert carried == whole
    assert r.residue_wh == min(float(rest), math.nextafter(1.0, 0.0))
    s = EnergyRegister(5, residue)
    for v in values:
        s.add(v)
    assert (s.energy_wh, s.residue_wh) == (r.energy_wh, r.residue_wh)


def test_add_many_empty_is_noop():
    r = EnergyRegister(3, 0.5)
    assert r.add_many([]) == 0
    assert (r.energy_wh, r.residue_wh) == (3, 0.5)


def test_add_many_accepts_2d_and_subnormals():
    r = EnergyRegister()
    r.add_many(np.array([[5e-324, 5e-324], [0.5, 0.5]]))
    assert r.energy_wh == 1
    assert r.residue_wh == 1e-323


def test_value_wh_and_repr():
    r = EnergyRegister(12, 0.5)
    assert r.value_wh == 12.5
    assert "energy_wh=12" in repr(r)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_add_rejects_non_finite_and_changes_nothing(bad):
    r = EnergyRegister(1, 0.25)
    with pytest.raises(ValueError, match="energy_wh"):
        r.add(bad)
    with pytest.raises(ValueError, match="increments"):
        r.add_many([1.0, bad])
    assert (r.energy_wh, r.residue_wh) == (1, 0.25)


def test_unsigned_register_refuses_negative():
    r = EnergyRegister(signed=False)
    r.add(1.5)
    with pytest.raises(ValueError, match=r"energy_wh must be >= 0.*-0\.1"):
        r.add(-0.1)
    with pytest.raises(ValueError, match="increments"):
        r.add_many([1.0, -0.1])
    assert r.value_wh == 1.5
    with pytest.raises(ValueError, match="energy_wh"):
        EnergyRegister(-1, signed=False)


@pytest.mark.parametrize(
    ("energy", "residue", "match"),
    [(1.5, 0.0, "energy_wh"), (True, 0.0, "energy_wh"), (0, 1.0, "residue_wh"), (0, -0.1, "residue_wh")],
)
def test_register_constructor_validates(energy, residue, match):
    with pytest.raises(ValueError, match=match):
        EnergyRegister(energy, residue)


# --------------------------------------------------------------------------- pure demand functions


def steady(power_w: float, duration_s: float, step_s: float, start_s: float = 0.0):
    n = round(duration_s / step_s)
    t = start_s + step_s * np.arange(1, n + 1)
    e = np.full(n, power_w * step_s / 3600.0)
    return t, e


def test_block_demand_steady_1200_w_for_an_hour():
    t, e = steady(1200.0, 3600.0, 1.0)
    ends, d = block_demand_kw(t, e, start_s=0.0)
    np.testing.assert_array_equal(ends, [900.0, 1800.0, 2700.0, 3600.0])
    np.testing.assert_allclose(d, 1.2, rtol=1e-12)


def test_rolling_demand_steady_1200_w_for_an_hour():
    t, e = steady(1200.0, 3600.0, 60.0)
    ends, d = rolling_demand_kw(t, e, start_s=0.0)
    np.testing.assert_array_equal(ends, np.arange(900.0, 3601.0, 300.0))
    np.testing.assert_allclose(d, 1.2, rtol=1e-12)


def test_block_demand_splits_straddling_steps_in_proportion():
    # one 10-minute step of 100 Wh from 600 s to 1200 s: 50 Wh before 900 s, 50 Wh after;
    # then a 600 s step of 0 Wh: block (900, 1800] holds 50 Wh -> 0.2 kW
    ends, e = interval_energy_wh([1200.0, 1800.0], [100.0, 0.0], start_s=600.0)
    np.testing.assert_array_equal(ends, [1800.0])
    np.testing.assert_allclose(e, [50.0])
    _, d = block_demand_kw([1200.0, 1800.0], [100.0, 0.0], start_s=600.0)
    np.testing.assert_allclose(d, [0.2])


def test_block_demand_long_step_spanning_several_blocks():
    # one hour-long step of 1200 Wh: four blocks of 300 Wh -> 1.2 kW each
    ends, d = block_demand_kw([3600.0], [1200.0], start_s=0.0)
    np.testing.assert_array_equal(ends, [900.0, 1800.0, 2700.0, 3600.0])
    np.testing.assert_allclose(d, 1.2)


def test_block_demand_ignores_partial_blocks_at_both_ends():
    t, e = steady(1000.0, 2000.0, 10.0, start_s=100.0)  # 100 .. 2100 s
    ends, d = block_demand_kw(t, e, start_s=100.0)
    np.testing.assert_array_equal(ends, [1800.0])
    np.testing.assert_allclose(d, [1.0])


def test_block_demand_no_complete_block_is_empty():
    ends, d = block_demand_kw([600.0], [10.0], start_s=0.0)
    assert ends.size == 0
    assert d.size == 0
    ends, d = block_demand_kw([], [], start_s=0.0)
    assert ends.size == 0
    assert d.size == 0


def test_block_demand_uneven_steps_conserve_energy():
    rng = np.random.default_rng(7)
    t = np.cumsum(rng.uniform(1.0, 400.0, 500))
    e = rng.uniform(-5.0, 50.0, 500)
    ends, energy = interval_energy_wh(t, e, start_s=0.0)
    # the complete blocks cover (0, ends[-1]]: their sum is the energy up to ends[-1]
    cum = np.concatenate(([0.0], np.cumsum(e)))
    expected = np.interp(ends[-1], np.concatenate(([0.0], t)), cum)
    assert energy.sum() == pytest.approx(expected, rel=1e-9)


def test_block_demand_negative_energy_is_signed():
    t, e = steady(-1200.0, 900.0, 1.0)
    _, d = block_demand_kw(t, e, start_s=0.0)
    np.testing.assert_allclose(d, [-1.2])


def test_rolling_demand_averages_three_subintervals():
    # 5-minute steps: 0.3, 0.6, 0.9, 0.0 kW -> 25, 50, 75, 0 Wh
    t = [300.0, 600.0, 900.0, 1200.0]
    e = [25.0, 50.0, 75.0, 0.0]
    ends, d = rolling_demand_kw(t, e, start_s=0.0)
    np.testing.assert_array_equal(ends, [900.0, 1200.0])
    np.testing.assert_allclose(d, [0.6, 0.5])


def test_rolling_demand_fewer_than_three_subintervals_is_empty():
    ends, d = rolling_demand_kw([600.0], [10.0], start_s=0.0)
    assert ends.size == 0
    assert d.size == 0


@pytest.mark.parametrize(
    ("ends", "demand", "expected"),
    [
        ([900.0, 1800.0, 2700.0], [1.0, 3.0, 3.0], (3.0, 1800.0)),  # first occurrence
        ([900.0], [-1.0], (0.0, None)),  # a max-demand register starts at zero
        ([], [], (0.0, None)),
    ],
)
def test_max_demand(ends, demand, expected):
    assert max_demand_kw(ends, demand) == expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"time_s": [1.0, np.nan], "energy_wh": [1.0, 1.0]}, "time_s"),
        ({"time_s": [1.0, 2.0], "energy_wh": [1.0, np.inf]}, "energy_wh"),
        ({"time_s": [1.0, 2.0], "energy_wh": [1.0]}, "same length"),
        ({"time_s": [2.0, 1.0], "energy_wh": [1.0, 1.0]}, "strictly increasing"),
        ({"time_s": [2.0, 2.0], "energy_wh": [1.0, 1.0]}, "strictly increasing"),
        ({"time_s": [0.0, 1.0], "energy_wh": [1.0, 1.0]}, "start_s"),
        ({"time_s": [[1.0]], "energy_wh": [[1.0]]}, "one-dimensional"),
    ],
)
def test_demand_functions_validate(kwargs, match):
    with pytest.raises(ValueError, match=match):
        block_demand_kw(**kwargs, start_s=0.0)


@pytest.mark.parametrize("bad", [0.0, -900.0, math.nan])
def test_block_demand_rejects_bad_interval(bad):
    with pytest.raises(ValueError, match="interval_s"):
        block_demand_kw([1.0], [1.0], start_s=0.0, interval_s=bad)


@pytest.mark.parametrize("bad", [0, 1.5, True])
def test_rolling_demand_rejects_bad_subintervals(bad):
    with pytest.raises(ValueError, match="subintervals"):
        rolling_demand_kw([1.0], [1.0], start_s=0.0, subintervals=bad)


# --------------------------------------------------------------------------- DemandRegister


def feed(reg: DemandRegister, t, e) -> None:
    for ti, ei in zip(t, e, strict=True):
        reg.add(float(ti), float(ei))


def test_demand_register_steady_1200_w_for_an_hour():
    reg = DemandRegister()
    t, e = steady(1200.0, 3600.0, 1.0)
    feed(reg, t, e)
    assert reg.block_demand_kw == pytest.approx(1.2, rel=1e-12)
    assert reg.block_demand_end_s == 3600.0
    assert reg.rolling_demand_kw == pytest.approx(1.2, rel=1e-12)
    assert reg.rolling_demand_end_s == 3600.0
    assert reg.max_demand_kw == pytest.approx(1.2, rel=1e-12)


def test_demand_register_nothing_before_first_block():
    reg = DemandRegister()
    reg.add(600.0, 100.0)
    assert reg.block_demand_kw is None
    assert reg.rolling_demand_kw is None
    assert reg.max_demand_kw == 0.0
    assert reg.max_demand_time_s is None
    assert reg.time_s == 600.0


def test_demand_register_spike_shows_in_max_and_reset_clears_it():
    reg = DemandRegister()
    # 1 kW for 30 min, 5 kW for the block (1800, 2700], 1 kW for 30 min more
    feed(reg, *steady(1000.0, 1800.0, 60.0))
    feed(reg, *steady(5000.0, 900.0, 60.0, start_s=1800.0))
    feed(reg, *steady(1000.0, 1800.0, 60.0, start_s=2700.0))
    assert reg.block_demand_kw == pytest.approx(1.0)
    assert reg.max_demand_kw == pytest.approx(5.0)
    assert reg.max_demand_time_s == 2700.0
    cleared = reg.reset_max_demand()
    assert cleared == pytest.approx(5.0)
    assert reg.max_demand_kw == 0.0
    assert reg.max_demand_time_s is None
    assert reg.max_demand_resets == 1
    feed(reg, *steady(2000.0, 900.0, 60.0, start_s=4500.0))
    assert reg.max_demand_kw == pytest.approx(2.0)
    assert reg.max_demand_time_s == 5400.0


def test_demand_register_max_of_rolling():
    reg = DemandRegister(max_of="rolling")
    # a 5-minute spike of 9 kW inside an otherwise idle hour: rolling max = 9/3 = 3 kW
    feed(reg, [1200.0, 1500.0, 3600.0], [0.0, 750.0, 0.0])
    assert reg.max_demand_kw == pytest.approx(3.0)
    assert reg.max_demand_time_s == 1500.0


def test_demand_register_straddling_steps():
    reg = DemandRegister(start_s=600.0)
    reg.add(1200.0, 100.0)  # 50 Wh before 900 s (partial block, not reported), 50 Wh after
    reg.add(1800.0, 0.0)
    assert reg.block_demand_end_s == 1800.0
    assert reg.block_demand_kw == pytest.approx(0.2)


@settings(max_examples=50, deadline=None)
@given(
    st.floats(min_value=-2000.0, max_value=2000.0),
    st.lists(
        st.tuples(st.floats(min_value=0.5, max_value=2000.0), st.floats(min_value=-100.0, max_value=500.0)),
        min_size=1,
        max_size=60,
    ),
)
def test_demand_register_agrees_with_array_functions(start, steps):
    dt = np.array([s[0] for s in steps])
    e = np.array([s[1] for s in steps])
    t = start + np.cumsum(dt)
    reg = DemandRegister(start_s=start)
    seen_block = []
    seen_rolling = []
    for ti, ei in zip(t, e, strict=True):
        reg.add(float(ti), float(ei))
        seen_block.append((reg.block_demand_end_s, reg.block_demand_kw))
        seen_rolling.append((reg.rolling_demand_end_s, reg.rolling_demand_kw))
    ends, d = block_demand_kw(t, e, start_s=start)
    rends, rd = rolling_demand_kw(t, e, start_s=start)
    if ends.size:
        assert reg.block_demand_end_s == ends[-1]
        assert reg.block_demand_kw == pytest.approx(d[-1], rel=1e-9, abs=1e-12)
        assert (reg.max_demand_kw, reg.max_demand_time_s) == pytest.approx(max_demand_kw(ends, d))
    else:
        assert reg.block_demand_kw is None
    if rends.size:
        assert reg.rolling_demand_end_s == rends[-1]
        assert reg.rolling_demand_kw == pytest.approx(rd[-1], rel=1e-9, abs=1e-12)
    else:
        assert reg.rolling_demand_kw is None
    # every block value the register showed is one the array function gives
    by_end = dict(zip(ends.tolist(), d.tolist(), strict=True))
    for end, value in seen_block:
        if end is not None:
            assert value == pytest.approx(by_end[end], rel=1e-9, abs=1e-12)


def test_demand_register_agrees_with_array_functions_over_a_day():
    rng = np.random.default_rng(3)
    dt = rng.choice([1.0, 7.0, 60.0, 450.0], 5000)
    t = np.cumsum(dt)
    e = rng.uniform(0.0, 2.0, t.size) * dt / 3.6
    reg = DemandRegister()
    blocks = []
    last = None
    for ti, ei in zip(t, e, strict=True):
        reg.add(float(ti), float(ei))
        if reg.block_demand_end_s != last:
            blocks.append(reg.block_demand_kw)
            last = reg.block_demand_end_s
    ends, d = block_demand_kw(t, e, start_s=0.0)
    # a step spanning several blocks shows only the last of them on the register
    by_end = dict(zip(ends.tolist(), d.tolist(), strict=True))
    assert reg.max_demand_kw == pytest.approx(d.max(), rel=1e-12)
    assert reg.block_demand_kw == pytest.approx(by_end[reg.block_demand_end_s], rel=1e-12)
    assert len(blocks) <= ends.size


@pytest.mark.parametrize(
    ("t", "e", "match"),
    [
        (900.0, 1.0, "time_s_end"),
        (-5.0, 1.0, "time_s_end"),
        (math.nan, 1.0, "time_s_end"),
        (1000.0, math.inf, "energy_wh"),
    ],
)
def test_demand_register_rejects_bad_steps_and_changes_nothing(t, e, match):
    reg = DemandRegister()
    reg.add(900.0, 300.0)
    with pytest.raises(ValueError, match=match):
        reg.add(t, e)
    assert reg.time_s == 900.0
    assert reg.block_demand_kw == pytest.approx(1.2)
    reg.add(1800.0, 300.0)
    assert reg.block_demand_kw == pytest.approx(1.2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"interval_s": 0.0}, "interval_s"),
        ({"subinterval_s": -1.0}, "subinterval_s"),
        ({"subintervals": 0}, "subintervals"),
        ({"start_s": math.inf}, "start_s"),
        ({"max_of": "peak"}, "max_of"),
    ],
)
def test_demand_register_validates_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DemandRegister(**kwargs)


# --- DemandRegister.add_many: the vectorised feed agrees with step-by-step add -------------------


@given(
    start=st.floats(0.0, 2000.0),
    chunks=st.lists(
        st.lists(st.tuples(st.floats(0.5, 400.0), st.floats(-5.0, 100.0)), min_size=1, max_size=60),
        min_size=1,
        max_size=4,
    ),
    max_of=st.sampled_from(["block", "rolling"]),
)
@settings(max_examples=60, deadline=None)
def test_add_many_equals_repeated_add(start, chunks, max_of) -> None:
    one = DemandRegister(start_s=start, max_of=max_of)
    many = DemandRegister(start_s=start, max_of=max_of)
    t = start
    for chunk in chunks:
        ends = t + np.cumsum([step for step, _ in chunk])
        energy = np.array([e for _, e in chunk])
        for end, e in zip(ends, energy, strict=True):
            one.add(float(end), float(e))
        many.add_many(ends, energy)
        t = float(ends[-1])
    for name in (
        "block_demand_kw",
        "block_demand_end_s",
        "rolling_demand_kw",
        "rolling_demand_end_s",
        "max_demand_kw",
        "max_demand_time_s",
        "time_s",
    ):
        a, b = getattr(one, name), getattr(many, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert b == pytest.approx(a, rel=1e-9, abs=1e-9), name


@pytest.mark.parametrize("max_of", ["block", "rolling"])
def test_a_flat_load_has_its_maximum_at_the_first_interval_by_every_feed(max_of: str) -> None:
    """A flat 862 W for two hours in 7.1 s steps of 1.7 Wh: every block demand is the same 0.862 kW up to
    rounding, so the maximum is the first interval's (the first block ends at 900 s; the first full rolling
    window of three 5-minute sub-intervals at 900 s too). Before, the step-by-step feed, the vectorised one
    and the series functions summed in different orders and put the maximum's time on different intervals
    (a hypothesis run of ``test_add_many_equals_repeated_add`` found 900 s against 1500 s)."""
    ends = np.cumsum(np.full(1014, 7.1))
    energy = np.full(ends.size, 1.7)
    one = DemandRegister(max_of=max_of)  # type: ignore[arg-type]
    many = DemandRegister(max_of=max_of)  # type: ignore[arg-type]
    for end, e in zip(ends, energy, strict=True):
        one.add(float(end), float(e))
    many.add_many(ends, energy)
    series = (block_demand_kw if max_of == "block" else rolling_demand_kw)(ends, energy, start_s=0.0)
    peak, when = max_demand_kw(*series)
    expected = 1.7 * 3.6 / 7.1  # kW
    for register in (one, many):
        assert register.max_demand_kw == pytest.approx(expected, rel=1e-9)
        assert register.max_demand_time_s == 900.0
    assert (peak, when) == (pytest.approx(expected, rel=1e-9), 900.0)


def test_add_many_hand_worked() -> None:
    # 1.2 kW for an hour in 1-minute steps of 20 Wh: four blocks of 1.2 kW, rolling 1.2 kW
    reg = DemandRegister()
    reg.add_many(60.0 * np.arange(1, 61), np.full(60, 20.0))
    assert reg.block_demand_kw == pytest.approx(1.2)
    assert reg.block_demand_end_s == 3600.0
    assert reg.rolling_demand_kw == pytest.approx(1.2)
    assert reg.max_demand_kw == pytest.approx(1.2)


@pytest.mark.parametrize(
    ("ends", "energy", "match"),
    [
        ([10.0, 5.0], [1.0, 1.0], "strictly increasing"),
        ([0.0], [1.0], "time_s"),
        ([10.0], [np.nan], "energy_wh"),
        ([10.0, 20.0], [1.0], "same length"),
    ],
)
def test_add_many_refuses_bad_input_and_changes_nothing(ends, energy, match) -> None:
    reg = DemandRegister()
    reg.add(5.0, 1.0)
    with pytest.raises(ValueError, match=match):
        reg.add_many(ends, energy)
    assert reg.time_s == 5.0
