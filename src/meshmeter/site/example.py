"""The example site: the demo building, as a site file (``meshmeter site init`` writes it).

A two-storey garden apartment building of 24 units, 96 m by 20 m in plan, in San Francisco: twelve
units on each floor along a central corridor, each with its own meter and MDT in the unit's utility
closet; a house meter for the common areas and a production meter on the 20 kW rooftop solar array's
inverter, each with an MDT; the DCAP in the ground-floor electrical room at the middle of the building
and four repeaters along the corridor, powered nearest the DCAP first (manual §5.2).
"""

from __future__ import annotations

__all__ = ["DEMO_SITE_NAME", "demo_site_toml"]

DEMO_SITE_NAME = "Mission Court Apartments"

_SURNAMES = (
    "Alvarez", "Baker", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Huang", "Ivanova", "Johnson",
    "Kim", "Lopez", "Murphy", "Nguyen", "Okafor", "Patel", "Quinn", "Rossi", "Singh", "Tanaka",
    "Ueda", "Volkov", "Williams", "Young",
)  # fmt: skip


def demo_site_toml() -> str:
    """
    The demo building's site file (``docs/site.md``, ``docs/demo.md``).

    Returns
    -------
    str
        TOML text: 24 unit meters, a house meter and a solar meter, each with an MDT; one DCAP and four
        repeaters; 24 tenants with their accounts, one of whom moved in this year.
    """
    out = [
        "# A meshmeter site file (docs/site.md): the demo building.",
        "# Positions are plan positions in metres; the radio counts one wall per wall_spacing_m of",
        "# straight line (at most max_walls) plus the walls each device stands behind.",
        "",
        "[site]",
        f'name = "{DEMO_SITE_NAME}"',
        'timezone = "America/Los_Angeles"',
        "latitude_deg = 37.76",
        "longitude_deg = -122.42",
        "wall_spacing_m = 10.0",
        "max_walls = 6",
        "",
        "# The DCAP is the first device installed and powered (manual §5.2).",
        "[dcap]",
        'name = "DCAP electrical room"',
        "position_m = [48.0, 10.0]",
        "",
        "# Repeaters are powered nearest the DCAP first, then outwards (manual §5.2).",
    ]
    repeaters = (("R1 corridor west", 30.0, 1), ("R2 corridor east", 66.0, 2), ("R3 stair west", 10.0, 3),
                 ("R4 stair east", 86.0, 4))  # fmt: skip
    for name, x, order in repeaters:
        out += [
            "[[repeaters]]",
            f'name = "{name}"',
            f"position_m = [{x:.1f}, 10.0]",
            f"power_up = {order}",
            "",
        ]
    out.append("# The units: twelve on each floor; an upper-floor MDT is behind the floor slab (walls = 2),")
    out.append("# a metre from the one below it.")
    for k in range(24):
        floor, slot = divmod(k, 12)
        unit = f"{floor + 1}{slot + 1:02d}"
        x = 4.0 + 16.0 * (slot % 6) + (0.0 if slot < 6 else 8.0) + 1.0 * floor
        y = 3.0 if slot < 6 else 17.0
        out += [
            "[[meters]]",
            f'serial = "MM260{k + 1:05d}"',
            'designation = "MM-D1202001-T-SCC"',
            'ct = "CDA02-K12"',
            "multiplier = 1.0",
            'kind = "unit"',
            f'unit = "{unit}"',
            "[meters.load]",
            'profile = "household"',
            f"annual_kwh = {4000 + 250 * ((k * 7) % 13)}",
            "[meters.mdt]",
            'kit = "MMSMT-C02"',
            f"position_m = [{x:.1f}, {y:.1f}]",
            f"walls = {2 if floor else 0}",
            "",
        ]
    out += [
        "# The house meter: corridor and outdoor lighting, elevator, pumps.",
        "[[meters]]",
        'serial = "MM26000025"',
        'designation = "MM-D1202001-T-SCC"',
        'ct = "CDA02-K12"',
        'kind = "house"',
        'unit = "HOUSE"',
        "[meters.load]",
        'profile = "house"',
        "annual_kwh = 30000",
        "[meters.mdt]",
        'kit = "MMSMT-C02"',
        "# on the wall beside the panel, not on it: an MDT near a metal wall loses range (manual §5.2)",
        "position_m = [50.0, 12.0]",
        "",
        "# The production meter on the solar inverter's output: its CTs face the inverter, so what the",
        "# array produces registers as delivered energy (docs/site.md).",
        "[[meters]]",
        'serial = "MM26000026"',
        'designation = "MM-D1202001-T-SCC"',
        'ct = "CDA02-K12"',
        'kind = "solar"',
        'unit = "SOLAR"',
        "[meters.load]",
        'profile = "solar"',
        "dc_capacity_kw = 20.0",
        "tilt_deg = 15.0",
        "azimuth_deg = 180.0",
        "[meters.mdt]",
        'kit = "MMSMT-C02"',
        "position_m = [48.0, 18.0]",
        "walls = 2",
        "",
        "# Tenants and their accounts; dates without an offset are the site's local time.",
    ]
    for surname in _SURNAMES:
        out += ["[[tenants]]", f'name = "{surname} household"', ""]
    out += ["[[tenants]]", 'name = "Mission Court HOA"', ""]
    for k, surname in enumerate(_SURNAMES):
        floor, slot = divmod(k, 12)
        move_in = "2026-03-01" if k == 5 else f"20{18 + k % 7}-0{1 + k % 9}-01"
        out += [
            "[[accounts]]",
            f'tenant = "{surname} household"',
            f'meter = "MM260{k + 1:05d}"',
            f"move_in = {move_in}",
            "",
        ]
    out += [
        "# The owners' association pays for the common areas.",
        "[[accounts]]",
        'tenant = "Mission Court HOA"',
        'meter = "MM26000025"',
        "move_in = 2018-01-01",
        "",
        "# Something to see: unit 105's meter cover opened for half an hour on the third day.",
        "[[incidents]]",
        'kind = "tamper"',
        'meter = "MM26000005"',
        "after_h = 58.0",
        "duration_h = 0.5",
        "",
    ]
    return "\n".join(out)
