"""Tests of meshmeter.amr.dcap's report path: ``Dcap.receive_report`` decides as ``Dcap.receive`` does."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshmeter.amr.dcap import Dcap, RejectReason
from meshmeter.amr.frames import (
    DeviceKind,
    Frame,
    IntervalReport,
    IntervalReportEncoder,
    PowerLoss,
    encode_frame,
)
from meshmeter.amr.records import IntervalRecord, TamperEvent, TemperatureReading

DCAP = bytes.fromhex("0011223344556677")
MDT_A = bytes.fromhex("ACDE480000000001")
MDT_B = bytes.fromhex("ACDE480000000002")
STRANGER = bytes.fromhex("ACDE480000000003")
REPEATER = bytes.fromhex("ACDE4800000000F1")
KEYS = {
    MDT_A: bytes(range(16)),
    MDT_B: bytes(range(16, 32)),
    STRANGER: bytes(16),
    REPEATER: bytes(range(32, 48)),
}
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z [s]


def _dcap() -> Dcap:
    dcap = Dcap(DCAP)
    dcap.commission(MDT_A, KEYS[MDT_A], DeviceKind.MDT)
    dcap.commission(MDT_B, KEYS[MDT_B], DeviceKind.MDT)
    dcap.commission(REPEATER, KEYS[REPEATER], DeviceKind.REPEATER)
    return dcap


def _report(source: bytes, counter: int, sequences: tuple[int, ...], temperature: bool = False) -> bytes:
    records = tuple(IntervalRecord(s, T0 + 900 * (s + 1), 3 * s) for s in sequences)
    reading = TemperatureReading(T0, 21.25) if temperature else None
    return IntervalReportEncoder(source, DCAP, KEYS[source]).encode(records, counter & 0xFF, counter, reading)


def _secured(source: bytes, counter: int, payload: TamperEvent | PowerLoss) -> bytes:
    frame = Frame(payload=payload, source=source, destination=DCAP, sequence=1, frame_counter=counter)
    return encode_frame(frame, key=KEYS[source])


def _flipped(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


FRAMES: list[bytes] = [
    *(_report(MDT_A, c, (c - 1,)) for c in range(1, 9)),  # in order: counters 1..8, records 0..7
    _report(MDT_A, 3, (2,)),  # a replay
    _report(MDT_A, 12, (11,)),  # ahead of a gap (records 8..10 missing)
    _report(MDT_A, 10, (9,)),  # an older counter inside the window, arriving late
    _report(MDT_A, 11, (8, 9, 10)),  # the backlog, three records, one of them a duplicate
    _report(MDT_A, 13, (12,), temperature=True),  # a D02 report
    _report(MDT_A, 14, (11,)),  # a duplicate record under a fresh counter
    _report(MDT_A, 0, (13,)),  # counter 0: never sent under a key
    _report(MDT_A, 9000, (13,)),  # far ahead: counters 15..4903 slide out of the window
    _report(MDT_A, 15, (14,)),  # now older than the window
    _flipped(_report(MDT_A, 9001, (13,)), 30 * 8),  # a forged payload: bad MIC
    _flipped(_report(MDT_A, 9002, (13,)), 3 * 8),  # a forged source: bad MIC
    _report(STRANGER, 1, (0,)),  # not commissioned
    _report(MDT_B, 1, (0,)),
    _report(MDT_B, 2, (1,)),
    _report(MDT_B, 2, (1,)),  # replay
    _secured(MDT_B, 3, TamperEvent(T0 + 5, True)),
    _secured(REPEATER, 1, PowerLoss(T0 + 7, False)),
    _report(MDT_A, 9003, (13,))[:40],  # truncated
    _report(MDT_A, 9004, (13,)) + b"\x00",  # a byte too many
    bytes(44),
    b"",
    bytearray(_report(MDT_B, 4, (2,))),  # not bytes, but a frame: the general path takes it
    "not a frame",
]


def _expected(dcap: Dcap, frame: Frame | None) -> int:
    if frame is None or not isinstance(frame.payload, IntervalReport):
        return -1
    return dcap.acknowledged_up_to(frame.source)


def _state(dcap: Dcap) -> tuple[object, ...]:
    return (
        dict(dcap.rejected),
        dcap.accepted_frames,
        dcap.duplicate_records,
        list(dcap.deliveries),
        dcap.events,
        [dcap.acknowledged_up_to(d) for d in (MDT_A, MDT_B, STRANGER, REPEATER)],
    )


def _compare(frames: list[bytes]) -> tuple[Dcap, Dcap]:
    general, lean = _dcap(), _dcap()
    for k, data in enumerate(frames):
        now_s = float(T0 + 60 * k)
        expected = _expected(general, general.receive(data, now_s))
        assert lean.receive_report(data, now_s) == expected, k
        assert _state(lean) == _state(general), k
    return general, lean


def test_receive_report_decides_every_frame_as_receive_does():
    _, lean = _compare(FRAMES)
    # and the list above exercised every way of refusing a frame but the security level: replays (a
    # repeat from each MDT, counter 0, one below the window), MICs (a forged payload, a truncated
    # frame, one a byte too long), unknown devices (a stranger, a forged source), malformed (zeros,
    # empty, text)
    assert lean.rejected == {
        RejectReason.REPLAY: 4,
        RejectReason.BAD_MIC: 3,
        RejectReason.UNKNOWN_DEVICE: 2,
        RejectReason.MALFORMED: 3,
    }
    assert lean.duplicate_records == 2
    assert lean.acknowledged_up_to(MDT_A) == 13
    assert len(lean.events) == 2 + 1  # tamper, power loss, the D02 report's temperature


@settings(max_examples=60, deadline=None)
@given(st.permutations(FRAMES))
def test_receive_report_decides_as_receive_in_any_order(frames):
    _compare(list(frames))


@pytest.mark.parametrize("data", [b"", bytes(44), "text", None])
def test_receive_report_refuses_rubbish_without_raising(data):
    dcap = _dcap()
    assert dcap.receive_report(data, float(T0)) == -1
    assert dcap.rejected[RejectReason.MALFORMED] == 1
    assert not dcap.deliveries


def test_receive_report_keeps_the_usual_report_as_columns():
    dcap = _dcap()
    for c in range(1, 97):
        assert dcap.receive_report(_report(MDT_A, c, (c - 1,)), float(T0 + 900 * c + 30)) == c - 1
    assert len(dcap.deliveries) == 96
    last = dcap.deliveries[-1]
    assert (last.device, last.record, last.received_s) == (
        MDT_A,
        IntervalRecord(95, T0 + 96 * 900, 285),
        T0 + 96 * 900 + 30.0,
    )
