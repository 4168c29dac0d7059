"""The interval concept, once: lengths, grid alignment, quality codes, time zones, and the column type.

Every package of meshmeter that speaks of intervals takes these from here (``docs/architecture.md``, "the
house"): the store, ingest, VEE, billing, exports, the API and the dashboard. Nothing here does I/O.

- An interval is named by its end (``interval_end``) and covers ``(interval_end - interval_s,
  interval_end]`` (``docs/conventions.md``). A meter has one interval length (:class:`IntervalLength`): the
  Mini Meter's MDT makes 15-minute intervals ending on :00, :15, :30 and :45 (manual §2.6, §5.1: it
  time-stamps the pulses in 15-minute intervals); a meter read by another system may give 5, 30 or 60-minute
  ones. Data is kept at its own length: a rollup to a coarser length is exact, nothing is invented for a
  finer one.
- Interval ends lie on the meter's grid in UTC seconds: ``interval_end_s % interval_s == 0``. Every zone with
  whole-quarter-hour offsets keeps that grid on local quarter hours too.
- Quality codes are ESPI's ``QualityOfReading`` (NAESB REQ.21): :class:`Quality`. Which are billed, which
  are estimated and how buckets rank them are said here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

__all__ = [
    "BILLED_QUALITIES",
    "CUMULATIVE_NONE",
    "ESTIMATED_QUALITIES",
    "INTERVAL_S",
    "QUALITY_RANK",
    "IntervalColumns",
    "IntervalLength",
    "Quality",
    "check_interval_s",
    "check_on_grid",
    "floor_to_grid",
    "rollup",
    "worst_quality",
    "zone",
]

IntArray = npt.NDArray[np.int64]

INTERVAL_S: Final = 900
"""The Mini Meter's interval: the MDT time-stamps pulses in 15-minute intervals (manual §1). [s]"""

CUMULATIVE_NONE: Final = -1
"""The cumulative register of an interval whose source sent none, in integer columns. [Wh]"""


class IntervalLength(IntEnum):
    """
    The interval lengths a meter may have. [s]

    15 minutes is the Mini Meter's (manual §1); 5, 30 and 60 minutes are what other meters and billing
    services deliver. Each divides an hour, so every length's grid is also a grid of every longer one.
    """

    MIN_5 = 300
    MIN_15 = 900
    MIN_30 = 1800
    MIN_60 = 3600

    @property
    def minutes(self) -> int:
        """The length in minutes. [min]"""
        return self.value // 60

    @property
    def label(self) -> str:
        """``"15min"``, ``"60min"`` ...: how files and the API name a length."""
        return f"{self.minutes}min"

    @classmethod
    def of(cls, value: object, *, name: str = "interval_s") -> IntervalLength:
        """
        A length from seconds (``900``), or a text of minutes (``"15min"``, ``"15m"``, ``"PT15M"``, ``"1h"``).

        Raises
        ------
        ValueError
            Naming ``name`` and the value when it is not one of the lengths.
        """
        if isinstance(value, IntervalLength):
            return value
        seconds: object = value
        if isinstance(value, str):
            text = value.strip().lower()
            if text.startswith("pt"):
                text = text[2:]
            for suffix, factor in (("min", 60), ("m", 60), ("h", 3600), ("s", 1)):
                if text.endswith(suffix) and text[: -len(suffix)].strip().isdigit():
                    seconds = int(text[: -len(suffix)]) * factor
                    break
            else:
                seconds = int(text) if text.isdigit() else value
        if isinstance(seconds, int) and not isinstance(seconds, bool):
            try:
                return cls(seconds)
            except ValueError:
                pass
        allowed = ", ".join(f"{m.value} ({m.label})" for m in cls)
        raise ValueError(f"{name} must be one of {allowed} seconds, got {value!r}")


class Quality(IntEnum):
    """
    ESPI (NAESB REQ.21) ``QualityOfReading`` codes that meshmeter's intervals carry.

    Billed: valid, edited, and the estimates (flagged, their share shown on the bill). Not billed: raw
    (received but not yet validated, or absent), and questionable.
    """

    VALID = 0
    EDITED = 7
    ESTIMATED_REFERENCE_DAY = 8
    ESTIMATED_INTERPOLATION = 9
    QUESTIONABLE = 10
    DERIVED = 11
    """Apportioned: an interval of a real device whose end lies between two readings of its register, so
    that its energy is the straight line's share (``docs/collect.md``). Billed; its share shown on the
    bill."""
    RAW = 14

    @property
    def text(self) -> str:
        """The code in words, as ESPI names it."""
        return _QUALITY_TEXT[self]

    @property
    def billed(self) -> bool:
        """Whether a bill charges an interval of this quality."""
        return self in BILLED_QUALITIES

    @property
    def estimated(self) -> bool:
        """Whether an interval of this quality was estimated (billed, flagged)."""
        return self in ESTIMATED_QUALITIES


_QUALITY_TEXT: Final = {
    Quality.VALID: "valid",
    Quality.EDITED: "edited",
    Quality.ESTIMATED_REFERENCE_DAY: "estimated using reference day",
    Quality.ESTIMATED_INTERPOLATION: "estimated using linear interpolation",
    Quality.QUESTIONABLE: "questionable",
    Quality.DERIVED: "derived (apportioned between readings)",
    Quality.RAW: "raw",
}

BILLED_QUALITIES: Final = frozenset({0, 7, 8, 9, 11, 17, 18, 19})
"""ESPI codes a bill charges: valid, edited, the two estimates, derived (apportioned), and ESPI's validated
(17), verified (18) and revenue quality (19), which files from other systems may carry."""

ESTIMATED_QUALITIES: Final = frozenset(
    {int(Quality.ESTIMATED_REFERENCE_DAY), int(Quality.ESTIMATED_INTERPOLATION)}
)
"""ESPI codes of estimated intervals: billed, flagged, their share shown."""

QUALITY_RANK: Final[dict[int, int]] = {0: 0, 7: 1, 11: 2, 9: 3, 8: 4, 14: 5, 10: 6}
"""meshmeter's codes from most to least trusted: valid, edited, derived (apportioned between two real
readings), interpolated, estimated from reference days,
raw (not validated), questionable. A sum of intervals carries the least trusted code among them."""


def worst_quality(codes: Iterable[int]) -> int | None:
    """The least trusted of some ESPI codes (:data:`QUALITY_RANK`, an unknown code last); None for none."""
    return max(codes, key=lambda q: QUALITY_RANK.get(q, len(QUALITY_RANK)), default=None)


def zone(timezone: object, *, name: str = "timezone") -> ZoneInfo:
    """
    The IANA time zone ``timezone``.

    Raises
    ------
    ValueError
        Naming ``name`` and the value when it is not an IANA zone name.
    """
    if isinstance(timezone, str) and timezone:
        try:
            return ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise ValueError(f"{name} must be an IANA time zone name such as America/Los_Angeles, got {timezone!r}")


def check_interval_s(interval_s: object, name: str = "interval_s") -> int:
    """
    An interval length given as a number, checked: one of 300, 900, 1800 or 3600 s.

    Where people type a length (``"15min"``, ``"1h"``) read it with :meth:`IntervalLength.of`; this one
    takes only integers (no text, no float, no bool), for functions' arguments.

    Raises
    ------
    ValueError
        Naming ``name`` and the value when it is not one of the lengths.
    """
    if isinstance(interval_s, bool) or not isinstance(interval_s, int | np.integer):
        allowed = ", ".join(str(int(n)) for n in IntervalLength)
        raise ValueError(f"{name} must be one of {allowed} seconds, got {interval_s!r}")
    try:
        return int(IntervalLength(int(interval_s)))
    except ValueError:
        allowed = ", ".join(str(int(n)) for n in IntervalLength)
        raise ValueError(f"{name} must be one of {allowed} seconds, got {interval_s!r}") from None


def floor_to_grid(when: datetime, interval_s: int = INTERVAL_S) -> datetime:
    """The last interval end at or before ``when`` (aware), on the ``interval_s`` grid, in UTC."""
    if not isinstance(when, datetime) or when.utcoffset() is None:
        raise ValueError(f"when must be a timezone-aware datetime, got {when!r}")
    seconds = int(when.timestamp()) // interval_s * interval_s
    return datetime.fromtimestamp(seconds, UTC)


def check_on_grid(interval_end_s: npt.ArrayLike, interval_s: int, *, name: str = "interval_end") -> None:
    """
    Refuse interval ends off the ``interval_s`` grid, naming the first few.

    Parameters
    ----------
    interval_end_s : array-like of int
        Interval ends, seconds since the Unix epoch, UTC. [s]
    interval_s : int
        The meter's interval length. [s]

    Raises
    ------
    ValueError
        Naming up to five ends that are off the grid, and how many there are.
    """
    ends = np.asarray(interval_end_s, dtype=np.int64)
    off = np.flatnonzero(ends % interval_s)
    if off.size:
        shown = ", ".join(datetime.fromtimestamp(int(ends[i]), UTC).isoformat() for i in off[:5])
        more = f" and {off.size - 5} more" if off.size > 5 else ""
        raise ValueError(
            f"{name} must end on the {interval_s // 60}-minute grid; {off.size} do not: {shown}{more}"
        )


@dataclass(frozen=True, slots=True, eq=False)
class IntervalColumns:
    """
    One meter's intervals as columns: what crosses every boundary (store, ingest, VEE, bills, exports, API).

    Attributes
    ----------
    interval_end_s : ndarray of int64
        End of each interval, seconds since the Unix epoch, UTC, increasing and distinct. [s]
    energy_wh : ndarray of int64
        Energy in each interval. [Wh]
    quality : ndarray of int64
        ESPI quality code of each interval (:class:`Quality`).
    interval_s : int
        The meter's interval length (:class:`IntervalLength`). [s]
    cumulative_wh : ndarray of int64, optional
        The register at each end, :data:`CUMULATIVE_NONE` where none is known; None when not read. [Wh]
    """

    interval_end_s: IntArray
    energy_wh: IntArray
    quality: IntArray
    interval_s: int = INTERVAL_S
    cumulative_wh: IntArray | None = None

    def __post_init__(self) -> None:
        n = self.interval_end_s.shape
        if self.energy_wh.shape != n or self.quality.shape != n:
            raise ValueError(
                f"columns must have one length, got interval_end_s {n}, energy_wh {self.energy_wh.shape}, "
                f"quality {self.quality.shape}"
            )
        if self.cumulative_wh is not None and self.cumulative_wh.shape != n:
            raise ValueError(f"cumulative_wh must have length {n}, got {self.cumulative_wh.shape}")

    def __len__(self) -> int:
        return int(self.interval_end_s.size)

    @classmethod
    def empty(cls, interval_s: int = INTERVAL_S) -> IntervalColumns:
        """No intervals."""
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none, none, interval_s)

    @property
    def total_wh(self) -> int:
        """Energy of every interval. [Wh]"""
        return int(self.energy_wh.sum())

    def billed(self) -> npt.NDArray[np.bool_]:
        """True where the interval's quality is billed (:data:`BILLED_QUALITIES`)."""
        return np.isin(self.quality, sorted(BILLED_QUALITIES))

    def estimated(self) -> npt.NDArray[np.bool_]:
        """True where the interval was estimated (:data:`ESTIMATED_QUALITIES`)."""
        return np.isin(self.quality, sorted(ESTIMATED_QUALITIES))

    def window(self, start_s: int, end_s: int) -> IntervalColumns:
        """The intervals with ``start_s < interval_end <= end_s``."""
        lo = int(np.searchsorted(self.interval_end_s, start_s, side="right"))
        hi = int(np.searchsorted(self.interval_end_s, end_s, side="right"))
        cumulative = None if self.cumulative_wh is None else self.cumulative_wh[lo:hi]
        return IntervalColumns(
            self.interval_end_s[lo:hi],
            self.energy_wh[lo:hi],
            self.quality[lo:hi],
            self.interval_s,
            cumulative,
        )

    def rows(self) -> list[tuple[datetime, int, int]]:
        """``(interval_end, energy_wh, quality)`` per interval, aware UTC, oldest first."""
        return [
            (datetime.fromtimestamp(t, UTC), e, q)
            for t, e, q in zip(
                self.interval_end_s.tolist(), self.energy_wh.tolist(), self.quality.tolist(), strict=True
            )
        ]


def rollup(columns: IntervalColumns, interval_s: int) -> IntervalColumns:
    """
    Intervals summed exactly into a coarser length: 15-minute data as hourly, say.

    Parameters
    ----------
    columns : IntervalColumns
        One meter's intervals, on their own grid.
    interval_s : int
        The coarser length, a multiple of ``columns.interval_s`` (:class:`IntervalLength`). [s]

    Returns
    -------
    IntervalColumns
        One interval per coarse interval that holds any: the sum of its intervals, and the least trusted
        quality of them (:data:`QUALITY_RANK`). A coarse interval with some of its intervals absent is
        raw (14): its sum is what was received, not its energy, so it is never billed as whole.

    Notes
    -----
    Nothing is invented: a rollup to a coarser length is exact, and there is none to a finer one.
    """
    length = int(IntervalLength.of(interval_s))
    if length % columns.interval_s:
        raise ValueError(
            f"interval_s must be a multiple of the data's {columns.interval_s} s, got {interval_s!r}"
        )
    if length == columns.interval_s or len(columns) == 0:
        return IntervalColumns(
            columns.interval_end_s, columns.energy_wh, columns.quality, length, columns.cumulative_wh
        )
    coarse = -(-columns.interval_end_s // length) * length  # the coarse interval each one falls in
    first = np.flatnonzero(np.append(True, coarse[1:] != coarse[:-1]))
    ends = coarse[first]
    energy = np.add.reduceat(columns.energy_wh, first)
    rank = np.array([QUALITY_RANK.get(int(q), len(QUALITY_RANK)) for q in columns.quality], dtype=np.int64)
    worst = np.maximum.reduceat(rank, first)
    by_rank = {r: c for c, r in QUALITY_RANK.items()}
    quality = np.array([by_rank.get(int(r), int(Quality.QUESTIONABLE)) for r in worst], dtype=np.int64)
    count = np.diff(np.append(first, coarse.size))
    quality[count < length // columns.interval_s] = int(Quality.RAW)
    return IntervalColumns(ends, energy, quality, length)
