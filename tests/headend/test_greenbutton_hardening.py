"""Green Button hardening (issue 12, defect 3): impossible energies and out-of-range numbers are refused.

Two faults, each driven through :func:`import_greenbutton` and through ``meshmeter import FILE --meter``:

- an energy no meter can register in one interval (``<value>1000000000000</value>``, 20,000 Wh in a
  15-minute interval of a Mini Meter) was stored, where the JSON and CSV ingest refuse it
  (``energy_too_high``, :func:`meshmeter.catalog.max_interval_energy_wh` of the meter's own record: its
  designation, CT ratio and interval length); now the file is refused whole with the same reason and limit;
- a number outside its ESPI type (``powerOfTenMultiplier`` of ±10⁹, a ``start`` of 10²⁰, a 5,000-digit
  integer ...) ended in a traceback (``OverflowError``, ``decimal.InvalidOperation``, ``ValueError``);
  now every number the parser reads is bounded by its type and refused as ``malformed`` naming the
  element. A hypothesis test mutates the reference file's numbers and asserts that the parser either
  returns or raises :class:`GreenButtonError`, nothing else.

The reference files are read from ``../shared/reference/greenbutton``; the tests skip where it is absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from meshmeter.catalog import max_interval_energy_wh
from meshmeter.cli import app
from meshmeter.headend.greenbutton import (
    GreenButtonError,
    export_greenbutton,
    import_greenbutton,
    parse_greenbutton,
)
from meshmeter.store import Store

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "greenbutton"
SERIAL = "MMGB00001"
HOURLY = "MMGBH0001"
DESIGNATION = "MM-D1202001-T-SCC"
MARCH_1 = datetime(2012, 3, 1, 5, tzinfo=UTC)  # local midnight, US Eastern standard time
EVER = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC))
ENV = {"COLUMNS": "200", "TERMINAL_WIDTH": "200", "NO_COLOR": "1", "TERM": "dumb"}

runner = CliRunner()


def reference(name: str) -> bytes:
    """The bytes of a reference file; skip, saying why, where the folder is absent."""
    path = REFERENCE / name
    if not path.is_file():
        pytest.skip(f"reference file {path} is absent (../shared/reference is not checked out here)")
    return path.read_bytes()


def day() -> bytes:
    """``test_usage_data_01.xml``: 96 quarter-hours of 1 March 2012, US Eastern."""
    return reference("test_usage_data_01.xml")


def set_first(data: bytes, anchor: bytes, tag: str, text: str) -> bytes:
    """``data`` with the text of the first ``<tag>`` after ``anchor`` replaced by ``text``."""
    at = data.index(anchor)
    found = re.compile(rf"<{tag}>[^<]*</{tag}>".encode()).search(data, at)
    assert found is not None, (anchor, tag)
    return data[: found.start()] + f"<{tag}>{text}</{tag}>".encode() + data[found.end() :]


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Store, str]]:
    """A SQLite store with a 15-minute meter ``SERIAL`` and an hourly meter ``HOURLY``, and its URL."""
    url = f"sqlite:///{tmp_path / 'meshmeter.db'}"
    store = Store(url)
    try:
        store.create_meter(serial=SERIAL, designation=DESIGNATION, ct_ratio=2000)
        store.create_meter(serial=HOURLY, designation=DESIGNATION, ct_ratio=2000, interval_s=3600)
        yield store, url
    finally:
        store.close()


def stored(store: Store, serial: str) -> list[tuple[datetime, int]]:
    """Every raw interval of a meter, as (end, Wh)."""
    meter = store.get_meter(serial=serial)
    assert meter is not None
    return [
        (r.interval_end, r.energy_wh)
        for r in store.raw_intervals(meter_id=meter.id, start=EVER[0], end=EVER[1])
    ]


def cli_import(tmp_path: Path, url: str, data: bytes, serial: str = SERIAL):  # type: ignore[no-untyped-def]
    path = tmp_path / "usage.xml"
    path.write_bytes(data)
    return runner.invoke(app, ["import", str(path), "--meter", serial, "--database", url], env=ENV)


def assert_refused_by_cli(result: object, *words: str) -> None:
    """The command refused the file as bad input (status 2, no traceback), its message naming ``words``."""
    exception = getattr(result, "exception", None)
    output = getattr(result, "output", "")
    assert isinstance(exception, SystemExit), f"{exception!r}\n{output}"
    assert getattr(result, "exit_code", None) == 2, output
    for word in words:
        assert word in output, output


# -- impossible energies ---------------------------------------------------------------------------------


def limit_wh(store: Store, serial: str) -> int:
    """The meter's own limit, as every door reads it from its record."""
    meter = store.get_meter(serial=serial)
    assert meter is not None
    return max_interval_energy_wh(meter)


def test_the_limit_is_the_ingest_limit_of_the_meters_record(database: tuple[Store, str]) -> None:
    store, _ = database
    assert limit_wh(store, SERIAL) == 15180  # 2 × 138 V × 220 A × 0.25 h (manual §3.1)
    assert limit_wh(store, HOURLY) == 60720  # 2 × 138 V × 220 A × 1 h


@pytest.mark.parametrize("value", [1_000_000_000_000, 20_000, 15_181])
def test_an_impossible_energy_refuses_the_whole_file(
    database: tuple[Store, str], tmp_path: Path, value: int
) -> None:
    store, url = database
    data = set_first(day(), b"<IntervalReading>", "value", str(value))
    with pytest.raises(GreenButtonError, match="energy_too_high") as info:
        import_greenbutton(store, data, meter_serial=SERIAL)
    assert info.value.reason == "energy_too_high"
    detail = info.value.detail or ""
    assert "2012-03-01T05:00:00+00:00" in detail  # the reading, by its start
    assert f"{value} Wh" in detail
    assert f"above {limit_wh(store, SERIAL)} Wh" in detail
    assert stored(store, SERIAL) == []
    assert_refused_by_cli(cli_import(tmp_path, url, data), "energy_too_high", "2012-03-01T05:00:00")
    assert stored(store, SERIAL) == []
    meter = store.get_meter(serial=SERIAL)
    assert meter is not None
    assert store.interval_view(meter_id=meter.id, start=EVER[0], end=EVER[1]).total_wh == 0


def test_an_impossible_energy_after_the_multiplier_is_refused(database: tuple[Store, str]) -> None:
    """282 × 10² Wh = 28,200 Wh in 15 minutes: the limit applies to the energy, not the written value."""
    store, _ = database
    data = day().replace(
        b"<powerOfTenMultiplier>0</powerOfTenMultiplier>\n\t\t\t\t<timeAttribute>",
        b"<powerOfTenMultiplier>2</powerOfTenMultiplier>\n\t\t\t\t<timeAttribute>",
        1,
    )
    with pytest.raises(GreenButtonError, match="28200 Wh, above 15180 Wh") as info:
        import_greenbutton(store, data, meter_serial=SERIAL)
    assert info.value.reason == "energy_too_high"
    assert stored(store, SERIAL) == []


def test_the_limit_itself_is_stored(database: tuple[Store, str], tmp_path: Path) -> None:
    store, url = database
    data = set_first(day(), b"<IntervalReading>", "value", "15180")
    result = cli_import(tmp_path, url, data)
    assert result.exit_code == 0, result.output
    assert stored(store, SERIAL)[0] == (MARCH_1 + timedelta(minutes=15), 15180)


def hourly_file(store: Store, first_wh: int) -> bytes:
    """A Green Button file of 24 hourly readings (400 Wh ... ), the first one ``first_wh``."""
    source = store.create_meter(serial="MMGBH0SRC", designation=DESIGNATION, ct_ratio=2000, interval_s=3600)
    store.insert_raw_intervals(
        meter_id=source.id,
        rows=[(MARCH_1 + timedelta(hours=k), 400 + k) for k in range(1, 25)],
        source="test",
    )
    data = export_greenbutton(store, meter_serial="MMGBH0SRC", start=MARCH_1, end=MARCH_1 + timedelta(days=1))
    assert b"<value>401</value>" in data
    return data.replace(b"<value>401</value>", f"<value>{first_wh}</value>".encode(), 1)


def test_an_hourly_meter_has_the_limit_of_an_hour(database: tuple[Store, str], tmp_path: Path) -> None:
    """20,000 Wh is impossible in 15 minutes but possible in an hour (60,720 Wh); 60,721 Wh is not."""
    store, url = database
    too_much = hourly_file(store, limit_wh(store, HOURLY) + 1)
    with pytest.raises(GreenButtonError, match="60721 Wh, above 60720 Wh") as info:
        import_greenbutton(store, too_much, meter_serial=HOURLY)
    assert info.value.reason == "energy_too_high"
    assert_refused_by_cli(cli_import(tmp_path, url, too_much, HOURLY), "energy_too_high", "60720 Wh")
    assert stored(store, HOURLY) == []
    possible = too_much.replace(b"<value>60721</value>", b"<value>20000</value>", 1)
    result = cli_import(tmp_path, url, possible, HOURLY)
    assert result.exit_code == 0, result.output
    assert stored(store, HOURLY)[0] == (MARCH_1 + timedelta(hours=1), 20000)


# -- numbers outside their types ---------------------------------------------------------------------------

READING_TYPE = b"<ReadingType xmlns"
READING = b"<IntervalReading>"
BLOCK = b"<interval>"
SUMMARY = b"<ElectricPowerUsageSummary xmlns"
PERIOD = b"<billingPeriod>"
OVERALL = b"<overallConsumptionLastPeriod>"
CURRENT = b"<currentBillingPeriodOverAllConsumption>"
LOCAL = b"<LocalTimeParameters xmlns"
SERVICE = b"<ServiceCategory>"
YEAR_10000 = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()) + 1

OUT_OF_RANGE = [
    # the two of the issue
    pytest.param(READING_TYPE, "powerOfTenMultiplier", str(10**9), id="multiplier+1e9"),
    pytest.param(READING_TYPE, "powerOfTenMultiplier", str(-(10**9)), id="multiplier-1e9"),
    pytest.param(READING, "start", str(10**20), id="start1e20"),
    # ReadingType: UnitMultiplierKind (Int16), UInt16 codes, intervalLength (UInt32, positive)
    pytest.param(READING_TYPE, "powerOfTenMultiplier", "32768", id="multiplier-int16+1"),
    pytest.param(READING_TYPE, "powerOfTenMultiplier", "-32769", id="multiplier-int16-1"),
    pytest.param(READING_TYPE, "uom", "-1", id="uom-negative"),
    pytest.param(READING_TYPE, "uom", "65536", id="uom-uint16+1"),
    pytest.param(READING_TYPE, "flowDirection", str(10**20), id="flowDirection-huge"),
    pytest.param(READING_TYPE, "intervalLength", str(10**20), id="intervalLength-huge"),
    pytest.param(READING_TYPE, "intervalLength", "0", id="intervalLength-zero"),
    # IntervalReading: timePeriod (TimeType in 1970..9999, duration UInt32 positive), value and cost Int48
    pytest.param(READING, "start", str(-(10**20)), id="start-1e20"),
    pytest.param(READING, "start", "-900", id="start-before-1970"),
    pytest.param(READING, "start", str(YEAR_10000 - 900), id="start-ending-in-year-10000"),
    pytest.param(READING, "start", "9" * 5000, id="start-5000-digits"),
    pytest.param(READING, "duration", str(10**20), id="duration-huge"),
    pytest.param(READING, "duration", str(2**32), id="duration-uint32+1"),
    pytest.param(READING, "duration", "0", id="duration-zero"),
    pytest.param(READING, "duration", "-900", id="duration-negative"),
    pytest.param(READING, "value", str(2**63), id="value-int64+1"),
    pytest.param(READING, "value", str(-(2**63) - 1), id="value-int64-1"),
    pytest.param(READING, "value", str(2**47 + 1), id="value-int48+1"),
    pytest.param(READING, "cost", str(10**30), id="cost-huge"),
    pytest.param(READING, "quality", str(10**20), id="quality-huge"),
    pytest.param(READING, "quality", "-1", id="quality-negative"),
    # IntervalBlock.interval
    pytest.param(BLOCK, "start", str(10**20), id="block-start-huge"),
    pytest.param(BLOCK, "duration", "0", id="block-duration-zero"),
    # usage summary and its measurements
    pytest.param(SUMMARY, "statusTimeStamp", str(10**20), id="summary-statusTimeStamp"),
    pytest.param(SUMMARY, "billLastPeriod", str(10**20), id="summary-billLastPeriod"),
    pytest.param(SUMMARY, "billToDate", str(-(10**20)), id="summary-billToDate"),
    pytest.param(SUMMARY, "currency", "65536", id="summary-currency"),
    pytest.param(SUMMARY, "qualityOfReading", "-1", id="summary-qualityOfReading"),
    pytest.param(PERIOD, "start", str(10**20), id="summary-billingPeriod-start"),
    pytest.param(PERIOD, "duration", str(10**20), id="summary-billingPeriod-duration"),
    pytest.param(OVERALL, "powerOfTenMultiplier", str(10**9), id="measurement-multiplier"),
    pytest.param(OVERALL, "value", str(2**63), id="measurement-value"),
    pytest.param(OVERALL, "uom", "-1", id="measurement-uom"),
    pytest.param(CURRENT, "timeStamp", str(10**20), id="measurement-timeStamp"),
    # LocalTimeParameters: offsets a datetime.timezone can hold (less than a day)
    pytest.param(LOCAL, "tzOffset", str(10**20), id="tzOffset-huge"),
    pytest.param(LOCAL, "tzOffset", "86400", id="tzOffset-a-day"),
    pytest.param(LOCAL, "dstOffset", str(-(10**20)), id="dstOffset-huge"),
    # UsagePoint
    pytest.param(SERVICE, "kind", "-1", id="serviceKind-negative"),
]


@pytest.mark.parametrize(("anchor", "tag", "text"), OUT_OF_RANGE)
def test_a_number_outside_its_type_is_malformed(
    database: tuple[Store, str], tmp_path: Path, anchor: bytes, tag: str, text: str
) -> None:
    store, url = database
    data = set_first(day(), anchor, tag, text)
    with pytest.raises(GreenButtonError) as info:
        parse_greenbutton(data)
    assert info.value.reason == "malformed"
    assert tag in (info.value.detail or ""), info.value.detail  # the element is named
    with pytest.raises(GreenButtonError, match="malformed"):
        import_greenbutton(store, data, meter_serial=SERIAL)
    assert_refused_by_cli(cli_import(tmp_path, url, data), "malformed", tag)
    assert stored(store, SERIAL) == []


def test_the_bounds_themselves_are_read() -> None:
    """The ends of each range are numbers the parser gives back, not refuses."""
    data = day()
    data = set_first(data, READING_TYPE, "powerOfTenMultiplier", "-12")
    data = set_first(data, OVERALL, "powerOfTenMultiplier", "32767")
    data = set_first(data, OVERALL, "value", str(2**47))
    data = set_first(data, CURRENT, "timeStamp", "0")
    data = set_first(data, SUMMARY, "billToDate", str(-(2**47)))
    data = set_first(data, LOCAL, "tzOffset", "-86399")
    data = set_first(data, LOCAL, "dstOffset", "0")
    data = set_first(data, READING, "start", str(YEAR_10000 - 900 - 900))  # ends 9999-12-31T23:45Z
    data = set_first(data, BLOCK, "duration", str(2**32 - 1))
    data = set_first(data, READING, "cost", "0" * 5000 + "974")  # leading zeros: still 974
    parsed = parse_greenbutton(data)
    assert parsed.meter_readings[0].readings[-1].cost == 974  # the first reading, moved last
    (summary,) = parsed.summaries
    assert summary.overall_consumption_last_period is not None
    assert summary.overall_consumption_last_period.scaled == 2**47 * 10**32767
    last = parsed.meter_readings[0].readings[-1]
    assert last.end == datetime(9999, 12, 31, 23, 45, tzinfo=UTC)
    assert parsed.local_time is not None
    assert parsed.local_time.tz_offset_s == -86399


# -- any number, mutated ----------------------------------------------------------------------------------

_NUMBER = re.compile(rb"<(\w+)>(\s*-?[0-9A-Fa-f]+\s*)</\1>")


def _numbers(data: bytes) -> dict[bytes, list[tuple[int, int]]]:
    """The spans of the text of every element holding a number, by element name."""
    spans: dict[bytes, list[tuple[int, int]]] = {}
    for found in _NUMBER.finditer(data):
        spans.setdefault(found.group(1), []).append(found.span(2))
    return spans


_BAD_NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.integers(min_value=2**31, max_value=2**70).map(lambda n: str(-n)),
    st.sampled_from(
        [
            str(10**20),
            str(-(10**20)),
            str(2**63),
            str(-(2**63) - 1),
            "9" * 5000,
            "-" + "9" * 5000,
            "0" * 5000 + "1",
            "1e9",
            "1.5",
            "NaN",
            "Infinity",
            "-inf",
            "0x10",
            "",
            " ",
            "+",
            "-",
            "١٢",
            "FFFFFFFF",
            "360E2000",
            "ZZZZZZZZ",
            "123456789",
        ]
    ),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=30),
)


def _mutate(
    data: bytes, spans: dict[bytes, list[tuple[int, int]]], choices: list[tuple[bytes, int, str]]
) -> bytes:
    """``data`` with the chosen numbers (element, which occurrence, new text) replaced, escaped for XML."""
    edits = {}
    for tag, k, text in choices:
        occurrences = spans[tag]
        start, end = occurrences[k % len(occurrences)]
        edits[start] = (end, escape(text).encode())
    out, at = [], 0
    for start in sorted(edits):
        if start < at:
            continue
        end, new = edits[start]
        out += [data[at:start], new]
        at = end
    out.append(data[at:])
    return b"".join(out)


def _mutations(data: bytes) -> st.SearchStrategy[list[tuple[bytes, int, str]]]:
    tags = sorted(_numbers(data))
    return st.lists(st.tuples(st.sampled_from(tags), st.integers(min_value=0, max_value=2000), _BAD_NUMBERS),
                    min_size=1, max_size=4)  # fmt: skip


def _exercise(parsed: object) -> None:
    """Use what the parser gave as its callers would: every end, every scaled value, every offset."""
    from meshmeter.headend.greenbutton import GreenButtonData

    assert isinstance(parsed, GreenButtonData)
    for reading in parsed.meter_readings:
        for r in reading.readings:
            assert r.end > r.start
            assert (r.scaled < 0) in (True, False)
            assert (r.scaled == r.scaled.to_integral_value()) in (True, False)
    for summary in parsed.summaries:
        for m in (
            summary.overall_consumption_last_period,
            summary.current_billing_period_overall_consumption,
        ):
            assert m is None or m.scaled is None or (m.scaled < 0) in (True, False)
    if parsed.local_time is not None:
        local = parsed.local_time
        assert abs(local.tz_offset_s) < 86400
        assert abs(local.tz_offset_s + local.dst_offset_s) < 86400


@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_mutated_numbers_parse_or_raise_green_button_error(data: st.DataObject) -> None:
    original = reference("test_usage_data.xml")
    spans = _numbers(original)
    mutated = _mutate(original, spans, data.draw(_mutations(original)))
    try:
        parsed = parse_greenbutton(mutated)
    except GreenButtonError:
        return
    _exercise(parsed)


@given(data=st.data())
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_mutated_numbers_import_or_raise_green_button_error(
    database: tuple[Store, str], data: st.DataObject
) -> None:
    store, _ = database
    original = day()
    mutated = _mutate(original, _numbers(original), data.draw(_mutations(original)))
    try:
        result = import_greenbutton(store, mutated, meter_serial=SERIAL)
    except GreenButtonError:
        return
    assert 0 < result.intervals <= 96
