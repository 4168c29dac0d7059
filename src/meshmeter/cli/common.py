"""What every command module shares: the console, the one-line error, the database option, times.

Kept light: importing this module (and so ``meshmeter --help``) loads typer and rich's console,
never numpy, the store or the simulation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console

console = Console(highlight=False)

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database", help="Database URL; default $MESHMETER_DATABASE_URL, else sqlite:///meshmeter.db."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def err_console() -> Console:
    """A console on stderr, for errors, warnings and progress bars."""
    return Console(stderr=True, highlight=False)


def bad_input(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr; the exit (status 2, bad input) to raise."""
    err_console().print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code=2)


def parse_time(name: str, text: str) -> datetime:
    """An ISO-8601 time that carries a UTC offset, in UTC; ``ValueError`` naming ``name`` if not."""
    from datetime import UTC

    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} must be an ISO-8601 time, got {text!r}") from None
    if value.tzinfo is None:
        raise ValueError(f"{name} must carry a UTC offset (e.g. 2026-01-01T00:00Z), got {text!r}")
    return value.astimezone(UTC)
