"""The wireless AMR mesh of manual §2.6 and §5, simulated on SimPy.

A site (:class:`~meshmeter.amr.topology.Layout`) of one DCAP, repeaters and MDTs; each MDT wired to a meter
twin's output "10". What happens, in order, as the manual says it should:

- **Formation** (§5.2). The DCAP is powered first and beacons. Repeaters are powered one after another, by
  default nearest first; a repeater joins only when it hears the backbone (the DCAP or a joined repeater),
  so one powered before a nearer one searches (slow flash), sleeps after 90 s, and tries again later. MDTs
  are turned on by their meter's first pulse and join the same way. Every device keeps an LED timeline
  (:class:`~meshmeter.amr.led.DeviceLed`). A join is an authenticated JOIN_REQUEST/JOIN_RESPONSE exchange
  with the DCAP through the chosen parent.
- **Routing** (:mod:`~meshmeter.amr.routing`). Path cost = link ETX + the parent's path cost, links above an
  RSSI floor, a parent kept unless another is better by the hysteresis. Routes are recomputed when the
  backbone changes: a repeater joins, reports its own power loss (its last gasp), or is found dead by a
  child whose frames to it fail every retry.
- **Data**. At every interval end each MDT logs its cumulative pulse count and, when its report is due,
  sends its oldest unacknowledged records in INTERVAL_REPORT frames secured end to end with its own key.
  Every hop is acknowledged and retried (``max_frame_retries``); a repeater that cannot forward keeps the
  frame (store and forward) and tries again. The DCAP authenticates, refuses replays and keeps each record
  once, and acknowledges to the MDT the highest sequence up to which it holds everything, so lost frames and
  lost acknowledgements cost nothing: the next report carries what is missing.

Time in the simulation is seconds since the start of the run; network time is ``start_epoch_s`` plus that.
Deterministic under a seed. Frames between hops are not simulated as separate SimPy events: a frame's
journey over its path is computed hop by hop (attempts, acknowledgements, back-off, the state of every node
at the time the frame reaches it) within the event that sends it, which keeps a 1000-MDT month cheap;
what else is done once rather than per report, and why the results are the same, is in ``docs/network.md``
("Speed"). The choices where the manual is silent are in ``docs/network.md``.

This module runs the SimPy processes and carries frames over their paths; the concepts it drives are in
modules of their own: each device as the mesh sees it (:mod:`~meshmeter.amr.node`), the repeater's store and
forward (:mod:`~meshmeter.amr.repeater`), the devices' keys (:mod:`~meshmeter.amr.keys`), the links and one
hop over them (:mod:`~meshmeter.amr.links`), the routes (:mod:`~meshmeter.amr.paths`) and formation
(:mod:`~meshmeter.amr.formation`).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import simpy
from numpy.typing import NDArray

from meshmeter.amr.battery import Battery, DrawState
from meshmeter.amr.dcap import Dcap, RejectReason
from meshmeter.amr.formation import join, power_up_order
from meshmeter.amr.frames import IntervalReportEncoder, PowerLoss
from meshmeter.amr.keys import commission, device_key, secured_frame
from meshmeter.amr.led import DeviceLed, PowerState
from meshmeter.amr.links import SIZE_BUCKETS, Links, retries
from meshmeter.amr.mdt import Mdt
from meshmeter.amr.node import DeviceStats, Node
from meshmeter.amr.paths import MAX_HOPS, Routes
from meshmeter.amr.radio import DEFAULT_CONFIG, RadioConfig, lqi
from meshmeter.amr.records import INTERVAL_S
from meshmeter.amr.repeater import Repeater
from meshmeter.amr.topology import DeviceKind, Layout

__all__ = [
    "DeviceStats",
    "MeshNetwork",
    "NetworkConfig",
    "Outage",
    "PulseFeed",
    "RepeaterFailure",
]

FloatArray = NDArray[np.float64]
_LARGEST = SIZE_BUCKETS[-1]

PulseFeed = Callable[[int, float, float], Any]
"""``feed(mdt_number, t0_s, t1_s)`` → the meter twin's output-"10" PulseEdges between two network times
(or None): how an MDT's pulse input is fed, a day at a time."""

TemperatureModel = Callable[[int, float], float]
"""``model(mdt_number, network_time_s)`` → the temperature at an MDT, for D02 and E02 kits. [°C]"""


def indoor_temperature(number: int, time_s: float) -> float:
    """
    A utility closet's temperature: 21 °C, a daily swing of ±2.5 °C peaking mid-afternoon, a three-hour
    heating or cooling cycle of ±0.8 °C, and each closet ±2 °C off the others. Deterministic.

    Parameters
    ----------
    number : int
        MDT number. [1]
    time_s : float
        Network time. [s]

    Returns
    -------
    temperature_c : float
        [°C]
    """
    offset = 2.0 * math.sin(1.7 * number + 0.3)
    phase = 2.0 * math.pi * ((number * 0.618033988749895) % 1.0)
    day = 2.5 * math.sin(2.0 * math.pi * (time_s / 86_400.0 - 0.375))
    cycle = 0.8 * math.sin(2.0 * math.pi * time_s / 10_800.0 + phase)
    return 21.0 + offset + day + cycle


@dataclass(frozen=True)
class NetworkConfig:
    """
    Parameters of the mesh where the manual is silent (IEEE 802.15.4 / Wi-SUN / RPL practice).

    Parameters
    ----------
    report_period_s : int
        MDT report period: every interval (900, TOU) or batched (a multiple of 900). [s]
    beacon_interval_s : float
        Beacon period of the DCAP and joined repeaters (a searching device hears one within it). [s]
    join_handshake_s : float
        Time a join exchange takes once a parent is chosen. [s]
    max_frame_retries : int
        Retransmissions per hop after the first attempt (802.15.4 macMaxFrameRetries = 3). [1]
    backoff_max_s : float
        Largest random back-off before a retransmission. [s]
    turnaround_s : float
        Receive-to-transmit turnaround before an acknowledgement. [s]
    rssi_floor_dbm : float
        Links weaker than this are not used for routing. [dBm]
    hysteresis : float
        Share by which a new path must be cheaper before a device changes parent. [1]
    store_retry_s : float
        Period at which a repeater retries the frames it holds. [s]
    store_capacity : int
        Frames a repeater holds at most (the oldest dropped beyond). [1]
    report_spread_s : float
        MDT reports are spread over this time after the interval end (each MDT its own offset). [s]
    max_records_per_frame : int
        Records in one INTERVAL_REPORT. [1]
    max_frames_per_report : int
        Frames an MDT sends at one report when its backlog is long (draining after an outage). [1]
    repeater_power_spacing_s : float
        Time between powering two repeaters at formation. [s]
    mdt_power_delay_s : float
        When the MDTs' meters start pulsing after the last repeater is powered (their first pulse turns
        them on, manual §5.2). [s]
    max_mdts : int
        MDTs one DCAP serves. [1]
    route_refresh_s : float
        Period of route recomputation (suspect parents forgiven). [s]
    pan_id : int
        Network identifier in the beacons.
    """

    report_period_s: int = 900
    beacon_interval_s: float = 15.0
    join_handshake_s: float = 2.0
    max_frame_retries: int = 3
    backoff_max_s: float = 0.05
    turnaround_s: float = 0.001
    rssi_floor_dbm: float = -100.0
    hysteresis: float = 0.25
    store_retry_s: float = 60.0
    store_capacity: int = 20_000
    report_spread_s: float = 120.0
    max_records_per_frame: int = 24
    max_frames_per_report: int = 4
    repeater_power_spacing_s: float = 60.0
    mdt_power_delay_s: float = 300.0
    max_mdts: int = 1000
    pan_id: int = 0x4D4D
    route_refresh_s: float = 600.0

    def __post_init__(self) -> None:
        if self.report_period_s <= 0 or self.report_period_s % INTERVAL_S:
            raise ValueError(
                f"report_period_s must be a positive multiple of 900, got {self.report_period_s!r}"
            )
        for name in (
            "beacon_interval_s",
            "join_handshake_s",
            "store_retry_s",
            "repeater_power_spacing_s",
            "route_refresh_s",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value!r}")
        for name in ("backoff_max_s", "turnaround_s", "report_spread_s", "mdt_power_delay_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
        if self.report_spread_s >= INTERVAL_S:
            raise ValueError(f"report_spread_s must be below {INTERVAL_S}, got {self.report_spread_s!r}")
        for name in ("max_frame_retries", "store_capacity", "max_records_per_frame", "max_frames_per_report"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < (0 if name == "max_frame_retries" else 1)
            ):
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not 0 <= self.hysteresis < 1:
            raise ValueError(f"hysteresis must be in [0, 1), got {self.hysteresis!r}")


@dataclass(frozen=True)
class Outage:
    """The DCAP unreachable (off, or its uplink gone) from ``start_s`` for ``duration_s`` (run time). [s]"""

    start_s: float
    duration_s: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start_s) and self.start_s >= 0):
            raise ValueError(f"start_s must be finite and >= 0, got {self.start_s!r}")
        if not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise ValueError(f"duration_s must be finite and > 0, got {self.duration_s!r}")


@dataclass(frozen=True)
class RepeaterFailure:
    """
    Repeater number ``repeater`` (1-based) loses power at ``at_s`` (run time), sending its last gasp, and
    comes back after ``down_s`` (None: never). [s]
    """

    repeater: int
    at_s: float
    down_s: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.repeater, bool) or not isinstance(self.repeater, int) or self.repeater < 1:
            raise ValueError(f"repeater must be an int >= 1, got {self.repeater!r}")
        if not (math.isfinite(self.at_s) and self.at_s >= 0):
            raise ValueError(f"at_s must be finite and >= 0, got {self.at_s!r}")
        if self.down_s is not None and not (math.isfinite(self.down_s) and self.down_s > 0):
            raise ValueError(f"down_s must be finite and > 0 or None, got {self.down_s!r}")


class MeshNetwork:
    """
    A simulated AMR mesh: DCAP, repeaters and MDTs on a layout, run on SimPy.

    The devices' links and one hop over them are :mod:`~meshmeter.amr.links`, their routes
    :mod:`~meshmeter.amr.paths`, formation and joining :mod:`~meshmeter.amr.formation`, their keys
    :mod:`~meshmeter.amr.keys`; this class runs the processes (formation, feeding the MDTs, reporting,
    store and forward, route refresh, failures, tamper) and carries each frame over its path.

    Parameters
    ----------
    layout : Layout
        Devices and what lies between them.
    feed : PulseFeed
        The MDTs' pulse input: ``feed(mdt_number, t0, t1)`` returns the meter twin's output-"10" edges
        between two network times (``mdt_number`` counts the MDTs from 0).
    config : NetworkConfig
        Mesh parameters.
    radio : RadioConfig
        Radio parameters.
    seed : int
        Seed of the radio shadowing and of every random draw.
    start_epoch_s : int
        Network time at the start of the run (a multiple of 900). [s]
    kit : str
        The MDTs' kit (MMSMT-C02, -D02, -E02).
    power_order : {"near-first", "far-first"}
        Order in which the repeaters are powered (manual §5.2: nearest the DCAP first).
    outages : sequence of Outage
        DCAP outages.
    failures : sequence of RepeaterFailure
        Repeater power losses.
    temperature : TemperatureModel, optional
        The temperature at each MDT, read at every interval end by D02 and E02 kits (manual §2.4);
        default :func:`indoor_temperature`.
    route_cache : bool
        Keep each device's way up and down until a route changes (``docs/network.md``, "Speed"; default).
        False carries every frame hop by hop and walks every acknowledgement's path again: the plain path,
        with the same draws and so the same run (a test compares both).
    """

    def __init__(
        self,
        layout: Layout,
        feed: PulseFeed,
        *,
        config: NetworkConfig | None = None,
        radio: RadioConfig = DEFAULT_CONFIG,
        seed: int = 0,
        start_epoch_s: int = 1_767_225_600,
        kit: str = "MMSMT-C02",
        power_order: Literal["near-first", "far-first"] = "near-first",
        outages: Sequence[Outage] = (),
        failures: Sequence[RepeaterFailure] = (),
        temperature: TemperatureModel | None = None,
        route_cache: bool = True,
    ) -> None:
        self.config = config if config is not None else NetworkConfig()
        self.radio = radio
        self.layout = layout
        self.seed = int(seed)
        if start_epoch_s % INTERVAL_S:
            raise ValueError(f"start_epoch_s must be a multiple of {INTERVAL_S}, got {start_epoch_s!r}")
        self.epoch_s = float(start_epoch_s)
        if power_order not in ("near-first", "far-first"):
            raise ValueError(f"power_order must be 'near-first' or 'far-first', got {power_order!r}")
        if not isinstance(route_cache, bool):
            raise ValueError(f"route_cache must be a bool, got {route_cache!r}")
        self.power_order = power_order
        self.outages = tuple(outages)
        self._dcap_always_up = not self.outages
        repeaters = layout.indices(DeviceKind.REPEATER)
        for f in failures:
            if f.repeater > repeaters.size:
                raise ValueError(f"repeater {f.repeater} does not exist: the site has {repeaters.size}")
        self.failures = tuple(failures)
        self.feed = feed
        self.temperature = temperature if temperature is not None else indoor_temperature
        self.rng = random.Random(self.seed)
        self.env = simpy.Environment()
        self.backbone_changed = self.env.event()
        self.events_processed = 0
        self.route_cache = route_cache

        self.links = Links(
            layout,
            radio,
            self.seed,
            rssi_floor_dbm=self.config.rssi_floor_dbm,
            turnaround_s=self.config.turnaround_s,
        )
        self._sizes = self.links.sizes
        self._report_records = self.config.max_records_per_frame * self.config.max_frames_per_report

        self.dcap = Dcap(layout.euis[0], max_mdts=self.config.max_mdts)
        self.devices: list[Node] = []
        mdt_number = 0
        self.mdt_indices: list[int] = []
        for i, (kind, eui) in enumerate(zip(layout.kinds, layout.euis, strict=True)):
            key = device_key(eui, self.seed)
            led = DeviceLed(0.0 + self.epoch_s)
            device = Node(index=i, kind=kind, eui=eui, key=key, led=led)
            if kind is DeviceKind.MDT:
                device.mdt = Mdt(
                    kit, eui, report_period_s=self.config.report_period_s, led=led, start_s=self.epoch_s
                )
                device.encoder = IntervalReportEncoder(eui, layout.euis[0], key)
                device.offset_s = self.config.report_spread_s * ((mdt_number * 0.618033988749895) % 1.0)
                device.up = True
                self.mdt_indices.append(i)
                mdt_number += 1
            elif kind is DeviceKind.REPEATER:
                device.repeater = Repeater(eui, led, capacity=self.config.store_capacity)
                device.up = False
            else:
                device.joined = True
            commission(self.dcap, device)
            self.devices.append(device)
        self.routes = Routes(
            self.devices,
            self.links,
            hysteresis=self.config.hysteresis,
            max_frame_retries=self.config.max_frame_retries,
            cache=route_cache,
        )
        self.due: dict[tuple[bytes, int], float] = {}
        self.rejected_injected: Counter[RejectReason] = Counter()
        self._until_s = 0.0
        self._stopped = False
        self._holding: set[int] = set()  # repeaters holding frames

    # ----------------------------------------------------------------------------------------------
    # the links and routes, as the CIT and the tests read them
    # ----------------------------------------------------------------------------------------------

    @property
    def rssi(self) -> FloatArray:
        """RSSI of each link a → b. [dBm]"""
        return self.links.rssi

    @property
    def etx(self) -> FloatArray:
        """Expected transmissions of each link. [1]"""
        return self.links.etx

    @property
    def usable(self) -> NDArray[np.bool_]:
        """Links above the RSSI floor both ways."""
        return self.links.usable

    @property
    def cost(self) -> FloatArray:
        """Path cost of each device to the DCAP. [1]"""
        return self.routes.cost

    @property
    def hops(self) -> NDArray[np.int64]:
        """Hops of each device to the DCAP. [1]"""
        return self.routes.hops

    # ----------------------------------------------------------------------------------------------
    # node state
    # ----------------------------------------------------------------------------------------------

    def dcap_up(self, t: float) -> bool:
        """Whether the DCAP is reachable at run time ``t``."""
        if not self.outages:
            return True
        return not any(o.start_s <= t < o.start_s + o.duration_s for o in self.outages)

    @property
    def now_net(self) -> float:
        """Network time now. [s]"""
        return self.epoch_s + float(self.env.now)

    # ----------------------------------------------------------------------------------------------
    # one hop, one path
    # ----------------------------------------------------------------------------------------------

    def _hop(self, a: int, b: int, t: float, size: int) -> tuple[bool, float]:
        """Send one frame a → b at run time t with acknowledgements and retries: (delivered, time taken).

        Each attempt draws the frame's success, then (if it got through) its acknowledgement's, each with
        the link's packet success probability for that frame size (docs/radio.md).
        """
        bucket, air, attempt_s = self._sizes[size if size <= _LARGEST else -1]
        p_data, p_ack = self.links.link(a, b, bucket)
        stats = self.devices[a].stats
        stats.frames_sent += 1
        stats.attempts += 1
        stats.airtime_s += air
        alive = self.devices[b].up if b else (self._dcap_always_up or self.dcap_up(t))
        rand = self.rng.random
        if alive and rand() < p_data and rand() < p_ack:  # the first attempt
            return True, attempt_s
        return self._retries(stats, alive, p_data, p_ack, air, attempt_s)

    def _retries(
        self, stats: DeviceStats, alive: bool, p_data: float, p_ack: float, air: float, attempt_s: float
    ) -> tuple[bool, float]:
        """The retries of a hop whose first attempt failed (:func:`~meshmeter.amr.links.retries`)."""
        return retries(
            self.rng,
            stats,
            alive,
            p_data,
            p_ack,
            air,
            attempt_s,
            max_frame_retries=self.config.max_frame_retries,
            backoff_max_s=self.config.backoff_max_s,
        )

    def forward(self, data: bytes, origin: int, start: int, t: float) -> float | None:
        """
        Carry a frame from device ``start`` towards the DCAP from run time ``t``; return the arrival run
        time, or None (the frame stopped: kept by a repeater, or lost at an MDT).

        The plain path is the walk at the end: each hop is :meth:`_hop`; a hop whose every retry fails is
        routed around (:meth:`_around`). With the route cache on, the hops are first walked along the route
        kept by :meth:`Routes.uplink <meshmeter.amr.paths.Routes.uplink>`, each hop's first attempt
        written out here (the same draws in the same order, ``docs/network.md``, "Speed"); a hop whose
        every retry fails is routed around and the frame goes on hop by hop from there.
        """
        cur = start
        size = len(data)
        bucket, air, attempt_s = self._sizes[size if size <= _LARGEST else -1]
        devices = self.devices
        guard = 0
        route = None
        if self.route_cache:
            kept = devices[start].uplink  # the route kept for this bucket, while no route changed
            routes = self.routes
            if kept is not None and kept[0] == routes.version and kept[1] == bucket:
                route = kept[2]
            else:
                route = routes.uplink(start, bucket)
        if route is not None:
            rand = self.rng.random
            for cur, parent, p_data, p_ack, stats, parent_device in route:
                guard += 1
                stats.frames_sent += 1
                stats.attempts += 1
                stats.airtime_s += air
                alive = parent_device.up if parent else (self._dcap_always_up or self.dcap_up(t))
                if alive and rand() < p_data and rand() < p_ack:
                    t += attempt_s
                    continue
                ok, dt = self._retries(stats, alive, p_data, p_ack, air, attempt_s)
                t += dt
                if ok:
                    continue
                arrival = self._around(data, origin, devices[cur], parent, t, size)
                if arrival is None:
                    return None
                t = arrival
                cur = devices[cur].parent
                break
            else:
                return t
        while cur != 0:  # the plain path
            guard += 1
            d = devices[cur]
            parent = d.parent
            if parent < 0 or guard > MAX_HOPS:
                if d.repeater is not None:
                    self._keep(d, data, origin, t)
                return None
            ok, dt = self._hop(cur, parent, t, size)
            t += dt
            if not ok:
                arrival = self._around(data, origin, d, parent, t, size)
                if arrival is None:
                    return None
                t = arrival
                parent = d.parent
            cur = parent
        return t

    def _around(self, data: bytes, origin: int, d: Node, dead: int, t: float, size: int) -> float | None:
        """Every retry of ``d`` to its parent ``dead`` failed at run time ``t``: route around the parent and
        try the new one (one hop, retried); the time after it, or None when the frame stops at ``d`` (kept
        there if ``d`` is a repeater)."""
        self.routes.reselect(d, dead)
        ok = False
        if d.parent >= 0 and d.parent != dead:
            ok, dt = self._hop(d.index, d.parent, t, size)
            t += dt
        if not ok:
            if d.repeater is not None:
                self._keep(d, data, origin, t)
            return None
        return t

    def _keep(self, d: Node, data: bytes, origin: int, t: float) -> None:
        """A repeater keeps a frame it cannot forward (store and forward)."""
        repeater = d.repeater
        assert repeater is not None
        repeater.keep(data, origin, t)
        self._holding.add(d.index)
        d.stats.stored_max = repeater.stored_max
        d.stats.stored_dropped = repeater.dropped

    def _arrive(self, data: bytes, origin: int, t: float) -> None:
        """The DCAP receives a frame at run time t; an accepted report is acknowledged back."""
        up_to = self.dcap.receive_report(data, self.epoch_s + t)  # -1: refused, or not a report
        if up_to < 0:
            return
        mdt = self.devices[origin].mdt
        if mdt is not None and self.acknowledgement_arrives(origin, t):
            mdt.acknowledge(min(up_to, mdt.next_sequence - 1))

    def acknowledgement_arrives(self, origin: int, t: float) -> bool:
        """
        Whether a frame the DCAP sends at run time ``t`` (an acknowledgement, a join response) gets down
        the path to ``origin``, every hop with retries: one draw with the path's success probability,
        none when the DCAP is unreachable or a repeater on the path has no power (asked at ``t``).
        """
        routes = self.routes
        kept = self.devices[origin].downlink  # the path kept, while no route changed
        if kept is not None and kept[0] == routes.version:
            _, repeaters, total = kept
        else:
            repeaters, total = routes.downlink(origin)
        if not total or not (self._dcap_always_up or self.dcap_up(t)):
            return False
        for repeater in repeaters:
            if not repeater.up:
                return False
        return self.rng.random() < total

    # ----------------------------------------------------------------------------------------------
    # processes
    # ----------------------------------------------------------------------------------------------

    def backbone_event(self) -> None:
        """The backbone changed (a repeater joined or lost power): routes again, and searching devices
        hear of it."""
        self.routes.recompute()
        old = self.backbone_changed
        self.backbone_changed = self.env.event()
        old.succeed()

    def _formation(self) -> Generator[simpy.Event, Any, None]:
        """Power the repeaters one after another (manual §5.2), then the meters start pulsing."""
        order = power_up_order(self.layout, self.power_order)
        for k, i in enumerate(order):
            self.env.process(join(self, int(i), k * self.config.repeater_power_spacing_s))
        mdt_start = len(order) * self.config.repeater_power_spacing_s + self.config.mdt_power_delay_s
        self.mdt_start_s = mdt_start
        yield self.env.timeout(0)

    def _mdt_power(self, number: int, i: int, t_first: float) -> Generator[simpy.Event, Any, None]:
        """An MDT is turned on by its meter's first pulse (manual §5.2), then joins."""
        yield self.env.timeout(t_first)
        d = self.devices[i]
        d.led.first_pulse(self.now_net)
        yield from join(self, i, float(self.env.now))

    def _feeding(self) -> Generator[simpy.Event, Any, None]:
        """Feed each MDT's pulse input from its meter twin a day at a time."""
        day = 86_400.0
        t = 0.0
        while t < self._until_s:
            t1 = min(t + day, self._until_s)
            for number, i in enumerate(self.mdt_indices):
                mdt = self.devices[i].mdt
                assert mdt is not None
                edges = self.feed(number, self.epoch_s + t, self.epoch_s + t1)
                if edges is not None and len(edges):
                    mdt.pulses_from_edges(edges, self.epoch_s)
            t = t1
            if t < self._until_s:
                yield self.env.timeout(max(0.0, t - self.env.now - 1.0))

    def _reporting(self) -> Generator[simpy.Event, Any, None]:
        """At every interval end, each MDT logs its interval and, when due, reports."""
        period = self.config.report_period_s
        fleet: list[tuple[int, int, Node, Mdt, bool, float]] = []
        for number, i in enumerate(self.mdt_indices):
            d = self.devices[i]
            assert d.mdt is not None
            fleet.append((number, i, d, d.mdt, d.mdt.kit.temperature, d.offset_s))
        report = self._report
        k = 1
        while True:
            t = k * INTERVAL_S
            if t > self._until_s + self._drain_s:
                return
            yield self.env.timeout(t - self.env.now)
            now_net = self.epoch_s + t
            due = not now_net % period
            self.events_processed += len(fleet)  # one interval logged by each MDT
            for number, i, d, mdt, temperature, offset_s in fleet:
                # D02/E02: the sensor read at every interval end; an E02 sends a 1 % move at once
                if (
                    temperature
                    and mdt.set_temperature(now_net, self.temperature(number, now_net)) is not None
                ):
                    self._send_urgent(i, t)
                if due and d.joined and d.parent >= 0:
                    report(d, mdt, now_net, t + offset_s)  # logs the interval, then reports
                else:
                    mdt.close_intervals(now_net)
            k += 1

    def _report(self, d: Node, mdt: Mdt, now_net: float, t: float) -> None:
        """An MDT's scheduled report made at network time ``now_net`` and sent at run time ``t``: its
        oldest unacknowledged records, up to ``max_records_per_frame`` a frame, one frame after another
        while they arrive."""
        records, reading = mdt.report_payload(now_net, self._report_records)
        if not records:
            return
        per = self.config.max_records_per_frame
        # nearly always one frame; a backlog drains in frames of ``per`` records
        frames = (
            (records,) if len(records) <= per else [records[k : k + per] for k in range(0, len(records), per)]
        )
        i = d.index
        encoder = d.encoder
        assert encoder is not None
        temperature = reading  # D02/E02: with the report's first frame
        for batch in frames:
            d.counter += 1
            d.sequence = (d.sequence + 1) & 0xFF
            data = encoder.encode(batch, d.sequence, d.counter, temperature)
            arrival = self.forward(data, i, i, t)
            if arrival is None:
                break
            self._arrive(data, i, arrival)
            t = arrival
            temperature = None

    def _route_refresh(self) -> Generator[simpy.Event, Any, None]:
        """Routes are recomputed periodically from the link estimates; suspect parents are forgiven."""
        while True:
            yield self.env.timeout(self.config.route_refresh_s)
            suspicious = [d for d in self.devices if d.suspect]
            if not suspicious:  # links are static between refreshes: nothing to learn
                continue
            for d in suspicious:
                d.suspect.clear()
            self.routes.recompute()

    def _store_and_forward(self) -> Generator[simpy.Event, Any, None]:
        """Repeaters retry the frames they hold, oldest first, while their path works."""
        while True:
            yield self.env.timeout(self.config.store_retry_s)
            now = float(self.env.now)
            for index in sorted(self._holding):
                d = self.devices[index]
                repeater = d.repeater
                assert repeater is not None
                if not len(repeater):
                    self._holding.discard(index)
                    continue
                if not d.up:
                    continue
                while len(repeater):
                    data, origin, _ = repeater.take_oldest()
                    arrival = self.forward(data, origin, d.index, now)
                    if arrival is None:
                        # forward kept it last in the store: put it back first, to keep the order
                        repeater.put_back_oldest(data)
                        break
                    self._arrive(data, origin, arrival)

    def _failure(self, f: RepeaterFailure, i: int) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(f.at_s)
        d = self.devices[i]
        if d.up:
            # the last gasp: the repeater reports its own power loss before it goes
            data = secured_frame(
                d, PowerLoss(time_s=int(self.now_net), power_restored=False), self.dcap.eui64
            )
            arrival = self.forward(data, i, i, float(self.env.now))
            if arrival is not None:
                self._arrive(data, i, arrival)
            d.up = False
            d.joined = False
            self.routes.set_parent(d, -1)
            d.led.power_lost(self.now_net)
            self.backbone_event()
        if f.down_s is None:
            return
        yield self.env.timeout(f.down_s)
        self.env.process(join(self, i, float(self.env.now)))

    def _tamper(self, number: int, at_s: float, cover_open: bool) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(at_s)
        i = self.mdt_indices[number]
        d = self.devices[i]
        mdt = d.mdt
        assert mdt is not None
        mdt.cover_changed(self.now_net, cover_open)
        self._send_urgent(i, float(self.env.now))  # at once, not at the next report

    def _send_urgent(self, i: int, t: float) -> None:
        """Send an MDT's urgent events (tamper, E02 temperature moves), oldest first, while they pass."""
        d = self.devices[i]
        mdt = d.mdt
        assert mdt is not None
        for event in mdt.urgent():
            if not d.joined or d.parent < 0:
                return
            data = secured_frame(d, event, self.dcap.eui64)
            arrival = self.forward(data, i, i, t)
            if arrival is None:
                return
            self._arrive(data, i, arrival)
            mdt.acknowledge_urgent(1)
            t = arrival

    # ----------------------------------------------------------------------------------------------
    # the run
    # ----------------------------------------------------------------------------------------------

    def run(
        self, duration_s: float, *, drain_s: float = 3600.0, first_pulse_s: Sequence[float] | None = None
    ) -> None:
        """
        Run the mesh for ``duration_s`` of intervals, then ``drain_s`` more to let late data arrive.

        The run leaves the process's garbage collector as it finds it: a caller that wants it paused
        (the benchmark: the run makes no reference cycles, only objects that reference counting frees
        and the deliveries it keeps) pauses it around the call.

        Parameters
        ----------
        duration_s : float
            Run time whose intervals count. [s]
        drain_s : float
            Extra run time in which reports continue (records due after ``duration_s`` are not counted). [s]
        first_pulse_s : sequence of float, optional
            Run time of each MDT's first pulse; default: all soon after formation, a few seconds apart.
        """
        if not (math.isfinite(duration_s) and duration_s > 0):
            raise ValueError(f"duration_s must be finite and > 0, got {duration_s!r}")
        if not (math.isfinite(drain_s) and drain_s >= 0):
            raise ValueError(f"drain_s must be finite and >= 0, got {drain_s!r}")
        self._until_s = float(duration_s)
        self._drain_s = float(drain_s)
        env = self.env
        env.process(self._formation())
        env.run(until=0.0001)
        mdt_start = self.mdt_start_s
        for number, i in enumerate(self.mdt_indices):
            t_first = mdt_start + 3.0 * number if first_pulse_s is None else float(first_pulse_s[number])
            env.process(self._mdt_power(number, i, t_first))
        for f in self.failures:
            env.process(self._failure(f, int(self.layout.indices(DeviceKind.REPEATER)[f.repeater - 1])))
        env.process(self._feeding())
        env.process(self._reporting())
        env.process(self._store_and_forward())
        env.process(self._route_refresh())
        env.run(until=self._until_s + self._drain_s)
        for d in self.devices:
            d.led.advance(self.epoch_s + float(env.now))

    def schedule_tamper(self, number: int, at_s: float, cover_open: bool) -> None:
        """An MDT's cover removed (``cover_open``) or replaced at run time ``at_s`` (before :meth:`run`)."""
        if not 0 <= number < len(self.mdt_indices):
            raise ValueError(f"number must name an MDT 0..{len(self.mdt_indices) - 1}, got {number!r}")
        self.env.process(self._tamper(number, at_s, cover_open))

    # ----------------------------------------------------------------------------------------------
    # what the run produced
    # ----------------------------------------------------------------------------------------------

    def battery(self, i: int, *, external_power: bool = True) -> Battery:
        """
        A device's battery after the run, from its time in each state and its airtime.

        An MDT runs on the meter's +12 VDC (manual §5.1) and its cell only backs it up
        (``external_power=True``); with ``external_power=False`` the same activity is drawn from the cell,
        which gives what the MDT would use on battery alone.
        """
        d = self.devices[i]
        until = self.epoch_s + float(self.env.now)
        battery = Battery()
        in_state = d.led.time_in_state(until)
        mapping = {
            PowerState.OFF: DrawState.OFF,
            PowerState.SEARCHING: DrawState.RX,
            PowerState.JOINING: DrawState.RX,
            PowerState.CONNECTED: DrawState.SLEEP,
            PowerState.LIGHT_SLEEP: DrawState.LIGHT_SLEEP,
        }
        external = external_power and d.kind is DeviceKind.MDT
        for state, seconds in in_state.items():
            if seconds > 0:
                battery.spend(mapping[state], seconds, external_power=external)
        if d.stats.airtime_s:
            battery.spend(DrawState.TX, d.stats.airtime_s, external_power=external)
        return battery

    def rssi_to_parent(self, i: int) -> float | None:
        """RSSI of a device's link to its parent. [dBm]"""
        p = self.devices[i].parent
        return None if p < 0 else float(self.rssi[i, p])

    def lqi_to_parent(self, i: int) -> int | None:
        """Link quality of a device's link to its parent, 0–255. [1]"""
        p = self.devices[i].parent
        return None if p < 0 else int(lqi(self.rssi[i, p], self.radio))
