"""Tests of the one pulse feed (``meshmeter.site.feed.RegisterFeed``) under the campus and site-file feeds.

The feed gives each MDT its meter's output-"10" edges; when the meters share a grid it computes a window's
edges for every meter at once, which must be the edges of each meter alone, to the bit (docs/network.md,
"Speed"), for a site file's meters as for a campus's.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np
import pytest

from meshmeter.amr.records import PULSE_WH
from meshmeter.meter.pulses import PulseEdges
from meshmeter.site.config import parse_site
from meshmeter.site.example import demo_site_toml
from meshmeter.site.feed import RegisterFeed
from meshmeter.site.run import SiteFeed, simulate_site_file

START = datetime(2026, 6, 1, 7, tzinfo=UTC)  # local midnight in San Francisco
EPOCH = START.timestamp()


def _same(a: PulseEdges, b: PulseEdges) -> bool:
    return (
        np.array_equal(a.time_s, b.time_s)
        and np.array_equal(a.k, b.k)
        and a.time_s.dtype == b.time_s.dtype
        and a.k.dtype == b.k.dtype
        and a.half_wh == b.half_wh
    )


def test_feed_worked_by_hand() -> None:
    # two meters on one grid: 0 → 20 Wh in the first 100 s, flat, then 20 → 25 Wh; and 4 → 6 → 6 → 11 Wh.
    # Output "10" changes every 5 Wh: the first at 25, 50, 75, 100 s and 300 s; the second at 50 s (5 Wh)
    # and 280 s (10 Wh)
    t = np.array([0.0, 100.0, 200.0, 300.0])
    feed = RegisterFeed(
        [t, t], [np.array([0.0, 20.0, 20.0, 25.0]), np.array([4.0, 6.0, 6.0, 11.0])], epoch_s=1e9
    )
    a, b = feed(0, 1e9, 1e9 + 300.0), feed(1, 1e9, 1e9 + 300.0)
    assert a.time_s.tolist() == [25.0, 50.0, 75.0, 100.0, 300.0]
    assert a.k.tolist() == [1, 2, 3, 4, 5]
    assert b.time_s.tolist() == [50.0, 280.0]
    assert a.half_wh == b.half_wh == PULSE_WH / 2  # the MDT's output "10", as the MDT checks it
    assert feed.first_pulse_s(0) == 25.0  # closes at half a pulse, 5 Wh
    assert feed.first_pulse_s(1) == 50.0
    assert feed.energy_wh(0, 1e9 + 250.0) == 22.5


def test_a_register_that_never_reaches_half_a_pulse_has_no_first_pulse() -> None:
    feed = RegisterFeed([np.array([0.0, 900.0])], [np.array([0.0, 4.9])])
    assert feed.first_pulse_s(0) is None
    assert len(feed(0, 0.0, 900.0)) == 0


def test_meters_off_a_common_grid_go_one_at_a_time() -> None:
    feed = RegisterFeed(
        [np.array([0.0, 100.0, 200.0]), np.array([0.0, 50.0, 200.0])],
        [np.array([0.0, 10.0, 20.0]), np.array([0.0, 10.0, 20.0])],
    )
    assert feed._grid is None
    assert feed(0, 0.0, 200.0).time_s.tolist() == [50.0, 100.0, 150.0, 200.0]
    assert feed(1, 0.0, 200.0).time_s.tolist() == [25.0, 50.0, 125.0, 200.0]


def test_feed_refuses_curves_and_times_of_different_counts() -> None:
    with pytest.raises(ValueError, match="as many"):
        RegisterFeed([np.array([0.0, 1.0])], [])


@pytest.fixture(scope="module")
def site_feed() -> SiteFeed:
    return SiteFeed(parse_site(demo_site_toml()), start=START, duration_s=2.5 * 86_400, seed=1)


@pytest.mark.parametrize(
    "window_s",
    [
        (0.0, 86_400.0),
        (86_400.0, 172_800.0),
        (3_600.0, 7_200.0),  # on the grid, a fraction of a day
        (100.0, 86_400.0),  # off the grid: each meter alone
    ],
)
def test_site_feed_gives_each_meter_the_edges_it_gives_alone(site_feed: SiteFeed, window_s) -> None:
    assert site_feed._grid is not None  # a site's meters run on one step: one grid
    t0, t1 = (EPOCH + w for w in window_s)
    meters = len(site_feed.times)
    batch = [site_feed(number, t0, t1) for number in range(meters)]
    alone = RegisterFeed(site_feed.times, site_feed.cumulative, epoch_s=EPOCH)
    alone._grid = None  # the plain path, one meter at a time
    for number in range(meters):
        assert _same(batch[number], alone(number, t0, t1))
    assert sum(len(edges) for edges in batch) > 0


def test_site_feed_tells_its_progress() -> None:
    told: list[tuple[str, float, float]] = []
    config = parse_site(demo_site_toml())
    feed = SiteFeed(config, start=START, duration_s=86_400.0, progress=lambda *a: told.append(a))
    meters = len(config.meters)
    assert told == [("meters", k + 1, meters) for k in range(meters)]
    feed(0, EPOCH + 43_200.0, EPOCH + 86_400.0)
    feed(1, EPOCH + 43_200.0, EPOCH + 86_400.0)  # only meter 0's call tells
    assert told[meters:] == [("mesh", 43_200.0, 86_400.0)]


def test_a_site_run_is_the_same_with_the_feeds_fast_path_off(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_site(demo_site_toml())
    fast = simulate_site_file(config, start=START, days=0.5, seed=2, now=datetime(2026, 7, 1, tzinfo=UTC))
    monkeypatch.setattr(RegisterFeed, "_edges_of_all", lambda self, t0, t1: None)
    plain = simulate_site_file(config, start=START, days=0.5, seed=2, now=datetime(2026, 7, 1, tzinfo=UTC))
    assert list(fast.network.dcap.deliveries) == list(plain.network.dcap.deliveries)
    assert fast.network.dcap.events == plain.network.dcap.events
    assert dataclasses.replace(fast.report, wall_s=None) == dataclasses.replace(plain.report, wall_s=None)
