"""Smoke test of the benchmark command: it runs and reports every section. No time is asserted."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_json_reports_both_benchmarks():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["quick"] is True
    assert document["machine"]["numpy"]
    assert document["machine"]["cpu_count"] >= 1
    results = document["benchmarks"]
    assert {r["benchmark"] for r in results} == {"waveform", "profile"}
    fields = {"name", "figure", "unit", "baseline_figure", "ratio", "target_ratio", "verdict"}
    for r in results:
        assert fields <= r.keys()
        assert r["figure"] > 0
        assert r["baseline_figure"] > 0
        assert r["verdict"] in {"PASS", "MISS", "-"}
    assert {r["unit"] for r in results} == {"samples/s", "meter-days/s"}
    network = document["network"]
    assert network["mdts"] == 20
    assert network["speedup"] > 0
    assert 0 <= network["on_time_ratio"] <= 1
    assert network["verdict_delivered"] in {"PASS", "MISS"}
    headend = document["headend"]
    assert headend["meters"] == 5
    assert headend["intervals"] == 5 * 2 * 96
    figures = {(f["backend"], f["unit"]) for f in headend["figures"]}
    assert {("sqlite", "rows/s"), ("sqlite", "B/interval"), ("sqlite", "ms p95")} <= figures
    for f in headend["figures"]:
        assert f["figure"] > 0
        assert f["baseline_figure"] > 0
        assert f["verdict"] in {"PASS", "MISS", "-"}
    if ("postgresql", "rows/s") not in figures:
        assert headend["skipped"]["postgresql"]
    load = document["load"]
    assert {r["backend"] for r in load["results"]} | set(load["skipped"]) == {"sqlite", "postgresql"}
    for r in load["results"]:
        assert r["readers"] == 4
        for phase in (r["no_writer"], r["with_writer"]):
            assert phase["requests"] > 0
            assert phase["errors"] == 0
            assert 0 < phase["p50_ms"] <= phase["p95_ms"] <= phase["p99_ms"] <= phase["max_ms"]
        assert r["no_writer"]["writer_documents"] == 0
        assert r["with_writer"]["writer_documents"] > 0
        assert r["rows_lost"] == 0
        assert r["verdict"] in {"PASS", "MISS"}
