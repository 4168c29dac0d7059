"""What each alert means and what to do, in one table (services/alert_words.py, issue 15): every kind the
head-end can raise has its words, and ``meshmeter alerts``, the dashboard's overview and ``GET /alerts``
say the same words of the same alert.

A store of two sites: Oak Court's unit 101 (the Alvarez household) has a reversed CT, a low MDT battery
and a silent pulse counter; Harbor Lofts' meter has its cover open. The command runs as a user types it
(typer's runner); the page and the API are read through the app with the admin's token.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from meshmeter.api import Settings, create_app
from meshmeter.cli import app as cli
from meshmeter.headend.alerts import AlertKind, raise_alert
from meshmeter.services.alert_words import ALERT_WORDS
from meshmeter.store import Store
from tests.dashboard.conftest import ADMIN_TOKEN

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)
RAISED = datetime(2026, 3, 9, 9, 30, tzinfo=UTC)
"""When Oak Court's alerts were raised: 02:30 PDT."""


def test_every_kind_the_head_end_can_raise_has_its_words() -> None:
    # AlertKind is the enumeration: raise_alert refuses any other kind, and alerts() reads only these
    assert set(ALERT_WORDS) == set(AlertKind)
    for kind, words in ALERT_WORDS.items():
        assert words.meaning[:1].isupper(), kind  # a heading
        assert words.action[:1].islower(), kind  # follows the meaning after a colon
        assert not words.action.endswith("."), kind
    assert len({w.action for w in ALERT_WORDS.values()}) == len(ALERT_WORDS)  # each says its own
    with Store("sqlite://") as store, pytest.raises(ValueError, match="smoke"):
        raise_alert(store, "smoke", at=RAISED)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('alert_words') / 'two_sites.sqlite'}"
    with Store(url) as store:
        oak = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
        harbor = store.create_site(name="Harbor Lofts", timezone="America/New_York")
        m101 = store.create_meter(
            serial="MM1", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=oak.id
        )
        m5a = store.create_meter(
            serial="HL1", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=harbor.id
        )
        unit = store.create_unit(site_id=oak.id, name="101", meter_id=m101.id)
        store.create_unit(site_id=harbor.id, name="5A", meter_id=m5a.id)
        alvarez = store.create_tenant(name="Alvarez household")
        account = store.open_account(tenant_id=alvarez.id, site_id=oak.id, number="1001", opened_at=T0)
        store.move_in(account_id=account.id, unit_id=unit.id, at=T0)
        # heard up to the alerts: the overview judges the site as of then, and 101 is not silent
        for meter in (m101, m5a):
            csv = "meter,interval_end,energy_wh\n" + f"{meter.serial},{RAISED.isoformat()},100\n"
            path = Path(url.removeprefix("sqlite:///")).with_suffix(f".{meter.serial}.csv")
            path.write_text(csv, encoding="utf-8")
            assert CliRunner().invoke(cli, ["ingest", str(path), "--database", url]).exit_code == 0
        raise_alert(
            store,
            AlertKind.REVERSE_PHASE,
            at=RAISED,
            meter_id=m101.id,
            detail={"elements": [2], "element_power_w": [512.0, -499.0]},
        )
        raise_alert(store, AlertKind.LOW_BATTERY, at=RAISED, meter_id=m101.id, detail={"fraction_left": 0.09})
        raise_alert(
            store, AlertKind.SOURCE_COMM_LOSS, at=RAISED, meter_id=m101.id, detail={"source": "tasmota-101"}
        )
        raise_alert(store, AlertKind.TAMPER, at=RAISED, meter_id=m5a.id)
    return url


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[TestClient]:
    store = Store(url)
    try:
        app = create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development"))
        with TestClient(app) as c:
            yield c
    finally:
        store.close()


def _alerts(url: str, *args: str) -> list[dict[str, Any]]:
    env = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    # a silence threshold longer than the time since the last interval: the test sees only its alerts
    result = CliRunner().invoke(
        cli, ["alerts", "--silence-hours", "1e6", *args, "--database", url, "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip().replace(" :", ":")


def test_the_command_the_overview_and_the_api_say_the_same_words(url: str, client: TestClient) -> None:
    rows = _alerts(url, "--site", "Oak Court")
    assert {r["kind"] for r in rows} == {"reverse_phase", "low_battery", "source_comm_loss"}
    by_kind = {r["kind"]: r for r in rows}
    assert by_kind["reverse_phase"]["meaning"] == "Reverse phase on element 2 (CT2)"
    assert by_kind["low_battery"]["meaning"] == "MDT battery low (9 % left)"
    assert by_kind["low_battery"]["action"] == ALERT_WORDS[AlertKind.LOW_BATTERY].action
    assert all(r["unit"] == "101" and r["tenant"] == "Alvarez household" for r in rows)

    page = client.get("/dashboard", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert page.status_code == 200
    item = re.search(r'<li data-serial="MM1"[^>]*>(.*?)</ul>\s*</li>', page.text, re.S)
    assert item is not None, page.text
    said = _text(item.group(1))
    for r in rows:  # 02:30 PDT, the day the site is judged at
        assert f"{r['meaning']} since 02:30: {r['action']}" in said, (r, said)

    api = client.get("/alerts", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()["data"]
    words = {(a["kind"], a["meaning"], a["action"]) for a in api if a["meter"] == "MM1"}
    assert words == {(r["kind"], r["meaning"], r["action"]) for r in rows}


def test_the_table_names_first_and_says_what_to_do(url: str) -> None:
    env = {"COLUMNS": "200", "TERMINAL_WIDTH": "200", "NO_COLOR": "1", "TERM": "dumb"}
    result = CliRunner().invoke(
        cli, ["alerts", "--silence-hours", "1e6", "--site", "Harbor Lofts", "--database", url], env=env
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.match(r"Unit\s+Tenant\s+Meter\s+Alert\s+Since\s+What to do", lines[0]), lines[0]
    (row,) = [line for line in lines if line.startswith("Unit 5A")]
    tamper = ALERT_WORDS[AlertKind.TAMPER]
    assert tamper.meaning in row
    assert "inspect the meter and its seals" in row
    assert "2026-03-09 05:30 EDT" in row  # the site's local time
    assert "Unit 101" not in result.stdout  # Oak Court's alerts are not Harbor Lofts'
    assert len(lines) == 2


def test_an_unknown_site_is_refused_with_the_sites_named(url: str) -> None:
    result = CliRunner().invoke(cli, ["alerts", "--site", "Elm Row", "--database", url])
    assert result.exit_code == 2
    assert "'Oak Court', 'Harbor Lofts'" in result.output
