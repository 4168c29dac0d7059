"""The interval concept, once (``meshmeter/intervals.py``): lengths, qualities, grids, zones, rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from meshmeter.intervals import (
    BILLED_QUALITIES,
    ESTIMATED_QUALITIES,
    QUALITY_RANK,
    IntervalColumns,
    IntervalLength,
    Quality,
    check_interval_s,
    check_on_grid,
    floor_to_grid,
    rollup,
    worst_quality,
    zone,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(900, 900), ("15min", 900), ("15m", 900), ("PT15M", 900), ("1h", 3600), ("60min", 3600), ("300", 300)],
)
def test_a_length_is_read_from_seconds_or_minutes(text: object, seconds: int) -> None:
    assert IntervalLength.of(text) == seconds


@pytest.mark.parametrize("bad", [600, "10min", "2h", True, 900.0, None, "fifteen"])
def test_a_length_that_is_not_one_is_refused_naming_the_allowed(bad: object) -> None:
    with pytest.raises(ValueError, match=r"interval_s must be one of 300 \(5min\), 900 \(15min\)"):
        IntervalLength.of(bad)


@pytest.mark.parametrize("bad", ["900", 900.0, True, 600])
def test_check_interval_s_takes_integers_only(bad: object) -> None:
    with pytest.raises(ValueError, match="must be one of 300, 900, 1800, 3600 seconds"):
        check_interval_s(bad)
    assert check_interval_s(np.int64(3600)) == 3600


def test_quality_codes_say_what_is_billed_and_estimated() -> None:
    # ESPI (NAESB REQ.21) QualityOfReading: 0 valid, 7 manually edited, 8 estimated using reference day,
    # 9 estimated using linear interpolation, 10 questionable, 11 derived, 14 raw
    assert [int(q) for q in Quality] == [0, 7, 8, 9, 10, 11, 14]
    assert {q for q in Quality if q.billed} == {Quality.VALID, Quality.EDITED, *map(Quality, (8, 9, 11))}
    assert {int(q) for q in Quality if q.estimated} == set(ESTIMATED_QUALITIES) == {8, 9}
    assert {17, 18, 19} <= BILLED_QUALITIES
    assert Quality.RAW.text == "raw"
    assert sorted(QUALITY_RANK, key=QUALITY_RANK.__getitem__) == [0, 7, 11, 9, 8, 14, 10]


@pytest.mark.parametrize(
    ("codes", "worst"), [([], None), ([0, 7], 7), ([9, 8], 8), ([8, 14], 14), ([14, 10], 10)]
)
def test_worst_quality(codes: list[int], worst: int | None) -> None:
    assert worst_quality(codes) == worst


def test_zone_names_the_argument() -> None:
    assert zone("America/Los_Angeles").key == "America/Los_Angeles"
    for bad in ("Mars/Olympus", "", None):
        with pytest.raises(ValueError, match=r"tz must be an IANA time zone name .* got"):
            zone(bad, name="tz")


def test_grid() -> None:
    when = datetime(2026, 7, 1, 10, 14, 59, tzinfo=timezone(timedelta(hours=-7)))
    assert floor_to_grid(when) == datetime(2026, 7, 1, 17, 0, tzinfo=UTC)
    assert floor_to_grid(when, 3600) == datetime(2026, 7, 1, 17, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        floor_to_grid(datetime(2026, 7, 1))
    check_on_grid([3600, 7200], 3600)
    with pytest.raises(ValueError, match=r"60-minute grid; 2 do not: 1970-01-01T00:15:00\+00:00"):
        check_on_grid([900, 3600, 4500], 3600)


def _quarters(energy: list[int], quality: list[int], first_end_s: int = 900) -> IntervalColumns:
    ends = np.arange(first_end_s, first_end_s + 900 * len(energy), 900, dtype=np.int64)
    return IntervalColumns(ends, np.array(energy, dtype=np.int64), np.array(quality, dtype=np.int64))


def test_a_rollup_is_exact_and_never_fills_a_gap() -> None:
    # two whole hours of quarter-hours, the second with an estimate; then an hour with one quarter missing
    columns = _quarters([1, 2, 3, 4, 10, 20, 30, 40, 5, 5, 5], [0, 0, 0, 0, 0, 9, 0, 7, 0, 0, 0])
    hourly = rollup(columns, 3600)
    assert hourly.interval_s == 3600
    assert hourly.interval_end_s.tolist() == [3600, 7200, 10800]
    assert hourly.energy_wh.tolist() == [10, 100, 15]
    # the estimate's code is kept (least trusted); the incomplete hour is raw: never billed as whole
    assert hourly.quality.tolist() == [0, 9, 14]
    assert hourly.total_wh == columns.total_wh


def test_a_rollup_to_a_finer_or_unaligned_length_is_refused() -> None:
    hourly = IntervalColumns(np.array([3600]), np.array([4]), np.array([0]), 3600)
    with pytest.raises(ValueError, match="multiple of the data's 3600 s"):
        rollup(hourly, 900)
    assert rollup(hourly, 3600).energy_wh.tolist() == [4]
    assert len(rollup(IntervalColumns.empty(), 3600)) == 0


def test_columns_must_have_one_length() -> None:
    with pytest.raises(ValueError, match="one length"):
        IntervalColumns(np.array([900, 1800]), np.array([1]), np.array([0, 0]))
    view = _quarters([1, 2, 3], [0, 8, 14])
    assert view.billed().tolist() == [True, True, False]
    assert view.estimated().tolist() == [False, True, False]
    assert view.window(900, 1800).energy_wh.tolist() == [2]
    assert [q for _, _, q in view.rows()] == [0, 8, 14]
