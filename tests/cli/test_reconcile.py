"""``meshmeter reconcile`` (issue 14): a site's master meter against its sub-meters from the command line,
on a SQLite file and on PostgreSQL.

The site is Birch Court of ``tests/headend/test_reconcile.py`` (built through the store and validated by
VEE; its figures are worked by hand there): ten local days of July 2026 in Los Angeles, U2's CT on the
wrong phase on 5 July (sub-meters 19,200 Wh above the master), an unmetered load on 9 July (remainder
33,600 Wh against a median of 9,600), U1's 12 quarter-hours missing on 3 July.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from meshmeter.cli import app
from meshmeter.store import Store
from tests.headend.test_reconcile import DAY_REMAINDERS, LA, Q, add_meter, build_birch
from tests.store.conftest import postgres_schema_url

__all__ = ["postgres_schema_url"]  # a fixture of these tests

runner = CliRunner()
ENV = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
PERIOD = ["--start", "2026-07-01", "--end", "2026-07-11"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Birch Court stored and validated; the database URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'reconcile.db'}"
    else:
        found: URL = request.getfixturevalue("postgres_schema_url")
        url = found.render_as_string(hide_password=False)
    with Store(url) as store:
        build_birch(store)
    return url


def run(database: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["reconcile", *args, "--database", database], env=ENV)
    return result.exit_code, result.stdout, result.stderr


def test_days_table_and_alerts(database: str) -> None:
    code, out, err = run(database, "Birch Court", *PERIOD)
    assert code == 0, out + err
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines() if "│" in line]
    table = {row[0]: row[1:] for row in cells}
    # 5 July: master 96.000, units (300 + 700) x 96 = 96.000, house 19.200, remainder -19.200 kWh, 120 %
    assert table["2026-07-05"] == [
        "96.000",
        "96.000",
        "19.200",
        "-19.200",
        "120.0 %",
        "96/96",
        "0/0",
        "0/0",
        "EXCESS",
    ]
    assert table["2026-07-03"][5:7] == ["84/96", "0/12"]  # U1's 12 quarter-hours missing, not reconciled
    assert table["2026-07-02"][7] == "0/1"  # U2's interval estimated
    assert table["Total"][:6] == ["972.000", "702.960", "189.600", "79.440", "91.8 %", "948/960"]
    assert "alert submeter_excess raised: submeter_excess:1:2026-07-05" in out
    assert "alert remainder_jump cleared: remainder_jump:1:2026-07-10:cleared" in out
    assert "warning: meter U1 (unit): 12 of 960 intervals missing" in err
    assert "2026-07-05: the sub-meters add up to 115.200 kWh, 19.200 kWh more than the master's" in err
    assert "manual §7" in err
    # again: the same alerts are stored already, none is added
    code, out, _ = run(database, "Birch Court", *PERIOD)
    assert code == 0
    assert "alert " not in out
    with Store(database) as store:
        kinds = sorted(e.kind for e in store.events())
    assert kinds == ["alert.remainder_jump"] * 2 + ["alert.submeter_excess"] * 2


def test_json_by_interval_and_month_without_alerts(database: str) -> None:
    args = ["1", "--start", "2026-07-05T00:00-07:00", "--end", "2026-07-05T01:00-07:00", "--by", "interval"]
    code, out, err = run(database, *args, "--json", "--no-alerts")
    assert code == 0, out + err
    data = json.loads(out)
    assert (data["site"], data["by"], data["interval_s"]) == ("Birch Court", "interval", 900)
    # each quarter-hour: 1000 - (300 + 700) - 200 = -200 Wh; tolerance ceil(9.6 + 5) + 4 x 10 = 55 Wh
    assert [(r["remainder_wh"], r["tolerance_wh"], r["excess"]) for r in data["rows"]] == [
        (-200, 55, True)
    ] * 4
    assert data["rows"][0]["start"] == "2026-07-05T07:00:00Z"
    assert data["excess_days"] == ["2026-07-05"]
    assert data["alerts"] == []
    code, out, _ = run(database, "Birch Court", *PERIOD, "--by", "month", "--json", "--no-alerts")
    data = json.loads(out)
    assert [r["remainder_wh"] for r in data["rows"]] == [sum(DAY_REMAINDERS)] == [79_440]
    assert [j["day"] for j in data["jumps"]] == ["2026-07-09"]
    assert data["alerts"] == []
    with Store(database) as store:
        assert store.events() == []  # --no-alerts stores nothing


def test_bad_input_is_refused_and_stores_nothing(database: str) -> None:
    cases = [
        (["Nowhere", *PERIOD], "site 'Nowhere' is not in the store"),
        (["Birch Court", "--start", "2026-07-05", "--end", "2026-07-01"], "--end must be after --start"),
        (["Birch Court", *PERIOD, "--by", "week"], "--by must be interval, day or month, got 'week'"),
        (["Birch Court", "--start", "July", "--end", "2026-07-11"], "--start"),
        (
            ["Birch Court", "--start", "2026-07-01T00:05-07:00", "--end", "2026-07-02"],
            "start must be on the 15-minute grid",
        ),
    ]
    for args, words in cases:
        code, out, err = run(database, *args)
        assert code == 2, (args, out, err)
        assert words in " ".join(err.split()), (args, err)
    with Store(database) as store:
        bare = store.create_site(name="No Master", timezone=LA)
        add_meter(store, bare.id, "NU", "unit", np.full(Q, 100, dtype=np.int64))
        birch = next(s for s in store.sites() if s.name == "Birch Court")
        store.create_meter(
            serial="M-BIS", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=birch.id, role="master"
        )
    code, _, err = run(database, "No Master", *PERIOD)
    assert code == 2
    assert "site 'No Master' has no master meter" in " ".join(err.split())
    code, _, err = run(database, "Birch Court", *PERIOD)
    assert code == 2
    assert "site 'Birch Court' has 2 master meters (M, M-BIS)" in " ".join(err.split())
    with Store(database) as store:
        assert store.events() == []
        assert store.outbox_pending() == 0
