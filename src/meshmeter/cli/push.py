"""``meshmeter push``: send the push outbox of a channel (MQTT, webhook) once.

Its exit status tells a script about an outage: 0 only when nothing is left pending; 3 when the broker
or the webhook target cannot be reached or answers that it is unavailable; 1 when messages are left
pending otherwise (refused one by one, dead letters, or waiting for their next attempt).
"""

from __future__ import annotations

from typing import Annotated

import typer

from meshmeter.cli.common import DatabaseOption, bad_input, console
from meshmeter.errors import MeshmeterError, PendingError, ServiceUnavailableError


def push_command(
    channel: Annotated[str, typer.Option(help="mqtt or webhook.")],
    url: Annotated[str, typer.Option(help="Broker (mqtt://host:port) or receiver (https://...) URL.")],
    secret: Annotated[str | None, typer.Option(help="Webhook signing secret (HMAC-SHA256).")] = None,
    database: DatabaseOption = None,
) -> None:
    """Send what the push outbox holds for a channel, once (at-least-once; receivers dedupe by key).

    Exit status: 0 nothing left pending; 3 the receiver unreachable or unavailable; 1 messages left pending.

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
            try:
                stats = sender.run_once()
            finally:
                sender.close()
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    console.print(
        f"sent: {stats.sent}, failed (will retry): {stats.failed}, dead letters: {stats.dead_lettered}, "
        f"pending: {stats.pending}"
    )
    if not stats.pending:
        return
    from urllib.parse import urlsplit

    password = urlsplit(url).password

    def hidden(text: str) -> str:  # the URL's password never reaches the terminal
        return text.replace(password, "***") if password else text

    left = f"{stats.pending} message{'s' if stats.pending != 1 else ''} left pending"
    again = f"run meshmeter push --channel {channel} again later"
    if sender.unavailable is not None:
        name, colon, rest = sender.unavailable.partition(": ")
        reason = rest if colon and name.isidentifier() and name.endswith("Error") else sender.unavailable
        if url not in reason:
            what = "the MQTT broker" if channel == "mqtt" else "the webhook target"
            reason = f"{what} {url} is unavailable ({reason})"
        raise ServiceUnavailableError(
            hidden(f"{reason}; {left}: check that it is running and reachable, then {again}")
        )
    if sender.last_error is not None:
        raise PendingError(
            hidden(f"{left} after an error ({sender.last_error}); {again}"), pending=stats.pending
        )
    raise PendingError(
        f"{left} (not due yet: waiting for their next attempt); {again}", pending=stats.pending
    )
