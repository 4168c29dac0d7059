"""The LCD (manual §3.2 Table 3, §4.7).

"LCD display shows total kWh, kWh demand, instantaneous kWh, reverse phase indication, and
serial number upon boot" (manual Table 3): read as total energy [kWh], demand [kW] and
instantaneous power [kW]. "The LCD illuminates when the Mini Meter devices has a proper power
supply" (manual §4.7): without one it is dark.

The manual gives neither the text layout nor the timings; the choices here are:

* total energy as a 6-digit register with one decimal, truncated (a register never shows
  energy not yet registered) and rolling over at 1 000 000 kWh: ``"001234.5 kWh"``;
* demand and power with three decimals, signed: ``"   1.200 kW"``; a demand not yet known
  (no completed interval) shows ``"  --.--- kW"``;
* annunciators: ``"TOTAL"``, ``"DEMAND"``, ``"INST"`` name the quantity; ``"REV"`` is on every
  screen while the reverse-phase indication is on, which also gets a screen of its own;
* the serial number for ``boot_s = 5 s`` after power-up, then the screens in turn, each for
  ``dwell_s = 5 s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Lcd", "LcdScreen", "boot_screen", "format_total_kwh", "lcd_screens"]

_TENTHS_ROLLOVER = 10_000_000  # 999999.9 kWh + 0.1 kWh wraps to 000000.0
_UNKNOWN_KW = "  --.--- kW"


@dataclass(frozen=True, slots=True)
class LcdScreen:
    """One screen of the LCD.

    Attributes
    ----------
    name : str
        What it shows: ``"serial"``, ``"total"``, ``"demand"``, ``"power"`` or ``"reverse"``.
    text : str
        The characters shown.
    annunciators : tuple of str
        Annunciator segments lit with it (e.g. ``("TOTAL", "REV")``).
    """

    name: str
    text: str
    annunciators: tuple[str, ...]


def _check_serial(serial: str) -> str:
    if not isinstance(serial, str) or not serial.strip():
        raise ValueError(f"serial must be a non-empty string, got {serial!r}")
    return serial


def _format_kw(name: str, value_kw: float | None) -> str:
    if value_kw is None:
        return _UNKNOWN_KW
    v = float(value_kw)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value_kw!r}")
    if v == 0.0:
        v = 0.0  # no "-0.000"
    return f"{v:8.3f} kW"


def format_total_kwh(total_energy_wh: int) -> str:
    """Text of the total register (manual Table 3).

    Parameters
    ----------
    total_energy_wh : int
        Total registered energy, >= 0. [Wh]

    Returns
    -------
    str
        Six integer digits and one decimal of kWh, truncated, rolling over at 10^6 kWh, e.g.
        ``"001234.5 kWh"`` for 1 234 567 Wh.
    """
    if isinstance(total_energy_wh, bool) or not isinstance(total_energy_wh, int) or total_energy_wh < 0:
        raise ValueError(f"total_energy_wh must be an integer >= 0, got {total_energy_wh!r}")
    tenths = (total_energy_wh // 100) % _TENTHS_ROLLOVER
    return f"{tenths // 10:06d}.{tenths % 10} kWh"


def boot_screen(serial: str) -> LcdScreen:
    """The screen shown upon boot: the serial number (manual Table 3).

    Parameters
    ----------
    serial : str
        Serial number of the meter.
    """
    return LcdScreen("serial", f"SN {_check_serial(serial)}", ())


def lcd_screens(
    *,
    serial: str,
    total_energy_wh: int,
    demand_kw: float | None,
    power_kw: float,
    reverse_phase: bool,
) -> list[LcdScreen]:
    """The normal rotation of the LCD (manual §3.2 Table 3).

    Parameters
    ----------
    serial : str
        Serial number (checked; shown only by :func:`boot_screen`).
    total_energy_wh : int
        Total register. [Wh]
    demand_kw : float or None
        Demand; None before the first completed demand interval. [kW]
    power_kw : float
        Instantaneous power, signed (negative when reversed, docs/conventions.md). [kW]
    reverse_phase : bool
        Whether the reverse-phase indication is on (manual §3.2, §7).

    Returns
    -------
    list of LcdScreen
        ``total``, ``demand``, ``power`` and, when ``reverse_phase``, ``reverse``; every screen
        carries the ``"REV"`` annunciator while ``reverse_phase`` is on.
    """
    _check_serial(serial)
    rev: tuple[str, ...] = ("REV",) if reverse_phase else ()
    screens = [
        LcdScreen("total", format_total_kwh(total_energy_wh), ("TOTAL", *rev)),
        LcdScreen("demand", _format_kw("demand_kw", demand_kw), ("DEMAND", *rev)),
        LcdScreen("power", _format_kw("power_kw", power_kw), ("INST", *rev)),
    ]
    if reverse_phase:
        screens.append(LcdScreen("reverse", "REV PHASE", rev))
    return screens


class Lcd:
    """The LCD of a meter: dark without supply, serial at boot, then a rotation (manual Table 3).

    Parameters
    ----------
    serial : str
        Serial number shown upon boot.
    boot_s : float, default 5.0
        How long the serial number is shown after power-up (the manual is silent). [s]
    dwell_s : float, default 5.0
        How long each screen of the rotation is shown (the manual is silent). [s]
    """

    def __init__(self, serial: str, boot_s: float = 5.0, dwell_s: float = 5.0) -> None:
        self._serial = _check_serial(serial)
        boot = float(boot_s)
        if not (math.isfinite(boot) and boot >= 0.0):
            raise ValueError(f"boot_s must be finite and >= 0, got {boot_s!r}")
        dwell = float(dwell_s)
        if not (math.isfinite(dwell) and dwell > 0.0):
            raise ValueError(f"dwell_s must be finite and > 0, got {dwell_s!r}")
        self._boot_s = boot
        self._dwell_s = dwell

    @property
    def serial(self) -> str:
        """Serial number."""
        return self._serial

    @property
    def boot_s(self) -> float:
        """Boot screen duration. [s]"""
        return self._boot_s

    @property
    def dwell_s(self) -> float:
        """Dwell per screen. [s]"""
        return self._dwell_s

    def screen_at(
        self,
        time_s_since_power_up: float,
        *,
        supply_ok: bool,
        total_energy_wh: int,
        demand_kw: float | None,
        power_kw: float,
        reverse_phase: bool,
    ) -> LcdScreen | None:
        """The screen shown at a time after power-up.

        Parameters
        ----------
        time_s_since_power_up : float
            Time since the supply became proper, >= 0. [s]
        supply_ok : bool
            Whether the meter has a proper power supply (manual §4.7); False gives a dark LCD.
        total_energy_wh, demand_kw, power_kw, reverse_phase
            As in :func:`lcd_screens`.

        Returns
        -------
        LcdScreen or None
            None when dark; the boot screen for ``boot_s``; then screen
            ``floor((t - boot_s) / dwell_s) mod len(screens)`` of :func:`lcd_screens`.
        """
        t = float(time_s_since_power_up)
        if not (math.isfinite(t) and t >= 0.0):
            raise ValueError(f"time_s_since_power_up must be finite and >= 0, got {time_s_since_power_up!r}")
        screens = lcd_screens(
            serial=self._serial,
            total_energy_wh=total_energy_wh,
            demand_kw=demand_kw,
            power_kw=power_kw,
            reverse_phase=reverse_phase,
        )
        if not supply_ok:
            return None
        if t < self._boot_s:
            return boot_screen(self._serial)
        index = math.floor((t - self._boot_s) / self._dwell_s) % len(screens)
        return screens[index]
