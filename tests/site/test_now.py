"""Issue 11: a run up to now stores nothing that ends or happens after now, and stops at the last closed
interval.

The path is the one ``meshmeter demo`` and ``meshmeter site simulate`` take without ``--start``:
:func:`~meshmeter.demo.default_window`, then :func:`~meshmeter.demo.run_site_demo`, with "now" injected;
then the commands themselves, on the clock's now.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshmeter.cli import app
from meshmeter.demo import default_window, run_site_demo
from meshmeter.headend.alerts import alerts, communication_status
from meshmeter.services.simulation import store_simulation
from meshmeter.site.config import SiteConfig, parse_site
from meshmeter.site.run import simulate_site_file
from meshmeter.store import Store
from tests.site.test_run import SMALL

EARLY = datetime(2026, 1, 1, tzinfo=UTC)


def _last_closed(now: datetime) -> datetime:
    """The last 15-minute boundary at or before ``now``, UTC."""
    return datetime.fromtimestamp(int(now.timestamp()) // 900 * 900, UTC)


def _site(extra: str = "") -> SiteConfig:
    return parse_site(SMALL + extra)


def _assert_nothing_after(store: Store, now: datetime, last: datetime) -> None:
    """Every meter's latest raw interval is ``last``; no interval, read, event, alert or report after now."""
    far = now + timedelta(days=30)
    meters = store.meters()
    assert meters
    for meter in meters:
        rows = store.raw_intervals(meter_id=meter.id, start=EARLY, end=far)
        assert rows[-1].interval_end == last
        reads = store.register_reads(meter_id=meter.id, start=EARLY, end=far)
        assert reads[-1].read_at == last
    events = store.events()
    assert events
    assert max(e.at for e in events) <= now
    assert all(a.at <= now for a in alerts(store))
    report = store.latest_network_report()
    assert report is not None
    assert report.taken_at <= now
    # what GET /network/health shows: no meter heard from the future (issue 11 saw age_s -1878)
    for status in communication_status(store, now=now):
        assert status.last_interval_end == last
        assert status.age_s is not None
        assert 0 <= status.age_s <= (now - last).total_seconds()  # whole seconds


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 6, 2, 3, 15, tzinfo=UTC),  # exactly on a boundary: the interval ending now is closed
        datetime(2026, 6, 2, 3, 15, 0, 1000, tzinfo=UTC),  # a millisecond after it
        datetime(2026, 6, 2, 3, 20, 30, tzinfo=UTC),  # within the next interval
        datetime(2026, 6, 2, 3, 29, 59, 999_000, tzinfo=UTC),  # just before the next boundary
    ],
)
def test_a_run_up_to_now_stops_at_the_last_closed_interval(now: datetime) -> None:
    config = _site()
    start, days = default_window(1, config.timezone, now=now)
    last = _last_closed(now)
    assert last == datetime(2026, 6, 2, 3, 15, tzinfo=UTC)
    with Store("sqlite:///:memory:") as store:
        summary = run_site_demo(store, config, start=start, days=days, now=now)
        assert summary.start == start
        assert summary.end == last
        _assert_nothing_after(store, now, last)


def test_a_window_asked_past_now_is_cut_at_the_last_closed_interval() -> None:
    start = datetime(2026, 6, 1, 7, tzinfo=UTC)
    now = datetime(2026, 6, 1, 13, 7, 30, tzinfo=UTC)
    with Store("sqlite:///:memory:") as store:
        summary = run_site_demo(store, _site(), start=start, days=1.0, now=now)
        assert summary.end == datetime(2026, 6, 1, 13, tzinfo=UTC)
        _assert_nothing_after(store, now, summary.end)
        meter = store.get_meter(serial="A1")
        assert meter is not None
        rows = store.raw_intervals(meter_id=meter.id, start=start, end=now + timedelta(days=2))
        assert len(rows) == 24  # 07:15 .. 13:00


def test_a_single_closed_interval_and_a_start_too_late() -> None:
    start = datetime(2026, 6, 1, 7, tzinfo=UTC)
    sim = simulate_site_file(_site(), start=start, days=1.0, now=start + timedelta(minutes=15))
    assert sim.end == start + timedelta(minutes=15)
    for now in (start + timedelta(minutes=14, seconds=59), start, start - timedelta(hours=1)):
        with pytest.raises(ValueError, match="closed 15-minute interval before now"):
            simulate_site_file(_site(), start=start, days=1.0, now=now)
    with pytest.raises(ValueError, match="now must be a timezone-aware"):
        simulate_site_file(_site(), start=start, days=1.0, now=datetime(2026, 6, 2))


def test_nothing_of_the_drain_is_stored() -> None:
    """The mesh runs on after the window for late data; what the MDTs close or report then is not stored."""
    now = datetime(2026, 6, 2, 3, 20, 30, tzinfo=UTC)
    config = _site()
    start, days = default_window(1, config.timezone, now=now)
    window_h = (_last_closed(now) - start).total_seconds() / 3600.0
    # a cover removed after the window's end, while the mesh drains: after now, never stored
    config = _site(f'\n[[incidents]]\nkind = "tamper"\nmeter = "A2"\nafter_h = {window_h + 0.5}\n')
    sim = simulate_site_file(config, start=start, days=days, seed=5, now=now)
    end_s = sim.end.timestamp()
    assert sim.end == _last_closed(now)
    # the DCAP did get intervals and the tamper of the drain (the network runs past the window) ...
    assert max(d.record.interval_end_s for d in sim.network.dcap.deliveries) > end_s
    assert any(e.event.time_s > now.timestamp() for e in sim.network.dcap.events)
    # ... the store keeps the window
    with Store("sqlite:///:memory:") as store:
        store_simulation(store, sim)
        _assert_nothing_after(store, now, sim.end)
        assert not [a for a in alerts(store) if str(a.kind) == "tamper"]


def test_a_past_window_stores_no_interval_after_its_end() -> None:
    start = datetime(2026, 6, 1, 7, tzinfo=UTC)
    sim = simulate_site_file(_site(), start=start, days=0.25, seed=4)  # the clock's now, months later
    assert sim.end == start + timedelta(hours=6)
    with Store("sqlite:///:memory:") as store:
        stored = store_simulation(store, sim)
        assert stored.intervals == 2 * 25  # sequence 0 at the start and 24 intervals, for each meter
        for meter_id in stored.meter_ids.values():
            rows = store.raw_intervals(meter_id=meter_id, start=EARLY, end=sim.end + timedelta(days=2))
            assert rows[-1].interval_end == sim.end
            assert rows[-1].energy_wh > 0


# --------------------------------------------------------------------------------------------------
# the commands, on the clock's now
# --------------------------------------------------------------------------------------------------

runner = CliRunner()


def test_meshmeter_demo_stores_nothing_after_now(tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite"
    before = datetime.now(UTC)
    result = runner.invoke(app, ["demo", "--days", "1", "--no-serve", "--database", str(path), "--json"])
    after = datetime.now(UTC)
    assert result.exit_code == 0, result.output
    end = datetime.fromisoformat(json.loads(result.stdout)["end"])
    assert end in {_last_closed(before), _last_closed(after)}  # the run may straddle a boundary
    with Store(f"sqlite:///{path}") as store:
        _assert_nothing_after(store, after, end)


@pytest.mark.parametrize("hours_ago", [None, 2])
def test_meshmeter_site_simulate_stops_at_now(tmp_path: Path, hours_ago: int | None) -> None:
    site = tmp_path / "small.toml"
    site.write_text(SMALL, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'small.sqlite'}"
    args = ["site", "simulate", str(site), "--days", "1", "--database", db, "--json"]
    before = datetime.now(UTC)
    if hours_ago is not None:  # a window asked to run a day from two hours ago: cut at now
        args += ["--start", (_last_closed(before) - timedelta(hours=hours_ago)).isoformat()]
    result = runner.invoke(app, args)
    after = datetime.now(UTC)
    assert result.exit_code == 0, result.output
    end = datetime.fromisoformat(json.loads(result.stdout)["end"])
    assert end in {_last_closed(before), _last_closed(after)}
    with Store(db) as store:
        _assert_nothing_after(store, after, end)


def test_meshmeter_site_simulate_refuses_a_start_after_now(tmp_path: Path) -> None:
    site = tmp_path / "small.toml"
    site.write_text(SMALL, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'small.sqlite'}"
    later = _last_closed(datetime.now(UTC)) + timedelta(hours=1)
    result = runner.invoke(
        app, ["site", "simulate", str(site), "--start", later.isoformat(), "--database", db]
    )
    assert result.exit_code == 2
    assert "closed 15-minute interval before now" in result.output
    with Store(db) as store:
        assert store.sites() == []  # nothing stored
