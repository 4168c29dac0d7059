"""Reports of an evaluation: a CSV of every point, a certificate-style HTML page and PDF, and JSON.

Each shows the meter's markings (model, serial, Kh, Kt, TA, class, CT), the faults injected, the plans
used (their TOML text included in HTML and JSON), every point (element, current, voltage, PF, duration,
pulses, percent registration, error, tolerance, pass or fail), and the seal records (certificate p.2).
"""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from fpdf import FPDF

from meshmeter.evaluation.bench import Evaluation, PointResult

__all__ = [
    "CSV_COLUMNS",
    "evaluation_to_dict",
    "point_row",
    "render_csv",
    "render_html",
    "render_pdf",
    "write_report",
]

CSV_COLUMNS: tuple[str, ...] = (
    "plan",
    "stage",
    "number",
    "label",
    "element",
    "current_a",
    "voltage_v",
    "pf",
    "frequency_hz",
    "duration_s",
    "pulses",
    "meter_energy_wh",
    "reference_energy_wh",
    "percent_registration",
    "error_percent",
    "tolerance_percent",
    "drift_percent",
    "reversed",
    "result",
    "note",
)
"""Columns of the CSV, in order."""


def _num(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def point_row(result: PointResult) -> dict[str, Any]:
    """One point as a flat record, keyed by :data:`CSV_COLUMNS`."""
    p = result.point
    criterion = p.tolerance_percent
    return {
        "plan": result.plan,
        "stage": result.stage,
        "number": result.number,
        "label": p.label,
        "element": p.element,
        "current_a": p.current_a,
        "voltage_v": p.voltage_v,
        "pf": p.pf_text,
        "frequency_hz": p.frequency_hz,
        "duration_s": result.duration_s,
        "pulses": result.pulses,
        "meter_energy_wh": _num(result.meter_energy_wh),
        "reference_energy_wh": _num(result.reference_energy_wh),
        "percent_registration": _num(result.percent_registration),
        "error_percent": _num(result.error_percent),
        "tolerance_percent": None if criterion is None else _num(criterion),
        "drift_percent": _num(result.drift_percent),
        "reversed": result.reversed,
        "result": "pass" if result.passed else "fail",
        "note": result.note or _criterion(result),
    }


def _criterion(result: PointResult) -> str:
    p = result.point
    if p.max_pulses is not None:
        return f"no load: at most {p.max_pulses} pulse(s)"
    if p.min_pulses is not None:
        return f"starting load: at least {p.min_pulses} pulse(s)"
    return ""


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def evaluation_to_dict(evaluation: Evaluation) -> dict[str, Any]:
    """The whole evaluation as JSON-ready values."""
    return {
        "model": evaluation.model,
        "serial": evaluation.serial,
        "passed": evaluation.passed,
        "points": evaluation.points_total,
        "failed": evaluation.failed,
        "reversed": evaluation.reversed,
        "markings": evaluation.markings,
        "faults": [f.text for f in evaluation.faults],
        "calibration": evaluation.calibration,
        "started_at": _iso(evaluation.started_at),
        "finished_at": _iso(evaluation.finished_at),
        "plans": [
            {
                "name": pr.plan.name,
                "title": pr.plan.title,
                "kind": pr.plan.kind,
                "reference": pr.plan.reference,
                "source": pr.plan.source,
                "passed": pr.passed,
                "failed": pr.failed,
                "skipped": len(pr.skipped),
                "field_days": pr.plan.field_days if pr.plan.kind == "permanence" else None,
                "field_true_energy_wh": _num(pr.field_true_energy_wh, 1),
                "field_registered_energy_wh": _num(pr.field_registered_energy_wh, 1),
                "points": [point_row(r) for r in pr.points],
            }
            for pr in evaluation.plans
        ],
        "seals": [
            {
                "seal_id": s.seal_id,
                "kind": str(s.kind),
                "provision": str(s.provision),
                "location": s.location,
                "applied_at": _iso(s.applied_at),
                "applied_by": s.applied_by,
                "broken_at": None if s.broken_at is None else _iso(s.broken_at),
                "broken_by": s.broken_by,
                "reason": s.reason,
            }
            for s in evaluation.seals
        ],
    }


def render_csv(evaluation: Evaluation) -> str:
    """Every point of every plan, one row each, columns :data:`CSV_COLUMNS`."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for pr in evaluation.plans:
        for result in pr.points:
            writer.writerow({k: "" if v is None else v for k, v in point_row(result).items()})
    return out.getvalue()


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("meshmeter.evaluation", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


_HTML_HEADERS: dict[str, str] = {
    "stage": "stage",
    "number": "#",
    "label": "label",
    "element": "element",
    "current_a": "I [A]",
    "voltage_v": "V [V]",
    "pf": "PF",
    "frequency_hz": "f [Hz]",
    "duration_s": "duration [s]",
    "pulses": "pulses",
    "meter_energy_wh": "meter [Wh]",
    "reference_energy_wh": "reference [Wh]",
    "percent_registration": "% registration",
    "error_percent": "error [%]",
    "tolerance_percent": "tolerance [±%]",
    "drift_percent": "drift [%]",
    "reversed": "reversed",
    "result": "result",
    "note": "note",
}


def render_html(evaluation: Evaluation) -> str:
    """The certificate-style report as one self-contained HTML page (template ``report.html.j2``)."""
    return _ENV.get_template("report.html.j2").render(
        ev=evaluation_to_dict(evaluation), plans=evaluation.plans, headers=_HTML_HEADERS
    )


_PDF_COLUMNS: tuple[tuple[str, str, float], ...] = (
    ("number", "#", 8),
    ("stage", "stage", 12),
    ("element", "elem.", 10),
    ("current_a", "I [A]", 13),
    ("voltage_v", "V [V]", 12),
    ("pf", "PF", 16),
    ("duration_s", "t [s]", 18),
    ("pulses", "pulses", 13),
    ("percent_registration", "% reg.", 18),
    ("error_percent", "error [%]", 16),
    ("tolerance_percent", "tol. [%]", 14),
    ("result", "result", 12),
    ("note", "note", 28),
)


def _latin1(text: object) -> str:
    """Text the PDF's core fonts can show (latin-1), with the few typographic signs replaced."""
    s = str(text)
    for a, b in (("–", "-"), ("—", "-"), ("≤", "<="), ("≥", ">="), ("×", "x"), ("…", "...")):
        s = s.replace(a, b)
    return s.encode("latin-1", "replace").decode("latin-1")


def render_pdf(evaluation: Evaluation) -> bytes:
    """The certificate-style report as PDF (fpdf2, core fonts)."""
    data = evaluation_to_dict(evaluation)
    pdf = FPDF(orientation="P", unit="mm", format="Letter")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.set_title(f"Type evaluation report {data['model']} {data['serial']}")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, "Type Evaluation Report - Electronic Watt-Hour Meter", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    verdict = (
        "COMPLIES: every point passed"
        if data["passed"]
        else f"DOES NOT COMPLY: {data['failed']} point(s) failed"
    )
    pdf.cell(0, 5, _latin1(f"Result: {verdict} ({data['points']} points)"), new_x="LMARGIN", new_y="NEXT")
    if data["reversed"]:
        pdf.cell(0, 5, "Reverse phase indicated: a CT is installed backwards.", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(
        0,
        5,
        _latin1(f"Bench time {data['started_at']} to {data['finished_at']} (simulated)"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.cell(
        0,
        5,
        _latin1("Faults injected: " + (", ".join(data["faults"]) or "none")),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 6, "Meter markings", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for key, value in data["markings"].items():
        pdf.cell(30, 5, _latin1(key))
        pdf.cell(0, 5, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 6, "Seal records", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    for seal in data["seals"]:
        broken = f", broken {seal['broken_at']} by {seal['broken_by']}" if seal["broken_at"] else ", intact"
        applied = f"applied {seal['applied_at']} by {seal['applied_by']}"
        line = f"{seal['seal_id']} ({seal['kind']}): {applied}{broken}"
        pdf.multi_cell(0, 4, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    for plan, plan_result in zip(data["plans"], evaluation.plans, strict=True):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 11)
        status = "passed" if plan["passed"] else f"{plan['failed']} failed"
        pdf.multi_cell(
            0, 6, _latin1(f"Plan {plan['name']}: {plan['title']} ({status})"), new_x="LMARGIN", new_y="NEXT"
        )
        pdf.set_font("Helvetica", "", 8)
        pdf.multi_cell(
            0,
            4,
            _latin1(f"Reference: {plan['reference']}. Source: {plan['source']}."),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        if plan["field_days"]:
            pdf.multi_cell(
                0,
                4,
                _latin1(
                    f"Field period {plan['field_days']:g} days: "
                    f"load drew {plan['field_true_energy_wh']:.1f} Wh, "
                    f"meter registered {plan['field_registered_energy_wh']:.1f} Wh."
                ),
                new_x="LMARGIN",
                new_y="NEXT",
            )
        pdf.ln(1)
        pdf.set_font("Helvetica", "B", 7)
        for _, title, width in _PDF_COLUMNS:
            pdf.cell(width, 5, title, border=1)
        pdf.ln()
        pdf.set_font("Helvetica", "", 7)
        for row in plan["points"]:
            for key, _, width in _PDF_COLUMNS:
                value = row[key]
                text = "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
                if key == "note" and pdf.get_string_width(text) > width - 1:
                    while text and pdf.get_string_width(text + "...") > width - 1:
                        text = text[:-1]
                    text += "..."
                pdf.cell(width, 4, _latin1(text), border=1)
            pdf.ln()
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 8)
        pdf.cell(0, 5, "The plan as used", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Courier", "", 6)
        pdf.multi_cell(0, 3, _latin1(plan_result.plan.text), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def write_report(evaluation: Evaluation, directory: str | Path) -> dict[str, Path]:
    """
    Write ``evaluation.csv``, ``evaluation.html`` and ``evaluation.pdf`` into a directory (made if need be).

    Returns
    -------
    dict of str to Path
        ``{"csv": ..., "html": ..., "pdf": ...}``.
    """
    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise ValueError(f"directory must be a directory, got the file {str(target)!r}")
    target.mkdir(parents=True, exist_ok=True)
    paths = {kind: target / f"evaluation.{kind}" for kind in ("csv", "html", "pdf")}
    paths["csv"].write_text(render_csv(evaluation), encoding="utf-8")
    paths["html"].write_text(render_html(evaluation), encoding="utf-8")
    paths["pdf"].write_bytes(render_pdf(evaluation))
    return paths
