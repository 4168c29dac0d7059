"""``meshmeter token``: API tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from meshmeter.cli.common import DatabaseOption, bad_input, err_console
from meshmeter.errors import MeshmeterError

token_app = typer.Typer(help="API tokens.", no_args_is_help=True)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin, operator, billing or read-only.")],
    label: Annotated[str | None, typer.Option(help="What the token is for.")] = None,
    database: DatabaseOption = None,
) -> None:
    """Create an API token; it is printed once and only its hash is stored.

    Example: meshmeter token create --role read-only --label "billing clerk"
    """
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            record, token = store.create_api_token(role=role, label=label)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    typer.echo(token)
    err_console().print(f"token {record.id} ({record.role}) created; keep it: it is not shown again")
