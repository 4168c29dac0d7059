"""The ``meshmeter evaluate`` command: exit status, JSON, report files, bad arguments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshmeter.cli import app

runner = CliRunner()
ENV = {"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}


def run(*args: str):
    return runner.invoke(app, ["evaluate", *args], env=ENV)


def test_nominal_passes_every_plan_exit_0(tmp_path: Path) -> None:
    result = run("--report", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "Every point passed." in result.output
    for name in ("ctep", "ansi", "spec", "creep", "permanence"):
        assert name in result.output
    assert (tmp_path / "evaluation.pdf").read_bytes().startswith(b"%PDF")
    assert len((tmp_path / "evaluation.csv").read_text(encoding="utf-8").splitlines()) == 1 + 486


def test_fault_fails_exit_1_json() -> None:
    result = run("--plan", "ansi", "--fault", "gain=+1%", "--json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    assert data["passed"] is False
    assert data["faults"] == ["gain=+1%"]
    assert [p["result"] for p in data["plans"][0]["points"]] == ["fail"] * 5


def test_reversed_is_said() -> None:
    result = run("--plan", "ansi", "--fault", "reversed-ct")
    assert result.exit_code == 1
    assert "Reverse phase indicated" in result.output


def test_user_plan_file(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        '[plan]\nname = "one"\nkind = "accuracy"\n[[point]]\ncurrent_a = 30.0\nvoltage_v = 120.0\n',
        encoding="utf-8",
    )
    result = run("--plan", str(path), "--model", "MM-S1202001", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["model"] == "MM-S1202001"
    assert data["plans"][0]["source"] == str(path)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--plan", "nope"], "plan must be one of"),
        (["--fault", "gain=1"], "fault must be one of"),
        (["--fault", "reversed-ct=2", "--model", "MM-S1202001"], "element 2"),
        (["--model", "XX-1"], "designation"),
    ],
)
def test_bad_arguments_exit_2(args: list[str], needle: str) -> None:
    result = run("--plan", "ansi", *args) if "--plan" not in args else run(*args)
    assert result.exit_code == 2
    assert needle in result.output.replace("\n", " ")


def test_malformed_plan_file_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[plan]\nname = "x"\nkind = "nope"\n', encoding="utf-8")
    result = run("--plan", str(path))
    assert result.exit_code == 2
    assert "plan.kind" in result.output
