"""Meters and their sources managed from the dashboard (issue 15), without a browser, over the demo building:
the meters page names first, who sees the forms and who may post them, a refused form naming every problem
in the API's words with the store unchanged, and each act done through the same code as the API."""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from meshmeter.store import Store
from tests.dashboard.conftest import bearer, named_problems, signed_in, snapshot
from tests.dashboard.tenant_world import World

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


def _post(client: TestClient, path: str, data: dict[str, str]) -> Any:
    return client.post(path, data=data)


def _api_problems(response: Any) -> list[str]:
    body = response.json()
    return [p for p in body["detail"].split("; ")]


# -- who sees what --------------------------------------------------------------------------------------


def test_read_only_sees_no_forms_and_billing_no_page(
    world_client: TestClient, world: tuple[Store, World]
) -> None:
    _store, built = world
    serial = built.serials["101"]
    page = world_client.get("/dashboard/meters", headers=bearer(world, "read-only"))
    assert page.status_code == 200
    assert 'id="meters"' in page.text
    assert "register-form" not in page.text
    record = world_client.get(f"/dashboard/meters/{serial}", headers=bearer(world, "read-only"))
    assert 'id="life"' in record.text  # the history is for every reader
    assert 'id="manage"' not in record.text
    sources = world_client.get("/dashboard/sources", headers=bearer(world, "read-only"))
    assert "add-source" not in sources.text
    assert 'action="/dashboard/sources"' not in sources.text
    assert world_client.get("/dashboard/meters", headers=bearer(world, "billing")).status_code == 403
    for who in ("admin", "operator"):
        shown = world_client.get("/dashboard/meters", headers=bearer(world, who)).text
        assert 'id="register-form"' in shown
        assert (
            'id="manage"' in world_client.get(f"/dashboard/meters/{serial}", headers=bearer(world, who)).text
        )


@pytest.mark.parametrize("who", ["read-only", "billing", "tenant"])
def test_only_admin_and_operator_may_post(
    world_client: TestClient, world: tuple[Store, World], who: str
) -> None:
    store, built = world
    before = snapshot(store)
    posts = [
        ("/dashboard/meters", {"site_id": "1", "serial": f"NOPE-{who}"}),
        (f"/dashboard/meters/{built.serials['101']}", {"action": "multiplier", "at": "2026-03-08",
                                                       "value": "3"}),
        ("/dashboard/sources", {"site_id": "1", "action": "add", "name": "n", "kind": "mqtt",
                                "format": "tasmota_counter", "address": "mqtt://127.0.0.1:1883"}),
    ]  # fmt: skip
    with signed_in(world_client, world, who):
        for path, data in posts:
            assert _post(world_client, path, data).status_code == 403, path
    assert snapshot(store) == before


# -- the meters page ------------------------------------------------------------------------------------


def test_the_meters_page_names_each_meter_first(world_client: TestClient, world: tuple[Store, World]) -> None:
    store, built = world
    html = world_client.get("/dashboard/meters", params={"site_id": 1}, headers=bearer(world, "admin")).text
    rows = re.findall(r'<tr id="meter-([^"]+)" data-serial="[^"]+">(.*?)</tr>', html, flags=re.S)
    assert len(rows) == len(store.meters(site_id=1))
    first_serial, first = rows[0]
    assert first_serial == built.serials["101"]
    cells = [
        " ".join(re.sub(r"<[^>]+>", " ", c).split())
        for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", first, re.S)
    ]
    # names first: the unit, who lives there with the account; then the meter and its make
    assert cells[0] == "Unit 101"
    assert cells[1].startswith("Alvarez household (")
    assert cells[2] == built.serials["101"]
    assert cells[3] == "MM-D1202001-T-SCC"
    assert cells[4:7] == ["2000:1", "1", "unit meter"]
    assert cells[7] == "in service"
    assert cells[8].startswith("MDT over the mesh")
    assert cells[9] in ("reporting", "silent")
    roles = [" ".join(re.sub(r"<[^>]+>", " ", r).split()) for _, r in rows]
    assert any("house meter" in r for r in roles)
    assert any("production meter" in r for r in roles)
    # the register form offers the catalog's designations, the default first
    options = re.findall(r'<option value="(MM-[^"]+)"', html)
    assert options[0] == "MM-D1202001-T-SCC"
    assert len(options) == 8


# -- registering ----------------------------------------------------------------------------------------


def test_register_a_meter_and_refusals_in_the_apis_words(
    world_client: TestClient, world: tuple[Store, World]
) -> None:
    store, built = world
    taken = built.serials["104"]
    before = snapshot(store)
    with signed_in(world_client, world):
        refused = _post(world_client, "/dashboard/meters", {"site_id": "1", "serial": taken, "role": "unit"})
        assert refused.status_code == 400
        api = world_client.post(
            "/meters", json={"serial": taken, "site_id": 1, "role": "unit"}, headers=bearer(world, "admin")
        )
        assert api.status_code == 409
        assert named_problems(refused.text, 'id="register-errors"') == _api_problems(api)
        bad = _post(
            world_client, "/dashboard/meters", {"site_id": "1", "serial": "X-1", "ct_ratio": "two thousand"}
        )
        assert bad.status_code == 400
        api = world_client.post(
            "/meters",
            json={"serial": "X-1", "site_id": 1, "ct_ratio": "two thousand"},
            headers=bearer(world, "admin"),
        )
        assert api.status_code == 422
        # the API names the body's member; the form its field: the words after the location are the same
        assert named_problems(bad.text, 'id="register-errors"') == [
            p.removeprefix("body.") for p in _api_problems(api)
        ]
        assert 'value="X-1"' in bad.text  # what was typed is kept
        assert snapshot(store) == before
        done = _post(
            world_client,
            "/dashboard/meters",
            {
                "site_id": "1",
                "serial": "MM26000901",
                "designation": "MM-S1202001-T-SCC",
                "ct_ratio": "",
                "role": "house",
            },
        )
    assert done.status_code == 303
    assert done.headers["location"] == "/dashboard/meters?site_id=1&done=meter_register#meter-MM26000901"
    made = store.get_meter(serial="MM26000901")
    assert made is not None
    assert (made.designation, made.ct_ratio, made.role, made.site_id) == (
        "MM-S1202001-T-SCC",
        2000,
        "house",
        1,
    )


# -- a meter's life -------------------------------------------------------------------------------------


def test_a_multiplier_change_with_a_local_date_and_its_history(
    world_client: TestClient, world: tuple[Store, World]
) -> None:
    store, built = world
    serial = built.serials["105"]
    with signed_in(world_client, world):
        done = _post(
            world_client,
            f"/dashboard/meters/{serial}",
            {"action": "multiplier", "at": "2026-03-08", "value": "2", "read_kwh": ""},
        )
    assert done.status_code == 303
    assert done.headers["location"] == f"/dashboard/meters/{serial}?done=meter_multiplier#life"
    with signed_in(world_client, world):  # the page it returns to says what was done
        back = world_client.get(done.headers["location"])
    said = re.search(r'<p class="card done ok-text" role="status" id="done">([^<]*)</p>', back.text)
    assert said is not None
    assert said.group(1) == "Done: the new multiplier is recorded."
    meter = store.get_meter(serial=serial)
    assert meter is not None
    changes = store.meter_changes(meter_id=meter.id)
    assert [(c.kind, c.value, c.at.isoformat()) for c in changes] == [
        ("multiplier", 2.0, "2026-03-08T08:00:00+00:00")  # local midnight of the site: PST
    ]
    assert changes[0].recorded_by == "admin token (MESHMETER_ADMIN_TOKEN)"
    page = world_client.get(f"/dashboard/meters/{serial}", headers=bearer(world, "read-only")).text
    life = " ".join(
        re.sub(
            r"<[^>]+>",
            " ",
            page[page.index('id="life-list"') : page.index("</ul>", page.index('id="life-list"'))],
        ).split()
    )
    assert "2026-03-08 00:00 PST Multiplier 1 → 2" in life
    assert "recorded by admin token" in life
    api = world_client.get(f"/meters/{serial}/history", headers=bearer(world, "admin")).json()
    assert [(d["kind"], d["value"]) for d in api["data"]] == [("multiplier", 2.0)]


def test_a_refused_change_names_every_problem_in_the_apis_words(
    world_client: TestClient, world: tuple[Store, World]
) -> None:
    store, built = world
    serial = built.serials["106"]
    before = snapshot(store)
    with signed_in(world_client, world):
        refused = _post(
            world_client,
            f"/dashboard/meters/{serial}",
            {"action": "multiplier", "at": "soon", "value": "x", "read_kwh": "1.2345"},
        )
        assert refused.status_code == 400
        shown = named_problems(refused.text, 'id="manage-errors"')
        assert shown == [
            "value: Input should be a valid number, unable to parse string as a number",
            "at must be an ISO 8601 date or date-time (2024-03-01, 2024-03-01T12:00, "
            "2024-03-01T20:00:00Z), got 'soon'",
            "read_kwh is a read to the Wh: at most three decimals of kWh, got '1.2345'",
        ]
        api = world_client.post(
            f"/meters/{serial}/multiplier", json={"at": "soon", "value": 2}, headers=bearer(world, "admin")
        )
        assert api.status_code == 409
        assert _api_problems(api) == [shown[1]]
        # off the meter's grid, and an exchange for a meter that does not exist: named together
        off = _post(
            world_client,
            f"/dashboard/meters/{serial}",
            {
                "action": "exchange",
                "new": "NOPE",
                "at": "2026-03-08T00:07",
                "final_read_kwh": "12.5",
                "first_read_kwh": "0",
            },
        )
        assert off.status_code == 400
        problems = named_problems(off.text, 'id="manage-errors"')
        api = world_client.post(
            f"/meters/{serial}/exchange",
            json={"new": "NOPE", "at": "2026-03-08T00:07", "final_read_wh": 12500, "first_read_wh": 0},
            headers=bearer(world, "admin"),
        )
        assert problems == _api_problems(api)
        assert "new meter 'NOPE' is not a known meter (meshmeter meter add)" in problems
        assert 'value="2026-03-08T00:07"' in off.text  # what was typed is kept
        assert _post(world_client, "/dashboard/meters/NO-SUCH", {"action": "remove"}).status_code == 404
    assert snapshot(store) == before


def test_an_exchange_puts_the_new_meter_in_the_units_place(
    world_client: TestClient, world: tuple[Store, World]
) -> None:
    store, built = world
    old = built.serials["107"]
    with signed_in(world_client, world):
        assert (
            _post(world_client, "/dashboard/meters", {"site_id": "1", "serial": "MM26000907"}).status_code
            == 303
        )
        page = world_client.get(f"/dashboard/meters/{old}").text
        assert '<option value="MM26000907"' in page  # a meter measuring no unit may go in its place
        done = _post(
            world_client,
            f"/dashboard/meters/{old}",
            {
                "action": "exchange",
                "new": "MM26000907",
                "at": "2026-03-08T12:00",
                "final_read_kwh": "1234.5",
                "first_read_kwh": "0.25",
            },
        )
    assert done.status_code == 303, named_problems(done.text, 'id="manage-errors"')
    new = store.get_meter(serial="MM26000907")
    assert new is not None
    assert [u.name for u in store.units(meter_id=new.id)] == ["107"]
    reads = [(c.kind, c.read_wh) for c in store.meter_changes(meter_ids=[new.id, new.id - 0])]
    assert ("install", 250) in reads
    rows = world_client.get("/dashboard/meters", headers=bearer(world, "admin")).text
    row = rows[rows.index('id="meter-MM26000907"') :]
    assert "Unit 107" in row[: row.index("</tr>")]


# -- sources --------------------------------------------------------------------------------------------


def test_sources_add_map_and_disable(world_client: TestClient, world: tuple[Store, World]) -> None:
    store, built = world
    serial = built.serials["108"]
    form = {
        "site_id": "1",
        "action": "add",
        "name": "panel-c",
        "kind": "mqtt",
        "format": "tasmota_counter",
        "address": "mqtt://127.0.0.1:1883",
        "settings": "topic=tele/panel-c/SENSOR\ncomm_loss_after_s=900",
    }
    with signed_in(world_client, world):
        done = _post(world_client, "/dashboard/sources", form)
        assert done.status_code == 303
        source = store.get_source(site_id=1, name="panel-c")
        assert source is not None
        assert source.settings == {"topic": "tele/panel-c/SENSOR", "comm_loss_after_s": 900}
        assert done.headers["location"] == f"/dashboard/sources?site_id=1&done=source_add#source-{source.id}"
        mapped = _post(
            world_client,
            "/dashboard/sources",
            {
                "site_id": "1",
                "action": "map",
                "source_id": str(source.id),
                "device": "panel-c",
                "channel": "C1",
                "meter": serial,
                "unit": "pulse",
                "wh_per_unit": "10",
            },
        )
        assert mapped.status_code == 303
        off = _post(
            world_client,
            "/dashboard/sources",
            {"site_id": "1", "action": "disable", "source_id": str(source.id)},
        )
        assert off.status_code == 303
    found = store.get_source(source_id=source.id)
    assert found is not None
    assert found.enabled is False
    [channel] = store.source_channels(source_id=source.id)
    assert (channel.device, channel.channel, channel.unit) == ("panel-c", "C1", "pulse")
    # the page names the meter each source feeds by its unit and tenant, the serial one click away
    page = world_client.get(
        "/dashboard/sources", params={"site_id": 1}, headers=bearer(world, "read-only")
    ).text
    card = page[page.index(f'id="source-{source.id}"') :]
    fed = " ".join(
        re.sub(
            r"<[^>]+>",
            " ",
            card[card.index('class="feeds">') + 14 : card.index("</td>", card.index('class="feeds"'))],
        ).split()
    )
    assert fed.startswith("Unit 108 · Huang household (")
    assert fed.endswith(serial)
    assert "disabled" in card[: card.index("</h2>")]


def test_a_refused_source_names_every_problem_in_the_apis_words(
    world_client: TestClient, world: tuple[Store, World]
) -> None:
    store, _built = world
    before = snapshot(store)
    bad = {"name": "bad-one", "kind": "mqtt", "format": "no_such_format", "address": "10.0.0.7:502"}
    with signed_in(world_client, world):
        refused = _post(
            world_client, "/dashboard/sources", {"site_id": "1", "action": "add", **bad, "settings": ""}
        )
        assert refused.status_code == 400
        api = world_client.post("/sites/1/sources", json=bad, headers=bearer(world, "admin"))
        assert api.status_code == 400
        assert named_problems(refused.text, 'id="source-errors"') == _api_problems(api)
        assert len(_api_problems(api)) >= 2  # the format and the address, each named
        # a setting that is not KEY=VALUE is named with the others
        worse = _post(
            world_client, "/dashboard/sources", {"site_id": "1", "action": "add", **bad, "settings": "poll"}
        )
        assert named_problems(worse.text, 'id="source-errors"') == [
            "settings take KEY=VALUE, got 'poll'",
            *_api_problems(api),
        ]
        # a channel for an unknown meter, of no source of the site
        nomap = _post(
            world_client,
            "/dashboard/sources",
            {
                "site_id": "1",
                "action": "map",
                "source_id": "999",
                "device": "d",
                "channel": "c",
                "meter": "X",
                "unit": "pulse",
            },
        )
        assert named_problems(nomap.text, 'id="source-errors"') == [
            "source_id: no source of this site has id '999'"
        ]
    assert snapshot(store) == before
