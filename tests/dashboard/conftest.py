"""Fixtures of the dashboard's tests: a small simulated site in a SQLite store, the app over it; the demo
building of ``meshmeter demo`` (:mod:`tests.dashboard.tenant_world`, the fixture ``world``), the app over it
(``world_client``, and served: ``world_url``), a role's token and bearer header, the session cookie of a role
(:func:`signed_in`), the problems a refused form names (:func:`named_problems`) and what a form may change
(:func:`snapshot`).

The browser tests (marker ``browser``) drive Debian's chromium (``/usr/bin/chromium``) with Playwright
against the app served by uvicorn on a free port; they are skipped when chromium is missing, and fail
in CI (``CI=true``), whose ``.ci/run`` installs it. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import html
import os
import re
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from meshmeter.api import Settings, create_app
from meshmeter.store import Store
from tests.dashboard.site import DemoSite, build_site
from tests.dashboard.tenant_world import World, build_world
from tests.store.conftest import postgres_schema_url

__all__ = [
    "ADMIN_TOKEN",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "REFUSED_IN_CONSOLE",
    "SCREENSHOTS",
    "bearer",
    "named_problems",
    "no_sideways_scroll",
    "postgres_schema_url",
    "sign_in",
    "signed_in",
    "snapshot",
    "token",
]

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

ADMIN_TOKEN = "dashboard-admin-" + "b" * 40
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
REFUSED_IN_CONSOLE = "Failed to load resource: the server responded with a status of 400 (Bad Request)"
"""What chromium logs for the page of a refused form (a 400): the one console error a refusal brings."""


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, DemoSite]]:
    """A store holding the small simulated site (built once per module)."""
    path = tmp_path_factory.mktemp("dashboard") / "meshmeter.db"
    store = Store(f"sqlite:///{path}")
    try:
        yield store, build_site(store)
    finally:
        store.close()


@pytest.fixture(scope="module")
def client(demo_store: tuple[Store, DemoSite]) -> Iterator[TestClient]:
    store, site = demo_store
    app = create_app(
        store, Settings(admin_token=ADMIN_TOKEN, environment="development"), bills=lambda: site.bills
    )
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, World]]:
    """The demo building of ``meshmeter demo`` with a token of each role (built once per module)."""
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('world') / 'demo.sqlite'}")
    try:
        yield store, build_world(store)
    finally:
        store.close()


def _world_app(store: Store) -> FastAPI:
    return create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))


@pytest.fixture(scope="module")
def world_client(world: tuple[Store, World]) -> Iterator[TestClient]:
    """The app over the demo building. Redirects are not followed: a form's answer is its own (a 303 when
    done, the page naming the problems when refused)."""
    with TestClient(_world_app(world[0]), follow_redirects=False) as c:
        yield c


@pytest.fixture(scope="module")
def world_url(world: tuple[Store, World]) -> Iterator[str]:
    """The app over the demo building, served by uvicorn; its base URL."""
    with serve(_world_app(world[0])) as url:
        yield url


def token(world: tuple[Store, World], who: str) -> str:
    """The token of ``who``: ``admin`` (the admin token) or a key of :attr:`World.tokens`."""
    return ADMIN_TOKEN if who == "admin" else world[1].tokens[who]


def bearer(world: tuple[Store, World], who: str) -> dict[str, str]:
    """The ``Authorization`` header of ``who``'s token, as a program sends it."""
    return {"Authorization": f"Bearer {token(world, who)}"}


@contextmanager
def signed_in(client: TestClient, world: tuple[Store, World], who: str = "admin") -> Iterator[TestClient]:
    """The client with the session cookie of ``who``, as the dashboard's forms post."""
    client.cookies.set("meshmeter_session", token(world, who))
    try:
        yield client
    finally:
        client.cookies.clear()


def named_problems(page: str, box: str) -> list[str]:
    """The problems a refused form's page names, as it shows them: the items of the first list after
    ``box``, a piece of the opening tag of the box that holds them (``'id="register-errors"'``)."""
    start = page.find(box)
    assert start >= 0, f"the page names no problem (no {box})"
    end = page.index("</ul>", start)
    return [html.unescape(li) for li in re.findall(r"<li>(.*?)</li>", page[start:end], flags=re.S)]


def snapshot(store: Store) -> tuple[Any, ...]:
    """What a dashboard form may change: the meters and their changes, the sources and their channels, the
    tenants, accounts, units, occupancies and their history, and the accounts' tariffs."""
    meters = store.meters()
    return (
        [(m.serial, m.designation, m.ct_ratio, m.multiplier, m.role, m.site_id) for m in meters],
        store.meter_changes(meter_ids=[m.id for m in meters]),
        [(s.name, s.kind, s.format, s.address, s.enabled, s.settings) for s in store.sources()],
        store.source_channels(),
        store.tenants(),
        store.accounts(),
        store.units(),
        store.occupancies(),
        store.tenancy_history(),
        store.account_tariffs(),
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port of 127.0.0.1, in a thread; its base URL."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(demo_store: tuple[Store, DemoSite]) -> Iterator[str]:
    """The app over the small site, with its bills, served by uvicorn; its base URL."""
    store, site = demo_store
    app = create_app(
        store, Settings(admin_token=ADMIN_TOKEN, environment="development"), bills=lambda: site.bills
    )
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium under Playwright (never ``playwright install``)."""
    if not CHROMIUM.exists():
        message = f"the browser tests need {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def sign_in(ctx: Any, base_url: str, token: str, errors: list[str]) -> Any:
    """A new page of the browser context ``ctx``, signed in with ``token`` through the sign-in form; its
    console errors and uncaught exceptions go to ``errors``."""
    page = ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/dashboard/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/dashboard")
    return page


def no_sideways_scroll(page: Any, width: int) -> None:
    """The page's document is no wider than the viewport's ``width``: it never scrolls sideways. [px]"""
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll} px wide at {width} px"


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
