"""``meshmeter allocate`` (issue 13): the house meter and the unmetered remainder shared among a site's
accounts by floor area, occupants or fixed shares, on a building an operator set up by the command line,
its intervals ingested from a CSV file and validated (``meshmeter ingest --vee``), on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from meshmeter.cli import app
from meshmeter.store import Store
from tests.store.conftest import postgres_schema_url  # noqa: F401 (a fixture, used by name)

runner = CliRunner()
ENV = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
JULY = ["--start", "2026-07-01", "--end", "2026-08-01"]
START = datetime(2026, 7, 1, 7, tzinfo=UTC)
"""Local midnight of 1 July 2026 in Los Angeles (PDT); July has 31 x 96 = 2976 quarter-hours."""
N = 2976

# Birch Court, July 2026 (31 days), worked by hand.
#
# Meters (each interval's energy, Wh):
#   U1  unit 1A,  700 ft², 2 occupants: 100 Wh x 2976                         =   297,600 Wh
#   U2  unit 2B,  900 ft², 3 occupants: 200 Wh x 2976                         =   595,200 Wh
#   U3  unit 3C, 1400 ft², 1 occupant:  300 Wh x 2976                         =   892,800 Wh
#   H1  house: 415 Wh for the first 2503 intervals, 414 for the other 473
#       = 2976 x 414 + 2503                                                   = 1,234,567 Wh
#   M1  master: 1177 Wh for the first 224 intervals, 1176 for the other 2752
#       = 2976 x 1176 + 224                                                   = 3,500,000 Wh
#   sub-meters 297,600 + 595,200 + 892,800 + 1,234,567 = 3,020,167 Wh; remainder 479,833 Wh.
#
# Accounts: Ann in 1A all month; Ben in 2B to 11 July (10 of 31 days, then 2B is vacant: the owner's);
# Dan in 3C to 21 July (20 days), Eve from 21 July (11 days).
#
# House at 0.25 USD/kWh: 1,234.567 x 0.25 = 308.64175 -> 308.64 USD = 30,864 cents, by floor area
# (3,000 ft²): weights 1A 700, 2B 900 x 10/31 = 290.32, 3C 1400, owner 900 x 21/31 = 609.68.
#   1A    30,864 x 700 / 3000          = 7,201.6   -> 7,201, remainder .6
#   2B    30,864 x 3 / 31              = 2,986.839 -> 2,986, remainder .839
#   3C    30,864 x 1400 / 3000         = 14,403.2  -> 14,403, remainder .2
#   owner 30,864 x 6.3 / 31            = 6,272.361 -> 6,272, remainder .361
#   floors 30,862: the 2 cents left to 2B (.839) and 1A (.6): 72.02 + 29.87 + 144.03 + 62.72 = 308.64.
#   3C's 14,403 cents by days, 20 : 11: Dan 9,292.258 -> 9,292; Eve 5,110.742 -> 5,110; 1 cent left to
#   Eve: Dan 92.92, Eve 51.11.
HOUSE_BY_AREA = {"Ann": "72.02", "Ben": "29.87", "Dan": "92.92", "Eve": "51.11"}
HOUSE_OWNER = "62.72"
#
# Remainder of a 517.23 USD master bill: 51,723 x 479,833 / 3,500,000 = 7,090.97 cents -> 70.91 USD, by
# occupants: weights 1A 2, 2B 3 x 10/31, 3C 1, owner 3 x 21/31, of 6.
#   1A    7,091 x 2 / 6                = 2,363.667 -> 2,363, remainder .667
#   2B    7,091 x 5 / 31               = 1,143.710 -> 1,143, remainder .710
#   3C    7,091 / 6                    = 1,181.833 -> 1,181, remainder .833
#   owner 7,091 x 10.5 / 31            = 2,401.790 -> 2,401, remainder .790
#   floors 7,088: 3 cents to 3C (.833), the owner (.790), 2B (.710): 23.63 + 11.44 + 11.82 + 24.02 = 70.91.
#   3C's 1,182 cents, 20 : 11: Dan 762.581 -> 762, Eve 419.419 -> 419; 1 cent to Dan: 7.63 and 4.19.
REMAINDER_BY_OCCUPANTS = {"Ann": "23.63", "Ben": "11.44", "Dan": "7.63", "Eve": "4.19"}
REMAINDER_OWNER = "24.02"


def run(*args: str) -> Result:
    return runner.invoke(app, list(args), env=ENV)


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def refused(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 2, result.output
    return " ".join(result.output.split())


def _energy(serial: str, k: int) -> int:
    return {
        "U1": 100,
        "U2": 200,
        "U3": 300,
        "H1": 415 if k < 2503 else 414,
        "M1": 1177 if k < 224 else 1176,
    }[serial]


def intervals_csv(path: Path) -> Path:
    """The operator's CSV of every meter's July quarter-hours (``docs/ingest.md``)."""
    lines = ["meter,interval_end,energy_wh"]
    for serial in ("U1", "U2", "U3", "H1", "M1"):
        t = START
        for k in range(N):
            t += timedelta(minutes=15)
            lines.append(f"{serial},{t.isoformat().replace('+00:00', 'Z')},{_energy(serial, k)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Birch Court set up by the command line, its July ingested and validated; the database URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'allocate.db'}"
    else:
        url = str(request.getfixturevalue("postgres_schema_url").render_as_string(hide_password=False))
    db = ("--database", url)
    ok("site", "add", "--name", "Birch Court", "--timezone", "America/Los_Angeles", *db)
    for serial, role in (("U1", "unit"), ("U2", "unit"), ("U3", "unit"), ("H1", "house"), ("M1", "master")):
        ok("meter", "add", "--serial", serial, "--site-id", "1", "--role", role, *db)
    ok(
        "unit",
        "add",
        "--site",
        "1",
        "--name",
        "1A",
        "--meter",
        "U1",
        "--floor-area",
        "700",
        "--occupants",
        "2",
        *db,
    )
    ok(
        "unit",
        "add",
        "--site",
        "1",
        "--name",
        "2B",
        "--meter",
        "U2",
        "--floor-area",
        "900",
        "--occupants",
        "3",
        *db,
    )
    ok("unit", "add", "--site", "1", "--name", "3C", "--meter", "U3", *db)  # its area and occupants later
    for k, (name, unit, move_in, move_out) in enumerate(
        (
            ("Ann", "1A", "2026-06-01", None),
            ("Ben", "2B", "2026-05-01", "2026-07-11"),
            ("Dan", "3C", "2026-01-01", "2026-07-21"),
            ("Eve", "3C", "2026-07-21", None),
        ),
        start=1,
    ):
        ok("tenant", "create", "--name", name, *db)
        ok("account", "create", "--tenant", str(k), "--site", "1", "--opened", "2026-01-01", *db)
        ok("account", "move-in", str(k), "--unit", unit, "--at", move_in, *db)
        if move_out is not None:
            ok("account", "move-out", str(k), "--at", move_out, *db)
    ingested = json.loads(ok("ingest", str(intervals_csv(tmp_path / "july.csv")), "--vee", "--json", *db))
    assert ingested, ingested
    return url


def allocate(database: str, *args: str) -> dict:
    return json.loads(ok("allocate", "Birch Court", *JULY, *args, "--database", database, "--json"))


def by_tenant(doc: dict, what: str) -> dict[str, str]:
    label = {"house": "Common area (house meter)", "remainder": "Unmetered remainder"}[what]
    return {
        a["tenant"]: next(line["amount"] for line in a["lines"] if line["description"].startswith(label))
        for a in doc["accounts"]
    }


def test_the_house_meter_shared_by_floor_area_adds_up_to_the_cent(database: str) -> None:
    # 3C has no floor area yet: refused, naming it, and nothing else is said to be wrong
    message = refused("allocate", "Birch Court", *JULY, "--by", "area", "--what", "house", "--rate", "0.25",
                      "--database", database)  # fmt: skip
    assert "unit(s) 3C have no floor area" in message
    ok("unit", "set", "3", "--floor-area", "1400", "--occupants", "1", "--database", database)
    doc = allocate(database, "--by", "area", "--what", "house", "--rate", "0.25")
    (house,) = doc["amounts"]
    assert house["energy_wh"] == 1_234_567
    assert house["amount"] == "308.64"
    assert house["owner_share"] == HOUSE_OWNER
    assert by_tenant(doc, "house") == HOUSE_BY_AREA
    assert sum(Decimal(s) for s in HOUSE_BY_AREA.values()) + Decimal(HOUSE_OWNER) == Decimal("308.64")
    assert doc["vacant_units"] == []  # 2B is vacant for part of the month only: the owner's part
    occupied = {a["tenant"]: a["occupied"] for a in doc["accounts"]}
    assert occupied == {"Ann": "1", "Ben": "10/31", "Dan": "20/31", "Eve": "11/31"}
    lines = {a["tenant"]: a["lines"][0] for a in doc["accounts"]}
    assert lines["Ben"]["kind"] == "allocation"
    assert lines["Ben"]["description"] == "Common area (house meter), by floor area: 290.323 of 3,000 ft²"
    assert lines["Ann"]["description"] == "Common area (house meter), by floor area: 700 of 3,000 ft²"
    # the table for people: every account's share, the owner's and the total
    table = ok("allocate", "Birch Court", *JULY, "--by", "area", "--what", "house", "--rate", "0.25",
               "--database", database)  # fmt: skip
    for name, share in HOUSE_BY_AREA.items():
        assert share in next(row for row in table.splitlines() if f" {name} " in row)
    assert HOUSE_OWNER in next(row for row in table.splitlines() if "Owner (vacancy)" in row)
    assert "308.64" in next(row for row in table.splitlines() if row.strip("│ ").startswith("Total"))


def test_the_remainder_of_the_master_meter_shared_by_occupants(database: str) -> None:
    ok("unit", "set", "3", "--floor-area", "1400", "--occupants", "1", "--database", database)
    doc = allocate(database, "--by", "occupants", "--what", "remainder", "--master-total", "517.23")
    assert doc["master_energy_wh"] == 3_500_000
    assert doc["master_source"] == "meter M1"
    assert doc["remainder_wh"] == 479_833
    (remainder,) = doc["amounts"]
    assert remainder["amount"] == "70.91"
    assert remainder["owner_share"] == REMAINDER_OWNER
    assert by_tenant(doc, "remainder") == REMAINDER_BY_OCCUPANTS
    assert sum(Decimal(s) for s in REMAINDER_BY_OCCUPANTS.values()) + Decimal(REMAINDER_OWNER) == Decimal(
        "70.91"
    )
    # both at once: the house at the master bill's average price, each account two lines
    both = allocate(database, "--by", "occupants", "--master-total", "517.23")
    house, rest = both["amounts"]
    # 51,723 x 1,234,567 / 3,500,000 = 18,244.23 cents -> 182.44 USD
    assert (house["amount"], rest["amount"]) == ("182.44", "70.91")
    assert all(len(a["lines"]) == 2 for a in both["accounts"])
    total = sum(Decimal(a["total"]) for a in both["accounts"]) + Decimal(both["owner_share"])
    assert total == Decimal(both["total"]) == Decimal("253.35")


def test_fixed_shares_from_a_file(database: str, tmp_path: Path) -> None:
    shares = tmp_path / "shares.csv"
    shares.write_text("unit,share\n1A,0.25\n2B,0.35\n3C,0.40\n", encoding="utf-8")
    doc = allocate(database, "--by", "shares", "--shares", str(shares), "--what", "house", "--rate", "0.25")
    # 30,864 cents: 1A 0.25 -> 7,716; 2B 0.35 x 10/31 -> 108,024 / 31 = 3,484.645 -> 3,484 (.645);
    # 3C 0.40 -> 12,345.6 -> 12,345 (.6); owner 0.35 x 21/31 -> 226,850.4 / 31 = 7,317.755 -> 7,317 (.755);
    # 2 cents to the owner and 2B: 77.16, 34.85, 123.45 and the owner's 73.18.
    # 3C's 12,345 by 20 : 11: Dan 7,964.516 -> 7,964 (+1), Eve 4,380.484 -> 4,380: 79.65 and 43.80.
    assert by_tenant(doc, "house") == {"Ann": "77.16", "Ben": "34.85", "Dan": "79.65", "Eve": "43.80"}
    assert doc["amounts"][0]["owner_share"] == "73.18"
    before = Path(database.removeprefix("sqlite:///")).read_bytes() if database.startswith("sqlite") else None
    shares.write_text("unit,share\n1A,0.25\n2B,0.35\n4D,0.30\n", encoding="utf-8")
    message = refused("allocate", "Birch Court", *JULY, "--by", "shares", "--shares", str(shares),
                      "--what", "house", "--rate", "0.25", "--database", database)  # fmt: skip
    assert "shares name units the site does not have: 4D" in message
    assert "shares give no share to unit(s) 3C" in message
    assert "the shares must add up to 1 exactly, they add up to 0.90" in message
    shares.write_text('{"1A": 0.25, "2B": 0.35, "3C": 0.30}', encoding="utf-8")
    message = refused("allocate", "Birch Court", *JULY, "--by", "shares", "--shares", str(shares),
                      "--what", "house", "--rate", "0.25", "--database", database)  # fmt: skip
    assert "the shares must add up to 1 exactly, they add up to 0.90" in message
    if before is not None:  # nothing was written
        assert Path(database.removeprefix("sqlite:///")).read_bytes() == before


def test_sub_meters_above_the_master_are_refused_as_a_wiring_fault(database: str) -> None:
    ok("unit", "set", "3", "--floor-area", "1400", "--database", database)
    message = refused("allocate", "Birch Court", *JULY, "--by", "area", "--what", "remainder",
                      "--master-total", "517.23", "--master-kwh", "3000", "--database", database)  # fmt: skip
    assert "add up to 3020.167 kWh, more than the master's 3000.000 kWh (given)" in message
    assert "manual §7" in message


def test_bad_input_is_named_all_at_once(database: str) -> None:
    message = refused("allocate", "Birch Court", *JULY, "--by", "volume", "--what", "all",
                      "--rate", "cheap", "--master-kwh", "1.0005", "--database", database)  # fmt: skip
    for part in (
        "--by must be area, occupants or shares, got 'volume'",
        "--what must be house, remainder or both, got 'all'",
        "--rate must be a number [USD/kWh], got 'cheap'",
        "--master-kwh must be positive, to the Wh (3 decimals), got 1.0005",
    ):
        assert part in message
    message = refused("allocate", "Birch Court", *JULY, "--by", "occupants", "--database", database)
    assert "unit(s) 3C have no occupants given" in message
    assert "the remainder needs the master bill's total" in message
    assert "the house energy needs a price" in message
    unknown = refused("allocate", "Nowhere", *JULY, "--by", "area", "--database", database)
    assert "site 'Nowhere' is not in the store (meshmeter site add)" in unknown


def test_unit_settings_are_checked_and_recorded(database: str) -> None:
    message = refused("unit", "set", "3", "--floor-area", "-5", "--occupants", "-1", "--database", database)
    assert "floor_area_ft2 must be a finite number > 0, got -5.0" in message
    assert "occupants must be a whole number of people, 0 or more, got -1" in message
    assert "unit_id 99 is not a known unit" in refused(
        "unit", "set", "99", "--occupants", "2", "--database", database
    )
    assert "nothing to set" in refused("unit", "set", "3", "--database", database)
    changed = json.loads(
        ok("unit", "set", "3", "--floor-area", "1400", "--occupants", "1", "--json", "--database", database)
    )
    assert (changed["floor_area_ft2"], changed["occupants"]) == (1400.0, 1)
    ok("unit", "set", "3", "--clear", "occupants", "--database", database)
    with Store(database) as store:
        unit = store.get_unit(unit_id=3)
        assert (unit.floor_area_ft2, unit.occupants) == (1400.0, None)
        updates = [e for e in store.tenancy_history() if e.kind == "unit_updated"]
    assert [e.detail["changed"] for e in updates] == [
        {"floor_area_ft2": [None, 1400.0], "occupants": [None, 1]},
        {"occupants": [1, None]},
    ]
    assert all(e.unit_id == 3 and "meshmeter unit set" in e.recorded_by for e in updates)
    listed = {
        u["name"]: u for u in json.loads(ok("unit", "list", "--site", "1", "--json", "--database", database))
    }
    assert (listed["1A"]["floor_area_ft2"], listed["1A"]["occupants"]) == (700.0, 2)


def test_missing_intervals_refuse_the_remainder_and_warn_for_the_house(database: str) -> None:
    """A period a day past the data: every meter has 96 quarter-hours missing of 3072. The remainder would
    charge the missing energy to everyone: refused, naming each meter; the house alone is shared with a
    warning (its missing day is not billed to anyone)."""
    ok("unit", "set", "3", "--floor-area", "1400", "--database", database)
    longer = ["--start", "2026-07-01", "--end", "2026-08-02"]
    message = refused("allocate", "Birch Court", *longer, "--by", "area", "--what", "remainder",
                      "--master-total", "517.23", "--database", database)  # fmt: skip
    for serial in ("U1", "U2", "U3", "H1", "M1"):
        assert f"meter {serial} has 96 of 3072 intervals missing or failed VEE" in message
    result = run("allocate", "Birch Court", *longer, "--by", "area", "--what", "house", "--rate", "0.25",
                 "--database", database, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "warning: house meter H1: 96 of 3072 intervals missing or failed VEE" in result.stderr
    doc = json.loads(result.stdout)
    assert doc["amounts"][0]["amount"] == "308.64"  # the same July energy
    assert doc["warnings"] == [
        "house meter H1: 96 of 3072 intervals missing or failed VEE, their energy is not shared"
    ]
