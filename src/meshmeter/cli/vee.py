"""``meshmeter vee``: validation, estimation and editing of one meter's intervals, and the VEE work list.

``meshmeter vee --meter M --start S --end E`` runs VEE as it always did; ``meshmeter vee list`` prints the
work list (:mod:`meshmeter.services.vee_worklist`) and ``meshmeter vee accept|edit|reread`` act on one
interval of it. ``vee`` is a group whose callback runs VEE when no subcommand is named (typer's
``invoke_without_command``), so that the old invocation keeps working unchanged (``docs/vee.md``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from meshmeter.cli.common import (
    TIME_HELP,
    DatabaseOption,
    JsonOption,
    bad_input,
    console,
    parse_time,
    recorded_by,
)
from meshmeter.cli.tables import Column, key, print_json, print_table
from meshmeter.errors import MeshmeterError

vee_app = typer.Typer(
    help="Validate, estimate and edit intervals (VEE); the work list of flagged and estimated intervals.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@vee_app.callback()
def vee_command(
    ctx: typer.Context,
    meter: Annotated[str | None, typer.Option(help="Meter serial.")] = None,
    start: Annotated[str | None, typer.Option(help=f"Start (exclusive): {TIME_HELP}.")] = None,
    end: Annotated[str | None, typer.Option(help=f"End (inclusive): {TIME_HELP}.")] = None,
    timezone: Annotated[
        str | None,
        typer.Option(help="IANA time zone of like days and of --start/--end dates; default the site's."),
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate, estimate and edit one meter's intervals (raw data is never overwritten).

    Example: meshmeter vee --meter MM26000001 --start 2026-10-01 --end 2026-11-01

    The work list: meshmeter vee list --site "Oak Court"; then meshmeter vee accept|edit|reread.
    """
    from meshmeter.headend.vee import run_vee
    from meshmeter.services.tenancy import site_timezone
    from meshmeter.store import Store

    if ctx.invoked_subcommand is not None:
        return
    missing = [f"--{n}" for n, v in (("meter", meter), ("start", start), ("end", end)) if v is None]
    if missing:
        raise bad_input(f"missing option{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    assert meter is not None
    assert start is not None
    assert end is not None
    try:
        with Store(database) as store:
            found = store.get_meter(serial=meter)
            if found is None:
                raise ValueError(
                    f"meter {meter!r} is not in the store: list them with `meshmeter meter list`"
                )
            zone = timezone or site_timezone(store, found.site_id)
            t0, t1 = parse_time("--start", start, zone), parse_time("--end", end, zone)
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


SiteOption = Annotated[str, typer.Option("--site", help="The site: its name (or id).")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why, in words (required).")]
MeterOption = Annotated[str, typer.Option("--meter", help="Meter serial.")]
AtOption = Annotated[
    str,
    typer.Option("--at", help=f"The interval's end: {TIME_HELP}."),
]


def _time(name: str, text: str, timezone: str) -> Any:
    """A time option read in the site's zone (a date is its local midnight)."""
    return parse_time(name, text, timezone)


@vee_app.command("list")
def vee_list(
    site: SiteOption,
    meter: Annotated[str | None, typer.Option("--meter", help="Only this meter (serial).")] = None,
    check: Annotated[str | None, typer.Option("--check", help="Only intervals this check flagged.")] = None,
    state: Annotated[
        str | None, typer.Option("--state", help="Only this state: open, accepted, edited or reread.")
    ] = None,
    start: Annotated[str | None, typer.Option(help=f"Start (exclusive): {TIME_HELP}; default all.")] = None,
    end: Annotated[str | None, typer.Option(help=f"End (inclusive): {TIME_HELP}; default now.")] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The VEE work list of a site: every interval VEE flagged or estimated, open ones first.

    Names first (unit, tenant), then the serial, the interval's end in local time, the state, the raw
    value, the estimate and how it was made, and the checks that fired with their reasons.

    Example: meshmeter vee list --site "Oak Court" --state open
    """
    from meshmeter.services.reconcile import find_site
    from meshmeter.services.vee_worklist import worklist, worklist_to_dict
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            where = find_site(store, site)
            t0 = None if start is None else _time("--start", start, where.timezone)
            t1 = None if end is None else _time("--end", end, where.timezone)
            items = worklist(store, site_id=where.id, start=t0, end=t1, meter=meter, check=check, state=state)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    rows = [worklist_to_dict(i) for i in items]
    if as_json:
        print_json({"data": rows, "count": len(rows)})
        return
    print_table(
        _WORKLIST_COLUMNS,
        rows,
        empty="No interval on the work list: nothing flagged or estimated here (run VEE with "
        "`meshmeter vee --meter SERIAL --start DATE --end DATE`).",
    )


_WORKLIST_COLUMNS = (
    Column("Unit", key("label"), long=True),
    Column("Tenant", key("occupant"), long=True),
    Column("Meter", key("serial")),
    Column("Interval end", key("local_end")),
    Column("State", key("state_words")),
    Column("Raw Wh", key("raw_wh"), justify="right"),
    Column(
        "Estimate",
        lambda r: None if r["estimate_wh"] is None else f"{r['estimate_wh']} ({r['method']})",
        long=True,
    ),
    Column("Why", key("why"), long=True),
)
"""The work list for people: names first, then the serial, the interval's end in local time, the state,
the raw value, the estimate and how it was made, and the checks that fired with their reasons."""


def _act(
    action: str,
    site: str,
    meter: str,
    at: str,
    reason: str,
    value_wh: str | None,
    database: str | None,
    as_json: bool,
) -> None:
    from meshmeter.services.reconcile import find_site
    from meshmeter.services.vee_worklist import act, worklist_to_dict
    from meshmeter.store import Store

    problems: list[str] = []
    value: object = None
    if value_wh is not None:
        text = value_wh.strip()
        value = int(text) if text.lstrip("-").isdigit() else text
    try:
        with Store(database) as store:
            where = find_site(store, site)
            when = None
            try:
                when = _time("--at", at, where.timezone)
            except ValueError as exc:
                problems.append(str(exc))
            try:
                item = act(
                    store,
                    action=action,
                    meter=meter,
                    interval_end=when,
                    reason=reason,
                    by=recorded_by(f"vee {action}"),
                    value_wh=value,
                    site_id=where.id,
                )
            except ValueError as exc:
                given = bool(problems)
                problems.extend(
                    p
                    for p in str(exc).split("; ")
                    if not (given and p.startswith("interval_end must be given"))
                )
                raise ValueError("; ".join(problems)) from None
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    row = worklist_to_dict(item)
    if as_json:
        typer.echo(json.dumps(row, indent=2))
    else:
        console.print(
            f"{row['label']} ({row['serial']}), {row['local_end']}: {row['state_words']}, "
            f"{row['value_wh']} Wh; by {row['acted_by']}: {row['acted_reason']}"
        )


@vee_app.command("accept")
def vee_accept(
    site: SiteOption,
    meter: MeterOption,
    at: AtOption,
    reason: ReasonOption,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Accept an interval of the work list: its flagged value or estimate stands (stored as a person's
    edit, quality 7, so that bills count it and VEE leaves it alone).

    Example: meshmeter vee accept --site "Oak Court" --meter MM26000001 --at 2026-01-02T01:00Z
    --reason "checked on site"
    """
    _act("accept", site, meter, at, reason, None, database, as_json)


@vee_app.command("edit")
def vee_edit(
    site: SiteOption,
    meter: MeterOption,
    at: AtOption,
    value_wh: Annotated[str, typer.Option("--value-wh", help="The new value: whole Wh, 0 or more.")],
    reason: ReasonOption,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Edit an interval of the work list to a new value (quality 7, audited with who and why).

    Example: meshmeter vee edit --site "Oak Court" --meter MM26000001 --at 2026-01-02T01:00Z
    --value-wh 250 --reason "register read"
    """
    _act("edit", site, meter, at, reason, value_wh, database, as_json)


@vee_app.command("reread")
def vee_reread(
    site: SiteOption,
    meter: MeterOption,
    at: AtOption,
    reason: ReasonOption,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ask for a re-read of an interval of the work list: recorded (no device can be asked for past
    intervals today); the interval shows "re-read requested" until new data for it arrives.

    Example: meshmeter vee reread --site "Oak Court" --meter MM26000001 --at 2026-01-02T01:00Z
    --reason "gap"
    """
    _act("reread", site, meter, at, reason, None, database, as_json)
