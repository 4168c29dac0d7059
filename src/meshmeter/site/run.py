"""The run of a whole site from its file: each meter twin on its load, the mesh, the CIT report.

:func:`simulate_site_file` builds the meters of a :class:`~meshmeter.site.config.SiteConfig` (one Mini Meter
twin per meter, run on its load profile), the layout of its radio devices, and the
:class:`~meshmeter.amr.network.MeshNetwork` that carries each MDT's interval records to the DCAP; it runs
the mesh with the site's incidents and returns everything the head-end needs to store: the DCAP's
deliveries and events, each meter's registers, the devices' keys and the CIT report. No I/O: storing is
the caller's (``meshmeter.demo``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from meshmeter.amr.cit import CitReport, cit_report
from meshmeter.amr.network import MeshNetwork
from meshmeter.amr.records import INTERVAL_S
from meshmeter.meter.twin import Meter
from meshmeter.site.config import SiteConfig, SiteMeter, site_seed
from meshmeter.site.feed import Progress, RegisterFeed, register_curve
from meshmeter.site.profiles import (
    HOUSEHOLD_REFERENCE_KWH,
    LineProfile,
    house_profile,
    household_profile,
)
from meshmeter.site.solar import solar_profile

__all__ = ["Progress", "SiteFeed", "SiteSimulation", "meter_profile", "simulate_site_file"]

FloatArray = NDArray[np.float64]


def meter_profile(
    meter: SiteMeter,
    config: SiteConfig,
    *,
    number: int,
    start: datetime,
    days: float,
    step_s: float,
    seed: int,
) -> LineProfile:
    """
    The load a site meter runs on (``docs/site.md``).

    Parameters
    ----------
    meter : SiteMeter
        The meter and its load spec.
    config : SiteConfig
        The site (time zone, latitude and longitude).
    number : int
        The meter's place in the site file; with ``seed`` it seeds a profile without its own seed. [1]
    start : datetime
        Aware first instant.
    days : float
        Length. [day]
    step_s : float
        Step. [s]
    seed : int
        The run's seed, added to each meter's.

    Returns
    -------
    LineProfile
    """
    load = meter.load
    own = load.seed if load.seed is not None else number
    s = (site_seed(config.name) + 1_000_003 * seed + own) % 2**32
    if load.profile == "household":
        annual = HOUSEHOLD_REFERENCE_KWH if load.annual_kwh is None else load.annual_kwh
        return household_profile(
            start=start, days=days, step_s=step_s, timezone=config.timezone, seed=s, annual_kwh=annual
        )
    if load.profile == "house":
        annual = HOUSE_REFERENCE_KWH if load.annual_kwh is None else load.annual_kwh
        return house_profile(
            start=start, days=days, step_s=step_s, timezone=config.timezone, seed=s, annual_kwh=annual
        )
    if load.profile == "solar":
        assert config.latitude_deg is not None
        assert config.longitude_deg is not None
        assert load.dc_capacity_kw is not None
        return solar_profile(
            start=start,
            days=days,
            step_s=step_s,
            latitude_deg=config.latitude_deg,
            longitude_deg=config.longitude_deg,
            dc_capacity_kw=load.dc_capacity_kw,
            ac_capacity_kw=load.ac_capacity_kw,
            tilt_deg=load.tilt_deg,
            azimuth_deg=load.azimuth_deg,
            timezone=config.timezone,
            seed=s,
        )
    n = max(1, round(days * 86_400.0 / step_s))
    return LineProfile(
        step_s=step_s,
        voltage_v=np.full((2, n), 120.0),
        current_a=np.zeros((2, n)),
        phase_deg=np.zeros((2, n)),
    )


HOUSE_REFERENCE_KWH = 30_000.0
"""A house meter's annual consumption when the site file gives none (``house_profile``'s default). [kWh]"""


class SiteFeed(RegisterFeed):
    """
    The site's meter twins, run on their loads; each MDT's pulse input fed from its meter's output "10".

    A :class:`~meshmeter.site.feed.RegisterFeed` of the meters' runs, which also keeps each meter twin
    and what the head-end stores of its run (received energy, last element powers). The meters run on
    one profile step, so they share a time grid and the network's day at a time goes every meter at once.

    Parameters
    ----------
    config : SiteConfig
        The site.
    start : datetime
        Aware UTC start of the run (network time 0). [s]
    duration_s : float
        Run time to cover (the drain included). [s]
    seed : int
        The run's seed.
    step_s : float
        Profile step (power constant within it, pulse edges exact). [s]
    progress : Progress, optional
        Told after each meter (stage ``"meters"``) and at each window the mesh asks for (``"mesh"``).
    """

    def __init__(
        self,
        config: SiteConfig,
        *,
        start: datetime,
        duration_s: float,
        seed: int = 0,
        step_s: float = 300.0,
        progress: Progress | None = None,
    ) -> None:
        times: list[FloatArray] = []
        cumulative: list[FloatArray] = []
        self.received_wh: list[float] = []
        self.last_element_power_w: list[tuple[float, ...]] = []
        self.meters: list[Meter] = []
        days = duration_s / 86_400.0
        total = len(config.meters)
        for k, spec in enumerate(config.meters):
            profile = meter_profile(spec, config, number=k, start=start, days=days, step_s=step_s, seed=seed)
            meter = Meter(spec.designation, serial=spec.serial, start=start.astimezone(UTC))
            run = meter.run_profile(
                step_s=step_s,
                voltage_v=profile.voltage_v,
                current_a=profile.current_a,
                phase_deg=profile.phase_deg,
            )
            self.meters.append(meter)
            t, e = register_curve(run)
            times.append(t)
            cumulative.append(e)
            self.received_wh.append(float(run.received_wh.sum()))
            self.last_element_power_w.append(tuple(float(p) for p in run.element_power_w[:, -1]))
            if progress is not None:
                progress("meters", k + 1, total)
        super().__init__(
            times, cumulative, epoch_s=start.timestamp(), progress=progress, duration_s=duration_s
        )


@dataclass(frozen=True)
class SiteSimulation:
    """A site file run: the config, the window, the network (deliveries, events, keys) and the CIT report."""

    config: SiteConfig
    start: datetime
    """Start of the run, UTC: interval ends from ``start`` (sequence 0) to ``end``."""
    days: float
    seed: int
    network: MeshNetwork
    feed: SiteFeed
    report: CitReport
    wall_s: float
    """Wall time of the mesh run. [s]"""

    @property
    def end(self) -> datetime:
        """End of the counted window, UTC (the drain after it only delivers late data)."""
        return self.start + timedelta(days=self.days)

    def mdt_index(self, number: int) -> int:
        """The network index of meter ``number``'s MDT."""
        return self.network.mdt_indices[number]


def simulate_site_file(
    config: SiteConfig,
    *,
    start: datetime,
    days: float,
    seed: int = 0,
    step_s: float = 300.0,
    drain_s: float = 3600.0,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> SiteSimulation:
    """
    Run a site: its meters on their loads, its mesh formed in the manual's order, its incidents.

    Parameters
    ----------
    config : SiteConfig
        The site.
    start : datetime
        Aware start of the run, on a 15-minute boundary (UTC :00, :15, :30, :45).
    days : float
        Simulated days whose intervals count, 1/96 to 366, rounded to whole 15-minute intervals, and cut
        at the last interval closed by ``now``. [day]
    seed : int
        Seed of the loads and the radio (with the site's name).
    step_s : float
        Profile step of the meter twins. [s]
    drain_s : float
        Run time after the last counted interval, for late data. [s]
    progress : Progress, optional
        Told how far the meters and the mesh have come.
    now : datetime, optional
        Aware present; default the clock's. No interval of the window ends after it: the window stops at
        the last closed interval, the last 15-minute boundary at or before ``now`` (UTC).

    Returns
    -------
    SiteSimulation

    Raises
    ------
    ValueError
        Also when ``start`` leaves no closed interval before ``now``.

    Notes
    -----
    The DCAP is powered at the start, then the repeaters one a minute in the site's power-up order,
    then each MDT at its meter's first pulse (manual §5.2; ``docs/network.md``). The mesh runs on for
    ``drain_s`` after the window only so that late reports of the window's intervals arrive; the MDTs
    also close intervals in the drain (with no pulses fed), which lie past :attr:`SiteSimulation.end` and
    are not the window's (``store_simulation`` keeps the window).
    """
    if not isinstance(start, datetime) or start.tzinfo is None:
        raise ValueError(f"start must be a timezone-aware datetime, got {start!r}")
    epoch = start.timestamp()
    if epoch % INTERVAL_S:
        raise ValueError(f"start must be on a 15-minute boundary, got {start.isoformat()}")
    if isinstance(days, bool) or not (np.isfinite(days) and 1 / 96 <= days <= 366):
        raise ValueError(f"days must be between 1/96 and 366, got {days!r}")
    if not config.meters:
        raise ValueError("the site has no meters to simulate")
    if now is not None and (not isinstance(now, datetime) or now.tzinfo is None):
        raise ValueError(f"now must be a timezone-aware datetime, got {now!r}")
    now_s = (datetime.now(UTC) if now is None else now).timestamp()
    closed = int(now_s // INTERVAL_S) - int(epoch) // INTERVAL_S  # intervals closed by now
    if closed < 1:
        present = datetime.fromtimestamp(now_s, UTC).isoformat(timespec="seconds")
        raise ValueError(
            f"start must leave a closed 15-minute interval before now ({present}), got {start.isoformat()}"
        )
    # whole 15-minute intervals, the window ending on a boundary, and never after now (issue 11)
    intervals = min(round(days * 96), closed)
    days = intervals / 96
    duration_s = float(intervals * INTERVAL_S)
    feed = SiteFeed(
        config,
        start=start,
        duration_s=duration_s + drain_s + 86_400.0,
        seed=seed,
        step_s=step_s,
        progress=progress,
    )
    outages, failures = config.outages_and_failures()
    network = MeshNetwork(
        config.layout(),
        feed,
        seed=(site_seed(config.name) + seed) % 2**31,
        start_epoch_s=int(epoch),
        kit=config.kit,
        power_order=config.power_order,
        outages=outages,
        failures=failures,
    )
    serials = [m.serial for m in config.meters]
    for incident in config.incidents:
        if incident.kind == "tamper" and incident.meter is not None:
            number = serials.index(incident.meter)
            at_s = incident.after_h * 3600.0
            network.schedule_tamper(number, at_s, True)
            if incident.duration_h is not None:
                network.schedule_tamper(number, at_s + incident.duration_h * 3600.0, False)
    feed.duration_s = duration_s
    # each MDT is turned on by its meter's first pulse (manual §5.2), after the backbone has formed: a
    # solar meter's first pulse is at sunrise
    cfg = network.config
    formed_s = len(config.repeaters) * cfg.repeater_power_spacing_s + cfg.mdt_power_delay_s
    never_s = duration_s + drain_s + 1.0
    first_pulse = []
    for number in range(len(config.meters)):
        first = feed.first_pulse_s(number)
        first_pulse.append(never_s if first is None else max(formed_s + 3.0 * number, first + 1.0))
    started = time.perf_counter()
    network.run(duration_s, drain_s=drain_s, first_pulse_s=first_pulse)
    wall_s = time.perf_counter() - started
    if progress is not None:
        progress("mesh", duration_s, duration_s)
    report = cit_report(network, duration_s=duration_s, wall_s=wall_s)
    return SiteSimulation(
        config=config,
        start=start.astimezone(UTC),
        days=float(days),
        seed=seed,
        network=network,
        feed=feed,
        report=report,
        wall_s=wall_s,
    )
