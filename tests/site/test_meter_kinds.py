"""Meters of any make in the site file (issue 14): ``[[meters]]`` carries ``manufacturer``, ``model`` and the
ratings by the store's rules; a mistake names its line and field and every problem at once.

Eastron SDM630MCT on 400:5 A CTs: 3 elements, phase to neutral 100-289 V AC, 400 A primary (Eastron
SDM630MCT V2 user manual §1.2; https://www.metermarket.co.uk/product/eastron-sdm630-mct-three-phase-
multifunction-energy-meter).
"""

from __future__ import annotations

import pytest

from meshmeter.catalog.limits import RatedMeter, max_interval_energy_wh
from meshmeter.site.config import SiteFileError, parse_site
from tests.site.test_config import MINIMAL, line_of, replace

RATED = """serial = "MM00000001"
manufacturer = "Eastron"
model = "SDM630MCT"
elements = 3
voltage_max_v = 289.0
current_max_a = 400
"""


def test_a_meter_carries_its_make_and_ratings() -> None:
    config = parse_site(replace(MINIMAL, 'serial = "MM00000001"\n', RATED))
    rated, plain = config.meters
    assert (rated.manufacturer, rated.model, rated.elements, rated.voltage_max_v, rated.current_max_a) == (
        "Eastron",
        "SDM630MCT",
        3,
        289.0,
        400.0,
    )
    assert isinstance(rated.current_max_a, float)
    assert (plain.manufacturer, plain.model, plain.elements, plain.voltage_max_v, plain.current_max_a) == (
        None,
    ) * 5
    # what the store will bound its intervals by: 3 × 289 V × 400 A × 0.25 h
    record = RatedMeter(
        designation=rated.designation,
        ct_ratio=rated.ct_ratio,
        elements=rated.elements,
        voltage_max_v=rated.voltage_max_v,
        current_max_a=rated.current_max_a,
    )
    assert max_interval_energy_wh(record) == 86_700


@pytest.mark.parametrize(
    ("old", "new", "field", "needle", "said"),
    [
        (
            "elements = 3",
            "elements = 4",
            "elements",
            "elements = 4",
            ["elements must be a whole number, 1 to 3"],
        ),
        ("elements = 3", "elements = true", "elements", "elements = true", ["got True"]),
        (
            "voltage_max_v = 289.0",
            "voltage_max_v = -289.0",
            "voltage_max_v",
            "voltage_max_v = -289.0",
            ["voltage_max_v must be a finite number > 0 [V, line to neutral], got -289.0"],
        ),
        (
            "current_max_a = 400\n",
            "",
            "elements",
            "elements = 3",
            ["go together (all three or none): missing current_max_a"],
        ),
        (
            'manufacturer = "Eastron"\n',
            "",
            "model",
            "model =",
            [
                "model is the manufacturer's model name: give the manufacturer too",
                "ratings are of a meter of another make: give its manufacturer",
            ],
        ),
        (
            'manufacturer = "Eastron"',
            'manufacturer = ""',
            "manufacturer",
            'manufacturer = ""',
            ["manufacturer must be a non-empty string"],
        ),
        (
            "elements = 3\nvoltage_max_v = 289.0",
            'elements = 0\nvoltage_max_v = "289"',
            "elements",
            "elements = 0",
            ["elements must be a whole number, 1 to 3, got 0", "voltage_max_v must be a finite number > 0"],
        ),
    ],
)
def test_a_bad_make_or_rating_names_its_line_and_every_problem(
    old: str, new: str, field: str, needle: str, said: list[str]
) -> None:
    text = replace(replace(MINIMAL, 'serial = "MM00000001"\n', RATED), old, new)
    with pytest.raises(SiteFileError) as info:
        parse_site(text, source="s.toml")
    err = info.value
    assert err.field == f"meters[0].{field}"
    assert err.line == line_of(text, needle)
    for problem in said:
        assert problem in str(err), str(err)


def test_the_designation_is_still_a_mini_meters() -> None:
    # every [[meters]] runs as the Mini Meter twin: a manufacturer does not make its designation free text
    text = replace(MINIMAL, 'serial = "MM00000001"\n', RATED + 'designation = "SDM630MCT"\n')
    with pytest.raises(SiteFileError) as info:
        parse_site(text)
    assert info.value.field == "meters[0].designation"
