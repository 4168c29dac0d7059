"""The one-time sign-in link (issue 15, "First contact"): ``meshmeter serve`` and ``meshmeter demo`` print
a link whose code, exchanged once at ``GET /dashboard/login?code=`` within 15 minutes, sets the same
session cookie as the form; a used, expired or unknown code signs no one in and counts against the
address, as a bad token does.

In process (TestClient), in Debian's chromium, and through the command itself run as a subprocess."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from meshmeter.api import Settings, create_app
from meshmeter.api.auth import SESSION_COOKIE, FailedAuthLimiter
from meshmeter.api.dashboard import (
    SECURITY_HEADERS,
    SESSION_MAX_AGE_S,
    SIGN_IN_LINK_TTL_S,
    SignInLinks,
    hide_sign_in_code,
    sign_in_link,
)
from meshmeter.cli.serve import SERVE_SIGN_IN_LABEL
from meshmeter.store import Store
from tests.dashboard.conftest import ADMIN_TOKEN, serve

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

HTML = {"Accept": "text/html,application/xhtml+xml"}
LABEL = "sign-in link test"
LINK_PREFIX = "/dashboard/login?code="


class Clock:
    """A monotonic clock the test moves by hand. [s]"""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(demo_store: Any, clock: Clock) -> Any:
    """A fresh app over the demo site: its own codes and its own limiter (3 failures in 60 s), on the
    test's clock."""
    store, _site = demo_store
    app = create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))
    app.state.sign_in_links = SignInLinks(clock=clock)
    app.state.auth_limiter = FailedAuthLimiter(max_failures=3, window_s=60.0, max_clients=100, clock=clock)
    return app


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def _path(link: str) -> str:
    """The path and query of a link, to request from the TestClient."""
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def _link(app: Any, **kwargs: Any) -> str:
    return _path(sign_in_link(app, host="127.0.0.1", port=8000, label=LABEL, **kwargs))


def _open(c: TestClient, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """A browser's first request for ``path``, with no cookie of this server."""
    c.cookies.clear()
    return c.get(path, headers={**HTML, **(headers or {})}, follow_redirects=False)


def _tokens(store: Store) -> list[Any]:
    return [t for t in store.api_tokens() if t.label == LABEL]


def _refused(response: httpx.Response, status: int, message: str) -> None:
    """The sign-in form, with the status and the error, and no cookie set."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert '<form method="post" action="/dashboard/login">' in response.text
    assert message in response.text
    assert "set-cookie" not in response.headers
    assert response.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]


# --- the exchange, in process -----------------------------------------------------------------------


def test_the_link_signs_in_once(app, client, demo_store):
    store, _site = demo_store
    before = len(_tokens(store))
    link = sign_in_link(app, host="127.0.0.1", port=8000, label=LABEL)
    assert link.startswith("http://127.0.0.1:8000/dashboard/login?code=")
    code = link.rpartition("=")[2]
    assert len(code) == 43
    assert ADMIN_TOKEN not in link
    assert len(_tokens(store)) == before  # nothing is made until the link is followed

    response = _open(client, _path(link))
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/dashboard"  # the code leaves the address bar
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    cookie = SimpleCookie(response.headers["set-cookie"])[SESSION_COOKIE]
    assert code not in cookie.value
    made = _tokens(store)
    assert len(made) == before + 1
    held = store.find_api_token(token=cookie.value)
    assert held is not None
    assert held.role == "admin"
    assert held.label == LABEL
    assert held.active
    page = client.get("/dashboard", headers=HTML)  # the cookie the browser now holds opens the overview
    assert page.status_code == 200
    assert "<h1>Overview</h1>" in page.text

    again = _open(client, _path(link))
    _refused(again, 401, "used already")
    assert len(_tokens(store)) == before + 1


def test_an_expired_code_is_refused(app, client, clock, demo_store):
    store, _site = demo_store
    before = len(_tokens(store))
    late, in_time = _link(app), _link(app)
    clock.now_s += SIGN_IN_LINK_TTL_S - 1
    assert _open(client, in_time).status_code == 303
    clock.now_s += 1
    _refused(_open(client, late), 401, "expired")
    assert len(_tokens(store)) == before + 1


def test_a_shorter_life_is_kept(app, client, clock):
    link = _link(app, ttl_s=60.0)
    clock.now_s += 60.0
    _refused(_open(client, link), 401, "expired")


@pytest.mark.parametrize("code", ["", "x", "A" * 43, "%00", "a" * 2000])
def test_an_unknown_code_is_refused(app, client, code, demo_store):
    store, _site = demo_store
    before = len(_tokens(store))
    _link(app)  # a good code exists; another one is not it
    _refused(_open(client, f"{LINK_PREFIX}{code}"), 401, "not valid here")
    assert len(_tokens(store)) == before


def test_wrong_codes_count_against_the_address_with_bad_tokens(app, client, clock):
    good = _link(app)
    _refused(_open(client, f"{LINK_PREFIX}guess-1"), 401, "not valid here")
    _refused(_open(client, f"{LINK_PREFIX}guess-2"), 401, "not valid here")
    form = client.post("/dashboard/login", data={"token": "mm_wrong", "next": "/dashboard"}, headers=HTML)
    assert form.status_code == 401  # the form's failure is the same limiter's third
    # the address is refused now, before the code is looked up: the good code is not spent
    response = _open(client, good)
    _refused(response, 429, "Too many failed sign-ins from this address; try again in 60 seconds.")
    assert response.headers["retry-after"] == "60"
    assert client.get("/meters", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 429
    clock.now_s += 60.0  # the first failure leaves the window
    assert _open(client, good).status_code == 303


def test_the_cookie_is_the_forms_own(demo_store, clock):
    """The same name, attributes and life as the form's cookie, over http and over https."""
    store, _site = demo_store
    for base_url, secure in (("http://testserver", False), ("https://testserver", True)):
        app = create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))
        with TestClient(app, base_url=base_url) as c:
            form = c.post(
                "/dashboard/login",
                data={"token": ADMIN_TOKEN, "next": "/dashboard"},
                headers=HTML,
                follow_redirects=False,
            )
            link = _open(c, _path(sign_in_link(app, host="testserver", port=80, label=LABEL)))
        assert form.status_code == link.status_code == 303
        by_form = SimpleCookie(form.headers["set-cookie"])[SESSION_COOKIE]
        by_link = SimpleCookie(link.headers["set-cookie"])[SESSION_COOKIE]
        assert dict(by_link) == dict(by_form)
        assert by_link["httponly"] is True
        assert by_link["samesite"] == "strict"
        assert by_link["path"] == "/"
        assert by_link["max-age"] == str(SESSION_MAX_AGE_S)
        assert bool(by_link["secure"]) is secure


@pytest.mark.parametrize(
    ("wanted", "location"),
    [
        ("/dashboard/vee?days=7", "/dashboard/vee?days=7"),
        ("/dashboard/bills", "/dashboard/bills"),
        ("https://evil.example/", "/dashboard"),
        ("//evil.example/dashboard", "/dashboard"),
        ("/dashboard/login?code=x", "/dashboard"),
        ("/dashboard\\..\\evil", "/dashboard"),
        ("", "/dashboard"),
    ],
)
def test_next_is_honoured_when_safe(app, client, wanted, location):
    response = _open(client, f"{_link(app)}&next={quote(wanted, safe='')}")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == location


def test_the_form_keeps_next_when_the_code_is_refused(app, client):
    response = _open(client, f"{LINK_PREFIX}nope&next=/dashboard/vee")
    _refused(response, 401, "not valid here")
    assert '<input type="hidden" name="next" value="/dashboard/vee">' in response.text


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "cross-site"}, {"Referer": "https://evil.example/page"}],
)
def test_a_link_followed_from_another_site_is_refused_unspent(app, client, headers, demo_store):
    store, _site = demo_store
    before = len(_tokens(store))
    link = _link(app)
    _refused(_open(client, link, headers), 403, "paste it into the address bar")
    assert len(_tokens(store)) == before
    assert _open(client, link, {"Sec-Fetch-Site": "none"}).status_code == 303  # typed or pasted


def test_the_form_without_a_code_is_unchanged(client):
    response = _open(client, "/dashboard/login?next=/dashboard/vee")
    assert response.status_code == 200
    assert 'role="alert"' not in response.text
    assert '<input type="hidden" name="next" value="/dashboard/vee">' in response.text


def test_a_wildcard_address_links_to_the_loopback(app):
    assert sign_in_link(app, host="0.0.0.0", port=8000, label=LABEL).startswith(
        "http://127.0.0.1:8000/dashboard/login?code="
    )
    assert sign_in_link(app, host="::", port=8001, label=LABEL).startswith("http://[::1]:8001/")
    assert sign_in_link(app, host="::1", port=8001, label=LABEL).startswith("http://[::1]:8001/")
    assert sign_in_link(app, host="meters.example", port=80, label=LABEL).startswith(
        "http://meters.example:80/"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"label": LABEL, "ttl_s": 0.0}, "ttl_s must be a positive number of seconds, got 0.0"),
        ({"label": LABEL, "ttl_s": float("nan")}, "ttl_s must be a positive number of seconds, got nan"),
        ({"label": " "}, "label must name the token to make, got ' '"),
    ],
)
def test_bad_arguments_of_a_code_are_refused(kwargs, message):
    links = SignInLinks()
    with pytest.raises(ValueError, match=message):
        links.issue(**kwargs)


def test_codes_are_hidden_from_the_access_log():
    line = "GET /dashboard/login?code=abcDEF-_123&next=/dashboard HTTP/1.1"
    assert hide_sign_in_code(line) == "GET /dashboard/login?code=…&next=/dashboard HTTP/1.1"
    assert hide_sign_in_code("/dashboard/login?next=/x&code=abc") == "/dashboard/login?next=/x&code=…"
    assert hide_sign_in_code("/dashboard/vee?days=7") == "/dashboard/vee?days=7"


# --- in a browser -------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
def test_the_printed_link_opens_the_overview_signed_in(browser, demo_store):
    store, _site = demo_store
    app = create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))
    with serve(app) as url:
        port = urlsplit(url).port
        assert port is not None
        link = sign_in_link(app, host="0.0.0.0", port=port, label=LABEL)
        ctx = browser.new_context()
        try:
            page = ctx.new_page()
            page.goto(link)
            page.wait_for_url(f"{url}/dashboard")
            assert page.locator("h1").first.inner_text() == "Overview"
            assert page.locator("button", has_text="Sign out").count() == 1
            cookie = next(c for c in ctx.cookies() if c["name"] == SESSION_COOKIE)
            assert cookie["httpOnly"]
            assert cookie["sameSite"] == "Strict"
            # the same link again, in another browser, signs no one in
            other = browser.new_context()
            try:
                second = other.new_page()
                answer = second.goto(link)
                assert answer is not None
                assert answer.status == 401
                assert "used already" in second.locator("[role=alert]").inner_text()
                assert [c for c in other.cookies() if c["name"] == SESSION_COOKIE] == []
            finally:
                other.close()
        finally:
            ctx.close()


# --- the commands, as subprocesses ----------------------------------------------------------------


class Running:
    """A ``meshmeter`` command running in a subprocess, its output lines read as they come."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "MESHMETER_ALERT_CHECK_S": "0", "NO_COLOR": "1", "COLUMNS": "200"}
        env.pop("MESHMETER_DATABASE_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "meshmeter", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(stream,), daemon=True)
            for stream in (self.process.stdout, self.process.stderr)
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.output.append(line)
            self.lines.put(line)

    def wait_for(self, text: str, *, within_s: float = 120.0) -> list[str]:
        """The lines read until one holds ``text`` (that one included); fails when the process ends
        first, or after ``within_s`` (a guard against a hung server, not a measure)."""
        seen: list[str] = []
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            seen.append(line)
            if text in line:
                return seen
        self.stop()
        pytest.fail(f"{text!r} never came; output:\n{''.join(self.output)}")

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(timeout=60)
        for reader in self._readers:
            reader.join(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return status


def _follow(link: str) -> httpx.Response:
    """A browser following the link: the exchange, then the page it is sent to, with the cookie."""
    with httpx.Client(headers=HTML) as browser:
        exchange = browser.get(link, follow_redirects=False)
        assert exchange.status_code == 303, exchange.text
        assert SESSION_COOKIE in browser.cookies
        base = link.split("/dashboard/login")[0]
        return browser.get(base + exchange.headers["location"])


def test_serve_prints_a_link_that_signs_in_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'served.sqlite'}"
    store = Store(url)
    ago = datetime.now(UTC) - timedelta(seconds=SESSION_MAX_AGE_S)
    stale, _ = store.create_api_token(role="admin", label=SERVE_SIGN_IN_LABEL, now=ago - timedelta(minutes=1))
    live, _ = store.create_api_token(role="admin", label=SERVE_SIGN_IN_LABEL, now=ago + timedelta(hours=1))
    other, _ = store.create_api_token(role="admin", label="front desk", now=ago - timedelta(days=30))
    store.close()

    server = Running("serve", "--host", "0.0.0.0", "--port", "0", "--database", url)
    try:
        seen = server.wait_for(LINK_PREFIX)
        assert "Open the dashboard (signed in as admin, link good once for 15 min):" in seen[-2]
        assert any("Uvicorn running on" in line for line in seen[:-2])  # printed once it listens
        link = seen[-1].strip()
        assert link.startswith("http://127.0.0.1:")
        page = _follow(link)
        assert page.status_code == 200
        assert "<h1>Overview</h1>" in page.text
        again = httpx.get(link, headers=HTML, follow_redirects=False)
        assert again.status_code == 401
        assert "used already" in again.text
        assert "set-cookie" not in again.headers
    finally:
        status = server.stop()
    assert status == 0
    output = "".join(server.output)
    code = link.rpartition("=")[2]
    assert output.count(code) == 1, output  # printed once, and never logged
    assert "/dashboard/login?code=…" in output  # the access log's request line, code hidden

    store = Store(url)
    try:
        tokens = {t.id: t for t in store.api_tokens()}
    finally:
        store.close()
    assert not tokens[stale.id].active  # its session ended: revoked at start
    assert tokens[live.id].active
    assert tokens[other.id].active
    made = [t for t in tokens.values() if t.id not in (stale.id, live.id, other.id)]
    assert [(t.role, t.label, t.active) for t in made] == [("admin", SERVE_SIGN_IN_LABEL, True)]


def test_serve_no_link_prints_and_makes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'served.sqlite'}"
    store = Store(url)
    stale, _ = store.create_api_token(
        role="admin", label=SERVE_SIGN_IN_LABEL, now=datetime.now(UTC) - timedelta(days=2)
    )
    store.close()
    server = Running("serve", "--no-link", "--port", "0", "--database", url)
    try:
        server.wait_for("Uvicorn running on")
    finally:
        status = server.stop()
    assert status == 0
    output = "".join(server.output)
    assert "code=" not in output
    assert "Open the dashboard" not in output
    store = Store(url)
    try:
        assert [(t.id, t.active) for t in store.api_tokens()] == [(stale.id, True)]
    finally:
        store.close()


@pytest.mark.slow
def test_demo_prints_a_link_that_signs_in(tmp_path):
    database = tmp_path / "demo.sqlite"
    demo = Running("demo", "--days", "1", "--port", "0", "--database", str(database))
    try:
        seen = demo.wait_for(LINK_PREFIX)
        message = "".join(seen[-3:])
        assert "until Ctrl-C; database " + str(database) in message
        assert "Open the dashboard (signed in as admin, link good once for 15 min):" in message
        assert not any("mm_" in line for line in seen)  # no token printed any more
        page = _follow(seen[-1].strip())
        assert page.status_code == 200
        assert "<h1>Overview</h1>" in page.text
    finally:
        status = demo.stop()
    assert status == -signal.SIGTERM, status  # uvicorn raises the signal again once it stopped
    store = Store(f"sqlite:///{database}")
    try:
        assert [(t.role, t.label) for t in store.api_tokens()] == [("admin", "meshmeter demo")]
    finally:
        store.close()
