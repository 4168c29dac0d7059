"""One way to print a listing: a table for people, JSON for programs (issue 15, "Command line").

Every ``... list`` command (and ``alerts``, ``cit``) builds its rows once, as the dicts ``--json`` prints
(stable keys, machine values: ISO-8601 UTC times, integer Wh, ids), and hands them here with the columns
people read: names first (unit, tenant, account), ids and serials after. :func:`print_table` fits the
table to the terminal's width: each row stays one line, the long columns (names, words) are cut with an
ellipsis first and a header is never cut, so that nothing falls off the right edge. An empty listing is
one sentence that says what to do next: the command that adds one.

Kept light like :mod:`meshmeter.cli.common`: rich's table is imported when a table is printed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import typer

from meshmeter.cli.common import console

if TYPE_CHECKING:
    from meshmeter.services.names import MeterName

__all__ = ["NONE", "Column", "fit_widths", "key", "local_time", "meter_fields", "print_json", "print_table"]

NONE = "–"
"""What a cell shows for a value that is not there (None)."""

GAP = 2
"""Spaces between two columns."""

FLEX_FLOOR = 8
"""The narrowest a long column is cut to (or its header's width, if wider), before the short ones are."""


@dataclass(frozen=True, slots=True)
class Column:
    """
    A column of a listing.

    Attributes
    ----------
    header : str
        Its header: short, since it is never cut (``Unit``, ``Tenant``, ``Meter``).
    cell : callable
        The row's cell: ``row -> value``; None shows as an en dash, anything else as ``str``.
    long : bool
        A long text (a name, words, a list): cut with an ellipsis first when the terminal is narrow.
        Short columns (ids, serials, times, numbers) keep their width as long as they can.
    justify : str
        ``left``, or ``right`` for numbers.
    """

    header: str
    cell: Callable[[Any], object]
    long: bool = False
    justify: Literal["left", "right"] = "left"


def key(name: str) -> Callable[[dict[str, Any]], object]:
    """The cell that is the row's value under ``name``."""
    return lambda row: row[name]


def meter_fields(name: MeterName | None) -> dict[str, str | None]:
    """
    The names of a meter as a listing's rows carry them (:class:`meshmeter.services.names.MeterName`):
    ``site``, ``unit``, ``tenant``, ``account`` (None where there is none), and ``label`` and
    ``occupant``, the words of a table's first columns (``Unit 101``, ``Alvarez household (1001)``).
    """
    if name is None:
        return dict.fromkeys(("site", "unit", "tenant", "account", "label", "occupant"))
    return {
        "site": name.site,
        "unit": name.unit,
        "tenant": name.tenant,
        "account": name.account,
        "label": name.label,
        "occupant": name.occupant,
    }


def local_time(at: datetime | str | None, timezone: str | None) -> str | None:
    """An instant (aware, or ISO-8601 with its offset) as people of the site read it:
    ``2026-01-05 10:15 PST`` in ``timezone`` (UTC without one); None stays None."""
    from meshmeter.intervals import zone

    if at is None:
        return None
    instant = datetime.fromisoformat(at) if isinstance(at, str) else at
    return f"{instant.astimezone(zone(timezone or 'UTC')):%Y-%m-%d %H:%M %Z}"


def _text(value: object) -> str:
    if value is None or value == "":
        return NONE
    return " ".join(str(value).split())


def fit_widths(
    headers: Sequence[str], cells: Sequence[Sequence[str]], long: Sequence[bool], width: int, gap: int = GAP
) -> list[int]:
    """
    The width of each column so that the table fits ``width`` characters.

    Each column starts at its widest cell (or header). While the table is too wide, the widest long
    column is narrowed, down to :data:`FLEX_FLOOR` (never below its header); then the widest short one,
    down to its header. A table whose headers alone are wider than the terminal stays that wide.

    Parameters
    ----------
    headers : sequence of str
    cells : sequence of sequence of str
        The rows' cells, as printed.
    long : sequence of bool
        Which columns are long texts (:attr:`Column.long`).
    width : int
        The terminal's width. [characters]
    gap : int
        Spaces between two columns. [characters]
    """
    from rich.cells import cell_len

    sizes = [max([cell_len(h), *(cell_len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    room = width - gap * (len(headers) - 1)
    for cut_long in (True, False):
        floors = [
            (max(cell_len(h), FLEX_FLOOR) if cut_long else cell_len(h)) if long[i] is cut_long else sizes[i]
            for i, h in enumerate(headers)
        ]
        while sum(sizes) > room:
            wide = [i for i in range(len(sizes)) if sizes[i] > floors[i]]
            if not wide:
                break
            sizes[max(wide, key=lambda i: sizes[i])] -= 1
    return sizes


def print_table(
    columns: Sequence[Column], rows: Sequence[Any], *, empty: str, title: str | None = None
) -> None:
    """
    Print ``rows`` as a table for people that fits the terminal, or the sentence ``empty`` (what to do
    next: the command that adds one) when there is none.

    Columns are two spaces apart, one on a narrow terminal; widths by :func:`fit_widths`. A long column
    narrower than its text wraps it at spaces (a word wider than the column ends in an ellipsis); a
    short one keeps each cell on its line. ``title``, when given, is a line above the table (what is
    listed, from where, as of when).
    """
    if not rows:
        console.print(empty, markup=False)
        return
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    headers = [c.header for c in columns]
    cells = [[_text(c.cell(row)) for c in columns] for row in rows]
    width = int(console.width)
    natural = sum(max([cell_len(h), *(cell_len(r[i]) for r in cells)]) for i, h in enumerate(headers))
    gap = GAP if natural + GAP * (len(headers) - 1) <= width else 1
    sizes = fit_widths(headers, cells, [c.long for c in columns], width, gap)
    table = Table(box=None, padding=(0, gap, 0, 0), pad_edge=False, show_edge=False)
    for column, size in zip(columns, sizes, strict=True):
        table.add_column(
            Text(column.header, style="bold"),
            width=size,
            no_wrap=not column.long,
            overflow="ellipsis",
            justify=column.justify,
        )
    for row in cells:
        table.add_row(*(Text(c) for c in row))
    if title is not None:
        console.print(title, markup=False)
    console.print(table)


def print_json(data: Any) -> None:
    """Print ``data`` as JSON for programs (two-space indent); values already machine values."""
    typer.echo(json.dumps(data, indent=2, default=str))
