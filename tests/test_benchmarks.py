"""Smoke test of the benchmark command: it runs and reports every section. No time is asserted."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = [sys.executable, str(ROOT / "benchmarks" / "run.py")]
ONLY_BILLING = [
    "--network-days",
    "0",
    "--headend-meters",
    "0",
    "--load-seconds",
    "0",
    "--collect-counters",
    "0",
]
"""Flags that skip the long sections (the metrology benchmarks always run, at --quick sizes in seconds)."""
ONLY_COLLECT = [*ONLY_BILLING[:-2], "--billing-meters", "0"]
"""Flags that skip every section but the metrology benchmarks and the collector's."""


def check_collect(c, counters, devices, hours):
    """The collector section: every reading of the span stored and right, nothing refused, figures sane."""
    assert (c["counters"], c["devices"], c["hours"]) == (counters, devices, hours)
    minutes = round(60 * hours)
    assert c["messages"] == counters * minutes
    # every message published in the span was stored as a reading; each device polled about once a minute
    # (two registers a poll), before and during the span
    assert c["mqtt_readings"] == counters * minutes
    assert 2 * devices * (minutes - 1) <= c["modbus_readings"] <= 2 * devices * (minutes + 10)
    assert c["readings"] == c["mqtt_readings"] + c["modbus_readings"]
    assert c["readings_per_s"] == pytest.approx(c["readings"] / c["wall_s"])
    assert c["cpu_s"] > 0
    assert c["cpu_share"] == pytest.approx(c["cpu_s"] / c["wall_s"])
    assert c["baseline_received"] == c["baseline_messages"] > 0
    assert c["baseline_per_s"] > 0
    assert c["ratio"] == pytest.approx(c["baseline_per_s"] / c["readings_per_s"])
    # every meter's intervals after the span's first: counters, and import and export of each device
    assert c["intervals_expected"] == (counters + 2 * devices) * (4 * hours - 1)
    assert c["intervals_stored"] == c["intervals_expected"]
    # measured intervals equal the truth; a late poll's apportioned ones sum to it (checked by the section)
    assert (c["intervals_missing"], c["intervals_wrong"]) == (0, 0)
    assert 0 <= c["intervals_apportioned"] < c["intervals_expected"]
    assert c["rejected"] == {} or sum(c["rejected"].values()) == 0
    assert c["verdict"] == "PASS"


def _mqtt_up():
    url = os.environ.get("MESHMETER_TEST_MQTT_URL")
    if not url:
        return False
    host, _, port = url.removeprefix("mqtt://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError:
        return False
    return True


def check_billing(billing):
    """The billing section: each real URDB tariff it names, billed and beside its checked baseline."""
    assert [(r["tariff_file"], r["label"]) for r in billing] == [
        ("tep-tgsgsdt.json", "5c780b3f5457a33773f3afb2"),
        ("santa-clara-d-1-tou.json", "539f74c3ec4f024411ed0c0d"),
    ]
    tep, santa_clara = billing
    # The names come from the documents, read by load_tariff: real rates, not the example tariff.
    assert tep["utility"] == "Tucson Electric Power Co"
    assert tep["tariff"] == "Small General Service Demand Time-of-Use TGSGSDT (Single Phase)"
    assert tep["timezone"] == "America/Phoenix"
    assert "2 tiers in period 2, 60-minute window" in tep["structure"]
    assert "60-minute windows" in tep["baseline"]
    assert santa_clara["tariff"] == "RS Schedule D-1 (TOU)"
    assert santa_clara["structure"] == "energy: 3 TOU periods (3 this month), 2 tiers; no demand charge"
    assert "windows" not in santa_clara["baseline"]
    for r in billing:
        assert r["intervals_per_meter"] == 31 * 96
        assert r["time_s"] > 0
        assert r["baseline_time_s"] > 0
        assert r["ratio"] == pytest.approx(r["time_s"] / r["baseline_time_s"])
        assert r["target_ratio"] == 20
        assert r["verdict"] in {"PASS", "MISS"}
        # The loads reach the second tier on some bills and not on others: both branches are billed.
        assert 0 < r["bills_past_first_tier"] < r["meters"]


@pytest.mark.slow
def test_quick_json_reports_both_benchmarks():
    completed = subprocess.run(
        [*RUN, "--quick", "--json"],
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
    check_billing(document["billing"])
    assert {r["meters"] for r in document["billing"]} == {50}
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
    if _mqtt_up():
        check_collect(document["collect"], 20, 3, 1)
    else:
        assert document["collect"]["skipped"]


def test_billing_section_on_real_urdb_tariffs():
    completed = subprocess.run(
        [*RUN, "--json", "--billing-meters", "120", *ONLY_BILLING],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["network"] is None
    assert document["headend"] is None
    assert document["load"] is None
    check_billing(document["billing"])
    assert {r["meters"] for r in document["billing"]} == {120}
    assert {r["repeats"] for r in document["billing"]} == {3}


def test_billing_section_as_text():
    completed = subprocess.run(
        [*RUN, "--quick", *ONLY_BILLING],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    assert "billing: 50 meters x 2976 intervals (July 2026, America/Phoenix)" in out
    assert "Tucson Electric Power Co, Small General Service Demand Time-of-Use TGSGSDT" in out
    assert "URDB 539f74c3ec4f024411ed0c0d, tests/data/urdb/santa-clara-d-1-tou.json" in out
    assert out.count("(target <= 20)") == 2


@pytest.mark.parametrize("value", ["-5", "ten", "2.5"])
def test_billing_meters_refused(value):
    completed = subprocess.run(
        [*RUN, "--billing-meters", value, *ONLY_BILLING],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stdout == ""  # nothing was run
    assert (
        f"argument --billing-meters: must be a whole number of meters, 0 or more (0 skips), got '{value}'"
        in completed.stderr
    )


@pytest.mark.mqtt
def test_collector_section_tiny():
    """20 Tasmota counters and 3 SunSpec meters for a simulated hour: one collector process, beside paho."""
    if not _mqtt_up():
        pytest.skip("the collector benchmark needs MESHMETER_TEST_MQTT_URL and its broker")
    completed = subprocess.run(
        [*RUN, "--quick", "--json", *ONLY_COLLECT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["network"] is None
    assert document["billing"] is None
    check_collect(document["collect"], 20, 3, 1)


def test_collector_section_skipped():
    completed = subprocess.run(
        [*RUN, "--quick", "--json", *ONLY_COLLECT, "--collect-counters", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["collect"] is None  # 0 counters skips it
    completed = subprocess.run(
        [*RUN, "--quick", *ONLY_COLLECT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "MESHMETER_TEST_MQTT_URL": "mqtt://127.0.0.1:9"},  # nothing listens on port 9
    )
    assert completed.returncode == 0, completed.stderr
    assert "collector: skipped (no MQTT broker answers at mqtt://127.0.0.1:9" in completed.stdout
