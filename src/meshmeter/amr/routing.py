"""Routing of the mesh: path costs from the DCAP and each device's choice of parent.

As RPL does with the MRHOF objective function (RFC 6719), a device's path cost is the expected number of
transmissions (ETX) of its link to a parent plus the parent's own path cost, the DCAP's being zero; a link
must also clear an RSSI floor, and a device changes parent only when the new path is better by a margin
(hysteresis), so that routes do not flap on small changes. Repeaters form the backbone (they route for
others); MDTs are leaves that choose a backbone parent. Pure functions over numpy arrays.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["backbone_routes", "choose_parents", "etx_matrix"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def etx_matrix(success: FloatArray) -> FloatArray:
    """
    Expected transmissions of every link: ETX = 1 / (p_forward · p_ack) (De Couto et al., 2003).

    Parameters
    ----------
    success : ndarray, shape (n, n)
        ``success[i, j]``: probability that a frame from i is received by j. [1]

    Returns
    -------
    etx : ndarray, shape (n, n)
        ``inf`` where either direction never gets through, and on the diagonal. [1]
    """
    p = np.asarray(success, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != p.shape[1]:
        raise ValueError(f"success must be a square matrix, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("success must hold probabilities in [0, 1]")
    both = p * p.T
    with np.errstate(divide="ignore"):
        etx: FloatArray = np.where(both > 0, 1.0 / both, np.inf)
    np.fill_diagonal(etx, np.inf)
    return etx


def backbone_routes(
    etx: FloatArray, usable: NDArray[np.bool_], backbone: NDArray[np.bool_], root: int = 0
) -> tuple[FloatArray, IntArray]:
    """
    Path cost of every backbone device to the root and its parent, by Dijkstra over usable links.

    Parameters
    ----------
    etx : ndarray, shape (n, n)
        Link ETX. [1]
    usable : ndarray of bool, shape (n, n)
        Links that clear the RSSI floor (both ways).
    backbone : ndarray of bool, shape (n,)
        Devices that route (the DCAP and joined, powered repeaters).
    root : int
        The DCAP.

    Returns
    -------
    cost : ndarray, shape (n,)
        Path cost to the root (``inf`` when unreachable or not in the backbone). [1]
    parent : ndarray of intp, shape (n,)
        Next hop towards the root (-1 for the root and for the unreachable).
    """
    n = etx.shape[0]
    if usable.shape != (n, n) or backbone.shape != (n,):
        raise ValueError("usable must be (n, n) and backbone (n,)")
    if not backbone[root]:
        raise ValueError("the root must be in the backbone")
    weight = np.where(usable, etx, np.inf)
    cost = np.full(n, np.inf)
    parent = np.full(n, -1, dtype=np.intp)
    cost[root] = 0.0
    done = ~backbone.copy()
    while True:
        open_cost = np.where(done, np.inf, cost)
        u = int(np.argmin(open_cost))
        if not np.isfinite(open_cost[u]):
            break
        done[u] = True
        through = cost[u] + weight[u]
        better = (~done) & (through < cost)
        cost[better] = through[better]
        parent[better] = u
    cost[~backbone] = np.inf
    parent[~backbone] = -1
    return cost, parent


def choose_parents(
    etx: FloatArray,
    usable: NDArray[np.bool_],
    cost: FloatArray,
    devices: IntArray,
    current: IntArray,
    *,
    hysteresis: float = 0.25,
) -> tuple[IntArray, FloatArray]:
    """
    Best parent of each device among backbone devices with a finite path cost, with hysteresis.

    Parameters
    ----------
    etx : ndarray, shape (n, n)
        Link ETX. [1]
    usable : ndarray of bool, shape (n, n)
        Links that clear the RSSI floor.
    cost : ndarray, shape (n,)
        Backbone path costs (``inf`` for non-routers). [1]
    devices : ndarray of intp
        The devices choosing.
    current : ndarray of intp
        Their present parents (-1 for none).
    hysteresis : float
        A device keeps a usable present parent unless another path is cheaper by more than this share
        of the present path's cost (RFC 6719 uses a fixed threshold; a share scales with the path). [1]

    Returns
    -------
    parent : ndarray of intp
        Chosen parent per device (-1 when none is reachable).
    path_cost : ndarray
        Path cost through it. [1]
    """
    if not 0 <= hysteresis < 1:
        raise ValueError(f"hysteresis must be in [0, 1), got {hysteresis!r}")
    if devices.shape != current.shape:
        raise ValueError("devices and current must have the same shape")
    through = np.where(usable[devices], etx[devices], np.inf) + cost[None, :]
    through[np.arange(devices.size), devices] = np.inf  # not one's own parent
    best = np.argmin(through, axis=1).astype(np.intp)
    best_cost = through[np.arange(devices.size), best]
    has = current >= 0
    keep_cost = np.full(devices.size, np.inf)
    keep_cost[has] = through[np.flatnonzero(has), current[has]]
    keep = np.isfinite(keep_cost) & (best_cost >= keep_cost * (1.0 - hysteresis))
    parent = np.where(keep, current, np.where(np.isfinite(best_cost), best, -1)).astype(np.intp)
    path_cost = np.where(keep, keep_cost, best_cost)
    return parent, path_cost
