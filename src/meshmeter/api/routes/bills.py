"""Stored bills: the list, and one bill as JSON (with the inputs that produced it), CSV, HTML or PDF.

Bills are stored by the demo, ``meshmeter site simulate`` and ``meshmeter bill --save``
(``docs/billing.md``); the store keeps each bill's lines and its inputs, so that the CSV, HTML and PDF
forms are made again from the inputs alone, and checked to come out the same (``verify_bill``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from meshmeter.api.deps import Name, PrincipalDep, StoreDep, StoreId, TimeText, known_site
from meshmeter.api.intervals import parse_instant
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.models import (
    AffectedBillPublic,
    AffectedBillsPublic,
    CorrectionLinePublic,
    CorrectionPublic,
    CorrectionsPublic,
)
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.api.scope import bill_document
from meshmeter.billing import Bill
from meshmeter.billing.bill import bill_to_html, bill_to_pdf, bills_to_csv, with_statement
from meshmeter.billing.reproduce import verify_bill
from meshmeter.errors import BillMismatchError
from meshmeter.intervals import zone
from meshmeter.services.corrections import affected_bills, correction_banner, issue_correction
from meshmeter.store import Store, StoredCorrection
from meshmeter.store.repository import StoredBill

__all__ = ["BillPublic", "BillsPublic", "router", "stored_bill", "stored_bills"]

router = APIRouter(prefix="/bills", tags=["bills"], route_class=GuardedRoute)


class BillFormat(StrEnum):
    """The forms of one bill."""

    JSON = "json"
    CSV = "csv"
    HTML = "html"
    PDF = "pdf"


class BillPublic(BaseModel):
    """A stored bill, without its lines and inputs (``GET /bills/{bill_id}`` has them)."""

    id: int
    site_id: int | None = Field(description="the site of the meter billed, when known")
    account_id: int | None = Field(description="the store's account (tenant in a unit), when known")
    account: str = Field(description="the account billed, as printed on the bill")
    meter: str = Field(description="serial number of the meter billed")
    period_start: datetime
    period_end: datetime
    timezone: str = Field(description="IANA time zone of the tariff's local time")
    mode: str = Field(description="california (re-rating) or maryland (allocation)")
    tariff: str = Field(description="the tariff's name")
    tariff_sha256: str = Field(description="SHA-256 of the tariff document, 64 hex digits")
    engine_version: str
    energy_wh: int = Field(description="energy billed [Wh]")
    total: Decimal = Field(description="exact total of the lines [USD]")
    printed_total: Decimal = Field(description="total of the cent-rounded lines: what is due [USD]")
    created_at: datetime


class BillsPublic(BaseModel):
    """Stored bills, by period then id."""

    data: list[BillPublic]
    count: int


def _public(b: StoredBill) -> BillPublic:
    return BillPublic(
        id=b.id,
        site_id=b.site_id,
        account_id=b.account_id,
        account=b.account,
        meter=b.meter,
        period_start=b.period_start,
        period_end=b.period_end,
        timezone=b.timezone,
        mode=b.mode,
        tariff=b.tariff_name,
        tariff_sha256=b.tariff_sha256,
        engine_version=b.engine_version,
        energy_wh=b.energy_wh,
        total=b.total,
        printed_total=b.printed_total,
        created_at=b.created_at,
    )


@router.get("", response_model=BillsPublic, summary="List stored bills", responses=problems(400, 404))
def list_bills(
    store: StoreDep,
    site_id: Annotated[StoreId | None, Query(description="only the bills of this site")] = None,
    account: Annotated[Name | None, Query(description="only the bills of this account (as billed)")] = None,
    meter: Annotated[Name | None, Query(description="only the bills of this meter (serial)")] = None,
    start: Annotated[
        TimeText | None,
        Query(description="only periods ending after this instant (ISO 8601; UTC if no offset)"),
    ] = None,
    end: Annotated[
        TimeText | None, Query(description="only periods starting before this instant (ISO 8601)")
    ] = None,
) -> BillsPublic:
    """The stored bills (without lines and inputs), by period start, then id; filtered by site (404 when
    unknown), account, meter serial, and periods overlapping ``(start, end]``."""
    try:
        lo = None if start is None else parse_instant("start", start)
        hi = None if end is None else parse_instant("end", end)
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    if lo is not None and hi is not None and hi <= lo:
        raise Problem(400, f"end must be after start, got start={start} end={end}")
    if site_id is not None:
        known_site(store, site_id)
    found = store.list_bills(site=site_id, account=account, meter=meter, start=lo, end=hi)
    data = [_public(b) for b in found]
    return BillsPublic(data=data, count=len(data))


@router.get(
    "/affected",
    response_model=AffectedBillsPublic,
    summary="List bills to correct",
    responses=problems(404),
)
def list_affected_bills(
    store: StoreDep,
    site_id: Annotated[StoreId | None, Query(description="only the bills of this site")] = None,
    meter: Annotated[Name | None, Query(description="only the bills of this meter (serial)")] = None,
) -> AffectedBillsPublic:
    """The stored bills whose meter's validated data changed since they (or their last correction) were
    issued: late intervals, a VEE edit, a revision, a new estimate. Each is a correction pending
    (``POST /bills/{bill_id}/corrections`` issues it). 404 for an unknown site."""
    if site_id is not None:
        known_site(store, site_id)
    data = [
        AffectedBillPublic(
            bill_id=a.bill.id,
            account=a.bill.account,
            meter=a.bill.meter,
            period_start=a.bill.period_start,
            period_end=a.bill.period_end,
            printed_total=a.bill.printed_total,
            intervals_changed=len(a.changed),
            issued_wh=a.issued_wh,
            current_wh=a.current_wh,
            corrections=a.corrections,
            reason=a.reason,
        )
        for a in affected_bills(store, site=site_id, meter=meter)
    ]
    return AffectedBillsPublic(data=data, count=len(data))


def stored_bill(stored: StoredBill) -> Bill:
    """
    The bill made again from its stored inputs, checked line by line against what was stored.

    Raises
    ------
    Problem
        500 when the stored bill cannot be reproduced (another engine version, altered inputs).
    """
    try:
        bill = verify_bill(stored.document)
    except BillMismatchError as exc:
        raise Problem(500, f"bill {stored.id} cannot be reproduced from its stored inputs: {exc}") from None
    # issued the day it was stored, in its local time: the printed bill's issue and due dates
    issued = stored.created_at.astimezone(zone(bill.timezone)).date()
    return with_statement(bill, bill.statement, issued=issued)


def stored_bills(store: Store) -> list[Bill]:
    """Every stored bill, made again from its inputs (:func:`stored_bill`), in :meth:`Store.list_bills`'s
    order: what the dashboard's bills pages list when the app has no bills provider."""
    out: list[Bill] = []
    for listed in store.list_bills():
        stored = store.get_bill(listed.id)
        if stored is not None:
            out.append(stored_bill(stored))
    return out


@router.get(
    "/{bill_id}",
    summary="Get a stored bill",
    responses={
        **problems(404),
        200: {
            "content": {
                "application/json": {},
                "text/csv": {},
                "text/html": {},
                "application/pdf": {},
            },
            "description": "The bill: JSON with its lines and inputs, or CSV, printable HTML, PDF",
        },
    },
)
def get_bill(
    bill_id: StoreId,
    store: StoreDep,
    format: Annotated[BillFormat, Query(description="json (default), csv, html or pdf")] = BillFormat.JSON,
) -> Response:
    """One stored bill: JSON (``meshmeter.billing.Bill.to_dict``: lines, totals, and the inputs that
    produced it, intervals included, with the store's ``id``), or CSV, printable HTML or PDF, made again
    from those inputs and checked to equal the stored lines. 404 when there is none. A tenant reads its
    account's bills; their intervals only within its occupancies."""
    stored = store.get_bill(bill_id)
    if stored is None:
        raise Problem(404, f"no bill has id {bill_id}")
    name = f"bill-{stored.id}"
    if format is BillFormat.JSON:
        body: dict[str, Any] = {"id": stored.id, "site_id": stored.site_id, "account_id": stored.account_id}
        body.update(bill_document(store, stored))  # a tenant's: its occupancy's intervals only
        body["created_at"] = stored.created_at.isoformat()
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")
    bill = stored_bill(stored)
    if format is BillFormat.CSV:
        return Response(
            bills_to_csv([bill]),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format is BillFormat.HTML:
        return Response(bill_to_html(bill), media_type="text/html; charset=utf-8")
    return Response(
        bill_to_pdf(bill),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )


# -- corrections of a bill (docs/billing.md, "Bills that stay right") ----------------------------------------

CorrectionSequence = Annotated[
    int, Path(ge=1, le=32767, description="the correction's sequence: 1, 2 ... per bill")
]


def _correction(c: StoredCorrection) -> CorrectionPublic:
    return CorrectionPublic(
        id=c.id,
        bill_id=c.bill_id,
        sequence=c.sequence,
        mode=c.mode,
        reason=c.reason,
        difference=c.difference,
        printed_total=Decimal(str(c.document["printed_total"])),
        energy_wh=int(c.document["energy_wh"]),
        issued_at=c.issued_at,
        issued_by=c.issued_by,
        applied_bill_id=c.applied_bill_id,
        pending=c.pending,
        lines=[
            CorrectionLinePublic(description=str(line["description"]), amount=Decimal(str(line["amount"])))
            for line in c.lines
        ],
    )


def _issued_bill(store: Store, bill_id: int) -> StoredBill:
    stored = store.get_bill(bill_id)
    if stored is None:
        raise Problem(404, f"no bill has id {bill_id}")
    return stored


@router.get(
    "/{bill_id}/corrections",
    response_model=CorrectionsPublic,
    summary="List a bill's corrections",
    responses=problems(404),
)
def list_bill_corrections(bill_id: StoreId, store: StoreDep) -> CorrectionsPublic:
    """The corrections issued of a stored bill, by sequence (the bill itself stays as issued). 404 when
    there is no such bill; a tenant reads those of its account's bills."""
    stored = _issued_bill(store, bill_id)
    data = [_correction(c) for c in store.list_corrections(bill_id=stored.id)]
    return CorrectionsPublic(data=data, count=len(data))


@router.post(
    "/{bill_id}/corrections",
    response_model=CorrectionPublic,
    status_code=201,
    summary="Issue a bill's correction",
    responses=problems(404, 409),
)
def post_bill_correction(bill_id: StoreId, store: StoreDep, principal: PrincipalDep) -> CorrectionPublic:
    """Bill a stored bill again from its own inputs with its meter's validated data now, and keep the
    difference as its next correction, in its site's mode: a corrected bill that replaces the original
    (``corrected_bill``), or adjustment lines that the account's next saved bill carries
    (``next_bill``). The issued bill never changes. 404 when there is no such bill; 409 when nothing
    changed under it since it (or its last correction) was issued, or another correction of it was issued
    meanwhile."""
    stored = _issued_bill(store, bill_id)
    return _correction(issue_correction(store, stored.id, by=principal.recorded_as))


@router.get(
    "/{bill_id}/corrections/{sequence}",
    summary="Get a bill's correction",
    responses={
        **problems(404),
        200: {
            "content": {
                "application/json": {},
                "text/csv": {},
                "text/html": {},
                "application/pdf": {},
            },
            "description": "The correction: JSON with the corrected bill and its inputs, or the corrected "
            "bill as CSV, printable HTML (with its banner), PDF",
        },
    },
)
def get_bill_correction(
    bill_id: StoreId,
    sequence: CorrectionSequence,
    store: StoreDep,
    format: Annotated[BillFormat, Query(description="json (default), csv, html or pdf")] = BillFormat.JSON,
) -> Response:
    """One correction of a stored bill: JSON (its figures, adjustment lines, and the corrected bill with
    the inputs that produced it, as ``GET /bills/{bill_id}`` gives a bill), or the corrected bill as CSV,
    printable HTML or PDF, made again from those inputs and checked, under the banner naming the bill it
    replaces (or where its lines go). 404 when the bill or the correction is unknown."""
    stored = _issued_bill(store, bill_id)
    found = store.get_correction(bill_id=stored.id, sequence=sequence)
    if found is None:
        raise Problem(404, f"bill {bill_id} has no correction {sequence}")
    name = f"bill-{stored.id}-correction-{found.sequence}"
    if format is BillFormat.JSON:
        body: dict[str, Any] = _correction(found).model_dump(mode="json")
        body["document"] = bill_document(store, replace(stored, document=found.document))
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")
    bill = stored_bill(replace(stored, document=found.document))
    if format is BillFormat.CSV:
        return Response(
            bills_to_csv([bill]),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    banner = correction_banner(stored, found)
    if format is BillFormat.HTML:
        return Response(bill_to_html(bill, correction_of=banner), media_type="text/html; charset=utf-8")
    return Response(
        bill_to_pdf(bill, correction_of=banner),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )
