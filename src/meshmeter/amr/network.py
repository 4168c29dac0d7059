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
"""

from __future__ import annotations

import gc
import hashlib
import math
import random
from collections import Counter, deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import simpy
from numpy.typing import NDArray

from meshmeter.amr.battery import Battery, DrawState
from meshmeter.amr.dcap import Dcap, RejectReason
from meshmeter.amr.frames import DeviceKind as FrameDeviceKind
from meshmeter.amr.frames import (
    Frame,
    IntervalReportEncoder,
    JoinRequest,
    JoinStatus,
    PowerLoss,
    decode_frame,
    encode_frame,
)
from meshmeter.amr.led import DeviceLed, PowerState
from meshmeter.amr.mdt import Mdt
from meshmeter.amr.radio import (
    DEFAULT_CONFIG,
    RadioConfig,
    airtime_s,
    link_budget_matrix,
    lqi,
    packet_success_probability,
)
from meshmeter.amr.records import INTERVAL_S
from meshmeter.amr.routing import backbone_routes, choose_parents, etx_matrix
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


_SIZE_BUCKETS = (40, 64, 128, 256, 512, 1024, 2048)
"""Frame sizes for which link success probabilities are precomputed (the next bucket up is used). [octet]"""


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


@dataclass(slots=True)
class DeviceStats:
    """What the Commissioning and Installation Tool shows of one device (manual §5.2)."""

    frames_sent: int = 0
    """Frames this device originated or forwarded (first attempts). [1]"""
    attempts: int = 0
    """Transmissions, retries included. [1]"""
    retried: int = 0
    """Frames that needed more than one attempt. [1]"""
    lost: int = 0
    """Frames that failed every attempt on their next hop. [1]"""
    joined_s: float | None = None
    """Run time at which the device last joined. [s]"""
    first_join_s: float | None = None
    """Run time at which the device first joined. [s]"""
    join_attempts: int = 0
    parent_changes: int = 0
    stored_max: int = 0
    """Most frames a repeater held at once. [1]"""
    stored_dropped: int = 0
    airtime_s: float = 0.0
    """Time on air transmitting. [s]"""


_Hop = tuple[int, int, float, float, DeviceStats, "_Device"]
"""One hop of a kept route: sender, receiver, the frame's and its acknowledgement's success probability, the
sender's statistics, the receiving device."""


@dataclass(slots=True)
class _Device:
    index: int
    kind: DeviceKind
    eui: bytes
    key: bytes
    led: DeviceLed
    mdt: Mdt | None = None
    encoder: IntervalReportEncoder | None = None  # an MDT's INTERVAL_REPORT encoder
    counter: int = 0
    sequence: int = 0
    up: bool = True
    joined: bool = False
    parent: int = -1
    suspect: set[int] = field(default_factory=set)
    store: deque[tuple[bytes, int, float]] = field(default_factory=deque)  # (frame, origin, first sent)
    stats: DeviceStats = field(default_factory=DeviceStats)
    up_since_s: float = 0.0
    offset_s: float = 0.0
    # routes kept until one changes (MeshNetwork._routes_version): the way up for one frame size bucket,
    # as (version, bucket, hops or None), and the way down, as (version, the repeaters on it, success
    # probability)
    uplink: tuple[int, int, tuple[_Hop, ...] | None] | None = None
    downlink: tuple[int, tuple[_Device, ...], float] | None = None


class MeshNetwork:
    """
    A simulated AMR mesh: DCAP, repeaters and MDTs on a layout, run on SimPy.

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

        n = layout.n
        is_mdt = np.array([k is DeviceKind.MDT for k in layout.kinds])
        tx = np.where(is_mdt, radio.mdt_tx_power_dbm, radio.repeater_tx_power_dbm)
        gain = np.where(is_mdt, radio.mdt_antenna_gain_dbi, radio.repeater_antenna_gain_dbi)
        ids = np.array([int.from_bytes(e[-6:], "big") for e in layout.euis], dtype=np.uint64)
        self.rssi = link_budget_matrix(
            layout.positions_m,
            layout.walls,
            layout.metal_box,
            layout.metal_wall,
            tx,
            self.seed,
            radio,
            antenna_gain_dbi=gain,
            node_ids=ids,
        )
        self.success = {size: packet_success_probability(self.rssi, size, radio) for size in _SIZE_BUCKETS}
        self.ack_success = self.success[_SIZE_BUCKETS[0]]
        self.etx = etx_matrix(np.minimum(self.success[64], 1.0))
        self.usable = (self.rssi >= self.config.rssi_floor_dbm) & (self.config.rssi_floor_dbm <= self.rssi.T)
        self.airtime = {size: float(airtime_s(size, radio)) for size in _SIZE_BUCKETS}
        # lookups of the hot path, made once: the size bucket of every frame length, one attempt's time
        # (frame, turnaround, ack) per bucket, and each (sender, receiver, bucket)'s success
        # probabilities as Python floats, filled as links are first used
        self._bucket_of = [self._bucket(size) for size in range(_SIZE_BUCKETS[-1] + 1)]
        self._attempt_s = {
            size: self.airtime[size] + self.config.turnaround_s + self.airtime[_SIZE_BUCKETS[0]]
            for size in _SIZE_BUCKETS
        }
        self._links: dict[int, tuple[float, float]] = {}
        # by frame length: its size bucket, the airtime of one attempt and one attempt's time
        self._sizes = [
            (b, self.airtime[b], self._attempt_s[b])
            for b in (self._bucket_of[size] for size in range(_SIZE_BUCKETS[-1] + 1))
        ]
        self._report_records = self.config.max_records_per_frame * self.config.max_frames_per_report
        self._n = n
        # bumped at every change of a parent: the routes kept by the devices (uplink, downlink) are stale
        self._routes_version = 0

        self.dcap = Dcap(layout.euis[0], max_mdts=self.config.max_mdts)
        self._dcap_eui = layout.euis[0]
        self.devices: list[_Device] = []
        mdt_number = 0
        self.mdt_indices: list[int] = []
        for i, (kind, eui) in enumerate(zip(layout.kinds, layout.euis, strict=True)):
            key = hashlib.blake2b(eui + self.seed.to_bytes(8, "big", signed=True), digest_size=16).digest()
            led = DeviceLed(0.0 + self.epoch_s)
            device = _Device(index=i, kind=kind, eui=eui, key=key, led=led)
            if kind is DeviceKind.MDT:
                device.mdt = Mdt(
                    kit, eui, report_period_s=self.config.report_period_s, led=led, start_s=self.epoch_s
                )
                device.encoder = IntervalReportEncoder(eui, layout.euis[0], key)
                device.offset_s = self.config.report_spread_s * ((mdt_number * 0.618033988749895) % 1.0)
                device.up = True
                self.dcap.commission(eui, key, FrameDeviceKind.MDT)
                self.mdt_indices.append(i)
                mdt_number += 1
            elif kind is DeviceKind.REPEATER:
                device.up = False
                self.dcap.commission(eui, key, FrameDeviceKind.REPEATER)
            else:
                device.joined = True
            self.devices.append(device)
        self.cost = np.full(n, np.inf)
        self.cost[0] = 0.0
        self.hops = np.zeros(n, dtype=np.int64)
        self.due: dict[tuple[bytes, int], float] = {}
        self.rejected_injected: Counter[RejectReason] = Counter()
        self._until_s = 0.0
        self._stopped = False
        self._holding: set[int] = set()  # repeaters holding frames

    # ----------------------------------------------------------------------------------------------
    # node state
    # ----------------------------------------------------------------------------------------------

    def dcap_up(self, t: float) -> bool:
        """Whether the DCAP is reachable at run time ``t``."""
        if not self.outages:
            return True
        return not any(o.start_s <= t < o.start_s + o.duration_s for o in self.outages)

    def _alive(self, j: int, t: float) -> bool:
        if j == 0:
            return self.dcap_up(t)
        return self.devices[j].up

    @property
    def now_net(self) -> float:
        """Network time now. [s]"""
        return self.epoch_s + float(self.env.now)

    # ----------------------------------------------------------------------------------------------
    # routing
    # ----------------------------------------------------------------------------------------------

    def _recompute_routes(self) -> None:
        backbone = np.array(
            [d.kind is not DeviceKind.MDT and d.joined and d.up for d in self.devices], dtype=bool
        )
        backbone[0] = True
        routers = np.flatnonzero(backbone)  # Dijkstra over the routers only (MDTs are leaves)
        sub = np.ix_(routers, routers)
        sub_cost, sub_parent = backbone_routes(
            self.etx[sub], self.usable[sub], np.ones(routers.size, dtype=bool)
        )
        cost = np.full(len(self.devices), np.inf)
        parent = np.full(len(self.devices), -1, dtype=np.intp)
        cost[routers] = sub_cost
        parent[routers] = np.where(sub_parent >= 0, routers[np.maximum(sub_parent, 0)], -1)
        for d in self.devices:
            if d.kind is DeviceKind.REPEATER and d.joined and d.up:
                new = int(parent[d.index])
                if new != d.parent:
                    d.stats.parent_changes += 1 if d.parent >= 0 else 0
                    d.parent = new
                    self._routes_version += 1
        self.cost = cost
        hops = np.zeros(len(self.devices), dtype=np.int64)
        for d in self.devices:
            if d.kind is DeviceKind.REPEATER and d.joined and d.up and d.parent >= 0:
                h, j = 0, d.index
                while j > 0 and h < len(self.devices):
                    j = self.devices[j].parent if j > 0 else -1
                    h += 1
                hops[d.index] = h
        self.hops = hops
        mdts = np.array([i for i in self.mdt_indices if self.devices[i].joined], dtype=np.intp)
        if mdts.size:
            current = np.array([self.devices[i].parent for i in mdts], dtype=np.intp)
            chosen, _ = choose_parents(
                self.etx, self.usable, cost, mdts, current, hysteresis=self.config.hysteresis
            )
            for i, p in zip(mdts, chosen, strict=True):
                d = self.devices[int(i)]
                if int(p) != d.parent:
                    d.stats.parent_changes += 1 if d.parent >= 0 else 0
                    d.parent = int(p)
                    self._routes_version += 1
                self.hops[int(i)] = self.hops[int(p)] + 1 if p >= 0 else 0

    def _reselect(self, d: _Device, dead: int) -> None:
        """A child found its parent dead (every retry failed): route around it at once.

        The DCAP is never routed around (it is the root: when it is unreachable there is nowhere else
        to go, and repeaters hold the frames); a suspect parent is forgiven at the next route refresh.
        """
        if dead == 0:
            return
        d.suspect.add(dead)
        cost = self.cost.copy()
        for s in d.suspect:
            cost[s] = np.inf
        chosen, _ = choose_parents(
            self.etx,
            self.usable,
            cost,
            np.array([d.index]),
            np.array([-1]),
            hysteresis=self.config.hysteresis,
        )
        new = int(chosen[0])
        if new != d.parent:
            d.stats.parent_changes += 1
            d.parent = new
            self._routes_version += 1

    # ----------------------------------------------------------------------------------------------
    # one hop, one path
    # ----------------------------------------------------------------------------------------------

    def _bucket(self, size: int) -> int:
        for b in _SIZE_BUCKETS:
            if size <= b:
                return b
        return _SIZE_BUCKETS[-1]

    def _link(self, a: int, b: int, bucket: int) -> tuple[float, float]:
        """Success probabilities of a frame of a size bucket a → b and of its acknowledgement b → a."""
        key = (a * self._n + b) << 12 | bucket
        link = self._links.get(key)
        if link is None:
            link = self._links[key] = (float(self.success[bucket][a, b]), float(self.ack_success[b, a]))
        return link

    def _hop(self, a: int, b: int, t: float, size: int) -> tuple[bool, float]:
        """Send one frame a → b at run time t with acknowledgements and retries: (delivered, time taken).

        Each attempt draws the frame's success, then (if it got through) its acknowledgement's, each with
        the link's packet success probability for that frame size (docs/radio.md).
        """
        bucket = self._bucket_of[size] if size <= _SIZE_BUCKETS[-1] else _SIZE_BUCKETS[-1]
        p_data, p_ack = self._link(a, b, bucket)
        stats = self.devices[a].stats
        stats.frames_sent += 1
        stats.attempts += 1
        stats.airtime_s += self.airtime[bucket]
        alive = self.devices[b].up if b else (self._dcap_always_up or self.dcap_up(t))
        rand = self.rng.random
        if alive and rand() < p_data and rand() < p_ack:  # the first attempt
            return True, self._attempt_s[bucket]
        return self._retries(stats, alive, p_data, p_ack, bucket)

    def _retries(
        self, stats: DeviceStats, alive: bool, p_data: float, p_ack: float, bucket: int
    ) -> tuple[bool, float]:
        """The retries of a hop whose first attempt failed: (delivered, time taken with the first attempt)."""
        air = self.airtime[bucket]
        attempt_s = self._attempt_s[bucket]
        elapsed = attempt_s
        backoff = self.config.backoff_max_s
        rand = self.rng.random
        for _ in range(self.config.max_frame_retries):
            elapsed += rand() * backoff
            elapsed += attempt_s
            stats.attempts += 1
            stats.airtime_s += air
            if alive and rand() < p_data and rand() < p_ack:
                stats.retried += 1
                return True, elapsed
        stats.lost += 1
        if self.config.max_frame_retries:
            stats.retried += 1
        return False, elapsed

    def _uplink(self, start: int, bucket: int) -> tuple[_Hop, ...] | None:
        """
        The hops from ``start`` to the DCAP for a frame of a size bucket, with their links' success
        probabilities; kept until a route changes (``_routes_version``). None when the parents do not lead
        to the DCAP (a device without a parent, or more than 64 hops).
        """
        cached = self.devices[start].uplink
        if cached is not None and cached[0] == self._routes_version and cached[1] == bucket:
            return cached[2]
        hops: list[_Hop] = []
        route: tuple[_Hop, ...] | None = None
        cur = start
        while True:
            if cur == 0:
                route = tuple(hops)
                break
            d = self.devices[cur]
            parent = d.parent
            if parent < 0 or len(hops) >= 64:
                break
            p_data, p_ack = self._link(cur, parent, bucket)
            hops.append((cur, parent, p_data, p_ack, d.stats, self.devices[parent]))
            cur = parent
        self.devices[start].uplink = (self._routes_version, bucket, route)
        return route

    def _forward(self, data: bytes, origin: int, start: int, t: float) -> float | None:
        """Carry a frame from ``start`` towards the DCAP; return the arrival run time, or None.

        Each hop is :meth:`_hop`. While every hop's first attempt succeeds (nearly always), the hops are
        walked along the route kept by :meth:`_uplink`, the first attempt written out here (the same draws
        in the same order); a hop whose every retry fails is routed around (:meth:`_around`) and the frame
        goes on hop by hop from there.
        """
        cur = start
        size = len(data)
        bucket, air, attempt_s = self._sizes[size if size <= _SIZE_BUCKETS[-1] else -1]
        devices = self.devices
        rand = self.rng.random
        guard = 0
        cached = devices[start].uplink  # as _uplink gives it, without the call
        if cached is not None and cached[0] == self._routes_version and cached[1] == bucket:
            route = cached[2]
        else:
            route = self._uplink(start, bucket)
        if route is not None:
            for cur, parent, p_data, p_ack, stats, parent_device in route:
                guard += 1
                stats.frames_sent += 1
                stats.attempts += 1
                stats.airtime_s += air
                alive = parent_device.up if parent else (self._dcap_always_up or self.dcap_up(t))
                if alive and rand() < p_data and rand() < p_ack:
                    t += attempt_s
                    continue
                ok, dt = self._retries(stats, alive, p_data, p_ack, bucket)
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
        while cur != 0:
            guard += 1
            d = devices[cur]
            parent = d.parent
            if parent < 0 or guard > 64:
                if d.kind is DeviceKind.REPEATER:
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

    def _around(self, data: bytes, origin: int, d: _Device, dead: int, t: float, size: int) -> float | None:
        """Every retry of ``d`` to its parent ``dead`` failed at run time ``t``: route around the parent and
        try the new one (one hop, retried); the time after it, or None when the frame stops at ``d`` (kept
        there if ``d`` is a repeater)."""
        self._reselect(d, dead)
        ok = False
        if d.parent >= 0 and d.parent != dead:
            ok, dt = self._hop(d.index, d.parent, t, size)
            t += dt
        if not ok:
            if d.kind is DeviceKind.REPEATER:
                self._keep(d, data, origin, t)
            return None
        return t

    def _keep(self, d: _Device, data: bytes, origin: int, t: float) -> None:
        if len(d.store) >= self.config.store_capacity:
            d.store.popleft()
            d.stats.stored_dropped += 1
        d.store.append((data, origin, t))
        self._holding.add(d.index)
        d.stats.stored_max = max(d.stats.stored_max, len(d.store))

    def _arrive(self, data: bytes, origin: int, t: float) -> None:
        """The DCAP receives a frame at run time t; an accepted report is acknowledged back."""
        up_to = self.dcap.receive_report(data, self.epoch_s + t)  # -1: refused, or not a report
        if up_to < 0:
            return
        d = self.devices[origin]
        mdt = d.mdt
        if mdt is None:
            return
        p_path = self._downlink_success(origin, t)  # as _downlink
        if p_path > 0 and self.rng.random() < p_path:
            mdt.acknowledge(min(up_to, mdt.next_sequence - 1))

    def _downlink(self, origin: int, t: float) -> bool:
        """Whether the DCAP's acknowledgement gets back down the path (every hop with retries)."""
        p_path = self._downlink_success(origin, t)
        return p_path > 0 and self.rng.random() < p_path

    def _downlink_success(self, origin: int, t: float) -> float:
        """Probability that a downlink frame reaches ``origin`` over its path, every hop retried.

        The path and the product of its hops' probabilities are kept per device until a route changes
        (``_routes_version``); whether each node on it is up is asked at ``t`` every time: the DCAP, where
        a path that can succeed starts, and the repeaters on it.
        """
        cached = self.devices[origin].downlink
        if cached is None or cached[0] != self._routes_version:
            cur = origin
            path: list[int] = []
            while cur > 0 and len(path) < 64:
                path.append(cur)
                cur = self.devices[cur].parent
            tries = self.config.max_frame_retries + 1
            total = 1.0
            parents = tuple(self.devices[child].parent for child in path)
            if cur != 0:
                total = 0.0
            else:
                for child, parent in zip(path, parents, strict=True):
                    p = float(self.ack_success[parent, child]) * float(self.ack_success[child, parent])
                    total *= 1.0 - (1.0 - p) ** tries
            repeaters = tuple(self.devices[parent] for parent in parents if parent)
            cached = self.devices[origin].downlink = (self._routes_version, repeaters, total)
        _, repeaters, total = cached
        if not total or not (self._dcap_always_up or self.dcap_up(t)):
            return 0.0
        for repeater in repeaters:
            if not repeater.up:
                return 0.0
        return total

    # ----------------------------------------------------------------------------------------------
    # frames of the devices
    # ----------------------------------------------------------------------------------------------

    def _secured(self, d: _Device, payload: Any) -> bytes:
        d.counter += 1
        d.sequence = (d.sequence + 1) & 0xFF
        frame = Frame(
            payload=payload,
            source=d.eui,
            destination=self.devices[0].eui,
            sequence=d.sequence,
            frame_counter=d.counter,
        )
        return encode_frame(frame, key=d.key)

    # ----------------------------------------------------------------------------------------------
    # processes
    # ----------------------------------------------------------------------------------------------

    def _join(self, i: int, t_on: float) -> Generator[simpy.Event, Any, None]:
        """Power-up and joining of one device (manual §5.2), then it stays joined unless it loses power."""
        d = self.devices[i]
        if t_on > self.env.now:
            yield self.env.timeout(t_on - self.env.now)
        d.up = True
        d.up_since_s = float(self.env.now)
        if d.kind is DeviceKind.REPEATER and not d.led.power_restored(self.now_net):
            d.led.hold_button(self.now_net, 4.0)  # first power-up: hold about 4 s to turn it on
        while True:
            if not d.up:
                return
            d.led.advance(self.now_net)
            if d.led.state is PowerState.LIGHT_SLEEP:
                wake = d.led.next_deadline()
                wait = max(0.0, (wake or self.now_net) - self.now_net)
                yield self.env.timeout(wait)
                d.led.advance(self.now_net)
                continue
            if d.led.state is PowerState.OFF:
                return
            heard = self._hears_backbone(i)
            if heard < 0:
                deadline = d.led.next_deadline()
                wait = max(0.0, (deadline or self.now_net + 90.0) - self.now_net)
                changed = self.backbone_changed
                yield self.env.any_of([self.env.timeout(wait), changed])
                continue
            yield self.env.timeout(self.rng.random() * self.config.beacon_interval_s)
            if not self._alive(i, float(self.env.now)):  # lost power while waiting for the beacon
                return
            d.led.advance(self.now_net)
            if d.led.state is PowerState.SEARCHING:
                d.led.beacon_heard(self.now_net)
            elif d.led.state is not PowerState.JOINING:
                continue
            d.stats.join_attempts += 1
            yield self.env.timeout(self.config.join_handshake_s)
            if self._join_exchange(d):
                d.led.advance(self.now_net)
                d.led.joined(self.now_net)
                d.joined = True
                d.suspect.clear()
                d.stats.joined_s = float(self.env.now)
                if d.stats.first_join_s is None:
                    d.stats.first_join_s = float(self.env.now)
                if d.kind is DeviceKind.REPEATER:
                    self._backbone_event()
                else:  # a leaf joining changes no route but its own
                    self.hops[i] = self.hops[d.parent] + 1
                return

    def _hears_backbone(self, i: int) -> int:
        """The best joined backbone device a device hears (-1: none); routers only have finite costs."""
        through = np.where(self.usable[i], self.etx[i] + self.cost, np.inf)
        through[i] = np.inf
        if not self.dcap_up(float(self.env.now)):
            through[0] = np.inf
        best = int(np.argmin(through))
        return best if math.isfinite(through[best]) else -1

    def _join_exchange(self, d: _Device) -> bool:
        """JOIN_REQUEST to the DCAP through the best parent, JOIN_RESPONSE back."""
        parent = self._hears_backbone(d.index)
        if parent < 0:
            return False
        d.parent = parent
        self._routes_version += 1
        t = float(self.env.now)
        kind = FrameDeviceKind.REPEATER if d.kind is DeviceKind.REPEATER else FrameDeviceKind.MDT
        data = self._secured(d, JoinRequest(device_kind=kind, parent=self.devices[parent].eui))
        arrival = self._forward(data, d.index, d.index, t)
        if arrival is None:
            d.parent = -1
            self._routes_version += 1
            return False
        try:
            frame = decode_frame(data, key_lookup=self.dcap.key_of)
        except Exception:  # pragma: no cover - our own frame
            return False
        assert isinstance(frame.payload, JoinRequest)
        status = self.dcap.answer_join(frame.payload, d.eui)
        if status is not JoinStatus.ACCEPTED or not self._downlink(d.index, arrival):
            d.parent = -1
            self._routes_version += 1
            return False
        return True

    def _backbone_event(self) -> None:
        self._recompute_routes()
        old = self.backbone_changed
        self.backbone_changed = self.env.event()
        old.succeed()

    def _formation(self) -> Generator[simpy.Event, Any, None]:
        """Power the repeaters one after another (manual §5.2), then the meters start pulsing."""
        reps = self.layout.indices(DeviceKind.REPEATER)
        dist = (
            np.hypot(*(self.layout.positions_m[reps] - self.layout.positions_m[0]).T)
            if reps.size
            else np.zeros(0)
        )
        order = reps[np.argsort(dist if self.power_order == "near-first" else -dist, kind="stable")]
        for k, i in enumerate(order):
            self.env.process(self._join(int(i), k * self.config.repeater_power_spacing_s))
        mdt_start = len(order) * self.config.repeater_power_spacing_s + self.config.mdt_power_delay_s
        self.mdt_start_s = mdt_start
        yield self.env.timeout(0)

    def _mdt_power(self, number: int, i: int, t_first: float) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(t_first)
        d = self.devices[i]
        d.led.first_pulse(self.now_net)
        yield from self._join(i, float(self.env.now))

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
        fleet: list[tuple[int, int, _Device, Mdt, bool, float]] = []
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

    def _report(self, d: _Device, mdt: Mdt, now_net: float, t: float) -> None:
        """An MDT's scheduled report made at network time ``now_net`` and sent at run time ``t``."""
        records, reading = mdt.report_payload(now_net, self._report_records)
        per = self.config.max_records_per_frame
        i = d.index
        encoder = d.encoder
        assert encoder is not None
        if 0 < len(records) <= per:  # nearly always: one frame
            d.counter += 1
            d.sequence = (d.sequence + 1) & 0xFF
            data = encoder.encode(records, d.sequence, d.counter, reading)
            arrival = self._forward(data, i, i, t)
            if arrival is None:
                return
            # _arrive for an MDT's report, without the call
            up_to = self.dcap.receive_report(data, self.epoch_s + arrival)
            if up_to >= 0:
                p_path = self._downlink_success(i, arrival)
                if p_path > 0 and self.rng.random() < p_path:
                    mdt.acknowledge(min(up_to, mdt.next_sequence - 1))
            return
        for start in range(0, len(records), per):
            temperature = reading if start == 0 else None  # D02/E02: with each report
            d.counter += 1
            d.sequence = (d.sequence + 1) & 0xFF
            data = encoder.encode(records[start : start + per], d.sequence, d.counter, temperature)
            arrival = self._forward(data, i, i, t)
            if arrival is None:
                break
            self._arrive(data, i, arrival)
            t = arrival

    def _route_refresh(self) -> Generator[simpy.Event, Any, None]:
        """Routes are recomputed periodically from the link estimates; suspect parents are forgiven."""
        while True:
            yield self.env.timeout(self.config.route_refresh_s)
            suspicious = [d for d in self.devices if d.suspect]
            if not suspicious:  # links are static between refreshes: nothing to learn
                continue
            for d in suspicious:
                d.suspect.clear()
            self._recompute_routes()

    def _store_and_forward(self) -> Generator[simpy.Event, Any, None]:
        """Repeaters retry the frames they hold, oldest first, while their path works."""
        while True:
            yield self.env.timeout(self.config.store_retry_s)
            now = float(self.env.now)
            for index in sorted(self._holding):
                d = self.devices[index]
                if not d.store:
                    self._holding.discard(index)
                    continue
                if not d.up:
                    continue
                while d.store:
                    data, origin, _ = d.store[0]
                    d.store.popleft()
                    arrival = self._forward(data, origin, d.index, now)
                    if arrival is None:
                        # _forward put it back at the end of the store: keep order by moving it to the front
                        if d.store and d.store[-1][0] is data:
                            d.store.appendleft(d.store.pop())
                        break
                    self._arrive(data, origin, arrival)

    def _failure(self, f: RepeaterFailure, i: int) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(f.at_s)
        d = self.devices[i]
        if d.up:
            # the last gasp: the repeater reports its own power loss before it goes
            data = self._secured(d, PowerLoss(time_s=int(self.now_net), power_restored=False))
            arrival = self._forward(data, i, i, float(self.env.now))
            if arrival is not None:
                self._arrive(data, i, arrival)
            d.up = False
            d.joined = False
            d.parent = -1
            self._routes_version += 1
            d.led.power_lost(self.now_net)
            self._backbone_event()
        if f.down_s is None:
            return
        yield self.env.timeout(f.down_s)
        self.env.process(self._join(i, float(self.env.now)))

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
            data = self._secured(d, event)
            arrival = self._forward(data, i, i, t)
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
        # The run makes millions of objects that reference counting frees (frames, records) and keeps
        # millions (the DCAP's deliveries) but makes no reference cycles: the cyclic collector's passes
        # over the kept ones find nothing and cost about a tenth of the run, so it is paused meanwhile.
        collecting = gc.isenabled()
        gc.disable()
        try:
            env.run(until=self._until_s + self._drain_s)
        finally:
            if collecting:
                gc.enable()
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
