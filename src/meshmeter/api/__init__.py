"""The FastAPI app of the head-end: REST routes over the store (``docs/api.md``).

Only this package turns domain errors into HTTP errors (RFC 9457 problem documents)::

    from meshmeter.api import create_app

    app = create_app()  # settings from MESHMETER_*, the store at MESHMETER_DATABASE_URL
"""

from __future__ import annotations

from meshmeter.api.auth import ROUTE_ROLES, Principal, Role
from meshmeter.api.main import create_app
from meshmeter.api.settings import Settings

__all__ = ["ROUTE_ROLES", "Principal", "Role", "Settings", "create_app"]
