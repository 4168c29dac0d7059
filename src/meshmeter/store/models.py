"""The records the store takes and gives back: frozen dataclasses and named tuples, no ORM.

Energy is integer Wh; every datetime is timezone-aware UTC at one-second resolution; an interval is named
by its end (``docs/conventions.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

__all__ = [
    "Account",
    "ApiToken",
    "Event",
    "FrameAudit",
    "IntervalEdit",
    "Mdt",
    "Meter",
    "MeterChange",
    "NetworkReport",
    "Occupancy",
    "OutboxMessage",
    "RawInsertResult",
    "RawInterval",
    "RawIntervalIn",
    "RegisterRead",
    "Site",
    "StoredCorrection",
    "TenancyEvent",
    "Tenant",
    "Unit",
    "ValidatedInterval",
    "ValidatedIntervalIn",
    "VeeFinding",
]


@dataclass(frozen=True, slots=True)
class Site:
    """
    A site: a building with its meters.

    Attributes
    ----------
    timezone : str
        IANA name (local time for bills).
    owner_name, owner_address : str or None
        The owner or manager who bills the site's tenants, as printed on bills (schema version 8).
    payment_instructions : str or None
        How tenants pay, as printed on bills.
    due_days : int
        Days from a bill's issue to its due date, 0 to 90 (default 21). [d]
    correction_mode : str
        How corrections of issued bills go out: ``"corrected_bill"`` (default), a corrected bill that
        references the original, or ``"next_bill"``, adjustment lines on the account's next bill
        (:data:`~meshmeter.store.schema.CORRECTION_MODES`).
    """

    id: int
    name: str
    timezone: str
    owner_name: str | None = None
    owner_address: str | None = None
    payment_instructions: str | None = None
    due_days: int = 21
    correction_mode: str = "corrected_bill"


@dataclass(frozen=True, slots=True)
class Meter:
    """
    A meter as installed.

    Attributes
    ----------
    serial : str
        Serial number, unique.
    designation : str
        Model designation (certificate p.1).
    ct_ratio : float
        CT primary / secondary, 200:0.1 A gives 2000. [1]
    multiplier : float
        Factor from the register reading to energy. [1]
    install_date : date or None
        Local calendar date of installation.
    site_id : int or None
        The site.
    interval_s : int
        Length of the meter's intervals: 300, 900, 1800 or 3600 (``meshmeter.intervals``). [s]
    role : str
        ``"unit"``, ``"house"``, ``"production"`` or ``"master"``; production is never consumption.
    data_version : int
        The version of the meter's interval view when the meter was read: raised by every write of its
        raw or validated intervals or of a VEE run, in the writing transaction (readers' caches key on it;
        :mod:`meshmeter.api.cache`). Not part of the meter's equality. [1]
    register_digits : int or None
        Whole-kWh digits of the register: it rolls over to 0 at ``10 ** register_digits`` kWh; None: it
        never does (schema version 8).
    export_of_meter_id : int or None
        This meter row is the export (received) register of that bidirectional meter: its intervals are
        energy delivered to the grid, billed as that meter's ``export_wh``; its role is production, never
        consumption. None: a meter of its own (schema version 8).
    manufacturer : str or None
        Who made the meter, for a meter of another make than the Mini Meter (``"Eastron"``); None: a Mini
        Meter, whose designation says the rest (schema version 9). With a manufacturer the designation is
        free text.
    model : str or None
        The manufacturer's model name (``"SDM630MCT"``).
    elements : int or None
        Measuring elements, 1 to 3; None: the designation's (``D`` 2, ``S`` 1, certificate p.1). [1]
    voltage_max_v : float or None
        Highest voltage an element measures, line to neutral; None: the designation's (138 V, manual
        §3.1). [V]
    current_max_a : float or None
        Highest primary current an element measures (through its CTs); None: ``ct_ratio`` × the Mini
        Meter's 0.11 A highest secondary current (manual §3.1). The three ratings are given together or
        not at all; with them, :func:`meshmeter.catalog.max_interval_energy_wh` is
        ``elements × voltage_max_v × current_max_a × interval_s / 3600``. [A]
    """

    id: int
    serial: str
    designation: str
    ct_ratio: float
    multiplier: float
    install_date: date | None
    site_id: int | None
    interval_s: int = 900
    role: str = "unit"
    data_version: int = field(default=0, compare=False)
    register_digits: int | None = None
    export_of_meter_id: int | None = None
    manufacturer: str | None = None
    model: str | None = None
    elements: int | None = None
    voltage_max_v: float | None = None
    current_max_a: float | None = None


@dataclass(frozen=True, slots=True)
class MeterChange:
    """
    One change in a meter's life (schema version 8, :data:`~meshmeter.store.schema.meter_changes`).

    Attributes
    ----------
    kind : str
        ``"install"`` (with its first read), ``"remove"`` (with its final read), ``"multiplier"`` or
        ``"ct_ratio"`` (with the value from ``at`` on). An exchange is the old meter's ``remove`` and the
        new meter's ``install`` at the same instant, the install naming the meter it replaces.
    at : datetime
        When it took effect, on the meter's interval grid: intervals ending after it are the new state's.
    read_wh : int or None
        The register as read then, before the multiplier (``docs/billing.md``, "A meter's life"). [Wh]
    value : float or None
        The new multiplier or CT ratio. [1]
    replaces_meter_id : int or None
        An exchange's install: the meter removed.
    unit_id : int or None
        The unit it serves or served.
    recorded_at, recorded_by : datetime, str or None
        When and by whom it was recorded.
    detail : dict
        What else was known: the value before a change (``"from"``), the units re-pointed (``"unit_ids"``).
    """

    id: int
    meter_id: int
    kind: str
    at: datetime
    read_wh: int | None
    value: float | None
    replaces_meter_id: int | None
    unit_id: int | None
    recorded_at: datetime
    recorded_by: str | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Mdt:
    """A Meter Data Transceiver: EUI-64 (8 bytes), kit designation, AES-128 key (16 bytes), its meter."""

    id: int
    eui64: bytes
    kit: str
    key: bytes = field(repr=False)
    meter_id: int | None


@dataclass(frozen=True, slots=True)
class Tenant:
    """A tenant, who holds accounts."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Unit:
    """
    A unit of a site (apartment, suite), measured by one meter (schema version 7).

    Attributes
    ----------
    site_id : int or None
        Its site; None only for a unit made for a meter of no site (before version 7, or by
        :meth:`~meshmeter.store.Store.create_account` on such a meter).
    name : str
        As the operator names it, unique in its site.
    address : str or None
        Its postal address.
    meter_id : int
        The meter that measures it now.
    floor_area_ft2 : float or None
        Its floor area, which weighs its share of what no tenant meter measures (schema version 8). [ft²]
    occupants : int or None
        The people living there, for the same allocation by occupants. [1]
    """

    id: int
    site_id: int | None
    name: str
    address: str | None
    meter_id: int
    floor_area_ft2: float | None = None
    occupants: int | None = None


@dataclass(frozen=True, slots=True)
class Account:
    """
    A tenant's account at a site (schema version 7): its number, open from ``opened_at`` until closed.

    Which units it occupies, and when, are its :class:`Occupancy` records; a closed account takes no
    move-in. Its id is what stored bills point at.

    Attributes
    ----------
    number : str
        The number the operator and the tenant see, unique in its site (1001, 1002 ... unless given).
    site_id : int or None
        Its site (None only for accounts of meters of no site).
    tenant_id : int
        Whose account it is.
    opened_at, closed_at : datetime
        When it was opened, and closed (None while open), UTC.
    """

    id: int
    number: str
    site_id: int | None
    tenant_id: int
    opened_at: datetime
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        """True until the account is closed."""
        return self.closed_at is None


@dataclass(frozen=True, slots=True)
class Occupancy:
    """
    An account's tenure of a unit, over ``(move_in, move_out]`` (schema version 7): the intervals of the
    unit's meter that end in it are the account's.

    Attributes
    ----------
    id : int
        The occupancy's own id (not the account's: that is ``account_id``).
    account_id, tenant_id : int
        The account and its tenant.
    unit_id : int
        The unit occupied.
    unit : str
        Its name.
    meter_id : int
        The unit's meter.
    move_in, move_out : datetime
        The tenure, UTC; ``move_out`` None while the account stays.
    """

    id: int
    account_id: int
    tenant_id: int
    unit_id: int
    unit: str
    meter_id: int
    move_in: datetime
    move_out: datetime | None

    def covers(self, start: datetime, end: datetime) -> bool:
        """True when the tenure overlaps ``(start, end]``."""
        return self.move_in < end and (self.move_out is None or self.move_out > start)


@dataclass(frozen=True, slots=True)
class TenancyEvent:
    """
    One row of the history of tenancies (schema version 7): what was done, when it takes effect, when and
    by whom it was recorded.

    Attributes
    ----------
    kind : str
        ``tenant_created``, ``unit_created``, ``account_opened``, ``moved_in``, ``moved_out``,
        ``transferred`` or ``account_closed``.
    at : datetime
        When it takes effect (a move-in's instant), UTC.
    recorded_at : datetime
        When it was recorded, UTC.
    recorded_by : str or None
        Who recorded it: ``token 4 (front desk)``, ``meshmeter account``, a site file ...
    tenant_id, account_id, unit_id, occupancy_id : int or None
        What it concerns.
    detail : dict
        The operation's particulars (the units of a transfer, an account's number ...).
    """

    id: int
    kind: str
    at: datetime
    recorded_at: datetime
    recorded_by: str | None
    tenant_id: int | None
    account_id: int | None
    unit_id: int | None
    occupancy_id: int | None
    detail: dict[str, Any]


class RawIntervalIn(NamedTuple):
    """One interval to store as received; a plain ``(interval_end, energy_wh[, cumulative_wh])`` does too."""

    interval_end: datetime
    energy_wh: int
    cumulative_wh: int | None = None


class RawInsertResult(NamedTuple):
    """
    What one meter's bulk insert of raw intervals did.

    Attributes
    ----------
    new : int
        Intervals stored for the first time. [1]
    duplicates : int
        Intervals given with a value already stored for them: nothing stored. [1]
    revised : int
        Intervals stored with other values, whose new value was kept as the next revision. [1]
    """

    new: int
    duplicates: int
    revised: int

    @property
    def stored(self) -> int:
        """Rows written: new intervals and new revisions. [1]"""
        return self.new + self.revised


@dataclass(frozen=True, slots=True)
class RawInterval:
    """
    One interval as received, never overwritten.

    Attributes
    ----------
    interval_end : datetime
        End of the interval, UTC.
    revision : int
        0 for the first value received; 1, 2 ... for later values that conflicted with it.
    energy_wh : int
        Energy in the interval. [Wh]
    cumulative_wh : int or None
        Cumulative register (pulses × 10 Wh) at the interval's end, where the source sent it. [Wh]
    source : str
        Where it came from (``"dcap"``, ``"mqtt"``, ``"http"``, ``"csv"`` ...).
    received_at : datetime
        When the store received it, UTC.
    """

    meter_id: int
    interval_end: datetime
    revision: int
    energy_wh: int
    cumulative_wh: int | None
    source: str
    received_at: datetime


class ValidatedIntervalIn(NamedTuple):
    """One validated interval to put: ``(interval_end, energy_wh, quality)``, quality an ESPI code."""

    interval_end: datetime
    energy_wh: int
    quality: int


@dataclass(frozen=True, slots=True)
class ValidatedInterval:
    """One interval after VEE, with its ESPI quality code (0, 7, 8, 9, 10 or 14)."""

    meter_id: int
    interval_end: datetime
    energy_wh: int
    quality: int


@dataclass(frozen=True, slots=True)
class IntervalEdit:
    """The audit of one change to a validated interval: who, when, why, the old and the new value."""

    id: int
    meter_id: int
    interval_end: datetime
    old_energy_wh: int | None
    old_quality: int | None
    new_energy_wh: int
    new_quality: int
    edited_by: str
    edited_at: datetime
    reason: str
    action: str | None = None
    """A person's act on the VEE work list (``accept``, ``edit``, ``reread``); None for VEE's and other
    edits (:data:`~meshmeter.store.schema.WORKLIST_ACTIONS`)."""


@dataclass(frozen=True, slots=True)
class VeeFinding:
    """Why VEE flagged or estimated an interval: the check's name and its reason in words."""

    meter_id: int
    interval_end: datetime
    check: str
    reason: str


@dataclass(frozen=True, slots=True)
class RegisterRead:
    """A reading of the meter's total register at ``read_at``. [Wh]"""

    meter_id: int
    read_at: datetime
    energy_wh: int


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to a device or meter: tamper, reverse phase, communication loss ..."""

    id: int
    kind: str
    meter_id: int | None
    eui64: bytes | None
    at: datetime
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FrameAudit:
    """The audit of one frame received: accepted or refused, and why."""

    id: int
    eui64: bytes
    frame_counter: int
    received_at: datetime
    accepted: bool
    reason: str | None


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message waiting in, or delivered from, the push outbox."""

    id: int
    channel: str
    idempotency_key: str
    payload: Any
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class ApiToken:
    """
    An API token as stored: never the token itself, only its SHA-256 (``docs/api.md``).

    Attributes
    ----------
    prefix : str
        The first characters of the token, by which a person recognises it.
    role : str
        ``"admin"``, ``"operator"``, ``"billing"``, ``"read-only"`` or ``"tenant"``.
    label : str or None
        Who or what holds it.
    created_at, revoked_at : datetime
        When it was made, and revoked (None while valid), UTC.
    account_id : int or None
        A tenant token's account (schema version 7); None for every other role.
    site_ids : tuple of int
        The sites an operator, billing or read-only token is bound to, ascending; empty: every site.
    """

    id: int
    prefix: str
    role: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    account_id: int | None = None
    site_ids: tuple[int, ...] = ()

    @property
    def active(self) -> bool:
        """True while the token is not revoked."""
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class NetworkReport:
    """
    A stored health report of a site's radio network.

    Attributes
    ----------
    id : int
        Its id.
    site_id : int
        The site.
    taken_at : datetime
        When the report was taken, UTC.
    report : dict
        The CIT report (manual §5.2) as JSON: :meth:`meshmeter.amr.cit.CitReport.to_dict`'s members.
    """

    id: int
    site_id: int
    taken_at: datetime
    report: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredCorrection:
    """
    A correction of an issued bill (table ``bill_corrections``, ``docs/billing.md``, "Bills that stay right").

    Attributes
    ----------
    id : int
        Its id.
    bill_id : int
        The issued bill it corrects (which stays as it was issued).
    sequence : int
        1, 2 ... per bill, in the order issued; each corrects the state the one before it left.
    mode : str
        ``"corrected_bill"`` (a corrected bill that replaces the original) or ``"next_bill"`` (its
        adjustment lines go on the account's next bill).
    reason : str
        What changed under the bill, in words.
    difference : Decimal
        The corrected bill's printed total less the state before it (the original's, or the last
        correction's): what the tenant owes more, negative when it is owed. [USD]
    issued_at : datetime
        When, UTC.
    issued_by : str or None
        Who, as recorded (a token, ``cli``).
    applied_bill_id : int or None
        ``next_bill``: the account's bill that carries the lines; None until it is issued (pending).
    account_id, site_id : int or None
        The corrected bill's store account and site, when known.
    document : dict
        The corrected bill (``Bill.to_dict()``, inputs and intervals included).
    lines : list of dict
        The adjustment lines (``LineItem.to_dict()``): per charge, the printed-cent difference.
    """

    id: int
    bill_id: int
    sequence: int
    mode: str
    reason: str
    difference: Decimal
    issued_at: datetime
    issued_by: str | None
    applied_bill_id: int | None
    account_id: int | None
    site_id: int | None
    document: dict[str, Any] = field(repr=False, compare=False)
    lines: list[dict[str, Any]] = field(repr=False, compare=False)

    @property
    def pending(self) -> bool:
        """A ``next_bill`` correction whose lines no bill has carried yet."""
        return self.mode == "next_bill" and self.applied_bill_id is None
