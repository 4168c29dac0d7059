"""The meter twin: metrology, CTs, registers and demand, pulse outputs, LEDs, LCD, seals, diagnostics."""
