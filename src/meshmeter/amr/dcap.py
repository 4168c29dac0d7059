"""The radio side of the Data Concentrating Access Point (manual §2.6, §5.2): what it accepts from the air.

Every secured frame is authenticated with its originator's key, provisioned at commissioning; a frame
counter already accepted, or older than the window, is a replay and is refused, as IEEE
802.15.4-2006 §7.5.8.2.3 has it, within a sliding window (a frame held by a repeater may arrive after
newer ones; inside the window each counter is accepted once). Each refusal is counted by its reason;
nothing refused reaches the records, and nothing the air brings can raise out of :meth:`Dcap.receive`.

Interval records are kept once each, by (device, sequence number): a repeated record (sent again because
an acknowledgement was lost, or forwarded twice) counts as a duplicate and changes nothing. The DCAP
acknowledges to each MDT the highest sequence number up to which it holds every record, so the MDT drops
exactly what has arrived.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from meshmeter.amr.frames import DeviceKind as FrameDeviceKind
from meshmeter.amr.frames import (
    Frame,
    IntervalReport,
    JoinRequest,
    JoinResponse,
    JoinStatus,
    PowerLoss,
    decode_frame,
)
from meshmeter.amr.records import IntervalRecord, TamperEvent, TemperatureReading
from meshmeter.errors import FrameError, SecurityError

__all__ = ["Dcap", "DcapEvent", "Delivery", "RejectReason"]


class RejectReason(StrEnum):
    """Why the DCAP refused a frame."""

    BAD_MIC = "bad_mic"
    UNKNOWN_DEVICE = "unknown_device"
    REPLAY = "replay"
    MALFORMED = "malformed"
    SECURITY_LEVEL = "security_level"


@dataclass(frozen=True, slots=True)
class Delivery:
    """An interval record as the DCAP first received it."""

    device: bytes
    record: IntervalRecord
    received_s: float
    """Network time of its first arrival. [s]"""


@dataclass(frozen=True, slots=True)
class DcapEvent:
    """An event a device reported: tamper, temperature, a repeater's power loss or return."""

    device: bytes
    received_s: float
    event: TamperEvent | TemperatureReading | PowerLoss


REPLAY_WINDOW = 4096
"""Frame counters accepted below a device's highest, each once (a sliding window, as IPsec and DTLS keep):
frames held by a repeater through an outage arrive after newer ones and are still good. [1]"""


@dataclass
class _Device:
    key: bytes
    kind: FrameDeviceKind
    last_counter: int = -1
    seen: set[int] = field(default_factory=set)  # counters accepted within the window below last_counter
    contiguous: int = -1  # highest sequence up to which every record is held
    ahead: set[int] = field(default_factory=set)  # held sequences above ``contiguous``
    joined: bool = False


class Dcap:
    """
    The DCAP's receiver: commissioning, authentication, replay protection, records kept once.

    Parameters
    ----------
    eui64 : bytes
        The DCAP's own EUI-64.
    max_mdts : int
        MDTs one DCAP serves (issue 3: up to 1000); a join beyond it is refused ``NETWORK_FULL``.
    """

    def __init__(self, eui64: bytes, *, max_mdts: int = 1000) -> None:
        if not isinstance(eui64, bytes) or len(eui64) != 8:
            raise ValueError(f"eui64 must be 8 bytes, got {eui64!r}")
        if isinstance(max_mdts, bool) or not isinstance(max_mdts, int) or max_mdts < 1:
            raise ValueError(f"max_mdts must be an int >= 1, got {max_mdts!r}")
        self.eui64 = eui64
        self.max_mdts = max_mdts
        self._devices: dict[bytes, _Device] = {}
        self.rejected: Counter[RejectReason] = Counter()
        self.accepted_frames = 0
        self.duplicate_records = 0
        self.deliveries: list[Delivery] = []
        self.events: list[DcapEvent] = []
        self._joined_mdts = 0

    # --------------------------------------------------------------------------------------------
    # commissioning
    # --------------------------------------------------------------------------------------------

    def commission(self, eui64: bytes, key: bytes, kind: FrameDeviceKind) -> None:
        """Provision a device's key (commissioning, manual §5.2). A device is commissioned once."""
        if not isinstance(eui64, bytes) or len(eui64) != 8:
            raise ValueError(f"eui64 must be 8 bytes, got {eui64!r}")
        if not isinstance(key, bytes) or len(key) != 16:
            raise ValueError("key must be 16 bytes (AES-128)")
        if not isinstance(kind, FrameDeviceKind):
            raise ValueError(f"kind must be a frames.DeviceKind, got {kind!r}")
        if eui64 in self._devices:
            raise ValueError(f"device {eui64.hex()} is already commissioned")
        self._devices[eui64] = _Device(key=key, kind=kind)

    def key_of(self, eui64: bytes) -> bytes | None:
        """The key of a commissioned device, or None."""
        device = self._devices.get(eui64)
        return device.key if device is not None else None

    # --------------------------------------------------------------------------------------------
    # reception
    # --------------------------------------------------------------------------------------------

    def receive(self, data: bytes, now_s: float) -> Frame | None:
        """
        Accept or refuse a frame from the air.

        Parameters
        ----------
        data : bytes
            The frame as received (anything at all).
        now_s : float
            Network time. [s]

        Returns
        -------
        Frame or None
            The accepted frame, or None when refused (the reason is counted in :attr:`rejected`).
        """
        try:
            frame = decode_frame(data, key_lookup=self.key_of)
        except SecurityError as exc:
            self.rejected[_reason(exc.reason)] += 1
            return None
        except FrameError:
            self.rejected[RejectReason.MALFORMED] += 1
            return None
        if frame.frame_counter == 0 and frame.security_level:
            self.rejected[RejectReason.REPLAY] += 1
            return None
        device = self._devices.get(frame.source)
        if device is None:  # an unsecured frame from a stranger (a beacon or an ack): not for the DCAP
            self.rejected[RejectReason.UNKNOWN_DEVICE] += 1
            return None
        if frame.security_level and not self._fresh(device, frame.frame_counter):
            self.rejected[RejectReason.REPLAY] += 1
            return None
        self.accepted_frames += 1
        payload = frame.payload
        if isinstance(payload, IntervalReport):
            self._keep(frame.source, device, payload, now_s)
        elif isinstance(payload, TamperEvent | TemperatureReading | PowerLoss):
            self.events.append(DcapEvent(frame.source, now_s, payload))
        return frame

    @staticmethod
    def _fresh(device: _Device, counter: int) -> bool:
        """A counter not seen before and within the window below the highest; recorded when fresh."""
        if counter > device.last_counter:
            device.seen.add(counter)
            device.last_counter = counter
            if len(device.seen) > 2 * REPLAY_WINDOW:
                floor = counter - REPLAY_WINDOW
                device.seen = {c for c in device.seen if c > floor}
            return True
        if counter <= device.last_counter - REPLAY_WINDOW or counter in device.seen:
            return False
        device.seen.add(counter)
        return True

    def _keep(self, source: bytes, device: _Device, report: IntervalReport, now_s: float) -> None:
        for record in report.records:
            seq = record.sequence
            if seq <= device.contiguous or seq in device.ahead:
                self.duplicate_records += 1
                continue
            self.deliveries.append(Delivery(source, record, now_s))
            device.ahead.add(seq)
            while device.contiguous + 1 in device.ahead:
                device.contiguous += 1
                device.ahead.discard(device.contiguous)
        if report.temperature is not None:
            self.events.append(DcapEvent(source, now_s, report.temperature))

    def acknowledged_up_to(self, eui64: bytes) -> int:
        """Highest sequence number up to which the DCAP holds every record of a device (-1: none)."""
        device = self._devices.get(eui64)
        return device.contiguous if device is not None else -1

    def set_first_sequence(self, eui64: bytes, sequence: int) -> None:
        """Tell the DCAP where a device's records start (a device commissioned mid-life starts above 0)."""
        device = self._devices[eui64]
        device.contiguous = max(device.contiguous, sequence - 1)

    # --------------------------------------------------------------------------------------------
    # joining
    # --------------------------------------------------------------------------------------------

    def answer_join(self, request: JoinRequest, source: bytes) -> JoinStatus:
        """The DCAP's answer to an authenticated join request: accepted, or the network is full."""
        device = self._devices.get(source)
        if device is None:
            return JoinStatus.DENIED
        if device.joined:
            return JoinStatus.ACCEPTED
        if request.device_kind is FrameDeviceKind.MDT:
            if self._joined_mdts >= self.max_mdts:
                return JoinStatus.NETWORK_FULL
            self._joined_mdts += 1
        device.joined = True
        return JoinStatus.ACCEPTED

    def join_response(self, status: JoinStatus, now_s: float) -> JoinResponse:
        """The payload of the answer, with the authenticated network time."""
        return JoinResponse(status=status, network_time_s=int(now_s))

    @property
    def joined_mdts(self) -> int:
        """MDTs joined. [1]"""
        return self._joined_mdts


def _reason(text: str) -> RejectReason:
    try:
        return RejectReason(text)
    except ValueError:
        return RejectReason.MALFORMED
