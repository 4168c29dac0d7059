"""What an MDT records and reports: the records that frames carry and the network delivers.

Network time is integer seconds since the Unix epoch, UTC (``time_s``); an interval is named by its end
(``interval_end_s``, a multiple of 900 s for 15-minute intervals: :00, :15, :30, :45 UTC), as in
``docs/conventions.md``. Counters are cumulative, with a sequence number per record, so that a lost or
repeated frame costs nothing and a gap is rebuilt exactly from the counters on either side of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshmeter.intervals import INTERVAL_S as _INTERVAL_S

__all__ = [
    "INTERVAL_S",
    "PULSE_WH",
    "IntervalRecord",
    "TamperEvent",
    "TemperatureReading",
    "interval_record",
]

INTERVAL_S = _INTERVAL_S
"""Length of an MDT's interval: 15 minutes (manual §2.6, §5.1; ``meshmeter.intervals``). [s]"""

PULSE_WH = 10
"""Energy per pulse on the meter's output "10", which the MDT's pulse input is wired to (manual §5.1). [Wh]"""

_U32 = 2**32


def _check_u32(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _U32:
        raise ValueError(f"{name} must be an int in [0, 2**32), got {value!r}")


@dataclass(frozen=True, slots=True)
class IntervalRecord:
    """
    One 15-minute interval as an MDT logs it.

    Parameters
    ----------
    sequence : int
        Record number, 0, 1, 2 ... for the MDT's life; consecutive intervals have consecutive numbers. [1]
    interval_end_s : int
        End of the interval, network time, a multiple of ``INTERVAL_S``. [s]
    cumulative_pulses : int
        Pulses counted since the MDT was commissioned, up to the interval's end. [1]
    """

    sequence: int
    interval_end_s: int
    cumulative_pulses: int

    def __post_init__(self) -> None:
        sequence, end, pulses = self.sequence, self.interval_end_s, self.cumulative_pulses
        if (  # the common case in one test: records are made millions of times in a mesh run
            type(sequence) is int
            and type(end) is int
            and type(pulses) is int
            and 0 <= sequence < _U32
            and 0 <= end < _U32
            and 0 <= pulses < _U32
            and not end % INTERVAL_S
        ):
            return
        _check_u32("sequence", sequence)
        _check_u32("interval_end_s", end)
        _check_u32("cumulative_pulses", pulses)
        if self.interval_end_s % INTERVAL_S:
            raise ValueError(
                f"interval_end_s must be a multiple of {INTERVAL_S}, got {self.interval_end_s!r}"
            )

    @property
    def cumulative_energy_wh(self) -> int:
        """Energy since commissioning: pulses × 10 Wh. [Wh]"""
        return self.cumulative_pulses * PULSE_WH


_new_record = object.__new__
_SET_SEQUENCE = IntervalRecord.__dict__["sequence"].__set__  # the frozen dataclass's slots, set directly
_SET_END = IntervalRecord.__dict__["interval_end_s"].__set__
_SET_PULSES = IntervalRecord.__dict__["cumulative_pulses"].__set__


def interval_record(sequence: int, interval_end_s: int, cumulative_pulses: int) -> IntervalRecord:
    """
    ``IntervalRecord(sequence, interval_end_s, cumulative_pulses)`` with the same checks, faster.

    For the record an MDT logs at every interval end, three million times in a month of a 1000-MDT
    site: the class's checks in one expression, then its slots set directly instead of through its
    generated ``__init__``. Anything the expression does not pass goes through the class, which raises
    ``ValueError`` naming the field.
    """
    if (
        type(sequence) is int
        and type(interval_end_s) is int
        and type(cumulative_pulses) is int
        and 0 <= sequence < _U32
        and 0 <= interval_end_s < _U32
        and 0 <= cumulative_pulses < _U32
        and not interval_end_s % INTERVAL_S
    ):
        record = _new_record(IntervalRecord)
        _SET_SEQUENCE(record, sequence)
        _SET_END(record, interval_end_s)
        _SET_PULSES(record, cumulative_pulses)
        return record
    return IntervalRecord(sequence, interval_end_s, cumulative_pulses)


@dataclass(frozen=True, slots=True)
class TamperEvent:
    """
    The enclosure cover removed or replaced (the tamper micro-switch, manual §2.5.2, §5.1).

    Parameters
    ----------
    time_s : int
        When, network time. [s]
    cover_open : bool
        True when the cover was removed, False when replaced.
    """

    time_s: int
    cover_open: bool

    def __post_init__(self) -> None:
        _check_u32("time_s", self.time_s)
        if not isinstance(self.cover_open, bool):
            raise ValueError(f"cover_open must be a bool, got {self.cover_open!r}")


@dataclass(frozen=True, slots=True)
class TemperatureReading:
    """
    A temperature reading of a D02 or E02 kit (manual §2.4).

    Parameters
    ----------
    time_s : int
        When, network time. [s]
    temperature_c : float
        Temperature, resolution 0.01 °C on the air, within −40…+85 °C. [°C]
    """

    time_s: int
    temperature_c: float

    def __post_init__(self) -> None:
        _check_u32("time_s", self.time_s)
        t = self.temperature_c
        if isinstance(t, bool) or not isinstance(t, int | float) or not -40.0 <= float(t) <= 85.0:
            raise ValueError(f"temperature_c must be a number in [-40, 85], got {t!r}")
