"""GET /alerts and GET /network/health."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from meshmeter.amr.cit import CitReport
from meshmeter.amr.dcap import DcapEvent
from meshmeter.amr.frames import PowerLoss
from meshmeter.amr.records import TamperEvent
from meshmeter.api import Settings, create_app
from meshmeter.api.problems import PROBLEM_JSON
from meshmeter.headend.alerts import alerts_from_dcap, raise_alert
from tests.api.conftest import ADMIN, ADMIN_TOKEN, TestClient, bearer

EUI = bytes.fromhex("0011223344556677")
REPEATER = bytes.fromhex("aabbccddeeff0011")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
S0 = int(T0.timestamp())


@pytest.fixture
def with_alerts(store, site_data):
    """M1: a tamper raised then cleared, a reverse phase in force; a repeater without power."""
    m1 = {"M1": site_data["m1"]}
    alerts_from_dcap(
        store,
        [
            DcapEvent(EUI, 0.0, TamperEvent(S0, True)),
            DcapEvent(EUI, 0.0, TamperEvent(S0 + 60, False)),
            DcapEvent(REPEATER, 0.0, PowerLoss(S0 + 120, False)),
        ],
        eui_to_meter={EUI: m1["M1"]},
    )
    raise_alert(
        store, "reverse_phase", at=T0 + timedelta(hours=1), meter_id=m1["M1"], detail={"elements": [1]}
    )
    return m1


def test_alerts_in_force(client, with_alerts, tokens):
    body = client.get("/alerts", headers=bearer(tokens["read-only"])).json()
    assert body["count"] == 2
    kinds = [(a["kind"], a["active"], a["meter"], a["eui64"]) for a in body["data"]]
    assert kinds == [("repeater_power_loss", True, None, REPEATER.hex()), ("reverse_phase", True, "M1", None)]
    alert = body["data"][1]
    assert alert["at"] == "2026-01-01T01:00:00Z"
    assert alert["detail"]["elements"] == [1]
    assert alert["key"] == alert["detail"]["key"]


def test_alerts_include_cleared_and_since(client, with_alerts):
    every = client.get("/alerts", params={"include_cleared": "true"}, headers=ADMIN).json()
    assert [(a["kind"], a["active"]) for a in every["data"]] == [
        ("tamper", True),
        ("tamper", False),
        ("repeater_power_loss", True),
        ("reverse_phase", True),
    ]
    since = client.get("/alerts", params={"since": "2026-01-01T00:30:00Z"}, headers=ADMIN).json()
    assert [a["kind"] for a in since["data"]] == ["reverse_phase"]


def test_alerts_bad_since_is_400_and_billing_403(client, with_alerts, tokens):
    response = client.get("/alerts", params={"since": "yesterday"}, headers=ADMIN)
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    assert client.get("/alerts", headers=bearer(tokens["billing"])).status_code == 403


def test_alerts_also_appear_as_events(client, with_alerts):
    events = client.get("/events", params={"kind": "alert.reverse_phase"}, headers=ADMIN).json()
    assert events["count"] == 1


# -- network health --------------------------------------------------------------------------------------


def test_network_health_from_the_store(client, store, site_data, tokens):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    recent = now - timedelta(minutes=now.minute % 15 + 15)  # a quarter hour, 15 to 30 minutes ago
    store.insert_raw_intervals(meter_id=site_data["m2"], rows=[(recent, 50)], source="test")
    body = client.get("/network/health", headers=bearer(tokens["operator"])).json()
    assert body["silence_s"] == 7200
    assert body["network"] is None
    by_serial = {m["serial"]: m for m in body["meters"]}
    # M1's data is of March 2024: silent; M2 reported a quarter hour ago; M3 never did
    assert by_serial["M1"]["last_interval_end"] == "2024-03-04T08:00:00Z"
    assert by_serial["M1"]["silent"] is True
    assert by_serial["M2"]["silent"] is False
    assert 15 * 60 <= by_serial["M2"]["age_s"] <= 31 * 60
    assert by_serial["M3"]["last_interval_end"] is None
    assert body["silent"] == ["M1", "M3"]
    assert body["counts"] == {"meters": 3, "reporting": 1, "silent": 2, "never_heard": 1}


def test_network_health_threshold(client, site_data):
    body = client.get("/network/health", params={"silence_s": 10 * 366 * 86400}, headers=ADMIN)
    assert body.status_code == 422  # more than a year
    assert client.get("/network/health", params={"silence_s": 0}, headers=ADMIN).status_code == 422


def _report() -> CitReport:
    return CitReport(
        devices=(),
        mdts=10,
        repeaters=2,
        joined_mdts=9,
        joined_repeaters=2,
        intervals_due=900,
        intervals_due_joined=880,
        intervals_due_unjoined=96,
        delivered=891,
        delivered_on_time=870,
        duplicates=4,
        latency_s={"p50": 1.0, "p90": 2.0, "p99": 3.0, "max": 4.0},
        hop_histogram={1: 6, 2: 3},
        join_time_s={},
        rejected={"replay": 3, "bad_mic": 1},
        events={"tamper": 1},
        unjoined=({"eui64": "00", "suggestion": "add a repeater"},),
        simulated_s=86400.0,
        wall_s=None,
        sim_events=1000,
    )


def test_network_health_with_a_cit_report(store, site_data):
    reports = [_report()]
    app = create_app(
        store,
        Settings(admin_token=ADMIN_TOKEN, environment="development"),
        network_report=lambda: reports[-1],
    )
    with TestClient(app) as c:
        network = c.get("/network/health", headers=ADMIN).json()["network"]
        assert network["mdts"] == 10
        assert network["delivery_ratio"] == pytest.approx(891 / 900)
        assert network["on_time_ratio"] == pytest.approx(870 / 880)
        assert network["rejected"] == {"replay": 3, "bad_mic": 1}
        assert network["unjoined"] == 1
        reports.append(replace(_report(), delivered=900))
        assert c.get("/network/health", headers=ADMIN).json()["network"]["delivery_ratio"] == 1.0


def test_network_health_serves_the_stored_report_without_a_provider(client, store, site_data):
    assert client.get("/network/health", headers=ADMIN).json()["network"] is None
    early = datetime(2026, 1, 1, tzinfo=UTC)
    store.save_network_report(site=site_data["la"], report=_report(), taken_at=early)
    store.save_network_report(
        site=site_data["ny"], report=replace(_report(), delivered=900), taken_at=early + timedelta(hours=1)
    )
    network = client.get("/network/health", headers=ADMIN).json()["network"]
    assert (network["site_id"], network["delivery_ratio"]) == (site_data["ny"], 1.0)
    assert network["taken_at"] == "2026-01-01T01:00:00Z"
    network = client.get("/network/health", params={"site_id": site_data["la"]}, headers=ADMIN).json()
    assert network["network"]["delivery_ratio"] == pytest.approx(891 / 900)
    assert network["network"]["unjoined"] == 1
    # an id out of range is answered as an unknown one (issue 12)
    assert client.get("/network/health", params={"site_id": 0}, headers=ADMIN).status_code == 404
