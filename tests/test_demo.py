"""The product: `meshmeter demo`, `site init | validate | simulate`, `cit`, and their exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshmeter.cli import app
from meshmeter.site.example import DEMO_SITE_NAME
from meshmeter.store import Store

runner = CliRunner()
START = "2026-06-01T07:00Z"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    result = runner.invoke(
        app, ["demo", "--days", "1", "--no-serve", "--start", START, "--database", str(path), "--json"]
    )
    assert result.exit_code == 0, result.output
    return path, json.loads(result.stdout)


def test_demo_stores_what_its_summary_says(demo: tuple[Path, dict]) -> None:
    path, summary = demo
    assert summary["site"] == DEMO_SITE_NAME
    assert summary["network"]["mdts"] == 26
    assert summary["network"]["joined_mdts"] == 26
    assert summary["network"]["repeaters"] == 4
    assert summary["network"]["power_order"] == "near-first"
    assert summary["network"]["delivery_ratio"] > 0.99
    start = datetime(2026, 6, 1, 7, tzinfo=UTC)
    end = datetime(2026, 6, 2, 7, tzinfo=UTC)
    with Store(f"sqlite:///{path}") as store:
        (site,) = store.sites()
        meters = store.meters(site_id=site.id)
        assert len(meters) == summary["stored"]["meters"] == 26
        roles = {}
        for m in meters:
            install = store.events(meter_id=m.id, kind="install")
            roles[m.serial] = install[0].detail["role"]
            assert store.get_meter(serial=m.serial) is not None
        assert sorted(roles.values()).count("unit") == 24
        assert list(roles.values()).count("house") == 1
        assert list(roles.values()).count("solar") == 1
        energy = {"units": 0, "house": 0, "solar": 0}
        key = {"unit": "units", "house": "house", "solar": "solar"}
        for m in meters:
            rows = store.interval_view(meter_id=m.id, start=start, end=end).rows()
            assert len(rows) == 96  # every interval of the day, VEE-checked
            energy[key[roles[m.serial]]] += sum(e for _, e, _ in rows)
            reads = store.register_reads(meter_id=m.id, start=start, end=end)
            assert reads
            assert reads[-1].read_at == end
            # the intervals add up to the register (within one 10 Wh pulse, counted at its closing edge)
            assert abs(reads[-1].energy_wh - sum(e for _, e, _ in rows)) <= 10
        for k, v in energy.items():
            assert summary["energy_kwh"][k] == pytest.approx(v / 1000, abs=1e-3)
        assert energy["solar"] > 0
        assert store.latest_network_report(site=site.id) is not None
        assert len(store.accounts()) == 25
    assert len(summary["bills"]) == 25  # 24 tenants and the owners' association for the house meter
    assert all(float(b["total_usd"]) > 0 for b in summary["bills"])


def test_demo_replaces_its_file_and_refuses_a_url(demo: tuple[Path, dict], tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--no-serve", "--database", "sqlite:///x.db"])
    assert result.exit_code == 2
    assert "file path" in result.output
    result = runner.invoke(app, ["demo", "--no-serve", "--days", "0"])
    assert result.exit_code == 2
    assert "days" in result.output


def test_cit_of_the_demo(demo: tuple[Path, dict]) -> None:
    path, _ = demo
    url = f"sqlite:///{path}"
    result = runner.invoke(app, ["cit", "--database", url, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["site"] == DEMO_SITE_NAME
    assert data["mdts"] == 26
    assert len(data["devices"]) == 1 + 4 + 26
    result = runner.invoke(app, ["cit", "--database", url, "--site", DEMO_SITE_NAME])
    assert result.exit_code == 0
    assert "MDTs joined 26 of 26" in result.output
    result = runner.invoke(app, ["cit", "--database", url, "--site", "Elsewhere"])
    assert result.exit_code == 2
    assert "not in the store" in result.output


def test_site_init_validate_simulate(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    assert runner.invoke(app, ["site", "init", str(site)]).exit_code == 0
    assert runner.invoke(app, ["site", "init", str(site)]).exit_code == 2  # exists
    result = runner.invoke(app, ["site", "validate", str(site), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["meters"] == 26
    # a small site of two meters, simulated for six hours
    text = site.read_text(encoding="utf-8")
    head = text[: text.index("# The units")]
    small = head + (
        '[[meters]]\nserial = "S1"\nunit = "1"\n[meters.mdt]\nposition_m = [40.0, 8.0]\n\n'
        '[[meters]]\nserial = "S2"\nkind = "house"\n[meters.mdt]\nposition_m = [52.0, 8.0]\n'
    )
    small_path = tmp_path / "small.toml"
    small_path.write_text(small, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'small.sqlite'}"
    args = [
        "site",
        "simulate",
        str(small_path),
        "--days",
        "0.25",
        "--start",
        START,
        "--database",
        db,
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["network"]["joined_mdts"] == 2
    assert summary["bills"] == []  # no accounts in this file
    with Store(db) as store:
        assert [m.serial for m in store.meters()] == ["S1", "S2"]
        start = datetime(2026, 6, 1, 7, tzinfo=UTC)
        meter = store.get_meter(serial="S1")
        assert meter is not None
        rows = store.raw_intervals(meter_id=meter.id, start=start, end=datetime(2026, 6, 1, 13, tzinfo=UTC))
        assert len(rows) == 24
    # the same site again into the same store: refused, nothing changed
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "already in the store" in result.output


def test_site_validate_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[site]\nname = "X"\ntimezone = "Nowhere"\n[dcap]\nposition_m = [0, 0]\n', encoding="utf-8"
    )
    result = runner.invoke(app, ["site", "validate", str(bad), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data == {
        "valid": False,
        "error": data["error"],
        "line": 3,
        "field": "site.timezone",
    }
    result = runner.invoke(app, ["site", "validate", str(tmp_path / "none.toml")])
    assert result.exit_code == 1
    assert "cannot read" in result.output
    result = runner.invoke(app, ["site", "simulate", str(bad), "--days", "1"])
    assert result.exit_code == 2
    assert "site.timezone" in result.output
    result = runner.invoke(app, ["site", "simulate", str(bad), "--start", "2026-06-01T07:05Z"])
    assert result.exit_code == 2


def test_meter_demo_kept() -> None:
    result = runner.invoke(app, ["meter", "demo", "--days", "0.1", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["model"] == "MM-D1202001-T-SCC"


def test_demo_records_the_power_up_order(demo: tuple[Path, dict]) -> None:
    path, _ = demo
    with Store(f"sqlite:///{path}") as store:
        devices = [e.detail for e in store.events(kind="install") if e.meter_id is None]
    (dcap,) = [d for d in devices if d["device"] == "dcap"]
    assert dcap["power_up"] == 0  # the DCAP first (manual §5.2)
    repeaters = sorted((d for d in devices if d["device"] == "repeater"), key=lambda d: d["power_up"])
    assert [d["power_up"] for d in repeaters] == [1, 2, 3, 4]
    x0, y0 = dcap["position_m"]
    dist = [((d["position_m"][0] - x0) ** 2 + (d["position_m"][1] - y0) ** 2) ** 0.5 for d in repeaters]
    assert dist == sorted(dist)  # then nearest the DCAP first


def test_default_window_starts_at_a_local_midnight() -> None:
    from meshmeter.demo import default_window

    now = datetime(2026, 11, 23, 6, 7, tzinfo=UTC)  # 22:07 PST on 22 November
    start, days = default_window(31, "America/Los_Angeles", now=now)
    assert start == datetime(2026, 10, 22, 7, tzinfo=UTC)  # midnight PDT, across the DST change
    assert days * 86_400 == (datetime(2026, 11, 23, 6, tzinfo=UTC) - start).total_seconds()
    start, days = default_window(1, "UTC", now=datetime(2026, 6, 2, 0, 20, tzinfo=UTC))
    assert start == datetime(2026, 6, 1, tzinfo=UTC)
    assert days == pytest.approx(1 + 15 / 1440)
    with pytest.raises(ValueError, match="days"):
        default_window(0, "UTC")
