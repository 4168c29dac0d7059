"""Tests of the site layouts the mesh simulation runs on."""

from __future__ import annotations

import numpy as np
import pytest

from meshmeter.amr.topology import DeviceKind, campus_layout, eui64_for


def test_campus_counts_and_order() -> None:
    layout = campus_layout(mdts=100, repeaters=5, seed=1)
    assert layout.n == 106
    assert layout.kinds[0] is DeviceKind.DCAP
    assert layout.indices(DeviceKind.REPEATER).tolist() == [1, 2, 3, 4, 5]
    assert layout.indices(DeviceKind.MDT).size == 100


def test_campus_is_deterministic_under_a_seed() -> None:
    a = campus_layout(mdts=50, repeaters=3, seed=7)
    b = campus_layout(mdts=50, repeaters=3, seed=7)
    c = campus_layout(mdts=50, repeaters=3, seed=8)
    assert np.array_equal(a.positions_m, b.positions_m)
    assert a.euis == b.euis
    assert not np.array_equal(a.positions_m, c.positions_m)


def test_walls_symmetric_and_bounded() -> None:
    layout = campus_layout(mdts=60, repeaters=4, seed=2, max_walls=5)
    assert np.array_equal(layout.walls, layout.walls.T)
    assert layout.walls.max() <= 5
    assert np.all(np.diag(layout.walls) == 0)


def test_only_mdts_in_metal_boxes() -> None:
    layout = campus_layout(mdts=500, repeaters=4, seed=3, metal_box_fraction=0.5)
    mdts = layout.indices(DeviceKind.MDT)
    assert layout.metal_box[mdts].any()
    assert not layout.metal_box[: mdts[0]].any()


def test_eui64_stable_and_unique() -> None:
    a = eui64_for(DeviceKind.MDT, 1, seed=0)
    assert len(a) == 8
    assert a == eui64_for(DeviceKind.MDT, 1, seed=0)
    assert a != eui64_for(DeviceKind.MDT, 2, seed=0)
    assert a != eui64_for(DeviceKind.REPEATER, 1, seed=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mdts": -1}, "mdts"),
        ({"repeaters": 1.5}, "repeaters"),
        ({"metal_box_fraction": 2.0}, "metal_box_fraction"),
    ],
)
def test_campus_bad_input(kwargs, match) -> None:
    args = {"mdts": 10, "repeaters": 1} | kwargs
    with pytest.raises(ValueError, match=match):
        campus_layout(**args)
