"""Helpers of the billing tests: a month's grid and small tariffs written out in full."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

LA = "America/Los_Angeles"
LA_TZ = ZoneInfo(LA)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Los Angeles wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=LA_TZ)


def schedule(peak_hours: range, peak: int, off: int) -> list[list[int]]:
    """A 12 x 24 schedule with ``peak`` in ``peak_hours`` of every month and ``off`` elsewhere."""
    return [[peak if h in peak_hours else off for h in range(24)] for _ in range(12)]


def tou_document(**extra: Any) -> dict[str, Any]:
    """Weekday peak 4-9 pm at $0.30/kWh, everything else (weekends, holidays) $0.10/kWh, no tiers."""
    doc: dict[str, Any] = {
        "name": "test TOU",
        "energyratestructure": [[{"rate": 0.30}], [{"rate": 0.10}]],
        "energyweekdayschedule": schedule(range(16, 21), 0, 1),
        "energyweekendschedule": schedule(range(0), 0, 1),
    }
    doc.update(extra)
    return doc
