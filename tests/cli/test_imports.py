"""``meshmeter --help`` stays quick: the command's package imports no heavy library (issue 11).

Each command imports numpy, the twin, the mesh, the store or the API when it runs. These tests look at
``sys.modules`` of a fresh interpreter, not at a clock, so they hold on a busy machine too.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "sqlalchemy", "simpy", "fastapi")

PROBE = """
import contextlib, json, sys
{code}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""


def heavy_after(code: str) -> list[str]:
    """The heavy libraries a fresh interpreter holds after running ``code``."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code, heavy=HEAVY)],
        capture_output=True,
        text=True,
        check=True,
    )
    found: list[str] = json.loads(out.stderr.strip().splitlines()[-1])
    return found


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("import meshmeter.cli", id="import"),
        pytest.param(
            "from meshmeter.cli import app\n"
            "with contextlib.suppress(SystemExit):\n"
            "    app(['--help'], prog_name='meshmeter')\n"
            "with contextlib.suppress(SystemExit):\n"
            "    app(['bill', '--help'], prog_name='meshmeter')",
            id="help",
        ),
    ],
)
def test_cli_imports_no_heavy_library(code: str) -> None:
    assert heavy_after(code) == []


def test_probe_sees_a_heavy_import() -> None:
    # The probe itself works: a module that needs numpy is seen to load it.
    assert "numpy" in heavy_after("import meshmeter.intervals")
