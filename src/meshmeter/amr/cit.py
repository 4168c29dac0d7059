"""The Commissioning and Installation Tool (CIT) report of a simulated mesh (manual §5.2).

Per device: join state, parent, hop count, RSSI, link quality, ETX, frames sent, retried and lost, battery.
For the backbone and the whole site: delivery (within the hour an interval was due, and in the end),
latency and hop-count distributions, join times, frames rejected by reason, and the MDTs that cannot join,
each with a suggestion.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from meshmeter.amr.network import MeshNetwork
from meshmeter.amr.records import INTERVAL_S
from meshmeter.amr.topology import DeviceKind

__all__ = ["CitReport", "DeviceRow", "cit_report"]

ON_TIME_S = 3600.0
"""An interval counts as on time when it reaches the DCAP within the hour after it was due. [s]"""


@dataclass(frozen=True)
class DeviceRow:
    """One device as the CIT shows it."""

    index: int
    kind: str
    eui64: str
    state: str
    """Join state: off, searching, joining, connected, light sleep."""
    parent: str | None
    """EUI-64 of the parent, None at the DCAP or when not joined."""
    hops: int | None
    rssi_dbm: float | None
    """RSSI of the link to the parent. [dBm]"""
    lqi: int | None
    etx: float | None
    """ETX of the link to the parent. [1]"""
    path_cost: float | None
    frames_sent: int
    retried: int
    lost: int
    first_join_s: float | None
    """Run time of the first join. [s]"""
    battery_left: float | None
    """Share of the battery left (MDTs). [1]"""
    battery_life_on_battery_days: float | None
    """How long the cell would last at the MDT's own average drain if its meter lost power now. [day]"""


@dataclass(frozen=True)
class CitReport:
    """The CIT report of a run."""

    devices: tuple[DeviceRow, ...]
    mdts: int
    repeaters: int
    joined_mdts: int
    joined_repeaters: int
    intervals_due: int
    """Intervals due from the MDTs that joined. [1]"""
    intervals_due_joined: int
    """Intervals due after their MDT had joined: those that can be on time. [1]"""
    intervals_due_unjoined: int
    """Intervals of the MDTs that never joined (they wait in their backlogs). [1]"""
    delivered: int
    """Due intervals that reached the DCAP by the end of the run (each kept once). [1]"""
    delivered_on_time: int
    """Intervals due after their MDT joined that reached the DCAP within the hour after they were due. [1]"""
    duplicates: int
    """Records received again and dropped by the DCAP. [1]"""
    latency_s: dict[str, float]
    """Percentiles of (first arrival − interval end): p50, p90, p99, max. [s]"""
    hop_histogram: dict[int, int]
    """MDTs by hop count to the DCAP."""
    join_time_s: dict[str, dict[str, float]]
    """Per kind, first join run times: min, median, max. [s]"""
    rejected: dict[str, int]
    """Frames the DCAP refused, by reason."""
    events: dict[str, int]
    """Events the DCAP received: tamper, temperature, power loss."""
    unjoined: tuple[dict[str, Any], ...]
    """MDTs that could not join, each with a suggestion."""
    simulated_s: float
    wall_s: float | None
    sim_events: int
    """Simulated events: interval logs, transmissions (retries included) and receptions. [1]"""

    @property
    def delivery_ratio(self) -> float:
        """Delivered in the end over due. [1]"""
        return self.delivered / self.intervals_due if self.intervals_due else 1.0

    @property
    def on_time_ratio(self) -> float:
        """Delivered within the hour over due, among the intervals due after their MDT joined. [1]"""
        return self.delivered_on_time / self.intervals_due_joined if self.intervals_due_joined else 1.0

    @property
    def speedup(self) -> float | None:
        """Simulated time over wall time. [1]"""
        return self.simulated_s / self.wall_s if self.wall_s else None

    @property
    def events_per_s(self) -> float | None:
        """Simulated events per second of wall time. [1/s]"""
        return self.sim_events / self.wall_s if self.wall_s else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        data = asdict(self)
        data["hop_histogram"] = {str(k): v for k, v in self.hop_histogram.items()}
        data["delivery_ratio"] = self.delivery_ratio
        data["on_time_ratio"] = self.on_time_ratio
        data["speedup"] = self.speedup
        data["events_per_s"] = self.events_per_s
        return data


def _percentiles(values: np.ndarray[Any, Any]) -> dict[str, float]:
    if values.size == 0:
        return {"p50": math.nan, "p90": math.nan, "p99": math.nan, "max": math.nan}
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "max": float(values.max())}


def cit_report(net: MeshNetwork, *, duration_s: float, wall_s: float | None = None) -> CitReport:
    """
    The CIT report of a network after :meth:`MeshNetwork.run`.

    Parameters
    ----------
    net : MeshNetwork
        The network, run.
    duration_s : float
        The run time whose intervals count (as given to ``run``). [s]
    wall_s : float, optional
        Wall-clock time the run took. [s]

    Returns
    -------
    CitReport
    """
    layout = net.layout
    rows = []
    for d in net.devices:
        parent = d.parent if d.index else -1
        battery = None
        life_days = None
        if d.kind is DeviceKind.MDT:
            cell = net.battery(d.index)
            battery = cell.fraction_left
            alone = net.battery(d.index, external_power=False)
            drain_ma = alone.average_current_ma()
            life_days = cell.remaining_mah / drain_ma / 24.0 if drain_ma > 0 else math.inf
        rows.append(
            DeviceRow(
                index=d.index,
                kind=str(d.kind),
                eui64=d.eui.hex(),
                state=d.led.state.value.replace("_", " ") if d.index else "connected",
                parent=net.devices[parent].eui.hex() if parent >= 0 else None,
                hops=int(net.hops[d.index]) if d.joined and d.index else (0 if d.index == 0 else None),
                rssi_dbm=net.rssi_to_parent(d.index) if parent >= 0 else None,
                lqi=net.lqi_to_parent(d.index) if parent >= 0 else None,
                etx=float(net.etx[d.index, parent]) if parent >= 0 else None,
                path_cost=(float(net.etx[d.index, parent] + net.cost[parent]) if parent >= 0 else None),
                frames_sent=d.stats.frames_sent,
                retried=d.stats.retried,
                lost=d.stats.lost,
                first_join_s=d.stats.first_join_s,
                battery_left=battery,
                battery_life_on_battery_days=life_days,
            )
        )
    # delivery: interval k of an MDT ends at epoch + 900 k (its records start at the run's start)
    first_arrival: dict[tuple[bytes, int], float] = {}
    for delivery in net.dcap.deliveries:
        first_arrival[(delivery.device, delivery.record.sequence)] = delivery.received_s
    due = 0
    due_joined = 0
    due_unjoined = 0
    delivered = 0
    on_time = 0
    latencies = []
    last_due = int(duration_s // INTERVAL_S)
    for i in net.mdt_indices:
        d = net.devices[i]
        if d.stats.first_join_s is None:  # never joined: shown among the unjoined, not as losses
            due_unjoined += last_due + 1
            continue
        joined_at = net.epoch_s + d.stats.first_join_s
        for seq in range(last_due + 1):
            due += 1
            end_s = net.epoch_s + seq * INTERVAL_S
            arrival = first_arrival.get((d.eui, seq))
            if end_s >= joined_at:
                due_joined += 1
            if arrival is None:
                continue
            delivered += 1
            latency = arrival - end_s
            latencies.append(latency)
            if latency <= ON_TIME_S and end_s >= joined_at:
                on_time += 1
    mdt_rows = [r for r in rows if r.kind == str(DeviceKind.MDT)]
    hops = Counter(r.hops for r in mdt_rows if r.hops is not None)
    join_times: dict[str, dict[str, float]] = {}
    for kind in (DeviceKind.REPEATER, DeviceKind.MDT):
        times = np.array([r.first_join_s for r in rows if r.kind == str(kind) and r.first_join_s is not None])
        if times.size:
            join_times[str(kind)] = {
                "min": float(times.min()),
                "median": float(np.median(times)),
                "max": float(times.max()),
            }
    events = Counter(type(e.event).__name__ for e in net.dcap.events)
    unjoined = []
    backbone = [
        r.index for r in rows if r.kind != str(DeviceKind.MDT) and (r.index == 0 or r.parent is not None)
    ]
    for r in mdt_rows:
        if r.parent is not None:
            continue
        pos = layout.positions_m[r.index]
        nearest = min(backbone, key=lambda j: float(np.hypot(*(layout.positions_m[j] - pos))))
        mid = (layout.positions_m[nearest] + pos) / 2.0
        reasons = []
        if layout.metal_box[r.index]:
            reasons.append("it is mounted in a metal box: move it out (manual §5.2 caution)")
        if layout.metal_wall[r.index]:
            reasons.append("it is mounted near a metal wall: move it away (manual §5.2 caution)")
        reasons.append(
            f"a repeater at ({mid[0]:.0f} m, {mid[1]:.0f} m), between it and "
            f"{net.devices[nearest].eui.hex()}, would bring it within reach"
        )
        unjoined.append(
            {
                "eui64": r.eui64,
                "position_m": [float(pos[0]), float(pos[1])],
                # the weaker direction of its best link: an MDT transmits with less power than a repeater
                "best_rssi_dbm": float(
                    np.max(np.minimum(net.rssi[backbone, r.index], net.rssi[r.index, backbone]))
                ),
                "suggestion": "; ".join(reasons),
            }
        )
    sim_events = net.events_processed + sum(d.stats.attempts for d in net.devices) + net.dcap.accepted_frames
    return CitReport(
        devices=tuple(rows),
        mdts=len(net.mdt_indices),
        repeaters=int(layout.indices(DeviceKind.REPEATER).size),
        joined_mdts=sum(1 for r in mdt_rows if r.parent is not None),
        joined_repeaters=sum(1 for r in rows if r.kind == str(DeviceKind.REPEATER) and r.parent is not None),
        intervals_due=due,
        intervals_due_joined=due_joined,
        intervals_due_unjoined=due_unjoined,
        delivered=delivered,
        delivered_on_time=on_time,
        duplicates=net.dcap.duplicate_records,
        latency_s=_percentiles(np.array(latencies)),
        hop_histogram=dict(sorted((int(k), v) for k, v in hops.items())),
        join_time_s=join_times,
        rejected={str(k): v for k, v in net.dcap.rejected.items()},
        events=dict(events),
        unjoined=tuple(unjoined),
        simulated_s=float(net.env.now),
        wall_s=wall_s,
        sim_events=int(sim_events),
    )
