"""Head-end ingest: interval data from the DCAP, from MQTT, from files and HTTP bodies, into the store.

Three ways in, one store (``docs/ingest.md``):

* :func:`ingest_deliveries` takes the DCAP's deliveries (device EUI-64, interval record with a sequence
  number and the cumulative pulse count, 10 Wh per pulse, manual §5.1) and turns counters into interval
  energies. A record whose predecessor (the interval 15 minutes before, sequence − 1) is known gets its
  exact energy; one whose predecessor is not yet known is stored *provisionally* with energy 0 and its
  counter; when the predecessor arrives, the provisional row is rebuilt exactly as a new revision. Nothing
  is ever counted twice: a row's energy is its own interval's energy or 0, never more.
* :func:`ingest_json` and :func:`ingest_csv` take interval data from outside: energies as given, refused
  whole with an :class:`IngestError` naming the row and the field when anything is wrong, and then nothing
  is stored.

Every path is idempotent: the store keeps a row once per value (``docs/store.md``), so data sent again adds
nothing.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from operator import itemgetter
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import orjson
from numpy.typing import NDArray

from meshmeter.amr.dcap import Delivery
from meshmeter.amr.records import INTERVAL_S, PULSE_WH, IntervalRecord
from meshmeter.catalog.limits import max_interval_energy_wh
from meshmeter.errors import _ReasonedError
from meshmeter.intervals import IntervalLength
from meshmeter.store import CUMULATIVE_NONE, Meter, RawInterval, Store, UnknownMeterError

__all__ = [
    "CSV_COLUMNS",
    "MAX_CUMULATIVE_WH",
    "MAX_PROBLEMS",
    "IngestError",
    "IngestProblem",
    "IngestReason",
    "IngestResult",
    "IngestRow",
    "ingest_csv",
    "ingest_deliveries",
    "ingest_json",
    "ingest_rows",
]

MAX_CUMULATIVE_WH = 2**63 - 1
"""The largest cumulative register the store holds (a signed 64-bit integer), and the largest energy read
before its meter is known; above its meter's :func:`~meshmeter.catalog.max_interval_energy_wh`, an
interval's energy is refused where the meter is known. [Wh]"""

CSV_COLUMNS = ("meter", "interval_end", "energy_wh", "cumulative_wh")
"""The CSV header: the first three columns are required, ``cumulative_wh`` is optional (and a last
column ``interval_minutes`` may declare the rows' interval length)."""

MAX_PROBLEMS = 20
"""The most problems a refusal lists (it counts them all). [1]"""

_LENGTH_COLUMN = "interval_minutes"
_FINEST_S = min(int(n) for n in IntervalLength)


def _too_much(energy_wh: object, limit_wh: int, meter: Meter, interval_s: int) -> str:
    """Why ``energy_wh`` is refused: above the meter's own limit (:func:`max_interval_energy_wh`)."""
    return (
        f"{energy_wh} Wh, above {limit_wh} Wh, the most meter {meter.serial!r} ({meter.designation}, "
        f"CT ratio {meter.ct_ratio:g}) registers in {interval_s // 60} minutes"
    )


_INTERVAL = timedelta(seconds=INTERVAL_S)
_NONE = CUMULATIVE_NONE  # a counter not sent, in an int64 column
IntArray = NDArray[np.int64]
_INT = re.compile(r"[+-]?[0-9]+")


class IngestReason(StrEnum):
    """Why input was refused: short, machine-readable, by which receivers count their rejections."""

    MALFORMED = "malformed"
    """Not UTF-8, not JSON, not CSV, or not the documented structure (an object, a list, a header)."""
    MISSING_FIELD = "missing_field"
    EXTRA_FIELD = "extra_field"
    BAD_TYPE = "bad_type"
    """A field of the wrong type: a float or string energy, a number as a serial ..."""
    BAD_TIME = "bad_time"
    """An ``interval_end`` that is not an ISO-8601 date and time."""
    NAIVE_TIME = "naive_time"
    """An ``interval_end`` without a UTC offset or ``Z``."""
    NOT_ALIGNED = "not_aligned"
    """An ``interval_end`` not on :00, :15, :30 or :45 UTC (to the second)."""
    NEGATIVE_ENERGY = "negative_energy"
    ENERGY_TOO_HIGH = "energy_too_high"
    """More in one interval than its meter can register (:func:`meshmeter.catalog.max_interval_energy_wh` of
    the meter's record), or an energy or counter above :data:`MAX_CUMULATIVE_WH`."""
    CONFLICT = "conflict"
    """One interval (or one sequence number) twice in a batch with different values."""
    COUNTER_BACKWARDS = "counter_backwards"
    """A cumulative counter lower than an earlier interval's in the same batch (registers never run
    backwards)."""
    UNKNOWN_METER = "unknown_meter"
    METER_MISMATCH = "meter_mismatch"
    """The data names another meter than the channel it came by (an MQTT topic)."""
    UNKNOWN_DEVICE = "unknown_device"
    """A device (EUI-64) the store has no MDT for."""
    NO_METER = "no_meter"
    """An MDT the store knows but has not assigned to a meter."""
    SEQUENCE_MISMATCH = "sequence_mismatch"
    """A device's sequence numbers and interval ends that do not advance together (15 min per record)."""
    INTERVAL_MISMATCH = "interval_mismatch"
    """Rows whose interval length (declared, given by start and end, or evident from their spacing) is not
    the meter's."""
    AMBIGUOUS_TIME = "ambiguous_time"
    """A local time that does not exist, or that occurs twice (the end of DST) where the order of the rows
    cannot tell which."""
    NOT_WHOLE_WH = "not_whole_wh"
    """An energy in kWh (or another unit) that is not a whole number of Wh."""


class IngestError(_ReasonedError, ValueError):
    """
    Input refused whole: nothing of it was stored.

    Parameters
    ----------
    reason : IngestReason or str
        Short machine-readable cause (:class:`IngestReason`).
    detail : str
        What exactly is wrong, naming the row and the field (``[0].intervals[3].energy_wh ...``,
        ``line 5: energy_wh ...``).
    field : str, optional
        The row and field alone, e.g. ``"intervals[3].energy_wh"`` or ``"line 5: energy_wh"``.
    problems : sequence of IngestProblem, optional
        Every problem found (at most :data:`MAX_PROBLEMS`); ``reason`` and ``field`` are the first's.
        Default: this one problem.
    total : int, optional
        How many problems there are in all, listed or not; default ``len(problems)``.
    """

    def __init__(
        self,
        reason: str,
        detail: str = "",
        *,
        field: str = "",
        problems: Sequence[IngestProblem] = (),
        total: int | None = None,
    ) -> None:
        super().__init__(str(reason), detail)
        self.field = field
        self.problems: tuple[IngestProblem, ...] = tuple(problems) or (
            IngestProblem(str(reason), field, f"{reason}: {detail}" if detail else str(reason)),
        )
        self.total = len(self.problems) if total is None else total

    @classmethod
    def of(cls, problems: Sequence[IngestProblem], total: int | None = None) -> IngestError:
        """One refusal listing ``problems`` by row (the first gives ``reason`` and ``field``)."""
        problems = sorted(problems, key=_row_key)
        first = problems[0]
        count = len(problems) if total is None else total
        if count == 1:
            detail = first.message.removeprefix(f"{first.reason}: ")
        else:
            lines = [f"{count} problems, nothing stored:", *(f"  {p.message}" for p in problems)]
            if count > len(problems):
                lines.append(f"  ... and {count - len(problems)} more")
            detail = "\n".join(lines)
        return cls(first.reason, detail, field=first.field, problems=problems, total=count)


@dataclass(frozen=True, slots=True)
class IngestProblem:
    """
    One problem of refused input.

    Attributes
    ----------
    reason : str
        :class:`IngestReason`.
    field : str
        The row and field, e.g. ``"line 5: energy_wh"``.
    message : str
        ``"reason: field ..."``: what is wrong, for people.
    """

    reason: str
    field: str
    message: str


def _row_key(problem: IngestProblem) -> tuple[int, tuple[int, ...]]:
    """Problems by row: the numbers in their field (``line 12``, ``[3].intervals[4]``), the others last."""
    numbers = tuple(int(n) for n in re.findall(r"[0-9]+", problem.field.split(":")[0]))
    return (0, numbers) if numbers and not problem.field.startswith("meter ") else (1, ())


class _Problems:
    """Problems collected while reading a batch: the first :data:`MAX_PROBLEMS` kept, all counted."""

    def __init__(self) -> None:
        self.items: list[IngestProblem] = []
        self.count = 0
        self._seen: set[str] = set()

    def add(self, error: IngestError, *, once: str | None = None) -> None:
        if once is not None:
            if once in self._seen:
                return
            self._seen.add(once)
        for problem in error.problems:
            self.count += 1
            if len(self.items) < MAX_PROBLEMS:
                self.items.append(problem)
        self.count += error.total - len(error.problems)

    def __bool__(self) -> bool:
        return self.count > 0

    def raise_any(self) -> None:
        if self.count:
            raise IngestError.of(self.items, self.count)


@dataclass(frozen=True, slots=True)
class IngestResult:
    """
    What an ingest call did.

    Attributes
    ----------
    accepted : int
        Rows (interval records) taken from the input, repeats included. [1]
    new : int
        Intervals stored for the first time. [1]
    duplicates : int
        Rows already stored with the same values, or repeated within the input: nothing stored. [1]
    rebuilt : int
        Provisional rows (energy not yet known, stored as 0) whose exact energy became known because the
        record before them arrived; each kept as a new revision. [1]
    provisional : int
        Rows stored provisionally by this call: their predecessor is not known yet (the first record seen
        of a device, or the first after a gap), so their energy is stored as 0 with their counter. [1]
    revised : int
        Intervals already stored with other values, kept beside them as a new revision (the store never
        overwrites raw data). [1]
    refused : mapping of str to str
        What was refused whole and why: a device's EUI-64 in hex, for :func:`ingest_deliveries`, mapped to
        ``"reason: detail"``. (JSON and CSV are refused by raising :class:`IngestError` instead.)
    spans : mapping of int or str to (int, int)
        The first and last interval end taken of each meter (its id, or its serial where the input named
        it so), seconds since the Unix epoch: what VEE has to look at again
        (:func:`meshmeter.services.ingest.validate_ingested`); results compare by their counts alone. [s]
    """

    accepted: int = 0
    new: int = 0
    duplicates: int = 0
    rebuilt: int = 0
    provisional: int = 0
    revised: int = 0
    refused: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    spans: Mapping[int | str, tuple[int, int]] = field(
        default_factory=lambda: MappingProxyType({}), compare=False
    )

    @property
    def stored(self) -> int:
        """Rows written to the store: new intervals, rebuilt and revised revisions. [1]"""
        return self.new + self.rebuilt + self.revised

    def __add__(self, other: IngestResult) -> IngestResult:
        return IngestResult(
            accepted=self.accepted + other.accepted,
            new=self.new + other.new,
            duplicates=self.duplicates + other.duplicates,
            rebuilt=self.rebuilt + other.rebuilt,
            provisional=self.provisional + other.provisional,
            revised=self.revised + other.revised,
            refused=MappingProxyType({**self.refused, **other.refused}),
            spans=_merged_spans(self.spans, other.spans),
        )


def _merged_spans(
    a: Mapping[int | str, tuple[int, int]], b: Mapping[int | str, tuple[int, int]]
) -> Mapping[int | str, tuple[int, int]]:
    """Two results' spans of interval ends by meter, joined. [s]"""
    out = dict(a)
    for key, (lo, hi) in b.items():
        old = out.get(key)
        out[key] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
    return MappingProxyType(out)


# ---------------------------------------------------------------------------------------------------
# from the DCAP
# ---------------------------------------------------------------------------------------------------


class _RefusedError(Exception):
    def __init__(self, reason: IngestReason, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


def _end(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _device_records(device: bytes, records: Sequence[IntervalRecord]) -> dict[int, IntervalRecord]:
    """One record per sequence number, checked for consistency; raises _RefusedError."""
    by_sequence: dict[int, IntervalRecord] = {}
    for record in records:
        seen = by_sequence.setdefault(record.sequence, record)
        if seen != record:
            raise _RefusedError(
                IngestReason.CONFLICT,
                f"device {device.hex()} sent sequence {record.sequence} twice with different values: "
                f"{seen} and {record}",
            )
    ordered = sorted(by_sequence.values(), key=lambda r: r.sequence)
    origin = ordered[0].interval_end_s - INTERVAL_S * ordered[0].sequence
    previous: IntervalRecord | None = None
    for record in ordered:
        if record.interval_end_s - INTERVAL_S * record.sequence != origin:
            raise _RefusedError(
                IngestReason.SEQUENCE_MISMATCH,
                f"device {device.hex()}: sequence {record.sequence} ends at {_end(record.interval_end_s)}, "
                f"but sequence {ordered[0].sequence} ends at {_end(ordered[0].interval_end_s)} "
                f"(one record per {INTERVAL_S} s)",
            )
        if previous is not None and record.cumulative_pulses < previous.cumulative_pulses:
            raise _RefusedError(
                IngestReason.COUNTER_BACKWARDS,
                f"device {device.hex()}: sequence {record.sequence} counts {record.cumulative_pulses} "
                f"pulses, fewer than sequence {previous.sequence} ({previous.cumulative_pulses})",
            )
        previous = record
    return by_sequence


def _ingest_device(
    store: Store, meter: Meter, device: bytes, records: dict[int, IntervalRecord], source: str, repeats: int
) -> IngestResult:
    """Store one device's records (one transaction); raises _RefusedError before writing anything."""
    meter_id = meter.id
    # The MDT's records are 15 minutes long (manual §5.1), whatever the meter's record says.
    limit = max_interval_energy_wh(meter, interval_s=INTERVAL_S)
    batch: dict[datetime, tuple[int, int]] = {}  # interval_end -> (sequence, cumulative_wh)
    for record in records.values():
        batch[_end(record.interval_end_s)] = (record.sequence, record.cumulative_pulses * PULSE_WH)
    lo, hi = min(batch), max(batch)
    stored = store.raw_intervals(
        meter_id=meter_id, start=lo - 2 * _INTERVAL, end=hi + _INTERVAL, all_revisions=True
    )
    latest: dict[datetime, RawInterval] = {}
    values: dict[datetime, set[tuple[int, int | None]]] = defaultdict(set)
    for row in stored:  # by interval end, then revision: the last one of an end is its latest
        latest[row.interval_end] = row
        values[row.interval_end].add((row.energy_wh, row.cumulative_wh))

    def counter(end: datetime) -> int | None:
        """The cumulative counter of this meter and source at an interval end, where known."""
        if end in batch:
            return batch[end][1]
        row = latest.get(end)
        if row is None or row.source != source or row.cumulative_wh is None:
            return None
        return row.cumulative_wh

    rows: list[tuple[datetime, int, int]] = []
    new = duplicates = rebuilt = provisional = revised = 0
    for end in sorted(batch):
        sequence, cumulative = batch[end]
        before = counter(end - _INTERVAL)
        exact: int | None
        if sequence == 0:
            exact = cumulative  # the MDT counts from 0 at commissioning (manual §5.1)
        elif before is not None and before <= cumulative:
            exact = cumulative - before
        else:
            exact = None  # predecessor unknown (or another device's counter): provisional
        if exact is not None and exact > limit:
            raise _RefusedError(
                IngestReason.ENERGY_TOO_HIGH,
                f"device {device.hex()}: sequence {sequence} registers "
                f"{_too_much(exact, limit, meter, INTERVAL_S)}",
            )
        here = latest.get(end)
        if (
            here is not None
            and here.cumulative_wh == cumulative
            and (exact is None or (exact, cumulative) in values[end])
        ):
            duplicates += 1  # the same record again (provisional again: keep what is stored)
        else:
            if here is None:
                new += 1
            elif here.cumulative_wh == cumulative and here.energy_wh == 0:
                rebuilt += 1  # a provisional row made exact
            else:
                revised += 1  # other values for a stored interval: kept as a revision
            if exact is None:
                provisional += 1
            rows.append((end, 0 if exact is None else exact, cumulative))
        # The stored row after this one, if provisional, is now exact.
        after = end + _INTERVAL
        successor = latest.get(after)
        if (
            after not in batch
            and successor is not None
            and successor.source == source
            and successor.cumulative_wh is not None
            and successor.energy_wh == 0
            and cumulative < successor.cumulative_wh
        ):
            energy = successor.cumulative_wh - cumulative
            if energy > limit:
                raise _RefusedError(
                    IngestReason.ENERGY_TOO_HIGH,
                    f"device {device.hex()}: the interval ending {after.isoformat()} would register "
                    f"{_too_much(energy, limit, meter, INTERVAL_S)}",
                )
            rows.append((after, energy, successor.cumulative_wh))
            rebuilt += 1
    if rows:
        store.insert_raw_intervals(meter_id=meter_id, rows=rows, source=source)
    span = (int(min(batch).timestamp()), int(max(batch).timestamp()))
    return IngestResult(
        accepted=len(records) + repeats,
        new=new,
        duplicates=duplicates + repeats,
        rebuilt=rebuilt,
        provisional=provisional,
        revised=revised,
        spans=MappingProxyType({meter_id: span}),
    )


def ingest_deliveries(
    store: Store,
    deliveries: Iterable[Delivery | tuple[bytes, IntervalRecord]],
    *,
    source: str = "dcap",
) -> IngestResult:
    """
    Store the DCAP's interval records as raw intervals, energies rebuilt from cumulative counters.

    Parameters
    ----------
    store : Store
        The store; each device must be an MDT of it (``create_mdt``) assigned to a meter.
    deliveries : iterable of Delivery or (bytes, IntervalRecord)
        Records as the DCAP received them (:attr:`meshmeter.amr.dcap.Dcap.deliveries`), in any order,
        late, repeated. A record's counter is pulses of 10 Wh since the MDT's commissioning (manual §5.1).
    source : str, optional
        The ``source`` of the stored rows; counters are compared only with rows of the same source.

    Returns
    -------
    IngestResult
        Counts; devices refused whole in ``refused`` (EUI-64 hex → reason), the others stored.

    Notes
    -----
    The rules (``docs/ingest.md``): a record's cumulative energy is ``pulses × 10`` [Wh]. Its interval
    energy is its counter less its predecessor's (the same meter's row 15 minutes earlier, of this batch or
    stored), or the counter itself for sequence 0 (the MDT counts from 0 at commissioning). A record whose
    predecessor is not known is stored *provisionally*: energy 0 with its counter. When the predecessor
    arrives, the provisional row is rebuilt exactly (a new revision). Each device's records are stored in
    one transaction; a device refused (unknown, not assigned, inconsistent, impossible energy: more in one
    interval than its meter can register, :func:`meshmeter.catalog.max_interval_energy_wh` of the meter's
    record at 15 minutes) stores nothing and does not hold back the others.
    """
    by_device: dict[bytes, list[IntervalRecord]] = defaultdict(list)
    for i, item in enumerate(deliveries):
        if isinstance(item, Delivery):
            device, record = item.device, item.record
        elif isinstance(item, tuple) and len(item) == 2:
            device, record = item
        else:
            raise ValueError(f"deliveries[{i}] must be a Delivery or (eui64, IntervalRecord), got {item!r}")
        if not isinstance(device, bytes) or len(device) != 8 or not isinstance(record, IntervalRecord):
            raise ValueError(f"deliveries[{i}] must be (8-byte eui64, IntervalRecord), got {item!r}")
        by_device[device].append(record)
    total = IngestResult()
    refused: dict[str, str] = {}
    for device, records in by_device.items():
        try:
            mdt = store.get_mdt(eui64=device)
            if mdt is None:
                raise _RefusedError(IngestReason.UNKNOWN_DEVICE, f"device {device.hex()} is not a known MDT")
            meter = None if mdt.meter_id is None else store.get_meter(meter_id=mdt.meter_id)
            if meter is None:
                raise _RefusedError(IngestReason.NO_METER, f"MDT {device.hex()} is not assigned to a meter")
            unique = _device_records(device, records)
            total += _ingest_device(store, meter, device, unique, source, len(records) - len(unique))
        except _RefusedError as exc:
            refused[device.hex()] = f"{exc.reason}: {exc.detail}"
    if refused:
        total += IngestResult(refused=MappingProxyType(refused))
    return total


# ---------------------------------------------------------------------------------------------------
# from files, HTTP bodies, MQTT messages: JSON and CSV
# ---------------------------------------------------------------------------------------------------


class IngestRow(NamedTuple):
    """
    One interval read from outside, before the batch checks of :func:`ingest_rows`.

    Attributes
    ----------
    where : str
        How messages name the row: ``"[0].intervals[3]"``, ``"line 5"``.
    sep : str
        Between the row's name and a field's: ``"."`` (JSON) or ``": "`` (CSV).
    meter_at : str
        How messages name the row's meter: ``"[0].meter"``, ``"line 5: meter"``.
    serial : str
        The meter's serial number.
    interval_end : datetime
        End of the interval, aware UTC, a whole second on the 5-minute grid.
    energy_wh : int
        Energy in the interval, 0 to :data:`MAX_CUMULATIVE_WH`; :func:`ingest_rows` refuses one above what
        its meter can register. [Wh]
    cumulative_wh : int or None
        The register at its end. [Wh]
    interval_s : int or None
        The interval's length when the input says it (declared, or from start and end); None when not. [s]
    length_at : str
        Where the input says it (``"[0].interval_minutes"``, ``"line 5: start"``), for messages.
    """

    where: str
    sep: str
    meter_at: str
    serial: str
    interval_end: datetime
    energy_wh: int
    cumulative_wh: int | None
    interval_s: int | None = None
    length_at: str = ""


_Row = IngestRow


def _fail(reason: IngestReason, where: str, sep: str, name: str, message: str) -> IngestError:
    place = f"{where}{sep}{name}" if where else name
    return IngestError(reason, f"{place} {message}", field=place)


def _parse_end(value: object, where: str, sep: str) -> datetime:
    name = "interval_end"
    if not isinstance(value, str):
        raise _fail(IngestReason.BAD_TYPE, where, sep, name, f"must be an ISO-8601 string, got {value!r}")
    try:
        text = value.strip()
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
            # fromisoformat stops reading at a NUL ("...Z\x00" would be taken): no control character
            raise ValueError(text)
        end = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(
            IngestReason.BAD_TIME, where, sep, name, f"is not an ISO-8601 date and time: {value!r}"
        ) from None
    if end.tzinfo is None or end.utcoffset() is None:
        raise _fail(
            IngestReason.NAIVE_TIME,
            where,
            sep,
            name,
            f"must carry a UTC offset or Z, got the naive time {value!r}",
        )
    return _check_grid_end(end.astimezone(UTC), where, sep, name, value)


def _check_grid_end(end: datetime, where: str, sep: str, name: str, value: object) -> datetime:
    """An aware end on the finest grid (5 minutes, to the second); the meter's grid is checked later."""
    if end.microsecond or int(end.timestamp()) % _FINEST_S:
        raise _fail(
            IngestReason.NOT_ALIGNED,
            where,
            sep,
            name,
            f"must end an interval of the meter (on its 5, 15, 30 or 60-minute grid in UTC, to the "
            f"second), got {value!r}",
        )
    return end


def _check_energy(value: object, where: str, sep: str, name: str, *, cumulative: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(IngestReason.BAD_TYPE, where, sep, name, f"must be an integer [Wh], got {value!r}")
    if value < 0:
        raise _fail(IngestReason.NEGATIVE_ENERGY, where, sep, name, f"must not be negative, got {value} Wh")
    if value > MAX_CUMULATIVE_WH:  # the meter's own limit is checked where the meter is known
        why = "the largest register stored" if cumulative else "the largest value stored"
        raise _fail(
            IngestReason.ENERGY_TOO_HIGH,
            where,
            sep,
            name,
            f"is {value} Wh, above {MAX_CUMULATIVE_WH} Wh ({why})",
        )
    return value


def _check_serial(value: object, where: str, sep: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(IngestReason.BAD_TYPE, where, sep, "meter", f"must be a serial number, got {value!r}")
    return value


def _check_minutes(value: object, where: str, sep: str) -> int:
    """A declared interval length in minutes (5, 15, 30 or 60) as seconds."""
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and _INT.fullmatch(text):
        text = int(text)
    if isinstance(text, int) and not isinstance(text, bool):
        try:
            return int(IntervalLength(text * 60))
        except ValueError:
            pass
    raise _fail(
        IngestReason.BAD_TYPE, where, sep, _LENGTH_COLUMN, f"must be 5, 15, 30 or 60 [min], got {value!r}"
    )


def _decode(data: str | bytes | bytearray) -> str:
    if isinstance(data, bytes | bytearray):
        try:
            return bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise IngestError(IngestReason.MALFORMED, f"the input is not UTF-8: {exc}") from None
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    raise TypeError(f"input must be str or bytes, got {type(data).__name__}")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise IngestError(IngestReason.MALFORMED, f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise IngestError(IngestReason.MALFORMED, f"{name} is not a JSON number")


_OBJECT_KEYS = frozenset({"meter", "intervals"})
_OPTIONAL_OBJECT_KEYS = frozenset({_LENGTH_COLUMN})
_INTERVAL_KEYS = frozenset({"interval_end", "energy_wh", "cumulative_wh"})

_Parsed = tuple[list[IngestRow], dict[str, str], _Problems]


def _json_object(prefix: str, obj: object, serials: dict[str, str]) -> Any:
    """One object's meter, declared length and intervals (raises on its first problem)."""
    sep = "." if prefix else ""
    if not isinstance(obj, dict):
        raise IngestError(
            IngestReason.MALFORMED,
            f"{prefix} must be an object {{'meter', 'intervals'}}, got {type(obj).__name__}",
            field=prefix,
        )
    for key in sorted(_OBJECT_KEYS - obj.keys()):
        raise _fail(IngestReason.MISSING_FIELD, prefix, sep, key, "is missing")
    for key in sorted(obj.keys() - _OBJECT_KEYS - _OPTIONAL_OBJECT_KEYS):
        raise _fail(IngestReason.EXTRA_FIELD, prefix, sep, key, "is not a field of the format")
    serial = _check_serial(obj["meter"], prefix, sep)
    length = _check_minutes(obj[_LENGTH_COLUMN], prefix, sep) if _LENGTH_COLUMN in obj else None
    serials.setdefault(serial, f"{prefix}{sep}meter")
    intervals = obj["intervals"]
    if not isinstance(intervals, list):
        raise _fail(IngestReason.BAD_TYPE, prefix, sep, "intervals", f"must be a list, got {intervals!r:.80}")
    return serial, length, intervals


def _json_rows(document: object) -> _Parsed:
    if isinstance(document, dict):
        objects: list[tuple[str, object]] = [("", document)]
    elif isinstance(document, list):
        objects = [(f"[{i}]", item) for i, item in enumerate(document)]
    else:
        raise IngestError(
            IngestReason.MALFORMED,
            f"the document must be an object {{'meter', 'intervals'}} or a list of them, got "
            f"{type(document).__name__}",
        )
    rows: list[IngestRow] = []
    serials: dict[str, str] = {}
    problems = _Problems()
    for prefix, obj in objects:
        sep = "." if prefix else ""
        try:
            serial, length, intervals = _json_object(prefix, obj, serials)
        except IngestError as exc:
            problems.add(exc)
            continue
        meter_at = f"{prefix}{sep}meter"
        length_at = f"{prefix}{sep}{_LENGTH_COLUMN}"
        for j, item in enumerate(intervals):
            where = f"{prefix}{sep}intervals[{j}]"
            try:
                if not isinstance(item, dict):
                    raise IngestError(
                        IngestReason.BAD_TYPE, f"{where} must be an object, got {item!r:.80}", field=where
                    )
                for key in sorted({"interval_end", "energy_wh"} - item.keys()):
                    raise _fail(IngestReason.MISSING_FIELD, where, ".", key, "is missing")
                for key in sorted(item.keys() - _INTERVAL_KEYS):
                    raise _fail(IngestReason.EXTRA_FIELD, where, ".", key, "is not a field of the format")
                end = _parse_end(item["interval_end"], where, ".")
                energy = _check_energy(item["energy_wh"], where, ".", "energy_wh", cumulative=False)
                raw_cumulative = item.get("cumulative_wh")
                cumulative = (
                    None
                    if raw_cumulative is None
                    else _check_energy(raw_cumulative, where, ".", "cumulative_wh", cumulative=True)
                )
            except IngestError as exc:
                problems.add(exc)
                continue
            rows.append(IngestRow(where, ".", meter_at, serial, end, energy, cumulative, length, length_at))
    return rows, serials, problems


def _csv_int(text: str, where: str, name: str, *, cumulative: bool) -> int:
    if not _INT.fullmatch(text):
        raise _fail(IngestReason.BAD_TYPE, where, ": ", name, f"must be an integer [Wh], got {text!r}")
    return _check_energy(int(text), where, ": ", name, cumulative=cumulative)


_CSV_HEADERS = (
    CSV_COLUMNS[:3],
    CSV_COLUMNS,
    (*CSV_COLUMNS[:3], _LENGTH_COLUMN),
    (*CSV_COLUMNS, _LENGTH_COLUMN),
)


def _csv_rows(text: str) -> _Parsed:
    try:
        table = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise IngestError(IngestReason.MALFORMED, f"not valid CSV: {exc}") from None
    lines = [(n, cells) for n, cells in enumerate(table, start=1) if cells and any(c.strip() for c in cells)]
    if not lines:
        raise IngestError(
            IngestReason.MALFORMED, f"the CSV is empty: the header {','.join(CSV_COLUMNS)} is missing"
        )
    header_line, header = lines[0]
    names = tuple(c.strip() for c in header)
    if names not in _CSV_HEADERS:
        missing = [c for c in CSV_COLUMNS[:3] if c not in names]
        reason = IngestReason.MISSING_FIELD if missing else IngestReason.EXTRA_FIELD
        raise IngestError(
            reason,
            f"line {header_line}: the header must be {','.join(CSV_COLUMNS[:3])}[,cumulative_wh]"
            f"[,{_LENGTH_COLUMN}], got {','.join(names)!r}",
            field=f"line {header_line}",
        )
    rows: list[IngestRow] = []
    serials: dict[str, str] = {}
    problems = _Problems()
    for n, cells in lines[1:]:
        where = f"line {n}"
        try:
            rows.append(_csv_row(where, names, cells, serials))
        except IngestError as exc:
            problems.add(exc)
    return rows, serials, problems


def _csv_row(where: str, names: tuple[str, ...], cells: list[str], serials: dict[str, str]) -> IngestRow:
    if len(cells) != len(names):
        reason = IngestReason.MISSING_FIELD if len(cells) < len(names) else IngestReason.EXTRA_FIELD
        raise IngestError(reason, f"{where} has {len(cells)} fields, the header {len(names)}", field=where)
    values = dict(zip(names, (c.strip() for c in cells), strict=True))
    for name in (n for n in names if n != "cumulative_wh"):
        if not values[name]:
            raise _fail(IngestReason.MISSING_FIELD, where, ": ", name, "is empty")
    serial = _check_serial(values["meter"], where, ": ")
    serials.setdefault(serial, f"{where}: meter")
    end = _parse_end(values["interval_end"], where, ": ")
    energy = _csv_int(values["energy_wh"], where, "energy_wh", cumulative=False)
    text_cumulative = values.get("cumulative_wh", "")
    cumulative = (
        _csv_int(text_cumulative, where, "cumulative_wh", cumulative=True) if text_cumulative else None
    )
    length = _check_minutes(values[_LENGTH_COLUMN], where, ": ") if _LENGTH_COLUMN in values else None
    return IngestRow(
        where, ": ", f"{where}: meter", serial, end, energy, cumulative, length, f"{where}: {_LENGTH_COLUMN}"
    )


def _spacing_s(ends_s: IntArray, interval_s: int) -> int | None:
    """
    The one spacing of sorted interval ends when every one is the same multiple (> 1) of the meter's
    length and itself an interval length (at least 4 rows): data of that coarser length, sent as if of
    the meter's. None otherwise.
    """
    if ends_s.size < 4:
        return None
    steps = np.unique(np.diff(ends_s))
    if steps.size != 1:
        return None
    step = int(steps[0])
    if step > interval_s and step % interval_s == 0 and step in {int(n) for n in IntervalLength}:
        return step
    return None


def _length_problem(serial: str, count: int, step_s: int, interval_s: int) -> IngestError:
    step, own = step_s // 60, interval_s // 60
    return IngestError(
        IngestReason.INTERVAL_MISMATCH,
        f"the {count} rows of meter {serial!r} are all {step} minutes apart: they look like {step}-minute "
        f"data, but the meter has {own}-minute intervals, and they would be stored as {own}-minute "
        f"intervals with the rest missing. Send {own}-minute intervals; or, for {step}-minute data, use a "
        f"meter of {step}-minute intervals (meshmeter meter add --interval {step}) and declare the length "
        f'("{_LENGTH_COLUMN}": {step} in the JSON object, an {_LENGTH_COLUMN} column in CSV, or the '
        f"mapping's {_LENGTH_COLUMN}); if they are {own}-minute intervals with gaps, declare "
        f"{_LENGTH_COLUMN} {own}",
        field=f"meter {serial}",
    )


def _store_rows(store: Store, parsed: _Parsed, source: str, meter: str | None) -> IngestResult:
    """Check the batch against itself, the meters and the store, then store it meter by meter."""
    rows, serials, problems = parsed
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"source must be a non-empty string, got {source!r}")
    for serial, meter_at in serials.items():
        if meter is not None and serial != meter:
            problems.add(
                IngestError(
                    IngestReason.METER_MISMATCH,
                    f"{meter_at} is {serial!r}, but the data came for meter {meter!r}",
                    field=meter_at,
                )
            )
    meter_ids: dict[str, int] = {}
    lengths: dict[str, int] = {}
    records: dict[str, Meter] = {}
    limits: dict[str, int] = {}
    for serial, meter_at in serials.items():
        found = store.get_meter(serial=serial)
        if found is None:
            problems.add(
                IngestError(
                    IngestReason.UNKNOWN_METER, f"{meter_at} {serial!r} is not a known meter", field=meter_at
                )
            )
            continue
        meter_ids[serial] = found.id
        lengths[serial] = int(found.interval_s)
        records[serial] = found
        limits[serial] = max_interval_energy_wh(found)
    by_serial: dict[str, dict[datetime, IngestRow]] = defaultdict(dict)
    declared: set[str] = set()
    repeats = 0
    for row in rows:
        length = lengths.get(row.serial)
        if length is not None:
            minutes = length // 60
            if row.interval_s is not None:
                declared.add(row.serial)
                if row.interval_s != length:
                    problems.add(
                        IngestError(
                            IngestReason.INTERVAL_MISMATCH,
                            f"{row.length_at} gives {row.interval_s // 60}-minute intervals, but meter "
                            f"{row.serial!r} has {minutes}-minute intervals (its data is refused at any "
                            "other length: nothing is split or summed on the way in)",
                            field=row.length_at,
                        ),
                        once=f"{row.length_at}|{row.serial}",
                    )
            if int(row.interval_end.timestamp()) % length:
                problems.add(
                    _fail(
                        IngestReason.NOT_ALIGNED,
                        row.where,
                        row.sep,
                        "interval_end",
                        f"must end a {minutes}-minute interval of meter {row.serial!r} (on the "
                        f"{minutes}-minute grid in UTC, to the second), got {row.interval_end.isoformat()}",
                    )
                )
            limit = limits[row.serial]
            if row.energy_wh > limit:
                problems.add(
                    _fail(
                        IngestReason.ENERGY_TOO_HIGH,
                        row.where,
                        row.sep,
                        "energy_wh",
                        f"is {_too_much(row.energy_wh, limit, records[row.serial], length)}",
                    )
                )
        seen = by_serial[row.serial].setdefault(row.interval_end, row)
        if seen is row:
            continue
        if (seen.energy_wh, seen.cumulative_wh) != (row.energy_wh, row.cumulative_wh):
            problems.add(
                _fail(
                    IngestReason.CONFLICT,
                    row.where,
                    row.sep,
                    "interval_end",
                    f"{row.interval_end.isoformat()} of meter {row.serial!r} is also at {seen.where} with "
                    f"other values: ({seen.energy_wh}, {seen.cumulative_wh}) and "
                    f"({row.energy_wh}, {row.cumulative_wh})",
                )
            )
        repeats += 1
    for serial, batch in by_serial.items():
        ordered = [batch[end] for end in sorted(batch)]
        last: IngestRow | None = None
        for row in ordered:
            if row.cumulative_wh is None:
                continue
            if last is not None and last.cumulative_wh is not None and row.cumulative_wh < last.cumulative_wh:
                problems.add(
                    _fail(
                        IngestReason.COUNTER_BACKWARDS,
                        row.where,
                        row.sep,
                        "cumulative_wh",
                        f"{row.cumulative_wh} Wh is below {last.cumulative_wh} Wh at {last.where}, an "
                        "earlier interval of the same meter (a register never runs backwards)",
                    )
                )
            last = row
        if serial in lengths and serial not in declared:
            ends_s = np.array([int(end.timestamp()) for end in sorted(batch)], dtype=np.int64)
            step = _spacing_s(ends_s, lengths[serial])
            if step is not None:
                problems.add(_length_problem(serial, len(batch), step, lengths[serial]))
    problems.raise_any()
    # Every check passed: nothing below refuses input.
    columns: list[tuple[int | str, IntArray, IntArray, IntArray]] = []
    for serial, batch in by_serial.items():
        ends = sorted(batch)
        columns.append(
            (
                meter_ids[serial],
                np.array([int(end.timestamp()) for end in ends], dtype=np.int64),
                np.array([batch[end].energy_wh for end in ends], dtype=np.int64),
                np.array(
                    [_NONE if batch[end].cumulative_wh is None else batch[end].cumulative_wh for end in ends],
                    dtype=np.int64,
                ),
            )
        )
    return _store_columns(store, columns, source, accepted=len(rows), repeats=repeats)


def ingest_rows(
    store: Store,
    rows: Sequence[IngestRow],
    *,
    source: str,
    meter: str | None = None,
    problems: Sequence[IngestProblem] = (),
    problem_count: int | None = None,
) -> IngestResult:
    """
    Store rows read from outside (by :mod:`meshmeter.headend.mapping`, say): every batch check, then
    one transaction; the whole batch or nothing.

    Parameters
    ----------
    store : Store
        The store; each row's meter must exist.
    rows : sequence of IngestRow
        The rows, in input order.
    source : str
        The ``source`` of the stored rows.
    meter : str, optional
        When given, every row must be of this meter.
    problems : sequence of IngestProblem, optional
        Problems the reader found already: listed first, and nothing is stored.
    problem_count : int, optional
        How many problems the reader found in all (default ``len(problems)``).

    Raises
    ------
    IngestError
        Listing every problem (up to :data:`MAX_PROBLEMS`): those given, unknown meters, rows off the
        meter's grid or of another length, impossible energies, conflicts, counters running backwards.
    """
    found = _Problems()
    if problems:
        found.add(IngestError.of(problems, problem_count))
    serials: dict[str, str] = {}
    for row in rows:
        serials.setdefault(row.serial, row.meter_at)
    return _store_rows(store, (list(rows), serials, found), source, meter)


def _store_columns(
    store: Store,
    columns: Sequence[tuple[int | str, IntArray, IntArray, IntArray]],
    source: str,
    *,
    accepted: int,
    repeats: int,
) -> IngestResult:
    """Store checked columns of every meter in one transaction; count what happened."""
    results = store.insert_raw_interval_batches(batches=columns, source=source)
    spans: Mapping[int | str, tuple[int, int]] = MappingProxyType({})
    for meter, ends, _, _ in columns:
        if ends.size:
            spans = _merged_spans(spans, {meter: (int(ends.min()), int(ends.max()))})
    return IngestResult(
        accepted=accepted,
        new=sum(r.new for r in results),
        duplicates=sum(r.duplicates for r in results) + repeats,
        revised=sum(r.revised for r in results),
        spans=spans,
    )


_END = itemgetter("interval_end")
_ENERGY = itemgetter("energy_wh")
_CUMULATIVE = itemgetter("cumulative_wh")
_UTC_STAMP = "2026-01-04T00:15:00Z"
_UTC_STAMP_LENGTH = len(_UTC_STAMP)
_STAMP_DIGITS = np.array([i for i, ch in enumerate(_UTC_STAMP) if ch.isdigit()])
_STAMP_MARKS = np.array([i for i, ch in enumerate(_UTC_STAMP) if not ch.isdigit()])
_STAMP_MARK_BYTES = np.frombuffer(_UTC_STAMP.encode("ascii"), dtype=np.uint8)[_STAMP_MARKS]
_YEAR_1_S = int(datetime(1, 1, 1, tzinfo=UTC).timestamp())
"""0001-01-01T00:00:00Z, the first instant Python's ``datetime`` (and so the row path) reads. [s]"""


def _utc_stamps(stamps: list[str]) -> IntArray | None:
    """
    Interval ends written ``YYYY-MM-DDTHH:MM:SSZ`` as seconds since the Unix epoch, or None when any is
    not exactly that, or not a date and time that :func:`_parse_end` reads to the same instant.

    Each stamp must be 20 ASCII characters, digits where the form has digits and the form's ``-``, ``T``,
    ``:``, ``Z`` elsewhere: a sign, a five-digit year, a space, a lower-case ``t`` or ``z``, an offset, a
    fraction go to the row path. numpy then refuses the impossible calendar (month 13, February 30, hour
    24, a leap second ``:60``), and year 0000, which numpy reads but Python does not, is refused here.
    What passes is a Python ``datetime`` in UTC, read by numpy to the same second. [s]
    """
    raw = "".join(stamps).encode("utf-8")
    if len(raw) != _UTC_STAMP_LENGTH * len(stamps):  # a stamp of other length, or not ASCII
        return None
    table = np.frombuffer(raw, dtype=np.uint8).reshape(len(stamps), _UTC_STAMP_LENGTH)
    if (table[:, _STAMP_DIGITS] - ord("0") > 9).any() or (table[:, _STAMP_MARKS] != _STAMP_MARK_BYTES).any():
        return None
    try:
        ends_s = np.array([stamp[:-1] for stamp in stamps], dtype="datetime64[s]").astype(np.int64)
    except ValueError:
        return None
    if ends_s.size and int(ends_s.min()) < _YEAR_1_S:
        return None
    return ends_s


def _fast_json(store: Store, text: str, source: str, meter: str | None) -> IngestResult | None:
    """
    The common case of :func:`ingest_json` checked over columns (numpy) instead of row by row.

    Takes a document whose every interval has the three members, integer energies and counters (or
    null), and ends written ``YYYY-MM-DDTHH:MM:SSZ``. It returns None, having stored nothing, as soon as
    anything differs from that or any check fails: the row-by-row path then decides, and names the
    row and the field of any error. Both paths accept and refuse the same documents.
    """
    if not isinstance(source, str) or not source.strip() or "\\" in text:
        return None  # an escape (\u0041, \") could hide a colon or a key from the count below
    try:
        document = orjson.loads(text)  # the standard library's parser, about twice as fast
    except orjson.JSONDecodeError:
        return None
    objects = document if isinstance(document, list) else [document]
    if not objects or not all(type(o) is dict and len(o) == 2 for o in objects):
        return None
    try:
        parts = [(o["meter"], o["intervals"]) for o in objects]
    except KeyError:
        return None
    n = 0
    with_counter = 0
    by_serial: dict[str, list[tuple[IntArray, IntArray, IntArray]]] = defaultdict(list)
    serials: set[str] = set()
    for serial, items in parts:
        if type(serial) is not str or not serial.strip() or type(items) is not list:
            return None
        if meter is not None and serial != meter:
            return None
        serials.add(serial)
        if not items:
            continue
        if set(map(type, items)) != {dict} or set(map(len, items)) != {3}:
            return None
        try:
            ends = list(map(_END, items))
            energy = list(map(_ENERGY, items))
            cumulative = list(map(_CUMULATIVE, items))
        except KeyError:
            return None
        if (
            set(map(type, ends)) != {str}
            or set(map(type, energy)) != {int}
            or not set(map(type, cumulative)) <= {int, type(None)}
        ):
            return None
        ends_s = _utc_stamps(ends)
        if ends_s is None:
            return None
        counters = len(cumulative) - cumulative.count(None)
        try:
            energy_wh = np.array(energy, dtype=np.int64)
            if counters < len(cumulative):
                sent = np.array([c for c in cumulative if c is not None], dtype=np.int64)
                cumulative = [_NONE if c is None else c for c in cumulative]
                cumulative_wh = np.array(cumulative, dtype=np.int64)
            else:
                cumulative_wh = sent = np.array(cumulative, dtype=np.int64)
        except (ValueError, OverflowError):
            return None
        if sent.size and (sent < 0).any():
            return None
        n += len(items)
        with_counter += counters
        by_serial[serial].append((ends_s, energy_wh, cumulative_wh))
    # No key was given twice (a parser keeps the last one silently): every colon of the text is one
    # member read or a colon of a string read. The text has no escapes, so each string read is written
    # as it is; the keys have no colon, an end has two. A member given twice adds its colon (and those of
    # its value) to the text but not to what was read.
    colons = 2 * len(objects) + 5 * n + sum(serial.count(":") for serial, _ in parts)
    if text.count(":") != colons:
        return None
    columns: list[tuple[int | str, IntArray, IntArray, IntArray]] = [
        (serial, *(np.empty(0, dtype=np.int64),) * 3) for serial in serials - by_serial.keys()
    ]  # an object without intervals names a meter too: it must exist
    lengths: dict[str, int] = {}
    limits: dict[str, int] = {}
    for serial in by_serial:
        found = store.get_meter(serial=serial)
        if found is None:
            return None  # the row-by-row path names the meter and where
        lengths[serial] = int(found.interval_s)
        limits[serial] = max_interval_energy_wh(found)  # the row path's limit, of the same record
    repeats = 0
    for serial, chunks in by_serial.items():
        ends_s, energy_wh, cumulative_wh = (np.concatenate(c) for c in zip(*chunks, strict=True))
        length = lengths[serial]
        if (ends_s % length).any() or (energy_wh < 0).any() or (energy_wh > limits[serial]).any():
            return None
        if not (np.diff(ends_s) > 0).all():
            order = np.argsort(ends_s, kind="stable")
            ends_s, energy_wh, cumulative_wh = ends_s[order], energy_wh[order], cumulative_wh[order]
            same = np.flatnonzero(np.diff(ends_s) == 0)
            if same.size:
                if (energy_wh[same] != energy_wh[same + 1]).any() or (
                    cumulative_wh[same] != cumulative_wh[same + 1]
                ).any():
                    return None
                keep = np.append(True, np.diff(ends_s) != 0)
                repeats += int(same.size)
                ends_s, energy_wh, cumulative_wh = ends_s[keep], energy_wh[keep], cumulative_wh[keep]
        counted = cumulative_wh[cumulative_wh != _NONE]
        if (np.diff(counted) < 0).any() or _spacing_s(ends_s, length) is not None:
            return None
        columns.append((serial, ends_s, energy_wh, cumulative_wh))
    try:
        return _store_columns(store, columns, source, accepted=n, repeats=repeats)
    except UnknownMeterError:
        return None  # nothing was stored; the row-by-row path names the meter and where


def ingest_json(
    store: Store, data: str | bytes | bytearray, *, source: str, meter: str | None = None
) -> IngestResult:
    """
    Store interval data given as JSON; the whole document or nothing.

    Parameters
    ----------
    store : Store
        The store; each meter must exist (``create_meter``).
    data : str or bytes
        UTF-8 JSON: ``{"meter": SERIAL, "intervals": [{"interval_end": ISO-8601 with an offset or Z,
        "energy_wh": int, "cumulative_wh": int or null (optional)}, ...]}`` or a list of such objects
        (``docs/ingest.md``). Energy in the interval [Wh], at most what the meter can register in one of
        its intervals (:func:`meshmeter.catalog.max_interval_energy_wh` of its record: 15,180 Wh in 15
        minutes for a dual element Mini Meter on 200:0.1 A CTs); cumulative register at its end [Wh].
    source : str
        The ``source`` of the stored rows (``"http"``, ``"mqtt"``, ``"file"`` ...).
    meter : str, optional
        When given, every object must be for this meter (the serial of an MQTT topic).

    Returns
    -------
    IngestResult

    Raises
    ------
    IngestError
        Malformed JSON, a missing or extra field, a wrong type, an unknown meter, a naive or misaligned
        ``interval_end``, a negative energy or one above the meter's own limit, one interval twice with
        different values, a counter running backwards: the reason, the row and the field; nothing is
        stored.
    """
    text = _decode(data)
    fast = _fast_json(store, text, source, meter)
    if fast is not None:
        return fast
    return _row_json(store, text, source, meter)


def _row_json(store: Store, text: str, source: str, meter: str | None) -> IngestResult:
    """The plain path of :func:`ingest_json`: parsed by the standard library, checked row by row."""
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise IngestError(IngestReason.MALFORMED, f"not valid JSON: {exc}") from None
    except RecursionError:
        raise IngestError(IngestReason.MALFORMED, "the JSON is nested too deeply") from None
    return _store_rows(store, _json_rows(document), source, meter)


def ingest_csv(store: Store, data: str | bytes | bytearray, *, source: str) -> IngestResult:
    """
    Store interval data given as CSV; the whole file or nothing.

    Parameters
    ----------
    store : Store
        The store; each meter must exist.
    data : str or bytes
        UTF-8 CSV (a BOM is allowed) with the header ``meter,interval_end,energy_wh[,cumulative_wh]``
        and one interval per line: serial, ISO-8601 end with an offset or Z, energy in the interval [Wh],
        cumulative register at its end [Wh] (may be empty). Blank lines are ignored.
    source : str
        The ``source`` of the stored rows (``"csv"``, ``"http"`` ...).

    Returns
    -------
    IngestResult

    Raises
    ------
    IngestError
        As :func:`ingest_json`, naming the line (``line 5: energy_wh ...``); nothing is stored.
    """
    return _store_rows(store, _csv_rows(_decode(data)), source, None)
