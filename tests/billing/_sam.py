"""NREL SAM's utility-rate model as the reference for meshmeter's bills (``test_urdb_sam.py``).

SAM (System Advisor Model, NREL) computes a utility bill in its ``utilityrate5`` compute module; PySAM
(``nrel-pysam`` on PyPI) is its Python wrapper. This module runs it on one URDB rate document and one year
of 15-minute load, and lays out the same year as meshmeter's interval columns.

The calendar
------------
SAM has no dates: its year is 8,760 hours (or 35,040 quarter hours) that begin on a **Monday**, 1 January,
00:00, with no holidays and no daylight saving time. Step ``i`` of SAM's load covers local
``[i × 15 min, (i + 1) × 15 min)`` from that midnight; hour ``i // 4`` of the year gives the month and hour
of SAM's 12 × 24 schedules, and day ``i // 96`` the weekday (days 5 and 6 of each week are the weekend).

meshmeter bills real instants. To make the two the same year:

- the year is **2029**, whose 1 January is a Monday (and which is not a leap year: 35,040 quarter hours);
- the time zone is **"Etc/GMT+8"**, a fixed UTC−8 offset with no DST (the IANA sign is inverted: "+8"
  is eight hours *behind* UTC). Local wall time then advances 15 minutes every step all year, as SAM's
  does; a DST zone would move every summer hour by one against SAM;
- the tariff has **no holidays** (URDB has no holiday field; meshmeter's own ``meshmeter_holidays`` is
  absent), so every Saturday and Sunday, and only they, take the weekend schedule, as in SAM;
- SAM's step ``i`` is meshmeter's interval **ending** at local midnight 1 January 2029 +
  ``(i + 1) × 15 min``: meshmeter names an interval by its end and bills it in the period of its start
  instant, which is SAM's step start.

Energy
------
meshmeter takes whole Wh per interval. The load is made as kW, rounded to whole Wh
(``Wh = round(kW × 250)``, 0.25 h × 1000), and SAM is given the kW *back from those Wh*
(``kW = Wh / 250``), so both bill exactly the same energy.

The rate
--------
``sam_rates`` uses PySAM's own URDB conversion, ``PySAM.UtilityRateTools.URDBv8_to_ElectricityRates``
(the one PySAM documents for API v7/v8 documents), then adds what that conversion leaves out but SAM
supports and the SAM desktop's URDB import reads: ``fixedmonthlycharge`` → ``ur_monthly_fixed_charge``,
``minmonthlycharge`` → ``ur_monthly_min_charge``, ``annualmincharge`` → ``ur_annual_min_charge``. Nothing
else is changed: what SAM itself does not model (``demandwindow``, ``coincident*``,
``demandreactivepowercharge``, ``energyattrs``/``demandattrs``) it ignores, as PySAM's conversion does.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

YEAR: Final = 2029
"""The billed year: 1 January 2029 is a Monday, as SAM's year's first day."""
TIMEZONE: Final = "Etc/GMT+8"
"""Fixed UTC−8, no DST (SAM has none): local hours line up with SAM's all year."""
INTERVAL_S: Final = 900
STEPS: Final = 35_040
"""Quarter hours in 2029 (365 days × 96)."""
UTC_OFFSET: Final = timedelta(hours=-8)

CORPUS: Final = Path(__file__).resolve().parent.parent / "data" / "urdb"

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def year_start() -> datetime:
    """Local midnight 1 January 2029 in :data:`TIMEZONE`, as a UTC datetime (08:00 UTC)."""
    return datetime(YEAR, 1, 1, tzinfo=UTC) - UTC_OFFSET


def month_start(month: int) -> datetime:
    """Local midnight on the 1st of ``month`` (1 to 13; 13 is 1 January 2030), as a UTC datetime."""
    year, m = (YEAR + 1, 1) if month == 13 else (YEAR, month)
    return datetime(year, m, 1, tzinfo=UTC) - UTC_OFFSET


def interval_ends() -> IntArray:
    """The end of SAM's 35,040 steps, UTC epoch seconds: step ``i`` ends ``(i + 1)`` × 15 min in."""
    first = int(year_start().timestamp())
    return first + INTERVAL_S * np.arange(1, STEPS + 1, dtype=np.int64)


def days_in_months() -> list[int]:
    """Days of each month of 2029."""
    return [(month_start(m + 1) - month_start(m)).days for m in range(1, 13)]


# -----------------------------------------------------------------------------------------------------
# Documents
# -----------------------------------------------------------------------------------------------------


def read_document(name: str, label: str | None = None) -> dict[str, Any]:
    """
    The URDB rate object of a corpus file, as published.

    The API's ``{"items": [...]}`` is unwrapped (the rate whose ``label`` is ``label``, or the only one),
    and a file that holds the response as a JSON *string* (PySAM's ``urdb_rate_539f…json``) is decoded once
    more. The object itself is returned untouched.
    """
    data: Any = json.loads((CORPUS / name).read_text(encoding="utf-8"))
    if isinstance(data, str):
        data = json.loads(data)
    if isinstance(data, dict) and "items" in data:
        items = data["items"]
        if label is None:
            if len(items) != 1:
                raise ValueError(f"{name}: {len(items)} rates in items, name a label")
            return dict(items[0])
        chosen = [item for item in items if item.get("label") == label]
        if len(chosen) != 1:
            raise ValueError(f"{name}: no single rate labelled {label!r}")
        return dict(chosen[0])
    return dict(data)


# -----------------------------------------------------------------------------------------------------
# Loads: deterministic year profiles from a seed
# -----------------------------------------------------------------------------------------------------


def _calendar() -> tuple[FloatArray, IntArray, npt.NDArray[np.bool_], FloatArray]:
    """Hour of day (fractional), month (0-11), weekend flag and day of year of each SAM step."""
    step = np.arange(STEPS)
    hour = (step % 96) / 4.0
    day = step // 96
    weekend = (day % 7) >= 5  # day 0 is Monday 1 January 2029
    starts = np.array([(month_start(m) - year_start()).days for m in range(1, 14)])
    month = np.searchsorted(starts, day, side="right") - 1
    return hour, month.astype(np.int64), weekend, day.astype(np.float64)


def _bump(hour: FloatArray, centre: float, width: float) -> FloatArray:
    """A daily Gaussian bump around ``centre`` o'clock (wrapping at midnight). [1]"""
    d = np.minimum(np.abs(hour - centre), 24 - np.abs(hour - centre))
    return np.exp(-0.5 * (d / width) ** 2)


def load_kw(kind: str, peak_kw: float, seed: int) -> FloatArray:
    """
    A year of 15-minute load, SAM's calendar (Monday 1 January), shaped like a ``kind`` customer.

    ``"residential"``: night base, morning and evening peaks, summer afternoon air conditioning, winter
    evening heating; ``"commercial"``: weekday business hours with summer cooling, weekends low;
    ``"industrial"``: two shifts on weekdays, a high base all week. Multiplicative noise (lognormal,
    σ 0.15, from ``seed``) and a day-to-day weather factor; scaled so the year's highest step is
    ``peak_kw``. [kW]
    """
    rng = np.random.default_rng(seed)
    hour, _, weekend, day = _calendar()
    summer = np.clip(np.cos(2 * np.pi * (day - 200) / 365), 0, None)  # peaks mid-July
    winter = np.clip(np.cos(2 * np.pi * (day - 15) / 365), 0, None)  # peaks mid-January
    weather = np.repeat(1 + 0.2 * rng.standard_normal(365), 96)  # a warm or cool day, all day
    if kind == "residential":
        shape = (
            0.35
            + 0.5 * _bump(hour, 7.5, 1.2)
            + 0.9 * _bump(hour, 19.0, 2.0)
            + 1.6 * summer * weather * _bump(hour, 16.5, 2.5)
            + 0.6 * winter * weather * _bump(hour, 20.0, 3.0)
            + 0.25 * weekend * _bump(hour, 12.0, 3.0)
        )
    elif kind == "commercial":
        open_hours = ((hour >= 7) & (hour < 19)).astype(float)
        shape = (
            0.25
            + (~weekend) * open_hours * (0.55 + 0.45 * summer * weather * _bump(hour, 15.0, 3.0))
            + weekend * 0.1 * open_hours
        )
    elif kind == "industrial":
        shifts = ((hour >= 6) & (hour < 22)).astype(float)
        shape = 0.55 + (~weekend) * shifts * (0.35 + 0.1 * summer * weather) + 0.05 * summer
    else:
        raise ValueError(f"kind must be residential, commercial or industrial, got {kind!r}")
    noisy = np.clip(shape, 0.05, None) * rng.lognormal(0.0, 0.15, STEPS)
    return np.asarray(noisy * (peak_kw / noisy.max()), dtype=np.float64)


def pv_kw(peak_kw: float, seed: int) -> FloatArray:
    """A year of 15-minute PV output on SAM's calendar: a clear-sky day shape, seasonal, with clouds. [kW]"""
    rng = np.random.default_rng(seed)
    hour, _, _, day = _calendar()
    daylight = 12 + 2.5 * np.sin(2 * np.pi * (day - 80) / 365)
    x = (hour - (12 - daylight / 2)) / daylight
    sun = np.where((x > 0) & (x < 1), np.sin(np.pi * np.clip(x, 0, 1)) ** 1.5, 0.0)
    clouds = np.repeat(np.clip(1 - 0.6 * rng.beta(0.6, 1.5, 365), 0, 1), 96)
    season = 0.75 + 0.25 * np.sin(2 * np.pi * (day - 80) / 365)
    return np.asarray(peak_kw * sun * clouds * season, dtype=np.float64)


def to_wh(kw: FloatArray) -> IntArray:
    """Whole Wh of each 15-minute step (kW × 0.25 h × 1000, rounded half to even)."""
    return np.rint(kw * 250.0).astype(np.int64)


def from_wh(wh: IntArray) -> FloatArray:
    """The kW SAM is given: back from the whole Wh, so both bill the same energy."""
    return np.asarray(wh, dtype=np.float64) / 250.0


# -----------------------------------------------------------------------------------------------------
# SAM
# -----------------------------------------------------------------------------------------------------


def sam_rates(document: dict[str, Any]) -> dict[str, Any]:
    """
    ``ElectricityRates`` of SAM's ``Utilityrate5`` for a URDB rate document (see the module's docstring).

    PySAM's conversion adds 1 to the schedules *in place*, so it is given a copy through JSON (a deep copy
    would keep rows shared between schedules shared, and add 1 to them twice).
    """
    from PySAM.UtilityRateTools import URDBv8_to_ElectricityRates

    rates: dict[str, Any] = URDBv8_to_ElectricityRates(json.loads(json.dumps(document)))
    if "fixedmonthlycharge" in document:
        rates["ur_monthly_fixed_charge"] = float(document["fixedmonthlycharge"]) + float(
            rates.get("ur_monthly_fixed_charge", 0.0)
        )
    if "minmonthlycharge" in document:
        rates["ur_monthly_min_charge"] = float(document["minmonthlycharge"])
    if "annualmincharge" in document:
        rates["ur_annual_min_charge"] = float(document["annualmincharge"])
    return rates


@dataclass(frozen=True)
class SamBill:
    """SAM's first-year charges with the system, by calendar month (January first). [USD]"""

    energy: tuple[float, ...]
    """``year1_monthly_ec_charge_with_system``: energy charges (negative with net-billing credits)."""
    demand_tou: tuple[float, ...]
    """``year1_monthly_dc_tou_with_system``: time-of-use demand charges."""
    demand_flat: tuple[float, ...]
    """``year1_monthly_dc_fixed_with_system``: flat ("fixed") demand charges."""
    fixed: tuple[float, ...]
    """``year1_monthly_fixed_with_system``: fixed monthly charges."""
    minimum: tuple[float, ...]
    """``year1_monthly_minimum_with_system``: the minimum charge's top-up."""
    peak_kw: tuple[float, ...]
    """``year1_monthly_peak_w_system``: the month's highest step. [kW]"""
    true_up: tuple[float, ...] = (0.0,) * 12
    """``year1_true_up_credits``: the true-up payment, in the true-up month (December here)."""
    bank_kwh: tuple[float, ...] = (0.0,) * 12
    """``year1_monthly_cumulative_excess_generation``: net metering's kWh bank, netted over the month's
    periods (what SAM's true-up pays for). [kWh]"""
    surplus_kwh: tuple[dict[int, float], ...] = ()
    """``surplus_w_sys_ec_<mon>_tp``: each month's net excess per energy period (0-based, as URDB numbers
    them), all tiers, the credit carried in included: what net metering carries to the next month. [kWh]"""


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def run_sam(
    rates: dict[str, Any],
    load: FloatArray,
    gen: FloatArray | None = None,
    *,
    yearend_sell_rate: float = 0.0,
    credit_in_month: bool = False,
) -> SamBill:
    """
    Run SAM's ``Utilityrate5`` for one year on 15-minute (or hourly) ``load`` and ``gen`` (default none). [kW]

    One year (``analysis_period`` 1), no inflation, escalation or degradation, year-one outputs; the
    true-up month is December (``ur_nm_credit_month`` 11) and a net metering true-up is paid, not rolled
    into the next year (``ur_nm_credit_rollover`` 0), at ``yearend_sell_rate`` [USD/kWh]
    (``ur_nm_yearend_sell_rate``). ``credit_in_month`` sets ``ur_nb_apply_credit_current_month``: net
    billing's export credits offset the month's own energy charges before the rest is carried (else SAM
    keeps a month's credits for the next month).
    """
    from PySAM import Utilityrate5

    if load.shape not in ((STEPS,), (STEPS // 4,)):
        raise ValueError(f"load must have {STEPS} (or {STEPS // 4} hourly) steps, got {load.shape}")
    model = Utilityrate5.new()
    model.ElectricityRates.assign(
        {
            "rate_escalation": (0.0,),
            "ur_metering_option": 0,
            "ur_sell_eq_buy": 0,
            "ur_nm_yearend_sell_rate": float(yearend_sell_rate),
            "ur_nb_apply_credit_current_month": int(credit_in_month),
            "ur_nb_credit_expire": 0,
            "ur_nm_credit_month": 11,
            "ur_nm_credit_rollover": 0,
            "ur_monthly_fixed_charge": 0.0,
            "ur_monthly_min_charge": 0.0,
            "ur_annual_min_charge": 0.0,
            "ur_en_ts_buy_rate": 0,
            "ur_en_ts_sell_rate": 0,
            "TOU_demand_single_peak": 0,
        }
    )
    model.ElectricityRates.assign(rates)
    model.Load.load = tuple(float(x) for x in load)
    model.Load.load_escalation = (0.0,)
    model.SystemOutput.gen = tuple(float(x) for x in (np.zeros(load.shape) if gen is None else gen))
    model.SystemOutput.degradation = (0.0,)
    model.Lifetime.analysis_period = 1
    model.Lifetime.inflation_rate = 0.0
    model.Lifetime.system_use_lifetime_output = 0
    model.execute(0)
    out = model.Outputs
    return SamBill(
        energy=tuple(out.year1_monthly_ec_charge_with_system),
        demand_tou=tuple(out.year1_monthly_dc_tou_with_system),
        demand_flat=tuple(out.year1_monthly_dc_fixed_with_system),
        fixed=tuple(out.year1_monthly_fixed_with_system),
        minimum=tuple(out.year1_monthly_minimum_with_system),
        peak_kw=tuple(out.year1_monthly_peak_w_system),
        true_up=tuple(out.year1_true_up_credits),
        bank_kwh=tuple(out.year1_monthly_cumulative_excess_generation),
        surplus_kwh=tuple(_by_period(getattr(out, f"surplus_w_sys_ec_{name}_tp")) for name in _MONTHS),
    )


def _by_period(table: Any) -> dict[int, float]:
    """A SAM month table (a header row, then one row per period: its 1-based number, tiers, total). [kWh]"""
    return {int(row[0]) - 1: float(row[-1]) for row in table[1:-1]}


def sam_fixed_per_day_month(rate_per_day: float) -> float:
    """SAM's monthly fixed charge for a ``$/day`` rate: PySAM's conversion takes 365/12 days every month."""
    return rate_per_day * 365 / 12


def cents_apart(a: float, b: float) -> bool:
    """Whether two amounts differ by more than one cent (with a hair for SAM's binary floating point)."""
    return not math.isclose(a, b, abs_tol=0.01 + 1e-9)
