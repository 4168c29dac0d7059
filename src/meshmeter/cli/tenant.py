"""``meshmeter tenant``: tenants of the store (``docs/store.md``, "Tenants, units, accounts and
occupancies")."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from meshmeter.cli.common import DatabaseOption, JsonOption, bad_input, console, recorded_by
from meshmeter.errors import MeshmeterError

tenant_app = typer.Typer(help="Tenants: who holds accounts.", no_args_is_help=True)


@tenant_app.command("create")
def tenant_create(
    name: Annotated[str, typer.Option(help="The tenant's name: a person, a household, a business.")],
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a tenant (recorded in the history); prints its id.

    Example: meshmeter tenant create --name "Ada Alvarez"
    """
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            tenant = store.create_tenant(name=name, by=recorded_by("tenant create"))
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    typer.echo(json.dumps({"id": tenant.id, "name": tenant.name}) if as_json else str(tenant.id))


@tenant_app.command("list")
def tenant_list(
    site: Annotated[
        int | None, typer.Option(help="Only the tenants holding an account at this site (id).")
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """List tenants, by id, with their accounts.

    Example: meshmeter tenant list --site 1 --json
    """
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            tenants = store.tenants(site_ids=None if site is None else [site])
            held = {t.id: [a.number for a in store.accounts(tenant_id=t.id)] for t in tenants}
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    rows = [{"id": t.id, "name": t.name, "accounts": held[t.id]} for t in tenants]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    from rich.table import Table

    table = Table(title="Tenants")
    for column in ("id", "name", "accounts"):
        table.add_column(column)
    for t in tenants:
        table.add_row(str(t.id), t.name, " ".join(held[t.id]) or "-")
    console.print(table)
