"""A simulated site's deliveries through ingest into the store: energies match the meters' registers."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from meshmeter.headend import ingest_deliveries
from meshmeter.site.mesh import MeterFeed, SiteRun, simulate_site
from meshmeter.store import Store

DAYS = 0.5


@pytest.fixture(scope="module")
def run() -> SiteRun:
    return simulate_site(mdts=5, repeaters=1, days=DAYS)


def test_a_site_ingested_matches_the_meters(store: Store, run: SiteRun) -> None:
    network = run.network
    feed = network.feed
    assert isinstance(feed, MeterFeed)
    meters = {}
    for number, i in enumerate(network.mdt_indices):
        device = network.devices[i]
        meter = store.create_meter(serial=f"MM{number:08d}", designation="MM-D1202001-T-SCC", ct_ratio=2000)
        store.create_mdt(eui64=device.eui, kit="MMSMT-C02", key=device.key, meter_id=meter.id)
        meters[device.eui] = (number, meter.id)

    deliveries = list(network.dcap.deliveries)
    result = ingest_deliveries(store, deliveries)
    assert result.refused == {}
    assert result.new == len(deliveries)
    assert result.provisional == 0  # every device starts at sequence 0 and nothing is lost with a drain

    start = datetime.fromtimestamp(network.epoch_s - 900, UTC)
    end = datetime.fromtimestamp(network.epoch_s + 2 * 86_400, UTC)
    for eui, (number, meter_id) in meters.items():
        rows = store.raw_intervals(meter_id=meter_id, start=start, end=end)
        records = sorted((d.record for d in deliveries if d.device == eui), key=lambda r: r.sequence)
        assert [int(r.interval_end.timestamp()) for r in rows] == [r.interval_end_s for r in records]
        assert sum(r.energy_wh for r in rows) == rows[-1].cumulative_wh == records[-1].cumulative_pulses * 10
        # The meters feed their MDTs for the simulated half day; the drain after it only delivers.
        counted = [r for r in rows if r.interval_end.timestamp() <= network.epoch_s + DAYS * 86_400]
        assert len(counted) == DAYS * 96 + 1  # sequence 0 ends at the start, then every 15 minutes
        for row in counted[1:]:
            b = row.interval_end.timestamp()
            true_wh = feed.energy_wh(number, b) - feed.energy_wh(number, b - 900)
            assert abs(row.energy_wh - true_wh) <= 10  # whole 10 Wh pulses, counted at their closing edge
        register_wh = feed.energy_wh(number, counted[-1].interval_end.timestamp())
        assert abs(sum(r.energy_wh for r in counted) - register_wh) <= 10
        assert register_wh > 1000  # the meters did run

    # Shuffled, in small batches, with repeats: nothing changes.
    shuffled = deliveries + deliveries[::7]
    random.Random(0).shuffle(shuffled)
    again = [ingest_deliveries(store, shuffled[k : k + 13]) for k in range(0, len(shuffled), 13)]
    assert sum(r.stored for r in again) == 0
    assert sum(r.duplicates for r in again) == len(shuffled)


def test_a_site_delivered_in_reverse_ends_the_same(store: Store, run: SiteRun) -> None:
    network = run.network
    for number, i in enumerate(network.mdt_indices):
        device = network.devices[i]
        meter = store.create_meter(serial=f"MM{number:08d}", designation="MM-D1202001-T-SCC", ct_ratio=2000)
        store.create_mdt(eui64=device.eui, kit="MMSMT-C02", key=device.key, meter_id=meter.id)
    deliveries = list(network.dcap.deliveries)
    for k in range(len(deliveries) - 20, -20, -20):  # newest first, 20 at a time
        ingest_deliveries(store, deliveries[max(k, 0) : k + 20])
    reference = Store("sqlite:///:memory:")
    try:
        for number, i in enumerate(network.mdt_indices):
            device = network.devices[i]
            meter = reference.create_meter(
                serial=f"MM{number:08d}", designation="MM-D1202001-T-SCC", ct_ratio=2000
            )
            reference.create_mdt(eui64=device.eui, kit="MMSMT-C02", key=device.key, meter_id=meter.id)
        ingest_deliveries(reference, deliveries)
        start = datetime.fromtimestamp(network.epoch_s - 900, UTC)
        end = datetime.fromtimestamp(network.epoch_s + 2 * 86_400, UTC)
        for number in range(len(network.mdt_indices)):
            got, want = (s.get_meter(serial=f"MM{number:08d}") for s in (store, reference))
            assert got is not None
            assert want is not None
            assert [
                (r.interval_end, r.energy_wh, r.cumulative_wh)
                for r in store.raw_intervals(meter_id=got.id, start=start, end=end)
            ] == [
                (r.interval_end, r.energy_wh, r.cumulative_wh)
                for r in reference.raw_intervals(meter_id=want.id, start=start, end=end)
            ]
    finally:
        reference.close()
