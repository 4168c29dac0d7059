"""Sources of real readings of a site, as every door adds them: the CLI, the API and the site file.

One function, :func:`add_source`, checks a source whole (its kind, format, address and settings by
:func:`meshmeter.collect.runner.source_problems`; each channel's meter, units and limits by the store) and
stores it with its channels in one transaction, or names every problem and stores nothing
(``docs/collect.md``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from meshmeter.collect import rtlamr
from meshmeter.collect.runner import RTLAMR2MQTT, comm_loss_after_s, source_problems
from meshmeter.store import Source, SourceChannel, Store
from meshmeter.store.schema import ENERGY_UNIT_WH

__all__ = ["SourceHealth", "add_source", "channel_defaults", "setting_pairs", "source_health"]


def setting_pairs(pairs: Iterable[str], *, what: str) -> dict[str, Any]:
    """
    A source's settings typed as ``KEY=VALUE`` pairs (``meshmeter source add --setting``, the dashboard's
    form): a value that reads as JSON (a number, true, false) is taken as that, else as the text.

    Raises
    ------
    ValueError
        Naming every pair that is not ``KEY=VALUE``, as ``<what> KEY=VALUE, got '...'`` (``what``: the
        field and its verb, as its door names it: ``--setting takes``).
    """
    out: dict[str, Any] = {}
    problems = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            problems.append(f"{what} KEY=VALUE, got {pair!r}")
            continue
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    if problems:
        raise ValueError("; ".join(problems))
    return out


def channel_defaults(
    kind: str, format: str, spec: Mapping[str, Any], register_digits: int | None
) -> dict[str, Any]:
    """
    A channel's mapping with the defaults of its source's kind filled in.

    - A pulse counter's count drops to 0 when it boots: ``resets`` defaults to true for an ``mqtt`` source
      of a pulse format, false elsewhere (a Modbus register or a utility meter's never resets).
    - ``modulus`` (the register's roll-over, in its units) defaults from the meter's register digits
      (``10 ** digits`` kWh), else for rtlamr from the message type's field width (``msg_type``).
    """
    out = {k: val for k, val in spec.items() if k not in ("meter", "msg_type")}
    if "resets" not in out:
        out["resets"] = kind == "mqtt" and format != RTLAMR2MQTT
    if out.get("modulus") is None:
        unit, per_unit = out.get("unit"), out.get("wh_per_unit")
        wh = ENERGY_UNIT_WH.get(unit) if isinstance(unit, str) else None
        if wh is None and per_unit is not None and unit == "count":
            try:
                wh = Decimal(str(per_unit))
            except ArithmeticError:
                wh = None
        if register_digits is not None and wh is not None and wh > 0:
            out["modulus"] = (Decimal(10) ** register_digits * ENERGY_UNIT_WH["kWh"] / wh).normalize()
        elif spec.get("msg_type") is not None:
            out["modulus"] = rtlamr.modulus_of(str(spec["msg_type"]))
    return out


def add_source(
    store: Store,
    *,
    site_id: int,
    name: str,
    kind: str,
    format: str,
    address: str,
    settings: Mapping[str, Any] | None = None,
    channels: Sequence[Mapping[str, Any]] = (),
    enabled: bool = True,
) -> Source:
    """
    Add a source of real readings to a site, with its channels.

    Parameters
    ----------
    store : Store
    site_id : int
        The site.
    name, kind, format, address : str
        As :meth:`meshmeter.store.Store.create_source` takes them; the format and address are checked
        for the kind.
    settings : mapping, optional
        The kind's settings (``unit_id``, ``baudrate``, ``poll_every_s``, ``topic``, ``timezone``,
        ``comm_loss_after_s`` ...).
    channels : sequence of mapping
        Each: ``device``, ``channel``, ``meter`` (a serial of the site), ``unit``, ``wh_per_unit``
        (pulses and counts), optionally ``modulus``, ``msg_type`` (rtlamr), ``resets``,
        ``max_apportion_s``.
    enabled : bool, optional

    Raises
    ------
    ValueError
        Naming every problem of the source and of each channel; nothing is stored.
    """
    body = dict(settings or {})
    problems = source_problems(kind, format, address, body)
    specs: list[dict[str, Any]] = []
    for k, given in enumerate(channels):
        spec: object = given  # from outside (a request, a site file): checked
        if not isinstance(spec, Mapping):
            problems.append(f"channels[{k}] must be a mapping, got {spec!r}")
            continue
        serial = spec.get("meter")
        meter = store.get_meter(serial=serial) if isinstance(serial, str) else None
        if meter is None:
            problems.append(f"channels[{k}].meter {serial!r} is not a known meter's serial")
            continue
        if spec.get("msg_type") is not None and str(spec["msg_type"]) not in rtlamr.MSG_TYPES:
            allowed = ", ".join(rtlamr.MSG_TYPES)
            problems.append(f"channels[{k}].msg_type must be one of {allowed}, got {spec['msg_type']!r}")
            continue
        specs.append({**channel_defaults(kind, format, spec, meter.register_digits), "meter_id": meter.id})
    if problems:
        raise ValueError("; ".join(problems))
    return store.create_source(
        site_id=site_id,
        name=name,
        kind=kind,
        format=format,
        address=address,
        settings=body,
        enabled=enabled,
        channels=specs,
    )


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """
    A source as the dashboard and the API show it.

    Attributes
    ----------
    source : Source
    channels : list of SourceChannel
    meters : dict of int to str
        The serial of each channel's meter.
    state : str
        ``"ok"`` (a reading within its silence threshold), ``"silent"`` (none for longer), ``"never"``
        (no reading yet), ``"disabled"``.
    silence_s : float or None
        Time since its last reading. [s]
    """

    source: Source
    channels: list[SourceChannel]
    meters: dict[int, str]
    state: str
    silence_s: float | None


def source_health(store: Store, *, site_id: int, now_s: float) -> list[SourceHealth]:
    """Every source of a site with its channels and its health at ``now_s`` [s since the epoch]."""

    out = []
    serials = {m.id: m.serial for m in store.meters(site_id=site_id)}
    for source in store.sources(site_id=site_id):
        channels = store.source_channels(source_id=source.id)
        after = comm_loss_after_s(source)
        silence = None if source.last_reading_at is None else now_s - source.last_reading_at.timestamp()
        if not source.enabled:
            state = "disabled"
        elif silence is None:
            state = "never"
        else:
            state = "silent" if silence > after else "ok"
        out.append(
            SourceHealth(
                source, channels, {c.meter_id: serials.get(c.meter_id, "?") for c in channels}, state, silence
            )
        )
    return out
