"""The web dashboard: Jinja2 templates, the static assets, the login form, and the glue to the app.

The pages themselves are API routes (``meshmeter.api.routes.dashboard``), each with its entry in
``ROUTE_ROLES``. This package adds what carries no data and needs no token: the login form, which sets
the HttpOnly session cookie :data:`~meshmeter.api.auth.SESSION_COOKIE`; the one-time sign-in link that
``meshmeter serve`` and ``meshmeter demo`` print (:func:`sign_in_link`), which sets the same cookie;
sign-out; the stylesheet and script; and plotly's JavaScript, served from the installed ``plotly``
package so that the dashboard works with no internet (``docs/dashboard.md``).
"""

from __future__ import annotations

import importlib.util
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from meshmeter.api.auth import SESSION_COOKIE, Role, auth_limiter, authenticate, client_address
from meshmeter.api.dashboard.forms import done_message
from meshmeter.api.problems import Problem
from meshmeter.api.settings import Settings
from meshmeter.errors import MeshmeterError
from meshmeter.intervals import zone
from meshmeter.store.tokens import hash_api_token

__all__ = [
    "DASHBOARD_PREFIX",
    "NAV",
    "PLOTLY_JS",
    "SECURITY_HEADERS",
    "SESSION_MAX_AGE_S",
    "SIGN_IN_LINK_TTL_S",
    "SignInLinkError",
    "SignInLinks",
    "cross_site",
    "hide_sign_in_code",
    "install_dashboard",
    "render",
    "safe_next",
    "sign_in_link",
]

DASHBOARD_PREFIX = "/dashboard"
"""Where the pages live."""

SESSION_MAX_AGE_S = 12 * 3600
"""How long the browser keeps the session cookie. [s]"""


def _plotly_js() -> Path:
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise RuntimeError("the dashboard needs the plotly package (pip install plotly)")
    return Path(spec.origin).resolve().parent / "package_data" / "plotly.min.js"


PLOTLY_JS = _plotly_js()
"""plotly's JavaScript, as installed with the Python package (never copied into the repository)."""

_STATIC = Path(__file__).resolve().parent / "static"
_ASSETS: dict[str, tuple[Path, str]] = {
    "dashboard.css": (_STATIC / "dashboard.css", "text/css; charset=utf-8"),
    "dashboard.js": (_STATIC / "dashboard.js", "text/javascript; charset=utf-8"),
    "plotly.min.js": (PLOTLY_JS, "text/javascript; charset=utf-8"),
}

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Headers of every dashboard page: scripts only from this server (no inline script, no CDN), no framing."""

TEMPLATES = Environment(
    loader=PackageLoader("meshmeter.api.dashboard", "templates"),
    autoescape=select_autoescape(("html",)),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _local(value: datetime | None, zone: tzinfo = UTC, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC instant as local wall time of ``zone``, with the zone's abbreviation."""
    if value is None:
        return "–"
    local = value.astimezone(zone)
    return f"{local.strftime(fmt)} {local.tzname() or ''}".strip()


def _kwh(energy_wh: int | None, digits: int = 1) -> str:
    """Wh as kWh with ``digits`` decimals, thousands separated; an en dash for None."""
    if energy_wh is None:
        return "–"
    return f"{energy_wh / 1000:,.{digits}f}"


def _quantity(value: Decimal, places: int = 4) -> str:
    """A quantity of a bill's line to at most ``places`` decimals, without trailing zeros."""
    text = f"{round(value, places):,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _number(value: float | None, fmt: str = ".2f") -> str:
    return "–" if value is None else format(value, fmt)


def _zone(name: str) -> tzinfo:
    """The time zone of an IANA name; UTC for an unknown one."""
    try:
        return zone(name)
    except ValueError:
        return UTC


TEMPLATES.globals["tz"] = _zone
TEMPLATES.filters["local"] = _local
TEMPLATES.filters["kwh"] = _kwh
TEMPLATES.filters["number"] = _number
TEMPLATES.filters["quantity"] = _quantity


def render(
    request: Request,
    name: str,
    *,
    role: Role | None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """
    Render a template of the dashboard with the security headers.

    Parameters
    ----------
    request : Request
        The request (its path marks the current page in the navigation bar; its ``?done=`` the form just
        done, which the page says in words: :func:`~meshmeter.api.dashboard.forms.done_message`).
    name : str
        The template, e.g. ``"overview.html"``.
    role : Role or None
        The caller's role (the navigation bar shows the pages it may open); None before signing in.
    status : int, optional
        HTTP status; default 200.
    headers : mapping, optional
        More headers.
    **context
        The template's variables.
    """
    html = TEMPLATES.get_template(name).render(
        request_path=request.url.path,
        role=None if role is None else role.value,
        done_said=done_message(request),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a dashboard path of this server only (no open redirect)."""
    if (
        value
        and value.startswith(DASHBOARD_PREFIX)
        and not value.startswith("//")
        and "\\" not in value
        and "login" not in value
    ):
        return value
    return DASHBOARD_PREFIX


SIGN_IN_LINK_TTL_S = 15 * 60
"""How long a sign-in link is good for, from the moment it is printed. [s]

Fifteen minutes: time enough to read the terminal, switch to a browser and open the link (or copy it to
the browser of another machine), and short enough that a link left in a terminal's scroll-back, a shell
history or a log is soon worth nothing. Once used, it is worth nothing at once."""


class SignInLinkError(MeshmeterError):
    """A sign-in link's code that signs no one in: used already, expired, or not one of this server's."""


@dataclass(slots=True)
class _Code:
    label: str
    expires_at_s: float
    used: bool = False


class SignInLinks:
    """
    The one-time codes of the sign-in links this server process printed, kept only as hashes.

    A code is 256 random bits (URL-safe text); the registry keeps its SHA-256
    (:func:`~meshmeter.store.tokens.hash_api_token`, the API tokens' own hash: a random code needs no slow
    hash), the label of the admin token to make when it is exchanged, and when it expires. It is good for
    one exchange, within ``ttl_s`` of being issued; a used or expired code is kept, marked, so that the
    form can say which. Codes are issued only by the process itself (``meshmeter serve``, ``meshmeter
    demo``: one at start), never by a request, so the registry stays as small as that.

    The registry lives in the server's memory (``app.state.sign_in_links``): a restart forgets every code,
    which is the right end for a link printed by the process that is gone. Safe to call from several
    threads (the app's synchronous work runs in a thread pool).

    Parameters
    ----------
    clock : callable, optional
        Monotonic time [s]; default :func:`time.monotonic` (tests give their own, and never sleep).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._codes: dict[bytes, _Code] = {}
        self._lock = threading.Lock()

    def issue(self, *, label: str, ttl_s: float = SIGN_IN_LINK_TTL_S) -> str:
        """
        A new code, good once within ``ttl_s``.

        Parameters
        ----------
        label : str
            The label of the admin API token made when the code is exchanged (``meshmeter token list``
            shows it), e.g. ``"meshmeter serve sign-in link"``.
        ttl_s : float, optional
            How long the code is good for; default :data:`SIGN_IN_LINK_TTL_S`. [s]

        Returns
        -------
        str
            The code: 43 URL-safe characters. Only its hash is kept, so this is the one time it is seen.
        """
        if not (ttl_s > 0 and math.isfinite(ttl_s)):
            raise ValueError(f"ttl_s must be a positive number of seconds, got {ttl_s!r}")
        if not label.strip():
            raise ValueError(f"label must name the token to make, got {label!r}")
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[hash_api_token(code)] = _Code(label, self._clock() + ttl_s)
        return code

    def redeem(self, code: str) -> str:
        """
        Use a code: the label of the admin token to make for it.

        Raises
        ------
        SignInLinkError
            The code was used already, has expired, or was never issued here; the message says which.
        """
        with self._lock:
            entry = self._codes.get(hash_api_token(code)) if code else None
            if entry is None:
                raise SignInLinkError(
                    "That sign-in link is not valid here (mistyped, cut short, or printed by another run "
                    "of the server)."
                )
            if entry.used:
                raise SignInLinkError("That sign-in link was used already: it signs in once.")
            if self._clock() >= entry.expires_at_s:
                raise SignInLinkError("That sign-in link has expired.")
            entry.used = True
            return entry.label


def _link_host(host: str) -> str:
    """The host of a link to a server listening on ``host``: a wildcard address is this machine's own
    loopback (``0.0.0.0`` → ``127.0.0.1``, ``::`` → ``[::1]``), an IPv6 address is bracketed."""
    host = host.strip().strip("[]")
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def sign_in_link(app: FastAPI, *, host: str, port: int, label: str, ttl_s: float = SIGN_IN_LINK_TTL_S) -> str:
    """
    A one-time link that opens the dashboard signed in as admin: ``http://HOST:PORT/dashboard/login?code=``.

    The code is registered in the app's :class:`SignInLinks`; on first use
    (``GET /dashboard/login?code=``) an admin API token labelled ``label`` is made in the app's store and
    set as the session cookie. Nothing is made until then, so a link never followed leaves no token.

    Parameters
    ----------
    app : FastAPI
        The app the link signs in to (built by ``create_app``), served in this process.
    host : str
        The address the server listens on; a wildcard (``0.0.0.0``, ``::``) gives the loopback address.
    port : int
        The port it listens on.
    label : str
        The label of the admin token made on exchange.
    ttl_s : float, optional
        How long the link is good for; default :data:`SIGN_IN_LINK_TTL_S`. [s]
    """
    code = _sign_in_links(app).issue(label=label, ttl_s=ttl_s)
    return f"http://{_link_host(host)}:{port}{DASHBOARD_PREFIX}/login?code={code}"


_CODE_IN_QUERY = re.compile(r"(?<=[?&]code=)[^&#\s]+")


def hide_sign_in_code(text: str) -> str:
    """``text`` (a request line of an access log) with the value of every ``code=`` query parameter
    replaced by ``…``: a log is no place for a code that may still be good."""
    return _CODE_IN_QUERY.sub("…", text)


def _sign_in_links(app: FastAPI) -> SignInLinks:
    links = getattr(app.state, "sign_in_links", None)
    if not isinstance(links, SignInLinks):
        raise RuntimeError("the app has no sign-in links: build it with create_app")
    return links


_MAX_FORM_BYTES = 4096
"""Largest login form accepted. [byte]"""


def _landing(role: Role | str | None) -> str:
    """The page a role starts on, and where the brand link and an error page send it back to: the bills
    for billing and tenant tokens (the overview is not theirs), else the overview."""
    return f"{DASHBOARD_PREFIX}/bills" if role in (Role.BILLING, Role.TENANT) else DASHBOARD_PREFIX


TEMPLATES.globals["landing"] = _landing

NAV: tuple[tuple[str, str, str | None], ...] = (
    (DASHBOARD_PREFIX, "Overview", None),
    (f"{DASHBOARD_PREFIX}/network", "Network", None),
    (f"{DASHBOARD_PREFIX}/meters", "Meters", None),
    (f"{DASHBOARD_PREFIX}/vee", "VEE", None),
    (f"{DASHBOARD_PREFIX}/sources", "Sources", None),
    (f"{DASHBOARD_PREFIX}/tenants", "Tenants", None),
    (f"{DASHBOARD_PREFIX}/tariffs", "Tariffs", None),
    (f"{DASHBOARD_PREFIX}/usage", "My usage", "My usage"),
    (f"{DASHBOARD_PREFIX}/bills", "Bills", "My bills"),
    (f"{DASHBOARD_PREFIX}/download", "Download my data", "Download my data"),
)
"""The main navigation: (page, its name for the staff, its name for a tenant), in order. A role is shown
the pages it may open (``ROUTE_ROLES``), so that the navigation and the access table cannot disagree."""


def _nav(role: Role | str | None) -> list[tuple[str, str]]:
    """The main navigation of ``role``: (page, name) of each page of :data:`NAV` that it may open."""
    if role is None:
        return []
    role = Role(role)
    return [
        (path, tenant_name if role is Role.TENANT and tenant_name else name)
        for path, name, tenant_name in NAV
        if _may_open(role, path)
    ]


TEMPLATES.globals["nav"] = _nav


def _may_open(role: Role | str | None, path: str) -> bool:
    """Whether ``role`` may open the page ``path`` (a route as ``ROUTE_ROLES`` names it, e.g.
    ``/dashboard/accounts/{account_id}``): a page links to another only for those it lets in."""
    from meshmeter.api.auth import ROUTE_ROLES

    return role is not None and Role(role) in ROUTE_ROLES.get(("GET", path), frozenset())


TEMPLATES.globals["may_open"] = _may_open


async def _login_form(request: Request) -> Response:
    """The sign-in form; with ``?code=``, the exchange of a sign-in link's code (:func:`_exchange_code`)."""
    wanted = safe_next(request.query_params.get("next"))
    code = request.query_params.get("code")
    if code is not None:
        return await _exchange_code(request, code.strip(), wanted)
    return render(request, "login.html", role=None, next=wanted, error=None)


def _too_many(retry_after: str) -> str:
    return f"Too many failed sign-ins from this address; try again in {retry_after} seconds."


def _make_admin_token(request: Request, label: str) -> str:
    _, token = request.app.state.store.create_api_token(role=Role.ADMIN.value, label=label)
    token_text: str = token
    return token_text


async def _exchange_code(request: Request, code: str, wanted: str) -> Response:
    """
    A sign-in link's code exchanged for the session cookie, once (:class:`SignInLinks`).

    As the form does, it refuses a request from another site (403; the code is not used, so the link
    pasted into the address bar still works) and an address that failed too often (429, before the code
    is looked up); a used, expired or unknown code shows the form with why (401), counts as a failure
    of the address, and sets nothing. A good one makes an admin token, sets it as the cookie, as the form
    sets its token, and redirects (303) to ``next`` or the landing page, which drops the code from the
    address bar. The code is never logged here.
    """
    reason = cross_site(request)
    if reason is not None:
        error = f"A sign-in link is not followed from another site ({reason}); paste it into the address bar."
        return render(request, "login.html", role=None, status=403, next=wanted, error=error)
    limiter = auth_limiter(request.app)
    address = client_address(request)
    retry_after_s = limiter.retry_after_s(address)
    if retry_after_s is not None:
        headers = {"Retry-After": str(retry_after_s)}
        error = _too_many(str(retry_after_s))
        return render(request, "login.html", role=None, status=429, headers=headers, next=wanted, error=error)
    try:
        label = _sign_in_links(request.app).redeem(code)
    except SignInLinkError as exc:
        limiter.record_failure(address)
        return render(request, "login.html", role=None, status=401, next=wanted, error=str(exc))
    token = await run_in_threadpool(_make_admin_token, request, label)  # the store is synchronous
    target = wanted if wanted != DASHBOARD_PREFIX else _landing(Role.ADMIN)
    return _signed_in(request, target, token)


def _check_token(request: Request, token: str) -> Role:
    """The role of a token, by the API's own rule (:func:`meshmeter.api.auth.authenticate`), failures
    counted against the request's address as on every route."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": request.url.path,
        "headers": [(b"authorization", f"Bearer {token}".encode())],
        "client": request.scope.get("client"),
    }
    app = request.app
    state = app.state
    return authenticate(Request(scope), state.store, state.admin_token, auth_limiter(app)).role


_SAME_ORIGIN_FETCH = frozenset({"same-origin", "none"})
"""``Sec-Fetch-Site`` values of a post made by this server's own page, or by the user (typed, bookmarked)."""


def _netloc(url: str) -> str | None:
    """The ``host[:port]`` of an http(s) URL as a browser sends it, lower case; None for anything else."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return parts.netloc.lower()


def cross_site(request: Request) -> str | None:
    """
    Why a post to the sign-in form comes from another site, or None when it does not.

    The browser's own headers are compared with the request's ``Host`` (what the browser addressed, which
    a reverse proxy must pass on): ``Sec-Fetch-Site``, when sent, must be ``same-origin`` or ``none``;
    ``Origin``, when sent, must be this host (``null`` never is); else ``Referer``, when sent, must be.
    A post with none of them is no browser's cross-site post (every current browser sends ``Origin`` on
    a cross-origin ``POST``), and is accepted: a script or curl may sign in, as it may call the API.
    """
    host = request.headers.get("host", "").strip().lower()
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.strip().lower() not in _SAME_ORIGIN_FETCH:
        return f"Sec-Fetch-Site is {fetch_site!r}"
    origin = request.headers.get("origin")
    if origin is not None:
        if not host or _netloc(origin.strip()) != host:
            return f"Origin {origin!r} is not this server"
        return None
    referer = request.headers.get("referer")
    if referer is not None and (not host or _netloc(referer.strip()) != host):
        return "the Referer is not this server"
    return None


def _secure_cookie(request: Request) -> bool:
    """Whether the session cookie carries ``Secure``: over https always, else by the settings
    (``MESHMETER_COOKIE_SECURE``; by default on outside development, for a TLS-ending proxy)."""
    if request.url.scheme == "https":
        return True
    settings = getattr(request.app.state, "settings", None)
    return isinstance(settings, Settings) and settings.session_cookie_secure


def _clear_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure_cookie(request)
    )


async def _login(request: Request) -> Response:
    reason = cross_site(request)
    if reason is not None:  # before reading the form: a cross-site post learns nothing, sets nothing
        raise Problem(403, f"a cross-site sign-in is refused ({reason})")
    body = bytearray()
    async for chunk in request.stream():  # read no more than the limit
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            raise Problem(413, f"the login form is larger than {_MAX_FORM_BYTES} bytes")
    form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    token = (form.get("token") or [""])[0].strip()
    wanted = safe_next((form.get("next") or [""])[0])
    error = None
    status = 401
    headers: dict[str, str] = {}
    role: Role | None = None
    if not token:
        error = "Enter an API token."
    else:
        try:
            role = await run_in_threadpool(_check_token, request, token)  # the store is synchronous
        except Problem as exc:
            if exc.status_code == 429:
                status, headers = 429, dict(exc.headers or {})
                error = _too_many(headers.get("Retry-After", "a few"))
            else:
                error = "That token is not valid (unknown or revoked)."
    if role is None:
        return render(
            request, "login.html", role=None, status=status, headers=headers, next=wanted, error=error
        )
    target = wanted if wanted != DASHBOARD_PREFIX else _landing(role)
    return _signed_in(request, target, token)


def _signed_in(request: Request, target: str, token: str) -> Response:
    """The redirect (303) to ``target`` that sets the session cookie holding ``token``: the one way both
    the form and a sign-in link sign a browser in."""
    response = RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure_cookie(request),
    )
    return response


async def _logout(request: Request) -> Response:
    response = RedirectResponse(f"{DASHBOARD_PREFIX}/login", status_code=303, headers=SECURITY_HEADERS)
    _clear_session(request, response)
    return response


async def _static(request: Request) -> Response:
    name = request.path_params["name"]
    asset = _ASSETS.get(name)
    if asset is None:
        raise Problem(404, f"no static file {name!r}")
    path, media_type = asset
    return FileResponse(
        path,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


async def _root(request: Request) -> Response:
    """The server's root leads to the dashboard."""
    return RedirectResponse(DASHBOARD_PREFIX, status_code=307)


async def _favicon(request: Request) -> Response:
    """No icon (204): browsers ask for one on every page, the printable bill's included."""
    return Response(status_code=204, headers={"Cache-Control": "public, max-age=86400"})


def _wants_html(request: Request) -> bool:
    return request.url.path.startswith(DASHBOARD_PREFIX) and "text/html" in request.headers.get("accept", "")


def install_dashboard(app: FastAPI) -> None:
    """
    Add the dashboard's public routes, and answer a browser's errors on its pages with HTML.

    The public routes carry no data: ``GET``/``POST /dashboard/login`` (``GET`` with ``?code=``: a sign-in
    link, :func:`sign_in_link`, whose codes the app keeps in ``app.state.sign_in_links``),
    ``POST /dashboard/logout``,
    ``GET /dashboard/static/{name}``, ``GET /favicon.ico`` (204, no icon) and ``GET /`` (307 to the
    dashboard). A browser
    (``Accept: text/html``) asking for a page without a valid session is sent to the login form (303)
    and its stale cookie cleared; a 403 or 404 gets an HTML page. Other clients keep the API's problem
    documents.
    """
    app.state.sign_in_links = SignInLinks()
    app.router.routes.extend(
        [
            Route(f"{DASHBOARD_PREFIX}/login", _login_form, methods=["GET"], name="dashboard-login-form"),
            Route(f"{DASHBOARD_PREFIX}/login", _login, methods=["POST"], name="dashboard-login"),
            Route(f"{DASHBOARD_PREFIX}/logout", _logout, methods=["POST"], name="dashboard-logout"),
            Route(f"{DASHBOARD_PREFIX}/static/{{name}}", _static, methods=["GET"], name="dashboard-static"),
            Route("/favicon.ico", _favicon, methods=["GET"], name="favicon"),
            Route("/", _root, methods=["GET"], name="root"),
        ]
    )
    previous: Callable[[Request, Exception], Any] = app.exception_handlers[StarletteHTTPException]

    async def _http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if not _wants_html(request) or exc.status_code not in (401, 403, 404, 413, 429):
            answer: Response | JSONResponse = await previous(request, exc)
            return answer
        if exc.status_code == 401:
            target = f"{DASHBOARD_PREFIX}/login?next={quote(safe_next(str(request.url.path)), safe='/')}"
            response = RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
            if SESSION_COOKIE in request.cookies:
                _clear_session(request, response)
            return response
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return render(
            request,
            "error.html",
            role=getattr(request.state, "role", None),  # set once the caller's token was checked
            status=exc.status_code,
            headers=exc.headers,
            status_code=exc.status_code,
            detail=detail,
        )

    app.add_exception_handler(StarletteHTTPException, _http_error)
