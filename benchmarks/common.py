"""What the benchmark scripts share: the PostgreSQL server to use, a private schema on it, percentiles."""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg

from meshmeter.store import ENV_DATABASE_URL, database_url

__all__ = ["libpq_url", "percentile", "pg_schema", "postgres_url"]


def libpq_url(url: str) -> str:
    """A URL psycopg takes (no ``+psycopg`` driver name, no SQLAlchemy-only query)."""
    return database_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_url() -> tuple[str | None, str]:
    """The PostgreSQL server to use, and why none when there is none."""
    for name in (ENV_DATABASE_URL, "MESHMETER_TEST_POSTGRES_URL"):
        url = os.environ.get(name)
        if url and database_url(url).get_backend_name() == "postgresql":
            return url, ""
    return None, "neither MESHMETER_DATABASE_URL nor MESHMETER_TEST_POSTGRES_URL names a PostgreSQL server"


@contextmanager
def pg_schema(url: str) -> Iterator[tuple[str, str]]:
    """A private schema, dropped afterwards: (the store's URL that uses it, the schema's name)."""
    schema = f"meshmeter_bench_{secrets.token_hex(4)}"
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield (
            database_url(url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False),
            schema,
        )
    finally:
        with psycopg.connect(libpq_url(url), autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted values (nearest rank); 0 for none."""
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]
