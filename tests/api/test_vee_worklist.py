"""The VEE work list over HTTP (issue 15): a token of each role reads or acts, or is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from meshmeter.store import Store
from tests.api.conftest import ADMIN, bearer
from tests.services.vee_world import END, GAP, SPIKE, T0, VeeWorld, build


@pytest.fixture
def world(store: Store) -> VeeWorld:
    return build(store)


@pytest.fixture
def callers(store: Store, world: VeeWorld, tokens: dict[str, str]) -> dict[str, dict[str, str]]:
    """A header of each role, a tenant's, and operators bound to Oak Court and to Elm House."""
    (account,) = store.accounts(site_id=world.oak)
    made = {
        "tenant": store.create_api_token(role="tenant", account_id=account.id)[1],
        "oak operator": store.create_api_token(role="operator", site_ids=[world.oak], label="front desk")[1],
        "elm operator": store.create_api_token(role="operator", site_ids=[world.elm])[1],
    }
    return {name: bearer(token) for name, token in {**tokens, **made}.items()}


def _acts(store: Store, world: VeeWorld) -> list[tuple[str | None, str, str]]:
    """The acts of people in the audit of the unit meter: action, who, why."""
    edits = store.interval_edits(meter_id=world.unit_meter, start=T0, end=END)
    return [(e.action, e.edited_by, e.reason) for e in edits if e.action is not None]


def _url(site_id: int) -> str:
    return f"/sites/{site_id}/vee/worklist"


def test_each_role_reads_the_list_or_is_refused(client, world, callers) -> None:
    for name in ("admin", "operator", "read-only", "oak operator"):
        response = client.get(_url(world.oak), headers=callers[name])
        assert response.status_code == 200, (name, response.text)
        body = response.json()
        assert body["count"] == 3
        first = body["data"][0]
        assert (first["label"], first["occupant"], first["serial"], first["local_end"]) == (
            "Unit 101",
            "Alvarez household (1001)",
            "MM26000001",
            "2026-01-05 10:15 PST",
        )
        assert first["why"] == "spike: 3000 Wh is more than 5× the day's third highest interval (500 Wh)"
        assert (first["raw_wh"], first["state"]) == (3000, "open")
    for name in ("billing", "tenant"):
        assert client.get(_url(world.oak), headers=callers[name]).status_code == 403
    assert client.get(_url(world.oak), headers=callers["elm operator"]).status_code == 404
    assert client.get(_url(99), headers=ADMIN).status_code == 404


def test_filters_are_query_parameters_and_bad_ones_are_all_named(client, world) -> None:
    got = client.get(
        _url(world.oak), params={"check": "missing", "start": "2026-01-05"}, headers=ADMIN
    ).json()
    assert [(d["interval_end"], d["method"], d["estimate_wh"]) for d in got["data"]] == [
        (GAP[0].isoformat().replace("+00:00", "Z"), "interpolation", 500),
        (GAP[1].isoformat().replace("+00:00", "Z"), "interpolation", 500),
    ]
    assert client.get(_url(world.oak), params={"meter": "MM26000002"}, headers=ADMIN).json()["count"] == 0
    response = client.get(_url(world.oak), params={"state": "closed", "meter": "NOPE"}, headers=ADMIN)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "state must be one of open, accepted, edited, reread" in detail
    assert "meter 'NOPE' is not a meter of site" in detail


def test_operators_and_admins_act_others_are_refused(client, store, world, callers) -> None:
    url = _url(world.oak) + "/actions"
    accept = {"action": "accept", "serial": "MM26000001", "interval_end": SPIKE.isoformat(), "reason": "oven"}
    for name in ("read-only", "billing", "tenant"):
        assert client.post(url, json=accept, headers=callers[name]).status_code == 403
    assert client.post(url, json=accept, headers=callers["elm operator"]).status_code == 404
    assert _acts(store, world) == []
    done = client.post(url, json=accept, headers=callers["oak operator"])
    assert done.status_code == 200, done.text
    assert (done.json()["state"], done.json()["acted_by"]) == ("accepted", "token 6 (front desk)")
    # the local time of the site, without an offset, names the interval too
    edit = {"action": "edit", "serial": "MM26000001", "interval_end": "2026-01-05T20:00", "value_wh": 420}
    done = client.post(url, json={**edit, "reason": "register read"}, headers=callers["operator"])
    assert done.status_code == 200, done.text
    assert (done.json()["value_wh"], done.json()["estimate_wh"], done.json()["state"]) == (420, 500, "edited")
    assert client.get(_url(world.oak), params={"state": "open"}, headers=ADMIN).json()["count"] == 1
    reread = {"action": "reread", "serial": "MM26000001", "interval_end": GAP[1].isoformat(), "reason": "gap"}
    done = client.post(url, json=reread, headers=ADMIN)
    assert done.json()["state_words"] == "re-read requested"
    assert done.json()["acted_by"] == "admin token (MESHMETER_ADMIN_TOKEN)"
    # the edit shows in the intervals the API serves, and the audit says who and why
    got = client.get(
        "/meters/MM26000001/intervals",
        params={"start": (GAP[0] - timedelta(minutes=15)).isoformat(), "end": GAP[0].isoformat()},
        headers=ADMIN,
    )
    assert [(d["energy_wh"], d["quality"]) for d in got.json()["data"]] == [(420, 7)]
    assert _acts(store, world) == [
        ("accept", "token 6 (front desk)", "oven"),
        ("edit", "token 2 (test operator)", "register read"),
        ("reread", "admin token (MESHMETER_ADMIN_TOKEN)", "gap"),
    ]


@pytest.mark.parametrize(
    ("body", "problems"),
    [
        (
            {"action": "edit", "serial": "MM26000001", "interval_end": "soon", "value_wh": -1, "reason": ""},
            ["interval_end", "reason must be given", "value_wh must be 0 or more, got -1"],
        ),
        (
            {"action": "edit", "serial": "MM26000001", "interval_end": SPIKE.isoformat(), "value_wh": 12.5},
            ["reason must be given", "value_wh must be a whole number of Wh, got 12.5"],
        ),
        (
            {"action": "wipe", "serial": "MM26000003", "reason": "x"},
            ["action must be one of accept, edit, reread", "interval_end must be given",
             "meter 'MM26000003'"],
        ),
        (
            {"action": "accept", "serial": "MM26000001",
             "interval_end": (T0 + timedelta(hours=1)).isoformat(), "reason": "x"},
            ["is not on the work list"],
        ),
    ],
)  # fmt: skip
def test_bad_acts_are_400_naming_every_problem_and_change_nothing(
    client, store, world, body, problems
) -> None:
    response = client.post(_url(world.oak) + "/actions", json=body, headers=ADMIN)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    for problem in problems:
        assert problem in detail, (problem, detail)
    assert _acts(store, world) == []
    assert client.get(_url(world.oak), params={"state": "open"}, headers=ADMIN).json()["count"] == 3
