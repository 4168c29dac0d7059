"""``meshmeter bill --site S --account-number N | --all-accounts`` (issue 13, "bill a stored account"), as an
operator runs it, on a SQLite file and on PostgreSQL.

Oak Court (Los Angeles) is built by the command line: meters U1 .. U4, units 1A .. 4D, tenants and accounts,
their moves; July 2026's intervals come in by CSV and pass VEE (``meshmeter ingest --vee``).

- Ann (1001) has lived in 1A since June: one whole month on U1, 100 Wh a quarter-hour.
- Ben (1002) moves from 2B (U2, 200 Wh) to 4D (U4, 400 Wh) at local midnight of 16 July: a transfer.
- Cara (1003) moves out of 3C (U3, 300 Wh) at local midnight of 16 July and Dan (1004) moves in then:
  two tenants share the unit's meter in July.
- Eve (1005) lived in 1A until 1 June: no tenure in July.

July has 31 x 96 = 2976 intervals; the first 15 days are 1440 of them and the last 16 days 1536.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from meshmeter.billing import verify_bill
from meshmeter.cli import app
from meshmeter.store import Store
from tests.store.conftest import postgres_schema_url

__all__ = ["postgres_schema_url"]  # a fixture of these tests

START = datetime(2026, 7, 1, 7, tzinfo=UTC)
"""Local midnight of 1 July 2026 in Los Angeles (PDT)."""
MOVE = datetime(2026, 7, 16, 7, tzinfo=UTC)
END = datetime(2026, 8, 1, 7, tzinfo=UTC)
WH = {"U1": 100, "U2": 200, "U3": 300, "U4": 400}
JULY = ["--start", "2026-07-01", "--end", "2026-08-01", "--tariff", "example:tiered-flat-example"]
OAK = ["bill", "--site", "Oak Court"]
ENV = {"COLUMNS": "160", "NO_COLOR": "1", "TERM": "dumb"}

runner = CliRunner()


def run(*args: str, database: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--database", database], env=ENV)
    return result.exit_code, result.stdout, result.stderr


def ok(*args: str, database: str) -> str:
    code, out, err = run(*args, database=database)
    assert code == 0, err or out
    return out


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def oak(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Oak Court, built by the command line; the database URL."""
    if request.param == "sqlite":
        db = f"sqlite:///{tmp_path / 'oak.db'}"
    else:
        url: URL = request.getfixturevalue("postgres_schema_url")
        db = url.render_as_string(hide_password=False)
    ok("site", "add", "--name", "Oak Court", "--timezone", "America/Los_Angeles", database=db)
    for k, serial in enumerate(WH, start=1):
        ok("meter", "add", "--serial", serial, "--site-id", "1", database=db)
        unit = f"{k}{'ABCD'[k - 1]}"
        ok("unit", "add", "--site", "1", "--name", unit, "--meter", serial, database=db)
    for name in ("Ann Alvarez", "Ben Brown", "Cara Chen", "Dan Diaz", "Eve Evans"):
        ok("tenant", "create", "--name", name, database=db)
    for tenant in range(1, 6):
        ok("account", "create", "--tenant", str(tenant), "--site", "1", database=db)
    for args in (
        ("move-in", "1005", "--unit", "1A", "--at", "2025-01-01"),
        ("move-out", "1005", "--at", "2026-06-01"),
        ("move-in", "1001", "--unit", "1A", "--at", "2026-06-01"),
        ("move-in", "1002", "--unit", "2B", "--at", "2026-06-01"),
        ("transfer", "1002", "--unit", "4D", "--at", "2026-07-16"),
        ("move-in", "1003", "--unit", "3C", "--at", "2025-06-01"),
        ("move-out", "1003", "--at", "2026-07-16"),
        ("move-in", "1004", "--unit", "3C", "--at", "2026-07-16"),
    ):
        ok("account", *_by_id(args), database=db)
    rows = ["meter,interval_end,energy_wh"]
    for serial, wh in WH.items():
        t = START
        while t < END:
            t += timedelta(minutes=15)
            rows.append(f"{serial},{t.isoformat().replace('+00:00', 'Z')},{wh}")
    path = tmp_path / "july.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ok("ingest", str(path), "--vee", database=db)
    return db


def _by_id(args: tuple[str, ...]) -> tuple[str, ...]:
    """``account`` commands take the account's id: numbers 1001 .. 1005 are ids 1 .. 5 here."""
    return (args[0], str(int(args[1]) - 1000), *args[2:])


def _fixed(bill: dict[str, object]) -> Decimal:
    lines = bill["lines"]
    assert isinstance(lines, list)
    return sum((Decimal(x["amount"]) for x in lines if x["kind"] == "fixed"), Decimal(0))


def test_two_tenants_sharing_a_meter_get_a_bill_each(oak: str) -> None:
    cara = json.loads(ok(*OAK, "--account-number", "1003", *JULY, "--json", database=oak))["bills"]
    dan = json.loads(ok(*OAK, "--account-number", "1004", *JULY, "--json", database=oak))["bills"]
    ann = json.loads(ok(*OAK, "--account-number", "1001", *JULY, "--json", database=oak))["bills"]
    assert [len(cara), len(dan), len(ann)] == [1, 1, 1]
    (c,), (d,), (a,) = cara, dan, ann
    assert (c["account"], c["statement"]["account_number"], c["statement"]["unit"]) == (
        "Cara Chen",
        "1003",
        "3C",
    )
    assert (d["account"], d["statement"]["account_number"], d["statement"]["unit"]) == (
        "Dan Diaz",
        "1004",
        "3C",
    )
    assert (a["account"], a["statement"]["account_number"]) == ("Ann Alvarez", "1001")
    assert c["meter"] == d["meter"] == "U3"
    # (move_in, move_out]: Cara's intervals end up to the move; Dan's after it; together the meter's July
    assert c["energy_wh"] == 1440 * 300
    assert d["energy_wh"] == 1536 * 300
    assert a["energy_wh"] == 2976 * 100
    code, out, err = run("bill", "--meter", "U3", *JULY, "--json", database=oak)
    assert code == 0, err
    assert json.loads(out)["energy_wh"] == c["energy_wh"] + d["energy_wh"]
    assert "2 accounts were in service on meter U3" in err
    assert "--account-number N or --all-accounts" in err
    # prorated from the stored move-in and move-out: the month's fixed charge by 15/31 and 16/31 days
    whole = _fixed(a)
    assert whole > 0
    assert _fixed(c) + _fixed(d) == whole
    assert abs(_fixed(c) - whole * 15 / 31) < Decimal("0.01")
    assert (c["service_start"], c["service_end"]) == (START.isoformat(), MOVE.isoformat())
    assert (d["service_start"], d["service_end"]) == (MOVE.isoformat(), END.isoformat())
    for bill in (c, d, a):
        verify_bill(bill)  # each made again from its own inputs


def test_a_transfer_within_the_period_is_a_bill_per_unit(oak: str, tmp_path: Path) -> None:
    bills = json.loads(ok(*OAK, "--account-number", "1002", *JULY, "--json", database=oak))["bills"]
    assert [(b["statement"]["unit"], b["meter"], b["energy_wh"]) for b in bills] == [
        ("2B", "U2", 1440 * 200),
        ("4D", "U4", 1536 * 400),
    ]
    assert {b["account"] for b in bills} == {"Ben Brown"}
    assert {b["statement"]["account_number"] for b in bills} == {"1002"}
    # pdf: the file given, a unit's name added to each when the account has several tenures
    out = tmp_path / "ben.pdf"
    ok(*OAK, "--account-number", "1002", *JULY, "--format", "pdf", "-o", str(out), database=oak)
    assert not out.exists()
    for unit in ("2B", "4D"):
        assert (tmp_path / f"ben-{unit}.pdf").read_bytes().startswith(b"%PDF-")
    # text: each bill's table, under the tenant's name
    text = ok(*OAK, "--account-number", "1002", *JULY, database=oak)
    assert text.count("Ben Brown") == 2
    assert "meter U2" in text
    assert "meter U4" in text


def test_all_accounts_and_save(oak: str, tmp_path: Path) -> None:
    doc = json.loads(ok(*OAK, "--all-accounts", *JULY, "--json", database=oak))
    assert doc["site"] == "Oak Court"
    assert doc["timezone"] == "America/Los_Angeles"
    got = [(b["statement"]["account_number"], b["statement"]["unit"], b["energy_wh"]) for b in doc["bills"]]
    assert got == [
        ("1001", "1A", 2976 * 100),
        ("1002", "2B", 1440 * 200),
        ("1002", "4D", 1536 * 400),
        ("1003", "3C", 1440 * 300),
        ("1004", "3C", 1536 * 300),
    ]  # Eve (1005) had no tenure in July: not billed
    assert sum(b["energy_wh"] for b in doc["bills"]) == 2976 * (100 + 300) + 1440 * 200 + 1536 * 400
    # html: one file per bill in the directory given
    folder = tmp_path / "july"
    listed = ok(*OAK, "--all-accounts", *JULY, "--format", "html", "-o", str(folder), database=oak)
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["1001-1A.html", "1002-2B.html", "1002-4D.html", "1003-3C.html", "1004-3C.html"]
    assert "Dan Diaz" in (folder / "1004-3C.html").read_text(encoding="utf-8")
    assert len(listed.splitlines()) == 5
    # csv: every bill's lines, its total last
    csv_text = ok(*OAK, "--all-accounts", *JULY, "--format", "csv", database=oak)
    totals = [row.split(",")[:2] for row in csv_text.splitlines() if ",total,Total," in row]
    assert totals == [
        ["Ann Alvarez", "U1"],
        ["Ben Brown", "U2"],
        ["Ben Brown", "U4"],
        ["Cara Chen", "U3"],
        ["Dan Diaz", "U3"],
    ]
    # --save: each bill kept against its account; again: the same bills
    code, _, err = run(*OAK, "--all-accounts", *JULY, "--save", database=oak)
    assert code == 0, err
    assert err.count("saved as bill") == 5
    code, _, err = run(*OAK, "--all-accounts", *JULY, "--save", database=oak)
    assert code == 0, err
    assert err.count("already stored as bill") == 5
    with Store(oak) as store:
        kept = sorted((b.account_id, b.meter_id) for b in store.list_bills())
        assert kept == [(1, 1), (2, 2), (2, 4), (3, 3), (4, 3)]


def test_one_account_on_a_meter_bills_the_stored_tenant(oak: str) -> None:
    code, out, err = run("bill", "--meter", "U1", *JULY, "--json", database=oak)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["account"] == "Ann Alvarez"
    assert doc["statement"]["account_number"] == "1001"
    assert err == ""
    by_number = json.loads(ok(*OAK, "--account-number", "1001", *JULY, "--json", database=oak))["bills"][0]
    assert doc["printed_total"] == by_number["printed_total"]
    # --account still names the bill by hand, as before
    named = json.loads(ok("bill", "--meter", "U1", *JULY, "--account", "Unit 1A", "--json", database=oak))
    assert named["account"] == "Unit 1A"


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (
            ["--account-number", "9999"],
            ["account '9999' is not in the store", "1001, 1002, 1003, 1004, 1005"],
        ),
        (
            ["--account-number", "1005"],
            ["account 1005 (Eve Evans) has no tenure in", "unit 1A (2025-01-01T08:00:00+00:00 .. 2026-06-01"],
        ),
        (
            ["--account-number", "1001", "--intervals", "july.csv", "--move-in", "2026-07-02"],
            ["--intervals does not go with", "--move-in does not go with"],
        ),
        (["--account-number", "1001", "--all-accounts"], ["not both"]),
        (["--account-number", "1001", "--format", "pdf"], ["--format pdf needs --output"]),
        (["--account-number", "1001", "--meter", "U1"], ["--meter does not go with"]),
    ],
)
def test_bad_input_is_named_and_stores_nothing(oak: str, args: list[str], needles: list[str]) -> None:
    code, out, err = run(*OAK, *JULY, *args, "--save", database=oak)
    assert code == 2, out
    for needle in needles:
        assert needle in err
    with Store(oak) as store:
        assert store.list_bills() == []


def test_bad_combinations_without_a_store(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'none.db'}"
    code, _, err = run(
        "bill", "--account-number", "1001", "--start", "2026-07-01", "--end", "2026-08-01", database=db
    )
    assert code == 2
    assert "need --site NAME" in err
    code, _, err = run("bill", "--site", "Oak Court", *JULY, database=db)
    assert code == 2
    assert "--site goes with --account-number N or --all-accounts" in err
    code, _, err = run(
        "bill", "--mode", "maryland", "--site", "Oak Court", "--master-total", "10", "--all-accounts",
        "--start", "2026-07-01", "--end", "2026-08-01", database=db,
    )  # fmt: skip
    assert code == 2
    assert "--all-accounts does not go with --mode maryland" in err
