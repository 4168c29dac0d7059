"""Names of the radio network's devices, as people name them (issue 15): no EUI-64 first.

An MDT is named by the meter and unit it serves (``MDT of Unit 101``), a repeater by the name the site
file gave it (``R1 corridor west``, kept in its ``install`` event by ``meshmeter demo`` and
``meshmeter site simulate``) or else ``Repeater 1..N`` in the CIT report's order, the DCAP likewise.
The EUI-64 stays one line below. No HTTP and no HTML here (``docs/dashboard.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meshmeter.amr.cit import CitReport
    from meshmeter.services.names import MeterName
    from meshmeter.store import Event

__all__ = ["DeviceName", "device_names", "named_plot", "named_suggestion"]

_KIND_WORDS = {"dcap": "DCAP", "repeater": "Repeater", "mdt": "MDT"}


@dataclass(frozen=True, slots=True)
class DeviceName:
    """A device of the mesh as the pages name it."""

    eui64: str
    kind: str
    label: str
    """``MDT of Unit 101``, ``R1 corridor west``, ``Repeater 2``, ``DCAP``."""
    meter: MeterName | None = None
    """The meter an MDT serves."""


def device_names(
    report: CitReport, meters: dict[str, MeterName], installs: list[Event]
) -> dict[str, DeviceName]:
    """
    Every device of the report by EUI-64 (16 hex digits), named.

    Parameters
    ----------
    report : CitReport
        The CIT report (manual §5.2).
    meters : dict of str to MeterName
        EUI-64 of an MDT → the name of the meter it serves.
    installs : list of Event
        The store's ``install`` events: a DCAP's or repeater's ``detail["name"]`` is its site-file name.
    """
    given: dict[str, str] = {}
    for e in installs:
        name = e.detail.get("name")
        if e.eui64 is not None and isinstance(name, str) and name.strip():
            given[e.eui64.hex()] = name.strip()
    counts: dict[str, int] = {}
    out: dict[str, DeviceName] = {}
    for row in sorted(report.devices, key=lambda r: r.index):
        counts[row.kind] = counts.get(row.kind, 0) + 1
        word = _KIND_WORDS.get(row.kind, row.kind)
        meter = meters.get(row.eui64)
        if meter is not None:
            label = f"MDT of {meter.label}"
        elif row.eui64 in given:
            label = given[row.eui64]
        elif row.kind == "dcap":
            label = word if counts[row.kind] == 1 else f"{word} {counts[row.kind]}"
        else:
            label = f"{word} {counts[row.kind]}"
        out[row.eui64] = DeviceName(row.eui64, row.kind, label, meter)
    return out


def named_plot(plot: dict[str, Any], names: dict[str, DeviceName]) -> dict[str, Any]:
    """The graph's JSON (:meth:`~meshmeter.api.dashboard.views.NetworkGraph.to_plot`) with each device
    labelled by its name: a unit (``Unit 101``) or a repeater's name, the EUI-64 in the hover text."""
    nodes = []
    for node in plot["nodes"]:
        name = names.get(node["eui64"])
        if name is None:
            nodes.append(node)
            continue
        short = name.meter.label if name.meter is not None else name.label
        nodes.append({**node, "label": short, "text": f"{name.label}<br>" + node["text"]})
    return {**plot, "nodes": nodes}


def named_suggestion(text: str, names: dict[str, DeviceName]) -> str:
    """A CIT suggestion (:func:`meshmeter.amr.cit.cit_report`) with each device's EUI-64 replaced by its
    name: ``between it and R1 corridor west`` rather than ``between it and 024d52a8f5110286``."""
    for eui64, name in names.items():
        if eui64 in text:
            text = text.replace(eui64, name.label)
    return text
