"""Installation diagnostics from what the meter measures (manual §4.5, §4.7, §7).

An installer checks a new Mini Meter by looking at the LCD (supply present, reverse phase
indication) and at the load LED (cycling at 50 % duty under a sufficient load), and, where that
fails, by the troubleshooting list of manual §7. The twin and the head-end know more than the LEDs
show: per element, the RMS voltage and current and their phasor angles. :func:`diagnose` turns those
into findings, each with the manual's own remedy.

Phase rule
----------
For each element :math:`k` (with voltage present and enough current for its angle to mean
something) four wirings are tested, each by the deviation of the measured current phasor from the
voltage phasor that wiring would put it near:

========================  =============================  ===================================
wiring                    reference phasor               deviation
========================  =============================  ===================================
correct                   own voltage :math:`V_k`        :math:`|\\varphi_{kk}|`
CT reversed               :math:`-V_k`                   :math:`|\\varphi_{kk} - 180°|`
CT on the other line      :math:`V_j`                    :math:`|\\varphi_{kj}|`
other line, reversed      :math:`-V_j`                   :math:`|\\varphi_{kj} - 180°|`
========================  =============================  ===================================

with :math:`\\varphi_{kj} = \\mathrm{wrap}(\\theta_{V_j} - \\theta_{I_k})` in (-180°, 180°] (the
angle by which the current lags voltage :math:`j`, docs/conventions.md). The meter is rated for
power factors 0.5 to 1.0, leading or lagging (manual §3.1), so a load current lies within
:math:`w = \\arccos(0.5) + \\text{margin} = 60° + 5°` of its reference.

1. **Correct wiring is the null hypothesis.** If :math:`|\\varphi_{kk}| \\le w` the element is
   healthy, whatever the other hypotheses say. On a 120/208 V network the other line's voltage is
   only 120° away, so a correctly wired 0.5 PF lagging load sits 60° from both :math:`V_1` and
   :math:`V_2`; preferring the correct wiring is what keeps such loads from being flagged.
2. Otherwise the hypothesis of least deviation wins, if that deviation is within :math:`w`; every
   hypothesis within ``ambiguity_deg`` of the best one (and within :math:`w`) is kept as equally
   plausible. If none is within :math:`w` the angle is unexplained
   (``POWER_FACTOR_OUT_OF_RANGE``: a load outside the meter's PF range, or a wiring fault the
   rule cannot name).
3. On a 120/240 V split-phase service :math:`V_2 = -V_1`, so "CT reversed" and "CT on the other
   leg" are the same phasor and always tie. If **both** elements fit the other line (alone or tied
   with reversal), the pair is reported as ``CTS_SWAPPED`` (on a split-phase service this cannot be
   told apart from both CTs reversed; the message says so). If only one does, that element is
   reported ``CT_REVERSED`` when reversal is among its plausible wirings (the message notes the
   other leg when that ties), else ``CT_WRONG_PHASE``; "other line, reversed" adds ``CT_REVERSED``.

What cannot be seen: a fault whose current lands inside the healthy window. On a split-phase
service a CT on the wrong leg *and* reversed looks exactly like a healthy one; on a 120/208 V
network a CT on the wrong phase with a leading load can too. Neither phasors nor power tell them
apart; only the installer's eyes and the colour coding do (manual §7 FAQ).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import Enum, StrEnum

__all__ = [
    "DEFAULT_LIMITS",
    "LOAD_LED_KT_WH",
    "DiagnosticLimits",
    "ElementMeasurement",
    "Finding",
    "FindingCode",
    "Severity",
    "diagnose",
    "load_led_half_period_s",
    "phase_angle_deg",
    "reverse_phase_indicated",
    "wrap_angle_deg",
]

LOAD_LED_KT_WH = 10.0
"""Test constant of the load LED, Kt: 5 Wh on, 5 Wh off (certificate p.2, manual Table 3). [Wh]"""

_ELEMENTS = (1, 2)

_REMEDY_CT_ORIENTATION = (
    "Verify CT connections and orientations: the LINE side of the CT must face the incoming line; "
    "white lead to X2, coloured lead to X1 (manual §4.5.1, §7)"
)
_REMEDY_PHASING = (
    "Make sure that current and voltage connections are in phase: CT1 on Line 1, CT2 on Line 2; "
    "the colour coding helps keep the phasing (manual §4.5.1, §7)"
)
_REMEDY_VOLTAGE = (
    "Test the voltage being supplied to the meter using an AC voltmeter; L1 or L2 to neutral must be "
    "102–138 V (manual §3.1, §4.7, §7)"
)
_REMEDY_CONNECTIONS = (
    "Make sure all connections are wired properly; check power connections and fuses; with power off, "
    "remove any additional line fuses and test with an ohmmeter (manual §4.4, §7)"
)
_REMEDY_LOAD = "Make sure there is sufficient load to draw the required current (manual §4.7, §7)"
_REMEDY_FREQUENCY = "The meter is rated for a line frequency of 50–60 Hz; check the supply (manual §3.1)"
_REMEDY_POWER_FACTOR = (
    "Verify CT connections and orientations and make sure that current and voltage connections are in "
    "phase; the meter's power factor range is 0.5 to 1.0, leading or lagging (manual §3.1, §4.5.1, §7)"
)


class Severity(StrEnum):
    """How much a finding matters: ``"error"`` (readings wrong or absent), ``"warning"`` (probably
    wrong, or outside ratings), ``"info"`` (nothing wrong, but a check cannot be made)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class FindingCode(StrEnum):
    """What a finding is about (manual §4.5, §4.7, §7)."""

    CT_REVERSED = "ct_reversed"
    """The CT faces the wrong way or its leads are swapped: current ~180° from its voltage."""
    CT_WRONG_PHASE = "ct_wrong_phase"
    """The CT is on the other line than its element's voltage."""
    CTS_SWAPPED = "cts_swapped"
    """CT1 is on Line 2 and CT2 on Line 1 (element ``None``: the pair)."""
    VOLTAGE_LOW = "voltage_low"
    """Voltage present but below the supply range (102 V, manual §3.1)."""
    VOLTAGE_HIGH = "voltage_high"
    """Voltage above the supply range (138 V, manual §3.1)."""
    VOLTAGE_MISSING = "voltage_missing"
    """No voltage on the element: the voltage input is not connected (or its fuse is open)."""
    CT_NOT_CONNECTED = "ct_not_connected"
    """Voltage present but no current while the other element carries current, or the CT flagged open."""
    NO_LOAD = "no_load"
    """No element carries current: the load LED keeps its state (certificate p.2)."""
    LOAD_TOO_LOW_FOR_LED_CHECK = "load_too_low_for_led_check"
    """The load is too small for the load LED to change state within a reasonable time."""
    POWER_FACTOR_OUT_OF_RANGE = "power_factor_out_of_range"
    """The current fits no wiring within the meter's 0.5–1.0 power factor range."""
    FREQUENCY_OUT_OF_RANGE = "frequency_out_of_range"
    """Line frequency outside 50–60 Hz and its tolerance (manual §3.1)."""


def _require_finite(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


@dataclass(frozen=True)
class ElementMeasurement:
    """
    What one meter element measures (manual §3.2, Table 2A).

    Parameters
    ----------
    element : int
        Element number: 1 (L1, CT1) or 2 (L2, CT2).
    voltage_v : float
        RMS voltage of the element's line to neutral, >= 0. [V]
    voltage_angle_deg : float
        Phasor angle of this element's voltage, counter-clockwise from the L1 voltage: 0 for L1,
        180 for L2 of a 120/240 V split-phase service, ±120 for L2 of a 120/208 V network. [deg]
    current_a : float
        Primary RMS current through the element's CT, >= 0. [A]
    current_angle_deg : float
        Phasor angle of the element's current, counter-clockwise from the L1 voltage. [deg]
    power_w : float
        Measured active power, signed: positive from line to load (docs/conventions.md). [W]
    ct_open : bool
        The meter flags the CT input as open circuit, where it can tell. Default False.
    """

    element: int
    voltage_v: float
    voltage_angle_deg: float
    current_a: float
    current_angle_deg: float
    power_w: float
    ct_open: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.element, bool) or self.element not in _ELEMENTS:
            raise ValueError(f"element must be 1 or 2, got {self.element!r}")
        for name in ("voltage_v", "voltage_angle_deg", "current_a", "current_angle_deg", "power_w"):
            _require_finite(name, getattr(self, name))
        if self.voltage_v < 0:
            raise ValueError(f"voltage_v must be >= 0, got {self.voltage_v!r}")
        if self.current_a < 0:
            raise ValueError(f"current_a must be >= 0, got {self.current_a!r}")
        if not isinstance(self.ct_open, bool):
            raise ValueError(f"ct_open must be a bool, got {self.ct_open!r}")


@dataclass(frozen=True)
class DiagnosticLimits:
    """
    Thresholds of :func:`diagnose`.

    Parameters
    ----------
    min_supply_voltage_v : float
        Lowest supply voltage, L1 or L2 to neutral (manual §3.1). Default 102. [V]
    max_supply_voltage_v : float
        Highest supply voltage, L1 or L2 to neutral (manual §3.1). Default 138. [V]
    voltage_present_v : float
        Below this an element has no voltage: its voltage input is not connected. Default 20. [V]
    no_load_current_a : float
        Below this an element carries no current. Default 0.02 (0.01 % of the 200 A rating). [A]
    phase_check_min_current_a : float
        Below this the current's angle is not trusted and the phase rule is skipped for the element.
        Default 0.5; the accuracy range starts at 2 A (manual §3.1). [A]
    led_check_min_power_w : float
        Below this net active power the load LED is too slow to check. Default 180: at 200 W the LED
        is 1.5 minutes on, 1.5 minutes off (manual Table 3), i.e. a 90 s half-period, about as long as
        an installer will watch it; 10 % below that reference load, so that the reference load itself
        (read a little low through a CT at 1 % of its rating) is not flagged. [W]
    max_phase_deg : float
        Largest angle between a load's current and voltage within the meter's rated power factor
        range 0.5–1.0, leading or lagging (manual §3.1): arccos(0.5) = 60. [deg]
    phase_margin_deg : float
        Added to ``max_phase_deg`` for measurement error and CT phase displacement. Default 5;
        ``max_phase_deg + phase_margin_deg`` must stay below 90. [deg]
    ambiguity_deg : float
        Wirings whose deviations are within this of the best one are equally plausible. Default 10:
        on a split-phase service L2 is 180° ± a few degrees from L1. [deg]
    reverse_power_w : float
        An element whose power is below ``-reverse_power_w`` lights the reverse phase indication
        (manual §3.2, §7). Default 1. [W]
    min_frequency_hz, max_frequency_hz : float
        Line frequency range: the rated 50–60 Hz (manual §3.1) with ±5 % tolerance, 47.5–63. [Hz]
    """

    min_supply_voltage_v: float = 102.0
    max_supply_voltage_v: float = 138.0
    voltage_present_v: float = 20.0
    no_load_current_a: float = 0.02
    phase_check_min_current_a: float = 0.5
    led_check_min_power_w: float = 180.0
    max_phase_deg: float = 60.0
    phase_margin_deg: float = 5.0
    ambiguity_deg: float = 10.0
    reverse_power_w: float = 1.0
    min_frequency_hz: float = 47.5
    max_frequency_hz: float = 63.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            _require_finite(f.name, value)
            if value < 0:
                raise ValueError(f"{f.name} must be >= 0, got {value!r}")
        if not 0 < self.voltage_present_v < self.min_supply_voltage_v < self.max_supply_voltage_v:
            raise ValueError(
                "need 0 < voltage_present_v < min_supply_voltage_v < max_supply_voltage_v, got "
                f"{self.voltage_present_v!r}, {self.min_supply_voltage_v!r}, {self.max_supply_voltage_v!r}"
            )
        if self.phase_check_min_current_a < self.no_load_current_a:
            raise ValueError(
                f"phase_check_min_current_a must be >= no_load_current_a ({self.no_load_current_a!r}), "
                f"got {self.phase_check_min_current_a!r}"
            )
        if self.led_check_min_power_w <= 0:
            raise ValueError(f"led_check_min_power_w must be > 0, got {self.led_check_min_power_w!r}")
        if not 0 < self.max_phase_deg + self.phase_margin_deg < 90:
            raise ValueError(
                "max_phase_deg + phase_margin_deg must lie in (0, 90), got "
                f"max_phase_deg={self.max_phase_deg!r}, phase_margin_deg={self.phase_margin_deg!r}"
            )
        if not 0 < self.min_frequency_hz < self.max_frequency_hz:
            raise ValueError(
                "need 0 < min_frequency_hz < max_frequency_hz, got "
                f"{self.min_frequency_hz!r}, {self.max_frequency_hz!r}"
            )

    @property
    def phase_window_deg(self) -> float:
        """Half-width of the window around a reference phasor, ``max_phase_deg + phase_margin_deg``. [deg]"""
        return self.max_phase_deg + self.phase_margin_deg


DEFAULT_LIMITS = DiagnosticLimits()
"""The default thresholds, documented on :class:`DiagnosticLimits`."""


@dataclass(frozen=True)
class Finding:
    """
    One thing :func:`diagnose` found.

    Parameters
    ----------
    code : FindingCode
        What it is about.
    element : int or None
        The element (1 or 2) it concerns; ``None`` for the meter as a whole or the pair of CTs.
    severity : Severity
        ``"error"``, ``"warning"`` or ``"info"``.
    message : str
        What was seen, with the numbers.
    remedy : str
        What to do, in the manual's words, with the clause.
    """

    code: FindingCode
    element: int | None
    severity: Severity
    message: str
    remedy: str


def wrap_angle_deg(angle_deg: float) -> float:
    """
    Wrap an angle to (-180, 180].

    Parameters
    ----------
    angle_deg : float
        Any finite angle. [deg]

    Returns
    -------
    float
        The same direction in (-180, 180]. [deg]
    """
    _require_finite("angle_deg", angle_deg)
    wrapped = math.fmod(float(angle_deg), 360.0)
    if wrapped <= -180.0:
        wrapped += 360.0
    elif wrapped > 180.0:
        wrapped -= 360.0
    return wrapped


def phase_angle_deg(voltage_angle_deg: float, current_angle_deg: float) -> float:
    """
    Angle by which a current lags a voltage (docs/conventions.md, "Signs").

    Parameters
    ----------
    voltage_angle_deg : float
        Phasor angle of the voltage. [deg]
    current_angle_deg : float
        Phasor angle of the current. [deg]

    Returns
    -------
    float
        ``voltage_angle_deg - current_angle_deg`` wrapped to (-180, 180]: positive for a lagging
        load, negative for a leading one, near ±180 for a reversed CT. [deg]
    """
    return wrap_angle_deg(voltage_angle_deg - current_angle_deg)


def load_led_half_period_s(power_w: float, *, kt_wh: float = LOAD_LED_KT_WH) -> float:
    """
    Time the load LED stays in one state at a constant power (certificate p.2, manual Table 3).

    Parameters
    ----------
    power_w : float
        Registered active power, >= 0. [W]
    kt_wh : float
        LED constant, energy of one on-and-off cycle; 10 Wh on the Mini Meter. [Wh]

    Returns
    -------
    float
        Half-period, ``(kt_wh / 2) * 3600 / power_w``; ``inf`` at zero power (the LED keeps its
        state). [s]

    Notes
    -----
    At 200 W: 5 Wh · 3600 s/h / 200 W = 90 s, the "1.5 minutes on, 1.5 minutes off" of manual
    Table 3.
    """
    _require_finite("power_w", power_w)
    _require_finite("kt_wh", kt_wh)
    if power_w < 0:
        raise ValueError(f"power_w must be >= 0, got {power_w!r}")
    if kt_wh <= 0:
        raise ValueError(f"kt_wh must be > 0, got {kt_wh!r}")
    if power_w == 0:
        return math.inf
    return kt_wh / 2.0 * 3600.0 / power_w


def reverse_phase_indicated(
    measurements: Sequence[ElementMeasurement], *, limits: DiagnosticLimits = DEFAULT_LIMITS
) -> bool:
    """
    Whether the LCD shows the reverse phase indication (manual §3.2, §7).

    Parameters
    ----------
    measurements : sequence of ElementMeasurement
        The elements' measurements.
    limits : DiagnosticLimits
        ``limits.reverse_power_w`` is the threshold. [W]

    Returns
    -------
    bool
        True if any element's active power is below ``-limits.reverse_power_w``: a reversed CT (or a
        CT on the other leg of a split-phase service) makes its element's power negative
        (docs/conventions.md, "Signs").
    """
    for m in measurements:
        if not isinstance(m, ElementMeasurement):
            raise ValueError(f"measurements must hold ElementMeasurement, got {m!r}")
    return any(m.power_w < -limits.reverse_power_w for m in measurements)


class _Wiring(Enum):
    CORRECT = "correct"
    REVERSED = "reversed"
    OTHER_LINE = "other line"
    OTHER_LINE_REVERSED = "other line, reversed"


_ON_OTHER = frozenset({_Wiring.OTHER_LINE, _Wiring.OTHER_LINE_REVERSED})


@dataclass(frozen=True)
class _PhaseVerdict:
    """The phase rule's verdict for one element; ``plausible`` empty means unexplained."""

    phase_deg: float
    deviations: dict[_Wiring, float]
    plausible: frozenset[_Wiring]

    @property
    def on_other(self) -> bool:
        return bool(self.plausible & _ON_OTHER)


def _assess_phase(
    m: ElementMeasurement, other: ElementMeasurement | None, limits: DiagnosticLimits
) -> _PhaseVerdict | None:
    """Apply the phase rule of the module docstring; None when the element is healthy."""
    window = limits.phase_window_deg
    phase = phase_angle_deg(m.voltage_angle_deg, m.current_angle_deg)
    deviations = {
        _Wiring.CORRECT: abs(phase),
        _Wiring.REVERSED: abs(wrap_angle_deg(phase - 180.0)),
    }
    if deviations[_Wiring.CORRECT] <= window:
        return None
    if other is not None:
        cross = phase_angle_deg(other.voltage_angle_deg, m.current_angle_deg)
        deviations[_Wiring.OTHER_LINE] = abs(cross)
        deviations[_Wiring.OTHER_LINE_REVERSED] = abs(wrap_angle_deg(cross - 180.0))
    candidates = {w: d for w, d in deviations.items() if w is not _Wiring.CORRECT}
    best = min(candidates.values())
    plausible = frozenset(
        w for w, d in candidates.items() if d <= window and d <= best + limits.ambiguity_deg
    )
    return _PhaseVerdict(phase_deg=phase, deviations=deviations, plausible=plausible)


def _describe(m: ElementMeasurement) -> str:
    return (
        f"element {m.element}: voltage {m.voltage_v:.1f} V at {m.voltage_angle_deg:.1f}°, "
        f"current {m.current_a:.2f} A at {m.current_angle_deg:.1f}°, power {m.power_w:.1f} W"
    )


def _phase_findings(
    active: dict[int, ElementMeasurement], elements: int, limits: DiagnosticLimits
) -> list[Finding]:
    """Findings of the phase rule for the elements whose angles can be trusted."""
    checkable = {
        k: m
        for k, m in active.items()
        if m.voltage_v >= limits.voltage_present_v and m.current_a >= limits.phase_check_min_current_a
    }
    verdicts: dict[int, _PhaseVerdict] = {}
    for k, m in checkable.items():
        other_k = 3 - k
        other = active.get(other_k) if elements == 2 else None
        if other is not None and other.voltage_v < limits.voltage_present_v:
            other = None
        verdict = _assess_phase(m, other, limits)
        if verdict is not None:
            verdicts[k] = verdict

    findings: list[Finding] = []
    window = limits.phase_window_deg
    swapped = len(verdicts) == 2 and all(v.on_other for v in verdicts.values())
    if swapped:
        both_reversed_too = all(_Wiring.REVERSED in v.plausible for v in verdicts.values())
        note = (
            "; on a 120/240 V split-phase service this looks the same as both CTs reversed"
            if both_reversed_too
            else ""
        )
        detail = "; ".join(
            f"{_describe(active[k])}, lagging its own voltage by {verdicts[k].phase_deg:.1f}° "
            f"and the other line's voltage by "
            f"{phase_angle_deg(active[3 - k].voltage_angle_deg, active[k].current_angle_deg):.1f}°"
            for k in sorted(verdicts)
        )
        remedy = f"{_REMEDY_PHASING}. {_REMEDY_CT_ORIENTATION}" if both_reversed_too else _REMEDY_PHASING
        findings.append(
            Finding(
                FindingCode.CTS_SWAPPED,
                None,
                Severity.ERROR,
                f"each CT's current fits the other element's voltage: CT1 and CT2 appear swapped{note} "
                f"({detail})",
                remedy,
            )
        )

    for k in sorted(verdicts):
        v = verdicts[k]
        m = active[k]
        seen = f"{_describe(m)}; the current lags its voltage by {v.phase_deg:.1f}°"
        if not v.plausible:
            findings.append(
                Finding(
                    FindingCode.POWER_FACTOR_OUT_OF_RANGE,
                    k,
                    Severity.WARNING,
                    f"{seen}, power factor {math.cos(math.radians(v.phase_deg)):.2f}: outside the rated "
                    f"0.5–1.0 and within {window:.0f}° of no wiring (correct, reversed or other line)",
                    _REMEDY_POWER_FACTOR,
                )
            )
            continue
        other_line = f"Line {3 - k}"
        only_other_reversed = _Wiring.OTHER_LINE_REVERSED in v.plausible and not (
            v.plausible & {_Wiring.OTHER_LINE, _Wiring.REVERSED}
        )
        if swapped:
            if only_other_reversed:
                findings.append(
                    Finding(
                        FindingCode.CT_REVERSED,
                        k,
                        Severity.ERROR,
                        f"{seen}; besides being on {other_line}, CT{k} is reversed "
                        f"(within {v.deviations[_Wiring.OTHER_LINE_REVERSED]:.1f}° of the reversed "
                        f"{other_line} voltage)",
                        _REMEDY_CT_ORIENTATION,
                    )
                )
            continue
        if _Wiring.REVERSED in v.plausible:
            also = ""
            if v.on_other:
                also = f"; it fits the {other_line} voltage as well: CT{k} may instead be on {other_line}" + (
                    " (and reversed)" if _Wiring.OTHER_LINE_REVERSED in v.plausible else ""
                )
            findings.append(
                Finding(
                    FindingCode.CT_REVERSED,
                    k,
                    Severity.ERROR,
                    f"{seen}, within {v.deviations[_Wiring.REVERSED]:.1f}° of the reversed voltage: "
                    f"CT{k} appears reversed{also}",
                    f"{_REMEDY_CT_ORIENTATION}. {_REMEDY_PHASING}" if also else _REMEDY_CT_ORIENTATION,
                )
            )
            continue
        wiring = _Wiring.OTHER_LINE if _Wiring.OTHER_LINE in v.plausible else _Wiring.OTHER_LINE_REVERSED
        reversed_too = wiring is _Wiring.OTHER_LINE_REVERSED
        findings.append(
            Finding(
                FindingCode.CT_WRONG_PHASE,
                k,
                Severity.ERROR,
                f"{seen}, but within {v.deviations[wiring]:.1f}° of the "
                f"{'reversed ' if reversed_too else ''}{other_line} voltage: CT{k} appears to be on "
                f"{other_line}",
                _REMEDY_PHASING,
            )
        )
        if reversed_too:
            findings.append(
                Finding(
                    FindingCode.CT_REVERSED,
                    k,
                    Severity.ERROR,
                    f"{seen}; besides being on {other_line}, CT{k} is reversed",
                    _REMEDY_CT_ORIENTATION,
                )
            )
    return findings


def _check_inputs(
    measurements: Sequence[ElementMeasurement], elements: int, frequency_hz: float | None
) -> dict[int, ElementMeasurement]:
    if isinstance(elements, bool) or elements not in _ELEMENTS:
        raise ValueError(f"elements must be 1 or 2, got {elements!r}")
    by_element: dict[int, ElementMeasurement] = {}
    for m in measurements:
        if not isinstance(m, ElementMeasurement):
            raise ValueError(f"measurements must hold ElementMeasurement, got {m!r}")
        if m.element in by_element:
            raise ValueError(f"measurements: element {m.element} appears more than once")
        by_element[m.element] = m
    missing = [k for k in range(1, elements + 1) if k not in by_element]
    if missing:
        raise ValueError(f"measurements: element(s) {missing} missing for elements={elements}")
    if frequency_hz is not None:
        _require_finite("frequency_hz", frequency_hz)
        if frequency_hz <= 0:
            raise ValueError(f"frequency_hz must be > 0, got {frequency_hz!r}")
    return {k: by_element[k] for k in range(1, elements + 1)}


def diagnose(
    measurements: Sequence[ElementMeasurement],
    *,
    elements: int,
    frequency_hz: float | None = None,
    limits: DiagnosticLimits = DEFAULT_LIMITS,
) -> list[Finding]:
    """
    Diagnose an installation from what the meter measures (manual §4.5, §4.7, §7).

    Parameters
    ----------
    measurements : sequence of ElementMeasurement
        One measurement per element, elements 1 to ``elements`` each exactly once. With
        ``elements=1`` a measurement of element 2, if given, is ignored.
    elements : int
        1 for a single-element (2-wire) meter, 2 for a dual-element (3-wire) one (certificate p.1).
    frequency_hz : float, optional
        Measured line frequency; checked against the limits when given. [Hz]
    limits : DiagnosticLimits
        Thresholds; :data:`DEFAULT_LIMITS` by default.

    Returns
    -------
    list of Finding
        In this order: frequency; per element, voltage (``VOLTAGE_MISSING``, ``VOLTAGE_LOW``,
        ``VOLTAGE_HIGH``); per element, ``CT_NOT_CONNECTED``; phase findings (``CTS_SWAPPED``, then
        per element ``POWER_FACTOR_OUT_OF_RANGE``, ``CT_REVERSED``, ``CT_WRONG_PHASE``); the load
        (``NO_LOAD`` or ``LOAD_TOO_LOW_FOR_LED_CHECK``). Empty for a healthy installation.

    Raises
    ------
    ValueError
        ``elements`` not 1 or 2; an element duplicated or missing; a bad ``frequency_hz``.

    Notes
    -----
    - Voltage: below ``voltage_present_v`` the element is not connected (``VOLTAGE_MISSING``,
      error); otherwise it must lie in 102–138 V (manual §3.1). If no element has voltage the meter
      is not powered (LCD not illuminated, manual §7) and nothing else is judged.
    - Current: if every element carries less than ``no_load_current_a`` there is no load
      (``NO_LOAD``, info: the load LED keeps its state, certificate p.2). Otherwise an element
      with voltage and no current gets ``CT_NOT_CONNECTED`` as a warning (it may also be a load on
      the other line only); a CT flagged open is an error.
    - Phase: the rule of the module docstring, for elements with voltage and at least
      ``phase_check_min_current_a``.
    - LED: when the load, the sum of the elements' :math:`|P_k|`, is below ``led_check_min_power_w``,
      the load LED changes state only every :math:`5\\,\\mathrm{Wh} \\cdot 3600 / P` seconds, with
      :math:`P` the net active power, or never if :math:`P \\le 0` (``LOAD_TOO_LOW_FOR_LED_CHECK``,
      info; manual §4.7, Table 3). A large load that a reversed CT makes register negative is
      reported by the phase findings, not as too low a load.
    """
    active = _check_inputs(measurements, elements, frequency_hz)
    findings: list[Finding] = []

    if frequency_hz is not None and not (limits.min_frequency_hz <= frequency_hz <= limits.max_frequency_hz):
        findings.append(
            Finding(
                FindingCode.FREQUENCY_OUT_OF_RANGE,
                None,
                Severity.ERROR,
                f"line frequency {frequency_hz:.2f} Hz is outside "
                f"{limits.min_frequency_hz:g}–{limits.max_frequency_hz:g} Hz",
                _REMEDY_FREQUENCY,
            )
        )

    for k, m in active.items():
        if m.voltage_v < limits.voltage_present_v:
            findings.append(
                Finding(
                    FindingCode.VOLTAGE_MISSING,
                    k,
                    Severity.ERROR,
                    f"element {k}: voltage L{k} to neutral is {m.voltage_v:.1f} V, below "
                    f"{limits.voltage_present_v:g} V: L{k} is not connected",
                    f"{_REMEDY_CONNECTIONS}. {_REMEDY_VOLTAGE}",
                )
            )
        elif m.voltage_v < limits.min_supply_voltage_v:
            findings.append(
                Finding(
                    FindingCode.VOLTAGE_LOW,
                    k,
                    Severity.ERROR,
                    f"element {k}: voltage L{k} to neutral is {m.voltage_v:.1f} V, below the "
                    f"{limits.min_supply_voltage_v:g} V minimum",
                    _REMEDY_VOLTAGE,
                )
            )
        elif m.voltage_v > limits.max_supply_voltage_v:
            findings.append(
                Finding(
                    FindingCode.VOLTAGE_HIGH,
                    k,
                    Severity.ERROR,
                    f"element {k}: voltage L{k} to neutral is {m.voltage_v:.1f} V, above the "
                    f"{limits.max_supply_voltage_v:g} V maximum",
                    _REMEDY_VOLTAGE,
                )
            )

    if all(m.voltage_v < limits.voltage_present_v for m in active.values()):
        return findings

    no_load = all(m.current_a < limits.no_load_current_a for m in active.values())
    for k, m in active.items():
        if m.voltage_v < limits.voltage_present_v:
            continue
        if m.ct_open:
            findings.append(
                Finding(
                    FindingCode.CT_NOT_CONNECTED,
                    k,
                    Severity.ERROR,
                    f"element {k}: the meter flags CT{k} as open ({m.current_a:.2f} A)",
                    _REMEDY_CONNECTIONS,
                )
            )
        elif not no_load and m.current_a < limits.no_load_current_a:
            loaded = [o for o in active.values() if o.current_a >= limits.no_load_current_a]
            others = ", ".join(f"element {o.element} {o.current_a:.2f} A" for o in loaded)
            findings.append(
                Finding(
                    FindingCode.CT_NOT_CONNECTED,
                    k,
                    Severity.WARNING,
                    f"element {k}: voltage {m.voltage_v:.1f} V but current {m.current_a:.3f} A, below "
                    f"{limits.no_load_current_a:g} A, while {others}: CT{k} may not be connected "
                    f"(or the load is on the other line only)",
                    _REMEDY_CONNECTIONS,
                )
            )

    findings.extend(_phase_findings(active, elements, limits))

    if no_load:
        currents = ", ".join(f"element {k} {m.current_a:.3f} A" for k, m in active.items())
        findings.append(
            Finding(
                FindingCode.NO_LOAD,
                None,
                Severity.INFO,
                f"no element carries {limits.no_load_current_a:g} A or more ({currents}): the load LED "
                f"will keep its state (certificate p.2, manual Table 3)",
                _REMEDY_LOAD,
            )
        )
    else:
        load_w = math.fsum(abs(m.power_w) for m in active.values())
        net_power_w = math.fsum(m.power_w for m in active.values())
        if load_w < limits.led_check_min_power_w:
            if net_power_w > 0:
                half_period_s = load_led_half_period_s(net_power_w)
                when = (
                    f"the load LED changes state only every {half_period_s:.0f} s "
                    f"({half_period_s / 60.0:.1f} min)"
                )
            else:
                when = "the load LED will not change state"
            findings.append(
                Finding(
                    FindingCode.LOAD_TOO_LOW_FOR_LED_CHECK,
                    None,
                    Severity.INFO,
                    f"active power {load_w:.1f} W in all (net {net_power_w:.1f} W) is below "
                    f"{limits.led_check_min_power_w:g} W: {when} (5 Wh per state, "
                    f"Kt = {LOAD_LED_KT_WH:g} Wh)",
                    _REMEDY_LOAD,
                )
            )
    return findings
