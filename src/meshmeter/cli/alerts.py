"""``meshmeter alerts``: check communication now, then list the alerts in force."""

from __future__ import annotations

import json
import math
from typing import Annotated

import typer

from meshmeter.cli.common import DatabaseOption, JsonOption, bad_input, console
from meshmeter.errors import MeshmeterError


def alerts_command(
    silence_hours: Annotated[
        float, typer.Option(help="Raise communication loss after this much silence.")
    ] = 2.0,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check communication now (raise or clear loss alerts), then list the alerts in force.

    Example: meshmeter alerts --silence-hours 2 --json
    """
    from datetime import UTC, datetime

    from meshmeter.headend.alerts import active_alerts, check_communication
    from meshmeter.store import Store

    try:
        if not (math.isfinite(silence_hours) and silence_hours > 0):
            raise ValueError(f"silence_hours must be finite and > 0, got {silence_hours!r}")
        with Store(database) as store:
            check_communication(store, now=datetime.now(UTC), silence_s=silence_hours * 3600.0)
            found = active_alerts(store)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    rows = [
        {"kind": str(a.kind), "at": a.at.isoformat(), "meter_id": a.meter_id, "key": a.key} for a in found
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        console.print("no alert in force")
    for row in rows:
        console.print(f"{row['at']}  {row['kind']}  meter {row['meter_id']}  ({row['key']})")
