"""The radio links of a site and one hop over them: success probabilities by frame size, and retries.

:class:`Links` holds what the radio model (:mod:`~meshmeter.amr.radio`) gives for every pair of devices of a
layout: RSSI, each frame size bucket's packet success probability, ETX, which links clear the RSSI floor
both ways, and the airtime of a frame and of one attempt (frame, turnaround, acknowledgement). A hop is an
attempt acknowledged or not, retried up to ``max_frame_retries`` times after a random back-off (IEEE
802.15.4 macMaxFrameRetries); :func:`retries` draws the retries of a hop whose first attempt failed.
"""

from __future__ import annotations

import random

import numpy as np
from numpy.typing import NDArray

from meshmeter.amr.node import DeviceStats
from meshmeter.amr.radio import RadioConfig, airtime_s, link_budget_matrix, packet_success_probability
from meshmeter.amr.routing import etx_matrix
from meshmeter.amr.topology import DeviceKind, Layout

__all__ = ["SIZE_BUCKETS", "Links", "retries"]

FloatArray = NDArray[np.float64]

SIZE_BUCKETS = (40, 64, 128, 256, 512, 1024, 2048)
"""Frame sizes for which link success probabilities are precomputed (the next bucket up is used). [octet]"""


def size_bucket(size: int) -> int:
    """The size bucket of a ``size``-octet frame: the smallest that holds it, else the largest. [octet]"""
    for b in SIZE_BUCKETS:
        if size <= b:
            return b
    return SIZE_BUCKETS[-1]


class Links:
    """
    The links between every two devices of a layout.

    Parameters
    ----------
    layout : Layout
        Devices and what lies between them.
    radio : RadioConfig
        Radio parameters.
    seed : int
        Seed of the shadowing.
    rssi_floor_dbm : float
        Links weaker than this (either way) are not usable for routing. [dBm]
    turnaround_s : float
        Receive-to-transmit turnaround before an acknowledgement. [s]
    """

    def __init__(
        self, layout: Layout, radio: RadioConfig, seed: int, *, rssi_floor_dbm: float, turnaround_s: float
    ) -> None:
        n = layout.n
        is_mdt = np.array([k is DeviceKind.MDT for k in layout.kinds])
        tx = np.where(is_mdt, radio.mdt_tx_power_dbm, radio.repeater_tx_power_dbm)
        gain = np.where(is_mdt, radio.mdt_antenna_gain_dbi, radio.repeater_antenna_gain_dbi)
        ids = np.array([int.from_bytes(e[-6:], "big") for e in layout.euis], dtype=np.uint64)
        self.rssi: FloatArray = link_budget_matrix(
            layout.positions_m,
            layout.walls,
            layout.metal_box,
            layout.metal_wall,
            tx,
            seed,
            radio,
            antenna_gain_dbi=gain,
            node_ids=ids,
        )
        """RSSI of each link a → b. [dBm]"""
        self.success: dict[int, FloatArray] = {
            size: packet_success_probability(self.rssi, size, radio) for size in SIZE_BUCKETS
        }
        """Packet success probability of each link by frame size bucket. [1]"""
        self.ack_success = self.success[SIZE_BUCKETS[0]]
        self.etx = etx_matrix(np.minimum(self.success[64], 1.0))
        self.usable = (self.rssi >= rssi_floor_dbm) & (rssi_floor_dbm <= self.rssi.T)
        self.airtime = {size: float(airtime_s(size, radio)) for size in SIZE_BUCKETS}
        """Airtime of a frame of each size bucket. [s]"""
        self.attempt_s = {
            size: self.airtime[size] + turnaround_s + self.airtime[SIZE_BUCKETS[0]] for size in SIZE_BUCKETS
        }
        """One attempt of each size bucket's frame: the frame, the turnaround, the acknowledgement. [s]"""
        self.sizes = [
            (b, self.airtime[b], self.attempt_s[b])
            for b in (size_bucket(size) for size in range(SIZE_BUCKETS[-1] + 1))
        ]
        """By frame length (up to the largest bucket): its size bucket, its airtime, one attempt's time."""
        self._n = n
        self._links: dict[int, tuple[float, float]] = {}

    def size(self, length: int) -> tuple[int, float, float]:
        """A frame of ``length`` octets: its size bucket, airtime and one attempt's time. [octet], [s], [s]"""
        return self.sizes[length if length <= SIZE_BUCKETS[-1] else -1]

    def link(self, a: int, b: int, bucket: int) -> tuple[float, float]:
        """Success probabilities of a frame of a size bucket a → b and of its acknowledgement b → a. [1]"""
        key = (a * self._n + b) << 12 | bucket
        link = self._links.get(key)
        if link is None:  # as Python floats, made when the link is first used
            link = self._links[key] = (float(self.success[bucket][a, b]), float(self.ack_success[b, a]))
        return link

    def exchange_success(self, a: int, b: int) -> float:
        """Probability that a short frame a → b and its acknowledgement both get through at once. [1]"""
        return float(self.ack_success[a, b]) * float(self.ack_success[b, a])


def retries(
    rand: random.Random,
    stats: DeviceStats,
    alive: bool,
    p_data: float,
    p_ack: float,
    air_s: float,
    attempt_s: float,
    *,
    max_frame_retries: int,
    backoff_max_s: float,
) -> tuple[bool, float]:
    """
    The retries of a hop whose first attempt failed: (delivered, time taken with the first attempt).

    Each retry waits a random back-off (up to ``backoff_max_s``), then draws the frame's success and (if it
    got through) its acknowledgement's, each with the link's packet success probability (docs/radio.md).
    The sender's statistics count every attempt and its airtime, a frame retried, and a frame lost.

    Parameters
    ----------
    rand : random.Random
        The run's generator.
    stats : DeviceStats
        The sender's statistics.
    alive : bool
        Whether the receiver listens (powered; for the DCAP, reachable).
    p_data, p_ack : float
        Success probability of the frame and of its acknowledgement. [1]
    air_s, attempt_s : float
        The frame's airtime and one attempt's time. [s]
    max_frame_retries : int
        Retries after the first attempt. [1]
    backoff_max_s : float
        Largest back-off. [s]
    """
    elapsed = attempt_s
    draw = rand.random
    for _ in range(max_frame_retries):
        elapsed += draw() * backoff_max_s
        elapsed += attempt_s
        stats.attempts += 1
        stats.airtime_s += air_s
        if alive and draw() < p_data and draw() < p_ack:
            stats.retried += 1
            return True, elapsed
    stats.lost += 1
    if max_frame_retries:
        stats.retried += 1
    return False, elapsed
