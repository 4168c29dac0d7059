"""Faults a bench can inject into a meter twin, to see the evaluation fail where it should.

* ``gain=+1%``: the gain adjustment off by a percentage (the current channel reads that much high);
* ``ct-ratio=R``: a CT of ratio R (``1000`` or ``100:0.1``) installed on a meter that scales its current
  by the designation's 2000 (200:0.1 A, certificate p.1);
* ``reversed-ct`` or ``reversed-ct=E``: element E's CT (default 1) installed backwards (manual §4.5.1);
* ``phase-deg=D``: the phase compensation off by D degrees at 60 Hz; positive D delays the current
  channel more, so a lagging load reads low and a leading one high.

The faults use the twin's own parameters: its calibration (the two metrologically adjustable components,
certificate p.2 Fig. 2), its wiring and its installed CT ratio.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from meshmeter.catalog import decode_meter
from meshmeter.meter.ct import CurrentTransformer
from meshmeter.meter.installation import ElementWiring
from meshmeter.meter.metrology import Calibration, factory_calibration
from meshmeter.meter.seals import Provision, SealKind, standard_seals
from meshmeter.meter.twin import DEFAULT_START, Meter

__all__ = ["FAULT_FORMS", "Fault", "build_meter", "parse_fault"]

FaultKind = Literal["gain", "ct-ratio", "reversed-ct", "phase-deg"]

FAULT_FORMS = "gain=±P%, ct-ratio=R (e.g. 1000 or 100:0.1), reversed-ct[=E], phase-deg=D"
"""The accepted forms, for help and error messages."""

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"


@dataclass(frozen=True)
class Fault:
    """
    One injected fault.

    Parameters
    ----------
    kind : {"gain", "ct-ratio", "reversed-ct", "phase-deg"}
    value : float
        Gain error [%], installed CT ratio [1], reversed element [1], or phase error [deg].
    text : str
        The fault as written, canonical (``"gain=+1%"``).
    """

    kind: FaultKind
    value: float
    text: str


def parse_fault(text: str) -> Fault:
    """
    Parse a fault string.

    Parameters
    ----------
    text : str
        ``gain=+1%``, ``ct-ratio=1000``, ``ct-ratio=100:0.1``, ``reversed-ct``, ``reversed-ct=2``,
        ``phase-deg=1``.

    Returns
    -------
    Fault

    Raises
    ------
    ValueError
        Naming ``fault`` and the text, with the accepted forms.
    """
    if not isinstance(text, str):
        raise ValueError(f"fault must be a string ({FAULT_FORMS}), got {text!r}")
    s = text.strip().lower()
    key, sep, value = s.partition("=")
    try:
        if key == "gain" and (m := re.fullmatch(f"({_NUMBER})%", value)):
            pct = float(m.group(1))
            if not math.isfinite(pct) or pct <= -100.0:
                raise ValueError
            return Fault("gain", pct, f"gain={pct:+g}%")
        if key == "ct-ratio" and sep:
            primary, colon, secondary = value.partition(":")
            if colon:
                if not (re.fullmatch(_NUMBER, primary) and re.fullmatch(_NUMBER, secondary)):
                    raise ValueError
                ratio = float(primary) / float(secondary)
            elif re.fullmatch(_NUMBER, value):
                ratio = float(value)
            else:
                raise ValueError
            if not (math.isfinite(ratio) and ratio > 0):
                raise ValueError
            return Fault("ct-ratio", ratio, f"ct-ratio={ratio:g}")
        if key == "reversed-ct" and (not sep or value in ("1", "2")):
            element = int(value) if sep else 1
            return Fault("reversed-ct", float(element), f"reversed-ct={element}")
        if key == "phase-deg" and re.fullmatch(_NUMBER, value):
            deg = float(value)
            if not math.isfinite(deg) or abs(deg) >= 90.0:
                raise ValueError
            return Fault("phase-deg", deg, f"phase-deg={deg:g}")
    except (ValueError, ZeroDivisionError, OverflowError):
        pass
    raise ValueError(f"fault must be one of {FAULT_FORMS}, got {text!r}")


def build_meter(
    model: str = "MM-D1202001-T-SCC",
    *,
    serial: str = "MM00000001",
    faults: Sequence[Fault] = (),
    start: datetime = DEFAULT_START,
    provision: Provision = Provision.NEW,
) -> Meter:
    """
    A meter as it arrives at the bench: factory calibrated and factory sealed, faults injected.

    Parameters
    ----------
    model : str
        Meter designation (certificate p.1).
    serial : str
        Serial number.
    faults : sequence of Fault
        At most one of each kind.
    start : datetime
        Wall time of the start of the evaluation (UTC).
    provision : Provision
        Sealing provision (certificate p.2).

    Returns
    -------
    Meter
        With the factory seals applied (certificate p.2), no installation seals.
    """
    spec = decode_meter(model)
    kinds = [f.kind for f in faults]
    for kind in kinds:
        if kinds.count(kind) > 1:
            raise ValueError(f"faults must name each kind at most once, got {kind!r} twice")
    ct = CurrentTransformer(primary_a=spec.ct_primary_a, secondary_a=spec.ct_secondary_a)
    factory = factory_calibration(ct, spec.ratings.test_amperes_a)
    gain = factory.gain
    phase_min = factory.phase_compensation_min
    ratio: float | None = None
    reversed_elements: set[int] = set()
    for fault in faults:
        if fault.kind == "gain":
            gain *= 1.0 + fault.value / 100.0
        elif fault.kind == "phase-deg":
            phase_min += fault.value * 60.0
        elif fault.kind == "ct-ratio":
            ratio = fault.value
        else:
            element = int(fault.value)
            if element > spec.elements:
                raise ValueError(
                    f"fault {fault.text!r} names element {element}, but {spec.designation} has "
                    f"{spec.elements} element(s)"
                )
            reversed_elements.add(element)
    wiring = tuple(ElementWiring(ct_reversed=e in reversed_elements) for e in range(1, spec.elements + 1))
    meter = Meter(
        spec,
        serial=serial,
        ct=ct,
        calibration=Calibration(gain=gain, phase_compensation_min=phase_min),
        wiring=wiring,
        ct_ratio_installed=ratio,
        start=start,
        provision=provision,
        sealed=False,
        led_timeline_limit=16,
    )
    for seal in standard_seals(provision, applied_at=start, applied_by="factory", kinds=(SealKind.FACTORY,)):
        meter.audit.apply_seal(seal)
    return meter
