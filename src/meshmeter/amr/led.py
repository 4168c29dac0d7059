"""Power-up, ON/OFF button and LED of an MDT (manual §5.2, "MDT and Repeater power-up").

A plain state machine, written without SimPy: every method takes the current network time
``now_s`` explicitly [s, seconds since the Unix epoch, UTC]; a scheduler asks
:meth:`DeviceLed.next_deadline` when the next internal transition is due and calls
:meth:`DeviceLed.advance` then. Deterministic; no I/O, no logging.

What the manual says, word by word, and how it is modelled:

* "press and hold the ON/OFF button until the LED flashes off (about four seconds) then release"
  toggles ON/OFF: a hold of at least ``hold_s`` (3.5 s by default) is a toggle. The hold is
  seen at its release (``now_s`` of :meth:`DeviceLed.hold_button` is the release time).
* Turned ON, the device searches: "Slow flash: The device is searching for a signal from Beacons".
* "Rapid Flash: The device has received a signal from a DCAP or a repeater and is in the process of
  joining": :meth:`DeviceLed.beacon_heard`.
* "the LED will stay solid for 10 seconds then turn off, indicating the device is communicating with
  the network": :meth:`DeviceLed.joined`.
* Turned OFF: "The LED will flash twice, indicating the device is OFF".
* A quick press (shorter than ``quick_press_s``, 1 s by default) answers with the state: "Single
  Flash: light sleep", "Double Flash: OFF", "10 second on: connected".
* "If no network is present, the device will continue to flash slowly for 90 seconds then return to
  sleep mode for some time before trying to connect to a signal again": after ``search_s`` (90 s)
  of searching the device sleeps (light sleep, LED off) for a back-off, then searches again.
* "the first pulse will automatically turn on the MDT": :meth:`DeviceLed.first_pulse`.

Where the manual is silent (see ``docs/mdt.md``): slow flash 1 Hz, rapid flash 4 Hz, 50 % duty;
single flash 0.25 s on in a 0.5 s answer; double flash two 0.25 s flashes 0.25 s apart in a 1 s
answer; a quick press while searching or joining is ignored (the LED already shows the state); a
press between ``quick_press_s`` and ``hold_s`` is ignored; a join that does not complete within
``join_timeout_s`` (90 s) counts as a failed attempt, like a search that hears no beacon; the
back-off starts at 5 min and doubles after every further failed attempt up to 1 h, and is reset by a
successful join or by turning the device on.
"""

from __future__ import annotations

import bisect
import math
from enum import Enum
from typing import TypeVar

__all__ = [
    "DOUBLE_FLASH_S",
    "RAPID_FLASH_HZ",
    "SINGLE_FLASH_S",
    "SLOW_FLASH_HZ",
    "SOLID_S",
    "ButtonAction",
    "DeviceLed",
    "LedPattern",
    "PowerState",
]

_K = TypeVar("_K")

SLOW_FLASH_HZ = 1.0
"""Slow flash (searching for beacons): 0.5 s on, 0.5 s off. The manual gives no rate. [Hz]"""

RAPID_FLASH_HZ = 4.0
"""Rapid flash (joining): 0.125 s on, 0.125 s off. The manual gives no rate. [Hz]"""

SOLID_S = 10.0
"""LED solid on joining, and on for a quick-press answer when connected: "10 seconds" (manual §5.2). [s]"""

FLASH_ON_S = 0.25
"""One flash of a single or double flash is lit for this long. [s]"""

SINGLE_FLASH_S = 2 * FLASH_ON_S
"""Length of a single-flash answer: one flash and a dark gap. [s]"""

DOUBLE_FLASH_S = 4 * FLASH_ON_S
"""Length of a double-flash answer: on, off, on, off. [s]"""


class LedPattern(Enum):
    """What the LED shows (manual §5.2, "Power-up LED Indications")."""

    OFF = "off"
    """Dark."""
    SLOW_FLASH = "slow_flash"
    """Searching for beacons from a DCAP or repeaters, :data:`SLOW_FLASH_HZ`."""
    RAPID_FLASH = "rapid_flash"
    """A beacon heard, joining the network, :data:`RAPID_FLASH_HZ`."""
    SOLID = "solid"
    """Joined: on for :data:`SOLID_S`, then off."""
    SINGLE_FLASH = "single_flash"
    """Quick-press answer: the device is in light sleep."""
    DOUBLE_FLASH = "double_flash"
    """The device has been turned OFF, or the quick-press answer: the device is OFF."""
    ON_10S = "on_10s"
    """Quick-press answer: the device is connected ("10 second on"), on for :data:`SOLID_S`."""


class PowerState(Enum):
    """What the device is doing."""

    OFF = "off"
    SEARCHING = "searching"
    JOINING = "joining"
    CONNECTED = "connected"
    LIGHT_SLEEP = "light_sleep"


class ButtonAction(Enum):
    """What a press of the ON/OFF button did."""

    TURNED_ON = "turned_on"
    TURNED_OFF = "turned_off"
    ANSWERED = "answered"
    """A quick press answered with the state (single flash, double flash or 10 s on)."""
    IGNORED = "ignored"


# the pattern a state shows once any timed pattern has ended
_BASE_PATTERN = {
    PowerState.OFF: LedPattern.OFF,
    PowerState.SEARCHING: LedPattern.SLOW_FLASH,
    PowerState.JOINING: LedPattern.RAPID_FLASH,
    PowerState.CONNECTED: LedPattern.OFF,
    PowerState.LIGHT_SLEEP: LedPattern.OFF,
}

_TIMED_S = {
    LedPattern.SOLID: SOLID_S,
    LedPattern.ON_10S: SOLID_S,
    LedPattern.SINGLE_FLASH: SINGLE_FLASH_S,
    LedPattern.DOUBLE_FLASH: DOUBLE_FLASH_S,
}


def _check_duration(name: str, value: float, *, positive: bool = True) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0.0 or (positive and v == 0.0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return v


class DeviceLed:
    """
    The power state and LED of an MDT, with its timeline (manual §5.2).

    Every method that takes ``now_s`` first applies the internal transitions due up to ``now_s``
    (a transition due exactly at ``now_s`` happens before the call's own event), then the event.
    Times must not go backwards.

    Parameters
    ----------
    start_s : float, optional
        Network time at which the timeline starts, the device being OFF. Default: the time of the
        first call. [s]
    hold_s : float, default 3.5
        Shortest hold that toggles ON/OFF; the manual says "about four seconds". [s]
    quick_press_s : float, default 1.0
        A press shorter than this is a quick press, answered with the state. [s]
    search_s : float, default 90.0
        Slow flash for this long without a beacon, then light sleep (manual §5.2). [s]
    join_timeout_s : float, default 90.0
        Rapid flash for this long without completing the join, then light sleep (manual silent). [s]
    sleep_initial_s : float, default 300.0
        First light-sleep back-off after a failed attempt (manual: "some time"). [s]
    sleep_max_s : float, default 3600.0
        Longest back-off. [s]
    sleep_factor : float, default 2.0
        The back-off is multiplied by this after every further failed attempt, >= 1. [1]

    Raises
    ------
    ValueError
        On a non-finite or non-positive duration, ``quick_press_s > hold_s``,
        ``sleep_max_s < sleep_initial_s`` or ``sleep_factor < 1``.
    """

    def __init__(
        self,
        start_s: float | None = None,
        *,
        hold_s: float = 3.5,
        quick_press_s: float = 1.0,
        search_s: float = 90.0,
        join_timeout_s: float = 90.0,
        sleep_initial_s: float = 300.0,
        sleep_max_s: float = 3600.0,
        sleep_factor: float = 2.0,
    ) -> None:
        self.hold_s = _check_duration("hold_s", hold_s)
        self.quick_press_s = _check_duration("quick_press_s", quick_press_s)
        if self.quick_press_s > self.hold_s:
            raise ValueError(f"quick_press_s must be <= hold_s {self.hold_s!r}, got {quick_press_s!r}")
        self.search_s = _check_duration("search_s", search_s)
        self.join_timeout_s = _check_duration("join_timeout_s", join_timeout_s)
        self.sleep_initial_s = _check_duration("sleep_initial_s", sleep_initial_s)
        self.sleep_max_s = _check_duration("sleep_max_s", sleep_max_s)
        if self.sleep_max_s < self.sleep_initial_s:
            raise ValueError(
                f"sleep_max_s must be >= sleep_initial_s {self.sleep_initial_s!r}, got {sleep_max_s!r}"
            )
        factor = float(sleep_factor)
        if not (math.isfinite(factor) and factor >= 1.0):
            raise ValueError(f"sleep_factor must be finite and >= 1, got {sleep_factor!r}")
        self.sleep_factor = factor

        self._start_s: float | None = None
        self._time_s: float | None = None
        if start_s is not None:
            self._start_s = self._time_s = self._check_time(start_s)
        self._state = PowerState.OFF
        self._pattern = LedPattern.OFF
        self._pattern_since_s: float | None = self._start_s
        self._state_until_s: float | None = None  # end of search, join or sleep
        self._pattern_until_s: float | None = None  # end of a timed pattern
        self._failures = 0  # consecutive failed attempts to connect
        self._was_on = False  # on when the supply was lost (power_lost)
        self._sleep_s = 0.0
        self._states: list[tuple[float, PowerState]] = []
        self._patterns: list[tuple[float, LedPattern]] = []

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> PowerState:
        """Power state at the time of the last call."""
        return self._state

    @property
    def pattern(self) -> LedPattern:
        """LED pattern at the time of the last call."""
        return self._pattern

    @property
    def time_s(self) -> float | None:
        """Time of the last call, None before any. [s]"""
        return self._time_s

    @property
    def start_s(self) -> float | None:
        """Start of the timeline, None before any call. [s]"""
        return self._start_s

    @property
    def is_on(self) -> bool:
        """True unless the device is OFF."""
        return self._state is not PowerState.OFF

    @property
    def sleep_s(self) -> float:
        """Length of the current (or last) light-sleep back-off. [s]"""
        return self._sleep_s

    @property
    def failed_attempts(self) -> int:
        """Consecutive attempts to connect that failed since the last join or turn-on. [1]"""
        return self._failures

    @property
    def states(self) -> list[tuple[float, PowerState]]:
        """Every power-state change, ``(time_s, state)`` in time order; OFF before the first. [s]"""
        return list(self._states)

    @property
    def patterns(self) -> list[tuple[float, LedPattern]]:
        """Every LED pattern start, ``(time_s, pattern)`` in time order; OFF before the first. [s]

        A timed pattern (solid, single or double flash, 10 s on) restarted while it shows is
        recorded again.
        """
        return list(self._patterns)

    # ------------------------------------------------------------------ clock

    @staticmethod
    def _check_time(now_s: float) -> float:
        t = float(now_s)
        if not math.isfinite(t):
            raise ValueError(f"now_s must be finite, got {now_s!r}")
        return t

    def next_deadline(self) -> float | None:
        """
        Time of the next internal transition, None when nothing is due.

        Returns
        -------
        deadline_s : float or None
            The earliest of: end of the 90 s search, end of the join timeout, end of the
            light-sleep back-off, end of the solid 10 s, the 10 s on, a single or double flash. [s]
        """
        deadlines = [d for d in (self._state_until_s, self._pattern_until_s) if d is not None]
        return min(deadlines) if deadlines else None

    def advance(self, now_s: float) -> None:
        """
        Apply every internal transition due up to and including ``now_s``.

        Parameters
        ----------
        now_s : float
            Current network time, not before the previous call. [s]

        Raises
        ------
        ValueError
            When ``now_s`` is not finite or goes backwards; nothing changes.
        """
        t = self._check_time(now_s)
        if self._time_s is not None and t < self._time_s:
            raise ValueError(f"now_s must be >= the previous time {self._time_s!r}, got {now_s!r}")
        if self._start_s is None:
            self._start_s = t
            self._pattern_since_s = t
        while True:
            state_due = self._state_until_s
            pattern_due = self._pattern_until_s
            if state_due is not None and state_due <= t and (pattern_due is None or state_due <= pattern_due):
                self._state_timeout(state_due)
            elif pattern_due is not None and pattern_due <= t:
                self._pattern_until_s = None
                self._set_pattern(pattern_due, _BASE_PATTERN[self._state])
            else:
                break
        self._time_s = t

    def _state_timeout(self, at_s: float) -> None:
        if self._state in (PowerState.SEARCHING, PowerState.JOINING):
            self._failures += 1
            self._sleep_s = min(
                self.sleep_initial_s * self.sleep_factor ** (self._failures - 1), self.sleep_max_s
            )
            self._enter(at_s, PowerState.LIGHT_SLEEP)
        elif self._state is PowerState.LIGHT_SLEEP:
            self._enter(at_s, PowerState.SEARCHING)
        else:  # pragma: no cover - no other state has a deadline
            self._state_until_s = None

    def _set_pattern(self, at_s: float, pattern: LedPattern) -> None:
        timed = pattern in _TIMED_S
        if pattern is not self._pattern or timed:
            self._patterns.append((at_s, pattern))
            self._pattern_since_s = at_s
        self._pattern = pattern
        self._pattern_until_s = at_s + _TIMED_S[pattern] if timed else None

    def _enter(self, at_s: float, state: PowerState, pattern: LedPattern | None = None) -> None:
        self._state = state
        self._states.append((at_s, state))
        if state is PowerState.SEARCHING:
            self._state_until_s = at_s + self.search_s
        elif state is PowerState.JOINING:
            self._state_until_s = at_s + self.join_timeout_s
        elif state is PowerState.LIGHT_SLEEP:
            self._state_until_s = at_s + self._sleep_s
        else:
            self._state_until_s = None
        self._set_pattern(at_s, _BASE_PATTERN[state] if pattern is None else pattern)

    def _turn_on(self, at_s: float) -> None:
        self._failures = 0
        self._sleep_s = 0.0
        self._enter(at_s, PowerState.SEARCHING)

    # ------------------------------------------------------------------ events

    def hold_button(self, now_s: float, duration_s: float) -> ButtonAction:
        """
        The ON/OFF button pressed for ``duration_s`` and released at ``now_s`` (manual §5.2).

        Parameters
        ----------
        now_s : float
            Release time, network time. [s]
        duration_s : float
            How long the button was held, >= 0. [s]

        Returns
        -------
        ButtonAction
            ``TURNED_ON`` (hold >= ``hold_s`` while OFF: searching, slow flash);
            ``TURNED_OFF`` (hold >= ``hold_s`` while ON: OFF, the LED flashes twice);
            ``ANSWERED`` (press < ``quick_press_s`` in light sleep: single flash; OFF: double flash;
            connected: 10 s on); ``IGNORED`` (a quick press while searching or joining, whose
            LED already shows the state, or a press between ``quick_press_s`` and ``hold_s``).

        Raises
        ------
        ValueError
            On a non-finite time or duration, a negative duration or a time going backwards;
            nothing changes.
        """
        d = float(duration_s)
        if not (math.isfinite(d) and d >= 0.0):
            raise ValueError(f"duration_s must be finite and >= 0, got {duration_s!r}")
        self.advance(now_s)
        t = float(now_s)
        if d >= self.hold_s:
            if self._state is PowerState.OFF:
                self._turn_on(t)
                return ButtonAction.TURNED_ON
            self._enter(t, PowerState.OFF, LedPattern.DOUBLE_FLASH)
            return ButtonAction.TURNED_OFF
        if d < self.quick_press_s:
            answer = {
                PowerState.OFF: LedPattern.DOUBLE_FLASH,
                PowerState.LIGHT_SLEEP: LedPattern.SINGLE_FLASH,
                PowerState.CONNECTED: LedPattern.ON_10S,
            }.get(self._state)
            if answer is not None:
                self._set_pattern(t, answer)
                return ButtonAction.ANSWERED
        return ButtonAction.IGNORED

    def first_pulse(self, now_s: float) -> bool:
        """
        The meter's first pulse: "the first pulse will automatically turn on the MDT" (manual §5.2).

        Parameters
        ----------
        now_s : float
            Network time of the pulse. [s]

        Returns
        -------
        turned_on : bool
            True when the device was OFF and is now searching (slow flash).
        """
        self.advance(now_s)
        if self._state is not PowerState.OFF:
            return False
        self._turn_on(float(now_s))
        return True

    def beacon_heard(self, now_s: float) -> bool:
        """
        A beacon from the DCAP or a joined repeater heard: searching → joining, rapid flash.

        Parameters
        ----------
        now_s : float
            Network time. [s]

        Returns
        -------
        changed : bool
            True when the device was searching. A device OFF or in light sleep hears nothing;
            joining or connected, a beacon changes nothing.
        """
        self.advance(now_s)
        if self._state is not PowerState.SEARCHING:
            return False
        self._enter(float(now_s), PowerState.JOINING)
        return True

    def joined(self, now_s: float) -> bool:
        """
        The join completed: connected, LED solid for 10 s then off (manual §5.2).

        Parameters
        ----------
        now_s : float
            Network time. [s]

        Returns
        -------
        changed : bool
            True when the device was joining (or searching: beacon and join in one step).
            OFF, in light sleep or already connected, nothing changes.
        """
        self.advance(now_s)
        if self._state not in (PowerState.SEARCHING, PowerState.JOINING):
            return False
        self._failures = 0
        self._enter(float(now_s), PowerState.CONNECTED, LedPattern.SOLID)
        return True

    def power_lost(self, now_s: float) -> bool:
        """
        The device's supply gone (a mains repeater's power cut): dark, OFF, with no double flash.

        Unlike turning the device off with the button, this remembers that it was on, so that
        :meth:`power_restored` starts it searching again.

        Parameters
        ----------
        now_s : float
            Network time. [s]

        Returns
        -------
        changed : bool
            True when the device was on.
        """
        self.advance(now_s)
        self._was_on = self._state is not PowerState.OFF
        if not self._was_on:
            return False
        self._enter(float(now_s), PowerState.OFF, LedPattern.OFF)
        return True

    def power_restored(self, now_s: float) -> bool:
        """
        The supply back: a device that was on when it lost power starts searching (slow flash).

        Parameters
        ----------
        now_s : float
            Network time. [s]

        Returns
        -------
        changed : bool
            True when the device turned on again.
        """
        self.advance(now_s)
        if self._state is not PowerState.OFF or not self._was_on:
            return False
        self._was_on = False
        self._failures = 0
        self._turn_on(float(now_s))
        return True

    def lost_network(self, now_s: float) -> bool:
        """
        The network lost (parent gone, join refused): search again, slow flash, a new 90 s window.

        Parameters
        ----------
        now_s : float
            Network time. [s]

        Returns
        -------
        changed : bool
            True when the device was connected or joining.
        """
        self.advance(now_s)
        if self._state not in (PowerState.CONNECTED, PowerState.JOINING):
            return False
        self._enter(float(now_s), PowerState.SEARCHING)
        return True

    # ------------------------------------------------------------------ timeline

    def state_at(self, time_s: float) -> PowerState:
        """Power state at ``time_s`` from the timeline (a change at ``time_s`` counts). [s]"""
        i = bisect.bisect_right(self._states, float(time_s), key=lambda c: c[0])
        return self._states[i - 1][1] if i else PowerState.OFF

    def pattern_at(self, time_s: float) -> LedPattern:
        """LED pattern at ``time_s`` from the timeline (a change at ``time_s`` counts). [s]"""
        i = bisect.bisect_right(self._patterns, float(time_s), key=lambda c: c[0])
        return self._patterns[i - 1][1] if i else LedPattern.OFF

    def lit_at(self, time_s: float) -> bool:
        """
        Whether the LED is lit at ``time_s``, from the pattern and the time it started. [s]

        Slow flash 1 Hz and rapid flash 4 Hz, each lit for the first half of its period from
        the pattern's start; a single flash lit for 0.25 s; a double flash lit 0.25 s, dark
        0.25 s, lit 0.25 s; solid and 10 s on lit throughout.
        """
        t = float(time_s)
        i = bisect.bisect_right(self._patterns, t, key=lambda c: c[0])
        if not i:
            return False
        since, pattern = self._patterns[i - 1]
        dt = t - since
        if pattern is LedPattern.OFF:
            return False
        if pattern in (LedPattern.SOLID, LedPattern.ON_10S):
            return True
        if pattern is LedPattern.SLOW_FLASH:
            return (dt * SLOW_FLASH_HZ) % 1.0 < 0.5
        if pattern is LedPattern.RAPID_FLASH:
            return (dt * RAPID_FLASH_HZ) % 1.0 < 0.5
        if pattern is LedPattern.SINGLE_FLASH:
            return dt < FLASH_ON_S
        return dt < FLASH_ON_S or 2 * FLASH_ON_S <= dt < 3 * FLASH_ON_S  # DOUBLE_FLASH

    def time_in_state(self, until_s: float | None = None) -> dict[PowerState, float]:
        """
        Time spent in each power state from the start of the timeline (for the battery model).

        Parameters
        ----------
        until_s : float, optional
            End of the account, within the timeline; default the time of the last call. Call
            :meth:`advance` first to account up to a later time. [s]

        Returns
        -------
        totals : dict of PowerState to float
            Every state, zero where never entered. [s]
        """
        return _totals(self._states, PowerState.OFF, list(PowerState), self._start_s, self._until(until_s))

    def time_in_pattern(self, until_s: float | None = None) -> dict[LedPattern, float]:
        """Time the LED spent in each pattern, as :meth:`time_in_state` (for the battery model). [s]"""
        return _totals(self._patterns, LedPattern.OFF, list(LedPattern), self._start_s, self._until(until_s))

    def _until(self, until_s: float | None) -> float | None:
        if until_s is None:
            return self._time_s
        u = self._check_time(until_s)
        if self._start_s is None or self._time_s is None or not self._start_s <= u <= self._time_s:
            raise ValueError(
                f"until_s must lie in the timeline [{self._start_s!r}, {self._time_s!r}], got {until_s!r}"
            )
        return u


def _totals(
    changes: list[tuple[float, _K]], initial: _K, keys: list[_K], start_s: float | None, until_s: float | None
) -> dict[_K, float]:
    totals = dict.fromkeys(keys, 0.0)
    if start_s is None or until_s is None:
        return totals
    t, current = start_s, initial
    for at, value in changes:
        if at >= until_s:
            break
        totals[current] += at - t
        t, current = at, value
    totals[current] += until_s - t
    return totals
