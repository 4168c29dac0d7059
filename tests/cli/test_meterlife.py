"""A meter's whole life on the bill, from the command line (issue 13, "A meter's life, and bills that stay
right"), on a SQLite file and on PostgreSQL.

A stored site (``meshmeter site simulate``: meters A1 and A2, the account of tenant T in unit 1 on A1, July
2026 in Los Angeles) has A1 exchanged for B1 at local midnight of 16 July; B1's intervals come in by CSV
(12 pulses of 10 Wh, 120 Wh, a quarter-hour: the pulse output "10", manual §5.1). ``meshmeter bill`` for
July then bills the unit once: A1's intervals up to the exchange and B1's after, with both meters' reads
and the exchange. A 6-digit register (999,9xx kWh -> 0,0xx kWh) and a multiplier changed mid-month (400:0.1
A CTs fitted on a meter made for 200:0.1 A: ratio 2000 -> 4000, multiplier 1 -> 2) are billed right; bad
input is named all at once and stores nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from meshmeter.billing import verify_bill
from meshmeter.cli import app
from meshmeter.store import Store
from tests.site.test_run import SMALL
from tests.store.conftest import postgres_schema_url

__all__ = ["postgres_schema_url"]  # a fixture of these tests

START = datetime(2026, 7, 1, 7, tzinfo=UTC)
"""Local midnight of 1 July 2026 in Los Angeles."""
X = datetime(2026, 7, 16, 7, tzinfo=UTC)
END = datetime(2026, 8, 1, 7, tzinfo=UTC)
MONTH = ["--start", "2026-07-01", "--end", "2026-08-01", "--tariff", "example:tiered-flat-example"]

runner = CliRunner()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'site.db'}"
    else:
        url: URL = request.getfixturevalue("postgres_schema_url")
        yield url.render_as_string(hide_password=False)


def run(*args: str, database: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--database", database])
    return result.exit_code, result.stdout, result.stderr


def _ends(lo: datetime, hi: datetime) -> list[datetime]:
    n = int((hi - lo).total_seconds() // 900)
    return [lo + timedelta(minutes=15 * (i + 1)) for i in range(n)]


def _csv(path: Path, serial: str, rows: list[tuple[datetime, int, int]]) -> str:
    lines = ["meter,interval_end,energy_wh,cumulative_wh"]
    lines += [f"{serial},{end.isoformat().replace('+00:00', 'Z')},{e},{c}" for end, e, c in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _ingest(tmp: Path, serial: str, rows: list[tuple[datetime, int, int]], lo: datetime, db: str) -> None:
    code, _, err = run("ingest", _csv(tmp / f"{serial}.csv", serial, rows), database=db)
    assert code == 0, err
    code, _, err = run(
        "vee", "--meter", serial, "--start", lo.isoformat(), "--end", END.isoformat(), database=db
    )
    assert code == 0, err


def _billed(store: Store, serial: str, lo: datetime, hi: datetime) -> int:
    meter = store.get_meter(serial=serial)
    assert meter is not None
    view = store.interval_view(meter_id=meter.id, start=lo, end=hi)
    return int(np.where(view.billed(), view.energy_wh, 0).sum())


@pytest.fixture
def site(database: str, tmp_path: Path) -> str:
    """The stored site, July 2026, with meter B1 added and its intervals from the exchange on."""
    (tmp_path / "site.toml").write_text(SMALL, encoding="utf-8")
    code, _, err = run(
        "site", "simulate", str(tmp_path / "site.toml"), "--start", START.isoformat(), "--days", "31",
        "--quiet", database=database,
    )  # fmt: skip
    assert code == 0, err
    with Store(database) as store:
        site_id = store.sites()[0].id
    code, _, err = run("meter", "add", "--serial", "B1", "--site-id", str(site_id), database=database)
    assert code == 0, err
    rows = [(end, 120, 120 * (i + 1)) for i, end in enumerate(_ends(X, END))]
    _ingest(tmp_path, "B1", rows, X, database)
    return database


def test_an_exchange_mid_month_is_billed_once_with_both_meters_reads(site: str, tmp_path: Path) -> None:
    with Store(site) as store:
        a1 = store.get_meter(serial="A1")
        at, counter = store.last_counter_wh(meter_id=a1.id, at=X)
        assert at == X
        old_wh, new_wh = _billed(store, "A1", START, X), _billed(store, "B1", X, END)
    final = f"{counter / 1000:.3f}"
    code, out, err = run(
        "meter", "exchange", "A1", "B1", "--at", "2026-07-16", "--final-read", final, "--first-read", "0",
        database=site,
    )  # fmt: skip
    assert code == 0, err
    assert "A1 removed" in out
    assert "B1 installed in place of A1, read 0.000 kWh" in out

    code, out, err = run("bill", "--meter", "A1", *MONTH, "--json", database=site)
    assert code == 0, err
    bill = json.loads(out)
    assert bill["meter"] == "B1"  # printed under the meter serving at the end of the period
    assert bill["energy_wh"] == old_wh + new_wh
    assert new_wh == 120 * 1536  # 16 days of quarter-hours after the exchange
    a_read, b_read = bill["reads"]
    assert (a_read["meter"], a_read["end"], a_read["closing_wh"], a_read["closing_source"]) == (
        "A1", X.isoformat(), counter, "removal"
    )  # fmt: skip
    assert (a_read["opening_wh"], a_read["opening_source"]) == (0, "intervals")  # the MDT counted from 0
    assert a_read["energy_wh"] == counter
    assert (b_read["meter"], b_read["start"], b_read["opening_wh"], b_read["opening_source"]) == (
        "B1", X.isoformat(), 0, "install"
    )  # fmt: skip
    assert (b_read["closing_wh"], b_read["closing_source"], b_read["energy_wh"]) == (
        new_wh,
        "intervals",
        new_wh,
    )
    [event] = bill["meter_events"]
    assert event["kind"] == "exchange"
    assert event["text"] == (
        f"Meter A1 exchanged for meter B1: final read of A1 {counter / 1000:,.3f} kWh, "
        "first read of B1 0.000 kWh"
    )
    # One bill: the customer charge once, the tiers over the whole month.
    assert [line["kind"] for line in bill["lines"]].count("fixed") == 1
    assert verify_bill(bill).reads[1].opening_source == "install"

    # Billing either meter gives the same bill; saved once, under B1 and the unit's account.
    code, text, err = run("bill", "--meter", "B1", *MONTH, database=site)
    assert code == 0, err
    assert "meter A1 2026-07-01T07:00:00+00:00 .. 2026-07-16T07:00:00+00:00" in text
    assert "Meter A1 exchanged for meter B1" in text
    code, _, err = run("bill", "--meter", "B1", *MONTH, "--save", database=site)
    assert code == 0, err
    code, _, err = run("bill", "--meter", "A1", *MONTH, "--save", database=site)
    assert "already stored as bill" in err
    with Store(site) as store:
        # The simulation billed July on A1 before the exchange was recorded; the exchange's bill is B1's.
        assert sorted(b.meter for b in store.list_bills()) == ["A1", "B1"]
        [stored] = store.list_bills(meter="B1")
        assert stored.account_id is not None
        assert verify_bill(store.get_bill(stored.id).document).meter_events[0].kind == "exchange"

    # A period that ends at the exchange is A1's alone, and says it was exchanged then.
    first_half = ["--start", "2026-07-01", "--end", "2026-07-16", "--tariff", "example:tiered-flat-example"]
    code, out, err = run("bill", "--meter", "A1", *first_half, "--json", database=site)
    assert code == 0, err
    half = json.loads(out)
    assert (half["meter"], half["energy_wh"]) == ("A1", old_wh)
    assert [(r["meter"], r["closing_source"]) for r in half["reads"]] == [("A1", "removal")]
    assert [e["kind"] for e in half["meter_events"]] == ["exchange"]

    # A Maryland allocation of July: the account once per meter, each with its own part of the month.
    code, out, err = run(
        "bill", "--mode", "maryland", "--site", "Small", "--master-total", "100", "--start", "2026-07-01",
        "--end", "2026-08-01", "--json", database=site,
    )  # fmt: skip
    assert code == 0, err
    shares = json.loads(out)
    assert [(b["meter"], b["energy_wh"]) for b in shares["bills"]] == [("A1", old_wh), ("B1", new_wh)]

    code, out, err = run("meter", "history", "A1", "--json", database=site)
    assert code == 0, err
    assert [(c["meter"], c["kind"], c["replaces"]) for c in json.loads(out)] == [
        ("A1", "remove", None),
        ("B1", "install", "A1"),
    ]


def test_a_bad_exchange_is_named_whole_and_stores_nothing(site: str) -> None:
    with Store(site) as store:
        a1 = store.get_meter(serial="A1")
        _, counter = store.last_counter_wh(meter_id=a1.id, at=X)
        unit_meter = store.units()[0].meter_id
    below = f"{(counter - 10) / 1000:.3f}"
    code, out, err = run(
        "meter", "exchange", "A1", "B1", "--at", "2026-07-16T00:07", "--final-read", below,
        "--first-read", "-1", database=site,
    )  # fmt: skip
    assert code == 2
    assert out == ""
    assert "at 2026-07-16T07:07:00+00:00 is not on meter 'A1''s grid of 15-minute intervals" in err
    assert "is not on meter 'B1''s grid" in err
    assert "first_read_kwh must be a register read in kWh, 0 or more, got '-1'" in err
    code, _, err = run(
        "meter", "exchange", "A1", "B1", "--at", "2026-07-16", "--final-read", below,
        "--first-read", "0.0001", database=site,
    )  # fmt: skip
    assert code == 2
    assert f"final_read_wh {(counter - 10) / 1000:,.3f} kWh is below {counter / 1000:,.3f} kWh" in err
    assert "first_read_kwh is a read to the Wh: at most three decimals of kWh, got '0.0001'" in err
    code, _, err = run(
        "meter", "exchange", "NOPE", "A1", "--at", "someday", "--final-read", "x", "--first-read", "0",
        database=site,
    )  # fmt: skip
    assert code == 2
    assert "old meter 'NOPE' is not a known meter" in err
    assert "at must be an ISO 8601 date or date-time" in err
    assert "final_read_kwh must be a register read in kWh (e.g. 12345.678), got 'x'" in err
    with Store(site) as store:
        assert store.meter_changes() == []
        assert store.units()[0].meter_id == unit_meter
    code, out, _ = run("meter", "history", "A1", database=site)
    assert (code, out) == (0, "")


def test_a_6_digit_register_rolls_over_and_bills_the_right_kwh(site: str, tmp_path: Path) -> None:
    # Meter R6 of the site, a 6-digit register read 999,900 kWh at the start of July; 10 Wh pulses, 7 a
    # quarter-hour (70 Wh): 2,976 quarter-hours, 208.320 kWh, so it shows 108.320 kWh at the end.
    with Store(site) as store:
        site_id = store.sites()[0].id
    code, _, err = run(
        "meter", "add", "--serial", "R6", "--site-id", str(site_id), "--register-digits", "6", database=site
    )
    assert code == 0, err
    base = 999_900_000
    rows = [(end, 70, base + 70 * (i + 1)) for i, end in enumerate(_ends(START, END))]
    _ingest(tmp_path, "R6", rows, START, site)
    with Store(site) as store:
        store.add_register_read(meter_id=store.get_meter(serial="R6").id, read_at=START, energy_wh=base)
    code, out, err = run("bill", "--meter", "R6", *MONTH, "--json", database=site)
    assert code == 0, err
    bill = json.loads(out)
    assert bill["energy_wh"] == 70 * 2976 == 208_320
    [read] = bill["reads"]
    assert (read["opening_wh"], read["opening_source"]) == (999_900_000, "stored")
    assert (read["closing_wh"], read["closing_source"]) == (108_320, "intervals")  # 0,108.320 kWh
    assert read["energy_wh"] == 208_320  # through the rollover, the same as the intervals
    [event] = bill["meter_events"]
    assert event["kind"] == "rollover"
    # 999,900 kWh + 70 Wh x 1429 = 1,000,000.030 kWh: the 1,429th quarter-hour of July.
    assert event["at"] == (START + timedelta(minutes=15 * 1429)).isoformat()
    assert "rolled over to 0 after 999,999.999 kWh (6 digits)" in event["text"]

    # Removed at the end of the month with the register showing 108.320 kWh: a read through its rollover.
    code, _, err = run("meter", "remove", "R6", "--at", "2026-08-01", "--final-read", "108.32", database=site)
    assert code == 0, err


def test_a_multiplier_changed_mid_month_bills_the_intervals_after_it_at_it(site: str) -> None:
    # 400:0.1 A CTs fitted on A2 (made for 200:0.1 A) at local midnight of 11 July: its register counts half
    # the energy from then on, so the ratio is 4000 and the multiplier 2.
    for command in (("set-ct-ratio", "A2", "400:0.1"), ("set-multiplier", "A2", "2")):
        code, out, err = run("meter", *command, "--at", "2026-07-11", database=site)
        assert code == 0, err
    change = datetime(2026, 7, 11, 7, tzinfo=UTC)
    with Store(site) as store:
        a2 = store.get_meter(serial="A2")
        assert (a2.ct_ratio, a2.multiplier) == (4000.0, 2.0)
        before, after = _billed(store, "A2", START, change), _billed(store, "A2", change, END)
    code, out, err = run("bill", "--meter", "A2", *MONTH, "--json", database=site)
    assert code == 0, err
    bill = json.loads(out)
    assert bill["energy_wh"] == before + 2 * after
    first, second = bill["reads"]
    assert (first["end"], first["multiplier"], second["start"], second["multiplier"]) == (
        change.isoformat(), 1.0, change.isoformat(), 2.0
    )  # fmt: skip
    # The reads: the counter's advance x 2 (the VEE estimated a few intervals, so within a few Wh).
    assert second["energy_wh"] == 2 * (second["closing_wh"] - second["opening_wh"])
    assert abs(second["energy_wh"] - 2 * after) <= 20
    assert bill["opening_read_wh"] is None  # two parts: the reads are per part
    assert [(e["kind"], e["text"]) for e in bill["meter_events"]] == [
        ("ct_ratio", "CT ratio of meter A2 changed from 2000 to 4000"),
        ("multiplier", "Multiplier of meter A2 changed from 1 to 2"),
    ]
    assert verify_bill(bill).energy_wh == bill["energy_wh"]
    code, _, err = run("meter", "set-multiplier", "A2", "2", "--at", "2026-07-12", database=site)
    assert code == 2
    assert "meter 'A2' has multiplier 2 already" in err
    code, _, err = run("meter", "set-ct-ratio", "A2", "400:0", "--at", "2026-07-12", database=site)
    assert code == 2
    assert "ct_ratio must be a number (4000) or primary:secondary A (400:0.1), got '400:0'" in err


def test_an_install_and_a_removal_within_the_month_limit_the_service(site: str, tmp_path: Path) -> None:
    # N1 installed at local midnight of 16 July with its register at 0 (its 120 Wh quarter-hours from then).
    with Store(site) as store:
        site_id = store.sites()[0].id
    code, _, err = run("meter", "add", "--serial", "N1", "--site-id", str(site_id), database=site)
    assert code == 0, err
    _ingest(tmp_path, "N1", [(end, 120, 120 * (i + 1)) for i, end in enumerate(_ends(X, END))], X, site)
    code, out, err = run("meter", "install", "N1", "--at", "2026-07-16", "--first-read", "0", database=site)
    assert code == 0, err
    assert "N1 installed, read 0.000 kWh" in out
    code, out, err = run("bill", "--meter", "N1", *MONTH, "--json", database=site)
    assert code == 0, err
    bill = json.loads(out)
    assert bill["service_start"] == X.isoformat()
    assert bill["energy_wh"] == 120 * 1536
    [fixed] = [line for line in bill["lines"] if line["kind"] == "fixed"]
    assert Decimal(fixed["quantity"]) == Decimal(16) / Decimal(31)  # 16 of 31 days: the charge prorated
    assert [(r["opening_source"], r["opening_wh"]) for r in bill["reads"]] == [("install", 0)]
    assert [e["text"] for e in bill["meter_events"]] == ["Meter N1 installed, first read 0.000 kWh"]

    # A2 removed at local midnight of 21 July with its register as read then: its service ends there.
    removed = datetime(2026, 7, 21, 7, tzinfo=UTC)
    with Store(site) as store:
        _, counter = store.last_counter_wh(meter_id=store.get_meter(serial="A2").id, at=removed)
        expected = _billed(store, "A2", START, removed)
    code, _, err = run(
        "meter", "remove", "A2", "--at", "2026-07-21", "--final-read", f"{counter / 1000:.3f}", database=site
    )
    assert code == 0, err
    code, out, err = run("bill", "--meter", "A2", *MONTH, "--json", database=site)
    assert code == 0, err
    bill = json.loads(out)
    assert (bill["service_end"], bill["energy_wh"]) == (removed.isoformat(), expected)
    assert bill["closing_read_wh"] == counter
    assert [r["closing_source"] for r in bill["reads"]] == ["removal"]


def test_the_site_file_declares_a_meters_register_digits(database: str, tmp_path: Path) -> None:
    text = SMALL.replace('serial = "A1"\n', 'serial = "A1"\nregister_digits = 6\n')
    (tmp_path / "site.toml").write_text(text, encoding="utf-8")
    code, _, err = run(
        "site", "simulate", str(tmp_path / "site.toml"), "--start", START.isoformat(), "--days", "1",
        "--quiet", database=database,
    )  # fmt: skip
    assert code == 0, err
    with Store(database) as store:
        assert store.get_meter(serial="A1").register_digits == 6
        assert store.get_meter(serial="A2").register_digits is None
    (tmp_path / "bad.toml").write_text(text.replace("register_digits = 6", "register_digits = 13"), "utf-8")
    result = runner.invoke(app, ["site", "validate", str(tmp_path / "bad.toml")])
    assert result.exit_code == 1
    assert "meters[0].register_digits" in result.output + result.stderr
    assert "must be 3 to 12 whole-kWh digits, got 13" in result.output + result.stderr
