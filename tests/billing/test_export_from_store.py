"""A meter that exports, billed from the store (issue 13: "net metering and sell rates for a meter that
exports"), as an operator runs it, on a SQLite file and on PostgreSQL.

Sunny Row (Phoenix, no DST) is built by the command line: unit meter ``U1`` (unit 1A, Ann's account) and
``U1-X``, the export (received) register of U1 (``meshmeter meter add --export-of U1``). April and May 2026
come in as the operator's CSV, both serials in one file (``meshmeter ingest``), and pass ``meshmeter vee``.

U1 imports 100 Wh a quarter hour all day; U1-X exports 600 Wh a quarter hour from 10:00 to 16:00 local
time (24 quarter hours a day). On APS ET-2 (net metering, four periods, ``tests/data/urdb``) the midday
periods end each month in net excess: kWh credit carried to the next bill, per period.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from meshmeter.billing import bill_meter, verify_bill
from meshmeter.cli import app
from meshmeter.cli.tariff import read_tariff
from meshmeter.store import Store
from tests.store.conftest import postgres_schema_url

__all__ = ["postgres_schema_url"]  # a fixture of these tests

TZ = ZoneInfo("America/Phoenix")
APRIL = datetime(2026, 4, 1, tzinfo=TZ).astimezone(UTC)
MAY = datetime(2026, 5, 1, tzinfo=TZ).astimezone(UTC)
JUNE = datetime(2026, 6, 1, tzinfo=TZ).astimezone(UTC)
DATA = Path(__file__).resolve().parents[1] / "data" / "urdb"
NEM = str(DATA / "aps-et-2.json")
NET_BILLING = str(DATA / "reopt-jl-net-billing-hourly.json")
MISSING_DAY = datetime(2026, 4, 10, tzinfo=TZ).astimezone(UTC)
"""U1-X sends nothing on 10 April (local): its MDT was down. VEE estimates the day from like days."""
SPIKE = datetime(2026, 5, 12, 12, 15, tzinfo=TZ).astimezone(UTC)
"""U1-X sends 9,000 Wh in the quarter hour ending at 12:15 on 12 May: VEE finds it questionable."""
ENV = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}

runner = CliRunner()


def run(*args: str, database: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--database", database], env=ENV)
    return result.exit_code, result.stdout, result.stderr


def ok(*args: str, database: str) -> str:
    code, out, err = run(*args, database=database)
    assert code == 0, err or out
    return out


def _import_wh(t: datetime) -> int:
    return 100


def _export_wh(t: datetime) -> int:
    """600 Wh in each quarter hour that starts between 10:00 and 15:45 local time."""
    begun = (t - timedelta(minutes=15)).astimezone(TZ)
    if t == SPIKE:
        return 9000
    return 600 if 10 <= begun.hour < 16 else 0


def _ends(start: datetime, end: datetime) -> list[datetime]:
    out, t = [], start
    while t < end:
        t += timedelta(minutes=15)
        out.append(t)
    return out


def _sent(serial: str, t: datetime) -> bool:
    """Whether the interval reached the head-end: all but U1-X's of 10 April."""
    return not (serial == "U1-X" and MISSING_DAY < t <= MISSING_DAY + timedelta(days=1))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sunny(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Sunny Row, built by the command line, April and May ingested and validated; the database URL."""
    if request.param == "sqlite":
        db = f"sqlite:///{tmp_path / 'sunny.db'}"
    else:
        url: URL = request.getfixturevalue("postgres_schema_url")
        db = url.render_as_string(hide_password=False)
    ok("site", "add", "--name", "Sunny Row", "--timezone", "America/Phoenix", database=db)
    ok("meter", "add", "--serial", "U1", "--site-id", "1", database=db)
    ok("meter", "add", "--serial", "U1-X", "--site-id", "1", "--export-of", "U1", database=db)
    ok("unit", "add", "--site", "1", "--name", "1A", "--meter", "U1", database=db)
    ok("tenant", "create", "--name", "Ann Alvarez", database=db)
    ok("account", "create", "--tenant", "1", "--site", "1", database=db)
    ok("account", "move-in", "1", "--unit", "1A", "--at", "2026-01-01", database=db)
    rows = ["meter,interval_end,energy_wh"]
    for t in _ends(APRIL, JUNE):
        stamp = t.isoformat().replace("+00:00", "Z")
        rows.append(f"U1,{stamp},{_import_wh(t)}")
        if _sent("U1-X", t):
            rows.append(f"U1-X,{stamp},{_export_wh(t)}")
    path = tmp_path / "april-may.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ok("ingest", str(path), database=db)
    for serial in ("U1", "U1-X"):
        ok("vee", "--meter", serial, "--start", APRIL.isoformat(), "--end", JUNE.isoformat(), database=db)
    return db


def _bill(db: str, tariff: str, start: str, end: str, *extra: str) -> dict[str, object]:
    out = ok(
        "bill",
        "--meter",
        "U1",
        "--tariff",
        tariff,
        "--start",
        start,
        "--end",
        end,
        "--json",
        *extra,
        database=db,
    )
    return json.loads(out)  # type: ignore[no-any-return]


def _engine_bill(db: str, tariff: str, start: datetime, end: datetime, **carry: object) -> object:
    """
    The pure engine given the two registers as sent, except where VEE did not pass U1-X's interval as
    valid: there, its validated energy and quality (the missing day estimated and billed, flagged; the
    spike questionable, so neither register's interval is billed).
    """
    ends = _ends(start, end)
    seconds = np.array([int(t.timestamp()) for t in ends], dtype=np.int64)
    exported = np.array([_export_wh(t) if _sent("U1-X", t) else -1 for t in ends], dtype=np.int64)
    quality = np.zeros(len(ends), dtype=np.int64)
    with Store(db) as store:
        register = store.get_meter(serial="U1-X")
        assert register is not None
        view = store.interval_view(meter_id=register.id, start=start, end=end)
    assert view.interval_end_s.tolist() == seconds.tolist()
    vee = view.quality != 0
    exported[vee], quality[vee] = view.energy_wh[vee], view.quality[vee]
    return bill_meter(
        read_tariff(tariff, None, None),
        seconds,
        np.array([_import_wh(t) for t in ends], dtype=np.int64),
        quality,
        export_wh=exported,
        start=start,
        end=end,
        timezone="America/Phoenix",
        meter="U1",
        **carry,  # type: ignore[arg-type]
    )


def test_net_metering_credit_goes_from_one_stored_bill_to_the_next(sunny: str) -> None:
    april = _bill(sunny, NEM, "2026-04-01", "2026-05-01", "--save")
    may = _bill(sunny, NEM, "2026-05-01", "2026-06-01", "--save")
    # April: the first bill, no credit in (zeros), credit out in the midday periods
    assert april["inputs"]["credit_in_wh"] == [0, 0, 0, 0]  # type: ignore[index]
    credit = april["credit_out_wh"]
    assert isinstance(credit, list)
    assert sum(credit) > 0
    # May carries April's credit in, as stored
    assert may["inputs"]["credit_in_wh"] == credit  # type: ignore[index]
    assert isinstance(may["credit_out_wh"], list)
    assert sum(may["credit_out_wh"]) > 0
    # the store's bill is the engine's bill of the same registers: nothing lost or invented on the way
    want_april = _engine_bill(sunny, NEM, APRIL, MAY, credit_in_wh=[0, 0, 0, 0])
    want_may = _engine_bill(sunny, NEM, MAY, JUNE, credit_in_wh=credit)
    assert april["total"] == str(want_april.total)  # type: ignore[attr-defined]
    assert may["total"] == str(want_may.total)  # type: ignore[attr-defined]
    assert april["credit_out_wh"] == list(want_april.credit_out_wh)  # type: ignore[attr-defined]
    # 10 April: U1-X sent nothing; VEE estimated its day, billed and flagged (96 intervals)
    assert (april["estimated_intervals"], april["unbilled_intervals"]) == (96, 0)
    assert april["estimated_wh"] == 96 * 100  # the import of those intervals, flagged with them
    # 12 May 12:15: U1-X's spike is questionable: that interval is billed for neither register
    assert (may["estimated_intervals"], may["unbilled_intervals"]) == (0, 1)
    assert may["unbilled_wh"] == 100
    with Store(sunny) as store:
        stored = [store.get_bill(b.id) for b in store.list_bills(meter="U1")]
    assert [b.period_end for b in stored if b is not None] == [MAY, JUNE]
    for b in stored:
        assert b is not None
        assert b.account_id == 1
        verify_bill(b.document)  # each made again from its own inputs, credit in and out included
    # the text bill says what was exported and the credit carried in and out
    text = ok(
        "bill",
        "--meter",
        "U1",
        "--tariff",
        NEM,
        "--start",
        "2026-05-01",
        "--end",
        "2026-06-01",
        database=sunny,
    )
    exported = (31 * 24 - 1) * 600 / 1000  # the spike's interval is not billed
    assert f"energy exported {exported:.3f} kWh" in text
    assert "net metering credit carried in " + ", ".join(f"{v / 1000:.3f}" for v in credit) in text
    assert "net metering credit carried to the next bill" in text


def test_true_up_settles_the_credit_carried(sunny: str) -> None:
    _bill(sunny, NEM, "2026-04-01", "2026-05-01", "--save")
    april = json.loads(
        ok(
            "bill",
            "--meter",
            "U1",
            "--tariff",
            NEM,
            "--start",
            "2026-04-01",
            "--end",
            "2026-05-01",
            "--json",
            database=sunny,
        )
    )
    args = ("--true-up", "--true-up-rate", "0.04")
    may = _bill(sunny, NEM, "2026-05-01", "2026-06-01", *args, "--save")
    assert may["inputs"]["true_up"] is True  # type: ignore[index]
    assert may["inputs"]["true_up_sell_rate"] == "0.04"  # type: ignore[index]
    assert may["credit_out_wh"] == [0, 0, 0, 0]
    want = _engine_bill(
        sunny,
        NEM,
        MAY,
        JUNE,
        credit_in_wh=april["credit_out_wh"],
        true_up=True,
        true_up_sell_rate=Decimal("0.04"),
    )
    assert may["total"] == str(want.total)  # type: ignore[attr-defined]
    assert any(line["kind"] == "true_up" for line in may["lines"])  # type: ignore[attr-defined]
    verify_bill(may)
    # a net metering true-up without the operator's rate is refused, naming it
    code, _, err = run(
        "bill", "--meter", "U1", "--tariff", NEM, "--start", "2026-05-01", "--end", "2026-06-01", "--true-up",
        database=sunny,
    )  # fmt: skip
    assert code != 0
    assert "true_up_sell_rate" in err


def test_net_billing_carries_dollars(sunny: str) -> None:
    april = _bill(sunny, NET_BILLING, "2026-04-01", "2026-05-01", "--save")
    may = _bill(sunny, NET_BILLING, "2026-05-01", "2026-06-01", "--save")
    assert april["inputs"]["credit_in"] == "0"  # type: ignore[index]
    assert Decimal(str(april["credit_out"])) > 0
    assert may["inputs"]["credit_in"] == april["credit_out"]  # type: ignore[index]
    want = _engine_bill(sunny, NET_BILLING, MAY, JUNE, credit_in=Decimal(str(april["credit_out"])))
    assert may["total"] == str(want.total)  # type: ignore[attr-defined]
    assert may["credit_out"] == str(want.credit_out)  # type: ignore[attr-defined]
    with Store(sunny) as store:
        for b in store.list_bills(meter="U1"):
            full = store.get_bill(b.id)
            assert full is not None
            verify_bill(full.document)


def test_a_gap_since_the_last_stored_bill_is_refused(sunny: str) -> None:
    _bill(sunny, NEM, "2026-04-01", "2026-04-15", "--save")
    with Store(sunny) as store:
        before = len(store.list_bills())
    code, _, err = run(
        "bill", "--meter", "U1", "--tariff", NEM, "--start", "2026-05-01", "--end", "2026-06-01", "--save",
        database=sunny,
    )  # fmt: skip
    assert code != 0
    assert "ends at 2026-04-15T07:00:00+00:00, not at this period's start" in err
    assert "bill the gap first" in err
    with Store(sunny) as store:
        assert len(store.list_bills()) == before


def test_bad_export_registers_are_refused_naming_every_problem(sunny: str) -> None:
    db = sunny
    ok("site", "add", "--name", "Elsewhere", "--timezone", "America/Phoenix", database=db)
    code, _, err = run(
        "meter", "add", "--serial", "U1-Y", "--site-id", "2", "--interval", "60", "--role", "unit",
        "--export-of", "U1", database=db,
    )  # fmt: skip
    assert code != 0
    for said in (
        "role must be production",
        "is of site 1, the export register of site 2",
        "already has an export register, 'U1-X'",
        "has 900 s intervals, the export register 3600 s",
    ):
        assert said in err, err
    code, _, err = run(
        "meter", "add", "--serial", "U1-Z", "--site-id", "1", "--export-of", "U1-X", database=db
    )
    assert code != 0
    assert "is itself an export register" in err
    code, _, err = run("meter", "add", "--serial", "U9-X", "--site-id", "1", "--export-of", "U9", database=db)
    assert code != 0
    assert "--export-of 'U9' is not a known meter" in err
    with Store(db) as store:
        assert {m.serial for m in store.meters()} == {"U1", "U1-X"}
        u1 = store.get_meter(serial="U1")
        x = store.get_meter(serial="U1-X")
        assert u1 is not None
        assert x is not None
        assert (x.export_of_meter_id, x.role, u1.export_of_meter_id) == (u1.id, "production", None)
        assert store.export_register(meter_id=u1.id) == x
        assert store.export_register(meter_id=x.id) is None


def test_bad_true_up_flags_are_refused_naming_every_problem(sunny: str, tmp_path: Path) -> None:
    code, _, err = run(
        "bill", "--intervals", str(tmp_path / "none.csv"), "--tariff", NEM, "--start", "2026-05-01",
        "--end", "2026-06-01", "--timezone", "America/Phoenix", "--true-up-rate", "cheap", database=sunny,
    )  # fmt: skip
    assert code != 0
    assert "they need --meter" in err
    assert "--true-up-rate goes with --true-up" in err
    assert "--true-up-rate must be an amount in USD" in err
    code, _, err = run(
        "bill", "--site", "Sunny Row", "--all-accounts", "--tariff", NEM, "--start", "2026-05-01",
        "--end", "2026-06-01", "--true-up", database=sunny,
    )  # fmt: skip
    assert code != 0
    assert "--true-up" in err
    with Store(sunny) as store:
        assert store.list_bills() == []


def test_a_meter_that_exports_is_not_exchanged_yet(sunny: str) -> None:
    ok("meter", "add", "--serial", "U2", "--site-id", "1", database=sunny)
    code, _, err = run(
        "meter", "exchange", "U1", "U2", "--at", "2026-05-15", "--final-read", "100",
        "--first-read", "0", database=sunny,
    )  # fmt: skip
    assert code != 0
    assert "has an export register ('U1-X'): exchanging a meter that exports is not supported yet" in err
    with Store(sunny) as store:
        u1 = store.get_meter(serial="U1")
        assert u1 is not None
        assert store.meter_changes(meter_id=u1.id) == []
