"""Green Button (NAESB REQ.21 ESPI, Atom) export, parsing and import (``docs/greenbutton.md``).

One module per concept, each depending only on those above it:

- :mod:`~meshmeter.headend.greenbutton.dst`: ESPI ``LocalTimeParameters`` and its DST rules:
  :class:`DstRule` encodes and decodes a 32-bit ``DstRuleType`` (usage.xsd), :class:`LocalTimeParameters`
  gives the UTC offset its rules imply, and :func:`local_time_parameters` derives them for an IANA time
  zone from the time zone database;
- :mod:`~meshmeter.headend.greenbutton.model`: the ESPI resources as dataclasses (:class:`ReadingType`,
  :class:`IntervalReading`, :class:`MeterReading`, :class:`UsagePoint`, :class:`GreenButtonData`,
  :class:`ImportResult` ...), the namespaces and codes (:data:`UOM_WH`, ``FLOW_FORWARD``,
  ``ACCUMULATION_DELTA``) and :class:`GreenButtonError`;
- :mod:`~meshmeter.headend.greenbutton.parse`: :func:`parse_greenbutton` reads a file safely (expat
  through defusedxml: no DTD, no entity, no external reference) into :class:`GreenButtonData`;
- :mod:`~meshmeter.headend.greenbutton.importer`: :func:`import_greenbutton` stores a file's Wh readings
  as raw intervals of a known meter at its own interval length, refusing the whole file on bad input,
  and keeps the file's quality codes 7, 8, 9 and 10 as validated intervals (:func:`import_quality`);
- :mod:`~meshmeter.headend.greenbutton.write`: :func:`export_greenbutton` writes one meter's validated
  intervals as an Atom feed of ESPI resources (UsagePoint, LocalTimeParameters, MeterReading,
  ReadingType, one IntervalBlock per local day) that validates against the ESPI 3.3 schema
  ``usage.xsd``.

Import from this package; the modules are its layout, not separate interfaces.
"""

from __future__ import annotations

from meshmeter.headend.greenbutton.dst import (
    DST_RULE_DISABLED,
    DstRule,
    LocalTimeParameters,
    local_time_parameters,
)
from meshmeter.headend.greenbutton.importer import import_greenbutton, import_quality
from meshmeter.headend.greenbutton.model import ACCUMULATION_DELTA as ACCUMULATION_DELTA
from meshmeter.headend.greenbutton.model import (
    ATOM_NS,
    ESPI_NS,
    INTERVAL_S,
    UOM_WH,
    GreenButtonData,
    GreenButtonError,
    ImportResult,
    IntervalBlock,
    IntervalReading,
    MeterReading,
    ReadingType,
    SummaryMeasurement,
    UsagePoint,
    UsageSummary,
)
from meshmeter.headend.greenbutton.model import FLOW_FORWARD as FLOW_FORWARD
from meshmeter.headend.greenbutton.parse import parse_greenbutton
from meshmeter.headend.greenbutton.write import export_greenbutton

# ACCUMULATION_DELTA and FLOW_FORWARD are importable from here, as before the split, though not in __all__.
__all__ = [
    "ATOM_NS",
    "DST_RULE_DISABLED",
    "ESPI_NS",
    "INTERVAL_S",
    "UOM_WH",
    "DstRule",
    "GreenButtonData",
    "GreenButtonError",
    "ImportResult",
    "IntervalBlock",
    "IntervalReading",
    "LocalTimeParameters",
    "MeterReading",
    "ReadingType",
    "SummaryMeasurement",
    "UsagePoint",
    "UsageSummary",
    "export_greenbutton",
    "import_greenbutton",
    "import_quality",
    "local_time_parameters",
    "parse_greenbutton",
]
