"""The California Solar Initiative PBI production report of a solar meter, one local month, CSV or JSON.

The report is :func:`meshmeter.billing.production_report` over the meter's **validated** intervals
(``docs/billing.md``, "Production reports"): every 15-minute interval of the month with its kWh and
status, the month's total over measured intervals, and the estimated intervals excluded and counted
separately. It is for the incentive administrator's billing, so it takes the roles of bills.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from meshmeter.api.deps import Name, StoreDep, TimeText, ZoneName
from meshmeter.api.intervals import FIRST_INSTANT, LAST_INSTANT, check_instant, parse_timezone
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.billing.engine import BILLED_QUALITIES, ESTIMATED_QUALITIES
from meshmeter.billing.production import (
    ProductionReport,
    month_period,
    parse_month,
    production_report,
    production_report_csv,
)
from meshmeter.intervals import INTERVAL_S

__all__ = ["ProductionFormat", "ProductionPublic", "router"]

router = APIRouter(prefix="/meters", tags=["production"], route_class=GuardedRoute)


class ProductionFormat(StrEnum):
    """The forms of a production report."""

    CSV = "csv"
    JSON = "json"


class ProductionIntervalPublic(BaseModel):
    """One 15-minute interval of the month."""

    interval_end: str = Field(description="end of the interval, ISO 8601 UTC")
    energy_wh: int = Field(description="production of the interval, 0 where absent [Wh]")
    quality: int = Field(description="ESPI quality code; 14 where no validated interval is stored")
    status: str = Field(description="counted, estimated_excluded or not_counted")


class ProductionPublic(BaseModel):
    """A month of a solar meter's production (CSI PBI)."""

    meter: str = Field(description="serial number of the production meter")
    month: str = Field(description="the local calendar month, YYYY-MM")
    timezone: str = Field(description="IANA time zone of the month")
    counted_wh: int = Field(description="the month's production over measured intervals [Wh]")
    counted_intervals: int = Field(description="intervals counted in the total")
    estimated_intervals: int = Field(description="estimated intervals, excluded from the total")
    estimated_wh: int = Field(description="energy of the estimated intervals, excluded [Wh]")
    not_counted_intervals: int = Field(description="intervals failed VEE or missing, excluded")
    missing_intervals: int = Field(description="of those not counted, the intervals with no validated data")
    intervals: list[ProductionIntervalPublic]


def _status(quality: int) -> str:
    if quality in ESTIMATED_QUALITIES:
        return "estimated_excluded"
    return "counted" if quality in BILLED_QUALITIES else "not_counted"


def _public(report: ProductionReport, month: str) -> ProductionPublic:
    intervals = [
        ProductionIntervalPublic(
            interval_end=datetime.fromtimestamp(end, UTC).isoformat().replace("+00:00", "Z"),
            energy_wh=wh,
            quality=q,
            status=_status(q),
        )
        for end, wh, q in zip(
            report.interval_end_s.tolist(), report.energy_wh.tolist(), report.quality.tolist(), strict=True
        )
    ]
    return ProductionPublic(
        meter=report.system_id,
        month=month,
        timezone=report.timezone,
        counted_wh=report.counted_wh,
        counted_intervals=report.counted_intervals,
        estimated_intervals=report.estimated_intervals,
        estimated_wh=report.estimated_wh,
        not_counted_intervals=report.not_counted_intervals,
        missing_intervals=report.missing_intervals,
        intervals=intervals,
    )


@router.get(
    "/{serial}/production",
    summary="Get a solar meter's monthly PBI production report",
    responses={
        **problems(400, 404),
        200: {
            "content": {"text/csv": {}, "application/json": {}},
            "description": "The report: CSV (a row per interval, then TOTAL), or JSON",
        },
    },
)
def get_production(
    serial: Name,
    store: StoreDep,
    month: Annotated[TimeText, Query(description="the local calendar month, YYYY-MM")],
    tz: Annotated[
        ZoneName | None, Query(description="IANA time zone of the month; default the meter's site's")
    ] = None,
    format: Annotated[ProductionFormat, Query(description="csv (default) or json")] = ProductionFormat.CSV,
) -> Response:
    """The California Solar Initiative PBI report of a solar meter for one local calendar month, from its
    validated intervals: every 15-minute interval's kWh and status, the month's total over measured
    intervals, estimated intervals excluded and counted separately, failed and missing ones not counted.
    CSV (``production_report_csv``: a row per interval, then a ``TOTAL`` row with the counts) or JSON.
    404 for an unknown meter; 400 for a bad month or time zone, or a meter with no site and no ``tz``."""
    try:
        year, mon = parse_month("month", month)
        if tz is not None:
            parse_timezone(tz)
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    meter = store.get_meter(serial=serial)
    if meter is None:
        raise Problem(404, f"no meter has serial {serial!r}")
    timezone = tz
    if timezone is None:
        site = None if meter.site_id is None else store.get_site(site_id=meter.site_id)
        if site is None:
            raise Problem(400, f"meter {serial!r} has no site: give tz (an IANA time zone)")
        timezone = site.timezone
    try:
        start, end = month_period(year, mon, timezone)
        check_instant("month", start)
        check_instant("month", end)
    except (ValueError, OverflowError):  # 9999-12 ends in year 10000; 0001-01 at +14:00 starts in year 0
        raise Problem(
            400,
            f"month must lie between {FIRST_INSTANT.isoformat()} and {LAST_INSTANT.isoformat()} "
            f"in {timezone}, got {month!r}",
        ) from None
    if start.timestamp() % INTERVAL_S or end.timestamp() % INTERVAL_S:
        # a local midnight off the grid: local mean time (before 1883 in Los Angeles); Monrovia until 1972
        raise Problem(
            400,
            f"month {month!r} in {timezone} does not begin and end on the 15-minute grid: its local "
            f"midnights are {start.isoformat()} and {end.isoformat()}",
        )
    view = store.interval_view(meter_id=meter.id, start=start, end=end)
    ends, energy, quality = view.interval_end_s, view.energy_wh, view.quality
    report = production_report(serial, ends, energy, quality, year=year, month=mon, timezone=timezone)
    name = f"{year:04d}-{mon:02d}"
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in serial)
    if format is ProductionFormat.JSON:
        return Response(_public(report, name).model_dump_json(), media_type="application/json")
    return Response(
        production_report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="production-{safe}-{name}.csv"'},
    )
