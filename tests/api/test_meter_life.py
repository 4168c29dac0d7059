"""A meter's life over HTTP (issue 13): exchange, install, removal, multiplier and CT ratio by an operator or
an admin; everyone on the staff reads the history; a refusal names every problem (409, 404 for a meter
that is not there) and stores nothing.

The site of :func:`tests.api.conftest.site_data`: M1 of Oak Court, 3 days of 100 Wh quarter-hours from local
midnight of 2024-03-01 (its counter 100 Wh a quarter-hour from 0, so 28,800 Wh at the end), and M2 with
Tess's unit 2A.
"""

from __future__ import annotations

import pytest

from meshmeter.store import Store
from tests.api.conftest import ADMIN, bearer

EXCHANGE = {"new": "M9", "at": "2024-03-04", "final_read_wh": 28_800, "first_read_wh": 0}
"""M1 exchanged for a fresh M9 at local midnight of 4 March (the end of M1's data), reads in Wh."""


@pytest.fixture
def spare(store: Store, site_data: dict[str, int]) -> int:
    """M9, a fresh meter of Oak Court serving nothing."""
    return store.create_meter(serial="M9", designation="MM-1", ct_ratio=2000, site_id=site_data["la"]).id


@pytest.mark.parametrize(("role", "status"), [("operator", 201), ("billing", 403), ("read-only", 403)])
def test_who_may_exchange_a_meter(client, store, site_data, spare, tokens, role, status) -> None:
    unit = store.create_unit(site_id=site_data["la"], name="1A", meter_id=site_data["m1"])
    answer = client.post("/meters/M1/exchange", json=EXCHANGE, headers=bearer(tokens[role]))
    assert answer.status_code == status, answer.text
    if status == 201:
        body = answer.json()
        assert [(c["meter"], c["kind"], c["read_wh"], c["replaces"]) for c in body["data"]] == [
            ("M1", "remove", 28_800, None),
            ("M9", "install", 0, "M1"),
        ]
        assert body["data"][0]["recorded_by"].startswith("token ")
        assert store.get_unit(unit_id=unit.id).meter_id == spare
    else:
        assert store.meter_changes() == []
        assert store.get_unit(unit_id=unit.id).meter_id == site_data["m1"]


def test_a_bad_exchange_names_every_problem_and_stores_nothing(client, store, site_data, spare) -> None:
    # M2 serves Tess's unit 2A; the final read is below M1's counter; 00:07 is off the 15-minute grid.
    body = {"new": "M2", "at": "2024-03-04T00:07", "final_read_wh": 28_000, "first_read_wh": -3}
    answer = client.post("/meters/M1/exchange", json=body, headers=ADMIN)
    assert answer.status_code == 409, answer.text
    problems = answer.json()["problems"]
    assert "first_read_wh must be a register read in whole Wh, 0 or more, got -3" in problems
    assert any(p.startswith("at 2024-03-04T08:07:00+00:00 is not on meter 'M1''s grid") for p in problems)
    assert any(
        "final_read_wh 28.000 kWh is below 28.800 kWh, the counter of meter 'M1'" in p for p in problems
    )
    assert any(p.startswith("new meter 'M2' already measures unit '2A'") for p in problems)
    assert store.meter_changes() == []
    answer = client.post("/meters/NOPE/exchange", json={**EXCHANGE, "new": "M8"}, headers=ADMIN)
    assert answer.status_code == 404, answer.text
    assert answer.json()["problems"] == [
        "old meter 'NOPE' is not a known meter (meshmeter meter add)",
        "new meter 'M8' is not a known meter (meshmeter meter add)",
    ]
    answer = client.post("/meters/M1/exchange", json={**EXCHANGE, "extra": 1}, headers=ADMIN)
    assert answer.status_code in (400, 422)
    assert store.meter_changes() == []


def test_install_remove_multiplier_ct_ratio_and_the_history(client, store, site_data, spare, tokens) -> None:
    operator = bearer(tokens["operator"])
    steps = [
        ("/meters/M9/install", {"at": "2024-03-02", "first_read_wh": 5_000}),
        ("/meters/M9/ct-ratio", {"at": "2024-03-03", "value": 4000}),
        ("/meters/M9/multiplier", {"at": "2024-03-03", "value": 2, "read_wh": 6_000}),
        ("/meters/M9/remove", {"at": "2024-03-05", "final_read_wh": 7_000}),
    ]
    for path, body in steps:
        answer = client.post(path, json=body, headers=operator)
        assert answer.status_code == 201, answer.text
    meter = store.get_meter(serial="M9")
    assert (meter.ct_ratio, meter.multiplier, meter.install_date.isoformat()) == (4000.0, 2.0, "2024-03-02")
    for role in ("billing", "read-only", "operator"):
        answer = client.get("/meters/M9/history", headers=bearer(tokens[role]))
        assert answer.status_code == 200, answer.text
        history = answer.json()
        assert [(c["kind"], c["value"], c["read_wh"]) for c in history["data"]] == [
            ("install", None, 5_000),
            ("ct_ratio", 4000.0, None),
            ("multiplier", 2.0, 6_000),
            ("remove", None, 7_000),
        ]
        assert history["data"][2]["detail"] == {"from": 1.0}
    assert (
        client.post(
            "/meters/M9/multiplier", json={"at": "2024-03-06", "value": 3}, headers=bearer(tokens["billing"])
        ).status_code
        == 403
    )
    answer = client.post("/meters/M9/multiplier", json={"at": "2024-03-06", "value": 3}, headers=operator)
    assert answer.status_code == 409
    assert answer.json()["problems"] == ["meter 'M9' was removed at 2024-03-05T08:00:00+00:00"]
    assert client.get("/meters/NOPE/history", headers=operator).status_code == 404
