"""Re-bill from a bill's recorded inputs and compare (``docs/billing.md``).

A bill's JSON (:meth:`~meshmeter.billing.bill.Bill.to_dict`) carries the tariff document and its SHA-256,
the billing period, time zone, tenant, reads, mode parameters, the engine version and the meter's
interval columns with their SHA-256: everything that produced it. :func:`rebill` bills again from those
alone; :func:`verify_bill` also checks the hashes and that every line and the total are the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np

from meshmeter.billing.allocation import allocate_cents, maryland_bills
from meshmeter.billing.bill import ENGINE_VERSION, Bill, LineItem, interval_digest, with_statement
from meshmeter.billing.calendar import INTERVAL_S
from meshmeter.billing.engine import Tenant, bill_meters
from meshmeter.billing.meterlife import with_meter_life
from meshmeter.billing.tariff import parse_tariff
from meshmeter.errors import BillMismatchError

__all__ = ["rebill", "verify_bill", "with_carried_lines"]

_ABSENT = object()


def _time(value: object) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _inputs(document: Mapping[str, Any]) -> dict[str, Any]:
    inputs = document.get("inputs")
    if not isinstance(inputs, dict):
        raise BillMismatchError("the bill carries no inputs")
    if inputs.get("engine_version") != ENGINE_VERSION:
        raise BillMismatchError(
            f"the bill was made by engine {inputs.get('engine_version')!r}, this is {ENGINE_VERSION!r}"
        )
    if "intervals" not in inputs:
        raise BillMismatchError("the bill was saved without its intervals (include_intervals=False)")
    return inputs


def rebill(document: Mapping[str, Any] | str) -> Bill:
    """
    Bill again from a bill's recorded inputs.

    Parameters
    ----------
    document : mapping or str
        A bill as :meth:`Bill.to_dict` gives it, or its JSON text.

    Returns
    -------
    Bill
        The bill the inputs give now.

    Raises
    ------
    BillMismatchError
        When the inputs are missing, from another engine version, or do not match their own hashes.
    """
    doc = json.loads(document) if isinstance(document, str) else document
    inputs = _inputs(doc)
    carried = inputs.get("carried_lines")
    if carried:  # adjustments of earlier bills' corrections: the bill's own charges, then them
        own = {k: w for k, w in inputs.items() if k != "carried_lines"}
        return with_carried_lines(rebill({**doc, "inputs": own}), carried)
    tariff_doc = inputs["tariff"]
    canonical = json.dumps(tariff_doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if hashlib.sha256(canonical.encode("utf-8")).hexdigest() != inputs.get("tariff_sha256"):
        raise BillMismatchError("the recorded tariff does not match its recorded SHA-256")
    iv = inputs["intervals"]
    ends = np.asarray(iv["interval_end_s"], dtype=np.int64)
    energy = np.asarray(iv["energy_wh"], dtype=np.int64)
    quality = np.asarray(iv["quality"], dtype=np.int64)
    if interval_digest(ends, energy, quality) != inputs.get("interval_digest"):
        raise BillMismatchError("the recorded intervals do not match their recorded SHA-256")
    t = inputs.get("tenant")
    tenant = None if t is None else Tenant(t["account"], _time(t["move_in"]), _time(t["move_out"]))
    start, end = _time(inputs["start"]), _time(inputs["end"])
    if start is None or end is None:
        raise BillMismatchError("the bill's inputs have no start or end")
    # Recorded when the meter's intervals are not 15-minute ones (absent: the default, as bills made before).
    interval_s = int(inputs.get("interval_s", INTERVAL_S))
    if inputs.get("mode") == "maryland":
        units = [int(u) for u in inputs["units_energy_wh"]]
        index = int(inputs["unit_index"])
        # Re-count this unit from its intervals, then put the recorded totals of the others beside it.
        mine = maryland_bills(
            Decimal(inputs["master_total"]),
            energy[None, :],
            quality[None, :],
            start=start,
            end=end,
            timezone=inputs["timezone"],
            meters=[inputs["meter"]],
            admin_fee=Decimal(inputs["admin_fee"]),
            tenants=None if tenant is None else [tenant],
            interval_s=interval_s,
        )[0]
        if mine.energy_wh != units[index]:
            raise BillMismatchError(
                f"the unit's intervals give {mine.energy_wh} Wh, the allocation recorded {units[index]} Wh"
            )
        share = allocate_cents(Decimal(inputs["master_total"]), units)[index]
        lines = list(mine.lines)
        lines[0] = type(lines[0])(
            lines[0].kind,
            lines[0].description.replace(
                f"of {Decimal(units[index]) / 1000} kWh", f"of {Decimal(sum(units)) / 1000} kWh"
            ),
            lines[0].quantity,
            lines[0].unit,
            share,
            lines[0].factor,
            share,
        )
        new_inputs = dict(mine.inputs)
        new_inputs.update({"unit_index": index, "units_energy_wh": units})
        # what its printed form says of site, unit and account, as recorded (not an input of the charges)
        return with_statement(replace(mine, lines=tuple(lines), inputs=new_inputs), doc.get("statement"))
    # Inputs recorded only when the bill had them (exports, prior monthly peaks, the year's charges, the
    # credit carried in and the true-up).
    exports = inputs.get("export_wh")
    prior = inputs.get("prior_peaks_kw", _ABSENT)
    ytd = inputs.get("year_to_date_charges", _ABSENT)
    credit_wh = inputs.get("credit_in_wh")
    credit = inputs.get("credit_in")
    true_up = inputs.get("true_up") is True
    true_up_rate = inputs.get("true_up_sell_rate")
    bill = bill_meters(
        parse_tariff(tariff_doc),
        energy[None, :],
        quality[None, :],
        export_wh=None if exports is None else np.asarray(exports, dtype=np.int64)[None, :],
        prior_peaks_kw=None
        if prior is _ABSENT
        else [None if prior is None else [None if v is None else Decimal(v) for v in prior]],
        year_to_date_charges=None if ytd is _ABSENT else [None if ytd is None else Decimal(ytd)],
        credit_in_wh=None if credit_wh is None else [[int(v) for v in credit_wh]],
        credit_in=None if credit is None else [Decimal(credit)],
        true_up=[True] if true_up else None,
        true_up_sell_rate=None if true_up_rate is None else Decimal(true_up_rate),
        start=start,
        end=end,
        timezone=inputs["timezone"],
        meters=[inputs["meter"]],
        tenants=None if tenant is None else [tenant],
        opening_reads_wh=[inputs.get("opening_read_wh")],
        closing_reads_wh=[inputs.get("closing_read_wh")],
        interval_s=interval_s,
    )[0]
    # The meters' reads and life in the period, as recorded (bills from the store; docs/billing.md).
    return with_statement(with_meter_life(bill, inputs.get("meter_life")), doc.get("statement"))


def verify_bill(document: Mapping[str, Any] | str) -> Bill:
    """
    Re-bill from a bill's inputs and check that every line, amount and the total come out the same.

    Returns
    -------
    Bill
        The re-made bill.

    Raises
    ------
    BillMismatchError
        Naming the first difference.
    """
    doc = json.loads(document) if isinstance(document, str) else document
    bill = rebill(doc)
    again = bill.to_dict(include_intervals=False)
    keys = (
        "energy_wh",
        "energy_by_period_wh",
        "energy_by_period_tier_wh",
        "total",
        "estimated_wh",
        "apportioned_wh",
        "apportioned_intervals",
    )
    # The credit carried out (present only on a bill that carries credit): the next bill's credit in.
    for key in (*keys, "credit_out_wh", "credit_out"):
        if again.get(key) != doc.get(key):
            raise BillMismatchError(
                f"{key}: the bill says {doc.get(key)!r}, its inputs give {again.get(key)!r}"
            )
    old_lines = doc.get("lines", [])
    if len(old_lines) != len(again["lines"]):
        raise BillMismatchError(
            f"lines: the bill has {len(old_lines)}, its inputs give {len(again['lines'])}"
        )
    for i, (old, new) in enumerate(zip(old_lines, again["lines"], strict=True)):
        for key in ("kind", "quantity", "rate", "factor", "amount"):
            if old.get(key) != new[key]:
                raise BillMismatchError(
                    f"lines[{i}].{key}: the bill says {old.get(key)!r}, its inputs give {new[key]!r}"
                )
    return bill


def with_carried_lines(bill: Bill, carried: Sequence[Mapping[str, Any]]) -> Bill:
    """
    A bill with adjustment lines carried from corrections of earlier bills (``docs/billing.md``, "Bills that
    stay right"), after its own charges; recorded in its inputs as ``carried_lines``, so that
    :func:`rebill` makes them again.

    Parameters
    ----------
    bill : Bill
        The bill of its own charges.
    carried : sequence of mapping
        Each line as :meth:`LineItem.to_dict` gives it (kind, description, quantity, unit, rate, factor,
        amount) [USD], with any other members (the correction's id) kept in the inputs.
    """
    if not carried:
        return bill
    lines = tuple(
        LineItem(
            str(c["kind"]),
            str(c["description"]),
            Decimal(str(c["quantity"])),
            str(c["unit"]),
            Decimal(str(c["rate"])),
            Decimal(str(c["factor"])),
            Decimal(str(c["amount"])),
        )
        for c in carried
    )
    recorded = [*bill.inputs.get("carried_lines", []), *(dict(c) for c in carried)]
    return replace(bill, lines=bill.lines + lines, inputs={**bill.inputs, "carried_lines": recorded})
