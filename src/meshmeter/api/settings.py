"""Settings of the API, read from the environment (prefix ``MESHMETER_``) and checked at start-up.

As in the FastAPI full-stack template, a server refuses to start with a default or missing secret outside
development: in production ``MESHMETER_ADMIN_TOKEN`` (the bootstrap admin token) must be set, at least
:data:`MIN_ADMIN_TOKEN_LENGTH` characters long, and not a well-known placeholder.
"""

from __future__ import annotations

import warnings
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MIN_ADMIN_TOKEN_LENGTH", "PLACEHOLDER_SECRETS", "Settings"]

MIN_ADMIN_TOKEN_LENGTH = 32
"""Shortest bootstrap admin token accepted in production. [characters]"""

PLACEHOLDER_SECRETS = frozenset({"changethis", "changeme", "secret", "admin", "password"})
"""Values that are never a secret."""


class Settings(BaseSettings):
    """
    The API's settings.

    Attributes
    ----------
    database_url : str or None
        ``MESHMETER_DATABASE_URL``: the store (``docs/store.md``); None gives the store's default.
    environment : {"development", "production"}
        ``MESHMETER_ENVIRONMENT``; default ``"development"``.
    admin_token : SecretStr or None
        ``MESHMETER_ADMIN_TOKEN``: a bootstrap token with the admin role, with which the first stored
        tokens are made (``POST /tokens``). Required in production.
    """

    model_config = SettingsConfigDict(env_prefix="MESHMETER_", extra="ignore")

    database_url: str | None = None
    environment: Literal["development", "production"] = "development"
    admin_token: SecretStr | None = None

    @model_validator(mode="after")
    def _check_admin_token(self) -> Settings:
        problem = None
        secret = None if self.admin_token is None else self.admin_token.get_secret_value()
        if secret is None:
            if self.environment == "production":
                problem = "MESHMETER_ADMIN_TOKEN must be set in production (the bootstrap admin token)"
        elif secret.lower() in PLACEHOLDER_SECRETS:
            problem = f"MESHMETER_ADMIN_TOKEN is the placeholder {secret!r}; set a random secret"
        elif len(secret) < MIN_ADMIN_TOKEN_LENGTH:
            problem = f"MESHMETER_ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN_LENGTH} characters long"
        if problem is not None:
            if self.environment == "production":
                raise ValueError(problem)
            if secret is not None:
                warnings.warn(f"{problem} (accepted in development only)", stacklevel=2)
        return self
