"""The ESPI resources of a Green Button file as dataclasses, and their constants (``docs/greenbutton.md``).

ESPI facts: namespace ``http://naesb.org/espi``; ReadingType ``uom`` 72 = Wh, ``powerOfTenMultiplier``
(value × 10^m), ``intervalLength`` [s], ``accumulationBehaviour`` 4 = delta data, ``flowDirection``
1 = forward; IntervalReading ``timePeriod.start`` is Unix seconds UTC of the interval's *start*,
whereas meshmeter names an interval by its *end*. ``LocalTimeParameters`` and its DST rules are in
:mod:`~meshmeter.headend.greenbutton.dst`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from meshmeter.errors import _ReasonedError
from meshmeter.headend.greenbutton.dst import LocalTimeParameters
from meshmeter.intervals import INTERVAL_S as _INTERVAL_S

__all__ = [
    "ACCUMULATION_DELTA",
    "ATOM_NS",
    "ESPI_NS",
    "FLOW_FORWARD",
    "INTERVAL_S",
    "UOM_WH",
    "GreenButtonData",
    "GreenButtonError",
    "ImportResult",
    "IntervalBlock",
    "IntervalReading",
    "MeterReading",
    "ReadingType",
    "SummaryMeasurement",
    "UsagePoint",
    "UsageSummary",
]

ATOM_NS: Final = "http://www.w3.org/2005/Atom"
ESPI_NS: Final = "http://naesb.org/espi"
INTERVAL_S: Final = _INTERVAL_S
"""The default length of a meter's intervals, 15 minutes; import and export use the meter's own. [s]"""
UOM_WH: Final = 72
"""ESPI ``UnitSymbolKind`` of the watt-hour."""
ACCUMULATION_DELTA: Final = 4
"""ESPI ``AccumulationKind`` of delta data: the energy of each interval."""
FLOW_FORWARD: Final = 1
"""ESPI ``FlowDirectionKind`` forward: energy delivered to the customer."""


class GreenButtonError(_ReasonedError, ValueError):
    """
    A Green Button file that cannot be parsed or imported; nothing of it was stored.

    Parameters
    ----------
    reason : str
        Short machine-readable cause: ``"malformed"`` (not well-formed XML, a number that is not an
        integer or lies outside its ESPI type), ``"forbidden"`` (a DTD, an entity or an external
        reference), ``"not_espi"`` (not an Atom feed of ESPI resources), ``"unsupported"`` (a unit,
        interval or direction meshmeter does not store), ``"energy_too_high"`` (more energy in one
        interval than the meter can register, as the JSON and CSV ingest refuse),
        ``"ambiguous"`` (several meter readings), ``"conflict"`` (one interval with two values),
        ``"empty"`` (no interval reading), ``"unknown_meter"``.
    detail : str, optional
        What exactly is wrong, for people.

    Notes
    -----
    A :class:`~meshmeter.errors.MeshmeterError` and a ``ValueError``; ``reason``, ``detail`` and ``str``
    as for the other errors with a reason (:class:`~meshmeter.errors.FrameError`).
    """


def _apply_multiplier(value: int, power_of_ten_multiplier: int) -> Decimal:
    """ESPI's ``value × 10**powerOfTenMultiplier``, exactly, as a ``Decimal`` in the value's ``uom``."""
    return Decimal(value).scaleb(power_of_ten_multiplier)


@dataclass(frozen=True, slots=True)
class ReadingType:
    """
    An ESPI ``ReadingType``: what the values of a meter reading are. None where the file omits it.

    Attributes
    ----------
    uom : int or None
        ``UnitSymbolKind``: 72 Wh, 38 W, 169 therm ...
    power_of_ten_multiplier : int
        The values are ``value × 10**power_of_ten_multiplier`` in ``uom``; 0 when omitted.
    interval_length_s : int or None
        Length of each interval. [s]
    accumulation_behaviour : int or None
        4 delta data (energy in each interval), 1 bulk quantity ...
    flow_direction : int or None
        1 forward (delivered), 19 reverse, 4 net ...
    commodity, kind : int or None
        ``CommodityKind`` (1 electricity secondary metered), ``MeasurementKind`` (12 energy).
    """

    href: str | None
    uom: int | None
    power_of_ten_multiplier: int
    interval_length_s: int | None
    accumulation_behaviour: int | None
    flow_direction: int | None
    commodity: int | None
    kind: int | None

    def scale(self, value: int) -> Decimal:
        """``value × 10**power_of_ten_multiplier``, exactly, in ``uom``."""
        return _apply_multiplier(value, self.power_of_ten_multiplier)


@dataclass(frozen=True, slots=True)
class IntervalReading:
    """
    One ESPI ``IntervalReading``.

    Attributes
    ----------
    start : datetime
        Start of the interval, aware UTC (``timePeriod.start``).
    duration_s : int
        Its length (``timePeriod.duration``). [s]
    value : int
        The value as written in the file, before the multiplier.
    scaled : Decimal
        ``value × 10**powerOfTenMultiplier`` of the reading type, in its ``uom`` (Wh for uom 72). [uom]
    qualities : tuple of int
        The ``ReadingQuality`` codes given (none: valid).
    cost : int or None
        Cost, 1/100,000 of the currency.
    """

    start: datetime
    duration_s: int
    value: int
    scaled: Decimal
    qualities: tuple[int, ...] = ()
    cost: int | None = None

    @property
    def end(self) -> datetime:
        """End of the interval, which names it in meshmeter."""
        return self.start + timedelta(seconds=self.duration_s)


@dataclass(frozen=True, slots=True)
class IntervalBlock:
    """An ESPI ``IntervalBlock``: the period it covers (None where omitted) and its readings."""

    href: str | None
    start: datetime | None
    duration_s: int | None
    readings: tuple[IntervalReading, ...]


@dataclass(frozen=True, slots=True)
class MeterReading:
    """An ESPI ``MeterReading``: its reading type (None when the file gives none) and interval blocks."""

    href: str | None
    title: str
    reading_type: ReadingType | None
    blocks: tuple[IntervalBlock, ...]

    @property
    def readings(self) -> list[IntervalReading]:
        """Every interval reading of every block, by start."""
        return sorted((r for b in self.blocks for r in b.readings), key=lambda r: r.start)


@dataclass(frozen=True, slots=True)
class SummaryMeasurement:
    """An ESPI ``SummaryMeasurement``: ``value × 10**power_of_ten_multiplier`` in ``uom`` at ``timestamp``."""

    value: int | None
    power_of_ten_multiplier: int
    uom: int | None
    timestamp: datetime | None

    @property
    def scaled(self) -> Decimal | None:
        """The value with its multiplier applied, in ``uom``; None without a value."""
        return None if self.value is None else _apply_multiplier(self.value, self.power_of_ten_multiplier)


@dataclass(frozen=True, slots=True)
class UsageSummary:
    """
    An ESPI ``UsageSummary``, or the older ``ElectricPowerUsageSummary`` (``element`` says which).

    Costs are in 1/100,000 of ``currency`` (ISO 4217 number: 840 USD).
    """

    element: str
    href: str | None
    billing_period_start: datetime | None
    billing_period_duration_s: int | None
    bill_last_period: int | None
    bill_to_date: int | None
    currency: int | None
    overall_consumption_last_period: SummaryMeasurement | None
    current_billing_period_overall_consumption: SummaryMeasurement | None
    quality_of_reading: int | None
    status_timestamp: datetime | None


@dataclass(frozen=True, slots=True)
class UsagePoint:
    """An ESPI ``UsagePoint``: its title, service kind (0 electricity), meter readings and summaries."""

    href: str | None
    title: str
    service_kind: int | None
    meter_readings: tuple[MeterReading, ...]
    summaries: tuple[UsageSummary, ...]


@dataclass(frozen=True, slots=True)
class GreenButtonData:
    """A parsed Green Button file: the feed's id and title, its usage points, its local time."""

    feed_id: str | None
    title: str
    usage_points: tuple[UsagePoint, ...]
    local_time: LocalTimeParameters | None

    @property
    def meter_readings(self) -> list[MeterReading]:
        """Every meter reading of every usage point."""
        return [m for u in self.usage_points for m in u.meter_readings]

    @property
    def summaries(self) -> list[UsageSummary]:
        """Every usage summary of every usage point."""
        return [s for u in self.usage_points for s in u.summaries]


@dataclass(frozen=True, slots=True)
class ImportResult:
    """
    What :func:`import_greenbutton` did.

    Attributes
    ----------
    meter_id : int
        The meter the readings were stored for.
    intervals : int
        Interval readings in the file (after dropping exact duplicates). [1]
    stored : int
        Raw intervals stored: new ones and new revisions (0 when the file was imported before). [1]
    validated : int
        Validated intervals put or changed for the file's quality codes 7, 8, 9, 10. [1]
    first_end, last_end : datetime or None
        End of the first and last interval, UTC.
    qualities : dict of int to int
        How many readings carry each ``ReadingQuality`` code of the file, 0 for a reading without one. [1]
    """

    meter_id: int
    intervals: int
    stored: int
    validated: int
    first_end: datetime | None
    last_end: datetime | None
    qualities: dict[int, int] = field(default_factory=dict)
