"""The API's models: a family per resource (``XPublic``; ``XsPublic`` with ``data`` and ``count``).

Energy is integer Wh; times are ISO 8601 with an offset (UTC inside, ``docs/conventions.md``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from meshmeter.api.auth import Role
from meshmeter.api.deps import Name
from meshmeter.api.intervals import Resolution

__all__ = [
    "AccountPublic",
    "AccountsPublic",
    "EventPublic",
    "EventsPublic",
    "IntervalPublic",
    "IntervalsPublic",
    "MeterPublic",
    "MetersPublic",
    "ProblemDetails",
    "RegisterReadPublic",
    "RegisterReadsPublic",
    "SitePublic",
    "SitesPublic",
    "TenantPublic",
    "TenantsPublic",
    "TokenCreate",
    "TokenCreated",
    "TokenPublic",
    "TokensPublic",
]


class ProblemDetails(BaseModel):
    """An error, as RFC 9457 describes it (``application/problem+json``)."""

    type: str = Field("about:blank", description="URI of the kind of problem; about:blank: see status")
    title: str = Field(description="the HTTP status phrase")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what exactly is wrong")
    instance: str = Field(description="the path of the request")
    errors: list[dict[str, Any]] | None = Field(None, description="validation errors (422 only)")


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
    """A meter as installed."""

    id: int
    serial: str
    designation: str = Field(description="model designation (certificate p.1)")
    ct_ratio: float = Field(description="CT primary / secondary, 200:0.1 A gives 2000 [1]")
    multiplier: float = Field(description="register reading to energy [1]")
    install_date: date | None
    site_id: int | None


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


class AccountPublic(BaseModel):
    """A tenant's occupancy of a unit served by a meter, from ``move_in`` to ``move_out``."""

    id: int
    tenant_id: int
    tenant: str = Field(description="the tenant's name")
    meter_id: int
    meter: str = Field(description="serial number of the meter serving the unit")
    unit: str = Field(description="the unit (apartment, suite) served")
    move_in: datetime
    move_out: datetime | None = Field(description="null while the tenant stays")


class AccountsPublic(BaseModel):
    """Accounts, by move-in."""

    data: list[AccountPublic]
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


class TokenPublic(BaseModel):
    """A token as stored: never the token itself."""

    id: int
    prefix: str = Field(description="first characters of the token, to recognise it")
    role: Role
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    active: bool


class TokenCreated(TokenPublic):
    """A token just made, with the token itself: shown this once, never again."""

    token: str = Field(description="send it as 'Authorization: Bearer <token>'")


class TokensPublic(BaseModel):
    """Tokens."""

    data: list[TokenPublic]
    count: int
