"""The ``meshmeter`` command.

Each command is a thin face over the library: it parses, calls, and prints (a table for people, JSON for
programs with ``--json``). Every error of the input or of the environment prints one line (what
failed, what to do) and exits with a status by kind: 2 bad input, 3 a service unreachable, 1 a check
failed or work left pending (``common.py``: ``MeshmeterGroup``, ``exit_code_for``); ``meshmeter
--debug`` shows the traceback instead.

One module per command group; this one builds the program from them, in the order ``--help`` lists
them. Importing the package (and ``meshmeter --help``) loads typer and rich's console only: each command
imports numpy, the twin, the mesh, the store or the API when it runs (``tests/cli/test_imports.py``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from meshmeter import __version__
from meshmeter.cli import (
    account,
    alerts,
    allocate,
    billing,
    corrections,
    decode,
    demo,
    evaluate,
    export,
    ingest,
    meter,
    network,
    push,
    reconcile,
    serve,
    site,
    source,
    status,
    tariff,
    tenant,
    tokens,
    unit,
    vee,
)
from meshmeter.cli.common import (
    DEBUG_KEY,
    DatabaseOption,
    JsonOption,
    MeshmeterGroup,
    bad_input,
    console,
    parse_time,
)
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
    epilog="Exit status: 0 done; 1 a check failed or work is left pending; 2 bad input; "
    "3 a service unreachable (database, MQTT broker, webhook target). --debug shows the traceback.",
    no_args_is_help=True,
    add_completion=False,
    cls=MeshmeterGroup,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"meshmeter {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an error instead of its one line.")
    ] = False,
) -> None:
    """meshmeter: the Mini Meter twin, its wireless AMR mesh and the head-end behind the DCAP.

    Exit codes: 0 done; 1 the thing checked failed (site validate, cit, evaluate, decode --json, status) or
    work is left pending (push); 2 bad input (an option, a file, a database URL); 3 a service
    unreachable or refusing (the database or its lock, the MQTT broker, a webhook target).
    Start with: meshmeter demo
    """
    ctx.meta[DEBUG_KEY] = debug


# Commands, then groups, each in the order --help lists them (docs/cli.md).
app.command("decode")(decode.decode_command)
app.command("serve")(serve.serve_command)
app.command("ingest")(ingest.ingest_command)
app.add_typer(vee.vee_app, name="vee")  # a group whose callback still runs VEE: `meshmeter vee --meter ...`
app.command("export")(export.export_command)
app.command("import")(ingest.import_command)
app.command("push")(push.push_command)
app.command("alerts")(alerts.alerts_command)
app.command("evaluate")(evaluate.evaluate_command)
app.command("bill")(billing.bill_command)
app.command("production")(billing.production_command)
app.command("allocate")(allocate.allocate_command)
app.command("collect")(source.collect_command)
app.command("reconcile")(reconcile.reconcile_command)
app.command("cit")(network.cit_command)
app.command("status")(status.status_command)
app.command("demo")(demo.demo_command)
app.add_typer(meter.meter_app, name="meter")
app.add_typer(network.network_app, name="network")
app.add_typer(tokens.token_app, name="token")
app.add_typer(ingest.ingest_format_app, name="ingest-format")
app.add_typer(site.site_app, name="site")
app.add_typer(source.source_app, name="source")
app.add_typer(unit.unit_app, name="unit")
app.add_typer(tenant.tenant_app, name="tenant")
app.add_typer(account.account_app, name="account")
app.add_typer(tariff.tariff_app, name="tariff")
app.add_typer(corrections.corrections_app, name="corrections")


def main() -> None:
    """Entry point of the ``meshmeter`` command."""
    app()
