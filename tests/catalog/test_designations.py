"""Tests of meshmeter.catalog.designations (certificate p.1, manual §2.4, §3.1 note 1)."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshmeter.catalog import (
    KITS,
    MINI_METER_RATINGS,
    CtSpec,
    KitSpec,
    MeterSpec,
    decode,
    decode_ct,
    decode_kit,
    decode_meter,
    encode_ct,
    encode_meter,
)
from meshmeter.errors import DesignationError, MeshmeterError


def _allowed_pattern(field: str, *allowed: str) -> str:
    """The regex that a DesignationError message for ``field`` with ``allowed`` matches."""
    shown = ", ".join(repr(a) for a in allowed)
    return f"field {re.escape(repr(field))} is .*; allowed: {re.escape(shown)}$"


# --------------------------------------------------------------------------------------
# Meters: MM-{D|S}1202001[-T][-SCC] (certificate p.1)
# --------------------------------------------------------------------------------------

METERS = [
    # designation, elements, wires, kh [Wh], indicating element
    ("MM-D1202001-T-SCC", 2, 3, 100, "self-contained"),
    ("MM-D1202001-T", 2, 3, 100, "external"),
    ("MM-D1202001-SCC", 2, 3, 1000, "self-contained"),
    ("MM-D1202001", 2, 3, 1000, "external"),
    ("MM-S1202001-T-SCC", 1, 2, 100, "self-contained"),
    ("MM-S1202001-T", 1, 2, 100, "external"),
    ("MM-S1202001-SCC", 1, 2, 1000, "self-contained"),
    ("MM-S1202001", 1, 2, 1000, "external"),
]


@pytest.mark.parametrize(("designation", "elements", "wires", "kh_wh", "indicating"), METERS)
def test_decode_meter(designation, elements, wires, kh_wh, indicating):
    spec = decode_meter(designation)
    assert spec.designation == designation
    assert spec.elements == elements  # "D = Dual Element (3-wire) S = Single Element (2-wire)"
    assert spec.wires == wires
    assert spec.wiring == f"{wires}-wire"
    assert spec.voltage_ln_v == 120.0  # "L1 to Neutral is 120 VAC"
    assert spec.voltage_ll_v == ((208.0, 240.0) if elements == 2 else ())  # "L1 to L2 is 208/240 VAC"
    assert spec.ct_primary_a == 200.0  # "2001 = 200:0.1 Amps"
    assert spec.ct_secondary_a == 0.1
    assert spec.ct_ratio == 2000.0
    assert spec.counter_kh_wh == kh_wh  # "T = 100 Blank = 1000"
    assert spec.indicating_element == indicating  # "SCC = Self Contained ... Blank = ... External"
    assert spec.self_contained is (indicating == "self-contained")
    assert spec.ratings is MINI_METER_RATINGS


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("mm-d1202001-t-scc", "MM-D1202001-T-SCC"),
        ("  MM-S1202001\n", "MM-S1202001"),
        ("\tMm-D1202001-Scc ", "MM-D1202001-SCC"),
    ],
)
def test_decode_meter_normalises(text, canonical):
    assert decode_meter(text).designation == canonical
    assert decode(text) == decode_meter(canonical)


@pytest.mark.parametrize(
    ("text", "field", "allowed"),
    [
        ("MM-X1202001", "element", ("D", "S")),
        ("MM-", "element", ("D", "S")),
        ("MM-D1302001", "voltage", ("120",)),
        ("MM-D12", "voltage", ("120",)),
        ("MM-D120", "ct_ratio", ("2001",)),
        ("MM-D1201001", "ct_ratio", ("2001",)),
        ("MM-S120200", "ct_ratio", ("2001",)),
        ("MM-D1202001-Q", "suffix", ("", "-T", "-SCC", "-T-SCC")),
        ("MM-D1202001-SCC-T", "suffix", ("", "-T", "-SCC", "-T-SCC")),
        ("MM-D1202001-T-SCC-X", "suffix", ("", "-T", "-SCC", "-T-SCC")),
        ("MM-D1202001--SCC", "suffix", ("", "-T", "-SCC", "-T-SCC")),
        ("MM-D1202001-", "suffix", ("", "-T", "-SCC", "-T-SCC")),
        ("MM-D12020011", "suffix", ("", "-T", "-SCC", "-T-SCC")),
        ("MM-D1202001-Q-SCC", "kh", ("T", "")),
        ("MM-D1202001-T-SC", "indicating_element", ("SCC", "")),
        ("MM D1202001", "prefix", ("MM-",)),
        ("CT200124BK", "prefix", ("MM-",)),
        ("", "prefix", ("MM-",)),
    ],
)
def test_decode_meter_refuses(text, field, allowed):
    with pytest.raises(DesignationError, match=_allowed_pattern(field, *allowed)) as info:
        decode_meter(text)
    assert info.value.field == field
    assert info.value.allowed == allowed


@pytest.mark.parametrize("text", [None, 1202001, b"MM-D1202001", ["MM-D1202001"]])
def test_decode_refuses_non_str(text):
    with pytest.raises(DesignationError, match=_allowed_pattern("type", "str")):
        decode(text)
    with pytest.raises(DesignationError, match="'type'"):
        decode_meter(text)


def test_designation_error_is_value_error_and_meshmeter_error():
    with pytest.raises(DesignationError) as info:
        decode("MM-X1202001")
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, MeshmeterError)
    assert info.value.designation == "MM-X1202001"
    assert info.value.value == "X"


@pytest.mark.parametrize(
    ("elements", "kh_wh", "self_contained", "expected"),
    [
        (2, 100, True, "MM-D1202001-T-SCC"),
        (2, 100, False, "MM-D1202001-T"),
        (2, 1000, True, "MM-D1202001-SCC"),
        (2, 1000, False, "MM-D1202001"),
        (1, 100, True, "MM-S1202001-T-SCC"),
        (1, 100, False, "MM-S1202001-T"),
        (1, 1000, True, "MM-S1202001-SCC"),
        (1, 1000, False, "MM-S1202001"),
    ],
)
def test_encode_meter(elements, kh_wh, self_contained, expected):
    assert encode_meter(elements, kh_wh, self_contained) == expected


def test_encode_meter_defaults():
    assert encode_meter() == "MM-D1202001-T-SCC"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"elements": 3}, r"elements must be 1 or 2, got 3"),
        ({"elements": 0}, r"elements must be 1 or 2, got 0"),
        ({"elements": True}, r"elements must be 1 or 2, got True"),
        ({"kh_wh": 10}, r"kh_wh must be 100 or 1000, got 10"),
        ({"kh_wh": 1}, r"kh_wh must be 100 or 1000, got 1"),
        ({"self_contained": 1}, r"self_contained must be a bool, got 1"),
        ({"self_contained": "yes"}, r"self_contained must be a bool, got 'yes'"),
    ],
)
def test_encode_meter_refuses(kwargs, match):
    with pytest.raises(ValueError, match=match):
        encode_meter(**kwargs)


@pytest.mark.parametrize("designation", [m[0] for m in METERS])
def test_meter_round_trip(designation):
    spec = decode_meter(designation)
    assert encode_meter(spec.elements, spec.counter_kh_wh, spec.self_contained) == designation
    assert decode(spec.designation) == spec


@given(
    elements=st.sampled_from([1, 2]),
    kh_wh=st.sampled_from([100, 1000]),
    self_contained=st.booleans(),
    lower=st.booleans(),
    pad=st.sampled_from(["", " ", "\t", "\n  "]),
)
def test_meter_round_trip_property(elements, kh_wh, self_contained, lower, pad):
    designation = encode_meter(elements, kh_wh, self_contained)
    text = pad + (designation.lower() if lower else designation) + pad
    spec = decode(text)
    assert isinstance(spec, MeterSpec)
    assert (spec.elements, spec.counter_kh_wh, spec.self_contained) == (elements, kh_wh, self_contained)
    assert spec.designation == designation
    assert decode(spec.designation) == spec


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"elements": 1}, r"MeterSpec\.elements = 1 disagrees"),
        ({"counter_kh_wh": 10}, r"MeterSpec\.counter_kh_wh = 10 disagrees"),
        ({"voltage_ll_v": ()}, r"MeterSpec\.voltage_ll_v = \(\) disagrees"),
        ({"designation": "mm-d1202001-t-scc"}, r"MeterSpec\.designation"),
    ],
)
def test_meter_spec_checks_construction(changes, match):
    spec = decode_meter("MM-D1202001-T-SCC")
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(spec, **changes)


def test_meter_spec_frozen():
    spec = decode_meter("MM-D1202001")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.elements = 1  # type: ignore[misc]


def test_meter_to_dict():
    data = decode("MM-D1202001-T-SCC").to_dict()
    assert data["kind"] == "meter"
    assert data["designation"] == "MM-D1202001-T-SCC"
    assert data["voltage_ll_v"] == [208.0, 240.0]
    assert data["ct_ratio"] == 2000.0
    assert data["counter_kh_wh"] == 100
    assert data["ratings"]["supply_max_v"] == 138.0
    assert data["ratings"]["pulse_output_kh_wh"] == [10, 100, 1000]
    assert json.loads(json.dumps(data)) == data


# --------------------------------------------------------------------------------------
# CTs: CT200124{BK|RD|BL}[-A] (certificate p.1) and Leviton CDA02-{K|R}12 (manual §3.1)
# --------------------------------------------------------------------------------------

CTS = [
    # designation, colour, colour pair, model
    ("CT200124BK", "black", "black and white", "old"),
    ("CT200124RD", "red", "red and white", "old"),
    ("CT200124BL", "blue", "blue and white", "old"),
    ("CT200124BK-A", "black", "black and white", "new"),
    ("CT200124RD-A", "red", "red and white", "new"),
    ("CT200124BL-A", "blue", "blue and white", "new"),
]


@pytest.mark.parametrize(("designation", "colour", "pair", "model"), CTS)
def test_decode_ct(designation, colour, pair, model):
    spec = decode_ct(designation)
    assert spec.designation == designation
    assert spec.primary_a == 200.0  # "CT Ratio 200:0.1 Amps"
    assert spec.secondary_a == 0.1
    assert spec.ratio == 2000.0
    assert spec.accuracy_class == 0.3  # "24" = "Accuracy Class 0.3"
    assert spec.colour == colour
    assert spec.colour_pair == pair  # "BK = Black and White" ...
    assert spec.lead_x1_colour == colour  # manual §4.5.1: coloured lead to X1
    assert spec.lead_x2_colour == "white"  # white lead to X2
    assert spec.model == model  # "Blank = Old CT Model A = New CT Model"
    assert decode(designation) == spec


@pytest.mark.parametrize(("designation", "colour"), [("CDA02-K12", "black"), ("CDA02-R12", "red")])
def test_decode_leviton_ct(designation, colour):
    spec = decode(designation)
    assert isinstance(spec, CtSpec)
    assert spec.designation == designation
    assert spec.model == "leviton"
    assert spec.primary_a == 200.0  # manual §3.1 note 1 "200A"
    assert spec.colour == colour
    assert spec.colour_pair == f"{colour} and white"
    assert spec.accuracy_class is None  # the manual does not state a class


@pytest.mark.parametrize(
    ("colour", "new_model", "expected"),
    [
        ("black", False, "CT200124BK"),
        ("red", False, "CT200124RD"),
        ("blue", False, "CT200124BL"),
        ("black", True, "CT200124BK-A"),
        ("red", True, "CT200124RD-A"),
        ("blue", True, "CT200124BL-A"),
    ],
)
def test_encode_ct(colour, new_model, expected):
    assert encode_ct(colour, new_model) == expected


@pytest.mark.parametrize(
    ("colour", "new_model", "match"),
    [
        ("green", True, r"colour must be one of \('black', 'red', 'blue'\), got 'green'"),
        ("BK", True, r"colour must be one of .*got 'BK'"),
        (None, True, r"colour must be one of .*got None"),
        ("black", "A", r"new_model must be a bool, got 'A'"),
        ("black", 1, r"new_model must be a bool, got 1"),
    ],
)
def test_encode_ct_refuses(colour, new_model, match):
    with pytest.raises(ValueError, match=match):
        encode_ct(colour, new_model)


@pytest.mark.parametrize(
    ("text", "field", "allowed"),
    [
        ("CT100124BK", "ct_ratio", ("2001",)),
        ("CT200125BK", "accuracy_class", ("24",)),
        ("CT200124GR", "colour", ("BK", "RD", "BL")),
        ("CT200124", "colour", ("BK", "RD", "BL")),
        ("CT200124BK-B", "model", ("", "-A")),
        ("CT200124BKA", "model", ("", "-A")),
        ("CT200124BK-A-A", "model", ("", "-A")),
        ("CDA02-G12", "colour", ("K", "R")),
        ("CDA02-K13", "suffix", ("-K12", "-R12")),
        ("CDA02-K", "suffix", ("-K12", "-R12")),
        ("CDA03-K12", "prefix", ("CDA02-",)),
        ("MM-D1202001", "prefix", ("CT", "CDA02-")),
    ],
)
def test_decode_ct_refuses(text, field, allowed):
    with pytest.raises(DesignationError, match=_allowed_pattern(field, *allowed)):
        decode_ct(text)


@given(colour=st.sampled_from(["black", "red", "blue"]), new_model=st.booleans(), lower=st.booleans())
def test_ct_round_trip_property(colour, new_model, lower):
    designation = encode_ct(colour, new_model)
    spec = decode(designation.lower() if lower else designation)
    assert isinstance(spec, CtSpec)
    assert (spec.colour, spec.model) == (colour, "new" if new_model else "old")
    assert spec.designation == designation
    assert decode(spec.designation) == spec


def test_ct_spec_checks_construction():
    spec = decode_ct("CT200124BK-A")
    with pytest.raises(ValueError, match=r"CtSpec\.colour = 'red' disagrees"):
        dataclasses.replace(spec, colour="red")


def test_ct_to_dict():
    data = decode("CT200124RD-A").to_dict()
    assert data == {
        "kind": "ct",
        "designation": "CT200124RD-A",
        "primary_a": 200.0,
        "secondary_a": 0.1,
        "accuracy_class": 0.3,
        "colour": "red",
        "colour_pair": "red and white",
        "lead_x1_colour": "red",
        "lead_x2_colour": "white",
        "model": "new",
        "ratio": 2000.0,
    }
    assert json.loads(json.dumps(data)) == data


# --------------------------------------------------------------------------------------
# Kits (manual §2.4, Table 1)
# --------------------------------------------------------------------------------------

KIT_ROWS = [
    # designation, transceiver, TOU, temperature, delta temperature [%], the manual's text
    (
        "6PSMT-C02",
        False,
        False,
        False,
        None,
        "Surface Mount Mini Meter™ Kit, LCD Display, Isolated Pulse Outputs",
    ),
    (
        "MMSMT-C02",
        True,
        True,
        False,
        None,
        "Surface Mount Mini Meter™ Kit, LCD Display, Isolated Pulse Outputs, "
        "TOU enabled kWh Meter Data Transceiver",
    ),
    (
        "MMSMT-D02",
        True,
        True,
        True,
        None,
        "Surface Mount Mini Meter™ Kit, LCD Display, Isolated Pulse Outputs, "
        "TOU and Temperature enabled kWh Meter Data Transceiver",
    ),
    (
        "MMSMT-E02",
        True,
        True,
        True,
        1.0,
        "Surface Mount Mini Meter™ Kit, LCD Display, Isolated Pulse Outputs, "
        "TOU and 1% Delta Temperature enabled kWh Meter Data Transceiver",
    ),
]


@pytest.mark.parametrize(("designation", "transceiver", "tou", "temperature", "delta", "text"), KIT_ROWS)
def test_decode_kit(designation, transceiver, tou, temperature, delta, text):
    spec = decode_kit(designation)
    assert spec.designation == designation
    assert spec.description == text
    assert spec.has_lcd is True
    assert spec.has_pulse_outputs is True
    assert spec.has_transceiver is transceiver
    assert spec.tou is tou
    assert spec.temperature is temperature
    assert spec.delta_temperature_percent == delta
    assert decode(designation.lower()) is KITS[designation]


def test_6psmt_has_no_transceiver():
    assert decode("6PSMT-C02").has_transceiver is False  # type: ignore[union-attr]


def test_e02_has_1_percent_delta_temperature():
    assert decode("MMSMT-E02").delta_temperature_percent == 1.0  # type: ignore[union-attr]


def test_kits_mapping():
    assert list(KITS) == ["6PSMT-C02", "MMSMT-C02", "MMSMT-D02", "MMSMT-E02"]
    assert all(isinstance(kit, KitSpec) for kit in KITS.values())
    with pytest.raises(TypeError):
        KITS["X"] = KITS["6PSMT-C02"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "field", "allowed"),
    [
        ("MMSMT-F02", "option", ("-C02", "-D02", "-E02")),
        ("MMSMT-C03", "option", ("-C02", "-D02", "-E02")),
        ("MMSMT", "option", ("-C02", "-D02", "-E02")),
        ("6PSMT-D02", "option", ("-C02",)),
        ("6PSMTC02", "option", ("-C02",)),
        ("7PSMT-C02", "prefix", ("6PSMT-", "MMSMT-")),
    ],
)
def test_decode_kit_refuses(text, field, allowed):
    with pytest.raises(DesignationError, match=_allowed_pattern(field, *allowed)):
        decode_kit(text)


def test_kit_spec_checks_construction():
    with pytest.raises(ValueError, match=r"KitSpec\.has_transceiver = True disagrees"):
        dataclasses.replace(KITS["6PSMT-C02"], has_transceiver=True)
    with pytest.raises(ValueError, match="not a kit"):
        dataclasses.replace(KITS["6PSMT-C02"], designation="6PSMT-X02")


def test_kit_to_dict():
    data = KITS["MMSMT-E02"].to_dict()
    assert data["kind"] == "kit"
    assert data["delta_temperature_percent"] == 1.0
    assert json.loads(json.dumps(data)) == data


# --------------------------------------------------------------------------------------
# decode: dispatch on the prefix
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("MM-D1202001-T-SCC", MeterSpec),
        ("CT200124BK", CtSpec),
        ("CDA02-K12", CtSpec),
        ("6PSMT-C02", KitSpec),
        ("MMSMT-D02", KitSpec),
    ],
)
def test_decode_dispatches(text, kind):
    assert isinstance(decode(text), kind)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("", ""),
        ("   ", ""),
        ("XY-1202001", "XY"),
        ("MMD1202001", "MMD1202001"),
        ("LEVITON", "LEVITON"),
    ],
)
def test_decode_refuses_unknown_prefix(text, value):
    allowed = ("MM-", "CT", "CDA02-", "6PSMT-", "MMSMT-")
    with pytest.raises(DesignationError, match=_allowed_pattern("prefix", *allowed)) as info:
        decode(text)
    assert info.value.value == value


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("MM-X1202001", "element"),
        ("CT200124GR", "colour"),
        ("MMSMT-F02", "option"),
        ("CDA02-G12", "colour"),
    ],
)
def test_decode_passes_on_family_errors(text, field):
    with pytest.raises(DesignationError, match=f"field '{field}'"):
        decode(text)
