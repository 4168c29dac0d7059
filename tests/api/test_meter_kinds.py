"""Meters of any make through the API (issue 14): ``POST /meters`` registers a meter by its manufacturer,
model and ratings, ``GET /meters`` and ``GET /meters/{serial}`` give them back with the limit they set, and
``POST /intervals`` then bounds the meter's intervals by its own ratings. A refusal names every problem
(409) and stores nothing. Each role's token, as the other API tests.

The meters and their published figures (sources in ``tests/store/test_meter_kinds.py``): Eastron SDM630MCT
on 400:5 A CTs, 3 × 289 V × 400 A × 0.25 h = 86,700 Wh in 15 minutes; Continental Control Systems WattNode
WNC-3Y-208-MB on 200 A CTs read to 120 %, hourly 3 × 120 V × 240 A × 1 h = 86,400 Wh; the Mini Meter,
2 × 138 V × 220 A × 0.25 h = 15,180 Wh.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from meshmeter.store import Store
from tests.api.conftest import ADMIN, bearer

SDM: dict[str, Any] = {
    "serial": "SDM-1",
    "manufacturer": "Eastron",
    "model": "SDM630MCT",
    "elements": 3,
    "voltage_max_v": 289,
    "current_max_a": 400,
    "ct_ratio": 80,
}


@pytest.mark.parametrize(
    ("role", "status"),
    [("operator", 201), ("admin", 201), ("billing", 403), ("read-only", 403)],
)
def test_who_may_register_a_meter_of_another_make(client, store: Store, tokens, role, status) -> None:
    headers = ADMIN if role == "admin" else bearer(tokens[role])
    answer = client.post("/meters", json={**SDM, "role": "master", "register_digits": 7}, headers=headers)
    assert answer.status_code == status, answer.text
    found = store.get_meter(serial="SDM-1")
    if status != 201:
        assert found is None
        return
    assert found is not None
    made = answer.json()
    assert made == {
        "id": found.id,
        "serial": "SDM-1",
        "designation": "SDM630MCT",  # the model, when no designation is given
        "ct_ratio": 80.0,
        "multiplier": 1.0,
        "install_date": None,
        "site_id": None,
        "export_of_meter_id": None,
        "interval_s": 900,
        "role": "master",
        "register_digits": 7,
        "manufacturer": "Eastron",
        "model": "SDM630MCT",
        "elements": 3,
        "voltage_max_v": 289.0,
        "current_max_a": 400.0,
        "max_interval_energy_wh": 86_700,  # 3 × 289 V × 400 A × 0.25 h
        "rating_source": "ratings",
    }
    # every role reads it back as it was made
    for reader in ("billing", "read-only"):
        assert client.get("/meters/SDM-1", headers=bearer(tokens[reader])).json() == made


def test_meters_list_their_makes_and_limits(client, store: Store) -> None:
    body = {
        "serial": "WN-1",
        "manufacturer": "Continental Control Systems",
        "model": "WNC-3Y-208-MB",
        "elements": 3,
        "voltage_max_v": 120,
        "current_max_a": 240,
        "interval_s": 3600,
        "role": "house",
    }
    assert client.post("/meters", json=body, headers=ADMIN).status_code == 201
    assert client.post("/meters", json={"serial": "MM-1"}, headers=ADMIN).status_code == 201
    free = {"serial": "SDM-2", "manufacturer": "Eastron", "model": "SDM630MCT"}  # no ratings
    assert client.post("/meters", json=free, headers=ADMIN).status_code == 201
    listed = {m["serial"]: m for m in client.get("/meters", headers=ADMIN).json()["data"]}
    assert {s: (m["max_interval_energy_wh"], m["rating_source"]) for s, m in listed.items()} == {
        "WN-1": (86_400, "ratings"),  # 3 × 120 V × 240 A × 1 h
        "MM-1": (15_180, "designation"),  # 2 × 138 V × 220 A × 0.25 h
        "SDM-2": (15_180, "default"),  # a make without ratings: the default Mini Meter, as before
    }
    assert (listed["WN-1"]["interval_s"], listed["WN-1"]["role"]) == (3600, "house")
    assert listed["SDM-2"]["ct_ratio"] == 2000.0  # the default Mini Meter's, so that its limit is one's


@pytest.mark.parametrize(
    ("body", "status", "said"),
    [
        (
            {"serial": "B1", "manufacturer": "Eastron", "elements": 4, "voltage_max_v": -2},
            409,
            [
                "model is missing",
                "elements must be a whole number, 1 to 3, got 4",
                "voltage_max_v must be a finite number > 0 [V, line to neutral], got -2",
                "missing current_max_a",
            ],
        ),
        (
            {**SDM, "serial": "B2", "elements": 0, "current_max_a": 0, "interval_s": 600},
            409,
            [
                "elements must be a whole number, 1 to 3, got 0",
                "current_max_a must be a finite number > 0 [A, primary], got 0",
                "interval_s must be one of 300",
            ],
        ),
        (
            {"serial": "B3", "elements": 3, "voltage_max_v": 277, "current_max_a": 400, "model": "X"},
            409,
            [
                "model is the manufacturer's model name: give the manufacturer too",
                "ratings are of a meter of another make: give its manufacturer",
            ],
        ),
        ({"serial": "B4", "designation": "SDM630MCT"}, 400, ["SDM630MCT"]),  # no manufacturer: a Mini Meter's
        ({**SDM, "serial": "B5", "elements": "three"}, 422, ["elements"]),
        ({**SDM, "serial": "B6", "colour": "grey"}, 422, ["colour"]),
    ],
)
def test_bad_input_names_every_problem_and_stores_nothing(client, store: Store, body, status, said) -> None:
    answer = client.post("/meters", json=body, headers=ADMIN)
    assert answer.status_code == status, answer.text
    text = json.dumps(answer.json())
    for problem in said:
        assert problem in text, text
    assert store.meters() == []


def test_the_ingest_door_takes_for_the_sdm630mct_what_it_refuses_for_a_mini_meter(client, tokens) -> None:
    operator = bearer(tokens["operator"])
    assert client.post("/meters", json=SDM, headers=operator).status_code == 201
    assert client.post("/meters", json={"serial": "MM-1"}, headers=operator).status_code == 201

    def send(serial: str, energy_wh: int) -> Any:
        body = {
            "meter": serial,
            "intervals": [{"interval_end": "2026-01-01T01:00:00Z", "energy_wh": energy_wh}],
        }
        return client.post("/intervals", json=body, headers=operator)

    # 50,000 Wh: above the Mini Meter's 15,180 Wh, under the SDM630MCT's 86,700 Wh
    refused = send("MM-1", 50_000)
    assert refused.status_code == 422, refused.text
    assert refused.json()["reason"] == "energy_too_high"
    assert "50000 Wh, above 15180 Wh" in refused.json()["detail"]
    assert send("SDM-1", 50_000).status_code in (200, 201)
    refused = send("SDM-1", 86_701)
    assert refused.status_code == 422, refused.text
    assert "86701 Wh, above 86700 Wh" in refused.json()["detail"]
