"""Meters of any make in the registry (issue 14, schema version 9): manufacturer, model and the ratings that
bound what a meter can register in an interval, on every backend.

The meters are real ones, with their makers' published figures:

- Eastron SDM630MCT (V2), three-phase four-wire, CT operated (1 A or 5 A secondaries, "primary currents up
  to 6000A"), phase to neutral voltages 100-289 V AC (Eastron SDM630MCT V2 user manual §1.2, "Current
  Transformer Primary Current"; https://www.manualslib.com/manual/2995732/Eastron-Sdm630mct-Mod-Mid.html;
  https://www.metermarket.co.uk/product/eastron-sdm630-mct-three-phase-multifunction-energy-meter). On
  400:5 A CTs (CT rate 80): 3 elements × 289 V × 400 A × 0.25 h = 86,700 Wh in 15 minutes.
- Continental Control Systems WattNode WNC-3Y-208-MB, three elements, 120 V line to neutral / 208 V line to
  line ("Recommended WattNode Models", WattNode Modbus Installation and Operation Manual), on 0.333 V CTs
  rated 200 A, measured up to 120 % of their rated current ("CT Measurement Range: 1% - 120% of rated
  current", https://ctlsys.com/support/wattnode_module_modbus_-_models/): 240 A. In an hour:
  3 × 120 V × 240 A × 1 h = 86,400 Wh; in 15 minutes 21,600 Wh.
- The Mini Meter, for comparison: 2 × 138 V × 220 A × 0.25 h = 15,180 Wh (manual §3.1).
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

import pytest

from meshmeter.catalog.limits import max_interval_energy_wh, rating_source
from meshmeter.errors import NotFoundError
from meshmeter.store import Meter, Store

SDM630MCT: dict[str, Any] = {
    "designation": "SDM630MCT",
    "ct_ratio": 80.0,  # 400:5 A
    "manufacturer": "Eastron",
    "model": "SDM630MCT",
    "elements": 3,
    "voltage_max_v": 289.0,
    "current_max_a": 400.0,
}
WATTNODE: dict[str, Any] = {
    "designation": "WNC-3Y-208-MB",
    "ct_ratio": 1.0,  # a 0.333 V CT has no current ratio; the rating is its primary
    "manufacturer": "Continental Control Systems",
    "model": "WNC-3Y-208-MB",
    "elements": 3,
    "voltage_max_v": 120.0,
    "current_max_a": 240.0,
    "interval_s": 3600,
}


def test_a_meter_of_another_make_is_stored_with_its_ratings_and_bounded_by_them(store: Store) -> None:
    site = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
    sdm = store.create_meter(serial="SDM-1", site_id=site.id, install_date=date(2026, 1, 2), **SDM630MCT)
    node = store.create_meter(serial="WN-1", site_id=site.id, role="house", register_digits=7, **WATTNODE)
    mini = store.create_meter(serial="MM-1", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id)

    assert store.get_meter(serial="SDM-1") == sdm
    assert store.get_meter(meter_id=node.id) == node
    assert store.meters(site_id=site.id) == [sdm, node, mini]
    assert (sdm.manufacturer, sdm.model, sdm.elements, sdm.voltage_max_v, sdm.current_max_a) == (
        "Eastron",
        "SDM630MCT",
        3,
        289.0,
        400.0,
    )
    assert (node.interval_s, node.role, node.register_digits) == (3600, "house", 7)
    assert (mini.manufacturer, mini.model, mini.elements, mini.voltage_max_v, mini.current_max_a) == (
        None,
    ) * 5

    assert max_interval_energy_wh(sdm) == 86_700  # 3 × 289 V × 400 A × 0.25 h
    assert max_interval_energy_wh(node) == 86_400  # 3 × 120 V × 240 A × 1 h
    assert max_interval_energy_wh(node, interval_s=900) == 21_600
    assert max_interval_energy_wh(mini) == 15_180  # 2 × 138 V × 220 A × 0.25 h
    assert [rating_source(m) for m in (sdm, node, mini)] == ["ratings", "ratings", "designation"]


def test_the_ct_ratio_does_not_enter_a_rated_meters_limit(store: Store) -> None:
    # the same SDM630MCT recorded with its CT rate 80 or any other: its current_max_a is the primary
    one = store.create_meter(serial="A", **SDM630MCT)
    other = store.create_meter(serial="B", **{**SDM630MCT, "ct_ratio": 4000.0})
    assert max_interval_energy_wh(one) == max_interval_energy_wh(other) == 86_700


def test_a_manufacturer_without_ratings_keeps_the_designations_limit(store: Store) -> None:
    # a manufacturer with a Mini Meter designation is fine: the designation still decodes (single element)
    single = store.create_meter(
        serial="S1",
        designation="MM-S1202001-T-SCC",
        ct_ratio=2000,
        manufacturer="Integrated Metering Systems",
    )
    assert (rating_source(single), max_interval_energy_wh(single)) == ("designation", 7_590)
    # free text and no ratings: the default Mini Meter, as before issue 14 (the CLI warns)
    free = store.create_meter(serial="F1", designation="SDM630MCT", ct_ratio=2000, manufacturer="Eastron")
    assert (rating_source(free), max_interval_energy_wh(free)) == ("default", 15_180)


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"elements": 0}, "elements must be a whole number, 1 to 3, got 0"),
        ({"elements": 4}, "elements must be a whole number, 1 to 3, got 4"),
        ({"elements": True}, "elements must be a whole number, 1 to 3, got True"),
        ({"elements": 2.5}, "elements must be a whole number, 1 to 3, got 2.5"),
        (
            {"voltage_max_v": -230.0},
            "voltage_max_v must be a finite number > 0 [V, line to neutral], got -230.0",
        ),
        ({"voltage_max_v": 0}, "voltage_max_v must be a finite number > 0 [V, line to neutral], got 0"),
        ({"voltage_max_v": math.nan}, "voltage_max_v must be a finite number > 0"),
        ({"voltage_max_v": math.inf}, "voltage_max_v must be a finite number > 0"),
        (
            {"voltage_max_v": "289"},
            "voltage_max_v must be a finite number > 0 [V, line to neutral], got '289'",
        ),
        ({"current_max_a": 0.0}, "current_max_a must be a finite number > 0 [A, primary], got 0.0"),
        ({"current_max_a": False}, "current_max_a must be a finite number > 0 [A, primary], got False"),
        ({"current_max_a": None}, "go together (all three or none): missing current_max_a"),
        (
            {"voltage_max_v": None, "current_max_a": None},
            "go together (all three or none): missing voltage_max_v, current_max_a",
        ),
        (
            {"manufacturer": None, "model": None},
            "ratings are of a meter of another make: give its manufacturer",
        ),
        ({"manufacturer": None}, "model is the manufacturer's model name: give the manufacturer too"),
        ({"manufacturer": "  "}, "manufacturer must be a non-empty string, got '  '"),
        ({"model": ""}, "model must be a non-empty string, got ''"),
    ],
)
def test_a_bad_make_or_rating_is_refused_naming_it_and_nothing_is_stored(
    store: Store, given: dict[str, Any], said: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(said)):
        store.create_meter(serial="SDM-1", **{**SDM630MCT, **given})
    assert store.meters() == []


def test_every_problem_is_named_at_once(store: Store) -> None:
    with pytest.raises(ValueError, match="serial must be a non-empty string") as info:
        store.create_meter(
            serial="",
            designation="SDM630MCT",
            ct_ratio=0,
            interval_s=600,
            model="SDM630MCT",
            elements=4,
            voltage_max_v=-1.0,
        )
    said = str(info.value)
    for problem in (
        "serial must be a non-empty string",
        "ct_ratio must be a finite number > 0, got 0",
        "interval_s must be one of 300",
        "model is the manufacturer's model name: give the manufacturer too",
        "elements must be a whole number, 1 to 3, got 4",
        "voltage_max_v must be a finite number > 0 [V, line to neutral], got -1.0",
        "missing current_max_a",
        "ratings are of a meter of another make: give its manufacturer",
    ):
        assert problem in said, said
    assert store.meters() == []


def test_a_meters_make_and_ratings_are_changed_later(store: Store) -> None:
    # a real meter registered before issue 14 under free text, judged by the default Mini Meter
    old = store.create_meter(serial="SDM-1", designation="MM-1", ct_ratio=2000)
    assert max_interval_energy_wh(old) == 15_180
    rated = store.update_meter_kind(
        meter_id=old.id,
        manufacturer="Eastron",
        model="SDM630MCT",
        elements=3,
        voltage_max_v=289,
        current_max_a=400,
    )
    assert store.get_meter(serial="SDM-1") == rated
    assert (rated.designation, rated.ct_ratio, rated.manufacturer, rated.elements) == (
        "MM-1",
        2000.0,
        "Eastron",
        3,
    )
    assert max_interval_energy_wh(rated) == 86_700

    with pytest.raises(ValueError, match="elements must be") as info:
        store.update_meter_kind(meter_id=old.id, manufacturer=None, elements=0, voltage_max_v=289)
    for problem in (
        "elements must be a whole number, 1 to 3, got 0",
        "missing current_max_a",
        "give its manufacturer",
    ):
        assert problem in str(info.value)
    assert store.get_meter(serial="SDM-1") == rated  # nothing changed

    with pytest.raises(NotFoundError):
        store.update_meter_kind(meter_id=rated.id + 99, manufacturer="Eastron")

    plain = store.update_meter_kind(meter_id=old.id, manufacturer=None)
    assert (plain.manufacturer, plain.model, plain.elements, plain.voltage_max_v, plain.current_max_a) == (
        None,
    ) * 5
    assert max_interval_energy_wh(plain) == 15_180


def test_a_meter_record_built_by_position_keeps_working() -> None:
    # the fields of schema version 9 come after every earlier one, with defaults
    record = Meter(1, "S1", "MM-S1202001-T-SCC", 2000.0, 1.0, date(2026, 1, 1), None, 900)
    assert (record.manufacturer, record.elements, record.voltage_max_v, record.current_max_a) == (None,) * 4
    assert max_interval_energy_wh(record) == 7_590
