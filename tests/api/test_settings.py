"""Settings from the environment; production refuses to start without a real bootstrap admin token."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from meshmeter.api import Settings, create_app

GOOD = "k" * 40


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in (
        "MESHMETER_ENVIRONMENT",
        "MESHMETER_ADMIN_TOKEN",
        "MESHMETER_DATABASE_URL",
        "MESHMETER_ALERT_CHECK_S",
        "MESHMETER_SILENCE_S",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_development_without_token():
    settings = Settings()
    assert settings.environment == "development"
    assert settings.admin_token is None
    assert settings.database_url is None


def test_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MESHMETER_ENVIRONMENT", "production")
    monkeypatch.setenv("MESHMETER_ADMIN_TOKEN", GOOD)
    monkeypatch.setenv("MESHMETER_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    settings = Settings()
    assert settings.environment == "production"
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == GOOD
    assert GOOD not in repr(settings)


@pytest.mark.parametrize(
    ("token", "match"),
    [(None, "must be set in production"), ("changethis", "placeholder"), ("short", "at least 32")],
)
def test_production_refuses_a_missing_or_weak_admin_token(token, match):
    with pytest.raises(ValidationError, match=match):
        Settings(environment="production", admin_token=token)


def test_development_accepts_a_weak_token_with_a_warning():
    with pytest.warns(UserWarning, match="placeholder"):
        Settings(admin_token="changethis")


def test_unknown_environment_is_refused():
    with pytest.raises(ValidationError, match="environment"):
        Settings(environment="staging")


def test_create_app_refuses_to_start_in_production_without_token(monkeypatch, tmp_path):
    monkeypatch.setenv("MESHMETER_ENVIRONMENT", "production")
    monkeypatch.setenv("MESHMETER_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ValidationError, match="MESHMETER_ADMIN_TOKEN"):
        create_app()
    assert not (tmp_path / "x.db").exists(), "nothing is opened before the settings are checked"


def test_create_app_opens_and_closes_its_own_store(monkeypatch, tmp_path):
    from tests.api.conftest import TestClient

    monkeypatch.setenv("MESHMETER_ENVIRONMENT", "production")
    monkeypatch.setenv("MESHMETER_ADMIN_TOKEN", GOOD)
    monkeypatch.setenv("MESHMETER_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    app = create_app()
    with TestClient(app) as client:
        response = client.get("/sites", headers={"Authorization": f"Bearer {GOOD}"})
        assert response.json() == {"data": [], "count": 0}
    assert (tmp_path / "x.db").exists()


def test_alert_checks_are_read_and_checked(monkeypatch):
    assert (Settings().alert_check_s, Settings().silence_s) == (300.0, 7200.0)
    monkeypatch.setenv("MESHMETER_ALERT_CHECK_S", "30")
    monkeypatch.setenv("MESHMETER_SILENCE_S", "3600")
    assert (Settings().alert_check_s, Settings().silence_s) == (30.0, 3600.0)
    for name, value in (
        ("MESHMETER_ALERT_CHECK_S", "-1"),
        ("MESHMETER_ALERT_CHECK_S", "nan"),
        ("MESHMETER_SILENCE_S", "0"),
    ):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValidationError, match=name.removeprefix("MESHMETER_").lower()):
            Settings()
        monkeypatch.setenv(name, "30")


def test_the_app_checks_communication_while_it_serves(tmp_path):
    """A meter silent longer than silence_s gets its alert without a request asking for it."""
    import time
    from datetime import UTC, datetime, timedelta

    from meshmeter.headend.alerts import active_alerts
    from meshmeter.store import Store
    from tests.api.conftest import TestClient

    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        meter = store.create_meter(serial="W1", designation="MM-D1202001-T-SCC", ct_ratio=2000)
        old = datetime.now(UTC).replace(second=0, microsecond=0, minute=0) - timedelta(days=1)
        store.insert_raw_intervals(meter_id=meter.id, rows=[(old, 10)], source="test")
        app = create_app(store, Settings(alert_check_s=0.05, silence_s=3600))
        with TestClient(app):
            watch = app.state.communication_watch
            deadline = time.monotonic() + 10
            while not active_alerts(store) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert [a.meter_id for a in active_alerts(store)] == [meter.id]
            assert watch.running
        assert not watch.running  # stopped at shutdown
        assert create_app(store, Settings(alert_check_s=0)).state.store is store
    finally:
        store.close()
