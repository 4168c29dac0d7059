"""Tests of the mesh's routing: ETX, backbone path costs, parent choice with hysteresis (RFC 6719 style)."""

from __future__ import annotations

import numpy as np
import pytest

from meshmeter.amr.routing import backbone_routes, choose_parents, etx_matrix


def test_etx_hand_worked() -> None:
    # p(0->1) = 0.9, p(1->0) = 0.8: ETX = 1 / 0.72
    p = np.array([[0.0, 0.9], [0.8, 0.0]])
    etx = etx_matrix(p)
    assert etx[0, 1] == pytest.approx(1 / 0.72)
    assert etx[1, 0] == pytest.approx(1 / 0.72)
    assert np.isinf(etx[0, 0])


def test_etx_dead_link_is_infinite() -> None:
    p = np.array([[0.0, 0.9], [0.0, 0.0]])
    assert np.isinf(etx_matrix(p)[0, 1])


@pytest.mark.parametrize(
    "bad", [np.array([[0.0, 1.5], [0.5, 0.0]]), np.zeros((2, 3)), np.full((2, 2), np.nan)]
)
def test_etx_refuses_bad_input(bad) -> None:
    with pytest.raises(ValueError, match="success"):
        etx_matrix(bad)


def chain(n: int, link_etx: float = 1.25) -> np.ndarray:
    etx = np.full((n, n), np.inf)
    for i in range(n - 1):
        etx[i, i + 1] = etx[i + 1, i] = link_etx
    return etx


def test_backbone_costs_add_along_a_chain() -> None:
    # DCAP 0 - R1 - R2 - R3, each link ETX 1.25: costs 0, 1.25, 2.5, 3.75
    etx = chain(4)
    cost, parent = backbone_routes(etx, np.isfinite(etx), np.ones(4, dtype=bool))
    assert cost.tolist() == pytest.approx([0.0, 1.25, 2.5, 3.75])
    assert parent.tolist() == [-1, 0, 1, 2]


def test_backbone_skips_a_failed_repeater() -> None:
    # R2 is off: R3 becomes unreachable through the chain
    etx = chain(4)
    backbone = np.array([True, True, False, True])
    cost, parent = backbone_routes(etx, np.isfinite(etx), backbone)
    assert np.isinf(cost[2])
    assert np.isinf(cost[3])
    assert parent[3] == -1


def test_backbone_prefers_two_good_hops_over_one_bad() -> None:
    etx = np.full((3, 3), np.inf)
    etx[0, 2] = etx[2, 0] = 4.0  # a poor direct link
    etx[0, 1] = etx[1, 0] = 1.1
    etx[1, 2] = etx[2, 1] = 1.2
    cost, parent = backbone_routes(etx, np.isfinite(etx), np.ones(3, dtype=bool))
    assert parent[2] == 1
    assert cost[2] == pytest.approx(2.3)


def test_rssi_floor_excludes_links() -> None:
    etx = chain(3)
    usable = np.isfinite(etx)
    usable[1, 2] = usable[2, 1] = False
    cost, _ = backbone_routes(etx, usable, np.ones(3, dtype=bool))
    assert np.isinf(cost[2])


def test_choose_parents_and_hysteresis() -> None:
    # backbone 0 (cost 0) and 1 (cost 1.0); MDT 2 with ETX 2.0 to 0 and 1.1 to 1
    etx = np.full((3, 3), np.inf)
    etx[2, 0] = etx[0, 2] = 2.0
    etx[2, 1] = etx[1, 2] = 1.1
    cost = np.array([0.0, 1.0, np.inf])
    usable = np.isfinite(etx)
    parent, path = choose_parents(etx, usable, cost, np.array([2]), np.array([-1]))
    assert parent.tolist() == [0]  # 2.0 < 2.1
    assert path.tolist() == pytest.approx([2.0])
    # already on 1 (2.1): 2.0 is not better by 25 %, so it stays
    parent, path = choose_parents(etx, usable, cost, np.array([2]), np.array([1]))
    assert parent.tolist() == [1]
    assert path.tolist() == pytest.approx([2.1])
    # its parent becomes unreachable: it moves at once
    parent, _ = choose_parents(etx, usable, np.array([0.0, np.inf, np.inf]), np.array([2]), np.array([1]))
    assert parent.tolist() == [0]


def test_choose_parents_none_reachable() -> None:
    etx = np.full((2, 2), np.inf)
    parent, path = choose_parents(
        etx, np.zeros((2, 2), dtype=bool), np.array([0.0, np.inf]), np.array([1]), np.array([-1])
    )
    assert parent.tolist() == [-1]
    assert np.isinf(path[0])


def test_choose_parents_refuses_bad_hysteresis() -> None:
    with pytest.raises(ValueError, match="hysteresis"):
        choose_parents(
            np.zeros((1, 1)),
            np.zeros((1, 1), dtype=bool),
            np.zeros(1),
            np.array([0]),
            np.array([-1]),
            hysteresis=1.0,
        )
