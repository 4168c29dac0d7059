"""Bearer tokens and roles: 401 without a valid token, 403 for a role not allowed, on every route."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from meshmeter.api import ROUTE_ROLES
from meshmeter.api.problems import PROBLEM_JSON
from meshmeter.store import Store
from tests.api.conftest import ADMIN, T0, bearer

Request = tuple[str, dict[str, object]]
_n = itertools.count(1)


def _fresh_unit(store: Store) -> int:
    """A unit of site 1 on a meter of its own (no occupancy shares its meter)."""
    k = next(_n)
    meter = store.create_meter(serial=f"FRESH{k}", designation="MM-1", ct_ratio=2000, site_id=1)
    return store.create_unit(site_id=1, name=f"F{k}", meter_id=meter.id).id


def _occupying(store: Store) -> int:
    """An account of site 1 in a unit of its own since T0."""
    account = store.open_account(tenant_id=1, site_id=1)
    store.move_in(account_id=account.id, unit_id=_fresh_unit(store), at=T0)
    return account.id


def _with_tariff(store: Store) -> int:
    """An account of site 1 with a tariff set (the example's tiered flat rate)."""
    from meshmeter.services.account_tariffs import set_tariff

    account_id = _occupying(store)
    set_tariff(store, account_id=account_id, example="tiered-flat-example", by="test")
    return account_id


def _move_in(store: Store) -> Request:
    account = store.open_account(tenant_id=1, site_id=1)
    return f"/accounts/{account.id}/move-in", {"json": {"unit_id": _fresh_unit(store), "at": "2024-03-01"}}


def _move_out(store: Store) -> Request:
    return f"/accounts/{_occupying(store)}/move-out", {"json": {"at": "2024-03-05"}}


def _transfer(store: Store) -> Request:
    account_id = _occupying(store)
    return f"/accounts/{account_id}/transfer", {"json": {"unit_id": _fresh_unit(store), "at": "2024-03-05"}}


def _close(store: Store) -> Request:
    account = store.open_account(tenant_id=1, site_id=1, opened_at=T0)
    return f"/accounts/{account.id}/close", {"json": {"at": "2024-03-05"}}


def _unit(store: Store) -> Request:
    return "/units", {"json": {"site_id": 1, "name": f"N{next(_n)}", "meter": "M1", "address": "1 Oak Ct"}}


def _changed_bill(store: Store) -> Request:
    """Bill 1 (July 2026, meter M1) after a new edit of one of its intervals: a correction to issue."""
    at = datetime(2026, 7, 10, tzinfo=UTC)
    store.put_validated_intervals(meter_id=1, rows=[(at, 1000 + next(_n), 0)], edited_by="t", reason="t")
    return "/bills/1/corrections", {}


def _corrected_bill(store: Store) -> Request:
    """Bill 1 with a correction issued (its July 2026 intervals are not stored: its data changed)."""
    from meshmeter.services.corrections import issue_correction

    if not store.list_corrections(bill_id=1):
        issue_correction(store, 1)
    return "/bills/1/corrections/1", {"params": {"format": "html"}}


def _fresh_meter(store: Store) -> str:
    """A meter of site 1 made afresh, serving nothing (a meter's life: install, exchange ...)."""
    serial = f"LIFE{next(_n)}"
    store.create_meter(serial=serial, designation="MM-1", ct_ratio=2000, site_id=1)
    return serial


def _meter_life(path: str, body: dict[str, object]) -> Callable[[Store], Request]:
    def made(store: Store) -> Request:
        return f"/meters/{_fresh_meter(store)}/{path}", {"json": body}

    return made


def _exchange(store: Store) -> Request:
    body = {"new": _fresh_meter(store), "at": "2024-03-09", "final_read_wh": 0, "first_read_wh": 0}
    return f"/meters/{_fresh_meter(store)}/exchange", {"json": body}


def _allocation(store: Store) -> Request:
    """Site 1's house meter (made once, 40 Wh quarter-hours on 2024-03-11, validated) shared by floor area
    between its units (each 800 ft²) in a day when Tess is in 2A."""
    day = datetime(2024, 3, 11, 7, tzinfo=UTC)
    if store.get_meter(serial="HOUSE") is None:
        house = store.create_meter(serial="HOUSE", designation="MM-1", ct_ratio=2000, site_id=1, role="house")
        rows = [(day + timedelta(minutes=15 * (i + 1)), 40, 40 * (i + 1)) for i in range(96)]
        store.insert_raw_intervals(meter_id=house.id, rows=rows, source="test")
        store.record_vee_run(
            meter_id=house.id,
            start=day,
            end=day + timedelta(days=1),
            batch_watermark=store.ingest_watermark(),
            ran_by="t",
        )
    for unit in store.units(site_id=1):
        store.update_unit(unit_id=unit.id, floor_area_ft2=800.0)
    body = {"start": "2024-03-11", "end": "2024-03-12", "by": "area", "what": "house", "rate": "0.20"}
    return "/sites/1/allocation", {"json": body}


def _reconciliation(store: Store) -> Request:
    """Site 1 with a master meter (made once, no intervals: every interval missing, reconciled none)."""
    if store.get_meter(serial="MASTER") is None:
        store.create_meter(serial="MASTER", designation="MM-1", ct_ratio=2000, site_id=1, role="master")
    return "/sites/1/reconciliation", {"params": {"start": "2024-03-01", "end": "2024-03-02"}}


def _a_source(store: Store) -> int:
    """An MQTT pulse source of site 1 (made once), mapping nothing."""
    found = store.get_source(site_id=1, name="auth-pulses")
    if found is None:
        found = store.create_source(
            site_id=1,
            name="auth-pulses",
            kind="mqtt",
            format="tasmota_counter",
            address="mqtt://127.0.0.1:1883",
        )
    return found.id


def _new_multiplier(k: int) -> Request:
    """A multiplier change of M1 from the dashboard's meter page, later and other than the one before."""
    at = (T0 + timedelta(days=40, minutes=15 * k)).isoformat()
    return "/dashboard/meters/M1", {"data": {"action": "multiplier", "at": at, "value": str(k + 1)}}


def _new_source(store: Store) -> Request:
    body = {
        "name": f"S{next(_n)}",
        "kind": "mqtt",
        "format": "tasmota_counter",
        "address": "mqtt://127.0.0.1",
    }
    return "/sites/1/sources", {"json": body}


def _new_channel(store: Store) -> Request:
    body = {"device": "tasmota", "channel": f"C{next(_n)}", "meter": _fresh_meter(store), "unit": "pulse"}
    return f"/sources/{_a_source(store)}/channels", {"json": {**body, "wh_per_unit": 10}}


def _account_bill(store: Store) -> Request:
    """An account in a unit of meter M1 since T0 (made once), M1's three days validated, billed at the
    example tiered tariff."""
    found = [u for u in store.units(site_id=1) if u.name == "M1-unit"]
    if not found:
        unit = store.create_unit(site_id=1, name="M1-unit", meter_id=1)
        account = store.open_account(tenant_id=1, site_id=1, opened_at=T0)
        store.move_in(account_id=account.id, unit_id=unit.id, at=T0)
        store.record_vee_run(
            meter_id=1,
            start=T0,
            end=T0 + timedelta(days=3),
            batch_watermark=store.ingest_watermark(),
            ran_by="t",
        )
    (tenure,) = [o for o in store.occupancies(meter_id=1) if o.unit == "M1-unit"]
    body = {"start": "2024-03-01", "end": "2024-03-04", "example": "tiered-flat-example"}
    return f"/accounts/{tenure.account_id}/bills", {"json": body}


# A request for each entry of ROUTE_ROLES that succeeds for an allowed role (with site_data); a function
# makes a request afresh for each caller, with what it needs stored (a write cannot be made twice).
REQUESTS: dict[tuple[str, str], Request | Callable[[Store], Request]] = {
    ("GET", "/sites"): ("/sites", {}),
    ("GET", "/sites/{site_id}"): ("/sites/1", {}),
    ("GET", "/meters"): ("/meters", {}),
    ("GET", "/meters/{serial}"): ("/meters/M1", {}),
    ("GET", "/meters/{serial}/intervals"): (
        "/meters/M1/intervals",
        {"params": {"start": "2024-03-01T08:00Z", "end": "2024-03-01T09:00Z"}},
    ),
    ("GET", "/meters/{serial}/greenbutton"): (
        "/meters/M1/greenbutton",
        {"params": {"start": "2024-03-01", "end": "2024-03-02"}},
    ),
    ("GET", "/meters/{serial}/register-reads"): ("/meters/M1/register-reads", {}),
    ("GET", "/meters/{serial}/history"): ("/meters/M1/history", {}),
    ("POST", "/meters/{serial}/exchange"): _exchange,
    ("POST", "/meters/{serial}/install"): _meter_life("install", {"at": "2024-03-09", "first_read_wh": 0}),
    ("POST", "/meters/{serial}/remove"): _meter_life("remove", {"at": "2024-03-09", "final_read_wh": 0}),
    ("POST", "/meters/{serial}/multiplier"): _meter_life("multiplier", {"at": "2024-03-09", "value": 2}),
    ("POST", "/meters/{serial}/ct-ratio"): _meter_life("ct-ratio", {"at": "2024-03-09", "value": 4000}),
    ("PATCH", "/units/{unit_id}"): lambda store: (
        f"/units/{store.units()[0].id}",
        {"json": {"occupants": 2}},
    ),
    ("POST", "/sites/{site_id}/allocation"): _allocation,
    ("GET", "/sites/{site_id}/reconciliation"): _reconciliation,
    ("GET", "/sites/{site_id}/sources"): ("/sites/1/sources", {}),
    ("GET", "/sites/{site_id}/vee/worklist"): ("/sites/1/vee/worklist", {}),
    ("POST", "/sites/{site_id}/vee/worklist/actions"): lambda store: _flagged_reread(store),
    ("POST", "/sites/{site_id}/sources"): _new_source,
    ("GET", "/sources/{source_id}"): lambda store: (f"/sources/{_a_source(store)}", {}),
    ("PATCH", "/sources/{source_id}"): lambda store: (
        f"/sources/{_a_source(store)}",
        {"json": {"enabled": True}},
    ),
    ("POST", "/sources/{source_id}/channels"): _new_channel,
    ("POST", "/accounts/{account_id}/bills"): _account_bill,
    ("GET", "/units"): ("/units", {"params": {"site_id": 1}}),
    ("POST", "/units"): _unit,
    ("POST", "/meters"): lambda store: ("/meters", {"json": {"serial": f"NEW{next(_n)}", "site_id": 1}}),
    ("GET", "/tenants"): ("/tenants", {}),
    ("POST", "/tenants"): ("/tenants", {"json": {"name": "Uma"}}),
    ("GET", "/tenants/{tenant_id}"): ("/tenants/1", {}),
    ("GET", "/accounts"): ("/accounts", {"params": {"meter": "M1"}}),
    ("POST", "/accounts"): ("/accounts", {"json": {"tenant_id": 1, "site_id": 1}}),
    ("GET", "/accounts/{account_id}"): ("/accounts/1", {}),
    ("GET", "/accounts/{account_id}/history"): ("/accounts/1/history", {}),
    ("POST", "/accounts/{account_id}/move-in"): _move_in,
    ("POST", "/accounts/{account_id}/move-out"): _move_out,
    ("POST", "/accounts/{account_id}/transfer"): _transfer,
    ("POST", "/accounts/{account_id}/close"): _close,
    ("GET", "/occupancies"): ("/occupancies", {"params": {"current": True}}),
    ("POST", "/meters/{serial}/intervals"): (
        "/meters/M1/intervals",
        {"json": {"intervals": [{"interval_end": "2024-03-05T00:00:00Z", "energy_wh": 5}]}},
    ),
    ("POST", "/intervals"): (
        "/intervals",
        {"json": [{"meter": "M2", "intervals": [{"interval_end": "2024-03-05T00:00:00Z", "energy_wh": 5}]}]},
    ),
    ("GET", "/events"): ("/events", {}),
    ("GET", "/alerts"): ("/alerts", {}),
    ("GET", "/network/health"): ("/network/health", {}),
    ("GET", "/energy/daily"): (
        "/energy/daily",
        {"params": {"site_id": 1, "start": "2024-03-01", "end": "2024-03-04"}},
    ),
    ("GET", "/energy/monthly"): (
        "/energy/monthly",
        {"params": {"site_id": 1, "start": "2024-03-01", "end": "2024-04-01"}},
    ),
    ("GET", "/energy/load-profile"): (
        "/energy/load-profile",
        {"params": {"site_id": 1, "start": "2024-03-01", "end": "2024-03-04"}},
    ),
    ("GET", "/energy/top-consumers"): (
        "/energy/top-consumers",
        {"params": {"site_id": 1, "start": "2024-03-01", "end": "2024-03-04"}},
    ),
    ("GET", "/energy/comparison"): (
        "/energy/comparison",
        {"params": {"site_id": 1, "start": "2024-03-02", "end": "2024-03-04"}},
    ),
    ("GET", "/bills"): ("/bills", {}),
    ("GET", "/bills/{bill_id}"): ("/bills/1", {"params": {"format": "csv"}}),
    ("GET", "/bills/affected"): ("/bills/affected", {"params": {"site_id": 1}}),
    ("GET", "/bills/{bill_id}/corrections"): ("/bills/1/corrections", {}),
    ("POST", "/bills/{bill_id}/corrections"): _changed_bill,
    ("GET", "/bills/{bill_id}/corrections/{sequence}"): _corrected_bill,
    ("GET", "/meters/{serial}/production"): ("/meters/M1/production", {"params": {"month": "2024-03"}}),
    ("GET", "/tokens"): ("/tokens", {}),
    ("POST", "/tokens"): ("/tokens", {"json": {"role": "read-only"}}),
    ("DELETE", "/tokens/{token_id}"): ("/tokens/1", {}),
    ("GET", "/dashboard"): ("/dashboard", {}),
    ("GET", "/dashboard/network"): ("/dashboard/network", {}),
    ("GET", "/dashboard/meters/{serial}"): ("/dashboard/meters/M1", {}),
    ("GET", "/dashboard/vee"): ("/dashboard/vee", {}),
    ("POST", "/dashboard/vee"): lambda store: (
        "/dashboard/vee",
        {"data": {**_flagged_reread(store)[1]["json"], "site_id": "1"}},
    ),
    ("GET", "/dashboard/bills"): ("/dashboard/bills", {}),
    ("GET", "/dashboard/sources"): ("/dashboard/sources", {"params": {"site_id": 1}}),
    ("GET", "/dashboard/meters"): ("/dashboard/meters", {"params": {"site_id": 1}}),
    ("POST", "/dashboard/meters"): lambda store: (
        "/dashboard/meters",
        {"data": {"site_id": "1", "serial": f"DASH{next(_n)}", "designation": "MM-D1202001-T-SCC"}},
    ),
    ("POST", "/dashboard/meters/{serial}"): lambda store: _new_multiplier(next(_n)),
    ("POST", "/dashboard/sources"): lambda store: (
        "/dashboard/sources",
        {"data": {**_new_source(store)[1]["json"], "site_id": "1", "action": "add"}},
    ),
    ("GET", "/dashboard/usage"): ("/dashboard/usage", {}),
    ("GET", "/dashboard/download"): ("/dashboard/download", {}),
    ("GET", "/dashboard/tenants"): ("/dashboard/tenants", {"params": {"site_id": 1}}),
    ("POST", "/dashboard/tenants"): (
        "/dashboard/tenants",
        {"data": {"site_id": "1", "action": "new_tenant", "name": "Uma", "back": "/dashboard/tenants"}},
    ),
    ("GET", "/dashboard/accounts/{account_id}"): ("/dashboard/accounts/1", {}),
    ("GET", "/dashboard/tariffs"): ("/dashboard/tariffs", {"params": {"site_id": 1}}),
    ("POST", "/dashboard/tariffs"): lambda store: (
        "/dashboard/tariffs",
        {
            "data": {
                "site_id": "1",
                f"account_{_occupying(store)}": "on",
                "source": "example",
                "example": "tiered-flat-example",
                "back": "/dashboard/tariffs",
            }
        },
    ),
    ("GET", "/accounts/{account_id}/tariff"): lambda store: (
        f"/accounts/{_with_tariff(store)}/tariff",
        {},
    ),
    ("PUT", "/accounts/{account_id}/tariff"): lambda store: (
        f"/accounts/{_occupying(store)}/tariff",
        {"json": {"example": "tiered-flat-example"}},
    ),
}


@pytest.fixture
def site_data(site_data, store):
    """The shared site data, and bill 1 of its meter M1 (for ``GET /bills/{bill_id}``)."""
    from tests.api.test_bills import make_bill

    store.save_bill(document=make_bill().to_dict(), site_id=site_data["la"], meter_id=site_data["m1"])
    return site_data


def test_every_route_has_a_request_here():
    assert set(REQUESTS) == set(ROUTE_ROLES)


def _assert_problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    return body


def _flagged_reread(store: Store) -> Request:
    """A re-read of an interval of M1 that VEE flagged: allowed again and again, so each role may ask."""
    end = T0 + timedelta(hours=1)
    meter = store.get_meter(serial="M1")
    store.put_validated_intervals(
        meter_id=meter.id, rows=[(end, 100, 10)], edited_by="vee", reason="vee: questionable: spike"
    )
    body = {"action": "reread", "serial": "M1", "interval_end": end.isoformat(), "reason": "looks odd"}
    return "/sites/1/vee/worklist/actions", {"json": body}


def request_for(key: tuple[str, str], store: Store) -> Request:
    """The request of :data:`REQUESTS` for ``key``, made afresh when it is a function."""
    made = REQUESTS[key]
    return made(store) if callable(made) else made


@pytest.mark.parametrize("key", sorted(ROUTE_ROLES))
def test_roles_on_every_route(client, store, tokens, site_data, key):
    for role, token in tokens.items():
        path, kwargs = request_for(key, store)
        response = client.request(key[0], path, headers=bearer(token), **kwargs)
        if role in ROUTE_ROLES[key]:
            assert response.status_code in (200, 201), (role, response.text)
        else:
            body = _assert_problem(response, 403)
            assert repr(role) in body["detail"]


@pytest.mark.parametrize("key", sorted(ROUTE_ROLES))
def test_no_token_is_401_on_every_route(client, store, site_data, key):
    path, kwargs = request_for(key, store)
    response = client.request(key[0], path, **kwargs)
    body = _assert_problem(response, 401)
    assert body["instance"] == path
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "mm_abc", "Bearer mm_not-a-token", f"Token {'a' * 40}"],
)
def test_bad_authorization_is_401(client, header):
    _assert_problem(client.get("/sites", headers={"Authorization": header}), 401)


def test_bootstrap_admin_token_is_admin(client):
    assert client.get("/tokens", headers=ADMIN).status_code == 200


def test_revoked_token_is_401(client, store, tokens):
    token = tokens["read-only"]
    assert client.get("/sites", headers=bearer(token)).status_code == 200
    stored = store.find_api_token(token=token)
    store.revoke_api_token(token_id=stored.id)
    _assert_problem(client.get("/sites", headers=bearer(token)), 401)


def test_auth_is_checked_before_the_parameters(client):
    # No token and a bad parameter: 401, not 422 (nothing is said to a caller who is not known).
    response = client.get("/meters/M1/intervals", params={"resolution": "weekly"})
    _assert_problem(response, 401)


def test_a_route_without_roles_is_refused_at_start():
    """check_route_table refuses an app with a route missing from ROUTE_ROLES, though it skips tables it
    has checked already (the OpenAPI document it builds is costly)."""
    from meshmeter.api import Settings, create_app
    from meshmeter.api.auth import check_route_table
    from meshmeter.store import Store

    app = create_app(Store("sqlite:///:memory:"), Settings(environment="development"))
    check_route_table(app)  # the app's own table: checked, and agreeing

    @app.get("/not-in-the-table")
    def extra() -> dict[str, str]:
        return {}

    with pytest.raises(
        RuntimeError, match=r"routes without an entry in ROUTE_ROLES: \[\('GET', '/not-in-the-table'\)\]"
    ):
        check_route_table(app)
