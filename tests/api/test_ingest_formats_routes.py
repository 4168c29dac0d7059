"""Issue 11 over HTTP: interval lengths of the plain formats, named formats (``?format=``), all problems."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from meshmeter.api.problems import PROBLEM_JSON
from tests.api.conftest import ADMIN, bearer

MONTH = datetime(2026, 1, 1, tzinfo=UTC)
CSV = {"Content-Type": "text/csv"}


def _hourly_month(serial: str, **extra: object) -> dict[str, object]:
    """A month (January 2026) of hourly rows: 744 intervals of 1 000 Wh."""
    hours = [
        {"interval_end": (MONTH + timedelta(hours=h + 1)).strftime("%Y-%m-%dT%H:%M:%SZ"), "energy_wh": 1000}
        for h in range(31 * 24)
    ]
    return {"meter": serial, **extra, "intervals": hours}


def _count(store, serial):
    meter = store.get_meter(serial=serial)
    return len(
        store.raw_intervals(
            meter_id=meter.id, start=MONTH - timedelta(days=1), end=MONTH + timedelta(days=40)
        )
    )


def test_hourly_rows_for_a_15_minute_meter_are_refused_not_stored_as_15_minute_data(client, store, tokens):
    # The bug: hourly rows posted for a 15-minute meter were taken as 15-minute rows, VEE "filled" the
    # three missing quarter-hours of every hour, and the month came out 4x.
    store.create_meter(serial="Q1", designation="MM-1", ct_ratio=2000)  # 15-minute intervals
    response = client.post("/intervals", json=_hourly_month("Q1"), headers=bearer(tokens["operator"]))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["reason"] == "interval_mismatch"
    assert "look like 60-minute data" in problem["detail"]
    assert '"interval_minutes": 60' in problem["detail"]
    assert _count(store, "Q1") == 0
    # declared as 60-minute data: still refused for this meter, naming the declaration
    declared = client.post("/intervals", json=_hourly_month("Q1", interval_minutes=60), headers=ADMIN)
    assert declared.status_code == 422
    assert declared.json()["field"] == "interval_minutes"
    assert _count(store, "Q1") == 0
    # the same as CSV
    text = "meter,interval_end,energy_wh\n" + "".join(
        f"Q1,{i['interval_end']},{i['energy_wh']}\n" for i in _hourly_month("Q1")["intervals"][:6]
    )
    csv_response = client.post("/intervals", content=text, headers={**ADMIN, **CSV})
    assert csv_response.json()["reason"] == "interval_mismatch"
    assert _count(store, "Q1") == 0


def test_an_hourly_meter_takes_hourly_rows(client, store):
    store.create_meter(serial="H1", designation="MM-1", ct_ratio=2000, interval_s=3600)
    response = client.post("/intervals", json=_hourly_month("H1"), headers=ADMIN)
    assert response.status_code == 201, response.text
    assert response.json()["new"] == 744
    declared = client.post("/intervals", json=_hourly_month("H1", interval_minutes=60), headers=ADMIN)
    assert declared.json()["duplicates"] == 744
    # a quarter-hour end is off an hourly meter's grid; 40 kWh in an hour is possible for it
    bad = {"meter": "H1", "intervals": [{"interval_end": "2026-02-01T00:15:00Z", "energy_wh": 40_000}]}
    problem = client.post("/intervals", json=bad, headers=ADMIN).json()
    assert problem["reason"] == "not_aligned"
    assert "60-minute" in problem["detail"]
    assert _count(store, "H1") == 744


def test_every_problem_is_listed_and_nothing_stored(client, store):
    store.create_meter(serial="Q1", designation="MM-1", ct_ratio=2000)
    body = {
        "meter": "Q1",
        "intervals": [
            {"interval_end": "2026-01-01T00:15:00Z", "energy_wh": 1},
            {"interval_end": "2026-01-01T00:30:00", "energy_wh": 1},
            {"interval_end": "2026-01-01T00:45:00Z", "energy_wh": -1},
            {"interval_end": "2026-01-01T01:00:00Z", "energy_wh": 1.5},
            {"interval_end": "2026-01-01T01:05:00Z", "energy_wh": 1},
        ],
    }
    problem = client.post("/intervals", json=body, headers=ADMIN).json()
    assert problem["problem_count"] == 4
    assert [p["field"] for p in problem["problems"]] == [
        "intervals[1].interval_end",
        "intervals[2].energy_wh",
        "intervals[3].energy_wh",
        "intervals[4].interval_end",
    ]
    assert [p["reason"] for p in problem["problems"]] == [
        "naive_time",
        "negative_energy",
        "bad_type",
        "not_aligned",
    ]
    assert _count(store, "Q1") == 0


def test_named_formats_over_http(client, store, tokens):
    site = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
    store.create_meter(serial="UTIL-1", designation="MM-1", ct_ratio=2000, site_id=site.id, interval_s=3600)
    store.create_meter(serial="Q1", designation="MM-1", ct_ratio=2000, site_id=site.id)
    billing = "meter,interval_end,kwh\nUTIL-1,2026-11-01 01:00,1.5\nUTIL-1,2026-11-01 01:00,0.5\n"
    operator = {**bearer(tokens["operator"]), **CSV}
    response = client.post("/intervals?format=billing-kwh-hourly", content=billing, headers=operator)
    assert response.status_code == 201, response.text
    assert response.json()["new"] == 2
    assert (
        client.post(
            "/intervals?format=billing-kwh-hourly", content=billing, headers=bearer(tokens["billing"])
        ).status_code
        == 403
    )
    unknown = client.post("/intervals?format=nope", content=billing, headers=operator)
    assert unknown.status_code == 400
    assert "'nope'" in unknown.json()["detail"]
    store.save_ingest_format(
        name="semicolons",
        mapping={"delimiter": ";", "time_column": "end", "energy_column": "kwh", "energy_unit": "kWh"},
    )
    text = "end;kwh\n2026-01-01T00:15:00Z;0.25\n2026-01-01T00:30:00Z;0,3\n"
    bad = client.post("/meters/Q1/intervals?format=semicolons", content=text, headers=operator)
    assert bad.status_code == 422
    assert bad.json()["field"] == "line 3: kwh"
    good = client.post(
        "/intervals?format=semicolons&meter=Q1", content=text.replace("0,3", "0.3"), headers=operator
    )
    assert good.status_code == 201, good.text
    assert _count(store, "Q1") == 2
    assert json.loads(good.text)["stored"] == 2
