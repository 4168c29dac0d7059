"""What the VEE page shows: the work list of a site over the last days of data, with its filters.

No HTTP and no HTML here (``docs/dashboard.md``): the page's route renders what :func:`worklist_page`
gives, and its form posts go through :func:`meshmeter.api.routes.vee.perform`, as the API's do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from meshmeter.headend.alerts import communication_status
from meshmeter.headend.vee import CHECKS
from meshmeter.services.names import MeterName, meter_names
from meshmeter.services.vee_worklist import STATE_WORDS, WorkItem, worklist

if TYPE_CHECKING:
    from meshmeter.store import Meter, Site, Store

__all__ = ["WorklistFilters", "WorklistPage", "worklist_page"]


@dataclass(frozen=True, slots=True)
class WorklistFilters:
    """The page's filters, as the GET form sends them (an empty field is no filter)."""

    meter: str | None = None
    check: str | None = None
    state: str | None = None


@dataclass(frozen=True)
class WorklistPage:
    """The VEE page: the window, the items, the filters' choices."""

    start: datetime
    end: datetime
    items: list[WorkItem]
    meters: list[Meter]
    names: dict[int, MeterName]
    filters: WorklistFilters
    checks: tuple[str, ...] = CHECKS
    states: dict[str, str] = field(default_factory=lambda: dict(STATE_WORDS))

    @property
    def open_count(self) -> int:
        """Intervals not yet acted on. [1]"""
        return sum(1 for i in self.items if i.state == "open")


def worklist_page(
    store: Store, site: Site | None, *, days: int, filters: WorklistFilters, now: datetime
) -> WorklistPage:
    """
    The work list of ``site`` (every site the store shows when None) over the last ``days`` days up to
    the latest interval heard (not after ``now``, :func:`~meshmeter.api.dashboard.views.as_of`).

    Raises
    ------
    ValueError
        Naming every bad filter (:func:`~meshmeter.services.vee_worklist.worklist`).
    """
    from meshmeter.api.dashboard.views import as_of

    site_id = None if site is None else site.id
    meters = store.meters(site_id=site_id)
    statuses = {s.meter_id: s.last_interval_end for s in communication_status(store, now=now)}
    end = as_of([statuses.get(m.id) for m in meters], now)
    start = end - timedelta(days=days)
    items = worklist(
        store,
        site_id=site_id,
        start=start,
        end=end,
        meter=filters.meter,
        check=filters.check,
        state=filters.state,
        now=now,
    )
    names = meter_names(store, site_id=site_id, at=min(end, now))
    return WorklistPage(start, end, items, meters, names, filters)
