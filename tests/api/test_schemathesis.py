"""The API against its own OpenAPI document (issue 12): schemathesis over every operation, every caller.

schemathesis loads ``/openapi.json`` from the app in process, over a store on each backend holding a
small dataset (the ``site_data`` fixture: sites, meters M1 to M3, a tenant and an account, intervals,
register reads, events; and a stored bill), and sends every operation requests made from the document:
its examples, the coverage phase's boundary cases (each parameter at its bounds: shortest and longest
text, smallest and largest id) and generated cases, valid and invalid (a parameter missing, of another
type, past its bounds). Parameters are drawn
most of the time from dictionaries (:data:`DICTIONARIES`): the dataset's serials and ids, so that paths
name existing things, and hostile values first (Hypothesis tries them early): text holding a NUL (which
PostgreSQL cannot hold) or too long, times at and past the ends of the calendar, time zones that are
not, ids past the store's 64-bit keys.

Each answer must be no server error (``not_a_server_error``) and conform to the document: a status code
it lists for the operation, a content type it lists for that status, a body its schema accepts.

The callers: a stored token of each role (the tenant's bound to the dataset's account), an operator
bound to one site, no token, a bad token. The admin's run is the deep one (every
route is open to it): examples, coverage and :data:`ADMIN_EXAMPLES` generated cases per operation. The
other callers differ from it only in the routes they are refused (401, 403, 429, before any parameter is
read) and in what the dashboard shows a role: their runs send :data:`OTHER_EXAMPLES` generated cases per
operation. The bad token's run passes the failed-authentication limit after ten requests (the default
settings), so its answers are 401 and then 429.

Reproducible and bounded for CI: derandomized with a fixed seed (the same requests every run), no example
database, no stateful phase: about 700 requests for the admin and 50 for each other caller, some 30 s of
the suite on 2 cores.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from functools import cache
from types import FunctionType, ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from meshmeter.api import Settings, create_app
from meshmeter.api.deps import MAX_ID
from meshmeter.store import Store
from tests.api.conftest import ADMIN_TOKEN

if TYPE_CHECKING:
    from schemathesis.schemas import BaseSchema
    from starlette.types import ASGIApp, Receive, Scope, Send

ADMIN_EXAMPLES = 5
"""Generated cases per operation for the admin, besides the examples and the coverage phase's."""

OTHER_EXAMPLES = 1
"""Generated cases per operation for every other caller (no coverage phase)."""

CALLERS = (
    "admin",
    "operator",
    "billing",
    "read-only",
    "tenant",
    "site-bound operator",
    "no token",
    "bad token",
)
"""The callers; the tenant is Tess's account, the site-bound operator is bound to the site Oak Court."""
BAD_TOKEN = "mm_" + "x" * 43
"""A token of the right form that no one holds."""

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)

SERIALS = ["M1\x00", "M1", "\x00", "NOPE", "M1\n", "M2", "x" * 300]
"""Meter serials: the dataset's, one unknown, and text that names nothing (a NUL, a line break, too long)."""

TIMES = [
    *("0001-01-01T00:00:00+14:00", "2024-03-01", "9999-12-31T23:59:59-14:00", "2024-03-02"),
    *("1969-12-31T23:59:59Z", "2024-04-01", "9999-12-31", "2024-03-01T08:00:00Z", "2024-03-01\x00"),
]
"""Times: in the dataset's days, and at and past the ends of the calendar."""

MONTHS = ["0001-01", "2024-03", "9999-12", "1970-01", "2024-13"]
ZONES = ["UTC\x00", "America/Los_Angeles", "Pacific/Kiritimati", "x" * 300, "UTC", "Mars/Olympus"]
NAMES = ["\x00", "tamper", "Ada\x00", "Ada", "x" * 300, "M1"]
"""Other names (an event's kind, an account)."""

INTEGERS = [1, 2, 3, 0, -1, MAX_ID, MAX_ID + 1, 2**64]
"""Integers: the dataset's ids, and past the bounds of the store's keys."""

DICTIONARIES = {
    "path.serial": ("serials", 0.8),
    "query.meter": ("serials", 0.8),
    "query.start": ("times", 0.8),
    "query.end": ("times", 0.8),
    "query.since": ("times", 0.8),
    "query.month": ("months", 0.8),
    "query.tz": ("zones", 0.8),
    "query.kind": ("names", 0.5),
    "query.account": ("names", 0.5),
}
"""Parameter → the dictionary its values are drawn from, and how often (else from its schema)."""


def _config(headers: dict[str, str], *, deep: bool) -> Any:
    import schemathesis

    return schemathesis.Config.from_dict(
        {
            "seed": 20240301,
            "headers": headers,
            "continue-on-failure": True,
            "dictionaries": {
                name: {"values": values}
                for name, values in (
                    ("serials", SERIALS),
                    ("times", TIMES),
                    ("months", MONTHS),
                    ("zones", ZONES),
                    ("names", NAMES),
                    ("integers", INTEGERS),
                )
            },
            "parameters": {
                key: {"dictionary": name, "probability": probability}
                for key, (name, probability) in DICTIONARIES.items()
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "phases": {
                # valid boundary cases only: the invalid ones are FastAPI's 422, which fuzzing samples too
                "coverage": {"enabled": deep, "unexpected-methods": [], "generation": {"mode": "positive"}},
                "stateful": {"enabled": False},
            },
            "generation": {
                "max-examples": ADMIN_EXAMPLES if deep else OTHER_EXAMPLES,
                "deterministic": True,
                "database": "none",
                "dictionaries": {"integer": {"dictionary": "integers", "probability": 0.5}},
            },
        }
    )


class AsServed:
    """
    The app as a server runs it: the exception behind a 500 answer is kept (a server logs it), not raised
    into the client, so that the 500 is checked, with its request, like any answer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.raised: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:  # Starlette answered 500, then raised it again
            if scope["type"] != "http":
                raise
            self.raised.append(f"{scope['method']} {scope['path']}: {exc!r}")


def _failures(schema: BaseSchema) -> tuple[list[str], int]:
    """Run every phase; the failed checks, each with its request and answer, and how many requests."""
    from schemathesis.engine import events, from_schema

    failures: list[str] = []
    requests = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.NonFatalError):  # the app raised: a 500 where it is served
            failures.append(f"error: {event.label}: {event.value!r}\n  {event.info.code_sample}")
        elif isinstance(event, events.FatalError):
            failures.append(f"fatal: {event.exception!r}")
        if not isinstance(event, events.ScenarioFinished):
            continue
        recorder = event.recorder
        requests += len(recorder.interactions)
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.failure_info is None:
                    continue
                interaction = recorder.interactions.get(case_id)
                sent = answer = "?"
                if interaction is not None:
                    sent = f"{interaction.request.method} {interaction.request.uri}"
                    if interaction.request.body:
                        sent += f" body={interaction.request.body[:200]!r}"
                    if interaction.response is not None:
                        answer = f"{interaction.response.status_code} {interaction.response.content[:300]!r}"
                failures.append(f"{check.name}: {check.failure_info.failure.title}\n  {sent}\n  -> {answer}")
    return failures, requests


# --- schemathesis patches Hypothesis' module globals; keep that to these tests ----------------------

SETUP_PATCHES = (
    ("hypothesis.core", "RepresentationPrinter"),
    ("hypothesis.core", "BUFFER_SIZE"),
    ("hypothesis.internal.conjecture.engine", "BUFFER_SIZE"),
    ("hypothesis.strategies._internal.collections", "BUFFER_SIZE"),
    ("hypothesis.internal.entropy", "register_random"),
    ("hypothesis.strategies._internal.core", "is_first_param_referenced_in_function"),
)
"""The globals of Hypothesis that schemathesis replaces (``schemathesis.generation.hypothesis.setup``),
once in a process, when it first builds a test: a printer of examples that prints nothing, a buffer four
times larger, and two shortcuts for its worker threads."""

_PATCHED: dict[tuple[str, str], Any] = {}
"""What schemathesis put in :data:`SETUP_PATCHES` in an earlier test of this process."""


@pytest.fixture
def schemathesis_hypothesis() -> Iterator[None]:
    """
    Hypothesis as schemathesis sets it up, for this test only.

    The other tests of the worker keep Hypothesis as it is: :data:`SETUP_PATCHES` are undone after each
    test, and applied again before the next one (schemathesis sets them up once a process). Its pytest
    plugin, which would set them up for every test of the suite, is not loaded (``-p no:schemathesis``
    in pyproject.toml). A global of Hypothesis left holding anything else of schemathesis fails the test.
    """
    modules = {name: importlib.import_module(name) for name, _ in SETUP_PATCHES}
    before = {(name, attribute): getattr(modules[name], attribute) for name, attribute in SETUP_PATCHES}
    for (name, attribute), value in _PATCHED.items():
        setattr(modules[name], attribute, value)
    yield
    for (name, attribute), value in before.items():
        _PATCHED.setdefault((name, attribute), getattr(modules[name], attribute))
        setattr(modules[name], attribute, value)
    leaked = [
        f"{name}.{attribute}"
        for name, module in list(sys.modules.items())
        if isinstance(module, ModuleType) and name.partition(".")[0] == "hypothesis"
        for attribute, value in list(vars(module).items())
        if isinstance(value, type | FunctionType) and value.__module__.startswith("schemathesis")
    ]
    assert not leaked, f"schemathesis left these in Hypothesis: {leaked}; add them to SETUP_PATCHES"


# --- the run -------------------------------------------------------------------------------------------


@cache
def _bill_document() -> dict[str, Any]:
    from tests.api.test_bills import make_bill

    return make_bill().to_dict()


@pytest.mark.filterwarnings("ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning")
@pytest.mark.parametrize("caller", CALLERS)
def test_every_answer_is_documented(
    caller: str, store: Store, site_data: dict[str, int], schemathesis_hypothesis: None
) -> None:
    import schemathesis

    store.save_bill(document=_bill_document(), site_id=site_data["la"])
    store.create_api_token(role="billing", label="billing service")
    revoked, _ = store.create_api_token(role="read-only", label="old kiosk")
    store.revoke_api_token(token_id=revoked.id)
    headers: dict[str, str] = {}
    own: int | None = None
    token = BAD_TOKEN
    if caller == "bad token":
        headers["Authorization"] = f"Bearer {BAD_TOKEN}"
    elif caller != "no token":
        kwargs: dict[str, Any] = {"role": caller}
        if caller == "tenant":
            kwargs["account_id"] = store.accounts(tenant_id=site_data["tess"])[0].id
        elif caller == "site-bound operator":
            kwargs = {"role": "operator", "site_ids": [site_data["la"]]}
        record, token = store.create_api_token(**kwargs, label=f"schemathesis {caller}")
        headers["Authorization"] = f"Bearer {token}"
        own = record.id
    app = AsServed(
        create_app(store, Settings(admin_token=ADMIN_TOKEN, environment="development", alert_check_s=0))
    )
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", app, config=_config(headers, deep=caller == "admin")
    )

    @schema.hook
    def filter_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> bool:
        # the caller does not revoke its own token: the rest of its run would be 401
        return own is None or not path_parameters or path_parameters.get("token_id") != own

    failures, requests = _failures(schema)
    assert requests > 30
    if own is not None:  # the hook kept the caller's token: its run was not a run of 401s
        assert store.find_api_token(token=token).active
    raised = "".join(f"\n  {line}" for line in app.raised)
    assert not failures, f"{len(failures)} failures in {requests} requests:\n" + "\n".join(failures) + raised
