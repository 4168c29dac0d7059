"""Ingest, then validate: data in by any door, and VEE over what it touched, so it is billable at once.

``meshmeter ingest FILE --vee`` and ``POST /intervals?vee=true`` call :func:`validate_ingested` after the
head-end's ingest (:mod:`meshmeter.headend.ingest`, :mod:`meshmeter.headend.mapping`) has stored the rows:
VEE runs over each meter's intervals from the first to the last one taken, at the meter's own length,
exactly as ``meshmeter vee`` over that period would (``docs/vee.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from meshmeter.errors import NotFoundError
from meshmeter.headend.ingest import IngestResult
from meshmeter.headend.vee import VeeReport, run_vee
from meshmeter.store import Meter, Store

__all__ = ["ValidatedSpan", "validate_ingested"]


@dataclass(frozen=True)
class ValidatedSpan:
    """VEE over the intervals one ingest touched of one meter."""

    meter: Meter
    report: VeeReport


def _meter(store: Store, key: int | str) -> Meter:
    found = store.get_meter(meter_id=key) if isinstance(key, int) else store.get_meter(serial=key)
    if found is None:
        raise NotFoundError("meter", key)
    return found


def validate_ingested(
    store: Store, spans: IngestResult | Mapping[int | str, tuple[int, int]], *, ran_by: str = "vee"
) -> list[ValidatedSpan]:
    """
    Run VEE over the intervals an ingest touched, meter by meter.

    Parameters
    ----------
    store : Store
        The store the rows went into.
    spans : IngestResult or mapping
        The ingest's result (its ``spans``), or meter (id or serial) → first and last interval end [s].
    ran_by : str, optional
        Who, for VEE's record and audit.

    Returns
    -------
    list of ValidatedSpan
        One per meter, by meter id. Each covers ``(first_end - interval_s, last_end]`` on the meter's grid.
    """
    items = spans.spans if isinstance(spans, IngestResult) else spans
    found = sorted(((_meter(store, key), span) for key, span in items.items()), key=lambda m: m[0].id)
    out = []
    for meter, (first_s, last_s) in found:
        step = meter.interval_s
        start = datetime.fromtimestamp((first_s - step) // step * step, UTC)
        end = datetime.fromtimestamp(-(-last_s // step) * step, UTC)
        out.append(
            ValidatedSpan(meter, run_vee(store, meter_id=meter.id, start=start, end=end, edited_by=ran_by))
        )
    return out
