"""Tariffs in the OpenEI Utility Rate Database (URDB) JSON form (``docs/billing.md``).

A tariff is read from a URDB rate document as the OpenEI API publishes it (versions 3 to 8 of its field
names): one rate object, a JSON list of rates, or the API's ``{"items": [...]}`` wrapper, one rate chosen
by its ``label``. The rate is checked field by field and held as a frozen :class:`Tariff`: energy periods
× tiers with their buy and sell rates, the 12 × 24 weekday and weekend period schedules, time-of-use,
flat and coincident demand charges, the demand window and ratchets, fixed and minimum charges, the
export rule (net metering or net billing), and the holiday rules and period names of meshmeter's own
fields.

Descriptive fields (name, utility, dates, comments, revisions, the ``*attrs`` lists ...) are kept in the
document (and its hash), shown by ``meshmeter tariff show``, and never a reason to refuse; so are fields
meshmeter does not know, unless they look like rate structure (:data:`METADATA_FIELDS`,
:attr:`Tariff.ignored`). A rate structure the engine cannot apply is refused with one
:class:`~meshmeter.errors.TariffError` naming **every** such field at once, and nothing is billed.

Rates are kept as :class:`~decimal.Decimal` from the decimal text of the document, in USD.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal, get_args

import numpy as np
import numpy.typing as npt

from meshmeter.errors import TariffError

__all__ = [
    "CHARGE_UNITS",
    "ENERGY_TIER_UNITS",
    "EXAMPLE_TARIFFS",
    "EXPORT_RULES",
    "METADATA_FIELDS",
    "NOT_APPLIED_FIELDS",
    "PERIOD_KINDS",
    "RATE_FIELDS",
    "UNSUPPORTED_FIELDS",
    "HolidayRules",
    "Tariff",
    "Tier",
    "example_tariff",
    "load_tariff",
    "parse_period_names",
    "parse_tariff",
    "select_rate",
]

IntArray = npt.NDArray[np.int64]

METADATA_FIELDS: Final = frozenset(
    {
        # who and what
        "label",
        "utility",
        "utility_name",
        "name",
        "uri",
        "sector",
        "servicetype",
        "description",
        "source",
        "sourceparent",
        "country",
        "eiaid",
        "approved",
        "is_default",
        "isdefault",
        # when
        "startdate",
        "enddate",
        "latest_update",
        "supersedes",
        "supercedes",
        "revisions",
        # comments and attribute lists (what the rate sheet says in words; the structure says it in numbers)
        "basicinformationcomments",
        "energycomments",
        "demandcomments",
        "energyattrs",
        "demandattrs",
        "fixedattrs",
        "energykeyvals",
        "demandkeyvals",
        "fixedkeyvals",
        # applicability: who may take the rate, not what it charges
        "peakkwcapacitymin",
        "peakkwcapacitymax",
        "peakkwcapacityhistory",
        "peakkwhusagemin",
        "peakkwhusagemax",
        "peakkwhusagehistory",
        "voltagecategory",
        "voltageminimum",
        "voltagemaximum",
        "phasewiring",
    }
)
"""Descriptive URDB fields: accepted, kept in the document (and its hash), shown, not used in the maths."""

RATE_FIELDS: Final = frozenset(
    {
        "energyratestructure",
        "energyweekdayschedule",
        "energyweekendschedule",
        "demandratestructure",
        "demandweekdayschedule",
        "demandweekendschedule",
        "demandrateunit",
        "demandunits",
        "demandwindow",
        "demandratchetpercentage",
        "lookbackpercent",
        "lookbackrange",
        "lookbackmonths",
        "flatdemandstructure",
        "flatdemandmonths",
        "flatdemandunit",
        "coincidentratestructure",
        "coincidentrateschedule",
        "coincidentschedule",
        "coincidentrateunit",
        "fixedchargefirstmeter",
        "fixedchargeunits",
        "fixedmonthlycharge",
        "mincharge",
        "minchargeunits",
        "minmonthlycharge",
        "annualmincharge",
        "usenetmetering",
        "dgrules",
        "energytoulabels",
        "demandtoulabels",
        "meshmeter_holidays",
        "meshmeter_period_names",
        "meshmeter_not_applied",
    }
)
"""The URDB rate fields meshmeter bills from (and the period labels it prints), plus its own
``meshmeter_holidays``, ``meshmeter_period_names`` and ``meshmeter_not_applied`` (``docs/billing.md``)."""

NOT_APPLIED_FIELDS: Final = {
    "fixedchargeeaaddl": "each bill is one meter: fixedchargefirstmeter applies, not the charge of each "
    "additional meter",
}
"""Known URDB rate fields that do not apply to a sub-meter's bill, with the reason: kept and shown."""

UNSUPPORTED_FIELDS: Final = frozenset({"demandreactivepowercharge"})
"""Known URDB rate fields refused when they carry a charge: the meter measures kWh, not kvarh."""

ENERGY_TIER_UNITS: Final = ("kWh", "kWh daily")
"""Units of an energy tier's ``max``: per billing month, or per day (the baseline allowance form)."""

CHARGE_UNITS: Final = ("$/month", "$/day", "$/year")
"""Units of ``fixedchargeunits`` and ``minchargeunits``."""

EXPORT_RULES: Final = ("net metering", "net billing", "net billing hourly", "buy all sell all")
"""How exported energy is billed: URDB ``dgrules`` (and ``usenetmetering``), lower case."""

PERIOD_KINDS: Final = ("energy", "demand", "flat_demand", "coincident")
"""The period numberings a tariff has, which ``meshmeter_period_names`` may name."""

ExampleTariff = Literal["e-tou-c-example", "tiered-flat-example"]
"""The name of an example tariff, as a request's field takes it (:data:`EXAMPLE_TARIFFS`)."""

EXAMPLE_TARIFFS: Final[tuple[str, ...]] = get_args(ExampleTariff)
"""The example tariffs shipped as package data (``meshmeter/billing/tariffs/<name>.json``)."""

ChargeUnit = Literal["$/month", "$/day", "$/year"]
ExportRule = Literal["net metering", "net billing", "net billing hourly", "buy all sell all"]

_DGRULES: Final = {
    "net metering": "net metering",
    "net billing instantaneous": "net billing",
    "net billing hourly": "net billing hourly",
    "buy all sell all": "buy all sell all",
}
_KWH_PER_KW: Final = ("kwh/kw", "kwh/kw daily")
_RATE_LIKE: Final = re.compile(r"(structure|schedule|charge|rate|ratchet|tiers?|months)$")


@dataclass(frozen=True, slots=True)
class Tier:
    """
    One tier of a period: its upper limit and its prices.

    Attributes
    ----------
    max : Decimal or None
        Upper limit of the tier, cumulative from zero; None for the last tier. [kWh per billing month,
        kWh per day, or kW, by ``unit``]
    rate : Decimal
        Price of the tier, adjustment included (URDB ``rate + adj``). [USD/kWh or USD/kW]
    unit : str
        ``"kWh"``, ``"kWh daily"`` (energy) or ``"kW"`` (demand).
    sell : Decimal
        URDB ``sell``: the price paid for energy exported in this tier (net billing, or net metering's
        excess); 0 when the document gives none. [USD/kWh]
    """

    max: Decimal | None
    rate: Decimal
    unit: str
    sell: Decimal = Decimal(0)


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


Structure = tuple[tuple[Tier, ...], ...]


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
        ``energyratestructure``: for each energy period, its own tiers (periods may have different
        numbers of tiers; a period no schedule uses may have none).
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
        ``fixedchargefirstmeter`` (or the older ``fixedmonthlycharge``). [USD per ``fixed_charge_unit``]
    fixed_charge_unit : str
        ``fixedchargeunits``: ``$/month``, ``$/day`` or ``$/year``.
    min_charge : Decimal
        ``mincharge``. [USD per ``min_charge_unit``]
    min_charge_unit : str
        ``minchargeunits``.
    holidays : HolidayRules or None
        The holidays billed on the weekend schedule; None for none.
    document : dict
        The rate as read (canonical JSON gives :attr:`sha256`).
    label : str
        The document's ``label`` (the URDB page name), "" when it has none.
    min_monthly_charge : Decimal
        ``minmonthlycharge`` (the older name of a monthly minimum). [USD/month]
    annual_min_charge : Decimal
        ``annualmincharge``: applied on the bill that ends the calendar year. [USD/year]
    demand_window_s : int or None
        ``demandwindow`` in seconds: demand is the energy of fixed clock windows of this length over
        their length; None for the meter's own interval. [s]
    coincident_tiers : tuple of tuple of Tier
        ``coincidentratestructure``; empty when none.
    coincident_schedule : ndarray of int64, shape (12, 24) or None
        ``coincidentrateschedule`` (or ``coincidentschedule``): the coincident period of each month and
        local hour, every day.
    ratchet_percent : tuple of Decimal or None
        ``demandratchetpercentage``, by month: the month's billing demand is at least this fraction of
        the highest demand of the 11 months before. [1]
    lookback_percent : Decimal
        ``lookbackpercent``: fraction of the looked-back demand the billing demand is at least. [1]
    lookback_range : int
        ``lookbackrange``: months looked back each month (0: use ``lookback_months``). [month]
    lookback_months : tuple of bool or None
        ``lookbackmonths``: the calendar months whose demand sets the lookback floor.
    export_rule : str
        One of :data:`EXPORT_RULES`, from ``dgrules`` or ``usenetmetering`` (net metering by default,
        as SAM assumes).
    period_names : dict
        ``meshmeter_period_names``: ``{kind: {period: name}}`` for the kinds of :data:`PERIOD_KINDS`.
    ignored : tuple of (str, str)
        The document's fields kept but not applied, each with the reason (descriptive, not known ...).
    """

    name: str
    utility: str
    energy_tiers: Structure
    energy_weekday: IntArray
    energy_weekend: IntArray
    demand_tiers: Structure = ()
    demand_weekday: IntArray | None = None
    demand_weekend: IntArray | None = None
    flat_demand_tiers: Structure = ()
    flat_demand_months: IntArray | None = None
    fixed_charge: Decimal = Decimal(0)
    fixed_charge_unit: ChargeUnit = "$/month"
    min_charge: Decimal = Decimal(0)
    min_charge_unit: ChargeUnit = "$/month"
    holidays: HolidayRules | None = None
    document: dict[str, Any] = field(default_factory=dict, repr=False)
    label: str = ""
    min_monthly_charge: Decimal = Decimal(0)
    annual_min_charge: Decimal = Decimal(0)
    demand_window_s: int | None = None
    coincident_tiers: Structure = ()
    coincident_schedule: IntArray | None = None
    ratchet_percent: tuple[Decimal, ...] | None = None
    lookback_percent: Decimal = Decimal(0)
    lookback_range: int = 0
    lookback_months: tuple[bool, ...] | None = None
    export_rule: ExportRule = "net metering"
    period_names: dict[str, dict[int, str]] = field(default_factory=dict)
    ignored: tuple[tuple[str, str], ...] = ()
    _limits: dict[tuple[int, int], tuple[Decimal, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

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
        """Largest number of energy tiers of a period. [1]"""
        return max(len(p) for p in self.energy_tiers)

    @property
    def tier_unit(self) -> str:
        """Unit of the tier limits of the first period with tiers: ``"kWh"`` or ``"kWh daily"``."""
        return next(p[0].unit for p in self.energy_tiers if p)

    @property
    def has_ratchet(self) -> bool:
        """Whether the billing demand looks back at earlier months (``demandratchetpercentage``, lookback)."""
        return bool(self.ratchet_percent and any(self.ratchet_percent)) or self.lookback_percent > 0

    @property
    def ratchet_months(self) -> int:
        """How many months before a bill's first month the ratchet looks back at. [month]"""
        if not self.has_ratchet:
            return 0
        months = 11 if self.ratchet_percent and any(self.ratchet_percent) else 0
        if self.lookback_percent > 0:
            months = max(months, self.lookback_range or 11)
        return months

    def period_name(self, kind: str, period: int) -> str:
        """
        How a bill names a period: its ``meshmeter_period_names`` name, else ``"period N"`` (1-based).

        Parameters
        ----------
        kind : str
            One of :data:`PERIOD_KINDS`.
        period : int
            The period, 0-based as in the document.
        """
        return self.period_names.get(kind, {}).get(period, f"period {period + 1}")

    def periods_in_month(self, month: int) -> frozenset[int]:
        """The energy periods the weekday and weekend schedules use in a calendar month (1 to 12)."""
        return frozenset(int(p) for p in (*self.energy_weekday[month - 1], *self.energy_weekend[month - 1]))

    def tier_limits_kwh(self, month: int) -> tuple[Decimal, ...]:
        """
        Energy tier limits of a calendar month's reference period (the weekday schedule at 0 h).

        Parameters
        ----------
        month : int
            Calendar month, 1 to 12.

        Returns
        -------
        tuple of Decimal
            Upper limit of each tier but the last. [kWh per month or per day, by the period's unit]
        """
        period = int(self.energy_weekday[month - 1, 0])
        return tuple(t.max for t in self.energy_tiers[period][:-1] if t.max is not None)

    def tier_limits_for(self, month: int, period: int) -> tuple[Decimal, ...]:
        """
        The tier limits a calendar month contributes to a period's limits over a bill (``docs/billing.md``).

        A period's own limits in the months its schedules use it. In another month (a bill across two
        seasons) the month's reference period's limits (:meth:`tier_limits_kwh`) where it has that tier
        in the same unit, so that a tariff whose periods share their limits in each month bills as one
        set of limits over the whole bill (the baseline allowance of each day in service).

        Parameters
        ----------
        month : int
            Calendar month, 1 to 12.
        period : int
            Energy period, 0-based.

        Returns
        -------
        tuple of Decimal
            One limit per tier of ``period`` but its last. [kWh per month or per day]
        """
        key = (month, period)
        found = self._limits.get(key)
        if found is not None:
            return found
        tiers = self.energy_tiers[period]
        own = tuple(t.max for t in tiers[:-1] if t.max is not None)
        if period in self.periods_in_month(month):
            out = own
        else:
            ref = int(self.energy_weekday[month - 1, 0])
            ref_tiers = self.energy_tiers[ref]
            same_unit = bool(ref_tiers) and bool(tiers) and ref_tiers[0].unit == tiers[0].unit
            ref_limits = self.tier_limits_kwh(month) if same_unit else ()
            out = tuple(ref_limits[k] if k < len(ref_limits) else own[k] for k in range(len(own)))
        self._limits[key] = out
        return out


# -----------------------------------------------------------------------------------------------------
# Choosing a rate
# -----------------------------------------------------------------------------------------------------


def _rate_list(document: object) -> list[Any]:
    if isinstance(document, Mapping) and "items" in document:
        items = document["items"]
        if not isinstance(items, list):
            raise TariffError("items", f"must be a list of rates, got {type(items).__name__}")
        return items
    if isinstance(document, list):
        return document
    if isinstance(document, Mapping):
        return [document]
    raise TariffError(
        "<document>", f"must be a JSON object or a list of rates, got {type(document).__name__}"
    )


def _describe(rate: Mapping[str, Any]) -> str:
    return f"{rate.get('label')!r} ({rate.get('name', 'no name')}, {rate.get('utility', 'no utility')})"


def select_rate(document: object, *, label: str | None = None) -> dict[str, Any]:
    """
    The one rate of a URDB document: a rate object, a list of rates, or ``{"items": [...]}``.

    Parameters
    ----------
    document : object
        The decoded JSON.
    label : str, optional
        The ``label`` of the rate wanted; needed when the document holds several.

    Returns
    -------
    dict
        The chosen rate object.

    Raises
    ------
    TariffError
        When no rate has the label, or the document holds several rates and no label is given (the
        message lists the labels and names there are), or holds none.
    """
    rates = _rate_list(document)
    where = "items" if isinstance(document, Mapping) else "<document>"
    for i, rate in enumerate(rates):
        if not isinstance(rate, Mapping):
            raise TariffError(f"{where}[{i}]", f"must be a rate object, got {type(rate).__name__}")
    if not rates:
        raise TariffError(where, "holds no rate")
    if label is not None:
        found = [r for r in rates if r.get("label") == label]
        if not found:
            shown = ", ".join(_describe(r) for r in rates)
            raise TariffError("label", f"no rate has label {label!r}; the document has {shown}")
        if len(found) > 1:
            raise TariffError("label", f"{len(found)} rates have label {label!r}")
        return dict(found[0])
    if len(rates) > 1:
        shown = ", ".join(_describe(r) for r in rates)
        raise TariffError("label", f"the document holds {len(rates)} rates: choose one by its label: {shown}")
    return dict(rates[0])


def parse_period_names(text: str) -> dict[str, dict[str, str]]:
    """
    Period names from the command line: ``"0=peak,1=off-peak,demand:0=on-peak"``.

    Each comma-separated item is ``[kind:]period=name``: ``kind`` one of :data:`PERIOD_KINDS` (``energy``
    when absent), ``period`` 0-based as in the document's schedules.

    Returns
    -------
    dict
        ``{kind: {period: name}}``, the form of ``meshmeter_period_names``.

    Raises
    ------
    ValueError
        Naming ``--period-names`` and the item that is not of that form.
    """
    out: dict[str, dict[str, str]] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, name = item.partition("=")
        kind, colon, period = key.strip().rpartition(":")
        kind = kind.strip() if colon else "energy"
        period = period.strip()
        if not sep or not name.strip() or not period.isdigit() or kind not in PERIOD_KINDS:
            raise ValueError(
                "--period-names must be items like 0=peak or demand:0=on-peak (kinds "
                f"{', '.join(PERIOD_KINDS)}), got {item!r}"
            )
        out.setdefault(kind, {})[str(int(period))] = name.strip()
    return out


# -----------------------------------------------------------------------------------------------------
# Reading a rate: every problem is collected, then refused at once
# -----------------------------------------------------------------------------------------------------


def _whole(value: object) -> int | None:
    """A period number: an integer, or a float with no fraction (PySAM writes ``1.0``); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _present(doc: Mapping[str, Any], name: str) -> bool:
    """A field that is there and not null (the API writes null for an empty field)."""
    return doc.get(name) is not None


class _Reader:
    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc
        self.problems: list[tuple[str, str]] = []

    def bad(self, name: str, detail: str) -> None:
        self.problems.append((name, detail))

    def number(self, name: str, value: object, *, nonnegative: bool = False) -> Decimal | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.bad(name, f"must be a number, got {value!r}")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.bad(name, f"must be finite, got {value!r}")
            return None
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if nonnegative and number < 0:
            self.bad(name, f"must not be negative, got {value!r}")
            return None
        return number

    def field_number(self, name: str, *, nonnegative: bool = True) -> Decimal:
        if not _present(self.doc, name):
            return Decimal(0)
        got = self.number(name, self.doc[name], nonnegative=nonnegative)
        return Decimal(0) if got is None else got

    def unit(self, name: str, allowed: Sequence[str], default: str, why: str = "") -> str:
        value = self.doc.get(name)
        if value is None:
            return default
        for a in allowed:
            if isinstance(value, str) and value.strip().lower() == a.lower():
                return a
        self.bad(name, f"must be one of {', '.join(allowed)}, got {value!r}{why}")
        return default

    def tiers(self, name: str, raw: object, *, energy: bool, allow_empty: bool) -> tuple[Tier, ...] | None:
        if not isinstance(raw, list):
            self.bad(name, f"must be a list of tiers, got {raw!r}")
            return None
        if not raw:
            if not allow_empty:
                self.bad(name, "must have at least one tier")
                return None
            return ()
        keys = ("max", "rate", "adj", "unit", "sell") if energy else ("max", "rate", "adj", "unit")
        tiers: list[Tier] = []
        previous = Decimal(0)
        ok = True
        for k, item in enumerate(raw):
            where = f"{name}[{k}]"
            if not isinstance(item, dict):
                self.bad(where, f"must be an object, got {item!r}")
                ok = False
                continue
            for key in item:
                if key not in keys:
                    self.bad(f"{where}.{key}", f"is not a tier field meshmeter applies ({', '.join(keys)})")
                    ok = False
            if all(item.get(k2) is None for k2 in ("rate", "adj", "sell")):
                self.bad(f"{where}.rate", "is missing (a tier needs a rate, adj or sell)")
                ok = False
                continue
            rate = (
                self.number(f"{where}.rate", item["rate"], nonnegative=True)
                if _present(item, "rate")
                else Decimal(0)
            )
            adj = self.number(f"{where}.adj", item["adj"]) if _present(item, "adj") else Decimal(0)
            sell = (
                self.number(f"{where}.sell", item["sell"], nonnegative=True)
                if _present(item, "sell")
                else Decimal(0)
            )
            if rate is None or adj is None or sell is None:
                ok = False
                continue
            if rate + adj < 0:
                self.bad(f"{where}.adj", f"makes the tier's price negative: rate {rate} + adj {adj}")
                ok = False
            unit = self._tier_unit(f"{where}.unit", item.get("unit"), energy=energy)
            if unit is None:
                ok = False
                continue
            last = k == len(raw) - 1
            limit: Decimal | None = None
            if _present(item, "max"):
                limit = self.number(f"{where}.max", item["max"], nonnegative=True)
                if limit is None:
                    ok = False
                    continue
                if limit <= previous:
                    self.bad(f"{where}.max", f"must exceed the tier below ({previous}), got {limit}")
                    ok = False
                if last:
                    limit = None  # the last tier is open whatever its max says (URDB often writes 1e38)
                else:
                    previous = max(previous, limit)
            elif not last:
                self.bad(f"{where}.max", "is missing (every tier but the last needs one)")
                ok = False
            if tiers and unit != tiers[0].unit:
                self.bad(
                    f"{where}.unit",
                    f"must be the unit of the period's first tier ({tiers[0].unit}), got {unit!r}",
                )
                ok = False
            tiers.append(Tier(max=limit, rate=rate + adj, unit=unit, sell=sell))
        return tuple(tiers) if ok else None

    def _tier_unit(self, where: str, value: object, *, energy: bool) -> str | None:
        if value is None:
            return "kWh" if energy else "kW"
        text = value.strip().lower() if isinstance(value, str) else None
        if energy:
            for unit in ENERGY_TIER_UNITS:
                if text == unit.lower():
                    return unit
            if text in _KWH_PER_KW:
                self.bad(where, f"{value!r} (tiers in kWh per kW of demand) is not applied by meshmeter")
                return None
            self.bad(where, f"must be one of {', '.join(ENERGY_TIER_UNITS)}, got {value!r}")
            return None
        if text == "kw":
            return "kW"
        self.bad(where, f"must be kW (meshmeter measures energy in Wh: demand in kW), got {value!r}")
        return None

    def structure(self, name: str, *, energy: bool) -> Structure | None:
        raw = self.doc.get(name)
        if not isinstance(raw, list) or not raw:
            self.bad(name, f"must be a non-empty list of periods, got {raw!r}")
            return None
        periods = [
            self.tiers(f"{name}[{p}]", item, energy=energy, allow_empty=True) for p, item in enumerate(raw)
        ]
        if any(p is None for p in periods):
            return None
        return tuple(p for p in periods if p is not None)

    def schedule(self, name: str, structure: Structure | None, *, what: str) -> IntArray | None:
        raw = self.doc.get(name)
        if not isinstance(raw, list) or len(raw) != 12:
            self.bad(name, "must be 12 rows (January to December) of 24 hours")
            return None
        out = np.zeros((12, 24), dtype=np.int64)
        ok = True
        for m, row in enumerate(raw):
            if not isinstance(row, list) or len(row) != 24:
                self.bad(f"{name}[{m}]", f"must be a list of 24 periods, got {row!r}")
                ok = False
                continue
            for h, value in enumerate(row):
                period = _whole(value)
                if period is None:
                    self.bad(f"{name}[{m}][{h}]", f"must be an integer period, got {value!r}")
                    ok = False
                    continue
                out[m, h] = period
        if not ok:
            return None
        # The periods the document lists, even where one of them could not be read (a negative rate):
        # a schedule naming a period that is not there is named beside that problem.
        listed = self.doc.get(what)
        count = len(structure) if structure is not None else len(listed) if isinstance(listed, list) else 0
        if count:
            # One problem per period the schedule names that the structure lacks (not one per hour).
            for value in sorted(set(out.ravel().tolist())):
                m, h = (int(x) for x in np.argwhere(out == value)[0])
                if not 0 <= value < count:
                    self.bad(
                        f"{name}[{m}][{h}]",
                        f"period {value} is not in {what} (periods 0 to {count - 1})",
                    )
                    ok = False
                elif structure is not None and not structure[value]:
                    self.bad(f"{name}[{m}][{h}]", f"period {value} of {what} has no tiers")
                    ok = False
        if not ok:
            return None
        out.setflags(write=False)
        return out

    def months(self, name: str, *, kind: str) -> list[Any] | None:
        raw = self.doc.get(name)
        if not isinstance(raw, list) or len(raw) != 12:
            self.bad(name, f"must be a list of 12 {kind} (January to December), got {raw!r}")
            return None
        return raw


def _holidays(reader: _Reader, raw: object) -> HolidayRules | None:
    import holidays as holidays_package

    name = "meshmeter_holidays"
    if not isinstance(raw, dict):
        reader.bad(name, f"must be an object, got {raw!r}")
        return None
    ok = True
    for key in raw:
        if key not in ("country", "subdivision", "observed", "names"):
            reader.bad(f"{name}.{key}", "is not one of country, subdivision, observed, names")
            ok = False
    country = raw.get("country")
    if not isinstance(country, str):
        reader.bad(f"{name}.country", f"must be a country code such as 'US', got {country!r}")
        return None
    subdivision = raw.get("subdivision")
    if subdivision is not None and not isinstance(subdivision, str):
        reader.bad(f"{name}.subdivision", f"must be a string, got {subdivision!r}")
        return None
    observed = raw.get("observed", True)
    if not isinstance(observed, bool):
        reader.bad(f"{name}.observed", f"must be true or false, got {observed!r}")
        ok = False
    names = raw.get("names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        reader.bad(f"{name}.names", f"must be a list of holiday names, got {names!r}")
        return None
    try:
        calendar = holidays_package.country_holidays(country, subdiv=subdivision, years=range(2020, 2031))
    except NotImplementedError as exc:
        where = f"{name}.subdivision" if "subdivision" in str(exc) else f"{name}.country"
        reader.bad(where, f"is not known to the holidays package: {exc}")
        return None
    known: set[str] = set()
    for day_names in calendar.values():
        known.update(n.strip().removesuffix(" (observed)") for n in day_names.split(";"))
    for n in names:
        if n not in known:
            reader.bad(f"{name}.names", f"{n!r} is not a holiday of {country}/{subdivision} by that name")
            ok = False
    if not ok:
        return None
    return HolidayRules(country=country, subdivision=subdivision, observed=bool(observed), names=tuple(names))


def _period_names(reader: _Reader, raw: object, sizes: Mapping[str, int]) -> dict[str, dict[int, str]]:
    name = "meshmeter_period_names"
    if not isinstance(raw, dict):
        reader.bad(name, f"must be an object such as {{'energy': {{'0': 'peak'}}}}, got {raw!r}")
        return {}
    # The short form {"0": "peak"} names energy periods.
    by_kind: dict[str, object] = {"energy": raw} if raw and all(k not in PERIOD_KINDS for k in raw) else raw
    out: dict[str, dict[int, str]] = {}
    for kind, names in by_kind.items():
        where = f"{name}.{kind}"
        if kind not in PERIOD_KINDS:
            reader.bad(where, f"is not one of {', '.join(PERIOD_KINDS)}")
            continue
        items = dict(enumerate(names)) if isinstance(names, list) else names
        if not isinstance(items, dict):
            reader.bad(where, f"must map periods to names, got {names!r}")
            continue
        for key, label in items.items():
            period = int(key) if isinstance(key, int) or (isinstance(key, str) and key.isdigit()) else None
            if period is None or not 0 <= period < sizes.get(kind, 0):
                reader.bad(
                    f"{where}.{key}", f"is not a {kind} period of this tariff (0 to {sizes.get(kind, 0) - 1})"
                )
            elif not isinstance(label, str) or not label.strip():
                reader.bad(f"{where}.{key}", f"must be a name, got {label!r}")
            else:
                out.setdefault(kind, {})[period] = label.strip()
    return out


def _fraction(reader: _Reader, name: str, value: object) -> Decimal | None:
    got = reader.number(name, value, nonnegative=True)
    if got is not None and got > 1:
        reader.bad(name, f"must be a fraction from 0 to 1 (0.8 for 80 %), got {value!r}")
        return None
    return got


def _unknown(key: str, value: object) -> str | None:
    """Why an unknown field is refused (it looks like rate structure), or None when it is kept."""
    if key.startswith("meshmeter_"):
        return "is not a meshmeter field (meshmeter_holidays, meshmeter_period_names, meshmeter_not_applied)"
    structured = isinstance(value, list) and any(
        isinstance(row, list) and any(isinstance(t, dict) and "rate" in t for t in row) for row in value
    )
    if structured or _RATE_LIKE.search(key.lower()):
        return "is not a URDB field meshmeter knows, and looks like rate structure: it cannot be applied"
    return None


def _not_applied(reader: _Reader, raw: object) -> dict[str, str]:
    """``meshmeter_not_applied``: the operator's list of refused top-level charges to keep, not applied."""
    name = "meshmeter_not_applied"
    items = dict.fromkeys(raw, "") if isinstance(raw, list) else raw
    if not isinstance(items, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in items.items()
    ):
        reader.bad(name, f"must be a list of field names or an object of field: reason, got {raw!r}")
        return {}
    out: dict[str, str] = {}
    for key, why in items.items():
        refusable = key in UNSUPPORTED_FIELDS or (
            key not in RATE_FIELDS and key not in METADATA_FIELDS and not key.startswith("meshmeter_")
        )
        if not refusable:
            reader.bad(
                f"{name}.{key}", "is not a field meshmeter refuses: only a refused charge can be left out"
            )
        else:
            out[key] = why
    return out


def _labels(doc: Mapping[str, Any], key: str, size: int, ignored: list[tuple[str, str]]) -> dict[int, str]:
    """Period labels of ``energytoulabels`` / ``demandtoulabels``: descriptive, so never refused."""
    raw = doc.get(key)
    if raw is None:
        return {}
    if not isinstance(raw, list) or len(raw) != size or not all(isinstance(v, str) for v in raw):
        ignored.append((key, f"not used: not a list of {size} period names"))
        return {}
    return {p: v.strip() for p, v in enumerate(raw) if v.strip()}


def parse_tariff(
    document: object,
    *,
    label: str | None = None,
    period_names: Mapping[str, Mapping[str, str]] | None = None,
) -> Tariff:
    """
    Check a URDB rate document and build its :class:`Tariff`.

    Parameters
    ----------
    document : mapping or list
        One URDB rate, a list of rates, or the API's ``{"items": [...]}`` (:func:`select_rate`).
    label : str, optional
        The ``label`` of the rate to read, when the document holds several.
    period_names : mapping, optional
        Period names ``{kind: {period: name}}`` (:func:`parse_period_names`) merged into the rate's
        ``meshmeter_period_names``, so the names are part of the tariff a bill records.

    Returns
    -------
    Tariff

    Raises
    ------
    TariffError
        Naming every field of the rate structure that is malformed or that the engine cannot apply (its
        ``problems``); or, before that, the choice of rate (:func:`select_rate`).
    """
    doc: dict[str, Any] = select_rate(document, label=label)
    if period_names:
        merged: dict[str, Any] = {}
        own = doc.get("meshmeter_period_names")
        if isinstance(own, dict):
            merged = {k: dict(v) if isinstance(v, dict) else v for k, v in own.items()}
            if own and all(k not in PERIOD_KINDS for k in own):
                merged = {"energy": dict(own)}
        for kind, given in period_names.items():
            base = merged.get(kind)
            merged[kind] = {
                **(base if isinstance(base, dict) else {}),
                **{str(k): v for k, v in given.items()},
            }
        doc["meshmeter_period_names"] = merged
    r = _Reader(doc)
    ignored: list[tuple[str, str]] = []
    waived = _not_applied(r, doc["meshmeter_not_applied"]) if _present(doc, "meshmeter_not_applied") else {}
    for key in doc:
        if key in RATE_FIELDS:
            continue
        if key in waived:
            ignored.append((key, f"not applied (meshmeter_not_applied: {waived[key] or 'the operator'})"))
            continue
        if key in ("name", "utility", "label"):
            ignored.append((key, "descriptive: shown on the bill"))
        elif key in METADATA_FIELDS:
            ignored.append((key, "descriptive: kept, not used in the bill"))
        elif key in NOT_APPLIED_FIELDS:
            ignored.append((key, NOT_APPLIED_FIELDS[key]))
        elif key in UNSUPPORTED_FIELDS:
            value = doc[key]
            if value in (None, 0, 0.0, "", []):
                ignored.append((key, "no charge given"))
            else:
                r.bad(
                    key, "is a reactive power (kvar) charge: the meter measures kWh, so it cannot be applied"
                )
        else:
            why = _unknown(key, doc[key])
            if why is None:
                ignored.append((key, "not a URDB field meshmeter knows: kept, not used in the bill"))
            else:
                r.bad(key, why)

    # Energy: required.
    for required in ("energyratestructure", "energyweekdayschedule", "energyweekendschedule"):
        if not _present(doc, required):
            r.bad(required, "is missing")
    energy = r.structure("energyratestructure", energy=True) if _present(doc, "energyratestructure") else None
    weekday = weekend = None
    if _present(doc, "energyweekdayschedule"):
        weekday = r.schedule("energyweekdayschedule", energy, what="energyratestructure")
    if _present(doc, "energyweekendschedule"):
        weekend = r.schedule("energyweekendschedule", energy, what="energyratestructure")

    # Time-of-use demand: all three or none.
    demand: Structure = ()
    demand_weekday = demand_weekend = None
    tou = ("demandratestructure", "demandweekdayschedule", "demandweekendschedule")
    has_tou = [k for k in tou if _present(doc, k)]
    if has_tou:
        for k in tou:
            if not _present(doc, k):
                r.bad(k, f"is missing (needed with {has_tou[0]})")
        got = (
            r.structure("demandratestructure", energy=False) if _present(doc, "demandratestructure") else None
        )
        demand = got or ()
        if _present(doc, "demandweekdayschedule"):
            demand_weekday = r.schedule("demandweekdayschedule", got, what="demandratestructure")
        if _present(doc, "demandweekendschedule"):
            demand_weekend = r.schedule("demandweekendschedule", got, what="demandratestructure")
    kw_only = " (meshmeter measures energy in Wh: demand in kW)"
    r.unit("demandrateunit", ("kW",), "kW", kw_only)
    r.unit("demandunits", ("kW",), "kW", kw_only)

    # Flat demand: both or none.
    flat: Structure = ()
    flat_months = None
    if _present(doc, "flatdemandstructure") != _present(doc, "flatdemandmonths"):
        missing = "flatdemandmonths" if _present(doc, "flatdemandstructure") else "flatdemandstructure"
        r.bad(missing, "is missing (flatdemandstructure and flatdemandmonths go together)")
    elif _present(doc, "flatdemandstructure"):
        got = r.structure("flatdemandstructure", energy=False)
        flat = got or ()
        months = r.months("flatdemandmonths", kind="periods")
        if months is not None:
            flat_months = np.zeros(12, dtype=np.int64)
            for m, raw_value in enumerate(months):
                value = _whole(raw_value)
                if value is None or (got is not None and not 0 <= value < len(got)):
                    r.bad(
                        f"flatdemandmonths[{m}]",
                        f"must be a period of flatdemandstructure, got {raw_value!r}",
                    )
                elif got is not None and not got[value]:
                    r.bad(f"flatdemandmonths[{m}]", f"period {value} of flatdemandstructure has no tiers")
                else:
                    flat_months[m] = value
            flat_months.setflags(write=False)
    r.unit("flatdemandunit", ("kW",), "kW", kw_only)

    # Coincident demand: a structure and its one schedule (every day), under either name.
    coincident: Structure = ()
    coincident_schedule = None
    schedules = [k for k in ("coincidentrateschedule", "coincidentschedule") if _present(doc, k)]
    if len(schedules) == 2 and doc[schedules[0]] != doc[schedules[1]]:
        r.bad("coincidentschedule", "differs from coincidentrateschedule (give one)")
    if _present(doc, "coincidentratestructure") != bool(schedules):
        missing = (
            "coincidentrateschedule"
            if _present(doc, "coincidentratestructure")
            else "coincidentratestructure"
        )
        r.bad(missing, "is missing (coincidentratestructure and coincidentrateschedule go together)")
    elif schedules:
        got = r.structure("coincidentratestructure", energy=False)
        coincident = got or ()
        coincident_schedule = r.schedule(schedules[0], got, what="coincidentratestructure")
    r.unit("coincidentrateunit", ("kW",), "kW", kw_only)

    # The demand window.
    window_s: int | None = None
    if _present(doc, "demandwindow"):
        minutes = r.number("demandwindow", doc["demandwindow"], nonnegative=True)
        if minutes is not None and minutes != 0:
            seconds = minutes * 60
            if seconds != seconds.to_integral_value() or 3600 % int(seconds):
                r.bad(
                    "demandwindow",
                    f"must be minutes that divide an hour (5, 15, 30, 60 ...), got {doc['demandwindow']!r}",
                )
            else:
                window_s = int(seconds)

    # Ratchets and lookbacks.
    ratchet: tuple[Decimal, ...] | None = None
    if _present(doc, "demandratchetpercentage"):
        months = r.months("demandratchetpercentage", kind="fractions")
        if months is not None:
            got_r = [_fraction(r, f"demandratchetpercentage[{m}]", v) for m, v in enumerate(months)]
            if all(v is not None for v in got_r):
                ratchet = tuple(v for v in got_r if v is not None)
    lookback_percent = Decimal(0)
    if _present(doc, "lookbackpercent"):
        lookback_percent = _fraction(r, "lookbackpercent", doc["lookbackpercent"]) or Decimal(0)
    lookback_range = 0
    if _present(doc, "lookbackrange"):
        value = doc["lookbackrange"]
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not whole or value < 0:
            r.bad("lookbackrange", f"must be a whole number of months, got {value!r}")
        else:
            lookback_range = int(value)
    lookback_months: tuple[bool, ...] | None = None
    if _present(doc, "lookbackmonths"):
        months = r.months("lookbackmonths", kind="true/false values")
        if months is not None:
            if all(isinstance(v, bool) or v in (0, 1) for v in months):
                lookback_months = tuple(bool(v) for v in months)
            else:
                r.bad("lookbackmonths", f"must be 12 true/false values, got {months!r}")
    if lookback_percent > 0:
        any_month = bool(lookback_months and any(lookback_months))
        if lookback_range and any_month:
            r.bad(
                "lookbackmonths",
                "goes with lookbackrange 0 (the lookback is by range or by months, not both)",
            )
        elif not lookback_range and not any_month:
            r.bad("lookbackpercent", "needs lookbackrange or lookbackmonths (which months it looks back at)")
    has_ratchet = bool(ratchet and any(ratchet)) or lookback_percent > 0
    if has_ratchet and not flat and len(demand) != 1:
        r.bad(
            "lookbackpercent" if lookback_percent > 0 else "demandratchetpercentage",
            "raises the monthly billing demand: it needs flatdemandstructure, or a demandratestructure of one"
            " period",
        )

    # Fixed and minimum charges.
    fixed = r.field_number("fixedchargefirstmeter")
    fixed_unit = r.unit("fixedchargeunits", CHARGE_UNITS, "$/month")
    monthly = r.field_number("fixedmonthlycharge")
    if _present(doc, "fixedmonthlycharge"):
        if _present(doc, "fixedchargefirstmeter") and (fixed_unit != "$/month" or fixed != monthly):
            r.bad(
                "fixedmonthlycharge",
                f"{monthly} $/month and fixedchargefirstmeter {fixed} {fixed_unit} both give the customer"
                " charge (give one)",
            )
        elif not _present(doc, "fixedchargefirstmeter"):
            fixed, fixed_unit = monthly, "$/month"
    minimum = r.field_number("mincharge")
    min_unit = r.unit("minchargeunits", CHARGE_UNITS, "$/month")
    min_monthly = r.field_number("minmonthlycharge")
    annual_min = r.field_number("annualmincharge")

    # Exports.
    rule = "net metering"
    if _present(doc, "dgrules"):
        text = doc["dgrules"]
        rule_got = _DGRULES.get(text.strip().lower()) if isinstance(text, str) else None
        if rule_got is None:
            r.bad(
                "dgrules",
                "must be one of Net Metering, Net Billing Instantaneous, Net Billing Hourly, Buy All Sell"
                f" All, got {text!r}",
            )
        else:
            rule = rule_got
    if _present(doc, "usenetmetering"):
        nm = doc["usenetmetering"]
        if not isinstance(nm, bool):
            r.bad("usenetmetering", f"must be true or false, got {nm!r}")
        elif _present(doc, "dgrules") and nm != (rule == "net metering"):
            r.bad("usenetmetering", f"is {str(nm).lower()} but dgrules is {doc['dgrules']!r}")
        elif not _present(doc, "dgrules"):
            rule = "net metering" if nm else "net billing"

    rules = _holidays(r, doc["meshmeter_holidays"]) if _present(doc, "meshmeter_holidays") else None
    sizes = {
        "energy": len(energy or ()),
        "demand": len(demand),
        "flat_demand": len(flat),
        "coincident": len(coincident),
    }
    # Period names: the document's labels, then the operator's meshmeter_period_names over them.
    names: dict[str, dict[int, str]] = {}
    for kind, key in (("energy", "energytoulabels"), ("demand", "demandtoulabels")):
        got_labels = _labels(doc, key, sizes[kind], ignored)
        if got_labels:
            names[kind] = got_labels
    if _present(doc, "meshmeter_period_names"):
        for kind, named in _period_names(r, doc["meshmeter_period_names"], sizes).items():
            names[kind] = {**names.get(kind, {}), **named}

    if r.problems or energy is None or weekday is None or weekend is None:
        raise TariffError.of(r.problems or [("energyratestructure", "could not be read")])
    return Tariff(
        name=str(doc.get("name") or doc.get("label") or "tariff"),
        utility=str(doc.get("utility") or ""),
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
        label=str(doc.get("label") or ""),
        min_monthly_charge=min_monthly,
        annual_min_charge=annual_min,
        demand_window_s=window_s,
        coincident_tiers=coincident,
        coincident_schedule=coincident_schedule,
        ratchet_percent=ratchet,
        lookback_percent=lookback_percent,
        lookback_range=lookback_range,
        lookback_months=lookback_months,
        export_rule=rule,  # type: ignore[arg-type]
        period_names=names,
        ignored=tuple(ignored),
    )


def load_tariff(
    source: str | Path | bytes,
    *,
    label: str | None = None,
    period_names: Mapping[str, Mapping[str, str]] | None = None,
) -> Tariff:
    """
    Read a URDB tariff from a JSON file path, or from JSON text or bytes (:func:`parse_tariff`).

    Parameters
    ----------
    source : str, Path or bytes
        A path, or JSON text (it starts with ``{`` or ``[``).
    label : str, optional
        The rate to read when the document holds several.
    period_names : mapping, optional
        Period names merged into ``meshmeter_period_names``.

    Raises
    ------
    TariffError
        On text that is not JSON (field ``<document>``), the choice of rate, or the rate's problems.
    OSError
        When the file cannot be read.
    """
    if isinstance(source, Path) or (
        isinstance(source, str) and not source.lstrip().startswith(("{", "[", '"'))
    ):
        text: str | bytes = Path(source).read_text(encoding="utf-8")
    else:
        text = source
    try:
        document = json.loads(text)
        if isinstance(document, str):  # the response stored as a JSON string of its text (PySAM's tests)
            document = json.loads(document)
    except json.JSONDecodeError as exc:
        raise TariffError("<document>", f"is not JSON: {exc}") from None
    return parse_tariff(document, label=label, period_names=period_names)


def example_tariff(name: str, *, period_names: Mapping[str, Mapping[str, str]] | None = None) -> Tariff:
    """
    One of the example tariffs shipped with meshmeter (illustrative rates, not a utility's).

    Parameters
    ----------
    name : str
        One of :data:`EXAMPLE_TARIFFS`.
    period_names : mapping, optional
        Period names merged into ``meshmeter_period_names`` (:func:`parse_tariff`).
    """
    if name not in EXAMPLE_TARIFFS:
        raise ValueError(f"name must be one of {', '.join(EXAMPLE_TARIFFS)}, got {name!r}")
    text = (
        resources.files("meshmeter.billing").joinpath("tariffs", f"{name}.json").read_text(encoding="utf-8")
    )
    return load_tariff(text, period_names=period_names)
