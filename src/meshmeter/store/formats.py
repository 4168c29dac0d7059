"""Saved ingest formats: a mapping of a file's columns to intervals, kept by name (``docs/ingest.md``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update

from meshmeter.store import _validate as v
from meshmeter.store.base import StoreBase, _now
from meshmeter.store.schema import ingest_formats

__all__ = ["IngestFormatsMixin"]


class IngestFormatsMixin(StoreBase):
    """Saved ingest formats (mappings of files to intervals, ``docs/ingest.md``)."""

    def save_ingest_format(self, *, name: str, mapping: Mapping[str, Any]) -> bool:
        """
        Save an ingest mapping by name, replacing one of the same name; True when it is new.

        The mapping is JSON (``docs/ingest.md``); checking that it is a mapping that can be applied is the
        ingest's (:mod:`meshmeter.headend`), not the store's.
        """
        name = v.check_text("name", name)
        if not isinstance(mapping, Mapping):
            raise ValueError(f"mapping must be a JSON object, got {type(mapping).__name__}")
        document = dict(mapping)
        stamp = _now()
        with self._write() as c:
            found = c.execute(select(ingest_formats.c.name).where(ingest_formats.c.name == name)).first()
            if found is None:
                c.execute(
                    insert(ingest_formats).values(
                        name=name, mapping=document, created_at=stamp, updated_at=stamp
                    )
                )
                return True
            c.execute(
                update(ingest_formats)
                .where(ingest_formats.c.name == name)
                .values(mapping=document, updated_at=stamp)
            )
            return False

    def get_ingest_format(self, *, name: str) -> dict[str, Any] | None:
        """The saved ingest mapping of this name, or None."""
        with self._read() as c:
            found = c.execute(select(ingest_formats.c.mapping).where(ingest_formats.c.name == name)).scalar()
        return None if found is None else dict(found)

    def ingest_formats(self) -> dict[str, dict[str, Any]]:
        """Every saved ingest mapping, by name."""
        with self._read() as c:
            rows = c.execute(select(ingest_formats.c.name, ingest_formats.c.mapping).order_by("name")).all()
        return {r.name: dict(r.mapping) for r in rows}
