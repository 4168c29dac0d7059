"""``meshmeter allocate``: share a site's house meter and unmetered remainder among its accounts (ratio
utility billing), from the store (``meshmeter.services.allocation``; ``docs/billing.md``, "Allocation")."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from meshmeter.cli.common import TIME_HELP, DatabaseOption, JsonOption, bad_input, console, parse_time
from meshmeter.errors import MeshmeterError


def _shares_file(path: str) -> dict[str, Any]:
    """Each unit's fixed share from a file: a JSON object ``{"1A": 0.25, ...}`` or a CSV ``unit,share``."""
    import csv
    import io
    from decimal import Decimal, InvalidOperation
    from pathlib import Path

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read --shares {path!r}: {exc.strerror}") from None
    problems: list[str] = []
    shares: dict[str, Any] = {}
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text, parse_float=Decimal, parse_int=Decimal)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--shares {path}: not JSON ({exc.msg}, line {exc.lineno})") from None
        for name, value in data.items():
            if isinstance(value, Decimal):
                shares[name] = value
            else:
                problems.append(f"{name}: the share must be a number, got {value!r}")
    else:
        rows = list(csv.reader(io.StringIO(text)))
        if not rows or [c.strip().lower() for c in rows[0]] != ["unit", "share"]:
            raise ValueError(f"--shares {path}: a CSV needs the header unit,share (or give a JSON object)")
        for k, row in enumerate(rows[1:], start=2):
            if not any(c.strip() for c in row):
                continue
            if len(row) != 2:
                problems.append(f"line {k}: expected unit,share, got {','.join(row)!r}")
                continue
            name, value = row[0].strip(), row[1].strip()
            if name in shares:
                problems.append(f"line {k}: unit {name} is given twice")
                continue
            try:
                shares[name] = Decimal(value)
            except InvalidOperation:
                problems.append(f"line {k}: the share of {name} must be a number, got {value!r}")
    if problems:
        raise ValueError(f"--shares {path}: " + "; ".join(problems))
    return shares


def _number(name: str, text: str, unit: str) -> Any:
    """A finite decimal number from the command line, as ``Decimal``. [``unit``]"""
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise ValueError(f"{name} must be a number [{unit}], got {text!r}")
    return value


def allocate_command(
    site: Annotated[str, typer.Argument(help="The site: its name (or id).")],
    start: Annotated[str, typer.Option(help=f"Start: {TIME_HELP}.")],
    end: Annotated[str, typer.Option(help=f"End: {TIME_HELP}.")],
    by: Annotated[str, typer.Option("--by", help="Share by area (floor area), occupants or shares.")],
    what: Annotated[
        str, typer.Option("--what", help="What to share: house (meter), remainder, or both.")
    ] = "both",
    shares: Annotated[
        str | None,
        typer.Option(
            help='With --by shares: each unit\'s share, JSON {"1A": 0.25} or CSV unit,share; sum 1.'
        ),
    ] = None,
    house_meter: Annotated[
        list[str] | None,
        typer.Option(help="A house meter (serial, role house); repeat it; default every one of the site."),
    ] = None,
    rate: Annotated[
        str | None,
        typer.Option(help="Price of the house energy [USD/kWh]; default the master bill's average price."),
    ] = None,
    master_total: Annotated[
        str | None, typer.Option(help="The utility's master bill for the period [USD], whole cents.")
    ] = None,
    master_kwh: Annotated[
        str | None,
        typer.Option(help="The master bill's energy [kWh]; default the site's master meter in the store."),
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone of the dates; default the site's.")
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Share the house meter's energy and the unmetered remainder among a site's accounts.

    Ratio utility billing (docs/billing.md, "Allocation"): the house (common-area) meters' kWh at
    --rate (or at the master bill's average price), and the unmetered remainder (the master's kWh
    less every unit and house meter's, priced out of --master-total), each shared among the site's
    units by floor area, occupants or fixed --shares. An account that moved in or out is
    prorated by the days it occupied its unit; a vacant unit's part is the owner's, billed to
    nobody. Every share is whole cents and they add up to each amount exactly. The meters'
    validated intervals are used: run meshmeter vee first.

    Examples:

    meshmeter allocate "Oak Court" --start 2026-07-01 --end 2026-08-01 --by area --what house
    --rate 0.31

    meshmeter allocate "Oak Court" --start 2026-07-01 --end 2026-08-01 --by occupants
    --master-total 517.23 --json

    meshmeter allocate "Oak Court" --start 2026-07-01 --end 2026-08-01 --by shares --shares shares.csv
    --what remainder --master-total 517.23 --master-kwh 1734.5
    """
    from meshmeter.intervals import zone
    from meshmeter.services.allocation import BASES, allocate_site, allocation_to_dict
    from meshmeter.services.billing import find_site
    from meshmeter.store import Store

    try:
        problems: list[str] = []
        if by not in BASES:
            problems.append(f"--by must be area, occupants or shares, got {by!r}")
        if what not in ("house", "remainder", "both"):
            problems.append(f"--what must be house, remainder or both, got {what!r}")
        if shares is not None and by != "shares":
            problems.append("--shares goes with --by shares")
        if by == "shares" and shares is None:
            problems.append("--by shares needs --shares FILE (each unit's share, adding up to 1)")
        if house_meter and what == "remainder":
            problems.append("--house-meter goes with --what house or both")
        if rate is not None and what == "remainder":
            problems.append("--rate prices the house energy: it goes with --what house or both")
        money: dict[str, Any] = {}
        for name, text, unit in (
            ("--rate", rate, "USD/kWh"),
            ("--master-total", master_total, "USD"),
            ("--master-kwh", master_kwh, "kWh"),
        ):
            if text is not None:
                try:
                    money[name] = _number(name, text, unit)
                except ValueError as exc:
                    problems.append(str(exc))
        energy_wh = None
        if "--master-kwh" in money:
            wh = money["--master-kwh"] * 1000
            if wh <= 0 or wh != wh.to_integral_value():
                problems.append(f"--master-kwh must be positive, to the Wh (3 decimals), got {master_kwh}")
            else:
                energy_wh = int(wh)
        fixed = _shares_file(shares) if shares is not None and by == "shares" else None
        if problems:
            raise ValueError("; ".join(problems))
        with Store(database) as store:
            try:
                where = find_site(store, site)
            except MeshmeterError:
                found = store.get_site(site_id=int(site)) if site.isdigit() else None
                if found is None:
                    raise
                where = found
            tz = where.timezone if timezone is None else timezone
            zone(tz)
            t0, t1 = parse_time("--start", start, tz), parse_time("--end", end, tz)
            run = allocate_site(
                store,
                site=where,
                start=t0,
                end=t1,
                basis=by,
                share=("house", "remainder") if what == "both" else (what,),
                fixed_shares=fixed,
                house_meters=house_meter or None,
                house_rate=money.get("--rate"),
                master_total=money.get("--master-total"),
                master_energy_wh=energy_wh,
                timezone=tz,
            )
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    for w in run.warnings:
        typer.echo(f"warning: {w}", err=True)
    if as_json:
        typer.echo(json.dumps(allocation_to_dict(run), indent=2, ensure_ascii=False))
        return
    _print(run)


def _print(run: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from meshmeter.billing import printed

    words = {"area": "floor area", "occupants": "occupants", "shares": "fixed shares"}
    from meshmeter.intervals import zone

    local = zone(run.timezone)
    shown = [t.astimezone(local) for t in (run.start, run.end)]
    period = " to ".join(
        t.strftime("%Y-%m-%d" if t.hour == t.minute == 0 else "%Y-%m-%d %H:%M") for t in shown
    )
    amounts = Table(title=f"{escape(run.site.name)}  {period}  shared by {words[run.basis]}")
    for col in ("what", "energy (kWh)", "priced", "amount [USD]", "owner's share [USD]"):
        amounts.add_column(col, justify="left" if col in ("what", "priced") else "right")
    for a in run.amounts:
        amounts.add_row(
            a.label,
            f"{a.energy_wh / 1000:,.3f}",
            escape(a.priced),
            f"{printed(a.amount):,.2f}",
            f"{printed(a.by_unit.owner_share):,.2f}",
        )
    console.print(amounts)
    if run.master_energy_wh is not None:
        remainder = (
            "" if run.remainder_wh is None else f"; unmetered remainder {run.remainder_wh / 1000:,.3f} kWh"
        )
        console.print(
            f"master {run.master_energy_wh / 1000:,.3f} kWh ({escape(str(run.master_source))}){remainder}"
        )
    table = Table(title="Shares of the accounts")
    columns = [
        "account",
        "tenant",
        "unit",
        "meter",
        "occupied",
        *(a.label for a in run.amounts),
        "total [USD]",
    ]
    for col in columns:
        table.add_column(
            escape(col), justify="left" if col in ("account", "tenant", "unit", "meter") else "right"
        )
    for s in run.accounts:
        table.add_row(
            escape(s.account),
            escape(s.tenant),
            escape(s.unit.name),
            s.meter,
            f"{float(s.occupied) * 100:.1f} %",
            *(f"{printed(line.amount):,.2f}" for line in s.lines),
            f"{printed(s.total):,.2f}",
        )
    vacant = ", ".join(u.name for u in run.vacant_units)
    table.add_row(
        "Owner (vacancy)",
        "",
        escape(vacant),
        "",
        "",
        *(f"{printed(a.by_unit.owner_share):,.2f}" for a in run.amounts),
        f"{printed(run.owner_share):,.2f}",
    )
    table.add_row(
        "Total",
        "",
        "",
        "",
        "",
        *(f"{printed(a.amount):,.2f}" for a in run.amounts),
        f"{printed(run.total):,.2f}",
    )
    console.print(table)
