"""How a meter is wired into a service: which line each element's voltage and CT are on, and which way.

The manual's installation rules (§4.5.1): current and voltage inputs must be installed "in phase" (CT1 on
Line 1, CT2 on Line 2) and the LINE side of each CT must face the incoming line. A twin can be wired
against those rules on purpose, to see what the meter then measures and what its diagnostics say.

Signs follow ``docs/conventions.md``: ``phase_deg`` is the lag of a current behind its voltage; phasor
angles are counter-clockwise from the L1 voltage.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["ElementInputs", "ElementWiring", "Service", "element_inputs", "phase_deg_from_pf", "wrap_deg"]

FloatArray = NDArray[np.float64]


class Service(StrEnum):
    """
    The electrical service a dual-element meter is connected to (manual §2.1, certificate p.1).

    ``SPLIT_PHASE`` is 1-phase 120/240 V, 3-wire: L2 is 180° from L1. ``NETWORK`` is 2 phases of a
    120/208 V wye, 3-wire: L2 lags L1 by 120°.
    """

    SPLIT_PHASE = "120/240"
    NETWORK = "120/208"

    @property
    def line_angles_deg(self) -> tuple[float, float]:
        """Phasor angles of L1 and L2 voltages. [deg]"""
        return (0.0, 180.0) if self is Service.SPLIT_PHASE else (0.0, -120.0)


@dataclass(frozen=True)
class ElementWiring:
    """
    The wiring of one meter element.

    Parameters
    ----------
    ct_line : int or None
        Line (1 or 2) whose conductor the element's CT is on; None means the element's own line,
        as the manual requires (§4.5.1).
    ct_reversed : bool
        The CT faces the wrong way, or X1 and X2 are swapped: its current changes sign (§4.5.1).
    voltage_connected : bool
        The element's voltage lead is connected (a missing L2 lead, or a blown fuse, is False).
    ct_connected : bool
        The element's CT leads are connected.
    """

    ct_line: int | None = None
    ct_reversed: bool = False
    voltage_connected: bool = True
    ct_connected: bool = True

    def __post_init__(self) -> None:
        if self.ct_line is not None and self.ct_line not in (1, 2):
            raise ValueError(f"ct_line must be 1, 2 or None, got {self.ct_line!r}")


def wrap_deg(angle_deg: ArrayLike) -> FloatArray:
    """Wrap angles to (-180, 180]. [deg]"""
    a = np.asarray(angle_deg, dtype=np.float64)
    wrapped: FloatArray = 180.0 - np.mod(180.0 - a, 360.0)
    return wrapped


def phase_deg_from_pf(pf: ArrayLike, lagging: ArrayLike = True) -> FloatArray:
    """
    Phase angle from a power factor magnitude and its sense.

    Parameters
    ----------
    pf : array-like
        Power factor magnitude in [0, 1]. [1]
    lagging : array-like of bool
        True for a lagging (inductive) load, False for leading.

    Returns
    -------
    phase_deg : ndarray
        Lag of the current behind the voltage: positive lagging, negative leading. [deg]
    """
    p = np.asarray(pf, dtype=np.float64)
    if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"pf must be in [0, 1], got {pf!r}")
    angle = np.rad2deg(np.arccos(p))
    result: FloatArray = np.where(np.asarray(lagging, dtype=bool), angle, -angle)
    return result


@dataclass(frozen=True)
class ElementInputs:
    """What arrives at each element's terminals, arrays of shape (elements, n)."""

    voltage_v: FloatArray
    """RMS voltage at the element. [V]"""
    voltage_angle_deg: FloatArray
    """Phasor angle of that voltage. [deg]"""
    current_a: FloatArray
    """RMS primary current through the element's CT. [A]"""
    current_angle_deg: FloatArray
    """Phasor angle of that current as the element sees it (180° added when reversed). [deg]"""

    @property
    def phase_deg(self) -> FloatArray:
        """Lag of the current behind the element's voltage, in (-180, 180]. [deg]"""
        return wrap_deg(self.voltage_angle_deg - self.current_angle_deg)


def element_inputs(
    *,
    elements: int,
    service: Service,
    wiring: tuple[ElementWiring, ...],
    line_voltage_v: ArrayLike,
    line_current_a: ArrayLike,
    line_phase_deg: ArrayLike,
) -> ElementInputs:
    """
    Map the loads on the lines to what each element measures.

    Parameters
    ----------
    elements : int
        1 or 2.
    service : Service
        The service (sets the L2 angle).
    wiring : tuple of ElementWiring
        One per element.
    line_voltage_v : array-like, shape (lines, n) or (lines,)
        RMS voltage of each line to neutral. [V]
    line_current_a : array-like, same shape
        RMS current in each line conductor. [A]
    line_phase_deg : array-like, same shape
        Lag of each line's current behind its voltage. [deg]

    Returns
    -------
    ElementInputs
    """
    if elements not in (1, 2):
        raise ValueError(f"elements must be 1 or 2, got {elements!r}")
    if len(wiring) != elements:
        raise ValueError(f"wiring must have {elements} entries, got {len(wiring)}")
    v = np.atleast_1d(np.asarray(line_voltage_v, dtype=np.float64))
    i = np.atleast_1d(np.asarray(line_current_a, dtype=np.float64))
    phi = np.atleast_1d(np.asarray(line_phase_deg, dtype=np.float64))
    if v.ndim == 1:
        v, i, phi = v[:, None], i[:, None], phi[:, None]
    if not (v.shape == i.shape == phi.shape):
        raise ValueError(
            f"line_voltage_v, line_current_a and line_phase_deg must have one shape, "
            f"got {v.shape}, {i.shape}, {phi.shape}"
        )
    if v.shape[0] != elements:
        raise ValueError(f"line arrays must have {elements} lines, got {v.shape[0]}")
    for name, arr in (("line_voltage_v", v), ("line_current_a", i), ("line_phase_deg", phi)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite")
    if np.any(v < 0) or np.any(i < 0):
        raise ValueError("line_voltage_v and line_current_a must be >= 0")
    line_angle = np.asarray(service.line_angles_deg[:elements])[:, None] * np.ones_like(v)
    out_v = np.empty_like(v)
    out_va = np.empty_like(v)
    out_i = np.empty_like(v)
    out_ia = np.empty_like(v)
    for e, w in enumerate(wiring):
        line = (w.ct_line - 1) if w.ct_line is not None else e
        if line >= elements:
            raise ValueError(f"ct_line {w.ct_line} does not exist on a {elements}-element meter")
        out_v[e] = v[e] if w.voltage_connected else 0.0
        out_va[e] = line_angle[e]
        out_i[e] = i[line] if w.ct_connected else 0.0
        out_ia[e] = line_angle[line] - phi[line] + (180.0 if w.ct_reversed else 0.0)
    return ElementInputs(
        voltage_v=out_v, voltage_angle_deg=out_va, current_a=out_i, current_angle_deg=wrap_deg(out_ia)
    )
