"""Acceptance of the type-evaluation bench (issue 7): the nominal twin passes every plan, and faulty twins
fail exactly where the maths says they should."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from meshmeter.evaluation.bench import Evaluation, PointResult, evaluate, run_point
from meshmeter.evaluation.faults import build_meter, parse_fault
from meshmeter.evaluation.plans import TestPoint, load_plan, load_plans
from meshmeter.meter.seals import SealKind


def _points(evaluation: Evaluation) -> Iterator[PointResult]:
    for plan in evaluation.plans:
        yield from plan.points


def _accuracy(evaluation: Evaluation) -> list[PointResult]:
    return [p for p in _points(evaluation) if p.point.tolerance_percent is not None]


def _creep(evaluation: Evaluation) -> list[PointResult]:
    return [p for p in _points(evaluation) if p.point.tolerance_percent is None]


@pytest.fixture(scope="module")
def nominal() -> Evaluation:
    return evaluate(load_plans("all"))


def _faulty(text: str) -> Evaluation:
    return evaluate(load_plans("all"), faults=[parse_fault(text)])


def _key(p: PointResult) -> tuple[str, str, int]:
    return (p.plan, p.stage, p.number)


def test_nominal_twin_passes_every_plan(nominal: Evaluation) -> None:
    assert nominal.passed
    assert [pr.plan.name for pr in nominal.plans] == ["ctep", "ansi", "spec", "creep", "permanence"]
    assert nominal.points_total == 351 + 5 + 108 + 4 + 2 * 9
    assert not nominal.reversed
    for p in _accuracy(nominal):
        assert p.error_percent is not None
        assert abs(p.error_percent) <= p.point.tolerance_percent  # type: ignore[operator]
        assert not p.reversed


def test_nominal_errors_are_the_twins_measured_accuracy(nominal: Evaluation) -> None:
    # docs/metrology.md: 0.000 % at TA, −0.168 % at 3 A PF 1.0, −0.392 % at 3 A PF 0.5 lead (both
    # elements); the bench reads them to within one pulse (≤ a tenth of the tolerance)
    ctep = {(p.point.element, p.point.current_a, p.point.pf_text): p for p in nominal.plans[0].points}
    for key, expected in [
        (("both", 30.0, "1.0"), 0.0),
        (("both", 3.0, "1.0"), -0.168),
        (("both", 3.0, "0.5 lead"), -0.392),
        (("both", 60.0, "0.5 lead"), 0.053),
    ]:
        p = ctep[key]
        assert p.error_percent == pytest.approx(expected, abs=0.1 * p.point.tolerance_percent + 1e-3)


def test_run_length_from_the_resolution(nominal: Evaluation) -> None:
    ansi = {p.point.label: p for p in nominal.plans[1].points}
    # FL: 2 × 120 V × 30 A = 7200 W; 2000 pulses of 10 Wh (one pulse = 0.05 % = ±0.5 % / 10) take 10 000 s
    assert ansi["FL"].duration_s == 10_000.0
    assert ansi["FL"].reference_energy_wh == pytest.approx(20_000.0)
    assert ansi["FL"].pulses == 2000
    assert ansi["FL"].percent_registration == pytest.approx(100.0)
    # PF: 3600 W; 1334 pulses for ±0.75 % take 13 340 s
    assert ansi["PF"].duration_s == 13_340.0
    for p in _accuracy(nominal):
        assert p.pulses >= math.ceil(1000.0 / p.point.tolerance_percent) * 0.99  # type: ignore[operator]


def test_creep_and_starting_load(nominal: Evaluation) -> None:
    creep = nominal.plans[3].points
    no_load = [p for p in creep if p.point.max_pulses is not None]
    assert [p.pulses for p in no_load] == [0]  # 132 V, no current, 6 h: nothing
    assert no_load[0].percent_registration is None
    starting = [p for p in creep if p.point.min_pulses is not None]
    # 0.2 A × 120 V = 24 W per element for 1 h: 2.4 pulses on one element, 4.8 on both
    counts = sorted(p.pulses for p in starting)
    assert counts[0] in (2, 3)
    assert counts[1] in (2, 3)
    assert counts[2] in (4, 5)


def test_a_meter_that_does_not_start_fails() -> None:
    # a meter whose no-load threshold is set too high (0.5 A) does not start at 0.2 A
    meter = build_meter()
    meter.starting_current_a = 0.5
    point = TestPoint("both", 0.2, 120.0, 1.0, True, 60.0, None, duration_s=3600.0, min_pulses=1)
    result = run_point(meter, point)
    assert (result.pulses, result.passed) == (0, False)
    assert "does not start" in result.note


def test_registering_on_a_no_load_point_fails() -> None:
    # the no-load criterion counts pulses: a meter that registers (here a 1 A leak through the CT, which
    # the twin registers like any load) fails it
    point = TestPoint("1", 1.0, 132.0, 1.0, True, 60.0, None, duration_s=21_600.0, max_pulses=1)
    result = run_point(build_meter(), point)
    # 132 V × 1 A × 6 h = 792 Wh: 79 pulses
    assert result.pulses in (79, 80)
    assert not result.passed
    assert "creeps" in result.note


def test_permanence(nominal: Evaluation) -> None:
    permanence = nominal.plans[4]
    before = [p for p in permanence.points if p.stage == "before"]
    after = [p for p in permanence.points if p.stage == "after"]
    assert len(before) == len(after) == 9
    for first, second in zip(before, after, strict=True):
        assert first.point == second.point
        assert second.drift_percent is not None
        assert second.drift_percent == pytest.approx(second.error_percent - first.error_percent)  # type: ignore[operator]
        # the twin does not age: drift is at most the ±1 pulse of the count
        assert abs(second.drift_percent) <= 0.1 * second.point.tolerance_percent + 1e-9  # type: ignore[operator]
    # 30 days of field load went through the meter (profile path) and it registered it within the class
    assert permanence.field_true_energy_wh is not None
    assert permanence.field_registered_energy_wh is not None
    assert permanence.field_true_energy_wh > 1_000_000.0
    ratio = permanence.field_registered_energy_wh / permanence.field_true_energy_wh
    assert abs(ratio - 1.0) < 0.005
    # sealing history: factory seals intact, testing seals applied after the first test, installation
    # seals applied in the field and cut when the meter came back (certificate p.2)
    seals = {s.seal_id: s for s in nominal.seals}
    assert all(s.intact for s in seals.values() if s.kind in (SealKind.FACTORY, SealKind.TESTING))
    installation = [s for s in seals.values() if s.kind is SealKind.INSTALLATION]
    assert len(installation) == 2
    assert all(not s.intact and s.broken_by == "laboratory" for s in installation)
    assert all((s.broken_at - s.applied_at).days == 30 for s in installation)  # type: ignore[operator]


def test_gain_plus_one_percent() -> None:
    faulty = _faulty("gain=+1%")
    nominal = {_key(p): p for p in _accuracy(evaluate(load_plans("all")))}
    assert not faulty.passed
    # every PF 1.0 point fails: the nominal error is within ±0.23 % (docs/metrology.md), so the gain
    # puts it at +0.77 % or more, outside ±0.5 %
    unity = [p for p in _accuracy(faulty) if p.point.pf == 1.0]
    assert unity
    assert all(not p.passed for p in unity)
    # at PF 0.5 the tolerance is ±0.75 %, and +1 % fails too, except where the CT's residual error at low
    # current leading pulls the meter down: registration = 1.01 × nominal, so a point at −0.39 % nominal
    # (3 A 0.5 lead) reads +0.60 % and passes. Test exactly that, away from the ±1-pulse band.
    half = [p for p in _accuracy(faulty) if p.point.pf == 0.5]
    passing = []
    for p in half:
        expected = (1.01 * (1.0 + nominal[_key(p)].error_percent / 100.0) - 1.0) * 100.0  # type: ignore[operator]
        tol = p.point.tolerance_percent
        assert tol is not None
        if abs(abs(expected) - tol) > 0.1 * tol:
            assert p.passed is (abs(expected) <= tol), (p, expected)
        if p.passed:
            passing.append(p)
    assert all(not p.point.lagging for p in passing)  # only leading points can pass
    assert any(p.point.current_a == 3.0 and p.point.element == "both" for p in passing)
    assert all(not p.passed for p in half if p.point.lagging)
    # no load and starting load are not accuracy tests: they pass
    assert all(p.passed for p in _creep(faulty))


@pytest.mark.parametrize(("fault", "percent"), [("ct-ratio=1000", 200.0), ("ct-ratio=400:0.1", 50.0)])
def test_wrong_ct_ratio_fails_every_accuracy_point(fault: str, percent: float) -> None:
    faulty = _faulty(fault)
    assert not faulty.passed
    accuracy = _accuracy(faulty)
    assert all(not p.passed for p in accuracy)
    for p in accuracy:
        assert p.percent_registration == pytest.approx(percent, rel=0.01)
    assert all(p.passed for p in _creep(faulty) if p.point.max_pulses is not None)


@pytest.mark.parametrize("element", ["1", "2"])
def test_reversed_ct_fails_and_is_reported_reversed(element: str) -> None:
    faulty = _faulty(f"reversed-ct={element}")
    assert not faulty.passed
    assert faulty.reversed
    other = "2" if element == "1" else "1"
    for p in _points(faulty):
        # no load (nothing flows, nothing to see), or only the other element, whose CT is right
        if p.point.current_a == 0.0 or p.point.element == other:
            assert p.passed
            assert not p.reversed
        else:  # the reversed element carries current
            assert not p.passed
            assert p.reversed
            assert "REV PHASE" in p.note
    # on its own the reversed element's energy runs to the received register: the total reads zero
    alone = [p for p in _accuracy(faulty) if p.point.element == element]
    assert all(p.pulses == 0 for p in alone)


def test_phase_compensation_error_fails_only_the_half_pf_points() -> None:
    # D = 1°: at PF 1.0 the meter reads cos(1°) − 1 = −0.015 %, which the class (±0.5 %) absorbs with the
    # CT's residual error (at most −0.23 %); at PF 0.5 it reads cos(60° ± 1°) / cos 60° − 1 = ∓3.0 %,
    # far outside ±0.75 %
    faulty = _faulty("phase-deg=1")
    assert not faulty.passed
    for p in _accuracy(faulty):
        if p.point.pf == 1.0:
            assert p.passed, p
        else:
            assert not p.passed, p
            expected = -3.0 if p.point.lagging else 3.0
            assert p.error_percent == pytest.approx(expected, abs=0.6)
    assert all(p.passed for p in _creep(faulty))


def test_single_element_meter_skips_element_two() -> None:
    result = evaluate([load_plan("ansi")], model="MM-S1202001")
    ansi = result.plans[0]
    assert [p.label for p in ansi.skipped] == ["FL element 2"]
    assert len(ansi.points) == 4
    assert result.passed
    fl = next(p for p in ansi.points if p.point.label == "FL")
    # one element: 120 V × 30 A = 3600 W, 2000 pulses in 20 000 s
    assert fl.duration_s == 20_000.0
    with pytest.raises(ValueError, match="element 2"):
        run_point(build_meter("MM-S1202001"), ansi.skipped[0])


def test_progress_is_reported() -> None:
    seen: list[tuple[str, int, int]] = []
    evaluate([load_plan("creep"), load_plan("ansi")], progress=lambda *a: seen.append(a))
    assert seen[0] == ("creep", 1, 9)
    assert seen[-1] == ("ansi", 9, 9)
    assert [n for _, n, _ in seen] == list(range(1, 10))


def test_evaluate_refuses_no_plans() -> None:
    with pytest.raises(ValueError, match="plans"):
        evaluate([])
