"""VEE: validation, estimation and editing of 15-minute interval data (``docs/vee.md``).

Three layers, as in the rest of the package, one module per concept:

- :mod:`~meshmeter.headend.vee.config`: :class:`VeeConfig`, the settings of every check and estimator
  (the rating check's limit is the meter's own, :func:`meshmeter.catalog.max_interval_energy_wh`);
- :mod:`~meshmeter.headend.vee.checks`: the pure checks over numpy arrays (``check_*``,
  :func:`outage_mask`, :class:`SumCheck`), each returning a mask;
- :mod:`~meshmeter.headend.vee.validate`: :class:`IntervalSeries` in, :func:`validate` runs every check
  and returns a :class:`ValidationResult`: a quality code per interval and a :class:`Finding` per check
  that fired (``str(finding)`` says it in words);
- :mod:`~meshmeter.headend.vee.estimate`: the pure estimators (:func:`interpolate_linear`,
  :func:`largest_remainder`, :func:`like_day_class`) and :func:`estimate`, which fills the gaps of a
  validation in integer Wh (:class:`EstimationResult`);
- :mod:`~meshmeter.headend.vee.run`: :func:`run_vee`, the orchestrator that reads raw intervals and
  register reads from a :class:`~meshmeter.store.Store`, runs VEE, writes the validated intervals through
  :meth:`~meshmeter.store.Store.put_validated_intervals` (which audits every change: who, when, why, the
  old value; raw data is never touched) and records the run; :func:`edit_intervals`, a person's edit.

The argument checks shared by them are in ``_args``. Import from this package; the modules are its
layout, not separate interfaces.

Time is integer seconds since the Unix epoch, UTC; an interval is named by its end and covers
``(interval_end - interval_s, interval_end]`` (``docs/conventions.md``). Energy is Wh: float inside VEE
(NaN for a missing value), integer Wh where it leaves VEE. Quality codes are ESPI's ``QualityOfReading``
(:class:`~meshmeter.intervals.Quality`).
"""

from __future__ import annotations

from typing import Final

from meshmeter.headend.vee.checks import (
    CHECKS,
    SumCheck,
    check_counter,
    check_interval_size,
    check_negative,
    check_spike,
    check_sum,
    check_time_tolerance,
    check_zero_run,
    outage_mask,
)
from meshmeter.headend.vee.config import VeeConfig
from meshmeter.headend.vee.estimate import (
    EstimationResult,
    estimate,
    interpolate_linear,
    largest_remainder,
    like_day_class,
)
from meshmeter.headend.vee.run import VeeReport, edit_intervals, run_vee
from meshmeter.headend.vee.validate import Finding, IntervalSeries, ValidationResult, validate
from meshmeter.intervals import INTERVAL_S, Quality

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
    "outage_mask",
    "run_vee",
    "validate",
]

# The ESPI quality codes as plain integers, for callers of the former module; new code uses Quality.
QUALITY_VALID: Final = int(Quality.VALID)
QUALITY_EDITED: Final = int(Quality.EDITED)
QUALITY_ESTIMATED_REFERENCE_DAY: Final = int(Quality.ESTIMATED_REFERENCE_DAY)
QUALITY_ESTIMATED_INTERPOLATION: Final = int(Quality.ESTIMATED_INTERPOLATION)
QUALITY_QUESTIONABLE: Final = int(Quality.QUESTIONABLE)
QUALITY_RAW: Final = int(Quality.RAW)
