"""``meshmeter meter``: run the meter twin (``run``, ``demo``), register a meter in the store (``add``, a Mini
Meter or a meter of another make with its ratings; ``set-kind``, ``show``, ``list``), and record its life:
``install``, ``remove``, ``exchange``, ``set-multiplier``, ``set-ct-ratio``, ``history``."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from meshmeter.cli.common import TIME_HELP, DatabaseOption, JsonOption, bad_input, console
from meshmeter.cli.tables import Column, key, meter_fields, print_json, print_table
from meshmeter.errors import MeshmeterError

if TYPE_CHECKING:
    from meshmeter.meter.twin import Meter, SteadyResult

meter_app = typer.Typer(
    help="Run the meter twin; register meters and record their life (install, exchange ...).",
    no_args_is_help=True,
)


def _per_line(name: str, values: Sequence[float], lines: int) -> tuple[float, ...]:
    if len(values) == 1:
        return tuple(values) * lines
    if len(values) != lines:
        raise bad_input(f"{name} takes one value or one per line ({lines}), got {len(values)}")
    return tuple(values)


def _parse_pairs(name: str, items: Sequence[str]) -> dict[int, int]:
    pairs: dict[int, int] = {}
    for item in items:
        element, sep, line = item.partition("=")
        if not sep or element not in ("1", "2") or line not in ("1", "2"):
            raise bad_input(f"{name} takes ELEMENT=LINE with 1 or 2 on each side, got {item!r}")
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
    path: Annotated[
        str, typer.Option(metavar="METHOD", help="Metrology path: profile or waveform.")
    ] = "profile",
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
    as_json: JsonOption = False,
) -> None:
    """Run the meter twin at a steady condition and show what it registered and displayed.

    Example: meshmeter meter run --voltage-v 120 --current-a 30 --pf 0.5 --lag --duration-s 3600
    """
    import numpy as np

    from meshmeter.meter.installation import phase_deg_from_pf
    from meshmeter.meter.twin import SteadyCondition

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
        raise bad_input(str(exc)) from None
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
    from meshmeter.meter.installation import ElementWiring, Service
    from meshmeter.meter.twin import Meter

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
    from rich.table import Table

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


@meter_app.command("add")
def meter_add(
    serial: Annotated[str, typer.Option(help="Meter serial number (unique).")],
    model: Annotated[
        str | None,
        typer.Option(
            help="Without --manufacturer: the Mini Meter designation (certificate p.1), default "
            "MM-D1202001-T-SCC. With it: the manufacturer's model name (SDM630MCT), also the designation "
            "unless --designation is given."
        ),
    ] = None,
    manufacturer: Annotated[
        str | None,
        typer.Option(help="A meter of another make than the Mini Meter: who made it (Eastron)."),
    ] = None,
    designation: Annotated[
        str | None,
        typer.Option(help="The designation as recorded: free text for another make; a Mini Meter's decodes."),
    ] = None,
    elements: Annotated[
        int | None, typer.Option(help="Another make: its measuring elements, 1 to 3.")
    ] = None,
    voltage_max: Annotated[
        float | None,
        typer.Option(help="Another make: the highest voltage an element measures, line to neutral [V]."),
    ] = None,
    current_max: Annotated[
        float | None,
        typer.Option(
            help="Another make: the highest primary current an element measures [A] (CT-operated: the CTs' "
            "primary, e.g. 400 for 400:5 A CTs)."
        ),
    ] = None,
    ct_ratio: Annotated[
        str | None,
        typer.Option(
            help="CT ratio: 4000, or 400:5 (primary:secondary A). Default: the designation's (a Mini "
            "Meter's 200:0.1 A)."
        ),
    ] = None,
    site_id: Annotated[int | None, typer.Option(help="Site id (meshmeter site add).")] = None,
    multiplier: Annotated[float, typer.Option(help="Billing multiplier.")] = 1.0,
    mdt_eui64: Annotated[str | None, typer.Option(help="EUI-64 of its MDT, 16 hex digits.")] = None,
    mdt_kit: Annotated[str, typer.Option(help="The MDT's kit (manual §2.4).")] = "MMSMT-C02",
    mdt_key: Annotated[str | None, typer.Option(help="The MDT's AES-128 key, 32 hex digits.")] = None,
    interval: Annotated[
        int, typer.Option(help="Minutes per interval of the meter's data: 5, 15 (the MDT's), 30 or 60.")
    ] = 15,
    role: Annotated[
        str | None,
        typer.Option(help="unit (default), house, production (solar) or master; production for --export-of."),
    ] = None,
    register_digits: Annotated[
        int | None,
        typer.Option(help="Whole-kWh digits of its register (it rolls over to 0 at 10**digits kWh)."),
    ] = None,
    export_of: Annotated[
        str | None,
        typer.Option(
            help="Serial of the bidirectional meter whose export (received) register this is: billed as "
            "its exports."
        ),
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Register a meter and, optionally, its MDT; prints the meter id.

    A Mini Meter is named by its designation (its elements, ratings and CT ratio decode from it).
    A meter of another make is named by --manufacturer and --model, with its ratings: --elements,
    --voltage-max and --current-max, all three, bound what it can register in an interval
    (docs/store.md, "Meters of any make"). Without them its limit is its designation's, or the
    default Mini Meter's, and a warning says so. Every problem is named at once and nothing is
    stored when there is one.

    Example: meshmeter meter add --serial MM00000001 --site-id 1
    Example: meshmeter meter add --serial UTIL-7 --site-id 1 --interval 60 --role master
    Example: meshmeter meter add --serial MM00000001-X --site-id 1 --export-of MM00000001
    Example: meshmeter meter add --serial SDM-1 --site-id 1 --manufacturer Eastron --model SDM630MCT
    --elements 3 --voltage-max 289 --current-max 400 --ct-ratio 400:5
    """
    from meshmeter.catalog.limits import rating_problems
    from meshmeter.intervals import IntervalLength
    from meshmeter.store import Store

    try:
        problems = rating_problems(
            manufacturer=manufacturer,
            model=model if manufacturer is not None else None,
            elements=elements,
            voltage_max_v=voltage_max,
            current_max_a=current_max,
        )
        if manufacturer is not None and model is None and designation is None:
            problems.insert(0, "--model is missing: a meter of another make is named by its model")
        if problems:
            raise ValueError("; ".join(problems))
        given_designation, ratio = _designation_and_ratio(manufacturer, model, designation, ct_ratio)
        if (mdt_eui64 is None) != (mdt_key is None):
            raise ValueError("--mdt-eui64 and --mdt-key go together")
        eui = key = None
        if mdt_eui64 is not None and mdt_key is not None:
            try:
                eui, key = bytes.fromhex(mdt_eui64), bytes.fromhex(mdt_key)
            except ValueError:
                raise ValueError("--mdt-eui64 and --mdt-key must be hex digits") from None
        with Store(database) as store:
            target = None
            if export_of is not None:
                target = store.get_meter(serial=export_of)
                if target is None:
                    raise ValueError(f"--export-of {export_of!r} is not a known meter (meshmeter meter add)")
            meter = store.create_meter(
                serial=serial,
                designation=given_designation,
                ct_ratio=ratio,
                multiplier=multiplier,
                site_id=site_id,
                interval_s=IntervalLength.of(interval * 60, name="--interval (minutes)"),
                role=role,
                register_digits=register_digits,
                export_of_meter_id=None if target is None else target.id,
                manufacturer=manufacturer,
                model=None if manufacturer is None else model,
                elements=elements,
                voltage_max_v=voltage_max,
                current_max_a=current_max,
            )
            if eui is not None and key is not None:
                store.create_mdt(eui64=eui, kit=mdt_kit, key=key, meter_id=meter.id)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(_flag_names(str(exc))) from None
    for warning in _limit_warnings(meter):
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(str(meter.id))


_FLAGS = {
    "elements": "--elements",
    "voltage_max_v": "--voltage-max",
    "current_max_a": "--current-max",
    "manufacturer": "--manufacturer",
    "register_digits": "--register-digits",
}


def _flag_names(message: str) -> str:
    """The store's message in the words of the command line: its arguments named by their options."""
    import re

    for name, flag in _FLAGS.items():
        message = re.sub(rf"\b{name}\b", flag, message)
    return message


def _designation_and_ratio(
    manufacturer: str | None, model: str | None, designation: str | None, ct_ratio: str | None
) -> tuple[str, float]:
    """
    The designation to record and the CT ratio, from ``meter add``'s options (ValueError or
    DesignationError naming the option).

    Without a manufacturer the meter is a Mini Meter: its designation (``--model`` or ``--designation``)
    must decode (certificate p.1). With one, the designation is free text, the model's by default; the CT
    ratio is ``--ct-ratio``, else the designation's if it decodes, else the default Mini Meter's 2000.
    """
    from meshmeter.catalog import DEFAULT_DESIGNATION, decode_meter
    from meshmeter.errors import DesignationError

    if manufacturer is None:
        if model is not None and designation is not None and model != designation:
            raise ValueError(
                "--model is the Mini Meter designation when there is no --manufacturer: give --model or "
                "--designation, not both"
            )
        spec = decode_meter(designation or model or DEFAULT_DESIGNATION)
        return spec.designation, spec.ct_ratio if ct_ratio is None else _ratio(ct_ratio)
    text = designation or model
    if text is None:
        raise ValueError(
            "--model is missing: a meter of another make is named by its model (or --designation)"
        )
    if ct_ratio is not None:
        return text, _ratio(ct_ratio)
    try:
        return text, decode_meter(text).ct_ratio
    except DesignationError:
        return text, decode_meter(DEFAULT_DESIGNATION).ct_ratio


def _limit_warnings(meter: Any) -> list[str]:
    """What a user should know of a meter's limit: a meter of another make bounded by a Mini Meter's."""
    from meshmeter.catalog.limits import max_interval_energy_wh, rating_source

    source = rating_source(meter)
    if source == "ratings" or (meter.manufacturer is None and source == "designation"):
        return []
    limit = max_interval_energy_wh(meter)
    whose = "its designation's" if source == "designation" else "the default Mini Meter's (MM-D1202001-T-SCC)"
    return [
        f"meter {meter.serial} has no ratings (--elements, --voltage-max, --current-max): the most it may "
        f"register in {meter.interval_s // 60} minutes is {whose}, {limit:,} Wh, at its CT ratio "
        f"{meter.ct_ratio:g}"
    ]


def _meter_dict(meter: Any, serials: dict[int, str]) -> dict[str, Any]:
    """A stored meter as ``meter show`` and ``meter list`` give it, with its limit and where it comes from."""
    from meshmeter.catalog.limits import max_interval_energy_wh, rating_source

    return {
        "id": meter.id,
        "serial": meter.serial,
        "site_id": meter.site_id,
        "designation": meter.designation,
        "manufacturer": meter.manufacturer,
        "model": meter.model,
        "elements": meter.elements,
        "voltage_max_v": meter.voltage_max_v,
        "current_max_a": meter.current_max_a,
        "ct_ratio": meter.ct_ratio,
        "multiplier": meter.multiplier,
        "interval_s": meter.interval_s,
        "role": meter.role,
        "register_digits": meter.register_digits,
        "export_of": None
        if meter.export_of_meter_id is None
        else serials.get(meter.export_of_meter_id, str(meter.export_of_meter_id)),
        "install_date": None if meter.install_date is None else meter.install_date.isoformat(),
        "max_interval_energy_wh": max_interval_energy_wh(meter),
        "rating_source": rating_source(meter),
    }


_SOURCE_WORDS = {
    "ratings": "its own ratings",
    "designation": "its designation",
    "default": "the default Mini Meter (designation not a Mini Meter's)",
}


@meter_app.command("show")
def meter_show(
    serial: Annotated[str, typer.Argument(help="The meter's serial.")],
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """One meter as registered: its make, ratings, CT ratio, multiplier, interval, role, register digits,
    and the most it can register in an interval.

    Example: meshmeter meter show SDM-1
    """
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            meter = store.get_meter(serial=serial)
            if meter is None:
                raise ValueError(f"no meter has serial {serial!r} (meshmeter meter list)")
            data = _meter_dict(meter, {m.id: m.serial for m in store.meters()})
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    for name, value in data.items():
        if name == "max_interval_energy_wh":
            source = _SOURCE_WORDS[data["rating_source"]]
            value = f"{value:,} Wh per {data['interval_s'] // 60} minutes, from {source}"
        elif name == "rating_source":
            continue
        typer.echo(f"{name + ':':<24}{'-' if value is None else value}")


@meter_app.command("set-kind")
def meter_set_kind(
    serial: Annotated[str, typer.Argument(help="The meter's serial.")],
    manufacturer: Annotated[
        str | None, typer.Option(help="Who made it (Eastron); leave out with --mini-meter.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="The manufacturer's model name (SDM630MCT).")] = None,
    elements: Annotated[int | None, typer.Option(help="Its measuring elements, 1 to 3.")] = None,
    voltage_max: Annotated[
        float | None, typer.Option(help="The highest voltage an element measures, line to neutral [V].")
    ] = None,
    current_max: Annotated[
        float | None, typer.Option(help="The highest primary current an element measures [A].")
    ] = None,
    mini_meter: Annotated[
        bool, typer.Option("--mini-meter", help="Clear the make and ratings: its designation decides again.")
    ] = False,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record what make of meter a registered meter is, and its ratings (all at once, replacing what
    was recorded). Ingest and VEE bound its intervals by them from then on; what is stored stays.

    Example: meshmeter meter set-kind SDM-1 --manufacturer Eastron --model SDM630MCT --elements 3
    --voltage-max 289 --current-max 400
    """
    from meshmeter.store import Store

    try:
        given = (manufacturer, model, elements, voltage_max, current_max)
        if mini_meter and any(value is not None for value in given):
            raise ValueError("--mini-meter clears the make and ratings: give it alone")
        if not mini_meter and manufacturer is None:
            raise ValueError("--manufacturer is missing (or --mini-meter, to clear the make and ratings)")
        with Store(database) as store:
            meter = store.get_meter(serial=serial)
            if meter is None:
                raise ValueError(f"no meter has serial {serial!r} (meshmeter meter list)")
            changed = store.update_meter_kind(
                meter_id=meter.id,
                manufacturer=manufacturer,
                model=model,
                elements=elements,
                voltage_max_v=voltage_max,
                current_max_a=current_max,
            )
            data = _meter_dict(changed, {m.id: m.serial for m in store.meters()})
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(_flag_names(str(exc))) from None
    for warning in _limit_warnings(changed):
        typer.echo(f"warning: {warning}", err=True)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    source = _SOURCE_WORDS[data["rating_source"]]
    typer.echo(
        f"{serial}: at most {data['max_interval_energy_wh']:,} Wh per {data['interval_s'] // 60} minutes, "
        f"from {source}"
    )


@meter_app.command("list")
def meter_list(
    site_id: Annotated[int | None, typer.Option(help="Only the meters of this site.")] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every meter (or a site's), names first: unit, tenant and account there now, site; then the
    serial, role, make and model or designation, ratings and interval, and the interval limit.

    Example: meshmeter meter list --site-id 1
    """
    from meshmeter.services.names import meter_names
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            if site_id is not None and store.get_site(site_id=site_id) is None:
                raise ValueError(f"no site has id {site_id} (meshmeter site add)")
            found = store.meters(site_id=site_id)
            serials = {m.id: m.serial for m in store.meters()}
            names = meter_names(store, site_id=site_id)
            rows = [_meter_dict(m, serials) | meter_fields(names.get(m.id)) for m in found]
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    if as_json:
        print_json(rows)
        return
    print_table(
        _METER_COLUMNS,
        rows,
        empty="No meter yet: add one with `meshmeter meter add` (or try `meshmeter demo`).",
    )


def _make(r: dict[str, Any]) -> str:
    if r["manufacturer"] is None:
        return str(r["designation"])
    return f"{r['manufacturer']} {r['model'] or ''} ({r['designation']})"


def _ratings(r: dict[str, Any]) -> str:
    size = (
        ""
        if r["elements"] is None
        else f"{r['elements']} × {r['voltage_max_v']:g} V × {r['current_max_a']:g} A, "
    )
    return f"{size}CT {r['ct_ratio']:g}, {r['interval_s'] // 60} min"


_METER_COLUMNS = (
    Column("Unit", key("label"), long=True),
    Column("Tenant", key("occupant"), long=True),
    Column("Site", key("site"), long=True),
    Column("Meter", key("serial")),
    Column("Role", key("role")),
    Column("Make", _make, long=True),
    Column("Ratings", _ratings, long=True),
    Column("Limit Wh", lambda r: f"{r['max_interval_energy_wh']:,} ({r['rating_source']})", long=True),
)
"""``meter list``: names first, then the serial and what the meter is."""


@meter_app.command("demo")
def meter_demo_command(
    days: Annotated[float, typer.Option(help="Days of simulated load.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed of the load.")] = 7,
    as_json: JsonOption = False,
) -> None:
    """One meter twin at work on a tenant's load: both metrology paths, then a reversed CT.

    Example: meshmeter meter demo --days 2
    """
    from meshmeter.demo import run_meter_demo

    try:
        report = run_meter_demo(days=days, seed=seed)
    except ValueError as exc:
        raise bad_input(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    report.print(console)


# --------------------------------------------------------------------------------------------------
# a meter's life: install, remove, exchange, multiplier and CT ratio changes, history
# --------------------------------------------------------------------------------------------------

LifeAtOption = Annotated[
    str,
    typer.Option(
        "--at",
        help=f"When, on the meter's interval grid: {TIME_HELP} (a date-time without offset: local time).",
    ),
]
SerialArgument = Annotated[str, typer.Argument(help="The meter's serial.")]


def _change_dict(change: Any, serials: dict[int, str]) -> dict[str, Any]:
    """A change in a meter's life as ``--json`` prints it."""
    return {
        "id": change.id,
        "meter": serials.get(change.meter_id, str(change.meter_id)),
        "kind": change.kind,
        "at": change.at.isoformat(),
        "read_wh": change.read_wh,
        "value": change.value,
        "replaces": None
        if change.replaces_meter_id is None
        else serials.get(change.replaces_meter_id, str(change.replaces_meter_id)),
        "unit_id": change.unit_id,
        "recorded_at": change.recorded_at.isoformat(),
        "recorded_by": change.recorded_by,
        "detail": change.detail,
    }


def _change_text(change: Any, serials: dict[int, str]) -> str:
    from meshmeter.billing.meterlife import shown_factor, shown_kwh

    serial = serials.get(change.meter_id, str(change.meter_id))
    read = "" if change.read_wh is None else f", read {shown_kwh(change.read_wh)}"
    if change.kind == "install" and change.replaces_meter_id is not None:
        old = serials.get(change.replaces_meter_id, str(change.replaces_meter_id))
        return f"{change.at.isoformat()}  {serial} installed in place of {old}{read}"
    if change.kind in ("install", "remove"):
        what = "installed" if change.kind == "install" else "removed"
        return f"{change.at.isoformat()}  {serial} {what}{read}"
    before = change.detail.get("from")
    was = "" if before is None else f" from {shown_factor(float(before))}"
    name = "multiplier" if change.kind == "multiplier" else "CT ratio"
    return f"{change.at.isoformat()}  {serial} {name}{was} to {shown_factor(float(change.value))}{read}"


def _serials(store: Any, ids: set[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for meter_id in sorted(ids):
        meter = store.get_meter(meter_id=meter_id)
        found[meter_id] = str(meter_id) if meter is None else meter.serial
    return found


def _show_changes(store: Any, changes: Sequence[Any], as_json: bool) -> None:
    ids = {c.meter_id for c in changes} | {c.replaces_meter_id for c in changes if c.replaces_meter_id}
    serials = _serials(store, ids)
    if as_json:
        typer.echo(json.dumps([_change_dict(c, serials) for c in changes], indent=2))
        return
    for c in changes:
        typer.echo(_change_text(c, serials))


@meter_app.command("exchange")
def meter_exchange(
    old: Annotated[str, typer.Argument(help="The serial of the meter taken out.")],
    new: Annotated[str, typer.Argument(help="The serial of the meter put in (meshmeter meter add).")],
    at: LifeAtOption,
    final_read: Annotated[str, typer.Option(help="The old meter's register at removal [kWh].")],
    first_read: Annotated[str, typer.Option(help="The new meter's register at install [kWh].")],
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Exchange a meter: the old one's final read, the new one's first read, its units re-pointed, at once.

    The account of each unit is billed from the old meter's intervals up to --at and the new meter's
    after, on one bill (docs/billing.md, "A meter's life"). Every problem is named at once and
    nothing is stored when there is one.

    Example: meshmeter meter exchange MM00000007 MM00000042 --at 2026-07-16T09:00 --final-read 12345.67
    --first-read 0
    """
    from meshmeter.cli.common import recorded_by
    from meshmeter.services import meterlife
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            changes = meterlife.exchange(
                store, old=old, new=new, at=at, final_read=final_read, first_read=first_read,
                by=recorded_by("meter exchange"),
            )  # fmt: skip
            _show_changes(store, changes, as_json)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None


@meter_app.command("install")
def meter_install(
    serial: SerialArgument,
    at: LifeAtOption,
    first_read: Annotated[str, typer.Option(help="The register at install [kWh].")],
    unit_id: Annotated[
        int | None, typer.Option(help="The unit it measures; default the meter's unit.")
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a meter's install with its first read: its service starts then.

    Example: meshmeter meter install MM00000042 --at 2026-07-16T09:00 --first-read 0
    """
    from meshmeter.cli.common import recorded_by
    from meshmeter.services import meterlife
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            change = meterlife.install(
                store, meter=serial, at=at, first_read=first_read, unit_id=unit_id,
                by=recorded_by("meter install"),
            )  # fmt: skip
            _show_changes(store, [change], as_json)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None


@meter_app.command("remove")
def meter_remove(
    serial: SerialArgument,
    at: LifeAtOption,
    final_read: Annotated[str, typer.Option(help="The register at removal [kWh].")],
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a meter's removal with its final read: its service ends then.

    Example: meshmeter meter remove MM00000007 --at 2026-07-16T09:00 --final-read 12345.67
    """
    from meshmeter.cli.common import recorded_by
    from meshmeter.services import meterlife
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            change = meterlife.remove(
                store, meter=serial, at=at, final_read=final_read, by=recorded_by("meter remove")
            )
            _show_changes(store, [change], as_json)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None


def _ratio(text: str) -> float:
    """A CT ratio: ``4000``, or ``400:0.1`` (primary:secondary amperes)."""
    primary, sep, secondary = text.partition(":")
    try:
        value = float(primary) / float(secondary) if sep else float(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(
            f"ct_ratio must be a number (4000) or primary:secondary A (400:0.1), got {text!r}"
        ) from None
    return value


@meter_app.command("set-multiplier")
def meter_set_multiplier(
    serial: SerialArgument,
    multiplier: Annotated[float, typer.Argument(help="The new multiplier: register reading to energy.")],
    at: LifeAtOption,
    read: Annotated[str | None, typer.Option(help="The register then [kWh], if read.")] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a meter's multiplier from --at on: its intervals after --at are billed at it.

    Example: meshmeter meter set-multiplier MM00000007 2 --at 2026-07-10
    """
    from meshmeter.cli.common import recorded_by
    from meshmeter.services import meterlife
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            change = meterlife.change_multiplier(
                store, meter=serial, at=at, multiplier=multiplier, read=read,
                by=recorded_by("meter set-multiplier"),
            )  # fmt: skip
            _show_changes(store, [change], as_json)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None


@meter_app.command("set-ct-ratio")
def meter_set_ct_ratio(
    serial: SerialArgument,
    ct_ratio: Annotated[
        str, typer.Argument(help="The new CT ratio: 4000, or 400:0.1 (primary:secondary A).")
    ],
    at: LifeAtOption,
    read: Annotated[str | None, typer.Option(help="The register then [kWh], if read.")] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record other CTs fitted from --at on (the ratio only: set the multiplier too if the register
    does not account for them).

    Example: meshmeter meter set-ct-ratio MM00000007 400:0.1 --at 2026-07-10
    """
    from meshmeter.cli.common import recorded_by
    from meshmeter.services import meterlife
    from meshmeter.store import Store

    try:
        value = _ratio(ct_ratio)
        with Store(database) as store:
            change = meterlife.change_ct_ratio(
                store,
                meter=serial,
                at=at,
                ct_ratio=value,
                read=read,
                by=recorded_by("meter set-ct-ratio"),
            )
            _show_changes(store, [change], as_json)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None


@meter_app.command("history")
def meter_history(
    serial: SerialArgument, database: DatabaseOption = None, as_json: JsonOption = False
) -> None:
    """A meter's life: installs, removals, exchanges, multiplier and CT ratio changes, by time.

    Example: meshmeter meter history MM00000007
    """
    from meshmeter.services import meterlife
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            _, changes = meterlife.history(store, meter=serial)
            _show_changes(store, changes, as_json)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
