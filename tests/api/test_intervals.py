"""GET /meters/{serial}/intervals: resolutions, local time and DST days, validated data first, CSV, bad
input, and a year of 15-minute data in one request."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta

import pytest

from meshmeter.api.problems import PROBLEM_JSON
from tests.api.conftest import ADMIN, T0

URL = "/meters/M1/intervals"
LA = "America/Los_Angeles"


def _get(client, **params):
    response = client.get(URL, params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response


def test_quarter_hours_raw(client, site_data):
    body = _get(client, start="2024-03-01T08:00:00Z", end="2024-03-01T09:00:00Z").json()
    assert body["meter"] == "M1"
    assert body["resolution"] == "15min"
    assert body["tz"] == "UTC"
    assert body["count"] == 4
    assert body["data"][0] == {
        "interval_start": "2024-03-01T08:00:00+00:00",
        "interval_end": "2024-03-01T08:15:00+00:00",
        "energy_wh": 100,
        "quality": 14,
        "count": 1,
        "expected": 1,
    }


def test_validated_intervals_are_preferred(client, store, site_data):
    end1 = T0 + timedelta(minutes=15)
    store.put_validated_intervals(
        meter_id=site_data["m1"],
        rows=[(end1, 100, 0), (end1 + timedelta(minutes=15), 90, 7)],
        edited_by="vee",
        reason="test",
    )
    data = _get(client, start="2024-03-01T08:00:00Z", end="2024-03-01T09:00:00Z").json()["data"]
    assert [(d["energy_wh"], d["quality"]) for d in data] == [(100, 0), (90, 7), (100, 14), (100, 14)]
    hour = _get(client, start="2024-03-01T08:00:00Z", end="2024-03-01T09:00:00Z", resolution="hourly")
    assert [(d["energy_wh"], d["quality"]) for d in hour.json()["data"]] == [(390, 14)]


def test_estimate_fills_a_gap_and_gaps_are_null(client, store, site_data):
    before = T0 - timedelta(minutes=15)
    store.put_validated_intervals(
        meter_id=site_data["m1"], rows=[(before, 80, 9)], edited_by="vee", reason="interpolated"
    )
    data = _get(client, start="2024-03-01T07:15:00Z", end="2024-03-01T08:15:00Z").json()["data"]
    assert [(d["energy_wh"], d["quality"], d["count"]) for d in data] == [
        (None, None, 0),
        (80, 9, 1),
        (None, None, 0),
        (100, 14, 1),
    ]


def test_daily_in_local_time(client, site_data):
    body = _get(client, start="2024-03-01", end="2024-03-04", resolution="daily", tz=LA).json()
    assert body["start"] == "2024-03-01T00:00:00-08:00"
    assert [(d["interval_end"], d["energy_wh"], d["count"], d["expected"]) for d in body["data"]] == [
        ("2024-03-02T00:00:00-08:00", 9600, 96, 96),
        ("2024-03-03T00:00:00-08:00", 9600, 96, 96),
        ("2024-03-04T00:00:00-08:00", 9600, 96, 96),
    ]
    # The same days in UTC cut the data at UTC midnight instead.
    utc = _get(client, start="2024-03-01", end="2024-03-04", resolution="daily").json()["data"]
    assert [d["energy_wh"] for d in utc] == [6400, 9600, 9600]


def _fill(store, meter_id, start, end):
    rows, t = [], start
    while t < end:
        t += timedelta(minutes=15)
        rows.append((t, 10))
    store.insert_raw_intervals(meter_id=meter_id, rows=rows, source="test")


def test_dst_days_have_92_and_100_quarter_hours(client, store, site_data):
    # 2024-03-10 (spring forward) and 2024-11-03 (fall back) in Los Angeles.
    _fill(store, site_data["m1"], datetime(2024, 3, 9, 8, tzinfo=UTC), datetime(2024, 3, 12, 7, tzinfo=UTC))
    _fill(store, site_data["m1"], datetime(2024, 11, 2, 7, tzinfo=UTC), datetime(2024, 11, 5, 8, tzinfo=UTC))
    spring = _get(client, start="2024-03-09", end="2024-03-12", resolution="daily", tz=LA).json()["data"]
    assert [(d["count"], d["expected"], d["energy_wh"]) for d in spring] == [
        (96, 96, 960),
        (92, 92, 920),
        (96, 96, 960),
    ]
    assert spring[1]["interval_start"] == "2024-03-10T00:00:00-08:00"
    assert spring[1]["interval_end"] == "2024-03-11T00:00:00-07:00"
    fall = _get(client, start="2024-11-02", end="2024-11-05", resolution="daily", tz=LA).json()["data"]
    assert [(d["count"], d["expected"], d["energy_wh"]) for d in fall] == [
        (96, 96, 960),
        (100, 100, 1000),
        (96, 96, 960),
    ]
    hours = _get(client, start="2024-03-10", end="2024-03-11", resolution="hourly", tz=LA).json()
    assert hours["count"] == 23
    quarters = _get(client, start="2024-11-03", end="2024-11-04", tz=LA).json()
    assert quarters["count"] == 100
    assert quarters["data"][4]["interval_end"] == "2024-11-03T01:15:00-07:00"
    assert quarters["data"][8]["interval_end"] == "2024-11-03T01:15:00-08:00"


def test_monthly(client, store, site_data):
    _fill(store, site_data["m2"], datetime(2024, 1, 31, 8, tzinfo=UTC), datetime(2024, 3, 1, 8, tzinfo=UTC))
    response = client.get(
        "/meters/M2/intervals",
        params={"start": "2024-01-01", "end": "2024-04-01", "resolution": "monthly", "tz": LA},
        headers=ADMIN,
    )
    data = response.json()["data"]
    assert [(d["interval_end"], d["energy_wh"], d["count"], d["expected"]) for d in data] == [
        ("2024-02-01T00:00:00-08:00", 960, 96, 31 * 96),
        ("2024-03-01T00:00:00-08:00", 29 * 960, 29 * 96, 29 * 96),
        ("2024-04-01T00:00:00-07:00", None, 0, 31 * 96 - 4),
    ]


def test_csv(client, site_data):
    response = _get(client, start="2024-03-01", end="2024-03-02", resolution="hourly", tz=LA, format="csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 24
    assert rows[0] == {
        "interval_start": "2024-03-01T00:00:00-08:00",
        "interval_end": "2024-03-01T01:00:00-08:00",
        "energy_wh": "400",
        "quality": "14",
        "count": "4",
        "expected": "4",
    }
    empty = _get(client, start="2024-02-29", end="2024-03-01", resolution="daily", tz=LA, format="csv")
    assert empty.text.splitlines()[1].endswith(",,,0,96")


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"start": "not a date", "end": "2024-03-02"}, 400, "start must be an ISO 8601"),
        ({"start": "2024-03-01", "end": "2024-02-30"}, 400, "end must be an ISO 8601"),
        ({"start": "2024-03-02", "end": "2024-03-01"}, 400, "end must be after start"),
        ({"start": "2024-03-01", "end": "2024-03-01"}, 400, "end must be after start"),
        ({"start": "2024-03-01", "end": "2024-03-02", "tz": "Mars/Olympus"}, 400, "tz must be an IANA"),
        ({"start": "2024-03-01", "end": "2024-03-02", "tz": "../etc"}, 400, "tz must be an IANA"),
        ({"start": "2024-03-01T00:05Z", "end": "2024-03-02"}, 400, "15-minute boundary"),
        ({"start": "2024-03-01T00:00:00.5Z", "end": "2024-03-02"}, 400, "whole seconds"),
        ({"start": "2024-03-01T12:00", "end": "2024-03-02", "resolution": "daily"}, 400, "midnight"),
        ({"start": "2024-03-02", "end": "2024-04-01", "resolution": "monthly"}, 400, "first of a month"),
        ({"start": "2023-01-01", "end": "2024-03-01"}, 400, "at most 372 days"),
        ({"start": "2024-03-01", "end": "2024-03-02", "resolution": "weekly"}, 422, "resolution"),
        ({"start": "2024-03-01", "end": "2024-03-02", "format": "xml"}, 422, "format"),
        ({"end": "2024-03-02"}, 422, "start"),
    ],
)
def test_bad_input_is_a_problem(client, site_data, params, status, words):
    response = client.get(URL, params=params, headers=ADMIN)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert words in body["detail"]
    assert body["instance"] == URL


def test_unknown_serial_is_404(client, site_data):
    response = client.get(
        "/meters/NOPE/intervals", params={"start": "2024-03-01", "end": "2024-03-02"}, headers=ADMIN
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON


def test_a_year_of_quarter_hours_in_one_request(client, store, site_data, capsys):
    start = datetime(2023, 1, 1, 8, tzinfo=UTC)
    rows = [(start + timedelta(minutes=15 * (i + 1)), i % 50, i * 10) for i in range(35_040)]
    store.insert_raw_intervals(meter_id=site_data["m2"], rows=rows, source="test")
    params = {"start": "2023-01-01", "end": "2024-01-01", "tz": LA}
    timings = {}
    for fmt in ("json", "csv"):
        began = time.perf_counter()
        response = client.get("/meters/M2/intervals", params={**params, "format": fmt}, headers=ADMIN)
        timings[fmt] = time.perf_counter() - began
        assert response.status_code == 200
    began = time.perf_counter()
    body = client.get("/meters/M2/intervals", params=params, headers=ADMIN).json()
    timings["json+parse"] = time.perf_counter() - began
    assert body["count"] == 35_040
    assert sum(d["energy_wh"] for d in body["data"]) == sum(r[1] for r in rows)
    assert all(d["quality"] == 14 for d in body["data"])
    with capsys.disabled():
        shown = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items())
        print(f"\n[{store.dialect_name}] a year of 15-minute data (35,040 rows): {shown}")
