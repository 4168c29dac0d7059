"""A site's meters feeding its AMR mesh: each MDT wired to a meter twin's output "10" (manual §5.1).

:class:`MeterFeed` runs one Mini Meter twin per MDT on a tenant's load profile (profile path); as a
:class:`~meshmeter.site.feed.RegisterFeed` it hands each MDT the exact edges of its meter's output "10" a
slice of time at a time, as the MDT's pulse input sees them. :func:`simulate_site` builds a campus site,
its mesh and its meters, runs it and returns the Commissioning and Installation Tool report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from meshmeter.amr.cit import CitReport, cit_report
from meshmeter.amr.network import MeshNetwork, NetworkConfig, Outage, RepeaterFailure
from meshmeter.amr.topology import campus_layout
from meshmeter.meter.twin import Meter
from meshmeter.site.feed import RegisterFeed, register_curve
from meshmeter.site.profiles import residential_profile

__all__ = ["MeterFeed", "SiteRun", "simulate_site"]

FloatArray = NDArray[np.float64]


class MeterFeed(RegisterFeed):
    """
    One meter twin per MDT, run on a tenant's load; the edges of its output "10" on demand.

    A :class:`~meshmeter.site.feed.RegisterFeed` of the meters' runs: the meters share one time grid
    (the profile's steps), so the network's day at a time goes every meter at once.

    Parameters
    ----------
    mdts : int
        Meters (one per MDT). [1]
    duration_s : float
        Run time to cover. [s]
    seed : int
        Seed of the tenants' loads (each meter its own).
    step_s : float
        Profile step of the meter twins (power constant within a step, edges exact within it). [s]
    model : str
        The meters' designation.
    epoch_s : float
        Network time of the run's start: ``feed(number, t0, t1)`` takes network times. [s]
    """

    def __init__(
        self,
        *,
        mdts: int,
        duration_s: float,
        seed: int = 0,
        step_s: float = 900.0,
        model: str = "MM-D1202001-T-SCC",
        epoch_s: float = 0.0,
    ) -> None:
        if isinstance(mdts, bool) or not isinstance(mdts, int) or mdts < 0:
            raise ValueError(f"mdts must be an int >= 0, got {mdts!r}")
        if not (np.isfinite(duration_s) and duration_s > 0):
            raise ValueError(f"duration_s must be finite and > 0, got {duration_s!r}")
        days = duration_s / 86_400.0 + 1.0
        times: list[FloatArray] = []
        cumulative: list[FloatArray] = []
        for k in range(mdts):
            profile = residential_profile(days=days, step_s=step_s, lines=2, seed=seed * 100_003 + k)
            meter = Meter(model, serial=f"MM{k:08d}")
            run = meter.run_profile(
                step_s=step_s,
                voltage_v=profile.voltage_v,
                current_a=profile.current_a,
                phase_deg=profile.phase_deg,
            )
            t, e = register_curve(run)
            times.append(t)
            cumulative.append(e)
        super().__init__(times, cumulative, epoch_s=epoch_s, duration_s=duration_s)


@dataclass(frozen=True)
class SiteRun:
    """A simulated site: its network (for inspection) and its CIT report."""

    network: MeshNetwork
    report: CitReport
    setup_s: float
    """Wall time spent building the site, its meters and radio links. [s]"""
    run_cpu_s: float = float("nan")
    """CPU time of this process during the network's run (the report's ``wall_s`` is its wall time): on a
    machine shared with other work, the wall time the run would take alone. [s]"""


def simulate_site(
    *,
    mdts: int,
    repeaters: int,
    days: float,
    seed: int = 0,
    report_minutes: int = 15,
    power_order: Literal["near-first", "far-first"] = "near-first",
    outages: tuple[Outage, ...] = (),
    failures: tuple[RepeaterFailure, ...] = (),
    drain_s: float = 3600.0,
    config: NetworkConfig | None = None,
) -> SiteRun:
    """
    Build a campus site with one meter twin per MDT, run its mesh, and report.

    Parameters
    ----------
    mdts, repeaters : int
        Devices. [1]
    days : float
        Simulated days whose intervals count. [day]
    seed : int
        Seed of the site, loads and radio.
    report_minutes : int
        MDT report period: 15 (every interval) or a multiple of 15. [min]
    power_order : {"near-first", "far-first"}
        Order in which the repeaters are powered (manual §5.2).
    outages, failures
        DCAP outages and repeater failures.
    drain_s : float
        Run time after the last counted interval, for late data. [s]
    config : NetworkConfig, optional
        Mesh parameters (``report_period_s`` is set from ``report_minutes``).

    Returns
    -------
    SiteRun
    """
    if not (np.isfinite(days) and days > 0):
        raise ValueError(f"days must be finite and > 0, got {days!r}")
    if (
        isinstance(report_minutes, bool)
        or not isinstance(report_minutes, int)
        or report_minutes <= 0
        or report_minutes % 15
    ):
        raise ValueError(f"report_minutes must be a positive multiple of 15, got {report_minutes!r}")
    started = time.perf_counter()
    duration_s = days * 86_400.0
    base = config if config is not None else NetworkConfig()
    net_config = NetworkConfig(**{**base.__dict__, "report_period_s": report_minutes * 60})
    layout = campus_layout(mdts=mdts, repeaters=repeaters, seed=seed)
    epoch = 1_767_225_600  # 2026-01-01T00:00:00Z
    feed = MeterFeed(mdts=mdts, duration_s=duration_s + drain_s, seed=seed, epoch_s=epoch)
    network = MeshNetwork(
        layout,
        feed,
        config=net_config,
        seed=seed,
        start_epoch_s=epoch,
        power_order=power_order,
        outages=outages,
        failures=failures,
    )
    setup_s = time.perf_counter() - started
    started = time.perf_counter()
    cpu_started = time.process_time()
    network.run(duration_s, drain_s=drain_s)
    wall_s = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started
    return SiteRun(
        network=network,
        report=cit_report(network, duration_s=duration_s, wall_s=wall_s),
        setup_s=setup_s,
        run_cpu_s=cpu_s,
    )
