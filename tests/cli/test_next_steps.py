"""The common refusals of the command line say what to do next (issue 15, "Command line").

An unknown meter, an unknown site, a store with no site or several where a command needs one, a bad date:
each is one line on stderr, exit 2, that ends with the next step.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from meshmeter.cli import app
from tests.cli.test_errors import ENV, one_error_line

runner = CliRunner()


def run(*args: str) -> Result:
    return runner.invoke(app, list(args), env=ENV)


def test_unknown_meter_points_to_the_meter_list(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'steps.db'}"
    assert (
        run(
            "site", "add", "--name", "Oak Court", "--timezone", "America/Los_Angeles", "--database", url
        ).exit_code
        == 0
    )
    result = run(
        "export", "--meter", "MM404", "--start", "2026-11-01", "--end", "2026-11-02", "--database", url
    )
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert "'MM404'" in line, line
    assert line.endswith("list them with `meshmeter meter list`"), line


def test_cit_without_a_site_says_how_to_make_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = run("cit", "--database", url)
    assert result.exit_code == 2, result.output
    assert "meshmeter site add" in one_error_line(result)


def test_cit_with_several_sites_names_them_and_asks_for_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'two.db'}"
    for name in ("Oak Court", "Elm Row"):
        assert (
            run("site", "add", "--name", name, "--timezone", "America/Chicago", "--database", url).exit_code
            == 0
        )
    result = run("cit", "--database", url)
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert "Oak Court" in line, line
    assert "Elm Row" in line, line
    assert line.endswith("name one with --site"), line
    unknown = one_error_line(run("cit", "--site", "Pine Lane", "--database", url))
    assert "'Pine Lane'" in unknown, unknown
    assert "Oak Court, Elm Row" in unknown, unknown
