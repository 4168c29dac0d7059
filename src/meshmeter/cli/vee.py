"""``meshmeter vee``: validation, estimation and editing of one meter's intervals."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from meshmeter.cli.common import DatabaseOption, JsonOption, bad_input, console, parse_time
from meshmeter.errors import MeshmeterError


def vee_command(
    meter: Annotated[str, typer.Option(help="Meter serial.")],
    start: Annotated[str, typer.Option(help="Start, ISO-8601 with offset (exclusive).")],
    end: Annotated[str, typer.Option(help="End, ISO-8601 with offset (inclusive).")],
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone for like days; default the site's.")
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate, estimate and edit one meter's intervals (raw data is never overwritten).

    Example: meshmeter vee --meter MM26000001 --start 2026-10-01T07:00Z --end 2026-11-01T07:00Z
    """
    from meshmeter.headend.vee import run_vee
    from meshmeter.store import Store

    try:
        t0, t1 = parse_time("start", start), parse_time("end", end)
        with Store(database) as store:
            found = store.get_meter(serial=meter)
            if found is None:
                raise ValueError(f"meter {meter!r} is not in the store")
            report = run_vee(store, meter_id=found.id, start=t0, end=t1, timezone=timezone)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    findings = [str(f) for f in report.findings]
    summary: dict[str, Any] = {
        "meter": meter,
        "intervals": report.intervals,
        "valid": report.valid,
        "questionable": report.questionable,
        "interpolated": report.interpolated,
        "estimated_reference_day": report.estimated_reference_day,
        "missing": report.missing,
        "kept_edits": report.kept_edits,
        "changed": report.changed,
        "findings": findings,
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        console.print(", ".join(f"{k}: {v}" for k, v in summary.items() if k != "findings"))
        for finding in findings[:20]:
            console.print(f"  {finding}")
