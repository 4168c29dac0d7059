"""Network health reports stored per site: the latest wins; bad input is refused (every backend)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meshmeter.store import Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REPORT = {"mdts": 10, "repeaters": 2, "delivered": 891, "intervals_due": 900, "rejected": {"replay": 3}}


class _Report:
    """Anything with ``to_dict()``, as :class:`meshmeter.amr.cit.CitReport` has."""

    def to_dict(self) -> dict[str, object]:
        return {**REPORT, "delivered": 900}


def test_latest_report_per_site_and_overall(store: Store) -> None:
    a = store.create_site(name="A", timezone="UTC")
    b = store.create_site(name="B", timezone="UTC")
    assert store.latest_network_report(site=a) is None
    assert store.latest_network_report() is None
    first = store.save_network_report(site=a.id, report=REPORT, taken_at=T0)
    second = store.save_network_report(site=a, report=_Report(), taken_at=T0 + timedelta(hours=1))
    older_b = store.save_network_report(site=b.id, report=REPORT, taken_at=T0 - timedelta(days=1))
    assert first.report == REPORT
    assert store.latest_network_report(site=a.id) == second
    assert second.report["delivered"] == 900
    assert store.latest_network_report(site=b) == older_b
    assert store.latest_network_report() == second
    # taken at the same time: the one stored last
    again = store.save_network_report(site=a, report=REPORT, taken_at=T0 + timedelta(hours=1))
    assert store.latest_network_report(site=a) == again


def test_bad_reports_are_refused_and_nothing_is_stored(store: Store) -> None:
    site = store.create_site(name="A", timezone="UTC")
    with pytest.raises(ValueError, match="site 99 is not a known site"):
        store.save_network_report(site=99, report=REPORT, taken_at=T0)
    with pytest.raises(ValueError, match="site must be a positive integer id"):
        store.save_network_report(site=0, report=REPORT, taken_at=T0)
    with pytest.raises(ValueError, match="report must be a CitReport or a mapping"):
        store.save_network_report(site=site, report=[1, 2], taken_at=T0)
    with pytest.raises(ValueError, match="report"):
        store.save_network_report(site=site, report={"ratio": float("nan")}, taken_at=T0)
    with pytest.raises(ValueError, match="taken_at"):
        store.save_network_report(site=site, report=REPORT, taken_at=datetime(2026, 1, 1))
    assert store.latest_network_report() is None
