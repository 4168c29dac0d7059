"""The VEE work list: every interval VEE flagged or estimated, and what a person did about it (issue 15).

VEE (:mod:`meshmeter.headend.vee`) marks an interval questionable (10) or fills it with an estimate
(8 reference like-day, 9 interpolation); a person then works through them. :func:`worklist` lists them
for a site (or every site the store shows: a scoped store gives only its caller's), named as people name
meters (:func:`meshmeter.services.names.meter_names`), each with the checks that fired and why
(``vee_findings``, stored by :func:`~meshmeter.headend.vee.run_vee`), the raw value, the estimate and its
method, and its state. :func:`act` does one of the three acts on one interval, each recorded in the edit
audit with who and why (``interval_edits.action``):

- **accept**: the value stands (the flagged raw value, or the estimate). It is stored again as a
  person's edit, quality 7, so that bills count it (a questionable value is not billed) and VEE leaves it
  alone afterwards;
- **edit**: a new value [Wh], quality 7 (:func:`~meshmeter.headend.vee.edit_intervals`);
- **reread**: a request to read the interval again. Nothing in the MDT or the network can ask a meter for
  past intervals today, so the request is recorded only; the interval shows "re-read requested" until new
  raw data for it arrives (then it is open again, or leaves the list once VEE passes it) or a person acts.

States: ``open`` (flagged or estimated, not acted on), ``accepted``, ``edited``, ``reread`` ("re-read
requested"). Every door (API, dashboard, ``meshmeter vee``) calls these functions (``docs/vee.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from meshmeter.headend.vee import edit_intervals
from meshmeter.intervals import Quality, zone
from meshmeter.services.names import MeterName, meter_names
from meshmeter.store.schema import WORKLIST_ACTIONS

if TYPE_CHECKING:
    from meshmeter.store import IntervalEdit, Meter, Store

__all__ = [
    "ACTIONS",
    "ESTIMATE_METHODS",
    "STATES",
    "STATE_WORDS",
    "WorkItem",
    "act",
    "worklist",
    "worklist_to_dict",
]

ACTIONS: Final = WORKLIST_ACTIONS
"""What a person may do to an interval of the list: ``accept``, ``edit``, ``reread``."""

STATE_WORDS: Final[dict[str, str]] = {
    "open": "open",
    "accepted": "accepted",
    "edited": "edited",
    "reread": "re-read requested",
}
"""Each state of an interval of the list, in words."""

STATES: Final = tuple(STATE_WORDS)
"""The states, open first (the filter's values)."""

ESTIMATE_METHODS: Final[dict[int, str]] = {
    int(Quality.ESTIMATED_INTERPOLATION): "interpolation",
    int(Quality.ESTIMATED_REFERENCE_DAY): "reference like-day",
}
"""How VEE estimated an interval, by its quality code."""

_LISTED: Final = frozenset({int(Quality.QUESTIONABLE), *ESTIMATE_METHODS})
"""Validated qualities that put an interval on the list: questionable and the two estimates."""

_NO_END: Final = "interval_end must be given"

_ALL_TIME_START: Final = datetime(2000, 1, 1, tzinfo=UTC)
"""Start of the list when none is given: before any meter of this system recorded an interval."""


@dataclass(frozen=True, slots=True)
class WorkItem:
    """
    One interval of the work list.

    Attributes
    ----------
    name : MeterName
        The meter as people name it (unit, tenant, account, site), with its serial.
    interval_end : datetime
        End of the interval, UTC.
    local_end : str
        The same in the site's local time, e.g. ``2026-01-02 14:15 PST``.
    checks : tuple of (str, str)
        Each check that fired and why, in words; ``("missing", "no value")`` for an estimated gap.
    raw_wh : int or None
        The latest raw value received; None where nothing was. [Wh]
    value_wh : int
        The value the validated view holds now. [Wh]
    quality : int
        Its ESPI quality code now.
    estimate_wh : int or None
        VEE's estimate, where it made one (kept after a person acted). [Wh]
    method : str or None
        How: ``interpolation`` or ``reference like-day``.
    state : str
        ``open``, ``accepted``, ``edited`` or ``reread`` (:data:`STATE_WORDS`).
    acted_by, acted_at, acted_reason : str, datetime, str, or None
        The latest act of a person on it: who, when, why.
    """

    name: MeterName
    interval_end: datetime
    local_end: str
    checks: tuple[tuple[str, str], ...]
    raw_wh: int | None
    value_wh: int
    quality: int
    estimate_wh: int | None
    method: str | None
    state: str
    acted_by: str | None = None
    acted_at: datetime | None = None
    acted_reason: str | None = None

    @property
    def serial(self) -> str:
        """The meter's serial."""
        return self.name.serial

    @property
    def state_words(self) -> str:
        """The state in words: ``re-read requested`` rather than ``reread``."""
        return STATE_WORDS[self.state]

    @property
    def why(self) -> str:
        """The checks in words: ``spike: 20000 Wh is more than 5× the day's third highest interval``."""
        return "; ".join(f"{check.replace('_', ' ')}: {reason}" for check, reason in self.checks)


def _local(at: datetime, timezone: str) -> str:
    local = at.astimezone(zone(timezone))
    return f"{local.strftime('%Y-%m-%d %H:%M')} {local.tzname() or ''}".strip()


def _item(
    store: Store,
    meter: Meter,
    name: MeterName,
    timezone: str,
    end: datetime,
    value: tuple[int, int] | None,
    edits: Sequence[IntervalEdit],
    checks: tuple[tuple[str, str], ...],
) -> WorkItem | None:
    """The work item of one interval, or None when it is not on the list."""
    person = [e for e in edits if e.action is not None]
    latest = person[-1] if person else None
    if value is None:
        return None
    energy, quality = value
    raw = store.raw_intervals(meter_id=meter.id, start=end - timedelta(seconds=meter.interval_s), end=end)
    raw_wh = raw[-1].energy_wh if raw else None
    if quality in _LISTED:
        state = "open"
        if latest is not None and latest.action == "reread":
            # stamps are whole seconds: data received in the second of the request counts as after it
            arrived = any(r.received_at >= latest.edited_at for r in raw)
            state = "open" if arrived else "reread"
    elif quality == Quality.EDITED and latest is not None and latest.action in ("accept", "edit"):
        state = "accepted" if latest.action == "accept" else "edited"
    else:
        return None  # passed by VEE after a re-read, or edited by another door: not on the list
    estimate_wh: int | None = None
    method: str | None = None
    if quality in ESTIMATE_METHODS:
        estimate_wh, method = energy, ESTIMATE_METHODS[quality]
    else:
        for e in person:  # the estimate a person acted on
            if e.old_quality in ESTIMATE_METHODS and e.old_energy_wh is not None:
                estimate_wh, method = e.old_energy_wh, ESTIMATE_METHODS[e.old_quality]
                break
    if not checks:  # flagged before the findings were stored (schema 10): VEE's audited reason
        vee = [e for e in edits if e.action is None and e.reason.startswith("vee: ")]
        checks = (("vee", vee[-1].reason.removeprefix("vee: ")),) if vee else ()
    return WorkItem(
        name=name,
        interval_end=end,
        local_end=_local(end, timezone),
        checks=checks,
        raw_wh=raw_wh,
        value_wh=energy,
        quality=quality,
        estimate_wh=estimate_wh,
        method=method,
        state=state,
        acted_by=None if latest is None else latest.edited_by,
        acted_at=None if latest is None else latest.edited_at,
        acted_reason=None if latest is None else latest.reason,
    )


def _meter_items(
    store: Store, meter: Meter, name: MeterName, timezone: str, start: datetime, end: datetime
) -> list[WorkItem]:
    values = {
        v.interval_end: (v.energy_wh, v.quality)
        for v in store.validated_intervals(meter_id=meter.id, start=start, end=end)
    }
    edits: dict[datetime, list[IntervalEdit]] = {}
    for e in store.interval_edits(meter_id=meter.id, start=start, end=end):
        edits.setdefault(e.interval_end, []).append(e)
    checks: dict[datetime, list[tuple[str, str]]] = {}
    for f in store.vee_findings(meter_id=meter.id, start=start, end=end):
        checks.setdefault(f.interval_end, []).append((f.check, f.reason))
    acted = {at for at, rows in edits.items() if any(e.action is not None for e in rows)}
    listed = sorted({at for at, (_, q) in values.items() if q in _LISTED} | acted)
    items = []
    for at in listed:
        item = _item(
            store, meter, name, timezone, at, values.get(at), edits.get(at, ()), tuple(checks.get(at, ()))
        )
        if item is not None:
            items.append(item)
    return items


def _check_choice(problems: list[str], name: str, value: str | None, options: Sequence[str]) -> None:
    if value is not None and value not in options:
        problems.append(f"{name} must be one of {', '.join(options)}, got {value!r}")


def worklist(
    store: Store,
    *,
    site_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    meter: str | None = None,
    check: str | None = None,
    state: str | None = None,
    now: datetime | None = None,
) -> list[WorkItem]:
    """
    The work list: every interval of ``(start, end]`` that VEE flagged or estimated, and those a person
    acted on, open ones first, then by unit and interval.

    Parameters
    ----------
    store : Store
        The store, or a scoped one (:class:`meshmeter.api.scope.ScopedStore`): its caller's sites only.
    site_id : int, optional
        One site; default every site the store shows.
    start, end : datetime, optional
        Aware; the range of interval ends; default from 2000 to ``now``.
    meter : str, optional
        One meter, by serial.
    check : str, optional
        Only intervals that this check flagged (``spike``, ``zero_run``, ``missing`` ...).
    state : str, optional
        Only intervals in this state (:data:`STATES`).
    now : datetime, optional
        The present (default now): names tenants at the list's end or now, whichever is first.

    Raises
    ------
    ValueError
        Naming every bad argument at once: an unknown site or meter, a state not in :data:`STATES`, a
        naive time, ``end`` before ``start``.
    """
    present = datetime.now(UTC) if now is None else now
    problems: list[str] = []
    _check_choice(problems, "state", state, STATES)
    for label, value in (("start", start), ("end", end)):
        if value is not None and value.utcoffset() is None:
            problems.append(f"{label} must carry a UTC offset, got {value.isoformat()}")
    lo = _ALL_TIME_START if start is None else start
    hi = present if end is None else end
    if not problems and hi <= lo:
        problems.append(f"end must be after start, got start={lo.isoformat()} end={hi.isoformat()}")
    sites = {s.id: s for s in store.sites()}
    if site_id is not None and site_id not in sites:
        problems.append(f"site {site_id} is not a known site")
    chosen = [m for m in store.meters(site_id=site_id) if meter is None or m.serial == meter]
    if meter is not None and not chosen and not (site_id is not None and site_id not in sites):
        where = f" of site {site_id}" if site_id is not None else ""
        problems.append(f"meter {meter!r} is not a meter{where}")
    if problems:
        raise ValueError("; ".join(problems))
    at = min(hi, present)
    names: dict[int, MeterName] = {}
    for sid in {m.site_id for m in chosen}:
        names.update(meter_names(store, site_id=sid, at=at))
    items: list[WorkItem] = []
    for m in chosen:
        site = sites.get(m.site_id) if m.site_id is not None else None
        timezone = site.timezone if site is not None else "UTC"
        items.extend(_meter_items(store, m, names[m.id], timezone, lo, hi))
    if check is not None:
        items = [i for i in items if any(c == check for c, _ in i.checks)]
    if state is not None:
        items = [i for i in items if i.state == state]
    order = {s: n for n, s in enumerate(STATES)}
    items.sort(key=lambda i: (order[i.state], i.name.site or "", i.name.label, i.serial, i.interval_end))
    return items


def act(
    store: Store,
    *,
    action: str,
    meter: str,
    interval_end: datetime | None,
    reason: str,
    by: str,
    value_wh: object = None,
    site_id: int | None = None,
) -> WorkItem:
    """
    Do one act of the work list on one interval, recorded in the edit audit with who and why.

    Parameters
    ----------
    action : str
        ``accept``, ``edit`` or ``reread`` (module docstring).
    meter : str
        The meter's serial.
    interval_end : datetime
        Aware; the interval's end (None: not given, refused).
    reason : str
        Why; required.
    by : str
        Who (an API caller's :attr:`~meshmeter.api.auth.Principal.recorded_as`, the command line's user).
    value_wh : int, optional
        The new value of an ``edit``: a whole number of Wh, 0 or more; given for an edit only. [Wh]
    site_id : int, optional
        The site the meter must belong to.

    Returns
    -------
    WorkItem
        The interval as the list now shows it.

    Raises
    ------
    ValueError
        Naming every problem at once (an unknown action or meter, an empty reason, a value missing,
        negative or not a whole number, an interval not on the list or not open); nothing is changed.
    """
    problems: list[str] = []
    _check_choice(problems, "action", action, ACTIONS)
    if not isinstance(reason, str) or not reason.strip():
        problems.append("reason must be given (why, in words)")
    if action == "edit":
        if value_wh is None:
            problems.append("value_wh must be given to edit an interval")
        elif isinstance(value_wh, bool) or not isinstance(value_wh, int):
            problems.append(f"value_wh must be a whole number of Wh, got {value_wh!r}")
        elif value_wh < 0:
            problems.append(f"value_wh must be 0 or more, got {value_wh!r}")
    elif value_wh is not None and action in ACTIONS:
        problems.append(f"value_wh is for edit only, not {action}")
    found = store.get_meter(serial=meter)
    if found is None or (site_id is not None and found.site_id != site_id):
        where = f" of site {site_id}" if site_id is not None else ""
        problems.append(f"meter {meter!r} is not a meter{where}")
    item: WorkItem | None = None
    if interval_end is None:
        problems.append(f"{_NO_END} (ISO 8601)")
    elif interval_end.utcoffset() is None:
        problems.append(f"interval_end must carry a UTC offset, got {interval_end.isoformat()}")
    elif found is not None and (site_id is None or found.site_id == site_id):
        end = interval_end.astimezone(UTC)
        if int(end.timestamp()) % found.interval_s:
            problems.append(f"interval_end {end.isoformat()} is not the end of one of {meter}'s intervals")
        else:
            step = timedelta(seconds=found.interval_s)
            listed = worklist(store, site_id=found.site_id, meter=meter, start=end - step, end=end, now=end)
            item = listed[0] if listed else None
            if item is None:
                problems.append(
                    f"the interval of {meter} ending {end.isoformat()} is not on the work list "
                    "(VEE neither flagged nor estimated it)"
                )
            elif action in ("accept", "reread") and item.state not in ("open", "reread"):
                problems.append(
                    f"the interval of {meter} ending {end.isoformat()} is {item.state_words} already; "
                    "edit it to change its value"
                )
    if problems or item is None or found is None:
        raise ValueError("; ".join(problems) or "nothing to do")
    why = reason.strip()
    if action == "reread":
        store.request_reread(
            meter_id=found.id, interval_ends=[item.interval_end], requested_by=by, reason=why
        )
    else:
        value = item.value_wh if action == "accept" else int(value_wh)  # type: ignore[call-overload]
        edit_intervals(
            store,
            meter_id=found.id,
            rows=[(item.interval_end, value)],
            edited_by=by,
            reason=why,
            action=action,
        )
    step = timedelta(seconds=found.interval_s)
    (after,) = worklist(
        store,
        site_id=found.site_id,
        meter=meter,
        start=item.interval_end - step,
        end=item.interval_end,
        now=item.interval_end,
    )
    return after


def worklist_to_dict(item: WorkItem) -> dict[str, Any]:
    """One work item as JSON-ready values: names first, then the interval, why, the values and state."""
    n = item.name
    return {
        "unit": n.unit,
        "label": n.label,
        "tenant": n.tenant,
        "account": n.account,
        "occupant": n.occupant,
        "site": n.site,
        "site_id": n.site_id,
        "serial": n.serial,
        "interval_end": item.interval_end.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "local_end": item.local_end,
        "checks": [{"check": c, "reason": r} for c, r in item.checks],
        "why": item.why,
        "raw_wh": item.raw_wh,
        "value_wh": item.value_wh,
        "quality": item.quality,
        "estimate_wh": item.estimate_wh,
        "method": item.method,
        "state": item.state,
        "state_words": item.state_words,
        "acted_by": item.acted_by,
        "acted_at": None if item.acted_at is None else item.acted_at.astimezone(UTC).isoformat(),
        "acted_reason": item.acted_reason,
    }
