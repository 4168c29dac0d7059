"""The sign-in form over HTTP (in process): cross-site posts refused, the session cookie ``Secure`` behind
TLS, failed sign-ins limited per address (issue 12, defect 10)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from meshmeter.api import Settings, create_app
from meshmeter.api.auth import SESSION_COOKIE
from tests.dashboard.conftest import ADMIN_TOKEN

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

HTML = {"Accept": "text/html,application/xhtml+xml"}
FORM = {"token": ADMIN_TOKEN, "next": "/dashboard"}


def _client(demo_store: Any, base_url: str = "http://testserver", **settings: Any) -> Iterator[TestClient]:
    store, _site = demo_store
    settings.setdefault("environment", "development")
    app = create_app(store, Settings(admin_token=ADMIN_TOKEN, **settings))
    with TestClient(app, base_url=base_url) as c:
        yield c


@pytest.fixture
def dev(demo_store: Any) -> Iterator[TestClient]:
    yield from _client(demo_store)


def _post(c: TestClient, headers: dict[str, str] | None = None, **form: str) -> Any:
    return c.post("/dashboard/login", data={**FORM, **form}, headers=headers or {}, follow_redirects=False)


# --- cross-site posts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "http://testserver:8000"},  # another port is another origin
        {"Origin": "null"},  # a sandboxed frame, a data: URL, a cross-site redirect
        {"Referer": "https://evil.example/login.html"},
        {"Origin": "https://evil.example", "Referer": "http://testserver/dashboard/login"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://testserver"},  # a sibling subdomain
    ],
)
def test_a_cross_site_post_is_refused(dev, headers):
    response = _post(dev, headers)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "cross-site" in response.json()["detail"]
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    # a browser gets a page saying so
    response = _post(dev, {**headers, **HTML})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://testserver"},
        {"Origin": "http://TestServer"},
        {"Referer": "http://testserver/dashboard/login?next=/dashboard/vee"},
        {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},  # typed by the user
        {},  # no browser: curl, a script (a browser sends Origin on every cross-origin POST)
    ],
)
def test_a_same_origin_post_signs_in(dev, headers):
    response = _post(dev, headers)
    assert response.status_code == 303, response.text
    assert response.headers["set-cookie"].startswith(f"{SESSION_COOKIE}={ADMIN_TOKEN};")


def test_the_origin_is_compared_with_the_requests_own_host(demo_store):
    for c in _client(demo_store, base_url="https://meters.example.org:8443"):
        assert _post(c, {"Origin": "https://meters.example.org:8443"}).status_code == 303
        assert _post(c, {"Origin": "https://meters.example.org"}).status_code == 403
        assert _post(c, {"Origin": "http://testserver"}).status_code == 403


# --- the Secure flag ------------------------------------------------------------------------------


def _cookie_flags(response: Any) -> list[str]:
    header = response.headers["set-cookie"]
    assert header.startswith(f"{SESSION_COOKIE}=")
    return [part.strip().lower() for part in header.split(";")[1:]]


def test_development_over_http_has_no_secure_flag(dev):
    flags = _cookie_flags(_post(dev))
    assert "secure" not in flags
    assert "httponly" in flags
    assert "samesite=strict" in flags


def test_production_sets_secure_by_default_behind_tls(demo_store):
    # A proxy ends TLS and talks plain http to the app: the request's scheme is http.
    for c in _client(demo_store, environment="production"):
        flags = _cookie_flags(_post(c))
        assert {"secure", "httponly", "samesite=strict", "path=/"} <= set(flags)
        # signing out clears the cookie with the same flags
        response = c.post("/dashboard/logout", follow_redirects=False)
        assert {"secure", "httponly", "samesite=strict"} <= set(_cookie_flags(response))


def test_the_secure_flag_is_a_setting(demo_store):
    for c in _client(demo_store, environment="production", cookie_secure=False):
        assert "secure" not in _cookie_flags(_post(c))
    for c in _client(demo_store, environment="development", cookie_secure=True):
        assert "secure" in _cookie_flags(_post(c))


@pytest.mark.parametrize("settings", [{"cookie_secure": False}, {}])
def test_https_always_sets_secure(demo_store, settings):
    for c in _client(demo_store, base_url="https://testserver", **settings):
        assert {"secure", "httponly", "samesite=strict"} <= set(_cookie_flags(_post(c)))


def test_cookie_secure_setting_from_the_environment(monkeypatch):
    monkeypatch.delenv("MESHMETER_COOKIE_SECURE", raising=False)
    assert Settings(environment="development").session_cookie_secure is False
    assert Settings(environment="production", admin_token="p" * 40).session_cookie_secure is True
    monkeypatch.setenv("MESHMETER_COOKIE_SECURE", "false")
    assert Settings(environment="production", admin_token="p" * 40).session_cookie_secure is False
    monkeypatch.setenv("MESHMETER_COOKIE_SECURE", "true")
    assert Settings(environment="development").session_cookie_secure is True


# --- failed sign-ins are limited ------------------------------------------------------------------


def test_failed_sign_ins_are_limited_per_address(demo_store):
    store, _site = demo_store
    app = create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development", auth_max_failures=3))
    attacker = TestClient(app, client=("203.0.113.9", 1))
    for _ in range(3):
        response = _post(attacker, token="mm_" + "z" * 43)
        assert response.status_code == 401
        assert "not valid" in response.text
    # now even the right token is refused from there, the form saying when to come back
    response = _post(attacker)
    assert response.status_code == 429
    assert response.headers["retry-after"].isdigit()
    assert "Too many" in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    # the API from that address is blocked too, and another address signs in
    assert attacker.get("/sites", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 429
    assert _post(TestClient(app, client=("198.51.100.9", 1))).status_code == 303
