"""Alerts of the head-end: tamper, reverse phase, communication loss, low battery, repeater power loss.

An alert is an event of the store (``add_event``) whose kind starts with ``"alert."`` and whose detail
carries a deterministic ``key`` and whether it raises (``active: true``) or clears (``active: false``) a
condition; each alert is also put in the push outbox, once per channel, so that it is pushed (MQTT,
webhooks) at least once (``docs/alerts.md``).

* :func:`alerts_from_dcap` turns what devices reported to the DCAP into alerts: the enclosure cover
  removed or replaced (the tamper micro-switch, manual §2.5.2), a repeater's loss and return of power.
* :func:`check_communication` raises a communication-loss alert for each meter silent for longer than
  a threshold, and clears it when the meter is heard again.
* :func:`check_battery` raises a low-battery alert for each MDT whose battery fraction is low.
* :func:`raise_alert` raises any alert; :func:`check_reverse_phase` raises the reverse phase alert
  from the elements' active powers (a reversed CT makes its element's power negative, manual §3.2, §7).
* :func:`alerts` and :func:`active_alerts` read them back.

Every function is idempotent: the same input again adds no alert and no outbox message. The check
happens before the write, so two writers raising the same alert at the same instant could both store it;
the head-end runs its alert checks in one process.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from meshmeter.amr.dcap import DcapEvent
from meshmeter.amr.frames import PowerLoss
from meshmeter.amr.records import TamperEvent
from meshmeter.store import Event, RawInterval, Store

__all__ = [
    "ALERT_PREFIX",
    "DEFAULT_CHANNELS",
    "DEFAULT_LOW_BATTERY_FRACTION",
    "DEFAULT_REVERSE_POWER_W",
    "DEFAULT_SILENCE_S",
    "Alert",
    "AlertKind",
    "CommunicationWatch",
    "MeterCommunication",
    "active_alerts",
    "alert_payload",
    "alerts",
    "alerts_from_dcap",
    "check_battery",
    "check_communication",
    "check_reverse_phase",
    "check_source_communication",
    "communication_status",
    "raise_alert",
]

ALERT_PREFIX = "alert."
"""The prefix of every alert's event kind: ``alert.tamper``, ``alert.comm_loss`` ..."""

DEFAULT_CHANNELS: tuple[str, ...] = ("mqtt", "webhook")
"""The outbox channels an alert is pushed on, one message each."""

DEFAULT_SILENCE_S = 2 * 3600.0
"""A meter with no interval ending in the last two hours (8 intervals of 15 minutes) is silent. [s]"""

DEFAULT_LOW_BATTERY_FRACTION = 0.10
"""Share of capacity left below which an MDT's battery is low (as ``BatteryConfig.low_fraction``). [1]"""

DEFAULT_REVERSE_POWER_W = 5.0
"""An element whose active power is below minus this is reversed. [W]"""

_MAX_LOOKBACK_S = 2**17 * 3600.0
"""How far back :func:`communication_status` looks for a meter's last interval: 131 072 h, ≈ 15 years. [s]"""

_FUTURE_S = 86_400.0
"""Intervals ending up to a day after ``now`` (a clock ahead) still count as heard. [s]"""


class AlertKind(StrEnum):
    """The kinds of alert; the event's kind is ``"alert." + kind``."""

    TAMPER = "tamper"
    """The enclosure cover removed (raised) or replaced (cleared): the MDT's tamper switch, manual §2.5.2."""
    REVERSE_PHASE = "reverse_phase"
    """An element's active power is negative: the LCD's reverse phase indication (manual §3.2, §7)."""
    COMM_LOSS = "comm_loss"
    """No interval from a meter for longer than a threshold; cleared when it is heard again."""
    LOW_BATTERY = "low_battery"
    """An MDT's battery below a share of its capacity; cleared when it is above again (a new cell)."""
    REPEATER_POWER_LOSS = "repeater_power_loss"
    """A repeater lost its power (its last gasp, raised) or got it back (cleared)."""
    SOURCE_COMM_LOSS = "source_comm_loss"
    """A source of real readings (a pulse counter, a Modbus device, an rtlamr receiver) gave no reading for
    longer than its threshold; subject its first channel's meter, ``detail.source`` its name; cleared when
    it is heard again (``docs/collect.md``)."""
    SUBMETER_EXCESS = "submeter_excess"
    """A local day whose sub-meters add up to more than the master meter beyond the meters' accuracy: a CT
    or wiring fault (manual §7); subject the master meter; cleared by a later day within the tolerance
    (``docs/reconcile.md``)."""
    REMAINDER_JUMP = "remainder_jump"
    """A local day whose unmetered remainder is far above its trailing median (an unmetered load, a
    sub-meter stopped); subject the master meter; cleared by a later ordinary day (``docs/reconcile.md``)."""

    @property
    def event_kind(self) -> str:
        """The kind of the stored event: ``"alert.tamper"`` ..."""
        return ALERT_PREFIX + self.value


@dataclass(frozen=True, slots=True)
class Alert:
    """
    An alert, as stored (an event of kind ``alert.<kind>``).

    Attributes
    ----------
    id : int
        The event's id.
    kind : AlertKind
    at : datetime
        When the condition began (or ended, for a clearing alert), UTC.
    meter_id : int or None
        The meter concerned.
    eui64 : bytes or None
        The device concerned (an MDT, a repeater).
    active : bool
        True when the alert raises a condition, False when it clears one.
    key : str
        Deterministic key: the same condition reported again has the same key, and the outbox messages
        are ``alert:<key>:<channel>``.
    detail : dict
        The event's detail: ``key``, ``active`` and what the kind adds.
    """

    id: int
    kind: AlertKind
    at: datetime
    meter_id: int | None
    eui64: bytes | None
    active: bool
    key: str
    detail: dict[str, Any]

    @property
    def subject(self) -> tuple[AlertKind, int | None, bytes | None]:
        """What the alert is about: its kind, meter and device. A later alert of a subject supersedes."""
        return (self.kind, self.meter_id, self.eui64)


def _alert(event: Event) -> Alert | None:
    if not event.kind.startswith(ALERT_PREFIX):
        return None
    try:
        kind = AlertKind(event.kind.removeprefix(ALERT_PREFIX))
    except ValueError:
        return None
    detail = event.detail
    return Alert(
        id=event.id,
        kind=kind,
        at=event.at,
        meter_id=event.meter_id,
        eui64=event.eui64,
        active=bool(detail.get("active", True)),
        key=str(detail.get("key", f"event:{event.id}")),
        detail=detail,
    )


def _utc(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC).replace(microsecond=0)


def _finite(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _positive(name: str, value: float) -> float:
    if not _finite(value) or not value > 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def alert_payload(store: Store, alert: Alert) -> dict[str, Any]:
    """
    The message pushed for an alert: ``type`` ``"alert"``, ``key``, ``kind``, ``active``, ``at`` (ISO 8601,
    UTC), ``event_id``, ``meter_id``, ``meter`` (serial), ``eui64`` (16 hex digits) and ``detail``.

    It depends only on the stored alert, so the same alert always gives the same message.
    """
    serial = None
    if alert.meter_id is not None:
        meter = store.get_meter(meter_id=alert.meter_id)
        serial = None if meter is None else meter.serial
    return {
        "type": "alert",
        "key": alert.key,
        "kind": alert.kind.value,
        "active": alert.active,
        "at": alert.at.isoformat().replace("+00:00", "Z"),
        "event_id": alert.id,
        "meter_id": alert.meter_id,
        "meter": serial,
        "eui64": None if alert.eui64 is None else alert.eui64.hex(),
        "detail": alert.detail,
    }


def _push(store: Store, alert: Alert, channels: Sequence[str]) -> None:
    payload = alert_payload(store, alert)
    for channel in channels:
        store.outbox_enqueue(channel=channel, idempotency_key=f"alert:{alert.key}:{channel}", payload=payload)


def _find(store: Store, kind: AlertKind, at: datetime, meter_id: int | None, key: str) -> Alert | None:
    for event in store.events(
        meter_id=meter_id, kind=kind.event_kind, start=at - timedelta(seconds=1), end=at
    ):
        found = _alert(event)
        if found is not None and found.key == key:
            return found
    return None


def _check_channels(channels: Sequence[str]) -> tuple[str, ...]:
    if isinstance(channels, str):
        raise ValueError(f"channels must be a sequence of channel names, got the string {channels!r}")
    out = tuple(channels)
    for channel in out:
        if not isinstance(channel, str) or not channel.strip():
            raise ValueError(f"channels must hold non-empty strings, got {channel!r}")
    return out


def _raise(
    store: Store,
    kind: AlertKind,
    *,
    at: datetime,
    meter_id: int | None,
    eui64: bytes | None,
    detail: Mapping[str, Any] | None,
    key: str | None,
    active: bool,
    channels: tuple[str, ...],
) -> tuple[Alert, bool]:
    """Store the alert unless its key is stored already, then enqueue its messages; (alert, new)."""
    at = _utc("at", at)
    if key is None:
        subject = eui64.hex() if eui64 is not None else str(meter_id)
        key = f"{kind.value}:{subject}:{at.isoformat()}:{'raised' if active else 'cleared'}"
    existing = _find(store, kind, at, meter_id, key)
    new = existing is None
    if existing is None:
        body = {**(detail or {}), "key": key, "active": active}
        event = store.add_event(kind=kind.event_kind, at=at, meter_id=meter_id, eui64=eui64, detail=body)
        existing = _alert(event)
        assert existing is not None
    _push(store, existing, channels)
    return existing, new


def raise_alert(
    store: Store,
    kind: AlertKind | str,
    *,
    at: datetime,
    meter_id: int | None = None,
    eui64: bytes | None = None,
    detail: Mapping[str, Any] | None = None,
    key: str | None = None,
    active: bool = True,
    channels: Sequence[str] = DEFAULT_CHANNELS,
) -> Alert:
    """
    Raise (or clear) an alert: store it once per key and enqueue a push message per channel.

    Parameters
    ----------
    store : Store
        The store.
    kind : AlertKind or str
        ``"tamper"``, ``"reverse_phase"``, ``"comm_loss"``, ``"low_battery"``, ``"repeater_power_loss"``.
    at : datetime
        When the condition began (or ended), aware; kept to the second.
    meter_id : int, optional
        The meter concerned (it must exist).
    eui64 : bytes, optional
        The device concerned (8 bytes).
    detail : mapping, optional
        What the kind adds, as JSON; ``key`` and ``active`` are set by this function.
    key : str, optional
        The alert's deterministic key; default ``<kind>:<eui64 hex or meter id>:<at>:<raised|cleared>``.
    active : bool, optional
        True to raise, False to clear the condition.
    channels : sequence of str, optional
        Outbox channels, one message each with idempotency key ``alert:<key>:<channel>``.

    Returns
    -------
    Alert
        The alert stored: the earlier one when its key was stored already (nothing is added).

    Raises
    ------
    ValueError
        An unknown kind, a naive ``at``, an unknown meter, a bad device or detail.
    """
    try:
        alert_kind = AlertKind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in AlertKind)
        raise ValueError(f"kind must be one of {allowed}, got {kind!r}") from None
    if meter_id is None and eui64 is None:
        raise ValueError("an alert needs a meter_id or an eui64, got neither")
    if not isinstance(active, bool):
        raise ValueError(f"active must be a bool, got {active!r}")
    alert, _ = _raise(
        store,
        alert_kind,
        at=at,
        meter_id=meter_id,
        eui64=eui64,
        detail=detail,
        key=key,
        active=active,
        channels=_check_channels(channels),
    )
    return alert


def _latest(store: Store, kind: AlertKind, *, meter_id: int | None, eui64: bytes | None) -> Alert | None:
    """The latest alert of a subject (kind, meter, device), or None."""
    latest: Alert | None = None
    for event in store.events(meter_id=meter_id, kind=kind.event_kind):
        found = _alert(event)
        if found is not None and found.meter_id == meter_id and found.eui64 == eui64:
            latest = found
    return latest


# ---------------------------------------------------------------------------------------------------
# from the DCAP
# ---------------------------------------------------------------------------------------------------


def alerts_from_dcap(
    store: Store,
    events: Sequence[DcapEvent],
    *,
    eui_to_meter: Mapping[bytes, int | None] | None = None,
    channels: Sequence[str] = DEFAULT_CHANNELS,
) -> list[Alert]:
    """
    Turn the events devices reported to the DCAP into alerts, stored and pushed; idempotent.

    Parameters
    ----------
    store : Store
        The store.
    events : sequence of DcapEvent
        :attr:`meshmeter.amr.dcap.Dcap.events`, in any order, repeated or not. A ``TamperEvent``
        (cover removed: raised, replaced: cleared; manual §2.5.2) becomes a ``tamper`` alert of the MDT's
        meter; a ``PowerLoss`` (power lost: raised, restored: cleared) a ``repeater_power_loss`` alert of
        the device. Temperature readings are not alerts and are skipped.
    eui_to_meter : mapping of bytes to int or None, optional
        The meter (id) of each device's EUI-64; default the store's MDTs (``get_mdt``). A device without
        a meter gets an alert with its EUI-64 only.
    channels : sequence of str, optional
        Outbox channels of the push messages.

    Returns
    -------
    list of Alert
        The alerts added by this call, in the order of ``events``; an event already converted (the same
        device, kind, time and state) adds nothing and is not returned.

    Notes
    -----
    An event's instant is its device's ``time_s``, seconds since the Unix epoch in UTC, as the interval
    ends of the records. Its key is ``<kind>:<eui64 hex>:<time_s>:<raised|cleared>``.
    """
    wanted = _check_channels(channels)
    meters: dict[bytes, int | None] = {}

    def meter_of(device: bytes) -> int | None:
        if eui_to_meter is not None:
            return eui_to_meter.get(device)
        if device not in meters:
            mdt = store.get_mdt(eui64=device)
            meters[device] = None if mdt is None else mdt.meter_id
        return meters[device]

    added: list[Alert] = []
    for i, item in enumerate(events):
        if not isinstance(item, DcapEvent):
            raise ValueError(f"events[{i}] must be a DcapEvent, got {item!r}")
        payload = item.event
        at = datetime.fromtimestamp(payload.time_s, UTC)
        if isinstance(payload, TamperEvent):
            kind = AlertKind.TAMPER
            active = payload.cover_open
            detail: dict[str, Any] = {"cover_open": payload.cover_open, "source": "dcap"}
            meter_id = meter_of(item.device)
        elif isinstance(payload, PowerLoss):
            kind = AlertKind.REPEATER_POWER_LOSS
            active = not payload.power_restored
            detail = {"power_restored": payload.power_restored, "source": "dcap"}
            meter_id = None
        else:
            continue  # a temperature reading: not an alert
        key = f"{kind.value}:{item.device.hex()}:{payload.time_s}:{'raised' if active else 'cleared'}"
        alert, new = _raise(
            store,
            kind,
            at=at,
            meter_id=meter_id,
            eui64=item.device,
            detail=detail,
            key=key,
            active=active,
            channels=wanted,
        )
        if new:
            added.append(alert)
    return added


# ---------------------------------------------------------------------------------------------------
# communication loss
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeterCommunication:
    """
    When a meter was last heard.

    Attributes
    ----------
    meter_id : int
    serial : str
    last_interval_end : datetime or None
        End of its latest raw interval (None: none within :data:`_MAX_LOOKBACK_S`), UTC.
    last_received_at : datetime or None
        When that interval was received, UTC.
    age_s : float or None
        ``now - last_interval_end``. [s]
    silent : bool
        True when ``age_s`` exceeds the threshold, or the meter was never heard.
    """

    meter_id: int
    serial: str
    last_interval_end: datetime | None
    last_received_at: datetime | None
    age_s: float | None
    silent: bool


def _last_interval(store: Store, meter_id: int, now: datetime) -> RawInterval | None:
    """The meter's latest raw interval, looking back in doubling slices from ``now`` (one hour first)."""
    hi = now + timedelta(seconds=_FUTURE_S)
    span_s = 3600.0
    lo = now - timedelta(seconds=span_s)
    while True:
        rows = store.raw_intervals(meter_id=meter_id, start=lo, end=hi)
        if rows:
            return rows[-1]
        if span_s >= _MAX_LOOKBACK_S:
            return None
        span_s *= 2
        hi, lo = lo, now - timedelta(seconds=span_s)


def communication_status(
    store: Store, *, now: datetime, silence_s: float = DEFAULT_SILENCE_S
) -> list[MeterCommunication]:
    """
    When each meter of the store was last heard, and whether it is silent.

    Parameters
    ----------
    store : Store
        The store.
    now : datetime
        The present, aware.
    silence_s : float, optional
        A meter whose latest interval ended longer ago than this is silent. [s]

    Returns
    -------
    list of MeterCommunication
        One per meter, in the store's order. A meter is heard by its latest raw interval (any source),
        named by its end; intervals up to a day after ``now`` count, older than about 15 years do not.
    """
    now = _utc("now", now)
    silence_s = _positive("silence_s", silence_s)
    out = []
    for meter in store.meters():
        last = _last_interval(store, meter.id, now)
        if last is None:
            out.append(MeterCommunication(meter.id, meter.serial, None, None, None, True))
            continue
        age_s = (now - last.interval_end).total_seconds()
        out.append(
            MeterCommunication(
                meter.id, meter.serial, last.interval_end, last.received_at, age_s, age_s > silence_s
            )
        )
    return out


def check_communication(
    store: Store,
    *,
    now: datetime,
    silence_s: float = DEFAULT_SILENCE_S,
    channels: Sequence[str] = DEFAULT_CHANNELS,
) -> list[Alert]:
    """
    Raise a communication-loss alert for each meter silent longer than ``silence_s``; clear it when heard.

    Parameters
    ----------
    store : Store
        The store.
    now : datetime
        The present, aware.
    silence_s : float, optional
        The silence that makes a loss. [s]
    channels : sequence of str, optional
        Outbox channels of the push messages.

    Returns
    -------
    list of Alert
        Alerts added by this call: a loss (``active``) for each meter newly silent, at
        ``last_interval_end + silence_s`` (``detail``: ``last_interval_end``, ``silence_s``); a clearing
        alert for each meter whose loss was active and that has been heard since. A meter never heard is
        not reported (it has not started); the same silence checked again adds nothing.
    """
    wanted = _check_channels(channels)
    now = _utc("now", now)
    added: list[Alert] = []
    for status in communication_status(store, now=now, silence_s=silence_s):
        if status.last_interval_end is None:
            continue
        last = status.last_interval_end
        latest = _latest(store, AlertKind.COMM_LOSS, meter_id=status.meter_id, eui64=None)
        last_text = last.isoformat()
        if status.silent:
            if latest is not None and latest.active and latest.detail.get("last_interval_end") == last_text:
                continue  # this silence is reported already
            alert, new = _raise(
                store,
                AlertKind.COMM_LOSS,
                at=last + timedelta(seconds=float(silence_s)),
                meter_id=status.meter_id,
                eui64=None,
                detail={"last_interval_end": last_text, "silence_s": float(silence_s)},
                key=f"comm_loss:{status.meter_id}:{last_text}:raised",
                active=True,
                channels=wanted,
            )
        elif latest is not None and latest.active:
            alert, new = _raise(
                store,
                AlertKind.COMM_LOSS,
                at=max(last, latest.at),
                meter_id=status.meter_id,
                eui64=None,
                detail={"last_interval_end": last_text, "cleared": latest.key},
                key=f"{latest.key.removesuffix(':raised')}:cleared",
                active=False,
                channels=wanted,
            )
        else:
            continue
        if new:
            added.append(alert)
    return added


def check_source_communication(
    store: Store,
    *,
    source_id: int,
    source_name: str,
    meter_id: int,
    now: datetime,
    last_reading_at: datetime | None,
    silence_s: float,
    channels: Sequence[str] = DEFAULT_CHANNELS,
) -> list[Alert]:
    """
    Raise a source's communication-loss alert when it has been silent longer than ``silence_s``; clear it
    when it is heard again.

    Parameters
    ----------
    store : Store
        The store.
    source_id, source_name : int, str
        The source (``sources``), named in the alert's detail.
    meter_id : int
        The meter the alert is filed under: the source's first channel's.
    now : datetime
        The present, aware.
    last_reading_at : datetime or None
        When the source last gave a reading; None when it never did (then ``now`` counts from nothing and
        no alert is raised: a source that has not started is not lost).
    silence_s : float
        The silence that makes a loss. [s]
    channels : sequence of str, optional
        Outbox channels of the push messages.

    Returns
    -------
    list of Alert
        The alert raised (at ``last_reading_at + silence_s``, ``detail``: ``source``, ``source_id``,
        ``last_reading_at``, ``silence_s``) or cleared by this call; the same silence checked again adds
        nothing.
    """
    wanted = _check_channels(channels)
    now = _utc("now", now)
    silence_s = _positive("silence_s", silence_s)
    if last_reading_at is None:
        return []
    last = _utc("last_reading_at", last_reading_at).replace(microsecond=0)
    last_text = last.isoformat()
    latest = _latest(store, AlertKind.SOURCE_COMM_LOSS, meter_id=meter_id, eui64=None)
    silent = (now - last).total_seconds() > silence_s
    base = {"source": source_name, "source_id": source_id, "last_reading_at": last_text}
    if silent:
        if latest is not None and latest.active and latest.detail.get("last_reading_at") == last_text:
            return []
        alert, new = _raise(
            store,
            AlertKind.SOURCE_COMM_LOSS,
            at=last + timedelta(seconds=float(silence_s)),
            meter_id=meter_id,
            eui64=None,
            detail={**base, "silence_s": float(silence_s)},
            key=f"source_comm_loss:{source_id}:{last_text}:raised",
            active=True,
            channels=wanted,
        )
    elif latest is not None and latest.active:
        alert, new = _raise(
            store,
            AlertKind.SOURCE_COMM_LOSS,
            at=max(last, latest.at),
            meter_id=meter_id,
            eui64=None,
            detail={**base, "cleared": latest.key},
            key=f"{latest.key.removesuffix(':raised')}:cleared",
            active=False,
            channels=wanted,
        )
    else:
        return []
    return [alert] if new else []


# ---------------------------------------------------------------------------------------------------
# low battery, reverse phase
# ---------------------------------------------------------------------------------------------------


class CommunicationWatch:
    """
    Communication-loss checks run periodically, in a thread: :func:`check_communication` every ``every_s``.

    ``meshmeter serve`` runs one while it serves (``MESHMETER_ALERT_CHECK_S``, ``docs/alerts.md``), so a
    meter that falls silent raises its alert, and pushes it, without anybody asking.

    Parameters
    ----------
    store : Store
        The store; it must stay open while the watch runs.
    every_s : float
        Time between two checks; the first is one period after :meth:`start`. [s]
    silence_s : float, optional
        A meter with no interval ending within this is silent. [s]
    channels : sequence of str, optional
        Outbox channels the alerts are pushed on.
    clock : callable, optional
        The present, aware; default ``datetime.now(UTC)``.

    Attributes
    ----------
    checks : int
        Checks run. [1]
    raised : int
        Alerts raised or cleared by them. [1]
    last_error : str or None
        Why the last check failed (the store unreachable ...); the watch keeps going.
    """

    def __init__(
        self,
        store: Store,
        *,
        every_s: float,
        silence_s: float = DEFAULT_SILENCE_S,
        channels: Sequence[str] = DEFAULT_CHANNELS,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._store = store
        self.every_s = _positive("every_s", every_s)
        self.silence_s = _positive("silence_s", silence_s)
        self._channels = _check_channels(channels)
        self._clock = clock if clock is not None else (lambda: datetime.now(UTC))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checks = 0
        self.raised = 0
        self.last_error: str | None = None

    def check_now(self) -> list[Alert]:
        """Run one check now; returns the alerts it raised or cleared."""
        found = check_communication(
            self._store, now=self._clock(), silence_s=self.silence_s, channels=self._channels
        )
        self.checks += 1
        self.raised += len(found)
        return found

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.check_now()
                self.last_error = None
            except Exception as exc:  # a failed check must not end the watch
                self.last_error = f"{type(exc).__name__}: {exc}"

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start checking every ``every_s``; starting a running watch does nothing."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="meshmeter-communication-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop, waiting for a check under way to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None


def check_battery(
    store: Store,
    fraction_left: Mapping[bytes, float],
    *,
    at: datetime,
    low_fraction: float = DEFAULT_LOW_BATTERY_FRACTION,
    eui_to_meter: Mapping[bytes, int | None] | None = None,
    channels: Sequence[str] = DEFAULT_CHANNELS,
) -> list[Alert]:
    """
    Raise a low-battery alert for each MDT whose battery is low; clear it when it is not any more.

    Parameters
    ----------
    store : Store
        The store.
    fraction_left : mapping of bytes to float
        Each MDT's EUI-64 and the share of its battery left, in [0, 1] (``Battery.fraction_left``, the
        CIT's ``battery_left``). [1]
    at : datetime
        When the fractions were read, aware.
    low_fraction : float, optional
        Below this share the battery is low. [1]
    eui_to_meter : mapping of bytes to int or None, optional
        The meter of each device; default the store's MDTs.
    channels : sequence of str, optional
        Outbox channels of the push messages.

    Returns
    -------
    list of Alert
        Alerts added: a raise (``detail``: ``fraction_left``, ``low_fraction``) for an MDT low with no
        active low-battery alert, a clear for one no longer low whose alert is active. A battery still low
        at the next check adds nothing.
    """
    wanted = _check_channels(channels)
    at = _utc("at", at)
    if not _finite(low_fraction) or not 0 < low_fraction < 1:
        raise ValueError(f"low_fraction must be a number in (0, 1), got {low_fraction!r}")
    added: list[Alert] = []
    for device, fraction in fraction_left.items():
        if not isinstance(device, bytes) or len(device) != 8:
            raise ValueError(f"fraction_left keys must be 8-byte EUI-64s, got {device!r}")
        if not _finite(fraction) or not 0 <= fraction <= 1:
            raise ValueError(f"fraction_left[{device.hex()}] must be a number in [0, 1], got {fraction!r}")
        if eui_to_meter is not None:
            meter_id = eui_to_meter.get(device)
        else:
            mdt = store.get_mdt(eui64=device)
            meter_id = None if mdt is None else mdt.meter_id
        latest = _latest(store, AlertKind.LOW_BATTERY, meter_id=meter_id, eui64=device)
        is_active = latest is not None and latest.active
        low = fraction < low_fraction
        if low == is_active:
            continue
        alert, new = _raise(
            store,
            AlertKind.LOW_BATTERY,
            at=at,
            meter_id=meter_id,
            eui64=device,
            detail={"fraction_left": float(fraction), "low_fraction": float(low_fraction)},
            key=None,
            active=low,
            channels=wanted,
        )
        if new:
            added.append(alert)
    return added


def check_reverse_phase(
    store: Store,
    *,
    meter_id: int,
    at: datetime,
    element_power_w: Sequence[float],
    reverse_power_w: float = DEFAULT_REVERSE_POWER_W,
    channels: Sequence[str] = DEFAULT_CHANNELS,
) -> Alert | None:
    """
    Raise the reverse phase alert of a meter when an element's active power is negative; clear it when not.

    Parameters
    ----------
    store : Store
        The store.
    meter_id : int
        The meter.
    at : datetime
        When the powers were measured, aware.
    element_power_w : sequence of float
        Active power of each element, positive when energy flows to the load (``docs/conventions.md``,
        "Signs"). [W]
    reverse_power_w : float, optional
        An element below ``-reverse_power_w`` is reversed, as the LCD's indication
        (``meter.diagnostics.reverse_phase_indicated``, manual §3.2, §7). [W]
    channels : sequence of str, optional
        Outbox channels of the push messages.

    Returns
    -------
    Alert or None
        The alert added (raised, ``detail``: ``element_power_w``, ``elements`` reversed, numbered from 1;
        or cleared), None when the state is unchanged.
    """
    wanted = _check_channels(channels)
    reverse_power_w = _positive("reverse_power_w", reverse_power_w)
    if len(element_power_w) == 0 or not all(_finite(float(p)) for p in element_power_w):
        raise ValueError(f"element_power_w must hold finite numbers, got {element_power_w!r}")
    powers = [float(p) for p in element_power_w]
    reversed_elements = [i + 1 for i, p in enumerate(powers) if p < -reverse_power_w]
    latest = _latest(store, AlertKind.REVERSE_PHASE, meter_id=meter_id, eui64=None)
    is_active = latest is not None and latest.active
    reversed_now = bool(reversed_elements)
    if reversed_now == is_active:
        return None
    alert, new = _raise(
        store,
        AlertKind.REVERSE_PHASE,
        at=at,
        meter_id=meter_id,
        eui64=None,
        detail={"element_power_w": powers, "elements": reversed_elements},
        key=None,
        active=reversed_now,
        channels=wanted,
    )
    return alert if new else None


# ---------------------------------------------------------------------------------------------------
# reading alerts
# ---------------------------------------------------------------------------------------------------


def alerts(store: Store, *, since: datetime | None = None, meter_id: int | None = None) -> list[Alert]:
    """
    Every alert (raised and cleared) with ``at > since``, oldest first.

    Parameters
    ----------
    since : datetime, optional
        Only alerts after this instant.
    meter_id : int, optional
        Only this meter's.
    """
    start = None if since is None else _utc("since", since)
    found: list[Alert] = []
    for kind in AlertKind:
        for event in store.events(meter_id=meter_id, kind=kind.event_kind, start=start):
            alert = _alert(event)
            if alert is not None:
                found.append(alert)
    return sorted(found, key=lambda a: (a.at, a.id))


def _current(items: Iterable[Alert]) -> list[Alert]:
    latest: dict[tuple[AlertKind, int | None, bytes | None], Alert] = {}
    for alert in sorted(items, key=lambda a: (a.at, a.id)):
        latest[alert.subject] = alert
    return sorted((a for a in latest.values() if a.active), key=lambda a: (a.at, a.id))


def active_alerts(store: Store, *, since: datetime | None = None) -> list[Alert]:
    """
    The alerts in force: for each subject (kind, meter, device), its latest alert, when it raises.

    Parameters
    ----------
    since : datetime, optional
        Only those raised after this instant (``at > since``).

    Returns
    -------
    list of Alert
        Oldest first. A tamper alert is cleared by the cover replaced, a repeater's power loss by its
        return, a communication loss by data heard again, a low battery by a good reading, a reverse
        phase by positive powers.
    """
    current = _current(alerts(store))
    if since is None:
        return current
    start = _utc("since", since)
    return [a for a in current if a.at > start]
