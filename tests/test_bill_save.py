"""`meshmeter bill --meter SERIAL --save`: the bill stored with its inputs, once (issue 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshmeter.billing.reproduce import verify_bill
from meshmeter.cli import app
from meshmeter.store import Store

runner = CliRunner()
START = datetime(2026, 7, 1, 7, tzinfo=UTC)
"""Local midnight of 1 July 2026 in Los Angeles."""


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'bill.sqlite'}"
    with Store(url) as store:
        site = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
        meter = store.create_meter(serial="M1", designation="MM-1", ct_ratio=2000, site_id=site.id)
        tenant = store.create_tenant(name="Ada")
        store.create_account(tenant_id=tenant.id, meter_id=meter.id, unit="1A", move_in=START)
        rows = [(START + timedelta(minutes=15 * (i + 1)), 200, 0) for i in range(96 * 31)]
        store.put_validated_intervals(meter_id=meter.id, rows=rows, edited_by="vee", reason="test")
    return url


ARGS = ["bill", "--tariff", "example:tiered-flat-example", "--start", "2026-07-01", "--end", "2026-08-01"]


def test_save_stores_the_bill_once(database: str) -> None:
    result = runner.invoke(app, [*ARGS, "--meter", "M1", "--database", database, "--save", "--json"])
    assert result.exit_code == 0, result.output
    assert "saved as bill 1" in result.stderr
    again = runner.invoke(app, [*ARGS, "--meter", "M1", "--database", database, "--save", "--json"])
    assert again.exit_code == 0, again.output
    assert "already stored as bill 1" in again.stderr
    with Store(database) as store:
        listed = store.list_bills()
        assert len(listed) == 1
        stored = store.get_bill(listed[0].id)
        assert stored is not None
        assert stored.meter == "M1"
        assert stored.energy_wh == 96 * 31 * 200
        assert stored.site_id == store.sites()[0].id
        assert stored.account_id == store.accounts()[0].id
        assert verify_bill(stored.document).printed_total == stored.printed_total


def test_save_needs_a_meter(database: str, tmp_path: Path) -> None:
    csv = tmp_path / "m1.csv"
    csv.write_text("interval_end,energy_wh\n2026-07-01T07:15:00Z,100\n", encoding="utf-8")
    result = runner.invoke(
        app,
        [
            *ARGS,
            "--intervals",
            str(csv),
            "--timezone",
            "America/Los_Angeles",
            "--save",
            "--database",
            database,
        ],
    )
    assert result.exit_code == 2
    assert "--save" in result.output
    with Store(database) as store:
        assert store.list_bills() == []


def test_without_save_nothing_is_stored(database: str) -> None:
    result = runner.invoke(app, [*ARGS, "--meter", "M1", "--database", database, "--json"])
    assert result.exit_code == 0, result.output
    with Store(database) as store:
        assert store.list_bills() == []


def test_saving_again_after_the_owner_moved_keeps_the_bill_as_issued(database: str) -> None:
    """An issued bill never changes: saved again after the owner's address changed (its statement differs,
    its charges do not), the store answers with the bill as it was issued, not a conflict."""
    with Store(database) as store:
        store.update_site(site_id=store.sites()[0].id, owner_name="Oak LLC", owner_address="1 Old Road")
    first = runner.invoke(app, [*ARGS, "--meter", "M1", "--database", database, "--save", "--json"])
    assert first.exit_code == 0, first.output
    with Store(database) as store:
        store.update_site(site_id=store.sites()[0].id, owner_address="9 New Avenue")
    again = runner.invoke(app, [*ARGS, "--meter", "M1", "--database", database, "--save", "--json"])
    assert again.exit_code == 0, again.output
    assert "already stored as bill 1" in again.stderr
    with Store(database) as store:
        (listed,) = store.list_bills()
        stored = store.get_bill(listed.id)
        assert stored is not None
        assert stored.document["statement"]["owner_address"] == "1 Old Road"
