"""Tenants, units and accounts managed from the dashboard (issue 15): the tenants page and an account's page
for each role, and their form: a new tenant moving in, move-out and close confirmed first, transfer, a new
unit; a refusal names every problem in the API's own words and stores nothing.

On the demo building of ``meshmeter demo`` (:mod:`tests.dashboard.tenant_world`): 24 units with tenants,
the Baker household moved out of unit 102 and the Newman household in. Each test makes the units it moves
tenants into (a meter of its own), so that none depends on another's order.
"""

from __future__ import annotations

import html
import itertools
import re
import warnings
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from meshmeter.store import Account, Store, Unit
from tests.dashboard.conftest import bearer, named_problems, snapshot
from tests.dashboard.tenant_world import World

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

_n = itertools.count(1)
_REFUSED = 'class="card tenancy-errors"'
"""The box of the problems a refused post names."""


def _site_id(store: Store) -> int:
    return store.sites()[0].id


def _fresh_unit(store: Store) -> Unit:
    """A vacant unit of the demo building, measured by a meter of its own."""
    site_id = _site_id(store)
    n = next(_n)
    meter = store.create_meter(
        serial=f"MMT{n:05d}", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site_id
    )
    return store.create_unit(site_id=site_id, name=f"9{n:02d}", meter_id=meter.id)


def _account(store: Store, tenant: str) -> Account:
    (found,) = [
        a for a in store.accounts() if (t := store.get_tenant(tenant_id=a.tenant_id)) and t.name == tenant
    ]
    return found


def _unit(store: Store, name: str) -> Unit:
    (found,) = [u for u in store.units() if u.name == name]
    return found


def _post(client: TestClient, world: tuple[Store, World], who: str = "operator", **fields: str) -> Any:
    data = {"site_id": str(_site_id(world[0])), "back": "/dashboard/tenants", **fields}
    return client.post("/dashboard/tenants", data=data, headers=bearer(world, who))


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


# -- reading ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "operator", "billing"])
def test_the_tenants_page_names_units_tenants_and_accounts(
    world_client: TestClient, world, role: str
) -> None:
    store, w = world
    page = world_client.get("/dashboard/tenants", headers=bearer(world, role))
    assert page.status_code == 200, page.text
    alvarez = _account(store, "Alvarez household")
    row = re.search(rf'<tr id="unit-{_unit(store, "101").id}".*?</tr>', page.text, re.S)
    assert row is not None
    cells = _text(row.group(0))
    assert "Unit 101" in cells
    assert "Alvarez household" in cells
    assert alvarez.number in cells
    assert f'href="/dashboard/accounts/{alvarez.id}"' in row.group(0)
    # unit 102: the Newman household since the move, local time of the site
    row = re.search(rf'<tr id="unit-{_unit(store, "102").id}".*?</tr>', page.text, re.S)
    assert row is not None
    assert "Newman household" in _text(row.group(0))
    assert "2026-03-08 00:00 PST" in _text(row.group(0))
    # the Baker household left: an account in no unit, saying so
    baker = re.search(rf'<tr id="account-{_account(store, "Baker household").id}".*?</tr>', page.text, re.S)
    assert baker is not None
    assert "moved out of Unit 102 on 2026-03-08 00:00 PST" in _text(baker.group(0))
    manages = 'action="/dashboard/tenants"' in page.text
    assert manages is (role != "billing")  # billing reads the page, without its forms
    meter_link = f'href="/dashboard/meters/{w.serials["101"]}"' in row.group(0) or (
        f'href="/dashboard/meters/{w.serials["101"]}"' in page.text
    )
    assert meter_link is (role != "billing")  # billing may not open a meter's page


@pytest.mark.parametrize("role", ["read-only", "tenant"])
def test_the_pages_are_not_for_read_only_nor_tenants(world_client: TestClient, world, role: str) -> None:
    assert world_client.get("/dashboard/tenants", headers=bearer(world, role)).status_code == 403
    assert world_client.get("/dashboard/accounts/1", headers=bearer(world, role)).status_code == 403
    refused = _post(world_client, world, role, action="new_tenant", name="Nobody")
    assert refused.status_code == 403


def test_an_accounts_page_reads_as_its_history(world_client: TestClient, world) -> None:
    store, _ = world
    baker = _account(store, "Baker household")
    for role in ("admin", "operator", "billing"):
        page = world_client.get(f"/dashboard/accounts/{baker.id}", headers=bearer(world, role))
        assert page.status_code == 200, page.text
        text = _text(page.text)
        assert f"Account {baker.number}: Baker household" in text
        assert "Moved into Unit 102 on 2019-02-01 00:00 PST" in text
        assert "Moved out of Unit 102 on 2026-03-08 00:00 PST" in text
        assert ("Move in" in text and "Close the account" in text) is (role != "billing")
    api = world_client.get(f"/accounts/{baker.id}/history", headers=bearer(world, "admin")).json()
    items = re.findall(r'<ol class="tenancy-history".*?</ol>', page.text, re.S)
    assert len(re.findall(r"<li>", items[0])) == api["count"]  # the API's history, line for line
    assert world_client.get("/dashboard/accounts/999999", headers=bearer(world, "admin")).status_code == 404


# -- acting ----------------------------------------------------------------------------------------------


def test_a_new_tenant_moves_into_a_vacant_unit_in_one_go(world_client: TestClient, world) -> None:
    store, _ = world
    unit = _fresh_unit(store)
    done = _post(
        world_client, world, action="new_tenant", name="Ortiz household", unit=str(unit.id), at="2026-12-01"
    )
    assert done.status_code == 303, done.text
    account = _account(store, "Ortiz household")
    assert done.headers["location"] == f"/dashboard/tenants?done=new_tenant#account-{account.id}"
    said = world_client.get(done.headers["location"], headers=bearer(world, "operator")).text
    assert 'role="status" id="done">Done: the tenant and the account are recorded.</p>' in said
    # local midnight of the site: PST is UTC-8; the account opens when the tenant moves in
    assert account.opened_at == datetime(2026, 12, 1, 8, tzinfo=UTC)
    (tenure,) = store.occupancies(account_id=account.id)
    assert (tenure.unit_id, tenure.move_in, tenure.move_out) == (unit.id, account.opened_at, None)
    operator_id = store.find_api_token(token=world[1].tokens["operator"]).id
    who = {e.recorded_by for e in store.account_history(account_id=account.id)}
    assert who == {f"token {operator_id} (operator)"}
    page = world_client.get("/dashboard/tenants", headers=bearer(world, "operator"))
    row = re.search(rf'<tr id="unit-{unit.id}".*?</tr>', page.text, re.S)
    assert row is not None
    assert "Ortiz household" in _text(row.group(0))


def test_a_new_tenant_without_a_unit_waits_for_a_move_in(world_client: TestClient, world) -> None:
    store, _ = world
    done = _post(world_client, world, action="new_tenant", name="Quist household", number="Q-1")
    assert done.status_code == 303, done.text
    account = _account(store, "Quist household")
    assert account.number == "Q-1"
    assert store.occupancies(account_id=account.id) == []
    unit = _fresh_unit(store)
    moved = _post(
        world_client,
        world,
        action="move_in",
        account_id=str(account.id),
        unit=str(unit.id),
        at="2026-11-02T09:30",
    )
    assert moved.status_code == 303, moved.text
    (tenure,) = store.occupancies(account_id=account.id)
    assert tenure.move_in == datetime(2026, 11, 2, 17, 30, tzinfo=UTC)  # 09:30 PST


def test_a_refused_new_tenant_names_every_problem_and_stores_nothing(world_client: TestClient, world) -> None:
    store, _ = world
    alvarez = _account(store, "Alvarez household")
    occupied = _unit(store, "101")
    before = snapshot(store)
    refused = _post(
        world_client,
        world,
        action="new_tenant",
        name="  ",
        number=alvarez.number,
        unit=str(occupied.id),
        at="2026-12-01",
    )
    assert refused.status_code == 400
    problems = named_problems(refused.text, _REFUSED)
    assert problems[0] == "name must be a non-empty string, got '  '"
    assert (
        problems[1]
        == f"number '{alvarez.number}' is already account_id {alvarez.id} at site {alvarez.site_id}"
    )
    assert problems[2].startswith(f"unit 101 is occupied by account {alvarez.number} from ")
    assert len(problems) == 3
    assert snapshot(store) == before
    # what was typed is kept
    assert f'name="number" value="{alvarez.number}"' in refused.text
    # a time that is not one, and a time without a unit
    refused = _post(world_client, world, action="new_tenant", name="Rossi", at="2026-13-01")
    assert named_problems(refused.text, _REFUSED) == [
        "at must be an ISO 8601 date or date-time (2024-03-01, 2024-03-01T12:00, 2024-03-01T20:00:00Z), "
        "got '2026-13-01'",
        "unit_id must be given with a move-in time (the unit moved into)",
    ]
    assert 'value="Rossi"' in refused.text
    assert snapshot(store) == before


def test_a_move_in_into_an_occupied_unit_is_refused_as_the_api_refuses_it(
    world_client: TestClient, world
) -> None:
    store, _ = world
    baker = _account(store, "Baker household")  # in no unit since it left 102
    occupied = _unit(store, "101")
    before = snapshot(store)
    api = world_client.post(
        f"/accounts/{baker.id}/move-in",
        json={"unit_id": occupied.id, "at": "2026-12-01"},
        headers=bearer(world, "operator"),
    )
    assert api.status_code == 409
    page = _post(
        world_client,
        world,
        action="move_in",
        account_id=str(baker.id),
        unit=str(occupied.id),
        at="2026-12-01",
    )
    assert page.status_code == 400
    assert named_problems(page.text, _REFUSED) == api.json()["problems"]
    assert snapshot(store) == before


def test_a_move_out_is_confirmed_first_then_the_unit_is_vacant(world_client: TestClient, world) -> None:
    store, _ = world
    unit = _fresh_unit(store)
    assert (
        _post(
            world_client,
            world,
            action="new_tenant",
            name="Sato household",
            unit=str(unit.id),
            at="2026-06-01",
        ).status_code
        == 303
    )
    account = _account(store, "Sato household")
    before = snapshot(store)
    asked = _post(world_client, world, action="move_out", account_id=str(account.id), at="2026-11-01")
    assert asked.status_code == 200
    question = re.search(r'<p id="confirm-text">(.*?)</p>', asked.text, re.S)
    assert question is not None
    assert html.unescape(question.group(1)) == (
        f"Sato household leaves Unit {unit.name} on 2026-11-01 00:00 PDT (account {account.number}); "
        "the account stays open."
    )
    assert snapshot(store) == before  # asked, nothing done
    done = _post(
        world_client, world, action="move_out", account_id=str(account.id), at="2026-11-01", confirm="yes"
    )
    assert done.status_code == 303
    (tenure,) = store.occupancies(account_id=account.id)
    assert tenure.move_out == datetime(2026, 11, 1, 7, tzinfo=UTC)
    page = world_client.get("/dashboard/tenants", headers=bearer(world, "operator"))
    row = re.search(rf'<tr id="unit-{unit.id}".*?</tr>', page.text, re.S)
    assert row is not None
    assert "vacant" in _text(row.group(0))
    # then closed, confirmed first too, from the account's page
    back = f"/dashboard/accounts/{account.id}"
    asked = _post(world_client, world, action="close", account_id=str(account.id), at="2026-11-02", back=back)
    assert "closes on 2026-11-02 00:00 PST" in _text(asked.text)
    assert f"Account {account.number}: Sato household" in _text(asked.text)  # the page it came from
    done = _post(
        world_client,
        world,
        action="close",
        account_id=str(account.id),
        at="2026-11-02",
        back=back,
        confirm="yes",
    )
    assert done.headers["location"] == f"{back}?done=close#account-{account.id}"
    assert store.get_account(account_id=account.id).closed_at == datetime(2026, 11, 2, 8, tzinfo=UTC)


def test_a_move_out_with_no_unit_is_refused_without_asking(world_client: TestClient, world) -> None:
    store, _ = world
    baker = _account(store, "Baker household")
    before = snapshot(store)
    refused = _post(world_client, world, action="move_out", account_id=str(baker.id), at="2026-12-01")
    assert refused.status_code == 400
    assert named_problems(refused.text, _REFUSED) == [
        f"account {baker.number} has no open occupancy: nothing to move out of"
    ]
    assert snapshot(store) == before


def test_a_transfer_moves_the_account_to_another_unit(world_client: TestClient, world) -> None:
    store, _ = world
    first, second = _fresh_unit(store), _fresh_unit(store)
    assert (
        _post(
            world_client,
            world,
            action="new_tenant",
            name="Tran household",
            unit=str(first.id),
            at="2026-05-01",
        ).status_code
        == 303
    )
    account = _account(store, "Tran household")
    back = f"/dashboard/accounts/{account.id}"
    done = _post(
        world_client,
        world,
        action="transfer",
        account_id=str(account.id),
        unit=str(second.id),
        at="2026-09-01",
        back=back,
    )
    assert done.status_code == 303, done.text
    assert [(o.unit, o.move_out is None) for o in store.occupancies(account_id=account.id)] == [
        (first.name, False),
        (second.name, True),
    ]
    page = world_client.get(back, headers=bearer(world, "admin"))
    assert f"Moved from Unit {first.name} to Unit {second.name} on 2026-09-01 00:00 PDT" in _text(page.text)


def test_a_new_unit_is_checked_as_the_cli_checks_it(world_client: TestClient, world) -> None:
    store, _ = world
    site_id = _site_id(store)
    meter = store.create_meter(
        serial=f"MMU{next(_n):05d}", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site_id
    )
    before = snapshot(store)
    refused = _post(
        world_client,
        world,
        action="new_unit",
        name="101",
        meter=meter.serial,
        floor_area_ft2="lots",
        occupants="-1",
    )
    assert refused.status_code == 400
    assert named_problems(refused.text, _REFUSED) == [
        "floor_area_ft2 must be a finite number > 0, got 'lots'",
        "occupants must be a whole number of people, 0 or more, got -1",
    ]
    assert 'name="floor_area_ft2" value="lots"' in refused.text
    refused = _post(
        world_client, world, action="new_unit", name="101", meter=meter.serial, floor_area_ft2="850"
    )
    taken = _unit(store, "101")
    assert named_problems(refused.text, _REFUSED) == [
        f"site {site_id} has a unit named '101' already (unit_id {taken.id})"
    ]
    assert snapshot(store) == before
    done = _post(
        world_client,
        world,
        action="new_unit",
        name="PH1",
        meter=meter.serial,
        address="1 Mission St, PH1",
        floor_area_ft2="1250.5",
        occupants="3",
    )
    assert done.status_code == 303, done.text
    unit = _unit(store, "PH1")
    assert (unit.meter_id, unit.address, unit.floor_area_ft2, unit.occupants) == (
        meter.id,
        "1 Mission St, PH1",
        1250.5,
        3,
    )
    page = world_client.get("/dashboard/tenants", headers=bearer(world, "operator"))
    row = re.search(rf'<tr id="unit-{unit.id}".*?</tr>', page.text, re.S)
    assert row is not None
    assert "1,250" in row.group(0)
    assert "vacant" in _text(row.group(0))
    assert meter.serial in row.group(0)


def test_an_unknown_action_or_account_is_named(world_client: TestClient, world) -> None:
    store, _ = world
    before = snapshot(store)
    assert named_problems(_post(world_client, world, action="evict").text, _REFUSED) == [
        "action must be one of new_tenant, move_in, move_out, transfer, close, new_unit, got 'evict'"
    ]
    assert named_problems(
        _post(world_client, world, action="move_in", account_id="x", unit="1", at="2026-12-01").text, _REFUSED
    ) == ["account_id 'x' names no account: choose one of the site's"]
    assert _post(world_client, world, action="move_in", site_id="999999").status_code == 404
    assert snapshot(store) == before
