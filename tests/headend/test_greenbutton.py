"""Green Button (``meshmeter.headend.greenbutton``): DST rules, parsing, import, export, hostile XML.

The reference files are read from ``../shared/reference/greenbutton`` (relative to the repository
root), never copied into the project; the tests that need them skip, with the reason, where the folder
is absent. Counts are taken from the files themselves: ``test_usage_data.xml`` holds 14 IntervalBlocks,
1-14 March 2012 local time (13 × 96 + 92 on the spring-forward day = 1340 readings, the last ending
15 March 00:00 EDT), although its README says "15 days".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from meshmeter.headend.greenbutton import (
    DST_RULE_DISABLED,
    DstRule,
    GreenButtonError,
    LocalTimeParameters,
    export_greenbutton,
    import_greenbutton,
    import_quality,
    local_time_parameters,
    parse_greenbutton,
)
from meshmeter.store import Store

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "greenbutton"
SERIAL = "MMGB00001"
MARCH_1 = datetime(2012, 3, 1, 5, tzinfo=UTC)  # local midnight, US Eastern standard time
MARCH_15 = datetime(2012, 3, 15, 4, tzinfo=UTC)  # local midnight, US Eastern daylight time


def reference(name: str) -> bytes:
    """The bytes of a reference file; skip, saying why, where the folder is absent."""
    path = REFERENCE / name
    if not path.is_file():
        pytest.skip(f"reference file {path} is absent (../shared/reference is not checked out here)")
    return path.read_bytes()


@pytest.fixture(scope="module")
def schema() -> object:
    """ESPI 3.3 usage.xsd, which imports atom.xsd (xmlschema's own copy of xml.xsd: no network)."""
    xmlschema = pytest.importorskip("xmlschema")
    path = REFERENCE / "usage.xsd"
    if not path.is_file():
        pytest.skip(f"{path} is absent (../shared/reference is not checked out here)")
    return xmlschema.XMLSchema(str(path))


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    sqlite_store.create_meter(serial=SERIAL, designation="MM-D1202001-T-SCC", ct_ratio=2000)
    return sqlite_store


def meter_id(store: Store) -> int:
    meter = store.get_meter(serial=SERIAL)
    assert meter is not None
    return meter.id


# -- DstRuleType ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rule", "year", "local"),
    [
        # US: second Sunday of March 02:00; first Sunday of November 02:00 (the sample files' rules)
        (0x360E2000, DstRule(3, 3, 7, 0, 2), 2012, datetime(2012, 3, 11, 2)),
        (0xB40E2000, DstRule(11, 2, 7, 0, 2), 2012, datetime(2012, 11, 4, 2)),
        # usage.xsd's example, third Friday of March at 1:45: 0x30000000 + 4<<25 + 5<<17 + 1<<12 + 2700
        (0x380A1A8C, DstRule(3, 4, 5, 0, 1, 2700), 2024, datetime(2024, 3, 15, 1, 45)),
        # EU: last Sunday of March 02:00, of October 03:00
        (0x3E0E2000, DstRule(3, 7, 7, 0, 2), 2024, datetime(2024, 3, 31, 2)),
        (0xAE0E3000, DstRule(10, 7, 7, 0, 3), 2024, datetime(2024, 10, 27, 3)),
        # a Sunday on or after the 8th; a fixed day
        (0x328E2000, DstRule(3, 1, 7, 8, 2), 2012, datetime(2012, 3, 11, 2)),
        (0x41500000, DstRule(4, 0, 0, 21, 0), 2012, datetime(2012, 4, 21, 0)),
    ],
)
def test_dst_rule_encoding(value: int, rule: DstRule, year: int, local: datetime) -> None:
    assert rule.encode() == value
    assert DstRule.decode(value) == rule
    assert rule.local_datetime(year) == local


def test_dst_rule_disabled_and_invalid() -> None:
    assert DstRule.decode(DST_RULE_DISABLED) is None
    with pytest.raises(ValueError, match="month must be an integer in"):
        DstRule(13, 3, 7, 0, 2)
    with pytest.raises(ValueError, match="operator 2 needs a day_of_week"):
        DstRule(3, 2, 0, 0, 2)
    with pytest.raises(ValueError, match="names no day"):
        DstRule(2, 6, 7, 0, 2).local_datetime(2023)  # no fifth Sunday in February 2023


@pytest.mark.parametrize(
    ("timezone", "year", "expected"),
    [
        ("America/New_York", 2012, LocalTimeParameters(-18000, 3600, 0x360E2000, 0xB40E2000)),
        ("America/Los_Angeles", 2024, LocalTimeParameters(-28800, 3600, 0x360E2000, 0xB40E2000)),
        ("Europe/Berlin", 2024, LocalTimeParameters(3600, 3600, 0x3E0E2000, 0xAE0E3000)),
        # southern hemisphere: starts first Sunday of October 02:00, ends first Sunday of April 03:00
        ("Australia/Sydney", 2024, LocalTimeParameters(36000, 3600, 0xA40E2000, 0x440E3000)),
        ("America/Phoenix", 2024, LocalTimeParameters(-25200, 0, DST_RULE_DISABLED, DST_RULE_DISABLED)),
        ("UTC", 2024, LocalTimeParameters(0, 0, DST_RULE_DISABLED, DST_RULE_DISABLED)),
    ],
)
def test_local_time_parameters(timezone: str, year: int, expected: LocalTimeParameters) -> None:
    assert local_time_parameters(timezone, year) == expected


def test_local_time_parameters_give_the_zones_offsets() -> None:
    params = local_time_parameters("America/New_York", 2012)
    assert params.dst_span(2012) == (
        datetime(2012, 3, 11, 7, tzinfo=UTC),
        datetime(2012, 11, 4, 6, tzinfo=UTC),
    )
    assert params.utcoffset_s(datetime(2012, 3, 11, 6, 59, 59, tzinfo=UTC)) == -18000
    assert params.utcoffset_s(datetime(2012, 3, 11, 7, tzinfo=UTC)) == -14400
    sydney = local_time_parameters("Australia/Sydney", 2024)
    assert sydney.utcoffset_s(datetime(2024, 1, 15, tzinfo=UTC)) == 39600
    assert sydney.utcoffset_s(datetime(2024, 7, 15, tzinfo=UTC)) == 36000
    with pytest.raises(ValueError, match="timezone must be an IANA"):
        local_time_parameters("Nowhere/Atlantis", 2024)


# -- parsing -------------------------------------------------------------------------------------------


def test_parse_fifteen_day_file() -> None:
    data = parse_greenbutton(reference("test_usage_data.xml"))
    assert len(data.usage_points) == 1
    point = data.usage_points[0]
    assert (point.title, point.service_kind) == ("Front Electric Meter", 0)
    assert data.local_time == LocalTimeParameters(-18000, 3600, 0x360E2000, 0xB40E2000)
    assert data.local_time == local_time_parameters("America/New_York", 2012)
    (reading,) = point.meter_readings
    rt = reading.reading_type
    assert rt is not None
    assert (rt.uom, rt.power_of_ten_multiplier, rt.interval_length_s) == (72, 0, 900)
    assert (rt.accumulation_behaviour, rt.flow_direction) == (4, 1)
    assert len(reading.blocks) == 14
    assert [len(b.readings) for b in reading.blocks] == [96] * 10 + [92] + [96] * 3
    readings = reading.readings
    assert len(readings) == 13 * 96 + 92 == 1340
    first = readings[0]
    assert (first.start, first.duration_s, first.value, first.scaled) == (MARCH_1, 900, 282, Decimal(282))
    assert (first.qualities, first.cost) == ((8,), 974)
    assert readings[1].qualities == (7,)
    assert sum(1 for r in readings if r.qualities) == 2
    assert readings[-1].end == MARCH_15
    (summary,) = point.summaries
    assert summary.element == "ElectricPowerUsageSummary"
    assert summary.billing_period_start == MARCH_1
    assert summary.billing_period_duration_s == 1119600
    assert summary.overall_consumption_last_period is not None
    assert summary.overall_consumption_last_period.scaled == Decimal(1298640)
    assert summary.quality_of_reading == 14


def test_parse_spring_forward_day() -> None:
    (reading,) = parse_greenbutton(reference("test_usage_data_11.xml")).meter_readings
    (block,) = reading.blocks
    assert (block.start, block.duration_s) == (datetime(2012, 3, 11, 5, tzinfo=UTC), 82800)
    assert len(block.readings) == 92
    assert block.readings[-1].end - block.readings[0].start == timedelta(seconds=82800)


def test_parse_usage_summary_and_multiplier() -> None:
    text = reference("test_usage_data_01.xml").decode()
    text = text.replace("ElectricPowerUsageSummary", "UsageSummary")
    text = text.replace(
        "<powerOfTenMultiplier>0</powerOfTenMultiplier>\n\t\t\t\t<timeAttribute>",
        "<powerOfTenMultiplier>-3</powerOfTenMultiplier>\n\t\t\t\t<timeAttribute>",
    )
    data = parse_greenbutton(text.encode())
    (summary,) = data.summaries
    assert summary.element == "UsageSummary"
    first = data.meter_readings[0].readings[0]
    assert (first.value, first.scaled) == (282, Decimal("0.282"))


# -- hostile and malformed input -------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol4;</title></feed>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&xxe;</title></feed>"""

EMPTY_DTD = b"""<?xml version="1.0"?><!DOCTYPE feed><feed xmlns="http://www.w3.org/2005/Atom"/>"""


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (BILLION_LAUGHS, "forbidden"),
        (EXTERNAL_ENTITY, "forbidden"),
        (EMPTY_DTD, "forbidden"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'><entry>", "malformed"),
        (b"", "malformed"),
        (b"<html><body>not a feed</body></html>", "not_espi"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'><title>no ESPI</title></feed>", "not_espi"),
    ],
)
def test_hostile_and_malformed_input_is_refused(data: bytes, reason: str, store: Store) -> None:
    with pytest.raises(GreenButtonError) as info:
        parse_greenbutton(data)
    assert info.value.reason == reason
    with pytest.raises(GreenButtonError):
        import_greenbutton(store, data, meter_serial=SERIAL)
    assert (
        store.raw_intervals(meter_id=meter_id(store), start=MARCH_1 - timedelta(days=1), end=MARCH_15) == []
    )


def test_bad_number_is_malformed() -> None:
    text = reference("test_usage_data_01.xml").replace(b"<value>282</value>", b"<value>28.2</value>")
    with pytest.raises(GreenButtonError, match=r"malformed: .*value must be an integer, got '28.2'"):
        parse_greenbutton(text)


# -- import ----------------------------------------------------------------------------------------------


def test_import_fifteen_day_file(store: Store) -> None:
    result = import_greenbutton(store, reference("test_usage_data.xml"), meter_serial=SERIAL)
    assert (result.intervals, result.stored, result.validated) == (1340, 1340, 2)
    assert (result.first_end, result.last_end) == (MARCH_1 + timedelta(minutes=15), MARCH_15)
    assert result.qualities == {0: 1338, 8: 1, 7: 1}
    raw = store.raw_intervals(meter_id=meter_id(store), start=MARCH_1, end=MARCH_15)
    assert len(raw) == 1340
    assert {r.source for r in raw} == {"greenbutton"}
    assert (raw[0].interval_end, raw[0].energy_wh) == (MARCH_1 + timedelta(minutes=15), 282)
    validated = store.validated_intervals(meter_id=meter_id(store), start=MARCH_1, end=MARCH_15)
    assert [(v.energy_wh, v.quality) for v in validated] == [(282, 8), (323, 7)]
    # local days: 96 intervals each, 92 on 11 March (local midnight 05:00 UTC to 04:00 UTC next day)
    spring = [
        r
        for r in raw
        if datetime(2012, 3, 11, 5, tzinfo=UTC) < r.interval_end <= datetime(2012, 3, 12, 4, tzinfo=UTC)
    ]
    assert len(spring) == 92
    again = import_greenbutton(store, reference("test_usage_data.xml"), meter_serial=SERIAL)
    assert (again.stored, again.validated) == (0, 0)


def test_import_spring_forward_day(store: Store) -> None:
    result = import_greenbutton(store, reference("test_usage_data_11.xml"), meter_serial=SERIAL)
    assert result.intervals == 92
    assert result.first_end is not None
    assert result.last_end is not None
    assert result.last_end - result.first_end + timedelta(minutes=15) == timedelta(seconds=82800)


def test_import_one_day(store: Store) -> None:
    result = import_greenbutton(store, reference("test_usage_data_01.xml"), meter_serial=SERIAL)
    assert (result.intervals, result.stored) == (96, 96)


def _altered(old: bytes, new: bytes) -> Callable[[], bytes]:
    return lambda: reference("test_usage_data_01.xml").replace(old, new, 1)


@pytest.mark.parametrize(
    ("make", "reason", "match"),
    [
        (_altered(b"<uom>72</uom>", b"<uom>38</uom>"), "unsupported", "uom must be 72"),
        (_altered(b"<flowDirection>1<", b"<flowDirection>19<"), "unsupported", "flowDirection must be 1"),
        (_altered(b"<intervalLength>900<", b"<intervalLength>3600<"), "unsupported", "intervalLength"),
        (
            _altered(
                b"<duration>900</duration>\n\t\t\t\t\t\t<start>1330579800",
                b"<duration>600</duration>\n\t\t\t\t\t\t<start>1330579800",
            ),
            "unsupported",
            "lasts 600 s",
        ),
        (
            _altered(b"<start>1330579800</start>", b"<start>1330579860</start>"),
            "unsupported",
            "15-minute grid",
        ),
        (_altered(b"<value>282</value>", b"<value>-282</value>"), "unsupported", "non-negative"),
        (
            _altered(
                b"<powerOfTenMultiplier>0</powerOfTenMultiplier>\n\t\t\t\t<timeAttribute>",
                b"<powerOfTenMultiplier>-1</powerOfTenMultiplier>\n\t\t\t\t<timeAttribute>",
            ),
            "unsupported",
            "whole",
        ),
        (_altered(b"<start>1330579800</start>", b"<start>1330578900</start>"), "conflict", "twice"),
    ],
)
def test_import_refuses_the_whole_file(
    store: Store, make: Callable[[], bytes], reason: str, match: str
) -> None:
    data = make()
    assert data != reference("test_usage_data_01.xml")
    with pytest.raises(GreenButtonError, match=match) as info:
        import_greenbutton(store, data, meter_serial=SERIAL)
    assert info.value.reason == reason
    assert (
        store.raw_intervals(meter_id=meter_id(store), start=MARCH_1 - timedelta(days=1), end=MARCH_15) == []
    )


def test_import_scales_by_the_multiplier(store: Store) -> None:
    data = reference("test_usage_data_01.xml").replace(
        b"<powerOfTenMultiplier>0</powerOfTenMultiplier>\n\t\t\t\t<timeAttribute>",
        b"<powerOfTenMultiplier>1</powerOfTenMultiplier>\n\t\t\t\t<timeAttribute>",
        1,
    )
    # ten times 1607 Wh (11:00 UTC, the first of 18 such quarter-hours) is more than a Mini Meter can register
    with pytest.raises(
        GreenButtonError,
        match=r"energy_too_high: .* starting 2012-03-01T11:00:00\+00:00 gives 16070 Wh, above 15180 Wh",
    ):
        import_greenbutton(store, data, meter_serial=SERIAL)
    possible = re.sub(rb"<value>(1519|15[2-9][0-9]|16[0-9][0-9])</value>", b"<value>1518</value>", data)
    import_greenbutton(store, possible, meter_serial=SERIAL)
    raw = store.raw_intervals(meter_id=meter_id(store), start=MARCH_1, end=MARCH_15)
    assert raw[0].energy_wh == 2820
    assert max(r.energy_wh for r in raw) == 15180


def test_import_unknown_meter(sqlite_store: Store) -> None:
    with pytest.raises(GreenButtonError, match="unknown_meter: meter_serial 'NOPE'"):
        import_greenbutton(sqlite_store, reference("test_usage_data_01.xml"), meter_serial="NOPE")


@pytest.mark.parametrize(
    ("codes", "kept"),
    [
        ((), None),
        ((0,), None),
        ((14,), None),
        ((17,), None),
        ((7,), 7),
        ((8,), 8),
        ((9,), 9),
        ((10,), 10),
        ((11,), 10),
        ((7, 8), 8),
    ],
)
def test_import_quality(codes: tuple[int, ...], kept: int | None) -> None:
    assert import_quality(codes) == kept


# -- export ----------------------------------------------------------------------------------------------


def test_export_validates_and_round_trips(store: Store, schema: object) -> None:
    original = parse_greenbutton(reference("test_usage_data.xml")).meter_readings[0].readings
    import_greenbutton(store, reference("test_usage_data.xml"), meter_serial=SERIAL)
    data = export_greenbutton(
        store,
        meter_serial=SERIAL,
        start=MARCH_1,
        end=MARCH_15,
        timezone="America/New_York",
        generated_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    schema.validate(data)  # type: ignore[attr-defined]
    parsed = parse_greenbutton(data)
    assert parsed.local_time == LocalTimeParameters(-18000, 3600, 0x360E2000, 0xB40E2000)
    (reading,) = parsed.meter_readings
    rt = reading.reading_type
    assert rt is not None
    assert (
        rt.uom,
        rt.power_of_ten_multiplier,
        rt.interval_length_s,
        rt.accumulation_behaviour,
        rt.flow_direction,
    ) == (72, 0, 900, 4, 1)
    assert [(b.duration_s, len(b.readings)) for b in reading.blocks] == [(86400, 96)] * 10 + [(82800, 92)] + [
        (86400, 96)
    ] * 3
    # A reading the file flags keeps its code; the others are raw (14) until the head-end's VEE passes
    # them, as from every other door.
    assert [(r.start, r.duration_s, r.value, r.qualities) for r in reading.readings] == [
        (r.start, r.duration_s, r.value, (import_quality(r.qualities) or 14,)) for r in original
    ]
    # the same export again is the same bytes
    again = export_greenbutton(
        store,
        meter_serial=SERIAL,
        start=MARCH_1,
        end=MARCH_15,
        timezone="America/New_York",
        generated_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    assert again == data


def test_export_fall_back_day_has_100_intervals(store: Store, schema: object) -> None:
    midnight = datetime(2012, 11, 4, 4, tzinfo=UTC)  # 00:00 EDT; the next local midnight is 05:00 UTC
    ends = [midnight + timedelta(minutes=15 * k) for k in range(1, 101)]
    store.insert_raw_intervals(meter_id=meter_id(store), rows=[(e, 7) for e in ends], source="test")
    store.put_validated_intervals(meter_id=meter_id(store), rows=[(ends[3], 9, 9)], edited_by="t", reason="t")
    data = export_greenbutton(
        store, meter_serial=SERIAL, start=midnight, end=ends[-1], timezone="America/New_York"
    )
    schema.validate(data)  # type: ignore[attr-defined]
    (reading,) = parse_greenbutton(data).meter_readings
    (block,) = reading.blocks
    assert (block.start, block.duration_s, len(block.readings)) == (midnight, 90000, 100)
    assert block.readings[3].qualities == (9,)
    assert sum(r.value for r in block.readings) == 99 * 7 + 9


def test_export_defaults_to_the_site_time_zone_then_utc(sqlite_store: Store, schema: object) -> None:
    site = sqlite_store.create_site(name="Tower", timezone="Europe/Berlin")
    sqlite_store.create_meter(serial="SITE1", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id)
    sqlite_store.create_meter(serial="BARE1", designation="MM-D1202001-T-SCC", ct_ratio=2000)
    start, end = datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 6, 2, tzinfo=UTC)
    with_site = export_greenbutton(sqlite_store, meter_serial="SITE1", start=start, end=end)
    schema.validate(with_site)  # type: ignore[attr-defined]
    assert parse_greenbutton(with_site).local_time == LocalTimeParameters(3600, 3600, 0x3E0E2000, 0xAE0E3000)
    bare = export_greenbutton(sqlite_store, meter_serial="BARE1", start=start, end=end)
    schema.validate(bare)  # type: ignore[attr-defined]
    parsed = parse_greenbutton(bare)
    assert parsed.local_time == LocalTimeParameters(0, 0, DST_RULE_DISABLED, DST_RULE_DISABLED)
    assert parsed.meter_readings[0].blocks == ()


def test_export_bad_arguments(store: Store) -> None:
    with pytest.raises(ValueError, match="meter_serial 'NOPE' is not a known meter"):
        export_greenbutton(store, meter_serial="NOPE", start=MARCH_1, end=MARCH_15)
    with pytest.raises(ValueError, match="start must be a timezone-aware"):
        export_greenbutton(store, meter_serial=SERIAL, start=datetime(2012, 3, 1), end=MARCH_15)
    with pytest.raises(ValueError, match="end must be after start"):
        export_greenbutton(store, meter_serial=SERIAL, start=MARCH_15, end=MARCH_1)
    with pytest.raises(ValueError, match="timezone must be an IANA"):
        export_greenbutton(store, meter_serial=SERIAL, start=MARCH_1, end=MARCH_15, timezone="Mars/Base")


def test_an_hourly_meter_imports_and_exports_hourly_readings(sqlite_store: Store) -> None:
    """A meter's Green Button data is read and written at its own length (issue 11): hourly here."""
    meter = sqlite_store.create_meter(
        serial="MMGBH0001", designation="MM-D1202001-T-SCC", ct_ratio=2000, interval_s=3600
    )
    quarter = reference("test_usage_data.xml")
    # the same file refused for the hourly meter: its readings last 900 s
    with pytest.raises(GreenButtonError, match="3600 s, the length of meter MMGBH0001's intervals"):
        import_greenbutton(sqlite_store, quarter, meter_serial="MMGBH0001")
    sqlite_store.insert_raw_intervals(
        meter_id=meter.id, rows=[(MARCH_1 + timedelta(hours=k), 400 + k) for k in range(1, 25)], source="test"
    )
    data = export_greenbutton(
        sqlite_store, meter_serial="MMGBH0001", start=MARCH_1, end=MARCH_1 + timedelta(days=1)
    )
    assert b"<title>Hourly electricity consumption</title>" in data
    assert b"<title>Energy delivered, Wh per hour</title>" in data
    (reading,) = parse_greenbutton(data).meter_readings
    assert reading.reading_type is not None
    assert reading.reading_type.interval_length_s == 3600
    assert [(r.duration_s, int(r.scaled)) for r in reading.readings] == [
        (3600, 400 + k) for k in range(1, 25)
    ]
    other = sqlite_store.create_meter(
        serial="MMGBH0002", designation="MM-D1202001-T-SCC", ct_ratio=2000, interval_s=3600
    )
    assert import_greenbutton(sqlite_store, data, meter_serial="MMGBH0002").intervals == 24
    assert sqlite_store.interval_view(meter_id=other.id, start=MARCH_1, end=MARCH_15).total_wh == sum(
        400 + k for k in range(1, 25)
    )
