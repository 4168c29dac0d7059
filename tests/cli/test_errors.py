"""Errors of the environment as one clear line and an exit code by kind (issue 12, defect 6).

Exit codes: 0 done; 1 the thing checked failed, or something is pending; 2 bad input; 3 a service
unreachable (the database, the broker, a webhook target). ``meshmeter --debug`` shows the traceback
instead. Driven through the ``meshmeter`` command (typer's CliRunner, in process), and a second process
where one is needed (a SQLite write lock held by another program).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from meshmeter.cli import app

ENV = {"COLUMNS": "100", "TERMINAL_WIDTH": "100", "NO_COLOR": "1", "TERM": "dumb"}
UNREACHABLE_PG = "postgresql://postgres@127.0.0.1:1/test"
"""PostgreSQL on a port where nothing listens: the connection is refused."""

runner = CliRunner()


def run(*args: str) -> Result:
    return runner.invoke(app, list(args), env=ENV)


def one_error_line(result: Result) -> str:
    """The one line on stderr, ``error: ...``; no traceback."""
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "intervals.csv"
    path.write_text("meter,interval_end,energy_wh\nMM00000007,2026-01-05T01:00:00Z,100\n", encoding="utf-8")
    return path


# -- an unreachable database ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(
            ["vee", "--meter", "MM1", "--start", "2026-01-01T00:00Z", "--end", "2026-01-02T00:00Z"], id="vee"
        ),
        pytest.param(["site", "add", "--name", "Oak", "--timezone", "UTC"], id="site-add"),
        pytest.param(["alerts"], id="alerts"),
        pytest.param(["push", "--channel", "mqtt", "--url", "mqtt://127.0.0.1:1883"], id="push"),
        pytest.param(["ingest-format", "list"], id="ingest-format-list"),
    ],
)
def test_unreachable_database_is_one_line_and_exit_3(args: list[str]) -> None:
    result = run(*args, "--database", UNREACHABLE_PG)
    assert result.exit_code == 3, result.output
    line = one_error_line(result)
    assert "127.0.0.1:1" in line  # which database
    assert "cannot be reached" in line
    assert "--database" in line  # what to do


def test_unreachable_database_from_ingest(csv_file: Path) -> None:
    result = run("ingest", str(csv_file), "--database", UNREACHABLE_PG)
    assert result.exit_code == 3, result.output
    one_error_line(result)


def test_unreachable_database_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESHMETER_DATABASE_URL", UNREACHABLE_PG)
    result = run("alerts")
    assert result.exit_code == 3, result.output
    assert "MESHMETER_DATABASE_URL" in one_error_line(result)


def test_password_of_the_database_is_not_printed() -> None:
    result = run("alerts", "--database", "postgresql://postgres:s3cret@127.0.0.1:1/test")
    assert result.exit_code == 3, result.output
    assert "s3cret" not in result.output


def test_debug_shows_the_traceback_instead() -> None:
    from meshmeter.errors import DatabaseUnavailableError  # type: ignore[attr-defined]

    result = run("--debug", "alerts", "--database", UNREACHABLE_PG)
    assert isinstance(result.exception, DatabaseUnavailableError)
    assert result.exit_code != 0
    assert "error: " not in result.stderr  # the exception itself, not the one line


def test_debug_in_a_real_process_prints_a_traceback(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "meshmeter.cli"]
    tail = ["alerts", "--database", UNREACHABLE_PG]
    plain = subprocess.run([*args, *tail], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert plain.returncode == 3, plain.stderr
    assert len(plain.stderr.strip().splitlines()) == 1, plain.stderr
    debug = subprocess.run(
        [*args, "--debug", *tail], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr or "DatabaseUnavailableError" in debug.stderr
    assert len(debug.stderr.strip().splitlines()) > 5


def test_bad_database_url_stays_bad_input() -> None:
    result = run("alerts", "--database", "mysql://x@127.0.0.1/db")
    assert result.exit_code == 2, result.output
    one_error_line(result)


# -- a SQLite write lock held by another process -------------------------------------------------------

HOLD_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()  # until the test closes stdin
connection.execute("ROLLBACK")
"""


@pytest.fixture
def locked_database(tmp_path: Path) -> Iterator[str]:
    """A store (made by the command) whose write lock another process holds until the test ends."""
    path = tmp_path / "locked.db"
    url = f"sqlite:///{path}"
    made = run("site", "add", "--name", "First", "--timezone", "UTC", "--database", url)
    assert made.exit_code == 0, made.output
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        yield url
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)
        assert holder.stdout is not None
        holder.stdout.close()


def test_sqlite_lock_held_longer_than_the_busy_timeout(
    locked_database: str, csv_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import meshmeter.store.engine as engine

    monkeypatch.setattr(engine, "SQLITE_BUSY_TIMEOUT_MS", 300)  # the store's 10 s, shortened for the test
    t0 = time.monotonic()
    result = run("site", "add", "--name", "Second", "--timezone", "UTC", "--database", locked_database)
    assert time.monotonic() - t0 >= 0.3  # it waited the busy timeout first
    assert result.exit_code == 3, result.output
    line = one_error_line(result)
    assert "locked.db" in line
    assert "is locked" in line
    assert "another process" in line
    ingest = run("ingest", str(csv_file), "--database", locked_database)
    assert ingest.exit_code == 3, ingest.output
    one_error_line(ingest)


@pytest.mark.slow
def test_sqlite_lock_in_a_real_process_with_the_real_timeout(locked_database: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "meshmeter.cli", "site", "add", "--name", "Second", "--timezone", "UTC",
         "--database", locked_database],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "another process" in done.stderr


# -- a file that is not UTF-8 --------------------------------------------------------------------------


def test_ingest_of_a_file_that_is_not_utf8_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "meter,interval_end,energy_wh\nMM00000007,2026-01-05T01:00:00Z,100 \xb0\n".encode("latin-1")
    )
    url = f"sqlite:///{tmp_path / 'm.db'}"
    result = run("ingest", str(path), "--database", url)
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert "not UTF-8" in line
    assert "latin1.csv" in line
    stdin = runner.invoke(app, ["ingest", "-", "--database", url], input=b"\xff\xfe\x00bad", env=ENV)
    assert stdin.exit_code == 2, stdin.output
    assert "not UTF-8" in one_error_line(stdin)
