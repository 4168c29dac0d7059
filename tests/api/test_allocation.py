"""``POST /sites/{site_id}/allocation`` and ``PATCH /units/{unit_id}`` (issue 13): Birch Court of the
command's tests (tests/billing/test_cli_allocate.py, the figures worked by hand there) set up over HTTP, its
July posted as an operator's CSV with ``?vee=true``, then shared by each role, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from meshmeter.store import Store
from tests.api.conftest import ADMIN, TestClient, bearer
from tests.billing.test_cli_allocate import (
    HOUSE_BY_AREA,
    HOUSE_OWNER,
    REMAINDER_BY_OCCUPANTS,
    REMAINDER_OWNER,
    START,
    N,
    _energy,
)

JULY = {"start": "2026-07-01", "end": "2026-08-01"}


@pytest.fixture
def birch(store: Store, client: TestClient) -> dict[str, int]:
    """Birch Court over HTTP (its site and meters made as ``meshmeter site add`` / ``meter add`` do)."""
    birch = store.create_site(name="Birch Court", timezone="America/Los_Angeles")
    other = store.create_site(name="Elm House", timezone="America/New_York")
    for serial, role in (("U1", "unit"), ("U2", "unit"), ("U3", "unit"), ("H1", "house"), ("M1", "master")):
        store.create_meter(
            serial=serial, designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=birch.id, role=role
        )
    units = {}
    for name, meter, area, people in (("1A", "U1", 700, 2), ("2B", "U2", 900, 3), ("3C", "U3", None, None)):
        body = {
            "site_id": birch.id,
            "name": name,
            "meter": meter,
            "floor_area_ft2": area,
            "occupants": people,
        }
        made = client.post("/units", json=body, headers=ADMIN)
        assert made.status_code == 201, made.text
        assert (made.json()["floor_area_ft2"], made.json()["occupants"]) == (area, people)
        units[name] = made.json()["id"]
    for name, unit, move_in, move_out in (
        ("Ann", "1A", "2026-06-01", None),
        ("Ben", "2B", "2026-05-01", "2026-07-11"),
        ("Dan", "3C", "2026-01-01", "2026-07-21"),
        ("Eve", "3C", "2026-07-21", None),
    ):
        tenant = client.post("/tenants", json={"name": name}, headers=ADMIN).json()["id"]
        account = client.post(
            "/accounts",
            json={"tenant_id": tenant, "site_id": birch.id, "opened": "2026-01-01"},
            headers=ADMIN,
        ).json()["id"]
        moved = client.post(
            f"/accounts/{account}/move-in", json={"unit_id": units[unit], "at": move_in}, headers=ADMIN
        )
        assert moved.status_code == 200, moved.text
        if move_out is not None:
            out = client.post(f"/accounts/{account}/move-out", json={"at": move_out}, headers=ADMIN)
            assert out.status_code == 200, out.text
    lines = ["meter,interval_end,energy_wh"]
    for serial in ("U1", "U2", "U3", "H1", "M1"):
        for k in range(N):
            stamp = START + timedelta(minutes=15 * (k + 1))
            lines.append(f"{serial},{stamp.isoformat().replace('+00:00', 'Z')},{_energy(serial, k)}")
    posted = client.post(
        "/intervals",
        content="\n".join(lines) + "\n",
        params={"vee": True},
        headers={**ADMIN, "Content-Type": "text/csv"},
    )
    assert posted.status_code == 201, posted.text
    return {"site": birch.id, "other": other.id, **units}


def tenants_share(body: dict, label: str) -> dict[str, str]:
    return {
        a["tenant"]: next(line["amount"] for line in a["lines"] if line["description"].startswith(label))
        for a in body["accounts"]
    }


def test_shares_by_area_and_by_occupants_over_http(client, store, birch) -> None:
    path = f"/sites/{birch['site']}/allocation"
    house = {**JULY, "by": "area", "what": "house", "rate": "0.25"}
    refused = client.post(path, json=house, headers=ADMIN)
    assert refused.status_code == 400
    assert "unit(s) 3C have no floor area" in refused.json()["detail"]
    changed = client.patch(
        f"/units/{birch['3C']}", json={"floor_area_ft2": 1400, "occupants": 1}, headers=ADMIN
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["floor_area_ft2"], changed.json()["occupants"]) == (1400.0, 1)
    answer = client.post(path, json=house, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    (amount,) = body["amounts"]
    assert (amount["energy_wh"], amount["amount"], amount["owner_share"]) == (
        1_234_567,
        "308.64",
        HOUSE_OWNER,
    )
    assert tenants_share(body, "Common area") == HOUSE_BY_AREA
    answer = client.post(
        path, json={**JULY, "by": "occupants", "what": "remainder", "master_total": "517.23"}, headers=ADMIN
    )
    body = answer.json()
    assert (body["master_energy_wh"], body["remainder_wh"], body["master_source"]) == (
        3_500_000,
        479_833,
        "meter M1",
    )
    assert body["amounts"][0]["owner_share"] == REMAINDER_OWNER
    assert tenants_share(body, "Unmetered remainder") == REMAINDER_BY_OCCUPANTS
    total = sum(Decimal(a["total"]) for a in body["accounts"]) + Decimal(body["owner_share"])
    assert total == Decimal(body["total"]) == Decimal("70.91")
    # nothing was stored: no bill, and the history holds the one change of 3C
    assert store.list_bills() == []
    assert [e.detail["changed"] for e in store.tenancy_history() if e.kind == "unit_updated"] == [
        {"floor_area_ft2": [None, 1400.0], "occupants": [None, 1]}
    ]


def test_each_role_and_a_site_bound_token(client, store, birch) -> None:
    store.update_unit(unit_id=birch["3C"], floor_area_ft2=1400.0, occupants=1)
    body = {**JULY, "by": "area", "what": "house", "rate": "0.25"}
    path = f"/sites/{birch['site']}/allocation"
    for role in ("admin", "operator", "billing", "read-only"):
        token = store.create_api_token(role=role, label=role)[1] if role != "admin" else None
        answer = client.post(path, json=body, headers=ADMIN if token is None else bearer(token))
        assert answer.status_code == (403 if role == "read-only" else 200), (role, answer.text)
    tenant = store.create_api_token(role="tenant", account_id=1)[1]
    assert client.post(path, json=body, headers=bearer(tenant)).status_code == 403
    patch = {"occupants": 4}
    assert client.patch(f"/units/{birch['1A']}", json=patch, headers=bearer(tenant)).status_code == 403
    bound = bearer(store.create_api_token(role="billing", site_ids=[birch["other"]])[1])
    elsewhere = client.post(path, json=body, headers=bound)
    assert elsewhere.status_code == 404
    assert "Birch" not in elsewhere.text
    own = bearer(store.create_api_token(role="billing", site_ids=[birch["site"]])[1])
    assert client.post(path, json=body, headers=own).status_code == 200
    operator = bearer(store.create_api_token(role="operator", site_ids=[birch["other"]])[1])
    assert client.patch(f"/units/{birch['1A']}", json=patch, headers=operator).status_code == 404
    assert store.get_unit(unit_id=birch["1A"]).occupants == 2


def test_bad_requests_name_every_problem_and_change_nothing(client, store, birch) -> None:
    path = f"/sites/{birch['site']}/allocation"
    answer = client.post(
        path,
        json={
            **JULY,
            "by": "shares",
            "what": "house",
            "rate": "0.25",
            "shares": {"1A": "0.25", "2B": "0.35", "4D": "0.3"},
        },
        headers=ADMIN,
    )
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert "shares name units the site does not have: 4D" in detail
    assert "shares give no share to unit(s) 3C" in detail
    assert "the shares must add up to 1 exactly, they add up to 0.90" in detail
    wiring = client.post(
        path,
        json={**JULY, "by": "occupants", "what": "remainder", "master_total": "517.23", "master_kwh": "3000"},
        headers=ADMIN,
    )
    assert wiring.status_code == 400
    assert "more than the master's 3000.000 kWh (given)" in wiring.json()["detail"]
    assert (
        client.post(path, json={**JULY, "by": "area", "master_total": "1.005"}, headers=ADMIN).status_code
        == 422
    )
    assert client.post("/sites/999/allocation", json={**JULY, "by": "area"}, headers=ADMIN).status_code == 404
    bad = client.patch(f"/units/{birch['1A']}", json={"floor_area_ft2": -1, "occupants": -2}, headers=ADMIN)
    assert bad.status_code == 422
    assert {e["loc"][-1] for e in bad.json()["errors"]} == {"floor_area_ft2", "occupants"}
    assert client.patch("/units/999", json={"occupants": 1}, headers=ADMIN).status_code == 404
    unit = store.get_unit(unit_id=birch["1A"])
    assert (unit.floor_area_ft2, unit.occupants) == (700.0, 2)
    assert not [e for e in store.tenancy_history() if e.kind == "unit_updated"]


def test_a_vacant_unit_is_the_owners_share(client, store, birch) -> None:
    """Unit 4D (500 ft², meter U4) nobody occupies: its whole share is the owner's, never another tenant's.
    Worked by hand: 30,864 cents over 3,500 ft² (weights 700, 9000/31, 1400 and the owner's 34400/31):
    1A 6,172.8, 2B 2,560.147, 3C 12,345.6, owner 9,785.453; floors 30,862, the 2 cents to 1A (.8) and 3C
    (.6): 61.73 + 25.60 + 123.46 + 97.85 = 308.64."""
    u4 = store.create_meter(
        serial="U4", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=birch["site"]
    )
    made = client.post(
        "/units",
        json={"site_id": birch["site"], "name": "4D", "meter": u4.serial, "floor_area_ft2": 500},
        headers=ADMIN,
    )
    assert made.status_code == 201, made.text
    store.update_unit(unit_id=birch["3C"], floor_area_ft2=1400.0)
    answer = client.post(
        f"/sites/{birch['site']}/allocation",
        json={**JULY, "by": "area", "what": "house", "rate": "0.25"},
        headers=ADMIN,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["vacant_units"] == ["4D"]
    (house,) = body["amounts"]
    assert {u["unit"]: u["share"] for u in house["units"]} == {
        "1A": "61.73",
        "2B": "25.60",
        "3C": "123.46",
        "4D": "0.00",
    }
    assert house["owner_share"] == body["owner_share"] == "97.85"
    assert "4D" not in {a["unit"] for a in body["accounts"]}
