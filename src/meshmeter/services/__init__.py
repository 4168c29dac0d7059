"""Application services: the flows every entry point runs, so that a flow behaves the same from every door.

The CLI, the API, the demo and the dashboard are thin callers of these (``docs/architecture.md``, the house):

- :mod:`meshmeter.services.ingest`: after an ingest by any door, VEE over what it took, so that it is billable
  at once (``meshmeter ingest --vee``, ``POST /intervals?vee=true``).
- :mod:`meshmeter.services.billing`: bill a meter's account, or share a site's master bill, from the store's
  validated view (:meth:`meshmeter.store.Store.interval_view`), and keep the bills.
- :mod:`meshmeter.services.meterlife`: record a meter's life (install, removal, exchange, multiplier, CT
  ratio) by serial and local time, and find what served a meter's place over a billing period.
- :mod:`meshmeter.services.simulation`: store a simulated site as the head-end would have received it, run
  VEE over it and bill it (``meshmeter site simulate``, ``meshmeter demo``).

A service reads and writes the store and calls the pure domain packages (billing, headend); it prints
nothing and knows nothing of HTTP or the command line. Its errors are subclasses of
:class:`~meshmeter.errors.MeshmeterError`, which the API turns into problem responses and the CLI into an
exit code.
"""

from __future__ import annotations
