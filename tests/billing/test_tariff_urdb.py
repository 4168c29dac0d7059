"""Real URDB documents read as the OpenEI API publishes them (issue 13).

The documents are public-domain URDB rates: the corpus of ``tests/data/urdb/`` (its ``SOURCES.md`` names
each file's repository, commit and path) and ``tests/billing/tariff_data/`` (its ``README.md``). They are
read, never edited; a document with several rates is made here by putting real rates side by side in the
API's ``{"items": [...]}`` wrapper.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from meshmeter.billing import load_tariff, parse_tariff, select_rate
from meshmeter.errors import TariffError

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "urdb"
DATA = Path(__file__).resolve().parent / "tariff_data"

REFUSED = {
    # What the engine cannot apply, every such field named: a $/kvar charge (the meter has no kvarh
    # register) and energy tiers in kWh per kW of demand (hours-use blocks).
    "pge-bev-2-s.json": ["demandreactivepowercharge"],
    "wallingford-primary-northford.json": ["demandreactivepowercharge"],
    # The API's lookup response holds 32 rates: without a label none is chosen (the error lists them).
    "aps-residential-lookup.json": ["label"],
    "sce-tou-8-d.json": ["demandreactivepowercharge"],
    "south-central-ppd-lp1.json": [
        "energyratestructure[0][0].unit",
        "energyratestructure[0][1].unit",
        "energyratestructure[1][0].unit",
        "energyratestructure[1][1].unit",
    ],
}


def corpus_files() -> list[str]:
    return sorted(p.name for p in CORPUS.glob("*.json"))


def read_json(path: Path) -> object:
    data = json.loads(path.read_text(encoding="utf-8"))
    return json.loads(data) if isinstance(data, str) else data


def rate(name: str) -> dict:
    return select_rate(read_json(CORPUS / name))


@pytest.mark.parametrize("name", corpus_files())
def test_every_corpus_rate_reads_as_published_or_is_refused_naming_every_problem(name):
    path = CORPUS / name
    if name not in REFUSED:
        t = load_tariff(path)
        assert t.energy_tiers
        # Descriptive fields are kept in the document (and so in its hash) and reported, never refused.
        for field in ("revisions", "energyattrs", "demandattrs", "peakkwcapacityhistory", "voltageminimum"):
            if field in t.document:
                assert field in dict(t.ignored)
        return
    with pytest.raises(TariffError) as info:
        load_tariff(path)
    assert [f for f, _ in info.value.problems] == REFUSED[name]


def test_the_reactive_charge_is_refused_until_the_operator_leaves_it_out():
    doc = rate("pge-bev-2-s.json")
    doc["meshmeter_not_applied"] = {"demandreactivepowercharge": "no kvarh register"}
    t = parse_tariff(doc)
    # PG&E BEV-2-S carries its energy periods' labels (energytoulabels): they name the periods.
    assert [t.period_name("energy", p) for p in range(3)] == ["Off-Peak", "Super Off-Peak", "Peak"]


def test_items_wrapper_with_several_rates_is_read_by_label():
    rates = [rate("ladwp-a-3.json"), rate("coned-sc-9-zone-j.json"), rate("pge-e-19-secondary.json")]
    document = {"items": rates}
    labels = [r["label"] for r in rates]
    for r in rates:
        t = parse_tariff(document, label=r["label"])
        assert t.label == r["label"]
        assert t.name == r["name"]
        # The bill records the chosen rate only: its document and hash are those of that rate alone.
        assert t.document == r
        assert t.sha256 == parse_tariff(r).sha256
    with pytest.raises(TariffError) as info:
        parse_tariff(document)
    assert info.value.field == "label"
    message = str(info.value)
    assert "3 rates" in message
    assert all(label in message for label in labels)
    assert all(r["name"] in message for r in rates)
    with pytest.raises(TariffError, match="no rate has label 'nope'"):
        parse_tariff(document, label="nope")


def test_a_json_list_of_rates_and_a_file_of_items(tmp_path):
    rates = [rate("fpl-rs-1.json"), rate("psco-rd-residential-demand.json")]
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(rates), encoding="utf-8")
    assert load_tariff(path, label="5550d6fd5457a3187e8b4567").name == "RS-1 Residential Service"
    path.write_text(json.dumps({"items": rates}), encoding="utf-8")
    assert load_tariff(str(path), label=rates[1]["label"]).utility == rates[1]["utility"]
    with pytest.raises(TariffError, match="holds no rate"):
        parse_tariff({"items": []})
    with pytest.raises(TariffError, match="must be a rate object"):
        parse_tariff({"items": [1]})


def test_one_rate_needs_no_label_and_a_wrong_label_is_refused():
    doc = read_json(CORPUS / "ladwp-a-3.json")  # {"items": [one rate]}
    assert parse_tariff(doc).label == "67c1f1c74737dd843e060fe8"
    with pytest.raises(TariffError, match="no rate has label"):
        parse_tariff(doc, label="5550d6fd5457a3187e8b4567")


def test_a_response_stored_as_a_json_string_is_read():
    # PySAM's test file is a JSON string whose text is the API's response.
    path = CORPUS / "south-central-ppd-lp1.json"
    with pytest.raises(TariffError) as from_file:
        load_tariff(path)
    with pytest.raises(TariffError) as from_text:
        load_tariff(json.loads(path.read_text(encoding="utf-8")))
    assert from_file.value.problems == from_text.value.problems


def test_fixedmonthlycharge_and_two_monthly_tiers():
    t = load_tariff(CORPUS / "fpl-rs-1.json")
    assert (t.fixed_charge, t.fixed_charge_unit) == (Decimal("7.57"), "$/month")
    # rate + adj: 0.07531 + 0.0119 up to 1000 kWh a month, then 0.09613 + 0.0119.
    assert [(tier.max, tier.rate, tier.unit) for tier in t.energy_tiers[0]] == [
        (Decimal(1000), Decimal("0.08721"), "kWh"),
        (None, Decimal("0.10803"), "kWh"),
    ]


def test_demandwindow_usenetmetering_and_fixedmonthlycharge():
    t = load_tariff(CORPUS / "entergy-arkansas-lps-tou.json")
    assert t.demand_window_s == 900
    assert t.export_rule == "net metering"
    assert t.fixed_charge == Decimal("468.6")
    assert len(t.demand_tiers) == 4


def test_energyattrs_and_demandattrs_are_kept_and_hashed():
    doc = rate("sce-gs-2-tou-b.json")
    t = parse_tariff(doc)
    assert t.document["energyattrs"] == doc["energyattrs"]
    assert t.document["demandattrs"] == doc["demandattrs"]
    assert dict(t.ignored)["demandattrs"] == "descriptive: kept, not used in the bill"
    changed = dict(doc, demandattrs=[])
    assert parse_tariff(changed).sha256 != t.sha256


def test_periods_with_different_tier_counts():
    t = load_tariff(CORPUS / "reopt-jl-multi-tier.json")
    assert [len(p) for p in t.energy_tiers] == [1, 2, 1]
    assert [len(p) for p in t.demand_tiers] == [1, 2]
    assert t.fixed_charge_unit == "$/day"


def test_net_billing_hourly_sell_rates_and_zero_minimums():
    t = load_tariff(CORPUS / "reopt-jl-net-billing-hourly.json")
    assert t.export_rule == "net billing hourly"
    assert [p[0].sell for p in t.energy_tiers][:5] == [Decimal("0.1096")] * 4 + [Decimal("0.05819")]
    assert all(p[0].max is None for p in t.energy_tiers)  # a single tier's 1e38 is the open last tier
    assert (t.fixed_charge, t.min_monthly_charge, t.annual_min_charge) == (Decimal(435), 0, 0)


def test_coincident_demand_under_its_older_schedule_name():
    t = load_tariff(CORPUS / "peco-gs-ht.json")
    assert t.coincident_tiers[0][0].rate == Decimal("0.79")
    assert t.coincident_schedule is not None
    assert int(t.coincident_schedule.max()) == 0
    assert t.energy_tiers[0][0].sell == Decimal("0.0699")


def test_pysam_v7_rate_with_float_schedules_and_its_minimums():
    t = load_tariff(DATA / "pysam-urdbv7.json")
    assert t.energy_weekday.dtype.kind == "i"
    assert t.flat_demand_months.tolist() == [0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 1, 1]
    assert (t.fixed_charge, t.min_monthly_charge, t.annual_min_charge) == (
        Decimal("35.28"),
        Decimal("1.0"),
        Decimal("12.0"),
    )
    assert t.energy_tiers[0][0].max == Decimal("100.0")


def test_reopt_rate_with_a_tier_without_a_rate_is_refused():
    with pytest.raises(TariffError) as info:
        load_tariff(DATA / "reopt-api-missing-rate.json")
    assert info.value.problems == (
        ("energyratestructure[0][0].rate", "is missing (a tier needs a rate, adj or sell)"),
    )


def test_reopt_rate_whose_schedules_name_a_missing_period_is_refused():
    with pytest.raises(TariffError) as info:
        load_tariff(DATA / "reopt-api-missing-schedule.json")
    assert [f for f, _ in info.value.problems] == [
        "energyweekdayschedule[0][0]",
        "energyweekendschedule[0][0]",
    ]
    assert all("period 1 is not in energyratestructure" in d for _, d in info.value.problems)


def test_a_missing_required_structure_and_other_problems_are_named_together():
    doc = rate("fpl-rs-1.json")
    del doc["energyweekendschedule"]
    doc["energyratestructure"][0][1]["rate"] = -0.01
    doc["fixedchargeunits"] = "$/fortnight"
    with pytest.raises(TariffError) as info:
        parse_tariff(doc)
    assert [f for f, _ in info.value.problems] == [
        "energyweekendschedule",
        "energyratestructure[0][1].rate",
        "fixedchargeunits",
    ]


def test_a_broken_schedule_is_named_beside_a_negative_rate():
    """Issue 13, bad input: a schedule naming a period that does not exist and a negative rate in the same
    document (PG&E A-10 as published, two fields changed) are refused together, each named."""
    doc = rate("pge-a-10.json")
    doc["energyratestructure"][0][0]["rate"] = -0.1
    doc["energyweekdayschedule"][0][0] = 9
    with pytest.raises(TariffError) as info:
        parse_tariff(doc)
    assert info.value.problems == (
        ("energyratestructure[0][0].rate", "must not be negative, got -0.1"),
        (
            "energyweekdayschedule[0][0]",
            f"period 9 is not in energyratestructure (periods 0 to {len(doc['energyratestructure']) - 1})",
        ),
    )
