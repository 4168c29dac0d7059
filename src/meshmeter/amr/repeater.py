"""The repeater (manual §2.6, §5.2): a mains-powered router of the mesh that stores and forwards.

A repeater forwards frames towards the DCAP; when its next hop fails every retry (the DCAP unreachable, its
parent without power) it keeps the frame and tries again later, oldest first (``docs/network.md``, "Data").
This class holds the repeater's parameters and state; :class:`~meshmeter.amr.network.MeshNetwork` drives it
(when it is powered, joins, forwards and retries).
"""

from __future__ import annotations

from collections import deque

from meshmeter.amr.led import DeviceLed

__all__ = ["Repeater", "StoredFrame"]

StoredFrame = tuple[bytes, int, float]
"""A frame a repeater holds: its bytes, the index of the device that sent it first, and the run time at which
the repeater stored it. [s]"""


class Repeater:
    """
    A repeater's store and forward.

    Parameters
    ----------
    eui64 : bytes
        The repeater's EUI-64.
    led : DeviceLed
        Its LED and power-state timeline (manual §5.2).
    capacity : int
        Frames held at most; beyond, the oldest is dropped. [1]
    """

    __slots__ = ("_store", "capacity", "dropped", "eui64", "led", "stored_max")

    def __init__(self, eui64: bytes, led: DeviceLed, *, capacity: int = 20_000) -> None:
        if not isinstance(eui64, bytes) or len(eui64) != 8:
            raise ValueError(f"eui64 must be 8 bytes, got {eui64!r}")
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be an int >= 1, got {capacity!r}")
        self.eui64 = eui64
        self.led = led
        self.capacity = capacity
        self._store: deque[StoredFrame] = deque()
        self.stored_max = 0
        """Most frames held at once. [1]"""
        self.dropped = 0
        """Frames dropped because the store was full. [1]"""

    def __len__(self) -> int:
        return len(self._store)

    def keep(self, data: bytes, origin: int, t: float) -> None:
        """Hold a frame that could not go on (the oldest held is dropped when the store is full)."""
        store = self._store
        if len(store) >= self.capacity:
            store.popleft()
            self.dropped += 1
        store.append((data, origin, t))
        self.stored_max = max(self.stored_max, len(store))

    def take_oldest(self) -> StoredFrame:
        """Take out the oldest frame held, to try it again."""
        return self._store.popleft()

    def put_back_oldest(self, data: bytes) -> None:
        """
        A frame taken out with :meth:`take_oldest` failed again and was kept (:meth:`keep` put it last):
        put it back first, so the order of the frames held is kept.
        """
        store = self._store
        if store and store[-1][0] is data:
            store.appendleft(store.pop())

    @property
    def frames(self) -> tuple[StoredFrame, ...]:
        """The frames held, oldest first."""
        return tuple(self._store)
