"""The overview by names (issue 15): units and tenants first, the meters that need attention with what to do,
consumption and production apart, last year's month, and the tenants' charges at their bills' tariff.

The demo building (``tests.dashboard.tenant_world``), then, as it happens on a real site, three more hours of
readings arrive for every meter but unit 107's (its MDT went quiet) and the DCAP reports unit 108's cover
opened; the pages are read through the app with a token of each role.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from meshmeter.api import Settings, create_app
from meshmeter.headend.alerts import AlertKind, raise_alert
from meshmeter.store import Store
from tests.dashboard.conftest import ADMIN_TOKEN
from tests.dashboard.tenant_world import DAYS, START, World, build_world

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

END = START + timedelta(days=DAYS)
"""The demo's last interval: 2026-03-09 08:00 UTC, 01:00 PDT."""
LATER_H = 3
"""Hours of readings sent after the demo for every meter but unit 107's."""
TAMPER_AT = END + timedelta(hours=1, minutes=20)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, World, TestClient]]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('overview') / 'demo.sqlite'}")
    try:
        world = build_world(store)
        app = create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))
        with TestClient(app) as client:
            rows = ["meter,interval_end,energy_wh"]
            for meter in store.meters():  # the units', the house's and the solar meter
                serial = meter.serial
                if serial == world.serials["107"]:
                    continue
                for k in range(1, 4 * LATER_H + 1):
                    rows.append(f"{serial},{(END + timedelta(minutes=15 * k)).isoformat()},120")
            sent = client.post(
                "/intervals",
                content="\n".join(rows) + "\n",
                headers={**_bearer(world.tokens["operator"]), "Content-Type": "text/csv"},
            )
            assert sent.status_code == 201, sent.text
            meter_108 = store.get_meter(serial=world.serials["108"])
            assert meter_108 is not None
            raise_alert(store, AlertKind.TAMPER, at=TAMPER_AT, meter_id=meter_108.id, eui64=None)
            yield store, world, client
    finally:
        store.close()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip().replace(" :", ":")


def _between(html: str, start: str, end: str) -> str:
    i = html.index(start)
    return html[i : html.index(end, i)]


def _row(table: str, serial: str) -> str:
    """The words of a meter's row, after its opening tag."""
    return _text(_between(table, f'<tr data-serial="{serial}"', "</tr>").split(">", 1)[1])


def _attention(html: str) -> list[tuple[str, str]]:
    """(serial, text) of each meter on the attention list, in order."""
    block = _between(html, '<ul class="attention"', "<h3>Energy")
    return [
        (serial, _text(body))
        for serial, body in re.findall(r'<li data-serial="([^"]+)"[^>]*>(.*?)</ul>\s*</li>', block, re.S)
    ]


def test_meters_are_named_by_unit_and_tenant_first(world: tuple[Store, World, TestClient]) -> None:
    _store, w, client = world
    page = client.get("/dashboard", headers=_bearer(ADMIN_TOKEN)).text
    table = _between(page, '<table class="meters cards">', "</table>")
    row = _row(table, w.serials["101"])
    assert row.startswith(f"Unit 101 Alvarez household (1001) · {w.serials['101']}"), row
    # the tenant of unit 102 is the one living there now, not the one who left
    row = _row(table, w.serials["102"])
    assert row.startswith("Unit 102 Newman household"), row
    assert "Baker household" not in table
    # every meter is a row, its name a link to its page; the serial one line below, never first
    names = re.findall(r'<th scope="row"><a href="/dashboard/meters/([^"]+)">([^<]+)</a>', table)
    assert len(names) == 26
    assert all(not label.startswith("MM") for _, label in names)
    labels = [label for _, label in names]
    assert labels.count("HOUSE") == labels.count("Production meter") == 1  # the house's unit, the solar meter


def test_attention_lists_the_silent_then_the_tampered_meter_with_what_to_do(
    world: tuple[Store, World, TestClient],
) -> None:
    _store, w, client = world
    for role in ("operator", "read-only"):
        page = client.get("/dashboard", headers=_bearer(w.tokens[role])).text
        listed = _attention(page)
        serials = [s for s, _ in listed]
        assert serials[:2] == [w.serials["107"], w.serials["108"]], listed
        silent, tampered = listed[0][1], listed[1][1]
        # 01:00 PDT: its last interval, on the day of the site's latest (04:00 PDT)
        assert silent.startswith("Unit 107 Garcia household (1007)"), silent
        assert "Not reporting since 01:00: check the MDT's power and the radio path (CIT)" in silent
        assert tampered.startswith("Unit 108 Huang household (1008)"), tampered
        assert (
            "Enclosure cover opened (tamper switch) since 02:20: inspect the meter and its seals" in tampered
        )
        # the others that still report are not said to be silent
        assert sum("Not reporting" in text for _, text in listed) == 1
        assert 'href="/dashboard/network?site_id=' in page


def test_energy_apart_and_last_year_without_data(world: tuple[Store, World, TestClient]) -> None:
    _store, _w, client = world
    page = client.get("/dashboard", headers=_bearer(ADMIN_TOKEN)).text
    energy = _text(_between(page, '<table class="energy cards">', "</table>"))
    assert "March 2025" in energy
    assert re.search(r"Consumed [\d,.]+ [\d,.]+ no data", energy), energy
    assert re.search(r"Produced [\d,.]+ [\d,.]+ no data", energy), energy


def test_charges_at_the_tariff_of_each_accounts_bill(world: tuple[Store, World, TestClient]) -> None:
    store, w, client = world
    page = client.get("/dashboard", headers=_bearer(ADMIN_TOKEN)).text
    cost = _text(_between(page, 'class="cost"', "</p>").split(">", 1)[1])
    accounts = {a.number for a in store.accounts()}
    billed = {b.account_id for b in store.list_bills()}
    unbilled = sorted(a.number for a in store.accounts() if a.id not in billed)
    assert unbilled == ["1026"]  # the Newman household moved in after the demo's bills
    match = re.search(r"([\d,]+\.\d\d) USD so far, (\d+) accounts", cost)
    assert match is not None, cost
    assert float(match.group(1).replace(",", "")) > 0
    assert int(match.group(2)) == len(accounts) - 1
    assert "no tariff set for account 1026" in cost
    # money is for the roles that see bills: not the read-only monitor
    seen = client.get("/dashboard", headers=_bearer(w.tokens["read-only"])).text
    assert "Tenants' charges" not in seen
    assert "USD" not in seen


def test_a_site_with_no_bill_says_no_tariff() -> None:
    store = Store("sqlite://")
    try:
        site = store.create_site(name="Elm Row", timezone="America/New_York")
        meter = store.create_meter(
            serial="EL000001", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id
        )
        unit = store.create_unit(site_id=site.id, name="1A", meter_id=meter.id)
        tenant = store.create_tenant(name="Ortiz household")
        opened = datetime(2026, 1, 1, 5, tzinfo=UTC)
        account = store.open_account(tenant_id=tenant.id, site_id=site.id, opened_at=opened)
        store.move_in(account_id=account.id, unit_id=unit.id, at=opened)
        app = create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))
        with TestClient(app) as client:
            rows = ["interval_end,energy_wh"] + [
                f"{(opened + timedelta(minutes=15 * k)).isoformat()},200" for k in range(1, 9)
            ]
            sent = client.post(
                "/meters/EL000001/intervals",
                content="\n".join(rows) + "\n",
                headers={**_bearer(ADMIN_TOKEN), "Content-Type": "text/csv"},
            )
            assert sent.status_code == 201, sent.text
            page = client.get("/dashboard", headers=_bearer(ADMIN_TOKEN)).text
        assert "Unit 1A" in page
        assert "Ortiz household" in page
        cost = _text(_between(page, 'class="cost"', "</p>").split(">", 1)[1])
        assert cost.startswith("no tariff set"), cost
        assert "USD" not in cost
    finally:
        store.close()


def test_the_overview_refuses_what_it_does_not_take(world: tuple[Store, World, TestClient]) -> None:
    _store, w, client = world
    assert client.get("/dashboard").status_code == 401
    for role in ("billing", "tenant"):
        assert client.get("/dashboard", headers=_bearer(w.tokens[role])).status_code == 403


def test_a_tenant_is_one_click_from_their_account(world: tuple[Store, World, TestClient]) -> None:
    """The occupant beside each meter (overview, meters, VEE and network pages, the meter page and its
    tenants' history) links to the account's page, for the roles that may open it; the read-only monitor
    sees the same names as text, never a link it would be refused."""
    store, w, client = world
    (alvarez,) = [a for a in store.accounts() if a.number == "1001"]
    link = f'href="/dashboard/accounts/{alvarez.id}"'
    meter = f"/dashboard/meters/{w.serials['101']}"
    site = store.accounts()[0].site_id
    pages = ("/dashboard", "/dashboard/meters", meter, f"/dashboard/network?site_id={site}")
    for role in ("operator", "billing"):
        for path in pages:
            page = client.get(path, headers=_bearer(w.tokens[role]))
            if page.status_code == 403:  # billing opens neither the overview nor the meters
                continue
            assert link in page.text, (role, path)
        opened = client.get(f"/dashboard/accounts/{alvarez.id}", headers=_bearer(w.tokens[role]))
        assert opened.status_code == 200
        assert "Alvarez household" in opened.text
    overview = client.get("/dashboard", headers=_bearer(ADMIN_TOKEN)).text
    row = _row(_between(overview, '<table class="meters', "</table>"), w.serials["101"])
    assert row.startswith(f"Unit 101 Alvarez household (1001) · {w.serials['101']}"), row  # words unchanged
    history = _between(client.get(meter, headers=_bearer(ADMIN_TOKEN)).text, 'id="tenures"', "</ul>")
    assert f'<a href="/dashboard/accounts/{alvarez.id}">1001</a>' in history
    for path in pages:
        seen = client.get(path, headers=_bearer(w.tokens["read-only"]))
        assert seen.status_code == 200, path
        assert "/dashboard/accounts/" not in seen.text, path
        assert "Alvarez household" in seen.text or path.startswith("/dashboard/network"), path


def test_the_charges_point_to_the_tariffs_page_when_an_account_has_none(
    world: tuple[Store, World, TestClient],
) -> None:
    store, w, client = world
    site = store.accounts()[0].site_id
    page = client.get("/dashboard", headers=_bearer(w.tokens["operator"])).text
    cost = _between(page, 'class="cost"', "</p>")
    assert "no tariff set for account 1026" in _text(cost)
    assert f'href="/dashboard/tariffs?site_id={site}"' in cost
