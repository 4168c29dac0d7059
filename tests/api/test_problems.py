"""Domain errors become problem documents in one handler (``api/problems.py``), whatever route raised them."""

from __future__ import annotations

import pytest

from meshmeter.api import Settings, create_app
from meshmeter.errors import (
    DatabaseLockedError,
    MeshmeterError,
    NotFoundError,
    NothingToBillError,
    TariffError,
)
from meshmeter.store import BillConflictError, SchemaVersionError, Store, UnknownMeterError
from tests.api.conftest import TestClient


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFoundError("meter", "M9", "meshmeter meter add"), 404),
        (UnknownMeterError("meter_id 9 is not a known meter"), 404),
        (NothingToBillError("meter 'M1' has no validated intervals in the period; run meshmeter vee"), 409),
        (BillConflictError("another bill is stored for the same account and period"), 409),
        (SchemaVersionError(6, 5), 503),
        (DatabaseLockedError("meshmeter.sqlite: another process holds its write lock"), 503),
        (TariffError("fixedchargeunits", "must be $/month"), 400),
        (MeshmeterError("something else that is wrong with the input"), 400),
    ],
)
def test_a_domain_error_is_a_problem_with_its_status(error: MeshmeterError, status: int) -> None:
    app = create_app(Store("sqlite:///:memory:"), Settings(environment="development"))

    @app.get("/raise")
    def raise_it() -> None:
        raise error

    answer = TestClient(app).get("/raise")
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert (body["status"], body["detail"], body["instance"]) == (status, str(error), "/raise")
