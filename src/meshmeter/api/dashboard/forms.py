"""The dashboard's form posts: read one ``application/x-www-form-urlencoded`` body, within its limit.

Every form of the dashboard (the VEE work list's acts, the site's management) posts with the session
cookie from the dashboard's own pages (:data:`meshmeter.api.auth.COOKIE_FORMS`), and is read here: the body
within the route's limit of :data:`meshmeter.api.limits.BODY_LIMITS` (413 beyond it), each field once
(the first value of a repeated field), blanks kept so that a refusal can name an empty field.

A form done sends the browser back to its page (303) with ``?done=`` naming what was done
(:func:`done_target`), and the page says so in words (:func:`done_message`, shown by ``base.html``): the
words come from :data:`DONE`, never from the address, so a link cannot make a page say anything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import parse_qs, urlencode

from fastapi import Request

from meshmeter.api.deps import MAX_ID, known_site
from meshmeter.api.limits import body_limit
from meshmeter.api.problems import Problem
from meshmeter.store import Site, Store

__all__ = ["DONE", "done_message", "done_target", "form_id", "read_form"]

DONE: Final[Mapping[str, str]] = {
    "vee_accept": "Done: the estimate is accepted, recorded with your name and reason.",
    "vee_edit": "Done: the interval is edited, recorded with your name and reason.",
    "vee_reread": "Done: a re-read is asked for, recorded with your name and reason.",
    "new_tenant": "Done: the tenant and the account are recorded.",
    "move_in": "Done: the move-in is recorded.",
    "move_out": "Done: the move-out is recorded.",
    "transfer": "Done: the transfer is recorded.",
    "close": "Done: the account is closed.",
    "new_unit": "Done: the unit is added.",
    "meter_register": "Done: the meter is registered.",
    "meter_exchange": "Done: the exchange is recorded.",
    "meter_remove": "Done: the meter's removal is recorded.",
    "meter_install": "Done: the meter's installation is recorded.",
    "meter_multiplier": "Done: the new multiplier is recorded.",
    "meter_ct_ratio": "Done: the new CT ratio is recorded.",
    "source_add": "Done: the source is added; a running collector takes it at its next round.",
    "source_enable": "Done: the source is enabled.",
    "source_disable": "Done: the source is disabled.",
    "source_map": "Done: the channel is mapped.",
    "tariff_set": "Done: the tariff is set.",
}
"""What each form says once done, by the code its redirect carries (``?done=``)."""


async def read_form(request: Request) -> dict[str, str]:
    """The form's fields, read within the route's body limit; 413 when the body is larger."""
    route = request.scope.get("route")
    limit = body_limit(request.method, getattr(route, "path", request.url.path))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Problem(413, f"the form is larger than {limit} bytes")
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def form_id(form: dict[str, str], name: str) -> int | None:
    """The form's field ``name`` as a store id (1 … MAX_ID), or None when it is absent or not one."""
    text = form.get(name, "").strip()
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_ID else None


def form_site(store: Store, form: dict[str, str]) -> Site:
    """The site the form's ``site_id`` names, as the caller sees it; 404 naming what was sent when it is
    not an id or names no site the caller sees (every form of the dashboard carries its page's site)."""
    site_id = form_id(form, "site_id")
    if site_id is None:
        raise Problem(404, f"no site has id {form.get('site_id', '')!r}")
    return known_site(store, site_id)


def done_target(target: str, done: str) -> str:
    """``target`` (a dashboard path, with a query and a ``#fragment`` or not) with ``done=`` added to its
    query, before its fragment; ``target`` as it is for a code with no words (the act is done all the same:
    the page then says nothing of it)."""
    if done not in DONE:
        return target
    path, hash_, fragment = target.partition("#")
    joined = f"{path}{'&' if '?' in path else '?'}{urlencode({'done': done})}"
    return f"{joined}{hash_}{fragment}"


def done_message(request: Request) -> str | None:
    """What the form just done says (``?done=`` of :data:`DONE`); None when nothing was done."""
    return DONE.get(request.query_params.get("done", ""))
