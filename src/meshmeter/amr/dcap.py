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

from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import overload

from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from meshmeter.amr.frames import DeviceKind as FrameDeviceKind
from meshmeter.amr.frames import (
    Frame,
    IntervalReport,
    JoinRequest,
    JoinResponse,
    JoinStatus,
    PowerLoss,
    decode_frame,
    report_context,
    unpack_interval_report,
)
from meshmeter.amr.records import IntervalRecord, TamperEvent, TemperatureReading
from meshmeter.errors import FrameError, SecurityError

__all__ = ["Dcap", "DcapEvent", "Deliveries", "Delivery", "RejectReason"]


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


class Deliveries(Sequence[Delivery]):
    """
    The interval records a DCAP has accepted, in order of first arrival: a sequence of :class:`Delivery`.

    Kept as columns (device, sequence, interval end, cumulative pulses, arrival time), as a concentrator
    keeps a table, not as millions of objects: a month of a 1000-MDT site is three million records,
    24 bytes each here. Reading gives :class:`Delivery` objects made on the fly, equal to those the
    DCAP was given; a ``Deliveries`` equals any sequence of the same deliveries (a list of them, say).
    """

    __slots__ = ("_appends", "_device", "_devices", "_end", "_number_of", "_pulses", "_received", "_sequence")

    def __init__(self) -> None:
        self._devices: list[bytes] = []  # EUI-64s by number
        self._number_of: dict[bytes, int] = {}
        self._device = array("I")
        self._sequence = array("I")
        self._end = array("I")
        self._pulses = array("I")
        self._received = array("d")
        # the columns' append methods, bound once: append_fields runs for every record a mesh delivers
        self._appends = (
            self._device.append,
            self._sequence.append,
            self._end.append,
            self._pulses.append,
            self._received.append,
        )

    def number(self, device: bytes) -> int:
        """The column value of a device's EUI-64 (numbered in order of first sight)."""
        number = self._number_of.get(device)
        if number is None:
            number = self._number_of[device] = len(self._devices)
            self._devices.append(device)
        return number

    def append(self, delivery: Delivery) -> None:
        """Keep one more delivery."""
        if not isinstance(delivery, Delivery):
            raise ValueError(f"delivery must be a Delivery, got {delivery!r}")
        record = delivery.record
        self.append_fields(
            self.number(delivery.device),
            record.sequence,
            record.interval_end_s,
            record.cumulative_pulses,
            delivery.received_s,
        )

    def append_fields(self, number: int, sequence: int, end_s: int, pulses: int, received_s: float) -> None:
        """Keep one more delivery from its fields (``number`` from :meth:`number`): the DCAP's path."""
        device, seq, end, count, received = self._appends
        device(number)
        seq(sequence)
        end(end_s)
        count(pulses)
        received(received_s)

    def _delivery(self, i: int) -> Delivery:
        record = IntervalRecord(self._sequence[i], self._end[i], self._pulses[i])
        return Delivery(self._devices[self._device[i]], record, self._received[i])

    def __len__(self) -> int:
        return len(self._device)

    @overload
    def __getitem__(self, index: int) -> Delivery: ...

    @overload
    def __getitem__(self, index: slice) -> list[Delivery]: ...

    def __getitem__(self, index: int | slice) -> Delivery | list[Delivery]:
        if isinstance(index, slice):
            return [self._delivery(i) for i in range(*index.indices(len(self)))]
        n = len(self)
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError(f"delivery index {index} out of range for {n}")
        return self._delivery(i)

    def __iter__(self) -> Iterator[Delivery]:
        devices = self._devices
        for number, sequence, end, pulses, received in zip(
            self._device, self._sequence, self._end, self._pulses, self._received, strict=True
        ):
            yield Delivery(devices[number], IntervalRecord(sequence, end, pulses), received)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"Deliveries({len(self)} records from {len(self._devices)} devices)"


REPLAY_WINDOW = 4096
"""Frame counters accepted below a device's highest, each once (a sliding window, as IPsec and DTLS keep):
frames held by a repeater through an outage arrive after newer ones and are still good. [1]"""


@dataclass(slots=True)
class _Device:
    key: bytes
    kind: FrameDeviceKind
    number: int  # the device's column value in the deliveries
    last_counter: int = -1
    # counters within the window below last_counter not yet accepted (skipped over: frames lost or still
    # held by a repeater); every other counter of the window has been accepted once
    missing: set[int] = field(default_factory=set)
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
        self._keys: dict[bytes, bytes] = {}  # the devices' keys, for decode_frame's key lookup
        self._key_lookup = self._keys.get
        # the AES-CCM contexts of the devices' INTERVAL_REPORTs, made at commissioning
        self._report_contexts: dict[bytes, AESCCM] = {}
        self._report_context_of = self._report_contexts.get
        self.rejected: Counter[RejectReason] = Counter()
        self.accepted_frames = 0
        self.duplicate_records = 0
        self.deliveries = Deliveries()
        """The interval records accepted, each once, in order of first arrival."""
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
        self._devices[eui64] = _Device(key=key, kind=kind, number=self.deliveries.number(eui64))
        self._keys[eui64] = key
        self._report_contexts[eui64] = report_context(key)

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
            frame = decode_frame(data, key_lookup=self._key_lookup)
        except SecurityError as exc:
            self.rejected[_reason(exc.reason)] += 1
            return None
        except FrameError:
            self.rejected[RejectReason.MALFORMED] += 1
            return None
        counter = frame.frame_counter
        secured = counter != 0 or frame.security_level  # (an unsecured frame carries no counter)
        if counter == 0 and secured:
            self.rejected[RejectReason.REPLAY] += 1
            return None
        device = self._devices.get(frame.source)
        if device is None:  # an unsecured frame from a stranger (a beacon or an ack): not for the DCAP
            self.rejected[RejectReason.UNKNOWN_DEVICE] += 1
            return None
        if secured:
            if counter == device.last_counter + 1:
                device.last_counter = counter  # the usual case, the next counter: as _fresh records it
            elif not self._fresh(device, counter):
                self.rejected[RejectReason.REPLAY] += 1
                return None
        self.accepted_frames += 1
        payload = frame.payload
        if isinstance(payload, IntervalReport):
            self._keep(frame.source, device, payload, now_s)
        elif isinstance(payload, TamperEvent | TemperatureReading | PowerLoss):
            self.events.append(DcapEvent(frame.source, now_s, payload))
        return frame

    def receive_report(self, data: bytes, now_s: float) -> int:
        """
        Accept or refuse a frame from the air, as :meth:`receive` does, and say what it acknowledges.

        The path of the frame a mesh carries most, a one-record INTERVAL_REPORT: once its MIC verifies,
        its numbers go straight from the bytes (:func:`~meshmeter.amr.frames.unpack_interval_report`)
        through the replay window into the deliveries' columns, with no frame, report or record object
        made. Any other frame goes through :meth:`receive`. Either way the same frames are accepted,
        the same refusals counted and the same records kept.

        Parameters
        ----------
        data : bytes
            The frame as received (anything at all).
        now_s : float
            Network time. [s]

        Returns
        -------
        acknowledged : int
            For an accepted INTERVAL_REPORT, the highest sequence up to which the DCAP now holds every
            record of its source (:meth:`acknowledged_up_to`) [1]; -1 for a frame refused or of
            another type.
        """
        fields = unpack_interval_report(data, self._report_context_of)
        if fields is None:  # anything else, or something wrong with it: the general path
            frame = self.receive(data, now_s)
            if frame is None or type(frame.payload) is not IntervalReport:
                return -1
            return self._devices[frame.source].contiguous
        source, counter, sequence, end_s, pulses = fields
        device = self._devices[source]
        # the replay window, as receive() applies it (counter 0 is never sent under a key)
        if counter == device.last_counter + 1 and counter:
            device.last_counter = counter
        elif not counter or not self._fresh(device, counter):
            self.rejected[RejectReason.REPLAY] += 1
            return -1
        self.accepted_frames += 1
        if sequence == device.contiguous + 1 and not device.ahead:  # the next record: _keep's first case
            self.deliveries.append_fields(device.number, sequence, end_s, pulses, now_s)
            device.contiguous = sequence
        else:
            record = IntervalRecord(sequence, end_s, pulses)
            self._keep(source, device, IntervalReport((record,)), now_s)
        return device.contiguous

    @staticmethod
    def _fresh(device: _Device, counter: int) -> bool:
        """
        A counter not accepted before and within the window below the highest; recorded when fresh.

        The window is kept as the counters it lacks: a counter above the highest makes those it skips
        missing (at most a window's worth); one below is fresh only if missing, and then no longer is.
        Frames arrive nearly always in order, so the set stays as small as the frames lost or held.
        """
        last = device.last_counter
        if counter > last:
            missing = device.missing
            missing.update(range(max(last + 1, counter - REPLAY_WINDOW + 1), counter))
            device.last_counter = counter
            if len(missing) > REPLAY_WINDOW:
                floor = counter - REPLAY_WINDOW
                device.missing = {c for c in missing if c > floor}
            return True
        if counter <= last - REPLAY_WINDOW or counter not in device.missing:
            return False
        device.missing.discard(counter)
        return True

    def _keep(self, source: bytes, device: _Device, report: IntervalReport, now_s: float) -> None:
        for record in report.records:
            seq = record.sequence
            if seq == device.contiguous + 1 and not device.ahead:  # the usual case: the next one
                self.deliveries.append_fields(
                    device.number, seq, record.interval_end_s, record.cumulative_pulses, now_s
                )
                device.contiguous = seq
                continue
            if seq <= device.contiguous or seq in device.ahead:
                self.duplicate_records += 1
                continue
            self.deliveries.append_fields(
                device.number, seq, record.interval_end_s, record.cumulative_pulses, now_s
            )
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
