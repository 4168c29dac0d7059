"""``meshmeter status``: one screen for a site: what reports, what does not, what needs a person
(``meshmeter.services.status``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from meshmeter.cli.common import EXIT_FAILED, DatabaseOption, JsonOption, bad_input, console
from meshmeter.errors import MeshmeterError


def status_command(
    site: Annotated[
        str | None, typer.Option(help="The site: its name (or id); default the only site of the store.")
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """What a site's meters report, and what needs a person now.

    The meters reporting, then each meter that needs someone, by unit and tenant: not reporting, an
    alert in force (tamper, reverse phase, low battery, a source gone silent, a master meter's
    balance), a wiring fault, or intervals VEE flagged that nobody has acted on, with what to do. Then
    the open VEE intervals, the health of the site's sources and the last bills. A simulated or old
    site is judged as of its latest interval, as the dashboard's overview does.

    Exit 0 when nothing needs a person, 1 when something does, 2 on bad input.

    Examples:

    meshmeter status

    meshmeter status --site "Oak Court" --json
    """
    from datetime import UTC, datetime

    from meshmeter.services.status import choose_site, site_status, status_to_dict
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            status = site_status(
                store, choose_site(store, site), now=datetime.now(UTC).replace(microsecond=0)
            )
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(status_to_dict(status), indent=2, ensure_ascii=False))
    else:
        _print(status)
    if status.needs_person:
        raise typer.Exit(code=EXIT_FAILED)


def _ago(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h``, ``5 d``: how long ago, in the largest whole unit."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"


def _print(status: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from meshmeter.intervals import zone

    local = zone(status.site.timezone)
    now = status.now.astimezone(local)
    console.print(
        f"[bold]{escape(status.site.name)}[/]  {now:%Y-%m-%d %H:%M %Z} ({escape(status.site.timezone)})",
        soft_wrap=False,
    )
    if status.silent_since is not None:
        latest = status.silent_since.astimezone(local)
        console.print(
            f"Latest data {latest:%Y-%m-%d %H:%M %Z}, "
            f"{_ago((status.now - status.silent_since).total_seconds())} ago: "
            "judged as of then (a simulated run that ended, or the DCAP or its link is down)."
        )
    console.print(f"Meters reporting: {status.reporting} of {status.meters}")
    if status.attention:
        table = Table(title="Needs a person", title_justify="left", expand=False, show_lines=True)
        for col in ("Unit", "Tenant", "What, since when", "What to do"):
            table.add_column(col, overflow="fold")
        for a in status.attention:
            for i, p in enumerate(a.problems):
                first = i == 0
                table.add_row(
                    escape(a.name.label) if first else "",
                    escape(a.name.occupant) if first else "",
                    escape(p.seen),
                    escape(p.action),
                )
        console.print(table)
    else:
        console.print("No meter needs a person.")
    console.print(
        f"Open VEE intervals: {status.vee_open}"
        + (" (meshmeter vee list, or the VEE page)" if status.vee_open else "")
    )
    if status.sources:
        words = []
        for s in status.sources:
            ago = "" if s.silence_s is None else f", {_ago(s.silence_s)} ago"
            words.append(f"{escape(s.source.name)} {s.state}{ago}")
        stuck = any(s.state in ("silent", "never") for s in status.sources)
        hint = (
            f" (needs a person: meshmeter source list --site {escape(repr(status.site.name))})"
            if stuck
            else ""
        )
        console.print("Sources: " + "; ".join(words) + hint)
    else:
        console.print("Sources: none.")
    bills = status.last_bills
    if bills is None:
        console.print("Last bills: none stored.")
    else:
        start = bills.period_start.astimezone(local)
        end = bills.period_end.astimezone(local)
        console.print(
            f"Last bills: {bills.bills} for {start:%Y-%m-%d} to {end:%Y-%m-%d}, ${bills.total:,.2f} due "
            f"(stored {bills.created_at.astimezone(local):%Y-%m-%d})"
        )
