"""The meter twin: a Mini Meter wired into a service, run on a load.

:class:`Meter` holds a meter's parameters and state (designation, serial number, CTs, calibration,
registers, demand, pulse outputs, LEDs, LCD, seals and audit trail) and calls the pure functions of
:mod:`~meshmeter.meter.metrology`, :mod:`~meshmeter.meter.registers`, :mod:`~meshmeter.meter.pulses`,
:mod:`~meshmeter.meter.display` and :mod:`~meshmeter.meter.diagnostics`. It runs either path:

* :meth:`Meter.run_profile`: time series of line voltage, current and phase at a constant step
  (1 s or coarser), vectorised, for months of data at once;
* :meth:`Meter.run_waveform`: blocks of ADC codes through the line-cycle DSP.

Both feed one registration routine (registers, pulse edges, demand, LEDs, power events), so the two paths
differ only in how the energy is measured. :meth:`Meter.run_steady` runs either path at a steady condition
and reports what a person at the meter would see.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from meshmeter.catalog import MeterSpec, check_current_primary, check_frequency, decode_meter
from meshmeter.meter.ct import CurrentTransformer
from meshmeter.meter.diagnostics import (
    ElementMeasurement,
    Finding,
    diagnose,
    reverse_phase_indicated,
)
from meshmeter.meter.display import LcdScreen, boot_screen, lcd_screens
from meshmeter.meter.installation import ElementInputs, ElementWiring, Service, element_inputs, wrap_deg
from meshmeter.meter.metrology import (
    SECONDS_PER_HOUR,
    Calibration,
    CycleBlock,
    FrontEnd,
    Harmonic,
    LineCycleMeter,
    element_power,
    factory_calibration,
    phasors,
    registered_power_w,
    synthesize_element,
)
from meshmeter.meter.pulses import LedChange, PowerLed, PulseEdges, edge_count, pulse_edges_by_kh
from meshmeter.meter.registers import DemandRegister, EnergyRegister
from meshmeter.meter.seals import MeterAudit, Provision, standard_seals

__all__ = ["DEFAULT_START", "Meter", "RunResult", "SteadyCondition", "SteadyResult"]

FloatArray = NDArray[np.float64]

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
"""Wall time of ``time_s = 0`` unless a meter is given another start."""

EDGE_TOLERANCE_WH = 1e-9
"""A pulse threshold counts as reached within this much energy (float increments' rounding). [Wh]"""

ISOLATED_OUTPUTS_KH_WH: dict[str, float] = {"10": 10.0, "100": 100.0, "1000": 1000.0}
"""The isolated pulse outputs and their Kh (manual §3.2, Table 2B). [Wh]"""


@dataclass(frozen=True)
class RunResult:
    """What one run of the meter registered, step by step (or cycle by cycle)."""

    path: Literal["profile", "waveform"]
    start_s: float
    """Start of the run on the meter's clock. [s]"""
    step_end_s: FloatArray
    """End of each step (profile) or line cycle (waveform). [s]"""
    element_power_w: FloatArray
    """Measured active power per element and step, (elements, n); zero while unpowered. [W]"""
    element_energy_wh: FloatArray
    """Registered energy per element and step, signed. [Wh]"""
    delivered_wh: FloatArray
    """Energy added to the total (delivered) register per step. [Wh]"""
    received_wh: FloatArray
    """Energy added to the received register per step. [Wh]"""
    supply_ok: NDArray[np.bool_]
    """Whether the meter was powered (L1 supply above its drop-out) in each step."""
    edges: RunEdges
    """State changes of each output (``"10"``, ``"100"``, ``"1000"``, ``"counter"``) and the load LED
    (``"LOAD"``)."""

    @property
    def end_s(self) -> float:
        """End of the run. [s]"""
        return float(self.step_end_s[-1]) if self.step_end_s.size else self.start_s

    def closures(self, output: str) -> int:
        """Closures (pulses as a receiver counts them) on an output during the run. [1]"""
        return self.edges.closures(output)


class RunEdges(Mapping[str, PulseEdges]):
    """
    The pulse edges of a run, output by output, computed on first access and kept.

    A run's registers and output states are exact without them; the edge times are there, exact,
    for whoever reads them (an MDT counting pulses on output "10", a test, the LED timeline), and a
    long run does not pay for the edges of outputs nobody reads.

    Parameters
    ----------
    times_s : ndarray
        Start of the run, then the end of each step. [s]
    cumulative_wh : ndarray
        Total register at each of those times. [Wh]
    kh_wh : dict of str to float
        Each output's Kh (Kt for ``"LOAD"``). [Wh]
    edge_range : dict of float to (int, int)
        Per Kh, the exact edge counts before and after the run. [1]
    """

    def __init__(
        self,
        times_s: FloatArray,
        cumulative_wh: FloatArray,
        kh_wh: dict[str, float],
        edge_range: dict[float, tuple[int, int]],
    ) -> None:
        self._times = times_s
        self._cumulative = cumulative_wh
        self._kh = dict(kh_wh)
        self._range = dict(edge_range)
        self._cache: dict[float, PulseEdges] = {}

    def __getitem__(self, output: str) -> PulseEdges:
        kh = self._kh[output]
        if kh not in self._cache:
            self._cache[kh] = pulse_edges_by_kh(
                self._times, self._cumulative, [kh], edge_range={kh: self._range[kh]}
            )[kh]
        return self._cache[kh]

    def __iter__(self) -> Iterator[str]:
        return iter(self._kh)

    def __len__(self) -> int:
        return len(self._kh)

    def count(self, output: str) -> int:
        """State changes of an output during the run, without computing their times. [1]"""
        first, last = self._range[self._kh[output]]
        return last - first

    def closures(self, output: str) -> int:
        """Closures (odd edge numbers) of an output during the run, without their times. [1]"""
        first, last = self._range[self._kh[output]]
        return (last + 1) // 2 - (first + 1) // 2

    def head(self, output: str, n: int) -> PulseEdges:
        """The first ``n`` edges of an output (all, if fewer), computing only those."""
        kh = self._kh[output]
        if kh in self._cache:
            edges = self._cache[kh]
            return edges[:n]
        first, last = self._range[kh]
        return pulse_edges_by_kh(
            self._times, self._cumulative, [kh], edge_range={kh: (first, min(last, first + n))}
        )[kh]

    def last(self, output: str, n: int) -> PulseEdges:
        """The last ``n`` edges of an output (all, if fewer), computing only those."""
        kh = self._kh[output]
        if kh in self._cache:
            edges = self._cache[kh]
            return edges[-n:]
        first, last = self._range[kh]
        return pulse_edges_by_kh(
            self._times, self._cumulative, [kh], edge_range={kh: (max(first, last - n), last)}
        )[kh]


@dataclass(frozen=True)
class SteadyCondition:
    """
    A steady load on the meter's lines.

    Parameters
    ----------
    voltage_v : tuple of float
        RMS voltage of each line to neutral (one per element). [V]
    current_a : tuple of float
        RMS current of each line's load. [A]
    phase_deg : tuple of float
        Lag of each line's load current behind its voltage. [deg]
    frequency_hz : float
        Line frequency. [Hz]
    harmonics : tuple of Harmonic
        Harmonics of voltage and current (waveform path only).
    """

    voltage_v: tuple[float, ...]
    current_a: tuple[float, ...]
    phase_deg: tuple[float, ...]
    frequency_hz: float = 60.0
    harmonics: tuple[Harmonic, ...] = ()

    def __post_init__(self) -> None:
        if not (len(self.voltage_v) == len(self.current_a) == len(self.phase_deg)) or not self.voltage_v:
            raise ValueError(
                "voltage_v, current_a and phase_deg must have one entry per line, "
                f"got {self.voltage_v!r}, {self.current_a!r}, {self.phase_deg!r}"
            )
        for name in ("voltage_v", "current_a", "phase_deg"):
            for value in getattr(self, name):
                if not np.isfinite(value):
                    raise ValueError(f"{name} must be finite, got {value!r}")
        if any(v < 0 for v in self.voltage_v) or any(i < 0 for i in self.current_a):
            raise ValueError(
                f"voltage_v and current_a must be >= 0, got {self.voltage_v!r}, {self.current_a!r}"
            )
        if not (np.isfinite(self.frequency_hz) and self.frequency_hz > 0):
            raise ValueError(f"frequency_hz must be finite and > 0, got {self.frequency_hz!r}")
        # ratings outside the catalog are refused (certificate p.1, manual §3.1); a voltage outside
        # 102–138 V is accepted, as a wrong supply is something the meter diagnoses
        for current in self.current_a:
            check_current_primary(current)
        check_frequency(self.frequency_hz)

    @property
    def true_power_w(self) -> float:
        """Active power the load draws, harmonics included, summed over the lines. [W]"""
        total = 0.0
        for v, i, phi in zip(self.voltage_v, self.current_a, self.phase_deg, strict=True):
            total += v * i * float(np.cos(np.deg2rad(phi)))
            for h in self.harmonics:
                total += (
                    v * h.voltage_fraction * i * h.current_fraction * float(np.cos(np.deg2rad(h.phase_deg)))
                )
        return total


@dataclass(frozen=True)
class SteadyResult:
    """What a steady run showed: energies, outputs, LEDs, LCD and diagnosis."""

    model: str
    serial: str
    path: Literal["profile", "waveform"]
    condition: SteadyCondition
    duration_s: float
    """Length of the run. [s]"""
    true_energy_wh: float
    """Energy the load drew. [Wh]"""
    registered_energy_wh: float
    """Increase of the total register, residue included. [Wh]"""
    received_energy_wh: float
    """Increase of the received register. [Wh]"""
    pulses: dict[str, int]
    """Closures on each output during the run. [1]"""
    load_led_changes: int
    """State changes of the load LED during the run. [1]"""
    load_led_change_times_s: tuple[float, ...]
    """The first few change times of the load LED, from the start of the run. [s]"""
    power_led_lit: bool
    lcd: tuple[LcdScreen, ...]
    """Boot screen, then the rotation."""
    findings: tuple[Finding, ...]
    measurements: tuple[ElementMeasurement, ...]
    demand_kw: float | None
    """Last completed 15-minute block demand. [kW]"""
    power_kw: float
    """Instantaneous power at the end of the run. [kW]"""

    @property
    def percent_registration(self) -> float:
        """Registered energy over true energy × 100 (NaN without true energy). [%]"""
        if self.true_energy_wh == 0:
            return float("nan")
        return self.registered_energy_wh / self.true_energy_wh * 100.0

    @property
    def error_percent(self) -> float:
        """Percent registration − 100. [%]"""
        return self.percent_registration - 100.0


class Meter:
    """
    A Mini Meter twin (certificate 5361(b)-09; manual §2–§4).

    Parameters
    ----------
    model : str or MeterSpec
        Model designation, e.g. ``"MM-D1202001-T-SCC"`` (certificate p.1).
    serial : str
        Serial number, shown on the LCD upon boot (manual Table 3).
    ct : CurrentTransformer, optional
        The CTs' error model; default the catalog's 200:0.1 A class 0.3 CT.
    calibration : Calibration, optional
        Gain and phase compensation; default the factory calibration at TA (30 A).
    front_end : FrontEnd, optional
        Sample rate and ADCs of the waveform path.
    service : Service
        The service a dual-element meter is on (120/240 V split phase or 120/208 V network).
    wiring : tuple of ElementWiring, optional
        Per element; default wired as the manual requires.
    starting_current_a : float
        No-load threshold: below it an element registers nothing. [A]
    ct_ratio_installed : float, optional
        Ratio of the CTs actually on the conductors, primary / secondary, when they are not of the
        designation's ratio (a CT of another ratio fitted by mistake; the meter is approved with
        200:0.1 A CTs only, certificate p.1). The meter keeps scaling its current channel by the
        designation's ratio, so it measures ``spec.ct_ratio / ct_ratio_installed`` times the primary
        current, starting threshold included. The installed CT is modelled as the ``ct`` error model
        with its rating scaled by the same factor (a CT of the same design and another ratio). Default:
        the designation's ratio, no fault. [1]
    supply_dropout_v : float
        L1 voltage below which the meter's supply (from L1 and N, certificate p.2) cannot run it: no
        registration, LCD dark. [V]
    start : datetime
        Wall time of ``time_s = 0`` (UTC).
    provision : Provision
        Sealing provision, old or new (certificate p.2).
    sealed : bool
        Apply the factory and installation seals at ``start`` (a meter in service).
    led_timeline_limit : int
        How many load-LED changes the timeline keeps. [1]
    """

    def __init__(
        self,
        model: str | MeterSpec = "MM-D1202001-T-SCC",
        *,
        serial: str = "MM00000001",
        ct: CurrentTransformer | None = None,
        calibration: Calibration | None = None,
        front_end: FrontEnd | None = None,
        service: Service = Service.SPLIT_PHASE,
        wiring: Sequence[ElementWiring] | None = None,
        starting_current_a: float = 0.1,
        ct_ratio_installed: float | None = None,
        supply_dropout_v: float = 85.0,
        start: datetime = DEFAULT_START,
        provision: Provision = Provision.NEW,
        sealed: bool = True,
        led_timeline_limit: int = 10_000,
    ) -> None:
        self.spec: MeterSpec = model if isinstance(model, MeterSpec) else decode_meter(model)
        if not isinstance(serial, str) or not serial.strip():
            raise ValueError(f"serial must be a non-empty string, got {serial!r}")
        self.serial = serial
        self.elements: int = self.spec.elements
        self.ct = (
            ct
            if ct is not None
            else CurrentTransformer(primary_a=self.spec.ct_primary_a, secondary_a=self.spec.ct_secondary_a)
        )
        if abs(self.ct.ratio - self.spec.ct_ratio) > 1e-9 * self.spec.ct_ratio:
            raise ValueError(
                f"ct ratio {self.ct.ratio} does not match the designation's {self.spec.ct_ratio}"
            )
        ratings = self.spec.ratings
        self.calibration = (
            calibration if calibration is not None else factory_calibration(self.ct, ratings.test_amperes_a)
        )
        self.front_end = front_end if front_end is not None else FrontEnd()
        self.service = Service(service)
        self.wiring = (
            tuple(wiring) if wiring is not None else tuple(ElementWiring() for _ in range(self.elements))
        )
        if len(self.wiring) != self.elements:
            raise ValueError(f"wiring must have {self.elements} entries, got {len(self.wiring)}")
        if not (np.isfinite(starting_current_a) and starting_current_a >= 0):
            raise ValueError(f"starting_current_a must be finite and >= 0, got {starting_current_a!r}")
        self.starting_current_a = float(starting_current_a)
        if ct_ratio_installed is not None and not (
            isinstance(ct_ratio_installed, int | float)
            and not isinstance(ct_ratio_installed, bool)
            and np.isfinite(ct_ratio_installed)
            and ct_ratio_installed > 0
        ):
            raise ValueError(f"ct_ratio_installed must be finite and > 0, got {ct_ratio_installed!r}")
        self.ct_ratio_installed = (
            float(self.spec.ct_ratio) if ct_ratio_installed is None else float(ct_ratio_installed)
        )
        self._ct_current_scale = float(self.spec.ct_ratio) / self.ct_ratio_installed
        if not (np.isfinite(supply_dropout_v) and supply_dropout_v > 0):
            raise ValueError(f"supply_dropout_v must be finite and > 0, got {supply_dropout_v!r}")
        self.supply_dropout_v = float(supply_dropout_v)
        if start.tzinfo is None or start.utcoffset() != timedelta(0):
            raise ValueError(f"start must be a timezone-aware UTC datetime, got {start!r}")
        self.start = start
        self.outputs_kh_wh = {**ISOLATED_OUTPUTS_KH_WH, "counter": float(self.spec.counter_kh_wh)}
        self.load_led_kt_wh = float(ratings.load_led_kt_wh)

        self.time_s = 0.0
        self.element_registers = [EnergyRegister(signed=True) for _ in range(self.elements)]
        self.delivered = EnergyRegister(signed=False)
        self.received = EnergyRegister(signed=False)
        # demand intervals end on :00, :15, :30, :45 UTC (docs/conventions.md): the register's clock
        # counts from the start's UTC midnight
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        self.demand_offset_s = (start - midnight).total_seconds()
        self.demand = DemandRegister(start_s=self.demand_offset_s)
        self.power_led = PowerLed()
        if not (isinstance(led_timeline_limit, int) and led_timeline_limit > 0):
            raise ValueError(f"led_timeline_limit must be a positive int, got {led_timeline_limit!r}")
        self._led_limit = led_timeline_limit
        self._led_times = np.zeros(0)
        self._led_lit = np.zeros(0, dtype=bool)
        self.audit = MeterAudit()
        self._powered_since_s: float | None = None
        self._measurements: tuple[ElementMeasurement, ...] = ()
        self._frequency_hz: float | None = None
        self._power_w = 0.0
        self._dsp: LineCycleMeter | None = None
        self._dsp_origin_s = 0.0
        self._partial_net_wh = 0.0  # net energy of partial windows not yet given to a whole cycle
        self._last_codes: tuple[FloatArray, FloatArray] | None = None
        self.audit.change_calibration("gain", 1.0, self.calibration.gain, actor="factory", at=start)
        self.audit.change_calibration(
            "phase_compensation_min", 0.0, self.calibration.phase_compensation_min, actor="factory", at=start
        )
        if sealed:
            for seal in standard_seals(provision, applied_at=start, applied_by="factory"):
                self.audit.apply_seal(seal)

    # ----------------------------------------------------------------------------------------------
    # clock
    # ----------------------------------------------------------------------------------------------

    def wall_time(self, time_s: float) -> datetime:
        """Wall time (UTC) of a time on the meter's clock."""
        return self.start + timedelta(seconds=float(time_s))

    # ----------------------------------------------------------------------------------------------
    # calibration (the two metrologically adjustable components under the factory seal)
    # ----------------------------------------------------------------------------------------------

    def calibrate(
        self,
        *,
        gain: float | None = None,
        phase_compensation_min: float | None = None,
        actor: str,
        at: datetime | None = None,
    ) -> Calibration:
        """
        Adjust the gain or phase compensation; refused (SealError) while a factory seal is intact.

        Parameters
        ----------
        gain : float, optional
            New gain. [1]
        phase_compensation_min : float, optional
            New phase compensation at 60 Hz. [min]
        actor : str
            Who adjusts.
        at : datetime, optional
            When; default the meter's current wall time.

        Returns
        -------
        Calibration
            The calibration now in force.
        """
        when = at if at is not None else self.wall_time(self.time_s)
        new = Calibration(
            gain=self.calibration.gain if gain is None else gain,
            phase_compensation_min=(
                self.calibration.phase_compensation_min
                if phase_compensation_min is None
                else phase_compensation_min
            ),
        )
        if gain is not None:
            self.audit.change_calibration("gain", self.calibration.gain, new.gain, actor=actor, at=when)
        if phase_compensation_min is not None:
            self.audit.change_calibration(
                "phase_compensation_min",
                self.calibration.phase_compensation_min,
                new.phase_compensation_min,
                actor=actor,
                at=when,
            )
        self.calibration = new
        if self._dsp is not None:
            self._dsp.calibration = new
        return new

    # ----------------------------------------------------------------------------------------------
    # the profile path
    # ----------------------------------------------------------------------------------------------

    def run_profile(
        self,
        *,
        step_s: float,
        voltage_v: ArrayLike,
        current_a: ArrayLike,
        phase_deg: ArrayLike,
        frequency_hz: ArrayLike = 60.0,
    ) -> RunResult:
        """
        Run the meter over time series of its lines' voltage, load current and phase (profile path).

        Parameters
        ----------
        step_s : float
            Step length; power is constant within a step. [s]
        voltage_v : array-like, shape (lines, n), or (n,) on a single-element meter
            RMS voltage of each line to neutral. [V]
        current_a : array-like, same shape
            RMS current of each line's load. [A]
        phase_deg : array-like, same shape
            Lag of each line's current behind its voltage. [deg]
        frequency_hz : array-like
            Line frequency, scalar or per step. [Hz]

        Returns
        -------
        RunResult
        """
        if not (np.isfinite(step_s) and step_s > 0):
            raise ValueError(f"step_s must be finite and > 0, got {step_s!r}")
        v, i, phi = (
            self._lines(name, x)
            for name, x in (("voltage_v", voltage_v), ("current_a", current_a), ("phase_deg", phase_deg))
        )
        if not (v.shape == i.shape == phi.shape):
            raise ValueError(
                "voltage_v, current_a and phase_deg must have one shape, "
                f"got {v.shape}, {i.shape}, {phi.shape}"
            )
        n = v.shape[1]
        f = np.asarray(frequency_hz, dtype=np.float64)
        if f.ndim > 1 or (f.ndim == 1 and f.size != n):
            raise ValueError(f"frequency_hz must be a scalar or have {n} entries, got shape {f.shape}")
        f = np.broadcast_to(f, (n,))
        if not np.all(np.isfinite(f)) or np.any(f <= 0):
            raise ValueError(f"frequency_hz must be finite and > 0, got {frequency_hz!r}")
        inputs = element_inputs(
            elements=self.elements,
            service=self.service,
            wiring=self.wiring,
            line_voltage_v=v,
            line_current_a=i,
            line_phase_deg=phi,
        )
        self._check_ratings(i, f)
        # the lag of each element's current behind its voltage; unwrapped, as only its cosine counts
        phase = inputs.voltage_angle_deg - inputs.current_angle_deg
        # the current the meter's channel sees, scaled when a CT of another ratio is installed
        metered_a = inputs.current_a * self._ct_current_scale
        measured_w = registered_power_w(
            inputs.voltage_v,
            metered_a,
            phase,
            f,
            ct=self.ct,
            calibration=self.calibration,
            starting_current_a=self.starting_current_a,
        )
        supply_ok = inputs.voltage_v[0] >= self.supply_dropout_v
        power = np.where(supply_ok, measured_w, 0.0)
        start_s = self.time_s
        step_end_s = start_s + step_s * np.arange(1, n + 1, dtype=np.float64)
        result = self._register(
            "profile",
            start_s,
            step_end_s,
            power,
            power * (step_s / SECONDS_PER_HOUR),
            supply_ok,
            inputs.voltage_v,
        )
        if n:
            self._frequency_hz = float(f[-1])
            last = element_power(
                inputs.voltage_v[:, -1],
                metered_a[:, -1],
                phase[:, -1],
                f[-1],
                ct=self.ct,
                calibration=self.calibration,
                starting_current_a=self.starting_current_a,
            )
            running = bool(supply_ok[-1])  # an unpowered meter measures nothing
            current = last.current_a if running else np.zeros(self.elements)
            self._measurements = self._measurements_from_inputs(inputs, power[:, -1], current)
        return result

    def _check_ratings(self, current_a: FloatArray, frequency_hz: FloatArray) -> None:
        """Refuse currents and frequencies outside the catalog ratings (certificate p.1, manual §3.1)."""
        ratings = self.spec.ratings
        if current_a.size:
            check_current_primary(float(current_a.max()), ratings=ratings)
            check_current_primary(float(current_a.min()), ratings=ratings)
        if frequency_hz.size:
            check_frequency(float(frequency_hz.max()), ratings=ratings)
            check_frequency(float(frequency_hz.min()), ratings=ratings)

    def _lines(self, name: str, values: ArrayLike) -> FloatArray:
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim == 1 and self.elements == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[0] != self.elements:
            raise ValueError(f"{name} must have shape ({self.elements}, n), got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite (no NaN or infinity)")
        return arr

    def _measurements_from_inputs(
        self, inputs: ElementInputs, power_w: FloatArray, current_a: FloatArray
    ) -> tuple[ElementMeasurement, ...]:
        return tuple(
            ElementMeasurement(
                element=e + 1,
                voltage_v=float(inputs.voltage_v[e, -1]),
                voltage_angle_deg=float(inputs.voltage_angle_deg[e, -1]),
                current_a=float(np.abs(current_a[e])),
                current_angle_deg=float(inputs.current_angle_deg[e, -1]),
                power_w=float(power_w[e]),
            )
            for e in range(self.elements)
        )

    # ----------------------------------------------------------------------------------------------
    # the waveform path
    # ----------------------------------------------------------------------------------------------

    def run_waveform(
        self, voltage_codes: ArrayLike, current_codes: ArrayLike, *, final: bool = False
    ) -> RunResult:
        """
        Run the meter on a block of ADC codes at its terminals (waveform path).

        Consecutive calls are one stream; ``final=True`` ends it (the carried partial cycle is measured
        too) and the next call starts a new stream at the meter's current time.

        Parameters
        ----------
        voltage_codes : array-like, shape (elements, n), or (n,) on a single-element meter
            Voltage channel codes. [LSB]
        current_codes : array-like, same shape
            CT-secondary current channel codes. [LSB]
        final : bool
            End the stream after this block.

        Returns
        -------
        RunResult
            One step per line cycle completed by this block.
        """
        if self._dsp is None:
            self._dsp = LineCycleMeter(
                front_end=self.front_end,
                ct_ratio=self.ct.ratio,
                calibration=self.calibration,
                elements=self.elements,
                starting_current_a=self.starting_current_a,
            )
            self._dsp_origin_s = self.time_s
        dsp = self._dsp
        block = dsp.process(voltage_codes, current_codes)
        v = np.asarray(voltage_codes, dtype=np.float64).reshape(self.elements, -1)
        i = np.asarray(current_codes, dtype=np.float64).reshape(self.elements, -1)
        if final:
            tail = dsp.flush()
            block = _join_blocks(block, tail)
            self._dsp = None
        if v.shape[1]:
            self._last_codes = (v, i)
        return self._register_cycles(block, final=final)

    def _register_cycles(self, block: CycleBlock, *, final: bool) -> RunResult:
        start_s = self.time_s
        if block.n_cycles == 0:
            empty = np.empty(0)
            return self._register(
                "waveform",
                start_s,
                empty,
                np.empty((self.elements, 0)),
                np.empty((self.elements, 0)),
                np.empty(0, dtype=bool),
                np.empty((self.elements, 0)),
            )
        step_end_s = self._dsp_origin_s + block.end_s
        supply_ok = block.voltage_v[0] >= self.supply_dropout_v
        power = np.where(supply_ok, block.power_w, 0.0)
        energy = np.where(supply_ok, block.energy_wh, 0.0)
        net = self._net_by_whole_cycles(energy.sum(axis=0), block.complete, final=final)
        result = self._register(
            "waveform", start_s, step_end_s, power, energy, supply_ok, block.voltage_v, net_wh=net
        )
        complete = np.flatnonzero(block.complete)
        last = int(complete[-1]) if complete.size else block.n_cycles - 1
        if complete.size:
            self._frequency_hz = float(block.frequency_hz[last])
        self._power_w = float(power[:, last].sum())
        self._measurements = self._measurements_from_cycles(block, last)
        return result

    def _measurements_from_cycles(self, block: CycleBlock, last: int) -> tuple[ElementMeasurement, ...]:
        """Per-element measurement from the last whole cycle, angles from phasors of the last samples."""
        voltage_angle = np.zeros(self.elements)
        current_angle = np.zeros(self.elements)
        if self._last_codes is not None and self._frequency_hz is not None:
            v, i = self._last_codes
            vp, ip = phasors(v, i, self.front_end.sample_rate_hz, self._frequency_hz)
            ref = np.angle(vp[0]) if abs(vp[0]) > 0 else 0.0
            theta = self.calibration.phase_compensation_rad(self._frequency_hz)
            voltage_angle = wrap_deg(np.rad2deg(np.angle(vp) - ref))
            current_angle = wrap_deg(np.rad2deg(np.angle(ip) - ref - theta))
        return tuple(
            ElementMeasurement(
                element=e + 1,
                voltage_v=float(block.voltage_v[e, last]),
                voltage_angle_deg=float(voltage_angle[e]),
                current_a=float(block.current_a[e, last]),
                current_angle_deg=float(current_angle[e]),
                power_w=float(block.power_w[e, last]),
            )
            for e in range(self.elements)
        )

    # ----------------------------------------------------------------------------------------------
    # registration, shared by both paths
    # ----------------------------------------------------------------------------------------------

    def _net_by_whole_cycles(
        self, net: FloatArray, complete: NDArray[np.bool_], *, final: bool
    ) -> FloatArray:
        """
        The net energy of each window, with the partial windows' moved into the next whole cycle.

        The delivered and received registers split the net energy by its sign window by window. A
        partial window (the samples before a stream's first zero crossing, or after its last) is a
        fraction of a cycle, whose net can be negative on a lagging load though the load draws power:
        its energy joins the next whole cycle (across calls if need be), and at the end of a stream
        the last whole cycle, so that the split is made over whole cycles only.
        """
        whole = np.flatnonzero(complete)
        moved = net.copy()
        partial = np.flatnonzero(~complete)
        moved[partial] = 0.0
        if whole.size:
            into = np.searchsorted(whole, partial, side="left")
            inside = into < whole.size
            np.add.at(moved, whole[into[inside]], net[partial[inside]])
            moved[whole[0]] += self._partial_net_wh
            self._partial_net_wh = float(net[partial[~inside]].sum())
        else:
            self._partial_net_wh += float(net.sum())
        if final and moved.size:
            last = int(whole[-1]) if whole.size else moved.size - 1
            moved[last] += self._partial_net_wh
            self._partial_net_wh = 0.0
        return moved

    def _register(
        self,
        path: Literal["profile", "waveform"],
        start_s: float,
        step_end_s: FloatArray,
        power_w: FloatArray,
        element_energy_wh: FloatArray,
        supply_ok: NDArray[np.bool_],
        line_voltage_v: FloatArray,
        net_wh: FloatArray | None = None,
    ) -> RunResult:
        if net_wh is None:
            net_wh = element_energy_wh.sum(axis=0)
        delivered = np.maximum(net_wh, 0.0)
        received = np.maximum(-net_wh, 0.0)
        times = np.concatenate(([start_s], step_end_s))
        before = self.delivered.value_wh
        cumulative = np.concatenate(([before], before + np.cumsum(delivered)))
        kh_values = (*self.outputs_kh_wh.values(), self.load_led_kt_wh)
        first = {kh: self._exact_edges(kh) for kh in kh_values}

        for register, energy in zip(self.element_registers, element_energy_wh, strict=True):
            register.add_many(energy)
        self.delivered.add_many(delivered)
        self.received.add_many(received)
        # the edges run from the exact register's count before to its count after, so consecutive
        # runs emit every edge once, wherever the float curve and the register differ in the last bit
        edges = RunEdges(
            times,
            cumulative,
            {**self.outputs_kh_wh, "LOAD": self.load_led_kt_wh},
            {kh: (first[kh], self._exact_edges(kh)) for kh in kh_values},
        )
        if step_end_s.size:
            self.demand.add_many(step_end_s + self.demand_offset_s, delivered)
        load = edges.last("LOAD", self._led_limit)
        self._led_times = np.concatenate((self._led_times, load.time_s))[-self._led_limit :]
        self._led_lit = np.concatenate((self._led_lit, load.closing))[-self._led_limit :]
        self._track_power(times, supply_ok, line_voltage_v)
        if step_end_s.size:
            self.time_s = float(step_end_s[-1])
            self._power_w = float(power_w[:, -1].sum())
        return RunResult(
            path=path,
            start_s=start_s,
            step_end_s=step_end_s,
            element_power_w=power_w,
            element_energy_wh=element_energy_wh,
            delivered_wh=delivered,
            received_wh=received,
            supply_ok=supply_ok,
            edges=edges,
        )

    def _track_power(
        self, times: FloatArray, supply_ok: NDArray[np.bool_], line_voltage_v: FloatArray
    ) -> None:
        """POWER LED, power-up/down events and the LCD's boot time, at each change of supply."""
        if supply_ok.size == 0:
            return
        present = np.any(line_voltage_v >= self.power_led.presence_threshold_v, axis=0)
        for k in np.flatnonzero(np.diff(np.concatenate(([self.power_led.lit], present))) != 0):
            self.power_led.update(line_voltage_v[:, k], time_s=float(times[k]))
        state = np.concatenate(([self._powered_since_s is not None], supply_ok))
        for k in np.flatnonzero(np.diff(state.astype(np.int8)) != 0):
            at = self.wall_time(float(times[k]))
            if supply_ok[k]:
                self._powered_since_s = float(times[k])
                self.audit.power_up(at=at)
            else:
                self._powered_since_s = None
                self.audit.power_down(at=at)

    # ----------------------------------------------------------------------------------------------
    # what the meter shows
    # ----------------------------------------------------------------------------------------------

    @property
    def powered(self) -> bool:
        """Whether the meter's supply is proper (LCD lit, registers running)."""
        return self._powered_since_s is not None

    @property
    def power_kw(self) -> float:
        """Instantaneous power, net of the elements, at the end of the last step. [kW]"""
        return self._power_w / 1000.0

    @property
    def measurements(self) -> tuple[ElementMeasurement, ...]:
        """What each element measured at the end of the last run."""
        return self._measurements

    @property
    def reverse_phase(self) -> bool:
        """The LCD's reverse phase indication (manual §3.2, §7)."""
        return bool(self._measurements) and reverse_phase_indicated(self._measurements)

    def lcd(self) -> tuple[LcdScreen, ...]:
        """The LCD's screens: none when dark, else the serial number (boot) and the rotation (Table 3)."""
        if not self.powered:
            return ()
        return (
            boot_screen(self.serial),
            *lcd_screens(
                serial=self.serial,
                total_energy_wh=self.delivered.energy_wh,
                demand_kw=self.demand.block_demand_kw,
                power_kw=self.power_kw,
                reverse_phase=self.reverse_phase,
            ),
        )

    def diagnose(self) -> list[Finding]:
        """Installation diagnostics from the last measurements (manual §4.5, §4.7, §7)."""
        if not self._measurements:
            return []
        return diagnose(self._measurements, elements=self.elements, frequency_hz=self._frequency_hz)

    def output_state(self, output: str) -> bool:
        """Whether an output (``"10"``, ``"100"``, ``"1000"``, ``"counter"``, ``"LOAD"``) is closed (on)."""
        kh = self.load_led_kt_wh if output == "LOAD" else self.outputs_kh_wh.get(output)
        if kh is None:
            raise ValueError(f"output must be one of {[*self.outputs_kh_wh, 'LOAD']}, got {output!r}")
        return self._exact_edges(kh) % 2 == 1

    def _exact_edges(self, kh_wh: float) -> int:
        """State changes of an output since zero energy, from the exact total register. [1]

        A threshold k·Kh/2 counts as reached once the register is within ``EDGE_TOLERANCE_WH`` of it:
        energy increments arrive as floats (200 W for 1 s is 1/18 Wh, not exactly representable), and
        their exact sum may fall a few 1e-11 Wh short of a whole multiple that the load really reached.
        With an integer Kh/2 (5, 50, 500 Wh) the count is then the integer part floor-divided by Kh/2.
        """
        half = kh_wh / 2.0
        energy_wh = self.delivered.energy_wh + (
            1 if self.delivered.residue_wh >= 1.0 - EDGE_TOLERANCE_WH else 0
        )
        if half.is_integer():
            return energy_wh // int(half)
        value = self.delivered.value_wh + EDGE_TOLERANCE_WH
        return int(edge_count(np.asarray([value]), kh_wh)[0])

    @property
    def load_led_changes(self) -> list[LedChange]:
        """The load LED's last changes (up to ``led_timeline_limit``), oldest first."""
        return [LedChange(float(t), bool(c)) for t, c in zip(self._led_times, self._led_lit, strict=True)]

    @property
    def max_demand_time(self) -> datetime | None:
        """End of the 15-minute interval of the maximum demand, as wall time (UTC)."""
        t = self.demand.max_demand_time_s
        return None if t is None else self.wall_time(t - self.demand_offset_s)

    # ----------------------------------------------------------------------------------------------
    # steady runs
    # ----------------------------------------------------------------------------------------------

    def run_steady(
        self,
        condition: SteadyCondition,
        duration_s: float,
        *,
        path: Literal["profile", "waveform"] = "profile",
        step_s: float = 1.0,
        block_s: float = 10.0,
        seed: int = 0,
    ) -> SteadyResult:
        """
        Run the meter at a steady condition and report what it showed.

        Parameters
        ----------
        condition : SteadyCondition
            Voltage, current and phase of each line.
        duration_s : float
            Length of the run. [s]
        path : {"profile", "waveform"}
            Which metrology path.
        step_s : float
            Profile step. [s]
        block_s : float
            Waveform samples are made and measured in blocks of this length. [s]
        seed : int
            Seed of the ADC noise.

        Returns
        -------
        SteadyResult
        """
        if not (np.isfinite(duration_s) and duration_s > 0):
            raise ValueError(f"duration_s must be finite and > 0, got {duration_s!r}")
        if len(condition.voltage_v) != self.elements:
            raise ValueError(
                f"condition must give {self.elements} lines for {self.spec.designation}, "
                f"got {len(condition.voltage_v)}"
            )
        if path not in ("profile", "waveform"):
            raise ValueError(f"path must be 'profile' or 'waveform', got {path!r}")
        start_s = self.time_s
        delivered_before = self.delivered.value_wh
        received_before = self.received.value_wh
        if path == "profile":
            if not (np.isfinite(step_s) and step_s > 0):
                raise ValueError(f"step_s must be finite and > 0, got {step_s!r}")
            n = max(1, round(duration_s / step_s))
            step = duration_s / n
            ones = np.ones((self.elements, n))
            results = [
                self.run_profile(
                    step_s=step,
                    voltage_v=np.asarray(condition.voltage_v)[:, None] * ones,
                    current_a=np.asarray(condition.current_a)[:, None] * ones,
                    phase_deg=np.asarray(condition.phase_deg)[:, None] * ones,
                    frequency_hz=condition.frequency_hz,
                )
            ]
        else:
            results = self._steady_waveform(condition, duration_s, block_s, seed)
        duration = self.time_s - start_s
        load_times = np.concatenate([r.edges.head("LOAD", 8).time_s for r in results])[:8] - start_s
        load_changes = sum(r.edges.count("LOAD") for r in results)
        return SteadyResult(
            model=self.spec.designation,
            serial=self.serial,
            path=path,
            condition=condition,
            duration_s=duration,
            true_energy_wh=condition.true_power_w * duration / SECONDS_PER_HOUR,
            registered_energy_wh=self.delivered.value_wh - delivered_before,
            received_energy_wh=self.received.value_wh - received_before,
            pulses={name: sum(r.closures(name) for r in results) for name in self.outputs_kh_wh},
            load_led_changes=load_changes,
            load_led_change_times_s=tuple(float(t) for t in load_times[:8]),
            power_led_lit=self.power_led.lit,
            lcd=self.lcd(),
            findings=tuple(self.diagnose()),
            measurements=self._measurements,
            demand_kw=self.demand.block_demand_kw,
            power_kw=self.power_kw,
        )

    def _steady_waveform(
        self, condition: SteadyCondition, duration_s: float, block_s: float, seed: int
    ) -> list[RunResult]:
        if not (np.isfinite(block_s) and block_s > 0):
            raise ValueError(f"block_s must be finite and > 0, got {block_s!r}")
        fs = self.front_end.sample_rate_hz
        total = max(1, round(duration_s * fs))
        per_block = max(1, round(block_s * fs))
        inputs = element_inputs(
            elements=self.elements,
            service=self.service,
            wiring=self.wiring,
            line_voltage_v=np.asarray(condition.voltage_v),
            line_current_a=np.asarray(condition.current_a),
            line_phase_deg=np.asarray(condition.phase_deg),
        )
        rng = np.random.default_rng(seed)
        results = []
        done = 0
        while done < total:
            n = min(per_block, total - done)
            v = np.empty((self.elements, n))
            i = np.empty((self.elements, n))
            for e in range(self.elements):
                signal = synthesize_element(
                    n,
                    fs,
                    voltage_v=float(inputs.voltage_v[e, 0]),
                    current_a=float(inputs.current_a[e, 0]) * self._ct_current_scale,
                    phase_deg=float(inputs.phase_deg[e, 0]),
                    frequency_hz=condition.frequency_hz,
                    voltage_angle_deg=float(inputs.voltage_angle_deg[e, 0]),
                    harmonics=condition.harmonics,
                    ct=self.ct,
                    start_time_s=done / fs,
                )
                v[e] = self.front_end.voltage.sample(signal.voltage_v, rng)
                i[e] = self.front_end.current.sample(signal.current_secondary_a, rng)
            done += n
            results.append(self.run_waveform(v, i, final=done >= total))
        return results


def _join_blocks(a: CycleBlock, b: CycleBlock) -> CycleBlock:
    if b.n_cycles == 0:
        return a
    if a.n_cycles == 0:
        return b
    return CycleBlock(
        start_s=np.concatenate((a.start_s, b.start_s)),
        duration_s=np.concatenate((a.duration_s, b.duration_s)),
        complete=np.concatenate((a.complete, b.complete)),
        frequency_hz=np.concatenate((a.frequency_hz, b.frequency_hz)),
        voltage_v=np.concatenate((a.voltage_v, b.voltage_v), axis=1),
        current_a=np.concatenate((a.current_a, b.current_a), axis=1),
        power_w=np.concatenate((a.power_w, b.power_w), axis=1),
        reactive_var=np.concatenate((a.reactive_var, b.reactive_var), axis=1),
        apparent_va=np.concatenate((a.apparent_va, b.apparent_va), axis=1),
        energy_wh=np.concatenate((a.energy_wh, b.energy_wh), axis=1),
    )
