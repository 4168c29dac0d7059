"""Tariffs in the OpenEI Utility Rate Database (URDB) JSON form (``docs/billing.md``).

A tariff is read from a URDB rate document, checked field by field, and held as a frozen
:class:`Tariff`: energy periods × tiers with their rates, the 12 × 24 weekday and weekend period
schedules, time-of-use and flat demand charges, fixed and minimum charges, and the holiday rules of the
tariff's calendar. A document that uses a field meshmeter does not support, or a malformed one, is
refused with a :class:`~meshmeter.errors.TariffError` naming the field; nothing is silently ignored
except the descriptive metadata listed in :data:`METADATA_FIELDS`.

Rates are kept as :class:`~decimal.Decimal` from the decimal text of the document, in USD.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from meshmeter.errors import TariffError

__all__ = [
    "ENERGY_TIER_UNITS",
    "EXAMPLE_TARIFFS",
    "METADATA_FIELDS",
    "RATE_FIELDS",
    "UNSUPPORTED_FIELDS",
    "HolidayRules",
    "Tariff",
    "Tier",
    "example_tariff",
    "load_tariff",
    "parse_tariff",
]

IntArray = npt.NDArray[np.int64]

METADATA_FIELDS: Final = frozenset(
    {
        "label",
        "utility",
        "name",
        "uri",
        "startdate",
        "enddate",
        "latest_update",
        "sector",
        "servicetype",
        "description",
        "source",
        "sourceparent",
        "country",
        "eiaid",
        "approved",
        "is_default",
        "supersedes",
        "basicinformationcomments",
        "energycomments",
        "demandcomments",
        "voltagecategory",
        "phasewiring",
        "peakkwcapacitymin",
        "peakkwcapacitymax",
    }
)
"""Descriptive URDB fields: accepted, kept in the document (and its hash), not used in the maths."""

RATE_FIELDS: Final = frozenset(
    {
        "energyratestructure",
        "energyweekdayschedule",
        "energyweekendschedule",
        "demandratestructure",
        "demandweekdayschedule",
        "demandweekendschedule",
        "demandrateunit",
        "flatdemandstructure",
        "flatdemandmonths",
        "flatdemandunit",
        "fixedchargefirstmeter",
        "fixedchargeunits",
        "mincharge",
        "minchargeunits",
        "meshmeter_holidays",
    }
)
"""The URDB rate fields meshmeter bills from, plus its own ``meshmeter_holidays`` (``docs/billing.md``)."""

UNSUPPORTED_FIELDS: Final = frozenset(
    {
        "coincidentratestructure",
        "coincidentrateschedule",
        "coincidentrateunit",
        "demandratchetpercentage",
        "demandwindow",
        "demandreactivepowercharge",
        "demandunits",
        "fixedchargeeaaddl",
        "fixedmonthlycharge",
        "minmonthlycharge",
        "annualmincharge",
        "energyattrs",
        "demandattrs",
        "fixedattrs",
        "lookbackpercent",
        "lookbackrange",
        "lookbackmonths",
        "usenetmetering",
    }
)
"""URDB fields known and refused: billing with them ignored would give a wrong bill."""

ENERGY_TIER_UNITS: Final = ("kWh", "kWh daily")
"""Units of an energy tier's ``max``: per billing month, or per day (the baseline allowance form)."""

_CHARGE_UNITS: Final = ("$/month", "$/day", "$/year")

EXAMPLE_TARIFFS: Final = ("e-tou-c-example", "tiered-flat-example")
"""The example tariffs shipped as package data (``meshmeter/billing/tariffs/<name>.json``)."""

ChargeUnit = Literal["$/month", "$/day", "$/year"]


@dataclass(frozen=True, slots=True)
class Tier:
    """
    One tier of a period: its upper limit and its price.

    Attributes
    ----------
    max : Decimal or None
        Upper limit of the tier, cumulative from zero; None for the last tier. [kWh per billing month,
        kWh per day, or kW, by ``unit``]
    rate : Decimal
        Price of the tier, adjustment included (URDB ``rate + adj``). [USD/kWh or USD/kW]
    unit : str
        ``"kWh"``, ``"kWh daily"`` (energy) or ``"kW"`` (demand).
    """

    max: Decimal | None
    rate: Decimal
    unit: str


@dataclass(frozen=True, slots=True)
class HolidayRules:
    """
    The holidays a tariff bills on its weekend schedule, from the ``holidays`` package.

    Attributes
    ----------
    country : str
        ISO 3166 country code, e.g. ``"US"``.
    subdivision : str or None
        Subdivision code, e.g. ``"CA"``.
    observed : bool
        Whether a holiday that falls on a weekend is also (or instead) observed on a weekday, by the
        package's rules for the country (US: Saturday → Friday before, Sunday → Monday after).
    names : tuple of str
        The holidays the tariff recognises, by the package's English names; empty means every holiday the
        package lists for the country and subdivision.
    """

    country: str
    subdivision: str | None
    observed: bool
    names: tuple[str, ...]


@dataclass(frozen=True)
class Tariff:
    """
    A checked URDB tariff.

    Attributes
    ----------
    name : str
        The document's ``name`` (or ``label``), for the bill.
    utility : str
        The document's ``utility``.
    energy_tiers : tuple of tuple of Tier
        ``energyratestructure``: for each energy period, its tiers. Every period has the same number of
        tiers.
    energy_weekday, energy_weekend : ndarray of int64, shape (12, 24)
        Energy period of each month (January first) and local hour.
    demand_tiers : tuple of tuple of Tier
        ``demandratestructure``; empty when the tariff has no time-of-use demand charge.
    demand_weekday, demand_weekend : ndarray of int64, shape (12, 24) or None
        Demand period of each month and hour.
    flat_demand_tiers : tuple of tuple of Tier
        ``flatdemandstructure``; empty when none.
    flat_demand_months : ndarray of int64, shape (12,) or None
        ``flatdemandmonths``: the flat demand period of each month.
    fixed_charge : Decimal
        ``fixedchargefirstmeter``. [USD per ``fixed_charge_unit``]
    fixed_charge_unit : str
        ``fixedchargeunits``: ``$/month``, ``$/day`` or ``$/year``.
    min_charge : Decimal
        ``mincharge``. [USD per ``min_charge_unit``]
    min_charge_unit : str
        ``minchargeunits``.
    holidays : HolidayRules or None
        The holidays billed on the weekend schedule; None for none.
    document : dict
        The document as read (canonical JSON gives :attr:`sha256`).
    """

    name: str
    utility: str
    energy_tiers: tuple[tuple[Tier, ...], ...]
    energy_weekday: IntArray
    energy_weekend: IntArray
    demand_tiers: tuple[tuple[Tier, ...], ...] = ()
    demand_weekday: IntArray | None = None
    demand_weekend: IntArray | None = None
    flat_demand_tiers: tuple[tuple[Tier, ...], ...] = ()
    flat_demand_months: IntArray | None = None
    fixed_charge: Decimal = Decimal(0)
    fixed_charge_unit: ChargeUnit = "$/month"
    min_charge: Decimal = Decimal(0)
    min_charge_unit: ChargeUnit = "$/month"
    holidays: HolidayRules | None = None
    document: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def canonical_json(self) -> str:
        """The document as canonical JSON: sorted keys, no spaces (what :attr:`sha256` hashes)."""
        return json.dumps(self.document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @property
    def sha256(self) -> str:
        """SHA-256 of :attr:`canonical_json`, hexadecimal: names the tariff on a bill."""
        return hashlib.sha256(self.canonical_json.encode("utf-8")).hexdigest()

    @property
    def tier_count(self) -> int:
        """Number of energy tiers (the same in every period). [1]"""
        return len(self.energy_tiers[0])

    @property
    def tier_unit(self) -> str:
        """Unit of the energy tiers' limits: ``"kWh"`` (per billing month) or ``"kWh daily"``."""
        return self.energy_tiers[0][0].unit

    def tier_limits_kwh(self, month: int) -> tuple[Decimal, ...]:
        """
        Energy tier limits that apply in a calendar month (those of the month's periods).

        Parameters
        ----------
        month : int
            Calendar month, 1 to 12.

        Returns
        -------
        tuple of Decimal
            Upper limit of each tier but the last. [kWh per month or per day, by :attr:`tier_unit`]
        """
        period = int(self.energy_weekday[month - 1, 0])
        return tuple(t.max for t in self.energy_tiers[period][:-1] if t.max is not None)


# -----------------------------------------------------------------------------------------------------
# Reading a document
# -----------------------------------------------------------------------------------------------------


def _number(name: str, value: object, *, nonnegative: bool = False) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TariffError(name, f"must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise TariffError(name, f"must be finite, got {value!r}")
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if nonnegative and number < 0:
        raise TariffError(name, f"must not be negative, got {value!r}")
    return number


def _tiers(name: str, raw: object, units: Sequence[str], default_unit: str) -> tuple[Tier, ...]:
    if not isinstance(raw, list) or not raw:
        raise TariffError(name, f"must be a non-empty list of tiers, got {raw!r}")
    tiers: list[Tier] = []
    previous = Decimal(0)
    for k, item in enumerate(raw):
        where = f"{name}[{k}]"
        if not isinstance(item, dict):
            raise TariffError(where, f"must be an object, got {item!r}")
        for key in item:
            if key not in ("max", "rate", "adj", "unit"):
                raise TariffError(f"{where}.{key}", "is not a supported tier field (max, rate, adj, unit)")
        if "rate" not in item:
            raise TariffError(f"{where}.rate", "is missing")
        rate = _number(f"{where}.rate", item["rate"])
        adj = _number(f"{where}.adj", item["adj"]) if "adj" in item else Decimal(0)
        unit = item.get("unit", default_unit)
        if unit not in units:
            raise TariffError(f"{where}.unit", f"must be one of {', '.join(units)}, got {unit!r}")
        last = k == len(raw) - 1
        limit: Decimal | None = None
        if "max" in item:
            limit = _number(f"{where}.max", item["max"], nonnegative=True)
            if limit <= previous:
                raise TariffError(f"{where}.max", f"must exceed the tier below ({previous}), got {limit}")
            if last:
                limit = None  # the last tier is open whatever its max says (URDB often repeats one)
            else:
                previous = limit
        elif not last:
            raise TariffError(f"{where}.max", "is missing (every tier but the last needs one)")
        if tiers and unit != tiers[0].unit:
            raise TariffError(f"{where}.unit", f"must be the same in every tier, got {unit!r}")
        tiers.append(Tier(max=limit, rate=rate + adj, unit=unit))
    return tuple(tiers)


def _structure(
    name: str, raw: object, units: Sequence[str], default_unit: str
) -> tuple[tuple[Tier, ...], ...]:
    if not isinstance(raw, list) or not raw:
        raise TariffError(name, f"must be a non-empty list of periods, got {raw!r}")
    return tuple(_tiers(f"{name}[{p}]", item, units, default_unit) for p, item in enumerate(raw))


def _schedule(name: str, raw: object, periods: int) -> IntArray:
    if not isinstance(raw, list) or len(raw) != 12:
        raise TariffError(name, "must be 12 rows (January to December) of 24 hours")
    out = np.zeros((12, 24), dtype=np.int64)
    for m, row in enumerate(raw):
        if not isinstance(row, list) or len(row) != 24:
            raise TariffError(f"{name}[{m}]", f"must be a list of 24 periods, got {row!r}")
        for h, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TariffError(f"{name}[{m}][{h}]", f"must be an integer period, got {value!r}")
            if not 0 <= value < periods:
                raise TariffError(
                    f"{name}[{m}][{h}]", f"period {value} is not in the rate structure (0 to {periods - 1})"
                )
            out[m, h] = value
    out.setflags(write=False)
    return out


def _unit(name: str, doc: Mapping[str, Any], allowed: Sequence[str], default: str) -> str:
    value = doc.get(name, default)
    if value not in allowed:
        raise TariffError(name, f"must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _holidays(raw: object) -> HolidayRules:
    import holidays as holidays_package

    name = "meshmeter_holidays"
    if not isinstance(raw, dict):
        raise TariffError(name, f"must be an object, got {raw!r}")
    for key in raw:
        if key not in ("country", "subdivision", "observed", "names"):
            raise TariffError(f"{name}.{key}", "is not one of country, subdivision, observed, names")
    country = raw.get("country")
    if not isinstance(country, str):
        raise TariffError(f"{name}.country", f"must be a country code such as 'US', got {country!r}")
    subdivision = raw.get("subdivision")
    if subdivision is not None and not isinstance(subdivision, str):
        raise TariffError(f"{name}.subdivision", f"must be a string, got {subdivision!r}")
    observed = raw.get("observed", True)
    if not isinstance(observed, bool):
        raise TariffError(f"{name}.observed", f"must be true or false, got {observed!r}")
    names = raw.get("names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise TariffError(f"{name}.names", f"must be a list of holiday names, got {names!r}")
    try:
        calendar = holidays_package.country_holidays(country, subdiv=subdivision, years=range(2020, 2031))
    except NotImplementedError as exc:
        where = f"{name}.subdivision" if "subdivision" in str(exc) else f"{name}.country"
        raise TariffError(where, f"is not known to the holidays package: {exc}") from None
    known: set[str] = set()
    for day_names in calendar.values():
        known.update(n.strip().removesuffix(" (observed)") for n in day_names.split(";"))
    for n in names:
        if n not in known:
            raise TariffError(
                f"{name}.names", f"{n!r} is not a holiday of {country}/{subdivision} by that name"
            )
    return HolidayRules(country=country, subdivision=subdivision, observed=observed, names=tuple(names))


def parse_tariff(document: Mapping[str, Any]) -> Tariff:
    """
    Check a URDB rate document and build its :class:`Tariff`.

    Parameters
    ----------
    document : mapping
        One URDB rate (the object of the API's ``items`` list), or ``{"items": [rate]}`` with exactly one.

    Returns
    -------
    Tariff

    Raises
    ------
    TariffError
        On a field that is not supported or is malformed, naming the field.
    """
    if not isinstance(document, Mapping):
        raise TariffError("<document>", f"must be a JSON object, got {type(document).__name__}")
    if "items" in document:
        items = document["items"]
        if not isinstance(items, list) or len(items) != 1:
            raise TariffError("items", "must hold exactly one rate")
        return parse_tariff(items[0])
    for key in document:
        if key in UNSUPPORTED_FIELDS:
            raise TariffError(key, "is a URDB field meshmeter does not support (docs/billing.md)")
        if key not in METADATA_FIELDS and key not in RATE_FIELDS:
            raise TariffError(key, "is not a URDB field meshmeter knows (docs/billing.md)")
    doc = dict(document)
    for required in ("energyratestructure", "energyweekdayschedule", "energyweekendschedule"):
        if required not in doc:
            raise TariffError(required, "is missing")
    energy = _structure("energyratestructure", doc["energyratestructure"], ENERGY_TIER_UNITS, "kWh")
    tiers = {len(p) for p in energy}
    if len(tiers) != 1:
        raise TariffError("energyratestructure", "every period must have the same number of tiers")
    units = {p[0].unit for p in energy}
    if len(units) != 1:
        raise TariffError("energyratestructure", "every period's tiers must have the same unit")
    weekday = _schedule("energyweekdayschedule", doc["energyweekdayschedule"], len(energy))
    weekend = _schedule("energyweekendschedule", doc["energyweekendschedule"], len(energy))
    for m in range(12):
        limits = {tuple(t.max for t in energy[p]) for p in (*weekday[m], *weekend[m])}
        if len(limits) != 1:
            raise TariffError(
                "energyratestructure",
                f"the periods used in month {m + 1} must share their tier limits (they apply to the month's"
                " total energy)",
            )

    demand: tuple[tuple[Tier, ...], ...] = ()
    demand_weekday = demand_weekend = None
    has_demand = [
        k for k in ("demandratestructure", "demandweekdayschedule", "demandweekendschedule") if k in doc
    ]
    if has_demand:
        for k in ("demandratestructure", "demandweekdayschedule", "demandweekendschedule"):
            if k not in doc:
                raise TariffError(k, f"is missing (needed with {has_demand[0]})")
        demand = _structure("demandratestructure", doc["demandratestructure"], ("kW",), "kW")
        demand_weekday = _schedule("demandweekdayschedule", doc["demandweekdayschedule"], len(demand))
        demand_weekend = _schedule("demandweekendschedule", doc["demandweekendschedule"], len(demand))
    _unit("demandrateunit", doc, ("kW",), "kW")

    flat: tuple[tuple[Tier, ...], ...] = ()
    flat_months = None
    if ("flatdemandstructure" in doc) != ("flatdemandmonths" in doc):
        missing = "flatdemandmonths" if "flatdemandstructure" in doc else "flatdemandstructure"
        raise TariffError(missing, "is missing (flatdemandstructure and flatdemandmonths go together)")
    if "flatdemandstructure" in doc:
        flat = _structure("flatdemandstructure", doc["flatdemandstructure"], ("kW",), "kW")
        months = doc["flatdemandmonths"]
        if not isinstance(months, list) or len(months) != 12:
            raise TariffError("flatdemandmonths", "must be a list of 12 periods (January to December)")
        flat_months = np.zeros(12, dtype=np.int64)
        for m, value in enumerate(months):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(flat):
                raise TariffError(
                    f"flatdemandmonths[{m}]", f"must be a period of flatdemandstructure, got {value!r}"
                )
            flat_months[m] = value
        flat_months.setflags(write=False)
    _unit("flatdemandunit", doc, ("kW",), "kW")

    fixed = Decimal(0)
    if "fixedchargefirstmeter" in doc:
        fixed = _number("fixedchargefirstmeter", doc["fixedchargefirstmeter"], nonnegative=True)
    fixed_unit = _unit("fixedchargeunits", doc, _CHARGE_UNITS, "$/month")
    minimum = Decimal(0)
    if "mincharge" in doc:
        minimum = _number("mincharge", doc["mincharge"], nonnegative=True)
    min_unit = _unit("minchargeunits", doc, _CHARGE_UNITS, "$/month")

    rules = _holidays(doc["meshmeter_holidays"]) if "meshmeter_holidays" in doc else None
    name = doc.get("name", doc.get("label", "tariff"))
    utility = doc.get("utility", "")
    if not isinstance(name, str):
        raise TariffError("name", f"must be a string, got {name!r}")
    if not isinstance(utility, str):
        raise TariffError("utility", f"must be a string, got {utility!r}")
    return Tariff(
        name=name,
        utility=utility,
        energy_tiers=energy,
        energy_weekday=weekday,
        energy_weekend=weekend,
        demand_tiers=demand,
        demand_weekday=demand_weekday,
        demand_weekend=demand_weekend,
        flat_demand_tiers=flat,
        flat_demand_months=flat_months,
        fixed_charge=fixed,
        fixed_charge_unit=fixed_unit,  # type: ignore[arg-type]
        min_charge=minimum,
        min_charge_unit=min_unit,  # type: ignore[arg-type]
        holidays=rules,
        document=json.loads(json.dumps(doc)),
    )


def load_tariff(source: str | Path | bytes) -> Tariff:
    """
    Read a URDB tariff from a JSON file path, or from JSON text or bytes.

    Raises
    ------
    TariffError
        On text that is not JSON (field ``<document>``) or a field that is unsupported or malformed.
    OSError
        When the file cannot be read.
    """
    if isinstance(source, Path) or (isinstance(source, str) and not source.lstrip().startswith("{")):
        text: str | bytes = Path(source).read_text(encoding="utf-8")
    else:
        text = source
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TariffError("<document>", f"is not JSON: {exc}") from None
    return parse_tariff(document)


def example_tariff(name: str) -> Tariff:
    """
    One of the example tariffs shipped with meshmeter (illustrative rates, not a utility's).

    Parameters
    ----------
    name : str
        One of :data:`EXAMPLE_TARIFFS`.
    """
    if name not in EXAMPLE_TARIFFS:
        raise ValueError(f"name must be one of {', '.join(EXAMPLE_TARIFFS)}, got {name!r}")
    text = (
        resources.files("meshmeter.billing").joinpath("tariffs", f"{name}.json").read_text(encoding="utf-8")
    )
    return load_tariff(text)
