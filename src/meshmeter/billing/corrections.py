"""Corrections of issued bills (``docs/billing.md``, "Bills that stay right").

An issued bill never changes. When the data under it changes — late intervals, a VEE edit, a raw
revision, a rebuilt estimate — the bill is billed again from its own recorded inputs (tariff, period,
tenant, reads) with the data as it is now (:func:`rebill_with_intervals`), and the difference is either
issued as a corrected bill that references the original, or carried as adjustment lines on the next bill
(:func:`adjustment_lines`). Adjustments are differences of the printed (cent-rounded) lines, so the original
bill's printed total plus the adjustments is the corrected bill's printed total, to the cent.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from meshmeter.billing.bill import Bill, LineItem, interval_digest, printed
from meshmeter.billing.reproduce import rebill

__all__ = ["adjustment_lines", "changed_intervals", "rebill_with_intervals"]

IntArray = npt.NDArray[np.int64]


def _recorded(document: Mapping[str, Any]) -> tuple[IntArray, IntArray, IntArray]:
    inputs = document.get("inputs")
    intervals = inputs.get("intervals") if isinstance(inputs, Mapping) else None
    if not isinstance(intervals, Mapping):
        raise ValueError("the bill carries no recorded intervals (it was kept without its inputs)")
    return (
        np.asarray(intervals["interval_end_s"], dtype=np.int64),
        np.asarray(intervals["energy_wh"], dtype=np.int64),
        np.asarray(intervals["quality"], dtype=np.int64),
    )


def changed_intervals(
    document: Mapping[str, Any], energy_wh: npt.ArrayLike, quality: npt.ArrayLike
) -> IntArray:
    """
    Positions on the bill's grid where the data now differs from what the bill was made from.

    Parameters
    ----------
    document : mapping
        The issued bill (:meth:`Bill.to_dict` with its intervals).
    energy_wh, quality : array-like of int
        The meter's intervals now, on the bill's grid (absent intervals as quality 14, 0 Wh). [Wh]

    Returns
    -------
    ndarray of int64
        Grid positions whose energy or quality code changed.
    """
    ends, energy, qual = _recorded(document)
    now_e = np.asarray(energy_wh, dtype=np.int64)
    now_q = np.asarray(quality, dtype=np.int64)
    if now_e.shape != ends.shape or now_q.shape != ends.shape:
        raise ValueError(f"the intervals now must be on the bill's grid of {ends.size}, got {now_e.shape}")
    return np.flatnonzero((now_e != energy) | (now_q != qual)).astype(np.int64)


def rebill_with_intervals(
    document: Mapping[str, Any], energy_wh: npt.ArrayLike, quality: npt.ArrayLike
) -> Bill:
    """
    The bill its recorded inputs give with the meter's intervals as they are now.

    Parameters
    ----------
    document : mapping
        The issued bill, with its inputs and intervals.
    energy_wh, quality : array-like of int
        The intervals now, on the bill's grid (:func:`changed_intervals`). [Wh]

    Returns
    -------
    Bill
        Same tariff, period, tenant, reads and mode; the new intervals (and their digest) in its inputs.
    """
    ends, _, _ = _recorded(document)
    changed_intervals(document, energy_wh, quality)  # checks the grid
    energy = np.asarray(energy_wh, dtype=np.int64)
    qual = np.asarray(quality, dtype=np.int64)
    again = copy.deepcopy(dict(document))
    inputs = again["inputs"]
    inputs["intervals"] = {
        "interval_end_s": ends.tolist(),
        "energy_wh": energy.tolist(),
        "quality": qual.tolist(),
    }
    inputs["interval_digest"] = interval_digest(ends, energy, qual)
    return rebill(again)


def _key(line: Mapping[str, Any]) -> tuple[object, ...]:
    return (line.get("kind"), line.get("description"), line.get("period"), line.get("tier"))


def adjustment_lines(original: Mapping[str, Any], corrected: Bill, *, reference: str) -> list[LineItem]:
    """
    The corrected bill less the original, line by line, in printed cents.

    Parameters
    ----------
    original : mapping
        The issued bill's document (its ``lines`` with ``printed_amount``).
    corrected : Bill
        The same bill made again from the data now (:func:`rebill_with_intervals`).
    reference : str
        Names the original on each line, e.g. ``"Correction of bill 12 (July 2026)"``.

    Returns
    -------
    list of LineItem
        Kind ``"adjustment"``, one per charge whose printed amount changed (lines matched by kind,
        description, period and tier; a charge only on one side counts as 0 on the other), in the
        original's order then the new charges'. Their sum is the corrected bill's printed total less the
        original's, exactly.
    """
    before: dict[tuple[object, ...], Decimal] = {}
    order: list[tuple[object, ...]] = []
    names: dict[tuple[object, ...], str] = {}
    old_lines: Sequence[Mapping[str, Any]] = original.get("lines", [])
    for line in old_lines:
        key = _key(line)
        if key not in before:
            order.append(key)
            before[key] = Decimal(0)
        before[key] += Decimal(str(line.get("printed_amount", line["amount"])))
        names[key] = str(line.get("description", ""))
    after: dict[tuple[object, ...], Decimal] = {}
    for new in corrected.lines:
        key = (new.kind, new.description, new.period, new.tier)
        if key not in before and key not in after:
            order.append(key)
        after[key] = after.get(key, Decimal(0)) + printed(new.amount)
        names[key] = new.description
    lines = []
    for key in order:
        difference = after.get(key, Decimal(0)) - before.get(key, Decimal(0))
        if difference:
            lines.append(
                LineItem(
                    "adjustment",
                    f"{reference}: {names[key]}",
                    Decimal(1),
                    "bill",
                    difference,
                    Decimal(1),
                    difference,
                )
            )
    return lines
