"""A site: meters, MDTs, repeaters, DCAP, tenants and load profiles, and the run of the whole twin."""
