"""API tokens: ``mm_`` and 256 random bits, of which only the SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from meshmeter.errors import TenancyError
from meshmeter.store import _validate as v
from meshmeter.store.base import StoreBase, _now
from meshmeter.store.models import ApiToken
from meshmeter.store.schema import (
    API_TOKEN_ROLES,
    SITE_BOUND_ROLES,
    accounts,
    api_token_sites,
    api_tokens,
    sites,
)

__all__ = ["API_TOKEN_PREFIX", "TokensMixin", "hash_api_token"]


API_TOKEN_PREFIX = "mm_"
"""Every API token starts with this, so that a leaked one is easy to recognise (and to scan for)."""


def hash_api_token(token: str) -> bytes:
    """
    The SHA-256 of an API token, as stored.

    A token carries 256 random bits, so a fast hash suffices: there is nothing to guess that a slow
    hash (scrypt) would protect better, and every request checks one.
    """
    return hashlib.sha256(token.encode("utf-8")).digest()


def _api_token(r: Row[Any], site_ids: Collection[int] = ()) -> ApiToken:
    account_id = None if r.account_id is None else int(r.account_id)
    return ApiToken(
        r.id, r.prefix, r.role, r.label, r.created_at, r.revoked_at, account_id, tuple(sorted(site_ids))
    )


def _sites_of(c: Connection, token_ids: list[int]) -> dict[int, list[int]]:
    """The sites each of these tokens is bound to."""
    out: dict[int, list[int]] = {}
    if token_ids:
        t = api_token_sites
        for token_id, site_id in c.execute(
            select(t.c.token_id, t.c.site_id).where(t.c.token_id.in_(token_ids))
        ):
            out.setdefault(int(token_id), []).append(int(site_id))
    return out


class TokensMixin(StoreBase):
    """API tokens: only their hashes are stored."""

    def create_api_token(
        self,
        *,
        role: str,
        label: str | None = None,
        account_id: int | None = None,
        site_ids: Collection[int] = (),
        now: datetime | None = None,
    ) -> tuple[ApiToken, str]:
        """
        Make a new API token.

        Parameters
        ----------
        role : str
            One of :data:`~meshmeter.store.schema.API_TOKEN_ROLES`.
        label : str, optional
            Who or what holds it.
        account_id : int, optional
            The account of a ``tenant`` token: required for that role, refused for any other.
        site_ids : collection of int, optional
            The sites an ``operator``, ``billing`` or ``read-only`` token is bound to (it sees nothing of
            other sites); empty (default): every site. Refused for ``admin`` and ``tenant`` tokens.
        now : datetime, optional
            When; default now.

        Returns
        -------
        (ApiToken, str)
            The record stored, and the token itself: ``mm_`` and 43 URL-safe characters (256 random
            bits). Only its SHA-256 is stored, so this is the one time it can be seen.

        Raises
        ------
        ValueError
            A role unknown, an account missing or not allowed, sites not allowed.
        TenancyError
            An account or a site that is not known (every one named).
        """
        role = v.check_choice("role", role, API_TOKEN_ROLES, shown=str(list(API_TOKEN_ROLES)))
        if label is not None:
            label = v.check_text("label", label)
        if role == "tenant" and account_id is None:
            raise ValueError("a tenant token needs account_id: the one account it reads")
        if role != "tenant" and account_id is not None:
            raise ValueError(f"account_id goes with the tenant role only, not {role!r}")
        if account_id is not None:
            account_id = v.check_id("account_id", account_id)
        bound = sorted({v.check_id("site_ids", s) for s in site_ids})
        if bound and role not in SITE_BOUND_ROLES:
            raise ValueError(
                f"site_ids go with the roles {', '.join(SITE_BOUND_ROLES)}; a {role} token is never bound "
                "to sites"
            )
        stamp = _now() if now is None else v.check_utc("now", now)
        token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        prefix = token[: len(API_TOKEN_PREFIX) + 6]
        with self._write() as c:
            problems = []
            held = select(accounts.c.id).where(accounts.c.id == account_id)
            if account_id is not None and c.execute(held).first() is None:
                problems.append(f"account_id {account_id} is not a known account")
            known = {int(i) for (i,) in c.execute(select(sites.c.id).where(sites.c.id.in_(bound)))}
            problems += [f"site_id {s} is not a known site" for s in bound if s not in known]
            if problems:
                raise TenancyError(problems, unknown=True)
            token_id = c.execute(
                insert(api_tokens)
                .values(
                    token_hash=hash_api_token(token),
                    prefix=prefix,
                    role=role,
                    label=label,
                    created_at=stamp,
                    account_id=account_id,
                )
                .returning(api_tokens.c.id)
            ).scalar_one()
            if bound:
                c.execute(insert(api_token_sites), [{"token_id": token_id, "site_id": s} for s in bound])
        return ApiToken(int(token_id), prefix, role, label, stamp, None, account_id, tuple(bound)), token

    def find_api_token(self, *, token: str) -> ApiToken | None:
        """The stored token whose hash is that of ``token`` (revoked or not), with its account and sites,
        or None."""
        if not isinstance(token, str) or not token:
            return None
        t, bound = api_tokens, api_token_sites
        query = (
            select(t, bound.c.site_id.label("bound_site_id"))
            .select_from(t.outerjoin(bound, bound.c.token_id == t.c.id))
            .where(t.c.token_hash == hash_api_token(token))
        )
        with self._read_one() as c:  # one statement: the token and its sites, a row per site
            rows = c.execute(query).all()
        if not rows:
            return None
        return _api_token(rows[0], [int(r.bound_site_id) for r in rows if r.bound_site_id is not None])

    def revoke_api_token(self, *, token_id: int, at: datetime | None = None) -> ApiToken:
        """
        Revoke a token; idempotent (revoking it again keeps the first time).

        Raises
        ------
        ValueError
            When no token has this id.
        """
        token_id = v.check_id("token_id", token_id)
        stamp = _now() if at is None else v.check_utc("at", at)
        t = api_tokens
        with self._write() as c:
            self._require(c, t, token_id, "token_id", "API token")
            c.execute(update(t).where(t.c.id == token_id, t.c.revoked_at.is_(None)).values(revoked_at=stamp))
            row = c.execute(select(t).where(t.c.id == token_id)).one()
            bound = _sites_of(c, [token_id]).get(token_id, [])
        return _api_token(row, bound)

    def api_tokens(self, *, include_revoked: bool = True) -> list[ApiToken]:
        """The tokens stored (never the tokens themselves), by id."""
        query = select(api_tokens).order_by(api_tokens.c.id)
        if not include_revoked:
            query = query.where(api_tokens.c.revoked_at.is_(None))
        with self._read() as c:
            rows = c.execute(query).all()
            bound = _sites_of(c, [int(r.id) for r in rows])
        return [_api_token(r, bound.get(int(r.id), [])) for r in rows]
