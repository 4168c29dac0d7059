"""What every command module shares: the console, the one-line error, exit codes, the database option.

Errors become one line and an exit status here, once, for every command (:class:`MeshmeterGroup`,
:func:`exit_code_for`):

====  ==============================================================================================
0     done
1     the thing checked failed (site validate, cit, evaluate, decode --json, status), or work is left
      pending (push: messages not delivered)
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
from typer.core import TyperArgument, TyperGroup

from meshmeter.errors import (
    DatabaseLockedError,
    DatabaseUnavailableError,
    MeshmeterError,
    NotFoundError,
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


LIST_COMMANDS: dict[str, str] = {
    "meter": "meshmeter meter list",
    "source": "meshmeter source list --site SITE",
    "unit": "meshmeter unit list",
    "tenant": "meshmeter tenant list",
    "account": "meshmeter account list",
    "bill": "meshmeter corrections list",
}
"""The command that lists the things of a kind, told where one named is not in the store
(:class:`~meshmeter.errors.NotFoundError`): the next step after an unknown name."""


def _with_next_step(message: str, exc: BaseException | None) -> str:
    """``message``, ending with the command that lists what exists, where ``exc`` named what does not."""
    if isinstance(exc, NotFoundError) and exc.what in LIST_COMMANDS:
        return f"{message}: list them with `{LIST_COMMANDS[exc.what]}`"
    return message


def error_line(exc: BaseException) -> str:
    """The one line that says what failed and what to do next."""
    message = _with_next_step(" ".join(str(exc).split()) or type(exc).__name__, exc)
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
    if handled is not None and message == str(handled):
        message = _with_next_step(message, handled)
    err_console().print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code=EXIT_BAD_INPUT)


VALUE_NAMES: dict[str, str] = {
    "site": "SITE",
    "site_id": "SITE",
    "site_name": "SITE",
    "collect_site": "SITE",
    "meter": "SERIAL",
    "serial": "SERIAL",
    "old": "SERIAL",
    "new": "SERIAL",
    "house_meter": "SERIAL",
    "export_of": "SERIAL",
    "start": "DATE",
    "end": "DATE",
    "at": "DATE",
    "opened": "DATE",
    "move_in": "DATE",
    "move_out": "DATE",
    "month": "YYYY-MM",
    "bill_format": "FORMAT",
    "export_format": "FORMAT",
    "format_name": "FORMAT",
    "seconds": "S",
    "max_apportion": "S",
    "wh_per_unit": "WH",
    "floor_area": "FT2",
    "mdt_eui64": "HEX",
    "mdt_key": "HEX",
    "interval": "MINUTES",
    "reversed_ct": "ELEMENT",
    "no_voltage": "ELEMENT",
    "ct_line": "ELEMENT=LINE",
    "database": "URL",
    "url": "URL",
    "timezone": "ZONE",
    "path": "FILE",
    "file": "FILE",
    "mapping_path": "FILE",
    "tariff": "FILE",
    "intervals": "FILE",
    "output": "FILE",
    "shares": "FILE",
    "report": "DIR",
    "account": "ID",
    "tenant": "ID",
    "unit": "UNIT",
    "unit_id": "ID",
    "bill_id": "ID",
    "model": "DESIGNATION",
    "ct_ratio": "RATIO",
    "read": "KWH",
    "final_read": "KWH",
    "first_read": "KWH",
    "voltage_max": "V",
    "current_max": "A",
    "master_total": "USD",
    "admin_fee": "USD",
    "rate": "USD/KWH",
    "true_up_rate": "USD/KWH",
    "setting": "KEY=VALUE",
    "fault": "FAULT",
}
"""What a value of an option or argument is, by its parameter's name, for ``--help`` (:func:`value_name`)."""

_UNIT_SUFFIXES = {"_kwh": "KWH", "_wh": "WH", "_v": "V", "_a": "A", "_hz": "HZ", "_s": "S", "_hours": "HOURS"}


def value_name(param: Any) -> str:
    """
    The metavar ``--help`` shows for a parameter: what its value means (SERIAL, SITE, DATE, URL, FILE,
    KWH, N ...) rather than its Python type; empty for a flag, which takes no value.

    By the parameter's name (:data:`VALUE_NAMES`), else the unit its name ends in (``duration_s``: S),
    else N for a whole number, else the name itself (``--format FORMAT``).
    """
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    name = param.name or ""
    if name in VALUE_NAMES:
        return VALUE_NAMES[name]
    for suffix, unit in _UNIT_SUFFIXES.items():
        if name.endswith(suffix):
            return unit
    if getattr(getattr(param, "type_descriptor", None), "annotation", None) is int:
        return "N"
    return name.upper().replace("_", "-")


class _NamedArgument(TyperArgument):
    """An argument whose help shows its value name (``SERIAL``) alone, without its Python type (``<str>``)."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def shown_literally(text: str | None) -> str | None:
    """
    ``text`` with what rich would take for a markup tag escaped (``[s]``, ``[kWh]``), so that ``--help``
    shows the unit in brackets rather than swallowing it (typer renders help as rich markup). Text
    already escaped is left as it is.
    """
    if not text or "\\[" in text:
        return text
    return escape(text)


def show_brackets(command: Any) -> None:
    """
    Keep every ``[unit]`` of the help texts of ``command`` and of its subcommands (their help, short
    help, epilog and each parameter's help) through typer's rich markup (:func:`shown_literally`): one
    place for the whole program (``tests/cli/test_help.py``).
    """
    for sub in getattr(command, "commands", {}).values():
        show_brackets(sub)
    for attribute in ("help", "short_help", "epilog"):
        if isinstance(getattr(command, attribute, None), str):
            setattr(command, attribute, shown_literally(getattr(command, attribute)))
    for param in command.params:
        if isinstance(getattr(param, "help", None), str):
            param.help = shown_literally(param.help)


def name_values(command: Any) -> None:
    """
    Give every parameter of ``command`` and of its subcommands a metavar by what it means
    (:func:`value_name`), where the command left none: one place for the whole program, so that ``--help``
    never shows ``<str>`` or ``<bool>`` (``tests/cli/test_help.py``).
    """
    for sub in getattr(command, "commands", {}).values():
        name_values(sub)
    params = list(command.params)
    helper = command.get_help_option(typer.Context(command))
    if helper is not None:
        params.append(helper)
    for param in params:
        if isinstance(param, TyperArgument):
            if param.metavar is None:
                param.metavar = value_name(param)
            param.__class__ = _NamedArgument
        elif param.metavar is None:
            param.metavar = value_name(param)


class MeshmeterGroup(TyperGroup):
    """
    The ``meshmeter`` program: turns a domain or environment error of any command into one line on
    stderr and an exit status by kind (:func:`exit_code_for`); with ``--debug``, lets it through with
    its traceback. Anything else (a bug) keeps its traceback. Names the values of every option and
    argument of the program for ``--help`` (:func:`name_values`), and keeps the ``[unit]`` of every help
    text from being read as rich markup (:func:`show_brackets`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        name_values(self)
        show_brackets(self)

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]  # typer's own Context
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # typer's own: usage errors, exits
            raise
        except Exception as exc:
            if ctx.meta.get(DEBUG_KEY) or exit_code_for(exc) is None:
                raise
            raise report_error(exc) from None


TIME_HELP = "YYYY-MM-DD (local midnight of the site) or ISO-8601"
"""What every time option takes, said once in its help (:func:`parse_time`)."""


def parse_time(name: str, text: str, timezone: str | None = None) -> datetime:
    """
    The instant a time option means, in UTC, by the project's one rule
    (:func:`meshmeter.services.tenancy.effective_instant`): ``YYYY-MM-DD`` is local midnight in
    ``timezone`` (the site the command works on), a date-time without an offset local time there, and
    one with an offset or ``Z`` that instant. Without a site, ``timezone`` None: UTC.

    Raises
    ------
    ValueError
        Naming ``name`` (the option, ``--start``): not a date or date-time, or out of range.
    """
    from meshmeter.services.tenancy import effective_instant

    return effective_instant(name, text, "UTC" if timezone is None else timezone)


def recorded_by(command: str) -> str:
    """Who did it, as the history of tenancies records a command's operation: ``meshmeter account
    move-in (alice)``, the login name where the system gives one."""
    import getpass

    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return f"meshmeter {command}"
    return f"meshmeter {command} ({user})"
