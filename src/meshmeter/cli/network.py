"""``meshmeter network simulate`` (the wireless AMR mesh) and ``meshmeter cit`` (a stored site's report)."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Annotated, Any

import typer

from meshmeter.cli.common import DatabaseOption, JsonOption, bad_input, console
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
        table = Table(title="MDTs that cannot join")
        table.add_column("EUI-64")
        table.add_column("best RSSI")
        table.add_column("suggestion")
        for u in report.unjoined:
            table.add_row(u["eui64"], f"{u['best_rssi_dbm']:.1f} dBm", u["suggestion"])
        console.print(table)


def cit_command(
    site: Annotated[str | None, typer.Option(help="Site name; default the only site of the store.")] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The latest network report (Commissioning and Installation Tool, manual §5.2) of a stored site.

    Exit 0 when every device joined, 1 when MDTs or repeaters did not, 2 on bad input.

    Example: meshmeter cit --database sqlite:///meshmeter-demo.sqlite
    """
    from rich.table import Table

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
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    if stored is None:
        raise bad_input(f"site {chosen[0].name!r} has no network report: run meshmeter site simulate")
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
