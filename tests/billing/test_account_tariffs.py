"""An account's own tariff (issue 15: "tariffs per account, with the same checks as the CLI and API"), as an
operator sets it with ``meshmeter tariff set`` and bills with no tariff named, on SQLite and PostgreSQL.

The rate is Pacific Gas & Electric's E-1 Residential Service, Baseline Region T, as the URDB publishes it
(``tests/data/urdb/pge-e-1-region-t.json``; its source in ``tests/data/urdb/SOURCES.md``). Oak Court and its
July 2026 are those of ``tests/billing/test_cli_bill_accounts.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

from meshmeter.store import Store
from tests.billing.test_cli_bill_accounts import OAK, oak, ok, postgres_schema_url, run

__all__ = ["oak", "postgres_schema_url"]  # fixtures of these tests

PGE_E1 = Path(__file__).resolve().parents[1] / "data" / "urdb" / "pge-e-1-region-t.json"
JULY = ["--start", "2026-07-01", "--end", "2026-08-01"]
SET = ["tariff", "set", "--site", "Oak Court"]


def test_set_once_then_bill_with_no_tariff_named(oak: str) -> None:
    made = json.loads(
        ok(
            *SET,
            "--account-number",
            "1001",
            "--tariff",
            str(PGE_E1),
            "--from",
            "2026-07-01",
            "--json",
            database=oak,
        )
    )
    assert made["effective_from"].startswith("2026-07-01T07:00:00")  # local midnight in Los Angeles (PDT)
    listed = json.loads(ok("tariff", "list", "--site", "Oak Court", "--json", database=oak))
    rows = {r["account"]: r for r in listed}
    assert rows["1001"]["unit"] == "1A"  # names first
    assert rows["1001"]["tariff"]["name"]
    assert rows["1001"]["tariff"]["sha256"] == made["sha256"]
    assert rows["1002"]["tariff"] is None  # none set: shown as such
    stored = json.loads(ok(*OAK, "--account-number", "1001", *JULY, "--json", database=oak))["bills"]
    named = json.loads(
        ok(*OAK, "--account-number", "1001", *JULY, "--tariff", str(PGE_E1), "--json", database=oak)
    )
    assert [b["total"] for b in stored] == [b["total"] for b in named["bills"]]
    assert stored[0]["inputs"]["tariff_sha256"] == named["bills"][0]["inputs"]["tariff_sha256"]


def test_accounts_without_a_tariff_are_named_with_what_to_do(oak: str) -> None:
    ok(*SET, "--account-number", "1001", "--example", "tiered-flat-example", database=oak)
    code, out, err = run(*OAK, "--all-accounts", *JULY, database=oak)
    assert code == 2
    said = " ".join((out + err).split())
    for number in ("1002", "1003", "1004"):
        assert number in said
    assert "meshmeter tariff set" in said


def test_a_bad_setting_names_every_problem_and_stores_nothing(oak: str) -> None:
    code, out, err = run(
        *SET, "--account-number", "1001", "--tariff", str(PGE_E1), "--label", "nope", "--from", "July",
        database=oak,
    )  # fmt: skip
    assert code == 2
    said = " ".join((out + err).split())
    assert "nope" in said
    assert "July" in said
    code, out, err = run(*SET, "--account-number", "9999", "--example", "tiered-flat-example", database=oak)
    assert code == 2
    assert "9999" in out + err
    with Store(oak) as store:
        assert store.account_tariffs(site_id=1) == []


def test_a_closed_account_takes_a_tariff_for_its_final_bill_only(oak: str) -> None:
    """Cara Chen (1003) moved out of 3C on 16 July and her account was closed then: her final bill (1 to 16
    July) is priced at a tariff in force before the close, which she may be given afterwards (before, a
    closed account took none, so its final bill could not be made at its own tariff, and ``site simulate``
    of a site file with a move-out failed); a tariff from the close on would price nothing, and is refused
    saying so."""
    ok("account", "close", "3", "--at", "2026-07-16", database=oak)
    code, out, err = run(*OAK, "--account-number", "1003", *JULY, database=oak)
    assert code == 2
    assert "meshmeter tariff set" in " ".join((out + err).split())  # none yet: named with what to do
    made = json.loads(
        ok(*SET, "--account-number", "1003", "--example", "tiered-flat-example", "--json", database=oak)
    )
    assert made["effective_from"].startswith("2025-")  # the first: from the account's opening
    code, out, err = run(*SET, "--account-number", "1003", "--example", "e-tou-c-example", database=oak)
    assert code == 2  # a second with no date would be from now, after the close
    said = " ".join((out + err).split())
    assert "closed at 2026-07-16T07:00:00+00:00" in said
    assert "before the close" in said
    code, out, err = run(
        *SET, "--account-number", "1003", "--example", "e-tou-c-example", "--from", "2026-07-16", database=oak
    )
    assert code == 2  # from the close itself: still nothing to price
    ok(*SET, "--account-number", "1003", "--example", "e-tou-c-example", "--from", "2026-07-01", database=oak)
    with Store(oak) as store:
        kept = store.account_tariffs(account_id=3)
        assert len(kept) == 2  # the refused ones stored nothing
        assert kept[0].sha256 == made["sha256"]
    final = json.loads(ok(*OAK, "--account-number", "1003", *JULY, "--json", database=oak))["bills"]
    named = json.loads(
        ok(
            *OAK,
            "--account-number",
            "1003",
            *JULY,
            "--tariff",
            "example:e-tou-c-example",
            "--json",
            database=oak,
        )
    )["bills"]
    assert [b["total"] for b in final] == [b["total"] for b in named]  # at the tariff in force at its end
