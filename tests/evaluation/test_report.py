"""Report files: CSV of every point, certificate-style HTML and PDF, JSON."""

from __future__ import annotations

import csv
import io
import json
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from meshmeter.evaluation.bench import Evaluation, evaluate
from meshmeter.evaluation.faults import parse_fault
from meshmeter.evaluation.plans import load_plan
from meshmeter.evaluation.report import (
    CSV_COLUMNS,
    evaluation_to_dict,
    render_csv,
    render_html,
    render_pdf,
    write_report,
)


@pytest.fixture(scope="module")
def evaluation() -> Evaluation:
    plans = [load_plan(name) for name in ("ansi", "creep", "permanence")]
    return evaluate(plans, serial="SN-42", faults=[parse_fault("reversed-ct=2")])


class _Cells(HTMLParser):
    """Collects the text of every table row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_csv_has_every_point_and_column(evaluation: Evaluation) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(evaluation))))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    for needed in ("element", "current_a", "voltage_v", "pf", "duration_s", "pulses", "percent_registration",
                   "error_percent", "tolerance_percent", "result"):  # fmt: skip
        assert needed in CSV_COLUMNS
    assert len(rows) == 5 + 4 + 18
    fl = next(r for r in rows if r["plan"] == "ansi" and r["label"] == "FL")
    assert (fl["element"], fl["current_a"], fl["voltage_v"], fl["pf"]) == ("both", "30.0", "120.0", "1.0")
    assert (fl["duration_s"], fl["tolerance_percent"], fl["result"], fl["reversed"]) == (
        "10000.0", "0.5", "fail", "True",
    )  # fmt: skip
    assert float(fl["percent_registration"]) == pytest.approx(0.0)  # the two elements cancel
    el1 = next(r for r in rows if r["plan"] == "ansi" and r["label"] == "FL element 1")
    assert el1["result"] == "pass"
    assert float(el1["percent_registration"]) == pytest.approx(100.0, abs=0.05)
    no_load = next(r for r in rows if r["plan"] == "creep" and r["current_a"] == "0.0")
    assert no_load["percent_registration"] == ""
    assert no_load["tolerance_percent"] == ""
    assert "at most 1 pulse" in no_load["note"]
    assert {r["stage"] for r in rows if r["plan"] == "permanence"} == {"before", "after"}


def test_html_contains_every_point_markings_seals_and_plan(evaluation: Evaluation) -> None:
    html = render_html(evaluation)
    parser = _Cells()
    parser.feed(html)
    rows = render_csv(evaluation).splitlines()[1:]
    data_rows = [r for r in parser.rows if len(r) == 19]  # the point tables' rows
    assert len(data_rows) == len(rows) + 3  # and a header row for each of the 3 plans
    for markings in ("MM-D1202001-T-SCC", "SN-42", "30 A", "200 (200 A max.)", "100 Wh", "10 Wh"):
        assert markings in html
    for seal in evaluation.seals:
        assert seal.seal_id in html
    assert "reversed-ct=2" in html
    assert 'name = "ansi"' in unescape(html)  # the plan as used
    assert "Does not comply" in html
    points = {(r[0], r[1]) for r in data_rows}
    for plan in evaluation.plans:
        for p in plan.points:
            assert (p.stage, str(p.number)) in points


def test_pdf(evaluation: Evaluation) -> None:
    pdf = render_pdf(evaluation)
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert len(pdf) > 2000


def test_json(evaluation: Evaluation) -> None:
    data = json.loads(json.dumps(evaluation_to_dict(evaluation)))
    assert data["passed"] is False
    assert data["reversed"] is True
    assert data["faults"] == ["reversed-ct=2"]
    assert data["markings"]["TA"] == "30 A"
    assert [p["name"] for p in data["plans"]] == ["ansi", "creep", "permanence"]
    assert sum(len(p["points"]) for p in data["plans"]) == data["points"] == 27
    assert data["failed"] == sum(p["failed"] for p in data["plans"])
    assert data["plans"][2]["field_days"] == 30.0
    assert any(s["broken_at"] for s in data["seals"])


def test_write_report(tmp_path: Path, evaluation: Evaluation) -> None:
    paths = write_report(evaluation, tmp_path / "out")
    assert {k: p.name for k, p in paths.items()} == {
        "csv": "evaluation.csv",
        "html": "evaluation.html",
        "pdf": "evaluation.pdf",
    }
    assert paths["pdf"].read_bytes().startswith(b"%PDF")
    assert paths["csv"].read_text(encoding="utf-8") == render_csv(evaluation)
    file = tmp_path / "file"
    file.write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match="directory"):
        write_report(evaluation, file)
