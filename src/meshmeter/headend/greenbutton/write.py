"""Writing a meter's validated intervals as a Green Button file (``docs/greenbutton.md``, Export).

:func:`export_greenbutton` writes the Atom feed as text, in a fixed order and with name-based ids, so that
the same export is the same bytes; it validates against ESPI 3.3 ``usage.xsd``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Final
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from meshmeter.headend.exports import _check_range, find_meter
from meshmeter.headend.greenbutton.dst import local_time_parameters
from meshmeter.headend.greenbutton.model import ACCUMULATION_DELTA, ATOM_NS, ESPI_NS, FLOW_FORWARD, UOM_WH
from meshmeter.intervals import zone

if TYPE_CHECKING:
    from meshmeter.store import Store

__all__ = ["export_greenbutton"]

_BASE: Final = "/espi/1_1/resource"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hex32(value: int) -> str:
    return f"{value:08X}"


def _midnight_s(day: date, tz: tzinfo) -> int:
    """The start of a local day, Unix seconds."""
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())


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
    powerOfTenMultiplier 0, intervalLength the meter's interval length (900 s for a 15-minute meter),
    accumulationBehaviour 4 delta, flowDirection 1 forward, commodity 1, kind 12 energy, dataQualifier
    12 normal), then one IntervalBlock per local day that has data: its ``interval`` is the local day
    clipped to ``(start, end]`` (86,400 s, or 82,800 / 90,000 s on a DST change day), and each
    IntervalReading has ``timePeriod`` (start = interval end − the interval length, Unix seconds UTC;
    duration the interval length), ``value`` [Wh] and a ``ReadingQuality`` where the quality is not 0.
    No cost is written. Ids are name-based UUIDs of the resources' links, so the same export is the same
    bytes but for ``generated_at``.
    """
    meter = find_meter(store, meter_serial)
    _check_range(start, end)
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

    serial = quote(meter.serial, safe="")
    subscription = f"{_BASE}/Subscription/{serial}"
    point = f"{subscription}/UsagePoint/1"
    reading = f"{point}/MeterReading/1"
    reading_type = f"{_BASE}/ReadingType/{serial}-1"
    time_href = f"{_BASE}/LocalTimeParameters/{serial}"
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
        title=f"{_length_words(length_s).capitalize()} electricity consumption",
        resource=f"<MeterReading {espi}/>",
        stamp=stamp,
    )
    _entry(
        out,
        self_href=reading_type,
        up_href=f"{_BASE}/ReadingType",
        related=[],
        title=f"Energy delivered, Wh per {_length_per(length_s)}",
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
        block_start = max(_midnight_s(day, tz), lo_s)
        block_end = min(_midnight_s(day + timedelta(days=1), tz), hi_s)
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


def _length_words(length_s: int) -> str:
    """``"fifteen-minute"``, ``"hourly"`` ...: a meter's interval length as the feed's titles name it."""
    return {300: "five-minute", 900: "fifteen-minute", 1800: "thirty-minute", 3600: "hourly"}[length_s]


def _length_per(length_s: int) -> str:
    """``"15 minutes"``, ``"hour"`` ...: what one interval reading spans, for the reading type's title."""
    return "hour" if length_s == 3600 else f"{length_s // 60} minutes"
