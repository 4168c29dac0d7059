"""A site whose VEE left work for a person: a spike and a gap, on a tenant's unit meter (issue 15).

Oak Court (Los Angeles): unit 101 on MM26000001 with the Alvarez household (account 1001), unit 102 on
MM26000002, vacant. Two days of 500 Wh intervals from local midnight of 2026-01-05 on both meters; on
MM26000001 one interval of 3000 Wh (a spike: more than 5x the day's third highest) and two intervals
never received (a gap VEE fills by interpolation). Elm House (New York) has MM26000003, clean. VEE has run
over everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from meshmeter.headend.vee import run_vee
from meshmeter.store import Store

T0 = datetime(2026, 1, 5, 8, tzinfo=UTC)
"""Local midnight of 2026-01-05 in Los Angeles (PST)."""
END = T0 + timedelta(days=2)
SPIKE = T0 + timedelta(hours=10, minutes=15)
"""End of the spike's interval: 10:15 PST."""
GAP = (T0 + timedelta(hours=20), T0 + timedelta(hours=20, minutes=15))
"""Ends of the two intervals never received."""


@dataclass(frozen=True)
class VeeWorld:
    oak: int
    elm: int
    unit_meter: int
    vacant_meter: int
    elm_meter: int


def build(store: Store) -> VeeWorld:
    oak = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
    elm = store.create_site(name="Elm House", timezone="America/New_York")
    ids = []
    for serial, site in (("MM26000001", oak), ("MM26000002", oak), ("MM26000003", elm)):
        meter = store.create_meter(
            serial=serial, designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id
        )
        ids.append(meter.id)
    u101 = store.create_unit(site_id=oak.id, name="101", meter_id=ids[0], by="test")
    store.create_unit(site_id=oak.id, name="102", meter_id=ids[1], by="test")
    tenant = store.create_tenant(name="Alvarez household", by="test")
    account = store.open_account(tenant_id=tenant.id, site_id=oak.id, number="1001", by="test")
    store.move_in(account_id=account.id, unit_id=u101.id, at=T0 - timedelta(days=30), by="test")
    steps = int((END - T0).total_seconds() // 900)
    for meter_id in ids:
        rows = []
        for k in range(1, steps + 1):
            end = T0 + timedelta(seconds=900 * k)
            if meter_id == ids[0] and end in GAP:
                continue
            rows.append((end, 3000 if meter_id == ids[0] and end == SPIKE else 500))
        store.insert_raw_intervals(meter_id=meter_id, rows=rows, source="http")
        run_vee(store, meter_id=meter_id, start=T0, end=END)
    return VeeWorld(oak.id, elm.id, *ids)
