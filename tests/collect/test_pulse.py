"""Pulse counters over MQTT (``meshmeter.collect.pulse``): each format's payloads as its project documents
them, bad payloads with their reasons, topic filters, and one run through the real Mosquitto broker into
``advance()``.

Sources of the payloads (named again at each test):

- ESPHome: https://esphome.io/components/sensor/pulse_meter/ (``total: name: "Total Pulses"``),
  https://esphome.io/components/sensor/pulse_counter/, https://esphome.io/components/mqtt/ (state topics
  ``<topic_prefix>/<component>/<object_id>/state``, ``<topic_prefix>/status`` ``online``).
- Tasmota: https://tasmota.github.io/docs/MQTT/ (``tele/tasmota/SENSOR {"Time":"2017-02-16T10:13:52",
  "DS18B20":{"Temperature":20.6}}``), https://tasmota.github.io/docs/Commands/ (``Time`` 1-4, ``Counter``,
  ``SetOption52``), https://tasmota.github.io/docs/devices/Sonoff-Pow-R2/ (``ENERGY``); the ``COUNTER``
  object as Tasmota's ``xsns_01_counter.ino`` writes it (``"COUNTER":{"C1":123}``).
- Shelly: https://shelly-api-docs.shelly.cloud/gen2/General/Notifications (NotifyStatus),
  https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Switch (status ``aenergy``),
  .../EM1Data (``total_act_energy``), .../Input (counter ``counts``), .../Mqtt (``<topic_prefix>/status/
  <component:id>``); https://shelly-api-docs.shelly.cloud/gen1/#mqtt (``relay/<i>/energy`` in watt-minutes,
  ``emeter/<i>/total`` in Wh).
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import time
from datetime import UTC, datetime
from decimal import Decimal

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from meshmeter.collect.pulse import (
    ESPHOME_PULSE_COUNTER,
    ESPHOME_PULSE_METER,
    PULSE_FORMATS,
    SHELLY_GEN1,
    SHELLY_GEN2,
    TASMOTA_COUNTER,
    TASMOTA_ENERGY,
    check_format,
    device_of,
    parse_pulse_message,
    subscriptions,
)
from meshmeter.collect.readings import ChannelConfig, Reading, Rejection, advance, epoch_ms
from meshmeter.errors import PayloadError
from meshmeter.headend.mqtt import parse_mqtt_url

RECEIVED_MS = epoch_ms(datetime(2026, 1, 15, 18, 7, 30, tzinfo=UTC))
"""When the test's messages were received: 2026-01-15 18:07:30 UTC (10:07:30 PST)."""


def parse(fmt: str, topic: str, payload: str | bytes, **kwargs: object) -> list[Reading]:
    body = payload.encode() if isinstance(payload, str) else payload
    received = kwargs.pop("received_at_ms", RECEIVED_MS)
    assert isinstance(received, int)
    timezone = kwargs.pop("timezone", None)
    assert timezone is None or isinstance(timezone, str)
    return parse_pulse_message(fmt, topic, body, received_at_ms=received, timezone=timezone)


def refused(fmt: str, topic: str, payload: str | bytes, **kwargs: object) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        parse(fmt, topic, payload, **kwargs)
    return caught.value


# --- ESPHome ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [ESPHOME_PULSE_METER, ESPHOME_PULSE_COUNTER])
def test_esphome_total_sensor_is_a_pulse_count_at_receipt(fmt: str) -> None:
    # pulse_meter doc: "total: name: 'Total Pulses'" -> object_id total_pulses; node "livingroom" (mqtt doc)
    readings = parse(fmt, "livingroom/sensor/total_pulses/state", "1234")
    assert readings == [Reading("livingroom", "total_pulses", RECEIVED_MS, Decimal(1234), "pulse")]
    # accuracy_decimals on the total gives "1234.00": still whole pulses
    assert parse(fmt, "livingroom/sensor/total_pulses/state", "1234.00")[0].value == Decimal(1234)


@pytest.mark.parametrize(
    "topic",
    [
        "livingroom/sensor/pulse_meter/state",  # the rate sensor (pulse_meter doc's name "Pulse Meter")
        "livingroom/sensor/electricity_usage/state",  # the doc's kW rate sensor
        "livingroom/status",  # birth message "online" (mqtt doc)
        "livingroom/binary_sensor/door/state",
        "livingroom/debug",
    ],
)
def test_esphome_topics_without_energy_are_ignored(topic: str) -> None:
    assert parse(ESPHOME_PULSE_METER, topic, "online" if topic.endswith("status") else "12.5") == []


def test_esphome_topic_prefix_with_slashes_is_the_device() -> None:
    # mqtt doc: topic_prefix "home/living_room" for wildcards like home/+/#
    [reading] = parse(ESPHOME_PULSE_COUNTER, "home/living_room/sensor/energy_meter_total/state", "7")
    assert (reading.device, reading.channel, reading.value) == (
        "home/living_room",
        "energy_meter_total",
        Decimal(7),
    )


@pytest.mark.parametrize(
    ("payload", "reason", "words"),
    [
        ("nan", Rejection.MALFORMED, "not a number"),  # ESPHome publishes NaN states as "nan"
        ("", Rejection.MALFORMED, "not a number"),
        ("12 pulses", Rejection.MALFORMED, "not a number"),
        ("true", Rejection.MALFORMED, "not a number"),
        ("-5", Rejection.MALFORMED, "negative"),
        (b"\xff\xfe", Rejection.MALFORMED, "UTF-8"),
        ("1.234", Rejection.SCALE, "filters"),  # total with "multiply: 0.001" (pulse_counter doc's kWh total)
    ],
)
def test_esphome_bad_payloads(payload: str | bytes, reason: Rejection, words: str) -> None:
    error = refused(ESPHOME_PULSE_METER, "livingroom/sensor/total_pulses/state", payload)
    assert error.reason == reason
    assert "livingroom/sensor/total_pulses/state" in error.detail
    assert "state" in error.detail
    assert words in error.detail


@pytest.mark.parametrize(
    ("fmt", "topic", "payload"),
    [
        (ESPHOME_PULSE_METER, "n/sensor/total/state", "1e999999999"),
        (SHELLY_GEN1, "shellies/s1/relay/0/energy", "12345678901234567890"),
        (TASMOTA_COUNTER, "tele/t/SENSOR", '{"COUNTER":{"C1":12345678901234567890}}'),
        (SHELLY_GEN2, "s/status/switch:0", '{"aenergy":{"total":1E+400}}'),
        (TASMOTA_COUNTER, "tele/t/SENSOR", '{"COUNTER":{"C1":' + "9" * 5000 + "}}"),
    ],
)
def test_absurdly_large_values_are_refused_at_once(fmt: str, topic: str, payload: str) -> None:
    started = time.monotonic()
    error = refused(fmt, topic, payload)
    assert error.reason == Rejection.MALFORMED
    assert time.monotonic() - started < 1.0


def test_esphome_foreign_topic_is_malformed() -> None:
    error = refused(ESPHOME_PULSE_METER, "livingroom", "5")
    assert error.reason == Rejection.MALFORMED
    assert "<node>/sensor/<object_id>/state" in error.detail


# --- Tasmota ------------------------------------------------------------------------------------------

TASMOTA_COUNTER_PAYLOAD = '{"Time":"2026-01-15T10:07:29","COUNTER":{"C1":123,"C2":45}}'


def test_tasmota_counter_local_time_in_the_device_zone() -> None:
    # Time is local device time (Commands doc, "Time 1"); the device runs on America/Los_Angeles (PST, -8 h)
    readings = parse(
        TASMOTA_COUNTER, "tele/tasmota/SENSOR", TASMOTA_COUNTER_PAYLOAD, timezone="America/Los_Angeles"
    )
    at = epoch_ms(datetime(2026, 1, 15, 18, 7, 29, tzinfo=UTC))
    assert readings == [
        Reading("tasmota", "C1", at, Decimal(123), "pulse"),
        Reading("tasmota", "C2", at, Decimal(45), "pulse"),
    ]


def test_tasmota_local_time_without_zone_uses_receipt() -> None:
    readings = parse(TASMOTA_COUNTER, "tele/tasmota/SENSOR", TASMOTA_COUNTER_PAYLOAD)
    assert [r.at_ms for r in readings] == [RECEIVED_MS, RECEIVED_MS]


@pytest.mark.parametrize(
    ("time_fields", "expected"),
    [
        # Commands doc / CmndTime: Time 2 {"Time":"2019-09-04T14:31:29","Epoch":1567600289}: Epoch is UTC
        ('"Time":"2019-09-04T14:31:29","Epoch":1567600289', datetime(2019, 9, 4, 12, 31, 29, tzinfo=UTC)),
        # Time 3 {"Time":1567600289}
        ('"Time":1567600289', datetime(2019, 9, 4, 12, 31, 29, tzinfo=UTC)),
        # Time 4 {"Time":"2019-09-04T14:31:29.123"}, local (Europe/Berlin, CEST +2 h)
        ('"Time":"2019-09-04T14:31:29.123"', datetime(2019, 9, 4, 12, 31, 29, 123000, tzinfo=UTC)),
        # SetOption52 1: the offset is in the time
        ('"Time":"2019-09-04T14:31:29+02:00"', datetime(2019, 9, 4, 12, 31, 29, tzinfo=UTC)),
    ],
)
def test_tasmota_time_formats(time_fields: str, expected: datetime) -> None:
    payload = "{" + time_fields + ',"COUNTER":{"C1":1}}'
    [reading] = parse(
        TASMOTA_COUNTER,
        "tele/tasmota/SENSOR",
        payload,
        timezone="Europe/Berlin",
        received_at_ms=epoch_ms(expected) + 900,
    )
    assert reading.at_ms == epoch_ms(expected)


def test_tasmota_repeated_dst_hour_takes_the_instant_nearer_receipt() -> None:
    # 2026-11-01 01:30 happens twice in Los Angeles: 08:30 UTC (PDT) and 09:30 UTC (PST)
    payload = '{"Time":"2026-11-01T01:30:00","COUNTER":{"C1":9}}'
    for received in (
        datetime(2026, 11, 1, 8, 30, 2, tzinfo=UTC),
        datetime(2026, 11, 1, 9, 30, 2, tzinfo=UTC),
    ):
        [reading] = parse(
            TASMOTA_COUNTER,
            "tele/tasmota/SENSOR",
            payload,
            timezone="America/Los_Angeles",
            received_at_ms=epoch_ms(received),
        )
        assert reading.at_ms == epoch_ms(received) - 2000


def test_tasmota_clock_never_set_uses_receipt() -> None:
    # before NTP Tasmota counts from 1970
    [reading] = parse(
        TASMOTA_COUNTER,
        "tele/tasmota/SENSOR",
        '{"Time":"1970-01-01T00:03:12","COUNTER":{"C1":5}}',
        timezone="UTC",
    )
    assert reading.at_ms == RECEIVED_MS


def test_tasmota_energy_total_is_kwh() -> None:
    # https://tasmota.github.io/docs/devices/Sonoff-Pow-R2/ , exactly as shown there
    payload = (
        '{"Time":"2018-02-15T17:37:10","ENERGY":{"TotalStartTime":"2018-11-14T18:39:40","Total":6.294,'
        '"Yesterday":5.340,"Today":0.954,"Period":217,"Power":2635,"ApparentPower":2650,"ReactivePower":282,'
        '"Factor":0.99,"Voltage":227,"Current":11.661}}'
    )
    [reading] = parse(TASMOTA_ENERGY, "tele/pow1/SENSOR", payload, timezone="Europe/Amsterdam")
    assert reading == Reading(
        "pow1", "Total", epoch_ms(datetime(2018, 2, 15, 16, 37, 10, tzinfo=UTC)), Decimal("6.294"), "kWh"
    )
    assert str(reading.value) == "6.294"  # exact, never through a float


def test_tasmota_energy_total_per_phase() -> None:
    # SetOption129 1 (Commands doc): split total energy results, one per phase
    payload = '{"Time":"2024-03-01T12:00:00","ENERGY":{"Total":[1.5,2.25,0.125],"Power":[1,2,3]}}'
    readings = parse(TASMOTA_ENERGY, "tele/pro3/SENSOR", payload)
    assert [(r.channel, r.value) for r in readings] == [
        ("Total1", Decimal("1.5")),
        ("Total2", Decimal("2.25")),
        ("Total3", Decimal("0.125")),
    ]


@pytest.mark.parametrize(
    ("fmt", "topic", "payload"),
    [
        # MQTT doc: a SENSOR message of another sensor
        (
            TASMOTA_COUNTER,
            "tele/tasmota/SENSOR",
            '{"Time":"2017-02-16T10:13:52", "DS18B20":{"Temperature":20.6}}',
        ),
        (TASMOTA_ENERGY, "tele/tasmota/SENSOR", TASMOTA_COUNTER_PAYLOAD),
        (TASMOTA_COUNTER, "tele/tasmota/STATE", '{"Time":"2017-02-16T10:13:52","Uptime":"0T00:05:00"}'),
        (TASMOTA_COUNTER, "tele/tasmota/LWT", "Online"),
        (TASMOTA_ENERGY, "tele/tasmota/INFO3", '{"RestartReason":"Power On"}'),
        (TASMOTA_COUNTER, "stat/tasmota/RESULT", '{"Counter1":0}'),
        # Commands doc, SwitchMode 15: a switch message on tele/.../SENSOR
        (TASMOTA_COUNTER, "tele/tasmota/SENSOR", '{"Time":"2021-01-01T00:00:00","Switch1":"OFF"}'),
    ],
)
def test_tasmota_messages_without_energy_are_ignored(fmt: str, topic: str, payload: str) -> None:
    assert parse(fmt, topic, payload) == []


@pytest.mark.parametrize(
    ("fmt", "payload", "reason", "field"),
    [
        (TASMOTA_COUNTER, "COUNTER C1 123", Rejection.MALFORMED, "not JSON"),
        (TASMOTA_COUNTER, '["COUNTER"]', Rejection.MALFORMED, "not a JSON object"),
        (
            TASMOTA_COUNTER,
            '{"Time":"2026-01-15T10:00:00","COUNTER":{"C1":"123"}}',
            Rejection.MALFORMED,
            "COUNTER.C1",
        ),
        (
            TASMOTA_COUNTER,
            '{"Time":"2026-01-15T10:00:00","COUNTER":{"C1":-1}}',
            Rejection.MALFORMED,
            "COUNTER.C1",
        ),
        (
            TASMOTA_COUNTER,
            '{"Time":"2026-01-15T10:00:00","COUNTER":{"C1":true}}',
            Rejection.MALFORMED,
            "COUNTER.C1",
        ),
        (TASMOTA_COUNTER, '{"Time":"2026-01-15T10:00:00","COUNTER":{"C1":NaN}}', Rejection.MALFORMED, "NaN"),
        (TASMOTA_COUNTER, '{"Time":"2026-01-15T10:00:00","COUNTER":{}}', Rejection.MALFORMED, "COUNTER"),
        (TASMOTA_COUNTER, '{"Time":"2026-01-15T10:00:00","COUNTER":7}', Rejection.MALFORMED, "COUNTER"),
        (TASMOTA_COUNTER, '{"Time":"yesterday","COUNTER":{"C1":1}}', Rejection.MALFORMED, "Time"),
        (TASMOTA_COUNTER, '{"Time":true,"COUNTER":{"C1":1}}', Rejection.MALFORMED, "Time"),
        # CounterType 1: a pulse timer, printed in seconds with six decimals (xsns_01_counter.ino)
        (
            TASMOTA_COUNTER,
            '{"Time":"2026-01-15T10:00:00","COUNTER":{"C1":1.234567}}',
            Rejection.SCALE,
            "CounterType",
        ),
        (
            TASMOTA_ENERGY,
            '{"Time":"2026-01-15T10:00:00","ENERGY":{"Power":12}}',
            Rejection.MALFORMED,
            "ENERGY.Total",
        ),
        (
            TASMOTA_ENERGY,
            '{"Time":"2026-01-15T10:00:00","ENERGY":{"Total":null}}',
            Rejection.MALFORMED,
            "ENERGY.Total",
        ),
        (
            TASMOTA_ENERGY,
            '{"Time":"2026-01-15T10:00:00","ENERGY":{"Total":-0.5}}',
            Rejection.MALFORMED,
            "negative",
        ),
        (
            TASMOTA_ENERGY,
            '{"Time":"2026-01-15T10:00:00","ENERGY":{"Total":Infinity}}',
            Rejection.MALFORMED,
            "Infinity",
        ),
        (
            TASMOTA_ENERGY,
            '{"Time":"2026-01-15T10:00:00","ENERGY":{"Total":[]}}',
            Rejection.MALFORMED,
            "ENERGY.Total",
        ),
    ],
)
def test_tasmota_bad_payloads(fmt: str, payload: str, reason: Rejection, field: str) -> None:
    error = refused(fmt, "tele/tasmota/SENSOR", payload, timezone="America/Los_Angeles")
    assert error.reason == reason
    assert error.detail.startswith("tele/tasmota/SENSOR: ")
    assert field in error.detail


def test_tasmota_foreign_topic_is_malformed() -> None:
    error = refused(TASMOTA_COUNTER, "tasmota/tele/SENSOR/extra", "{}")
    assert error.reason == Rejection.MALFORMED
    assert "tele/<topic>/SENSOR" in error.detail


# --- Shelly Gen2 --------------------------------------------------------------------------------------

SWITCH_STATUS = {
    # The Switch page's Switch.GetStatus example (id, source, output, timer, apower, voltage, aenergy.total as
    # shown there; by_minute, minute_ts and temperature completed in the documented form)
    "id": 0,
    "source": "timer",
    "output": False,
    "timer_started_at": 1626942399.36,
    "timer_duration": 60,
    "apower": 0,
    "voltage": 237.571,
    "aenergy": {"total": 14.093, "by_minute": [0, 0, 0], "minute_ts": 1626942420},
    "temperature": {"tC": 34.5, "tF": 94.1},
}


def test_shelly_gen2_switch_status_topic() -> None:
    # Mqtt page: with status_ntf the whole status goes to <topic_prefix>/status/<component:id>
    payload = json.dumps(SWITCH_STATUS)
    readings = parse(SHELLY_GEN2, "shellyplus1pm-a8032ab12345/status/switch:0", payload)
    assert readings == [
        Reading("shellyplus1pm-a8032ab12345", "switch:0", RECEIVED_MS, Decimal("14.093"), "Wh")
    ]


def test_shelly_gen2_notify_status_carries_the_device_time() -> None:
    # Notifications page, NotifyStatus frame (src/dst/method/params.ts), with a switch's aenergy change
    frame = {
        "src": "shellypro4pm-f008d1d8b8b8",
        "dst": "user_1",
        "method": "NotifyStatus",
        "params": {
            "ts": 1631186545.04,
            "switch:0": {
                "id": 0,
                "aenergy": {"by_minute": [0, 0, 0], "minute_ts": 1631186520, "total": 20.5},
            },
            "switch:1": {"id": 1, "output": True, "source": "button"},
        },
    }
    readings = parse(SHELLY_GEN2, "shellypro4pm-f008d1d8b8b8/events/rpc", json.dumps(frame))
    assert readings == [
        Reading("shellypro4pm-f008d1d8b8b8", "switch:0", 1631186545040, Decimal("20.5"), "Wh")
    ]


def test_shelly_gen2_em1data_and_counter_input() -> None:
    # EM1Data status (total_act_energy, total_act_ret_energy in Wh), as a Pro EM 50 sends it
    em1data = '{"id":1,"total_act_energy":6644.90,"total_act_ret_energy":2595.26}'
    [reading] = parse(SHELLY_GEN2, "shellyproem50-08f9e0e67204/status/em1data:1", em1data)
    assert (reading.channel, reading.value, reading.unit) == ("em1data:1", Decimal("6644.90"), "Wh")
    # Plus Uni: input:2 is the counter input (Input page: counter inputs report accumulated counts)
    counter = '{"id":2,"counts":{"total":4321,"by_minute":[3,2,4],"minute_ts":1707930960},"freq":0.05}'
    [reading] = parse(SHELLY_GEN2, "shellyplusuni-a0b1c2d3e4f5/status/input:2", counter)
    assert (reading.channel, reading.value, reading.unit) == ("input:2", Decimal(4321), "pulse")


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        # Notifications page, Example 1: an output change without energy
        (
            "shellypro4pm-f008d1d8b8b8/events/rpc",
            '{"src":"shellypro4pm-f008d1d8b8b8","dst":"user_1","method":"NotifyStatus",'
            '"params":{"ts":1631186545.04,"switch:0":{"id":0,"output":true,"source":"button"}}}',
        ),
        # Example 2: the cloud connection
        (
            "shellypro4pm-f008d1d8b8b8/events/rpc",
            '{"src":"shellypro4pm-f008d1d8b8b8","dst":"user_1","method":"NotifyStatus",'
            '"params":{"ts":1624348482.25,"cloud":{"connected":false}}}',
        ),
        (
            "shellyplus1-a8032abe54dc/events/rpc",
            '{"src":"shellyplus1-a8032abe54dc","dst":"user_1","method":"NotifyEvent",'
            '"params":{"ts":1631266595.43,"events":[{"component":"input:0","id":0,"event":"single_push"}]}}',
        ),
        ("shellyplusuni-a0b1c2d3e4f5/status/input:0", '{"id":0,"state":false}'),  # a digital input
        (
            "shellyplus1-a8032abe54dc/status/switch:0",
            '{"id":0,"source":"init","output":false}',
        ),  # no metering
        ("shellyplus1-a8032abe54dc/status/sys", '{"mac":"A8032ABE54DC","uptime":28980}'),
        ("shellyplus1-a8032abe54dc/online", "true"),
    ],
)
def test_shelly_gen2_messages_without_energy_are_ignored(topic: str, payload: str) -> None:
    assert parse(SHELLY_GEN2, topic, payload) == []


@pytest.mark.parametrize(
    ("topic", "payload", "reason", "field"),
    [
        ("x/status/switch:0", "not json", Rejection.MALFORMED, "not JSON"),
        (
            "x/status/switch:0",
            '{"id":0,"aenergy":{"by_minute":[0,0,0]}}',
            Rejection.MALFORMED,
            "switch:0.aenergy.total",
        ),
        (
            "x/status/switch:0",
            '{"id":0,"aenergy":{"total":"14.093"}}',
            Rejection.MALFORMED,
            "switch:0.aenergy.total",
        ),
        (
            "x/status/switch:0",
            '{"id":0,"aenergy":{"total":false}}',
            Rejection.MALFORMED,
            "switch:0.aenergy.total",
        ),
        ("x/status/switch:0", '{"id":0,"aenergy":{"total":-3.0}}', Rejection.MALFORMED, "negative"),
        ("x/status/switch:0", '{"id":0,"aenergy":{"total":NaN}}', Rejection.MALFORMED, "NaN"),
        ("x/status/switch:0", '{"id":0,"aenergy":7}', Rejection.MALFORMED, "switch:0.aenergy"),
        (
            "x/status/em1data:0",
            '{"id":0,"total_act_ret_energy":1.0}',
            Rejection.MALFORMED,
            "em1data:0.total_act_energy",
        ),
        ("x/status/input:2", '{"id":2,"counts":{"total":12.5}}', Rejection.SCALE, "input:2.counts.total"),
        (
            "x/events/rpc",
            '{"method":"NotifyStatus","params":{"switch:0":{"aenergy":{"total":1}}}}',
            Rejection.MALFORMED,
            "params.ts",
        ),
        ("x/events/rpc", '{"method":"NotifyStatus","params":{"ts":true}}', Rejection.MALFORMED, "params.ts"),
        ("x/events/rpc", '{"method":"NotifyStatus"}', Rejection.MALFORMED, "params"),
        (
            "x/events/rpc",
            '{"method":"NotifyStatus","params":{"ts":1.0,"switch:0":[1]}}',
            Rejection.MALFORMED,
            "switch:0",
        ),
        ("x/events/rpc", "[1, 2]", Rejection.MALFORMED, "JSON-RPC"),
    ],
)
def test_shelly_gen2_bad_payloads(topic: str, payload: str, reason: Rejection, field: str) -> None:
    error = refused(SHELLY_GEN2, topic, payload)
    assert error.reason == reason
    assert error.detail.startswith(f"{topic}: ")
    assert field in error.detail


def test_shelly_gen2_full_status_notification_and_unset_clock() -> None:
    # NotifyFullStatus is a complete status: a missing total is an error there, not a "no change"
    frame = '{"method":"NotifyFullStatus","params":{"ts":12.5,"pm1:0":{"id":0,"aenergy":{"total":3}}}}'
    [reading] = parse(SHELLY_GEN2, "shellypmmini-1/events/rpc", frame)
    assert (reading.channel, reading.at_ms) == ("pm1:0", RECEIVED_MS)  # a clock at 1970 is not used
    broken = '{"method":"NotifyFullStatus","params":{"ts":1700000000,"pm1:0":{"id":0,"aenergy":{}}}}'
    assert refused(SHELLY_GEN2, "shellypmmini-1/events/rpc", broken).reason == Rejection.MALFORMED
    partial = (
        '{"method":"NotifyStatus","params":{"ts":1700000000,"pm1:0":{"id":0,"aenergy":{"by_minute":[1]}}}}'
    )
    assert parse(SHELLY_GEN2, "shellypmmini-1/events/rpc", partial) == []


# --- Shelly Gen1 --------------------------------------------------------------------------------------


def test_shelly_gen1_relay_energy_watt_minutes_to_wh() -> None:
    # gen1 MQTT: shellies/<id>/relay/<i>/energy, "energy counter in Watt-minute"
    [reading] = parse(SHELLY_GEN1, "shellies/shelly1pm-B929CC/relay/0/energy", "1234")
    assert (reading.device, reading.channel, reading.unit, reading.at_ms) == (
        "shelly1pm-B929CC",
        "relay:0",
        "Wh",
        RECEIVED_MS,
    )
    assert reading.value * 60 == 1234  # 20.5666... Wh
    [whole] = parse(SHELLY_GEN1, "shellies/shelly1pm-B929CC/relay/0/energy", "7200")
    assert whole.value == Decimal(120)


def test_shelly_gen1_emeter_total_is_wh() -> None:
    # gen1 MQTT: shellies/shellyem-<deviceid>/emeter/<i>/total, "total energy in Wh"
    [reading] = parse(SHELLY_GEN1, "shellies/shellyem-B9F0D2/emeter/1/total", "12345.6")
    assert (reading.channel, reading.value, reading.unit) == ("emeter:1", Decimal("12345.6"), "Wh")


@pytest.mark.parametrize(
    "topic",
    [
        "shellies/shelly1pm-B929CC/relay/0/power",
        "shellies/shelly1pm-B929CC/relay/0",
        "shellies/shellyem-B9F0D2/emeter/0/total_returned",
        "shellies/shelly1pm-B929CC/online",
        "shellies/announce",
    ],
)
def test_shelly_gen1_topics_without_energy_are_ignored(topic: str) -> None:
    assert parse(SHELLY_GEN1, topic, "12.3") == []


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ("", "not a number"),
        ("nan", "not a number"),
        ("-1", "negative"),
        ("on", "not a number"),
        ("1e", "not a number"),
    ],
)
def test_shelly_gen1_bad_payloads(payload: str, words: str) -> None:
    error = refused(SHELLY_GEN1, "shellies/shelly1pm-B929CC/relay/0/energy", payload)
    assert error.reason == Rejection.MALFORMED
    assert error.detail.startswith("shellies/shelly1pm-B929CC/relay/0/energy: energy ")
    assert words in error.detail
    assert refused(SHELLY_GEN1, "home/shelly1pm/relay/0/energy", "1").reason == Rejection.MALFORMED


# --- topics, formats, arguments -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "device", "matching", "not_matching"),
    [
        (
            ESPHOME_PULSE_METER,
            "livingroom",
            ["livingroom/sensor/total_pulses/state", "livingroom/sensor/pulse_meter/state"],
            [
                "kitchen/sensor/total_pulses/state",
                "livingroom/status",
                "livingroom/sensor/total_pulses/command",
            ],
        ),
        (
            TASMOTA_COUNTER,
            "tasmota_8A5F2C",
            ["tele/tasmota_8A5F2C/SENSOR"],
            ["tele/tasmota_8A5F2C/STATE", "stat/tasmota_8A5F2C/SENSOR", "tele/other/SENSOR"],
        ),
        (
            SHELLY_GEN2,
            "shellyplus1pm-a8032ab12345",
            ["shellyplus1pm-a8032ab12345/status/switch:0", "shellyplus1pm-a8032ab12345/events/rpc"],
            ["shellyplus1pm-a8032ab12345/online", "shellyplus1pm-other/status/switch:0"],
        ),
        (
            SHELLY_GEN1,
            "shelly1pm-B929CC",
            ["shellies/shelly1pm-B929CC/relay/0/energy", "shellies/shelly1pm-B929CC/emeter/2/total"],
            ["shellies/shelly1pm-B929CC/relay/0/power", "shellies/shelly1pm-B929CC/emeter/0/total_returned"],
        ),
    ],
)
def test_subscriptions_match_the_energy_topics(
    fmt: str, device: str, matching: list[str], not_matching: list[str]
) -> None:
    for filters in (subscriptions(fmt, device), subscriptions(fmt, None)):
        for topic in matching:
            assert any(mqtt.topic_matches_sub(f, topic) for f in filters), (filters, topic)
            assert device_of(fmt, topic) == device
    for topic in not_matching:
        assert not any(mqtt.topic_matches_sub(f, topic) for f in subscriptions(fmt, device)), topic


def test_subscriptions_of_every_format() -> None:
    assert subscriptions(ESPHOME_PULSE_COUNTER, "home/living_room") == ["home/living_room/sensor/+/state"]
    assert subscriptions(TASMOTA_ENERGY, None) == ["tele/+/SENSOR"]
    assert subscriptions(SHELLY_GEN2, None) == ["+/status/+", "+/events/rpc"]
    assert subscriptions(SHELLY_GEN1, None) == ["shellies/+/relay/+/energy", "shellies/+/emeter/+/total"]
    assert set(PULSE_FORMATS) == {
        ESPHOME_PULSE_METER,
        ESPHOME_PULSE_COUNTER,
        TASMOTA_COUNTER,
        TASMOTA_ENERGY,
        SHELLY_GEN2,
        SHELLY_GEN1,
    }
    for name, spec in PULSE_FORMATS.items():
        assert spec.name == name
        assert spec.docs
        assert all(url.startswith("https://") for url in spec.docs)


def test_device_of_unknown_topics() -> None:
    assert device_of(SHELLY_GEN1, "shellies/announce") is None
    assert device_of(TASMOTA_COUNTER, "tasmota/SENSOR") is None
    assert device_of(ESPHOME_PULSE_METER, "livingroom") is None
    assert device_of(ESPHOME_PULSE_METER, "livingroom/status") == "livingroom"


@pytest.mark.parametrize(
    ("fmt", "device", "words"),
    [
        (TASMOTA_COUNTER, "tele/+", "wildcards"),
        (SHELLY_GEN2, "#", "wildcards"),
        (SHELLY_GEN1, "a/b", "one topic level"),
        (ESPHOME_PULSE_METER, "", "wildcards"),
        (ESPHOME_PULSE_METER, "home/", "begin or end"),
        (ESPHOME_PULSE_METER, 7, "wildcards"),
    ],
)
def test_subscriptions_refuse_bad_devices(fmt: str, device: object, words: str) -> None:
    with pytest.raises(ValueError, match=words) as caught:
        subscriptions(fmt, device)  # type: ignore[arg-type]
    assert "device" in str(caught.value)


def test_check_format_lists_the_allowed_names() -> None:
    assert check_format("tasmota_counter") == "tasmota_counter"
    for bad in ("tasmota", "", None, "ESPHOME_PULSE_METER"):
        with pytest.raises(ValueError, match="format must be one of esphome_pulse_meter, ") as caught:
            check_format(bad)
        assert "shelly_gen1" in str(caught.value)
    with pytest.raises(ValueError, match="format must be one of"):
        parse("pulse", "tele/x/SENSOR", "{}")
    with pytest.raises(ValueError, match="format must be one of"):
        subscriptions("mqtt", None)


def test_arguments_of_the_wrong_type() -> None:
    with pytest.raises(ValueError, match="received_at_ms"):
        parse_pulse_message(TASMOTA_COUNTER, "tele/x/SENSOR", b"{}", received_at_ms=True)
    with pytest.raises(ValueError, match="received_at_ms"):
        parse_pulse_message(TASMOTA_COUNTER, "tele/x/SENSOR", b"{}", received_at_ms=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone"):
        parse_pulse_message(TASMOTA_COUNTER, "tele/x/SENSOR", b"{}", received_at_ms=0, timezone="PST")
    with pytest.raises(ValueError, match="payload must be bytes"):
        parse_pulse_message(TASMOTA_COUNTER, "tele/x/SENSOR", "{}", received_at_ms=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="topic"):
        parse_pulse_message(TASMOTA_COUNTER, "", b"{}", received_at_ms=0)


# --- the real broker into advance() -------------------------------------------------------------------

MQTT_ENV = "MESHMETER_TEST_MQTT_URL"
INSTALL = "America/Los_Angeles"


def local_iso(hour: int, minute: int) -> str:
    return f"2026-01-15T{hour:02d}:{minute:02d}:00"


def utc_s(hour: int, minute: int) -> int:
    """2026-01-15 local (PST, UTC-8) hour:minute as UTC seconds."""
    return epoch_ms(datetime(2026, 1, 15, hour + 8, minute, tzinfo=UTC)) // 1000


@pytest.mark.skipif(not os.environ.get(MQTT_ENV), reason=f"needs {MQTT_ENV} (e.g. mqtt://127.0.0.1:1883)")
def test_broker_messages_through_advance() -> None:
    """Tasmota and Shelly messages over Mosquitto -> readings -> 15-minute intervals, through a counter reset.

    A Tasmota Counter1 on the Mini Meter's output "10" (10 Wh per pulse, manual §3.2) reports at local
    quarter hours; between 10:30 and 10:45 the installer resets it with ``Counter1 0`` (Commands doc):
    the 40 pulses counted after the reset are energy of the 10:45 interval, nothing before is lost, and the
    reset is a ``counter_reset`` event. A Shelly Plus Uni counter input on a second meter reports through
    NotifyStatus with the device's own time stamps. Noise on the same topics (a SENSOR without COUNTER, a
    NotifyEvent) gives no readings.
    """
    host, port, _tls, username, password = parse_mqtt_url(os.environ[MQTT_ENV])
    tasmota = f"mm_test_{secrets.token_hex(4)}"
    shelly = f"shellyplusuni-{secrets.token_hex(6)}"
    received: queue.Queue[tuple[str, bytes, str]] = queue.Queue()
    filters = {f: TASMOTA_COUNTER for f in subscriptions(TASMOTA_COUNTER, tasmota)}
    filters |= {f: SHELLY_GEN2 for f in subscriptions(SHELLY_GEN2, shelly)}
    subscribed = queue.Queue[int]()

    def on_connect(client: mqtt.Client, _u: object, _f: object, _rc: object, _p: object = None) -> None:
        for topic_filter in filters:
            client.subscribe(topic_filter, qos=1)

    def on_subscribe(_c: mqtt.Client, _u: object, mid: int, _rc: object, _p: object = None) -> None:
        subscribed.put(mid)

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        fmt = next(f for sub, f in filters.items() if mqtt.topic_matches_sub(sub, message.topic))
        received.put((message.topic, bytes(message.payload), fmt))

    collector = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"mm-collector-{secrets.token_hex(4)}")
    device = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"mm-device-{secrets.token_hex(4)}")
    for client in (collector, device):
        if username:
            client.username_pw_set(username, password)
    collector.on_connect = on_connect
    collector.on_subscribe = on_subscribe
    collector.on_message = on_message
    collector.connect(host, port)
    collector.loop_start()
    device.connect(host, port)
    device.loop_start()
    try:
        for _ in filters:
            subscribed.get(timeout=10)
        counts = [(10, 0, 1000), (10, 15, 1100), (10, 30, 1250), (10, 45, 40), (11, 0, 150)]
        sent: list[tuple[str, str]] = []
        for hour, minute, count in counts:
            body = json.dumps({"Time": local_iso(hour, minute), "COUNTER": {"C1": count}})
            sent.append((f"tele/{tasmota}/SENSOR", body))
        sent.append(
            (f"tele/{tasmota}/SENSOR", '{"Time":"2026-01-15T10:50:00","DS18B20":{"Temperature":20.6}}')
        )
        for hour, minute, total in [(10, 0, 500), (10, 15, 520), (10, 30, 560), (10, 45, 561)]:
            frame = {
                "src": shelly,
                "dst": "user_1",
                "method": "NotifyStatus",
                "params": {"ts": utc_s(hour, minute), "input:2": {"id": 2, "counts": {"total": total}}},
            }
            sent.append((f"{shelly}/events/rpc", json.dumps(frame)))
        event = {
            "method": "NotifyEvent",
            "params": {"ts": utc_s(10, 46), "events": [{"event": "single_push"}]},
        }
        sent.append((f"{shelly}/events/rpc", json.dumps(event)))
        for topic, body in sent:
            device.publish(topic, body, qos=1).wait_for_publish(timeout=10)

        readings: dict[tuple[str, str], list[Reading]] = {}
        deadline = time.monotonic() + 10
        got = 0
        while got < len(sent):
            try:
                topic, message_body, fmt = received.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"only {got} of the {len(sent)} messages published came back from the broker")
            got += 1
            received_at_ms = epoch_ms(datetime.now(UTC))
            for reading in parse_pulse_message(
                fmt, topic, message_body, received_at_ms=received_at_ms, timezone=INSTALL
            ):
                readings.setdefault((reading.device, reading.channel), []).append(reading)
    finally:
        collector.loop_stop()
        device.loop_stop()
        collector.disconnect()
        device.disconnect()

    assert set(readings) == {(tasmota, "C1"), (shelly, "input:2")}
    config = ChannelConfig(interval_s=900, wh_per_unit=Decimal(10), max_interval_wh=15180, resets=True)

    counter = advance(None, readings[(tasmota, "C1")], config)
    assert counter.rejected == []
    assert [(i.end_s, i.energy_wh, i.apportioned) for i in counter.intervals] == [
        (utc_s(10, 15), 1000, False),
        (utc_s(10, 30), 1500, False),
        (utc_s(10, 45), 400, False),  # the 40 pulses after Counter1 0
        (utc_s(11, 0), 1100, False),
    ]
    assert counter.intervals[-1].cumulative_wh == 10 * (1000 + 250 + 150)
    assert [(e.kind, e.at_ms, e.detail["before"], e.detail["after"]) for e in counter.events] == [
        ("counter_reset", utc_s(10, 45) * 1000, "1250", "40")
    ]

    uni = advance(None, readings[(shelly, "input:2")], config)
    assert uni.rejected == []
    assert [(i.end_s, i.energy_wh) for i in uni.intervals] == [
        (utc_s(10, 15), 200),
        (utc_s(10, 30), 400),
        (utc_s(10, 45), 10),
    ]
    assert uni.events == []
