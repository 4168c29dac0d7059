"""Modbus TCP/RTU and SunSpec sub-meters: register maps, discovery and polling (``docs/collect-modbus.md``).

A *register map* is a data file (TOML, in :mod:`meshmeter.collect.maps` or anywhere on disk) that names a
device and, for each of its energy registers, where it lies (address, function), how it is coded (data
type, word order) and what one count is worth (unit, fixed scale or a scale-factor register as SunSpec
has). :func:`load_map` reads and checks one; :class:`ModbusDevice` polls a device with it and gives
:class:`~meshmeter.collect.readings.Reading` objects, one per energy register, that
:func:`~meshmeter.collect.readings.advance` turns into intervals.

SunSpec devices carry their models at an address found by discovery: the ``"SunS"`` marker
(0x53756E53) at 40000, else 0, else 50000, then a chain of model headers (ID, length) ended by 0xFFFF
(SunSpec Information Model Specification, "Device Modbus map"). A SunSpec map's addresses are offsets
from the meter model's ID register (models 201 to 204, ``sunspec/models`` ``model_203.json``).

Errors: a device that does not answer after the bounded retries is a
:class:`~meshmeter.errors.DeviceError` with reason ``"no_answer"``; one that answers with a Modbus
exception is a ``DeviceError`` with reason ``"exception_<code>"`` and the code's name in words (Modbus
Application Protocol Specification V1.1b3, §7 "MODBUS Exception Responses"). A value that is no reading
(NaN, infinite, negative) is a :class:`~meshmeter.errors.PayloadError` ``malformed``; a SunSpec scale
factor outside -10..10 or not implemented is ``scale``. Never is a failed poll a zero reading.
"""

from __future__ import annotations

import math
import re
import struct
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Final

import numpy as np
from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.exceptions import ModbusException

from meshmeter.collect.readings import Reading, Rejection
from meshmeter.errors import DeviceError, MeshmeterError, PayloadError
from meshmeter.store.schema import ENERGY_UNIT_WH

__all__ = [
    "EXCEPTION_NAMES",
    "FUNCTIONS",
    "MAX_READ_REGISTERS",
    "SUNSPEC_BASES",
    "SUNSPEC_MARKER",
    "TYPES",
    "WORD_ORDERS",
    "ModbusDevice",
    "Register",
    "RegisterMap",
    "RegisterMapError",
    "SerialLink",
    "SunSpecLayout",
    "TcpLink",
    "available_maps",
    "decode_words",
    "discover_sunspec",
    "load_map",
    "next_poll_ms",
    "parse_map",
    "register_value",
]

TYPES: Final[dict[str, int]] = {
    "uint16": 1,
    "int16": 1,
    "uint32": 2,
    "int32": 2,
    "acc32": 2,
    "uint64": 4,
    "float32": 2,
    "sunssf": 1,
}
"""Data types a map may name, with the number of 16-bit registers each takes. ``acc32`` is SunSpec's
accumulator (an unsigned 32-bit count), ``sunssf`` SunSpec's scale factor (a signed 16-bit power of ten)."""

FUNCTIONS: Final[dict[str, int]] = {"holding": 3, "input": 4}
"""Register tables a map may name, with the Modbus function code that reads them (Modbus Application
Protocol V1.1b3, §6.3 Read Holding Registers, §6.4 Read Input Registers)."""

WORD_ORDERS: Final = ("big", "little")
"""``big``: the first register holds the most significant 16 bits (Modbus's own register order and
SunSpec's); ``little``: the first register holds the least significant 16 bits (WattNode). Bytes within
a register are always most significant first (Modbus V1.1b3, §4.2)."""

MAX_READ_REGISTERS: Final = 125
"""Most registers one read request may ask for (Modbus V1.1b3, §6.3: 1 to 125)."""

SUNSPEC_MARKER: Final = (0x5375, 0x6E53)
"""The two registers of the ``"SunS"`` marker (0x53756E53) that begin a SunSpec device's map."""

SUNSPEC_BASES: Final = (40000, 0, 50000)
"""Addresses where discovery looks for the SunSpec marker, in order."""

SUNSPEC_END: Final = 0xFFFF
"""Model ID that ends the chain of SunSpec models."""

SUNSPEC_SF_NOT_IMPLEMENTED: Final = -0x8000
"""A ``sunssf`` that is not implemented reads 0x8000."""

SUNSPEC_SF_RANGE: Final = (-10, 10)
"""Scale factors a SunSpec register may carry (SunSpec Information Model Specification: -10 to 10)."""

EXCEPTION_NAMES: Final[dict[int, str]] = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}
"""Modbus exception codes in words (Modbus Application Protocol V1.1b3, §7)."""

_TRANSIENT_EXCEPTIONS: Final = frozenset({5, 6, 11})
"""Exception codes that may clear by themselves: asked again after a back-off."""

_STRUCT: Final[dict[str, str]] = {
    "uint16": ">H",
    "int16": ">h",
    "uint32": ">I",
    "int32": ">i",
    "acc32": ">I",
    "uint64": ">Q",
    "float32": ">f",
    "sunssf": ">h",
}

_MAP_PACKAGE: Final = "meshmeter.collect.maps"


class RegisterMapError(MeshmeterError, ValueError):
    """
    A register map that cannot be used; ``problems`` lists every problem found, one line each.

    Parameters
    ----------
    source : str
        The map's name or file.
    problems : list of str
        What is wrong, each naming the field (``register[1].type``).
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"register map {source}: " + "; ".join(self.problems))


@dataclass(frozen=True, slots=True)
class Register:
    """
    One register of a map: an energy register, or a scale-factor register that energies refer to.

    Attributes
    ----------
    name : str
        The channel of its readings (``"import"``, ``"export"``, ``"import_a"``), or the scale factor's
        name (``"TotWh_SF"``).
    address : int
        Address on the wire (0-based), or, in a SunSpec map, the offset from the model's ID register.
    documented : int
        The address as the device's document writes it (``1007`` for a 1-based WattNode register).
    function : str
        ``"holding"`` (function 03) or ``"input"`` (function 04).
    type : str
        One of :data:`TYPES`.
    word_order : str
        One of :data:`WORD_ORDERS`.
    unit : str
        Energy unit of the readings (a key of :data:`~meshmeter.store.schema.ENERGY_UNIT_WH`); ``""`` for a
        scale factor.
    scale : Decimal
        Fixed multiplier from the register's count to ``unit`` (0.1 for a register in 0.1 kWh).
    scale_register : str or None
        Name of the scale-factor register whose power of ten also multiplies the count (SunSpec).
    description : str
        What the device's document calls it.
    """

    name: str
    address: int
    documented: int
    function: str
    type: str
    word_order: str
    unit: str
    scale: Decimal
    scale_register: str | None = None
    description: str = ""

    @property
    def words(self) -> int:
        """Number of 16-bit registers the value takes."""
        return TYPES[self.type]


@dataclass(frozen=True, slots=True)
class RegisterMap:
    """
    A device's register map, checked (:func:`parse_map`).

    Attributes
    ----------
    name : str
        The map's name (its file's stem).
    manufacturer, model, source, revision : str
        The device, and the document (URL, revision) the map was taken from.
    address_base : int
        0: the document's addresses are those on the wire; 1: they count from 1 (wire = documented - 1).
    registers : tuple of Register
        The energy registers, one per channel.
    scale_factors : tuple of Register
        Scale-factor registers the energy registers refer to.
    sunspec_models : tuple of int
        SunSpec model IDs whose layout the addresses follow (offsets from the model's ID register);
        empty for a plain map.
    """

    name: str
    manufacturer: str
    model: str
    source: str
    revision: str
    address_base: int
    registers: tuple[Register, ...]
    scale_factors: tuple[Register, ...] = ()
    sunspec_models: tuple[int, ...] = ()

    @property
    def channels(self) -> list[str]:
        """The channels of the map's readings, in map order."""
        return [r.name for r in self.registers]

    def scale_factor(self, name: str) -> Register:
        """The scale-factor register called ``name``."""
        for sf in self.scale_factors:
            if sf.name == name:
                return sf
        raise ValueError(f"name {name!r} is not a scale factor of map {self.name!r}")


# --------------------------------------------------------------------------------------------------------
# Maps: parsing, checking, loading


_UNIT_RE: Final = re.compile(r"^\s*(?:(?P<factor>[0-9]+(?:\.[0-9]+)?)\s+)?(?P<unit>[A-Za-z]+)\s*$")
_DEVICE_KEYS: Final = frozenset(
    {"manufacturer", "model", "source", "revision", "address_base", "sunspec_models", "notes"}
)
_REGISTER_KEYS: Final = frozenset(
    {"name", "address", "function", "type", "word_order", "unit", "scale", "scale_register", "description"}
)
_SCALE_FACTOR_KEYS: Final = frozenset({"name", "address", "function", "type", "description"})


def _parse_unit(text: object, where: str, problems: list[str]) -> tuple[str, Decimal]:
    """``"kWh"`` or ``"0.1 kWh"`` as (unit, factor); a problem noted when it is neither."""
    if not isinstance(text, str):
        problems.append(f"{where}.unit is missing (one of {', '.join(ENERGY_UNIT_WH)}, or e.g. '0.1 kWh')")
        return "", Decimal(1)
    match = _UNIT_RE.match(text)
    if match is None or match["unit"] not in ENERGY_UNIT_WH:
        problems.append(
            f"{where}.unit {text!r} is not an energy unit ({', '.join(ENERGY_UNIT_WH)}, or e.g. '0.1 kWh')"
        )
        return "", Decimal(1)
    factor = Decimal(match["factor"]) if match["factor"] else Decimal(1)
    if factor <= 0:
        problems.append(f"{where}.unit {text!r} has a factor that is not positive")
    return match["unit"], factor


def _parse_scale(value: object, where: str, problems: list[str]) -> Decimal:
    """A fixed scale: a positive number, given as text (``"0.1"``) or as an integer."""
    if value is None:
        return Decimal(1)
    if isinstance(value, bool) or not isinstance(value, str | int):
        problems.append(f"{where}.scale {value!r} must be a number written as text ('0.1') or an integer")
        return Decimal(1)
    try:
        scale = Decimal(str(value))
    except InvalidOperation:
        problems.append(f"{where}.scale {value!r} is not a number")
        return Decimal(1)
    if not scale.is_finite() or scale <= 0:
        problems.append(f"{where}.scale {value!r} must be positive")
        return Decimal(1)
    return scale


def _text(table: Mapping[str, object], key: str, where: str, problems: list[str]) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}.{key} is missing (text)")
        return ""
    return value


def _parse_register(
    raw: object, where: str, address_base: int, *, scale_factor: bool, problems: list[str]
) -> Register | None:
    """One ``[[register]]`` or ``[[scale_factor]]`` table; problems noted, None when unusable."""
    if not isinstance(raw, dict):
        problems.append(f"{where} must be a table")
        return None
    allowed = _SCALE_FACTOR_KEYS if scale_factor else _REGISTER_KEYS
    for key in sorted(set(raw) - allowed):
        problems.append(f"{where}.{key} is not a field of a {'scale factor' if scale_factor else 'register'}")
    name = _text(raw, "name", where, problems)
    usable = bool(name)
    address = raw.get("address")
    wire = -1
    if isinstance(address, bool) or not isinstance(address, int):
        problems.append(f"{where}.address is missing (an integer register address)")
        usable = False
    else:
        wire = address - address_base
        if not 0 <= wire <= 0xFFFF:
            problems.append(
                f"{where}.address {address} is outside 0..65535 on the wire (address_base {address_base})"
            )
            usable = False
    function = raw.get("function")
    if function not in FUNCTIONS:
        problems.append(f"{where}.function {function!r} is not one of {', '.join(FUNCTIONS)}")
        usable = False
    type_ = raw.get("type")
    if not isinstance(type_, str) or type_ not in TYPES:
        problems.append(f"{where}.type {type_!r} is not a known type ({', '.join(TYPES)})")
        usable = False
        type_ = ""
    description = raw.get("description", "")
    if not isinstance(description, str):
        problems.append(f"{where}.description must be text")
        description = ""
    if scale_factor:
        if type_ and type_ not in ("sunssf", "int16"):
            problems.append(f"{where}.type {type_!r}: a scale factor is a sunssf (int16)")
            usable = False
        if not usable:
            return None
        return Register(
            name, wire, int(str(address)), str(function), type_, "big", "", Decimal(1), None, description
        )
    if type_ == "sunssf":
        problems.append(f"{where}.type 'sunssf' is a scale factor: declare it as a [[scale_factor]]")
        usable = False
    word_order = raw.get("word_order")
    if word_order is None and type_ and TYPES[type_] == 1:
        word_order = "big"
    if word_order not in WORD_ORDERS:
        problems.append(f"{where}.word_order {word_order!r} is not one of {', '.join(WORD_ORDERS)}")
        usable = False
    unit, factor = _parse_unit(raw.get("unit"), where, problems)
    scale = _parse_scale(raw.get("scale"), where, problems) * factor
    scale_register = raw.get("scale_register")
    if scale_register is not None and not isinstance(scale_register, str):
        problems.append(f"{where}.scale_register must be the name of a [[scale_factor]]")
        scale_register = None
    if not usable or not unit:
        return None
    return Register(
        name,
        wire,
        int(str(address)),
        str(function),
        type_,
        str(word_order),
        unit,
        scale,
        scale_register,
        description,
    )


def _overlaps(registers: Iterable[Register], problems: list[str]) -> None:
    """Note every pair of registers of one table whose addresses overlap."""
    by_function: dict[str, list[Register]] = {}
    for reg in registers:
        by_function.setdefault(reg.function, []).append(reg)
    for function, regs in by_function.items():
        ordered = sorted(regs, key=lambda r: r.address)
        for i, first in enumerate(ordered):
            for second in ordered[i + 1 :]:
                if second.address >= first.address + first.words:
                    break
                problems.append(
                    f"{function} registers {first.name!r} (address {first.documented}, {first.words} words) "
                    f"and {second.name!r} (address {second.documented}) overlap"
                )


def parse_map(document: Mapping[str, object], name: str = "<map>") -> RegisterMap:
    """
    A register map from its TOML document (as :func:`tomllib.loads` gives it), checked whole.

    Parameters
    ----------
    document : mapping
        ``[device]`` (manufacturer, model, source, revision, address_base, optional sunspec_models),
        ``[[register]]`` tables (name, address, function, type, word_order, unit, optional scale,
        scale_register, description) and optional ``[[scale_factor]]`` tables (name, address, function,
        type ``sunssf``).
    name : str
        The map's name, for messages.

    Returns
    -------
    RegisterMap

    Raises
    ------
    RegisterMapError
        Naming every problem at once: a field missing or unknown, a register named twice, overlapping
        addresses, an unknown type, function or word order, a missing or unknown unit, a scale register
        that names no scale factor.
    """
    problems: list[str] = []
    for key in sorted(set(document) - {"device", "register", "scale_factor"}):
        problems.append(f"{key} is not a section of a register map (device, register, scale_factor)")
    device = document.get("device")
    if not isinstance(device, dict):
        problems.append("device is missing (a [device] table: manufacturer, model, source, revision)")
        device = {}
    for key in sorted(set(device) - _DEVICE_KEYS):
        problems.append(f"device.{key} is not a field of [device]")
    manufacturer = _text(device, "manufacturer", "device", problems)
    model = _text(device, "model", "device", problems)
    source = _text(device, "source", "device", problems)
    revision = _text(device, "revision", "device", problems)
    address_base = device.get("address_base", 0)
    if address_base not in (0, 1) or isinstance(address_base, bool):
        problems.append(f"device.address_base {address_base!r} must be 0 or 1")
        address_base = 0
    raw_models = device.get("sunspec_models", [])
    sunspec_models: tuple[int, ...] = ()
    if not isinstance(raw_models, list) or not all(
        isinstance(m, int) and not isinstance(m, bool) and 1 <= m < SUNSPEC_END for m in raw_models
    ):
        problems.append(f"device.sunspec_models {raw_models!r} must be a list of SunSpec model IDs")
    else:
        sunspec_models = tuple(int(m) for m in raw_models)
    raw_registers = document.get("register")
    if not isinstance(raw_registers, list) or not raw_registers:
        problems.append("register is missing (at least one [[register]] table)")
        raw_registers = []
    raw_sfs = document.get("scale_factor", [])
    if not isinstance(raw_sfs, list):
        problems.append("scale_factor must be [[scale_factor]] tables")
        raw_sfs = []
    base = int(str(address_base))
    registers = [
        _parse_register(r, f"register[{i}]", base, scale_factor=False, problems=problems)
        for i, r in enumerate(raw_registers)
    ]
    sfs = [
        _parse_register(r, f"scale_factor[{i}]", base, scale_factor=True, problems=problems)
        for i, r in enumerate(raw_sfs)
    ]
    names: dict[str, int] = {}
    for raw in [*raw_registers, *raw_sfs]:
        if isinstance(raw, dict) and isinstance(raw.get("name"), str):
            names[raw["name"]] = names.get(raw["name"], 0) + 1
    for dup, count in names.items():
        if count > 1:
            problems.append(f"register {dup!r} is named {count} times")
    good = [r for r in registers if r is not None]
    good_sfs = [r for r in sfs if r is not None]
    sf_names = {sf.name for sf in good_sfs}
    for i, reg in enumerate(registers):
        if reg is not None and reg.scale_register is not None and reg.scale_register not in sf_names:
            problems.append(f"register[{i}].scale_register {reg.scale_register!r} names no [[scale_factor]]")
    _overlaps([*good, *good_sfs], problems)
    if problems:
        raise RegisterMapError(name, problems)
    return RegisterMap(
        name=name,
        manufacturer=manufacturer,
        model=model,
        source=source,
        revision=revision,
        address_base=base,
        registers=tuple(good),
        scale_factors=tuple(good_sfs),
        sunspec_models=sunspec_models,
    )


def available_maps() -> list[str]:
    """The names of the register maps shipped with meshmeter (``meshmeter/collect/maps/*.toml``)."""
    folder = resources.files(_MAP_PACKAGE)
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load_map(name_or_path: str | Path) -> RegisterMap:
    """
    A register map by the name of a shipped map (:func:`available_maps`) or the path of a TOML file.

    Raises
    ------
    ValueError
        ``name_or_path`` names neither a shipped map nor a readable file; or the file is not TOML.
    RegisterMapError
        The map's problems, all of them (:func:`parse_map`).
    """
    text: str
    if isinstance(name_or_path, Path) or "/" in name_or_path or name_or_path.endswith(".toml"):
        path = Path(name_or_path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ValueError(
                f"name_or_path {str(name_or_path)!r}: cannot read the map file ({error})"
            ) from None
        label = str(path)
        name = path.stem
    else:
        if name_or_path not in available_maps():
            raise ValueError(
                f"name_or_path {name_or_path!r} is not a shipped register map "
                f"(shipped: {', '.join(available_maps())}) nor a .toml file"
            )
        text = resources.files(_MAP_PACKAGE).joinpath(f"{name_or_path}.toml").read_text(encoding="utf-8")
        label = name = name_or_path
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RegisterMapError(label, [f"not TOML: {error}"]) from None
    parsed = parse_map(document, label)
    return RegisterMap(
        name=name,
        manufacturer=parsed.manufacturer,
        model=parsed.model,
        source=parsed.source,
        revision=parsed.revision,
        address_base=parsed.address_base,
        registers=parsed.registers,
        scale_factors=parsed.scale_factors,
        sunspec_models=parsed.sunspec_models,
    )


# --------------------------------------------------------------------------------------------------------
# Values


def decode_words(words: Sequence[int], type_: str, word_order: str) -> int | float:
    """
    The value of a register from its 16-bit words as read, in the order read.

    Parameters
    ----------
    words : sequence of int
        :data:`TYPES` ``[type_]`` words, 0..65535 each, first as read first.
    type_ : str
        One of :data:`TYPES`.
    word_order : str
        ``"big"``: the first word is the most significant; ``"little"``: the least.

    Returns
    -------
    int or float
    """
    if type_ not in TYPES:
        raise ValueError(f"type_ {type_!r} is not one of {', '.join(TYPES)}")
    if word_order not in WORD_ORDERS:
        raise ValueError(f"word_order {word_order!r} is not one of {', '.join(WORD_ORDERS)}")
    if len(words) != TYPES[type_] or not all(0 <= w <= 0xFFFF for w in words):
        raise ValueError(f"words {list(words)!r} must be {TYPES[type_]} values of 0..65535 for {type_}")
    ordered = list(words) if word_order == "big" else list(reversed(words))
    raw = b"".join(int(w).to_bytes(2, "big") for w in ordered)
    value: int | float = struct.unpack(_STRUCT[type_], raw)[0]
    return value


def _float32_decimal(value: float) -> Decimal:
    """A float32 as the shortest decimal that reads back as the same float32 (no binary residue)."""
    return Decimal(np.format_float_positional(np.float32(value), unique=True, trim="-"))


def register_value(register: Register, raw: int | float, scale_factor: int | None, where: str) -> Decimal:
    """
    A register's reading in its map's unit: count x scale x 10^scale_factor.

    Parameters
    ----------
    register : Register
    raw : int or float
        The decoded value (:func:`decode_words`).
    scale_factor : int or None
        The SunSpec scale factor read with it, when the register names one.
    where : str
        Device and channel, for messages.

    Raises
    ------
    PayloadError
        ``malformed``: NaN, infinite or negative; ``scale``: a scale factor not implemented or outside
        -10..10 (SunSpec).
    """
    if isinstance(raw, float):
        if not math.isfinite(raw) or raw < 0:
            raise PayloadError(
                Rejection.MALFORMED,
                f"{where}: {register.type} register reads {raw!r}, which is no energy reading",
            )
        count = _float32_decimal(raw)
    else:
        if raw < 0:
            raise PayloadError(
                Rejection.MALFORMED, f"{where}: {register.type} register reads {raw}, a negative energy"
            )
        count = Decimal(raw)
    value = count * register.scale
    if register.scale_register is not None:
        if scale_factor is None:
            raise ValueError(f"scale_factor is needed for register {register.name!r}")
        _check_scale_factor(scale_factor, register.scale_register, where)
        value = value.scaleb(scale_factor)
    return value


def _check_scale_factor(scale_factor: int, name: str, where: str) -> None:
    if scale_factor == SUNSPEC_SF_NOT_IMPLEMENTED:
        raise PayloadError(
            Rejection.SCALE,
            f"{where}: scale factor {name} reads 0x8000 (not implemented); the energy has no unit",
        )
    low, high = SUNSPEC_SF_RANGE
    if not low <= scale_factor <= high:
        raise PayloadError(
            Rejection.SCALE, f"{where}: scale factor {name} is {scale_factor}, outside {low}..{high}"
        )


# --------------------------------------------------------------------------------------------------------
# Polling time


def next_poll_ms(now_ms: int, interval_s: int, offset_s: float = 0, every_s: int | None = None) -> int:
    """
    When to poll next: just after the next end of an interval of the meter's grid.

    Polls land at ``k * step + offset_s`` with ``step = every_s or interval_s``; ``every_s`` divides
    ``interval_s``, so every interval end is a poll too and :func:`~meshmeter.collect.readings.advance`
    closes each interval with a reading taken at its end (within
    :data:`~meshmeter.collect.readings.EXACT_WITHIN_S` when ``offset_s`` is no more than that).

    Parameters
    ----------
    now_ms : int
        Now, milliseconds since the Unix epoch (UTC). [ms]
    interval_s : int
        The meter's interval length. [s]
    offset_s : float
        How long after each end to poll (the device's time to settle, the network's delay); 0 to less
        than the step. [s]
    every_s : int or None
        A shorter polling period that divides ``interval_s`` (e.g. 60 for a poll a minute). [s]

    Returns
    -------
    int
        The next poll time, strictly after ``now_ms``. [ms]
    """
    if isinstance(interval_s, bool) or not isinstance(interval_s, int) or interval_s <= 0:
        raise ValueError(f"interval_s must be a positive whole number of seconds, got {interval_s!r}")
    step_s = interval_s if every_s is None else every_s
    if isinstance(step_s, bool) or not isinstance(step_s, int) or step_s <= 0 or interval_s % step_s:
        raise ValueError(f"every_s must be a whole number of seconds dividing {interval_s}, got {every_s!r}")
    if (
        not (isinstance(offset_s, int | float) and not isinstance(offset_s, bool))
        or not 0 <= offset_s < step_s
    ):
        raise ValueError(f"offset_s must be at least 0 and less than the step ({step_s} s), got {offset_s!r}")
    step_ms = step_s * 1000
    offset_ms = round(offset_s * 1000)
    k = (now_ms - offset_ms) // step_ms + 1
    return int(k * step_ms + offset_ms)


# --------------------------------------------------------------------------------------------------------
# SunSpec discovery


@dataclass(frozen=True, slots=True)
class SunSpecLayout:
    """
    A SunSpec device's models as discovery found them.

    Attributes
    ----------
    base : int
        Address of the ``"SunS"`` marker.
    models : tuple of (int, int, int)
        ``(model_id, address of its ID register, length L)`` of each model, in order.
    """

    base: int
    models: tuple[tuple[int, int, int], ...]

    def find(self, model_ids: Iterable[int]) -> tuple[int, int, int] | None:
        """The first model whose ID is one of ``model_ids``, or None."""
        wanted = set(model_ids)
        return next((m for m in self.models if m[0] in wanted), None)


ReadFn = Callable[[int, int], list[int]]
"""Reads ``count`` holding registers from ``address``: ``read(address, count) -> words``."""

_MAX_MODELS: Final = 256


def discover_sunspec(read: ReadFn, bases: Sequence[int] = SUNSPEC_BASES) -> SunSpecLayout:
    """
    Find a SunSpec device's models: the ``"SunS"`` marker, then each model's header to the end marker.

    Parameters
    ----------
    read : callable
        ``read(address, count) -> list of int``: holding registers; raises
        :class:`~meshmeter.errors.DeviceError` when the device does not answer or answers with an
        exception.
    bases : sequence of int
        Where to look for the marker, in order (:data:`SUNSPEC_BASES`).

    Returns
    -------
    SunSpecLayout

    Raises
    ------
    DeviceError
        ``no_answer`` as ``read`` raises it; ``not_sunspec``: no marker at any base; ``malformed``: a
        chain of models that runs past the address space or never ends.
    """
    for base in bases:
        try:
            marker = read(base, 2)
        except DeviceError as error:
            if error.reason == "no_answer":
                raise
            continue
        if tuple(marker) != SUNSPEC_MARKER:
            continue
        models: list[tuple[int, int, int]] = []
        address = base + 2
        while True:
            if address + 2 > 0x10000 or len(models) >= _MAX_MODELS:
                raise DeviceError(
                    f"SunSpec models from {base} run past the address space or never end "
                    f"(after {len(models)} models); check the device's SunSpec map",
                    reason="malformed",
                )
            model_id, length = read(address, 2)
            if model_id == SUNSPEC_END:
                return SunSpecLayout(base, tuple(models))
            models.append((model_id, address, length))
            address += 2 + length
    raise DeviceError(
        f"no SunSpec marker 'SunS' (0x53756E53) at {', '.join(str(b) for b in bases)}: the device is not "
        "SunSpec, or its map lies elsewhere; use a plain register map",
        reason="not_sunspec",
    )


# --------------------------------------------------------------------------------------------------------
# Links and the device


@dataclass(frozen=True, slots=True)
class TcpLink:
    """
    Modbus TCP to a device or a gateway.

    Attributes
    ----------
    host : str
    port : int
        502 by default (Modbus Messaging on TCP/IP Implementation Guide V1.0b, §4.1).
    """

    host: str
    port: int = 502

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host:
            raise ValueError(f"host must be a host name or address, got {self.host!r}")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise ValueError(f"port must be 1..65535, got {self.port!r}")


@dataclass(frozen=True, slots=True)
class SerialLink:
    """
    Modbus RTU on a serial line (RS-485).

    Attributes
    ----------
    port : str
        The serial device (``/dev/ttyUSB0``).
    baudrate : int
        [bit/s]
    parity : str
        ``"N"``, ``"E"`` or ``"O"``.
    stopbits : int
        1 or 2.
    """

    port: str
    baudrate: int = 9600
    parity: str = "N"
    stopbits: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.port, str) or not self.port:
            raise ValueError(f"port must be a serial device path, got {self.port!r}")
        if self.baudrate not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
            raise ValueError(f"baudrate {self.baudrate!r} is not a standard Modbus RTU rate")
        if self.parity not in ("N", "E", "O"):
            raise ValueError(f"parity must be 'N', 'E' or 'O', got {self.parity!r}")
        if self.stopbits not in (1, 2):
            raise ValueError(f"stopbits must be 1 or 2, got {self.stopbits!r}")


@dataclass(frozen=True, slots=True)
class _Block:
    """One read request: ``count`` registers of ``function`` from ``address``."""

    function: str
    address: int
    count: int
    registers: tuple[Register, ...] = field(default=())


def _blocks(registers: Iterable[Register], offset: int = 0, max_gap: int = 0) -> list[_Block]:
    """Registers grouped into reads: neighbours of one table at most ``max_gap`` registers apart, up to
    125 registers a read. A plain map reads no gap (a device may refuse an address it does not have); a
    SunSpec model is read whole, values with their scale factor in one answer as SunSpec recommends."""
    blocks: list[_Block] = []
    for reg in sorted(registers, key=lambda r: (r.function, r.address)):
        address = reg.address + offset
        last = blocks[-1] if blocks else None
        if (
            last is not None
            and last.function == reg.function
            and 0 <= address - (last.address + last.count) <= max_gap
            and address + reg.words - last.address <= MAX_READ_REGISTERS
        ):
            count = address + reg.words - last.address
            blocks[-1] = _Block(last.function, last.address, count, (*last.registers, reg))
        else:
            blocks.append(_Block(reg.function, address, reg.words, (reg,)))
    return blocks


class ModbusDevice:
    """
    A Modbus or SunSpec sub-meter polled with a register map.

    Parameters
    ----------
    register_map : RegisterMap or str
        The map, or the name or path to :func:`load_map`.
    link : TcpLink or SerialLink
        How to reach the device.
    unit_id : int
        The device's Modbus address: 1..247 on a serial line, 0..255 over TCP.
    device : str or None
        The device's ID in readings; default the unit ID as text (``"1"``).
    timeout_s : float
        Longest wait for one answer. [s]
    attempts : int
        Requests sent at most for one read (1..10): a read that gets no answer, or a transient exception
        (5 acknowledge, 6 busy, 11 gateway target failed), is sent again after a back-off.
    backoff_s : float
        Wait before the second attempt; doubled before each further one. [s]
    backoff_max_s : float
        Longest wait between attempts. [s]
    client : object, optional
        A pymodbus sync client to use instead of one made from ``link`` (a gateway shared by devices).

    Notes
    -----
    One read answers in at most ``attempts * timeout_s + sum of back-offs``; the back-offs add up to at
    most ``(attempts - 1) * backoff_max_s``.
    """

    def __init__(
        self,
        register_map: RegisterMap | str,
        link: TcpLink | SerialLink,
        unit_id: int,
        *,
        device: str | None = None,
        timeout_s: float = 1.0,
        attempts: int = 3,
        backoff_s: float = 0.2,
        backoff_max_s: float = 2.0,
        client: ModbusTcpClient | ModbusSerialClient | None = None,
    ) -> None:
        self.register_map = register_map if isinstance(register_map, RegisterMap) else load_map(register_map)
        if not isinstance(link, TcpLink | SerialLink):
            raise ValueError(f"link must be a TcpLink or a SerialLink, got {link!r}")
        high = 255 if isinstance(link, TcpLink) else 247
        low = 0 if isinstance(link, TcpLink) else 1
        if isinstance(unit_id, bool) or not isinstance(unit_id, int) or not low <= unit_id <= high:
            raise ValueError(f"unit_id must be {low}..{high} on this link, got {unit_id!r}")
        if not (isinstance(timeout_s, int | float) and 0 < timeout_s <= 60):
            raise ValueError(f"timeout_s must be more than 0 and at most 60 s, got {timeout_s!r}")
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 10:
            raise ValueError(f"attempts must be 1..10, got {attempts!r}")
        if not (isinstance(backoff_s, int | float) and 0 <= backoff_s <= 60):
            raise ValueError(f"backoff_s must be 0..60 s, got {backoff_s!r}")
        if not (isinstance(backoff_max_s, int | float) and backoff_s <= backoff_max_s <= 300):
            raise ValueError(f"backoff_max_s must be from backoff_s to 300 s, got {backoff_max_s!r}")
        self.link = link
        self.unit_id = unit_id
        self.device = str(unit_id) if device is None else device
        self.timeout_s = float(timeout_s)
        self.attempts = attempts
        self.backoff_s = float(backoff_s)
        self.backoff_max_s = float(backoff_max_s)
        self._client: ModbusTcpClient | ModbusSerialClient = (
            client if client is not None else self._make_client()
        )
        self._layout: SunSpecLayout | None = None
        self._model: tuple[int, int, int] | None = None

    def _make_client(self) -> ModbusTcpClient | ModbusSerialClient:
        link = self.link
        if isinstance(link, TcpLink):
            return ModbusTcpClient(link.host, port=link.port, timeout=self.timeout_s, retries=0)
        return ModbusSerialClient(
            link.port,
            baudrate=link.baudrate,
            parity=link.parity,
            stopbits=link.stopbits,
            bytesize=8,
            timeout=self.timeout_s,
            retries=0,
        )

    def __enter__(self) -> ModbusDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (the next poll opens it again)."""
        self._client.close()  # type: ignore[no-untyped-call]

    @property
    def where(self) -> str:
        """The device, for messages."""
        return f"{self.register_map.name} unit {self.unit_id} at {self._link_text()}"

    def _link_text(self) -> str:
        link = self.link
        if isinstance(link, TcpLink):
            return f"{link.host}:{link.port}"
        return f"{link.port} {link.baudrate} {link.parity}{8}{link.stopbits}"

    # -- one read, with retries -----------------------------------------------------------------------

    def read(self, function: str, address: int, count: int) -> list[int]:
        """
        ``count`` registers of ``function`` (``"holding"``/``"input"``) from ``address``, retried.

        Raises
        ------
        DeviceError
            ``exception_<code>``: the device answered with a Modbus exception (transient ones after the
            retries); ``no_answer``: no answer after ``attempts`` requests.
        PayloadError
            ``malformed``: an answer with another number of registers than asked.
        """
        if function not in FUNCTIONS:
            raise ValueError(f"function {function!r} is not one of {', '.join(FUNCTIONS)}")
        if not 1 <= count <= MAX_READ_REGISTERS or not 0 <= address <= 0xFFFF - count + 1:
            raise ValueError(f"address {address} and count {count} are not one read (1..125 registers)")
        delay = self.backoff_s
        last: str = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(min(delay, self.backoff_max_s))
                delay *= 2
            try:
                if not self._client.connected and not self._client.connect():
                    last = "the connection could not be opened"
                    continue
                if function == "holding":
                    answer = self._client.read_holding_registers(address, count=count, device_id=self.unit_id)
                else:
                    answer = self._client.read_input_registers(address, count=count, device_id=self.unit_id)
            except (ModbusException, OSError) as error:  # no answer, a timeout, a serial port gone
                last = str(error) or type(error).__name__
                self._client.close()  # type: ignore[no-untyped-call]
                continue
            if answer.isError():
                code = int(getattr(answer, "exception_code", 0))
                words = EXCEPTION_NAMES.get(code, "unknown exception")
                text = (
                    f"{self.where}: reading {count} {function} registers at {address} (function "
                    f"{FUNCTIONS[function]}) got Modbus exception {code} ({words})"
                )
                if code in _TRANSIENT_EXCEPTIONS and attempt + 1 < self.attempts:
                    last = text
                    continue
                raise DeviceError(text + _hint(code), reason=f"exception_{code}")
            registers = list(answer.registers)
            if len(registers) != count:
                raise PayloadError(
                    Rejection.MALFORMED,
                    f"{self.where}: asked for {count} registers at {address}, got {len(registers)}",
                )
            return registers
        raise DeviceError(
            f"{self.where}: no answer to a read of {count} {function} registers at {address} after "
            f"{self.attempts} attempts ({last}); check the wiring, the address, the unit ID and the power",
            reason="no_answer",
        )

    # -- SunSpec ----------------------------------------------------------------------------------------

    def sunspec_model(self) -> tuple[int, int, int]:
        """The meter model ``(id, address, length)`` this device's SunSpec map reads, found by discovery.

        Raises
        ------
        DeviceError
            ``not_sunspec``: no marker; ``no_meter_model``: none of the map's models.
        """
        if self._model is not None:
            return self._model
        layout = discover_sunspec(lambda a, c: self.read("holding", a, c))
        model = layout.find(self.register_map.sunspec_models)
        if model is None:
            found = ", ".join(str(m[0]) for m in layout.models) or "none"
            raise DeviceError(
                f"{self.where}: SunSpec map at {layout.base} has no model "
                f"{'/'.join(str(m) for m in self.register_map.sunspec_models)} (models found: {found})",
                reason="no_meter_model",
            )
        _, _, length = model
        needed = max(
            r.address + r.words for r in (*self.register_map.registers, *self.register_map.scale_factors)
        )
        if needed > 2 + length:
            raise PayloadError(
                Rejection.MALFORMED,
                f"{self.where}: SunSpec model {model[0]} is {length} registers long, too short for the map "
                f"(needs {needed - 2})",
            )
        self._layout, self._model = layout, model
        return model

    # -- the poll ---------------------------------------------------------------------------------------

    def poll(self, now_ms: int) -> list[Reading]:
        """
        Read every energy register of the map once.

        Parameters
        ----------
        now_ms : int
            When the poll starts, milliseconds since the Unix epoch (UTC); each reading's ``at_ms`` is the
            time of the last answer, this plus the time the reads took. [ms]

        Returns
        -------
        list of Reading
            One per register of the map, in map order, ``value`` in the map's unit.

        Raises
        ------
        DeviceError
            No answer (``no_answer``), a Modbus exception (``exception_<code>``), or a SunSpec device whose
            map cannot be found (``not_sunspec``, ``no_meter_model``).
        PayloadError
            ``malformed`` (NaN, infinite or negative value, short answer) or ``scale`` (SunSpec scale
            factor): nothing of the poll is a reading.
        """
        if isinstance(now_ms, bool) or not isinstance(now_ms, int):
            raise ValueError(f"now_ms must be integer milliseconds, got {now_ms!r}")
        started = time.monotonic()
        rmap = self.register_map
        offset = 0
        if rmap.sunspec_models:
            offset = self.sunspec_model()[1]
        needed = {r.scale_register for r in rmap.registers if r.scale_register is not None}
        wanted = [*rmap.registers, *(sf for sf in rmap.scale_factors if sf.name in needed)]
        words: dict[str, list[int]] = {}
        try:
            max_gap = MAX_READ_REGISTERS if rmap.sunspec_models else 0
            for block in _blocks(wanted, offset, max_gap):
                got = self.read(block.function, block.address, block.count)
                for reg in block.registers:
                    at = reg.address + offset - block.address
                    words[reg.name] = got[at : at + reg.words]
        except DeviceError as error:
            if rmap.sunspec_models and error.reason == "exception_2":
                self._model = None  # the device's map moved (a firmware update): discover again next time
            raise
        at_ms = now_ms + round((time.monotonic() - started) * 1000)
        scale_factors = {
            sf.name: int(decode_words(words[sf.name], sf.type, "big"))
            for sf in rmap.scale_factors
            if sf.name in words
        }
        readings: list[Reading] = []
        for reg in rmap.registers:
            raw = decode_words(words[reg.name], reg.type, reg.word_order)
            sf = scale_factors.get(reg.scale_register) if reg.scale_register is not None else None
            value = register_value(reg, raw, sf, f"{self.device}/{reg.name}")
            readings.append(Reading(self.device, reg.name, at_ms, value, reg.unit))
        return readings


def _hint(code: int) -> str:
    """What to check for an exception code."""
    if code == 1:
        return "; the device does not support this function: check the map's function (holding/input)"
    if code == 2:
        return "; the device has no such register: check the map's addresses and address_base, and the model"
    if code == 3:
        return "; the device refuses this count at this address: check the map's types"
    if code in (10, 11):
        return (
            "; the gateway cannot reach the device: check the unit ID and the serial line behind the gateway"
        )
    return ""
