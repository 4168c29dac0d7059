"""``meshmeter site``: register a site, write and check a site file, run a site into the store.

The run of a site behind a progress bar (``run_site``) and its start and length (``site_window``) serve
``meshmeter demo`` too.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

import typer

from meshmeter.cli.common import (
    TIME_HELP,
    DatabaseOption,
    JsonOption,
    bad_input,
    console,
    err_console,
    parse_time,
)
from meshmeter.errors import MeshmeterError

site_app = typer.Typer(help="Sites of the store.", no_args_is_help=True)


@site_app.command("add")
def site_add(
    name: Annotated[str, typer.Option(help="Site name (unique).")],
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. America/Los_Angeles.")],
    database: DatabaseOption = None,
) -> None:
    """Register a site; prints its id.

    Example: meshmeter site add --name "Mission Court" --timezone America/Los_Angeles
    """
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            site = store.create_site(name=name, timezone=timezone)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    typer.echo(str(site.id))


@site_app.command("set")
def site_set(
    name: Annotated[str, typer.Argument(help="The site's name.")],
    owner_name: Annotated[
        str | None, typer.Option(help="The owner or manager who bills the tenants, as printed; '' clears.")
    ] = None,
    owner_address: Annotated[
        str | None, typer.Option(help="The owner's address, as printed; '' clears.")
    ] = None,
    payment_instructions: Annotated[
        str | None, typer.Option(help="How tenants pay, as printed on bills; '' clears.")
    ] = None,
    due_days: Annotated[
        int | None,
        typer.Option(help="Days from a bill's issue to its due date, 0 to 90.", show_default=False),
    ] = None,
    correction_mode: Annotated[
        str | None,
        typer.Option(
            help="How corrections of issued bills go out: corrected_bill (a corrected bill that replaces "
            "the original) or next_bill (adjustment lines on the account's next bill)."
        ),
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change what a site's bills say and do; prints the site's settings as they are now.

    Every setting given is checked at once, and a bad one changes nothing (exit 2 naming each).

    Example: meshmeter site set "Oak Court" --correction-mode next_bill --due-days 14
    """
    from meshmeter.services.billing import find_site
    from meshmeter.store import Store

    given: dict[str, object] = {
        key: (None if value == "" else value)
        for key, value in (
            ("owner_name", owner_name),
            ("owner_address", owner_address),
            ("payment_instructions", payment_instructions),
            ("due_days", due_days),
            ("correction_mode", correction_mode),
        )
        if value is not None
    }
    if not given:
        raise bad_input(
            "give a setting to change: --owner-name, --owner-address, --payment-instructions, --due-days "
            "or --correction-mode"
        )
    try:
        with Store(database) as store:
            site = store.update_site(site_id=find_site(store, name).id, **given)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    settings = {
        "site": site.name,
        "owner_name": site.owner_name,
        "owner_address": site.owner_address,
        "payment_instructions": site.payment_instructions,
        "due_days": site.due_days,
        "correction_mode": site.correction_mode,
    }
    if as_json:
        typer.echo(json.dumps(settings, indent=2))
        return
    for key, value in settings.items():
        console.print(f"{key}: {'-' if value is None else value}", markup=False)


def _site_progress(quiet: bool) -> Any:
    """A rich progress bar for the stages of a site run, and the callback that drives it."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err_console(),
        disable=quiet,
    )
    labels = {
        "meters": "meter twins on their loads",
        "mesh": "mesh: formation, reports, DCAP",
        "store": "storing (head-end ingest)",
        "vee": "VEE on every meter",
    }
    tasks: dict[str, Any] = {}

    def progress(stage: str, done: float, total: float) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(labels.get(stage, stage), total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return bar, progress


def site_window(text: str | None, days: float, timezone: str) -> tuple[Any, float]:
    """The run's start and length: from --start for --days, else --days whole local days and today."""
    from meshmeter.demo import default_window

    if not (math.isfinite(days) and 1 / 96 <= days <= 366):
        raise ValueError(f"days must be between 1/96 and 366, got {days!r}")
    if text is None:
        return default_window(days, timezone)
    start = parse_time("--start", text, timezone)
    if start.timestamp() % 900:
        raise ValueError(f"start must be on a 15-minute boundary (:00, :15, :30, :45), got {text!r}")
    return start, days


def run_site(
    url: str | None, config: Any, start: Any, days: float, seed: int, named: str, quiet: bool
) -> Any:
    """Run a site into the store at ``url`` (``named`` in its summary) behind a progress bar."""
    from meshmeter.demo import run_site_demo
    from meshmeter.store import Store

    bar, progress = _site_progress(quiet)
    with Store(url) as store, bar:
        summary = run_site_demo(
            store, config, start=start, days=days, seed=seed, database=named, progress=progress
        )
    return summary


def site_summary_out(summary: Any, as_json: bool) -> None:
    """Print a site run's summary: JSON, or the summary's own tables."""
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2, default=str))
    else:
        summary.print(console)


@site_app.command("init")
def site_init(
    path: Annotated[str, typer.Argument(help="Where to write the site file.")] = "site.toml",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write an example site file, the demo building (docs/site.md). Exit 2 if the file exists.

    Example: meshmeter site init my-building.toml
    """
    from pathlib import Path

    from meshmeter.site.example import demo_site_toml

    target = Path(path)
    if target.exists() and not force:
        raise bad_input(f"{path} exists; use --force to overwrite it")
    try:
        target.write_text(demo_site_toml(), encoding="utf-8")
    except OSError as exc:
        raise bad_input(f"cannot write {path!r}: {exc.strerror}") from None
    console.print(f"wrote {path}: edit it, then: meshmeter site validate {path}")


@site_app.command("validate")
def site_validate(
    path: Annotated[str, typer.Argument(help="A site file (TOML, docs/site.md).")],
    as_json: JsonOption = False,
) -> None:
    """Check a site file: exit 0 when it is good, 1 naming the line and field of its first mistake.

    Cautions of the manual (an MDT in a metal box, repeaters powered farthest first) are warnings.

    Example: meshmeter site validate site.toml
    """
    from meshmeter.site.config import SiteFileError, load_site

    try:
        config = load_site(path)
    except SiteFileError as exc:
        if as_json:
            typer.echo(json.dumps({"valid": False, "error": str(exc), "line": exc.line, "field": exc.field}))
        else:
            err_console().print(f"[bold red]invalid:[/] {exc}", soft_wrap=True)
        raise typer.Exit(code=1) from None
    data = {
        "valid": True,
        "site": config.name,
        "timezone": config.timezone,
        "meters": len(config.meters),
        "repeaters": len(config.repeaters),
        "tenants": len(config.tenants),
        "accounts": len(config.accounts),
        "power_order": config.power_order,
        "warnings": list(config.warnings),
    }
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    console.print(
        f"{path}: valid. {config.name} ({config.timezone}): {len(config.meters)} meters with their MDTs, "
        f"{len(config.repeaters)} repeaters powered {config.power_order}, {len(config.tenants)} tenants, "
        f"{len(config.accounts)} accounts"
    )
    for warning in config.warnings:
        console.print(f"[yellow]warning:[/] {warning}")


SeedOption = Annotated[int, typer.Option(help="Seed of the loads and the radio.")]
StartOption = Annotated[
    str | None,
    typer.Option(help=f"Start, on :00/:15/:30/:45: {TIME_HELP}; default: DAYS local days ago."),
]
"""The options of a simulated run that ``site simulate`` and ``demo`` share."""


@site_app.command("simulate")
def site_simulate(
    path: Annotated[str, typer.Argument(help="A site file (TOML, docs/site.md).")],
    days: Annotated[
        float, typer.Option(help="Simulated days, 1/96 to 366; without --start, and today so far.")
    ] = 31.0,
    seed: SeedOption = 0,
    start: StartOption = None,
    database: DatabaseOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run a site's meters and mesh, store everything, run VEE, bill the accounts; print a summary.

    A run that was stopped part-way (killed, the power cut) is finished by running the same command
    again: the same file, window (--start, --days) and seed; it ends with the store an uninterrupted run
    leaves (docs/site.md, "A stopped run").

    Exit 0; 2 on a bad file (line and field named), bad option, a site already in the store, or an
    unfinished run of it from another file, window or seed (the message says how to finish it).

    Example: meshmeter site simulate site.toml --days 7 --database sqlite:///site.sqlite
    """
    import os

    from meshmeter.site.config import SiteFileError, load_site

    try:
        config = load_site(path)
        t0, run_days = site_window(start, days, config.timezone)
        named = database or os.environ.get("MESHMETER_DATABASE_URL") or "sqlite:///meshmeter.db"
        summary = run_site(database, config, t0, run_days, seed, named, quiet or as_json)
    except SiteFileError as exc:
        raise bad_input(str(exc)) from None
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    site_summary_out(summary, as_json)
