"""Tenants, units, accounts and occupancies with their history (schema version 7), on every backend: the
operations, each refusal naming every problem and storing nothing, the call of version 6 kept, tokens
bound to an account or to sites."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meshmeter.errors import TenancyError
from meshmeter.store import Store

T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def oak(store: Store) -> dict[str, int]:
    """Oak Court with meters M1, M2 (units 1A, 2B) and M3 measuring two units (3C, 3D); Elm House with E1
    (unit 9); tenants Ada and Ben."""
    oak = store.create_site(name="Oak Court", timezone="America/Los_Angeles")
    elm = store.create_site(name="Elm House", timezone="America/New_York")
    ids = {"oak": oak.id, "elm": elm.id}
    for serial, site in (("M1", oak), ("M2", oak), ("M3", oak), ("E1", elm)):
        ids[serial] = store.create_meter(serial=serial, designation="MM", ct_ratio=2000, site_id=site.id).id
    for name, site, meter in (
        ("1A", oak, "M1"),
        ("2B", oak, "M2"),
        ("3C", oak, "M3"),
        ("3D", oak, "M3"),
        ("9", elm, "E1"),
    ):
        ids[name] = store.create_unit(
            site_id=site.id, name=name, meter_id=ids[meter], address=f"{name} St"
        ).id
    ids["ada"] = store.create_tenant(name="Ada", at=T0).id
    ids["ben"] = store.create_tenant(name="Ben", at=T0).id
    return ids


def _state(store: Store) -> tuple[object, ...]:
    """Everything the tenancy operations write."""
    return (
        store.tenants(),
        store.units(),
        store.accounts(),
        store.occupancies(),
        store.tenancy_history(),
    )


def _refused(store: Store, call, *needles: str, unknown: bool = False) -> TenancyError:
    before = _state(store)
    with pytest.raises(TenancyError) as info:
        call()
    for needle in needles:
        assert needle in str(info.value), (needle, info.value.problems)
    assert len(info.value.problems) == len(needles), info.value.problems
    assert info.value.unknown is unknown
    assert _state(store) == before, "a refused operation stored something"
    return info.value


def test_an_account_moves_in_transfers_moves_out_and_closes_with_its_history(store: Store, oak) -> None:
    account = store.open_account(tenant_id=oak["ada"], site_id=oak["oak"], opened_at=T0, by="front desk")
    assert (account.number, account.site_id, account.is_open) == ("1001", oak["oak"], True)
    first = store.move_in(account_id=account.id, unit_id=oak["1A"], at=T0, by="front desk")
    assert (first.unit, first.meter_id, first.move_in, first.move_out) == ("1A", oak["M1"], T0, None)
    ended, begun = store.transfer(account_id=account.id, unit_id=oak["2B"], at=T0 + 10 * DAY, by="front desk")
    assert (ended.id, ended.move_out) == (first.id, T0 + 10 * DAY)
    assert (begun.unit, begun.meter_id, begun.move_in, begun.move_out) == (
        "2B",
        oak["M2"],
        T0 + 10 * DAY,
        None,
    )
    out = store.move_out(account_id=account.id, at=T0 + 20 * DAY)
    assert out.move_out == T0 + 20 * DAY
    closed = store.close_account(account_id=account.id, at=T0 + 21 * DAY)
    assert closed.closed_at == T0 + 21 * DAY
    assert not closed.is_open
    assert store.get_account(account_id=account.id) == closed
    assert [(o.unit, o.move_in, o.move_out) for o in store.occupancies(account_id=account.id)] == [
        ("1A", T0, T0 + 10 * DAY),
        ("2B", T0 + 10 * DAY, T0 + 20 * DAY),
    ]
    history = store.account_history(account_id=account.id)
    assert [(e.kind, e.at) for e in history] == [
        ("account_opened", T0),
        ("moved_in", T0),
        ("transferred", T0 + 10 * DAY),
        ("moved_out", T0 + 20 * DAY),
        ("account_closed", T0 + 21 * DAY),
    ]
    assert {e.recorded_by for e in history[:3]} == {"front desk"}
    assert (history[2].detail["from_unit"], history[2].detail["to_unit"]) == ("1A", "2B")
    assert {e.tenant_id for e in history} == {oak["ada"]}
    # the meter's occupancies are the intervals' owners; an account of the meter by its occupancies
    assert store.accounts(meter_id=oak["M2"]) == [closed]
    assert store.accounts(unit_id=oak["1A"]) == [closed]
    assert store.occupancies(meter_id=oak["M1"])[0].account_id == account.id


def test_numbers_are_per_site_and_unique(store: Store, oak) -> None:
    a = store.open_account(tenant_id=oak["ada"], site_id=oak["oak"])
    b = store.open_account(tenant_id=oak["ben"], site_id=oak["oak"])
    e = store.open_account(tenant_id=oak["ben"], site_id=oak["elm"])
    assert (a.number, b.number, e.number) == ("1001", "1002", "1001")
    given = store.open_account(tenant_id=oak["ada"], site_id=oak["oak"], number="7000")
    assert store.open_account(tenant_id=oak["ada"], site_id=oak["oak"]).number == "7001"
    assert store.open_account(tenant_id=oak["ada"], site_id=oak["oak"], number="OC-12").number == "OC-12"
    assert store.find_account(site_id=oak["oak"], number="7000") == given
    _refused(
        store,
        lambda: store.open_account(tenant_id=oak["ben"], site_id=oak["oak"], number="7000"),
        "number '7000' is already account_id",
    )
    _refused(
        store,
        lambda: store.open_account(tenant_id=999, site_id=998),
        "tenant_id 999 is not a known tenant",
        "site_id 998 is not a known site",
        unknown=True,
    )


def test_overlapping_occupancies_of_a_unit_or_a_meter_are_refused(store: Store, oak) -> None:
    ada = store.open_account(tenant_id=oak["ada"], site_id=oak["oak"])
    ben = store.open_account(tenant_id=oak["ben"], site_id=oak["oak"])
    store.move_in(account_id=ada.id, unit_id=oak["1A"], at=T0)
    _refused(
        store,
        lambda: store.move_in(account_id=ben.id, unit_id=oak["1A"], at=T0 + DAY),
        "unit 1A is occupied by account 1001 from 2026-03-01T08:00:00+00:00 to open-ended",
    )
    # an open-ended move-in before a later tenure overlaps it too
    _refused(store, lambda: store.move_in(account_id=ben.id, unit_id=oak["1A"], at=T0 - DAY), "unit 1A")
    store.move_in(account_id=ben.id, unit_id=oak["3C"], at=T0)
    carl = store.open_account(tenant_id=oak["ada"], site_id=oak["oak"])
    _refused(
        store,
        lambda: store.move_in(account_id=carl.id, unit_id=oak["3D"], at=T0 + DAY),
        "meter M3 of unit 3D also measures unit 3C, occupied by account 1002",
    )
    # one unit at a time per account
    _refused(
        store,
        lambda: store.move_in(account_id=ada.id, unit_id=oak["2B"], at=T0 + DAY),
        "account 1001 occupies unit 1A from 2026-03-01T08:00:00+00:00 to open-ended",
    )
    # after the move-out the unit is free from that instant on
    store.move_out(account_id=ada.id, at=T0 + 5 * DAY)
    _refused(store, lambda: store.move_in(account_id=carl.id, unit_id=oak["1A"], at=T0 + 4 * DAY), "unit 1A")
    assert store.move_in(account_id=carl.id, unit_id=oak["1A"], at=T0 + 5 * DAY).move_in == T0 + 5 * DAY


def test_every_problem_of_a_move_in_is_named(store: Store, oak) -> None:
    ada = store.open_account(tenant_id=oak["ada"], site_id=oak["oak"])
    ben = store.open_account(tenant_id=oak["ben"], site_id=oak["oak"])
    store.move_in(account_id=ben.id, unit_id=oak["2B"], at=T0)
    store.move_in(account_id=ada.id, unit_id=oak["1A"], at=T0)
    store.move_out(account_id=ada.id, at=T0 + DAY)
    store.close_account(account_id=ada.id, at=T0 + DAY)
    # closed, another site's unit: both named
    _refused(
        store,
        lambda: store.move_in(account_id=ada.id, unit_id=oak["9"], at=T0 + 2 * DAY),
        "was closed at 2026-03-02T08:00:00+00:00: a closed account takes no move-in",
        "unit 9 is at site 2, account 1001 at site 1",
    )
    # closed, and the unit occupied then
    _refused(
        store,
        lambda: store.move_in(account_id=ada.id, unit_id=oak["2B"], at=T0 + 2 * DAY),
        "a closed account takes no move-in",
        "unit 2B is occupied by account 1002",
    )
    _refused(
        store,
        lambda: store.move_in(account_id=404, unit_id=405, at=T0),
        "account_id 404 is not a known account",
        "unit_id 405 is not a known unit",
        unknown=True,
    )


def test_move_out_before_move_in_and_without_occupancy_are_refused(store: Store, oak) -> None:
    ada = store.open_account(tenant_id=oak["ada"], site_id=oak["oak"])
    _refused(store, lambda: store.move_out(account_id=ada.id, at=T0), "has no open occupancy")
    store.move_in(account_id=ada.id, unit_id=oak["1A"], at=T0)
    _refused(
        store,
        lambda: store.move_out(account_id=ada.id, at=T0),
        "the move-out at 2026-03-01T08:00:00+00:00 is not after the move-in at 2026-03-01T08:00:00+00:00",
    )
    _refused(store, lambda: store.move_out(account_id=ada.id, at=T0 - DAY), "is not after the move-in")
    _refused(
        store,
        lambda: store.move_out(account_id=77, at=T0),
        "account_id 77 is not a known account",
        unknown=True,
    )


def test_transfer_names_the_problems_of_both_halves(store: Store, oak) -> None:
    ada = store.open_account(tenant_id=oak["ada"], site_id=oak["oak"])
    ben = store.open_account(tenant_id=oak["ben"], site_id=oak["oak"])
    _refused(
        store, lambda: store.transfer(account_id=ada.id, unit_id=oak["2B"], at=T0), "has no open occupancy"
    )
    store.move_in(account_id=ada.id, unit_id=oak["1A"], at=T0)
    store.move_in(account_id=ben.id, unit_id=oak["2B"], at=T0)
    _refused(
        store,
        lambda: store.transfer(account_id=ada.id, unit_id=oak["2B"], at=T0),
        "is not after the move-in",
        "unit 2B is occupied by account 1002",
    )
    _refused(
        store,
        lambda: store.transfer(account_id=ada.id, unit_id=oak["1A"], at=T0 + DAY),
        "account 1001 occupies unit 1A already",
    )
    _refused(
        store,
        lambda: store.transfer(account_id=ada.id, unit_id=999, at=T0 + DAY),
        "unit_id 999 is not a known unit",
        unknown=True,
    )


def test_close_needs_every_occupancy_ended_and_happens_once(store: Store, oak) -> None:
    ada = store.open_account(tenant_id=oak["ada"], site_id=oak["oak"])
    store.move_in(account_id=ada.id, unit_id=oak["1A"], at=T0)
    _refused(store, lambda: store.close_account(account_id=ada.id, at=T0 + DAY), "move out first")
    store.move_out(account_id=ada.id, at=T0 + 5 * DAY)
    _refused(
        store,
        lambda: store.close_account(account_id=ada.id, at=T0 + DAY),
        "occupies unit 1A until 2026-03-06T08:00:00+00:00, after the close",
    )
    store.close_account(account_id=ada.id, at=T0 + 5 * DAY)
    _refused(store, lambda: store.close_account(account_id=ada.id, at=T0 + 6 * DAY), "was closed already")
    _refused(
        store,
        lambda: store.move_out(account_id=ada.id, at=T0 + 6 * DAY),
        "was closed at",
        "has no open occupancy",
    )


def test_units_are_of_their_site_and_unique_there(store: Store, oak) -> None:
    _refused(
        store,
        lambda: store.create_unit(site_id=oak["oak"], name="1A", meter_id=oak["E1"]),
        "meter E1 is at site 2, not site 1",
        "site 1 has a unit named '1A' already",
    )
    _refused(
        store,
        lambda: store.create_unit(site_id=99, name="X", meter_id=98),
        "site_id 99 is not a known site",
        "meter_id 98 is not a known meter",
        unknown=True,
    )
    assert [u.name for u in store.units(site_id=oak["oak"])] == ["1A", "2B", "3C", "3D"]
    assert [u.name for u in store.units(meter_id=oak["M3"])] == ["3C", "3D"]
    assert store.get_unit(unit_id=oak["1A"]).address == "1A St"


def test_version_6_call_makes_unit_account_and_occupancy(store: Store, oak) -> None:
    """``create_account(tenant_id, meter_id, unit, move_in, move_out)``: what the site file and billing
    callers written for version 6 call; an account with a move-out is closed then."""
    a = store.create_account(
        tenant_id=oak["ada"], meter_id=oak["M1"], unit="1A", move_in=T0, move_out=T0 + DAY
    )
    assert a.closed_at == T0 + DAY
    b = store.create_account(tenant_id=oak["ben"], meter_id=oak["M1"], unit="1A", move_in=T0 + DAY)
    assert [o.unit_id for o in store.occupancies(meter_id=oak["M1"])] == [oak["1A"], oak["1A"]]
    # a name another meter's unit has at the site: the meter's serial tells them apart
    c = store.create_account(tenant_id=oak["ada"], meter_id=oak["M2"], unit="1A", move_in=T0)
    assert store.occupancies(account_id=c.id)[0].unit == "1A (M2)"
    assert [x.number for x in (a, b, c)] == ["1001", "1002", "1003"]
    _refused(
        store,
        lambda: store.create_account(
            tenant_id=oak["ada"], meter_id=oak["M1"], unit="1A", move_in=T0 + 2 * DAY
        ),
        "unit 1A is occupied",
    )
    with pytest.raises(ValueError, match="move_out must be after move_in"):
        store.create_account(tenant_id=oak["ada"], meter_id=oak["M1"], unit="1A", move_in=T0, move_out=T0)
    # a meter of no site: its unit and account have none
    loose = store.create_meter(serial="LOOSE", designation="MM", ct_ratio=2000)
    d = store.create_account(tenant_id=oak["ada"], meter_id=loose.id, unit="shed", move_in=T0)
    assert (d.site_id, d.number) == (None, "1001")
    closed = store.close_account(account_id=b.id, move_out=T0 + 3 * DAY)
    assert closed.closed_at == T0 + 3 * DAY
    assert store.occupancies(account_id=b.id)[0].move_out == T0 + 3 * DAY


def test_tenants_by_site(store: Store, oak) -> None:
    store.open_account(tenant_id=oak["ada"], site_id=oak["elm"])
    assert [t.name for t in store.tenants(site_ids=[oak["elm"]])] == ["Ada"]
    assert [t.name for t in store.tenants(site_ids=[oak["oak"]])] == []
    assert [t.name for t in store.tenants()] == ["Ada", "Ben"]
    assert [e.kind for e in store.tenancy_history(tenant_id=oak["ada"])] == [
        "tenant_created",
        "account_opened",
    ]


def test_tenant_and_site_bound_tokens(store: Store, oak) -> None:
    ada = store.open_account(tenant_id=oak["ada"], site_id=oak["oak"])
    record, token = store.create_api_token(role="tenant", account_id=ada.id, label="Ada's portal")
    assert (record.account_id, record.site_ids) == (ada.id, ())
    assert store.find_api_token(token=token) == record
    bound, token = store.create_api_token(role="billing", site_ids=[oak["elm"], oak["oak"], oak["oak"]])
    assert bound.site_ids == (oak["oak"], oak["elm"])
    assert store.find_api_token(token=token) == bound
    assert store.api_tokens() == [record, bound]
    assert store.revoke_api_token(token_id=bound.id).site_ids == bound.site_ids
    with pytest.raises(ValueError, match="a tenant token needs account_id"):
        store.create_api_token(role="tenant")
    with pytest.raises(ValueError, match="account_id goes with the tenant role only"):
        store.create_api_token(role="operator", account_id=ada.id)
    with pytest.raises(ValueError, match="a admin token is never bound to sites"):
        store.create_api_token(role="admin", site_ids=[oak["oak"]])
    with pytest.raises(ValueError, match="a tenant token is never bound to sites"):
        store.create_api_token(role="tenant", account_id=ada.id, site_ids=[oak["oak"]])
    with pytest.raises(TenancyError, match="account_id 99 is not a known account"):
        store.create_api_token(role="tenant", account_id=99)
    with pytest.raises(TenancyError, match="site_id 97 is not a known site; site_id 98 is not a known site"):
        store.create_api_token(role="read-only", site_ids=[98, 97])
    assert len(store.api_tokens()) == 2
