"""Issue 12, defect 2: the fast JSON path accepts exactly what the row path accepts, and stores the same.

The fast path (``_fast_json``) must never take a document that the row-by-row path refuses: a key given
twice with odd whitespace before its colon, a year that is negative, zero or of five digits, an hour 24, a
leap second, February 30 ... Hostile documents are generated (hypothesis) and sent down both paths: the
fast one, the plain row one and ``ingest_json`` (fast, else rows) must refuse with the same reason and
problems, or store the same rows. The meters differ from example to example (single and dual element,
CTs of 100, 200 and 400 A, a free designation; 15-minute and hourly), so that both paths are seen to read
the same limit of each meter's own record (:func:`meshmeter.catalog.max_interval_energy_wh`). The two
reproduced cases are also sent through the doors: the ``meshmeter ingest`` command and ``POST /intervals``
with an operator's token.
"""

from __future__ import annotations

import itertools
import json
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from meshmeter.api import Settings, create_app
from meshmeter.cli import app as cli_app
from meshmeter.headend import IngestError, IngestResult, ingest_json
from meshmeter.headend.ingest import _fast_json, _row_json
from meshmeter.store import Store
from tests.headend.conftest import add_meter

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's TestClient prefers httpx2; the httpx it has works
    from fastapi.testclient import TestClient

FIRST = datetime(1, 1, 1, tzinfo=UTC)
LAST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)

HIDDEN_DUPLICATE = (
    '{"meter": "MM00000001", "intervals": [{"interval_end": "2026-01-01T00:15:00Z", '
    '"energy_wh" : 1,"energy_wh":2, "cumulative_wh": null}]}'
)
"""``energy_wh`` twice, the first hidden from a count of ``":`` by a space before its colon."""
NEGATIVE_YEAR = (
    '{"meter": "MM00000001", "intervals": '
    '[{"interval_end": "-001-01-01T00:15:00Z", "energy_wh": 1, "cumulative_wh": null}]}'
)
"""Year -1: 20 characters ending in ``Z``, as the common form, and numpy reads it; Python does not."""


def _all_rows(store: Store, serial: str) -> list[tuple[datetime, int, int, int | None]]:
    meter = store.get_meter(serial=serial)
    assert meter is not None
    return [
        (r.interval_end, r.revision, r.energy_wh, r.cumulative_wh)
        for r in store.raw_intervals(meter_id=meter.id, start=FIRST, end=LAST, all_revisions=True)
    ]


# ---------------------------------------------------------------------------------------------------
# the two reproduced cases, at the function and through the doors
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"), [(HIDDEN_DUPLICATE, "malformed"), (NEGATIVE_YEAR, "bad_time")], ids=["dup", "year"]
)
def test_ingest_json_refuses_what_the_row_path_refuses(store: Store, text: str, reason: str) -> None:
    add_meter(store, eui64=None)
    with pytest.raises(IngestError) as refused:
        ingest_json(store, text, source="http")
    assert refused.value.reason == reason
    assert _fast_json(store, text, "http", None) is None
    assert _all_rows(store, "MM00000001") == []


@pytest.mark.parametrize(
    ("text", "reason"), [(HIDDEN_DUPLICATE, "malformed"), (NEGATIVE_YEAR, "bad_time")], ids=["dup", "year"]
)
def test_cli_ingest_refuses_them(tmp_path: Path, text: str, reason: str) -> None:
    url = f"sqlite:///{tmp_path / 'meshmeter.db'}"
    with Store(url) as store:
        add_meter(store, eui64=None)
    path = tmp_path / "intervals.json"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(
        cli_app, ["ingest", str(path), "--database", url], env={"COLUMNS": "200", "NO_COLOR": "1"}
    )
    assert result.exit_code == 2, result.output
    assert reason in result.output
    with Store(url) as store:
        assert _all_rows(store, "MM00000001") == []


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    app = create_app(store, Settings(admin_token="bootstrap-" + "a" * 40, environment="development"))
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize(
    ("text", "reason"), [(HIDDEN_DUPLICATE, "malformed"), (NEGATIVE_YEAR, "bad_time")], ids=["dup", "year"]
)
def test_post_intervals_refuses_them(store: Store, client: TestClient, text: str, reason: str) -> None:
    add_meter(store, eui64=None)
    _, token = store.create_api_token(role="operator", label="test operator")
    response = client.post(
        "/intervals",
        content=text.encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422), response.text
    assert response.json()["reason"] == reason
    assert _all_rows(store, "MM00000001") == []


# ---------------------------------------------------------------------------------------------------
# hostile documents: the fast path and the row path refuse alike, accept alike
# ---------------------------------------------------------------------------------------------------

_SPACE = st.sampled_from(["", "", "", " ", "\t", "\n  ", "\r\n", "   "])


def _key(name: str, spelling: str) -> str:
    """The JSON text of a key: as is, or with its first letter written as a ``\\u`` escape."""
    return f'"{name}"' if spelling == "plain" else f'"\\u{ord(name[0]):04x}{name[1:]}"'


_YEARS = ["0001", "0000", "-001", "+2026", "10000", "9999", "026", "-2026", "1969", "1970"]
_MONTHS = ["13", "00", "1", "02"]
_DAYS = ["29", "30", "31", "00", "1"]
_HOURS = ["24", "0", "25"]
_MINUTES = ["07", "60", "5", "10"]
_SECONDS = ["60", "00.000", "00,5", "00.000001", "", "61"]
_SEPARATORS = [" ", "t", "_"]
_ZONES = ["+00:00", "-08:00", "+14:00", "-00:00", "+0000", "z", "", " Z", "+24:00", "+05:30", "Z ", "+01"]
_QUARTERS = st.sampled_from(["00", "15", "30", "45"])
_PADS = [" ", "\\n", "\\u0032"]


def _mostly(good: st.SearchStrategy[str], odd: list[str], one_in: int = 8) -> st.SearchStrategy[str]:
    """A good value, else (one time in ``one_in``) an odd one: documents are hostile, often only a bit."""
    choice = st.tuples(st.integers(1, one_in), good, st.sampled_from(odd))
    return choice.map(lambda t: t[2] if t[0] == 1 else t[1])


def _digits(low: int, high: int, width: int = 2) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda v: f"{v:0{width}d}")


_KEY_SPELLING = _mostly(st.just("plain"), ["escaped"], 40)


@st.composite
def _stamps(draw: st.DrawFn) -> str:
    """The JSON text of an interval end: mostly the common form, often an odd calendar or spelling."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.sampled_from(["2026", "null", "true", "1767226500", "[]", '""', '"2026-01-01"']))
    seconds = draw(_mostly(st.just("00"), _SECONDS))
    stamp = (
        f"{draw(_mostly(_digits(2024, 2026, 4), _YEARS, 4))}-{draw(_mostly(_digits(1, 12), _MONTHS))}-"
        f"{draw(_mostly(_digits(1, 28), _DAYS))}{draw(_mostly(st.just('T'), _SEPARATORS))}"
        f"{draw(_mostly(_digits(0, 23), _HOURS))}:{draw(_mostly(_QUARTERS, _MINUTES))}"
        f"{':' + seconds if seconds else ''}{draw(_mostly(st.just('Z'), _ZONES))}"
    )
    pad = _mostly(st.just(""), _PADS)
    return f'"{draw(pad)}{stamp}{draw(pad)}"'


_ENERGIES = ["15180", "15181", "60720", "60721", "7590", "7591", "30360", "30361", "121440", "121441", "3795",
             "3796", "-1", "-0", "01", "+1", "00", "1.0", "120.0", "0.5", "1e3", "1E2", "1e-2", "-0.0",
             "9223372036854775807", "9223372036854775808", "18446744073709551616",
             "1" + "0" * 30, "1e400", "NaN", "Infinity", "-Infinity", "true", "false", '"12"', "[]", "{}",
             "null"]  # fmt: skip
_COUNTERS = ["9223372036854775807", "9223372036854775808", "18446744073709551615", "-1", "-0", "45670.0",
             "4.567e4", "007", '"1"', "true", "0"]  # fmt: skip
_ENERGY = _mostly(st.integers(0, 15180).map(str), _ENERGIES)
_COUNTER = _mostly(st.one_of(st.just("null"), st.integers(0, 10**6).map(str)), _COUNTERS)


@st.composite
def _members(draw: st.DrawFn, items: list[tuple[str, str]], compact: bool) -> str:
    """An object's members, each key spelled and spaced oddly (``compact``: no spaces at all); sometimes
    a key given twice, spaced as it comes (a space before its colon, say)."""
    space = st.just("") if compact else _SPACE
    twin_at = -1
    if draw(st.integers(0, 19)) == 0 and items:
        name, _ = draw(st.sampled_from(items))
        twin = draw(st.sampled_from([v for k, v in items if k == name] + ["1", "2", "null", '"x"', "{}"]))
        items = list(items)
        twin_at = draw(st.integers(0, len(items)))
        items.insert(twin_at, (name, twin))
    parts = [
        f"{_key(k, draw(_KEY_SPELLING))}{draw(_SPACE if i == twin_at else space)}:{draw(space)}{v}"
        for i, (k, v) in enumerate(items)
    ]
    return "{" + draw(space) + ("," + draw(space)).join(parts) + draw(space) + "}"


@st.composite
def _intervals(draw: st.DrawFn, compact: bool) -> str:
    items = [
        ("interval_end", draw(_stamps())),
        ("energy_wh", draw(_ENERGY)),
        ("cumulative_wh", draw(_COUNTER)),
    ]
    if draw(st.integers(0, 9)) == 0:
        items.pop(draw(st.integers(0, 2)))  # a member missing (the counter: optional)
    if draw(st.integers(0, 19)) == 0:
        items.append(("quality", "1"))
    return draw(_members(items, compact))  # type: ignore[no-any-return]


_SERIAL_SUFFIXES = ["", "", "", ":", "::x", '":', " a:b", "é"]


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, str, bool]:
    """(document text with ``@SERIAL@`` for the serial's text, the serial's suffix, escape its colons)."""
    objects = []
    compact = draw(st.booleans())
    for _ in range(draw(st.integers(1, 2))):
        intervals = draw(st.lists(_intervals(compact), min_size=0, max_size=4))
        body = "[" + ("," + draw(st.just("") if compact else _SPACE)).join(intervals) + "]"
        members = [("meter", '"@SERIAL@"'), ("intervals", body)]
        if draw(st.integers(0, 19)) == 0:
            members.append(("interval_minutes", draw(st.sampled_from(["15", "60", "15.0"]))))
        objects.append(draw(_members(members, compact)))
    text = objects[0] if len(objects) == 1 and draw(st.booleans()) else "[" + ",".join(objects) + "]"
    return text, draw(st.sampled_from(_SERIAL_SUFFIXES)), draw(st.integers(0, 3)) == 0


_EXAMPLES = itertools.count()
RECORDS = [
    ("MM-D1202001-T-SCC", 2000),  # 15,180 Wh in 15 minutes, 60,720 Wh in an hour (manual §3.1)
    ("MM-S1202001-T-SCC", 2000),  # single element: 7,590 Wh, 30,360 Wh
    ("MM-D1202001-T-SCC", 4000),  # 400:0.1 A CTs: 30,360 Wh, 121,440 Wh
    ("MM-S1202001", 1000),  # 100:0.1 A CTs, single element: 3,795 Wh, 15,180 Wh
    ("MM-1", 2000),  # a free designation: the default dual element Mini Meter
]
"""(designation, CT ratio) of the meters, one after the other."""


def _outcome(
    store: Store, serial: str, run: Any
) -> tuple[str, Any, list[tuple[datetime, int, int, int | None]]]:
    """What a path did: ("refused", problems), ("stored", counts) or ("declined", None): the fast path
    left the document to the row path; and the meter's rows after it."""
    try:
        result = run()
    except IngestError as exc:
        problems = [(p.reason, p.field, p.message.replace(serial, "<S>")) for p in exc.problems]
        return "refused", (exc.reason, exc.field, exc.total, problems), _all_rows(store, serial)
    if result is None:
        return "declined", None, _all_rows(store, serial)  # the fast path leaves it to the row path
    assert isinstance(result, IngestResult)
    counts = (result.accepted, result.new, result.duplicates, result.revised, sorted(result.spans.values()))
    return "stored", counts, _all_rows(store, serial)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=documents())
@example(case=(HIDDEN_DUPLICATE.replace("MM00000001", "@SERIAL@"), "", False))
@example(case=(NEGATIVE_YEAR.replace("MM00000001", "@SERIAL@"), "", False))
@example(case=(NEGATIVE_YEAR.replace("MM00000001", "@SERIAL@").replace("-001", "2026"), ":", False))
@example(case=(HIDDEN_DUPLICATE.replace("MM00000001", "@SERIAL@"), '":', False))
def test_fast_and_row_paths_agree(store: Store, case: tuple[str, str, bool]) -> None:
    text, suffix, escape = case
    k = next(_EXAMPLES)
    interval_s = 3600 if k % 5 == 4 else 900
    designation, ct_ratio = RECORDS[k // 5 % len(RECORDS)]  # every record at both lengths
    outcomes = {}
    for path in ("fast", "rows", "ingest_json"):
        serial = f"{path[0]}{k:06d}{suffix}"  # of one length: messages name the same character
        store.create_meter(serial=serial, designation=designation, ct_ratio=ct_ratio, interval_s=interval_s)
        literal = json.dumps(serial, ensure_ascii=False)[1:-1]
        if escape:
            literal = literal.replace(":", "\\u003a")
        doc = text.replace("@SERIAL@", literal)
        if path == "fast":
            fast = _fast_json(store, doc, "test", None)
            outcomes[path] = _outcome(store, serial, lambda fast=fast: fast)
        elif path == "rows":
            outcomes[path] = _outcome(store, serial, lambda doc=doc: _row_json(store, doc, "test", None))
        else:
            outcomes[path] = _outcome(store, serial, lambda doc=doc: ingest_json(store, doc, source="test"))
    rows_kind, rows_what, rows_stored = outcomes["rows"]
    assert outcomes["ingest_json"] == outcomes["rows"]
    fast_kind, fast_what, fast_stored = outcomes["fast"]
    event(f"fast path {fast_kind}, row path {rows_kind} {rows_what[0] if rows_kind == 'refused' else ''}")
    if rows_kind == "refused":
        assert fast_kind == "declined"  # the fast path left it to the row path ...
        assert fast_stored == []  # ... having stored nothing
    if fast_kind != "declined":
        assert (rows_kind, rows_what, rows_stored) == (fast_kind, fast_what, fast_stored)


def test_fast_path_takes_the_common_form(sqlite_store: Store) -> None:
    """The fast path is exercised at all: the common form, with odd (but single) keys and serials."""
    for serial in ("MM1", "MM:2", "MM é 3"):
        sqlite_store.create_meter(serial=serial, designation="MM-D1202001-T-SCC", ct_ratio=2000)
        doc = (
            f'[{{"meter" :{json.dumps(serial, ensure_ascii=False)}, "intervals": [{{"interval_end" : '
            '"2026-01-01T00:15:00Z", "energy_wh":\t1, "cumulative_wh": 7}, {"interval_end": '
            '"0001-01-01T00:15:00Z", "energy_wh": 0, "cumulative_wh": null}]}]'
        )
        result = _fast_json(sqlite_store, doc, "test", None)
        assert result is not None
        assert result.new == 2
        assert [row[2:] for row in _all_rows(sqlite_store, serial)] == [(0, None), (1, 7)]
