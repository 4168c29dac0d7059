"""Register maps of Modbus and SunSpec sub-meters, as TOML data files (``docs/collect-modbus.md``).

Each ``*.toml`` file here is one device's map, read by :func:`meshmeter.collect.modbus.load_map`.
"""
