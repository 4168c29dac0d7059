"""A meter's life, as every door records it and as bills read it (``docs/billing.md``, "A meter's life").

Recording: install, removal, exchange, multiplier and CT ratio changes by meter serial, times local to the
meter's site (a date is local midnight, a date-time without an offset local time), reads as the register
shows them: whole Wh (an ``int``, as the API takes them) or kWh as typed (a ``str`` or ``Decimal``, as the
command line takes them; to the Wh, at most three decimals). The store checks the rest in one
transaction; every problem found here is named with the others.

Billing: :func:`meter_life` finds the meters that served a meter's place over a billing period (the meter,
the one it replaced and the one that replaced it within the period), each one's part of the period, the
multiplier in force, the reads at each end and what changed; :func:`life_series` makes the one series
of the place on one grid, each interval at its meter's multiplier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import numpy as np

from meshmeter.billing.bill import MeterEvent, MeterRead
from meshmeter.billing.meterlife import (
    apply_multipliers,
    energy_from_reads,
    register_modulus_wh,
    rollover_ends,
    shown_factor,
    shown_kwh,
)
from meshmeter.errors import MeterLifeError, NothingToBillError
from meshmeter.intervals import CUMULATIVE_NONE, IntervalColumns, Quality, rollup
from meshmeter.services.tenancy import effective_instant, site_timezone
from meshmeter.store import Meter, MeterChange, Store

__all__ = [
    "LifePart",
    "MeterLife",
    "change_ct_ratio",
    "change_multiplier",
    "exchange",
    "history",
    "install",
    "kwh_to_wh",
    "life_series",
    "meter_life",
    "own_series",
    "remove",
]

_MAX_KWH = Decimal(2**62) / 1000


def kwh_to_wh(name: str, text: str | Decimal | int | float) -> int:
    """
    A register read typed in kWh, as whole Wh.

    Raises
    ------
    ValueError
        Naming ``name``: not a number, negative, or finer than a Wh (more than three decimals).
    """
    try:
        value = Decimal(str(text).strip().replace(",", "")) if not isinstance(text, Decimal) else text
    except InvalidOperation:
        raise ValueError(f"{name} must be a register read in kWh (e.g. 12345.678), got {text!r}") from None
    if not value.is_finite() or value < 0 or value > _MAX_KWH:
        raise ValueError(f"{name} must be a register read in kWh, 0 or more, got {text!r}")
    wh = value * 1000
    if wh != wh.to_integral_value():
        raise ValueError(f"{name} is a read to the Wh: at most three decimals of kWh, got {text!r}")
    return int(wh)


def _meter(store: Store, serial: str, problems: list[str], what: str = "meter") -> Meter | None:
    found = store.get_meter(serial=serial)
    if found is None:
        problems.append(f"{what} {serial!r} is not a known meter (meshmeter meter add)")
    return found


def _instant(problems: list[str], name: str, text: str, timezone: str) -> datetime | None:
    try:
        return effective_instant(name, text, timezone)
    except ValueError as exc:
        problems.append(str(exc))
        return None


Read = int | str | Decimal
"""A register read: whole Wh (int), or kWh as typed (str, Decimal)."""


def _wh(problems: list[str], name: str, value: Read | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            problems.append(f"{name}_wh must be a register read in whole Wh, 0 or more, got {value!r}")
            return None
        return value
    try:
        return kwh_to_wh(f"{name}_kwh", value)
    except ValueError as exc:
        problems.append(str(exc))
        return None


def install(
    store: Store,
    *,
    meter: str,
    at: str,
    first_read: Read,
    unit_id: int | None = None,
    by: str | None = None,
) -> MeterChange:
    """Record a meter's install (:meth:`Store.install_meter`); ``at`` local to its site."""
    problems: list[str] = []
    found = _meter(store, meter, problems)
    tz = site_timezone(store, None if found is None else found.site_id)
    instant = _instant(problems, "at", at, tz)
    read = _wh(problems, "first_read", first_read)
    if found is None or instant is None:
        raise MeterLifeError(problems, unknown=found is None)
    return store.install_meter(
        meter_id=found.id, at=instant, first_read_wh=read, unit_id=unit_id, by=by, given_problems=problems
    )


def remove(store: Store, *, meter: str, at: str, final_read: Read, by: str | None = None) -> MeterChange:
    """Record a meter's removal (:meth:`Store.remove_meter`); ``at`` local to its site."""
    problems: list[str] = []
    found = _meter(store, meter, problems)
    tz = site_timezone(store, None if found is None else found.site_id)
    instant = _instant(problems, "at", at, tz)
    read = _wh(problems, "final_read", final_read)
    if found is None or instant is None:
        raise MeterLifeError(problems, unknown=found is None)
    return store.remove_meter(
        meter_id=found.id, at=instant, final_read_wh=read, by=by, given_problems=problems
    )


def exchange(
    store: Store,
    *,
    old: str,
    new: str,
    at: str,
    final_read: Read,
    first_read: Read,
    by: str | None = None,
) -> tuple[MeterChange, MeterChange]:
    """Exchange meter ``old`` for meter ``new`` at ``at``, local to the old meter's site
    (:meth:`Store.exchange_meter`): every problem named at once, nothing stored when there is one."""
    problems: list[str] = []
    found_old = _meter(store, old, problems, "old meter")
    found_new = _meter(store, new, problems, "new meter")
    site_id = found_old.site_id if found_old is not None else None if found_new is None else found_new.site_id
    instant = _instant(problems, "at", at, site_timezone(store, site_id))
    final = _wh(problems, "final_read", final_read)
    first = _wh(problems, "first_read", first_read)
    for found in (found_old, found_new):
        problems.extend(_export_problems(store, found))
    if found_old is None or found_new is None or instant is None:
        raise MeterLifeError(problems, unknown=found_old is None or found_new is None)
    return store.exchange_meter(
        old_meter_id=found_old.id,
        new_meter_id=found_new.id,
        at=instant,
        final_read_wh=final,
        first_read_wh=first,
        by=by,
        given_problems=problems,
    )


def _export_problems(store: Store, meter: Meter | None) -> list[str]:
    """Why a meter that exports cannot be exchanged yet: an exchange of a bidirectional meter would have
    to exchange its export register with it, which is not built (``docs/billing.md``, "Exports from the
    store")."""
    if meter is None:
        return []
    if meter.export_of_meter_id is not None:
        return [
            f"meter {meter.serial!r} is an export register: exchanging a meter that exports is not"
            " supported yet"
        ]
    found = store.export_register(meter_id=meter.id)
    if found is not None:
        return [
            f"meter {meter.serial!r} has an export register ({found.serial!r}): exchanging a meter that"
            " exports is not supported yet"
        ]
    return []


def _value_change(
    store: Store, kind: str, meter: str, at: str, value: float, read: Read | None, by: str | None
) -> MeterChange:
    problems: list[str] = []
    found = _meter(store, meter, problems)
    instant = _instant(problems, "at", at, site_timezone(store, None if found is None else found.site_id))
    read_wh = _wh(problems, "read", read)
    if found is None or instant is None:
        raise MeterLifeError(problems, unknown=found is None)
    if kind == "multiplier":
        return store.change_meter_multiplier(
            meter_id=found.id, at=instant, multiplier=value, read_wh=read_wh, by=by, given_problems=problems
        )
    return store.change_meter_ct_ratio(
        meter_id=found.id, at=instant, ct_ratio=value, read_wh=read_wh, by=by, given_problems=problems
    )


def change_multiplier(
    store: Store,
    *,
    meter: str,
    at: str,
    multiplier: float,
    read: Read | None = None,
    by: str | None = None,
) -> MeterChange:
    """Change a meter's multiplier from ``at`` on (:meth:`Store.change_meter_multiplier`)."""
    return _value_change(store, "multiplier", meter, at, multiplier, read, by)


def change_ct_ratio(
    store: Store,
    *,
    meter: str,
    at: str,
    ct_ratio: float,
    read: Read | None = None,
    by: str | None = None,
) -> MeterChange:
    """Change a meter's CT ratio from ``at`` on (:meth:`Store.change_meter_ct_ratio`)."""
    return _value_change(store, "ct_ratio", meter, at, ct_ratio, read, by)


def history(store: Store, *, meter: str) -> tuple[Meter, list[MeterChange]]:
    """A meter and its changes, by time: its own and the install that replaced it (an exchange)."""
    problems: list[str] = []
    found = _meter(store, meter, problems)
    if found is None:
        raise MeterLifeError(problems, unknown=True)
    own = store.meter_changes(meter_id=found.id)
    replaced_by = store.meter_changes(replaces_meter_id=found.id)
    return found, sorted([*own, *replaced_by], key=lambda c: (c.at, c.id))


# -- billing ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LifePart:
    """One meter's part of a billing period, ``(start, end]``, and its multipliers there."""

    meter: Meter
    start: datetime
    end: datetime
    multipliers: tuple[tuple[datetime | None, float], ...]
    """``(from, multiplier)`` in time order: intervals ending after ``from`` take it (None: from the
    start)."""
    install: MeterChange | None = None
    """The install at ``start``, when the meter was installed then."""
    removal: MeterChange | None = None
    """The removal at ``end``, when the meter was removed then."""
    changes: tuple[MeterChange, ...] = ()
    """The multiplier and CT ratio changes of the meter within the part."""


@dataclass(frozen=True)
class MeterLife:
    """What served a meter's place over a billing period (:func:`meter_life`)."""

    parts: tuple[LifePart, ...]
    events: tuple[MeterChange, ...]
    """The changes of these meters within ``(start, end]``, by time."""
    service_start: datetime | None
    """The first part's start when it is after the period's (an install): the service starts then."""
    service_end: datetime | None
    """The last part's end when it is before the period's (a removal): the service ends then."""
    replaced: dict[int, int] = field(default_factory=dict)
    """New meter id -> the meter it replaced, for the exchanges within the period."""

    @property
    def simple(self) -> bool:
        """One meter over the whole period at one multiplier of 1, nothing changed: billed as before."""
        return (
            len(self.parts) == 1
            and not self.events
            and self.service_start is None
            and self.service_end is None
            and [m for _, m in self.parts[0].multipliers] == [1.0]
        )

    @property
    def last_meter(self) -> Meter:
        """The meter serving at the end of the period: the bill is printed under its serial."""
        return self.parts[-1].meter


def _windows(changes: list[MeterChange]) -> list[tuple[MeterChange | None, MeterChange | None]]:
    """A meter's times in service, as (install, removal) pairs; None: before the history, or still in."""
    out: list[tuple[MeterChange | None, MeterChange | None]] = []
    opened: MeterChange | None = None
    seen = False
    for c in changes:
        if c.kind == "install":
            opened, seen = c, True
        elif c.kind == "remove":
            out.append((opened, c))
            opened, seen = None, True
    if opened is not None or not seen:
        out.append((opened, None))
    return out


def _multipliers(meter: Meter, changes: list[MeterChange]) -> list[tuple[datetime | None, float]]:
    steps = [c for c in changes if c.kind == "multiplier" and c.value is not None]
    if not steps:
        return [(None, float(meter.multiplier))]
    before = steps[0].detail.get("from")
    first = float(before) if isinstance(before, int | float) else float(meter.multiplier)
    return [(None, first), *((c.at, float(c.value or 1.0)) for c in steps)]


def meter_life(store: Store, meter: Meter, start: datetime, end: datetime) -> MeterLife:
    """
    The meters that served ``meter``'s place over ``(start, end]``: the meter, the ones it replaced and
    the ones that replaced it by exchanges within the period, each one's part of the period (its time in
    service), its multipliers, and the changes to show.

    Raises
    ------
    NothingToBillError
        When none of them was in service in the period (removed before it, installed after it).
    """
    chain: list[Meter] = [meter]
    replaced: dict[int, int] = {}
    changes: dict[int, list[MeterChange]] = {meter.id: store.meter_changes(meter_id=meter.id)}
    cur = meter
    while True:  # back through exchanges within the period
        inst = [
            c
            for c in changes[cur.id]
            if c.kind == "install" and c.replaces_meter_id is not None and start < c.at < end
        ]
        prev = None if not inst else store.get_meter(meter_id=inst[-1].replaces_meter_id or 0)
        if prev is None or prev.id in changes:
            break
        replaced[cur.id] = prev.id
        changes[prev.id] = store.meter_changes(meter_id=prev.id)
        chain.insert(0, prev)
        cur = prev
    cur = meter
    while True:  # forward
        later = [
            c
            for c in store.meter_changes(replaces_meter_id=cur.id)
            if c.kind == "install" and start < c.at < end
        ]
        nxt = None if not later else store.get_meter(meter_id=later[0].meter_id)
        if nxt is None or nxt.id in changes:
            break
        replaced[nxt.id] = cur.id
        changes[nxt.id] = store.meter_changes(meter_id=nxt.id)
        chain.append(nxt)
        cur = nxt
    parts: list[LifePart] = []
    for m in chain:
        own = changes[m.id]
        for opened, rem in _windows(own):
            lo = start if opened is None or opened.at <= start else opened.at
            hi = end if rem is None or rem.at >= end else rem.at
            if lo >= hi:
                continue
            within = tuple(c for c in own if c.kind in ("multiplier", "ct_ratio") and lo < c.at < hi)
            parts.append(
                LifePart(
                    m,
                    lo,
                    hi,
                    tuple(_multipliers(m, own)),
                    opened if opened is not None and opened.at == lo else None,
                    rem if rem is not None and rem.at == hi else None,
                    within,
                )
            )
    if not parts:
        raise NothingToBillError(
            f"meter {meter.serial!r} was not in service in the period "
            f"(meshmeter meter history {meter.serial})"
        )
    parts.sort(key=lambda p: p.start)
    events = sorted(
        (c for m in chain for c in changes[m.id] if start < c.at <= end),
        key=lambda c: (c.at, c.kind != "remove", c.id),
    )
    return MeterLife(
        tuple(parts),
        tuple(events),
        parts[0].start if parts[0].start > start else None,
        parts[-1].end if parts[-1].end < end else None,
        replaced,
    )


def life_series(store: Store, life: MeterLife) -> IntervalColumns:
    """
    The place's intervals over the parts of ``life``: each meter's validated view over its part, at the
    multiplier in force at each interval's end (:func:`~meshmeter.billing.meterlife.apply_multipliers`),
    on one grid (the longest interval length of the meters, rolled up exactly).

    Raises
    ------
    NothingToBillError
        When no interval of any part is validated yet.
    """
    length = max(p.meter.interval_s for p in life.parts)
    ends, energy, quality = [], [], []
    stored = raw = 0
    for p in life.parts:
        view = store.interval_view(meter_id=p.meter.id, start=p.start, end=p.end)
        stored += len(view)
        raw += int(np.count_nonzero(view.quality == int(Quality.RAW)))
        scaled = apply_multipliers(
            view.interval_end_s,
            view.energy_wh,
            multipliers=[(None if t is None else int(t.timestamp()), m) for t, m in p.multipliers],
        )
        cols = IntervalColumns(view.interval_end_s, scaled, view.quality, view.interval_s)
        if view.interval_s != length:
            cols = rollup(cols, length)
        ends.append(cols.interval_end_s)
        energy.append(cols.energy_wh)
        quality.append(cols.quality)
    out = IntervalColumns(
        np.concatenate(ends).astype(np.int64),
        np.concatenate(energy).astype(np.int64),
        np.concatenate(quality).astype(np.int64),
        length,
    )
    if not out.billed().any():
        serials = ", ".join(repr(p.meter.serial) for p in life.parts)
        raise NothingToBillError(
            f"meter {serials} has no validated intervals in the period; run meshmeter vee "
            f"({stored} intervals stored, {raw} of them not yet validated)"
        )
    return out


def own_series(store: Store, meter: Meter, start: datetime, end: datetime) -> IntervalColumns:
    """
    One meter's validated view of ``(start, end]`` cut to its time in service (its installs and removals)
    and at the multiplier in force at each interval's end: what it measured for its place, alone (a
    Maryland allocation shares by it). With no change recorded and a multiplier of 1, the view itself.
    """
    view = store.interval_view(meter_id=meter.id, start=start, end=end)
    changes = store.meter_changes(meter_id=meter.id)
    if not changes and meter.multiplier == 1.0:
        return view
    keep = np.zeros(len(view), dtype=np.bool_)
    for opened, removed in _windows(changes):
        lo = -(2**62) if opened is None else int(opened.at.timestamp())
        hi = 2**62 if removed is None else int(removed.at.timestamp())
        keep |= (view.interval_end_s > lo) & (view.interval_end_s <= hi)
    ends = view.interval_end_s[keep]
    scaled = apply_multipliers(
        ends,
        view.energy_wh[keep],
        multipliers=[(None if t is None else int(t.timestamp()), m) for t, m in _multipliers(meter, changes)],
    )
    return IntervalColumns(ends, scaled, view.quality[keep], view.interval_s)


def _stored_read(store: Store, meter: Meter, at: datetime) -> int | None:
    reads = store.register_reads(
        meter_id=meter.id, start=datetime.fromtimestamp(at.timestamp() - 1, UTC), end=at
    )
    return reads[-1].energy_wh if reads else None


def _counter_at(store: Store, meter: Meter, at: datetime) -> int | None:
    """The intervals' counter at ``at``, as the register shows it: the counter of the interval ending
    then, else that of the interval after less its energy."""
    step = meter.interval_s
    t = int(at.timestamp())
    view = store.interval_view(
        meter_id=meter.id,
        start=datetime.fromtimestamp(t - step, UTC),
        end=datetime.fromtimestamp(t + step, UTC),
        cumulative=True,
    )
    value: int | None = None
    if view.cumulative_wh is not None:
        for end_s, energy, counter in zip(
            view.interval_end_s.tolist(), view.energy_wh.tolist(), view.cumulative_wh.tolist(), strict=True
        ):
            if counter == CUMULATIVE_NONE:
                continue
            if end_s == t:
                value = int(counter)
                break
            if end_s == t + step and counter >= energy:
                value = int(counter - energy)
    if value is None:
        return None
    modulus = register_modulus_wh(meter.register_digits)
    return value if modulus is None else value % modulus


def life_reads(
    store: Store, life: MeterLife, *, opening_read_wh: int | None = None
) -> tuple[tuple[MeterRead, ...], tuple[MeterEvent, ...]]:
    """
    The reads of each meter over its part (split where its multiplier changed) and what changed in the
    period, in words (:class:`~meshmeter.billing.bill.MeterRead`,
    :class:`~meshmeter.billing.bill.MeterEvent`).

    Parameters
    ----------
    opening_read_wh : int, optional
        The opening read given for the bill: the first part's, before anything stored. [Wh]
    """
    reads: list[MeterRead] = []
    shown: list[MeterEvent] = []
    for k, p in enumerate(life.parts):
        m = p.meter
        modulus = register_modulus_wh(m.register_digits)
        cuts = [p.start, *(t for t, _ in p.multipliers if t is not None and p.start < t < p.end), p.end]
        steps = {c.at: c for c in p.changes if c.kind == "multiplier"}
        for j in range(len(cuts) - 1):
            lo, hi = cuts[j], cuts[j + 1]
            factor = next(f for t, f in reversed(p.multipliers) if t is None or t <= lo)
            opening: tuple[int | None, str]
            if j == 0 and p.install is not None:
                opening = (p.install.read_wh, "install")
            elif j > 0 and lo in steps and steps[lo].read_wh is not None:
                opening = (steps[lo].read_wh, "change")
            elif j == 0 and k == 0 and opening_read_wh is not None:
                opening = (opening_read_wh, "given")
            else:
                opening = _read_at(store, m, lo)
            closing: tuple[int | None, str]
            if j == len(cuts) - 2 and p.removal is not None:
                closing = (p.removal.read_wh, "removal")
            elif hi in steps and steps[hi].read_wh is not None:
                closing = (steps[hi].read_wh, "change")
            else:
                closing = _read_at(store, m, hi)
            if closing[0] is None and opening[0] is not None:
                # No read and no counter at the end: the opening read plus the part's billed intervals,
                # in register units (before the multiplier), said as computed from the intervals.
                part = store.interval_view(meter_id=m.id, start=lo, end=hi)
                used = int(part.energy_wh[part.billed()].sum())
                register = opening[0] + round(used / factor)
                closing = (register if modulus is None else register % modulus, "computed")
            energy = None
            if opening[0] is not None and closing[0] is not None:
                try:
                    energy = energy_from_reads(opening[0], closing[0], multiplier=factor, modulus_wh=modulus)
                except ValueError:
                    energy = None
            reads.append(
                MeterRead(m.serial, lo, hi, opening[0], closing[0], opening[1], closing[1], factor, energy)
            )
            if modulus is not None:
                view = store.interval_view(
                    meter_id=m.id,
                    start=datetime.fromtimestamp(lo.timestamp() - m.interval_s, UTC),
                    end=hi,
                    cumulative=True,
                )
                found = (
                    rollover_ends(view.interval_end_s, view.cumulative_wh, modulus_wh=modulus)
                    if view.cumulative_wh is not None
                    else np.zeros(0, dtype=np.int64)
                )
                at_ends = [datetime.fromtimestamp(int(t), UTC) for t in found]
                if (
                    not at_ends
                    and opening[0] is not None
                    and closing[0] is not None
                    and closing[0] < opening[0]
                ):
                    at_ends = [hi]
                for when in at_ends:
                    shown.append(
                        MeterEvent(
                            when,
                            m.serial,
                            "rollover",
                            f"Register of meter {m.serial} rolled over to 0 after {shown_kwh(modulus - 1)} "
                            f"({m.register_digits} digits)",
                        )
                    )
    serials = {p.meter.id: p.meter.serial for p in life.parts}
    installs = {
        (c.replaces_meter_id, c.at): c for c in life.events if c.kind == "install" and c.replaces_meter_id
    }
    events = list(life.events)
    for c in life.events:  # an exchange at the period's end: the install that follows it, to say so
        if c.kind == "remove" and (c.meter_id, c.at) not in installs:
            for later in store.meter_changes(replaces_meter_id=c.meter_id):
                if later.kind == "install" and later.at == c.at:
                    installs[(c.meter_id, c.at)] = later
                    events.append(later)
    for c in sorted(events, key=lambda e: (e.at, e.id)):
        serial = serials.get(c.meter_id) or _serial(store, c.meter_id)
        read = "unknown" if c.read_wh is None else shown_kwh(c.read_wh)
        if c.kind == "remove" and (c.meter_id, c.at) in installs:
            continue  # shown with the install of the exchange
        if c.kind == "install" and c.replaces_meter_id is not None:
            old = serials.get(c.replaces_meter_id) or _serial(store, c.replaces_meter_id)
            removal = next(
                (
                    e
                    for e in events
                    if e.kind == "remove" and e.meter_id == c.replaces_meter_id and e.at == c.at
                ),
                None,
            )
            final = "unknown" if removal is None or removal.read_wh is None else shown_kwh(removal.read_wh)
            text = (
                f"Meter {old} exchanged for meter {serial}: final read of {old} {final}, "
                f"first read of {serial} {read}"
            )
            shown.append(MeterEvent(c.at, serial, "exchange", text))
        elif c.kind == "install":
            shown.append(MeterEvent(c.at, serial, "install", f"Meter {serial} installed, first read {read}"))
        elif c.kind == "remove":
            shown.append(MeterEvent(c.at, serial, "remove", f"Meter {serial} removed, final read {read}"))
        else:
            what = "Multiplier" if c.kind == "multiplier" else "CT ratio"
            before = c.detail.get("from")
            was = "" if not isinstance(before, int | float) else f" from {shown_factor(float(before))}"
            now = shown_factor(float(c.value or 0))
            tail = f", read {read}" if c.read_wh is not None else ""
            shown.append(
                MeterEvent(c.at, serial, c.kind, f"{what} of meter {serial} changed{was} to {now}{tail}")
            )
    shown.sort(key=lambda e: e.at)
    return tuple(reads), tuple(shown)


def _read_at(store: Store, meter: Meter, at: datetime) -> tuple[int | None, str]:
    stored = _stored_read(store, meter, at)
    if stored is not None:
        return stored, "stored"
    counter = _counter_at(store, meter, at)
    if counter is not None:
        return counter, "intervals"
    return None, "none"


def _serial(store: Store, meter_id: int) -> str:
    found = store.get_meter(meter_id=meter_id)
    return str(meter_id) if found is None else found.serial
