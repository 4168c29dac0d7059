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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
        The register at ``start`` and ``end`` (after the multiplier), when known. [Wh]
    opening_source, closing_source : str
        Where each read comes from: ``"stored"`` (a register read taken then), ``"install"`` (the first
        read recorded when the meter was installed), ``"removal"`` (the final read recorded when it was
        removed) or ``"intervals"`` (computed from the intervals' cumulative), or ``"none"``.
    multiplier : float
        The multiplier in force over ``(start, end]``. [1]
    """

    meter: str
    start: datetime
    end: datetime
    opening_wh: int | None
    closing_wh: int | None
    opening_source: str
    closing_source: str
    multiplier: float = 1.0

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
    reads : tuple of MeterRead
        The register reads of each meter that served the account in the period (empty: only
        :attr:`opening_read_wh` and :attr:`closing_read_wh` are known).
    meter_events : tuple of MeterEvent
        What changed in the meters' life within the period, in time order.
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
    reads: tuple[MeterRead, ...] = ()
    meter_events: tuple[MeterEvent, ...] = ()

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
        return {
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
            "unbilled_intervals": self.unbilled_intervals,
            "unbilled_wh": self.unbilled_wh,
            "reads": [r.to_dict() for r in self.reads],
            "meter_events": [e.to_dict() for e in self.meter_events],
            "lines": [line.to_dict() for line in self.lines],
            "total": str(self.total),
            "printed_total": str(self.printed_total),
            "inputs": inputs,
        }


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
    The lines a printed bill shows: all but those whose rate is zero (their amount is zero, so the total
    is the same); an export line is shown even at a zero sell rate, as it says what was not credited.
    """
    return tuple(line for line in bill.lines if line.rate != 0 or line.kind == "export")


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


def _context(bill: Bill) -> dict[str, Any]:
    def kwh(wh: int) -> str:
        return f"{Decimal(wh) / 1000:,.3f}"

    return {
        "bill": bill,
        "period_local": f"{_local(bill.start, bill.timezone)} – {_local(bill.end, bill.timezone)}",
        "service_local": (
            f"{_local(bill.service_start, bill.timezone)} – {_local(bill.service_end, bill.timezone)}"
        ),
        "lines": [
            {
                "description": line.description,
                "quantity": shown_quantity(line),
                "unit": line.unit,
                "rate": shown_rate(line),
                "amount": f"{printed(line.amount):,.2f}",
            }
            for line in shown_lines(bill)
        ],
        "energy_kwh": kwh(bill.energy_wh),
        "estimated_kwh": kwh(bill.estimated_wh),
        "estimated_percent": f"{bill.estimated_share * 100:.1f}",
        "baseline_kwh": kwh(bill.tier_limits_wh[0]) if bill.tier_limits_wh else None,
        "opening": None if bill.opening_read_wh is None else kwh(bill.opening_read_wh),
        "closing": None if bill.closing_read_wh is None else kwh(bill.closing_read_wh),
        "max_demand": None if bill.max_demand_kw is None else f"{bill.max_demand_kw:.3f}",
        "max_demand_label": f"Maximum {demand_name(bill_demand_s(bill))} demand",
        "total": f"{bill.printed_total:,.2f}",
        "generated": datetime.now(UTC).strftime("%Y-%m-%d"),
        "tariff_sha256": bill.inputs.get("tariff_sha256", ""),
        "engine": bill.inputs.get("engine_version", ""),
    }


def bill_to_html(bill: Bill) -> str:
    """A printable HTML bill, from the ``bill.html.j2`` template shipped with meshmeter."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("meshmeter.billing", "templates"),
        autoescape=jinja2.select_autoescape(("html", "j2")),
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("bill.html.j2").render(**_context(bill))


def _latin1(text: str) -> str:
    """fpdf2's core fonts are Latin-1: replace what they cannot print."""
    return text.replace("–", "-").replace("×", "x").encode("latin-1", "replace").decode("latin-1")


def bill_to_pdf(bill: Bill) -> bytes:
    """A printable PDF bill (fpdf2, core Helvetica font): the same content as :func:`bill_to_html`."""
    from fpdf import FPDF

    ctx = _context(bill)
    pdf = FPDF(orientation="P", unit="mm", format="Letter")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin1(f"Electricity bill - {bill.account}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    facts = [
        ("Meter", bill.meter),
        ("Tariff", bill.tariff_name),
        ("Billing period", ctx["period_local"]),
        ("Service", ctx["service_local"]),
        ("Opening read", "-" if ctx["opening"] is None else f"{ctx['opening']} kWh"),
        ("Closing read", "-" if ctx["closing"] is None else f"{ctx['closing']} kWh"),
        ("Energy billed", f"{ctx['energy_kwh']} kWh"),
        ("Estimated", f"{ctx['estimated_kwh']} kWh ({ctx['estimated_percent']} %)"),
        ("Intervals not billed", str(bill.unbilled_intervals)),
    ]
    if ctx["baseline_kwh"] is not None:
        facts.append(("Baseline allowance", f"{ctx['baseline_kwh']} kWh"))
    if ctx["max_demand"] is not None:
        facts.append((ctx["max_demand_label"], f"{ctx['max_demand']} kW"))
    for label, value in facts:
        pdf.cell(50, 6, _latin1(label))
        pdf.cell(0, 6, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    widths = (90, 28, 14, 28, 26)
    pdf.set_font("Helvetica", "B", 10)
    for w, head in zip(widths, ("Charge", "Quantity", "Unit", "Rate", "Amount (USD)"), strict=True):
        pdf.cell(w, 7, head, border="B")
    pdf.ln()
    pdf.set_font("Helvetica", size=9)
    for line in ctx["lines"]:
        row = (line["description"], line["quantity"], line["unit"], line["rate"], line["amount"])
        for w, value, align in zip(widths, row, "LRLRR", strict=True):
            pdf.cell(w, 6, _latin1(value)[:60], align=align)
        pdf.ln()
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(sum(widths[:-1]), 8, "Total", border="T")
    pdf.cell(widths[-1], 8, ctx["total"], border="T", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=7)
    pdf.ln(4)
    pdf.multi_cell(
        0,
        4,
        _latin1(
            f"Tariff SHA-256 {ctx['tariff_sha256']}; intervals SHA-256 {bill.interval_digest}; "
            f"engine {ctx['engine']}."
        ),
    )
    return bytes(pdf.output())
