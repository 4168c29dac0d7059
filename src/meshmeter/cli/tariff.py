"""``meshmeter tariff``: show what the engine reads from a URDB tariff; set and list each account's tariff.

``tariff show``: a person checks a tariff here before billing with it: the charges, the 12 × 24 weekday
and weekend period grids (months down, hours across), every period's tiers and rates, the descriptive
fields kept but not used, and, for a tariff the engine cannot apply, every problem at once (exit status 2).

``tariff set`` keeps an account's tariff from a date on, so that ``meshmeter bill --site S
--account-number N`` bills at it without ``--tariff``; ``tariff list`` shows each account of a site with
its tariff in force (:mod:`meshmeter.services.account_tariffs`, ``docs/billing.md``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from meshmeter.cli.common import TIME_HELP, DatabaseOption, JsonOption, bad_input, recorded_by
from meshmeter.errors import MeshmeterError, TariffError

if TYPE_CHECKING:
    from meshmeter.billing import Tariff, Tier

tariff_app = typer.Typer(
    help="URDB tariffs: show what the engine reads; set and list each account's tariff (docs/billing.md).",
    no_args_is_help=True,
)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def read_tariff(source: str, label: str | None, period_names: str | None) -> Tariff:
    """
    A tariff from the command line: a URDB JSON file or ``example:NAME``, a rate chosen by ``--label``,
    with ``--period-names`` merged into its ``meshmeter_period_names``.

    Raises
    ------
    ValueError
        An unreadable file, or a bad ``--period-names``.
    TariffError
        The choice of rate, or every problem of the rate.
    """
    from pathlib import Path

    from meshmeter.billing import example_tariff, load_tariff, parse_period_names

    names = None if period_names is None else parse_period_names(period_names)
    if source.startswith("example:"):
        if label is not None:
            raise ValueError("--label chooses a rate of a URDB file: the examples hold one rate each")
        return example_tariff(source.removeprefix("example:"), period_names=names)
    try:
        return load_tariff(Path(source), label=label, period_names=names)
    except OSError as exc:
        raise ValueError(f"cannot read tariff {source!r}: {exc.strerror}") from None


def read_document(source: str) -> Any:
    """
    A URDB document from a file, decoded as :func:`~meshmeter.billing.load_tariff` decodes it (a response
    kept as a JSON string of its text, too): what ``tariff set`` keeps exactly as given.

    Raises
    ------
    ValueError
        The file cannot be read, or is not JSON.
    """
    from pathlib import Path

    try:
        text = Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read tariff {source!r}: {exc.strerror}") from None
    try:
        document = json.loads(text)
        if isinstance(document, str):
            document = json.loads(document)
    except json.JSONDecodeError as exc:
        raise ValueError(f"tariff {source!r} is not JSON: {exc}") from None
    return document


def _number(value: Any) -> str:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if value != 0 else "0"
    return str(value)


def _date(value: Any) -> str | None:
    """A URDB date (seconds since 1970, or text) as ISO text; None when absent."""
    from datetime import UTC, datetime

    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).date().isoformat()
    return str(value)


def _tier_dict(tier: Tier) -> dict[str, Any]:
    out: dict[str, Any] = {
        "max": None if tier.max is None else _number(tier.max),
        "unit": tier.unit,
        "rate": _number(tier.rate),
    }
    if tier.sell:
        out["sell"] = _number(tier.sell)
    return out


def _periods(tariff: Tariff, kind: str, structure: Any) -> list[dict[str, Any]]:
    names = tariff.period_names.get(kind, {})
    return [
        {"period": p, "name": names.get(p), "tiers": [_tier_dict(t) for t in tiers]}
        for p, tiers in enumerate(structure)
    ]


def _grid(schedule: Any) -> list[list[int]] | None:
    return None if schedule is None else [[int(v) for v in row] for row in schedule]


def tariff_summary(tariff: Tariff) -> dict[str, Any]:
    """What the engine reads of a tariff, as JSON-ready data (``meshmeter tariff show --json``)."""
    doc = tariff.document
    ratchet: dict[str, Any] | None = None
    if tariff.has_ratchet:
        ratchet = {
            "demandratchetpercentage": None
            if tariff.ratchet_percent is None
            else [_number(v) for v in tariff.ratchet_percent],
            "lookbackpercent": _number(tariff.lookback_percent),
            "lookbackrange": tariff.lookback_range,
            "lookbackmonths": None if tariff.lookback_months is None else list(tariff.lookback_months),
            "months_looked_back": tariff.ratchet_months,
        }
    return {
        "name": tariff.name,
        "utility": tariff.utility,
        "label": tariff.label or None,
        "uri": doc.get("uri"),
        "sector": doc.get("sector"),
        "startdate": _date(doc.get("startdate")),
        "enddate": _date(doc.get("enddate")),
        "sha256": tariff.sha256,
        "charges": {
            "fixed": {"amount": _number(tariff.fixed_charge), "unit": tariff.fixed_charge_unit},
            "minimum": {"amount": _number(tariff.min_charge), "unit": tariff.min_charge_unit},
            "minimum_monthly": _number(tariff.min_monthly_charge),
            "annual_minimum": _number(tariff.annual_min_charge),
        },
        "demand_window_minutes": None if tariff.demand_window_s is None else tariff.demand_window_s // 60,
        "export_rule": tariff.export_rule,
        "ratchet": ratchet,
        "energy": {
            "periods": _periods(tariff, "energy", tariff.energy_tiers),
            "weekday": _grid(tariff.energy_weekday),
            "weekend": _grid(tariff.energy_weekend),
        },
        "demand": None
        if not tariff.demand_tiers
        else {
            "periods": _periods(tariff, "demand", tariff.demand_tiers),
            "weekday": _grid(tariff.demand_weekday),
            "weekend": _grid(tariff.demand_weekend),
        },
        "flat_demand": None
        if tariff.flat_demand_months is None
        else {
            "periods": _periods(tariff, "flat_demand", tariff.flat_demand_tiers),
            "months": [int(v) for v in tariff.flat_demand_months],
        },
        "coincident": None
        if tariff.coincident_schedule is None
        else {
            "periods": _periods(tariff, "coincident", tariff.coincident_tiers),
            "schedule": _grid(tariff.coincident_schedule),
        },
        "holidays": None
        if tariff.holidays is None
        else {
            "country": tariff.holidays.country,
            "subdivision": tariff.holidays.subdivision,
            "observed": tariff.holidays.observed,
            "names": list(tariff.holidays.names),
        },
        "ignored": [{"field": f, "reason": why} for f, why in tariff.ignored],
    }


def _tiers_text(tiers: list[dict[str, Any]]) -> str:
    if not tiers:
        return "no tiers (not scheduled)"
    parts = []
    low = "0"
    for k, t in enumerate(tiers):
        unit = t["unit"]
        per = {"kWh": "kWh/month", "kWh daily": "kWh/day", "kW": "kW"}.get(unit, unit)
        price = "kWh" if unit.startswith("kWh") else "kW"
        span = f"up to {t['max']} {per}" if t["max"] is not None else (f"above {low} {per}" if k else "all")
        text = f"{span} at {t['rate']} $/{price}"
        if "sell" in t:
            text += f" (sell {t['sell']})"
        parts.append(text if len(tiers) == 1 else f"tier {k + 1} {text}")
        low = t["max"] or low
    return "; ".join(parts)


def _grid_lines(title: str, grid: list[list[int]]) -> list[str]:
    width = max(2, max(len(str(v)) for row in grid for v in row))
    lines = [title, "       " + " ".join(f"{h:>{width}}" for h in range(24))]
    for m, row in enumerate(grid):
        lines.append(f"  {_MONTHS[m]}  " + " ".join(f"{v:>{width}}" for v in row))
    return lines


def _periods_lines(title: str, periods: list[dict[str, Any]]) -> list[str]:
    lines = [title]
    for p in periods:
        name = f" {p['name']}" if p["name"] else ""
        lines.append(f"  {p['period']}{name}: {_tiers_text(p['tiers'])}")
    return lines


def tariff_text(summary: dict[str, Any]) -> str:
    """The summary of :func:`tariff_summary` as text for people."""
    out = [
        f"Tariff    {summary['name']}",
        f"Utility   {summary['utility'] or '-'}",
        f"Label     {summary['label'] or '-'}",
    ]
    if summary["uri"]:
        out.append(f"URI       {summary['uri']}")
    out.append(f"Dates     start {summary['startdate'] or '-'}, end {summary['enddate'] or '-'}")
    out.append(f"Sector    {summary['sector'] or '-'}")
    out.append(f"SHA-256   {summary['sha256']}")
    out.append("")
    c = summary["charges"]
    out.append("Charges")
    out.append(f"  customer charge   {c['fixed']['amount']} {c['fixed']['unit']}")
    minimum = f"{c['minimum']['amount']} {c['minimum']['unit']}"
    if c["minimum_monthly"] != "0":
        minimum += f"; monthly minimum {c['minimum_monthly']} $/month"
    out.append(f"  minimum charge    {minimum}")
    out.append(f"  annual minimum    {c['annual_minimum']} $/year (on the bill that ends the year)")
    window = summary["demand_window_minutes"]
    out.append(
        f"  demand window     {f'{window} min (fixed clock windows)' if window else 'the meter interval'}"
    )
    out.append(f"  exports           {summary['export_rule']}")
    if summary["ratchet"]:
        r = summary["ratchet"]
        text = f"looks back {r['months_looked_back']} months"
        if r["lookbackpercent"] != "0":
            text += f"; lookbackpercent {r['lookbackpercent']}"
            text += f", range {r['lookbackrange']}" if r["lookbackrange"] else ""
            if r["lookbackmonths"]:
                text += ", months " + ",".join(
                    m for m, on in zip(_MONTHS, r["lookbackmonths"], strict=True) if on
                )
        if r["demandratchetpercentage"]:
            text += f"; demandratchetpercentage {', '.join(r['demandratchetpercentage'])}"
        out.append(f"  demand ratchet    {text}")
    if summary["holidays"]:
        h = summary["holidays"]
        names = ", ".join(h["names"]) or "all of the holidays package"
        where = h["country"] + (f"/{h['subdivision']}" if h["subdivision"] else "")
        out.append(
            f"  holidays          {where}{' observed' if h['observed'] else ''}: {names} (weekend schedule)"
        )
    out.append("")
    out.append("Periods are numbered from 0 as in the document's schedules; a bill prints period N as N+1")
    out.append("unless the period has a name.")
    out.append("")
    e = summary["energy"]
    out += _periods_lines("Energy periods", e["periods"])
    out += _grid_lines("Energy weekday schedule (months down, local hours across)", e["weekday"])
    out += _grid_lines("Energy weekend and holiday schedule", e["weekend"])
    if summary["demand"]:
        d = summary["demand"]
        out.append("")
        out += _periods_lines("Demand periods (time of use)", d["periods"])
        out += _grid_lines("Demand weekday schedule", d["weekday"])
        out += _grid_lines("Demand weekend and holiday schedule", d["weekend"])
    if summary["flat_demand"]:
        f = summary["flat_demand"]
        out.append("")
        out += _periods_lines("Flat demand periods (all hours)", f["periods"])
        out.append("  by month: " + " ".join(f"{m} {v}" for m, v in zip(_MONTHS, f["months"], strict=True)))
    if summary["coincident"]:
        co = summary["coincident"]
        out.append("")
        out += _periods_lines("Coincident demand periods (the meter's own demand in them)", co["periods"])
        out += _grid_lines("Coincident schedule (every day)", co["schedule"])
    out.append("")
    if summary["ignored"]:
        out.append("Kept, not applied to the charges")
        width = max(len(i["field"]) for i in summary["ignored"])
        out += [f"  {i['field']:<{width}}  {i['reason']}" for i in summary["ignored"]]
    else:
        out.append("Kept, not applied to the charges: nothing")
    return "\n".join(out)


@tariff_app.command("show")
def show_command(
    file: Annotated[str, typer.Argument(help="URDB tariff JSON file, or example:e-tou-c-example.")],
    label: Annotated[
        str | None, typer.Option(help="The rate's URDB label, when the file holds several rates.")
    ] = None,
    period_names: Annotated[
        str | None,
        typer.Option(help="Period names, e.g. 0=peak,1=off-peak,demand:0=on-peak (0-based periods)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show what the tariff engine reads from a URDB tariff, and what it ignores or refuses.

    The charges, the 12 x 24 weekday and weekend period grids for energy and demand (months
    down, hours across), each period's tiers and rates, and the fields kept but not applied.
    A tariff the engine cannot apply is refused with every problem named (exit status 2);
    with --json its problems are also printed as JSON.

    Examples:

    meshmeter tariff show tariff.json

    meshmeter tariff show urdb-response.json --label 5cef0a415457a33576f60fe2 --json

    meshmeter tariff show example:e-tou-c-example --period-names 0=summer-peak,1=summer-off-peak
    """
    try:
        tariff = read_tariff(file, label, period_names)
    except TariffError as exc:
        if as_json:
            problems = [{"field": f, "problem": d} for f, d in exc.problems]
            typer.echo(json.dumps({"refused": True, "problems": problems}, indent=2, ensure_ascii=False))
        raise bad_input(str(exc)) from None
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    summary = tariff_summary(tariff)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        typer.echo(tariff_text(summary))


def _find_site(store: Any, name: str) -> Any:
    from meshmeter.services.billing import find_site

    return find_site(store, name)


def tariff_setting_dict(setting: Any, timezone: str) -> dict[str, Any]:
    """A stored tariff setting as ``--json`` prints it (the document itself left out)."""
    from meshmeter.cli.tables import local_time

    return {
        "id": setting.id,
        "account_id": setting.account_id,
        "name": setting.name,
        "label": setting.label,
        "period_names": setting.period_names,
        "sha256": setting.sha256,
        "effective_from": setting.effective_from.isoformat(),
        "effective_from_local": local_time(setting.effective_from, timezone),
        "set_by": setting.set_by,
        "set_at": setting.set_at.isoformat(),
    }


@tariff_app.command("set")
def set_command(
    site: Annotated[str, typer.Option(help="The site's name.")],
    account_number: Annotated[str, typer.Option(help="The account's number at the site.")],
    tariff: Annotated[
        str | None, typer.Option(help="URDB tariff JSON file: one rate, a list, or the API's {items: [...]}.")
    ] = None,
    example: Annotated[
        str | None, typer.Option(help="An example tariff instead: e-tou-c-example or tiered-flat-example.")
    ] = None,
    label: Annotated[
        str | None, typer.Option(help="The rate's URDB label, when the file holds several rates.")
    ] = None,
    period_names: Annotated[
        str | None,
        typer.Option(help="Period names, e.g. 0=peak,1=off-peak,demand:0=on-peak (0-based periods)."),
    ] = None,
    effective: Annotated[
        str | None,
        typer.Option(
            "--from",
            help=f"In force from: {TIME_HELP}; default from the account's start (its opening or first "
            "move-in, the earlier) for its first tariff, else now.",
        ),
    ] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set an account's tariff from a date on; bills of later periods use it without --tariff.

    The rate is read by the same parser as meshmeter bill --tariff and refused (exit 2)
    naming every problem: an unknown or closed account, a file that is not a rate the
    engine can apply, a label not in it, a date that is not one. Nothing is stored then.
    Every setting is kept: meshmeter tariff list shows the one in force.

    Examples:

    meshmeter tariff set --site "Oak Court" --account-number 1001 --example e-tou-c-example

    meshmeter tariff set --site "Oak Court" --account-number 1002 --tariff urdb.json
    --label 5cef0a415457a33576f60fe2 --from 2026-07-01
    """
    from meshmeter.services.account_tariffs import set_tariff
    from meshmeter.services.billing import find_account
    from meshmeter.store import Store

    try:
        problems = []
        if (tariff is None) == (example is None):
            problems.append("give one of --tariff FILE and --example NAME")
        if example is not None and label is not None:
            problems.append("--label chooses a rate of a URDB file: the examples hold one rate each")
        if problems:
            raise ValueError("; ".join(problems))
        document = None if tariff is None else read_document(tariff)
        with Store(database) as store:
            where = _find_site(store, site)
            account = find_account(store, where, account_number)
            setting = set_tariff(
                store,
                account_id=account.id,
                document=document,
                example=example,
                label=label,
                period_names=period_names,
                effective=effective,
                by=recorded_by("tariff set"),
            )
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    data = tariff_setting_dict(setting, where.timezone)
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    typer.echo(
        f"account {account.number}: tariff {setting.name!r} from {data['effective_from_local']} "
        f"(SHA-256 {setting.sha256[:12]}...)"
    )


@tariff_app.command("list")
def list_command(
    site: Annotated[str, typer.Option(help="The site's name.")],
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """List each account of a site with its tariff in force now and since when, names first.

    Example: meshmeter tariff list --site "Oak Court"
    """
    from datetime import UTC, datetime

    from meshmeter.cli.tables import Column, key, print_json, print_table
    from meshmeter.services.account_tariffs import account_tariff_lines
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            where = _find_site(store, site)
            lines = account_tariff_lines(store, site_id=where.id, at=datetime.now(UTC))
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    rows = [
        {
            "unit": line.unit,
            "tenant": line.tenant,
            "account": line.account.number,
            "account_id": line.account.id,
            "closed": line.closed,
            "tariff": None if line.in_force is None else tariff_setting_dict(line.in_force, where.timezone),
            "settings": len(line.history),
        }
        for line in lines
    ]
    if as_json:
        print_json(rows)
        return

    def shown(row: dict[str, Any]) -> str:
        if row["tariff"] is None:
            return "none set" + (" (closed)" if row["closed"] else "")
        return str(row["tariff"]["name"])

    columns = (
        Column("Unit", key("unit")),
        Column("Tenant", key("tenant"), long=True),
        Column("Account", key("account")),
        Column("Tariff", shown, long=True),
        Column("Since", lambda r: None if r["tariff"] is None else r["tariff"]["effective_from_local"]),
    )
    print_table(
        columns,
        rows,
        title=f"{where.name}: the tariff of each account in force now",
        empty=f"Site {where.name!r} has no account yet: open one with `meshmeter account create`.",
    )
