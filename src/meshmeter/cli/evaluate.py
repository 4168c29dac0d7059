"""``meshmeter evaluate``: a type evaluation (certificate p.2) on the meter twin."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from meshmeter.cli.common import bad_input, console


def evaluate_command(
    model: Annotated[str, typer.Option(help="Meter designation.")] = "MM-D1202001-T-SCC",
    serial: Annotated[str, typer.Option(help="Serial number of the meter under test.")] = "MM00000001",
    plan: Annotated[
        str, typer.Option(help="ctep, ansi, spec, creep, permanence, all, or a plan file (TOML).")
    ] = "all",
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help="Inject a fault: gain=+1%, ct-ratio=R (1000 or 100:0.1), reversed-ct[=E], phase-deg=D; "
            "repeat for several."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (every point).")] = False,
    report: Annotated[
        str | None, typer.Option(help="Write evaluation.csv, evaluation.html and evaluation.pdf into DIR.")
    ] = None,
) -> None:
    """Run a type evaluation (certificate p.2) on the meter twin; exit 0 if every point passes, 1 if not.

    Plans, faults and reports: docs/evaluation.md. Examples:

    meshmeter evaluate --plan ansi

    meshmeter evaluate --plan ctep --fault gain=+1% --report out/

    meshmeter evaluate --plan my-plan.toml --fault reversed-ct=2 --json
    """
    from rich.console import Console
    from rich.progress import Progress

    from meshmeter.evaluation import evaluate, evaluation_to_dict, load_plans, parse_fault, write_report

    try:
        plans = load_plans(plan)
        faults = [parse_fault(text) for text in fault or ()]
    except ValueError as exc:
        raise bad_input(str(exc)) from None
    try:
        if as_json:
            result = evaluate(plans, model=model, serial=serial, faults=faults)
        else:
            with Progress(console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("evaluating", total=None)

                def step(name: str, done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total, description=f"plan {name}")

                result = evaluate(plans, model=model, serial=serial, faults=faults, progress=step)
        paths = write_report(result, report) if report is not None else {}
    except (ValueError, OSError) as exc:
        raise bad_input(str(exc)) from None
    if as_json:
        data = evaluation_to_dict(result)
        data["report"] = {kind: str(path) for kind, path in paths.items()}
        typer.echo(json.dumps(data, indent=2))
    else:
        _print_evaluation(result, paths)
    if not result.passed:
        raise typer.Exit(code=1)


def _print_evaluation(result: Any, paths: dict[str, Any]) -> None:
    from rich.table import Table

    title = f"{result.model}  serial {result.serial}"
    if result.faults:
        title += "  faults: " + ", ".join(f.text for f in result.faults)
    table = Table(title=title)
    for col in ("plan", "points", "failed", "worst error [%]", "result"):
        table.add_column(col, justify="left" if col in ("plan", "result") else "right")
    for pr in result.plans:
        errors = [abs(p.error_percent) for p in pr.points if p.error_percent is not None]
        worst = f"{max(errors):.3f}" if errors and pr.plan.kind != "creep" else "-"
        verdict = "[green]pass[/]" if pr.passed else "[red]fail[/]"
        table.add_row(pr.plan.name, str(len(pr.points)), str(pr.failed), worst, verdict)
    console.print(table)
    failed = [p for pr in result.plans for p in pr.points if not p.passed]
    if failed:
        detail = Table(title=f"Failed points (first {min(len(failed), 20)} of {len(failed)})")
        for col in ("plan", "#", "element", "I [A]", "PF", "% reg.", "note"):
            detail.add_column(col)
        for p in failed[:20]:
            pct = "-" if p.percent_registration is None else f"{p.percent_registration:.3f}"
            detail.add_row(
                p.plan, f"{p.stage} {p.number}", p.point.element, f"{p.point.current_a:g}",
                p.point.pf_text, pct, p.note,
            )  # fmt: skip
        console.print(detail)
    if result.reversed:
        console.print("[red]Reverse phase indicated: a CT is installed backwards (manual §4.5.1, §7).[/]")
    for kind, path in paths.items():
        console.print(f"{kind}: {path}")
    console.print(
        "[green]Every point passed.[/]" if result.passed else f"[red]{result.failed} point(s) failed.[/]"
    )
