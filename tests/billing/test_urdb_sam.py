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

SAM itself refuses some corpus rates (``Case.sam_refuses``), and its test checks the refusal; once
meshmeter reads such a rate the test fails asking for hand-checked figures (there is no SAM reference):

- ``reopt-jl-multi-tier.json`` and ``tep-tgsgsdt.json``: SAM requires every period used in a month to have
  the same tier limits ("Tiers should have the same Max. Usage across Periods in the same month"), and
  they have 1- and 2-tier periods side by side (energy tiers in the first, demand tiers in TEP's);
- ``doniphan-gsl-90.json`` (a ``lookbackpercent`` ratchet): see "Demand ratchets" below;
- ``aps-residential-lookup.json``: an API response of 32 rates without their rate structure (the API's
  minimal detail), there is nothing to bill; the rate chosen by its label is ``aps-et-2.json``'s.

Demand ratchets: SAM is no reference for them.

- ``demandratchetpercentage`` (URDB's older ratchet field, ``wallingford-primary-northford.json``): PySAM's
  conversion does not read it, so SAM bills each month's own peak (``Case.sam_ignores``: SAM runs, but its
  figures are not the tariff's; ``test_sam_ignores_demandratchetpercentage``).
- ``lookbackpercent`` / ``lookbackmonths`` / ``lookbackrange`` (``doniphan-gsl-90.json``: 80 % of the
  highest July–September demand): PySAM's conversion turns on SAM's billing demand but (1) puts the
  percentage in all twelve months whatever ``lookbackmonths`` says (its twelve rows are one list),
  (2) takes ``lookbackrange`` 0 as a lookback period of 0 months and never lets the month's actual peak
  count, and (3) leaves out ``ur_yearzero_usage_peaks``, which SAM then requires. As converted SAM refuses
  the rate; given the year-zero peaks it bills 80 % of each month's own peak, less than no ratchet at all
  (``test_sam_misreads_lookbackpercent``).

A ``demandwindow`` other than the meter's 15 minutes (``tep-tgsgsdt.json``: 60) has no SAM counterpart
either: SAM's demand is the mean of its own time step.

Export variants (PV exporting at midday, for the net-metering and net-billing rates), billed as a year of
monthly bills chained by the credit each carries to the next:

- meshmeter is given the two registers of a bidirectional meter, import and export, whole Wh a quarter hour
  (``registers``: load and PV are steady within a quarter hour, so one register advances, by the net); SAM
  the load and the PV apart, in kW from the same Wh.
- SAM takes ``dgrules`` through PySAM's conversion: "Net Metering" (and no ``dgrules``) →
  ``ur_metering_option`` 0, net metering with kWh credit carried month to month per period (into the
  period of the same time of day) and a true-up; "Net Billing Instantaneous" → 2; "Net Billing Hourly" →
  3, net billing whose dollar credit left after a month's energy charges is carried to the next month. The
  true-up is December (``ur_nm_credit_month`` 11), paid (``ur_nm_credit_rollover`` 0) at
  ``TRUE_UP_RATE`` $/kWh for net metering (``ur_nm_yearend_sell_rate``, an operator's figure: URDB has
  none). SAM keeps a month's net billing credits for the next month unless
  ``ur_nb_apply_credit_current_month`` is set; it is set, as a bill offsets its own charges first.
- "Net Billing Hourly" nets within each clock hour, which SAM does only at its time step: SAM's energy
  charges and true-up for it come from SAM run on hourly steps (each hour the sum of its quarter hours),
  its demand charges from the quarter hours.
- SAM's net metering true-up pays its kWh bank netted over all of a month's periods
  (``year1_monthly_cumulative_excess_generation``); meshmeter pays the credit left in each period, what
  its bills showed as carried (SAM's December ``surplus_w_sys_ec_dec_tp``). They are the same when
  December has one period (Jackson EMC: checked against SAM's true-up to the cent); on a time-of-use rate
  SAM's is smaller (APS ET-2), and the test checks meshmeter's against SAM's per-period surplus instead.

Nothing is skipped: a tariff meshmeter cannot read yet is an expected failure, ``xfail(strict=True,
raises=TariffError)``, whose reason names the field the reader refuses **first** (the test also checks the
refusal names that field, so the table stays true). When the URDB reader that reads documents as
published lands, those tests XPASS, which strict xfail turns into failures: remove the marks then. A
mismatch of the arithmetic is an ``AssertionError``, never an expected failure.

The second part of the module ("Arithmetic today", below the line) checks the arithmetic the current
engine already has, on each document with only the descriptive fields the current reader refuses dropped
(``_readable_today``).

Run: ``python -m pytest tests/billing/test_urdb_sam.py -n 0 -q`` (about 5 s).
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from meshmeter.billing import Bill, Tariff, bill_meter, load_tariff, parse_tariff, verify_bill
from meshmeter.errors import TariffError
from tests.billing import _sam

KINDS = ("energy", "demand", "flat_demand", "fixed", "minimum")
NO_SAM_OUTPUT = frozenset({"coincident"})
"""Line kinds SAM bills nothing for (it ignores coincident demand): left out of the comparison."""
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
    sam_ignores: str | None = None
    """What of the rate SAM runs without billing (then its figures are no reference for the rate)."""

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
        refused=None,
    ),
    Case(
        "coned-sc-9-zone-j.json",
        "Con Edison SC-9 Zone J: flat energy with adj, TOU demand (4 periods), seasonal flat demand "
        "(2 periods), $/month fixed; items, demandunits, dgrules, revisions",
        "commercial",
        600,
        refused=None,
    ),
    Case(
        "fpl-gsld-1.json",
        "FPL GSLD-1: flat energy, flat demand, $/month fixed, mincharge $6,833.67/month that binds on this "
        "load; demandunits, dgrules, revisions",
        "commercial",
        70,
        refused=None,
    ),
    Case(
        "pge-a-10.json",
        "PG&E A-10: 5 TOU energy periods, flat demand, $/day fixed; demandunits, dgrules, revisions",
        "commercial",
        150,
        refused=None,
    ),
    Case(
        "pge-bev-2-s.json",
        "PG&E BEV-2-S: 3 TOU energy periods, flat demand, $/month fixed; items, demandreactivepowercharge, "
        "energytoulabels, demandunits, revisions",
        "commercial",
        100,
        refused="demandreactivepowercharge",
    ),
    Case(
        "sce-tou-8-d.json",
        "SCE TOU-8-D: 6 TOU energy periods with adj, TOU demand (3 periods) + flat, $/month fixed; items, "
        "demandreactivepowercharge, demandunits, revisions, voltagemaximum",
        "commercial",
        800,
        refused="demandreactivepowercharge",
    ),
    Case(
        "jackson-emc-a-residential-senior.json",
        "Jackson EMC A residential: 3 tiers per month (650, 1000 kWh), 2 seasons, $/month fixed; items, "
        "dgrules Net Metering (export variant)",
        "residential",
        5,
        refused=None,
        export_pv_kw=6,
    ),
    Case(
        "south-central-ppd-lp1.json",
        "South Central PPD LP1: energy tiers in kWh/kW (hours use), 2 seasons x 2 tiers, seasonal flat "
        "demand with 2 tiers; the file is a JSON string of an items response",
        "industrial",
        1500,
        refused="energyratestructure",
    ),
    Case(
        "reopt-jl-multi-tier.json",
        "REopt.jl multi-tier rate: periods with 1, 2 and 1 energy tiers, TOU demand with 1 and 2 tiers, "
        "$/day fixed",
        "commercial",
        300,
        refused=None,
        sam_refuses="Tiers should have the same Max. Usage across Periods in the same month",
    ),
    Case(
        "entergy-arkansas-lps-tou.json",
        "Entergy Arkansas LPS-TOU: 4 TOU energy periods with adj, TOU demand (4 periods), "
        "fixedmonthlycharge, demandwindow 15, usenetmetering (export variant)",
        "industrial",
        2000,
        refused=None,
        export_pv_kw=1500,
    ),
    Case(
        "reopt-jl-net-billing-hourly.json",
        "REopt.jl sub-hourly rate: 7 energy periods with sell, TOU demand + seasonal flat demand, "
        "fixedmonthlycharge, minmonthlycharge 0, annualmincharge 0, dgrules Net Billing Hourly "
        "(export variant)",
        "commercial",
        300,
        refused=None,
        export_pv_kw=250,
    ),
    Case(
        "sce-gs-2-tou-b.json",
        "SCE GS-2 TOU B: 5 TOU energy periods, TOU demand (3 periods) + flat, fixedmonthlycharge, "
        "energyattrs, demandattrs, peakkwcapacityhistory",
        "commercial",
        60,
        refused=None,
    ),
    Case(
        "pge-e-19-secondary.json",
        "PG&E E-19: 5 TOU energy periods, TOU demand (4 periods) + seasonal flat (2 periods), $/day fixed, "
        "energyattrs, demandattrs, demandunits, dgrules",
        "commercial",
        500,
        refused=None,
    ),
    Case(
        "psco-rd-residential-demand.json",
        "Xcel PSCo RD: residential flat energy with adj, seasonal flat demand (2 periods), $/month fixed; "
        "demandunits, dgrules, revisions",
        "residential",
        8,
        refused=None,
    ),
    Case(
        "peco-gs-ht.json",
        "PECO GS-HT: flat energy with sell, flat demand, fixedmonthlycharge, coincident demand "
        "(coincidentratestructure/-unit/-schedule), demandattrs (export variant)",
        "industrial",
        3000,
        refused=None,
        export_pv_kw=2500,
    ),
    Case(
        "fpl-rs-1.json",
        "FPL RS-1 residential: 2 tiers (1000 kWh/month) with adj, fixedmonthlycharge",
        "residential",
        5,
        refused=None,
    ),
    Case(
        "santa-clara-d-1-tou.json",
        "Silicon Valley Power (Santa Clara) D-1 TOU: residential time of use WITH energy tiers, 3 periods "
        "(weekday off-peak and peak, weekend) x 2 tiers (300 kWh/month) with adj and sell, $/month fixed; "
        "items, demandunits, revisions, enddate",
        "residential",
        6,
        refused=None,
    ),
    Case(
        "tep-tgsgsdt.json",
        "Tucson Electric Power TGSGSDT: demandwindow 60, TOU demand with 2 tiers (7 kW) on peak and 1 off "
        "peak, 4 TOU energy periods with adj and sell, $/month fixed, dgrules Net Billing Instantaneous; "
        "items, demandunits, peakkwcapacitymax, revisions",
        "commercial",
        30,
        refused=None,
        sam_refuses="Tiers should have the same Max. Usage across Periods in the same month",
    ),
    Case(
        "pge-e-1-region-t.json",
        "PG&E E-1 Region T: baseline tiers in kWh daily (6.8/27.2 and 8.2/32.8 kWh a day, 3 tiers), "
        "2 seasons, mincharge $10/month; items, dgrules, revisions, supersedes, is_default",
        "residential",
        5,
        refused=None,
    ),
    Case(
        "sdge-dr-coastal.json",
        "SDG&E DR coastal baseline: 4 tiers in kWh daily (9.6/12.48/19.2 kWh a day in one season) with adj, "
        "2 seasons, no fixed charge; items, demandunits, revisions, enddate",
        "residential",
        5,
        refused=None,
    ),
    Case(
        "aps-et-2.json",
        "APS ET-2 Time Advantage 7PM-Noon: residential TOU, 4 energy periods (2 seasons x on/off peak) "
        "with adj, $/month fixed; items, dgrules Net Metering (export variant), revisions, "
        "basicinformationcomments, an enddate before its startdate",
        "residential",
        6,
        refused=None,
        export_pv_kw=6,
    ),
    Case(
        "aps-residential-lookup.json",
        "APS residential rates: an API response holding 32 rates (minimal detail: no rate structure), 3 of "
        "them named 'Residential Service TOU Time Advantage 7PM-Noon (ET-2)'; the rate is chosen by label "
        "(aps-et-2.json's)",
        "residential",
        6,
        refused="energyratestructure",
        label="574613aa5457a3557e906f5b",
        sam_refuses="ur_ec_sched_weekday not assigned",
    ),
    Case(
        "doniphan-gsl-90.json",
        "Doniphan Electric Coop GSL-90: demand ratchet lookbackpercent 0.8 of the July-September peak "
        "(lookbackmonths), lookbackrange 0; flat energy, flat demand $15/kW, $/month fixed; items, "
        "demandunits, peakkwcapacitymin",
        "industrial",
        300,
        refused=None,
        sam_refuses="ur_yearzero_usage_peaks",
    ),
    Case(
        "wallingford-primary-northford.json",
        "Wallingford (CT) Primary Service - Northford: legacy demandratchetpercentage 35% in every month, "
        "seasonal flat energy with adj, seasonal flat demand (2 periods), fixedmonthlycharge $275; "
        "demandreactivepowercharge, peakkwcapacitymin, revisions, approved as the string 'True'",
        "industrial",
        800,
        refused="demandreactivepowercharge",
        sam_ignores="demandratchetpercentage (PySAM's conversion does not read it)",
    ),
]
"""The corpus: at least ten real URDB tariffs (``tests/data/urdb/SOURCES.md``), each with its load."""

EXPORT_CASES = [c for c in CORPUS if c.export_pv_kw]


# -----------------------------------------------------------------------------------------------------
# The two sides
# -----------------------------------------------------------------------------------------------------

Monthly = dict[str, list[float]]
"""Charges by kind (``KINDS``, and ``"true_up"``: the true-up payment, negative), twelve months each. [USD]"""

TRUE_UP_RATE = 0.03
"""The operator's price of a kWh of net-metering credit left at the true-up in December (SAM's
``ur_nm_yearend_sell_rate``; URDB has no such field): a net surplus compensation rate. [USD/kWh]"""

LINE_KIND = {"export": "energy"}
"""meshmeter's export lines (credits, and the notes of credit carried) go with the energy charges, as SAM's
energy charge is net of the export credits."""


def _load_wh(case: Case) -> np.ndarray:
    """The case's year of interval energy, whole Wh."""
    return _sam.to_wh(_sam.load_kw(case.load, case.peak_kw, case.seed))


def _pv_wh(case: Case, pv_kw: float | None = None) -> np.ndarray:
    """The export variant's PV output, whole Wh a quarter hour (peak ``pv_kw``, default the case's)."""
    return _sam.to_wh(_sam.pv_kw(case.export_pv_kw if pv_kw is None else pv_kw, case.seed + 1))


def registers(load_wh: np.ndarray, pv_wh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """
    The import and export registers of a bidirectional meter behind the load and the PV, per quarter hour:
    the load and PV are steady within each quarter hour, so the power flows one way in it and only one
    register advances, by the net energy. [Wh]
    """
    net = load_wh - pv_wh
    return np.maximum(net, 0), np.maximum(-net, 0)


def sam_year(
    document: dict[str, Any], case: Case, *, export: bool = False, pv_kw: float | None = None
) -> _sam.SamBill:
    """
    SAM's year for ``document`` on the case's load (SAM gets load and PV apart, kW from the same Wh).

    With export: the metering option of PySAM's conversion of ``dgrules``, the true-up in December at
    :data:`TRUE_UP_RATE`, and net billing's credits offsetting the month's own energy charges first
    (``ur_nb_apply_credit_current_month``, as a bill does). "Net Billing Hourly" nets import and export
    within each clock hour, which SAM does at its time step: its energy charges and true-up are SAM's on
    the hourly steps (the quarter hours summed), its demand charges SAM's on the quarter hours.
    """
    load_wh = _load_wh(case)
    rates = _sam.sam_rates(document)
    if not export:
        return _sam.run_sam(rates, _sam.from_wh(load_wh))
    pv_wh = _pv_wh(case, pv_kw)
    options: dict[str, Any] = {"yearend_sell_rate": TRUE_UP_RATE, "credit_in_month": True}
    bill = _sam.run_sam(rates, _sam.from_wh(load_wh), _sam.from_wh(pv_wh), **options)
    if str(document.get("dgrules", "")).lower() == "net billing hourly":
        hourly = [np.asarray(x.reshape(-1, 4).sum(axis=1), dtype=np.float64) / 1000 for x in (load_wh, pv_wh)]
        by_hour = _sam.run_sam(rates, hourly[0], hourly[1], **options)
        bill = replace(bill, energy=by_hour.energy, true_up=by_hour.true_up)
    return bill


def to_monthly(bill: _sam.SamBill) -> Monthly:
    """SAM's monthly charges by meshmeter's kinds; the true-up as a payment (negative)."""
    return {
        "energy": list(bill.energy),
        "demand": list(bill.demand_tou),
        "flat_demand": list(bill.demand_flat),
        "fixed": list(bill.fixed),
        "minimum": list(bill.minimum),
        "true_up": [-x for x in bill.true_up],
    }


def sam_monthly(document: dict[str, Any], case: Case, *, export: bool = False) -> Monthly:
    """SAM's monthly charges for ``document`` on the case's load (:func:`sam_year`)."""
    return to_monthly(sam_year(document, case, export=export))


def meshmeter_monthly(
    tariff: Tariff,
    energy_wh: np.ndarray,
    export_wh: np.ndarray | None = None,
    *,
    bills: list[Bill] | None = None,
) -> Monthly:
    """
    meshmeter's bill of each calendar month of 2029, its lines summed by kind (:data:`LINE_KIND`).

    With ``export_wh`` the months are chained as a meter's bills are: January carries no credit in (zeros
    per period for net metering, $0 for net billing), each month takes the previous bill's credit out, and
    December is the true-up bill (net metering's kWh left at :data:`TRUE_UP_RATE`). ``bills`` collects the
    bills.
    """
    ends = _sam.interval_ends()
    out: Monthly = {kind: [] for kind in (*KINDS, "true_up")}
    chained = export_wh is not None
    netting = tariff.export_rule == "net metering"
    credit_wh: list[int] | None = [0] * len(tariff.energy_tiers) if chained and netting else None
    credit: Decimal | None = Decimal(0) if chained and not netting else None
    for month in range(1, 13):
        with warnings.catch_warnings():
            # Billed month by month with no history: a ratchet looks only at the bill's own months (said).
            warnings.filterwarnings("ignore", message=".*prior_peaks_kw was not given")
            bill = bill_meter(
                tariff,
                ends,
                energy_wh,
                start=_sam.month_start(month),
                end=_sam.month_start(month + 1),
                timezone=_sam.TIMEZONE,
                interval_s=_sam.INTERVAL_S,
                export_wh=export_wh,
                credit_in_wh=credit_wh,
                credit_in=credit,
                true_up=chained and month == 12,
                true_up_sell_rate=Decimal(str(TRUE_UP_RATE)) if credit_wh is not None else None,
            )
        if bills is not None:
            bills.append(bill)
        credit_wh = None if bill.credit_out_wh is None else list(bill.credit_out_wh)
        credit = bill.credit_out
        sums = dict.fromkeys(out, Decimal(0))
        for line in bill.lines:
            kind = LINE_KIND.get(line.kind, line.kind)
            if kind in NO_SAM_OUTPUT:
                continue
            if kind not in sums:
                raise AssertionError(f"month {month}: a line of kind {line.kind!r} SAM has no output for")
            sums[kind] += line.amount
        for kind in out:
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

    A response holding several rates is read with ``label=case.label`` once ``load_tariff`` takes a label;
    a reader without one is given the whole response (and must refuse it on ``items``).
    """
    path = _sam.CORPUS / case.file
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, str):
        return load_tariff(data)
    if case.label is not None and "label" in inspect.signature(load_tariff).parameters:
        read: Callable[..., Tariff] = load_tariff
        return read(path, label=case.label)
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
    """
    SAM's charges (``expected_from_sam``), or None after checking SAM refuses the rate as the case says,
    or after running SAM on a rate it bills without part of it (``case.sam_ignores``).
    """
    if case.sam_refuses is not None:
        with pytest.raises(Exception, match=case.sam_refuses):
            sam_monthly(document, case, export=export)
        return None
    sam = expected_from_sam(document, sam_monthly(document, case, export=export))
    return None if case.sam_ignores is not None else sam


def _compare(case: Case, sam: Monthly | None, mine: Monthly, what: str) -> None:
    if sam is None:
        # No SAM reference (SAM refuses the rate, or bills it without a part of it): meshmeter must bill
        # every month; the rules SAM lacks are checked on months worked by hand in test_engine_tariffs.py
        # (periods with their own tier limits, demand windows, ratchets).
        totals = [sum(mine[kind][m] for kind in KINDS) for m in range(12)]
        assert all(t > 0 for t in totals), f"{case.file} ({what}): a month billed nothing: {totals}"
        return
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


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in EXPORT_CASES])
def test_monthly_charges_with_export_match_sam(case: Case) -> None:
    """
    The net-metering and net-billing tariffs with PV exporting at midday, a year of monthly bills chained
    by their credit carried over: meshmeter given the meter's two registers (import and export, whole Wh
    a quarter hour), SAM the load and PV apart, with the document's ``dgrules`` (absent: net metering).

    Each month's charges within a cent of SAM's; with net metering, each month's kWh carried out of each
    period is SAM's net excess of that period (``surplus_w_sys_ec_<mon>_tp``), and December's true-up pays
    what is left at :data:`TRUE_UP_RATE`; with net billing, the true-up is SAM's dollar payment.
    """
    document = _sam.read_document(case.file, case.label)
    tariff = _expect_refusal(case, lambda: _read_as_published(case))
    sam = sam_year(document, case, export=True)
    bills: list[Bill] = []
    mine = meshmeter_monthly(tariff, *registers(_load_wh(case), _pv_wh(case)), bills=bills)
    _compare(case, expected_from_sam(document, to_monthly(sam)), mine, "with export")
    december = bills[-1]
    if tariff.export_rule == "net metering":
        for month, bill in enumerate(bills[:-1], start=1):
            assert bill.credit_out_wh is not None
            got = {p: wh / 1000 for p, wh in enumerate(bill.credit_out_wh) if wh}
            want = {p: kwh for p, kwh in sam.surplus_kwh[month - 1].items() if kwh > 1e-9}
            assert got.keys() == want.keys(), (month, got, want)
            assert all(math.isclose(got[p], want[p], abs_tol=1e-6) for p in got), (month, got, want)
        # December settles the kWh left in each period (SAM's December surplus), at the true-up rate.
        left_kwh = sum(sam.surplus_kwh[11].values())
        assert december.credit_out_wh == (0,) * len(tariff.energy_tiers)
        assert not _sam.cents_apart(mine["true_up"][11], -TRUE_UP_RATE * left_kwh)
        # SAM pays its bank netted over the month's periods (year1_monthly_cumulative_excess_generation):
        # the same kWh when December has one period, fewer when a period's use netted another's credit,
        # which meshmeter had already billed that use at its rate.
        assert math.isclose(sam.true_up[11], TRUE_UP_RATE * sam.bank_kwh[11], rel_tol=1e-9, abs_tol=1e-9)
        if len(tariff.periods_in_month(12)) == 1:
            assert not _sam.cents_apart(mine["true_up"][11], -sam.true_up[11])
        else:
            assert sam.bank_kwh[11] <= left_kwh + 1e-6
    else:
        assert december.credit_out == 0
        assert not _sam.cents_apart(mine["true_up"][11], -sam.true_up[11])
    assert all(t == 0 for t in mine["true_up"][:11])
    # The year's last bill, its credit carried in and its true-up, is re-made from its own inputs.
    verify_bill(december.to_dict())


@pytest.mark.parametrize("pv_kw", [500, 700])
def test_net_billing_dollar_credit_carried_matches_sam(pv_kw: float) -> None:
    """
    REopt's "Net Billing Hourly" rate with PV large enough that a month's export credits exceed its energy
    charges (from March at 500 kW, February at 700 kW): the credit left is carried to the next bill in
    dollars and the true-up pays what is left in December, as SAM's ``ur_metering_option`` 3 does. Every
    month within a cent of SAM's (hourly steps for the energy charges, module docstring), the true-up too.
    """
    case = next(c for c in CORPUS if c.file == "reopt-jl-net-billing-hourly.json")
    document = _sam.read_document(case.file)
    sam = sam_year(document, case, export=True, pv_kw=pv_kw)
    bills: list[Bill] = []
    mine = meshmeter_monthly(
        _read_as_published(case), *registers(_load_wh(case), _pv_wh(case, pv_kw)), bills=bills
    )
    expected = expected_from_sam(document, to_monthly(sam))
    assert not mismatches(expected, mine)
    assert not _sam.cents_apart(mine["true_up"][11], expected["true_up"][11])
    assert expected["true_up"][11] < -10_000  # the year's credit left is large: the carry-over is exercised
    carried = [bill.credit_out for bill in bills]
    assert all(c is not None for c in carried)
    assert sum(1 for c in carried[:11] if c) >= 9
    assert carried[11] == 0


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


# -----------------------------------------------------------------------------------------------------
# Where SAM is no reference: demand ratchets, and a response of several rates
# -----------------------------------------------------------------------------------------------------


def _monthly_peaks(load_kw: np.ndarray) -> list[float]:
    """The highest 15-minute step of each month of SAM's year. [kW]"""
    month = _sam._calendar()[1]
    return [float(load_kw[month == m].max()) for m in range(12)]


def test_sam_ignores_demandratchetpercentage() -> None:
    """
    Wallingford's rate sets ``demandratchetpercentage`` 35 % in every month; PySAM's conversion never reads
    the field, so SAM bills each month's flat demand on that month's own peak. On REopt's test load for this
    rate (1 kW all year, 100 kW once in January: NREL/REopt_API ``reo/tests/test_demand_ratchet.py``,
    REopt.jl "Lookback Demand Charges"), REopt expects 100 kW in January and 35 kW, the ratchet, in every
    later month: 100 × (10.5 + 0.35 × 10.5 × 5 + 0.35 × 11.5 × 6) = $5,302.50 of flat demand charges in the
    year. SAM bills 1 kW in those months: $1,171.50.
    """
    document = _sam.read_document("wallingford-primary-northford.json")
    assert document["demandratchetpercentage"] == [0.35] * 12
    load = np.ones(_sam.STEPS)
    load[32] = 100.0  # 1 January, 08:00-08:15
    bill = _sam.run_sam(_sam.sam_rates(document), load)
    rate = [11.5 if period == 0 else 10.5 for period in document["flatdemandmonths"]]
    assert [round(x, 6) for x in bill.peak_kw] == [100.0] + [1.0] * 11
    assert [round(x, 6) for x in bill.demand_flat] == [100 * rate[0]] + [1 * r for r in rate[1:]]
    reopt_expected = 100 * (10.5 + 0.35 * 10.5 * 5 + 0.35 * 11.5 * 6)
    assert math.isclose(reopt_expected, 5302.5)
    assert math.isclose(sum(bill.demand_flat), 1171.5)  # no ratchet


def test_sam_misreads_lookbackpercent() -> None:
    """
    Doniphan's GSL-90 bills demand "never less than 80 % of the highest demand established during the
    previous months of July, August and September" (its description): ``lookbackpercent`` 0.8,
    ``lookbackmonths`` July to September, ``lookbackrange`` 0. PySAM's conversion puts 80 % in all twelve
    months (the twelve rows of its table are one list), a lookback period of 0 months, and never lets the
    month's actual peak count; it sets no ``ur_yearzero_usage_peaks``, which SAM then requires. Given those
    peaks, SAM bills 80 % of each month's own peak (February on; January looks at the year before): less
    than the bill without any ratchet, where the tariff's ratchet can only raise the demand billed.
    """
    document = _sam.read_document("doniphan-gsl-90.json")
    assert document["lookbackmonths"] == [False] * 6 + [True] * 3 + [False] * 3
    rates = _sam.sam_rates(document)
    assert rates["ur_billing_demand_lookback_percentages"] == [[80.0, 0]] * 12
    assert rates["ur_billing_demand_lookback_period"] == 0
    case = next(c for c in CORPUS if c.file == "doniphan-gsl-90.json")
    load = _sam.from_wh(_sam.to_wh(_sam.load_kw(case.load, case.peak_kw, case.seed)))
    with pytest.raises(Exception, match="ur_yearzero_usage_peaks"):
        _sam.run_sam(rates, load)
    peaks = _monthly_peaks(load)
    bill = _sam.run_sam({**rates, "ur_yearzero_usage_peaks": peaks}, load)
    flat_rate = document["flatdemandstructure"][0][0]["rate"]
    for m in range(1, 12):
        assert not _sam.cents_apart(bill.demand_flat[m], flat_rate * 0.8 * peaks[m]), m
    assert sum(bill.demand_flat) < flat_rate * sum(peaks)


def test_several_rates_in_a_response_need_a_label() -> None:
    """
    ``aps-residential-lookup.json`` is the API's answer for one place: 32 APS residential rates, three of
    them named "Residential Service TOU Time Advantage 7PM-Noon (ET-2)", so only the label chooses one. The
    API gave them without rate structure (minimal detail); the rate of the corpus case's label, with its
    structure, is ``aps-et-2.json``.
    """
    case = next(c for c in CORPUS if c.file == "aps-residential-lookup.json")
    items = json.loads((_sam.CORPUS / case.file).read_text(encoding="utf-8"))["items"]
    labels = [item["label"] for item in items]
    assert len(items) == 32
    assert len(set(labels)) == len(labels)
    et_2 = "Residential Service TOU Time Advantage 7PM-Noon (ET-2)"
    assert sum(item["name"] == et_2 for item in items) == 3
    with pytest.raises(ValueError, match="name a label"):
        _sam.read_document(case.file)
    chosen = _sam.read_document(case.file, case.label)
    assert chosen["name"] == et_2
    assert "energyratestructure" not in chosen
    full = _sam.read_document("aps-et-2.json")
    assert (full["label"], full["name"], full["utility"]) == (case.label, et_2, chosen["utility"])


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
    "aps-residential-lookup.json": "energyratestructure",  # is missing: minimal detail, no rate to bill
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
