"""``meshmeter tariff show`` and the tariff options of ``meshmeter bill`` (issue 13), on real URDB documents
(``tests/data/urdb/SOURCES.md``, ``tests/billing/tariff_data/README.md``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from meshmeter.billing import select_rate, verify_bill
from meshmeter.cli import app

runner = CliRunner()
ENV = {"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}
CORPUS = Path(__file__).resolve().parents[1] / "data" / "urdb"
DATA = Path(__file__).resolve().parent / "tariff_data"
JULY = ["--start", "2026-07-01", "--end", "2026-08-01", "--timezone", "America/Los_Angeles"]


def run(*args: str):
    return runner.invoke(app, list(args), env=ENV)


def july_csv(path: Path, wh: int = 250) -> Path:
    t = datetime(2026, 7, 1, 7, tzinfo=UTC)
    rows = ["interval_end,energy_wh"]
    for _ in range(2976):
        t += timedelta(minutes=15)
        rows.append(f"{t.isoformat().replace('+00:00', 'Z')},{wh}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def items_file(tmp_path: Path, *names: str) -> Path:
    rates = [select_rate(json.loads((CORPUS / n).read_text(encoding="utf-8"))) for n in names]
    path = tmp_path / "response.json"
    path.write_text(json.dumps({"items": rates}), encoding="utf-8")
    return path


def test_show_a_real_tariff_as_text():
    result = run("tariff", "show", str(CORPUS / "pge-e-19-secondary.json"))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Tariff    E-19 Medium General Demand TOU (Secondary)" in out
    assert "Label     5cef0a415457a33576f60fe2" in out
    assert "Dates     start 2019-05-01, end 2019-06-30" in out
    assert "customer charge   19.71253 $/day" in out
    # The 12 x 24 grids: months down, hours across; July weekdays 12-18 h are period 4.
    assert "Energy weekday schedule (months down, local hours across)" in out
    assert "  Jul   2  2  2  2  2  2  2  2  3  3  3  3  4  4  4  4  4  4  3  3  3  2  2  2" in out
    assert "  4: all at 0.16484 $/kWh" in out
    assert "Demand weekday schedule" in out
    assert "Flat demand periods (all hours)" in out
    # Descriptive fields are listed as kept, not applied.
    assert "energyattrs" in out
    assert "demandattrs" in out


def test_show_json_and_label(tmp_path):
    path = items_file(tmp_path, "fpl-rs-1.json", "jackson-emc-a-residential-senior.json")
    result = run("tariff", "show", str(path), "--label", "5550d6fd5457a3187e8b4567", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["name"] == "RS-1 Residential Service"
    assert doc["charges"]["fixed"] == {"amount": "7.57", "unit": "$/month"}
    assert doc["energy"]["periods"][0]["tiers"] == [
        {"max": "1000", "unit": "kWh", "rate": "0.08721"},
        {"max": None, "unit": "kWh", "rate": "0.10803"},
    ]
    assert len(doc["energy"]["weekday"]) == 12
    assert all(len(row) == 24 for row in doc["energy"]["weekend"])
    assert {"field": "revisions", "reason": "descriptive: kept, not used in the bill"} in doc["ignored"]
    # Several rates and no label: refused, the labels and names listed.
    result = run("tariff", "show", str(path))
    assert result.exit_code == 2
    assert "choose one by its label" in result.output
    assert "5550d6fd5457a3187e8b4567" in result.output
    assert "RS-1 Residential Service" in result.output


def test_show_with_period_names(tmp_path):
    result = run(
        "tariff", "show", "example:e-tou-c-example", "--period-names",
        "0=summer peak,1=summer off-peak,2=winter peak,3=winter off-peak",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "  0 summer peak: tier 1 up to 13.5 kWh/day at 0.4 $/kWh; tier 2 above 13.5 kWh/day at 0.49" in (
        result.output
    )
    result = run("tariff", "show", "example:e-tou-c-example", "--period-names", "9=nowhere")
    assert result.exit_code == 2
    assert "meshmeter_period_names.energy.9" in result.output


def test_show_refuses_naming_every_problem(tmp_path):
    result = run("tariff", "show", str(CORPUS / "south-central-ppd-lp1.json"))
    assert result.exit_code == 2
    line = result.output.strip()
    assert line.startswith("error: tariff has 4 problems:")
    assert "\n" not in line
    for field in ("[0][0]", "[0][1]", "[1][0]", "[1][1]"):
        assert f"energyratestructure{field}.unit" in line
    result = run("tariff", "show", str(DATA / "reopt-api-missing-schedule.json"), "--json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["refused"] is True
    assert [p["field"] for p in doc["problems"]] == [
        "energyweekdayschedule[0][0]",
        "energyweekendschedule[0][0]",
    ]


def test_show_bad_input_exit_2():
    result = run("tariff", "show", "/nonexistent/t.json")
    assert result.exit_code == 2
    assert "cannot read tariff" in result.output
    result = run("tariff", "show", "example:e-tou-c-example", "--label", "x")
    assert result.exit_code == 2
    assert "--label" in result.output


def test_bill_at_a_rate_chosen_by_label_with_period_names(tmp_path):
    # FPL RS-1 from an items response: July at 1 kW, 744 kWh: all in tier 1 (1000 kWh a month), so the
    # tier 2 line is absent; 744 x 0.08721 = 64.88424 + 7.57 = 72.45.
    path = items_file(tmp_path, "fpl-rs-1.json", "psco-rd-residential-demand.json")
    csv_file = july_csv(tmp_path / "unit1.csv")
    result = run(
        "bill", "--tariff", str(path), "--label", "5550d6fd5457a3187e8b4567", "--intervals", str(csv_file),
        *JULY, "--period-names", "0=all hours", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["printed_total"] == "72.45"
    assert [line["description"] for line in doc["lines"]] == ["Energy, all hours, tier 1", "Customer charge"]
    assert doc["inputs"]["tariff"]["meshmeter_period_names"] == {"energy": {"0": "all hours"}}
    verify_bill(doc)
    result = run("bill", "--tariff", str(path), "--intervals", str(csv_file), *JULY)
    assert result.exit_code == 2
    assert "choose one by its label" in result.output


def csv_from(path: Path, first_end: datetime, count: int, wh: int) -> Path:
    rows = ["interval_end,energy_wh"]
    t = first_end
    for _ in range(count):
        rows.append(f"{t.isoformat().replace('+00:00', 'Z')},{wh}")
        t += timedelta(minutes=15)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_bill_text_prints_readable_quantities(tmp_path):
    # PySAM's v7 rate with its customer charge as 120 $/year: a bill of 1 July to 2 August 2026 has
    # 1 + 1/31 months of it (1.032258064516...), printed to 4 decimals at 10 $/month.
    doc = json.loads((DATA / "pysam-urdbv7.json").read_text(encoding="utf-8"))
    del doc["fixedmonthlycharge"]
    doc.update(fixedchargefirstmeter=120, fixedchargeunits="$/year")
    tariff = tmp_path / "t.json"
    tariff.write_text(json.dumps(doc), encoding="utf-8")
    csv_file = csv_from(tmp_path / "u.csv", datetime(2026, 7, 1, 7, 15, tzinfo=UTC), 2976 + 96, 250)
    args = ["--start", "2026-07-01", "--end", "2026-08-02", "--timezone", "America/Los_Angeles"]
    result = run("bill", "--tariff", str(tariff), "--intervals", str(csv_file), *args)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "Customer charge" in line)
    assert [cell.strip() for cell in row.split("│")[1:6]] == [
        "Customer charge",
        "1.0323",
        "month",
        "10",
        "10.32",
    ]


def test_bill_text_hides_zero_rate_lines(tmp_path):
    # REopt.jl's multi-tier rate in January: weekday demand is its period 0 at $0/kW: the line is in the
    # bill (JSON) but not printed; the weekend period's line is.
    january = ["--start", "2026-01-01", "--end", "2026-02-01", "--timezone", "America/Los_Angeles"]
    csv_file = csv_from(tmp_path / "jan.csv", datetime(2026, 1, 1, 8, 15, tzinfo=UTC), 2976, 2500)
    multi = str(CORPUS / "reopt-jl-multi-tier.json")
    as_json = json.loads(
        run("bill", "--tariff", multi, "--intervals", str(csv_file), *january, "--json").output
    )
    assert [line["description"] for line in as_json["lines"] if line["rate"] == "0"] == [
        "Demand 2026-01, period 1"
    ]
    text = run("bill", "--tariff", multi, "--intervals", str(csv_file), *january)
    assert text.exit_code == 0, text.output
    assert "period 1" not in text.output
    assert "Demand 2026-01, period 2" in text.output
    assert as_json["printed_total"] in text.output


def test_bill_warns_when_a_ratchet_has_no_history(tmp_path):
    doc = {
        "name": "ratchet",
        "energyratestructure": [[{"rate": 0.1}]],
        "energyweekdayschedule": [[0] * 24] * 12,
        "energyweekendschedule": [[0] * 24] * 12,
        "flatdemandstructure": [[{"rate": 10}]],
        "flatdemandmonths": [0] * 12,
        "demandratchetpercentage": [0.8] * 12,
    }
    tariff = tmp_path / "t.json"
    tariff.write_text(json.dumps(doc), encoding="utf-8")
    csv_file = july_csv(tmp_path / "unit1.csv")
    result = run("bill", "--tariff", str(tariff), "--intervals", str(csv_file), *JULY)
    assert result.exit_code == 0, result.output
    assert "warning: the tariff's demand ratchet looks back 11 months" in result.stderr
