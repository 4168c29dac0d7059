"""``GET`` and ``PUT /accounts/{account_id}/tariff`` (issue 15: an account's own tariff), as a billing service
or the operator's script calls them: the URDB document as published (PG&E E-1 Residential, Baseline Region T,
``tests/data/urdb/pge-e-1-region-t.json``, source in ``tests/data/urdb/SOURCES.md``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from meshmeter.store import Store
from tests.api.conftest import ADMIN, TestClient, bearer

PGE_E1: Any = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "urdb" / "pge-e-1-region-t.json").read_text()
)


def _tess(store: Store) -> int:
    (account,) = [a for a in store.accounts() if a.tenant_id is not None]
    return account.id


def test_put_then_get_the_account_tariff(client: TestClient, store: Store, site_data, tokens) -> None:
    account_id = _tess(store)
    assert client.get(f"/accounts/{account_id}/tariff", headers=ADMIN).status_code == 404  # none yet
    put = client.put(
        f"/accounts/{account_id}/tariff", json={"tariff": PGE_E1, "effective": "2024-03-11"}, headers=ADMIN
    )
    assert put.status_code == 200, put.text
    got = client.get(f"/accounts/{account_id}/tariff", headers=bearer(tokens["billing"]))
    assert got.status_code == 200, got.text
    body = got.json()
    assert body == put.json()
    assert len(body["history"]) == 1
    setting = body["history"][0]
    assert setting["effective_from"].startswith("2024-03-11T07:00:00")  # local midnight, Los Angeles (PDT)
    assert len(setting["sha256"]) == 64
    assert setting["set_by"]
    # a second setting is kept beside the first, never over it
    again = client.put(
        f"/accounts/{account_id}/tariff", json={"example": "tiered-flat-example"}, headers=ADMIN
    )
    assert again.status_code == 200, again.text
    assert len(again.json()["history"]) == 2


def test_a_bad_setting_names_every_problem_and_stores_nothing(
    client: TestClient, store: Store, site_data
) -> None:
    account_id = _tess(store)
    answer = client.put(
        f"/accounts/{account_id}/tariff",
        json={"tariff": PGE_E1, "label": "nope", "effective": "July"},
        headers=ADMIN,
    )
    assert answer.status_code == 400, answer.text
    said = json.dumps(answer.json())
    assert "nope" in said
    assert "July" in said
    assert store.account_tariffs(account_id=account_id) == []
    missing = client.put("/accounts/999/tariff", json={"example": "tiered-flat-example"}, headers=ADMIN)
    assert missing.status_code == 404
