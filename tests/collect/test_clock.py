"""The collector's clock: a wait ends at its instant, never before, whatever the timer does.

The benchmark's simulated day (``benchmarks/collect.py --hours 24 --scale 48``, issue 14's closing note)
counted 465,736 Modbus readings where one poll a minute of 100 devices' two registers gives 288,000: a wait
that ended a little early polled before its instant, and the next poll's instant, reckoned from that
present, was the same instant again. These tests keep the wait honest with a timer that ends early.
"""

from __future__ import annotations

import threading
import time

import pytest

from meshmeter.collect.collector import Clock


class _EarlyTimer(threading.Event):
    """An event whose timed wait ends after a fifth of the time asked (a coarse or stepped timer)."""

    def __init__(self) -> None:
        super().__init__()
        self.waits = 0

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        return super().wait(None if timeout is None else timeout / 5)


@pytest.mark.parametrize("scale", [1.0, 48.0, 900.0])
def test_a_wait_ends_at_its_instant_or_later(scale: float) -> None:
    clock = Clock(real_anchor_s=time.time(), simulated_anchor_s=1_800_000_000.0, scale=scale)
    at_ms = clock.now_ms() + int(200 * scale)  # 0.2 s of real time ahead
    timer = _EarlyTimer()
    assert clock.sleep_until_ms(at_ms, timer)
    assert clock.now_ms() >= at_ms
    assert timer.waits > 1  # the early ends were waited out again


def test_a_stop_ends_the_wait_at_once() -> None:
    clock = Clock(real_anchor_s=time.time(), simulated_anchor_s=1_800_000_000.0, scale=1.0)
    stop = threading.Event()
    threading.Timer(0.05, stop.set).start()
    started = time.monotonic()
    assert not clock.sleep_until_ms(clock.now_ms() + 60_000, stop)
    assert time.monotonic() - started < 30
    assert not clock.sleep_until_ms(clock.now_ms() - 1, stop)  # stopped: no poll, even when due
