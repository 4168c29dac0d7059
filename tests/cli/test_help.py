"""``--help`` says what a value means, not its Python type (issue 15, "Command line").

Every command of the program is walked (the click command tree, so a new command cannot be left out) and
its help read as a person reads it, through the ``meshmeter`` command at 100 columns.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from meshmeter.cli import app

ENV = {"COLUMNS": "100", "TERMINAL_WIDTH": "100", "NO_COLOR": "1", "TERM": "dumb"}
PYTHON_TYPES = re.compile(r"<(str|bool|int|float|path|datetime)>")

runner = CliRunner()


def _walk(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found += _walk(sub, (*path, name))
    return found


COMMANDS = _walk(typer.main.get_command(app))


@pytest.mark.parametrize(
    "path", [p for p, _ in COMMANDS], ids=[" ".join(p) or "meshmeter" for p, _ in COMMANDS]
)
def test_no_python_type_in_help(path: tuple[str, ...]) -> None:
    """No option or argument of any command shows ``<str>``, ``<bool>``, ``<int>``, ``<float>``..."""
    result = runner.invoke(app, [*path, "--help"], env=ENV)
    assert result.exit_code == 0, result.output
    assert not PYTHON_TYPES.findall(result.output), result.output


def _option_line(help_text: str, option: str) -> str:
    """The row of the options panel of ``help_text`` where ``option`` is listed."""
    for line in help_text.splitlines():
        if re.match(rf"│\s*\*?\s*{re.escape(option)}\s", line):
            return line
    raise AssertionError(f"{option} not in:\n{help_text}")


@pytest.mark.parametrize(
    ("path", "option", "value_name"),
    [
        (("vee",), "--meter", "SERIAL"),
        (("export",), "--start", "DATE"),
        (("export",), "--database", "URL"),
        (("bill",), "--site", "SITE"),
        (("bill",), "--tariff", "FILE"),
        (("bill",), "--master-total", "USD"),
        (("allocate",), "--master-kwh", "KWH"),
        (("meter", "exchange"), "--at", "DATE"),
        (("meter", "exchange"), "--final-read", "KWH"),
        (("meter", "list"), "--site-id", "SITE"),
        (("network", "simulate"), "--repeaters", "N"),
        (("meter", "run"), "--duration-s", "S"),
    ],
)
def test_value_names(path: tuple[str, ...], option: str, value_name: str) -> None:
    """Each kind of value has its name: a serial, a site, a date, a URL, a file, an energy, a count."""
    result = runner.invoke(app, [*path, "--help"], env=ENV)
    assert result.exit_code == 0, result.output
    assert re.search(rf"\s{re.escape(value_name)}\s", _option_line(result.output, option))


@pytest.mark.parametrize(("path", "flag"), [(("vee",), "--json"), (("bill",), "--save"), ((), "--debug")])
def test_no_value_beside_a_flag(path: tuple[str, ...], flag: str) -> None:
    """A flag takes no value: nothing stands between it and its help."""
    result = runner.invoke(app, [*path, "--help"], env=ENV)
    assert result.exit_code == 0, result.output
    line = _option_line(result.output, flag)
    assert re.search(rf"{re.escape(flag)}\s+[A-Z][a-z]", line), line


def test_argument_named_by_its_value() -> None:
    """An argument shows what it is (SERIAL), and the usage line asks for it by that name."""
    result = runner.invoke(app, ["meter", "show", "--help"], env=ENV)
    assert result.exit_code == 0, result.output
    assert "{SERIAL}" in result.output
    assert re.search(r"\*\s+SERIAL\s+The meter's serial", result.output)


def test_time_options_say_what_they_take() -> None:
    """Every time option's help says: YYYY-MM-DD (local midnight of the site) or ISO-8601."""
    said = "YYYY-MM-DD (local midnight of the site) or ISO-8601"
    for path, command in COMMANDS:
        if path and path[0] in ("vee", "demo"):  # another engineer's (issue 15): their options, their words
            continue
        for param in command.params:
            if getattr(param, "metavar", None) == "DATE":
                assert said in " ".join((param.help or "").split()), (path, param.opts)


BRACKETED = re.compile(r"\\?\[([^\]\[\s]+)\]")
"""A unit or a value in brackets in a help text (``[s]``, ``[kWh]``, ``[USD]``), escaped or not."""


def _help_texts(command: Any) -> list[str]:
    texts = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
    return [t for t in texts if BRACKETED.search(t)]


BRACKETED_COMMANDS = [(p, c) for p, c in COMMANDS if _help_texts(c)]


@pytest.mark.parametrize(
    "path",
    [p for p, _ in BRACKETED_COMMANDS],
    ids=[" ".join(p) or "meshmeter" for p, _ in BRACKETED_COMMANDS],
)
def test_no_unit_in_brackets_is_lost(path: tuple[str, ...]) -> None:
    """Every ``[unit]`` of a help text shows in ``--help``: rich markup takes none of them for a tag."""
    command = dict(COMMANDS)[path]
    result = runner.invoke(app, [*path, "--help"], env=ENV)
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.replace("│", " ").split())
    for text in _help_texts(command):
        for unit in BRACKETED.findall(text):
            assert f"[{unit}]" in shown, (unit, text)


def test_meter_run_shows_its_seconds() -> None:
    result = runner.invoke(app, ["meter", "run", "--help"], env=ENV)
    assert "Length of the run [s]." in result.output
