"""Bills that stay right (issue 13), driven as people do: the operator's commands (``meshmeter ingest``,
``vee``, ``bill --save``, ``corrections``, ``site set``) and the API with a token of each role, on SQLite
and PostgreSQL.

The world: Oak Court (Los Angeles) with meter M1 in unit 1A, where Ada Lovelace's account lives from June
2026, and meter M2 in unit 2B, Bob Byron's. The tiered example tariff: 500 kWh at $0.12, the next 500 at
$0.15, the rest at $0.18, and $10 a month. Worked by hand:

* July at 200 Wh a quarter-hour with the last day missing: 30 x 96 x 0.2 = 576 kWh,
  60.00 + 76 x 0.15 = 11.40, + 10 = $81.40. With the late day: 595.2 kWh, 60.00 + 14.28 + 10 = $84.28,
  so the correction is +$2.88, all on "Energy, tier 2".
* July whole, then its 10th day revised from 200 to 250 Wh a quarter-hour: 595.2 + 96 x 0.05 = 600 kWh,
  60.00 + 100 x 0.15 + 10 = $85.00, +$0.72 on tier 2. August at 200 Wh: 31 x 96 x 0.2 = 595.2 kWh, $84.28
  of its own; with July's adjustment carried, $84.28 + $0.72 = $85.00.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshmeter.api.problems import PROBLEM_JSON
from meshmeter.billing import verify_bill
from meshmeter.cli import app as cli_app
from meshmeter.errors import CorrectionConflictError
from meshmeter.services.corrections import issue_correction
from meshmeter.store import Store
from tests.api.conftest import ADMIN, TestClient, bearer

JULY = datetime(2026, 7, 1, 7, tzinfo=UTC)
"""Local midnight of 1 July 2026 in Los Angeles."""
DAY_INTERVALS = 96


def _end(i: int) -> datetime:
    return JULY + timedelta(minutes=15 * (i + 1))


def _csv(
    path: Path, first: int, last: int, *, meter: str = "M1", energy: dict[int, int] | None = None
) -> str:
    """Intervals ``first`` .. ``last - 1`` from July's start at 200 Wh (``energy`` overrides some)."""
    rows = ["meter,interval_end,energy_wh"]
    rows += [f"{meter},{_end(i):%Y-%m-%dT%H:%M:%SZ},{(energy or {}).get(i, 200)}" for i in range(first, last)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def _url(store: Store) -> str:
    return store.engines.writer.url.render_as_string(hide_password=False)


def run(store: Store, *args: str) -> object:
    """``meshmeter ARGS --database <the store's>`` as an operator types it."""
    result = CliRunner().invoke(
        cli_app, [*args, "--database", _url(store)], env={"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    )
    return result


@pytest.fixture
def oak(store: Store) -> dict[str, int]:
    site = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
    ids = {"site": site.id}
    for serial, unit_name, person in (("M1", "1A", "Ada Lovelace"), ("M2", "2B", "Bob Byron")):
        meter = store.create_meter(serial=serial, designation="MM-1", ct_ratio=2000, site_id=site.id)
        unit = store.create_unit(site_id=site.id, name=unit_name, meter_id=meter.id)
        tenant = store.create_tenant(name=person)
        account = store.open_account(
            tenant_id=tenant.id, site_id=site.id, opened_at=JULY - timedelta(days=30)
        )
        store.move_in(account_id=account.id, unit_id=unit.id, at=JULY - timedelta(days=30))
        ids[serial] = meter.id
        ids[f"{serial}_account"] = account.id
    return ids


@pytest.fixture
def role_tokens(store: Store, oak: dict[str, int]) -> dict[str, dict[str, str]]:
    made = {role: store.create_api_token(role=role)[1] for role in ("operator", "billing", "read-only")}
    made["ada"] = store.create_api_token(role="tenant", account_id=oak["M1_account"])[1]
    made["bob"] = store.create_api_token(role="tenant", account_id=oak["M2_account"])[1]
    made["elsewhere operator"] = store.create_api_token(
        role="operator", site_ids=[store.create_site(name="Elm House", timezone="America/New_York").id]
    )[1]
    made["oak billing"] = store.create_api_token(role="billing", site_ids=[oak["site"]])[1]
    return {name: bearer(token) for name, token in made.items()}


def _bill_month(store: Store, start: str, end: str, meter: str = "M1") -> object:
    return run(
        store, "bill", "--meter", meter, "--tariff", "example:tiered-flat-example",
        "--start", start, "--end", end, "--save",
    )  # fmt: skip


def _july_billed_without_its_last_day(store: Store, tmp_path: Path) -> int:
    ingested = run(store, "ingest", _csv(tmp_path / "july.csv", 0, 30 * DAY_INTERVALS), "--vee")
    assert ingested.exit_code == 0, ingested.output
    billed = _bill_month(store, "2026-07-01", "2026-08-01")
    assert billed.exit_code == 0, billed.output
    assert "81.40" in billed.output
    [bill] = store.list_bills(meter="M1")
    return bill.id


def test_late_intervals_make_a_corrected_bill_and_the_original_stays(
    store: Store,
    oak: dict[str, int],
    role_tokens: dict[str, dict[str, str]],
    client: TestClient,
    tmp_path: Path,
) -> None:
    bill_id = _july_billed_without_its_last_day(store, tmp_path)
    original_document = store.get_bill(bill_id).document
    day = datetime.now(UTC).date()  # the printed forms say the day they were made
    before = {
        fmt: client.get(f"/bills/{bill_id}", params={"format": fmt}, headers=ADMIN).content
        for fmt in ("json", "csv", "html")
    }
    clean = run(store, "corrections", "list")
    assert clean.exit_code == 0, clean.output
    assert "no issued bill is affected" in clean.output

    # The last day of July arrives late; VEE passes it.
    late = run(store, "ingest", _csv(tmp_path / "late.csv", 30 * DAY_INTERVALS, 31 * DAY_INTERVALS))
    assert late.exit_code == 0, late.output
    vee = run(
        store, "vee", "--meter", "M1", "--start", "2026-07-01T00:00-07:00", "--end", "2026-08-01T00:00-07:00"
    )
    assert vee.exit_code == 0, vee.output
    listed = run(store, "corrections", "list", "--site", "Oak Court")
    assert listed.exit_code == 1, listed.output  # a correction is pending
    assert "1 bill to correct" in listed.output
    assert "576.000" in listed.output
    assert "595.200" in listed.output
    pending = client.get("/bills/affected", params={"site_id": oak["site"]}, headers=role_tokens["billing"])
    assert pending.status_code == 200, pending.text
    [row] = pending.json()["data"]
    assert (row["bill_id"], row["intervals_changed"], row["issued_wh"], row["current_wh"]) == (
        bill_id, 96, 576_000, 595_200
    )  # fmt: skip

    issued = run(store, "corrections", "issue", str(bill_id), "--by", "ops desk")
    assert issued.exit_code == 0, issued.output
    assert f"bill {bill_id}: correction 1 issued, +2.88 USD (corrected bill)" in issued.output

    # The correction, read by the billing service and by Ada; the original is as it was, byte for byte.
    corrections = client.get(f"/bills/{bill_id}/corrections", headers=role_tokens["billing"])
    assert corrections.status_code == 200, corrections.text
    [c] = corrections.json()["data"]
    assert (c["sequence"], c["mode"], c["issued_by"], c["pending"]) == (
        1,
        "corrected_bill",
        "ops desk",
        False,
    )
    assert (Decimal(c["difference"]), Decimal(c["printed_total"]), c["energy_wh"]) == (
        Decimal("2.88"), Decimal("84.28"), 595_200
    )  # fmt: skip
    assert [(x["description"], Decimal(x["amount"])) for x in c["lines"]] == [
        (f"Correction of bill #{bill_id}, 2026-07: Energy, tier 2", Decimal("2.88"))
    ]
    for fmt, body in before.items():
        if fmt == "html" and datetime.now(UTC).date() != day:
            continue  # made on another day than the first: its date differs, nothing else could
        assert client.get(f"/bills/{bill_id}", params={"format": fmt}, headers=ADMIN).content == body, fmt
    assert store.get_bill(bill_id).document == original_document

    original = store.get_bill(bill_id)
    banner = f"Corrected bill — replaces bill #{bill_id} issued {original.created_at:%Y-%m-%d}"
    html = client.get(
        f"/bills/{bill_id}/corrections/1", params={"format": "html"}, headers=role_tokens["ada"]
    )
    assert html.status_code == 200, html.text
    assert html.headers["content-type"].startswith("text/html")
    assert banner in html.text
    assert "84.28" in html.text
    assert "81.40" not in html.text
    assert banner not in before["html"].decode()
    pdf = client.get(f"/bills/{bill_id}/corrections/1", params={"format": "pdf"}, headers=role_tokens["ada"])
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert f'filename="bill-{bill_id}-correction-1.pdf"' in pdf.headers["content-disposition"]
    as_json = client.get(f"/bills/{bill_id}/corrections/1", headers=role_tokens["operator"]).json()
    assert verify_bill(as_json["document"]).printed_total == Decimal("84.28")
    csv_text = client.get(f"/bills/{bill_id}/corrections/1", params={"format": "csv"}, headers=ADMIN).text
    assert csv_text.splitlines()[-1].endswith(",84.28")

    # Corrected: nothing is pending any more, and a second issue is refused, naming why.
    after = run(store, "corrections", "list")
    assert after.exit_code == 0, after.output
    assert "1 correction issued" in after.output
    assert "corrected bill" in after.output
    again = run(store, "corrections", "issue", str(bill_id))
    assert again.exit_code == 2
    assert f"nothing changed under bill {bill_id} since its correction 1" in again.output
    refused = client.post(f"/bills/{bill_id}/corrections", headers=role_tokens["operator"])
    assert refused.status_code == 409
    assert refused.headers["content-type"] == PROBLEM_JSON
    assert "nothing changed" in refused.json()["detail"]
    assert len(store.list_corrections(bill_id=bill_id)) == 1


def test_next_bill_mode_carries_the_adjustment_onto_the_next_months_bill(
    store: Store,
    oak: dict[str, int],
    role_tokens: dict[str, dict[str, str]],
    client: TestClient,
    tmp_path: Path,
) -> None:
    mode = run(store, "site", "set", "Oak Court", "--correction-mode", "next_bill")
    assert mode.exit_code == 0, mode.output
    assert "correction_mode: next_bill" in mode.output
    assert run(store, "ingest", _csv(tmp_path / "july.csv", 0, 31 * DAY_INTERVALS), "--vee").exit_code == 0
    assert _bill_month(store, "2026-07-01", "2026-08-01").exit_code == 0
    [july] = store.list_bills(meter="M1")
    assert july.printed_total == Decimal("84.28")

    # A revision of July's 10th day (the meter's records, re-sent), validated by VEE.
    tenth = range(9 * DAY_INTERVALS, 10 * DAY_INTERVALS)
    rev = _csv(tmp_path / "rev.csv", tenth.start, tenth.stop, energy=dict.fromkeys(tenth, 250))
    revised = run(store, "ingest", rev, "--vee")
    assert revised.exit_code == 0, revised.output
    issued = client.post(f"/bills/{july.id}/corrections", headers=role_tokens["billing"])
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert (body["mode"], body["pending"], body["applied_bill_id"]) == ("next_bill", True, None)
    assert Decimal(body["difference"]) == Decimal("0.72")
    assert body["issued_by"].startswith("token ")
    html = client.get(f"/bills/{july.id}/corrections/1", params={"format": "html"}, headers=ADMIN).text
    assert "the difference of +0.72 USD is carried on the account&#39;s next bill" in html

    # August is billed: its bill carries July's adjustment after its own charges.
    august_csv = _csv(tmp_path / "aug.csv", 31 * DAY_INTERVALS, 62 * DAY_INTERVALS)
    assert run(store, "ingest", august_csv, "--vee").exit_code == 0
    august_run = _bill_month(store, "2026-08-01", "2026-09-01")
    assert august_run.exit_code == 0, august_run.output
    assert f"Correction of bill #{july.id}, 2026-07: Energy, tier 2" in august_run.output
    assert "85.00" in august_run.output
    august = next(b for b in store.list_bills(meter="M1") if b.id != july.id)
    document = client.get(f"/bills/{august.id}", headers=role_tokens["ada"]).json()
    own = [x for x in document["lines"] if x["kind"] != "adjustment"]
    carried = [x for x in document["lines"] if x["kind"] == "adjustment"]
    assert sum(Decimal(x["printed_amount"]) for x in own) == Decimal("84.28")
    assert [(x["description"], x["printed_amount"]) for x in carried] == [
        (f"Correction of bill #{july.id}, 2026-07: Energy, tier 2", "0.72")
    ]
    assert Decimal(document["printed_total"]) == Decimal("84.28") + Decimal("0.72") == Decimal("85.00")
    assert verify_bill(store.get_bill(august.id).document).printed_total == Decimal("85.00")
    printed = client.get(f"/bills/{august.id}", params={"format": "html"}, headers=role_tokens["ada"])
    assert printed.status_code == 200  # made again from its inputs, carried lines included, and checked
    assert f"Correction of bill #{july.id}, 2026-07: Energy, tier 2" in printed.text
    [c] = client.get(f"/bills/{july.id}/corrections", headers=role_tokens["ada"]).json()["data"]
    assert (c["pending"], c["applied_bill_id"]) == (False, august.id)
    assert store.get_bill(july.id).printed_total == Decimal("84.28")  # July as issued

    # Billing August again changes nothing, and carries nothing twice.
    again = _bill_month(store, "2026-08-01", "2026-09-01")
    assert again.exit_code == 0, again.output
    assert f"already stored as bill {august.id}" in again.output
    assert len(store.list_bills(meter="M1")) == 2
    assert store.list_corrections(pending=True) == []


def test_who_may_issue_and_read_corrections(
    store: Store,
    oak: dict[str, int],
    role_tokens: dict[str, dict[str, str]],
    client: TestClient,
    tmp_path: Path,
) -> None:
    bill_id = _july_billed_without_its_last_day(store, tmp_path)
    run(store, "ingest", _csv(tmp_path / "late.csv", 30 * DAY_INTERVALS, 31 * DAY_INTERVALS), "--vee")
    path = f"/bills/{bill_id}/corrections"
    for name in ("read-only", "ada", "bob"):
        refused = client.post(path, headers=role_tokens[name])
        assert refused.status_code == 403, (name, refused.text)
    assert client.post(path, headers=role_tokens["elsewhere operator"]).status_code == 404
    assert client.get("/bills/affected", headers=role_tokens["ada"]).status_code == 403
    assert client.get("/bills/affected", headers=role_tokens["read-only"]).status_code == 403
    assert client.get("/bills/affected", headers=role_tokens["elsewhere operator"]).json()["count"] == 0
    assert client.get("/bills/affected", headers=role_tokens["oak billing"]).json()["count"] == 1
    assert store.list_corrections() == []  # nothing was issued by those refused

    made = client.post(path, headers=role_tokens["oak billing"])
    assert made.status_code == 201, made.text
    # Ada reads her bill's correction; Bob, a tenant of another account, gets 404 as for anything not his.
    assert client.get(path, headers=role_tokens["ada"]).json()["count"] == 1
    for what in (path, f"{path}/1", f"{path}/1?format=html", f"{path}/1?format=pdf"):
        for name in ("bob", "elsewhere operator"):
            answer = client.get(what, headers=role_tokens[name])
            assert answer.status_code == 404, (name, what, answer.text)
            assert "84.28" not in answer.text
        assert client.get(what, headers=role_tokens["read-only"]).status_code == 403
        assert client.get(what, headers=role_tokens["billing"]).status_code == 200


def test_bad_requests_are_refused_and_change_nothing(
    store: Store,
    oak: dict[str, int],
    role_tokens: dict[str, dict[str, str]],
    client: TestClient,
    tmp_path: Path,
) -> None:
    bill_id = _july_billed_without_its_last_day(store, tmp_path)
    unknown = client.post("/bills/999/corrections", headers=ADMIN)
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "no bill has id 999"
    assert client.get("/bills/999/corrections", headers=ADMIN).status_code == 404
    assert client.get(f"/bills/{bill_id}/corrections/1", headers=ADMIN).json()["detail"] == (
        f"bill {bill_id} has no correction 1"
    )
    assert client.get(f"/bills/{bill_id}/corrections/0", headers=ADMIN).status_code == 422
    assert client.get("/bills/affected", params={"site_id": 999}, headers=ADMIN).status_code == 404
    unchanged = client.post(f"/bills/{bill_id}/corrections", headers=ADMIN)
    assert unchanged.status_code == 409
    assert unchanged.json()["detail"].startswith(f"nothing changed under bill {bill_id} since it was issued")

    cli_unknown = run(store, "corrections", "issue", "999")
    assert cli_unknown.exit_code == 2
    assert "bill 999 is not in the store" in cli_unknown.output
    both = run(store, "corrections", "issue", str(bill_id), "--all")
    assert both.exit_code == 2
    assert "give a BILL_ID or --all, not both" in both.output
    assert "--all needs --site NAME" in both.output
    neither = run(store, "corrections", "issue")
    assert neither.exit_code == 2
    assert "give the BILL_ID to correct" in neither.output
    bad_site = run(store, "site", "set", "Oak Court", "--correction-mode", "later", "--due-days", "120")
    assert bad_site.exit_code == 2
    assert "correction_mode must be one of corrected_bill, next_bill, got 'later'" in bad_site.output
    assert "due_days must be whole days, 0 to 90, got 120" in bad_site.output
    site = store.get_site(site_id=oak["site"])
    assert (site.correction_mode, site.due_days) == ("corrected_bill", 21)
    assert run(store, "site", "set", "Oak Court").exit_code == 2
    assert store.list_corrections() == []


def test_a_site_set_changes_every_setting_given(store: Store, oak: dict[str, int]) -> None:
    done = run(
        store, "site", "set", "Oak Court", "--owner-name", "Oak Court LLC", "--owner-address",
        "1 Oak Court, Fresno CA", "--payment-instructions", "Pay at the front desk", "--due-days", "14",
        "--json",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    site = store.get_site(site_id=oak["site"])
    assert (site.owner_name, site.owner_address, site.payment_instructions, site.due_days) == (
        "Oak Court LLC", "1 Oak Court, Fresno CA", "Pay at the front desk", 14
    )  # fmt: skip
    cleared = run(store, "site", "set", "Oak Court", "--owner-name", "")
    assert cleared.exit_code == 0, cleared.output
    assert store.get_site(site_id=oak["site"]).owner_name is None
    assert run(store, "site", "set", "Nowhere", "--due-days", "3").exit_code == 2


def test_corrections_issue_all_of_a_site(store: Store, oak: dict[str, int], tmp_path: Path) -> None:
    for serial in ("M1", "M2"):
        path = _csv(tmp_path / f"{serial}.csv", 0, 30 * DAY_INTERVALS, meter=serial)
        assert run(store, "ingest", path, "--vee").exit_code == 0
        assert _bill_month(store, "2026-07-01", "2026-08-01", serial).exit_code == 0
    late = _csv(tmp_path / "late.csv", 30 * DAY_INTERVALS, 31 * DAY_INTERVALS, meter="M2")
    assert run(store, "ingest", late, "--vee").exit_code == 0
    done = run(store, "corrections", "issue", "--all", "--site", "Oak Court", "--json")
    assert done.exit_code == 0, done.output
    m2 = store.list_bills(meter="M2")[0].id
    assert [c.bill_id for c in store.list_corrections()] == [m2]
    nothing = run(store, "corrections", "issue", "--all", "--site", "Oak Court")
    assert nothing.exit_code == 0
    assert "no bill of Oak Court is affected" in nothing.output


@pytest.fixture
def second_store(store: Store) -> Iterator[Store]:
    other = Store(store.engines.writer.url, migrate=False)
    yield other
    other.close()


def test_two_people_issuing_at_once_one_wins(
    store: Store, second_store: Store, oak: dict[str, int], tmp_path: Path
) -> None:
    bill_id = _july_billed_without_its_last_day(store, tmp_path)
    run(store, "ingest", _csv(tmp_path / "late.csv", 30 * DAY_INTERVALS, 31 * DAY_INTERVALS), "--vee")
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def issue(on: Store, who: str) -> None:
        start.wait()
        try:
            outcomes.append(issue_correction(on, bill_id, by=who))
        except CorrectionConflictError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=issue, args=(s, w)) for s, w in ((store, "a"), (second_store, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [o for o in outcomes if not isinstance(o, Exception)]
    lost = [o for o in outcomes if isinstance(o, CorrectionConflictError)]
    assert (len(won), len(lost)) == (1, 1), outcomes
    assert [c.sequence for c in store.list_corrections(bill_id=bill_id)] == [1]
