"""What the whole suite shares.

The command line is built once per process for the tests that drive it in process. Typer's test runner
builds the click command tree from the ``Typer`` app at every ``invoke``: for ``meshmeter``'s 300-odd
commands that is about 0.25 s of signature reading a call, more than most commands take to run, and the
suite invokes the program thousands of times (a fixture that builds a site by the command line calls it
30 times). The tree is the same each time (the app is not changed after import, and the group keeps no
state between invocations), so the one built first serves every later ``invoke`` of the same app; the
commands run exactly as before. A ``meshmeter`` run as a program builds its tree once anyway.
"""

from __future__ import annotations

from typing import Any

import typer.testing

_build = typer.testing._get_command
_built: dict[int, tuple[Any, Any]] = {}


def _command_once(app: Any) -> Any:
    """The click command of ``app``, built at its first use (the app is kept beside it, so that its id is
    never reused by another object while the entry stands)."""
    entry = _built.get(id(app))
    if entry is None or entry[0] is not app:
        entry = _built[id(app)] = (app, _build(app))
    return entry[1]


typer.testing._get_command = _command_once
