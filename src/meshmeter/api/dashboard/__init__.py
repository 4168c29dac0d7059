"""The web dashboard: Jinja2 templates, the static assets, the login form, and the glue to the app.

The pages themselves are API routes (``meshmeter.api.routes.dashboard``), each with its entry in
``ROUTE_ROLES``. This package adds what carries no data and needs no token: the login form, which sets
the HttpOnly session cookie :data:`~meshmeter.api.auth.SESSION_COOKIE`; sign-out; the stylesheet and
script; and plotly's JavaScript, served from the installed ``plotly`` package so that the dashboard works
with no internet (``docs/dashboard.md``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
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

from meshmeter.api.auth import SESSION_COOKIE, Role, auth_limiter, authenticate
from meshmeter.api.problems import Problem
from meshmeter.api.settings import Settings
from meshmeter.intervals import zone

__all__ = [
    "DASHBOARD_PREFIX",
    "PLOTLY_JS",
    "SECURITY_HEADERS",
    "SESSION_MAX_AGE_S",
    "cross_site",
    "install_dashboard",
    "render",
    "safe_next",
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
        The request (its path marks the current page in the navigation bar).
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
        request_path=request.url.path, role=None if role is None else role.value, **context
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


_MAX_FORM_BYTES = 4096
"""Largest login form accepted. [byte]"""


def _landing(role: Role) -> str:
    return f"{DASHBOARD_PREFIX}/bills" if role in (Role.BILLING, Role.TENANT) else DASHBOARD_PREFIX


async def _login_form(request: Request) -> Response:
    return render(
        request, "login.html", role=None, next=safe_next(request.query_params.get("next")), error=None
    )


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
                error = (
                    "Too many failed sign-ins from this address; "
                    f"try again in {headers.get('Retry-After', 'a few')} seconds."
                )
            else:
                error = "That token is not valid (unknown or revoked)."
    if role is None:
        return render(
            request, "login.html", role=None, status=status, headers=headers, next=wanted, error=error
        )
    target = wanted if wanted != DASHBOARD_PREFIX else _landing(role)
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

    The public routes carry no data: ``GET``/``POST /dashboard/login``, ``POST /dashboard/logout``,
    ``GET /dashboard/static/{name}``, ``GET /favicon.ico`` (204, no icon) and ``GET /`` (307 to the
    dashboard). A browser
    (``Accept: text/html``) asking for a page without a valid session is sent to the login form (303)
    and its stale cookie cleared; a 403 or 404 gets an HTML page. Other clients keep the API's problem
    documents.
    """
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
            role=None,
            status=exc.status_code,
            headers=exc.headers,
            status_code=exc.status_code,
            detail=detail,
        )

    app.add_exception_handler(StarletteHTTPException, _http_error)
