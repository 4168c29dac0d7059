"""The collector: every source of a site read at once, readings made into intervals, kept durably.

``meshmeter collect`` runs one (``meshmeter serve --collect`` runs one beside the API). For each source of
the store (``docs/collect.md``) it starts a worker:

- ``mqtt`` sources share one client per broker: pulse counters (ESPHome, Tasmota, Shelly,
  :mod:`meshmeter.collect.pulse`) and rtlamr2mqtt (:mod:`meshmeter.collect.rtlamr`). Messages are
  acknowledged only once what they made is stored (QoS 1, a persistent session keyed by the site and the
  source): a collector killed between receiving and storing gets them again.
- ``modbus_tcp`` and ``modbus_rtu`` sources are polled just after each interval end of their meters' grid
  (:mod:`meshmeter.collect.modbus`), and more often when their settings say so.
- ``rtlamr`` sources read rtlamr's JSON lines from standard input (address ``-``) or a file.

Each reading goes to its channel (:class:`~meshmeter.store.SourceChannel`): :func:`advance` makes the
intervals it closes, and :meth:`~meshmeter.store.Store.record_collected` stores them with the channel's new
position in one transaction. So a collector killed at any moment, or a broker or device away for hours,
loses and doubles no interval: on restart each channel goes on from its stored position, readings already
taken are ``stale`` and change nothing.

Input that gives no energy (a malformed payload, an unknown device, a register running backwards, an
impossible jump, a wrong scale factor) is counted per source by reason (``sources.rejected``) with its last
error, and the collector keeps running.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from meshmeter.catalog.limits import max_interval_energy_wh
from meshmeter.collect.readings import (
    Advance,
    ChannelConfig,
    ChannelState,
    Reading,
    Rejection,
    advance,
)
from meshmeter.errors import DeviceError, PayloadError
from meshmeter.store import CollectedRows, Source, SourceChannel, Store

__all__ = [
    "CLOCK_ENV",
    "ChannelRuntime",
    "Clock",
    "Collector",
    "TakeResult",
    "clock_from_env",
]

CLOCK_ENV = "MESHMETER_COLLECT_CLOCK"
"""``REAL_EPOCH_S,SIMULATED_EPOCH_S,SCALE``: run the collector on a simulated clock that started at the
simulated instant when the real clock read the real one, and runs ``SCALE`` times as fast. For the
benchmark's simulated day and the kill-and-restart tests; unset in service."""


@dataclass(frozen=True, slots=True)
class Clock:
    """
    The collector's present: the real clock, or a simulated one running faster (:data:`CLOCK_ENV`).

    Attributes
    ----------
    real_anchor_s : float
        A real instant. [s since the epoch]
    simulated_anchor_s : float
        The simulated instant at ``real_anchor_s``. [s since the epoch]
    scale : float
        Simulated seconds per real second. [1]
    """

    real_anchor_s: float = 0.0
    simulated_anchor_s: float = 0.0
    scale: float = 1.0

    def now_s(self) -> float:
        """The present. [s since the epoch]"""
        return self.simulated_anchor_s + (time.time() - self.real_anchor_s) * self.scale

    def now_ms(self) -> int:
        """The present. [ms since the epoch]"""
        return int(self.now_s() * 1000)

    def sleep_until_ms(self, at_ms: int, stop: threading.Event) -> bool:
        """
        Wait until the present is ``at_ms`` or later; False when ``stop`` was set first.

        A wait can end a little early (the timer's grain, the wall clock stepped, the rounding of a scaled
        wait), and a poll before its instant would be taken again at that instant: the wait is taken again
        for what is left until the present has reached ``at_ms``.
        """
        while (left_ms := at_ms - self.now_ms()) > 0:
            if stop.wait(left_ms / 1000 / self.scale):
                return False
        return not stop.is_set()


def clock_from_env(environ: dict[str, str] | None = None) -> Clock:
    """The clock :data:`CLOCK_ENV` describes, else the real one.

    Raises
    ------
    ValueError
        Naming the variable when it is not three numbers with a positive scale.
    """
    text = (os.environ if environ is None else environ).get(CLOCK_ENV, "").strip()
    if not text:
        return Clock()
    try:
        real, simulated, scale = (float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"{CLOCK_ENV} must be REAL_EPOCH_S,SIMULATED_EPOCH_S,SCALE, got {text!r}") from None
    if not scale > 0:
        raise ValueError(f"{CLOCK_ENV}'s scale must be positive, got {scale!r}")
    return Clock(real, simulated, scale)


@dataclass(slots=True)
class ChannelRuntime:
    """A channel as the collector holds it: its row, its rules and its position (after the last commit)."""

    channel: SourceChannel
    config: ChannelConfig
    state: ChannelState | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    retired: bool = False
    """Replaced by a reload (its rules changed): its position moved to the runtime that replaced it."""


@dataclass(frozen=True, slots=True)
class TakeResult:
    """
    What :meth:`Collector.take` did with some readings.

    Attributes
    ----------
    readings : int
        Readings taken (they moved a channel on).
    intervals : int
        Intervals stored new.
    duplicates : int
        Intervals stored already (readings heard again).
    rejected : Counter
        Readings refused, by reason.
    """

    readings: int = 0
    intervals: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


def _config(store: Store, channel: SourceChannel) -> ChannelConfig:
    meter = store.get_meter(meter_id=channel.meter_id)
    if meter is None:  # the foreign key forbids it; a meter deleted under a running collector
        raise ValueError(f"channel {channel.id}: meter_id {channel.meter_id} is not a known meter")
    return ChannelConfig(
        interval_s=meter.interval_s,
        wh_per_unit=channel.wh_per_unit,
        max_interval_wh=max_interval_energy_wh(meter),
        modulus=channel.modulus,
        resets=channel.resets,
        max_apportion_s=max(channel.max_apportion_s, meter.interval_s),
    )


def _utc_ms(at_ms: int) -> datetime:
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC)


class Collector:
    """
    Readings of a store's sources made into intervals and kept (see the module).

    Parameters
    ----------
    store : Store
        The store with the sites, meters, sources and channels.
    site_id : int, optional
        Only this site's sources; default every site's.
    source_names : sequence of str, optional
        Only these sources (by name); default every enabled one.
    clock : Clock, optional
        The present; default the real clock, or :data:`CLOCK_ENV`'s.

    Attributes
    ----------
    sources : dict of int to Source
        The sources run, by id (as loaded).
    last_error : dict of int to str
        Each source's last error, for people.
    """

    def __init__(
        self,
        store: Store,
        *,
        site_id: int | None = None,
        source_names: Sequence[str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.clock = clock if clock is not None else clock_from_env()
        self.site_id = site_id
        self._names = None if source_names is None else set(source_names)
        self.sources: dict[int, Source] = {}
        self._channels: dict[tuple[int, str, str], ChannelRuntime] = {}
        self.last_error: dict[int, str] = {}
        self.counts: dict[int, Counter[str]] = defaultdict(Counter)
        self._unwritten: dict[int, Counter[str]] = defaultdict(Counter)
        self.last_reading_ms: dict[int, int] = {}
        self._health_lock = threading.Lock()
        self.load()

    # -- sources and channels ---------------------------------------------------------------------------

    def load(self) -> set[int]:
        """
        Read the sources and channels, with each channel's stored position; again while running, to take
        the sources added, changed, disabled or removed since (:meth:`CollectorRunner.refresh`).

        A channel read again unchanged keeps the collector's own runtime (its position after the last
        commit, its lock); a new or changed one starts from its stored position.

        Returns
        -------
        set of int
            The sources whose workers are to start or start again: new, changed (their settings,
            address, format or channels) or gone, by id.
        """
        chosen = [
            s
            for s in self.store.sources(site_id=self.site_id)
            if (self._names is None and s.enabled) or (self._names is not None and s.name in self._names)
        ]
        if self._names is not None:
            missing = sorted(self._names - {s.name for s in chosen})
            if missing:
                raise ValueError(f"no source named {', '.join(map(repr, missing))}")
        before = {sid: self._setup(s, self.channels(sid)) for sid, s in self.sources.items()}
        old = self._channels
        channels: dict[tuple[int, str, str], ChannelRuntime] = {}
        for source in chosen:
            for channel in self.store.source_channels(source_id=source.id):
                key = (source.id, channel.device, channel.channel)
                config = _config(self.store, channel)
                kept = old.get(key)
                if kept is not None and kept.channel.id == channel.id:
                    if kept.config == config:
                        channels[key] = kept
                        continue
                    with kept.lock:  # new rules, the same position: no take runs on the old rules after
                        kept.retired = True
                        channels[key] = ChannelRuntime(channel, config, kept.state)
                    continue
                state = None if channel.state is None else ChannelState.from_json(channel.state)
                channels[key] = ChannelRuntime(channel, config, state)
            if source.last_reading_at is not None:
                self.last_reading_ms.setdefault(source.id, int(source.last_reading_at.timestamp() * 1000))
        self.sources = {s.id: s for s in chosen}
        self._channels = channels
        after = {sid: self._setup(s, self.channels(sid)) for sid, s in self.sources.items()}
        return {sid for sid in before.keys() | after.keys() if before.get(sid) != after.get(sid)}

    @contextmanager
    def _hold(
        self, key: tuple[int, str, str], runtime: ChannelRuntime | None
    ) -> Iterator[ChannelRuntime | None]:
        """The channel's live runtime, locked while held: the one that replaced ``runtime`` when a reload
        retired it; None when a reload removed the channel."""
        while runtime is not None:
            runtime.lock.acquire()
            if not runtime.retired:
                try:
                    yield runtime
                finally:
                    runtime.lock.release()
                return
            runtime.lock.release()
            runtime = self._channels.get(key)
        yield None

    @staticmethod
    def _setup(source: Source, channels: list[ChannelRuntime]) -> tuple[object, ...]:
        """What a source's worker is made from: its settings and its channels' rules, not its health."""
        return (
            source.name,
            source.kind,
            source.format,
            source.address,
            sorted(source.settings.items(), key=str),
            sorted((c.channel.id, c.channel.device, c.channel.channel, c.config) for c in channels),
        )

    def channels(self, source_id: int) -> list[ChannelRuntime]:
        """The channels of a source."""
        return [c for (s, _, _), c in self._channels.items() if s == source_id]

    def devices(self, source_id: int) -> set[str]:
        """The device IDs a source's channels name."""
        return {d for (s, d, _) in self._channels if s == source_id}

    # -- readings ---------------------------------------------------------------------------------------

    def take(self, source: Source, readings: Iterable[Reading]) -> TakeResult:
        """
        Readings of a source: each to its channel, the intervals they close stored with its position.

        Readings of a device or register no channel maps are refused (``unknown_device``); those
        :func:`advance` refuses (``stale``, ``backwards``, ``jump``) are counted. Nothing refused is
        stored as energy.

        Raises
        ------
        Exception
            Whatever the store raises when it cannot store: nothing of that channel is then stored, its
            position stays, and the caller is to offer the readings again (an MQTT message is not
            acknowledged).
        """
        by_channel: dict[tuple[int, str, str], list[Reading]] = defaultdict(list)
        runtimes = self._channels  # as loaded now: a reload while taking replaces the table, not this
        rejected: Counter[str] = Counter()
        errors: list[str] = []
        for reading in readings:
            key = (source.id, reading.device, reading.channel)
            runtime = runtimes.get(key)
            if runtime is not None and reading.unit != runtime.channel.unit:
                rejected[Rejection.SCALE] += 1
                errors.append(
                    f"{reading.device}/{reading.channel}: the device sends {reading.unit}, the channel is in "
                    f"{runtime.channel.unit}; map the channel in {reading.unit}"
                )
            elif runtime is not None:
                by_channel[key].append(reading)
            else:
                rejected[Rejection.UNKNOWN_DEVICE] += 1
                errors.append(
                    f"{reading.device}/{reading.channel}: no channel of source {source.name!r} maps this "
                    "device and register to a meter"
                )
        taken = new = duplicates = 0
        for key, group in by_channel.items():
            with self._hold(key, runtimes[key]) as runtime:
                if runtime is None:  # a reload removed the channel meanwhile: nothing maps these readings
                    rejected[Rejection.UNKNOWN_DEVICE] += len(group)
                    continue
                made = advance(runtime.state, group, runtime.config)
                for error in made.rejected:
                    rejected[error.reason] += 1
                    if error.reason != Rejection.STALE:
                        errors.append(str(error))
                accepted = len(group) - len(made.rejected)
                if made.state == runtime.state and not made.intervals:
                    continue
                result = self.store.record_collected(
                    channel_id=runtime.channel.id,
                    state=None if made.state is None else made.state.to_json(),
                    rows=self._rows(made, accepted),
                    source=f"collect:{source.name}",
                )
                runtime.state = made.state
            taken += accepted
            new += result.new
            duplicates += result.duplicates
            if accepted and made.state is not None:
                with self._health_lock:
                    self.last_reading_ms[source.id] = max(
                        self.last_reading_ms.get(source.id, 0), made.state.at_ms
                    )
        if rejected:
            self.refuse(source, rejected, errors[-1] if errors else None)
        return TakeResult(taken, new, duplicates, rejected)

    @staticmethod
    def _rows(made: Advance, accepted: int) -> CollectedRows:
        intervals = made.intervals
        return CollectedRows(
            interval_end_s=[i.end_s for i in intervals],
            energy_wh=[i.energy_wh for i in intervals],
            cumulative_wh=[i.cumulative_wh for i in intervals],
            apportioned=[i.apportioned for i in intervals],
            events=[(e.kind, _utc_ms(e.at_ms), e.detail) for e in made.events],
            readings=accepted,
            last_reading_at=None if made.state is None or not accepted else _utc_ms(made.state.at_ms),
        )

    def refuse(
        self,
        source: Source,
        rejected: Counter[str] | dict[str, int],
        error: str | None,
        *,
        write: bool = True,
    ) -> None:
        """
        Count refused input of a source by reason, and keep its last error (in the store too).

        ``write=False`` counts it at once and stores it with the source's next health written (a refusal,
        or :meth:`write_health` at the watch's round and at the stop): for what comes often and is no
        error, such as the copies of a broadcast rtlamr hears many times, one write per copy would cost
        more than the reading it copies.
        """
        with self._health_lock:
            self.counts[source.id].update(rejected)
            if error is not None:
                self.last_error[source.id] = error
            if not write:
                self._unwritten[source.id].update(rejected)
                return
            more = self._unwritten.pop(source.id, Counter()) + Counter(rejected)
        self.store.record_source_health(
            source_id=source.id, rejected=dict(more), error=error, at=_utc_ms(self.clock.now_ms())
        )

    def write_health(self) -> None:
        """Store the refusals counted and not written yet (:meth:`refuse` with ``write=False``)."""
        with self._health_lock:
            unwritten, self._unwritten = self._unwritten, defaultdict(Counter)
        for source_id, rejected in unwritten.items():
            self.store.record_source_health(source_id=source_id, rejected=dict(rejected))

    def fail(self, source: Source, error: DeviceError | PayloadError | str) -> None:
        """A source that gave nothing (a device not answering, a broker away): its error, counted."""
        reason = getattr(error, "reason", Rejection.NO_ANSWER)
        self.refuse(source, Counter({str(reason): 1}), str(error))

    def last_reading_at_ms(self, source_id: int) -> int | None:
        """When a source last gave a reading, on the collector's clock (None: never read). [ms]

        The instant itself, not the silence since it: a silence read at two presents gives the same
        last reading only up to the milliseconds between them, and the loss alert names that instant to
        the second (a reading at 08:00:30.000 would come back as 08:00:29 one check and 08:00:30 the next,
        two silences where there is one)."""
        with self._health_lock:
            return self.last_reading_ms.get(source_id)

    @property
    def positions(self) -> dict[tuple[int, str, str], ChannelState | None]:
        """Each channel's position as last stored, by (source id, device, channel)."""
        return {key: runtime.state for key, runtime in self._channels.items()}

    def wh_per_unit(self, source_id: int, device: str, channel: str) -> Decimal:
        """A channel's energy of one unit. [Wh]"""
        return self._channels[(source_id, device, channel)].config.wh_per_unit


ReadingsFrom = Callable[[Source], list[Reading]]
"""A poll of a source: its readings now (raises :class:`DeviceError` when it does not answer)."""
