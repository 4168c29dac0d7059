"""A meter's wiring, diagnosed from what the head-end holds (manual §4.5, §4.7, §7; issue 15).

The twin, or a technician's tool, stores each meter's per-element measurements as an event
(:data:`DIAGNOSIS_EVENT`); :func:`diagnosis` runs :func:`meshmeter.meter.diagnostics.diagnose` on the latest
of them and adds the elements a reverse-phase alert in force names. The meter page shows it whole, and
the attention list (:mod:`meshmeter.services.attention`: the dashboard's overview and ``meshmeter
status``) lists its errors, so that both say the same. Reads only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from meshmeter.catalog.designations import decode_meter
from meshmeter.headend.alerts import Alert, AlertKind
from meshmeter.meter.diagnostics import ElementMeasurement, Finding, diagnose
from meshmeter.services.alert_words import ALERT_WORDS, describe
from meshmeter.store import Meter, Store

__all__ = ["DIAGNOSIS_EVENT", "Diagnosis", "diagnosis"]

DIAGNOSIS_EVENT = "element_measurements"
"""Kind of the event whose ``detail`` holds a meter's per-element measurements for the wiring diagnosis:
``{"elements": [{"element", "voltage_v", "voltage_angle_deg", "current_a", "current_angle_deg",
"power_w"[, "ct_open"]}, ...][, "frequency_hz"]}`` (``docs/dashboard.md``)."""


@dataclass(frozen=True)
class Diagnosis:
    """The wiring diagnosis of a meter (manual §4.5, §4.7, §7)."""

    measured_at: datetime | None
    """When the element measurements were taken; None when the store holds none."""
    measurements: list[ElementMeasurement] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    reverse_elements: list[int] = field(default_factory=list)
    """Elements of a reverse-phase alert in force, numbered from 1."""
    error: str | None = None
    """Why stored measurements could not be diagnosed."""

    @property
    def reverse_phase(self) -> str | None:
        """The reverse-phase alert in force in words, with what to do, as every other door says it
        (:mod:`meshmeter.services.alert_words`); None when none is in force."""
        if not self.reverse_elements:
            return None
        words = ALERT_WORDS[AlertKind.REVERSE_PHASE]
        return (
            f"{describe(AlertKind.REVERSE_PHASE, {'elements': self.reverse_elements})}: an alert in force. "
            f"What to do: {words.action}."
        )


def diagnosis(store: Store, meter: Meter, alerts: Sequence[Alert]) -> Diagnosis:
    """
    Diagnose a meter's wiring from its latest stored element measurements (:data:`DIAGNOSIS_EVENT`).

    Parameters
    ----------
    store : Store
        The store.
    meter : Meter
        The meter.
    alerts : sequence of Alert
        The alerts in force: a reverse-phase one names the reversed elements even without measurements.

    Returns
    -------
    Diagnosis
        The findings of :func:`~meshmeter.meter.diagnostics.diagnose` on the measurements of the latest
        event, or none with ``measured_at`` None when there is no such event.
    """
    reverse = sorted(
        {
            int(e)
            for a in alerts
            if a.kind is AlertKind.REVERSE_PHASE and a.meter_id == meter.id and a.active
            for e in a.detail.get("elements", [])
        }
    )
    found = store.events(meter_id=meter.id, kind=DIAGNOSIS_EVENT)
    if not found:
        return Diagnosis(None, reverse_elements=reverse)
    event = found[-1]
    try:
        elements = decode_meter(meter.designation).elements
    except ValueError:
        elements = 2
    try:
        measurements = [
            ElementMeasurement(
                element=int(item["element"]),
                voltage_v=float(item["voltage_v"]),
                voltage_angle_deg=float(item["voltage_angle_deg"]),
                current_a=float(item["current_a"]),
                current_angle_deg=float(item["current_angle_deg"]),
                power_w=float(item["power_w"]),
                ct_open=bool(item.get("ct_open", False)),
            )
            for item in event.detail["elements"]
        ]
        frequency = event.detail.get("frequency_hz")
        findings = diagnose(
            measurements, elements=elements, frequency_hz=None if frequency is None else float(frequency)
        )
    except (KeyError, TypeError, ValueError) as exc:
        return Diagnosis(
            event.at, reverse_elements=reverse, error=f"the stored measurements are unusable: {exc}"
        )
    return Diagnosis(event.at, measurements, findings, reverse)
