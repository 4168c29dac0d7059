"""Tests of meshmeter.catalog.limits: the most a meter registers in an interval, from its own record.

Every number is worked by hand from the spec: 138 V the highest supply voltage, L1 or L2 to neutral
(manual §3.1); the highest current 110 % of the CT's rating, "220 A primary for 200 A models", "110 A
primary for 100 A models", "0.11 A secondary for 0.1 A secondary models" (manual §3.1 note 1); D = dual
element, S = single element, "2001" = 200:0.1 A (certificate p.1).
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date

import pytest

from meshmeter.catalog import (
    DEFAULT_DESIGNATION,
    MINI_METER_RATINGS,
    RatedMeter,
    decode_meter,
    encode_meter,
    max_interval_energy_wh,
)
from meshmeter.store import Meter

DUAL = "MM-D1202001-T-SCC"
SINGLE = "MM-S1202001-T-SCC"


@pytest.mark.parametrize(
    ("designation", "ct_ratio", "interval_s", "expected_wh"),
    [
        # 2 × 138 V × 220 A × 0.25 h = 15,180 Wh (manual §3.1, note 1; certificate p.1 "D")
        (DUAL, 2000, 900, 15_180),
        # 1 × 138 V × 220 A × 0.25 h = 7,590 Wh (certificate p.1 "S": single element, 2-wire)
        (SINGLE, 2000, 900, 7_590),
        # an hourly dual meter: 2 × 138 V × 220 A × 1 h = 60,720 Wh
        (DUAL, 2000, 3600, 60_720),
        (SINGLE, 2000, 3600, 30_360),
        # 5 and 30 minutes: 2 × 138 × 220 / 12 = 5,060 Wh; / 2 = 30,360 Wh
        (DUAL, 2000, 300, 5_060),
        (DUAL, 2000, 1800, 30_360),
        # the other designations of the certificate: Kh and indicating element do not count
        ("MM-D1202001", 2000, 900, 15_180),
        ("MM-S1202001-SCC", 2000, 900, 7_590),
        # a 100 A CT, 100:0.1 A: "110 A primary for 100 A models" = 1000 × 0.11 A; 2 × 138 × 110 / 4
        (DUAL, 1000, 900, 7_590),
        # a 400:0.1 A CT (not approved by the certificate, which is Class 200 with "2001" CTs only):
        # 110 % of its rating carried over, 4000 × 0.11 A = 440 A; 2 × 138 × 440 / 4 = 30,360 Wh, twice
        (DUAL, 4000, 900, 30_360),
        (SINGLE, 4000, 900, 15_180),
        # free designations that do not decode: the default Mini Meter, dual element
        ("MM-1", 2000, 900, 15_180),
        ("MM-1", 2000, 3600, 60_720),
        ("MM-2", 4000, 900, 30_360),
        ("", 2000, 900, 15_180),
        ("6PSMT-C02", 2000, 900, 15_180),  # a kit, not a meter
    ],
)
def test_the_limit_by_hand(designation: str, ct_ratio: float, interval_s: int, expected_wh: int) -> None:
    meter = RatedMeter(designation=designation, ct_ratio=ct_ratio, interval_s=interval_s)
    assert max_interval_energy_wh(meter) == expected_wh


def test_the_default_is_the_dual_element_mini_meter_on_its_own_ct() -> None:
    assert RatedMeter() == RatedMeter(DUAL, 2000.0, 900)
    assert DEFAULT_DESIGNATION == encode_meter() == DUAL
    assert decode_meter(DEFAULT_DESIGNATION).ct_ratio == RatedMeter().ct_ratio
    assert max_interval_energy_wh(RatedMeter()) == 15_180


def test_the_highest_primary_current_is_the_ct_ratio_times_the_highest_secondary_current() -> None:
    # manual §3.1: 220 A primary and 0.11 A secondary are the same current through a 200:0.1 A CT
    ratings = MINI_METER_RATINGS
    assert math.isclose(
        decode_meter(DUAL).ct_ratio * ratings.max_current_secondary_a, ratings.max_current_primary_a
    )
    one_hour = RatedMeter(interval_s=3600)
    assert max_interval_energy_wh(one_hour) == round(2 * ratings.supply_max_v * ratings.max_current_primary_a)


def test_a_single_element_meter_has_half_the_dual_limit_and_a_bigger_ct_more() -> None:
    for interval_s in (300, 900, 1800, 3600):
        dual = max_interval_energy_wh(RatedMeter(DUAL, 2000, interval_s))
        assert max_interval_energy_wh(RatedMeter(SINGLE, 2000, interval_s)) * 2 == dual
        assert max_interval_energy_wh(RatedMeter(DUAL, 4000, interval_s)) == 2 * dual
        assert max_interval_energy_wh(RatedMeter(DUAL, 1000, interval_s)) * 2 == dual


def test_the_store_record_is_a_meter_record() -> None:
    single = Meter(1, "S1", SINGLE, 2000.0, 1.0, date(2026, 1, 1), None, 900)
    hourly = dataclasses.replace(single, designation=DUAL, interval_s=3600)
    assert max_interval_energy_wh(single) == 7_590
    assert max_interval_energy_wh(hourly) == 60_720
    # the multiplier does not count: the doors take energies, and the CT ratio bounds them already
    assert max_interval_energy_wh(dataclasses.replace(hourly, multiplier=2.0)) == 60_720


def test_another_interval_than_the_records() -> None:
    # the DCAP's records are the MDT's 15 minutes (manual §5.1) whatever the record says
    hourly = RatedMeter(interval_s=3600)
    assert max_interval_energy_wh(hourly, interval_s=900) == 15_180


def test_the_limit_is_floored_to_a_whole_wh() -> None:
    # 2 × 138 V × (3000 × 0.11 A) × 0.25 h = 22,770 Wh exactly; 2001 gives 15,187.59 → 15,187
    assert max_interval_energy_wh(RatedMeter(ct_ratio=3000)) == 22_770
    assert max_interval_energy_wh(RatedMeter(ct_ratio=2001)) == 15_187
    # 60 s would be 1,012 Wh, 61 s 1,028.86 Wh
    assert max_interval_energy_wh(RatedMeter(interval_s=61)) == 1_028


@pytest.mark.parametrize(
    ("meter", "kwargs", "name"),
    [
        (RatedMeter(ct_ratio=0), {}, "meter.ct_ratio"),
        (RatedMeter(ct_ratio=-2000), {}, "meter.ct_ratio"),
        (RatedMeter(ct_ratio=math.nan), {}, "meter.ct_ratio"),
        (RatedMeter(ct_ratio=math.inf), {}, "meter.ct_ratio"),
        (RatedMeter(ct_ratio=True), {}, "meter.ct_ratio"),  # a bool is not a ratio
        (RatedMeter(ct_ratio="2000"), {}, "meter.ct_ratio"),  # type: ignore[arg-type]
        (RatedMeter(interval_s=0), {}, "meter.interval_s"),
        (RatedMeter(interval_s=900.0), {}, "meter.interval_s"),  # type: ignore[arg-type]
        (RatedMeter(), {"interval_s": -900}, "interval_s"),
        (RatedMeter(), {"interval_s": True}, "interval_s"),
    ],
)
def test_bad_records_are_refused_naming_the_field(
    meter: RatedMeter, kwargs: dict[str, object], name: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        max_interval_energy_wh(meter, **kwargs)  # type: ignore[arg-type]
