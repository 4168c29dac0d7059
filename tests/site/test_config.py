"""Site files: the demo building parses as described, and every mistake names its line and field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from meshmeter.amr.topology import DeviceKind
from meshmeter.site.config import SiteFileError, load_site, parse_site
from meshmeter.site.example import demo_site_toml

MINIMAL = """\
[site]
name = "Small"
timezone = "America/Los_Angeles"
latitude_deg = 37.7
longitude_deg = -122.4

[dcap]
position_m = [0.0, 0.0]

[[repeaters]]
name = "R1"
position_m = [10.0, 0.0]
power_up = 1

[[repeaters]]
name = "R2"
position_m = [30.0, 0.0]
power_up = 2

[[meters]]
serial = "MM00000001"
ct = "CDA02-K12"
unit = "1A"
[meters.load]
annual_kwh = 4000
[meters.mdt]
position_m = [5.0, 3.0]

[[meters]]
serial = "MM00000002"
kind = "solar"
[meters.load]
dc_capacity_kw = 5.0
[meters.mdt]
position_m = [6.0, 3.0]
walls = 2

[[tenants]]
name = "Ada"

[[accounts]]
tenant = "Ada"
meter = "MM00000001"
move_in = 2026-01-01
move_out = 2026-06-30T12:00:00-07:00
"""


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing needle."""
    hits = [k for k, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def test_minimal_site() -> None:
    c = parse_site(MINIMAL)
    assert c.name == "Small"
    assert [m.kind for m in c.meters] == ["unit", "solar"]
    assert c.meters[0].load.profile == "household"
    assert c.meters[1].load.profile == "solar"
    assert c.meters[0].ct_ratio == 2000.0  # 200:0.1 A (certificate p.1)
    assert c.power_order == "near-first"
    # a date alone is local midnight; an offset is honoured
    assert c.accounts[0].move_in == datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert c.accounts[0].move_out == datetime(2026, 6, 30, 19, tzinfo=UTC)
    assert c.accounts[0].unit == "1A"
    layout = c.layout()
    assert layout.kinds[0] is DeviceKind.DCAP
    assert layout.kinds.count(DeviceKind.REPEATER) == 2
    # MDT 2 at 6 m from the DCAP: no wall by distance, two of its own
    assert layout.walls[0, 4] == 0 + 2
    assert layout.walls[0, 2] == 3  # R2 at 30 m: one wall per 10 m


def test_the_demo_building() -> None:
    c = parse_site(demo_site_toml())
    kinds = [m.kind for m in c.meters]
    assert kinds.count("unit") == 24
    assert kinds.count("house") == 1
    assert kinds.count("solar") == 1
    assert all(m.mdt is not None for m in c.meters)  # each with its MDT
    assert len({m.unit for m in c.meters}) == 26
    assert len(c.repeaters) == 4
    # the DCAP is device 0 (powered first); repeaters numbered nearest the DCAP first (manual §5.2)
    dist = [
        np.hypot(r.position_m[0] - c.dcap.position_m[0], r.position_m[1] - c.dcap.position_m[1])
        for r in c.repeaters
    ]
    by_order = [d for _, d in sorted(zip([r.power_up for r in c.repeaters], dist, strict=True))]
    assert by_order == sorted(by_order)
    assert c.power_order == "near-first"
    assert c.warnings == ()
    assert {a.meter for a in c.accounts} == {m.serial for m in c.meters if m.kind != "solar"}


def test_load_site_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_site(path).name == "Small"
    with pytest.raises(SiteFileError, match="cannot read"):
        load_site(tmp_path / "missing.toml")


def replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "field", "needle", "message"),
    [
        ('timezone = "America/Los_Angeles"', 'timezone = "Mars/Olympus"', "site.timezone", "Mars", "IANA"),
        ('name = "Small"\n', "", "site.name", "[site]", "missing"),
        ("[dcap]\nposition_m = [0.0, 0.0]", "[dcap]\nposition_m = [0.0]", "dcap.position_m", "[0.0]", "x, y"),
        ('ct = "CDA02-K12"', 'ct = "CT100"', "meters[0].ct", "CT100", "not a valid"),
        ('serial = "MM00000002"', 'serial = "MM00000001"', "meters[1].serial", "MM00000001", "already"),
        ("annual_kwh = 4000", "annual_kwh = -1", "meters[0].load.annual_kwh", "annual_kwh", ">= 0"),
        (
            "dc_capacity_kw = 5.0",
            "tilt_deg = 10.0",
            "meters[1].load.dc_capacity_kw",
            "[meters.load]",
            "missing",
        ),
        ("walls = 2", "walls = 2\nmetal_box = 1", "meters[1].mdt.metal_box", "metal_box", "true or false"),
        ("walls = 2", 'walls = 2\nkit = "MMSMT-D02"', "meters[1].mdt.kit", "MMSMT-D02", "one kit"),
        ("walls = 2", 'walls = 2\ncolour = "red"', "meters[1].mdt.colour", "colour", "not a known field"),
        ('unit = "1A"\n', "", "meters[0].unit", "[[meters]]", "missing"),
        ('kind = "solar"', 'kind = "wind"', "meters[1].kind", "wind", "one of"),
        (
            'unit = "1A"\n',
            'unit = "1A"\nfloor_area_ft2 = 0\n',
            "meters[0].floor_area_ft2",
            "floor_area",
            "> 0",
        ),
        ('unit = "1A"\n', 'unit = "1A"\noccupants = -1\n', "meters[0].occupants", "occupants", ">= 0"),
        ('kind = "solar"', 'kind = "solar"\noccupants = 2', "meters[1].occupants", "occupants", "of a unit"),
        ('tenant = "Ada"', 'tenant = "Bob"', "accounts[0].tenant", "Bob", "not one of"),
        ('meter = "MM00000001"', 'meter = "MM9"', "accounts[0].meter", "MM9", "not the serial"),
        (
            "move_out = 2026-06-30T12:00:00-07:00",
            "move_out = 2025-06-30",
            "accounts[0].move_out",
            "2025-06-30",
            "after",
        ),
        ("move_in = 2026-01-01", 'move_in = "soon"', "accounts[0].move_in", "soon", "date"),
        ("power_up = 2", "power_up = 1", "repeaters[1].power_up", "power_up = 1", "1 to 2"),
        ("power_up = 2\n", "", "repeaters[1].power_up", "[[repeaters]]", "missing"),
        ('name = "R2"', 'name = "R1"', "repeaters[1].name", 'name = "R1"', "two devices"),
        ("longitude_deg = -122.4\n", "", "meters[1].load.profile", "[meters.load]", "latitude_deg"),
    ],
)
def test_errors_name_the_line_and_field(old: str, new: str, field: str, needle: str, message: str) -> None:
    text = replace(MINIMAL, old, new)
    with pytest.raises(SiteFileError, match=message) as info:
        parse_site(text, source="s.toml")
    err = info.value
    assert err.field == field
    occurrence = (
        2
        if (needle, field)
        in {
            ('name = "R1"', "repeaters[1].name"),
            ("MM00000001", "meters[1].serial"),
            ("power_up = 1", "repeaters[1].power_up"),
            ("[meters.load]", "meters[1].load.dc_capacity_kw"),
            ("[meters.load]", "meters[1].load.profile"),
            ("[[repeaters]]", "repeaters[1].power_up"),
        }
        else 1
    )
    assert err.line == line_of(text, needle, occurrence)
    assert str(err).startswith(f"s.toml:{err.line}: {field}: ")


def test_syntax_errors_carry_tomllibs_line() -> None:
    text = MINIMAL.replace("walls = 2", "walls = = 2")
    with pytest.raises(SiteFileError, match="not valid TOML") as info:
        parse_site(text)
    assert info.value.line == line_of(text, "walls = = 2")


def test_power_up_far_first_is_a_warning_and_an_odd_order_an_error() -> None:
    far = (
        MINIMAL.replace("power_up = 1", "power_up = X")
        .replace("power_up = 2", "power_up = 1")
        .replace("power_up = X", "power_up = 2")
    )
    c = parse_site(far)
    assert c.power_order == "far-first"
    assert any("§5.2" in w for w in c.warnings)
    three = MINIMAL.replace(
        "[[meters]]",
        '[[repeaters]]\nname = "R3"\nposition_m = [20.0, 0.0]\npower_up = 3\n\n[[meters]]',
        1,
    )
    with pytest.raises(SiteFileError, match="neither") as info:
        parse_site(three)
    assert info.value.field == "repeaters[0].power_up"


def test_cautions_and_unbilled_units_are_warnings() -> None:
    text = MINIMAL.replace("walls = 2", "walls = 2\nmetal_wall = true").replace(
        "[[accounts]]", "[[accounts_]]"
    )
    with pytest.raises(SiteFileError, match="not a known field"):
        parse_site(text)
    text = MINIMAL.replace("walls = 2", "walls = 2\nmetal_wall = true")
    warnings = parse_site(text).warnings
    assert any("metal wall" in w for w in warnings)
    no_account = MINIMAL[: MINIMAL.index("[[tenants]]")]
    assert any("no account" in w for w in parse_site(no_account).warnings)


def test_overlapping_accounts_are_refused() -> None:
    text = MINIMAL + '\n[[accounts]]\ntenant = "Ada"\nmeter = "MM00000001"\nmove_in = 2026-03-01\n'
    with pytest.raises(SiteFileError, match="overlaps accounts\\[0\\]") as info:
        parse_site(text)
    assert info.value.field == "accounts[1].move_in"
    assert info.value.line == line_of(text, "move_in = 2026-03-01")


def test_incidents() -> None:
    text = (
        MINIMAL + '\n[[incidents]]\nkind = "repeater_failure"\nrepeater = "R2"\nafter_h = 2\nduration_h = 1\n'
    )
    text += '\n[[incidents]]\nkind = "dcap_outage"\nafter_h = 5\nduration_h = 0.5\n'
    c = parse_site(text)
    outages, failures = c.outages_and_failures()
    assert outages[0].start_s == 5 * 3600
    assert outages[0].duration_s == 1800
    assert failures[0].repeater == 2
    assert failures[0].at_s == 7200
    assert failures[0].down_s == 3600
    bad = MINIMAL + '\n[[incidents]]\nkind = "repeater_failure"\nrepeater = "R9"\nafter_h = 2\n'
    with pytest.raises(SiteFileError, match="R9") as info:
        parse_site(bad)
    assert info.value.field == "incidents[0].repeater"
    assert info.value.line == line_of(bad, '"R9"')


def test_the_documented_example_is_valid() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "site.md").read_text(encoding="utf-8")
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    config = parse_site(example)
    assert [m.kind for m in config.meters] == ["unit", "unit", "house", "solar"]
    assert config.warnings == ()
    with pytest.raises(SiteFileError, match="CDA01-") as info:
        parse_site(
            example.replace('ct = "CDA02-K12"\nmultiplier', 'ct = "CDA01-K12"\nmultiplier'),
            source="site.toml",
        )
    assert str(info.value).startswith("site.toml:28: meters[0].ct: ")
