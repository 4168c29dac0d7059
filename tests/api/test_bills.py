"""Stored bills through the API: ``GET /bills`` and ``GET /bills/{bill_id}`` as JSON (with the inputs that
produced the bill), CSV, printable HTML and PDF; bad input as problem documents (issue 5)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest

from meshmeter.api.problems import PROBLEM_JSON
from meshmeter.billing import Tenant, bill_meter, example_tariff
from meshmeter.billing.reproduce import verify_bill
from meshmeter.store import Store
from tests.api.conftest import ADMIN

START = datetime(2026, 7, 1, 7, tzinfo=UTC)
END = datetime(2026, 8, 1, 7, tzinfo=UTC)
LA = "America/Los_Angeles"


def make_bill(account: str = "Ada", meter: str = "M1", energy_per_interval: int = 150):
    """July 2026 at the tiered example tariff: 2,976 quarter-hours of ``energy`` Wh (446.4 kWh)."""
    n = int((END - START).total_seconds()) // 900
    ends = int(START.timestamp()) + 900 * np.arange(1, n + 1, dtype=np.int64)
    return bill_meter(
        example_tariff("tiered-flat-example"),
        ends,
        np.full(n, energy_per_interval, dtype=np.int64),
        start=START,
        end=END,
        timezone=LA,
        meter=meter,
        tenant=Tenant(account, None, None),
    )


@pytest.fixture
def stored(store: Store) -> dict[str, int]:
    oak = store.create_site(name="Oak Court", timezone=LA)
    elm = store.create_site(name="Elm House", timezone="America/New_York")
    a, _ = store.save_bill(document=make_bill().to_dict(), site_id=oak.id)
    b, _ = store.save_bill(document=make_bill("Bea", "M2", 100).to_dict(), site_id=elm.id)
    return {"oak": oak.id, "elm": elm.id, "a": a.id, "b": b.id}


def _problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    return response.json()


def test_list_bills(client, stored):
    response = client.get("/bills", headers=ADMIN)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    first = body["data"][0]
    bill = make_bill()
    assert first["id"] == stored["a"]
    assert (first["account"], first["meter"], first["site_id"], first["mode"]) == (
        "Ada",
        "M1",
        stored["oak"],
        "california",
    )
    assert Decimal(first["printed_total"]) == bill.printed_total
    assert Decimal(first["total"]) == bill.total
    assert first["energy_wh"] == 2976 * 150
    assert first["tariff_sha256"] == bill.inputs["tariff_sha256"]
    assert datetime.fromisoformat(first["period_start"]) == START
    only = client.get("/bills", params={"site_id": stored["elm"]}, headers=ADMIN).json()
    assert [b["account"] for b in only["data"]] == ["Bea"]
    assert client.get("/bills", params={"account": "Ada"}, headers=ADMIN).json()["count"] == 1
    assert client.get("/bills", params={"meter": "M2"}, headers=ADMIN).json()["count"] == 1
    assert client.get("/bills", params={"start": "2026-08-02T00:00Z"}, headers=ADMIN).json()["count"] == 0


def test_get_a_bill_as_json_rebills_exactly(client, stored):
    body = client.get(f"/bills/{stored['a']}", headers=ADMIN).json()
    assert body["id"] == stored["a"]
    assert body["site_id"] == stored["oak"]
    assert body["inputs"]["intervals"]["energy_wh"][:2] == [150, 150]
    again = verify_bill(body)  # the API's document is enough to re-bill it
    assert again.printed_total == make_bill().printed_total


def test_get_a_bill_as_csv_html_and_pdf(client, stored):
    bill = make_bill()
    response = client.get(f"/bills/{stored['a']}", params={"format": "csv"}, headers=ADMIN)
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[-1][-1] == str(bill.printed_total)
    response = client.get(f"/bills/{stored['a']}", params={"format": "html"}, headers=ADMIN)
    assert response.headers["content-type"].startswith("text/html")
    assert f"{bill.printed_total:,.2f}" in response.text
    response = client.get(f"/bills/{stored['a']}", params={"format": "pdf"}, headers=ADMIN)
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_bad_input_is_a_problem(client, stored):
    assert "no bill has id 999" in _problem(client.get("/bills/999", headers=ADMIN), 404)["detail"]
    _problem(client.get("/bills/0", headers=ADMIN), 404)
    _problem(client.get("/bills/abc", headers=ADMIN), 422)
    _problem(client.get(f"/bills/{stored['a']}", params={"format": "xml"}, headers=ADMIN), 422)
    assert "no site has id 999" in _problem(client.get("/bills?site_id=999", headers=ADMIN), 404)["detail"]
    assert "start must be" in _problem(client.get("/bills?start=soon", headers=ADMIN), 400)["detail"]
    response = client.get("/bills", params={"start": "2026-08-01", "end": "2026-07-01"}, headers=ADMIN)
    assert "end must be after start" in _problem(response, 400)["detail"]


def test_a_stored_bill_that_no_longer_reproduces_is_a_500_problem(client, store, stored):
    from sqlalchemy import update

    from meshmeter.store.schema import bills

    got = store.get_bill(stored["a"])
    inputs = dict(got.document["inputs"])
    inputs["intervals"] = {**inputs["intervals"], "energy_wh": [1] * len(inputs["intervals"]["energy_wh"])}
    with store.engines.writer.begin() as c:
        c.execute(update(bills).where(bills.c.id == stored["a"]).values(inputs=inputs))
    body = _problem(client.get(f"/bills/{stored['a']}", params={"format": "pdf"}, headers=ADMIN), 500)
    assert "cannot be reproduced" in body["detail"]
