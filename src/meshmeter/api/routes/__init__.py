"""The API's routes, one module per resource; :data:`api_router` gathers them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from meshmeter.api.models import ProblemDetails
from meshmeter.api.problems import PROBLEM_JSON

__all__ = ["api_router", "problems"]

_WHY = {
    400: "Bad request: a parameter's value is wrong (a date, a time zone, end before start ...)",
    401: "No valid bearer token",
    403: "The token's role may not do this",
    404: "Not found",
    413: "The body is too large",
    415: "The body's content type is not one the route takes",
    422: "The request does not have the required form",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error statuses, each a problem document; 401, 403, 422 always."""
    wanted = sorted({401, 403, 422, *codes})
    return {
        code: {"model": ProblemDetails, "description": _WHY[code], "content": {PROBLEM_JSON: {}}}
        for code in wanted
    }


def _router() -> APIRouter:
    from meshmeter.api.limits import GuardedRoute
    from meshmeter.api.routes import (
        alerts,
        bills,
        dashboard,
        energy,
        events,
        ingest,
        meters,
        network,
        production,
        sites,
        tenants,
        tokens,
    )

    router = APIRouter(route_class=GuardedRoute)
    modules = (sites, meters, tenants, ingest, events, alerts, network, energy, bills, production, tokens)
    for module in (*modules, dashboard):
        router.include_router(module.router)
    return router


api_router = _router()
