"""``meshmeter alerts``: check communication now, then list the alerts in force, names first."""

from __future__ import annotations

import math
from typing import Annotated

import typer

from meshmeter.cli.common import DatabaseOption, JsonOption, bad_input
from meshmeter.cli.tables import Column, key, local_time, meter_fields, print_json, print_table
from meshmeter.errors import MeshmeterError


def alerts_command(
    silence_hours: Annotated[
        float, typer.Option(help="Raise communication loss after this much silence.")
    ] = 2.0,
    site: Annotated[
        str | None,
        typer.Option(help="Only this site's alerts: its name (or id); default every site of the store."),
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check communication now (raise or clear loss alerts), then list the alerts in force.

    Names first (unit, tenant, meter serial), what each alert means, since when in the site's local
    time, and what to do: the words of the dashboard's overview.

    Examples:

    meshmeter alerts --silence-hours 2 --json

    meshmeter alerts --site "Oak Court"
    """
    from datetime import UTC, datetime

    from meshmeter.headend.alerts import active_alerts, check_communication
    from meshmeter.services.alert_words import ALERT_WORDS, alert_meaning
    from meshmeter.services.device_names import given_names
    from meshmeter.services.names import meter_names
    from meshmeter.services.status import choose_site
    from meshmeter.store import Store

    try:
        if not (math.isfinite(silence_hours) and silence_hours > 0):
            raise ValueError(f"silence_hours must be finite and > 0, got {silence_hours!r}")
        with Store(database) as store:
            only_site = None if site is None else choose_site(store, site)
            check_communication(store, now=datetime.now(UTC), silence_s=silence_hours * 3600.0)
            found = active_alerts(store)
            names = meter_names(store)
            sites = store.sites()
            installs = [e for e in store.events(kind="install") if e.eui64 is not None]
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    device_names = given_names(installs)
    if only_site is not None:  # a meter's alert by its meter's site, a device's by its install event
        device_sites = {e.eui64.hex(): e.detail.get("site") for e in installs if e.eui64 is not None}
        meter_sites = {n.meter_id: n.site_id for n in names.values()}
        found = [
            a
            for a in found
            if (meter_sites.get(a.meter_id) if a.meter_id is not None else None) == only_site.id
            or (
                a.meter_id is None
                and a.eui64 is not None
                and device_sites.get(a.eui64.hex()) == only_site.name
            )
        ]
        sites = [only_site]
    zones = {s.id: s.timezone for s in sites}
    only = sites[0].timezone if len(sites) == 1 else None
    rows = []
    for a in found:
        name = None if a.meter_id is None else names.get(a.meter_id)
        device = None if a.eui64 is None else a.eui64.hex()
        fields = meter_fields(name)
        if name is None:
            fields["label"] = device_names.get(device or "", f"device {device}" if device else "–")
        timezone = only if name is None or name.site_id is None else zones.get(name.site_id)
        rows.append(
            {
                "kind": str(a.kind),
                "at": a.at.isoformat(),
                "meter_id": a.meter_id,
                "key": a.key,
                "meter": None if name is None else name.serial,
                "eui64": device,
                **fields,
                "meaning": alert_meaning(a),
                "since": local_time(a.at, timezone),
                "action": ALERT_WORDS[a.kind].action,
            }
        )
    rows.sort(key=lambda r: (r["site"] or "", r["label"] or "", r["at"]))
    if as_json:
        print_json(rows)
        return
    print_table(
        _ALERT_COLUMNS,
        rows,
        empty="No alert in force: every meter reports and nothing is wrong.",
    )


_ALERT_COLUMNS = (
    Column("Unit", key("label"), long=True),
    Column("Tenant", key("occupant"), long=True),
    Column("Meter", key("meter")),
    Column("Alert", key("meaning"), long=True),
    Column("Since", key("since")),
    Column("What to do", key("action"), long=True),
)
"""``meshmeter alerts``: names first, the alert in words, since when (local time of the site), what to
do (:data:`meshmeter.services.alert_words.ALERT_WORDS`)."""
