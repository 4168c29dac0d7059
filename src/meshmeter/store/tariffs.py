"""The tariff of each account, from a date on (schema version 11; ``docs/billing.md``, "The tariff of an
account").

Each setting appends a row: the URDB document exactly as given, the label of the rate chosen in it, the
period names merged into it, the tariff's name and SHA-256 (as a bill names its tariff), who set it and
when. Nothing is overwritten: the tariff in force at an instant is the row of the latest
``effective_from`` not after it (of two from the same instant, the one set last), and the rows before it
are the account's history. The rate itself is read and checked above the store
(:mod:`meshmeter.services.account_tariffs`); here the columns are checked and the account must exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select

from meshmeter.store import _validate as v
from meshmeter.store.base import StoreBase, _now
from meshmeter.store.schema import account_tariffs, accounts

__all__ = ["AccountTariff", "AccountTariffsMixin"]


@dataclass(frozen=True, slots=True)
class AccountTariff:
    """
    One setting of an account's tariff (table ``account_tariffs``).

    Attributes
    ----------
    id : int
        Its id; a later setting has a larger one.
    account_id : int
        The account.
    effective_from : datetime
        In force from this instant on (until a later setting's), UTC.
    document : dict or list
        The URDB document exactly as given (one rate, a list, or the API's ``{"items": [...]}``).
    label : str or None
        The URDB ``label`` of the rate chosen in the document; None when it holds one rate.
    period_names : dict or None
        ``{kind: {period: name}}`` merged into the rate's ``meshmeter_period_names``; None for none.
    name : str
        The tariff's name, as bills print it.
    sha256 : str
        SHA-256 of the rate read (``Tariff.sha256``, 64 hex digits): what a bill at it records.
    set_by : str or None
        Who set it: a token, the command line, the demo.
    set_at : datetime
        When it was set, UTC.
    """

    id: int
    account_id: int
    effective_from: datetime
    name: str
    sha256: str
    label: str | None
    set_by: str | None
    set_at: datetime
    document: Any = dataclass_field(repr=False, compare=False)
    period_names: dict[str, dict[str, str]] | None = dataclass_field(default=None, compare=False)


def _row(r: Row[Any]) -> AccountTariff:
    return AccountTariff(
        id=int(r.id),
        account_id=int(r.account_id),
        effective_from=r.effective_from,
        name=r.name,
        sha256=r.sha256,
        label=r.label,
        set_by=r.set_by,
        set_at=r.set_at,
        document=r.document,
        period_names=None if r.period_names is None else dict(r.period_names),
    )


def _period_names(value: object) -> dict[str, dict[str, str]] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(names, Mapping) for k, names in value.items()
    ):
        raise ValueError(f"period_names must be a mapping {{kind: {{period: name}}}}, got {value!r}")
    return {
        str(kind): {str(p): str(n) for p, n in names.items()} for kind, names in value.items() if names
    } or None


class AccountTariffsMixin(StoreBase):
    """The tariff of each account, from a date on, and its history."""

    def set_account_tariff(
        self,
        *,
        account_id: int,
        effective_from: datetime,
        document: Any,
        name: str,
        sha256: str,
        label: str | None = None,
        period_names: Mapping[str, Mapping[str, str]] | None = None,
        set_by: str | None = None,
        set_at: datetime | None = None,
    ) -> AccountTariff:
        """
        Set an account's tariff from ``effective_from`` on: a row appended, none changed.

        Parameters
        ----------
        account_id : int
            The account, which must exist.
        effective_from : datetime
            From when, aware.
        document : dict or list
            The URDB document as given (JSON: no NaN).
        name, sha256 : str
            The tariff's name and the SHA-256 of the rate read, 64 lower-case hex digits
            (``Tariff.sha256``).
        label : str, optional
            The rate chosen in the document.
        period_names : mapping, optional
            ``{kind: {period: name}}`` merged into the rate.
        set_by : str, optional
            Who.
        set_at : datetime, optional
            When; default now.

        Raises
        ------
        ValueError
            Naming the bad argument, or an account that does not exist; nothing is stored.
        """
        account_id = v.check_id("account_id", account_id)
        effective_from = v.check_utc("effective_from", effective_from)
        if not isinstance(document, (dict, list)):
            raise ValueError(f"document must be a URDB document (an object or a list), got {document!r}")
        checked = v.check_json("document", document)
        name = v.check_text("name", name)
        if (
            not isinstance(sha256, str)
            or len(sha256) != 64
            or any(c not in "0123456789abcdef" for c in sha256)
        ):
            raise ValueError(f"sha256 must be 64 lower-case hex digits, got {sha256!r}")
        if label is not None:
            label = v.check_text("label", label)
        names = _period_names(period_names)
        set_at = _now() if set_at is None else v.check_utc("set_at", set_at)
        with self._write() as c:
            self._require(c, accounts, account_id, "account_id", "account")
            row = c.execute(
                insert(account_tariffs)
                .values(
                    account_id=account_id,
                    effective_from=effective_from,
                    document=checked,
                    label=label,
                    period_names=names,
                    name=name,
                    sha256=sha256,
                    set_by=set_by,
                    set_at=set_at,
                )
                .returning(*account_tariffs.c)
            ).one()
        return _row(row)

    def account_tariff(self, *, account_id: int, at: datetime) -> AccountTariff | None:
        """The account's tariff in force at ``at``: the latest ``effective_from`` not after it (of two from
        the same instant, the one set last); None when none was set from then or before."""
        account_id = v.check_id("account_id", account_id)
        at = v.check_utc("at", at)
        t = account_tariffs
        query = (
            select(t)
            .where(t.c.account_id == account_id, t.c.effective_from <= at)
            .order_by(t.c.effective_from.desc(), t.c.id.desc())
            .limit(1)
        )
        with self._read() as c:
            row = c.execute(query).first()
        return None if row is None else _row(row)

    def account_tariffs(
        self, *, account_id: int | None = None, site_id: int | None = None
    ) -> list[AccountTariff]:
        """
        The settings of tariffs, by account, then ``effective_from``, then as set: of one account, of the
        accounts of a site, or of every account.
        """
        t = account_tariffs
        query = select(t).order_by(t.c.account_id, t.c.effective_from, t.c.id)
        if account_id is not None:
            query = query.where(t.c.account_id == v.check_id("account_id", account_id))
        if site_id is not None:
            site_id = v.check_id("site_id", site_id)
            query = query.where(
                t.c.account_id.in_(select(accounts.c.id).where(accounts.c.site_id == site_id))
            )
        with self._read() as c:
            return [_row(r) for r in c.execute(query)]
