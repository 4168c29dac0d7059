"""``meshmeter bill`` (California re-rating, Maryland allocation) and ``meshmeter production`` (CSI PBI).

The bills of stored meters and sites come from ``meshmeter.services.billing``; the production report
reads a stored meter's validated view through the same service.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from meshmeter.cli.common import TIME_HELP, DatabaseOption, bad_input, console, parse_time
from meshmeter.errors import MeshmeterError


def _file_zone(timezone: str | None) -> str:
    """The zone an interval CSV is read in: --timezone, which a file needs (checked, IANA name)."""
    from meshmeter.intervals import zone

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


def bill_command(
    start: Annotated[str, typer.Option(help=f"Start: {TIME_HELP}.")],
    end: Annotated[str, typer.Option(help=f"End: {TIME_HELP}.")],
    tariff: Annotated[
        str | None,
        typer.Option(
            help="URDB tariff JSON file, or example:e-tou-c-example / example:tiered-flat-example "
            "(california mode); with --site's accounts, default each account's stored tariff "
            "(meshmeter tariff set)."
        ),
    ] = None,
    label: Annotated[
        str | None, typer.Option(help="The rate's URDB label, when the tariff file holds several rates.")
    ] = None,
    period_names: Annotated[
        str | None,
        typer.Option(help="Period names for the bill lines, e.g. 0=peak,1=off-peak,demand:0=on-peak."),
    ] = None,
    mode: Annotated[
        str,
        typer.Option(help="california (re-rate one meter at --tariff) or maryland (share a master bill)."),
    ] = "california",
    site_name: Annotated[
        str | None,
        typer.Option(
            "--site",
            help="Site name: bill its stored accounts (--account-number, --all-accounts), or share its "
            "master bill (--mode maryland).",
        ),
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
    account_number: Annotated[
        str | None,
        typer.Option(help="Bill this stored account of --site: its tenant, tenures and meters (prorated)."),
    ] = None,
    all_accounts: Annotated[
        bool, typer.Option("--all-accounts", help="Bill every account of --site in service in the period.")
    ] = False,
    move_in: Annotated[str | None, typer.Option(help=f"Move-in (prorates): {TIME_HELP}.")] = None,
    move_out: Annotated[str | None, typer.Option(help=f"Move-out (prorates): {TIME_HELP}.")] = None,
    opening_read_wh: Annotated[
        int | None, typer.Option(help="Opening register read [Wh]; default the store's read at start.")
    ] = None,
    true_up: Annotated[
        bool,
        typer.Option(
            "--true-up", help="With --meter: this is the account's true-up bill; the credit left is settled."
        ),
    ] = False,
    true_up_rate: Annotated[
        str | None,
        typer.Option(help="Net metering true-up: price of a kWh of credit left [USD/kWh]; 0: it expires."),
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
            "--save",
            help="Store the bill with its inputs (with --meter or a --site's accounts; maryland: each "
            "unit's); idempotent.",
        ),
    ] = False,
) -> None:
    """Bill a meter at a tariff (California re-rating), or share a site's master bill (Maryland).

    California re-rating (PU Code §739.5, the default --mode california) bills one meter at
    --tariff, or a --site's stored accounts (--account-number N, --all-accounts): one bill per
    tenure, under the tenant's name, prorated by the stored move-in and move-out, at --tariff
    or else at each account's stored tariff in force at the period's end. Maryland
    allocation (--mode maryland) shares the --master-total of a --site among the accounts of its
    meters by kWh, plus --admin-fee per unit; docs/billing.md.

    Examples:

    meshmeter bill --tariff example:e-tou-c-example --intervals july.csv --start 2026-07-01
    --end 2026-08-01 --timezone America/Los_Angeles

    meshmeter bill --tariff tariff.json --meter MM00000007 --start 2026-07-01 --end 2026-08-01 --json

    meshmeter bill --tariff tariff.json --meter MM00000007 --start 2026-07-01 --end 2026-08-01
    --move-out 2026-07-16 --format pdf -o bill.pdf

    meshmeter bill --tariff tariff.json --meter MM00000007 --start 2026-07-01 --end 2026-08-01 --save

    meshmeter bill --site "Oak Court" --account-number 1001 --tariff tariff.json --start 2026-07-01
    --end 2026-08-01 --save

    meshmeter bill --site "Oak Court" --all-accounts --start 2026-07-01 --end 2026-08-01 --save
    (each account at its stored tariff: meshmeter tariff set)

    meshmeter bill --site "Oak Court" --all-accounts --tariff tariff.json --start 2026-07-01
    --end 2026-08-01 --format pdf -o bills-2026-07

    meshmeter bill --mode maryland --site "Oak Court" --master-total 1234.56 --admin-fee 3.50
    --start 2026-07-01 --end 2026-08-01 --save
    """
    import warnings
    from pathlib import Path

    from meshmeter.billing import (
        Tenant,
        bill_meter,
        bill_to_html,
        bill_to_json,
        bill_to_pdf,
        bills_to_csv,
    )
    from meshmeter.cli.tariff import read_tariff

    fmt = "json" if as_json else bill_format
    if mode != "california":
        others = {
            "--tariff": tariff, "--intervals": intervals, "--meter": meter, "--account": account,
            "--move-in": move_in, "--move-out": move_out, "--opening-read-wh": opening_read_wh,
            "--label": label, "--period-names": period_names, "--account-number": account_number,
            "--all-accounts": True if all_accounts else None, "--true-up": True if true_up else None,
            "--true-up-rate": true_up_rate,
        }  # fmt: skip
        _bill_maryland(
            mode, site_name, master_total, admin_fee, start, end, timezone, fmt, output, database, save,
            others,
        )  # fmt: skip
        return
    if account_number is not None or all_accounts:
        others = {
            "--intervals": intervals, "--meter": meter, "--account": account, "--move-in": move_in,
            "--move-out": move_out, "--opening-read-wh": opening_read_wh, "--master-total": master_total,
            "--admin-fee": admin_fee, "--true-up": True if true_up else None, "--true-up-rate": true_up_rate,
        }  # fmt: skip
        _bill_accounts(
            site_name, account_number, all_accounts, tariff, label, period_names, start, end, timezone, fmt,
            output, database, save, others,
        )  # fmt: skip
        return
    try:
        if fmt not in ("text", "json", "csv", "html", "pdf"):
            raise ValueError(f"format must be text, json, csv, html or pdf, got {fmt!r}")
        if fmt == "pdf" and output is None:
            raise ValueError("--format pdf needs --output FILE")
        if site_name is not None and intervals is not None:
            raise ValueError("--site bills a site's accounts from the store: it does not go with --intervals")
        if site_name is not None:
            raise ValueError(
                "--site goes with --account-number N or --all-accounts (bill stored accounts), "
                "or with --mode maryland"
            )
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
        problems = []
        if (true_up or true_up_rate is not None) and meter is None:
            problems.append("--true-up and --true-up-rate settle a stored meter's credit: they need --meter")
        if true_up_rate is not None and not true_up:
            problems.append(
                "--true-up-rate goes with --true-up (the price of the credit left at the true-up)"
            )
        sell_rate = None
        if true_up_rate is not None:
            try:
                sell_rate = _usd("--true-up-rate", true_up_rate)
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))
        rate = read_tariff(tariff, label, period_names)

        def tenant_in(tz: str) -> Tenant | None:
            if account is None and move_in is None and move_out is None:
                return None
            return Tenant(
                account or serial,
                None if move_in is None else parse_time("--move-in", move_in, tz),
                None if move_out is None else parse_time("--move-out", move_out, tz),
            )

        with warnings.catch_warnings(record=True) as seen:
            # The engine warns where a bill lacks history it needs (a ratchet's earlier peaks, the year's
            # charges for an annual minimum): said on stderr, as the bill is still made.
            warnings.simplefilter("always", UserWarning)
            if intervals is not None:
                timezone = _file_zone(timezone)
                t0, t1 = parse_time("--start", start, timezone), parse_time("--end", end, timezone)
                ends, energy, quality = _read_intervals(intervals)
                serial = Path(intervals).stem
                bill = bill_meter(
                    rate, ends, energy, quality, start=t0, end=t1, timezone=timezone, meter=serial,
                    tenant=tenant_in(timezone), opening_read_wh=opening_read_wh,
                )  # fmt: skip
            else:
                from meshmeter.billing.reproduce import rebill
                from meshmeter.services.billing import (
                    bill_meter_as_occupied,
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
                    t0, t1 = parse_time("--start", start, timezone), parse_time("--end", end, timezone)
                    given = tenant_in(timezone)
                    if given is None:  # as the store says the meter was occupied (docs/billing.md)
                        bill, served = bill_meter_as_occupied(
                            store, meter=found, tariff=rate, start=t0, end=t1, timezone=timezone,
                            opening_read_wh=opening_read_wh, true_up=true_up, true_up_sell_rate=sell_rate,
                        )  # fmt: skip
                        _say_occupied(store, found, served)
                    else:
                        bill = bill_meter_from_store(
                            store, meter=found, tariff=rate, start=t0, end=t1, timezone=timezone,
                            tenant=given, opening_read_wh=opening_read_wh, true_up=true_up,
                            true_up_sell_rate=sell_rate,
                        )  # fmt: skip
                    if save:
                        saved, new = save_meter_bill(store, bill, found)
                        bill = rebill(saved.document)  # as stored: with lines carried from corrections
                        typer.echo(f"{'saved as' if new else 'already stored as'} bill {saved.id}", err=True)
        for w in seen:
            typer.echo(f"warning: {w.message}", err=True)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
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
    _emit(data, output)


def _emit(data: bytes, output: Any) -> None:
    """A bill or a run of bills: to ``output`` as written, else to standard output ending with a newline."""
    import sys
    from pathlib import Path

    if output is None:
        sys.stdout.buffer.write(data if data.endswith(b"\n") else data + b"\n")
        sys.stdout.flush()
    else:
        Path(output).write_bytes(data)


def _say_occupied(store: Any, meter: Any, served: list[Any]) -> None:
    """On stderr: a meter's bill where several accounts were in service, and how to bill each."""

    def named(o: Any) -> str:
        account = store.get_account(account_id=o.account_id)
        person = store.get_tenant(tenant_id=o.tenant_id)
        number = "?" if account is None else account.number
        return f"{number} ({'?' if person is None else person.name}, unit {o.unit})"

    if len(served) > 1:  # one: the bill names the tenant and the account; nothing to say
        site = None if meter.site_id is None else store.get_site(site_id=meter.site_id)
        where = "--site NAME" if site is None else f"--site {json.dumps(site.name)}"
        typer.echo(
            f"warning: {len(served)} accounts were in service on meter {meter.serial} in the period: "
            f"{', '.join(named(o) for o in served)}; this is the meter's whole bill under its serial: "
            f"bill them with {where} --account-number N or --all-accounts",
            err=True,
        )


def _bill_accounts(
    site_name: str | None,
    account_number: str | None,
    all_accounts: bool,
    tariff: str | None,
    label: str | None,
    period_names: str | None,
    start: str,
    end: str,
    timezone: str | None,
    fmt: str,
    output: str | None,
    database: str | None,
    save: bool,
    others: Mapping[str, object],
) -> None:
    """``meshmeter bill --site S --account-number N | --all-accounts``: stored accounts, a bill per tenure."""
    import warnings
    from pathlib import Path

    from meshmeter.billing import bill_to_html, bill_to_pdf, bills_to_csv
    from meshmeter.billing.reproduce import rebill
    from meshmeter.cli.tariff import read_tariff
    from meshmeter.intervals import zone
    from meshmeter.services.account_tariffs import MissingTariffError
    from meshmeter.services.billing import (
        bill_account_from_store,
        bill_site_accounts,
        find_account,
        find_site,
        save_account_bill,
    )
    from meshmeter.store import Store

    try:
        problems = [
            f"{flag} does not go with --account-number/--all-accounts: they bill stored accounts of a --site"
            for flag, value in others.items()
            if value is not None
        ]
        if account_number is not None and all_accounts:
            problems.append("give one of --account-number N and --all-accounts, not both")
        if site_name is None:
            problems.append("--account-number and --all-accounts need --site NAME (the accounts' site)")
        if tariff is None and (label is not None or period_names is not None):
            problems.append(
                "--label and --period-names go with --tariff: without it each account is billed at its "
                "own stored tariff (meshmeter tariff set)"
            )
        if fmt not in ("text", "json", "csv", "html", "pdf"):
            problems.append(f"format must be text, json, csv, html or pdf, got {fmt!r}")
        elif fmt in ("html", "pdf") and output is None:
            problems.append(
                f"--format {fmt} needs --output: a FILE with --account-number, "
                "a DIRECTORY with --all-accounts"
            )
        if problems:
            raise ValueError("; ".join(problems))
        assert site_name is not None
        rate = None if tariff is None else read_tariff(tariff, label, period_names)
        made: list[tuple[Any, Any]] = []  # (account, bill)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", UserWarning)
            with Store(database) as store:
                site = find_site(store, site_name)
                tz = site.timezone if timezone is None else timezone
                zone(tz)
                t0, t1 = parse_time("--start", start, tz), parse_time("--end", end, tz)
                if account_number is not None:
                    account = find_account(store, site, account_number)
                    bills = bill_account_from_store(
                        store, account=account, tariff=rate, start=t0, end=t1, timezone=tz
                    )
                    made = [(account, b) for b in bills]
                else:
                    made = [
                        (a, b)
                        for a, bills in bill_site_accounts(
                            store, site=site, tariff=rate, start=t0, end=t1, timezone=tz
                        )
                        for b in bills
                    ]
                if save:  # every bill made first: a refused run stores nothing
                    kept = []
                    for a, b in made:
                        saved, new = save_account_bill(store, b, a)
                        kept.append((a, rebill(saved.document)))
                        said = "saved as" if new else "already stored as"
                        typer.echo(f"account {a.number}: {said} bill {saved.id}", err=True)
                    made = kept
        for w in seen:
            typer.echo(f"warning: {w.message}", err=True)
        bills = [b for _, b in made]
        if fmt in ("html", "pdf"):
            assert output is not None
            for path, bill in _bill_files(Path(output), made, fmt, all_accounts):
                data = bill_to_html(bill).encode("utf-8") if fmt == "html" else bill_to_pdf(bill)
                try:
                    path.write_bytes(data)
                except OSError as exc:
                    raise ValueError(f"cannot write {str(path)!r}: {exc.strerror}") from None
                typer.echo(f"{bill.statement.account_number if bill.statement else ''} {path}".strip())
            return
    except MissingTariffError as exc:
        first = exc.accounts[0].number if exc.accounts else "N"
        raise bad_input(
            f"{exc}; e.g. meshmeter tariff set --site {json.dumps(site_name)} --account-number {first} "
            "--example e-tou-c-example (or --tariff FILE)"
        ) from None
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    if fmt == "text":
        for bill in bills:
            _print_bill(bill)
        return
    if fmt == "json":
        text = json.dumps(
            {
                "mode": "california",
                "site": site_name,
                "start": t0.isoformat(),
                "end": t1.isoformat(),
                "timezone": tz,
                "bills": [b.to_dict() for b in bills],
            },
            indent=2,
            ensure_ascii=False,
        )
    else:
        text = bills_to_csv(bills)
    _emit(text.encode("utf-8"), output)


def _bill_files(output: Any, made: list[tuple[Any, Any]], fmt: str, directory: bool) -> list[tuple[Any, Any]]:
    """
    Where each bill is written: with ``directory`` (--all-accounts) one file per bill in that directory
    (made if absent), ``<account number>-<unit>.<fmt>``; else the file given, or, for an account with
    several tenures in the period (a transfer), that file's name with ``-<unit>`` added for each.
    """
    import re

    def unit_of(bill: Any) -> str:
        unit = bill.statement.unit if bill.statement is not None and bill.statement.unit else bill.meter
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(unit)).strip("._") or "unit"

    if directory:
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"cannot make the directory {str(output)!r}: {exc.strerror}") from None
        names = [f"{a.number}-{unit_of(b)}" for a, b in made]
        return [
            (output / f"{name}{'' if names.count(name) == 1 else f'-{k + 1}'}.{fmt}", b)
            for k, (name, (_, b)) in enumerate(zip(names, made, strict=True))
        ]
    if output.is_dir():
        raise ValueError(f"--output {str(output)!r} is a directory: give a file with --account-number")
    if len(made) == 1:
        return [(output, made[0][1])]
    return [(output.with_name(f"{output.stem}-{unit_of(b)}{output.suffix}"), b) for _, b in made]


def _print_bill(bill: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from meshmeter.billing import printed, shown_lines, shown_quantity, shown_rate

    table = Table(title=f"{bill.account}  meter {bill.meter}  {bill.tariff_name}")
    for col in ("charge", "quantity", "unit", "rate", "amount [USD]"):
        table.add_column(col, justify="left" if col in ("charge", "unit") else "right")
    # Lines at a zero rate are not printed (their amount is zero); quantities are rounded for people.
    for line in shown_lines(bill):
        table.add_row(
            escape(line.description), shown_quantity(line), line.unit, shown_rate(line),
            f"{printed(line.amount):,.2f}",
        )  # fmt: skip
    table.add_row("Total", "", "", "", f"{bill.printed_total:,.2f}")
    console.print(table)
    console.print(
        f"energy billed {bill.energy_wh / 1000:.3f} kWh; estimated {bill.estimated_wh / 1000:.3f} kWh "
        f"({float(bill.estimated_share) * 100:.1f} %); intervals not billed {bill.unbilled_intervals}"
    )
    _print_exports(bill)
    _print_meter_life(bill)


def _print_exports(bill: Any) -> None:
    """What a meter that exports sent to the grid in the billed intervals, and the credit carried in and
    out (docs/billing.md, "Exports from the store"); nothing for a meter that does not export."""
    import numpy as np

    from meshmeter.intervals import BILLED_QUALITIES

    inputs = bill.inputs
    if inputs.get("export_wh") is not None:
        ends, _, quality = bill.interval_columns
        lo, hi = bill.service_start.timestamp(), bill.service_end.timestamp()
        billed = np.isin(quality, sorted(BILLED_QUALITIES)) & (ends > lo) & (ends <= hi)
        column = inputs["export_wh"]
        values = column.tolist() if hasattr(column, "tolist") else column
        exported = int(np.asarray(values, dtype=np.int64)[billed].sum())
        console.print(f"energy exported {exported / 1000:.3f} kWh")

    def kwh(values: Any) -> str:
        return ", ".join(f"{int(v) / 1000:.3f}" for v in values) + " kWh by period"

    if inputs.get("credit_in_wh") is not None:
        console.print(f"net metering credit carried in {kwh(inputs['credit_in_wh'])}")
    if inputs.get("credit_in") is not None:
        console.print(f"net billing credit carried in {inputs['credit_in']} USD")
    if inputs.get("true_up") is True:
        rate = inputs.get("true_up_sell_rate")
        console.print(
            "true-up bill: the credit left is settled" + ("" if rate is None else f" at {rate} USD/kWh")
        )
    if bill.credit_out_wh is not None:
        console.print(f"net metering credit carried to the next bill {kwh(bill.credit_out_wh)}")
    if bill.credit_out is not None:
        console.print(f"net billing credit carried to the next bill {bill.credit_out} USD")


def _print_meter_life(bill: Any) -> None:
    """The reads of each meter that served the period, and what changed in their life (docs/billing.md,
    "A meter's life")."""
    from rich.markup import escape

    from meshmeter.billing.meterlife import shown_factor, shown_kwh

    def read(wh: int | None, source: str) -> str:
        return "-" if wh is None else f"{shown_kwh(wh)} ({source})"

    for r in bill.reads:
        energy = "" if r.energy_wh is None else f" = {shown_kwh(r.energy_wh)}"
        console.print(
            escape(
                f"meter {r.meter} {r.start.isoformat()} .. {r.end.isoformat()}: opening "
                f"{read(r.opening_wh, r.opening_source)}, closing {read(r.closing_wh, r.closing_source)}, "
                f"multiplier {shown_factor(r.multiplier)}{energy}"
            )
        )
    for e in bill.meter_events:
        console.print(escape(f"{e.at.isoformat()}  {e.text}"))


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
            t0, t1 = parse_time("--start", start, tz), parse_time("--end", end, tz)
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
        raise bad_input(str(exc)) from None
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
    _emit(data.encode("utf-8"), output)


def _print_maryland(site: str, total: Any, fee: Any, unit_names: list[str], bills: list[Any]) -> None:
    from rich.table import Table

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
    from meshmeter.intervals import INTERVAL_S

    try:
        year, mon = parse_month("month", month)
        if (intervals is None) == (meter is None):
            raise ValueError("give exactly one of --intervals FILE.csv and --meter SERIAL")
        if intervals is not None:
            timezone = _file_zone(timezone)
            ends, energy, quality = _read_intervals(intervals)
            system = Path(intervals).stem
            length = INTERVAL_S
        else:
            from meshmeter.store import Store

            assert meter is not None
            system = meter
            from meshmeter.services.billing import billable_view, find_meter, meter_timezone

            with Store(database) as store:
                found = find_meter(store, meter)
                timezone = meter_timezone(store, found, timezone)
                view = billable_view(store, found, *month_period(year, mon, timezone), month)
            ends, energy, quality, length = view.interval_end_s, view.energy_wh, view.quality, view.interval_s
        report = production_report(
            system, ends, energy, quality, year=year, month=mon, timezone=timezone, interval_s=length
        )
        data = production_report_csv(report)
        if output is not None:
            try:
                Path(output).write_text(data, encoding="utf-8")
            except OSError as exc:
                raise ValueError(f"cannot write {output!r}: {exc.strerror}") from None
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
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
