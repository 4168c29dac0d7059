"""Benchmarks of the meter twin's two metrology paths, each beside a plain numpy baseline.

Run from the repository root with the package installed::

    python benchmarks/run.py            # full sizes, best of 5, a table
    python benchmarks/run.py --json     # the same as a JSON document
    python benchmarks/run.py --quick    # tiny sizes, one repeat (the smoke test)
    python benchmarks/run.py --strict   # exit status 1 when a target is missed

Each benchmark is timed with :func:`time.perf_counter` after one untimed warm-up run, as the best of N
repeats; its inputs are made before timing and only the measured operation is timed. Each is printed with a
plain numpy operation over as many samples (the baseline), timed the same way in the same run, and the ratio
benchmark time / baseline time, which is what the targets bound: a ratio travels between machines better than
an absolute figure.

* **waveform**: :class:`~meshmeter.meter.metrology.LineCycleMeter` (2 elements, default front end:
  4000 Hz, 24 bit) on synthesized ADC codes fed in blocks of 1 s and of 10 s, stream ended with
  ``flush``. Figure: samples per second, counted per element times elements. Baseline: ``np.dot(v, i)``
  over each element's whole float64 arrays. Target: ratio <= 5; the absolute clause of the same target
  (about 20 M samples/s on a 2-core machine) is checked separately.
* **profile**: :meth:`~meshmeter.meter.twin.Meter.run_profile` of a dual-element meter on a tenant's
  residential load (and, without a target, on a heavy random load with five times the pulses); registers,
  demand, the LED timeline and the exact edge times of output "10" included; a fresh meter per repeat.
  Figure: meter-days per second. Baseline: one ``np.cumsum`` over the (2, n) current array. Target at
  1-minute steps: ratio <= 10; at 1 s steps no target is set and the ratio is reported.

* **billing** (issues 5 and 13): ``bill_meters`` of 10,000 meters x July 2026 of 15-minute intervals at
  real published URDB tariffs of ``tests/data/urdb/``, each read with ``load_tariff`` (rate chosen by its
  label), in two runs: Tucson Electric Power's TGSGSDT (TOU energy, TOU demand with two tiers on peak, a
  60-minute ``demandwindow``) and Santa Clara's D-1 TOU (TOU energy with two tiers per period); no
  document of the corpus has energy tiers and a demand window. Baseline: a plain numpy pass over the same
  intervals by the tariff's 12 x 24 weekday/weekend period maps (energy per period; with a demand charge
  also each demand window's energy and its maximum per demand period), checked equal to the bills'
  figures. Target: ratio <= 20 for each. ``--billing-meters 0`` skips it.
* **head-end** (issue 4): ``ingest_json`` of N meters x D days of 15-minute intervals into a fresh store,
  one JSON document per meter as an HTTP or MQTT client sends it, each parsed, checked, compared with
  what is stored and written in its own transaction (schema version 3: ``raw_intervals`` keyed
  (meter_id, interval_end), counters NULL where derivable, one batch id). Beside it, the baseline: the
  same rows (same columns, values, NULLs and key) prepared beforehand as Python tuples and written by a
  plain row-per-statement ``executemany`` (SQLite) / ``COPY ... write_row`` (PostgreSQL) into a bare
  table with only the primary key, all in one transaction. Also shown, without a target:
  ``Store.insert_raw_intervals`` (rows of ``datetime`` checked one by one). Then the bytes per interval of
  the ingest's SQLite file after VACUUM (VEE run over some meters first: it stores nothing for what it
  passes), and a year of one meter's quarter-hours through the API (p95, Starlette's test client).
  PostgreSQL where ``MESHMETER_DATABASE_URL`` or ``MESHMETER_TEST_POSTGRES_URL`` names a server.
* **collector** (issue 14, ``benchmarks/collect.py``): one ``meshmeter collect`` process on a simulated
  clock reading MQTT pulse counters (Tasmota telemetry, one a minute each) and Modbus TCP SunSpec meters
  (pymodbus servers on 127.0.0.1, polled each minute): readings stored per second and its CPU, beside a
  plain paho subscriber receiving the same messages and doing nothing, measured in the same run; every
  interval checked. ``--collect-counters 0`` skips it; skipped with its reason when no MQTT broker answers.

A missed target is reported, not raised: the exit status is 0 unless something fails, or with ``--strict``
1 when any target is missed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from numpy.typing import NDArray

from collect import COLLECT_HOURS, COLLECT_SCALE, CollectResult, bench_collect, format_collect, mqtt_broker
from common import libpq_url, percentile, pg_schema, postgres_url
from load import LoadResult, bench_load_all, format_load
from meshmeter.api import Settings, create_app
from meshmeter.billing import Bill, Tariff, bill_meters, interval_grid, load_tariff, local_calendar
from meshmeter.billing.calendar import DAY_WEEKDAY
from meshmeter.headend.ingest import ingest_json
from meshmeter.headend.vee import run_vee
from meshmeter.intervals import BILLED_QUALITIES
from meshmeter.meter.metrology import FrontEnd, LineCycleMeter, synthesize_element
from meshmeter.meter.twin import Meter
from meshmeter.site.mesh import simulate_site
from meshmeter.site.profiles import residential_profile
from meshmeter.store import Store

with warnings.catch_warnings():
    # Starlette's TestClient warns that it would prefer httpx2; the httpx it has works.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
INTERVAL_S = 900
"""A meter interval, 15 minutes. [s]"""

REPEATS = 5
"""Timed repeats of a full run; the best is kept."""

SECONDS_PER_DAY = 86_400.0

WAVEFORM_TARGET_RATIO = 5.0
WAVEFORM_TARGET_SAMPLES_PER_S = 20e6
"""The absolute clause of the waveform target: "about 20 M samples/s or better" on a 2-core machine."""
PROFILE_TARGET_RATIO = 10.0

BASELINE_REPEAT_FACTOR = 10
"""A baseline (sub-millisecond) gets this many times the benchmarks' repeats."""


@dataclass(frozen=True)
class Result:
    """One benchmark's figure beside its baseline."""

    benchmark: str
    """Group: ``"waveform"`` or ``"profile"``."""
    name: str
    """What was run, with its size."""
    figure: float
    """Throughput of the benchmark, in ``unit``."""
    unit: str
    baseline: str
    """The plain numpy operation it is compared with."""
    baseline_figure: float
    """Throughput of the baseline over the same amount of data, in ``unit``."""
    time_s: float
    """Best time of the benchmark. [s]"""
    baseline_time_s: float
    """Best time of the baseline. [s]"""
    ratio: float
    """``time_s / baseline_time_s``. [1]"""
    target_ratio: float | None
    """Largest ratio that meets the target (None: no target)."""
    verdict: str
    """``"PASS"``, ``"MISS"`` or ``"-"`` (no target)."""
    absolute_target: float | None
    """Smallest ``figure`` that meets an absolute clause of the target, in ``unit`` (None: none)."""
    absolute_verdict: str
    """Verdict of the absolute clause: ``"PASS"``, ``"MISS"`` or ``"-"``."""
    samples: int
    """Samples processed by one run (per element times elements). [1]"""
    repeats: int
    """Timed runs of the benchmark; the best is kept. [1]"""
    baseline_repeats: int
    """Timed calls of the baseline; the best is kept. [1]"""


def best_time(run: Callable[[Any], object], setup: Callable[[], Any], repeats: int) -> float:
    """
    Best wall time of ``run(setup())`` over ``repeats`` timed runs, after one untimed warm-up. [s]

    ``setup`` is called before each run, outside the timed part. The garbage collector runs once after
    the warm-up and is paused while timing, as :mod:`timeit` does (not collected before every run: a
    collection sweeps the caches, and a sub-millisecond baseline would be timed cold).
    """
    run(setup())  # warm-up: imports, caches, first-touch page faults
    gc.collect()
    best = float("inf")
    for _ in range(repeats):
        state = setup()
        gc.disable()
        try:
            start = time.perf_counter()
            run(state)
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
        best = min(best, elapsed)
    return best


def baseline_time(run: Callable[[None], object], repeats: int) -> tuple[float, int]:
    """
    Best time of one call of a stateless baseline, and the number of timed calls. [s], [1]

    Timed like the benchmarks (one call per timed run, after a warm-up), but with
    ``BASELINE_REPEAT_FACTOR`` times the repeats: a baseline lasts well under a millisecond, where
    single calls scatter (``np.dot`` on a multi-threaded BLAS by 2x here) and the best of five is not
    yet the floor. Looping calls inside one timed run (``timeit``) was tried and scattered more.
    """
    n = repeats * BASELINE_REPEAT_FACTOR if repeats > 1 else repeats
    return best_time(run, lambda: None, n), n


def _verdict(value: float, limit: float | None, *, at_most: bool) -> str:
    if limit is None:
        return "-"
    ok = value <= limit if at_most else value >= limit
    return "PASS" if ok else "MISS"


# --------------------------------------------------------------------------------------------------
# waveform path
# --------------------------------------------------------------------------------------------------


def waveform_codes(duration_s: float, front_end: FrontEnd) -> tuple[FloatArray, FloatArray]:
    """
    ADC codes of a dual-element meter at 120 V, 30 A, PF 0.5 lagging; L2 at 180° (120/240 V service).

    Returns
    -------
    voltage_codes, current_codes : ndarray, shape (2, n)
    """
    fs = front_end.sample_rate_hz
    n = round(duration_s * fs)
    v = np.empty((2, n))
    i = np.empty((2, n))
    for e, angle_deg in enumerate((0.0, 180.0)):
        signal = synthesize_element(
            n, fs, voltage_v=120.0, current_a=30.0, phase_deg=60.0, voltage_angle_deg=angle_deg
        )
        v[e] = front_end.voltage.sample(signal.voltage_v)
        i[e] = front_end.current.sample(signal.current_secondary_a)
    return v, i


def _split(x: FloatArray, block: int) -> list[FloatArray]:
    return [np.ascontiguousarray(x[:, k : k + block]) for k in range(0, x.shape[1], block)]


def bench_waveform(duration_s: float, blocks_s: Sequence[float], repeats: int) -> list[Result]:
    """The line-cycle DSP on ``duration_s`` of codes per element, for each block length."""
    front_end = FrontEnd()
    fs = front_end.sample_rate_hz
    v, i = waveform_codes(duration_s, front_end)
    elements, n = v.shape
    samples = elements * n

    def dot(_: None) -> None:
        for e in range(elements):
            np.dot(v[e], i[e])

    def fresh_meter() -> LineCycleMeter:
        return LineCycleMeter(elements=elements, front_end=front_end)

    results = []
    for block_s in blocks_s:
        block = max(1, round(block_s * fs))
        v_blocks, i_blocks = _split(v, block), _split(i, block)

        def stream(
            meter: LineCycleMeter,
            v_blocks: list[FloatArray] = v_blocks,
            i_blocks: list[FloatArray] = i_blocks,
        ) -> int:
            cycles = 0
            for vb, ib in zip(v_blocks, i_blocks, strict=True):
                cycles += meter.process(vb, ib).n_cycles
            return cycles + meter.flush().n_cycles

        if stream(fresh_meter()) == 0:
            raise RuntimeError(f"the line-cycle meter found no cycles in {duration_s} s of codes")
        elapsed = best_time(stream, fresh_meter, repeats)
        baseline, baseline_repeats = baseline_time(dot, repeats)
        ratio = elapsed / baseline
        figure = samples / elapsed
        results.append(
            Result(
                benchmark="waveform",
                name=f"LineCycleMeter 2 el x {duration_s:g} s, {block_s:g} s blocks",
                figure=figure,
                unit="samples/s",
                baseline="np.dot(v, i) per element",
                baseline_figure=samples / baseline,
                time_s=elapsed,
                baseline_time_s=baseline,
                ratio=ratio,
                target_ratio=WAVEFORM_TARGET_RATIO,
                verdict=_verdict(ratio, WAVEFORM_TARGET_RATIO, at_most=True),
                absolute_target=WAVEFORM_TARGET_SAMPLES_PER_S,
                absolute_verdict=_verdict(figure, WAVEFORM_TARGET_SAMPLES_PER_S, at_most=False),
                samples=samples,
                repeats=repeats,
                baseline_repeats=baseline_repeats,
            )
        )
    return results


# --------------------------------------------------------------------------------------------------
# profile path
# --------------------------------------------------------------------------------------------------


def load_profile(
    n: int, step_s: float, load: str, seed: int = 20260101
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """
    The load of a profile benchmark, on two lines, per step.

    ``"tenant"``: the residential tenant of :func:`meshmeter.site.profiles.residential_profile`
    (about 35 kWh a day), what a sub-meter sees. ``"heavy"``: a random load of 0–60 A per line, lag
    0–40°, voltage 120 ± 3 V (about 170 kWh a day, five times the pulses).

    Returns
    -------
    voltage_v, current_a, phase_deg : ndarray, shape (2, n)
    """
    if load == "tenant":
        profile = residential_profile(days=n * step_s / SECONDS_PER_DAY, step_s=step_s, lines=2, seed=seed)
        return profile.voltage_v, profile.current_a, profile.phase_deg
    rng = np.random.default_rng(seed)
    voltage_v = 120.0 + rng.uniform(-3.0, 3.0, size=(2, n))
    current_a = rng.uniform(0.0, 60.0, size=(2, n))
    phase_deg = rng.uniform(0.0, 40.0, size=(2, n))
    return voltage_v, current_a, phase_deg


def bench_profile(
    days: float, step_s: float, target_ratio: float | None, repeats: int, load: str = "tenant"
) -> Result:
    """``Meter.run_profile`` over ``days`` meter-days at ``step_s`` steps, a fresh meter per repeat."""
    n = round(days * SECONDS_PER_DAY / step_s)
    voltage_v, current_a, phase_deg = load_profile(n, step_s, load)
    samples = current_a.size

    def run(meter: Meter) -> None:
        result = meter.run_profile(
            step_s=step_s, voltage_v=voltage_v, current_a=current_a, phase_deg=phase_deg
        )
        result.edges["10"]  # the exact pulse edges of output "10", which an MDT counts

    def fresh_meter() -> Meter:
        return Meter("MM-D1202001-T-SCC")

    def cumsum(_: None) -> None:
        np.cumsum(current_a)

    elapsed = best_time(run, fresh_meter, repeats)
    baseline, baseline_repeats = baseline_time(cumsum, repeats)
    ratio = elapsed / baseline
    return Result(
        benchmark="profile",
        name=f"Meter.run_profile 2 el, {days:g} days at {step_s:g} s steps, {load} load",
        figure=days / elapsed,
        unit="meter-days/s",
        baseline="np.cumsum over the (2, n) current",
        baseline_figure=days / baseline,
        time_s=elapsed,
        baseline_time_s=baseline,
        ratio=ratio,
        target_ratio=target_ratio,
        verdict=_verdict(ratio, target_ratio, at_most=True),
        absolute_target=None,
        absolute_verdict="-",
        samples=samples,
        repeats=repeats,
        baseline_repeats=baseline_repeats,
    )


# --------------------------------------------------------------------------------------------------
# the AMR mesh
# --------------------------------------------------------------------------------------------------

NETWORK_TARGET_SPEEDUP = 50_000.0
"""Issue 3: at least 50,000× real time (31 days in under a minute)."""
NETWORK_TARGET_ON_TIME = 0.999
"""Issue 3: at least 99.9 % of intervals delivered within the hour they were due."""
NETWORK_TARGET_DELIVERED = 1.0
"""Issue 3: 100 % of intervals delivered in the end."""


@dataclass(frozen=True)
class NetworkResult:
    """
    The mesh benchmark: a site simulated once, its speed and its delivery against the targets.

    ``meshmeter network simulate``'s engine (:func:`~meshmeter.site.mesh.simulate_site`) on a campus of
    1000 MDTs and 40 repeaters, 15-minute reports, seed 1: every report a frame secured with AES-128-CCM,
    carried hop by hop and checked by the DCAP (``docs/network.md``, "Speed"). The target (issue 3) is on
    the wall time of the run, setup excluded; the CPU time of the run is printed beside it, since on a
    machine shared with other work the wall time also counts the time the run waited for a core.
    """

    name: str
    mdts: int
    repeaters: int
    simulated_days: float
    setup_s: float
    """Wall time to build the site, its meter twins and its radio links. [s]"""
    wall_s: float
    """Wall time of the simulation itself. [s]"""
    speedup: float
    """Simulated time over wall time (setup excluded). [1]"""
    speedup_with_setup: float
    """Simulated time over wall time, setup included. [1]"""
    cpu_s: float
    """CPU time of the simulation (what its wall time would be on a machine doing nothing else). [s]"""
    speedup_cpu: float
    """Simulated time over the simulation's CPU time. [1]"""
    reports: int
    """MDT reports due in the run (MDTs x simulated intervals), each at least one frame. [1]"""
    us_per_report: float
    """Wall time of the simulation per report. [µs]"""
    events_per_s: float
    on_time_ratio: float
    delivery_ratio: float
    unjoined_mdts: int
    verdict_speed: str
    verdict_on_time: str
    verdict_delivered: str


def bench_network(mdts: int, repeaters: int, days: float) -> NetworkResult:
    """
    ``meshmeter network simulate``'s engine on a campus site, 15-minute reports, run once.

    The garbage collector is paused around the call, as for the other benchmarks (the library leaves it
    alone): the run makes no reference cycles, only millions of objects that reference counting frees and
    the deliveries it keeps, over which every collector pass would find nothing (about a tenth of the run).
    """
    gc.collect()
    collecting = gc.isenabled()
    gc.disable()
    try:
        run = simulate_site(mdts=mdts, repeaters=repeaters, days=days, seed=1)
    finally:
        if collecting:
            gc.enable()
    report = run.report
    wall = report.wall_s or float("nan")
    simulated = report.simulated_s
    reports = mdts * round(days * SECONDS_PER_DAY / 900.0)
    return NetworkResult(
        name=f"network {mdts} MDTs + {repeaters} repeaters, {days:g} days, 15-min reports",
        mdts=mdts,
        repeaters=repeaters,
        simulated_days=simulated / SECONDS_PER_DAY,
        setup_s=run.setup_s,
        wall_s=wall,
        speedup=simulated / wall,
        speedup_with_setup=simulated / (wall + run.setup_s),
        cpu_s=run.run_cpu_s,
        speedup_cpu=simulated / run.run_cpu_s,
        reports=reports,
        us_per_report=wall / reports * 1e6 if reports else float("nan"),
        events_per_s=report.events_per_s or 0.0,
        on_time_ratio=report.on_time_ratio,
        delivery_ratio=report.delivery_ratio,
        unjoined_mdts=len(report.unjoined),
        verdict_speed=_verdict(simulated / wall, NETWORK_TARGET_SPEEDUP, at_most=False),
        verdict_on_time=_verdict(report.on_time_ratio, NETWORK_TARGET_ON_TIME, at_most=False),
        verdict_delivered=_verdict(report.delivery_ratio, NETWORK_TARGET_DELIVERED, at_most=False),
    )


def format_network(r: NetworkResult) -> str:
    """The mesh benchmark as lines of text."""
    return "\n".join(
        [
            r.name,
            f"  speed: {r.simulated_days:.2f} simulated days in {r.wall_s:.1f} s = "
            f"{r.speedup:,.0f}x real time "
            f"(target >= {NETWORK_TARGET_SPEEDUP:,.0f}x: {r.verdict_speed}); with setup ({r.setup_s:.1f} s) "
            f"{r.speedup_with_setup:,.0f}x; {r.events_per_s:,.0f} events/s",
            f"  per report: {r.us_per_report:.1f} us ({r.reports:,} reports); CPU time of the run "
            f"{r.cpu_s:.1f} s = {r.speedup_cpu:,.0f}x real time",
            f"  within the hour: {r.on_time_ratio:.4%} (target >= {NETWORK_TARGET_ON_TIME:.1%}: "
            f"{r.verdict_on_time}); in the end: {r.delivery_ratio:.4%} "
            f"(target 100 %: {r.verdict_delivered}); "
            f"MDTs that could not join: {r.unjoined_mdts}",
        ]
    )


# --------------------------------------------------------------------------------------------------
# the head-end: ingest, bytes per interval, a year through the API
# --------------------------------------------------------------------------------------------------

HEADEND_TARGET_INGEST_RATIO = 2.0
"""Issue 4: ingest at least half the plain throughput (``executemany`` on SQLite, ``COPY`` on PostgreSQL):
time / plain time <= 2."""
HEADEND_TARGET_BYTES = 20.0
"""Issue 4: at most 20 bytes per interval in SQLite, all that is stored for an interval VEE passed. [B]"""
HEADEND_TARGET_API_P95_S = 0.100
"""Issue 4: a year of one meter's 15-minute data through the API in under 100 ms at the 95th percentile.
[s]"""
HEADEND_START = datetime(2024, 1, 1, tzinfo=UTC)
"""First interval of the benchmark's data starts here (it ends 15 minutes later)."""
HEADEND_VEE_METERS = 10
"""VEE is run over this many meters (about 0.1 s a meter) to show what it stores for data it passes."""
API_REQUESTS = 20
"""Requests of the API benchmark; their 95th percentile is reported."""

_RAW_COLUMNS = "meter_id, interval_end, energy_wh, cumulative_wh, batch_id"
"""The columns of ``raw_intervals`` (schema version 3), which the bare tables of the baselines copy."""


@dataclass(frozen=True)
class HeadendFigure:
    """One head-end figure beside its baseline, measured in the same run."""

    backend: str
    """``"sqlite"`` or ``"postgresql"``."""
    name: str
    figure: float
    unit: str
    baseline: str
    baseline_figure: float
    ratio: float
    """Ingest: time / baseline time; bytes and API: figure / baseline figure. [1]"""
    target: str
    """The target, in words."""
    verdict: str
    """``"PASS"``, ``"MISS"`` or ``"-"`` (no target)."""
    detail: dict[str, Any]


@dataclass(frozen=True)
class HeadendResult:
    """The head-end benchmarks of one run."""

    meters: int
    days: float
    intervals: int
    figures: list[HeadendFigure]
    skipped: dict[str, str]
    """Backend → why it was not run."""


def headend_batches(meters: int, days: float, seed: int = 20260104) -> tuple[list[int], IntArray, IntArray]:
    """
    ``meters`` × ``days`` of 15-minute intervals: a tenant-like random load, 20–120 Wh an interval.

    Returns
    -------
    ends_s : list of int
        Interval ends, the same for every meter. [s]
    energy_wh, cumulative_wh : ndarray of int64, shape (meters, n)
        Energy in each interval, and the register at its end. [Wh]
    """
    n = round(days * 96)
    first = int(HEADEND_START.timestamp())
    ends_s = list(range(first + INTERVAL_S, first + INTERVAL_S * (n + 1), INTERVAL_S))
    rng = np.random.default_rng(seed)
    energy = rng.integers(20, 121, size=(meters, n), dtype=np.int64)
    cumulative = np.cumsum(energy, axis=1) + rng.integers(0, 10**7, size=(meters, 1), dtype=np.int64)
    return ends_s, energy, cumulative


def _json_documents(
    serials: Sequence[str], ends_s: Sequence[int], energy: IntArray, cumulative: IntArray
) -> list[bytes]:
    """One ``ingest_json`` document per meter (what an HTTP or MQTT client sends), encoded."""
    stamps = [datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in ends_s]
    documents = []
    for m, serial in enumerate(serials):
        items = ",".join(
            f'{{"interval_end":"{s}","energy_wh":{e},"cumulative_wh":{c}}}'
            for s, e, c in zip(stamps, energy[m].tolist(), cumulative[m].tolist(), strict=True)
        )
        documents.append(f'{{"meter":"{serial}","intervals":[{items}]}}'.encode())
    return documents


def _plain_rows(
    ends: Sequence[Any], ends_s: Sequence[int], energy: IntArray, cumulative: IntArray
) -> list[tuple[Any, ...]]:
    """
    The rows the ingest writes, as tuples of the raw_intervals columns: a meter's first row and each
    row at UTC midnight carry their counter, the others NULL (derived from the row before); one batch.
    """
    rows: list[tuple[Any, ...]] = []
    for m in range(energy.shape[0]):
        rows.extend(
            (m + 1, t, e, c if k == 0 or s % 86400 == 0 else None, 1)
            for k, (t, s, e, c) in enumerate(
                zip(ends, ends_s, energy[m].tolist(), cumulative[m].tolist(), strict=True)
            )
        )
    return rows


def _timed(run: Callable[[], object], *, pause_gc: bool = True) -> float:
    """
    Wall time of one call, after a garbage collection; the collector paused during it unless
    ``pause_gc`` is false (a request's latency: collections are part of what a client waits for). [s]
    """
    gc.collect()
    if pause_gc:
        gc.disable()
    try:
        start = time.perf_counter()
        run()
        return time.perf_counter() - start
    finally:
        gc.enable()


def _fresh_store(url: str, meters: int) -> tuple[Store, list[str]]:
    store = Store(url)
    serials = [f"BENCH{m:06d}" for m in range(meters)]
    for serial in serials:
        store.create_meter(serial=serial, designation="MM-D1202001-T-SCC", ct_ratio=2000)
    return store, serials


def _ingest(store: Store, documents: Sequence[bytes], intervals: int) -> None:
    stored = sum(ingest_json(store, d, source="bench").stored for d in documents)
    if stored != intervals:
        raise RuntimeError(f"ingest stored {stored} intervals, expected {intervals}")


def _ingest_figures(
    backend: str, ingest_s: float, insert_s: float, plain_s: float, plain: str, intervals: int, meters: int
) -> list[HeadendFigure]:
    out = []
    for name, elapsed, target in (
        (
            f"ingest_json, {meters} meters x {intervals // meters} intervals",
            ingest_s,
            HEADEND_TARGET_INGEST_RATIO,
        ),
        (f"Store.insert_raw_intervals, {meters} batches of {intervals // meters}", insert_s, None),
    ):
        ratio = elapsed / plain_s
        out.append(
            HeadendFigure(
                backend=backend,
                name=name,
                figure=intervals / elapsed,
                unit="rows/s",
                baseline=plain,
                baseline_figure=intervals / plain_s,
                ratio=ratio,
                target="-" if target is None else f"time <= {target:g}x plain (>= half its rows/s)",
                verdict=_verdict(ratio, target, at_most=True),
                detail={"time_s": elapsed, "baseline_time_s": plain_s, "intervals": intervals},
            )
        )
    return out


def _sqlite_size(path: Path) -> tuple[int, dict[str, int]]:
    """File size after a checkpoint and VACUUM, and the bytes of each table and index (dbstat)."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("VACUUM")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try:
            tables = dict(connection.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
        except sqlite3.OperationalError:  # SQLite built without the dbstat table
            tables = {}
    finally:
        connection.close()
    return path.stat().st_size, {k: int(v) for k, v in tables.items() if v > 4096}


def bench_headend_sqlite(meters: int, days: float, workdir: Path) -> list[HeadendFigure]:
    """Ingest into a fresh SQLite file beside a plain ``executemany``; then the bytes per interval."""
    ends_s, energy, cumulative = headend_batches(meters, days)
    intervals = energy.size
    store, serials = _fresh_store(f"sqlite:///{workdir / 'ingest.db'}", meters)
    documents = _json_documents(serials, ends_s, energy, cumulative)
    try:
        ingest_s = _timed(lambda: _ingest(store, documents, intervals))
    finally:
        store.close()
    store, _ = _fresh_store(f"sqlite:///{workdir / 'insert.db'}", meters)
    ends = [datetime.fromtimestamp(t, UTC) for t in ends_s]
    batches = [
        list(zip(ends, energy[m].tolist(), cumulative[m].tolist(), strict=True)) for m in range(meters)
    ]

    def insert() -> None:
        for m, rows in enumerate(batches):
            store.insert_raw_intervals(meter_id=m + 1, rows=rows, source="bench")

    try:
        insert_s = _timed(insert)
    finally:
        store.close()
    plain_path = workdir / "plain.db"
    plain = sqlite3.connect(plain_path, isolation_level=None)
    plain.execute("PRAGMA journal_mode = WAL")
    plain.execute(
        "CREATE TABLE raw_intervals (meter_id INTEGER NOT NULL, interval_end INTEGER NOT NULL, "
        "energy_wh INTEGER NOT NULL, cumulative_wh INTEGER, batch_id INTEGER NOT NULL, "
        "PRIMARY KEY (meter_id, interval_end)) WITHOUT ROWID"
    )
    rows = _plain_rows(ends_s, ends_s, energy, cumulative)

    def executemany() -> None:
        plain.execute("BEGIN")
        plain.executemany(f"INSERT INTO raw_intervals ({_RAW_COLUMNS}) VALUES (?, ?, ?, ?, ?)", rows)
        plain.execute("COMMIT")

    try:
        plain_s = _timed(executemany)
    finally:
        plain.close()
    figures = _ingest_figures(
        "sqlite",
        ingest_s,
        insert_s,
        plain_s,
        "sqlite3 executemany, bare table, one transaction",
        intervals,
        meters,
    )

    # VEE over some meters: what does it store for intervals it passes unchanged?
    store = Store(f"sqlite:///{workdir / 'ingest.db'}")
    vee_meters = min(meters, HEADEND_VEE_METERS)
    passed = changed = 0
    try:
        for m in range(vee_meters):
            report = run_vee(
                store, meter_id=m + 1, start=HEADEND_START, end=datetime.fromtimestamp(ends_s[-1], UTC)
            )
            passed += report.valid
            changed += report.changed
    finally:
        store.close()
    size, tables = _sqlite_size(workdir / "ingest.db")
    plain_size, _ = _sqlite_size(plain_path)
    figure = size / intervals
    figures.append(
        HeadendFigure(
            backend="sqlite",
            name=f"bytes per interval, {intervals} intervals (file after VACUUM / intervals)",
            figure=figure,
            unit="B/interval",
            baseline="bare table of the same columns and key, after VACUUM",
            baseline_figure=plain_size / intervals,
            ratio=figure / (plain_size / intervals),
            target=f"<= {HEADEND_TARGET_BYTES:g} B/interval",
            verdict=_verdict(figure, HEADEND_TARGET_BYTES, at_most=True),
            detail={
                "file_bytes": size,
                "table_bytes": tables,
                "raw_intervals_bytes_per_interval": tables.get("raw_intervals", 0) / intervals,
                "vee_meters": vee_meters,
                "vee_passed_intervals": passed,
                "vee_validated_rows_written": changed,
            },
        )
    )
    return figures


def bench_headend_postgresql(meters: int, days: float, url: str) -> list[HeadendFigure]:
    """Ingest into fresh PostgreSQL schemas beside a plain ``COPY`` into a bare table."""
    ends_s, energy, cumulative = headend_batches(meters, days)
    intervals = energy.size
    with pg_schema(url) as (store_url, _):
        store, serials = _fresh_store(store_url, meters)
        documents = _json_documents(serials, ends_s, energy, cumulative)
        try:
            ingest_s = _timed(lambda: _ingest(store, documents, intervals))
        finally:
            store.close()
    ends = [datetime.fromtimestamp(t, UTC) for t in ends_s]
    with pg_schema(url) as (store_url, _):
        store, _ = _fresh_store(store_url, meters)
        ids = [m.id for m in store.meters()]
        batches = [
            list(zip(ends, energy[m].tolist(), cumulative[m].tolist(), strict=True)) for m in range(meters)
        ]

        def insert() -> None:
            for meter_id, rows in zip(ids, batches, strict=True):
                store.insert_raw_intervals(meter_id=meter_id, rows=rows, source="bench")

        try:
            insert_s = _timed(insert)
        finally:
            store.close()
    with pg_schema(url) as (_, schema), psycopg.connect(libpq_url(url)) as connection:
        connection.execute(
            f'CREATE TABLE "{schema}".raw_intervals (meter_id bigint NOT NULL, '
            "interval_end timestamptz NOT NULL, energy_wh bigint NOT NULL, cumulative_wh bigint, "
            "batch_id bigint NOT NULL, PRIMARY KEY (meter_id, interval_end))"
        )
        connection.commit()
        rows = _plain_rows(ends, ends_s, energy, cumulative)

        def copy() -> None:
            statement = f'COPY "{schema}".raw_intervals ({_RAW_COLUMNS}) FROM STDIN'
            with connection.cursor() as cursor, cursor.copy(statement) as c:
                for row in rows:
                    c.write_row(row)
            connection.commit()

        plain_s = _timed(copy)
    return _ingest_figures(
        "postgresql",
        ingest_s,
        insert_s,
        plain_s,
        "psycopg COPY, bare table, one transaction",
        intervals,
        meters,
    )


def bench_api_year(url: str, backend: str, days: float, requests: int) -> HeadendFigure:
    """GET ``/meters/{serial}/intervals`` of ``days`` of one meter's quarter-hours (a year: 366), p95."""
    store = Store(url)
    try:
        meter = store.create_meter(serial="BENCHYEAR", designation="MM-D1202001-T-SCC", ct_ratio=2000)
        ends_s, energy, cumulative = headend_batches(1, days)
        ends = [datetime.fromtimestamp(t, UTC) for t in ends_s]
        store.insert_raw_intervals(
            meter_id=meter.id,
            rows=list(zip(ends, energy[0].tolist(), cumulative[0].tolist(), strict=True)),
            source="bench",
        )
        estimated = [(ends[k], 50, 9) for k in range(0, len(ends), 97)]  # a few estimates beside raw data
        store.put_validated_intervals(meter_id=meter.id, rows=estimated, edited_by="bench", reason="bench")
        token = store.create_api_token(role="read-only", label="benchmark")[1]
        app = create_app(store, Settings(admin_token=None, environment="development"))
        params = {
            "start": HEADEND_START.isoformat(),
            "end": datetime.fromtimestamp(ends_s[-1], UTC).isoformat(),
        }
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(app) as client:

            def get() -> None:
                response = client.get(f"/meters/{meter.serial}/intervals", params=params, headers=headers)
                if response.status_code != 200 or f'"count":{len(ends)}}}' not in response.text[-40:]:
                    raise RuntimeError(f"the API answered {response.status_code}: {response.text[:200]}")

            get()  # warm-up
            times = sorted(_timed(get, pause_gc=False) for _ in range(requests))
        is_pg = store.dialect_name == "postgresql"
        epoch = "CAST(EXTRACT(EPOCH FROM interval_end) AS BIGINT)" if is_pg else "interval_end"
        sql = (
            f"SELECT {epoch}, energy_wh FROM raw_intervals WHERE meter_id = {int(meter.id)} "
            "ORDER BY interval_end"
        )

        def plain() -> None:
            with store.engines.reader.connect() as connection:
                cursor = connection.connection.cursor()
                try:
                    cursor.execute(sql)
                    json.dumps(cursor.fetchall())
                finally:
                    cursor.close()

        plain()
        baseline = sorted(_timed(plain, pause_gc=False) for _ in range(requests))
    finally:
        store.close()
    p95, baseline_p95 = percentile(times, 0.95), percentile(baseline, 0.95)
    return HeadendFigure(
        backend=backend,
        name=f"API: {days:g} days of one meter's 15-min data ({len(ends_s)} rows), p95 of {requests}",
        figure=p95 * 1e3,
        unit="ms p95",
        baseline="driver SELECT of (epoch s, energy_wh) + json.dumps of the rows",
        baseline_figure=baseline_p95 * 1e3,
        ratio=p95 / baseline_p95,
        target=f"p95 < {HEADEND_TARGET_API_P95_S * 1e3:g} ms",
        verdict=_verdict(p95, HEADEND_TARGET_API_P95_S, at_most=True),
        detail={"p50_ms": percentile(times, 0.5) * 1e3, "max_ms": times[-1] * 1e3, "requests": requests},
    )


def bench_headend(meters: int, days: float, api_days: float, requests: int) -> HeadendResult:
    """Every head-end benchmark: SQLite always, PostgreSQL where a server is named."""
    figures: list[HeadendFigure] = []
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="meshmeter-bench-") as tmp:
        workdir = Path(tmp)
        figures += bench_headend_sqlite(meters, days, workdir)
        figures.append(bench_api_year(f"sqlite:///{workdir / 'api.db'}", "sqlite", api_days, requests))
    url, why = postgres_url()
    if url is None:
        skipped["postgresql"] = why
    else:
        try:
            figures += bench_headend_postgresql(meters, days, url)
            with pg_schema(url) as (store_url, _):
                figures.append(bench_api_year(store_url, "postgresql", api_days, requests))
        except psycopg.OperationalError as exc:
            skipped["postgresql"] = f"the server could not be reached: {str(exc).strip().splitlines()[0]}"
    return HeadendResult(
        meters=meters, days=days, intervals=meters * round(days * 96), figures=figures, skipped=skipped
    )


def format_headend(r: HeadendResult) -> str:
    """The head-end benchmarks as a table."""
    header = ("backend", "head-end benchmark", "figure", "unit", "baseline", "ratio", "target", "verdict")
    rows = [
        (
            f.backend,
            f.name,
            f"{f.figure:,.1f}" if f.figure < 1000 else _si(f.figure),
            f.unit,
            f"{f.baseline_figure:,.1f}" if f.baseline_figure < 1000 else _si(f.baseline_figure),
            f"{f.ratio:.2f}x",
            f.target,
            f.verdict,
        )
        for f in r.figures
    ]
    widths = [max(len(str(row[k])) for row in (header, *rows)) for k in range(len(header))]
    lines = [
        f"head-end: {r.meters} meters x {r.days:g} days of 15-minute intervals ({r.intervals:,} intervals)",
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    for f in r.figures:
        lines.append(f"{f.backend}, {f.name}: baseline = {f.baseline}; {json.dumps(f.detail)}")
    for backend, why in r.skipped.items():
        lines.append(f"{backend}: skipped ({why})")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# billing (issue 5; on real URDB tariffs, issue 13)
# --------------------------------------------------------------------------------------------------

BILLING_TARGET_RATIO = 20.0
"""Billing a month of many meters may take at most this many times the plain numpy pass (issue 5)."""

URDB_CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "urdb"
"""The project's corpus of real URDB rate documents (``tests/data/urdb/SOURCES.md``)."""


@dataclass(frozen=True)
class BillingCase:
    """A real URDB tariff of the corpus, the place it is billed in and the load billed on it."""

    file: str
    """Rate document in :data:`URDB_CORPUS`, read as published by :func:`~meshmeter.billing.load_tariff`."""
    label: str
    """URDB label of the rate in the document (chosen by it, as a user would)."""
    timezone: str
    """IANA zone of the utility's local time."""
    mean_power_kw: tuple[float, float]
    """Each meter's mean load is drawn uniformly in this range; each interval uniformly from 0 to twice
    the meter's mean. [kW]"""


BILLING_CASES: Final = (
    # TOU energy, TOU demand with tiers (on peak: 7 kW, then a higher rate), a 60-minute demand window:
    # the only corpus document with a demand window and tiers. A small commercial customer.
    BillingCase("tep-tgsgsdt.json", "5c780b3f5457a33773f3afb2", "America/Phoenix", (1.0, 6.0)),
    # TOU energy with tiers in every period (300 kWh a month), no demand charge: the corpus' TOU rate
    # with energy tiers. No document of the corpus has energy tiers and a demand window (SOURCES.md).
    BillingCase("santa-clara-d-1-tou.json", "539f74c3ec4f024411ed0c0d", "America/Los_Angeles", (0.2, 1.2)),
)
"""The tariffs the billing benchmark runs on, each in its own run."""


@dataclass(frozen=True)
class BillingResult:
    """Bills for N meters x a month at a real URDB tariff, beside a plain numpy pass over the same arrays."""

    meters: int
    intervals_per_meter: int
    tariff: str
    """The rate's name, as the document gives it."""
    utility: str
    tariff_file: str
    """The document in ``tests/data/urdb/``."""
    label: str
    """The rate's URDB label."""
    timezone: str
    structure: str
    """What of the tariff the month exercises: periods, tiers, demand and its window."""
    baseline: str
    """The plain numpy pass it is compared with."""
    time_s: float
    """Best time of :func:`~meshmeter.billing.bill_meters` (calendar, periods, tiers, demand, lines). [s]"""
    baseline_time_s: float
    """Best time of the baseline. [s]"""
    ratio: float
    target_ratio: float
    verdict: str
    bills_per_s: float
    bills_past_first_tier: int
    """Bills with a line in a second or higher tier (energy or demand): the tiers are exercised. [1]"""
    repeats: int


def _describe(tariff: Tariff, month: int, window_s: int) -> str:
    """The parts of ``tariff`` a bill of local ``month`` (1-12) meets, in words."""

    def periods(weekday: Any, weekend: Any) -> list[int]:
        return sorted({*np.asarray(weekday)[month - 1].tolist(), *np.asarray(weekend)[month - 1].tolist()})

    energy = periods(tariff.energy_weekday, tariff.energy_weekend)
    tiers = [len(tariff.energy_tiers[p]) for p in energy]
    parts = [
        f"energy: {len(tariff.energy_tiers)} TOU periods ({len(energy)} this month)"
        + (f", {max(tiers)} tiers" if max(tiers) > 1 else ", no tiers")
    ]
    if tariff.demand_weekday is not None and tariff.demand_weekend is not None:
        demand = periods(tariff.demand_weekday, tariff.demand_weekend)
        tiered = [p for p in demand if len(tariff.demand_tiers[p]) > 1]
        parts.append(
            f"demand: {len(tariff.demand_tiers)} TOU periods ({len(demand)} this month)"
            + (f", {len(tariff.demand_tiers[tiered[0]])} tiers in period {tiered[0] + 1}" if tiered else "")
            + f", {window_s // 60}-minute window"
        )
    else:
        parts.append("no demand charge")
    return "; ".join(parts)


def _billing_load(
    meters: int, n: int, mean_power_kw: tuple[float, float], seed: int
) -> tuple[IntArray, IntArray]:
    """Random interval energy and ESPI quality codes (about 1 % estimated, 0.5 % questionable). [Wh]"""
    rng = np.random.default_rng(seed)
    mean_wh = rng.uniform(*mean_power_kw, size=(meters, 1)) * 1000.0 * INTERVAL_S / 3600.0
    energy = np.rint(rng.random((meters, n)) * 2.0 * mean_wh).astype(np.int64)
    quality = rng.choice(np.array([0, 8, 10], dtype=np.int64), p=[0.985, 0.01, 0.005], size=(meters, n))
    return energy, quality


def bench_billing(case: BillingCase, meters: int, repeats: int, seed: int = 20260701) -> BillingResult:
    """
    Bill ``meters`` meters x July 2026 (local time) at the real URDB tariff of ``case``.

    The tariff is read from its published document with :func:`~meshmeter.billing.load_tariff`, the rate
    chosen by its label. The baseline is a plain numpy pass over the same (meters, intervals) array that
    computes what the engine reads from it: each interval's energy period from the tariff's 12 x 24
    weekday and weekend maps (a ``np.where`` on the day type; a holiday takes the weekend map), each
    meter's energy per period as one matrix product with the periods' indicator (the fastest plain numpy
    form measured; a sorted ``np.add.reduceat`` was 3-4x slower), and, when the tariff has a demand
    charge, each demand window's energy (one ``np.add.reduceat`` at the window starts: 60 minutes is
    four quarter-hours) and its maximum per demand period (one masked ``max`` per period). The local
    month, hour and day type of each interval and the window starts are computed before timing; the
    month is one calendar month, so per demand period is per (month, period) as the engine bills it.
    What the baseline leaves to the engine: quality codes, tiers, proration and the priced lines.

    The baseline is checked against the bills before anything is timed: on the first meters (their
    failed intervals zeroed, as the engine does not bill them) its energy per period must equal each
    bill's, and its peak per demand period each bill's demand in kW.
    """
    tariff = load_tariff(URDB_CORPUS / case.file, label=case.label)
    tz = ZoneInfo(case.timezone)
    start = datetime(2026, 7, 1, tzinfo=tz)
    end = datetime(2026, 8, 1, tzinfo=tz)
    grid = interval_grid(start, end)
    energy, quality = _billing_load(meters, grid.size, case.mean_power_kw, seed)
    serials = [f"MM{i:08d}" for i in range(meters)]
    cal = local_calendar(grid, case.timezone, tariff.holidays)
    month0, hour = cal.month - 1, cal.hour
    weekday = cal.day_type == DAY_WEEKDAY
    energy_weekday = np.asarray(tariff.energy_weekday)
    energy_weekend = np.asarray(tariff.energy_weekend)
    periods = len(tariff.energy_tiers)
    demand = tariff.demand_weekday is not None and tariff.demand_weekend is not None
    demand_weekday = np.asarray(tariff.demand_weekday)
    demand_weekend = np.asarray(tariff.demand_weekend)
    demand_periods = len(tariff.demand_tiers)
    window_s = tariff.demand_window_s or INTERVAL_S
    # The interval (end - 900 s, end] lies in the clock window ending at ceil(end / window) * window.
    window_id = (grid + window_s - 1) // window_s
    window_starts = np.concatenate([[0], np.flatnonzero(np.diff(window_id)) + 1])

    def numpy_pass(e: IntArray) -> tuple[IntArray, IntArray]:
        period = np.where(weekday, energy_weekday[month0, hour], energy_weekend[month0, hour])
        indicator = np.zeros((grid.size, periods))
        indicator[np.arange(grid.size), period] = 1.0
        by_period = np.rint(e.astype(np.float64) @ indicator).astype(np.int64)
        if not demand:
            return by_period, np.zeros((e.shape[0], 0), dtype=np.int64)
        demand_period = np.where(weekday, demand_weekday[month0, hour], demand_weekend[month0, hour])
        window_wh = np.add.reduceat(e, window_starts, axis=1)
        window_period = demand_period[window_starts]
        peaks = np.stack(
            [window_wh.max(axis=1, where=window_period == d, initial=0) for d in range(demand_periods)],
            axis=1,
        )
        return by_period, peaks

    def engine(_: object) -> list[Bill]:
        return bill_meters(
            tariff, energy, quality, start=start, end=end, timezone=case.timezone, meters=serials
        )

    bills = engine(None)
    checked = min(meters, 100)
    billed = np.isin(quality[:checked], sorted(BILLED_QUALITIES))
    by_period, peaks = numpy_pass(np.where(billed, energy[:checked], 0))
    hours = Decimal(window_s) / 3600
    for j, bill in enumerate(bills[:checked]):
        if bill.energy_by_period_wh != tuple(by_period[j].tolist()):
            raise RuntimeError(f"the baseline's energy per period differs from the bill of {bill.meter}")
        for d in range(peaks.shape[1]):
            kw = sum((x.quantity for x in bill.lines if x.kind == "demand" and x.period == d), Decimal(0))
            if kw != Decimal(int(peaks[j, d])) / 1000 / hours:
                raise RuntimeError(
                    f"the baseline's peak of demand period {d + 1} differs from {bill.meter}'s"
                )
    past_first = sum(any(x.tier is not None and x.tier > 0 for x in bill.lines) for bill in bills)
    del bills

    base_s = best_time(lambda _: numpy_pass(energy), lambda: None, repeats)
    time_s = best_time(engine, lambda: None, repeats)
    ratio = time_s / base_s
    baseline = "energy per period: one matrix product with the 12 x 24 maps' period indicator"
    if demand:
        baseline += f"; {window_s // 60}-minute windows (np.add.reduceat) and their max per demand period"
    return BillingResult(
        meters=meters,
        intervals_per_meter=int(grid.size),
        tariff=tariff.name,
        utility=str(tariff.document.get("utility", "")),
        tariff_file=case.file,
        label=case.label,
        timezone=case.timezone,
        structure=_describe(tariff, 7, window_s),
        baseline=baseline,
        time_s=time_s,
        baseline_time_s=base_s,
        ratio=ratio,
        target_ratio=BILLING_TARGET_RATIO,
        verdict=_verdict(ratio, BILLING_TARGET_RATIO, at_most=True),
        bills_per_s=meters / time_s,
        bills_past_first_tier=past_first,
        repeats=repeats,
    )


def format_billing(results: Sequence[BillingResult]) -> str:
    """The billing figures as text."""
    lines = []
    for r in results:
        lines += [
            f"billing: {r.meters} meters x {r.intervals_per_meter} intervals (July 2026, {r.timezone}),"
            f" best of {r.repeats}",
            f"  tariff: {r.utility}, {r.tariff} (URDB {r.label}, tests/data/urdb/{r.tariff_file})",
            f"  {r.structure}; {r.bills_past_first_tier} of {r.meters} bills reach a second tier",
            f"  bill_meters           {r.time_s * 1e3:10.1f} ms  ({r.bills_per_s:,.0f} bills/s)",
            f"  baseline (numpy pass) {r.baseline_time_s * 1e3:10.1f} ms  ({r.baseline})",
            f"  ratio {r.ratio:.1f} (target <= {r.target_ratio:g})  {r.verdict}",
        ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    try:
        cpus_usable: int | None = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus_usable = None
    blas: str | None = None
    try:
        config = np.show_config(mode="dicts")
        blas = str(config["Build Dependencies"]["blas"]["name"])
    except (TypeError, KeyError):  # numpy without the dict form, or a build that does not say
        pass
    return {
        "numpy": np.__version__,
        "blas": blas,
        "blas_threads_env": {
            k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if k in os.environ
        },
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": cpus_usable,
    }


def run_all(*, quick: bool) -> list[Result]:
    """Every benchmark, at full or tiny (``quick``) sizes."""
    repeats = 1 if quick else REPEATS
    waveform_s = 10.0 if quick else 60.0
    return [
        *bench_waveform(waveform_s, (1.0, 10.0), repeats),
        bench_profile(1.0 if quick else 30.0, 60.0, PROFILE_TARGET_RATIO, repeats),
        bench_profile(1.0 if quick else 30.0, 60.0, None, repeats, load="heavy"),
        bench_profile(0.05 if quick else 2.0, 1.0, None, repeats),
    ]


def _si(value: float) -> str:
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}"
    return f"{value:.3g}"


def format_table(results: Sequence[Result], machine: dict[str, Any]) -> str:
    """A plain-text table of the results."""
    header = ("benchmark", "figure", "unit", "baseline", "ratio", "target", "verdict")
    rows = [
        (
            r.name,
            _si(r.figure),
            r.unit,
            _si(r.baseline_figure),
            f"{r.ratio:.1f}x",
            "-" if r.target_ratio is None else f"<= {r.target_ratio:g}x",
            r.verdict,
        )
        for r in results
    ]
    widths = [max(len(str(row[k])) for row in (header, *rows)) for k in range(len(header))]
    lines = [
        f"meshmeter benchmarks: numpy {machine['numpy']} ({machine['blas']}), python {machine['python']}, "
        f"{machine['cpu_count']} CPUs; best of {results[0].repeats if results else 0} "
        f"(baselines: best of {results[0].baseline_repeats if results else 0})",
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    lines.append("")
    for r in results:
        lines.append(
            f"{r.name}: {r.time_s * 1e3:.2f} ms; baseline ({r.baseline}) {r.baseline_time_s * 1e3:.3f} ms"
        )
    for r in results:
        if r.absolute_target is not None:
            lines.append(
                f"absolute clause, {r.name}: {_si(r.figure)} {r.unit} "
                f">= {_si(r.absolute_target)} {r.unit}: {r.absolute_verdict}"
            )
    return "\n".join(lines)


def _meters(text: str) -> int:
    """A count of meters from the command line: a whole number, 0 or more (0 skips the section)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of meters, 0 or more (0 skips), got {text!r}"
        )
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks, print their figures; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print a JSON document instead of a table")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one repeat (smoke test)")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a target is missed")
    parser.add_argument(
        "--network-days", type=float, default=31.0, help="simulated days of the mesh benchmark (0 skips it)"
    )
    parser.add_argument(
        "--headend-meters", type=int, default=1000, help="meters of the head-end benchmarks (0 skips them)"
    )
    parser.add_argument(
        "--headend-days", type=float, default=31.0, help="days of 15-minute intervals per meter (head-end)"
    )
    parser.add_argument(
        "--billing-meters",
        type=_meters,
        default=10_000,
        help="meters billed for a month at each tariff of the billing section (0 skips billing)",
    )
    parser.add_argument(
        "--load-seconds",
        type=float,
        default=30.0,
        help="length of each phase of the readers-under-ingest load benchmark (0 skips it)",
    )
    parser.add_argument(
        "--collect-counters",
        type=_meters,
        default=1000,
        help="MQTT pulse counters of the collector benchmark (0 skips it)",
    )
    parser.add_argument(
        "--collect-devices", type=_meters, default=100, help="Modbus TCP devices of the collector benchmark"
    )
    parser.add_argument(
        "--collect-hours",
        type=float,
        default=COLLECT_HOURS,
        help="simulated hours of the collector benchmark (one reading a minute per counter and device)",
    )
    parser.add_argument(
        "--collect-scale",
        type=float,
        default=COLLECT_SCALE,
        help="simulated seconds per real second of the collector benchmark's clock",
    )
    args = parser.parse_args(argv)

    results = run_all(quick=args.quick)
    network = None
    if args.network_days > 0:
        network = (
            bench_network(20, 2, 0.25) if args.quick else bench_network(1000, 40, float(args.network_days))
        )
    headend = None
    if args.headend_meters > 0:
        headend = (
            bench_headend(5, 2.0, 30.0, 3)
            if args.quick
            else bench_headend(args.headend_meters, args.headend_days, 366.0, API_REQUESTS)
        )
    billing = None
    if args.billing_meters > 0:
        billing = [
            bench_billing(case, 50, 1) if args.quick else bench_billing(case, args.billing_meters, 3)
            for case in BILLING_CASES
        ]
    load: tuple[list[LoadResult], dict[str, str]] | None = None
    if args.load_seconds > 0:
        load = (
            bench_load_all(readers=4, seconds=2.0, max_requests=400, writer_meters=5)
            if args.quick
            else bench_load_all(readers=20, seconds=args.load_seconds, max_requests=100_000, writer_meters=50)
        )
    collect: CollectResult | None = None
    collect_skipped = ""
    if args.collect_counters > 0:
        broker, collect_skipped = mqtt_broker()
        if broker is not None:
            collect = (
                bench_collect(20, 3, 1.0, 600.0, broker)
                if args.quick
                else bench_collect(
                    args.collect_counters,
                    args.collect_devices,
                    args.collect_hours,
                    args.collect_scale,
                    broker,
                )
            )
    machine = machine_info()
    if args.json:
        document = {
            "machine": machine,
            "quick": args.quick,
            "benchmarks": [asdict(r) for r in results],
            "network": asdict(network) if network is not None else None,
            "headend": asdict(headend) if headend is not None else None,
            "billing": None if billing is None else [asdict(r) for r in billing],
            "load": None if load is None else {"results": [asdict(r) for r in load[0]], "skipped": load[1]},
            "collect": (
                asdict(collect)
                if collect is not None
                else ({"skipped": collect_skipped} if collect_skipped else None)
            ),
        }
        print(json.dumps(document, indent=2))
    else:
        print(format_table(results, machine))
        if network is not None:
            print()
            print(format_network(network))
        if headend is not None:
            print()
            print(format_headend(headend))
        if billing is not None:
            print()
            print(format_billing(billing))
        if load is not None:
            print()
            print(format_load(*load))
        if collect is not None:
            print()
            print(format_collect(collect))
        elif collect_skipped:
            print()
            print(f"collector: skipped ({collect_skipped})")
    missed = (
        any(r.verdict == "MISS" for r in results)
        or (
            network is not None
            and "MISS" in (network.verdict_speed, network.verdict_on_time, network.verdict_delivered)
        )
        or (headend is not None and any(f.verdict == "MISS" for f in headend.figures))
        or (billing is not None and any(r.verdict == "MISS" for r in billing))
        or (load is not None and any(r.verdict == "MISS" for r in load[0]))
        or (collect is not None and collect.verdict == "MISS")
    )
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
