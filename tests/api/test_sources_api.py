"""Sources of real readings through the API (issue 14): ``GET/POST /sites/{site_id}/sources``,
``GET/PATCH /sources/{source_id}``, ``POST /sources/{source_id}/channels``.

The readings are Tasmota ``tele/<topic>/SENSOR`` messages with a ``COUNTER`` (``{"Time":...,"COUNTER":
{"C1":123}}``, https://tasmota.github.io/docs/MQTT/ and https://tasmota.github.io/docs/Commands/ ``Counter``),
handled by the collector's own runner (:meth:`CollectorRunner.handle_message`, what it does with each message
its broker delivers). The Mini Meter's output "10" gives one pulse per 10 Wh (manual §3.2).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from meshmeter.collect.collector import Collector
from meshmeter.collect.runner import CollectorRunner
from tests.api.conftest import ADMIN, TestClient, bearer

TOPIC = "tele/unit4a/SENSOR"
_CHANNEL = {"device": "d", "channel": "C1", "meter": "M1", "unit": "pulse", "wh_per_unit": 10}


def _pulse_source(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "tasmota-4a",
        "kind": "mqtt",
        "format": "tasmota_counter",
        "address": "mqtt://127.0.0.1:1883",
        "settings": {"timezone": "UTC", "comm_loss_after_s": 1800},
        "channels": [
            {"device": "unit4a", "channel": "C1", "meter": "M1", "unit": "pulse", "wh_per_unit": 10},
            {"device": "unit4a", "channel": "C2", "meter": "M2", "unit": "pulse", "wh_per_unit": "10"},
        ],
    }
    return {**body, **changes}


def _tasmota(at: datetime, c1: int, c2: int) -> bytes:
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return json.dumps({"Time": stamp, "COUNTER": {"C1": c1, "C2": c2}}).encode()


def _sources(client: TestClient, site_id: int, headers: dict[str, str] = ADMIN) -> list[dict[str, Any]]:
    answer = client.get(f"/sites/{site_id}/sources", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["count"] == len(body["data"])
    data: list[dict[str, Any]] = body["data"]
    return data


def test_add_a_source_with_channels_then_list_it(client, store, site_data) -> None:
    answer = client.post(f"/sites/{site_data['la']}/sources", json=_pulse_source(), headers=ADMIN)
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert made["name"] == "tasmota-4a"
    assert (made["kind"], made["format"], made["address"]) == (
        "mqtt",
        "tasmota_counter",
        "mqtt://127.0.0.1:1883",
    )
    assert made["state"] == "never"
    assert made["readings"] == 0
    assert made["rejected"] == {}
    assert made["last_reading_at"] is None
    feeds = [(c["device"], c["channel"], c["meter"], c["unit"], c["wh_per_unit"]) for c in made["channels"]]
    assert feeds == [("unit4a", "C1", "M1", "pulse", "10"), ("unit4a", "C2", "M2", "pulse", "10")]
    # a pulse counter on MQTT restarts at 0 when it boots: resets by default (services.sources)
    assert all(c["resets"] for c in made["channels"])
    assert all(c["position"] is None for c in made["channels"])
    listed = _sources(client, site_data["la"])
    assert [s["id"] for s in listed] == [made["id"]]
    assert client.get(f"/sources/{made['id']}", headers=ADMIN).json() == listed[0]
    assert _sources(client, site_data["ny"]) == []
    stored = store.source_channels(source_id=made["id"])
    assert [c.meter_id for c in stored] == [site_data["m1"], site_data["m2"]]


def test_health_from_the_collectors_readings_and_refusals(client, store, site_data) -> None:
    made = client.post(f"/sites/{site_data['la']}/sources", json=_pulse_source(), headers=ADMIN).json()
    collector = Collector(store, site_id=site_data["la"])
    runner = CollectorRunner(collector)
    source = collector.sources[made["id"]]
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(minutes=40)
    for k in range(0, 41, 5):  # 3 pulses a minute on C1, 1 on C2
        runner.handle_message(
            source, TOPIC, _tasmota(start + timedelta(minutes=k), 3 * k, k), int(time.time() * 1000)
        )
    runner.handle_message(source, TOPIC, b'{"Time":', int(time.time() * 1000))  # cut short: malformed
    got = client.get(f"/sources/{made['id']}", headers=ADMIN).json()
    assert got["state"] == "ok"
    assert got["readings"] == 18  # 9 messages, 2 registers each
    assert got["rejected"] == {"malformed": 1}
    assert TOPIC in got["last_error"]
    assert datetime.fromisoformat(got["last_reading_at"]) == now
    assert 0 <= got["silence_s"] < 120
    positions = {c["channel"]: c["position"] for c in got["channels"]}
    assert positions["C1"]["raw"] == "120"
    assert positions["C2"]["raw"] == "40"
    # the intervals the readings closed, on M1's 15-minute grid: 45 pulses = 450 Wh each whole one
    rows = store.raw_intervals(meter_id=site_data["m1"], start=start, end=now)
    whole = [r.energy_wh for r in rows if start < r.interval_end - timedelta(minutes=15)]
    assert whole
    assert all(e == 450 for e in whole)


def test_a_source_silent_past_its_threshold_and_a_disabled_one(client, store, site_data) -> None:
    body = _pulse_source(settings={"timezone": "UTC", "comm_loss_after_s": 600})
    made = client.post(f"/sites/{site_data['la']}/sources", json=body, headers=ADMIN).json()
    collector = Collector(store, site_id=site_data["la"])
    runner = CollectorRunner(collector)
    heard = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    runner.handle_message(
        collector.sources[made["id"]], TOPIC, _tasmota(heard, 5, 5), int(time.time() * 1000)
    )
    got = client.get(f"/sources/{made['id']}", headers=ADMIN).json()
    assert got["state"] == "silent"
    assert 7200 <= got["silence_s"] < 7300
    changed = client.patch(f"/sources/{made['id']}", json={"enabled": False}, headers=ADMIN)
    assert changed.status_code == 200, changed.text
    assert changed.json()["state"] == "disabled"
    assert changed.json()["enabled"] is False
    assert store.get_source(source_id=made["id"]).enabled is False
    assert Collector(store, site_id=site_data["la"]).sources == {}  # the collector runs it no more


def test_every_problem_is_named_and_nothing_stored(client, store, site_data) -> None:
    body = _pulse_source(
        kind="mqtt",
        format="tasmota_countr",
        address="http://127.0.0.1:1883",
        channels=[
            {"device": "unit4a", "channel": "C1", "meter": "NOPE", "unit": "pulse", "wh_per_unit": 10},
            {"device": "unit4a", "channel": "C2", "meter": "M2", "unit": "pulse"},
        ],
    )
    answer = client.post(f"/sites/{site_data['la']}/sources", json=body, headers=ADMIN)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    detail = answer.json()["detail"]
    assert "format" in detail
    assert "tasmota_countr" in detail
    assert "address" in detail
    assert "'NOPE' is not a known meter" in detail
    assert store.sources() == []
    assert store.source_channels() == []
    # the store's checks name every channel's problems together
    body = _pulse_source(
        channels=[
            {"device": "d", "channel": "C1", "meter": "M1", "unit": "pulse"},
            {"device": "d", "channel": "C2", "meter": "M2", "unit": "watts", "wh_per_unit": 10},
            {"device": "d", "channel": "C3", "meter": "M3", "unit": "kWh", "max_apportion_s": 60},
        ]
    )
    detail = client.post(f"/sites/{site_data['la']}/sources", json=body, headers=ADMIN).json()["detail"]
    assert "channels[0]: wh_per_unit is required" in detail
    assert "channels[1]: " in detail
    assert "watts" in detail
    assert "channels[2]: meter 'M3' is not of the source's site" in detail
    assert "channels[2]: max_apportion_s must be at least the meter's interval (900 s)" in detail
    assert store.sources() == []
    assert store.source_channels() == []


def test_a_modbus_source_needs_its_map_and_unit_id(client, store, site_data) -> None:
    body = {
        "name": "sdm",
        "kind": "modbus_tcp",
        "format": "no-such-map",
        "address": "nowhere",
        "settings": {},
    }
    detail = client.post(f"/sites/{site_data['la']}/sources", json=body, headers=ADMIN).json()["detail"]
    assert "no-such-map" in detail
    assert "nowhere" in detail
    body = {**body, "kind": "lora"}
    answer = client.post(f"/sites/{site_data['la']}/sources", json=body, headers=ADMIN)
    assert answer.status_code == 400
    assert "lora" in answer.json()["detail"]
    assert store.sources() == []


def test_a_request_names_no_file_of_the_server(client, store, site_data, tmp_path) -> None:
    """An rtlamr file or a register map file is read by the server: a request may not name one (its lines
    would come back as refusals and errors); ``meshmeter source add``, run on the server, names them."""
    secret = tmp_path / "secret.toml"
    secret.write_text("password = 'hunter2'\n", encoding="utf-8")
    site = site_data["la"]
    for body in (
        {"name": "rtl", "kind": "rtlamr", "format": "rtlamr", "address": str(secret)},
        {"name": "sdm", "kind": "modbus_tcp", "format": str(secret), "address": "h:502"},
        {"name": "sdm", "kind": "modbus_rtu", "format": "maps/x.toml", "address": "/dev/ttyUSB0"},
    ):
        answer = client.post(f"/sites/{site}/sources", json=body, headers=ADMIN)
        assert answer.status_code == 400, answer.text
        assert "named on the server (meshmeter source add)" in answer.json()["detail"]
        assert "hunter2" not in answer.text
    assert store.sources() == []
    made = client.post(
        f"/sites/{site}/sources", json={"name": "rtl", "kind": "rtlamr", "format": "rtlamr", "address": "-"},
        headers=ADMIN,
    ).json()  # fmt: skip
    moved = client.patch(f"/sources/{made['id']}", json={"address": str(secret)}, headers=ADMIN)
    assert moved.status_code == 400
    assert "standard input" in moved.json()["detail"]
    assert store.get_source(source_id=made["id"]).address == "-"


def test_conflicts_with_stored_sources_are_409(client, store, site_data) -> None:
    site = site_data["la"]
    assert client.post(f"/sites/{site}/sources", json=_pulse_source(), headers=ADMIN).status_code == 201
    again = client.post(f"/sites/{site}/sources", json=_pulse_source(), headers=ADMIN)
    assert again.status_code == 409, again.text
    detail = again.json()["detail"]
    assert f"site {site} has a source named 'tasmota-4a' already" in detail
    assert "meter 'M1' is fed by a channel already" in detail
    assert "meter 'M2' is fed" in detail
    # with another problem besides, both are named
    both = client.post(
        f"/sites/{site}/sources", json=_pulse_source(format="nope", channels=[]), headers=ADMIN
    )
    assert both.status_code == 409
    assert "already" in both.json()["detail"]
    assert "nope" in both.json()["detail"]
    # another name, no channels: fine (the name is the site's own)
    other = client.post(f"/sites/{site_data['ny']}/sources", json=_pulse_source(channels=[]), headers=ADMIN)
    assert other.status_code == 201
    assert len(store.sources()) == 2
    assert len(store.source_channels()) == 2


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({**_pulse_source(), "colour": "red"}, "colour"),
        (_pulse_source(name=""), "name"),
        (_pulse_source(name="a\x00b"), "name"),
        (_pulse_source(enabled="maybe"), "enabled"),
        (
            _pulse_source(
                channels=[{"device": "d", "channel": "C1", "meter": "M1", "unit": "pulse", "x": 1}]
            ),
            "x",
        ),
        (
            _pulse_source(
                channels=[{"device": "d", "channel": "C1", "meter": "M1", "unit": "Wh", "max_apportion_s": 0}]
            ),
            "max_apportion_s",
        ),
        (_pulse_source(channels=[{**_CHANNEL, "wh_per_unit": -10}]), "wh_per_unit"),
        (_pulse_source(channels=[{**_CHANNEL, "wh_per_unit": "NaN"}]), "wh_per_unit"),
        (_pulse_source(channels=[{**_CHANNEL, "modulus": "1e999"}]), "modulus"),
    ],
)
def test_a_body_of_the_wrong_form_is_422(client, store, site_data, body, where) -> None:
    answer = client.post(f"/sites/{site_data['la']}/sources", json=body, headers=ADMIN)
    assert answer.status_code == 422, answer.text
    assert where in answer.json()["detail"]
    assert store.sources() == []


def test_unknown_site_or_source_is_404(client, site_data) -> None:
    assert client.get("/sites/999/sources", headers=ADMIN).status_code == 404
    assert client.post("/sites/999/sources", json=_pulse_source(), headers=ADMIN).status_code == 404
    for method, path, body in (
        ("GET", "/sources/999", None),
        ("PATCH", "/sources/999", {"enabled": True}),
        ("POST", "/sources/999/channels", {"device": "d", "channel": "c", "meter": "M1", "unit": "Wh"}),
    ):
        answer = client.request(method, path, json=body, headers=ADMIN)
        assert answer.status_code == 404, answer.text
        assert answer.json()["detail"] == "no source has id 999"


def test_patch_checks_the_address_for_the_kind_and_changes_nothing_when_bad(client, store, site_data) -> None:
    made = client.post(f"/sites/{site_data['la']}/sources", json=_pulse_source(), headers=ADMIN).json()
    path = f"/sources/{made['id']}"
    bad = client.patch(path, json={"address": "ftp://broker"}, headers=ADMIN)
    assert bad.status_code == 400
    assert "address" in bad.json()["detail"]
    assert client.patch(path, json={"enabled": None}, headers=ADMIN).status_code == 400
    assert client.patch(path, json={"settings": {"topic": "a\x00"}}, headers=ADMIN).status_code == 400
    assert client.patch(path, json={"name": "other"}, headers=ADMIN).status_code == 422
    assert store.get_source(source_id=made["id"]).address == "mqtt://127.0.0.1:1883"
    good = client.patch(
        path,
        json={"address": "mqtt://broker.local:1884", "settings": {"timezone": "America/Los_Angeles"}},
        headers=ADMIN,
    )
    assert good.status_code == 200, good.text
    assert (good.json()["address"], good.json()["settings"]) == (
        "mqtt://broker.local:1884",
        {"timezone": "America/Los_Angeles"},
    )
    assert good.json()["enabled"] is True
    assert store.get_source(source_id=made["id"]).address == "mqtt://broker.local:1884"


def test_map_one_more_channel(client, store, site_data) -> None:
    made = client.post(
        f"/sites/{site_data['la']}/sources", json=_pulse_source(channels=[]), headers=ADMIN
    ).json()
    path = f"/sources/{made['id']}/channels"
    spec = {"device": "unit4a", "channel": "C1", "meter": "M1", "unit": "pulse", "wh_per_unit": 10}
    answer = client.post(path, json=spec, headers=ADMIN)
    assert answer.status_code == 201, answer.text
    channel = answer.json()
    assert (channel["meter"], channel["meter_id"], channel["wh_per_unit"], channel["resets"]) == (
        "M1",
        site_data["m1"],
        "10",
        True,
    )
    # the same meter again, the same register again: refused by what is stored
    again = client.post(path, json={**spec, "channel": "C2"}, headers=ADMIN)
    assert again.status_code == 409
    assert "meter 'M1' is fed by a channel already" in again.json()["detail"]
    same = client.post(path, json={**spec, "meter": "M2"}, headers=ADMIN)
    assert same.status_code == 409
    assert "maps 'unit4a'/'C1' already" in same.json()["detail"]
    # bad input: every problem named
    bad = client.post(path, json={**spec, "meter": "NOPE", "msg_type": "XYZ"}, headers=ADMIN)
    assert bad.status_code == 400
    assert "'NOPE' is not a known meter" in bad.json()["detail"]
    assert "XYZ" in bad.json()["detail"]
    other_site = client.post(path, json={**spec, "channel": "C3", "meter": "M3"}, headers=ADMIN)
    assert other_site.status_code == 400
    assert "not of the source's site" in other_site.json()["detail"]
    missing = client.post(
        path, json={**spec, "channel": "C3", "meter": "M2", "wh_per_unit": None}, headers=ADMIN
    )
    assert missing.status_code == 400
    assert "wh_per_unit is required" in missing.json()["detail"]
    assert [c.meter_id for c in store.source_channels(source_id=made["id"])] == [site_data["m1"]]
    listed = client.get(f"/sources/{made['id']}", headers=ADMIN).json()
    assert [c["meter"] for c in listed["channels"]] == ["M1"]


def test_an_rtlamr_channel_takes_its_wrap_from_the_message_type(client, store, site_data) -> None:
    body = {"name": "rtl", "kind": "rtlamr", "format": "rtlamr", "address": "-"}
    made = client.post(f"/sites/{site_data['la']}/sources", json=body, headers=ADMIN).json()
    spec = {"device": "33333333", "channel": "consumption", "meter": "M2", "unit": "count", "wh_per_unit": 10}
    answer = client.post(f"/sources/{made['id']}/channels", json={**spec, "msg_type": "SCM"}, headers=ADMIN)
    assert answer.status_code == 201, answer.text
    assert answer.json()["modulus"] == str(2**24)  # SCM's consumption is 24 bits (rtlamr scm/scm.go)
    assert answer.json()["resets"] is False


def test_roles(client, store, site_data, tokens) -> None:
    site = site_data["la"]
    assert (
        client.post(
            f"/sites/{site}/sources", json=_pulse_source(), headers=bearer(tokens["operator"])
        ).status_code
        == 201
    )
    source_id = store.sources()[0].id
    for role in ("read-only", "operator", "admin"):
        assert client.get(f"/sites/{site}/sources", headers=bearer(tokens[role])).status_code == 200
        assert client.get(f"/sources/{source_id}", headers=bearer(tokens[role])).status_code == 200
    for role in ("read-only", "billing"):
        headers = bearer(tokens[role])
        assert (
            client.post(f"/sites/{site}/sources", json=_pulse_source(name="x"), headers=headers).status_code
            == 403
        )
        assert (
            client.patch(f"/sources/{source_id}", json={"enabled": False}, headers=headers).status_code == 403
        )
    assert client.get(f"/sites/{site}/sources", headers=bearer(tokens["billing"])).status_code == 403
    assert store.get_source(source_id=source_id).enabled is True
    assert len(store.sources()) == 1


def test_a_token_bound_to_a_site_sees_and_changes_its_sites_sources_only(client, store, site_data) -> None:
    la, ny = site_data["la"], site_data["ny"]
    mine = client.post(f"/sites/{la}/sources", json=_pulse_source(channels=[]), headers=ADMIN).json()
    theirs = client.post(
        f"/sites/{ny}/sources", json=_pulse_source(name="ny-pulses", channels=[]), headers=ADMIN
    ).json()
    oak = bearer(store.create_api_token(role="operator", site_ids=[la])[1])
    assert [s["name"] for s in _sources(client, la, oak)] == ["tasmota-4a"]
    assert client.get(f"/sites/{ny}/sources", headers=oak).status_code == 404
    assert client.get(f"/sources/{theirs['id']}", headers=oak).status_code == 404
    assert client.patch(f"/sources/{theirs['id']}", json={"enabled": False}, headers=oak).status_code == 404
    assert (
        client.post(
            f"/sites/{ny}/sources", json=_pulse_source(name="n", channels=[]), headers=oak
        ).status_code
        == 404
    )
    spec = {"device": "d", "channel": "c", "meter": "M3", "unit": "Wh"}
    assert client.post(f"/sources/{theirs['id']}/channels", json=spec, headers=oak).status_code == 404
    # a meter of the other site is unknown to it: named so, not as another site's
    answer = client.post(f"/sources/{mine['id']}/channels", json=spec, headers=oak)
    assert answer.status_code == 400
    assert "'M3' is not a known meter" in answer.json()["detail"]
    assert store.get_source(source_id=theirs["id"]).enabled is True
    assert store.source_channels() == []
    tenant = bearer(store.create_api_token(role="tenant", account_id=store.accounts()[0].id)[1])
    assert client.get(f"/sites/{la}/sources", headers=tenant).status_code == 403
    assert client.get(f"/sources/{mine['id']}", headers=tenant).status_code == 403


def test_the_openapi_document_names_the_routes(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/sites/{site_id}/sources"])
    assert {"get", "patch"} <= set(paths["/sources/{source_id}"])
    assert "post" in paths["/sources/{source_id}/channels"]
    assert "409" in paths["/sites/{site_id}/sources"]["post"]["responses"]
