"""The demo and the glue between the twin and the head-end: a simulated site, stored, checked and billed.

``meshmeter demo`` (:func:`run_site_demo`) builds the demo building (``site/example.py``: 24 units, a house
meter and a rooftop solar meter, each with an MDT; one DCAP and four repeaters powered in the manual's
order), simulates it for 31 days, and hands it to the services that store it, run VEE on every meter and
bill the tenants (:mod:`meshmeter.services.simulation`), then prints a summary (:func:`summarise_site`).
``meshmeter site simulate`` uses the same services on any site file.

``meshmeter meter demo`` (:func:`run_meter_demo`) is the earlier demo of one Mini Meter
(MM-D1202001-T-SCC on a 120/240 V service) through both metrology paths:

1. a day (or more) of a residential load at 1-minute steps on the profile path: true and registered
   energy, hourly energy, demand and maximum demand, pulses on each output, the load LED, the LCD;
2. two seconds of the evening peak, with a third harmonic, on the waveform path: per-line-cycle
   measurements, and the energy compared with the profile path on the same condition;
3. the same meter installed with CT2 reversed: the reverse phase indication and the diagnosis.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from meshmeter.billing import Bill
from meshmeter.headend.alerts import active_alerts
from meshmeter.headend.alerts import alerts as all_alerts
from meshmeter.headend.vee import VeeReport
from meshmeter.intervals import Quality, floor_to_grid, zone
from meshmeter.meter.installation import ElementWiring, Service, element_inputs
from meshmeter.meter.metrology import Harmonic, LineCycleMeter, synthesize_element
from meshmeter.meter.twin import Meter, SteadyCondition
from meshmeter.services.simulation import (
    DEMO_TARIFF,
    ELEMENT_MEASUREMENTS_EVENT,
    BillLine,
    StoredSite,
    bill_site,
    element_measurements_detail,
    finish_run,
    finite_json,
    store_element_measurements,
    store_simulation,
    vee_site,
)
from meshmeter.site.config import SiteConfig
from meshmeter.site.profiles import residential_profile
from meshmeter.site.run import Progress, SiteSimulation, simulate_site_file
from meshmeter.store import Store

__all__ = [
    "ELEMENT_MEASUREMENTS_EVENT",
    "BillLine",
    "DemoSummary",
    "MeterDemoReport",
    "StoredSite",
    "default_window",
    "element_measurements_detail",
    "run_meter_demo",
    "run_site_demo",
    "store_element_measurements",
    "store_simulation",
    "summarise_site",
]

MODEL = "MM-D1202001-T-SCC"


@dataclass
class MeterDemoReport:
    """What the demo found, for printing or JSON."""

    model: str
    serial: str
    days: float
    true_energy_wh: float
    registered_energy_wh: float
    hourly_wh: list[float]
    max_demand_kw: float
    max_demand_time: str | None
    pulses: dict[str, int]
    load_led_changes: int
    lcd: list[dict[str, Any]]
    cycles: list[dict[str, Any]] = field(default_factory=list)
    waveform_energy_wh: float = 0.0
    profile_energy_wh: float = 0.0
    waveform_true_wh: float = 0.0
    reversed_lcd: list[dict[str, Any]] = field(default_factory=list)
    reversed_findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def percent_registration(self) -> float:
        """Registered over true energy of the day. [%]"""
        return self.registered_energy_wh / self.true_energy_wh * 100.0

    @property
    def paths_agree_percent(self) -> float:
        """Waveform over profile energy − 100 on the same condition. [%]"""
        return (self.waveform_energy_wh / self.profile_energy_wh - 1.0) * 100.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {
            "model": self.model,
            "serial": self.serial,
            "days": self.days,
            "profile": {
                "true_energy_wh": round(self.true_energy_wh, 3),
                "registered_energy_wh": round(self.registered_energy_wh, 3),
                "percent_registration": round(self.percent_registration, 4),
                "hourly_wh": [round(x, 3) for x in self.hourly_wh],
                "max_demand_kw": round(self.max_demand_kw, 4),
                "max_demand_time": self.max_demand_time,
                "pulses": self.pulses,
                "load_led_changes": self.load_led_changes,
                "lcd": self.lcd,
            },
            "waveform": {
                "cycles": self.cycles,
                "registered_energy_wh": round(self.waveform_energy_wh, 6),
                "profile_energy_wh": round(self.profile_energy_wh, 6),
                "true_energy_wh": round(self.waveform_true_wh, 6),
                "paths_agree_percent": round(self.paths_agree_percent, 5),
            },
            "reversed_ct": {"lcd": self.reversed_lcd, "findings": self.reversed_findings},
        }

    def print(self, console: Console) -> None:
        """Print the report as tables."""
        console.rule(
            f"meshmeter demo: {self.model}, serial {self.serial}, {self.days:g} day(s) of a tenant's load"
        )
        head = Table(title="1. Profile path (1-minute steps)", show_header=False)
        head.add_row("true energy", f"{self.true_energy_wh / 1000:,.3f} kWh")
        head.add_row("registered (total register)", f"{self.registered_energy_wh / 1000:,.3f} kWh")
        head.add_row(
            "percent registration",
            f"{self.percent_registration:.3f} %  (class: ±0.5 % at PF 1, ±0.75 % at 0.5)",
        )
        head.add_row("maximum 15-min demand", f"{self.max_demand_kw:.3f} kW at {self.max_demand_time}")
        head.add_row("pulses (closures)", ", ".join(f"output {k}: {v}" for k, v in self.pulses.items()))
        head.add_row("load LED changes", f"{self.load_led_changes:,} (Kt = 10 Wh: 5 Wh on, 5 Wh off)")
        console.print(head)
        hours = Table(title="Energy by hour (UTC)")
        hours.add_column("hour", justify="right")
        hours.add_column("kWh", justify="right")
        hours.add_column("")
        peak = max(self.hourly_wh) if self.hourly_wh else 1.0
        for h, wh in enumerate(self.hourly_wh[:24]):
            hours.add_row(f"{h:02d}:00", f"{wh / 1000:.3f}", "█" * round(30 * wh / peak) if peak else "")
        console.print(hours)
        console.print(_lcd_table("LCD after the run", self.lcd))
        cycles = Table(
            title="2. Waveform path: first line cycles of the evening peak (3rd harmonic 4 % V, 25 % I)"
        )
        for col in ("cyc", "f Hz", "el", "V", "I A", "P W", "Q var", "S VA", "PF"):
            cycles.add_column(col, justify="right")
        for c in self.cycles:
            cycles.add_row(
                str(c["cycle"]),
                f"{c['frequency_hz']:.3f}",
                str(c["element"]),
                f"{c['voltage_v']:.2f}",
                f"{c['current_a']:.3f}",
                f"{c['power_w']:.1f}",
                f"{c['reactive_var']:.1f}",
                f"{c['apparent_va']:.1f}",
                f"{c['power_factor']:.3f}",
            )
        console.print(cycles)
        console.print(
            f"waveform path {self.waveform_energy_wh:.5f} Wh, profile path (fundamental) "
            f"{self.profile_energy_wh:.5f} Wh, true {self.waveform_true_wh:.5f} Wh; "
            "the waveform path also registers the harmonic power, as a real meter does."
        )
        console.print(_lcd_table("3. The same meter with CT2 reversed: LCD", self.reversed_lcd))
        diag = Table(title="Diagnosis")
        for col in ("finding", "element", "remedy"):
            diag.add_column(col)
        for f in self.reversed_findings:
            diag.add_row(f["code"], str(f["element"]), f["remedy"])
        console.print(diag)


def _lcd_table(title: str, screens: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    table.add_column("screen")
    table.add_column("shows")
    table.add_column("annunciators")
    for s in screens:
        table.add_row(s["name"], s["text"], " ".join(s["annunciators"]))
    return table


def run_meter_demo(*, days: float = 1.0, seed: int = 7) -> MeterDemoReport:
    """
    Run the meter demo (``meshmeter meter demo``).

    Parameters
    ----------
    days : float
        Days of simulated load, 1/24 .. 366. [day]
    seed : int
        Seed of the load profile.

    Returns
    -------
    MeterDemoReport
    """
    if not (np.isfinite(days) and 1 / 24 <= days <= 366):
        raise ValueError(f"days must be between 1/24 and 366, got {days!r}")
    meter = Meter(MODEL, serial="MM00012345")
    profile = residential_profile(days=days, step_s=60.0, lines=2, seed=seed)
    run = meter.run_profile(
        step_s=profile.step_s,
        voltage_v=profile.voltage_v,
        current_a=profile.current_a,
        phase_deg=profile.phase_deg,
    )
    steps_per_hour = round(3600 / profile.step_s)
    hours = profile.n_steps // steps_per_hour
    hourly = run.delivered_wh[: hours * steps_per_hour].reshape(hours, steps_per_hour).sum(axis=1)
    max_time = meter.max_demand_time
    lcd = [{"name": s.name, "text": s.text, "annunciators": list(s.annunciators)} for s in meter.lcd()]
    report = MeterDemoReport(
        model=MODEL,
        serial=meter.serial,
        days=days,
        true_energy_wh=profile.true_energy_wh,
        registered_energy_wh=float(run.delivered_wh.sum()),
        hourly_wh=[float(x) for x in hourly],
        max_demand_kw=meter.demand.max_demand_kw,
        max_demand_time=None if max_time is None else max_time.isoformat(),
        pulses={name: run.closures(name) for name in meter.outputs_kh_wh},
        load_led_changes=run.edges.count("LOAD"),
        lcd=lcd,
    )

    # 2. the evening peak on the waveform path
    k = int(np.argmax(profile.current_a.sum(axis=0)))
    h3 = Harmonic(order=3, voltage_fraction=0.04, current_fraction=0.25, phase_deg=20.0)
    condition = SteadyCondition(
        voltage_v=tuple(float(x) for x in profile.voltage_v[:, k]),
        current_a=tuple(float(x) for x in profile.current_a[:, k]),
        phase_deg=tuple(float(x) for x in profile.phase_deg[:, k]),
        harmonics=(h3,),
    )
    wave = Meter(MODEL, serial="MM00012345").run_steady(condition, 2.0, path="waveform", block_s=2.0)
    report.waveform_energy_wh = wave.registered_energy_wh
    report.waveform_true_wh = wave.true_energy_wh
    fundamental = SteadyCondition(condition.voltage_v, condition.current_a, condition.phase_deg)
    report.profile_energy_wh = Meter(MODEL).run_steady(fundamental, wave.duration_s).registered_energy_wh
    report.cycles = _first_cycles(condition)

    # 3. CT2 reversed
    reversed_meter = Meter(
        MODEL, serial="MM00012345", wiring=(ElementWiring(), ElementWiring(ct_reversed=True))
    )
    bad = reversed_meter.run_steady(fundamental, 60.0)
    report.reversed_lcd = [
        {"name": s.name, "text": s.text, "annunciators": list(s.annunciators)} for s in bad.lcd
    ]
    report.reversed_findings = [
        {
            "code": str(f.code),
            "element": f.element,
            "severity": str(f.severity),
            "message": f.message,
            "remedy": f.remedy,
        }
        for f in bad.findings
    ]
    return report


def _first_cycles(condition: SteadyCondition, count: int = 3) -> list[dict[str, Any]]:
    """Per-cycle measurements of the first whole cycles of a waveform run."""
    meter = Meter(MODEL)
    fe = meter.front_end
    fs = fe.sample_rate_hz
    n = int(fs * 0.5)
    inputs = element_inputs(
        elements=2,
        service=Service.SPLIT_PHASE,
        wiring=meter.wiring,
        line_voltage_v=np.asarray(condition.voltage_v),
        line_current_a=np.asarray(condition.current_a),
        line_phase_deg=np.asarray(condition.phase_deg),
    )
    v = np.empty((2, n))
    i = np.empty((2, n))
    for e in range(2):
        sig = synthesize_element(
            n,
            fs,
            voltage_v=float(inputs.voltage_v[e, 0]),
            current_a=float(inputs.current_a[e, 0]),
            phase_deg=float(inputs.phase_deg[e, 0]),
            voltage_angle_deg=float(inputs.voltage_angle_deg[e, 0]),
            harmonics=condition.harmonics,
            ct=meter.ct,
        )
        v[e] = fe.voltage.sample(sig.voltage_v)
        i[e] = fe.current.sample(sig.current_secondary_a)
    dsp = LineCycleMeter(front_end=fe, ct_ratio=meter.ct.ratio, calibration=meter.calibration, elements=2)
    block = dsp.process(v, i)
    rows: list[dict[str, Any]] = []
    whole = np.flatnonzero(block.complete)[:count]
    pf = block.power_factor
    for c_i, c in enumerate(whole, start=1):
        for e in range(2):
            rows.append(
                {
                    "cycle": c_i,
                    "frequency_hz": float(block.frequency_hz[c]),
                    "element": e + 1,
                    "voltage_v": float(block.voltage_v[e, c]),
                    "current_a": float(block.current_a[e, c]),
                    "power_w": float(block.power_w[e, c]),
                    "reactive_var": float(block.reactive_var[e, c]),
                    "apparent_va": float(block.apparent_va[e, c]),
                    "power_factor": float(pf[e, c]),
                }
            )
    return rows


# --------------------------------------------------------------------------------------------------
# a simulated site into the store
# --------------------------------------------------------------------------------------------------


def default_window(days: float, timezone: str, *, now: datetime | None = None) -> tuple[datetime, float]:
    """
    The window of a run that ends now: ``days`` whole local days before today, and today so far.

    Parameters
    ----------
    days : float
        Whole local days before today (a fraction is rounded up). [day]
    timezone : str
        The site's IANA time zone: the window starts at a local midnight, so that VEE's days are whole.
    now : datetime, optional
        Aware; default the present.

    Returns
    -------
    start : datetime
        UTC, a local midnight (on a 15-minute boundary in every zone with whole quarter-hour offsets).
    run_days : float
        From ``start`` to ``now`` floored to 15 minutes. [day]
    """
    if isinstance(days, bool) or not (math.isfinite(days) and 0 < days <= 366):
        raise ValueError(f"days must be in (0, 366], got {days!r}")
    local = zone(timezone)
    now = datetime.now(UTC) if now is None else now.astimezone(UTC)
    end = floor_to_grid(now)
    today = now.astimezone(local).date()
    first = today - timedelta(days=math.ceil(days))
    start = datetime(first.year, first.month, first.day, tzinfo=local).astimezone(UTC)
    return start, (end - start).total_seconds() / 86_400.0


@dataclass
class DemoSummary:
    """What a site run came to: network health, energy, VEE, bills, alerts; for printing or JSON."""

    site: str
    database: str
    start: datetime
    end: datetime
    network: dict[str, Any]
    energy_kwh: dict[str, float]
    """Energy over the window by meter role: units, house, solar (production). [kWh]"""
    vee: dict[str, int]
    bills: list[BillLine]
    alerts: list[dict[str, Any]]
    stored: dict[str, int]
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def tenant_bills(self) -> list[Bill]:
        """The whole bills, in the site file's order of accounts (what the dashboard's bills pages list)."""
        return [line.bill for line in self.bills]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {
            "site": self.site,
            "database": self.database,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "network": self.network,
            "energy_kwh": {k: round(v, 3) for k, v in self.energy_kwh.items()},
            "vee": self.vee,
            "bills": [
                {
                    "account": b.account,
                    "meter": b.meter,
                    "unit": b.unit,
                    "energy_kwh": round(b.energy_kwh, 3),
                    "estimated_kwh": round(b.estimated_kwh, 3),
                    "total_usd": str(b.total_usd),
                    "bill_id": b.bill_id,
                }
                for b in self.bills
            ],
            "alerts": self.alerts,
            "stored": self.stored,
            "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
            "warnings": self.warnings,
        }

    def print(self, console: Console) -> None:
        """Print the summary as a few tables."""
        console.rule(f"{self.site}: {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC")
        n = self.network
        net = Table(title="Network health (CIT, manual §5.2)", show_header=False)
        net.add_row("MDTs joined", f"{n['joined_mdts']} of {n['mdts']}")
        net.add_row(
            "repeaters joined", f"{n['joined_repeaters']} of {n['repeaters']} (powered {n['power_order']})"
        )
        net.add_row(
            "intervals delivered", f"{n['delivered']:,} of {n['intervals_due']:,} ({n['delivery_ratio']:.3%})"
        )
        net.add_row("on time (within the hour)", f"{n['on_time_ratio']:.3%}")
        net.add_row("hops (MDTs)", ", ".join(f"{h}: {c}" for h, c in n["hop_histogram"].items()) or "-")
        console.print(net)
        energy = Table(title="Energy", show_header=False)
        energy.add_row("units (tenants)", f"{self.energy_kwh['units']:,.1f} kWh")
        energy.add_row("house (common areas)", f"{self.energy_kwh['house']:,.1f} kWh")
        energy.add_row("solar (produced)", f"{self.energy_kwh['solar']:,.1f} kWh")
        v = self.vee
        energy.add_row(
            "VEE",
            f"{v['valid']:,} valid, {v['interpolated'] + v['estimated_reference_day']:,} estimated, "
            f"{v['questionable']:,} questionable, {v['missing']:,} missing",
        )
        console.print(energy)
        if self.bills:
            bills = Table(title=f"Bills ({len(self.bills)}, tariff {DEMO_TARIFF}, illustrative rates)")
            for col in ("unit", "account", "kWh", "USD"):
                bills.add_column(col, justify="right" if col in ("kWh", "USD") else "left")
            ranked = sorted(self.bills, key=lambda b: b.total_usd, reverse=True)
            for b in ranked[:5]:
                bills.add_row(b.unit, b.account, f"{b.energy_kwh:,.1f}", f"{b.total_usd:,.2f}")
            if len(ranked) > 5:
                bills.add_row("...", f"{len(ranked) - 5} more", "", "")
            total = sum((b.total_usd for b in self.bills), Decimal(0))
            bills.add_row("", "all bills", f"{sum(b.energy_kwh for b in self.bills):,.1f}", f"{total:,.2f}")
            console.print(bills)
        alerts = Table(title="Alerts in force")
        for col in ("kind", "meter", "at"):
            alerts.add_column(col)
        for a in self.alerts:
            alerts.add_row(a["kind"], a["meter"] or a["device"] or "-", a["at"])
        if not self.alerts:
            alerts.add_row("none", "", "")
        console.print(alerts)
        console.print(
            f"alerts raised during the run (cleared ones included): {self.stored.get('alerts_raised', 0)}"
        )
        for warning in self.warnings:
            console.print(f"[yellow]warning:[/] {warning}")
        s = self.stored
        console.print(
            f"stored in {self.database}: {s['meters']} meters, {s['intervals']:,} intervals, "
            f"{s['register_reads']:,} register reads, {s['events']:,} events"
        )


def _vee_counts(
    store: Store, sim: SiteSimulation, stored: StoredSite, reports: list[VeeReport]
) -> dict[str, int]:
    """
    The window's intervals of every meter by VEE's outcome: from VEE's reports of this call, and, for a
    meter a stopped run had validated already (no report), from its validated view (quality 0, 10, 9, 8,
    and intervals absent as missing).
    """
    counts = dict.fromkeys(("valid", "questionable", "interpolated", "estimated_reference_day", "missing"), 0)
    for r in reports:
        counts["valid"] += r.valid
        counts["questionable"] += r.questionable
        counts["interpolated"] += r.interpolated
        counts["estimated_reference_day"] += r.estimated_reference_day
        counts["missing"] += r.missing
    ran = {r.meter_id for r in reports}
    codes = {
        int(Quality.VALID): "valid",
        int(Quality.QUESTIONABLE): "questionable",
        int(Quality.ESTIMATED_INTERPOLATION): "interpolated",
        int(Quality.ESTIMATED_REFERENCE_DAY): "estimated_reference_day",
    }
    for meter_id in stored.meter_ids.values():
        if meter_id in ran:
            continue
        view = store.interval_view(meter_id=meter_id, start=sim.start, end=sim.end)
        for code in view.quality.tolist():
            if code in codes:
                counts[codes[code]] += 1
        due = int((sim.end - sim.start).total_seconds()) // int(view.interval_s)
        counts["missing"] += max(due - int(view.quality.size), 0)
    return counts


def summarise_site(
    store: Store,
    sim: SiteSimulation,
    stored: StoredSite,
    vee: list[VeeReport],
    bills: list[BillLine],
    *,
    database: str,
) -> DemoSummary:
    """
    The summary of a stored site, read back from the store (so that it says what the store holds).

    Parameters
    ----------
    store : Store
        The store.
    sim : SiteSimulation
        The run.
    stored : StoredSite
        What was stored.
    vee : list of VeeReport
        :func:`vee_site`'s reports.
    bills : list of BillLine
        :func:`bill_site`'s bills.
    database : str
        Where the store is, for people.

    Returns
    -------
    DemoSummary
    """
    report = sim.report
    energy = {"units": 0.0, "house": 0.0, "solar": 0.0}
    intervals = 0
    key = {"unit": "units", "house": "house", "solar": "solar"}
    for m in sim.config.meters:
        view = store.interval_view(meter_id=stored.meter_ids[m.serial], start=sim.start, end=sim.end)
        energy[key[m.kind]] += view.total_wh / 1000.0
    for m in sim.config.meters:
        intervals += len(
            store.raw_intervals(
                meter_id=stored.meter_ids[m.serial],
                start=sim.start - timedelta(hours=1),
                end=sim.end + timedelta(days=1),
            )
        )
    serial_of = {v: k for k, v in stored.meter_ids.items()}
    alerts = [
        {
            "kind": str(a.kind),
            "meter": serial_of.get(a.meter_id) if a.meter_id is not None else None,
            "device": None,
            "at": a.at.isoformat(),
        }
        for a in active_alerts(store)
        if a.meter_id is None or a.meter_id in serial_of
    ]
    events = sum(len(store.events(meter_id=mid)) for mid in stored.meter_ids.values())
    reads = sum(
        len(store.register_reads(meter_id=mid, start=sim.start, end=sim.end + timedelta(days=1)))
        for mid in stored.meter_ids.values()
    )
    devices = set(sim.config.eui64s())
    raised = sum(
        1
        for a in all_alerts(store)
        if (a.meter_id is not None and a.meter_id in serial_of) or (a.meter_id is None and a.eui64 in devices)
    )
    return DemoSummary(
        site=sim.config.name,
        database=database,
        start=sim.start,
        end=sim.end,
        network={
            "mdts": report.mdts,
            "joined_mdts": report.joined_mdts,
            "repeaters": report.repeaters,
            "joined_repeaters": report.joined_repeaters,
            "power_order": sim.config.power_order,
            "intervals_due": report.intervals_due,
            "delivered": report.delivered,
            "delivery_ratio": report.delivery_ratio,
            "on_time_ratio": report.on_time_ratio,
            "hop_histogram": {str(k): v for k, v in report.hop_histogram.items()},
            "latency_p90_s": finite_json(report.latency_s["p90"]),
        },
        energy_kwh=energy,
        vee=_vee_counts(store, sim, stored, vee),
        bills=bills,
        alerts=alerts,
        stored={
            "meters": len(stored.meter_ids),
            "intervals": intervals,
            "register_reads": reads,
            "events": events,
            "alerts_raised": raised,
        },
        warnings=list(sim.config.warnings),
    )


def run_site_demo(
    store: Store,
    config: SiteConfig,
    *,
    start: datetime,
    days: float,
    seed: int = 0,
    database: str = "",
    bill: bool = True,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> DemoSummary:
    """
    Simulate a site, store it, run VEE, bill it and summarise (``meshmeter demo``, ``site simulate``).

    Parameters
    ----------
    store : Store
        An open store without this site.
    config : SiteConfig
        The site (the demo building: :func:`meshmeter.site.example.demo_site_toml`).
    start : datetime
        Aware start, on a 15-minute boundary.
    days : float
        Simulated days. [day]
    seed : int
        Seed of the loads and the radio.
    database : str
        Where the store is, for the summary.
    bill : bool
        Bill the accounts (``billing/``) at the demo tariff, and store the bills with their inputs.
    progress : Progress, optional
        Told how far each stage has come: ``meters``, ``mesh``, ``store``, ``vee``.
    now : datetime, optional
        Aware present; default the clock's. The window stops at the last 15-minute boundary at or before
        it: nothing stored ends or happens after it (:func:`~meshmeter.site.run.simulate_site_file`).

    Returns
    -------
    DemoSummary
    """
    timings: dict[str, float] = {}
    t = time.perf_counter()
    sim = simulate_site_file(config, start=start, days=days, seed=seed, progress=progress, now=now)
    timings["simulate"] = time.perf_counter() - t
    timings["mesh"] = sim.wall_s
    t = time.perf_counter()
    stored = store_simulation(store, sim, progress=progress)
    timings["store"] = time.perf_counter() - t
    t = time.perf_counter()
    vee = vee_site(store, sim, stored, progress=progress)
    timings["vee"] = time.perf_counter() - t
    t = time.perf_counter()
    bills = bill_site(store, sim, stored) if bill else []
    timings["bills"] = time.perf_counter() - t
    finish_run(store, stored)
    summary = summarise_site(store, sim, stored, vee, bills, database=database)
    summary.timings_s = timings
    return summary
