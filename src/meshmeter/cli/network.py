"""``meshmeter network simulate`` (the wireless AMR mesh) and ``meshmeter cit`` (a stored site's report)."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from meshmeter.cli.common import DatabaseOption, JsonOption, bad_input, console
from meshmeter.cli.tables import Column, key, print_json, print_table
from meshmeter.errors import MeshmeterError

if TYPE_CHECKING:
    from meshmeter.amr.network import Outage, RepeaterFailure

network_app = typer.Typer(
    help="Simulate the wireless AMR mesh (MDTs, repeaters, DCAP).", no_args_is_help=True
)


def _parse_outage(text: str) -> Outage:
    """``dcap:START+HOURS``: the DCAP unreachable from hour START for HOURS hours."""
    from meshmeter.amr.network import Outage

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
    from meshmeter.amr.network import RepeaterFailure

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
        raise bad_input(str(exc)) from None
    report = run.report
    if as_json:
        data = report.to_dict()
        data["setup_s"] = run.setup_s
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    _print_network(report, run.setup_s)


def _print_network(report: Any, setup_s: float) -> None:
    from rich.table import Table

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
        console.print("MDTs that cannot join:")
        print_table(
            (
                Column("MDT", key("eui64")),
                Column("Best RSSI", lambda u: f"{u['best_rssi_dbm']:.1f} dBm", justify="right"),
                Column("Suggestion", key("suggestion"), long=True),
            ),
            list(report.unjoined),
            empty="",
        )


def cit_command(
    site: Annotated[str | None, typer.Option(help="Site name; default the only site of the store.")] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The latest network report (Commissioning and Installation Tool, manual §5.2) of a stored site.

    Each device by name: an MDT by the meter and unit it serves (with the tenant there now), a repeater
    and the DCAP by their site-file names; the EUI-64 last. Exit 0 when every device joined, 1 when MDTs
    or repeaters did not, 2 on bad input.

    Example: meshmeter cit --database sqlite:///meshmeter-demo.sqlite
    """
    from datetime import UTC, datetime

    from meshmeter.amr.cit import DeviceRow
    from meshmeter.services.device_names import device_names, named_suggestion, served_meters
    from meshmeter.services.names import meter_names
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            sites = store.sites()
            names = ", ".join(s.name for s in sites)
            if site is not None:
                chosen = [s for s in sites if s.name == site]
                if not chosen:
                    raise ValueError(f"site {site!r} is not in the store; its sites: {names or 'none'}")
            elif not sites:
                raise ValueError(
                    "the store has no site: add one with `meshmeter site add` (or try `meshmeter demo`)"
                )
            elif len(sites) != 1:
                raise ValueError(f"the store has {len(sites)} sites ({names}); name one with --site")
            else:
                chosen = sites
            stored = store.latest_network_report(site=chosen[0].id)
            devices: dict[str, Any] = {}
            if stored is not None:
                try:
                    rows = [DeviceRow(**d) for d in stored.report["devices"]]
                except (KeyError, TypeError) as exc:
                    raise ValueError(
                        f"the network report stored at {stored.taken_at.isoformat()} cannot be read ({exc}): "
                        "run meshmeter site simulate again"
                    ) from None
                meters = meter_names(store, site_id=chosen[0].id, at=datetime.now(UTC))
                devices = device_names(rows, served_meters(store, rows, meters), store.events(kind="install"))
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    if stored is None:
        raise bad_input(f"site {chosen[0].name!r} has no network report: run meshmeter site simulate")
    data = stored.report
    healthy = data["joined_mdts"] == data["mdts"] and data["joined_repeaters"] == data["repeaters"]
    rows_out = [_cit_row(d, devices) for d in data["devices"]]
    unjoined = [{**u, "suggestion": named_suggestion(u["suggestion"], devices)} for u in data["unjoined"]]
    if as_json:
        print_json(
            {
                "site": chosen[0].name,
                "taken_at": stored.taken_at.isoformat(),
                **data,
                "devices": rows_out,
                "unjoined": unjoined,
            }
        )
    else:
        _print_cit(chosen[0], stored.taken_at, data, rows_out, unjoined)
    if not healthy:
        raise typer.Exit(code=1)


def _cit_row(d: dict[str, Any], devices: dict[str, Any]) -> dict[str, Any]:
    """A device row of the stored report with its name, and for an MDT the meter, unit, tenant and
    account it serves (None where there is none)."""
    named = devices.get(d["eui64"])
    meter = None if named is None else named.meter
    parent = None if d["parent"] is None else devices.get(d["parent"])
    return {
        "name": d["eui64"] if named is None else named.label,
        "parent_name": None if d["parent"] is None else (d["parent"] if parent is None else parent.label),
        "meter": None if meter is None else meter.serial,
        "unit": None if meter is None else meter.unit,
        "tenant": None if meter is None else meter.tenant,
        "account": None if meter is None else meter.account,
        "occupant": None if meter is None else meter.occupant,
        **d,
    }


_CIT_COLUMNS = (
    Column("Device", key("name"), long=True),
    Column("Tenant", key("occupant"), long=True),
    Column("State", key("state")),
    Column("Parent", key("parent_name"), long=True),
    Column("Hops", key("hops"), justify="right"),
    Column("RSSI", lambda d: None if d["rssi_dbm"] is None else f"{d['rssi_dbm']:.1f}", justify="right"),
    Column("Lost", key("lost"), justify="right"),
    Column("EUI-64", key("eui64")),
)
"""The CIT table: the device's name, who lives where it serves, its link, then its EUI-64 (``--json``
has every figure of the report, the meter's serial, LQI, frames sent and retried too)."""


def _print_cit(
    where: Any,
    taken_at: Any,
    data: dict[str, Any],
    rows: list[dict[str, Any]],
    unjoined: list[dict[str, Any]],
) -> None:
    from meshmeter.intervals import zone

    local = taken_at.astimezone(zone(where.timezone))
    print_table(
        _CIT_COLUMNS,
        rows,
        title=f"{where.name}: CIT report taken {local:%Y-%m-%d %H:%M %Z} (RSSI in dBm)",
        empty=f"The network report of {where.name} lists no device: run meshmeter site simulate.",
    )
    console.print(
        f"MDTs joined {data['joined_mdts']} of {data['mdts']}, repeaters {data['joined_repeaters']} of "
        f"{data['repeaters']}; delivered {data['delivered']:,} of {data['intervals_due']:,} intervals "
        f"({data['delivery_ratio']:.3%}), on time {data['on_time_ratio']:.3%}",
        soft_wrap=False,
    )
    named = {r["eui64"]: r["name"] for r in rows}
    for u in unjoined:
        console.print(
            f"[yellow]cannot join:[/] {escape(named.get(u['eui64'], u['eui64']))}: {escape(u['suggestion'])}"
        )
