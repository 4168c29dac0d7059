"""Rooftop solar for the twin: the sun's position, clear-sky irradiance, weather, and an inverter's output.

One function per published model, as pvlib has them, so that each can be checked against its source:

- :func:`solar_position`: declination and equation of time from Spencer's Fourier series (Spencer 1971),
  hour angle from the longitude, zenith and azimuth from spherical trigonometry;
- :func:`haurwitz_ghi`: clear-sky global horizontal irradiance (Haurwitz 1945);
- :func:`erbs_diffuse_fraction`: the diffuse share of global irradiance from the clearness index
  (Erbs, Klein & Duffie 1982);
- :func:`isotropic_poa`: irradiance on a tilted plane, isotropic sky (Liu & Jordan 1963);
- :func:`clear_sky_index`: the weather, a seeded Markov chain of clear, broken and overcast days with
  AR(1) passing clouds;
- :func:`pvwatts_ac_power_w`: PVWatts-style DC power with a cell-temperature loss, then an inverter
  (Dobos 2014).

:func:`solar_profile` chains them into the line currents a production meter sees. pvlib (the issue's
suggestion) would bring pandas, scipy and h5py for these few formulas; ``docs/site.md`` says why and how
the two compare.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from numpy.typing import ArrayLike, NDArray

from meshmeter.site.profiles import SECONDS_PER_DAY, LineProfile, local_hours, outdoor_temperature_c

__all__ = [
    "SOLAR_CONSTANT_W_M2",
    "clear_sky_index",
    "erbs_diffuse_fraction",
    "extraterrestrial_w_m2",
    "haurwitz_ghi",
    "isotropic_poa",
    "pvwatts_ac_power_w",
    "solar_position",
    "solar_profile",
]

FloatArray = NDArray[np.float64]

SOLAR_CONSTANT_W_M2 = 1367.0
"""Mean extraterrestrial irradiance at one astronomical unit (WMO). [W/m²]"""


def _day_angle(day_of_year: FloatArray) -> FloatArray:
    result: FloatArray = 2.0 * np.pi * (day_of_year - 1.0) / 365.0
    return result


def extraterrestrial_w_m2(day_of_year: ArrayLike) -> FloatArray:
    """
    Extraterrestrial normal irradiance through the year (Spencer 1971).

    Parameters
    ----------
    day_of_year : array-like
        Day of the year, 1 on 1 January. [day]

    Returns
    -------
    irradiance : ndarray
        [W/m²]
    """
    b = _day_angle(np.asarray(day_of_year, dtype=np.float64))
    factor = (
        1.000110
        + 0.034221 * np.cos(b)
        + 0.001280 * np.sin(b)
        + 0.000719 * np.cos(2 * b)
        + 0.000077 * np.sin(2 * b)
    )
    result: FloatArray = SOLAR_CONSTANT_W_M2 * factor
    return result


def solar_position(
    epoch_s: ArrayLike, latitude_deg: float, longitude_deg: float
) -> tuple[FloatArray, FloatArray]:
    """
    The sun's zenith and azimuth angles (Spencer 1971 declination and equation of time).

    Parameters
    ----------
    epoch_s : array-like
        Instants, seconds since the Unix epoch (UTC). [s]
    latitude_deg : float
        Latitude, north positive, in [-90, 90]. [deg]
    longitude_deg : float
        Longitude, east positive, in [-180, 180]. [deg]

    Returns
    -------
    zenith_deg : ndarray
        Angle between the sun and the vertical, 0–180. [deg]
    azimuth_deg : ndarray
        Compass bearing of the sun, clockwise from north (90 east, 180 south). [deg]

    Notes
    -----
    Accurate to about 0.5° (Spencer's series), ample for hourly to 5-minute energy: no refraction.
    """
    lat = _angle("latitude_deg", latitude_deg, 90.0)
    lon = _angle("longitude_deg", longitude_deg, 180.0)
    t = np.asarray(epoch_s, dtype=np.float64)
    days = np.floor(t / SECONDS_PER_DAY)
    day64 = days.astype(np.int64).astype("datetime64[D]")
    doy = (day64 - day64.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.float64) + 1.0
    utc_hour = (t - days * SECONDS_PER_DAY) / 3600.0
    b = _day_angle(doy + (utc_hour - 12.0) / 24.0)
    declination = (
        0.006918
        - 0.399912 * np.cos(b)
        + 0.070257 * np.sin(b)
        - 0.006758 * np.cos(2 * b)
        + 0.000907 * np.sin(2 * b)
        - 0.002697 * np.cos(3 * b)
        + 0.00148 * np.sin(3 * b)
    )
    eot_min = 229.18 * (
        0.000075
        + 0.001868 * np.cos(b)
        - 0.032077 * np.sin(b)
        - 0.014615 * np.cos(2 * b)
        - 0.040849 * np.sin(2 * b)
    )
    solar_time_h = utc_hour + lon / 15.0 + eot_min / 60.0
    hour_angle = np.deg2rad(15.0 * (solar_time_h - 12.0))
    phi = np.deg2rad(lat)
    cos_z = np.sin(phi) * np.sin(declination) + np.cos(phi) * np.cos(declination) * np.cos(hour_angle)
    zenith = np.arccos(np.clip(cos_z, -1.0, 1.0))
    # azimuth from north, clockwise: atan2(east, north) components of the sun's direction
    east = -np.cos(declination) * np.sin(hour_angle)
    north = np.cos(phi) * np.sin(declination) - np.sin(phi) * np.cos(declination) * np.cos(hour_angle)
    azimuth = np.rad2deg(np.arctan2(east, north)) % 360.0
    return np.rad2deg(zenith), azimuth


def _angle(name: str, value: float, limit: float) -> float:
    if isinstance(value, bool) or not (np.isfinite(value) and -limit <= value <= limit):
        raise ValueError(f"{name} must be in [-{limit:g}, {limit:g}], got {value!r}")
    return float(value)


def haurwitz_ghi(zenith_deg: ArrayLike) -> FloatArray:
    """
    Clear-sky global horizontal irradiance (Haurwitz 1945).

    Parameters
    ----------
    zenith_deg : array-like
        Solar zenith angle. [deg]

    Returns
    -------
    ghi : ndarray
        0 with the sun below the horizon. [W/m²]

    Notes
    -----
    :math:`GHI = 1098 \\cos z \\; e^{-0.057 / \\cos z}` for :math:`\\cos z > 0`.
    """
    cos_z = np.cos(np.deg2rad(np.asarray(zenith_deg, dtype=np.float64)))
    safe = np.where(cos_z > 0.0, cos_z, 1.0)
    result: FloatArray = np.where(cos_z > 0.0, 1098.0 * safe * np.exp(-0.057 / safe), 0.0)
    return result


def erbs_diffuse_fraction(clearness_index: ArrayLike) -> FloatArray:
    """
    Diffuse share of global horizontal irradiance (Erbs, Klein & Duffie 1982).

    Parameters
    ----------
    clearness_index : array-like
        GHI over extraterrestrial horizontal irradiance, :math:`k_t`. [1]

    Returns
    -------
    fraction : ndarray
        DHI / GHI, in [0.165, 1]. [1]
    """
    kt = np.clip(np.asarray(clearness_index, dtype=np.float64), 0.0, 1.0)
    mid = 0.9511 - 0.1604 * kt + 4.388 * kt**2 - 16.638 * kt**3 + 12.336 * kt**4
    result: FloatArray = np.where(kt <= 0.22, 1.0 - 0.09 * kt, np.where(kt <= 0.8, mid, 0.165))
    return result


def isotropic_poa(
    ghi: ArrayLike,
    dhi: ArrayLike,
    zenith_deg: ArrayLike,
    azimuth_deg: ArrayLike,
    *,
    tilt_deg: float,
    surface_azimuth_deg: float,
    albedo: float = 0.2,
) -> FloatArray:
    """
    Irradiance on a tilted plane with an isotropic sky (Liu & Jordan 1963).

    Parameters
    ----------
    ghi, dhi : array-like
        Global and diffuse horizontal irradiance. [W/m²]
    zenith_deg, azimuth_deg : array-like
        The sun's position (:func:`solar_position`). [deg]
    tilt_deg : float
        The plane's tilt from horizontal, 0–90. [deg]
    surface_azimuth_deg : float
        The direction the plane faces, clockwise from north (180: south). [deg]
    albedo : float
        Ground reflectance, 0–1. [1]

    Returns
    -------
    poa : ndarray
        Plane-of-array irradiance. [W/m²]

    Notes
    -----
    :math:`POA = DNI \\max(\\cos\\theta, 0) + DHI (1 + \\cos\\beta)/2 + GHI\\,\\rho (1 - \\cos\\beta)/2`,
    :math:`DNI = (GHI - DHI)/\\cos z`, :math:`\\theta` the angle of incidence.
    """
    if isinstance(tilt_deg, bool) or not (np.isfinite(tilt_deg) and 0.0 <= tilt_deg <= 90.0):
        raise ValueError(f"tilt_deg must be in [0, 90], got {tilt_deg!r}")
    if isinstance(albedo, bool) or not (np.isfinite(albedo) and 0.0 <= albedo <= 1.0):
        raise ValueError(f"albedo must be in [0, 1], got {albedo!r}")
    g = np.asarray(ghi, dtype=np.float64)
    d = np.asarray(dhi, dtype=np.float64)
    z = np.deg2rad(np.asarray(zenith_deg, dtype=np.float64))
    a = np.deg2rad(np.asarray(azimuth_deg, dtype=np.float64))
    beta = np.deg2rad(tilt_deg)
    gamma = np.deg2rad(surface_azimuth_deg)
    cos_z = np.cos(z)
    dni = np.where(cos_z > 0.01, (g - d) / np.where(cos_z > 0.01, cos_z, 1.0), 0.0)
    cos_aoi = np.cos(z) * np.cos(beta) + np.sin(z) * np.sin(beta) * np.cos(a - gamma)
    result: FloatArray = (
        dni * np.maximum(cos_aoi, 0.0) + d * (1 + np.cos(beta)) / 2 + g * albedo * (1 - np.cos(beta)) / 2
    )
    return np.maximum(result, 0.0)


_DAY_STATES = (
    # (clear-sky index mean, passing-cloud σ) of a clear, a broken and an overcast day
    (0.97, 0.02),
    (0.65, 0.25),
    (0.30, 0.08),
)
_TRANSITIONS = np.array(
    [
        [0.75, 0.20, 0.05],  # after a clear day
        [0.40, 0.40, 0.20],  # after a broken day
        [0.25, 0.35, 0.40],  # after an overcast day
    ]
)
"""Day-to-day weather of a sunny climate: about 65 % of days clear, 26 % broken, 11 % overcast."""


def clear_sky_index(epoch_s: ArrayLike, *, seed: int = 0, summer_clearer: bool = True) -> FloatArray:
    """
    The weather as a clear-sky index: measured over clear-sky irradiance, step by step.

    Parameters
    ----------
    epoch_s : array-like
        Instants, increasing, seconds since the Unix epoch (UTC). [s]
    seed : int
        Seed of the weather.
    summer_clearer : bool
        Make summer days clearer than winter ones (a Mediterranean climate: the chance of a clear day
        ±15 % with the season, peaking at day 200).

    Returns
    -------
    index : ndarray
        In [0.05, 1.1]: 1 under a clear sky, above 1 briefly at cloud edges. [1]

    Notes
    -----
    Each UTC day is clear, broken or overcast by a Markov chain (:data:`_TRANSITIONS`); within a day the
    index is the state's mean plus AR(1) passing clouds with a 20-minute correlation time.
    """
    t = np.asarray(epoch_s, dtype=np.float64)
    if t.size == 0:
        return np.zeros(0)
    if np.any(np.diff(t) <= 0):
        raise ValueError("epoch_s must be increasing")
    rng = np.random.default_rng(seed)
    days = np.floor(t / SECONDS_PER_DAY).astype(np.int64)
    first = int(days[0])
    count = int(days[-1]) - first + 1
    states = np.empty(count, dtype=np.intp)
    state = 0
    for k in range(count):
        p = _TRANSITIONS[state].copy()
        if summer_clearer:
            day64 = np.datetime64(first + k, "D")
            doy = float((day64 - day64.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64)) + 1
            shift = 0.15 * np.cos(2 * np.pi * (doy - 200.0) / 365.0)
            p[0] = max(p[0] + shift, 0.05)
            p /= p.sum()
        state = int(rng.choice(3, p=p))
        states[k] = state
    means = np.array([s[0] for s in _DAY_STATES])[states[days - first]]
    sigmas = np.array([s[1] for s in _DAY_STATES])[states[days - first]]
    dt = np.diff(t, prepend=t[0] - (t[1] - t[0] if t.size > 1 else 300.0))
    rho = np.exp(-dt / 1200.0)
    noise = rng.normal(0.0, 1.0, t.size)
    ar = np.empty(t.size)
    level = 0.0
    for k in range(t.size):
        level = rho[k] * level + np.sqrt(1.0 - rho[k] ** 2) * noise[k]
        ar[k] = level
    result: FloatArray = np.clip(means + sigmas * ar, 0.05, 1.1)
    return result


def pvwatts_ac_power_w(
    poa_w_m2: ArrayLike,
    temperature_c: ArrayLike,
    *,
    dc_capacity_w: float,
    ac_capacity_w: float | None = None,
    gamma_per_c: float = -0.004,
    noct_c: float = 45.0,
    system_losses: float = 0.14,
    inverter_efficiency: float = 0.96,
) -> FloatArray:
    """
    AC output of a PV array and its inverter (PVWatts, Dobos 2014).

    Parameters
    ----------
    poa_w_m2 : array-like
        Plane-of-array irradiance. [W/m²]
    temperature_c : array-like
        Outdoor air temperature. [°C]
    dc_capacity_w : float
        Array rating at 1000 W/m², 25 °C cell. [W]
    ac_capacity_w : float, optional
        Inverter rating, where output clips; default ``dc_capacity_w / 1.2``. [W]
    gamma_per_c : float
        Power temperature coefficient. [1/°C]
    noct_c : float
        Nominal operating cell temperature. [°C]
    system_losses : float
        Soiling, wiring, mismatch, in [0, 1). [1]
    inverter_efficiency : float
        In (0, 1]. [1]

    Returns
    -------
    power_w : ndarray
        Non-negative AC power. [W]

    Notes
    -----
    :math:`T_{cell} = T_{air} + POA (NOCT - 20)/800`;
    :math:`P_{dc} = P_{dc0} \\, POA/1000 \\, (1 + \\gamma (T_{cell} - 25)) (1 - losses)`;
    :math:`P_{ac} = \\min(\\eta P_{dc}, P_{ac0})`.
    """
    if isinstance(dc_capacity_w, bool) or not (np.isfinite(dc_capacity_w) and dc_capacity_w >= 0):
        raise ValueError(f"dc_capacity_w must be finite and >= 0, got {dc_capacity_w!r}")
    ac_cap = dc_capacity_w / 1.2 if ac_capacity_w is None else ac_capacity_w
    if isinstance(ac_cap, bool) or not (np.isfinite(ac_cap) and ac_cap >= 0):
        raise ValueError(f"ac_capacity_w must be finite and >= 0, got {ac_capacity_w!r}")
    if not 0.0 <= system_losses < 1.0:
        raise ValueError(f"system_losses must be in [0, 1), got {system_losses!r}")
    if not 0.0 < inverter_efficiency <= 1.0:
        raise ValueError(f"inverter_efficiency must be in (0, 1], got {inverter_efficiency!r}")
    poa = np.asarray(poa_w_m2, dtype=np.float64)
    cell = np.asarray(temperature_c, dtype=np.float64) + poa * (noct_c - 20.0) / 800.0
    dc = dc_capacity_w * poa / 1000.0 * (1.0 + gamma_per_c * (cell - 25.0)) * (1.0 - system_losses)
    result: FloatArray = np.clip(inverter_efficiency * dc, 0.0, ac_cap)
    return result


def solar_profile(
    *,
    start: datetime,
    days: float,
    step_s: float = 300.0,
    latitude_deg: float,
    longitude_deg: float,
    dc_capacity_kw: float,
    ac_capacity_kw: float | None = None,
    tilt_deg: float = 20.0,
    azimuth_deg: float = 180.0,
    timezone: str = "UTC",
    seed: int = 0,
    nominal_voltage_v: float = 120.0,
) -> LineProfile:
    """
    What a production meter on a rooftop array's inverter sees: its AC output on two lines at PF 1.

    Parameters
    ----------
    start : datetime
        Aware instant of the first step.
    days : float
        Length. [day]
    step_s : float
        Step; the sun's position is taken at each step's middle. [s]
    latitude_deg, longitude_deg : float
        The site. [deg]
    dc_capacity_kw : float
        Array rating. [kW]
    ac_capacity_kw : float, optional
        Inverter rating; default ``dc_capacity_kw / 1.2``. [kW]
    tilt_deg, azimuth_deg : float
        The array's tilt and the direction it faces (180: south). [deg]
    timezone : str
        IANA zone, for the outdoor temperature's local hours.
    seed : int
        Seed of the weather.
    nominal_voltage_v : float
        Line-to-neutral voltage. [V]

    Returns
    -------
    LineProfile
        The inverter's output current on L1 and L2 (a 240 V inverter: the same current on both lines),
        in phase with the voltage. The production meter's CTs face the inverter (``docs/site.md``),
        so its output registers as delivered energy.
    """
    if not isinstance(start, datetime) or start.tzinfo is None:
        raise ValueError(f"start must be a timezone-aware datetime, got {start!r}")
    for name, value in (("days", days), ("step_s", step_s), ("nominal_voltage_v", nominal_voltage_v)):
        if isinstance(value, bool) or not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    if isinstance(dc_capacity_kw, bool) or not (np.isfinite(dc_capacity_kw) and dc_capacity_kw >= 0):
        raise ValueError(f"dc_capacity_kw must be finite and >= 0, got {dc_capacity_kw!r}")
    n = max(1, round(days * SECONDS_PER_DAY / step_s))
    t = start.timestamp() + (np.arange(n, dtype=np.float64) + 0.5) * step_s
    zenith, azimuth = solar_position(t, latitude_deg, longitude_deg)
    hour, doy, _ = local_hours(t, timezone)
    ghi = haurwitz_ghi(zenith) * clear_sky_index(t, seed=seed)
    horizontal = extraterrestrial_w_m2(doy) * np.maximum(np.cos(np.deg2rad(zenith)), 0.0)
    kt = np.where(horizontal > 1.0, ghi / np.where(horizontal > 1.0, horizontal, 1.0), 0.0)
    dhi = ghi * erbs_diffuse_fraction(kt)
    poa = isotropic_poa(ghi, dhi, zenith, azimuth, tilt_deg=tilt_deg, surface_azimuth_deg=azimuth_deg)

    air = outdoor_temperature_c(doy, hour)
    power = pvwatts_ac_power_w(
        poa,
        air,
        dc_capacity_w=dc_capacity_kw * 1000.0,
        ac_capacity_w=None if ac_capacity_kw is None else ac_capacity_kw * 1000.0,
    )
    v = np.full((2, n), float(nominal_voltage_v))
    current = np.vstack([power, power]) / (2.0 * v)
    return LineProfile(step_s=float(step_s), voltage_v=v, current_a=current, phase_deg=np.zeros((2, n)))
