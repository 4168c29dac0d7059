"""Ingest of JSON and CSV (files, HTTP bodies, MQTT payloads): the format, and refusal of the whole batch."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from meshmeter.catalog import RatedMeter, max_interval_energy_wh
from meshmeter.headend import (
    IngestError,
    IngestReason,
    IngestResult,
    ingest_csv,
    ingest_json,
)
from meshmeter.store import Store
from tests.headend.conftest import add_meter

LIMIT_WH = max_interval_energy_wh(RatedMeter())
"""add_meter's dual element meter on 200:0.1 A CTs: 2 × 138 V × 220 A × 0.25 h = 15,180 Wh (manual §3.1)."""

START = datetime(2025, 12, 31, tzinfo=UTC)
END = datetime(2026, 1, 3, tzinfo=UTC)


def rows(store: Store, serial: str = "MM00000001") -> list[tuple[str, int, int | None]]:
    meter = store.get_meter(serial=serial)
    assert meter is not None
    return [
        (r.interval_end.isoformat(), r.energy_wh, r.cumulative_wh)
        for r in store.raw_intervals(meter_id=meter.id, start=START, end=END)
    ]


def document(*intervals: dict[str, Any], meter: str = "MM00000001") -> dict[str, Any]:
    return {"meter": meter, "intervals": list(intervals)}


GOOD = document(
    {"interval_end": "2026-01-01T00:15:00Z", "energy_wh": 120, "cumulative_wh": 45_670},
    {"interval_end": "2026-01-01T00:30:00+00:00", "energy_wh": 80, "cumulative_wh": None},
    {"interval_end": "2025-12-31T16:45:00-08:00", "energy_wh": 0},  # 00:45 UTC, no counter
)
GOOD_ROWS = [
    ("2026-01-01T00:15:00+00:00", 120, 45_670),
    ("2026-01-01T00:30:00+00:00", 80, None),
    ("2026-01-01T00:45:00+00:00", 0, None),
]


def test_json_object_is_stored_in_utc(store: Store) -> None:
    add_meter(store)
    result = ingest_json(store, json.dumps(GOOD), source="http")
    assert result == IngestResult(accepted=3, new=3)
    assert rows(store) == GOOD_ROWS


def test_json_list_of_meters_and_bytes(store: Store) -> None:
    add_meter(store)
    add_meter(store, "MM00000002", eui64=None)
    other = document({"interval_end": "2026-01-01T00:15:00Z", "energy_wh": 7}, meter="MM00000002")
    result = ingest_json(store, json.dumps([GOOD, other]).encode(), source="file")
    assert result.new == 4
    assert rows(store, "MM00000002") == [("2026-01-01T00:15:00+00:00", 7, None)]


def test_json_is_idempotent_and_keeps_revisions(store: Store) -> None:
    meter = add_meter(store)
    ingest_json(store, json.dumps(GOOD), source="http")
    assert ingest_json(store, json.dumps(GOOD), source="mqtt") == IngestResult(accepted=3, duplicates=3)
    changed = document({"interval_end": "2026-01-01T00:15:00Z", "energy_wh": 121, "cumulative_wh": 45_671})
    assert ingest_json(store, json.dumps(changed), source="http").revised == 1
    assert rows(store)[0] == ("2026-01-01T00:15:00+00:00", 121, 45_671)
    all_revisions = store.raw_intervals(meter_id=meter.id, start=START, end=END, all_revisions=True)
    assert len(all_revisions) == 4


def test_an_empty_batch_stores_nothing(store: Store) -> None:
    assert ingest_json(store, "[]", source="http") == IngestResult()
    add_meter(store)
    assert ingest_json(store, json.dumps(document()), source="http") == IngestResult()


def _interval(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"interval_end": "2026-01-01T01:00:00Z", "energy_wh": 100, "cumulative_wh": 50_000}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


BAD_JSON: list[tuple[str, str, str]] = [
    # (the text of the second object of the batch, reason, field named)
    ("{", "malformed", ""),
    ('{"meter": "MM00000001", "meter": "MM00000001", "intervals": []}', "malformed", ""),
    (
        '{"meter": "MM00000001", "intervals": [{"interval_end": "2026-01-01T01:00:00Z", "energy_wh": NaN}]}',
        "malformed",
        "",
    ),
    ("42", "malformed", "[1]"),
    (json.dumps({"intervals": []}), "missing_field", "[1].meter"),
    (json.dumps({"meter": "MM00000001"}), "missing_field", "[1].intervals"),
    (json.dumps({**document(), "site": "x"}), "extra_field", "[1].site"),
    (json.dumps(document(_interval(energy_wh=...))), "missing_field", "[1].intervals[0].energy_wh"),
    (json.dumps(document(_interval(interval_end=...))), "missing_field", "[1].intervals[0].interval_end"),
    (json.dumps(document(_interval(power_w=5))), "extra_field", "[1].intervals[0].power_w"),
    (json.dumps(document(_interval(), meter="NOPE")), "unknown_meter", "[1].meter"),
    (json.dumps({"meter": 7, "intervals": [_interval()]}), "bad_type", "[1].meter"),
    (json.dumps({"meter": "MM00000001", "intervals": {}}), "bad_type", "[1].intervals"),
    (
        json.dumps(document(_interval(interval_end="2026-01-01T01:00:00"))),
        "naive_time",
        "[1].intervals[0].interval_end",
    ),
    (json.dumps(document(_interval(interval_end="yesterday"))), "bad_time", "[1].intervals[0].interval_end"),
    (json.dumps(document(_interval(interval_end=1767229200))), "bad_type", "[1].intervals[0].interval_end"),
    (
        json.dumps(document(_interval(interval_end="2026-01-01T01:07:00Z"))),
        "not_aligned",
        "[1].intervals[0].interval_end",
    ),
    (
        json.dumps(document(_interval(interval_end="2026-01-01T01:00:30Z"))),
        "not_aligned",
        "[1].intervals[0].interval_end",
    ),
    (
        json.dumps(document(_interval(interval_end="2026-01-01T01:00:00.5Z"))),
        "not_aligned",
        "[1].intervals[0].interval_end",
    ),
    (json.dumps(document(_interval(energy_wh=-1))), "negative_energy", "[1].intervals[0].energy_wh"),
    (
        json.dumps(document(_interval(energy_wh=LIMIT_WH + 1))),
        "energy_too_high",
        "[1].intervals[0].energy_wh",
    ),
    (json.dumps(document(_interval(energy_wh=1.5))), "bad_type", "[1].intervals[0].energy_wh"),
    (json.dumps(document(_interval(energy_wh=100.0))), "bad_type", "[1].intervals[0].energy_wh"),
    (json.dumps(document(_interval(energy_wh="100"))), "bad_type", "[1].intervals[0].energy_wh"),
    (json.dumps(document(_interval(energy_wh=True))), "bad_type", "[1].intervals[0].energy_wh"),
    (json.dumps(document(_interval(cumulative_wh=-5))), "negative_energy", "[1].intervals[0].cumulative_wh"),
    (
        json.dumps(document(_interval(cumulative_wh=2**63))),
        "energy_too_high",
        "[1].intervals[0].cumulative_wh",
    ),
    (
        json.dumps(document(_interval(), _interval(energy_wh=101))),
        "conflict",
        "[1].intervals[1].interval_end",
    ),
    (
        json.dumps(document(_interval(interval_end="2026-01-01T00:00:00Z", cumulative_wh=60_000))),
        "counter_backwards",
        "[0].intervals[0].cumulative_wh",
    ),
]


@pytest.mark.parametrize(("second", "reason", "field"), BAD_JSON)
def test_bad_json_refuses_the_whole_batch(store: Store, second: str, reason: str, field: str) -> None:
    add_meter(store)
    text = f"[{json.dumps(GOOD)}, {second}]"  # a good object first: it must not be stored either
    with pytest.raises(IngestError) as caught:
        ingest_json(store, text, source="http")
    assert caught.value.reason == reason
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)
    if field:
        assert field in str(caught.value)
    assert rows(store) == []


def test_json_that_is_not_utf8_or_not_a_document(store: Store) -> None:
    with pytest.raises(IngestError, match="not UTF-8") as caught:
        ingest_json(store, b"\xff\xfe{}", source="http")
    assert caught.value.reason == IngestReason.MALFORMED
    with pytest.raises(IngestError, match="object"):
        ingest_json(store, '"text"', source="http")
    with pytest.raises(IngestError, match="nested too deeply"):
        ingest_json(store, "[" * 100_000, source="http")


def test_json_for_another_meter_than_the_channel_is_refused(store: Store) -> None:
    add_meter(store)
    add_meter(store, "MM00000002", eui64=None)
    with pytest.raises(IngestError, match="came for meter 'MM00000002'") as caught:
        ingest_json(store, json.dumps(GOOD), source="mqtt", meter="MM00000002")
    assert caught.value.reason == "meter_mismatch"
    assert rows(store) == []


def test_the_same_interval_twice_with_the_same_values_is_one(store: Store) -> None:
    add_meter(store)
    result = ingest_json(store, json.dumps([GOOD, GOOD]), source="http")
    assert (result.accepted, result.new, result.duplicates) == (6, 3, 3)


# -- CSV ----------------------------------------------------------------------------------------------

CSV = """meter,interval_end,energy_wh,cumulative_wh
MM00000001,2026-01-01T00:15:00Z,120,45670
MM00000001,2026-01-01T00:30:00+00:00,80,

MM00000001 , 2025-12-31T16:45:00-08:00 , 0 ,
"""


def test_csv_is_stored(store: Store) -> None:
    add_meter(store)
    assert ingest_csv(store, CSV, source="csv") == IngestResult(accepted=3, new=3)
    assert rows(store) == GOOD_ROWS
    assert ingest_csv(store, CSV.encode("utf-8-sig"), source="csv").duplicates == 3  # a BOM is fine


def test_csv_without_the_cumulative_column(store: Store) -> None:
    add_meter(store)
    text = "meter,interval_end,energy_wh\r\nMM00000001,2026-01-01T00:15:00Z,120\r\n"
    assert ingest_csv(store, text, source="csv").new == 1
    assert rows(store) == [("2026-01-01T00:15:00+00:00", 120, None)]


HEADER = "meter,interval_end,energy_wh,cumulative_wh\nMM00000001,2026-01-01T00:15:00Z,120,45670\n"


@pytest.mark.parametrize(
    ("text", "reason", "field"),
    [
        ("", "malformed", ""),
        ("meter,interval_end\nMM00000001,2026-01-01T00:15:00Z\n", "missing_field", "line 1"),
        ("meter,interval_end,energy_wh,power_w\n", "extra_field", "line 1"),
        (HEADER + "MM00000001,2026-01-01T00:30:00Z,80\n", "missing_field", "line 3"),
        (HEADER + "MM00000001,2026-01-01T00:30:00Z,80,45750,9\n", "extra_field", "line 3"),
        (HEADER + "MM00000001,2026-01-01T00:30:00Z,,45750\n", "missing_field", "line 3: energy_wh"),
        (HEADER + "MM00000001,2026-01-01T00:30:00Z,8.5,45750\n", "bad_type", "line 3: energy_wh"),
        (HEADER + "MM00000001,2026-01-01T00:30:00Z,-8,45750\n", "negative_energy", "line 3: energy_wh"),
        (HEADER + "MM00000001,2026-01-01T00:30:00Z,15181,45750\n", "energy_too_high", "line 3: energy_wh"),
        (HEADER + "MM00000001,2026-01-01T00:30:00,80,45750\n", "naive_time", "line 3: interval_end"),
        (HEADER + "MM00000001,2026-01-01T00:31:00Z,80,45750\n", "not_aligned", "line 3: interval_end"),
        (HEADER + "MM00000009,2026-01-01T00:30:00Z,80,45750\n", "unknown_meter", "line 3: meter"),
        (HEADER + "MM00000001,2026-01-01T00:30:00Z,80,4x\n", "bad_type", "line 3: cumulative_wh"),
        (HEADER + "MM00000001,2026-01-01T00:15:00Z,121,45671\n", "conflict", "line 3: interval_end"),
        (HEADER + "MM00000001,2026-01-01T00:30:00Z,80,45000\n", "counter_backwards", "line 3: cumulative_wh"),
        (HEADER + 'MM00000001,"2026-01-01T00:30:00Z\n', "malformed", ""),
    ],
)
def test_bad_csv_refuses_the_whole_file(store: Store, text: str, reason: str, field: str) -> None:
    add_meter(store)
    with pytest.raises(IngestError) as caught:
        ingest_csv(store, text, source="csv")
    assert (caught.value.reason, caught.value.field) == (reason, field)
    assert rows(store) == []


# The column path (numpy) takes the common form of a document; anything else goes row by row. Both
# must accept and refuse the same documents.

FAST = document(
    *(
        {
            "interval_end": f"2026-01-01T{h:02d}:{m:02d}:00Z",
            "energy_wh": 10 * h + m,
            "cumulative_wh": 1000 + h,
        }
        for h in range(1, 3)
        for m in (0, 15, 30, 45)
    )
)


def test_the_column_path_stores_what_the_row_path_stores(store: Store) -> None:
    add_meter(store)
    add_meter(store, "MM00000002", eui64=None)
    other = {**FAST, "meter": "MM00000002"}
    fast = ingest_json(store, json.dumps([FAST, other]), source="http")
    # the same values in a form only the row path takes (offsets instead of Z), for the other meter
    slow_doc = json.dumps(other).replace("Z", "+00:00")
    assert ingest_json(store, slow_doc, source="http") == IngestResult(accepted=8, duplicates=8)
    assert fast == IngestResult(accepted=16, new=16)
    assert rows(store) == rows(store, "MM00000002")
    assert [r[2] for r in rows(store)] == [1001] * 4 + [1002] * 4  # counters rebuilt exactly


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # a counter of -1 is not "no counter"
        (json.dumps(FAST).replace('"cumulative_wh": 1001}', '"cumulative_wh": -1}', 1), "negative_energy"),
        # a key given twice: refused, never the last one kept
        (json.dumps(FAST).replace('"energy_wh": 25,', '"energy_wh": 25, "energy_wh": 1,', 1), "malformed"),
        (json.dumps(FAST).replace('"energy_wh": 25', '"energy_wh": 25.0', 1), "bad_type"),
        (json.dumps(FAST).replace('"energy_wh": 25', '"energy_wh": true', 1), "bad_type"),
        (json.dumps(FAST).replace('"energy_wh": 25', '"energy_wh": NaN', 1), "malformed"),
        (json.dumps(FAST).replace("01:15:00Z", "01:16:00Z", 1), "not_aligned"),
        (json.dumps(FAST).replace("01:15:00Z", "01:15:00 ", 1), "naive_time"),
        (json.dumps(FAST).replace("2026-01-01T01:15", "2026-02-30T01:15", 1), "bad_time"),
        (
            json.dumps(FAST).replace('"energy_wh": 25', f'"energy_wh": {LIMIT_WH + 1}', 1),
            "energy_too_high",
        ),
        (json.dumps(FAST).replace('"cumulative_wh": 1002', '"cumulative_wh": 999', 1), "counter_backwards"),
        (
            json.dumps(FAST).replace('"cumulative_wh": 1002', f'"cumulative_wh": {2**63}', 1),
            "energy_too_high",
        ),
        (json.dumps([FAST, document({**FAST["intervals"][0], "energy_wh": 11})]), "conflict"),
        (json.dumps(FAST).replace("MM00000001", "MM00000009"), "unknown_meter"),
        (json.dumps([FAST, document(meter="MM00000009")]), "unknown_meter"),
    ],
)
def test_the_column_path_refuses_what_the_row_path_refuses(store: Store, text: str, reason: str) -> None:
    add_meter(store)
    with pytest.raises(IngestError) as info:
        ingest_json(store, text, source="http")
    assert info.value.reason == reason
    assert rows(store) == []


def test_repeats_within_a_document_count_once(store: Store) -> None:
    add_meter(store)
    twice = json.dumps([FAST, {**FAST, "intervals": FAST["intervals"][:3]}])
    assert ingest_json(store, twice, source="http") == IngestResult(accepted=11, new=8, duplicates=3)
