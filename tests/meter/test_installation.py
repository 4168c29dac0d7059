"""Tests of meshmeter.meter.installation: services, power factor, what each element sees (manual §4.5.1).

Signs (docs/conventions.md): ``phase_deg`` is the lag of a current behind its voltage, positive lagging;
phasor angles are counter-clockwise from the L1 voltage; a reversed CT adds 180°.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from meshmeter.meter.installation import (
    ElementInputs,
    ElementWiring,
    Service,
    element_inputs,
    phase_deg_from_pf,
    wrap_deg,
)

# --- Service -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "value", "angles"),
    [
        # 1-phase 120/240 V, 3-wire: L2 is the other half of the transformer winding, 180° from L1.
        (Service.SPLIT_PHASE, "120/240", (0.0, 180.0)),
        # two phases of a 120/208 V wye: L2 lags L1 by 120° (|V1 - V2| = 120·√3 = 207.8 V).
        (Service.NETWORK, "120/208", (0.0, -120.0)),
    ],
)
def test_service_line_angles(service: Service, value: str, angles: tuple[float, float]) -> None:
    assert service.value == value
    assert Service(value) is service
    assert service.line_angles_deg == angles


@pytest.mark.parametrize(("service", "ll_v"), [(Service.SPLIT_PHASE, 240.0), (Service.NETWORK, 208.0)])
def test_service_line_to_line_voltage(service: Service, ll_v: float) -> None:
    # certificate p.1: "L1 to L2 is 208/240 VAC" with 120 V from each line to neutral
    a1, a2 = np.deg2rad(service.line_angles_deg)
    v1 = 120.0 * np.exp(1j * a1)
    v2 = 120.0 * np.exp(1j * a2)
    assert abs(v1 - v2) == pytest.approx(ll_v, abs=0.5)


def test_service_refuses_unknown_value() -> None:
    with pytest.raises(ValueError, match="120/480"):
        Service("120/480")


# --- wrap_deg ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("angle", "expected"),
    [
        (0.0, 0.0),
        (60.0, 60.0),
        (-60.0, -60.0),
        (180.0, 180.0),  # (-180, 180]: +180 stays
        (-180.0, 180.0),  # ... and -180 becomes +180
        (190.0, -170.0),
        (-190.0, 170.0),
        (540.0, 180.0),
        (360.0, 0.0),
        (-300.0, 60.0),
    ],
)
def test_wrap_deg(angle: float, expected: float) -> None:
    assert float(wrap_deg(angle)) == pytest.approx(expected, abs=1e-12)


def test_wrap_deg_vector_equals_scalar() -> None:
    angles = np.array([0.0, 190.0, -180.0, 725.0])
    assert np.allclose(wrap_deg(angles), [float(wrap_deg(a)) for a in angles])


# --- phase_deg_from_pf -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pf", "lagging", "expected"),
    [
        (1.0, True, 0.0),
        (1.0, False, 0.0),
        (0.5, True, 60.0),  # arccos(0.5) = 60°, current lags: positive
        (0.5, False, -60.0),  # leading: negative
        (0.0, True, 90.0),
        (0.0, False, -90.0),
        (np.sqrt(3) / 2, True, 30.0),
        (np.sqrt(2) / 2, False, -45.0),
    ],
)
def test_phase_deg_from_pf(pf: float, lagging: bool, expected: float) -> None:
    assert float(phase_deg_from_pf(pf, lagging)) == pytest.approx(expected, abs=1e-9)


def test_phase_deg_from_pf_default_is_lagging() -> None:
    assert float(phase_deg_from_pf(0.5)) == pytest.approx(60.0)


def test_phase_deg_from_pf_vector() -> None:
    got = phase_deg_from_pf([1.0, 0.5, 0.5], [True, True, False])
    assert got.shape == (3,)
    assert np.allclose(got, [0.0, 60.0, -60.0])
    # power factor comes back through cos, for both senses
    assert np.allclose(np.cos(np.deg2rad(got)), [1.0, 0.5, 0.5])


@pytest.mark.parametrize("pf", [-0.1, 1.1, 2.0, np.nan, np.inf, [0.5, 1.5]])
def test_phase_deg_from_pf_refuses_bad_pf(pf: Any) -> None:
    with pytest.raises(ValueError, match="pf must be in"):
        phase_deg_from_pf(pf)


# --- ElementWiring -----------------------------------------------------------------------------


def test_element_wiring_defaults_are_the_manuals() -> None:
    w = ElementWiring()
    assert w.ct_line is None  # the element's own line (§4.5.1: CT1 on Line 1, CT2 on Line 2)
    assert not w.ct_reversed
    assert w.voltage_connected
    assert w.ct_connected


@pytest.mark.parametrize("ct_line", [0, 3, -1])
def test_element_wiring_refuses_bad_ct_line(ct_line: int) -> None:
    with pytest.raises(ValueError, match="ct_line must be 1, 2 or None"):
        ElementWiring(ct_line=ct_line)


# --- element_inputs ----------------------------------------------------------------------------

CORRECT2 = (ElementWiring(), ElementWiring())


def inputs2(
    wiring: tuple[ElementWiring, ...] = CORRECT2,
    *,
    service: Service = Service.SPLIT_PHASE,
    voltage: tuple[float, float] = (120.0, 121.0),
    current: tuple[float, float] = (10.0, 20.0),
    phase: tuple[float, float] = (30.0, -45.0),
) -> ElementInputs:
    return element_inputs(
        elements=2,
        service=service,
        wiring=wiring,
        line_voltage_v=voltage,
        line_current_a=current,
        line_phase_deg=phase,
    )


@pytest.mark.parametrize(
    ("service", "v2_deg"),
    [(Service.SPLIT_PHASE, 180.0), (Service.NETWORK, -120.0)],
)
def test_element_inputs_correct_wiring(service: Service, v2_deg: float) -> None:
    # Line 1: 120 V at 0°, 10 A lagging 30° -> current at -30°.
    # Line 2: 121 V at v2, 20 A leading 45° -> current at v2 + 45°.
    got = inputs2(service=service)
    assert got.voltage_v.shape == (2, 1)
    assert got.voltage_v[:, 0] == pytest.approx([120.0, 121.0])
    assert got.current_a[:, 0] == pytest.approx([10.0, 20.0])
    assert got.voltage_angle_deg[:, 0] == pytest.approx([0.0, v2_deg])
    assert got.current_angle_deg[:, 0] == pytest.approx([-30.0, float(wrap_deg(v2_deg + 45.0))])
    # each element sees its own line's phase
    assert got.phase_deg[:, 0] == pytest.approx([30.0, -45.0])


@pytest.mark.parametrize(
    ("line_phase", "expected"),
    [
        (0.0, 180.0),  # PF 1: the current is opposite its voltage
        (60.0, -120.0),  # 60 + 180 = 240 -> -120 in (-180, 180]
        (-60.0, 120.0),
    ],
)
def test_element_inputs_reversed_ct_adds_180(line_phase: float, expected: float) -> None:
    got = inputs2(
        (ElementWiring(ct_reversed=True), ElementWiring()),
        phase=(line_phase, 0.0),
    )
    assert float(got.phase_deg[0, 0]) == pytest.approx(expected)
    assert float(got.phase_deg[1, 0]) == pytest.approx(0.0)
    assert float(got.current_a[0, 0]) == pytest.approx(10.0)  # the magnitude is unchanged
    # cos(phase) changes sign: a reversed CT makes its element's power negative (conventions "Signs")
    assert np.cos(np.deg2rad(got.phase_deg[0, 0])) == pytest.approx(-np.cos(np.deg2rad(line_phase)))


def test_element_inputs_ct_on_other_line_network() -> None:
    # 120/208 V: CT1 on Line 2, PF 1 on both lines. Element 1 has V1 at 0° and I2 at -120°:
    # its current lags its voltage by 120°, cos(120°) = -0.5 -> half the power, negative.
    got = inputs2(
        (ElementWiring(ct_line=2), ElementWiring()),
        service=Service.NETWORK,
        current=(10.0, 20.0),
        phase=(0.0, 0.0),
    )
    assert float(got.current_a[0, 0]) == pytest.approx(20.0)  # line 2's current
    assert float(got.voltage_v[0, 0]) == pytest.approx(120.0)  # line 1's voltage
    assert float(got.current_angle_deg[0, 0]) == pytest.approx(-120.0)
    assert float(got.phase_deg[0, 0]) == pytest.approx(120.0)
    assert float(got.phase_deg[1, 0]) == pytest.approx(0.0)


def test_element_inputs_ct_on_other_line_split_phase_looks_reversed() -> None:
    # 120/240 V: L2 = -L1, so a CT on the other leg puts the current 180° from the element's voltage
    got = inputs2((ElementWiring(ct_line=2), ElementWiring()), phase=(0.0, 0.0))
    assert float(got.phase_deg[0, 0]) == pytest.approx(180.0)


def test_element_inputs_cts_swapped() -> None:
    got = inputs2(
        (ElementWiring(ct_line=2), ElementWiring(ct_line=1)),
        service=Service.NETWORK,
        current=(10.0, 20.0),
        phase=(0.0, 0.0),
    )
    assert got.current_a[:, 0] == pytest.approx([20.0, 10.0])
    # element 1: V at 0°, I2 at -120° -> +120; element 2: V at -120°, I1 at 0° -> -120
    assert got.phase_deg[:, 0] == pytest.approx([120.0, -120.0])


def test_element_inputs_ct_line_explicit_own_line_equals_default() -> None:
    a = inputs2((ElementWiring(ct_line=1), ElementWiring(ct_line=2)))
    b = inputs2()
    for name in ("voltage_v", "voltage_angle_deg", "current_a", "current_angle_deg"):
        assert np.array_equal(getattr(a, name), getattr(b, name))


@pytest.mark.parametrize("element", [0, 1])
def test_element_inputs_disconnected_voltage_lead(element: int) -> None:
    wiring = [ElementWiring(), ElementWiring()]
    wiring[element] = ElementWiring(voltage_connected=False)
    got = inputs2(tuple(wiring))
    assert float(got.voltage_v[element, 0]) == 0.0
    assert float(got.voltage_v[1 - element, 0]) > 100.0
    # the current still flows through the CT
    assert got.current_a[:, 0] == pytest.approx([10.0, 20.0])


def test_element_inputs_disconnected_ct() -> None:
    got = inputs2((ElementWiring(), ElementWiring(ct_connected=False)))
    assert got.current_a[:, 0] == pytest.approx([10.0, 0.0])
    assert got.voltage_v[:, 0] == pytest.approx([120.0, 121.0])


def test_element_inputs_single_element() -> None:
    got = element_inputs(
        elements=1,
        service=Service.SPLIT_PHASE,
        wiring=(ElementWiring(),),
        line_voltage_v=[120.0],
        line_current_a=[5.0],
        line_phase_deg=[60.0],
    )
    assert got.voltage_v.shape == (1, 1)
    assert float(got.voltage_angle_deg[0, 0]) == 0.0
    assert float(got.current_angle_deg[0, 0]) == pytest.approx(-60.0)
    assert float(got.phase_deg[0, 0]) == pytest.approx(60.0)


def test_element_inputs_time_series_shape_and_vector_equals_scalar() -> None:
    v = np.array([[120.0, 110.0, 130.0], [121.0, 119.0, 0.0]])
    i = np.array([[1.0, 2.0, 3.0], [0.0, 5.0, 6.0]])
    phi = np.array([[0.0, 60.0, -60.0], [10.0, 20.0, 30.0]])
    wiring = (ElementWiring(ct_reversed=True), ElementWiring())
    got = element_inputs(
        elements=2,
        service=Service.NETWORK,
        wiring=wiring,
        line_voltage_v=v,
        line_current_a=i,
        line_phase_deg=phi,
    )
    assert got.voltage_v.shape == got.current_a.shape == got.phase_deg.shape == (2, 3)
    for k in range(3):
        one = element_inputs(
            elements=2,
            service=Service.NETWORK,
            wiring=wiring,
            line_voltage_v=v[:, k],
            line_current_a=i[:, k],
            line_phase_deg=phi[:, k],
        )
        assert np.allclose(one.phase_deg[:, 0], got.phase_deg[:, k])
        assert np.allclose(one.current_a[:, 0], got.current_a[:, k])
        assert np.allclose(one.voltage_v[:, 0], got.voltage_v[:, k])


def test_element_inputs_empty_series() -> None:
    got = element_inputs(
        elements=1,
        service=Service.SPLIT_PHASE,
        wiring=(ElementWiring(),),
        line_voltage_v=np.empty((1, 0)),
        line_current_a=np.empty((1, 0)),
        line_phase_deg=np.empty((1, 0)),
    )
    assert got.voltage_v.shape == (1, 0)


def test_element_inputs_does_not_modify_its_input() -> None:
    v = np.array([[120.0], [120.0]])
    i = np.array([[10.0], [10.0]])
    phi = np.array([[0.0], [0.0]])
    element_inputs(
        elements=2,
        service=Service.SPLIT_PHASE,
        wiring=(ElementWiring(voltage_connected=False), ElementWiring(ct_connected=False)),
        line_voltage_v=v,
        line_current_a=i,
        line_phase_deg=phi,
    )
    assert np.all(v == 120.0)
    assert np.all(i == 10.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"elements": 3}, "elements must be 1 or 2"),
        ({"elements": 0}, "elements must be 1 or 2"),
        ({"wiring": (ElementWiring(),)}, "wiring must have 2 entries"),
        ({"line_current_a": [[10.0, 10.0], [10.0, 10.0]]}, "must have one shape"),
        ({"line_voltage_v": [120.0, 120.0, 120.0], "line_current_a": [1.0, 1.0, 1.0],
          "line_phase_deg": [0.0, 0.0, 0.0]}, "must have 2 lines"),
        ({"line_voltage_v": [np.nan, 120.0]}, "line_voltage_v must be finite"),
        ({"line_current_a": [np.inf, 1.0]}, "line_current_a must be finite"),
        ({"line_phase_deg": [0.0, np.nan]}, "line_phase_deg must be finite"),
        ({"line_voltage_v": [-1.0, 120.0]}, "must be >= 0"),
        ({"line_current_a": [1.0, -1.0]}, "must be >= 0"),
    ],
)  # fmt: skip
def test_element_inputs_refuses_bad_input(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {
        "elements": 2,
        "service": Service.SPLIT_PHASE,
        "wiring": CORRECT2,
        "line_voltage_v": [120.0, 120.0],
        "line_current_a": [1.0, 1.0],
        "line_phase_deg": [0.0, 0.0],
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        element_inputs(**args)


def test_element_inputs_refuses_ct_on_a_line_a_single_element_meter_lacks() -> None:
    with pytest.raises(ValueError, match="ct_line 2 does not exist on a 1-element meter"):
        element_inputs(
            elements=1,
            service=Service.SPLIT_PHASE,
            wiring=(ElementWiring(ct_line=2),),
            line_voltage_v=[120.0],
            line_current_a=[1.0],
            line_phase_deg=[0.0],
        )
