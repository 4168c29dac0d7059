"""One pipeline from every door (issue 11): an operator's own data in, VEE, then bills, exports and the API.

Each test drives the program as its users do: the ``meshmeter`` commands with their flags on a database
file (and on PostgreSQL where its URL is set), and the HTTP API with a token. The failures the issue
reproduced are kept here:

- ``meshmeter ingest own.csv`` → ``meshmeter vee`` ("valid: 2976") → ``meshmeter bill`` refused with
  "has no validated intervals in the period; run meshmeter vee" (also ``--mode maryland``);
- after VEE passed every interval, the API said quality 14 and the CSV export 0;
- the overview's "this month" added the solar meter's production to the building's consumption.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from meshmeter.api import Settings, create_app
from meshmeter.cli import app
from meshmeter.store import Store
from tests.api.conftest import TestClient
from tests.store.conftest import postgres_schema_url  # noqa: F401 (a fixture, used by name)

runner = CliRunner()
ENV = {"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}
LA = "America/Los_Angeles"
JULY_START = datetime(2026, 7, 1, 7, tzinfo=UTC)  # local midnight in Los Angeles (PDT)
JULY_INTERVALS = 2976  # 31 days of 96 quarter-hours
JULY = ["--start", "2026-07-01", "--end", "2026-08-01"]


def run(*args: str, ok: bool = True):
    result = runner.invoke(app, list(args), env=ENV)
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ]
)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL for the commands: a SQLite file, or a fresh schema of the test PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'pipeline.sqlite'}"
    url = request.getfixturevalue("postgres_schema_url")  # a private schema of the test server
    return str(url.render_as_string(hide_password=False))


def operator_csv(path: Path, *, meter: str, wh: int = 125) -> Path:
    """An operator's own file in meshmeter's plain CSV (``docs/ingest.md``): a month of quarter-hours."""
    lines = ["meter,interval_end,energy_wh"]
    t = JULY_START
    for k in range(JULY_INTERVALS):
        t += timedelta(minutes=15)
        lines.append(f"{meter},{t.isoformat().replace('+00:00', 'Z')},{wh + (k % 4)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def july_energy_wh(wh: int = 125) -> int:
    return sum(wh + (k % 4) for k in range(JULY_INTERVALS))


def make_site(database: str, tmp_path: Path, *serials: str) -> None:
    site_id = run(
        "site", "add", "--name", "Own Court", "--timezone", LA, "--database", database
    ).output.strip()
    for serial in serials:
        run("meter", "add", "--serial", serial, "--site-id", site_id, "--database", database)


def test_own_csv_then_vee_then_bill_from_the_store(database: str, tmp_path: Path) -> None:
    """The issue's first failure, step by step as the operator typed it."""
    make_site(database, tmp_path, "M1")
    run("ingest", str(operator_csv(tmp_path / "own.csv", meter="M1")), "--database", database)
    refused = run("bill", "--tariff", "example:tiered-flat-example", "--meter", "M1", *JULY, "--database",
                  database, ok=False)  # fmt: skip
    # before VEE nothing is billable, and the error says why and what to do
    assert refused.exit_code == 2
    assert "no validated intervals" in refused.output
    assert f"{JULY_INTERVALS} of them not yet validated" in refused.output
    vee = run("vee", "--meter", "M1", "--start", "2026-07-01T07:00Z", "--end", "2026-08-01T07:00Z",
              "--json", "--database", database)  # fmt: skip
    assert json.loads(vee.output)["valid"] == JULY_INTERVALS
    bill = run("bill", "--tariff", "example:tiered-flat-example", "--meter", "M1", *JULY, "--json",
               "--database", database)  # fmt: skip
    doc = json.loads(bill.output)
    assert doc["energy_wh"] == july_energy_wh()
    assert doc["estimated_wh"] == 0


def test_own_csv_then_vee_then_maryland_site_bill(database: str, tmp_path: Path) -> None:
    make_site(database, tmp_path, "M1", "M2")
    with Store(database) as store:
        for serial in ("M1", "M2"):
            meter = store.get_meter(serial=serial)
            assert meter is not None
            tenant = store.create_tenant(name=f"Tenant of {serial}")
            store.create_account(tenant_id=tenant.id, meter_id=meter.id, unit=serial, move_in=JULY_START)
    for serial, wh in (("M1", 125), ("M2", 375)):
        run(
            "ingest",
            str(operator_csv(tmp_path / f"{serial}.csv", meter=serial, wh=wh)),
            "--database",
            database,
        )
        run("vee", "--meter", serial, "--start", "2026-07-01T07:00Z", "--end", "2026-08-01T07:00Z",
            "--database", database)  # fmt: skip
    result = run("bill", "--mode", "maryland", "--site", "Own Court", "--master-total", "1000.00", *JULY,
                 "--json", "--database", database)  # fmt: skip
    doc = json.loads(result.stdout)
    assert doc["energy_wh"] == july_energy_wh(125) + july_energy_wh(375)
    assert sorted(b["energy_wh"] for b in doc["bills"]) == [july_energy_wh(125), july_energy_wh(375)]
    assert sum(int(b["printed_total"].replace(".", "")) for b in doc["bills"]) == 100_000


def test_the_api_and_the_export_give_one_quality_before_and_after_vee(tmp_path: Path) -> None:
    """The issue's second failure: after VEE passed everything, the API said 14 and the export 0."""
    database = f"sqlite:///{tmp_path / 'q.sqlite'}"
    make_site(database, tmp_path, "M1")
    run("ingest", str(operator_csv(tmp_path / "own.csv", meter="M1")), "--database", database)

    def qualities() -> tuple[set[str], set[int]]:
        exported = run("export", "--meter", "M1", "--start", "2026-07-01T07:00Z",
                       "--end", "2026-08-01T07:00Z", "--database", database).output  # fmt: skip
        from_export = {row["quality"] for row in csv.DictReader(io.StringIO(exported))}
        with Store(database) as store:
            _, token = store.create_api_token(role="read-only", label="test")
            client = TestClient(create_app(store, Settings(environment="development")))
            answer = client.get(
                "/meters/M1/intervals",
                params={"start": "2026-07-01T07:00Z", "end": "2026-08-01T07:00Z"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 200, answer.text
        return from_export, {b["quality"] for b in answer.json()["data"]}

    assert qualities() == ({"14"}, {14})  # received, not yet validated: raw at both doors
    run(
        "vee",
        "--meter",
        "M1",
        "--start",
        "2026-07-01T07:00Z",
        "--end",
        "2026-08-01T07:00Z",
        "--database",
        database,
    )
    assert qualities() == ({"0"}, {0})  # passed by VEE: valid at both doors


def test_late_data_after_vee_is_raw_until_vee_runs_again(tmp_path: Path) -> None:
    """A revision that arrives after VEE ran is not called valid by that run."""
    with Store(f"sqlite:///{tmp_path / 'late.sqlite'}") as store:
        meter = store.create_meter(serial="M1", designation="MM-D1202001-T-SCC", ct_ratio=2000)
        ends = [JULY_START + timedelta(minutes=15 * k) for k in range(1, 97)]
        store.insert_raw_intervals(meter_id=meter.id, rows=[(e, 100) for e in ends], source="csv")
        from meshmeter.headend.vee import run_vee

        run_vee(store, meter_id=meter.id, start=JULY_START, end=ends[-1], timezone=LA)
        store.insert_raw_intervals(meter_id=meter.id, rows=[(ends[10], 120)], source="csv-corrected")
        view = store.interval_view(meter_id=meter.id, start=JULY_START, end=ends[-1])
        assert view.energy_wh[10] == 120
        assert int(view.quality[10]) == 14
        assert set(view.quality[:10].tolist()) == {0}
        run_vee(store, meter_id=meter.id, start=JULY_START, end=ends[-1], timezone=LA)
        view = store.interval_view(meter_id=meter.id, start=JULY_START, end=ends[-1])
        assert (int(view.energy_wh[10]), int(view.quality[10])) == (120, 0)


def hourly_csv(path: Path, *, meter: str, wh: int = 500) -> Path:
    """A month of an hourly meter's intervals (a utility's or another system's data), 744 rows."""
    lines = ["meter,interval_end,energy_wh"]
    t = JULY_START
    for k in range(744):
        t += timedelta(hours=1)
        lines.append(f"{meter},{t.isoformat().replace('+00:00', 'Z')},{wh + (k % 3)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_hourly_and_a_quarter_hour_meter_in_one_site(tmp_path: Path) -> None:
    """Data at another length is stored as what it is: bills, exports, the API and VEE at each meter's own."""
    database = f"sqlite:///{tmp_path / 'mixed.sqlite'}"
    site_id = run(
        "site", "add", "--name", "Mixed Court", "--timezone", LA, "--database", database
    ).output.strip()
    run("meter", "add", "--serial", "Q15", "--site-id", site_id, "--database", database)
    run("meter", "add", "--serial", "H60", "--site-id", site_id, "--interval", "60", "--database", database)
    run("ingest", str(operator_csv(tmp_path / "q.csv", meter="Q15")), "--database", database)
    run("ingest", str(hourly_csv(tmp_path / "h.csv", meter="H60")), "--database", database)
    hourly_wh = sum(500 + (k % 3) for k in range(744))
    window = ["--start", "2026-07-01T07:00Z", "--end", "2026-08-01T07:00Z"]
    reports = {
        serial: json.loads(run("vee", "--meter", serial, *window, "--json", "--database", database).output)
        for serial in ("Q15", "H60")
    }
    assert reports["Q15"]["valid"] == JULY_INTERVALS
    # VEE at the hourly meter's own length: 744 hours, nothing estimated or missing
    assert reports["H60"]["intervals"] == 744
    assert reports["H60"]["valid"] == 744
    assert reports["H60"]["interpolated"] == reports["H60"]["estimated_reference_day"] == 0
    assert reports["H60"]["missing"] == 0

    bills = {
        serial: json.loads(
            run(
                "bill",
                "--tariff",
                "example:tiered-flat-example",
                "--meter",
                serial,
                *JULY,
                "--json",
                "--database",
                database,
            ).output
        )
        for serial in ("Q15", "H60")
    }
    assert bills["Q15"]["energy_wh"] == july_energy_wh()
    assert bills["H60"]["energy_wh"] == hourly_wh
    assert bills["H60"]["estimated_wh"] == 0
    assert bills["H60"]["unbilled_intervals"] == 0

    exported = run("export", "--meter", "H60", *window, "--database", database).output
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert len(rows) == 744
    assert sum(int(r["energy_wh"]) for r in rows) == hourly_wh
    assert {r["quality"] for r in rows} == {"0"}

    with Store(database) as store:
        _, token = store.create_api_token(role="read-only", label="test")
        client = TestClient(create_app(store, Settings(environment="development")))
        headers = {"Authorization": f"Bearer {token}"}
        params = {"start": "2026-07-01", "end": "2026-08-01", "tz": LA}
        daily = client.get("/meters/H60/intervals", params={**params, "resolution": "daily"}, headers=headers)
        assert daily.status_code == 200, daily.text
        days = daily.json()["data"]
        assert len(days) == 31
        assert {(d["count"], d["expected"], d["quality"]) for d in days} == {(24, 24, 0)}
        assert sum(d["energy_wh"] for d in days) == hourly_wh
        monthly = client.get(
            "/meters/Q15/intervals", params={**params, "resolution": "monthly"}, headers=headers
        )
        (month,) = monthly.json()["data"]
        assert (month["energy_wh"], month["count"], month["expected"]) == (july_energy_wh(), 2976, 2976)
        finer = client.get("/meters/H60/intervals", params={**params, "resolution": "15min"}, headers=headers)
        assert finer.status_code == 400
        assert "60-minute intervals" in finer.json()["detail"]
        # the site's consumption adds both meters, each at its own length
        energy = client.get(
            "/energy/daily", params={"site_id": int(site_id), "start": "2026-07-01", "end": "2026-08-01"},
            headers=headers,
        )  # fmt: skip
        assert energy.status_code == 200, energy.text
        assert energy.json()["energy_wh"] == july_energy_wh() + hourly_wh
        assert energy.json()["excluded_intervals"] == 0


def test_ingest_with_vee_is_billable_at_once(tmp_path: Path) -> None:
    """``meshmeter ingest --vee``: the rows taken are validated in the same step, and the bill follows."""
    database = f"sqlite:///{tmp_path / 'vee.sqlite'}"
    make_site(database, tmp_path, "M1")
    out = json.loads(
        run(
            "ingest",
            str(operator_csv(tmp_path / "own.csv", meter="M1")),
            "--vee",
            "--json",
            "--database",
            database,
        ).output
    )
    (span,) = out["vee"]
    assert (span["meter"], span["intervals"], span["valid"], span["missing"]) == (
        "M1",
        JULY_INTERVALS,
        JULY_INTERVALS,
        0,
    )
    assert span["start"] == "2026-07-01T07:00:00+00:00"
    bill = run("bill", "--tariff", "example:tiered-flat-example", "--meter", "M1", *JULY, "--json",
               "--database", database)  # fmt: skip
    assert json.loads(bill.output)["energy_wh"] == july_energy_wh()


def test_post_intervals_with_vee_by_role(tmp_path: Path) -> None:
    """``POST /intervals?vee=true`` with an operator's token validates what it stored; billing may not."""
    database = f"sqlite:///{tmp_path / 'api.sqlite'}"
    site_id = run(
        "site", "add", "--name", "Api Court", "--timezone", LA, "--database", database
    ).output.strip()
    run("meter", "add", "--serial", "H60", "--site-id", site_id, "--interval", "60", "--database", database)
    t = JULY_START
    rows = []
    for k in range(48):
        t += timedelta(hours=1)
        rows.append({"interval_end": t.isoformat().replace("+00:00", "Z"), "energy_wh": 400 + k})
    with Store(database) as store:
        client = TestClient(create_app(store, Settings(environment="development")))
        tokens = {role: store.create_api_token(role=role, label=role)[1] for role in ("operator", "billing")}
        body = {"meter": "H60", "intervals": rows}
        refused = client.post(
            "/intervals",
            params={"vee": "true"},
            json=body,
            headers={"Authorization": f"Bearer {tokens['billing']}"},
        )
        assert refused.status_code == 403
        answer = client.post(
            "/intervals",
            params={"vee": "true"},
            json=body,
            headers={"Authorization": f"Bearer {tokens['operator']}"},
        )
        assert answer.status_code == 201, answer.text
        (span,) = answer.json()["vee"]
        assert (span["meter"], span["intervals"], span["valid"]) == ("H60", 48, 48)
        meter = store.get_meter(serial="H60")
        assert meter is not None
        view = store.interval_view(meter_id=meter.id, start=JULY_START, end=t)
        assert set(view.quality.tolist()) == {0}
        plain = client.post(
            "/intervals", json=body, headers={"Authorization": f"Bearer {tokens['operator']}"}
        )
        assert plain.status_code == 200
        assert "vee" not in plain.json()


def test_site_energy_with_an_hourly_meter_alone_and_beside_a_quarter_hour_one(tmp_path: Path) -> None:
    """The energy routes add meters of several lengths at the coarser one: demand is never 4× too high."""
    database = f"sqlite:///{tmp_path / 'energy.sqlite'}"
    site_id = run(
        "site", "add", "--name", "Energy Court", "--timezone", LA, "--database", database
    ).output.strip()
    run("meter", "add", "--serial", "H60", "--site-id", site_id, "--interval", "60", "--database", database)
    run("ingest", str(hourly_csv(tmp_path / "h.csv", meter="H60", wh=1000)), "--vee", "--database", database)
    params = {"site_id": int(site_id), "start": "2026-07-01", "end": "2026-08-01"}

    def profile() -> list[dict[str, Any]]:
        with Store(database) as store:
            _, token = store.create_api_token(role="read-only", label="reader")
            client = TestClient(create_app(store, Settings(environment="development")))
            answer = client.get(
                "/energy/load-profile", params=params, headers={"Authorization": f"Bearer {token}"}
            )
        assert answer.status_code == 200, answer.text
        data: list[dict[str, Any]] = answer.json()["data"]
        return data

    # about 1 kWh every hour: a mean demand of about 1 kW in each hour of the day (not 4 kW)
    alone = profile()
    assert all(0.99 < row["demand_kw"] < 1.01 for row in alone)
    assert {row["intervals"] for row in alone} == {31}
    run("meter", "add", "--serial", "Q15", "--site-id", site_id, "--database", database)
    run("ingest", str(operator_csv(tmp_path / "q.csv", meter="Q15", wh=250)), "--vee", "--database", database)
    # and 250 Wh a quarter-hour beside it: about 2 kW in all, averaged over the hours
    both = profile()
    assert all(1.99 < row["demand_kw"] < 2.02 for row in both)
