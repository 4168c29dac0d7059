"""The type-evaluation bench: test plans, runs, reports (certificate 5361(b)-09 p.2; manual §3.1).

Plans are TOML data (:mod:`~meshmeter.evaluation.plans`); the bench runs them on a meter twin as a
laboratory does, with a reference standard and a pulse count on the test output
(:mod:`~meshmeter.evaluation.bench`); faults can be injected (:mod:`~meshmeter.evaluation.faults`); the
results go to CSV, HTML, PDF and JSON (:mod:`~meshmeter.evaluation.report`).
"""

from __future__ import annotations

from meshmeter.evaluation.bench import (
    Evaluation,
    PlanResult,
    PointResult,
    evaluate,
    meter_markings,
    run_point,
)
from meshmeter.evaluation.faults import FAULT_FORMS, Fault, build_meter, parse_fault
from meshmeter.evaluation.field import FieldLoad, field_load
from meshmeter.evaluation.plans import (
    BUILTIN_PLANS,
    PLAN_SETS,
    PlanError,
    TestPlan,
    TestPoint,
    builtin_plan_text,
    load_plan,
    load_plans,
    parse_plan,
)
from meshmeter.evaluation.reference import (
    percent_registration,
    pulses_for_resolution,
    reference_energy_wh,
    run_duration_s,
)
from meshmeter.evaluation.report import (
    CSV_COLUMNS,
    evaluation_to_dict,
    render_csv,
    render_html,
    render_pdf,
    write_report,
)

__all__ = [
    "BUILTIN_PLANS",
    "CSV_COLUMNS",
    "FAULT_FORMS",
    "PLAN_SETS",
    "Evaluation",
    "Fault",
    "FieldLoad",
    "PlanError",
    "PlanResult",
    "PointResult",
    "TestPlan",
    "TestPoint",
    "build_meter",
    "builtin_plan_text",
    "evaluate",
    "evaluation_to_dict",
    "field_load",
    "load_plan",
    "load_plans",
    "meter_markings",
    "parse_fault",
    "parse_plan",
    "percent_registration",
    "pulses_for_resolution",
    "reference_energy_wh",
    "render_csv",
    "render_html",
    "render_pdf",
    "run_duration_s",
    "run_point",
    "write_report",
]
