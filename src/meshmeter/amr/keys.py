"""The devices' keys in the simulated mesh: derived per device, commissioned at the DCAP, securing frames.

Each device has its own AES-128 key (manual §2.6: the system is secure; IEEE 802.15.4 security), provisioned
at the DCAP when the device is commissioned (manual §5.2). In the simulation the key is derived from the
device's EUI-64 and the run's seed, so a run is reproducible and a site's keys can be stored with it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from meshmeter.amr.dcap import Dcap
from meshmeter.amr.frames import DeviceKind as FrameDeviceKind
from meshmeter.amr.frames import Frame, encode_frame
from meshmeter.amr.node import Node
from meshmeter.amr.topology import DeviceKind

__all__ = ["commission", "device_key", "secured_frame"]


def device_key(eui64: bytes, seed: int) -> bytes:
    """
    A device's AES-128 key in a simulated run: BLAKE2b of its EUI-64 and the seed, 16 bytes.

    Parameters
    ----------
    eui64 : bytes
        The device's EUI-64.
    seed : int
        The run's seed.

    Returns
    -------
    key : bytes
        16 bytes.
    """
    return hashlib.blake2b(eui64 + int(seed).to_bytes(8, "big", signed=True), digest_size=16).digest()


def commission(dcap: Dcap, node: Node) -> None:
    """Provision a repeater's or an MDT's key at the DCAP (manual §5.2); the DCAP itself has none to give."""
    if node.kind is DeviceKind.MDT:
        dcap.commission(node.eui, node.key, FrameDeviceKind.MDT)
    elif node.kind is DeviceKind.REPEATER:
        dcap.commission(node.eui, node.key, FrameDeviceKind.REPEATER)


def secured_frame(node: Node, payload: Any, destination: bytes) -> bytes:
    """
    A frame from ``node`` to ``destination`` secured with the node's key under its next frame counter (and
    next MAC sequence number), as :func:`~meshmeter.amr.frames.encode_frame` makes it.
    """
    node.counter += 1
    node.sequence = (node.sequence + 1) & 0xFF
    frame = Frame(
        payload=payload,
        source=node.eui,
        destination=destination,
        sequence=node.sequence,
        frame_counter=node.counter,
    )
    return encode_frame(frame, key=node.key)
