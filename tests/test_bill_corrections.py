"""Issued bills stay as issued; when their data changes, the affected bills are listed and corrected
(issue 13: "An issued bill never changes ... the system lists the affected bills, computes the correction").

Worked by hand on the tiered-flat example tariff (500 kWh at $0.12, the next 500 at $0.15, the rest at
$0.18; customer charge $10/month): July 2026 at 200 Wh a quarter-hour is 2,976 x 0.2 = 595.2 kWh,
500 x 0.12 + 95.2 x 0.15 + 10 = 60.00 + 14.28 + 10.00 = $84.28.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from meshmeter.billing import example_tariff, verify_bill
from meshmeter.errors import NotFoundError
from meshmeter.services.billing import bill_meter_from_store, save_meter_bill
from meshmeter.services.corrections import affected_bills, correction
from meshmeter.store import Store

START = datetime(2026, 7, 1, 7, tzinfo=UTC)
"""Local midnight of 1 July 2026 in Los Angeles."""
END = datetime(2026, 8, 1, 7, tzinfo=UTC)
N = 96 * 31


def _end(i: int) -> datetime:
    return START + timedelta(minutes=15 * (i + 1))


@pytest.fixture
def store(tmp_path: Path):
    with Store(f"sqlite:///{tmp_path / 'corrections.sqlite'}") as opened:
        site = opened.create_site(name="Oak Court", timezone="America/Los_Angeles")
        opened.create_meter(serial="M1", designation="MM-1", ct_ratio=2000, site_id=site.id)
        yield opened


def _issue(store: Store, count: int = N) -> int:
    meter = store.get_meter(serial="M1")
    assert meter is not None
    rows = [(_end(i), 200, 0) for i in range(count)]
    store.put_validated_intervals(meter_id=meter.id, rows=rows, edited_by="vee", reason="test")
    bill = bill_meter_from_store(
        store, meter=meter, tariff=example_tariff("tiered-flat-example"), start=START, end=END,
        timezone="America/Los_Angeles",
    )  # fmt: skip
    stored, new = save_meter_bill(store, bill, meter)
    assert new
    return stored.id


def test_unchanged_data_affects_no_bill(store: Store) -> None:
    bill_id = _issue(store)
    assert store.get_bill(bill_id).printed_total == Decimal("84.28")
    assert affected_bills(store) == []


def test_a_vee_edit_lists_the_bill_and_its_correction_by_hand(store: Store) -> None:
    bill_id = _issue(store)
    meter = store.get_meter(serial="M1")
    # An operator's edit: the 100th interval was 10,200 Wh, not 200 (+10 kWh, all in tier 2 at $0.15).
    store.put_validated_intervals(
        meter_id=meter.id, rows=[(_end(99), 10_200, 0)], edited_by="ops", reason="register read check"
    )
    [affected] = affected_bills(store)
    assert affected.bill.id == bill_id
    assert affected.changed == (_end(99),)
    assert (affected.issued_wh, affected.current_wh) == (595_200, 605_200)
    assert "1 interval changed since it was issued" in affected.reason
    assert "595.200 kWh then, 605.200 kWh now" in affected.reason

    fixed = correction(store, bill_id)
    # 605.2 kWh: 500 x 0.12 + 105.2 x 0.15 + 10 = 60.00 + 15.78 + 10.00 = 85.78.
    assert fixed.corrected.printed_total == Decimal("85.78")
    assert fixed.difference == Decimal("1.50")
    assert [(a.description, a.amount) for a in fixed.adjustments] == [
        ("Correction of bill 1 (2026-07-01 to 2026-08-01): Energy, tier 2", Decimal("1.50"))
    ]
    assert (
        fixed.original.printed_total + sum(a.amount for a in fixed.adjustments)
        == fixed.corrected.printed_total
    )
    # The corrected bill is reproducible from its own inputs; the issued one is kept as issued.
    assert verify_bill(fixed.corrected.to_dict()).printed_total == Decimal("85.78")
    again = store.get_bill(bill_id)
    assert again.printed_total == Decimal("84.28")
    assert verify_bill(again.document).printed_total == Decimal("84.28")


def test_late_data_after_the_bill_is_a_correction(store: Store) -> None:
    # Billed with the last day missing: 30 days x 96 x 0.2 = 576 kWh: 60.00 + 76 x 0.15 = 11.40, + 10.
    bill_id = _issue(store, count=N - 96)
    assert store.get_bill(bill_id).printed_total == Decimal("81.40")
    meter = store.get_meter(serial="M1")
    late = [(_end(i), 200, 0) for i in range(N - 96, N)]
    store.put_validated_intervals(meter_id=meter.id, rows=late, edited_by="vee", reason="late delivery")
    [affected] = affected_bills(store, meter="M1")
    assert len(affected.changed) == 96
    assert affected.changed[0] == _end(N - 96)
    fixed = correction(store, bill_id)
    assert fixed.corrected.energy_wh == 595_200
    assert fixed.difference == Decimal("2.88")  # 19.2 kWh more in tier 2 at 0.15
    assert affected_bills(store, meter="OTHER") == []


def test_correction_of_an_unknown_bill_is_refused(store: Store) -> None:
    with pytest.raises(NotFoundError, match="bill 42 is not in the store"):
        correction(store, 42)


# -- the command, as an operator runs it ------------------------------------------------------------------


def _run(*args: str):
    from typer.testing import CliRunner

    from meshmeter.cli import app

    return CliRunner().invoke(app, list(args), env={"COLUMNS": "160", "NO_COLOR": "1", "TERM": "dumb"})


def test_corrections_command_lists_and_shows(tmp_path: Path) -> None:
    import json

    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    with Store(url) as opened:
        site = opened.create_site(name="Oak Court", timezone="America/Los_Angeles")
        opened.create_meter(serial="M1", designation="MM-1", ct_ratio=2000, site_id=site.id)
        bill_id = _issue(opened)
    clean = _run("corrections", "list", "--database", url)
    assert clean.exit_code == 0, clean.output
    assert "no issued bill is affected" in clean.output

    with Store(url) as opened:
        meter = opened.get_meter(serial="M1")
        opened.put_validated_intervals(
            meter_id=meter.id, rows=[(_end(99), 10_200, 0)], edited_by="ops", reason="x"
        )
    listed = _run("corrections", "list", "--site", "Oak Court", "--database", url)
    assert listed.exit_code == 1, listed.output  # a correction is pending
    assert "1 bill to correct" in listed.output
    assert "595.200" in listed.output
    assert "605.200" in listed.output
    as_json = json.loads(_run("corrections", "list", "--database", url, "--json").output)
    assert [(r["bill_id"], r["intervals_changed"]) for r in as_json["affected"]] == [(bill_id, 1)]

    shown = _run("corrections", "show", str(bill_id), "--database", url)
    assert shown.exit_code == 0, shown.output
    assert (
        "issued 84.28 USD for 595.200 kWh; with the data now 85.78 USD for 605.200 kWh (+1.50)"
        in shown.output
    )
    assert "Energy, tier 2  +1.50" in shown.output
    doc = json.loads(_run("corrections", "show", str(bill_id), "--database", url, "--json").output)
    assert doc["difference"] == "1.50"

    missing = _run("corrections", "show", "42", "--database", url)
    assert missing.exit_code == 2
    assert "bill 42 is not in the store" in missing.output
    unknown_site = _run("corrections", "list", "--site", "Nowhere", "--database", url)
    assert unknown_site.exit_code == 2
    assert "Nowhere" in unknown_site.output
