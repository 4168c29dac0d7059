"""ESPI ``LocalTimeParameters`` and its DST rules (``DstRuleType`` of usage.xsd; ``docs/greenbutton.md``).

- :class:`DstRule` encodes and decodes one 32-bit ``DstRuleType`` and finds the wall-clock time it names
  in a year;
- :class:`LocalTimeParameters` holds a usage point's offsets and rules and gives the UTC offset they
  imply at an instant;
- :func:`local_time_parameters` derives them for an IANA time zone from the time zone database.

Pure functions over integers and datetimes; nothing here reads XML or the store.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final

from meshmeter.intervals import zone

__all__ = ["DST_RULE_DISABLED", "DstRule", "LocalTimeParameters", "local_time_parameters"]

DST_RULE_DISABLED: Final = 0xFFFFFFFF
"""``DstRuleType`` value meaning "no DST correction" (usage.xsd)."""


def _check_int(name: str, value: object, low: int, high: int) -> None:
    """``ValueError`` naming ``name`` unless ``value`` is an integer (not a bool) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")


@dataclass(frozen=True, slots=True)
class DstRule:
    """
    One ESPI ``DstRuleType``: when, in local time, DST starts or ends in a year (usage.xsd).

    The 32-bit encoding: bits 0-11 seconds (0-3599), 12-16 hour (0-23), 17-19 day of the week (0 not
    applicable, 1-7 with Monday 1), 20-24 day of the month (0 not applicable, 1-31), 25-27 operator,
    28-31 month (1-12). Operators: 0 on the day of the month; 1 on the first day of the week on or after
    the day of the month; 2-6 on the first to fifth occurrence of the day of the week in the month;
    7 on its last occurrence.

    Attributes
    ----------
    month : int
        1-12.
    operator : int
        0-7, as above.
    day_of_week : int
        1-7 (Monday 1), 0 when not applicable (operator 0).
    day_of_month : int
        1-31 for operators 0 and 1, else 0.
    hour : int
        0-23, wall-clock hour of the change, in the time in force before it. [h]
    second : int
        Seconds after the hour, 0-3599. [s]

    Examples
    --------
    US rules since 2007 (Energy Policy Act 2005 §110): DST starts on the second Sunday of March at
    02:00 standard time, ``0x360E2000``, and ends on the first Sunday of November at 02:00 daylight
    time, ``0xB40E2000``.
    """

    month: int
    operator: int
    day_of_week: int
    day_of_month: int
    hour: int
    second: int = 0

    def __post_init__(self) -> None:
        limits = {
            "month": (1, 12),
            "operator": (0, 7),
            "day_of_week": (0, 7),
            "day_of_month": (0, 31),
            "hour": (0, 23),
            "second": (0, 3599),
        }
        for name, (low, high) in limits.items():
            _check_int(name, getattr(self, name), low, high)
        if self.operator in (0, 1) and self.day_of_month == 0:
            raise ValueError(f"operator {self.operator} needs a day_of_month in [1, 31]")
        if self.operator >= 1 and self.day_of_week == 0:
            raise ValueError(f"operator {self.operator} needs a day_of_week in [1, 7]")

    def encode(self) -> int:
        """The 32-bit ``DstRuleType`` value."""
        return (
            self.second
            | self.hour << 12
            | self.day_of_week << 17
            | self.day_of_month << 20
            | self.operator << 25
            | self.month << 28
        )

    @classmethod
    def decode(cls, value: int) -> DstRule | None:
        """The rule of a 32-bit value; None for :data:`DST_RULE_DISABLED`; ``ValueError`` when invalid."""
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"a DstRuleType is 32 bits, got {value!r}")
        if value == DST_RULE_DISABLED:
            return None
        return cls(
            month=value >> 28 & 0xF,
            operator=value >> 25 & 0x7,
            day_of_week=value >> 17 & 0x7,
            day_of_month=value >> 20 & 0x1F,
            hour=value >> 12 & 0x1F,
            second=value & 0xFFF,
        )

    def local_datetime(self, year: int) -> datetime:
        """The naive wall-clock time of the change in ``year``, in the time in force before it."""
        days = calendar.monthrange(year, self.month)[1]
        if self.operator == 0:
            if self.day_of_month > days:
                raise ValueError(f"day_of_month {self.day_of_month} is not in {year}-{self.month:02d}")
            day = date(year, self.month, self.day_of_month)
        elif self.operator == 1:
            first = date(year, self.month, min(self.day_of_month, days))
            day = first + timedelta(days=(self.day_of_week - first.isoweekday()) % 7)
        elif self.operator == 7:
            last = date(year, self.month, days)
            day = last - timedelta(days=(last.isoweekday() - self.day_of_week) % 7)
        else:
            first = date(year, self.month, 1)
            offset = (self.day_of_week - first.isoweekday()) % 7 + 7 * (self.operator - 2)
            if offset >= days:
                raise ValueError(f"rule {self.encode():08X} names no day in {year}-{self.month:02d}")
            day = first + timedelta(days=offset)
        return datetime(year, day.month, day.day, self.hour, self.second // 60, self.second % 60)


@dataclass(frozen=True, slots=True)
class LocalTimeParameters:
    """
    ESPI ``LocalTimeParameters`` (``TimeConfiguration``): the local time of the data's usage point.

    Attributes
    ----------
    tz_offset_s : int
        Standard time's offset from UTC, no DST included (-18000 for US Eastern). [s]
    dst_offset_s : int
        What DST adds to it (3600), 0 without DST. [s]
    dst_start_rule, dst_end_rule : int
        32-bit ``DstRuleType`` values (:class:`DstRule`), :data:`DST_RULE_DISABLED` without DST.
    """

    tz_offset_s: int
    dst_offset_s: int
    dst_start_rule: int
    dst_end_rule: int

    @property
    def dst_start(self) -> DstRule | None:
        """The start rule, None when disabled."""
        return DstRule.decode(self.dst_start_rule)

    @property
    def dst_end(self) -> DstRule | None:
        """The end rule, None when disabled."""
        return DstRule.decode(self.dst_end_rule)

    def dst_span(self, year: int) -> tuple[datetime, datetime] | None:
        """DST's start and end in ``year`` as aware UTC instants; None without DST."""
        start, end = self.dst_start, self.dst_end
        if start is None or end is None or self.dst_offset_s == 0:
            return None
        standard = timedelta(seconds=self.tz_offset_s)
        daylight = standard + timedelta(seconds=self.dst_offset_s)
        return (
            (start.local_datetime(year) - standard).replace(tzinfo=UTC),
            (end.local_datetime(year) - daylight).replace(tzinfo=UTC),
        )

    def utcoffset_s(self, instant: datetime) -> int:
        """
        The offset of local time from UTC at an aware instant, by these rules. [s]

        In the southern hemisphere DST starts late in a year and ends early in the next: an instant is in
        DST when it is after the start or before the end of its year.
        """
        if instant.tzinfo is None:
            raise ValueError(f"instant must be timezone-aware, got {instant!r}")
        moment = instant.astimezone(UTC)
        span = self.dst_span(moment.year)
        if span is None:
            return self.tz_offset_s
        start, end = span
        in_dst = start <= moment < end if start < end else (moment >= start or moment < end)
        return self.tz_offset_s + (self.dst_offset_s if in_dst else 0)


# -- from the time zone database ----------------------------------------------------------------------


def _offsets(tz: tzinfo, epoch_s: int) -> tuple[int, int]:
    """The UTC offset and the DST part of it at a Unix second. [s]"""
    moment = datetime.fromtimestamp(epoch_s, tz)
    utcoffset, dst = moment.utcoffset(), moment.dst()
    return (
        int(utcoffset.total_seconds()) if utcoffset is not None else 0,
        int(dst.total_seconds()) if dst is not None else 0,
    )


@dataclass(frozen=True, slots=True)
class _Transition:
    at_s: int  # first second of the new offset, Unix seconds
    wall: datetime  # naive wall time at that instant, in the time in force before it
    starts_dst: bool
    standard_s: int
    dst_s: int


def _transitions(tz: tzinfo, year: int) -> list[_Transition]:
    """The DST changes of ``tz`` whose wall time (before the change) falls in ``year``."""
    step = 6 * 3600  # far shorter than the time between two changes
    lo = int(datetime(year, 1, 1, tzinfo=UTC).timestamp()) - 2 * 86400
    hi = int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp()) + 2 * 86400
    out: list[_Transition] = []
    previous = _offsets(tz, lo)
    for t in range(lo + step, hi + step, step):
        current = _offsets(tz, t)
        if current == previous:
            continue
        a, b = t - step, t  # offsets(a) == previous, offsets(b) == current
        while b - a > 1:
            mid = (a + b) // 2
            if _offsets(tz, mid) == previous:
                a = mid
            else:
                b = mid
        before_utc, before_dst = previous
        after_utc, after_dst = current
        if (before_dst == 0) != (after_dst == 0):
            wall = datetime.fromtimestamp(b + before_utc, UTC).replace(tzinfo=None)
            if wall.year == year:
                starts = after_dst != 0
                out.append(
                    _Transition(
                        at_s=b,
                        wall=wall,
                        starts_dst=starts,
                        standard_s=before_utc if starts else after_utc,
                        dst_s=after_dst if starts else before_dst,
                    )
                )
        previous = current
    return out


def _candidate_rules(wall: datetime) -> list[DstRule]:
    """Rules that give ``wall`` in its year, most usual first: n-th weekday, last weekday, fixed day."""
    seconds = wall.minute * 60 + wall.second
    dow = wall.isoweekday()
    nth = (wall.day - 1) // 7 + 1
    rules = [DstRule(wall.month, nth + 1, dow, 0, wall.hour, seconds)]
    if wall.day + 7 > calendar.monthrange(wall.year, wall.month)[1]:
        rules.append(DstRule(wall.month, 7, dow, 0, wall.hour, seconds))
    rules.append(DstRule(wall.month, 0, 0, wall.day, wall.hour, seconds))
    return rules


def _fits(rule: DstRule, wall: datetime) -> bool:
    """Whether ``rule`` names ``wall`` in its year."""
    try:
        return rule.local_datetime(wall.year) == wall
    except ValueError:
        return False


def local_time_parameters(timezone: str, year: int) -> LocalTimeParameters:
    """
    ESPI ``LocalTimeParameters`` of an IANA time zone, with the DST rules in force in ``year``.

    Parameters
    ----------
    timezone : str
        IANA name (``America/New_York``).
    year : int
        The year whose DST changes the rules must reproduce.

    Returns
    -------
    LocalTimeParameters
        US Eastern gives ``tzOffset`` -18000, ``dstOffset`` 3600, ``dstStartRule`` ``360E2000`` (second
        Sunday of March, 02:00) and ``dstEndRule`` ``B40E2000`` (first Sunday of November, 02:00), as the
        Green Button Alliance's sample data does.

    Notes
    -----
    The changes of ``year`` are read from the time zone database, at the second. Each is encoded as the
    first rule (n-th occurrence of its weekday in the month; last occurrence; fixed day of the month)
    that reproduces it in ``year`` and in the six years after that have such a change (seven years see
    every weekday alignment); when none does, the n-th occurrence of ``year`` is kept. The time of the
    change is the wall clock before it (standard time for the start, daylight time for the end). A zone
    without DST in ``year`` gets its standard offset, ``dstOffset`` 0 and both rules
    :data:`DST_RULE_DISABLED`. In the southern hemisphere the end rule falls earlier in the year than
    the start rule, which usage.xsd's documentation does not foresee but its type allows.
    """
    tz = zone(timezone)
    _check_int("year", year, 1, 9998)
    changes = _transitions(tz, year)
    start = next((c for c in changes if c.starts_dst), None)
    end = next((c for c in changes if not c.starts_dst), None)
    if start is None or end is None:
        middle = int(datetime(year, 7, 1, tzinfo=UTC).timestamp())
        utcoffset, dst = _offsets(tz, middle)
        return LocalTimeParameters(utcoffset - dst, 0, DST_RULE_DISABLED, DST_RULE_DISABLED)
    later = [_transitions(tz, y) for y in range(year + 1, year + 7)]

    def rule(change: _Transition) -> int:
        same_kind = [
            same
            for changes_y in later
            if (same := next((c for c in changes_y if c.starts_dst == change.starts_dst), None)) is not None
        ]
        candidates = _candidate_rules(change.wall)
        chosen = next((c for c in candidates if all(_fits(c, s.wall) for s in same_kind)), candidates[0])
        return chosen.encode()

    return LocalTimeParameters(start.standard_s, start.dst_s, rule(start), rule(end))
