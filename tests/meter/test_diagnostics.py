"""Tests of meshmeter.meter.diagnostics with hand-built phasors (manual §4.5, §4.7, §7)."""

from __future__ import annotations

import math

import pytest

from meshmeter.meter.diagnostics import (
    DEFAULT_LIMITS,
    DiagnosticLimits,
    ElementMeasurement,
    Finding,
    FindingCode,
    Severity,
    diagnose,
    load_led_half_period_s,
    phase_angle_deg,
    reverse_phase_indicated,
    wrap_angle_deg,
)

SPLIT_V2_DEG = 180.0  # 120/240 V split-phase service: L2 opposite L1
NETWORK_V2_DEG = (-120.0, 120.0)  # 120/208 V network, either phase sequence
LAG_05 = 60.0  # arccos(0.5): a 0.5 PF load's current lags its voltage by 60°


def meas(
    element: int,
    voltage_angle_deg: float,
    current_angle_deg: float,
    *,
    voltage_v: float = 120.0,
    current_a: float = 10.0,
    ct_open: bool = False,
) -> ElementMeasurement:
    """A measurement whose power is V·I·cos(phase), as the meter would measure it."""
    phase = math.radians(voltage_angle_deg - current_angle_deg)
    return ElementMeasurement(
        element=element,
        voltage_v=voltage_v,
        voltage_angle_deg=voltage_angle_deg,
        current_a=current_a,
        current_angle_deg=current_angle_deg,
        power_w=voltage_v * current_a * math.cos(phase),
        ct_open=ct_open,
    )


def pair(v2_deg: float, i1_deg: float, i2_deg: float, **kw: float) -> list[ElementMeasurement]:
    return [meas(1, 0.0, i1_deg, **kw), meas(2, v2_deg, i2_deg, **kw)]  # type: ignore[arg-type]


def codes(findings: list[Finding]) -> list[tuple[FindingCode, int | None]]:
    return [(f.code, f.element) for f in findings]


# --- angles -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("angle", "expected"),
    [(0.0, 0.0), (180.0, 180.0), (-180.0, 180.0), (540.0, 180.0), (-190.0, 170.0), (359.0, -1.0)],
)
def test_wrap_angle(angle, expected):
    assert wrap_angle_deg(angle) == pytest.approx(expected)


def test_phase_angle_sign_lagging_positive():
    # docs/conventions.md: a lagging current has a more negative angle than its voltage
    assert phase_angle_deg(0.0, -30.0) == pytest.approx(30.0)
    assert phase_angle_deg(180.0, -170.0) == pytest.approx(-10.0)


def test_wrap_angle_nan_refused():
    with pytest.raises(ValueError, match="angle_deg"):
        wrap_angle_deg(math.nan)


# --- healthy installations: no finding ----------------------------------------------------------


@pytest.mark.parametrize("phase", [0.0, LAG_05, -LAG_05, 64.0, -64.0, 30.0])
def test_split_phase_healthy_loads_not_flagged(phase):
    # lagging (phase > 0) and leading (phase < 0) loads down to 0.5 PF, and within the 5° margin
    found = diagnose(pair(SPLIT_V2_DEG, -phase, SPLIT_V2_DEG - phase), elements=2)
    assert found == []


@pytest.mark.parametrize("v2", NETWORK_V2_DEG)
@pytest.mark.parametrize("phase", [0.0, LAG_05, -LAG_05, 64.0, -64.0])
def test_network_healthy_loads_not_flagged(v2, phase):
    # 120/208: a 0.5 PF lagging load on L1 is as close to V2 (or -V2) as to V1; still healthy
    found = diagnose(pair(v2, -phase, v2 - phase), elements=2)
    assert found == []


def test_single_element_healthy_ignores_element_two():
    # element 2's measurement is nonsense (no voltage, reversed) and must be ignored
    junk = ElementMeasurement(2, 0.0, 0.0, 50.0, 180.0, -500.0)
    assert diagnose([meas(1, 0.0, -20.0), junk], elements=1) == []


# --- reversed CTs -------------------------------------------------------------------------------


def test_single_element_reversed():
    found = diagnose([meas(1, 0.0, 180.0 - 20.0)], elements=1)
    assert codes(found) == [(FindingCode.CT_REVERSED, 1)]
    assert found[0].severity is Severity.ERROR
    assert "manual §4.5.1" in found[0].remedy
    assert "LINE side" in found[0].remedy
    assert "Line 2" not in found[0].message


@pytest.mark.parametrize("v2", NETWORK_V2_DEG)
def test_network_ct1_reversed_is_certain(v2):
    # I1 at 180°: 0° from -V1, 60° from ±V2: reversal only
    found = diagnose(pair(v2, 180.0, v2), elements=2)
    assert codes(found) == [(FindingCode.CT_REVERSED, 1)]
    assert "may instead" not in found[0].message


def test_split_phase_one_reversed_notes_other_leg():
    # CT1 reversed on a split-phase service: I1 at 180° is also exactly V2
    found = diagnose(pair(SPLIT_V2_DEG, 180.0, 180.0), elements=2)
    assert codes(found) == [(FindingCode.CT_REVERSED, 1)]
    assert "Line 2" in found[0].message
    assert "in phase" in found[0].remedy


def test_split_phase_reversed_with_lagging_load():
    # element 2 reversed with 0.5 PF lagging: I2 at 180 - 60 + 180 = 300 → -60°
    found = diagnose(pair(SPLIT_V2_DEG, -LAG_05, -LAG_05), elements=2)
    assert codes(found) == [(FindingCode.CT_REVERSED, 2)]


# --- swapped CTs ------------------------------------------------------------------------------


def test_split_phase_swapped_or_both_reversed():
    # I1 at 180° (= V2), I2 at 0° (= V1): swapped, or both reversed; one finding for the pair
    found = diagnose(pair(SPLIT_V2_DEG, 180.0, 0.0), elements=2)
    assert codes(found) == [(FindingCode.CTS_SWAPPED, None)]
    assert "both CTs reversed" in found[0].message
    assert "CT1 on Line 1" in found[0].remedy


@pytest.mark.parametrize("v2", NETWORK_V2_DEG)
@pytest.mark.parametrize("phase", [0.0, 30.0, -30.0])
def test_network_swapped(v2, phase):
    # CT1 sees L2's current, CT2 sees L1's current
    found = diagnose(pair(v2, v2 - phase, -phase), elements=2)
    assert codes(found) == [(FindingCode.CTS_SWAPPED, None)]
    assert "both CTs reversed" not in found[0].message


# --- wrong phase ------------------------------------------------------------------------------


@pytest.mark.parametrize("v2", NETWORK_V2_DEG)
def test_network_both_cts_on_line_two(v2):
    # CT1 on L2 at unity PF: I1 at V2, 120° from V1; CT2 healthy
    found = diagnose(pair(v2, v2, v2), elements=2)
    assert codes(found) == [(FindingCode.CT_WRONG_PHASE, 1)]
    assert "CT1 on Line 1" in found[0].remedy
    assert "Line 2" in found[0].message


def test_network_wrong_phase_and_reversed():
    # V2 at -120°; CT1 on L2 reversed, L2 load leading 30°: I_L2 at -90°, reversed at +90°.
    # From V1 90°; from -V1 90°; from V2 150°; from -V2 (60°) 30° → other line, reversed.
    found = diagnose(pair(-120.0, 90.0, -90.0), elements=2)
    assert codes(found) == [(FindingCode.CT_WRONG_PHASE, 1), (FindingCode.CT_REVERSED, 1)]


def test_network_wrong_phase_lagging_looks_reversed():
    # documented limit: CT1 on L2 (V2 at -120°) with a 0.5 PF lagging load gives I1 at 180°,
    # exactly a reversed CT1 at unity PF; the simpler fault (reversal) is reported
    found = diagnose(pair(-120.0, 180.0, -120.0), elements=2)
    assert codes(found) == [(FindingCode.CT_REVERSED, 1)]


def test_single_element_has_no_other_line():
    # 100° lag on a single-element meter: no other line to blame, 80° from reversal
    found = diagnose([meas(1, 0.0, -100.0)], elements=1)
    assert codes(found) == [(FindingCode.POWER_FACTOR_OUT_OF_RANGE, 1)]


# --- power factor outside the range ---------------------------------------------------------------


@pytest.mark.parametrize("phase", [90.0, -90.0, 75.0, -105.0])
def test_split_phase_quadrature_unexplained(phase):
    found = diagnose(pair(SPLIT_V2_DEG, -phase, SPLIT_V2_DEG), elements=2)
    assert codes(found) == [(FindingCode.POWER_FACTOR_OUT_OF_RANGE, 1)]
    assert found[0].severity is Severity.WARNING
    assert "0.5" in found[0].remedy


# --- voltage ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("voltage", "code"),
    [
        (101.9, FindingCode.VOLTAGE_LOW),
        (138.1, FindingCode.VOLTAGE_HIGH),
        (0.0, FindingCode.VOLTAGE_MISSING),
        (19.9, FindingCode.VOLTAGE_MISSING),
    ],
)
def test_single_element_voltage(voltage, code):
    found = diagnose([meas(1, 0.0, 0.0, voltage_v=voltage)], elements=1)
    assert codes(found)[0] == (code, 1)
    assert "102–138 V" in found[0].remedy
    assert f"{voltage:.1f} V" in found[0].message


@pytest.mark.parametrize("voltage", [102.0, 138.0, 120.0])
def test_voltage_limits_inclusive(voltage):
    assert diagnose([meas(1, 0.0, 0.0, voltage_v=voltage)], elements=1) == []


def test_single_element_no_voltage_judges_nothing_else():
    # unpowered meter (LCD not illuminated): only the missing voltage is reported
    found = diagnose([meas(1, 0.0, 180.0, voltage_v=0.0, current_a=0.0)], elements=1)
    assert codes(found) == [(FindingCode.VOLTAGE_MISSING, 1)]
    assert "fuses" in found[0].remedy


def test_dual_element_line_two_absent():
    ms = [meas(1, 0.0, -10.0), meas(2, 0.0, 180.0, voltage_v=0.0)]
    found = diagnose(ms, elements=2)
    assert codes(found) == [(FindingCode.VOLTAGE_MISSING, 2)]


def test_dual_element_line_two_absent_element_one_still_checked():
    ms = [meas(1, 0.0, 180.0), meas(2, 0.0, 0.0, voltage_v=0.0)]
    found = diagnose(ms, elements=2)
    assert codes(found) == [(FindingCode.VOLTAGE_MISSING, 2), (FindingCode.CT_REVERSED, 1)]
    assert "Line 2" not in found[1].message  # no L2 voltage to compare with


# --- currents and load ----------------------------------------------------------------------------


def test_no_load():
    found = diagnose(pair(SPLIT_V2_DEG, 0.0, 180.0, current_a=0.01), elements=2)
    assert codes(found) == [(FindingCode.NO_LOAD, None)]
    assert found[0].severity is Severity.INFO
    assert "keep its state" in found[0].message
    assert "sufficient load" in found[0].remedy


def test_ct_not_connected_while_other_element_loaded():
    ms = [meas(1, 0.0, 0.0), meas(2, SPLIT_V2_DEG, SPLIT_V2_DEG, current_a=0.0)]
    found = diagnose(ms, elements=2)
    assert codes(found) == [(FindingCode.CT_NOT_CONNECTED, 2)]
    assert found[0].severity is Severity.WARNING
    assert "check power connections and fuses" in found[0].remedy


def test_ct_flagged_open_is_an_error():
    ms = [meas(1, 0.0, 0.0), meas(2, SPLIT_V2_DEG, SPLIT_V2_DEG, current_a=0.0, ct_open=True)]
    found = diagnose(ms, elements=2)
    assert codes(found) == [(FindingCode.CT_NOT_CONNECTED, 2)]
    assert found[0].severity is Severity.ERROR


@pytest.mark.parametrize(
    ("current_a", "half_period_text"),
    [
        (100.0 / 120.0, "180 s"),  # 100 W: 5 Wh·3600/100 W = 180 s
        (50.0 / 120.0, "360 s"),  # 50 W: below the phase-check current, LED check only
    ],
)
def test_load_too_low_for_led_check(current_a, half_period_text):
    found = diagnose([meas(1, 0.0, 0.0, current_a=current_a)], elements=1)
    assert codes(found) == [(FindingCode.LOAD_TOO_LOW_FOR_LED_CHECK, None)]
    assert half_period_text in found[0].message


def test_led_check_threshold_inclusive():
    # exactly 200 W: 90 s half-period, the manual's "1.5 minutes on, 1.5 minutes off"
    assert diagnose([meas(1, 0.0, 0.0, current_a=200.0 / 120.0)], elements=1) == []


def test_negative_net_power_led_stands_still():
    found = diagnose([meas(1, 0.0, 180.0, current_a=1.0)], elements=1)
    assert codes(found) == [(FindingCode.CT_REVERSED, 1), (FindingCode.LOAD_TOO_LOW_FOR_LED_CHECK, None)]
    assert "will not change state" in found[1].message


@pytest.mark.parametrize(("power_w", "expected_s"), [(200.0, 90.0), (1000.0, 18.0), (0.0, math.inf)])
def test_load_led_half_period(power_w, expected_s):
    assert load_led_half_period_s(power_w) == pytest.approx(expected_s)


def test_load_led_half_period_negative_refused():
    with pytest.raises(ValueError, match="power_w"):
        load_led_half_period_s(-1.0)


# --- frequency ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("frequency", "flagged"), [(60.0, False), (50.0, False), (45.0, True), (70.0, True)])
def test_frequency(frequency, flagged):
    found = diagnose([meas(1, 0.0, 0.0)], elements=1, frequency_hz=frequency)
    assert codes(found) == ([(FindingCode.FREQUENCY_OUT_OF_RANGE, None)] if flagged else [])


# --- reverse phase indication -------------------------------------------------------------------


def test_reverse_phase_indicated():
    assert reverse_phase_indicated(pair(SPLIT_V2_DEG, 180.0, 180.0))
    assert not reverse_phase_indicated(pair(SPLIT_V2_DEG, 0.0, 180.0))
    assert not reverse_phase_indicated([meas(1, 0.0, 180.0, current_a=0.005)])  # -0.6 W: below threshold


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("elements", [0, 3, True])
def test_bad_elements(elements):
    with pytest.raises(ValueError, match="elements"):
        diagnose([meas(1, 0.0, 0.0)], elements=elements)


def test_duplicate_element():
    with pytest.raises(ValueError, match="more than once"):
        diagnose([meas(1, 0.0, 0.0), meas(1, 0.0, 0.0)], elements=1)


def test_missing_element():
    with pytest.raises(ValueError, match="missing"):
        diagnose([meas(1, 0.0, 0.0)], elements=2)


@pytest.mark.parametrize(
    "field", ["voltage_v", "voltage_angle_deg", "current_a", "current_angle_deg", "power_w"]
)
def test_nan_refused(field):
    values = {
        "voltage_v": 120.0,
        "voltage_angle_deg": 0.0,
        "current_a": 1.0,
        "current_angle_deg": 0.0,
        "power_w": 120.0,
    }
    values[field] = math.nan
    with pytest.raises(ValueError, match=field):
        ElementMeasurement(element=1, **values)


@pytest.mark.parametrize(("element", "voltage", "current"), [(3, 120.0, 1.0), (1, -1.0, 1.0), (1, 1.0, -1.0)])
def test_bad_measurement(element, voltage, current):
    with pytest.raises(ValueError, match=r"element|voltage_v|current_a"):
        ElementMeasurement(element, voltage, 0.0, current, 0.0, 0.0)


def test_bad_frequency():
    with pytest.raises(ValueError, match="frequency_hz"):
        diagnose([meas(1, 0.0, 0.0)], elements=1, frequency_hz=math.nan)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_supply_voltage_v": 140.0},
        {"max_phase_deg": 88.0},
        {"voltage_present_v": math.nan},
        {"no_load_current_a": -1.0},
        {"led_check_min_power_w": 0.0},
        {"phase_check_min_current_a": 0.001},
    ],
)
def test_bad_limits(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        DiagnosticLimits(**kwargs)


def test_default_limits_documented_values():
    assert DEFAULT_LIMITS.phase_window_deg == pytest.approx(65.0)
    assert (DEFAULT_LIMITS.min_supply_voltage_v, DEFAULT_LIMITS.max_supply_voltage_v) == (102.0, 138.0)
    assert math.cos(math.radians(DEFAULT_LIMITS.max_phase_deg)) == pytest.approx(0.5)
