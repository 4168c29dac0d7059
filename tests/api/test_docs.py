"""Every route is documented: a summary, a description, an entry in ROUTE_ROLES, a line in docs/api.md."""

from __future__ import annotations

from pathlib import Path

from meshmeter.api import ROUTE_ROLES
from meshmeter.api.auth import iter_api_routes, route_key

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _api_routes(client):
    return list(iter_api_routes(client.app.routes))


def test_every_route_has_summary_description_and_roles(client):
    routes = _api_routes(client)
    assert routes
    keys = []
    for route in routes:
        assert route.summary, route.path
        assert route.description, route.path
        assert route.description.strip(), route.path
        for key in route_key(route):
            assert key in ROUTE_ROLES, key
            assert ROUTE_ROLES[key], key
            keys.append(key)
    assert sorted(keys) == sorted(ROUTE_ROLES), "ROUTE_ROLES has entries for routes that do not exist"


def test_every_route_is_in_docs_api_md(client):
    text = DOCS.read_text(encoding="utf-8")
    for route in _api_routes(client):
        for method, path in route_key(route):
            assert f"`{method} {path}`" in text, f"{method} {path} is not in docs/api.md"


def test_openapi_document_is_served_and_complete(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    for method, path in ROUTE_ROLES:
        operation = document["paths"][path][method.lower()]
        assert operation["summary"]
        assert "401" in operation["responses"]
        assert "application/problem+json" in operation["responses"]["403"]["content"]
    intervals = document["paths"]["/meters/{serial}/intervals"]["get"]
    assert "text/csv" in intervals["responses"]["200"]["content"]
