"""``meshmeter source`` and ``meshmeter collect``: real meters' sources of a site, and the collector.

A source is how the head-end reaches real devices (an MQTT broker with pulse counters or rtlamr2mqtt, a
Modbus TCP or RTU meter, rtlamr's JSON lines); each of its channels maps one register of one device to one
meter (``docs/collect.md``).
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from typing import Annotated, Any

import typer

from meshmeter.cli.common import DatabaseOption, JsonOption, bad_input, console
from meshmeter.cli.tables import Column, local_time, meter_fields, print_json, print_table
from meshmeter.errors import MeshmeterError

source_app = typer.Typer(
    help="Sources of real readings: pulse counters on MQTT, Modbus/SunSpec meters, rtlamr.",
    no_args_is_help=True,
)


def _settings(pairs: list[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` pairs (:func:`meshmeter.services.sources.setting_pairs`)."""
    from meshmeter.services.sources import setting_pairs

    return setting_pairs(pairs or (), what="--setting takes")


def _site_id(store: Any, site: str) -> int:
    """A site by its id or its name."""
    for s in store.sites():
        if str(s.id) == site or s.name == site:
            return int(s.id)
    raise ValueError(f"--site {site!r} is not a site's id or name (meshmeter site list)")


@source_app.command("add")
def source_add(
    site: Annotated[str, typer.Option(help="The site: its id or name.")],
    name: Annotated[
        str, typer.Option(help="The source's name, unique in the site: tasmota-4a, sdm-house ...")
    ],
    kind: Annotated[str, typer.Option(help="mqtt, modbus_tcp, modbus_rtu or rtlamr.")],
    format: Annotated[
        str,
        typer.Option(
            help="mqtt: esphome_pulse_meter, esphome_pulse_counter, tasmota_counter, tasmota_energy, "
            "shelly_gen2, shelly_gen1 or rtlamr2mqtt; modbus: a register map (sunspec-meter, "
            "eastron-sdm630mct, wattnode-modbus ...) or a map file; rtlamr: rtlamr."
        ),
    ],
    address: Annotated[
        str,
        typer.Option(help="mqtt://host:port, host:port (Modbus TCP), a serial port, a file, or - (stdin)."),
    ],
    setting: Annotated[
        list[str] | None,
        typer.Option(
            help="KEY=VALUE, repeat: unit_id=1, baudrate=9600, poll_every_s=60, topic=..., timezone=..."
        ),
    ] = None,
    disabled: Annotated[bool, typer.Option(help="Add it disabled: collect does not run it.")] = False,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a source of real readings to a site; prints its id. Map its registers with `source map`.

    Refused (exit 2, every problem named, nothing stored): an unknown site or format, a bad address or
    setting, a name the site has already.

    Example: meshmeter source add --site "Oak Court" --name tasmota-4a --kind mqtt --format tasmota_counter
    --address mqtt://127.0.0.1:1883
    """
    from meshmeter.services.sources import add_source
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            made = add_source(
                store,
                site_id=_site_id(store, site),
                name=name,
                kind=kind,
                format=format,
                address=address,
                settings=_settings(setting),
                enabled=not disabled,
            )
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    typer.echo(json.dumps(_source_row(made, [], {})) if as_json else str(made.id))


@source_app.command("map")
def source_map(
    source: Annotated[str, typer.Argument(help="The source's name.")],
    site: Annotated[str, typer.Option(help="The site: its id or name.")],
    device: Annotated[
        str,
        typer.Option(help="The device's ID as the source names it: node, topic, unit ID, rtlamr meter ID."),
    ],
    channel: Annotated[
        str, typer.Option(help="The register: total, C1, switch:0, import, export, consumption.")
    ],
    meter: Annotated[
        str, typer.Option(help="Serial of the meter it feeds (an export register: its own meter).")
    ],
    unit: Annotated[str, typer.Option(help="pulse, count, Wh, kWh or MWh: what the device sends.")],
    wh_per_unit: Annotated[
        str | None,
        typer.Option(
            help='Energy of one pulse or count [Wh]: 10 for the Mini Meter\'s output "10" (manual §3.2).'
        ),
    ] = None,
    modulus: Annotated[
        str | None,
        typer.Option(help="The register rolls over at this many units (default from register digits)."),
    ] = None,
    msg_type: Annotated[
        str | None,
        typer.Option(help="rtlamr: the message type (SCM, SCM+, IDM, NetIDM, R900), for its wrap."),
    ] = None,
    resets: Annotated[
        bool | None, typer.Option(help="A drop of the count is a reboot (default: yes for pulse counters).")
    ] = None,
    max_apportion: Annotated[
        int, typer.Option(help="Longest time between readings spread over intervals [s]; longer is a gap.")
    ] = 3600,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Map one register of a source's device to a meter; prints the channel's id.

    Example: meshmeter source map tasmota-4a --site "Oak Court" --device unit4a --channel C1 --meter MM-4A
    --unit pulse --wh-per-unit 10
    """
    from meshmeter.services.sources import channel_defaults
    from meshmeter.store import Store

    spec: dict[str, Any] = {"unit": unit, "max_apportion_s": max_apportion}
    for key, value in (
        ("wh_per_unit", wh_per_unit),
        ("modulus", modulus),
        ("msg_type", msg_type),
        ("resets", resets),
    ):
        if value is not None:
            spec[key] = value
    try:
        with Store(database) as store:
            found = store.get_source(site_id=_site_id(store, site), name=source)
            if found is None:
                raise ValueError(
                    f"the site has no source named {source!r} (meshmeter source list --site {site})"
                )
            metered = store.get_meter(serial=meter)
            if metered is None:
                raise ValueError(f"--meter {meter!r} is not a known meter's serial")
            made = store.add_source_channel(
                source_id=found.id,
                device=device,
                channel=channel,
                meter_id=metered.id,
                **channel_defaults(found.kind, found.format, spec, metered.register_digits),
            )
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    typer.echo(json.dumps(_channel_row(made, meter)) if as_json else str(made.id))


def _channel_row(channel: Any, serial: str) -> dict[str, Any]:
    return {
        "id": channel.id,
        "device": channel.device,
        "channel": channel.channel,
        "meter": serial,
        "unit": channel.unit,
        "wh_per_unit": str(channel.wh_per_unit),
        "modulus": None if channel.modulus is None else str(channel.modulus),
        "resets": channel.resets,
        "max_apportion_s": channel.max_apportion_s,
    }


def _source_row(
    source: Any, channels: list[Any], serials: dict[int, str], state: str | None = None
) -> dict[str, Any]:
    return {
        "id": source.id,
        "site_id": source.site_id,
        "name": source.name,
        "kind": source.kind,
        "format": source.format,
        "address": source.address,
        "settings": source.settings,
        "enabled": source.enabled,
        "state": state,
        "last_reading_at": None if source.last_reading_at is None else source.last_reading_at.isoformat(),
        "readings": source.readings,
        "rejected": source.rejected,
        "last_error": source.last_error,
        "last_error_at": None if source.last_error_at is None else source.last_error_at.isoformat(),
        "channels": [_channel_row(c, serials.get(c.meter_id, "?")) for c in channels],
    }


@source_app.command("list")
def source_list(
    site: Annotated[str, typer.Option(help="The site: its id or name.")],
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The sources of a site: what each feeds, its last reading, what it refused and its health.

    Example: meshmeter source list --site "Oak Court"
    """
    import time

    from meshmeter.services.names import meter_names
    from meshmeter.services.sources import source_health
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            site_id = _site_id(store, site)
            where = store.get_site(site_id=site_id)
            health = source_health(store, site_id=site_id, now_s=time.time())
            names = {n.serial: n for n in meter_names(store, site_id=site_id).values()}
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    rows = [_source_row(h.source, h.channels, h.meters, h.state) for h in health]
    for row in rows:
        for channel in row["channels"]:
            channel["names"] = meter_fields(names.get(channel["meter"]))
    if as_json:
        print_json(rows)
        return
    timezone = None if where is None else where.timezone
    print_table(
        (
            Column("Source", lambda r: r["name"], long=True),
            Column("Feeds", _feeds, long=True),
            Column("State", lambda r: r["state"]),
            Column("Last reading", lambda r: local_time(r["last_reading_at"], timezone) or "never"),
            Column("Kind", lambda r: f"{r['kind']} {r['format']}", long=True),
            Column(
                "Refused", lambda r: ", ".join(f"{k} {n}" for k, n in sorted(r["rejected"].items())) or "0"
            ),
            Column("Last error", lambda r: r["last_error"], long=True),
        ),
        rows,
        empty=f'No source at {site}: add one with `meshmeter source add --site "{site}" ...` '
        "(see its --help).",
    )


def _feeds(row: dict[str, Any]) -> str:
    """What a source feeds, names first: ``Unit 101 (MM26000001, pulse/1)``."""
    feeds = [
        f"{c['names']['label'] or c['meter']} ({c['meter']}, {c['device']}/{c['channel']})"
        for c in row["channels"]
    ]
    return ", ".join(feeds) or "nothing mapped"


def collect_command(
    site: Annotated[
        str | None, typer.Option(help="Only this site's sources (its id or name); default every site's.")
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option(help="Only this source (by name); repeat it. Default every enabled one."),
    ] = None,
    seconds: Annotated[
        float | None, typer.Option("--for", help="Stop after this many seconds; default run until Ctrl-C.")
    ] = None,
    until_done: Annotated[
        bool, typer.Option(help="Stop when every rtlamr file or standard input has been read to its end.")
    ] = False,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the collector: read every source, store intervals on each meter's grid, keep its position.

    Killed at any moment and started again, it loses and doubles no interval. Prints, when it stops, each
    source's readings, refusals by reason and last error.

    Example: rtlamr -format=json -msgtype=scm,idm | meshmeter collect --site "Oak Court" --until-done
    """
    from meshmeter.collect.collector import Collector
    from meshmeter.collect.runner import CollectorRunner
    from meshmeter.store import Store

    stop = threading.Event()
    try:
        store = Store(database)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    try:
        site_id = None if site is None else _site_id(store, site)
        collector = Collector(store, site_id=site_id, source_names=source)
    except (ValueError, MeshmeterError) as exc:
        store.close()
        raise bad_input(str(exc)) from None
    if not collector.sources:
        store.close()
        raise bad_input("no source to run: add one with meshmeter source add, or enable it")
    runner = CollectorRunner(collector)
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        runner.start()
        if not runner.wait_connected(10.0):
            console.print("warning: an MQTT broker is not connected yet; retrying in the background")
        names = ", ".join(sorted(s.name for s in collector.sources.values()))
        console.print(f"collecting from {len(collector.sources)} source(s): {names} (Ctrl-C to stop)")
        sys.stdout.flush()
        if until_done:
            waits = [
                runner.finished.setdefault(s.id, threading.Event())
                for s in collector.sources.values()
                if s.kind == "rtlamr"
            ]
            for event in waits:
                while not event.wait(0.2) and not stop.is_set():
                    pass
        else:
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait(seconds)
    finally:
        runner.stop()
        signal.signal(signal.SIGTERM, previous)
    summary: list[dict[str, Any]] = [
        {
            "source": s.name,
            "readings": h.readings,
            "rejected": h.rejected,
            "last_error": h.last_error,
        }
        for s in collector.sources.values()
        if (h := store.get_source(source_id=s.id)) is not None
    ]
    store.close()
    if as_json:
        typer.echo(json.dumps(summary))
        return
    for row in summary:
        refused = ", ".join(f"{k} {n}" for k, n in sorted(row["rejected"].items())) or "none refused"
        console.print(f"{row['source']}: {row['readings']} readings; {refused}")
        if row["last_error"]:
            console.print(f"  last error: {row['last_error']}")
