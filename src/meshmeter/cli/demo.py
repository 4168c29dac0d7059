"""``meshmeter demo``: the demo building simulated, stored, billed and served."""

from __future__ import annotations

from typing import Annotated

import typer

from meshmeter.cli.common import bad_input
from meshmeter.cli.site import SeedOption, StartOption, run_site, site_summary_out, site_window
from meshmeter.errors import MeshmeterError

DEMO_SIGN_IN_LABEL = "meshmeter demo"
"""The label of the admin token that the demo's sign-in link makes when it is followed."""


def demo_command(
    days: Annotated[
        float, typer.Option(help="Simulated days; without --start, whole local days and today so far.")
    ] = 31.0,
    seed: SeedOption = 0,
    start: StartOption = None,
    database: Annotated[
        str, typer.Option("--database", help="SQLite file of the demo (replaced if it exists).")
    ] = "meshmeter-demo.sqlite",
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API and dashboard after.")
    ] = True,
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """The demo: a 24-unit building with a house and a solar meter, simulated, stored, billed, served.

    Writes a fresh SQLite file (docs/demo.md), prints network health, energy, bills and alerts,
    then serves the API and dashboard on http://HOST:PORT/ until Ctrl-C, and prints to stderr a sign-in
    link that opens the dashboard signed in as admin (once, within 15 minutes). Exit 0; 2 on bad input.

    Example: meshmeter demo --days 7 --no-serve
    """
    import os
    from pathlib import Path

    from meshmeter.site.config import parse_site
    from meshmeter.site.example import demo_site_toml
    from meshmeter.store import Store

    target = Path(database)
    if "://" in database:
        raise bad_input(f"--database takes a file path (the demo's own SQLite file), got {database!r}")
    try:
        site = parse_site(demo_site_toml())
        t0, run_days = site_window(start, days, site.timezone)
        for suffix in ("", "-wal", "-shm"):
            companion = Path(f"{target}{suffix}")
            if companion.exists():
                os.remove(companion)
        url = f"sqlite:///{target.resolve()}"
        summary = run_site(url, site, t0, run_days, seed, str(target), as_json)
    except (ValueError, MeshmeterError, OSError) as exc:
        raise bad_input(str(exc)) from None
    site_summary_out(summary, as_json)
    if serve:
        from meshmeter.api.main import create_app
        from meshmeter.cli.serve import sign_in_message, uvicorn_server

        served = Store(url)
        app_ = create_app(served)  # the bills are in the store

        def announce(bound_port: int) -> None:
            # the admin token ("meshmeter demo", of this demo database only) is made when the link is followed
            link = sign_in_message(app_, host, bound_port, DEMO_SIGN_IN_LABEL)
            typer.echo(
                f"serving the API and the dashboard (http://{host}:{bound_port}/dashboard) until Ctrl-C; "
                f"database {target}\n{link}",
                err=True,
            )

        try:
            uvicorn_server(app_, host=host, port=port, announce=announce).run()
        finally:
            served.close()
