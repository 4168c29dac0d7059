"""``meshmeter push`` tells a script about an outage (issue 12, defect 7).

0 only when nothing is left pending; 3 when the broker or the webhook target cannot be reached or
refuses (what is left pending is counted); 1 when messages are left pending after another error, or are
waiting for their next attempt. Against the real broker (``MESHMETER_TEST_MQTT_URL``), a port where
nothing listens, and a local HTTP receiver.
"""

from __future__ import annotations

import os
import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from meshmeter.cli import app
from meshmeter.headend.push import enqueue_intervals
from meshmeter.store import Store
from tests.headend.test_push import Planned, Receiver

ENV = {"COLUMNS": "100", "TERMINAL_WIDTH": "100", "NO_COLOR": "1", "TERM": "dumb"}
CLOSED_BROKER = "mqtt://127.0.0.1:1"
CLOSED_HOOK = "http://127.0.0.1:1/hook"
DAY = datetime(2026, 1, 1, tzinfo=UTC)

runner = CliRunner()


def run(*args: str) -> Result:
    return runner.invoke(app, list(args), env=ENV)


def queued(tmp_path: Path, channel: str, days: int = 2) -> str:
    """A store whose outbox holds one message per day of intervals, for ``channel``; its URL."""
    url = f"sqlite:///{tmp_path / 'push.db'}"
    with Store(url) as store:
        for day in range(days):
            start = DAY + timedelta(days=day)
            enqueue_intervals(
                store,
                meter_serial="MM00000007",
                intervals=[(start + timedelta(minutes=15 * n), 25) for n in range(1, 5)],
                channel=channel,
            )
    return url


def pending_of(result: Result) -> int:
    found = re.search(r"pending: (\d+)", result.output)
    assert found, result.output
    return int(found.group(1))


def test_unreachable_broker_exits_3_and_counts_pending(tmp_path: Path) -> None:
    url = queued(tmp_path, "mqtt")
    result = run("push", "--channel", "mqtt", "--url", CLOSED_BROKER, "--database", url)
    assert result.exit_code == 3, result.output
    assert pending_of(result) == 2
    assert "Traceback" not in result.output
    assert "127.0.0.1:1" in result.stderr  # what failed
    # at once again: the messages wait for their back-off; still pending, so not 0
    again = run("push", "--channel", "mqtt", "--url", CLOSED_BROKER, "--database", url)
    assert again.exit_code == 1, again.output
    assert pending_of(again) == 2


def test_unreachable_webhook_target_exits_3(tmp_path: Path) -> None:
    url = queued(tmp_path, "webhook", days=3)
    result = run("push", "--channel", "webhook", "--url", CLOSED_HOOK, "--database", url)
    assert result.exit_code == 3, result.output
    assert pending_of(result) == 3


def test_webhook_target_refusing_with_503_exits_3(tmp_path: Path) -> None:
    url = queued(tmp_path, "webhook")
    receiver = Receiver()
    try:
        receiver.plan = [Planned(status=503)]
        result = run("push", "--channel", "webhook", "--url", receiver.url, "--database", url)
    finally:
        receiver.stop()
    assert result.exit_code == 3, result.output
    assert pending_of(result) == 2


def test_webhook_refusing_a_message_leaves_it_pending_exit_1(tmp_path: Path) -> None:
    url = queued(tmp_path, "webhook")
    receiver = Receiver()
    try:
        receiver.plan = [Planned(status=400)]  # the first message refused, the second taken
        result = run("push", "--channel", "webhook", "--url", receiver.url, "--database", url)
    finally:
        receiver.stop()
    assert result.exit_code == 1, result.output
    assert pending_of(result) == 1
    assert "sent: 1" in result.output


def test_webhook_delivering_everything_exits_0(tmp_path: Path) -> None:
    url = queued(tmp_path, "webhook")
    receiver = Receiver()
    try:
        result = run("push", "--channel", "webhook", "--url", receiver.url, "--database", url)
    finally:
        receiver.stop()
    assert result.exit_code == 0, result.output
    assert pending_of(result) == 0
    assert "sent: 2" in result.output


def _broker() -> str:
    url = os.environ.get("MESHMETER_TEST_MQTT_URL")
    if not url:
        pytest.skip("needs MESHMETER_TEST_MQTT_URL (e.g. mqtt://127.0.0.1:1883)")
    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the MQTT broker at {url} cannot be reached: {exc}")
        pytest.skip(f"the MQTT broker at {url} cannot be reached: {exc}")
    return url


@pytest.mark.mqtt
def test_real_broker_takes_everything_exit_0_after_an_outage(tmp_path: Path) -> None:
    broker = _broker()
    url = queued(tmp_path, "mqtt")
    down = run("push", "--channel", "mqtt", "--url", CLOSED_BROKER, "--database", url)
    assert down.exit_code == 3, down.output
    with Store(url) as store:  # the operator does not wait for the back-off: make them due now
        from meshmeter.headend.push import redrive

        now = datetime.now(UTC)
        for message in store.outbox_claim(limit=10, channel="mqtt", now=now + timedelta(days=1), lease_s=1):
            redrive(store, message_id=message.id, now=now - timedelta(seconds=5))
    up = run("push", "--channel", "mqtt", "--url", broker, "--database", url)
    assert up.exit_code == 0, up.output
    assert pending_of(up) == 0
    assert "sent: 2" in up.output
