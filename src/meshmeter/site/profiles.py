"""Synthetic load profiles for the twin: what a tenant's circuits draw, line by line, over time.

A residential unit on a 120/240 V service: a base load, morning and evening peaks, an air conditioner
that cycles on hot afternoons, a water heater and random appliance events, with the power factor of each.
Deterministic under a seed. The profile is a model input, not a measurement: it is what the meter twin
is run on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from meshmeter.intervals import zone

__all__ = [
    "HOUSEHOLD_REFERENCE_KWH",
    "Household",
    "LineProfile",
    "house_profile",
    "household_profile",
    "local_hours",
    "outdoor_temperature_c",
    "residential_profile",
]

FloatArray = NDArray[np.float64]
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class LineProfile:
    """Per-line RMS voltage, load current and phase at a constant step; arrays of shape (lines, n)."""

    step_s: float
    """Step length. [s]"""
    voltage_v: FloatArray
    """RMS voltage of each line to neutral. [V]"""
    current_a: FloatArray
    """RMS current of each line's load. [A]"""
    phase_deg: FloatArray
    """Lag of each line's current behind its voltage. [deg]"""

    @property
    def n_steps(self) -> int:
        """Number of steps. [1]"""
        return int(self.voltage_v.shape[1])

    @property
    def true_energy_wh(self) -> float:
        """Energy the load drew over the profile. [Wh]"""
        power = self.voltage_v * self.current_a * np.cos(np.deg2rad(self.phase_deg))
        return float(power.sum() * self.step_s / 3600.0)


def _hour_of_day(time_s: FloatArray) -> FloatArray:
    result: FloatArray = (time_s % SECONDS_PER_DAY) / 3600.0
    return result


def residential_profile(
    *,
    days: float = 1.0,
    step_s: float = 60.0,
    lines: int = 2,
    nominal_voltage_v: float = 120.0,
    seed: int = 0,
    scale: float = 1.0,
) -> LineProfile:
    """
    A residential load on one or two lines.

    Parameters
    ----------
    days : float
        Length. [day]
    step_s : float
        Step. [s]
    lines : int
        1 (120 V, 2-wire) or 2 (120/240 V, 3-wire: 240 V loads draw the same current on both lines).
    nominal_voltage_v : float
        Line-to-neutral voltage around which the supply wanders (±2 %). [V]
    seed : int
        Random seed.
    scale : float
        Multiplies every current (a larger or smaller unit). [1]

    Returns
    -------
    LineProfile
        Starting at local midnight.
    """
    if lines not in (1, 2):
        raise ValueError(f"lines must be 1 or 2, got {lines!r}")
    for name, value in (("days", days), ("step_s", step_s), ("nominal_voltage_v", nominal_voltage_v)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    if not (np.isfinite(scale) and scale >= 0):
        raise ValueError(f"scale must be finite and >= 0, got {scale!r}")
    n = max(1, round(days * SECONDS_PER_DAY / step_s))
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64) * step_s
    hour = _hour_of_day(t)
    day = np.floor(t / SECONDS_PER_DAY)
    hot = rng.uniform(0.0, 1.0, size=int(day[-1]) + 1)[day.astype(np.intp)]  # how hot each day is

    # 120 V loads per line [W] and 240 V loads [W]
    base = 150.0 + 60.0 * np.sin(2 * np.pi * (hour - 4.0) / 24.0) ** 2
    morning = 900.0 * np.exp(-(((hour - 7.5) / 0.8) ** 2))
    evening = 1400.0 * np.exp(-(((hour - 19.0) / 1.6) ** 2))
    # air conditioner (240 V): cycles 15 min on / off on hot afternoons
    afternoon = (hour > 12.0) & (hour < 21.0)
    cycle_on = ((t // 900.0) % 2 == 0) & (rng.uniform(size=n) < 0.98)
    ac = np.where(afternoon & cycle_on & (hot > 0.4), 3500.0, 0.0)
    # water heater (240 V): morning and evening draws
    wh_on = ((hour > 6.5) & (hour < 7.5)) | ((hour > 20.0) & (hour < 21.0))
    water = np.where(wh_on, 4500.0, 0.0)
    # appliance events on each line (kettle, microwave, dryer ...): Poisson arrivals, 2-20 min long
    events = np.zeros((lines, n))
    per_day = 12.0
    count = rng.poisson(per_day * days)
    starts = rng.integers(0, n, size=count)
    lengths = np.maximum(1, (rng.uniform(120.0, 1200.0, size=count) / step_s).astype(np.intp))
    powers = rng.uniform(600.0, 1800.0, size=count)
    which = rng.integers(0, lines, size=count)
    for s, length, p, line in zip(starts, lengths, powers, which, strict=True):
        events[line, s : s + length] += p

    v = nominal_voltage_v * (1.0 + 0.02 * np.sin(2 * np.pi * (hour - 18.0) / 24.0)) + rng.normal(
        0.0, 0.3, (lines, n)
    )
    p120 = (base + morning + evening)[None, :] * (np.array([0.55, 0.45])[:lines, None]) + events
    # resistive-ish 120 V loads at PF 0.95 lag, AC at PF 0.85 lag, water heater at PF 1.0
    q120 = p120 * np.tan(np.arccos(0.95))
    p240 = ac + water  # split equally between the two lines (or all on the single line)
    q240 = ac * np.tan(np.arccos(0.85))
    share = 0.5 if lines == 2 else 1.0
    p_line = p120 + share * p240[None, :]
    q_line = q120 + share * q240[None, :]
    s_line = np.hypot(p_line, q_line)
    current = scale * s_line / v
    phase = np.rad2deg(np.arctan2(q_line, p_line))
    return LineProfile(step_s=float(step_s), voltage_v=v, current_a=current, phase_deg=phase)


# --------------------------------------------------------------------------------------------------
# the site's profiles: a household through the year, a building's common areas (the house meter)
# --------------------------------------------------------------------------------------------------

HOUSEHOLD_REFERENCE_KWH = 5_500.0
"""Annual consumption of the reference apartment the household model is scaled to (a Californian flat
with an air conditioner and an electric water heater in a mild climate). [kWh]"""

_COOLING_SETPOINT_C = 24.0
_HEATING_SETPOINT_C = 12.0


def _check_start(start: datetime) -> float:
    if not isinstance(start, datetime) or start.tzinfo is None:
        raise ValueError(f"start must be a timezone-aware datetime, got {start!r}")
    return start.timestamp()


def _check_positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return float(value)


def _utc_offset_s(zone: ZoneInfo, epoch_s: float) -> float:
    offset = datetime.fromtimestamp(epoch_s, UTC).astimezone(zone).utcoffset()
    return 0.0 if offset is None else offset.total_seconds()


def local_hours(epoch_s: FloatArray, timezone: str) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """
    Local hour of day, day of year and weekend flag of UTC instants, in a time zone with its DST rules.

    Parameters
    ----------
    epoch_s : ndarray
        Instants, seconds since the Unix epoch (UTC). [s]
    timezone : str
        IANA time zone name.

    Returns
    -------
    hour : ndarray
        Local hour of day, in [0, 24). [h]
    day_of_year : ndarray
        Local day of the year, 1 on 1 January (fractional within the day). [day]
    weekend : ndarray of bool
        Saturday or Sunday, locally.
    """
    local_zone = zone(timezone)
    t = np.asarray(epoch_s, dtype=np.float64)
    if t.size == 0:
        empty = np.zeros(0)
        return empty, empty, np.zeros(0, dtype=bool)
    # the UTC offset changes at most on the hour: look it up once per hour
    hours = np.floor(t / 3600.0)
    unique, inverse = np.unique(hours, return_inverse=True)
    offsets = np.array([_utc_offset_s(local_zone, float(h) * 3600.0) for h in unique])
    local = t + offsets[inverse]
    days = np.floor(local / SECONDS_PER_DAY)
    hour = (local - days * SECONDS_PER_DAY) / 3600.0
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    day64 = days.astype(np.int64).astype("datetime64[D]")
    year_start = day64.astype("datetime64[Y]").astype("datetime64[D]")
    doy: FloatArray = (day64 - year_start).astype(np.float64) + 1.0 + hour / 24.0
    return hour, doy, weekday >= 5


def outdoor_temperature_c(
    day_of_year: FloatArray,
    hour: FloatArray,
    *,
    mean_c: float = 15.0,
    seasonal_c: float = 7.0,
    daily_c: float = 5.0,
    weather: FloatArray | None = None,
) -> FloatArray:
    """
    Outdoor air temperature of a temperate northern-hemisphere climate (a sinusoidal year and day).

    Parameters
    ----------
    day_of_year : ndarray
        Local day of year. [day]
    hour : ndarray
        Local hour of day. [h]
    mean_c : float
        Annual mean. [°C]
    seasonal_c : float
        Half the swing between the warmest (late July, day 205) and coldest (mid January) days. [°C]
    daily_c : float
        Half the daily swing; warmest at 15:00, coldest at 03:00. [°C]
    weather : ndarray, optional
        Day-to-day weather anomaly added to every step. [°C]

    Returns
    -------
    temperature_c : ndarray
        [°C]

    Notes
    -----
    :math:`T = \\bar T + A_s \\cos(2\\pi (d - 205)/365) + A_d \\cos(2\\pi (h - 15)/24) + w`.
    """
    temp: FloatArray = (
        mean_c
        + seasonal_c * np.cos(2 * np.pi * (np.asarray(day_of_year) - 205.0) / 365.0)
        + daily_c * np.cos(2 * np.pi * (np.asarray(hour) - 15.0) / 24.0)
    )
    if weather is not None:
        temp = temp + weather
    return temp


@dataclass(frozen=True)
class Household:
    """
    The traits of one household, drawn once per unit from its seed (per-unit randomness).

    Attributes
    ----------
    size : float
        Multiplies every load: a bigger or smaller flat, more or fewer people. [1]
    morning_h, evening_h : float
        Local hour of the morning and evening peaks. [h]
    away_weekdays : bool
        Out on weekday daytimes (working), home at weekends.
    air_conditioner_w : float
        Rated power of the air conditioner, 0 without one. [W]
    water_heater_w : float
        Rated power of the electric water heater, 0 with gas. [W]
    space_heater_w : float
        A portable heater used on cold evenings, 0 without one. [W]
    appliance_events_per_day : float
        Mean number of appliance uses (kettle, microwave, dryer ...) a day. [1/day]
    """

    size: float
    morning_h: float
    evening_h: float
    away_weekdays: bool
    air_conditioner_w: float
    water_heater_w: float
    space_heater_w: float
    appliance_events_per_day: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Household:
        """Draw a household: lognormal size (σ 0.25), peaks shifted by ±0.5 h and ±0.7 h, 70 % with an
        air conditioner, 50 % with an electric water heater, 30 % with a space heater."""
        return cls(
            size=float(np.exp(rng.normal(0.0, 0.25))),
            morning_h=float(7.0 + rng.normal(0.0, 0.5)),
            evening_h=float(19.0 + rng.normal(0.0, 0.7)),
            away_weekdays=bool(rng.uniform() < 0.6),
            air_conditioner_w=3000.0 if rng.uniform() < 0.7 else 0.0,
            water_heater_w=4500.0 if rng.uniform() < 0.5 else 0.0,
            space_heater_w=1500.0 if rng.uniform() < 0.3 else 0.0,
            appliance_events_per_day=float(rng.uniform(6.0, 14.0)),
        )


def household_profile(
    *,
    start: datetime,
    days: float,
    step_s: float = 300.0,
    timezone: str = "UTC",
    annual_kwh: float = HOUSEHOLD_REFERENCE_KWH,
    seed: int = 0,
    lines: int = 2,
    nominal_voltage_v: float = 120.0,
    household: Household | None = None,
) -> LineProfile:
    """
    An apartment's consumption through the day, the week and the year, with its own habits.

    Parameters
    ----------
    start : datetime
        Aware instant of the profile's first step. [s]
    days : float
        Length. [day]
    step_s : float
        Step; each step's power is its average. [s]
    timezone : str
        IANA zone of the household's clock (peaks at local hours, DST included).
    annual_kwh : float
        Consumption of the reference household over a year; each household's own ``size`` then scales
        it (the mean over many households is about this). [kWh]
    seed : int
        Seed of the household's traits, the weather and the appliance events.
    lines : int
        1 (120 V, 2-wire) or 2 (120/240 V, 3-wire).
    nominal_voltage_v : float
        Line-to-neutral voltage (±2 % daily wander and noise). [V]
    household : Household, optional
        The traits; default drawn from the seed (:meth:`Household.draw`).

    Returns
    -------
    LineProfile
        Steps from ``start``.

    Notes
    -----
    The model (``docs/site.md``): power = size × scale × (base + morning peak + evening peak + weekend
    daytime + lighting) + air conditioning + heating + water heating + appliance events, where

    - base: 120 W (refrigerator, standby), 20 % more on summer afternoons (the refrigerator works harder);
    - morning and evening peaks: Gaussians of 0.8 h and 1.6 h at the household's hours, of 500 W and
      900 W; weekday daytime 60 W when away, 250 W at home and at weekends;
    - lighting: 200 W after local sunset-ish (18:00–23:00) scaled by 1 + 0.5 cos(2π(d − 355)/365), i.e.
      50 % more at the winter solstice, 50 % less at midsummer;
    - air conditioning above 24 °C outdoors: duty (T − 24)/8 of the rated power, only 12:00–23:00;
      a space heater below 12 °C, duty (12 − T)/8, 17:00–23:00; a water heater 45 min after each peak;
    - the outdoor temperature (:func:`outdoor_temperature_c`) has a daily weather anomaly, an AR(1)
      process (σ 3 °C, lag-1 correlation 0.7) drawn from the seed;
    - appliance events: Poisson arrivals, 2–20 min long, 600–1800 W, on a random line.

    ``scale`` makes the reference household (size 1, all appliances) use ``annual_kwh`` in a year. It is
    the household's own model, documented rather than taken from a published standard load profile:
    demandlib's and richardsonpy's profiles need pandas (``docs/site.md``).
    """
    epoch0 = _check_start(start)
    if lines not in (1, 2):
        raise ValueError(f"lines must be 1 or 2, got {lines!r}")
    days = _check_positive("days", days)
    step_s = _check_positive("step_s", step_s)
    nominal_voltage_v = _check_positive("nominal_voltage_v", nominal_voltage_v)
    if isinstance(annual_kwh, bool) or not (np.isfinite(annual_kwh) and annual_kwh >= 0):
        raise ValueError(f"annual_kwh must be finite and >= 0, got {annual_kwh!r}")
    rng = np.random.default_rng(seed)
    traits = household if household is not None else Household.draw(rng)
    n = max(1, round(days * SECONDS_PER_DAY / step_s))
    t = epoch0 + (np.arange(n, dtype=np.float64) + 0.5) * step_s
    hour, doy, weekend = local_hours(t, timezone)
    scale = annual_kwh / _reference_annual_kwh()
    p120, p240, q240 = _household_power(t, hour, doy, weekend, traits, rng, lines, step_s)
    p120 = p120 * scale
    p240 = p240 * scale
    q240 = q240 * scale
    v = nominal_voltage_v * (1.0 + 0.02 * np.sin(2 * np.pi * (hour - 18.0) / 24.0)) + rng.normal(
        0.0, 0.3, (lines, n)
    )
    return _line_profile(step_s, v, p120, p240, q240, pf120=0.95)


def _line_profile(
    step_s: float,
    v: FloatArray,
    p120: FloatArray,
    p240: FloatArray,
    q240: FloatArray,
    *,
    pf120: float,
) -> LineProfile:
    lines = v.shape[0]
    q120 = p120 * np.tan(np.arccos(pf120))
    share = 0.5 if lines == 2 else 1.0
    p_line = p120 + share * p240[None, :]
    q_line = q120 + share * q240[None, :]
    current = np.hypot(p_line, q_line) / v
    phase = np.rad2deg(np.arctan2(q_line, p_line))
    return LineProfile(step_s=float(step_s), voltage_v=v, current_a=current, phase_deg=phase)


def _weather_anomaly(days_index: NDArray[np.int64], rng: np.random.Generator) -> FloatArray:
    """Daily AR(1) temperature anomaly (σ 3 °C, lag-1 0.7), one value per step. [°C]"""
    first = int(days_index.min())
    count = int(days_index.max()) - first + 1
    noise = rng.normal(0.0, 3.0 * np.sqrt(1 - 0.7**2), count)
    anomaly = np.empty(count)
    level = rng.normal(0.0, 3.0)
    for k in range(count):
        level = 0.7 * level + noise[k]
        anomaly[k] = level
    result: FloatArray = anomaly[days_index - first]
    return result


def _household_power(
    t: FloatArray,
    hour: FloatArray,
    doy: FloatArray,
    weekend: NDArray[np.bool_],
    h: Household,
    rng: np.random.Generator,
    lines: int,
    step_s: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-line 120 V power (lines, n), 240 V power and its reactive power (n,), before scaling. [W]"""
    n = t.size
    day_index = np.floor(t / SECONDS_PER_DAY).astype(np.int64)
    temp = outdoor_temperature_c(doy, hour, weather=_weather_anomaly(day_index, rng))
    summer = np.cos(2 * np.pi * (doy - 205.0) / 365.0)
    base = 120.0 * (1.0 + 0.2 * np.clip(summer, 0, None) * ((hour > 12) & (hour < 18)))
    morning = 500.0 * np.exp(-(((hour - h.morning_h) / 0.8) ** 2))
    evening = 900.0 * np.exp(-(((hour - h.evening_h) / 1.6) ** 2))
    home_day = ~(h.away_weekdays & ~weekend)
    daytime = np.where((hour > 9) & (hour < 17), np.where(home_day, 250.0, 60.0), 0.0)
    lighting = np.where((hour > 18) & (hour < 23), 200.0, 0.0) * (
        1.0 + 0.5 * np.cos(2 * np.pi * (doy - 355.0) / 365.0)
    )
    p_shared = h.size * (base + morning + evening + daytime + lighting)
    cooling_duty = np.clip((temp - _COOLING_SETPOINT_C) / 8.0, 0.0, 1.0) * ((hour > 12) & (hour < 23))
    heating_duty = np.clip((_HEATING_SETPOINT_C - temp) / 8.0, 0.0, 1.0) * ((hour > 17) & (hour < 23))
    ac = h.size * h.air_conditioner_w * cooling_duty
    heater = h.size * h.space_heater_w * heating_duty
    water_on = (np.abs(hour - (h.morning_h + 0.4)) < 0.375) | (np.abs(hour - (h.evening_h + 1.0)) < 0.375)
    water = h.water_heater_w * water_on * h.size**0.5
    events = np.zeros((lines, n))
    days = n * step_s / SECONDS_PER_DAY
    count = rng.poisson(h.appliance_events_per_day * h.size * days)
    starts = rng.integers(0, n, size=count)
    durations = rng.uniform(120.0, 1200.0, size=count)
    powers = rng.uniform(600.0, 1800.0, size=count)
    which = rng.integers(0, lines, size=count)
    for s, duration, p, line in zip(starts, durations, powers, which, strict=True):
        # an event shorter than a step adds its energy to the step as an average
        whole = int(duration // step_s)
        events[line, s : s + whole] += p
        if s + whole < n:
            events[line, s + whole] += p * (duration - whole * step_s) / step_s
    split = np.array([0.55, 0.45])[:lines, None] if lines == 2 else np.ones((1, 1))
    p120 = (p_shared + heater)[None, :] * split + events
    p240 = ac + water
    q240 = ac * np.tan(np.arccos(0.85))
    return p120, p240, q240


@lru_cache(maxsize=1)
def _reference_annual_kwh() -> float:
    """A year (2026, hourly, Los Angeles clock) of the reference household, unscaled. [kWh]"""
    ref = Household(
        size=1.0,
        morning_h=7.0,
        evening_h=19.0,
        away_weekdays=True,
        air_conditioner_w=3000.0,
        water_heater_w=4500.0,
        space_heater_w=1500.0,
        appliance_events_per_day=10.0,
    )
    rng = np.random.default_rng(0)
    start = datetime(2026, 1, 1, 8, tzinfo=UTC).timestamp()
    t = start + (np.arange(8760, dtype=np.float64) + 0.5) * 3600.0
    hour, doy, weekend = local_hours(t, "America/Los_Angeles")
    p120, p240, _ = _household_power(t, hour, doy, weekend, ref, rng, 2, 3600.0)
    return float((p120.sum() + p240.sum()) / 1000.0)


def house_profile(
    *,
    start: datetime,
    days: float,
    step_s: float = 300.0,
    timezone: str = "UTC",
    annual_kwh: float = 30_000.0,
    seed: int = 0,
    nominal_voltage_v: float = 120.0,
) -> LineProfile:
    """
    A building's common areas on the house meter: corridor and outdoor lighting, an elevator, pumps.

    Parameters
    ----------
    start : datetime
        Aware instant of the first step.
    days : float
        Length. [day]
    step_s : float
        Step. [s]
    timezone : str
        IANA zone of the building's clock.
    annual_kwh : float
        Consumption over a year. [kWh]
    seed : int
        Seed of the elevator trips.
    nominal_voltage_v : float
        Line-to-neutral voltage. [V]

    Returns
    -------
    LineProfile
        Two lines (120/240 V).

    Notes
    -----
    Power = k × (corridor lighting 40 % all day + outdoor lighting from 18:00 to 06:00, longer nights in
    winter + pumps cycling 15 min in each hour + elevator trips, Poisson, 3 per hour by day, 0.5 by
    night, 2 min at 240 V), with k making the mean equal ``annual_kwh`` / 8760 h. Lighting PF 0.95,
    pumps and elevator motor PF 0.8 (``docs/site.md``).
    """
    epoch0 = _check_start(start)
    days = _check_positive("days", days)
    step_s = _check_positive("step_s", step_s)
    nominal_voltage_v = _check_positive("nominal_voltage_v", nominal_voltage_v)
    if isinstance(annual_kwh, bool) or not (np.isfinite(annual_kwh) and annual_kwh >= 0):
        raise ValueError(f"annual_kwh must be finite and >= 0, got {annual_kwh!r}")
    rng = np.random.default_rng(seed)
    n = max(1, round(days * SECONDS_PER_DAY / step_s))
    t = epoch0 + (np.arange(n, dtype=np.float64) + 0.5) * step_s
    hour, doy, _ = local_hours(t, timezone)
    night_h = 12.0 + 1.5 * np.cos(2 * np.pi * (doy - 355.0) / 365.0)  # hours of darkness
    dark = (hour >= 24.0 - night_h / 2.0 - 0.0) | (hour < night_h / 2.0)
    lighting = 1500.0 + np.where(dark, 2500.0, 0.0)
    # pumps run the first 15 minutes of each hour; at steps of an hour or more, their average
    pump_on = np.full(n, 0.25) if step_s >= 3600.0 else ((t // 900.0) % 4 == 0).astype(np.float64)
    pumps = 2000.0 * pump_on
    rate_per_h = np.where((hour > 6) & (hour < 23), 3.0, 0.5)
    trips = rng.poisson(rate_per_h * step_s / 3600.0)
    elevator = np.minimum(trips * 120.0, step_s) / step_s * 7500.0
    mean_w = 1500.0 + 2500.0 * 0.5 + 2000.0 / 4 + 7500.0 * 120.0 * (3.0 * 17 + 0.5 * 7) / 24.0 / 3600.0
    k = annual_kwh * 1000.0 / 8760.0 / mean_w
    lines = 2
    v = nominal_voltage_v * (1.0 + 0.02 * np.sin(2 * np.pi * (hour - 18.0) / 24.0)) + rng.normal(
        0.0, 0.3, (lines, n)
    )
    p120 = np.vstack([k * lighting * 0.5, k * lighting * 0.5])
    p240 = k * (pumps + elevator)
    q240 = p240 * np.tan(np.arccos(0.8))
    return _line_profile(step_s, v, p120, p240, q240, pf120=0.95)
