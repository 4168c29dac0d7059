"""Who sees what (issue 13): every route of ROUTE_ROLES and every dashboard page, sent by a tenant token and
by tokens bound to one site, reads nothing outside the caller's scope.

The world: two sites, Oak Court (meters OAK-M1, OAK-M2; units 1A, 2B) and Elm House (ELM-M3, unit
ELM-3C), four days of 100 Wh quarter-hours on every meter from local midnight of 2024-03-01 (Los
Angeles), validated. Tess Oakley's account occupies 1A for the second day and moves (a transfer) to 2B
from the third; Wes Oakham had 2B for the first two days; Uma Oakes has 1A from the third day; Vic
Elmwood lives at Elm House. Each has a bill; events and alerts of both sites' meters and devices, a
stored network report of each site (10 MDTs at Oak, 77 at Elm), and the app's own network report (55)
and bills provider (Zed Provider) beside them.

The callers: Tess's tenant token, and an operator, a billing and a read-only token bound to Oak Court.
For each route, :data:`PROBES` sends requests naming things in and out of the scope; a role the route
does not allow is 403, and every other answer is the one the probe expects, its body holding none of
the caller's forbidden markers (names, serials, devices and figures of what it may not see). The table is
checked to cover ROUTE_ROLES, so a route added later cannot be left out.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from meshmeter.api import ROUTE_ROLES, Role, Settings, create_app
from meshmeter.store import Store
from tests.api.conftest import ADMIN, ADMIN_TOKEN, TestClient, bearer
from tests.api.test_alerts_routes import _report as _cit_report
from tests.api.test_bills import make_bill
from tests.headend.test_greenbutton import schema

__all__ = ["schema"]  # the ESPI schema, a fixture of the Green Button tests

T0 = datetime(2024, 3, 1, 8, tzinfo=UTC)
"""Local midnight of 2024-03-01 in Los Angeles."""
DAY = timedelta(days=1)


def _report(**changes: Any) -> Any:
    """A CIT report (manual §5.2) of the alerts' tests, every MDT joined (the page lists no unjoined)."""
    return replace(_cit_report(), unjoined=(), **changes)


EUI_OAK_DCAP = bytes.fromhex("00aa00aa00aa0001")
EUI_ELM_DCAP = bytes.fromhex("00ee00ee00ee0002")
EUI_ELM_MDT = bytes.fromhex("00ee00ee00ee0003")

CALLERS = ("tenant", "oak operator", "oak billing", "oak read-only")

SITE_FORBIDDEN = (
    "ELM-M3",
    "Elm House",
    "Vic Elmwood",
    "ELM-3C",
    "Zed Provider",
    EUI_ELM_DCAP.hex(),
    EUI_ELM_MDT.hex(),
    '"mdts":77',
    '"mdts":55',
)
"""What a token bound to Oak Court must never read."""

TENANT_FORBIDDEN = (*SITE_FORBIDDEN, "Uma Oakes", "Wes Oakham", "Oak Court", EUI_OAK_DCAP.hex(), '"mdts":10')
"""What Tess's tenant token must never read."""


@dataclass
class World:
    """The ids of the world, and the store (for probes that need something made afresh)."""

    store: Store
    ids: dict[str, int]
    serial: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __getitem__(self, name: str) -> int:
        return self.ids[name]

    def fresh_unit(self) -> int:
        """A unit of Oak Court on a meter of its own."""
        k = next(self.serial)
        meter = self.store.create_meter(
            serial=f"OAK-F{k}", designation="MM-1", ct_ratio=2000, site_id=self["oak"]
        )
        return self.store.create_unit(site_id=self["oak"], name=f"F{k}", meter_id=meter.id).id


@pytest.fixture
def world(store: Store) -> World:
    oak = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
    elm = store.create_site(name="Elm House", timezone="America/Los_Angeles")
    ids = {"oak": oak.id, "elm": elm.id}
    for serial, site in (("OAK-M1", oak), ("OAK-M2", oak), ("ELM-M3", elm)):
        meter = store.create_meter(serial=serial, designation="MM-1", ct_ratio=2000, site_id=site.id)
        ids[serial] = meter.id
        rows = [(T0 + timedelta(minutes=15 * (i + 1)), 100, 100 * (i + 1)) for i in range(96 * 4)]
        store.insert_raw_intervals(meter_id=meter.id, rows=rows, source="test")
        store.record_vee_run(
            meter_id=meter.id,
            start=T0,
            end=T0 + 4 * DAY,
            batch_watermark=store.ingest_watermark(),
            ran_by="t",
        )
        store.add_register_read(meter_id=meter.id, read_at=T0 + DAY, energy_wh=9600)
        store.add_event(kind="alert.tamper", at=T0 + DAY / 2, meter_id=meter.id, detail={"active": True})
    store.create_mdt(eui64=EUI_ELM_MDT, kit="MMSMT-C02", key=bytes(16), meter_id=ids["ELM-M3"])
    for eui, site in ((EUI_OAK_DCAP, oak), (EUI_ELM_DCAP, elm)):
        store.add_event(kind="install", at=T0, eui64=eui, detail={"device": "dcap", "site": site.name})
    store.add_event(kind="alert.low_battery", at=T0 + DAY, eui64=EUI_ELM_MDT, detail={"active": True})
    store.add_event(
        kind="alert.repeater_power_loss", at=T0 + DAY, eui64=EUI_ELM_DCAP, detail={"active": True}
    )
    store.add_event(
        kind="alert.repeater_power_loss", at=T0 + DAY, eui64=EUI_OAK_DCAP, detail={"active": True}
    )
    store.save_network_report(site=oak.id, report=_report(), taken_at=T0 + DAY)
    store.save_network_report(site=elm.id, report=_report(mdts=77), taken_at=T0 + 2 * DAY)

    u1a = store.create_unit(site_id=oak.id, name="1A", meter_id=ids["OAK-M1"], address="1 Oak Court, Apt 1A")
    u2b = store.create_unit(site_id=oak.id, name="2B", meter_id=ids["OAK-M2"])
    u3c = store.create_unit(site_id=elm.id, name="ELM-3C", meter_id=ids["ELM-M3"])
    ids |= {"1A": u1a.id, "2B": u2b.id, "ELM-3C": u3c.id}
    for name, site, moves in (
        ("Wes Oakham", oak, [("in", u2b, T0), ("out", None, T0 + 2 * DAY), ("close", None, T0 + 2 * DAY)]),
        ("Tess Oakley", oak, [("in", u1a, T0 + DAY), ("transfer", u2b, T0 + 2 * DAY)]),
        ("Uma Oakes", oak, [("in", u1a, T0 + 2 * DAY)]),
        ("Vic Elmwood", elm, [("in", u3c, T0)]),
    ):
        key = name.split()[0].lower()
        tenant = store.create_tenant(name=name)
        account = store.open_account(tenant_id=tenant.id, site_id=site.id, opened_at=T0)
        for what, unit, at in moves:
            if what == "in":
                store.move_in(account_id=account.id, unit_id=unit.id, at=at)
            elif what == "transfer":
                store.transfer(account_id=account.id, unit_id=unit.id, at=at)
            elif what == "out":
                store.move_out(account_id=account.id, at=at)
            else:
                store.close_account(account_id=account.id, at=at)
        meter = {"tess": "OAK-M1", "wes": "OAK-M2", "uma": "OAK-M1", "vic": "ELM-M3"}[key]
        bill, _ = store.save_bill(
            document=make_bill(name, meter).to_dict(),
            site_id=site.id,
            account_id=account.id,
            meter_id=ids[meter],
        )
        ids |= {key: tenant.id, f"{key}_account": account.id, f"{key}_bill": bill.id}
    return World(store, ids)


@pytest.fixture
def tokens(store: Store, world: World) -> dict[str, str]:
    made = {"tenant": store.create_api_token(role="tenant", account_id=world["tess_account"])[1]}
    for role in ("operator", "billing", "read-only"):
        made[f"oak {role}"] = store.create_api_token(role=role, site_ids=[world["oak"]])[1]
    return made


@pytest.fixture
def app_client(store: Store, world: World) -> Iterator[TestClient]:
    provider_report = _report(mdts=55)
    provider_bill = make_bill("Zed Provider", "ELM-M3")
    app = create_app(
        store,
        Settings(admin_token=ADMIN_TOKEN, environment="development", alert_check_s=0),
        network_report=lambda: provider_report,
        bills=lambda: [provider_bill],
    )
    with TestClient(app) as c:
        yield c


# -- the probes --------------------------------------------------------------------------------------------

OK = 200
CREATED = 201


@dataclass(frozen=True)
class Probe:
    """A request and what each kind of caller must get when its role is allowed: ``tenant`` for the
    tenant token, ``site`` for the tokens bound to Oak Court."""

    path: str
    tenant: int = 404
    site: int = OK
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    admin: int | None = None
    """What the admin gets, when not 200 or 201 (a unit of one site on another's meter is 409 to all)."""


ProbeMaker = Callable[[World], list[Probe]]

_DAYS = {"start": "2024-03-01", "end": "2024-03-05"}
_MONTH = {"start": "2024-03-01", "end": "2024-04-01"}


_NOT_LISTED = {"action": "accept", "serial": "none", "interval_end": "2024-03-02T00:00:00Z", "reason": "ok"}
"""An act on the VEE work list of an interval that is not on it."""


def _energy(path: str) -> ProbeMaker:
    params = _MONTH if path.endswith("monthly") else _DAYS
    return lambda w: [
        Probe(path, params={**params, "site_id": w["oak"]}),
        Probe(path, params={**params, "tenant_id": w["tess"]}),
        Probe(path, params={**params, "site_id": w["elm"]}, site=404),
        Probe(path, params={**params, "tenant_id": w["vic"]}, site=404),
    ]


def _move_in(w: World) -> list[Probe]:
    mine = w.store.open_account(tenant_id=w["tess"], site_id=w["oak"])
    return [
        Probe(f"/accounts/{mine.id}/move-in", json={"unit_id": w.fresh_unit(), "at": "2024-03-01"}),
        Probe(
            f"/accounts/{w['vic_account']}/move-in",
            json={"unit_id": w.fresh_unit(), "at": "2024-03-01"},
            site=404,
            admin=409,
        ),
        Probe(
            f"/accounts/{mine.id}/move-in",
            json={"unit_id": w["ELM-3C"], "at": "2024-03-09"},
            site=404,
            admin=409,
        ),
    ]


def _oak_occupying(w: World) -> int:
    account = w.store.open_account(tenant_id=w["tess"], site_id=w["oak"])
    w.store.move_in(account_id=account.id, unit_id=w.fresh_unit(), at=T0)
    return account.id


def _corrected(w: World, bill: str) -> int:
    """The bill, corrected once (its July 2026 intervals are not in the store: the data changed)."""
    from meshmeter.services.corrections import issue_correction

    if not w.store.list_corrections(bill_id=w[bill]):
        issue_correction(w.store, w[bill], by="probe")
    return w[bill]


def _changed_under(w: World, *bills: str) -> list[int]:
    """The bills, after a new edit of one of their meter's July 2026 intervals (a correction to issue)."""
    value = 1000 + next(w.serial)
    for bill in bills:
        meter_id = w.store.get_bill(w[bill]).meter_id
        at = datetime(2026, 7, 10, tzinfo=UTC)
        w.store.put_validated_intervals(meter_id=meter_id, rows=[(at, value, 0)], edited_by="p", reason="p")
    return [w[bill] for bill in bills]


def _issue_probes(w: World) -> list[Probe]:
    uma, vic = _changed_under(w, "uma_bill", "vic_bill")
    return [Probe(f"/bills/{uma}/corrections", site=CREATED), Probe(f"/bills/{vic}/corrections", site=404)]


def _allocation(w: World) -> list[Probe]:
    """Oak Court's house meter (made here, with 50 Wh quarter-hours) shared by floor area among its units
    (each given 800 ft² here); Elm House's unit has no floor area, so the admin is refused there (400)."""
    k = next(w.serial)
    house = w.store.create_meter(
        serial=f"OAK-H{k}", designation="MM-1", ct_ratio=2000, site_id=w["oak"], role="house"
    )
    rows = [(T0 + timedelta(minutes=15 * (i + 1)), 50, 50 * (i + 1)) for i in range(96 * 4)]
    w.store.insert_raw_intervals(meter_id=house.id, rows=rows, source="test")
    w.store.record_vee_run(
        meter_id=house.id, start=T0, end=T0 + 4 * DAY, batch_watermark=w.store.ingest_watermark(), ran_by="t"
    )
    for unit in w.store.units(site_id=w["oak"]):
        w.store.update_unit(unit_id=unit.id, floor_area_ft2=800.0)
    body = {**_DAYS, "by": "area", "what": "house", "rate": "0.20"}
    return [
        Probe(f"/sites/{w['oak']}/allocation", json=body),
        Probe(f"/sites/{w['elm']}/allocation", json=body, site=404, admin=400),
    ]


def _reconciliation(w: World) -> list[Probe]:
    """Oak Court with a master meter (made once); Elm House has none, so the admin is refused there (400)."""
    if not any(m.role == "master" for m in w.store.meters(site_id=w["oak"])):
        w.store.create_meter(
            serial="OAK-MASTER", designation="MM-1", ct_ratio=2000, site_id=w["oak"], role="master"
        )
    return [
        Probe(f"/sites/{w['oak']}/reconciliation", params=_DAYS),
        Probe(f"/sites/{w['elm']}/reconciliation", params=_DAYS, site=404, admin=400),
    ]


def _source_of(w: World, site: str) -> int:
    """A pulse source of the site (made once), mapping nothing."""
    name = f"{site}-pulses"
    found = w.store.get_source(site_id=w[site], name=name)
    if found is None:
        found = w.store.create_source(
            site_id=w[site], name=name, kind="mqtt", format="tasmota_counter", address="mqtt://127.0.0.1:1883"
        )
    return found.id


def _new_sources(w: World) -> list[Probe]:
    def body() -> dict[str, Any]:
        return {
            "name": f"S{next(w.serial)}",
            "kind": "mqtt",
            "format": "tasmota_counter",
            "address": "mqtt://h",
        }

    return [
        Probe(f"/sites/{w['oak']}/sources", json=body(), site=CREATED),
        Probe(f"/sites/{w['elm']}/sources", json=body(), site=404),
    ]


def _new_channels(w: World) -> list[Probe]:
    """A channel of Oak's source to a fresh Oak meter; to Elm's meter (unknown to an Oak token: 400, and
    of another site to the admin: 400); on Elm's source (404 to an Oak token)."""
    k = next(w.serial)
    oak = w.store.create_meter(serial=f"OAK-S{k}", designation="MM-1", ct_ratio=2000, site_id=w["oak"])
    elm = w.store.create_meter(serial=f"ELM-S{k}", designation="MM-1", ct_ratio=2000, site_id=w["elm"])
    spec = {"device": "tasmota", "unit": "pulse", "wh_per_unit": 10}
    return [
        Probe(
            f"/sources/{_source_of(w, 'oak')}/channels",
            json={**spec, "channel": f"C{k}", "meter": oak.serial},
            site=CREATED,
        ),
        Probe(
            f"/sources/{_source_of(w, 'oak')}/channels",
            json={**spec, "channel": "E", "meter": "ELM-M3"},
            site=400,
            admin=400,
        ),
        Probe(
            f"/sources/{_source_of(w, 'elm')}/channels",
            json={**spec, "channel": f"C{k}", "meter": elm.serial},
            site=404,
        ),
    ]


def _account_bills(w: World) -> list[Probe]:
    """Uma's account billed (1A from the third day), Tess's billed and kept (1A, then 2B: two bills); Vic's
    is Elm House's."""
    body = {**_DAYS, "example": "tiered-flat-example"}
    return [
        Probe(f"/accounts/{w['uma_account']}/bills", json=body),
        Probe(f"/accounts/{w['tess_account']}/bills", json={**body, "save": True}),
        Probe(f"/accounts/{w['vic_account']}/bills", json=body, site=404),
    ]


def _fresh_meter(w: World, site: str) -> str:
    """A meter of the site made afresh, serving nothing (a meter's life: install, exchange ...)."""
    k = next(w.serial)
    serial = f"{site.upper()}-L{k}"
    w.store.create_meter(serial=serial, designation="MM-1", ct_ratio=2000, site_id=w[site])
    return serial


PROBES: dict[tuple[str, str], ProbeMaker] = {
    ("GET", "/sites"): lambda w: [Probe("/sites")],
    ("GET", "/sites/{site_id}"): lambda w: [
        Probe(f"/sites/{w['oak']}"),
        Probe(f"/sites/{w['elm']}", site=404),
    ],
    ("GET", "/meters"): lambda w: [
        Probe("/meters"),
        Probe("/meters", params={"site_id": w["elm"]}, site=404),
    ],
    ("GET", "/meters/{serial}"): lambda w: [Probe("/meters/OAK-M1"), Probe("/meters/ELM-M3", site=404)],
    ("GET", "/meters/{serial}/intervals"): lambda w: [
        Probe("/meters/OAK-M1/intervals", tenant=OK, params=_DAYS),
        Probe("/meters/OAK-M2/intervals", tenant=OK, params={**_DAYS, "format": "csv"}),
        Probe("/meters/ELM-M3/intervals", params=_DAYS, site=404),
    ],
    ("GET", "/meters/{serial}/greenbutton"): lambda w: [
        Probe("/meters/OAK-M1/greenbutton", tenant=OK, params=_DAYS),
        Probe("/meters/ELM-M3/greenbutton", params=_DAYS, site=404),
    ],
    ("GET", "/meters/{serial}/register-reads"): lambda w: [
        Probe("/meters/OAK-M1/register-reads"),
        Probe("/meters/ELM-M3/register-reads", site=404),
    ],
    ("GET", "/meters/{serial}/history"): lambda w: [
        Probe("/meters/OAK-M1/history"),
        Probe("/meters/ELM-M3/history", site=404),
    ],
    ("POST", "/meters/{serial}/exchange"): lambda w: [
        Probe(
            f"/meters/{_fresh_meter(w, 'oak')}/exchange",
            json={"new": _fresh_meter(w, "oak"), "at": "2024-03-09", "final_read_wh": 0, "first_read_wh": 0},
            site=CREATED,
        ),
        Probe(
            f"/meters/{_fresh_meter(w, 'elm')}/exchange",
            json={"new": _fresh_meter(w, "elm"), "at": "2024-03-09", "final_read_wh": 0, "first_read_wh": 0},
            site=404,
        ),
    ],
    **{
        ("POST", f"/meters/{{serial}}/{path}"): (
            lambda w, path=path, body=body: [
                Probe(f"/meters/{_fresh_meter(w, 'oak')}/{path}", json=body, site=CREATED),
                Probe(f"/meters/{_fresh_meter(w, 'elm')}/{path}", json=body, site=404),
            ]
        )
        for path, body in (
            ("install", {"at": "2024-03-09", "first_read_wh": 0}),
            ("remove", {"at": "2024-03-09", "final_read_wh": 0}),
            ("multiplier", {"at": "2024-03-09", "value": 2}),
            ("ct-ratio", {"at": "2024-03-09", "value": 4000}),
        )
    },
    ("POST", "/meters"): lambda w: [
        Probe("/meters", json={"serial": f"NEW{next(w.serial)}", "site_id": w["oak"]}, site=CREATED),
        Probe("/meters", json={"serial": f"NEW{next(w.serial)}", "site_id": w["elm"]}, site=404),
    ],
    ("GET", "/units"): lambda w: [Probe("/units"), Probe("/units", params={"site_id": w["elm"]}, site=404)],
    ("POST", "/units"): lambda w: [
        Probe(
            "/units",
            json={"site_id": w["oak"], "name": f"N{next(w.serial)}", "meter": "OAK-M1"},
            site=CREATED,
        ),
        Probe("/units", json={"site_id": w["elm"], "name": "N", "meter": "ELM-M3"}, site=404),
        Probe("/units", json={"site_id": w["oak"], "name": "N", "meter": "ELM-M3"}, site=404, admin=409),
    ],
    ("PATCH", "/units/{unit_id}"): lambda w: [
        Probe(f"/units/{w['1A']}", json={"occupants": 2, "floor_area_ft2": 650.5}),
        Probe(f"/units/{w['ELM-3C']}", json={"occupants": 2}, site=404),
    ],
    ("POST", "/sites/{site_id}/allocation"): _allocation,
    ("GET", "/sites/{site_id}/reconciliation"): _reconciliation,
    ("GET", "/sites/{site_id}/sources"): lambda w: [
        Probe(f"/sites/{w['oak']}/sources"),
        Probe(f"/sites/{w['elm']}/sources", site=404),
    ],
    ("POST", "/sites/{site_id}/sources"): _new_sources,
    ("GET", "/sites/{site_id}/vee/worklist"): lambda w: [
        Probe(f"/sites/{w['oak']}/vee/worklist"),
        Probe(f"/sites/{w['elm']}/vee/worklist", site=404),
    ],
    ("POST", "/sites/{site_id}/vee/worklist/actions"): lambda w: [
        # nothing of the world is on the list: refused (400) where the caller sees the site, else 404
        Probe(f"/sites/{w['oak']}/vee/worklist/actions", json=_NOT_LISTED, site=400, admin=400),
        Probe(f"/sites/{w['elm']}/vee/worklist/actions", json=_NOT_LISTED, site=404, admin=400),
    ],
    ("GET", "/sources/{source_id}"): lambda w: [
        Probe(f"/sources/{_source_of(w, 'oak')}"),
        Probe(f"/sources/{_source_of(w, 'elm')}", site=404),
    ],
    ("PATCH", "/sources/{source_id}"): lambda w: [
        Probe(f"/sources/{_source_of(w, 'oak')}", json={"enabled": True}),
        Probe(f"/sources/{_source_of(w, 'elm')}", json={"enabled": False}, site=404),
    ],
    ("POST", "/sources/{source_id}/channels"): _new_channels,
    ("POST", "/accounts/{account_id}/bills"): _account_bills,
    ("GET", "/tenants"): lambda w: [Probe("/tenants")],
    ("POST", "/tenants"): lambda w: [Probe("/tenants", json={"name": "Newt"}, site=CREATED)],
    ("GET", "/tenants/{tenant_id}"): lambda w: [
        Probe(f"/tenants/{w['uma']}"),
        Probe(f"/tenants/{w['vic']}", site=404),
    ],
    ("GET", "/accounts"): lambda w: [
        Probe("/accounts"),
        Probe("/accounts", params={"site_id": w["elm"]}, site=404),
        Probe("/accounts", params={"meter": "ELM-M3"}, site=404),
        Probe("/accounts", params={"tenant_id": w["vic"]}, site=404),
    ],
    ("POST", "/accounts"): lambda w: [
        Probe("/accounts", json={"tenant_id": w["uma"], "site_id": w["oak"]}, site=CREATED),
        Probe("/accounts", json={"tenant_id": w["vic"], "site_id": w["oak"]}, site=404),
        Probe("/accounts", json={"tenant_id": w["uma"], "site_id": w["elm"]}, site=404),
    ],
    ("GET", "/accounts/{account_id}"): lambda w: [
        Probe(f"/accounts/{w['tess_account']}", tenant=OK),
        Probe(f"/accounts/{w['uma_account']}"),
        Probe(f"/accounts/{w['vic_account']}", site=404),
    ],
    ("GET", "/accounts/{account_id}/history"): lambda w: [
        Probe(f"/accounts/{w['wes_account']}/history"),
        Probe(f"/accounts/{w['vic_account']}/history", site=404),
    ],
    ("POST", "/accounts/{account_id}/move-in"): _move_in,
    ("POST", "/accounts/{account_id}/move-out"): lambda w: [
        Probe(f"/accounts/{_oak_occupying(w)}/move-out", json={"at": "2024-03-03"}),
        Probe(f"/accounts/{w['vic_account']}/move-out", json={"at": "2024-03-03"}, site=404),
    ],
    ("POST", "/accounts/{account_id}/transfer"): lambda w: [
        Probe(
            f"/accounts/{_oak_occupying(w)}/transfer", json={"unit_id": w.fresh_unit(), "at": "2024-03-03"}
        ),
        Probe(
            f"/accounts/{_oak_occupying(w)}/transfer",
            json={"unit_id": w["ELM-3C"], "at": "2024-03-03"},
            site=404,
            admin=409,
        ),
        Probe(
            f"/accounts/{w['vic_account']}/transfer",
            json={"unit_id": w["2B"], "at": "2024-03-09"},
            site=404,
            admin=409,
        ),
    ],
    ("POST", "/accounts/{account_id}/close"): lambda w: [
        Probe(f"/accounts/{w.store.open_account(tenant_id=w['uma'], site_id=w['oak']).id}/close", json={}),
        Probe(f"/accounts/{w['vic_account']}/close", json={}, site=404),
    ],
    ("GET", "/occupancies"): lambda w: [
        Probe("/occupancies"),
        Probe("/occupancies", params={"site_id": w["elm"]}, site=404),
        Probe("/occupancies", params={"account_id": w["vic_account"]}, site=404),
        Probe("/occupancies", params={"meter": "ELM-M3"}, site=404),
    ],
    ("POST", "/meters/{serial}/intervals"): lambda w: [
        Probe(
            "/meters/OAK-M1/intervals",
            json={"intervals": [{"interval_end": "2024-03-09T00:00:00Z", "energy_wh": 5}]},
            params={"vee": True},
            site=CREATED,
        ),
        Probe(
            "/meters/ELM-M3/intervals",
            json={"intervals": [{"interval_end": "2024-03-09T00:00:00Z", "energy_wh": 5}]},
            site=404,
        ),
    ],
    ("POST", "/intervals"): lambda w: [
        Probe(
            "/intervals",
            json=[
                {"meter": "OAK-M2", "intervals": [{"interval_end": "2024-03-09T00:00:00Z", "energy_wh": 5}]}
            ],
            site=CREATED,
        ),
        Probe(
            "/intervals",
            json=[
                {"meter": "OAK-M2", "intervals": [{"interval_end": "2024-03-09T00:15:00Z", "energy_wh": 5}]},
                {"meter": "ELM-M3", "intervals": [{"interval_end": "2024-03-09T00:15:00Z", "energy_wh": 5}]},
            ],
            site=404,
        ),
    ],
    ("GET", "/events"): lambda w: [Probe("/events"), Probe("/events", params={"meter": "ELM-M3"}, site=404)],
    ("GET", "/alerts"): lambda w: [Probe("/alerts"), Probe("/alerts", params={"include_cleared": True})],
    ("GET", "/network/health"): lambda w: [
        Probe("/network/health"),
        Probe("/network/health", params={"site_id": w["oak"]}),
        Probe("/network/health", params={"site_id": w["elm"]}, site=404),
    ],
    ("GET", "/energy/daily"): _energy("/energy/daily"),
    ("GET", "/energy/monthly"): _energy("/energy/monthly"),
    ("GET", "/energy/load-profile"): _energy("/energy/load-profile"),
    ("GET", "/energy/top-consumers"): _energy("/energy/top-consumers"),
    ("GET", "/energy/comparison"): _energy("/energy/comparison"),
    ("GET", "/bills"): lambda w: [
        Probe("/bills", tenant=OK),
        Probe("/bills", params={"site_id": w["elm"]}, site=404),
        Probe("/bills", params={"account": "Vic Elmwood"}, tenant=OK),
    ],
    ("GET", "/bills/{bill_id}"): lambda w: [
        Probe(f"/bills/{w['tess_bill']}", tenant=OK),
        Probe(f"/bills/{w['tess_bill']}", tenant=OK, params={"format": "html"}),
        Probe(f"/bills/{w['uma_bill']}"),
        Probe(f"/bills/{w['vic_bill']}", site=404),
        Probe(f"/bills/{w['vic_bill']}", params={"format": "pdf"}, site=404),
    ],
    ("GET", "/bills/affected"): lambda w: [
        Probe("/bills/affected"),
        Probe("/bills/affected", params={"site_id": w["elm"]}, site=404),
    ],
    ("GET", "/bills/{bill_id}/corrections"): lambda w: [
        Probe(f"/bills/{_corrected(w, 'tess_bill')}/corrections", tenant=OK),
        Probe(f"/bills/{_corrected(w, 'uma_bill')}/corrections"),
        Probe(f"/bills/{_corrected(w, 'vic_bill')}/corrections", site=404),
    ],
    ("POST", "/bills/{bill_id}/corrections"): _issue_probes,
    ("GET", "/bills/{bill_id}/corrections/{sequence}"): lambda w: [
        Probe(f"/bills/{_corrected(w, 'tess_bill')}/corrections/1", tenant=OK),
        Probe(f"/bills/{_corrected(w, 'tess_bill')}/corrections/1", tenant=OK, params={"format": "html"}),
        Probe(f"/bills/{_corrected(w, 'uma_bill')}/corrections/1", params={"format": "pdf"}),
        Probe(f"/bills/{_corrected(w, 'vic_bill')}/corrections/1", site=404),
        Probe(f"/bills/{_corrected(w, 'vic_bill')}/corrections/1", params={"format": "pdf"}, site=404),
    ],
    ("GET", "/meters/{serial}/production"): lambda w: [
        Probe("/meters/OAK-M1/production", params={"month": "2024-03"}),
        Probe("/meters/ELM-M3/production", params={"month": "2024-03"}, site=404),
    ],
    ("GET", "/tokens"): lambda w: [Probe("/tokens")],
    ("POST", "/tokens"): lambda w: [Probe("/tokens", json={"role": "read-only"})],
    ("DELETE", "/tokens/{token_id}"): lambda w: [Probe("/tokens/1")],
    ("GET", "/dashboard"): lambda w: [Probe("/dashboard")],
    ("GET", "/dashboard/network"): lambda w: [
        Probe("/dashboard/network"),
        Probe("/dashboard/network", params={"site_id": w["elm"]}, site=404),
    ],
    ("GET", "/dashboard/meters/{serial}"): lambda w: [
        Probe("/dashboard/meters/OAK-M1"),
        Probe("/dashboard/meters/ELM-M3", site=404),
    ],
    ("POST", "/dashboard/vee"): lambda w: [
        # a form naming no site: 404 to everyone allowed (the API's probes try the acts themselves)
        Probe("/dashboard/vee", site=404, admin=404),
    ],
    ("GET", "/dashboard/vee"): lambda w: [
        Probe("/dashboard/vee"),
        Probe("/dashboard/vee", params={"site_id": w["elm"]}, site=404),
    ],
    ("GET", "/dashboard/sources"): lambda w: [
        Probe("/dashboard/sources", params={"site_id": w["oak"]}),
        Probe("/dashboard/sources", params={"site_id": w["elm"]}, site=404),
    ],
    ("GET", "/dashboard/bills"): lambda w: [
        Probe("/dashboard/bills", tenant=OK),
        Probe("/dashboard/bills", tenant=OK, params={"csv": True}),
        Probe("/dashboard/bills", tenant=OK, params={"bill": 1}),
        Probe(
            "/dashboard/bills", params={"bill": 3}, admin=404
        ),  # Oak: three bills; the admin: the provider's one
    ],
    # a tenant's own pages: the staff are refused (403) before any probe's answer is looked at
    ("GET", "/dashboard/usage"): lambda w: [
        Probe("/dashboard/usage", tenant=OK, admin=403),
        Probe("/dashboard/usage", tenant=OK, params={"scale": "year"}, admin=403),
    ],
    ("GET", "/dashboard/download"): lambda w: [Probe("/dashboard/download", tenant=OK, admin=403)],
    ("GET", "/dashboard/tenants"): lambda w: [
        Probe("/dashboard/tenants", params={"site_id": w["oak"]}),
        Probe("/dashboard/tenants", params={"site_id": w["elm"]}, site=404),
    ],
    ("POST", "/dashboard/tenants"): lambda w: [
        # a form naming no site: 404 to everyone allowed (the API's probes try the acts themselves)
        Probe("/dashboard/tenants", site=404, admin=404),
    ],
    ("GET", "/dashboard/accounts/{account_id}"): lambda w: [
        Probe(f"/dashboard/accounts/{w['tess_account']}"),
        Probe(f"/dashboard/accounts/{w['vic_account']}", site=404),
    ],
    ("GET", "/dashboard/meters"): lambda w: [
        Probe("/dashboard/meters", params={"site_id": w["oak"]}),
        Probe("/dashboard/meters", params={"site_id": w["elm"]}, site=404),
    ],
    # forms naming no site: 404 to everyone allowed (the API's probes try the acts themselves)
    ("POST", "/dashboard/meters"): lambda w: [Probe("/dashboard/meters", site=404, admin=404)],
    ("POST", "/dashboard/meters/{serial}"): lambda w: [
        # no act named: refused (400) to the admin; Elm's meter is no Oak token's (404)
        Probe("/dashboard/meters/ELM-M3", site=404, admin=400),
    ],
    ("POST", "/dashboard/sources"): lambda w: [Probe("/dashboard/sources", site=404, admin=404)],
    ("GET", "/dashboard/tariffs"): lambda w: [
        Probe("/dashboard/tariffs", params={"site_id": w["oak"]}),
        Probe("/dashboard/tariffs", params={"site_id": w["elm"]}, site=404),
    ],
    ("POST", "/dashboard/tariffs"): lambda w: [Probe("/dashboard/tariffs", site=404, admin=404)],
    # no tariff is set in this world: the account's tariff is 404 to all; another site's is 404 first
    ("GET", "/accounts/{account_id}/tariff"): lambda w: [
        Probe(f"/accounts/{w['tess_account']}/tariff", tenant=404, site=404, admin=404),
        Probe(f"/accounts/{w['vic_account']}/tariff", site=404, admin=404),
    ],
    # (Elm's account is closed by the close probe before this one runs for the admin: its site's scope is
    # the GET probe's)
    ("PUT", "/accounts/{account_id}/tariff"): lambda w: [
        Probe(f"/accounts/{w['tess_account']}/tariff", json={"example": "tiered-flat-example"}),
    ],
}


def test_every_route_has_probes() -> None:
    assert set(PROBES) == set(ROUTE_ROLES)


def _role(caller: str) -> Role:
    return Role.TENANT if caller == "tenant" else Role(caller.removeprefix("oak "))


def _leaks(text: str, caller: str) -> list[str]:
    forbidden = TENANT_FORBIDDEN if caller == "tenant" else SITE_FORBIDDEN
    squeezed = re.sub(r"\s+", "", text)
    return [m for m in forbidden if m in text or m in squeezed]


@pytest.mark.parametrize("key", sorted(ROUTE_ROLES))
def test_every_route_keeps_to_the_callers_scope(app_client, world, tokens, key) -> None:
    method, _ = key
    for caller in CALLERS:
        for probe in PROBES[key](world):
            response = app_client.request(
                method, probe.path, params=probe.params, json=probe.json, headers=bearer(tokens[caller])
            )
            where = f"{caller}: {method} {probe.path} {probe.params} {probe.json}"
            if _role(caller) not in ROUTE_ROLES[key]:
                assert response.status_code == 403, f"{where}: {response.status_code} {response.text[:300]}"
                continue
            wanted = probe.tenant if caller == "tenant" else probe.site
            assert response.status_code == wanted, f"{where}: {response.status_code} {response.text[:500]}"
            if wanted in (OK, CREATED):  # (a 404 echoes what the caller named, and says no more)
                body = response.content.decode("utf-8", errors="replace")
                assert not _leaks(body, caller), f"{where}: {_leaks(body, caller)} in {body[:800]}"


def test_every_probe_is_answered_for_the_admin(app_client, world) -> None:
    """The probes name real things: the admin, who sees everything, gets each of them (the out-of-scope
    ones included), so that a 404 to a scoped caller means the scope and nothing else."""
    for (method, _), make in PROBES.items():
        for probe in make(world):
            response = app_client.request(
                method, probe.path, params=probe.params, json=probe.json, headers=ADMIN
            )
            wanted = (200, 201) if probe.admin is None else (probe.admin,)
            assert response.status_code in wanted, f"{method} {probe.path}: {response.text[:300]}"


# -- what a tenant reads, exactly --------------------------------------------------------------------------


def _daily(client: TestClient, serial: str, headers: dict[str, str]) -> list[int | None]:
    params = {**_DAYS, "resolution": "daily", "tz": "America/Los_Angeles"}
    answer = client.get(f"/meters/{serial}/intervals", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return [d["energy_wh"] for d in answer.json()["data"]]


def test_a_tenant_reads_its_intervals_within_its_occupancies_only(app_client, tokens) -> None:
    tess = bearer(tokens["tenant"])
    # 1A (OAK-M1) on the second local day; 2B (OAK-M2) from the third, moved there by a transfer
    assert _daily(app_client, "OAK-M1", ADMIN) == [9600, 9600, 9600, 9600]
    assert _daily(app_client, "OAK-M1", tess) == [None, 9600, None, None]
    assert _daily(app_client, "OAK-M2", tess) == [None, None, 9600, 9600]
    quarter = app_client.get("/meters/OAK-M1/intervals", params=_DAYS, headers=tess).json()["data"]
    filled = [d["interval_end"] for d in quarter if d["energy_wh"] is not None]
    assert len(filled) == 96
    assert (filled[0], filled[-1]) == ("2024-03-02T08:15:00+00:00", "2024-03-03T08:00:00+00:00")


def test_the_read_cache_never_serves_another_scope(app_client, tokens) -> None:
    # The admin's answer is kept; the tenant's same request is made for its scope, and the admin's ETag
    # gives it no 304.
    admin = app_client.get("/meters/OAK-M1/intervals", params=_DAYS, headers=ADMIN)
    tess = bearer(tokens["tenant"])
    mine = app_client.get("/meters/OAK-M1/intervals", params=_DAYS, headers=tess)
    assert mine.json() != admin.json()
    assert mine.headers["etag"] != admin.headers["etag"]
    again = app_client.get(
        "/meters/OAK-M1/intervals", params=_DAYS, headers={**tess, "If-None-Match": admin.headers["etag"]}
    )
    assert again.status_code == 200
    assert again.json() == mine.json()


def test_a_move_out_narrows_what_the_tenant_reads_at_once(app_client, store, world, tokens) -> None:
    tess = bearer(tokens["tenant"])
    assert _daily(app_client, "OAK-M2", tess) == [None, None, 9600, 9600]
    store.move_out(account_id=world["tess_account"], at=T0 + 3 * DAY)
    assert _daily(app_client, "OAK-M2", tess) == [None, None, 9600, None]


def test_a_tenants_green_button_file_holds_its_occupancy_only(app_client, tokens) -> None:
    mine = app_client.get("/meters/OAK-M1/greenbutton", params=_DAYS, headers=bearer(tokens["tenant"]))
    assert mine.status_code == 200, mine.text
    assert mine.headers["content-type"].startswith("application/atom+xml")
    assert "attachment" in mine.headers["content-disposition"]
    assert mine.text.count("<IntervalReading>") == 96
    whole = app_client.get("/meters/OAK-M1/greenbutton", params=_DAYS, headers=ADMIN)
    assert whole.text.count("<IntervalReading>") == 4 * 96


def test_a_tenants_green_button_file_validates_against_the_espi_schema(app_client, tokens, schema) -> None:
    mine = app_client.get("/meters/OAK-M2/greenbutton", params=_DAYS, headers=bearer(tokens["tenant"]))
    assert mine.text.count("<IntervalReading>") == 2 * 96
    schema.validate(mine.content)  # type: ignore[attr-defined]


def test_a_tenant_reads_its_account_and_bills_only(app_client, world, tokens) -> None:
    tess = bearer(tokens["tenant"])
    account = app_client.get(f"/accounts/{world['tess_account']}", headers=tess).json()
    assert account["tenant"] == "Tess Oakley"
    assert [(o["unit"], o["meter"]) for o in account["occupancies"]] == [("1A", "OAK-M1"), ("2B", "OAK-M2")]
    bills = app_client.get("/bills", headers=tess).json()
    assert [b["account"] for b in bills["data"]] == ["Tess Oakley"]
    page = app_client.get("/dashboard/bills", headers=tess)
    assert "Tess Oakley" in page.text


def test_site_bound_lists_hold_their_sites_only(app_client, world, tokens) -> None:
    oak = bearer(tokens["oak operator"])
    assert [s["name"] for s in app_client.get("/sites", headers=oak).json()["data"]] == ["Oak Court"]
    assert [m["serial"] for m in app_client.get("/meters", headers=oak).json()["data"]] == [
        "OAK-M1",
        "OAK-M2",
    ]
    assert {t["name"] for t in app_client.get("/tenants", headers=oak).json()["data"]} == {
        "Tess Oakley",
        "Wes Oakham",
        "Uma Oakes",
    }
    health = app_client.get("/network/health", headers=oak).json()
    assert [m["serial"] for m in health["meters"]] == ["OAK-M1", "OAK-M2"]
    assert health["network"]["mdts"] == 10  # the site's stored report, not the app's own
    alerts = app_client.get("/alerts", headers=oak).json()["data"]
    assert {(a["meter"], a["eui64"]) for a in alerts} == {
        ("OAK-M1", None),
        ("OAK-M2", None),
        (None, EUI_OAK_DCAP.hex()),
    }
    billing = bearer(tokens["oak billing"])
    assert {b["account"] for b in app_client.get("/bills", headers=billing).json()["data"]} == {
        "Tess Oakley",
        "Wes Oakham",
        "Uma Oakes",
    }


def test_a_site_bound_batch_naming_another_sites_meter_stores_nothing(
    app_client, store, world, tokens
) -> None:
    oak = bearer(tokens["oak operator"])
    at = "2024-03-10T00:00:00Z"
    body = [{"meter": m, "intervals": [{"interval_end": at, "energy_wh": 7}]} for m in ("OAK-M1", "ELM-M3")]
    assert app_client.post("/intervals", json=body, headers=oak).status_code == 404
    end = datetime(2024, 3, 10, tzinfo=UTC)
    for serial in ("OAK-M1", "ELM-M3"):
        assert store.raw_intervals(meter_id=world[serial], start=end - DAY, end=end) == []


def test_a_scoped_caller_is_refused_store_methods_it_is_not_offered(store, world) -> None:
    from meshmeter.api.auth import Principal
    from meshmeter.api.scope import ScopedStore

    seen = ScopedStore(store, Principal(Role.OPERATOR, 1, None, frozenset({world["oak"]})))
    with pytest.raises(AttributeError, match="not open to a scoped caller"):
        seen.api_tokens()  # type: ignore[call-arg]
    with pytest.raises(AttributeError, match="not open to a scoped caller"):
        seen.frame_audits()
    assert [m.serial for m in seen.meters()] == ["OAK-M1", "OAK-M2"]


def test_a_tenants_bill_carries_its_occupancys_intervals_only(app_client, store, world, tokens) -> None:
    """A bill keeps the meter's intervals of its whole period, to be billed again exactly; Tess moved into
    1A a day into this bill's period and out of it a day later: her JSON bill holds that day's only."""
    import numpy as np

    from meshmeter.billing import Tenant, bill_meter, example_tariff

    n = 4 * 96
    ends = int(T0.timestamp()) + 900 * np.arange(1, n + 1, dtype=np.int64)
    bill = bill_meter(
        example_tariff("tiered-flat-example"),
        ends,
        np.full(n, 100, dtype=np.int64),
        start=T0,
        end=T0 + 4 * DAY,
        timezone="America/Los_Angeles",
        meter="OAK-M1",
        tenant=Tenant("Tess Oakley", T0 + DAY, T0 + 2 * DAY),
    )
    stored, _ = store.save_bill(
        document=bill.to_dict(),
        site_id=world["oak"],
        account_id=world["tess_account"],
        meter_id=world["OAK-M1"],
    )
    mine = app_client.get(f"/bills/{stored.id}", headers=bearer(tokens["tenant"])).json()
    kept = mine["inputs"]["intervals"]["interval_end_s"]
    assert len(kept) == 96
    assert (kept[0], kept[-1]) == (int((T0 + DAY).timestamp()) + 900, int((T0 + 2 * DAY).timestamp()))
    whole = app_client.get(f"/bills/{stored.id}", headers=ADMIN).json()
    assert len(whole["inputs"]["intervals"]["interval_end_s"]) == n
    assert mine["total"] == whole["total"]
    # its printable forms are made again from the whole inputs, and print totals
    pdf = app_client.get(f"/bills/{stored.id}", params={"format": "pdf"}, headers=bearer(tokens["tenant"]))
    assert pdf.status_code == 200


def test_a_site_bound_operator_names_its_sites_tenants_or_fresh_ones(app_client, world, tokens) -> None:
    oak = bearer(tokens["oak operator"])
    newt = app_client.post("/tenants", json={"name": "Newt"}, headers=oak).json()
    # a tenant just made holds no account anywhere: the operator may open one for it at its site
    opened = app_client.post(
        "/accounts", json={"tenant_id": newt["id"], "site_id": world["oak"]}, headers=oak
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["tenant"] == "Newt"
    # a tenant of another owner's site is not named to it
    refused = app_client.post(
        "/accounts", json={"tenant_id": world["vic"], "site_id": world["oak"]}, headers=oak
    )
    assert refused.status_code == 404
    assert refused.json()["problems"] == [f"tenant_id {world['vic']} is not a known tenant"]


def test_a_tenant_signs_in_to_its_bills(app_client, tokens) -> None:
    answer = app_client.post("/dashboard/login", data={"token": tokens["tenant"]}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/bills"
    page = app_client.get("/dashboard/bills")
    assert page.status_code == 200
    assert "Tess Oakley" in page.text
    assert not _leaks(page.text, "tenant")
    assert 'href="/dashboard/vee"' not in page.text  # the navigation offers the bills only
    assert app_client.get("/dashboard", headers={"Accept": "text/html"}).status_code == 403
