"""Storing a Green Button file's readings as a meter's raw intervals (``docs/greenbutton.md``, Import).

:func:`import_greenbutton` parses the file
(:func:`~meshmeter.headend.greenbutton.parse.parse_greenbutton`), checks all of it against the meter,
and only then writes; :func:`import_quality` says which of the file's quality codes are kept as
validated intervals.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Final

from meshmeter.catalog.limits import max_interval_energy_wh
from meshmeter.headend.exports import find_meter
from meshmeter.headend.greenbutton.model import (
    ACCUMULATION_DELTA,
    FLOW_FORWARD,
    UOM_WH,
    GreenButtonError,
    ImportResult,
)
from meshmeter.headend.greenbutton.parse import parse_greenbutton
from meshmeter.headend.ingest import IngestReason, _too_much
from meshmeter.intervals import worst_quality

if TYPE_CHECKING:
    from meshmeter.store import Meter, Store

__all__ = ["import_greenbutton", "import_quality"]

_VALIDATED_CODES: Final = frozenset({7, 8, 9, 10})
_PASSED_CODES: Final = frozenset({0, 14, 17})


def import_quality(codes: Iterable[int]) -> int | None:
    """
    The quality code meshmeter keeps for an interval reading's ESPI ``ReadingQuality`` codes.

    None when the reading needs no validated row: no code, 0 valid, 17 validated, 14 raw (VEE will
    judge it). 7, 8, 9 and 10 are kept as they are; 11 derived, 12 projected, 13 mixed, 15, 16, 18 and
    any other code become 10 (questionable). With several codes, the least trusted wins.
    """
    kept = [c if c in _VALIDATED_CODES else 10 for c in codes if c not in _PASSED_CODES]
    return worst_quality(kept)


def import_greenbutton(
    store: Store, data: bytes, *, meter_serial: str, source: str = "greenbutton"
) -> ImportResult:
    """
    Store a Green Button file's interval readings as raw intervals of a known meter, at its length.

    Parameters
    ----------
    store : Store
        The head-end's store.
    data : bytes
        The file (:func:`parse_greenbutton`).
    meter_serial : str
        Serial number of the meter, which must exist.
    source : str, optional
        Source recorded on the raw intervals; default ``"greenbutton"``.

    Returns
    -------
    ImportResult
        Counts of what was read and stored.

    Raises
    ------
    GreenButtonError
        The whole file is refused, and nothing stored, when it cannot be parsed (``"malformed"``,
        ``"forbidden"``, ``"not_espi"``); when it holds no interval reading (``"empty"``) or readings of
        more than one MeterReading (``"ambiguous"``); when its ReadingType is missing or not what a
        meshmeter meter records (``"unsupported"``: ``uom`` other than 72 Wh, ``flowDirection`` other
        than 1 forward, ``accumulationBehaviour`` other than 4 delta, ``intervalLength`` other than
        the meter's interval length ``meter.interval_s``, 900 s for a 15-minute meter); when a reading
        lasts other than the meter's interval length, does not start on the meter's grid, or gives a
        negative or fractional energy in Wh after the multiplier (``"unsupported"``); when a reading
        gives more energy than the meter can register in one of its intervals (``"energy_too_high"``,
        the limit of every door, :func:`meshmeter.catalog.max_interval_energy_wh` of the meter's record:
        for a dual element Mini Meter on 200:0.1 A CTs 15,180 Wh in 15 minutes, 60,720 Wh in an hour; a
        single element one half of that); when one interval has two values (``"conflict"``); or when
        the meter is unknown (``"unknown_meter"``). A number outside its ESPI type is ``"malformed"``
        (:func:`parse_greenbutton`).

    Notes
    -----
    An interval reading starting at ``t`` becomes the raw interval ending at ``t + interval_s`` with
    energy ``value × 10**powerOfTenMultiplier`` [Wh]; nothing is resampled. Raw data is stored as
    received, idempotently: importing the same file again stores nothing. Quality codes
    (:func:`import_quality`) 7, 8, 9 and 10 are kept as validated intervals of the same energy and
    code, audited as edits by ``source``; VEE may later judge them again. Raw intervals and validated
    intervals are written in two transactions, the raw first; everything is checked before either.
    """
    meter: Meter
    try:
        meter = find_meter(store, meter_serial)
    except ValueError as exc:
        raise GreenButtonError("unknown_meter", str(exc)) from None
    parsed = parse_greenbutton(data)
    with_data = [m for m in parsed.meter_readings if any(b.readings for b in m.blocks)]
    if not with_data:
        raise GreenButtonError("empty", "the file holds no IntervalReading")
    if len(with_data) > 1:
        names = ", ".join(repr(m.href or m.title) for m in with_data)
        raise GreenButtonError(
            "ambiguous", f"the file holds {len(with_data)} MeterReadings with data ({names}); import one"
        )
    reading = with_data[0]
    rt = reading.reading_type
    if rt is None:
        raise GreenButtonError("unsupported", f"the MeterReading {reading.href!r} has no ReadingType")
    checks = (
        ("uom", rt.uom, (UOM_WH,), "72 (Wh)"),
        ("flowDirection", rt.flow_direction, (None, FLOW_FORWARD), "1 (forward)"),
        ("accumulationBehaviour", rt.accumulation_behaviour, (None, ACCUMULATION_DELTA), "4 (delta data)"),
        (
            "intervalLength",
            rt.interval_length_s,
            (None, meter.interval_s),
            f"{meter.interval_s} s, the length of meter {meter.serial}'s intervals",
        ),
    )
    for name, value, allowed, meaning in checks:
        if value not in allowed:
            raise GreenButtonError("unsupported", f"ReadingType.{name} must be {meaning}, got {value!r}")

    limit_wh = max_interval_energy_wh(meter)
    energy: dict[datetime, int] = {}
    quality: dict[datetime, int] = {}
    counts: dict[int, int] = {}
    for r in reading.readings:
        what = f"the IntervalReading starting {r.start.isoformat()}"
        if r.duration_s != meter.interval_s:
            raise GreenButtonError(
                "unsupported",
                f"{what} lasts {r.duration_s} s; meter {meter.serial} has {meter.interval_s} s intervals",
            )
        if int(r.start.timestamp()) % meter.interval_s:
            raise GreenButtonError(
                "unsupported", f"{what} does not start on the meter's {meter.interval_s // 60}-minute grid"
            )
        if r.scaled < 0 or r.scaled != r.scaled.to_integral_value():
            raise GreenButtonError(
                "unsupported", f"{what} gives {r.scaled} Wh: energy must be whole, non-negative Wh"
            )
        if r.scaled > limit_wh:
            # whole Wh by now; written out in digits unless huge (1E+32767 Wh is not printed in full)
            shown = r.scaled if r.scaled.adjusted() > 30 else int(r.scaled)
            raise GreenButtonError(
                IngestReason.ENERGY_TOO_HIGH.value,
                f"{what} gives {_too_much(shown, limit_wh, meter, meter.interval_s)}",
            )
        end, wh, code = r.end, int(r.scaled), import_quality(r.qualities)
        if energy.setdefault(end, wh) != wh or quality.get(end, code) != code:
            raise GreenButtonError("conflict", f"{what} appears twice with different values")
        if code is not None:
            quality[end] = code
        for c in r.qualities or (0,):
            counts[c] = counts.get(c, 0) + 1
    ends = sorted(energy)
    stored = store.insert_raw_intervals(
        meter_id=meter.id, rows=[(end, energy[end]) for end in ends], source=source
    )
    validated = 0
    if quality:
        validated = store.put_validated_intervals(
            meter_id=meter.id,
            rows=[(end, energy[end], quality[end]) for end in sorted(quality)],
            edited_by=source,
            reason="quality code of the imported Green Button file",
        )
    return ImportResult(
        meter_id=meter.id,
        intervals=len(ends),
        stored=stored,
        validated=validated,
        first_end=ends[0],
        last_end=ends[-1],
        qualities=counts,
    )
