"""Green Button (NAESB REQ.21 ESPI, Atom) export, parsing and import (``docs/greenbutton.md``).

- :func:`export_greenbutton` writes one meter's validated intervals as an Atom feed of ESPI resources
  (UsagePoint, LocalTimeParameters, MeterReading, ReadingType, one IntervalBlock per local day) that
  validates against the ESPI 3.3 schema ``usage.xsd``.
- :func:`parse_greenbutton` reads a Green Button file safely (no DTD, no entity, no external reference)
  into :class:`GreenButtonData`.
- :func:`import_greenbutton` stores a file's 15-minute Wh readings as raw intervals of a known meter,
  refusing the whole file on bad input, and keeps the file's quality codes 7, 8, 9 and 10 as validated
  intervals.
- :func:`local_time_parameters` and :class:`DstRule` encode and decode ESPI's ``LocalTimeParameters``
  (``DstRuleType`` of usage.xsd).

ESPI facts used here: namespace ``http://naesb.org/espi``; ReadingType ``uom`` 72 = Wh,
``powerOfTenMultiplier`` (value × 10^m), ``intervalLength`` [s], ``accumulationBehaviour`` 4 = delta data,
``flowDirection`` 1 = forward; IntervalReading ``timePeriod.start`` is Unix seconds UTC of the interval's
*start*, whereas meshmeter names an interval by its *end*.
"""

from __future__ import annotations

import calendar
import importlib
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Final, cast
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from meshmeter.errors import MeshmeterError
from meshmeter.headend.exports import find_meter, worst_quality, zone
from meshmeter.intervals import INTERVAL_S as _INTERVAL_S

if TYPE_CHECKING:
    from meshmeter.store import Meter, Store

__all__ = [
    "ATOM_NS",
    "DST_RULE_DISABLED",
    "ESPI_NS",
    "INTERVAL_S",
    "UOM_WH",
    "DstRule",
    "GreenButtonData",
    "GreenButtonError",
    "ImportResult",
    "IntervalBlock",
    "IntervalReading",
    "LocalTimeParameters",
    "MeterReading",
    "ReadingType",
    "SummaryMeasurement",
    "UsagePoint",
    "UsageSummary",
    "export_greenbutton",
    "import_greenbutton",
    "import_quality",
    "local_time_parameters",
    "parse_greenbutton",
]

ATOM_NS: Final = "http://www.w3.org/2005/Atom"
ESPI_NS: Final = "http://naesb.org/espi"
INTERVAL_S: Final = _INTERVAL_S
"""The meter's interval, 15 minutes; the only interval length imported and exported. [s]"""
UOM_WH: Final = 72
"""ESPI ``UnitSymbolKind`` of the watt-hour."""
ACCUMULATION_DELTA: Final = 4
FLOW_FORWARD: Final = 1
DST_RULE_DISABLED: Final = 0xFFFFFFFF
"""``DstRuleType`` value meaning "no DST correction" (usage.xsd)."""

_A: Final = f"{{{ATOM_NS}}}"
_E: Final = f"{{{ESPI_NS}}}"
_BASE: Final = "/espi/1_1/resource"
_INT = re.compile(r"\s*[+-]?[0-9]+\s*")
_VALIDATED_CODES: Final = frozenset({7, 8, 9, 10})
_PASSED_CODES: Final = frozenset({0, 14, 17})
_SUMMARY_TAGS: Final = ("UsageSummary", "ElectricPowerUsageSummary")


class GreenButtonError(MeshmeterError, ValueError):
    """
    A Green Button file that cannot be parsed or imported; nothing of it was stored.

    Parameters
    ----------
    reason : str
        Short machine-readable cause: ``"malformed"`` (not well-formed XML, a bad number), ``"forbidden"``
        (a DTD, an entity or an external reference), ``"not_espi"`` (not an Atom feed of ESPI
        resources), ``"unsupported"`` (a unit, interval or direction meshmeter does not store),
        ``"ambiguous"`` (several meter readings), ``"conflict"`` (one interval with two values),
        ``"empty"`` (no interval reading), ``"unknown_meter"``.
    detail : str, optional
        What exactly is wrong, for people.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


# -- LocalTimeParameters: DstRuleType -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DstRule:
    """
    One ESPI ``DstRuleType``: when, in local time, DST starts or ends in a year (usage.xsd).

    The 32-bit encoding: bits 0-11 seconds (0-3599), 12-16 hour (0-23), 17-19 day of the week (0 not
    applicable, 1-7 with Monday 1), 20-24 day of the month (0 not applicable, 1-31), 25-27 operator,
    28-31 month (1-12). Operators: 0 on the day of the month; 1 on the first day of the week on or after
    the day of the month; 2-6 on the first to fifth occurrence of the day of the week in the month;
    7 on its last occurrence.

    Attributes
    ----------
    month : int
        1-12.
    operator : int
        0-7, as above.
    day_of_week : int
        1-7 (Monday 1), 0 when not applicable (operator 0).
    day_of_month : int
        1-31 for operators 0 and 1, else 0.
    hour : int
        0-23, wall-clock hour of the change, in the time in force before it. [h]
    second : int
        Seconds after the hour, 0-3599. [s]

    Examples
    --------
    US rules since 2007 (Energy Policy Act 2005 §110): DST starts on the second Sunday of March at
    02:00 standard time, ``0x360E2000``, and ends on the first Sunday of November at 02:00 daylight
    time, ``0xB40E2000``.
    """

    month: int
    operator: int
    day_of_week: int
    day_of_month: int
    hour: int
    second: int = 0

    def __post_init__(self) -> None:
        limits = {
            "month": (1, 12),
            "operator": (0, 7),
            "day_of_week": (0, 7),
            "day_of_month": (0, 31),
            "hour": (0, 23),
            "second": (0, 3599),
        }
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
        if self.operator in (0, 1) and self.day_of_month == 0:
            raise ValueError(f"operator {self.operator} needs a day_of_month in [1, 31]")
        if self.operator >= 1 and self.day_of_week == 0:
            raise ValueError(f"operator {self.operator} needs a day_of_week in [1, 7]")

    def encode(self) -> int:
        """The 32-bit ``DstRuleType`` value."""
        return (
            self.second
            | self.hour << 12
            | self.day_of_week << 17
            | self.day_of_month << 20
            | self.operator << 25
            | self.month << 28
        )

    @classmethod
    def decode(cls, value: int) -> DstRule | None:
        """The rule of a 32-bit value; None for :data:`DST_RULE_DISABLED`; ``ValueError`` when invalid."""
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"a DstRuleType is 32 bits, got {value!r}")
        if value == DST_RULE_DISABLED:
            return None
        return cls(
            month=value >> 28 & 0xF,
            operator=value >> 25 & 0x7,
            day_of_week=value >> 17 & 0x7,
            day_of_month=value >> 20 & 0x1F,
            hour=value >> 12 & 0x1F,
            second=value & 0xFFF,
        )

    def local_datetime(self, year: int) -> datetime:
        """The naive wall-clock time of the change in ``year``, in the time in force before it."""
        days = calendar.monthrange(year, self.month)[1]
        if self.operator == 0:
            if self.day_of_month > days:
                raise ValueError(f"day_of_month {self.day_of_month} is not in {year}-{self.month:02d}")
            day = date(year, self.month, self.day_of_month)
        elif self.operator == 1:
            first = date(year, self.month, min(self.day_of_month, days))
            day = first + timedelta(days=(self.day_of_week - first.isoweekday()) % 7)
        elif self.operator == 7:
            last = date(year, self.month, days)
            day = last - timedelta(days=(last.isoweekday() - self.day_of_week) % 7)
        else:
            first = date(year, self.month, 1)
            offset = (self.day_of_week - first.isoweekday()) % 7 + 7 * (self.operator - 2)
            if offset >= days:
                raise ValueError(f"rule {self.encode():08X} names no day in {year}-{self.month:02d}")
            day = first + timedelta(days=offset)
        return datetime(year, day.month, day.day, self.hour, self.second // 60, self.second % 60)


@dataclass(frozen=True, slots=True)
class LocalTimeParameters:
    """
    ESPI ``LocalTimeParameters`` (``TimeConfiguration``): the local time of the data's usage point.

    Attributes
    ----------
    tz_offset_s : int
        Standard time's offset from UTC, no DST included (-18000 for US Eastern). [s]
    dst_offset_s : int
        What DST adds to it (3600), 0 without DST. [s]
    dst_start_rule, dst_end_rule : int
        32-bit ``DstRuleType`` values (:class:`DstRule`), :data:`DST_RULE_DISABLED` without DST.
    """

    tz_offset_s: int
    dst_offset_s: int
    dst_start_rule: int
    dst_end_rule: int

    @property
    def dst_start(self) -> DstRule | None:
        """The start rule, None when disabled."""
        return DstRule.decode(self.dst_start_rule)

    @property
    def dst_end(self) -> DstRule | None:
        """The end rule, None when disabled."""
        return DstRule.decode(self.dst_end_rule)

    def dst_span(self, year: int) -> tuple[datetime, datetime] | None:
        """DST's start and end in ``year`` as aware UTC instants; None without DST."""
        start, end = self.dst_start, self.dst_end
        if start is None or end is None or self.dst_offset_s == 0:
            return None
        standard = timedelta(seconds=self.tz_offset_s)
        daylight = standard + timedelta(seconds=self.dst_offset_s)
        return (
            (start.local_datetime(year) - standard).replace(tzinfo=UTC),
            (end.local_datetime(year) - daylight).replace(tzinfo=UTC),
        )

    def utcoffset_s(self, instant: datetime) -> int:
        """
        The offset of local time from UTC at an aware instant, by these rules. [s]

        In the southern hemisphere DST starts late in a year and ends early in the next: an instant is in
        DST when it is after the start or before the end of its year.
        """
        if instant.tzinfo is None:
            raise ValueError(f"instant must be timezone-aware, got {instant!r}")
        moment = instant.astimezone(UTC)
        span = self.dst_span(moment.year)
        if span is None:
            return self.tz_offset_s
        start, end = span
        in_dst = start <= moment < end if start < end else (moment >= start or moment < end)
        return self.tz_offset_s + (self.dst_offset_s if in_dst else 0)


def _offsets(tz: tzinfo, epoch_s: int) -> tuple[int, int]:
    moment = datetime.fromtimestamp(epoch_s, tz)
    utcoffset, dst = moment.utcoffset(), moment.dst()
    return (
        int(utcoffset.total_seconds()) if utcoffset is not None else 0,
        int(dst.total_seconds()) if dst is not None else 0,
    )


@dataclass(frozen=True, slots=True)
class _Transition:
    at_s: int  # first second of the new offset, Unix seconds
    wall: datetime  # naive wall time at that instant, in the time in force before it
    starts_dst: bool
    standard_s: int
    dst_s: int


def _transitions(tz: tzinfo, year: int) -> list[_Transition]:
    """The DST changes of ``tz`` whose wall time (before the change) falls in ``year``."""
    step = 6 * 3600  # far shorter than the time between two changes
    lo = int(datetime(year, 1, 1, tzinfo=UTC).timestamp()) - 2 * 86400
    hi = int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp()) + 2 * 86400
    out: list[_Transition] = []
    previous = _offsets(tz, lo)
    for t in range(lo + step, hi + step, step):
        current = _offsets(tz, t)
        if current == previous:
            continue
        a, b = t - step, t  # offsets(a) == previous, offsets(b) == current
        while b - a > 1:
            mid = (a + b) // 2
            if _offsets(tz, mid) == previous:
                a = mid
            else:
                b = mid
        before_utc, before_dst = previous
        after_utc, after_dst = current
        if (before_dst == 0) != (after_dst == 0):
            wall = datetime.fromtimestamp(b + before_utc, UTC).replace(tzinfo=None)
            if wall.year == year:
                starts = after_dst != 0
                out.append(
                    _Transition(
                        at_s=b,
                        wall=wall,
                        starts_dst=starts,
                        standard_s=before_utc if starts else after_utc,
                        dst_s=after_dst if starts else before_dst,
                    )
                )
        previous = current
    return out


def _candidate_rules(wall: datetime) -> list[DstRule]:
    """Rules that give ``wall`` in its year, most usual first: n-th weekday, last weekday, fixed day."""
    seconds = wall.minute * 60 + wall.second
    dow = wall.isoweekday()
    nth = (wall.day - 1) // 7 + 1
    rules = [DstRule(wall.month, nth + 1, dow, 0, wall.hour, seconds)]
    if wall.day + 7 > calendar.monthrange(wall.year, wall.month)[1]:
        rules.append(DstRule(wall.month, 7, dow, 0, wall.hour, seconds))
    rules.append(DstRule(wall.month, 0, 0, wall.day, wall.hour, seconds))
    return rules


def local_time_parameters(timezone: str, year: int) -> LocalTimeParameters:
    """
    ESPI ``LocalTimeParameters`` of an IANA time zone, with the DST rules in force in ``year``.

    Parameters
    ----------
    timezone : str
        IANA name (``America/New_York``).
    year : int
        The year whose DST changes the rules must reproduce.

    Returns
    -------
    LocalTimeParameters
        US Eastern gives ``tzOffset`` -18000, ``dstOffset`` 3600, ``dstStartRule`` ``360E2000`` (second
        Sunday of March, 02:00) and ``dstEndRule`` ``B40E2000`` (first Sunday of November, 02:00), as the
        Green Button Alliance's sample data does.

    Notes
    -----
    The changes of ``year`` are read from the time zone database, at the second. Each is encoded as the
    first rule (n-th occurrence of its weekday in the month; last occurrence; fixed day of the month)
    that reproduces it in ``year`` and in the six years after that have such a change (seven years see
    every weekday alignment); when none does, the n-th occurrence of ``year`` is kept. The time of the
    change is the wall clock before it (standard time for the start, daylight time for the end). A zone
    without DST in ``year`` gets its standard offset, ``dstOffset`` 0 and both rules
    :data:`DST_RULE_DISABLED`. In the southern hemisphere the end rule falls earlier in the year than
    the start rule, which usage.xsd's documentation does not foresee but its type allows.
    """
    tz = zone(timezone)
    if isinstance(year, bool) or not isinstance(year, int) or not 1 <= year <= 9998:
        raise ValueError(f"year must be an integer in [1, 9998], got {year!r}")
    changes = _transitions(tz, year)
    start = next((c for c in changes if c.starts_dst), None)
    end = next((c for c in changes if not c.starts_dst), None)
    if start is None or end is None:
        middle = int(datetime(year, 7, 1, tzinfo=UTC).timestamp())
        utcoffset, dst = _offsets(tz, middle)
        return LocalTimeParameters(utcoffset - dst, 0, DST_RULE_DISABLED, DST_RULE_DISABLED)
    later = {y: _transitions(tz, y) for y in range(year + 1, year + 7)}

    def rule(change: _Transition) -> int:
        candidates = _candidate_rules(change.wall)
        for candidate in candidates:
            fits = True
            for changes_y in later.values():
                same = next((c for c in changes_y if c.starts_dst == change.starts_dst), None)
                if same is None:
                    continue
                try:
                    fits = candidate.local_datetime(same.wall.year) == same.wall
                except ValueError:
                    fits = False
                if not fits:
                    break
            if fits:
                return candidate.encode()
        return candidates[0].encode()

    return LocalTimeParameters(start.standard_s, start.dst_s, rule(start), rule(end))


# -- parsing ------------------------------------------------------------------------------------------


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
        return Decimal(value).scaleb(self.power_of_ten_multiplier)


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
        return None if self.value is None else Decimal(self.value).scaleb(self.power_of_ten_multiplier)


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


_FromString = Callable[..., ET.Element]


def _defused_fromstring() -> _FromString:
    """``defusedxml.ElementTree.fromstring``; defusedxml ships no type information, so it is typed here."""
    module = importlib.import_module("defusedxml.ElementTree")
    return cast(_FromString, module.fromstring)


def _safe_parse(data: bytes) -> ET.Element:
    """Parse with expat through defusedxml: a DTD (so any entity), or an external reference, is refused."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise GreenButtonError("malformed", f"data must be bytes, got {type(data).__name__}")
    defused = importlib.import_module("defusedxml")
    forbidden = cast(type[Exception], defused.DefusedXmlException)
    try:
        return _defused_fromstring()(bytes(data), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except forbidden as exc:
        raise GreenButtonError(
            "forbidden", f"a Green Button file may not carry a DTD, entities or external references ({exc!r})"
        ) from None
    except ET.ParseError as exc:
        raise GreenButtonError("malformed", f"not well-formed XML: {exc}") from None


def _text(element: ET.Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip()


def _int(element: ET.Element | None, what: str) -> int | None:
    text = _text(element)
    if text is None:
        return None
    if not _INT.fullmatch(text):
        raise GreenButtonError("malformed", f"{what} must be an integer, got {text!r}")
    return int(text)


def _required_int(element: ET.Element, tag: str, what: str) -> int:
    value = _int(element.find(_E + tag), f"{what}.{tag}")
    if value is None:
        raise GreenButtonError("malformed", f"{what} has no {tag}")
    return value


def _instant(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _href(href: str | None) -> str | None:
    return None if href is None else href.strip().rstrip("/")


@dataclass(slots=True)
class _Entry:
    self_href: str | None
    up_href: str | None
    related: list[str]
    title: str
    resource: ET.Element


def _entries(root: ET.Element) -> Iterator[_Entry]:
    if root.tag == _A + "feed":
        entries = root.findall(_A + "entry")
    elif root.tag == _A + "entry":
        entries = [root]
    else:
        raise GreenButtonError(
            "not_espi", f"the root element must be an Atom feed or entry, got {root.tag!r}"
        )
    for entry in entries:
        links: dict[str, list[str]] = {}
        for link in entry.findall(_A + "link"):
            href = _href(link.get("href"))
            if href is not None:
                links.setdefault(link.get("rel", "alternate"), []).append(href)
        content = entry.find(_A + "content")
        if content is None:
            continue
        for resource in content:
            if isinstance(resource.tag, str) and resource.tag.startswith(_E):
                yield _Entry(
                    self_href=next(iter(links.get("self", [])), None),
                    up_href=next(iter(links.get("up", [])), None),
                    related=links.get("related", []),
                    title=_text(entry.find(_A + "title")) or "",
                    resource=resource,
                )


def _reading_type(entry: _Entry) -> ReadingType:
    e = entry.resource

    def get(tag: str) -> int | None:
        return _int(e.find(_E + tag), f"ReadingType.{tag}")

    return ReadingType(
        href=entry.self_href,
        uom=get("uom"),
        power_of_ten_multiplier=get("powerOfTenMultiplier") or 0,
        interval_length_s=get("intervalLength"),
        accumulation_behaviour=get("accumulationBehaviour"),
        flow_direction=get("flowDirection"),
        commodity=get("commodity"),
        kind=get("kind"),
    )


def _interval_block(entry: _Entry, reading_type: ReadingType | None) -> IntervalBlock:
    e = entry.resource
    interval = e.find(_E + "interval")
    start = duration = None
    if interval is not None:
        start = _required_int(interval, "start", "IntervalBlock.interval")
        duration = _required_int(interval, "duration", "IntervalBlock.interval")
    readings: list[IntervalReading] = []
    for k, r in enumerate(e.findall(_E + "IntervalReading")):
        what = f"IntervalBlock {entry.self_href or ''} IntervalReading[{k}]"
        period = r.find(_E + "timePeriod")
        if period is None:
            raise GreenButtonError("malformed", f"{what} has no timePeriod")
        value = _int(r.find(_E + "value"), f"{what}.value")
        if value is None:
            raise GreenButtonError("malformed", f"{what} has no value")
        qualities = tuple(
            q
            for q in (
                _int(rq.find(_E + "quality"), f"{what}.quality") for rq in r.findall(_E + "ReadingQuality")
            )
            if q is not None
        )
        readings.append(
            IntervalReading(
                start=datetime.fromtimestamp(_required_int(period, "start", f"{what}.timePeriod"), UTC),
                duration_s=_required_int(period, "duration", f"{what}.timePeriod"),
                value=value,
                scaled=Decimal(value) if reading_type is None else reading_type.scale(value),
                qualities=qualities,
                cost=_int(r.find(_E + "cost"), f"{what}.cost"),
            )
        )
    return IntervalBlock(entry.self_href, _instant(start), duration, tuple(readings))


def _measurement(element: ET.Element | None, what: str) -> SummaryMeasurement | None:
    if element is None:
        return None
    return SummaryMeasurement(
        value=_int(element.find(_E + "value"), f"{what}.value"),
        power_of_ten_multiplier=_int(element.find(_E + "powerOfTenMultiplier"), what) or 0,
        uom=_int(element.find(_E + "uom"), f"{what}.uom"),
        timestamp=_instant(_int(element.find(_E + "timeStamp"), f"{what}.timeStamp")),
    )


def _summary(entry: _Entry, element: str) -> UsageSummary:
    e = entry.resource

    def get(tag: str) -> int | None:
        return _int(e.find(_E + tag), f"{element}.{tag}")

    period = e.find(_E + "billingPeriod")
    return UsageSummary(
        element=element,
        href=entry.self_href,
        billing_period_start=None
        if period is None
        else _instant(_required_int(period, "start", f"{element}.billingPeriod")),
        billing_period_duration_s=None
        if period is None
        else _required_int(period, "duration", f"{element}.billingPeriod"),
        bill_last_period=get("billLastPeriod"),
        bill_to_date=get("billToDate"),
        currency=get("currency"),
        overall_consumption_last_period=_measurement(
            e.find(_E + "overallConsumptionLastPeriod"), f"{element}.overallConsumptionLastPeriod"
        ),
        current_billing_period_overall_consumption=_measurement(
            e.find(_E + "currentBillingPeriodOverAllConsumption"),
            f"{element}.currentBillingPeriodOverAllConsumption",
        ),
        quality_of_reading=get("qualityOfReading"),
        status_timestamp=_instant(get("statusTimeStamp")),
    )


def _parent(child: _Entry, parents: list[_Entry], what: str) -> int | None:
    """Index of the parent whose ``self`` link is a prefix of the child's; the only one when none is."""
    hrefs = [h for h in (child.self_href, child.up_href) if h]
    best: tuple[int, int] | None = None
    for i, p in enumerate(parents):
        inside = p.self_href and any(h.startswith(p.self_href + "/") for h in hrefs)
        if p.self_href and inside and (best is None or len(p.self_href) > best[1]):
            best = (i, len(p.self_href))
    if best is not None:
        return best[0]
    if len(parents) == 1:
        return 0
    if not parents:
        return None
    raise GreenButtonError(
        "not_espi", f"the {what} {child.self_href!r} belongs to none of the feed's resources"
    )


def parse_greenbutton(data: bytes) -> GreenButtonData:
    """
    Parse a Green Button file (an Atom feed of ESPI resources), safely.

    Parameters
    ----------
    data : bytes
        The file's bytes, XML in any encoding its declaration names.

    Returns
    -------
    GreenButtonData
        Usage points with their meter readings (reading type, interval blocks, interval readings with
        start, duration, value as written and scaled by ``powerOfTenMultiplier``, quality codes, cost) and
        usage summaries (``UsageSummary`` and the older ``ElectricPowerUsageSummary``), and the
        ``LocalTimeParameters``.

    Raises
    ------
    GreenButtonError
        ``"forbidden"`` for a DTD (billion laughs, external entities), an entity or external reference;
        ``"malformed"`` for XML that is not well formed or a number that is not an integer;
        ``"not_espi"`` for a document that is not an Atom feed (or entry) of ESPI resources.

    Notes
    -----
    Resources are tied together by their Atom links, as ESPI lays them out: a MeterReading belongs to
    the UsagePoint whose ``self`` link prefixes its own (``.../UsagePoint/1/MeterReading/1``), an
    IntervalBlock to its MeterReading likewise, a summary to its UsagePoint; a MeterReading's
    ReadingType is the one its ``related`` links name. When links do not tell and there is only one
    candidate, it is taken; a feed with MeterReadings but no UsagePoint gets one without a link.
    """
    root = _safe_parse(data)
    by_kind: dict[str, list[_Entry]] = {}
    for entry in _entries(root):
        by_kind.setdefault(entry.resource.tag.removeprefix(_E), []).append(entry)
    if not by_kind:
        raise GreenButtonError(
            "not_espi", "the feed holds no ESPI resource (namespace http://naesb.org/espi)"
        )

    reading_types = [_reading_type(e) for e in by_kind.get("ReadingType", [])]
    points = by_kind.get("UsagePoint", [])
    meter_entries = by_kind.get("MeterReading", [])
    if meter_entries and not points:
        points = [_Entry(None, None, [], "", ET.Element(_E + "UsagePoint"))]

    reading_type_of: list[ReadingType | None] = []
    for m in meter_entries:
        named = [t for t in reading_types if t.href is not None and t.href in m.related]
        if named:
            reading_type_of.append(named[0])
        elif len(reading_types) == 1:
            reading_type_of.append(reading_types[0])
        else:
            reading_type_of.append(None)

    blocks_of: list[list[IntervalBlock]] = [[] for _ in meter_entries]
    for b in by_kind.get("IntervalBlock", []):
        i = _parent(b, meter_entries, "IntervalBlock")
        if i is None:
            raise GreenButtonError("not_espi", "the feed has IntervalBlocks but no MeterReading")
        blocks_of[i].append(_interval_block(b, reading_type_of[i]))

    readings_of: list[list[MeterReading]] = [[] for _ in points]
    for k, m in enumerate(meter_entries):
        i = _parent(m, points, "MeterReading")
        assert i is not None  # points is not empty when there are meter readings
        readings_of[i].append(MeterReading(m.self_href, m.title, reading_type_of[k], tuple(blocks_of[k])))

    summaries_of: list[list[UsageSummary]] = [[] for _ in points]
    for tag in _SUMMARY_TAGS:
        for s in by_kind.get(tag, []):
            i = _parent(s, points, tag)
            if i is not None:
                summaries_of[i].append(_summary(s, tag))

    local_time = None
    if by_kind.get("LocalTimeParameters"):
        e = by_kind["LocalTimeParameters"][0].resource
        rules = []
        for tag in ("dstStartRule", "dstEndRule"):
            text = _text(e.find(_E + tag)) or ""
            if not re.fullmatch(r"[0-9A-Fa-f]{1,8}", text):
                raise GreenButtonError(
                    "malformed", f"LocalTimeParameters.{tag} must be 32-bit hex, got {text!r}"
                )
            rules.append(int(text, 16))
        local_time = LocalTimeParameters(
            tz_offset_s=_required_int(e, "tzOffset", "LocalTimeParameters"),
            dst_offset_s=_required_int(e, "dstOffset", "LocalTimeParameters"),
            dst_start_rule=rules[0],
            dst_end_rule=rules[1],
        )

    usage_points = tuple(
        UsagePoint(
            href=p.self_href,
            title=p.title,
            service_kind=_int(p.resource.find(f"{_E}ServiceCategory/{_E}kind"), "ServiceCategory.kind"),
            meter_readings=tuple(readings_of[i]),
            summaries=tuple(summaries_of[i]),
        )
        for i, p in enumerate(points)
    )
    return GreenButtonData(
        feed_id=_text(root.find(_A + "id")),
        title=_text(root.find(_A + "title")) or "",
        usage_points=usage_points,
        local_time=local_time,
    )


# -- import -------------------------------------------------------------------------------------------


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
    """

    meter_id: int
    intervals: int
    stored: int
    validated: int
    first_end: datetime | None
    last_end: datetime | None
    qualities: dict[int, int] = field(default_factory=dict)


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
    Store a Green Button file's 15-minute interval readings as raw intervals of a known meter.

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
        900 s); when a reading lasts other than 900 s, does not start on a quarter hour, or gives a
        negative or fractional energy in Wh after the multiplier (``"unsupported"``); when one interval
        has two values (``"conflict"``); or when the meter is unknown (``"unknown_meter"``).

    Notes
    -----
    An interval reading starting at ``t`` becomes the raw interval ending at ``t + 900 s`` with energy
    ``value × 10**powerOfTenMultiplier`` [Wh]. Raw data is stored as received, idempotently: importing
    the same file again stores nothing. Quality codes (:func:`import_quality`) 7, 8, 9 and 10 are kept
    as validated intervals of the same energy and code, audited as edits by ``source``; VEE may later
    judge them again. Raw intervals and validated intervals are written in two transactions, the raw
    first; everything is checked before either.
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


# -- export -------------------------------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hex32(value: int) -> str:
    return f"{value:08X}"


def _entry(
    out: list[str],
    *,
    self_href: str,
    up_href: str,
    related: Iterable[str],
    title: str,
    resource: str,
    stamp: str,
) -> None:
    entry_id = uuid.uuid5(uuid.NAMESPACE_URL, "meshmeter:" + self_href)
    out.append(f"<entry><id>urn:uuid:{entry_id}</id>")
    out.append(f'<link rel="self" href={quoteattr(self_href)}/><link rel="up" href={quoteattr(up_href)}/>')
    out.extend(f'<link rel="related" href={quoteattr(h)}/>' for h in related)
    out.append(f"<title>{escape(title)}</title>")
    out.append(f"<content>{resource}</content>")
    out.append(f"<published>{stamp}</published><updated>{stamp}</updated></entry>")


def export_greenbutton(
    store: Store,
    *,
    meter_serial: str,
    start: datetime,
    end: datetime,
    timezone: str | None = None,
    generated_at: datetime | None = None,
) -> bytes:
    """
    One meter's intervals of ``(start, end]`` as a Green Button file (Atom feed of ESPI resources).

    Parameters
    ----------
    store : Store
        The head-end's store.
    meter_serial : str
        Serial number of a known meter.
    start, end : datetime
        Timezone-aware bounds: the intervals with ``start < interval_end <= end``.
    timezone : str, optional
        IANA name of the usage point's local time: it sets the LocalTimeParameters and the local days of
        the IntervalBlocks. Default: the time zone of the meter's site, else UTC.
    generated_at : datetime, optional
        The feed's ``published``/``updated`` time; default now (UTC, whole seconds).

    Returns
    -------
    bytes
        UTF-8 XML that validates against ESPI 3.3 ``usage.xsd``.

    Notes
    -----
    The intervals are the validated view (:meth:`meshmeter.store.Store.interval_view`). Entries, in
    order: UsagePoint (ServiceCategory kind 0 electricity, titled by the serial), LocalTimeParameters
    (:func:`local_time_parameters` of the local year of ``start``), MeterReading, ReadingType (uom 72 Wh,
    powerOfTenMultiplier 0, intervalLength 900 s, accumulationBehaviour 4 delta, flowDirection 1
    forward, commodity 1, kind 12 energy, dataQualifier 12 normal), then one IntervalBlock per local day
    that has data: its ``interval`` is the local day clipped to ``(start, end]`` (86,400 s, or 82,800 /
    90,000 s on a DST change day), and each IntervalReading has ``timePeriod`` (start = interval end −
    900 s, Unix seconds UTC; duration 900), ``value`` [Wh] and a ``ReadingQuality`` where the quality is
    not 0. No cost is written. Ids are name-based UUIDs of the resources' links, so the same export is
    the same bytes but for ``generated_at``.
    """
    meter = find_meter(store, meter_serial)
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    if end <= start:
        raise ValueError(f"end must be after start, got start={start.isoformat()} end={end.isoformat()}")
    if timezone is None and meter.site_id is not None:
        site = store.get_site(site_id=meter.site_id)
        timezone = site.timezone if site is not None else None
    tz_name = timezone or "UTC"
    tz = zone(tz_name)
    moment = (generated_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    stamp = _stamp(moment)
    local = local_time_parameters(tz_name, start.astimezone(tz).year)
    view = store.interval_view(meter_id=meter.id, start=start, end=end)
    rows, length_s = view.rows(), view.interval_s

    subscription = f"{_BASE}/Subscription/{quote(meter.serial, safe='')}"
    point = f"{subscription}/UsagePoint/1"
    reading = f"{point}/MeterReading/1"
    reading_type = f"{_BASE}/ReadingType/{quote(meter.serial, safe='')}-1"
    time_href = f"{_BASE}/LocalTimeParameters/{quote(meter.serial, safe='')}"
    lo_s, hi_s = int(start.timestamp()), int(end.timestamp())

    out: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>\n', f'<feed xmlns="{ATOM_NS}">']
    feed_id = uuid.uuid5(uuid.NAMESPACE_URL, f"meshmeter:{subscription}:{lo_s}:{hi_s}")
    out.append(
        f"<id>urn:uuid:{feed_id}</id><title>Green Button export of meter {escape(meter.serial)}</title>"
    )
    out.append(f'<updated>{stamp}</updated><link rel="self" href={quoteattr(subscription)}/>')
    espi = f'xmlns="{ESPI_NS}"'
    _entry(
        out,
        self_href=point,
        up_href=f"{subscription}/UsagePoint",
        related=[f"{point}/MeterReading", time_href],
        title=f"Meter {meter.serial}",
        resource=f"<UsagePoint {espi}><ServiceCategory><kind>0</kind></ServiceCategory></UsagePoint>",
        stamp=stamp,
    )
    _entry(
        out,
        self_href=time_href,
        up_href=f"{_BASE}/LocalTimeParameters",
        related=[],
        title=f"Local time: {tz_name}",
        resource=(
            f"<LocalTimeParameters {espi}><dstEndRule>{_hex32(local.dst_end_rule)}</dstEndRule>"
            f"<dstOffset>{local.dst_offset_s}</dstOffset>"
            f"<dstStartRule>{_hex32(local.dst_start_rule)}</dstStartRule>"
            f"<tzOffset>{local.tz_offset_s}</tzOffset></LocalTimeParameters>"
        ),
        stamp=stamp,
    )
    _entry(
        out,
        self_href=reading,
        up_href=f"{point}/MeterReading",
        related=[f"{reading}/IntervalBlock", reading_type],
        title="Fifteen-minute electricity consumption",
        resource=f"<MeterReading {espi}/>",
        stamp=stamp,
    )
    _entry(
        out,
        self_href=reading_type,
        up_href=f"{_BASE}/ReadingType",
        related=[],
        title="Energy delivered, Wh per 15 minutes",
        resource=(
            f"<ReadingType {espi}><accumulationBehaviour>{ACCUMULATION_DELTA}</accumulationBehaviour>"
            "<commodity>1</commodity><dataQualifier>12</dataQualifier>"
            f"<flowDirection>{FLOW_FORWARD}</flowDirection><intervalLength>{length_s}</intervalLength>"
            "<kind>12</kind><powerOfTenMultiplier>0</powerOfTenMultiplier><timeAttribute>0</timeAttribute>"
            f"<uom>{UOM_WH}</uom></ReadingType>"
        ),
        stamp=stamp,
    )

    days: dict[date, list[tuple[int, int, int]]] = {}
    for interval_end, energy_wh, quality in rows:
        end_s = int(interval_end.timestamp())
        day = datetime.fromtimestamp(end_s - length_s, tz).date()
        days.setdefault(day, []).append((end_s, energy_wh, quality))
    for day, items in sorted(days.items()):
        midnight = int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())
        following = day + timedelta(days=1)
        next_midnight = int(datetime(following.year, following.month, following.day, tzinfo=tz).timestamp())
        block_start, block_end = max(midnight, lo_s), min(next_midnight, hi_s)
        parts = [f"<IntervalBlock {espi}><interval><duration>{block_end - block_start}</duration>"]
        parts.append(f"<start>{block_start}</start></interval>")
        for end_s, energy_wh, quality in items:
            flag = f"<ReadingQuality><quality>{quality}</quality></ReadingQuality>" if quality else ""
            parts.append(
                f"<IntervalReading>{flag}<timePeriod><duration>{length_s}</duration>"
                f"<start>{end_s - length_s}</start></timePeriod>"
                f"<value>{energy_wh}</value></IntervalReading>"
            )
        parts.append("</IntervalBlock>")
        _entry(
            out,
            self_href=f"{reading}/IntervalBlock/{day.isoformat()}",
            up_href=f"{reading}/IntervalBlock",
            related=[],
            title=f"Intervals of {day.isoformat()} ({tz_name})",
            resource="".join(parts),
            stamp=stamp,
        )
    out.append("</feed>\n")
    return "".join(out).encode("utf-8")
