"""``meshmeter push``: send the push outbox of a channel (MQTT, webhook) once."""

from __future__ import annotations

from typing import Annotated

import typer

from meshmeter.cli.common import DatabaseOption, bad_input, console
from meshmeter.errors import MeshmeterError


def push_command(
    channel: Annotated[str, typer.Option(help="mqtt or webhook.")],
    url: Annotated[str, typer.Option(help="Broker (mqtt://host:port) or receiver (https://...) URL.")],
    secret: Annotated[str | None, typer.Option(help="Webhook signing secret (HMAC-SHA256).")] = None,
    database: DatabaseOption = None,
) -> None:
    """Send what the push outbox holds for a channel, once (at-least-once; receivers dedupe by key).

    Example: meshmeter push --channel mqtt --url mqtt://127.0.0.1:1883
    """
    from meshmeter.headend.push import MqttPublisher, WebhookSender
    from meshmeter.store import Store

    try:
        if channel not in ("mqtt", "webhook"):
            raise ValueError(f"channel must be mqtt or webhook, got {channel!r}")
        with Store(database) as store:
            sender = (
                MqttPublisher(store, url) if channel == "mqtt" else WebhookSender(store, url, secret=secret)
            )
            stats = sender.run_once()
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    console.print(
        f"sent: {stats.sent}, failed (will retry): {stats.failed}, dead letters: {stats.dead_lettered}, "
        f"pending: {stats.pending}"
    )
