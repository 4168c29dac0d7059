"""Bearer tokens and roles: 401 without a valid token, 403 for a role not allowed, on every route."""

from __future__ import annotations

import pytest

from meshmeter.api import ROUTE_ROLES
from meshmeter.api.problems import PROBLEM_JSON
from tests.api.conftest import ADMIN, bearer

# A request for each entry of ROUTE_ROLES that succeeds for an allowed role (with site_data).
REQUESTS: dict[tuple[str, str], tuple[str, dict[str, object]]] = {
    ("GET", "/sites"): ("/sites", {}),
    ("GET", "/sites/{site_id}"): ("/sites/1", {}),
    ("GET", "/meters"): ("/meters", {}),
    ("GET", "/meters/{serial}"): ("/meters/M1", {}),
    ("GET", "/meters/{serial}/intervals"): (
        "/meters/M1/intervals",
        {"params": {"start": "2024-03-01T08:00Z", "end": "2024-03-01T09:00Z"}},
    ),
    ("GET", "/meters/{serial}/register-reads"): ("/meters/M1/register-reads", {}),
    ("GET", "/tenants"): ("/tenants", {}),
    ("GET", "/tenants/{tenant_id}"): ("/tenants/1", {}),
    ("GET", "/accounts"): ("/accounts", {"params": {"meter": "M1"}}),
    ("POST", "/meters/{serial}/intervals"): (
        "/meters/M1/intervals",
        {"json": {"intervals": [{"interval_end": "2024-03-05T00:00:00Z", "energy_wh": 5}]}},
    ),
    ("POST", "/intervals"): (
        "/intervals",
        {"json": [{"meter": "M2", "intervals": [{"interval_end": "2024-03-05T00:00:00Z", "energy_wh": 5}]}]},
    ),
    ("GET", "/events"): ("/events", {}),
    ("GET", "/alerts"): ("/alerts", {}),
    ("GET", "/network/health"): ("/network/health", {}),
    ("GET", "/energy/daily"): (
        "/energy/daily",
        {"params": {"site_id": 1, "start": "2024-03-01", "end": "2024-03-04"}},
    ),
    ("GET", "/energy/monthly"): (
        "/energy/monthly",
        {"params": {"site_id": 1, "start": "2024-03-01", "end": "2024-04-01"}},
    ),
    ("GET", "/energy/load-profile"): (
        "/energy/load-profile",
        {"params": {"site_id": 1, "start": "2024-03-01", "end": "2024-03-04"}},
    ),
    ("GET", "/energy/top-consumers"): (
        "/energy/top-consumers",
        {"params": {"site_id": 1, "start": "2024-03-01", "end": "2024-03-04"}},
    ),
    ("GET", "/energy/comparison"): (
        "/energy/comparison",
        {"params": {"site_id": 1, "start": "2024-03-02", "end": "2024-03-04"}},
    ),
    ("GET", "/bills"): ("/bills", {}),
    ("GET", "/bills/{bill_id}"): ("/bills/1", {"params": {"format": "csv"}}),
    ("GET", "/meters/{serial}/production"): ("/meters/M1/production", {"params": {"month": "2024-03"}}),
    ("GET", "/tokens"): ("/tokens", {}),
    ("POST", "/tokens"): ("/tokens", {"json": {"role": "read-only"}}),
    ("DELETE", "/tokens/{token_id}"): ("/tokens/1", {}),
    ("GET", "/dashboard"): ("/dashboard", {}),
    ("GET", "/dashboard/network"): ("/dashboard/network", {}),
    ("GET", "/dashboard/meters/{serial}"): ("/dashboard/meters/M1", {}),
    ("GET", "/dashboard/vee"): ("/dashboard/vee", {}),
    ("GET", "/dashboard/bills"): ("/dashboard/bills", {}),
}


@pytest.fixture
def site_data(site_data, store):
    """The shared site data, and bill 1 of its meter M1 (for ``GET /bills/{bill_id}``)."""
    from tests.api.test_bills import make_bill

    store.save_bill(document=make_bill().to_dict(), site_id=site_data["la"], meter_id=site_data["m1"])
    return site_data


def test_every_route_has_a_request_here():
    assert set(REQUESTS) == set(ROUTE_ROLES)


def _assert_problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    return body


@pytest.mark.parametrize("key", sorted(ROUTE_ROLES))
def test_roles_on_every_route(client, tokens, site_data, key):
    path, kwargs = REQUESTS[key]
    for role, token in tokens.items():
        response = client.request(key[0], path, headers=bearer(token), **kwargs)
        if role in ROUTE_ROLES[key]:
            assert response.status_code in (200, 201), (role, response.text)
        else:
            body = _assert_problem(response, 403)
            assert repr(role) in body["detail"]


@pytest.mark.parametrize("key", sorted(ROUTE_ROLES))
def test_no_token_is_401_on_every_route(client, site_data, key):
    path, kwargs = REQUESTS[key]
    response = client.request(key[0], path, **kwargs)
    body = _assert_problem(response, 401)
    assert body["instance"] == path
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "mm_abc", "Bearer mm_not-a-token", f"Token {'a' * 40}"],
)
def test_bad_authorization_is_401(client, header):
    _assert_problem(client.get("/sites", headers={"Authorization": header}), 401)


def test_bootstrap_admin_token_is_admin(client):
    assert client.get("/tokens", headers=ADMIN).status_code == 200


def test_revoked_token_is_401(client, store, tokens):
    token = tokens["read-only"]
    assert client.get("/sites", headers=bearer(token)).status_code == 200
    stored = store.find_api_token(token=token)
    store.revoke_api_token(token_id=stored.id)
    _assert_problem(client.get("/sites", headers=bearer(token)), 401)


def test_auth_is_checked_before_the_parameters(client):
    # No token and a bad parameter: 401, not 422 (nothing is said to a caller who is not known).
    response = client.get("/meters/M1/intervals", params={"resolution": "weekly"})
    _assert_problem(response, 401)


def test_a_route_without_roles_is_refused_at_start():
    """check_route_table refuses an app with a route missing from ROUTE_ROLES, though it skips tables it
    has checked already (the OpenAPI document it builds is costly)."""
    from meshmeter.api import Settings, create_app
    from meshmeter.api.auth import check_route_table
    from meshmeter.store import Store

    app = create_app(Store("sqlite:///:memory:"), Settings(environment="development"))
    check_route_table(app)  # the app's own table: checked, and agreeing

    @app.get("/not-in-the-table")
    def extra() -> dict[str, str]:
        return {}

    with pytest.raises(
        RuntimeError, match=r"routes without an entry in ROUTE_ROLES: \[\('GET', '/not-in-the-table'\)\]"
    ):
        check_route_table(app)
