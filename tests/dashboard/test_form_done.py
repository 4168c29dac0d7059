"""A form done says so (issue 15: "a done form shows no done message, only the anchor"): every form of the
dashboard sends the browser back to its page with ``?done=`` naming what was done, and the page says it in
words from :data:`meshmeter.api.dashboard.forms.DONE`, never from the address.

The VEE work list's accept on the small simulated site (``tests/dashboard/site.py``); the tenancy, meter,
source and tariff forms' redirects are checked in their own tests (``test_tenancy_pages.py``,
``test_meters_manage.py``, ``test_browser_tariffs.py``).
"""

from __future__ import annotations

import re
from typing import Any

from meshmeter.api.dashboard.forms import DONE
from meshmeter.api.dashboard.meters_page import LIFE_ACTIONS
from meshmeter.api.routes.dashboard_meters import SOURCE_ACTIONS
from meshmeter.api.routes.dashboard_tenants import ACTIONS as TENANCY_ACTIONS
from meshmeter.services.vee_worklist import ACTIONS as VEE_ACTIONS
from meshmeter.store import Store
from tests.dashboard.conftest import ADMIN_TOKEN, snapshot
from tests.dashboard.site import DemoSite

FORMS = (
    "/dashboard/vee",
    "/dashboard/meters",
    "/dashboard/sources",
    "/dashboard/tenants",
    "/dashboard/tariffs",
)
"""Every form of the dashboard that posts (each carries its page's ``site_id``)."""

SAID = re.compile(r'<p class="card done ok-text" role="status" id="done">([^<]*)</p>')


def test_every_act_of_every_form_has_its_words() -> None:
    codes = {
        *(f"vee_{a}" for a in VEE_ACTIONS),
        *TENANCY_ACTIONS,
        "meter_register",
        *(f"meter_{a}" for a in LIFE_ACTIONS),
        *(f"source_{a}" for a in SOURCE_ACTIONS),
        "tariff_set",
    }
    assert codes == set(DONE)  # none without words, none left over
    assert all(words.startswith("Done: ") and words.endswith(".") for words in DONE.values())


def test_an_accepted_estimate_says_done_on_the_page_it_returns_to(
    client: Any, demo_store: tuple[Store, DemoSite]
) -> None:
    _store, site = demo_store
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    page = client.get("/dashboard/vee", headers=headers).text
    assert SAID.search(page) is None  # nothing done yet: nothing said
    end = re.search(r'data-end="([^"]+)"', page)
    assert end is not None
    client.cookies.set("meshmeter_session", ADMIN_TOKEN)
    try:
        done = client.post(
            "/dashboard/vee",
            data={
                "site_id": str(site.site_id),
                "serial": site.gap_serial,
                "interval_end": end.group(1),
                "action": "accept",
                "reason": "checked on site",
                "back": "/dashboard/vee",
            },
            follow_redirects=False,
        )
    finally:
        client.cookies.clear()
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/dashboard/vee?done=vee_accept#{site.gap_serial}"
    said = SAID.search(client.get(done.headers["location"], headers=headers).text)
    assert said is not None
    assert said.group(1) == "Done: the estimate is accepted, recorded with your name and reason."


def test_the_address_cannot_make_a_page_say_anything(client: Any, demo_store: tuple[Store, DemoSite]) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for forged in ("<script>alert(1)</script>", "Done: your account is closed", "tariff_set "):
        page = client.get("/dashboard/vee", params={"done": forged}, headers=headers).text
        assert SAID.search(page) is None, forged
        assert "alert(1)" not in page
    said = SAID.search(client.get("/dashboard/vee", params={"done": "tariff_set"}, headers=headers).text)
    assert said is not None
    assert said.group(1) == DONE["tariff_set"]


def test_a_form_naming_no_site_it_may_touch_is_404_and_changes_nothing(
    client: Any, demo_store: tuple[Store, DemoSite]
) -> None:
    """Every form reads its site by one rule (``forms.form_site``): a ``site_id`` that is not an id, names
    no site, or names a site outside a site-bound operator's scope is 404 naming what was sent, before
    anything is read from the rest of the form."""
    store, site = demo_store
    other = store.create_site(name="Elsewhere Court", timezone="America/New_York")
    _, bound = store.create_api_token(role="operator", site_ids=[other.id], label="elsewhere operator")
    before = snapshot(store)
    cases = [
        (ADMIN_TOKEN, "", "no site has id ''"),
        (ADMIN_TOKEN, "abc", "no site has id 'abc'"),
        (ADMIN_TOKEN, "0", "no site has id '0'"),
        (ADMIN_TOKEN, "9999", "no site has id 9999"),
        (bound, str(site.site_id), f"no site has id {site.site_id}"),  # there, but not this operator's
    ]
    for path in FORMS:
        for who, site_id, words in cases:
            client.cookies.set("meshmeter_session", who)
            try:
                answer = client.post(
                    path,
                    data={"site_id": site_id, "action": "accept", "serial": site.gap_serial, "back": path},
                    follow_redirects=False,
                )
            finally:
                client.cookies.clear()
            assert answer.status_code == 404, (path, site_id, answer.status_code, answer.text[:300])
            assert words in answer.text, (path, site_id)
    assert snapshot(store) == before
