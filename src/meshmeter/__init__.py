"""meshmeter: electricity sub-metering with wireless automatic meter reading.

A twin of a CT-rated kWh meter (the "Mini Meter", ``docs/meter.md``), of its wireless
AMR mesh, and the head-end software behind the Data Concentrating Access Point.
"""

from meshmeter.errors import MeshmeterError

__version__ = "0.1.0"

__all__ = ["MeshmeterError", "__version__"]
