"""CSV export of one meter's intervals (``docs/greenbutton.md``, section "CSV export").

The intervals exported are the validated view of the head-end
(:meth:`meshmeter.store.Store.interval_view`): VEE's validated value where it stored one, else the
latest raw value with quality 0. An interval is named
by its end (``docs/conventions.md``); a range ``start, end`` covers ``start < interval_end <= end``.

The CSV header, in order:

============================  ==================================================================
``interval_end``              end of the interval or bucket, UTC, ISO 8601 with ``Z``
                              (``2012-03-01T05:15:00Z``)
``energy_wh``                 energy in it, integer [Wh]; empty for a bucket with no interval
``quality``                   ESPI ``QualityOfReading`` code (0 valid, 7 edited, 8 estimated from
                              reference days, 9 linear interpolation, 10 questionable, 14 raw); a
                              bucket carries the least trusted code of its intervals; empty when none
``interval_end_local``        only when ``timezone`` is given: the same instant in local time, ISO 8601
                              with its offset (``2012-03-11T03:00:00-04:00``)
``count``, ``expected``       only for resolutions coarser than 15 minutes: how many 15-minute
                              intervals the bucket holds, and how many it spans (96 for a day, 92 or
                              100 on a DST change day)
============================  ==================================================================

At 15-minute resolution only the intervals present are written (a gap is a missing row); coarser
buckets are all written, the empty ones with empty ``energy_wh`` and ``quality``.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Final, Literal

from meshmeter.headend.buckets import QUALITY_RANK, aggregate_columns, bucket_bounds, worst_quality
from meshmeter.headend.buckets import Resolution as BucketResolution
from meshmeter.intervals import zone

if TYPE_CHECKING:
    from meshmeter.store import Meter, Store

__all__ = [
    "AGGREGATE_COLUMNS",
    "CSV_COLUMNS",
    "LOCAL_COLUMN",
    "QUALITY_RANK",
    "RESOLUTIONS",
    "Resolution",
    "export_csv",
    "find_meter",
    "worst_quality",
    "zone",
]

Resolution = Literal["15min", "hourly", "daily", "monthly"]
RESOLUTIONS: Final[tuple[Resolution, ...]] = ("15min", "hourly", "daily", "monthly")
"""The resolutions :func:`export_csv` writes: 15-minute, local whole hours, local days, local months."""

CSV_COLUMNS: Final[tuple[str, ...]] = ("interval_end", "energy_wh", "quality")
"""The columns every export has, in order."""

LOCAL_COLUMN: Final = "interval_end_local"
"""The column added after :data:`CSV_COLUMNS` when a time zone is given."""

AGGREGATE_COLUMNS: Final[tuple[str, ...]] = ("count", "expected")
"""The columns added last at resolutions coarser than 15 minutes."""


def find_meter(store: Store, meter_serial: str) -> Meter:
    """The meter of this serial number; ``ValueError`` naming ``meter_serial`` when there is none."""
    meter = store.get_meter(serial=meter_serial)
    if meter is None:
        raise ValueError(f"meter_serial {meter_serial!r} is not a known meter")
    return meter


def _check_range(start: datetime, end: datetime) -> None:
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    if end <= start:
        raise ValueError(f"end must be after start, got start={start.isoformat()} end={end.isoformat()}")


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def _utc_text(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def export_csv(
    store: Store,
    *,
    meter_serial: str,
    start: datetime,
    end: datetime,
    resolution: Resolution = "15min",
    timezone: str | None = None,
) -> str:
    """
    One meter's intervals of ``(start, end]`` as CSV (header in the module's docstring).

    Parameters
    ----------
    store : Store
        The head-end's store.
    meter_serial : str
        Serial number of a known meter.
    start, end : datetime
        Timezone-aware bounds: the intervals with ``start < interval_end <= end``. At hourly, daily and
        monthly resolution both must lie on a bucket boundary of local time (whole hour, midnight,
        midnight on the 1st).
    resolution : {"15min", "hourly", "daily", "monthly"}, optional
        Default ``"15min"``: one row per interval stored. Coarser resolutions sum the intervals into
        buckets of local time (a local day has 92 or 100 quarter-hours on a DST change day).
    timezone : str, optional
        IANA name of the local time zone: adds the ``interval_end_local`` column and sets the buckets'
        wall clock. Default none: UTC buckets, no local column.

    Returns
    -------
    str
        The CSV text, ``\\n`` line ends, header first. Energy in integer [Wh].

    Raises
    ------
    ValueError
        Unknown meter, naive or reversed bounds, an unknown resolution or time zone, bounds off the
        resolution's boundaries.
    """
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {', '.join(RESOLUTIONS)}, got {resolution!r}")
    _check_range(start, end)
    tz: tzinfo = UTC if timezone is None else zone(timezone)
    meter = find_meter(store, meter_serial)
    bounds = None if resolution == "15min" else bucket_bounds(start, end, BucketResolution(resolution), tz)
    view = store.interval_view(meter_id=meter.id, start=start, end=end)

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = list(CSV_COLUMNS)
    if timezone is not None:
        header.append(LOCAL_COLUMN)
    if bounds is not None:
        header.extend(AGGREGATE_COLUMNS)
    writer.writerow(header)

    def local(epoch_s: int) -> list[str]:
        return [] if timezone is None else [datetime.fromtimestamp(epoch_s, tz).isoformat()]

    if bounds is None:
        for s, energy_wh, quality in zip(
            view.interval_end_s.tolist(), view.energy_wh.tolist(), view.quality.tolist(), strict=True
        ):
            writer.writerow([_utc_text(s), energy_wh, quality, *local(s)])
        return buffer.getvalue()

    columns = aggregate_columns(
        view.interval_end_s, view.energy_wh, view.quality, bounds, interval_s=view.interval_s
    )
    for hi, energy_wh, worst, count, expected in zip(
        columns.bounds_s[1:].tolist(),
        columns.energy_wh.tolist(),
        columns.quality.tolist(),
        columns.count.tolist(),
        columns.expected.tolist(),
        strict=True,
    ):
        empty = count == 0
        writer.writerow(
            [_utc_text(hi), "" if empty else energy_wh, "" if empty else worst, *local(hi), count, expected]
        )
    return buffer.getvalue()
