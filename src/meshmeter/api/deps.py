"""Typed dependencies of the routes (as in the FastAPI full-stack template), and the types of what a
request names: ids, names (serials, kinds, accounts ...), times and time zones.

Each input of the API is one of these types, so that it is bounded in one place, and refused before it
reaches the store: an id out of range is 404 (:data:`StoreId`); text too long, empty, or holding a
control character (psycopg cannot send a text holding NUL to PostgreSQL: it was a 500) is 422 naming the
parameter (:data:`Name`, :data:`TimeText`, :data:`ZoneName`). The bounds are in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import AfterValidator, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

from meshmeter.api.auth import Principal, authorize
from meshmeter.api.problems import Problem
from meshmeter.api.scope import scoped
from meshmeter.store import Site, Store

__all__ = [
    "ID_OUT_OF_RANGE",
    "MAX_ID",
    "MAX_NAME_LENGTH",
    "MAX_TIME_TEXT_LENGTH",
    "MAX_ZONE_LENGTH",
    "PRINTABLE",
    "Name",
    "PrincipalDep",
    "StoreDep",
    "StoreId",
    "TimeText",
    "ZoneName",
    "current_principal",
    "get_store",
    "known_site",
]

MAX_ID = 2**63 - 1
"""The largest id the store can hold (a signed 64-bit key: SQLite's ``INTEGER``, PostgreSQL's ``BIGINT``)."""

ID_OUT_OF_RANGE = "id_out_of_range"
"""The type of the validation error of an id out of range (answered 404: ``meshmeter.api.limits``)."""


def get_store(request: Request) -> Store:
    """
    The app's store as the caller sees it: the store itself for an unscoped caller; for a tenant, or a
    token bound to sites, a :class:`~meshmeter.api.scope.ScopedStore` that sees only its scope. Every
    route takes the store through this dependency (:data:`StoreDep`), so the scope is applied here once.
    """
    store: Store = request.app.state.store
    found = getattr(request.state, "store", None)
    if isinstance(found, Store):
        return found
    seen = scoped(store, current_principal(request))
    request.state.store = seen
    return seen


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


StoreId = Annotated[
    int,
    AfterValidator(_in_range),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_ID}),
]
"""The one type of an id of something stored, in the path or the query: 1 .. 2**63 - 1. An id out of
range names nothing: it is answered 404 ``no <thing> has id <n>`` (the thing named by the parameter,
``site_id`` a site), as an id in range that is unknown is, and never reaches the database."""

PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
"""Text without control characters (C0 and DEL): a NUL, which PostgreSQL's text cannot hold (psycopg
refuses to send it), a line break or an escape names nothing the store holds."""

MAX_NAME_LENGTH = 200
"""The longest name a request may carry: a meter's serial, an event's kind, an account, a format.
[character]"""

MAX_TIME_TEXT_LENGTH = 64
"""The longest text of a time (``2024-03-10T08:00:00.123456+05:30`` is 32) or a month. [character]"""

MAX_ZONE_LENGTH = 64
"""The longest IANA time zone name (the longest in the database, ``America/Argentina/ComodRivadavia``,
is 32). [character]"""

Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH, pattern=PRINTABLE)]
"""The one type of a name in the path or the query: a meter's serial, an event's kind, an account as
billed, an ingest format. 1 to :data:`MAX_NAME_LENGTH` characters, none a control character; anything
else is 422 naming the parameter."""

TimeText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TIME_TEXT_LENGTH, pattern=PRINTABLE)]
"""The text of a time (ISO 8601) or a month (``YYYY-MM``) in the query, before it is read
(:func:`meshmeter.api.intervals.parse_instant` reads it, 400 when it is not a time or lies outside
1970-01-01T00:00:00Z .. 9999-01-01T00:00:00Z); longer or with a control character it is 422."""

ZoneName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ZONE_LENGTH, pattern=PRINTABLE)]
"""The text of an IANA time zone name in the query (:func:`meshmeter.api.intervals.parse_timezone` reads
it, 400 when it names no zone); longer or with a control character it is 422."""

StoreDep = Annotated[Store, Depends(get_store)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]


def known_site(store: Store, site_id: int) -> Site:
    """The site of ``site_id`` as the caller sees it; 404 when there is none (or it is another's)."""
    site = store.get_site(site_id=site_id)
    if site is None:
        raise Problem(404, f"no site has id {site_id}")
    return site
