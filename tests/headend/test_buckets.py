"""The one bucket arithmetic of the API and the exports: bounds in local time, worst quality, sums."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from meshmeter.headend.buckets import (
    QUALITY_RANK,
    Resolution,
    aggregate_columns,
    bucket_bounds,
    worst_quality,
)

LA = ZoneInfo("America/Los_Angeles")


def test_api_and_exports_share_one_implementation():
    import meshmeter.api.intervals as api
    import meshmeter.headend.exports as exports

    assert api.aggregate_columns is aggregate_columns
    assert api.QUALITY_RANK is QUALITY_RANK is exports.QUALITY_RANK
    assert api.worst_quality is worst_quality is exports.worst_quality
    assert api.Resolution is Resolution


def test_local_days_of_the_dst_changes_span_92_and_100_quarter_hours():
    spring = bucket_bounds(
        datetime(2024, 3, 10, 8, tzinfo=UTC), datetime(2024, 3, 11, 7, tzinfo=UTC), Resolution.DAILY, LA
    )
    fall = bucket_bounds(
        datetime(2024, 11, 3, 7, tzinfo=UTC), datetime(2024, 11, 4, 8, tzinfo=UTC), Resolution.DAILY, LA
    )
    assert [(b - a) // 900 for a, b in itertools.pairwise(spring)] == [92]
    assert [(b - a) // 900 for a, b in itertools.pairwise(fall)] == [100]
    months = bucket_bounds(
        datetime(2024, 1, 1, 8, tzinfo=UTC), datetime(2024, 4, 1, 7, tzinfo=UTC), Resolution.MONTHLY, LA
    )
    assert [datetime.fromtimestamp(b, LA).date().isoformat() for b in months] == [
        "2024-01-01",
        "2024-02-01",
        "2024-03-01",
        "2024-04-01",
    ]


@pytest.mark.parametrize(
    ("start", "end", "resolution", "match"),
    [
        (
            datetime(2024, 3, 2, tzinfo=UTC),
            datetime(2024, 3, 1, tzinfo=UTC),
            "15min",
            "end must be after start",
        ),
        (datetime(2024, 3, 1, 0, 5, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC), "15min", "15-minute"),
        (datetime(2024, 3, 1, 0, 30, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC), "hourly", "whole hour"),
        (datetime(2024, 3, 1, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC), "daily", "midnight"),
        (datetime(2024, 3, 2, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC), "monthly", "first of a month"),
    ],
)
def test_bounds_off_the_resolution_are_refused(start, end, resolution, match):
    with pytest.raises(ValueError, match=match):
        bucket_bounds(start, end, Resolution(resolution), UTC)


def test_sums_and_worst_quality_by_bucket():
    # hour 1: 4 valid intervals; hour 2: 2 present, one questionable; hour 3: none
    ends = np.array([900, 1800, 2700, 3600, 4500, 7200], dtype=np.int64)
    energy = np.array([1, 2, 3, 4, 10, 20], dtype=np.int64)
    quality = np.array([0, 0, 0, 0, 9, 10], dtype=np.int64)
    columns = aggregate_columns(ends, energy, quality, [0, 3600, 7200, 10800])
    assert columns.energy_wh.tolist() == [10, 30, -1]
    assert columns.quality.tolist() == [0, 10, -1]
    assert columns.count.tolist() == [4, 2, 0]
    assert columns.expected.tolist() == [4, 4, 4]
    assert worst_quality([0, 9, 8]) == 8
    assert worst_quality([]) is None
    with pytest.raises(ValueError, match="quality codes must be among"):
        aggregate_columns(ends, energy, np.full(6, 3, dtype=np.int64), [0, 10800])
