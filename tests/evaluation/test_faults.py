"""Fault strings, and the meter the bench builds with them."""

from __future__ import annotations

import pytest

from meshmeter.evaluation.faults import Fault, build_meter, parse_fault
from meshmeter.meter.metrology import factory_calibration
from meshmeter.meter.seals import SealKind


@pytest.mark.parametrize(
    ("text", "kind", "value", "canonical"),
    [
        ("gain=+1%", "gain", 1.0, "gain=+1%"),
        ("gain=-0.5%", "gain", -0.5, "gain=-0.5%"),
        ("GAIN=2%", "gain", 2.0, "gain=+2%"),
        ("ct-ratio=1000", "ct-ratio", 1000.0, "ct-ratio=1000"),
        ("ct-ratio=100:0.1", "ct-ratio", 1000.0, "ct-ratio=1000"),
        ("ct-ratio=400:0.1", "ct-ratio", 4000.0, "ct-ratio=4000"),
        ("reversed-ct", "reversed-ct", 1.0, "reversed-ct=1"),
        ("reversed-ct=2", "reversed-ct", 2.0, "reversed-ct=2"),
        ("phase-deg=1", "phase-deg", 1.0, "phase-deg=1"),
        ("phase-deg=-0.5", "phase-deg", -0.5, "phase-deg=-0.5"),
    ],
)
def test_parse(text: str, kind: str, value: float, canonical: str) -> None:
    fault = parse_fault(text)
    assert (fault.kind, fault.value, fault.text) == (kind, pytest.approx(value), canonical)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "gain",
        "gain=1",  # percent sign required
        "gain=%",
        "gain=-100%",
        "gain=abc%",
        "ct-ratio",
        "ct-ratio=0",
        "ct-ratio=-2000",
        "ct-ratio=100:0",
        "ct-ratio=a:b",
        "ct-ratio=nan",
        "reversed-ct=3",
        "reversed-ct=",
        "phase-deg",
        "phase-deg=90",
        "phase-deg=inf",
        "offset=1",
    ],
)
def test_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="fault must be one of"):
        parse_fault(text)


def test_parse_refuses_a_non_string() -> None:
    with pytest.raises(ValueError, match="fault"):
        parse_fault(3)  # type: ignore[arg-type]


def test_nominal_meter_is_factory_calibrated_and_sealed() -> None:
    meter = build_meter()
    factory = factory_calibration(meter.ct, 30.0)
    assert meter.calibration == factory
    assert meter.ct_ratio_installed == 2000.0
    assert not any(w.ct_reversed for w in meter.wiring)
    # at the bench: factory seals only (certificate p.2); installation seals come in the field
    assert {s.kind for s in meter.audit.seals} == {SealKind.FACTORY}
    assert len(meter.audit.seals) == 3


def test_faults_reach_the_twin() -> None:
    faults = [parse_fault(t) for t in ("gain=+1%", "phase-deg=1", "ct-ratio=1000", "reversed-ct=2")]
    meter = build_meter(faults=faults)
    factory = factory_calibration(meter.ct, 30.0)
    assert meter.calibration.gain == pytest.approx(factory.gain * 1.01, rel=1e-15)
    assert meter.calibration.phase_compensation_min == pytest.approx(factory.phase_compensation_min + 60.0)
    assert meter.ct_ratio_installed == 1000.0
    assert [w.ct_reversed for w in meter.wiring] == [False, True]


def test_build_refuses() -> None:
    with pytest.raises(ValueError, match="at most once"):
        build_meter(faults=[Fault("gain", 1.0, "gain=+1%"), Fault("gain", 2.0, "gain=+2%")])
    with pytest.raises(ValueError, match="element 2"):
        build_meter("MM-S1202001", faults=[parse_fault("reversed-ct=2")])
    with pytest.raises(ValueError, match="designation"):
        build_meter("MM-X9")
