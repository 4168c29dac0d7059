"""A meter as people name it (services/names.py): site, unit, tenant and account at a moment."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from meshmeter.api.auth import Principal, Role
from meshmeter.api.scope import ScopedStore
from meshmeter.services.names import MeterName, meter_names
from meshmeter.store import Store

T0 = datetime(2026, 1, 1, 8, tzinfo=UTC)
MOVE = datetime(2026, 6, 1, 7, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'names.sqlite'}")
    site = s.create_site(name="Mission Court", timezone="America/Los_Angeles")
    other = s.create_site(name="Harbor Lofts", timezone="America/New_York")
    unit_meter = s.create_meter(serial="MM1", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id)
    house = s.create_meter(
        serial="MM2", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id, role="house"
    )
    s.create_meter(
        serial="SDM1",
        designation="SDM630MCT 400:5",
        manufacturer="Eastron",
        model="SDM630MCT",
        ct_ratio=80,
        site_id=site.id,
        role="production",
    )
    far = s.create_meter(serial="HL1", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=other.id)
    u101 = s.create_unit(site_id=site.id, name="101", meter_id=unit_meter.id, address="1 Mission Ct #101")
    s.create_unit(site_id=site.id, name="HOUSE", meter_id=house.id)
    s.create_unit(site_id=other.id, name="5A", meter_id=far.id)
    alvarez = s.create_tenant(name="Alvarez household")
    baker = s.create_tenant(name="Baker household")
    a1 = s.open_account(tenant_id=alvarez.id, site_id=site.id, number="1001", opened_at=T0)
    a2 = s.open_account(tenant_id=baker.id, site_id=site.id, number="1002", opened_at=T0)
    s.move_in(account_id=a1.id, unit_id=u101.id, at=T0)
    s.move_out(account_id=a1.id, at=MOVE)
    s.move_in(account_id=a2.id, unit_id=u101.id, at=datetime(2026, 7, 1, 7, tzinfo=UTC))
    return s


def _by_serial(names: dict[int, MeterName]) -> dict[str, MeterName]:
    return {n.serial: n for n in names.values()}


def test_tenant_at_each_moment(store: Store) -> None:
    before = _by_serial(meter_names(store, at=datetime(2026, 3, 1, tzinfo=UTC)))
    vacant = _by_serial(meter_names(store, at=datetime(2026, 6, 15, tzinfo=UTC)))
    after = _by_serial(meter_names(store, at=datetime(2026, 8, 1, tzinfo=UTC)))
    assert before["MM1"].title == "Unit 101 · Alvarez household (1001) · MM1"
    assert vacant["MM1"].occupant == "vacant"
    assert after["MM1"].occupant == "Baker household (1002)"
    # the move-out instant is still the leaving tenant's (tenures are (move_in, move_out])
    assert _by_serial(meter_names(store, at=MOVE))["MM1"].tenant == "Alvarez household"


def test_roles_makes_and_sites(store: Store) -> None:
    names = _by_serial(meter_names(store, at=datetime(2026, 3, 1, tzinfo=UTC)))
    assert names["MM2"].label == "HOUSE"
    assert names["MM2"].occupant == "–"
    assert names["SDM1"].label == "Production meter"
    assert names["SDM1"].make == "Eastron SDM630MCT"
    assert names["MM1"].address == "1 Mission Ct #101"
    assert names["MM1"].site == "Mission Court"
    assert names["HL1"].site == "Harbor Lofts"
    site_id = names["MM1"].site_id
    assert set(_by_serial(meter_names(store, site_id=site_id))) == {"MM1", "MM2", "SDM1"}


def test_a_scoped_store_names_only_what_it_sees(store: Store) -> None:
    site_id = store.get_meter(serial="HL1").site_id  # type: ignore[union-attr]
    token, _ = store.create_api_token(role="operator", site_ids=[site_id])  # type: ignore[list-item]
    scoped = ScopedStore(store, Principal(Role.OPERATOR, token_id=token.id, site_ids=(site_id,)))  # type: ignore[arg-type]
    assert set(_by_serial(meter_names(scoped))) == {"HL1"}
