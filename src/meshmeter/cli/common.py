"""What every command module shares: the console, the one-line error, exit codes, the database option.

Errors become one line and an exit status here, once, for every command (:class:`MeshmeterGroup`,
:func:`exit_code_for`):

====  ==============================================================================================
0     done
1     the thing checked failed (site validate, cit, evaluate, decode --json), or work is left pending
      (push: messages not delivered)
2     bad input: an option, a file, a database URL (``ValueError``, most ``MeshmeterError``, ``OSError``)
3     a service unreachable or refusing: the database (or its SQLite write lock held by another process),
      the MQTT broker, a webhook target
====  ==============================================================================================

``meshmeter --debug ...`` shows the traceback instead of the one line.

Kept light: importing this module (and so ``meshmeter --help``) loads typer and rich's console,
never numpy, the store or the simulation.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from meshmeter.errors import (
    DatabaseLockedError,
    DatabaseUnavailableError,
    MeshmeterError,
    PendingError,
    ServiceUnavailableError,
)


class _StdoutConsole:
    """The console of standard output, made when it prints: its width, colours and terminal are those of
    the moment (``COLUMNS``, ``NO_COLOR``), not of the moment the module was imported."""

    def __getattr__(self, name: str) -> Any:
        return getattr(Console(highlight=False), name)


console: Any = _StdoutConsole()

EXIT_OK = 0
EXIT_FAILED = 1
"""The thing checked failed, or work is left pending."""
EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3
"""A service (database, broker, webhook target) cannot be reached, or refuses."""

DEBUG_KEY = "meshmeter.debug"
"""``ctx.meta`` key set by ``meshmeter --debug``: show tracebacks instead of one-line errors."""

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


def exit_code_for(exc: BaseException) -> int | None:
    """
    The exit status for an exception that is a domain or environment error; None for anything else
    (a bug: its traceback is shown).

    :class:`~meshmeter.errors.PendingError` 1; :class:`~meshmeter.errors.ServiceUnavailableError`
    and ``ConnectionError`` (the MQTT broker: :class:`~meshmeter.errors.MqttConnectionError`) and
    ``TimeoutError`` 3; other :class:`~meshmeter.errors.MeshmeterError`, ``ValueError`` and ``OSError`` 2.
    """
    if isinstance(exc, PendingError):
        return EXIT_FAILED
    if isinstance(exc, ServiceUnavailableError | ConnectionError | TimeoutError):
        return EXIT_UNAVAILABLE
    if isinstance(exc, MeshmeterError | ValueError | OSError):
        return EXIT_BAD_INPUT
    return None


def error_line(exc: BaseException) -> str:
    """The one line that says what failed and what to do."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, DatabaseUnavailableError) and not isinstance(exc, DatabaseLockedError):
        message += " (--database, or $MESHMETER_DATABASE_URL)"
    elif exit_code_for(exc) == EXIT_UNAVAILABLE and not isinstance(exc, ServiceUnavailableError):
        message += "; check that it is running and reachable, then try again"
    return message


def report_error(exc: BaseException) -> typer.Exit:
    """Print ``error: ...`` (:func:`error_line`) on stderr; the exit (:func:`exit_code_for`) to raise."""
    code = exit_code_for(exc)
    err_console().print(f"[bold red]error:[/] {escape(error_line(exc))}", soft_wrap=True)
    return typer.Exit(code=EXIT_BAD_INPUT if code is None else code)


def bad_input(message: str) -> BaseException:
    """
    Print ``error: message`` on stderr; the exit (status 2, bad input) to raise.

    Called while handling an exception that is not bad input (a database that cannot be reached, a
    broker that refuses: :func:`exit_code_for` other than 2), it prints nothing and returns that
    exception, for :class:`MeshmeterGroup` to report with its own status.
    """
    handled = sys.exc_info()[1]
    if handled is not None and exit_code_for(handled) not in (None, EXIT_BAD_INPUT):
        return handled
    err_console().print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code=EXIT_BAD_INPUT)


class MeshmeterGroup(TyperGroup):
    """
    The ``meshmeter`` program: turns a domain or environment error of any command into one line on
    stderr and an exit status by kind (:func:`exit_code_for`); with ``--debug``, lets it through with
    its traceback. Anything else (a bug) keeps its traceback.
    """

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]  # typer's own Context
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # typer's own: usage errors, exits
            raise
        except Exception as exc:
            if ctx.meta.get(DEBUG_KEY) or exit_code_for(exc) is None:
                raise
            raise report_error(exc) from None


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


def recorded_by(command: str) -> str:
    """Who did it, as the history of tenancies records a command's operation: ``meshmeter account
    move-in (alice)``, the login name where the system gives one."""
    import getpass

    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return f"meshmeter {command}"
    return f"meshmeter {command} ({user})"
