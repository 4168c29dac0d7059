"""Current transformers: the 200:0.1 A, accuracy class 0.3 CTs of the certificate.

A CT's secondary current differs from the primary current divided by the marked ratio by a small
ratio error and leads it by a small phase displacement, both growing as the current falls, as the
magnetising current of the core becomes a larger share of the primary current. The meter's
registration includes these errors (the meter and its CTs are approved as a system, certificate p.1).

The model is

.. math::

    \\varepsilon(I) = \\varepsilon_0 + \\varepsilon_1 \\sqrt{I_r / I}, \\qquad
    \\beta_h(I, f) = \\frac{60}{f} \\, \\frac{\\beta_0 + \\beta_1 \\sqrt{I_r / I}}{h}

with :math:`I` the primary RMS current, :math:`I_r` the rated primary current, :math:`f` the line
frequency and :math:`h` the harmonic order: the phase lead comes from the magnetising reactance, which
grows with frequency, so it shrinks as :math:`1/f` and :math:`1/h`. The default coefficients keep the CT
inside the IEEE C57.13 class 0.3 parallelogram from 10 % to 100 % of rated current (checked in the
tests) and give errors of the size a good class 0.3 metering CT shows at 1 % of rating.

References
----------
IEEE C57.13-2016, Standard Requirements for Instrument Transformers, §5.3 and Table 3 (accuracy classes
for metering), and the transformer correction factor TCF = RCF + β/2600 for a CT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["MINUTES_PER_RADIAN", "CurrentTransformer"]

MINUTES_PER_RADIAN = 180.0 * 60.0 / np.pi
"""Minutes of arc in one radian. [min/rad]"""

_REFERENCE_FREQUENCY_HZ = 60.0


def _finite_array(name: str, value: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


@dataclass(frozen=True)
class CurrentTransformer:
    """
    Error model of a metering CT (IEEE C57.13), by default the CT200124XX of certificate p.1.

    Parameters
    ----------
    primary_a : float
        Rated primary current. [A]
    secondary_a : float
        Rated secondary current. [A]
    accuracy_class : float
        IEEE C57.13 metering accuracy class. [%]
    ratio_error_base : float
        :math:`\\varepsilon_0`, the ratio error at high current (negative: secondary low). [1]
    ratio_error_low_current : float
        :math:`\\varepsilon_1`, the coefficient of :math:`\\sqrt{I_r/I}`. [1]
    phase_base_min : float
        :math:`\\beta_0`, the phase lead at high current at 60 Hz. [min]
    phase_low_current_min : float
        :math:`\\beta_1`, the coefficient of :math:`\\sqrt{I_r/I}`. [min]
    min_current_fraction : float
        Currents below this fraction of rating take the errors at this fraction, so the model stays
        finite at no load. [1]
    """

    primary_a: float = 200.0
    secondary_a: float = 0.1
    accuracy_class: float = 0.3
    ratio_error_base: float = -2.0e-4
    ratio_error_low_current: float = -3.0e-4
    phase_base_min: float = 2.0
    phase_low_current_min: float = 0.8
    min_current_fraction: float = 0.002

    def __post_init__(self) -> None:
        for name in ("primary_a", "secondary_a", "accuracy_class", "min_current_fraction"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value!r}")
        for name in (
            "ratio_error_base",
            "ratio_error_low_current",
            "phase_base_min",
            "phase_low_current_min",
        ):
            value = getattr(self, name)
            if not np.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value!r}")

    @property
    def ratio(self) -> float:
        """Marked ratio, primary over secondary: 200:0.1 A gives 2000. [1]"""
        return self.primary_a / self.secondary_a

    def _load_term(self, current_primary_a: ArrayLike) -> NDArray[np.float64]:
        current = np.abs(_finite_array("current_primary_a", current_primary_a))
        floor = self.min_current_fraction * self.primary_a
        result: NDArray[np.float64] = np.sqrt(self.primary_a / np.maximum(current, floor))
        return result

    def ratio_error(self, current_primary_a: ArrayLike) -> NDArray[np.float64]:
        """
        Ratio error: the fraction by which the secondary current, times the marked ratio, exceeds the
        primary current.

        Parameters
        ----------
        current_primary_a : array-like
            Primary RMS current. [A]

        Returns
        -------
        ratio_error : ndarray
            :math:`\\varepsilon(I)`. [1]
        """
        return self._ratio_error(self._load_term(current_primary_a))

    def _ratio_error(self, load: NDArray[np.float64]) -> NDArray[np.float64]:
        result: NDArray[np.float64] = self.ratio_error_base + self.ratio_error_low_current * load
        return result

    def _phase_min(self, load: NDArray[np.float64], frequency: NDArray[np.float64]) -> NDArray[np.float64]:
        result: NDArray[np.float64] = (self.phase_base_min + self.phase_low_current_min * load) * (
            _REFERENCE_FREQUENCY_HZ / frequency
        )
        return result

    def phase_displacement_min(
        self, current_primary_a: ArrayLike, frequency_hz: ArrayLike = _REFERENCE_FREQUENCY_HZ
    ) -> NDArray[np.float64]:
        """
        Phase displacement of the fundamental, positive when the secondary current leads.

        Parameters
        ----------
        current_primary_a : array-like
            Primary RMS current. [A]
        frequency_hz : array-like
            Line frequency. [Hz]

        Returns
        -------
        beta_min : ndarray
            :math:`\\beta_1(I, f)`. [min]
        """
        frequency = _finite_array("frequency_hz", frequency_hz)
        if np.any(frequency <= 0):
            raise ValueError(f"frequency_hz must be > 0, got {frequency_hz!r}")
        return self._phase_min(self._load_term(current_primary_a), frequency)

    def phase_displacement_rad(
        self, current_primary_a: ArrayLike, frequency_hz: ArrayLike = _REFERENCE_FREQUENCY_HZ
    ) -> NDArray[np.float64]:
        """Phase displacement of the fundamental in radians (see :meth:`phase_displacement_min`). [rad]"""
        return self.phase_displacement_min(current_primary_a, frequency_hz) / MINUTES_PER_RADIAN

    def errors(
        self, current_primary_a: ArrayLike, frequency_hz: ArrayLike = _REFERENCE_FREQUENCY_HZ
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """
        Ratio error and phase displacement together, from one evaluation of the load term.

        Parameters
        ----------
        current_primary_a : array-like
            Primary RMS current. [A]
        frequency_hz : array-like
            Line frequency, > 0 (not checked here). [Hz]

        Returns
        -------
        ratio_error : ndarray
            [1]
        phase_displacement_rad : ndarray
            Lead of the secondary current. [rad]
        """
        load = self._load_term(current_primary_a)
        frequency = np.asarray(frequency_hz, dtype=np.float64)
        return self._ratio_error(load), self._phase_min(load, frequency) / MINUTES_PER_RADIAN

    def ratio_correction_factor(self, current_primary_a: ArrayLike) -> NDArray[np.float64]:
        """
        Ratio correction factor, RCF = true ratio / marked ratio = 1 / (1 + ε) (IEEE C57.13 §3).

        Parameters
        ----------
        current_primary_a : array-like
            Primary RMS current. [A]

        Returns
        -------
        rcf : ndarray
            [1]
        """
        result: NDArray[np.float64] = 1.0 / (1.0 + self.ratio_error(current_primary_a))
        return result

    def secondary_current_a(self, current_primary_a: ArrayLike) -> NDArray[np.float64]:
        """
        Secondary RMS current for a primary RMS current, ratio error included.

        Parameters
        ----------
        current_primary_a : array-like
            Primary RMS current. [A]

        Returns
        -------
        current_secondary_a : ndarray
            [A]
        """
        current = _finite_array("current_primary_a", current_primary_a)
        result: NDArray[np.float64] = current / self.ratio * (1.0 + self.ratio_error(current))
        return result
