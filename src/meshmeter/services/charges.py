"""The tenants' charges of a site so far this month, kept while nothing they are made of changes (issue 15).

The dashboard's overview shows, per site, what the tenants owe for the month so far: each account in
service then, billed from the store (:func:`meshmeter.services.billing.bill_account_from_store`) at the
tariff it is priced at (:func:`account_tariff`). Billing every account takes most of the page's time, and
an operator reloads the page far more often than the data changes, so :func:`month_charges` keeps each
answer under a key made of everything the figures are computed from:

- the period and the site (its time zone);
- each meter of the site with its ``data_version`` (:attr:`meshmeter.store.Meter.data_version`, raised in
  the transaction of every write of its intervals: raw, validated, a VEE run or an edit, from any process),
  and the meters those replaced (meter changes: exchanges, multipliers);
- the site's accounts, their occupancies (move-in, move-out, unit and its meter) and the stored bills
  (a net-metered bill carries the previous bill's credit in);
- the rule that picks an account's tariff (:data:`TARIFF_RULE`) and the tariff each account got
  (:attr:`TariffChoice.key`).

Register reads are printed on a bill but do not enter its total, and tenants' names only label it: they are
not in the key. The key is read from the store at each call (a few queries), so a write by another process is
seen at the next call; the figures are those of the plain path, exactly (``cached=False``, which a test
compares). Nothing is stored.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from meshmeter.billing import parse_tariff
from meshmeter.errors import MeshmeterError
from meshmeter.services.account_tariffs import stored_tariff
from meshmeter.services.billing import bill_account_from_store

if TYPE_CHECKING:
    from meshmeter.billing import Tariff
    from meshmeter.store import Account, Site, Store

__all__ = [
    "CHARGES_KEPT",
    "TARIFF_RULE",
    "MonthCost",
    "TariffChoice",
    "account_tariff",
    "clear_charges_cache",
    "month_charges",
]

TARIFF_RULE = "account-tariff-then-latest-bill/2"
"""Names the rule of :func:`account_tariff`; it is part of every cached answer's key. Change it with the
rule (for instance when accounts get a stored tariff of their own), so that no answer priced by the old rule
is served again."""

CHARGES_KEPT = 64
"""Answers kept per store (sites × periods), the least recently used going first. [1]"""


@dataclass(frozen=True, slots=True)
class MonthCost:
    """The tenants' charges of a period, each account billed at its tariff (:func:`account_tariff`)."""

    total: Decimal | None
    """Sum of the bills' exact totals; None when no account could be billed. [USD]"""
    billed: int
    """Accounts billed. [1]"""
    untariffed: list[str] = field(default_factory=list)
    """Accounts with no tariff (none set, no stored bill), by number."""
    unbilled: list[str] = field(default_factory=list)
    """Accounts with a tariff that could not be billed, each with why."""


@dataclass(frozen=True, slots=True)
class TariffChoice:
    """The tariff an account is priced at: what tells it apart, and how to read its URDB document."""

    key: str
    """What identifies the choice, for the cached answers' key: where the tariff was found and its
    document's SHA-256."""
    sha256: str
    """The SHA-256 of the tariff's document (:attr:`meshmeter.billing.Tariff.sha256`); empty when not
    known without reading it."""
    read: Callable[[], Tariff | None] = field(compare=False, repr=False)
    """Reads the tariff, or None when the place it was found holds none."""


def account_tariff(store: Store, account: Account, *, at: datetime) -> TariffChoice | None:
    """
    The tariff ``account``'s charges are priced at, at ``at``: the tariff set for it and in force then
    (:func:`meshmeter.services.account_tariffs.tariff_in_force`, what ``meshmeter bill`` bills at); else,
    for an account billed before tariffs were kept, that of its latest stored bill (by period end, then
    id). None when it has neither.

    The one place this rule lives: the overview's charges ask here, and the cached answers are keyed on
    :data:`TARIFF_RULE` and on the choice's key.
    """
    setting = store.account_tariff(account_id=account.id, at=at)
    if setting is not None:
        kept = setting
        return TariffChoice(
            key=f"setting {kept.id}: {kept.sha256}", sha256=kept.sha256, read=lambda: stored_tariff(kept)
        )
    listed = store.list_bills(account_id=account.id)
    if not listed:
        return None
    latest = max(listed, key=lambda b: (b.period_end, b.id))

    def read() -> Tariff | None:
        stored = store.get_bill(latest.id)
        inputs = {} if stored is None else stored.document.get("inputs") or {}
        document = inputs.get("tariff")
        return None if document is None else parse_tariff(document)

    return TariffChoice(
        key=f"bill {latest.id}: {latest.tariff_sha256}", sha256=latest.tariff_sha256, read=read
    )


class _Answers:
    """One store's answers, least recently used first; safe across threads."""

    def __init__(self) -> None:
        self.answers: OrderedDict[Hashable, MonthCost] = OrderedDict()
        self.tariffs: dict[str, Tariff] = {}
        """Tariffs parsed, by their document's SHA-256."""
        self.lock = threading.Lock()


_STORES: WeakKeyDictionary[Store, _Answers] = WeakKeyDictionary()
_STORES_LOCK = threading.Lock()


def clear_charges_cache() -> None:
    """Forget every answer kept (a benchmark's cold start; a test's)."""
    with _STORES_LOCK:
        _STORES.clear()


def _answers(store: Store) -> _Answers:
    with _STORES_LOCK:
        found = _STORES.get(store)
        if found is None:
            found = _STORES[store] = _Answers()
        return found


def _served(store: Store, site: Site, start: datetime, end: datetime) -> list[Account]:
    """The site's accounts in service at some time of ``(start, end]``, by number."""
    return [
        account
        for account in sorted(store.accounts(site_id=site.id), key=lambda a: (len(a.number), a.number))
        if any(o.covers(start, end) for o in store.occupancies(account_id=account.id))
    ]


def _key(
    store: Store, site: Site, start: datetime, end: datetime, choices: dict[int, TariffChoice | None]
) -> Hashable:
    """What the site's charges over ``(start, end]`` are made of (module docstring)."""
    meters = store.meters(site_id=site.id)
    changes = store.meter_changes(meter_ids=[m.id for m in meters])
    ours = {m.id for m in meters}
    named = {c.meter_id for c in changes} | {c.replaces_meter_id for c in changes}
    others = sorted(i for i in named - ours if i is not None)
    replaced = [store.get_meter(meter_id=i) for i in others]
    return (
        TARIFF_RULE,
        repr(site),
        start,
        end,
        tuple((repr(m), m.data_version) for m in [*meters, *replaced] if m is not None),
        tuple(repr(c) for c in changes),
        tuple(repr(a) for a in store.accounts(site_id=site.id)),
        tuple(repr(o) for o in store.occupancies(site_id=site.id)),
        tuple((b.id, b.account_id, b.period_end, b.tariff_sha256) for b in store.list_bills(site=site.id)),
        tuple((i, None if c is None else c.key) for i, c in sorted(choices.items())),
    )


def month_charges(
    store: Store, site: Site, *, start: datetime, end: datetime, cached: bool = True
) -> MonthCost:
    """
    The tenants' charges of ``(start, end]``: each account of the site in service then, billed
    (:func:`meshmeter.services.billing.bill_account_from_store`) at its tariff (:func:`account_tariff`).

    Parameters
    ----------
    store : Store
        The store (a scoped one: its caller's accounts only). Read only.
    site : Site
        The site.
    start, end : datetime
        The period, aware; an empty one (the month's first instant) costs nothing.
    cached : bool
        Whether to give the answer kept for the same inputs (module docstring), computing and keeping it
        when there is none; False computes it afresh and keeps nothing (the plain path).

    Returns
    -------
    MonthCost
        An account with no tariff is named in ``untariffed``, not counted as zero; one that cannot be
        billed (no validated interval yet ...) in ``unbilled`` with why.
    """
    if end <= start:
        return MonthCost(total=Decimal(0), billed=0)
    accounts = _served(store, site, start, end)
    choices = {a.id: account_tariff(store, a, at=end) for a in accounts}
    if not cached:
        return _charges(store, site, accounts, choices, start, end, {})
    kept = _answers(store)
    key = _key(store, site, start, end, choices)
    with kept.lock:
        found = kept.answers.get(key)
        if found is not None:
            kept.answers.move_to_end(key)
            return found
    answer = _charges(store, site, accounts, choices, start, end, kept.tariffs)
    with kept.lock:
        kept.answers[key] = answer
        while len(kept.answers) > CHARGES_KEPT:
            kept.answers.popitem(last=False)
    return answer


def _charges(
    store: Store,
    site: Site,
    accounts: list[Account],
    choices: dict[int, TariffChoice | None],
    start: datetime,
    end: datetime,
    tariffs: dict[str, Tariff],
) -> MonthCost:
    """The plain path: bill each account; ``tariffs`` keeps parsed tariffs by their SHA-256."""
    untariffed: list[str] = []
    unbilled: list[str] = []
    total = Decimal(0)
    billed = 0
    for account in accounts:
        choice = choices[account.id]
        if choice is None:
            untariffed.append(account.number)
            continue
        try:
            tariff = tariffs.get(choice.sha256) if choice.sha256 else None
            if tariff is None:
                tariff = choice.read()
                if tariff is None:
                    untariffed.append(account.number)
                    continue
                tariffs[tariff.sha256] = tariff
            bills = bill_account_from_store(
                store, account=account, tariff=tariff, start=start, end=end, timezone=site.timezone
            )
        except (MeshmeterError, ValueError) as exc:
            unbilled.append(f"{account.number}: {exc}")
            continue
        total += sum((b.total for b in bills), Decimal(0))
        billed += 1
    return MonthCost(total=total if billed else None, billed=billed, untariffed=untariffed, unbilled=unbilled)
