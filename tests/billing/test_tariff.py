"""URDB tariffs: the shipped examples, and refusal of unsupported or malformed fields, naming them."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshmeter.billing import example_tariff, load_tariff, parse_tariff
from meshmeter.billing.tariff import EXAMPLE_TARIFFS, METADATA_FIELDS, RATE_FIELDS, UNSUPPORTED_FIELDS
from meshmeter.errors import MeshmeterError, TariffError
from tests.billing.conftest import schedule, tou_document


def test_e_tou_c_example_shape():
    t = example_tariff("e-tou-c-example")
    # Peak 4-9 pm every day: hours 16-20 are peak in every month, weekdays and weekends alike.
    summer_peak, summer_off, winter_peak, winter_off = 0, 1, 2, 3
    for month in range(12):
        summer = 5 <= month <= 8  # June to September
        for hour in range(24):
            peak = 16 <= hour < 21
            want = (summer_peak if peak else summer_off) if summer else (winter_peak if peak else winter_off)
            assert t.energy_weekday[month, hour] == want
            assert t.energy_weekend[month, hour] == want
    # Baseline credit: tier 1 of each period is $0.09/kWh below tier 2, up to a daily allowance.
    assert t.tier_unit == "kWh daily"
    for tiers in t.energy_tiers:
        assert tiers[1].rate - tiers[0].rate == Decimal("0.09")
    assert t.tier_limits_kwh(7) == (Decimal("13.5"),)
    assert t.tier_limits_kwh(1) == (Decimal("11.0"),)
    assert t.min_charge == Decimal("0.35")
    assert t.min_charge_unit == "$/day"
    assert t.holidays is not None
    assert "Thanksgiving Day" in t.holidays.names


def test_tiered_flat_example():
    t = example_tariff("tiered-flat-example")
    assert len(t.energy_tiers) == 1
    assert [tier.max for tier in t.energy_tiers[0]] == [Decimal(500), Decimal(1000), None]
    assert [tier.rate for tier in t.energy_tiers[0]] == [Decimal("0.12"), Decimal("0.15"), Decimal("0.18")]
    assert t.fixed_charge == Decimal(10)
    assert t.min_charge == Decimal(15)


def test_examples_are_package_data_and_hash_stably():
    for name in EXAMPLE_TARIFFS:
        a, b = example_tariff(name), example_tariff(name)
        assert a.sha256 == b.sha256
        assert len(a.sha256) == 64
    with pytest.raises(ValueError, match="name must be one of"):
        example_tariff("e-tou-z")


def test_rate_plus_adj_and_items_wrapper():
    doc = tou_document()
    doc["energyratestructure"] = [[{"rate": 0.30, "adj": 0.012}], [{"rate": 0.10, "adj": -0.01}]]
    t = parse_tariff({"items": [doc]})
    assert t.energy_tiers[0][0].rate == Decimal("0.312")
    assert t.energy_tiers[1][0].rate == Decimal("0.09")


def test_load_from_file_and_text(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(tou_document()), encoding="utf-8")
    assert (
        load_tariff(path).sha256
        == load_tariff(str(path)).sha256
        == load_tariff(json.dumps(tou_document())).sha256
    )
    with pytest.raises(TariffError, match="<document>"):
        load_tariff("{not json")


def _with(path: list[object], value: object, *, delete: bool = False) -> dict:
    doc = copy.deepcopy(tou_document())
    target = doc
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    if delete:
        del target[path[-1]]  # type: ignore[arg-type]
    else:
        target[path[-1]] = value  # type: ignore[index]
    return doc


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (_with(["coincidentratestructure"], []), "coincidentratestructure"),
        (_with(["demandratchetpercentage"], [0.5] * 12), "demandratchetpercentage"),
        (_with(["energyratestructure", 0, 0, "sell"], 0.05), "energyratestructure[0][0].sell"),
        (_with(["energyratestructure", 0, 0, "rate"], "0.3"), "energyratestructure[0][0].rate"),
        (_with(["energyratestructure", 0, 0, "rate"], None, delete=True), "energyratestructure[0][0].rate"),
        (_with(["energyratestructure", 0, 0, "unit"], "kWh/kW"), "energyratestructure[0][0].unit"),
        (_with(["energyratestructure", 1], []), "energyratestructure[1]"),
        (_with(["energyweekdayschedule", 3, 5], 7), "energyweekdayschedule[3][5]"),
        (_with(["energyweekdayschedule", 3], [0] * 23), "energyweekdayschedule[3]"),
        (_with(["energyweekendschedule"], [[0] * 24] * 11), "energyweekendschedule"),
        (_with(["energyweekendschedule"], None, delete=True), "energyweekendschedule"),
        (_with(["fixedchargefirstmeter"], -1), "fixedchargefirstmeter"),
        (_with(["fixedchargeunits"], "$/week"), "fixedchargeunits"),
        (_with(["mincharge"], float("nan")), "mincharge"),
        (_with(["minchargeunits"], "$/decade"), "minchargeunits"),
        (_with(["flatdemandstructure"], [[{"rate": 2}]]), "flatdemandmonths"),
        (_with(["demandratestructure"], [[{"rate": 2}]]), "demandweekdayschedule"),
        (_with(["demandrateunit"], "hp"), "demandrateunit"),
        (_with(["meshmeter_holidays"], {"country": "XX"}), "meshmeter_holidays.country"),
        (
            _with(["meshmeter_holidays"], {"country": "US", "subdivision": "ZZ"}),
            "meshmeter_holidays.subdivision",
        ),
        (_with(["meshmeter_holidays"], {"country": "US", "names": ["Festivus"]}), "meshmeter_holidays.names"),
        (_with(["meshmeter_holidays"], {"country": "US", "when": 1}), "meshmeter_holidays.when"),
    ],
)
def test_unsupported_or_malformed_field_is_named(doc, field):
    with pytest.raises(TariffError) as info:
        parse_tariff(doc)
    assert info.value.field == field
    assert repr(field) in str(info.value)
    assert isinstance(info.value, MeshmeterError)
    assert isinstance(info.value, ValueError)


def test_tiers_must_increase_and_agree_within_a_month():
    doc = tou_document()
    doc["energyratestructure"] = [
        [{"max": 10, "rate": 0.2}, {"max": 5, "rate": 0.3}, {"rate": 0.4}],
        [{"max": 10, "rate": 0.1}, {"max": 20, "rate": 0.2}, {"rate": 0.3}],
    ]
    with pytest.raises(TariffError) as info:
        parse_tariff(doc)
    assert info.value.field == "energyratestructure[0][1].max"
    doc["energyratestructure"][0] = [{"max": 11, "rate": 0.2}, {"max": 20, "rate": 0.3}, {"rate": 0.4}]
    with pytest.raises(TariffError, match="month 1 must share their tier limits"):
        parse_tariff(doc)
    doc["energyratestructure"][0] = [{"max": 10, "rate": 0.2}, {"rate": 0.3}]
    with pytest.raises(TariffError, match="same number of tiers"):
        parse_tariff(doc)


_KNOWN = METADATA_FIELDS | RATE_FIELDS


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=30))
def test_any_unknown_field_is_refused_by_name(name):
    doc = tou_document()
    doc[name] = 1
    if name in _KNOWN:
        return
    with pytest.raises(TariffError) as info:
        parse_tariff(doc)
    assert info.value.field == name


@given(st.sampled_from(sorted(UNSUPPORTED_FIELDS)))
def test_every_unsupported_urdb_field_is_refused(name):
    doc = tou_document()
    doc[name] = []
    with pytest.raises(TariffError, match="does not support"):
        parse_tariff(doc)


def test_schedule_helper_is_12_by_24():
    s = schedule(range(16, 21), 0, 1)
    assert len(s) == 12
    assert all(len(r) == 24 for r in s)
