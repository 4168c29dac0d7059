"""The tariff of each account, kept by the head-end, as every door sets and reads it: the API
(``PUT``/``GET /accounts/{id}/tariff``), the command line (``meshmeter tariff set``/``list``), the
dashboard's Tariffs page, and the demo (``docs/billing.md``, "The tariff of an account").

An operator sets an account's rate once, from a date: a URDB document as published (a rate, a list of
rates, or the API's ``{"items": [...]}``, one rate chosen by its ``label``) or one of the example tariffs
(:data:`~meshmeter.billing.EXAMPLE_TARIFFS`), with period names merged in. The rate is read by the one
tariff parser billing uses (:func:`~meshmeter.billing.parse_tariff`), and refused naming every problem
(an unknown account, a closed account's tariff from its close on, a bad document, a label not in it, a
date that is not one) with nothing stored. The store appends the setting
(:meth:`~meshmeter.store.Store.set_account_tariff`): history is kept, and a bill of a period is made at the
tariff in force at the period's end (:func:`tariff_for_period`) unless a tariff is named.

A date is an ISO 8601 date or date-time in the account's site's zone
(:func:`~meshmeter.services.tenancy.effective_instant`): ``2026-07-01`` is local midnight there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from meshmeter.billing import Tariff, example_tariff, parse_period_names, parse_tariff
from meshmeter.billing.tariff import EXAMPLE_TARIFFS
from meshmeter.errors import MeshmeterError, TariffError
from meshmeter.services.tenancy import effective_instant, site_timezone
from meshmeter.store import Account, AccountTariff, Store

__all__ = [
    "AccountTariffLine",
    "MissingTariffError",
    "TariffSettingError",
    "account_tariff_lines",
    "choose_tariff",
    "set_tariff",
    "set_tariffs",
    "stored_tariff",
    "tariff_for_period",
    "tariff_in_force",
    "tariffs_for_period",
]

PeriodNames = Mapping[str, Mapping[str, str]]


class TariffSettingError(MeshmeterError, ValueError):
    """
    A tariff setting refused: ``problems`` names every problem found, one sentence each; nothing was stored.

    Parameters
    ----------
    problems : list of str
        What is wrong.
    unknown : bool, optional
        True when the account named is not known (the API answers 404).
    closed : bool, optional
        True when a closed account was given a tariff from its close on (the API answers 409 when that is
        the only problem).
    """

    def __init__(self, problems: list[str], *, unknown: bool = False, closed: bool = False) -> None:
        self.problems = list(problems)
        self.unknown = unknown
        self.closed = closed
        super().__init__("; ".join(self.problems))


class MissingTariffError(MeshmeterError, ValueError):
    """
    Accounts billed without a tariff named that have none in force at the period's end.

    Attributes
    ----------
    accounts : list of Account
        Those accounts, each named in the message.
    """

    def __init__(self, accounts: Sequence[Account], names: Sequence[str], at: datetime) -> None:
        self.accounts = list(accounts)
        self.at = at
        which = ", ".join(names)
        super().__init__(
            f"no tariff is set in force at {at.isoformat()} for {which}: set the account's tariff "
            "(meshmeter tariff set, PUT /accounts/{account_id}/tariff, or the dashboard's Tariffs page), "
            "or name the tariff to bill at"
        )


def _period_names(given: str | PeriodNames | None, problems: list[str]) -> dict[str, dict[str, str]] | None:
    """Period names from the command line's text (``0=peak,demand:0=on-peak``) or a mapping."""
    if given is None:
        return None
    if isinstance(given, str):
        if not given.strip():
            return None
        try:
            return parse_period_names(given)
        except ValueError as exc:
            problems.append(str(exc).replace("--period-names", "period_names"))
            return None
    if not isinstance(given, Mapping) or not all(isinstance(v, Mapping) for v in given.values()):
        problems.append(f"period_names must be {{kind: {{period: name}}}}, got {given!r}")
        return None
    return {str(k): {str(p): str(n) for p, n in v.items()} for k, v in given.items()} or None


def _choose(
    document: Any,
    example: str | None,
    label: str | None,
    names: dict[str, dict[str, str]] | None,
    problems: list[str],
) -> tuple[Tariff, Any] | None:
    """The tariff and the document to keep (an example's own document), or None with ``problems`` said."""
    label = None if label is None or not label.strip() else label.strip()
    if (document is None) == (example is None):
        problems.append("give exactly one of tariff (a URDB document) and example")
        return None
    if example is not None:
        if example not in EXAMPLE_TARIFFS:
            problems.append(f"example must be one of {', '.join(EXAMPLE_TARIFFS)}, got {example!r}")
            return None
        if label is not None:
            problems.append("label chooses a rate of a URDB document: the examples hold one rate each")
            return None
        plain = example_tariff(example)
        return example_tariff(example, period_names=names), plain.document
    try:
        return parse_tariff(document, label=label, period_names=names), document
    except TariffError as exc:
        problems.extend(
            f"tariff field {f!r}: {d}" if f != "label" else f"label: {d}" for f, d in exc.problems
        )
        return None


def choose_tariff(
    *,
    document: Any = None,
    example: str | None = None,
    label: str | None = None,
    period_names: str | PeriodNames | None = None,
) -> Tariff:
    """
    The tariff named by a request: a URDB document (a rate chosen by ``label``) or an example, with
    period names merged (:func:`~meshmeter.billing.parse_tariff`). What ``meshmeter bill --tariff``,
    ``POST /accounts/{id}/bills`` and :func:`set_tariff` read, in one place.

    Raises
    ------
    TariffSettingError
        Naming every problem: neither or both of document and example, an unknown example, a label with
        an example, bad period names, every problem of the rate.
    """
    problems: list[str] = []
    names = _period_names(period_names, problems)
    chosen = _choose(document, example, label, names, problems)
    if problems or chosen is None:
        raise TariffSettingError(problems)
    return chosen[0]


def _account_label(store: Store, account: Account) -> str:
    person = store.get_tenant(tenant_id=account.tenant_id)
    return f"account {account.number}" + ("" if person is None else f" ({person.name})")


def _account_start(store: Store, account: Account) -> datetime:
    """Since when the account may be billed: its opening, or its first move-in when that was earlier (an
    account recorded after its tenant moved in, as an operator does who starts keeping an old tenancy)."""
    return min([account.opened_at, *(o.move_in for o in store.occupancies(account_id=account.id))])


def set_tariff(
    store: Store,
    *,
    account_id: int,
    document: Any = None,
    example: str | None = None,
    label: str | None = None,
    period_names: str | PeriodNames | None = None,
    effective: str | None = None,
    by: str | None = None,
    now: datetime | None = None,
) -> AccountTariff:
    """
    Set an account's tariff from a date on: the same checks from every door, every problem named.

    Parameters
    ----------
    store : Store
        Read (the account, its site's zone) and written (one row appended).
    account_id : int
        The account.
    document : dict or list, optional
        A URDB document as published; or
    example : str, optional
        one of :data:`~meshmeter.billing.EXAMPLE_TARIFFS`.
    label : str, optional
        The URDB ``label`` of the rate, when the document holds several.
    period_names : str or mapping, optional
        ``0=peak,1=off-peak,demand:0=on-peak`` or ``{kind: {period: name}}``.
    effective : str, optional
        From when: an ISO 8601 date (the site's local midnight) or date-time (local without an offset).
        Default: the account's start (its opening, or its first move-in when earlier) when it has no
        tariff yet, else now.
    by : str, optional
        Who sets it, as the history shows.
    now : datetime, optional
        Now (tests); default the clock.

    Returns
    -------
    AccountTariff
        The setting as stored.

    Raises
    ------
    TariffSettingError
        Naming every problem (unknown account, a closed account's tariff from its close on, bad document,
        label not in it, bad period names, a date that is not one); nothing is stored.
    """
    (setting,) = set_tariffs(
        store,
        account_ids=[account_id],
        document=document,
        example=example,
        label=label,
        period_names=period_names,
        effective=effective,
        by=by,
        now=now,
    )
    return setting


def set_tariffs(
    store: Store,
    *,
    account_ids: Sequence[int],
    document: Any = None,
    example: str | None = None,
    label: str | None = None,
    period_names: str | PeriodNames | None = None,
    effective: str | None = None,
    by: str | None = None,
    now: datetime | None = None,
) -> list[AccountTariff]:
    """
    Set one tariff for several accounts from a date on (the dashboard's checked accounts): every account
    and the tariff checked first, as :func:`set_tariff` does, and nothing stored unless all pass.

    Raises
    ------
    TariffSettingError
        Naming every problem of every account, of the tariff and of the date; nothing is stored.
    """
    problems: list[str] = []
    unknown = closed = False
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    found: list[tuple[Account, datetime | None]] = []
    if not account_ids:
        problems.append("choose at least one account")
    for account_id in dict.fromkeys(account_ids):
        account = store.get_account(account_id=account_id)
        if account is None:
            problems.append(f"account_id {account_id} is not a known account")
            unknown = True
            continue
        start: datetime | None = None
        if effective is not None and effective.strip():
            try:
                start = effective_instant("effective", effective, site_timezone(store, account.site_id))
            except ValueError as exc:
                if str(exc) not in problems:
                    problems.append(str(exc))
                found.append((account, None))
                continue
        if start is None:  # the default: the account's start for its first tariff, else now
            start = (
                _account_start(store, account) if not store.account_tariffs(account_id=account.id) else moment
            )
        if account.closed_at is not None and start >= account.closed_at:
            # a closed account is still billed up to its close (its final bill): a tariff from before then
            # prices that; one from the close on would price nothing
            problems.append(
                f"{_account_label(store, account)} was closed at {account.closed_at.isoformat()}: a tariff "
                f"from {start.isoformat()} would price nothing; give an effective date before the close"
            )
            closed = True
            continue
        found.append((account, start))
    if effective is not None and effective.strip() and not found:
        try:  # no account to take the zone of: the date is still checked
            effective_instant("effective", effective, "UTC")
        except ValueError as exc:
            problems.append(str(exc))
    names = _period_names(period_names, problems)
    chosen = _choose(document, example, label, names, problems)
    if problems or chosen is None:
        raise TariffSettingError(problems, unknown=unknown, closed=closed)
    tariff, kept = chosen
    made = []
    for account, start in found:
        assert start is not None  # a date that is not one is a problem above
        made.append(
            store.set_account_tariff(
                account_id=account.id,
                effective_from=start,
                document=kept,
                label=None if example is not None or label is None or not label.strip() else label.strip(),
                period_names=names,
                name=tariff.name,
                sha256=tariff.sha256,
                set_by=by,
            )
        )
    return made


def stored_tariff(setting: AccountTariff) -> Tariff:
    """The :class:`~meshmeter.billing.Tariff` of a stored setting, read again by the one parser."""
    return parse_tariff(setting.document, label=setting.label, period_names=setting.period_names)


def tariff_in_force(store: Store, account_id: int, at: datetime) -> tuple[Tariff, AccountTariff] | None:
    """
    The account's tariff in force at ``at`` and its stored setting; None when none was set from then or
    before (or the caller may not see the account).
    """
    if store.get_account(account_id=account_id) is None:
        return None
    setting = store.account_tariff(account_id=account_id, at=at)
    return None if setting is None else (stored_tariff(setting), setting)


def _last_instant(end: datetime) -> datetime:
    """The instant a period ``(start, end]`` is billed at: its last second, so that a tariff set from
    the end's own midnight starts the next period, not this one."""
    return end - timedelta(seconds=1)


def tariffs_for_period(store: Store, accounts: Sequence[Account], end: datetime) -> dict[int, Tariff]:
    """
    Each account's tariff in force at the end of a period ``(start, end]`` (its last second).

    Raises
    ------
    MissingTariffError
        Naming every account that has none; nothing is billed.
    """
    at = _last_instant(end)
    found: dict[int, Tariff] = {}
    missing: list[Account] = []
    for account in accounts:
        got = tariff_in_force(store, account.id, at)
        if got is None:
            missing.append(account)
        else:
            found[account.id] = got[0]
    if missing:
        raise MissingTariffError(missing, [_account_label(store, a) for a in missing], at)
    return found


def tariff_for_period(store: Store, account: Account, end: datetime) -> Tariff:
    """The account's tariff in force at the end of a period (:func:`tariffs_for_period`)."""
    return tariffs_for_period(store, [account], end)[account.id]


@dataclass(frozen=True, slots=True)
class AccountTariffLine:
    """
    An account of a site with its tariff, names first: what ``meshmeter tariff list`` and the dashboard's
    Tariffs page show.

    Attributes
    ----------
    account : Account
        The account.
    unit : str or None
        The unit it occupies (or occupied last); None when it never moved in.
    tenant : str or None
        The tenant's name.
    in_force : AccountTariff or None
        The setting in force at the moment asked; None: no tariff.
    history : list of AccountTariff
        Every setting of the account, oldest first.
    """

    account: Account
    unit: str | None
    tenant: str | None
    in_force: AccountTariff | None
    history: list[AccountTariff]

    @property
    def closed(self) -> bool:
        """Whether the account is closed (it takes a tariff only from before its close)."""
        return self.account.closed_at is not None


def account_tariff_lines(store: Store, *, site_id: int, at: datetime) -> list[AccountTariffLine]:
    """Every account of the site with its tariff in force at ``at``, by unit then account number."""
    settings: dict[int, list[AccountTariff]] = {}
    for s in store.account_tariffs(site_id=site_id):
        settings.setdefault(s.account_id, []).append(s)
    lines = []
    for account in store.accounts(site_id=site_id):
        tenures = store.occupancies(account_id=account.id)
        unit = max(tenures, key=lambda o: o.move_in).unit if tenures else None
        person = store.get_tenant(tenant_id=account.tenant_id)
        history = settings.get(account.id, [])
        current = [s for s in history if s.effective_from <= at]
        in_force = max(current, key=lambda s: (s.effective_from, s.id)) if current else None
        lines.append(
            AccountTariffLine(account, unit, None if person is None else person.name, in_force, history)
        )
    lines.sort(key=lambda x: (x.unit is None, x.unit or "", len(x.account.number), x.account.number))
    return lines
