"""Wireless AMR: frames and their security, radio channel, MDT, repeater, DCAP radio side, the SimPy mesh."""
