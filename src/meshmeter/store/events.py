"""Register reads, events (tamper, reverse phase, loss of communication ...) and the audit of frames."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from meshmeter.store import _validate as v
from meshmeter.store.base import StoreBase, _now
from meshmeter.store.driver import _in_window
from meshmeter.store.models import Event, FrameAudit, RegisterRead
from meshmeter.store.schema import events, frame_audit, meters, register_reads

__all__ = ["EventsMixin"]


class EventsMixin(StoreBase):
    """Register reads, events and the audit of frames received."""

    def add_register_read(self, *, meter_id: int, read_at: datetime, energy_wh: int) -> bool:
        """
        Store a reading of the meter's total register; idempotent.

        Returns
        -------
        bool
            True when stored, False when the same reading was already there.

        Raises
        ------
        ValueError
            On bad input, an unknown meter, or a different reading already stored at ``read_at``.
        """
        meter_id = v.check_id("meter_id", meter_id)
        read_at = v.check_utc("read_at", read_at, whole_second=True)
        energy_wh = v.check_energy_wh("energy_wh", energy_wh)
        t = register_reads
        with self._write() as c:
            self._lock_meter(c, meter_id)
            new = c.execute(
                self._insert(t)
                .values(meter_id=meter_id, read_at=read_at, energy_wh=energy_wh)
                .on_conflict_do_nothing(index_elements=[t.c.meter_id, t.c.read_at])
                .returning(t.c.read_at)
            ).first()
            if new is not None:
                return True
            stored = c.execute(
                select(t.c.energy_wh).where(t.c.meter_id == meter_id, t.c.read_at == read_at)
            ).scalar_one()
        if stored != energy_wh:
            raise ValueError(
                f"energy_wh {energy_wh} conflicts with the reading {stored} Wh already stored for meter "
                f"{meter_id} at read_at {read_at.isoformat()}"
            )
        return False

    def register_reads(self, *, meter_id: int, start: datetime, end: datetime) -> list[RegisterRead]:
        """Register reads of a meter with ``start < read_at <= end``, oldest first."""
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = v.check_range(start, end)
        t = register_reads
        with self._read() as c:
            rows = c.execute(
                select(t).where(_in_window(t, meter_id, lo, hi, "read_at")).order_by(t.c.read_at)
            ).all()
        return [RegisterRead(r.meter_id, r.read_at, r.energy_wh) for r in rows]

    def add_event(
        self,
        *,
        kind: str,
        at: datetime,
        meter_id: int | None = None,
        eui64: bytes | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> Event:
        """
        Record an event (``"tamper"``, ``"reverse_phase"``, ``"comm_loss"``, ``"low_battery"`` ...).

        Parameters
        ----------
        kind : str
            What happened.
        at : datetime
            When, aware.
        meter_id : int, optional
            The meter concerned, which must exist.
        eui64 : bytes, optional
            The device concerned (8 bytes).
        detail : mapping, optional
            Anything more, as JSON (no NaN).
        """
        kind = v.check_text("kind", kind)
        at = v.check_utc("at", at)
        if meter_id is not None:
            meter_id = v.check_id("meter_id", meter_id)
        if eui64 is not None:
            eui64 = v.check_bytes("eui64", eui64, 8)
        if detail is not None and not isinstance(detail, Mapping):
            raise ValueError(f"detail must be a mapping, got {detail!r}")
        body: dict[str, Any] = v.check_json("detail", dict(detail or {}))
        with self._write() as c:
            if meter_id is not None:
                self._require(c, meters, meter_id, "meter_id", "meter")
            event_id = c.execute(
                insert(events)
                .values(kind=kind, meter_id=meter_id, eui64=eui64, at=at, detail=body)
                .returning(events.c.id)
            ).scalar_one()
        return Event(int(event_id), kind, meter_id, eui64, at, body)

    def events(
        self,
        *,
        meter_id: int | None = None,
        kind: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Event]:
        """Events, filtered by meter, kind and ``start < at <= end``, oldest first."""
        t = events
        query = select(t).order_by(t.c.at, t.c.id)
        if meter_id is not None:
            query = query.where(t.c.meter_id == meter_id)
        if kind is not None:
            query = query.where(t.c.kind == kind)
        if start is not None:
            query = query.where(t.c.at > v.check_utc("start", start))
        if end is not None:
            query = query.where(t.c.at <= v.check_utc("end", end))
        with self._read() as c:
            rows = c.execute(query).all()
        return [
            Event(r.id, r.kind, r.meter_id, None if r.eui64 is None else bytes(r.eui64), r.at, r.detail)
            for r in rows
        ]

    def audit_frame(
        self,
        *,
        eui64: bytes,
        frame_counter: int,
        accepted: bool,
        reason: str | None = None,
        received_at: datetime | None = None,
    ) -> FrameAudit:
        """
        Record a frame received: its sender, frame counter, and whether it was accepted, or why not.

        Parameters
        ----------
        eui64 : bytes
            The sender (8 bytes).
        frame_counter : int
            The frame counter (IEEE 802.15.4 security header), in [0, 2**32). [1]
        accepted : bool
            True when the frame passed every check.
        reason : str, optional
            Why it was refused (``"bad_mic"``, ``"replay"``, ``"malformed"`` ...); required when refused.
        received_at : datetime, optional
            When; default now.
        """
        eui64 = v.check_bytes("eui64", eui64, 8)
        frame_counter = v.check_int(
            "frame_counter", frame_counter, low=0, high=2**32, expected="an int in [0, 2**32)"
        )
        accepted = v.check_bool("accepted", accepted)
        if reason is not None:
            reason = v.check_text("reason", reason)
        elif not accepted:
            raise ValueError("reason is required for a refused frame")
        stamp = _now() if received_at is None else v.check_utc("received_at", received_at)
        with self._write() as c:
            audit_id = c.execute(
                insert(frame_audit)
                .values(
                    eui64=eui64,
                    frame_counter=frame_counter,
                    received_at=stamp,
                    accepted=accepted,
                    reason=reason,
                )
                .returning(frame_audit.c.id)
            ).scalar_one()
        return FrameAudit(int(audit_id), eui64, frame_counter, stamp, accepted, reason)

    def frame_audits(self, *, eui64: bytes | None = None, accepted: bool | None = None) -> list[FrameAudit]:
        """The audit of frames received, filtered by sender and outcome, in order of recording."""
        t = frame_audit
        query = select(t).order_by(t.c.id)
        if eui64 is not None:
            query = query.where(t.c.eui64 == v.check_bytes("eui64", eui64, 8))
        if accepted is not None:
            query = query.where(t.c.accepted == v.check_bool("accepted", accepted))
        with self._read() as c:
            rows = c.execute(query).all()
        return [
            FrameAudit(r.id, bytes(r.eui64), r.frame_counter, r.received_at, r.accepted, r.reason)
            for r in rows
        ]
