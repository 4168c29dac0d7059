"""Tests of the mesh's pulse feed: every meter's output-"10" edges of a window at once.

``meshmeter.meter.pulses.pulse_edge_times_rows`` and ``meshmeter.site.mesh.MeterFeed``, which feeds the
MDTs of a simulated mesh a day at a time (docs/network.md, "Speed").
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshmeter.meter.pulses import pulse_edge_times, pulse_edge_times_rows
from meshmeter.site.mesh import MeterFeed

EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z [s]


def _same(a, b) -> bool:
    return (
        np.array_equal(a.time_s, b.time_s)
        and np.array_equal(a.k, b.k)
        and a.time_s.dtype == b.time_s.dtype
        and a.k.dtype == b.k.dtype
        and a.half_wh == b.half_wh
    )


def test_rows_worked_by_hand():
    # 0 → 20 Wh over 100 s at constant power, then flat, then 20 → 25 Wh: the "10" output changes every
    # 5 Wh: at 25, 50, 75, 100 s, then 25 Wh is reached at the end of the third step (300 s)
    t = np.array([0.0, 100.0, 200.0, 300.0])
    rows = np.array([[0.0, 20.0, 20.0, 25.0], [7.0, 7.0, 7.0, 7.0], [4.0, 6.0, 6.0, 11.0]])
    a, b, c = pulse_edge_times_rows(t, rows, 10.0)
    assert a.time_s.tolist() == [25.0, 50.0, 75.0, 100.0, 300.0]
    assert a.k.tolist() == [1, 2, 3, 4, 5]
    assert len(b) == 0  # no energy, no edge
    # from 4 Wh: 5 Wh at 50 s (closure k = 1), 10 Wh at 300 - 100/5 = 280 s (k = 2)
    assert c.time_s.tolist() == [50.0, 280.0]
    assert c.k.tolist() == [1, 2]


@settings(max_examples=150, deadline=None)
@given(
    rows=st.integers(0, 7),
    samples=st.integers(1, 30),
    seed=st.integers(0, 2**32 - 1),
    rows_per_pass=st.integers(1, 5),
    start_wh=st.sampled_from([0.0, 5.0, 123_456.7]),
    grid=st.booleans(),
)
def test_rows_equal_one_curve_at_a_time_to_the_bit(rows, samples, seed, rows_per_pass, start_wh, grid):
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.uniform(0.5, 900.0, samples)) + rng.uniform(0.0, 2e9)
    steps = rng.uniform(0.0, 60.0, (rows, samples)) * (rng.uniform(0.0, 1.0, (rows, samples)) < 0.7)
    energy = start_wh + np.cumsum(steps, axis=1)
    if grid:  # samples exactly on thresholds
        energy = np.round(energy / 5.0) * 5.0
    got = pulse_edge_times_rows(t, energy, 10.0, rows_per_pass=rows_per_pass)
    assert len(got) == rows
    for row in range(rows):
        assert _same(got[row], pulse_edge_times(t, energy[row], 10.0))


@pytest.mark.parametrize(
    ("t", "rows", "kwargs", "match"),
    [
        ([0.0, 1.0], [[0.0, 1.0, 2.0]], {}, "shape"),
        ([0.0, 1.0], [0.0, 1.0], {}, "shape"),
        ([0.0, 0.0], [[0.0, 1.0]], {}, "strictly increasing"),
        ([0.0, np.nan], [[0.0, 1.0]], {}, "finite"),
        ([0.0, 1.0], [[0.0, np.inf]], {}, "finite"),
        ([0.0, 1.0], [[0.0, 1.0], [0.0, -1.0]], {}, ">= 0"),
        ([0.0, 1.0, 2.0], [[0.0, 1.0, 2.0], [0.0, 2.0, 1.0]], {}, "row 1 at index 2"),
        ([0.0, 1.0], [[0.0, 1.0]], {"rows_per_pass": 0}, "rows_per_pass"),
        ([0.0, 1.0], [[0.0, 1.0]], {"kh_wh": 0.0}, "kh_wh"),
    ],
)
def test_rows_refuse_bad_input(t, rows, kwargs, match):
    kh = kwargs.pop("kh_wh", 10.0)
    with pytest.raises(ValueError, match=match):
        pulse_edge_times_rows(t, rows, kh, **kwargs)


def test_rows_of_nothing():
    assert pulse_edge_times_rows([0.0, 900.0], np.zeros((0, 2)), 10.0) == []


def _per_meter(feed: MeterFeed) -> MeterFeed:
    """The same feed, made to compute each meter's window alone (the path off the grid)."""
    feed._grid = None
    feed._window = None
    return feed


@pytest.mark.parametrize(
    "window_s",
    [
        (0.0, 86_400.0),
        (86_400.0, 172_800.0),
        (172_800.0, 190_800.0),  # a fraction of a day, on the grid
        (100.0, 86_400.0),  # off the grid: each meter alone
        (0.0, 1_234.5),
    ],
)
def test_meter_feed_gives_each_meter_the_edges_it_gives_alone(window_s):
    batch = MeterFeed(mdts=12, duration_s=2.5 * 86_400, seed=4, epoch_s=EPOCH)
    alone = _per_meter(MeterFeed(mdts=12, duration_s=2.5 * 86_400, seed=4, epoch_s=EPOCH))
    t0, t1 = (EPOCH + w for w in window_s)
    for number in (*range(12), 3, 0):  # in order, then again out of order
        got = batch(number, t0, t1)
        assert _same(got, alone(number, t0, t1))
        assert len(got) > 0 or window_s[1] - window_s[0] < 2_000


def test_meter_feed_days_in_turn_are_the_whole_run():
    # a day at a time, as the network asks: the edges of the two days are those of the whole
    feed = MeterFeed(mdts=3, duration_s=2 * 86_400, seed=9, epoch_s=EPOCH)
    whole = _per_meter(MeterFeed(mdts=3, duration_s=2 * 86_400, seed=9, epoch_s=EPOCH))
    for number in range(3):
        first = feed(number, EPOCH, EPOCH + 86_400)
        ref = whole(number, EPOCH, EPOCH + 2 * 86_400)
        assert np.array_equal(first.k, ref.k[: len(first)])
        assert np.array_equal(first.time_s, ref.time_s[: len(first)])
    for number in range(3):
        second = feed(number, EPOCH + 86_400, EPOCH + 2 * 86_400)
        ref = whole(number, EPOCH, EPOCH + 2 * 86_400)
        assert np.array_equal(second.k, ref.k[len(ref) - len(second) :])
        assert second.k[0] == feed(number, EPOCH, EPOCH + 86_400).k[-1] + 1 or len(second) == 0
