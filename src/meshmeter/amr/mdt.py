"""The Meter Data Transceiver (MDT) of the MMSMT kits (manual §2.4, §2.5.2, §2.6, §5).

The MDT counts the closures of the meter's pulse output "10" (10 Wh per pulse, manual §5.1),
logs the cumulative count at every 15-minute interval end (:00, :15, :30, :45 UTC) with a
sequence number, keeps the records it could not deliver (at least 45 days), sends them oldest
first, reports a cover removed or replaced at once (tamper micro-switch, manual §2.5.2) and, for the
D02 and E02 kits, the temperature.

A plain class, written without SimPy: every method takes the network time ``now_s`` explicitly
[s, seconds since the Unix epoch, UTC]; the network calls it and schedules what it asks for
(:meth:`Mdt.next_deadline`). Deterministic; no I/O, no logging. The choices where the manual is
silent are in ``docs/mdt.md``.

Counting rules
--------------
* A closure counts when it lasts more than ``debounce_s`` (25 ms): its duration, less the
  debounce, must exceed 1 µs, the resolution of the pulse input, so that float rounding of
  epoch-scale times cannot turn an exact 25 ms bounce into a pulse.
* A pulse is time-stamped at its closing edge, when the meter's energy crossed the threshold; an
  interval ending at ``B`` holds the pulses with ``B - 900 < time <= B``: a pulse exactly at a
  boundary belongs to the interval that ends there (docs/conventions.md, "Intervals"). The
  cumulative count at ``B`` then equals the closures of the meter's output up to ``B``.
* A closure still open at an interval end and not yet known to be longer than the debounce when
  that interval is logged is counted in the next interval (the cumulative count loses nothing).
* Counting and logging go on while the radio is OFF: the pulse input is powered from the meter's
  +12 VDC (manual §5.1); only the radio is switched by the button.
"""

from __future__ import annotations

import math
import re
from array import array
from collections import deque
from dataclasses import dataclass
from itertools import islice

import numpy as np
from numpy.typing import ArrayLike, NDArray

from meshmeter.amr.led import DeviceLed, PowerState
from meshmeter.amr.records import (
    INTERVAL_S,
    PULSE_WH,
    IntervalRecord,
    TamperEvent,
    TemperatureReading,
    interval_record,
)
from meshmeter.catalog.designations import KitSpec, decode_kit
from meshmeter.errors import KitCapabilityError
from meshmeter.meter.pulses import PulseEdges

__all__ = [
    "DEBOUNCE_S",
    "PULSE_RESOLUTION_S",
    "REPORT_PERIOD_S",
    "RETENTION_S",
    "TEMPERATURE_SPAN_C",
    "KitCapabilityError",
    "Mdt",
    "MdtReport",
    "MdtStats",
    "UrgentEvent",
    "parse_eui64",
]

DEBOUNCE_S = 0.025
"""A closure must last more than this to count as a pulse (issue 3, MDT pulse input). [s]"""

PULSE_RESOLUTION_S = 1e-6
"""Resolution of the pulse input: durations within this of the debounce are bounces. [s]"""

REPORT_PERIOD_S = INTERVAL_S
"""Default report period: every interval, for TOU (manual §2.4, §2.6). [s]"""

RETENTION_S = 45 * 86_400
"""Default backlog retention: 45 days of intervals, 4320 records (issue 3). [s]"""

TEMPERATURE_SPAN_C = (-40.0, 85.0)
"""Range of the temperature sensor, as readings on the air allow (``TemperatureReading``); the
E02's "1 % delta" is 1 % of this 125 K span, 1.25 °C. [°C]"""

_TEMPERATURE_DECIMALS = 2  # 0.01 °C on the air (TemperatureReading)
_TEMPERATURE_TOLERANCE_C = 1e-9

UrgentEvent = TamperEvent | TemperatureReading
"""An event sent at once: a tamper event, or an E02 delta-temperature reading."""


@dataclass(frozen=True, slots=True)
class MdtStats:
    """
    Counters of an MDT since it was created.

    Attributes
    ----------
    pulses_counted : int
        Closures longer than the debounce. [1]
    bounces_rejected : int
        Closures of the debounce or shorter, ignored. [1]
    records_logged : int
        Interval records logged (including those later dropped). [1]
    records_acknowledged : int
        Records removed from the backlog by an acknowledgement. [1]
    records_dropped : int
        Oldest records dropped from a full backlog, never delivered. [1]
    tamper_events : int
        Cover removals and replacements queued. [1]
    temperature_events : int
        E02 delta-temperature readings queued. [1]
    """

    pulses_counted: int
    bounces_rejected: int
    records_logged: int
    records_acknowledged: int
    records_dropped: int
    tamper_events: int
    temperature_events: int


@dataclass(frozen=True, slots=True)
class MdtReport:
    """
    What one scheduled report carries (manual §2.6: "time stamps kWh readings in 15-minute
    intervals and sends it").

    Attributes
    ----------
    eui64 : bytes
        The MDT's EUI-64, 8 bytes.
    time_s : int
        When the report was made, network time. [s]
    records : tuple of IntervalRecord
        Unacknowledged records, oldest first.
    temperature : TemperatureReading or None
        The latest temperature reading, D02 and E02 kits only; None before the first or for C02.
    """

    eui64: bytes
    time_s: int
    records: tuple[IntervalRecord, ...]
    temperature: TemperatureReading | None


_EUI64_HEX = re.compile(r"[0-9A-Fa-f]{16}|[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){6}")


def parse_eui64(eui64: bytes | str) -> bytes:
    """
    Check an EUI-64 and return its 8 bytes (IEEE 802.15.4 extended address).

    Parameters
    ----------
    eui64 : bytes or str
        8 bytes, or 16 hex digits (either case), optionally as 8 pairs separated by ``:`` or ``-``.

    Returns
    -------
    eui64 : bytes
        The 8 bytes, most significant first.

    Raises
    ------
    ValueError
        On another type or length, a non-hex digit, or the reserved all-zero and all-ones
        addresses (no device may carry them).
    """
    if isinstance(eui64, bytes | bytearray):
        raw = bytes(eui64)
        if len(raw) != 8:
            raise ValueError(f"eui64 must be 8 bytes, got {len(raw)}: {eui64!r}")
    elif isinstance(eui64, str):
        if _EUI64_HEX.fullmatch(eui64) is None:
            raise ValueError(
                f"eui64 must be 16 hex digits (optionally in pairs split by ':' or '-'), got {eui64!r}"
            )
        raw = bytes.fromhex(eui64.replace(":", "").replace("-", ""))
    else:
        raise ValueError(f"eui64 must be bytes or str, got {type(eui64).__name__}: {eui64!r}")
    if raw in (b"\x00" * 8, b"\xff" * 8):
        raise ValueError(f"eui64 must not be the reserved address {raw.hex().upper()}")
    return raw


def _check_finite(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def _ceil_to(t: float, step: int) -> int:
    return math.ceil(t / step) * step


class Mdt:
    """
    A Meter Data Transceiver: pulse counter, interval log, backlog, tamper and temperature.

    Parameters
    ----------
    kit : str
        Kit designation with a transceiver: ``"MMSMT-C02"`` (TOU), ``"MMSMT-D02"`` (TOU and
        temperature) or ``"MMSMT-E02"`` (TOU and 1 % delta temperature) (manual §2.4, Table 1).
    eui64 : bytes or str
        The device's EUI-64, see :func:`parse_eui64`.
    report_period_s : int, default 900
        Time between scheduled reports, a positive multiple of 900: 900 reports every interval
        (TOU), 3600 batches four intervals an hour. Reports fall on multiples of the period. [s]
    retention_s : float, default 45 days
        How long undelivered intervals are kept: the backlog holds ``ceil(retention_s / 900)``
        records (4320 for 45 days), at least one. [s]
    debounce_s : float, default 0.025
        A closure must last more than this to count. [s]
    led : DeviceLed, optional
        Power state and LED; default a new one, OFF, whose timeline starts at ``start_s``.
    start_s : float, optional
        Network time at which the MDT starts counting; the first record is logged at the first
        interval end at or after it. Default: the time of the first call that gives one. [s]

    Raises
    ------
    DesignationError
        When ``kit`` is not a kit designation of the catalog.
    KitCapabilityError
        When the kit has no transceiver (``6PSMT-C02``).
    ValueError
        On a bad EUI-64, report period, retention, debounce or start time.
    """

    def __init__(
        self,
        kit: str,
        eui64: bytes | str,
        *,
        report_period_s: int = REPORT_PERIOD_S,
        retention_s: float = RETENTION_S,
        debounce_s: float = DEBOUNCE_S,
        led: DeviceLed | None = None,
        start_s: float | None = None,
    ) -> None:
        spec = decode_kit(kit)
        if not spec.has_transceiver:
            raise KitCapabilityError(
                f"kit {spec.designation!r} has no Meter Data Transceiver (manual §2.4, Table 1); "
                "only the MMSMT kits have one"
            )
        self._kit = spec
        self._eui64 = parse_eui64(eui64)
        if (
            isinstance(report_period_s, bool)
            or not isinstance(report_period_s, int | np.integer)
            or report_period_s <= 0
            or report_period_s % INTERVAL_S
        ):
            raise ValueError(
                f"report_period_s must be a positive multiple of {INTERVAL_S} s, got {report_period_s!r}"
            )
        self._period_s = int(report_period_s)
        retention = float(retention_s)
        if not (math.isfinite(retention) and retention > 0.0):
            raise ValueError(f"retention_s must be finite and > 0, got {retention_s!r}")
        self._retention_s = retention
        self._capacity = max(1, math.ceil(retention / INTERVAL_S))
        debounce = float(debounce_s)
        if not (math.isfinite(debounce) and debounce >= 0.0):
            raise ValueError(f"debounce_s must be finite and >= 0, got {debounce_s!r}")
        self._debounce_s = debounce
        self._delta_c: float | None = None
        if spec.delta_temperature_percent is not None:
            lo, hi = TEMPERATURE_SPAN_C
            self._delta_c = spec.delta_temperature_percent / 100.0 * (hi - lo)

        start = None if start_s is None else _check_finite("start_s", start_s)
        if start is not None and start < 0.0:
            raise ValueError(f"start_s must be >= 0, got {start_s!r}")
        self._led = DeviceLed(start) if led is None else led

        self._start_s: float | None = None
        self._time_s: float | None = None  # clock of events: intervals, reports, tamper, temperature
        self._input_s: float | None = None  # pulse input is complete up to here
        self._next_end_s = 0  # next interval end to log
        self._next_report_s = 0
        self._sequence = 0  # sequence number of the next record
        self._logged_pulses = 0  # cumulative count at the last logged interval end
        # counted pulses, in time order: ``_pending`` holds those merged since the last merge's logged
        # interval end (``_pending_base`` pulses were counted before its first), ``_new`` those not yet
        # merged into it
        self._pending: NDArray[np.float64] = np.zeros(0, dtype=np.float64)
        self._pending_base = 0
        self._new: list[NDArray[np.float64]] = []
        # the cumulative count at each coming interval end, found for all of them in one search when
        # pulses are merged: ``_counts[k]`` at the end ``_counts_from_s + 900 k``; ends past the last
        # pending pulse count every pulse (an array, not a list: its numbers side by side in memory,
        # where a list's ints would be scattered)
        self._counts: array[int] = array("q")
        self._counts_from_s = 0
        self._open_since_s: float | None = None  # a closure whose opening edge is not yet known
        self._open_counted = False
        self._last_k: int | None = None
        self._backlog: deque[IntervalRecord] = deque(maxlen=self._capacity)
        self._urgent: deque[UrgentEvent] = deque()
        self._cover_open = False
        self._temperature: TemperatureReading | None = None
        self._temperature_reference_c: float | None = None

        self._pulses = 0
        self._bounces = 0
        self._acked = 0
        self._dropped = 0
        self._tampers = 0
        self._temperature_events = 0
        if start is not None:
            self._start(start)

    # ------------------------------------------------------------------ properties

    @property
    def kit(self) -> KitSpec:
        """The kit's catalog entry."""
        return self._kit

    @property
    def eui64(self) -> bytes:
        """EUI-64, 8 bytes."""
        return self._eui64

    @property
    def eui64_hex(self) -> str:
        """EUI-64 as 16 upper-case hex digits."""
        return self._eui64.hex().upper()

    @property
    def led(self) -> DeviceLed:
        """Power state and LED (manual §5.2)."""
        return self._led

    @property
    def connected(self) -> bool:
        """True when the radio has joined the network (:attr:`PowerState.CONNECTED`)."""
        return self._led.state is PowerState.CONNECTED

    @property
    def report_period_s(self) -> int:
        """Time between scheduled reports. [s]"""
        return self._period_s

    @property
    def retention_s(self) -> float:
        """Backlog retention. [s]"""
        return self._retention_s

    @property
    def backlog_capacity(self) -> int:
        """Most records kept undelivered, ``ceil(retention_s / 900)``. [1]"""
        return self._capacity

    @property
    def debounce_s(self) -> float:
        """Debounce of the pulse input. [s]"""
        return self._debounce_s

    @property
    def temperature_delta_c(self) -> float | None:
        """Change of temperature that queues an E02 delta reading, None for C02 and D02. [°C]"""
        return self._delta_c

    @property
    def start_s(self) -> float | None:
        """When the MDT started counting, None before the first call that gives a time. [s]"""
        return self._start_s

    @property
    def next_interval_end_s(self) -> int | None:
        """The next interval end to log, None before the start. [s]"""
        return None if self._start_s is None else self._next_end_s

    @property
    def next_report_s(self) -> int | None:
        """When the next scheduled report is due, None before the start. [s]"""
        return None if self._start_s is None else self._next_report_s

    @property
    def next_sequence(self) -> int:
        """Sequence number the next record will carry. [1]"""
        return self._sequence

    @property
    def cumulative_pulses(self) -> int:
        """Pulses counted so far, logged or not. [1]"""
        return self._pulses

    @property
    def backlog(self) -> tuple[IntervalRecord, ...]:
        """Unacknowledged records, oldest first."""
        return tuple(self._backlog)

    @property
    def cover_open(self) -> bool:
        """State of the tamper micro-switch: True when the cover is off."""
        return self._cover_open

    @property
    def temperature(self) -> TemperatureReading | None:
        """Latest temperature reading, None before the first (and always for C02)."""
        return self._temperature

    @property
    def stats(self) -> MdtStats:
        """Counters since creation."""
        return MdtStats(
            pulses_counted=self._pulses,
            bounces_rejected=self._bounces,
            records_logged=self._sequence,  # sequences are numbered from 0, one per record
            records_acknowledged=self._acked,
            records_dropped=self._dropped,
            tamper_events=self._tampers,
            temperature_events=self._temperature_events,
        )

    # ------------------------------------------------------------------ clocks

    def _start(self, t: float) -> None:
        self._start_s = t
        self._time_s = t
        self._input_s = t
        self._next_end_s = _ceil_to(t, INTERVAL_S)
        self._next_report_s = _ceil_to(t, self._period_s)

    def _event_time(self, now_s: float) -> float:
        """Check an event's time against the event clock, start if needed; no state changes else."""
        t = _check_finite("now_s", now_s)
        if self._time_s is not None and t < self._time_s:
            raise ValueError(f"now_s must be >= the previous time {self._time_s!r}, got {now_s!r}")
        if self._start_s is None:
            if t < 0.0:
                raise ValueError(f"now_s must be >= 0, got {now_s!r}")
            self._start(t)
        return t

    def next_deadline(self) -> float | None:
        """
        When the MDT next needs a call: the next interval end, report or LED transition.

        Returns
        -------
        deadline_s : float or None
            None before the start. [s]
        """
        if self._start_s is None:
            return self._led.next_deadline()
        deadlines = [float(self._next_end_s), float(self._next_report_s)]
        led = self._led.next_deadline()
        if led is not None:
            deadlines.append(led)
        return min(deadlines)

    # ------------------------------------------------------------------ pulse input

    def _bounce_free(self, duration_s: NDArray[np.float64]) -> NDArray[np.bool_]:
        ok: NDArray[np.bool_] = (duration_s - self._debounce_s) > PULSE_RESOLUTION_S
        return ok

    def _is_pulse(self, duration_s: float) -> bool:
        """Scalar :meth:`_bounce_free`: longer than the debounce, beyond the input's resolution."""
        return (duration_s - self._debounce_s) > PULSE_RESOLUTION_S

    def _check_input_start(self, first_s: float, name: str) -> None:
        if self._start_s is None:
            if first_s < 0.0:
                raise ValueError(f"{name} must be >= 0, got {first_s!r}")
            return
        assert self._input_s is not None
        if first_s < self._input_s:
            raise ValueError(
                f"{name} must not go back before the input already seen ({self._input_s!r}), got {first_s!r}"
            )

    def _count(self, times_s: NDArray[np.float64], first_s: float, end_s: float) -> None:
        """Record counted pulses (in time order) and the input's span; turn an OFF MDT on."""
        if self._start_s is None:
            self._start(first_s)
        if times_s.size:
            first_ever = self._pulses == 0
            self._new.append(times_s)
            self._pulses += int(times_s.size)
            if first_ever:
                # "the first pulse will automatically turn on the MDT" (manual §5.2); known once it
                # has outlasted the debounce, and never before the LED's own clock
                seen = float(times_s[0]) + self._debounce_s
                led_time = self._led.time_s
                self._led.first_pulse(seen if led_time is None else max(seen, led_time))
        assert self._input_s is not None
        self._input_s = max(self._input_s, end_s)

    def pulse_closures(self, closure_start_s: ArrayLike, closure_end_s: ArrayLike) -> int:
        """
        Count complete closures of the pulse input (manual §5.1: green wire to output "10").

        Parameters
        ----------
        closure_start_s : array-like of float
            When each closure began, network time, non-decreasing, not before the input already
            seen. [s]
        closure_end_s : array-like of float
            When each ended, ``>= start``, and not after the next one begins. [s]

        Returns
        -------
        counted : int
            Closures longer than the debounce, now counted; the others are bounces. [1]

        Raises
        ------
        ValueError
            On mismatched or non-1-D arrays, non-finite times, closures out of order or
            overlapping, input going back in time, or while a closure seen by
            :meth:`pulses_from_edges` is still open. Nothing changes.
        """
        start = np.asarray(closure_start_s, dtype=np.float64)
        end = np.asarray(closure_end_s, dtype=np.float64)
        if start.ndim != 1 or end.shape != start.shape:
            raise ValueError(
                f"closure_start_s and closure_end_s must be 1-D of one length, got shapes "
                f"{start.shape} and {end.shape}"
            )
        if start.size == 0:
            return 0
        if self._open_since_s is not None:
            raise ValueError(
                f"a closure that began at {self._open_since_s!r} is still open; feed its opening edge "
                "through pulses_from_edges first"
            )
        for name, arr in (("closure_start_s", start), ("closure_end_s", end)):
            bad = ~np.isfinite(arr)
            if bad.any():
                raise ValueError(f"{name} must be finite, got {arr[bad][0]!r} at index {int(np.argmax(bad))}")
        if (end < start).any():
            i = int(np.argmax(end < start))
            raise ValueError(
                f"closure_end_s must be >= closure_start_s, got {end[i]!r} < {start[i]!r} at index {i}"
            )
        overlap = start[1:] < end[:-1]
        if overlap.any():
            i = int(np.argmax(overlap)) + 1
            raise ValueError(
                f"closures must be in time order without overlap: closure {i} begins at {start[i]!r}, "
                f"before closure {i - 1} ends at {end[i - 1]!r}"
            )
        self._check_input_start(float(start[0]), "closure_start_s")
        ok = self._bounce_free(end - start)
        self._bounces += int(start.size - np.count_nonzero(ok))
        counted = start[ok]
        self._count(counted, float(start[0]), float(end[-1]))
        return int(counted.size)

    def pulses_from_edges(self, edges: PulseEdges, network_epoch_s: float) -> int:
        """
        Count the closures of the meter twin's output "10" (manual §5.1, Table 2B).

        A closure runs from an odd edge ``k`` to the next (even) edge. A closure still open at
        the end of ``edges`` is kept and decided by the next call that brings its opening edge,
        or by :meth:`close_intervals` once it has lasted more than the debounce. An opening
        edge that comes first, with no closure seen before it, ends a closure that began before
        the MDT was listening: it is not counted.

        Parameters
        ----------
        edges : PulseEdges
            Edges of the output "10" (``half_wh`` 5 Wh) on the meter's clock, in time order, with
            consecutive edge numbers continuing those of the previous call. [s]
        network_epoch_s : float
            Network time of the meter's clock zero: ``network time = edges.time_s + epoch``. [s]

        Returns
        -------
        counted : int
            Closures completed in this call and longer than the debounce. [1]

        Raises
        ------
        ValueError
            On edges of another output, non-finite or decreasing times, missing edge numbers,
            or input going back in time. Nothing changes.
        """
        if edges.half_wh != PULSE_WH / 2:
            raise ValueError(
                f"edges must come from the output '10' (half_wh {PULSE_WH / 2}), "
                f"got half_wh {edges.half_wh!r}"
            )
        epoch = _check_finite("network_epoch_s", network_epoch_s)
        if len(edges) == 0:
            return 0
        t = np.asarray(edges.time_s, dtype=np.float64) + epoch
        k = np.asarray(edges.k, dtype=np.int64)
        if not np.isfinite(t).all():
            bad = ~np.isfinite(t)
            raise ValueError(f"edge times must be finite, got {t[bad][0]!r} at index {int(np.argmax(bad))}")
        if t.size > 1:
            back = np.diff(t) < 0.0
            if back.any():
                i = int(np.argmax(back)) + 1
                raise ValueError(
                    f"edge times must be non-decreasing, got {t[i]!r} after {t[i - 1]!r} at index {i}"
                )
            skip = np.diff(k) != 1
            if skip.any():
                i = int(np.argmax(skip)) + 1
                raise ValueError(
                    f"edge numbers must be consecutive, got k={k[i]} after k={k[i - 1]} at index {i}"
                )
        if self._last_k is not None and int(k[0]) != self._last_k + 1:
            raise ValueError(f"edges must continue from k={self._last_k}, got k={int(k[0])} first")
        self._check_input_start(float(t[0]), "edges.time_s + network_epoch_s")

        before = self._pulses
        times: list[NDArray[np.float64]] = []
        i0 = 0
        if k[0] % 2 == 0:  # the opening edge of a closure begun before this call
            i0 = 1
            if self._open_since_s is not None:
                if not self._open_counted:
                    if self._is_pulse(float(t[0]) - self._open_since_s):
                        times.append(np.array([self._open_since_s]))
                    else:
                        self._bounces += 1
                self._open_since_s = None
                self._open_counted = False
        starts = t[i0::2]
        ends = t[i0 + 1 :: 2]
        if starts.size > ends.size:
            self._open_since_s = float(starts[-1])
            self._open_counted = False
            starts = starts[:-1]
        ok = self._bounce_free(ends - starts)
        self._bounces += int(starts.size - np.count_nonzero(ok))
        times.append(starts[ok])
        self._count(np.concatenate(times), float(t[0]), float(t[-1]))
        self._last_k = int(k[-1])
        return self._pulses - before

    # ------------------------------------------------------------------ interval log

    def _merge_pending(self) -> None:
        """Merge the newly counted pulses into ``_pending``; find the count at every coming end."""
        logged = self._logged_pulses
        # the pulses already logged are the first ``logged - base`` of those pending: drop them
        pending = np.concatenate([self._pending[logged - self._pending_base :], *self._new])
        self._pending = pending
        self._pending_base = logged
        self._new = []
        first = self._next_end_s
        if pending.size:
            last = _ceil_to(float(pending[-1]), INTERVAL_S)
            ends = first + INTERVAL_S * np.arange(max(0, (last - first) // INTERVAL_S + 1), dtype=np.int64)
            counts = logged + np.searchsorted(pending, ends, side="right").astype(np.int64)
            self._counts = array("q", counts.tobytes())
        else:
            self._counts = array("q")
        self._counts_from_s = first

    def _log_next(self, end: int) -> None:
        """Log the interval ending at ``end`` (the next one, its pulses merged): its record from the counts
        found for the coming interval ends (one lookup), the next sequence number."""
        counts = self._counts
        k = (end - self._counts_from_s) // INTERVAL_S
        pulses = counts[k] if k < len(counts) else self._pending_base + self._pending.size
        backlog = self._backlog
        if len(backlog) == self._capacity:
            self._dropped += 1
        backlog.append(interval_record(self._sequence, end, pulses))
        self._sequence += 1
        self._logged_pulses = pulses
        self._next_end_s = end + INTERVAL_S

    def close_intervals(self, now_s: float) -> int:
        """
        Log every interval end at or before ``now_s`` not yet logged (manual §2.6, §5.1).

        Calling it says the pulse input is complete up to ``now_s``: later input must not begin
        before it. Each record carries the next sequence number and the cumulative count of
        pulses time-stamped at or before its end. A year's gap costs one vectorised pass; only
        the records the backlog can hold are built, the older ones are counted as dropped.

        Parameters
        ----------
        now_s : float
            Network time, not before the previous event. [s]

        Returns
        -------
        logged : int
            Records logged by this call. [1]

        Raises
        ------
        ValueError
            When ``now_s`` is not finite or goes backwards; nothing changes.
        """
        time_s = self._time_s
        if type(now_s) is float and time_s is not None and time_s <= now_s < math.inf:
            t = now_s  # the usual call, with a later time: what _event_time checks, cheaply
        else:
            t = self._event_time(now_s)
        input_s = self._input_s
        assert input_s is not None
        if t > input_s:
            self._input_s = t
        self._time_s = t
        open_since = self._open_since_s
        if (
            open_since is not None
            and not self._open_counted
            and open_since <= t
            and self._is_pulse(t - open_since)
        ):
            # still closed at now_s, so longer than the debounce: count it at its closing edge
            self._open_counted = True
            self._count(np.array([open_since]), t, t)
        end = self._next_end_s  # a multiple of 900
        if t < end:
            return 0
        if self._new:
            self._merge_pending()
        if t < end + INTERVAL_S:  # the usual call, once an interval: no arrays, no search
            self._log_next(end)
            return 1
        n = (math.floor(t / INTERVAL_S) * INTERVAL_S - end) // INTERVAL_S + 1
        ends = end + INTERVAL_S * np.arange(n, dtype=np.int64)
        cumulative = self._pending_base + np.searchsorted(self._pending, ends, side="right")

        keep = min(n, self._capacity)
        dropped = max(0, len(self._backlog) + n - self._capacity)
        first_seq = self._sequence
        self._backlog.extend(
            IntervalRecord(first_seq + i, int(ends[i]), int(cumulative[i])) for i in range(n - keep, n)
        )
        self._dropped += dropped
        self._sequence += n
        self._logged_pulses = int(cumulative[-1])
        self._next_end_s = int(ends[-1]) + INTERVAL_S
        return n

    def records_to_send(self, now_s: float, max_records: int) -> tuple[IntervalRecord, ...]:
        """
        The oldest unacknowledged records, after logging the interval ends due by ``now_s``.

        Parameters
        ----------
        now_s : float
            Network time. [s]
        max_records : int
            Most records to return, >= 1 (what one frame or one report carries). [1]

        Returns
        -------
        records : tuple of IntervalRecord
            Oldest first; they stay in the backlog until :meth:`acknowledge`.
        """
        if (
            type(max_records) is not int
            and (isinstance(max_records, bool) or not isinstance(max_records, int))
        ) or max_records < 1:
            raise ValueError(f"max_records must be an int >= 1, got {max_records!r}")
        self.close_intervals(now_s)
        backlog = self._backlog
        return tuple(backlog) if len(backlog) <= max_records else tuple(islice(backlog, max_records))

    def acknowledge(self, up_to_sequence: int) -> int:
        """
        Remove the records delivered: a cumulative acknowledgement of every sequence up to one.

        Idempotent: an acknowledgement older than the backlog (a repeated or late one) removes
        nothing.

        Parameters
        ----------
        up_to_sequence : int
            Highest sequence number delivered, with every one before it. [1]

        Returns
        -------
        removed : int
            Records removed from the backlog. [1]

        Raises
        ------
        ValueError
            When ``up_to_sequence`` is not an int or names a record not yet logged; nothing changes.
        """
        if type(up_to_sequence) is not int and (
            isinstance(up_to_sequence, bool) or not isinstance(up_to_sequence, int | np.integer)
        ):
            raise ValueError(f"up_to_sequence must be an int, got {up_to_sequence!r}")
        if up_to_sequence >= self._sequence:
            raise ValueError(
                f"up_to_sequence must name a record already logged (< {self._sequence}), "
                f"got {up_to_sequence!r}"
            )
        removed = 0
        while self._backlog and self._backlog[0].sequence <= up_to_sequence:
            self._backlog.popleft()
            removed += 1
        self._acked += removed
        return removed

    # ------------------------------------------------------------------ reports

    def report_due(self, now_s: float) -> bool:
        """
        Whether a scheduled report is due at ``now_s``: every interval end for TOU, every hour
        for hourly batches (the report period). Reading it changes nothing.

        Parameters
        ----------
        now_s : float
            Network time. [s]
        """
        t = _check_finite("now_s", now_s)
        return self._start_s is not None and t >= self._next_report_s

    def report(self, now_s: float, max_records: int) -> MdtReport:
        """
        Make the scheduled report: the oldest records (after logging those due) and, for D02 and
        E02, the latest temperature; the next report is due at the next multiple of the period
        after ``now_s``.

        Parameters
        ----------
        now_s : float
            Network time. [s]
        max_records : int
            Most records to carry, >= 1. [1]

        Returns
        -------
        MdtReport
        """
        records, reading = self.report_payload(now_s, max_records)
        return MdtReport(self._eui64, math.floor(float(now_s)), records, reading)

    def report_payload(
        self, now_s: float, max_records: int
    ) -> tuple[tuple[IntervalRecord, ...], TemperatureReading | None]:
        """
        Make the scheduled report as :meth:`report` does, and return what its frames carry.

        The same effects as :meth:`report` (intervals due logged, the next report scheduled, the
        temperature reference moved), without the :class:`MdtReport` around the result: the path a
        mesh takes at every report.

        Parameters
        ----------
        now_s : float
            Network time. [s]
        max_records : int
            Most records to carry, >= 1. [1]

        Returns
        -------
        records : tuple of IntervalRecord
            Unacknowledged records, oldest first.
        temperature : TemperatureReading or None
            The latest temperature reading of a D02 or E02 kit, else None.
        """
        if (
            type(max_records) is not int
            and (isinstance(max_records, bool) or not isinstance(max_records, int))
        ) or max_records < 1:
            raise ValueError(f"max_records must be an int >= 1, got {max_records!r}")
        end = self._next_end_s
        time_s = self._time_s
        input_s = self._input_s
        backlog = self._backlog
        if (  # the usual report: at the next interval end, its pulses merged, no closure to decide
            now_s == end
            and type(now_s) is float
            and time_s is not None
            and input_s is not None
            and time_s <= now_s <= input_s
            and not self._new
            and self._open_since_s is None
        ):
            # close_intervals(now_s) in this case is _log_next(end): its lines run here, for this is the
            # report of every MDT at every interval (a call would add about 80 ns, a twelfth of this
            # method); test_report_payload_logs_as_close_intervals_does checks both give the same
            self._time_s = now_s
            counts = self._counts
            k = (end - self._counts_from_s) // INTERVAL_S
            pulses = counts[k] if k < len(counts) else self._pending_base + self._pending.size
            if len(backlog) == self._capacity:
                self._dropped += 1
            backlog.append(interval_record(self._sequence, end, pulses))
            self._sequence += 1
            self._logged_pulses = pulses
            self._next_end_s = end + INTERVAL_S
        else:
            self.close_intervals(now_s)  # then the oldest records, as records_to_send gives them
        records = tuple(backlog) if len(backlog) <= max_records else tuple(islice(backlog, max_records))
        period = self._period_s
        due = self._next_report_s
        # the next multiple of the period after now_s: the one after this one when made at its time
        self._next_report_s = (
            due + period if now_s == due else (math.floor(float(now_s) / period) + 1) * period
        )
        reading = self._temperature  # None before the first reading, and always for C02
        if reading is not None:
            self._temperature_reference_c = reading.temperature_c
        return records, reading

    # ------------------------------------------------------------------ tamper, temperature

    def cover_changed(self, now_s: float, open: bool) -> bool:
        """
        The tamper micro-switch: the enclosure cover removed (``open``) or replaced (manual §2.5.2,
        §5.1). The event is urgent: it is sent at once (:meth:`urgent`), not at the next report.

        Parameters
        ----------
        now_s : float
            Network time. [s]
        open : bool
            True when the cover was removed.

        Returns
        -------
        queued : bool
            True when the state changed and a :class:`TamperEvent` was queued; a repeat of the
            current state is no change.
        """
        if not isinstance(open, bool):
            raise ValueError(f"open must be a bool, got {open!r}")
        t = self._event_time(now_s)
        self._time_s = t
        if open == self._cover_open:
            return False
        self._cover_open = open
        self._urgent.append(TamperEvent(math.floor(t), open))
        self._tampers += 1
        return True

    def set_temperature(self, now_s: float, temperature_c: float) -> TemperatureReading | None:
        """
        A new reading of the temperature sensor (D02 and E02 kits, manual §2.4).

        The reading, rounded to 0.01 °C as on the air, goes with each report. An E02 also queues it
        as an urgent event when it has moved by ``temperature_delta_c`` (1 % of the sensor's
        -40…+85 °C span: 1.25 °C) or more from the last value reported (in a report or a delta
        event; the first reading is the reference until the first report).

        Parameters
        ----------
        now_s : float
            Network time. [s]
        temperature_c : float
            Temperature, within -40…+85. [°C]

        Returns
        -------
        event : TemperatureReading or None
            The delta reading queued as urgent (E02 only), else None.

        Raises
        ------
        KitCapabilityError
            On a C02 kit, which has no temperature.
        ValueError
            On a temperature out of range, a non-finite or backwards time; nothing changes.
        """
        if not self._kit.temperature:
            raise KitCapabilityError(f"kit {self._kit.designation!r} has no temperature sensor (manual §2.4)")
        value = _check_finite("temperature_c", temperature_c)
        t = self._event_time(now_s)
        reading = TemperatureReading(math.floor(t), round(value, _TEMPERATURE_DECIMALS))
        self._time_s = t
        self._temperature = reading
        if self._delta_c is None:
            return None
        if self._temperature_reference_c is None:
            self._temperature_reference_c = reading.temperature_c
            return None
        moved = abs(reading.temperature_c - self._temperature_reference_c)
        if moved < self._delta_c - _TEMPERATURE_TOLERANCE_C:
            return None
        self._temperature_reference_c = reading.temperature_c
        self._urgent.append(reading)
        self._temperature_events += 1
        return reading

    def urgent(self) -> tuple[UrgentEvent, ...]:
        """
        Events to send at once, oldest first: tamper events and E02 delta temperatures.

        They stay queued until :meth:`acknowledge_urgent`.
        """
        return tuple(self._urgent)

    def acknowledge_urgent(self, count: int) -> int:
        """
        Remove the ``count`` oldest urgent events, delivered.

        Parameters
        ----------
        count : int
            Events delivered, 0 … the number queued. [1]

        Returns
        -------
        remaining : int
            Urgent events still queued. [1]
        """
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= len(self._urgent):
            raise ValueError(f"count must be an int in [0, {len(self._urgent)}], got {count!r}")
        for _ in range(count):
            self._urgent.popleft()
        return len(self._urgent)
