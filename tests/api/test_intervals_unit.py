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


@pytest.mark.parametrize("fill_gap", [False, True])
@pytest.mark.parametrize(("resolution", "tz"), [("15min", UTC), ("hourly", LA), ("daily", LA)])
def test_the_column_functions_give_what_the_object_functions_give(fill_gap, resolution, tz):
    """aggregate_columns, columns_to_json and columns_to_csv equal their row-wise twins,
    byte for byte, across the spring-forward day, with gaps, and estimates inside and outside raw data."""
    import numpy as np

    from meshmeter.api.intervals import (
        aggregate_columns,
        columns_to_csv,
        columns_to_json,
        to_json,
    )

    start = datetime(2024, 3, 9, 8, tzinfo=UTC)  # local midnight in Los Angeles, the day before the change
    end = datetime(2024, 3, 12, 7, tzinfo=UTC)
    first = int(start.timestamp())
    ends = np.arange(first + 900, int(end.timestamp()) + 1, 900, dtype=np.int64)
    ends = np.delete(ends, np.s_[40:60])  # a gap of 20 quarter-hours
    energy = (ends // 900) % 97
    estimated = ends[::50] if not fill_gap else np.append(ends[::50], first + 900 * 45)
    estimated = np.unique(estimated)
    est_energy = np.full(estimated.size, 7, dtype=np.int64)
    est_quality = np.where(np.arange(estimated.size) % 2 == 0, 9, 10).astype(np.int64)
    at = np.searchsorted(ends, estimated)
    inside = (at < ends.size) & (ends[np.minimum(at, ends.size - 1)] == estimated)
    all_ends = np.union1d(ends, estimated)
    all_energy = np.zeros(all_ends.size, dtype=np.int64)
    all_quality = np.full(all_ends.size, 14, dtype=np.int64)
    all_energy[np.searchsorted(all_ends, ends)] = energy
    all_energy[np.searchsorted(all_ends, estimated)] = est_energy
    all_quality[np.searchsorted(all_ends, estimated)] = est_quality
    assert inside.any() or not fill_gap
    merged = (all_ends, all_energy, all_quality)
    merged_rows = tuple(m.tolist() for m in merged)
    bounds = boundaries(start, end, Resolution(resolution), tz)
    columns = aggregate_columns(*merged, bounds)
    buckets = aggregate(*merged_rows, bounds)
    assert columns.buckets() == buckets
    head = {"meter": "M1", "tz": str(tz)}
    assert columns_to_json(columns, tz, head) == to_json(buckets, tz, head)
    assert columns_to_csv(columns, tz) == to_csv(buckets, tz)


def test_iso_seconds_equals_isoformat_over_the_calendar():
    import numpy as np

    from meshmeter.api.intervals import _iso_seconds

    edges = [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2000, 2, 29, 12, 34, 56, tzinfo=UTC),
        datetime(2100, 2, 28, 23, 59, 59, tzinfo=UTC),
        datetime(2100, 3, 1, tzinfo=UTC),
        datetime(2024, 12, 31, 23, 45, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    ]
    rng = np.random.default_rng(4)
    seconds = np.concatenate(
        [
            np.array([int(d.timestamp()) for d in edges], dtype=np.int64),
            rng.integers(int(edges[0].timestamp()), int(edges[-1].timestamp()), 2000, dtype=np.int64),
        ]
    )
    expected = [datetime.fromtimestamp(int(s), UTC).replace(tzinfo=None).isoformat() for s in seconds]
    assert _iso_seconds(seconds).tolist() == expected
