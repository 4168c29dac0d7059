"""Tests of the repeater's store and forward, and of the modules split from the mesh."""

from __future__ import annotations

import pytest

from meshmeter.amr.keys import device_key
from meshmeter.amr.led import DeviceLed
from meshmeter.amr.links import SIZE_BUCKETS, size_bucket
from meshmeter.amr.repeater import Repeater
from meshmeter.amr.topology import DeviceKind, eui64_for

EUI = eui64_for(DeviceKind.REPEATER, 0)


def test_repeater_keeps_frames_oldest_first_and_drops_the_oldest_when_full() -> None:
    repeater = Repeater(EUI, DeviceLed(0.0), capacity=3)
    for k in range(5):
        repeater.keep(bytes([k]), 10 + k, float(k))
    assert len(repeater) == 3
    assert repeater.frames == ((b"\x02", 12, 2.0), (b"\x03", 13, 3.0), (b"\x04", 14, 4.0))
    assert repeater.dropped == 2
    assert repeater.stored_max == 3


def test_a_frame_that_fails_again_goes_back_first() -> None:
    # store and forward: the oldest is taken out and tried; failing again, the network keeps it (last),
    # and the repeater puts it back first so the order of the frames held is kept
    repeater = Repeater(EUI, DeviceLed(0.0))
    repeater.keep(b"a", 1, 0.0)
    repeater.keep(b"b", 2, 1.0)
    data, origin, _ = repeater.take_oldest()
    assert (data, origin) == (b"a", 1)
    repeater.keep(data, origin, 5.0)
    repeater.put_back_oldest(data)
    assert [f[0] for f in repeater.frames] == [b"a", b"b"]
    repeater.put_back_oldest(b"other")  # not the one kept last: nothing moves
    assert [f[0] for f in repeater.frames] == [b"a", b"b"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"eui64": b"short"}, "eui64"), ({"capacity": 0}, "capacity"), ({"capacity": True}, "capacity")],
)
def test_repeater_refuses_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"eui64": EUI, "led": DeviceLed(0.0), **kwargs}
    with pytest.raises(ValueError, match=match):
        Repeater(**args)  # type: ignore[arg-type]


def test_device_keys_are_per_device_and_per_seed() -> None:
    other = eui64_for(DeviceKind.MDT, 0)
    assert len(device_key(EUI, 1)) == 16
    assert device_key(EUI, 1) == device_key(EUI, 1)
    assert device_key(EUI, 1) != device_key(EUI, 2)
    assert device_key(EUI, 1) != device_key(other, 1)


def test_size_bucket_is_the_smallest_that_holds_the_frame() -> None:
    assert size_bucket(1) == 40
    assert size_bucket(40) == 40
    assert size_bucket(41) == 64
    assert size_bucket(5000) == SIZE_BUCKETS[-1]
