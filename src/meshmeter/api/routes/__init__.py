"""The API's routes, one module per resource; :data:`api_router` gathers them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from meshmeter.api.models import ProblemDetails
from meshmeter.api.problems import PROBLEM_JSON

__all__ = ["ALWAYS", "api_router", "problems"]

_WHY = {
    400: "Bad request: a value is wrong (a date, a time zone, end before start ...), or a body is not "
    "JSON at all",
    401: "No valid bearer token",
    403: "The token's role may not do this",
    404: "Not found",
    409: "Refused by the stored state: an occupied unit, a closed account, a move-out before the move-in ...",
    413: "The body is too large: larger than the route takes (none, but for the routes that take one)",
    415: "The body's content type is not one the route takes",
    422: "The request does not have the required form",
    429: "Too many failed authentications from this address: try again after Retry-After seconds",
}

_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": 'Bearer realm="meshmeter"', "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "seconds to wait [s]", "schema": {"type": "integer", "minimum": 1}}},
}

ALWAYS = frozenset({401, 403, 413, 422, 429})
"""What every API route may answer: before its handler runs, the route class (``GuardedRoute``) refuses a
caller without a valid token (401), with a role not allowed (403), from an address that failed too often
(429), or a body larger than the route takes (413); then its parameters are checked (422)."""


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error statuses, each a problem document; those of :data:`ALWAYS` always."""
    wanted = sorted(ALWAYS | set(codes))
    out: dict[int | str, dict[str, Any]] = {}
    for code in wanted:
        out[code] = {"model": ProblemDetails, "description": _WHY[code], "content": {PROBLEM_JSON: {}}}
        if code in _HEADERS:
            out[code]["headers"] = _HEADERS[code]
    return out


def _router() -> APIRouter:
    from meshmeter.api.limits import GuardedRoute
    from meshmeter.api.routes import (
        account_bills,
        account_tariffs,
        alerts,
        allocation,
        bills,
        dashboard,
        energy,
        events,
        ingest,
        meters,
        network,
        production,
        reconcile,
        sites,
        sources,
        tenants,
        tokens,
        vee,
    )

    router = APIRouter(route_class=GuardedRoute)
    modules = (
        sites,
        meters,
        tenants,
        ingest,
        events,
        alerts,
        network,
        energy,
        bills,
        production,
        allocation,
        reconcile,
        sources,
        account_bills,
        account_tariffs,
        tokens,
        vee,
    )
    for module in (*modules, dashboard):
        router.include_router(module.router)
    return router


api_router = _router()
