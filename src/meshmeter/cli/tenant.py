"""``meshmeter tenant``: tenants of the store (``docs/store.md``, "Tenants, units, accounts and
occupancies")."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from meshmeter.cli.common import DatabaseOption, JsonOption, bad_input, recorded_by
from meshmeter.cli.tables import Column, key, print_json, print_table
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
    """List tenants, names first: the tenant, the units they occupy now and their accounts; the id last.

    Example: meshmeter tenant list --site 1 --json
    """
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            tenants = store.tenants(site_ids=None if site is None else [site])
            held = {t.id: [a.number for a in store.accounts(tenant_id=t.id)] for t in tenants}
            units = {u.id: u.name for u in store.units(site_id=site)}
            living: dict[int, list[str]] = {}
            for o in store.occupancies(site_id=site):
                if o.move_out is None and o.unit_id in units:
                    living.setdefault(o.tenant_id, []).append(units[o.unit_id])
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    rows = [
        {"id": t.id, "name": t.name, "accounts": held[t.id], "units": sorted(living.get(t.id, []))}
        for t in tenants
    ]
    if as_json:
        print_json(rows)
        return
    print_table(
        (
            Column("Tenant", key("name"), long=True),
            Column("Units now", lambda r: ", ".join(r["units"]) or "none", long=True),
            Column("Accounts", lambda r: ", ".join(r["accounts"]), long=True),
            Column("Id", key("id"), justify="right"),
        ),
        rows,
        empty="No tenant yet: add one with `meshmeter tenant create NAME`.",
    )
