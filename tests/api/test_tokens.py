"""API tokens through the API: made by an admin, shown once, listed without the secret, revoked."""

from __future__ import annotations

from meshmeter.api.problems import PROBLEM_JSON
from tests.api.conftest import ADMIN, bearer


def test_create_use_list_revoke(client):
    made = client.post("/tokens", json={"role": "billing", "label": "billing service"}, headers=ADMIN)
    assert made.status_code == 201, made.text
    body = made.json()
    token = body["token"]
    assert token.startswith("mm_")
    assert token.startswith(body["prefix"])
    assert body["role"] == "billing"
    assert body["active"] is True
    assert body["revoked_at"] is None

    assert client.get("/meters", headers=bearer(token)).status_code == 200
    assert client.get("/events", headers=bearer(token)).status_code == 403

    listed = client.get("/tokens", headers=ADMIN)
    assert token not in listed.text
    assert listed.json()["count"] == 1
    assert listed.json()["data"][0]["label"] == "billing service"

    revoked = client.delete(f"/tokens/{body['id']}", headers=ADMIN)
    assert revoked.status_code == 200
    assert revoked.json()["active"] is False
    first = revoked.json()["revoked_at"]
    assert client.delete(f"/tokens/{body['id']}", headers=ADMIN).json()["revoked_at"] == first
    assert client.get("/meters", headers=bearer(token)).status_code == 401
    assert client.get("/tokens", params={"include_revoked": False}, headers=ADMIN).json()["count"] == 0


def test_revoke_unknown_token_is_404(client):
    response = client.delete("/tokens/999", headers=ADMIN)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON


def test_bad_role_or_body_is_422(client):
    for body in ({"role": "root"}, {}, {"role": "admin", "extra": 1}, {"role": "admin", "label": ""}):
        response = client.post("/tokens", json=body, headers=ADMIN)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["errors"]
    response = client.post(
        "/tokens", content=b"{not json", headers={**ADMIN, "content-type": "application/json"}
    )
    assert response.status_code == 422


def test_a_made_admin_token_can_make_tokens(client):
    admin = client.post("/tokens", json={"role": "admin"}, headers=ADMIN).json()["token"]
    made = client.post("/tokens", json={"role": "operator"}, headers=bearer(admin))
    assert made.status_code == 201
    operator = made.json()["token"]
    assert client.post("/tokens", json={"role": "admin"}, headers=bearer(operator)).status_code == 403
