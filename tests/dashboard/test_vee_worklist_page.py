"""The VEE page's work list and its form without a browser (issue 15): who sees the acts, and the form's
protection (the session cookie counts on its post only from this server's own page)."""

from __future__ import annotations

from typing import Any

from meshmeter.store import Store
from tests.dashboard.conftest import ADMIN_TOKEN
from tests.dashboard.site import DemoSite

HTML = {"Accept": "text/html"}


def _form(site: DemoSite, end: str, **fields: str) -> dict[str, str]:
    return {"site_id": str(site.site_id), "serial": site.gap_serial, "interval_end": end, **fields}


def _first_end(client: Any, token: str) -> str:
    page = client.get("/dashboard/vee", headers={"Authorization": f"Bearer {token}"})
    marker = 'data-end="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def test_read_only_sees_the_list_without_acts_and_may_not_post(client, demo_store) -> None:
    store, site = demo_store
    _, token = store.create_api_token(role="read-only", label="auditor")
    page = client.get("/dashboard/vee", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200
    assert page.text.count('<tr class="state-open"') == 4
    assert "worklist-act" not in page.text
    end = _first_end(client, token)
    client.cookies.set("meshmeter_session", token)
    try:
        refused = client.post(
            "/dashboard/vee", data=_form(site, end, action="accept", reason="ok"), follow_redirects=False
        )
    finally:
        client.cookies.clear()
    assert refused.status_code == 403
    assert _acts(store, site) == []


def test_a_cross_site_post_is_refused_and_a_filter_narrows_the_list(client, demo_store) -> None:
    store, site = demo_store
    end = _first_end(client, ADMIN_TOKEN)
    client.cookies.set("meshmeter_session", ADMIN_TOKEN)
    try:
        refused = client.post(
            "/dashboard/vee",
            data=_form(site, end, action="accept", reason="ok"),
            headers={"Origin": "https://evil.example"},
            follow_redirects=False,
        )
        assert refused.status_code == 403
        assert "cross-site" in refused.json()["detail"]
        assert _acts(store, site) == []
        bad = client.get("/dashboard/vee", params={"state": "closed"}, headers=HTML)
        assert bad.status_code == 400
        assert "state must be one of open, accepted, edited, reread" in bad.text
        narrow = client.get("/dashboard/vee", params={"check": "spike"}, headers=HTML)
        assert "No interval on the work list." in narrow.text
    finally:
        client.cookies.clear()


def _acts(store: Store, site: DemoSite) -> list[Any]:
    meter = store.get_meter(serial=site.gap_serial)
    assert meter is not None
    return [e for e in store.interval_edits(meter_id=meter.id, start=site.start, end=site.end) if e.action]
