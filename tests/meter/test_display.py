"""Tests of meshmeter.meter.display (manual §3.2 Table 3, §4.7)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from meshmeter.meter.display import Lcd, LcdScreen, boot_screen, format_total_kwh, lcd_screens

VALUES = {"total_energy_wh": 1_234_567, "demand_kw": 1.2, "power_kw": 0.85, "reverse_phase": False}


@pytest.mark.parametrize(
    ("wh", "text"),
    [
        (0, "000000.0 kWh"),
        (99, "000000.0 kWh"),  # truncated: a register never shows energy not yet registered
        (100, "000000.1 kWh"),
        (1_234_567, "001234.5 kWh"),
        (999_999_999, "999999.9 kWh"),
        (1_000_000_000, "000000.0 kWh"),  # rolls over like a 6-digit register
    ],
)
def test_format_total_kwh(wh, text):
    assert format_total_kwh(wh) == text


@pytest.mark.parametrize("bad", [-1, 1.5, True, math.nan])
def test_format_total_kwh_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="total_energy_wh"):
        format_total_kwh(bad)


def test_normal_rotation():
    screens = lcd_screens(serial="MM123", **VALUES)
    assert screens == [
        LcdScreen("total", "001234.5 kWh", ("TOTAL",)),
        LcdScreen("demand", "   1.200 kW", ("DEMAND",)),
        LcdScreen("power", "   0.850 kW", ("INST",)),
    ]


def test_reverse_phase_annunciator_on_every_screen_and_its_own_screen():
    screens = lcd_screens(serial="MM123", **{**VALUES, "power_kw": -0.85, "reverse_phase": True})
    assert [s.name for s in screens] == ["total", "demand", "power", "reverse"]
    assert all("REV" in s.annunciators for s in screens)
    assert screens[2].text == "  -0.850 kW"
    assert screens[3].text == "REV PHASE"


def test_unknown_demand_and_negative_zero():
    screens = lcd_screens(serial="MM123", **{**VALUES, "demand_kw": None, "power_kw": -0.0})
    assert screens[1].text == "  --.--- kW"
    assert screens[2].text == "   0.000 kW"


def test_boot_screen_shows_serial():
    assert boot_screen("MM123") == LcdScreen("serial", "SN MM123", ())


def test_screen_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        boot_screen("MM123").text = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"serial": ""}, "serial"),
        ({"serial": "MM1", "demand_kw": math.nan}, "demand_kw"),
        ({"serial": "MM1", "power_kw": math.inf}, "power_kw"),
        ({"serial": "MM1", "total_energy_wh": -5}, "total_energy_wh"),
    ],
)
def test_lcd_screens_validates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lcd_screens(**{**VALUES, **kwargs})


@pytest.mark.parametrize(
    ("t", "name"),
    [
        (0.0, "serial"),
        (4.999, "serial"),
        (5.0, "total"),
        (9.999, "total"),
        (10.0, "demand"),
        (15.0, "power"),
        (20.0, "total"),  # rotation wraps
        (3610.0, "demand"),  # (3610 - 5) / 5 = 721 = 1 mod 3
    ],
)
def test_lcd_boot_then_rotation(t, name):
    lcd = Lcd("MM123")
    screen = lcd.screen_at(t, supply_ok=True, **VALUES)
    assert screen is not None
    assert screen.name == name


def test_lcd_is_dark_without_proper_supply():
    # manual §4.7: "The LCD illuminates when the Mini Meter devices has a proper power supply"
    lcd = Lcd("MM123")
    for t in (0.0, 7.0, 1000.0):
        assert lcd.screen_at(t, supply_ok=False, **VALUES) is None


def test_lcd_rotation_with_reverse_phase_has_four_screens():
    lcd = Lcd("MM123", boot_s=2.0, dwell_s=3.0)
    values = {**VALUES, "reverse_phase": True}
    screens = [lcd.screen_at(2.0 + 3.0 * i, supply_ok=True, **values) for i in range(5)]
    names = [s.name if s is not None else None for s in screens]
    assert names == ["total", "demand", "power", "reverse", "total"]


def test_lcd_is_deterministic():
    a = Lcd("MM123")
    b = Lcd("MM123")
    for t in (0.0, 6.0, 12.5, 100.0):
        assert a.screen_at(t, supply_ok=True, **VALUES) == b.screen_at(t, supply_ok=True, **VALUES)


def test_lcd_properties_and_zero_boot():
    lcd = Lcd("SN-9", boot_s=0.0, dwell_s=1.0)
    assert (lcd.serial, lcd.boot_s, lcd.dwell_s) == ("SN-9", 0.0, 1.0)
    screen = lcd.screen_at(0.0, supply_ok=True, **VALUES)
    assert screen is not None
    assert screen.name == "total"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"serial": ""}, "serial"),
        ({"serial": "MM1", "boot_s": -1.0}, "boot_s"),
        ({"serial": "MM1", "dwell_s": 0.0}, "dwell_s"),
        ({"serial": "MM1", "dwell_s": math.nan}, "dwell_s"),
    ],
)
def test_lcd_validates_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Lcd(**kwargs)


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_lcd_rejects_bad_time(bad):
    with pytest.raises(ValueError, match="time_s_since_power_up"):
        Lcd("MM1").screen_at(bad, supply_ok=True, **VALUES)
