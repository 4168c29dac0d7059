"""The plain interval CSV the ``meshmeter bill`` command reads (``docs/billing.md``).

A header row, then one row per interval (15 minutes unless the meter has another length):
``interval_end`` (ISO 8601 with a UTC offset, e.g. ``2026-07-01T07:15:00Z``) and ``energy_wh`` (integer
Wh), and optionally ``quality`` (ESPI code, default 0).
Other columns are ignored. A bad row is refused with its line number and field named.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

import numpy as np
import numpy.typing as npt

from meshmeter.billing.calendar import INTERVAL_S, check_interval_s, grid_name
from meshmeter.billing.engine import MAX_QUALITY

__all__ = ["parse_intervals_csv"]

IntArray = npt.NDArray[np.int64]


def parse_intervals_csv(text: str, *, interval_s: int = INTERVAL_S) -> tuple[IntArray, IntArray, IntArray]:
    """
    Read an interval CSV.

    Parameters
    ----------
    text : str
        The CSV document.
    interval_s : int
        Length of the meter's intervals: 300, 900 (default), 1800 or 3600; every ``interval_end`` must
        end one (lie on its grid). [s]

    Returns
    -------
    interval_end_s : ndarray of int64
        Interval ends, seconds since the Unix epoch, UTC. [s]
    energy_wh : ndarray of int64
        Energy of each interval. [Wh]
    quality : ndarray of int64
        ESPI quality code of each interval (0 where the column is absent).

    Raises
    ------
    ValueError
        Naming the line and the field of the first bad value.
    """
    step = check_interval_s(interval_s)
    reader = csv.DictReader(io.StringIO(text))
    fields = reader.fieldnames or []
    for required in ("interval_end", "energy_wh"):
        if required not in fields:
            raise ValueError(f"the CSV needs a column {required!r}; its header is {fields!r}")
    ends: list[int] = []
    energy: list[int] = []
    quality: list[int] = []
    for row in reader:
        line = reader.line_num
        raw = (row.get("interval_end") or "").strip()
        try:
            t = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"line {line}: interval_end must be ISO 8601, got {raw!r}") from None
        if t.utcoffset() is None:
            raise ValueError(f"line {line}: interval_end must carry a UTC offset, got {raw!r}")
        epoch = t.timestamp()
        if epoch % step:
            raise ValueError(f"line {line}: interval_end must end a {grid_name(step)} interval, got {raw!r}")
        value = (row.get("energy_wh") or "").strip()
        try:
            wh = int(value)
        except ValueError:
            raise ValueError(f"line {line}: energy_wh must be an integer, got {value!r}") from None
        if wh < 0:
            raise ValueError(f"line {line}: energy_wh must not be negative, got {wh}")
        code_text = (row.get("quality") or "0").strip()
        try:
            code = int(code_text)
        except ValueError:
            raise ValueError(f"line {line}: quality must be an ESPI code, got {code_text!r}") from None
        if not 0 <= code <= MAX_QUALITY:
            raise ValueError(f"line {line}: quality must be 0 to {MAX_QUALITY}, got {code}")
        ends.append(int(epoch))
        energy.append(wh)
        quality.append(code)
    if len(set(ends)) != len(ends):
        seen: set[int] = set()
        for i, e in enumerate(ends):
            if e in seen:
                raise ValueError(f"line {i + 2}: interval_end repeats an earlier interval")
            seen.add(e)
    return (
        np.asarray(ends, dtype=np.int64),
        np.asarray(energy, dtype=np.int64),
        np.asarray(quality, dtype=np.int64),
    )
