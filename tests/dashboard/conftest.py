"""Fixtures of the dashboard's tests: a small simulated site in a SQLite store, the app over it.

The browser tests (marker ``browser``) drive Debian's chromium (``/usr/bin/chromium``) with Playwright
against the app served by uvicorn on a free port; they are skipped when chromium is missing, and fail
in CI (``CI=true``), whose ``.ci/run`` installs it. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from meshmeter.api import Settings, create_app
from meshmeter.store import Store
from tests.dashboard.site import DemoSite, build_site
from tests.store.conftest import postgres_schema_url

__all__ = ["ADMIN_TOKEN", "CHROMIUM", "CHROMIUM_ARGS", "SCREENSHOTS", "postgres_schema_url"]

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

ADMIN_TOKEN = "dashboard-admin-" + "b" * 40
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


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


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
