"""What a request may be before the API reads it: its caller first, then the size of its body, then ids.

FastAPI reads and parses a route's body (``await request.body()``, JSON decoding, the body model) *before*
it solves the route's dependencies, so a dependency such as :func:`~meshmeter.api.auth.authorize` alone
lets an unknown caller make the server read, and parse, any body it sends. :class:`GuardedRoute`, the
route class of every API route, runs before that:

1. :func:`~meshmeter.api.auth.authorize` (401 without a valid token, 403 for a role not allowed), with
   nothing of the body read;
2. the body's size against :func:`body_limit` of the route: ``Content-Length`` checked up front, and the
   body counted as it streams (a chunked body has no length) and cut off with 413 as soon as it passes
   the limit;
3. the route's own handler (body parsing, dependencies, parameters).

Ids (:data:`meshmeter.api.deps.StoreId`) are bounded by the store's 64-bit keys: one outside
1 .. 2**63 - 1 can name nothing stored, and is answered 404 ``no <thing> has id <n>``
(:func:`install_limits`), as an unknown id is, without asking the database (which refuses such a number:
a 500 before).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message

from meshmeter.api.auth import authorize, iter_api_routes
from meshmeter.api.deps import ID_OUT_OF_RANGE
from meshmeter.api.problems import Problem

__all__ = [
    "ALLOCATION_MAX_BODY_BYTES",
    "BODY_LIMITS",
    "INGEST_MAX_BODY_BYTES",
    "SMALL_JSON_BYTES",
    "SOURCE_MAX_BODY_BYTES",
    "TARIFF_MAX_BODY_BYTES",
    "GuardedRoute",
    "body_limit",
    "check_guarded",
    "install_limits",
]

INGEST_MAX_BODY_BYTES = 64 * 1024 * 1024
"""The largest body of intervals sent: 64 MiB, about 900 000 CSV rows. [byte]"""

SMALL_JSON_BYTES = 4 * 1024
"""The largest body of a small JSON route (``POST /tokens``: a role and a label of 200 characters). [byte]"""

ALLOCATION_MAX_BODY_BYTES = 256 * 1024
"""The largest body of an allocation: its fixed shares, some 5 000 units' names and shares. [byte]"""

TARIFF_MAX_BODY_BYTES = 1024 * 1024
"""The largest body carrying a URDB tariff document (``POST /accounts/{account_id}/bills``): a rate of
the URDB API with its schedules is some tens of kB; a document of several rates, some hundreds. [byte]"""

SOURCE_MAX_BODY_BYTES = 64 * 1024
"""The largest body of a source of real readings: its settings and up to 256 channels. [byte]"""

BODY_LIMITS: dict[tuple[str, str], int] = {
    ("POST", "/tokens"): SMALL_JSON_BYTES,
    ("POST", "/tenants"): SMALL_JSON_BYTES,
    ("POST", "/units"): SMALL_JSON_BYTES,
    ("PATCH", "/units/{unit_id}"): SMALL_JSON_BYTES,
    ("POST", "/sites/{site_id}/allocation"): ALLOCATION_MAX_BODY_BYTES,
    ("POST", "/accounts/{account_id}/bills"): TARIFF_MAX_BODY_BYTES,
    ("POST", "/accounts"): SMALL_JSON_BYTES,
    ("POST", "/bills/{bill_id}/corrections"): SMALL_JSON_BYTES,
    ("POST", "/accounts/{account_id}/move-in"): SMALL_JSON_BYTES,
    ("POST", "/accounts/{account_id}/move-out"): SMALL_JSON_BYTES,
    ("POST", "/accounts/{account_id}/transfer"): SMALL_JSON_BYTES,
    ("POST", "/accounts/{account_id}/close"): SMALL_JSON_BYTES,
    ("POST", "/intervals"): INGEST_MAX_BODY_BYTES,
    ("POST", "/meters/{serial}/intervals"): INGEST_MAX_BODY_BYTES,
    ("POST", "/meters"): SMALL_JSON_BYTES,
    ("POST", "/meters/{serial}/exchange"): SMALL_JSON_BYTES,
    ("POST", "/meters/{serial}/install"): SMALL_JSON_BYTES,
    ("POST", "/meters/{serial}/remove"): SMALL_JSON_BYTES,
    ("POST", "/meters/{serial}/multiplier"): SMALL_JSON_BYTES,
    ("POST", "/meters/{serial}/ct-ratio"): SMALL_JSON_BYTES,
    ("POST", "/sites/{site_id}/sources"): SOURCE_MAX_BODY_BYTES,
    ("POST", "/sites/{site_id}/vee/worklist/actions"): SMALL_JSON_BYTES,
    ("POST", "/dashboard/vee"): SMALL_JSON_BYTES,
    ("POST", "/dashboard/meters"): SMALL_JSON_BYTES,
    ("POST", "/dashboard/meters/{serial}"): SMALL_JSON_BYTES,
    ("POST", "/dashboard/sources"): SOURCE_MAX_BODY_BYTES,
    ("POST", "/dashboard/tenants"): SMALL_JSON_BYTES,
    ("POST", "/dashboard/tariffs"): TARIFF_MAX_BODY_BYTES,
    ("PUT", "/accounts/{account_id}/tariff"): TARIFF_MAX_BODY_BYTES,
    ("PATCH", "/sources/{source_id}"): SOURCE_MAX_BODY_BYTES,
    ("POST", "/sources/{source_id}/channels"): SMALL_JSON_BYTES,
}
"""(method, path template) → the largest body the route takes [byte]; a route not listed takes none."""

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def body_limit(method: str, path: str) -> int:
    """The largest body ``method path`` takes [byte]: its entry of :data:`BODY_LIMITS`, else 0."""
    return BODY_LIMITS.get((method, path), 0)


def _too_large(size: str | int, limit: int) -> Problem:
    return Problem(413, f"the body is {size} bytes, more than the {limit} this route takes")


def _limited(request: Request, limit: int) -> Request:
    """
    The request with a body of at most ``limit`` bytes: 413 when ``Content-Length`` says more, else a
    request whose body is counted as it is received and cut off with 413 past the limit.
    """
    length = request.headers.get("content-length")
    if length is not None:
        length = length.strip()
        if not length.isdigit():
            raise Problem(400, f"Content-Length must be a number of bytes, got {length[:40]!r}")
        if len(length) > 19 or int(length) > limit:
            raise _too_large(length if len(length) <= 40 else f"{length[:20]}...", limit)
    receive = request.receive
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _too_large(f"more than {seen}", limit)
        return message

    return Request(request.scope, counted)


class GuardedRoute(APIRoute):
    """
    An API route that authorizes the caller, then bounds the body, before its handler reads anything.

    The principal found is kept in ``request.state.principal``, which the dependency
    :func:`meshmeter.api.deps.current_principal` gives the route (no second look-up of the token).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        path = self.path

        async def guarded(request: Request) -> Response:
            request.state.principal = await run_in_threadpool(authorize, request)
            return await handler(_limited(request, body_limit(request.method, path)))

        return guarded


def check_guarded(app: FastAPI) -> None:
    """Refuse an app with an API route that is not a :class:`GuardedRoute` (it would parse unknown
    callers' bodies) or that takes a body without an entry in :data:`BODY_LIMITS`."""
    for route in iter_api_routes(app.routes):
        if not isinstance(route, GuardedRoute):
            raise RuntimeError(f"route {route.path} is not a GuardedRoute (APIRouter(route_class=...))")
        for method in route.methods or ():
            if method in _BODY_METHODS and (method, route.path) not in BODY_LIMITS:
                raise RuntimeError(
                    f"route {method} {route.path} takes a body but has no entry in BODY_LIMITS"
                )


# --- ids (:data:`meshmeter.api.deps.StoreId`) -------------------------------------------------------

_NOUNS = {"token_id": "API token"}
"""How the 404 names the thing of an id parameter, where it is not the parameter without ``_id``."""


def _shown(value: object) -> str:
    text = str(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} digits)"


def install_limits(app: FastAPI) -> None:
    """
    Answer an id out of range (:data:`StoreId`) with 404 through the app's HTTP error handler (a problem
    document, or the dashboard's page for a browser); every other validation error as before.
    """
    previous = app.exception_handlers[RequestValidationError]

    async def _validation(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, RequestValidationError)
        for error in exc.errors():
            if error.get("type") == ID_OUT_OF_RANGE:
                loc = error.get("loc", ("", "id"))
                name = str(next((part for part in reversed(loc) if isinstance(part, str)), "id"))
                noun = _NOUNS.get(name, name.removesuffix("_ids").removesuffix("_id").replace("_", " "))
                value = error.get("ctx", {}).get("id", error.get("input"))
                http_error = request.app.exception_handlers[StarletteHTTPException]
                answer = http_error(request, Problem(404, f"no {noun} has id {_shown(value)}"))
                return await answer if inspect.isawaitable(answer) else answer
        answer = previous(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    app.add_exception_handler(RequestValidationError, _validation)
