"""``GET /meters/{serial}/production``: the CSI PBI monthly report of a solar meter, CSV or JSON."""

from __future__ import annotations

import csv
import io

import pytest

from meshmeter.api.problems import PROBLEM_JSON
from tests.api.conftest import ADMIN, bearer
from tests.billing.test_cli_production import COUNTED_KWH, TOTAL_STATUS, july_rows


@pytest.fixture
def solar(store):
    """Site Sunny Flats (Los Angeles) with its solar meter PV1 holding the month worked by hand in
    tests/billing/test_cli_production.py (741.000 kWh counted, 4 estimated intervals excluded, 2 failed and
    6 missing), and a meter LONE with no site."""
    site = store.create_site(name="Sunny Flats", timezone="America/Los_Angeles")
    pv1 = store.create_meter(serial="PV1", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id)
    store.create_meter(serial="LONE", designation="MM-D1202001-T-SCC", ct_ratio=2000)
    store.put_validated_intervals(meter_id=pv1.id, rows=july_rows(), edited_by="vee", reason="test")
    return pv1


def test_production_csv_by_default(client, solar):
    response = client.get("/meters/PV1/production", params={"month": "2026-07"}, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="production-PV1-2026-07.csv"'
    rows = list(csv.reader(io.StringIO(response.text)))
    assert len(rows) == 1 + 2976 + 1
    assert rows[1][:2] == ["PV1", "2026-07-01T07:15:00Z"]
    assert rows[-1] == ["PV1", "TOTAL", "2026-07", COUNTED_KWH, "", TOTAL_STATUS]


def test_production_json(client, solar):
    response = client.get(
        "/meters/PV1/production", params={"month": "2026-07", "format": "json"}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["meter"] == "PV1"
    assert body["month"] == "2026-07"
    assert body["timezone"] == "America/Los_Angeles"
    assert body["counted_wh"] == 741_000
    assert body["counted_intervals"] == 2964
    assert body["estimated_intervals"] == 4
    assert body["estimated_wh"] == 1_600
    assert body["not_counted_intervals"] == 8
    assert body["missing_intervals"] == 6
    assert len(body["intervals"]) == 2976
    assert body["intervals"][0] == {
        "interval_end": "2026-07-01T07:15:00Z",
        "energy_wh": 400,
        "quality": 8,
        "status": "estimated_excluded",
    }
    assert body["intervals"][100]["status"] == "not_counted"
    assert body["intervals"][100]["quality"] == 14
    assert sum(i["energy_wh"] for i in body["intervals"] if i["status"] == "counted") == 741_000


def test_production_tz_and_a_month_with_no_data(client, solar):
    # In UTC the month moves by 7 hours (worked in tests/billing/test_cli_production.py): 739.000 kWh.
    utc = client.get(
        "/meters/PV1/production", params={"month": "2026-07", "tz": "UTC", "format": "json"}, headers=ADMIN
    )
    assert utc.status_code == 200, utc.text
    assert utc.json()["counted_wh"] == 739_000
    # A month with no validated interval is a report of nothing counted, every interval missing (as the
    # energy routes answer); September has 30 x 96 = 2880.
    empty = client.get("/meters/PV1/production", params={"month": "2026-09", "format": "json"}, headers=ADMIN)
    assert empty.status_code == 200, empty.text
    assert empty.json()["counted_wh"] == 0
    assert empty.json()["missing_intervals"] == 2880
    # A meter with no site takes the tz given.
    lone = client.get(
        "/meters/LONE/production", params={"month": "2026-07", "tz": "America/Denver"}, headers=ADMIN
    )
    assert lone.status_code == 200, lone.text


def _problem(response, status, needle):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert needle in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "params", "status", "needle"),
    [
        ("/meters/NOPE/production", {"month": "2026-07"}, 404, "'NOPE'"),
        ("/meters/PV1/production", {"month": "2026-7"}, 400, "month must be a month written YYYY-MM"),
        ("/meters/PV1/production", {"month": "2026-00"}, 400, "'2026-00'"),
        ("/meters/PV1/production", {"month": "2026-07", "tz": "Mars/Base"}, 400, "Mars/Base"),
        ("/meters/LONE/production", {"month": "2026-07"}, 400, "has no site"),
    ],
)
def test_production_bad_input(client, solar, path, params, status, needle):
    _problem(client.get(path, params=params, headers=ADMIN), status, needle)


def test_production_needs_a_month_and_a_known_format(client, solar):
    assert client.get("/meters/PV1/production", headers=ADMIN).status_code == 422
    bad = client.get("/meters/PV1/production", params={"month": "2026-07", "format": "pdf"}, headers=ADMIN)
    assert bad.status_code == 422


def test_production_roles(client, solar, tokens):
    # For the incentive administrator's billing: admin, operator and billing; not read-only.
    for role, token in tokens.items():
        response = client.get("/meters/PV1/production", params={"month": "2026-07"}, headers=bearer(token))
        assert response.status_code == (403 if role == "read-only" else 200), (role, response.text)
