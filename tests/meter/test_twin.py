"""Tests of meshmeter.meter.twin: the Meter twin run end to end (certificate 5361(b)-09; manual §2–§4, §7).

The numbers come from the spec: 200 W lights the load LED 1.5 min on, 1.5 min off (manual Table 3), i.e.
5 Wh per state (certificate p.2) -> 5 Wh · 3600 s/h / 200 W = 90 s; outputs "10", "100", "1000" of Kh 10,
100, 1000 Wh (manual Table 2B); a counter of Kh 100 ("-T") or 1000 (blank) (certificate p.1); accuracy
±0.5 % at PF 1.0 and ±0.75 % at PF 0.5, 2 to 200 A, 50–60 Hz (manual §3.1); supply 102–138 V (manual §3.1).

An "ideal" meter has a CT without error and the neutral calibration, so that registration is exactly
V·I·cos(φ) and times can be checked exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

import numpy as np
import pytest

from meshmeter.errors import DesignationError, RatingError, SealError
from meshmeter.meter.ct import CurrentTransformer
from meshmeter.meter.diagnostics import FindingCode
from meshmeter.meter.installation import ElementWiring, Service
from meshmeter.meter.metrology import Calibration
from meshmeter.meter.pulses import edge_count
from meshmeter.meter.seals import AuditEventKind, SealKind
from meshmeter.meter.twin import DEFAULT_START, Meter, RunResult, SteadyCondition

IDEAL_CT = CurrentTransformer(
    ratio_error_base=0.0, ratio_error_low_current=0.0, phase_base_min=0.0, phase_low_current_min=0.0
)
FACTORY_SEALS = ("factory-adhesive-1", "factory-adhesive-2", "factory-epoxy")
PHASE_CODES = {
    FindingCode.CT_REVERSED,
    FindingCode.CT_WRONG_PHASE,
    FindingCode.CTS_SWAPPED,
    FindingCode.POWER_FACTOR_OUT_OF_RANGE,
}
I_200W = 200.0 / 120.0  # 200 W at 120 V, PF 1 (manual Table 3)
Path = Literal["profile", "waveform"]


def ideal_meter(model: str = "MM-S1202001", **kwargs: Any) -> Meter:
    return Meter(model, ct=IDEAL_CT, calibration=Calibration(), **kwargs)


def one_line(voltage_v: float = 120.0, current_a: float = I_200W, phase_deg: float = 0.0) -> SteadyCondition:
    return SteadyCondition((voltage_v,), (current_a,), (phase_deg,))


def two_lines(
    voltage_v: float = 120.0, current_a: float = 10.0, phase_deg: float = 0.0, frequency_hz: float = 60.0
) -> SteadyCondition:
    return SteadyCondition(
        (voltage_v, voltage_v), (current_a, current_a), (phase_deg, phase_deg), frequency_hz=frequency_hz
    )


def run_const(
    meter: Meter,
    n: int,
    *,
    voltage_v: float = 120.0,
    current_a: float = I_200W,
    phase_deg: float = 0.0,
    step_s: float = 1.0,
) -> RunResult:
    """n steps of a constant load on every line of the meter."""
    shape = (meter.elements, n)
    return meter.run_profile(
        step_s=step_s,
        voltage_v=np.full(shape, voltage_v),
        current_a=np.full(shape, current_a),
        phase_deg=np.full(shape, phase_deg),
    )


def snapshot(meter: Meter) -> dict[str, Any]:
    """Everything a refused run must leave as it was."""
    return {
        "time_s": meter.time_s,
        "delivered": (meter.delivered.energy_wh, meter.delivered.residue_wh),
        "received": (meter.received.energy_wh, meter.received.residue_wh),
        "elements": [(r.energy_wh, r.residue_wh) for r in meter.element_registers],
        "demand": (
            meter.demand.time_s,
            meter.demand.block_demand_kw,
            meter.demand.rolling_demand_kw,
            meter.demand.max_demand_kw,
        ),
        "events": len(meter.audit.events),
        "counters": meter.audit.counters,
        "load_led_changes": len(meter.load_led_changes),
        "power_led": meter.power_led.lit,
        "powered": meter.powered,
        "power_kw": meter.power_kw,
        "measurements": meter.measurements,
        "calibration": meter.calibration,
    }


def codes(findings: Any) -> set[tuple[FindingCode, int | None]]:
    return {(f.code, f.element) for f in findings}


# --- construction from designations (certificate p.1) ----------------------------------------


@pytest.mark.parametrize(
    ("model", "elements", "counter_kh_wh"),
    [
        ("MM-D1202001-T-SCC", 2, 100.0),  # D: dual element (3-wire); T: Kh 100
        ("MM-D1202001-T", 2, 100.0),
        ("MM-D1202001-SCC", 2, 1000.0),  # blank Kh: 1000
        ("MM-D1202001", 2, 1000.0),
        ("MM-S1202001", 1, 1000.0),  # S: single element (2-wire)
        ("MM-S1202001-T-SCC", 1, 100.0),
        (" mm-s1202001-t ", 1, 100.0),  # whitespace and case are forgiven
    ],
)
def test_meter_from_designation(model: str, elements: int, counter_kh_wh: float) -> None:
    meter = Meter(model)
    assert meter.elements == elements
    assert len(meter.wiring) == elements
    assert len(meter.element_registers) == elements
    assert meter.outputs_kh_wh == {"10": 10.0, "100": 100.0, "1000": 1000.0, "counter": counter_kh_wh}
    assert meter.load_led_kt_wh == 10.0  # certificate p.2: Kt 10, 5 Wh on, 5 Wh off
    assert meter.ct.ratio == 2000.0  # 200:0.1 A
    assert meter.time_s == 0.0
    assert meter.start == DEFAULT_START
    assert not meter.powered
    assert meter.lcd() == ()
    assert meter.diagnose() == []


def test_meter_default_is_dual_element_t_scc() -> None:
    meter = Meter()
    assert meter.spec.designation == "MM-D1202001-T-SCC"
    assert meter.elements == 2
    assert meter.outputs_kh_wh["counter"] == 100.0


def test_meter_accepts_a_meter_spec() -> None:
    meter = Meter(Meter("MM-S1202001").spec, serial="A1")
    assert meter.elements == 1
    assert meter.serial == "A1"


@pytest.mark.parametrize(
    ("model", "field"),
    [
        ("MM-X1202001-T-SCC", "element"),
        ("MM-D2402001", "voltage"),
        ("MM-D1202002", "ct_ratio"),
        ("XX-D1202001", "prefix"),
        ("MM-D1202001-Q", "suffix"),
        ("MM-D1202001-X-SCC", "kh"),
        ("MM-D1202001-T-XYZ", "indicating_element"),
    ],
)
def test_meter_refuses_bad_designation(model: str, field: str) -> None:
    with pytest.raises(DesignationError, match=f"field '{field}'") as info:
        Meter(model)
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("serial", ["", "   ", None, 12345])
def test_meter_refuses_bad_serial(serial: Any) -> None:
    with pytest.raises(ValueError, match="serial must be a non-empty string"):
        Meter(serial=serial)


@pytest.mark.parametrize(
    "start",
    [datetime(2026, 1, 1), datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1)))],
    ids=["naive", "utc+1"],
)
def test_meter_refuses_start_not_utc(start: datetime) -> None:
    with pytest.raises(ValueError, match="start must be a timezone-aware UTC datetime"):
        Meter(start=start)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ct": CurrentTransformer(primary_a=100.0)}, "ct ratio 1000.0 does not match"),
        ({"wiring": [ElementWiring()]}, "wiring must have 2 entries"),
        ({"wiring": [ElementWiring()] * 3}, "wiring must have 2 entries"),
        ({"starting_current_a": -0.1}, "starting_current_a"),
        ({"starting_current_a": float("nan")}, "starting_current_a"),
        ({"supply_dropout_v": 0.0}, "supply_dropout_v"),
        ({"supply_dropout_v": float("inf")}, "supply_dropout_v"),
    ],
)
def test_meter_refuses_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Meter(**kwargs)


def test_meter_in_service_is_sealed_and_calibrated_at_the_factory() -> None:
    meter = Meter()
    assert meter.audit.is_sealed(SealKind.FACTORY)
    assert meter.audit.is_sealed(SealKind.INSTALLATION)
    assert {s.seal_id for s in meter.audit.seals} >= set(FACTORY_SEALS)
    assert meter.audit.counters.calibration_changes == 2  # gain and phase compensation
    assert meter.audit.calibration["gain"] == meter.calibration.gain
    bench = Meter(sealed=False)
    assert bench.audit.seals == ()


# --- profile path: the load LED (certificate p.2, manual Table 3) ---------------------------------


def test_load_led_200w_ideal_meter_changes_exactly_every_90_s() -> None:
    # 5 Wh per state at 200 W: 5 · 3600 / 200 = 90 s; on at 90 s, off at 180 s, ...
    result = ideal_meter().run_steady(one_line(), 400.0)
    assert result.registered_energy_wh == pytest.approx(200.0 * 400.0 / 3600.0, rel=1e-12)
    assert result.load_led_changes == 4
    assert result.load_led_change_times_s == pytest.approx([90.0, 180.0, 270.0, 360.0], abs=1e-9)


def test_load_led_200w_factory_meter_about_every_90_s() -> None:
    # the meter's own error moves the half period to 90 s / (1 + error); within the class (±0.5 % at PF 1)
    meter = Meter("MM-S1202001")
    result = meter.run_steady(one_line(), 400.0)
    times = np.asarray(result.load_led_change_times_s)
    assert times.size == 4
    half_periods = np.diff(np.concatenate(([0.0], times)))
    assert half_periods == pytest.approx(np.full(4, 90.0), rel=0.005)
    assert abs(result.error_percent) <= 0.5
    assert half_periods[1] == pytest.approx(90.0 / (1.0 + result.error_percent / 100.0), rel=1e-6)
    # lit at 90 s, off at 180 s: 50 % duty
    lit = [c.lit for c in meter.load_led_changes]
    assert lit == [True, False, True, False]


@pytest.mark.parametrize(("lit_run_s", "lit"), [(135.0, True), (225.0, False), (0.0, False)])
def test_load_led_keeps_its_state_without_load(lit_run_s: float, lit: bool) -> None:
    # 135 s at 200 W = 7.5 Wh: past the closure at 5 Wh -> lit; 225 s = 12.5 Wh: past the opening at 10 Wh
    meter = ideal_meter()
    if lit_run_s:
        run_const(meter, int(lit_run_s))
    assert meter.output_state("LOAD") is lit
    changes_before = len(meter.load_led_changes)
    result = run_const(meter, 3600, current_a=0.0)  # an hour, no load
    assert result.edges["LOAD"].time_s.size == 0
    assert meter.output_state("LOAD") is lit
    assert len(meter.load_led_changes) == changes_before
    assert all(r.closures(o) == 0 for r in [result] for o in ("10", "100", "1000", "counter"))


def test_output_state_refuses_unknown_output() -> None:
    with pytest.raises(ValueError, match="output must be one of"):
        Meter().output_state("5")


# --- profile path: pulse outputs (manual Table 2B, certificate p.1) -------------------------------


@pytest.mark.parametrize(
    ("model", "counter_closures"),
    [
        ("MM-S1202001-T", 10),  # Kh 100: 1000 Wh / 100
        ("MM-S1202001", 1),  # Kh 1000
        ("MM-D1202001-T-SCC", 10),
        ("MM-D1202001-SCC", 1),
    ],
)
def test_one_kwh_gives_the_pulses_of_each_output(model: str, counter_closures: int) -> None:
    # 125 V x 8 A = 1000 W on one line (500 W on each of two): 1 kWh in an hour.
    # Output Kh closes at Kh/2, 3 Kh/2, ... so 1000 Wh close "10" 100 times, "100" 10 times, "1000" once.
    meter = ideal_meter(model)
    current = 8.0 / meter.elements
    result = run_const(meter, 3600, voltage_v=125.0, current_a=current)
    assert meter.delivered.value_wh == pytest.approx(1000.0, abs=1e-9)
    assert result.closures("10") == 100
    assert result.closures("100") == 10
    assert result.closures("1000") == 1
    assert result.closures("counter") == counter_closures
    assert result.closures("LOAD") == 100  # Kt 10, like output "10"


def test_month_of_one_second_steps_has_no_drift() -> None:
    # 30 days at 200 W, 1 s steps: 144 kWh; a state change of the load LED and of output "10" (both
    # 5 Wh per state) every 90 s, edge k at k·90 s, 28 800 of each.
    meter = ideal_meter()
    n = 30 * 86_400
    result = run_const(meter, n)
    assert meter.time_s == pytest.approx(n)
    assert meter.delivered.value_wh == pytest.approx(144_000.0, abs=1e-6)
    for name in ("LOAD", "10"):
        edges = result.edges[name]
        k = np.arange(1, edges.time_s.size + 1)
        assert edges.time_s.size == 28_800
        assert np.array_equal(edges.k, k)
        assert np.array_equal(edges.closing, k % 2 == 1)
        assert np.max(np.abs(edges.time_s - 90.0 * k)) < 1e-3  # under a millisecond after a month
    assert result.closures("10") == 14_400
    assert result.closures("100") == 1_440
    assert result.closures("1000") == 144
    assert result.closures("counter") == 144  # Kh 1000 on MM-S1202001


def test_consecutive_runs_emit_every_edge_once() -> None:
    # four runs of 90 s at 200 W: 5 Wh each -> edges k = 1, 2, 3, 4 at 90, 180, 270, 360 s
    meter = ideal_meter()
    ks: list[int] = []
    times: list[float] = []
    for _ in range(4):
        result = run_const(meter, 90)
        ks.extend(int(k) for k in result.edges["LOAD"].k)
        times.extend(float(t) for t in result.edges["LOAD"].time_s)
        assert (ks[-1] if ks else 0) == int(edge_count(meter.delivered.value_wh, 10.0))
    assert ks == [1, 2, 3, 4]
    assert times == pytest.approx([90.0, 180.0, 270.0, 360.0], abs=1e-9)


def test_runs_in_chunks_register_as_one_run() -> None:
    # chunk ends well away from any edge: the split changes nothing
    one = ideal_meter()
    whole = run_const(one, 1000)
    split = ideal_meter()
    parts = [run_const(split, 333), run_const(split, 333), run_const(split, 334)]
    assert split.delivered.energy_wh == one.delivered.energy_wh
    assert split.delivered.residue_wh == pytest.approx(one.delivered.residue_wh, abs=1e-9)
    chunk_ks = np.concatenate([p.edges["LOAD"].k for p in parts])
    assert np.array_equal(chunk_ks, whole.edges["LOAD"].k)
    chunk_t = np.concatenate([p.edges["LOAD"].time_s for p in parts])
    assert chunk_t == pytest.approx(whole.edges["LOAD"].time_s, abs=1e-6)


def test_single_element_accepts_one_dimensional_series() -> None:
    a = ideal_meter()
    a.run_profile(step_s=1.0, voltage_v=[120.0] * 10, current_a=[10.0] * 10, phase_deg=[0.0] * 10)
    b = ideal_meter()
    run_const(b, 10, current_a=10.0)
    assert a.delivered.value_wh == b.delivered.value_wh == pytest.approx(1200.0 * 10 / 3600)


def test_run_result_fields() -> None:
    meter = ideal_meter("MM-D1202001-T-SCC")
    result = run_const(meter, 5, current_a=10.0, step_s=2.0)
    assert result.path == "profile"
    assert result.start_s == 0.0
    assert result.step_end_s == pytest.approx([2.0, 4.0, 6.0, 8.0, 10.0])
    assert result.end_s == 10.0
    assert result.element_power_w.shape == result.element_energy_wh.shape == (2, 5)
    assert result.element_power_w == pytest.approx(np.full((2, 5), 1200.0))
    assert result.element_energy_wh == pytest.approx(np.full((2, 5), 1200.0 * 2.0 / 3600.0))
    assert result.delivered_wh == pytest.approx(np.full(5, 2400.0 * 2.0 / 3600.0))
    assert np.all(result.received_wh == 0.0)
    assert np.all(result.supply_ok)
    assert set(result.edges) == {"10", "100", "1000", "counter", "LOAD"}
    assert meter.time_s == 10.0


def test_empty_run_changes_nothing() -> None:
    meter = ideal_meter()
    run_const(meter, 10)
    before = snapshot(meter)
    result = run_const(meter, 0)
    assert result.end_s == result.start_s == 10.0
    assert snapshot(meter) == before


# --- registers (docs/conventions.md: integer Wh + residue; total = positive part of the net) --------


def test_total_register_is_the_sum_of_the_element_registers() -> None:
    # all power positive: total = element 1 + element 2; loads differ per line and over time
    meter = Meter("MM-D1202001-T-SCC")
    rng = np.random.default_rng(1)
    n = 2000
    current = rng.uniform(2.0, 200.0, size=(2, n))
    phase = rng.uniform(-60.0, 60.0, size=(2, n))
    meter.run_profile(step_s=1.0, voltage_v=np.full((2, n), 120.0), current_a=current, phase_deg=phase)
    elements = sum(r.value_wh for r in meter.element_registers)
    assert meter.delivered.value_wh == pytest.approx(elements, rel=1e-12)
    assert meter.received.value_wh == 0.0
    true_wh = float(np.sum(120.0 * current * np.cos(np.deg2rad(phase)))) / 3600.0
    assert meter.delivered.value_wh == pytest.approx(true_wh, rel=0.005)


def test_registers_hold_integer_wh_and_a_residue() -> None:
    meter = ideal_meter()
    run_const(meter, 1234, current_a=7.3)  # 876 W for 1234 s = 300.28... Wh
    for register in (meter.delivered, *meter.element_registers):
        assert isinstance(register.energy_wh, int)
        assert 0.0 <= register.residue_wh < 1.0
        assert register.energy_wh + register.residue_wh == pytest.approx(register.value_wh)
    expected = 120.0 * 7.3 * 1234 / 3600.0
    assert meter.delivered.energy_wh == int(expected) == 300
    assert meter.delivered.residue_wh == pytest.approx(expected - 300, abs=1e-9)


# --- demand (docs/conventions.md "Intervals"; manual Table 3) --------------------------------------


def test_steady_load_block_demand_and_maximum() -> None:
    # 2 x 120 V x 15 A = 3.6 kW for an hour: four blocks of 900 Wh -> 3.6 kW each
    meter = ideal_meter("MM-D1202001-T-SCC")
    run_const(meter, 3600, current_a=15.0)
    assert meter.demand.block_demand_kw == pytest.approx(3.6, rel=1e-9)
    assert meter.demand.block_demand_end_s == 3600.0
    assert meter.demand.max_demand_kw == pytest.approx(3.6, rel=1e-9)
    assert meter.demand.rolling_demand_kw == pytest.approx(3.6, rel=1e-9)
    assert meter.delivered.value_wh == pytest.approx(3600.0, rel=1e-12)


def test_demand_step_sets_the_maximum_and_reset_clears_it() -> None:
    # 15 min at 3.6 kW, 15 min at 7.2 kW, 30 min at 3.6 kW: max 7.2 kW (block ending at 1800 s)
    meter = ideal_meter("MM-D1202001-T-SCC")
    run_const(meter, 900, current_a=15.0)
    run_const(meter, 900, current_a=30.0)
    run_const(meter, 1800, current_a=15.0)
    assert meter.demand.max_demand_kw == pytest.approx(7.2, rel=1e-9)
    assert meter.demand.max_demand_time_s == 1800.0
    assert meter.demand.block_demand_kw == pytest.approx(3.6, rel=1e-9)
    assert meter.demand.reset_max_demand() == pytest.approx(7.2, rel=1e-9)
    assert meter.demand.max_demand_kw == 0.0
    assert meter.demand.max_demand_resets == 1
    run_const(meter, 900, current_a=15.0)
    assert meter.demand.max_demand_kw == pytest.approx(3.6, rel=1e-9)


def test_demand_of_a_step_inside_one_block_is_its_average() -> None:
    # coarse 10-minute steps: 10 min at 7.2 kW then 5 min at 0 -> block 1.2 kWh / 0.25 h = 4.8 kW
    meter = ideal_meter("MM-D1202001-T-SCC")
    run_const(meter, 1, current_a=30.0, step_s=600.0)
    run_const(meter, 1, current_a=0.0, step_s=300.0)
    assert meter.demand.block_demand_kw == pytest.approx(4.8, rel=1e-9)


def test_demand_intervals_end_on_the_quarter_hour_utc() -> None:
    meter = ideal_meter("MM-D1202001-T-SCC", start=datetime(2026, 1, 1, 0, 7, tzinfo=UTC))
    run_const(meter, 3600, current_a=15.0)
    end_s = meter.demand.block_demand_end_s
    assert end_s is not None
    end = meter.wall_time(end_s - meter.demand_offset_s)  # the demand register counts from UTC midnight
    assert end.minute % 15 == 0
    assert end.second == 0


# --- LEDs and LCD (certificate p.2; manual Table 3, §4.7) -----------------------------------------


@pytest.mark.parametrize("path", ["profile", "waveform"])
@pytest.mark.parametrize(("voltage_v", "lit"), [(120.0, True), (102.0, True), (0.0, False)])
def test_power_led_lit_whenever_line_voltage_is_present(path: Path, voltage_v: float, lit: bool) -> None:
    result = Meter("MM-S1202001").run_steady(one_line(voltage_v, 5.0), 2.0, path=path)
    assert result.power_led_lit is lit


def test_power_led_follows_the_voltage() -> None:
    meter = Meter("MM-S1202001")
    run_const(meter, 10)
    assert meter.power_led.lit
    run_const(meter, 10, voltage_v=0.0)
    assert not meter.power_led.lit
    run_const(meter, 10)
    assert meter.power_led.lit
    assert [(c.time_s, c.lit) for c in meter.power_led.changes] == [(0.0, True), (10.0, False), (20.0, True)]


def test_power_led_dark_when_the_voltage_lead_is_disconnected() -> None:
    meter = Meter("MM-S1202001", wiring=[ElementWiring(voltage_connected=False)])
    result = meter.run_steady(one_line(120.0, 10.0), 2.0)
    assert not meter.powered
    assert result.power_led_lit is False


@pytest.mark.parametrize("voltage_v", [0.0, 60.0, 84.9])
def test_lcd_dark_without_a_proper_supply(voltage_v: float) -> None:
    meter = Meter("MM-S1202001")
    result = meter.run_steady(one_line(voltage_v, 10.0), 10.0)
    assert result.lcd == ()
    assert meter.lcd() == ()
    assert not meter.powered
    assert result.registered_energy_wh == 0.0


def test_lcd_serial_first_then_total_demand_and_power() -> None:
    # ideal meter, 3.6 kW for an hour: 3.6 kWh, 3.6 kW demand, 3.6 kW now
    meter = ideal_meter("MM-D1202001-T-SCC", serial="SN-0042")
    run_const(meter, 3600, current_a=15.0)
    screens = meter.lcd()
    assert [s.name for s in screens] == ["serial", "total", "demand", "power"]
    assert "SN-0042" in screens[0].text
    assert screens[1].text == "000003.6 kWh"
    assert screens[2].text == "   3.600 kW"
    assert screens[3].text == "   3.600 kW"
    assert not any("REV" in s.annunciators for s in screens)
    assert meter.power_kw == pytest.approx(3.6)


def test_lcd_demand_unknown_before_the_first_block() -> None:
    meter = ideal_meter()
    run_const(meter, 60)
    demand = meter.lcd()[2]
    assert demand.name == "demand"
    assert "--" in demand.text


@pytest.mark.parametrize("path", ["profile", "waveform"])
def test_reversed_ct_shows_reverse_phase(path: Path) -> None:
    meter = Meter("MM-D1202001-T-SCC", wiring=[ElementWiring(ct_reversed=True), ElementWiring()])
    result = meter.run_steady(two_lines(current_a=10.0), 2.0, path=path)
    assert meter.reverse_phase
    assert result.lcd[-1].name == "reverse"
    assert all("REV" in s.annunciators for s in result.lcd[1:])
    assert meter.measurements[0].power_w < 0 < meter.measurements[1].power_w


def test_healthy_meter_shows_no_reverse_phase() -> None:
    meter = Meter()
    result = meter.run_steady(two_lines(), 2.0)
    assert not meter.reverse_phase
    assert "reverse" not in [s.name for s in result.lcd]


def test_total_register_does_not_run_backwards() -> None:
    # a single-element meter with its CT reversed: net power negative -> the received register grows
    meter = ideal_meter(wiring=[ElementWiring(ct_reversed=True)])
    meter.delivered.add(10.0)  # energy registered before the fault
    result = meter.run_steady(one_line(120.0, 10.0), 3600.0)
    assert meter.delivered.value_wh == 10.0
    assert result.registered_energy_wh == 0.0
    assert result.received_energy_wh == pytest.approx(1200.0, rel=1e-9)
    assert meter.received.value_wh == pytest.approx(1200.0, rel=1e-9)
    assert meter.element_registers[0].value_wh == pytest.approx(-1200.0, rel=1e-9)
    assert result.power_kw == pytest.approx(-1.2)
    assert result.load_led_changes == 0  # the LED does not run on received energy
    assert meter.reverse_phase


# --- diagnostics through the meter (manual §4.5, §4.7, §7) ---------------------------------------


@pytest.mark.parametrize("path", ["profile", "waveform"])
def test_diagnose_reversed_ct(path: Path) -> None:
    meter = Meter(wiring=[ElementWiring(ct_reversed=True), ElementWiring()])
    meter.run_steady(two_lines(), 2.0, path=path)
    findings = meter.diagnose()
    assert codes(findings) == {(FindingCode.CT_REVERSED, 1)}
    assert "§4.5.1" in findings[0].remedy


def test_diagnose_reversed_ct_single_element() -> None:
    meter = Meter("MM-S1202001", wiring=[ElementWiring(ct_reversed=True)])
    result = meter.run_steady(one_line(120.0, 10.0), 2.0)
    assert (FindingCode.CT_REVERSED, 1) in codes(result.findings)
    assert any("§4.5.1" in f.remedy for f in result.findings)


@pytest.mark.parametrize("path", ["profile", "waveform"])
def test_diagnose_ct_on_the_wrong_phase_network(path: Path) -> None:
    # 120/208 V, CT1 on Line 2 at PF 1: I at -120°, 120° from V1 and 0° from V2 -> wrong phase
    meter = Meter(service=Service.NETWORK, wiring=[ElementWiring(ct_line=2), ElementWiring()])
    meter.run_steady(two_lines(), 2.0, path=path)
    findings = meter.diagnose()
    assert codes(findings) == {(FindingCode.CT_WRONG_PHASE, 1)}
    assert "§4.5.1" in findings[0].remedy


def test_diagnose_cts_swapped_network() -> None:
    meter = Meter(service=Service.NETWORK, wiring=[ElementWiring(ct_line=2), ElementWiring(ct_line=1)])
    meter.run_steady(two_lines(), 2.0)
    assert codes(meter.diagnose()) == {(FindingCode.CTS_SWAPPED, None)}


def test_diagnose_ct_on_the_other_leg_split_phase_is_seen_as_reversed() -> None:
    # on 120/240 V the other leg is -V1: indistinguishable from a reversed CT (diagnostics.py)
    meter = Meter(wiring=[ElementWiring(ct_line=2), ElementWiring()])
    meter.run_steady(two_lines(), 2.0)
    findings = meter.diagnose()
    assert codes(findings) == {(FindingCode.CT_REVERSED, 1)}
    assert "Line 2" in findings[0].message


@pytest.mark.parametrize(
    ("voltage_v", "code"),
    [(101.0, FindingCode.VOLTAGE_LOW), (139.0, FindingCode.VOLTAGE_HIGH)],  # outside 102–138 V
)
@pytest.mark.parametrize("path", ["profile", "waveform"])
def test_diagnose_supply_voltage_out_of_range(voltage_v: float, code: FindingCode, path: Path) -> None:
    meter = Meter()
    meter.run_steady(two_lines(voltage_v=voltage_v), 2.0, path=path)
    assert codes(meter.diagnose()) == {(code, 1), (code, 2)}


@pytest.mark.parametrize("voltage_v", [102.0, 120.0, 138.0])
def test_diagnose_supply_voltage_in_range(voltage_v: float) -> None:
    meter = Meter()
    meter.run_steady(two_lines(voltage_v=voltage_v), 2.0)
    assert meter.diagnose() == []


@pytest.mark.parametrize("path", ["profile", "waveform"])
def test_diagnose_no_load(path: Path) -> None:
    meter = Meter()
    result = meter.run_steady(two_lines(current_a=0.0), 2.0, path=path)
    assert codes(result.findings) == {(FindingCode.NO_LOAD, None)}
    assert result.registered_energy_wh == 0.0


def test_diagnose_voltage_lead_disconnected() -> None:
    meter = Meter(wiring=[ElementWiring(), ElementWiring(voltage_connected=False)])
    meter.run_steady(two_lines(), 2.0)
    assert (FindingCode.VOLTAGE_MISSING, 2) in codes(meter.diagnose())


@pytest.mark.parametrize("service", list(Service))
@pytest.mark.parametrize("phase_deg", [60.0, -60.0, 0.0])  # PF 0.5 lagging, leading; PF 1
@pytest.mark.parametrize("path", ["profile", "waveform"])
def test_diagnose_healthy_loads_have_no_phase_finding(service: Service, phase_deg: float, path: Path) -> None:
    meter = Meter(service=service)
    result = meter.run_steady(two_lines(phase_deg=phase_deg), 2.0, path=path)
    assert not {f.code for f in result.findings} & PHASE_CODES
    assert result.findings == ()
    assert not meter.reverse_phase


# --- waveform path (manual §3.1 accuracy) ---------------------------------------------------------

_CASES = [
    pytest.param(
        f,
        i,
        phi,
        id=f"{f:g}Hz-{i:g}A-{phi:+g}deg",
    )
    for f in (60.0, 50.0)
    for i in (2.0, 30.0, 200.0)
    for phi in (0.0, 60.0, -60.0)
]


def _limit_percent(phase_deg: float) -> float:
    return 0.5 if phase_deg == 0.0 else 0.75  # manual §3.1


@pytest.mark.parametrize(("frequency_hz", "current_a", "phase_deg"), _CASES)
def test_waveform_path_within_accuracy_class(frequency_hz: float, current_a: float, phase_deg: float) -> None:
    condition = two_lines(current_a=current_a, phase_deg=phase_deg, frequency_hz=frequency_hz)
    result = Meter().run_steady(condition, 2.0, path="waveform")
    assert result.path == "waveform"
    assert result.duration_s == pytest.approx(2.0, abs=1.0 / frequency_hz)
    assert abs(result.error_percent) <= _limit_percent(phase_deg)


@pytest.mark.parametrize(("frequency_hz", "current_a", "phase_deg"), _CASES)
def test_profile_path_within_accuracy_class(frequency_hz: float, current_a: float, phase_deg: float) -> None:
    condition = two_lines(current_a=current_a, phase_deg=phase_deg, frequency_hz=frequency_hz)
    result = Meter().run_steady(condition, 2.0)
    assert abs(result.error_percent) <= _limit_percent(phase_deg)


@pytest.mark.parametrize("frequency_hz", [60.0, 50.0])
@pytest.mark.parametrize("current_a", [2.0, 30.0, 200.0])
@pytest.mark.parametrize("phase_deg", [0.0, 60.0, -60.0])
def test_waveform_path_agrees_with_profile_path(
    frequency_hz: float, current_a: float, phase_deg: float
) -> None:
    condition = two_lines(current_a=current_a, phase_deg=phase_deg, frequency_hz=frequency_hz)
    wave = Meter().run_steady(condition, 2.0, path="waveform")
    profile = Meter().run_steady(condition, 2.0)
    ratio = (wave.registered_energy_wh / wave.duration_s) / (
        profile.registered_energy_wh / profile.duration_s
    )
    assert ratio == pytest.approx(1.0, abs=5e-4)  # 0.05 %


def test_waveform_ideal_meter_registers_true_energy() -> None:
    result = ideal_meter("MM-D1202001-T-SCC").run_steady(two_lines(current_a=30.0), 2.0, path="waveform")
    assert result.registered_energy_wh == pytest.approx(result.true_energy_wh, rel=2e-4)


def test_waveform_run_updates_clock_and_measurements() -> None:
    meter = Meter()
    meter.run_steady(two_lines(current_a=30.0, phase_deg=60.0), 2.0, path="waveform")
    assert meter.time_s == pytest.approx(2.0, abs=1.0 / 60.0)
    assert meter.power_kw == pytest.approx(2 * 120.0 * 30.0 * 0.5 / 1000.0, rel=0.0075)
    m1, m2 = meter.measurements
    assert m1.voltage_v == pytest.approx(120.0, rel=1e-3)
    assert m2.voltage_angle_deg == pytest.approx(180.0, abs=0.5) or m2.voltage_angle_deg == pytest.approx(
        -180.0, abs=0.5
    )
    # current lags its voltage by about 60°
    assert (m1.voltage_angle_deg - m1.current_angle_deg) == pytest.approx(60.0, abs=1.0)


# --- calibration and seals (certificate p.2 "Sealing", Fig. 2–3) ----------------------------------


def _break_factory_seals(meter: Meter, at: datetime) -> None:
    for seal_id in FACTORY_SEALS:
        meter.audit.break_seal(seal_id, at=at, by="test laboratory", reason="recalibration")


def test_calibrate_refused_while_the_factory_seal_is_intact() -> None:
    meter = Meter()
    run_const(meter, 10, current_a=10.0)
    before = snapshot(meter)
    with pytest.raises(SealError, match="factory seals"):
        meter.calibrate(gain=1.01, actor="tamperer")
    with pytest.raises(SealError):
        meter.calibrate(phase_compensation_min=0.0, actor="tamperer")
    assert snapshot(meter) == before
    assert meter.audit.events[-1].kind is not AuditEventKind.CALIBRATION_CHANGED


def test_calibrate_refused_while_one_factory_seal_is_intact() -> None:
    meter = Meter()
    at = meter.start + timedelta(hours=1)
    for seal_id in FACTORY_SEALS[:2]:
        meter.audit.break_seal(seal_id, at=at, by="lab")
    calibration = meter.calibration
    with pytest.raises(SealError, match="factory-epoxy"):
        meter.calibrate(gain=1.01, actor="lab", at=at)
    assert meter.calibration == calibration


def test_calibrate_after_breaking_the_factory_seals_is_recorded() -> None:
    meter = Meter()
    at = meter.start + timedelta(hours=1)
    _break_factory_seals(meter, at)
    old = meter.calibration
    changes = meter.audit.counters.calibration_changes
    new = meter.calibrate(gain=1.02, phase_compensation_min=3.0, actor="lab", at=at)
    assert new == Calibration(gain=1.02, phase_compensation_min=3.0)
    assert meter.calibration == new
    assert meter.audit.counters.calibration_changes == changes + 2
    gain_event, phase_event = meter.audit.events[-2:]
    assert gain_event.kind is AuditEventKind.CALIBRATION_CHANGED
    assert dict(gain_event.detail) == {"parameter": "gain", "old": old.gain, "new": 1.02}
    assert gain_event.actor == "lab"
    assert gain_event.at == at
    assert phase_event.detail["parameter"] == "phase_compensation_min"
    assert meter.audit.calibration["gain"] == 1.02


def test_gain_one_percent_up_raises_registration_one_percent() -> None:
    meter = Meter()
    before = meter.run_steady(two_lines(current_a=30.0), 60.0)
    _break_factory_seals(meter, meter.wall_time(meter.time_s))
    meter.calibrate(gain=meter.calibration.gain * 1.01, actor="lab")
    after = meter.run_steady(two_lines(current_a=30.0), 60.0)
    assert after.registered_energy_wh / before.registered_energy_wh == pytest.approx(1.01, rel=1e-9)
    assert after.error_percent - before.error_percent == pytest.approx(1.0, abs=0.01)


def test_calibrate_refuses_bad_gain_and_changes_nothing() -> None:
    meter = Meter(sealed=False)
    before = snapshot(meter)
    with pytest.raises(ValueError, match="gain"):
        meter.calibrate(gain=0.0, actor="lab")
    assert snapshot(meter) == before


# --- supply (manual §3.1 102–138 V, §4.7; certificate p.2) ---------------------------------------


def test_supply_dropout_stops_registration_and_records_power_events() -> None:
    meter = Meter("MM-S1202001")
    run_const(meter, 60, current_a=10.0)
    assert meter.powered
    assert meter.audit.events[-1].kind is AuditEventKind.POWER_UP
    assert meter.audit.events[-1].at == meter.start
    registered = meter.delivered.value_wh
    assert registered > 0

    result = run_const(meter, 60, voltage_v=60.0, current_a=10.0)  # L1 below the 85 V drop-out
    assert not np.any(result.supply_ok)
    assert np.all(result.element_power_w == 0.0)
    assert meter.delivered.value_wh == registered
    assert not meter.powered
    assert meter.lcd() == ()
    assert meter.power_led.lit  # 60 V is still line voltage present (certificate p.2)
    down = meter.audit.events[-1]
    assert down.kind is AuditEventKind.POWER_DOWN
    assert down.at == meter.wall_time(60.0)
    assert meter.audit.counters.power_downs == 1

    run_const(meter, 60, current_a=10.0)
    assert meter.powered
    up = meter.audit.events[-1]
    assert up.kind is AuditEventKind.POWER_UP
    assert up.at == meter.wall_time(120.0)
    assert meter.delivered.value_wh > registered
    assert meter.lcd()[0].name == "serial"


def test_power_events_within_one_run() -> None:
    meter = Meter("MM-S1202001")
    v = np.array([120.0] * 5 + [0.0] * 5 + [120.0] * 5)
    result = meter.run_profile(step_s=1.0, voltage_v=v, current_a=np.full(15, 10.0), phase_deg=np.zeros(15))
    assert result.supply_ok.tolist() == [True] * 5 + [False] * 5 + [True] * 5
    power = [e for e in meter.audit.events if e.kind in (AuditEventKind.POWER_UP, AuditEventKind.POWER_DOWN)]
    assert [(e.kind, e.at) for e in power] == [
        (AuditEventKind.POWER_UP, meter.wall_time(0.0)),
        (AuditEventKind.POWER_DOWN, meter.wall_time(5.0)),
        (AuditEventKind.POWER_UP, meter.wall_time(10.0)),
    ]


# --- bad input changes nothing (DESIGN.md "Errors") -----------------------------------------------


def _good_profile(n: int = 3) -> dict[str, Any]:
    return {
        "step_s": 1.0,
        "voltage_v": np.full((2, n), 120.0),
        "current_a": np.full((2, n), 10.0),
        "phase_deg": np.zeros((2, n)),
    }


_NAN_V = np.full((2, 3), 120.0)
_NAN_V[1, 2] = np.nan


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"voltage_v": _NAN_V}, "voltage_v must be finite"),
        ({"current_a": np.full((2, 3), np.nan)}, "current_a must be finite"),
        ({"phase_deg": np.full((2, 3), np.inf)}, "phase_deg must be finite"),
        ({"current_a": np.full((2, 4), 10.0)}, "must have one shape"),
        ({"phase_deg": np.zeros((2, 2))}, "must have one shape"),
        ({"voltage_v": np.full((1, 3), 120.0)}, r"voltage_v must have shape \(2, n\)"),
        ({"current_a": np.full((3, 3), 10.0)}, r"current_a must have shape \(2, n\)"),
        ({"voltage_v": np.full(3, 120.0)}, r"voltage_v must have shape \(2, n\)"),
        ({"current_a": np.full((2, 3), -1.0)}, "current_a must be >= 0"),
        ({"voltage_v": np.full((2, 3), -1.0)}, "voltage_v .*must be >= 0"),
        ({"step_s": 0.0}, "step_s must be finite and > 0"),
        ({"step_s": -1.0}, "step_s must be finite and > 0"),
        ({"step_s": float("nan")}, "step_s must be finite and > 0"),
        ({"frequency_hz": 0.0}, "frequency_hz must be finite and > 0"),
        ({"frequency_hz": [60.0, np.nan, 60.0]}, "frequency_hz must be finite and > 0"),
        ({"frequency_hz": [60.0, 60.0]}, "frequency_hz must be a scalar or have 3 entries"),
    ],
)
def test_run_profile_refuses_bad_input_and_changes_nothing(change: dict[str, Any], match: str) -> None:
    meter = Meter()
    meter.run_profile(**_good_profile(1000))
    before = snapshot(meter)
    with pytest.raises(ValueError, match=match):
        meter.run_profile(**{**_good_profile(), **change})
    assert snapshot(meter) == before


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((two_lines(), 0.0), {}, "duration_s must be finite and > 0"),
        ((two_lines(), -5.0), {}, "duration_s must be finite and > 0"),
        ((two_lines(), float("nan")), {}, "duration_s must be finite and > 0"),
        ((two_lines(), float("inf")), {}, "duration_s must be finite and > 0"),
        ((one_line(), 10.0), {}, "condition must give 2 lines"),
        ((SteadyCondition((120.0,) * 3, (1.0,) * 3, (0.0,) * 3), 10.0), {}, "condition must give 2 lines"),
        ((two_lines(), 10.0), {"path": "ideal"}, "path must be 'profile' or 'waveform'"),
        ((two_lines(), 10.0), {"step_s": 0.0}, "step_s must be finite and > 0"),
        ((two_lines(), 10.0), {"path": "waveform", "block_s": 0.0}, "block_s must be finite and > 0"),
    ],
)
def test_run_steady_refuses_bad_input_and_changes_nothing(
    args: tuple[Any, ...], kwargs: dict[str, Any], match: str
) -> None:
    meter = Meter()
    meter.run_steady(two_lines(), 100.0)
    before = snapshot(meter)
    with pytest.raises(ValueError, match=match):
        meter.run_steady(*args, **kwargs)
    assert snapshot(meter) == before


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"voltage_v": (120.0,), "current_a": (1.0, 1.0), "phase_deg": (0.0,)}, "one entry per line"),
        ({"voltage_v": (), "current_a": (), "phase_deg": ()}, "one entry per line"),
        ({"voltage_v": (np.nan,), "current_a": (1.0,), "phase_deg": (0.0,)}, "voltage_v must be finite"),
        ({"voltage_v": (120.0,), "current_a": (-1.0,), "phase_deg": (0.0,)}, "must be >= 0"),
        (
            {"voltage_v": (120.0,), "current_a": (1.0,), "phase_deg": (0.0,), "frequency_hz": 0.0},
            "frequency_hz",
        ),
    ],
)
def test_steady_condition_refuses_bad_input(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SteadyCondition(**kwargs)


def test_steady_condition_true_power() -> None:
    # 2 x 120 V x 10 A x cos 60° = 1200 W
    assert two_lines(phase_deg=60.0).true_power_w == pytest.approx(1200.0)
    assert one_line(120.0, 10.0, -60.0).true_power_w == pytest.approx(600.0)


def test_steady_result_reports_the_run() -> None:
    meter = Meter("MM-S1202001", serial="X9")
    result = meter.run_steady(one_line(120.0, 30.0), 60.0)
    assert result.model == "MM-S1202001"
    assert result.serial == "X9"
    assert result.path == "profile"
    assert result.duration_s == pytest.approx(60.0)
    assert result.true_energy_wh == pytest.approx(3600.0 * 60.0 / 3600.0)
    assert result.percent_registration == pytest.approx(100.0, abs=0.5)
    # about 60 Wh: "10" closes at 5, 15, 25, 35, 45, 55 Wh; "100" at 50 Wh; "1000" and counter never
    assert result.pulses == {"10": 6, "100": 1, "1000": 0, "counter": 0}
    assert result.load_led_changes == 12
    assert result.power_kw == pytest.approx(3.6, rel=0.005)
    assert result.demand_kw is None
    assert len(result.measurements) == 1


def test_steady_result_without_true_energy_has_nan_registration() -> None:
    result = Meter("MM-S1202001").run_steady(one_line(120.0, 0.0), 10.0)
    assert np.isnan(result.percent_registration)


def test_reference_load_of_the_led_check_is_not_flagged() -> None:
    # manual Table 3: at 200 W the LED flashes 1.5 min on, 1.5 min off; the factory meter reads a 200 W
    # load (1.67 A, 1 % of the CT's rating) slightly low, and that must not count as "too low"
    meter = Meter("MM-S1202001")
    result = meter.run_steady(SteadyCondition((120.0,), (200.0 / 120.0,), (0.0,)), 600.0)
    assert all(f.code != FindingCode.LOAD_TOO_LOW_FOR_LED_CHECK for f in result.findings)


@pytest.mark.parametrize("phase_deg", [60.0, -60.0, 0.0])
def test_waveform_partial_cycles_do_not_bias_the_total_register(phase_deg: float) -> None:
    # a partial window (before the first zero crossing) of a lagging load can have a negative net;
    # it joins the next whole cycle, so the total register equals the sum of the element registers
    meter = Meter("MM-D1202001-T-SCC")
    c = SteadyCondition((120.0, 120.0), (30.0, 30.0), (phase_deg, phase_deg))
    meter.run_steady(c, 2.0, path="waveform", block_s=0.37)
    elements = sum(r.energy_wh + r.residue_wh for r in meter.element_registers)
    assert meter.delivered.value_wh == pytest.approx(elements, rel=1e-12)
    assert meter.received.value_wh == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        # manual §3.1: 220 A primary for 200 A models; line frequency 50-60 Hz (±2 Hz accepted)
        ({"current_a": (220.1,)}, "current_a = 220.1"),
        ({"frequency_hz": 45.0}, "frequency_hz = 45.0"),
        ({"frequency_hz": 65.0}, "frequency_hz = 65.0"),
    ],
)
def test_condition_outside_the_ratings_is_refused(kwargs: dict[str, Any], match: str) -> None:
    base: dict[str, Any] = {"voltage_v": (120.0,), "current_a": (10.0,), "phase_deg": (0.0,)}
    with pytest.raises(RatingError, match=match):
        SteadyCondition(**(base | kwargs))


def test_condition_at_the_rating_limits_is_accepted() -> None:
    SteadyCondition((120.0,), (220.0,), (0.0,), frequency_hz=50.0)
    SteadyCondition((139.0,), (0.0,), (0.0,), frequency_hz=60.0)  # a wrong supply is diagnosed, not refused


def test_run_profile_refuses_current_above_rating_and_changes_nothing() -> None:
    meter = Meter("MM-S1202001")
    with pytest.raises(RatingError, match="220"):
        meter.run_profile(step_s=1.0, voltage_v=[120.0, 120.0], current_a=[10.0, 250.0], phase_deg=[0.0, 0.0])
    assert meter.time_s == 0.0
    assert meter.delivered.value_wh == 0.0
