"""``meshmeter export``: one meter's intervals as CSV or Green Button."""

from __future__ import annotations

from typing import Annotated

import typer

from meshmeter.cli.common import TIME_HELP, DatabaseOption, bad_input, parse_time
from meshmeter.errors import MeshmeterError


def export_command(
    meter: Annotated[str, typer.Option(help="Meter serial.")],
    start: Annotated[str, typer.Option(help=f"Start (exclusive): {TIME_HELP}.")],
    end: Annotated[str, typer.Option(help=f"End (inclusive): {TIME_HELP}.")],
    export_format: Annotated[str, typer.Option("--format", help="csv or greenbutton.")] = "csv",
    resolution: Annotated[str, typer.Option(help="CSV resolution: 15min, hourly, daily, monthly.")] = "15min",
    timezone: Annotated[str | None, typer.Option(help="IANA time zone; default the site's.")] = None,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="File to write; default stdout.")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Export one meter's intervals as CSV or Green Button (ESPI Atom, validating against usage.xsd).

    Example: meshmeter export --meter MM26000001 --start 2026-10-01T07:00Z --end 2026-11-01T07:00Z -o out.csv
    """
    import sys
    from pathlib import Path

    from meshmeter.headend.exports import export_csv
    from meshmeter.headend.greenbutton import export_greenbutton
    from meshmeter.services.billing import find_meter
    from meshmeter.services.tenancy import site_timezone
    from meshmeter.store import Store

    try:
        if export_format not in ("csv", "greenbutton"):
            raise ValueError(f"format must be csv or greenbutton, got {export_format!r}")
        if resolution not in ("15min", "hourly", "daily", "monthly"):
            raise ValueError(f"resolution must be 15min, hourly, daily or monthly, got {resolution!r}")
        with Store(database) as store:
            tz = timezone or site_timezone(store, find_meter(store, meter).site_id)
            t0, t1 = parse_time("--start", start, tz), parse_time("--end", end, tz)
            if export_format == "csv":
                data = export_csv(
                    store,
                    meter_serial=meter,
                    start=t0,
                    end=t1,
                    resolution=resolution,  # type: ignore[arg-type]
                    timezone=timezone,
                ).encode("utf-8")
            else:
                data = export_greenbutton(store, meter_serial=meter, start=t0, end=t1, timezone=timezone)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        Path(output).write_bytes(data)
