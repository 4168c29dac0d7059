"""Tests of the meshmeter command (issue 2: decode, meter run, demo) and of docs/cli.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from meshmeter.cli import app

ROOT = Path(__file__).resolve().parents[1]
CLI_DOC = ROOT / "docs" / "cli.md"
HELP_ENV = {"COLUMNS": "100", "TERMINAL_WIDTH": "100", "NO_COLOR": "1", "TERM": "dumb"}

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), env=HELP_ENV)


def test_decode_meter_json() -> None:
    result = run("decode", "MM-D1202001-T-SCC", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["valid"] is True
    assert data["elements"] == 2
    assert data["counter_kh_wh"] == 100
    assert data["ct_ratio"] == 2000


def test_decode_kit_without_transceiver() -> None:
    # manual §2.4: 6PSMT-C02 is LCD and isolated pulse outputs only
    data = json.loads(run("decode", "6PSMT-C02", "--json").output)
    assert data["has_transceiver"] is False


def test_decode_refuses_with_field_and_allowed_values() -> None:
    result = run("decode", "MM-X1202001", "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["valid"] is False
    assert data["field"] == "element"
    assert data["allowed"] == ["D", "S"]
    human = run("decode", "MM-X1202001")
    assert human.exit_code == 2
    assert "element" in human.output


def test_meter_run_json_hand_worked() -> None:
    # 2 elements x 120 V x 30 A x PF 0.5 = 3600 W for 1 h: 3600 Wh, at TA the factory calibration is exact;
    # output 10 closes 360 times, the load LED changes state every 5 Wh: 720 changes
    result = run(
        "meter", "run", "--voltage-v", "120", "--current-a", "30", "--pf", "0.5", "--lag",
        "--duration-s", "3600", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["true_energy_wh"] == pytest.approx(3600.0)
    assert data["percent_registration"] == pytest.approx(100.0, abs=0.01)
    assert data["pulses"] == {"10": 360, "100": 36, "1000": 4, "counter": 36}
    assert data["load_led_changes"] == 720
    assert [s["name"] for s in data["lcd"]][:1] == ["serial"]
    assert data["findings"] == []


def test_meter_run_reversed_ct_is_diagnosed() -> None:
    data = json.loads(run("meter", "run", "--reversed-ct", "2", "--duration-s", "60", "--json").output)
    codes = [f["code"] for f in data["findings"]]
    assert "ct_reversed" in codes
    assert any("REV" in s["annunciators"] for s in data["lcd"])


def test_meter_run_waveform_path() -> None:
    result = run("meter", "run", "--path", "waveform", "--current-a", "2", "--duration-s", "2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert abs(data["error_percent"]) <= 0.5


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--current-a", "1", "--current-a", "2", "--current-a", "3"], "one per line"),
        (["--pf", "1.5"], "pf"),
        (["--duration-s", "0"], "duration_s"),
        (["--path", "magic"], "path"),
        (["--service", "100/200"], "service"),
        (["--reversed-ct", "3"], "reversed-ct"),
        (["--ct-line", "1-2"], "ct-line"),
        (["--model", "MM-D1202001-Q"], "suffix"),
        (["--voltage-v", "nan"], "voltage_v"),
        (["--current-a", "300"], "current_a = 300"),  # manual §3.1: 220 A primary at most
        (["--frequency-hz", "400"], "frequency_hz"),
    ],
)
def test_meter_run_bad_input(args: list[str], needle: str) -> None:
    result = run("meter", "run", *args)
    assert result.exit_code == 2
    assert needle in result.output


def test_meter_demo_json() -> None:
    result = run("meter", "demo", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert abs(data["profile"]["percent_registration"] - 100) < 0.5
    assert len(data["profile"]["hourly_wh"]) == 24
    assert abs(data["waveform"]["registered_energy_wh"] / data["waveform"]["true_energy_wh"] - 1) < 0.005
    assert any(f["code"] == "ct_reversed" for f in data["reversed_ct"]["findings"])


def test_network_simulate_json() -> None:
    result = run("network", "simulate", "--mdts", "12", "--repeaters", "2", "--days", "0.25", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["mdts"] == 12
    assert data["delivery_ratio"] == 1.0
    assert data["rejected"] == {}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--outage", "dcap:5"], "--outage"),
        (["--outage", "repeater:1+2"], "--outage"),
        (["--fail", "repeater:x@3"], "--fail"),
        (["--fail", "repeater:9@3"], "does not exist"),
        (["--mdts", "1001"], "1000"),
        (["--power-order", "random"], "power_order"),
        (["--report-minutes", "10"], "report_minutes"),
    ],
)
def test_network_simulate_bad_input(args: list[str], needle: str) -> None:
    result = run("network", "simulate", "--mdts", "5", "--repeaters", "1", "--days", "0.1", *args)
    assert result.exit_code == 2
    assert needle in result.output


def _store_with_meter(tmp_path: Path) -> str:
    from meshmeter.store import Store

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    with Store(url) as store:
        store.create_meter(serial="MM00000007", designation="MM-D1202001-T-SCC", ct_ratio=2000)
    return url


def test_ingest_then_vee(tmp_path: Path) -> None:
    url = _store_with_meter(tmp_path)
    csv_file = tmp_path / "intervals.csv"
    rows = ["meter,interval_end,energy_wh"]
    rows += [
        f"MM00000007,2026-01-05T{h:02d}:{m:02d}:00Z,{100 + h}" for h in range(1, 7) for m in (0, 15, 30, 45)
    ]
    csv_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
    first = run("ingest", str(csv_file), "--database", url, "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["new"] == 24
    again = run("ingest", str(csv_file), "--database", url, "--json")
    assert json.loads(again.output)["new"] == 0  # idempotent
    vee = run(
        "vee", "--meter", "MM00000007", "--start", "2026-01-05T00:45Z", "--end", "2026-01-05T06:45Z",
        "--database", url, "--json",
    )  # fmt: skip
    assert vee.exit_code == 0, vee.output
    report = json.loads(vee.output)
    assert report["intervals"] == 24


def test_ingest_refuses_bad_file_whole(tmp_path: Path) -> None:
    url = _store_with_meter(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "meter,interval_end,energy_wh\nMM00000007,2026-01-05T01:00:00Z,100\nMM00000007,2026-01-05T01:07:00Z,5\n"
    )
    result = run("ingest", str(bad), "--database", url)
    assert result.exit_code == 2
    assert "interval_end" in result.output
    from meshmeter.store import Store

    with Store(url) as store:
        meter = store.get_meter(serial="MM00000007")
        assert meter is not None
        from datetime import UTC, datetime

        assert (
            store.raw_intervals(
                meter_id=meter.id,
                start=datetime(2026, 1, 1, tzinfo=UTC),
                end=datetime(2026, 2, 1, tzinfo=UTC),
            )
            == []
        )
    assert run("ingest", str(tmp_path / "missing.csv"), "--database", url).exit_code == 2


SHARED_GB = ROOT.parent / "shared" / "reference" / "greenbutton"


def test_import_then_export_greenbutton(tmp_path: Path) -> None:
    if not SHARED_GB.is_dir():
        pytest.skip(f"the reference folder {SHARED_GB} is absent")
    url = _store_with_meter(tmp_path)
    day = run("import", str(SHARED_GB / "test_usage_data_11.xml"), "--meter", "MM00000007", "--database", url)
    assert day.exit_code == 0, day.output
    assert "intervals in the file: 92" in day.output  # the spring-forward day
    out = tmp_path / "gb.xml"
    exported = run(
        "export", "--meter", "MM00000007", "--start", "2012-03-11T05:00Z", "--end", "2012-03-12T04:00Z",
        "--format", "greenbutton", "--timezone", "America/New_York", "--output", str(out), "--database", url,
    )  # fmt: skip
    assert exported.exit_code == 0, exported.output
    import xmlschema

    xmlschema.XMLSchema(str(SHARED_GB / "usage.xsd")).validate(str(out))
    csv_out = run(
        "export", "--meter", "MM00000007", "--start", "2012-03-11T05:00Z", "--end", "2012-03-12T04:00Z",
        "--database", url,
    )  # fmt: skip
    assert csv_out.exit_code == 0
    assert len(csv_out.stdout.strip().splitlines()) == 1 + 92
    bad = run(
        "export", "--meter", "MM00000007", "--start", "x", "--end", "2012-03-12T04:00Z", "--database", url
    )
    assert bad.exit_code == 2


def test_push_refuses_bad_channel_and_reports_an_empty_outbox(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'push.db'}"
    assert run("push", "--channel", "pigeon", "--url", "x", "--database", url).exit_code == 2
    # nothing queued: nothing is sent, and the receiver is not even needed
    empty = run("push", "--channel", "webhook", "--url", "http://127.0.0.1:9/hook", "--database", url)
    assert empty.exit_code == 0, empty.output
    assert "sent: 0" in empty.output


def test_alerts_raises_communication_loss(tmp_path: Path) -> None:
    url = _store_with_meter(tmp_path)
    csv_file = tmp_path / "old.csv"
    csv_file.write_text(
        "meter,interval_end,energy_wh\nMM00000007,2026-01-05T01:00:00Z,100\n", encoding="utf-8"
    )
    assert run("ingest", str(csv_file), "--database", url).exit_code == 0
    result = run("alerts", "--database", url, "--json")
    assert result.exit_code == 0, result.output
    kinds = [a["kind"] for a in json.loads(result.output)]
    assert "comm_loss" in kinds  # silent since January 2026
    assert run("alerts", "--silence-hours", "0", "--database", url).exit_code == 2


def test_site_and_meter_add_then_ingest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    site = run("site", "add", "--name", "Oak Court", "--timezone", "America/Los_Angeles", "--database", url)
    assert site.exit_code == 0, site.output
    meter = run(
        "meter", "add", "--serial", "MM00000042", "--site-id", site.stdout.strip(),
        "--mdt-eui64", "024d540000000042", "--mdt-key", "00" * 16, "--database", url,
    )  # fmt: skip
    assert meter.exit_code == 0, meter.output
    from meshmeter.store import Store

    with Store(url) as store:
        found = store.get_meter(serial="MM00000042")
        assert found is not None
        assert found.ct_ratio == 2000  # 200:0.1 A from the designation
        assert store.get_mdt(eui64=bytes.fromhex("024d540000000042")) is not None
    assert run("site", "add", "--name", "X", "--timezone", "Mars/Base", "--database", url).exit_code == 2
    assert run("meter", "add", "--serial", "MM00000042", "--database", url).exit_code == 2  # not unique
    assert run("meter", "add", "--serial", "S2", "--model", "MM-X1202001", "--database", url).exit_code == 2
    assert (
        run(
            "meter", "add", "--serial", "S3", "--mdt-eui64", "zz", "--mdt-key", "00", "--database", url
        ).exit_code
        == 2
    )
    assert (
        run("meter", "add", "--serial", "S4", "--mdt-eui64", "024d540000000043", "--database", url).exit_code
        == 2
    )


def test_token_create(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tokens.db'}"
    result = runner.invoke(app, ["token", "create", "--role", "read-only", "--database", url], env=HELP_ENV)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith("mm_")
    assert run("token", "create", "--role", "nobody", "--database", url).exit_code == 2


def test_vee_refuses_unknown_meter_and_naive_times(tmp_path: Path) -> None:
    url = _store_with_meter(tmp_path)
    unknown = run(
        "vee", "--meter", "X", "--start", "2026-01-05T00:00Z", "--end", "2026-01-06T00:00Z", "--database", url
    )
    assert unknown.exit_code == 2
    naive = run(
        "vee",
        "--meter",
        "MM00000007",
        "--start",
        "2026-01-05T25:00",  # no such hour (a time without offset is local time: issue 15)
        "--end",
        "2026-01-06T00:00Z",
        "--database",
        url,
    )
    assert naive.exit_code == 2
    assert "start" in naive.output


def test_demo_refuses_bad_days() -> None:
    assert run("demo", "--days", "0", "--no-serve").exit_code == 2
    assert run("meter", "demo", "--days", "0").exit_code == 2


def test_version() -> None:
    assert run("--version").output.startswith("meshmeter ")


def test_python_dash_m() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "meshmeter", "decode", "MM-S1202001", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["elements"] == 1


def cli_help_markdown() -> str:
    parts = [
        "# The meshmeter command\n",
        "Generated from the command's own help; a test keeps the two equal.\n",
    ]
    # Every command and group of the program, in the order --help lists them: a new one cannot be left out.
    for path, _ in _walk(typer.main.get_command(app)):
        cmd = list(path)
        result = run(*cmd, "--help")
        assert result.exit_code == 0, result.output
        title = " ".join(["meshmeter", *cmd])
        text = "\n".join(line.rstrip() for line in result.output.strip("\n").splitlines())
        parts.append(f"\n## `{title}`\n\n```\n{text}\n```\n")
    return "".join(parts)


def _walk(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    if hasattr(command, "commands"):  # a group
        for name, sub in command.commands.items():
            found += _walk(sub, (*path, name))
    return found


def test_cli_help_is_documented() -> None:
    """Every command, option and help text of the program is in docs/cli.md (regenerate it when not)."""
    if os.environ.get("MESHMETER_REGEN_DOCS"):
        CLI_DOC.write_text(cli_help_markdown(), encoding="utf-8")
    doc = CLI_DOC.read_text(encoding="utf-8")
    hint = "docs/cli.md is out of date: run MESHMETER_REGEN_DOCS=1 python -m pytest tests/test_cli.py"
    for path, command in _walk(typer.main.get_command(app)):
        assert f"## `{' '.join(['meshmeter', *path])}`" in doc, hint
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("-"):
                    assert opt in doc, f"{opt} of {path}: {hint}"


def test_vee_reads_dates_as_the_sites_local_midnight(tmp_path: Path) -> None:
    """``vee --start 2026-01-05`` is local midnight of the meter's site (issue 15), as ``bill`` reads it:
    a day in Los Angeles (UTC-8 in January) is 96 intervals from 08:00 UTC, as the instants spelt out."""
    from meshmeter.store import Store

    url = f"sqlite:///{tmp_path / 'dates.db'}"
    with Store(url) as store:
        site = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
        store.create_meter(
            serial="MM00000009", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id
        )

    def vee(start: str, end: str) -> dict[str, object]:
        result = run(
            "vee", "--meter", "MM00000009", "--start", start, "--end", end, "--database", url, "--json"
        )
        assert result.exit_code == 0, result.output
        body: dict[str, object] = json.loads(result.output)
        return body

    by_date = vee("2026-01-05", "2026-01-06")
    assert by_date["intervals"] == 96
    assert by_date == vee("2026-01-05T08:00Z", "2026-01-06T08:00Z")
    assert vee("2026-01-05T00:00", "2026-01-06T00:00") == by_date  # no offset: local time of the site
