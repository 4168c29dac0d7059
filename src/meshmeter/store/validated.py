"""Validated intervals, their audit, the record of VEE runs, and the one validated view.

VEE writes a validated row only where it estimates, edits or flags;
:meth:`ValidatedIntervalsMixin.interval_view` overlays those rows on the latest raw revisions, valid
where a recorded VEE run saw their delivery (``docs/store.md``). Bills, exports, the API, the dashboard
and the demo read intervals there.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import bindparam, delete, func, insert, select, update

from meshmeter.intervals import IntervalColumns, Quality
from meshmeter.store import _validate as v
from meshmeter.store.base import StoreBase, UnknownMeterError, _now
from meshmeter.store.columns import IntArray, _overlay_latest
from meshmeter.store.driver import (
    SEAL_SOURCE,
    _driver,
    _epoch_column,
    _in_window,
    _int_columns,
    _latest_raw_energy,
    _main_columns,
    _revision_columns,
)
from meshmeter.store.models import IntervalEdit, ValidatedInterval, ValidatedIntervalIn, VeeFinding
from meshmeter.store.schema import (
    CUMULATIVE_NONE,
    WORKLIST_ACTIONS,
    ingest_batches,
    interval_edits,
    meters,
    validated_intervals,
    vee_findings,
    vee_runs,
)
from meshmeter.store.sources import apportioned_marks
from meshmeter.store.types import UtcDateTime, epoch_s

__all__ = ["AUDIT_FREE_QUALITIES", "ValidatedIntervalsMixin"]


AUDIT_FREE_QUALITIES = frozenset({0, 10, 14})
"""Qualities that, put for the first time with the raw value, pass raw data through (or flag it) and
need no edit record; every other change to a validated interval is audited."""


class ValidatedIntervalsMixin(StoreBase):
    """Validated intervals, their audit, VEE runs and the one validated view."""

    def put_validated_intervals(
        self,
        *,
        meter_id: int,
        rows: Iterable[ValidatedIntervalIn | tuple[Any, ...]],
        edited_by: str,
        reason: str,
        edited_at: datetime | None = None,
        action: str | None = None,
    ) -> int:
        """
        Put validated intervals (VEE's output), auditing every edit and estimate.

        Parameters
        ----------
        meter_id : int
            The meter, which must exist.
        rows : iterable of ValidatedIntervalIn or tuple
            ``(interval_end, energy_wh, quality)``: aware end [whole second], energy [Wh], ESPI quality
            code (0 valid, 7 edited, 8 estimated from reference days, 9 linear interpolation,
            10 questionable, 14 raw).
        edited_by : str
            Who (a user, or ``"vee"``).
        reason : str
            Why (the rule or the person's note).
        edited_at : datetime, optional
            When; default now.
        action : str, optional
            A person's act on the VEE work list that this is (``accept`` or ``edit``,
            :data:`~meshmeter.store.schema.WORKLIST_ACTIONS`), recorded with each audit record.

        Returns
        -------
        int
            How many intervals changed (an interval put again with the same value and quality does not).

        Notes
        -----
        Raw intervals are not touched. An audit record (:meth:`interval_edits`) with the old value is
        written for every change, except the first validated value of an interval that equals its latest
        raw value with quality 0, 10 or 14 (raw data passed or flagged unchanged). The old value is the
        previous validated value, else the latest raw value, else None (a gap that was estimated).
        """
        meter_id = v.check_id("meter_id", meter_id)
        edited_by = v.check_text("edited_by", edited_by)
        reason = v.check_text("reason", reason)
        stamp = _now() if edited_at is None else v.check_utc("edited_at", edited_at)
        if action is not None:
            action = v.check_choice("action", action, WORKLIST_ACTIONS)
        batch: dict[datetime, tuple[int, int]] = {}
        for i, row in enumerate(rows):
            if not isinstance(row, tuple) or len(row) != 3:
                raise ValueError(f"rows[{i}] must be (interval_end, energy_wh, quality), got {row!r}")
            end = v.check_utc(f"rows[{i}].interval_end", row[0], whole_second=True)
            energy = v.check_energy_wh(f"rows[{i}].energy_wh", row[1])
            quality = v.check_quality(f"rows[{i}].quality", row[2])
            values = (energy, quality)
            seen = batch.setdefault(end, values)
            if seen != values:
                raise ValueError(
                    f"rows[{i}].interval_end {end.isoformat()} appears twice in the batch with different "
                    f"values: {seen} and {values}"
                )
        with self._write() as c:
            self._lock_meter(c, meter_id)
            if not batch:
                return 0
            lo, hi = min(batch), max(batch)
            vt = validated_intervals
            current = {
                r.interval_end: (r.energy_wh, r.quality)
                for r in c.execute(
                    select(vt.c.interval_end, vt.c.energy_wh, vt.c.quality).where(
                        vt.c.meter_id == meter_id, vt.c.interval_end >= lo, vt.c.interval_end <= hi
                    )
                )
            }
            raw = _latest_raw_energy(c, meter_id, epoch_s(lo) - 1, epoch_s(hi))
            inserts: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            audits: list[dict[str, Any]] = []
            for end, (energy, quality) in batch.items():
                old = current.get(end)
                if old == (energy, quality):
                    continue
                if old is None:
                    inserts.append(
                        {"meter_id": meter_id, "interval_end": end, "energy_wh": energy, "quality": quality}
                    )
                    raw_energy = raw.get(epoch_s(end))
                    if raw_energy == energy and quality in AUDIT_FREE_QUALITIES:
                        continue
                    old_energy, old_quality = raw_energy, None
                else:
                    updates.append({"b_end": end, "b_energy": energy, "b_quality": quality})
                    old_energy, old_quality = old
                audits.append(
                    {
                        "meter_id": meter_id,
                        "interval_end": end,
                        "old_energy_wh": old_energy,
                        "old_quality": old_quality,
                        "new_energy_wh": energy,
                        "new_quality": quality,
                        "edited_by": edited_by,
                        "edited_at": stamp,
                        "reason": reason,
                        "action": action,
                    }
                )
            if inserts:
                c.execute(insert(vt), inserts)
            if updates:
                c.execute(
                    update(vt)
                    .where(
                        vt.c.meter_id == meter_id,
                        vt.c.interval_end == bindparam("b_end", type_=UtcDateTime()),
                    )
                    .values(energy_wh=bindparam("b_energy"), quality=bindparam("b_quality")),
                    updates,
                )
            if audits:
                c.execute(insert(interval_edits), audits)
            if inserts or updates:
                self._bump_data_version(c, meter_id)
        return len(inserts) + len(updates)

    def validated_intervals(
        self, *, meter_id: int, start: datetime, end: datetime
    ) -> list[ValidatedInterval]:
        """Validated intervals of a meter with ``start < interval_end <= end``, oldest first."""
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = v.check_range(start, end)
        t = validated_intervals
        with self._read() as c:
            rows = c.execute(
                select(t).where(_in_window(t, meter_id, lo, hi)).order_by(t.c.interval_end)
            ).all()
        return [ValidatedInterval(r.meter_id, r.interval_end, r.energy_wh, r.quality) for r in rows]

    def validated_interval_columns(
        self, *, meter_id: int, start: datetime, end: datetime
    ) -> tuple[IntArray, IntArray, IntArray]:
        """
        Validated intervals of a meter with ``start < interval_end <= end``, as columns.

        What :meth:`validated_intervals` returns, without a ``datetime`` or an object per row.

        Returns
        -------
        interval_end_s : ndarray of int64
            End of each interval, seconds since the Unix epoch, increasing. [s]
        energy_wh : ndarray of int64
            Validated energy. [Wh]
        quality : ndarray of int64
            ESPI quality code (:data:`~meshmeter.store.schema.QUALITY_CODES`).
        """
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = v.check_range(start, end)
        t = validated_intervals
        query = (
            select(_epoch_column(t.c.interval_end, self.dialect_name), t.c.energy_wh, t.c.quality)
            .where(_in_window(t, meter_id, lo, hi))
            .order_by(t.c.interval_end)
        )
        with self._read() as c:
            ends, energy, quality = _int_columns(c, query, 3)
        return ends, energy, quality

    # -- the validated view ---------------------------------------------------------------------------------

    def record_vee_run(
        self,
        *,
        meter_id: int,
        start: datetime,
        end: datetime,
        batch_watermark: int,
        ran_by: str,
        ran_at: datetime | None = None,
    ) -> None:
        """
        Record that VEE validated a meter's raw intervals of ``(start, end]`` delivered up to a batch.

        Parameters
        ----------
        batch_watermark : int
            The highest ingest batch id there was when VEE read the raw intervals
            (:meth:`ingest_watermark`): rows of later deliveries are not validated by this run.
        ran_by : str
            Who ran it (a user, or ``"vee"``).
        """
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = v.check_range(start, end)
        if lo == hi:
            return
        batch_watermark = v.check_int(
            "batch_watermark", batch_watermark, low=0, expected="a non-negative integer"
        )
        ran_by = v.check_text("ran_by", ran_by)
        stamp = _now() if ran_at is None else v.check_utc("ran_at", ran_at)
        with self._write() as c:
            self._lock_meter(c, meter_id)
            c.execute(
                insert(vee_runs).values(
                    meter_id=meter_id,
                    period_start=lo,
                    period_end=hi,
                    batch_watermark=batch_watermark,
                    ran_by=ran_by,
                    ran_at=stamp,
                )
            )
            self._bump_data_version(c, meter_id)

    def ingest_watermark(self, *, seal: bool = False) -> int:
        """
        The highest ingest batch id so far (0 before any): what a VEE run saw (:meth:`record_vee_run`).

        Parameters
        ----------
        seal : bool, optional
            Also seal the batches so far (a VEE run, before it reads): a later delivery of the same source
            and second then makes a batch of its own instead of joining one the run counted, whose rows
            would pass as validated unseen (``store.driver._batch_id``).
        """
        if not seal:
            with self._read() as c:
                found = c.execute(select(func.max(ingest_batches.c.id))).scalar()
            return 0 if found is None else int(found)
        with self._write() as c:
            _driver(c, "batch_new", (SEAL_SOURCE, epoch_s(_now())))
            found = c.execute(select(func.max(ingest_batches.c.id))).scalar()
        return 0 if found is None else int(found)

    def interval_view(
        self, *, meter_id: int, start: datetime, end: datetime, cumulative: bool = False
    ) -> IntervalColumns:
        """
        The intervals of a meter ending in ``(start, end]``, as billed: the one validated view.

        Bills, exports, the API, the dashboard and the demo read a meter's intervals here and nowhere else.

        Parameters
        ----------
        meter_id : int
            The meter.
        start, end : datetime
            Aware; the range ``(start, end]`` of interval ends.
        cumulative : bool, optional
            Also give the register at each end (:data:`~meshmeter.intervals.CUMULATIVE_NONE` where none
            is known, and at estimated intervals).

        Returns
        -------
        IntervalColumns
            At the meter's own interval length, by end. Each interval's value and quality:

            - VEE's validated row where it stored one: an edit (7), an estimate (8, 9) or a questionable
              value (10);
            - else the latest raw revision, valid (0) where a VEE run covered it and had seen its delivery
              (:meth:`record_vee_run`), raw (14) where no VEE run has yet; derived (11) instead of valid
              where a real device's reading apportioned it and it still holds that value
              (``apportioned_intervals``, ``docs/collect.md``);
            - intervals with neither are absent (missing).
        """
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = v.check_range(start, end)
        lo_s, hi_s = epoch_s(lo), epoch_s(hi)
        t = validated_intervals
        with self._read() as c:
            length = c.execute(select(meters.c.interval_s).where(meters.c.id == meter_id)).scalar()
            if length is None:
                raise UnknownMeterError(f"meter_id {meter_id!r} is not a known meter")
            ends, energy, codes, batch = _main_columns(c, meter_id, lo_s, hi_s, decode=cumulative)
            r_ends, _, r_energy, r_cum, r_batch = _revision_columns(c, meter_id, lo_s, hi_s)
            runs = c.execute(
                select(vee_runs.c.period_start, vee_runs.c.period_end, vee_runs.c.batch_watermark).where(
                    vee_runs.c.meter_id == meter_id, vee_runs.c.period_end > lo, vee_runs.c.period_start < hi
                )
            ).all()
            query = (
                select(_epoch_column(t.c.interval_end, self.dialect_name), t.c.energy_wh, t.c.quality)
                .where(_in_window(t, meter_id, lo, hi))
                .order_by(t.c.interval_end)
            )
            v_ends, v_energy, v_quality = _int_columns(c, query, 3)
            marks = apportioned_marks(c, meter_id, lo, hi)
        energy, batch, codes = _overlay_latest(
            ends, r_ends, (energy, r_energy), (batch, r_batch), (codes, r_cum)
        )
        quality = np.full(ends.size, int(Quality.RAW), dtype=np.int64)
        for run_lo, run_hi, watermark in runs:
            a, b = epoch_s(run_lo), epoch_s(run_hi)
            quality[(ends > a) & (ends <= b) & (batch <= watermark)] = int(Quality.VALID)
        if v_ends.size:
            all_ends = np.union1d(ends, v_ends)
            if all_ends.size != ends.size:  # VEE filled gaps
                at = np.searchsorted(all_ends, ends)
                grown_energy = np.zeros(all_ends.size, dtype=np.int64)
                grown_quality = np.zeros(all_ends.size, dtype=np.int64)
                grown_codes = np.full(all_ends.size, CUMULATIVE_NONE, dtype=np.int64)
                grown_energy[at], grown_quality[at], grown_codes[at] = energy, quality, codes
                ends, energy, quality, codes = all_ends, grown_energy, grown_quality, grown_codes
            else:
                energy, codes = energy.copy(), codes.copy()
            at = np.searchsorted(ends, v_ends)
            energy[at], quality[at] = v_energy, v_quality
            changed = v_quality != int(Quality.VALID)
            codes[at[changed]] = CUMULATIVE_NONE  # an edit or estimate has no register behind it
        if marks:  # apportioned between readings, passed by VEE, and still the value stored: derived
            m_ends = np.fromiter(marks, dtype=np.int64, count=len(marks))
            m_energy = np.fromiter(marks.values(), dtype=np.int64, count=len(marks))
            at = np.searchsorted(ends, m_ends)
            ok = at < ends.size
            ok[ok] &= ends[at[ok]] == m_ends[ok]
            ok[ok] &= energy[at[ok]] == m_energy[ok]
            hit = at[ok]
            quality[hit[quality[hit] == int(Quality.VALID)]] = int(Quality.DERIVED)
        return IntervalColumns(ends, energy, quality, int(length), codes if cumulative else None)

    def interval_edits(self, *, meter_id: int, start: datetime, end: datetime) -> list[IntervalEdit]:
        """The audit of edits and estimates of a meter's intervals with ``start < interval_end <= end``."""
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = v.check_range(start, end)
        t = interval_edits
        with self._read() as c:
            rows = c.execute(
                select(t).where(_in_window(t, meter_id, lo, hi)).order_by(t.c.interval_end, t.c.id)
            ).all()
        return [
            IntervalEdit(
                r.id,
                r.meter_id,
                r.interval_end,
                r.old_energy_wh,
                r.old_quality,
                r.new_energy_wh,
                r.new_quality,
                r.edited_by,
                r.edited_at,
                r.reason,
                r.action,
            )
            for r in rows
        ]

    # -- the VEE work list ------------------------------------------------------------------------------

    def request_reread(
        self,
        *,
        meter_id: int,
        interval_ends: Iterable[datetime],
        requested_by: str,
        reason: str,
        requested_at: datetime | None = None,
    ) -> int:
        """
        Record a person's request to read a meter's intervals again: an audit record each (action
        ``reread``, old and new value the interval's validated one), the intervals unchanged.

        Parameters
        ----------
        interval_ends : iterable of datetime
            Intervals that have a validated row (VEE flagged or estimated them).
        requested_by, reason : str
            Who, and why.

        Returns
        -------
        int
            How many requests were recorded.

        Raises
        ------
        ValueError
            Naming every interval that has no validated row; nothing is recorded.
        """
        meter_id = v.check_id("meter_id", meter_id)
        requested_by = v.check_text("requested_by", requested_by)
        reason = v.check_text("reason", reason)
        stamp = _now() if requested_at is None else v.check_utc("requested_at", requested_at)
        ends = sorted({v.check_utc(f"interval_ends[{i}]", e) for i, e in enumerate(interval_ends)})
        if not ends:
            return 0
        vt = validated_intervals
        with self._write() as c:
            self._lock_meter(c, meter_id)
            current = {
                r.interval_end: (r.energy_wh, r.quality)
                for r in c.execute(
                    select(vt.c.interval_end, vt.c.energy_wh, vt.c.quality).where(
                        vt.c.meter_id == meter_id, vt.c.interval_end >= ends[0], vt.c.interval_end <= ends[-1]
                    )
                )
            }
            absent = [e.isoformat() for e in ends if e not in current]
            if absent:
                raise ValueError(f"interval_ends have no validated interval: {', '.join(absent)}")
            c.execute(
                insert(interval_edits),
                [
                    {
                        "meter_id": meter_id,
                        "interval_end": e,
                        "old_energy_wh": current[e][0],
                        "old_quality": current[e][1],
                        "new_energy_wh": current[e][0],
                        "new_quality": current[e][1],
                        "edited_by": requested_by,
                        "edited_at": stamp,
                        "reason": reason,
                        "action": "reread",
                    }
                    for e in ends
                ],
            )
            self._bump_data_version(c, meter_id)
        return len(ends)

    def put_vee_findings(
        self,
        *,
        meter_id: int,
        start: datetime,
        end: datetime,
        findings: Iterable[tuple[datetime, str, str]],
        keep: Iterable[datetime] = (),
    ) -> None:
        """
        Replace VEE's findings of a meter's intervals in ``(start, end]`` (a VEE run's window).

        Parameters
        ----------
        findings : iterable of (interval_end, check, reason)
            The findings of the intervals VEE flagged or estimated: the check's name and why, in words.
        keep : iterable of datetime
            Intervals whose findings stay (a person edited them, and VEE left them alone).
        """
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = v.check_range(start, end)
        rows = {}
        for i, (at, check, reason) in enumerate(findings):
            at = v.check_utc(f"findings[{i}].interval_end", at)
            check = v.check_text(f"findings[{i}].check", check)
            rows[(at, check)] = v.check_text(f"findings[{i}].reason", reason)
        kept = {v.check_utc(f"keep[{i}]", e) for i, e in enumerate(keep)}
        t = vee_findings
        with self._write() as c:
            self._lock_meter(c, meter_id)
            removal = delete(t).where(_in_window(t, meter_id, lo, hi))
            if kept:
                removal = removal.where(t.c.interval_end.not_in(sorted(kept)))
            c.execute(removal)
            fresh = [
                {"meter_id": meter_id, "interval_end": at, "check_name": check, "reason": reason}
                for (at, check), reason in rows.items()
                if at not in kept and lo < at <= hi
            ]
            if fresh:
                c.execute(insert(t), fresh)

    def vee_findings(self, *, meter_id: int, start: datetime, end: datetime) -> list[VeeFinding]:
        """VEE's findings of a meter's intervals with ``start < interval_end <= end``, by end and check."""
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = v.check_range(start, end)
        t = vee_findings
        with self._read() as c:
            rows = c.execute(
                select(t).where(_in_window(t, meter_id, lo, hi)).order_by(t.c.interval_end, t.c.check_name)
            ).all()
        return [VeeFinding(r.meter_id, r.interval_end, r.check_name, r.reason) for r in rows]
