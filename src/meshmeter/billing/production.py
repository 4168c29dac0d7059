"""Production reports for the California Solar Initiative's performance-based incentive (PBI).

Monthly, per solar system: each 15-minute interval's kWh and the month's total, with estimated intervals
excluded from the total and counted separately (``docs/billing.md``). The month is the local calendar
month of the system's time zone.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

import numpy as np
import numpy.typing as npt

from meshmeter.billing.calendar import INTERVAL_S, interval_grid, zone
from meshmeter.billing.engine import (
    BILLED_QUALITIES,
    ESTIMATED_QUALITIES,
    QUALITY_MISSING,
    align_intervals,
)

__all__ = [
    "PBI_COLUMNS",
    "ProductionReport",
    "month_period",
    "parse_month",
    "production_report",
    "production_report_csv",
]

IntArray = npt.NDArray[np.int64]

PBI_COLUMNS: Final = ("system_id", "interval_end", "interval_end_local", "energy_kwh", "quality", "status")
"""Columns of the report's CSV; ``status`` is ``counted``, ``estimated_excluded`` or ``not_counted``."""


@dataclass(frozen=True)
class ProductionReport:
    """
    A month of a solar system's production.

    Attributes
    ----------
    system_id : str
        The system (its production meter).
    year, month : int
        The local calendar month.
    timezone : str
        IANA time zone.
    interval_end_s : ndarray of int64
        Every interval of the month. [s]
    energy_wh : ndarray of int64
        Production of each interval (0 where absent). [Wh]
    quality : ndarray of int64
        ESPI quality code of each (14 where absent).
    counted_wh : int
        Month's total over measured intervals (estimated and failed ones excluded). [Wh]
    counted_intervals, estimated_intervals, not_counted_intervals : int
        Intervals counted, estimated (excluded), failed or missing (excluded). [1]
    estimated_wh : int
        Energy of the estimated intervals, excluded from the total. [Wh]
    """

    system_id: str
    year: int
    month: int
    timezone: str
    interval_end_s: IntArray
    energy_wh: IntArray
    quality: IntArray
    counted_wh: int
    counted_intervals: int
    estimated_intervals: int
    estimated_wh: int
    not_counted_intervals: int

    @property
    def missing_intervals(self) -> int:
        """Intervals of the month with no validated interval (quality 14), among those not counted. [1]"""
        return int((self.quality == QUALITY_MISSING).sum())


def parse_month(name: str, text: str) -> tuple[int, int]:
    """
    A calendar month written ``YYYY-MM``.

    Parameters
    ----------
    name : str
        The argument's name, for the error.
    text : str
        The month, e.g. ``2026-07``.

    Returns
    -------
    (int, int)
        The year and the month (1 to 12).

    Raises
    ------
    ValueError
        Naming the argument and the bad value, when ``text`` is not ``YYYY-MM``.
    """
    parts = text.split("-")
    if (
        len(parts) != 2
        or len(parts[0]) != 4
        or len(parts[1]) != 2
        or not all(p.isascii() and p.isdigit() for p in parts)
        or not 1 <= int(parts[1]) <= 12
        or int(parts[0]) < 1
    ):
        raise ValueError(f"{name} must be a month written YYYY-MM (e.g. 2026-07), got {text!r}")
    return int(parts[0]), int(parts[1])


def month_period(year: int, month: int, timezone: str) -> tuple[datetime, datetime]:
    """
    The local calendar month as the period ``(start, end]`` in UTC: local midnight on the 1st to local
    midnight on the 1st of the next month.

    Parameters
    ----------
    year, month : int
        The month.
    timezone : str
        IANA time zone.

    Returns
    -------
    (datetime, datetime)
        Start and end, aware, UTC.
    """
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1 to 12, got {month!r}")
    tz = zone(timezone)
    first = datetime(year, month, 1, tzinfo=tz)
    nxt = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return first.astimezone(UTC), nxt.astimezone(UTC)


def production_report(
    system_id: str,
    interval_end_s: npt.ArrayLike,
    energy_wh: npt.ArrayLike,
    quality: npt.ArrayLike,
    *,
    year: int,
    month: int,
    timezone: str,
    interval_s: int = INTERVAL_S,
) -> ProductionReport:
    """
    One month of a solar system's production for the CSI PBI, interval by interval (15-minute by default).

    Parameters
    ----------
    system_id : str
        The solar system.
    interval_end_s : array-like of int
        Interval ends, seconds since the Unix epoch; those outside the month are ignored. [s]
    energy_wh : array-like of int
        Energy produced in each interval. [Wh]
    quality : array-like of int
        ESPI quality codes: measured ones (0, 7, 17-19) count; estimated ones (8, 9) are excluded and
        counted separately; others are not counted.
    year, month : int
        The local calendar month.
    timezone : str
        IANA time zone of the system.
    interval_s : int
        Length of the system's intervals: 300, 900 (default, as the CSI PBI asks), 1800 or 3600; the
        report lists every interval of the month at that length. [s]

    Returns
    -------
    ProductionReport
    """
    first, nxt = month_period(year, month, timezone)
    grid = interval_grid(first, nxt, interval_s=interval_s)
    energy, qual = align_intervals(grid, interval_end_s, energy_wh, quality, interval_s=interval_s)
    estimated = np.isin(qual, sorted(ESTIMATED_QUALITIES))
    counted = np.isin(qual, sorted(BILLED_QUALITIES - ESTIMATED_QUALITIES))
    return ProductionReport(
        system_id=system_id,
        year=year,
        month=month,
        timezone=timezone,
        interval_end_s=grid,
        energy_wh=energy,
        quality=qual,
        counted_wh=int(energy[counted].sum()),
        counted_intervals=int(counted.sum()),
        estimated_intervals=int(estimated.sum()),
        estimated_wh=int(energy[estimated].sum()),
        not_counted_intervals=int((~counted & ~estimated).sum()),
    )


def _kwh(wh: int) -> str:
    return f"{Decimal(wh) / 1000:.3f}"


def production_report_csv(report: ProductionReport) -> str:
    """
    The report as CSV: one row per interval (:data:`PBI_COLUMNS`), then a ``TOTAL`` row.

    The ``TOTAL`` row has the counted kWh in ``energy_kwh`` and, in ``status``, the counts:
    ``counted=N;estimated_excluded=M;estimated_kwh=X;not_counted=K``.
    """
    tz = zone(report.timezone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PBI_COLUMNS)
    estimated = set(ESTIMATED_QUALITIES)
    measured = BILLED_QUALITIES - ESTIMATED_QUALITIES
    for end, wh, q in zip(
        report.interval_end_s.tolist(), report.energy_wh.tolist(), report.quality.tolist(), strict=True
    ):
        t = datetime.fromtimestamp(end, UTC)
        status = "counted" if q in measured else "estimated_excluded" if q in estimated else "not_counted"
        writer.writerow(
            [
                report.system_id,
                t.isoformat().replace("+00:00", "Z"),
                t.astimezone(tz).isoformat(),
                _kwh(wh),
                q,
                status,
            ]
        )
    writer.writerow(
        [
            report.system_id,
            "TOTAL",
            f"{report.year:04d}-{report.month:02d}",
            _kwh(report.counted_wh),
            "",
            f"counted={report.counted_intervals};estimated_excluded={report.estimated_intervals};"
            f"estimated_kwh={_kwh(report.estimated_wh)};not_counted={report.not_counted_intervals}",
        ]
    )
    return out.getvalue()
