"""Health reports of a site's radio network: the CIT report (manual §5.2) as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from meshmeter.store import _validate as v
from meshmeter.store.base import StoreBase
from meshmeter.store.models import NetworkReport, Site
from meshmeter.store.schema import network_reports, sites

__all__ = ["NetworkReportsMixin"]


class NetworkReportsMixin(StoreBase):
    """Health reports of a site's radio network (CIT, manual §5.2)."""

    def save_network_report(self, *, site: int | Site, report: Any, taken_at: datetime) -> NetworkReport:
        """
        Store a health report of a site's radio network.

        Parameters
        ----------
        site : int or Site
            The site (its id, or the record), which must exist.
        report : CitReport or mapping
            The CIT report (manual §5.2): an object with ``to_dict()``
            (:class:`meshmeter.amr.cit.CitReport`) or its JSON members (no NaN).
        taken_at : datetime
            When it was taken, aware.

        Returns
        -------
        NetworkReport
            The report as stored.
        """
        site_id = v.check_id("site", site.id if isinstance(site, Site) else site)
        taken_at = v.check_utc("taken_at", taken_at)
        to_dict = getattr(report, "to_dict", None)
        body = to_dict() if callable(to_dict) else report
        if not isinstance(body, Mapping):
            raise ValueError(f"report must be a CitReport or a mapping, got {type(report).__name__}")
        checked: dict[str, Any] = v.check_json("report", dict(body))
        with self._write() as c:
            self._require(c, sites, site_id, "site", "site")
            report_id = c.execute(
                insert(network_reports)
                .values(site_id=site_id, taken_at=taken_at, report=checked)
                .returning(network_reports.c.id)
            ).scalar_one()
        return NetworkReport(int(report_id), site_id, taken_at, checked)

    def latest_network_report(self, *, site: int | Site | None = None) -> NetworkReport | None:
        """
        The latest network report of a site (of any site when ``site`` is None), or None.

        The latest is the one taken last; of two taken at once, the one stored last.
        """
        t = network_reports
        query = select(t).order_by(t.c.taken_at.desc(), t.c.id.desc()).limit(1)
        if site is not None:
            query = query.where(
                t.c.site_id == v.check_id("site", site.id if isinstance(site, Site) else site)
            )
        with self._read() as c:
            row = c.execute(query).first()
        return None if row is None else NetworkReport(row.id, row.site_id, row.taken_at, dict(row.report))
