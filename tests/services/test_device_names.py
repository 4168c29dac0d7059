"""The radio network's devices named as people name them (services/device_names.py, issue 15), on a
store built for it, on SQLite and PostgreSQL.

Mission Court: unit 101's meter (the Alvarez household until June, the Baker household from July) with
its MDT; unit 202's meter with two MDTs (the first and one put beside it); the house meter with an MDT;
two unit meters not yet given a unit, each with an MDT; unit 303, whose meter was exchanged in May
(each meter with its MDT); a repeater named by the site file, one not, and the DCAP.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from meshmeter.services.device_names import device_names, named_suggestion, served_meters
from meshmeter.services.names import meter_names
from meshmeter.store import Store
from tests.store.conftest import postgres_schema_url

__all__ = ["postgres_schema_url"]  # the fixture, for the PostgreSQL runs

T0 = datetime(2026, 1, 1, 8, tzinfo=UTC)
EXCHANGED = datetime(2026, 5, 1, 7, tzinfo=UTC)
MOVE_OUT = datetime(2026, 6, 1, 7, tzinfo=UTC)
MOVE_IN = datetime(2026, 7, 1, 7, tzinfo=UTC)
MARCH = datetime(2026, 3, 1, tzinfo=UTC)
AUGUST = datetime(2026, 8, 1, tzinfo=UTC)


def eui(n: int) -> str:
    return f"02aa00000000{n:04x}"


DCAP, R_NAMED, R_PLAIN = eui(1), eui(2), eui(3)
MDT_101, MDT_202, MDT_202_BESIDE, MDT_HOUSE = eui(10), eui(11), eui(12), eui(13)
MDT_LOOSE_A, MDT_LOOSE_B, MDT_303_OLD, MDT_303_NEW = eui(14), eui(15), eui(16), eui(17)
UNKNOWN = eui(99)
"""An MDT the CIT sees that the store does not know."""


@dataclass(frozen=True)
class Row:
    """A device row as the CIT report gives it (what naming reads of it)."""

    index: int
    kind: str
    eui64: str


ROWS = [
    Row(0, "dcap", DCAP),
    Row(1, "repeater", R_NAMED),
    Row(2, "repeater", R_PLAIN),
    *(
        Row(i, "mdt", e)
        for i, e in enumerate(
            (
                MDT_101,
                MDT_202,
                MDT_202_BESIDE,
                MDT_HOUSE,
                MDT_LOOSE_A,
                MDT_LOOSE_B,
                MDT_303_OLD,
                MDT_303_NEW,
                UNKNOWN,
            ),
            start=3,
        )
    ),
]


def _mdt(store: Store, address: str, meter_id: int | None) -> None:
    store.create_mdt(eui64=bytes.fromhex(address), kit="MMSMT-C02", key=bytes(16), meter_id=meter_id)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    url = "sqlite://" if request.param == "sqlite" else request.getfixturevalue("postgres_schema_url")
    s = Store(url)
    try:
        site = s.create_site(name="Mission Court", timezone="America/Los_Angeles")

        def meter(serial: str, role: str = "unit") -> int:
            return s.create_meter(
                serial=serial, designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id, role=role
            ).id

        m101, m202, house = meter("MM101"), meter("MM202"), meter("MMH", "house")
        loose_a, loose_b, m303, m303_new = meter("MMA"), meter("MMB"), meter("MM303"), meter("MM303N")
        u101 = s.create_unit(site_id=site.id, name="101", meter_id=m101)
        s.create_unit(site_id=site.id, name="202", meter_id=m202)
        s.create_unit(site_id=site.id, name="303", meter_id=m303)
        s.exchange_meter(
            old_meter_id=m303, new_meter_id=m303_new, at=EXCHANGED, final_read_wh=0, first_read_wh=0
        )
        alvarez, baker = s.create_tenant(name="Alvarez household"), s.create_tenant(name="Baker household")
        a1 = s.open_account(tenant_id=alvarez.id, site_id=site.id, number="1001", opened_at=T0)
        a2 = s.open_account(tenant_id=baker.id, site_id=site.id, number="1002", opened_at=T0)
        s.move_in(account_id=a1.id, unit_id=u101.id, at=T0)
        s.move_out(account_id=a1.id, at=MOVE_OUT)
        s.move_in(account_id=a2.id, unit_id=u101.id, at=MOVE_IN)
        for address, meter_id in (
            (MDT_101, m101),
            (MDT_202, m202),
            (MDT_202_BESIDE, m202),
            (MDT_HOUSE, house),
            (MDT_LOOSE_A, loose_a),
            (MDT_LOOSE_B, loose_b),
            (MDT_303_OLD, m303),
            (MDT_303_NEW, m303_new),
        ):
            _mdt(s, address, meter_id)
        for address, device, name in (
            (DCAP, "dcap", "Lobby DCAP"),
            (R_NAMED, "repeater", " R1 corridor west "),
        ):
            s.add_event(
                kind="install",
                at=T0,
                eui64=bytes.fromhex(address),
                detail={"device": device, "site": site.name, "name": name},
            )
        s.add_event(  # the site file gave this one no name
            kind="install",
            at=T0,
            eui64=bytes.fromhex(R_PLAIN),
            detail={"device": "repeater", "site": site.name},
        )
        yield s
    finally:
        s.close()


def _labels(store: Store, at: datetime) -> dict[str, str]:
    names = meter_names(store, at=at)
    installs = store.events(kind="install")
    return {e: n.label for e, n in device_names(ROWS, served_meters(store, ROWS, names), installs).items()}


def test_served_meters_are_the_mdts_of_the_meters_named(store: Store) -> None:
    names = meter_names(store, at=MARCH)
    served = {e: n.serial for e, n in served_meters(store, ROWS, names).items()}
    assert served == {
        MDT_101: "MM101",
        MDT_202: "MM202",
        MDT_202_BESIDE: "MM202",
        MDT_HOUSE: "MMH",
        MDT_LOOSE_A: "MMA",
        MDT_LOOSE_B: "MMB",
        MDT_303_OLD: "MM303",
        MDT_303_NEW: "MM303N",
    }  # neither the repeaters nor the DCAP, nor the MDT the store does not know
    # a meter not among the names (another site's, out of a token's scope) leaves its MDT unserved
    m101 = store.get_meter(serial="MM101")
    assert m101 is not None
    fewer = {k: v for k, v in names.items() if k != m101.id}
    assert MDT_101 not in served_meters(store, ROWS, fewer)


def test_an_mdt_is_named_by_the_unit_and_tenant_of_the_moment_asked(store: Store) -> None:
    for at, tenant in ((MARCH, "Alvarez household (1001)"), (AUGUST, "Baker household (1002)")):
        names = meter_names(store, at=at)
        named = device_names(ROWS, served_meters(store, ROWS, names), store.events(kind="install"))
        mdt = named[MDT_101]
        assert mdt.label == "MDT of Unit 101"
        assert mdt.meter is not None
        assert mdt.meter.occupant == tenant
        assert (mdt.kind, mdt.eui64) == ("mdt", MDT_101)


def test_every_device_has_a_name_of_its_own(store: Store) -> None:
    labels = _labels(store, MARCH)
    assert labels[DCAP] == "Lobby DCAP"
    assert labels[R_NAMED] == "R1 corridor west"  # the site file's name, trimmed
    assert labels[R_PLAIN] == "Repeater 2"  # no name: its place among the repeaters
    assert labels[MDT_101] == "MDT of Unit 101"
    assert labels[MDT_HOUSE] == "MDT of House meter"
    # the meter exchanged: the new one measures unit 303 now, the old one no unit
    assert labels[MDT_303_NEW] == "MDT of Unit 303"
    assert "MM303" in labels[MDT_303_OLD]
    assert labels[UNKNOWN] == "MDT 9"  # not in the store: its place among the MDTs
    # two meters of no unit yet are told apart by their serials, two MDTs of one meter by their address
    assert labels[MDT_LOOSE_A] == "MDT of Unit meter MMA"
    assert labels[MDT_LOOSE_B] == "MDT of Unit meter MMB"
    assert labels[MDT_202].startswith("MDT of Unit 202")
    assert labels[MDT_202_BESIDE].startswith("MDT of Unit 202")
    assert len(set(labels.values())) == len(labels), labels
    assert all(not label.startswith(("02aa", "MM")) for label in labels.values())  # names first


def test_a_suggestion_names_its_devices(store: Store) -> None:
    names = device_names(
        ROWS, served_meters(store, ROWS, meter_names(store, at=MARCH)), store.events(kind="install")
    )
    text = f"a repeater at (12 m, 30 m), between it and {R_NAMED}, would bring it within reach"
    assert named_suggestion(text, names) == (
        "a repeater at (12 m, 30 m), between it and R1 corridor west, would bring it within reach"
    )
    assert named_suggestion(f"{MDT_101} and {R_PLAIN}", names) == "MDT of Unit 101 and Repeater 2"
    # an address no device of the report has stays as it is
    stranger = "0123456789abcdef"
    assert named_suggestion(f"{stranger} is silent", names) == f"{stranger} is silent"
    assert named_suggestion("nothing to name", {}) == "nothing to name"
