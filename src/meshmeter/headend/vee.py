"""VEE: validation, estimation and editing of 15-minute interval data (``docs/vee.md``).

Three layers, as in the rest of the package:

- pure checks and estimators over numpy arrays (``check_*``, :func:`interpolate_linear`,
  :func:`largest_remainder`, :func:`like_day_class`, :func:`max_interval_energy_wh`);
- :func:`validate` and :func:`estimate`, which run them over one meter's series and return quality codes
  with the reasons;
- :func:`run_vee`, the orchestrator that reads raw intervals and register reads from a
  :class:`~meshmeter.store.Store`, runs VEE and writes the validated intervals through
  :meth:`~meshmeter.store.Store.put_validated_intervals` (which audits every change: who, when, why, the
  old value; raw data is never touched).

Time is integer seconds since the Unix epoch, UTC; an interval is named by its end and covers
``(interval_end - interval_s, interval_end]`` (``docs/conventions.md``). Energy is Wh: float inside VEE
(NaN for a missing value), integer Wh where it leaves VEE. Quality codes are ESPI's ``QualityOfReading``.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Collection, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Final, Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from meshmeter.catalog.designations import decode_meter
from meshmeter.catalog.ratings import MINI_METER_RATINGS, Ratings
from meshmeter.headend.calendar import us_federal_holidays
from meshmeter.intervals import INTERVAL_S, Quality, zone

if TYPE_CHECKING:
    from meshmeter.store import Store

__all__ = [
    "CHECKS",
    "INTERVAL_S",
    "QUALITY_EDITED",
    "QUALITY_ESTIMATED_INTERPOLATION",
    "QUALITY_ESTIMATED_REFERENCE_DAY",
    "QUALITY_QUESTIONABLE",
    "QUALITY_RAW",
    "QUALITY_VALID",
    "EstimationResult",
    "Finding",
    "IntervalSeries",
    "SumCheck",
    "ValidationResult",
    "VeeConfig",
    "VeeReport",
    "check_counter",
    "check_interval_size",
    "check_negative",
    "check_spike",
    "check_sum",
    "check_time_tolerance",
    "check_zero_run",
    "edit_intervals",
    "estimate",
    "interpolate_linear",
    "largest_remainder",
    "like_day_class",
    "max_interval_energy_wh",
    "outage_mask",
    "run_vee",
    "validate",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

QUALITY_VALID: Final = int(Quality.VALID)
QUALITY_EDITED: Final = int(Quality.EDITED)
QUALITY_ESTIMATED_REFERENCE_DAY: Final = int(Quality.ESTIMATED_REFERENCE_DAY)
QUALITY_ESTIMATED_INTERPOLATION: Final = int(Quality.ESTIMATED_INTERPOLATION)
QUALITY_QUESTIONABLE: Final = int(Quality.QUESTIONABLE)
QUALITY_RAW: Final = int(Quality.RAW)

CHECKS: Final[tuple[str, ...]] = (
    "missing",
    "interval_size",
    "time_tolerance",
    "duplicate",
    "negative",
    "rollover",
    "counter_reset",
    "spike",
    "zero_run",
    "sum_check",
)
"""The names of the checks, as they appear in :attr:`ValidationResult.masks` and in findings."""

_INFORMATIONAL: Final = frozenset({"missing", "rollover"})
"""Checks that do not make an interval questionable: a missing one is raw (14), a rollover is expected."""

_NOT_REPLACED: Final = frozenset({"missing", "rollover", "sum_check"})
"""Checks whose flag never makes :func:`estimate` replace a value (a sum check blames no one interval)."""

_DEFAULT_COUNTER_MODULUS_WH: Final = 2**32 * min(MINI_METER_RATINGS.pulse_output_kh_wh)
"""The MDT's 32-bit pulse counter of the 10 Wh output (``amr/records.py``) wraps at this energy. [Wh]"""

_SpikeRule = Literal["either", "both", "ratio", "rating"]
_LikeDaysBy = Literal["day_of_week", "day_type"]


# ---------------------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------------------


def _finite(name: str, value: object, *, low: float | None = None, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    number = float(value)
    if low is not None and (number < low or (low_open and number == low)):
        sign = ">" if low_open else ">="
        raise ValueError(f"{name} must be {sign} {low:g}, got {value!r}")
    return number


def _integer(name: str, value: object, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


@dataclass(frozen=True, slots=True)
class VeeConfig:
    """
    Settings of every VEE check and estimator, with their defaults.

    Parameters
    ----------
    interval_s : int
        Interval length; 15-minute intervals end on :00, :15, :30, :45 UTC. Default 900. [s]
    time_tolerance_s : float
        Time tolerance: an interval end off its boundary by more than this is questionable (it is
        still snapped to the nearest boundary); within it, it is snapped silently. Also the tolerance of
        the interval size check. Default 60. [s]
    spike_ratio : float
        Spike check, ratio test: within a local day, the highest interval is a spike when it exceeds
        ``spike_ratio`` times the third highest (repeated on the rest, so two spikes are both found).
        Default 5. [1]
    spike_min_wh : float
        The ratio test flags only intervals of at least this energy (a 60 Wh interval on a day of 10 Wh
        ones is not a spike worth a flag). Default 100. [Wh]
    spike_rule : {"either", "both", "ratio", "rating"}
        How the ratio test and the rating test (above :meth:`max_energy_wh`) combine: ``"either"`` flags
        an interval that fails one of them (default), ``"both"`` one that fails both, ``"ratio"`` and
        ``"rating"`` use one test only.
    max_interval_wh : float or None
        Highest energy a meter can register in one interval. Default None: from the ratings, see
        :func:`max_interval_energy_wh` (15,180 Wh for a dual element Mini Meter). [Wh]
    ratings : Ratings
        The meter's ratings; default the Mini Meter's (certificate p.1, manual §3.1).
    elements : int or None
        Metering elements, 1 or 2. Default None: from the meter's designation in :func:`run_vee`, else 2.
    power_factor : float
        Power factor at which the maximum demand is taken, in (0, 1]; default 1 (the largest energy). [1]
    zero_run_max_h : float
        Zero consumption check: a run of zero intervals longer than this is questionable, unless the
        intervals lie in a known outage. Default 4. [h]
    sum_tolerance_fraction : float
        Sum check: the intervals between two register reads pass when their sum differs from the
        register difference by no more than the larger of this fraction of the difference and
        ``sum_tolerance_wh``. Default 0.005 (0.5 %). [1]
    sum_tolerance_wh : float
        See ``sum_tolerance_fraction``. Default 10 (one pulse of the "10" output). [Wh]
    counter_modulus_wh : int or None
        Cumulative counters wrap at this energy: a counter that goes down by about the modulus is a
        rollover (expected), any other decrease a reset (questionable). Default 2**32 × 10 Wh, the
        MDT's 32-bit pulse counter; None: every decrease is a reset. [Wh]
    max_interpolation_intervals : int
        Gaps of up to this many intervals are interpolated linearly (quality 9); longer ones are
        estimated from like days (quality 8). Default 8 (2 hours). [1]
    like_days : int
        Like-day estimation averages the last this many like days with a valid value at the same local
        time of day. Default 4. [1]
    like_day_lookback_days : int
        How far back like days are looked for. Default 56 (8 weeks). [day]
    like_days_by : {"day_of_week", "day_type"}
        What makes days alike. ``"day_of_week"`` (default): the same day of the week, holidays being
        like Sundays. ``"day_type"``: working days (Monday to Friday) alike, and Saturdays, Sundays and
        holidays alike.
    scale_to_registers : bool
        Scale estimates so that the intervals between two register reads sum to the register
        difference exactly. Default True.
    estimate_questionable : bool
        Replace questionable values (spike, zero run, counter reset, time or size fault) by estimates
        too. Default False: they are kept and flagged 10. Negative values are always replaced, as the
        store holds no negative energy.
    store_valid_intervals : bool
        :func:`run_vee` writes a validated row for every interval. Default False: it writes only what
        VEE estimates or flags (and valid values that replace an earlier validated row), so that an
        interval that passed unchanged is stored once, as raw data; read with
        :meth:`~meshmeter.store.Store.interval_view`, which knows from the run's record that it passed.

    Raises
    ------
    ValueError
        Naming the field, for a NaN, infinite, negative or otherwise impossible value.
    """

    interval_s: int = INTERVAL_S
    time_tolerance_s: float = 60.0
    spike_ratio: float = 5.0
    spike_min_wh: float = 100.0
    spike_rule: _SpikeRule = "either"
    max_interval_wh: float | None = None
    ratings: Ratings = MINI_METER_RATINGS
    elements: int | None = None
    power_factor: float = 1.0
    zero_run_max_h: float = 4.0
    sum_tolerance_fraction: float = 0.005
    sum_tolerance_wh: float = 10.0
    counter_modulus_wh: int | None = _DEFAULT_COUNTER_MODULUS_WH
    max_interpolation_intervals: int = 8
    like_days: int = 4
    like_day_lookback_days: int = 56
    like_days_by: _LikeDaysBy = "day_of_week"
    scale_to_registers: bool = True
    estimate_questionable: bool = False
    store_valid_intervals: bool = False

    def __post_init__(self) -> None:
        interval_s = _integer("interval_s", self.interval_s, low=1)
        if 86400 % interval_s:
            raise ValueError(f"interval_s must divide a day (86400 s), got {self.interval_s!r}")
        tolerance = _finite("time_tolerance_s", self.time_tolerance_s, low=0.0)
        if tolerance >= interval_s / 2:
            raise ValueError(
                f"time_tolerance_s must be below half of interval_s, got {self.time_tolerance_s!r}"
            )
        _finite("spike_ratio", self.spike_ratio, low=1.0, low_open=True)
        _finite("spike_min_wh", self.spike_min_wh, low=0.0)
        if self.spike_rule not in ("either", "both", "ratio", "rating"):
            raise ValueError(
                f"spike_rule must be 'either', 'both', 'ratio' or 'rating', got {self.spike_rule!r}"
            )
        if self.max_interval_wh is not None:
            _finite("max_interval_wh", self.max_interval_wh, low=0.0, low_open=True)
        if not isinstance(self.ratings, Ratings):
            raise ValueError(f"ratings must be a Ratings, got {self.ratings!r}")
        if self.elements is not None and (isinstance(self.elements, bool) or self.elements not in (1, 2)):
            raise ValueError(f"elements must be 1, 2 or None, got {self.elements!r}")
        pf = _finite("power_factor", self.power_factor, low=0.0, low_open=True)
        if pf > 1.0:
            raise ValueError(f"power_factor must be in (0, 1], got {self.power_factor!r}")
        _finite("zero_run_max_h", self.zero_run_max_h, low=0.0, low_open=True)
        _finite("sum_tolerance_fraction", self.sum_tolerance_fraction, low=0.0)
        _finite("sum_tolerance_wh", self.sum_tolerance_wh, low=0.0)
        if self.counter_modulus_wh is not None:
            _integer("counter_modulus_wh", self.counter_modulus_wh, low=1)
        _integer("max_interpolation_intervals", self.max_interpolation_intervals, low=0)
        _integer("like_days", self.like_days, low=1)
        _integer("like_day_lookback_days", self.like_day_lookback_days, low=1)
        if self.like_days_by not in ("day_of_week", "day_type"):
            raise ValueError(f"like_days_by must be 'day_of_week' or 'day_type', got {self.like_days_by!r}")
        for name in ("scale_to_registers", "estimate_questionable", "store_valid_intervals"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")

    def max_energy_wh(self) -> float:
        """The spike check's rating limit: ``max_interval_wh``, else :func:`max_interval_energy_wh`. [Wh]"""
        if self.max_interval_wh is not None:
            return float(self.max_interval_wh)
        return max_interval_energy_wh(
            ratings=self.ratings,
            elements=2 if self.elements is None else self.elements,
            power_factor=self.power_factor,
            interval_s=self.interval_s,
        )


def max_interval_energy_wh(
    *,
    ratings: Ratings = MINI_METER_RATINGS,
    elements: int = 2,
    power_factor: float = 1.0,
    interval_s: int = INTERVAL_S,
) -> float:
    """
    Highest energy a meter can register in one interval: its maximum demand times the interval.

    Parameters
    ----------
    ratings : Ratings, optional
        Ratings; default the Mini Meter's: 138 V highest supply voltage, 220 A highest primary current
        (manual §3.1 and note 1).
    elements : int, optional
        Metering elements, 1 or 2 (certificate p.1: ``S`` or ``D``). [1]
    power_factor : float, optional
        Power factor magnitude in (0, 1]. [1]
    interval_s : int, optional
        Interval length. [s]

    Returns
    -------
    energy_wh : float
        ``elements × supply_max_v × max_current_primary_a × power_factor × interval_s / 3600``. [Wh]

    Notes
    -----
    For a dual element Mini Meter at power factor 1 over 15 minutes:
    2 × 138 V × 220 A × 1 × 0.25 h = 15,180 Wh.
    """
    if isinstance(elements, bool) or elements not in (1, 2):
        raise ValueError(f"elements must be 1 or 2, got {elements!r}")
    pf = _finite("power_factor", power_factor, low=0.0, low_open=True)
    if pf > 1.0:
        raise ValueError(f"power_factor must be in (0, 1], got {power_factor!r}")
    seconds = _integer("interval_s", interval_s, low=1)
    return elements * ratings.supply_max_v * ratings.max_current_primary_a * pf * seconds / 3600.0


# ---------------------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------------------


def _epoch_s(name: str, value: object) -> int:
    """One instant as integer epoch seconds: an aware datetime, a datetime64 or an integer."""
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware, got the naive datetime {value.isoformat()}")
        return math.floor(value.timestamp())
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[s]").astype(np.int64))
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"{name} must be an aware datetime, a datetime64 or integer epoch seconds, got {value!r}"
        )
    return int(value)


def _epoch_array(name: str, values: object) -> IntArray:
    """Instants as an int64 array of epoch seconds (datetime64, integers or aware datetimes)."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if np.issubdtype(array.dtype, np.datetime64):
        if np.isnat(array).any():
            raise ValueError(f"{name} must not contain NaT")
        return array.astype("datetime64[s]").astype(np.int64)
    if array.dtype == np.bool_:
        raise ValueError(f"{name} must hold instants, got booleans")
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64)
    if array.dtype == object or array.size == 0:
        return np.array([_epoch_s(f"{name}[{i}]", v) for i, v in enumerate(array.tolist())], dtype=np.int64)
    raise ValueError(
        f"{name} must hold aware datetimes, datetime64 or integer epoch seconds, got {array.dtype}"
    )


def _float_array(name: str, values: object, size: int, *, allow_nan: bool = True) -> FloatArray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers [Wh], got {values!r}") from None
    if array.ndim != 1 or array.size != size:
        raise ValueError(f"{name} must have the length of interval_end ({size}), got shape {array.shape}")
    if np.isinf(array).any() or (not allow_nan and np.isnan(array).any()):
        raise ValueError(f"{name} must be finite{'' if not allow_nan else ' or NaN'}")
    return array


@dataclass(frozen=True, eq=False)
class IntervalSeries:
    """
    One meter's interval data as received (build it with :meth:`from_arrays`).

    Attributes
    ----------
    interval_end : ndarray of int64
        Interval ends, epoch seconds UTC, strictly increasing. [s]
    energy_wh : ndarray of float64
        Energy of each interval; NaN where unknown. [Wh]
    cumulative_wh : ndarray of float64
        Cumulative counter at each interval end; NaN where not sent. [Wh]
    duration_s : ndarray of float64
        Length of each interval where the source states it (Green Button does); NaN where not. [s]
    """

    interval_end: IntArray
    energy_wh: FloatArray
    cumulative_wh: FloatArray
    duration_s: FloatArray

    @classmethod
    def from_arrays(
        cls,
        interval_end: object,
        energy_wh: object,
        cumulative_wh: object | None = None,
        duration_s: object | None = None,
    ) -> IntervalSeries:
        """
        Check and convert the arrays of a series.

        Parameters
        ----------
        interval_end : array-like
            Interval ends: int64 epoch seconds, ``datetime64`` or aware datetimes; strictly increasing.
        energy_wh : array-like
            Energy per interval, NaN for missing. [Wh]
        cumulative_wh : array-like, optional
            Cumulative counter at each end, NaN where unknown. [Wh]
        duration_s : array-like, optional
            Stated interval lengths, NaN where unknown. [s]

        Raises
        ------
        ValueError
            Naming the argument: mismatched lengths, unsorted or repeated times, infinite values.
        """
        ends = _epoch_array("interval_end", interval_end)
        n = ends.size
        if n > 1 and not (np.diff(ends) > 0).all():
            i = int(np.flatnonzero(np.diff(ends) <= 0)[0]) + 1
            raise ValueError(f"interval_end must be strictly increasing; interval_end[{i}] is not")
        energy = _float_array("energy_wh", energy_wh, n)
        cumulative = (
            np.full(n, np.nan) if cumulative_wh is None else _float_array("cumulative_wh", cumulative_wh, n)
        )
        duration = np.full(n, np.nan) if duration_s is None else _float_array("duration_s", duration_s, n)
        return cls(ends, energy, cumulative, duration)

    def __len__(self) -> int:
        return int(self.interval_end.size)


def _pairs(name: str, items: object) -> list[tuple[int, int]]:
    """``(instant, instant_or_energy)`` pairs as integers; register reads may be RegisterRead records."""
    out: list[tuple[int, int]] = []
    if items is None:
        return out
    if not isinstance(items, Iterable):
        raise ValueError(f"{name} must be a sequence of pairs, got {items!r}")
    for i, item in enumerate(items):
        if hasattr(item, "read_at") and hasattr(item, "energy_wh"):
            item = (item.read_at, item.energy_wh)
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise ValueError(f"{name}[{i}] must be a pair, got {item!r}")
        first = _epoch_s(f"{name}[{i}][0]", item[0])
        second = item[1]
        if name == "register_reads":
            if isinstance(second, bool) or not isinstance(second, numbers.Integral) or int(second) < 0:
                raise ValueError(f"{name}[{i}].energy_wh must be a non-negative integer [Wh], got {second!r}")
            out.append((first, int(second)))
        else:
            last = _epoch_s(f"{name}[{i}][1]", second)
            if last <= first:
                raise ValueError(f"{name}[{i}] must end after it starts, got {item!r}")
            out.append((first, last))
    return sorted(out)


# ---------------------------------------------------------------------------------------------------------
# Checks: pure functions over arrays, each returning a boolean mask
# ---------------------------------------------------------------------------------------------------------


def check_time_tolerance(
    interval_end: object, *, interval_s: int = INTERVAL_S, tolerance_s: float = 60.0
) -> BoolArray:
    """
    Time tolerance check: interval ends off their :00/:15/:30/:45 boundary by more than a tolerance.

    Parameters
    ----------
    interval_end : array-like of int
        Interval ends, epoch seconds. [s]
    interval_s : int, optional
        Interval length. [s]
    tolerance_s : float, optional
        Largest accepted distance from the nearest boundary. [s]

    Returns
    -------
    mask : ndarray of bool
        True where ``|interval_end - nearest boundary| > tolerance_s``.
    """
    ends = _epoch_array("interval_end", interval_end)
    tolerance = _finite("tolerance_s", tolerance_s, low=0.0)
    seconds = _integer("interval_s", interval_s, low=1)
    offset = ends - _snap(ends, seconds)
    return np.asarray(np.abs(offset) > tolerance, dtype=np.bool_)


def _snap(ends: IntArray, interval_s: int) -> IntArray:
    """Nearest boundary (half-way rounds up)."""
    return ((ends + interval_s // 2) // interval_s) * interval_s


def check_interval_size(
    interval_end: object,
    *,
    interval_s: int = INTERVAL_S,
    tolerance_s: float = 60.0,
    duration_s: object | None = None,
) -> BoolArray:
    """
    Interval size check: intervals whose length is not ``interval_s``.

    Parameters
    ----------
    interval_end : array-like of int
        Interval ends, epoch seconds, strictly increasing. [s]
    interval_s : int, optional
        Expected length. [s]
    tolerance_s : float, optional
        Allowed deviation of a length. [s]
    duration_s : array-like, optional
        Stated lengths (NaN where not stated). [s]

    Returns
    -------
    mask : ndarray of bool
        True where a stated length, or else the length since the previous end, differs from
        ``interval_s`` by more than ``tolerance_s``. The length since the previous end is judged only
        where the two ends are on consecutive boundaries: a longer step is a gap (missing intervals),
        not a wrong size. The first interval, with no stated length, passes.
    """
    ends = _epoch_array("interval_end", interval_end)
    seconds = _integer("interval_s", interval_s, low=1)
    tolerance = _finite("tolerance_s", tolerance_s, low=0.0)
    mask = np.zeros(ends.size, dtype=np.bool_)
    if ends.size > 1:
        step = np.diff(ends)
        consecutive = np.diff(_snap(ends, seconds)) == seconds
        mask[1:] = consecutive & (np.abs(step - seconds) > tolerance)
    if duration_s is not None:
        stated = _float_array("duration_s", duration_s, ends.size)
        known = ~np.isnan(stated)
        mask[known] = np.abs(stated[known] - seconds) > tolerance
    return mask


def check_negative(energy_wh: object) -> BoolArray:
    """
    Negative check: intervals of negative energy.

    Parameters
    ----------
    energy_wh : array-like
        Energy per interval, NaN for missing. [Wh]

    Returns
    -------
    mask : ndarray of bool
        True where ``energy_wh < 0`` (NaN is not negative).
    """
    energy = np.asarray(energy_wh, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.asarray(energy < 0, dtype=np.bool_)


def check_counter(
    cumulative_wh: object,
    *,
    modulus_wh: int | None = _DEFAULT_COUNTER_MODULUS_WH,
    max_step_wh: float = math.inf,
) -> tuple[BoolArray, BoolArray, FloatArray, IntArray]:
    """
    Rollover and reset check of a cumulative counter.

    Parameters
    ----------
    cumulative_wh : array-like
        Cumulative counter at each interval end of a regular series, NaN where unknown. [Wh]
    modulus_wh : int or None, optional
        The counter wraps to 0 at this value; None when it never wraps. [Wh]
    max_step_wh : float, optional
        Highest plausible increase per interval (the maximum demand): a decrease is a rollover only
        when the wrapped increase ``c[j] + modulus_wh - c[i]`` is at most ``max_step_wh × (j - i)``. [Wh]

    Returns
    -------
    rollover : ndarray of bool
        True at the first known counter after a rollover (expected; not questionable).
    reset : ndarray of bool
        True at the first known counter after any other decrease (questionable).
    unwrapped_wh : ndarray of float64
        The counter with each rollover undone (``modulus_wh`` added from there on); NaN where unknown. [Wh]
    segment : ndarray of int64
        Counter segment: 0 up to the first reset, then 1, 2 ...; counters compare only within a segment.

    Notes
    -----
    Known counters ``c[i]``, ``c[j]`` (``i < j``, nothing known between) with ``c[j] < c[i]``: a rollover
    when ``0 <= c[j] + m - c[i] <= max_step_wh × (j - i)``, else a reset.
    """
    counter = np.asarray(cumulative_wh, dtype=np.float64)
    n = counter.size
    rollover = np.zeros(n, dtype=np.bool_)
    reset = np.zeros(n, dtype=np.bool_)
    unwrapped = np.full(n, np.nan)
    segment = np.zeros(n, dtype=np.int64)
    offset = 0.0
    seg = 0
    prev: int | None = None
    for j in np.flatnonzero(~np.isnan(counter)).tolist():
        if prev is not None and counter[j] < counter[prev]:
            wrapped = None if modulus_wh is None else counter[j] + modulus_wh - counter[prev]
            if wrapped is not None and 0 <= wrapped <= max_step_wh * (j - prev):
                rollover[j] = True
                offset += modulus_wh or 0
            else:
                reset[j] = True
                seg += 1
                offset = 0.0
        unwrapped[j] = counter[j] + offset
        segment[(prev + 1 if prev is not None else 0) : j + 1] = seg
        prev = j
    if prev is not None:
        segment[prev + 1 :] = seg
    return rollover, reset, unwrapped, segment


def _runs(mask: BoolArray) -> list[tuple[int, int]]:
    """``[start, stop)`` of each run of True."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def check_spike(
    energy_wh: object,
    *,
    ratio: float = 5.0,
    min_wh: float = 100.0,
    max_interval_wh: float | None = None,
    rule: _SpikeRule = "either",
    groups: object | None = None,
) -> BoolArray:
    """
    Spike check: the highest intervals against the third highest, and against the rated maximum.

    Parameters
    ----------
    energy_wh : array-like
        Energy per interval, NaN for missing. [Wh]
    ratio : float, optional
        Ratio test: the highest value of a group is a spike when above ``ratio`` × the third highest
        and at least ``min_wh``; it is then set aside and the test repeated on the rest. A group with
        fewer than three values, or whose third highest is 0 (the load mostly off: the ratio means
        nothing), is not ratio-tested. [1]
    min_wh : float, optional
        Smallest energy the ratio test flags. [Wh]
    max_interval_wh : float, optional
        Rating test: a value above it is a spike (see :func:`max_interval_energy_wh`). None: no
        rating test. [Wh]
    rule : {"either", "both", "ratio", "rating"}, optional
        How the two tests combine.
    groups : array-like of int, optional
        Group of each interval for the ratio test (e.g. its local day); default one group.

    Returns
    -------
    mask : ndarray of bool
        True at spikes.
    """
    energy = np.asarray(energy_wh, dtype=np.float64)
    ratio = _finite("ratio", ratio, low=1.0, low_open=True)
    min_wh = _finite("min_wh", min_wh, low=0.0)
    if rule not in ("either", "both", "ratio", "rating"):
        raise ValueError(f"rule must be 'either', 'both', 'ratio' or 'rating', got {rule!r}")
    keys = np.zeros(energy.size, dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    if keys.shape != energy.shape:
        raise ValueError(f"groups must have the length of energy_wh ({energy.size}), got shape {keys.shape}")
    by_ratio = np.zeros(energy.size, dtype=np.bool_)
    usable = np.isfinite(energy) & (np.nan_to_num(energy, nan=-1.0) >= 0)
    for key in np.unique(keys[usable]).tolist():
        idx = np.flatnonzero(usable & (keys == key))
        values = energy[idx]
        order = np.argsort(-values, kind="stable")
        k = 0
        while order.size - k >= 3:
            high, third = values[order[k]], values[order[k + 2]]
            if third > 0 and high >= min_wh and high > ratio * third:
                by_ratio[idx[order[k]]] = True
                k += 1
            else:
                break
    by_rating = np.zeros(energy.size, dtype=np.bool_)
    if max_interval_wh is not None:
        limit = _finite("max_interval_wh", max_interval_wh, low=0.0, low_open=True)
        with np.errstate(invalid="ignore"):
            by_rating = np.asarray(energy > limit, dtype=np.bool_)
    if rule == "ratio":
        return by_ratio
    if rule == "rating":
        return by_rating
    if rule == "both":
        return by_ratio & by_rating
    return by_ratio | by_rating


def check_zero_run(energy_wh: object, *, max_run: int, exempt: object | None = None) -> BoolArray:
    """
    Zero consumption check with outage awareness.

    Parameters
    ----------
    energy_wh : array-like
        Energy per interval of a regular series, NaN for missing. [Wh]
    max_run : int
        Longest accepted run of zero intervals. [1]
    exempt : array-like of bool, optional
        Intervals where zero is expected (a known outage): they are never flagged, and break a run.

    Returns
    -------
    mask : ndarray of bool
        True on every interval of a run of more than ``max_run`` consecutive zero, non-exempt intervals
        (a missing interval breaks a run).
    """
    energy = np.asarray(energy_wh, dtype=np.float64)
    run = _integer("max_run", max_run, low=0)
    free = np.zeros(energy.size, dtype=np.bool_) if exempt is None else np.asarray(exempt, dtype=np.bool_)
    if free.shape != energy.shape:
        raise ValueError(f"exempt must have the length of energy_wh ({energy.size}), got shape {free.shape}")
    zero = (energy == 0) & ~free
    mask = np.zeros(energy.size, dtype=np.bool_)
    for a, b in _runs(zero):
        if b - a > run:
            mask[a:b] = True
    return mask


def outage_mask(interval_end: object, outages: object, *, interval_s: int = INTERVAL_S) -> BoolArray:
    """
    Intervals that overlap a known outage (a power-down to power-up span).

    Parameters
    ----------
    interval_end : array-like
        Interval ends, epoch seconds. [s]
    outages : sequence of (start, end)
        Outage spans, aware datetimes or epoch seconds, ``start < end``.
    interval_s : int, optional
        Interval length. [s]

    Returns
    -------
    mask : ndarray of bool
        True where ``(interval_end - interval_s, interval_end]`` overlaps some ``(start, end)``.
    """
    ends = _epoch_array("interval_end", interval_end)
    mask = np.zeros(ends.size, dtype=np.bool_)
    for lo, hi in _pairs("outages", outages):
        mask |= (ends > lo) & (ends - interval_s < hi)
    return mask


@dataclass(frozen=True, slots=True)
class SumCheck:
    """
    The sum check of the intervals between two register reads.

    Attributes
    ----------
    start, end : int
        The two reads, epoch seconds; the intervals with ``start < interval_end <= end`` are summed. [s]
    first, stop : int
        Those intervals' positions in the series: ``[first, stop)``.
    register_delta_wh : int
        Difference of the two reads. [Wh]
    interval_sum_wh : float
        Sum of the intervals that are known. [Wh]
    missing : int
        How many of them are missing. [1]
    passed : bool or None
        Whether the sum is within tolerance; None when it could not be checked (see ``reason``).
    reason : str
        In words.
    """

    start: int
    end: int
    first: int
    stop: int
    register_delta_wh: int
    interval_sum_wh: float
    missing: int
    passed: bool | None
    reason: str


def check_sum(
    interval_end: object,
    energy_wh: object,
    register_reads: object,
    *,
    tolerance_fraction: float = 0.005,
    tolerance_wh: float = 10.0,
    interval_s: int = INTERVAL_S,
) -> tuple[SumCheck, ...]:
    """
    Sum check: intervals between consecutive register reads against the register difference.

    Parameters
    ----------
    interval_end : array-like
        Interval ends of a regular series, epoch seconds. [s]
    energy_wh : array-like
        Energy per interval, NaN for missing. [Wh]
    register_reads : sequence of (read_at, energy_wh)
        Register reads (or :class:`~meshmeter.store.RegisterRead` records), on interval boundaries. [Wh]
    tolerance_fraction, tolerance_wh : float, optional
        A pair passes when ``|sum - delta| <= max(tolerance_fraction × delta, tolerance_wh)``.
    interval_s : int, optional
        Interval length. [s]

    Returns
    -------
    checks : tuple of SumCheck
        One per consecutive pair of reads. A pair is not checked (``passed`` None) when an interval
        between is missing, a read is off the boundaries or outside the series, or the register went
        down.
    """
    ends = _epoch_array("interval_end", interval_end)
    energy = _float_array("energy_wh", energy_wh, ends.size)
    frac = _finite("tolerance_fraction", tolerance_fraction, low=0.0)
    abs_wh = _finite("tolerance_wh", tolerance_wh, low=0.0)
    reads = _pairs("register_reads", register_reads)
    out: list[SumCheck] = []
    if ends.size == 0:
        return ()
    lo_bound, hi_bound = int(ends[0]) - interval_s, int(ends[-1])
    for (t0, r0), (t1, r1) in itertools.pairwise(reads):
        first = int(np.searchsorted(ends, t0, side="right"))
        stop = int(np.searchsorted(ends, t1, side="right"))
        delta = r1 - r0
        values = energy[first:stop]
        known = values[~np.isnan(values)]
        total = float(known.sum())
        missing = int(values.size - known.size)
        passed: bool | None = None
        if t0 % interval_s or t1 % interval_s:
            reason = "a register read is not on an interval boundary"
        elif t0 < lo_bound or t1 > hi_bound:
            reason = "the reads reach outside the series"
        elif delta < 0:
            reason = f"the register went down by {-delta} Wh"
        elif missing:
            reason = f"{missing} interval(s) missing"
        else:
            allowed = max(frac * delta, abs_wh)
            passed = abs(total - delta) <= allowed
            verb = "within" if passed else "outside"
            reason = (
                f"intervals sum to {total:.0f} Wh, register difference {delta} Wh: {verb} the tolerance "
                f"of {allowed:g} Wh"
            )
        out.append(SumCheck(t0, t1, first, stop, delta, total, missing, passed, reason))
    return tuple(out)


# ---------------------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's finding: the interval (position and end), the check's name, why, and its weight."""

    index: int
    interval_end: int
    check: str
    reason: str
    questionable: bool


@dataclass(frozen=True, eq=False)
class ValidationResult:
    """
    A series on its regular grid, with a quality code per interval and the reasons.

    Attributes
    ----------
    interval_end : ndarray of int64
        Every boundary with ``start < interval_end <= end``, epoch seconds. [s]
    energy_wh : ndarray of float64
        Energy as received, NaN where missing. [Wh]
    cumulative_wh : ndarray of float64
        Counter as received, NaN where unknown. [Wh]
    counter_wh : ndarray of float64
        Counter with rollovers undone (:func:`check_counter`). [Wh]
    counter_segment : ndarray of int64
        Counter segment (a reset starts a new one).
    quality : ndarray of int64
        0 valid, 10 questionable, 14 missing (raw, nothing to validate).
    masks : mapping of str to ndarray of bool
        Each check's mask, keyed by the names of :data:`CHECKS`.
    outage : ndarray of bool
        Intervals in a known outage.
    findings : tuple of Finding
        Every finding, in order of interval.
    sum_checks : tuple of SumCheck
        The sum checks.
    config : VeeConfig
    timezone : str
        IANA zone of the local days (spike groups, like days).
    local_day : ndarray of int64
        Local date (proleptic ordinal) of each interval's start.
    local_minute : ndarray of int64
        Local time of day of each interval's start, minutes after midnight.
    """

    interval_end: IntArray
    energy_wh: FloatArray
    cumulative_wh: FloatArray
    counter_wh: FloatArray
    counter_segment: IntArray
    quality: IntArray
    masks: Mapping[str, BoolArray]
    outage: BoolArray
    findings: tuple[Finding, ...]
    sum_checks: tuple[SumCheck, ...]
    config: VeeConfig
    timezone: str
    local_day: IntArray
    local_minute: IntArray

    def reasons(self, index: int) -> list[str]:
        """The reasons found for the interval at ``index``."""
        return [f"{f.check}: {f.reason}" for f in self.findings if f.index == index]


def _local(ends: IntArray, interval_s: int, zone: ZoneInfo) -> tuple[IntArray, IntArray]:
    """Local date ordinal and minute of day of each interval's start."""
    days = np.empty(ends.size, dtype=np.int64)
    minutes = np.empty(ends.size, dtype=np.int64)
    for i, end in enumerate(ends.tolist()):
        local = datetime.fromtimestamp(end - interval_s, zone)
        days[i] = local.toordinal()
        minutes[i] = local.hour * 60 + local.minute
    return days, minutes


def validate(
    series: IntervalSeries,
    *,
    config: VeeConfig | None = None,
    register_reads: object | None = None,
    outages: object | None = None,
    start: object | None = None,
    end: object | None = None,
    timezone: str = "UTC",
) -> ValidationResult:
    """
    Run every check over a meter's series and give each interval of the regular grid a quality code.

    Parameters
    ----------
    series : IntervalSeries
        The intervals as received (:meth:`IntervalSeries.from_arrays`).
    config : VeeConfig, optional
        Settings; default ``VeeConfig()``.
    register_reads : sequence of (read_at, energy_wh), optional
        Register reads for the sum check and the counter-free totals of :func:`estimate`. [Wh]
    outages : sequence of (start, end), optional
        Known outages (power-down to power-up); zeros within them are not questionable.
    start, end : datetime or int, optional
        The grid: boundaries with ``start < interval_end <= end``; default from the series' first to
        its last end (after snapping). Both must be on boundaries.
    timezone : str, optional
        IANA zone whose local days group the spike check (and, in :func:`estimate`, select like days).

    Returns
    -------
    ValidationResult
        Quality 14 for a missing interval, 10 for one with a questionable finding, 0 otherwise.

    Notes
    -----
    Order of work: snap each end within ``time_tolerance_s`` of a boundary to it (farther ones are
    snapped too, and flagged ``time_tolerance``); two records on one boundary keep the nearer one
    (``duplicate``); place the records on the grid (empty boundaries are ``missing``); then
    ``interval_size``, ``negative``, ``rollover``/``counter_reset``, ``spike`` (ratio test per local
    day), ``zero_run`` (outage aware) and ``sum_check`` (a failing pair flags every interval between).
    """
    if not isinstance(series, IntervalSeries):
        raise ValueError(f"series must be an IntervalSeries, got {type(series).__name__}")
    cfg = VeeConfig() if config is None else config
    if not isinstance(cfg, VeeConfig):
        raise ValueError(f"config must be a VeeConfig, got {config!r}")
    tz = zone(timezone)
    step = cfg.interval_s
    snapped = _snap(series.interval_end, step)
    off = check_time_tolerance(series.interval_end, interval_s=step, tolerance_s=cfg.time_tolerance_s)
    size = check_interval_size(
        series.interval_end, interval_s=step, tolerance_s=cfg.time_tolerance_s, duration_s=series.duration_s
    )
    lo = (int(snapped[0]) - step if snapped.size else 0) if start is None else _epoch_s("start", start)
    hi = (int(snapped[-1]) if snapped.size else 0) if end is None else _epoch_s("end", end)
    for name, value in (("start", lo), ("end", hi)):
        if value % step:
            raise ValueError(f"{name} must be on an interval boundary ({step} s), got {value}")
    if lo > hi:
        raise ValueError(f"start must not be after end, got {lo} and {hi}")
    grid = np.arange(lo + step, hi + 1, step, dtype=np.int64)
    n = grid.size
    energy = np.full(n, np.nan)
    cumulative = np.full(n, np.nan)
    masks: dict[str, BoolArray] = {name: np.zeros(n, dtype=np.bool_) for name in CHECKS}
    findings: list[Finding] = []

    def add(i: int, check: str, reason: str) -> None:
        masks[check][i] = True
        findings.append(Finding(i, int(grid[i]), check, reason, check not in _INFORMATIONAL))

    placed = np.full(n, -1, dtype=np.int64)
    distance = np.abs(series.interval_end - snapped)
    for k in range(len(series)):
        i = int((snapped[k] - lo) // step) - 1
        if not 0 <= i < n:
            continue
        if placed[i] >= 0:
            keep = int(placed[i]) if distance[placed[i]] <= distance[k] else k
            add(i, "duplicate", f"two records at {int(snapped[k])}: kept the one {int(distance[keep])} s off")
            if keep == int(placed[i]):
                continue
        placed[i] = k
        energy[i] = series.energy_wh[k]
        cumulative[i] = series.cumulative_wh[k]
    for i in np.flatnonzero(placed >= 0).tolist():
        k = int(placed[i])
        if off[k]:
            add(
                i,
                "time_tolerance",
                f"end {int(series.interval_end[k])} is {int(distance[k])} s off its boundary",
            )
        if size[k]:
            stated = series.duration_s[k]
            length = stated if not np.isnan(stated) else series.interval_end[k] - series.interval_end[k - 1]
            add(i, "interval_size", f"interval of {float(length):g} s, expected {step} s")
    for i in np.flatnonzero(np.isnan(energy)).tolist():
        add(i, "missing", "no value")
    for i in np.flatnonzero(check_negative(energy)).tolist():
        add(i, "negative", f"{energy[i]:g} Wh is negative")
    max_wh = cfg.max_energy_wh()
    rollover, reset, counter, segment = check_counter(
        cumulative, modulus_wh=cfg.counter_modulus_wh, max_step_wh=max_wh
    )
    for i in np.flatnonzero(rollover).tolist():
        add(i, "rollover", f"counter rolled over at {cfg.counter_modulus_wh} Wh")
    for i in np.flatnonzero(reset).tolist():
        add(i, "counter_reset", f"counter went down to {cumulative[i]:.0f} Wh")
    local_day, local_minute = _local(grid, step, tz)
    spike = check_spike(
        energy,
        ratio=cfg.spike_ratio,
        min_wh=cfg.spike_min_wh,
        max_interval_wh=max_wh,
        rule=cfg.spike_rule,
        groups=local_day,
    )
    for i in np.flatnonzero(spike).tolist():
        add(
            i,
            "spike",
            f"{energy[i]:g} Wh (rated maximum {max_wh:g} Wh, ratio test x{cfg.spike_ratio:g} per day)",
        )
    outage = outage_mask(grid, outages, interval_s=step)
    max_run = math.floor(cfg.zero_run_max_h * 3600 / step + 1e-9)
    zero = check_zero_run(energy, max_run=max_run, exempt=outage)
    for a, b in _runs(zero):
        for i in range(a, b):
            add(
                i,
                "zero_run",
                f"{b - a} zero intervals in a row outside known outages (over {cfg.zero_run_max_h:g} h)",
            )
    sums = check_sum(
        grid,
        energy,
        register_reads,
        tolerance_fraction=cfg.sum_tolerance_fraction,
        tolerance_wh=cfg.sum_tolerance_wh,
        interval_s=step,
    )
    for s in sums:
        if s.passed is False:
            for i in range(s.first, s.stop):
                add(i, "sum_check", s.reason)
    findings.sort(key=lambda f: (f.index, CHECKS.index(f.check)))
    quality = np.full(n, QUALITY_VALID, dtype=np.int64)
    for f in findings:
        if f.questionable:
            quality[f.index] = QUALITY_QUESTIONABLE
    quality[masks["missing"]] = QUALITY_RAW
    return ValidationResult(
        interval_end=grid,
        energy_wh=energy,
        cumulative_wh=cumulative,
        counter_wh=counter,
        counter_segment=segment,
        quality=quality,
        masks=masks,
        outage=outage,
        findings=tuple(findings),
        sum_checks=sums,
        config=cfg,
        timezone=timezone,
        local_day=local_day,
        local_minute=local_minute,
    )


# ---------------------------------------------------------------------------------------------------------
# Estimation
# ---------------------------------------------------------------------------------------------------------


def interpolate_linear(
    before_wh: float, after_wh: float, n: int, *, before_gap: int = 0, after_gap: int = 0
) -> FloatArray:
    """
    Linear interpolation of the intervals of a gap between two known intervals.

    Parameters
    ----------
    before_wh, after_wh : float
        The known intervals on either side (the end points). [Wh]
    n : int
        Intervals in the gap. [1]
    before_gap, after_gap : int, optional
        Intervals skipped between an end point and the gap (e.g. in an outage). [1]

    Returns
    -------
    energy_wh : ndarray of float64
        The ``n`` estimates. [Wh]

    Notes
    -----
    With the end points at positions 0 and :math:`m = n + 1 + b + a` (``b``, ``a`` the skipped
    intervals) and the gap's intervals at :math:`k = b + 1 \\ldots b + n`:

    .. math:: E_k = E_0 + (E_m - E_0) \\, k / m

    e.g. 100 and 400 Wh around a 3-interval gap: 175, 250, 325 Wh.
    """
    y0 = _finite("before_wh", before_wh)
    y1 = _finite("after_wh", after_wh)
    count = _integer("n", n, low=0)
    b = _integer("before_gap", before_gap, low=0)
    a = _integer("after_gap", after_gap, low=0)
    m = count + 1 + b + a
    k = np.arange(b + 1, b + count + 1, dtype=np.float64)
    return y0 + (y1 - y0) * k / m


def largest_remainder(weights: object, total_wh: int) -> IntArray:
    """
    Split an integer total into integer parts proportional to weights (largest-remainder rounding).

    Parameters
    ----------
    weights : array-like of float
        Non-negative weights; all zero (or empty sum) means an even split.
    total_wh : int
        The total, a non-negative integer. [Wh]

    Returns
    -------
    parts : ndarray of int64
        ``floor(total × w_i / sum(w))`` plus one for the largest remainders (ties to the earliest), so
        that ``parts.sum() == total_wh`` exactly. [Wh]
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(
            f"weights must be a one-dimensional array of finite non-negative numbers, got {weights!r}"
        )
    total = _integer("total_wh", total_wh, low=0)
    if w.size == 0:
        if total:
            raise ValueError(f"total_wh {total} cannot be split over no parts")
        return np.zeros(0, dtype=np.int64)
    if w.sum() <= 0:
        w = np.ones(w.size)
    exact = w / w.sum() * total
    base = np.floor(exact)
    remainder = int(min(max(total - int(base.sum()), 0), w.size))
    order = np.argsort(-(exact - base), kind="stable")
    parts: IntArray = np.asarray(base, dtype=np.int64)
    parts[order[:remainder]] += 1
    parts[order[0]] += total - int(parts.sum())  # only binary rounding can leave a residue here
    return parts


def like_day_class(day: date, *, holidays: Container[date], by: _LikeDaysBy = "day_of_week") -> int:
    """
    Class of a local day for like-day estimation.

    Parameters
    ----------
    day : date
        Local calendar date.
    holidays : container of date
        Holidays (e.g. :func:`~meshmeter.headend.calendar.us_federal_holidays`).
    by : {"day_of_week", "day_type"}, optional
        ``"day_of_week"``: Monday 0 ... Sunday 6, a holiday 6 (like a Sunday). ``"day_type"``: 0 for a
        working day (Monday to Friday, not a holiday), 1 for Saturday, Sunday or a holiday.

    Returns
    -------
    int
    """
    if by not in ("day_of_week", "day_type"):
        raise ValueError(f"by must be 'day_of_week' or 'day_type', got {by!r}")
    if by == "day_of_week":
        return 6 if day in holidays else day.weekday()
    return 1 if day in holidays or day.weekday() >= 5 else 0


@dataclass(frozen=True, eq=False)
class EstimationResult:
    """
    The validated series after estimation.

    Attributes
    ----------
    interval_end : ndarray of int64
        The grid of the validation, epoch seconds. [s]
    energy_wh : ndarray of float64
        Energy: as received, or an integer estimate; NaN where still unknown. [Wh]
    quality : ndarray of int64
        0, 10, 14 as validated; 9 where interpolated, 8 where estimated from like days.
    estimated : ndarray of bool
        Intervals estimated here.
    reasons : mapping of int to str
        Why each estimated interval has its value (method, end points or like days, scaling).
    unestimated : tuple of int
        Positions that needed an estimate and got none (no end points and no like days).
    validation : ValidationResult
    """

    interval_end: IntArray
    energy_wh: FloatArray
    quality: IntArray
    estimated: BoolArray
    reasons: Mapping[int, str]
    unestimated: tuple[int, ...]
    validation: ValidationResult


@dataclass
class _Gap:
    first: int
    stop: int
    values: FloatArray
    quality: int
    reason: str
    total_wh: int | None = None  # exact total from counters
    group: int = -1


def _counter_total(v: ValidationResult, first: int, stop: int) -> int | None:
    """The gap's exact energy from the counters on both sides, if known and consistent."""
    if first == 0 or stop > v.energy_wh.size:
        return None
    c0 = v.counter_wh[first - 1]
    if np.isnan(c0):
        return None
    if not np.isnan(v.counter_wh[stop - 1]):
        c1, seg1 = v.counter_wh[stop - 1], v.counter_segment[stop - 1]
    elif stop < v.energy_wh.size and not np.isnan(v.counter_wh[stop]) and np.isfinite(v.energy_wh[stop]):
        c1, seg1 = v.counter_wh[stop] - v.energy_wh[stop], v.counter_segment[stop]
    else:
        return None
    if seg1 != v.counter_segment[first - 1] or v.masks["counter_reset"][first:stop].any():
        return None
    total = c1 - c0
    if total < 0 or total != math.floor(total):
        return None
    return int(total)


def _end_point(v: ValidationResult, usable: BoolArray, start: int, step: int) -> tuple[int, int] | None:
    """The nearest usable interval from ``start`` in direction ``step``, skipping outage intervals."""
    j, skipped = start, 0
    while 0 <= j < usable.size and v.outage[j]:
        j += step
        skipped += 1
    if 0 <= j < usable.size and usable[j]:
        return j, skipped
    return None


def _like_day_index(v: ValidationResult, usable: BoolArray) -> dict[tuple[int, int], list[int]]:
    """Usable intervals by (local day, local minute of day)."""
    index: dict[tuple[int, int], list[int]] = {}
    for i in np.flatnonzero(usable).tolist():
        index.setdefault((int(v.local_day[i]), int(v.local_minute[i])), []).append(i)
    return index


def _like_days(
    v: ValidationResult,
    index: Mapping[tuple[int, int], list[int]],
    first: int,
    stop: int,
    holidays: Container[date],
    classes: dict[int, int],
) -> FloatArray:
    """Per interval of the gap, the mean of the last ``like_days`` like days' values at that local time."""
    cfg = v.config

    def klass(ordinal: int) -> int:
        if ordinal not in classes:
            classes[ordinal] = like_day_class(
                date.fromordinal(ordinal), holidays=holidays, by=cfg.like_days_by
            )
        return classes[ordinal]

    out = np.full(stop - first, np.nan)
    for pos, i in enumerate(range(first, stop)):
        day, minute = int(v.local_day[i]), int(v.local_minute[i])
        want = klass(day)
        samples: list[float] = []
        for back in range(1, cfg.like_day_lookback_days + 1):
            d = day - back
            if klass(d) != want:
                continue
            hits = index.get((d, minute))
            if hits:
                samples.append(float(np.mean(v.energy_wh[hits])))
                if len(samples) == cfg.like_days:
                    break
        if samples:
            out[pos] = float(np.mean(samples))
    return out


def estimate(
    validation: ValidationResult,
    *,
    holidays: Collection[date] | None = None,
) -> EstimationResult:
    """
    Estimate the missing (and negative, or with ``estimate_questionable`` questionable) intervals.

    Parameters
    ----------
    validation : ValidationResult
        From :func:`validate` (its config, time zone, outages and sum checks are used).
    holidays : collection of date, optional
        Local holiday dates; default the US federal holidays (by rule) of the years of the series.

    Returns
    -------
    EstimationResult

    Notes
    -----
    Each maximal run of intervals to estimate (a gap) is handled in turn:

    1. Its exact total, where the unwrapped cumulative counters on both sides are known
       (:func:`check_counter`; the counter at the gap's end is the next interval's counter less its
       energy): ``total = c_end - c_before``.
    2. A gap of at most ``max_interpolation_intervals``: linear interpolation (quality 9) between the
       nearest usable intervals on each side (valid, not in an outage: outage intervals are skipped,
       never used as end points) by :func:`interpolate_linear`. With a known total the interpolated
       values are the shape, scaled to it.
    3. Otherwise, or when there are no end points: the mean of the last ``like_days`` like days at the
       same local time of day (quality 8), scaled to the known total if there is one.
    4. A known total with neither end points nor like days is split evenly: linear interpolation of
       the cumulative counter (quality 9).
    5. With ``scale_to_registers``, the estimates between two register reads whose intervals are
       otherwise complete are scaled so that everything between the reads sums to the register
       difference (unless a counter total already fixes them).

    Integer Wh: each group with a known total (a counter gap, a register span) is rounded by
    :func:`largest_remainder` to sum to it exactly; any other gap to its rounded float sum.
    """
    if not isinstance(validation, ValidationResult):
        raise ValueError(f"validation must be a ValidationResult, got {type(validation).__name__}")
    v = validation
    cfg = v.config
    n = v.interval_end.size
    if holidays is None and n:
        first_year = date.fromordinal(int(v.local_day.min())).year
        last_year = date.fromordinal(int(v.local_day.max())).year
        calendar: Collection[date] = frozenset().union(
            *(us_federal_holidays(y) for y in range(max(first_year - 1, 1971), last_year + 1))
        )
    else:
        calendar = frozenset() if holidays is None else holidays
    replace_mask = v.masks["missing"] | v.masks["negative"]
    if cfg.estimate_questionable:
        for name in CHECKS:
            if name not in _NOT_REPLACED:
                replace_mask = replace_mask | v.masks[name]
    usable = (v.quality == QUALITY_VALID) & ~v.outage & np.isfinite(v.energy_wh)
    index = _like_day_index(v, usable)
    classes: dict[int, int] = {}
    gaps: list[_Gap] = []
    unestimated: list[int] = []
    for first, stop in _runs(replace_mask):
        count = stop - first
        total = _counter_total(v, first, stop)
        values: FloatArray | None = None
        quality = QUALITY_ESTIMATED_INTERPOLATION
        reason = ""
        if count <= cfg.max_interpolation_intervals:
            left = _end_point(v, usable, first - 1, -1)
            right = _end_point(v, usable, stop, +1)
            if left is not None and right is not None:
                (a, skip_a), (b, skip_b) = left, right
                values = interpolate_linear(
                    float(v.energy_wh[a]), float(v.energy_wh[b]), count, before_gap=skip_a, after_gap=skip_b
                )
                reason = (
                    f"linear interpolation between {v.energy_wh[a]:g} Wh and {v.energy_wh[b]:g} Wh over a "
                    f"gap of {count} interval(s)"
                )
        if values is None:
            like = _like_days(v, index, first, stop, calendar, classes)
            if not np.isnan(like).any():
                values, quality = like, QUALITY_ESTIMATED_REFERENCE_DAY
                reason = (
                    f"average of the last {cfg.like_days} like days ({cfg.like_days_by}) "
                    "at the same local time"
                )
        if values is None and total is not None:
            values = np.zeros(count)
            reason = "even split of the counter difference (linear interpolation of the cumulative counter)"
        if values is None:
            unestimated.extend(range(first, stop))
            continue
        if total is not None:
            reason += f", scaled to the counter difference of {total} Wh"
        gaps.append(_Gap(first, stop, values, quality, reason, total))

    # Group for rounding: a counter gap alone; else register spans; else each gap alone.
    group_total: dict[int, int | None] = {}
    slot_group = np.full(n, -1, dtype=np.int64)
    slot_value = np.full(n, np.nan)
    slot_gap = np.full(n, -1, dtype=np.int64)
    for g_id, gap in enumerate(gaps):
        gap.group = g_id
        group_total[g_id] = gap.total_wh
        slot_group[gap.first : gap.stop] = g_id
        slot_value[gap.first : gap.stop] = gap.values
        slot_gap[gap.first : gap.stop] = g_id
    next_group = len(gaps)
    if cfg.scale_to_registers:
        for s in v.sum_checks:
            if (
                s.register_delta_wh < 0
                or s.start % cfg.interval_s
                or s.end % cfg.interval_s
                or s.stop <= s.first
            ):
                continue
            if s.start < int(v.interval_end[0]) - cfg.interval_s or s.end > int(v.interval_end[-1]):
                continue
            span = slice(s.first, s.stop)
            targets = replace_mask[span]
            if not targets.any() or np.isnan(slot_value[span][targets]).any():
                continue
            fixed = (
                np.array([group_total.get(int(g)) is not None for g in slot_group[span]], dtype=np.bool_)
                & targets
            )
            free = targets & ~fixed
            if not free.any():
                continue
            known = float(v.energy_wh[span][~targets].sum())
            fixed_sum = sum(group_total[int(g)] or 0 for g in set(slot_group[span][fixed].tolist()))
            if any(
                (slot_group[: s.first] == g).any() or (slot_group[s.stop :] == g).any()
                for g in set(slot_group[span][fixed].tolist())
            ):
                continue  # a counter gap straddles the span: its total is not all inside
            remaining = s.register_delta_wh - known - fixed_sum
            if remaining < 0 or remaining != math.floor(remaining):
                continue
            idx = np.flatnonzero(free) + s.first
            before = float(slot_value[idx].sum())
            scale = remaining / before if before > 0 else math.nan
            slot_group[idx] = next_group
            group_total[next_group] = int(remaining)
            for g_id in set(slot_gap[idx].tolist()):
                note = (
                    f", scaled x{scale:.4g} to the register difference"
                    if before > 0
                    else ", split evenly to the register difference"
                )
                if not gaps[g_id].reason.endswith(note):
                    gaps[g_id].reason += note
            next_group += 1

    energy = v.energy_wh.copy()
    qualities = v.quality.copy()
    estimated = np.zeros(n, dtype=np.bool_)
    reasons: dict[int, str] = {}
    for g_id in sorted(set(slot_group[slot_group >= 0].tolist())):
        idx = np.flatnonzero(slot_group == g_id)
        weights = np.clip(slot_value[idx], 0.0, None)
        total = group_total[g_id]
        if total is None:
            total = math.floor(float(weights.sum()) + 0.5)
        energy[idx] = largest_remainder(weights, total).astype(np.float64)
        estimated[idx] = True
        for i in idx.tolist():
            gap = gaps[int(slot_gap[i])]
            qualities[i] = gap.quality
            reasons[i] = gap.reason
    return EstimationResult(
        interval_end=v.interval_end,
        energy_wh=energy,
        quality=qualities,
        estimated=estimated,
        reasons=reasons,
        unestimated=tuple(unestimated),
        validation=v,
    )


# ---------------------------------------------------------------------------------------------------------
# Editing and the store
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VeeReport:
    """
    What :func:`run_vee` did for one meter over ``(start, end]``.

    Attributes
    ----------
    meter_id : int
    start, end : datetime
    intervals : int
        Boundaries in the window. [1]
    valid, questionable, interpolated, estimated_reference_day, missing : int
        Intervals by outcome: quality 0, 10, 9, 8, and still missing (14: nothing stored). [1]
    kept_edits : int
        Intervals left alone because a person edited them (quality 7). [1]
    changed : int
        Validated rows inserted or changed in the store (0 on an idempotent re-run). [1]
    findings : tuple of Finding
        The findings inside the window.
    sum_checks : tuple of SumCheck
        The sum checks that touch the window.
    """

    meter_id: int
    start: datetime
    end: datetime
    intervals: int
    valid: int
    questionable: int
    interpolated: int
    estimated_reference_day: int
    missing: int
    kept_edits: int
    changed: int
    findings: tuple[Finding, ...] = field(default=())
    sum_checks: tuple[SumCheck, ...] = field(default=())


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _meter_outages(store: Store, meter_id: int, lo: datetime, hi: datetime) -> list[tuple[int, int]]:
    """Outages from the store's ``power_down`` / ``power_up`` events of the meter."""
    spans: list[tuple[int, int]] = []
    down: int | None = None
    for event in store.events(meter_id=meter_id, start=lo - timedelta(days=7), end=hi):
        t = _epoch_s("event.at", event.at)
        if event.kind == "power_down" and down is None:
            down = t
        elif event.kind == "power_up" and down is not None:
            if t > down:
                spans.append((down, t))
            down = None
    if down is not None:
        spans.append((down, _epoch_s("end", hi) + 1))
    return spans


def run_vee(
    store: Store,
    *,
    meter_id: int,
    start: datetime,
    end: datetime,
    config: VeeConfig | None = None,
    edited_by: str = "vee",
    timezone: str | None = None,
    outages: Sequence[tuple[datetime, datetime]] | None = None,
    holidays: Collection[date] | None = None,
) -> VeeReport:
    """
    Validate, estimate and store one meter's intervals of ``(start, end]``.

    Parameters
    ----------
    store : Store
        Read: raw intervals (latest revision), register reads, ``power_down``/``power_up`` events,
        validated intervals. Written: validated intervals, through
        :meth:`~meshmeter.store.Store.put_validated_intervals`, which audits every change.
    meter_id : int
        The meter.
    start, end : datetime
        Aware; on interval boundaries.
    config : VeeConfig, optional
        Settings; ``elements`` None takes the meter's from its designation.
    edited_by : str, optional
        Who, for the audit.
    timezone : str, optional
        IANA zone of the like days; default the meter's site's zone, else UTC.
    outages : sequence of (datetime, datetime), optional
        Known outages besides those of the store's events.
    holidays : collection of date, optional
        Local holiday dates; default US federal holidays.

    Returns
    -------
    VeeReport

    Notes
    -----
    Raw intervals are read ``like_day_lookback_days`` before ``start`` (like days, counters) and a day
    after ``end`` (end points); only ``(start, end]`` is written. An interval a person edited
    (quality 7) is left alone. Nothing is written for an interval that stays missing, or negative
    (the store holds no negative energy). Writing the same results again changes nothing and adds no
    audit record: re-running is idempotent.
    """
    cfg = VeeConfig() if config is None else config
    if not isinstance(cfg, VeeConfig):
        raise ValueError(f"config must be a VeeConfig, got {config!r}")
    meter = store.get_meter(meter_id=meter_id)
    if meter is None:
        raise ValueError(f"meter_id {meter_id!r} is not a known meter")
    if cfg.interval_s != meter.interval_s:
        cfg = replace(cfg, interval_s=meter.interval_s)  # a meter is validated at its own length
    lo, hi = _epoch_s("start", start), _epoch_s("end", end)
    if lo % cfg.interval_s or hi % cfg.interval_s or lo > hi:
        raise ValueError(
            f"start and end must be interval boundaries with start <= end, got {start!r}, {end!r}"
        )
    if cfg.elements is None:
        try:
            elements = decode_meter(meter.designation).elements
        except ValueError:
            elements = 2
        cfg = replace(cfg, elements=elements)
    if timezone is None:
        site = store.get_site(site_id=meter.site_id) if meter.site_id is not None else None
        timezone = site.timezone if site is not None else "UTC"
    read_lo = _utc(lo - cfg.like_day_lookback_days * 86400 - 86400)
    read_hi = _utc(hi + 86400)
    watermark = store.ingest_watermark()  # before the read: what arrives later is not validated by this run
    raw = store.raw_intervals(meter_id=meter_id, start=read_lo, end=read_hi)
    series = IntervalSeries.from_arrays(
        np.array([_epoch_s("interval_end", r.interval_end) for r in raw], dtype=np.int64),
        np.array([r.energy_wh for r in raw], dtype=np.float64),
        np.array([np.nan if r.cumulative_wh is None else r.cumulative_wh for r in raw], dtype=np.float64),
    )
    reads = [
        (r.read_at, r.energy_wh) for r in store.register_reads(meter_id=meter_id, start=read_lo, end=read_hi)
    ]
    spans = _meter_outages(store, meter_id, read_lo, read_hi) + _pairs("outages", outages)
    validation = validate(
        series,
        config=cfg,
        register_reads=reads,
        outages=spans,
        start=_epoch_s("start", read_lo),
        end=_epoch_s("end", read_hi),
        timezone=timezone,
    )
    result = estimate(validation, holidays=holidays)
    existing = {
        _epoch_s("interval_end", r.interval_end): (r.energy_wh, r.quality)
        for r in store.validated_intervals(meter_id=meter_id, start=_utc(lo), end=_utc(hi))
    }
    window = np.flatnonzero((result.interval_end > lo) & (result.interval_end <= hi))
    by_reason: dict[str, list[tuple[datetime, int, int]]] = {}
    counts = dict.fromkeys(("valid", "questionable", "interpolated", "reference", "missing", "kept"), 0)
    for i in window.tolist():
        t = int(result.interval_end[i])
        old = existing.get(t)
        if old is not None and old[1] == QUALITY_EDITED:
            counts["kept"] += 1
            continue
        value, quality = result.energy_wh[i], int(result.quality[i])
        if np.isnan(value) or value < 0:
            counts["missing"] += 1
            continue
        row = (int(value), quality)
        if quality == QUALITY_VALID:
            counts["valid"] += 1
            if not cfg.store_valid_intervals and (old is None or old == row):
                continue
            reason = "vee: passed every check"
        elif quality == QUALITY_QUESTIONABLE:
            counts["questionable"] += 1
            checks = sorted({f.check for f in validation.findings if f.index == i and f.questionable})
            reason = "vee: questionable: " + ", ".join(checks)
        else:
            counts["interpolated" if quality == QUALITY_ESTIMATED_INTERPOLATION else "reference"] += 1
            reason = "vee: " + result.reasons[i]
        by_reason.setdefault(reason, []).append((_utc(t), *row))
    changed = 0
    for reason, rows in by_reason.items():
        changed += store.put_validated_intervals(
            meter_id=meter_id, rows=rows, edited_by=edited_by, reason=reason
        )
    store.record_vee_run(
        meter_id=meter_id, start=_utc(lo), end=_utc(hi), batch_watermark=watermark, ran_by=edited_by
    )
    inside = {int(i) for i in window.tolist()}
    return VeeReport(
        meter_id=meter_id,
        start=_utc(lo),
        end=_utc(hi),
        intervals=int(window.size),
        valid=counts["valid"],
        questionable=counts["questionable"],
        interpolated=counts["interpolated"],
        estimated_reference_day=counts["reference"],
        missing=counts["missing"],
        kept_edits=counts["kept"],
        changed=changed,
        findings=tuple(f for f in validation.findings if f.index in inside),
        sum_checks=tuple(s for s in validation.sum_checks if s.end > lo and s.start < hi),
    )


def edit_intervals(
    store: Store,
    *,
    meter_id: int,
    rows: Iterable[tuple[datetime, int]],
    edited_by: str,
    reason: str,
) -> int:
    """
    A person's edit of validated intervals: each ``(interval_end, energy_wh)`` is stored with quality 7.

    The store audits the edit (who, when, why, the old value); :func:`run_vee` leaves edited intervals
    alone afterwards. Returns how many intervals changed.
    """
    items = [(end, energy, QUALITY_EDITED) for end, energy in rows]
    return store.put_validated_intervals(meter_id=meter_id, rows=items, edited_by=edited_by, reason=reason)
