"""Typed dependencies of the routes (as in the FastAPI full-stack template)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from meshmeter.api.auth import Principal, authorize
from meshmeter.store import Store

__all__ = ["PrincipalDep", "StoreDep", "get_store"]


def get_store(request: Request) -> Store:
    """The app's store."""
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(get_store)]
PrincipalDep = Annotated[Principal, Depends(authorize)]
