"""A site file run: meters on their loads, the mesh formed in the manual's order, incidents, stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy.engine import URL

from meshmeter.amr.topology import DeviceKind
from meshmeter.headend.alerts import active_alerts
from meshmeter.services.simulation import finish_run, store_simulation, vee_site
from meshmeter.site.config import parse_site
from meshmeter.site.example import demo_site_toml
from meshmeter.site.run import SiteSimulation, simulate_site_file
from meshmeter.store import Store

START = datetime(2026, 6, 1, 7, tzinfo=UTC)  # local midnight in San Francisco


@pytest.fixture(scope="module")
def demo_run() -> SiteSimulation:
    return simulate_site_file(parse_site(demo_site_toml()), start=START, days=0.5, seed=1)


def test_dcap_first_then_repeaters_nearest_first(demo_run: SiteSimulation) -> None:
    net = demo_run.network
    reps = net.layout.indices(DeviceKind.REPEATER)
    dist = np.hypot(*(net.layout.positions_m[reps] - net.layout.positions_m[0]).T)
    joined = np.array([net.devices[i].stats.first_join_s for i in reps], dtype=np.float64)
    assert np.all(np.isfinite(joined))
    # powered one a minute, nearest first (manual §5.2): they join in order of distance
    assert np.argsort(joined).tolist() == np.argsort(dist, kind="stable").tolist()
    mdt_join = [net.devices[i].stats.first_join_s for i in net.mdt_indices]
    assert all(t is not None and t > joined.max() for t in mdt_join)
    assert demo_run.report.joined_mdts == 26
    assert demo_run.report.delivery_ratio == 1.0


def test_the_solar_mdt_wakes_at_sunrise(demo_run: SiteSimulation) -> None:
    solar = [m.kind for m in demo_run.config.meters].index("solar")
    first = demo_run.feed.first_pulse_s(solar)
    assert first is not None
    local = START + timedelta(seconds=first) - timedelta(hours=7)  # PDT
    assert 5 <= local.hour <= 8  # after sunrise (05:48 PDT in early June)
    joined = demo_run.network.devices[demo_run.mdt_index(solar)].stats.first_join_s
    assert joined is not None
    assert joined > first


def test_registers_match_the_profiles(demo_run: SiteSimulation) -> None:
    end = demo_run.network.epoch_s + 0.5 * 86_400
    energies = [demo_run.feed.energy_wh(k, end) for k in range(26)]
    assert all(e > 0 for e in energies)
    assert demo_run.end == START + timedelta(hours=12)


def test_a_run_is_reproducible() -> None:
    config = parse_site(SMALL)
    a = simulate_site_file(config, start=START, days=0.25, seed=3)
    b = simulate_site_file(config, start=START, days=0.25, seed=3)
    assert [d.record for d in a.network.dcap.deliveries] == [d.record for d in b.network.dcap.deliveries]


SMALL = """\
[site]
name = "Small"
timezone = "America/Los_Angeles"

[dcap]
position_m = [0.0, 0.0]

[[repeaters]]
name = "R1"
position_m = [15.0, 0.0]

[[meters]]
serial = "A1"
unit = "1"
[meters.mdt]
position_m = [5.0, 3.0]

[[meters]]
serial = "A2"
unit = "2"
[meters.mdt]
position_m = [20.0, 3.0]

[[tenants]]
name = "T"

[[accounts]]
tenant = "T"
meter = "A1"
move_in = 2020-01-01
"""


def test_incidents_reach_the_store_and_vee() -> None:
    text = SMALL + (
        '\n[[incidents]]\nkind = "dcap_outage"\nafter_h = 2.0\nduration_h = 3.0\n'
        '\n[[incidents]]\nkind = "tamper"\nmeter = "A2"\nafter_h = 1.0\n'
        '\n[[incidents]]\nkind = "repeater_failure"\nrepeater = "R1"\nafter_h = 4.0\n'
    )
    sim = simulate_site_file(parse_site(text), start=START, days=0.5, seed=2)
    assert sim.network.outages
    assert sim.network.failures
    with Store("sqlite:///:memory:") as store:
        stored = store_simulation(store, sim)
        assert stored.alerts >= 1  # the cover left open: a tamper alert in force
        kinds = {str(a.kind) for a in active_alerts(store)}
        assert "tamper" in kinds
        # the outage delayed data, it did not lose it: every interval is stored
        a1 = stored.meter_ids["A1"]
        rows = store.raw_intervals(meter_id=a1, start=START, end=sim.end)
        assert len(rows) == 48
        reports = vee_site(store, sim, stored)
        assert sum(r.missing for r in reports) == 0
        assert store.latest_network_report(site=stored.site_id) is not None
        finish_run(store, stored)  # a finished run is not run again (an unfinished one would be finished)
        with pytest.raises(ValueError, match="already in the store"):
            store_simulation(store, sim)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"start": datetime(2026, 6, 1, 7, 5, tzinfo=UTC)}, "15-minute"),
        ({"start": datetime(2026, 6, 1, 7)}, "timezone-aware"),
        ({"days": 0.0}, "days"),
        ({"days": 400.0}, "days"),
    ],
)
def test_bad_runs(kwargs: dict, needle: str) -> None:
    args = {"start": START, "days": 1.0, **kwargs}
    with pytest.raises(ValueError, match=needle):
        simulate_site_file(parse_site(SMALL), **args)


def test_a_site_without_meters_cannot_run() -> None:
    empty = SMALL[: SMALL.index("[[meters]]")]
    with pytest.raises(ValueError, match="no meters"):
        simulate_site_file(parse_site(empty), start=START, days=1.0)


@pytest.mark.postgres
def test_a_site_stored_on_postgresql(postgres_schema_url: URL) -> None:
    sim = simulate_site_file(parse_site(SMALL), start=START, days=0.25, seed=4)
    with Store(postgres_schema_url) as store:
        stored = store_simulation(store, sim)
        assert stored.intervals >= 2 * 25  # sequence 0 at the start, 24 intervals, then the drain hour
        reports = vee_site(store, sim, stored)
        assert sum(r.valid for r in reports) == 2 * 24
        assert len(store.accounts()) == 1
        assert store.latest_network_report(site=stored.site_id) is not None


def test_units_floor_area_and_occupants_reach_the_store() -> None:
    """The site file's floor areas and occupants land on the units (A2's, with no account, made vacant), and
    the run allocates by them: A1's tenant bears 600 of the 1,500 ft², the vacant 900 are the owner's."""
    text = SMALL.replace('unit = "1"\n', 'unit = "1"\nfloor_area_ft2 = 600.0\noccupants = 2\n').replace(
        'unit = "2"\n', 'unit = "2"\nfloor_area_ft2 = 900\n'
    )
    config = parse_site(text)
    assert [(m.floor_area_ft2, m.occupants) for m in config.meters] == [(600.0, 2), (900.0, None)]
    sim = simulate_site_file(config, start=START, days=0.25, seed=3)
    with Store("sqlite:///:memory:") as store:
        stored = store_simulation(store, sim)
        units = {u.name: (u.floor_area_ft2, u.occupants) for u in store.units(site_id=stored.site_id)}
        assert units == {"1": (600.0, 2), "2": (900.0, None)}
        updates = [e for e in store.tenancy_history() if e.kind == "unit_updated"]
        assert len(updates) == 2
        assert all(e.recorded_by == "site file (Small)" for e in updates)
