"""URDB tariffs: the shipped examples, and refusal of malformed rate structure, naming every field."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshmeter.billing import example_tariff, load_tariff, parse_period_names, parse_tariff
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
        (_with(["coincidentratestructure"], [[{"rate": 1}]]), "coincidentrateschedule"),
        (_with(["demandratchetpercentage"], [0.5] * 12), "demandratchetpercentage"),
        (_with(["demandratchetpercentage"], [80] * 12), "demandratchetpercentage[0]"),
        (_with(["energyratestructure", 0, 0, "sell"], -0.05), "energyratestructure[0][0].sell"),
        (_with(["energyratestructure", 0, 0, "rate"], -0.3), "energyratestructure[0][0].rate"),
        (_with(["energyratestructure", 0, 0, "adj"], -0.5), "energyratestructure[0][0].adj"),
        (_with(["energyratestructure", 0, 0, "rate"], "0.3"), "energyratestructure[0][0].rate"),
        (_with(["energyratestructure", 0, 0, "tou"], 1), "energyratestructure[0][0].tou"),
        (_with(["energyratestructure", 0, 0, "rate"], None, delete=True), "energyratestructure[0][0].rate"),
        (_with(["energyratestructure", 0, 0, "unit"], "kWh/kW"), "energyratestructure[0][0].unit"),
        (_with(["energyratestructure", 1], []), "energyweekdayschedule[0][0]"),
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
        (_with(["demandunits"], "kVA"), "demandunits"),
        (_with(["demandwindow"], 7), "demandwindow"),
        (_with(["usenetmetering"], "yes"), "usenetmetering"),
        (_with(["dgrules"], "Net Metering Annual"), "dgrules"),
        (_with(["demandreactivepowercharge"], 0.52), "demandreactivepowercharge"),
        (_with(["lookbackpercent"], 0.8), "lookbackpercent"),
        (_with(["meshmeter_holiday"], {"country": "US"}), "meshmeter_holiday"),
        (_with(["tou_energy_rate"], [0.1] * 24), "tou_energy_rate"),
        (_with(["energyratestructure_v9"], [[{"rate": 0.1}]]), "energyratestructure_v9"),
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


def test_tiers_must_increase_but_periods_may_differ():
    doc = tou_document()
    doc["energyratestructure"] = [
        [{"max": 10, "rate": 0.2}, {"max": 5, "rate": 0.3}, {"rate": 0.4}],
        [{"max": 10, "rate": 0.1}, {"max": 20, "rate": 0.2}, {"rate": 0.3}],
    ]
    with pytest.raises(TariffError) as info:
        parse_tariff(doc)
    assert info.value.field == "energyratestructure[0][1].max"
    # Each period its own tiers: other limits, and another number of tiers, in one month (SAM refuses
    # both; meshmeter applies each period's own tiers to the month's total, as SAM's formula does).
    doc["energyratestructure"][0] = [{"max": 11, "rate": 0.2}, {"max": 20, "rate": 0.3}, {"rate": 0.4}]
    assert [len(p) for p in parse_tariff(doc).energy_tiers] == [3, 3]
    doc["energyratestructure"][0] = [{"max": 10, "rate": 0.2}, {"rate": 0.3}]
    t = parse_tariff(doc)
    assert [len(p) for p in t.energy_tiers] == [2, 3]
    assert t.tier_count == 3


def test_fixedmonthlycharge_and_fixedchargefirstmeter_agree_or_are_refused():
    t = parse_tariff(tou_document(fixedmonthlycharge=12.5))
    assert (t.fixed_charge, t.fixed_charge_unit) == (Decimal("12.5"), "$/month")
    same = tou_document(fixedmonthlycharge=12.5, fixedchargefirstmeter=12.5, fixedchargeunits="$/month")
    assert parse_tariff(same).fixed_charge == Decimal("12.5")
    other = tou_document(fixedmonthlycharge=12.5, fixedchargefirstmeter=0.4, fixedchargeunits="$/day")
    with pytest.raises(TariffError, match="both give the customer charge"):
        parse_tariff(other)


def test_every_problem_is_named_at_once_and_nothing_is_made():
    doc = tou_document(
        demandwindow=7,
        demandunits="kVA",
        fixedchargeunits="$/week",
        energyweekendschedule=[[0] * 24] * 11,
    )
    doc["energyratestructure"][1] = [{"rate": -0.1}]
    doc["energyweekdayschedule"][2][17] = 5
    with pytest.raises(TariffError) as info:
        parse_tariff(doc)
    fields = [f for f, _ in info.value.problems]
    assert fields == [
        "energyratestructure[1][0].rate",
        "energyweekdayschedule[2][17]",
        "energyweekendschedule",
        "demandunits",
        "demandwindow",
        "fixedchargeunits",
    ]
    # The first is the error's field (as before); the message names them all, on one line.
    assert info.value.field == "energyratestructure[1][0].rate"
    message = str(info.value)
    assert message.startswith("tariff has 6 problems: ")
    assert "\n" not in message
    assert all(repr(f) in message for f in fields)


def test_a_schedule_naming_a_missing_period_is_named_once_per_period():
    doc = tou_document()
    for row in doc["energyweekdayschedule"]:
        row[17] = 5
    doc["energyweekendschedule"][11][3] = 2
    with pytest.raises(TariffError) as info:
        parse_tariff(doc)
    assert info.value.problems == (
        ("energyweekdayschedule[0][17]", "period 5 is not in energyratestructure (periods 0 to 1)"),
        ("energyweekendschedule[11][3]", "period 2 is not in energyratestructure (periods 0 to 1)"),
    )


def test_tariff_error_of_one_problem_reads_as_before():
    exc = TariffError("mincharge", "must be finite")
    assert str(exc) == "tariff field 'mincharge': must be finite"
    assert exc.problems == (("mincharge", "must be finite"),)
    assert TariffError.of([("a", "x"), ("b", "y")]).field == "a"
    with pytest.raises(ValueError, match="problems"):
        TariffError.of([])


_KNOWN = METADATA_FIELDS | RATE_FIELDS | UNSUPPORTED_FIELDS | {"fixedchargeeaaddl"}
_RATE_LIKE = ("structure", "schedule", "charge", "rate", "ratchet", "tier", "tiers", "months")


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=30))
def test_an_unknown_field_is_kept_and_reported_unless_it_looks_like_rate_structure(name):
    doc = tou_document()
    if name in _KNOWN:
        return
    doc[name] = 1
    if name.startswith("meshmeter_") or name.endswith(_RATE_LIKE):
        with pytest.raises(TariffError) as info:
            parse_tariff(doc)
        assert info.value.field == name
        return
    t = parse_tariff(doc)
    assert (name, "not a URDB field meshmeter knows: kept, not used in the bill") in t.ignored
    assert t.document[name] == 1


@given(st.sampled_from(sorted(METADATA_FIELDS - {"name", "utility", "label"})))
def test_a_descriptive_field_is_never_a_reason_to_refuse(name):
    for value in (None, 1, "text", [{"any": "thing"}], {"nested": [1, 2]}):
        doc = tou_document()
        doc[name] = value
        t = parse_tariff(doc)
        assert t.document[name] == value
        assert name in dict(t.ignored)


def test_a_refused_charge_can_be_left_out_by_the_operator():
    doc = tou_document(demandreactivepowercharge=0.52)
    with pytest.raises(TariffError, match="reactive power"):
        parse_tariff(doc)
    doc["meshmeter_not_applied"] = {"demandreactivepowercharge": "tenant meters have no kvarh register"}
    t = parse_tariff(doc)
    assert dict(t.ignored)["demandreactivepowercharge"] == (
        "not applied (meshmeter_not_applied: tenant meters have no kvarh register)"
    )
    # Only a refused charge: not a rate field meshmeter applies.
    doc["meshmeter_not_applied"] = ["energyratestructure"]
    with pytest.raises(TariffError) as info:
        parse_tariff(doc)
    assert info.value.field == "meshmeter_not_applied.energyratestructure"


def test_a_zero_reactive_charge_is_no_charge():
    t = parse_tariff(tou_document(demandreactivepowercharge=0))
    assert dict(t.ignored)["demandreactivepowercharge"] == "no charge given"


def test_period_names_from_the_document_and_the_operator():
    doc = tou_document(energytoulabels=["Peak", "Off-Peak"])
    t = parse_tariff(doc)
    assert t.period_name("energy", 0) == "Peak"
    assert t.period_name("demand", 0) == "period 1"
    named = parse_tariff(doc, period_names={"energy": {"1": "night"}})
    assert [named.period_name("energy", p) for p in (0, 1)] == ["Peak", "night"]
    assert named.document["meshmeter_period_names"] == {"energy": {"1": "night"}}
    assert named.sha256 != t.sha256  # the names are part of the tariff a bill records
    # Labels that do not fit are descriptive: kept, not used, never refused.
    odd = parse_tariff(tou_document(energytoulabels=["only one"]))
    assert odd.period_name("energy", 0) == "period 1"
    assert "energytoulabels" in dict(odd.ignored)
    with pytest.raises(TariffError) as info:
        parse_tariff(tou_document(meshmeter_period_names={"energy": {"7": "x"}}))
    assert info.value.field == "meshmeter_period_names.energy.7"
    short = parse_tariff(tou_document(meshmeter_period_names={"0": "peak"}))
    assert short.period_name("energy", 0) == "peak"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("0=peak,1=off-peak", {"energy": {"0": "peak", "1": "off-peak"}}),
        ("0=peak, demand:0=on-peak", {"energy": {"0": "peak"}, "demand": {"0": "on-peak"}}),
        ("", {}),
    ],
)
def test_period_names_from_the_command_line(text, want):
    assert parse_period_names(text) == want


@pytest.mark.parametrize("text", ["peak", "x=peak", "0=", "solar:0=peak"])
def test_bad_period_names_are_refused(text):
    with pytest.raises(ValueError, match="--period-names"):
        parse_period_names(text)


def test_schedule_helper_is_12_by_24():
    s = schedule(range(16, 21), 0, 1)
    assert len(s) == 12
    assert all(len(r) == 24 for r in s)
