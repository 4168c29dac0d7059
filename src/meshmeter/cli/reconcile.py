"""``meshmeter reconcile``: a site's master meter against its sub-meters, per interval, day or month, and
the alerts of a CT or wiring fault or a jump of the unmetered remainder (``meshmeter.services.reconcile``;
``docs/reconcile.md``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from meshmeter.cli.common import TIME_HELP, DatabaseOption, JsonOption, bad_input, console, parse_time
from meshmeter.errors import MeshmeterError


def reconcile_command(
    site: Annotated[str, typer.Argument(help="The site: its name (or id).")],
    start: Annotated[str, typer.Option(help=f"Start: {TIME_HELP}.")],
    end: Annotated[str, typer.Option(help=f"End: {TIME_HELP}.")],
    by: Annotated[
        str, typer.Option("--by", help="Rows per interval (of the grid), day or month (local).")
    ] = "day",
    alerts: Annotated[
        bool,
        typer.Option(
            "--alerts/--no-alerts",
            help="Raise (and clear) the submeter_excess and remainder_jump alerts of each day.",
        ),
    ] = True,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reconcile a site's sub-meters with its master meter.

    For each interval, local day or month: the master's net import, production behind it, the unit and
    house meters, the unmetered remainder (master + production - units - house; negative: the
    sub-meters measured more) and the share the sub-meters measured; intervals missing or estimated
    on either side are counted, and an interval missing on any side is not reconciled. A day whose
    sub-meters exceed the master beyond the meters' accuracy raises submeter_excess (a CT or wiring
    fault, manual §7); a day whose remainder jumps far above the median of the seven days before
    raises remainder_jump. Reads the validated intervals: run meshmeter vee first.

    Examples:

    meshmeter reconcile "Oak Court" --start 2026-07-01 --end 2026-08-01

    meshmeter reconcile "Oak Court" --start 2026-07-01 --end 2026-07-02 --by interval --json

    meshmeter reconcile 1 --start 2026-01-01 --end 2027-01-01 --by month --no-alerts
    """
    from meshmeter.headend.reconcile import BY
    from meshmeter.services.reconcile import find_site, reconcile_site, reconciliation_to_dict
    from meshmeter.store import Store

    try:
        if by not in BY:
            raise ValueError(f"--by must be interval, day or month, got {by!r}")
        with Store(database) as store:
            where = find_site(store, site)
            t0 = parse_time("--start", start, where.timezone)
            t1 = parse_time("--end", end, where.timezone)
            if t1 <= t0:
                raise ValueError(f"--end must be after --start, got --start {start} --end {end}")
            rec = reconcile_site(store, site=where, start=t0, end=t1, by=by, raise_alerts=alerts)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    for w in rec.warnings:
        typer.echo(f"warning: {w}", err=True)
    if as_json:
        typer.echo(json.dumps(reconciliation_to_dict(rec), indent=2, ensure_ascii=False))
        return
    _print(rec)


def _kwh(wh: int) -> str:
    return f"{wh / 1000:,.3f}"


def _print(rec: Any) -> None:
    from datetime import UTC, datetime

    from rich.markup import escape
    from rich.table import Table

    from meshmeter.intervals import zone

    local = zone(rec.timezone)

    def when(seconds: int) -> str:
        t = datetime.fromtimestamp(seconds, UTC).astimezone(local)
        if rec.by == "month":
            return t.strftime("%Y-%m")
        if rec.by == "day":
            return t.strftime("%Y-%m-%d")
        return t.strftime("%Y-%m-%d %H:%M")

    production = any(m.side == "production" for m in rec.meters) or rec.total.production_wh
    head = f"{escape(rec.site.name)}  {when(int(rec.start.timestamp()))} to {when(int(rec.end.timestamp()))}"
    table = Table(title=f"{head}  by {rec.by}, on {rec.interval_s // 60}-minute intervals")
    columns = [
        "from" if rec.by == "interval" else rec.by,
        "master (kWh)",
        *(["production (kWh)"] if production else []),
        "units (kWh)",
        "house (kWh)",
        "remainder (kWh)",
        "metered",
        "reconciled",
        "missing master/sub",
        "estimated master/sub",
        "",
    ]
    for col in columns:
        table.add_column(col, justify="left" if col in ("day", "month", "from", "") else "right")

    def add(label: str, row: Any) -> None:
        share = row.metered_share
        table.add_row(
            label,
            _kwh(row.master_wh),
            *([_kwh(row.production_wh)] if production else []),
            _kwh(row.units_wh),
            _kwh(row.house_wh),
            _kwh(row.remainder_wh),
            "" if share is None else f"{share * 100:.1f} %",
            f"{row.reconciled}/{row.intervals}",
            f"{row.master_missing}/{row.submeters_missing}",
            f"{row.master_estimated}/{row.submeters_estimated}",
            "EXCESS" if row.excessive else "",
        )

    for row in rec.rows:
        add(when(row.start_s), row)
    add("Total", rec.total)
    console.print(table)
    for alert in rec.alerts:
        state = "raised" if alert.active else "cleared"
        console.print(f"alert {escape(alert.kind.value)} {state}: {escape(alert.key)}")
