"""Readings of real devices, and how they become intervals on a meter's grid (``docs/collect.md``).

A *reading* is the cumulative value of one register of one device at one moment: a pulse counter's count,
a Modbus meter's import energy, the consumption a utility meter broadcasts. A *channel* is one such register
mapped to one meter row (an export register is a meter row of its own, ``docs/store.md``). Readings come at
any time; :func:`advance` makes the channel's intervals on the meter's own grid from the readings on both
sides of each boundary:

- The register at a boundary is the reading taken there (within :data:`EXACT_WITHIN_S`), else the straight
  line between the readings before and after it, rounded down to a whole Wh. Every interval's energy is the
  difference of the register at its two ends, so the intervals between two readings add up exactly to the
  readings' difference: apportioning moves energy between neighbouring intervals, never makes or loses any.
- An interval whose two ends were both read exactly is measured; one with an end on a straight line is
  *apportioned*: it is stored with that mark and carries quality :attr:`~meshmeter.intervals.Quality.DERIVED`
  through VEE, so a bill shows how much of it came from apportioning.
- Readings more than ``max_apportion_s`` apart are a gap: nothing is invented across it. The intervals it
  covers stay missing for VEE to estimate, and the registers on both sides stay stored.
- A counter that starts again at 0 (a pulse counter that rebooted) loses nothing that it counted: the count
  goes on from the value before the reset, and the reset is an event. A counter that comes back at a value
  it had saved (more since the restart than the meter can register) is taken from that value on. A
  register that runs backwards without a reset, or faster than the meter's rating allows, is refused with
  a reason and changes nothing.

Everything here is pure: no I/O, no clock. Times are integer milliseconds since the Unix epoch (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Final

from meshmeter.errors import PayloadError
from meshmeter.intervals import check_interval_s

__all__ = [
    "EXACT_WITHIN_S",
    "MAX_APPORTION_S",
    "Advance",
    "ChannelConfig",
    "ChannelEvent",
    "ChannelState",
    "CollectedInterval",
    "Reading",
    "Rejection",
    "advance",
    "epoch_ms",
]

EXACT_WITHIN_S: Final = 5
"""A reading taken within this many seconds of a boundary is the register at that boundary: a poll aligned
to an interval's end that the network delays by a second still closes the interval exactly. [s]"""

MAX_APPORTION_S: Final = 3600
"""Default longest time between two readings across which intervals are apportioned; a longer silence is a
gap left to VEE, never spread as a flat line. [s]"""


class Rejection(StrEnum):
    """Why a message or a reading gave no energy: the reasons a source's counts are kept by."""

    MALFORMED = "malformed"
    """Not the format's payload: not JSON, a field missing or of the wrong type."""
    UNKNOWN_DEVICE = "unknown_device"
    """A device or channel that no source of the site maps to a meter."""
    BACKWARDS = "backwards"
    """A register lower than the last reading, where the device cannot reset and did not wrap."""
    JUMP = "jump"
    """More energy between two readings than the meter's rating allows in that time."""
    SCALE = "scale"
    """A scale factor or unit outside what the register map or format allows."""
    STALE = "stale"
    """A reading not after the channel's last one (sent again, or out of order): nothing new."""
    DUPLICATE = "duplicate"
    """The same message heard again (rtlamr hears each broadcast many times)."""
    NO_ANSWER = "no_answer"
    """A device that did not answer a poll."""
    DEVICE_ERROR = "device_error"
    """A device that answered with an error (a Modbus exception code)."""


@dataclass(frozen=True, slots=True)
class Reading:
    """
    One cumulative reading of one register of a device, as an adapter parsed it.

    Attributes
    ----------
    device : str
        The device's ID as its source names it: an ESPHome node, a Tasmota topic, a Shelly ID, a Modbus
        unit ID (``"1"``), an rtlamr meter ID (``"12345678"``).
    channel : str
        The register on the device: ``"total"``, ``"C1"``, ``"switch:0"``, ``"import"``, ``"export"``,
        ``"consumption"``.
    at_ms : int
        When the value held: the device's time where the payload has one, else when it was received;
        milliseconds since the Unix epoch (UTC). [ms]
    value : Decimal
        The register, cumulative, in ``unit``; not negative.
    unit : str
        ``"pulse"``, ``"count"`` (a utility register's units), or an energy of
        :data:`~meshmeter.store.schema.ENERGY_UNIT_WH`.
    reset : bool
        The payload itself says the counter started again (a boot).
    """

    device: str
    channel: str
    at_ms: int
    value: Decimal
    unit: str
    reset: bool = False


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """
    What :func:`advance` needs to know of a channel and its meter.

    Attributes
    ----------
    interval_s : int
        The meter's interval length: 300, 900, 1800 or 3600. [s]
    wh_per_unit : Decimal
        Energy of one unit of the readings: 10 for the Mini Meter's output "10" (10 Wh per pulse,
        manual §3.2), 1 for Wh, 1000 for kWh, the register's units times the meter's multiplier. [Wh]
    max_interval_wh : int
        The most the meter can register in one interval, from its own rating
        (:func:`meshmeter.catalog.limits.max_interval_energy_wh`). [Wh]
    modulus : Decimal or None
        The raw register rolls over to 0 at this value (in the reading's units): a utility register's
        digits or a protocol's bit width. None: it never does.
    resets : bool
        A drop of the count is a restart at 0 (pulse counters lose their count when they boot); otherwise
        a drop that is no roll-over is refused as ``backwards``.
    max_apportion_s : int
        Readings further apart than this are a gap (:data:`MAX_APPORTION_S`). [s]
    """

    interval_s: int
    wh_per_unit: Decimal
    max_interval_wh: int
    modulus: Decimal | None = None
    resets: bool = False
    max_apportion_s: int = MAX_APPORTION_S

    def __post_init__(self) -> None:
        check_interval_s(self.interval_s)
        if not (
            isinstance(self.wh_per_unit, Decimal) and self.wh_per_unit.is_finite() and self.wh_per_unit > 0
        ):
            raise ValueError(f"wh_per_unit must be a positive Decimal, got {self.wh_per_unit!r}")
        if isinstance(self.max_interval_wh, bool) or not isinstance(self.max_interval_wh, int):
            raise ValueError(f"max_interval_wh must be a whole number of Wh, got {self.max_interval_wh!r}")
        if self.max_interval_wh <= 0:
            raise ValueError(f"max_interval_wh must be positive, got {self.max_interval_wh!r}")
        if self.modulus is not None and not (isinstance(self.modulus, Decimal) and self.modulus > 0):
            raise ValueError(f"modulus must be a positive Decimal or None, got {self.modulus!r}")
        if isinstance(self.max_apportion_s, bool) or not isinstance(self.max_apportion_s, int):
            raise ValueError(f"max_apportion_s must be whole seconds, got {self.max_apportion_s!r}")
        if self.max_apportion_s < self.interval_s:
            raise ValueError(
                f"max_apportion_s must be at least the interval ({self.interval_s} s), "
                f"got {self.max_apportion_s!r}"
            )


@dataclass(frozen=True, slots=True)
class ChannelState:
    """
    A channel's durable position: what :func:`advance` needs to go on after a restart.

    Attributes
    ----------
    at_ms : int
        Time of the last reading taken (snapped to a boundary within :data:`EXACT_WITHIN_S`). [ms]
    raw : Decimal
        Its value as the device gave it, in the reading's units.
    total : Decimal
        Units counted since the channel began, through resets and roll-overs; the channel's register in
        Wh is ``floor(total * wh_per_unit)``.
    start_s : int
        Start of the next interval to store, ``(start_s, start_s + interval_s]``, on the grid. [s]
    start_wh : int or None
        The register at ``start_s`` [Wh]; None while ``start_s`` lies after the last reading (known once a
        later reading comes).
    start_exact : bool
        Whether ``start_wh`` was read exactly (not apportioned).
    """

    at_ms: int
    raw: Decimal
    total: Decimal
    start_s: int
    start_wh: int | None
    start_exact: bool

    def to_json(self) -> dict[str, object]:
        """The state as JSON (decimals as text), as the store keeps it."""
        return {
            "at_ms": self.at_ms,
            "raw": str(self.raw),
            "total": str(self.total),
            "start_s": self.start_s,
            "start_wh": self.start_wh,
            "start_exact": self.start_exact,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ChannelState:
        """A state from :meth:`to_json`'s form."""
        start_wh = data["start_wh"]
        return cls(
            at_ms=int(str(data["at_ms"])),
            raw=Decimal(str(data["raw"])),
            total=Decimal(str(data["total"])),
            start_s=int(str(data["start_s"])),
            start_wh=None if start_wh is None else int(str(start_wh)),
            start_exact=bool(data["start_exact"]),
        )


@dataclass(frozen=True, slots=True)
class CollectedInterval:
    """
    One interval made by :func:`advance`.

    Attributes
    ----------
    end_s : int
        Its end, on the meter's grid. [s]
    energy_wh : int
        Energy in it. [Wh]
    cumulative_wh : int
        The channel's register at its end. [Wh]
    apportioned : bool
        True when an end of it lies between readings (apportioned); False when both were read.
    """

    end_s: int
    energy_wh: int
    cumulative_wh: int
    apportioned: bool


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """
    Something a channel's readings showed that is not energy: ``"counter_reset"``, ``"rollover"``,
    ``"gap"``.

    Attributes
    ----------
    kind : str
    at_ms : int
        When it was seen (the reading's time). [ms]
    detail : dict
        JSON: the values before and after.
    """

    kind: str
    at_ms: int
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Advance:
    """
    What :func:`advance` made of some readings.

    Attributes
    ----------
    state : ChannelState or None
        The channel's position after them (None only when no reading was ever taken).
    intervals : list of CollectedInterval
        Intervals closed, in time order.
    events : list of ChannelEvent
    rejected : list of PayloadError
        Readings refused, each with its reason; they changed nothing.
    """

    state: ChannelState | None
    intervals: list[CollectedInterval]
    events: list[ChannelEvent]
    rejected: list[PayloadError]


def epoch_ms(at: datetime) -> int:
    """An aware datetime as integer milliseconds since the Unix epoch. [ms]"""
    if at.tzinfo is None:
        raise ValueError(f"at must be timezone-aware, got {at!r}")
    delta = at.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _snap_ms(at_ms: int, interval_s: int) -> int:
    """A reading's time, moved onto the nearest boundary when within :data:`EXACT_WITHIN_S` of it. [ms]"""
    step = interval_s * 1000
    nearest = (at_ms + step // 2) // step * step
    return nearest if abs(at_ms - nearest) <= EXACT_WITHIN_S * 1000 else at_ms


def _wh(total: Decimal, wh_per_unit: Decimal) -> int:
    """The register in whole Wh: the units counted times the energy of one, rounded down. [Wh]"""
    return int((total * wh_per_unit).to_integral_value(rounding=ROUND_FLOOR))


def _first_state(reading: Reading, at_ms: int, config: ChannelConfig) -> ChannelState:
    """The position after a channel's first reading: intervals start at the first boundary it reads."""
    step_ms = config.interval_s * 1000
    on_grid = at_ms % step_ms == 0
    start_s = (at_ms // 1000) if on_grid else -(-at_ms // step_ms) * config.interval_s
    wh = _wh(reading.value, config.wh_per_unit)
    return ChannelState(at_ms, reading.value, reading.value, start_s, wh if on_grid else None, on_grid)


def _units_since(state: ChannelState, reading: Reading, config: ChannelConfig) -> tuple[Decimal, str | None]:
    """Units counted since the last reading, and ``"reset"``/``"rollover"`` when the count started again.

    Raises
    ------
    PayloadError
        ``backwards``: the register dropped and the channel neither resets nor rolled over.
    """
    delta = reading.value - state.raw
    if reading.reset:
        return reading.value, "counter_reset"
    if delta >= 0:
        return delta, None
    if config.modulus is not None and state.raw - reading.value > config.modulus / 2:
        return delta + config.modulus, "rollover"
    if config.resets:
        return reading.value, "counter_reset"
    raise PayloadError(
        Rejection.BACKWARDS,
        f"{reading.device}/{reading.channel}: register {reading.value} {reading.unit} is below the last "
        f"reading {state.raw} and the device cannot reset; check the mapping and the device",
    )


def _check_rate(units: Decimal, span_ms: int, reading: Reading, config: ChannelConfig) -> None:
    """Refuse more energy than the meter can register in the time (one unit of slack for counting)."""
    energy_wh = units * config.wh_per_unit
    allowed_wh = Decimal(config.max_interval_wh) * span_ms / (config.interval_s * 1000) + config.wh_per_unit
    if energy_wh > allowed_wh:
        raise PayloadError(
            Rejection.JUMP,
            f"{reading.device}/{reading.channel}: {energy_wh:.0f} Wh in {span_ms / 1000:.0f} s is more than "
            f"the meter can register ({allowed_wh:.0f} Wh at its rating); check the energy per unit "
            f"({config.wh_per_unit} Wh) and the meter",
        )


def _step(
    state: ChannelState, reading: Reading, at_ms: int, config: ChannelConfig
) -> tuple[ChannelState, list[CollectedInterval], list[ChannelEvent]]:
    """One reading after ``state``: the intervals it closes (see the module's rules)."""
    units, restarted = _units_since(state, reading, config)
    span_ms = at_ms - state.at_ms
    detail: dict[str, object] = {"before": str(state.raw), "after": str(reading.value), "unit": reading.unit}
    if restarted == "counter_reset":
        try:
            _check_rate(units, span_ms, reading, config)
        except PayloadError:
            # more since the restart than the meter can register: the counter came back at a value it had
            # saved (Tasmota restores its count from flash after a power loss), not at 0. Counting goes
            # on from that value; what it counted between the save and the loss is not counted twice.
            units = Decimal(0)
            detail["rebased"] = True
    events: list[ChannelEvent] = []
    if restarted is not None:
        events.append(ChannelEvent(restarted, at_ms, detail))
    _check_rate(units, span_ms, reading, config)
    total = state.total + units
    t0_ms, c0 = state.at_ms, _wh(state.total, config.wh_per_unit)
    c1 = _wh(total, config.wh_per_unit)
    step_s = config.interval_s
    if span_ms > config.max_apportion_s * 1000:
        on_grid = at_ms % (step_s * 1000) == 0
        start_s = at_ms // 1000 if on_grid else -(-at_ms // (step_s * 1000)) * step_s
        events.append(ChannelEvent("gap", at_ms, {"from_ms": t0_ms, "to_ms": at_ms}))
        new = ChannelState(at_ms, reading.value, total, start_s, c1 if on_grid else None, on_grid)
        return new, [], events

    def register(b_s: int) -> tuple[int, bool]:
        b_ms = b_s * 1000
        if b_ms == at_ms:
            return c1, True
        if b_ms == t0_ms:
            return c0, True
        return c0 + (c1 - c0) * (b_ms - t0_ms) // span_ms, False

    start_s, start_wh, start_exact = state.start_s, state.start_wh, state.start_exact
    if start_wh is None and start_s * 1000 <= at_ms:
        start_wh, start_exact = register(start_s)
    intervals: list[CollectedInterval] = []
    while start_wh is not None and (start_s + step_s) * 1000 <= at_ms:
        end_s = start_s + step_s
        end_wh, end_exact = register(end_s)
        intervals.append(CollectedInterval(end_s, end_wh - start_wh, end_wh, not (start_exact and end_exact)))
        start_s, start_wh, start_exact = end_s, end_wh, end_exact
    return ChannelState(at_ms, reading.value, total, start_s, start_wh, start_exact), intervals, events


def advance(state: ChannelState | None, readings: list[Reading], config: ChannelConfig) -> Advance:
    """
    A channel's readings, in any order, after its position: the intervals they close on the meter's grid.

    Parameters
    ----------
    state : ChannelState or None
        The channel's position (None before its first reading).
    readings : list of Reading
        New readings of this one channel. They are taken in time order; one not after the position is
        ``stale`` (sent again): it changes nothing.
    config : ChannelConfig
        The channel's units, grid and limits.

    Returns
    -------
    Advance
        The new position, the intervals closed, the events seen (resets, roll-overs, gaps) and the readings
        refused with their reasons (``backwards``, ``jump``, ``stale``).

    Notes
    -----
    The register at a boundary ``b`` between readings ``(t0, c0)`` and ``(t1, c1)`` is
    ``c0 + floor((c1 - c0) (b - t0) / (t1 - t0))`` [Wh]: integer arithmetic, so the intervals between two
    readings add up to ``c1 - c0`` exactly (``docs/collect.md``, "Apportioning").
    """
    intervals: list[CollectedInterval] = []
    events: list[ChannelEvent] = []
    rejected: list[PayloadError] = []
    ordered = sorted(readings, key=lambda r: r.at_ms)
    for reading in ordered:
        if not (isinstance(reading.value, Decimal) and reading.value.is_finite() and reading.value >= 0):
            rejected.append(
                PayloadError(
                    Rejection.MALFORMED, f"{reading.device}/{reading.channel}: value {reading.value!r}"
                )
            )
            continue
        at_ms = _snap_ms(reading.at_ms, config.interval_s)
        if config.modulus is not None and reading.value >= config.modulus:
            rejected.append(
                PayloadError(
                    Rejection.SCALE,
                    f"{reading.device}/{reading.channel}: register {reading.value} {reading.unit} is not "
                    f"below its roll-over ({config.modulus}); check the channel's modulus and the device's "
                    "units",
                )
            )
            continue
        if state is None:
            state = _first_state(reading, at_ms, config)
            continue
        if at_ms <= state.at_ms:
            detail = (
                f"{reading.device}/{reading.channel}: reading at {at_ms} ms is not after the last one "
                f"({state.at_ms} ms)"
            )
            rejected.append(PayloadError(Rejection.STALE, detail))
            continue
        try:
            state, made, seen = _step(state, reading, at_ms, config)
        except PayloadError as error:
            rejected.append(error)
            continue
        intervals.extend(made)
        events.extend(seen)
    return Advance(state, intervals, events, rejected)
