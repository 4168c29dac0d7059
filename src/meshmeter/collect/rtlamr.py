"""A utility meter heard over the air: rtlamr's JSON lines and rtlamr2mqtt's payloads.

See ``docs/collect-rtlamr.md``.

rtlamr (github.com/bemasher/rtlamr) decodes the 900 MHz broadcasts of ERT meters (Itron SCM, SCM+, IDM,
NetIDM) and Neptune R900 transmitters with an rtl-sdr dongle; ``rtlamr -format=json`` prints one JSON object
per message heard::

    {"Time": "...", "Offset": 0, "Length": 0, "Type": "SCM", "Message": {"ID": ..., "Consumption": ...}}

``Message`` holds the fields of the protocol's Go struct under their Go names (``scm/scm.go``,
``scmplus/scmplus.go``, ``idm/idm.go``, ``netidm/netidm.go``, ``r900/r900.go``, ``r900bcd/r900bcd.go``).
This module parses those lines (:func:`parse_rtlamr_line`), turns a message into register readings
(:func:`to_readings`), drops the copies of a broadcast heard again (:class:`Deduper`), and reads a stream of
lines (:func:`iter_lines`, :func:`read_messages`). rtlamr2mqtt (github.com/allangood/rtlamr2mqtt) republishes
the readings on MQTT; :func:`parse_rtlamr2mqtt` reads its ``<base_topic>/<meter_id>/state`` payloads.

Readings are in the meter's register units (``unit="count"``); the energy of one unit (the meter's multiplier
and register resolution) belongs to the channel's mapping (:attr:`ChannelConfig.wh_per_unit
<meshmeter.collect.readings.ChannelConfig.wh_per_unit>`), and the register's roll-over to
:func:`modulus_of`. Everything here is pure but :class:`Deduper`'s small memory: no I/O beyond the stream it
is handed, no clock, no store.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import IO, Final

import orjson

from meshmeter.collect.readings import Reading, Rejection, epoch_ms
from meshmeter.errors import PayloadError

__all__ = [
    "DEFAULT_DEDUPE_WINDOW_S",
    "IDM_INTERVAL_S",
    "MSG_TYPES",
    "TRANSMIT_OFFSET_PER_S",
    "Deduper",
    "LineCounts",
    "RtlamrMessage",
    "iter_lines",
    "modulus_of",
    "parse_rtlamr2mqtt",
    "parse_rtlamr_line",
    "read_messages",
    "to_readings",
]

IDM_INTERVAL_S: Final = 300
"""Length of one differential interval of IDM and NetIDM: 5 minutes (rtlamr's README, "Message Types";
rtlamr-collect's ``AddPoints``). [s]"""

TRANSMIT_OFFSET_PER_S: Final = 16
"""``TransmitTimeOffset`` counts sixteenths of a second since the current interval began (rtlamr-collect:
"TransmitTime is 1/16ths of a second since the interval began"). [1/s]"""

DEFAULT_DEDUPE_WINDOW_S: Final = 900
"""A message equal to the last one kept of its meter is a copy when heard within this time of it. A meter
that uses nothing still gives a reading this often, so its intervals close with 0 Wh instead of a gap
(:data:`~meshmeter.collect.readings.MAX_APPORTION_S`). [s]"""

_DEFAULT_MAX_METERS: Final = 10_000


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where a protocol keeps its ID, type, registers and intervals, with each field's width in bits."""

    id_field: str
    id_bits: int
    type_field: str
    type_bits: int
    consumption_field: str
    consumption_bits: int
    generation_field: str | None = None
    interval_count: int = 0
    interval_bits: int = 0
    bcd: bool = False

    @property
    def modulus(self) -> int:
        """The consumption register rolls over to 0 here: its bit width, or its decimal digits for BCD."""
        return 10 ** (self.consumption_bits // 4) if self.bcd else 1 << self.consumption_bits


_LAYOUTS: Final[dict[str, _Layout]] = {
    # scm/scm.go: ID 26 bits (2 + 24), ERT type 4 bits, Consumption 24 bits (bits 32..56).
    "SCM": _Layout("ID", 26, "Type", 4, "Consumption", 24),
    # scmplus/scmplus.go: binary.Read of the packet into uint32 EndpointID and Consumption.
    "SCM+": _Layout("EndpointID", 32, "EndpointType", 8, "Consumption", 32),
    # idm/idm.go: LastConsumptionCount uint32; 47 differentials of 9 bits; ERTType is the low nibble.
    "IDM": _Layout("ERTSerialNumber", 32, "ERTType", 4, "LastConsumptionCount", 32, None, 47, 9),
    # netidm/netidm.go: LastConsumption and LastGeneration 3 bytes each; 27 differentials of 14 bits.
    "NetIDM": _Layout("ERTSerialNumber", 32, "ERTType", 4, "LastConsumption", 24, "LastGeneration", 27, 14),
    # r900/r900.go: ID 32 bits, Unkn1 (rtlamr's MeterType) 8 bits, Consumption 24 bits.
    "R900": _Layout("ID", 32, "Unkn1", 8, "Consumption", 24),
    # r900bcd/r900bcd.go: the same 24 bits read as 6 binary-coded decimal digits (0..999999).
    "R900BCD": _Layout("ID", 32, "Unkn1", 8, "Consumption", 24, bcd=True),
}

_MISREAD: Final[dict[str, tuple[int, str]]] = {
    "IDM": (8, "a net meter's packet read by the IDM decoder"),
    "NetIDM": (7, "an IDM meter's packet read by the NetIDM decoder"),
}
"""ERT types whose packets the other decoder of the shared IDM preamble reads as garbage: net meters are
type 8, others type 7 (rtlamr issue #155; rtlamr-collect's ``COLLECT_STRICTIDM``)."""

MSG_TYPES: Final = tuple(_LAYOUTS)
"""The ``Type`` values rtlamr writes: ``SCM``, ``SCM+``, ``IDM``, ``NetIDM``, ``R900``, ``R900BCD``."""

_CHANNELS: Final = ("consumption", "generation")


def modulus_of(msg_type: str) -> Decimal:
    """
    The value at which a message type's consumption register rolls over to 0: its field's bit width.

    Parameters
    ----------
    msg_type : str
        rtlamr's ``Type``: one of :data:`MSG_TYPES`.

    Returns
    -------
    Decimal
        ``2**24`` (SCM, NetIDM, R900), ``2**32`` (SCM+, IDM), ``10**6`` (R900BCD: six BCD digits), in
        register units; the ``modulus`` of the channel's
        :class:`~meshmeter.collect.readings.ChannelConfig`. NetIDM's ``LastGeneration`` has the same width
        as its ``LastConsumption``.

    Raises
    ------
    ValueError
        ``msg_type`` is not an rtlamr message type.
    """
    layout = _LAYOUTS.get(msg_type)
    if layout is None:
        raise ValueError(f"msg_type must be one of {', '.join(MSG_TYPES)}, got {msg_type!r}")
    return Decimal(layout.modulus)


@dataclass(frozen=True, slots=True)
class RtlamrMessage:
    """
    One message as rtlamr decoded it, with the fields a collector needs taken out and checked.

    Attributes
    ----------
    msg_type : str
        rtlamr's ``Type`` (:data:`MSG_TYPES`).
    meter_id : str
        The meter's ID in decimal (``ID``, ``EndpointID`` or ``ERTSerialNumber``): the FCC label's endpoint
        ID, and the ``device`` of its readings.
    meter_type : int
        The ERT endpoint (commodity) type (``Type``, ``EndpointType``, ``ERTType``; electric meters are
        4, 5, 7, 8, 12 per rtlamr's ``meters.md``), or R900's ``Unkn1``.
    at_ms : int
        rtlamr's ``Time``: when its receiver decoded the message (its host's clock), else ``received_at_ms``
        where the line has no ``Time``. [ms since the Unix epoch]
    received_at_ms : int
        When this program got the line. [ms]
    consumption : int
        The consumption register: ``Consumption``, ``LastConsumptionCount`` (IDM) or ``LastConsumption``
        (NetIDM). [register units]
    generation : int or None
        NetIDM's ``LastGeneration``. [register units]
    interval_count : int or None
        IDM/NetIDM ``ConsumptionIntervalCount``: the meter's interval number, modulo 256.
    differentials : tuple of int
        IDM/NetIDM ``DifferentialConsumptionIntervals``, newest first: element 0 is the consumption of the
        interval that ended when ``consumption`` was latched (NetIDM's are kept but not used, their meaning
        not being established). [register units]
    transmit_time_offset : int or None
        IDM/NetIDM ``TransmitTimeOffset``: time since the current interval began. [1/16 s]
    fields : dict
        The whole ``Message`` object as rtlamr wrote it (not compared, not hashed).
    """

    msg_type: str
    meter_id: str
    meter_type: int
    at_ms: int
    received_at_ms: int
    consumption: int
    generation: int | None = None
    interval_count: int | None = None
    differentials: tuple[int, ...] = ()
    transmit_time_offset: int | None = None
    fields: dict[str, object] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def register_at_ms(self) -> int:
        """
        When :attr:`consumption` held. [ms]

        SCM, SCM+ and R900 carry the register as it is when sent: the message's time. IDM and NetIDM carry
        the register latched at the start of the current interval, ``TransmitTimeOffset`` sixteenths of a
        second before the message (rtlamr-collect stamps it so); their differentials end there.
        """
        if self.transmit_time_offset is None:
            return self.at_ms
        return self.at_ms - self.transmit_time_offset * 1000 // TRANSMIT_OFFSET_PER_S

    @property
    def dedupe_key(self) -> tuple[int | None, ...]:
        """What makes two messages of one meter and type the same broadcast: its registers and interval."""
        return (self.consumption, self.generation, self.interval_count)


# -- parsing -----------------------------------------------------------------------------------------------

_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})",
)


def _time_ms(text: object, name: str) -> int:
    """An RFC 3339 time as Go writes it (``2025-05-05T21:25:04.891578823Z``) in ms since the epoch. [ms]"""
    if not isinstance(text, str):
        raise PayloadError(Rejection.MALFORMED, f"{name} must be an RFC 3339 time string, got {text!r}")
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise PayloadError(Rejection.MALFORMED, f"{name} {text!r} is not an RFC 3339 time")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if zone == "Z":
        tz: timezone = UTC
    else:
        sign = -1 if zone[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        at = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=tz)
    except ValueError as exc:
        raise PayloadError(Rejection.MALFORMED, f"{name} {text!r} is not a valid time: {exc}") from None
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    at_ms = epoch_ms(at) + millis
    if at_ms < 0:
        raise PayloadError(
            Rejection.MALFORMED, f"{name} {text!r} is before 1970: the receiver's clock is unset"
        )
    return at_ms


def _uint(message: Mapping[str, object], name: str, bits: int, msg_type: str) -> int:
    """A whole-number field of ``Message``, checked to fit its width in bits."""
    if name not in message:
        raise PayloadError(Rejection.MALFORMED, f"Message.{name} is missing from a {msg_type} message")
    value = message[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(
            Rejection.MALFORMED,
            f"Message.{name} of a {msg_type} message must be a whole number, got {value!r}",
        )
    if not 0 <= value < (1 << bits):
        raise PayloadError(
            Rejection.MALFORMED,
            f"Message.{name} of a {msg_type} message is {value}, outside its {bits}-bit field",
        )
    return value


def _decode(line: str | bytes, what: str) -> object:
    """JSON text (UTF-8 bytes or str) to a Python value, or ``malformed``."""
    if isinstance(line, bytes | bytearray | memoryview):
        try:
            text = bytes(line).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PayloadError(Rejection.MALFORMED, f"{what} is not UTF-8: {exc}") from None
    elif isinstance(line, str):
        text = line
    else:
        raise PayloadError(Rejection.MALFORMED, f"{what} must be text or bytes, got {type(line).__name__}")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(Rejection.MALFORMED, f"{what} is not JSON: {exc}") from None


def parse_rtlamr_line(line: str | bytes, *, received_at_ms: int) -> RtlamrMessage:
    """
    One line of ``rtlamr -format=json``: a message of one meter.

    Parameters
    ----------
    line : str or bytes
        The JSON object rtlamr printed (``{"Time": ..., "Type": ..., "Message": {...}}``); surrounding
        white space and the newline are allowed.
    received_at_ms : int
        When the line was read; the message's time when the line has no ``Time``. [ms since the epoch]

    Returns
    -------
    RtlamrMessage

    Raises
    ------
    PayloadError
        ``malformed``: not JSON, not an object, ``Type`` not one of :data:`MSG_TYPES`, ``Message`` missing,
        a field missing, not a whole number or wider than its field in rtlamr's struct (the meter ID among
        them), IDM/NetIDM differentials not a list of the protocol's count, or ``TransmitTimeOffset`` past
        the 5-minute interval. The detail names the field.
    """
    data = _decode(line, "the rtlamr line")
    if not isinstance(data, dict):
        raise PayloadError(Rejection.MALFORMED, f"the rtlamr line must be a JSON object, got {data!r:.80}")
    if "Type" not in data:
        raise PayloadError(Rejection.MALFORMED, "Type is missing (rtlamr -format=json writes it)")
    msg_type = data["Type"]
    if not isinstance(msg_type, str) or msg_type not in _LAYOUTS:
        raise PayloadError(
            Rejection.MALFORMED, f"Type {msg_type!r} is not an rtlamr message type ({', '.join(MSG_TYPES)})"
        )
    layout = _LAYOUTS[msg_type]
    message = data.get("Message")
    if not isinstance(message, dict):
        raise PayloadError(Rejection.MALFORMED, f"Message must be a JSON object, got {message!r:.80}")
    at_ms = _time_ms(data["Time"], "Time") if "Time" in data else received_at_ms
    meter_id = _uint(message, layout.id_field, layout.id_bits, msg_type)
    meter_type = _uint(message, layout.type_field, layout.type_bits, msg_type)
    misread = _MISREAD.get(msg_type)
    if misread is not None and meter_type == misread[0]:
        raise PayloadError(
            Rejection.MALFORMED,
            f"Message.ERTType {meter_type} in a {msg_type} message: {misread[1]} (rtlamr decodes the packet "
            f"both ways when -msgtype has idm and netidm); ignored",
        )
    consumption = _uint(message, layout.consumption_field, layout.consumption_bits, msg_type)
    if consumption >= layout.modulus:
        raise PayloadError(
            Rejection.MALFORMED,
            f"Message.{layout.consumption_field} of a {msg_type} message is {consumption}, more than its "
            f"binary-coded decimal register holds ({layout.modulus - 1})",
        )
    generation = None
    if layout.generation_field is not None:
        generation = _uint(message, layout.generation_field, 24, msg_type)
    interval_count = offset = None
    differentials: tuple[int, ...] = ()
    if layout.interval_count:
        interval_count = _uint(message, "ConsumptionIntervalCount", 8, msg_type)
        offset = _uint(message, "TransmitTimeOffset", 16, msg_type)
        if offset >= IDM_INTERVAL_S * TRANSMIT_OFFSET_PER_S:
            raise PayloadError(
                Rejection.MALFORMED,
                f"Message.TransmitTimeOffset of a {msg_type} message is {offset} (1/16 s), past the "
                f"{IDM_INTERVAL_S} s interval",
            )
        raw = message.get("DifferentialConsumptionIntervals")
        if not isinstance(raw, list) or len(raw) != layout.interval_count:
            raise PayloadError(
                Rejection.MALFORMED,
                f"Message.DifferentialConsumptionIntervals of a {msg_type} message must be a list of "
                f"{layout.interval_count} numbers, got {raw!r:.80}",
            )
        cells = {f"DifferentialConsumptionIntervals[{i}]": value for i, value in enumerate(raw)}
        differentials = tuple(_uint(cells, name, layout.interval_bits, msg_type) for name in cells)
    return RtlamrMessage(
        msg_type=msg_type,
        meter_id=str(meter_id),
        meter_type=meter_type,
        at_ms=at_ms,
        received_at_ms=received_at_ms,
        consumption=consumption,
        generation=generation,
        interval_count=interval_count,
        differentials=differentials,
        transmit_time_offset=offset,
        fields=message,
    )


# -- readings ----------------------------------------------------------------------------------------------


def to_readings(
    msg: RtlamrMessage,
    *,
    channel: str = "consumption",
    after_ms: int | None = None,
    modulus: Decimal | None = None,
) -> list[Reading]:
    """
    A message's register readings, oldest first (``unit="count"``, ``device`` = the meter ID).

    Parameters
    ----------
    msg : RtlamrMessage
    channel : str
        ``"consumption"`` (every type), or ``"generation"`` (NetIDM's ``LastGeneration``); also the
        readings' ``channel``.
    after_ms : int, optional
        Keep only readings after this time: the channel's last position
        (:attr:`ChannelState.at_ms <meshmeter.collect.readings.ChannelState.at_ms>`), so that an IDM's
        intervals already covered are not offered again (:func:`~meshmeter.collect.readings.advance` would
        refuse each as ``stale``). [ms]
    modulus : Decimal, optional
        The channel's roll-over (:attr:`ChannelConfig.modulus
        <meshmeter.collect.readings.ChannelConfig.modulus>`), when it is narrower than this type's: values
        are taken modulo it. A channel fed by both SCM (24-bit) and IDM (32-bit) messages of one meter
        gives ``modulus_of("SCM")`` here, so that both wrap at the same value. [register units]

    Returns
    -------
    list of Reading
        SCM, SCM+, R900, R900BCD: the consumption at the message's time. IDM consumption: the register
        ``c`` at :attr:`RtlamrMessage.register_at_ms` ``t0`` (the start of the meter's current interval),
        and the register at the end of each earlier interval rebuilt from the 47 differentials ``d``
        (newest first): ``(c - d[0] - ... - d[k-1]) mod 2**32`` at ``t0 - k * 300 s``. NetIDM: its
        ``LastConsumption`` (or ``LastGeneration``) at ``t0`` alone; its differentials are not used
        (``docs/collect-rtlamr.md``, "Differentials").

    Raises
    ------
    ValueError
        ``channel`` is not one the message carries; ``modulus`` not a positive whole Decimal.
    """
    if channel not in _CHANNELS or (channel == "generation" and msg.generation is None):
        raise ValueError(f"channel must be 'consumption' (or 'generation' for NetIDM), got {channel!r}")
    if modulus is not None and not (
        isinstance(modulus, Decimal)
        and modulus.is_finite()
        and modulus > 0
        and modulus == modulus.to_integral()
    ):
        raise ValueError(f"modulus must be a positive whole Decimal or None, got {modulus!r}")
    t0_ms = msg.register_at_ms
    points = [(t0_ms, msg.generation if channel == "generation" else msg.consumption)]
    if channel == "consumption" and msg.msg_type == "IDM":
        register = msg.consumption
        for k, used in enumerate(msg.differentials, start=1):
            register = (register - used) % _LAYOUTS["IDM"].modulus
            points.append((t0_ms - k * IDM_INTERVAL_S * 1000, register))
        points.reverse()
    wrap = None if modulus is None else int(modulus)
    return [
        Reading(
            device=msg.meter_id,
            channel=channel,
            at_ms=at_ms,
            value=Decimal(value if wrap is None else value % wrap),
            unit="count",
        )
        for at_ms, value in points
        if value is not None and (after_ms is None or at_ms > after_ms)
    ]


# -- duplicates --------------------------------------------------------------------------------------------


class Deduper:
    """
    Drops the copies of one broadcast: rtlamr prints every message it hears, and a meter repeats the same
    register many times (an ERT meter sends about every 30 s and updates every 5 minutes; an R900 sends
    every 15 s and updates hourly).

    A message is a copy when the last message kept of the same meter and type had the same registers and
    interval count (:attr:`RtlamrMessage.dedupe_key`) and was heard less than ``window_s`` before it (or
    after it). Only the last kept key of each meter and type is remembered, for at most ``max_meters``
    meters and types (the least recently heard are forgotten first), so memory stays bounded however long
    it runs and however many meters are in range.

    Parameters
    ----------
    window_s : int
        :data:`DEFAULT_DEDUPE_WINDOW_S` unless told. [s]
    max_meters : int
        How many (meter, type) pairs to remember.
    """

    def __init__(
        self, window_s: int = DEFAULT_DEDUPE_WINDOW_S, *, max_meters: int = _DEFAULT_MAX_METERS
    ) -> None:
        if isinstance(window_s, bool) or not isinstance(window_s, int) or window_s <= 0:
            raise ValueError(f"window_s must be a positive whole number of seconds, got {window_s!r}")
        if isinstance(max_meters, bool) or not isinstance(max_meters, int) or max_meters <= 0:
            raise ValueError(f"max_meters must be a positive whole number, got {max_meters!r}")
        self.window_s = window_s
        self.max_meters = max_meters
        self.duplicates = 0
        self._last: OrderedDict[tuple[str, str], tuple[tuple[int | None, ...], int]] = OrderedDict()

    def __len__(self) -> int:
        """How many (meter, type) pairs are remembered."""
        return len(self._last)

    def check(self, msg: RtlamrMessage) -> None:
        """
        Let a message through, remembering it; or refuse it as a copy.

        Raises
        ------
        PayloadError
            ``duplicate``: the same broadcast as the last one kept of its meter, within the window; it is
            counted in :attr:`duplicates` and changes nothing.
        """
        slot = (msg.msg_type, msg.meter_id)
        last = self._last.get(slot)
        if last is not None:
            self._last.move_to_end(slot)
            key, kept_ms = last
            if key == msg.dedupe_key and abs(msg.at_ms - kept_ms) < self.window_s * 1000:
                self.duplicates += 1
                raise PayloadError(
                    Rejection.DUPLICATE,
                    f"{msg.msg_type} {msg.meter_id}: register {msg.consumption} heard again "
                    f"{(msg.at_ms - kept_ms) / 1000:.1f} s after it was kept",
                )
        self._last[slot] = (msg.dedupe_key, msg.at_ms)
        self._last.move_to_end(slot)
        while len(self._last) > self.max_meters:
            self._last.popitem(last=False)


# -- streams -----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class LineCounts:
    """
    What :func:`iter_lines` saw of a stream.

    Attributes
    ----------
    lines : int
        Every line read.
    blank : int
        Empty or white-space lines, skipped.
    log : int
        Lines not starting with ``{``: rtlamr's (and rtl_tcp's) log lines when stderr is merged into stdout
        (``GainCount=29``, ``set freq 912600155``), skipped.
    messages : int
        Lines given on as messages (starting with ``{``; they may still be malformed).
    """

    lines: int = 0
    blank: int = 0
    log: int = 0
    messages: int = 0


def iter_lines(
    stream: IO[str] | IO[bytes] | Iterable[str | bytes], counts: LineCounts | None = None
) -> Iterator[str]:
    """
    The message lines of a stream of rtlamr output: stdin of ``rtlamr -format=json | ...``, or a file.

    Parameters
    ----------
    stream : text or binary file, or iterable of lines
        Read lazily, line by line, as rtlamr writes them. Bytes are decoded as UTF-8 (undecodable bytes
        are replaced, so the line is then refused by :func:`parse_rtlamr_line`).
    counts : LineCounts, optional
        Filled in while reading.

    Yields
    ------
    str
        Each line that starts with ``{`` (after white space), stripped. Blank lines and log lines are
        skipped and counted.
    """
    tally = counts if counts is not None else LineCounts()
    for raw in stream:
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes | bytearray) else raw
        tally.lines += 1
        line = text.strip()
        if not line:
            tally.blank += 1
        elif not line.startswith("{"):
            tally.log += 1
        else:
            tally.messages += 1
            yield line


def read_messages(
    stream: IO[str] | IO[bytes] | Iterable[str | bytes],
    *,
    clock_ms: Callable[[], int],
    counts: LineCounts | None = None,
) -> Iterator[RtlamrMessage | PayloadError]:
    """
    The messages of a stream of rtlamr output, each parsed, or the reason it was refused.

    Parameters
    ----------
    stream : text or binary file, or iterable of lines
        As for :func:`iter_lines`.
    clock_ms : callable
        Now, in ms since the epoch: each line's ``received_at_ms``. [ms]
    counts : LineCounts, optional
        Filled in while reading.

    Yields
    ------
    RtlamrMessage or PayloadError
        In the stream's order; a malformed line gives its :class:`~meshmeter.errors.PayloadError` and
        reading goes on.
    """
    for line in iter_lines(stream, counts):
        try:
            yield parse_rtlamr_line(line, received_at_ms=clock_ms())
        except PayloadError as error:
            yield error


# -- rtlamr2mqtt -------------------------------------------------------------------------------------------

_FORMATTED = re.compile(r"\d+(?:[.,' _]\d+)*")


def parse_rtlamr2mqtt(
    topic: str,
    payload: str | bytes,
    received_at_ms: int,
    *,
    base_topic: str | None = None,
    channel: str = "consumption",
) -> list[Reading]:
    """
    A message rtlamr2mqtt published: the reading of ``<base_topic>/<meter_id>/state``.

    rtlamr2mqtt publishes ``{"reading": ..., "lastseen": "2025-01-15T10:30:00-05:00"}`` on
    ``<base_topic>/<meter_id>/state``, the rest of rtlamr's message (without its ID and consumption) on
    ``<base_topic>/<meter_id>/attributes``, and ``online``/``offline`` on ``<base_topic>/status``
    (its README, "MQTT Topics"; ``app/mqtt_publisher.py``). ``reading`` is the consumption register: a
    number, or, where the meter's ``format`` is set, the register's digits laid into it (``"######.###"``
    makes 1978226 ``"001978.226"``): the digits are read back as the register count, so give the format
    at least as many ``#`` as the register has digits (8 for SCM and R900, 10 for SCM+ and IDM), since
    rtlamr2mqtt drops the digits that do not fit.

    Parameters
    ----------
    topic : str
    payload : str or bytes
    received_at_ms : int
        When it was received; the reading's time when ``lastseen`` is absent. [ms since the epoch]
    base_topic : str, optional
        rtlamr2mqtt's ``mqtt.base_topic`` (``rtlamr`` by default); when given, a topic outside it is refused.
    channel : str
        The readings' channel name.

    Returns
    -------
    list of Reading
        One reading (``unit="count"``, ``device`` = the meter ID, at ``lastseen``, else ``received_at_ms``)
        for a state topic; none for the status and attributes topics, which carry no register.

    Raises
    ------
    PayloadError
        ``malformed``: another topic, a meter ID that is not a number, a payload that is not a JSON object,
        ``reading`` missing or neither a whole number nor a formatted digit string, ``lastseen`` not a time.
    """
    parts = topic.split("/")
    if base_topic is not None:
        prefix = base_topic.strip("/").split("/")
        if parts[: len(prefix)] != prefix:
            raise PayloadError(Rejection.MALFORMED, f"topic {topic!r} is not under base topic {base_topic!r}")
        parts = parts[len(prefix) :]
    if parts[-1:] == ["status"] and (base_topic is None or len(parts) == 1):
        return []
    if (
        len(parts) < 2
        or parts[-1] not in ("state", "attributes")
        or (base_topic is not None and len(parts) > 2)
    ):
        raise PayloadError(
            Rejection.MALFORMED, f"topic {topic!r} is not an rtlamr2mqtt <meter_id>/state topic"
        )
    meter_id = parts[-2]
    if not (meter_id.isascii() and meter_id.isdigit()):
        raise PayloadError(Rejection.MALFORMED, f"meter ID {meter_id!r} in topic {topic!r} is not a number")
    if parts[-1] == "attributes":
        return []
    data = _decode(payload, "the rtlamr2mqtt state")
    if not isinstance(data, dict):
        raise PayloadError(
            Rejection.MALFORMED, f"the rtlamr2mqtt state must be a JSON object, got {data!r:.80}"
        )
    if "reading" not in data:
        raise PayloadError(Rejection.MALFORMED, "reading is missing from the rtlamr2mqtt state")
    reading = data["reading"]
    if isinstance(reading, int) and not isinstance(reading, bool) and reading >= 0:
        count = reading
    elif isinstance(reading, str) and _FORMATTED.fullmatch(reading):
        count = int("".join(ch for ch in reading if ch.isdigit()))
    else:
        raise PayloadError(
            Rejection.MALFORMED,
            f"reading must be the register as a whole number or its formatted digits, got {reading!r:.40}",
        )
    at_ms = _time_ms(data["lastseen"], "lastseen") if "lastseen" in data else received_at_ms
    return [
        Reading(device=str(int(meter_id)), channel=channel, at_ms=at_ms, value=Decimal(count), unit="count")
    ]
