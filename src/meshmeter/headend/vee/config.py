"""VEE's settings (:class:`VeeConfig`, ``docs/vee.md``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from meshmeter.catalog.limits import RatedMeter, max_interval_energy_wh
from meshmeter.catalog.ratings import MINI_METER_RATINGS
from meshmeter.headend.vee import _args
from meshmeter.intervals import INTERVAL_S

__all__ = [
    "DEFAULT_COUNTER_MODULUS_WH",
    "EXPORT_ZERO_RUN_MAX_H",
    "LIKE_DAYS_BY",
    "SOLAR_ZERO_RUN_MAX_H",
    "SPIKE_RULES",
    "LikeDaysBy",
    "SpikeRule",
    "VeeConfig",
]

DEFAULT_COUNTER_MODULUS_WH: Final = 2**32 * min(MINI_METER_RATINGS.pulse_output_kh_wh)
"""The MDT's 32-bit pulse counter of the 10 Wh output (``amr/records.py``) wraps at this energy. [Wh]"""

SOLAR_ZERO_RUN_MAX_H: Final = 18.0
"""A production (solar) meter's zero-run limit when no settings are given: the longest night at 55° of
latitude, with an hour to spare either side. A meter of role ``production`` reads zero every night, so the
default 4 h would flag every night (``docs/vee.md``, "Production meters and export registers"). [h]"""

EXPORT_ZERO_RUN_MAX_H: Final = 24.0 * 366
"""An export register's zero-run limit when no settings are given: a year. It reads zero whenever nothing is
exported (every night, a cloudy week, a tenant using all its panels make), so a run of zeros says nothing
of its health (``docs/billing.md``, "Exports from the store"). [h]"""

SpikeRule = Literal["either", "both", "ratio", "rating"]
SPIKE_RULES: Final[tuple[SpikeRule, ...]] = ("either", "both", "ratio", "rating")
LikeDaysBy = Literal["day_of_week", "day_type"]
LIKE_DAYS_BY: Final[tuple[LikeDaysBy, ...]] = ("day_of_week", "day_type")


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
        Highest energy a meter can register in one interval. Default None: the meter's own,
        :func:`meshmeter.catalog.max_interval_energy_wh` of its record, which :func:`run_vee` reads from
        the store (a single element meter 7,590 Wh in 15 minutes, a dual element one 15,180 Wh on
        200:0.1 A CTs); without a meter, the default Mini Meter's at ``interval_s`` (dual element,
        200:0.1 A CTs: 15,180 Wh in 15 minutes). [Wh]
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
    spike_rule: SpikeRule = "either"
    max_interval_wh: float | None = None
    zero_run_max_h: float = 4.0
    sum_tolerance_fraction: float = 0.005
    sum_tolerance_wh: float = 10.0
    counter_modulus_wh: int | None = DEFAULT_COUNTER_MODULUS_WH
    max_interpolation_intervals: int = 8
    like_days: int = 4
    like_day_lookback_days: int = 56
    like_days_by: LikeDaysBy = "day_of_week"
    scale_to_registers: bool = True
    estimate_questionable: bool = False
    store_valid_intervals: bool = False

    def __post_init__(self) -> None:
        interval_s = _args.integer("interval_s", self.interval_s, low=1)
        if 86400 % interval_s:
            raise ValueError(f"interval_s must divide a day (86400 s), got {self.interval_s!r}")
        tolerance = _args.finite("time_tolerance_s", self.time_tolerance_s, low=0.0)
        if tolerance >= interval_s / 2:
            raise ValueError(
                f"time_tolerance_s must be below half of interval_s, got {self.time_tolerance_s!r}"
            )
        _args.finite("spike_ratio", self.spike_ratio, low=1.0, low_open=True)
        _args.finite("spike_min_wh", self.spike_min_wh, low=0.0)
        _args.choice("spike_rule", self.spike_rule, SPIKE_RULES)
        if self.max_interval_wh is not None:
            _args.finite("max_interval_wh", self.max_interval_wh, low=0.0, low_open=True)
        _args.finite("zero_run_max_h", self.zero_run_max_h, low=0.0, low_open=True)
        _args.finite("sum_tolerance_fraction", self.sum_tolerance_fraction, low=0.0)
        _args.finite("sum_tolerance_wh", self.sum_tolerance_wh, low=0.0)
        if self.counter_modulus_wh is not None:
            _args.integer("counter_modulus_wh", self.counter_modulus_wh, low=1)
        _args.integer("max_interpolation_intervals", self.max_interpolation_intervals, low=0)
        _args.integer("like_days", self.like_days, low=1)
        _args.integer("like_day_lookback_days", self.like_day_lookback_days, low=1)
        _args.choice("like_days_by", self.like_days_by, LIKE_DAYS_BY)
        for name in ("scale_to_registers", "estimate_questionable", "store_valid_intervals"):
            _args.flag(name, getattr(self, name))

    @classmethod
    def of(cls, config: object) -> VeeConfig:
        """``config``, or the defaults for None; anything else raises ``ValueError`` naming ``config``."""
        if config is None:
            return cls()
        if not isinstance(config, cls):
            raise ValueError(f"config must be a VeeConfig, got {config!r}")
        return config

    def max_energy_wh(self) -> float:
        """
        The rating check's limit: ``max_interval_wh`` when set, else the default Mini Meter's.

        Returns
        -------
        energy_wh : float
            ``max_interval_wh``, or :func:`meshmeter.catalog.max_interval_energy_wh` of
            :class:`~meshmeter.catalog.RatedMeter` at ``interval_s`` (dual element, 200:0.1 A CTs:
            2 × 138 V × 220 A × 0.25 h = 15,180 Wh in 15 minutes, manual §3.1). :func:`run_vee` sets
            ``max_interval_wh`` to the meter's own limit first. [Wh]
        """
        if self.max_interval_wh is not None:
            return float(self.max_interval_wh)
        return float(max_interval_energy_wh(RatedMeter(interval_s=self.interval_s)))
