"""``meshmeter corrections``: issued bills whose data changed since, and their corrections."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from meshmeter.cli.common import DatabaseOption, JsonOption, bad_input, console, parse_time
from meshmeter.errors import MeshmeterError

corrections_app = typer.Typer(
    help="Issued bills whose data changed since they were issued, and their corrections.",
    no_args_is_help=True,
)


@corrections_app.command("list")
def corrections_list(
    site: Annotated[str | None, typer.Option(help="Only this site's bills (its name).")] = None,
    meter: Annotated[str | None, typer.Option(help="Only this meter's bills (its serial).")] = None,
    start: Annotated[
        str | None, typer.Option(help="Only bills of periods ending after this time (ISO 8601 or a date).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Only bills of periods starting before this time (ISO 8601 or a date).")
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the stored bills whose meter's validated data is no longer what they were billed from.

    Late intervals, a VEE edit, a raw revision or a new estimate under an issued bill make it affected; the
    issued bill itself never changes. Exit status 1 when some bill is affected (a correction is pending).

    Example: meshmeter corrections list --site "Oak Court"
    """
    from meshmeter.services.billing import find_site
    from meshmeter.services.corrections import affected_bills
    from meshmeter.store import Store

    try:
        t0 = None if start is None else parse_time("start", start)
        t1 = None if end is None else parse_time("end", end)
        with Store(database) as store:
            site_id = None if site is None else find_site(store, site).id
            found = affected_bills(store, site=site_id, meter=meter, start=t0, end=t1)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    rows = [
        {
            "bill_id": a.bill.id,
            "account": a.bill.account,
            "meter": a.bill.meter,
            "period_start": a.bill.period_start.isoformat(),
            "period_end": a.bill.period_end.isoformat(),
            "printed_total": str(a.bill.printed_total),
            "intervals_changed": len(a.changed),
            "issued_wh": a.issued_wh,
            "current_wh": a.current_wh,
            "reason": a.reason,
        }
        for a in found
    ]
    if as_json:
        typer.echo(json.dumps({"affected": rows}, indent=2))
    elif not rows:
        console.print("no issued bill is affected: every bill matches the data it was billed from")
    else:
        from rich.table import Table

        table = Table(title=f"{len(rows)} bill{'s' if len(rows) != 1 else ''} to correct")
        for name in ("bill", "account", "meter", "period", "issued USD", "changed", "kWh then", "kWh now"):
            table.add_column(
                name, justify="right" if name in ("issued USD", "changed", "kWh then", "kWh now") else "left"
            )
        for a in found:
            table.add_row(
                str(a.bill.id),
                a.bill.account,
                a.bill.meter,
                f"{a.bill.period_start:%Y-%m-%d} to {a.bill.period_end:%Y-%m-%d}",
                f"{a.bill.printed_total:,.2f}",
                str(len(a.changed)),
                f"{a.issued_wh / 1000:,.3f}",
                f"{a.current_wh / 1000:,.3f}",
            )
        console.print(table)
        console.print("see one with: meshmeter corrections show BILL_ID")
    if rows:
        raise typer.Exit(1)


@corrections_app.command("show")
def corrections_show(
    bill_id: Annotated[int, typer.Argument(help="The issued bill's id (meshmeter corrections list).")],
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show what a stored bill becomes with the data now: the corrected total and the adjustment lines.

    Example: meshmeter corrections show 12
    """
    from meshmeter.services.corrections import correction
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            fixed = correction(store, bill_id)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    summary: dict[str, Any] = {
        "bill_id": fixed.original.id,
        "account": fixed.original.account,
        "meter": fixed.original.meter,
        "issued_total": str(fixed.original.printed_total),
        "corrected_total": str(fixed.corrected.printed_total),
        "difference": str(fixed.difference),
        "issued_wh": fixed.original.energy_wh,
        "corrected_wh": fixed.corrected.energy_wh,
        "adjustments": [{"description": a.description, "amount": str(a.amount)} for a in fixed.adjustments],
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    issued, now = fixed.original, fixed.corrected
    console.print(
        f"bill {issued.id} ({issued.account}, meter {issued.meter}): issued {issued.printed_total:,.2f} USD "
        f"for {issued.energy_wh / 1000:,.3f} kWh; with the data now {now.printed_total:,.2f} USD for "
        f"{now.energy_wh / 1000:,.3f} kWh ({fixed.difference:+,.2f})"
    )
    if not fixed.adjustments:
        console.print("no charge changes: nothing to correct")
    for a in fixed.adjustments:
        console.print(f"  {a.description}  {a.amount:+,.2f}")
