"""Stored bills: a bill with the inputs that produced it, once per account, meter, period and tariff
(``docs/billing.md``, "Stored bills")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Row, insert, select

from meshmeter.errors import BillConflictError
from meshmeter.store import _validate as v
from meshmeter.store.base import StoreBase, _now
from meshmeter.store.models import Site
from meshmeter.store.schema import accounts, bills, meters, sites

__all__ = ["BillConflictError", "BillsMixin", "StoredBill"]


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

        Returns
        -------
        (StoredBill, bool)
            The bill as stored, and True when it was new. A bill of the same account, meter, period and
            tariff SHA-256 already stored with the same lines, total and inputs is returned as it is
            (False): re-running a bill changes nothing.

        Raises
        ------
        BillConflictError
            When a bill of the same account, meter, period and tariff is stored with other figures (the
            intervals changed since); nothing is changed.
        ValueError
            When the document lacks a member or has a malformed one (named).
        """
        row = _bill_row(document)
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
                if old.document != row["document"]:
                    raise BillConflictError(
                        f"bill {old.id} of account {row['account']!r}, meter {row['meter']!r} for "
                        f"{row['period_start'].isoformat()} to {row['period_end'].isoformat()} at this "
                        "tariff is stored with other figures; its inputs changed since"
                    )
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
