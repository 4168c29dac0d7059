"""Failed authentications are limited per client address: after too many, 429 with ``Retry-After``,
before the token is even looked up, for that address only, with bounded memory (issue 12, defect 10)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from pydantic import ValidationError

from meshmeter.api import Settings, create_app
from meshmeter.api.problems import PROBLEM_JSON
from meshmeter.store import Store
from tests.api.conftest import ADMIN, ADMIN_TOKEN, bearer

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BAD = bearer("mm_" + "x" * 43)
ATTACKER = ("203.0.113.7", 40000)
NEIGHBOUR = ("198.51.100.2", 40001)


class Clock:
    """A clock the test moves by hand (no sleeping). [s]"""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _app(store: Store, **settings: Any) -> Any:
    return create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development", **settings))


def _from(app: Any, address: tuple[str, int]) -> TestClient:
    """A client of ``app`` calling from ``address`` (the app's lifespan is not needed here)."""
    return TestClient(app, client=address)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(store: Store, clock: Clock) -> Any:
    """An app allowing 3 failures per 60 s and tracking at most 4 addresses, on a hand-moved clock."""
    from meshmeter.api.auth import FailedAuthLimiter

    app = _app(store)
    app.state.auth_limiter = FailedAuthLimiter(max_failures=3, window_s=60, max_clients=4, clock=clock)
    return app


def _assert_429(response: Any) -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["status"] == 429
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after  # delay-seconds (RFC 9110 §10.2.3)
    return int(retry_after)


def test_a_flood_of_bad_tokens_is_answered_429_with_the_defaults(store):
    """The report: 1,000 bad tokens were all answered 401. With the default settings, 429 comes soon."""
    defaults = Settings()
    client = _from(_app(store), ATTACKER)
    statuses = [client.get("/sites", headers=BAD).status_code for _ in range(defaults.auth_max_failures + 1)]
    assert statuses == [401] * defaults.auth_max_failures + [429]
    retry_after = _assert_429(client.get("/sites", headers=BAD))
    assert 1 <= retry_after <= defaults.auth_failure_window_s


def test_a_blocked_address_is_refused_before_the_token_is_looked_up(app, store, monkeypatch):
    attacker = _from(app, ATTACKER)
    for _ in range(3):
        assert attacker.get("/sites", headers=BAD).status_code == 401
    looked_up: list[str] = []
    original = store.find_api_token
    monkeypatch.setattr(
        store, "find_api_token", lambda *, token: looked_up.append(token) or original(token=token)
    )
    token = store.create_api_token(role="read-only", label="good")[1]
    # even a correct token, even the bootstrap one, from the blocked address
    assert _assert_429(attacker.get("/sites", headers=bearer(token))) == 60
    _assert_429(attacker.get("/sites", headers=ADMIN))
    _assert_429(attacker.get("/sites", headers=BAD))
    assert looked_up == []
    # another address is not blocked: its correct token works, its bad one is a plain 401
    neighbour = _from(app, NEIGHBOUR)
    assert neighbour.get("/sites", headers=bearer(token)).status_code == 200
    assert neighbour.get("/sites", headers=ADMIN).status_code == 200
    assert neighbour.get("/sites", headers=BAD).status_code == 401
    assert looked_up == [token, "mm_" + "x" * 43]


def test_a_success_resets_no_counter(app):
    attacker, neighbour = _from(app, ATTACKER), _from(app, NEIGHBOUR)
    for _ in range(2):
        assert attacker.get("/sites", headers=BAD).status_code == 401
    assert neighbour.get("/sites", headers=ADMIN).status_code == 200  # someone else succeeds
    assert attacker.get("/sites", headers=ADMIN).status_code == 200  # and the attacker itself
    assert attacker.get("/sites", headers=BAD).status_code == 401  # the third failure
    _assert_429(attacker.get("/sites", headers=ADMIN))


def test_requests_without_a_token_are_not_counted(app):
    attacker = _from(app, ATTACKER)
    for _ in range(10):
        assert attacker.get("/sites").status_code == 401
        assert attacker.get("/sites", headers={"Authorization": "Basic dXNlcjpwYXNz"}).status_code == 401
    assert attacker.get("/sites", headers=ADMIN).status_code == 200


def test_failures_expire_after_the_window(app, clock):
    attacker = _from(app, ATTACKER)
    for _ in range(3):
        assert attacker.get("/sites", headers=BAD).status_code == 401
        clock.now += 10
    # failures at 1000, 1010, 1020; now 1030: the first leaves the window at 1060
    assert _assert_429(attacker.get("/sites", headers=ADMIN)) == 30
    clock.now += 29.5
    assert _assert_429(attacker.get("/sites", headers=ADMIN)) == 1  # rounded up, never 0
    clock.now += 0.5
    assert attacker.get("/sites", headers=ADMIN).status_code == 200
    assert attacker.get("/sites", headers=BAD).status_code == 401  # failures at 1010, 1020, 1060
    assert _assert_429(attacker.get("/sites", headers=ADMIN)) == 10


def test_memory_is_bounded(app, clock):
    limiter = app.state.auth_limiter
    for i in range(20):
        assert _from(app, (f"192.0.2.{i}", 1)).get("/sites", headers=BAD).status_code == 401
        assert len(limiter) <= 4
    # the most recent addresses are the ones kept: the last one still counts its failure
    last = _from(app, ("192.0.2.19", 1))
    for _ in range(2):
        assert last.get("/sites", headers=BAD).status_code == 401
    _assert_429(last.get("/sites", headers=BAD))
    # entries older than the window are dropped
    clock.now += 61
    assert _from(app, ATTACKER).get("/sites", headers=BAD).status_code == 401
    assert len(limiter) == 1


def test_the_limits_are_settings(monkeypatch):
    for name in (
        "MESHMETER_AUTH_MAX_FAILURES",
        "MESHMETER_AUTH_FAILURE_WINDOW_S",
        "MESHMETER_AUTH_MAX_CLIENTS",
    ):
        monkeypatch.delenv(name, raising=False)
    defaults = Settings()
    assert (defaults.auth_max_failures, defaults.auth_failure_window_s, defaults.auth_max_clients) == (
        10,
        300.0,
        10_000,
    )
    monkeypatch.setenv("MESHMETER_AUTH_MAX_FAILURES", "5")
    monkeypatch.setenv("MESHMETER_AUTH_FAILURE_WINDOW_S", "30")
    monkeypatch.setenv("MESHMETER_AUTH_MAX_CLIENTS", "100")
    settings = Settings()
    assert (settings.auth_max_failures, settings.auth_failure_window_s, settings.auth_max_clients) == (
        5,
        30.0,
        100,
    )
    for name, value in (
        ("auth_max_failures", 0),
        ("auth_failure_window_s", 0),
        ("auth_failure_window_s", float("inf")),
        ("auth_max_clients", 0),
    ):
        with pytest.raises(ValidationError):
            Settings(**{name: value})


def test_the_app_limits_by_its_settings(store):
    app = _app(store, auth_max_failures=2, auth_failure_window_s=20)
    attacker = _from(app, ATTACKER)
    assert [attacker.get("/sites", headers=BAD).status_code for _ in range(3)] == [401, 401, 429]
    assert 1 <= _assert_429(attacker.get("/sites", headers=BAD)) <= 20
    assert _from(app, NEIGHBOUR).get("/sites", headers=ADMIN).status_code == 200
