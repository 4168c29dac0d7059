"""``meshmeter serve``: the API and the dashboard over a store, and with ``--collect`` the collector beside
them in the same process (``docs/collect.md``)."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from meshmeter.cli.common import DatabaseOption, bad_input, console
from meshmeter.errors import MeshmeterError


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    collect: Annotated[
        bool,
        typer.Option(
            help="Run the collector too: read every enabled source of real readings (meshmeter source add) "
            "beside the API, stopped with it."
        ),
    ] = False,
    collect_site: Annotated[
        str | None,
        typer.Option(help="With --collect: only this site's sources (its id or name); default every site's."),
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Serve the API (OpenAPI document at /openapi.json) and the dashboard.

    With --collect, the collector runs in the same process: MQTT pulse counters, Modbus meters and rtlamr
    sources are read as `meshmeter collect` reads them, and their health is served at
    GET /sites/{site_id}/sources and on the dashboard's sources page. Sources added or changed while it
    runs are taken when it is started again. Refused (exit 2): --collect with no enabled source, or
    --collect-site without --collect.

    Example: meshmeter serve --port 8000 --database sqlite:///meshmeter-demo.sqlite --collect
    """
    import uvicorn

    from meshmeter.api.main import create_app
    from meshmeter.collect.collector import Collector
    from meshmeter.collect.runner import CollectorRunner
    from meshmeter.store import Store

    if collect_site is not None and not collect:
        raise bad_input("--collect-site needs --collect")
    runner: CollectorRunner | None = None
    try:
        store = Store(database)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    try:
        app_ = create_app(store)
        if collect:
            from meshmeter.cli.source import _site_id

            site_id = None if collect_site is None else _site_id(store, collect_site)
            collector = Collector(store, site_id=site_id)
            if not collector.sources:
                raise ValueError(
                    "--collect: no source to run: add one with meshmeter source add, or enable it"
                )
            runner = CollectorRunner(collector)
    except (ValueError, MeshmeterError) as exc:
        store.close()
        raise bad_input(str(exc)) from None
    server = uvicorn.Server(uvicorn.Config(app_, host=host, port=port))
    # uvicorn stops on SIGINT or SIGTERM, then raises the signal again to its previous handler: this one
    # lets the collector be stopped and the store closed before the process ends (exit status 0)
    previous = {s: signal.signal(s, _stopped) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if runner is not None:
            runner.start()
            if not runner.wait_connected(10.0):
                console.print("warning: an MQTT broker is not connected yet; retrying in the background")
            names = ", ".join(sorted(s.name for s in runner.collector.sources.values()))
            console.print(f"collecting from {len(runner.collector.sources)} source(s): {names}")
        server.run()  # until SIGINT or SIGTERM (uvicorn's own handlers)
    finally:
        if runner is not None:
            runner.stop()
        store.close()
        for number, handler in previous.items():
            signal.signal(number, handler)


def _stopped(signum: int, frame: object) -> None:
    """The signal that stopped the server, raised again by uvicorn once it stopped: nothing more to do."""
