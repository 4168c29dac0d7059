"""Apportioned energy on a bill (issue 14, "Real meters in"): an interval of a real device whose end lies
between two readings of its register is apportioned along the straight line between them and carries
ESPI quality 11 (derived) through VEE; the bill counts it, shows its kWh, share and interval count, and
keeps reading (and saving again, unchanged) the bills stored before it did.

The figures are worked by hand in the comments. Every page of the PDFs made here is kept as a PNG in
``$MESHMETER_TEST_ARTIFACTS``, default ``test-artifacts/bills/`` at the repository's root.
"""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from meshmeter.billing import (
    Bill,
    Tenant,
    bill_meter,
    bill_to_html,
    bill_to_json,
    bill_to_pdf,
    example_tariff,
    interval_grid,
    rebill,
    verify_bill,
)
from meshmeter.billing.bill import Statement, UsageMonth, with_statement
from meshmeter.intervals import Quality
from tests.billing.conftest import LA, local
from tests.billing.test_bill_readable import overlaps

pypdfium2 = pytest.importorskip("pypdfium2")

ARTIFACTS = (
    Path(os.environ.get("MESHMETER_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts")
    / "bills"
)
START, END = local(2026, 7, 1), local(2026, 8, 1)
DERIVED = int(Quality.DERIVED)
LABEL = "Apportioned between readings"


def july(*, apportioned: bool = True) -> Bill:
    """
    July 2026 of a pulse counter's meter, 2976 intervals of 100 Wh, valid, the tenant in from 01:00 on
    1 July (the first 4 intervals out of service). With ``apportioned``:

    - intervals 0-3 (before move-in): apportioned, 50 Wh each; not the tenant's, not counted;
    - intervals 10-13: the counter read at 02:30 and 03:30 only, 401 Wh apart: the register at the three
      boundaries between is 401 × 1/4, 2/4, 3/4 rounded down (100, 200, 300), so 100, 100, 100, 101 Wh;
    - intervals 50-53: read 1,203 Wh apart an hour: 300, 601, 902, so 300, 301, 301, 301 Wh;
    - intervals 200-201: estimated by VEE (9), 100 Wh each; interval 300 questionable (10), not billed.
    """
    grid = interval_grid(START, END)
    energy = np.full(grid.size, 100, dtype=np.int64)
    quality = np.zeros(grid.size, dtype=np.int64)
    if apportioned:
        energy[0:4], quality[0:4] = 50, DERIVED
        energy[10:14], quality[10:14] = [100, 100, 100, 101], DERIVED
        energy[50:54], quality[50:54] = [300, 301, 301, 301], DERIVED
    quality[200:202] = int(Quality.ESTIMATED_INTERPOLATION)
    quality[300] = int(Quality.QUESTIONABLE)
    return bill_meter(
        example_tariff("e-tou-c-example"), grid, energy, quality, start=START, end=END, timezone=LA,
        meter="MM00000011", tenant=Tenant("Unit 2", move_in=local(2026, 7, 1, 1)), opening_read_wh=7_000,
    )  # fmt: skip


def test_the_bill_counts_apportioned_energy_its_share_and_intervals() -> None:
    bill = july()
    assert len(bill.interval_columns[0]) == 31 * 96 == 2976
    # In service: intervals 4..2975, 2972 of them; billed all but the questionable one, 2971. At 100 Wh
    # each that is 297,100 Wh; intervals 10-13 add 1 Wh (401 for 400), intervals 50-53 add 803 (1,203 for
    # 400): 297,904 Wh.
    assert bill.energy_wh == 297_904
    assert bill.unbilled_intervals == 1
    assert bill.unbilled_wh == 100
    # Apportioned: 401 + 1,203 = 1,604 Wh in 8 intervals (the 4 before move-in are not the tenant's).
    assert bill.apportioned_wh == 1_604
    assert bill.apportioned_intervals == 8
    assert bill.apportioned_share == Decimal(1_604) / Decimal(297_904)
    # Estimated stays what it was: 2 intervals of 100 Wh; apportioned energy is not estimated.
    assert (bill.estimated_wh, bill.estimated_intervals) == (200, 2)
    # And the charges are those of the same energy read exactly: apportioning changes no price.
    exact = july(apportioned=False)
    ends, energy, quality = bill.interval_columns
    same = bill_meter(
        example_tariff("e-tou-c-example"), ends, energy, np.where(quality == DERIVED, 0, quality),
        start=START, end=END, timezone=LA, meter="MM00000011",
        tenant=Tenant("Unit 2", move_in=local(2026, 7, 1, 1)), opening_read_wh=7_000,
    )  # fmt: skip
    assert same.lines == bill.lines
    assert same.apportioned_wh == 0
    assert exact.apportioned_intervals == 0


def test_the_document_carries_it_and_bills_again_byte_for_byte() -> None:
    bill = july()
    text = bill_to_json(bill)
    doc = json.loads(text)
    assert doc["apportioned_wh"] == 1_604
    assert doc["apportioned_intervals"] == 8
    assert Decimal(doc["apportioned_share"]) == Decimal(1_604) / Decimal(297_904)
    assert doc["inputs"]["intervals"]["quality"][10:14] == [DERIVED] * 4  # its input: the quality column
    again = verify_bill(doc)
    assert again.apportioned_wh == 1_604
    assert bill_to_json(rebill(text)) == text


def test_a_bill_without_apportioned_intervals_has_the_document_it_always_had() -> None:
    """Bills stored before apportioning was shown have no ``apportioned_*`` members; a bill of the same
    intervals made now must have the same document, or saving it again would be a conflict."""
    doc = json.loads(bill_to_json(july(apportioned=False)))
    assert not [k for k in doc if k.startswith("apportioned")]
    assert list(doc)[:22] == [
        "account", "meter", "mode", "tariff", "start", "end", "timezone", "service_start", "service_end",
        "opening_read_wh", "closing_read_wh", "energy_wh", "energy_by_period_wh", "energy_by_period_tier_wh",
        "tier_limits_wh", "baseline_allowance_wh", "max_demand_kw", "estimated_wh", "estimated_intervals",
        "estimated_share", "unbilled_intervals", "unbilled_wh",
    ]  # fmt: skip
    assert verify_bill(doc).apportioned_wh == 0


def test_the_usage_history_carries_apportioned_months_and_reads_old_ones() -> None:
    old = {"history": [{"month": "2026-06", "energy_wh": 300_000, "estimated_wh": 1_000}]}
    (june,) = Statement.from_dict(old).history
    assert (june.energy_wh, june.estimated_wh, june.apportioned_wh) == (300_000, 1_000, 0)
    assert june.to_dict() == old["history"][0]  # written as it was read
    july_month = UsageMonth(date(2026, 7, 1), 297_904, 200, 1_604)
    row = july_month.to_dict()
    assert row["apportioned_wh"] == 1_604
    assert Statement.from_dict({"history": [row]}).history == (july_month,)
    with pytest.raises(ValueError, match=r"history\[0\]"):
        Statement.from_dict({"history": [{**row, "apportioned_wh": "lots"}]})


def _statement() -> Statement:
    months = [
        UsageMonth(date(2025 + (6 + k) // 12, (6 + k) % 12 + 1, 1), 280_000 + 1_000 * k) for k in range(12)
    ]
    months.append(UsageMonth(date(2026, 7, 1), 297_904, 200, 1_604))
    return Statement(
        site="Oak Court", owner_name="Oak Court Properties LLC", unit="2", tenant="Ada Lovelace",
        account_number="1002", history=tuple(months), issued=date(2026, 8, 2),
    )  # fmt: skip


def test_the_html_bill_shows_the_apportioned_line_only_when_there_is_one() -> None:
    html = bill_to_html(with_statement(july(), _statement()))
    # 1,604 Wh is 1.604 kWh; 1,604 / 297,904 = 0.538 %, printed to a tenth
    assert f"<dt>{LABEL}</dt>" in html
    assert '<dd class="num" id="apportioned">1.604 kWh (0.5 %)</dd>' in html
    assert "Jul 2026: 298 kWh, partly estimated, partly apportioned between readings<" in html
    assert "Jun 2026: 291 kWh<" in html  # a month with none says nothing of it
    assert "shared among the intervals between them along a straight line" in html
    plain = bill_to_html(with_statement(july(apportioned=False), _statement()))
    assert LABEL not in plain
    assert "straight line" not in plain
    assert "<dt>Estimated</dt>" in plain


def test_the_pdf_bill_shows_the_apportioned_line_near_the_estimated_one() -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    data = bill_to_pdf(with_statement(july(), _statement()))
    doc = pypdfium2.PdfDocument(data)
    page = doc[0]
    page.render(scale=2).to_pil().save(ARTIFACTS / "apportioned-page1.png")
    assert overlaps(page.get_textpage()) == []  # the label wraps in its column, clear of its value
    text = " ".join(page.get_textpage().get_text_range().split())
    estimated = text.index("Estimated 0.200 kWh (0.1 %)")  # 200 / 297,904 = 0.067 %
    apportioned = text.index(f"{LABEL} 1.604 kWh (0.5 %)")
    assert estimated < apportioned < text.index("Baseline allowance")  # right under the estimated line
    assert "shared among the intervals between them along a straight line" in text
    plain = bill_to_pdf(with_statement(july(apportioned=False), _statement()))
    plain_text = pypdfium2.PdfDocument(plain)[0].get_textpage().get_text_range()
    assert LABEL not in plain_text
    assert "straight line" not in plain_text
