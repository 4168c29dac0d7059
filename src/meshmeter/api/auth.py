"""Who may call what: bearer tokens, roles, and the one table of routes and the roles allowed on each.

A request carries ``Authorization: Bearer <token>``. The token is either the bootstrap admin token of the
settings (``MESHMETER_ADMIN_TOKEN``) or one made through ``POST /tokens``, of which the store keeps only
a hash. No token, an unknown or revoked one: 401. A token whose role is not allowed on the route: 403.
A tenant token, or a token bound to sites, then sees only its part of the store
(:mod:`meshmeter.api.scope`).
A browser signed in to the dashboard carries its token in the HttpOnly cookie :data:`SESSION_COOKIE`
instead, which counts on ``GET`` and ``HEAD`` only, and never when an ``Authorization`` header is sent.

Failed authentications are limited per client address (:class:`FailedAuthLimiter`): after
``MESHMETER_AUTH_MAX_FAILURES`` refused tokens within ``MESHMETER_AUTH_FAILURE_WINDOW_S``, the address is
answered 429 with ``Retry-After``, before its token is even looked up, until the oldest failure leaves the
window. Other addresses are not affected, and a success resets no counter.

:data:`ROUTE_ROLES` is the one place where access is decided: every route of the API must have an entry
(``create_app`` refuses to build an app where one is missing), and :func:`authorize`, a dependency of every
route, looks the matched route up in it.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute

from meshmeter.api.problems import Problem
from meshmeter.api.settings import Settings
from meshmeter.store import API_TOKEN_ROLES, Store

__all__ = [
    "ALL_ROLES",
    "ROUTE_ROLES",
    "SESSION_COOKIE",
    "STAFF",
    "FailedAuthLimiter",
    "Principal",
    "Role",
    "auth_limiter",
    "authenticate",
    "authorize",
    "check_route_table",
    "client_address",
    "iter_api_routes",
    "route_key",
]


class Role(StrEnum):
    """The roles a token may carry."""

    ADMIN = "admin"
    """Everything, including making and revoking tokens."""
    OPERATOR = "operator"
    """Runs the head-end: reads everything, events included."""
    BILLING = "billing"
    """A billing service: sites, meters, intervals and register reads; not events."""
    READ_ONLY = "read-only"
    """Looks at everything a person monitoring the site needs: every read route; no tokens."""
    TENANT = "tenant"
    """A tenant, bound to its one account: its intervals within its occupancies, its bills, its Green
    Button download and its account; nothing else."""


assert tuple(r.value for r in Role) == API_TOKEN_ROLES, "roles of the API and of the store must agree"

ALL_ROLES = frozenset(Role)
STAFF = frozenset({Role.ADMIN, Role.OPERATOR, Role.BILLING, Role.READ_ONLY})
"""The roles of those who run, bill or monitor the head-end: every role but the tenant's."""
_MONITOR = frozenset({Role.ADMIN, Role.OPERATOR, Role.READ_ONLY})
_ADMIN = frozenset({Role.ADMIN})
_OPERATE = frozenset({Role.ADMIN, Role.OPERATOR})
_ACCOUNTS = frozenset({Role.ADMIN, Role.OPERATOR, Role.BILLING})
"""Tenants, accounts and bills name people: those who run the head-end and those who bill them."""
_OWN_USAGE = STAFF | {Role.TENANT}
"""A meter's intervals and its Green Button file: a tenant reads them within its occupancies."""
_OWN_ACCOUNT = _ACCOUNTS | {Role.TENANT}
"""An account and its bills: a tenant reads its own."""
_TENANT = frozenset({Role.TENANT})
"""A tenant's own pages of the dashboard (its usage, its downloads): the staff have theirs."""

ROUTE_ROLES: dict[tuple[str, str], frozenset[Role]] = {
    ("GET", "/sites"): STAFF,
    ("GET", "/sites/{site_id}"): STAFF,
    ("GET", "/meters"): STAFF,
    ("POST", "/meters"): _OPERATE,
    ("GET", "/meters/{serial}"): STAFF,
    ("GET", "/meters/{serial}/intervals"): _OWN_USAGE,
    ("GET", "/meters/{serial}/greenbutton"): _OWN_USAGE,
    ("GET", "/meters/{serial}/register-reads"): STAFF,
    ("GET", "/meters/{serial}/history"): STAFF,
    ("POST", "/meters/{serial}/exchange"): _OPERATE,
    ("POST", "/meters/{serial}/install"): _OPERATE,
    ("POST", "/meters/{serial}/remove"): _OPERATE,
    ("POST", "/meters/{serial}/multiplier"): _OPERATE,
    ("POST", "/meters/{serial}/ct-ratio"): _OPERATE,
    ("GET", "/units"): STAFF,
    ("POST", "/units"): _OPERATE,
    ("PATCH", "/units/{unit_id}"): _OPERATE,
    ("GET", "/tenants"): _ACCOUNTS,
    ("POST", "/tenants"): _OPERATE,
    ("GET", "/tenants/{tenant_id}"): _ACCOUNTS,
    ("GET", "/accounts"): _ACCOUNTS,
    ("POST", "/accounts"): _OPERATE,
    ("GET", "/accounts/{account_id}"): _OWN_ACCOUNT,
    ("GET", "/accounts/{account_id}/history"): _ACCOUNTS,
    ("POST", "/accounts/{account_id}/move-in"): _OPERATE,
    ("POST", "/accounts/{account_id}/move-out"): _OPERATE,
    ("POST", "/accounts/{account_id}/transfer"): _OPERATE,
    ("POST", "/accounts/{account_id}/close"): _OPERATE,
    ("GET", "/occupancies"): _ACCOUNTS,
    ("POST", "/meters/{serial}/intervals"): _OPERATE,
    ("POST", "/intervals"): _OPERATE,
    ("GET", "/events"): _MONITOR,
    ("GET", "/alerts"): _MONITOR,
    ("GET", "/network/health"): _MONITOR,
    ("GET", "/energy/daily"): STAFF,
    ("GET", "/energy/monthly"): STAFF,
    ("GET", "/energy/load-profile"): STAFF,
    ("GET", "/energy/top-consumers"): STAFF,
    ("GET", "/energy/comparison"): STAFF,
    ("GET", "/bills"): _OWN_ACCOUNT,
    ("GET", "/bills/{bill_id}"): _OWN_ACCOUNT,
    ("GET", "/bills/affected"): _ACCOUNTS,
    ("GET", "/bills/{bill_id}/corrections"): _OWN_ACCOUNT,
    ("POST", "/bills/{bill_id}/corrections"): _ACCOUNTS,
    ("GET", "/bills/{bill_id}/corrections/{sequence}"): _OWN_ACCOUNT,
    ("GET", "/meters/{serial}/production"): _ACCOUNTS,
    ("POST", "/sites/{site_id}/allocation"): _ACCOUNTS,
    ("GET", "/sites/{site_id}/reconciliation"): _OPERATE,
    ("GET", "/sites/{site_id}/sources"): _MONITOR,
    ("POST", "/sites/{site_id}/sources"): _OPERATE,
    ("GET", "/sources/{source_id}"): _MONITOR,
    ("PATCH", "/sources/{source_id}"): _OPERATE,
    ("POST", "/sources/{source_id}/channels"): _OPERATE,
    ("POST", "/accounts/{account_id}/bills"): _ACCOUNTS,
    ("GET", "/sites/{site_id}/vee/worklist"): _MONITOR,
    ("POST", "/sites/{site_id}/vee/worklist/actions"): _OPERATE,
    ("GET", "/tokens"): _ADMIN,
    ("POST", "/tokens"): _ADMIN,
    ("DELETE", "/tokens/{token_id}"): _ADMIN,
    ("GET", "/dashboard"): _MONITOR,
    ("GET", "/dashboard/network"): _MONITOR,
    ("GET", "/dashboard/meters/{serial}"): _MONITOR,
    ("GET", "/dashboard/vee"): _MONITOR,
    ("POST", "/dashboard/vee"): _OPERATE,
    ("GET", "/dashboard/bills"): _OWN_ACCOUNT,
    ("GET", "/dashboard/sources"): _MONITOR,
    ("GET", "/dashboard/usage"): _TENANT,
    ("GET", "/dashboard/meters"): _MONITOR,
    ("POST", "/dashboard/meters"): _OPERATE,
    ("POST", "/dashboard/meters/{serial}"): _OPERATE,
    ("POST", "/dashboard/sources"): _OPERATE,
    ("GET", "/dashboard/tenants"): _ACCOUNTS,
    ("POST", "/dashboard/tenants"): _OPERATE,
    ("GET", "/dashboard/accounts/{account_id}"): _ACCOUNTS,
    ("GET", "/dashboard/tariffs"): _ACCOUNTS,
    ("POST", "/dashboard/tariffs"): _ACCOUNTS,
    ("GET", "/accounts/{account_id}/tariff"): _OWN_ACCOUNT,
    ("PUT", "/accounts/{account_id}/tariff"): _ACCOUNTS,
    ("GET", "/dashboard/download"): _TENANT,
}
"""(method, path template) → the roles allowed. The one table of access; ``docs/api.md`` shows it."""


@dataclass(frozen=True, slots=True)
class Principal:
    """
    The caller of a request: its role, the stored token's id (None for the bootstrap token), and its scope.

    Attributes
    ----------
    account_id : int or None
        A tenant's account: the one account it reads (:mod:`meshmeter.api.scope`).
    site_ids : frozenset of int or None
        The sites an operator, billing or read-only token is bound to; None: every site.
    label : str or None
        The token's label, for the history of what it did.
    """

    role: Role
    token_id: int | None
    account_id: int | None = None
    site_ids: frozenset[int] | None = None
    label: str | None = None

    @property
    def scoped(self) -> bool:
        """True when the caller sees part of the store only: a tenant, or a token bound to sites."""
        return self.account_id is not None or self.site_ids is not None

    @property
    def recorded_as(self) -> str:
        """Who, as the history of tenancies records it: ``token 4 (front desk)``, ``admin token``."""
        if self.token_id is None:
            return "admin token (MESHMETER_ADMIN_TOKEN)"
        return f"token {self.token_id}" + (f" ({self.label})" if self.label else "")


def route_key(route: APIRoute) -> list[tuple[str, str]]:
    """The keys of :data:`ROUTE_ROLES` that a route answers (one per method)."""
    return [(method, route.path) for method in sorted(route.methods or ())]


def iter_api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """
    Every API route of an app, walking into included routers.

    Recent FastAPI keeps an included router whole (a route with ``original_router``) rather than copying
    its routes into the app; the request's ``scope["route"]`` is then the router's own route object,
    which is what this yields.
    """
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        else:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                yield from iter_api_routes(inner.routes)


def check_route_table(app: FastAPI) -> None:
    """
    Refuse an app whose routes and :data:`ROUTE_ROLES` do not agree.

    Every operation of the OpenAPI document must be an API route found by :func:`iter_api_routes` (so
    that the path :func:`authorize` sees is the documented one) and have an entry in the table; a
    route without one would be refused to everyone.
    """
    walked = {key for route in iter_api_routes(app.routes) for key in route_key(route)}
    if frozenset(walked) in _CHECKED_TABLES:
        return  # the same routes were checked already in this process (the OpenAPI document is costly)
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi().get("paths", {}).items()
        for method in operations
    }
    if walked != documented:
        raise RuntimeError(
            f"routes found {sorted(walked)} differ from the OpenAPI paths {sorted(documented)}"
        )
    missing = sorted(walked - set(ROUTE_ROLES))
    if missing:
        raise RuntimeError(f"routes without an entry in ROUTE_ROLES: {missing}")
    _CHECKED_TABLES.add(frozenset(walked))


_CHECKED_TABLES: set[frozenset[tuple[str, str]]] = set()
"""Route tables :func:`check_route_table` found in agreement: an app with the same routes is not checked
again (building the OpenAPI document takes about 0.2 s)."""


_UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="meshmeter"'}


SESSION_COOKIE = "meshmeter_session"
"""The dashboard's HttpOnly cookie, set by its login form: it holds a token (``docs/dashboard.md``)."""

_SAFE_METHODS = frozenset({"GET", "HEAD"})

COOKIE_FORMS = frozenset(
    {
        ("POST", "/dashboard/vee"),
        ("POST", "/dashboard/meters"),
        ("POST", "/dashboard/meters/{serial}"),
        ("POST", "/dashboard/sources"),
        ("POST", "/dashboard/tenants"),
        ("POST", "/dashboard/tariffs"),
    }
)
"""The dashboard's forms that post with the session cookie (the VEE work list's acts, the site's
management): the cookie counts
on them only when the post comes from this server's own page (:func:`meshmeter.api.dashboard.cross_site`,
the login form's check), else the post is refused (403)."""


def _cookie_form(request: Request) -> bool:
    """Whether the request posts one of :data:`COOKIE_FORMS`; refused (403) when it comes from another
    site."""
    route = request.scope.get("route")
    if (request.method, getattr(route, "path", None)) not in COOKIE_FORMS:
        return False
    from meshmeter.api.dashboard import cross_site  # the dashboard imports this module

    reason = cross_site(request)
    if reason is not None:
        raise Problem(403, f"a cross-site post is refused ({reason})")
    return True


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization")
    if header is None:
        # A browser signed in to the dashboard: its cookie counts on reads, and on the forms of COOKIE_FORMS
        # posted from its own pages (no CSRF on writes).
        cookie = request.cookies.get(SESSION_COOKIE, "").strip()
        if cookie and (request.method in _SAFE_METHODS or _cookie_form(request)):
            return cookie
        raise Problem(401, "an Authorization: Bearer <token> header is required", headers=_UNAUTHORIZED)
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "the Authorization header must be 'Bearer <token>'", headers=_UNAUTHORIZED)
    return token


class FailedAuthLimiter:
    """
    Failed authentications per client address, in a sliding window, with bounded memory.

    An address that failed ``max_failures`` times within the last ``window_s`` is refused until the oldest
    of those failures leaves the window. Only failures are recorded: a success, from the same address or
    another, resets nothing (an attacker holding one valid token gains no more guesses).

    Memory: at most ``max_clients`` addresses, each with at most ``max_failures`` instants. Addresses are
    kept in the order of their latest failure; those whose latest failure left the window are dropped at
    each call, and beyond ``max_clients`` the one that failed least recently is forgotten. Safe to call
    from several threads (the API's synchronous dependencies run in a thread pool).

    Parameters
    ----------
    max_failures : int
        Failures allowed within the window; the next request of the address is refused.
    window_s : float
        The sliding window. [s]
    max_clients : int
        Most addresses remembered.
    clock : callable, optional
        Monotonic time [s]; default :func:`time.monotonic` (tests give their own, and never sleep).
    """

    def __init__(
        self,
        *,
        max_failures: int,
        window_s: float,
        max_clients: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_failures < 1:
            raise ValueError(f"max_failures must be at least 1, got {max_failures!r}")
        if not (window_s > 0 and math.isfinite(window_s)):
            raise ValueError(f"window_s must be a positive number of seconds, got {window_s!r}")
        if max_clients < 1:
            raise ValueError(f"max_clients must be at least 1, got {max_clients!r}")
        self.max_failures = max_failures
        self.window_s = float(window_s)
        self.max_clients = max_clients
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many addresses are remembered."""
        with self._lock:
            return len(self._failures)

    def _expire(self, now: float) -> None:
        """Drop the addresses whose latest failure left the window (they are first in the order)."""
        horizon = now - self.window_s
        while self._failures:
            address, instants = next(iter(self._failures.items()))
            if instants[-1] > horizon:
                break
            del self._failures[address]

    def retry_after_s(self, address: str) -> int | None:
        """Whole seconds until ``address`` may try again (at least 1), or None when it may now."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            instants = self._failures.get(address)
            if instants is None or len(instants) < self.max_failures:
                return None
            wait_s = instants[0] + self.window_s - now
            if wait_s <= 0:
                return None
            return max(1, math.ceil(wait_s))

    def record_failure(self, address: str) -> None:
        """Count a failed authentication of ``address`` now."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            instants = self._failures.pop(address, None)
            if instants is None:
                while len(self._failures) >= self.max_clients:
                    self._failures.popitem(last=False)
                instants = deque(maxlen=self.max_failures)
            instants.append(now)
            self._failures[address] = instants  # last: the most recent failure


_LIMITER_LOCK = threading.Lock()


def auth_limiter(app: FastAPI) -> FailedAuthLimiter:
    """
    The app's :class:`FailedAuthLimiter` (``app.state.auth_limiter``), made from its settings on first use.

    A test may set ``app.state.auth_limiter`` itself, with its own clock.
    """
    limiter = getattr(app.state, "auth_limiter", None)
    if isinstance(limiter, FailedAuthLimiter):
        return limiter
    with _LIMITER_LOCK:
        limiter = getattr(app.state, "auth_limiter", None)
        if not isinstance(limiter, FailedAuthLimiter):
            settings = getattr(app.state, "settings", None)
            if not isinstance(settings, Settings):
                settings = Settings()
            limiter = FailedAuthLimiter(
                max_failures=settings.auth_max_failures,
                window_s=settings.auth_failure_window_s,
                max_clients=settings.auth_max_clients,
            )
            app.state.auth_limiter = limiter
        return limiter


def client_address(request: Request) -> str:
    """
    The address failures are counted against: the peer's host.

    Behind a reverse proxy every client has the proxy's address unless the server is told to trust its
    ``X-Forwarded-For`` (``uvicorn --proxy-headers --forwarded-allow-ips=<proxy>``), as ``docs/api.md`` says.
    """
    client = request.client
    return client.host if client is not None and client.host else "unknown"


def authenticate(
    request: Request, store: Store, admin_token: str | None, limiter: FailedAuthLimiter | None = None
) -> Principal:
    """
    The caller of ``request``.

    Raises
    ------
    Problem
        401 when it has no valid token; 429 (with ``Retry-After``) when ``limiter`` says its address failed
        too often, before the token is looked up. A token presented and refused counts as a failure.
    """
    token = _bearer(request)
    address = client_address(request)
    if limiter is not None:
        retry_after_s = limiter.retry_after_s(address)
        if retry_after_s is not None:
            raise Problem(
                429,
                f"too many failed authentications from this address; try again in {retry_after_s} s",
                headers={"Retry-After": str(retry_after_s)},
            )
    if admin_token is not None and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal(Role.ADMIN, None)
    stored = store.find_api_token(token=token)
    if stored is None or not stored.active:
        if limiter is not None:
            limiter.record_failure(address)
        raise Problem(401, "the token is not valid (unknown or revoked)", headers=_UNAUTHORIZED)
    sites = frozenset(stored.site_ids) if stored.site_ids else None
    return Principal(Role(stored.role), stored.id, stored.account_id, sites, stored.label)


def authorize(request: Request) -> Principal:
    """
    Dependency of every route: the caller, when its role is allowed on the matched route.

    Raises
    ------
    Problem
        401 without a valid token; 429 when the caller's address failed too often
        (:class:`FailedAuthLimiter`); 403 when the token's role is not in the route's entry of
        :data:`ROUTE_ROLES` (or the route has none).
    """
    app = request.app
    principal = authenticate(request, app.state.store, app.state.admin_token, auth_limiter(app))
    request.state.role = principal.role  # a refused page still shows the caller's own navigation
    route = request.scope.get("route")
    allowed: frozenset[Role] = frozenset()
    if isinstance(route, APIRoute):
        allowed = ROUTE_ROLES.get((request.method, route.path), frozenset())
    if principal.role not in allowed:
        shown = ", ".join(sorted(allowed)) or "no role"
        raise Problem(403, f"the role {principal.role.value!r} may not do this; allowed: {shown}")
    return principal
