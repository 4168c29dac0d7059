"""Bill outputs (JSON, CSV, HTML, PDF) and re-billing from a bill's recorded inputs."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import numpy as np
import pytest

from meshmeter.billing import (
    Tenant,
    bill_meter,
    bill_to_html,
    bill_to_json,
    bill_to_pdf,
    bills_to_csv,
    example_tariff,
    interval_grid,
    maryland_bills,
    rebill,
    verify_bill,
)
from meshmeter.errors import BillMismatchError
from tests.billing.conftest import LA, local


@pytest.fixture
def bill():
    start, end = local(2026, 7, 1), local(2026, 8, 1)
    grid = interval_grid(start, end)
    rng = np.random.default_rng(3)
    energy = rng.integers(50, 400, size=grid.size)
    quality = rng.choice([0, 0, 0, 8, 10], size=grid.size)
    return bill_meter(
        example_tariff("e-tou-c-example"), grid, energy, quality, start=start, end=end, timezone=LA,
        meter="MM00000007", tenant=Tenant("Unit 1", move_in=local(2026, 7, 3, 12)), opening_read_wh=5_000,
    )  # fmt: skip


def test_json_carries_inputs_and_verifies(bill):
    doc = json.loads(bill_to_json(bill))
    assert doc["total"] == str(bill.total)
    assert doc["printed_total"] == str(bill.printed_total)
    inputs = doc["inputs"]
    assert inputs["tariff_sha256"] == example_tariff("e-tou-c-example").sha256
    assert inputs["timezone"] == LA
    assert inputs["engine_version"]
    assert len(inputs["intervals"]["energy_wh"]) == 2976
    again = verify_bill(doc)
    assert again.lines == bill.lines
    assert rebill(json.dumps(doc)).total == bill.total


@pytest.mark.parametrize(
    ("tamper", "needle"),
    [
        (lambda d: d["inputs"]["intervals"]["energy_wh"].__setitem__(5, 9999), "intervals do not match"),
        (
            lambda d: d["inputs"]["tariff"]["energyratestructure"][0][0].__setitem__("rate", 0.01),
            "tariff does not",
        ),
        (lambda d: d.__setitem__("total", "1.00"), "total"),
        (lambda d: d["lines"][0].__setitem__("amount", "0"), r"lines\[0\].amount"),
        (lambda d: d["inputs"].__setitem__("engine_version", "other/9"), "engine"),
        (lambda d: d["inputs"].pop("intervals"), "without its intervals"),
    ],
)
def test_tampered_bill_is_caught(bill, tamper, needle):
    doc = json.loads(bill_to_json(bill))
    tamper(doc)
    with pytest.raises(BillMismatchError, match=needle):
        verify_bill(doc)


def test_maryland_bill_verifies():
    start, end = local(2026, 7, 1), local(2026, 7, 8)
    n = interval_grid(start, end).size
    energy = np.stack([np.full(n, 100), np.full(n, 300)])
    bills = maryland_bills(
        Decimal("99.99"), energy, np.zeros_like(energy), start=start, end=end, timezone=LA, meters=["a", "b"],
        admin_fee=Decimal("1.25"),
    )  # fmt: skip
    for b in bills:
        verify_bill(bill_to_json(b))
    doc = json.loads(bill_to_json(bills[1]))
    doc["inputs"]["units_energy_wh"][1] += 1
    with pytest.raises(BillMismatchError, match="allocation recorded"):
        verify_bill(doc)


def test_csv_lines_and_total(bill):
    rows = list(csv.DictReader(io.StringIO(bills_to_csv([bill, bill]))))
    assert len(rows) == 2 * (len(bill.lines) + 1)
    total = rows[len(bill.lines)]
    assert total["kind"] == "total"
    assert Decimal(total["printed_amount"]) == bill.printed_total
    assert sum(Decimal(r["printed_amount"]) for r in rows[: len(bill.lines)]) == bill.printed_total


def test_html_and_pdf(bill):
    html = bill_to_html(bill)
    assert "Unit 1" in html
    assert f"{bill.printed_total:,.2f}" in html
    assert bill.interval_digest in html
    assert "Baseline allowance" in html
    pdf = bill_to_pdf(bill)
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) > 1000


def test_a_bill_with_exports_prior_peaks_and_year_charges_is_reproduced():
    """The inputs a bill records only when given (exports, prior monthly peaks, the year's charges) are
    passed again when it is re-billed, so verify_bill holds for it too."""
    from meshmeter.billing import bill_meter, example_tariff, interval_grid, verify_bill
    from tests.billing.conftest import LA, local

    start, end = local(2026, 12, 1), local(2027, 1, 1)
    grid = interval_grid(start, end)
    energy = np.full(grid.size, 250, dtype=np.int64)
    exports = np.where(np.arange(grid.size) % 96 == 48, 100, 0).astype(np.int64)
    bill = bill_meter(
        example_tariff("tiered-flat-example"), grid, energy, start=start, end=end, timezone=LA,
        export_wh=exports, prior_peaks_kw=[Decimal("1.5"), None], year_to_date_charges=Decimal("1000.00"),
    )  # fmt: skip
    doc = bill.to_dict()
    assert doc["inputs"]["export_wh"] == exports.tolist()
    assert verify_bill(doc).printed_total == bill.printed_total
