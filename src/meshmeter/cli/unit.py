"""``meshmeter unit``: the units of a site (apartments, suites), each measured by one meter."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from meshmeter.cli.common import DatabaseOption, JsonOption, bad_input, recorded_by
from meshmeter.cli.tables import Column, key, print_json, print_table
from meshmeter.errors import MeshmeterError

unit_app = typer.Typer(help="Units of a site: apartments, suites, each with its meter.", no_args_is_help=True)


@unit_app.command("add")
def unit_add(
    site: Annotated[int, typer.Option(help="The site (id).")],
    name: Annotated[str, typer.Option(help="The unit's name, unique in the site: 2A, Suite 110 ...")],
    meter: Annotated[str, typer.Option(help="Serial of the meter that measures it, a meter of the site.")],
    address: Annotated[str | None, typer.Option(help="Its postal address.")] = None,
    floor_area: Annotated[
        float | None, typer.Option(help="Its floor area [ft²], for allocation by area (meshmeter allocate).")
    ] = None,
    occupants: Annotated[
        int | None, typer.Option(help="People living there, for allocation by occupants.")
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a unit of a site, measured by a meter of that site; prints its id.

    Example: meshmeter unit add --site 1 --name 2A --meter MM26000013 --address "12 Mission St, Apt 2A"
    --floor-area 900 --occupants 3
    """
    from meshmeter.services.tenancy import create_unit
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            unit = create_unit(
                store,
                site_id=site,
                name=name,
                meter=meter,
                address=address,
                by=recorded_by("unit add"),
                floor_area_ft2=floor_area,
                occupants=occupants,
            )
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(_row(unit, meter)))
    else:
        typer.echo(str(unit.id))


def _row(unit: Any, meter: str | None, occupied_by: str | None = None) -> dict[str, Any]:
    row = {
        "id": unit.id,
        "site_id": unit.site_id,
        "name": unit.name,
        "address": unit.address,
        "meter": meter,
        "floor_area_ft2": unit.floor_area_ft2,
        "occupants": unit.occupants,
    }
    if occupied_by is not None:
        row["occupied_by"] = occupied_by
    return row


_CLEARABLE = {"address": "address", "floor-area": "floor_area_ft2", "occupants": "occupants"}


@unit_app.command("set")
def unit_set(
    unit: Annotated[int, typer.Argument(help="The unit (id): meshmeter unit list.")],
    floor_area: Annotated[float | None, typer.Option(help="Its floor area [ft²], > 0.")] = None,
    occupants: Annotated[int | None, typer.Option(help="People living there, 0 or more.")] = None,
    address: Annotated[str | None, typer.Option(help="Its postal address.")] = None,
    clear: Annotated[
        list[str] | None, typer.Option(help="Clear a setting: floor-area, occupants or address; repeat it.")
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set a unit's floor area, occupants or address (recorded in the history, before and after).

    Refused (exit 2, every problem named, nothing changed): an unknown unit, a floor area not > 0,
    occupants below 0, a setting both given and cleared.

    Example: meshmeter unit set 3 --floor-area 1400 --occupants 2
    """
    from meshmeter.store import Store

    given = {"floor_area_ft2": floor_area, "occupants": occupants, "address": address}
    settings: dict[str, object] = {k: value for k, value in given.items() if value is not None}
    problems = []
    for name in clear or ():
        if name not in _CLEARABLE:
            problems.append(f"--clear takes floor-area, occupants or address, got {name!r}")
        elif _CLEARABLE[name] in settings:
            problems.append(f"--{name} is both given and cleared")
        else:
            settings[_CLEARABLE[name]] = None
    try:
        if problems:
            raise ValueError("; ".join(problems))
        if not settings:
            raise ValueError("give --floor-area, --occupants, --address or --clear: nothing to set")
        with Store(database) as store:
            changed = store.update_unit(unit_id=unit, by=recorded_by("unit set"), **settings)
            meter = store.get_meter(meter_id=changed.meter_id)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(_row(changed, None if meter is None else meter.serial)))
    else:
        area = "-" if changed.floor_area_ft2 is None else f"{changed.floor_area_ft2:g} ft²"
        people = "-" if changed.occupants is None else str(changed.occupants)
        typer.echo(f"unit {changed.id} ({changed.name}): floor area {area}, occupants {people}")


@unit_app.command("list")
def unit_list(
    site: Annotated[int | None, typer.Option(help="Only this site's units (id).")] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """List units, names first: the unit, who occupies it now (tenant and account), its site and
    address; then its meter, floor area, occupants and id.

    Example: meshmeter unit list --site 1
    """
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            units = store.units(site_id=site)
            serials = {m.id: m.serial for m in store.meters()}
            sites = {s.id: s.name for s in store.sites()}
            tenants = {t.id: t.name for t in store.tenants()}
            numbers = {a.id: a.number for a in store.accounts(site_id=site)}
            now = {o.unit_id: o for o in store.occupancies(site_id=site) if o.move_out is None}
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    rows = []
    for u in units:
        held = now.get(u.id)
        account = None if held is None else numbers.get(held.account_id)
        tenant = None if held is None else tenants.get(held.tenant_id)
        rows.append(
            _row(u, serials.get(u.meter_id))
            | {
                "occupied_by": account,
                "site": None if u.site_id is None else sites.get(u.site_id),
                "tenant": tenant,
                "account": account,
            }
        )
    if as_json:
        print_json(rows)
        return
    print_table(
        _UNIT_COLUMNS,
        rows,
        empty="No unit yet: add one with `meshmeter unit add` (or try `meshmeter demo`).",
    )


def _occupant(row: dict[str, Any]) -> str:
    if row["tenant"] is None:
        return "vacant"
    return row["tenant"] if row["account"] is None else f"{row['tenant']} ({row['account']})"


_UNIT_COLUMNS = (
    Column("Unit", key("name"), long=True),
    Column("Tenant", _occupant, long=True),
    Column("Site", key("site"), long=True),
    Column("Address", key("address"), long=True),
    Column("Meter", key("meter")),
    Column(
        "Area ft²",
        lambda r: None if r["floor_area_ft2"] is None else f"{r['floor_area_ft2']:,g}",
        justify="right",
    ),
    Column("People", key("occupants"), justify="right"),
    Column("Id", key("id"), justify="right"),
)
"""``unit list``: names first, then the unit's meter and figures, its id last."""
