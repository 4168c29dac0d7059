"""``meshmeter serve``: the API and the dashboard over a store."""

from __future__ import annotations

from typing import Annotated

import typer

from meshmeter.cli.common import DatabaseOption, bad_input
from meshmeter.errors import MeshmeterError


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    database: DatabaseOption = None,
) -> None:
    """Serve the API (OpenAPI document at /openapi.json).

    Example: meshmeter serve --port 8000 --database sqlite:///meshmeter-demo.sqlite
    """
    import uvicorn

    from meshmeter.api.main import create_app
    from meshmeter.store import Store

    try:
        app_ = create_app(Store(database))
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    uvicorn.run(app_, host=host, port=port)
