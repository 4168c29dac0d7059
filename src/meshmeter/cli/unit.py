"""``meshmeter unit``: the units of a site (apartments, suites), each measured by one meter."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from meshmeter.cli.common import DatabaseOption, JsonOption, bad_input, console, recorded_by
from meshmeter.errors import MeshmeterError

unit_app = typer.Typer(help="Units of a site: apartments, suites, each with its meter.", no_args_is_help=True)


@unit_app.command("add")
def unit_add(
    site: Annotated[int, typer.Option(help="The site (id).")],
    name: Annotated[str, typer.Option(help="The unit's name, unique in the site: 2A, Suite 110 ...")],
    meter: Annotated[str, typer.Option(help="Serial of the meter that measures it, a meter of the site.")],
    address: Annotated[str | None, typer.Option(help="Its postal address.")] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a unit of a site, measured by a meter of that site; prints its id.

    Example: meshmeter unit add --site 1 --name 2A --meter MM26000013 --address "12 Mission St, Apt 2A"
    """
    from meshmeter.services.tenancy import create_unit
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            unit = create_unit(
                store, site_id=site, name=name, meter=meter, address=address, by=recorded_by("unit add")
            )
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "id": unit.id,
                    "site_id": unit.site_id,
                    "name": unit.name,
                    "address": unit.address,
                    "meter": meter,
                }
            )
        )
    else:
        typer.echo(str(unit.id))


@unit_app.command("list")
def unit_list(
    site: Annotated[int | None, typer.Option(help="Only this site's units (id).")] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """List units with their meter and who occupies them now.

    Example: meshmeter unit list --site 1
    """
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            units = store.units(site_id=site)
            serials = {m.id: m.serial for m in store.meters()}
            numbers = (
                {a.id: a.number for a in store.accounts(site_id=site)}
                if site
                else {a.id: a.number for a in store.accounts()}
            )
            now = {
                o.unit_id: numbers.get(o.account_id)
                for o in store.occupancies(site_id=site)
                if o.move_out is None
            }
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    rows = [
        {
            "id": u.id,
            "site_id": u.site_id,
            "name": u.name,
            "address": u.address,
            "meter": serials.get(u.meter_id),
            "occupied_by": now.get(u.id),
        }
        for u in units
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    from rich.table import Table

    table = Table(title="Units")
    for column in ("id", "site", "name", "meter", "address", "account now"):
        table.add_column(column)
    for u in units:
        table.add_row(
            str(u.id),
            str(u.site_id),
            u.name,
            str(serials.get(u.meter_id)),
            u.address or "-",
            now.get(u.id) or "vacant",
        )
    console.print(table)
