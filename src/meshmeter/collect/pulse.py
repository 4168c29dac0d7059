"""Pulse counters and small energy meters over MQTT: their topics and payloads (``docs/collect-pulse.md``).

A pulse counter counts the closures of a meter's isolated pulse output (the Mini Meter's output "10",
10 Wh per pulse, manual §3.2) and publishes the count over MQTT; a small energy meter publishes its energy
register. This module reads the messages of six firmware formats into
:class:`~meshmeter.collect.readings.Reading` values and says which topics to subscribe to:

- ``esphome_pulse_meter``, ``esphome_pulse_counter``: ``<node>/sensor/<total sensor>/state``, the text
  payload, pulses;
- ``tasmota_counter``: ``tele/<topic>/SENSOR``, ``COUNTER.C1`` ..., pulses;
- ``tasmota_energy``: ``tele/<topic>/SENSOR``, ``ENERGY.Total``, kWh;
- ``shelly_gen2``: ``<id>/status/switch:0`` ... and ``<id>/events/rpc``, ``aenergy.total`` ..., Wh (a
  counter input's ``counts.total``: pulses);
- ``shelly_gen1``: ``shellies/<id>/relay/0/energy`` (watt-minutes, read as Wh) and
  ``shellies/<id>/emeter/0/total`` (Wh), the text payload.

Everything here is pure: no I/O, no clock. The energy of one pulse is not applied here: the channel's
mapping holds it (:attr:`~meshmeter.collect.readings.ChannelConfig.wh_per_unit`), and
:func:`~meshmeter.collect.readings.advance` makes intervals, resets and rate checks of the readings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from types import MappingProxyType
from typing import Final

from meshmeter.collect.readings import Reading, Rejection, epoch_ms
from meshmeter.errors import PayloadError
from meshmeter.intervals import zone

__all__ = [
    "ESPHOME_PULSE_COUNTER",
    "ESPHOME_PULSE_METER",
    "MAX_DIGITS",
    "PULSE_FORMATS",
    "SHELLY_GEN1",
    "SHELLY_GEN2",
    "TASMOTA_COUNTER",
    "TASMOTA_ENERGY",
    "VALID_CLOCK_FROM_MS",
    "PulseFormat",
    "check_format",
    "device_of",
    "parse_pulse_message",
    "subscriptions",
]

ESPHOME_PULSE_METER: Final = "esphome_pulse_meter"
ESPHOME_PULSE_COUNTER: Final = "esphome_pulse_counter"
TASMOTA_COUNTER: Final = "tasmota_counter"
TASMOTA_ENERGY: Final = "tasmota_energy"
SHELLY_GEN2: Final = "shelly_gen2"
SHELLY_GEN1: Final = "shelly_gen1"

VALID_CLOCK_FROM_MS: Final = 1_451_602_800_000
"""A device time before this (2015-12-31 23:00 UTC, Tasmota's ``START_VALID_TIME``) is a clock that was
never set (a device before its first NTP answer counts from 1970): the receipt time is used instead. [ms]"""


@dataclass(frozen=True, slots=True)
class PulseFormat:
    """
    One MQTT format of pulse counters or energy meters, as its project documents it.

    Attributes
    ----------
    name : str
        The format's name in a source's configuration (``"tasmota_counter"``).
    title : str
        The firmware and the part of it that counts.
    topics : tuple of str
        The documented topic patterns that carry the register; ``<...>`` marks a topic level.
    device : str
        How the device's ID is found in the topic.
    unit : str
        Unit of the readings: ``"pulse"``, ``"Wh"`` or ``"kWh"`` (Shelly Gen2 counter inputs give
        ``"pulse"``, its meters ``"Wh"``).
    ignored : str
        The topics of the device that carry no energy and give no reading (not an error).
    docs : tuple of str
        The project's documentation of the topics and fields.
    """

    name: str
    title: str
    topics: tuple[str, ...]
    device: str
    unit: str
    ignored: str
    docs: tuple[str, ...]


PULSE_FORMATS: Final[Mapping[str, PulseFormat]] = MappingProxyType(
    {
        ESPHOME_PULSE_METER: PulseFormat(
            name=ESPHOME_PULSE_METER,
            title="ESPHome pulse_meter sensor, its total sensor",
            topics=("<topic_prefix>/sensor/<object_id>/state",),
            device="<topic_prefix>: the node name unless topic_prefix is set (may hold slashes)",
            unit="pulse",
            ignored="the rate sensor (pulses/min) and every other sensor whose object_id has no word "
            "'total'; <topic_prefix>/status, <topic_prefix>/debug and other components' state topics",
            docs=(
                "https://esphome.io/components/sensor/pulse_meter/",
                "https://esphome.io/components/mqtt/",
            ),
        ),
        ESPHOME_PULSE_COUNTER: PulseFormat(
            name=ESPHOME_PULSE_COUNTER,
            title="ESPHome pulse_counter sensor, its total sensor",
            topics=("<topic_prefix>/sensor/<object_id>/state",),
            device="<topic_prefix>: the node name unless topic_prefix is set (may hold slashes)",
            unit="pulse",
            ignored="the rate sensor (pulses/min) and every other sensor whose object_id has no word "
            "'total'; <topic_prefix>/status, <topic_prefix>/debug and other components' state topics",
            docs=(
                "https://esphome.io/components/sensor/pulse_counter/",
                "https://esphome.io/components/mqtt/",
            ),
        ),
        TASMOTA_COUNTER: PulseFormat(
            name=TASMOTA_COUNTER,
            title="Tasmota Counter<x> inputs, the COUNTER object of telemetry",
            topics=("tele/<topic>/SENSOR",),
            device="<topic>, with the default FullTopic %prefix%/%topic%/",
            unit="pulse",
            ignored="SENSOR messages without COUNTER; tele/<topic>/STATE, LWT, INFO1-3, RESULT; "
            "stat/ and cmnd/",
            docs=(
                "https://tasmota.github.io/docs/Commands/#sensors",
                "https://tasmota.github.io/docs/MQTT/",
            ),
        ),
        TASMOTA_ENERGY: PulseFormat(
            name=TASMOTA_ENERGY,
            title="Tasmota energy monitoring, ENERGY.Total of telemetry",
            topics=("tele/<topic>/SENSOR",),
            device="<topic>, with the default FullTopic %prefix%/%topic%/",
            unit="kWh",
            ignored="SENSOR messages without ENERGY; tele/<topic>/STATE, LWT, INFO1-3, RESULT; "
            "stat/ and cmnd/",
            docs=(
                "https://tasmota.github.io/docs/Commands/#power-monitoring",
                "https://tasmota.github.io/docs/MQTT/",
            ),
        ),
        SHELLY_GEN2: PulseFormat(
            name=SHELLY_GEN2,
            title="Shelly Gen2+ (Plus, Pro, Gen3, Gen4): Switch and PM1 aenergy.total, EM1Data "
            "total_act_energy, counter Input counts.total",
            topics=(
                "<topic_prefix>/status/switch:<id>",
                "<topic_prefix>/status/pm1:<id>",
                "<topic_prefix>/status/em1data:<id>",
                "<topic_prefix>/status/input:<id>",
                "<topic_prefix>/events/rpc",
            ),
            device="<topic_prefix>: the device ID (shellyplus1pm-<mac>) unless topic_prefix is set",
            unit="Wh (switch, pm1, em1data) or pulse (input)",
            ignored="other components' status (sys, wifi, em1, temperature ...), a switch without "
            "aenergy, an input without counts; NotifyEvent and RPC replies on events/rpc; "
            "<topic_prefix>/online",
            docs=(
                "https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Mqtt",
                "https://shelly-api-docs.shelly.cloud/gen2/General/Notifications",
                "https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Switch",
                "https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/EM1Data",
                "https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Input",
            ),
        ),
        SHELLY_GEN1: PulseFormat(
            name=SHELLY_GEN1,
            title="Shelly Gen1: relay energy counter (watt-minutes), emeter total (Wh)",
            topics=("shellies/<id>/relay/<i>/energy", "shellies/<id>/emeter/<i>/total"),
            device="<id>: the device's MQTT ID (shelly1pm-<mac>, shellyem-<mac>)",
            unit="Wh",
            ignored="every other shellies/<id>/... topic (power, relay state, total_returned, online, info); "
            "shellies/announce",
            docs=("https://shelly-api-docs.shelly.cloud/gen1/#mqtt",),
        ),
    }
)
"""The formats by name."""


def check_format(format: object) -> str:
    """
    A pulse format's name, checked.

    Raises
    ------
    ValueError
        Naming the allowed formats when ``format`` is not one of :data:`PULSE_FORMATS`.
    """
    if isinstance(format, str) and format in PULSE_FORMATS:
        return format
    allowed = ", ".join(PULSE_FORMATS)
    raise ValueError(f"format must be one of {allowed}, got {format!r}")


# --- topics -------------------------------------------------------------------------------------------

_ESPHOME_SENSOR = re.compile(r"(?P<device>.+)/sensor/(?P<object_id>[^/]+)/state")
_ESPHOME_OTHER = re.compile(r"(?P<device>.+)/(?:status|debug|[a-z_]+/[^/]+/(?:state|command))")
_TASMOTA = re.compile(r"(?P<prefix>tele|stat|cmnd)/(?P<device>[^/]+)/(?P<kind>[^/]+)")
_SHELLY2_STATUS = re.compile(r"(?P<device>.+)/status/(?P<component>[a-z0-9_]+(?::[0-9]+)?)")
_SHELLY2_RPC = re.compile(r"(?P<device>.+)/events/rpc")
_SHELLY2_OTHER = re.compile(r"(?P<device>.+)/(?:online|rpc|command(?:/.*)?)")
_SHELLY1 = re.compile(r"shellies/(?P<device>[^/]+)/(?P<rest>.+)")
_SHELLY1_ENERGY = re.compile(r"relay/(?P<index>[0-9]+)/energy")
_SHELLY1_EMETER = re.compile(r"emeter/(?P<index>[0-9]+)/total")


def _check_device(device: object, *, single_level: bool) -> str:
    """A device ID that can stand in a topic filter (no wildcard; one level where the format says so)."""
    if not isinstance(device, str) or not device or {"+", "#", "\x00"} & set(device):
        raise ValueError(f"device must be a device ID without MQTT wildcards (+, #), got {device!r}")
    if device.startswith("/") or device.endswith("/") or "//" in device:
        raise ValueError(f"device must not begin or end with '/' or hold an empty level, got {device!r}")
    if single_level and "/" in device:
        raise ValueError(f"device must be one topic level (no '/') for this format, got {device!r}")
    return device


def subscriptions(format: str, device: str | None) -> list[str]:
    """
    The MQTT topic filters a source of this format subscribes to.

    Parameters
    ----------
    format : str
        One of :data:`PULSE_FORMATS`.
    device : str or None
        One device's ID as it stands in its topics (an ESPHome ``topic_prefix``, a Tasmota ``Topic``, a
        Shelly ID); None for every device of the format on the broker (single-level wildcards: an
        ESPHome or Shelly Gen2 ``topic_prefix`` with slashes needs its own device entry).

    Returns
    -------
    list of str
        Topic filters (MQTT 3.1.1 §4.7): only the topics that carry energy, plus ``events/rpc`` for Shelly
        Gen2.

    Raises
    ------
    ValueError
        An unknown format, or a device ID with a wildcard (or a ``/`` where the format has one level).
    """
    format = check_format(format)
    if format in (ESPHOME_PULSE_METER, ESPHOME_PULSE_COUNTER):
        node = "+" if device is None else _check_device(device, single_level=False)
        return [f"{node}/sensor/+/state"]
    if format in (TASMOTA_COUNTER, TASMOTA_ENERGY):
        topic = "+" if device is None else _check_device(device, single_level=True)
        return [f"tele/{topic}/SENSOR"]
    if format == SHELLY_GEN2:
        prefix = "+" if device is None else _check_device(device, single_level=False)
        return [f"{prefix}/status/+", f"{prefix}/events/rpc"]
    shelly = "+" if device is None else _check_device(device, single_level=True)
    return [f"shellies/{shelly}/relay/+/energy", f"shellies/{shelly}/emeter/+/total"]


def device_of(format: str, topic: str) -> str | None:
    """
    The device ID in a topic of this format; None when the topic names no device of it.

    Raises
    ------
    ValueError
        An unknown format, or a topic that is not a string.
    """
    format = check_format(format)
    if not isinstance(topic, str):
        raise ValueError(f"topic must be a string, got {topic!r}")
    if format in (ESPHOME_PULSE_METER, ESPHOME_PULSE_COUNTER):
        match = _ESPHOME_SENSOR.fullmatch(topic) or _ESPHOME_OTHER.fullmatch(topic)
    elif format in (TASMOTA_COUNTER, TASMOTA_ENERGY):
        match = _TASMOTA.fullmatch(topic)
    elif format == SHELLY_GEN2:
        match = (
            _SHELLY2_STATUS.fullmatch(topic)
            or _SHELLY2_RPC.fullmatch(topic)
            or _SHELLY2_OTHER.fullmatch(topic)
        )
    else:
        match = _SHELLY1.fullmatch(topic)
        if match is not None and match["device"] == "announce":
            return None
    return None if match is None else match["device"]


# --- values -------------------------------------------------------------------------------------------

MAX_DIGITS: Final = 15
"""A value of more than 16 digits before the point is no register of these devices (a pulse counter is
32-bit, a kWh total has a handful of digits): refused before any arithmetic on it."""

_NUMBER_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


def _refuse_constant(name: str) -> object:
    raise PayloadError(Rejection.MALFORMED, f"payload holds {name}, which is not a number")


def _json(topic: str, payload: bytes) -> object:
    """A JSON payload, its decimals kept exact (no float), NaN and Infinity refused."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError(Rejection.MALFORMED, f"{topic}: payload is not UTF-8 text") from None
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except PayloadError as error:
        raise PayloadError(Rejection.MALFORMED, f"{topic}: {error.detail}") from None
    except (ValueError, RecursionError):
        raise PayloadError(Rejection.MALFORMED, f"{topic}: payload is not JSON: {text[:80]!r}") from None


def _text_number(topic: str, payload: bytes, field: str) -> Decimal:
    """A payload that is one number as text (ESPHome state, Shelly Gen1), checked."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise PayloadError(Rejection.MALFORMED, f"{topic}: {field} is not UTF-8 text") from None
    if not _NUMBER_TEXT.fullmatch(text):
        raise PayloadError(Rejection.MALFORMED, f"{topic}: {field} is not a number: {text[:40]!r}")
    return _checked(topic, field, Decimal(text))


def _checked(topic: str, field: str, value: Decimal) -> Decimal:
    if not value.is_finite():
        raise PayloadError(Rejection.MALFORMED, f"{topic}: {field} is {value}, not a number")
    if value.adjusted() > MAX_DIGITS:
        raise PayloadError(Rejection.MALFORMED, f"{topic}: {field} is {value}, beyond any register")
    if value < 0:
        raise PayloadError(Rejection.MALFORMED, f"{topic}: {field} is negative ({value}); a register is not")
    return value


def _json_number(topic: str, field: str, value: object) -> Decimal:
    """A JSON number of a payload (int or exact decimal), checked: not bool, not negative, finite."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise PayloadError(Rejection.MALFORMED, f"{topic}: {field} is {value!r}, not a number")
    return _checked(topic, field, Decimal(value))


def _whole_pulses(topic: str, field: str, value: Decimal, hint: str) -> Decimal:
    """A pulse count: a whole number, else a scale the format does not read."""
    if value != value.to_integral_value():
        raise PayloadError(
            Rejection.SCALE, f"{topic}: {field} is {value}, not a whole number of pulses; {hint}"
        )
    return Decimal(int(value))


def _field(topic: str, obj: Mapping[str, object], path: str) -> object:
    """``obj[a][b]`` for ``path="a.b"``; a missing level is malformed, naming the path."""
    value: object = obj
    for name in path.split("."):
        if not isinstance(value, dict) or name not in value:
            raise PayloadError(Rejection.MALFORMED, f"{topic}: field {path} is missing")
        value = value[name]
    return value


def _seconds_ms(topic: str, field: str, value: object) -> int:
    """Unix seconds (a JSON number, fractions allowed) as milliseconds. [ms]"""
    seconds = _json_number(topic, field, value)
    return int((seconds * 1000).to_integral_value(rounding=ROUND_HALF_EVEN))


def _device_clock(at_ms: int, received_at_ms: int) -> int:
    """The device's time, or the receipt time where the device's clock was never set."""
    return at_ms if at_ms >= VALID_CLOCK_FROM_MS else received_at_ms


# --- ESPHome ------------------------------------------------------------------------------------------


def _esphome(topic: str, payload: bytes, received_at_ms: int, timezone: str | None) -> list[Reading]:
    match = _ESPHOME_SENSOR.fullmatch(topic)
    if match is None:
        if _ESPHOME_OTHER.fullmatch(topic):
            return []
        raise PayloadError(
            Rejection.MALFORMED, f"{topic}: not an ESPHome topic (expected <node>/sensor/<object_id>/state)"
        )
    object_id = match["object_id"]
    if "total" not in object_id.split("_"):
        return []
    value = _text_number(topic, payload, "state")
    hint = "remove the total sensor's filters (multiply) so that it sends raw pulses"
    pulses = _whole_pulses(topic, "state", value, hint)
    return [Reading(match["device"], object_id, received_at_ms, pulses, "pulse")]


# --- Tasmota ------------------------------------------------------------------------------------------


def _tasmota_time_ms(topic: str, doc: Mapping[str, object], received_at_ms: int, timezone: str | None) -> int:
    """The time of a Tasmota telemetry message (``Time``, ``Epoch``: command ``Time``, SetOption52). [ms]"""
    if "Epoch" in doc:
        return _device_clock(_seconds_ms(topic, "Epoch", doc["Epoch"]), received_at_ms)
    if "Time" not in doc:
        return received_at_ms
    value = doc["Time"]
    if isinstance(value, int) and not isinstance(value, bool):
        return _device_clock(_seconds_ms(topic, "Time", value), received_at_ms)
    if not isinstance(value, str):
        raise PayloadError(Rejection.MALFORMED, f"{topic}: field Time is {value!r}, not a time")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise PayloadError(
            Rejection.MALFORMED, f"{topic}: field Time is {value!r}, not an ISO 8601 time"
        ) from None
    if when.tzinfo is not None:
        return _device_clock(epoch_ms(when), received_at_ms)
    if timezone is None:
        return received_at_ms
    local = zone(timezone)
    candidates = {epoch_ms(when.replace(tzinfo=local, fold=fold)) for fold in (0, 1)}
    nearest = min(sorted(candidates), key=lambda ms: abs(ms - received_at_ms))
    return _device_clock(nearest, received_at_ms)


def _tasmota(
    block_name: str, topic: str, payload: bytes, received_at_ms: int, timezone: str | None
) -> list[Reading]:
    match = _TASMOTA.fullmatch(topic)
    if match is None:
        raise PayloadError(
            Rejection.MALFORMED, f"{topic}: not a Tasmota topic (expected tele/<topic>/SENSOR)"
        )
    if match["prefix"] != "tele" or match["kind"] != "SENSOR":
        return []
    doc = _json(topic, payload)
    if not isinstance(doc, dict):
        raise PayloadError(Rejection.MALFORMED, f"{topic}: payload is not a JSON object")
    if block_name not in doc:
        return []
    block = doc[block_name]
    if not isinstance(block, dict):
        raise PayloadError(Rejection.MALFORMED, f"{topic}: field {block_name} is {block!r}, not an object")
    device = match["device"]
    at_ms = _tasmota_time_ms(topic, doc, received_at_ms, timezone)
    if block_name == "COUNTER":
        readings = []
        for key, raw in block.items():
            field = f"COUNTER.{key}"
            if not re.fullmatch(r"C[0-9]+", key):
                raise PayloadError(
                    Rejection.MALFORMED, f"{topic}: field {field} is not a counter (C1, C2 ...)"
                )
            value = _json_number(topic, field, raw)
            if not isinstance(raw, int):
                hint = "the counter is a pulse timer (CounterType 1); set CounterType<x> 0"
                raise PayloadError(Rejection.SCALE, f"{topic}: {field} is {raw}, not a pulse count; {hint}")
            readings.append(Reading(device, key, at_ms, value, "pulse"))
        if not readings:
            raise PayloadError(Rejection.MALFORMED, f"{topic}: field COUNTER holds no counter")
        return readings
    total = _field(topic, doc, "ENERGY.Total")
    if isinstance(total, list):
        if not total:
            raise PayloadError(Rejection.MALFORMED, f"{topic}: field ENERGY.Total is an empty list")
        return [
            Reading(device, f"Total{i}", at_ms, _json_number(topic, f"ENERGY.Total[{i - 1}]", value), "kWh")
            for i, value in enumerate(total, start=1)
        ]
    return [Reading(device, "Total", at_ms, _json_number(topic, "ENERGY.Total", total), "kWh")]


# --- Shelly Gen2 --------------------------------------------------------------------------------------

_SHELLY2_REGISTERS: Final[Mapping[str, tuple[str, str, str]]] = MappingProxyType(
    {
        "switch": ("aenergy", "total", "Wh"),
        "pm1": ("aenergy", "total", "Wh"),
        "em1data": ("", "total_act_energy", "Wh"),
        "input": ("counts", "total", "pulse"),
    }
)
"""Component type -> (object holding the register, or "" for the status itself; register field; unit)."""


def _shelly2_component(
    topic: str, device: str, key: str, status: object, at_ms: int, *, complete: bool
) -> list[Reading]:
    """The register of one component's status; ``complete`` False for a NotifyStatus, which sends changes."""
    kind = key.split(":", 1)[0]
    if kind not in _SHELLY2_REGISTERS:
        return []
    if status is None and not complete:
        return []
    if not isinstance(status, dict):
        raise PayloadError(Rejection.MALFORMED, f"{topic}: field {key} is {status!r}, not an object")
    holder_name, register, unit = _SHELLY2_REGISTERS[kind]
    holder: dict[str, object] = status
    if holder_name:
        if holder_name not in status or (status[holder_name] is None and not complete):
            return []  # a switch without metering, an input that is not a counter, or no change
        inner = status[holder_name]
        if not isinstance(inner, dict):
            raise PayloadError(Rejection.MALFORMED, f"{topic}: field {key}.{holder_name} is not an object")
        holder = inner
    path = f"{key}.{holder_name}.{register}" if holder_name else f"{key}.{register}"
    if not complete and (register not in holder or holder[register] is None):
        return []
    if register not in holder:
        raise PayloadError(Rejection.MALFORMED, f"{topic}: field {path} is missing")
    value = _json_number(topic, path, holder[register])
    if unit == "pulse":
        value = _whole_pulses(topic, path, value, "the input is not counting pulses")
    return [Reading(device, key, at_ms, value, unit)]


def _shelly_gen2(topic: str, payload: bytes, received_at_ms: int, timezone: str | None) -> list[Reading]:
    status_match = _SHELLY2_STATUS.fullmatch(topic)
    if status_match is not None:
        doc = _json(topic, payload)
        device, key = status_match["device"], status_match["component"]
        return _shelly2_component(topic, device, key, doc, received_at_ms, complete=True)
    rpc_match = _SHELLY2_RPC.fullmatch(topic)
    if rpc_match is None:
        if _SHELLY2_OTHER.fullmatch(topic):
            return []
        raise PayloadError(
            Rejection.MALFORMED,
            f"{topic}: not a Shelly Gen2 topic (expected <prefix>/status/<component> or <prefix>/events/rpc)",
        )
    doc = _json(topic, payload)
    if not isinstance(doc, dict):
        raise PayloadError(Rejection.MALFORMED, f"{topic}: payload is not a JSON-RPC frame (an object)")
    method = doc.get("method")
    if method not in ("NotifyStatus", "NotifyFullStatus"):
        return []  # NotifyEvent, replies to requests
    params = _field(topic, doc, "params")
    if not isinstance(params, dict):
        raise PayloadError(Rejection.MALFORMED, f"{topic}: field params is {params!r}, not an object")
    at_ms = _device_clock(_seconds_ms(topic, "params.ts", _field(topic, doc, "params.ts")), received_at_ms)
    complete = method == "NotifyFullStatus"
    device = rpc_match["device"]
    readings: list[Reading] = []
    for key, status in params.items():
        if key != "ts":
            readings.extend(_shelly2_component(topic, device, key, status, at_ms, complete=complete))
    return readings


# --- Shelly Gen1 --------------------------------------------------------------------------------------


def _shelly_gen1(topic: str, payload: bytes, received_at_ms: int, timezone: str | None) -> list[Reading]:
    match = _SHELLY1.fullmatch(topic)
    if match is None:
        if topic.startswith("shellies/"):
            return []  # shellies/announce, shellies/command
        raise PayloadError(
            Rejection.MALFORMED, f"{topic}: not a Shelly Gen1 topic (expected shellies/<id>/...)"
        )
    device, rest = match["device"], match["rest"]
    relay = _SHELLY1_ENERGY.fullmatch(rest)
    if relay is not None:
        watt_minutes = _text_number(topic, payload, "energy")
        with localcontext() as context:
            context.prec = 50
            energy_wh = watt_minutes / 60
        return [Reading(device, f"relay:{relay['index']}", received_at_ms, energy_wh, "Wh")]
    emeter = _SHELLY1_EMETER.fullmatch(rest)
    if emeter is not None:
        energy_wh = _text_number(topic, payload, "total")
        return [Reading(device, f"emeter:{emeter['index']}", received_at_ms, energy_wh, "Wh")]
    return []


_PARSERS: Final[Mapping[str, Callable[[str, bytes, int, str | None], list[Reading]]]] = MappingProxyType(
    {
        ESPHOME_PULSE_METER: _esphome,
        ESPHOME_PULSE_COUNTER: _esphome,
        TASMOTA_COUNTER: lambda t, p, r, z: _tasmota("COUNTER", t, p, r, z),
        TASMOTA_ENERGY: lambda t, p, r, z: _tasmota("ENERGY", t, p, r, z),
        SHELLY_GEN2: _shelly_gen2,
        SHELLY_GEN1: _shelly_gen1,
    }
)


def parse_pulse_message(
    format: str, topic: str, payload: bytes, *, received_at_ms: int, timezone: str | None = None
) -> list[Reading]:
    """
    The readings in one MQTT message of a pulse counter or energy meter.

    Parameters
    ----------
    format : str
        One of :data:`PULSE_FORMATS`.
    topic : str
        The message's topic; the device's ID is taken from it (:func:`device_of`).
    payload : bytes
        The message's payload as received.
    received_at_ms : int
        When the message was received, milliseconds since the Unix epoch (UTC): the readings' time where
        the payload has none (ESPHome, Shelly Gen1, Shelly Gen2 ``status/`` topics), where the device's
        clock was never set (before :data:`VALID_CLOCK_FROM_MS`), and for a Tasmota local time without
        ``timezone``. [ms]
    timezone : str or None
        IANA zone of a Tasmota device's local clock (its ``Timezone``/``TimeStd``/``TimeDst`` settings):
        Tasmota's default ``"Time"`` is local time without an offset. In the hour a DST change repeats,
        the instant nearer the receipt is taken.

    Returns
    -------
    list of Reading
        Cumulative registers as the device sent them (``"pulse"``, ``"Wh"`` or ``"kWh"``; a Shelly Gen1
        relay's watt-minutes divided by 60 into Wh). Empty for a message of the device that carries no
        energy (the format's ``ignored`` topics, :class:`PulseFormat`).

    Raises
    ------
    PayloadError
        ``malformed``: not JSON (or not a number), a field missing, of the wrong type, negative, NaN, a
        boolean, or a topic outside the format; ``scale``: a value in a unit the format does not read
        (an ESPHome total with filters, a Tasmota pulse timer). The detail names the topic and the field.
    ValueError
        An unknown format, or an argument of the wrong type (not from the device).

    Notes
    -----
    The energy of one pulse is the channel's (10 Wh for the Mini Meter's output "10", manual §3.2),
    applied by :func:`~meshmeter.collect.readings.advance`, not here.
    """
    format = check_format(format)
    if not isinstance(topic, str) or not topic:
        raise ValueError(f"topic must be a non-empty string, got {topic!r}")
    if not isinstance(payload, bytes | bytearray):
        raise ValueError(f"payload must be bytes, got {type(payload).__name__}")
    if isinstance(received_at_ms, bool) or not isinstance(received_at_ms, int):
        raise ValueError(
            f"received_at_ms must be integer milliseconds since the epoch, got {received_at_ms!r}"
        )
    if timezone is not None:
        zone(timezone)
    return _PARSERS[format](topic, bytes(payload), received_at_ms, timezone)
