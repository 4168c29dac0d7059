"""Seals, tamper events and the meter's audit trail (certificate p.2 "Sealing", Fig. 2–6; manual §2.5.2, §7).

The certificate names three sealing provisions of the Mini Meter, and the manual a fourth on the
surface-mount enclosure:

- **factory**: two adhesive tamper-evident seals on the ID label and epoxy cement over its four
  mounting screw heads; they keep the two metrologically adjustable components under the label out
  of reach (certificate p.2, Fig. 2–3; old and new provision alike);
- **testing**: adhesive seals across the factory seals on the ID label or on the side of the case,
  applied after testing (certificate p.2, Fig. 3);
- **installation**: two wire seals through the meter case cover and case, through drilled holes
  (old provision, Fig. 4) or pins with drilled holes (new provision, Fig. 5); they seal the terminal
  block once a service agent has installed the meter;
- **enclosure**: adhesive seals over the two flat-head screws of the enclosure front (manual §2.5.2),
  or wire seals through drilled fillister head screws (manual §7 FAQ).

:class:`MeterAudit` holds a meter's seals and an append-only trail of :class:`AuditEvent`, with
event counters that never decrease, as a revenue meter keeps them. Its rules:

- A calibration change is refused (:class:`~meshmeter.errors.SealError`) while any factory seal is
  intact: the ID label cannot be lifted off the adjustable components without breaking both adhesive
  factory seals and the epoxy on its screws. A meter with no factory seal on record is not protected
  and may be calibrated (a bench unit before sealing).
- A configuration change (e.g. the demand interval, what the LCD shows) touches nothing metrological
  and needs no seal broken.
- The cover switch (manual §2.2, §2.5.2, §5.1) is a sensor: an opening is recorded whatever the
  seals say, with the enclosure seals still recorded intact listed in the event as tamper evidence.
  Reporting the state the cover is already in is idempotent: nothing is recorded and ``False`` is
  returned, since a switch only has edges to report (its time is still checked). Power up/down work
  the same way.
- Every time is a timezone-aware UTC ``datetime``; events must not go back in time.
- A refused operation changes nothing: seals, trail and counters stay as they were.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from meshmeter.errors import SealError

__all__ = [
    "AuditEvent",
    "AuditEventKind",
    "DetailValue",
    "EventCounters",
    "MeterAudit",
    "Provision",
    "Seal",
    "SealKind",
    "standard_seals",
]

DetailValue = str | int | float | bool | None
"""A value in an audit event's detail, or a configuration value."""


class SealKind(StrEnum):
    """The sealing provisions of the certificate (p.2) and of the enclosure (manual §2.5.2, §7)."""

    FACTORY = "factory"
    TESTING = "testing"
    INSTALLATION = "installation"
    ENCLOSURE = "enclosure"

    @property
    def description(self) -> str:
        """What the provision is and what it protects, with the clause."""
        return _KIND_DESCRIPTIONS[self]


_KIND_DESCRIPTIONS = {
    SealKind.FACTORY: (
        "two adhesive tamper-evident security seals on the ID label and epoxy cement over the four label "
        "mounting screw heads; protects the two metrologically adjustable components under the label "
        "(certificate p.2, Fig. 2–3; new and old provision)"
    ),
    SealKind.TESTING: (
        "adhesive tamper-evident security seals across the factory seals on the ID label or on the side "
        "of the case, applied after testing (certificate p.2, Fig. 3; new and old provision)"
    ),
    SealKind.INSTALLATION: (
        "two wire security seals through the meter case cover and case, on both sides: drilled holes "
        "(old provision, Fig. 4) or pins with drilled holes (new provision, Fig. 5); seals the terminal "
        "block once installed by a service agent (certificate p.2)"
    ),
    SealKind.ENCLOSURE: (
        "adhesive security seals over the two flat-head screws of the enclosure front (manual §2.5.2), "
        "or wire seals through drilled fillister head screws (manual §7 FAQ)"
    ),
}


class Provision(StrEnum):
    """Old or new sealing provision of the meter case (certificate p.2, Fig. 4–5)."""

    OLD = "old"
    NEW = "new"


def _check_utc(name: str, value: object) -> datetime:
    """Return ``value`` if it is a timezone-aware UTC datetime, else raise ValueError."""
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware UTC, got the naive datetime {value!r}")
    if value.utcoffset() != timedelta(0):
        raise ValueError(f"{name} must be in UTC (use .astimezone(UTC)), got {value!r}")
    return value


def _check_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


@dataclass(frozen=True)
class Seal:
    """
    One seal and its state (certificate p.2 "Sealing"; manual §2.5.2).

    Parameters
    ----------
    seal_id : str
        Identifier, unique within a meter (e.g. the number printed on the seal).
    kind : SealKind
        The provision it belongs to.
    provision : Provision
        Old or new sealing provision of the meter (certificate p.2).
    location : str
        Where it is, e.g. "ID label, left".
    applied_at : datetime
        When it was applied, timezone-aware UTC.
    applied_by : str
        Who applied it (factory, test laboratory, service agent).
    broken_at : datetime or None
        When it was found or made broken, timezone-aware UTC; None while intact.
    broken_by : str or None
        Who broke it; given exactly when ``broken_at`` is.
    reason : str or None
        Why it was broken (e.g. "recalibration"); only on a broken seal.
    """

    seal_id: str
    kind: SealKind
    provision: Provision
    location: str
    applied_at: datetime
    applied_by: str
    broken_at: datetime | None = None
    broken_by: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        _check_text("seal_id", self.seal_id)
        if not isinstance(self.kind, SealKind):
            raise ValueError(f"kind must be a SealKind, got {self.kind!r}")
        if not isinstance(self.provision, Provision):
            raise ValueError(f"provision must be a Provision, got {self.provision!r}")
        _check_text("location", self.location)
        _check_utc("applied_at", self.applied_at)
        _check_text("applied_by", self.applied_by)
        if (self.broken_at is None) != (self.broken_by is None):
            raise ValueError(
                f"broken_at and broken_by must be given together, got {self.broken_at!r}, {self.broken_by!r}"
            )
        if self.broken_at is not None:
            _check_utc("broken_at", self.broken_at)
            _check_text("broken_by", self.broken_by)
            if self.broken_at < self.applied_at:
                raise ValueError(
                    f"broken_at {self.broken_at.isoformat()} is before applied_at "
                    f"{self.applied_at.isoformat()}"
                )
        elif self.reason is not None:
            raise ValueError(f"reason is only for a broken seal, got {self.reason!r}")
        if self.reason is not None:
            _check_text("reason", self.reason)

    @property
    def intact(self) -> bool:
        """True while the seal is not broken."""
        return self.broken_at is None


def standard_seals(
    provision: Provision,
    *,
    applied_at: datetime,
    applied_by: str,
    kinds: Iterable[SealKind] = (SealKind.FACTORY, SealKind.INSTALLATION),
) -> list[Seal]:
    """
    The seals a meter carries per the certificate (p.2, Fig. 3–5) and the manual (§2.5.2).

    Parameters
    ----------
    provision : Provision
        Old or new sealing provision; it decides where the installation wire seals go.
    applied_at : datetime
        When the seals were applied, timezone-aware UTC.
    applied_by : str
        Who applied them.
    kinds : iterable of SealKind
        Which provisions to seal; default factory and installation, as a meter in service carries.

    Returns
    -------
    list of Seal
        All intact, in this order per kind:

        - FACTORY: ``factory-adhesive-1``, ``factory-adhesive-2`` (the two adhesive seals on the ID
          label) and ``factory-epoxy`` (one record for the epoxy cement over all four label mounting
          screw heads, as the certificate describes it as one provision, Fig. 3);
        - TESTING: ``testing-adhesive-1``, ``testing-adhesive-2``, across the factory seals;
        - INSTALLATION: ``installation-wire-left``, ``installation-wire-right`` (two wire seals, one
          each side of cover and case: drilled holes on the old provision, pins with drilled holes on
          the new one);
        - ENCLOSURE: ``enclosure-adhesive-1``, ``enclosure-adhesive-2``, over the two flat-head
          screws of the enclosure front.
    """
    if not isinstance(provision, Provision):
        raise ValueError(f"provision must be a Provision, got {provision!r}")
    wanted = list(kinds)
    for kind in wanted:
        if not isinstance(kind, SealKind):
            raise ValueError(f"kinds must hold SealKind, got {kind!r}")
    if len(set(wanted)) != len(wanted):
        raise ValueError(f"kinds must not repeat a kind, got {wanted!r}")
    if provision is Provision.OLD:
        wire = "wire seal through the drilled hole in cover and case"
    else:
        wire = "wire seal through the pin with drilled hole on cover and case"
    layout: dict[SealKind, list[tuple[str, str]]] = {
        SealKind.FACTORY: [
            ("factory-adhesive-1", "ID label, adhesive factory seal 1"),
            ("factory-adhesive-2", "ID label, adhesive factory seal 2"),
            ("factory-epoxy", "epoxy cement over the four ID label mounting screw heads"),
        ],
        SealKind.TESTING: [
            ("testing-adhesive-1", "ID label, across factory seal 1"),
            ("testing-adhesive-2", "ID label, across factory seal 2"),
        ],
        SealKind.INSTALLATION: [
            ("installation-wire-left", f"left side, {wire}"),
            ("installation-wire-right", f"right side, {wire}"),
        ],
        SealKind.ENCLOSURE: [
            ("enclosure-adhesive-1", "enclosure front, over flat-head screw 1"),
            ("enclosure-adhesive-2", "enclosure front, over flat-head screw 2"),
        ],
    }
    return [
        Seal(
            seal_id=seal_id,
            kind=kind,
            provision=provision,
            location=location,
            applied_at=applied_at,
            applied_by=applied_by,
        )
        for kind in wanted
        for seal_id, location in layout[kind]
    ]


class AuditEventKind(StrEnum):
    """What an audit event records."""

    SEAL_APPLIED = "seal_applied"
    SEAL_BROKEN = "seal_broken"
    COVER_OPENED = "cover_opened"
    COVER_CLOSED = "cover_closed"
    CALIBRATION_CHANGED = "calibration_changed"
    CONFIGURATION_CHANGED = "configuration_changed"
    POWER_UP = "power_up"
    POWER_DOWN = "power_down"


@dataclass(frozen=True)
class AuditEvent:
    """
    One entry of the audit trail.

    Parameters
    ----------
    sequence : int
        Position in the trail, 1, 2, 3, ... without gaps.
    at : datetime
        When it happened, timezone-aware UTC; never earlier than the entry before.
    kind : AuditEventKind
        What happened.
    actor : str
        Who did it, or what reported it (e.g. "cover switch").
    detail : Mapping
        Particulars (seal id, parameter, old and new values, ...); read-only.
    """

    sequence: int
    at: datetime
    kind: AuditEventKind
    actor: str
    detail: Mapping[str, DetailValue] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class EventCounters:
    """
    Event counters; each counts for the life of the meter and never decreases.

    Parameters
    ----------
    seal_applications : int
        ``SEAL_APPLIED`` events.
    seal_breaks : int
        ``SEAL_BROKEN`` events.
    cover_openings : int
        ``COVER_OPENED`` events.
    calibration_changes : int
        ``CALIBRATION_CHANGED`` events.
    configuration_changes : int
        ``CONFIGURATION_CHANGED`` events.
    power_downs : int
        ``POWER_DOWN`` events.
    """

    seal_applications: int = 0
    seal_breaks: int = 0
    cover_openings: int = 0
    calibration_changes: int = 0
    configuration_changes: int = 0
    power_downs: int = 0


_COUNTED = {
    AuditEventKind.SEAL_APPLIED: "seal_applications",
    AuditEventKind.SEAL_BROKEN: "seal_breaks",
    AuditEventKind.COVER_OPENED: "cover_openings",
    AuditEventKind.CALIBRATION_CHANGED: "calibration_changes",
    AuditEventKind.CONFIGURATION_CHANGED: "configuration_changes",
    AuditEventKind.POWER_DOWN: "power_downs",
}


def _check_value(name: str, value: object) -> DetailValue:
    if value is not None and not isinstance(value, str | int | float | bool):
        raise ValueError(f"{name} must be a str, int, float, bool or None, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


class MeterAudit:
    """
    A meter's seals, its audit trail and its event counters (certificate p.2; manual §2.2, §2.5.2).

    Parameters
    ----------
    cover_open : bool
        Whether the enclosure cover is open when the record starts. Default False.
    powered : bool
        Whether the meter is powered when the record starts. Default False.

    Notes
    -----
    The rules are in the module docstring. Every operation validates all its arguments and the
    meter's state before changing anything, so a refused operation leaves the record as it was.
    """

    def __init__(self, *, cover_open: bool = False, powered: bool = False) -> None:
        if not isinstance(cover_open, bool):
            raise ValueError(f"cover_open must be a bool, got {cover_open!r}")
        if not isinstance(powered, bool):
            raise ValueError(f"powered must be a bool, got {powered!r}")
        self._seals: dict[str, Seal] = {}
        self._events: list[AuditEvent] = []
        self._counters = EventCounters()
        self._calibration: dict[str, float] = {}
        self._configuration: dict[str, DetailValue] = {}
        self._cover_open = cover_open
        self._powered = powered

    # --- state -----------------------------------------------------------------------------

    @property
    def seals(self) -> tuple[Seal, ...]:
        """Every seal on record, intact or broken, in the order applied."""
        return tuple(self._seals.values())

    @property
    def events(self) -> tuple[AuditEvent, ...]:
        """The audit trail, oldest first."""
        return tuple(self._events)

    @property
    def counters(self) -> EventCounters:
        """A snapshot of the event counters."""
        return self._counters

    @property
    def cover_open(self) -> bool:
        """Whether the enclosure cover is open, as the cover switch last reported."""
        return self._cover_open

    @property
    def powered(self) -> bool:
        """Whether the meter is powered, as last recorded."""
        return self._powered

    @property
    def calibration(self) -> Mapping[str, float]:
        """The calibration values set through :meth:`change_calibration`, read-only."""
        return MappingProxyType(self._calibration)

    @property
    def configuration(self) -> Mapping[str, DetailValue]:
        """The configuration values set through :meth:`change_configuration`, read-only."""
        return MappingProxyType(self._configuration)

    def seal(self, seal_id: str) -> Seal:
        """The seal ``seal_id``; :class:`SealError` if there is none."""
        try:
            return self._seals[seal_id]
        except KeyError:
            raise SealError(f"no seal {seal_id!r} on record") from None

    def intact_seals(self) -> list[Seal]:
        """The seals not broken, in the order applied."""
        return [s for s in self._seals.values() if s.intact]

    def broken_seals(self) -> list[Seal]:
        """The seals broken, in the order applied."""
        return [s for s in self._seals.values() if not s.intact]

    def is_sealed(self, kind: SealKind) -> bool:
        """
        Whether the provision ``kind`` is sealed: at least one of its seals is intact.

        A provision is open only once every seal of it is broken (or none was applied), which is
        the rule the calibration guard applies to the factory provision.
        """
        if not isinstance(kind, SealKind):
            raise ValueError(f"kind must be a SealKind, got {kind!r}")
        return any(s.intact and s.kind is kind for s in self._seals.values())

    # --- operations --------------------------------------------------------------------------

    def apply_seal(self, seal: Seal) -> AuditEvent:
        """
        Record a seal applied (``SEAL_APPLIED`` at ``seal.applied_at`` by ``seal.applied_by``).

        Raises
        ------
        SealError
            A seal with the same id is on record (a replacement seal takes a new id).
        ValueError
            ``seal`` is not an intact Seal, or it was applied before the last event.
        """
        if not isinstance(seal, Seal):
            raise ValueError(f"seal must be a Seal, got {seal!r}")
        if not seal.intact:
            raise ValueError(f"seal must be intact when applied, got {seal.seal_id!r} broken")
        if seal.seal_id in self._seals:
            raise SealError(f"a seal {seal.seal_id!r} is already on record")
        self._check_order("seal.applied_at", seal.applied_at)
        self._seals[seal.seal_id] = seal
        return self._append(
            AuditEventKind.SEAL_APPLIED,
            seal.applied_at,
            seal.applied_by,
            {"seal_id": seal.seal_id, "seal_kind": seal.kind.value, "location": seal.location},
        )

    def break_seal(self, seal_id: str, *, at: datetime, by: str, reason: str | None = None) -> Seal:
        """
        Record a seal broken (``SEAL_BROKEN``); returns the updated seal.

        Raises
        ------
        SealError
            No such seal, or it is already broken.
        ValueError
            A bad time (naive, not UTC, before the last event or before the seal was applied) or
            an empty ``by``/``reason``.
        """
        current = self.seal(seal_id)
        if current.broken_at is not None:
            raise SealError(f"seal {seal_id!r} is already broken (at {current.broken_at.isoformat()})")
        self._check_order("at", at)
        broken = replace(current, broken_at=at, broken_by=by, reason=reason)  # validates by, reason
        self._seals[seal_id] = broken
        self._append(
            AuditEventKind.SEAL_BROKEN,
            at,
            by,
            {"seal_id": seal_id, "seal_kind": current.kind.value, "reason": reason},
        )
        return broken

    def cover_opened(self, *, at: datetime, actor: str = "cover switch") -> bool:
        """
        The cover switch reports the enclosure cover opened (manual §2.2, §2.5.2, §5.1).

        Returns
        -------
        bool
            True if ``COVER_OPENED`` was recorded; False if the cover was already open (nothing
            recorded). The event's detail lists the enclosure seals on record as intact
            (``intact_enclosure_seals``): an opening under intact seals is tamper evidence.
        """
        self._check_order("at", at)
        _check_text("actor", actor)
        if self._cover_open:
            return False
        intact = ",".join(s.seal_id for s in self.intact_seals() if s.kind is SealKind.ENCLOSURE)
        self._cover_open = True
        self._append(AuditEventKind.COVER_OPENED, at, actor, {"intact_enclosure_seals": intact})
        return True

    def cover_closed(self, *, at: datetime, actor: str = "cover switch") -> bool:
        """
        The cover switch reports the enclosure cover closed.

        Returns
        -------
        bool
            True if ``COVER_CLOSED`` was recorded; False if the cover was already closed.
        """
        self._check_order("at", at)
        _check_text("actor", actor)
        if not self._cover_open:
            return False
        self._cover_open = False
        self._append(AuditEventKind.COVER_CLOSED, at, actor, {})
        return True

    def power_up(self, *, at: datetime, actor: str = "meter") -> bool:
        """Record line voltage applied (``POWER_UP``); False, nothing recorded, if already powered."""
        self._check_order("at", at)
        _check_text("actor", actor)
        if self._powered:
            return False
        self._powered = True
        self._append(AuditEventKind.POWER_UP, at, actor, {})
        return True

    def power_down(self, *, at: datetime, actor: str = "meter") -> bool:
        """Record line voltage lost (``POWER_DOWN``); False, nothing recorded, if already unpowered."""
        self._check_order("at", at)
        _check_text("actor", actor)
        if not self._powered:
            return False
        self._powered = False
        self._append(AuditEventKind.POWER_DOWN, at, actor, {})
        return True

    def change_calibration(
        self, parameter: str, old: float, new: float, *, actor: str, at: datetime
    ) -> AuditEvent:
        """
        Record a change of a metrologically adjustable component (certificate p.2, Fig. 2).

        Parameters
        ----------
        parameter : str
            Which adjustment, e.g. "gain element 1".
        old, new : float
            Its value before and after. If the parameter was set before through this record,
            ``old`` must equal the value on record.
        actor : str
            Who made the change.
        at : datetime
            When, timezone-aware UTC.

        Raises
        ------
        SealError
            A factory seal is intact: the adjustable components are under the sealed ID label.
        ValueError
            Bad arguments, a time before the last event, or ``old`` not the value on record.
        """
        _check_text("parameter", parameter)
        for name, value in (("old", old), ("new", new)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        _check_text("actor", actor)
        self._check_order("at", at)
        recorded = self._calibration.get(parameter)
        if recorded is not None and recorded != old:
            raise ValueError(f"old must be the value on record for {parameter!r}, {recorded!r}, got {old!r}")
        if self.is_sealed(SealKind.FACTORY):
            intact = [s.seal_id for s in self.intact_seals() if s.kind is SealKind.FACTORY]
            raise SealError(
                f"calibration of {parameter!r} refused: the factory seals {intact} are intact and protect "
                "the metrologically adjustable components (certificate p.2, Fig. 2–3); break them first"
            )
        self._calibration[parameter] = float(new)
        return self._append(
            AuditEventKind.CALIBRATION_CHANGED,
            at,
            actor,
            {"parameter": parameter, "old": float(old), "new": float(new)},
        )

    def change_configuration(
        self, parameter: str, old: DetailValue, new: DetailValue, *, actor: str, at: datetime
    ) -> AuditEvent:
        """
        Record a configuration change (e.g. demand interval, LCD serial number display).

        Configuration is not metrological, so no seal needs breaking. If the parameter was set
        before through this record, ``old`` must equal the value on record.

        Raises
        ------
        ValueError
            Bad arguments, a time before the last event, or ``old`` not the value on record.
        """
        _check_text("parameter", parameter)
        _check_value("old", old)
        _check_value("new", new)
        _check_text("actor", actor)
        self._check_order("at", at)
        if parameter in self._configuration and self._configuration[parameter] != old:
            raise ValueError(
                f"old must be the value on record for {parameter!r}, "
                f"{self._configuration[parameter]!r}, got {old!r}"
            )
        self._configuration[parameter] = new
        return self._append(
            AuditEventKind.CONFIGURATION_CHANGED, at, actor, {"parameter": parameter, "old": old, "new": new}
        )

    # --- internals ---------------------------------------------------------------------------

    def _check_order(self, name: str, at: object) -> datetime:
        when = _check_utc(name, at)
        if self._events and when < self._events[-1].at:
            raise ValueError(
                f"{name} {when.isoformat()} is earlier than the last event "
                f"({self._events[-1].at.isoformat()}); the trail only moves forward"
            )
        return when

    def _append(
        self, kind: AuditEventKind, at: datetime, actor: str, detail: dict[str, DetailValue]
    ) -> AuditEvent:
        event = AuditEvent(
            sequence=len(self._events) + 1,
            at=at,
            kind=kind,
            actor=actor,
            detail=MappingProxyType(dict(detail)),
        )
        self._events.append(event)
        counter = _COUNTED.get(kind)
        if counter is not None:
            self._counters = replace(self._counters, **{counter: getattr(self._counters, counter) + 1})
        return event
