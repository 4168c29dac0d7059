"""Issued bills whose data has changed since, their corrections, and where those go (``docs/billing.md``,
"Bills that stay right").

:func:`affected_bills` compares each stored bill's latest state (the bill as issued, or its last
correction) with the meter's validated view now; :func:`correction` bills it again from its own inputs
with the data now and gives the adjustment lines; :func:`issue_correction` keeps that correction, in the
site's mode: a corrected bill that replaces the original, or adjustment lines that
:func:`carry_corrections` puts on the account's next bill. ``meshmeter corrections`` and the API call
these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from meshmeter.billing.bill import Bill, LineItem
from meshmeter.billing.corrections import adjustment_lines, changed_intervals, rebill_with_intervals
from meshmeter.billing.engine import align_intervals
from meshmeter.billing.reproduce import with_carried_lines
from meshmeter.errors import CorrectionConflictError, NotFoundError
from meshmeter.intervals import INTERVAL_S
from meshmeter.store import Store, StoredBill, StoredCorrection

__all__ = [
    "AffectedBill",
    "Correction",
    "affected_bills",
    "carry_corrections",
    "correction",
    "correction_banner",
    "issue_correction",
]


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
        The energy of the bill's grid as last issued (the bill, or its last correction) and as it is now
        (billed or not). [Wh]
    corrections : int
        How many corrections of the bill were issued already (0: none; the data changed since the last).
    """

    bill: StoredBill
    changed: tuple[datetime, ...]
    issued_wh: int
    current_wh: int
    corrections: int = 0

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
        Corrected less the latest state, per charge, in printed cents (for the next bill).
    based_on : int
        The correction it corrects: 0 for the issued bill itself, else the sequence of its last one.
    base_total : Decimal
        The printed total of that state. [USD]
    changed : tuple of datetime
        The ends of the intervals that changed since that state, UTC (empty: nothing to correct).
    issued_wh : int
        The energy of that state's grid (billed or not). [Wh]
    """

    original: StoredBill
    corrected: Bill
    adjustments: tuple[LineItem, ...]
    based_on: int = 0
    base_total: Decimal | None = None
    changed: tuple[datetime, ...] = ()
    issued_wh: int = 0

    @property
    def difference(self) -> Decimal:
        """Corrected printed total less the latest state's: what the tenant owes more (or is owed). [USD]"""
        base = self.original.printed_total if self.base_total is None else self.base_total
        return self.corrected.printed_total - base

    @property
    def reason(self) -> str:
        """In words: what changed under the bill since its latest state."""
        n = len(self.changed)
        since = "it was issued" if self.based_on == 0 else f"its correction {self.based_on}"
        return (
            f"{n} interval{'s' if n != 1 else ''} changed since {since} (late data, a VEE edit, a "
            f"revision or a new estimate): {self.issued_wh / 1000:,.3f} kWh then, "
            f"{self.corrected.energy_wh / 1000:,.3f} kWh billed now ({self.difference:+,.2f} USD)"
        )


def _latest(store: Store, stored: StoredBill) -> tuple[dict[str, Any], int]:
    """The bill's latest state: its last correction's document and sequence, else the bill's own and 0."""
    issued = store.list_corrections(bill_id=stored.id)
    if not issued:
        return stored.document, 0
    return issued[-1].document, issued[-1].sequence


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
    The stored bills whose meter's validated data now differs from what they were last billed from (the
    issued bill, or its last correction).

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
        latest, sequence = _latest(store, stored)
        positions = changed_intervals(latest, energy, quality)
        if positions.size:
            issued = np.asarray(latest["inputs"]["intervals"]["energy_wh"], dtype=np.int64)
            found.append(
                AffectedBill(
                    bill=stored,
                    changed=tuple(datetime.fromtimestamp(int(grid[p]), UTC) for p in positions),
                    issued_wh=int(issued.sum()),
                    current_wh=int(energy.sum()),
                    corrections=sequence,
                )
            )
    return found


def _month(stored: StoredBill) -> str:
    """The bill's month as people name it: the local month of its period's start, ``2026-07``."""
    return stored.period_start.astimezone(ZoneInfo(stored.timezone)).strftime("%Y-%m")


def correction(store: Store, bill_id: int) -> Correction:
    """
    Bill a stored bill again from its own inputs with the meter's validated data now, against its latest
    state (the bill as issued, or its last correction).

    Raises
    ------
    NotFoundError
        When no bill has this id, or its meter is gone.
    CorrectionConflictError
        When the bill is a unit's share of a master bill (Maryland): it is not corrected alone.
    ValueError
        When the bill was kept without its intervals.
    """
    stored = store.get_bill(bill_id)
    if stored is None:
        raise NotFoundError("bill", bill_id, "meshmeter bill --save stores bills")
    if "intervals" not in stored.document.get("inputs", {}):
        raise ValueError(f"bill {bill_id} was kept without its intervals: it cannot be billed again")
    if stored.mode == "maryland":
        raise CorrectionConflictError(
            f"bill {bill_id} is a unit's share of a master bill (maryland allocation): one unit's kWh "
            "changes every unit's share, so it is not corrected alone"
        )
    grid, energy, quality = _current(store, stored)
    latest, sequence = _latest(store, stored)
    corrected = rebill_with_intervals(latest, energy, quality)
    reference = f"Correction of bill #{stored.id}, {_month(stored)}"
    positions = changed_intervals(latest, energy, quality)
    issued = np.asarray(latest["inputs"]["intervals"]["energy_wh"], dtype=np.int64)
    return Correction(
        original=stored,
        corrected=corrected,
        adjustments=tuple(adjustment_lines(latest, corrected, reference=reference)),
        based_on=sequence,
        base_total=Decimal(str(latest["printed_total"])),
        changed=tuple(datetime.fromtimestamp(int(grid[p]), UTC) for p in positions),
        issued_wh=int(issued.sum()),
    )


def issue_correction(store: Store, bill_id: int, *, by: str | None = None) -> StoredCorrection:
    """
    Issue the correction of a stored bill whose data changed: kept beside the bill (which never changes),
    as a corrected bill or as adjustment lines for the account's next bill, by its site's
    ``correction_mode`` (a corrected bill where the bill is of no one store account: no next bill of it
    would carry the lines).

    Parameters
    ----------
    store : Store
        Read, and written: the correction (the next of the bill's sequence).
    bill_id : int
        The issued bill.
    by : str, optional
        Who issues it, as recorded.

    Raises
    ------
    NotFoundError
        When no bill has this id, or its meter is gone.
    CorrectionConflictError
        When nothing changed under the bill since it (or its last correction) was issued, or another
        correction of it was issued meanwhile; nothing is changed.
    ValueError
        When the bill was kept without its intervals.
    """
    fixed = correction(store, bill_id)
    stored = fixed.original
    if not fixed.changed:
        since = "it was issued" if fixed.based_on == 0 else f"its correction {fixed.based_on}"
        raise CorrectionConflictError(
            f"nothing changed under bill {bill_id} since {since}: its meter's validated intervals are "
            "those it was billed from, there is nothing to correct"
        )
    site = None if stored.site_id is None else store.get_site(site_id=stored.site_id)
    mode = "corrected_bill" if site is None else site.correction_mode
    if stored.account_id is None:
        mode = "corrected_bill"  # no one account was billed: no next bill of it would carry the lines
    return store.issue_correction(
        bill_id=stored.id,
        mode=mode,
        reason=fixed.reason,
        document=fixed.corrected.to_dict(),
        lines=[line.to_dict() for line in fixed.adjustments],
        based_on=fixed.based_on,
        issued_by=by,
    )


def carry_corrections(store: Store, bill: Bill, *, account_id: int | None) -> tuple[Bill, list[int]]:
    """
    The account's bill with the adjustment lines of its pending ``next_bill`` corrections carried onto it.

    Parameters
    ----------
    store : Store
        Read: the account's corrections, and a bill of the same period already stored.
    bill : Bill
        The bill of its own charges, about to be saved.
    account_id : int or None
        The store account billed; None: nothing is carried (no account is known).

    Returns
    -------
    (Bill, list of int)
        The bill with the lines after its own (recorded in its inputs, so that it is billed again the
        same), and the ids of the corrections it carries, for :meth:`Store.save_bill` to mark applied.
        The lines of a correction of an earlier period than the bill's are carried; a bill of the same
        account, meter, period and tariff saved again carries what it carried the first time.
    """
    if account_id is None:
        return bill, []
    sha = bill.inputs.get("tariff_sha256")
    same = [
        b
        for b in store.list_bills(account_id=account_id, meter=bill.meter, start=bill.start, end=bill.end)
        if b.period_start == bill.start and b.period_end == bill.end and b.tariff_sha256 == sha
    ]
    if same:
        carried = store.list_corrections(applied_bill_id=same[0].id)
    else:
        carried = [
            c
            for c in store.list_corrections(account_id=account_id, pending=True)
            if datetime.fromisoformat(str(c.document["end"])) <= bill.start
        ]
    lines = [{**line, "correction_id": c.id} for c in carried for line in c.lines]
    return with_carried_lines(bill, lines), [c.id for c in carried]


def correction_banner(original: StoredBill, issued: StoredCorrection) -> str:
    """What a correction's printed bill says first: which bill it replaces, or where its lines go."""
    day = original.created_at.strftime("%Y-%m-%d")
    if issued.mode == "corrected_bill":
        return f"Corrected bill — replaces bill #{original.id} issued {day}"
    where = (
        "carried on the account's next bill"
        if issued.applied_bill_id is None
        else f"carried on bill #{issued.applied_bill_id}"
    )
    return (
        f"Correction {issued.sequence} of bill #{original.id} issued {day}: the difference of "
        f"{issued.difference:+,.2f} USD is {where}"
    )
