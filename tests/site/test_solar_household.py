"""The household, house and solar profiles: shapes, seasons, seeds, and the published models' numbers."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from meshmeter.site.profiles import house_profile, household_profile, local_hours
from meshmeter.site.solar import (
    erbs_diffuse_fraction,
    haurwitz_ghi,
    isotropic_poa,
    pvwatts_ac_power_w,
    solar_position,
    solar_profile,
)

LA = "America/Los_Angeles"
JAN = datetime(2026, 1, 1, 8, tzinfo=UTC)  # local midnight in Los Angeles
JUL = datetime(2026, 7, 1, 7, tzinfo=UTC)


def test_local_hours_follow_dst() -> None:
    # 2026-03-08 10:00 UTC is 03:00 PDT (after the change); 09:00 UTC was 01:00 PST
    t = np.array(
        [datetime(2026, 3, 8, 9, tzinfo=UTC).timestamp(), datetime(2026, 3, 8, 10, tzinfo=UTC).timestamp()]
    )
    hour, doy, weekend = local_hours(t, LA)
    assert hour.tolist() == [1.0, 3.0]
    assert np.floor(doy).tolist() == [67.0, 67.0]
    assert weekend.tolist() == [True, True]  # a Sunday
    with pytest.raises(ValueError, match="timezone"):
        local_hours(t, "Nowhere/Else")


def test_household_is_seeded_and_units_differ() -> None:
    a = household_profile(start=JAN, days=2, timezone=LA, seed=1)
    b = household_profile(start=JAN, days=2, timezone=LA, seed=1)
    c = household_profile(start=JAN, days=2, timezone=LA, seed=2)
    assert np.array_equal(a.current_a, b.current_a)
    assert not np.array_equal(a.current_a, c.current_a)
    assert a.current_a.shape == (2, 576)  # 5-minute steps


def test_household_year_matches_its_annual_energy_on_average() -> None:
    years = [
        household_profile(
            start=JAN, days=365, step_s=3600, timezone=LA, seed=s, annual_kwh=5000
        ).true_energy_wh
        for s in range(12)
    ]
    mean_kwh = float(np.mean(years)) / 1000
    assert 4000 < mean_kwh < 6500
    assert max(years) / min(years) > 1.5  # households differ


def test_household_daily_shape_has_evening_peak_and_night_trough() -> None:
    p = household_profile(start=JAN, days=28, step_s=900, timezone=LA, seed=3)
    power = (p.voltage_v * p.current_a * np.cos(np.deg2rad(p.phase_deg))).sum(axis=0).reshape(28, 96)
    by_hour = power.mean(axis=0).reshape(24, 4).mean(axis=1)
    assert by_hour[18:22].mean() > 2 * by_hour[2:5].mean()


def test_summer_air_conditioning_raises_afternoons() -> None:
    from meshmeter.site.profiles import Household

    traits = Household(1.0, 7.0, 19.0, True, 3000.0, 0.0, 0.0, 8.0)
    winter = household_profile(start=JAN, days=14, timezone=LA, seed=4, household=traits).true_energy_wh
    summer = household_profile(start=JUL, days=14, timezone=LA, seed=4, household=traits).true_energy_wh
    assert summer > winter


def test_house_profile_mean_power() -> None:
    p = house_profile(start=JAN, days=365, step_s=3600, timezone=LA, annual_kwh=30_000)
    assert p.true_energy_wh / 1000 == pytest.approx(30_000, rel=0.1)
    with pytest.raises(ValueError, match="annual_kwh"):
        house_profile(start=JAN, days=1, annual_kwh=-5)


@pytest.mark.parametrize(
    ("when", "zenith", "azimuth"),
    [
        # summer solstice, solar noon at 122.42° W (12:00 + 8 h 10 min − EoT ≈ 20:12 UTC): zenith = φ − δ
        (datetime(2026, 6, 21, 20, 12, tzinfo=UTC), 37.77 - 23.44, 180.0),
        # winter solstice noon (20:10 UTC): zenith = φ + 23.44
        (datetime(2026, 12, 21, 20, 10, tzinfo=UTC), 37.77 + 23.44, 180.0),
    ],
)
def test_solar_position_at_the_solstices(when: datetime, zenith: float, azimuth: float) -> None:
    z, a = solar_position(when.timestamp(), 37.77, -122.42)
    assert float(z) == pytest.approx(zenith, abs=0.6)
    assert float(a) == pytest.approx(azimuth, abs=3.0)


def test_haurwitz_and_erbs_hand_values() -> None:
    # 1098 cos z exp(-0.057 / cos z): z = 0 → 1098 e^-0.057 = 1037.2; z = 60° → 549 e^-0.114 = 489.8
    assert haurwitz_ghi([0.0, 60.0, 95.0]) == pytest.approx([1037.16, 489.85, 0.0], abs=0.05)
    assert erbs_diffuse_fraction([0.1, 0.9]) == pytest.approx([0.991, 0.165])


def test_poa_and_pvwatts() -> None:
    # sun overhead, flat plate: POA = GHI; tilted 90° facing the sun at the horizon gets DNI
    assert isotropic_poa(1000.0, 100.0, 0.0, 180.0, tilt_deg=0.0, surface_azimuth_deg=180.0) == pytest.approx(
        1000.0
    )
    # 1000 W/m², 25 °C cell, no losses: P = rating (clipped by the inverter)
    p = pvwatts_ac_power_w(1000.0, 25.0 - 1000.0 * 25.0 / 800.0, dc_capacity_w=5000.0, system_losses=0.0,
                           inverter_efficiency=1.0, ac_capacity_w=10_000.0)  # fmt: skip
    assert float(p) == pytest.approx(5000.0)
    with pytest.raises(ValueError, match="tilt_deg"):
        isotropic_poa(1.0, 1.0, 0.0, 0.0, tilt_deg=120.0, surface_azimuth_deg=0.0)
    with pytest.raises(ValueError, match="dc_capacity_w"):
        pvwatts_ac_power_w(1.0, 1.0, dc_capacity_w=-1.0)


def test_solar_profile_zero_at_night_and_a_sensible_year() -> None:
    p = solar_profile(start=JAN, days=365, step_s=1800, latitude_deg=37.77, longitude_deg=-122.42,
                      dc_capacity_kw=10.0, timezone=LA, seed=1)  # fmt: skip
    kwh_per_kw = p.true_energy_wh / 1000 / 10.0
    assert 1100 < kwh_per_kw < 1700  # San Francisco: about 1,400 kWh/kWp a year
    power = (p.voltage_v * p.current_a).sum(axis=0).reshape(365, 48)
    assert power[:, :10].max() == 0.0  # local 00:00-05:00: dark
    assert np.all(p.phase_deg == 0.0)
    assert power.max() <= 10_000 / 1.2 + 1e-6  # the inverter clips at its rating
    with pytest.raises(ValueError, match="latitude_deg"):
        solar_profile(start=JAN, days=1, latitude_deg=95.0, longitude_deg=0.0, dc_capacity_kw=1.0)
