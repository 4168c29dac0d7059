"""Fixtures of the site tests: the store tests' PostgreSQL schema fixture (skipped without its URL)."""

from __future__ import annotations

from tests.store.conftest import postgres_schema_url

__all__ = ["postgres_schema_url"]
