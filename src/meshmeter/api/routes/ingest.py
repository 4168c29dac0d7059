"""Interval data sent over HTTP: JSON or CSV bodies, one meter or a batch of several (``docs/ingest.md``).

The bodies are those of :func:`meshmeter.headend.ingest.ingest_json` and
:func:`~meshmeter.headend.ingest.ingest_csv`, stored with source ``"http"``. A body is refused whole
(nothing stored) with a problem document naming the reason and the field: 400 when it is not JSON or CSV at
all, 404 for an unknown meter, 413 when too large, 415 for another content type, 422 for anything else
wrong in it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from meshmeter.api.deps import Name, StoreDep
from meshmeter.api.limits import INGEST_MAX_BODY_BYTES, GuardedRoute
from meshmeter.api.problems import Problem, problem_response
from meshmeter.api.routes import problems
from meshmeter.headend.ingest import IngestError, IngestReason, IngestResult, ingest_csv, ingest_json
from meshmeter.headend.mapping import (
    IngestMapping,
    MappingError,
    UnknownFormatError,
    ingest_mapped,
    resolve_format,
)
from meshmeter.services.ingest import ValidatedSpan, validate_ingested
from meshmeter.store import Store

__all__ = ["MAX_BODY_BYTES", "SOURCE", "IngestResultPublic", "router"]

router = APIRouter(tags=["ingest"], route_class=GuardedRoute)

MAX_BODY_BYTES = INGEST_MAX_BODY_BYTES
"""The largest body taken: 64 MiB, about 900 000 CSV rows (``meshmeter.api.limits.BODY_LIMITS``: a
larger body is refused with 413 before it is read whole). [byte]"""

SOURCE = "http"
"""The ``source`` of the rows stored through these routes."""


class VeeSpanPublic(BaseModel):
    """What VEE did over the intervals an ingest took of one meter (``meshmeter vee`` over that period)."""

    meter: str = Field(description="the meter's serial")
    start: datetime = Field(description="the period VEE ran over, (start, end]")
    end: datetime
    intervals: int = Field(description="interval ends in the period, at the meter's length [1]")
    valid: int = Field(description="passed every check (quality 0) [1]")
    questionable: int = Field(description="flagged (quality 10) [1]")
    interpolated: int = Field(description="estimated by linear interpolation (quality 9) [1]")
    estimated_reference_day: int = Field(description="estimated from like days (quality 8) [1]")
    missing: int = Field(description="still missing [1]")


class IngestResultPublic(BaseModel):
    """What an ingest did (``IngestResult``)."""

    accepted: int = Field(description="rows taken from the body, repeats included [1]")
    new: int = Field(description="intervals stored for the first time [1]")
    duplicates: int = Field(description="rows already stored with the same values, or repeated [1]")
    revised: int = Field(description="intervals stored with other values, kept as a new revision [1]")
    stored: int = Field(description="rows written: new + revised [1]")
    vee: list[VeeSpanPublic] | None = Field(
        default=None, description="with ?vee=true: VEE over what was taken, meter by meter"
    )


_STATUS: dict[str, int] = {
    IngestReason.MALFORMED: 400,
    IngestReason.UNKNOWN_METER: 404,
}
"""Status of a refused body by reason; every other reason is 422."""

_CSV_TYPES = frozenset({"text/csv", "application/csv"})
_JSON_EXAMPLE = {
    "intervals": [
        {"interval_end": "2026-01-01T00:15:00Z", "energy_wh": 120, "cumulative_wh": 45670},
        {"interval_end": "2026-01-01T00:30:00Z", "energy_wh": 80},
    ]
}
_BATCH_EXAMPLE = [{"meter": "MM00000001", **_JSON_EXAMPLE}]


def _openapi(json_example: Any, csv_example: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": ["object", "array"]}, "example": json_example},
                "text/csv": {"schema": {"type": "string"}, "example": csv_example},
            },
        }
    }


def _kind(request: Request) -> str:
    """``"json"`` or ``"csv"`` from the Content-Type (JSON when none is given); 415 otherwise."""
    header = request.headers.get("content-type", "")
    media = header.split(";", 1)[0].strip().lower()
    if media in _CSV_TYPES:
        return "csv"
    if media in ("", "application/json") or media.endswith("+json"):
        return "json"
    raise Problem(415, f"the body must be application/json or text/csv, got {header!r}")


async def _body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise Problem(413, f"the body is {length} bytes, more than the {MAX_BODY_BYTES} taken")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise Problem(413, f"the body is {len(body)} bytes, more than the {MAX_BODY_BYTES} taken")
    return body


def _refused(request: Request, exc: IngestError) -> JSONResponse:
    status = _STATUS.get(exc.reason, 422)
    problems = [{"reason": p.reason, "field": p.field or None, "detail": p.message} for p in exc.problems]
    return problem_response(
        request,
        status,
        str(exc),
        extra={
            "reason": str(exc.reason),
            "field": exc.field or None,
            "problems": problems,
            "problem_count": exc.total,
        },
    )


def _mapping(store: Store, name: str | None) -> IngestMapping | None:
    """The named format, or None; 400 naming it when it is unknown or its saved mapping is not usable."""
    if name is None:
        return None
    try:
        return resolve_format(store, name)
    except (UnknownFormatError, MappingError) as exc:
        raise Problem(400, str(exc)) from None


def _ingest_mapped(
    store: Store, mapping: IngestMapping, body: bytes, meter: str | None
) -> IngestResult | IngestError:
    if meter is not None and store.get_meter(serial=meter) is None:
        raise Problem(404, f"no meter has serial {meter!r}")
    try:
        return ingest_mapped(store, body, mapping, source=SOURCE, meter=meter)
    except IngestError as exc:
        return exc
    except ValueError:
        if not _LONG_INT.search(body):
            raise
        return IngestError(
            IngestReason.BAD_TYPE, f"the body holds an integer of more than {_INT_DIGITS} digits"
        )


def _answer(
    result: IngestResult, response: Response, validated: list[ValidatedSpan] | None = None
) -> IngestResultPublic:
    response.status_code = 201 if result.stored else 200
    return IngestResultPublic(
        accepted=result.accepted,
        new=result.new,
        duplicates=result.duplicates,
        revised=result.revised,
        stored=result.stored,
        vee=None
        if validated is None
        else [
            VeeSpanPublic(
                meter=v.meter.serial,
                start=v.report.start,
                end=v.report.end,
                intervals=v.report.intervals,
                valid=v.report.valid,
                questionable=v.report.questionable,
                interpolated=v.report.interpolated,
                estimated_reference_day=v.report.estimated_reference_day,
                missing=v.report.missing,
            )
            for v in validated
        ],
    )


async def _finish(
    request: Request, response: Response, store: Store, outcome: IngestResult | IngestError, vee: bool
) -> IngestResultPublic | JSONResponse:
    """The answer to an ingest: the refusal, or the counts (and, with ``vee``, VEE over what was taken)."""
    if isinstance(outcome, IngestError):
        return _refused(request, outcome)
    validated = await run_in_threadpool(validate_ingested, store, outcome) if vee else None
    return _answer(outcome, response, validated)


FormatQuery = Annotated[
    Name | None,
    Query(description="a named format (built in or saved, docs/ingest.md) instead of meshmeter's own"),
]
VeeQuery = Annotated[
    bool,
    Query(description="then run VEE over what was taken, meter by meter, so that it is billable at once"),
]


def _one_meter_json(body: bytes, serial: str) -> bytes:
    """
    The body with ``"meter": serial`` added when it is one object without ``meter``.

    Anything else (a list, an object naming a meter, not JSON at all) is left as it is, for ingest to check
    with the meter given: the error messages then name the fields of the body as sent.
    """
    try:
        text = body.decode("utf-8-sig")
        document = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return body
    if not isinstance(document, dict) or "meter" in document:
        return body
    inner = text.lstrip()[1:]  # after the opening brace
    joiner = "" if inner.lstrip().startswith("}") else ", "
    return ('{"meter": ' + json.dumps(serial) + joiner + inner).encode("utf-8")


def _one_meter_csv(body: bytes, serial: str) -> bytes | IngestError:
    """
    The CSV with a ``meter`` column of ``serial`` added when its header has none; an error when a row
    names another meter. Records keep their numbers, so that ``line n`` in errors is the body's.
    """
    try:
        table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), strict=True))
    except (UnicodeDecodeError, csv.Error):
        return body  # ingest says what is wrong
    first = next((cells for cells in table if any(c.strip() for c in cells)), None)
    if first is None:
        return body
    if first[0].strip() == "meter":
        for n, cells in enumerate(table, start=1):
            if cells is first or not any(c.strip() for c in cells):
                continue
            named = cells[0].strip()
            if named and named != serial:
                return IngestError(
                    IngestReason.METER_MISMATCH,
                    f"line {n}: meter is {named!r}, but the data came for meter {serial!r}",
                    field=f"line {n}: meter",
                )
        return body
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    for cells in table:
        if cells is first:
            writer.writerow(["meter", *cells])
        else:
            writer.writerow([serial, *cells] if any(c.strip() for c in cells) else [])
    return out.getvalue().encode("utf-8")


_INT_DIGITS = 4300
"""Python's limit on the digits of an integer read from text (``sys.get_int_max_str_digits``)."""
_LONG_INT = re.compile(rb"[0-9]{%d}" % (_INT_DIGITS + 1))


class _LongInt(str):
    """An integer of the body too long to read as one: its text."""


def _json_long_int(value: Any, path: str) -> tuple[str, str] | None:
    """The first integer of a parsed document too long to read, as (field, text), or None."""
    if isinstance(value, _LongInt):
        return path, str(value)
    if isinstance(value, dict):
        items: Any = ((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for where, inner in items:
        found = _json_long_int(inner, where)
        if found is not None:
            return found
    return None


def _long_int_field(kind: str, body: bytes) -> tuple[str, str] | None:
    """
    The field of the body holding an integer of more than 4,300 digits, which Python will not read
    (``ValueError``), and its text: ``intervals[0].energy_wh`` as ingest names JSON fields, ``line 2:
    energy_wh`` for CSV. None when there is none.
    """
    if not _LONG_INT.search(body):
        return None
    try:
        text = body.decode("utf-8-sig")
        if kind == "json":

            def parse_int(digits: str) -> int | _LongInt:
                return _LongInt(digits) if len(digits.lstrip("-")) > _INT_DIGITS else int(digits)

            return _json_long_int(json.loads(text, parse_int=parse_int), "")
        header: list[str] | None = None
        for n, cells in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
            if header is None:
                header = [c.strip() for c in cells] if any(c.strip() for c in cells) else None
                continue
            for name, cell in zip(header, cells, strict=False):
                if len(cell.strip().lstrip("+-")) > _INT_DIGITS:
                    return f"line {n}: {name}", cell.strip()
    except (ValueError, RecursionError, csv.Error):
        return None
    return None


def _ingest(kind: str, body: bytes, run: Callable[[], IngestResult]) -> IngestResult | IngestError:
    """
    ``run()``, the ingest of ``body``; its refusal as an :class:`IngestError`. An integer too long for
    Python to read (more than 4,300 digits, a ``ValueError`` of ``int()``) is refused like any energy out
    of range, naming its field.
    """
    try:
        return run()
    except IngestError as exc:
        return exc
    except ValueError:
        found = _long_int_field(kind, body)
        if found is None:
            raise
        field, digits = found
        negative = digits.startswith("-")
        reason = IngestReason.NEGATIVE_ENERGY if negative else IngestReason.ENERGY_TOO_HIGH
        if not field.endswith("_wh"):
            reason = IngestReason.BAD_TYPE
        sep = ": " if field.startswith("line ") else "."
        name = field.rsplit(sep, 1)[-1]
        return IngestError(
            reason,
            f"{field} is an integer of {len(digits.lstrip('+-'))} digits, far outside the range of {name}",
            field=field,
        )


def _ingest_one(store: Store, serial: str, kind: str, body: bytes) -> IngestResult | IngestError:
    if store.get_meter(serial=serial) is None:
        raise Problem(404, f"no meter has serial {serial!r}")
    if kind == "json":
        sent = _one_meter_json(body, serial)
        return _ingest(kind, sent, lambda: ingest_json(store, sent, source=SOURCE, meter=serial))
    prepared = _one_meter_csv(body, serial)
    if isinstance(prepared, IngestError):
        return prepared
    return _ingest(kind, prepared, lambda: ingest_csv(store, prepared, source=SOURCE))


def _ingest_batch(store: Store, kind: str, body: bytes) -> IngestResult | IngestError:
    if kind == "json":
        return _ingest(kind, body, lambda: ingest_json(store, body, source=SOURCE))
    return _ingest(kind, body, lambda: ingest_csv(store, body, source=SOURCE))


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Nothing new: every row was stored already"},
    **problems(400, 404, 413, 415),
}
_ONE_CSV = "interval_end,energy_wh,cumulative_wh\n2026-01-01T00:15:00Z,120,45670\n2026-01-01T00:30:00Z,80,\n"
_BATCH_CSV = "meter,interval_end,energy_wh,cumulative_wh\nMM00000001,2026-01-01T00:15:00Z,120,45670\n"


@router.post(
    "/meters/{serial}/intervals",
    response_model=IngestResultPublic,
    response_model_exclude_none=True,
    status_code=201,
    summary="Send a meter's intervals",
    responses={
        200: {"description": "Nothing new: every row was stored already"},
        **problems(400, 404, 413, 415),
    },
    openapi_extra=_openapi(_JSON_EXAMPLE, _ONE_CSV),
)
async def post_meter_intervals(
    serial: Name,
    request: Request,
    response: Response,
    store: StoreDep,
    format: FormatQuery = None,
    vee: VeeQuery = False,
) -> IngestResultPublic | JSONResponse:
    """
    Store intervals of one meter, sent as JSON (``{"intervals": [...]}``, with or without ``"meter"``,
    which must then be this one) or as CSV (``Content-Type: text/csv``; the ``meter`` column optional);
    or, with ``?format=NAME``, a file in a named format (built in or saved, ``docs/ingest.md``).

    201 with the counts when rows were stored, 200 when all were stored already. The body is refused
    whole, nothing stored: 400 not JSON or CSV or an unknown format, 404 unknown meter, 422 bad fields
    (``reason`` and ``field`` of the first, ``problems`` listing all, up to 20).
    """
    mapping = await run_in_threadpool(_mapping, store, format)
    body = await _body(request)
    if mapping is not None:
        outcome = await run_in_threadpool(_ingest_mapped, store, mapping, body, serial)
        return await _finish(request, response, store, outcome, vee)
    kind = _kind(request)
    outcome = await run_in_threadpool(_ingest_one, store, serial, kind, body)
    return await _finish(request, response, store, outcome, vee)


@router.post(
    "/intervals",
    response_model=IngestResultPublic,
    response_model_exclude_none=True,
    status_code=201,
    summary="Send intervals of several meters",
    responses={
        200: {"description": "Nothing new: every row was stored already"},
        **problems(400, 404, 413, 415),
    },
    openapi_extra=_openapi(_BATCH_EXAMPLE, _BATCH_CSV),
)
async def post_intervals(
    request: Request,
    response: Response,
    store: StoreDep,
    format: FormatQuery = None,
    meter: Annotated[
        Name | None, Query(description="with format: the meter of a file without a meter column")
    ] = None,
    vee: VeeQuery = False,
) -> IngestResultPublic | JSONResponse:
    """
    Store a batch of intervals of several meters: the JSON (an object or a list of objects, each with
    ``meter``, ``intervals`` and optionally ``interval_minutes``) or the CSV
    (``meter,interval_end,energy_wh[,cumulative_wh][,interval_minutes]``) of ``docs/ingest.md``; or, with
    ``?format=NAME``, a file in a named format (``?meter=`` for a format without a meter column).

    201 with the counts when rows were stored, 200 when all were stored already. The batch is refused
    whole, nothing stored: 400 not JSON or CSV or an unknown format, 404 an unknown meter, 422 bad fields
    (``reason`` and ``field`` of the first, ``problems`` listing all, up to 20), e.g. ``interval_mismatch``
    for hourly rows sent for a 15-minute meter.
    """
    mapping = await run_in_threadpool(_mapping, store, format)
    body = await _body(request)
    if mapping is not None:
        outcome = await run_in_threadpool(_ingest_mapped, store, mapping, body, meter)
        return await _finish(request, response, store, outcome, vee)
    if meter is not None:
        raise Problem(400, "meter goes with format: meshmeter's own JSON and CSV name the meter")
    kind = _kind(request)
    outcome = await run_in_threadpool(_ingest_batch, store, kind, body)
    return await _finish(request, response, store, outcome, vee)
