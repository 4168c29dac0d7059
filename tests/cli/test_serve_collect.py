"""``meshmeter serve --collect`` (issue 14): the API, the dashboard and the collector in one process, run
as a user runs it (a subprocess), over a pulse counter on the real Mosquitto broker
(``MESHMETER_TEST_MQTT_URL``).

The counter is a Tasmota device publishing ``tele/<topic>/SENSOR`` with ``{"Time":...,"COUNTER":{"C1":n}}``
(https://tasmota.github.io/docs/MQTT/, "tele" telemetry; https://tasmota.github.io/docs/Commands/
``Counter<x>``; ``Time`` is the device's local time, here set to UTC), counting the Mini Meter's output "10":
one pulse per 10 Wh (manual §3.2).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from meshmeter.headend.mqtt import parse_mqtt_url
from meshmeter.services.sources import add_source
from meshmeter.store import Store
from tests.headend.conftest import mqtt_url

__all__ = ["mqtt_url"]  # a fixture of these tests

TOKEN = "serve-collect-" + "c" * 40


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _serve(db: Path, port: int, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MESHMETER_ADMIN_TOKEN": TOKEN, "MESHMETER_ENVIRONMENT": "development"}
    command = [
        sys.executable,
        "-m",
        "meshmeter",
        "serve",
        "--port",
        str(port),
        "--database",
        f"sqlite:///{db}",
    ]
    return subprocess.Popen(
        [*command, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


def _wait_line(process: subprocess.Popen[bytes], text: str, timeout_s: float = 30.0) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline().decode()
        if text in line:
            return line
        if not line and process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"serve ended before {text!r}: {err}")
    raise AssertionError(f"serve did not print {text!r} within {timeout_s} s")


def _stop(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    """SIGTERM, as a service manager stops it; its exit status and what it wrote on stderr."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _out, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        _out, err = process.communicate()
        raise
    return process.returncode, err.decode()


def test_serve_collects_and_serves_the_sources_health(tmp_path: Path, mqtt_url: str) -> None:
    db = tmp_path / "serve.db"
    device = f"serve{secrets.token_hex(4)}"  # a topic of this test alone on the shared broker
    with Store(f"sqlite:///{db}") as store:
        site = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
        meter = store.create_meter(
            serial="MM-4A", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id
        )
        channel = {"device": device, "channel": "C1", "meter": "MM-4A", "unit": "pulse", "wh_per_unit": 10}
        source = add_source(
            store, site_id=site.id, name="tasmota-4a", kind="mqtt", format="tasmota_counter",
            address=mqtt_url, settings={"timezone": "UTC"}, channels=[channel],
        )  # fmt: skip
    port = _free_port()
    process = _serve(db, port, "--collect")
    try:
        line = _wait_line(process, "collecting from")
        assert "1 source(s): tasmota-4a" in line
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        deadline = time.monotonic() + 20
        while True:  # uvicorn listens a moment after the collector started
            try:
                if httpx.get(f"{base}/sites/{site.id}/sources", headers=headers).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the API did not answer"
            time.sleep(0.2)
        # five telemetry messages, ten minutes apart, 3 pulses a minute (30 Wh/min: 450 Wh a quarter hour)
        start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=45)
        host, mqtt_port, *_ = parse_mqtt_url(mqtt_url)
        publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"serve-test-{device}")
        publisher.connect(host, mqtt_port)
        publisher.loop_start()
        try:
            for k in range(5):
                at = start + timedelta(minutes=10 * k)
                body = {"Time": at.strftime("%Y-%m-%dT%H:%M:%S"), "COUNTER": {"C1": 30 * k}}
                publisher.publish(f"tele/{device}/SENSOR", json.dumps(body), qos=1).wait_for_publish(5)
            publisher.publish(f"tele/{device}/SENSOR", b'{"Time":"2026-', qos=1).wait_for_publish(5)
        finally:
            publisher.loop_stop()
            publisher.disconnect()
        deadline = time.monotonic() + 20
        while True:
            got = httpx.get(f"{base}/sources/{source.id}", headers=headers).json()
            if got["readings"] >= 5 and got["rejected"]:
                break
            assert time.monotonic() < deadline, f"the collector did not take the messages: {got}"
            time.sleep(0.2)
        assert got["state"] == "ok"
        assert got["readings"] == 5
        assert got["rejected"] == {"malformed": 1}
        assert f"tele/{device}/SENSOR" in got["last_error"]
        assert datetime.fromisoformat(got["last_reading_at"]) == start + timedelta(minutes=40)
        [fed] = got["channels"]
        assert (fed["meter"], fed["position"]["raw"]) == ("MM-4A", "120")
        listed = httpx.get(f"{base}/sites/{site.id}/sources", headers=headers).json()
        assert listed["data"] == [got | {"silence_s": listed["data"][0]["silence_s"]}]
        page = httpx.get(f"{base}/dashboard/sources", headers=headers)
        assert page.status_code == 200
        assert '<span class="badge ok state">reporting</span>' in page.text
    finally:
        status, err = _stop(process)
    assert status == 0, err
    assert "Traceback" not in err
    # what it collected is stored on the meter's grid: each quarter hour between the readings 450 Wh
    with Store(f"sqlite:///{db}") as store:
        rows = store.raw_intervals(meter_id=meter.id, start=start, end=start + timedelta(hours=1))
        assert store.get_source(source_id=source.id).readings == 5
    assert rows
    assert [r.energy_wh for r in rows] == [450] * len(rows)
    assert rows[-1].interval_end <= start + timedelta(minutes=40)


def test_serve_refuses_collect_without_a_source_and_a_site_without_collect(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    with Store(f"sqlite:///{db}") as store:
        store.create_site(name="Oak Court", timezone="America/Los_Angeles")
    for args, message in (
        (["--collect"], "no source to run"),
        (["--collect", "--collect-site", "Elm House"], "'Elm House' is not a site"),
        (["--collect-site", "Oak Court"], "--collect-site needs --collect"),
    ):
        process = _serve(db, _free_port(), *args)
        try:
            process.wait(timeout=30)
        finally:
            status, err = _stop(process)
        assert status == 2, (args, err)
        assert message in " ".join(err.split()), (args, err)
