"""API tokens: make (the token is shown once), list, revoke. Admin only (``ROUTE_ROLES``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from meshmeter.api.auth import Role
from meshmeter.api.deps import StoreDep, StoreId
from meshmeter.api.limits import GuardedRoute
from meshmeter.api.models import TokenCreate, TokenCreated, TokenPublic, TokensPublic
from meshmeter.api.problems import Problem
from meshmeter.api.routes import problems
from meshmeter.errors import MeshmeterError
from meshmeter.store import ApiToken

router = APIRouter(prefix="/tokens", tags=["tokens"], route_class=GuardedRoute)


def _public(t: ApiToken) -> TokenPublic:
    return TokenPublic(
        id=t.id,
        prefix=t.prefix,
        role=Role(t.role),
        label=t.label,
        created_at=t.created_at,
        revoked_at=t.revoked_at,
        active=t.active,
        account_id=t.account_id,
        site_ids=list(t.site_ids),
    )


@router.get("", response_model=TokensPublic, summary="List API tokens", responses=problems())
def list_tokens(
    store: StoreDep,
    include_revoked: Annotated[bool, Query(description="list revoked tokens too")] = True,
) -> TokensPublic:
    """The tokens stored, by id: their prefix, role and state, never the tokens themselves."""
    data = [_public(t) for t in store.api_tokens(include_revoked=include_revoked)]
    return TokensPublic(data=data, count=len(data))


@router.post(
    "",
    response_model=TokenCreated,
    status_code=201,
    summary="Make an API token",
    responses=problems(400, 404),
)
def create_token(body: TokenCreate, store: StoreDep) -> TokenCreated:
    """Make a token with a role. The answer holds the token itself: it is shown this once and never again
    (only its SHA-256 is stored). A ``tenant`` token names its ``account_id`` (it reads that account only);
    an operator, billing or read-only token may name ``site_ids`` (it sees those sites only). 400 for an
    account or sites given to a role that takes none; 404 for an unknown account or site."""
    try:
        record, token = store.create_api_token(
            role=body.role.value, label=body.label, account_id=body.account_id, site_ids=body.site_ids
        )
    except MeshmeterError:
        raise
    except ValueError as exc:
        raise Problem(400, str(exc)) from None
    return TokenCreated(**_public(record).model_dump(), token=token)


@router.delete(
    "/{token_id}", response_model=TokenPublic, summary="Revoke an API token", responses=problems(404)
)
def revoke_token(token_id: StoreId, store: StoreDep) -> TokenPublic:
    """Revoke a token: it is refused (401) from now on. Idempotent: revoking again keeps the first time."""
    try:
        return _public(store.revoke_api_token(token_id=token_id))
    except ValueError:
        raise Problem(404, f"no API token has id {token_id}") from None
