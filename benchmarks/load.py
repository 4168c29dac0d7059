"""Readers of the API while ingest writes (issue 12, defect 9): latency under load, beside no writer.

Run from the repository root with the package installed::

    python benchmarks/load.py                    # 20 readers, 30 s a phase, SQLite and PostgreSQL
    python benchmarks/load.py --seconds 10       # shorter phases
    python benchmarks/load.py --json             # the figures as a JSON document
    python benchmarks/run.py --load-seconds 30   # the same section among the other benchmarks

What runs, for each backend (SQLite always, in a temporary directory; PostgreSQL when
``MESHMETER_DATABASE_URL`` or ``MESHMETER_TEST_POSTGRES_URL`` names a server, in a private schema dropped
afterwards):

* The server is ``meshmeter serve`` in its own process, on 127.0.0.1 and a free port, over a store made
  beforehand: ``--readers`` meters with two months (January and February 2024) of 15-minute intervals each,
  ``--writer-meters`` more meters for the writer, a read-only token and an operator token.
* **Readers**: ``--readers`` threads, each with its own keep-alive connection, each asking again and again
  for its own meter's month (January and February in turn), ``GET /meters/{serial}/intervals`` as JSON
  (about 2,900 quarter-hours), the body read whole. A reader's latency is from sending the request to the
  last byte of the answer.
* **Writer**: one thread sending ``POST /intervals`` as a DCAP would: one JSON document per day with that
  day's 96 intervals of each of the writer's meters, one day after another, each waited for before the next.
* Two phases of ``--seconds`` each, on the same server: the readers alone (the baseline), then the readers
  with the writer. Figures per phase: the readers' p50, p95, p99 and max latency, their errors (any answer
  but 200, and any failed connection) and requests per second; the writer's documents, rows stored per
  second and errors. After the second phase, every row the writer was told was stored is counted in the
  store: none may be lost.

Bounded: each phase stops at ``--seconds`` or after ``--max-requests`` reader requests, whichever comes first;
the writer has at most a year of days. Loopback only: the server listens on 127.0.0.1 and nothing else is
contacted. Target (issue 12): the readers' p95 under 100 ms with the writer, on each backend.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg

from common import percentile, pg_schema, postgres_url
from meshmeter.intervals import INTERVAL_S
from meshmeter.store import Store

__all__ = [
    "LOAD_TARGET_P95_S",
    "LoadPhase",
    "LoadResult",
    "bench_load",
    "bench_load_all",
    "format_load",
    "main",
]

LOAD_TARGET_P95_S = 0.100
"""Issue 12: readers' 95th percentile under 100 ms while the writer ingests. [s]"""
HOST = "127.0.0.1"
"""Loopback only: the server listens here and the clients connect nowhere else."""
READ_START = datetime(2024, 1, 1, tzinfo=UTC)
"""The readers' meters hold January and February 2024."""
READ_MONTHS = (
    (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)),
    (
        datetime(2024, 2, 1, tzinfo=UTC),
        datetime(2024, 3, 1, tzinfo=UTC),
    ),
)
"""The two months a reader asks for in turn, ``(start, end]``."""
WRITE_START = datetime(2025, 1, 1, tzinfo=UTC)
"""The writer's first day."""
WRITE_MAX_DAYS = 366
"""The most days the writer sends (a bound on the writer's work)."""
WRITER_MAX_DOCUMENTS_PER_S = 8.0
"""Documents made for the writer per second of a phase: more than it sends (about 2 a second here)."""
SERVER_START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class LoadPhase:
    """What the readers (and the writer, if any) saw during one phase."""

    name: str
    seconds: float
    """How long the phase ran. [s]"""
    requests: int
    """Reader requests answered or failed."""
    errors: int
    """Reader requests answered with anything but 200, or failed."""
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    writer_documents: int = 0
    """Writer documents answered 201."""
    writer_rows: int = 0
    """Rows the writer was told were stored."""
    writer_errors: int = 0
    writer_rows_per_s: float = 0.0
    writer_p95_ms: float = 0.0
    error_samples: list[str] = field(default_factory=list)
    """The first few errors, as seen."""


@dataclass(frozen=True)
class LoadResult:
    """The two phases on one backend."""

    backend: str
    readers: int
    writer_meters: int
    rows_per_month: int
    """Quarter-hours in one reader's answer (January: 2,976). [1]"""
    no_writer: LoadPhase
    with_writer: LoadPhase
    rows_lost: int
    """Rows the writer was told were stored but the store does not hold."""
    target: str
    verdict: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _prepare_store(url: str, readers: int, writer_meters: int) -> tuple[list[str], list[str], str, str]:
    """The readers' meters with two months each, the writer's meters empty, and two tokens."""
    store = Store(url)
    try:
        days = (READ_MONTHS[-1][1] - READ_START).days
        n = days * 86_400 // INTERVAL_S
        ends = [READ_START + timedelta(seconds=INTERVAL_S * (k + 1)) for k in range(n)]
        rng = np.random.default_rng(20261204)
        read_serials = [f"LOADR{k:04d}" for k in range(readers)]
        for serial in read_serials:
            meter = store.create_meter(serial=serial, designation="MM-D1202001-T-SCC", ct_ratio=2000)
            energy = rng.integers(20, 121, size=n)
            cumulative = np.cumsum(energy) + int(rng.integers(0, 10**6))
            store.insert_raw_intervals(
                meter_id=meter.id,
                rows=list(zip(ends, energy.tolist(), cumulative.tolist(), strict=True)),
                source="bench",
            )
        write_serials = [f"LOADW{k:04d}" for k in range(writer_meters)]
        for serial in write_serials:
            store.create_meter(serial=serial, designation="MM-D1202001-T-SCC", ct_ratio=2000)
        reader_token = store.create_api_token(role="read-only", label="load benchmark readers")[1]
        writer_token = store.create_api_token(role="operator", label="load benchmark writer")[1]
    finally:
        store.close()
    return read_serials, write_serials, reader_token, writer_token


def _writer_documents(serials: Sequence[str], days: int) -> Iterator[tuple[bytes, int]]:
    """One ``POST /intervals`` document a day: each meter's 96 intervals of that day; and its row count."""
    rng = np.random.default_rng(20261205)
    registers = rng.integers(0, 10**6, size=len(serials))
    per_day = 86_400 // INTERVAL_S
    for day in range(days):
        first = WRITE_START + timedelta(days=day)
        stamps = [
            (first + timedelta(seconds=INTERVAL_S * (k + 1))).strftime("%Y-%m-%dT%H:%M:%SZ")
            for k in range(per_day)
        ]
        energy = rng.integers(20, 121, size=(len(serials), per_day))
        cumulative = np.cumsum(energy, axis=1) + registers[:, None]
        registers = cumulative[:, -1]
        objects = []
        for m, serial in enumerate(serials):
            items = ",".join(
                f'{{"interval_end":"{s}","energy_wh":{e},"cumulative_wh":{c}}}'
                for s, e, c in zip(stamps, energy[m].tolist(), cumulative[m].tolist(), strict=True)
            )
            objects.append(f'{{"meter":"{serial}","intervals":[{items}]}}')
        yield ("[" + ",".join(objects) + "]").encode(), len(serials) * per_day


@contextmanager
def _server(url: str) -> Iterator[int]:
    """
    ``meshmeter serve`` on 127.0.0.1 in its own process; yields its port once it answers. Its log (an
    access line per request, as served) goes to a temporary file, which nothing can fill up.
    """
    port = _free_port()
    env = {**os.environ, "MESHMETER_ENVIRONMENT": "development"}
    env.pop("MESHMETER_ADMIN_TOKEN", None)
    command = [sys.executable, "-m", "meshmeter", "serve", "--host", HOST, "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([*command, "--database", url], env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + SERVER_START_TIMEOUT_S
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"meshmeter serve ended: {log.read().decode()[-2000:]}")
                try:
                    connection = http.client.HTTPConnection(HOST, port, timeout=5)
                    connection.request("GET", "/openapi.json")
                    connection.getresponse().read()
                    connection.close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"meshmeter serve did not answer within {SERVER_START_TIMEOUT_S:g} s"
                        ) from None
                    time.sleep(0.1)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """One HTTP/1.1 request on a kept-alive connection: the status and the whole body."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length)
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        parts.append(await reader.readexactly(size + 2))
        if size == 0:
            return status, b"".join(p[:-2] for p in parts)


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(HOST, port, limit=2**20)


@dataclass
class _Tally:
    """What one phase's clients saw."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    budget: int = 0
    writer_documents: int = 0
    writer_rows: int = 0
    writer_errors: list[str] = field(default_factory=list)
    writer_latencies: list[float] = field(default_factory=list)


async def _reader(port: int, serial: str, token: str, deadline: float, tally: _Tally) -> None:
    """Ask for the reader's meter's months in turn, each as soon as the one before is read whole."""
    requests = [
        (
            f"GET /meters/{serial}/intervals?start={lo:%Y-%m-%dT%H:%M:%SZ}&end={hi:%Y-%m-%dT%H:%M:%SZ} "
            f"HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Accept: application/json\r\n\r\n"
        ).encode()
        for lo, hi in READ_MONTHS
    ]
    reader, writer = await _connect(port)
    k = 0
    try:
        while time.perf_counter() < deadline and tally.budget > 0:
            tally.budget -= 1
            request = requests[k % len(requests)]
            k += 1
            started = time.perf_counter()
            try:
                status, body = await _exchange(reader, writer, request)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                tally.latencies.append(time.perf_counter() - started)
                tally.errors.append(f"GET {serial}: {type(exc).__name__}: {exc}")
                writer.close()
                reader, writer = await _connect(port)
                continue
            tally.latencies.append(time.perf_counter() - started)
            if status != 200 or not body.endswith(b"}"):
                tally.errors.append(f"GET {serial}: {status} {body[:200]!r}")
    finally:
        writer.close()


async def _writer(
    port: int, documents: Sequence[tuple[bytes, int]], token: str, deadline: float, tally: _Tally
) -> None:
    """Send the documents one after another, each when the one before is answered."""
    reader, writer = await _connect(port)
    try:
        for body, rows in documents:
            if time.perf_counter() >= deadline:
                break
            request = (
                f"POST /intervals HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            started = time.perf_counter()
            try:
                status, answer = await _exchange(reader, writer, request)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                tally.writer_errors.append(f"POST /intervals: {type(exc).__name__}: {exc}")
                writer.close()
                reader, writer = await _connect(port)
                continue
            tally.writer_latencies.append(time.perf_counter() - started)
            if status != 201:
                tally.writer_errors.append(f"POST /intervals: {status} {answer[:200]!r}")
                continue
            stored = int(json.loads(answer)["stored"])
            if stored != rows:
                tally.writer_errors.append(f"POST /intervals: stored {stored} of {rows} rows")
            tally.writer_documents += 1
            tally.writer_rows += stored
    finally:
        writer.close()


def _count_rows(url: str, serials: Sequence[str]) -> int:
    """Intervals the store holds for ``serials`` (the latest revision of each counted once)."""
    from sqlalchemy import bindparam, text

    store = Store(url)
    try:
        with store.engines.reader.connect() as connection:
            return int(
                connection.execute(
                    text(
                        "SELECT count(*) FROM (SELECT DISTINCT r.meter_id, r.interval_end "
                        "FROM raw_intervals r JOIN meters m ON m.id = r.meter_id "
                        "WHERE m.serial IN :serials) AS held"
                    ).bindparams(bindparam("serials", expanding=True)),
                    {"serials": list(serials)},
                ).scalar_one()
            )
    finally:
        store.close()


def _phase(
    name: str,
    port: int,
    serials: Sequence[str],
    reader_token: str,
    seconds: float,
    max_requests: int,
    writer: tuple[Sequence[tuple[bytes, int]], str] | None,
) -> tuple[LoadPhase, _Tally]:
    """One phase: every reader (and the writer) on one event loop of this process, until the deadline."""
    tally = _Tally(budget=max_requests)

    async def run() -> float:
        started = time.perf_counter()
        deadline = started + seconds
        tasks = [_reader(port, serial, reader_token, deadline, tally) for serial in serials]
        if writer is not None:
            tasks.append(_writer(port, writer[0], writer[1], deadline, tally))
        await asyncio.gather(*tasks)
        return time.perf_counter() - started

    elapsed = asyncio.run(run())
    every = sorted(tally.latencies)
    writer_latencies = sorted(tally.writer_latencies)
    phase = LoadPhase(
        name=name,
        seconds=elapsed,
        requests=len(every),
        errors=len(tally.errors),
        requests_per_s=len(every) / elapsed,
        p50_ms=percentile(every, 0.50) * 1e3,
        p95_ms=percentile(every, 0.95) * 1e3,
        p99_ms=percentile(every, 0.99) * 1e3,
        max_ms=(every[-1] if every else 0.0) * 1e3,
        writer_documents=tally.writer_documents,
        writer_rows=tally.writer_rows,
        writer_errors=len(tally.writer_errors),
        writer_rows_per_s=tally.writer_rows / elapsed,
        writer_p95_ms=percentile(writer_latencies, 0.95) * 1e3,
        error_samples=(tally.errors + tally.writer_errors)[:5],
    )
    return phase, tally


def bench_load(
    url: str, backend: str, *, readers: int, seconds: float, max_requests: int, writer_meters: int
) -> LoadResult:
    """The readers alone, then with the writer, against ``meshmeter serve`` over the store at ``url``."""
    read_serials, write_serials, reader_token, writer_token = _prepare_store(url, readers, writer_meters)
    # The writer's documents are made beforehand, so that making them takes nothing from the readers'
    # event loop: as many days as the writer could send (a few a second at most), never more than a year.
    days = min(WRITE_MAX_DAYS, max(1, math.ceil(WRITER_MAX_DOCUMENTS_PER_S * seconds)))
    documents = list(_writer_documents(write_serials, days))
    with _server(url) as port:
        # Warm-up: each reader's two months once (connections, caches, the first import of each path).
        _phase("warm-up", port, read_serials, reader_token, 60.0, 2 * readers, None)
        alone, _ = _phase("readers alone", port, read_serials, reader_token, seconds, max_requests, None)
        loaded, tally = _phase(
            "readers + writer",
            port,
            read_serials,
            reader_token,
            seconds,
            max_requests,
            (documents, writer_token),
        )
    held = _count_rows(url, write_serials)
    return LoadResult(
        backend=backend,
        readers=readers,
        writer_meters=writer_meters,
        rows_per_month=(READ_MONTHS[0][1] - READ_MONTHS[0][0]).days * 86_400 // INTERVAL_S,
        no_writer=alone,
        with_writer=loaded,
        rows_lost=max(0, tally.writer_rows - held),
        target=f"p95 < {LOAD_TARGET_P95_S * 1e3:g} ms with the writer, no error, no row lost",
        verdict=(
            "PASS"
            if loaded.p95_ms < LOAD_TARGET_P95_S * 1e3
            and loaded.errors == 0
            and loaded.writer_errors == 0
            and tally.writer_rows <= held
            else "MISS"
        ),
    )


def bench_load_all(
    *, readers: int, seconds: float, max_requests: int, writer_meters: int
) -> tuple[list[LoadResult], dict[str, str]]:
    """
    :func:`bench_load` on SQLite, and on PostgreSQL where a server is named; and why a backend was
    skipped.
    """
    results: list[LoadResult] = []
    skipped: dict[str, str] = {}

    def run(url: str, backend: str) -> LoadResult:
        return bench_load(
            url,
            backend,
            readers=readers,
            seconds=seconds,
            max_requests=max_requests,
            writer_meters=writer_meters,
        )

    with tempfile.TemporaryDirectory(prefix="meshmeter-load-") as tmp:
        results.append(run(f"sqlite:///{Path(tmp) / 'load.db'}", "sqlite"))
    url, why = postgres_url()
    if url is None:
        skipped["postgresql"] = why
    else:
        try:
            with pg_schema(url) as (store_url, _):
                results.append(run(store_url, "postgresql"))
        except psycopg.OperationalError as exc:
            skipped["postgresql"] = f"the server could not be reached: {str(exc).strip().splitlines()[0]}"
    return results, skipped


def format_load(results: Sequence[LoadResult], skipped: dict[str, str]) -> str:
    """The phases as a table: each backend's readers alone, then with the writer."""
    header = (
        "backend",
        "phase",
        "requests",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "errors",
        "writer rows/s",
        "writer p95 ms",
        "verdict",
    )
    rows = []
    for r in results:
        for phase in (r.no_writer, r.with_writer):
            loaded = phase is r.with_writer
            rows.append(
                (
                    r.backend,
                    phase.name,
                    f"{phase.requests:,}",
                    f"{phase.requests_per_s:,.1f}",
                    f"{phase.p50_ms:,.1f}",
                    f"{phase.p95_ms:,.1f}",
                    f"{phase.p99_ms:,.1f}",
                    f"{phase.max_ms:,.1f}",
                    f"{phase.errors + phase.writer_errors}",
                    f"{phase.writer_rows_per_s:,.0f}" if loaded else "-",
                    f"{phase.writer_p95_ms:,.1f}" if loaded else "-",
                    r.verdict if loaded else "-",
                )
            )
    widths = [max(len(str(row[k])) for row in (header, *rows)) for k in range(len(header))]
    lines = []
    if results:
        r0 = results[0]
        lines.append(
            f"load: {r0.readers} readers (each its own meter's month, {r0.rows_per_month:,} quarter-hours, "
            "JSON) "
            f"against meshmeter serve on {HOST}; writer: POST /intervals, a day of {r0.writer_meters} meters "
            f"({r0.writer_meters * 86_400 // INTERVAL_S:,} rows) per document"
        )
    lines += [
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    for r in results:
        ratio = r.with_writer.p95_ms / r.no_writer.p95_ms if r.no_writer.p95_ms else float("nan")
        lines.append(
            f"{r.backend}: p95 with the writer / alone = {ratio:.2f}x; writer documents "
            f"{r.with_writer.writer_documents}, rows {r.with_writer.writer_rows:,}, lost {r.rows_lost}; "
            f"target: {r.target}"
        )
        for sample in r.no_writer.error_samples + r.with_writer.error_samples:
            lines.append(f"{r.backend}: error: {sample}")
    for backend, why in skipped.items():
        lines.append(f"{backend}: skipped ({why})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the load benchmark, print its figures; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--readers", type=int, default=20, help="reader threads, each its own meter")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each phase [s]")
    parser.add_argument("--max-requests", type=int, default=100_000, help="most reader requests per phase")
    parser.add_argument("--writer-meters", type=int, default=50, help="meters in each writer document")
    parser.add_argument("--json", action="store_true", help="print a JSON document instead of a table")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when the target is missed")
    args = parser.parse_args(argv)
    results, skipped = bench_load_all(
        readers=args.readers,
        seconds=args.seconds,
        max_requests=args.max_requests,
        writer_meters=args.writer_meters,
    )
    if args.json:
        print(json.dumps({"load": [asdict(r) for r in results], "skipped": skipped}, indent=2))
    else:
        print(format_load(results, skipped))
    return 1 if args.strict and any(r.verdict == "MISS" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
