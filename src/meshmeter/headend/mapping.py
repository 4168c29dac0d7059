"""The operator's own files in: a mapping from a CSV or JSON layout to meshmeter's intervals.

A mapping (:class:`IngestMapping`, ``docs/ingest.md``) says which column holds the meter, the time and
the energy; the energy's unit (Wh, kWh: converted to integer Wh exactly, a value that is not a whole Wh is
refused, never rounded); the interval length (5, 15, 30 or 60 minutes, or per row by start and end); the
time stamps' zone (UTC, an offset in the stamp, or naive in an IANA zone, the repeated hour at the end of
DST told apart by the order of the rows); whether a stamp names the interval by its end or its start; and
whether the values are interval energies or cumulative register reads (intervals are then the differences
of consecutive reads on the meter's grid: a missing read leaves a gap, never a guess).

:func:`read_with_mapping` reads text or bytes into rows (:class:`~meshmeter.headend.ingest.IngestRow`),
listing every problem it finds (up to :data:`~meshmeter.headend.ingest.MAX_PROBLEMS`, with row numbers);
:func:`ingest_mapped` adds the checks against the meters and stores the batch, whole or not at all.
Formats are named: the built-in ones (:data:`BUILTIN_FORMATS`) and those saved in the store
(:func:`save_format`, :func:`resolve_format`).
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Final

import numpy as np

from meshmeter.errors import MappingError, UnknownFormatError
from meshmeter.headend.ingest import (
    IngestError,
    IngestProblem,
    IngestReason,
    IngestResult,
    IngestRow,
    _check_energy,
    _check_grid_end,
    _check_serial,
    _decode,
    _no_constant,
    _no_duplicate_keys,
    _Problems,
    _spacing_s,
    ingest_rows,
)
from meshmeter.intervals import IntervalLength, zone
from meshmeter.store import Store

__all__ = [
    "BUILTIN_FORMATS",
    "ENERGY_UNITS",
    "SITE_ZONE",
    "IngestMapping",
    "MappedRows",
    "MappingError",
    "MeterInfo",
    "UnknownFormatError",
    "ingest_mapped",
    "mapping_from_dict",
    "mapping_to_dict",
    "read_with_mapping",
    "resolve_format",
    "save_format",
    "store_meter_info",
]

ENERGY_UNITS: Final[Mapping[str, int]] = MappingProxyType({"Wh": 1, "kWh": 1000, "MWh": 1_000_000})
"""Units a mapping may give energies in, and Wh per unit."""

SITE_ZONE: Final = "site"
"""``timezone`` of a mapping meaning: the time zone of the meter's site."""


@dataclass(frozen=True, slots=True)
class IngestMapping:
    """
    How a CSV or JSON file's rows map to intervals (``docs/ingest.md``, "Mappings").

    Attributes
    ----------
    kind : str
        ``"csv"`` (default) or ``"json"`` (a list of row objects, or an object with that list at
        ``rows_path``).
    meter_column : str, optional
        Column of the meter's serial number. Without it (and without ``meter``) the caller gives the
        meter (``--meter``, ``?meter=``, the MQTT topic).
    meter : str, optional
        The one meter of every row.
    time_column : str, optional
        Column of the interval's time stamp (or of the register read's time).
    time_names : str
        ``"end"`` (default) when the stamp names the interval by its end, ``"start"`` by its start.
    start_column, end_column : str, optional
        Columns of each row's start and end, instead of ``time_column``: the row's length is then their
        difference, which must be the meter's.
    energy_column : str, optional
        Column of the energy in the interval.
    register_column : str, optional
        Column of a cumulative register read at ``time_column``, instead of ``energy_column``.
    cumulative_column : str, optional
        Column of the register at the interval's end, beside ``energy_column`` (optional, may be empty).
    energy_unit : str
        ``"Wh"`` (default), ``"kWh"`` or ``"MWh"`` (:data:`ENERGY_UNITS`); values must be whole Wh.
    interval_minutes : int, optional
        The rows' interval length, 5, 15, 30 or 60: must be the meter's. Default: the meter's.
    timezone : str, optional
        IANA zone of stamps without an offset, or ``"site"`` (:data:`SITE_ZONE`): the meter's site's.
        Default none: every stamp must carry an offset or ``Z``.
    time_format : str, optional
        ``strptime`` format of the stamps (``"%m/%d/%Y %H:%M"``); default ISO-8601.
    delimiter : str
        CSV delimiter, default ``","``.
    rows_path : str, optional
        JSON: the dotted path of the list of rows in the document (``"data.readings"``).
    """

    kind: str = "csv"
    meter_column: str | None = None
    meter: str | None = None
    time_column: str | None = None
    time_names: str = "end"
    start_column: str | None = None
    end_column: str | None = None
    energy_column: str | None = None
    register_column: str | None = None
    cumulative_column: str | None = None
    energy_unit: str = "Wh"
    interval_minutes: int | None = None
    timezone: str | None = None
    time_format: str | None = None
    delimiter: str = ","
    rows_path: str | None = None

    @property
    def interval_s(self) -> int | None:
        """The declared interval length, or None. [s]"""
        return None if self.interval_minutes is None else self.interval_minutes * 60

    def columns(self) -> dict[str, str]:
        """The columns the mapping reads, by role (``"time_column"`` → the column's name)."""
        names = (
            "meter_column",
            "time_column",
            "start_column",
            "end_column",
            "energy_column",
            "register_column",
            "cumulative_column",
        )
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


_FIELDS: Final = {f.name: f for f in fields(IngestMapping)}
_TEXT_FIELDS: Final = frozenset(n for n, f in _FIELDS.items() if n not in ("interval_minutes",))


def mapping_from_dict(document: object) -> IngestMapping:
    """
    A mapping from its JSON form (the fields of :class:`IngestMapping`), checked whole.

    Raises
    ------
    MappingError
        Listing every problem at once: unknown fields, wrong types, missing or conflicting columns, an
        unknown unit, length or time zone.
    """
    if not isinstance(document, Mapping):
        raise MappingError([f"a mapping must be a JSON object, got {type(document).__name__}"])
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, value in document.items():
        if key not in _FIELDS:
            problems.append(f"{key!r} is not a mapping field (fields: {', '.join(_FIELDS)})")
        elif value is None:
            continue
        elif key == "interval_minutes":
            if isinstance(value, bool) or not isinstance(value, int) or value * 60 not in set(IntervalLength):
                problems.append(f"interval_minutes must be 5, 15, 30 or 60, got {value!r}")
            else:
                values[key] = value
        elif key in _TEXT_FIELDS:
            if not isinstance(value, str) or not value:
                problems.append(f"{key} must be a non-empty string, got {value!r}")
            else:
                values[key] = value
    kind = values.get("kind", "csv")
    if kind not in ("csv", "json"):
        problems.append(f"kind must be 'csv' or 'json', got {kind!r}")
    if values.get("time_names", "end") not in ("end", "start"):
        problems.append(f"time_names must be 'end' or 'start', got {values['time_names']!r}")
    has_time = "time_column" in values
    has_span = "start_column" in values or "end_column" in values
    if has_time == has_span:
        problems.append("give either time_column, or start_column and end_column")
    elif has_span and not ("start_column" in values and "end_column" in values):
        problems.append("start_column and end_column go together")
    if ("energy_column" in values) == ("register_column" in values):
        problems.append("give either energy_column (interval energies) or register_column (register reads)")
    if "register_column" in values and has_span:
        problems.append("register_column takes a time_column (the read's time), not start and end columns")
    if "register_column" in values and values.get("time_names") == "start":
        problems.append("register_column reads are at an instant: time_names must be 'end'")
    if "register_column" in values and "cumulative_column" in values:
        problems.append("cumulative_column goes with energy_column, not with register_column")
    if "meter_column" in values and "meter" in values:
        problems.append("give meter_column or meter, not both")
    if values.get("energy_unit", "Wh") not in ENERGY_UNITS:
        problems.append(
            f"energy_unit must be one of {', '.join(ENERGY_UNITS)}, got {values['energy_unit']!r}"
        )
    timezone = values.get("timezone")
    if timezone is not None and timezone != SITE_ZONE:
        try:
            zone(timezone, name="timezone")
        except ValueError as exc:
            problems.append(str(exc))
    if "time_format" in values and "%" not in values["time_format"]:
        problems.append(
            f"time_format must be a strptime format such as %Y-%m-%d %H:%M, got {values['time_format']!r}"
        )
    if len(values.get("delimiter", ",")) != 1:
        problems.append(f"delimiter must be one character, got {values['delimiter']!r}")
    if "rows_path" in values and kind != "json":
        problems.append("rows_path is for kind 'json'")
    columns = [values[n] for n in _FIELDS if n.endswith("_column") and n in values]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        problems.append(f"a column may have one role, but {', '.join(map(repr, repeated))} has several")
    if problems:
        raise MappingError(problems)
    return IngestMapping(**values)


def mapping_to_dict(mapping: IngestMapping) -> dict[str, Any]:
    """The JSON form of a mapping: its fields that differ from the defaults."""
    default = IngestMapping()
    return {
        f.name: getattr(mapping, f.name)
        for f in fields(mapping)
        if getattr(mapping, f.name) != getattr(default, f.name)
    }


BUILTIN_FORMATS: Final[Mapping[str, IngestMapping]] = MappingProxyType(
    {
        # meshmeter's own CSV export (headend/exports.py): interval_end (UTC, Z), energy_wh, quality
        # [, interval_end_local]; the meter is given once (the export is of one meter). Quality is not
        # taken in: what comes in is raw, and VEE validates it again.
        "meshmeter-csv": IngestMapping(time_column="interval_end", energy_column="energy_wh"),
        # A billing service's interval file: meter,interval_end,kwh, hourly, the end of each hour in
        # local time without an offset, in the zone of the meter's site.
        "billing-kwh-hourly": IngestMapping(
            meter_column="meter",
            time_column="interval_end",
            energy_column="kwh",
            energy_unit="kWh",
            interval_minutes=60,
            timezone=SITE_ZONE,
        ),
    }
)
"""Formats every store knows; a saved format may not take one of their names."""


def resolve_format(store: Store, name: str) -> IngestMapping:
    """
    The format of this name: built in, or saved in the store.

    Raises
    ------
    UnknownFormatError
        Naming it and the known ones.
    MappingError
        When the saved mapping of that name cannot be applied.
    """
    if name in BUILTIN_FORMATS:
        return BUILTIN_FORMATS[name]
    saved = store.get_ingest_format(name=name)
    if saved is None:
        known = [*BUILTIN_FORMATS, *store.ingest_formats()]
        raise UnknownFormatError(
            f"format {name!r} is not an ingest format: the known ones are {', '.join(known)} "
            "(save one with meshmeter ingest-format save NAME mapping.json)"
        )
    return mapping_from_dict(saved)


def save_format(store: Store, name: str, document: object) -> tuple[IngestMapping, bool]:
    """
    Check a mapping and save it under ``name``; ``(mapping, True when new)``.

    Raises
    ------
    MappingError
        The mapping's problems, all of them.
    ValueError
        When ``name`` is empty or the name of a built-in format.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if name in BUILTIN_FORMATS:
        raise ValueError(f"name {name!r} is a built-in format; choose another")
    mapping = mapping_from_dict(document)
    new = store.save_ingest_format(name=name, mapping=mapping_to_dict(mapping))
    return mapping, new


# ---------------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeterInfo:
    """What the reader needs of a meter: its interval length [s] and its site's IANA zone, if any."""

    interval_s: int
    timezone: str | None = None


MeterLookup = Callable[[str], MeterInfo | None]


def store_meter_info(store: Store) -> MeterLookup:
    """A :data:`MeterLookup` over the store's meters and sites (each looked up once)."""
    cache: dict[str, MeterInfo | None] = {}

    def lookup(serial: str) -> MeterInfo | None:
        if serial not in cache:
            meter = store.get_meter(serial=serial)
            if meter is None:
                cache[serial] = None
            else:
                site = None if meter.site_id is None else store.get_site(site_id=meter.site_id)
                cache[serial] = MeterInfo(int(meter.interval_s), None if site is None else site.timezone)
        return cache[serial]

    return lookup


@dataclass(frozen=True, slots=True)
class MappedRows:
    """
    What :func:`read_with_mapping` read.

    Attributes
    ----------
    rows : list of IngestRow
        The intervals read, in input order.
    problems : tuple of IngestProblem
        The first problems found (at most :data:`~meshmeter.headend.ingest.MAX_PROBLEMS`).
    problem_count : int
        How many in all.
    """

    rows: list[IngestRow]
    problems: tuple[IngestProblem, ...] = ()
    problem_count: int = 0

    def by_meter(self) -> dict[str, list[IngestRow]]:
        """The rows of each meter, in input order."""
        out: dict[str, list[IngestRow]] = defaultdict(list)
        for row in self.rows:
            out[row.serial].append(row)
        return dict(out)

    def raise_problems(self) -> None:
        """Raise :class:`~meshmeter.headend.ingest.IngestError` listing the problems, if any."""
        if self.problem_count:
            raise IngestError.of(self.problems, self.problem_count)


@dataclass(slots=True)
class _Record:
    where: str
    sep: str
    meter_at: str
    serial: str
    stamps: dict[str, datetime] = field(default_factory=dict)  # role -> aware or naive
    raw: dict[str, str] = field(default_factory=dict)  # role -> text as given
    value_wh: int = 0
    cumulative_wh: int | None = None


def _err(reason: IngestReason, place: str, message: str) -> IngestError:
    return IngestError(reason, f"{place} {message}", field=place)


def _records_csv(text: str, mapping: IngestMapping) -> list[tuple[str, str, dict[str, Any]]]:
    try:
        table = list(csv.reader(io.StringIO(text, newline=""), delimiter=mapping.delimiter, strict=True))
    except csv.Error as exc:
        raise IngestError(IngestReason.MALFORMED, f"not valid CSV: {exc}") from None
    lines = [(n, cells) for n, cells in enumerate(table, start=1) if cells and any(c.strip() for c in cells)]
    if not lines:
        raise IngestError(IngestReason.MALFORMED, "the CSV is empty: no header")
    header_line, header = lines[0]
    names = [c.strip() for c in header]
    missing = [f"{role} {name!r}" for role, name in mapping.columns().items() if name not in names]
    if missing:
        raise IngestError.of(
            [
                IngestProblem(
                    IngestReason.MISSING_FIELD,
                    f"line {header_line}",
                    f"missing_field: line {header_line}: the mapping's {m} is not a column of the header "
                    f"({','.join(names)})",
                )
                for m in missing
            ]
        )
    out: list[tuple[str, str, dict[str, Any]]] = []
    for n, cells in lines[1:]:
        where = f"line {n}"
        if len(cells) != len(names):
            out.append((where, ": ", {"__error__": f"has {len(cells)} fields, the header {len(names)}"}))
            continue
        out.append((where, ": ", dict(zip(names, (c.strip() for c in cells), strict=True))))
    return out


def _records_json(text: str, mapping: IngestMapping) -> list[tuple[str, str, dict[str, Any]]]:
    try:
        document = json.loads(
            text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant, parse_float=Decimal
        )
    except json.JSONDecodeError as exc:
        raise IngestError(IngestReason.MALFORMED, f"not valid JSON: {exc}") from None
    except RecursionError:
        raise IngestError(IngestReason.MALFORMED, "the JSON is nested too deeply") from None
    path = mapping.rows_path or ""
    for part in path.split(".") if path else []:
        if not isinstance(document, dict) or part not in document:
            raise IngestError(
                IngestReason.MALFORMED, f"the document has no {path!r} (the mapping's rows_path)"
            )
        document = document[part]
    if not isinstance(document, list):
        where = repr(path) if path else "the document"
        raise IngestError(IngestReason.MALFORMED, f"{where} must be a list of row objects")
    prefix = path or ""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for i, item in enumerate(document):
        where = f"{prefix}[{i}]"
        if not isinstance(item, dict):
            out.append((where, ".", {"__error__": f"must be an object, got {item!r:.60}"}))
        else:
            out.append((where, ".", item))
    return out


def _energy_wh(value: object, unit: str, place: str, *, cumulative: bool) -> int:
    """A value in ``unit`` as integer Wh, exactly; refused when it is not a whole Wh."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise _err(IngestReason.BAD_TYPE, place, f"must be a number [{unit}], got {value!r:.40}")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise _err(IngestReason.BAD_TYPE, place, f"must be a number [{unit}], got {value!r:.40}") from None
    if not number.is_finite():
        raise _err(IngestReason.BAD_TYPE, place, f"must be a finite number [{unit}], got {value!r:.40}")
    wh = number * ENERGY_UNITS[unit]
    if wh != wh.to_integral_value():
        raise _err(
            IngestReason.NOT_WHOLE_WH,
            place,
            f"is {value} {unit} = {wh.normalize():f} Wh, not a whole Wh: energy is stored in integer Wh, "
            "and meshmeter does not round it",
        )
    return _checked(int(wh), place, cumulative=cumulative)


def _checked(wh: int, place: str, *, cumulative: bool) -> int:
    return _check_energy(wh, "", "", place, cumulative=cumulative)


def _stamp(value: object, mapping: IngestMapping, place: str) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise _err(IngestReason.BAD_TYPE, place, f"must be a date and time, got {value!r:.40}")
    text = value.strip()
    try:
        if mapping.time_format is not None:
            return datetime.strptime(text, mapping.time_format)
        return datetime.fromisoformat(text)
    except ValueError:
        shape = mapping.time_format or "ISO-8601"
        raise _err(IngestReason.BAD_TIME, place, f"is not a date and time ({shape}): {value!r}") from None


def _record(
    where: str, sep: str, item: dict[str, Any], mapping: IngestMapping, meter: str | None, problems: _Problems
) -> _Record | None:
    """One row's fields parsed; every field's problem added; None when any."""
    if "__error__" in item:
        problems.add(IngestError(IngestReason.MALFORMED, f"{where} {item['__error__']}", field=where))
        return None
    before = problems.count

    def place(column: str) -> str:
        return f"{where}{sep}{column}"

    def get(column: str, *, required: bool = True) -> Any:
        value = item.get(column)
        if (value is None or value == "") and required:
            problems.add(_err(IngestReason.MISSING_FIELD, place(column), "is missing or empty"))
        return value

    serial = mapping.meter or meter
    meter_at = f"{where}{sep}{mapping.meter_column}" if mapping.meter_column else "meter"
    if mapping.meter_column is not None:
        value = get(mapping.meter_column)
        if value is not None and value != "":
            try:
                serial = _check_serial(value, "", "")
            except IngestError:
                problems.add(_err(IngestReason.BAD_TYPE, meter_at, f"must be a serial number, got {value!r}"))
                serial = None
            if serial is not None and meter is not None and serial != meter:
                problems.add(
                    _err(
                        IngestReason.METER_MISMATCH,
                        meter_at,
                        f"is {serial!r}, but the data came for meter {meter!r}",
                    )
                )
    elif serial is None:
        problems.add(
            IngestError(
                IngestReason.MISSING_FIELD,
                "the mapping has no meter_column and no meter, and no meter was given (--meter, ?meter=)",
                field="meter",
            )
        )
    record = _Record(where, sep, meter_at, serial or "")
    roles = {"time": mapping.time_column, "start": mapping.start_column, "end": mapping.end_column}
    for role, column in roles.items():
        if column is None:
            continue
        value = get(column)
        if value is None or value == "":
            continue
        try:
            record.stamps[role] = _stamp(value, mapping, place(column))
            record.raw[role] = str(value)
        except IngestError as exc:
            problems.add(exc)
    value_column = mapping.energy_column or mapping.register_column
    assert value_column is not None
    value = get(value_column)
    if value is not None and value != "":
        try:
            record.value_wh = _energy_wh(
                value,
                mapping.energy_unit,
                place(value_column),
                cumulative=mapping.register_column is not None,
            )
        except IngestError as exc:
            problems.add(exc)
    if mapping.cumulative_column is not None:
        value = get(mapping.cumulative_column, required=False)
        if value is not None and value != "":
            try:
                record.cumulative_wh = _energy_wh(
                    value, mapping.energy_unit, place(mapping.cumulative_column), cumulative=True
                )
            except IngestError as exc:
                problems.add(exc)
    return None if problems.count > before else record


def _resolve_local(
    records: list[_Record], role: str, column: str, tz: tzinfo | None, zone_name: str, problems: _Problems
) -> dict[int, datetime]:
    """
    Each record's stamp of ``role`` as aware UTC (index in ``records`` → instant); problems added.

    Naive stamps are local time in ``tz``. A local time that occurs twice (the end of DST) is told apart
    by the order of the rows: of two rows with the same such time, the first is the earlier instant
    (daylight time), the second the later (standard time). One such row alone is resolved by its
    neighbours (the rows before and after it, in order), or refused when they allow both.
    """
    out: dict[int, datetime] = {}
    naive_count: dict[datetime, int] = defaultdict(int)
    for r in records:
        stamp = r.stamps.get(role)
        if stamp is not None and stamp.tzinfo is None:
            naive_count[stamp] += 1
    seen: dict[datetime, int] = defaultdict(int)
    pending: list[tuple[int, datetime, datetime]] = []  # ambiguous singletons: index, early, late
    for i, r in enumerate(records):
        stamp = r.stamps.get(role)
        if stamp is None:
            continue
        place = f"{r.where}{r.sep}{column}"
        if stamp.tzinfo is not None and stamp.utcoffset() is not None:
            out[i] = stamp.astimezone(UTC)
            continue
        if tz is None:
            problems.add(
                _err(
                    IngestReason.NAIVE_TIME,
                    place,
                    f"{r.raw[role]!r} has no UTC offset, and the mapping gives no timezone to read it in "
                    "(set timezone to an IANA zone, or 'site')",
                )
            )
            continue
        early = stamp.replace(tzinfo=tz, fold=0).astimezone(UTC)
        late = stamp.replace(tzinfo=tz, fold=1).astimezone(UTC)
        if early == late or early.astimezone(tz).replace(tzinfo=None) != stamp:
            if (
                early.astimezone(tz).replace(tzinfo=None) != stamp
                and late.astimezone(tz).replace(tzinfo=None) != stamp
            ):
                problems.add(
                    _err(
                        IngestReason.AMBIGUOUS_TIME,
                        place,
                        f"{r.raw[role]!r} does not exist in {zone_name} (the clock skips it when DST begins)",
                    )
                )
                continue
            out[i] = early
            continue
        early, late = min(early, late), max(early, late)
        k = seen[stamp]
        seen[stamp] += 1
        if naive_count[stamp] == 2:
            out[i] = early if k == 0 else late
        elif naive_count[stamp] == 1:
            pending.append((i, early, late))
        else:
            problems.add(
                _err(
                    IngestReason.AMBIGUOUS_TIME,
                    place,
                    f"{r.raw[role]!r} occurs {naive_count[stamp]} times, but at most twice in {zone_name}",
                )
            )
    for i, early, late in pending:
        before = out.get(max((j for j in out if j < i), default=-1))
        after = out.get(min((j for j in out if j > i), default=-1))
        choices = [
            t for t in (early, late) if (before is None or t > before) and (after is None or t < after)
        ]
        if len(choices) == 1:
            out[i] = choices[0]
            continue
        r = records[i]
        problems.add(
            _err(
                IngestReason.AMBIGUOUS_TIME,
                f"{r.where}{r.sep}{column}",
                f"{r.raw[role]!r} occurs twice in {zone_name} (the end of DST: {early.isoformat()} and "
                f"{late.isoformat()}), and the order of the rows cannot tell which: give both, daylight "
                "time first, or stamps with a UTC offset",
            )
        )
    return out


def read_with_mapping(
    data: str | bytes | bytearray,
    mapping: IngestMapping,
    *,
    meter: str | None = None,
    meter_info: MeterLookup | None = None,
) -> MappedRows:
    """
    Read a CSV or JSON file with a mapping into interval rows; nothing is stored.

    Parameters
    ----------
    data : str or bytes
        UTF-8 text (a BOM allowed).
    mapping : IngestMapping
        How to read it.
    meter : str, optional
        The meter of every row (when the mapping has no ``meter_column``); with a ``meter_column``, every
        row must name it (an MQTT topic's meter).
    meter_info : callable, optional
        Serial → :class:`MeterInfo` or None: the meter's interval length (for stamps naming the start,
        and register reads, without ``interval_minutes``) and site zone (``timezone: "site"``). A meter
        it does not know is refused (``unknown_meter``).

    Returns
    -------
    MappedRows
        The rows, and every problem found (up to the limit, all counted). Raises only for input that
        cannot be read at all.

    Raises
    ------
    IngestError
        Not UTF-8, not CSV or JSON, a mapped column missing from the header, no list of rows.
    """
    text = _decode(data)
    records = _records_json(text, mapping) if mapping.kind == "json" else _records_csv(text, mapping)
    problems = _Problems()
    by_serial: dict[str, list[_Record]] = defaultdict(list)
    for where, sep, item in records:
        record = _record(where, sep, item, mapping, meter, problems)
        if record is not None:
            by_serial[record.serial].append(record)
    rows: list[tuple[int, IngestRow]] = []
    for serial, group in by_serial.items():
        rows.extend(_meter_rows(serial, group, mapping, meter_info, problems))
    rows.sort(key=lambda pair: pair[0])
    return MappedRows([row for _, row in rows], tuple(problems.items), problems.count)


def _line(record: _Record) -> int:
    digits = "".join(c for c in record.where if c.isdigit())
    return int(digits) if digits else 0


def _meter_rows(
    serial: str,
    group: list[_Record],
    mapping: IngestMapping,
    meter_info: MeterLookup | None,
    problems: _Problems,
) -> list[tuple[int, IngestRow]]:
    """One meter's records as rows (index of input order, row); problems added."""
    info = None if meter_info is None else meter_info(serial)
    if meter_info is not None and info is None:
        first = group[0]
        problems.add(_err(IngestReason.UNKNOWN_METER, first.meter_at, f"{serial!r} is not a known meter"))
        return []
    length = mapping.interval_s or (None if info is None else info.interval_s)
    tz: tzinfo | None = None
    zone_name = mapping.timezone or ""
    if mapping.timezone == SITE_ZONE:
        if info is None or info.timezone is None:
            problems.add(
                _err(
                    IngestReason.NAIVE_TIME,
                    group[0].meter_at,
                    f"{serial!r}: the mapping reads local times in the meter's site's zone, but the meter "
                    "has no site with a time zone",
                )
            )
            return []
        zone_name = info.timezone
        tz = zone(info.timezone)
    elif mapping.timezone is not None:
        tz = zone(mapping.timezone)
    columns = {"time": mapping.time_column, "start": mapping.start_column, "end": mapping.end_column}
    instants = {
        role: _resolve_local(group, role, column, tz, zone_name, problems)
        for role, column in columns.items()
        if column is not None
    }
    declared_at = "the mapping's interval_minutes"
    out: list[tuple[int, IngestRow, int]] = []  # (order, row, read time) before register differences
    for i, r in enumerate(group):
        try:
            if mapping.time_column is not None:
                if i not in instants["time"]:
                    continue
                stamp = instants["time"][i]
                place = f"{r.where}{r.sep}{mapping.time_column}"
                row_length, length_at = mapping.interval_s, declared_at
                if mapping.time_names == "start":
                    if length is None:
                        raise _err(
                            IngestReason.MISSING_FIELD,
                            place,
                            "names the interval's start, but its length is not known (set interval_minutes)",
                        )
                    stamp = stamp + timedelta(seconds=length)
            else:
                if i not in instants["start"] or i not in instants["end"]:
                    continue
                start, stamp = instants["start"][i], instants["end"][i]
                place = f"{r.where}{r.sep}{mapping.end_column}"
                seconds = int((stamp - start).total_seconds())
                length_at = f"{r.where}{r.sep}{mapping.start_column}, {mapping.end_column}"
                if seconds not in {int(n) for n in IntervalLength}:
                    raise _err(
                        IngestReason.INTERVAL_MISMATCH,
                        length_at,
                        f"are {seconds / 60:g} minutes apart ({r.raw['start']!r} to {r.raw['end']!r}); an "
                        "interval is 5, 15, 30 or 60 minutes long",
                    )
                row_length = seconds
            end = _check_grid_end(stamp, "", "", place, r.raw.get("time", r.raw.get("end")))
        except IngestError as exc:
            problems.add(exc)
            continue
        row = IngestRow(
            r.where,
            r.sep,
            r.meter_at,
            serial,
            end,
            r.value_wh,
            r.cumulative_wh,
            row_length,
            length_at if row_length is not None else "",
        )
        out.append((_line(r), row, int(end.timestamp())))
    if mapping.register_column is None:
        return [(k, row) for k, row, _ in out]
    return _register_differences(serial, out, mapping, length, problems)


def _register_differences(
    serial: str,
    reads: list[tuple[int, IngestRow, int]],
    mapping: IngestMapping,
    length: int | None,
    problems: _Problems,
) -> list[tuple[int, IngestRow]]:
    """Register reads to intervals: each read less the read one interval before it; a gap stays a gap."""
    if not reads:
        return []
    ordered = sorted(reads, key=lambda x: x[2])
    times = np.array([t for _, _, t in ordered], dtype=np.int64)
    if length is None:
        problems.add(
            IngestError(
                IngestReason.MISSING_FIELD,
                f"meter {serial!r}: register reads need the interval length (set interval_minutes)",
                field=f"meter {serial}",
            )
        )
        return []
    if mapping.interval_s is None:
        step = _spacing_s(np.unique(times), length)
        if step is not None:
            problems.add(
                IngestError(
                    IngestReason.INTERVAL_MISMATCH,
                    f"the {times.size} register reads of meter {serial!r} are all {step // 60} minutes "
                    "apart, "
                    f"but the meter has {length // 60}-minute intervals: no interval would come of them. "
                    f"Use a meter of {step // 60}-minute intervals and set interval_minutes {step // 60}",
                    field=f"meter {serial}",
                )
            )
            return []
    out: list[tuple[int, IngestRow]] = []
    by_time: dict[int, IngestRow] = {}
    for _, row, t in ordered:
        seen = by_time.setdefault(t, row)
        if seen.energy_wh != row.energy_wh:
            problems.add(
                _err(
                    IngestReason.CONFLICT,
                    f"{row.where}{row.sep}{mapping.register_column}",
                    f"reads {row.energy_wh} Wh at {row.interval_end.isoformat()}, but {seen.where} reads "
                    f"{seen.energy_wh} Wh then",
                )
            )
    for key, row, t in ordered:
        before = by_time.get(t - length)
        if before is None or by_time[t] is not row:
            continue  # the first read, or one after a missing read: no interval (a gap, never a guess)
        read_wh = row.energy_wh
        if read_wh < before.energy_wh:
            problems.add(
                _err(
                    IngestReason.COUNTER_BACKWARDS,
                    f"{row.where}{row.sep}{mapping.register_column}",
                    f"reads {read_wh} Wh, below {before.energy_wh} Wh at {before.where} (a register never "
                    "runs backwards)",
                )
            )
            continue
        energy = read_wh - before.energy_wh
        try:
            _checked(energy, f"{row.where}{row.sep}{mapping.register_column}", cumulative=False)
        except IngestError as exc:
            problems.add(exc)
            continue
        out.append((key, row._replace(energy_wh=energy, cumulative_wh=read_wh)))
    return out


def ingest_mapped(
    store: Store,
    data: str | bytes | bytearray,
    mapping: IngestMapping,
    *,
    source: str,
    meter: str | None = None,
) -> IngestResult:
    """
    Read a file with a mapping and store its intervals: the whole file, or nothing.

    Parameters
    ----------
    store : Store
        The store; every meter must exist.
    data : str or bytes
        The file (UTF-8).
    mapping : IngestMapping
        How to read it (:func:`resolve_format` for a named one).
    source : str
        The ``source`` of the stored rows.
    meter : str, optional
        The meter of every row, when the mapping has no ``meter_column`` (or every row must name it).

    Raises
    ------
    IngestError
        Listing every problem (up to :data:`~meshmeter.headend.ingest.MAX_PROBLEMS`) with its row and
        field: the reader's and the batch checks' (unknown meters, rows off the meter's grid or of another
        length, conflicts, counters running backwards). Nothing is stored.
    """
    read = read_with_mapping(data, mapping, meter=meter, meter_info=store_meter_info(store))
    return ingest_rows(
        store,
        read.rows,
        source=source,
        meter=meter,
        problems=read.problems,
        problem_count=read.problem_count,
    )
