"""Energy management through the API: daily and monthly consumption, the load profile by hour of day, top
consumers and the comparison with the previous period, of a site and of a tenant (issue 5).

The data is small enough to work by hand (America/Los_Angeles, PST = UTC-8 until 2024-03-10):

* meter A (site Oak Court): every quarter-hour of 1, 2 and 3 March, 100 Wh, quality 0 (valid), except
  the first of 2 March (ending 00:15), 500 Wh with quality 10 (questionable), which is not billed and so
  not counted: A has 9,600, 9,500 and 9,600 Wh those days, 28,700 Wh in all; and one estimated
  interval (quality 8, billed) of 2,900 Wh on 15 February.
* meter B (Oak Court): the four quarter-hours of local 18:00-19:00 on each of the three days, 1,000 Wh
  each: 4,000 Wh a day, 12,000 Wh in all.
* meter C (site Elm House, America/New_York): the 92 quarter-hours of 10 March 2024 (the spring-forward
  day), 10 Wh each: 920 Wh.
* tenant Ada: unit 1A on meter A from local midnight 1 March to noon on 2 March, then unit 2B on
  meter B from that noon on.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meshmeter.api.problems import PROBLEM_JSON
from meshmeter.store import Store
from tests.api.conftest import ADMIN

LA = ZoneInfo("America/Los_Angeles")
NY = ZoneInfo("America/New_York")
Q = timedelta(minutes=15)


def _local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)


@pytest.fixture
def energy_site(store: Store) -> dict[str, int]:
    oak = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
    elm = store.create_site(name="Elm House", timezone="America/New_York")
    a = store.create_meter(serial="A", designation="MM-1", ct_ratio=2000, site_id=oak.id)
    b = store.create_meter(serial="B", designation="MM-1", ct_ratio=2000, site_id=oak.id)
    c = store.create_meter(serial="C", designation="MM-1", ct_ratio=2000, site_id=elm.id)
    start = _local(LA, 2024, 3, 1)
    rows_a = [(start + Q * (i + 1), 100, 0) for i in range(96 * 3)]
    rows_a[96] = (start + Q * 97, 500, 10)  # 2 March 00:15: questionable, not billed
    rows_a.append((_local(LA, 2024, 2, 15, 12), 2900, 8))  # estimated from reference days: billed
    store.put_validated_intervals(meter_id=a.id, rows=rows_a, edited_by="vee", reason="test")
    rows_b = [(_local(LA, 2024, 3, day, 18) + Q * (k + 1), 1000, 0) for day in (1, 2, 3) for k in range(4)]
    store.put_validated_intervals(meter_id=b.id, rows=rows_b, edited_by="vee", reason="test")
    c_start = _local(NY, 2024, 3, 10)
    rows_c = [(c_start + Q * (i + 1), 10, 0) for i in range(92)]
    assert rows_c[-1][0] == _local(NY, 2024, 3, 11)  # the spring-forward day has 92 quarter-hours
    store.put_validated_intervals(meter_id=c.id, rows=rows_c, edited_by="vee", reason="test")
    ada = store.create_tenant(name="Ada")
    noon = _local(LA, 2024, 3, 2, 12)
    store.create_account(tenant_id=ada.id, meter_id=a.id, unit="1A", move_in=start, move_out=noon)
    store.create_account(tenant_id=ada.id, meter_id=b.id, unit="2B", move_in=noon)
    return {"oak": oak.id, "elm": elm.id, "ada": ada.id}


def _get(client, path, **params):
    response = client.get(path, params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def _problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    return body


# -- daily and monthly -----------------------------------------------------------------------------------


def test_daily_of_a_site_sums_its_meters_billed_intervals(client, energy_site):
    body = _get(client, "/energy/daily", site_id=energy_site["oak"], start="2024-03-01", end="2024-03-05")
    assert body["site"] == "Oak Court"
    assert body["tz"] == "America/Los_Angeles"
    days = [(r["period_start"][:10], r["energy_wh"], r["intervals"]) for r in body["data"]]
    # A + B: 9,600 + 4,000; 9,500 + 4,000 (the questionable interval left out); 9,600 + 4,000; nothing.
    assert days == [
        ("2024-03-01", 13600, 100),
        ("2024-03-02", 13500, 99),
        ("2024-03-03", 13600, 100),
        ("2024-03-04", None, 0),
    ]
    assert body["energy_wh"] == 40700
    assert body["excluded_intervals"] == 1
    assert body["count"] == 4
    assert body["data"][0]["period_start"] == "2024-03-01T00:00:00-08:00"
    assert body["data"][0]["period_end"] == "2024-03-02T00:00:00-08:00"


def test_daily_of_a_tenant_follows_its_accounts(client, energy_site):
    body = _get(client, "/energy/daily", tenant_id=energy_site["ada"], start="2024-03-01", end="2024-03-04")
    assert body["tenant_id"] == energy_site["ada"]
    assert "tenant" not in body  # a name: read-only tokens may call this, and do not see tenants' names
    assert body["tz"] == "America/Los_Angeles"  # the site of its meters
    # 1 March: A, 9,600. 2 March: A until noon, 47 × 100 (the first left out), then B's 4,000.
    # 3 March: B, 4,000.
    assert [r["energy_wh"] for r in body["data"]] == [9600, 8700, 4000]
    assert [r["intervals"] for r in body["data"]] == [96, 51, 4]
    assert body["energy_wh"] == 22300


def test_daily_on_the_spring_forward_day_and_in_another_zone(client, energy_site):
    body = _get(client, "/energy/daily", site_id=energy_site["elm"], start="2024-03-10", end="2024-03-11")
    assert [(r["energy_wh"], r["intervals"]) for r in body["data"]] == [(920, 92)]
    assert body["data"][0]["period_end"] == "2024-03-11T00:00:00-04:00"
    # In UTC the same intervals fall on two days: 05:00Z-24:00Z (76) and 00:00Z-04:00Z (16).
    body = _get(
        client, "/energy/daily", site_id=energy_site["elm"], start="2024-03-10", end="2024-03-12", tz="UTC"
    )
    assert [(r["energy_wh"], r["intervals"]) for r in body["data"]] == [(760, 76), (160, 16)]


def test_monthly(client, energy_site):
    body = _get(client, "/energy/monthly", site_id=energy_site["oak"], start="2024-02-01", end="2024-04-01")
    assert [(r["period_start"][:7], r["energy_wh"], r["intervals"]) for r in body["data"]] == [
        ("2024-02", 2900, 1),
        ("2024-03", 40700, 299),
    ]
    assert body["resolution"] == "monthly"
    assert body["energy_wh"] == 43600


def test_daily_as_csv(client, energy_site):
    response = client.get(
        "/energy/daily",
        params={"site_id": energy_site["oak"], "start": "2024-03-03", "end": "2024-03-05", "format": "csv"},
        headers=ADMIN,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows == [
        ["period_start", "period_end", "energy_wh", "intervals"],
        ["2024-03-03T00:00:00-08:00", "2024-03-04T00:00:00-08:00", "13600", "100"],
        ["2024-03-04T00:00:00-08:00", "2024-03-05T00:00:00-08:00", "", "0"],
    ]


# -- load profile ----------------------------------------------------------------------------------------


def test_load_profile_by_hour_of_day(client, energy_site):
    body = _get(
        client, "/energy/load-profile", site_id=energy_site["oak"], start="2024-03-01", end="2024-03-04"
    )
    assert body["count"] == 24
    profile = {r["hour"]: (r["demand_kw"], r["intervals"]) for r in body["data"]}
    # Hour 18: A's 100 Wh + B's 1,000 Wh in each quarter-hour: 1,100 Wh / 0.25 h = 4.4 kW, 3 days × 4.
    assert profile[18] == (pytest.approx(4.4), 12)
    # Hour 0: A alone, 100 Wh / 0.25 h = 0.4 kW; 11 quarter-hours (2 March 00:00-00:15 is not billed).
    assert profile[0] == (pytest.approx(0.4), 11)
    assert all(profile[h] == (pytest.approx(0.4), 12) for h in range(1, 24) if h != 18)


def test_load_profile_of_hours_without_data_is_null_and_csv(client, energy_site):
    response = client.get(
        "/energy/load-profile",
        params={"tenant_id": energy_site["ada"], "start": "2024-03-03", "end": "2024-03-04", "format": "csv"},
        headers=ADMIN,
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 24
    # 3 March: only B's hour 18 is the tenant's.
    assert rows[18] == {"hour": "18", "demand_kw": "4.0", "intervals": "4"}
    assert rows[17] == {"hour": "17", "demand_kw": "", "intervals": "0"}


# -- top consumers ---------------------------------------------------------------------------------------


def test_top_consumers_of_a_site(client, energy_site):
    body = _get(
        client, "/energy/top-consumers", site_id=energy_site["oak"], start="2024-03-01", end="2024-03-04"
    )
    assert body["energy_wh"] == 40700
    assert [(r["rank"], r["meter"], r["units"], r["energy_wh"]) for r in body["data"]] == [
        (1, "A", ["1A"], 28700),
        (2, "B", ["2B"], 12000),
    ]
    assert body["data"][0]["share"] == pytest.approx(28700 / 40700)
    assert sum(r["share"] for r in body["data"]) == pytest.approx(1.0)
    one = _get(
        client, "/energy/top-consumers", site_id=energy_site["oak"], start="2024-03-01", end="2024-03-04", n=1
    )
    assert [r["meter"] for r in one["data"]] == ["A"]
    assert one["energy_wh"] == 40700  # the share is still of the whole


def test_top_consumers_of_a_tenant_count_its_occupancy_only(client, energy_site):
    body = _get(
        client, "/energy/top-consumers", tenant_id=energy_site["ada"], start="2024-03-01", end="2024-03-04"
    )
    # A until noon on 2 March: 9,600 + 4,700; B from then: 4,000 + 4,000.
    assert [(r["meter"], r["energy_wh"]) for r in body["data"]] == [("A", 14300), ("B", 8000)]


# -- comparison ------------------------------------------------------------------------------------------


def test_comparison_by_days(client, energy_site):
    body = _get(
        client, "/energy/comparison", site_id=energy_site["oak"], start="2024-03-03", end="2024-03-04"
    )
    assert body["basis"] == "days"
    assert body["current"]["energy_wh"] == 13600
    assert body["previous"]["energy_wh"] == 13500
    assert body["previous"]["start"] == "2024-03-02T00:00:00-08:00"
    assert body["change_wh"] == 100
    assert body["change_ratio"] == pytest.approx(100 / 13500)


def test_comparison_by_whole_months(client, energy_site):
    body = _get(
        client, "/energy/comparison", site_id=energy_site["oak"], start="2024-03-01", end="2024-04-01"
    )
    assert body["basis"] == "months"
    # March (31 days) against February (29 days, 2024 is a leap year).
    assert (body["current"]["days"], body["previous"]["days"]) == (31, 29)
    assert body["previous"]["start"] == "2024-02-01T00:00:00-08:00"
    assert (body["current"]["energy_wh"], body["previous"]["energy_wh"]) == (40700, 2900)
    assert body["change_wh"] == 37800
    assert body["change_ratio"] == pytest.approx(37800 / 2900)
    assert body["previous"]["daily_wh"] == pytest.approx(100.0)
    assert body["daily_change_ratio"] == pytest.approx((40700 / 31 - 100) / 100)


def test_comparison_with_nothing_before_has_no_ratio(client, energy_site):
    body = _get(
        client, "/energy/comparison", tenant_id=energy_site["ada"], start="2024-03-01", end="2024-03-02"
    )
    assert body["previous"]["energy_wh"] == 0
    assert body["change_ratio"] is None
    assert body["daily_change_ratio"] is None


# -- bad input -------------------------------------------------------------------------------------------

ROUTES = (
    "/energy/daily",
    "/energy/monthly",
    "/energy/load-profile",
    "/energy/top-consumers",
    "/energy/comparison",
)


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"site_id": 999}, 404, "no site has id 999"),
        ({"tenant_id": 999}, 404, "no tenant has id 999"),
        ({"site_id": 0}, 404, "no site has id 0"),
        ({}, 400, "exactly one of site_id and tenant_id"),
        ({"site_id": 1, "tenant_id": 1}, 400, "exactly one of site_id and tenant_id"),
        ({"site_id": 1, "tz": "Mars/Olympus"}, 400, "tz must be an IANA time zone"),
        ({"site_id": 1, "start": "2024-04-01", "end": "2024-03-01"}, 400, "end must be after start"),
        ({"site_id": 1, "start": "yesterday"}, 400, "start must be an ISO 8601"),
        ({"site_id": 1, "start": "2024-03-01T06:00"}, 400, "start must be at local midnight"),
        ({"site_id": 1, "start": "2020-01-01", "end": "2024-04-01"}, 400, "at most 1116 days"),
    ],
)
def test_bad_input_is_a_problem(client, energy_site, path, params, status, words):
    query = {"start": "2024-03-01", "end": "2024-04-01", **params}
    body = _problem(client.get(path, params=query, headers=ADMIN), status)
    assert words in body["detail"]


def test_monthly_bounds_must_open_months(client, energy_site):
    response = client.get(
        "/energy/monthly",
        params={"site_id": energy_site["oak"], "start": "2024-03-02", "end": "2024-04-01"},
        headers=ADMIN,
    )
    assert "midnight on the first of a month" in _problem(response, 400)["detail"]


@pytest.mark.parametrize("n", [0, -1, 1001, "ten"])
def test_top_consumers_bad_n_is_422(client, energy_site, n):
    response = client.get(
        "/energy/top-consumers",
        params={"site_id": energy_site["oak"], "start": "2024-03-01", "end": "2024-03-04", "n": n},
        headers=ADMIN,
    )
    _problem(response, 422)


def test_bad_format_is_422_and_missing_range_is_422(client, energy_site):
    params = {"site_id": energy_site["oak"], "start": "2024-03-01", "end": "2024-03-04", "format": "xml"}
    _problem(client.get("/energy/daily", params=params, headers=ADMIN), 422)
    _problem(client.get("/energy/daily", params={"site_id": energy_site["oak"]}, headers=ADMIN), 422)


def test_a_site_without_meters_and_a_tenant_without_accounts_answer_zero(client, store):
    empty = store.create_site(name="Empty", timezone="Europe/Paris")
    nobody = store.create_tenant(name="Nobody")
    body = _get(client, "/energy/daily", site_id=empty.id, start="2024-03-01", end="2024-03-02")
    assert (body["tz"], body["energy_wh"], body["data"][0]["energy_wh"]) == ("Europe/Paris", 0, None)
    body = _get(client, "/energy/top-consumers", tenant_id=nobody.id, start="2024-03-01", end="2024-03-02")
    assert (body["tz"], body["data"], body["energy_wh"]) == ("UTC", [], 0)
