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
from tests.store.conftest import _postgres_session_schema, postgres_empty_url

__all__ = ["_postgres_session_schema", "postgres_empty_url"]  # fixtures of the PostgreSQL cases

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
        ("Correction of bill #1, 2026-07: Energy, tier 2", Decimal("1.50"))
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


def test_a_bill_of_no_account_is_corrected_by_a_corrected_bill_in_any_mode(store: Store) -> None:
    from meshmeter.services.corrections import issue_correction

    bill_id = _issue(store)  # Oak Court has no tenancy: the bill is of no store account
    store.update_site(site_id=store.sites()[0].id, correction_mode="next_bill")
    store.put_validated_intervals(
        meter_id=store.get_meter(serial="M1").id, rows=[(_end(3), 700, 0)], edited_by="ops", reason="x"
    )
    issued = issue_correction(store, bill_id)
    assert (issued.mode, issued.pending, issued.account_id) == ("corrected_bill", False, None)


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


# -- issued corrections: the store keeps them beside the bill, on every backend ------------------------------


@pytest.fixture
def any_store(request: pytest.FixtureRequest, tmp_path: Path):
    """Oak Court with meter M1 in unit 1A, Ada's account in it from June, on SQLite and PostgreSQL."""
    url = f"sqlite:///{tmp_path / 'c.sqlite'}" if request.param == "sqlite" else None
    if url is None:
        url = request.getfixturevalue("postgres_empty_url")
    with Store(url) as opened:
        site = opened.create_site(name="Oak Court", timezone="America/Los_Angeles")
        meter = opened.create_meter(serial="M1", designation="MM-1", ct_ratio=2000, site_id=site.id)
        unit = opened.create_unit(site_id=site.id, name="1A", meter_id=meter.id)
        ada = opened.create_tenant(name="Ada")
        account = opened.open_account(tenant_id=ada.id, site_id=site.id, opened_at=START - timedelta(days=30))
        opened.move_in(account_id=account.id, unit_id=unit.id, at=START - timedelta(days=30))
        yield opened


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _edit(store: Store, i: int, energy_wh: int) -> None:
    meter = store.get_meter(serial="M1")
    store.put_validated_intervals(
        meter_id=meter.id, rows=[(_end(i), energy_wh, 0)], edited_by="ops", reason="x"
    )


@pytest.mark.parametrize("any_store", BACKENDS, indirect=True)
def test_corrections_follow_one_another_each_from_the_last(any_store: Store) -> None:
    from meshmeter.services.corrections import issue_correction

    store = any_store
    bill_id = _issue(store)
    _edit(store, 99, 10_200)  # +10 kWh in tier 2: +1.50
    first = issue_correction(store, bill_id, by="ops")
    assert (first.sequence, first.mode, first.difference, first.issued_by) == (
        1,
        "corrected_bill",
        Decimal("1.50"),
        "ops",
    )
    assert first.account_id is not None
    assert affected_bills(store) == []
    _edit(store, 99, 200)  # undone: back to $84.28, the second correction is -1.50 against the first
    [again] = affected_bills(store)
    assert (again.corrections, again.issued_wh, again.current_wh) == (1, 605_200, 595_200)
    second = issue_correction(store, bill_id)
    assert (second.sequence, second.difference) == (2, Decimal("-1.50"))
    assert [(a["description"], a["amount"]) for a in second.lines] == [
        ("Correction of bill #1, 2026-07: Energy, tier 2", "-1.50")
    ]
    assert "since its correction 1" in second.reason
    assert [c.sequence for c in store.list_corrections(bill_id=bill_id)] == [1, 2]
    assert store.get_correction(bill_id=bill_id, sequence=2) == second
    assert store.get_correction(bill_id=bill_id, sequence=3) is None
    assert store.get_bill(bill_id).printed_total == Decimal("84.28")  # as issued, throughout


@pytest.mark.parametrize("any_store", BACKENDS, indirect=True)
def test_the_store_refuses_a_stale_or_empty_correction_and_bad_arguments(any_store: Store) -> None:
    from meshmeter.errors import CorrectionConflictError

    store = any_store
    bill_id = _issue(store)
    _edit(store, 5, 900)
    fixed = correction(store, bill_id)
    args = {
        "bill_id": bill_id, "mode": "corrected_bill", "reason": "r", "document": fixed.corrected.to_dict(),
        "lines": [a.to_dict() for a in fixed.adjustments],
    }  # fmt: skip
    with pytest.raises(
        CorrectionConflictError,
        match="correction 0 of bill 1 was issued meanwhile; this one was computed from correction 1",
    ):
        store.issue_correction(**args, based_on=1)
    store.issue_correction(**args, based_on=0)
    with pytest.raises(CorrectionConflictError, match="correction 1 of bill 1 was issued meanwhile"):
        store.issue_correction(**args, based_on=0)
    with pytest.raises(CorrectionConflictError, match="nothing changed under bill 1 since its correction 1"):
        store.issue_correction(**args, based_on=1)
    with pytest.raises(ValueError, match="mode must be one of") as refused:
        store.issue_correction(
            bill_id=0,
            mode="later",
            reason="",
            document={},
            lines="x",
            based_on=-1,  # type: ignore[arg-type]
        )
    for named in ("bill_id", "mode", "reason", "based_on", "document", "lines"):
        assert named in str(refused.value)
    with pytest.raises(NotFoundError, match="bill 99 is not in the store"):
        store.issue_correction(**{**args, "bill_id": 99}, based_on=0)
    assert len(store.list_corrections()) == 1


@pytest.mark.parametrize("any_store", BACKENDS, indirect=True)
def test_a_correction_is_carried_once_and_a_corrected_bill_by_none(any_store: Store) -> None:
    from meshmeter.errors import CorrectionConflictError
    from meshmeter.services.corrections import issue_correction

    store = any_store
    site = store.sites()[0]
    bill_id = _issue(store)
    _edit(store, 5, 900)
    corrected = issue_correction(store, bill_id)
    with pytest.raises(CorrectionConflictError, match="is a corrected bill: no bill carries its lines"):
        store.apply_corrections(correction_ids=[corrected.id], bill_id=bill_id)
    store.update_site(site_id=site.id, correction_mode="next_bill")
    _edit(store, 6, 900)
    pending = issue_correction(store, bill_id)
    assert pending.pending
    assert [c.id for c in store.list_corrections(account_id=pending.account_id, pending=True)] == [pending.id]
    assert store.list_corrections(account_id=pending.account_id, pending=False) == [corrected]
    [applied] = store.apply_corrections(correction_ids=[pending.id], bill_id=bill_id)
    assert (applied.applied_bill_id, applied.pending) == (bill_id, False)
    other, _ = store.save_bill(document=make_other_bill(), site_id=site.id)
    with pytest.raises(CorrectionConflictError, match=f"is carried by bill {bill_id} already"):
        store.apply_corrections(correction_ids=[pending.id], bill_id=other.id)
    assert store.list_corrections(applied_bill_id=bill_id) == [applied]


def make_other_bill() -> dict:
    from tests.api.test_bills import make_bill

    return make_bill("Someone", "M9").to_dict()


@pytest.mark.parametrize("any_store", BACKENDS, indirect=True)
def test_a_maryland_bill_carries_the_lines_and_is_not_corrected_alone(any_store: Store) -> None:
    from meshmeter.errors import CorrectionConflictError
    from meshmeter.services.billing import share_master_bill
    from meshmeter.services.corrections import issue_correction

    store = any_store
    site = store.sites()[0]
    store.update_site(site_id=site.id, correction_mode="next_bill")
    july = _issue(store)
    _edit(store, 99, 10_200)
    pending = issue_correction(store, july)
    assert pending.difference == Decimal("1.50")
    meter = store.get_meter(serial="M1")
    august = [(START + timedelta(days=31, minutes=15 * (i + 1)), 200, 0) for i in range(N)]
    store.put_validated_intervals(meter_id=meter.id, rows=august, edited_by="vee", reason="test")
    run = share_master_bill(
        store, site=site, master_total=Decimal("100.00"), admin_fee=Decimal("2.00"),
        start=END, end=END + timedelta(days=31), save=True,
    )  # fmt: skip
    [unit] = run.units
    # The whole master bill and the fee, then July's adjustment: 100.00 + 2.00 + 1.50.
    assert unit.bill.printed_total == Decimal("103.50")
    assert unit.bill.lines[-1].description == "Correction of bill #1, 2026-07: Energy, tier 2"
    stored, new = unit.stored
    assert new
    assert verify_bill(stored.document).printed_total == Decimal("103.50")
    assert store.list_corrections(pending=True) == []
    _edit(store, 31 * 96 + 3, 500)
    with pytest.raises(CorrectionConflictError, match="master bill \\(maryland allocation\\)"):
        issue_correction(store, stored.id)
