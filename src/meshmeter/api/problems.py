"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the API returns has the members ``type``, ``title``, ``status``, ``detail`` and ``instance``
(the path of the request). ``type`` is ``about:blank``: the HTTP status says what kind of problem it is, and
``detail`` says what exactly is wrong. A failed validation of the request adds ``errors``, FastAPI's list
of what was wrong where.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from meshmeter.errors import MeshmeterError

__all__ = ["PROBLEM_JSON", "Problem", "install_problem_handlers", "problem_response", "problem_status"]

PROBLEM_JSON = "application/problem+json"


class Problem(StarletteHTTPException):
    """An HTTP error to answer with a problem document: status, detail, optional headers."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """A problem+json response for ``request``."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if extra:
        body.update(extra)
    return JSONResponse(
        body, status_code=status, headers=None if headers is None else dict(headers), media_type=PROBLEM_JSON
    )


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return problem_response(request, exc.status_code, detail, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = jsonable_encoder(exc.errors(), exclude={"ctx", "url", "input"})
    parts = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    detail = "; ".join(parts) or "the request is not valid"
    return problem_response(request, 422, detail, extra={"errors": errors})


def problem_status(exc: MeshmeterError) -> int:
    """
    The HTTP status of a domain error: the one place the API decides it.

    404 for what the store does not hold, 409 for a request the data's state refuses (a bill with nothing
    validated to bill, a conflicting bill, a tenancy operation that the stored tenancies refuse: an
    overlapping occupancy, a closed account ...), 503 for a service that cannot be reached or a database
    newer than the code, and 400 for every other bad input. A refused tenancy operation that names an
    unknown id is 404.
    """
    from meshmeter.errors import NotFoundError, NothingToBillError, ServiceUnavailableError, TenancyError
    from meshmeter.store import BillConflictError, SchemaVersionError, UnknownMeterError

    if isinstance(exc, TenancyError):
        return 404 if exc.unknown else 409
    if isinstance(exc, NotFoundError | UnknownMeterError):
        return 404
    if isinstance(exc, NothingToBillError | BillConflictError):
        return 409
    if isinstance(exc, SchemaVersionError | ServiceUnavailableError | ConnectionError):
        return 503
    return 400


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MeshmeterError)
    from meshmeter.errors import TenancyError

    extra = {"problems": exc.problems} if isinstance(exc, TenancyError) else None
    return problem_response(request, problem_status(exc), str(exc), extra=extra)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(request, 500, "an unexpected error occurred; it has been logged by the server")


def install_problem_handlers(app: FastAPI) -> None:
    """Answer HTTP errors, domain errors, validation errors and unexpected errors with problem documents."""
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(MeshmeterError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
