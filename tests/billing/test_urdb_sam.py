"""meshmeter's bills against NREL SAM's utility-rate model on real URDB tariffs (issue 13).

For each real URDB rate document in ``tests/data/urdb/`` (sources: ``tests/data/urdb/SOURCES.md``), a year
of 15-minute load is billed month by month by meshmeter (``load_tariff`` on the file as published, then
``bill_meter`` per calendar month) and by SAM's ``utilityrate5`` through PySAM (``nrel-pysam``). Each
month's energy, time-of-use demand, flat demand, fixed and minimum charges must agree within one cent.

How the calendars are matched (details in ``tests/billing/_sam.py``)
-------------------------------------------------------------------
SAM's year begins on a **Monday** 1 January and has no holidays and no DST. meshmeter bills **2029**
(1 January 2029 is a Monday; 365 days, 35,040 quarter hours) in the fixed-offset zone **"Etc/GMT+8"**
(UTC−8 all year, no DST), with no holidays in the tariff. SAM's step ``i`` (local
``[i × 15 min, (i+1) × 15 min)`` from 1 January 00:00) is meshmeter's interval ending
``(i + 1) × 15 min`` after local midnight, 1 January 2029, which meshmeter bills in the period of its
start, SAM's step start. ``test_sam_year_starts_on_monday_as_2029`` checks SAM's weekday calendar itself.

Energy is whole Wh for meshmeter; SAM is given the kW back from those Wh, so both bill the same kWh.

One deliberate difference of convention is compared against the arithmetic rather than against SAM: a
fixed charge in **``$/day``**. PySAM's URDB conversion turns it into a monthly charge of
``rate × 365 / 12`` (30.42 days every month, ``_sam.sam_fixed_per_day_month``); a utility, and meshmeter,
charge ``rate × days`` in the month. For those tariffs the test asserts SAM's figure is ``rate × 365/12``
and meshmeter's is ``rate × days in the month``.

SAM itself refuses one corpus rate, ``reopt-jl-multi-tier.json``: SAM requires every period used in a
month to have the same tier limits ("Tiers should have the same Max. Usage across Periods in the same
month"), and that rate has 1- and 2-tier periods side by side. Its test checks SAM's refusal; once
meshmeter reads the rate the test fails asking for hand-checked figures (there is no SAM reference).

Export variants (PV exporting at midday, for the net-metering and net-billing rates): SAM takes
``dgrules`` through PySAM's conversion: "Net Metering" → ``ur_metering_option`` 0, "Net Billing
Instantaneous" → 2, "Net Billing Hourly" → **3, which in SAM is net billing with carry-over of dollar
credits to the next month, not hourly netting**, "Buy All Sell All" → 4; no ``dgrules`` → net metering.
Those tests use SAM as configured that way; review the metering option before making them pass.

Nothing is skipped: a tariff meshmeter cannot read yet is an expected failure, ``xfail(strict=True,
raises=TariffError)``, whose reason names the field the reader refuses **first** (the test also checks the
refusal names that field, so the table stays true). When the URDB reader that reads documents as
published lands, those tests XPASS, which strict xfail turns into failures: remove the marks then. A
mismatch of the arithmetic is an ``AssertionError``, never an expected failure.

The second part of the module ("Arithmetic today", below the line) checks the arithmetic the current
engine already has, on each document with only the descriptive fields the current reader refuses dropped
(``_readable_today``).

Run: ``python -m pytest tests/billing/test_urdb_sam.py -n 0 -q`` (about 3 s).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from meshmeter.billing import Tariff, bill_meter, load_tariff, parse_tariff
from meshmeter.errors import TariffError
from tests.billing import _sam

KINDS = ("energy", "demand", "flat_demand", "fixed", "minimum")
"""meshmeter's line kinds compared, in the order of SAM's outputs below."""
SAM_OUTPUT = {
    "energy": "year1_monthly_ec_charge_with_system",
    "demand": "year1_monthly_dc_tou_with_system",
    "flat_demand": "year1_monthly_dc_fixed_with_system",
    "fixed": "year1_monthly_fixed_with_system",
    "minimum": "year1_monthly_minimum_with_system",
}


@dataclass(frozen=True)
class Case:
    """One corpus tariff, the load it is billed on, and what meshmeter's reader says of it today."""

    file: str
    exercises: str
    load: str
    """``residential``, ``commercial`` or ``industrial`` (``_sam.load_kw``)."""
    peak_kw: float
    refused: str | None = None
    """The field the current reader refuses first (``TariffError.field``), or None when it reads the file."""
    export_pv_kw: float = 0.0
    """PV peak of the export variant; 0 for none."""
    seed: int = 13
    label: str | None = None
    sam_refuses: str | None = None
    """Part of SAM's error when SAM itself refuses the rate (then there is no SAM reference)."""

    @property
    def id(self) -> str:
        return self.file.removesuffix(".json")


CORPUS = [
    Case(
        "ladwp-a-3.json",
        "LADWP A-3: 6 TOU energy periods with adj, TOU demand (4 periods) + flat demand, $/month fixed; "
        "items wrapper; demandunits, dgrules, revisions, voltageminimum",
        "commercial",
        400,
        refused="revisions",
    ),
    Case(
        "coned-sc-9-zone-j.json",
        "Con Edison SC-9 Zone J: flat energy with adj, TOU demand (4 periods), seasonal flat demand "
        "(2 periods), $/month fixed; items, demandunits, dgrules, revisions",
        "commercial",
        600,
        refused="revisions",
    ),
    Case(
        "fpl-gsld-1.json",
        "FPL GSLD-1: flat energy, flat demand, $/month fixed, mincharge $6,833.67/month that binds on this "
        "load; demandunits, dgrules, revisions",
        "commercial",
        70,
        refused="revisions",
    ),
    Case(
        "pge-a-10.json",
        "PG&E A-10: 5 TOU energy periods, flat demand, $/day fixed; demandunits, dgrules, revisions",
        "commercial",
        150,
        refused="revisions",
    ),
    Case(
        "pge-bev-2-s.json",
        "PG&E BEV-2-S: 3 TOU energy periods, flat demand, $/month fixed; items, demandreactivepowercharge, "
        "energytoulabels, demandunits, revisions",
        "commercial",
        100,
        refused="revisions",
    ),
    Case(
        "sce-tou-8-d.json",
        "SCE TOU-8-D: 6 TOU energy periods with adj, TOU demand (3 periods) + flat, $/month fixed; items, "
        "demandreactivepowercharge, demandunits, revisions, voltagemaximum",
        "commercial",
        800,
        refused="revisions",
    ),
    Case(
        "jackson-emc-a-residential-senior.json",
        "Jackson EMC A residential: 3 tiers per month (650, 1000 kWh), 2 seasons, $/month fixed; items, "
        "dgrules Net Metering (export variant)",
        "residential",
        5,
        refused="dgrules",
        export_pv_kw=6,
    ),
    Case(
        "south-central-ppd-lp1.json",
        "South Central PPD LP1: energy tiers in kWh/kW (hours use), 2 seasons x 2 tiers, seasonal flat "
        "demand with 2 tiers; the file is a JSON string of an items response",
        "industrial",
        1500,
        refused="demandunits",
    ),
    Case(
        "reopt-jl-multi-tier.json",
        "REopt.jl multi-tier rate: periods with 1, 2 and 1 energy tiers, TOU demand with 1 and 2 tiers, "
        "$/day fixed",
        "commercial",
        300,
        refused="energyratestructure",
        sam_refuses="Tiers should have the same Max. Usage across Periods in the same month",
    ),
    Case(
        "entergy-arkansas-lps-tou.json",
        "Entergy Arkansas LPS-TOU: 4 TOU energy periods with adj, TOU demand (4 periods), "
        "fixedmonthlycharge, demandwindow 15, usenetmetering (export variant)",
        "industrial",
        2000,
        refused="revisions",
        export_pv_kw=1500,
    ),
    Case(
        "reopt-jl-net-billing-hourly.json",
        "REopt.jl sub-hourly rate: 7 energy periods with sell, TOU demand + seasonal flat demand, "
        "fixedmonthlycharge, minmonthlycharge 0, annualmincharge 0, dgrules Net Billing Hourly "
        "(export variant)",
        "commercial",
        300,
        refused="dgrules",
        export_pv_kw=250,
    ),
    Case(
        "sce-gs-2-tou-b.json",
        "SCE GS-2 TOU B: 5 TOU energy periods, TOU demand (3 periods) + flat, fixedmonthlycharge, "
        "energyattrs, demandattrs, peakkwcapacityhistory",
        "commercial",
        60,
        refused="demandattrs",
    ),
    Case(
        "pge-e-19-secondary.json",
        "PG&E E-19: 5 TOU energy periods, TOU demand (4 periods) + seasonal flat (2 periods), $/day fixed, "
        "energyattrs, demandattrs, demandunits, dgrules",
        "commercial",
        500,
        refused="demandattrs",
    ),
    Case(
        "psco-rd-residential-demand.json",
        "Xcel PSCo RD: residential flat energy with adj, seasonal flat demand (2 periods), $/month fixed; "
        "demandunits, dgrules, revisions",
        "residential",
        8,
        refused="revisions",
    ),
    Case(
        "peco-gs-ht.json",
        "PECO GS-HT: flat energy with sell, flat demand, fixedmonthlycharge, coincident demand "
        "(coincidentratestructure/-unit/-schedule), demandattrs (export variant)",
        "industrial",
        3000,
        refused="coincidentrateunit",
        export_pv_kw=2500,
    ),
    Case(
        "fpl-rs-1.json",
        "FPL RS-1 residential: 2 tiers (1000 kWh/month) with adj, fixedmonthlycharge",
        "residential",
        5,
        refused="fixedmonthlycharge",
    ),
]
"""The corpus: at least ten real URDB tariffs (``tests/data/urdb/SOURCES.md``), each with its load."""

EXPORT_CASES = [c for c in CORPUS if c.export_pv_kw]


# -----------------------------------------------------------------------------------------------------
# The two sides
# -----------------------------------------------------------------------------------------------------

Monthly = dict[str, list[float]]
"""Charges by kind (``KINDS``), twelve months each. [USD]"""


def _load_wh(case: Case, *, export: bool = False) -> np.ndarray:
    """The case's year of interval energy, whole Wh (net of PV in the export variant: may be negative)."""
    load = _sam.to_wh(_sam.load_kw(case.load, case.peak_kw, case.seed))
    if export:
        return load - _sam.to_wh(_sam.pv_kw(case.export_pv_kw, case.seed + 1))
    return load


def sam_monthly(document: dict[str, Any], case: Case, *, export: bool = False) -> Monthly:
    """SAM's monthly charges for ``document`` on the case's load (SAM gets load and PV apart)."""
    load = _sam.from_wh(_sam.to_wh(_sam.load_kw(case.load, case.peak_kw, case.seed)))
    gen = _sam.from_wh(_sam.to_wh(_sam.pv_kw(case.export_pv_kw, case.seed + 1))) if export else None
    bill = _sam.run_sam(_sam.sam_rates(document), load, gen)
    return {
        "energy": list(bill.energy),
        "demand": list(bill.demand_tou),
        "flat_demand": list(bill.demand_flat),
        "fixed": list(bill.fixed),
        "minimum": list(bill.minimum),
    }


def meshmeter_monthly(tariff: Tariff, energy_wh: np.ndarray) -> Monthly:
    """meshmeter's bill of each calendar month of 2029, its lines summed by kind."""
    ends = _sam.interval_ends()
    out: Monthly = {kind: [] for kind in KINDS}
    for month in range(1, 13):
        bill = bill_meter(
            tariff,
            ends,
            energy_wh,
            start=_sam.month_start(month),
            end=_sam.month_start(month + 1),
            timezone=_sam.TIMEZONE,
            interval_s=_sam.INTERVAL_S,
        )
        sums = dict.fromkeys(KINDS, Decimal(0))
        for line in bill.lines:
            if line.kind not in sums:
                raise AssertionError(f"month {month}: a line of kind {line.kind!r} SAM has no output for")
            sums[line.kind] += line.amount
        for kind in KINDS:
            out[kind].append(float(sums[kind]))
    return out


def expected_from_sam(document: dict[str, Any], sam: Monthly) -> Monthly:
    """
    SAM's charges, but the ``$/day`` fixed charge as a utility bills it: rate × days in the month.

    Asserts first that SAM's own figure is PySAM's convention, rate × 365/12 (module docstring).
    """
    expected = {kind: list(values) for kind, values in sam.items()}
    if document.get("fixedchargeunits") == "$/day" and "fixedchargefirstmeter" in document:
        rate = float(document["fixedchargefirstmeter"])
        for m, sam_fixed in enumerate(sam["fixed"]):
            assert math.isclose(sam_fixed, _sam.sam_fixed_per_day_month(rate), abs_tol=1e-6), (m, sam_fixed)
        expected["fixed"] = [rate * days for days in _sam.days_in_months()]
    return expected


def mismatches(expected: Monthly, actual: Monthly) -> list[str]:
    """Every (month, kind) more than a cent apart, as text (``"2029-07 demand: SAM 123.45, meshmeter …"``)."""
    out = []
    for kind in KINDS:
        for m in range(12):
            if _sam.cents_apart(expected[kind][m], actual[kind][m]):
                out.append(
                    f"{_sam.YEAR}-{m + 1:02d} {kind}: SAM {expected[kind][m]:.4f}, "
                    f"meshmeter {actual[kind][m]:.4f} (Δ {actual[kind][m] - expected[kind][m]:+.4f})"
                )
    return out


def _read_as_published(case: Case) -> Tariff:
    """
    ``load_tariff`` on the file; a file that stores the API's response as a JSON string (PySAM's
    ``urdb_rate_539f…json``) is given the response text inside it, which is what the API published.
    """
    path = _sam.CORPUS / case.file
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, str):
        return load_tariff(data)
    return load_tariff(path)


def _expect_refusal(case: Case, read: Callable[[], Tariff]) -> Tariff:
    """Read the tariff; when the case says the reader refuses it, check the refusal names that field."""
    try:
        tariff = read()
    except TariffError as exc:
        if case.refused is None or exc.field.split("[")[0].split(".")[0] != case.refused:
            raise AssertionError(
                f"{case.file}: refused on {exc.field!r} ({exc}); the corpus table says {case.refused!r}"
            ) from exc
        raise
    return tariff


def _sam_reference(document: dict[str, Any], case: Case, *, export: bool = False) -> Monthly | None:
    """SAM's charges (``expected_from_sam``), or None after checking SAM refuses the rate as the case says."""
    if case.sam_refuses is None:
        return expected_from_sam(document, sam_monthly(document, case, export=export))
    with pytest.raises(Exception, match=case.sam_refuses):
        sam_monthly(document, case, export=export)
    return None


def _compare(case: Case, sam: Monthly | None, mine: Monthly, what: str) -> None:
    if sam is None:
        raise AssertionError(
            f"{case.file} ({what}): meshmeter reads it now, but SAM refuses the rate ({case.sam_refuses!r}),"
            " so there is no SAM reference: check these months by hand and write them here"
        )
    problems = mismatches(sam, mine)
    assert not problems, f"{case.file} ({what}):\n" + "\n".join(problems)


def _marks(case: Case) -> list[pytest.MarkDecorator]:
    if case.refused is None:
        return []
    return [
        pytest.mark.xfail(
            strict=True,
            raises=TariffError,
            reason=f"meshmeter's reader refuses the document as published on {case.refused!r}",
        )
    ]


# -----------------------------------------------------------------------------------------------------
# The comparison, on the documents as published
# -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=_marks(c)) for c in CORPUS])
def test_monthly_charges_match_sam(case: Case) -> None:
    """Each month's energy, demand, flat demand, fixed and minimum charges within a cent of SAM's."""
    document = _sam.read_document(case.file, case.label)
    sam = _sam_reference(document, case)
    tariff = _expect_refusal(case, lambda: _read_as_published(case))
    _compare(case, sam, meshmeter_monthly(tariff, _load_wh(case)), "as published")


def _export_marks(case: Case) -> list[pytest.MarkDecorator]:
    return [
        pytest.mark.xfail(
            strict=True,
            raises=(TariffError, ValueError),
            reason=f"meshmeter reads no export yet: the document ({case.refused!r} first) and negative "
            "interval energy",
        )
    ]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=_export_marks(c)) for c in EXPORT_CASES])
def test_monthly_charges_with_export_match_sam(case: Case) -> None:
    """
    The net-metering and net-billing tariffs with PV exporting at midday: meshmeter given the signed net
    interval energy (load − PV, whole Wh), SAM the load and PV apart, with the document's ``dgrules``
    (absent: net metering, SAM's default).
    """
    document = _sam.read_document(case.file, case.label)
    sam = _sam_reference(document, case, export=True)
    tariff = _expect_refusal(case, lambda: _read_as_published(case))
    _compare(case, sam, meshmeter_monthly(tariff, _load_wh(case, export=True)), "with export")


def test_corpus_has_ten_real_tariffs_and_every_file_is_tested() -> None:
    files = sorted(p.name for p in _sam.CORPUS.glob("*.json"))
    assert sorted(c.file for c in CORPUS) == files
    named = [c for c in CORPUS if _sam.read_document(c.file, c.label).get("label")]
    assert len(named) >= 10  # real URDB rates carry their URDB label
    sources = (_sam.CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in sources for name in files)


# -----------------------------------------------------------------------------------------------------
# The calendar, and a comparison that can fail
# -----------------------------------------------------------------------------------------------------


def test_sam_year_starts_on_monday_as_2029() -> None:
    """
    2029 starts on a Monday, and so does SAM's year: with $1/kWh on weekdays, $0 at weekends and 1 kW all
    the time, SAM's January energy charge is 24 × the weekdays of January 2029 (23: Mondays 1 January
    on), and each month's is 24 × its weekdays in 2029; meshmeter's grid starts at local midnight of that
    Monday.
    """
    assert date(2029, 1, 1).weekday() == 0
    start_local = _sam.year_start().astimezone(ZoneInfo(_sam.TIMEZONE))
    assert (start_local.year, start_local.month, start_local.day, start_local.hour) == (2029, 1, 1, 0)
    assert start_local.weekday() == 0
    assert int(_sam.interval_ends()[0]) == int(_sam.year_start().timestamp()) + 900
    ones = [[0] * 24 for _ in range(12)]
    document = {
        "energyratestructure": [[{"rate": 1.0}], [{"rate": 0.0}]],
        "energyweekdayschedule": ones,
        "energyweekendschedule": [[1] * 24 for _ in range(12)],
    }
    sam = _sam.run_sam(_sam.sam_rates(document), np.ones(_sam.STEPS))
    weekdays = []
    for month in range(1, 13):
        days = _sam.days_in_months()[month - 1]
        weekdays.append(sum(date(2029, month, d).weekday() < 5 for d in range(1, days + 1)))
    assert weekdays[0] == 23
    assert [round(x, 6) for x in sam.energy] == [24.0 * w for w in weekdays]
    tariff = parse_tariff(document)
    mine = meshmeter_monthly(tariff, np.full(_sam.STEPS, 250, dtype=np.int64))
    assert mine["energy"] == [24.0 * w for w in weekdays]


def test_a_cent_per_kwh_more_is_caught() -> None:
    """The comparison can fail: SAM billed at one period's rate + $0.01/kWh is more than a cent apart."""
    case = next(c for c in CORPUS if c.file == "ladwp-a-3.json")
    document = _readable_today(_sam.read_document(case.file))
    tariff = parse_tariff(document)
    mine = meshmeter_monthly(tariff, _load_wh(case))
    assert not mismatches(expected_from_sam(document, sam_monthly(document, case)), mine)
    perturbed = copy.deepcopy(document)
    perturbed["energyratestructure"][0][0]["rate"] += 0.01
    problems = mismatches(expected_from_sam(perturbed, sam_monthly(perturbed, case)), mine)
    assert problems
    assert all(" energy:" in p for p in problems)


# =====================================================================================================
# Arithmetic today: the current reader, with only the descriptive fields it refuses dropped
# =====================================================================================================

DESCRIPTIVE = frozenset(
    {
        "revisions",
        "voltageminimum",
        "voltagemaximum",
        "energytoulabels",
        "demandtoulabels",
        "peakkwcapacityhistory",
        "energyattrs",
        "demandattrs",
    }
)
"""Text or bookkeeping: no effect on SAM's bill or on the utility's arithmetic."""

MOOT_HERE = frozenset(
    {
        "dgrules",  # net metering / billing rules: no export in the import-only comparison
        "usenetmetering",  # ditto
        "demandreactivepowercharge",  # $/kvar: SAM bills no reactive power either (it has no kvar)
        "coincidentratestructure",  # coincident demand: SAM ignores it too (PySAM's conversion drops it)
        "coincidentrateunit",
        "coincidentschedule",
        "coincidentrateschedule",
    }
)
"""Fields with billing meaning that neither side bills in this comparison (say why per field)."""


def _readable_today(doc: dict[str, Any]) -> dict[str, Any]:
    """
    The document with only what the current reader refuses and this comparison does not need removed.

    - ``DESCRIPTIVE`` fields and ``MOOT_HERE`` fields are dropped, and ``demandunits`` when it is ``kW``;
    - a tier's ``sell`` is dropped (no export here);
    - ``demandwindow`` is dropped only when it is 15 minutes, the meter's interval (both sides then bill
      15-minute demand);
    - ``fixedmonthlycharge`` becomes ``fixedchargefirstmeter`` in ``$/month`` and ``minmonthlycharge``
      becomes ``mincharge`` in ``$/month`` (the same meaning), when the document has not the other;
    - ``annualmincharge`` is dropped only when it is 0.

    Anything else the reader refuses (tier units, tier counts) is left, so the refusal shows.
    """
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in DESCRIPTIVE or key in MOOT_HERE:
            continue
        if key == "demandunits" and value == "kW":
            continue
        if key == "demandwindow" and value == 15:
            continue
        if key == "annualmincharge" and value == 0:
            continue
        if key == "fixedmonthlycharge" and "fixedchargefirstmeter" not in doc:
            out["fixedchargefirstmeter"] = value
            out["fixedchargeunits"] = "$/month"
            continue
        if key == "minmonthlycharge" and "mincharge" not in doc:
            if value:
                out["mincharge"] = value
                out["minchargeunits"] = "$/month"
            continue
        if key == "energyratestructure":
            value = [[{k: v for k, v in tier.items() if k != "sell"} for tier in period] for period in value]
        out[key] = value
    return out


STILL_REFUSED = {
    "south-central-ppd-lp1.json": "energyratestructure[0][0].unit",  # kWh/kW: energy tiers by hours use
    "reopt-jl-multi-tier.json": "energyratestructure",  # 1, 2 and 1 tiers in its periods
}
"""Documents whose refusal is not descriptive: the arithmetic itself is missing."""


def _today_marks(case: Case) -> list[pytest.MarkDecorator]:
    if case.file not in STILL_REFUSED:
        return []
    return [
        pytest.mark.xfail(
            strict=True,
            raises=TariffError,
            reason=f"not descriptive: the reader refuses {STILL_REFUSED[case.file]!r}",
        )
    ]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=_today_marks(c)) for c in CORPUS])
def test_arithmetic_today_matches_sam(case: Case) -> None:
    """The current engine's arithmetic on ``_readable_today(document)`` within a cent of SAM's, monthly."""
    document = _readable_today(_sam.read_document(case.file, case.label))
    sam = _sam_reference(document, case)
    try:
        tariff = parse_tariff(document)
    except TariffError as exc:
        if STILL_REFUSED.get(case.file) != exc.field:
            raise AssertionError(f"{case.file}: refused on {exc.field!r}: {exc}") from exc
        raise
    _compare(case, sam, meshmeter_monthly(tariff, _load_wh(case)), "readable today")
