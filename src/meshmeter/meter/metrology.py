"""Metrology of the meter twin: two paths that agree.

* The **profile path** computes, vectorised over time series of per-element RMS voltage, primary current,
  phase angle and frequency (1 s steps or coarser), the active power the meter registers: the CT's ratio
  error and phase displacement, and the meter's two calibration adjustments (gain and phase compensation),
  in closed form.
* The **waveform path** is the meter's digital signal processing on sampled line voltage and CT-secondary
  current, as a metering chip does it: ADC codes, DC-offset removal, line cycles found from the rising zero
  crossings of the L1 voltage, per-line-cycle sums, phase compensation, RMS values, active, reactive and
  apparent power, power factor and frequency per cycle, and the registered energy of each cycle.

Both register the same energy for the same sinusoidal conditions (within 0.05 %, tested); the waveform path
also measures harmonics the way a real meter does: active power over the full bandwidth, RMS values with
the harmonics included, reactive power from a one-sample lag, exact for the fundamental.

Signs follow ``docs/conventions.md``: ``phase_deg`` is the lag of the current behind its voltage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from meshmeter.meter.ct import MINUTES_PER_RADIAN, CurrentTransformer

__all__ = [
    "AdcChannel",
    "Calibration",
    "CycleBlock",
    "FrontEnd",
    "Harmonic",
    "LineCycleMeter",
    "element_power",
    "factory_calibration",
    "phasors",
    "registered_power_w",
    "rising_zero_crossings",
    "synthesize_element",
    "true_power_w",
]

SECONDS_PER_HOUR = 3600.0
_REFERENCE_FREQUENCY_HZ = 60.0

FloatArray = NDArray[np.float64]


def _finite(name: str, value: ArrayLike) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


def _positive(name: str, value: float) -> float:
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Calibration:
    """
    The meter's two metrologically adjustable components (certificate p.2, Fig. 2).

    Parameters
    ----------
    gain : float
        Gain applied to the current channel, and so to power and energy. [1]
    phase_compensation_min : float
        Delay of the current channel, expressed as an angle at 60 Hz; a time delay, so the angle scales
        with frequency. It cancels the CT's phase lead. [min]
    """

    gain: float = 1.0
    phase_compensation_min: float = 0.0

    def __post_init__(self) -> None:
        _positive("gain", self.gain)
        if not np.isfinite(self.phase_compensation_min):
            raise ValueError(f"phase_compensation_min must be finite, got {self.phase_compensation_min!r}")

    def phase_compensation_rad(self, frequency_hz: ArrayLike) -> FloatArray:
        """Phase compensation at a line frequency. [rad]"""
        frequency = np.asarray(frequency_hz, dtype=np.float64)
        result: FloatArray = (
            self.phase_compensation_min / MINUTES_PER_RADIAN * frequency / _REFERENCE_FREQUENCY_HZ
        )
        return result


def factory_calibration(ct: CurrentTransformer, test_current_a: float = 30.0) -> Calibration:
    """
    Calibration set at the factory with the meter's CT type at the test amperes (TA).

    Gain cancels the CT's ratio error at TA, phase compensation its phase lead at TA and 60 Hz
    (certificate p.1: TA 30 A).

    Parameters
    ----------
    ct : CurrentTransformer
        The CT type the meter is approved with.
    test_current_a : float
        Test amperes. [A]

    Returns
    -------
    Calibration
    """
    _positive("test_current_a", test_current_a)
    return Calibration(
        gain=float(1.0 / (1.0 + ct.ratio_error(test_current_a))),
        phase_compensation_min=float(ct.phase_displacement_min(test_current_a)),
    )


def true_power_w(voltage_v: ArrayLike, current_a: ArrayLike, phase_deg: ArrayLike) -> FloatArray:
    """
    True active power of a sinusoidal element, :math:`P = V I \\cos\\varphi`.

    Parameters
    ----------
    voltage_v : array-like
        RMS voltage. [V]
    current_a : array-like
        RMS primary current. [A]
    phase_deg : array-like
        Lag of the current behind the voltage. [deg]

    Returns
    -------
    power_w : ndarray
        [W]
    """
    v = _finite("voltage_v", voltage_v)
    i = _finite("current_a", current_a)
    phi = _finite("phase_deg", phase_deg)
    result: FloatArray = v * i * np.cos(np.deg2rad(phi))
    return result


@dataclass(frozen=True)
class ElementPower:
    """Active, reactive and apparent power as the meter measures them (profile path)."""

    power_w: FloatArray
    reactive_var: FloatArray
    apparent_va: FloatArray
    current_a: FloatArray


def element_power(
    voltage_v: ArrayLike,
    current_a: ArrayLike,
    phase_deg: ArrayLike,
    frequency_hz: ArrayLike = 60.0,
    *,
    ct: CurrentTransformer,
    calibration: Calibration,
    starting_current_a: float = 0.0,
) -> ElementPower:
    """
    Power registered by one meter element for sinusoidal conditions (the profile path).

    Parameters
    ----------
    voltage_v : array-like
        RMS voltage at the element. [V]
    current_a : array-like
        RMS primary current through the CT (magnitude). [A]
    phase_deg : array-like
        Lag of the primary current behind the voltage, 180° added for a reversed CT. [deg]
    frequency_hz : array-like
        Line frequency. [Hz]
    ct : CurrentTransformer
        The element's CT.
    calibration : Calibration
        The meter's calibration.
    starting_current_a : float
        Below this primary current the element registers nothing (no-load threshold). [A]

    Returns
    -------
    ElementPower
        Measured power [W], reactive power [var], apparent power [VA] and current [A]; arrays
        broadcast from the inputs.

    Notes
    -----
    With :math:`\\varepsilon` and :math:`\\beta` the CT's ratio error and phase lead, :math:`G` the gain and
    :math:`\\theta(f)` the phase compensation:

    .. math:: P = G\\,V I (1 + \\varepsilon(I)) \\cos(\\varphi - \\beta(I, f) + \\theta(f))
    """
    apparent, angle, running, measured_i = _element_terms(
        voltage_v, current_a, phase_deg, frequency_hz, ct, calibration, starting_current_a
    )
    power = np.where(running, apparent * np.cos(angle), 0.0)
    reactive = np.where(running, apparent * np.sin(angle), 0.0)
    return ElementPower(power_w=power, reactive_var=reactive, apparent_va=apparent, current_a=measured_i)


def _element_terms(
    voltage_v: ArrayLike,
    current_a: ArrayLike,
    phase_deg: ArrayLike,
    frequency_hz: ArrayLike,
    ct: CurrentTransformer,
    calibration: Calibration,
    starting_current_a: float,
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_], FloatArray]:
    """Apparent power, angle, running flag and measured current, shared by both profile functions."""
    v, i, phi, f = np.broadcast_arrays(
        _finite("voltage_v", voltage_v),
        np.abs(_finite("current_a", current_a)),
        _finite("phase_deg", phase_deg),
        _finite("frequency_hz", frequency_hz),
    )
    if np.any(v < 0):
        raise ValueError(f"voltage_v must be >= 0, got {voltage_v!r}")
    if np.any(f <= 0):
        raise ValueError(f"frequency_hz must be > 0, got {frequency_hz!r}")
    if not (np.isfinite(starting_current_a) and starting_current_a >= 0):
        raise ValueError(f"starting_current_a must be finite and >= 0, got {starting_current_a!r}")
    ratio_error, beta = ct.errors(i, f)
    measured_i = i * (1.0 + ratio_error) * calibration.gain
    angle = np.deg2rad(phi) - beta + calibration.phase_compensation_rad(f)
    return v * measured_i, angle, i >= starting_current_a, measured_i


def registered_power_w(
    voltage_v: ArrayLike,
    current_a: ArrayLike,
    phase_deg: ArrayLike,
    frequency_hz: ArrayLike = 60.0,
    *,
    ct: CurrentTransformer,
    calibration: Calibration,
    starting_current_a: float = 0.0,
) -> FloatArray:
    """Active power registered by one element (see :func:`element_power`). [W]"""
    apparent, angle, running, _ = _element_terms(
        voltage_v, current_a, phase_deg, frequency_hz, ct, calibration, starting_current_a
    )
    power: FloatArray = np.where(running, apparent * np.cos(angle), 0.0)
    return power


# --------------------------------------------------------------------------------------------------
# Waveform synthesis: what arrives at the meter's terminals
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Harmonic:
    """
    A harmonic of voltage and current, as fractions of the fundamental.

    Parameters
    ----------
    order : int
        Harmonic order h >= 2. [1]
    voltage_fraction : float
        RMS voltage of the harmonic over the fundamental's. [1]
    current_fraction : float
        RMS current of the harmonic over the fundamental's. [1]
    phase_deg : float
        Lag of the harmonic current behind the harmonic voltage. [deg]
    """

    order: int
    voltage_fraction: float = 0.0
    current_fraction: float = 0.0
    phase_deg: float = 0.0

    def __post_init__(self) -> None:
        if not (isinstance(self.order, int) and self.order >= 2):
            raise ValueError(f"order must be an int >= 2, got {self.order!r}")
        for name in ("voltage_fraction", "current_fraction"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
        if not np.isfinite(self.phase_deg):
            raise ValueError(f"phase_deg must be finite, got {self.phase_deg!r}")


@dataclass(frozen=True)
class SynthesizedElement:
    """Instantaneous signals at one element's terminals and the true energy they carry."""

    voltage_v: FloatArray
    """Instantaneous line-to-neutral voltage. [V]"""
    current_secondary_a: FloatArray
    """Instantaneous CT secondary current, CT errors and wiring included. [A]"""
    true_energy_wh: float
    """Energy delivered on the primary side over the samples. [Wh]"""
    true_power_w: float
    """Average true active power on the primary side. [W]"""


def synthesize_element(
    n_samples: int,
    sample_rate_hz: float,
    *,
    voltage_v: float,
    current_a: float,
    phase_deg: float,
    frequency_hz: float = 60.0,
    voltage_angle_deg: float = 0.0,
    harmonics: Sequence[Harmonic] = (),
    ct: CurrentTransformer | None = None,
    ct_reversed: bool = False,
    start_time_s: float = 0.0,
) -> SynthesizedElement:
    """
    Sample the voltage and CT-secondary current of one element under steady conditions.

    Parameters
    ----------
    n_samples : int
        Number of samples. [1]
    sample_rate_hz : float
        Sample rate. [Hz]
    voltage_v : float
        RMS voltage of the fundamental. [V]
    current_a : float
        RMS primary current of the fundamental. [A]
    phase_deg : float
        Lag of the fundamental current behind its voltage. [deg]
    frequency_hz : float
        Line frequency. [Hz]
    voltage_angle_deg : float
        Phasor angle of this element's voltage with respect to L1 (0 for L1, 180 for L2 of a 120/240 V
        service, -120 for L2 of a 120/208 V network). [deg]
    harmonics : sequence of Harmonic
        Harmonics of voltage and current.
    ct : CurrentTransformer, optional
        The CT; None gives an ideal 200:0.1 A CT.
    ct_reversed : bool
        The CT is installed backwards (manual §4.5.1): the secondary current changes sign.
    start_time_s : float
        Time of the first sample. [s]

    Returns
    -------
    SynthesizedElement
    """
    if not (isinstance(n_samples, int | np.integer) and n_samples > 0):
        raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")
    fs = _positive("sample_rate_hz", sample_rate_hz)
    f = _positive("frequency_hz", frequency_hz)
    for name, value in (
        ("voltage_v", voltage_v),
        ("current_a", current_a),
        ("phase_deg", phase_deg),
        ("voltage_angle_deg", voltage_angle_deg),
        ("start_time_s", start_time_s),
    ):
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
    if voltage_v < 0 or current_a < 0:
        raise ValueError(f"voltage_v and current_a must be >= 0, got {voltage_v!r}, {current_a!r}")
    ct = (
        ct
        if ct is not None
        else CurrentTransformer(
            ratio_error_base=0.0, ratio_error_low_current=0.0, phase_base_min=0.0, phase_low_current_min=0.0
        )
    )
    t = start_time_s + np.arange(n_samples, dtype=np.float64) / fs
    w = 2.0 * np.pi * f
    theta_v = np.deg2rad(voltage_angle_deg)
    components = [
        (1, 1.0, 1.0, phase_deg),
        *((h.order, h.voltage_fraction, h.current_fraction, h.phase_deg) for h in harmonics),
    ]
    current_rms_total = current_a * float(np.sqrt(sum(ci * ci for _, _, ci, _ in components)))
    scale = (1.0 + float(ct.ratio_error(current_rms_total))) / ct.ratio
    beta1 = float(ct.phase_displacement_rad(current_rms_total, f))
    sign = -1.0 if ct_reversed else 1.0
    v = np.zeros(n_samples)
    i = np.zeros(n_samples)
    true_power = 0.0
    for order, vf, cf, phi in components:
        vh = voltage_v * vf
        ih = current_a * cf
        angle_v = order * (w * t) + order * theta_v
        phi_rad = np.deg2rad(phi)
        v += np.sqrt(2.0) * vh * np.cos(angle_v)
        i += sign * np.sqrt(2.0) * ih * scale * np.cos(angle_v - phi_rad + beta1 / order)
        true_power += vh * ih * np.cos(phi_rad)
    return SynthesizedElement(
        voltage_v=v,
        current_secondary_a=i,
        true_energy_wh=true_power * n_samples / fs / SECONDS_PER_HOUR,
        true_power_w=true_power,
    )


# --------------------------------------------------------------------------------------------------
# The analogue front end and ADC
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdcChannel:
    """
    One ADC channel: a full-scale range, a resolution, an offset and noise.

    Parameters
    ----------
    full_scale_peak : float
        Input that gives the largest positive code (volts or amperes at the terminals).
    bits : int
        Resolution including sign, 8..32. [bit]
    offset_codes : float
        DC offset added by the front end, in codes. [LSB]
    noise_rms_codes : float
        RMS white noise, in codes. [LSB]
    """

    full_scale_peak: float
    bits: int = 24
    offset_codes: float = 0.0
    noise_rms_codes: float = 0.0

    def __post_init__(self) -> None:
        _positive("full_scale_peak", self.full_scale_peak)
        if not (isinstance(self.bits, int) and 8 <= self.bits <= 32):
            raise ValueError(f"bits must be an int in 8..32, got {self.bits!r}")
        if not np.isfinite(self.offset_codes):
            raise ValueError(f"offset_codes must be finite, got {self.offset_codes!r}")
        if not (np.isfinite(self.noise_rms_codes) and self.noise_rms_codes >= 0):
            raise ValueError(f"noise_rms_codes must be finite and >= 0, got {self.noise_rms_codes!r}")

    @property
    def max_code(self) -> int:
        """Largest positive code. [LSB]"""
        return int(2 ** (self.bits - 1) - 1)

    @property
    def units_per_code(self) -> float:
        """Input per code (V/LSB or A/LSB)."""
        return self.full_scale_peak / self.max_code

    def sample(self, signal: ArrayLike, rng: np.random.Generator | None = None) -> FloatArray:
        """
        Convert an instantaneous signal to codes: scale, offset, noise, round, clip.

        Parameters
        ----------
        signal : array-like
            Instantaneous input (V or A).
        rng : numpy.random.Generator, optional
            Source of the noise; required when ``noise_rms_codes`` > 0.

        Returns
        -------
        codes : ndarray of float64
            Integer-valued codes. [LSB]
        """
        x = _finite("signal", signal)
        codes = x / self.units_per_code + self.offset_codes
        if self.noise_rms_codes > 0:
            if rng is None:
                raise ValueError("rng is required when noise_rms_codes > 0")
            codes = codes + rng.normal(0.0, self.noise_rms_codes, size=codes.shape)
        result: FloatArray = np.clip(np.rint(codes), -self.max_code - 1, self.max_code)
        return result


@dataclass(frozen=True)
class FrontEnd:
    """
    The meter's sampling front end, like a metering chip's: two ADC channels per element.

    Parameters
    ----------
    sample_rate_hz : float
        Sample rate of every channel. [Hz]
    voltage : AdcChannel
        Voltage channel; default full scale 400 V peak (138 V RMS is 195 V peak). [V]
    current : AdcChannel
        CT-secondary current channel; default full scale 0.25 A peak (0.11 A RMS is 0.156 A peak,
        with room for a crest factor of 2). [A]
    """

    sample_rate_hz: float = 4000.0
    voltage: AdcChannel = field(default_factory=lambda: AdcChannel(full_scale_peak=400.0))
    current: AdcChannel = field(default_factory=lambda: AdcChannel(full_scale_peak=0.25))

    def __post_init__(self) -> None:
        _positive("sample_rate_hz", self.sample_rate_hz)


# --------------------------------------------------------------------------------------------------
# The waveform path: line-cycle DSP
# --------------------------------------------------------------------------------------------------


def rising_zero_crossings(x: FloatArray, *, decimation: int = 4, min_gap: int = 1) -> NDArray[np.intp]:
    """
    Indices of the rising zero crossings of a signal: the first sample >= 0 after a negative one.

    A coarse search on every ``decimation``-th sample is refined to the exact sample, so the cost is a
    fraction of a pass over the signal. Crossings closer than ``min_gap`` samples to the previous one
    (noise near zero) are dropped.

    Parameters
    ----------
    x : ndarray
        Signal with its DC offset removed.
    decimation : int
        Stride of the coarse search; must be well below the samples per half cycle. [1]
    min_gap : int
        Shortest distance between kept crossings. [sample]

    Returns
    -------
    indices : ndarray of intp
    """
    if decimation < 1:
        raise ValueError(f"decimation must be >= 1, got {decimation!r}")
    coarse = x[::decimation] >= 0
    if coarse.size < 2:
        return np.empty(0, dtype=np.intp)
    cand = np.flatnonzero(~coarse[:-1] & coarse[1:])
    if cand.size == 0:
        return cand
    window = cand[:, None] * decimation + np.arange(decimation + 1)
    nonneg = x[window] >= 0
    first = np.argmax(nonneg[:, 1:] & ~nonneg[:, :-1], axis=1) + 1
    idx: NDArray[np.intp] = cand * decimation + first
    if min_gap > 1 and idx.size > 1:
        keep = np.ones(idx.size, dtype=bool)
        keep[1:] = np.diff(idx) >= min_gap
        idx = idx[keep]
    return idx


def phasors(
    voltage_codes: ArrayLike,
    current_codes: ArrayLike,
    sample_rate_hz: float,
    frequency_hz: float,
    *,
    cycles: int = 10,
) -> tuple[NDArray[np.complex128], NDArray[np.complex128]]:
    """
    Fundamental phasors of each channel over the last whole line cycles of a block of samples.

    A single-bin discrete Fourier transform at the line frequency, over as many whole cycles as the
    block holds, up to ``cycles``: what a meter computes on demand for its installation diagnostics.
    Only the angles between channels mean anything (the reference is the block's first used sample).

    Parameters
    ----------
    voltage_codes, current_codes : array-like, shape (elements, n)
        Samples. [LSB]
    sample_rate_hz : float
        Sample rate. [Hz]
    frequency_hz : float
        Line frequency. [Hz]
    cycles : int
        Most cycles to use. [1]

    Returns
    -------
    voltage, current : ndarray of complex, shape (elements,)
        Phasors, in codes (RMS). [LSB]
    """
    v = np.atleast_2d(_finite("voltage_codes", voltage_codes))
    i = np.atleast_2d(_finite("current_codes", current_codes))
    if v.shape != i.shape:
        raise ValueError(f"voltage_codes and current_codes must have one shape, got {v.shape}, {i.shape}")
    fs = _positive("sample_rate_hz", sample_rate_hz)
    f = _positive("frequency_hz", frequency_hz)
    per_cycle = fs / f
    k = min(cycles, int(v.shape[1] / per_cycle))
    if k < 1:
        raise ValueError(f"need at least one line cycle of samples ({per_cycle:.1f}), got {v.shape[1]}")
    n = round(k * per_cycle)
    basis = np.exp(-2j * np.pi * f * np.arange(n) / fs) * (np.sqrt(2.0) / n)
    return v[:, -n:] @ basis, i[:, -n:] @ basis


@dataclass(frozen=True)
class CycleBlock:
    """
    Per-line-cycle measurements of a block of samples (the waveform path).

    Arrays of shape ``(n_cycles,)`` or ``(elements, n_cycles)``. A window that is not a whole line cycle
    (the samples before the first zero crossing, the remainder at a flush, or a stretch with no voltage)
    has ``complete`` False; its energy still counts.
    """

    start_s: FloatArray
    """Time of the first sample of each window. [s]"""
    duration_s: FloatArray
    """Length of each window. [s]"""
    complete: NDArray[np.bool_]
    """Whether the window is a whole line cycle."""
    frequency_hz: FloatArray
    """Line frequency measured over the cycle (NaN where unknown). [Hz]"""
    voltage_v: FloatArray
    """RMS voltage per element. [V]"""
    current_a: FloatArray
    """RMS primary current per element (CT ratio and gain applied). [A]"""
    power_w: FloatArray
    """Active power per element, phase compensated. [W]"""
    reactive_var: FloatArray
    """Reactive power per element, positive lagging (fundamental). [var]"""
    apparent_va: FloatArray
    """Apparent power per element, Vrms × Irms. [VA]"""
    energy_wh: FloatArray
    """Registered energy per element (zero below the starting current), signed. [Wh]"""

    @property
    def n_cycles(self) -> int:
        """Number of windows. [1]"""
        return int(self.start_s.size)

    @property
    def power_factor(self) -> FloatArray:
        """Power factor P / S per element (NaN where S is zero). [1]"""
        with np.errstate(invalid="ignore", divide="ignore"):
            result: FloatArray = np.where(self.apparent_va > 0, self.power_w / self.apparent_va, np.nan)
        return result

    @property
    def end_s(self) -> FloatArray:
        """Time just after the last sample of each window. [s]"""
        result: FloatArray = self.start_s + self.duration_s
        return result


_EMPTY = np.empty(0)


class LineCycleMeter:
    """
    The meter's line-cycle DSP over streamed ADC codes of one or two elements.

    Feed blocks of codes with :meth:`process`; samples after the last zero crossing are carried to the
    next block, so results do not depend on how the stream is cut. :meth:`flush` ends the stream.

    Parameters
    ----------
    front_end : FrontEnd
        Sample rate and ADC scaling.
    ct_ratio : float
        Marked CT ratio, primary over secondary. [1]
    calibration : Calibration
        Gain and phase compensation.
    elements : int
        1 or 2.
    starting_current_a : float
        Primary RMS current below which a cycle registers no energy (no-load threshold). [A]
    nominal_frequency_hz : float
        Frequency assumed until one is measured. [Hz]
    dc_time_constant_s : float
        Time constant of the DC-offset tracker. [s]

    Notes
    -----
    Line cycles run from one rising zero crossing of the L1 voltage to the next (the crossing sample is
    the first sample >= 0 after a negative one; its time is interpolated linearly for the frequency).
    For each cycle and element the DSP sums :math:`v^2`, :math:`i^2`, :math:`v_k i_k` and
    :math:`v_{k-1} i_k` over the DC-removed samples. With :math:`\\omega = 2\\pi f / f_s`:

    .. math::

        P_0 = \\overline{v_k i_k}, \\quad
        Q_0 = \\frac{\\overline{v_{k-1} i_k} - P_0 \\cos\\omega}{\\sin\\omega}, \\quad
        P = P_0 \\cos\\theta - Q_0 \\sin\\theta

    where :math:`\\theta` is the phase compensation: an exact rotation, with no interpolation error.
    """

    def __init__(
        self,
        *,
        front_end: FrontEnd | None = None,
        ct_ratio: float = 2000.0,
        calibration: Calibration | None = None,
        elements: int = 2,
        starting_current_a: float = 0.1,
        nominal_frequency_hz: float = 60.0,
        dc_time_constant_s: float = 2.0,
    ) -> None:
        if elements not in (1, 2):
            raise ValueError(f"elements must be 1 or 2, got {elements!r}")
        self.front_end = front_end if front_end is not None else FrontEnd()
        self.ct_ratio = _positive("ct_ratio", ct_ratio)
        self.calibration = calibration if calibration is not None else Calibration()
        self.elements = elements
        if not (np.isfinite(starting_current_a) and starting_current_a >= 0):
            raise ValueError(f"starting_current_a must be finite and >= 0, got {starting_current_a!r}")
        self.starting_current_a = float(starting_current_a)
        self.nominal_frequency_hz = _positive("nominal_frequency_hz", nominal_frequency_hz)
        self.dc_time_constant_s = _positive("dc_time_constant_s", dc_time_constant_s)
        fs = self.front_end.sample_rate_hz
        self._nominal_cycle = max(4, round(fs / self.nominal_frequency_hz))
        self._max_window = int(fs / 40.0) + 1  # longer than 1/40 s is no line cycle
        self._min_gap = max(1, int(fs / 70.0 / 2))
        self._decimation = max(1, min(8, int(fs / 70.0 / 8)))
        self._carry_v = np.empty((elements, 0))
        self._carry_i = np.empty((elements, 0))
        self._prev_v = np.zeros(elements)  # DC-removed voltage just before the carry
        self._dc_v: FloatArray | None = None
        self._dc_i: FloatArray | None = None
        self._carry_start = 0  # absolute index of the first carried sample
        self._sync_time = np.nan  # fractional absolute index of the crossing the carry starts at
        self._pending = np.zeros((elements, 4))  # boundary correction the carried window starts with
        self._dc_tracking = False
        self._frequency_hz = self.nominal_frequency_hz
        self.samples_seen = 0

    @property
    def frequency_hz(self) -> float:
        """Last measured line frequency. [Hz]"""
        return self._frequency_hz

    def process(self, voltage_codes: ArrayLike, current_codes: ArrayLike) -> CycleBlock:
        """
        Measure a block of ADC codes.

        Parameters
        ----------
        voltage_codes : array-like, shape (elements, n), or (n,) for one element
            Voltage channel codes. [LSB]
        current_codes : array-like, same shape
            CT-secondary current channel codes. [LSB]

        Returns
        -------
        CycleBlock
            The windows completed by this block (possibly none).
        """
        v, i = self._check_block(voltage_codes, current_codes)
        return self._run(v, i, final=False)

    def flush(self) -> CycleBlock:
        """Measure the samples still carried as a last, partial window."""
        empty = np.empty((self.elements, 0))
        return self._run(empty, empty, final=True)

    def _check_block(
        self, voltage_codes: ArrayLike, current_codes: ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        v = np.asarray(voltage_codes, dtype=np.float64)
        i = np.asarray(current_codes, dtype=np.float64)
        if v.ndim == 1:
            v = v[None, :]
        if i.ndim == 1:
            i = i[None, :]
        if v.shape != i.shape:
            raise ValueError(
                f"voltage_codes and current_codes must have the same shape, got {v.shape} and {i.shape}"
            )
        if v.ndim != 2 or v.shape[0] != self.elements:
            raise ValueError(f"codes must have shape ({self.elements}, n), got {v.shape}")
        # one cheap sum finds a NaN or infinity anywhere; the full check only confirms it
        if not np.isfinite(v.sum() + i.sum()) and not (np.all(np.isfinite(v)) and np.all(np.isfinite(i))):
            raise ValueError("voltage_codes and current_codes must be finite (no NaN or infinity)")
        return v, i

    def _run(self, v: FloatArray, i: FloatArray, *, final: bool) -> CycleBlock:
        e = self.elements
        fs = self.front_end.sample_rate_hz
        c = self._carry_v.shape[1]
        m = c + v.shape[1]
        self.samples_seen += v.shape[1]
        if m == 0:
            return self._empty_block()
        if self._dc_v is None or self._dc_i is None:
            joined_v = np.concatenate([self._carry_v, v], axis=1)
            joined_i = np.concatenate([self._carry_i, i], axis=1)
            estimate = self._initial_dc(joined_v, joined_i, final=final)
            if estimate is None:  # settling: wait for whole cycles before measuring anything
                self._carry_v, self._carry_i = joined_v, joined_i
                return self._empty_block()
            self._dc_v, self._dc_i = estimate
        dc_v, dc_i = self._dc_v, self._dc_i
        # DC removal and joining the carry, in one pass: x[:, 0] voltage, x[:, 1] current; column 0 holds
        # the voltage sample before the first one, for the one-sample-lag product
        x = np.empty((e, 2, m + 1))
        x[:, 0, 0] = self._prev_v
        x[:, 1, 0] = 0.0
        np.subtract(self._carry_v, dc_v[:, None], out=x[:, 0, 1 : c + 1])
        np.subtract(v, dc_v[:, None], out=x[:, 0, c + 1 :])
        np.subtract(self._carry_i, dc_i[:, None], out=x[:, 1, 1 : c + 1])
        np.subtract(i, dc_i[:, None], out=x[:, 1, c + 1 :])
        vc = x[:, 0, 1:]
        ic = x[:, 1, 1:]

        cuts, cut_times = self._cuts(vc[0], m, final=final)
        end = int(cuts[-1])
        if cuts.size < 2:
            self._keep_carry(v, i, 0, x, cut_times[-1], self._pending)
            return self._empty_block()
        starts = cuts[:-1]
        n = np.diff(cuts).astype(np.float64)
        period = np.diff(cut_times)
        complete = np.isfinite(period)

        width = min(end + 1, m)  # one sample past the last cut, for its boundary correction
        prods = np.empty((e, 4, width))
        signals = x[:, :, 1 : width + 1]
        np.multiply(signals, signals, out=prods[:, 0:2])  # v², i²
        np.multiply(vc[:, :width], ic[:, :width], out=prods[:, 2])  # v[k]·i[k]
        np.multiply(x[:, 0, :width], ic[:, :width], out=prods[:, 3])  # v[k-1]·i[k]
        sums = np.add.reduceat(prods[:, :, :end], starts, axis=2)
        # fractional boundaries: the samples of window j stand for the interval
        # [cut_j - 1/2, cut_(j+1) - 1/2]; move each end to the interpolated zero-crossing time
        correction, pending = self._boundary_corrections(prods, cuts, cut_times - self._carry_start)
        sums[:, :, 0] += self._pending
        sums += correction[:, :, :-1] - correction[:, :, 1:]
        length = np.where(complete, period, n)

        with np.errstate(invalid="ignore", divide="ignore"):
            freq = fs / period
        if np.any(complete):
            self._frequency_hz = float(freq[complete][-1])
        known = np.where(complete, freq, self._frequency_hz)

        kv = self.front_end.voltage.units_per_code
        ki = self.front_end.current.units_per_code * self.ct_ratio * self.calibration.gain
        means = sums * (np.array([kv * kv, ki * ki, kv * ki, kv * ki])[:, None] / length)
        vrms = np.sqrt(np.maximum(means[:, 0], 0.0))
        irms = np.sqrt(np.maximum(means[:, 1], 0.0))
        p0 = means[:, 2]
        r1 = means[:, 3]
        omega = 2.0 * np.pi * known / fs
        q0 = (r1 - p0 * np.cos(omega)) / np.sin(omega)
        theta = self.calibration.phase_compensation_rad(known)
        p = p0 * np.cos(theta) - q0 * np.sin(theta)
        q = q0 * np.cos(theta) + p0 * np.sin(theta)
        running = irms >= self.starting_current_a
        block = CycleBlock(
            start_s=(self._carry_start + starts) / fs,
            duration_s=n / fs,
            complete=complete,
            frequency_hz=freq,
            voltage_v=vrms,
            current_a=irms,
            power_w=p,
            reactive_var=q,
            apparent_va=vrms * irms,
            energy_wh=np.where(running, p, 0.0) * (length / fs / SECONDS_PER_HOUR),
        )
        if np.any(complete):
            first = int(starts[np.argmax(complete)])
            last = int(cuts[1:][complete][-1])
            if self._dc_tracking:
                alpha = min(1.0, (last - first) / fs / self.dc_time_constant_s)
            else:
                alpha, self._dc_tracking = 1.0, True  # first whole cycles: take their mean
            offset = x[:, :, first + 1 : last + 1].mean(axis=2)  # residual DC of v and i per element
            self._dc_v = dc_v + alpha * offset[:, 0]
            self._dc_i = dc_i + alpha * offset[:, 1]
        self._keep_carry(v, i, end, x, cut_times[-1], pending)
        return block

    def _initial_dc(
        self, v: FloatArray, i: FloatArray, *, final: bool
    ) -> tuple[FloatArray, FloatArray] | None:
        """
        Start-up estimate of the DC offsets: the mean over the first whole cycles.

        None while there are fewer than two zero crossings in under a second of samples (settling);
        after a second with no cycles, or at a flush, the plain mean.
        """
        rough = float(v[0].mean())
        crossings = rising_zero_crossings(v[0] - rough, decimation=self._decimation, min_gap=self._min_gap)
        if crossings.size < 2:
            if final or v.shape[1] >= self.front_end.sample_rate_hz:
                return v.mean(axis=1), i.mean(axis=1)
            return None
        first, last = int(crossings[0]), int(crossings[-1])
        self._dc_tracking = True
        return v[:, first:last].mean(axis=1), i[:, first:last].mean(axis=1)

    @staticmethod
    def _boundary_corrections(
        prods: FloatArray, cuts: NDArray[np.intp], cut_times: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """
        Integral of each product between a cut's half-sample edge and its zero-crossing time.

        Returns the corrections per cut, shape (elements, 4, cuts), and the one of the last cut, which
        the next window (in the next block) starts with.
        """
        e = prods.shape[0]
        corr = np.zeros((e, 4, cuts.size))
        crossing = np.isfinite(cut_times) & (cuts > 0) & (cuts < prods.shape[2])
        if np.any(crossing):
            b = cuts[crossing]
            frac = cut_times[crossing] - (b - 1)  # the crossing lies at b - 1 + frac, frac in (0, 1]
            width = 0.5 - frac  # from the crossing to the edge b - 1/2 [sample]
            mid = (frac + 0.5) / 2.0  # midpoint of that stretch, from b - 1
            value = prods[:, :, b - 1] * (1.0 - mid) + prods[:, :, b] * mid
            corr[:, :, crossing] = value * width
        pending = corr[:, :, -1].copy() if cuts.size else np.zeros((e, 4))
        return corr, pending

    def _cuts(self, v1: FloatArray, m: int, *, final: bool) -> tuple[NDArray[np.intp], FloatArray]:
        """Window boundaries (positions in the joined block) and their crossing times (NaN if none)."""
        crossings = rising_zero_crossings(v1, decimation=self._decimation, min_gap=self._min_gap)
        crossings = crossings[crossings > 0]
        prev = v1[crossings - 1]
        cur = v1[crossings]
        times = self._carry_start + crossings - 1 + (-prev) / (cur - prev)
        pos = [np.zeros(1, dtype=np.intp), crossings.astype(np.intp)]
        tms = [np.array([self._sync_time]), times]
        tail_start = int(crossings[-1]) if crossings.size else 0
        tail = m - tail_start
        if final and tail > 0:
            pos.append(np.array([m], dtype=np.intp))
            tms.append(np.array([np.nan]))
        elif not final and tail > self._max_window:
            k = tail // self._nominal_cycle
            pos.append(tail_start + self._nominal_cycle * np.arange(1, k + 1, dtype=np.intp))
            tms.append(np.full(k, np.nan))
        return np.concatenate(pos), np.concatenate(tms)

    def _keep_carry(
        self, v: FloatArray, i: FloatArray, end: int, x: FloatArray, sync_time: float, pending: FloatArray
    ) -> None:
        c = self._carry_v.shape[1]
        if end > 0:
            self._prev_v = x[:, 0, end].copy()
            self._sync_time = float(sync_time)
            self._pending = pending if np.isfinite(sync_time) else np.zeros_like(pending)
        if end >= c:  # the new carry lies within the new samples: copy only the tail
            self._carry_v = v[:, end - c :].copy()
            self._carry_i = i[:, end - c :].copy()
        else:
            self._carry_v = np.concatenate([self._carry_v[:, end:], v], axis=1)
            self._carry_i = np.concatenate([self._carry_i[:, end:], i], axis=1)
        self._carry_start += end

    def _empty_block(self) -> CycleBlock:
        z = np.empty((self.elements, 0))
        return CycleBlock(
            start_s=_EMPTY,
            duration_s=_EMPTY,
            complete=np.empty(0, dtype=bool),
            frequency_hz=_EMPTY,
            voltage_v=z,
            current_a=z,
            power_w=z,
            reactive_var=z,
            apparent_va=z,
            energy_wh=z,
        )
