"""The demo: the meter twin at work on a simulated tenant load.

Until the site and head-end land, ``meshmeter demo`` shows one Mini Meter (MM-D1202001-T-SCC on a
120/240 V service) through both metrology paths:

1. a day (or more) of a residential load at 1-minute steps on the profile path: true and registered
   energy, hourly energy, demand and maximum demand, pulses on each output, the load LED, the LCD;
2. two seconds of the evening peak, with a third harmonic, on the waveform path: per-line-cycle
   measurements, and the energy compared with the profile path on the same condition;
3. the same meter installed with CT2 reversed: the reverse phase indication and the diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from meshmeter.meter.installation import ElementWiring, Service, element_inputs
from meshmeter.meter.metrology import Harmonic, LineCycleMeter, synthesize_element
from meshmeter.meter.twin import Meter, SteadyCondition
from meshmeter.site.profiles import residential_profile

__all__ = ["DemoReport", "run_demo"]

MODEL = "MM-D1202001-T-SCC"


@dataclass
class DemoReport:
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


def run_demo(*, days: float = 1.0, seed: int = 7) -> DemoReport:
    """
    Run the demo.

    Parameters
    ----------
    days : float
        Days of simulated load, 1/24 .. 366. [day]
    seed : int
        Seed of the load profile.

    Returns
    -------
    DemoReport
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
    report = DemoReport(
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
