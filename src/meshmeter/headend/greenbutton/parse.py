"""Reading a Green Button file, safely, into the ESPI model (``docs/greenbutton.md``, Parsing).

:func:`parse_greenbutton` parses with expat through defusedxml (no DTD, no entity, no external
reference), reads every ESPI resource of the Atom feed (:mod:`~meshmeter.headend.greenbutton.model`)
and ties them together by their Atom links.
"""

from __future__ import annotations

import importlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final, cast

from meshmeter.headend.greenbutton.dst import LocalTimeParameters
from meshmeter.headend.greenbutton.model import (
    ATOM_NS,
    ESPI_NS,
    GreenButtonData,
    GreenButtonError,
    IntervalBlock,
    IntervalReading,
    MeterReading,
    ReadingType,
    SummaryMeasurement,
    UsagePoint,
    UsageSummary,
)

__all__ = ["parse_greenbutton"]

_A: Final = f"{{{ATOM_NS}}}"
_E: Final = f"{{{ESPI_NS}}}"
_INT = re.compile(r"\s*[+-]?[0-9]+\s*")
_SUMMARY_TAGS: Final = ("UsageSummary", "ElectricPowerUsageSummary")


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


# The ranges of the numbers a Green Button file holds: each element's usage.xsd type, where a type
# is wider than what the model can hold (TimeType is xs:long) the narrower documented range.
_Bounds = tuple[int, int, str]
_INT16: Final[_Bounds] = (-(2**15), 2**15 - 1, "Int16")
_UINT16: Final[_Bounds] = (0, 2**16 - 1, "UInt16")
_INT48: Final[_Bounds] = (-(2**47), 2**47, "Int48")
"""usage.xsd's ``Int48`` as written there: -2**47 .. 2**47 (inclusive), within int64."""
_MULTIPLIER: Final[_Bounds] = (*_INT16[:2], "UnitMultiplierKind, an Int16")
_DURATION: Final[_Bounds] = (1, 2**32 - 1, "a positive UInt32 [s]")
TIME_MIN_S: Final = 0
"""The earliest instant read from a file: 1970-01-01T00:00:00Z, Unix second 0. [s]"""
TIME_MAX_S: Final = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())
"""The latest instant read from a file, start or end of a period: 9999-12-31T23:59:59Z. [s]"""
_TIME: Final[_Bounds] = (TIME_MIN_S, TIME_MAX_S, "Unix seconds of 1970-01-01 .. 9999-12-31T23:59:59Z")
_OFFSET: Final[_Bounds] = (-86_399, 86_399, "less than a day [s]")
_MAX_DIGITS: Final = 20
"""More significant digits than any bounded type has: refused before ``int()`` reads them (which would
refuse more than 4,300 digits with a bare ``ValueError``)."""


def _shown(text: str) -> str:
    """``text`` for a message: whole when short, else its start and its length."""
    return repr(text) if len(text) <= 40 else f"{text[:20]!r}... ({len(text)} characters)"


def _int(element: ET.Element | None, what: str, bounds: _Bounds) -> int | None:
    """
    The integer of ``element``, None where it or its text is absent.

    ``GreenButtonError("malformed")`` naming ``what`` when the text is not an integer or lies outside
    ``bounds`` (lowest, highest, the type's name), so that no number outside its type reaches the model.
    """
    text = _text(element)
    if text is None:
        return None
    if not _INT.fullmatch(text):
        raise GreenButtonError("malformed", f"{what} must be an integer, got {_shown(text)}")
    low, high, kind = bounds
    digits = text.lstrip("+-").lstrip("0") or "0"  # leading zeros count towards int()'s digit limit too
    value = None if len(digits) > _MAX_DIGITS else int(digits) * (-1 if text.startswith("-") else 1)
    if value is None or not low <= value <= high:
        raise GreenButtonError(
            "malformed", f"{what} must be an integer in [{low}, {high}] ({kind}), got {_shown(text)}"
        )
    return value


def _child_int(element: ET.Element, tag: str, what: str, bounds: _Bounds) -> int | None:
    """The integer of ``element``'s ESPI child ``tag``, None where absent; ``what`` names the element."""
    return _int(element.find(_E + tag), f"{what}.{tag}", bounds)


def _required_int(element: ET.Element, tag: str, what: str, bounds: _Bounds) -> int:
    value = _child_int(element, tag, what, bounds)
    if value is None:
        raise GreenButtonError("malformed", f"{what} has no {tag}")
    return value


def _instant(element: ET.Element, tag: str, what: str) -> datetime | None:
    """An ESPI ``TimeType`` child (Unix seconds) as an aware UTC instant, within :data:`TIME_MAX_S`."""
    seconds = _child_int(element, tag, what, _TIME)
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _period(element: ET.Element, what: str) -> tuple[datetime, int]:
    """
    An ESPI ``DateTimeInterval`` (``start`` Unix seconds, ``duration`` [s]): aware UTC start, duration.

    The start lies in 1970-01-01 .. 9999-12-31T23:59:59Z, the duration is positive and a UInt32, and
    the end (start + duration) is no later than 9999-12-31T23:59:59Z, so that it is a ``datetime`` too.
    """
    start = _required_int(element, "start", what, _TIME)
    duration = _required_int(element, "duration", what, _DURATION)
    if start + duration > TIME_MAX_S:
        raise GreenButtonError(
            "malformed",
            f"{what} ends after 9999-12-31T23:59:59Z (start {start} + duration {duration} > {TIME_MAX_S})",
        )
    return datetime.fromtimestamp(start, UTC), duration


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
    def get(tag: str, bounds: _Bounds = _UINT16) -> int | None:
        return _child_int(entry.resource, tag, "ReadingType", bounds)

    return ReadingType(
        href=entry.self_href,
        uom=get("uom"),
        power_of_ten_multiplier=get("powerOfTenMultiplier", _MULTIPLIER) or 0,
        interval_length_s=get("intervalLength", _DURATION),
        accumulation_behaviour=get("accumulationBehaviour"),
        flow_direction=get("flowDirection"),
        commodity=get("commodity"),
        kind=get("kind"),
    )


def _interval_block(entry: _Entry, reading_type: ReadingType | None) -> IntervalBlock:
    e = entry.resource
    interval = e.find(_E + "interval")
    start, duration = (None, None) if interval is None else _period(interval, "IntervalBlock.interval")
    readings: list[IntervalReading] = []
    for k, r in enumerate(e.findall(_E + "IntervalReading")):
        what = f"IntervalBlock {entry.self_href or ''} IntervalReading[{k}]"
        period = r.find(_E + "timePeriod")
        if period is None:
            raise GreenButtonError("malformed", f"{what} has no timePeriod")
        value = _required_int(r, "value", what, _INT48)
        qualities = tuple(
            q
            for q in (
                _child_int(rq, "quality", f"{what}.ReadingQuality", _UINT16)
                for rq in r.findall(_E + "ReadingQuality")
            )
            if q is not None
        )
        reading_start, duration_s = _period(period, f"{what}.timePeriod")
        readings.append(
            IntervalReading(
                start=reading_start,
                duration_s=duration_s,
                value=value,
                scaled=Decimal(value) if reading_type is None else reading_type.scale(value),
                qualities=qualities,
                cost=_child_int(r, "cost", what, _INT48),
            )
        )
    return IntervalBlock(entry.self_href, start, duration, tuple(readings))


def _measurement(element: ET.Element | None, what: str) -> SummaryMeasurement | None:
    if element is None:
        return None
    return SummaryMeasurement(
        value=_child_int(element, "value", what, _INT48),
        power_of_ten_multiplier=_child_int(element, "powerOfTenMultiplier", what, _MULTIPLIER) or 0,
        uom=_child_int(element, "uom", what, _UINT16),
        timestamp=_instant(element, "timeStamp", what),
    )


def _summary(entry: _Entry, element: str) -> UsageSummary:
    e = entry.resource

    def get(tag: str, bounds: _Bounds) -> int | None:
        return _child_int(e, tag, element, bounds)

    period = e.find(_E + "billingPeriod")
    period_start, period_s = (None, None) if period is None else _period(period, f"{element}.billingPeriod")
    return UsageSummary(
        element=element,
        href=entry.self_href,
        billing_period_start=period_start,
        billing_period_duration_s=period_s,
        bill_last_period=get("billLastPeriod", _INT48),
        bill_to_date=get("billToDate", _INT48),
        currency=get("currency", _UINT16),
        overall_consumption_last_period=_measurement(
            e.find(_E + "overallConsumptionLastPeriod"), f"{element}.overallConsumptionLastPeriod"
        ),
        current_billing_period_overall_consumption=_measurement(
            e.find(_E + "currentBillingPeriodOverAllConsumption"),
            f"{element}.currentBillingPeriodOverAllConsumption",
        ),
        quality_of_reading=get("qualityOfReading", _UINT16),
        status_timestamp=_instant(e, "statusTimeStamp", element),
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
        ``"malformed"`` for XML that is not well formed, or a number that is not an integer or lies
        outside its ESPI type (``usage.xsd``), the message naming the element: multipliers Int16,
        values and costs Int48, codes UInt16, times 1970-01-01 .. 9999-12-31T23:59:59Z (periods
        ending by then too), durations positive UInt32, time zone offsets less than a day;
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
        tz_offset_s = _required_int(e, "tzOffset", "LocalTimeParameters", _OFFSET)
        dst_offset_s = _required_int(e, "dstOffset", "LocalTimeParameters", _OFFSET)
        if not _OFFSET[0] <= tz_offset_s + dst_offset_s <= _OFFSET[1]:
            raise GreenButtonError(
                "malformed",
                f"LocalTimeParameters.tzOffset + dstOffset must be less than a day, got {tz_offset_s} + "
                f"{dst_offset_s} s",
            )
        local_time = LocalTimeParameters(
            tz_offset_s=tz_offset_s, dst_offset_s=dst_offset_s, dst_start_rule=rules[0], dst_end_rule=rules[1]
        )

    usage_points = tuple(
        UsagePoint(
            href=p.self_href,
            title=p.title,
            service_kind=_int(
                p.resource.find(f"{_E}ServiceCategory/{_E}kind"), "UsagePoint.ServiceCategory.kind", _UINT16
            ),
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
