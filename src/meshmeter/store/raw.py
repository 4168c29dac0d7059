"""Raw intervals: never overwritten, idempotent, revisions kept (``docs/store.md``).

Ingest takes rows (:meth:`RawIntervalsMixin.insert_raw_intervals`) or numpy columns, checks them whole,
locks the meter, sorts the batch against the stored rows into new rows, duplicates and revisions, and
writes the new rows by the driver's bulk path (:mod:`meshmeter.store.driver`) in the compact form of
:mod:`meshmeter.store.columns`. Reads give the latest revision of each interval, or all of them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, insert, select

from meshmeter.store import _validate as v
from meshmeter.store.base import StoreBase, UnknownMeterError, _now
from meshmeter.store.columns import _DAY_S, _INTERVAL_S, IntArray, _overlay_latest
from meshmeter.store.driver import (
    _batch_id,
    _driver,
    _driver_columns,
    _main_columns,
    _revision_columns,
    _write_new_rows,
)
from meshmeter.store.models import RawInsertResult, RawInterval, RawIntervalIn
from meshmeter.store.schema import CUMULATIVE_NONE, ingest_batches, raw_interval_revisions
from meshmeter.store.types import epoch_s, from_epoch_s

__all__ = ["RawIntervalsMixin"]


class RawIntervalsMixin(StoreBase):
    """Raw intervals: ingest (rows and columns), revisions, reads."""

    def insert_raw_intervals(
        self,
        *,
        meter_id: int,
        rows: Iterable[RawIntervalIn | tuple[Any, ...]],
        source: str,
        received_at: datetime | None = None,
    ) -> int:
        """
        Store intervals as received, in bulk; idempotent.

        Parameters
        ----------
        meter_id : int
            The meter, which must exist.
        rows : iterable of RawIntervalIn or tuple
            ``(interval_end, energy_wh[, cumulative_wh])``: aware end of the interval (a whole second),
            energy in it [Wh], cumulative register at its end [Wh] or None.
        source : str
            Where the batch came from (``"dcap"``, ``"mqtt"``, ``"http"``, ``"csv"`` ...).
        received_at : datetime, optional
            When it was received; default now.

        Returns
        -------
        int
            How many rows were stored: new intervals plus new revisions of conflicting ones. An interval
            whose values equal a value already stored for it (from any source) is not stored again.

        Raises
        ------
        ValueError
            When a row is bad (``rows[i].energy_wh`` ...), the batch gives one interval two different
            values, or the meter is unknown; nothing of the batch is stored.
        """
        meter_id = v.check_id("meter_id", meter_id)
        batch: dict[int, tuple[int, int]] = {}
        for i, row in enumerate(rows):
            if not isinstance(row, tuple) or len(row) not in (2, 3):
                raise ValueError(f"rows[{i}] must be (interval_end, energy_wh[, cumulative_wh]), got {row!r}")
            end = v.check_utc(f"rows[{i}].interval_end", row[0], whole_second=True)
            energy = v.check_energy_wh(f"rows[{i}].energy_wh", row[1])
            cumulative = row[2] if len(row) == 3 else None
            if cumulative is not None:
                cumulative = v.check_energy_wh(f"rows[{i}].cumulative_wh", cumulative)
            if energy > v.MAX_INT64 or (cumulative is not None and cumulative > v.MAX_INT64):
                raise ValueError(f"rows[{i}] energy_wh and cumulative_wh must fit in 64 bits, got {row!r}")
            values = (energy, CUMULATIVE_NONE if cumulative is None else cumulative)
            seen = batch.setdefault(epoch_s(end), values)
            if seen != values:
                shown = [(e, None if c == CUMULATIVE_NONE else c) for e, c in (seen, values)]
                raise ValueError(
                    f"rows[{i}].interval_end {end.isoformat()} appears twice in the batch with different "
                    f"values: {tuple(shown[0])} and {tuple(shown[1])}"
                )
        ends = np.fromiter(batch, dtype=np.int64, count=len(batch))
        values_array = np.array(list(batch.values()), dtype=np.int64).reshape(-1, 2)
        result = self.insert_raw_interval_columns(
            meter_id=meter_id,
            interval_end_s=ends,
            energy_wh=values_array[:, 0],
            cumulative_wh=values_array[:, 1],
            source=source,
            received_at=received_at,
        )
        return result.stored

    def insert_raw_interval_columns(
        self,
        *,
        meter_id: int,
        interval_end_s: IntArray,
        energy_wh: IntArray,
        cumulative_wh: IntArray | None = None,
        source: str,
        received_at: datetime | None = None,
    ) -> RawInsertResult:
        """
        Store one meter's intervals given as columns: the bulk path of ingest; idempotent.

        Parameters
        ----------
        meter_id : int
            The meter, which must exist.
        interval_end_s : ndarray of int64
            End of each interval, seconds since the Unix epoch, distinct (any order). [s]
        energy_wh : ndarray of int64
            Energy in each interval, non-negative. [Wh]
        cumulative_wh : ndarray of int64, optional
            Cumulative register at each end, -1 (:data:`~meshmeter.store.schema.CUMULATIVE_NONE`) where
            none was sent; default none at all. [Wh]
        source : str
            Where the batch came from.
        received_at : datetime, optional
            When it was received; default now.

        Returns
        -------
        RawInsertResult
            New intervals, duplicates (a value already stored for the interval) and revisions (a new
            value for an interval stored with others).

        Raises
        ------
        ValueError
            Arrays of other shapes or types, repeated ends, a negative energy or counter, an unknown
            meter; nothing is stored.
        """
        result = self.insert_raw_interval_batches(
            batches=[(meter_id, interval_end_s, energy_wh, cumulative_wh)],
            source=source,
            received_at=received_at,
        )
        return result[0]

    def insert_raw_interval_batches(
        self,
        *,
        batches: Sequence[tuple[int | str, IntArray, IntArray, IntArray | None]],
        source: str,
        received_at: datetime | None = None,
    ) -> list[RawInsertResult]:
        """
        :meth:`insert_raw_interval_columns` of several meters in one transaction: all or nothing.

        Parameters
        ----------
        batches : sequence of (meter, interval_end_s, energy_wh, cumulative_wh)
            One element per meter, as :meth:`insert_raw_interval_columns` takes them; ``meter`` is its id
            (int) or its serial number (str).
        source : str
            Where the delivery came from.
        received_at : datetime, optional
            When it was received; default now.

        Returns
        -------
        list of RawInsertResult
            One per element of ``batches``.

        Raises
        ------
        UnknownMeterError
            When a meter (id or serial) is not known; nothing is stored.
        ValueError
            On bad columns (see :meth:`insert_raw_interval_columns`); nothing is stored.

        Notes
        -----
        The rows of a meter are checked against what is stored for it under a lock of the meter
        (PostgreSQL: ``SELECT ... FOR NO KEY UPDATE``; SQLite: the one writer), so the rows found new
        are written straight into ``raw_intervals`` (SQLite: the driver's ``executemany``; PostgreSQL:
        ``COPY``). A counter that equals the counter of the meter's row 15 minutes earlier plus the
        interval's energy is not stored (``docs/store.md``), except at UTC midnight.
        """
        source = v.check_text("source", source)
        stamp = _now() if received_at is None else v.check_utc("received_at", received_at)
        checked = [v.check_interval_columns(f"batches[{k}]", *b) for k, b in enumerate(batches)]
        with self._write() as c:
            return self._insert_checked_batches(c, checked, source, stamp)

    def _insert_checked_batches(
        self,
        c: Connection,
        checked: Sequence[tuple[int | str, IntArray, IntArray, IntArray]],
        source: str,
        stamp: datetime,
    ) -> list[RawInsertResult]:
        """:meth:`insert_raw_interval_batches` of checked columns, within the caller's transaction ``c``
        (the collector stores intervals and its position in one)."""
        out: list[RawInsertResult] = []
        made: list[int] = []

        def batch_id() -> int:
            """The delivery's ``ingest_batches`` row, made when the first row is written: data
            already stored, sent again, changes nothing in the store."""
            if not made:
                made.append(_batch_id(c, source, stamp))
            return made[0]

        for meter, ends, energy, cumulative in checked:
            if isinstance(meter, str):
                found = _driver(c, "lock_serial", (meter,))
                if not found:
                    raise UnknownMeterError(f"meter {meter!r} is not a known meter's serial")
                meter_id = int(found[0][0])
            else:
                meter_id = meter
                self._lock_meter(c, meter_id)
            if ends.size == 0:
                out.append(RawInsertResult(0, 0, 0))
                continue
            out.append(self._insert_meter_rows(c, meter_id, batch_id, ends, energy, cumulative))
        return out

    @staticmethod
    def _insert_meter_rows(
        c: Connection,
        meter_id: int,
        batch_id: Callable[[], int],
        ends: IntArray,
        energy: IntArray,
        cumulative: IntArray,
    ) -> RawInsertResult:
        """One meter's checked, sorted rows: classify against the stored ones and write (see above).
        ``batch_id`` gives the delivery's batch, made on its first call: only when a row is written."""
        lo, hi = int(ends[0]), int(ends[-1])
        s_ends, s_energy, s_cum, _ = _main_columns(c, meter_id, lo - _INTERVAL_S - 1, hi, decode=True)
        at = np.searchsorted(s_ends, ends)
        at_c = np.minimum(at, max(s_ends.size - 1, 0))
        exists = (s_ends.size > 0) & (s_ends[at_c] == ends) if s_ends.size else np.zeros(ends.size, bool)
        new = ~exists
        # the counter of each row's predecessor as it will be stored: stored row, else a new row of the batch
        pred = ends - _INTERVAL_S
        pred_cum = np.full(ends.size, CUMULATIVE_NONE, dtype=np.int64)
        if s_ends.size:
            k = np.minimum(np.searchsorted(s_ends, pred), s_ends.size - 1)
            found = s_ends[k] == pred
            pred_cum[found] = s_cum[k[found]]
        else:
            found = np.zeros(ends.size, dtype=bool)
        k = np.minimum(np.searchsorted(ends, pred), ends.size - 1)
        in_batch = ~found & (ends[k] == pred) & new[k]
        pred_cum[in_batch] = cumulative[k[in_batch]]
        derived = (
            new
            & (ends % _DAY_S != 0)
            & (cumulative >= 0)
            & (pred_cum >= 0)
            & (cumulative == pred_cum + energy)
        )
        duplicates = revised = 0
        revisions: list[dict[str, Any]] = []
        if exists.any():
            r_ends, r_rev, r_energy, r_cum, _ = _revision_columns(c, meter_id, lo - 1, hi)
            known: dict[int, list[tuple[int, int]]] = {}
            for e, en, cu in zip(s_ends.tolist(), s_energy.tolist(), s_cum.tolist(), strict=True):
                known[e] = [(en, cu)]
            last_revision: dict[int, int] = {}
            for e, rv, en, cu in zip(
                r_ends.tolist(), r_rev.tolist(), r_energy.tolist(), r_cum.tolist(), strict=True
            ):
                known.setdefault(e, []).append((en, cu))
                last_revision[e] = rv
            for i in np.flatnonzero(exists).tolist():
                e, value = int(ends[i]), (int(energy[i]), int(cumulative[i]))
                if value in known[e]:
                    duplicates += 1
                    continue
                revised += 1
                revisions.append(
                    {
                        "meter_id": meter_id,
                        "interval_end": from_epoch_s(e),
                        "revision": last_revision.get(e, 0) + 1,
                        "energy_wh": value[0],
                        "cumulative_wh": None if value[1] == CUMULATIVE_NONE else value[1],
                    }
                )
        if new.all():
            new_ends, new_energy, new_cum, new_derived = ends, energy, cumulative, derived
        else:
            new_ends, new_energy, new_cum, new_derived = ends[new], energy[new], cumulative[new], derived[new]
        if new_ends.size:
            _write_new_rows(c, meter_id, batch_id(), new_ends, new_energy, new_cum, new_derived)
        if revisions:
            made = batch_id()
            c.execute(insert(raw_interval_revisions), [{**r, "batch_id": made} for r in revisions])
        if new_ends.size or revisions:
            RawIntervalsMixin._bump_data_version(c, meter_id)
        return RawInsertResult(int(new_ends.size), duplicates, revised)

    def raw_intervals(
        self, *, meter_id: int, start: datetime, end: datetime, all_revisions: bool = False
    ) -> list[RawInterval]:
        """
        Raw intervals of a meter with ``start < interval_end <= end``, oldest first.

        Parameters
        ----------
        all_revisions : bool, optional
            Return every revision (by interval end, then revision); default only the latest of each.
        """
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = v.check_range(start, end)
        lo_s, hi_s = epoch_s(lo), epoch_s(hi)
        with self._read() as c:
            ends, energy, cumulative, batch = _main_columns(c, meter_id, lo_s, hi_s, decode=True)
            r_ends, r_rev, r_energy, r_cum, r_batch = _revision_columns(c, meter_id, lo_s, hi_s)
            ids = sorted(set(batch.tolist()) | set(r_batch.tolist()))
            batches = {
                r.id: (r.source, r.received_at)
                for r in c.execute(select(ingest_batches).where(ingest_batches.c.id.in_(ids)))
            }
        items = [
            (e, 0, en, cu, b)
            for e, en, cu, b in zip(
                ends.tolist(), energy.tolist(), cumulative.tolist(), batch.tolist(), strict=True
            )
        ]
        if r_ends.size:
            items += zip(
                r_ends.tolist(),
                r_rev.tolist(),
                r_energy.tolist(),
                r_cum.tolist(),
                r_batch.tolist(),
                strict=True,
            )
            items.sort(key=lambda item: (item[0], item[1]))
        if not all_revisions and r_ends.size:
            latest: dict[int, tuple[int, int, int, int, int]] = {}
            for item in items:
                latest[item[0]] = item
            items = list(latest.values())
        return [
            RawInterval(
                meter_id,
                from_epoch_s(e),
                rv,
                en,
                None if cu == CUMULATIVE_NONE else cu,
                *batches[b],
            )
            for e, rv, en, cu, b in items
        ]

    def raw_interval_columns(
        self, *, meter_id: int, start: datetime, end: datetime
    ) -> tuple[IntArray, IntArray]:
        """
        The latest revision of each raw interval of a meter with ``start < interval_end <= end``, as columns.

        What :meth:`raw_intervals` returns, without a ``datetime`` or an object per row: for reads of many
        intervals (a year of one meter's 15-minute data is 35,136 rows).

        Parameters
        ----------
        meter_id : int
            The meter.
        start, end : datetime
            Aware; the range ``(start, end]`` of interval ends.

        Returns
        -------
        interval_end_s : ndarray of int64
            End of each interval, seconds since the Unix epoch, increasing. [s]
        energy_wh : ndarray of int64
            Energy in each interval, of its latest revision. [Wh]
        """
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = v.check_range(start, end)
        lo_s, hi_s = epoch_s(lo), epoch_s(hi)
        with self._read() as c:
            ends, energy = _driver_columns(c, "main_energy", (meter_id, lo_s, hi_s), 2)
            r_ends, _, r_energy, _, _ = _revision_columns(c, meter_id, lo_s, hi_s)
        (energy,) = _overlay_latest(ends, r_ends, (energy, r_energy))
        return ends, energy

    def raw_interval_counters(
        self, *, meter_id: int, start: datetime, end: datetime
    ) -> tuple[IntArray, IntArray, IntArray]:
        """
        :meth:`raw_interval_columns` with each interval's counter: what VEE reads (rollover, resets, gaps).

        Returns
        -------
        interval_end_s : ndarray of int64
            End of each interval, seconds since the Unix epoch, increasing. [s]
        energy_wh : ndarray of int64
            Energy in each interval, of its latest revision. [Wh]
        cumulative_wh : ndarray of int64
            The counter at each end, of the latest revision, :data:`~meshmeter.intervals.CUMULATIVE_NONE`
            where none was sent. [Wh]
        """
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = v.check_range(start, end)
        lo_s, hi_s = epoch_s(lo), epoch_s(hi)
        with self._read() as c:
            ends, energy, cumulative, _ = _main_columns(c, meter_id, lo_s, hi_s, decode=True)
            r_ends, _, r_energy, r_cumulative, _ = _revision_columns(c, meter_id, lo_s, hi_s)
        energy, cumulative = _overlay_latest(ends, r_ends, (energy, r_energy), (cumulative, r_cumulative))
        return ends, energy, cumulative
