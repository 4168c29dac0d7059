"""``POST /accounts/{account_id}/bills`` (issue 13, "bill a stored account"): a billing service sends the
URDB tariff and the period, with a token of each role, on SQLite and PostgreSQL.

Oak Court (Los Angeles): Ann in 1A (meter U1, 100 Wh a quarter-hour) all July; Cara in 3C (meter U3, 300 Wh)
until local midnight of 16 July, Dan from then; Eve lived in 1A until June. Elm House: Vic. The tiered
example tariff: 500 kWh at $0.12, the next 500 at $0.15, then $0.18, and $10 a month; a tenure of part of
the month has its tiers and its fixed charge prorated by days. Worked by hand:

* Cara, 15 of 31 days: 1440 x 0.3 = 432 kWh; tier 1 up to 500 x 15/31 = 241.935 kWh: $29.03, the other
  190.065 kWh at $0.15: $28.51; $10 x 15/31 = $4.84; $62.38.
* Dan, 16 days: 1536 x 0.3 = 460.8 kWh; tier 1 258.065 kWh: $30.97, 202.735 kWh: $30.41; $5.16; $66.54.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import pytest

from meshmeter.billing import verify_bill
from meshmeter.store import Store
from tests.api.conftest import ADMIN, TestClient, bearer

START = datetime(2026, 7, 1, 7, tzinfo=UTC)
MOVE = datetime(2026, 7, 16, 7, tzinfo=UTC)
END = datetime(2026, 8, 1, 7, tzinfo=UTC)


def _urdb(name: str) -> dict[str, Any]:
    text = resources.files("meshmeter.billing").joinpath(f"tariffs/{name}.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


# The URDB API's answer holding two rates: the label chooses the tiered one.
TARIFF = {
    "tariff": {"items": [_urdb("e-tou-c-example"), _urdb("tiered-flat-example")]},
    "label": "meshmeter-example-tiered-flat",
    "start": "2026-07-01",
    "end": "2026-08-01",
}


@pytest.fixture
def oak(store: Store) -> dict[str, int]:
    oak = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
    elm = store.create_site(name="Elm House", timezone="America/Los_Angeles")
    ids = {"oak": oak.id, "elm": elm.id}
    for serial, unit, site, wh in (("U1", "1A", oak, 100), ("U3", "3C", oak, 300), ("X1", "9", elm, 200)):
        meter = store.create_meter(serial=serial, designation="MM-1", ct_ratio=2000, site_id=site.id)
        ids[unit] = store.create_unit(site_id=site.id, name=unit, meter_id=meter.id).id
        rows = [(START + timedelta(minutes=15 * (i + 1)), wh, 0) for i in range(2976)]
        store.put_validated_intervals(meter_id=meter.id, rows=rows, edited_by="vee", reason="test")
    for name, site, unit, move_in, move_out in (
        ("Eve", oak, "1A", START - timedelta(days=400), START - timedelta(days=30)),
        ("Ann", oak, "1A", START - timedelta(days=30), None),
        ("Cara", oak, "3C", START - timedelta(days=400), MOVE),
        ("Dan", oak, "3C", MOVE, None),
        ("Vic", elm, "9", START - timedelta(days=30), None),
    ):
        tenant = store.create_tenant(name=name)
        account = store.open_account(tenant_id=tenant.id, site_id=site.id, opened_at=move_in)
        store.move_in(account_id=account.id, unit_id=ids[unit], at=move_in)
        if move_out is not None:
            store.move_out(account_id=account.id, at=move_out)
        ids[name] = account.id
    return ids


@pytest.fixture
def callers(store: Store, oak: dict[str, int]) -> dict[str, dict[str, str]]:
    made = {role: store.create_api_token(role=role)[1] for role in ("operator", "billing", "read-only")}
    made["tenant"] = store.create_api_token(role="tenant", account_id=oak["Cara"])[1]
    made["oak billing"] = store.create_api_token(role="billing", site_ids=[oak["oak"]])[1]
    made["elm operator"] = store.create_api_token(role="operator", site_ids=[oak["elm"]])[1]
    return {name: bearer(token) for name, token in made.items()} | {"admin": ADMIN}


def test_two_tenants_of_one_meter_each_get_their_bill(
    client: TestClient, store: Store, oak: dict[str, int], callers: dict[str, dict[str, str]]
) -> None:
    got = {}
    for name, caller in (("Cara", "billing"), ("Dan", "oak billing")):
        r = client.post(f"/accounts/{oak[name]}/bills", json=TARIFF, headers=callers[caller])
        assert r.status_code == 200, r.text
        got[name] = r.json()
    cara, dan = got["Cara"], got["Dan"]
    assert (cara["account"], cara["tenant"], cara["timezone"]) == ("1003", "Cara", "America/Los_Angeles")
    [c], [d] = cara["bills"], dan["bills"]
    assert (c["unit"], c["meter"], c["energy_wh"], c["printed_total"]) == ("3C", "U3", 432_000, "62.38")
    assert (d["unit"], d["meter"], d["energy_wh"], d["printed_total"]) == ("3C", "U3", 460_800, "66.54")
    assert c["energy_wh"] + d["energy_wh"] == 2976 * 300  # the meter's July, split at the move
    assert (c["document"]["account"], c["document"]["statement"]["account_number"]) == ("Cara", "1003")
    assert c["document"]["tariff"] == _urdb("tiered-flat-example")["name"]
    assert (c["bill_id"], c["new"]) == (None, None)
    assert store.list_bills() == []  # nothing kept without save


def test_save_is_idempotent_and_kept_against_the_account(
    client: TestClient, store: Store, oak: dict[str, int], callers: dict[str, dict[str, str]]
) -> None:
    body = {**TARIFF, "save": True}
    first = client.post(f"/accounts/{oak['Dan']}/bills", json=body, headers=callers["operator"])
    assert first.status_code == 200, first.text
    again = client.post(f"/accounts/{oak['Dan']}/bills", json=body, headers=callers["admin"])
    [b1], [b2] = first.json()["bills"], again.json()["bills"]
    assert (b1["new"], b2["new"], b1["bill_id"]) == (True, False, b2["bill_id"])
    [stored] = store.list_bills()
    assert (stored.account_id, stored.site_id, stored.meter) == (oak["Dan"], oak["oak"], "U3")
    whole = store.get_bill(stored.id)
    assert whole is not None
    assert str(verify_bill(whole.document).printed_total) == b1["document"]["printed_total"] == "66.54"
    # the stored bill is read back as any other
    r = client.get(f"/bills/{stored.id}", headers=callers["billing"])
    assert r.status_code == 200
    assert r.json()["account"] == "Dan"


def test_roles_and_scopes(
    client: TestClient, store: Store, oak: dict[str, int], callers: dict[str, dict[str, str]]
) -> None:
    body = {**TARIFF, "save": True}
    for caller in ("read-only", "tenant"):
        r = client.post(f"/accounts/{oak['Cara']}/bills", json=body, headers=callers[caller])
        assert r.status_code == 403, caller
    # a token bound to sites bills its sites' accounts only: another is as if it did not exist
    r = client.post(f"/accounts/{oak['Vic']}/bills", json=body, headers=callers["oak billing"])
    assert r.status_code == 404
    assert "Vic" not in r.text
    r = client.post(f"/accounts/{oak['Ann']}/bills", json=body, headers=callers["elm operator"])
    assert r.status_code == 404
    assert store.list_bills() == []
    r = client.post(f"/accounts/{oak['Vic']}/bills", json=body, headers=callers["elm operator"])
    assert r.status_code == 200, r.text
    assert [b.account for b in store.list_bills()] == ["Vic"]


@pytest.mark.parametrize(
    ("change", "status", "needles"),
    [
        ({"label": "no-such-rate"}, 400, ["no-such-rate"]),
        ({"tariff": None, "label": None}, 409, ["no tariff is set", "(Cara)", "give tariff or example"]),
        ({"example": "tiered-flat-example"}, 400, ["give exactly one of tariff"]),
        (
            {"tariff": {"name": "x", "energyratestructure": "nope"}, "label": None},
            400,
            ["energyratestructure"],
        ),
        ({"end": "2026-06-01"}, 400, ["end must be after start"]),
        ({"end": "2027-08-01"}, 400, ["at most a year"]),
        ({"start": "July"}, 400, ["start"]),
        ({"account": "Eve"}, 409, ["account 1001 (Eve) has no tenure in", "unit 1A ("]),
        ({"account": 999}, 404, ["no account has id 999"]),
        ({"extra": 1}, 422, ["extra"]),
    ],
)
def test_bad_input_is_named_and_stores_nothing(
    client: TestClient,
    store: Store,
    oak: dict[str, int],
    change: dict[str, Any],
    status: int,
    needles: list[str],
) -> None:
    body = {**TARIFF, "save": True, **change}
    target = body.pop("account", "Cara")
    account_id = oak[target] if isinstance(target, str) else target
    r = client.post(f"/accounts/{account_id}/bills", json=body, headers=ADMIN)
    assert r.status_code == status, r.text
    for needle in needles:
        assert needle in r.text
    assert store.list_bills() == []


def test_a_body_over_the_limit_is_413(client: TestClient, oak: dict[str, int]) -> None:
    body = {**TARIFF, "tariff": {"items": [_urdb("tiered-flat-example")], "padding": "x" * (1024 * 1024)}}
    r = client.post(f"/accounts/{oak['Cara']}/bills", json=body, headers=ADMIN)
    assert r.status_code == 413
