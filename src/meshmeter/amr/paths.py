"""The mesh's routes over its devices: parents, path costs, hop counts, and the paths kept for the hot path.

The choices are those of :mod:`~meshmeter.amr.routing` (ETX path costs over the routers, MDTs as leaves, a
parent kept unless another is cheaper by the hysteresis; ``docs/network.md``, "Routing"); :class:`Routes`
applies them to the devices of a run: when the backbone changes (:meth:`Routes.recompute`), when a child
finds its parent dead (:meth:`Routes.reselect`), and when a device searches for a parent
(:meth:`Routes.best_router`).

Any change of a parent bumps :attr:`Routes.version`. Until it changes, each device's way up for a frame
size bucket (every hop's sender, receiver and success probabilities) and its way down (the repeaters on it
and the product of its hops' success probabilities) are kept on its :class:`~meshmeter.amr.node.Node`:
the route cache of ``docs/network.md`` ("Speed"). With ``cache=False`` they are walked again each time;
the hops, probabilities and so the draws are the same (a test compares whole runs).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from meshmeter.amr.links import Links
from meshmeter.amr.node import Hop, Node
from meshmeter.amr.routing import backbone_routes, choose_parents
from meshmeter.amr.topology import DeviceKind

__all__ = ["MAX_HOPS", "Routes"]

MAX_HOPS = 64
"""Hops after which a path is taken to loop. [1]"""


class Routes:
    """
    The routes of a run's devices.

    Parameters
    ----------
    nodes : list of Node
        The devices, in layout order (index 0 the DCAP).
    links : Links
        Their links.
    hysteresis : float
        Share by which a new path must be cheaper before a device changes parent. [1]
    max_frame_retries : int
        Retries per hop (for the success of a path's downlink). [1]
    cache : bool
        Keep each device's way up and down until a route changes (default); False walks them each time.
    """

    def __init__(
        self,
        nodes: list[Node],
        links: Links,
        *,
        hysteresis: float,
        max_frame_retries: int,
        cache: bool = True,
    ) -> None:
        self.nodes = nodes
        self.links = links
        self.hysteresis = hysteresis
        self.tries = max_frame_retries + 1
        self.cache = bool(cache)
        self.version = 0
        """Bumped at every change of a parent: the ways kept on the nodes are stale."""
        n = len(nodes)
        self.cost = np.full(n, np.inf)
        """Path cost of each device to the DCAP (finite for joined routers only). [1]"""
        self.cost[0] = 0.0
        self.hops: NDArray[np.int64] = np.zeros(n, dtype=np.int64)
        """Hops of each device to the DCAP. [1]"""
        self.mdt_indices = [d.index for d in nodes if d.kind is DeviceKind.MDT]

    def set_parent(self, node: Node, parent: int) -> None:
        """Give a device a parent (-1: none)."""
        node.parent = parent
        self.version += 1

    def recompute(self) -> None:
        """The backbone changed: routes over the joined, powered routers, then every joined MDT's parent."""
        nodes = self.nodes
        backbone = np.array([d.kind is not DeviceKind.MDT and d.joined and d.up for d in nodes], dtype=bool)
        backbone[0] = True
        routers = np.flatnonzero(backbone)  # Dijkstra over the routers only (MDTs are leaves)
        sub = np.ix_(routers, routers)
        sub_cost, sub_parent = backbone_routes(
            self.links.etx[sub], self.links.usable[sub], np.ones(routers.size, dtype=bool)
        )
        cost = np.full(len(nodes), np.inf)
        parent = np.full(len(nodes), -1, dtype=np.intp)
        cost[routers] = sub_cost
        parent[routers] = np.where(sub_parent >= 0, routers[np.maximum(sub_parent, 0)], -1)
        for d in nodes:
            if d.kind is DeviceKind.REPEATER and d.joined and d.up:
                new = int(parent[d.index])
                if new != d.parent:
                    d.stats.parent_changes += 1 if d.parent >= 0 else 0
                    self.set_parent(d, new)
        self.cost = cost
        hops = np.zeros(len(nodes), dtype=np.int64)
        for d in nodes:
            if d.kind is DeviceKind.REPEATER and d.joined and d.up and d.parent >= 0:
                h, j = 0, d.index
                while j > 0 and h < len(nodes):
                    j = nodes[j].parent if j > 0 else -1
                    h += 1
                hops[d.index] = h
        self.hops = hops
        mdts = np.array([i for i in self.mdt_indices if nodes[i].joined], dtype=np.intp)
        if mdts.size:
            current = np.array([nodes[i].parent for i in mdts], dtype=np.intp)
            chosen, _ = choose_parents(
                self.links.etx, self.links.usable, cost, mdts, current, hysteresis=self.hysteresis
            )
            for i, p in zip(mdts, chosen, strict=True):
                d = nodes[int(i)]
                if int(p) != d.parent:
                    d.stats.parent_changes += 1 if d.parent >= 0 else 0
                    self.set_parent(d, int(p))
                self.hops[int(i)] = self.hops[int(p)] + 1 if p >= 0 else 0

    def reselect(self, d: Node, dead: int) -> None:
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
            self.links.etx,
            self.links.usable,
            cost,
            np.array([d.index]),
            np.array([-1]),
            hysteresis=self.hysteresis,
        )
        new = int(chosen[0])
        if new != d.parent:
            d.stats.parent_changes += 1
            self.set_parent(d, new)

    def best_router(self, i: int, *, dcap_reachable: bool) -> int:
        """The best joined backbone device device ``i`` hears (-1: none); routers only have finite costs."""
        through = np.where(self.links.usable[i], self.links.etx[i] + self.cost, np.inf)
        through[i] = np.inf
        if not dcap_reachable:
            through[0] = np.inf
        best = int(np.argmin(through))
        return best if math.isfinite(through[best]) else -1

    def uplink(self, start: int, bucket: int) -> tuple[Hop, ...] | None:
        """
        The hops from ``start`` to the DCAP for a frame of a size bucket, with their links' success
        probabilities; None when the parents do not lead to the DCAP (a device without a parent, or more
        than :data:`MAX_HOPS` hops). Walked now, and kept on the node as ``(version, bucket, hops)`` when the
        cache is on: a caller may take the kept one while its version is :attr:`version` and its bucket
        the frame's.
        """
        nodes = self.nodes
        link = self.links.link
        hops: list[Hop] = []
        route: tuple[Hop, ...] | None = None
        cur = start
        while True:
            if cur == 0:
                route = tuple(hops)
                break
            d = nodes[cur]
            parent = d.parent
            if parent < 0 or len(hops) >= MAX_HOPS:
                break
            p_data, p_ack = link(cur, parent, bucket)
            hops.append((cur, parent, p_data, p_ack, d.stats, nodes[parent]))
            cur = parent
        if self.cache:
            nodes[start].uplink = (self.version, bucket, route)
        return route

    def downlink(self, origin: int) -> tuple[tuple[Node, ...], float]:
        """
        The way down from the DCAP to ``origin``: the repeaters on it, and the probability that a frame
        gets down it with every hop retried (0 when the parents do not lead to the DCAP). Walked now, and
        kept on the node as ``(version, repeaters, probability)`` when the cache is on, for a caller to take
        while its version is :attr:`version`. Whether each node on it is up is for the caller to ask at the
        time.
        """
        nodes = self.nodes
        cur = origin
        path: list[int] = []
        while cur > 0 and len(path) < MAX_HOPS:
            path.append(cur)
            cur = nodes[cur].parent
        total = 1.0
        parents = tuple(nodes[child].parent for child in path)
        if cur != 0:
            total = 0.0
        else:
            for child, parent in zip(path, parents, strict=True):
                p = self.links.exchange_success(parent, child)
                total *= 1.0 - (1.0 - p) ** self.tries
        repeaters = tuple(nodes[parent] for parent in parents if parent)
        if self.cache:
            nodes[origin].downlink = (self.version, repeaters, total)
        return repeaters, total
