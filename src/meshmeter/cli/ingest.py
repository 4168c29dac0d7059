"""``meshmeter ingest``, ``ingest-format`` and ``import``: interval data into the store's raw intervals."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from meshmeter.cli.common import DatabaseOption, JsonOption, bad_input, console
from meshmeter.cli.tables import Column, key, print_json, print_table
from meshmeter.errors import MeshmeterError

ingest_format_app = typer.Typer(
    help="Saved ingest formats: mappings of the operator's own CSV and JSON files (docs/ingest.md).",
    no_args_is_help=True,
)


def ingest_command(
    path: Annotated[
        str, typer.Argument(help="A JSON or CSV file of intervals (docs/ingest.md), or - for stdin.")
    ],
    source: Annotated[str, typer.Option(help="Source recorded with the data.")] = "file",
    format_name: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="A named format: built in (meshmeter-csv, billing-kwh-hourly) or saved "
            "(meshmeter ingest-format save). Default: meshmeter's JSON or CSV (docs/ingest.md).",
        ),
    ] = None,
    meter: Annotated[
        str | None, typer.Option(help="The meter of every row, for a format without a meter column.")
    ] = None,
    vee: Annotated[
        bool,
        typer.Option("--vee", help="Then run VEE over what was taken, meter by meter (billable at once)."),
    ] = False,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ingest interval data; bad input is refused whole, every problem listed with its row and field.

    Example: meshmeter ingest intervals.csv --source billing-export --vee
    Example: meshmeter ingest export.csv --format meshmeter-csv --meter MM00000001
    Example: meshmeter ingest utility.csv --format billing-kwh-hourly
    """
    import sys
    from pathlib import Path

    from rich.markup import escape

    from meshmeter.headend import ingest_csv, ingest_json
    from meshmeter.headend.mapping import ingest_mapped, resolve_format
    from meshmeter.services.ingest import validate_ingested
    from meshmeter.store import Store

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise bad_input(f"cannot read {path!r}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise bad_input(f"malformed: {path!r} is not UTF-8: {exc}") from None
    stripped = text.lstrip()
    try:
        with Store(database) as store:
            if format_name is not None:
                mapping = resolve_format(store, format_name)
                result = ingest_mapped(store, text, mapping, source=source, meter=meter)
            elif meter is not None:
                raise ValueError("--meter goes with --format (meshmeter's own JSON and CSV name the meter)")
            elif stripped.startswith(("{", "[")):
                result = ingest_json(store, text, source=source)
            else:
                result = ingest_csv(store, text, source=source)
            validated = validate_ingested(store, result) if vee else []
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(escape(str(exc))) from None
    summary: dict[str, Any] = {
        "accepted": result.accepted,
        "new": result.new,
        "duplicates": result.duplicates,
        "provisional": result.provisional,
        "rebuilt": result.rebuilt,
        "revised": result.revised,
    }
    vee_summary = [
        {
            "meter": v.meter.serial,
            "start": v.report.start.isoformat(),
            "end": v.report.end.isoformat(),
            "intervals": v.report.intervals,
            "valid": v.report.valid,
            "questionable": v.report.questionable,
            "interpolated": v.report.interpolated,
            "estimated_reference_day": v.report.estimated_reference_day,
            "missing": v.report.missing,
        }
        for v in validated
    ]
    if vee:
        summary["vee"] = vee_summary
    if as_json:
        typer.echo(json.dumps(summary))
        return
    console.print(", ".join(f"{k}: {v}" for k, v in summary.items() if k != "vee"))
    for item in vee_summary:
        console.print(
            f"vee {item['meter']} ({item['start']} to {item['end']}): "
            + ", ".join(f"{k}: {item[k]}" for k in list(item)[3:])
        )


@ingest_format_app.command("save")
def ingest_format_save(
    name: Annotated[str, typer.Argument(help="The format's name, used by meshmeter ingest --format NAME.")],
    mapping_path: Annotated[str, typer.Argument(help="A JSON file of the mapping (docs/ingest.md).")],
    database: DatabaseOption = None,
) -> None:
    """Check a mapping and save it by name (replacing one of the same name); every problem listed.

    Example: meshmeter ingest-format save utility-hourly mapping.json
    """
    from pathlib import Path

    from rich.markup import escape

    from meshmeter.headend.mapping import MappingError, save_format
    from meshmeter.store import Store

    try:
        document = json.loads(Path(mapping_path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise bad_input(f"cannot read {mapping_path!r}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_input(f"{mapping_path!r} is not JSON: {exc}") from None
    try:
        with Store(database) as store:
            _, new = save_format(store, name, document)
    except MappingError as exc:
        lines = escape("\n".join(f"  {p}" for p in exc.problems))
        raise bad_input(f"{mapping_path}: the mapping is not usable:\n{lines}") from None
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    console.print(f"{'saved' if new else 'replaced'} ingest format {name!r}")


@ingest_format_app.command("list")
def ingest_format_list(
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the ingest formats: the built-in ones and those saved in the store.

    Example: meshmeter ingest-format list
    """
    from meshmeter.headend.mapping import BUILTIN_FORMATS
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            saved = store.ingest_formats()
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    rows = [{"name": n, "kind": "built-in"} for n in BUILTIN_FORMATS]
    rows += [{"name": n, "kind": "saved"} for n in saved]
    if as_json:
        print_json(rows)
        return
    print_table(
        (Column("Format", key("name"), long=True), Column("Kind", key("kind"))),
        rows,
        empty="No ingest format: save one with `meshmeter ingest-format save NAME MAPPING`.",
    )


@ingest_format_app.command("show")
def ingest_format_show(
    name: Annotated[str, typer.Argument(help="A format's name.")],
    database: DatabaseOption = None,
) -> None:
    """Print a format's mapping as JSON.

    Example: meshmeter ingest-format show billing-kwh-hourly
    """
    from meshmeter.headend.mapping import mapping_to_dict, resolve_format
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            mapping = resolve_format(store, name)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    typer.echo(json.dumps(mapping_to_dict(mapping), indent=2))


def import_command(
    path: Annotated[str, typer.Argument(help="A Green Button (ESPI) XML file.")],
    meter: Annotated[str, typer.Option(help="Serial of the meter the readings belong to.")],
    database: DatabaseOption = None,
) -> None:
    """Import a Green Button file's 15-minute readings into a meter's raw intervals (refused whole if bad).

    Example: meshmeter import usage.xml --meter MM26000001
    """
    from pathlib import Path

    from meshmeter.headend.greenbutton import import_greenbutton
    from meshmeter.store import Store

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise bad_input(f"cannot read {path!r}: {exc.strerror}") from None
    try:
        with Store(database) as store:
            result = import_greenbutton(store, data, meter_serial=meter)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    console.print(
        f"intervals in the file: {result.intervals}, stored: {result.stored}, validated: {result.validated}"
    )
