"""The type-evaluation bench: run test plans on a meter twin as a metrology laboratory runs them.

For each accuracy point the bench applies a steady voltage, current and power factor to the meter under
test (its CTs included: the meter and CTs are approved as a system, certificate p.1), lets a reference
standard measure the true energy, and counts the meter's test-output pulses (Kt = 10 Wh, certificate p.2)
over a run long enough for the plan's resolution; percent registration = pulses × Kt / reference energy ×
100. Creep points count pulses at no load and at the starting load; a permanence plan tests, runs the
meter in the field for the plan's days on a realistic load (profile path), and tests again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from meshmeter.evaluation.faults import Fault, build_meter
from meshmeter.evaluation.field import field_load
from meshmeter.evaluation.plans import TestPlan, TestPoint
from meshmeter.evaluation.reference import (
    percent_registration,
    pulses_for_resolution,
    reference_energy_wh,
    run_duration_s,
)
from meshmeter.meter.seals import Provision, Seal, SealKind, standard_seals
from meshmeter.meter.twin import DEFAULT_START, Meter, SteadyCondition

__all__ = ["Evaluation", "PlanResult", "PointResult", "Progress", "evaluate", "meter_markings", "run_point"]

Stage = Literal["test", "before", "after"]
Progress = Callable[[str, int, int], None]
"""Called after each point with the plan's name, the points done and the points in all plans."""

TEST_OUTPUT = "10"
"""The isolated output whose pulses the bench counts: Kh = 10 Wh, the test output (manual §3.2 Table 2B,
"not to be used for field wiring"), pulsing with the LOAD LED's Kt = 10 (certificate p.2)."""


@dataclass(frozen=True)
class PointResult:
    """
    What one test point showed.

    Parameters
    ----------
    plan : str
        The plan's name.
    stage : {"test", "before", "after"}
        ``test`` for a single-pass plan; ``before`` and ``after`` the field period of a permanence plan.
    number : int
        Position of the point in its plan, from 1. [1]
    point : TestPoint
    duration_s : float
        Length of the run. [s]
    pulses : int
        Test-output pulses counted. [1]
    meter_energy_wh : float
        pulses × Kt. [Wh]
    reference_energy_wh : float
        True energy from the reference standard. [Wh]
    percent_registration : float or None
        Meter over reference × 100; None at no load. [%]
    error_percent : float or None
        Percent registration − 100. [%]
    reversed : bool
        The meter indicated reverse phase (LCD REV PHASE, manual §3.2, §7) or registered received energy.
    drift_percent : float or None
        ``after`` points: error after − error before the field period. [%]
    passed : bool
    note : str
        Why a point failed, or what was seen.
    """

    plan: str
    stage: Stage
    number: int
    point: TestPoint
    duration_s: float
    pulses: int
    meter_energy_wh: float
    reference_energy_wh: float
    percent_registration: float | None
    error_percent: float | None
    reversed: bool
    passed: bool
    note: str = ""
    drift_percent: float | None = None


@dataclass(frozen=True)
class PlanResult:
    """The points of one plan, as run."""

    plan: TestPlan
    points: tuple[PointResult, ...]
    skipped: tuple[TestPoint, ...] = ()
    """Points the model cannot take (element 2 of a single-element meter)."""
    field_true_energy_wh: float | None = None
    """Permanence: energy of the field load. [Wh]"""
    field_registered_energy_wh: float | None = None
    """Permanence: energy the meter registered in the field. [Wh]"""

    @property
    def passed(self) -> bool:
        """Every point passed."""
        return all(p.passed for p in self.points)

    @property
    def failed(self) -> int:
        """How many points failed. [1]"""
        return sum(not p.passed for p in self.points)


@dataclass(frozen=True)
class Evaluation:
    """A whole evaluation: the meter, its markings, the faults injected, each plan's results, the seals."""

    model: str
    serial: str
    markings: dict[str, str]
    faults: tuple[Fault, ...]
    plans: tuple[PlanResult, ...]
    seals: tuple[Seal, ...]
    calibration: dict[str, float]
    started_at: datetime
    """Bench wall time of the first point (UTC)."""
    finished_at: datetime
    """Bench wall time at the end (UTC); the simulated time the evaluation took."""
    points_total: int = field(default=0)

    @property
    def passed(self) -> bool:
        """Every point of every plan passed."""
        return all(p.passed for p in self.plans)

    @property
    def failed(self) -> int:
        """How many points failed. [1]"""
        return sum(p.failed for p in self.plans)

    @property
    def reversed(self) -> bool:
        """Some point showed a reverse-phase indication."""
        return any(r.reversed for p in self.plans for r in p.points)


def meter_markings(meter: Meter) -> dict[str, str]:
    """The markings of the meter's ID label, as a report shows them (certificate p.1-2)."""
    spec = meter.spec
    ratings = spec.ratings
    voltages = "/".join(f"{v:g}" for v in (spec.voltage_ln_v, *spec.voltage_ll_v))
    return {
        "model": spec.designation,
        "serial": meter.serial,
        "elements": f"{spec.elements} ({spec.wiring})",
        "voltage": f"{voltages} VAC",
        "class": f"{ratings.class_current_a:g} ({ratings.class_current_a:g} A max.)",
        "TA": f"{ratings.test_amperes_a:g} A",
        "Kh": f"{spec.counter_kh_wh} Wh (counter output); outputs 10, 100, 1000 Wh",
        "Kt": f"{ratings.load_led_kt_wh:g} Wh (LOAD LED and test output 10)",
        "CT": f"{spec.ct_primary_a:g}:{spec.ct_secondary_a:g} A, accuracy class {meter.ct.accuracy_class:g}",
        "certificate": "CTEP 5361(b)-09",
    }


def _condition(meter: Meter, point: TestPoint) -> tuple[SteadyCondition, int]:
    lines = meter.elements
    loaded = range(lines) if point.element == "both" else [int(point.element) - 1]
    current = tuple(point.current_a if k in loaded else 0.0 for k in range(lines))
    phase = tuple(point.phase_deg if k in loaded else 0.0 for k in range(lines))
    condition = SteadyCondition(
        voltage_v=(point.voltage_v,) * lines,
        current_a=current,
        phase_deg=phase,
        frequency_hz=point.frequency_hz,
    )
    return condition, len(loaded)


def run_point(
    meter: Meter,
    point: TestPoint,
    *,
    plan: str = "",
    stage: Stage = "test",
    number: int = 1,
    resolution: float = 0.1,
) -> PointResult:
    """
    Run one test point on a meter and judge it.

    Parameters
    ----------
    meter : Meter
        The meter under test, its CTs included; its state carries on from the previous point.
    point : TestPoint
    plan, stage, number
        Where the point belongs, for the record.
    resolution : float
        One pulse is at most this share of the tolerance; sets the run length of accuracy points. [1]

    Returns
    -------
    PointResult
    """
    if point.element == "2" and meter.elements < 2:
        raise ValueError(f"point on element 2 cannot run on the single-element {meter.spec.designation}")
    condition, lines = _condition(meter, point)
    kt = meter.outputs_kh_wh[TEST_OUTPUT]
    power_ref_w = lines * point.voltage_v * point.current_a * point.pf
    if point.duration_s is not None:
        duration = point.duration_s
    else:
        assert point.tolerance_percent is not None  # accuracy points carry one (plans.py)
        duration = run_duration_s(pulses_for_resolution(point.tolerance_percent, resolution), power_ref_w, kt)
    # one profile step: the load is steady, and the pulse edges are exact within a step
    result = meter.run_steady(condition, duration, step_s=duration)
    pulses = result.pulses[TEST_OUTPUT]
    meter_wh = pulses * kt
    reference_wh = reference_energy_wh(point.voltage_v, point.current_a, point.pf, duration, lines=lines)
    percent = percent_registration(meter_wh, reference_wh) if reference_wh > 0 else None
    error = None if percent is None else percent - 100.0
    reversed_ = meter.reverse_phase or result.received_energy_wh > 0
    notes = []
    if point.max_pulses is not None:
        passed = pulses <= point.max_pulses
        if not passed:
            notes.append(f"creeps: {pulses} pulses at no load (at most {point.max_pulses})")
    elif point.min_pulses is not None:
        passed = pulses >= point.min_pulses
        if not passed:
            notes.append(f"does not start: {pulses} pulses (at least {point.min_pulses})")
    else:
        assert error is not None
        assert point.tolerance_percent is not None
        passed = abs(error) <= point.tolerance_percent
        if not passed:
            notes.append(f"error {error:+.3f} % outside ±{point.tolerance_percent:g} %")
    if reversed_:
        notes.append("REV PHASE indicated: a CT is reversed")
    return PointResult(
        plan=plan,
        stage=stage,
        number=number,
        point=point,
        duration_s=duration,
        pulses=pulses,
        meter_energy_wh=meter_wh,
        reference_energy_wh=reference_wh,
        percent_registration=percent,
        error_percent=error,
        reversed=reversed_,
        passed=passed,
        note="; ".join(notes),
    )


def _with_drift(after: PointResult, before: PointResult) -> PointResult:
    if after.error_percent is None or before.error_percent is None:
        return after
    drift = after.error_percent - before.error_percent
    tolerance = after.point.tolerance_percent
    assert tolerance is not None
    passed = after.passed and before.passed and abs(drift) <= tolerance
    notes = [after.note] if after.note else []
    if abs(drift) > tolerance:
        notes.append(f"drift {drift:+.3f} % over the field period exceeds ±{tolerance:g} %")
    elif not before.passed and after.passed:
        notes.append("failed before the field period")
    return PointResult(
        **{**after.__dict__, "passed": passed, "drift_percent": drift, "note": "; ".join(notes)}
    )


def evaluate(
    plans: Sequence[TestPlan],
    *,
    model: str = "MM-D1202001-T-SCC",
    serial: str = "MM00000001",
    faults: Sequence[Fault] = (),
    start: datetime = DEFAULT_START,
    field_seed: int = 0,
    progress: Progress | None = None,
) -> Evaluation:
    """
    Run test plans on one meter twin, in order, as one evaluation.

    Parameters
    ----------
    plans : sequence of TestPlan
    model : str
        Meter designation (certificate p.1).
    serial : str
        Serial number.
    faults : sequence of Fault
        Faults injected into the twin (:mod:`meshmeter.evaluation.faults`).
    start : datetime
        Bench wall time of the start (UTC).
    field_seed : int
        Seed of the permanence plans' field load.
    progress : callable, optional
        Called after each point (see :data:`Progress`).

    Returns
    -------
    Evaluation
    """
    if not plans:
        raise ValueError("plans must hold at least one plan, got none")
    meter = build_meter(model, serial=serial, faults=faults, start=start)
    runnable = [[p for p in plan.points if not (p.element == "2" and meter.elements < 2)] for plan in plans]
    total = sum(
        len(pts) * (2 if plan.kind == "permanence" else 1) for plan, pts in zip(plans, runnable, strict=True)
    )
    done = 0

    def tick(name: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(name, done, total)

    results = []
    for plan, points in zip(plans, runnable, strict=True):
        skipped = tuple(p for p in plan.points if p not in points)
        if plan.kind != "permanence":
            out = []
            for n, point in enumerate(points, start=1):
                out.append(run_point(meter, point, plan=plan.name, number=n, resolution=plan.resolution))
                tick(plan.name)
            results.append(PlanResult(plan, tuple(out), skipped))
            continue
        before = []
        for n, point in enumerate(points, start=1):
            before.append(
                run_point(meter, point, plan=plan.name, stage="before", number=n, resolution=plan.resolution)
            )
            tick(plan.name)
        true_wh, registered_wh = _field_period(meter, plan.field_days, seed=field_seed)
        after = []
        for n, (point, first) in enumerate(zip(points, before, strict=True), start=1):
            second = run_point(
                meter, point, plan=plan.name, stage="after", number=n, resolution=plan.resolution
            )
            after.append(_with_drift(second, first))
            tick(plan.name)
        results.append(PlanResult(plan, (*before, *after), skipped, true_wh, registered_wh))
    return Evaluation(
        model=meter.spec.designation,
        serial=meter.serial,
        markings=meter_markings(meter),
        faults=tuple(faults),
        plans=tuple(results),
        seals=meter.audit.seals,
        calibration=dict(meter.audit.calibration),
        started_at=start,
        finished_at=meter.wall_time(meter.time_s),
        points_total=total,
    )


def _field_period(meter: Meter, days: float, *, seed: int) -> tuple[float, float]:
    """
    Seal the tested meter, install it, run it ``days`` on a realistic load, and bring it back.

    Certificate p.2: after testing, testing seals across the factory seals; installation wire seals in the
    field; after the permanence period the meter is returned (its installation seals cut) for retesting.

    Returns
    -------
    true_energy_wh, registered_energy_wh : float
        [Wh]
    """
    audit = meter.audit
    now = meter.wall_time(meter.time_s)
    provision = audit.seals[0].provision if audit.seals else Provision.NEW
    for seal in standard_seals(provision, applied_at=now, applied_by="laboratory", kinds=(SealKind.TESTING,)):
        audit.apply_seal(seal)
    for seal in standard_seals(
        provision, applied_at=now, applied_by="installer", kinds=(SealKind.INSTALLATION,)
    ):
        audit.apply_seal(seal)
    load = field_load(days, lines=meter.elements, seed=seed)
    before = meter.delivered.value_wh
    meter.run_profile(
        step_s=load.step_s, voltage_v=load.voltage_v, current_a=load.current_a, phase_deg=load.phase_deg
    )
    registered = meter.delivered.value_wh - before
    end = meter.wall_time(meter.time_s)
    for seal in audit.intact_seals():
        if seal.kind is SealKind.INSTALLATION:
            audit.break_seal(
                seal.seal_id, at=end, by="laboratory", reason="meter removed from the field for retest"
            )
    return load.true_energy_wh, registered
