"""Names of the radio network's devices, as people name them (issue 15): no EUI-64 first.

An MDT is named by the meter and unit it serves (``MDT of Unit 101``), a repeater by the name the site
file gave it (``R1 corridor west``, kept in its ``install`` event by ``meshmeter demo`` and
``meshmeter site simulate``) or else ``Repeater 1..N`` in the CIT report's order, the DCAP likewise.
The EUI-64 stays beside the name, never first. Every device's name is its own: an MDT of a meter that
measures no unit, or whose name another served meter shares, says the meter's serial too (``MDT of Unit
meter MM26000031``), and devices that would still share a name (two MDTs on one meter, a repeater named
like another) end with the last four hex digits of their EUI-64 (``MDT of Unit 202 (…0011)``).

One place for the dashboard's network page (``meshmeter.api.dashboard.network_view``) and
``meshmeter cit``; reads only, no HTTP, no printing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from meshmeter.services.names import MeterName
    from meshmeter.store import Event, Store

__all__ = ["DeviceName", "DeviceRowLike", "device_names", "given_names", "named_suggestion", "served_meters"]

_KIND_WORDS = {"dcap": "DCAP", "repeater": "Repeater", "mdt": "MDT"}


class DeviceRowLike(Protocol):
    """A device row of a CIT report (:class:`meshmeter.amr.cit.DeviceRow`): what naming reads of it."""

    @property
    def index(self) -> int: ...

    @property
    def kind(self) -> str: ...

    @property
    def eui64(self) -> str: ...


@dataclass(frozen=True, slots=True)
class DeviceName:
    """A device of the mesh as people name it."""

    eui64: str
    kind: str
    label: str
    """``MDT of Unit 101``, ``R1 corridor west``, ``Repeater 2``, ``DCAP``."""
    meter: MeterName | None = None
    """The meter an MDT serves."""


def served_meters(
    store: Store, devices: Iterable[DeviceRowLike], names: Mapping[int, MeterName]
) -> dict[str, MeterName]:
    """
    EUI-64 (16 hex digits) of each MDT of ``devices`` → the name of the meter it serves, for the MDTs
    the store knows serving a meter of ``names`` (:func:`meshmeter.services.names.meter_names`).
    """
    out: dict[str, MeterName] = {}
    for row in devices:
        if row.kind != "mdt":
            continue
        mdt = store.get_mdt(eui64=bytes.fromhex(row.eui64))
        if mdt is not None and mdt.meter_id is not None and mdt.meter_id in names:
            out[row.eui64] = names[mdt.meter_id]
    return out


def given_names(installs: Iterable[Event]) -> dict[str, str]:
    """The names the site file gave devices (a DCAP's, a repeater's), by EUI-64 (16 hex digits), from the
    store's ``install`` events (``detail["name"]``, trimmed; a blank one is no name)."""
    given: dict[str, str] = {}
    for e in installs:
        name = e.detail.get("name")
        if e.eui64 is not None and isinstance(name, str) and name.strip():
            given[e.eui64.hex()] = name.strip()
    return given


def device_names(
    devices: Iterable[DeviceRowLike], meters: Mapping[str, MeterName], installs: Iterable[Event]
) -> dict[str, DeviceName]:
    """
    Every device of a CIT report by EUI-64 (16 hex digits), named.

    Parameters
    ----------
    devices : iterable of DeviceRow
        The CIT report's device rows (manual §5.2).
    meters : mapping of str to MeterName
        EUI-64 of an MDT → the name of the meter it serves (:func:`served_meters`).
    installs : iterable of Event
        The store's ``install`` events: a DCAP's or repeater's ``detail["name"]`` is its site-file name.
    """
    given = given_names(installs)
    shared = Counter(m.label for m in {m.meter_id: m for m in meters.values()}.values())
    counts: dict[str, int] = {}
    out: dict[str, DeviceName] = {}
    for row in sorted(devices, key=lambda r: r.index):
        counts[row.kind] = counts.get(row.kind, 0) + 1
        word = _KIND_WORDS.get(row.kind, row.kind)
        meter = meters.get(row.eui64)
        if meter is not None:
            label = f"MDT of {meter.label}"
            if shared[meter.label] > 1 or (meter.unit is None and meter.role == "unit"):
                label += f" {meter.serial}"  # "Unit meter" alone says not which
        elif row.eui64 in given:
            label = given[row.eui64]
        elif row.kind == "dcap":
            label = word if counts[row.kind] == 1 else f"{word} {counts[row.kind]}"
        else:
            label = f"{word} {counts[row.kind]}"
        out[row.eui64] = DeviceName(row.eui64, row.kind, label, meter)
    twice = Counter(d.label for d in out.values())
    return {
        e: replace(d, label=f"{d.label} (…{e[-4:]})") if twice[d.label] > 1 else d for e, d in out.items()
    }


def named_suggestion(text: str, names: Mapping[str, DeviceName]) -> str:
    """A CIT suggestion (:func:`meshmeter.amr.cit.cit_report`) with each device's EUI-64 replaced by its
    name: ``between it and R1 corridor west`` rather than ``between it and 024d52a8f5110286``."""
    for eui64, name in names.items():
        if eui64 in text:
            text = text.replace(eui64, name.label)
    return text
