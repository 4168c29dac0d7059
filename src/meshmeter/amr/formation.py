"""Formation of the mesh (manual §5.2): the order repeaters are powered in, and how a device joins.

The DCAP is on at the start and beacons. A device that is searching and has a usable link to a joined
router hears a beacon within one beacon interval, then joins through that router: an authenticated
JOIN_REQUEST to the DCAP and a JOIN_RESPONSE back. A repeater that hears no router searches (slow flash),
sleeps after 90 s and searches again later; its LED timeline (:class:`~meshmeter.amr.led.DeviceLed`) keeps
every step (``docs/network.md``, "Formation"). The processes here run on the network's SimPy environment.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import simpy
from numpy.typing import NDArray

from meshmeter.amr.frames import DeviceKind as FrameDeviceKind
from meshmeter.amr.frames import JoinRequest, JoinStatus, decode_frame
from meshmeter.amr.keys import secured_frame
from meshmeter.amr.led import PowerState
from meshmeter.amr.node import Node
from meshmeter.amr.topology import DeviceKind, Layout

if TYPE_CHECKING:  # pragma: no cover
    from meshmeter.amr.network import MeshNetwork

__all__ = ["join", "join_exchange", "power_up_order"]


def power_up_order(layout: Layout, order: Literal["near-first", "far-first"]) -> NDArray[np.intp]:
    """The repeaters' indices in the order they are powered: by distance to the DCAP, nearest or farthest
    first (manual §5.2: nearest first)."""
    reps = layout.indices(DeviceKind.REPEATER)
    dist = np.hypot(*(layout.positions_m[reps] - layout.positions_m[0]).T) if reps.size else np.zeros(0)
    ordered: NDArray[np.intp] = reps[np.argsort(dist if order == "near-first" else -dist, kind="stable")]
    return ordered


def join(net: MeshNetwork, i: int, t_on: float) -> Generator[simpy.Event, Any, None]:
    """Power-up and joining of one device (manual §5.2), then it stays joined unless it loses power."""
    env = net.env
    d = net.devices[i]
    if t_on > env.now:
        yield env.timeout(t_on - env.now)
    d.up = True
    d.up_since_s = float(env.now)
    if d.kind is DeviceKind.REPEATER and not d.led.power_restored(net.now_net):
        d.led.hold_button(net.now_net, 4.0)  # first power-up: hold about 4 s to turn it on
    while True:
        if not d.up:
            return
        d.led.advance(net.now_net)
        if d.led.state is PowerState.LIGHT_SLEEP:
            wake = d.led.next_deadline()
            wait = max(0.0, (wake or net.now_net) - net.now_net)
            yield env.timeout(wait)
            d.led.advance(net.now_net)
            continue
        if d.led.state is PowerState.OFF:
            return
        heard = net.routes.best_router(i, dcap_reachable=net.dcap_up(float(env.now)))
        if heard < 0:
            deadline = d.led.next_deadline()
            wait = max(0.0, (deadline or net.now_net + 90.0) - net.now_net)
            changed = net.backbone_changed
            yield env.any_of([env.timeout(wait), changed])
            continue
        yield env.timeout(net.rng.random() * net.config.beacon_interval_s)
        if not (d.up if i else net.dcap_up(float(env.now))):  # lost power while waiting for the beacon
            return
        d.led.advance(net.now_net)
        if d.led.state is PowerState.SEARCHING:
            d.led.beacon_heard(net.now_net)
        elif d.led.state is not PowerState.JOINING:
            continue
        d.stats.join_attempts += 1
        yield env.timeout(net.config.join_handshake_s)
        if join_exchange(net, d):
            d.led.advance(net.now_net)
            d.led.joined(net.now_net)
            d.joined = True
            d.suspect.clear()
            d.stats.joined_s = float(env.now)
            if d.stats.first_join_s is None:
                d.stats.first_join_s = float(env.now)
            if d.kind is DeviceKind.REPEATER:
                net.backbone_event()
            else:  # a leaf joining changes no route but its own
                net.routes.hops[i] = net.routes.hops[d.parent] + 1
            return


def join_exchange(net: MeshNetwork, d: Node) -> bool:
    """JOIN_REQUEST to the DCAP through the best parent, JOIN_RESPONSE back: whether the device joined."""
    routes = net.routes
    t = float(net.env.now)
    parent = routes.best_router(d.index, dcap_reachable=net.dcap_up(t))
    if parent < 0:
        return False
    routes.set_parent(d, parent)
    kind = FrameDeviceKind.REPEATER if d.kind is DeviceKind.REPEATER else FrameDeviceKind.MDT
    data = secured_frame(d, JoinRequest(device_kind=kind, parent=net.devices[parent].eui), net.dcap.eui64)
    arrival = net.forward(data, d.index, d.index, t)
    if arrival is None:
        routes.set_parent(d, -1)
        return False
    try:
        frame = decode_frame(data, key_lookup=net.dcap.key_of)
    except Exception:  # pragma: no cover - our own frame
        return False
    assert isinstance(frame.payload, JoinRequest)
    status = net.dcap.answer_join(frame.payload, d.eui)
    if status is not JoinStatus.ACCEPTED or not net.acknowledgement_arrives(d.index, arrival):
        routes.set_parent(d, -1)
        return False
    return True
