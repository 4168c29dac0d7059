"""Tests of the simulated AMR mesh (issue 3 acceptance): formation order, outages, failures, security."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from meshmeter.amr.cit import cit_report
from meshmeter.amr.dcap import RejectReason
from meshmeter.amr.frames import Frame, IntervalReport, encode_frame
from meshmeter.amr.led import LedPattern, PowerState
from meshmeter.amr.mdt import KitCapabilityError
from meshmeter.amr.network import MeshNetwork, NetworkConfig, Outage, RepeaterFailure
from meshmeter.amr.radio import DEFAULT_CONFIG
from meshmeter.amr.records import IntervalRecord, TamperEvent
from meshmeter.amr.topology import DeviceKind, Layout, campus_layout, eui64_for
from meshmeter.meter.pulses import pulse_edge_times

HOUR = 3600.0
NO_SHADOWING = dataclasses.replace(DEFAULT_CONFIG, shadowing_sigma_db=0.0)


def steady_feed(power_w: float = 1200.0):
    """Each MDT's meter at a steady load: output "10" edges between two network times (run clock)."""

    def feed(number: int, t0_net: float, t1_net: float):
        epoch = feed.epoch  # type: ignore[attr-defined]
        t0, t1 = t0_net - epoch, t1_net - epoch
        return pulse_edge_times([t0, t1], [t0 * power_w / 3600, t1 * power_w / 3600], 10.0)

    feed.epoch = 1_767_225_600  # type: ignore[attr-defined]
    return feed


def chain_layout(repeaters: int = 3, mdts: int = 4, spacing_m: float = 400.0) -> Layout:
    """DCAP, then repeaters in a line ``spacing_m`` apart, each hearing only its neighbours (one wall per
    100 m), and MDTs by the last repeater."""
    xs = [
        0.0,
        *[spacing_m * (k + 1) for k in range(repeaters)],
        *[spacing_m * repeaters + 60.0 + 5 * k for k in range(mdts)],
    ]
    pos = np.array([[x, 0.0] for x in xs])
    kinds = (DeviceKind.DCAP, *([DeviceKind.REPEATER] * repeaters), *([DeviceKind.MDT] * mdts))
    dist = np.abs(pos[:, None, 0] - pos[None, :, 0])
    walls = np.minimum(np.floor(dist / 100.0), 12).astype(np.int64)
    n = len(kinds)
    counters: dict[DeviceKind, int] = {}
    euis = []
    for k in kinds:
        euis.append(eui64_for(k, counters.get(k, 0)))
        counters[k] = counters.get(k, 0) + 1
    return Layout(pos, kinds, walls, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool), tuple(euis))


def run_chain(order: str, hours: float = 2.0) -> MeshNetwork:
    net = MeshNetwork(chain_layout(), steady_feed(), radio=NO_SHADOWING, seed=1, power_order=order)  # type: ignore[arg-type]
    net.run(hours * HOUR, drain_s=0.5 * HOUR)
    return net


def test_chain_links_are_neighbour_only() -> None:
    net = MeshNetwork(chain_layout(), steady_feed(), radio=NO_SHADOWING, seed=1)
    assert net.usable[0, 1]
    assert net.usable[1, 2]
    assert net.usable[2, 3]
    assert not net.usable[0, 2]
    assert not net.usable[1, 3]


def test_power_up_near_first_forms_fully_and_quickly() -> None:
    # manual §5.2: repeaters powered from the one closest to the DCAP outwards see the backbone at once
    net = run_chain("near-first")
    report = cit_report(net, duration_s=2 * HOUR)
    assert report.joined_repeaters == 3
    assert report.joined_mdts == 4
    assert report.join_time_s["repeater"]["max"] < 3 * 60 + 30  # the last one joins right after power-up
    assert [net.hops[i] for i in net.mdt_indices] == [4, 4, 4, 4]
    assert report.delivered == report.intervals_due
    # the join state is written as the CIT's word for it, not as a Python enum's repr
    assert {row.state for row in report.devices} == {"connected"}


def test_power_up_far_first_still_forms_but_later() -> None:
    near = cit_report(run_chain("near-first"), duration_s=2 * HOUR)
    far_net = run_chain("far-first")
    far = cit_report(far_net, duration_s=2 * HOUR)
    assert far.joined_repeaters == 3
    assert far.join_time_s["repeater"]["max"] > near.join_time_s["repeater"]["max"] + 200
    # the farthest repeater, powered first, searched (slow flash) 90 s, slept, and searched again
    farthest = far_net.devices[3]
    patterns = [p for _, p in farthest.led.patterns]
    states = [s for _, s in farthest.led.states]
    assert patterns[0] is LedPattern.SLOW_FLASH
    assert PowerState.LIGHT_SLEEP in states
    first_sleep = next(t for t, s in farthest.led.states if s is PowerState.LIGHT_SLEEP)
    first_search = next(t for t, s in farthest.led.states if s is PowerState.SEARCHING)
    assert first_sleep - first_search == pytest.approx(90.0)
    assert states[-1] is PowerState.CONNECTED
    assert LedPattern.SOLID in patterns


def test_led_joined_is_solid_for_ten_seconds() -> None:
    net = run_chain("near-first", hours=0.5)
    led = net.devices[1].led
    solid = [t for t, p in led.patterns if p is LedPattern.SOLID]
    assert solid
    assert led.pattern_at(solid[0] + 9.9) is LedPattern.SOLID
    assert led.pattern_at(solid[0] + 10.1) is LedPattern.OFF


def dense_campus(mdts: int = 40, repeaters: int = 5, seed: int = 5) -> Layout:
    return campus_layout(mdts=mdts, repeaters=repeaters, seed=seed, wall_spacing_m=6.0, max_walls=30)


def test_dcap_outage_of_six_hours_loses_no_interval() -> None:
    layout = dense_campus()
    net = MeshNetwork(layout, steady_feed(), seed=2, outages=(Outage(8 * HOUR, 6 * HOUR),))
    net.run(24 * HOUR, drain_s=2 * HOUR)
    report = cit_report(net, duration_s=24 * HOUR)
    assert report.joined_mdts > 0
    assert report.delivered == report.intervals_due  # every interval, in the end
    keys = [(d.device, d.record.sequence) for d in net.dcap.deliveries]
    assert len(keys) == len(set(keys))  # exactly once
    assert report.delivered_on_time < report.intervals_due  # the outage made some late
    assert report.latency_s["max"] >= 5 * HOUR


def test_repeater_failure_heals_routes_and_loses_nothing() -> None:
    layout = campus_layout(mdts=100, repeaters=6, seed=5, wall_spacing_m=4.0, max_walls=30)
    probe = MeshNetwork(layout, steady_feed(), seed=3)
    probe.run(2 * HOUR, drain_s=0.0)
    parents = {i: probe.devices[i].parent for i in probe.mdt_indices}

    def alternatives(r: int) -> list[int]:
        """Children of repeater r that hear another router with a route."""
        out = []
        for i, p in parents.items():
            if p != r:
                continue
            others = [
                j
                for j in range(layout.n)
                if j not in (i, r) and probe.usable[i, j] and np.isfinite(probe.cost[j])
            ]
            if others:
                out.append(i)
        return out

    repeaters = [int(r) for r in layout.indices(DeviceKind.REPEATER)]
    failing = max(repeaters, key=lambda r: (len(alternatives(r)), list(parents.values()).count(r)))
    movers = alternatives(failing)
    stranded = [i for i, p in parents.items() if p == failing and i not in movers]
    assert movers, "the site must give some child of the failing repeater another way"
    number = repeaters.index(failing) + 1

    # it loses power at 6 h, with its last gasp, and comes back at 9 h
    net = MeshNetwork(layout, steady_feed(), seed=3, failures=(RepeaterFailure(number, 6 * HOUR, 3 * HOUR),))
    net.run(18 * HOUR, drain_s=2 * HOUR)
    report = cit_report(net, duration_s=18 * HOUR)
    assert report.events.get("PowerLoss") == 1  # the repeater reported its own power loss
    assert net.devices[failing].up
    assert net.devices[failing].joined
    for i in movers:
        assert net.devices[i].stats.parent_changes >= 1  # routed around it at once
    # every interval of every joined MDT arrives, exactly once: the movers' through their new parents,
    # the stranded ones' from their backlog once the repeater is back
    assert report.delivered == report.intervals_due
    keys = [(d.device, d.record.sequence) for d in net.dcap.deliveries]
    assert len(keys) == len(set(keys))
    if stranded:
        late = [d for d in net.dcap.deliveries if d.device == net.devices[stranded[0]].eui]
        assert max(d.received_s - d.record.interval_end_s for d in late) > 2 * HOUR


def test_forged_replayed_and_corrupted_frames_are_rejected_and_counted() -> None:
    net = MeshNetwork(dense_campus(mdts=5, repeaters=1), steady_feed(), seed=4)
    net.run(1 * HOUR, drain_s=0.0)
    dcap = net.dcap
    before = list(dcap.deliveries)
    d = net.devices[net.mdt_indices[0]]
    record = IntervalRecord(sequence=999, interval_end_s=1_767_225_600 + 900 * 999, cumulative_pulses=1)
    frame = Frame(
        payload=IntervalReport(records=(record,)),
        source=d.eui,
        destination=net.devices[0].eui,
        frame_counter=d.counter,
    )
    replayed = encode_frame(frame, key=d.key)  # a counter already used
    good = encode_frame(dataclasses.replace(frame, frame_counter=d.counter + 10), key=d.key)
    corrupted = bytearray(good)
    corrupted[-1] ^= 0x01
    forged_key = encode_frame(dataclasses.replace(frame, frame_counter=d.counter + 11), key=bytes(16))
    stranger = encode_frame(
        dataclasses.replace(frame, source=b"\x02\x00\x00\x00\x00\x00\x00\x99"), key=bytes(16)
    )
    for data in (replayed, bytes(corrupted), forged_key, stranger, b"\x03\x00", b""):
        assert dcap.receive(data, 0.0) is None
    assert dcap.rejected[RejectReason.REPLAY] == 1
    assert dcap.rejected[RejectReason.BAD_MIC] == 2
    assert dcap.rejected[RejectReason.UNKNOWN_DEVICE] == 1
    assert dcap.rejected[RejectReason.MALFORMED] == 2
    assert dcap.deliveries == before  # nothing rejected reached the records
    # the genuine frame is accepted once, and its replay refused
    assert dcap.receive(good, 0.0) is not None
    assert dcap.receive(good, 0.0) is None
    assert dcap.rejected[RejectReason.REPLAY] == 2


def test_tamper_is_reported_at_once() -> None:
    net = MeshNetwork(dense_campus(mdts=5, repeaters=1), steady_feed(), seed=4)
    net.schedule_tamper(2, 3 * HOUR + 123.0, True)
    net.run(4 * HOUR, drain_s=0.0)
    tampers = [e for e in net.dcap.events if isinstance(e.event, TamperEvent)]
    assert len(tampers) == 1
    assert tampers[0].event.cover_open is True
    assert tampers[0].received_s - (net.epoch_s + 3 * HOUR + 123.0) < 5.0  # not at the next report


def test_one_dcap_serves_at_most_its_limit() -> None:
    config = NetworkConfig(max_mdts=5)
    net = MeshNetwork(dense_campus(mdts=8, repeaters=1), steady_feed(), seed=4, config=config)
    net.run(2 * HOUR, drain_s=0.0)
    assert sum(net.devices[i].joined for i in net.mdt_indices) == 5


def test_six_psmt_kit_has_no_transceiver() -> None:
    # manual §2.4: 6PSMT-C02 is LCD and pulse outputs only
    with pytest.raises(KitCapabilityError, match="6PSMT-C02"):
        MeshNetwork(dense_campus(mdts=2, repeaters=1), steady_feed(), kit="6PSMT-C02")


def test_deterministic_under_a_seed() -> None:
    layout = dense_campus(mdts=15, repeaters=2)
    a = MeshNetwork(layout, steady_feed(), seed=9)
    a.run(6 * HOUR, drain_s=0.0)
    b = MeshNetwork(layout, steady_feed(), seed=9)
    b.run(6 * HOUR, drain_s=0.0)
    ra = cit_report(a, duration_s=6 * HOUR).to_dict()
    rb = cit_report(b, duration_s=6 * HOUR).to_dict()
    assert ra == rb


def test_pulses_reach_the_dcap_exactly() -> None:
    # 1200 W for 6 h: 7.2 kWh = 720 pulses of 10 Wh; the last record carries the cumulative count
    net = MeshNetwork(dense_campus(mdts=3, repeaters=1), steady_feed(1200.0), seed=4)
    net.run(6 * HOUR, drain_s=HOUR)
    last = max((d for d in net.dcap.deliveries if d.record.sequence == 24), key=lambda d: d.record.sequence)
    assert last.record.cumulative_pulses == 720
    assert last.record.cumulative_energy_wh == 7200


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"report_period_s": 600}, "report_period_s"),
        ({"hysteresis": 1.5}, "hysteresis"),
        ({"max_frame_retries": -1}, "max_frame_retries"),
        ({"beacon_interval_s": 0.0}, "beacon_interval_s"),
    ],
)
def test_network_config_refuses_bad_values(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        NetworkConfig(**kwargs)


def test_schedules_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="duration_s"):
        Outage(0.0, 0.0)
    with pytest.raises(ValueError, match="repeater"):
        RepeaterFailure(0, 1.0)
    with pytest.raises(ValueError, match="does not exist"):
        MeshNetwork(dense_campus(mdts=2, repeaters=1), steady_feed(), failures=(RepeaterFailure(5, 1.0),))


@pytest.mark.parametrize(
    ("kit", "with_reports", "deltas"),
    [("MMSMT-C02", False, False), ("MMSMT-D02", True, False), ("MMSMT-E02", True, True)],
)
def test_kit_temperature_options(kit: str, with_reports: bool, deltas: bool) -> None:
    # manual §2.4: C02 TOU only; D02 adds temperature; E02 also reports every 1 % move at once. With
    # hourly (batched) reports a closet's temperature moves by 1.25 °C (1 % of -40…+85 °C) between two.
    config = NetworkConfig(report_period_s=3600)
    net = MeshNetwork(dense_campus(mdts=4, repeaters=1), steady_feed(), seed=4, kit=kit, config=config)
    net.run(24 * HOUR, drain_s=0.0)
    readings = [e for e in net.dcap.events if type(e.event).__name__ == "TemperatureReading"]
    mdts = [net.devices[i].mdt for i in net.mdt_indices]
    if not with_reports:
        assert readings == []
        return
    assert all(15.0 < e.event.temperature_c < 27.0 for e in readings)
    moves = sum(m.stats.temperature_events for m in mdts if m is not None)
    assert (moves > 0) is deltas
    assert all(m is not None and not m.urgent() for m in mdts)  # every move sent and acknowledged
    assert len(readings) >= 4 * 22 + moves  # one with each hourly report, and each move


def test_cit_reports_battery_of_mdts() -> None:
    net = MeshNetwork(dense_campus(mdts=3, repeaters=1), steady_feed(), seed=4)
    net.run(6 * HOUR, drain_s=0.0)
    rows = [r for r in cit_report(net, duration_s=6 * HOUR).devices if r.kind == "mdt"]
    assert rows
    for r in rows:
        # on the meter's +12 VDC the cell only self-discharges; alone it would last years, not forever
        assert r.battery_left is not None
        assert 0.999 < r.battery_left <= 1.0
        assert r.battery_life_on_battery_days is not None
        assert 365.0 < r.battery_life_on_battery_days < 100 * 365.0


def test_dcap_replay_window_slides_over_thousands_of_frames() -> None:
    # 10,000 frames in order (more than twice the window of 4096): each accepted once; a replay inside
    # the window and one below it are refused
    from meshmeter.amr.dcap import REPLAY_WINDOW, Dcap
    from meshmeter.amr.frames import DeviceKind as FrameDeviceKind
    from meshmeter.amr.frames import IntervalReportEncoder

    mdt, dcap_eui, key = eui64_for(DeviceKind.MDT, 0), eui64_for(DeviceKind.DCAP, 0), bytes(range(16))
    dcap = Dcap(dcap_eui)
    dcap.commission(mdt, key, FrameDeviceKind.MDT)
    encoder = IntervalReportEncoder(mdt, dcap_eui, key)
    t0 = 1_767_225_600
    frames = [
        encoder.encode((IntervalRecord(k, t0 + 900 * (k + 1), 3 * k),), k & 0xFF, k + 1)
        for k in range(10_000)
    ]
    held = frames[9_000:9_010]  # held by a repeater: they arrive after newer ones, and count once
    assert all(dcap.receive(f, 0.0) is not None for f in frames[:9_000] + frames[9_010:])
    assert dcap.acknowledged_up_to(mdt) == 8_999
    assert all(dcap.receive(f, 0.0) is not None for f in held)
    assert all(dcap.receive(f, 0.0) is None for f in held)
    assert dcap.rejected[RejectReason.REPLAY] == 10
    assert dcap.acknowledged_up_to(mdt) == 9_999
    assert dcap.receive(frames[-2], 0.0) is None  # inside the window: seen
    assert dcap.receive(frames[10_000 - REPLAY_WINDOW - 10], 0.0) is None  # below the window
    assert dcap.rejected[RejectReason.REPLAY] == 12
    assert len(dcap.deliveries) == 10_000


@pytest.mark.parametrize("enabled", [True, False])
def test_run_leaves_the_garbage_collector_alone(enabled: bool) -> None:
    # the library does not switch the process's collector (the benchmark pauses it around its own call)
    import gc

    seen: list[bool] = []
    feed = steady_feed()

    def watching_feed(number: int, t0_net: float, t1_net: float):
        seen.append(gc.isenabled())
        return feed(number, t0_net, t1_net)

    net = MeshNetwork(dense_campus(mdts=3, repeaters=1), watching_feed, seed=4)
    was = gc.isenabled()
    try:
        if enabled:
            gc.enable()
        else:
            gc.disable()
        net.run(HOUR, drain_s=0.0)
        assert gc.isenabled() is enabled
        assert seen
        assert all(s is enabled for s in seen)  # as the caller left it, during the run too
    finally:
        if was:
            gc.enable()
        else:
            gc.disable()


def _observed(net: MeshNetwork) -> dict[str, object]:
    """Everything a run leaves that the route cache could change: what the DCAP holds and counted, every
    device's counters, parent, statistics (airtime included), LED timeline and backlog, and the random
    generator's next draw."""
    devices = []
    for d in net.devices:
        row: tuple[object, ...] = (
            d.counter,
            d.sequence,
            d.up,
            d.joined,
            d.parent,
            dataclasses.astuple(d.stats),
            tuple(d.led.patterns),
            tuple(d.led.states),
        )
        if d.mdt is not None:
            row += (d.mdt.next_sequence, d.mdt.backlog, d.mdt.stats)
        if d.repeater is not None:
            row += (d.repeater.frames,)
        devices.append(row)
    dcap = net.dcap
    return {
        "deliveries": list(dcap.deliveries),
        "events": list(dcap.events),
        "rejected": dict(dcap.rejected),
        "accepted": dcap.accepted_frames,
        "duplicates": dcap.duplicate_records,
        "devices": devices,
        "hops": net.hops.tolist(),
        "events_processed": net.events_processed,
        "report": dataclasses.replace(cit_report(net, duration_s=24 * HOUR), wall_s=None),
        "next_draw": net.rng.random(),
    }


@pytest.mark.parametrize("seed", [3, 8, 21])
def test_route_cache_off_gives_the_same_run(seed: int) -> None:
    # docs/network.md, "Speed": the routes kept until one changes give the same hops, probabilities and
    # draws as walking every frame hop by hop and every acknowledgement's path again. 50 MDTs, a day, a
    # DCAP outage, a repeater failing for a few hours and another for good.
    layout = campus_layout(mdts=50, repeaters=4, seed=seed)
    runs = []
    for route_cache in (True, False):
        net = MeshNetwork(
            layout,
            steady_feed(),
            seed=seed,
            outages=(Outage(5 * HOUR, 3 * HOUR),),
            failures=(RepeaterFailure(1, 9 * HOUR, 4 * HOUR), RepeaterFailure(3, 15 * HOUR)),
            route_cache=route_cache,
        )
        net.schedule_tamper(2, 11 * HOUR, True)
        net.run(24 * HOUR, drain_s=HOUR)
        runs.append(_observed(net))
    cached, plain = runs
    assert cached["deliveries"], "the run delivered nothing: the comparison would prove nothing"
    assert sum(row[5][3] for row in cached["devices"]) > 0  # frames lost on some hop: retries were drawn
    for key in cached:
        assert cached[key] == plain[key], key


def test_route_cache_must_be_a_bool() -> None:
    with pytest.raises(ValueError, match="route_cache"):
        MeshNetwork(dense_campus(mdts=2, repeaters=1), steady_feed(), route_cache=1)  # type: ignore[arg-type]


def test_deliveries_read_as_a_sequence_of_delivery() -> None:
    # the DCAP keeps its deliveries as columns; reading them gives Delivery objects equal to those kept
    from meshmeter.amr.dcap import Deliveries, Delivery

    a, b = eui64_for(DeviceKind.MDT, 0), eui64_for(DeviceKind.MDT, 1)
    kept = [
        Delivery(a, IntervalRecord(0, 1_767_226_500, 5), 1_767_226_530.25),
        Delivery(b, IntervalRecord(7, 1_767_226_500, 2**32 - 1), 1_767_226_531.5),
        Delivery(a, IntervalRecord(1, 1_767_227_400, 9), 1_767_227_460.0),
    ]
    deliveries = Deliveries()
    assert len(deliveries) == 0
    assert list(deliveries) == []
    assert deliveries == []
    for d in kept:
        deliveries.append(d)
    assert len(deliveries) == 3
    assert list(deliveries) == kept
    assert deliveries == kept
    assert deliveries == tuple(kept)
    assert deliveries != kept[:2]
    assert deliveries != "abc"
    assert deliveries[0] == kept[0]
    assert deliveries[-1] == kept[-1]
    assert deliveries[1:] == kept[1:]
    assert deliveries[::-1] == kept[::-1]
    with pytest.raises(IndexError):
        deliveries[3]
    with pytest.raises(IndexError):
        deliveries[-4]
    with pytest.raises(ValueError, match="delivery"):
        deliveries.append((a, kept[0].record))  # type: ignore[arg-type]
    assert "3 records from 2 devices" in repr(deliveries)
