"""``meshmeter serve``: the API and the dashboard over a store, and with ``--collect`` the collector beside
them in the same process (``docs/collect.md``)."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from meshmeter.cli.common import DatabaseOption, bad_input, console
from meshmeter.errors import MeshmeterError

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

    from meshmeter.store import Store

SERVE_SIGN_IN_LABEL = "meshmeter serve sign-in link"
"""The label of the admin token that the sign-in link of ``meshmeter serve`` makes when it is followed."""


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
    link: Annotated[
        bool,
        typer.Option(
            "--link/--no-link",
            help="Print, once the server listens, a sign-in link to stderr: it opens the dashboard signed "
            "in as admin, once, within 15 minutes. --no-link where others read the server's log.",
        ),
    ] = True,
) -> None:
    """Serve the API (OpenAPI document at /openapi.json) and the dashboard.

    Once it listens, it prints to stderr, once, a one-time sign-in link
    (http://127.0.0.1:8000/dashboard/login?code=...): opened in a browser within 15 minutes,
    it makes an admin token labelled "meshmeter serve sign-in link" and signs the browser in
    with it. Such tokens older than a session (12 h) are revoked at the next start. --no-link
    prints none and makes none.

    With --collect, the collector runs in the same process: MQTT pulse counters, Modbus meters and rtlamr
    sources are read as `meshmeter collect` reads them, and their health is served at
    GET /sites/{site_id}/sources and on the dashboard's sources page. Sources added or changed while it
    runs are taken when it is started again. Refused (exit 2): --collect with no enabled source, or
    --collect-site without --collect.

    Example: meshmeter serve --port 8000 --database sqlite:///meshmeter-demo.sqlite --collect
    """
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
    announce = None
    if link:
        retire_sign_in_tokens(store)

        def announce(bound_port: int) -> None:
            typer.echo(sign_in_message(app_, host, bound_port, SERVE_SIGN_IN_LABEL), err=True)

    server = uvicorn_server(app_, host=host, port=port, announce=announce)
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


def retire_sign_in_tokens(store: Store) -> list[int]:
    """
    Revoke the admin tokens made by ``meshmeter serve``'s sign-in links whose session has ended.

    A followed link makes a token (:data:`SERVE_SIGN_IN_LABEL`) held only by the browser's session
    cookie, which the browser keeps :data:`~meshmeter.api.dashboard.SESSION_MAX_AGE_S`; once that has
    passed since it was made, no one holds it, and it is revoked here rather than left to pile up as
    live admin tokens, one per start. Younger ones are kept: restarting the server signs no one out.

    Returns
    -------
    list of int
        The ids of the tokens revoked.
    """
    from meshmeter.api.dashboard import SESSION_MAX_AGE_S

    horizon = datetime.now(UTC) - timedelta(seconds=SESSION_MAX_AGE_S)
    stale = [
        t.id
        for t in store.api_tokens(include_revoked=False)
        if t.label == SERVE_SIGN_IN_LABEL and t.created_at <= horizon
    ]
    for token_id in stale:
        store.revoke_api_token(token_id=token_id)
    return stale


def sign_in_message(app: FastAPI, host: str, port: int, label: str) -> str:
    """What ``serve`` and ``demo`` print: the sign-in link, newly issued, and what it is good for."""
    from meshmeter.api.dashboard import SIGN_IN_LINK_TTL_S, sign_in_link

    url = sign_in_link(app, host=host, port=port, label=label)
    minutes = round(SIGN_IN_LINK_TTL_S / 60)
    message = f"Open the dashboard (signed in as admin, link good once for {minutes} min):\n{url}"
    if host.strip().strip("[]") in ("0.0.0.0", "::"):
        message += "\n(from another machine, put this server's name in place of the address)"
    return message


class _HideSignInCode(logging.Filter):
    """Keeps a sign-in link's code out of uvicorn's access log (the request line has it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from meshmeter.api.dashboard import hide_sign_in_code

        if isinstance(record.args, tuple):
            record.args = tuple(hide_sign_in_code(a) if isinstance(a, str) else a for a in record.args)
        return True


def uvicorn_server(
    app: FastAPI, *, host: str, port: int, announce: Callable[[int], None] | None = None
) -> uvicorn.Server:
    """
    uvicorn's server for ``app``, that calls ``announce`` with the port it listens on once it listens.

    The announcement comes after uvicorn's own "running on" line, never when the port could not be
    bound; with port 0 it gives the port chosen by the system. The access log hides sign-in codes.
    """
    import socket

    import uvicorn

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started and announce is not None:
                bound = [s.getsockname()[1] for server in self.servers for s in server.sockets]
                announce(int(bound[0]) if bound else port)

    server = _Server(uvicorn.Config(app, host=host, port=port))  # configures uvicorn's loggers
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _HideSignInCode) for f in access.filters):
        access.addFilter(_HideSignInCode())
    return server
