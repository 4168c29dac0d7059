"""Answers of interval reads kept for the next reader: a bounded cache keyed by what they were made of.

A meter's interval view changes only when its intervals are written: new or revised raw rows, validated
rows, a VEE run. Each such write raises the meter's ``data_version`` in the writing transaction
(:attr:`~meshmeter.store.Meter.data_version`), whichever process writes (the API, an MQTT
receiver, ``meshmeter ingest`` or ``meshmeter vee`` on the same database). An answer is filed under the
meter, the version read (with the meter) *before* the view, and every parameter of the request; a later
write makes a new version, so an answer is never served for data that changed after it was made.

The same key gives the answer's ``ETag``: a client that sends it back in ``If-None-Match`` gets
``304 Not Modified`` with no body while the meter's intervals have not changed (``docs/api.md``).

Memory is bounded by the total size of the answers kept (``MESHMETER_READ_CACHE_MB``, default 64 MiB;
0 keeps none); the least recently used answer goes first.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from fastapi import Request, Response

__all__ = ["CachedAnswer", "ReadCache", "cached_answer", "read_cache"]


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A rendered answer: its body, media type and headers (without the ``ETag``)."""

    body: bytes
    media_type: str
    headers: tuple[tuple[str, str], ...] = ()


class ReadCache:
    """
    Least recently used answers, at most ``max_bytes`` of bodies in all; safe across threads.

    Parameters
    ----------
    max_bytes : int
        The most body bytes kept; 0 keeps nothing (every ``get`` misses). An answer larger than a quarter
        of it is not kept (it would push out many others). [byte]
    """

    def __init__(self, max_bytes: int) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            raise ValueError(f"max_bytes must be a non-negative integer, got {max_bytes!r}")
        self.max_bytes = max_bytes
        self._answers: OrderedDict[Hashable, CachedAnswer] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._answers)

    @property
    def size_bytes(self) -> int:
        """Body bytes kept now. [byte]"""
        return self._bytes

    def get(self, key: Hashable) -> CachedAnswer | None:
        """The answer filed under ``key``, made the most recently used; None when there is none."""
        with self._lock:
            found = self._answers.get(key)
            if found is None:
                self.misses += 1
                return None
            self._answers.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: Hashable, answer: CachedAnswer) -> None:
        """File ``answer`` under ``key``; the least recently used answers go until it fits."""
        size = len(answer.body)
        if size > self.max_bytes // 4:
            return
        with self._lock:
            old = self._answers.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._answers[key] = answer
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._answers.popitem(last=False)
                self._bytes -= len(dropped.body)


def read_cache(request: Request) -> ReadCache:
    """The app's cache (``app.state.read_cache``, made by :func:`~meshmeter.api.main.create_app`)."""
    cache: ReadCache = request.app.state.read_cache
    return cache


def _etag(key: Hashable) -> str:
    return '"' + hashlib.blake2b(repr(key).encode(), digest_size=12).hexdigest() + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


CACHE_CONTROL = "private, no-cache"
"""Answers carry the caller's data: kept by the caller only (private), and checked again before each use
(no-cache: with ``If-None-Match``, which costs a 304 and no body while nothing changed)."""


def cached_answer(request: Request, key: Hashable, make: Callable[[], CachedAnswer]) -> Response:
    """
    The answer filed under ``key`` in the app's cache, else ``make()``'s, filed there; or 304 when the
    request's ``If-None-Match`` names it. Every answer carries its ``ETag`` and ``Cache-Control``.

    ``key`` must hold everything the answer depends on, the data version of what it reads included.
    """
    etag = _etag(key)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    cache = read_cache(request)
    answer = cache.get(key)
    if answer is None:
        answer = make()
        cache.put(key, answer)
    return Response(answer.body, media_type=answer.media_type, headers={**dict(answer.headers), **headers})
