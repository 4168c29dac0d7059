"""``POST /meters`` (issue 13): an operator or an admin registers a meter, a bidirectional meter's export
register among them (``export_of``); a refusal names every problem (409; 404 for a site or meter the caller
does not see) and stores nothing. A token bound to a site registers meters of that site only.

The site of :func:`tests.api.conftest.site_data`: M1 and M2 of Oak Court (Los Angeles), M3 of Elm House.
"""

from __future__ import annotations

import pytest

from meshmeter.store import Store
from tests.api.conftest import ADMIN, bearer


@pytest.mark.parametrize(
    ("role", "status"),
    [("operator", 201), ("admin", 201), ("billing", 403), ("read-only", 403)],
)
def test_who_may_register_an_export_register(client, store, site_data, tokens, role, status) -> None:
    body = {"serial": "M1-X", "site_id": site_data["la"], "export_of": "M1"}
    headers = ADMIN if role == "admin" else bearer(tokens[role])
    answer = client.post("/meters", json=body, headers=headers)
    assert answer.status_code == status, answer.text
    found = store.get_meter(serial="M1-X")
    if status == 201:
        assert answer.json()["export_of_meter_id"] == site_data["m1"]
        assert found is not None
        assert (found.role, found.export_of_meter_id, found.interval_s) == (
            "production",
            site_data["m1"],
            900,
        )
        assert store.export_register(meter_id=site_data["m1"]) == found
        listed = client.get("/meters", params={"site_id": site_data["la"]}, headers=ADMIN).json()["data"]
        assert {m["serial"]: m["export_of_meter_id"] for m in listed} == {
            "M1": None,
            "M2": None,
            "M1-X": site_data["m1"],
        }
    else:
        assert found is None


def test_a_plain_meter_is_registered_as_the_command_does(client, store, site_data) -> None:
    body = {"serial": "M7", "site_id": site_data["ny"], "interval_s": 3600, "role": "master"}
    answer = client.post("/meters", json=body, headers=ADMIN)
    assert answer.status_code == 201, answer.text
    made = store.get_meter(serial="M7")
    assert made is not None
    assert (made.role, made.interval_s, made.ct_ratio, made.export_of_meter_id) == (
        "master",
        3600,
        2000.0,
        None,
    )


def test_a_bad_export_register_names_every_problem_and_stores_nothing(
    client, store: Store, site_data
) -> None:
    store.create_meter(
        serial="M1-X",
        designation="MM-1",
        ct_ratio=2000,
        site_id=site_data["la"],
        export_of_meter_id=site_data["m1"],
    )
    before = {m.serial for m in store.meters()}
    body = {"serial": "M2", "site_id": site_data["ny"], "interval_s": 3600, "role": "unit", "export_of": "M1"}
    answer = client.post("/meters", json=body, headers=ADMIN)
    assert answer.status_code == 409, answer.text
    said = answer.json()["detail"]
    for problem in (
        "role must be production",
        f"is of site {site_data['la']}, the export register of site {site_data['ny']}",
        "already has an export register, 'M1-X'",
        "has 900 s intervals, the export register 3600 s",
        "serial 'M2' is already a meter",
    ):
        assert problem in said, said
    answer = client.post(
        "/meters", json={"serial": "M1-Y", "site_id": site_data["la"], "export_of": "M1-X"}, headers=ADMIN
    )
    assert answer.status_code == 409, answer.text
    assert "is itself an export register" in answer.text
    answer = client.post("/meters", json={"serial": "M9", "export_of": "NOPE"}, headers=ADMIN)
    assert answer.status_code == 404, answer.text
    assert "export_of: no meter has serial 'NOPE'" in answer.text
    answer = client.post("/meters", json={"serial": "M9", "role": "export"}, headers=ADMIN)
    assert answer.status_code == 422, answer.text
    answer = client.post("/meters", json={"serial": "M9", "designation": "XX-1"}, headers=ADMIN)
    assert answer.status_code == 400, answer.text
    assert {m.serial for m in store.meters()} == before


def test_a_site_bound_operator_registers_in_its_site_only(client, store: Store, site_data) -> None:
    oak = bearer(store.create_api_token(role="operator", site_ids=[site_data["la"]])[1])
    answer = client.post(
        "/meters", json={"serial": "M3-X", "site_id": site_data["ny"], "export_of": "M3"}, headers=oak
    )
    assert answer.status_code == 404, answer.text
    answer = client.post("/meters", json={"serial": "M8"}, headers=oak)
    assert answer.status_code == 404, answer.text
    assert store.get_meter(serial="M3-X") is None
    assert store.get_meter(serial="M8") is None
    answer = client.post(
        "/meters", json={"serial": "M2-X", "site_id": site_data["la"], "export_of": "M2"}, headers=oak
    )
    assert answer.status_code == 201, answer.text
    # and the meter that now exports is not exchanged yet, through the same scope
    store.create_meter(serial="M9", designation="MM-1", ct_ratio=2000, site_id=site_data["la"])
    body = {"new": "M9", "at": "2024-03-04", "final_read_wh": 0, "first_read_wh": 0}
    answer = client.post("/meters/M2/exchange", json=body, headers=oak)
    assert answer.status_code == 409, answer.text
    assert (
        "has an export register ('M2-X'): exchanging a meter that exports is not supported yet" in answer.text
    )
    assert store.meter_changes() == []
