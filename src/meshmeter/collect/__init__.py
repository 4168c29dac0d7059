"""Adapters for real devices and the collector that runs them (``docs/collect.md``).

A device (a pulse counter on MQTT, a Modbus or SunSpec sub-meter, a utility meter heard by rtlamr) gives
*readings*: a cumulative value of one register at one moment (:class:`~meshmeter.collect.readings.Reading`).
:func:`~meshmeter.collect.readings.advance` turns each channel's readings into intervals on its meter's own
grid; the collector stores them, with the channel's position, in one transaction, and from there on they
are raw intervals like any other (``docs/architecture.md``, "one interval's journey").

Layer: ``store <- headend <- collect``; services, the CLI and the API sit above.
"""
