"""A bill a tenant can read (issue 13), driven as people get it: ``meshmeter bill --format html|pdf`` on a
stored site with its owner, unit and account, and the stored bill's HTML and PDF over HTTP; read in Debian's
chromium at 375 and 1280 px and printed on US Letter.

What users saw, kept here as reproductions: a customer charge printed as ``1.0378856091450046977638584
month``; lines saying "period 3" where the tariff names its periods; zero-rate demand lines printed;
"Register reads: not given" though reads are stored; no owner, building, unit address, due date, payment
instructions or usage history; on a 375 px phone the amount column and the total cut off; in the PDF the
rates standing away from their header and the hashes filling the footer.

Every page of every PDF made here (and a screenshot of each HTML view) is kept as a PNG in
``$MESHMETER_TEST_ARTIFACTS``, default ``test-artifacts/bills/`` at the repository's root (ignored by git).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from meshmeter.api import Settings, create_app
from meshmeter.cli import app
from meshmeter.store import Store
from tests.billing.conftest import schedule
from tests.dashboard.conftest import CHROMIUM, CHROMIUM_ARGS, serve

pypdfium2 = pytest.importorskip("pypdfium2")

runner = CliRunner()
ENV = {"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}
LA = "America/Los_Angeles"
JULY = ["--start", "2026-07-01", "--end", "2026-08-01"]
NAMES = ["--period-names", "0=summer peak,1=summer off-peak,2=winter peak,3=winter off-peak"]
SERIAL = "MM00000009"
OWNER = "Oak Court Properties LLC"
OWNER_ADDRESS = "1200 Oak Street, Suite 100\nOakland, CA 94612"
UNIT_ADDRESS = "1200 Oak Street, Apt 4B\nOakland, CA 94612"
PAY = "Pay by check to Oak Court Properties LLC, or at the office, Monday to Friday 9-5."
START = datetime(2025, 7, 1, 7, tzinfo=UTC)  # local midnight, 1 July 2025
DATA_END = datetime(2026, 8, 3, 7, tzinfo=UTC)
JULY_START = datetime(2026, 7, 1, 7, tzinfo=UTC)
JULY_END = datetime(2026, 8, 1, 7, tzinfo=UTC)
ADMIN_TOKEN = "bill-readable-admin-" + "c" * 40

ARTIFACTS = (
    Path(os.environ.get("MESHMETER_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts")
    / "bills"
)


def run(*args: str) -> Any:
    return runner.invoke(app, list(args), env=ENV)


def month_wh(rows: list[tuple[datetime, int, int]], lo: datetime, hi: datetime) -> int:
    return sum(wh for t, wh, _ in rows if lo < t <= hi)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """
    A stored site as an operator has it: its owner, address, payment instructions and 21 due days; unit 4B
    with its address and meter; Tess Tenant's account 1001 from 1 July 2025; 13 months of validated
    15-minute intervals that vary by the hour and grow a little each month, 8 of July 2026's estimated;
    register reads at the start and end of July 2026. A second unit's meter, with no reads, for another
    account (Otto) whose usage must never show on Tess's bill.
    """
    url = f"sqlite:///{tmp_path_factory.mktemp('readable') / 'site.db'}"
    with Store(url) as store:
        oak = store.create_site(
            name="Oak Court", timezone=LA, owner_name=OWNER, owner_address=OWNER_ADDRESS,
            payment_instructions=PAY, due_days=21,
        )  # fmt: skip
        meter = store.create_meter(
            serial=SERIAL, designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=oak.id
        )
        other = store.create_meter(
            serial="MM00000010", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=oak.id
        )
        n = int((DATA_END - START).total_seconds() // 900)
        july0 = int((JULY_START - START).total_seconds() // 900)
        rows = []
        for i in range(n):
            t = START + timedelta(minutes=15 * (i + 1))
            wh = 150 + int(100 * math.sin(i / 96 * 2 * math.pi)) + (i // 2976) * 5
            rows.append((t, wh, 9 if july0 + 100 <= i < july0 + 108 else 0))
        store.put_validated_intervals(meter_id=meter.id, rows=rows, edited_by="vee", reason="test")
        store.put_validated_intervals(
            meter_id=other.id, rows=[(t, 9_000, 0) for t, _, _ in rows], edited_by="vee", reason="test"
        )
        opening = 12_345_678
        closing = opening + month_wh(rows, JULY_START, JULY_END)
        store.add_register_read(meter_id=meter.id, read_at=JULY_START, energy_wh=opening)
        store.add_register_read(meter_id=meter.id, read_at=JULY_END, energy_wh=closing)
        tess = store.create_tenant(name="Tess Tenant")
        unit = store.create_unit(site_id=oak.id, name="4B", meter_id=meter.id, address=UNIT_ADDRESS)
        account = store.open_account(tenant_id=tess.id, site_id=oak.id, opened_at=START)
        store.move_in(account_id=account.id, unit_id=unit.id, at=START)
        otto = store.create_tenant(name="Otto Other")
        unit2 = store.create_unit(site_id=oak.id, name="5C", meter_id=other.id, address="Apt 5C")
        account2 = store.open_account(tenant_id=otto.id, site_id=oak.id, opened_at=START)
        store.move_in(account_id=account2.id, unit_id=unit2.id, at=START)
        _, tess_token = store.create_api_token(role="tenant", account_id=account.id, label="Tess")
        _, otto_token = store.create_api_token(role="tenant", account_id=account2.id, label="Otto")
    return {
        "url": url, "rows": rows, "opening": opening, "closing": closing, "account": account.number,
        "tess_token": tess_token, "otto_token": otto_token,
    }  # fmt: skip


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def bill_file(site: dict[str, Any], tmp_path: Path, fmt: str, *extra: str) -> Path:
    out = tmp_path / f"bill.{fmt}"
    result = run(
        "bill", "--tariff", "example:e-tou-c-example", *NAMES, "--meter", SERIAL, *JULY,
        "--database", site["url"], "--format", fmt, "-o", str(out), *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def today_la() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(LA)).date()


def day(d: date) -> str:
    return f"{d:%b} {d.day}, {d.year}"


def pdf_pages(data: bytes, name: str, artifacts: Path, *, check_overlap: bool = True) -> list[str]:
    """The text of each page of a PDF, checked to have no two characters drawn over each other; each page
    kept as a PNG in the artifacts."""
    doc = pypdfium2.PdfDocument(data)
    texts = []
    for i in range(len(doc)):
        page = doc[i]
        page.render(scale=2).to_pil().save(artifacts / f"{name}-page{i + 1}.png")
        text = page.get_textpage()
        texts.append(text.get_text_range())
        if check_overlap:
            assert overlaps(text) == [], f"{name} page {i + 1}: text drawn over text"
    return texts


def overlaps(text: Any) -> list[str]:
    """Pairs of characters of a page whose boxes overlap (one drawn over another), as their text."""
    boxes = []
    for k in range(text.count_chars()):
        char = text.get_text_range(k, 1)
        if char.strip():
            left, bottom, right, top = text.get_charbox(k, loose=True)  # its advance and line height
            boxes.append((left, bottom, right, top, k))
    boxes.sort()
    found = []
    for a, (_, b1, r1, t1, k1) in enumerate(boxes):
        for l2, b2, r2, t2, k2 in boxes[a + 1 :]:
            if l2 >= r1 - 0.3:
                break
            if min(t1, t2) - max(b1, b2) > 0.5 and min(r1, r2) - l2 > 0.3:
                found.append(
                    text.get_text_range(max(0, k1 - 8), 16) + " / " + text.get_text_range(max(0, k2 - 8), 16)
                )
    return found


def right_edges(data: bytes, needle: str, page: int = 0) -> list[float]:
    """Right edge of each occurrence of ``needle`` on a PDF page: of its last character's advance, not
    of its ink (a "1" is inked left of its right edge). [pt]"""
    doc = pypdfium2.PdfDocument(data)
    text = doc[page].get_textpage()
    search = text.search(needle, match_case=True)
    edges = []
    while (found := search.get_next()) is not None:
        index, count = found
        edges.append(text.get_charbox(index + count - 1, loose=True)[2])
    return edges


# -----------------------------------------------------------------------------------------------------
# What the bill says
# -----------------------------------------------------------------------------------------------------


def test_the_html_bill_says_who_what_when_and_how_much(site, tmp_path):
    html = bill_file(site, tmp_path, "html").read_text(encoding="utf-8")
    issued = today_la()
    for needle in (
        OWNER, "1200 Oak Street, Suite 100", "Oakland, CA 94612", "Oak Court", "Tess Tenant", "Unit 4B",
        "1200 Oak Street, Apt 4B", "Account number", ">1001<", "Jul 1, 2026 – Jul 31, 2026 (31 days)",
        f"{day(issued)} (printed, not saved)", day(issued + timedelta(days=21)), PAY,
        "Quote account number <strong>1001</strong>",
    ):  # fmt: skip
        assert needle in html, needle
    # kWh per named period, never "period N"; the estimated share
    assert "summer peak" in html
    assert "summer off-peak" in html
    assert not re.search(r"period \d", html)
    july = month_wh(site["rows"], JULY_START, JULY_END)
    assert f"{july / 1000:,.3f} kWh" in html
    estimated = sum(wh for t, wh, q in site["rows"] if JULY_START < t <= JULY_END and q == 9)
    assert f"{estimated / 1000:,.3f} kWh ({100 * estimated / july:.1f} %)" in html  # 8 estimated intervals
    # reads from the store, said where they come from
    assert f'{site["opening"] / 1000:,.3f} <span class="source">(register read)</span>' in html
    assert f'{site["closing"] / 1000:,.3f} <span class="source">(register read)</span>' in html
    assert "not given" not in html
    # the 13-month chart, inline SVG, server-side: no script
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert svg.count("<rect") == 13
    assert "<script" not in html.lower()
    assert ">Jul</text>" in svg
    assert ">2025</text>" in svg
    assert ">2026</text>" in svg
    # no raw floats anywhere the tenant reads
    assert not re.search(r"\d\.\d{7,}", html.split('class="verification"')[0])
    # the verification data come last
    assert html.index("Verification data") > html.index("Total due") > html.index("Charges")


def test_history_is_the_accounts_own_monthly_kwh_in_local_months(site, tmp_path):
    """13 local months ending with the bill's; each month's kWh is the sum of its intervals by local
    midnight (not UTC), from the account's own meter only (Otto's 9 kWh intervals never show)."""
    doc = json.loads(bill_file(site, tmp_path, "json").read_text(encoding="utf-8"))
    history = doc["statement"]["history"]
    assert [m["month"] for m in history] == [
        f"{2025 + (6 + k) // 12}-{(6 + k) % 12 + 1:02d}" for k in range(13)
    ]
    tz = ZoneInfo(LA)
    for m in history:
        year, month = map(int, m["month"].split("-"))
        lo = datetime(year, month, 1, tzinfo=tz).astimezone(UTC)
        hi = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz).astimezone(UTC)
        assert m["energy_wh"] == month_wh(site["rows"], lo, hi), m["month"]
    assert [m["estimated_wh"] > 0 for m in history] == [False] * 12 + [True]
    assert doc["statement"]["account_number"] == site["account"]
    assert doc["statement"]["unit_address"] == UNIT_ADDRESS
    assert "issued" not in doc["statement"]  # the day it is saved, not part of the document


def test_a_shared_master_bill_gives_each_account_its_own_statement(site):
    """Maryland allocation: each unit's bill carries its own account number, unit and history."""
    result = run(
        "bill", "--mode", "maryland", "--site", "Oak Court", "--master-total", "500", "--admin-fee", "3.50",
        *JULY, "--database", site["url"], "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    bills = found["bills"] if isinstance(found, dict) else found
    statements = {b["statement"]["tenant"]: b["statement"] for b in bills}
    assert statements["Tess Tenant"]["unit"] == "4B"
    assert statements["Otto Other"]["unit"] == "5C"
    assert statements["Tess Tenant"]["account_number"] != statements["Otto Other"]["account_number"]
    july = month_wh(site["rows"], JULY_START, JULY_END)
    assert statements["Tess Tenant"]["history"][-1]["energy_wh"] == july
    assert statements["Otto Other"]["history"][-1]["energy_wh"] == 9_000 * 2976
    assert statements["Otto Other"]["payment_instructions"] == PAY


def test_zero_lines_are_not_printed_and_quantities_are_rounded(site, tmp_path, artifacts):
    """A tariff with zero-rate demand charges, named periods and a customer charge, over a period a day
    longer than the month: the demand lines are in the bill's data but not on paper; the customer charge
    reads 1.0323 months, not 1.0322580645..."""
    doc = {
        "name": "Zero-rate test",
        "energyratestructure": [[{"rate": 0.30}], [{"rate": 0.10}]],
        "energyweekdayschedule": schedule(range(16, 21), 0, 1),
        "energyweekendschedule": schedule(range(0), 0, 1),
        "energytoulabels": ["peak (4-9 pm on weekdays, holidays excluded, all year round)", "off-peak"],
        "demandratestructure": [[{"rate": 0}], [{"rate": 0}]],
        "demandweekdayschedule": schedule(range(16, 21), 0, 1),
        "demandweekendschedule": schedule(range(0), 0, 1),
        "fixedchargefirstmeter": 12.5,
        "fixedchargeunits": "$/month",
    }
    tariff = tmp_path / "zero.json"
    tariff.write_text(json.dumps(doc), encoding="utf-8")
    period = ["--start", "2026-07-01", "--end", "2026-08-02"]
    common = ["bill", "--tariff", str(tariff), "--meter", SERIAL, *period, "--database", site["url"]]
    data = json.loads(run(*common, "--json").output)
    kinds = {line["kind"] for line in data["lines"]}
    assert "demand" in kinds  # the engine keeps them, at a zero rate
    html_out, pdf_out = tmp_path / "z.html", tmp_path / "z.pdf"
    assert run(*common, "--format", "html", "-o", str(html_out)).exit_code == 0
    assert run(*common, "--format", "pdf", "-o", str(pdf_out)).exit_code == 0
    html = html_out.read_text(encoding="utf-8")
    pages = pdf_pages(pdf_out.read_bytes(), "zero-lines", artifacts)
    for text in (html, pages[0]):
        assert "demand" not in text.lower().replace("maximum 15-min demand", "")
        assert "1.0323" in text
        assert "1.032258" not in text
        assert "Energy, peak" in text
        assert "Energy, off-peak" in text
        assert not re.search(r"period \d", text)
    for line in data["lines"]:
        if line["rate"] != "0":
            assert line["description"] in html
    # the long description wraps in its column (no text over text: pdf_pages), its amount aligned
    amount = next(line["printed_amount"] for line in data["lines"] if "4-9 pm" in line["description"])
    header = right_edges(pdf_out.read_bytes(), "Amount (USD)")[0]
    assert any(abs(e - header) < 0.5 for e in right_edges(pdf_out.read_bytes(), amount))


def test_without_stored_reads_the_bill_says_where_its_reads_come_from(tmp_path):
    """A meter with no register read at the period's end: the closing read is the opening plus the
    intervals' energy, and the bill says so; with no read at all, it says "not read"."""
    url = f"sqlite:///{tmp_path / 'bare.db'}"
    with Store(url) as store:
        oak = store.create_site(name="Bare", timezone=LA)
        meter = store.create_meter(
            serial="MM1", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=oak.id
        )
        rows = [(JULY_START + timedelta(minutes=15 * (i + 1)), 100, 0) for i in range(2976)]
        store.put_validated_intervals(meter_id=meter.id, rows=rows, edited_by="vee", reason="test")
        store.add_register_read(meter_id=meter.id, read_at=JULY_START, energy_wh=5_000_000)
    out = tmp_path / "b.html"
    common = ["bill", "--tariff", "example:tiered-flat-example", "--meter", "MM1", *JULY, "--database", url]
    assert run(*common, "--format", "html", "-o", str(out)).exit_code == 0
    html = out.read_text(encoding="utf-8")
    assert '5,000.000 <span class="source">(register read)</span>' in html
    assert '5,297.600 <span class="source">(opening read plus the intervals&#39; energy)</span>' in html
    # no owner data: the bill still reads, and says to ask how to pay
    assert "Ask the owner or manager who sent this bill how to pay." in html
    csv = tmp_path / "MM1.csv"
    csv.write_text(
        "interval_end,energy_wh\n"
        + "".join(f"{t.isoformat().replace('+00:00', 'Z')},{wh}\n" for t, wh, _ in rows),
        encoding="utf-8",
    )
    bare = tmp_path / "c.html"
    result = run(
        "bill", "--tariff", "example:tiered-flat-example", "--intervals", str(csv), *JULY, "--timezone", LA,
        "--format", "html", "-o", str(bare),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "(not read)" in bare.read_text(encoding="utf-8")


def test_a_meter_exchanged_in_the_month_prints_each_meters_reads_and_the_exchange(tmp_path, artifacts):
    """Unit 2A's meter exchanged on 15 July: a reads row per meter, each read's source in words (stored
    read, final read at removal, first read at installation), and the exchange in the events list."""
    url = f"sqlite:///{tmp_path / 'exchange.db'}"
    at = datetime(2026, 7, 15, 7, tzinfo=UTC)
    with Store(url) as store:
        oak = store.create_site(name="Elm", timezone=LA, owner_name="Elm Homes", payment_instructions=PAY)
        old = store.create_meter(
            serial="OLD1", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=oak.id
        )
        new = store.create_meter(
            serial="NEW1", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=oak.id
        )
        rows = [(JULY_START + timedelta(minutes=15 * (i + 1)), 200, 0) for i in range(2976)]
        store.put_validated_intervals(
            meter_id=old.id, rows=[r for r in rows if r[0] <= at], edited_by="vee", reason="test"
        )
        store.put_validated_intervals(
            meter_id=new.id, rows=[r for r in rows if r[0] > at], edited_by="vee", reason="test"
        )
        store.add_register_read(meter_id=old.id, read_at=JULY_START, energy_wh=1_000_000)
        used_old = sum(wh for t, wh, _ in rows if t <= at)
        unit = store.create_unit(site_id=oak.id, name="2A", meter_id=old.id, address="2A Elm Street")
        tess = store.create_tenant(name="Tess Tenant")
        account = store.open_account(tenant_id=tess.id, site_id=oak.id, opened_at=START)
        store.move_in(account_id=account.id, unit_id=unit.id, at=START)
        store.exchange_meter(
            old_meter_id=old.id,
            new_meter_id=new.id,
            at=at,
            final_read_wh=1_000_000 + used_old,
            first_read_wh=0,
        )
    common = ["bill", "--tariff", "example:tiered-flat-example", "--meter", "NEW1", *JULY, "--database", url]
    html_out, pdf_out = tmp_path / "x.html", tmp_path / "x.pdf"
    result = run(*common, "--format", "html", "-o", str(html_out))
    assert result.exit_code == 0, result.output
    assert run(*common, "--format", "pdf", "-o", str(pdf_out)).exit_code == 0
    html = html_out.read_text(encoding="utf-8")
    reads = html[
        html.index('<table class="reads">') : html.index("</table>", html.index('<table class="reads">'))
    ]
    assert reads.split("<tbody>")[1].count("<tr>") == 2
    assert "OLD1" in reads
    assert "NEW1" in reads
    for source in ("(register read)", "(final read at removal)", "(first read at installation)"):
        assert source in reads, source
    assert "1,000.000" in reads
    assert f"{(1_000_000 + used_old) / 1000:,.3f}" in reads
    # the new meter has no read at the period's end: its closing is its first read plus its intervals
    used_new = sum(wh for _, wh, _ in rows) - used_old
    assert (
        f'{used_new / 1000:,.3f} <span class="source">(opening read plus the intervals&#39; energy)' in reads
    )
    assert '<ul class="events">' in html
    # the month's history runs across the exchange: both meters' kWh
    doc = json.loads(run(*common, "--json").output)
    assert doc["statement"]["history"][-1]["energy_wh"] == doc["energy_wh"] == sum(wh for _, wh, _ in rows)
    assert [m["energy_wh"] for m in doc["statement"]["history"][:-1]] == [None] * 12
    first = pdf_pages(pdf_out.read_bytes(), "exchange", artifacts)[0]
    assert "final read at removal" in first
    assert "first read at installation" in first
    assert "Tess Tenant" in first


# -----------------------------------------------------------------------------------------------------
# The PDF: columns aligned, the same content, hashes on the last page
# -----------------------------------------------------------------------------------------------------


def test_the_pdf_lines_up_and_keeps_the_hashes_for_its_last_page(site, tmp_path, artifacts):
    data = bill_file(site, tmp_path, "pdf").read_bytes()
    doc = json.loads(bill_file(site, tmp_path, "json").read_text(encoding="utf-8"))
    pages = pdf_pages(data, "cli-july", artifacts)
    assert len(pages) == 2
    first, last = pages
    issued = today_la()
    for needle in (
        OWNER, "Oakland, CA 94612", "Tess Tenant", "Unit 4B", "1200 Oak Street, Apt 4B", "1001",
        "Jul 1, 2026 - Jul 31, 2026 (31 days)", day(issued + timedelta(days=21)), PAY, "summer peak",
        "summer off-peak", "register read", "Monthly use (kWh)", doc["printed_total"],
    ):  # fmt: skip
        assert needle in first, needle
    sha = doc["inputs"]["tariff_sha256"]
    digest = doc["inputs"]["interval_digest"]
    assert sha not in first
    assert digest not in first  # not in the footer, nor anywhere on page 1
    assert sha in last.replace("\r\n", "").replace("\n", "")
    assert digest in last.replace("\r\n", "").replace("\n", "")
    assert "meshmeter-billing/1" in last
    # columns: each number's right edge is its right-aligned header's (within 0.5 pt)
    printed = [f"{float(line['printed_amount']):,.2f}" for line in doc["lines"] if line["rate"] != "0"]
    header = {h: right_edges(data, h) for h in ("Quantity", "Rate (USD)", "Amount (USD)")}
    assert all(len(v) == 1 for v in header.values()), header
    for amount in [*printed, doc["printed_total"]]:
        edges = right_edges(data, amount)
        assert edges, amount
        assert any(abs(e - header["Amount (USD)"][0]) < 0.5 for e in edges), (amount, edges, header)
    shown = [line for line in doc["lines"] if line["rate"] != "0"]
    rates = {f"{Decimal(line['rate']).normalize():f}".ljust(4, "0") for line in shown}
    quantities = {f"{round(Decimal(line['quantity']), 3):,.3f}" for line in shown if line["unit"] == "kWh"}
    assert len(quantities) >= 3  # the tiers of two periods
    for rate in rates:
        assert any(abs(e - header["Rate (USD)"][0]) < 0.5 for e in right_edges(data, rate)), rate
    for quantity in quantities:
        assert any(abs(e - header["Quantity"][0]) < 0.5 for e in right_edges(data, quantity)), quantity


# -----------------------------------------------------------------------------------------------------
# Stored bills over HTTP, and in the browser
# -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(site: dict[str, Any]) -> dict[str, Any]:
    """Tess's July bill saved from the command line; its id."""
    result = run(
        "bill", "--tariff", "example:e-tou-c-example", *NAMES, "--meter", SERIAL, *JULY,
        "--database", site["url"], "--save", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    found = re.search(r"(?:saved as|already stored as) bill (\d+)", result.output)
    assert found is not None, result.output
    with Store(site["url"]) as store:
        stored = store.get_bill(int(found.group(1)))
        assert stored is not None
        issued = stored.created_at.astimezone(ZoneInfo(LA)).date()
    return {"id": stored.id, "issued": issued, "total": stored.document["printed_total"]}


@pytest.fixture(scope="module")
def server(site: dict[str, Any], saved: dict[str, Any]) -> Iterator[str]:
    store = Store(site["url"])
    try:
        with serve(create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))) as url:
            yield url
    finally:
        store.close()


def test_the_stored_bill_over_http_is_the_same_bill_issued_when_saved(
    site, saved, server, tmp_path, artifacts
):
    import httpx

    tess = {"Authorization": f"Bearer {site['tess_token']}"}
    otto = {"Authorization": f"Bearer {site['otto_token']}"}
    html = httpx.get(f"{server}/bills/{saved['id']}", params={"format": "html"}, headers=tess)
    assert html.status_code == 200, html.text
    text = html.text
    assert f"<dt>Issue date</dt><dd>{day(saved['issued'])}</dd>" in text  # the day it was saved
    assert day(saved["issued"] + timedelta(days=21)) in text
    assert "printed, not saved" not in text
    assert OWNER in text
    assert "Unit 4B" in text
    assert "summer peak" in text
    assert saved["total"] in text
    # the saved statement is Tess's: the history is her meter's, nothing of Otto's 9 kWh intervals
    svg = text[text.index("<svg") : text.index("</svg>")]
    assert svg.count("<rect") == 13
    pdf = httpx.get(f"{server}/bills/{saved['id']}", params={"format": "pdf"}, headers=tess)
    assert pdf.status_code == 200
    pages = pdf_pages(pdf.content, "http-stored", artifacts)
    assert len(pages) == 2
    assert day(saved["issued"]) in pages[0]
    assert "printed, not saved" not in pages[0]
    # another account's tenant reads none of it
    for fmt in ("html", "pdf"):
        refused = httpx.get(f"{server}/bills/{saved['id']}", params={"format": fmt}, headers=otto)
        assert refused.status_code in (403, 404), refused.status_code
        assert "Tess" not in refused.text


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium under Playwright (never ``playwright install``)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser tests need {CHROMIUM}")
        pytest.skip(f"the browser tests need {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [(375, 800), (1280, 900)], ids=["phone", "desktop"])
def test_a_tenant_reads_the_printable_bill_on_a_phone_and_a_desktop(
    browser, site, saved, server, artifacts, viewport
):
    """The dashboard's printable view (under the dashboard's strict CSP): no horizontal scroll, the amounts
    and the total inside the viewport, no console error (a CSP refusal would be one)."""
    width, height = viewport
    ctx = browser.new_context(base_url=server, viewport={"width": width, "height": height})
    errors: list[str] = []
    try:
        page = ctx.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto("/dashboard/login")
        page.fill("#token", site["tess_token"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/dashboard/bills")
        response = page.goto("/dashboard/bills?bill=1&view=print")
        assert response is not None
        assert response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        for selector in ("#total", "#amount-due", "table.charges td.amount"):
            for box in [el.bounding_box() for el in page.query_selector_all(selector)]:
                assert box is not None, selector
                assert box["width"] > 0, selector
                assert box["x"] >= 0, (selector, box)
                assert box["x"] + box["width"] <= width, (selector, box)
        total = page.inner_text("#total")
        assert total == saved["total"]
        assert page.is_visible("#amount-due")
        assert page.is_visible("figure svg")
        page.screenshot(path=str(artifacts / f"print-view-{width}.png"), full_page=True)
        assert errors == []
    finally:
        ctx.close()


@pytest.mark.browser
def test_an_ordinary_month_prints_on_one_letter_page_then_the_verification_page(
    browser, site, saved, server, artifacts
):
    """Printed from chromium at US Letter: the bill on page 1 (owner to payment instructions), the
    verification data alone on page 2."""
    ctx = browser.new_context(
        base_url=server, extra_http_headers={"Authorization": f"Bearer {site['tess_token']}"}
    )
    try:
        page = ctx.new_page()
        page.goto(f"/bills/{saved['id']}?format=html")
        page.emulate_media(media="print")
        data = page.pdf(format="Letter", prefer_css_page_size=True, print_background=True)
    finally:
        ctx.close()
    (artifacts / "print-chromium.pdf").write_bytes(data)
    # chromium's own layout: its line boxes touch, so only its pages are looked at (the PNGs)
    pages = pdf_pages(data, "print-chromium", artifacts, check_overlap=False)
    assert len(pages) == 2, [p[:200] for p in pages]
    first, last = pages
    for needle in (OWNER, "Tess Tenant", "Total due", saved["total"], "How to pay", PAY[:40]):
        assert needle in first, needle
    assert "Verification data" not in first
    assert "Verification data" in last
    assert "SHA-256" in last
    assert "Total due" not in last
