"""Tests of meshmeter.amr.frames: the byte layout of docs/frames.md, security, and hostile input."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshmeter.amr import frames as frames_module
from meshmeter.amr.frames import (
    BROADCAST,
    MAX_FRAME_BYTES,
    MAX_INTERVAL_RECORDS,
    SECURITY_POLICY,
    Ack,
    Beacon,
    DeviceKind,
    Frame,
    FrameType,
    IntervalReport,
    IntervalReportEncoder,
    JoinRequest,
    JoinResponse,
    JoinStatus,
    PowerLoss,
    decode_frame,
    decode_header,
    encode_frame,
    report_context,
    set_sequence,
    unpack_interval_report,
)
from meshmeter.amr.records import IntervalRecord, TamperEvent, TemperatureReading
from meshmeter.amr.security import SecurityLevel, ccm_nonce, secure, unsecure
from meshmeter.errors import FrameError, SecurityError

MDT = bytes.fromhex("ACDE480000000001")
DCAP = bytes.fromhex("0011223344556677")
MDT_KEY = bytes(range(0xC0, 0xD0))
DCAP_KEY = bytes(range(16))
KEYS = {MDT: MDT_KEY, DCAP: DCAP_KEY}
T0 = 1_700_000_100  # a multiple of 900 s


def lookup(eui64: bytes) -> bytes | None:
    return KEYS.get(eui64)


def report(n: int = 1, temperature: TemperatureReading | None = None) -> IntervalReport:
    return IntervalReport(
        tuple(IntervalRecord(100 + i, T0 + 900 * i, 5000 + 3 * i) for i in range(n)), temperature
    )


def secured_frame(frame_type: int, body: bytes, *, counter: int = 9, sequence: int = 4) -> bytes:
    """Build a secured frame around an arbitrary payload, by the layout of docs/frames.md."""
    header = struct.pack("<BB8s8sI", frame_type | 6 << 4, sequence, MDT[::-1], DCAP[::-1], counter)
    return header + secure(MDT_KEY, 6, MDT, counter, header[:1] + header[2:], body)


def unsecured_frame(frame_type: int, body: bytes) -> bytes:
    return struct.pack("<BB8s8s", frame_type, 4, MDT[::-1], BROADCAST) + body


# ---------------------------------------------------------------------------------------------------
# Byte layouts, worked by hand from docs/frames.md
# ---------------------------------------------------------------------------------------------------


def test_beacon_bytes():
    beacon = Beacon(
        pan_id=0x1234,
        hop_count=2,
        path_cost=3 * 128,
        network_time_s=0x01020304,
        dcap=DCAP,
        join_permitted=True,
    )
    data = encode_frame(Frame(payload=beacon, source=MDT, sequence=0x42))
    expected = (
        "00"  # frame control: type 0 (BEACON), level 0
        "42"  # sequence
        "01000000"
        "0048DEAC"  # source ACDE480000000001, little-endian
        "FFFFFFFF"
        "FFFFFFFF"  # destination: broadcast
        "3412"  # PAN id 0x1234
        "02"  # hop count
        "8001"  # path cost 384 = ETX 3 × 128
        "04030201"  # network time
        "7766554433221100"  # DCAP 0011223344556677, little-endian
        "01"  # join permitted
    )
    assert data == bytes.fromhex(expected)
    assert len(data) == 18 + 18
    assert decode_frame(data).payload == beacon
    assert beacon.path_etx == 3.0


def test_ack_bytes():
    data = encode_frame(Frame(payload=Ack(0x99), source=DCAP, destination=MDT, sequence=0x99))
    assert data == bytes.fromhex("07997766554433221100010000000048DEAC99")


def test_interval_report_bytes():
    frame = Frame(payload=report(1), source=MDT, destination=DCAP, sequence=0x05, frame_counter=0x0A0B0C0D)
    data = encode_frame(frame, key=MDT_KEY)
    header = bytes.fromhex(
        "63"  # frame control: type 3 (INTERVAL_REPORT), level 6 << 4
        "05"  # sequence
        "01000000"
        "0048DEAC"  # source, little-endian
        "7766554433221100"  # destination, little-endian
        "0D0C0B0A"  # frame counter, little-endian
    )
    plaintext = struct.pack("<BBIII", 1, 0, 100, T0, 5000)
    assert data[:22] == header
    assert len(data) == 22 + 14 + 8
    # The nonce: source ‖ counter, big-endian ‖ level; authenticated: the header less its sequence number.
    assert unsecure(MDT_KEY, 6, MDT, 0x0A0B0C0D, header[:1] + header[2:], data[22:]) == plaintext
    assert plaintext not in data


def test_interval_report_with_temperature_bytes():
    payload = report(2, TemperatureReading(T0 + 5, -12.34))
    data = encode_frame(Frame(payload=payload, source=MDT, destination=DCAP, frame_counter=1), key=MDT_KEY)
    plaintext = unsecure(MDT_KEY, 6, MDT, 1, data[:1] + data[2:22], data[22:])
    assert plaintext == struct.pack("<BBIIIIIIIh", 2, 1, 100, T0, 5000, 101, T0 + 900, 5003, T0 + 5, -1234)


@pytest.mark.parametrize(
    ("payload", "plaintext"),
    [
        (JoinRequest(DeviceKind.REPEATER, DCAP), "027766554433221100"),
        (JoinResponse(JoinStatus.NETWORK_FULL, 0x01020304), "0104030201"),
        (TamperEvent(0x01020304, cover_open=True), "0403020101"),
        (TemperatureReading(0x01020304, 21.5), "040302016608"),  # 2150 = 0x0866
        (PowerLoss(0x01020304, power_restored=False), "0403020100"),
    ],
)
def test_secured_payload_bytes(payload, plaintext):
    data = encode_frame(Frame(payload=payload, source=MDT, destination=DCAP, frame_counter=3), key=MDT_KEY)
    assert data[0] >> 4 == SecurityLevel.ENC_MIC_64
    assert unsecure(MDT_KEY, 6, MDT, 3, data[:1] + data[2:22], data[22:]) == bytes.fromhex(plaintext)


def test_security_policy():
    assert SECURITY_POLICY[FrameType.BEACON] == SecurityLevel.NONE
    assert SECURITY_POLICY[FrameType.ACK] == SecurityLevel.NONE
    for frame_type in set(FrameType) - {FrameType.BEACON, FrameType.ACK}:
        assert SECURITY_POLICY[frame_type] == SecurityLevel.ENC_MIC_64


def test_largest_interval_report_fits_the_phy():
    payload = report(MAX_INTERVAL_RECORDS, TemperatureReading(T0, 85.0))
    data = encode_frame(Frame(payload=payload, source=MDT, destination=DCAP), key=MDT_KEY)
    assert len(data) == 22 + 2 + 12 * MAX_INTERVAL_RECORDS + 6 + 8
    assert len(data) <= MAX_FRAME_BYTES


def test_frame_properties():
    frame = Frame(payload=report(), source=MDT, destination=DCAP)
    assert frame.frame_type is FrameType.INTERVAL_REPORT
    assert frame.security_level is SecurityLevel.ENC_MIC_64
    assert Frame(payload=Ack(1), source=MDT).destination == BROADCAST


# ---------------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------------

eui64s = st.binary(min_size=8, max_size=8)
u8 = st.integers(0, 2**8 - 1)
u16 = st.integers(0, 2**16 - 1)
u32 = st.integers(0, 2**32 - 1)
temperatures = st.builds(TemperatureReading, u32, st.integers(-4000, 8500).map(lambda c: c / 100))
records = st.builds(IntervalRecord, u32, st.integers(0, (2**32 - 1) // 900).map(lambda k: 900 * k), u32)
payloads = st.one_of(
    st.builds(Beacon, u16, u8, u16, u32, eui64s, st.booleans()),
    st.builds(JoinRequest, st.sampled_from(DeviceKind), eui64s),
    st.builds(JoinResponse, st.sampled_from(JoinStatus), u32),
    st.builds(
        IntervalReport,
        st.lists(records, min_size=1, max_size=MAX_INTERVAL_RECORDS).map(tuple),
        st.none() | temperatures,
    ),
    st.builds(TamperEvent, u32, st.booleans()),
    temperatures,
    st.builds(PowerLoss, u32, st.booleans()),
    st.builds(Ack, u8),
)


@st.composite
def frames(draw):
    payload = draw(payloads)
    secured = SECURITY_POLICY[Frame(payload=payload, source=MDT).frame_type] != SecurityLevel.NONE
    return Frame(
        payload=payload,
        source=draw(st.sampled_from([MDT, DCAP])),
        destination=draw(eui64s),
        sequence=draw(u8),
        frame_counter=draw(u32) if secured else 0,
    )


@given(frame=frames())
def test_round_trip_every_type(frame):
    data = encode_frame(frame, key=KEYS[frame.source])
    assert len(data) <= MAX_FRAME_BYTES
    assert decode_frame(data, key_lookup=lookup) == frame
    header = decode_header(data)
    assert (header.frame_type, header.sequence, header.source, header.destination) == (
        frame.frame_type,
        frame.sequence,
        frame.source,
        frame.destination,
    )
    assert header.frame_counter == frame.frame_counter
    assert header.security_level == frame.security_level


@pytest.mark.parametrize("wrap", [bytearray, memoryview])
def test_bytes_like_frames_decode(wrap):
    frame = Frame(payload=report(3), source=MDT, destination=DCAP, frame_counter=77)
    data = encode_frame(frame, key=MDT_KEY)
    assert decode_frame(wrap(data), key_lookup=lookup) == frame


def test_temperature_is_sent_to_a_hundredth():
    frame = Frame(payload=TemperatureReading(T0, 21.237), source=MDT, destination=DCAP)
    decoded = decode_frame(encode_frame(frame, key=MDT_KEY), key_lookup=lookup)
    assert decoded.payload == TemperatureReading(T0, 21.24)


def test_set_sequence_keeps_the_mic():
    frame = Frame(payload=report(2), source=MDT, destination=DCAP, sequence=1, frame_counter=5)
    forwarded = set_sequence(encode_frame(frame, key=MDT_KEY), 200)
    decoded = decode_frame(forwarded, key_lookup=lookup)
    assert decoded.sequence == 200
    assert decoded.payload == frame.payload


def test_set_sequence_rejects_bad_arguments():
    with pytest.raises(ValueError, match="sequence"):
        set_sequence(bytes(30), 256)
    with pytest.raises(ValueError, match="data"):
        set_sequence(bytes(17), 1)


def test_counter_changes_the_ciphertext():
    a = encode_frame(Frame(payload=report(), source=MDT, destination=DCAP, frame_counter=1), key=MDT_KEY)
    b = encode_frame(Frame(payload=report(), source=MDT, destination=DCAP, frame_counter=2), key=MDT_KEY)
    assert a[22:] != b[22:]


# ---------------------------------------------------------------------------------------------------
# Security failures
# ---------------------------------------------------------------------------------------------------


def encoded_report() -> bytes:
    frame = Frame(payload=report(2), source=MDT, destination=DCAP, sequence=3, frame_counter=10)
    return encode_frame(frame, key=MDT_KEY)


def test_unknown_device():
    data = encoded_report()
    for key_lookup in (None, lambda eui64: None, {DCAP: DCAP_KEY}.get):
        with pytest.raises(SecurityError) as info:
            decode_frame(data, key_lookup=key_lookup)
        assert info.value.reason == "unknown_device"


def test_wrong_key_is_a_bad_mic():
    with pytest.raises(SecurityError) as info:
        decode_frame(encoded_report(), key_lookup=lambda eui64: DCAP_KEY)
    assert info.value.reason == "bad_mic"


def test_every_flipped_bit_but_the_sequence_is_rejected():
    data = encoded_report()
    for i in range(len(data)):
        for bit in (0x01, 0x80):
            bad = bytearray(data)
            bad[i] ^= bit
            if i == 1:  # the hop-by-hop sequence number is outside the MIC
                assert decode_frame(bytes(bad), key_lookup=lambda eui64: MDT_KEY).sequence == 3 ^ bit
                continue
            with pytest.raises((FrameError, SecurityError)) as info:
                decode_frame(bytes(bad), key_lookup=lambda eui64: MDT_KEY)
            if i >= 2:
                assert info.value.reason == "bad_mic"


def test_truncated_or_extended_secured_frames_are_rejected():
    data = encoded_report()
    for n in range(len(data)):
        with pytest.raises((FrameError, SecurityError)):
            decode_frame(data[:n], key_lookup=lookup)
    with pytest.raises(SecurityError, match="bad_mic"):
        decode_frame(data + b"\x00", key_lookup=lookup)


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4, 5, 7])
def test_a_secured_type_at_another_level_is_rejected(level):
    data = bytearray(encoded_report())
    data[0] = FrameType.INTERVAL_REPORT | level << 4
    with pytest.raises(SecurityError) as info:
        decode_frame(bytes(data), key_lookup=lookup)
    assert info.value.reason == "security_level"


def test_an_unsecured_type_with_a_level_is_rejected():
    data = bytearray(encode_frame(Frame(payload=Ack(1), source=MDT)))
    data[0] |= 6 << 4
    with pytest.raises(SecurityError, match="security_level"):
        decode_frame(bytes(data) + bytes(12), key_lookup=lookup)


# ---------------------------------------------------------------------------------------------------
# Malformed frames
# ---------------------------------------------------------------------------------------------------


def assert_malformed(data: bytes) -> None:
    with pytest.raises(FrameError) as info:
        decode_frame(data, key_lookup=lookup)
    assert info.value.reason == "malformed"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("data", ["text", None, 42, [0] * 30, b"", b"\x07"])
def test_non_bytes_and_empty_input(data):
    assert_malformed(data)


@pytest.mark.parametrize("frame_type", range(8, 16))
def test_unknown_frame_type(frame_type):
    assert_malformed(unsecured_frame(frame_type, b"\x01"))


def test_reserved_bit():
    assert_malformed(unsecured_frame(0x80 | FrameType.ACK, b"\x01"))


def test_truncated_unsecured_frames():
    data = encode_frame(Frame(payload=Beacon(1, 0, 0, T0, DCAP, True), source=DCAP))
    for n in range(len(data)):
        assert_malformed(data[:n])
    assert_malformed(data + b"\x00")


def good_records(n: int) -> bytes:
    return b"".join(struct.pack("<III", i, T0 + 900 * i, i) for i in range(n))


@pytest.mark.parametrize(
    ("frame_type", "body"),
    [
        (FrameType.INTERVAL_REPORT, b""),
        (FrameType.INTERVAL_REPORT, b"\x01"),
        (FrameType.INTERVAL_REPORT, b"\x00\x00"),  # no record
        (FrameType.INTERVAL_REPORT, bytes([MAX_INTERVAL_RECORDS + 1, 0]) + good_records(97)),
        (FrameType.INTERVAL_REPORT, b"\x02\x00" + good_records(1)),  # count says 2, holds 1
        (FrameType.INTERVAL_REPORT, b"\x01\x00" + good_records(2)),  # trailing record
        (FrameType.INTERVAL_REPORT, b"\x01\x00" + good_records(1) + b"\x00"),  # trailing byte
        (FrameType.INTERVAL_REPORT, b"\x01\x02" + good_records(1)),  # unknown flag
        (FrameType.INTERVAL_REPORT, b"\x01\x01" + good_records(1)),  # temperature missing
        (FrameType.INTERVAL_REPORT, b"\x01\x00" + struct.pack("<III", 1, T0 + 1, 1)),  # off :15
        (FrameType.INTERVAL_REPORT, b"\x01\x01" + good_records(1) + struct.pack("<Ih", T0, 8501)),
        (FrameType.TEMPERATURE, struct.pack("<Ih", T0, -4001)),
        (FrameType.TEMPERATURE, struct.pack("<Ih", T0, 2000) + b"\x00"),
        (FrameType.TAMPER, struct.pack("<IB", T0, 2)),
        (FrameType.TAMPER, struct.pack("<I", T0)),
        (FrameType.POWER_LOSS, struct.pack("<IB", T0, 0xFF)),
        (FrameType.JOIN_REQUEST, b"\x00" + DCAP),  # unknown device kind
        (FrameType.JOIN_REQUEST, b"\x01" + DCAP[:7]),
        (FrameType.JOIN_RESPONSE, struct.pack("<BI", 9, T0)),  # unknown status
        (FrameType.JOIN_RESPONSE, struct.pack("<BIB", 0, T0, 0)),
    ],
)
def test_malformed_secured_payloads(frame_type, body):
    assert_malformed(secured_frame(frame_type, body))


@pytest.mark.parametrize(
    ("frame_type", "body"),
    [
        (FrameType.ACK, b""),
        (FrameType.ACK, b"\x01\x02"),
        (FrameType.BEACON, struct.pack("<HBHI8sB", 1, 0, 0, T0, DCAP, 2)),  # unknown flag
        (FrameType.BEACON, struct.pack("<HBHI8s", 1, 0, 0, T0, DCAP)),
    ],
)
def test_malformed_unsecured_payloads(frame_type, body):
    assert_malformed(unsecured_frame(frame_type, body))


def test_decode_header_of_a_secured_frame_without_a_key():
    header = decode_header(encoded_report())
    assert header.frame_type is FrameType.INTERVAL_REPORT
    assert header.security_level is SecurityLevel.ENC_MIC_64
    assert (header.sequence, header.source, header.destination, header.frame_counter) == (3, MDT, DCAP, 10)
    with pytest.raises(FrameError, match="malformed"):
        decode_header(encoded_report()[:29])


# ---------------------------------------------------------------------------------------------------
# Hostile input: only FrameError or SecurityError ever comes out
# ---------------------------------------------------------------------------------------------------


def decode_or_reject(data: bytes, key_lookup=lookup) -> Frame | None:
    try:
        return decode_frame(data, key_lookup=key_lookup)
    except (FrameError, SecurityError):
        return None


@given(data=st.binary(max_size=300))
def test_random_bytes_never_crash(data):
    decode_or_reject(data)
    decode_or_reject(data, key_lookup=lambda eui64: MDT_KEY)
    decode_or_reject(data, key_lookup=None)


@given(
    control=st.integers(0, 255),
    rest=st.binary(min_size=17, max_size=120),
)
def test_random_frames_with_any_control_byte_never_crash(control, rest):
    decode_or_reject(bytes([control]) + rest, key_lookup=lambda eui64: MDT_KEY)


@given(frame_type=st.sampled_from([t for t in FrameType if SECURITY_POLICY[t]]), body=st.binary(max_size=80))
def test_random_payloads_under_a_valid_mic_never_crash(frame_type, body):
    decode_or_reject(secured_frame(frame_type, body))


@given(
    frame_type=st.sampled_from([t for t in FrameType if not SECURITY_POLICY[t]]), body=st.binary(max_size=40)
)
def test_random_unsecured_payloads_never_crash(frame_type, body):
    decode_or_reject(unsecured_frame(frame_type, body))


@given(
    count=st.integers(0, 255),
    flags=st.integers(0, 255),
    words=st.lists(u32, max_size=40),
    tail=st.binary(max_size=7),
)
def test_random_interval_reports_never_crash(count, flags, words, tail):
    body = bytes([count, flags]) + struct.pack(f"<{len(words)}I", *words) + tail
    decode_or_reject(secured_frame(FrameType.INTERVAL_REPORT, body))


# ---------------------------------------------------------------------------------------------------
# Bad arguments
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"payload": "text"}, "payload"),
        ({"payload": report().records[0]}, "payload"),
        ({"source": bytes(7)}, "source"),
        ({"source": "ACDE480000000001"}, "source"),
        ({"destination": bytearray(8)}, "destination"),
        ({"sequence": 256}, "sequence"),
        ({"sequence": -1}, "sequence"),
        ({"sequence": True}, "sequence"),
        ({"frame_counter": 2**32}, "frame_counter"),
        ({"frame_counter": 1.5}, "frame_counter"),
        ({"payload": Ack(1), "frame_counter": 1}, "frame_counter"),
    ],
)
def test_frame_rejects_bad_fields(kwargs, match):
    fields = {"payload": report(), "source": MDT, "destination": DCAP}
    fields.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Frame(**fields)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: IntervalReport(()), "records"),
        (lambda: IntervalReport(report(MAX_INTERVAL_RECORDS).records * 2), "records"),
        (lambda: IntervalReport(list(report(2).records)), "records"),
        (lambda: IntervalReport((1, 2)), "records"),
        (lambda: IntervalReport(report().records, temperature=21.0), "temperature"),
        (lambda: Beacon(2**16, 0, 0, T0, DCAP, True), "pan_id"),
        (lambda: Beacon(1, 256, 0, T0, DCAP, True), "hop_count"),
        (lambda: Beacon(1, 0, -1, T0, DCAP, True), "path_cost"),
        (lambda: Beacon(1, 0, 0, -1, DCAP, True), "network_time_s"),
        (lambda: Beacon(1, 0, 0, T0, DCAP[:4], True), "dcap"),
        (lambda: Beacon(1, 0, 0, T0, DCAP, 1), "join_permitted"),
        (lambda: JoinRequest(1, DCAP), "device_kind"),
        (lambda: JoinRequest(DeviceKind.MDT, b""), "parent"),
        (lambda: JoinResponse(0, T0), "status"),
        (lambda: JoinResponse(JoinStatus.ACCEPTED, 2**32), "network_time_s"),
        (lambda: PowerLoss(-5, False), "time_s"),
        (lambda: PowerLoss(T0, None), "power_restored"),
        (lambda: Ack(300), "acked_sequence"),
    ],
)
def test_payloads_reject_bad_fields(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_encode_rejects_bad_arguments():
    with pytest.raises(ValueError, match="frame"):
        encode_frame(report())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="key"):
        encode_frame(Frame(payload=report(), source=MDT))
    with pytest.raises(ValueError, match="key"):
        encode_frame(Frame(payload=report(), source=MDT), key=bytes(8))
    # An unsecured frame needs no key and ignores one.
    ack = Frame(payload=Ack(1), source=MDT)
    assert encode_frame(ack, key=MDT_KEY) == encode_frame(ack)


# ---------------------------------------------------------------------------------------------------
# The hot paths of a mesh run: an MDT's report encoder, the one-record report decoder
# ---------------------------------------------------------------------------------------------------

records_strategy = st.lists(
    st.builds(
        IntervalRecord,
        st.integers(0, 2**32 - 1),
        st.integers(0, (2**32 - 1) // 900).map(lambda k: 900 * k),
        st.integers(0, 2**32 - 1),
    ),
    min_size=1,
    max_size=MAX_INTERVAL_RECORDS,
).map(tuple)
temperature_strategy = st.none() | st.builds(
    TemperatureReading, st.integers(0, 2**32 - 1), st.integers(-4000, 8500).map(lambda c: c / 100)
)


@given(
    records=records_strategy,
    sequence=st.integers(0, 255),
    counter=st.integers(1, 2**32 - 1),
    temperature=temperature_strategy,
)
def test_report_encoder_gives_the_bytes_of_encode_frame(records, sequence, counter, temperature):
    encoder = IntervalReportEncoder(MDT, DCAP, MDT_KEY)
    frame = Frame(
        payload=IntervalReport(records, temperature),
        source=MDT,
        destination=DCAP,
        sequence=sequence,
        frame_counter=counter,
    )
    data = encoder.encode(records, sequence, counter, temperature)
    assert data == encode_frame(frame, key=MDT_KEY)
    assert decode_frame(data, key_lookup=lookup) == frame


def test_report_encoder_worked_bytes():
    # the frame of test_interval_report_bytes, from the encoder
    encoder = IntervalReportEncoder(MDT, DCAP, MDT_KEY)
    data = encoder.encode(report(1).records, 0x05, 0x0A0B0C0D)
    assert data[:22] == bytes.fromhex("630501000000" + "0048DEAC" + "7766554433221100" + "0D0C0B0A")
    plaintext = unsecure(MDT_KEY, 6, MDT, 0x0A0B0C0D, data[:1] + data[2:22], data[22:])
    assert plaintext == struct.pack("<BBIII", 1, 0, 100, T0, 5000)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (((), 0, 1), "records"),
        ((tuple(report(1).records) * 97, 0, 1), "records"),
        ((("record",), 0, 1), "records"),
        (((*report(2).records[:1], "record"), 0, 1), "records"),
        ((report(1).records, 256, 1), "sequence"),
        ((report(1).records, -1, 1), "sequence"),
        ((report(1).records, True, 1), "sequence"),
        ((report(1).records, 0, 2**32), "frame_counter"),
        ((report(1).records, 0, 1.0), "frame_counter"),
        ((report(1).records, 0, 1, 21.5), "temperature"),
    ],
)
def test_report_encoder_rejects_bad_arguments(args, match):
    encoder = IntervalReportEncoder(MDT, DCAP, MDT_KEY)
    with pytest.raises(ValueError, match=match):
        encoder.encode(*args)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((bytes(7), DCAP, MDT_KEY), "source"),
        ((MDT, "0011223344556677", MDT_KEY), "destination"),
        ((MDT, DCAP, bytes(15)), "key"),
        ((MDT, DCAP, bytearray(16)), "key"),
    ],
)
def test_report_encoder_rejects_bad_construction(args, match):
    with pytest.raises(ValueError, match=match):
        IntervalReportEncoder(*args)


def _outcome(decode, data, key_lookup):
    try:
        return decode(data, key_lookup)
    except (FrameError, SecurityError) as exc:
        return type(exc), exc.reason, str(exc)


@given(
    record=st.tuples(u32, u32, u32),
    count=st.integers(0, 3),
    flags=st.integers(0, 2),
    counter=st.integers(0, 2**32 - 1),
    flip=st.none() | st.integers(0, 44 * 8 - 1),
)
def test_one_record_report_decoder_agrees_with_the_general_decoder(record, count, flags, counter, flip):
    # the fast path of decode_frame (a 44-byte level-6 INTERVAL_REPORT) against the general one, on good
    # frames, frames with any single bit flipped, bad counts and flags, and ends off the 900 s grid
    data = bytearray(
        secured_frame(
            FrameType.INTERVAL_REPORT, struct.pack("<BBIII", count, flags, *record), counter=counter
        )
    )
    assert len(data) == 44
    if flip is not None:
        data[flip // 8] ^= 1 << (flip % 8)
    for keys in (lookup, None, {MDT: bytes(16)}.get):
        fast = _outcome(lambda d, k: decode_frame(d, key_lookup=k), bytes(data), keys)
        general = _outcome(frames_module._decode_frame, bytes(data), keys)
        assert fast == general


def test_one_record_report_decoder_keeps_every_field():
    frame = Frame(payload=report(1), source=MDT, destination=DCAP, sequence=0xEE, frame_counter=0xDEADBEEF)
    data = encode_frame(frame, key=MDT_KEY)
    assert len(data) == 44
    decoded = decode_frame(data, key_lookup=lookup)
    assert decoded == frame
    assert decoded.frame_type is FrameType.INTERVAL_REPORT
    assert decoded.payload.records[0].cumulative_energy_wh == 50_000


@given(
    record=st.tuples(u32, u32, u32),
    count=st.integers(0, 3),
    flags=st.integers(0, 2),
    counter=st.integers(0, 2**32 - 1),
    flip=st.none() | st.integers(0, 44 * 8 - 1),
)
def test_unpack_interval_report_gives_the_fields_decode_frame_gives_or_none(
    record, count, flags, counter, flip
):
    # the DCAP's path: the numbers of a one-record report straight from its bytes, or None for anything
    # decode_frame would not decode to exactly that (bad MIC, bad count, flags, end off the grid)
    data = bytearray(
        secured_frame(
            FrameType.INTERVAL_REPORT, struct.pack("<BBIII", count, flags, *record), counter=counter
        )
    )
    if flip is not None:
        data[flip // 8] ^= 1 << (flip % 8)
    contexts = {MDT: report_context(MDT_KEY)}
    fields = unpack_interval_report(bytes(data), contexts.get)
    outcome = _outcome(lambda d, k: decode_frame(d, key_lookup=k), bytes(data), lookup)
    if (
        isinstance(outcome, Frame)
        and len(outcome.payload.records) == 1
        and outcome.payload.temperature is None
    ):
        r = outcome.payload.records[0]
        assert fields == (
            outcome.source,
            outcome.frame_counter,
            r.sequence,
            r.interval_end_s,
            r.cumulative_pulses,
        )
    else:
        assert fields is None
    # an unknown source, or another key's context: nothing
    assert unpack_interval_report(bytes(data), {}.get) is None
    assert unpack_interval_report(bytes(data), {MDT: report_context(DCAP_KEY)}.get) is None


def test_unpack_interval_report_reads_the_encoders_frame():
    encoder = IntervalReportEncoder(MDT, DCAP, MDT_KEY)
    record = IntervalRecord(7, T0 + 900, 123_456)
    data = encoder.encode((record,), 0x21, 0x01020304)
    assert unpack_interval_report(data, {MDT: report_context(MDT_KEY)}.get) == (
        MDT,
        0x01020304,
        7,
        T0 + 900,
        123_456,
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytearray(44),
        "x" * 44,
        None,
        encode_frame(
            Frame(payload=report(2), source=MDT, destination=DCAP, sequence=1, frame_counter=5), key=MDT_KEY
        ),
        encode_frame(
            Frame(
                payload=report(1, TemperatureReading(T0, 21.5)),
                source=MDT,
                destination=DCAP,
                sequence=1,
                frame_counter=5,
            ),
            key=MDT_KEY,
        ),
        encode_frame(
            Frame(payload=TamperEvent(T0, True), source=MDT, destination=DCAP, sequence=1, frame_counter=5),
            key=MDT_KEY,
        ),
    ],
)
def test_unpack_interval_report_leaves_other_frames_to_decode_frame(data):
    assert unpack_interval_report(data, {MDT: report_context(MDT_KEY)}.get) is None


@pytest.mark.parametrize("key", [bytes(15), bytearray(16), "0" * 16, None])
def test_report_context_refuses_a_bad_key(key):
    with pytest.raises(ValueError, match="key"):
        report_context(key)


def test_report_context_is_the_level_6_context_of_the_key():
    # it secures a report as encode_frame does: ENC-MIC-64 under the key, with the 802.15.4 nonce
    frame = Frame(payload=report(1), source=MDT, destination=DCAP, sequence=3, frame_counter=77)
    data = encode_frame(frame, key=MDT_KEY)
    plaintext = unsecure(MDT_KEY, 6, MDT, 77, data[:1] + data[2:22], data[22:])
    sealed = report_context(MDT_KEY).encrypt(ccm_nonce(MDT, 77, 6), plaintext, data[:1] + data[2:22])
    assert sealed == data[22:]
    assert len(sealed) == len(plaintext) + 8
