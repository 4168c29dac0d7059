"""The pure functions behind the intervals route: bounds, merge, aggregation, quality."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from meshmeter.api.intervals import (
    Bucket,
    Resolution,
    aggregate,
    boundaries,
    merge_intervals,
    parse_instant,
    parse_timezone,
    to_csv,
    worst_quality,
)

LA = ZoneInfo("America/Los_Angeles")


def test_parse_instant_reads_naive_values_in_the_zone():
    assert parse_instant("start", "2024-03-10", LA) == datetime(2024, 3, 10, 8, tzinfo=UTC)
    assert parse_instant("start", "2024-03-10T12:00:00Z", LA) == datetime(2024, 3, 10, 12, tzinfo=UTC)
    assert parse_instant("start", "2024-03-10T00:00:00+01:00") == datetime(2024, 3, 9, 23, tzinfo=UTC)
    with pytest.raises(ValueError, match="start must be an ISO 8601"):
        parse_instant("start", "10/03/2024")


def test_parse_timezone():
    assert parse_timezone(None) is UTC
    assert parse_timezone("America/Los_Angeles") == LA
    with pytest.raises(ValueError, match="tz must be"):
        parse_timezone("PST8PDT/Nowhere")


@pytest.mark.parametrize(
    ("day", "hours"),
    [("2024-03-10", 23), ("2024-11-03", 25), ("2024-07-01", 24)],
)
def test_a_local_day_in_quarter_hours_and_hours(day, hours):
    start = parse_instant("start", day, LA)
    end = parse_instant("end", f"{day}T00:00", LA).astimezone(LA)
    end = parse_instant("end", (end.date().fromordinal(end.date().toordinal() + 1)).isoformat(), LA)
    assert len(boundaries(start, end, Resolution.QUARTER_HOUR, LA)) - 1 == hours * 4
    assert len(boundaries(start, end, Resolution.HOURLY, LA)) - 1 == hours
    assert boundaries(start, end, Resolution.DAILY, LA) == [int(start.timestamp()), int(end.timestamp())]


def test_hourly_in_a_half_hour_zone():
    kolkata = ZoneInfo("Asia/Kolkata")
    start = parse_instant("start", "2024-01-01", kolkata)
    end = parse_instant("end", "2024-01-02", kolkata)
    bounds = boundaries(start, end, Resolution.HOURLY, kolkata)
    assert len(bounds) == 25
    assert datetime.fromtimestamp(bounds[1], kolkata).minute == 0
    with pytest.raises(ValueError, match="whole hour"):
        boundaries(datetime(2024, 1, 1, tzinfo=UTC), end, Resolution.HOURLY, kolkata)


def test_merge_prefers_validated_and_sorts_estimates_in():
    t = [datetime(2024, 1, 1, 0, m, tzinfo=UTC) for m in (15, 30, 45)]
    ends, energy, quality = merge_intervals([(t[0], 5), (t[2], 7)], [(t[1], 6, 9), (t[2], 8, 7)])
    assert ends == [int(x.timestamp()) for x in t]
    assert energy == [5, 6, 8]
    assert quality == [14, 9, 7]


@pytest.mark.parametrize(
    ("codes", "worst"),
    [([], None), ([0, 0], 0), ([0, 7], 7), ([7, 9], 9), ([9, 8], 8), ([8, 14], 14), ([14, 10, 0], 10)],
)
def test_worst_quality(codes, worst):
    assert worst_quality(codes) == worst


def test_aggregate_sums_counts_and_skips_outside():
    buckets = aggregate([900, 1800, 2700, 3600, 4500], [1, 2, 3, 4, 5], [0, 0, 9, 0, 0], [900, 2700, 4500])
    assert buckets == [Bucket(900, 2700, 5, 9, 2, 2), Bucket(2700, 4500, 9, 0, 2, 2)]
    assert aggregate([], [], [], [0, 900]) == [Bucket(0, 900, None, None, 0, 1)]


def test_csv_leaves_empty_cells_for_none():
    text = to_csv([Bucket(0, 900, None, None, 0, 1)], UTC)
    assert text.splitlines() == [
        "interval_start,interval_end,energy_wh,quality,count,expected",
        "1970-01-01T00:00:00+00:00,1970-01-01T00:15:00+00:00,,,0,1",
    ]


def test_json_is_valid_json_with_nulls():
    import json

    from meshmeter.api.intervals import to_json

    buckets = [Bucket(0, 900, None, None, 0, 1), Bucket(900, 1800, 5, 0, 1, 1)]
    body = json.loads(to_json(buckets, UTC, {"meter": 'A"1', "tz": "UTC"}))
    assert body["meter"] == 'A"1'
    assert body["count"] == 2
    assert body["data"][0] == {
        "interval_start": "1970-01-01T00:00:00+00:00",
        "interval_end": "1970-01-01T00:15:00+00:00",
        "energy_wh": None,
        "quality": None,
        "count": 0,
        "expected": 1,
    }
    assert body["data"][1]["energy_wh"] == 5
    assert json.loads(to_json([], UTC, {})) == {"data": [], "count": 0}
