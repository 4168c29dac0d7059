"""``meshmeter token``: API tokens."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from meshmeter.cli.common import DatabaseOption, JsonOption, bad_input, err_console
from meshmeter.cli.tables import Column, key, print_json, print_table
from meshmeter.errors import MeshmeterError

token_app = typer.Typer(help="API tokens.", no_args_is_help=True)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin, operator, billing, read-only or tenant.")],
    label: Annotated[str | None, typer.Option(help="What the token is for.")] = None,
    account: Annotated[
        int | None, typer.Option(help="With --role tenant (required): the one account (id) it reads.")
    ] = None,
    site: Annotated[
        list[int] | None,
        typer.Option(help="Bind an operator, billing or read-only token to this site (id); repeat for more."),
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Create an API token; it is printed once and only its hash is stored.

    A tenant token reads its account's intervals within its occupancies, its bills and its Green Button
    file, nothing else; a token bound to sites sees those sites only (docs/api.md, "Scopes").

    Example: meshmeter token create --role read-only --label "billing clerk"
    Example: meshmeter token create --role tenant --account 7 --label "unit 2A"
    Example: meshmeter token create --role billing --site 1 --site 3 --label "billing service"
    """
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            record, token = store.create_api_token(
                role=role, label=label, account_id=account, site_ids=site or ()
            )
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    typer.echo(token)
    scope = ""
    if record.account_id is not None:
        scope = f", account {record.account_id}"
    elif record.site_ids:
        scope = f", sites {', '.join(str(s) for s in record.site_ids)}"
    err_console().print(f"token {record.id} ({record.role}{scope}) created; keep it: it is not shown again")


@token_app.command("list")
def token_list(
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the tokens stored (never the tokens themselves): role, scope, state.

    Example: meshmeter token list --json
    """
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            tokens = store.api_tokens()
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    rows = [
        {
            "id": t.id,
            "prefix": t.prefix,
            "role": t.role,
            "label": t.label,
            "account_id": t.account_id,
            "site_ids": list(t.site_ids),
            "created_at": t.created_at.isoformat(),
            "revoked_at": None if t.revoked_at is None else t.revoked_at.isoformat(),
        }
        for t in tokens
    ]
    if as_json:
        print_json(rows)
        return
    print_table(
        (
            Column("Label", key("label"), long=True),
            Column("Role", key("role")),
            Column("Scope", _scope, long=True),
            Column("State", lambda r: "active" if r["revoked_at"] is None else f"revoked {r['revoked_at']}"),
            Column("Created", key("created_at")),
            Column("Prefix", lambda r: f"{r['prefix']}..."),
            Column("Id", key("id"), justify="right"),
        ),
        rows,
        empty="No token yet: make one with `meshmeter token create --role ROLE`.",
    )


def _scope(row: dict[str, Any]) -> str:
    if row["account_id"] is not None:
        return f"account {row['account_id']}"
    if row["site_ids"]:
        return "sites " + ", ".join(str(s) for s in row["site_ids"])
    return "everything"
