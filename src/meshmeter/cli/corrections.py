"""``meshmeter corrections``: issued bills whose data changed since, and their corrections
(``docs/billing.md``, "Bills that stay right")."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

import typer

from meshmeter.cli.common import TIME_HELP, DatabaseOption, JsonOption, bad_input, console, parse_time
from meshmeter.cli.tables import Column, key, meter_fields, print_json, print_table
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
        str | None,
        typer.Option(help=f"Only bills of periods ending after this time: {TIME_HELP} (UTC without --site)."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            help=f"Only bills of periods starting before this time: {TIME_HELP} (UTC without --site)."
        ),
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
    from meshmeter.services.names import meter_names
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            where = None if site is None else find_site(store, site)
            site_id = None if where is None else where.id
            tz = None if where is None else where.timezone
            t0 = None if start is None else parse_time("--start", start, tz)
            t1 = None if end is None else parse_time("--end", end, tz)
            found = affected_bills(store, site=site_id, meter=meter, start=t0, end=t1)
            listed = {b.id for b in store.list_bills(site=site_id, meter=meter, start=t0, end=t1)}
            issued = [c for c in store.list_corrections(site_id=site_id) if c.bill_id in listed]
            names = {n.serial: n for n in meter_names(store, site_id=site_id).values()}
            zones = {s.id: s.timezone for s in store.sites()}
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    issued_rows = [_issued_row(c) for c in issued]
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
            **_names(names.get(a.bill.meter), zones, a.bill.period_start, a.bill.period_end),
        }
        for a in found
    ]
    if as_json:
        print_json({"affected": rows, "issued": issued_rows})
        if rows:
            raise typer.Exit(1)
        return
    if issued:
        _print_issued(issued)
    if not rows:
        console.print("no issued bill is affected: every bill matches the data it was last billed from")
    else:
        console.print(f"{len(rows)} bill{'s' if len(rows) != 1 else ''} to correct:")
        print_table(_AFFECTED_COLUMNS, rows, empty="")
        console.print(
            "see one with: meshmeter corrections show BILL_ID; issue it with: meshmeter corrections issue "
            "BILL_ID"
        )
    if rows:
        raise typer.Exit(1)


def _names(name: Any, zones: dict[int, str], start: Any, end: Any) -> dict[str, Any]:
    """The unit and tenant of a bill's meter now, and its period in the site's local dates."""
    from meshmeter.intervals import zone

    fields = meter_fields(name)
    where = zone(zones.get(name.site_id, "UTC") if name is not None and name.site_id is not None else "UTC")
    local = f"{start.astimezone(where):%Y-%m-%d} to {end.astimezone(where):%Y-%m-%d}"
    return {
        "unit": fields["unit"],
        "tenant": fields["tenant"],
        "label": fields["label"],
        "local_period": local,
    }


_AFFECTED_COLUMNS = (
    Column("Unit", lambda r: r["label"] or "–", long=True),
    Column("Tenant", key("tenant"), long=True),
    Column("Account", key("account")),
    Column("Period", key("local_period"), long=True),
    Column("Meter", key("meter")),
    Column("USD", lambda r: f"{Decimal(r['printed_total']):,.2f}", justify="right"),
    Column("kWh then", lambda r: f"{r['issued_wh'] / 1000:,.3f}", justify="right"),
    Column("kWh now", lambda r: f"{r['current_wh'] / 1000:,.3f}", justify="right"),
    Column("Bill", key("bill_id"), justify="right"),
)
"""``corrections list``: whose bill (unit, tenant, account), for when, then its figures and id."""


def _issued_row(c: Any) -> dict[str, Any]:
    return {
        "bill_id": c.bill_id,
        "sequence": c.sequence,
        "mode": c.mode,
        "difference": str(c.difference),
        "printed_total": str(c.document["printed_total"]),
        "issued_at": c.issued_at.isoformat(),
        "issued_by": c.issued_by,
        "applied_bill_id": c.applied_bill_id,
        "pending": c.pending,
        "reason": c.reason,
        "lines": [{"description": x["description"], "amount": str(x["amount"])} for x in c.lines],
    }


def _where(c: Any) -> str:
    if c.mode == "corrected_bill":
        return "corrected bill"
    return (
        "pending: on the next bill" if c.applied_bill_id is None else f"carried on bill {c.applied_bill_id}"
    )


def _print_issued(issued: list[Any]) -> None:
    from rich.table import Table

    table = Table(title=f"{len(issued)} correction{'s' if len(issued) != 1 else ''} issued")
    for name in ("bill", "correction", "issued", "by", "USD now", "difference", "goes out as"):
        table.add_column(name, justify="right" if name in ("USD now", "difference") else "left")
    for c in issued:
        table.add_row(
            str(c.bill_id),
            str(c.sequence),
            f"{c.issued_at:%Y-%m-%d %H:%M}",
            c.issued_by or "",
            f"{Decimal(str(c.document['printed_total'])):,.2f}",
            f"{c.difference:+,.2f}",
            _where(c),
        )
    console.print(table)


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
            issued = store.list_corrections(bill_id=bill_id)
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
        "intervals_changed": len(fixed.changed),
        "issued": [_issued_row(c) for c in issued],
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    original, now = fixed.original, fixed.corrected
    console.print(
        f"bill {original.id} ({original.account}, meter {original.meter}): issued "
        f"{original.printed_total:,.2f} USD for {original.energy_wh / 1000:,.3f} kWh; with the data now "
        f"{now.printed_total:,.2f} USD for {now.energy_wh / 1000:,.3f} kWh ({fixed.difference:+,.2f}"
        + (f" on correction {fixed.based_on}" if fixed.based_on else "")
        + ")"
    )
    if issued:
        _print_issued(issued)
    if not fixed.changed:
        console.print("no interval changed since it was last issued: nothing to correct")
    elif not fixed.adjustments:
        console.print("no charge changes: the correction would change no amount")
    for a in fixed.adjustments:
        console.print(f"  {a.description}  {a.amount:+,.2f}")


@corrections_app.command("issue")
def corrections_issue(
    bill_id: Annotated[
        int | None,
        typer.Argument(help="The issued bill's id (meshmeter corrections list).", show_default=False),
    ] = None,
    all_affected: Annotated[
        bool, typer.Option("--all", help="Every affected bill of the site (--site) instead of one.")
    ] = False,
    site: Annotated[str | None, typer.Option(help="With --all: the site (its name).")] = None,
    by: Annotated[
        str, typer.Option(help="Who issues it, as recorded with the correction.")
    ] = "meshmeter CLI",
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue the correction of a bill whose data changed since it was issued, in its site's mode.

    The issued bill never changes. The correction is the bill made again from its own inputs with the data
    now, against its latest state (the bill, or its last correction): a corrected bill that replaces the
    original (correction mode corrected_bill), or adjustment lines the account's next saved bill carries
    (next_bill; meshmeter site set NAME --correction-mode next_bill). Exit 2 on an unknown bill, a bill
    with nothing changed, or one corrected by someone else meanwhile.

    Example: meshmeter corrections issue 12; meshmeter corrections issue --all --site "Oak Court"
    """
    from meshmeter.services.billing import find_site
    from meshmeter.services.corrections import affected_bills, issue_correction
    from meshmeter.store import Store

    problems = []
    if all_affected and bill_id is not None:
        problems.append("give a BILL_ID or --all, not both")
    if not all_affected and bill_id is None:
        problems.append("give the BILL_ID to correct, or --all --site NAME")
    if all_affected and site is None:
        problems.append("--all needs --site NAME: the site whose affected bills to correct")
    if not all_affected and site is not None:
        problems.append("--site goes with --all")
    if problems:
        raise bad_input("; ".join(problems))
    issued, failed = [], []
    try:
        with Store(database) as store:
            if bill_id is not None:
                targets = [bill_id]
            else:
                assert site is not None
                where = find_site(store, site)
                targets = [a.bill.id for a in affected_bills(store, site=where.id)]
            for target in targets:
                try:
                    issued.append(issue_correction(store, target, by=by))
                except (ValueError, MeshmeterError) as exc:
                    if bill_id is not None:
                        raise
                    failed.append(f"bill {target}: {exc}")
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    if as_json:
        typer.echo(json.dumps({"issued": [_issued_row(c) for c in issued], "failed": failed}, indent=2))
    else:
        if not issued and not failed:
            console.print(f"no bill of {site} is affected: nothing to correct")
        for c in issued:
            console.print(
                f"bill {c.bill_id}: correction {c.sequence} issued, {c.difference:+,.2f} USD "
                f"({_where(c)}); download it: GET /bills/{c.bill_id}/corrections/{c.sequence}?format=pdf"
            )
        for line in failed:
            console.print(f"[red]not corrected:[/] {line}")
    if failed:
        raise typer.Exit(2)
