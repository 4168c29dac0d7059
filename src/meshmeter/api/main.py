"""The application: :func:`create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from meshmeter import __version__
from meshmeter.api.auth import check_route_table
from meshmeter.api.cache import ReadCache
from meshmeter.api.dashboard import install_dashboard
from meshmeter.api.deps import current_principal
from meshmeter.api.limits import check_guarded, install_limits
from meshmeter.api.problems import install_problem_handlers
from meshmeter.api.routes import api_router, dashboard_meters, dashboard_tenants
from meshmeter.api.routes.dashboard import BillsProvider
from meshmeter.api.routes.network import NetworkReportProvider
from meshmeter.api.settings import Settings
from meshmeter.headend.alerts import CommunicationWatch
from meshmeter.store import Store

__all__ = ["create_app"]

_DESCRIPTION = """\
The head-end behind the DCAP: sites, meters, interval data, register reads and events of a
meshmeter installation.

Every route needs `Authorization: Bearer <token>`; the token's role (admin, operator, billing,
read-only) decides what it may do. Errors are RFC 9457 problem documents (`application/problem+json`).
See `docs/api.md`.
"""


def create_app(
    store: Store | None = None,
    settings: Settings | None = None,
    *,
    network_report: NetworkReportProvider | None = None,
    bills: BillsProvider | None = None,
) -> FastAPI:
    """
    Build the API.

    Parameters
    ----------
    store : Store, optional
        The store to serve; the caller keeps it open and closes it. Without it, the app opens
        ``settings.database_url`` (or the store's default) and closes it at shutdown.
    settings : Settings, optional
        Without them, read from the environment (``MESHMETER_*``) and checked: in production a missing,
        short or placeholder ``MESHMETER_ADMIN_TOKEN`` refuses to start (``ValueError``).
    network_report : callable, optional
        Gives the latest CIT report of the radio network (manual §5.2), or None; ``GET /network/health``
        adds its summary. Default none.
    bills : callable, optional
        Gives the tenants' bills (``meshmeter.billing.Bill``) that the dashboard's bills pages list,
        in a stable order. Default none: the pages list the bills of the store (``Store.list_bills``).

    Returns
    -------
    FastAPI
        The app: every route checks the caller's role (:data:`meshmeter.api.auth.ROUTE_ROLES`).
    """
    settings = settings if settings is not None else Settings()
    owned = store is None
    served = store if store is not None else Store(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Communication loss checked periodically while serving (docs/alerts.md), not only on demand.
        watch = None
        if settings.alert_check_s > 0:
            watch = CommunicationWatch(served, every_s=settings.alert_check_s, silence_s=settings.silence_s)
            watch.start()
        _app.state.communication_watch = watch
        try:
            yield
        finally:
            if watch is not None:
                watch.stop()
            if owned:
                served.close()

    app = FastAPI(
        title="meshmeter",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.store = served
    app.state.settings = settings
    app.state.read_cache = ReadCache(round(settings.read_cache_mb * 2**20))
    app.state.network_report = network_report
    app.state.bills = bills
    app.state.admin_token = None if settings.admin_token is None else settings.admin_token.get_secret_value()
    install_problem_handlers(app)
    # Every API route is a GuardedRoute: the caller is authorized, and the body bounded, before the body
    # is read (meshmeter.api.limits); the dependency then gives the principal found.
    app.include_router(api_router, dependencies=[Depends(current_principal)])
    app.include_router(dashboard_meters.router, dependencies=[Depends(current_principal)])
    app.include_router(dashboard_tenants.router, dependencies=[Depends(current_principal)])
    install_dashboard(app)
    install_limits(app)
    check_route_table(app)
    check_guarded(app)
    return app
