"""A meter's life on the bill (``docs/billing.md``, "A meter's life"): register rollover, the multiplier, the
reads of each meter that served the account, and what changed, as pure functions over numbers.

The semantics, once:

* A **register read** is what the register shows, in Wh, *before* the multiplier: the unit of the store's
  register reads, of the reads recorded at install, removal and changes, and of the intervals' counters
  (pulses × 10 Wh of the pulse output "10", manual §5.1). The doors of the head-end do not read the
  meter's multiplier: the intervals they store are what the meter registered.
* The **multiplier** turns registered energy into energy: ``energy = registered × multiplier``. Bills apply
  it, per interval, with the multiplier in force at the interval's end (:func:`apply_multipliers`); 1 (the
  default, and a Mini Meter on the CTs of its designation) leaves the intervals as they are.
* A register of ``d`` whole-kWh **digits** shows ``0 .. 10**d kWh`` and then starts again at 0: at
  ``10**(d + 3)`` Wh of the register, i.e. ``10**d kWh × multiplier`` of energy. A read below the one
  before it is a rollover (:func:`unwrap_reads`); energy from two reads is
  ``((closing - opening) mod 10**(d + 3)) × multiplier`` (:func:`energy_from_reads`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from meshmeter.billing.bill import READ_SOURCES as READ_SOURCE_WORDS
from meshmeter.billing.bill import Bill, MeterEvent, MeterRead

__all__ = [
    "READ_SOURCES",
    "apply_multipliers",
    "energy_from_reads",
    "meter_life_from_inputs",
    "meter_life_inputs",
    "register_modulus_wh",
    "rollover_ends",
    "scale_energy",
    "shown_factor",
    "shown_kwh",
    "unwrap_reads",
    "with_meter_life",
]

IntArray = npt.NDArray[np.int64]

READ_SOURCES: tuple[str, ...] = tuple(READ_SOURCE_WORDS)
"""Where a bill's read comes from (:class:`~meshmeter.billing.bill.MeterRead`), as the printed bill says
each (:data:`meshmeter.billing.bill.READ_SOURCES`)."""


def register_modulus_wh(register_digits: int | None) -> int | None:
    """
    Where a register rolls over, in Wh of the register (before the multiplier).

    Parameters
    ----------
    register_digits : int or None
        Whole-kWh digits of the register; None for one that never rolls over.

    Returns
    -------
    int or None
        ``10**(register_digits + 3)``: a 6-digit register (the LCD's ``999999.9 kWh``) rolls over at
        1,000,000 kWh = 10⁹ Wh. [Wh]
    """
    if register_digits is None:
        return None
    if isinstance(register_digits, bool) or not isinstance(register_digits, int) or register_digits < 1:
        raise ValueError(f"register_digits must be a positive int, got {register_digits!r}")
    return int(10 ** (register_digits + 3))


def unwrap_reads(
    reads_wh: npt.ArrayLike, *, modulus_wh: int | None
) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """
    A sequence of register reads with each rollover undone.

    Parameters
    ----------
    reads_wh : array-like of int
        Reads of one register in time order, each ``0 <= read < modulus_wh``. [Wh]
    modulus_wh : int or None
        Where the register rolls over (:func:`register_modulus_wh`); None: it never does. [Wh]

    Returns
    -------
    unwrapped_wh : ndarray of int64
        The reads with ``modulus_wh`` added once per rollover before each. [Wh]
    rolled : ndarray of bool
        True at each read that follows a rollover.

    Raises
    ------
    ValueError
        A read below the one before it of a register that never rolls over (it ran backwards), or a read
        outside ``0 .. modulus_wh``; naming the first.

    Notes
    -----
    Between two reads the register advances by less than one whole turn, so a read below the one before
    it means exactly one rollover: ``u[i] = r[i] + modulus × #{j <= i : r[j] < r[j-1]}``.
    """
    reads = np.asarray(reads_wh, dtype=np.int64)
    if reads.ndim != 1:
        raise ValueError(f"reads_wh must be one-dimensional, got shape {reads.shape}")
    if reads.size and reads.min() < 0:
        raise ValueError(f"reads_wh must not be negative, got {int(reads.min())}")
    if modulus_wh is not None and reads.size and reads.max() >= modulus_wh:
        raise ValueError(
            f"reads_wh must be below the register's rollover {modulus_wh} Wh, got {int(reads.max())}"
        )
    rolled = np.zeros(reads.size, dtype=np.bool_)
    rolled[1:] = reads[1:] < reads[:-1]
    if rolled.any() and modulus_wh is None:
        i = int(np.flatnonzero(rolled)[0])
        raise ValueError(
            f"reads_wh[{i}] {int(reads[i])} Wh is below reads_wh[{i - 1}] {int(reads[i - 1])} Wh, and the "
            "register never rolls over (no register digits): a register never runs backwards"
        )
    turns = np.cumsum(rolled, dtype=np.int64)
    return reads + turns * (0 if modulus_wh is None else modulus_wh), rolled


def energy_from_reads(opening_wh: int, closing_wh: int, *, multiplier: float, modulus_wh: int | None) -> int:
    """
    The energy between two reads of one register.

    Parameters
    ----------
    opening_wh, closing_wh : int
        The register at the start and at the end, before the multiplier. [Wh]
    multiplier : float
        Register reading to energy. [1]
    modulus_wh : int or None
        Where the register rolls over; a closing read below the opening one went through it once. [Wh]

    Returns
    -------
    int
        ``round((closing - opening) mod modulus × multiplier)``, half to even. [Wh]

    Examples
    --------
    A 6-digit register read at 999,950 kWh and then at 30 kWh advanced 80 kWh:

    >>> energy_from_reads(999_950_000, 30_000, multiplier=1.0, modulus_wh=10**9)
    80000
    """
    unwrapped, _ = unwrap_reads([opening_wh, closing_wh], modulus_wh=modulus_wh)
    return round(int(unwrapped[1] - unwrapped[0]) * multiplier)


def scale_energy(energy_wh: npt.ArrayLike, multiplier: float) -> IntArray:
    """
    Interval energies times a multiplier, in whole Wh, with nothing lost to rounding.

    Parameters
    ----------
    energy_wh : array-like of int
        Registered energy of consecutive intervals. [Wh]
    multiplier : float
        Register reading to energy, > 0. [1]

    Returns
    -------
    ndarray of int64
        ``diff(round(multiplier × cumsum(energy_wh)))``: each interval's share of the rounded running total,
        so the intervals sum to the total × multiplier within half a Wh. [Wh]
    """
    energy = np.asarray(energy_wh, dtype=np.int64)
    if not (np.isfinite(multiplier) and multiplier > 0):
        raise ValueError(f"multiplier must be a finite number > 0, got {multiplier!r}")
    if multiplier == 1.0 or energy.size == 0:
        return energy.copy()
    total = np.rint(np.cumsum(energy).astype(np.float64) * multiplier).astype(np.int64)
    return np.diff(total, prepend=np.int64(0))


def apply_multipliers(
    interval_end_s: npt.ArrayLike,
    energy_wh: npt.ArrayLike,
    *,
    multipliers: Sequence[tuple[int | None, float]],
) -> IntArray:
    """
    Registered interval energies as energy, each at the multiplier in force at its end.

    Parameters
    ----------
    interval_end_s : array-like of int
        Interval ends, increasing. [s]
    energy_wh : array-like of int
        Registered energy of each. [Wh]
    multipliers : sequence of (int or None, float)
        ``(from_s, multiplier)`` in time order: intervals ending after ``from_s`` take ``multiplier``
        (None: from the beginning). [s], [1]

    Returns
    -------
    ndarray of int64
        Energy of each interval (:func:`scale_energy` over each run of one multiplier). [Wh]
    """
    ends = np.asarray(interval_end_s, dtype=np.int64)
    energy = np.asarray(energy_wh, dtype=np.int64)
    if ends.shape != energy.shape:
        raise ValueError(f"energy_wh must have the shape of interval_end_s {ends.shape}, got {energy.shape}")
    out = energy.copy()
    bounds = [(-(2**62) if t is None else int(t), float(m)) for t, m in multipliers]
    for k, (lo, m) in enumerate(bounds):
        hi = bounds[k + 1][0] if k + 1 < len(bounds) else 2**62
        run = (ends > lo) & (ends <= hi)
        if run.any():
            out[run] = scale_energy(energy[run], m)
    return out


def rollover_ends(
    interval_end_s: npt.ArrayLike, cumulative_wh: npt.ArrayLike, *, modulus_wh: int | None
) -> IntArray:
    """
    The interval ends at which a register passed zero, from the intervals' counters.

    Parameters
    ----------
    interval_end_s : array-like of int
        Interval ends, increasing. [s]
    cumulative_wh : array-like of int
        The counter at each end, -1 where unknown: the register itself (below ``modulus_wh``, falling at a
        rollover) or a counter that never rolls over (the MDT's pulses × 10 Wh). [Wh]
    modulus_wh : int or None
        Where the register rolls over. [Wh]

    Returns
    -------
    ndarray of int64
        The end of the first interval with a known counter after each rollover. [s]
    """
    ends = np.asarray(interval_end_s, dtype=np.int64)
    counters = np.asarray(cumulative_wh, dtype=np.int64)
    if modulus_wh is None:
        return np.zeros(0, dtype=np.int64)
    known = counters >= 0
    k_ends, k_counts = ends[known], counters[known]
    if k_counts.size < 2:
        return np.zeros(0, dtype=np.int64)
    falls = np.concatenate(([0], np.cumsum(k_counts[1:] < k_counts[:-1])))
    turns = k_counts // modulus_wh + falls
    return k_ends[1:][np.diff(turns) > 0]


def shown_kwh(wh: int) -> str:
    """A read or an energy in words: ``999,950.000 kWh``."""
    return f"{Decimal(wh) / 1000:,.3f} kWh"


def shown_factor(value: float) -> str:
    """A multiplier or CT ratio in words, with no float noise: ``2``, ``0.5``, ``2000``."""
    text = f"{Decimal(repr(float(value))).normalize():f}"
    return text


def meter_life_inputs(reads: Sequence[MeterRead], events: Sequence[MeterEvent]) -> dict[str, Any]:
    """What a bill records of its meters' life in its inputs (``inputs["meter_life"]``), JSON-ready."""
    return {"reads": [r.to_dict() for r in reads], "events": [e.to_dict() for e in events]}


def meter_life_from_inputs(life: Mapping[str, Any]) -> tuple[tuple[MeterRead, ...], tuple[MeterEvent, ...]]:
    """The reads and events recorded by :func:`meter_life_inputs`, made again."""
    reads = tuple(
        MeterRead(
            meter=r["meter"],
            start=datetime.fromisoformat(r["start"]),
            end=datetime.fromisoformat(r["end"]),
            opening_wh=r["opening_wh"],
            closing_wh=r["closing_wh"],
            opening_source=r["opening_source"],
            closing_source=r["closing_source"],
            multiplier=float(r["multiplier"]),
            energy_wh=r.get("energy_wh"),
        )
        for r in life.get("reads", ())
    )
    events = tuple(
        MeterEvent(datetime.fromisoformat(e["at"]), e["meter"], e["kind"], e["text"])
        for e in life.get("events", ())
    )
    return reads, events


def with_meter_life(bill: Bill, life: Mapping[str, Any] | None) -> Bill:
    """
    The bill with its meters' reads and events (``bill.reads``, ``bill.meter_events``) from ``life``
    (:func:`meter_life_inputs`), recorded in its inputs so that re-billing gives them back; the bill as it
    is when ``life`` is None.
    """
    if life is None:
        return bill
    reads, events = meter_life_from_inputs(life)
    inputs = dict(bill.inputs)
    inputs["meter_life"] = meter_life_inputs(reads, events)
    return replace(bill, reads=reads, meter_events=events, inputs=inputs)
