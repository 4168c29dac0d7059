"""Intervals sent over HTTP: JSON and CSV, one meter or a batch; bad input refused whole, nothing stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from meshmeter.api.problems import PROBLEM_JSON
from tests.api.conftest import ADMIN, bearer

END = datetime(2024, 3, 5, tzinfo=UTC)
CSV = {"Content-Type": "text/csv"}


def _problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    return response.json()


def _rows(store, meter_id):
    return store.raw_intervals(meter_id=meter_id, start=END - timedelta(days=1), end=END + timedelta(days=1))


def _intervals(n=3):
    return [
        {"interval_end": (END + timedelta(minutes=15 * i)).isoformat(), "energy_wh": 10 * (i + 1)}
        for i in range(n)
    ]


def test_json_without_meter_key_then_again(client, store, site_data):
    body = {"intervals": _intervals()}
    first = client.post("/meters/M2/intervals", json=body, headers=ADMIN)
    assert first.status_code == 201, first.text
    assert first.json() == {"accepted": 3, "new": 3, "duplicates": 0, "revised": 0, "stored": 3}
    rows = _rows(store, site_data["m2"])
    assert [(r.energy_wh, r.source) for r in rows] == [(10, "http"), (20, "http"), (30, "http")]
    again = client.post("/meters/M2/intervals", json=body, headers=ADMIN)
    assert again.status_code == 200
    assert again.json() == {"accepted": 3, "new": 0, "duplicates": 3, "revised": 0, "stored": 0}


def test_json_with_the_matching_meter_key_and_as_a_list(client, store, site_data, tokens):
    operator = bearer(tokens["operator"])
    one = {"meter": "M2", "intervals": _intervals(1)}
    assert client.post("/meters/M2/intervals", json=one, headers=operator).status_code == 201
    listed = [{"meter": "M2", "intervals": _intervals(2)}]
    response = client.post("/meters/M2/intervals", json=listed, headers=operator)
    assert response.json()["new"] == 1
    assert len(_rows(store, site_data["m2"])) == 2


def test_json_naming_another_meter_is_refused(client, store, site_data):
    body = {"meter": "M3", "intervals": _intervals()}
    problem = _problem(client.post("/meters/M2/intervals", json=body, headers=ADMIN), 422)
    assert problem["reason"] == "meter_mismatch"
    assert problem["field"] == "meter"
    assert _rows(store, site_data["m2"]) == _rows(store, site_data["m3"]) == []


def test_csv_without_and_with_the_meter_column(client, store, site_data):
    text = "interval_end,energy_wh,cumulative_wh\n2024-03-05T00:00:00Z,10,110\n\n2024-03-05T00:15:00Z,20,\n"
    response = client.post("/meters/M2/intervals", content=text, headers={**ADMIN, **CSV})
    assert response.status_code == 201, response.text
    assert response.json()["new"] == 2
    rows = _rows(store, site_data["m2"])
    assert [(r.energy_wh, r.cumulative_wh) for r in rows] == [(10, 110), (20, None)]
    with_meter = "meter,interval_end,energy_wh\nM2,2024-03-05T00:30:00Z,30\n"
    response = client.post(
        "/meters/M2/intervals",
        content=with_meter,
        headers={**ADMIN, "Content-Type": "text/csv; charset=utf-8"},
    )
    assert response.json()["new"] == 1


def test_csv_naming_another_meter_is_refused(client, store, site_data):
    text = "meter,interval_end,energy_wh\nM2,2024-03-05T00:00:00Z,10\nM3,2024-03-05T00:15:00Z,20\n"
    problem = _problem(client.post("/meters/M2/intervals", content=text, headers={**ADMIN, **CSV}), 422)
    assert problem["reason"] == "meter_mismatch"
    assert problem["field"] == "line 3: meter"
    assert _rows(store, site_data["m2"]) == []


@pytest.mark.parametrize(
    ("content", "headers", "status", "reason", "field"),
    [
        ('{"intervals": [', {}, 400, "malformed", None),
        ('{"intervals": [], "intervals": []}', {}, 400, "malformed", None),
        (b"\xff\xfe", {}, 400, "malformed", None),
        (
            json.dumps({"intervals": [{"interval_end": "2024-03-05T00:00:00", "energy_wh": 1}]}),
            {},
            422,
            "naive_time",
            "intervals[0].interval_end",
        ),
        (
            json.dumps(
                {"intervals": [*_intervals(2), {"interval_end": "2024-03-05T01:00:00Z", "energy_wh": 1.5}]}
            ),
            {},
            422,
            "bad_type",
            "intervals[2].energy_wh",
        ),
        (json.dumps({"intervals": _intervals(2), "extra": 1}), {}, 422, "extra_field", "extra"),
        (
            "interval_end,energy_wh\n2024-03-05T00:00:00Z,10\n2024-03-05T00:15:00Z,-5\n",
            CSV,
            422,
            "negative_energy",
            "line 3: energy_wh",
        ),
        (
            "interval_end,energy_wh\n2024-03-05T00:00:00Z,10\n2024-03-05T00:07:00Z,5\n",
            CSV,
            422,
            "not_aligned",
            "line 3: interval_end",
        ),
        ('interval_end,energy_wh\n"2024-03-05T00:00:00Z,10\n', CSV, 400, "malformed", None),
    ],
)
def test_bad_body_for_one_meter_stores_nothing(
    client, store, site_data, content, headers, status, reason, field
):
    response = client.post(
        "/meters/M2/intervals",
        content=content,
        headers={**ADMIN, "Content-Type": "application/json", **headers},
    )
    problem = _problem(response, status)
    assert problem["reason"] == reason
    assert problem["field"] == field
    if field:
        assert field in problem["detail"]
    assert problem["instance"] == "/meters/M2/intervals"
    assert _rows(store, site_data["m2"]) == []


def test_unknown_meter_in_the_path_is_404(client, site_data):
    problem = _problem(client.post("/meters/NOPE/intervals", json={"intervals": []}, headers=ADMIN), 404)
    assert problem["detail"] == "no meter has serial 'NOPE'"


def test_other_content_type_is_415(client, store, site_data):
    response = client.post(
        "/meters/M2/intervals", content="<xml/>", headers={**ADMIN, "Content-Type": "application/xml"}
    )
    _problem(response, 415)
    assert _rows(store, site_data["m2"]) == []


def test_billing_and_read_only_may_not_send(client, site_data, tokens):
    for role in ("billing", "read-only"):
        response = client.post(
            "/meters/M2/intervals", json={"intervals": _intervals()}, headers=bearer(tokens[role])
        )
        _problem(response, 403)


# -- batch ------------------------------------------------------------------------------------------------


def test_batch_json_of_several_meters(client, store, site_data):
    body = [{"meter": "M2", "intervals": _intervals(2)}, {"meter": "M3", "intervals": _intervals(3)}]
    response = client.post("/intervals", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    assert response.json()["new"] == 5
    assert len(_rows(store, site_data["m2"])) == 2
    assert len(_rows(store, site_data["m3"])) == 3


def test_batch_csv(client, store, site_data):
    text = (
        "meter,interval_end,energy_wh,cumulative_wh\n"
        "M2,2024-03-05T00:00:00Z,10,10\n"
        "M3,2024-03-05T00:00:00Z,7,\n"
    )
    response = client.post("/intervals", content=text, headers={**ADMIN, **CSV})
    assert response.status_code == 201
    assert response.json()["stored"] == 2
    assert client.post("/intervals", content=text, headers={**ADMIN, **CSV}).status_code == 200


def test_batch_with_an_unknown_meter_is_404_and_stores_nothing(client, store, site_data):
    body = [{"meter": "M2", "intervals": _intervals(2)}, {"meter": "NOPE", "intervals": _intervals(1)}]
    problem = _problem(client.post("/intervals", json=body, headers=ADMIN), 404)
    assert problem["reason"] == "unknown_meter"
    assert problem["field"] == "[1].meter"
    assert _rows(store, site_data["m2"]) == []


def test_batch_csv_with_a_bad_row_stores_nothing(client, store, site_data):
    text = "meter,interval_end,energy_wh\nM2,2024-03-05T00:00:00Z,10\nM3,2024-03-05T00:00:00Z,ten\n"
    problem = _problem(client.post("/intervals", content=text, headers={**ADMIN, **CSV}), 422)
    assert (problem["reason"], problem["field"]) == ("bad_type", "line 3: energy_wh")
    assert _rows(store, site_data["m2"]) == _rows(store, site_data["m3"]) == []


def test_openapi_documents_both_bodies(client):
    document = client.get("/openapi.json").json()
    for path in ("/meters/{serial}/intervals", "/intervals"):
        operation = document["paths"][path]["post"]
        assert set(operation["requestBody"]["content"]) == {"application/json", "text/csv"}
        assert "application/problem+json" in operation["responses"]["415"]["content"]
