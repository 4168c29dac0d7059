"""Sources of real readings, their channels, and the collector's durable position (``docs/collect.md``).

A *source* is how the head-end reaches real devices of a site: an MQTT broker (pulse counters,
rtlamr2mqtt), a Modbus TCP or RTU device, rtlamr's JSON lines. A *channel* maps one register of one of its
devices to one meter row, with the units of its readings, and keeps where its readings stand
(:class:`meshmeter.collect.readings.ChannelState`, as JSON).

:meth:`SourcesMixin.record_collected` writes what one channel's readings made in one transaction: the raw
intervals, the marks of the apportioned ones, the events (resets, roll-overs, gaps), the channel's new
position and the source's health. A collector killed at any moment has written all of it or none of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from meshmeter.store import _validate as v
from meshmeter.store.base import _now
from meshmeter.store.models import RawInsertResult
from meshmeter.store.raw import RawIntervalsMixin
from meshmeter.store.schema import (
    ENERGY_UNIT_WH,
    READING_UNITS,
    SOURCE_KINDS,
    apportioned_intervals,
    events,
    meters,
    sites,
    source_channels,
    sources,
)
from meshmeter.store.types import epoch_s, from_epoch_s

__all__ = ["CollectedRows", "Source", "SourceChannel", "SourcesMixin"]


@dataclass(frozen=True, slots=True)
class Source:
    """
    A source of real readings of a site, with its health.

    Attributes
    ----------
    id : int
    site_id : int
    name : str
        Unique within the site.
    kind : str
        ``"mqtt"``, ``"modbus_tcp"``, ``"modbus_rtu"`` or ``"rtlamr"``
        (:data:`~meshmeter.store.schema.SOURCE_KINDS`).
    format : str
        The payload format (``"esphome_pulse_meter"``, ``"tasmota_counter"``, ``"shelly_gen2"`` ...), the
        register map (``"sunspec"``, ``"eastron_sdm630mct"`` ...) or ``"rtlamr"``.
    address : str
        The broker URL, ``host:port``, the serial port, the file, or ``"-"`` (standard input).
    settings : dict
        What the kind adds, as JSON: a topic, a Modbus unit ID, a baud rate, a poll period ...
    enabled : bool
    created_at : datetime
    last_reading_at : datetime or None
        When the collector last took a reading of it.
    last_error : str or None
        The last error, in words (cleared by nothing: compare ``last_error_at`` with ``last_reading_at``).
    last_error_at : datetime or None
    readings : int
        Readings taken.
    rejected : dict of str to int
        Messages and readings refused, by reason (:class:`meshmeter.collect.readings.Rejection`).
    """

    id: int
    site_id: int
    name: str
    kind: str
    format: str
    address: str
    settings: dict[str, Any]
    enabled: bool
    created_at: datetime
    last_reading_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    readings: int
    rejected: dict[str, int]


@dataclass(frozen=True, slots=True)
class SourceChannel:
    """
    One register of a source's device, mapped to one meter row.

    Attributes
    ----------
    id : int
    source_id : int
    device : str
        The device's ID as the source names it (an ESPHome node, a Modbus unit ID, an rtlamr meter ID).
    channel : str
        The register on the device (``"total"``, ``"C1"``, ``"import"``, ``"export"``, ``"consumption"``).
    meter_id : int
        The meter row its readings feed (one channel per meter).
    unit : str
        ``"pulse"``, ``"count"``, ``"Wh"``, ``"kWh"`` or ``"MWh"``.
    wh_per_unit : Decimal
        Energy of one unit [Wh]: 10 for the Mini Meter's output "10" (manual §3.2).
    modulus : Decimal or None
        The register rolls over at this many units; None: never.
    resets : bool
        A drop of the count is a restart at 0 (a pulse counter's boot).
    max_apportion_s : int
        Longest time between readings apportioned over. [s]
    state : dict or None
        The channel's position (:meth:`meshmeter.collect.readings.ChannelState.to_json`); None before
        its first reading.
    """

    id: int
    source_id: int
    device: str
    channel: str
    meter_id: int
    unit: str
    wh_per_unit: Decimal
    modulus: Decimal | None
    resets: bool
    max_apportion_s: int
    state: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class CollectedRows:
    """
    What one channel's readings made, to store in one transaction (:meth:`SourcesMixin.record_collected`).

    Attributes
    ----------
    interval_end_s, energy_wh, cumulative_wh : list of int
        The intervals closed, by end on the meter's grid. [s], [Wh], [Wh]
    apportioned : list of bool
        Which of them were apportioned between readings.
    events : list of (kind, at, detail)
        Resets, roll-overs and gaps seen, for the meter's events.
    readings : int
        Readings taken (accepted).
    last_reading_at : datetime or None
        When the last of them held.
    """

    interval_end_s: Sequence[int]
    energy_wh: Sequence[int]
    cumulative_wh: Sequence[int]
    apportioned: Sequence[bool]
    events: Sequence[tuple[str, datetime, Mapping[str, Any]]] = ()
    readings: int = 0
    last_reading_at: datetime | None = None


def _insert_channel(c: Connection, source_id: int, site_id: int, spec: Mapping[str, Any], where: str) -> int:
    """Check one channel's mapping against the store and insert it; ``ValueError`` naming every problem
    (each prefixed with ``where``, such as ``"channels[1]: "``)."""
    problems: list[str] = []
    values: dict[str, object] = {"source_id": source_id}
    for key in ("device", "channel"):
        try:
            values[key] = v.check_text(key, spec.get(key))
        except ValueError as error:
            problems.append(str(error))
    meter_id: int | None = None
    try:
        meter_id = v.check_id("meter_id", spec.get("meter_id"))
    except ValueError as error:
        problems.append(str(error))
    values["meter_id"] = meter_id
    unit = spec.get("unit")
    try:
        values["unit"] = v.check_choice("unit", unit, READING_UNITS)
    except ValueError as error:
        problems.append(str(error))
    given = spec.get("wh_per_unit")
    if isinstance(unit, str) and unit in ENERGY_UNIT_WH:
        values["wh_per_unit"] = str(ENERGY_UNIT_WH[unit])
        try:
            if given is not None and _positive_decimal("wh_per_unit", given) != ENERGY_UNIT_WH[unit]:
                problems.append(
                    f"wh_per_unit of a channel in {unit} is {ENERGY_UNIT_WH[unit]}, got {given!r} "
                    "(the meter's multiplier is applied when billing)"
                )
        except ValueError as error:
            problems.append(str(error))
    elif given is None:
        problems.append(f"wh_per_unit is required for a channel in {unit!r}: the energy of one unit [Wh]")
    else:
        try:
            values["wh_per_unit"] = str(_positive_decimal("wh_per_unit", given))
        except ValueError as error:
            problems.append(str(error))
    modulus = spec.get("modulus")
    try:
        values["modulus"] = None if modulus is None else str(_positive_decimal("modulus", modulus))
    except ValueError as error:
        problems.append(str(error))
    resets = spec.get("resets", False)
    if not isinstance(resets, bool):
        problems.append(f"resets must be true or false, got {resets!r}")
    values["resets"] = bool(resets)
    length = spec.get("max_apportion_s", 3600)
    if isinstance(length, bool) or not isinstance(length, int) or length <= 0:
        problems.append(f"max_apportion_s must be a positive whole number of seconds, got {length!r}")
        length = 0
    values["max_apportion_s"] = length
    if meter_id is not None:
        meter = c.execute(
            select(meters.c.site_id, meters.c.interval_s, meters.c.serial).where(meters.c.id == meter_id)
        ).first()
        if meter is None:
            problems.append(f"meter_id {meter_id} is not a known meter")
        else:
            if meter.site_id != site_id:
                problems.append(f"meter {meter.serial!r} is not of the source's site")
            if 0 < length < meter.interval_s:
                problems.append(
                    f"max_apportion_s must be at least the meter's interval ({meter.interval_s} s), "
                    f"got {length}"
                )
            taken = c.execute(
                select(source_channels.c.id).where(source_channels.c.meter_id == meter_id)
            ).first()
            if taken is not None:
                problems.append(f"meter {meter.serial!r} is fed by a channel already (channel {taken.id})")
    if problems:
        raise ValueError("; ".join(where + p for p in problems))
    try:
        return int(
            c.execute(insert(source_channels).values(**values).returning(source_channels.c.id)).scalar_one()
        )
    except IntegrityError:
        raise ValueError(
            f"{where}the source maps {values['device']!r}/{values['channel']!r} already"
        ) from None


def _source(r: Any) -> Source:
    return Source(
        id=int(r.id),
        site_id=int(r.site_id),
        name=r.name,
        kind=r.kind,
        format=r.format,
        address=r.address,
        settings=dict(r.settings or {}),
        enabled=bool(r.enabled),
        created_at=r.created_at,
        last_reading_at=r.last_reading_at,
        last_error=r.last_error,
        last_error_at=r.last_error_at,
        readings=int(r.readings),
        rejected={str(k): int(n) for k, n in (r.rejected or {}).items()},
    )


def _channel(r: Any) -> SourceChannel:
    return SourceChannel(
        id=int(r.id),
        source_id=int(r.source_id),
        device=r.device,
        channel=r.channel,
        meter_id=int(r.meter_id),
        unit=r.unit,
        wh_per_unit=Decimal(r.wh_per_unit),
        modulus=None if r.modulus is None else Decimal(r.modulus),
        resets=bool(r.resets),
        max_apportion_s=int(r.max_apportion_s),
        state=None if r.state is None else dict(r.state),
    )


def _positive_decimal(name: str, value: object) -> Decimal:
    """A positive finite decimal from a number or its text; a bool is none."""
    try:
        number = Decimal(str(value)) if not isinstance(value, bool) else Decimal("nan")
    except (InvalidOperation, ValueError):
        number = Decimal("nan")
    if not (number.is_finite() and number > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return number


class SourcesMixin(RawIntervalsMixin):
    """Sources of real readings, their channels, and what the collector stores."""

    def create_source(
        self,
        *,
        site_id: int,
        name: str,
        kind: str,
        format: str,
        address: str,
        settings: Mapping[str, Any] | None = None,
        enabled: bool = True,
        channels: Sequence[Mapping[str, Any]] = (),
    ) -> Source:
        """
        Add a source to a site, with its channels, in one transaction.

        Parameters
        ----------
        site_id : int
            The site, which must exist.
        name : str
            Unique within the site.
        kind : str
            One of :data:`~meshmeter.store.schema.SOURCE_KINDS`.
        format : str
            The payload format or register map (checked by :mod:`meshmeter.collect`, not here).
        address : str
            Broker URL, ``host:port``, serial port, file, or ``"-"``.
        settings : mapping, optional
            JSON settings of the kind.
        enabled : bool, optional
        channels : sequence of mapping, optional
            Its channels, each with the arguments of :meth:`add_source_channel` (``device``, ``channel``,
            ``meter_id``, ``unit`` ...).

        Raises
        ------
        ValueError
            A bad argument, an unknown site, a name the site has already, a bad channel (every problem of
            every channel named); nothing is stored.
        """
        site_id = v.check_id("site_id", site_id)
        name = v.check_text("name", name)
        kind = v.check_choice("kind", kind, SOURCE_KINDS)
        format = v.check_text("format", format)
        address = v.check_text("address", address)
        if settings is not None and not isinstance(settings, Mapping):
            raise ValueError(f"settings must be a mapping, got {settings!r}")
        body: dict[str, Any] = v.check_json("settings", dict(settings or {}))
        if not isinstance(enabled, bool):
            raise ValueError(f"enabled must be a bool, got {enabled!r}")
        values = {
            "site_id": site_id,
            "name": name,
            "kind": kind,
            "format": format,
            "address": address,
            "settings": body,
            "enabled": enabled,
            "created_at": _now(),
            "readings": 0,
            "rejected": {},
        }
        with self._write() as c:
            self._require(c, sites, site_id, "site_id", "site")
            try:
                source_id = c.execute(insert(sources).values(**values).returning(sources.c.id)).scalar_one()
            except IntegrityError:
                raise ValueError(f"site {site_id} has a source named {name!r} already") from None
            problems: list[str] = []
            for k, spec in enumerate(channels):
                try:
                    _insert_channel(c, int(source_id), site_id, spec, f"channels[{k}]: ")
                except ValueError as error:
                    problems.append(str(error))
            if problems:
                raise ValueError("; ".join(problems))
            row = c.execute(select(sources).where(sources.c.id == source_id)).one()
        return _source(row)

    def update_source(self, *, source_id: int, **changes: object) -> Source:
        """
        Change a source's ``name``, ``format``, ``address``, ``settings`` or ``enabled``.

        Raises
        ------
        ValueError
            Naming every bad or unknown setting at once; nothing is changed.
        """
        source_id = v.check_id("source_id", source_id)
        allowed = ("name", "format", "address", "settings", "enabled")
        problems = [
            f"{k!r} is not a setting of a source (allowed: {', '.join(allowed)})"
            for k in changes
            if k not in allowed
        ]
        values: dict[str, object] = {}
        for key, value in changes.items():
            if key not in allowed:
                continue
            try:
                if key == "settings":
                    if not isinstance(value, Mapping):
                        raise ValueError(f"settings must be a mapping, got {value!r}")
                    values[key] = v.check_json("settings", dict(value))
                elif key == "enabled":
                    if not isinstance(value, bool):
                        raise ValueError(f"enabled must be a bool, got {value!r}")
                    values[key] = value
                else:
                    values[key] = v.check_text(key, value)
            except ValueError as error:
                problems.append(str(error))
        if problems:
            raise ValueError("; ".join(problems))
        with self._write() as c:
            self._require(c, sources, source_id, "source_id", "source")
            if values:
                try:
                    c.execute(update(sources).where(sources.c.id == source_id).values(**values))
                except IntegrityError:
                    raise ValueError(f"the site has a source named {values.get('name')!r} already") from None
            row = c.execute(select(sources).where(sources.c.id == source_id)).one()
        return _source(row)

    def get_source(
        self, *, source_id: int | None = None, site_id: int | None = None, name: str | None = None
    ) -> Source | None:
        """A source by its id, or by its site and name; None when there is none."""
        query = select(sources)
        if source_id is not None:
            query = query.where(sources.c.id == v.check_id("source_id", source_id))
        elif site_id is not None and name is not None:
            query = query.where(sources.c.site_id == v.check_id("site_id", site_id), sources.c.name == name)
        else:
            raise ValueError("give source_id, or site_id and name")
        with self._read() as c:
            row = c.execute(query).first()
        return None if row is None else _source(row)

    def sources(self, *, site_id: int | None = None) -> list[Source]:
        """The sources of a site (of every site when None), by id."""
        query = select(sources).order_by(sources.c.id)
        if site_id is not None:
            query = query.where(sources.c.site_id == v.check_id("site_id", site_id))
        with self._read() as c:
            return [_source(r) for r in c.execute(query)]

    def add_source_channel(
        self,
        *,
        source_id: int,
        device: str,
        channel: str,
        meter_id: int,
        unit: str,
        wh_per_unit: Decimal | int | str | None = None,
        modulus: Decimal | int | str | None = None,
        resets: bool = False,
        max_apportion_s: int = 3600,
    ) -> SourceChannel:
        """
        Map one register of a source's device to a meter.

        Parameters
        ----------
        source_id : int
            The source, which must exist.
        device, channel : str
            The device's ID as the source names it, and the register on it.
        meter_id : int
            The meter row its readings feed: of the source's site, fed by no other channel.
        unit : str
            One of :data:`~meshmeter.store.schema.READING_UNITS`.
        wh_per_unit : Decimal, int or str, optional
            Energy of one unit [Wh]: required for ``pulse`` (10 for the Mini Meter's output "10", manual
            §3.2) and ``count`` (a utility register's units); for an energy (Wh, kWh, MWh) it is that
            energy, and may not be given otherwise: the meter's multiplier is applied when billing.
        modulus : Decimal, int or str, optional
            The register rolls over at this many units.
        resets : bool, optional
            A drop is a restart at 0.
        max_apportion_s : int, optional
            Longest time between readings apportioned over, at least the meter's interval. [s]

        Raises
        ------
        ValueError
            Naming every problem at once (a bad argument, an unknown source or meter, a meter of another
            site, a meter or a register mapped already); nothing is stored.
        """
        source_id = v.check_id("source_id", source_id)
        spec = {
            "device": device,
            "channel": channel,
            "meter_id": meter_id,
            "unit": unit,
            "wh_per_unit": wh_per_unit,
            "modulus": modulus,
            "resets": resets,
            "max_apportion_s": max_apportion_s,
        }
        with self._write() as c:
            source = c.execute(select(sources.c.site_id).where(sources.c.id == source_id)).first()
            if source is None:
                raise ValueError(f"source_id {source_id} is not a known source")
            channel_id = _insert_channel(c, source_id, int(source.site_id), spec, "")
            row = c.execute(select(source_channels).where(source_channels.c.id == channel_id)).one()
        return _channel(row)

    def source_channels(
        self, *, source_id: int | None = None, site_id: int | None = None
    ) -> list[SourceChannel]:
        """The channels of a source (or of every source of a site, or of all), by id."""
        query = select(source_channels).order_by(source_channels.c.id)
        if source_id is not None:
            query = query.where(source_channels.c.source_id == v.check_id("source_id", source_id))
        if site_id is not None:
            query = query.join(sources, sources.c.id == source_channels.c.source_id).where(
                sources.c.site_id == v.check_id("site_id", site_id)
            )
        with self._read() as c:
            return [_channel(r) for r in c.execute(query)]

    def record_collected(
        self, *, channel_id: int, state: Mapping[str, Any] | None, rows: CollectedRows, source: str
    ) -> RawInsertResult:
        """
        Store what one channel's readings made, in one transaction: intervals, marks, events, position.

        Parameters
        ----------
        channel_id : int
            The channel.
        state : mapping or None
            Its new position (:meth:`~meshmeter.collect.readings.ChannelState.to_json`).
        rows : CollectedRows
            The intervals closed, the events, the readings taken.
        source : str
            The ``source`` of the stored raw intervals (``"collect:<site>/<source>"``).

        Returns
        -------
        RawInsertResult
            The raw intervals new, already stored (a reading sent again), revised.

        Notes
        -----
        An apportioned interval is marked with the energy stored for it; a later exact value (an
        interval read again) is a revision of the raw row, and the mark, no longer matching the latest
        value, stops counting (:meth:`~meshmeter.store.validated.ValidatedIntervalsMixin.interval_view`).
        """
        channel_id = v.check_id("channel_id", channel_id)
        body = None if state is None else v.check_json("state", dict(state))
        ends = np.asarray(rows.interval_end_s, dtype=np.int64)
        checked = v.check_interval_columns(
            "rows",
            1,
            ends,
            np.asarray(rows.energy_wh, dtype=np.int64),
            np.asarray(rows.cumulative_wh, dtype=np.int64),
        )
        marks = [
            {"interval_end": from_epoch_s(int(e)), "energy_wh": int(w)}
            for e, w, a in zip(rows.interval_end_s, rows.energy_wh, rows.apportioned, strict=True)
            if a
        ]
        exact = [
            from_epoch_s(int(e)) for e, a in zip(rows.interval_end_s, rows.apportioned, strict=True) if not a
        ]
        stamp = _now()
        with self._write() as c:
            found = c.execute(
                select(source_channels.c.meter_id, source_channels.c.source_id).where(
                    source_channels.c.id == channel_id
                )
            ).first()
            if found is None:
                raise ValueError(f"channel_id {channel_id} is not a known channel")
            meter_id, source_id = int(found.meter_id), int(found.source_id)
            result = self._insert_checked_batches(c, [(meter_id, *checked[1:])], source, stamp)[0]
            self._mark_apportioned(c, meter_id, marks, exact)
            for kind, at, detail in rows.events:
                c.execute(
                    insert(events).values(
                        kind=kind,
                        meter_id=meter_id,
                        at=v.check_utc("at", at),
                        detail=v.check_json("detail", dict(detail)),
                    )
                )
            c.execute(update(source_channels).where(source_channels.c.id == channel_id).values(state=body))
            if rows.readings:
                health: dict[str, object] = {"readings": sources.c.readings + rows.readings}
                if rows.last_reading_at is not None:
                    health["last_reading_at"] = v.check_utc("last_reading_at", rows.last_reading_at)
                c.execute(update(sources).where(sources.c.id == source_id).values(**health))
        return result

    @staticmethod
    def _mark_apportioned(
        c: Connection, meter_id: int, marks: list[dict[str, Any]], exact: list[datetime]
    ) -> None:
        """Mark the apportioned intervals with their value; unmark those now read exactly."""
        t = apportioned_intervals
        touched = [m["interval_end"] for m in marks] + exact
        if touched:
            c.execute(delete(t).where(t.c.meter_id == meter_id, t.c.interval_end.in_(touched)))
        if marks:
            c.execute(insert(t), [{"meter_id": meter_id, **m} for m in marks])

    def record_source_health(
        self,
        *,
        source_id: int,
        rejected: Mapping[str, int] | None = None,
        error: str | None = None,
        at: datetime | None = None,
    ) -> Source:
        """
        Add to a source's counts of refused input by reason, and record its last error.

        Parameters
        ----------
        source_id : int
        rejected : mapping of str to int, optional
            How many more were refused, by reason.
        error : str, optional
            The error, in words; recorded with ``at``.
        at : datetime, optional
            When; default now.
        """
        source_id = v.check_id("source_id", source_id)
        when = _now() if at is None else v.check_utc("at", at)
        more = {str(k): int(n) for k, n in (rejected or {}).items() if int(n)}
        with self._write() as c:
            row = c.execute(select(sources.c.rejected).where(sources.c.id == source_id)).first()
            if row is None:
                raise ValueError(f"source_id {source_id} is not a known source")
            counts = {str(k): int(n) for k, n in (row.rejected or {}).items()}
            for reason, n in more.items():
                counts[reason] = counts.get(reason, 0) + n
            values: dict[str, object] = {"rejected": counts}
            if error is not None:
                values.update(last_error=v.check_text("error", error), last_error_at=when)
            c.execute(update(sources).where(sources.c.id == source_id).values(**values))
            out = c.execute(select(sources).where(sources.c.id == source_id)).one()
        return _source(out)

    def apportioned_ends(self, *, meter_id: int, start: datetime, end: datetime) -> dict[int, int]:
        """The marks of a meter's apportioned intervals ending in ``(start, end]``: end [s] to the energy
        stored when it was apportioned [Wh]."""
        meter_id = v.check_id("meter_id", meter_id)
        lo, hi = v.check_range(start, end)
        with self._read() as c:
            return apportioned_marks(c, meter_id, lo, hi)


def apportioned_marks(c: Connection, meter_id: int, lo: datetime, hi: datetime) -> dict[int, int]:
    """The marks of a meter's apportioned intervals ending in ``(lo, hi]``, read on ``c``: end [s] to the
    energy stored when it was apportioned [Wh] (the validated view reads them in its snapshot)."""
    t = apportioned_intervals
    rows = c.execute(
        select(t.c.interval_end, t.c.energy_wh).where(
            t.c.meter_id == meter_id, t.c.interval_end > lo, t.c.interval_end <= hi
        )
    )
    return {epoch_s(r.interval_end): int(r.energy_wh) for r in rows}
