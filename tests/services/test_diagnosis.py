"""A meter's wiring diagnosed from its stored element measurements (manual §4.5, §4.7, §7; no HTTP).

Element 2 of a dual-element meter on a 120/240 V service (L2 at 180°), 4 A lagging by 10°; reversed, its
current is at -10° instead of 170° and its power negative.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meshmeter.headend.alerts import active_alerts, check_reverse_phase
from meshmeter.meter.diagnostics import FindingCode
from meshmeter.services.alert_words import ALERT_WORDS, alert_meaning
from meshmeter.services.diagnosis import DIAGNOSIS_EVENT, diagnosis
from meshmeter.store import Store

T0 = datetime(2026, 1, 1, 8, tzinfo=UTC)


@pytest.fixture
def store():
    opened = Store("sqlite:///:memory:")
    try:
        yield opened
    finally:
        opened.close()


def _meter(store, serial="A1", site_id=None):
    return store.create_meter(serial=serial, designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site_id)


def _measurements(power2=-472.7, angle2=-10.0):
    return {
        "elements": [
            {"element": 1, "voltage_v": 120.0, "voltage_angle_deg": 0.0, "current_a": 4.0,
             "current_angle_deg": -10.0, "power_w": 472.7},
            {"element": 2, "voltage_v": 120.0, "voltage_angle_deg": 180.0, "current_a": 4.0,
             "current_angle_deg": angle2, "power_w": power2},
        ],
        "frequency_hz": 60.0,
    }  # fmt: skip


def test_diagnosis_of_a_reversed_ct(store):
    meter = _meter(store)
    assert diagnosis(store, meter, []).measured_at is None
    check_reverse_phase(store, meter_id=meter.id, at=T0, element_power_w=[480.0, -470.0])
    store.add_event(kind=DIAGNOSIS_EVENT, at=T0, meter_id=meter.id, detail=_measurements())
    found = diagnosis(store, meter, active_alerts(store))
    assert found.measured_at == T0
    assert found.reverse_elements == [2]
    assert [(f.code, f.element) for f in found.findings] == [(FindingCode.CT_REVERSED, 2)]
    # the meter page says it in the words of the alert itself, as `meshmeter alerts` and the overview do
    (alert,) = active_alerts(store)
    assert found.reverse_phase == (
        f"{alert_meaning(alert)}: an alert in force. What to do: {ALERT_WORDS[alert.kind].action}."
    )
    assert found.reverse_phase.startswith("Reverse phase on element 2 (CT2)")
    assert diagnosis(store, meter, []).reverse_phase is None


def test_diagnosis_of_a_healthy_meter(store):
    meter = _meter(store)
    # CT2 current lags the L2 voltage (180°) by 10°: at 170°
    store.add_event(kind=DIAGNOSIS_EVENT, at=T0, meter_id=meter.id, detail=_measurements(472.7, 170.0))
    found = diagnosis(store, meter, [])
    assert found.findings == []
    assert found.error is None


@pytest.mark.parametrize(
    "detail",
    [{}, {"elements": [{"element": 1}]}, {"elements": [{**_measurements()["elements"][0], "element": 7}]}],
)
def test_diagnosis_of_unusable_measurements_says_so(store, detail):
    meter = _meter(store)
    store.add_event(kind=DIAGNOSIS_EVENT, at=T0, meter_id=meter.id, detail=detail)
    found = diagnosis(store, meter, [])
    assert found.error is not None
    assert found.error.startswith("the stored measurements are unusable")
    assert found.findings == []
