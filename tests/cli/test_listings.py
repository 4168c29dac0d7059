"""Every listing of the command line: a table for people, names first, that fits the terminal, and
``--json`` for programs (issue 15, "Command line"); ``meshmeter cit`` names its devices.

Run as a user types the commands, through typer's runner, on the demo site (``meshmeter demo``: Mission
Court Apartments, 26 meters, units 101..., tenants and accounts, four named repeaters).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from meshmeter.cli import app
from meshmeter.cli.tables import fit_widths
from meshmeter.site.example import DEMO_SITE_NAME

runner = CliRunner()
START = "2026-06-01T07:00Z"


def run(*args: str, width: int = 100) -> Result:
    env = {"COLUMNS": str(width), "TERMINAL_WIDTH": str(width), "NO_COLOR": "1", "TERM": "dumb"}
    return runner.invoke(app, list(args), env=env)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("listings") / "demo.sqlite"
    url = f"sqlite:///{path}"
    result = run("demo", "--days", "1", "--no-serve", "--start", START, "--database", str(path), "--json")
    assert result.exit_code == 0, result.output
    made = run(
        "source", "add", "--site", DEMO_SITE_NAME, "--name", "tasmota-101", "--kind", "mqtt",
        "--format", "tasmota_counter", "--address", "mqtt://127.0.0.1:1883", "--database", url,
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    mapped = run(
        "source", "map", "tasmota-101", "--site", DEMO_SITE_NAME, "--device", "unit101", "--channel", "C1",
        "--meter", "MM26000001", "--unit", "pulse", "--wh-per-unit", "10", "--database", url,
    )  # fmt: skip
    assert mapped.exit_code == 0, mapped.output
    token = run("token", "create", "--role", "operator", "--label", "night shift", "--database", url)
    assert token.exit_code == 0, token.output
    return url


# (command, the headers in order, the --json keys of a row, a row's unit and tenant as the table shows them)
LISTINGS = [
    (
        ("meter", "list"),
        ["Unit", "Tenant", "Site", "Meter", "Role", "Make", "Ratings", "Limit Wh"],
        {"id", "serial", "site_id", "max_interval_energy_wh", "site", "unit", "tenant", "account"},
        ("Unit 101", "Alvarez household (1001)"),
    ),
    (
        ("unit", "list"),
        ["Unit", "Tenant", "Site", "Address", "Meter", "Area ft²", "People", "Id"],
        {"id", "site_id", "name", "meter", "occupied_by", "site", "tenant", "account"},
        ("101", "Alvarez household (1001)"),
    ),
    (
        ("tenant", "list"),
        ["Tenant", "Units now", "Accounts", "Id"],
        {"id", "name", "accounts", "units"},
        ("Alvarez household", "101"),
    ),
    (
        ("account", "list"),
        ["Tenant", "Account", "Units (meter)", "State", "Opened", "Site", "Id"],
        {"id", "number", "site_id", "tenant", "occupancies"},
        ("Alvarez household", "101 (MM26000001)"),
    ),
    (
        ("source", "list", "--site", DEMO_SITE_NAME),
        ["Source", "Feeds", "State", "Last reading", "Kind", "Refused", "Last error"],
        {"id", "name", "kind", "state", "channels"},
        ("tasmota-101", "Unit 101 (MM26000001, unit101/C1)"),
    ),
    (
        ("alerts", "--silence-hours", "1"),
        ["Unit", "Tenant", "Meter", "Alert", "Since"],
        {"kind", "at", "meter_id", "key", "meter", "unit", "tenant", "account", "meaning", "since"},
        ("Unit 101", "Alvarez household (1001)"),
    ),
    (
        ("token", "list"),
        ["Label", "Role", "Scope", "State", "Created", "Prefix", "Id"],
        {"id", "prefix", "role", "label", "account_id", "site_ids", "created_at", "revoked_at"},
        ("night shift", "operator"),
    ),
    (
        ("ingest-format", "list"),
        ["Format", "Kind"],
        {"name", "kind"},
        ("meshmeter-csv", "built-in"),
    ),
]
IDS = [" ".join(c[0][:2]) for c in LISTINGS]


def _header_line(out: str, first: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(first))


def _words(text: str) -> set[str]:
    return set(text.split())


@pytest.mark.parametrize(("command", "headers", "keys", "names"), LISTINGS, ids=IDS)
def test_a_listing_for_people_and_for_programs(
    demo: str, command: tuple[str, ...], headers: list[str], keys: set[str], names: tuple[str, str]
) -> None:
    tables = {}
    for width in (80, 160):
        result = run(*command, "--database", demo, width=width)
        assert result.exit_code == 0, result.output
        out = result.stdout
        assert all(len(line) <= width for line in out.splitlines()), (width, out)
        head = _header_line(out, headers[0])
        # every header shown whole, in order: names first
        assert re.match(r"\s*".join(re.escape(h) for h in headers), head.strip()), head
        tables[width] = out
    wide = tables[160]
    row = next(line for line in wide.splitlines()[1:] if line.startswith(names[0] + " "))
    assert names[1] in row, row
    # narrow: a word is wrapped whole or cut with an ellipsis, never cut silently
    cut = _words(tables[80]) - _words(wide)
    assert all(w.endswith("…") for w in cut), cut
    data = json.loads(run(*command, "--database", demo, "--json").stdout)
    assert data
    assert keys <= set(data[0]), data[0]


def test_names_in_json(demo: str) -> None:
    meters = {m["serial"]: m for m in json.loads(run("meter", "list", "--database", demo, "--json").stdout)}
    assert (meters["MM26000001"]["unit"], meters["MM26000001"]["account"]) == ("101", "1001")
    assert meters["MM26000001"]["tenant"] == "Alvarez household"
    alerts = json.loads(run("alerts", "--silence-hours", "1", "--database", demo, "--json").stdout)
    first = next(a for a in alerts if a["meter"] == "MM26000001")
    assert first["kind"] == "comm_loss"
    assert first["meaning"].startswith("Not reporting")
    assert first["at"].endswith("+00:00")  # a machine value: ISO-8601 UTC
    assert first["since"].endswith(("PST", "PDT"))  # for people: the site's local time
    sources = json.loads(run("source", "list", "--site", DEMO_SITE_NAME, "--database", demo, "--json").stdout)
    assert sources[0]["channels"][0]["names"]["label"] == "Unit 101"


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (("meter", "list"), "`meshmeter meter add`"),
        (("unit", "list"), "`meshmeter unit add`"),
        (("tenant", "list"), "`meshmeter tenant create NAME`"),
        (("account", "list"), "`meshmeter account create --tenant ID --site ID`"),
        (("token", "list"), "`meshmeter token create --role ROLE`"),
        (("alerts",), "No alert in force"),
        (("corrections", "list"), "no issued bill is affected"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else None,
)
def test_an_empty_listing_says_what_to_do(tmp_path: Path, command: tuple[str, ...], says: str) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    result = run(*command, "--database", url)
    assert result.exit_code == 0, result.output
    assert says in result.stdout
    assert json.loads(run(*command, "--database", url, "--json").stdout) in (
        [],
        {"affected": [], "issued": []},
    )


def test_an_empty_source_list_says_how_to_add_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'site.sqlite'}"
    made = run("site", "add", "--name", "Oak Court", "--timezone", "America/Los_Angeles", "--database", url)
    assert made.exit_code == 0, made.output
    result = run("source", "list", "--site", "Oak Court", "--database", url)
    assert result.exit_code == 0, result.output
    assert 'meshmeter source add --site "Oak Court"' in result.stdout


def test_cit_names_devices_by_unit_and_site_file(demo: str) -> None:
    for width in (80, 200):
        result = run("cit", "--database", demo, width=width)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert all(len(line) <= width for line in lines), (width, result.stdout)
        assert lines[0].startswith(f"{DEMO_SITE_NAME}: CIT report taken ")
        assert re.match(r"Device\s+Tenant\s+State\s+Parent\s+Hops\s+RSSI\s+Lost\s+EUI-64$", lines[1].strip())
    wide = result.stdout
    assert re.search(r"^MDT of Unit 101\s+Alvarez household \(1001\)\s+connected", wide, re.M), wide
    assert re.search(r"^R1 corridor west\s", wide, re.M)
    assert "MDTs joined 26 of 26" in wide
    data = json.loads(run("cit", "--database", demo, "--json").stdout)
    mdt = next(d for d in data["devices"] if d["meter"] == "MM26000001")
    assert (mdt["name"], mdt["unit"], mdt["tenant"], mdt["account"]) == (
        "MDT of Unit 101",
        "101",
        "Alvarez household",
        "1001",
    )
    assert (mdt["kind"], len(mdt["eui64"])) == ("mdt", 16)  # the report's own keys stay
    assert "rssi_dbm" in mdt
    assert {d["name"] for d in data["devices"] if d["kind"] == "repeater"} >= {"R1 corridor west"}


@pytest.mark.parametrize(
    ("natural", "long", "width", "expected"),
    [
        ([10, 20, 5], [False, True, False], 80, [10, 20, 5]),  # fits: as wide as the widest cell
        ([10, 30, 5], [False, True, False], 30, [10, 11, 5]),  # the long column gives way (30 - 2 gaps)
        ([10, 30, 20], [False, True, True], 40, [10, 13, 13]),  # the widest long one first
        ([12, 8, 5], [False, True, False], 20, [5, 8, 3]),  # then the short ones, down to a header
    ],
)
def test_fit_widths(natural: list[int], long: list[bool], width: int, expected: list[int]) -> None:
    headers = ["Meter", "Tenant", "Id"]
    cells = [["x" * n for n in natural]]
    assert fit_widths(headers, cells, long, width) == expected
