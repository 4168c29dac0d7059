"""A killed ``meshmeter site simulate`` (or ``meshmeter demo``) run again ends as an uninterrupted run
(issue 12, defect 5).

The way a user meets it: the command runs in a process of its own (``python -m meshmeter.cli``), is killed
with SIGKILL part-way (after the site is stored, between meters, mid-ingest, mid-VEE, mid-bills), and the
same command is run again. The store it leaves is compared, table by table and by natural keys (serials,
names, EUI-64s, instants: ids and wall-clock stamps differ between runs by nature), with the store of one
uninterrupted run. The kill points are deterministic: ``MESHMETER_TEST_KILL_AT=<stage>[:<n>]`` makes the
run SIGKILL itself at that stage (``meshmeter.services.simulation``); one more case kills it by timing.
On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from meshmeter.site.example import demo_site_toml
from meshmeter.store import Store, database_url
from meshmeter.store import schema as s
from tests.store.conftest import _libpq_url, postgres_base_url

START = "2026-06-01T07:00Z"
WINDOW = (datetime(2026, 6, 1, 7, tzinfo=UTC), datetime(2026, 6, 2, 7, tzinfo=UTC))
KILL_ENV = "MESHMETER_TEST_KILL_AT"
ENV = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
ENV.pop(KILL_ENV, None)


def command(site: Path, url: str, seed: int = 0) -> list[str]:
    return [
        *(sys.executable, "-m", "meshmeter.cli", "site", "simulate", str(site)),
        *("--days", "0.25", "--start", START, "--seed", str(seed), "--database", url, "--quiet"),
    ]


def simulate(
    site: Path, url: str, *, kill_at: str | None = None, seed: int = 0
) -> subprocess.CompletedProcess[str]:
    env = dict(ENV)
    if kill_at is not None:
        env[KILL_ENV] = kill_at
    return subprocess.run(
        command(site, url, seed), env=env, capture_output=True, text=True, timeout=300, check=False
    )


def killed(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == -signal.SIGKILL


CLOCK = {"wall_s", "speedup", "events_per_s"}
"""Members of the CIT report that time the simulation on the wall clock: different in any two runs."""


def snapshot(url: str) -> dict[str, Any]:
    """Every table of the store that a site run writes, by natural keys, without ids or wall-clock stamps."""
    engine = sa.create_engine(database_url(url))
    out: dict[str, Any] = {}
    try:
        with engine.connect() as c:
            site_name = {r.id: r.name for r in c.execute(sa.select(s.sites))}
            serial = {r.id: r.serial for r in c.execute(sa.select(s.meters))}
            tenant = {r.id: r.name for r in c.execute(sa.select(s.tenants))}

            def rows(table: sa.Table, *drop: str, **mapped: dict[Any, Any]) -> list[tuple[Any, ...]]:
                names = [col.name for col in table.columns if col.name not in {"id", *drop}]
                found = []
                for r in c.execute(sa.select(table)):
                    m = r._mapping
                    found.append(
                        tuple((n, mapped[n].get(m[n], m[n]) if n in mapped else m[n]) for n in names)
                    )
                return sorted(found, key=repr)

            out["sites"] = rows(s.sites)
            out["meters"] = rows(s.meters, site_id=site_name)
            out["mdts"] = rows(s.mdts, meter_id=serial)
            out["tenants"] = rows(s.tenants)
            unit = {r.id: (site_name.get(r.site_id), r.name) for r in c.execute(sa.select(s.units))}
            account = {r.id: (site_name.get(r.site_id), r.number) for r in c.execute(sa.select(s.accounts))}
            occupancy = {
                r.id: (account[r.account_id], r.move_in) for r in c.execute(sa.select(s.occupancies))
            }
            out["units"] = rows(s.units, site_id=site_name, meter_id=serial)
            out["accounts"] = rows(s.accounts, site_id=site_name, tenant_id=tenant)
            out["occupancies"] = rows(s.occupancies, account_id=account, unit_id=unit)
            out["tenancy_events"] = rows(
                s.tenancy_events,
                "recorded_at",
                tenant_id=tenant,
                account_id=account,
                unit_id=unit,
                occupancy_id=occupancy,
            )
            out["raw_intervals"] = rows(s.raw_intervals, "batch_id", meter_id=serial)
            out["raw_interval_revisions"] = rows(s.raw_interval_revisions, "batch_id", meter_id=serial)
            out["validated_intervals"] = rows(s.validated_intervals, meter_id=serial)
            out["interval_edits"] = rows(s.interval_edits, "edited_at", meter_id=serial)
            out["register_reads"] = rows(s.register_reads, meter_id=serial)
            out["events"] = rows(s.events, meter_id=serial)
            out["network_reports"] = [
                (
                    r.site_id and site_name[r.site_id],
                    r.taken_at,
                    {k: v for k, v in r.report.items() if k not in CLOCK},
                )
                for r in c.execute(sa.select(s.network_reports))
            ]
            out["bills"] = rows(s.bills, "created_at", site_id=site_name, account_id=account, meter_id=serial)
            out["vee_runs"] = rows(s.vee_runs, "batch_watermark", "ran_at", meter_id=serial)
            out["push_outbox"] = rows(s.push_outbox, "created_at", "next_attempt_at")
    finally:
        engine.dispose()
    with Store(url) as store:  # the one validated view, as billed
        out["view"] = {
            m.serial: store.interval_view(meter_id=m.id, start=WINDOW[0], end=WINDOW[1]).rows()
            for m in store.meters()
        }
    return out


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got.keys() == want.keys()
    for table in want:
        assert got[table] == want[table], f"{table} differs from the uninterrupted run's"


@pytest.fixture
def site_file(tmp_path: Path) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(demo_site_toml(), encoding="utf-8")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty stores of one backend: the uninterrupted run's and the killed run's.

    Every kill point runs on SQLite; one runs on PostgreSQL too (the steps are the same on both, and each
    run is a few seconds of subprocesses).
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'whole.sqlite'}", f"sqlite:///{tmp_path / 'killed.sqlite'}"
        return
    base = postgres_base_url()
    schemas = [f"test_resume_{secrets.token_hex(6)}" for _ in range(2)]
    with psycopg.connect(_libpq_url(base), autocommit=True) as connection:
        for schema in schemas:
            connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        a, b = (
            base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
                hide_password=False
            )
            for schema in schemas
        )
        yield a, b
    finally:
        with psycopg.connect(_libpq_url(base), autocommit=True) as connection:
            for schema in schemas:
                connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


_WHOLE: dict[tuple[str, str], dict[str, Any]] = {}


def whole_run(site: Path, url: str, backend: str) -> dict[str, Any]:
    """The uninterrupted run's store (run once per backend)."""
    key = (backend, site.read_text(encoding="utf-8"))
    if key not in _WHOLE:
        result = simulate(site, url)
        assert result.returncode == 0, result.stderr
        _WHOLE[key] = snapshot(url)
    return _WHOLE[key]


def backend(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


ALL_KILL_POINTS = [
    "started",  # the run marker stored, nothing else
    "site",  # the site stored, no meter yet
    "meters:7",  # 7 of 26 meters with their MDTs and install events
    "tenants:3",  # 3 tenants made, their accounts not yet
    "accounts:10",
    "ingest:5",  # 5 of 26 devices' intervals ingested
    "reads",  # register reads stored, no alert yet
    "measurements:4",
    "report",  # the CIT report stored
    "vee:9",  # VEE done on 9 of 26 meters
    "bills:3",  # 3 of 25 bills saved
    "bills:25",  # every bill saved, the run not marked complete
]

KILL_POINTS = ALL_KILL_POINTS if os.environ.get("MESHMETER_TEST_ALL_KILL_POINTS") else ["ingest:5", "bills:3"]
"""The suite kills a run mid-ingest and mid-bills (with the timing test, after the meters, and the demo);
with ``MESHMETER_TEST_ALL_KILL_POINTS=1`` it kills it at every point (about a minute more)."""


@pytest.mark.parametrize(
    ("urls", "kill_at"),
    [*(("sqlite", k) for k in KILL_POINTS), ("postgresql", "ingest:5")],
    indirect=["urls"],
)
def test_a_killed_site_simulate_run_again_ends_as_an_uninterrupted_run(
    site_file: Path, urls: tuple[str, str], kill_at: str
) -> None:
    whole_url, killed_url = urls
    want = whole_run(site_file, whole_url, backend(whole_url))
    first = simulate(site_file, killed_url, kill_at=kill_at)
    assert killed(first), (first.returncode, first.stderr)
    again = simulate(site_file, killed_url)
    assert again.returncode == 0, again.stderr
    assert_same(snapshot(killed_url), want)


@pytest.mark.parametrize("urls", ["sqlite"], indirect=True)
def test_killed_twice_then_finished(site_file: Path, urls: tuple[str, str]) -> None:
    whole_url, killed_url = urls
    want = whole_run(site_file, whole_url, backend(whole_url))
    assert killed(simulate(site_file, killed_url, kill_at="meters:3"))
    assert killed(simulate(site_file, killed_url, kill_at="vee:2"))
    again = simulate(site_file, killed_url)
    assert again.returncode == 0, again.stderr
    assert_same(snapshot(killed_url), want)


def test_killed_by_timing_mid_run(site_file: Path, tmp_path: Path) -> None:
    """SIGKILL from outside once the site's meters are in the store, then the same command again."""
    whole = f"sqlite:///{tmp_path / 'whole.sqlite'}"
    want = whole_run(site_file, whole, "sqlite")
    url = f"sqlite:///{tmp_path / 'timed.sqlite'}"
    env = dict(ENV)
    proc = subprocess.Popen(
        command(site_file, url), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    engine = sa.create_engine(database_url(url))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with engine.connect() as c:
                    if c.execute(sa.select(sa.func.count()).select_from(s.meters)).scalar():
                        break
            except sa.exc.OperationalError:
                pass  # not made yet, or locked
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        engine.dispose()
    again = simulate(site_file, url)
    assert again.returncode == 0, again.stderr
    assert_same(snapshot(url), want)


def test_a_complete_run_is_not_run_twice(site_file: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'done.sqlite'}"
    assert simulate(site_file, url).returncode == 0
    before = snapshot(url)
    again = simulate(site_file, url)
    assert again.returncode == 2
    assert "already in the store" in again.stderr
    assert_same(snapshot(url), before)


def test_an_unfinished_run_of_another_site_file_or_window_is_refused(site_file: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'half.sqlite'}"
    assert killed(simulate(site_file, url, kill_at="ingest:3"))
    before = snapshot(url)
    other = tmp_path / "other.toml"
    other.write_text(
        site_file.read_text(encoding="utf-8").replace("annual_kwh = 4000", "annual_kwh = 4100", 1)
    )
    assert other.read_text(encoding="utf-8") != site_file.read_text(encoding="utf-8")
    refused = simulate(other, url)
    assert refused.returncode == 2
    assert "unfinished run" in refused.stderr, refused.stderr
    assert "different site file" in refused.stderr, refused.stderr
    reseeded = simulate(site_file, url, seed=3)
    assert reseeded.returncode == 2
    assert "--seed 0" in reseeded.stderr, reseeded.stderr
    assert f"--start {START[:-1]}" in reseeded.stderr, reseeded.stderr
    assert_same(snapshot(url), before)
    assert simulate(site_file, url).returncode == 0  # the same file and window finish it


def test_a_site_added_by_hand_is_still_refused(site_file: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hand.sqlite'}"
    with Store(url) as store:
        store.create_site(name="Mission Court Apartments", timezone="America/Los_Angeles")
    result = simulate(site_file, url)
    assert result.returncode == 2
    assert "already in the store" in result.stderr


def test_a_killed_demo_run_again_ends_as_an_uninterrupted_demo(tmp_path: Path) -> None:
    def demo(path: Path, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(ENV)
        if kill_at is not None:
            env[KILL_ENV] = kill_at
        return subprocess.run(
            [sys.executable, "-m", "meshmeter.cli", "demo", "--days", "0.25", "--start", START, "--no-serve",
             "--database", str(path), "--json"],
            env=env, capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
        )  # fmt: skip

    whole = tmp_path / "whole.sqlite"
    assert demo(whole).returncode == 0
    target = tmp_path / "demo.sqlite"
    for point in ("ingest:4", "bills:2"):
        assert killed(demo(target, point))
    result = demo(target)
    assert result.returncode == 0, result.stderr
    assert_same(snapshot(f"sqlite:///{target}"), snapshot(f"sqlite:///{whole}"))


def test_in_process_an_unfinished_run_is_finished_and_a_finished_one_refused() -> None:
    """The services' own contract: ``store_simulation`` again finishes; after ``finish_run`` it refuses."""
    from meshmeter.services.simulation import finish_run, store_simulation
    from meshmeter.site.config import parse_site
    from meshmeter.site.run import simulate_site_file

    sim = simulate_site_file(parse_site(demo_site_toml()), start=WINDOW[0], days=0.25, seed=1)
    with Store("sqlite:///:memory:") as store:
        first = store_simulation(store, sim)
        events = len(store.events())
        again = store_simulation(store, sim)
        assert (again.resumed, again.intervals, again.register_reads, again.alerts) == (True, 0, 0, 0)
        assert again.meter_ids == first.meter_ids
        assert len(store.events()) == events
        finish_run(store, again)
        with pytest.raises(ValueError, match="already in the store"):
            store_simulation(store, sim)
