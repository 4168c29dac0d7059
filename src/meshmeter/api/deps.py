"""Typed dependencies of the routes (as in the FastAPI full-stack template), and the type of ids."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from meshmeter.api.auth import Principal, authorize
from meshmeter.store import Store

__all__ = [
    "ID_OUT_OF_RANGE",
    "MAX_ID",
    "PrincipalDep",
    "StoreDep",
    "StoreId",
    "current_principal",
    "get_store",
]

MAX_ID = 2**63 - 1
"""The largest id the store can hold (a signed 64-bit key: SQLite's ``INTEGER``, PostgreSQL's ``BIGINT``)."""

ID_OUT_OF_RANGE = "id_out_of_range"
"""The type of the validation error of an id out of range (answered 404: ``meshmeter.api.limits``)."""


def get_store(request: Request) -> Store:
    """The app's store."""
    store: Store = request.app.state.store
    return store


def current_principal(request: Request) -> Principal:
    """
    The caller, authorized on the matched route: the principal that the route class
    (:class:`meshmeter.api.limits.GuardedRoute`) found before reading the body, else
    :func:`~meshmeter.api.auth.authorize` now.
    """
    found = getattr(request.state, "principal", None)
    return found if isinstance(found, Principal) else authorize(request)


def _in_range(value: int) -> int:
    if not 1 <= value <= MAX_ID:
        raise PydanticCustomError(
            ID_OUT_OF_RANGE, "an id is a whole number from 1 to 2**63 - 1", {"id": value}
        )
    return value


StoreId = Annotated[int, AfterValidator(_in_range)]
"""The one type of an id of something stored, in the path or the query: 1 .. 2**63 - 1. An id out of
range names nothing: it is answered 404 ``no <thing> has id <n>`` (the thing named by the parameter,
``site_id`` a site), as an id in range that is unknown is, and never reaches the database."""

StoreDep = Annotated[Store, Depends(get_store)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
