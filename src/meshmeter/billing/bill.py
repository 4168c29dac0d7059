"""A tenant bill: itemised lines in exact Decimal USD, the usage behind them, and the inputs that made it.

Amounts are exact :class:`~decimal.Decimal` (never rounded in the engine). The printed bill rounds each line
to the cent (half up) and its total is the sum of the printed lines, so the paper adds up
(``docs/billing.md``). Outputs: :meth:`Bill.to_dict` / :func:`bill_to_json`, :func:`bills_to_csv`,
:func:`bill_to_html` (a Jinja2 template shipped as package data) and :func:`bill_to_pdf` (fpdf2).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from meshmeter.billing.calendar import INTERVAL_S

__all__ = [
    "CENT",
    "ENGINE_VERSION",
    "Bill",
    "LineItem",
    "MeterEvent",
    "MeterRead",
    "Statement",
    "UsageMonth",
    "bill_to_html",
    "bill_to_json",
    "bill_to_pdf",
    "bills_to_csv",
    "demand_name",
    "interval_digest",
    "printed",
    "shown_lines",
    "shown_quantity",
    "shown_rate",
    "with_statement",
]

IntArray = npt.NDArray[np.int64]

CENT: Final = Decimal("0.01")

ENGINE_VERSION: Final = "meshmeter-billing/1"
"""Names the bill engine's rules; a bill records it, and re-billing refuses another version's bill."""


def printed(amount: Decimal) -> Decimal:
    """An amount as printed on a bill: to the cent, half up. [USD]"""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def demand_name(interval_s: int) -> str:
    """
    How a bill names the block demand of intervals of ``interval_s``: ``"15-min"``, ``"hourly"`` ...

    The engine's demand is an interval's energy over its length, so the meter's interval length is the
    demand interval: with hourly data it is an hourly demand, and the bill says so. [s]
    """
    return "hourly" if interval_s == 3600 else f"{interval_s // 60}-min"


def interval_digest(interval_end_s: IntArray, energy_wh: IntArray, quality: IntArray) -> str:
    """
    SHA-256 naming a meter's interval data: the three columns as little-endian int64, one after another.

    Parameters
    ----------
    interval_end_s : ndarray of int
        Interval ends, seconds since the Unix epoch. [s]
    energy_wh : ndarray of int
        Energy of each interval. [Wh]
    quality : ndarray of int
        ESPI quality code of each interval.
    """
    h = hashlib.sha256()
    for column in (interval_end_s, energy_wh, quality):
        h.update(np.ascontiguousarray(column, dtype="<i8").tobytes())
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class LineItem:
    """
    One line of a bill: ``amount = quantity × rate × factor``.

    Attributes
    ----------
    kind : str
        ``"energy"``, ``"demand"``, ``"flat_demand"``, ``"fixed"``, ``"minimum"``, ``"allocation"`` or
        ``"admin_fee"``.
    description : str
        For people.
    quantity : Decimal
        The billed quantity. [``unit``]
    unit : str
        ``"kWh"``, ``"kW"``, ``"month"``, ``"day"`` or ``"bill"``.
    rate : Decimal
        Price per unit. [USD/``unit``]
    factor : Decimal
        Proration factor (a part of a month for a demand charge), 1 otherwise. [1]
    amount : Decimal
        Exact amount. [USD]
    period : int or None
        Tariff period (0-based, as in URDB), for energy and demand lines.
    tier : int or None
        Tier (0-based), for energy and demand lines.
    """

    kind: str
    description: str
    quantity: Decimal
    unit: str
    rate: Decimal
    factor: Decimal
    amount: Decimal
    period: int | None = None
    tier: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: numbers as decimal strings, the printed amount beside the exact one."""
        return {
            "kind": self.kind,
            "description": self.description,
            "quantity": str(self.quantity),
            "unit": self.unit,
            "rate": str(self.rate),
            "factor": str(self.factor),
            "amount": str(self.amount),
            "printed_amount": str(printed(self.amount)),
            "period": self.period,
            "tier": self.tier,
        }


@dataclass(frozen=True, slots=True)
class MeterRead:
    """
    One meter's register reads over the part of the billing period it served the account (``docs/billing.md``,
    "A meter's life"): a period served by one meter has one, an exchange within the period two.

    Attributes
    ----------
    meter : str
        The meter's serial.
    start, end : datetime
        The part of the period it served, ``(start, end]``, UTC.
    opening_wh, closing_wh : int or None
        The register as read at ``start`` and ``end``, before the multiplier (what the register shows,
        ``0 .. 10**digits`` kWh for a register that rolls over), when known. [Wh]
    opening_source, closing_source : str
        Where each read comes from: ``"stored"`` (a register read taken then), ``"install"`` (the first
        read recorded when the meter was installed), ``"removal"`` (the final read recorded when it was
        removed), ``"change"`` (the read recorded with a multiplier or CT ratio change), ``"given"``
        (given for the bill, ``--opening-read-wh``), ``"intervals"`` (the intervals' cumulative),
        ``"computed"`` (the opening read plus the energy of the part's billed intervals), or
        ``"none"``.
    multiplier : float
        The multiplier in force over ``(start, end]``: a change within the period splits a meter's reads
        in two. [1]
    energy_wh : int or None
        The energy the reads give: ``(closing - opening) × multiplier``, through a rollover of the register
        where closing is below opening; None when a read is unknown. [Wh]
    """

    meter: str
    start: datetime
    end: datetime
    opening_wh: int | None
    closing_wh: int | None
    opening_source: str
    closing_source: str
    multiplier: float = 1.0
    energy_wh: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "meter": self.meter,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "opening_wh": self.opening_wh,
            "closing_wh": self.closing_wh,
            "opening_source": self.opening_source,
            "closing_source": self.closing_source,
            "multiplier": self.multiplier,
            "energy_wh": self.energy_wh,
        }


@dataclass(frozen=True, slots=True)
class MeterEvent:
    """
    A change in a meter's life within the billing period, shown on the bill: installed, removed, exchanged,
    a multiplier or CT ratio changed, the register rolled over.

    Attributes
    ----------
    at : datetime
        When, UTC.
    meter : str
        The meter's serial.
    kind : str
        ``"install"``, ``"remove"``, ``"exchange"``, ``"multiplier"``, ``"ct_ratio"`` or ``"rollover"``.
    text : str
        In words, as printed (no raw floats).
    """

    at: datetime
    meter: str
    kind: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"at": self.at.isoformat(), "meter": self.meter, "kind": self.kind, "text": self.text}


@dataclass(frozen=True, slots=True)
class UsageMonth:
    """
    One calendar month of an account's usage, as the printed bill's history chart shows it.

    Attributes
    ----------
    month : date
        The month's first day, in the site's time zone.
    energy_wh : int or None
        Energy of the month's billed intervals (valid, edited, estimated); None when no interval of
        the month is billed (before the meter served the unit, or data not yet validated). [Wh]
    estimated_wh : int
        The part of it that was estimated. [Wh]
    apportioned_wh : int
        The part of it apportioned between a real device's readings (quality 11, derived;
        ``docs/collect.md``). [Wh]
    """

    month: date
    energy_wh: int | None
    estimated_wh: int = 0
    apportioned_wh: int = 0

    @property
    def estimated(self) -> bool:
        """Whether any of the month's energy was estimated."""
        return self.estimated_wh > 0

    @property
    def apportioned(self) -> bool:
        """Whether any of the month's energy was apportioned between readings."""
        return self.apportioned_wh > 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the month as ``YYYY-MM``; ``apportioned_wh`` only where some was (a month without
        any reads as it did before apportioning was shown)."""
        out: dict[str, Any] = {
            "month": self.month.strftime("%Y-%m"),
            "energy_wh": self.energy_wh,
            "estimated_wh": self.estimated_wh,
        }
        if self.apportioned_wh:
            out["apportioned_wh"] = self.apportioned_wh
        return out


@dataclass(frozen=True, slots=True)
class Statement:
    """
    What a printed bill says besides its charges: who bills whom for which unit, when it is due, how to
    pay, and the account's usage of the 13 months ending with the bill's (``docs/billing.md``, "The
    printed bill"). Gathered from the store (:func:`meshmeter.services.statement.statement_for`); not an
    input of the charges, so re-billing ignores it.

    Attributes
    ----------
    site : str or None
        The site (building) name.
    owner_name, owner_address : str or None
        The owner or manager who bills, and their postal address (lines separated by newlines).
    unit, unit_address : str or None
        The unit billed and its postal address.
    account_number : str or None
        The account's number, as the tenant quotes it when paying.
    tenant : str or None
        The tenant's name.
    payment_instructions : str or None
        How to pay.
    due_days : int
        Days from issue to due date. [d]
    history : tuple of UsageMonth
        Monthly usage, oldest first, ending with the bill's month.
    issued : date or None
        The issue date: the day the bill was saved, in the site's time zone; None for a bill not saved
        (printed, it is issued today).
    """

    site: str | None = None
    owner_name: str | None = None
    owner_address: str | None = None
    unit: str | None = None
    unit_address: str | None = None
    account_number: str | None = None
    tenant: str | None = None
    payment_instructions: str | None = None
    due_days: int = 21
    history: tuple[UsageMonth, ...] = ()
    issued: date | None = None

    def due(self, issued: date) -> date:
        """The due date of a bill issued on ``issued``: ``due_days`` later."""
        return issued + timedelta(days=self.due_days)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the issue date is the stored bill's creation, so it is not recorded here."""
        return {
            "site": self.site,
            "owner_name": self.owner_name,
            "owner_address": self.owner_address,
            "unit": self.unit,
            "unit_address": self.unit_address,
            "account_number": self.account_number,
            "tenant": self.tenant,
            "payment_instructions": self.payment_instructions,
            "due_days": self.due_days,
            "history": [m.to_dict() for m in self.history],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, issued: date | None = None) -> Statement:
        """
        The statement of :meth:`to_dict`'s form (a stored bill's ``statement``).

        Raises
        ------
        ValueError
            Naming the member that is malformed.
        """

        def text(name: str) -> str | None:
            value = data.get(name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"statement.{name} must be text or null, got {value!r}")
            return value

        due_days = data.get("due_days", 21)
        if not isinstance(due_days, int) or isinstance(due_days, bool) or not 0 <= due_days <= 366:
            raise ValueError(f"statement.due_days must be a whole number of days, got {due_days!r}")
        history = []
        for i, row in enumerate(data.get("history") or ()):
            try:
                first = datetime.strptime(str(row["month"]), "%Y-%m").date()
                energy = row.get("energy_wh")
                history.append(
                    UsageMonth(
                        first,
                        None if energy is None else int(energy),
                        int(row.get("estimated_wh", 0)),
                        int(row.get("apportioned_wh", 0)),  # absent in bills stored before it was shown
                    )
                )
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"statement.history[{i}] is not a month of usage: {row!r}") from None
        return cls(
            site=text("site"),
            owner_name=text("owner_name"),
            owner_address=text("owner_address"),
            unit=text("unit"),
            unit_address=text("unit_address"),
            account_number=text("account_number"),
            tenant=text("tenant"),
            payment_instructions=text("payment_instructions"),
            due_days=due_days,
            history=tuple(history),
            issued=issued,
        )


def with_statement(
    bill: Bill, data: Mapping[str, Any] | Statement | None, *, issued: date | None = None
) -> Bill:
    """
    The bill with the statement a stored bill records (``document["statement"]``), issued on ``issued``
    (the day it was saved); the bill as it is when there is none.
    """
    if data is None:
        return bill
    statement = data if isinstance(data, Statement) else Statement.from_dict(data)
    if issued is not None:
        statement = replace(statement, issued=issued)
    return replace(bill, statement=statement)


@dataclass(frozen=True)
class Bill:
    """
    One tenant's bill for one billing period.

    Attributes
    ----------
    account : str
        The tenant (account) billed.
    meter : str
        The meter's serial.
    mode : str
        ``"california"`` (re-rated at the residential schedule, PU Code §739.5) or ``"maryland"``
        (share of the master bill by kWh plus an administrative fee).
    tariff_name : str
        The tariff's name.
    start, end : datetime
        The billing period ``(start, end]``, UTC.
    timezone : str
        IANA time zone of the tariff's local time.
    service_start, service_end : datetime
        The part of the period the tenant occupied (move-in, move-out), UTC.
    opening_read_wh, closing_read_wh : int or None
        Register reads at the start and end of service, when known. [Wh]
    energy_wh : int
        Energy billed: valid, edited and estimated intervals in service. [Wh]
    energy_by_period_wh : tuple of int
        Billed energy per energy period (URDB order); sums to ``energy_wh``. [Wh]
    energy_by_period_tier_wh : tuple of tuple of int
        Billed energy per period and tier. [Wh]
    tier_limits_wh : tuple of int
        Upper limit of each tier but the last over the service (the first is the baseline allowance). [Wh]
    max_demand_kw : Decimal or None
        Highest block demand in service: interval energy / interval length (``interval_s / 3600`` h), a
        15-minute demand for the default length, an hourly one for hourly data. [kW]
    estimated_wh : int
        Billed energy that was estimated (quality 8 or 9). [Wh]
    estimated_intervals : int
        Number of those intervals. [1]
    unbilled_intervals : int
        Intervals in service not billed: failed VEE (questionable) or missing. [1]
    unbilled_wh : int
        Energy recorded in the questionable ones (missing ones have none). [Wh]
    lines : tuple of LineItem
        The itemised charges.
    inputs : dict
        What produced the bill (tariff document and hash, period, time zone, tenant, reads, mode
        parameters, engine version); with the interval columns of :attr:`interval_columns` it reproduces
        the bill exactly (:func:`meshmeter.billing.verify_bill`).
    interval_columns : tuple of ndarray
        ``(interval_end_s, energy_wh, quality)`` of the meter over the billing period's grid.
    interval_s : int
        Length of each of the meter's intervals (900 unless the meter has another): the grid of
        :attr:`interval_columns` and the demand interval of :attr:`max_demand_kw`. [s]
    apportioned_wh : int
        Billed energy apportioned between a real device's readings (quality 11, derived: an interval
        whose end lies between two readings of its register gets the straight line's share,
        ``docs/collect.md``). Measured energy, not estimated, but not read at the interval's ends. [Wh]
    apportioned_intervals : int
        Number of those intervals. [1]
    reads : tuple of MeterRead
        The register reads of each meter that served the account in the period (empty: only
        :attr:`opening_read_wh` and :attr:`closing_read_wh` are known).
    meter_events : tuple of MeterEvent
        What changed in the meters' life within the period, in time order.
    credit_out_wh : tuple of int or None
        Net metering carry-over: the kWh credit this bill carries to the meter's next bill, per energy
        period (where it was earned; the next bill's ``credit_in_wh``); all zero after a true-up; None
        when the bill carries no kWh credit (``docs/billing.md``, "Credit carried between bills"). [Wh]
    credit_out : Decimal or None
        Net billing carry-over: the dollar credit carried to the next bill (its ``credit_in``); None when
        the bill carries none. [USD]
    statement : Statement or None
        What the printed bill says of its site, unit, account, dates and usage history, when gathered
        from the store (not an input of the charges).
    """

    account: str
    meter: str
    mode: str
    tariff_name: str
    start: datetime
    end: datetime
    timezone: str
    service_start: datetime
    service_end: datetime
    opening_read_wh: int | None
    closing_read_wh: int | None
    energy_wh: int
    energy_by_period_wh: tuple[int, ...]
    energy_by_period_tier_wh: tuple[tuple[int, ...], ...]
    tier_limits_wh: tuple[int, ...]
    max_demand_kw: Decimal | None
    estimated_wh: int
    estimated_intervals: int
    unbilled_intervals: int
    unbilled_wh: int
    lines: tuple[LineItem, ...]
    inputs: dict[str, Any] = field(repr=False)
    interval_columns: tuple[IntArray, IntArray, IntArray] = field(repr=False, compare=False)
    interval_s: int = INTERVAL_S
    apportioned_wh: int = 0
    apportioned_intervals: int = 0
    reads: tuple[MeterRead, ...] = ()
    meter_events: tuple[MeterEvent, ...] = ()
    credit_out_wh: tuple[int, ...] | None = None
    credit_out: Decimal | None = None
    statement: Statement | None = field(default=None, compare=False)

    @property
    def total(self) -> Decimal:
        """Exact total of the lines. [USD]"""
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def printed_total(self) -> Decimal:
        """Total of the printed (cent-rounded) lines: what the tenant pays. [USD]"""
        return sum((printed(line.amount) for line in self.lines), Decimal(0))

    @property
    def estimated_share(self) -> Decimal:
        """Part of the billed energy that was estimated, 0 to 1. [1]"""
        if self.energy_wh == 0:
            return Decimal(0)
        return Decimal(self.estimated_wh) / Decimal(self.energy_wh)

    @property
    def apportioned_share(self) -> Decimal:
        """Part of the billed energy that was apportioned between readings, 0 to 1 (as
        :attr:`estimated_share`). [1]"""
        if self.energy_wh == 0:
            return Decimal(0)
        return Decimal(self.apportioned_wh) / Decimal(self.energy_wh)

    @cached_property
    def interval_digest(self) -> str:
        """SHA-256 of the meter's interval columns (:func:`interval_digest`)."""
        return interval_digest(*self.interval_columns)

    def to_dict(self, *, include_intervals: bool = True) -> dict[str, Any]:
        """
        The bill as JSON-ready data, with its inputs.

        Parameters
        ----------
        include_intervals : bool
            Put the interval columns into ``inputs.intervals`` (needed to re-bill from the document alone).
        """
        # Columns of interval data an input carries as an array (export_wh) are listed here, as the
        # interval columns are, and left out with them.
        inputs = {k: v.tolist() if hasattr(v, "tolist") else v for k, v in self.inputs.items()}
        if not include_intervals:
            inputs.pop("export_wh", None)
        inputs["interval_digest"] = self.interval_digest
        if include_intervals:
            ends, energy, quality = self.interval_columns
            inputs["intervals"] = {
                "interval_end_s": ends.tolist(),
                "energy_wh": energy.tolist(),
                "quality": quality.tolist(),
            }
        out: dict[str, Any] = {
            "account": self.account,
            "meter": self.meter,
            "mode": self.mode,
            "tariff": self.tariff_name,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "timezone": self.timezone,
            "service_start": self.service_start.isoformat(),
            "service_end": self.service_end.isoformat(),
            "opening_read_wh": self.opening_read_wh,
            "closing_read_wh": self.closing_read_wh,
            "energy_wh": self.energy_wh,
            "energy_by_period_wh": list(self.energy_by_period_wh),
            "energy_by_period_tier_wh": [list(r) for r in self.energy_by_period_tier_wh],
            "tier_limits_wh": list(self.tier_limits_wh),
            "baseline_allowance_wh": self.tier_limits_wh[0] if self.tier_limits_wh else None,
            "max_demand_kw": None if self.max_demand_kw is None else str(self.max_demand_kw),
            "estimated_wh": self.estimated_wh,
            "estimated_intervals": self.estimated_intervals,
            "estimated_share": str(self.estimated_share),
        }
        # Only on a bill with apportioned intervals, so other bills' documents are what they were (a bill
        # stored before apportioning was shown is saved again unchanged; absent reads as 0).
        if self.apportioned_intervals:
            out["apportioned_wh"] = self.apportioned_wh
            out["apportioned_intervals"] = self.apportioned_intervals
            out["apportioned_share"] = str(self.apportioned_share)
        out.update(
            {
                "unbilled_intervals": self.unbilled_intervals,
                "unbilled_wh": self.unbilled_wh,
                "reads": [r.to_dict() for r in self.reads],
                "meter_events": [e.to_dict() for e in self.meter_events],
                "lines": [line.to_dict() for line in self.lines],
                "total": str(self.total),
                "printed_total": str(self.printed_total),
                "inputs": inputs,
            }
        )
        # Only on a bill that carries credit, so other bills' documents are what they were.
        if self.credit_out_wh is not None:
            out["credit_out_wh"] = list(self.credit_out_wh)
        if self.credit_out is not None:
            out["credit_out"] = str(self.credit_out)
        # Only on a bill gathered with its statement (from the store), so other documents are unchanged.
        if self.statement is not None:
            out["statement"] = self.statement.to_dict()
        return out


_SHOWN_PLACES: Final = {"kWh": 3, "kW": 3, "month": 4, "day": 4, "bill": 2}
"""Decimals a printed line shows of its quantity, by unit (Wh, W, and a part of a month or day)."""


def _decimal_text(value: Decimal, places: int) -> str:
    shown = round(value, places).normalize()
    return f"{shown:f}" if shown != 0 else "0"


def shown_quantity(line: LineItem) -> str:
    """A line's quantity as printed: 3 decimals for kWh and kW, 4 for months and days (amount exact)."""
    return _decimal_text(line.quantity, _SHOWN_PLACES.get(line.unit, 4))


def shown_rate(line: LineItem) -> str:
    """A line's rate as printed: to 6 decimals at most (a $/year charge is 1/12 of it a month). [USD]"""
    return _decimal_text(line.rate, 6)


def shown_lines(bill: Bill) -> tuple[LineItem, ...]:
    """
    The lines a printed bill shows: all but those whose rate is zero, or whose quantity and amount are
    both zero (their amount is zero, so the total is the same); an export or true-up line is shown even
    at a zero rate, as it says what was not credited or what was carried.
    """
    return tuple(
        line
        for line in bill.lines
        if line.kind in ("export", "true_up") or (line.rate != 0 and (line.quantity != 0 or line.amount != 0))
    )


def bill_demand_s(bill: Bill) -> int:
    """The demand window of a bill: its tariff's ``demandwindow``, else the meter's interval. [s]"""
    tariff = bill.inputs.get("tariff") if isinstance(bill.inputs, dict) else None
    minutes = tariff.get("demandwindow") if isinstance(tariff, dict) else None
    if isinstance(minutes, (int, float)) and not isinstance(minutes, bool) and minutes > 0:
        return int(minutes * 60)
    return bill.interval_s


def bill_to_json(bill: Bill, *, include_intervals: bool = True) -> str:
    """The bill as a JSON document (:meth:`Bill.to_dict`)."""
    return json.dumps(bill.to_dict(include_intervals=include_intervals), indent=2, ensure_ascii=False)


CSV_COLUMNS: Final = (
    "account",
    "meter",
    "start",
    "end",
    "kind",
    "description",
    "period",
    "tier",
    "quantity",
    "unit",
    "rate",
    "factor",
    "amount",
    "printed_amount",
)


def bills_to_csv(bills: Sequence[Bill]) -> str:
    """
    Line items of bills as CSV, one row per line, then a ``total`` row per bill.

    Columns: :data:`CSV_COLUMNS`. Times are UTC, ISO 8601; amounts exact and printed. [USD]
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for b in bills:
        head = [b.account, b.meter, b.start.isoformat(), b.end.isoformat()]
        for line in b.lines:
            d = line.to_dict()
            writer.writerow([*head, *(("" if d[c] is None else d[c]) for c in CSV_COLUMNS[4:])])
        writer.writerow([*head, "total", "Total", "", "", "", "", "", "", str(b.total), str(b.printed_total)])
    return out.getvalue()


def _local(value: datetime, timezone: str) -> str:
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _day(value: date) -> str:
    """A date as a US tenant reads it: ``Jul 1, 2026``."""
    return f"{value:%b} {value.day}, {value.year}"


def _span(start: datetime, end: datetime, timezone: str) -> str:
    """A span ``(start, end]`` in local time: whole days as ``Jul 1 – Jul 31, 2026`` (the last day
    included), else local times with the zone."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(timezone)
    a, b = start.astimezone(tz), end.astimezone(tz)
    if a.time() == b.time() == datetime.min.time():
        last = (b - timedelta(days=1)).date()
        days = (b.date() - a.date()).days
        return f"{_day(a.date())} – {_day(last)} ({days} day{'s' if days != 1 else ''})"
    return f"{_local(start, timezone)} – {_local(end, timezone)}"


def _kwh(wh: int) -> str:
    """Energy for people: kWh to the Wh, with thousands separators (sums of Wh add up exactly). [Wh]"""
    return f"{Decimal(wh) / 1000:,.3f}"


READ_SOURCES: Final = {
    "stored": "register read",
    "install": "first read at installation",
    "removal": "final read at removal",
    "change": "read at the multiplier change",
    "given": "read given for this bill",
    "intervals": "from the intervals' cumulative",
    "computed": "opening read plus the intervals' energy",
    "none": "not read",
}
"""Where a read comes from (:attr:`MeterRead.opening_source`), in the printed bill's words."""


_FROM_INTERVALS: Final = READ_SOURCES["computed"]


def _reads(bill: Bill) -> list[dict[str, str]]:
    """The printed reads table: one row per meter (part) of :attr:`Bill.reads`, or the bill's opening and
    closing reads, each with where it comes from."""
    rows = []
    for r in bill.reads:
        closing, closing_source, energy = r.closing_wh, READ_SOURCES.get(r.closing_source), r.energy_wh
        computed = bill.closing_read_wh
        alone = len(bill.reads) == 1 and r.multiplier == 1 and r.opening_wh is not None
        if closing is None and alone and computed is not None and r.opening_wh is not None:
            # the engine's closing: the opening read plus the energy of the intervals
            closing, closing_source, energy = computed, _FROM_INTERVALS, computed - r.opening_wh
        rows.append(
            {
                "meter": r.meter,
                "span": _span(r.start, r.end, bill.timezone) if len(bill.reads) > 1 else "",
                "opening": "–" if r.opening_wh is None else _kwh(r.opening_wh),
                "opening_source": READ_SOURCES.get(r.opening_source, r.opening_source),
                "closing": "–" if closing is None else _kwh(closing),
                "closing_source": closing_source or r.closing_source,
                "multiplier": "" if r.multiplier == 1 else f"× {Decimal(repr(r.multiplier)).normalize():f}",
                "energy": "–" if energy is None else _kwh(energy),
            }
        )
    if rows:
        return rows
    given = bill.inputs.get("closing_read_wh") if isinstance(bill.inputs, dict) else None
    opening, closing = bill.opening_read_wh, bill.closing_read_wh
    if closing is None:
        closing_source = "none"
    elif given is None:
        closing_source = "intervals"  # the opening read plus the energy of the intervals
    else:
        closing_source = "stored"
    return [
        {
            "meter": bill.meter,
            "span": "",
            "opening": "–" if opening is None else _kwh(opening),
            "opening_source": READ_SOURCES["none" if opening is None else "stored"],
            "closing": "–" if closing is None else _kwh(closing),
            "closing_source": _FROM_INTERVALS
            if closing_source == "intervals"
            else READ_SOURCES[closing_source],
            "multiplier": "",
            "energy": "–" if opening is None or closing is None else _kwh(closing - opening),
        }
    ]


def _period_names(bill: Bill) -> list[str]:
    """The name of each energy period of the bill's tariff (``energytoulabels``, ``meshmeter_period_names``),
    ``period N`` where it has none."""
    count = len(bill.energy_by_period_wh)
    tariff = bill.inputs.get("tariff") if isinstance(bill.inputs, dict) else None
    if isinstance(tariff, dict):
        from meshmeter.billing.tariff import parse_tariff

        try:
            parsed = parse_tariff(tariff)
        except (ValueError, TypeError, KeyError):
            parsed = None
        if parsed is not None:
            return [parsed.period_name("energy", p) for p in range(count)]
    return [f"period {p + 1}" for p in range(count)]


def _quantity_text(line: LineItem) -> str:
    """A line's quantity as printed in a column: :func:`shown_quantity`, energy and demand to a fixed 3
    decimals so that their decimal points line up. [``line.unit``]"""
    text = shown_quantity(line)
    if line.unit not in ("kWh", "kW"):
        return text
    sign = "-" if text.startswith("-") else ""
    whole, _, places = text.lstrip("-").partition(".")
    return f"{sign}{int(whole):,}.{places.ljust(3, '0')}"


def _rate_text(line: LineItem) -> str:
    """A line's rate as printed: :func:`shown_rate`, with at least the cents. [USD]"""
    text = shown_rate(line)
    whole, _, places = text.partition(".")
    return f"{whole}.{places.ljust(2, '0')}"


CHART_MONTHS: Final = 13
"""Bars of the printed bill's usage chart."""


def _chart(statement: Statement | None, bill_month: date | None) -> dict[str, Any] | None:
    """
    The usage chart's bars, drawn by the HTML template (inline SVG) and :func:`bill_to_pdf` alike: for each
    month its label, kWh (whole, for people), height as a fraction of the highest month, and whether it
    is the bill's month, includes estimated energy, or has no data.
    """
    if statement is None or not statement.history:
        return None
    known = [m.energy_wh for m in statement.history if m.energy_wh is not None]
    top = max(known, default=0)
    bars = []
    for k, m in enumerate(statement.history):
        wh = m.energy_wh
        height = 0.0 if wh is None or top == 0 else wh / top
        # the SVG's geometry, in its viewBox's units (650 x 190: 50 a month, the baseline at 160, bars up
        # to 130 high), written to a tenth
        bar = round(height * 130, 1)
        bars.append(
            {
                "label": f"{m.month:%b}",
                "year": f"{m.month:%Y}",
                "kwh": "" if wh is None else f"{Decimal(wh) / 1000:,.0f}",
                "height": height,
                "x": k * 50,
                "bar_y": f"{160 - bar:.1f}",
                "bar_h": f"{bar:.1f}",
                "text_y": f"{156 - bar:.1f}",
                "current": m.month == bill_month,
                "estimated": m.estimated,
                "apportioned": m.apportioned,
                "missing": wh is None,
            }
        )
    return {
        "bars": bars,
        "any_estimated": any(b["estimated"] for b in bars),
        "any_missing": any(b["missing"] for b in bars),
    }


APPORTIONED_LABEL: Final = "Apportioned between readings"
"""The printed bill's name for its apportioned energy (quality 11, :attr:`Bill.apportioned_wh`)."""

APPORTIONED_NOTE: Final = (
    "Apportioned energy was measured by your meter, read less often than every interval: the use between "
    "two readings is shared among the intervals between them along a straight line, and adds up to the "
    "readings exactly."
)
"""What the printed bill says of apportioned energy, when it has some."""


def _context(bill: Bill, correction_of: str | None = None) -> dict[str, Any]:
    """Everything the HTML template and the PDF print, rounded for people (amounts to the cent, energy to
    the Wh, history to the kWh), from the bill and its statement."""
    from zoneinfo import ZoneInfo

    st = bill.statement
    today = datetime.now(UTC).astimezone(ZoneInfo(bill.timezone)).date()
    issued = today if st is None or st.issued is None else st.issued
    due = issued + timedelta(days=21 if st is None else st.due_days)
    middle = (bill.start + (bill.end - bill.start) / 2).astimezone(ZoneInfo(bill.timezone))
    month = date(middle.year, middle.month, 1)
    names = _period_names(bill)
    by_period = [
        {"name": name, "kwh": _kwh(wh)}
        for name, wh in zip(names, bill.energy_by_period_wh, strict=True)
        if wh != 0
    ]
    lines = [
        {
            "description": line.description,
            "quantity": _quantity_text(line),
            "unit": line.unit,
            "rate": _rate_text(line),
            "amount": f"{printed(line.amount):,.2f}",
        }
        for line in shown_lines(bill)
    ]
    service = None
    if (bill.service_start, bill.service_end) != (bill.start, bill.end):
        service = _span(bill.service_start, bill.service_end, bill.timezone)
    tenant = bill.account if st is None or st.tenant is None else st.tenant

    def address(text: str | None) -> list[str]:
        return [] if text is None else [part.strip() for part in text.splitlines() if part.strip()]

    return {
        "bill": bill,
        "correction_of": correction_of,
        "site": None if st is None else st.site,
        "owner_name": None if st is None else st.owner_name,
        "owner_address": address(None if st is None else st.owner_address),
        "tenant": tenant,
        "unit": None if st is None else st.unit,
        "unit_address": address(None if st is None else st.unit_address),
        "account_number": None if st is None else st.account_number,
        "payment_instructions": address(None if st is None else st.payment_instructions),
        "issued": _day(issued),
        "issued_note": "" if st is not None and st.issued is not None else " (printed, not saved)",
        "due": _day(due),
        "period_local": _span(bill.start, bill.end, bill.timezone),
        "service_local": service,
        "lines": lines,
        "by_period": by_period if len(by_period) > 1 or (by_period and names[0] != "period 1") else [],
        "energy_kwh": _kwh(bill.energy_wh),
        "estimated_kwh": _kwh(bill.estimated_wh),
        "estimated_percent": f"{bill.estimated_share * 100:.1f}",
        "apportioned_label": APPORTIONED_LABEL,
        "apportioned_note": APPORTIONED_NOTE,
        "estimated": bill.estimated_wh > 0,
        "apportioned_kwh": _kwh(bill.apportioned_wh),
        "apportioned_percent": f"{bill.apportioned_share * 100:.1f}",
        "apportioned_intervals": bill.apportioned_intervals,
        "apportioned": bill.apportioned_wh > 0,
        "baseline_kwh": _kwh(bill.tier_limits_wh[0]) if bill.tier_limits_wh else None,
        "reads": _reads(bill),
        "events": [
            {"at": _local(e.at, bill.timezone), "meter": e.meter, "text": e.text} for e in bill.meter_events
        ],
        "chart": _chart(st, month),
        "month": f"{month:%B %Y}",
        "max_demand": None if bill.max_demand_kw is None else f"{bill.max_demand_kw:,.3f}",
        "max_demand_label": f"Maximum {demand_name(bill_demand_s(bill))} demand",
        "total": f"{bill.printed_total:,.2f}",
        "tariff_sha256": bill.inputs.get("tariff_sha256", ""),
        "interval_sha256": bill.interval_digest,
        "engine": bill.inputs.get("engine_version", ""),
        "period_utc": f"{bill.start.isoformat()} – {bill.end.isoformat()}",
    }


def bill_to_html(bill: Bill, *, correction_of: str | None = None) -> str:
    """
    A printable HTML bill, from the ``bill.html.j2`` template shipped with meshmeter: one US Letter page for
    an ordinary month, then the verification data on a page of its own; readable on a 375 px phone (the
    charges reflow; no script, the usage chart is inline SVG). ``correction_of``: the banner of a
    corrected bill, naming the bill it replaces (``docs/billing.md``, "The printed bill").
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("meshmeter.billing", "templates"),
        autoescape=jinja2.select_autoescape(("html", "j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("bill.html.j2").render(**_context(bill, correction_of))


def _latin1(text: str) -> str:
    """fpdf2's core fonts are Latin-1: replace what they cannot print."""
    text = text.replace("–", "-").replace("—", "-").replace("×", "x").replace("’", "'")
    return text.encode("latin-1", "replace").decode("latin-1")


PDF_COLUMNS: Final = (("Charge", 84.0, "L"), ("Quantity", 26.0, "R"), ("Unit", 16.0, "L"),
                      ("Rate (USD)", 26.0, "R"), ("Amount (USD)", 27.9, "R"))  # fmt: skip
"""The PDF's charges table: header, width [mm] and alignment of each column; numbers right-aligned under
right-aligned headers, the widths filling Letter's 179.9 mm between 18 mm margins."""


def bill_to_pdf(bill: Bill, *, correction_of: str | None = None) -> bytes:
    """
    A printable PDF bill (fpdf2, core Helvetica font, US Letter): the same content as :func:`bill_to_html`,
    the statement on the first page, the verification data (hashes, engine) on the last.
    """
    from fpdf import FPDF

    ctx = _context(bill, correction_of)

    who = " - ".join(
        part
        for part in (
            ctx["tenant"],
            ctx["account_number"] and f"account {ctx['account_number']}",
            ctx["month"],
        )
        if part
    )

    class _Pdf(FPDF):
        def footer(self) -> None:
            # which bill a loose page belongs to, and the page: never the hashes (they have the last page)
            self.set_y(-12)
            self.set_font("Helvetica", size=7)
            self.set_text_color(110)
            self.cell(self.epw * 0.7, 5, _latin1(f"Electricity bill - {who}"))
            self.cell(self.epw * 0.3, 5, f"Page {self.page_no()} of {{nb}}", align="R")
            self.set_text_color(0)

    pdf = _Pdf(orientation="P", unit="mm", format="Letter")
    pdf.set_margins(18, 14, 18)
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.epw

    def text(value: str) -> str:
        return _latin1(value)

    # Who bills, and the bill's title
    top = pdf.get_y()
    pdf.set_font("Helvetica", "B", 12)
    pdf.multi_cell(
        width * 0.6,
        5.5,
        text(ctx["owner_name"] or ctx["site"] or ""),
        new_x="LMARGIN",
        new_y="NEXT",
        align="L",
    )
    pdf.set_font("Helvetica", size=9)
    owner_lines = list(ctx["owner_address"])
    if ctx["site"] and ctx["site"] != ctx["owner_name"]:
        owner_lines.append(ctx["site"])
    for part in owner_lines:
        pdf.multi_cell(width * 0.6, 4.2, text(part), new_x="LMARGIN", new_y="NEXT", align="L")
    left_bottom = pdf.get_y()
    pdf.set_xy(pdf.l_margin + width * 0.6, top)
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(width * 0.4, 7, "Electricity bill", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(pdf.l_margin + width * 0.6)
    pdf.set_font("Helvetica", size=9)
    pdf.cell(width * 0.4, 4.5, text(ctx["month"]), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(left_bottom, pdf.get_y()) + 2)
    if correction_of:
        pdf.set_fill_color(255, 240, 200)
        pdf.set_font("Helvetica", "B", 10)
        pdf.multi_cell(width, 6, text(correction_of), fill=True, new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.ln(1)

    # Bill to / account, and the amount due
    pdf.set_draw_color(60)
    y0 = pdf.get_y()
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(width * 0.55, 5, text(ctx["tenant"]), new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_font("Helvetica", size=9)
    for part in ([f"Unit {ctx['unit']}"] if ctx["unit"] else []) + ctx["unit_address"]:
        pdf.cell(width * 0.55, 4.2, text(part), new_x="LMARGIN", new_y="NEXT", align="L")
    facts = []
    if ctx["account_number"]:
        facts.append(("Account number", ctx["account_number"]))
    facts += [
        ("Billing period", ctx["period_local"]),
        ("Issue date", ctx["issued"] + ctx["issued_note"]),
        ("Due date", ctx["due"]),
        ("Meter", bill.meter),
    ]
    if ctx["service_local"]:
        facts.insert(2, ("Service", ctx["service_local"]))
    for label, value in facts:
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(28, 4.4, label)
        pdf.set_font("Helvetica", size=9)
        pdf.cell(width * 0.55 - 28, 4.4, text(value), new_x="LMARGIN", new_y="NEXT", align="L")
    y1 = pdf.get_y()
    box_x, box_w = pdf.l_margin + width * 0.62, width * 0.38
    pdf.set_fill_color(238)
    pdf.rect(box_x, y0, box_w, 24, style="DF")
    pdf.set_xy(box_x + 3, y0 + 2)
    pdf.set_font("Helvetica", size=9)
    pdf.cell(box_w - 6, 5, "Amount due (USD)", new_x="LEFT", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(box_w - 6, 9, ctx["total"], align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    pdf.cell(box_w - 6, 5, text(f"Due {ctx['due']}"), align="R")
    pdf.set_y(max(y1, y0 + 24) + 4)

    def heading(title: str) -> None:
        pdf.set_font("Helvetica", "B", 10.5)
        pdf.cell(width, 6, text(title), border="B", new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.ln(1)

    # Usage: by period, reads, estimated share; the 13-month chart beside
    heading("Your usage")
    y_usage = pdf.get_y()
    col = width * 0.45
    rows: list[tuple[str, str]] = [("Energy billed", f"{ctx['energy_kwh']} kWh")]
    rows += [(f"  {p['name']}", f"{p['kwh']} kWh") for p in ctx["by_period"]]
    if ctx["estimated"]:
        rows.append(("Estimated", f"{ctx['estimated_kwh']} kWh ({ctx['estimated_percent']} %)"))
    else:
        rows.append(("Estimated", "none"))
    if ctx["apportioned"]:
        rows.append((APPORTIONED_LABEL, f"{ctx['apportioned_kwh']} kWh ({ctx['apportioned_percent']} %)"))
    if ctx["baseline_kwh"] is not None:
        rows.append(("Baseline allowance", f"{ctx['baseline_kwh']} kWh"))
    if ctx["max_demand"] is not None:
        rows.append((ctx["max_demand_label"], f"{ctx['max_demand']} kW"))
    if bill.unbilled_intervals:
        rows.append(("Intervals not billed", f"{bill.unbilled_intervals} (failed validation or missing)"))
    for label, value in rows:
        # a long label (a period's name) wraps in its column; its value stays on the first line
        sub = label.startswith("  ")
        pdf.set_font("Helvetica", "" if sub else "B", 9)
        indent = 3.0 if sub else 0.0
        y = pdf.get_y()
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(
            col * 0.58 - indent, 4.4, text(label.strip()), new_x="LMARGIN", new_y="NEXT", align="L"
        )
        below = pdf.get_y()
        pdf.set_xy(pdf.l_margin + col * 0.58, y)
        pdf.set_font("Helvetica", size=9)
        pdf.cell(col * 0.42, 4.4, text(value), align="R")
        pdf.set_xy(pdf.l_margin, max(below, y + 4.4))
    y_after_usage = pdf.get_y()
    chart = ctx["chart"]
    if chart is not None:
        _pdf_chart(pdf, chart, pdf.l_margin + col + 8, y_usage, width - col - 8, 36)
        y_after_usage = max(y_after_usage, y_usage + 40)
    pdf.set_y(y_after_usage + 2)

    # Meter reads, and what changed in the meters' life
    heading("Meter reads")
    read_cols = (("Meter", 34.0, "L"), ("Opening (kWh)", 62.0, "R"), ("Closing (kWh)", 62.0, "R"),
                 ("Used (kWh)", width - 158.0, "R"))  # fmt: skip
    pdf.set_font("Helvetica", "B", 8.5)
    for head, w, align in read_cols:
        pdf.cell(w, 4.6, head, align=align)
    pdf.ln()
    pdf.set_font("Helvetica", size=8.5)
    for r in ctx["reads"]:
        # each read's value, and under it where it comes from (small, so long sources never collide)
        cells = (r["meter"], r["opening"], r["closing"], r["energy"])
        for (_, w, align), value in zip(read_cols, cells, strict=True):
            pdf.cell(w, 4.6, text(value), align=align)
        pdf.ln()
        pdf.set_font("Helvetica", "", 7)
        pdf.set_text_color(80)
        notes = (
            " ".join(v for v in (r["multiplier"], r["span"]) if v),
            r["opening_source"],
            r["closing_source"],
            "",
        )
        for (_, w, align), value in zip(read_cols, notes, strict=True):
            pdf.cell(w, 3.6, text(value), align=align)
        pdf.ln()
        pdf.set_text_color(0)
        pdf.set_font("Helvetica", size=8.5)
    for e in ctx["events"]:
        event = text(f"{e['at']}  {e['meter']}: {e['text']}")
        pdf.multi_cell(width, 4.4, event, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(2)

    # Charges: numbers right-aligned under right-aligned headers
    heading("Charges")
    pdf.set_font("Helvetica", "", 8.5)
    pdf.multi_cell(width, 4.2, text(f"Tariff: {bill.tariff_name}"), new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_font("Helvetica", "B", 9)
    for head, w, align in PDF_COLUMNS:
        pdf.cell(w, 5.5, head, border="B", align=align)
    pdf.ln()
    pdf.set_font("Helvetica", size=9)
    desc_w = PDF_COLUMNS[0][1]
    for line in ctx["lines"]:
        # a long description wraps in its column; the numbers stay on its first line, aligned
        description = text(line["description"])
        wrapped = pdf.multi_cell(desc_w, 5, description, dry_run=True, output="LINES")
        assert isinstance(wrapped, list)
        if pdf.will_page_break(5 * len(wrapped)):
            pdf.add_page()
        y = pdf.get_y()
        pdf.multi_cell(desc_w, 5, description, new_x="RIGHT", new_y="TOP", align="L")
        for (_, w, align), value in zip(
            PDF_COLUMNS[1:], [line[k] for k in ("quantity", "unit", "rate", "amount")], strict=True
        ):
            pdf.cell(w, 5, text(value), align=align)
        pdf.set_xy(pdf.l_margin, y + 5 * len(wrapped))
    pdf.set_font("Helvetica", "B", 10.5)
    pdf.cell(sum(w for _, w, _ in PDF_COLUMNS[:-1]), 7, "Total due", border="T")
    pdf.cell(PDF_COLUMNS[-1][1], 7, ctx["total"], border="T", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    # How to pay
    heading("How to pay")
    pdf.set_font("Helvetica", size=9)
    pay = ctx["payment_instructions"] or ["Ask the owner or manager who sent this bill how to pay."]
    for part in pay:
        pdf.multi_cell(width, 4.4, text(part), new_x="LMARGIN", new_y="NEXT", align="L")
    if ctx["account_number"]:
        pdf.multi_cell(
            width, 4.4, text(f"Quote account number {ctx['account_number']} with your payment."),
            new_x="LMARGIN", new_y="NEXT", align="L",
        )  # fmt: skip
    pdf.set_font("Helvetica", size=8)
    note = "Estimated intervals are billed and flagged; intervals that failed validation are not billed. "
    if ctx["apportioned"]:
        note += APPORTIONED_NOTE + " "
    pdf.multi_cell(
        width, 4, note + "The verification data are on the last page.",
        new_x="LMARGIN", new_y="NEXT", align="L",
    )  # fmt: skip

    # Verification: on a page of its own, hashes wrapped
    pdf.add_page()
    heading("Verification data")
    pdf.set_font("Helvetica", size=9)
    pdf.multi_cell(
        width, 4.6,
        "Anyone holding this bill's document (JSON, with its inputs) can bill it again and check every line "
        "and the total: the figures below name the tariff and the meter's intervals exactly.",
        new_x="LMARGIN", new_y="NEXT", align="L",
    )  # fmt: skip
    pdf.ln(2)
    for label, value in (
        ("Tariff", bill.tariff_name),
        ("Tariff SHA-256", ctx["tariff_sha256"]),
        ("Intervals SHA-256", ctx["interval_sha256"]),
        ("Engine", ctx["engine"]),
        ("Meter", bill.meter),
        ("Period (UTC)", ctx["period_utc"]),
    ):
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(34, 5, label)
        pdf.set_font("Courier" if "SHA" in label else "Helvetica", size=9)
        pdf.multi_cell(width - 34, 5, text(value), new_x="LMARGIN", new_y="NEXT", align="L")
    return bytes(pdf.output())


def _pdf_chart(pdf: Any, chart: dict[str, Any], x: float, y: float, w: float, h: float) -> None:
    """The 13-month usage chart with fpdf2's primitives: a bar per month (the bill's dark, estimated ones
    marked ``*``), its kWh above and the month below. [mm]"""
    bars = chart["bars"]
    slot = w / len(bars)
    base = y + h - 8
    tall = h - 14
    pdf.set_font("Helvetica", "B", 8)
    pdf.set_xy(x, y)
    pdf.cell(w, 4, "Monthly use (kWh), last 13 months")
    pdf.set_draw_color(150)
    pdf.line(x, base, x + w, base)
    for i, b in enumerate(bars):
        bx = x + i * slot + slot * 0.15
        bw = slot * 0.7
        bh = tall * b["height"]
        if b["missing"]:
            pdf.set_font("Helvetica", size=6)
            pdf.set_xy(x + i * slot, base - 4)
            pdf.cell(slot, 3, "-", align="C")
        else:
            shade = (40, 70, 120) if b["current"] else (150, 170, 200)
            pdf.set_fill_color(*shade)
            if bh > 0:
                pdf.rect(bx, base - bh, bw, bh, style="F")
            pdf.set_font("Helvetica", "B" if b["current"] else "", 5.5)
            pdf.set_xy(x + i * slot, base - bh - 3.2)
            pdf.cell(slot, 3, b["kwh"] + ("*" if b["estimated"] else ""), align="C")
        pdf.set_font("Helvetica", "B" if b["current"] else "", 6)
        pdf.set_xy(x + i * slot, base + 0.8)
        pdf.cell(slot, 3, b["label"], align="C")
        if i == 0 or b["label"] == "Jan":
            pdf.set_xy(x + i * slot, base + 3.6)
            pdf.set_font("Helvetica", size=5.5)
            pdf.cell(slot, 3, b["year"], align="C")
    marks = (("- no data", chart["any_missing"]), ("* includes estimated use", chart["any_estimated"]))
    notes = [note for note, shown in marks if shown]
    if notes:
        pdf.set_font("Helvetica", size=6)
        pdf.set_xy(x, y + h - 1)
        pdf.cell(w, 3, ";  ".join(notes), align="R")
    pdf.set_draw_color(60)
