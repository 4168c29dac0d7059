"""Battery of an MDT: charge used per power state, charge left, and life left.

An MDT spends its time in a few power states (off, asleep, listening, transmitting, with its LED lit);
the charge drawn in a state is its current times the time spent in it (coulomb counting). The cell is
a 3.6 V lithium-thionyl chloride AA bobbin cell, the usual choice for ten-year metering radios, with a
small self-discharge. When the meter supplies the MDT from its +12 VDC output (manual §5.1, "+12V DC @
10ma Max output", §3.2 table), the battery supplies only what the meter's output cannot.

``docs/radio.md`` gives the sources of the defaults. :func:`charge_mah` is pure; :class:`Battery` holds the
state of one cell and validates everything before it changes anything.

References
----------
Saft LS 14500 data sheet (3.6 V Li-SOCl2 AA, 2.6 Ah at 2 mA to 2 V at +20 °C, < 1 % self-discharge a year).
Texas Instruments CC1312R data sheet, SWRS210 (sub-GHz wireless MCU currents: shutdown, standby, RX, TX).
Leviton Mini Meter installation manual §5.1, §5.2 (MDT power from the meter; "turn off the device so the
battery will not drain").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "SECONDS_PER_HOUR",
    "SECONDS_PER_YEAR",
    "Battery",
    "BatteryConfig",
    "DrawState",
    "charge_mah",
]

SECONDS_PER_HOUR = 3600.0
"""Seconds in an hour. [s]"""

SECONDS_PER_YEAR = 365.25 * 86400.0
"""Seconds in a Julian year, the year of the self-discharge rate. [s]"""


class DrawState(StrEnum):
    """
    What an MDT is doing, as far as its cell sees it: the states that draw current.

    Not the join state of :class:`meshmeter.amr.led.PowerState`; that one maps onto these as OFF → ``off``,
    SEARCHING and JOINING → ``rx`` (listening for beacons), CONNECTED → ``sleep`` between its frames
    (``tx``) and acknowledgements (``rx``), LIGHT_SLEEP → ``light_sleep``. Manual §5.2 names OFF and light
    sleep.

    The LED state is drawn on top of whatever the radio does: spend ``LED`` for the time the LED is lit
    as well as the radio's state for the same time.
    """

    OFF = "off"
    """Switched off: only the wake-on-pulse input is powered (manual §5.2: the first pulse turns it on)."""
    SLEEP = "sleep"
    """Joined, asleep between its reports, real-time clock and pulse counter running."""
    LIGHT_SLEEP = "light_sleep"
    """Not joined, asleep between beacon searches (manual §5.2 "light sleep mode")."""
    RX = "rx"
    """Radio receiving or listening (beacon search, waiting for an acknowledgement)."""
    TX = "tx"
    """Radio transmitting at the MDT's transmit power."""
    LED = "led"
    """The LED lit (added to the radio state's current)."""


def charge_mah(current_ma: ArrayLike, duration_s: ArrayLike) -> NDArray[np.float64]:
    """
    Charge drawn by a constant current over a time.

    Parameters
    ----------
    current_ma : array-like
        Current, finite and >= 0. [mA]
    duration_s : array-like
        Duration, finite and >= 0. [s]

    Returns
    -------
    charge_mah : ndarray
        :math:`Q = I t / 3600`. [mAh]
    """
    i = np.asarray(current_ma, dtype=np.float64)
    t = np.asarray(duration_s, dtype=np.float64)
    if not np.all(np.isfinite(i) & (i >= 0)):
        raise ValueError(f"current_ma must be finite and >= 0, got {current_ma!r}")
    if not np.all(np.isfinite(t) & (t >= 0)):
        raise ValueError(f"duration_s must be finite and >= 0, got {duration_s!r}")
    out: NDArray[np.float64] = i * t / SECONDS_PER_HOUR
    return out


@dataclass(frozen=True)
class BatteryConfig:
    """
    An MDT's cell and the current it draws in each power state.

    Parameters
    ----------
    capacity_mah : float
        Nominal capacity of a Li-SOCl2 AA bobbin cell (Saft LS 14500 class). [mAh]
    voltage_v : float
        Nominal cell voltage, the supply rail of the MDT. [V]
    self_discharge_per_year : float
        Share of the nominal capacity lost per year at rest (< 1 % for Li-SOCl2 at +20 °C). [1/year]
    low_fraction : float
        Share of capacity left below which the battery is reported low. [1]
    off_ua : float
        Current switched off: MCU shutdown with wake-on-pin plus leakage. [µA]
    sleep_ua : float
        Current asleep between reports while joined: standby with RTC and RAM retention, pulse input and
        tamper switch pull-ups. [µA]
    light_sleep_ua : float
        Current in light sleep between beacon searches while not joined. [µA]
    rx_ma : float
        Current receiving (radio RX and MCU). [mA]
    tx_ma : float
        Current transmitting at ``RadioConfig.mdt_tx_power_dbm`` (+14 dBm) with the MCU. [mA]
    led_ma : float
        Extra current with the LED lit. [mA]
    external_supply_v : float
        Voltage of the meter's +12 VDC output (manual §3.2 table, §5.1). [V]
    external_supply_max_ma : float
        Maximum current of that output: 10 mA (manual §3.2 table). [mA]
    converter_efficiency : float
        Efficiency of the MDT's step-down converter from 12 V to its rail. [1]
    """

    capacity_mah: float = 2600.0
    voltage_v: float = 3.6
    self_discharge_per_year: float = 0.01
    low_fraction: float = 0.10
    off_ua: float = 0.5
    sleep_ua: float = 3.0
    light_sleep_ua: float = 3.0
    rx_ma: float = 8.0
    tx_ma: float = 28.0
    led_ma: float = 3.0
    external_supply_v: float = 12.0
    external_supply_max_ma: float = 10.0
    converter_efficiency: float = 0.85

    def __post_init__(self) -> None:
        for name in ("capacity_mah", "voltage_v", "external_supply_v", "converter_efficiency"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value!r}")
        for name in (
            "self_discharge_per_year",
            "off_ua",
            "sleep_ua",
            "light_sleep_ua",
            "rx_ma",
            "tx_ma",
            "led_ma",
            "external_supply_max_ma",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
        for name in ("low_fraction", "converter_efficiency", "self_discharge_per_year"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")

    def current_ma(self, state: DrawState | str) -> float:
        """
        Current drawn in a power state.

        Parameters
        ----------
        state : DrawState or str
            The state or its value (``"tx"``).

        Returns
        -------
        current_ma : float
            Current from the supply rail. [mA]
        """
        s = _state(state)
        return {
            DrawState.OFF: self.off_ua / 1000.0,
            DrawState.SLEEP: self.sleep_ua / 1000.0,
            DrawState.LIGHT_SLEEP: self.light_sleep_ua / 1000.0,
            DrawState.RX: self.rx_ma,
            DrawState.TX: self.tx_ma,
            DrawState.LED: self.led_ma,
        }[s]

    @property
    def external_max_ma(self) -> float:
        """
        Most current the meter's +12 VDC output can deliver on the MDT's rail.

        :math:`I = V_{ext} I_{ext,max} \\eta / V_{cell}`: 12 V × 10 mA × 0.85 / 3.6 V = 28.3 mA, more than
        any default state draws, so an MDT powered by its meter does not drain its battery. [mA]
        """
        return (
            self.external_supply_v * self.external_supply_max_ma * self.converter_efficiency / self.voltage_v
        )

    @property
    def self_discharge_ma(self) -> float:
        """Self-discharge as an equivalent steady current. [mA]"""
        return self.capacity_mah * self.self_discharge_per_year * SECONDS_PER_HOUR / SECONDS_PER_YEAR


def _state(state: DrawState | str) -> DrawState:
    try:
        return DrawState(state)
    except ValueError:
        allowed = ", ".join(s.value for s in DrawState)
        raise ValueError(f"state must be one of {allowed}, got {state!r}") from None


class Battery:
    """
    The cell of one MDT: charge spent per state, charge left, low flag and life left.

    Parameters
    ----------
    config : BatteryConfig
        Cell and currents.
    used_mah : float
        Charge already used when the battery is installed, >= 0 (0 for a fresh cell). [mAh]

    Examples
    --------
    >>> b = Battery()
    >>> b.spend("rx", 3600.0)  # 8 mA for 1 h
    >>> round(b.by_state()["rx"], 6)
    8.0
    """

    def __init__(self, config: BatteryConfig | None = None, used_mah: float = 0.0) -> None:
        self.config = config if config is not None else BatteryConfig()
        if not (math.isfinite(used_mah) and used_mah >= 0):
            raise ValueError(f"used_mah must be finite and >= 0, got {used_mah!r}")
        self._initial_mah = float(used_mah)
        self._by_state: dict[DrawState, float] = dict.fromkeys(DrawState, 0.0)
        self._time_s: dict[DrawState, float] = dict.fromkeys(DrawState, 0.0)
        self._self_discharge_mah = 0.0
        self._external_mah = 0.0
        self._elapsed_s = 0.0

    def spend(self, state: DrawState | str, duration_s: float, *, external_power: bool = False) -> None:
        """
        Spend a time in a state.

        Parameters
        ----------
        state : DrawState or str
            The state.
        duration_s : float
            Time in it, finite and >= 0. [s]
        external_power : bool
            The meter powers the MDT from its +12 VDC output for this span (manual §5.1): the battery
            supplies only the part of the current above ``config.external_max_ma``.

        Notes
        -----
        Every call adds self-discharge for ``duration_s`` too, except for ``LED`` spans (their time is
        also spent in a radio state, so counting it twice would double the self-discharge). Spans may be
        given in any order; only totals are kept. Bad input raises ``ValueError`` and changes nothing.
        """
        s = _state(state)
        if isinstance(duration_s, bool) or not isinstance(duration_s, int | float | np.floating | np.integer):
            raise ValueError(f"duration_s must be a number, got {duration_s!r}")
        duration = float(duration_s)
        if not (math.isfinite(duration) and duration >= 0):
            raise ValueError(f"duration_s must be finite and >= 0, got {duration_s!r}")
        if not isinstance(external_power, bool | np.bool_):
            raise ValueError(f"external_power must be a bool, got {external_power!r}")
        current = self.config.current_ma(s)
        from_battery = max(0.0, current - self.config.external_max_ma) if external_power else current
        battery_mah = from_battery * duration / SECONDS_PER_HOUR
        external_mah = (current - from_battery) * duration / SECONDS_PER_HOUR
        self._by_state[s] += battery_mah
        self._external_mah += external_mah
        self._time_s[s] += duration
        if s is not DrawState.LED:
            self._self_discharge_mah += self.config.self_discharge_ma * duration / SECONDS_PER_HOUR
            self._elapsed_s += duration

    @property
    def used_mah(self) -> float:
        """Charge taken from the cell: initial, per-state and self-discharge. [mAh]"""
        return self._initial_mah + sum(self._by_state.values()) + self._self_discharge_mah

    @property
    def remaining_mah(self) -> float:
        """Charge left, never below zero. [mAh]"""
        return max(0.0, self.config.capacity_mah - self.used_mah)

    @property
    def fraction_left(self) -> float:
        """Share of the nominal capacity left, in [0, 1]. [1]"""
        return self.remaining_mah / self.config.capacity_mah

    @property
    def low(self) -> bool:
        """``True`` when the share left is below ``config.low_fraction``."""
        return self.fraction_left < self.config.low_fraction

    @property
    def empty(self) -> bool:
        """``True`` when no charge is left."""
        return self.remaining_mah <= 0.0

    @property
    def self_discharge_mah(self) -> float:
        """Charge lost to self-discharge so far. [mAh]"""
        return self._self_discharge_mah

    @property
    def external_mah(self) -> float:
        """Charge the meter's +12 VDC output supplied instead of the cell, on the cell's rail. [mAh]"""
        return self._external_mah

    @property
    def elapsed_s(self) -> float:
        """Time accounted for (the sum of the non-LED spans). [s]"""
        return self._elapsed_s

    def by_state(self) -> dict[str, float]:
        """
        Charge taken from the cell per state, self-discharge excluded.

        Returns
        -------
        dict of str to float
            State value (``"tx"``) to charge. [mAh]
        """
        return {s.value: q for s, q in self._by_state.items()}

    def time_by_state(self) -> dict[str, float]:
        """
        Time spent per state.

        Returns
        -------
        dict of str to float
            State value to time. [s]
        """
        return {s.value: t for s, t in self._time_s.items()}

    def average_current_ma(self) -> float:
        """
        Average current taken from the cell since installation (self-discharge included).

        Returns
        -------
        float
            Charge used since installation over the time accounted for; 0 before any time. [mA]
        """
        if self._elapsed_s <= 0:
            return 0.0
        return (self.used_mah - self._initial_mah) * SECONDS_PER_HOUR / self._elapsed_s

    def life_left_s(self, average_current_ma: float | None = None) -> float:
        """
        Time until the cell is empty at a steady drain.

        Parameters
        ----------
        average_current_ma : float, optional
            Average load current, finite and >= 0; self-discharge is added to it. By default the
            average drain so far (:meth:`average_current_ma`, self-discharge already included). [mA]

        Returns
        -------
        float
            :math:`3600 \\, Q_{left} / I`; ``inf`` when the drain is zero. [s]
        """
        if average_current_ma is None:
            drain = self.average_current_ma()
        else:
            if isinstance(average_current_ma, bool) or not (
                isinstance(average_current_ma, int | float | np.floating | np.integer)
                and math.isfinite(average_current_ma)
                and average_current_ma >= 0
            ):
                raise ValueError(f"average_current_ma must be finite and >= 0, got {average_current_ma!r}")
            drain = float(average_current_ma) + self.config.self_discharge_ma
        if drain <= 0:
            return math.inf
        return self.remaining_mah * SECONDS_PER_HOUR / drain

    def __repr__(self) -> str:
        return (
            f"Battery(used_mah={self.used_mah:.3f}, remaining_mah={self.remaining_mah:.3f}, "
            f"fraction_left={self.fraction_left:.4f}, low={self.low})"
        )
