"""``GET /sites/{site_id}/reconciliation`` (issue 14): Birch Court of ``tests/headend/test_reconcile.py``
(the figures worked by hand there) reconciled over HTTP by each role, on SQLite and PostgreSQL; a GET
raises no alert and stores nothing."""

from __future__ import annotations

import numpy as np
import pytest

from meshmeter.store import Store
from tests.api.conftest import ADMIN, TestClient, bearer
from tests.headend.test_reconcile import DAY_REMAINDERS, LA, Q, add_meter, build_birch

PERIOD = {"start": "2026-07-01", "end": "2026-07-11"}


@pytest.fixture
def birch(store: Store) -> dict[str, int]:
    ids = build_birch(store)
    ids["other"] = store.create_site(name="Elm House", timezone="America/New_York").id
    return ids


def _get(client: TestClient, site_id: int, headers: dict[str, str], **params: str):
    return client.get(f"/sites/{site_id}/reconciliation", params=params, headers=headers)


def test_days_intervals_and_months(client, store, birch) -> None:
    response = _get(client, birch["site"], ADMIN, **PERIOD)
    assert response.status_code == 200, response.text
    data = response.json()
    assert [r["remainder_wh"] for r in data["rows"]] == DAY_REMAINDERS
    day5 = data["rows"][4]
    # 5 July: 96,000 - 96,000 - 19,200 = -19,200 Wh, beyond the tolerance of 1,442 Wh
    assert (day5["master_wh"], day5["units_wh"], day5["house_wh"]) == (96_000, 96_000, 19_200)
    assert (day5["tolerance_wh"], day5["excess"], day5["metered_share"]) == (1_442, True, 1.2)
    day3 = data["rows"][2]
    assert (day3["reconciled"], day3["submeters_missing"], day3["remainder_wh"]) == (84, 12, 8_400)
    assert data["total"]["remainder_wh"] == 79_440
    assert data["excess_days"] == ["2026-07-05"]
    assert [(j["day"], j["median_wh"], j["threshold_wh"]) for j in data["jumps"]] == [
        ("2026-07-09", 9600.0, 28800.0)
    ]
    assert data["alerts"] == []
    assert store.events() == []  # a GET raises nothing
    assert store.outbox_pending() == 0
    hours = _get(
        client, birch["site"], ADMIN, start="2026-07-09T00:00", end="2026-07-09T00:30", by="interval"
    ).json()
    # 9 July, local: 1250 - 300 - 400 - 200 = 350 Wh a quarter-hour
    assert [(r["start"], r["remainder_wh"]) for r in hours["rows"]] == [
        ("2026-07-09T07:00:00Z", 350),
        ("2026-07-09T07:15:00Z", 350),
    ]
    month = _get(client, birch["site"], ADMIN, **PERIOD, by="month").json()
    assert [r["remainder_wh"] for r in month["rows"]] == [79_440]


def test_each_role_and_a_site_bound_token(client, store, birch) -> None:
    tenant = store.create_api_token(role="tenant", account_id=store.open_account(
        tenant_id=store.create_tenant(name="Tess").id, site_id=birch["site"]
    ).id)[1]  # fmt: skip
    for role, status in (("admin", 200), ("operator", 200), ("billing", 403), ("read-only", 403)):
        token = store.create_api_token(role=role)[1] if role != "admin" else None
        headers = ADMIN if token is None else bearer(token)
        assert _get(client, birch["site"], headers, **PERIOD).status_code == status, role
    assert _get(client, birch["site"], bearer(tenant), **PERIOD).status_code == 403
    assert _get(client, birch["site"], {}, **PERIOD).status_code == 401
    elsewhere = bearer(store.create_api_token(role="operator", site_ids=[birch["other"]])[1])
    response = _get(client, birch["site"], elsewhere, **PERIOD)
    assert response.status_code == 404  # as if it did not exist
    assert "Birch" not in response.text
    own = bearer(store.create_api_token(role="operator", site_ids=[birch["site"]])[1])
    assert _get(client, birch["site"], own, **PERIOD).json()["total"]["remainder_wh"] == 79_440


def test_bad_requests(client, store, birch) -> None:
    site = birch["site"]
    cases = [
        (9999, PERIOD, 404, "no site has id 9999"),
        (site, {"start": "2026-07-05", "end": "2026-07-01"}, 400, "end must be after start"),
        (site, {"start": "July", "end": "2026-07-11"}, 400, "start must be an ISO 8601 date"),
        (site, {**PERIOD, "by": "week"}, 422, "by"),
        (
            site,
            {"start": "2026-07-01T00:05", "end": "2026-07-02"},
            400,
            "start must be on the 15-minute grid",
        ),
        (site, {"start": "2020-01-01", "end": "2026-07-01"}, 400, "at most 1116 days"),
        (site, {"start": "2025-06-01", "end": "2026-07-01", "by": "interval"}, 400, "at most 372 days"),
    ]
    for site_id, params, status, words in cases:
        response = _get(client, site_id, ADMIN, **params)
        assert response.status_code == status, (params, response.text)
        assert words in response.text, (params, response.text)
    bare = store.create_site(name="No Master", timezone=LA)
    add_meter(store, bare.id, "NU", "unit", np.full(Q, 100, dtype=np.int64))
    response = _get(client, bare.id, ADMIN, **PERIOD)
    assert response.status_code == 400
    assert "site 'No Master' has no master meter" in response.json()["detail"]
    store.create_meter(
        serial="M-BIS", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site, role="master"
    )
    response = _get(client, site, ADMIN, **PERIOD)
    assert response.status_code == 400
    assert "site 'Birch Court' has 2 master meters (M, M-BIS)" in response.json()["detail"]
    assert store.events() == []
