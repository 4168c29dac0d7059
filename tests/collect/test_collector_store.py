"""The collector's core on a real store: readings to intervals, kept with each channel's position.

Figures: the Mini Meter's output "10" gives one pulse per 10 Wh (manual §3.2); a dual element meter on
200:0.1 A CTs registers at most 15,180 Wh in 15 minutes (``catalog.limits``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshmeter.collect.collector import Collector
from meshmeter.collect.readings import Reading, advance
from meshmeter.store import Store

T0 = datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
T0_S = int(T0.timestamp())


def _site(store: Store) -> tuple[int, int, int]:
    """A site, a Mini Meter and a pulse-counter source whose input C1 counts the meter's output "10"."""
    site = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
    meter = store.create_meter(
        serial="MM-4A", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id
    )
    source = store.create_source(
        site_id=site.id,
        name="tasmota-4a",
        kind="mqtt",
        format="tasmota_counter",
        address="mqtt://127.0.0.1:1883",
    )
    channel = store.add_source_channel(
        source_id=source.id,
        device="unit4a",
        channel="C1",
        meter_id=meter.id,
        unit="pulse",
        wh_per_unit=10,
        resets=True,
    )
    return source.id, channel.id, meter.id


def _pulses(minutes: int, per_minute: list[int]) -> list[Reading]:
    """A counter read every minute at :30, counting ``per_minute[k % len]`` pulses in minute k."""
    count, out = 0, []
    for k in range(minutes):
        count += per_minute[k % len(per_minute)]
        at = T0_S + 60 * k + 30
        out.append(Reading("unit4a", "C1", at * 1000, Decimal(count), "pulse"))
    return out


def _raw(store: Store, meter_id: int) -> list[tuple[int, int]]:
    rows = store.raw_intervals(meter_id=meter_id, start=T0 - timedelta(days=1), end=T0 + timedelta(days=2))
    return [(int(r.interval_end.timestamp()), r.energy_wh) for r in rows]


def test_readings_become_intervals_on_the_meters_grid(store: Store) -> None:
    source_id, _, meter_id = _site(store)
    collector = Collector(store)
    # 3 pulses a minute = 30 Wh a minute = 450 Wh in a quarter hour; first reading 07:00:30
    result = collector.take(collector.sources[source_id], _pulses(61, [3]))
    assert result.readings == 61
    # The first interval to store starts at 07:15, the first boundary after the first reading; the last
    # reading (08:00:30) closes 08:00. Each boundary lies 30 s after a reading (apportioned): at 07:15 the
    # register is 30 Wh/min x 14.5 min = 435 Wh, at 07:30 885 Wh ...: every interval 450 Wh.
    assert _raw(store, meter_id) == [(T0_S + 900 * k, 450) for k in (2, 3, 4)]
    ends = store.apportioned_ends(meter_id=meter_id, start=T0, end=T0 + timedelta(hours=2))
    assert sorted(ends) == [T0_S + 900 * k for k in (2, 3, 4)]
    source = store.get_source(source_id=source_id)
    assert source is not None
    assert source.readings == 61
    assert source.last_reading_at == T0 + timedelta(minutes=60, seconds=30)


def test_a_reading_on_the_boundary_closes_it_exactly(store: Store) -> None:
    source_id, _, meter_id = _site(store)
    collector = Collector(store)
    # a Modbus-like poll 1 s after each quarter hour: read within 5 s of the boundary, so exact
    readings = [
        Reading("unit4a", "C1", (T0_S + 900 * k + 1) * 1000, Decimal(45 * k), "pulse") for k in range(5)
    ]
    collector.take(collector.sources[source_id], readings)
    assert _raw(store, meter_id) == [(T0_S + 900 * k, 450) for k in (1, 2, 3, 4)]
    assert store.apportioned_ends(meter_id=meter_id, start=T0, end=T0 + timedelta(hours=2)) == {}


def test_a_counter_reset_loses_nothing_and_is_an_event(store: Store) -> None:
    source_id, _, meter_id = _site(store)
    collector = Collector(store)
    readings = _pulses(31, [3])  # 07:00:30 .. 07:30:30, count 3 .. 93
    # the counter reboots after 07:30:30 and reads 6 at 07:31:30 (two pulses a minute since)
    later = [
        Reading("unit4a", "C1", (T0_S + 60 * (31 + k) + 30) * 1000, Decimal(3 * (k + 1)), "pulse")
        for k in range(30)
    ]
    collector.take(collector.sources[source_id], readings + later)
    raw = dict(_raw(store, meter_id))
    # 07:45's interval: 14.5 minutes of the counter before the reboot rate plus after: 30 Wh/min throughout
    assert raw[T0_S + 900 * 2] == 450
    assert raw[T0_S + 900 * 3] == 450
    events = store.events(meter_id=meter_id)
    resets = [e for e in events if e.kind == "counter_reset"]
    assert len(resets) == 1
    assert resets[0].detail["before"] == "93"
    assert resets[0].detail["after"] == "3"


def test_refused_readings_are_counted_per_source_and_store_nothing(store: Store) -> None:
    source_id, _, meter_id = _site(store)
    collector = Collector(store)
    source = collector.sources[source_id]
    collector.take(source, _pulses(20, [3]))
    before = _raw(store, meter_id)
    at = (T0_S + 20 * 60 + 30) * 1000
    # a counter 1,000,000 pulses on in a minute: 10 MWh, far beyond 15,180 Wh a quarter hour
    jump = Reading("unit4a", "C1", at, Decimal(1_000_060), "pulse")
    unknown = Reading("unit9z", "C1", at, Decimal(5), "pulse")
    result = collector.take(source, [jump, unknown])
    assert result.rejected == {"jump": 1, "unknown_device": 1}
    assert _raw(store, meter_id) == before
    stored = store.get_source(source_id=source_id)
    assert stored is not None
    assert stored.rejected == {"jump": 1, "unknown_device": 1}
    assert stored.last_error is not None
    assert "unit" in stored.last_error


def test_a_register_that_cannot_reset_refuses_running_backwards(store: Store) -> None:
    site = store.create_site(name="Elm", timezone="America/Denver")
    meter = store.create_meter(serial="SDM-1", designation="SDM630MCT", ct_ratio=2000, site_id=site.id)
    source = store.create_source(
        site_id=site.id, name="modbus-1", kind="modbus_tcp", format="sunspec", address="127.0.0.1:5020"
    )
    store.add_source_channel(
        source_id=source.id, device="1", channel="import", meter_id=meter.id, unit="kWh", wh_per_unit=1000
    )
    collector = Collector(store)
    s = collector.sources[source.id]
    collector.take(s, [Reading("1", "import", (T0_S + 1) * 1000, Decimal("1234.5"), "kWh")])
    result = collector.take(s, [Reading("1", "import", (T0_S + 901) * 1000, Decimal("1200.0"), "kWh")])
    assert result.rejected == {"backwards": 1}
    assert _raw(store, meter.id) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(min_value=1, max_value=180), max_size=6), resend=st.booleans())
def test_restarts_anywhere_give_the_same_intervals(
    sqlite_store: Store, cuts: list[int], resend: bool
) -> None:
    """Three hours of readings fed in pieces, a new collector (a restart) for each piece, and, when
    ``resend``, each piece's last reading offered again after the restart (an MQTT message not
    acknowledged): the intervals equal one uninterrupted pass, none lost, none doubled."""
    store = sqlite_store
    # hypothesis reuses the fixture: one fresh site per example
    name = f"Site {len(store.sites())}"
    site = store.create_site(name=name, timezone="America/Los_Angeles")
    meter = store.create_meter(
        serial=f"M-{site.id}", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id
    )
    source = store.create_source(
        site_id=site.id, name="c", kind="mqtt", format="tasmota_counter", address="mqtt://x"
    )
    store.add_source_channel(
        source_id=source.id,
        device="unit4a",
        channel="C1",
        meter_id=meter.id,
        unit="pulse",
        wh_per_unit=10,
        resets=True,
    )
    readings = _pulses(181, [1, 4, 0, 7, 2])
    truth = advance(None, readings, Collector(store, site_id=site.id).channels(source.id)[0].config).intervals
    pieces = np.split(np.arange(len(readings)), sorted(set(cuts)))
    previous: list[Reading] = []
    for piece in pieces:
        collector = Collector(store, site_id=site.id)
        chunk = [readings[i] for i in piece]
        collector.take(collector.sources[source.id], (previous[-1:] if resend else []) + chunk)
        previous = chunk or previous
    got = _raw(store, meter.id)
    assert got == [(i.end_s, i.energy_wh) for i in truth]
    assert sum(e for _, e in got) == sum(i.energy_wh for i in truth)


def test_channels_refuse_bad_mappings_naming_every_problem(store: Store) -> None:
    source_id, _, meter_id = _site(store)
    other = store.create_site(name="Elsewhere", timezone="UTC")
    far = store.create_meter(serial="FAR-1", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=other.id)
    with pytest.raises(ValueError, match="device") as caught:
        store.add_source_channel(
            source_id=source_id,
            device=" ",
            channel="C2",
            meter_id=far.id,
            unit="furlong",
            wh_per_unit=-1,
            max_apportion_s=60,
        )
    text = str(caught.value)
    for part in (
        "device",
        "unit must be one of",
        "wh_per_unit must be a positive number",
        "not of the source's site",
        "at least the meter's interval",
    ):
        assert part in text, part
    with pytest.raises(ValueError, match="fed by a channel already"):
        store.add_source_channel(
            source_id=source_id,
            device="unit4b",
            channel="C1",
            meter_id=meter_id,
            unit="pulse",
            wh_per_unit=10,
        )
    source = store.get_source(source_id=source_id)
    assert source is not None
    with pytest.raises(ValueError, match="has a source named 'tasmota-4a' already"):
        store.create_source(site_id=source.site_id, name="tasmota-4a", kind="mqtt", format="x", address="y")
    with pytest.raises(ValueError, match="kind must be one of"):
        store.create_source(site_id=other.id, name="z", kind="zigbee", format="x", address="y")
    assert len(store.source_channels(source_id=source_id)) == 1


def test_a_silent_source_raises_its_communication_loss_alert_once_and_clears_it(store: Store) -> None:
    import time

    from meshmeter.collect.collector import Clock
    from meshmeter.collect.runner import CollectorRunner
    from meshmeter.headend.alerts import AlertKind, alerts

    source_id, _, meter_id = _site(store)
    readings = _pulses(61, [3])  # the last at 08:00:30

    def at(t_s: float) -> Clock:
        return Clock(real_anchor_s=time.time(), simulated_anchor_s=t_s, scale=1.0)

    collector = Collector(store, clock=at(T0_S + 3630))
    collector.take(collector.sources[source_id], readings)
    runner = CollectorRunner(collector)
    assert runner.check_silence() == 0  # heard 0 s ago
    # 30 minutes (the default threshold, two 15-minute intervals) and one more after the last reading
    collector.clock = at(T0_S + 3630 + 1860)
    assert runner.check_silence() == 1
    assert runner.check_silence() == 0  # the same silence: reported already
    raised = [a for a in alerts(store, meter_id=meter_id) if a.kind == AlertKind.SOURCE_COMM_LOSS]
    assert len(raised) == 1
    assert raised[0].active
    assert raised[0].detail["source"] == "tasmota-4a"
    assert raised[0].at == T0 + timedelta(minutes=60, seconds=30 + 1800)
    more = [Reading("unit4a", "C1", (T0_S + 3630 + 1900) * 1000, Decimal(200), "pulse")]
    collector.take(collector.sources[source_id], more)
    collector.clock = at(T0_S + 3630 + 1910)
    assert runner.check_silence() == 1
    latest = [a for a in alerts(store, meter_id=meter_id) if a.kind == AlertKind.SOURCE_COMM_LOSS]
    assert [a.active for a in latest] == [True, False]


def test_a_check_that_reads_the_clock_a_millisecond_later_is_the_same_silence(store: Store) -> None:
    """Seen in CI on a loaded machine: the same silence checked twice raised its alert twice. The check
    read the present twice (once for now, once for the silence since the last reading) and took the last
    reading as their difference; a reading at 08:00:30.000 came back as 08:00:30 from one check and as
    08:00:29.999, named 08:00:29, from the next, whose two reads were a millisecond apart. Here the
    clock's reads are set so: the same two at the first check, a millisecond apart at the next."""
    from meshmeter.collect.collector import Clock
    from meshmeter.collect.runner import CollectorRunner
    from meshmeter.headend.alerts import AlertKind, alerts

    source_id, _, meter_id = _site(store)
    late = T0_S + 3630 + 1860  # 30 minutes and one more after the last reading, at 08:00:30
    presents = iter([float(late), float(late), late + 0.001, late + 0.002])

    class Stepping(Clock):
        def now_s(self) -> float:
            return next(presents, late + 0.003)

    collector = Collector(store, clock=Clock(real_anchor_s=0.0, simulated_anchor_s=T0_S + 3630, scale=0.0))
    collector.take(collector.sources[source_id], _pulses(61, [3]))
    collector.clock = Stepping()
    runner = CollectorRunner(collector)
    assert runner.check_silence() == 1
    assert runner.check_silence() == 0  # the same silence: reported already
    raised = [a for a in alerts(store, meter_id=meter_id) if a.kind == AlertKind.SOURCE_COMM_LOSS]
    assert [a.detail["last_reading_at"] for a in raised] == [
        (T0 + timedelta(minutes=60, seconds=30)).isoformat()
    ]


def test_a_counter_restored_from_a_saved_value_is_rebased_not_counted_twice(store: Store) -> None:
    # Tasmota keeps its counter in flash and, after a power loss, comes back at the value it saved (at
    # midnight, say), not at 0 (https://tasmota.github.io/docs/Commands/#counter). Counting that value as
    # new pulses would be 4,000 pulses = 40 kWh in a minute, more than 15,180 Wh a quarter hour allows.
    source_id, _, meter_id = _site(store)
    collector = Collector(store)
    source = collector.sources[source_id]
    collector.take(
        source,
        [Reading("unit4a", "C1", (T0_S + 60 * k) * 1000, Decimal(5000 + 3 * k), "pulse") for k in range(16)],
    )
    after = [
        Reading("unit4a", "C1", (T0_S + 60 * (16 + k)) * 1000, Decimal(4000 + 3 * k), "pulse")
        for k in range(16)
    ]
    result = collector.take(source, after)
    assert result.rejected == {}
    raw = dict(_raw(store, meter_id))
    # (07:15, 07:30]: 14 minutes at 30 Wh, and the minute of the loss counts nothing: 420 Wh
    assert raw[T0_S + 1800] == 420
    resets = [e for e in store.events(meter_id=meter_id) if e.kind == "counter_reset"]
    assert [e.detail.get("rebased") for e in resets] == [True]
