"""The interface of ``meshmeter.headend.greenbutton`` after its split into modules (issue 11)."""

from __future__ import annotations

import meshmeter.headend.greenbutton as greenbutton
from meshmeter.errors import MeshmeterError
from meshmeter.headend.greenbutton import ACCUMULATION_DELTA, FLOW_FORWARD, GreenButtonError

# The names the single module exported before the split.
EXPORTED = {
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
}


def test_the_package_exports_what_the_module_did() -> None:
    assert set(greenbutton.__all__) == EXPORTED
    assert all(getattr(greenbutton, name) is not None for name in EXPORTED)
    assert (ACCUMULATION_DELTA, FLOW_FORWARD) == (4, 1)


def test_green_button_error_keeps_its_reason_and_kinds() -> None:
    error = GreenButtonError("malformed", "not well-formed XML")
    assert isinstance(error, MeshmeterError)
    assert isinstance(error, ValueError)
    assert (error.reason, error.detail) == ("malformed", "not well-formed XML")
    assert error.args == ("malformed", "not well-formed XML")
    assert str(error) == "malformed: not well-formed XML"
    assert str(GreenButtonError("empty")) == "empty"
