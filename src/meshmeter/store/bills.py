"""Stored bills: a bill with the inputs that produced it, once per account, meter, period and tariff
(``docs/billing.md``, "Stored bills")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from meshmeter.errors import BillConflictError, CorrectionConflictError, NotFoundError
from meshmeter.store import _validate as v
from meshmeter.store.base import StoreBase, _now
from meshmeter.store.models import Site, StoredCorrection
from meshmeter.store.schema import CORRECTION_MODES, accounts, bill_corrections, bills, meters, sites

__all__ = ["BillConflictError", "BillsMixin", "CorrectionConflictError", "StoredBill", "StoredCorrection"]


_BILL_MODES = ("california", "maryland")


@dataclass(frozen=True, slots=True)
class StoredBill:
    """
    A bill as the store keeps it (table ``bills``, ``docs/billing.md``).

    Attributes
    ----------
    id : int
        Its id.
    site_id, account_id, meter_id : int or None
        The site, the store's account (tenant in a unit) and the meter billed, when known.
    account, meter : str
        The account and the meter's serial, as printed on the bill.
    period_start, period_end : datetime
        The billing period ``(start, end]``, UTC.
    timezone : str
        IANA time zone of the tariff's local time.
    mode : str
        ``california`` (re-rating) or ``maryland`` (allocation).
    tariff_name, tariff_sha256 : str
        The tariff's name and the SHA-256 of its document (64 hex digits).
    engine_version : str
        The billing engine that made it.
    energy_wh : int
        Energy billed. [Wh]
    total, printed_total : Decimal
        Exact total of the lines, and the total of the cent-rounded lines (what is due). [USD]
    created_at : datetime
        When it was stored, UTC.
    document : dict
        The bill as ``Bill.to_dict()`` gave it: lines and figures, and, from :meth:`Store.get_bill`,
        ``inputs`` (tariff, intervals ...), enough to re-bill it exactly (``verify_bill``).
    """

    id: int
    site_id: int | None
    account_id: int | None
    meter_id: int | None
    account: str
    meter: str
    period_start: datetime
    period_end: datetime
    timezone: str
    mode: str
    tariff_name: str
    tariff_sha256: str
    engine_version: str
    energy_wh: int
    total: Decimal
    printed_total: Decimal
    created_at: datetime
    document: dict[str, Any] = dataclass_field(repr=False, compare=False)


def _bill_member(document: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = document.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"document.{name} is missing or malformed, got {value!r}")
    return value


def _bill_decimal(document: Mapping[str, Any], name: str) -> Decimal:
    text = _bill_member(document, name, str)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"document.{name} must be a decimal number as text, got {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"document.{name} must be finite, got {text!r}")
    return value


def _charged(document: Mapping[str, Any]) -> dict[str, Any]:
    """A bill's document without its statement (the heading: owner, addresses, usage history, dates), which
    says who is billed and how to pay but not what: two documents equal here are the same bill, and the
    one issued first stays as it was issued."""
    return {k: w for k, w in document.items() if k != "statement"}


def _bill_row(document: Mapping[str, Any]) -> dict[str, Any]:
    """The columns of a bill's row from its document; ``ValueError`` naming a bad member."""
    if not isinstance(document, Mapping):
        raise ValueError(f"document must be a mapping (Bill.to_dict()), got {type(document).__name__}")
    doc: dict[str, Any] = v.check_json("document", dict(document))
    inputs = _bill_member(doc, "inputs", dict)
    sha = _bill_member(inputs, "tariff_sha256", str)
    if len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha):
        raise ValueError(f"document.inputs.tariff_sha256 must be 64 lower-case hex digits, got {sha!r}")
    mode = _bill_member(doc, "mode", str)
    if mode not in _BILL_MODES:
        raise ValueError(f"document.mode must be one of {_BILL_MODES}, got {mode!r}")
    try:
        start = datetime.fromisoformat(_bill_member(doc, "start", str))
        end = datetime.fromisoformat(_bill_member(doc, "end", str))
    except ValueError:
        raise ValueError("document.start and document.end must be ISO 8601 date-times") from None
    start, end = v.check_utc("document.start", start), v.check_utc("document.end", end)
    if end <= start:
        raise ValueError(f"document.end must be after document.start, got {end.isoformat()}")
    energy = _bill_member(doc, "energy_wh", int)
    total = _bill_decimal(doc, "total")
    printed_total = _bill_decimal(doc, "printed_total")
    if printed_total != printed_total.quantize(Decimal("0.01")):
        raise ValueError(f"document.printed_total must be whole cents, got {str(printed_total)!r}")
    lines = _bill_member(doc, "lines", list)
    figures = {k: w for k, w in doc.items() if k not in ("lines", "inputs")}
    return {
        "account": _bill_member(doc, "account", str),
        "meter": _bill_member(doc, "meter", str),
        "period_start": start,
        "period_end": end,
        "timezone": _bill_member(doc, "timezone", str),
        "mode": mode,
        "tariff_name": _bill_member(doc, "tariff", str),
        "tariff_sha256": sha,
        "engine_version": _bill_member(inputs, "engine_version", str),
        "energy_wh": energy,
        "total": str(total),
        "printed_total_cents": int(printed_total * 100),
        "figures": figures,
        "lines": lines,
        "inputs": inputs,
        "document": doc,
    }


def _stored_bill(r: Row[Any], *, with_inputs: bool = True) -> StoredBill:
    document = dict(r.figures)
    document["lines"] = list(r.lines)
    if with_inputs:
        document["inputs"] = dict(r.inputs)
    return StoredBill(
        id=r.id,
        site_id=r.site_id,
        account_id=r.account_id,
        meter_id=r.meter_id,
        account=r.account,
        meter=r.meter,
        period_start=r.period_start,
        period_end=r.period_end,
        timezone=r.timezone,
        mode=r.mode,
        tariff_name=r.tariff_name,
        tariff_sha256=r.tariff_sha256,
        engine_version=r.engine_version,
        energy_wh=int(r.energy_wh),
        total=Decimal(r.total),
        printed_total=Decimal(int(r.printed_total_cents)) / 100,
        created_at=r.created_at,
        document=document,
    )


class BillsMixin(StoreBase):
    """Bills with the inputs that produced them (``docs/billing.md``, "Stored bills")."""

    def save_bill(
        self,
        *,
        document: Mapping[str, Any],
        site_id: int | None = None,
        account_id: int | None = None,
        meter_id: int | None = None,
        created_at: datetime | None = None,
        carried: Sequence[int] = (),
    ) -> tuple[StoredBill, bool]:
        """
        Store a bill with the inputs that produced it; idempotent.

        Parameters
        ----------
        document : mapping
            The bill as ``meshmeter.billing.Bill.to_dict()`` gives it, its intervals included: account,
            meter, mode, tariff, period (``start``, ``end``), time zone, energy [Wh], lines, ``total`` and
            ``printed_total`` (exact decimal text) [USD], and ``inputs`` (the tariff and its SHA-256, the
            engine version, the intervals ...).
        site_id, account_id, meter_id : int, optional
            The site, the store's account (tenant in a unit) and the meter billed, when known; each must
            exist.
        created_at : datetime, optional
            When; default now.
        carried : sequence of int, optional
            Ids of the ``next_bill`` corrections whose adjustment lines this bill carries: marked applied
            to it in the same transaction (:meth:`apply_corrections`).

        Returns
        -------
        (StoredBill, bool)
            The bill as stored, and True when it was new. A bill of the same account, meter, period and
            tariff SHA-256 already stored with the same lines, total and inputs (its statement aside) is
            returned as it is
            (False): re-running a bill changes nothing.

        Raises
        ------
        BillConflictError
            When a bill of the same account, meter, period and tariff is stored with other figures (the
            intervals changed since), or a carried correction is applied to another bill already
            (:class:`CorrectionConflictError`); nothing is changed.
        ValueError
            When the document lacks a member or has a malformed one (named).
        """
        row = _bill_row(document)
        carried_ids = [v.check_id("carried", c) for c in carried]
        site_id = None if site_id is None else v.check_id("site_id", site_id)
        account_id = None if account_id is None else v.check_id("account_id", account_id)
        meter_id = None if meter_id is None else v.check_id("meter_id", meter_id)
        created_at = _now() if created_at is None else v.check_utc("created_at", created_at)
        t = bills
        key = (
            (t.c.account == row["account"])
            & (t.c.meter == row["meter"])
            & (t.c.period_start == row["period_start"])
            & (t.c.period_end == row["period_end"])
            & (t.c.tariff_sha256 == row["tariff_sha256"])
        )
        with self._write() as c:
            if site_id is not None:
                self._require(c, sites, site_id, "site_id", "site")
            if account_id is not None:
                self._require(c, accounts, account_id, "account_id", "account")
            if meter_id is not None:
                self._require(c, meters, meter_id, "meter_id", "meter")
            found = c.execute(select(t).where(key)).first()
            if found is not None:
                old = _stored_bill(found)
                if _charged(old.document) != _charged(row["document"]):
                    raise BillConflictError(
                        f"bill {old.id} of account {row['account']!r}, meter {row['meter']!r} for "
                        f"{row['period_start'].isoformat()} to {row['period_end'].isoformat()} at this "
                        "tariff is stored with other figures; its inputs changed since"
                    )
                self._apply(c, carried_ids, old.id)
                return old, False
            values = {k: w for k, w in row.items() if k != "document"}
            bill_id = c.execute(
                insert(t)
                .values(
                    site_id=site_id,
                    account_id=account_id,
                    meter_id=meter_id,
                    created_at=created_at,
                    **values,
                )
                .returning(t.c.id)
            ).scalar_one()
            stored = c.execute(select(t).where(t.c.id == bill_id)).one()
            self._apply(c, carried_ids, bill_id)
        return _stored_bill(stored), True

    def list_bills(
        self,
        *,
        site: int | Site | None = None,
        account: str | None = None,
        account_id: int | None = None,
        meter: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[StoredBill]:
        """
        Stored bills, by period start then id, without their inputs (``document`` holds the lines and the
        figures; :meth:`get_bill` gives the whole bill).

        Parameters
        ----------
        site : int or Site, optional
            Only this site's.
        account : str, optional
            Only this account's (as billed).
        account_id : int, optional
            Only this store account's.
        meter : str, optional
            Only this meter's (serial).
        start, end : datetime, optional
            Aware; only the periods that overlap ``(start, end]``.
        """
        t = bills
        columns = [c for c in t.c if c.name != "inputs"]
        query = select(*columns).order_by(t.c.period_start, t.c.id)
        if site is not None:
            query = query.where(
                t.c.site_id == v.check_id("site", site.id if isinstance(site, Site) else site)
            )
        if account is not None:
            query = query.where(t.c.account == account)
        if account_id is not None:
            query = query.where(t.c.account_id == v.check_id("account_id", account_id))
        if meter is not None:
            query = query.where(t.c.meter == meter)
        if start is not None:
            query = query.where(t.c.period_end > v.check_utc("start", start))
        if end is not None:
            query = query.where(t.c.period_start < v.check_utc("end", end))
        with self._read() as c:
            rows = c.execute(query).all()
        return [_stored_bill(r, with_inputs=False) for r in rows]

    def get_bill(self, bill_id: int) -> StoredBill | None:
        """The stored bill with this id, its inputs included (``document`` is the whole bill), or None."""
        bill_id = v.check_id("bill_id", bill_id)
        with self._read() as c:
            row = c.execute(select(bills).where(bills.c.id == bill_id)).first()
        return None if row is None else _stored_bill(row)

    # -- corrections of issued bills ----------------------------------------------------------------------

    def issue_correction(
        self,
        *,
        bill_id: int,
        mode: str,
        reason: str,
        document: Mapping[str, Any],
        lines: Sequence[Mapping[str, Any]],
        based_on: int,
        issued_by: str | None = None,
        issued_at: datetime | None = None,
    ) -> StoredCorrection:
        """
        Keep a correction of an issued bill, as the next of its sequence; the bill itself is not changed.

        Parameters
        ----------
        bill_id : int
            The issued bill.
        mode : str
            ``"corrected_bill"`` or ``"next_bill"`` (the site's ``correction_mode`` when it was issued).
        reason : str
            What changed under the bill, in words.
        document : mapping
            The corrected bill (``Bill.to_dict()`` with its inputs and intervals), of the same account,
            meter and period as the bill.
        lines : sequence of mapping
            The adjustment lines (``LineItem.to_dict()``), each with its ``amount``. [USD]
        based_on : int
            The sequence of the correction the document was computed from, 0 for the issued bill itself:
            when another was issued meanwhile, this one is refused (two people issuing at once: one wins).
        issued_by : str, optional
            Who, as recorded.
        issued_at : datetime, optional
            When; default now.

        Returns
        -------
        StoredCorrection
            As stored; its ``difference`` is the document's printed total less the state it corrects.

        Raises
        ------
        NotFoundError
            When no bill has this id.
        CorrectionConflictError
            When another correction of the bill was issued since ``based_on``, or the document's intervals
            are those of the state it corrects (nothing changed); nothing is changed.
        ValueError
            Naming every bad argument at once.
        """
        problems: list[str] = []
        row: dict[str, Any] = {}
        checked_lines: list[dict[str, Any]] = []
        for check in (
            lambda: v.check_id("bill_id", bill_id),
            lambda: v.check_choice("mode", mode, CORRECTION_MODES),
            lambda: v.check_text("reason", reason),
            lambda: v.check_int("based_on", based_on, low=0, expected="a correction's sequence, 0 for none"),
            lambda: row.update(_bill_row(document)),
            lambda: checked_lines.extend(_correction_lines(lines)),
            lambda: None if issued_by is None else v.check_text("issued_by", issued_by),
        ):
            try:
                check()
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))
        issued_at = _now() if issued_at is None else v.check_utc("issued_at", issued_at)
        t = bill_corrections
        with self._write() as c:
            # PostgreSQL: a row lock on the bill serialises its correctors (SQLite: BEGIN IMMEDIATE does)
            found = c.execute(select(bills).where(bills.c.id == bill_id).with_for_update()).first()
            if found is None:
                raise NotFoundError("bill", bill_id, "meshmeter bill --save stores bills")
            original = _stored_bill(found)
            for name, wanted in (
                ("account", original.account),
                ("meter", original.meter),
                ("period_start", original.period_start),
                ("period_end", original.period_end),
            ):
                if row[name] != wanted:
                    raise ValueError(
                        f"document.{name} must be the bill's ({wanted!s}), got {row[name]!s}: a correction "
                        "bills the same account, meter and period again"
                    )
            last = c.execute(
                select(t).where(t.c.bill_id == bill_id).order_by(t.c.sequence.desc()).limit(1)
            ).first()
            sequence = 0 if last is None else int(last.sequence)
            if sequence != based_on:
                raise CorrectionConflictError(
                    f"correction {sequence} of bill {bill_id} was issued meanwhile; this one was computed "
                    f"from {'the issued bill' if based_on == 0 else f'correction {based_on}'}: "
                    "look at the bill again (meshmeter corrections show)"
                )
            base = original.document if last is None else dict(last.document)
            base_inputs = base.get("inputs", {})
            if base_inputs.get("interval_digest") == row["inputs"].get("interval_digest"):
                raise CorrectionConflictError(
                    f"nothing changed under bill {bill_id} since "
                    f"{'it was issued' if last is None else f'its correction {sequence}'}: "
                    "its intervals are the same, there is nothing to correct"
                )
            difference = Decimal(row["document"]["printed_total"]) - Decimal(str(base["printed_total"]))
            try:
                new_id = c.execute(
                    insert(t)
                    .values(
                        bill_id=bill_id,
                        sequence=sequence + 1,
                        mode=mode,
                        reason=reason,
                        difference=str(difference),
                        document=row["document"],
                        lines=checked_lines,
                        issued_at=issued_at,
                        issued_by=issued_by,
                    )
                    .returning(t.c.id)
                ).scalar_one()
            except IntegrityError:
                raise CorrectionConflictError(
                    f"another correction of bill {bill_id} was issued at the same time; look at it again"
                ) from None
            stored = c.execute(_correction_query().where(t.c.id == new_id)).one()
        return _stored_correction(stored)

    def list_corrections(
        self,
        *,
        bill_id: int | None = None,
        account_id: int | None = None,
        site_id: int | None = None,
        pending: bool | None = None,
        applied_bill_id: int | None = None,
    ) -> list[StoredCorrection]:
        """
        Corrections of issued bills, by bill then sequence.

        Parameters
        ----------
        bill_id : int, optional
            Only those of this bill.
        account_id, site_id : int, optional
            Only those of this store account's (this site's) bills.
        pending : bool, optional
            True: only the ``next_bill`` ones no bill has carried yet; False: only the others.
        applied_bill_id : int, optional
            Only those whose lines this bill carries.
        """
        t = bill_corrections
        query = _correction_query().order_by(t.c.bill_id, t.c.sequence)
        if bill_id is not None:
            query = query.where(t.c.bill_id == v.check_id("bill_id", bill_id))
        if account_id is not None:
            query = query.where(bills.c.account_id == v.check_id("account_id", account_id))
        if site_id is not None:
            query = query.where(bills.c.site_id == v.check_id("site_id", site_id))
        if applied_bill_id is not None:
            query = query.where(t.c.applied_bill_id == v.check_id("applied_bill_id", applied_bill_id))
        waiting = (t.c.mode == "next_bill") & t.c.applied_bill_id.is_(None)
        if pending is not None:
            query = query.where(waiting if v.check_bool("pending", pending) else ~waiting)
        with self._read() as c:
            rows = c.execute(query).all()
        return [_stored_correction(r) for r in rows]

    def get_correction(self, *, bill_id: int, sequence: int) -> StoredCorrection | None:
        """The correction ``sequence`` (1, 2 ...) of the bill, or None."""
        bill_id = v.check_id("bill_id", bill_id)
        sequence = v.check_int("sequence", sequence, low=1, expected="1, 2 ...")
        t = bill_corrections
        with self._read() as c:
            row = c.execute(
                _correction_query().where((t.c.bill_id == bill_id) & (t.c.sequence == sequence))
            ).first()
        return None if row is None else _stored_correction(row)

    def apply_corrections(self, *, correction_ids: Sequence[int], bill_id: int) -> list[StoredCorrection]:
        """
        Mark ``next_bill`` corrections as carried by a bill (its adjustment lines are on it).

        Raises
        ------
        CorrectionConflictError
            When one is not a ``next_bill`` correction, or another bill carries it already; nothing is
            changed.
        ValueError
            When the bill or a correction is unknown.
        """
        ids = [v.check_id("correction_ids", i) for i in correction_ids]
        bill_id = v.check_id("bill_id", bill_id)
        with self._write() as c:
            self._require(c, bills, bill_id, "bill_id", "bill")
            self._apply(c, ids, bill_id)
            rows = c.execute(_correction_query().where(bill_corrections.c.id.in_(ids))).all()
        return [_stored_correction(r) for r in rows]

    @staticmethod
    def _apply(c: Connection, ids: Sequence[int], bill_id: int) -> None:
        t = bill_corrections
        for correction_id in ids:
            found = c.execute(select(t).where(t.c.id == correction_id).with_for_update()).first()
            if found is None:
                raise ValueError(f"correction_ids: {correction_id} is not a known correction")
            if found.mode != "next_bill":
                raise CorrectionConflictError(
                    f"correction {found.sequence} of bill {found.bill_id} is a corrected bill: no bill "
                    "carries its lines"
                )
            if found.applied_bill_id not in (None, bill_id):
                raise CorrectionConflictError(
                    f"correction {found.sequence} of bill {found.bill_id} is carried by bill "
                    f"{found.applied_bill_id} already"
                )
            c.execute(update(t).where(t.c.id == correction_id).values(applied_bill_id=bill_id))


def _correction_lines(lines: object) -> list[dict[str, Any]]:
    if isinstance(lines, (str, bytes)) or not isinstance(lines, Sequence):
        raise ValueError(f"lines must be a list of adjustment lines, got {type(lines).__name__}")
    out = []
    for i, line in enumerate(lines):
        if not isinstance(line, Mapping):
            raise ValueError(f"lines[{i}] must be a mapping (LineItem.to_dict()), got {line!r}")
        try:
            Decimal(str(line["amount"]))
        except (KeyError, InvalidOperation):
            raise ValueError(
                f"lines[{i}].amount must be a decimal number, got {line.get('amount')!r}"
            ) from None
        out.append(v.check_json(f"lines[{i}]", dict(line)))
    return out


def _correction_query() -> Any:
    t = bill_corrections
    return select(t, bills.c.account_id, bills.c.site_id).join(bills, bills.c.id == t.c.bill_id)


def _stored_correction(r: Row[Any]) -> StoredCorrection:
    return StoredCorrection(
        id=int(r.id),
        bill_id=int(r.bill_id),
        sequence=int(r.sequence),
        mode=r.mode,
        reason=r.reason,
        difference=Decimal(r.difference),
        issued_at=r.issued_at,
        issued_by=r.issued_by,
        applied_bill_id=None if r.applied_bill_id is None else int(r.applied_bill_id),
        account_id=None if r.account_id is None else int(r.account_id),
        site_id=None if r.site_id is None else int(r.site_id),
        document=dict(r.document),
        lines=list(r.lines),
    )
