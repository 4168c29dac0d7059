"""Alerts: DCAP events to stored, pushed alerts; idempotency; communication loss; battery; reverse phase."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meshmeter.amr.dcap import DcapEvent
from meshmeter.amr.frames import PowerLoss
from meshmeter.amr.records import TamperEvent, TemperatureReading
from meshmeter.headend.alerts import (
    DEFAULT_CHANNELS,
    AlertKind,
    active_alerts,
    alerts,
    alerts_from_dcap,
    check_battery,
    check_communication,
    check_reverse_phase,
    communication_status,
    raise_alert,
)
from meshmeter.store import Store
from tests.headend.conftest import EUI, add_meter

T0 = datetime(2026, 1, 1, tzinfo=UTC)
S0 = int(T0.timestamp())
REPEATER = bytes.fromhex("aabbccddeeff0011")


def _tamper(time_s: int, cover_open: bool) -> DcapEvent:
    return DcapEvent(EUI, float(time_s) + 0.5, TamperEvent(time_s, cover_open))


def _outbox(store: Store) -> dict[str, dict[str, object]]:
    """The pending outbox messages' payloads by idempotency key."""
    messages = store.outbox_claim(limit=1000, now=T0 + timedelta(days=3650))
    return {m.idempotency_key: m.payload for m in messages}


def test_tamper_event_becomes_an_alert_of_the_meter_and_is_pushed(store):
    meter = add_meter(store)
    added = alerts_from_dcap(store, [_tamper(S0 + 60, True)])
    assert len(added) == 1
    alert = added[0]
    assert alert.kind is AlertKind.TAMPER
    assert alert.active is True
    assert alert.meter_id == meter.id
    assert alert.eui64 == EUI
    assert alert.at == T0 + timedelta(seconds=60)
    assert alert.key == f"tamper:{EUI.hex()}:{S0 + 60}:raised"
    assert alert.detail["cover_open"] is True
    [event] = store.events(kind="alert.tamper")
    assert event.id == alert.id
    assert event.meter_id == meter.id
    # one push message per channel, the key deterministic
    pushed = _outbox(store)
    assert sorted(pushed) == sorted(f"alert:{alert.key}:{c}" for c in DEFAULT_CHANNELS)
    payload = pushed[f"alert:{alert.key}:mqtt"]
    assert payload["type"] == "alert"
    assert payload["kind"] == "tamper"
    assert payload["active"] is True
    assert payload["event_id"] == alert.id
    assert payload["meter"] == "MM00000001"
    assert payload["eui64"] == EUI.hex()
    assert payload["at"] == "2026-01-01T00:01:00Z"


def test_the_same_dcap_event_twice_gives_one_alert(store):
    add_meter(store)
    events = [_tamper(S0 + 60, True), _tamper(S0 + 60, True)]
    first = alerts_from_dcap(store, events)
    second = alerts_from_dcap(store, events)
    assert len(first) == 1
    assert second == []
    assert len(store.events(kind="alert.tamper")) == 1
    assert store.outbox_pending() == len(DEFAULT_CHANNELS)


def test_cover_replaced_clears_the_tamper_alert(store):
    add_meter(store)
    alerts_from_dcap(store, [_tamper(S0 + 60, True)])
    assert [a.kind for a in active_alerts(store)] == [AlertKind.TAMPER]
    cleared = alerts_from_dcap(store, [_tamper(S0 + 600, False)])
    assert [a.active for a in cleared] == [False]
    assert active_alerts(store) == []
    assert [a.active for a in alerts(store)] == [True, False]


def test_events_out_of_order_leave_the_latest_state(store):
    add_meter(store)
    alerts_from_dcap(store, [_tamper(S0 + 600, True), _tamper(S0 + 60, False)])
    [alert] = active_alerts(store)
    assert alert.at == T0 + timedelta(seconds=600)


def test_repeater_power_loss_and_return(store):
    added = alerts_from_dcap(
        store,
        [
            DcapEvent(REPEATER, float(S0), PowerLoss(S0, False)),
            DcapEvent(EUI, float(S0), TemperatureReading(S0, 21.5)),  # not an alert
        ],
    )
    assert [(a.kind, a.active, a.meter_id, a.eui64) for a in added] == [
        (AlertKind.REPEATER_POWER_LOSS, True, None, REPEATER)
    ]
    assert len(active_alerts(store)) == 1
    alerts_from_dcap(store, [DcapEvent(REPEATER, float(S0 + 900), PowerLoss(S0 + 900, True))])
    assert active_alerts(store) == []


def test_eui_to_meter_mapping_and_unknown_devices(store):
    meter = add_meter(store, eui64=None)
    [mapped] = alerts_from_dcap(store, [_tamper(S0, True)], eui_to_meter={EUI: meter.id})
    assert mapped.meter_id == meter.id
    other = bytes(8)
    [unknown] = alerts_from_dcap(store, [DcapEvent(other, 0.0, TamperEvent(S0, True))])
    assert unknown.meter_id is None
    assert unknown.eui64 == other


def test_channels_are_chosen(store):
    add_meter(store)
    alerts_from_dcap(store, [_tamper(S0, True)], channels=["webhook"])
    assert store.outbox_pending(channel="webhook") == 1
    assert store.outbox_pending(channel="mqtt") == 0


def test_bad_events_are_refused(store):
    with pytest.raises(ValueError, match=r"events\[0\] must be a DcapEvent"):
        alerts_from_dcap(store, [TamperEvent(S0, True)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="channels must be a sequence"):
        alerts_from_dcap(store, [], channels="mqtt")


# -- raise_alert, reverse phase -----------------------------------------------------------------------


def test_raise_alert_is_idempotent_by_key(store):
    meter = add_meter(store)
    one = raise_alert(store, "reverse_phase", at=T0, meter_id=meter.id, detail={"elements": [2]})
    two = raise_alert(store, AlertKind.REVERSE_PHASE, at=T0, meter_id=meter.id, detail={"elements": [2]})
    assert one == two
    assert len(store.events(kind="alert.reverse_phase")) == 1
    assert store.outbox_pending() == len(DEFAULT_CHANNELS)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "fire", "at": T0, "meter_id": 1}, "kind must be one of"),
        ({"kind": "tamper", "at": T0}, "needs a meter_id or an eui64"),
        ({"kind": "tamper", "at": datetime(2026, 1, 1), "meter_id": 1}, "timezone-aware"),
        ({"kind": "tamper", "at": T0, "meter_id": 999}, "meter"),
    ],
)
def test_raise_alert_bad_input(store, kwargs, match):
    add_meter(store)
    with pytest.raises(ValueError, match=match):
        raise_alert(store, **kwargs)


def test_reverse_phase_from_element_powers(store):
    meter = add_meter(store)
    # element 2 at -300 W: a reversed CT (manual §7)
    raised = check_reverse_phase(store, meter_id=meter.id, at=T0, element_power_w=[1200.0, -300.0])
    assert raised is not None
    assert raised.active
    assert raised.detail["elements"] == [2]
    # still reversed: nothing new
    assert (
        check_reverse_phase(store, meter_id=meter.id, at=T0 + timedelta(minutes=5), element_power_w=[1, -300])
        is None
    )
    # -2 W is within the threshold (5 W): not reversed, the alert clears
    cleared = check_reverse_phase(
        store, meter_id=meter.id, at=T0 + timedelta(hours=1), element_power_w=[10, -2]
    )
    assert cleared is not None
    assert not cleared.active
    assert active_alerts(store) == []
    with pytest.raises(ValueError, match="element_power_w"):
        check_reverse_phase(store, meter_id=meter.id, at=T0, element_power_w=[float("nan")])


# -- low battery ----------------------------------------------------------------------------------------


def test_low_battery_raised_once_and_cleared(store):
    meter = add_meter(store)
    assert check_battery(store, {EUI: 0.5}, at=T0) == []
    [low] = check_battery(store, {EUI: 0.05}, at=T0 + timedelta(days=1))
    assert (low.kind, low.active, low.meter_id, low.eui64) == (AlertKind.LOW_BATTERY, True, meter.id, EUI)
    assert low.detail["fraction_left"] == 0.05
    assert check_battery(store, {EUI: 0.04}, at=T0 + timedelta(days=2)) == []  # still low: nothing new
    [ok] = check_battery(store, {EUI: 1.0}, at=T0 + timedelta(days=3))  # a new cell
    assert not ok.active
    assert active_alerts(store) == []


@pytest.mark.parametrize(
    ("levels", "kwargs", "match"),
    [
        ({EUI: 1.5}, {}, r"fraction_left\[0011223344556677\]"),
        ({b"short": 0.5}, {}, "8-byte"),
        ({EUI: 0.5}, {"low_fraction": 0}, "low_fraction"),
    ],
)
def test_battery_bad_input(store, levels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_battery(store, levels, at=T0, **kwargs)


# -- communication loss ---------------------------------------------------------------------------------


def _intervals(store: Store, meter_id: int, last: datetime, count: int = 4) -> None:
    rows = [(last - timedelta(minutes=15 * i), 100) for i in range(count)]
    store.insert_raw_intervals(meter_id=meter_id, rows=rows, source="test", received_at=last)


def test_communication_status_with_a_fake_now(store):
    heard = add_meter(store, "M1", eui64=None)
    quiet = add_meter(store, "M2", eui64=None)
    never = add_meter(store, "M3", eui64=None)
    _intervals(store, heard.id, T0)
    _intervals(store, quiet.id, T0 - timedelta(days=40))
    now = T0 + timedelta(minutes=30)
    status = {s.serial: s for s in communication_status(store, now=now, silence_s=3600)}
    assert status["M1"].last_interval_end == T0
    assert status["M1"].last_received_at == T0
    assert status["M1"].age_s == 1800.0
    assert not status["M1"].silent
    assert status["M2"].last_interval_end == T0 - timedelta(days=40)
    assert status["M2"].age_s == 40 * 86400 + 1800
    assert status["M2"].silent
    assert status["M3"].last_interval_end is None
    assert status["M3"].silent
    assert never.id == status["M3"].meter_id


def test_communication_loss_raised_once_then_cleared(store):
    meter = add_meter(store, eui64=None)
    _intervals(store, meter.id, T0)
    # within the silence: nothing
    assert check_communication(store, now=T0 + timedelta(hours=1), silence_s=7200) == []
    # silent for more than 2 h: one alert, dated when the silence passed the threshold
    [lost] = check_communication(store, now=T0 + timedelta(hours=3), silence_s=7200)
    assert (lost.kind, lost.active, lost.meter_id) == (AlertKind.COMM_LOSS, True, meter.id)
    assert lost.at == T0 + timedelta(hours=2)
    assert lost.detail["last_interval_end"] == T0.isoformat()
    # checked again, later: the same silence, nothing new, nothing more pushed
    pending = store.outbox_pending()
    assert check_communication(store, now=T0 + timedelta(hours=9), silence_s=7200) == []
    assert store.outbox_pending() == pending
    assert [a.kind for a in active_alerts(store)] == [AlertKind.COMM_LOSS]
    # heard again: cleared
    _intervals(store, meter.id, T0 + timedelta(hours=10), count=1)
    [back] = check_communication(store, now=T0 + timedelta(hours=10, minutes=5), silence_s=7200)
    assert not back.active
    assert active_alerts(store) == []
    # silent again: a new loss
    [again] = check_communication(store, now=T0 + timedelta(hours=13), silence_s=7200)
    assert again.active
    assert again.key != lost.key


def test_a_meter_never_heard_raises_no_loss(store):
    add_meter(store, eui64=None)
    assert check_communication(store, now=T0) == []


def test_communication_bad_input(store):
    with pytest.raises(ValueError, match="silence_s"):
        communication_status(store, now=T0, silence_s=0)
    with pytest.raises(ValueError, match="now"):
        check_communication(store, now=datetime(2026, 1, 1))


# -- reading -------------------------------------------------------------------------------------------


def test_alerts_and_active_alerts_since(store):
    meter = add_meter(store)
    alerts_from_dcap(store, [_tamper(S0, True)])
    raise_alert(store, "reverse_phase", at=T0 + timedelta(hours=2), meter_id=meter.id)
    store.add_event(kind="tamper", at=T0, meter_id=meter.id)  # an event, not an alert
    assert [a.kind for a in alerts(store)] == [AlertKind.TAMPER, AlertKind.REVERSE_PHASE]
    assert [a.kind for a in active_alerts(store, since=T0 + timedelta(hours=1))] == [AlertKind.REVERSE_PHASE]
    assert [a.kind for a in alerts(store, since=T0)] == [AlertKind.REVERSE_PHASE]  # at > since


def _wait(condition, timeout_s: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "not true in time"
        time.sleep(0.01)


def test_communication_watch_checks_with_its_clock(store):
    from meshmeter.headend.alerts import CommunicationWatch

    meter = add_meter(store, eui64=None)
    _intervals(store, meter.id, T0)
    now = [T0 + timedelta(hours=1)]
    watch = CommunicationWatch(store, every_s=60, silence_s=7200, clock=lambda: now[0])
    assert watch.check_now() == []
    now[0] = T0 + timedelta(hours=3)
    [lost] = watch.check_now()
    assert (lost.kind, lost.meter_id) == (AlertKind.COMM_LOSS, meter.id)
    assert (watch.checks, watch.raised, watch.running) == (2, 1, False)


def test_communication_watch_runs_periodically_until_stopped(store):
    from meshmeter.headend.alerts import CommunicationWatch

    meter = add_meter(store, eui64=None)
    _intervals(store, meter.id, T0)
    watch = CommunicationWatch(store, every_s=0.02, silence_s=7200, clock=lambda: T0 + timedelta(hours=3))
    watch.start()
    watch.start()  # already running: nothing more
    try:
        assert watch.running
        _wait(lambda: watch.checks >= 3)
    finally:
        watch.stop()
    assert not watch.running
    assert watch.raised == 1  # raised once, however often checked
    assert [a.kind for a in active_alerts(store)] == [AlertKind.COMM_LOSS]
    checks = watch.checks
    import time

    time.sleep(0.1)
    assert watch.checks == checks  # stopped: no more checks


def test_communication_watch_survives_a_failing_check(store):
    from meshmeter.headend.alerts import CommunicationWatch

    def broken() -> datetime:
        raise OSError("clock gone")

    watch = CommunicationWatch(store, every_s=0.02, clock=broken)
    watch.start()
    try:
        _wait(lambda: watch.last_error is not None)
        assert watch.running
    finally:
        watch.stop()
    assert watch.last_error == "OSError: clock gone"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"every_s": 0}, "every_s"),
        ({"every_s": float("nan")}, "every_s"),
        ({"every_s": 1, "silence_s": -1}, "silence_s"),
        ({"every_s": 1, "channels": "mqtt"}, "channels must be a sequence"),
    ],
)
def test_communication_watch_bad_arguments(store, kwargs, match):
    from meshmeter.headend.alerts import CommunicationWatch

    with pytest.raises(ValueError, match=match):
        CommunicationWatch(store, **kwargs)
