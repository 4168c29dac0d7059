"""The demo and the glue between the twin and the head-end: a simulated site, stored, checked and billed.

``meshmeter demo`` (:func:`run_site_demo`) builds the demo building (``site/example.py``: 24 units, a house
meter and a rooftop solar meter, each with an MDT; one DCAP and four repeaters powered in the manual's
order), simulates it for 31 days, stores everything the DCAP delivered (:func:`store_simulation`), runs VEE
on every meter, bills the tenants, and prints a summary (:func:`summarise_site`). ``meshmeter site
simulate`` uses the same :func:`store_simulation` on any site file.

This module sits on top, beside ``cli.py``: it is the one place where the twin (``site/``) meets the
head-end (``store/``, ``headend/``, ``billing/``), so that neither imports the other.

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from rich.console import Console
from rich.table import Table

from meshmeter.amr.topology import DeviceKind
from meshmeter.billing import Bill, Tenant, example_tariff
from meshmeter.headend import ingest_deliveries
from meshmeter.headend.alerts import (
    active_alerts,
    alerts_from_dcap,
    check_battery,
    check_communication,
    check_reverse_phase,
)
from meshmeter.headend.vee import VeeConfig, VeeReport, run_vee
from meshmeter.meter.diagnostics import ElementMeasurement
from meshmeter.meter.installation import ElementWiring, Service, element_inputs
from meshmeter.meter.metrology import Harmonic, LineCycleMeter, synthesize_element
from meshmeter.meter.twin import Meter, SteadyCondition
from meshmeter.services.billing import bill_meter_from_store
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
    zone = ZoneInfo(timezone)
    now = datetime.now(UTC) if now is None else now.astimezone(UTC)
    end_s = int(now.timestamp()) // 900 * 900
    today = now.astimezone(zone).date()
    first = today - timedelta(days=math.ceil(days))
    start = datetime(first.year, first.month, first.day, tzinfo=zone).astimezone(UTC)
    return start, (end_s - start.timestamp()) / 86_400.0


@dataclass(frozen=True)
class StoredSite:
    """What :func:`store_simulation` put in the store."""

    site_id: int
    meter_ids: dict[str, int]
    """Meter id by serial."""
    intervals: int
    """Raw intervals stored. [1]"""
    provisional: int
    """Of them, stored with energy 0 because the record before them never arrived. [1]"""
    register_reads: int
    alerts: int
    """Alerts raised while storing (tamper, reverse phase, low battery, communication loss). [1]"""


def _finite_json(value: Any) -> Any:
    """JSON members with NaN and infinities as None (the store refuses them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_json(v) for v in value]
    return value


def store_simulation(store: Store, sim: SiteSimulation, *, progress: Progress | None = None) -> StoredSite:
    """
    Store a simulated site as the head-end would have received it.

    Parameters
    ----------
    store : Store
        The store; the site's name must not be in it yet.
    sim : SiteSimulation
        The run (:func:`meshmeter.site.run.simulate_site_file`).
    progress : Progress, optional
        Told after each step (stage ``"store"``).

    Returns
    -------
    StoredSite

    Notes
    -----
    In order: the site; its meters (CT ratio from the designation), each with its MDT (EUI-64 and key
    as commissioned in the DCAP) and an ``install`` event describing its role, unit, CTs, load and MDT
    placement; an ``install`` event for the DCAP and each repeater (position, power-up order); the
    tenants and accounts; the DCAP's deliveries of the window's intervals (interval end at or before
    ``sim.end``) through :func:`~meshmeter.headend.ingest_deliveries`; a register read of each meter at
    every UTC midnight and at the end; the DCAP's events of the window as alerts (tamper); the
    reverse-phase check of each meter's last measurement and those measurements as an
    ``element_measurements`` event (the dashboard's wiring diagnosis), the MDTs' batteries and
    communication at the end of the run; and the CIT report (``save_network_report``).

    Nothing stored ends or happens after ``sim.end`` (issue 11): the intervals the MDTs closed in the
    drain after the window (no pulses fed, energy 0, and, for a run up to now, in the future) and events
    of the drain are left out; the drain only brings the window's late reports.
    """
    config = sim.config
    net = sim.network
    steps = 7

    def tell(done: int) -> None:
        if progress is not None:
            progress("store", done, steps)

    if any(s.name == config.name for s in store.sites()):
        raise ValueError(f"site {config.name!r} is already in the store: use another database or rename it")
    site = store.create_site(name=config.name, timezone=config.timezone)
    meter_ids: dict[str, int] = {}
    euis: dict[bytes, int] = {}
    for number, m in enumerate(config.meters):
        meter = store.create_meter(
            serial=m.serial,
            designation=m.designation,
            ct_ratio=m.ct_ratio,
            multiplier=m.multiplier,
            install_date=sim.start.astimezone(ZoneInfo(config.timezone)).date(),
            site_id=site.id,
            role=m.role,
        )
        device = net.devices[sim.mdt_index(number)]
        store.create_mdt(eui64=device.eui, kit=m.mdt.kit, key=device.key, meter_id=meter.id)
        meter_ids[m.serial] = meter.id
        euis[device.eui] = meter.id
        store.add_event(
            kind="install",
            at=sim.start,
            meter_id=meter.id,
            eui64=device.eui,
            detail={
                "role": m.kind,
                "unit": m.unit,
                "ct": m.ct,
                "load": {k: v for k, v in m.load.__dict__.items() if v is not None},
                "mdt": {
                    "kit": m.mdt.kit,
                    "position_m": list(m.mdt.position_m),
                    "walls": m.mdt.walls,
                    "metal_box": m.mdt.metal_box,
                    "metal_wall": m.mdt.metal_wall,
                },
            },
        )
    tell(1)
    layout = net.layout
    reps = layout.indices(DeviceKind.REPEATER)
    dist = np.hypot(*(layout.positions_m[reps] - layout.positions_m[0]).T) if reps.size else np.zeros(0)
    order = np.argsort(dist if config.power_order == "near-first" else -dist, kind="stable")
    powered = {int(reps[k]): place for place, k in enumerate(order.tolist(), start=1)}
    for i, kind in enumerate(layout.kinds):
        if kind is DeviceKind.MDT:
            continue
        spec = config.dcap if kind is DeviceKind.DCAP else config.repeaters[i - 1]
        store.add_event(
            kind="install",
            at=sim.start,
            eui64=layout.euis[i],
            detail={
                "device": str(kind),
                "site": config.name,
                "name": spec.name,
                "position_m": list(spec.position_m),
                "power_up": powered.get(i, 0),  # the DCAP first (0), then the repeaters 1, 2 ...
            },
        )
    tenant_ids = {name: store.create_tenant(name=name).id for name in config.tenants}
    for a in config.accounts:
        store.create_account(
            tenant_id=tenant_ids[a.tenant],
            meter_id=meter_ids[a.meter],
            unit=a.unit,
            move_in=a.move_in,
            move_out=a.move_out,
        )
    tell(2)
    window_end_s = int(sim.end.timestamp())
    result = ingest_deliveries(
        store,
        (d for d in net.dcap.deliveries if d.record.interval_end_s <= window_end_s),
        source="dcap",
    )
    if result.refused:
        raise ValueError(f"the head-end refused the DCAP's data: {dict(result.refused)}")
    tell(3)
    reads = 0
    epoch = sim.start.timestamp()
    end_s = epoch + sim.days * 86_400.0
    midnights = np.arange(math.floor(epoch / 86_400.0) + 1, math.floor(end_s / 86_400.0) + 1) * 86_400.0
    times = [*(float(t) for t in midnights if t < end_s), end_s]
    for number, m in enumerate(config.meters):
        for t in times:
            at = datetime.fromtimestamp(int(t), UTC)
            if store.add_register_read(
                meter_id=meter_ids[m.serial], read_at=at, energy_wh=int(sim.feed.energy_wh(number, t))
            ):
                reads += 1
    tell(4)
    end = datetime.fromtimestamp(int(end_s), UTC)
    events = [e for e in net.dcap.events if e.event.time_s <= window_end_s]
    alerts = len(alerts_from_dcap(store, events, eui_to_meter=euis))
    for number, m in enumerate(config.meters):
        if check_reverse_phase(
            store, meter_id=meter_ids[m.serial], at=end, element_power_w=sim.feed.last_element_power_w[number]
        ):
            alerts += 1
    for number, m in enumerate(config.meters):
        store_element_measurements(
            store, meter_id=meter_ids[m.serial], at=end, measurements=sim.feed.meters[number].measurements
        )
    tell(5)
    fractions = {
        bytes.fromhex(row.eui64): row.battery_left
        for row in sim.report.devices
        if row.battery_left is not None
    }
    alerts += len(check_battery(store, fractions, at=end, eui_to_meter=euis))
    alerts += len(check_communication(store, now=end))
    tell(6)
    store.save_network_report(site=site.id, report=_finite_json(sim.report.to_dict()), taken_at=end)
    tell(7)
    return StoredSite(
        site_id=site.id,
        meter_ids=meter_ids,
        intervals=result.stored,
        provisional=result.provisional,
        register_reads=reads,
        alerts=alerts,
    )


def element_measurements_detail(measurements: Sequence[ElementMeasurement]) -> dict[str, Any]:
    """
    The ``detail`` of an ``element_measurements`` event (``docs/dashboard.md``): what each element
    measured, for the dashboard's wiring diagnosis (manual §4.5, §4.7, §7).

    Parameters
    ----------
    measurements : sequence of ElementMeasurement
        One per element (``Meter.measurements``): voltage [V], current [A], their phasor angles [deg],
        power [W].

    Returns
    -------
    dict
        ``{"elements": [{"element", "voltage_v", "voltage_angle_deg", "current_a", "current_angle_deg",
        "power_w", "ct_open"}, ...]}``; NaN and infinities as None.
    """
    return {
        "elements": [
            _finite_json(
                {
                    "element": int(e.element),
                    "voltage_v": float(e.voltage_v),
                    "voltage_angle_deg": float(e.voltage_angle_deg),
                    "current_a": float(e.current_a),
                    "current_angle_deg": float(e.current_angle_deg),
                    "power_w": float(e.power_w),
                    "ct_open": bool(e.ct_open),
                }
            )
            for e in measurements
        ]
    }


def store_element_measurements(
    store: Store, *, meter_id: int, at: datetime, measurements: Sequence[ElementMeasurement]
) -> bool:
    """
    Store a meter's element measurements as an ``element_measurements`` event, for the wiring diagnosis.

    Parameters
    ----------
    store : Store
        The store.
    meter_id : int
        The meter.
    at : datetime
        Aware instant of the measurements.
    measurements : sequence of ElementMeasurement
        One per element; none (a meter that never ran) stores nothing.

    Returns
    -------
    bool
        Whether an event was stored.
    """
    if not measurements:
        return False
    store.add_event(
        kind=ELEMENT_MEASUREMENTS_EVENT,
        at=at,
        meter_id=meter_id,
        detail=element_measurements_detail(measurements),
    )
    return True


ELEMENT_MEASUREMENTS_EVENT = "element_measurements"
"""Kind of the event holding a meter's per-element measurements (``docs/dashboard.md``)."""


SOLAR_ZERO_RUN_MAX_H = 18.0
"""Longest run of zero intervals VEE accepts from a production meter: the longest night at 55° of
latitude, with an hour to spare either side. [h]"""


def vee_site(
    store: Store, sim: SiteSimulation, stored: StoredSite, *, progress: Progress | None = None
) -> list[VeeReport]:
    """
    Run VEE (``headend/vee.py``) on every meter of a stored site over the simulated window.

    A production (solar) meter's night is a run of zero intervals by nature: its zero-run check allows
    :data:`SOLAR_ZERO_RUN_MAX_H` instead of VEE's default 4 h (``docs/site.md``).
    """
    reports = []
    total = len(stored.meter_ids)
    kinds = {m.serial: m.kind for m in sim.config.meters}
    solar = VeeConfig(zero_run_max_h=SOLAR_ZERO_RUN_MAX_H)
    for k, (serial, meter_id) in enumerate(stored.meter_ids.items()):
        config = solar if kinds[serial] == "solar" else None
        reports.append(
            run_vee(
                store,
                meter_id=meter_id,
                start=sim.start,
                end=sim.end,
                timezone=sim.config.timezone,
                config=config,
            )
        )
        if progress is not None:
            progress("vee", k + 1, total)
    return reports


DEMO_TARIFF = "tiered-flat-example"
"""The example tariff the demo bills its tenants at (``billing/tariffs``, illustrative rates)."""


@dataclass(frozen=True)
class BillLine:
    """One bill of the summary."""

    account: str
    meter: str
    unit: str
    energy_kwh: float
    estimated_kwh: float
    total_usd: Decimal
    bill: Bill = field(repr=False, compare=False)
    """The whole bill (``meshmeter.billing.Bill``): its lines, inputs and outputs (``docs/billing.md``)."""
    bill_id: int | None = None
    """Its id in the store (``GET /bills/{bill_id}``), when it was saved."""


def bill_site(
    store: Store, sim: SiteSimulation, stored: StoredSite, *, tariff: str = DEMO_TARIFF, save: bool = True
) -> list[BillLine]:
    """
    Bill every account of a stored site over the simulated window from its validated intervals.

    Parameters
    ----------
    store : Store
        The store, after :func:`vee_site`.
    sim : SiteSimulation
        The run (its window is the billing period).
    stored : StoredSite
        Meter ids.
    tariff : str
        An example tariff of ``meshmeter.billing`` (illustrative rates).
    save : bool
        Store each bill with its inputs (``Store.save_bill``), tied to the site, the account and the
        meter; default True.

    Returns
    -------
    list of BillLine
        One per account in service during the window, in the site file's order.
    """
    rates = example_tariff(tariff)
    lines: list[BillLine] = []
    for account in sim.config.accounts:
        if account.move_out is not None and account.move_out <= sim.start:
            continue
        if account.move_in >= sim.end:
            continue
        meter_id = stored.meter_ids[account.meter]
        meter = store.get_meter(meter_id=meter_id)
        assert meter is not None  # stored by store_simulation
        tenant = Tenant(
            account=account.tenant,
            move_in=account.move_in if account.move_in > sim.start else None,
            move_out=account.move_out
            if account.move_out is not None and account.move_out < sim.end
            else None,
        )
        bill = bill_meter_from_store(
            store,
            meter=meter,
            tariff=rates,
            start=sim.start,
            end=sim.end,
            timezone=sim.config.timezone,
            tenant=tenant,
        )
        bill_id = None
        if save:
            account_ids = [
                a.id
                for a in store.accounts(meter_id=meter_id)
                if a.unit == account.unit and a.move_in == account.move_in
            ]
            saved, _ = store.save_bill(
                document=bill.to_dict(),
                site_id=stored.site_id,
                account_id=account_ids[0] if len(account_ids) == 1 else None,
                meter_id=meter_id,
            )
            bill_id = saved.id
        lines.append(
            BillLine(
                account=account.tenant,
                meter=account.meter,
                unit=account.unit,
                energy_kwh=bill.energy_wh / 1000.0,
                estimated_kwh=bill.estimated_wh / 1000.0,
                total_usd=bill.printed_total,
                bill=bill,
                bill_id=bill_id,
            )
        )
    return lines


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
            "latency_p90_s": _finite_json(report.latency_s["p90"]),
        },
        energy_kwh=energy,
        vee={
            "valid": sum(r.valid for r in vee),
            "questionable": sum(r.questionable for r in vee),
            "interpolated": sum(r.interpolated for r in vee),
            "estimated_reference_day": sum(r.estimated_reference_day for r in vee),
            "missing": sum(r.missing for r in vee),
        },
        bills=bills,
        alerts=alerts,
        stored={
            "meters": len(stored.meter_ids),
            "intervals": intervals,
            "register_reads": stored.register_reads,
            "events": events,
            "alerts_raised": stored.alerts,
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
    summary = summarise_site(store, sim, stored, vee, bills, database=database)
    summary.timings_s = timings
    return summary
