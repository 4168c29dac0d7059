"""Sites, meters, register reads, events; 404 and 400 as problem documents."""

from __future__ import annotations

import pytest

from meshmeter.api.problems import PROBLEM_JSON
from tests.api.conftest import ADMIN, bearer


def _problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    return response.json()


def test_sites(client, site_data):
    body = client.get("/sites", headers=ADMIN).json()
    assert body["count"] == 2
    assert [s["name"] for s in body["data"]] == ["Oak Court", "Elm House"]
    one = client.get(f"/sites/{site_data['ny']}", headers=ADMIN).json()
    assert one == {"id": site_data["ny"], "name": "Elm House", "timezone": "America/New_York"}


@pytest.mark.parametrize("site_id", ["999", "0", "-1"])
def test_unknown_site_is_404(client, site_data, site_id):
    body = _problem(client.get(f"/sites/{site_id}", headers=ADMIN), 404)
    assert body["detail"] == f"no site has id {site_id}"
    assert body["instance"] == f"/sites/{site_id}"


def test_site_id_not_a_number_is_422(client):
    body = _problem(client.get("/sites/abc", headers=ADMIN), 422)
    assert body["errors"][0]["loc"] == ["path", "site_id"]


def test_meters_and_filter_by_site(client, site_data):
    body = client.get("/meters", headers=ADMIN).json()
    assert [m["serial"] for m in body["data"]] == ["M1", "M2", "M3"]
    assert body["count"] == 3
    la = client.get("/meters", params={"site_id": site_data["la"]}, headers=ADMIN).json()
    assert [m["serial"] for m in la["data"]] == ["M1", "M2"]
    _problem(client.get("/meters", params={"site_id": 999}, headers=ADMIN), 404)


def test_meter(client, site_data):
    body = client.get("/meters/M1", headers=ADMIN).json()
    assert body == {
        "id": site_data["m1"],
        "serial": "M1",
        "designation": "MM-1",
        "ct_ratio": 2000.0,
        "multiplier": 1.0,
        "install_date": "2024-01-02",
        "site_id": site_data["la"],
        "export_of_meter_id": None,
        "interval_s": 900,
        "role": "unit",
        "register_digits": None,
        "manufacturer": None,
        "model": None,
        "elements": None,
        "voltage_max_v": None,
        "current_max_a": None,
        # "MM-1" is no Mini Meter designation: the default dual element meter on 200:0.1 A CTs,
        # 2 x 138 V x 220 A x 0.25 h = 15,180 Wh (catalog.limits)
        "max_interval_energy_wh": 15180,
        "rating_source": "default",
    }
    assert _problem(client.get("/meters/NOPE", headers=ADMIN), 404)["detail"] == "no meter has serial 'NOPE'"


def test_register_reads(client, site_data, tokens):
    body = client.get("/meters/M1/register-reads", headers=bearer(tokens["billing"])).json()
    assert body["meter"] == "M1"
    assert body["count"] == 2
    assert body["data"][1] == {"read_at": "2024-03-02T08:00:00Z", "energy_wh": 9600}
    later = client.get(
        "/meters/M1/register-reads", params={"start": "2024-03-01T08:00:00Z"}, headers=ADMIN
    ).json()
    assert later["count"] == 1  # start < read_at


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"start": "yesterday"}, 400),
        ({"start": "2024-03-02", "end": "2024-03-01"}, 400),
        ({"end": "2024-13-01"}, 400),
    ],
)
def test_register_reads_bad_input(client, site_data, params, status):
    _problem(client.get("/meters/M1/register-reads", params=params, headers=ADMIN), status)


def test_register_reads_unknown_meter(client, site_data):
    _problem(client.get("/meters/NOPE/register-reads", headers=ADMIN), 404)


def test_events_and_filters(client, site_data, tokens):
    body = client.get("/events", headers=bearer(tokens["operator"])).json()
    assert body["count"] == 2
    tamper, battery = body["data"]
    assert tamper["kind"] == "tamper"
    assert tamper["meter"] == "M1"
    assert tamper["meter_id"] == site_data["m1"]
    assert tamper["detail"] == {"switch": "open"}
    assert tamper["at"] == "2024-03-01T09:00:00Z"
    assert battery["eui64"] == "0001020304050607"
    assert battery["meter"] is None
    assert client.get("/events", params={"meter": "M1"}, headers=ADMIN).json()["count"] == 1
    assert client.get("/events", params={"kind": "low_battery"}, headers=ADMIN).json()["count"] == 1
    window = {"start": "2024-03-01T09:00:00Z", "end": "2024-03-01T10:00:00Z"}
    assert [e["kind"] for e in client.get("/events", params=window, headers=ADMIN).json()["data"]] == [
        "low_battery"
    ]
    _problem(client.get("/events", params={"meter": "NOPE"}, headers=ADMIN), 404)
    _problem(client.get("/events", params={"start": "soon"}, headers=ADMIN), 400)
    _problem(client.get("/events", params={"start": "2024-03-02", "end": "2024-03-01"}, headers=ADMIN), 400)


def test_unknown_path_is_a_problem(client):
    assert _problem(client.get("/nowhere", headers=ADMIN), 404)["instance"] == "/nowhere"


def test_method_not_allowed_is_a_problem(client):
    _problem(client.post("/sites", headers=ADMIN), 405)


def test_tenants_and_accounts(client, store, site_data):
    from datetime import UTC, datetime

    body = client.get("/tenants", headers=ADMIN).json()
    assert body == {"data": [{"id": site_data["tess"], "name": "Tess"}], "count": 1}
    assert client.get(f"/tenants/{site_data['tess']}", headers=ADMIN).json()["name"] == "Tess"
    ada = store.create_tenant(name="Ada")
    moved_in = datetime(2024, 1, 1, 8, tzinfo=UTC)
    closed = store.create_account(tenant_id=ada.id, meter_id=site_data["m1"], unit="1A", move_in=moved_in)
    store.close_account(account_id=closed.id, move_out=datetime(2024, 2, 1, 8, tzinfo=UTC))
    every = client.get("/accounts", headers=ADMIN).json()
    # by id: an account, its number in its site, and its occupancies with their unit and meter
    assert [
        (a["tenant"], a["number"], [(o["meter"], o["unit"]) for o in a["occupancies"]]) for a in every["data"]
    ] == [("Tess", "1001", [("M2", "2A")]), ("Ada", "1002", [("M1", "1A")])]
    assert every["data"][1]["occupancies"][0]["move_out"] == "2024-02-01T08:00:00Z"
    assert every["data"][1]["closed_at"] == "2024-02-01T08:00:00Z"
    assert every["data"][0]["occupancies"][0]["move_out"] is None
    assert every["data"][0]["closed_at"] is None
    of_m2 = client.get("/accounts", params={"meter": "M2"}, headers=ADMIN).json()
    assert [a["tenant_id"] for a in of_m2["data"]] == [site_data["tess"]]
    of_ada = client.get("/accounts", params={"tenant_id": ada.id, "meter": "M2"}, headers=ADMIN).json()
    assert of_ada == {"data": [], "count": 0}


@pytest.mark.parametrize(
    ("path", "params", "detail"),
    [
        ("/tenants/999", {}, "no tenant has id 999"),
        ("/tenants/0", {}, "no tenant has id 0"),
        ("/accounts", {"meter": "NOPE"}, "no meter has serial 'NOPE'"),
        ("/accounts", {"tenant_id": 999}, "no tenant has id 999"),
    ],
)
def test_unknown_tenant_or_meter_is_404(client, site_data, path, params, detail):
    assert _problem(client.get(path, params=params, headers=ADMIN), 404)["detail"] == detail


def test_read_only_may_not_see_tenants(client, site_data, tokens):
    assert _problem(client.get("/tenants", headers=bearer(tokens["read-only"])), 403)
    assert client.get("/accounts", headers=bearer(tokens["billing"])).status_code == 200
