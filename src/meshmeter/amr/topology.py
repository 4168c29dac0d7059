"""Where the devices of a mesh stand: the DCAP, the repeaters and the MDTs of a site.

A layout is geometry and installation, the inputs of the radio channel: positions, the walls between
two devices, and the installations the manual cautions against (an MDT in a metal box or near a metal
wall, manual §1 and §5.2). :func:`campus_layout` makes a reproducible site of apartment buildings around
a DCAP, with repeaters between them, for simulations and benchmarks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

__all__ = ["DeviceKind", "Layout", "campus_layout", "eui64_for"]

FloatArray = NDArray[np.float64]


class DeviceKind(StrEnum):
    """The three kinds of device of the mesh (manual §5, Figure 6)."""

    DCAP = "dcap"
    REPEATER = "repeater"
    MDT = "mdt"


def eui64_for(kind: DeviceKind, index: int, seed: int = 0) -> bytes:
    """
    A stable EUI-64 for a simulated device: an OUI-like prefix by kind, then a hash of index and seed.

    Parameters
    ----------
    kind : DeviceKind
        Device kind.
    index : int
        Index of the device among its kind. [1]
    seed : int
        Site seed. [1]

    Returns
    -------
    bytes
        8 bytes.
    """
    prefix = {
        DeviceKind.DCAP: b"\x02\x4d\x4d",
        DeviceKind.REPEATER: b"\x02\x4d\x52",
        DeviceKind.MDT: b"\x02\x4d\x54",
    }
    digest = hashlib.blake2b(f"{kind}:{index}:{seed}".encode(), digest_size=5).digest()
    return prefix[kind] + digest


@dataclass(frozen=True)
class Layout:
    """
    The devices of a site and what lies between them.

    Device 0 is the DCAP; then ``n_repeaters`` repeaters; then the MDTs.

    Parameters
    ----------
    positions_m : ndarray, shape (n, 2)
        Position of each device. [m]
    kinds : tuple of DeviceKind
        Kind of each device.
    walls : ndarray of int, shape (n, n)
        Walls between each pair (symmetric, zero diagonal). [1]
    metal_box : ndarray of bool, shape (n,)
        Device mounted inside a metal box (manual §1 caution).
    metal_wall : ndarray of bool, shape (n,)
        Device mounted near a metal wall, e.g. a furnace or an electrical panel (manual §1 caution).
    euis : tuple of bytes
        EUI-64 of each device.
    """

    positions_m: FloatArray
    kinds: tuple[DeviceKind, ...]
    walls: NDArray[np.int64]
    metal_box: NDArray[np.bool_]
    metal_wall: NDArray[np.bool_]
    euis: tuple[bytes, ...]

    def __post_init__(self) -> None:
        n = len(self.kinds)
        if self.positions_m.shape != (n, 2):
            raise ValueError(f"positions_m must have shape ({n}, 2), got {self.positions_m.shape}")
        if self.walls.shape != (n, n):
            raise ValueError(f"walls must have shape ({n}, {n}), got {self.walls.shape}")
        if self.metal_box.shape != (n,) or self.metal_wall.shape != (n,) or len(self.euis) != n:
            raise ValueError("metal_box, metal_wall and euis must have one entry per device")
        if n == 0 or self.kinds[0] is not DeviceKind.DCAP or self.kinds.count(DeviceKind.DCAP) != 1:
            raise ValueError("a layout has exactly one DCAP, device 0")
        if len(set(self.euis)) != n:
            raise ValueError("EUI-64s must be unique")

    @property
    def n(self) -> int:
        """Number of devices. [1]"""
        return len(self.kinds)

    def indices(self, kind: DeviceKind) -> NDArray[np.intp]:
        """Indices of the devices of a kind."""
        return np.flatnonzero(np.array([k is kind for k in self.kinds], dtype=bool))

    def distances_m(self) -> FloatArray:
        """Distance between every pair of devices. [m]"""
        diff = self.positions_m[:, None, :] - self.positions_m[None, :, :]
        result: FloatArray = np.sqrt((diff**2).sum(axis=2))
        return result


def campus_layout(
    *,
    mdts: int,
    repeaters: int,
    seed: int = 0,
    building_m: float = 40.0,
    units_per_building: int = 24,
    street_m: float = 25.0,
    wall_spacing_m: float = 10.0,
    max_walls: int = 6,
    metal_box_fraction: float = 0.02,
    metal_wall_fraction: float = 0.1,
) -> Layout:
    """
    A site of apartment buildings on a grid, the DCAP in the middle, repeaters spread over it.

    Each building holds up to ``units_per_building`` units, each unit an MDT at its meter (in the unit's
    utility closet). Repeaters stand at the building corners nearest the DCAP first, spreading outwards
    (a Wi-SUN-style backbone); the DCAP stands at the site's centre. Walls between two devices grow with
    the distance indoors: one per ``wall_spacing_m`` of the straight line, at most ``max_walls``.

    Parameters
    ----------
    mdts : int
        MDTs (one per unit), >= 0. [1]
    repeaters : int
        Repeaters, >= 0. [1]
    seed : int
        Seed of positions and installations. [1]
    building_m : float
        Side of a building. [m]
    units_per_building : int
        Units (MDTs) per building. [1]
    street_m : float
        Gap between buildings. [m]
    wall_spacing_m : float
        Straight-line distance per wall. [m]
    max_walls : int
        Walls counted at most between two devices (outdoors the rest of the way). [1]
    metal_box_fraction : float
        Share of MDTs installed inside a metal box against the manual's caution. [1]
    metal_wall_fraction : float
        Share of MDTs installed near a metal wall (electrical panel, furnace). [1]

    Returns
    -------
    Layout
    """
    for name, value in (("mdts", mdts), ("repeaters", repeaters), ("units_per_building", units_per_building)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    if units_per_building == 0:
        raise ValueError("units_per_building must be > 0")
    for name, fvalue in (
        ("building_m", building_m),
        ("street_m", street_m),
        ("wall_spacing_m", wall_spacing_m),
    ):
        if not (np.isfinite(fvalue) and fvalue > 0):
            raise ValueError(f"{name} must be finite and > 0, got {fvalue!r}")
    for name, fvalue in (
        ("metal_box_fraction", metal_box_fraction),
        ("metal_wall_fraction", metal_wall_fraction),
    ):
        if not (np.isfinite(fvalue) and 0 <= fvalue <= 1):
            raise ValueError(f"{name} must be in [0, 1], got {fvalue!r}")
    rng = np.random.default_rng(seed)
    buildings = max(1, -(-mdts // units_per_building))
    side = int(np.ceil(np.sqrt(buildings)))
    pitch = building_m + street_m
    origins = np.array([(i % side, i // side) for i in range(buildings)], dtype=np.float64) * pitch
    centre = origins.mean(axis=0) + building_m / 2
    # MDTs: inside the buildings, a few metres apart
    which = np.arange(mdts) // units_per_building
    mdt_pos = origins[which] + rng.uniform(2.0, building_m - 2.0, size=(mdts, 2))
    # repeaters: building corners sorted by distance to the DCAP, nearest first, jittered
    corners = (
        origins[:, None, :] + np.array([[0, 0], [building_m, 0], [0, building_m], [building_m, building_m]])
    ).reshape(-1, 2)
    order = np.argsort(np.hypot(*(corners - centre).T), kind="stable")
    ring = corners[order]
    # spread the repeaters: take every k-th corner so that they cover the site
    step = max(1, len(ring) // max(repeaters, 1))
    rep_pos = ring[::step][:repeaters]
    if len(rep_pos) < repeaters:
        extra = centre + rng.uniform(-side * pitch / 2, side * pitch / 2, size=(repeaters - len(rep_pos), 2))
        rep_pos = np.vstack([rep_pos, extra])
    rep_pos = rep_pos + rng.uniform(-1.0, 1.0, size=rep_pos.shape)
    positions = np.vstack([centre[None, :], rep_pos, mdt_pos])
    kinds = (DeviceKind.DCAP, *([DeviceKind.REPEATER] * repeaters), *([DeviceKind.MDT] * mdts))
    n = len(kinds)
    diff = positions[:, None, :] - positions[None, :, :]
    dist = np.sqrt((diff**2).sum(axis=2))
    walls = np.minimum(np.floor(dist / wall_spacing_m), max_walls).astype(np.int64)
    np.fill_diagonal(walls, 0)
    is_mdt = np.array([k is DeviceKind.MDT for k in kinds])
    metal_box = is_mdt & (rng.uniform(size=n) < metal_box_fraction)
    metal_wall = is_mdt & (rng.uniform(size=n) < metal_wall_fraction)
    counters = {DeviceKind.DCAP: 0, DeviceKind.REPEATER: 0, DeviceKind.MDT: 0}
    euis = []
    for kind in kinds:
        euis.append(eui64_for(kind, counters[kind], seed))
        counters[kind] += 1
    return Layout(
        positions_m=positions,
        kinds=kinds,
        walls=walls,
        metal_box=metal_box,
        metal_wall=metal_wall,
        euis=tuple(euis),
    )
