"""Model designations of meters, CTs and kits, decoded into typed specs and encoded back.

Three families of designation are known (certificate p.1, manual §2.4, §3.1):

* meters ``MM-{D|S}1202001[-T][-SCC]`` -> :class:`MeterSpec`;
* current transformers ``CT200124{BK|RD|BL}[-A]`` and the Leviton parts ``CDA02-K12``,
  ``CDA02-R12`` -> :class:`CtSpec`;
* surface-mount kits ``6PSMT-C02``, ``MMSMT-C02``, ``MMSMT-D02``, ``MMSMT-E02`` ->
  :class:`KitSpec`.

Decoding strips surrounding whitespace and upper-cases the text; anything else that does
not match is refused with :class:`~meshmeter.errors.DesignationError`, which names the
field that is wrong, its value and the values allowed. The field names used are:

``type``
    the designation is not a ``str`` (allowed: ``"str"``);
``prefix``
    the leading part does not name a known family;
``element``
    meter element code, ``D`` (dual element, 3-wire) or ``S`` (single element, 2-wire);
``voltage``
    meter voltage code, ``120``;
``ct_ratio``
    CT ratio code, ``2001`` (200:0.1 A), in meter and CT designations;
``kh``
    meter Kh factor code, ``T`` (100 Wh) or blank (1000 Wh); reported when the indicating
    element code that follows is right but the Kh code before it is not;
``indicating_element``
    meter indicating element code, ``SCC`` or blank; reported when the Kh code ``T`` is
    right but the code after it is not;
``suffix``
    everything after a meter's CT ratio, or after a Leviton CT's ``CDA02``, when it fits no
    allowed pattern as a whole (e.g. ``-Q``, ``-SCC-T``);
``accuracy_class``
    CT accuracy class code, ``24`` (class 0.3);
``colour``
    CT colour code, ``BK``, ``RD``, ``BL`` (or ``K``, ``R`` for Leviton parts);
``model``
    CT model suffix, blank (old CT model) or ``-A`` (new CT model);
``option``
    kit option, e.g. ``-C02``.

A blank code appears as ``""`` in the allowed values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from types import MappingProxyType
from typing import Any, Final

from meshmeter.catalog.ratings import MINI_METER_RATINGS, Ratings
from meshmeter.errors import DesignationError

__all__ = [
    "CT_COLOURS",
    "KITS",
    "PREFIXES",
    "CtSpec",
    "KitSpec",
    "MeterSpec",
    "Spec",
    "decode",
    "decode_ct",
    "decode_kit",
    "decode_meter",
    "encode_ct",
    "encode_meter",
]

# --------------------------------------------------------------------------------------
# Codes of the certificate and the manual
# --------------------------------------------------------------------------------------

_METER_PREFIX: Final = "MM-"
_ELEMENT_CODES: Final = MappingProxyType({"D": 2, "S": 1})
_VOLTAGE_CODE: Final = "120"
_CT_RATIO_CODE: Final = "2001"
_SCC: Final = "SCC"
_METER_SUFFIXES: Final = ("", "-T", "-SCC", "-T-SCC")

_CT_PREFIX: Final = "CT"
_CT_CLASS_CODE: Final = "24"
_CT_MODEL_CODES: Final = MappingProxyType({"": "old", "-A": "new"})
_CT_ACCURACY_CLASS: Final = 0.3  # code "24" (certificate p.1); limits in ratings.CT_ACCURACY_CLASS_0_3

CT_COLOURS: Final = ("black", "red", "blue")
"""Colours of the certified CTs, in the order of the certificate's codes BK, RD, BL (certificate p.1)."""
_CT_COLOUR_CODES: Final = MappingProxyType({"BK": "black", "RD": "red", "BL": "blue"})

_LEVITON_PREFIX: Final = "CDA"
_LEVITON_SERIES: Final = "02"
_LEVITON_COLOUR_CODES: Final = MappingProxyType({"K": "black", "R": "red"})
_LEVITON_SUFFIXES: Final = ("-K12", "-R12")

_KIT_SERIES: Final = MappingProxyType({"6PSMT": ("C02",), "MMSMT": ("C02", "D02", "E02")})

PREFIXES: Final = ("MM-", "CT", "CDA02-", "6PSMT-", "MMSMT-")
"""Leading parts of the designations that :func:`decode` knows."""

_CT_PRIMARY_A: Final = 200.0
_CT_SECONDARY_A: Final = 0.1


def _normalise(text: object) -> str:
    """Strip and upper-case a designation; refuse a non-``str`` with field ``type``."""
    if not isinstance(text, str):
        raise DesignationError(repr(text), "type", type(text).__name__, ("str",))
    return text.strip().upper()


def _check_fields(spec: Any, expected: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    """Refuse a spec whose fields disagree with those its designation implies."""
    for f in fields(spec):
        if f.name in skip:
            continue
        got = getattr(spec, f.name)
        if got != expected[f.name]:
            raise ValueError(
                f"{type(spec).__name__}.{f.name} = {got!r} disagrees with designation "
                f"{expected['designation']!r}, which implies {expected[f.name]!r}"
            )


def _plain(value: Any) -> Any:
    """Turn tuples (also nested in dicts) into lists so that a dict is JSON-ready."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


# --------------------------------------------------------------------------------------
# Meters
# --------------------------------------------------------------------------------------


def _meter_fields(elements: int, kh_wh: int, self_contained: bool) -> dict[str, Any]:
    """All fields of a MeterSpec but ``ratings``, from the three choices of the designation."""
    element_code = "D" if elements == 2 else "S"
    kh_code = "-T" if kh_wh == 100 else ""
    scc_code = "-SCC" if self_contained else ""
    wires = elements + 1
    return {
        "designation": f"{_METER_PREFIX}{element_code}{_VOLTAGE_CODE}{_CT_RATIO_CODE}{kh_code}{scc_code}",
        "elements": elements,
        "wires": wires,
        "wiring": f"{wires}-wire",
        "voltage_ln_v": 120.0,
        "voltage_ll_v": (208.0, 240.0) if elements == 2 else (),
        "ct_primary_a": _CT_PRIMARY_A,
        "ct_secondary_a": _CT_SECONDARY_A,
        "counter_kh_wh": kh_wh,
        "indicating_element": "self-contained" if self_contained else "external",
    }


def _parse_meter(text: object) -> dict[str, Any]:
    """Decode a meter designation into the fields of a MeterSpec (without ``ratings``)."""
    designation = _normalise(text)
    if not designation.startswith(_METER_PREFIX):
        raise DesignationError(designation, "prefix", designation[:3], (_METER_PREFIX,))
    body = designation[len(_METER_PREFIX) :]
    element = body[0:1]
    if element not in _ELEMENT_CODES:
        raise DesignationError(designation, "element", element, tuple(_ELEMENT_CODES))
    voltage = body[1:4]
    if voltage != _VOLTAGE_CODE:
        raise DesignationError(designation, "voltage", voltage, (_VOLTAGE_CODE,))
    ct_ratio = body[4:8]
    if ct_ratio != _CT_RATIO_CODE:
        raise DesignationError(designation, "ct_ratio", ct_ratio, (_CT_RATIO_CODE,))
    suffix = body[8:]
    if suffix not in _METER_SUFFIXES:
        parts = suffix.split("-")
        if len(parts) == 3 and parts[0] == "" and parts[1] != "" and parts[2] == _SCC:
            raise DesignationError(designation, "kh", parts[1], ("T", ""))
        if len(parts) == 3 and parts[0] == "" and parts[1] == "T" and parts[2] != "":
            raise DesignationError(designation, "indicating_element", parts[2], (_SCC, ""))
        raise DesignationError(designation, "suffix", suffix, _METER_SUFFIXES)
    kh_wh = 100 if suffix.startswith("-T") else 1000
    self_contained = suffix.endswith("-" + _SCC)
    return _meter_fields(_ELEMENT_CODES[element], kh_wh, self_contained)


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """
    A Mini Meter model, as its designation ``MM-{D|S}1202001[-T][-SCC]`` describes it.

    Build one with :func:`decode_meter` (or :func:`decode`); direct construction is checked
    against the designation and refused with ``ValueError`` where a field disagrees.

    Parameters
    ----------
    designation : str
        Canonical designation, upper case, e.g. ``"MM-D1202001-T-SCC"``.
    elements : int
        Number of metering elements: 2 for ``D`` (dual element, 3-wire), 1 for ``S``
        (single element, 2-wire) (certificate p.1). [1]
    wires : int
        Number of service wires: 3 or 2 (certificate p.1). [1]
    wiring : str
        ``"3-wire"`` or ``"2-wire"``.
    voltage_ln_v : float
        Nominal voltage L1 (and L2) to neutral, "120" (certificate p.1). [V]
    voltage_ll_v : tuple of float
        Nominal voltages L1 to L2: ``(208.0, 240.0)`` for a dual element meter. A single
        element meter is connected L1 to neutral only (certificate p.2: L2 is for the dual
        element meter), so for it this is the empty tuple. [V]
    ct_primary_a, ct_secondary_a : float
        CT rating of code "2001", 200:0.1 A (certificate p.1). [A]
    counter_kh_wh : int
        Kh of the counter (external indicating element) output: 100 for ``T``, 1000 for
        blank (certificate p.1, manual §3.2). [Wh]
    indicating_element : str
        ``"self-contained"`` for ``SCC``, ``"external"`` for blank: the meter then requires
        an external indicating element (certificate p.1).
    ratings : Ratings, optional
        Ratings of the model; default :data:`MINI_METER_RATINGS`, the same for every
        Mini Meter model (not checked against the designation).
    """

    designation: str
    elements: int
    wires: int
    wiring: str
    voltage_ln_v: float
    voltage_ll_v: tuple[float, ...]
    ct_primary_a: float
    ct_secondary_a: float
    counter_kh_wh: int
    indicating_element: str
    ratings: Ratings = field(default=MINI_METER_RATINGS)

    def __post_init__(self) -> None:
        _check_fields(self, _parse_meter(self.designation), skip=("ratings",))

    @property
    def ct_ratio(self) -> float:
        """CT ratio, primary / secondary: 2000 for 200:0.1 A (certificate p.1). [1]"""
        return self.ct_primary_a / self.ct_secondary_a

    @property
    def self_contained(self) -> bool:
        """Whether the indicating element is self-contained (``SCC``, certificate p.1)."""
        return self.indicating_element == "self-contained"

    def to_dict(self) -> dict[str, Any]:
        """
        The spec as JSON-ready plain values.

        Returns
        -------
        spec : dict
            ``kind`` (``"meter"``), every field, ``ct_ratio``; tuples become lists and
            ``ratings`` a nested dict.
        """
        data = {"kind": "meter", **asdict(self), "ct_ratio": self.ct_ratio}
        return _plain(data)  # type: ignore[no-any-return]


def decode_meter(text: str) -> MeterSpec:
    """
    Decode a meter designation ``MM-{D|S}1202001[-T][-SCC]``.

    Parameters
    ----------
    text : str
        The designation; surrounding whitespace and lower case are accepted.

    Returns
    -------
    spec : MeterSpec

    Raises
    ------
    DesignationError
        Naming the wrong field (``type``, ``prefix``, ``element``, ``voltage``,
        ``ct_ratio``, ``kh``, ``indicating_element`` or ``suffix``) and its allowed values.

    References
    ----------
    certificate p.1, Model Designation.
    """
    return MeterSpec(**_parse_meter(text))


def encode_meter(elements: int = 2, kh_wh: int = 100, self_contained: bool = True) -> str:
    """
    Build a meter designation from its three choices.

    Parameters
    ----------
    elements : int, optional
        2 (dual element, 3-wire, ``D``) or 1 (single element, 2-wire, ``S``). [1]
    kh_wh : int, optional
        Counter Kh: 100 (``-T``) or 1000 (blank). [Wh]
    self_contained : bool, optional
        True for a self-contained indicating element (``-SCC``), False for an external one.

    Returns
    -------
    designation : str
        E.g. ``"MM-D1202001-T-SCC"`` for the defaults.

    Raises
    ------
    ValueError
        Naming the argument and its value, if it is not one of those allowed.

    References
    ----------
    certificate p.1, Model Designation.
    """
    if isinstance(elements, bool) or elements not in (1, 2):
        raise ValueError(f"elements must be 1 or 2, got {elements!r}")
    if isinstance(kh_wh, bool) or kh_wh not in (100, 1000):
        raise ValueError(f"kh_wh must be 100 or 1000, got {kh_wh!r}")
    if not isinstance(self_contained, bool):
        raise ValueError(f"self_contained must be a bool, got {self_contained!r}")
    designation: str = _meter_fields(int(elements), int(kh_wh), self_contained)["designation"]
    return designation


# --------------------------------------------------------------------------------------
# Current transformers
# --------------------------------------------------------------------------------------


def _ct_fields(designation: str, colour: str, model: str, accuracy_class: float | None) -> dict[str, Any]:
    return {
        "designation": designation,
        "primary_a": _CT_PRIMARY_A,
        "secondary_a": _CT_SECONDARY_A,
        "accuracy_class": accuracy_class,
        "colour": colour,
        "colour_pair": f"{colour} and white",
        "lead_x1_colour": colour,
        "lead_x2_colour": "white",
        "model": model,
    }


def _parse_certified_ct(designation: str) -> dict[str, Any]:
    body = designation[len(_CT_PREFIX) :]
    ct_ratio = body[0:4]
    if ct_ratio != _CT_RATIO_CODE:
        raise DesignationError(designation, "ct_ratio", ct_ratio, (_CT_RATIO_CODE,))
    class_code = body[4:6]
    if class_code != _CT_CLASS_CODE:
        raise DesignationError(designation, "accuracy_class", class_code, (_CT_CLASS_CODE,))
    colour_code = body[6:8]
    if colour_code not in _CT_COLOUR_CODES:
        raise DesignationError(designation, "colour", colour_code, tuple(_CT_COLOUR_CODES))
    model_code = body[8:]
    if model_code not in _CT_MODEL_CODES:
        raise DesignationError(designation, "model", model_code, tuple(_CT_MODEL_CODES))
    return _ct_fields(
        designation, _CT_COLOUR_CODES[colour_code], _CT_MODEL_CODES[model_code], _CT_ACCURACY_CLASS
    )


def _parse_leviton_ct(designation: str) -> dict[str, Any]:
    series = designation[len(_LEVITON_PREFIX) : len(_LEVITON_PREFIX) + 2]
    if series != _LEVITON_SERIES or designation[5:6] != "-":
        raise DesignationError(designation, "prefix", designation[:6], ("CDA02-",))
    suffix = designation[len(_LEVITON_PREFIX) + 2 :]
    if suffix not in _LEVITON_SUFFIXES:
        if len(suffix) == 4 and suffix.startswith("-") and suffix.endswith("12"):
            raise DesignationError(designation, "colour", suffix[1], tuple(_LEVITON_COLOUR_CODES))
        raise DesignationError(designation, "suffix", suffix, _LEVITON_SUFFIXES)
    return _ct_fields(designation, _LEVITON_COLOUR_CODES[suffix[1]], "leviton", None)


def _parse_ct(text: object) -> dict[str, Any]:
    designation = _normalise(text)
    if designation.startswith(_LEVITON_PREFIX):
        return _parse_leviton_ct(designation)
    if designation.startswith(_CT_PREFIX):
        return _parse_certified_ct(designation)
    raise DesignationError(designation, "prefix", designation[:3], (_CT_PREFIX, "CDA02-"))


@dataclass(frozen=True, slots=True)
class CtSpec:
    """
    A current transformer, as its designation describes it.

    Certified CTs are ``CT200124{BK|RD|BL}[-A]`` (certificate p.1): "2001" ratio 200:0.1 A,
    "24" accuracy class 0.3, colour code, blank for the old CT model or ``-A`` for the new.
    The Leviton parts ``CDA02-K12`` (black) and ``CDA02-R12`` (red) of manual §3.1 note 1,
    the 200 A CTs supplied with the surface-mount kits, decode with ``model="leviton"``.

    Parameters
    ----------
    designation : str
        Canonical designation, upper case, e.g. ``"CT200124BK-A"``.
    primary_a, secondary_a : float
        Rated primary and secondary current, 200 and 0.1 A. [A]
        For the Leviton parts the manual states only "200A"; the secondary of 0.1 A is
        inferred from the meter they are approved with, whose CT input is "2001",
        200:0.1 A (certificate p.1), and from the manual's 0.11 A maximum secondary
        current for 0.1 A secondary models (manual §3.1).
    accuracy_class : float or None
        IEEE C57.13 metering accuracy class: 0.3 for code "24" (certificate p.1). None for
        the Leviton parts, whose class the manual does not state. [%]
    colour : str
        ``"black"``, ``"red"`` or ``"blue"`` (Leviton: black or red).
    colour_pair : str
        The certificate's wording, e.g. ``"black and white"``.
    lead_x1_colour, lead_x2_colour : str
        Colours of the leads: the coloured lead goes to X1, the white lead to X2
        (manual §4.5.1).
    model : str
        ``"old"`` (blank), ``"new"`` (``-A``) or ``"leviton"``.
    """

    designation: str
    primary_a: float
    secondary_a: float
    accuracy_class: float | None
    colour: str
    colour_pair: str
    lead_x1_colour: str
    lead_x2_colour: str
    model: str

    def __post_init__(self) -> None:
        _check_fields(self, _parse_ct(self.designation))

    @property
    def ratio(self) -> float:
        """CT ratio, primary / secondary: 2000 for 200:0.1 A. [1]"""
        return self.primary_a / self.secondary_a

    def to_dict(self) -> dict[str, Any]:
        """
        The spec as JSON-ready plain values.

        Returns
        -------
        spec : dict
            ``kind`` (``"ct"``), every field and ``ratio``.
        """
        data = {"kind": "ct", **asdict(self), "ratio": self.ratio}
        return _plain(data)  # type: ignore[no-any-return]


def decode_ct(text: str) -> CtSpec:
    """
    Decode a CT designation: ``CT200124{BK|RD|BL}[-A]`` or Leviton ``CDA02-{K|R}12``.

    Parameters
    ----------
    text : str
        The designation; surrounding whitespace and lower case are accepted.

    Returns
    -------
    spec : CtSpec

    Raises
    ------
    DesignationError
        Naming the wrong field (``type``, ``prefix``, ``ct_ratio``, ``accuracy_class``,
        ``colour``, ``model`` or ``suffix``) and its allowed values.

    References
    ----------
    certificate p.1, Current Transformers (CT's) Model Designation; manual §3.1 note 1.
    """
    return CtSpec(**_parse_ct(text))


def encode_ct(colour: str, new_model: bool) -> str:
    """
    Build a certified CT designation.

    Parameters
    ----------
    colour : str
        ``"black"``, ``"red"`` or ``"blue"``.
    new_model : bool
        True for the new CT model (``-A``), False for the old one (blank).

    Returns
    -------
    designation : str
        E.g. ``"CT200124RD-A"``.

    Raises
    ------
    ValueError
        Naming the argument and its value, if it is not one of those allowed.

    References
    ----------
    certificate p.1, Current Transformers (CT's) Model Designation.
    """
    codes = {name: code for code, name in _CT_COLOUR_CODES.items()}
    if not isinstance(colour, str) or colour not in codes:
        raise ValueError(f"colour must be one of {CT_COLOURS}, got {colour!r}")
    if not isinstance(new_model, bool):
        raise ValueError(f"new_model must be a bool, got {new_model!r}")
    return f"{_CT_PREFIX}{_CT_RATIO_CODE}{_CT_CLASS_CODE}{codes[colour]}{'-A' if new_model else ''}"


# --------------------------------------------------------------------------------------
# Kits
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KitSpec:
    """
    A surface-mount Mini Meter kit of manual §2.4, Table 1.

    Parameters
    ----------
    designation : str
        ``"6PSMT-C02"``, ``"MMSMT-C02"``, ``"MMSMT-D02"`` or ``"MMSMT-E02"``.
    description : str
        The manual's text for the model.
    has_lcd : bool
        LCD display; every kit has one.
    has_pulse_outputs : bool
        Isolated pulse outputs; every kit has them.
    has_transceiver : bool
        A kWh Meter Data Transceiver (MDT) is built in: MMSMT models only (manual §5.1).
    tou : bool
        The MDT is TOU enabled (all MMSMT models).
    temperature : bool
        The MDT is temperature enabled: D02, and E02 whose "1% Delta Temperature" is a
        temperature option too.
    delta_temperature_percent : float or None
        1.0 for E02 ("1% Delta Temperature"), None otherwise. [%]
    """

    designation: str
    description: str
    has_lcd: bool
    has_pulse_outputs: bool
    has_transceiver: bool
    tou: bool
    temperature: bool
    delta_temperature_percent: float | None

    def __post_init__(self) -> None:
        expected = _KIT_FIELDS.get(self.designation)
        if expected is None:
            raise ValueError(
                f"KitSpec.designation = {self.designation!r} is not a kit of manual §2.4; "
                f"allowed: {tuple(_KIT_FIELDS)}"
            )
        _check_fields(self, expected)

    def to_dict(self) -> dict[str, Any]:
        """
        The spec as JSON-ready plain values.

        Returns
        -------
        spec : dict
            ``kind`` (``"kit"``) and every field.
        """
        return {"kind": "kit", **asdict(self)}


_KIT_BASE: Final = "Surface Mount Mini Meter™ Kit, LCD Display, Isolated Pulse Outputs"


def _kit(designation: str, mdt: str | None, temperature: bool, delta_percent: float | None) -> dict[str, Any]:
    description = _KIT_BASE if mdt is None else f"{_KIT_BASE}, {mdt} enabled kWh Meter Data Transceiver"
    return {
        "designation": designation,
        "description": description,
        "has_lcd": True,
        "has_pulse_outputs": True,
        "has_transceiver": mdt is not None,
        "tou": mdt is not None,
        "temperature": temperature,
        "delta_temperature_percent": delta_percent,
    }


# The rows of manual §2.4, Table 1; the descriptions are the manual's words.
_KIT_FIELDS: Final = MappingProxyType(
    {
        "6PSMT-C02": _kit("6PSMT-C02", None, False, None),
        "MMSMT-C02": _kit("MMSMT-C02", "TOU", False, None),
        "MMSMT-D02": _kit("MMSMT-D02", "TOU and Temperature", True, None),
        "MMSMT-E02": _kit("MMSMT-E02", "TOU and 1% Delta Temperature", True, 1.0),
    }
)

KITS: Final = MappingProxyType({name: KitSpec(**kit) for name, kit in _KIT_FIELDS.items()})
"""The kit models of manual §2.4, Table 1, by designation."""


def decode_kit(text: str) -> KitSpec:
    """
    Decode a kit designation of manual §2.4, Table 1.

    Parameters
    ----------
    text : str
        ``6PSMT-C02``, ``MMSMT-C02``, ``MMSMT-D02`` or ``MMSMT-E02``; surrounding
        whitespace and lower case are accepted.

    Returns
    -------
    spec : KitSpec
        The entry of :data:`KITS`.

    Raises
    ------
    DesignationError
        Naming the wrong field (``type``, ``prefix`` or ``option``) and its allowed values.

    References
    ----------
    manual §2.4, Table 1 - Mini Meter Kit Models & Options.
    """
    designation = _normalise(text)
    series = designation[:5]
    if series not in _KIT_SERIES:
        raise DesignationError(designation, "prefix", series, tuple(f"{s}-" for s in _KIT_SERIES))
    options = _KIT_SERIES[series]
    option = designation[5:]
    if not (option.startswith("-") and option[1:] in options):
        raise DesignationError(designation, "option", option, tuple(f"-{o}" for o in options))
    return KITS[designation]


# --------------------------------------------------------------------------------------
# Any designation
# --------------------------------------------------------------------------------------

Spec = MeterSpec | CtSpec | KitSpec
"""What :func:`decode` returns."""


def decode(text: str) -> MeterSpec | CtSpec | KitSpec:
    """
    Decode any known designation: meter, CT or kit, chosen by its prefix.

    Parameters
    ----------
    text : str
        The designation; surrounding whitespace and lower case are accepted.

    Returns
    -------
    spec : MeterSpec or CtSpec or KitSpec
        :class:`MeterSpec` for ``MM-``, :class:`CtSpec` for ``CT`` and ``CDA``,
        :class:`KitSpec` for ``6PSMT`` and ``MMSMT``.

    Raises
    ------
    DesignationError
        Field ``prefix`` (allowed: :data:`PREFIXES`) when no family matches, or the field
        the family's decoder names.

    References
    ----------
    certificate p.1; manual §2.4, §3.1 note 1.
    """
    designation = _normalise(text)
    if designation.startswith(_METER_PREFIX):
        return decode_meter(designation)
    if designation.startswith(tuple(_KIT_SERIES)):
        return decode_kit(designation)
    if designation.startswith((_CT_PREFIX, _LEVITON_PREFIX)):
        return decode_ct(designation)
    raise DesignationError(designation, "prefix", designation.split("-", 1)[0], PREFIXES)
