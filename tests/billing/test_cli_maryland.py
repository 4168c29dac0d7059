"""``meshmeter bill --mode maryland``: a site's master bill shared by the accounts' kWh, plus a fee."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshmeter.billing import verify_bill
from meshmeter.cli import app
from meshmeter.store import Store

runner = CliRunner()
ENV = {"COLUMNS": "160", "NO_COLOR": "1", "TERM": "dumb"}
JULY = ["--start", "2026-07-01", "--end", "2026-08-01"]
START = datetime(2026, 7, 1, 7, tzinfo=UTC)
"""Local midnight of 1 July 2026 in Los Angeles (PDT); July has 31 x 96 = 2976 intervals."""
MOVE = START + timedelta(days=15)
"""Local midnight of 16 July: Cara moves out of unit 3 and Dan moves in."""

# The master bill worked by hand: 1000.00 USD for July 2026 at Oak Court, by kWh.
#   Ann,  unit 1, meter U1: 2976 intervals x 100 Wh                       = 297,600 Wh
#   Ben,  unit 2, meter U2: 2976 intervals x 200 Wh (2 of them estimated) = 595,200 Wh
#   Cara, unit 3, meter U3 to 16 July: 15 days x 96 = 1440 intervals x 300 Wh = 432,000 Wh
#   Dan,  unit 3, meter U3 from 16 July: 2976 - 1440 = 1536 intervals x 300 Wh = 460,800 Wh
#   all units                                                              = 1,785,600 Wh
# The house meter H1 (no account) and the meter X1 of another site are not shared.
# In cents, 100,000 x w / 1,785,600:
#   Ann  16,666.667 -> 16,666 remainder .667
#   Ben  33,333.333 -> 33,333 remainder .333
#   Cara 24,193.548 -> 24,193 remainder .548
#   Dan  25,806.452 -> 25,806 remainder .452
# The floors sum to 99,998: the 2 cents left go by largest remainder to Ann (.667) and Cara (.548):
# 166.67 + 333.33 + 241.94 + 258.06 = 1000.00. With a 3.50 fee: 170.17, 336.83, 245.44, 261.56.
SHARES = {"Ann": "166.67", "Ben": "333.33", "Cara": "241.94", "Dan": "258.06"}
TOTALS = {"Ann": "170.17", "Ben": "336.83", "Cara": "245.44", "Dan": "261.56"}
ENERGY = {"Ann": 297_600, "Ben": 595_200, "Cara": 432_000, "Dan": 460_800}
MARYLAND = ["bill", "--mode", "maryland", "--site", "Oak Court", "--master-total", "1000.00"]


def building(path: Path) -> str:
    """The hand-worked building in a SQLite store; its URL."""
    url = f"sqlite:///{path / 'maryland.db'}"
    with Store(url) as store:
        oak = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
        elm = store.create_site(name="Elm House", timezone="America/New_York")
        wh = {"U1": 100, "U2": 200, "U3": 300, "H1": 1000, "X1": 1000}
        ids = {}
        for serial, per in wh.items():
            meter = store.create_meter(
                serial=serial,
                designation="MM-D1202001-T-SCC",
                ct_ratio=2000,
                site_id=(elm if serial == "X1" else oak).id,
            )
            ids[serial] = meter.id
            rows = [
                (START + timedelta(minutes=15 * (i + 1)), per, 8 if serial == "U2" and i < 2 else 0)
                for i in range(2976)
            ]
            store.put_validated_intervals(meter_id=meter.id, rows=rows, edited_by="vee", reason="test")
        for name, serial, unit, move_in, move_out in [
            ("Ann", "U1", "1", START - timedelta(days=30), None),
            ("Ben", "U2", "2", START, None),
            ("Cara", "U3", "3", START - timedelta(days=400), MOVE),
            ("Dan", "U3", "3", MOVE, None),
            ("Old", "U1", "1", START - timedelta(days=400), START - timedelta(days=30)),
            ("Xavier", "X1", "9", START, None),
        ]:
            tenant = store.create_tenant(name=name)
            store.create_account(
                tenant_id=tenant.id, meter_id=ids[serial], unit=unit, move_in=move_in, move_out=move_out
            )
    return url


def run(*args: str):
    return runner.invoke(app, list(args), env=ENV)


def test_maryland_json_shares_the_master_bill_by_kwh(tmp_path):
    url = building(tmp_path)
    result = run(*MARYLAND, "--admin-fee", "3.50", *JULY, "--database", url, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["mode"] == "maryland"
    assert doc["master_total"] == "1000.00"
    assert doc["admin_fee"] == "3.50"
    assert doc["timezone"] == "America/Los_Angeles"
    assert doc["energy_wh"] == 1_785_600
    assert doc["units"] == ["1", "2", "3", "3"]
    bills = {b["account"]: b for b in doc["bills"]}
    assert set(bills) == set(SHARES)
    for name, bill in bills.items():
        assert bill["mode"] == "maryland"
        assert bill["energy_wh"] == ENERGY[name]
        lines = {line["kind"]: line for line in bill["lines"]}
        assert Decimal(lines["allocation"]["amount"]) == Decimal(SHARES[name])
        assert Decimal(lines["admin_fee"]["amount"]) == Decimal("3.50")
        assert bill["printed_total"] == TOTALS[name]
        verify_bill(bill)  # each bill is made again from its own inputs
    assert sum(Decimal(SHARES[n]) for n in bills) == Decimal("1000.00")
    assert bills["Ben"]["estimated_wh"] == 400
    assert bills["Cara"]["meter"] == bills["Dan"]["meter"] == "U3"


def test_maryland_table(tmp_path):
    url = building(tmp_path)
    result = run(*MARYLAND, "--admin-fee", "3.50", *JULY, "--database", url)
    assert result.exit_code == 0, result.output
    for name in SHARES:
        line = next(row for row in result.stdout.splitlines() if f" {name} " in row)
        assert SHARES[name] in line
        assert TOTALS[name] in line
    assert "energy (kWh)" in result.stdout
    total = next(row for row in result.stdout.splitlines() if " Total " in row)
    assert "1785.600" in total
    assert "1,000.00" in total
    assert "1,014.00" in total  # 1000.00 + 4 x 3.50


def test_maryland_csv_to_a_file_and_no_fee_by_default(tmp_path):
    url = building(tmp_path)
    out = tmp_path / "july.csv"
    result = run(*MARYLAND, *JULY, "--database", url, "--format", "csv", "-o", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    allocation = {r["account"]: Decimal(r["amount"]) for r in rows if r["kind"] == "allocation"}
    fees = [Decimal(r["amount"]) for r in rows if r["kind"] == "admin_fee"]
    assert allocation == {n: Decimal(s) for n, s in SHARES.items()}
    assert fees == [Decimal(0)] * 4


def test_maryland_save_stores_each_unit_bill_once(tmp_path):
    url = building(tmp_path)
    args = [*MARYLAND, "--admin-fee", "3.50", *JULY, "--database", url, "--json", "--save"]
    first = run(*args)
    assert first.exit_code == 0, first.output
    assert "saved as bills 1, 2, 3, 4" in first.stderr
    again = run(*args)
    assert again.exit_code == 0, again.output
    assert "already stored" in again.stderr
    with Store(url) as store:
        oak = next(s for s in store.sites() if s.name == "Oak Court")
        stored = store.list_bills(site=oak.id)
        assert len(stored) == 4
        assert {b.mode for b in stored} == {"maryland"}
        assert {b.account: str(b.printed_total) for b in stored} == TOTALS
        accounts = {a.id: a for a in store.accounts()}
        for b in stored:
            assert b.account_id is not None
            assert store.get_tenant(tenant_id=accounts[b.account_id].tenant_id).name == b.account
            verify_bill(store.get_bill(b.id).document)
    # Another master total for the same period is refused: the stored bills would change.
    other = run(*[a if a != "1000.00" else "900.00" for a in args])
    assert other.exit_code == 2
    assert "stored with other figures" in other.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["bill", "--mode", "maryland", "--site", "Oak Court", *JULY], "needs --master-total"),
        (["bill", "--mode", "maryland", "--master-total", "1", *JULY], "needs --site"),
        ([*MARYLAND, *JULY, "--tariff", "example:tiered-flat-example"], "--tariff does not go with"),
        ([*MARYLAND, *JULY, "--meter", "U1"], "--meter does not go with --mode maryland"),
        ([*MARYLAND, *JULY, "--intervals", "u.csv"], "--intervals does not go with --mode maryland"),
        ([*MARYLAND, *JULY, "--move-out", "2026-07-16"], "--move-out does not go"),
        ([*MARYLAND, *JULY, "--format", "pdf", "-o", "x.pdf"], "text, json or csv with --mode maryland"),
        (["bill", "--mode", "texas", "--site", "Oak Court", "--master-total", "1", *JULY], "'texas'"),
        ([*MARYLAND[:-1], "lots", *JULY], "master_total must be an amount in USD"),
        ([*MARYLAND[:-1], "10.001", *JULY], "whole number of cents"),
        ([*MARYLAND[:-1], "NaN", *JULY], "finite"),
        ([*MARYLAND, "--admin-fee", "-1", *JULY], "admin_fee must not be negative"),
        (["bill", "--mode", "maryland", "--site", "Elsewhere", "--master-total", "1", *JULY], "'Elsewhere'"),
        ([*MARYLAND, "--start", "2024-01-01", "--end", "2024-02-01"], "no account in service"),
        ([*MARYLAND, "--start", "2026-09-01", "--end", "2026-10-01"], "no validated intervals"),
        ([*MARYLAND, "--start", "2026-08-01", "--end", "2026-07-01"], "end must be after start"),
        ([*MARYLAND, *JULY, "--timezone", "Mars/Base"], "Mars/Base"),
        # The California mode refuses the Maryland options, and a site with a CSV.
        (["bill", "--site", "Oak Court", "--intervals", "u.csv", *JULY], "does not go with --intervals"),
        (["bill", "--tariff", "example:e-tou-c-example", "--meter", "U1", "--master-total", "1", *JULY],
         "--master-total goes with --mode maryland"),
        (["bill", "--tariff", "example:e-tou-c-example", "--meter", "U1", "--admin-fee", "1", *JULY],
         "--admin-fee goes with --mode maryland"),
        (["bill", "--meter", "U1", *JULY], "--tariff is needed"),
    ],
)  # fmt: skip
def test_maryland_refuses_bad_combinations(tmp_path, args, needle):
    url = building(tmp_path)
    result = run(*args, "--database", url)
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert result.stdout == ""


def test_maryland_warns_of_a_unit_without_validated_intervals(tmp_path):
    # A fourth unit whose meter has no validated intervals in July gets no share (0 kWh): the shares of
    # the others are unchanged, and a warning names the meter.
    url = building(tmp_path)
    with Store(url) as store:
        oak = next(s for s in store.sites() if s.name == "Oak Court")
        u4 = store.create_meter(serial="U4", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=oak.id)
        eve = store.create_tenant(name="Eve")
        store.create_account(tenant_id=eve.id, meter_id=u4.id, unit="4", move_in=START)
    result = run(*MARYLAND, *JULY, "--database", url, "--json")
    assert result.exit_code == 0, result.output
    assert "meter U4 has no validated intervals" in result.stderr
    doc = json.loads(result.stdout)
    shares = {
        b["account"]: next(line["amount"] for line in b["lines"] if line["kind"] == "allocation")
        for b in doc["bills"]
    }
    assert {n: Decimal(s) for n, s in shares.items()} == {
        **{n: Decimal(s) for n, s in SHARES.items()},
        "Eve": Decimal(0),
    }
