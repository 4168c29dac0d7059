"""Acceptance (issue 4): kill the ingest process with SIGKILL in the middle of a large batch, start it again,
send the batch again: nothing lost, nothing counted twice. On a SQLite file and on PostgreSQL.

The batch is a CSV of 20 meters × 30 days of 15-minute intervals (57 600 rows). ``meshmeter ingest`` checks
the whole file first, then stores it meter by meter, one transaction each (about 80 ms a meter here); the
test polls the database and sends SIGKILL once a third of the rows are committed, so the kill lands while
the process is writing: some meters stored, the others not. The same command run again must then store
exactly the rest: every (meter, interval_end) once, one revision, the batch's values and sums.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import URL

from meshmeter.store import Store
from meshmeter.store.schema import raw_intervals

METERS = 20
DAYS = 30
PER_METER = DAYS * 96
TOTAL = METERS * PER_METER
KILL_AT = TOTAL // 3
"""Rows committed when the test sends SIGKILL: about a third of the batch."""
START = datetime(2025, 3, 1, tzinfo=UTC)
INTERVAL = timedelta(minutes=15)
SERIALS = [f"MMKILL{m:04d}" for m in range(METERS)]
POLL_S = 0.005
RUN_TIMEOUT_S = 120.0


def expected_batch() -> dict[str, list[tuple[datetime, int, int]]]:
    """Each meter's intervals as ``(interval_end, energy_wh, cumulative_wh)``, oldest first."""
    batch: dict[str, list[tuple[datetime, int, int]]] = {}
    for m, serial in enumerate(SERIALS):
        cumulative = 1_000_000 * (m + 1)
        rows = []
        for i in range(PER_METER):
            energy = (m * 37 + i * 13) % 611
            cumulative += energy
            rows.append((START + INTERVAL * (i + 1), energy, cumulative))
        batch[serial] = rows
    return batch


def write_csv(path: Path, batch: dict[str, list[tuple[datetime, int, int]]]) -> None:
    lines = ["meter,interval_end,energy_wh,cumulative_wh"]
    for serial, rows in batch.items():
        lines += [
            f"{serial},{end.strftime('%Y-%m-%dT%H:%M:%SZ')},{energy},{cumulative}"
            for end, energy, cumulative in rows
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def stored_count(store: Store) -> int:
    """Raw interval rows committed, over all meters and revisions."""
    with store.engines.reader.connect() as c:
        return int(c.execute(select(func.count()).select_from(raw_intervals)).scalar_one())


def per_meter_counts(store: Store, meter_ids: dict[str, int]) -> dict[str, int]:
    return {
        serial: len(
            store.raw_intervals(
                meter_id=meter_id,
                start=START - INTERVAL,
                end=START + INTERVAL * PER_METER,
                all_revisions=True,
            )
        )
        for serial, meter_id in meter_ids.items()
    }


def wait_for_killed_backend(store: Store, application_name: str) -> None:
    """PostgreSQL: wait until the killed client's server process is gone (its transaction settled)."""
    query = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
    deadline = time.monotonic() + 30
    while True:
        with store.engines.reader.connect() as c:
            if c.execute(query, {"name": application_name}).scalar_one() == 0:
                return
        if time.monotonic() > deadline:
            pytest.fail(
                f"the killed ingest's PostgreSQL backend ({application_name}) is still there after 30 s"
            )
        time.sleep(0.02)


@pytest.fixture(params=["sqlite-file", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL as ``--database`` takes it: a SQLite file, or a private PostgreSQL schema."""
    if request.param == "sqlite-file":
        return f"sqlite:///{tmp_path / 'kill.db'}"
    url: URL = request.getfixturevalue("postgres_schema_url")
    return url.render_as_string(hide_password=False)


@pytest.mark.slow
def test_sigkill_mid_batch_then_resend_loses_nothing_and_counts_nothing_twice(
    database: str, tmp_path: Path
) -> None:
    batch = expected_batch()
    batch_file = tmp_path / "batch.csv"
    write_csv(batch_file, batch)
    command = [sys.executable, "-m", "meshmeter", "ingest", str(batch_file), "--database", database, "--json"]
    app_name = f"meshmeter-kill-{secrets.token_hex(4)}"
    env = {**os.environ, "PGAPPNAME": app_name}  # libpq: lets the test find the child's server process
    env.pop("MESHMETER_DATABASE_URL", None)

    store = Store(database)
    try:
        meter_ids = {
            serial: store.create_meter(serial=serial, designation="MM-D1202001-T-SCC", ct_ratio=2000).id
            for serial in SERIALS
        }
        sqlite = store.dialect_name == "sqlite"

        # 1. Start the ingest, wait until a third of the batch is committed, SIGKILL it.
        started = time.monotonic()
        child = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            seen = 0
            while child.poll() is None and time.monotonic() - started < RUN_TIMEOUT_S:
                seen = stored_count(store)
                if seen >= KILL_AT:
                    break
                time.sleep(POLL_S)
            alive = child.poll() is None
            if alive:
                os.kill(child.pid, signal.SIGKILL)
            killed_after_s = time.monotonic() - started
        finally:
            if child.poll() is None:
                child.kill()
            _, stderr = child.communicate(timeout=30)
        assert alive, (
            f"the ingest finished (status {child.returncode}) before it could be killed, after "
            f"{killed_after_s:.2f} s with {seen} of {TOTAL} rows seen: make the batch larger; {stderr!r}"
        )
        assert child.returncode == -signal.SIGKILL, f"not killed by SIGKILL: status {child.returncode}"

        if not sqlite:
            wait_for_killed_backend(store, app_name)
        after_kill = stored_count(store)
        counts = per_meter_counts(store, meter_ids)
        full = sorted(s for s, n in counts.items() if n == PER_METER)
        landing = (
            f"[{store.dialect_name}] SIGKILL after {killed_after_s:.2f} s, poll saw {seen} rows; "
            f"{after_kill} of {TOTAL} rows ({len(full)} of {METERS} meters) stored at the kill"
        )
        print(landing)
        # One transaction per meter: a meter is stored whole or not at all, never in part, never twice.
        assert all(n in (0, PER_METER) for n in counts.values()), (
            f"{landing}: a meter stored in part {counts}"
        )
        assert sum(counts.values()) == after_kill, landing
        if sqlite:
            path = database.removeprefix("sqlite:///")
            with closing(sqlite3.connect(path)) as check:
                assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)], landing

        # 2. Start it again with the same batch: it runs to completion and stores exactly the rest.
        rerun = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, f"{landing}; the rerun failed: {rerun.stderr}"
        result = json.loads(rerun.stdout)
        assert result == {
            "accepted": TOTAL,
            "new": TOTAL - after_kill,
            "duplicates": after_kill,
            "provisional": 0,
            "rebuilt": 0,
            "revised": 0,
        }, landing

        # 3. Every (meter, interval_end) of the batch once, revision 0, its values; nothing else.
        assert stored_count(store) == TOTAL, landing
        for serial, rows in batch.items():
            stored = store.raw_intervals(
                meter_id=meter_ids[serial],
                start=START - INTERVAL,
                end=START + INTERVAL * PER_METER,
                all_revisions=True,
            )
            got = [(r.interval_end, r.revision, r.energy_wh, r.cumulative_wh, r.source) for r in stored]
            assert got == [(end, 0, e, c, "file") for end, e, c in rows], f"{landing}: meter {serial}"
            assert sum(r.energy_wh for r in stored) == sum(e for _, e, _ in rows), f"{landing}: {serial}"
        assert sum(sum(e for _, e, _ in rows) for rows in batch.values()) == sum(
            sum(
                r.energy_wh
                for r in store.raw_intervals(meter_id=i, start=START, end=START + INTERVAL * PER_METER)
            )
            for i in meter_ids.values()
        ), landing
    finally:
        store.close()

    if sqlite:
        with closing(sqlite3.connect(database.removeprefix("sqlite:///"))) as check:
            assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)], landing
            assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert check.execute(
                "SELECT count(*), count(DISTINCT meter_id || '/' || interval_end) FROM raw_intervals"
            ).fetchone() == (TOTAL, TOTAL), landing
