"""Issued bills whose data has changed since, and what their corrections are (``docs/billing.md``).

:func:`affected_bills` compares each stored bill's recorded intervals with the meter's validated view now;
:func:`correction` bills it again from its own inputs with the data now and gives the adjustment lines.
``meshmeter bill corrections`` and the API call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from meshmeter.billing.bill import Bill, LineItem
from meshmeter.billing.corrections import adjustment_lines, changed_intervals, rebill_with_intervals
from meshmeter.billing.engine import align_intervals
from meshmeter.errors import NotFoundError
from meshmeter.intervals import INTERVAL_S
from meshmeter.store import Store, StoredBill

__all__ = ["AffectedBill", "Correction", "affected_bills", "correction"]


@dataclass(frozen=True)
class AffectedBill:
    """
    A stored bill whose meter's data is no longer what it was billed from.

    Attributes
    ----------
    bill : StoredBill
        The issued bill, with its inputs.
    changed : tuple of datetime
        The ends of the intervals whose energy or quality code changed since, UTC.
    issued_wh, current_wh : int
        The energy of the bill's grid as issued and as it is now (billed or not). [Wh]
    """

    bill: StoredBill
    changed: tuple[datetime, ...]
    issued_wh: int
    current_wh: int

    @property
    def reason(self) -> str:
        """In words: how many intervals changed, and the energy before and after."""
        n = len(self.changed)
        return (
            f"{n} interval{'s' if n != 1 else ''} changed since it was issued (late data, a VEE edit, a "
            f"revision or a new estimate): {self.issued_wh / 1000:,.3f} kWh then, "
            f"{self.current_wh / 1000:,.3f} kWh now"
        )


@dataclass(frozen=True)
class Correction:
    """
    What an affected bill becomes.

    Attributes
    ----------
    original : StoredBill
        The issued bill (it stays as it is).
    corrected : Bill
        The bill made again from its inputs with the data now.
    adjustments : tuple of LineItem
        Corrected less original, per charge, in printed cents (for the next bill).
    """

    original: StoredBill
    corrected: Bill
    adjustments: tuple[LineItem, ...]

    @property
    def difference(self) -> Decimal:
        """Corrected printed total less the original's: what the tenant owes more (or is owed). [USD]"""
        return self.corrected.printed_total - self.original.printed_total


def _current(store: Store, stored: StoredBill) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bill's grid and the meter's validated intervals on it now."""
    inputs = stored.document.get("inputs", {})
    grid = np.asarray(inputs["intervals"]["interval_end_s"], dtype=np.int64)
    interval_s = int(inputs.get("interval_s", INTERVAL_S))  # recorded only when not 15 min
    meter = (
        store.get_meter(meter_id=stored.meter_id)
        if stored.meter_id is not None
        else store.get_meter(serial=stored.meter)
    )
    if meter is None:
        raise NotFoundError("meter", stored.meter, f"billed on bill {stored.id}")
    view = store.interval_view(meter_id=meter.id, start=stored.period_start, end=stored.period_end)
    energy, quality = align_intervals(
        grid, view.interval_end_s, view.energy_wh, view.quality, interval_s=interval_s
    )
    return grid, np.asarray(energy, dtype=np.int64), np.asarray(quality, dtype=np.int64)


def affected_bills(
    store: Store,
    *,
    site: int | None = None,
    meter: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[AffectedBill]:
    """
    The stored bills whose meter's validated data now differs from what they were billed from.

    Parameters
    ----------
    store : Store
        Read only.
    site, meter, start, end
        As :meth:`Store.list_bills`: only this site's, this meter's (serial), periods overlapping
        ``(start, end]``.

    Returns
    -------
    list of AffectedBill
        By period start then id. Bills kept without their intervals, or whose meter is gone, cannot be
        checked and are not listed.
    """
    found = []
    for listed in store.list_bills(site=site, meter=meter, start=start, end=end):
        stored = store.get_bill(listed.id)
        if stored is None or "intervals" not in stored.document.get("inputs", {}):
            continue
        try:
            grid, energy, quality = _current(store, stored)
        except NotFoundError:
            continue
        positions = changed_intervals(stored.document, energy, quality)
        if positions.size:
            issued = np.asarray(stored.document["inputs"]["intervals"]["energy_wh"], dtype=np.int64)
            found.append(
                AffectedBill(
                    bill=stored,
                    changed=tuple(datetime.fromtimestamp(int(grid[p]), UTC) for p in positions),
                    issued_wh=int(issued.sum()),
                    current_wh=int(energy.sum()),
                )
            )
    return found


def _month(stored: StoredBill) -> str:
    return stored.period_start.strftime("%Y-%m-%d") + " to " + stored.period_end.strftime("%Y-%m-%d")


def correction(store: Store, bill_id: int) -> Correction:
    """
    Bill a stored bill again from its own inputs with the meter's validated data now.

    Raises
    ------
    NotFoundError
        When no bill has this id, or its meter is gone.
    ValueError
        When the bill was kept without its intervals.
    """
    stored = store.get_bill(bill_id)
    if stored is None:
        raise NotFoundError("bill", bill_id, "meshmeter bill --save stores bills")
    if "intervals" not in stored.document.get("inputs", {}):
        raise ValueError(f"bill {bill_id} was kept without its intervals: it cannot be billed again")
    _, energy, quality = _current(store, stored)
    corrected = rebill_with_intervals(stored.document, energy, quality)
    reference = f"Correction of bill {stored.id} ({_month(stored)})"
    return Correction(
        original=stored,
        corrected=corrected,
        adjustments=tuple(adjustment_lines(stored.document, corrected, reference=reference)),
    )
