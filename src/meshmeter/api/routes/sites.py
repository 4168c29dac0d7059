"""Sites."""

from __future__ import annotations

from fastapi import APIRouter

from meshmeter.api.deps import StoreDep, StoreId, known_site
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.models import SitePublic, SitesPublic
from meshmeter.api.routes import problems

router = APIRouter(prefix="/sites", tags=["sites"], route_class=GuardedRoute)


@router.get("", response_model=SitesPublic, summary="List sites", responses=problems())
def list_sites(store: StoreDep) -> SitesPublic:
    """Every site, by id."""
    data = [SitePublic(id=s.id, name=s.name, timezone=s.timezone) for s in store.sites()]
    return SitesPublic(data=data, count=len(data))


@router.get("/{site_id}", response_model=SitePublic, summary="Get a site", responses=problems(404))
def get_site(site_id: StoreId, store: StoreDep) -> SitePublic:
    """One site by its id; 404 when there is none."""
    site = known_site(store, site_id)
    return SitePublic(id=site.id, name=site.name, timezone=site.timezone)
