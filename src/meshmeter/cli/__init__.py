"""The ``meshmeter`` command.

Each command is a thin face over the library: it parses, calls, and prints (a table for people, JSON for
programs with ``--json``). Errors in the input print one line naming the bad argument and exit with
status 2.

One module per command group; this one builds the program from them, in the order ``--help`` lists
them. Importing the package (and ``meshmeter --help``) loads typer and rich's console only: each command
imports numpy, the twin, the mesh, the store or the API when it runs (``tests/cli/test_imports.py``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from meshmeter import __version__
from meshmeter.cli import (
    alerts,
    billing,
    decode,
    demo,
    evaluate,
    export,
    ingest,
    meter,
    network,
    push,
    serve,
    site,
    tokens,
    vee,
)
from meshmeter.cli.common import DatabaseOption, JsonOption, bad_input, console, parse_time
from meshmeter.cli.meter import steady_result_to_dict

__all__ = [
    "DatabaseOption",
    "JsonOption",
    "app",
    "bad_input",
    "console",
    "main",
    "parse_time",
    "steady_result_to_dict",
]

app = typer.Typer(
    name="meshmeter",
    help="Electricity sub-metering with wireless AMR: the Mini Meter twin, its mesh and the head-end.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"meshmeter {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """meshmeter: the Mini Meter twin, its wireless AMR mesh and the head-end behind the DCAP.

    Exit codes: 0 done; 1 the thing checked failed (site validate, cit, evaluate, decode --json);
    2 bad input (an option, a file, a database). Start with: meshmeter demo
    """


# Commands, then groups, each in the order --help lists them (docs/cli.md).
app.command("decode")(decode.decode_command)
app.command("serve")(serve.serve_command)
app.command("ingest")(ingest.ingest_command)
app.command("vee")(vee.vee_command)
app.command("export")(export.export_command)
app.command("import")(ingest.import_command)
app.command("push")(push.push_command)
app.command("alerts")(alerts.alerts_command)
app.command("evaluate")(evaluate.evaluate_command)
app.command("bill")(billing.bill_command)
app.command("production")(billing.production_command)
app.command("cit")(network.cit_command)
app.command("demo")(demo.demo_command)
app.add_typer(meter.meter_app, name="meter")
app.add_typer(network.network_app, name="network")
app.add_typer(tokens.token_app, name="token")
app.add_typer(ingest.ingest_format_app, name="ingest-format")
app.add_typer(site.site_app, name="site")


def main() -> None:
    """Entry point of the ``meshmeter`` command."""
    app()
