"""The ``meshmeter`` command.

Each command is a thin face over the library: it parses, calls, and prints (a table for people, JSON for
programs with ``--json``). Errors in the input print one line naming the bad argument and exit with
status 2.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from meshmeter import __version__
from meshmeter.amr.network import Outage, RepeaterFailure
from meshmeter.catalog import decode
from meshmeter.errors import MeshmeterError
from meshmeter.intervals import IntervalLength, Quality
from meshmeter.meter.installation import ElementWiring, Service, phase_deg_from_pf
from meshmeter.meter.twin import Meter, SteadyCondition, SteadyResult

app = typer.Typer(
    name="meshmeter",
    help="Electricity sub-metering with wireless AMR: the Mini Meter twin, its mesh and the head-end.",
    no_args_is_help=True,
    add_completion=False,
)
meter_app = typer.Typer(help="Run the meter twin.", no_args_is_help=True)
app.add_typer(meter_app, name="meter")
network_app = typer.Typer(
    help="Simulate the wireless AMR mesh (MDTs, repeaters, DCAP).", no_args_is_help=True
)
app.add_typer(network_app, name="network")

console = Console(highlight=False)


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code=2)


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


# --------------------------------------------------------------------------------------------------
# decode
# --------------------------------------------------------------------------------------------------


@app.command("decode")
def decode_command(
    model: Annotated[
        str, typer.Argument(help="A designation: MM-D1202001-T-SCC, CT200124BK-A, MMSMT-E02 ...")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Decode a model designation (certificate p.1, manual §2.4), or say why it is not one.

    Example: meshmeter decode MM-D1202001-T-SCC --json
    """
    try:
        spec = decode(model)
    except MeshmeterError as exc:
        if as_json:
            field = getattr(exc, "field", None)
            allowed = list(getattr(exc, "allowed", ()))
            typer.echo(json.dumps({"valid": False, "error": str(exc), "field": field, "allowed": allowed}))
            raise typer.Exit(code=1) from None
        raise _fail(str(exc)) from None
    data = spec.to_dict()
    if as_json:
        typer.echo(json.dumps({"valid": True, **data}, indent=2))
        return
    table = Table(title=f"{data['designation']} ({data['kind']})", show_header=False)
    for key, value in data.items():
        if key in ("designation", "kind"):
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        table.add_row(key, str(value))
    console.print(table)


# --------------------------------------------------------------------------------------------------
# meter run
# --------------------------------------------------------------------------------------------------


def _per_line(name: str, values: Sequence[float], lines: int) -> tuple[float, ...]:
    if len(values) == 1:
        return tuple(values) * lines
    if len(values) != lines:
        raise _fail(f"{name} takes one value or one per line ({lines}), got {len(values)}")
    return tuple(values)


def _parse_pairs(name: str, items: Sequence[str]) -> dict[int, int]:
    pairs: dict[int, int] = {}
    for item in items:
        element, sep, line = item.partition("=")
        if not sep or element not in ("1", "2") or line not in ("1", "2"):
            raise _fail(f"{name} takes ELEMENT=LINE with 1 or 2 on each side, got {item!r}")
        pairs[int(element)] = int(line)
    return pairs


@meter_app.command("run")
def meter_run(
    model: Annotated[str, typer.Option(help="Meter designation.")] = "MM-D1202001-T-SCC",
    serial: Annotated[str, typer.Option(help="Serial number (shown on the LCD at boot).")] = "MM00000001",
    voltage_v: Annotated[
        list[float] | None, typer.Option(help="Line-to-neutral voltage [V]; repeat per line. Default 120.")
    ] = None,
    current_a: Annotated[
        list[float] | None, typer.Option(help="Load current [A]; repeat per line. Default 30.")
    ] = None,
    pf: Annotated[
        list[float] | None, typer.Option(help="Power factor 0..1; repeat per line. Default 1.0.")
    ] = None,
    lag: Annotated[bool, typer.Option("--lag/--lead", help="Lagging (inductive) or leading load.")] = True,
    frequency_hz: Annotated[float, typer.Option(help="Line frequency [Hz].")] = 60.0,
    duration_s: Annotated[float, typer.Option(help="Length of the run [s].")] = 3600.0,
    path: Annotated[str, typer.Option(help="Metrology path: profile or waveform.")] = "profile",
    service: Annotated[
        str, typer.Option(help="Service: 120/240 (split phase) or 120/208 (network).")
    ] = "120/240",
    reversed_ct: Annotated[
        list[int] | None, typer.Option(help="Element whose CT is reversed; repeatable.")
    ] = None,
    ct_line: Annotated[
        list[str] | None,
        typer.Option(help="ELEMENT=LINE: the element's CT is on that line's conductor; repeatable."),
    ] = None,
    no_voltage: Annotated[
        list[int] | None, typer.Option(help="Element whose voltage lead is off; repeatable.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run the meter twin at a steady condition and show what it registered and displayed.

    Example: meshmeter meter run --voltage-v 120 --current-a 30 --pf 0.5 --lag --duration-s 3600
    """
    try:
        meter = _build_meter(model, serial, service, reversed_ct or [], ct_line or [], no_voltage or [])
        lines = meter.elements
        phase = phase_deg_from_pf(np.asarray(_per_line("--pf", pf or [1.0], lines)), lag)
        condition = SteadyCondition(
            voltage_v=_per_line("--voltage-v", voltage_v or [120.0], lines),
            current_a=_per_line("--current-a", current_a or [30.0], lines),
            phase_deg=tuple(float(x) for x in phase),
            frequency_hz=frequency_hz,
        )
        if path not in ("profile", "waveform"):
            raise ValueError(f"path must be 'profile' or 'waveform', got {path!r}")
        if not (math.isfinite(duration_s) and duration_s > 0):
            raise ValueError(f"duration_s must be finite and > 0, got {duration_s!r}")
        if path == "waveform" and duration_s > 600:
            raise ValueError(
                f"the waveform path runs at most 600 s from the command line, got {duration_s!r}"
            )
        result = meter.run_steady(condition, duration_s, path="waveform" if path == "waveform" else "profile")
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(steady_result_to_dict(result), indent=2))
        return
    _print_steady(result)


def _build_meter(
    model: str,
    serial: str,
    service: str,
    reversed_ct: Sequence[int],
    ct_line: Sequence[str],
    no_voltage: Sequence[int],
) -> Meter:
    spec_service = {"120/240": Service.SPLIT_PHASE, "120/208": Service.NETWORK}.get(service)
    if spec_service is None:
        raise ValueError(f"service must be '120/240' or '120/208', got {service!r}")
    probe = Meter(model, serial=serial)
    lines = probe.elements
    for name, items in (("--reversed-ct", reversed_ct), ("--no-voltage", no_voltage)):
        for e in items:
            if e not in range(1, lines + 1):
                raise ValueError(f"{name} takes an element 1..{lines}, got {e!r}")
    on_line = _parse_pairs("--ct-line", ct_line)
    if any(line > lines or e > lines for e, line in on_line.items()):
        raise ValueError(f"--ct-line refers to an element or line beyond {lines}")
    wiring = tuple(
        ElementWiring(
            ct_line=on_line.get(e), ct_reversed=e in reversed_ct, voltage_connected=e not in no_voltage
        )
        for e in range(1, lines + 1)
    )
    return Meter(model, serial=serial, service=spec_service, wiring=wiring)


def steady_result_to_dict(result: SteadyResult) -> dict[str, Any]:
    """A steady run as JSON-ready values."""

    def num(x: float | None) -> float | None:
        return None if x is None or not math.isfinite(x) else round(float(x), 6)

    return {
        "model": result.model,
        "serial": result.serial,
        "path": result.path,
        "condition": {
            "voltage_v": list(result.condition.voltage_v),
            "current_a": list(result.condition.current_a),
            "phase_deg": [num(x) for x in result.condition.phase_deg],
            "frequency_hz": result.condition.frequency_hz,
        },
        "duration_s": num(result.duration_s),
        "true_energy_wh": num(result.true_energy_wh),
        "registered_energy_wh": num(result.registered_energy_wh),
        "received_energy_wh": num(result.received_energy_wh),
        "percent_registration": num(result.percent_registration),
        "error_percent": num(result.error_percent),
        "pulses": result.pulses,
        "load_led_changes": result.load_led_changes,
        "load_led_change_times_s": [num(t) for t in result.load_led_change_times_s],
        "power_led_lit": result.power_led_lit,
        "demand_kw": num(result.demand_kw),
        "power_kw": num(result.power_kw),
        "lcd": [{"name": s.name, "text": s.text, "annunciators": list(s.annunciators)} for s in result.lcd],
        "measurements": [
            {
                "element": m.element,
                "voltage_v": num(m.voltage_v),
                "voltage_angle_deg": num(m.voltage_angle_deg),
                "current_a": num(m.current_a),
                "current_angle_deg": num(m.current_angle_deg),
                "power_w": num(m.power_w),
            }
            for m in result.measurements
        ],
        "findings": [
            {
                "code": str(f.code),
                "element": f.element,
                "severity": str(f.severity),
                "message": f.message,
                "remedy": f.remedy,
            }
            for f in result.findings
        ],
    }


def _print_steady(result: SteadyResult) -> None:
    summary = Table(title=f"{result.model}  serial {result.serial}  ({result.path} path)", show_header=False)
    summary.add_row("duration", f"{result.duration_s:,.1f} s")
    summary.add_row("true energy", f"{result.true_energy_wh:,.4f} Wh")
    summary.add_row("registered energy", f"{result.registered_energy_wh:,.4f} Wh")
    if result.received_energy_wh:
        summary.add_row("received energy", f"{result.received_energy_wh:,.4f} Wh")
    pct = result.percent_registration
    summary.add_row("percent registration", "n/a (no load)" if math.isnan(pct) else f"{pct:.4f} %")
    summary.add_row("pulses (closures)", ", ".join(f"{k}: {v}" for k, v in result.pulses.items()))
    times = ", ".join(f"{t:.1f}" for t in result.load_led_change_times_s[:4])
    summary.add_row("load LED changes", f"{result.load_led_changes} (first at {times} s)" if times else "0")
    summary.add_row("POWER LED", "lit" if result.power_led_lit else "off")
    summary.add_row("demand", "--" if result.demand_kw is None else f"{result.demand_kw:.3f} kW")
    summary.add_row("instantaneous", f"{result.power_kw:.3f} kW")
    console.print(summary)

    elements = Table(title="Elements")
    for col in ("element", "V", "I [A]", "P [W]", "V angle", "I angle"):
        elements.add_column(col, justify="right")
    for m in result.measurements:
        elements.add_row(
            str(m.element),
            f"{m.voltage_v:.2f}",
            f"{m.current_a:.3f}",
            f"{m.power_w:.2f}",
            f"{m.voltage_angle_deg:.1f}°",
            f"{m.current_angle_deg:.1f}°",
        )
    console.print(elements)

    lcd = Table(title="LCD")
    lcd.add_column("screen")
    lcd.add_column("shows")
    lcd.add_column("annunciators")
    for screen in result.lcd:
        lcd.add_row(screen.name, screen.text, " ".join(screen.annunciators))
    if not result.lcd:
        lcd.add_row("-", "(dark: no proper supply)", "")
    console.print(lcd)

    if result.findings:
        findings = Table(title="Diagnosis")
        for col in ("finding", "element", "what was seen", "remedy"):
            findings.add_column(col)
        for f in result.findings:
            findings.add_row(str(f.code), "-" if f.element is None else str(f.element), f.message, f.remedy)
        console.print(findings)
    else:
        console.print("Diagnosis: no finding; the installation looks right.")


# --------------------------------------------------------------------------------------------------
# network simulate
# --------------------------------------------------------------------------------------------------


def _parse_outage(text: str) -> Outage:
    """``dcap:START+HOURS``: the DCAP unreachable from hour START for HOURS hours."""
    kind, sep, rest = text.partition(":")
    start, plus, hours = rest.partition("+")
    try:
        if kind != "dcap" or not sep or not plus:
            raise ValueError
        return Outage(float(start) * 3600.0, float(hours) * 3600.0)
    except ValueError:
        raise ValueError(f"--outage takes dcap:START+HOURS (hours from the start), got {text!r}") from None


def _parse_failure(text: str) -> RepeaterFailure:
    """``repeater:ID@START[+HOURS]``: repeater ID loses power at hour START (for HOURS hours, or for good)."""
    kind, sep, rest = text.partition(":")
    ident, at, when = rest.partition("@")
    start, plus, hours = when.partition("+")
    try:
        if kind != "repeater" or not sep or not at:
            raise ValueError
        return RepeaterFailure(int(ident), float(start) * 3600.0, float(hours) * 3600.0 if plus else None)
    except ValueError:
        raise ValueError(
            f"--fail takes repeater:ID@START[+HOURS] (hours from the start), got {text!r}"
        ) from None


@network_app.command("simulate")
def network_simulate(
    mdts: Annotated[int, typer.Option(help="MDTs (one per meter; one DCAP serves up to 1000).")] = 100,
    repeaters: Annotated[int, typer.Option(help="Repeaters.")] = 6,
    days: Annotated[float, typer.Option(help="Simulated days.")] = 2.0,
    report_minutes: Annotated[
        int, typer.Option(help="MDT report period: 15 (every interval) or a multiple.")
    ] = 15,
    outage: Annotated[list[str] | None, typer.Option(help="dcap:START+HOURS (hours from the start).")] = None,
    fail: Annotated[
        list[str] | None, typer.Option(help="repeater:ID@START[+HOURS] (hours from the start).")
    ] = None,
    power_order: Annotated[
        str, typer.Option(help="near-first (the manual's order) or far-first.")
    ] = "near-first",
    seed: Annotated[int, typer.Option(help="Seed of the site, loads and radio.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the CIT report as JSON.")] = False,
) -> None:
    """Simulate a site's mesh and print delivery, latency, hops, joins, rejections, battery and speed.

    Example: meshmeter network simulate --mdts 200 --repeaters 8 --days 2 --outage dcap:30+6
    """
    from meshmeter.site.mesh import simulate_site

    try:
        if power_order not in ("near-first", "far-first"):
            raise ValueError(f"power_order must be near-first or far-first, got {power_order!r}")
        if isinstance(mdts, bool) or mdts < 1 or mdts > 1000:
            raise ValueError(f"mdts must be 1 to 1000 (one DCAP serves up to 1000), got {mdts!r}")
        if repeaters < 0:
            raise ValueError(f"repeaters must be >= 0, got {repeaters!r}")
        if not (math.isfinite(days) and 0 < days <= 366):
            raise ValueError(f"days must be in (0, 366], got {days!r}")
        outages = tuple(_parse_outage(o) for o in outage or [])
        failures = tuple(_parse_failure(f) for f in fail or [])
        run = simulate_site(
            mdts=mdts,
            repeaters=repeaters,
            days=days,
            seed=seed,
            report_minutes=report_minutes,
            power_order="near-first" if power_order == "near-first" else "far-first",
            outages=outages,
            failures=failures,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    report = run.report
    if as_json:
        data = report.to_dict()
        data["setup_s"] = run.setup_s
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    _print_network(report, run.setup_s)


def _print_network(report: Any, setup_s: float) -> None:
    summary = Table(title=f"AMR mesh: {report.mdts} MDTs, {report.repeaters} repeaters", show_header=False)
    summary.add_row("joined", f"{report.joined_mdts} MDTs, {report.joined_repeaters} repeaters")
    summary.add_row("intervals due", f"{report.intervals_due:,}")
    summary.add_row("delivered within the hour", f"{report.delivered_on_time:,} ({report.on_time_ratio:.4%})")
    summary.add_row("delivered in the end", f"{report.delivered:,} ({report.delivery_ratio:.4%})")
    summary.add_row("duplicates dropped", f"{report.duplicates:,}")
    lat = report.latency_s
    summary.add_row(
        "latency",
        f"p50 {lat['p50']:.1f} s, p90 {lat['p90']:.1f} s, p99 {lat['p99']:.1f} s, max {lat['max']:.1f} s",
    )
    summary.add_row("hops (MDTs)", ", ".join(f"{h}: {n}" for h, n in report.hop_histogram.items()) or "-")
    for kind, times in report.join_time_s.items():
        summary.add_row(
            f"join time ({kind})",
            f"first {times['min']:.0f} s, median {times['median']:.0f} s, last {times['max']:.0f} s",
        )
    summary.add_row("rejected frames", ", ".join(f"{k}: {v}" for k, v in report.rejected.items()) or "none")
    summary.add_row("events", ", ".join(f"{k}: {v}" for k, v in report.events.items()) or "none")
    batteries = [d.battery_left for d in report.devices if d.battery_left is not None]
    lives = [
        d.battery_life_on_battery_days for d in report.devices if d.battery_life_on_battery_days is not None
    ]
    if batteries:
        summary.add_row(
            "MDT battery left", f"min {min(batteries):.4%}, mean {sum(batteries) / len(batteries):.4%}"
        )
    if lives:
        summary.add_row(
            "MDT life on battery alone", f"shortest {min(lives) / 365.25:.1f} years at its own drain"
        )
    summary.add_row(
        "speed",
        f"{report.simulated_s / 86400:.2f} simulated days in {report.wall_s:.2f} s "
        f"({report.speedup:,.0f}× real time), {report.events_per_s:,.0f} events/s; setup {setup_s:.2f} s",
    )
    console.print(summary)
    if report.unjoined:
        table = Table(title="MDTs that cannot join")
        table.add_column("EUI-64")
        table.add_column("best RSSI")
        table.add_column("suggestion")
        for u in report.unjoined:
            table.add_row(u["eui64"], f"{u['best_rssi_dbm']:.1f} dBm", u["suggestion"])
        console.print(table)


# --------------------------------------------------------------------------------------------------
# the head-end: serve, ingest, vee, token
# --------------------------------------------------------------------------------------------------

token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database", help="Database URL; default $MESHMETER_DATABASE_URL, else sqlite:///meshmeter.db."
    ),
]


def _parse_time(name: str, text: str) -> Any:
    from datetime import UTC, datetime

    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} must be an ISO-8601 time, got {text!r}") from None
    if value.tzinfo is None:
        raise ValueError(f"{name} must carry a UTC offset (e.g. 2026-01-01T00:00Z), got {text!r}")
    return value.astimezone(UTC)


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    database: DatabaseOption = None,
) -> None:
    """Serve the API (OpenAPI document at /openapi.json).

    Example: meshmeter serve --port 8000 --database sqlite:///meshmeter-demo.sqlite
    """
    import uvicorn

    from meshmeter.api.main import create_app
    from meshmeter.store import Store

    try:
        app_ = create_app(Store(database))
    except (ValueError, MeshmeterError) as exc:
        raise _fail(str(exc)) from None
    uvicorn.run(app_, host=host, port=port)


@app.command("ingest")
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
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Ingest interval data; bad input is refused whole, every problem listed with its row and field.

    Example: meshmeter ingest intervals.csv --source billing-export
    Example: meshmeter ingest export.csv --format meshmeter-csv --meter MM00000001
    Example: meshmeter ingest utility.csv --format billing-kwh-hourly
    """
    import sys
    from pathlib import Path

    from rich.markup import escape

    from meshmeter.headend import ingest_csv, ingest_json
    from meshmeter.headend.mapping import ingest_mapped, resolve_format
    from meshmeter.store import Store

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot read {path!r}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise _fail(f"malformed: {path!r} is not UTF-8: {exc}") from None
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
    except (ValueError, MeshmeterError) as exc:
        raise _fail(escape(str(exc))) from None
    summary = {
        "accepted": result.accepted,
        "new": result.new,
        "duplicates": result.duplicates,
        "provisional": result.provisional,
        "rebuilt": result.rebuilt,
        "revised": result.revised,
    }
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        console.print(", ".join(f"{k}: {v}" for k, v in summary.items()))


ingest_format_app = typer.Typer(
    help="Saved ingest formats: mappings of the operator's own CSV and JSON files (docs/ingest.md).",
    no_args_is_help=True,
)
app.add_typer(ingest_format_app, name="ingest-format")


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
        raise _fail(f"cannot read {mapping_path!r}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _fail(f"{mapping_path!r} is not JSON: {exc}") from None
    try:
        with Store(database) as store:
            _, new = save_format(store, name, document)
    except MappingError as exc:
        lines = escape("\n".join(f"  {p}" for p in exc.problems))
        raise _fail(f"{mapping_path}: the mapping is not usable:\n{lines}") from None
    except (ValueError, MeshmeterError) as exc:
        raise _fail(str(exc)) from None
    console.print(f"{'saved' if new else 'replaced'} ingest format {name!r}")


@ingest_format_app.command("list")
def ingest_format_list(
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
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
        raise _fail(str(exc)) from None
    rows = [{"name": n, "kind": "built-in"} for n in BUILTIN_FORMATS]
    rows += [{"name": n, "kind": "saved"} for n in saved]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        console.print(f"{row['name']}  ({row['kind']})")


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
        raise _fail(str(exc)) from None
    typer.echo(json.dumps(mapping_to_dict(mapping), indent=2))


@app.command("vee")
def vee_command(
    meter: Annotated[str, typer.Option(help="Meter serial.")],
    start: Annotated[str, typer.Option(help="Start, ISO-8601 with offset (exclusive).")],
    end: Annotated[str, typer.Option(help="End, ISO-8601 with offset (inclusive).")],
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone for like days; default the site's.")
    ] = None,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Validate, estimate and edit one meter's intervals (raw data is never overwritten).

    Example: meshmeter vee --meter MM26000001 --start 2026-10-01T07:00Z --end 2026-11-01T07:00Z
    """
    from meshmeter.headend.vee import run_vee
    from meshmeter.store import Store

    try:
        t0, t1 = _parse_time("start", start), _parse_time("end", end)
        with Store(database) as store:
            found = store.get_meter(serial=meter)
            if found is None:
                raise ValueError(f"meter {meter!r} is not in the store")
            report = run_vee(store, meter_id=found.id, start=t0, end=t1, timezone=timezone)
    except (ValueError, MeshmeterError) as exc:
        raise _fail(str(exc)) from None
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


@app.command("export")
def export_command(
    meter: Annotated[str, typer.Option(help="Meter serial.")],
    start: Annotated[str, typer.Option(help="Start, ISO-8601 with offset (exclusive).")],
    end: Annotated[str, typer.Option(help="End, ISO-8601 with offset (inclusive).")],
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
    from meshmeter.store import Store

    try:
        t0, t1 = _parse_time("start", start), _parse_time("end", end)
        if export_format not in ("csv", "greenbutton"):
            raise ValueError(f"format must be csv or greenbutton, got {export_format!r}")
        if resolution not in ("15min", "hourly", "daily", "monthly"):
            raise ValueError(f"resolution must be 15min, hourly, daily or monthly, got {resolution!r}")
        with Store(database) as store:
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
        raise _fail(str(exc)) from None
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        Path(output).write_bytes(data)


@app.command("import")
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
        raise _fail(f"cannot read {path!r}: {exc.strerror}") from None
    try:
        with Store(database) as store:
            result = import_greenbutton(store, data, meter_serial=meter)
    except (ValueError, MeshmeterError) as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"intervals in the file: {result.intervals}, stored: {result.stored}, validated: {result.validated}"
    )


@app.command("push")
def push_command(
    channel: Annotated[str, typer.Option(help="mqtt or webhook.")],
    url: Annotated[str, typer.Option(help="Broker (mqtt://host:port) or receiver (https://...) URL.")],
    secret: Annotated[str | None, typer.Option(help="Webhook signing secret (HMAC-SHA256).")] = None,
    database: DatabaseOption = None,
) -> None:
    """Send what the push outbox holds for a channel, once (at-least-once; receivers dedupe by key).

    Example: meshmeter push --channel mqtt --url mqtt://127.0.0.1:1883
    """
    from meshmeter.headend.push import MqttPublisher, WebhookSender
    from meshmeter.store import Store

    try:
        if channel not in ("mqtt", "webhook"):
            raise ValueError(f"channel must be mqtt or webhook, got {channel!r}")
        with Store(database) as store:
            sender = (
                MqttPublisher(store, url) if channel == "mqtt" else WebhookSender(store, url, secret=secret)
            )
            stats = sender.run_once()
    except (ValueError, MeshmeterError) as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"sent: {stats.sent}, failed (will retry): {stats.failed}, dead letters: {stats.dead_lettered}, "
        f"pending: {stats.pending}"
    )


@app.command("alerts")
def alerts_command(
    silence_hours: Annotated[
        float, typer.Option(help="Raise communication loss after this much silence.")
    ] = 2.0,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check communication now (raise or clear loss alerts), then list the alerts in force.

    Example: meshmeter alerts --silence-hours 2 --json
    """
    from datetime import UTC, datetime

    from meshmeter.headend.alerts import active_alerts, check_communication
    from meshmeter.store import Store

    try:
        if not (math.isfinite(silence_hours) and silence_hours > 0):
            raise ValueError(f"silence_hours must be finite and > 0, got {silence_hours!r}")
        with Store(database) as store:
            check_communication(store, now=datetime.now(UTC), silence_s=silence_hours * 3600.0)
            found = active_alerts(store)
    except (ValueError, MeshmeterError) as exc:
        raise _fail(str(exc)) from None
    rows = [
        {"kind": str(a.kind), "at": a.at.isoformat(), "meter_id": a.meter_id, "key": a.key} for a in found
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        console.print("no alert in force")
    for row in rows:
        console.print(f"{row['at']}  {row['kind']}  meter {row['meter_id']}  ({row['key']})")


site_app = typer.Typer(help="Sites of the store.", no_args_is_help=True)
app.add_typer(site_app, name="site")


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
        raise _fail(str(exc)) from None
    typer.echo(str(site.id))


@meter_app.command("add")
def meter_add(
    serial: Annotated[str, typer.Option(help="Meter serial number (unique).")],
    model: Annotated[str, typer.Option(help="Meter designation (certificate p.1).")] = "MM-D1202001-T-SCC",
    site_id: Annotated[int | None, typer.Option(help="Site id (meshmeter site add).")] = None,
    multiplier: Annotated[float, typer.Option(help="Billing multiplier.")] = 1.0,
    mdt_eui64: Annotated[str | None, typer.Option(help="EUI-64 of its MDT, 16 hex digits.")] = None,
    mdt_kit: Annotated[str, typer.Option(help="The MDT's kit (manual §2.4).")] = "MMSMT-C02",
    mdt_key: Annotated[str | None, typer.Option(help="The MDT's AES-128 key, 32 hex digits.")] = None,
    interval: Annotated[
        int, typer.Option(help="Minutes per interval of the meter's data: 5, 15 (the MDT's), 30 or 60.")
    ] = 15,
    role: Annotated[str, typer.Option(help="unit, house, production (solar) or master.")] = "unit",
    database: DatabaseOption = None,
) -> None:
    """Register a meter (its CT ratio from the designation) and, optionally, its MDT; prints the meter id.

    Example: meshmeter meter add --serial MM00000001 --site-id 1
    Example: meshmeter meter add --serial UTIL-7 --site-id 1 --interval 60 --role master
    """
    from meshmeter.catalog import decode_meter
    from meshmeter.store import Store

    try:
        spec = decode_meter(model)
        if (mdt_eui64 is None) != (mdt_key is None):
            raise ValueError("--mdt-eui64 and --mdt-key go together")
        eui = key = None
        if mdt_eui64 is not None and mdt_key is not None:
            try:
                eui, key = bytes.fromhex(mdt_eui64), bytes.fromhex(mdt_key)
            except ValueError:
                raise ValueError("--mdt-eui64 and --mdt-key must be hex digits") from None
        with Store(database) as store:
            meter = store.create_meter(
                serial=serial,
                designation=spec.designation,
                ct_ratio=spec.ct_ratio,
                multiplier=multiplier,
                site_id=site_id,
                interval_s=IntervalLength.of(interval * 60, name="--interval (minutes)"),
                role=role,
            )
            if eui is not None and key is not None:
                store.create_mdt(eui64=eui, kit=mdt_kit, key=key, meter_id=meter.id)
    except (ValueError, MeshmeterError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(str(meter.id))


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin, operator, billing or read-only.")],
    label: Annotated[str | None, typer.Option(help="What the token is for.")] = None,
    database: DatabaseOption = None,
) -> None:
    """Create an API token; it is printed once and only its hash is stored.

    Example: meshmeter token create --role read-only --label "billing clerk"
    """
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            record, token = store.create_api_token(role=role, label=label)
    except (ValueError, MeshmeterError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(token)
    Console(stderr=True, highlight=False).print(
        f"token {record.id} ({record.role}) created; keep it: it is not shown again"
    )


# --------------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------------


@app.command("evaluate")
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
    from rich.progress import Progress

    from meshmeter.evaluation import evaluate, evaluation_to_dict, load_plans, parse_fault, write_report

    try:
        plans = load_plans(plan)
        faults = [parse_fault(text) for text in fault or ()]
    except ValueError as exc:
        raise _fail(str(exc)) from None
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
        raise _fail(str(exc)) from None
    if as_json:
        data = evaluation_to_dict(result)
        data["report"] = {kind: str(path) for kind, path in paths.items()}
        typer.echo(json.dumps(data, indent=2))
    else:
        _print_evaluation(result, paths)
    if not result.passed:
        raise typer.Exit(code=1)


def _print_evaluation(result: Any, paths: dict[str, Any]) -> None:
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


# --------------------------------------------------------------------------------------------------
# bill
# --------------------------------------------------------------------------------------------------


def _bill_time(name: str, text: str, timezone: str) -> Any:
    """An ISO-8601 time with offset, or a date meaning local midnight in ``timezone``."""
    from datetime import UTC, date, datetime
    from zoneinfo import ZoneInfo

    try:
        day = date.fromisoformat(text)
    except ValueError:
        return _parse_time(name, text)
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def _file_zone(timezone: str | None) -> str:
    """The zone an interval CSV is read in: --timezone, which a file needs (checked, IANA name)."""
    from meshmeter.billing.calendar import zone

    if timezone is None:
        raise ValueError("--timezone is needed with --intervals (IANA name, e.g. America/Los_Angeles)")
    zone(timezone)
    return timezone


def _read_intervals(intervals: str) -> tuple[Any, Any, Any]:
    """Interval ends [s], energy [Wh] and quality of an interval CSV file (docs/billing.md)."""
    from pathlib import Path

    from meshmeter.billing.intervals_csv import parse_intervals_csv

    try:
        text = Path(intervals).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {intervals!r}: {exc.strerror}") from None
    return parse_intervals_csv(text)


def _stored_intervals(
    store: Any, meter: str, timezone: str | None, period: Any, when: str
) -> tuple[Any, str, tuple[Any, Any], tuple[Any, Any, Any]]:
    """A stored meter, its zone, its period and its validated intervals in it, for bill and production.

    ``timezone`` defaults to the meter's site's; ``period(timezone)`` gives the UTC start and end;
    ``when`` names the period in the error raised when it holds no validated interval.
    """
    from meshmeter.billing.calendar import zone

    found = store.get_meter(serial=meter)
    if found is None:
        raise ValueError(f"meter {meter!r} is not in the store")
    if timezone is None:
        site = None if found.site_id is None else store.get_site(site_id=found.site_id)
        if site is None:
            raise ValueError(f"meter {meter!r} has no site; give --timezone")
        timezone = site.timezone
    zone(timezone)
    t0, t1 = period(timezone)
    view = store.interval_view(meter_id=found.id, start=t0, end=t1)
    if not view.billed().any():
        raw = int(np.count_nonzero(view.quality == int(Quality.RAW)))
        raise ValueError(
            f"meter {meter!r} has no validated intervals in {when}; run meshmeter vee "
            f"({len(view)} intervals stored, {raw} of them not yet validated)"
        )
    return found, timezone, (t0, t1), (view.interval_end_s, view.energy_wh, view.quality)


@app.command("bill")
def bill_command(
    start: Annotated[str, typer.Option(help="Start: ISO-8601 with offset, or a date (local midnight).")],
    end: Annotated[str, typer.Option(help="End: ISO-8601 with offset, or a date (local midnight).")],
    tariff: Annotated[
        str | None,
        typer.Option(
            help="URDB tariff JSON file, or example:e-tou-c-example / example:tiered-flat-example "
            "(california mode)."
        ),
    ] = None,
    mode: Annotated[
        str,
        typer.Option(help="california (re-rate one meter at --tariff) or maryland (share a master bill)."),
    ] = "california",
    site_name: Annotated[
        str | None,
        typer.Option("--site", help="Site name: with --mode maryland, bill every account of its meters."),
    ] = None,
    master_total: Annotated[
        str | None, typer.Option(help="Maryland: the utility's master bill for the period [USD].")
    ] = None,
    admin_fee: Annotated[
        str | None, typer.Option(help="Maryland: administrative fee per unit bill [USD]; default 0.")
    ] = None,
    intervals: Annotated[
        str | None, typer.Option(help="CSV of 15-minute intervals: interval_end (UTC), energy_wh[, quality].")
    ] = None,
    meter: Annotated[str | None, typer.Option(help="Meter serial: bill its validated intervals.")] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone; default the meter's site's (needed with --intervals).")
    ] = None,
    account: Annotated[str | None, typer.Option(help="Tenant account printed on the bill.")] = None,
    move_in: Annotated[str | None, typer.Option(help="Move-in: ISO-8601 time or date (prorates).")] = None,
    move_out: Annotated[str | None, typer.Option(help="Move-out: ISO-8601 time or date (prorates).")] = None,
    opening_read_wh: Annotated[
        int | None, typer.Option(help="Opening register read [Wh]; default the store's read at start.")
    ] = None,
    bill_format: Annotated[
        str, typer.Option("--format", help="text, json, csv, html or pdf (maryland: text, json or csv).")
    ] = "text",
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="File to write; default stdout (not for pdf).")
    ] = None,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (same as --format json).")] = False,
    save: Annotated[
        bool,
        typer.Option(
            "--save", help="Store the bill with its inputs (with --meter; maryland: each unit's); idempotent."
        ),
    ] = False,
) -> None:
    """Bill a meter at a tariff (California re-rating), or share a site's master bill (Maryland).

    California re-rating (PU Code §739.5, the default --mode california) bills one meter at
    --tariff. Maryland allocation (--mode maryland) shares the --master-total of a --site among
    the accounts of its meters by kWh, plus --admin-fee per unit; docs/billing.md.

    Examples:

    meshmeter bill --tariff example:e-tou-c-example --intervals july.csv --start 2026-07-01
    --end 2026-08-01 --timezone America/Los_Angeles

    meshmeter bill --tariff tariff.json --meter MM00000007 --start 2026-07-01 --end 2026-08-01 --json

    meshmeter bill --tariff tariff.json --meter MM00000007 --start 2026-07-01 --end 2026-08-01
    --move-out 2026-07-16 --format pdf -o bill.pdf

    meshmeter bill --tariff tariff.json --meter MM00000007 --start 2026-07-01 --end 2026-08-01 --save

    meshmeter bill --mode maryland --site "Oak Court" --master-total 1234.56 --admin-fee 3.50
    --start 2026-07-01 --end 2026-08-01 --save
    """
    import sys
    from pathlib import Path

    from meshmeter.billing import (
        Tenant,
        bill_meter,
        bill_to_html,
        bill_to_json,
        bill_to_pdf,
        bills_to_csv,
        example_tariff,
        load_tariff,
    )

    fmt = "json" if as_json else bill_format
    if mode != "california":
        others = {
            "--tariff": tariff, "--intervals": intervals, "--meter": meter, "--account": account,
            "--move-in": move_in, "--move-out": move_out, "--opening-read-wh": opening_read_wh,
        }  # fmt: skip
        _bill_maryland(
            mode, site_name, master_total, admin_fee, start, end, timezone, fmt, output, database, save,
            others,
        )  # fmt: skip
        return
    try:
        if fmt not in ("text", "json", "csv", "html", "pdf"):
            raise ValueError(f"format must be text, json, csv, html or pdf, got {fmt!r}")
        if fmt == "pdf" and output is None:
            raise ValueError("--format pdf needs --output FILE")
        if site_name is not None and intervals is not None:
            raise ValueError("--site bills a site's accounts from the store: it does not go with --intervals")
        for flag, value in (
            ("--site", site_name), ("--master-total", master_total), ("--admin-fee", admin_fee)
        ):  # fmt: skip
            if value is not None:
                raise ValueError(f"{flag} goes with --mode maryland (Maryland allocation)")
        if tariff is None:
            raise ValueError("--tariff is needed to bill in california mode (re-rating at a tariff)")
        if (intervals is None) == (meter is None):
            raise ValueError("give exactly one of --intervals FILE.csv and --meter SERIAL")
        if save and meter is None:
            raise ValueError("--save stores the bill beside its meter's data: it needs --meter SERIAL")
        if tariff.startswith("example:"):
            rate = example_tariff(tariff.removeprefix("example:"))
        else:
            try:
                rate = load_tariff(Path(tariff))
            except OSError as exc:
                raise ValueError(f"cannot read tariff {tariff!r}: {exc.strerror}") from None

        def tenant_in(tz: str) -> Tenant | None:
            if account is None and move_in is None and move_out is None:
                return None
            return Tenant(
                account or serial,
                None if move_in is None else _bill_time("move_in", move_in, tz),
                None if move_out is None else _bill_time("move_out", move_out, tz),
            )

        if intervals is not None:
            timezone = _file_zone(timezone)
            t0, t1 = _bill_time("start", start, timezone), _bill_time("end", end, timezone)
            ends, energy, quality = _read_intervals(intervals)
            serial = Path(intervals).stem
            bill = bill_meter(
                rate, ends, energy, quality, start=t0, end=t1, timezone=timezone, meter=serial,
                tenant=tenant_in(timezone), opening_read_wh=opening_read_wh,
            )  # fmt: skip
        else:
            from meshmeter.services.billing import (
                bill_meter_from_store,
                find_meter,
                meter_timezone,
                save_meter_bill,
            )
            from meshmeter.store import Store

            assert meter is not None
            serial = meter
            with Store(database) as store:
                found = find_meter(store, meter)
                timezone = meter_timezone(store, found, timezone)
                t0, t1 = _bill_time("start", start, timezone), _bill_time("end", end, timezone)
                bill = bill_meter_from_store(
                    store, meter=found, tariff=rate, start=t0, end=t1, timezone=timezone,
                    tenant=tenant_in(timezone), opening_read_wh=opening_read_wh,
                )  # fmt: skip
                if save:
                    saved, new = save_meter_bill(store, bill, found)
                    typer.echo(f"{'saved as' if new else 'already stored as'} bill {saved.id}", err=True)
    except (ValueError, MeshmeterError) as exc:
        raise _fail(str(exc)) from None
    if fmt == "text":
        _print_bill(bill)
        return
    data: bytes
    if fmt == "json":
        data = bill_to_json(bill).encode("utf-8")
    elif fmt == "csv":
        data = bills_to_csv([bill]).encode("utf-8")
    elif fmt == "html":
        data = bill_to_html(bill).encode("utf-8")
    else:
        data = bill_to_pdf(bill)
    if output is None:
        sys.stdout.buffer.write(data if data.endswith(b"\n") else data + b"\n")
        sys.stdout.flush()
    else:
        Path(output).write_bytes(data)


def _print_bill(bill: Any) -> None:
    from meshmeter.billing import printed

    table = Table(title=f"{bill.account}  meter {bill.meter}  {bill.tariff_name}")
    for col in ("charge", "quantity", "unit", "rate", "amount [USD]"):
        table.add_column(col, justify="left" if col in ("charge", "unit") else "right")
    for line in bill.lines:
        table.add_row(
            line.description, f"{line.quantity.normalize():f}", line.unit, f"{line.rate.normalize():f}",
            f"{printed(line.amount):,.2f}",
        )  # fmt: skip
    table.add_row("Total", "", "", "", f"{bill.printed_total:,.2f}")
    console.print(table)
    console.print(
        f"energy billed {bill.energy_wh / 1000:.3f} kWh; estimated {bill.estimated_wh / 1000:.3f} kWh "
        f"({float(bill.estimated_share) * 100:.1f} %); intervals not billed {bill.unbilled_intervals}"
    )


def _usd(name: str, text: str) -> Any:
    """A money amount in USD from the command line, as ``Decimal``."""
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{name} must be an amount in USD (e.g. 1234.56), got {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"{name} must be a finite amount in USD, got {text!r}")
    return value


def _bill_maryland(
    mode: str,
    site: str | None,
    master_total: str | None,
    admin_fee: str | None,
    start: str,
    end: str,
    timezone: str | None,
    fmt: str,
    output: str | None,
    database: str | None,
    save: bool,
    others: Mapping[str, object],
) -> None:
    """``meshmeter bill --mode maryland``: a site's master bill shared by each account's kWh."""
    import sys
    from pathlib import Path

    from meshmeter.billing import bills_to_csv
    from meshmeter.intervals import zone
    from meshmeter.services.billing import find_site, share_master_bill
    from meshmeter.store import Store

    try:
        if mode != "maryland":
            raise ValueError(f"mode must be california or maryland, got {mode!r}")
        for flag, value in others.items():
            if value is not None:
                raise ValueError(
                    f"{flag} does not go with --mode maryland: it bills every account of a --site "
                    "from the store"
                )
        if site is None:
            raise ValueError("--mode maryland needs --site NAME (the site whose master bill is shared)")
        if master_total is None:
            raise ValueError("--mode maryland needs --master-total USD (the utility's master bill)")
        if fmt not in ("text", "json", "csv"):
            raise ValueError(f"format must be text, json or csv with --mode maryland, got {fmt!r}")
        total = _usd("master_total", master_total)
        fee = _usd("admin_fee", "0" if admin_fee is None else admin_fee)
        with Store(database) as store:
            where = find_site(store, site)
            tz = where.timezone if timezone is None else timezone
            zone(tz)
            t0, t1 = _bill_time("start", start, tz), _bill_time("end", end, tz)
            run = share_master_bill(
                store, site=where, master_total=total, admin_fee=fee, start=t0, end=t1, timezone=tz, save=save
            )
        for u in run.without_share:
            typer.echo(
                f"warning: meter {u.meter.serial} has no validated intervals in the period: "
                f"account {u.tenant.account} gets no share; run meshmeter vee",
                err=True,
            )
        if save:
            stored = [
                f"{b.id}{'' if new else ' (already stored)'}"
                for b, new in (u.stored for u in run.units if u.stored)
            ]
            typer.echo(f"saved as bills {', '.join(stored)}", err=True)
    except (ValueError, MeshmeterError) as exc:
        raise _fail(str(exc)) from None
    bills = run.bills
    units = [u.account.unit for u in run.units]
    if fmt == "text":
        _print_maryland(site, total, fee, units, bills)
        return
    if fmt == "json":
        data = json.dumps(
            {
                "mode": "maryland",
                "site": site,
                "start": t0.isoformat(),
                "end": t1.isoformat(),
                "timezone": tz,
                "master_total": str(total),
                "admin_fee": str(fee),
                "energy_wh": sum(b.energy_wh for b in bills),
                "units": units,
                "bills": [b.to_dict() for b in bills],
            },
            indent=2,
            ensure_ascii=False,
        )
    else:
        data = bills_to_csv(bills)
    if output is None:
        sys.stdout.write(data if data.endswith("\n") else data + "\n")
        sys.stdout.flush()
    else:
        Path(output).write_text(data, encoding="utf-8")


def _print_maryland(site: str, total: Any, fee: Any, unit_names: list[str], bills: list[Any]) -> None:
    from meshmeter.billing import printed

    table = Table(title=f"{site}  master bill {total} USD shared by kWh, admin fee {fee} USD per unit")
    for col in ("account", "unit", "meter", "energy (kWh)", "estimated (kWh)", "share [USD]", "total [USD]"):
        # "(kWh)": rich would read "[kWh]" as markup and drop it.
        table.add_column(col, justify="left" if col in ("account", "unit", "meter") else "right")
    for unit, b in zip(unit_names, bills, strict=True):
        share = next(line.amount for line in b.lines if line.kind == "allocation")
        table.add_row(
            b.account, unit, b.meter, f"{b.energy_wh / 1000:.3f}", f"{b.estimated_wh / 1000:.3f}",
            f"{printed(share):,.2f}", f"{b.printed_total:,.2f}",
        )  # fmt: skip
    shares = sum(line.amount for b in bills for line in b.lines if line.kind == "allocation")
    energy = sum(b.energy_wh for b in bills)
    table.add_row("Total", "", "", f"{energy / 1000:.3f}", "", f"{printed(shares):,.2f}",
                  f"{sum(b.printed_total for b in bills):,.2f}")  # fmt: skip
    console.print(table)


# --------------------------------------------------------------------------------------------------
# production
# --------------------------------------------------------------------------------------------------


@app.command("production")
def production_command(
    month: Annotated[str, typer.Option(help="The local calendar month, YYYY-MM.")],
    meter: Annotated[
        str | None, typer.Option(help="Serial of the solar meter: its validated intervals.")
    ] = None,
    intervals: Annotated[
        str | None, typer.Option(help="CSV of 15-minute intervals: interval_end (UTC), energy_wh[, quality].")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone; default the meter's site's (needed with --intervals).")
    ] = None,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="CSV file to write; default stdout.")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """The California Solar Initiative PBI production report of a solar meter for a month, as CSV.

    Every 15-minute interval's kWh and the month's total from the meter's validated
    intervals, estimated intervals excluded and counted separately (docs/billing.md). The
    summary (total kWh, intervals counted, estimated, missing) goes to stderr, or to stdout
    after the file with -o.

    Examples:

    meshmeter production --meter MM00000031 --month 2026-07 -o pv-2026-07.csv

    meshmeter production --intervals pv.csv --month 2026-07 --timezone America/Los_Angeles
    """
    from pathlib import Path

    from meshmeter.billing import production_report, production_report_csv
    from meshmeter.billing.production import month_period, parse_month

    try:
        year, mon = parse_month("month", month)
        if (intervals is None) == (meter is None):
            raise ValueError("give exactly one of --intervals FILE.csv and --meter SERIAL")
        if intervals is not None:
            timezone = _file_zone(timezone)
            ends, energy, quality = _read_intervals(intervals)
            system = Path(intervals).stem
        else:
            from meshmeter.store import Store

            assert meter is not None
            system = meter
            with Store(database) as store:
                _, timezone, _, (ends, energy, quality) = _stored_intervals(
                    store, meter, timezone, lambda tz: month_period(year, mon, tz), month
                )
        report = production_report(system, ends, energy, quality, year=year, month=mon, timezone=timezone)
        data = production_report_csv(report)
        if output is not None:
            try:
                Path(output).write_text(data, encoding="utf-8")
            except OSError as exc:
                raise ValueError(f"cannot write {output!r}: {exc.strerror}") from None
    except (ValueError, MeshmeterError) as exc:
        raise _fail(str(exc)) from None
    summary = (
        f"{system} {month}: {report.counted_wh / 1000:.3f} kWh from {report.counted_intervals} intervals "
        f"counted; estimated {report.estimated_intervals} ({report.estimated_wh / 1000:.3f} kWh, excluded); "
        f"missing {report.missing_intervals}; failed VEE "
        f"{report.not_counted_intervals - report.missing_intervals}; of {report.interval_end_s.size}"
    )
    if output is None:
        typer.echo(data, nl=False)
        typer.echo(summary, err=True)
    else:
        typer.echo(summary)
        typer.echo(f"report: {output}")


# --------------------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------------------


@meter_app.command("demo")
def meter_demo_command(
    days: Annotated[float, typer.Option(help="Days of simulated load.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed of the load.")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One meter twin at work on a tenant's load: both metrology paths, then a reversed CT.

    Example: meshmeter meter demo --days 2
    """
    from meshmeter.demo import run_meter_demo

    try:
        report = run_meter_demo(days=days, seed=seed)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    report.print(console)


def _site_progress(quiet: bool) -> Any:
    """A rich progress bar for the stages of a site run, and the callback that drives it."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True, highlight=False),
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


def _window_option(text: str | None, days: float, timezone: str) -> tuple[Any, float]:
    """The run's start and length: from --start for --days, else --days whole local days and today."""
    from meshmeter.demo import default_window

    if not (math.isfinite(days) and 1 / 96 <= days <= 366):
        raise ValueError(f"days must be between 1/96 and 366, got {days!r}")
    if text is None:
        return default_window(days, timezone)
    start = _parse_time("start", text)
    if start.timestamp() % 900:
        raise ValueError(f"start must be on a 15-minute boundary (:00, :15, :30, :45), got {text!r}")
    return start, days


def _run_site(
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


def _site_summary_out(summary: Any, as_json: bool) -> None:
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
        raise _fail(f"{path} exists; use --force to overwrite it")
    try:
        target.write_text(demo_site_toml(), encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot write {path!r}: {exc.strerror}") from None
    console.print(f"wrote {path}: edit it, then: meshmeter site validate {path}")


@site_app.command("validate")
def site_validate(
    path: Annotated[str, typer.Argument(help="A site file (TOML, docs/site.md).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
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
            Console(stderr=True, highlight=False).print(f"[bold red]invalid:[/] {exc}", soft_wrap=True)
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


@site_app.command("simulate")
def site_simulate(
    path: Annotated[str, typer.Argument(help="A site file (TOML, docs/site.md).")],
    days: Annotated[
        float, typer.Option(help="Simulated days, 1/96 to 366; without --start, and today so far.")
    ] = 31.0,
    seed: Annotated[int, typer.Option(help="Seed of the loads and the radio.")] = 0,
    start: Annotated[
        str | None,
        typer.Option(help="Start, ISO-8601 with offset, on :00/:15/:30/:45; default: DAYS local days ago."),
    ] = None,
    database: DatabaseOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run a site's meters and mesh, store everything, run VEE, bill the accounts; print a summary.

    Exit 0; 2 on a bad file (line and field named), bad option, or a site already in the store.

    Example: meshmeter site simulate site.toml --days 7 --database sqlite:///site.sqlite
    """
    import os

    from meshmeter.site.config import SiteFileError, load_site

    try:
        config = load_site(path)
        t0, run_days = _window_option(start, days, config.timezone)
        named = database or os.environ.get("MESHMETER_DATABASE_URL") or "sqlite:///meshmeter.db"
        summary = _run_site(database, config, t0, run_days, seed, named, quiet or as_json)
    except SiteFileError as exc:
        raise _fail(str(exc)) from None
    except (ValueError, MeshmeterError) as exc:
        raise _fail(str(exc)) from None
    _site_summary_out(summary, as_json)


@app.command("cit")
def cit_command(
    site: Annotated[str | None, typer.Option(help="Site name; default the only site of the store.")] = None,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The latest network report (Commissioning and Installation Tool, manual §5.2) of a stored site.

    Exit 0 when every device joined, 1 when MDTs or repeaters did not, 2 on bad input.

    Example: meshmeter cit --database sqlite:///meshmeter-demo.sqlite
    """
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            sites = store.sites()
            if site is not None:
                chosen = [s for s in sites if s.name == site]
                if not chosen:
                    raise ValueError(f"site {site!r} is not in the store; sites: {[s.name for s in sites]}")
            elif len(sites) != 1:
                raise ValueError(f"the store has {len(sites)} sites; name one with --site")
            else:
                chosen = sites
            stored = store.latest_network_report(site=chosen[0].id)
    except (ValueError, MeshmeterError) as exc:
        raise _fail(str(exc)) from None
    if stored is None:
        raise _fail(f"site {chosen[0].name!r} has no network report: run meshmeter site simulate")
    data = stored.report
    healthy = data["joined_mdts"] == data["mdts"] and data["joined_repeaters"] == data["repeaters"]
    if as_json:
        typer.echo(
            json.dumps({"site": chosen[0].name, "taken_at": stored.taken_at.isoformat(), **data}, indent=2)
        )
    else:
        table = Table(title=f"{chosen[0].name}: CIT report taken {stored.taken_at:%Y-%m-%d %H:%M} UTC")
        for col in (
            "kind",
            "EUI-64",
            "state",
            "parent",
            "hops",
            "RSSI dBm",
            "LQI",
            "sent",
            "retried",
            "lost",
        ):
            table.add_column(col)
        for d in data["devices"]:
            table.add_row(
                d["kind"],
                d["eui64"],
                d["state"],
                d["parent"] or "-",
                "-" if d["hops"] is None else str(d["hops"]),
                "-" if d["rssi_dbm"] is None else f"{d['rssi_dbm']:.1f}",
                "-" if d["lqi"] is None else str(d["lqi"]),
                str(d["frames_sent"]),
                str(d["retried"]),
                str(d["lost"]),
            )
        console.print(table)
        console.print(
            f"MDTs joined {data['joined_mdts']} of {data['mdts']}, repeaters {data['joined_repeaters']} of "
            f"{data['repeaters']}; delivered {data['delivered']:,} of {data['intervals_due']:,} intervals "
            f"({data['delivery_ratio']:.3%}), on time {data['on_time_ratio']:.3%}"
        )
        for u in data["unjoined"]:
            console.print(f"[yellow]cannot join:[/] {u['eui64']}: {u['suggestion']}")
    if not healthy:
        raise typer.Exit(code=1)


@app.command("demo")
def demo_command(
    days: Annotated[
        float, typer.Option(help="Simulated days; without --start, whole local days and today so far.")
    ] = 31.0,
    seed: Annotated[int, typer.Option(help="Seed of the loads and the radio.")] = 0,
    start: Annotated[
        str | None,
        typer.Option(help="Start, ISO-8601 with offset, on :00/:15/:30/:45; default: DAYS local days ago."),
    ] = None,
    database: Annotated[
        str, typer.Option("--database", help="SQLite file of the demo (replaced if it exists).")
    ] = "meshmeter-demo.sqlite",
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API and dashboard after.")
    ] = True,
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """The demo: a 24-unit building with a house and a solar meter, simulated, stored, billed, served.

    Writes a fresh SQLite file (docs/demo.md), prints network health, energy, bills and alerts,
    then serves the API and dashboard on http://HOST:PORT/ until Ctrl-C. Exit 0; 2 on bad input.

    Example: meshmeter demo --days 7 --no-serve
    """
    import os
    from pathlib import Path

    from meshmeter.site.config import parse_site
    from meshmeter.site.example import demo_site_toml
    from meshmeter.store import Store

    target = Path(database)
    if "://" in database:
        raise _fail(f"--database takes a file path (the demo's own SQLite file), got {database!r}")
    try:
        site = parse_site(demo_site_toml())
        t0, run_days = _window_option(start, days, site.timezone)
        for suffix in ("", "-wal", "-shm"):
            companion = Path(f"{target}{suffix}")
            if companion.exists():
                os.remove(companion)
        url = f"sqlite:///{target.resolve()}"
        summary = _run_site(url, site, t0, run_days, seed, str(target), as_json)
    except (ValueError, MeshmeterError, OSError) as exc:
        raise _fail(str(exc)) from None
    _site_summary_out(summary, as_json)
    if serve:
        import uvicorn

        from meshmeter.api.main import create_app

        served = Store(url)
        _, token = served.create_api_token(role="admin", label="meshmeter demo")
        typer.echo(
            f"serving the API and the dashboard (http://{host}:{port}/dashboard) until Ctrl-C; "
            f"database {target}\nlog in with this token (admin, of this demo database only):\n{token}",
            err=True,
        )
        try:
            uvicorn.run(create_app(served), host=host, port=port)  # the bills are in the store
        finally:
            served.close()


def main() -> None:
    """Entry point of the ``meshmeter`` command."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
