"""The API's models: a family per resource (``XPublic``; ``XsPublic`` with ``data`` and ``count``).

Energy is integer Wh; times are ISO 8601 with an offset (UTC inside, ``docs/conventions.md``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from meshmeter.api.auth import Role
from meshmeter.api.deps import Name, StoreId, TimeText
from meshmeter.api.intervals import Resolution

__all__ = [
    "AccountCreate",
    "AccountHistoryPublic",
    "AccountPublic",
    "AccountsPublic",
    "AffectedBillPublic",
    "AffectedBillsPublic",
    "Close",
    "CorrectionLinePublic",
    "CorrectionPublic",
    "CorrectionsPublic",
    "EventPublic",
    "EventsPublic",
    "HistoryEntryPublic",
    "IntervalPublic",
    "IntervalsPublic",
    "MeterCreate",
    "MeterPublic",
    "MetersPublic",
    "MoveIn",
    "MoveOut",
    "OccupanciesPublic",
    "OccupancyPublic",
    "ProblemDetails",
    "RegisterReadPublic",
    "RegisterReadsPublic",
    "SitePublic",
    "SitesPublic",
    "TenantCreate",
    "TenantPublic",
    "TenantsPublic",
    "TokenCreate",
    "TokenCreated",
    "TokenPublic",
    "TokensPublic",
    "Transfer",
    "UnitCreate",
    "UnitPublic",
    "UnitUpdate",
    "UnitsPublic",
]


class ProblemDetails(BaseModel):
    """An error, as RFC 9457 describes it (``application/problem+json``)."""

    type: str = Field("about:blank", description="URI of the kind of problem; about:blank: see status")
    title: str = Field(description="the HTTP status phrase")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what exactly is wrong")
    instance: str = Field(description="the path of the request")
    errors: list[dict[str, Any]] | None = Field(None, description="validation errors (422 only)")
    problems: list[str | dict[str, Any]] | None = Field(
        None,
        description="every problem found: a sentence each for a refused tenancy operation; reason, field "
        "and detail each for intervals refused",
    )


class SitePublic(BaseModel):
    """A site."""

    id: int
    name: str
    timezone: str = Field(description="IANA time zone of the site")


class SitesPublic(BaseModel):
    """Sites."""

    data: list[SitePublic]
    count: int


class MeterPublic(BaseModel):
    """A meter as installed: its make and ratings, and the most it can register in an interval."""

    id: int
    serial: str
    designation: str = Field(description="model designation (certificate p.1); free text for another make")
    ct_ratio: float = Field(description="CT primary / secondary, 200:0.1 A gives 2000 [1]")
    multiplier: float = Field(description="register reading to energy [1]")
    install_date: date | None
    site_id: int | None
    export_of_meter_id: int | None = Field(
        None,
        description="this meter is the export (received) register of that meter; null: a meter of its own",
    )
    interval_s: int = Field(900, description="length of its intervals: 300, 900, 1800 or 3600 [s]")
    role: str = Field("unit", description="unit, house, production or master")
    register_digits: int | None = Field(
        None, description="whole-kWh digits of its register (it rolls over at 10**digits kWh); null: never"
    )
    manufacturer: str | None = Field(
        None, description="who made it; null: a Mini Meter, its designation says"
    )
    model: str | None = Field(None, description="the manufacturer's model name")
    elements: int | None = Field(None, description="measuring elements, 1 to 3; null: the designation's [1]")
    voltage_max_v: float | None = Field(
        None, description="highest voltage an element measures, line to neutral; null: the designation's [V]"
    )
    current_max_a: float | None = Field(
        None, description="highest primary current an element measures; null: CT ratio x 0.11 A [A]"
    )
    max_interval_energy_wh: int = Field(
        description="the most it can register in one of its intervals; above it every door refuses a value"
        " and VEE flags one [Wh]"
    )
    rating_source: Literal["ratings", "designation", "default"] = Field(
        description="where that limit comes from: its own ratings, its Mini Meter designation, or the default"
        " Mini Meter (a designation that is not one's and no ratings)"
    )


class MeterCreate(BaseModel):
    """A meter to register (``meshmeter meter add``): a Mini Meter by its designation, or a meter of another
    make by its manufacturer, model and ratings (``docs/store.md``, "Meters of any make")."""

    model_config = ConfigDict(extra="forbid")

    serial: Name = Field(description="serial number, unique")
    designation: Name | None = Field(
        None,
        description="model designation: without manufacturer a Mini Meter's (certificate p.1), default "
        "MM-D1202001-T-SCC, which gives the CT ratio; with one free text, default the model",
    )
    manufacturer: Name | None = Field(None, description="a meter of another make: who made it (Eastron)")
    model: Name | None = Field(
        None, description="the manufacturer's model name (SDM630MCT); needs manufacturer"
    )
    elements: int | None = Field(None, description="another make: its measuring elements, 1 to 3 [1]")
    voltage_max_v: float | None = Field(
        None, description="another make: highest voltage an element measures, line to neutral [V]"
    )
    current_max_a: float | None = Field(
        None,
        description="another make: highest primary current an element measures (CT-operated: the CTs' "
        "primary) [A]; the three ratings go together",
    )
    ct_ratio: float | None = Field(
        None,
        description="CT primary / secondary [1]; default the designation's, else the default Mini Meter's",
    )
    site_id: StoreId | None = Field(None, description="its site")
    multiplier: float = Field(1.0, gt=0, le=1e6, description="register reading to energy [1]")
    interval_s: int = Field(900, description="length of its intervals: 300, 900, 1800 or 3600 [s]")
    role: Literal["unit", "house", "production", "master"] | None = Field(
        None, description="unit (default), house, production or master; an export register's is production"
    )
    register_digits: int | None = Field(None, description="whole-kWh digits of its register, 3 to 12")
    export_of: Name | None = Field(
        None,
        description="serial of the bidirectional meter whose export (received) register this is: billed as"
        " its exports (a meter of the same site and interval length, with none yet)",
    )


class MetersPublic(BaseModel):
    """Meters."""

    data: list[MeterPublic]
    count: int


class TenantPublic(BaseModel):
    """A tenant, who holds accounts."""

    id: int
    name: str


class TenantsPublic(BaseModel):
    """Tenants."""

    data: list[TenantPublic]
    count: int


class TenantCreate(BaseModel):
    """A tenant to make."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="the tenant's name: a person, a household, a business")


class UnitPublic(BaseModel):
    """A unit of a site (apartment, suite), measured by one meter."""

    id: int
    site_id: int | None
    name: str = Field(description="unique in its site")
    address: str | None
    meter_id: int
    meter: str = Field(description="serial number of the unit's meter")
    floor_area_ft2: float | None = Field(description="its floor area, for allocation by area [ft²]")
    occupants: int | None = Field(description="people living there, for allocation by occupants")


class UnitsPublic(BaseModel):
    """Units, by id."""

    data: list[UnitPublic]
    count: int


class UnitCreate(BaseModel):
    """A unit to make."""

    model_config = ConfigDict(extra="forbid")

    site_id: StoreId
    name: Name = Field(description="unique in the site: 2A, Suite 110 ...")
    meter: Name = Field(description="serial number of the meter that measures it, a meter of the site")
    address: Name | None = Field(None, description="its postal address")
    floor_area_ft2: float | None = Field(
        None, gt=0, le=1e9, description="its floor area, for allocation by area [ft²]"
    )
    occupants: int | None = Field(
        None, ge=0, le=100_000, description="people living there, for allocation by occupants"
    )


class UnitUpdate(BaseModel):
    """What to change of a unit: the members given (null clears one); the others stay."""

    model_config = ConfigDict(extra="forbid")

    address: Name | None = Field(None, description="its postal address")
    floor_area_ft2: float | None = Field(
        None, gt=0, le=1e9, description="its floor area, for allocation by area [ft²]"
    )
    occupants: int | None = Field(
        None, ge=0, le=100_000, description="people living there, for allocation by occupants"
    )


class OccupancyPublic(BaseModel):
    """An account's tenure of a unit, ``(move_in, move_out]``: the unit meter's intervals ending in it
    are the account's."""

    id: int
    account_id: int
    unit_id: int
    unit: str = Field(description="the unit's name")
    meter_id: int
    meter: str = Field(description="serial number of the unit's meter")
    move_in: datetime
    move_out: datetime | None = Field(description="null while the account stays")


class OccupanciesPublic(BaseModel):
    """Occupancies, by move-in."""

    data: list[OccupancyPublic]
    count: int


class AccountPublic(BaseModel):
    """A tenant's account at a site, with its occupancies."""

    id: int
    number: str = Field(description="the account's number, unique in its site")
    site_id: int | None
    tenant_id: int
    tenant: str = Field(description="the tenant's name")
    opened_at: datetime
    closed_at: datetime | None = Field(description="null while open; a closed account takes no move-in")
    occupancies: list[OccupancyPublic] = Field(description="its tenures of units, by move-in")


class AccountsPublic(BaseModel):
    """Accounts, by id."""

    data: list[AccountPublic]
    count: int


class AccountCreate(BaseModel):
    """An account to open."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: StoreId
    site_id: StoreId
    number: Name | None = Field(None, description="unique in the site; default the next number (1001 ...)")
    opened: TimeText | None = Field(
        None, description="when: ISO 8601 date or date-time, local to the site without an offset; default now"
    )


_AT = "ISO 8601 date (the site's local midnight) or date-time (local to the site without an offset)"


class MoveIn(BaseModel):
    """A move-in: the account's occupancy of a unit begins."""

    model_config = ConfigDict(extra="forbid")

    unit_id: StoreId
    at: TimeText = Field(description=_AT)


class MoveOut(BaseModel):
    """A move-out: the account's open occupancy ends."""

    model_config = ConfigDict(extra="forbid")

    at: TimeText = Field(description=_AT)


class Transfer(BaseModel):
    """A transfer: move-out of the unit the account occupies and move-in to another, at one instant."""

    model_config = ConfigDict(extra="forbid")

    unit_id: StoreId = Field(description="the unit moved to, of the account's site")
    at: TimeText = Field(description=_AT)


class Close(BaseModel):
    """Closing an account."""

    model_config = ConfigDict(extra="forbid")

    at: TimeText | None = Field(None, description=f"{_AT}; default now")


class HistoryEntryPublic(BaseModel):
    """One operation of the history of tenancies."""

    id: int
    kind: str = Field(
        description="tenant_created, unit_created, account_opened, moved_in, moved_out, transferred, "
        "account_closed"
    )
    at: datetime = Field(description="when it takes effect")
    recorded_at: datetime
    recorded_by: str | None = Field(description="the token, command or file that recorded it")
    tenant_id: int | None
    account_id: int | None
    unit_id: int | None
    occupancy_id: int | None
    detail: dict[str, Any]


class AccountHistoryPublic(BaseModel):
    """An account's history, in the order it was recorded."""

    account_id: int
    data: list[HistoryEntryPublic]
    count: int


class IntervalPublic(BaseModel):
    """One bucket of intervals: energy between its start and its end (the end names it)."""

    interval_start: datetime
    interval_end: datetime
    energy_wh: int | None = Field(description="energy of the intervals present; null when none is [Wh]")
    quality: int | None = Field(
        description="least trusted ESPI quality code of the intervals present: 0 valid, 7 edited, "
        "9 interpolated, 8 estimated from reference days, 14 raw (not validated), 10 questionable"
    )
    count: int = Field(description="15-minute intervals present [1]")
    expected: int = Field(description="15-minute intervals the bucket spans: 96 a day, 92 or 100 on DST days")


class IntervalsPublic(BaseModel):
    """A meter's intervals over ``(start, end]``."""

    meter: str = Field(description="serial number")
    resolution: Resolution
    tz: str = Field(description="time zone of the buckets and of the stamps")
    start: datetime
    end: datetime
    data: list[IntervalPublic]
    count: int


class RegisterReadPublic(BaseModel):
    """A reading of the meter's total register."""

    read_at: datetime
    energy_wh: int = Field(description="[Wh]")


class RegisterReadsPublic(BaseModel):
    """Register reads of a meter."""

    meter: str = Field(description="serial number")
    data: list[RegisterReadPublic]
    count: int


class EventPublic(BaseModel):
    """Something that happened: tamper, reverse phase, communication loss, low battery ..."""

    id: int
    kind: str
    meter_id: int | None
    meter: str | None = Field(description="serial number of the meter concerned")
    eui64: str | None = Field(description="the device concerned, 16 hexadecimal digits")
    at: datetime
    detail: dict[str, Any]


class EventsPublic(BaseModel):
    """Events, oldest first."""

    data: list[EventPublic]
    count: int


class TokenCreate(BaseModel):
    """A token to make."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    label: Name | None = Field(None, description="who or what holds it")
    account_id: StoreId | None = Field(None, description="the account of a tenant token: required for it")
    site_ids: list[StoreId] = Field(
        default_factory=list,
        max_length=100,
        description="the sites (at most 100) an operator, billing or read-only token is bound to; none: "
        "every site",
    )


class TokenPublic(BaseModel):
    """A token as stored: never the token itself."""

    id: int
    prefix: str = Field(description="first characters of the token, to recognise it")
    role: Role
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    active: bool
    account_id: int | None = Field(description="a tenant token's account")
    site_ids: list[int] = Field(description="the sites it is bound to; empty: every site")


class TokenCreated(TokenPublic):
    """A token just made, with the token itself: shown this once, never again."""

    token: str = Field(description="send it as 'Authorization: Bearer <token>'")


class TokensPublic(BaseModel):
    """Tokens."""

    data: list[TokenPublic]
    count: int


class CorrectionLinePublic(BaseModel):
    """An adjustment line of a correction: one charge's printed amount now less before."""

    description: str = Field(description="names the bill corrected and the charge, in words")
    amount: Decimal = Field(description="the difference, whole cents [USD]")


class CorrectionPublic(BaseModel):
    """A correction of an issued bill (``docs/billing.md``, "Bills that stay right"); the issued bill
    never changes."""

    id: int
    bill_id: int = Field(description="the issued bill it corrects")
    sequence: int = Field(description="1, 2 ... per bill, in the order issued")
    mode: str = Field(description="corrected_bill (replaces the original) or next_bill (lines on the next)")
    reason: str = Field(description="what changed under the bill, in words")
    difference: Decimal = Field(description="printed total now less before: owed more, or less [USD]")
    printed_total: Decimal = Field(description="the corrected bill's printed total [USD]")
    energy_wh: int = Field(description="energy the corrected bill bills [Wh]")
    issued_at: datetime
    issued_by: str | None = Field(description="who issued it, as recorded")
    applied_bill_id: int | None = Field(
        description="next_bill: the account's bill that carries the lines; null while pending"
    )
    pending: bool = Field(description="a next_bill correction no bill carries yet")
    lines: list[CorrectionLinePublic]


class CorrectionsPublic(BaseModel):
    """Corrections, by bill then sequence."""

    data: list[CorrectionPublic]
    count: int


class AffectedBillPublic(BaseModel):
    """An issued bill whose meter's validated data changed since it (or its last correction) was issued."""

    bill_id: int
    account: str
    meter: str
    period_start: datetime
    period_end: datetime
    printed_total: Decimal = Field(description="the issued bill's printed total [USD]")
    intervals_changed: int = Field(description="intervals whose energy or quality changed since [1]")
    issued_wh: int = Field(description="energy of the bill's grid as last issued [Wh]")
    current_wh: int = Field(description="energy of the bill's grid now [Wh]")
    corrections: int = Field(description="corrections of the bill issued already")
    reason: str


class AffectedBillsPublic(BaseModel):
    """Bills to correct, by period start then id."""

    data: list[AffectedBillPublic]
    count: int


_READ_WH = "the register as read, before the multiplier [Wh]"


class MeterChangePublic(BaseModel):
    """One change in a meter's life (``docs/billing.md``, "A meter's life")."""

    id: int
    meter: str = Field(description="serial number of the meter changed")
    kind: str = Field(description="install, remove, multiplier or ct_ratio")
    at: datetime = Field(description="when it took effect, on the meter's interval grid")
    read_wh: int | None = Field(description=_READ_WH)
    value: float | None = Field(description="the new multiplier or CT ratio [1]")
    replaces: str | None = Field(description="an exchange's install: the serial of the meter it replaced")
    unit_id: int | None = Field(description="the unit it serves or served")
    recorded_at: datetime
    recorded_by: str | None
    detail: dict[str, Any] = Field(description="the value before a change (from), the units re-pointed")


class MeterHistoryPublic(BaseModel):
    """Changes in a meter's life, by time."""

    meter: str = Field(description="serial number")
    data: list[MeterChangePublic]
    count: int


class MeterExchange(BaseModel):
    """An exchange: the meter of the path taken out with its final read, ``new`` put in with its first."""

    model_config = ConfigDict(extra="forbid")

    new: Name = Field(description="serial number of the meter put in its place")
    at: TimeText = Field(description=_AT)
    final_read_wh: int = Field(le=2**62, description="the old meter's " + _READ_WH)
    first_read_wh: int = Field(le=2**62, description="the new meter's " + _READ_WH)


class MeterInstall(BaseModel):
    """A meter's install with its first read."""

    model_config = ConfigDict(extra="forbid")

    at: TimeText = Field(description=_AT)
    first_read_wh: int = Field(le=2**62, description=_READ_WH)
    unit_id: StoreId | None = Field(None, description="the unit it measures; default the meter's unit")


class MeterRemove(BaseModel):
    """A meter's removal with its final read."""

    model_config = ConfigDict(extra="forbid")

    at: TimeText = Field(description=_AT)
    final_read_wh: int = Field(le=2**62, description=_READ_WH)


class MeterValueChange(BaseModel):
    """A multiplier or CT ratio from a date on."""

    model_config = ConfigDict(extra="forbid")

    at: TimeText = Field(description=_AT)
    value: float = Field(
        description="the new multiplier (register reading to energy) or CT ratio (2000 for 200:0.1 A) [1]"
    )
    read_wh: int | None = Field(None, le=2**62, description=_READ_WH + ", if read then")
