"""Settings of the API, read from the environment (prefix ``MESHMETER_``) and checked at start-up.

As in the FastAPI full-stack template, a server refuses to start with a default or missing secret outside
development: in production ``MESHMETER_ADMIN_TOKEN`` (the bootstrap admin token) must be set, at least
:data:`MIN_ADMIN_TOKEN_LENGTH` characters long, and not a well-known placeholder.
"""

from __future__ import annotations

import warnings
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from meshmeter.headend.alerts import DEFAULT_SILENCE_S

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
    alert_check_s : float
        ``MESHMETER_ALERT_CHECK_S``: while the app runs, communication loss is checked this often, the
        first time one period after start-up (``docs/alerts.md``); 0 checks only on demand. Default 300. [s]
    silence_s : float
        ``MESHMETER_SILENCE_S``: a meter with no interval ending within this is silent; default two
        hours. [s]
    auth_max_failures : int
        ``MESHMETER_AUTH_MAX_FAILURES``: failed authentications (a token presented and refused) of one
        client address within ``auth_failure_window_s`` after which that address is answered 429, before
        its token is even looked up, until the oldest of them leaves the window. Default 10.
    auth_failure_window_s : float
        ``MESHMETER_AUTH_FAILURE_WINDOW_S``: the sliding window of ``auth_max_failures``; default
        300. [s]
    auth_max_clients : int
        ``MESHMETER_AUTH_MAX_CLIENTS``: most client addresses whose failures are remembered; beyond it
        the address that failed least recently is forgotten. Default 10 000.
    read_cache_mb : float
        ``MESHMETER_READ_CACHE_MB``: the most memory kept for answers of interval reads, served again
        until the meter's intervals change (:mod:`meshmeter.api.cache`); 0 keeps none. Default 64. [MiB]
    cookie_secure : bool or None
        ``MESHMETER_COOKIE_SECURE``: whether the dashboard's session cookie carries ``Secure`` (sent over
        https only). Default None: on outside development (:attr:`session_cookie_secure`). A request
        that came over https always gets ``Secure``.
    """

    model_config = SettingsConfigDict(env_prefix="MESHMETER_", extra="ignore")

    database_url: str | None = None
    environment: Literal["development", "production"] = "development"
    admin_token: SecretStr | None = None
    alert_check_s: float = Field(default=300.0, ge=0, le=86400, allow_inf_nan=False)
    silence_s: float = Field(default=DEFAULT_SILENCE_S, gt=0, le=366 * 86400, allow_inf_nan=False)
    auth_max_failures: int = Field(default=10, ge=1, le=1000)
    auth_failure_window_s: float = Field(default=300.0, gt=0, le=86400, allow_inf_nan=False)
    auth_max_clients: int = Field(default=10_000, ge=1, le=1_000_000)
    read_cache_mb: float = Field(default=64.0, ge=0, le=65536, allow_inf_nan=False)
    cookie_secure: bool | None = None

    @property
    def session_cookie_secure(self) -> bool:
        """Whether the session cookie carries ``Secure`` on a plain-http request: ``cookie_secure``, or
        outside development when it is not set (a TLS-ending proxy in front of the app)."""
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.environment != "development"

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
