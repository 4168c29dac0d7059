"""``meshmeter decode``: a model designation read (certificate p.1, manual §2.4)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from meshmeter.cli.common import JsonOption, bad_input, console
from meshmeter.errors import MeshmeterError


def decode_command(
    model: Annotated[
        str, typer.Argument(help="A designation: MM-D1202001-T-SCC, CT200124BK-A, MMSMT-E02 ...")
    ],
    as_json: JsonOption = False,
) -> None:
    """Decode a model designation (certificate p.1, manual §2.4), or say why it is not one.

    Example: meshmeter decode MM-D1202001-T-SCC --json
    """
    from rich.table import Table

    from meshmeter.catalog import decode

    try:
        spec = decode(model)
    except MeshmeterError as exc:
        if as_json:
            field = getattr(exc, "field", None)
            allowed = list(getattr(exc, "allowed", ()))
            typer.echo(json.dumps({"valid": False, "error": str(exc), "field": field, "allowed": allowed}))
            raise typer.Exit(code=1) from None
        raise bad_input(str(exc)) from None
    data = spec.to_dict()
    if as_json:
        typer.echo(json.dumps({"valid": True, **data}, indent=2))
        return
    table = Table(title=f"{data['designation']} ({data['kind']})", show_header=False)
    for key, value in data.items():
        if key in ("designation", "kind"):
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        table.add_row(key, str(value))
    console.print(table)
