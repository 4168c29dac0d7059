"""API tokens: ``mm_`` and 256 random bits, of which only the SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update

from meshmeter.store import _validate as v
from meshmeter.store.base import StoreBase, _now
from meshmeter.store.models import ApiToken
from meshmeter.store.schema import API_TOKEN_ROLES, api_tokens

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


def _api_token(r: Row[Any]) -> ApiToken:
    return ApiToken(r.id, r.prefix, r.role, r.label, r.created_at, r.revoked_at)


class TokensMixin(StoreBase):
    """API tokens: only their hashes are stored."""

    def create_api_token(
        self, *, role: str, label: str | None = None, now: datetime | None = None
    ) -> tuple[ApiToken, str]:
        """
        Make a new API token.

        Parameters
        ----------
        role : str
            One of :data:`~meshmeter.store.schema.API_TOKEN_ROLES`.
        label : str, optional
            Who or what holds it.
        now : datetime, optional
            When; default now.

        Returns
        -------
        (ApiToken, str)
            The record stored, and the token itself: ``mm_`` and 43 URL-safe characters (256 random
            bits). Only its SHA-256 is stored, so this is the one time it can be seen.
        """
        role = v.check_choice("role", role, API_TOKEN_ROLES, shown=str(list(API_TOKEN_ROLES)))
        if label is not None:
            label = v.check_text("label", label)
        stamp = _now() if now is None else v.check_utc("now", now)
        token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        prefix = token[: len(API_TOKEN_PREFIX) + 6]
        with self._write() as c:
            token_id = c.execute(
                insert(api_tokens)
                .values(
                    token_hash=hash_api_token(token), prefix=prefix, role=role, label=label, created_at=stamp
                )
                .returning(api_tokens.c.id)
            ).scalar_one()
        return ApiToken(int(token_id), prefix, role, label, stamp, None), token

    def find_api_token(self, *, token: str) -> ApiToken | None:
        """The stored token whose hash is that of ``token`` (revoked or not), or None."""
        if not isinstance(token, str) or not token:
            return None
        with self._read_one() as c:
            row = c.execute(
                select(api_tokens).where(api_tokens.c.token_hash == hash_api_token(token))
            ).first()
        return None if row is None else _api_token(row)

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
        return _api_token(row)

    def api_tokens(self, *, include_revoked: bool = True) -> list[ApiToken]:
        """The tokens stored (never the tokens themselves), by id."""
        query = select(api_tokens).order_by(api_tokens.c.id)
        if not include_revoked:
            query = query.where(api_tokens.c.revoked_at.is_(None))
        with self._read() as c:
            rows = c.execute(query).all()
        return [_api_token(r) for r in rows]
