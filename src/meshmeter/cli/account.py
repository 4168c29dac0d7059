"""``meshmeter account``: tenants' accounts: open, list, move in, move out, transfer, close, history.

A time is a date (the site's local midnight) or a date-time (local to the site without an offset, that
instant with one); a unit is named by its id or by its name in the account's site. A refused operation
prints one line naming every problem and exits 2; nothing is stored (``docs/store.md``, "Tenants, units,
accounts and occupancies").
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from meshmeter.cli.common import TIME_HELP, DatabaseOption, JsonOption, bad_input, console, recorded_by
from meshmeter.cli.tables import Column, key, print_json, print_table
from meshmeter.errors import MeshmeterError

if TYPE_CHECKING:
    from meshmeter.services.tenancy import AccountView
    from meshmeter.store import Account, Store

account_app = typer.Typer(
    help="Tenants' accounts: open, move in, move out, transfer, close, history.", no_args_is_help=True
)

AccountArgument = Annotated[int, typer.Argument(help="The account (id).")]
AtOption = Annotated[
    str,
    typer.Option(help=f"When: {TIME_HELP} (a date-time without offset: local time)."),
]
UnitOption = Annotated[str, typer.Option(help="The unit: its id, or its name in the account's site.")]


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def account_dict(view: AccountView) -> dict[str, Any]:
    """An account as ``--json`` prints it: its number, site, tenant, dates and occupancies."""
    a = view.account
    out: dict[str, Any] = {
        "id": a.id,
        "number": a.number,
        "site_id": a.site_id,
        "tenant_id": a.tenant_id,
        "tenant": None if view.tenant is None else view.tenant.name,
        "opened_at": _iso(a.opened_at),
        "closed_at": _iso(a.closed_at),
        "occupancies": [
            {
                "id": o.id,
                "unit_id": o.unit_id,
                "unit": o.unit,
                "meter": view.meters[o.meter_id].serial if o.meter_id in view.meters else None,
                "move_in": _iso(o.move_in),
                "move_out": _iso(o.move_out),
            }
            for o in view.occupancies
        ],
    }
    if view.history is not None:
        out["history"] = [
            {
                "id": e.id,
                "kind": e.kind,
                "at": _iso(e.at),
                "recorded_at": _iso(e.recorded_at),
                "recorded_by": e.recorded_by,
                "unit_id": e.unit_id,
                "occupancy_id": e.occupancy_id,
                "detail": e.detail,
            }
            for e in view.history
        ]
    return out


def _print_account(data: dict[str, Any]) -> None:
    state = "open" if data["closed_at"] is None else f"closed {data['closed_at']}"
    console.print(
        f"account {data['number']} (id {data['id']}, site {data['site_id']}): {data['tenant']}, {state}"
    )
    for o in data["occupancies"]:
        console.print(f"  {o['unit']} (meter {o['meter']}): {o['move_in']} to {o['move_out'] or 'now'}")


def _show(store: Store, account: Account, as_json: bool, *, history: bool = False) -> None:
    from meshmeter.services.tenancy import account_view

    data = account_dict(account_view(store, account, history=history))
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    _print_account(data)
    for e in data.get("history", []):
        console.print(f"  {e['at']}  {e['kind']}  {json.dumps(e['detail'])}  (by {e['recorded_by'] or '?'})")


def _account(store: Store, account_id: int) -> Account:
    from meshmeter.errors import NotFoundError

    found = store.get_account(account_id=account_id)
    if found is None:
        raise NotFoundError("account", account_id, "meshmeter account create")
    return found


def _unit_id(store: Store, account_id: int, unit: str) -> int:
    from meshmeter.services.tenancy import resolve_unit

    return resolve_unit(store, unit=unit, account_id=account_id)


@account_app.command("create")
def account_create(
    tenant: Annotated[int, typer.Option(help="The tenant (id): meshmeter tenant create.")],
    site: Annotated[int, typer.Option(help="The site (id).")],
    number: Annotated[
        str | None, typer.Option(help="The account's number, unique in the site; default the next.")
    ] = None,
    opened: Annotated[str | None, typer.Option(help=f"When it opens: {TIME_HELP}; default now.")] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Open an account for a tenant at a site; prints its id.

    Example: meshmeter account create --tenant 4 --site 1
    """
    from meshmeter.services.tenancy import open_account
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            account = open_account(
                store,
                tenant_id=tenant,
                site_id=site,
                number=number,
                opened=opened,
                by=recorded_by("account create"),
            )
            if as_json:
                _show(store, account, True)
                return
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    typer.echo(str(account.id))


@account_app.command("list")
def account_list(
    site: Annotated[int | None, typer.Option(help="Only this site's accounts (id).")] = None,
    tenant: Annotated[int | None, typer.Option(help="Only this tenant's accounts (id).")] = None,
    meter: Annotated[
        str | None, typer.Option(help="Only the accounts that occupied a unit of this meter.")
    ] = None,
    state: Annotated[str, typer.Option(help="open, closed or all.")] = "all",
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """List accounts with their occupancies, by id.

    Example: meshmeter account list --site 1 --state open
    """
    from meshmeter.services.tenancy import account_view
    from meshmeter.store import Store

    try:
        if state not in ("open", "closed", "all"):
            raise ValueError(f"state must be open, closed or all, got {state!r}")
        with Store(database) as store:
            meter_id = None
            if meter is not None:
                found = store.get_meter(serial=meter)
                if found is None:
                    raise ValueError(f"meter {meter!r} is not a known meter")
                meter_id = found.id
            accounts = store.accounts(site_id=site, tenant_id=tenant, meter_id=meter_id)
            if state != "all":
                accounts = [a for a in accounts if a.is_open is (state == "open")]
            rows = [account_dict(account_view(store, a)) for a in accounts]
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
    if as_json:
        print_json(rows)
        return
    print_table(
        _ACCOUNT_COLUMNS,
        rows,
        empty="No account yet: open one with `meshmeter account create --tenant ID --site ID`.",
    )


def _units(row: dict[str, Any]) -> str:
    """The units of an account: those occupied now, else the last one left."""
    now = [o for o in row["occupancies"] if o["move_out"] is None]
    shown = now or row["occupancies"][-1:]
    return ", ".join(f"{o['unit']} ({o['meter'] or '–'})" for o in shown)


_ACCOUNT_COLUMNS = (
    Column("Tenant", key("tenant"), long=True),
    Column("Account", key("number")),
    Column("Units (meter)", _units, long=True),
    Column("State", lambda r: "open" if r["closed_at"] is None else f"closed {r['closed_at'][:10]}"),
    Column("Opened", lambda r: None if r["opened_at"] is None else r["opened_at"][:10]),
    Column("Site", key("site_id"), justify="right"),
    Column("Id", key("id"), justify="right"),
)
"""``account list``: the tenant and the account's number first, its units, state, then ids."""


def _act(account_id: int, as_json: bool, database: str | None, work: Any) -> None:
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            work(store)
            _show(store, _account(store, account_id), as_json)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None


@account_app.command("move-in")
def account_move_in(
    account: AccountArgument,
    unit: UnitOption,
    at: AtOption,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The account's occupancy of a unit of its site begins. Refused (exit 2, every problem named): a
    closed account, one already in a unit then, the unit or another unit of its meter occupied then.

    Example: meshmeter account move-in 7 --unit 2A --at 2026-03-01
    """
    from meshmeter.services import tenancy

    def work(store: Store) -> None:
        tenancy.move_in(
            store,
            account_id=account,
            unit_id=_unit_id(store, account, unit),
            at=at,
            by=recorded_by("account move-in"),
        )

    _act(account, as_json, database, work)


@account_app.command("move-out")
def account_move_out(
    account: AccountArgument,
    at: AtOption,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The account's open occupancy ends; the account stays open (close it apart). Refused: no open
    occupancy, a move-out not after the move-in, a closed account.

    Example: meshmeter account move-out 7 --at 2026-08-31T12:00
    """
    from meshmeter.services import tenancy

    def work(store: Store) -> None:
        tenancy.move_out(store, account_id=account, at=at, by=recorded_by("account move-out"))

    _act(account, as_json, database, work)


@account_app.command("transfer")
def account_transfer(
    account: AccountArgument,
    unit: Annotated[str, typer.Option(help="The unit moved to: its id, or its name in the account's site.")],
    at: AtOption,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The account moves from the unit it occupies to another unit of its site at one instant: same
    account, number and tenant (a new tenant in a unit opens its own account).

    Example: meshmeter account transfer 7 --unit 3C --at 2026-06-01
    """
    from meshmeter.services import tenancy

    def work(store: Store) -> None:
        tenancy.transfer(
            store,
            account_id=account,
            unit_id=_unit_id(store, account, unit),
            at=at,
            by=recorded_by("account transfer"),
        )

    _act(account, as_json, database, work)


@account_app.command("close")
def account_close(
    account: AccountArgument,
    at: Annotated[str | None, typer.Option(help=f"When: {TIME_HELP}; default now.")] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Close the account: it takes no move-in afterwards. Refused: already closed, an occupancy open or
    ending after --at (move out first).

    Example: meshmeter account close 7 --at 2026-08-31T12:00
    """
    from meshmeter.services import tenancy

    def work(store: Store) -> None:
        tenancy.close_account(store, account_id=account, at=at, by=recorded_by("account close"))

    _act(account, as_json, database, work)


@account_app.command("history")
def account_history(
    account: AccountArgument,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """The account, its occupancies and what was done to it, in the order it was recorded.

    Example: meshmeter account history 7 --json
    """
    from meshmeter.store import Store

    try:
        with Store(database) as store:
            _show(store, _account(store, account), as_json, history=True)
    except (ValueError, MeshmeterError) as exc:
        raise bad_input(str(exc)) from None
