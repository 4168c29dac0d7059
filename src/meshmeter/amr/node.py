"""What the mesh knows of each of its devices: radio identity, frame counter, join state, parent, statistics.

One :class:`Node` per device of a :class:`~meshmeter.amr.topology.Layout` (the DCAP, repeaters, MDTs), in
layout order. A node refers to the device class it stands for where there is one (an MDT's
:class:`~meshmeter.amr.mdt.Mdt`, a repeater's :class:`~meshmeter.amr.repeater.Repeater`); what every device
has alike on the air (its key and frame counter, whether it is powered and joined, its parent, the
statistics the Commissioning and Installation Tool shows, manual §5.2) is kept here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meshmeter.amr.frames import IntervalReportEncoder
from meshmeter.amr.led import DeviceLed
from meshmeter.amr.mdt import Mdt
from meshmeter.amr.repeater import Repeater
from meshmeter.amr.topology import DeviceKind

__all__ = ["DeviceStats", "Hop", "Node"]


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


Hop = tuple[int, int, float, float, DeviceStats, "Node"]
"""One hop of a kept route: sender, receiver, the frame's and its acknowledgement's success probability, the
sender's statistics, the receiving node."""


@dataclass(slots=True)
class Node:
    """
    One device of the mesh as the network sees it.

    ``uplink`` and ``downlink`` are the routes kept for it by :class:`~meshmeter.amr.paths.Routes` until
    a route changes (its ``version``): the way up for one frame size bucket, as (version, bucket, hops or
    None), and the way down, as (version, the nodes on it other than the DCAP, success probability).
    """

    index: int
    kind: DeviceKind
    eui: bytes
    key: bytes
    led: DeviceLed
    mdt: Mdt | None = None
    encoder: IntervalReportEncoder | None = None  # an MDT's INTERVAL_REPORT encoder
    repeater: Repeater | None = None
    counter: int = 0
    sequence: int = 0
    up: bool = True
    joined: bool = False
    parent: int = -1
    suspect: set[int] = field(default_factory=set)
    stats: DeviceStats = field(default_factory=DeviceStats)
    up_since_s: float = 0.0
    offset_s: float = 0.0
    uplink: tuple[int, int, tuple[Hop, ...] | None] | None = None
    downlink: tuple[int, tuple[Node, ...], float] | None = None
