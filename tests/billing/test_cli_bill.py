"""The ``meshmeter bill`` command, on a CSV and on the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshmeter.billing import verify_bill
from meshmeter.cli import app

runner = CliRunner()
ENV = {"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}
JULY = ["--start", "2026-07-01", "--end", "2026-08-01"]


def run(*args: str):
    return runner.invoke(app, list(args), env=ENV)


def july_csv(path: Path, wh: int = 250, quality: bool = False) -> Path:
    # July 2026 in Los Angeles: 07:00 UTC on the 1st to 07:00 UTC on 1 August, 2976 intervals.
    t = datetime(2026, 7, 1, 7, tzinfo=UTC)
    rows = ["interval_end,energy_wh" + (",quality" if quality else "")]
    for i in range(2976):
        t += timedelta(minutes=15)
        rows.append(
            f"{t.isoformat().replace('+00:00', 'Z')},{wh}"
            + (",8" if quality and i < 4 else ",0" if quality else "")
        )
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_bill_csv_json(tmp_path):
    # The TOU month worked by hand in test_engine.py: 273.89 printed.
    csv_file = july_csv(tmp_path / "unit1.csv")
    result = run(
        "bill", "--tariff", "example:e-tou-c-example", "--intervals", str(csv_file), *JULY,
        "--timezone", "America/Los_Angeles", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["printed_total"] == "273.89"
    assert doc["energy_wh"] == 744_000
    assert doc["meter"] == "unit1"
    verify_bill(doc)


def test_bill_text_and_move_out(tmp_path):
    csv_file = july_csv(tmp_path / "unit1.csv")
    result = run(
        "bill", "--tariff", "example:tiered-flat-example", "--intervals", str(csv_file), *JULY,
        "--timezone", "America/Los_Angeles", "--account", "Unit 4B", "--move-out", "2026-07-16",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Unit 4B" in result.output
    assert "51.58" in result.output  # worked by hand in test_engine.py


@pytest.mark.parametrize(
    ("fmt", "magic"), [("html", b"<!DOCTYPE html>"), ("pdf", b"%PDF-"), ("csv", b"account,")]
)
def test_bill_formats_to_file(tmp_path, fmt, magic):
    csv_file = july_csv(tmp_path / "u.csv", quality=True)
    out = tmp_path / f"bill.{fmt}"
    result = run(
        "bill", "--tariff", "example:e-tou-c-example", "--intervals", str(csv_file), *JULY,
        "--timezone", "America/Los_Angeles", "--format", fmt, "-o", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(magic)


def test_bill_from_the_store_uses_the_site_time_zone(tmp_path):
    from meshmeter.store import Store

    url = f"sqlite:///{tmp_path / 'bill.db'}"
    start = datetime(2026, 7, 1, 7, tzinfo=UTC)
    with Store(url) as store:
        site = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
        meter = store.create_meter(
            serial="MM00000009", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id
        )
        rows = [(start + timedelta(minutes=15 * (i + 1)), 250, 9 if i < 8 else 0) for i in range(2976)]
        store.put_validated_intervals(meter_id=meter.id, rows=rows, edited_by="vee", reason="test")
        store.add_register_read(meter_id=meter.id, read_at=start, energy_wh=1_000_000)
    result = run(
        "bill",
        "--tariff",
        "example:e-tou-c-example",
        "--meter",
        "MM00000009",
        *JULY,
        "--database",
        url,
        "--json",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["timezone"] == "America/Los_Angeles"
    assert doc["printed_total"] == "273.89"
    assert doc["estimated_wh"] == 2_000
    assert Decimal(doc["estimated_share"]) == Decimal(2) / Decimal(744)
    assert doc["opening_read_wh"] == 1_000_000
    assert doc["closing_read_wh"] == 1_744_000
    missing = run("bill", "--tariff", "example:e-tou-c-example", "--meter", "NOPE", *JULY, "--database", url)
    assert missing.exit_code == 2
    assert "NOPE" in missing.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--timezone", "America/Los_Angeles", "--meter", "X"], "exactly one of"),
        ([], "--timezone is needed"),
        (["--timezone", "Mars/Base"], "timezone"),
        (["--timezone", "America/Los_Angeles", "--format", "xml"], "format"),
        (["--timezone", "America/Los_Angeles", "--format", "pdf"], "--output"),
    ],
)
def test_bill_bad_options(tmp_path, args, needle):
    csv_file = july_csv(tmp_path / "u.csv")
    result = run("bill", "--tariff", "example:e-tou-c-example", "--intervals", str(csv_file), *JULY, *args)
    assert result.exit_code == 2
    assert needle in result.output


def test_bill_refuses_bad_tariff_and_bad_csv(tmp_path):
    tariff = tmp_path / "t.json"
    tariff.write_text(
        json.dumps({"energyratestructure": [[{"rate": 0.1}]], "demandwindow": 7}), encoding="utf-8"
    )
    csv_file = july_csv(tmp_path / "u.csv")
    tz = ["--timezone", "America/Los_Angeles"]
    result = run("bill", "--tariff", str(tariff), "--intervals", str(csv_file), *JULY, *tz)
    assert result.exit_code == 2
    assert "demandwindow" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "interval_end,energy_wh\n2026-07-01T07:15:00Z,10\n2026-07-01T07:20:00Z,10\n", encoding="utf-8"
    )
    result = run("bill", "--tariff", "example:e-tou-c-example", "--intervals", str(bad), *JULY, *tz)
    assert result.exit_code == 2
    assert "line 3" in result.output
    result = run("bill", "--tariff", str(tmp_path / "none.json"), "--intervals", str(csv_file), *JULY, *tz)
    assert result.exit_code == 2
    assert "cannot read tariff" in result.output
