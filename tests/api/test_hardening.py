"""Hardening (issue 12, defects 1 and 4, and what the schemathesis run found), over HTTP in process.

Defect 1: a caller without a valid token (or with a role not allowed) is answered 401 (403) before the
body is read, on every route; a body larger than its route can need is refused with 413 before it is
read whole (``Content-Length`` up front, chunked bodies counted as they stream).

Defect 4: every id is bounded by its type (1 .. 2**63 - 1): an id out of range is 404 "no ... has id"
on every route and dashboard page, never a 500 from the database; an integer of thousands of digits in
intervals sent is a 422 naming the field.

What the schemathesis run found (``test_schemathesis.py``): every input is bounded by its type
(``meshmeter.api.deps``: ``Name``, ``TimeText``, ``ZoneName``; times by ``parse_instant``), refused with
a problem naming it, never a 500 (a NUL in a name on PostgreSQL, a time past the calendar's ends); and
every answer an operation can give is in the OpenAPI document (429 and 413 on every route, 400 on
``POST /tokens``, 404 on ``GET /network/health``).
"""

from __future__ import annotations

import asyncio
import re
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.exceptions import StarletteDeprecationWarning
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from meshmeter.api import Settings, create_app
from meshmeter.api.auth import ROUTE_ROLES, iter_api_routes
from meshmeter.store import Store
from tests.api.conftest import ADMIN, ADMIN_TOKEN, bearer

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

MAX_ID = 2**63 - 1
SETTINGS = Settings(admin_token=ADMIN_TOKEN, environment="development", alert_check_s=0)


class BodyMeter:
    """An ASGI wrapper that counts the body bytes the app pulls from the server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.read = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.read += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


@pytest.fixture
def metered(store: Store) -> Iterator[tuple[TestClient, BodyMeter]]:
    meter = BodyMeter(create_app(store, SETTINGS))
    with TestClient(meter) as c:
        yield c, meter


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def _path(path: str) -> str:
    return re.sub(r"\{[a-z_]+\}", lambda m: "M1" if m.group(0) == "{serial}" else "1", path)


# --- defect 1: authentication before the body, and body limits ---------------------------------------

MALFORMED = b'{"role": "admin", "label": ' + b"[" * 5000


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_no_token_is_401_before_the_body_is_read_on_every_route(metered, method):
    c, meter = metered
    for m, path in sorted(ROUTE_ROLES):
        if m != method:
            continue
        meter.read = 0
        response = c.request(m, _path(path), content=MALFORMED, headers={"Content-Type": "application/json"})
        _problem(response, 401)
        assert meter.read == 0, f"{m} {path} read {meter.read} bytes of the body before its 401"


def test_bad_token_with_a_malformed_body_is_401_not_422(metered):
    c, meter = metered
    response = c.post("/tokens", content=b"{not json", headers=bearer("mm_nope"))
    _problem(response, 401)
    assert meter.read == 0


def test_role_not_allowed_is_403_before_the_body_is_read(metered, tokens):
    c, meter = metered
    for role in ("operator", "billing", "read-only"):
        response = c.post("/tokens", content=MALFORMED, headers=bearer(tokens[role]))
        _problem(response, 403)
    response = c.post("/intervals", content=MALFORMED, headers=bearer(tokens["billing"]))
    _problem(response, 403)
    assert meter.read == 0


def test_a_huge_body_without_a_token_is_not_read(metered):
    c, meter = metered
    body = b"[" + b"0," * (4 * 1024 * 1024) + b"0]"  # 8 MiB of JSON array
    _problem(c.post("/tokens", content=body), 401)
    _problem(c.post("/intervals", content=body), 401)
    assert meter.read == 0


def test_token_body_over_its_limit_is_413_from_content_length_unread(metered):
    c, meter = metered
    body = b'{"role": "billing", "label": "' + b"x" * 20_000 + b'"}'
    _problem(c.post("/tokens", content=body, headers=ADMIN), 413)
    assert meter.read == 0
    # a body a route does not take at all
    _problem(c.request("GET", "/sites", content=b"x" * 100, headers=ADMIN), 413)
    assert meter.read == 0
    # within the limit it still works
    made = c.post("/tokens", json={"role": "billing", "label": "x" * 200}, headers=ADMIN)
    assert made.status_code == 201, made.text


def _stream_post(store: Store, path: str, chunks: int, chunk: bytes, headers: dict[str, str]):
    """POST a chunked body (no Content-Length) through httpx's ASGI transport, which pulls the body
    lazily: answer the response and how many chunks the app pulled."""
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(chunks):
            pulled += 1
            yield chunk

    async def go() -> httpx.Response:
        app = create_app(store, SETTINGS)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await c.post(path, content=body(), headers=headers)

    response = asyncio.run(go())
    return response, pulled


def test_chunked_body_without_a_token_is_never_pulled(store):
    response, pulled = _stream_post(store, "/tokens", 1000, b"[" * 1024, {})
    _problem(response, 401)
    assert pulled == 0


def test_chunked_body_over_the_limit_is_cut_off_while_streaming(store):
    response, pulled = _stream_post(store, "/tokens", 1000, b" " * 1024, ADMIN)
    _problem(response, 413)
    assert pulled <= 6, f"{pulled} KiB pulled for a route that takes a few KiB"


def test_ingest_limit_is_64_mib_and_counted_while_streaming(store, monkeypatch):
    from meshmeter.api import limits
    from meshmeter.api.routes.ingest import MAX_BODY_BYTES

    assert MAX_BODY_BYTES == 64 * 1024 * 1024
    assert limits.body_limit("POST", "/intervals") == MAX_BODY_BYTES
    assert limits.body_limit("POST", "/meters/{serial}/intervals") == MAX_BODY_BYTES
    monkeypatch.setitem(limits.BODY_LIMITS, ("POST", "/intervals"), 10 * 1024)
    response, pulled = _stream_post(store, "/intervals", 1000, b" " * 1024, ADMIN)
    _problem(response, 413)
    assert pulled <= 12


# --- defect 4: ids and integers bounded by their type ----------------------------------------------------

OUT_OF_RANGE = ["0", "-1", str(MAX_ID + 1), "1" + "0" * 4000]
IDS = [*OUT_OF_RANGE, str(MAX_ID)]
EXTRA_QUERY: dict[str, dict[str, str]] = {
    "/meters/{serial}/intervals": {"start": "2024-03-01", "end": "2024-03-02"},
    "/meters/{serial}/production": {"month": "2024-03", "format": "json"},
    "/energy/daily": {"start": "2024-03-01", "end": "2024-03-02"},
    "/energy/monthly": {"start": "2024-03-01", "end": "2024-04-01"},
    "/energy/load-profile": {"start": "2024-03-01", "end": "2024-03-02"},
    "/energy/top-consumers": {"start": "2024-03-01", "end": "2024-03-02"},
    "/energy/comparison": {"start": "2024-03-01", "end": "2024-03-02"},
}


def _id_params(route: APIRoute) -> tuple[list[str], list[str]]:
    """The id parameters of a route: (in the path, in the query)."""
    path = [p.name for p in route.dependant.path_params if p.name.endswith("_id")]
    query = [p.name for p in route.dependant.query_params if p.name.endswith("_id")]
    return path, query


def test_every_route_with_an_id_is_walked(client):
    walked = {
        (m, r.path) for r in iter_api_routes(client.app.routes) for m in r.methods if any(_id_params(r))
    }
    assert {("GET", "/sites/{site_id}"), ("GET", "/dashboard/vee"), ("GET", "/energy/daily")} <= walked
    assert len(walked) >= 15


def test_ids_out_of_range_are_404_never_500_on_every_route(client, site_data):
    failures = []
    for route in iter_api_routes(client.app.routes):
        in_path, in_query = _id_params(route)
        for method in sorted(route.methods):
            assert (method, route.path) in ROUTE_ROLES
            for name in in_path + in_query:
                for value in IDS:
                    path = route.path.replace("{serial}", "M1")
                    query = dict(EXTRA_QUERY.get(route.path, {}))
                    if name in in_path:
                        path = path.replace("{" + name + "}", value)
                    else:
                        query[name] = value
                    for other in in_path:
                        path = path.replace("{" + other + "}", "1")
                    response = client.request(method, path, params=query, headers=ADMIN)
                    where = f"{method} {route.path} {name}={value[:24]}"
                    if response.status_code >= 500 or (
                        value in OUT_OF_RANGE
                        and (response.status_code != 404 or "has id" not in response.json()["detail"])
                    ):
                        failures.append(f"{where}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)


def test_site_id_above_int64_is_404(client, tokens):
    for role in ("admin", "operator", "billing", "read-only"):
        body = _problem(client.get(f"/sites/{MAX_ID + 1}", headers=bearer(tokens[role])), 404)
        assert body["detail"] == f"no site has id {MAX_ID + 1}"


def test_an_id_too_long_to_be_an_integer_is_422_naming_it(client):
    body = _problem(client.get("/sites/" + "9" * 5000, headers=ADMIN), 422)
    assert "site_id" in body["detail"]


BIG = "9" * 4301


def test_json_energy_of_4301_digits_is_422_naming_the_field(client, site_data):
    one = '{"intervals": [{"interval_end": "2024-03-05T00:15:00Z", "energy_wh": ' + BIG + "}]}"
    body = _problem(client.post("/meters/M1/intervals", content=one, headers=ADMIN), 422)
    assert body["field"] == "intervals[0].energy_wh"
    batch = '[{"meter": "M1", "intervals": [{"interval_end": "2024-03-05T00:15:00Z", "energy_wh": -' + BIG
    body = _problem(client.post("/intervals", content=batch + "}]}]", headers=ADMIN), 422)
    assert body["field"].endswith("intervals[0].energy_wh")


def test_csv_energy_of_4301_digits_is_422_naming_the_field(client, site_data):
    csv = f"meter,interval_end,energy_wh\nM1,2024-03-05T00:15:00Z,{BIG}\n"
    headers = {**ADMIN, "Content-Type": "text/csv"}
    body = _problem(client.post("/intervals", content=csv, headers=headers), 422)
    assert body["field"] == "line 2: energy_wh"
    one = f"interval_end,energy_wh\n2024-03-05T00:15:00Z,{BIG}\n"
    body = _problem(client.post("/meters/M1/intervals", content=one, headers=headers), 422)
    assert body["field"] == "line 2: energy_wh"


# --- the schemathesis run: text bounded by its type -------------------------------------------------

_DAY = {"start": "2024-03-01", "end": "2024-03-02"}
NAMED = [
    ("GET", "/meters/{}", {}, "path.serial"),
    ("GET", "/meters/{}/intervals", _DAY, "path.serial"),
    ("GET", "/meters/{}/register-reads", {}, "path.serial"),
    ("GET", "/meters/{}/production", {"month": "2024-03"}, "path.serial"),
    ("GET", "/dashboard/meters/{}", {}, "path.serial"),
    ("POST", "/meters/{}/intervals", {}, "path.serial"),
    ("GET", "/accounts", {"meter": "{}"}, "query.meter"),
    ("GET", "/events", {"meter": "{}"}, "query.meter"),
    ("GET", "/events", {"kind": "{}"}, "query.kind"),
    ("GET", "/bills", {"account": "{}"}, "query.account"),
    ("GET", "/bills", {"meter": "{}"}, "query.meter"),
    ("POST", "/intervals", {"format": "{}"}, "query.format"),
    ("POST", "/intervals", {"format": "meshmeter-csv", "meter": "{}"}, "query.meter"),
    ("GET", "/meters/M1/intervals", {**_DAY, "tz": "{}"}, "query.tz"),
    ("GET", "/energy/daily", {**_DAY, "site_id": "1", "tz": "{}"}, "query.tz"),
    ("GET", "/meters/M1/production", {"month": "2024-03", "tz": "{}"}, "query.tz"),
    ("GET", "/alerts", {"since": "{}"}, "query.since"),
    ("GET", "/events", {"start": "{}"}, "query.start"),
]
"""(method, path, query, the parameter): ``{}`` is where the bad text goes."""


def _with(text: str, path: str, query: dict[str, str]) -> tuple[str, dict[str, str]]:
    quoted = text.replace("\x00", "%00").replace("\n", "%0A")
    return path.replace("{}", quoted), {k: v.replace("{}", text) for k, v in query.items()}


@pytest.mark.parametrize(("method", "path", "query", "name"), NAMED, ids=lambda v: str(v)[:30])
@pytest.mark.parametrize(
    "text", ["M1\x00", "\x00", "M1\n", "x" * 300], ids=["nul", "only-nul", "newline", "long"]
)
def test_text_outside_its_type_is_422_naming_it_never_500(client, site_data, method, path, query, name, text):
    """Before: a NUL was a 500 on PostgreSQL (psycopg cannot send it), and any text of any length was
    looked up (a 404 on SQLite, or an answer). Now the type refuses it, on both backends."""
    if name == "query.tz" and text == "x" * 300:
        text = "x" * 65  # longer than any zone name; still refused before it is looked up
    target, params = _with(text, path, query)
    body = _problem(client.request(method, target, params=params, headers=ADMIN), 422)
    assert name in body["detail"], body["detail"]


def test_text_within_its_type_still_names_things(client, site_data):
    assert client.get("/meters/M1", headers=ADMIN).status_code == 200
    assert client.get("/events", params={"kind": "tamper"}, headers=ADMIN).json()["count"] == 1
    _problem(client.get("/meters/" + "x" * 200, headers=ADMIN), 404)
    zone = "America/Argentina/ComodRivadavia"  # the longest zone name
    day = client.get("/meters/M1/intervals", params={**_DAY, "tz": zone}, headers=ADMIN)
    assert day.status_code == 200, day.text


def test_a_token_label_with_a_control_character_is_422(client):
    for label in ("a\x00b", "a\nb", "x" * 201):
        body = _problem(client.post("/tokens", json={"role": "billing", "label": label}, headers=ADMIN), 422)
        assert "body.label" in body["detail"]
    assert (
        client.post("/tokens", json={"role": "billing", "label": "x" * 200}, headers=ADMIN).status_code == 201
    )


@pytest.mark.parametrize(
    ("path", "body", "content_type", "field"),
    [
        ("/intervals", '{"meter": "M1\\u0000", "intervals": []}', "application/json", "meter"),
        (
            "/intervals",
            "meter,interval_end,energy_wh\nM1\x00,2024-03-05T00:15:00Z,1\n",
            "text/csv",
            "line 2: meter",
        ),
    ],
    ids=["json", "csv"],
)
def test_a_serial_with_nul_in_a_body_is_an_unknown_meter(client, site_data, path, body, content_type, field):
    """Before: a 500 on PostgreSQL; now no meter has it, on either backend (``Store.get_meter``)."""
    headers = {**ADMIN, "Content-Type": content_type}
    answer = _problem(client.post(path, content=body.encode(), headers=headers), 404)
    assert (answer["reason"], answer["field"]) == ("unknown_meter", field)


def test_store_get_meter_of_a_serial_with_nul_is_none(store, site_data):
    assert store.get_meter(serial="M1\x00") is None
    assert store.get_meter(serial="M1") is not None


# --- the schemathesis run: times bounded by the calendar ---------------------------------------------

FAR = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31", "1969-12-31T23:59:59Z"]
"""In year 0, in year 10000 (both only by their offsets), after 9999-01-01, before the epoch."""
TIMED = [
    ("/alerts", {}, "since"),
    ("/events", {}, "start"),
    ("/events", {}, "end"),
    ("/bills", {}, "start"),
    ("/bills", {}, "end"),
    ("/meters/M1/register-reads", {}, "start"),
    ("/meters/M1/register-reads", {}, "end"),
    ("/meters/M1/intervals", {"start": "2024-03-01", "end": "2024-03-02"}, "start"),
    ("/meters/M1/intervals", {"start": "2024-03-01", "end": "2024-03-02"}, "end"),
    ("/energy/daily", {"site_id": "1", "start": "2024-03-01", "end": "2024-03-02"}, "start"),
    ("/energy/comparison", {"site_id": "1", "start": "2024-03-01", "end": "2024-03-02"}, "end"),
]


@pytest.mark.parametrize(("path", "query", "name"), TIMED, ids=lambda v: str(v)[:24])
@pytest.mark.parametrize("when", FAR)
def test_a_time_past_the_calendar_is_400_naming_it_never_500(client, site_data, path, query, name, when):
    """Before: 0001-01-01T00:00+14:00 and 9999-12-31T23:59:59-14:00 were 500s (``OverflowError`` turning
    them into UTC), on both backends."""
    body = _problem(client.get(path, params={**query, name: when}, headers=ADMIN), 400)
    assert body["detail"].startswith(f"{name} must lie between 1970-01-01T00:00:00+00:00 and 9999-01-01"), (
        body
    )


@pytest.mark.parametrize(
    ("month", "tz"),
    [
        ("9999-12", "UTC"),
        ("0001-01", "Pacific/Kiritimati"),
        ("0001-01", "America/Los_Angeles"),
        ("1971-01", "Africa/Monrovia"),
    ],
)
def test_a_production_month_off_the_calendar_or_the_grid_is_400(client, site_data, month, tz):
    """Before: 500s: year 10000, year 0, and local midnights off the 15-minute grid (local mean time,
    Liberia's -0:44:30 until 1972) that ``production_report`` refuses."""
    response = client.get("/meters/M1/production", params={"month": month, "tz": tz}, headers=ADMIN)
    assert "month" in _problem(response, 400)["detail"]


def test_the_first_and_last_instants_are_served(client, site_data):
    for query in ({"start": "1970-01-01T00:00:00Z"}, {"end": "9999-01-01T00:00:00Z"}):
        assert client.get("/meters/M1/register-reads", params=query, headers=ADMIN).status_code == 200


# --- the schemathesis run: every answer documented ---------------------------------------------------


def test_every_operation_documents_what_the_guard_answers(client):
    """Before: 429 (a bad token after ten failures, on any route) and 413 (a body sent to a route that
    takes none) were in no operation's responses; 400 was not in ``POST /tokens``'s (a body that is not
    JSON), nor 404 in ``GET /network/health``'s (a ``site_id`` out of range)."""
    document = client.get("/openapi.json").json()
    for method, path in ROUTE_ROLES:
        responses = document["paths"][path][method.lower()]["responses"]
        for status in ("401", "403", "413", "422", "429"):
            assert "application/problem+json" in responses[status]["content"], (method, path, status)
        assert "Retry-After" in responses["429"]["headers"]
        ids = [
            p
            for p in document["paths"][path][method.lower()].get("parameters", [])
            if p["name"].endswith("_id")
        ]
        if ids:
            assert "404" in responses, (method, path)
    assert "400" in document["paths"]["/tokens"]["post"]["responses"]


def test_a_token_body_that_is_not_json_is_a_documented_400(client):
    headers = {**ADMIN, "Content-Type": "application/json"}
    response = client.post("/tokens", content=b"\xe3\xa9\xca\xf1", headers=headers)  # not UTF-8
    assert _problem(response, 400)["detail"] == "There was an error parsing the body"


def test_ids_and_names_carry_their_bounds_in_the_document(client):
    document = client.get("/openapi.json").json()
    site_id = document["paths"]["/sites/{site_id}"]["get"]["parameters"][0]["schema"]
    assert (site_id["minimum"], site_id["maximum"]) == (1, MAX_ID)
    serial = document["paths"]["/meters/{serial}"]["get"]["parameters"][0]["schema"]
    assert (serial["minLength"], serial["maxLength"]) == (1, 200)
    assert serial["pattern"] == r"^[^\x00-\x1f\x7f]*$"


@pytest.mark.parametrize("tail", ["\u0000", "\u0001", "\u007f"])
def test_an_interval_end_with_a_control_character_after_it_is_refused(client, store, site_data, tail):
    """``datetime.fromisoformat`` stops reading at a NUL: ``...Z\\u0000`` was stored (201) on both
    backends (seen by the schemathesis helper run of issue 12)."""
    body = [{"meter": "M2", "intervals": [{"interval_end": "2024-03-01T00:15:00Z" + tail, "energy_wh": 1}]}]
    response = client.post("/intervals", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["reason"] == "bad_time"
    assert "interval_end" in response.json()["field"]
    m2 = store.get_meter(serial="M2")
    assert m2 is not None
    assert m2.data_version == 0  # nothing stored
