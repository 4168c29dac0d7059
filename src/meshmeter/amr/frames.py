"""The over-the-air frames of meshmeter's mesh: what they carry and their bytes (``docs/frames.md``).

Every frame is a common header, a payload and, when the frame is secured, a MIC, in the manner of an
IEEE 802.15.4-2006 MAC frame (§7.2): multi-byte fields little-endian, an EUI-64 on the air least
significant byte first. The frame check sequence is the PHY's and is not part of these bytes.

=======  ====  ==================  ===================================================================
offset   size  field               encoding
=======  ====  ==================  ===================================================================
0        1     frame control       bits 0–3 frame type, bits 4–6 security level (Table 95), bit 7 zero
1        1     sequence number     uint8, hop by hop: a forwarder rewrites it; ACKs echo it
2        8     source              EUI-64 of the originator, little-endian
10       8     destination         EUI-64, little-endian; ``FF…FF`` is broadcast
18       4     frame counter       uint32, only when the security level is not 0
18 / 22  n     payload             by frame type; encrypted at levels 4 to 7
…        m     MIC                 0, 4, 8 or 16 bytes by security level
=======  ====  ==================  ===================================================================

Security is end to end, from the originating device to the DCAP, under the device's key: the
authenticated data is the header without its sequence number, which a repeater rewrites at each hop
without breaking the MIC. Each frame type has one security level (:data:`SECURITY_POLICY`): BEACON and
ACK are unsecured, every other type is ENC-MIC-64 (level 6). A receiver rejects any other level.

EUI-64s in this module are 8 ``bytes`` in written order, most significant byte first
(``bytes.fromhex("ACDE480000000001")``), as :func:`meshmeter.amr.security.ccm_nonce` takes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from struct import Struct
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from meshmeter.amr.records import INTERVAL_S, IntervalRecord, TamperEvent, TemperatureReading
from meshmeter.amr.security import KEY_BYTES, SecurityLevel, ccm_context, secure, unsecure
from meshmeter.errors import FrameError, SecurityError

__all__ = [
    "BROADCAST",
    "MAX_FRAME_BYTES",
    "MAX_INTERVAL_RECORDS",
    "SECURITY_POLICY",
    "Ack",
    "Beacon",
    "DeviceKind",
    "Frame",
    "FrameHeader",
    "FrameType",
    "IntervalReport",
    "IntervalReportEncoder",
    "JoinRequest",
    "JoinResponse",
    "JoinStatus",
    "Payload",
    "PowerLoss",
    "decode_frame",
    "decode_header",
    "encode_frame",
    "report_context",
    "set_sequence",
    "unpack_interval_report",
]

BROADCAST = b"\xff" * 8
"""The broadcast destination, EUI-64 ``FF…FF``."""

MAX_FRAME_BYTES = 2043
"""Longest frame: aMaxPhyPacketSize 2047 of the 915 MHz SUN PHYs (IEEE 802.15.4g), less the 4-byte FCS.
[byte]"""

MAX_INTERVAL_RECORDS = 96
"""Most interval records in one INTERVAL_REPORT: one day of 15-minute intervals (1 198 bytes). [1]"""

_BASE_HEADER = Struct("<BB8s8s")
_SECURE_HEADER = Struct("<BB8s8sI")
_BASE_LEN = _BASE_HEADER.size  # 18
_SECURE_LEN = _SECURE_HEADER.size  # 22
_U8 = 2**8
_U16 = 2**16
_U32 = 2**32


class FrameType(IntEnum):
    """The frame types, the low four bits of the frame control byte."""

    BEACON = 0
    JOIN_REQUEST = 1
    JOIN_RESPONSE = 2
    INTERVAL_REPORT = 3
    TAMPER = 4
    TEMPERATURE = 5
    POWER_LOSS = 6
    ACK = 7


class DeviceKind(IntEnum):
    """What kind of device asks to join."""

    MDT = 1
    REPEATER = 2


class JoinStatus(IntEnum):
    """The DCAP's answer to a join request."""

    ACCEPTED = 0
    NETWORK_FULL = 1
    """The DCAP already serves its maximum of devices (1000 MDTs)."""
    NOT_PERMITTED = 2
    """Joining is closed on this network."""
    DENIED = 3
    """The device is known but refused (e.g. decommissioned)."""


SECURITY_POLICY: dict[FrameType, SecurityLevel] = {
    FrameType.BEACON: SecurityLevel.NONE,
    FrameType.JOIN_REQUEST: SecurityLevel.ENC_MIC_64,
    FrameType.JOIN_RESPONSE: SecurityLevel.ENC_MIC_64,
    FrameType.INTERVAL_REPORT: SecurityLevel.ENC_MIC_64,
    FrameType.TAMPER: SecurityLevel.ENC_MIC_64,
    FrameType.TEMPERATURE: SecurityLevel.ENC_MIC_64,
    FrameType.POWER_LOSS: SecurityLevel.ENC_MIC_64,
    FrameType.ACK: SecurityLevel.NONE,
}
"""The one security level of each frame type; a receiver rejects a frame at any other."""


def _check_uint(name: str, value: int, bound: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < bound:
        raise ValueError(f"{name} must be an int in [0, {bound}), got {value!r}")


def _check_eui64(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != 8:
        raise ValueError(f"{name} must be an EUI-64 of 8 bytes, got {value!r}")


def _check_bool(name: str, value: bool) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool, got {value!r}")


# ----------------------------------------------------------------------------------------------------
# Payloads
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Beacon:
    """
    Advertisement of the network by the DCAP or a joined repeater, broadcast and unsecured.

    Parameters
    ----------
    pan_id : int
        Network identifier, uint16.
    hop_count : int
        Hops from the sender to the DCAP: 0 for the DCAP itself. [1]
    path_cost : int
        The sender's path cost to the DCAP, the sum of link ETX along the route times 128, uint16
        (0 at the DCAP; 0xFFFF means no route). [1/128]
    network_time_s : int
        Network time, seconds since the Unix epoch, UTC, uint32. [s]
    dcap : bytes
        EUI-64 of the DCAP the sender is joined to.
    join_permitted : bool
        True when the network accepts join requests.
    """

    pan_id: int
    hop_count: int
    path_cost: int
    network_time_s: int
    dcap: bytes
    join_permitted: bool

    def __post_init__(self) -> None:
        _check_uint("pan_id", self.pan_id, _U16)
        _check_uint("hop_count", self.hop_count, _U8)
        _check_uint("path_cost", self.path_cost, _U16)
        _check_uint("network_time_s", self.network_time_s, _U32)
        _check_eui64("dcap", self.dcap)
        _check_bool("join_permitted", self.join_permitted)

    @property
    def path_etx(self) -> float:
        """Path cost as expected transmissions, ``path_cost / 128``. [1]"""
        return self.path_cost / 128


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """
    A device asks the DCAP to join, through the parent it has chosen.

    Parameters
    ----------
    device_kind : DeviceKind
        An MDT or a repeater.
    parent : bytes
        EUI-64 of the chosen parent (the DCAP or a joined repeater), the route back to the device.
    """

    device_kind: DeviceKind
    parent: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.device_kind, DeviceKind):
            raise ValueError(f"device_kind must be a DeviceKind, got {self.device_kind!r}")
        _check_eui64("parent", self.parent)


@dataclass(frozen=True, slots=True)
class JoinResponse:
    """
    The DCAP's answer to a join request, sent back to the device.

    Parameters
    ----------
    status : JoinStatus
        Accepted, or why not.
    network_time_s : int
        Network time, seconds since the Unix epoch, UTC, uint32; authenticated, unlike a beacon's. [s]
    """

    status: JoinStatus
    network_time_s: int

    def __post_init__(self) -> None:
        if not isinstance(self.status, JoinStatus):
            raise ValueError(f"status must be a JoinStatus, got {self.status!r}")
        _check_uint("network_time_s", self.network_time_s, _U32)


@dataclass(frozen=True, slots=True)
class IntervalReport:
    """
    Interval records from an MDT to the DCAP, oldest first, with a temperature reading on D02/E02 kits.

    Parameters
    ----------
    records : tuple of IntervalRecord
        1 to :data:`MAX_INTERVAL_RECORDS` records.
    temperature : TemperatureReading or None
        A temperature reading (manual §2.4), sent at a resolution of 0.01 °C.
    """

    records: tuple[IntervalRecord, ...]
    temperature: TemperatureReading | None = None

    def __post_init__(self) -> None:
        records = self.records
        if type(records) is not tuple:
            raise ValueError(f"records must be a tuple of IntervalRecord, got {records!r}")
        for record in records:
            if type(record) is not IntervalRecord:
                raise ValueError(f"records must be a tuple of IntervalRecord, got {record!r} in it")
        if not 1 <= len(self.records) <= MAX_INTERVAL_RECORDS:
            raise ValueError(
                f"records must hold 1 to {MAX_INTERVAL_RECORDS} records, got {len(self.records)}"
            )
        if self.temperature is not None and not isinstance(self.temperature, TemperatureReading):
            raise ValueError(f"temperature must be a TemperatureReading or None, got {self.temperature!r}")


@dataclass(frozen=True, slots=True)
class PowerLoss:
    """
    A repeater reports its own loss of power (its last gasp) or its return.

    Parameters
    ----------
    time_s : int
        When power was lost, or restored, network time, uint32. [s]
    power_restored : bool
        False for the loss of power, True for its return.
    """

    time_s: int
    power_restored: bool

    def __post_init__(self) -> None:
        _check_uint("time_s", self.time_s, _U32)
        _check_bool("power_restored", self.power_restored)


@dataclass(frozen=True, slots=True)
class Ack:
    """
    Acknowledgement of one frame over one hop, like the 802.15.4 imm-ack (§7.2.2.3); unsecured.

    Parameters
    ----------
    acked_sequence : int
        The sequence number of the frame acknowledged, uint8.
    """

    acked_sequence: int

    def __post_init__(self) -> None:
        _check_uint("acked_sequence", self.acked_sequence, _U8)


Payload = (
    Beacon | JoinRequest | JoinResponse | IntervalReport | TamperEvent | TemperatureReading | PowerLoss | Ack
)
"""What a frame carries; its class sets the frame type (TAMPER carries a TamperEvent, TEMPERATURE a
TemperatureReading)."""

_TYPE_OF: dict[type, FrameType] = {
    Beacon: FrameType.BEACON,
    JoinRequest: FrameType.JOIN_REQUEST,
    JoinResponse: FrameType.JOIN_RESPONSE,
    IntervalReport: FrameType.INTERVAL_REPORT,
    TamperEvent: FrameType.TAMPER,
    TemperatureReading: FrameType.TEMPERATURE,
    PowerLoss: FrameType.POWER_LOSS,
    Ack: FrameType.ACK,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """
    One frame: the common header and a payload whose class sets the frame type.

    Parameters
    ----------
    payload : Payload
        What the frame carries.
    source : bytes
        EUI-64 of the originator, whose key secures the frame.
    destination : bytes
        EUI-64 of the final destination, :data:`BROADCAST` for all.
    sequence : int
        Hop-by-hop sequence number, uint8, echoed by the ACK.
    frame_counter : int
        The originator's outgoing frame counter, uint32, for the nonce and against replay; 0 for an
        unsecured frame (it is not sent). [1]
    """

    payload: Payload
    source: bytes
    destination: bytes = BROADCAST
    sequence: int = 0
    frame_counter: int = 0

    def __post_init__(self) -> None:
        frame_type = _TYPE_OF.get(type(self.payload))
        if frame_type is None:
            raise ValueError(f"payload must be one of the frame payloads, got {self.payload!r}")
        # Cheap tests for the common case first: frames are built millions of times in a run.
        source, destination = self.source, self.destination
        if type(source) is not bytes or len(source) != 8:
            _check_eui64("source", source)
        if type(destination) is not bytes or len(destination) != 8:
            _check_eui64("destination", destination)
        sequence, counter = self.sequence, self.frame_counter
        if type(sequence) is not int or not 0 <= sequence < _U8:
            _check_uint("sequence", sequence, _U8)
        if type(counter) is not int or not 0 <= counter < _U32:
            _check_uint("frame_counter", counter, _U32)
        if counter and not _LEVELS[frame_type]:
            raise ValueError(
                f"frame_counter must be 0 for an unsecured {frame_type.name} frame, got {counter!r}"
            )

    @property
    def frame_type(self) -> FrameType:
        """The frame type, set by the payload's class."""
        return _TYPE_OF[type(self.payload)]

    @property
    def security_level(self) -> SecurityLevel:
        """The security level of the frame type (:data:`SECURITY_POLICY`)."""
        return SECURITY_POLICY[_TYPE_OF[type(self.payload)]]


@dataclass(frozen=True, slots=True)
class FrameHeader:
    """
    The common header of a frame, read without its key: what a repeater needs to forward a frame.

    Parameters
    ----------
    frame_type : FrameType
        The frame type.
    security_level : SecurityLevel
        The security level of the frame.
    sequence : int
        Hop-by-hop sequence number, uint8.
    source : bytes
        EUI-64 of the originator.
    destination : bytes
        EUI-64 of the final destination.
    frame_counter : int
        The originator's frame counter; 0 for an unsecured frame. [1]
    """

    frame_type: FrameType
    security_level: SecurityLevel
    sequence: int
    source: bytes
    destination: bytes
    frame_counter: int


# ----------------------------------------------------------------------------------------------------
# Payload codecs: each encoder takes a validated payload; each decoder takes the plaintext bytes and
# returns a payload or raises FrameError.
# ----------------------------------------------------------------------------------------------------

_BEACON = Struct("<HBHI8sB")
_JOIN_REQUEST = Struct("<B8s")
_JOIN_RESPONSE = Struct("<BI")
_REPORT_HEAD = Struct("<BB")
_RECORD = Struct("<III")
_TEMPERATURE = Struct("<Ih")
_TIME_FLAG = Struct("<IB")
_ACK = Struct("<B")
_TEMPERATURE_PRESENT = 0x01
_CENTI_C_MIN = -4000
_CENTI_C_MAX = 8500


def _malformed(detail: str) -> FrameError:
    return FrameError("malformed", detail)


def _exact(name: str, body: bytes, size: int) -> None:
    if len(body) != size:
        raise _malformed(f"{name} payload must be {size} bytes, got {len(body)}")


def _flag(name: str, value: int) -> bool:
    if value > 1:
        raise _malformed(f"{name} flags must be 0 or 1, got {value:#04x}")
    return value == 1


def _centi_c(temperature_c: float) -> int:
    return round(temperature_c * 100)


def _encode_beacon(p: Beacon) -> bytes:
    return _BEACON.pack(p.pan_id, p.hop_count, p.path_cost, p.network_time_s, p.dcap[::-1], p.join_permitted)


def _decode_beacon(body: bytes) -> Beacon:
    _exact("BEACON", body, _BEACON.size)
    pan_id, hops, cost, time_s, dcap, flags = _BEACON.unpack(body)
    return Beacon(pan_id, hops, cost, time_s, dcap[::-1], _flag("BEACON", flags))


def _encode_join_request(p: JoinRequest) -> bytes:
    return _JOIN_REQUEST.pack(p.device_kind, p.parent[::-1])


def _decode_join_request(body: bytes) -> JoinRequest:
    _exact("JOIN_REQUEST", body, _JOIN_REQUEST.size)
    kind, parent = _JOIN_REQUEST.unpack(body)
    try:
        device_kind = DeviceKind(kind)
    except ValueError:
        raise _malformed(f"unknown device kind {kind}") from None
    return JoinRequest(device_kind, parent[::-1])


def _encode_join_response(p: JoinResponse) -> bytes:
    return _JOIN_RESPONSE.pack(p.status, p.network_time_s)


def _decode_join_response(body: bytes) -> JoinResponse:
    _exact("JOIN_RESPONSE", body, _JOIN_RESPONSE.size)
    status, time_s = _JOIN_RESPONSE.unpack(body)
    try:
        join_status = JoinStatus(status)
    except ValueError:
        raise _malformed(f"unknown join status {status}") from None
    return JoinResponse(join_status, time_s)


def _encode_temperature(p: TemperatureReading) -> bytes:
    return _TEMPERATURE.pack(p.time_s, _centi_c(p.temperature_c))


def _decode_temperature(body: bytes) -> TemperatureReading:
    _exact("TEMPERATURE", body, _TEMPERATURE.size)
    time_s, centi_c = _TEMPERATURE.unpack(body)
    if not _CENTI_C_MIN <= centi_c <= _CENTI_C_MAX:
        raise _malformed(f"temperature {centi_c / 100} °C is outside [-40, 85] °C")
    return TemperatureReading(time_s, centi_c / 100)


def _encode_interval_report(p: IntervalReport) -> bytes:
    records = p.records
    flags = 0 if p.temperature is None else _TEMPERATURE_PRESENT
    parts = [_REPORT_HEAD.pack(len(records), flags)]
    parts.extend([_RECORD.pack(r.sequence, r.interval_end_s, r.cumulative_pulses) for r in records])
    if p.temperature is not None:
        parts.append(_encode_temperature(p.temperature))
    return b"".join(parts)


def _decode_interval_report(body: bytes) -> IntervalReport:
    size = len(body)
    if size < _REPORT_HEAD.size:
        raise _malformed(f"INTERVAL_REPORT payload of {size} bytes is truncated")
    count, flags = _REPORT_HEAD.unpack_from(body)
    if not 1 <= count <= MAX_INTERVAL_RECORDS:
        raise _malformed(f"INTERVAL_REPORT must hold 1 to {MAX_INTERVAL_RECORDS} records, says {count}")
    end = _REPORT_HEAD.size + count * _RECORD.size
    if flags == 0:
        expected = end
    elif flags == _TEMPERATURE_PRESENT:
        expected = end + _TEMPERATURE.size
    else:
        raise _malformed(f"INTERVAL_REPORT flags must be 0 or 1, got {flags:#04x}")
    if size != expected:
        raise _malformed(f"INTERVAL_REPORT payload of {count} records must be {expected} bytes, got {size}")
    try:
        records = tuple([IntervalRecord(*fields) for fields in _RECORD.iter_unpack(body[2:end])])
    except ValueError as exc:
        raise _malformed(f"bad interval record: {exc}") from None
    temperature = _decode_temperature(body[end:]) if flags else None
    return IntervalReport(records, temperature)


def _encode_tamper(p: TamperEvent) -> bytes:
    return _TIME_FLAG.pack(p.time_s, p.cover_open)


def _decode_tamper(body: bytes) -> TamperEvent:
    _exact("TAMPER", body, _TIME_FLAG.size)
    time_s, flags = _TIME_FLAG.unpack(body)
    return TamperEvent(time_s, _flag("TAMPER", flags))


def _encode_power_loss(p: PowerLoss) -> bytes:
    return _TIME_FLAG.pack(p.time_s, p.power_restored)


def _decode_power_loss(body: bytes) -> PowerLoss:
    _exact("POWER_LOSS", body, _TIME_FLAG.size)
    time_s, flags = _TIME_FLAG.unpack(body)
    return PowerLoss(time_s, _flag("POWER_LOSS", flags))


def _encode_ack(p: Ack) -> bytes:
    return _ACK.pack(p.acked_sequence)


def _decode_ack(body: bytes) -> Ack:
    _exact("ACK", body, _ACK.size)
    return Ack(body[0])


# Dispatch by payload class and by frame type. Each encoder receives the payload class of its type,
# which the dictionary cannot express to mypy, hence Any.
_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    Beacon: _encode_beacon,
    JoinRequest: _encode_join_request,
    JoinResponse: _encode_join_response,
    IntervalReport: _encode_interval_report,
    TamperEvent: _encode_tamper,
    TemperatureReading: _encode_temperature,
    PowerLoss: _encode_power_loss,
    Ack: _encode_ack,
}
_DECODERS: tuple[Callable[[bytes], Payload], ...] = (
    _decode_beacon,
    _decode_join_request,
    _decode_join_response,
    _decode_interval_report,
    _decode_tamper,
    _decode_temperature,
    _decode_power_loss,
    _decode_ack,
)
_LEVELS: tuple[SecurityLevel, ...] = tuple(SECURITY_POLICY[t] for t in FrameType)
_TYPES: tuple[FrameType, ...] = tuple(FrameType)
_SECURITY_LEVELS: tuple[SecurityLevel, ...] = tuple(SecurityLevel)
_MIC_BYTES: tuple[int, ...] = tuple(level.mic_length for level in SecurityLevel)
_ENCRYPTED_WITH_MIC: tuple[bool, ...] = tuple(
    level.encrypted and level.mic_length > 0 for level in SecurityLevel
)
_LEVEL_BYTES: tuple[bytes, ...] = tuple(bytes([level]) for level in SecurityLevel)
_REPORT_LEVEL = SECURITY_POLICY[FrameType.INTERVAL_REPORT]
_REPORT_CONTROL = int(FrameType.INTERVAL_REPORT) | int(_REPORT_LEVEL) << 4
_REPORT_LEVEL_BYTE = _LEVEL_BYTES[_REPORT_LEVEL]
_REPORT_MIC = _REPORT_LEVEL.mic_length
_REPORT_CONTROL_BYTE = bytes([_REPORT_CONTROL])
_SEQUENCE_BYTES: tuple[bytes, ...] = tuple(bytes([i]) for i in range(_U8))
_NONCE = Struct(">8sIB")  # the 802.15.4 CCM* nonce: source EUI-64, frame counter, level
_ONE_RECORD_REPORT = Struct("<BBIII")  # the report head and one record: the usual INTERVAL_REPORT
_ONE_RECORD_FRAME_BYTES = _SECURE_LEN + _ONE_RECORD_REPORT.size + _REPORT_MIC  # 44


# ----------------------------------------------------------------------------------------------------
# Frames
# ----------------------------------------------------------------------------------------------------


def encode_frame(frame: Frame, *, key: bytes | None = None) -> bytes:
    """
    Encode a frame to its bytes on the air, securing it with the originator's key.

    Parameters
    ----------
    frame : Frame
        The frame; its payload's class sets the type and :data:`SECURITY_POLICY` the security level.
    key : bytes or None
        The originator's AES-128 key, 16 bytes; required for a secured frame type, unused otherwise.

    Returns
    -------
    data : bytes
        Header ‖ payload (encrypted when the level says so) ‖ MIC; at most :data:`MAX_FRAME_BYTES`.

    Raises
    ------
    ValueError
        If ``frame`` is not a Frame or a secured frame has no key of 16 bytes.

    References
    ----------
    IEEE 802.15.4-2006 §7.2.1 (general MAC frame format), §7.5.8.2.1 (outgoing frame security);
    ``docs/frames.md``.
    """
    if not isinstance(frame, Frame):
        raise ValueError(f"frame must be a Frame, got {frame!r}")
    payload = frame.payload
    cls = type(payload)
    frame_type = _TYPE_OF[cls]
    level = _LEVELS[frame_type]
    body = _ENCODERS[cls](payload)
    source = frame.source
    if not level:
        return _BASE_HEADER.pack(frame_type, frame.sequence, source[::-1], frame.destination[::-1]) + body
    if key is None:
        raise ValueError(f"key must be given to secure a {frame_type.name} frame, got None")
    counter = frame.frame_counter
    header = _SECURE_HEADER.pack(
        frame_type | level << 4, frame.sequence, source[::-1], frame.destination[::-1], counter
    )
    if type(key) is bytes and len(key) == 16 and _ENCRYPTED_WITH_MIC[level]:
        # the common case, as secure() does it without re-checking what the Frame has checked
        nonce = source + header[21:17:-1] + _LEVEL_BYTES[level]
        return header + ccm_context(key, _MIC_BYTES[level]).encrypt(nonce, body, header[:1] + header[2:])
    return header + secure(key, level, source, counter, header[:1] + header[2:], body)


class IntervalReportEncoder:
    """
    One MDT's encoder of its INTERVAL_REPORT frames, with what every frame repeats made once.

    The header's addresses, the nonce's prefix and the AES-128-CCM context of the device's key are made
    when the MDT is commissioned, as a radio's security engine keeps its key schedule; each frame then
    costs its payload, its counter and one CCM call. :meth:`encode` gives the bytes
    :func:`encode_frame` gives for the same frame (``docs/frames.md``): this is the path of the frame a
    mesh sends millions of times, checked as cheaply as the common case allows.

    Parameters
    ----------
    source, destination : bytes
        EUI-64s of the MDT and of the DCAP, 8 bytes each.
    key : bytes
        The MDT's AES-128 key, 16 bytes.

    Raises
    ------
    ValueError
        On an EUI-64 or a key of the wrong type or length.
    """

    __slots__ = ("_addresses", "_context", "_destination", "_header_head", "_key", "_source")

    def __init__(self, source: bytes, destination: bytes, key: bytes) -> None:
        _check_eui64("source", source)
        _check_eui64("destination", destination)
        if not isinstance(key, bytes) or len(key) != 16:
            raise ValueError(f"key must be 16 bytes (AES-128), got {key!r}")
        self._source = source
        self._destination = destination
        self._key = key
        self._addresses = source[::-1] + destination[::-1]  # as the header carries them
        self._header_head = _REPORT_CONTROL_BYTE + self._addresses
        self._context = ccm_context(key, _REPORT_MIC)

    def encode(
        self,
        records: tuple[IntervalRecord, ...],
        sequence: int,
        frame_counter: int,
        temperature: TemperatureReading | None = None,
    ) -> bytes:
        """
        Encode and secure one INTERVAL_REPORT (level 6, ENC-MIC-64, 802.15.4 nonce).

        Parameters
        ----------
        records : tuple of IntervalRecord
            1 to :data:`MAX_INTERVAL_RECORDS` records, oldest first.
        sequence : int
            Hop-by-hop sequence number, uint8.
        frame_counter : int
            The MDT's outgoing frame counter, uint32; never reused under the key. [1]
        temperature : TemperatureReading or None
            The reading of a D02 or E02 kit.

        Returns
        -------
        data : bytes
            Header ‖ encrypted payload ‖ 8-byte MIC, as ``encode_frame`` gives them.

        Raises
        ------
        ValueError
            On a bad record tuple, sequence, frame counter or temperature.

        References
        ----------
        IEEE 802.15.4-2006 §7.2.1, §7.5.8.2.1; ``docs/frames.md``.
        """
        count = len(records) if type(records) is tuple else 0
        if (
            not 1 <= count <= MAX_INTERVAL_RECORDS
            or type(sequence) is not int
            or not 0 <= sequence < _U8
            or type(frame_counter) is not int
            or not 0 <= frame_counter < _U32
            or (temperature is not None and type(temperature) is not TemperatureReading)
        ):  # the slow path names what is wrong
            return encode_frame(
                Frame(
                    payload=IntervalReport(records, temperature),
                    source=self._source,
                    destination=self._destination,
                    sequence=sequence,
                    frame_counter=frame_counter,
                ),
                key=self._key,
            )
        flags = 0 if temperature is None else _TEMPERATURE_PRESENT
        if count == 1:
            r = records[0]
            if type(r) is not IntervalRecord:
                raise ValueError(f"records must be a tuple of IntervalRecord, got {r!r} in it")
            body = _ONE_RECORD_REPORT.pack(1, flags, r.sequence, r.interval_end_s, r.cumulative_pulses)
        else:
            parts = [_REPORT_HEAD.pack(count, flags)]
            for r in records:
                if type(r) is not IntervalRecord:
                    raise ValueError(f"records must be a tuple of IntervalRecord, got {r!r} in it")
                parts.append(_RECORD.pack(r.sequence, r.interval_end_s, r.cumulative_pulses))
            body = b"".join(parts)
        if temperature is not None:
            body += _encode_temperature(temperature)
        counter = frame_counter.to_bytes(4, "little")
        authenticated = self._header_head + counter  # the header less its sequence
        return b"".join(
            (
                _REPORT_CONTROL_BYTE,
                _SEQUENCE_BYTES[sequence],
                self._addresses,
                counter,
                self._context.encrypt(
                    _NONCE.pack(self._source, frame_counter, _REPORT_LEVEL), body, authenticated
                ),
            )
        )


def decode_header(data: bytes) -> FrameHeader:
    """
    Read the common header of a frame without its key, e.g. to forward or acknowledge it.

    Nothing in it is authenticated yet: :func:`decode_frame` checks the MIC.

    Parameters
    ----------
    data : bytes
        A frame as received.

    Returns
    -------
    header : FrameHeader
        The header's fields.

    Raises
    ------
    FrameError
        With ``reason="malformed"`` if ``data`` is not bytes, is too short for its header and MIC, has
        an unknown frame type or a reserved bit set.
    SecurityError
        With ``reason="security_level"`` if the security level is not that of the frame type.
    """
    return FrameHeader(*_parse_header(_as_bytes(data)))


def _as_bytes(data: bytes) -> bytes:
    if type(data) is bytes:
        return data
    if not isinstance(data, bytes | bytearray | memoryview):
        raise _malformed(f"a frame must be bytes, got {type(data).__name__}")
    return bytes(data)


def _parse_header(data: bytes) -> tuple[FrameType, SecurityLevel, int, bytes, bytes, int]:
    size = len(data)
    if size < _BASE_LEN:
        raise _malformed(f"{size} bytes is shorter than the {_BASE_LEN}-byte header")
    control = data[0]
    frame_type = control & 0x0F
    level = (control >> 4) & 0x07
    if control & 0x80:
        raise _malformed(f"reserved bit 7 of the frame control {control:#04x} is set")
    if frame_type >= len(_TYPES):
        raise _malformed(f"unknown frame type {frame_type}")
    if level != _LEVELS[frame_type]:
        raise SecurityError(
            "security_level",
            f"a {_TYPES[frame_type].name} frame must be at level {_LEVELS[frame_type]}, got {level}",
        )
    if not level:
        _, sequence, source, destination = _BASE_HEADER.unpack_from(data)
        return _TYPES[frame_type], _SECURITY_LEVELS[0], sequence, source[::-1], destination[::-1], 0
    minimum = _SECURE_LEN + _MIC_BYTES[level]
    if size < minimum:
        raise _malformed(f"{size} bytes is shorter than the {minimum}-byte secured header and MIC")
    _, sequence, source, destination, counter = _SECURE_HEADER.unpack_from(data)
    return _TYPES[frame_type], _SECURITY_LEVELS[level], sequence, source[::-1], destination[::-1], counter


def decode_frame(data: bytes, *, key_lookup: Callable[[bytes], bytes | None] | None = None) -> Frame:
    """
    Decode a frame from its bytes on the air, checking its security.

    Parameters
    ----------
    data : bytes
        A frame as received.
    key_lookup : callable or None
        Gives the key (16 bytes) of an originator's EUI-64, or None for an unknown device. Needed for
        secured frame types; without it every secured frame comes from an unknown device.

    Returns
    -------
    frame : Frame
        The frame, authenticated and decrypted. Replay (an old frame counter) is the receiver's check.

    Raises
    ------
    FrameError
        With ``reason="malformed"`` if ``data`` is not bytes, is truncated, has an unknown frame type,
        a reserved bit set, a bad record count, a value out of range or trailing bytes.
    SecurityError
        With ``reason="security_level"`` if the level is not that of the frame type,
        ``reason="unknown_device"`` if the originator has no key, ``reason="bad_mic"`` if the MIC does
        not verify.

    References
    ----------
    IEEE 802.15.4-2006 §7.2.1, §7.5.8.2.3 (incoming frame security); ``docs/frames.md``.
    """
    if type(data) is bytes and len(data) == _ONE_RECORD_FRAME_BYTES and data[0] == _REPORT_CONTROL:
        return _decode_one_record_report(data, key_lookup)
    return _decode_frame(data, key_lookup)


def _decode_frame(data: bytes, key_lookup: Callable[[bytes], bytes | None] | None) -> Frame:
    """:func:`decode_frame` for any frame."""
    if type(data) is not bytes:
        data = _as_bytes(data)
    frame_type, level, sequence, source, destination, counter = _parse_header(data)
    if level:
        key = None if key_lookup is None else key_lookup(source)
        if key is None:
            raise SecurityError("unknown_device", f"no key for source {source.hex().upper()}")
        adata = data[:1] + data[2:_SECURE_LEN]
        if type(key) is bytes and len(key) == 16 and _ENCRYPTED_WITH_MIC[level]:
            # the common case, as unsecure() does it: the header checks have bounded the lengths
            nonce = source + data[21:17:-1] + _LEVEL_BYTES[level]
            try:
                body = ccm_context(key, _MIC_BYTES[level]).decrypt(nonce, data[_SECURE_LEN:], adata)
            except InvalidTag:
                raise SecurityError("bad_mic", "the MIC does not verify") from None
        else:
            body = unsecure(key, level, source, counter, adata, data[_SECURE_LEN:])
    else:
        body = data[_BASE_LEN:]
    payload = _DECODERS[frame_type](body)  # each decoder checks its payload's length first
    return Frame(
        payload=payload, source=source, destination=destination, sequence=sequence, frame_counter=counter
    )


def _decode_one_record_report(data: bytes, key_lookup: Callable[[bytes], bytes | None] | None) -> Frame:
    """
    :func:`decode_frame` for the frame a mesh carries most: an INTERVAL_REPORT of one record at level 6.

    Its header is valid whatever the other bytes are (the control byte and the length say so), so the
    checks of :func:`_parse_header` have nothing to find; :func:`unpack_interval_report` reads it, and
    anything it leaves (no key, a MIC that does not verify, a bad record) goes the general way, which
    raises the same errors in the same order (tested against it).
    """
    source = data[9:1:-1]
    key = None if key_lookup is None else key_lookup(source)
    if type(key) is not bytes or len(key) != KEY_BYTES:  # None, or an odd key: the general path
        return _decode_frame(data, key_lookup)
    context = ccm_context(key, _REPORT_MIC)
    fields = unpack_interval_report(data, lambda _source: context)
    if fields is None:
        return _decode_frame(data, key_lookup)  # raises what is wrong
    _, counter, sequence, end_s, pulses = fields
    report = IntervalReport((IntervalRecord(sequence, end_s, pulses),))
    return Frame(
        payload=report, source=source, destination=data[17:9:-1], sequence=data[1], frame_counter=counter
    )


def report_context(key: bytes) -> AESCCM:
    """
    The AES-CCM context that secures a device's INTERVAL_REPORT frames (level 6, 8-byte MIC).

    What a receiver keeps per device for :func:`unpack_interval_report`: the key schedule made once,
    at commissioning.

    Parameters
    ----------
    key : bytes
        The device's AES-128 key, 16 bytes.

    Raises
    ------
    ValueError
        On a key of another type or length.
    """
    if type(key) is not bytes or len(key) != KEY_BYTES:
        raise ValueError(f"key must be {KEY_BYTES} bytes (AES-128), got {key!r}")
    return ccm_context(key, _REPORT_MIC)


def unpack_interval_report(
    data: bytes, context_of: Callable[[bytes], AESCCM | None]
) -> tuple[bytes, int, int, int, int] | None:
    """
    The fields of a one-record INTERVAL_REPORT, authenticated and decrypted, without building a frame.

    The frame a mesh carries most (``docs/frames.md``): 44 bytes, level 6, one record and no
    temperature. A receiver that keeps records as columns (the DCAP) takes the numbers straight from
    the bytes once the MIC has verified; :func:`decode_frame` builds its objects from the same fields.

    Parameters
    ----------
    data : bytes
        A frame as received (anything at all).
    context_of : callable
        Gives the AES-CCM context (8-byte MIC) of an originator's key from its EUI-64, or None for an
        unknown device; e.g. the ``get`` of a dict made at commissioning.

    Returns
    -------
    fields : tuple or None
        ``(source, frame_counter, sequence, interval_end_s, cumulative_pulses)``: the originator's
        EUI-64, its frame counter [1] and the record (sequence [1], interval end, network time [s],
        cumulative pulses [1]). None for anything else: another frame type or size, an unknown
        source, a MIC that does not verify, a record count, flag or interval end that
        :func:`decode_frame` refuses; :func:`decode_frame` then says what the frame is or what is
        wrong with it. Replay (the frame counter) is the receiver's check.

    References
    ----------
    IEEE 802.15.4-2006 §7.2.1, §7.5.8.2.3 (incoming frame security); ``docs/frames.md``.
    """
    if type(data) is not bytes or len(data) != _ONE_RECORD_FRAME_BYTES or data[0] != _REPORT_CONTROL:
        return None
    source = data[9:1:-1]
    context = context_of(source)
    if context is None:
        return None
    counter = int.from_bytes(data[18:_SECURE_LEN], "little")
    try:
        body = context.decrypt(
            _NONCE.pack(source, counter, _REPORT_LEVEL), data[_SECURE_LEN:], data[:1] + data[2:_SECURE_LEN]
        )
    except InvalidTag:
        return None
    count, flags, sequence, end_s, pulses = _ONE_RECORD_REPORT.unpack(body)
    if count != 1 or flags or end_s % INTERVAL_S:
        return None
    return source, counter, sequence, end_s, pulses


def set_sequence(data: bytes, sequence: int) -> bytes:
    """
    Rewrite the hop-by-hop sequence number of an encoded frame, as a repeater does when it forwards.

    The sequence number is outside the authenticated data, so the MIC still verifies.

    Parameters
    ----------
    data : bytes
        An encoded frame.
    sequence : int
        The new sequence number, uint8.

    Returns
    -------
    data : bytes
        The same frame with byte 1 replaced.

    Raises
    ------
    ValueError
        If ``sequence`` is out of range or ``data`` is shorter than a header.
    """
    _check_uint("sequence", sequence, _U8)
    if not isinstance(data, bytes) or len(data) < _BASE_LEN:
        raise ValueError(f"data must be an encoded frame of at least {_BASE_LEN} bytes, got {data!r}")
    return data[:1] + _ACK.pack(sequence) + data[2:]
