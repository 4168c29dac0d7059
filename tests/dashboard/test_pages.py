"""The dashboard's pages over HTTP (in process): sign-in, the cookie's reach, errors for a browser,
the assets served offline, and the figures against the JSON API."""

from __future__ import annotations

import csv
import io
import re
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from meshmeter.api import Settings, create_app
from meshmeter.api.auth import SESSION_COOKIE
from meshmeter.api.dashboard import PLOTLY_JS, SECURITY_HEADERS, safe_next
from meshmeter.api.dashboard.views import LINK_QUALITY_COLOURS
from meshmeter.store import Store
from tests.dashboard.conftest import ADMIN_TOKEN
from tests.dashboard.site import build_site

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "meshmeter" / "api" / "dashboard"
HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def browser_client(demo_store):
    """A fresh client (its own cookie jar) over the demo site."""
    store, _site = demo_store
    app = create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))
    with TestClient(app) as c:
        yield c


def _sign_in(c, token, next_="/dashboard"):
    return c.post("/dashboard/login", data={"token": token, "next": next_}, follow_redirects=False)


def test_login_form_is_public_and_guarded(browser_client):
    response = browser_client.get("/dashboard/login")
    assert response.status_code == 200
    assert 'type="password"' in response.text
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


@pytest.mark.parametrize(("token", "message"), [("", "Enter an API token"), ("mm_nope", "not valid")])
def test_login_refuses_a_missing_or_unknown_token(browser_client, token, message):
    response = _sign_in(browser_client, token)
    assert response.status_code == 401
    assert message in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


def test_login_sets_an_httponly_strict_cookie(browser_client):
    response = _sign_in(browser_client, ADMIN_TOKEN, "/dashboard/vee")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/vee"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}={ADMIN_TOKEN};")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; https adds it


def test_login_form_larger_than_4_kib_is_refused(browser_client):
    response = browser_client.post("/dashboard/login", content=b"token=" + b"a" * 5000)
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("/dashboard/meters/A1", "/dashboard/meters/A1"),
        ("https://evil.example/dashboard", "/dashboard"),
        ("//evil.example/dashboard", "/dashboard"),
        ("/tokens", "/dashboard"),
        ("/dashboard/login", "/dashboard"),
        ("/dashboard\\@evil", "/dashboard"),
        (None, "/dashboard"),
    ],
)
def test_safe_next_stays_on_the_dashboard(value, safe):
    assert safe_next(value) == safe


def test_the_cookie_opens_pages_and_json_reads_not_writes(browser_client, demo_store):
    _store, site = demo_store
    _sign_in(browser_client, ADMIN_TOKEN)
    assert browser_client.cookies.get(SESSION_COOKIE) == ADMIN_TOKEN
    for path in ("/dashboard", "/dashboard/network", "/dashboard/vee", "/dashboard/bills", "/meters"):
        assert browser_client.get(path).status_code == 200, path
    assert browser_client.get(f"/dashboard/meters/{site.serials[0]}").status_code == 200
    # a write with the cookie alone is refused: no cross-site request can act for the user
    response = browser_client.post("/tokens", json={"role": "admin"})
    assert response.status_code == 401
    # a header, when sent, is what counts, even a wrong one beside a good cookie
    assert browser_client.get("/meters", headers={"Authorization": "Bearer mm_wrong"}).status_code == 401
    # sign-out clears it
    response = browser_client.post("/dashboard/logout", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login"
    assert f'{SESSION_COOKIE}=""' in response.headers["set-cookie"]


def test_a_browser_without_a_session_is_sent_to_the_form(browser_client):
    response = browser_client.get("/dashboard/vee", headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login?next=/dashboard/vee"
    # an API client gets the problem document, as on every route
    response = browser_client.get("/dashboard/vee", follow_redirects=False)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_a_revoked_token_ends_the_session(browser_client, demo_store):
    store, _site = demo_store
    record, token = store.create_api_token(role="read-only", label="revoked in a test")
    _sign_in(browser_client, token)
    assert browser_client.get("/dashboard", headers=HTML).status_code == 200
    store.revoke_api_token(token_id=record.id)
    response = browser_client.get("/dashboard", headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert f'{SESSION_COOKIE}=""' in response.headers["set-cookie"]


def test_billing_role_lands_on_bills_and_sees_only_them(browser_client, demo_store):
    store, _site = demo_store
    _record, token = store.create_api_token(role="billing", label="clerk")
    response = _sign_in(browser_client, token)
    assert response.headers["location"] == "/dashboard/bills"
    page = browser_client.get("/dashboard/bills", headers=HTML)
    assert page.status_code == 200
    assert re.findall(r'<li><a href="(/dashboard[^"]*)"', page.text) == [
        "/dashboard/tenants",
        "/dashboard/tariffs",
        "/dashboard/bills",
    ]
    refused = browser_client.get("/dashboard", headers=HTML)
    assert refused.status_code == 403
    assert "Not allowed" in refused.text
    assert "text/html" in refused.headers["content-type"]


def test_read_only_role_sees_the_dashboard(browser_client, demo_store):
    store, _site = demo_store
    _record, token = store.create_api_token(role="read-only", label="monitor")
    _sign_in(browser_client, token)
    page = browser_client.get("/dashboard", headers=HTML)
    assert page.status_code == 200
    assert len(re.findall(r'<li><a href="(/dashboard[^"]*)"', page.text)) == 5  # Meters (issue 15)


def test_unknown_meter_is_404_html_for_a_browser_problem_otherwise(client):
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    page = client.get("/dashboard/meters/NOPE", headers={**headers, **HTML})
    assert page.status_code == 404
    assert "no meter has serial" in page.text
    assert "text/html" in page.headers["content-type"]
    problem = client.get("/dashboard/meters/NOPE", headers=headers)
    assert problem.status_code == 404
    assert problem.headers["content-type"] == "application/problem+json"
    assert client.get("/dashboard/network?site_id=99", headers=headers).status_code == 404
    assert client.get("/dashboard/vee?days=0", headers=headers).status_code == 422
    assert client.get("/dashboard/vee?days=367", headers=headers).status_code == 422


def test_plotly_is_served_from_the_installed_package(client):
    response = client.get("/dashboard/static/plotly.min.js")
    assert response.status_code == 200
    assert response.content == PLOTLY_JS.read_bytes()
    assert response.headers["content-type"].startswith("text/javascript")
    assert client.get("/dashboard/static/dashboard.css").headers["content-type"].startswith("text/css")
    assert client.get("/dashboard/static/dashboard.js").status_code == 200
    assert client.get("/favicon.ico").status_code == 204
    root = client.get("/", follow_redirects=False)
    assert (root.status_code, root.headers["location"]) == (307, "/dashboard")
    for name in ("nope.js", "..%2Fviews.py", "plotly.js"):
        assert client.get(f"/dashboard/static/{name}").status_code == 404


def test_nothing_is_loaded_from_elsewhere():
    """No CDN, no remote font: the dashboard works with no internet; plotly is not copied in."""
    files = [*PACKAGE.glob("templates/*.html"), *PACKAGE.glob("static/*")]
    assert {f.name for f in PACKAGE.glob("static/*")} == {"dashboard.css", "dashboard.js"}
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert "://" not in text, f.name


def test_overview_figures_equal_the_api(client, demo_store):
    _store, site = demo_store
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    page = client.get("/dashboard", headers=headers).text
    rows = dict(re.findall(r'data-serial="([^"]+)" data-today-wh="(\d+)"', page))
    months = dict(re.findall(r'data-serial="([^"]+)" data-today-wh="\d+" data-month-wh="(\d+)"', page))
    assert sorted(rows) == sorted(site.serials)
    for serial in site.serials:
        params = {
            "start": "2026-01-03",
            "end": "2026-01-04",
            "resolution": "daily",
            "tz": "America/Los_Angeles",
        }
        day = client.get(f"/meters/{serial}/intervals", params=params, headers=headers).json()
        assert int(rows[serial]) == day["data"][0]["energy_wh"]
        params = {
            "start": "2026-01-01",
            "end": "2026-02-01",
            "resolution": "monthly",
            "tz": "America/Los_Angeles",
        }
        month = client.get(f"/meters/{serial}/intervals", params=params, headers=headers).json()
        assert int(months[serial]) == month["data"][0]["energy_wh"]


def test_network_page_from_the_store_then_the_provider(demo_store, tmp_path):
    store, site = demo_store
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    settings = Settings(admin_token=ADMIN_TOKEN, environment="development")
    with TestClient(create_app(store, settings)) as c:
        page = c.get("/dashboard/network", headers=headers).text
    assert "Taken 2026-01-04 00:00 UTC" in page
    assert page.count('<tr data-eui64="') == len(site.report.devices)

    empty = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        empty.create_site(name="Elm", timezone="UTC")
        with TestClient(create_app(empty, settings)) as c:
            assert "No CIT report" in c.get("/dashboard/network", headers=headers).text
        with TestClient(create_app(empty, settings, network_report=lambda: site.report)) as c:
            page = c.get("/dashboard/network", headers=headers).text
            assert "From the running network" in page
            assert page.count('<tr data-eui64="') == len(site.report.devices)
            assert 'id="report-problem"' not in page
            # a stored report that cannot be read is said, not hidden; the provider's is shown
            taken = datetime(2026, 2, 1, tzinfo=UTC)
            empty.save_network_report(site=1, report={"devices": "?"}, taken_at=taken)
            page = c.get("/dashboard/network", headers=headers).text
            assert "cannot be read" in page
            assert page.count('<tr data-eui64="') == len(site.report.devices)
    finally:
        empty.close()


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_text_colours_meet_wcag_aa():
    css = (PACKAGE / "static" / "dashboard.css").read_text(encoding="utf-8")
    var = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})", css))
    white = "#ffffff"
    pairs = [
        (var["text"], var["bg"]),
        (var["text"], var["card"]),
        (var["muted"], var["card"]),
        (var["muted"], var["bg"]),
        (var["link"], var["card"]),
        (var["head-text"], var["head"]),
        (white, var["link"]),  # buttons
        (white, var["good"]),  # badges
        (white, var["fair"]),
        (white, var["poor"]),
        (var["good"], var["card"]),  # link quality words, errors
        (var["fair"], var["card"]),
        (var["poor"], var["card"]),
        (var["lcd-text"], var["lcd-bg"]),
        *((c, white) for c in LINK_QUALITY_COLOURS.values()),
    ]
    for fg, bg in pairs:
        assert _contrast(fg, bg) >= 4.5, (fg, bg, _contrast(fg, bg))


def test_no_bills_yet_without_a_provider(demo_store):
    store, _site = demo_store
    settings = Settings(admin_token=ADMIN_TOKEN, environment="development")
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with TestClient(create_app(store, settings)) as c:
        page = c.get("/dashboard/bills", headers=headers)
        assert page.status_code == 200
        assert "No bills yet" in page.text
        assert c.get("/dashboard/bills?bill=1", headers=headers).status_code == 404
        assert c.get("/dashboard/bills?csv=true", headers=headers).text.count("\n") <= 1  # the header only


def test_bills_list_detail_print_and_csv(client, demo_store):
    _store, site = demo_store
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    page = client.get("/dashboard/bills", headers=headers).text
    assert page.count('<tr data-bill="') == len(site.bills)
    detail = client.get("/dashboard/bills", params={"bill": 1}, headers=headers)
    assert detail.status_code == 200
    assert f"{site.bills[0].printed_total:,.2f}" in detail.text
    assert re.search(r"\d\.\d{6,}", detail.text) is None  # quantities to 4 decimals, rates to 5
    printable = client.get("/dashboard/bills", params={"bill": 1, "view": "print"}, headers=headers)
    assert printable.status_code == 200
    assert "Content-Security-Policy" in printable.headers
    assert client.get("/dashboard/bills", params={"bill": 99}, headers=headers).status_code == 404
    assert client.get("/dashboard/bills", params={"bill": 0}, headers=headers).status_code == 422
    assert (
        client.get("/dashboard/bills", params={"bill": 1, "view": "pdf"}, headers=headers).status_code == 422
    )
    sheet = client.get("/dashboard/bills", params={"csv": "true"}, headers=headers)
    assert sheet.headers["content-type"].startswith("text/csv")
    totals = [r for r in csv.DictReader(io.StringIO(sheet.text)) if r["kind"] == "total"]
    assert [(r["meter"], r["printed_amount"]) for r in totals] == [
        (b.meter, f"{b.printed_total:.2f}") for b in site.bills
    ]


@pytest.mark.postgres
def test_pages_on_postgresql_equal_those_on_sqlite(postgres_schema_url, client, demo_store):
    """The same site on PostgreSQL renders the same figures as on SQLite."""
    _store, site = demo_store
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    settings = Settings(admin_token=ADMIN_TOKEN, environment="development")
    pg = Store(postgres_schema_url)
    try:
        build_site(pg)
        with TestClient(create_app(pg, settings)) as c:
            for path in ("/dashboard", "/dashboard/vee", f"/dashboard/meters/{site.reversed_serial}"):
                mine, theirs = c.get(path, headers=headers), client.get(path, headers=headers)
                assert mine.status_code == theirs.status_code == 200, path
                figures = re.compile(r'data-(?:today|month)-wh="\d+"|<td class="num">[^<]*</td>')
                assert figures.findall(mine.text) == figures.findall(theirs.text), path
    finally:
        pg.close()
