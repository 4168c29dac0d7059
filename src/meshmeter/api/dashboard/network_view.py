"""Names of the radio network's devices, as people name them (issue 15): no EUI-64 first.

An MDT is named by the meter and unit it serves (``MDT of Unit 101``), a repeater by the name the site
file gave it (``R1 corridor west``, kept in its ``install`` event by ``meshmeter demo`` and
``meshmeter site simulate``) or else ``Repeater 1..N`` in the CIT report's order, the DCAP likewise.
The EUI-64 stays one line below. The names are made in :mod:`meshmeter.services.device_names`, for
this page and ``meshmeter cit`` alike; no HTTP and no HTML here (``docs/dashboard.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meshmeter.services.device_names import DeviceName, named_suggestion
from meshmeter.services.device_names import device_names as _device_names

if TYPE_CHECKING:
    from meshmeter.amr.cit import CitReport
    from meshmeter.services.names import MeterName
    from meshmeter.store import Event

__all__ = ["DeviceName", "device_names", "named_plot", "named_suggestion", "narrow_label", "plot_label"]


def device_names(
    report: CitReport, meters: dict[str, MeterName], installs: list[Event]
) -> dict[str, DeviceName]:
    """Every device of ``report`` by EUI-64, named: :func:`meshmeter.services.device_names.device_names`
    (one place for this page and ``meshmeter cit``)."""
    return _device_names(report.devices, meters, installs)


def narrow_label(name: DeviceName) -> str:
    """
    A device's label on a narrow drawing (a phone's): the word that tells it from its neighbours.

    For an MDT, the unit its meter measures (``101``, ``HOUSE``), or the meter's serial where its name
    says the serial (a meter of no unit, or one whose name another meter shares: the serial is what
    tells them apart), else the first word of the meter's name (``House`` of ``House meter``); with the
    EUI-64's last digits its name ends with, where two devices would still share it (``202 (…0011)``).
    For a repeater or the DCAP, the first word of the name (``R1`` of ``R1 corridor west``, ``DCAP`` of
    ``DCAP electrical room``); a numbered name stays whole (``Repeater 2``), its first word being only
    the kind of device.
    """
    meter = name.meter
    if meter is None:
        first, _, rest = name.label.partition(" ")
        return name.label if rest.isdigit() else first
    if meter.serial in name.label:
        short = meter.serial
    elif meter.unit is not None:
        short = meter.unit
    else:
        short = meter.label.partition(" ")[0]
    tail = name.label.rpartition(" ")[2]
    return f"{short} {tail}" if tail.startswith("(…") else short


def plot_label(name: DeviceName) -> str:
    """A device's label on a wide drawing: its name (:mod:`meshmeter.services.device_names`), an MDT's
    without the words ``MDT of`` (``Unit 101``, ``Unit meter MM00000001``), so that each is its own."""
    return name.label.removeprefix("MDT of ") if name.meter is not None else name.label


def named_plot(plot: dict[str, Any], names: dict[str, DeviceName]) -> dict[str, Any]:
    """The graph's JSON (:meth:`~meshmeter.api.dashboard.views.NetworkGraph.to_plot`) with each device
    labelled by its name: a unit (``Unit 101``) or a repeater's name, and on a narrow drawing by
    :func:`narrow_label` (``short``); the full name and the EUI-64 in the hover text."""
    nodes = []
    for node in plot["nodes"]:
        name = names.get(node["eui64"])
        if name is None:
            nodes.append(node)
            continue
        nodes.append(
            {
                **node,
                "label": plot_label(name),
                "short": narrow_label(name),
                "text": f"{name.label}<br>" + node["text"],
            }
        )
    return {**plot, "nodes": nodes}
