"""A small simulated site in a store, for the dashboard's tests: the mesh run, ingested, validated.

Four meters of apartments in Los Angeles, each with its MDT, one repeater and the DCAP (``simulate_site``);
three days from 2026-01-01 UTC; the DCAP's deliveries ingested, except four intervals of one meter (a gap
that VEE fills by interpolation); VEE run; the CIT report stored; a person's edit; a tamper alert; one
meter installed with CT2 reversed (a reverse-phase alert and its element measurements); and each
device's install event with its position; each meter's bill.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from meshmeter.amr.cit import CitReport
from meshmeter.amr.network import MeshNetwork
from meshmeter.billing.bill import Bill
from meshmeter.billing.engine import Tenant, bill_meter
from meshmeter.billing.tariff import example_tariff
from meshmeter.headend import ingest_deliveries
from meshmeter.headend.alerts import AlertKind, check_reverse_phase, raise_alert
from meshmeter.headend.vee import edit_intervals, run_vee
from meshmeter.services.diagnosis import DIAGNOSIS_EVENT
from meshmeter.site.mesh import simulate_site
from meshmeter.store import Store

DAYS = 3
TIMEZONE = "America/Los_Angeles"
GAP = range(100, 104)
"""Sequence numbers of the intervals of the first meter left out of the ingest."""


@dataclass(frozen=True)
class DemoSite:
    """What :func:`build_site` made."""

    site_id: int
    serials: list[str]
    report: CitReport
    start: datetime
    end: datetime
    reversed_serial: str
    gap_serial: str
    edited_end: datetime
    positions: dict[str, tuple[float, float]]
    """EUI-64 → installed position of each device. [m]"""
    bills: list[Bill]
    """Each meter's bill over the three days (tiered example tariff), from its validated intervals."""


def start_of(network: MeshNetwork) -> datetime:
    """The run's start, UTC."""
    return datetime.fromtimestamp(network.epoch_s, UTC)


def build_site(store: Store, *, mdts: int = 4, repeaters: int = 1, seed: int = 3) -> DemoSite:
    """Simulate, ingest and validate a small site into ``store``."""
    run = simulate_site(mdts=mdts, repeaters=repeaters, days=DAYS, seed=seed, drain_s=1800.0)
    network = run.network
    site = store.create_site(name="Oak Court", timezone=TIMEZONE)
    serials = []
    ids = []
    for number, i in enumerate(network.mdt_indices):
        device = network.devices[i]
        meter = store.create_meter(
            serial=f"MM{number:08d}", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id
        )
        store.create_mdt(eui64=device.eui, kit="MMSMT-C02", key=device.key, meter_id=meter.id)
        serials.append(meter.serial)
        ids.append(meter.id)
    # where each device was installed, as ``meshmeter demo`` records it
    meter_of = dict(zip(network.mdt_indices, ids, strict=True))
    for i, (x, y) in enumerate(network.layout.positions_m.tolist()):
        where = [round(x, 2), round(y, 2)]
        detail = {"mdt": {"position_m": where}} if i in meter_of else {"position_m": where}
        store.add_event(
            kind="install",
            at=start_of(network),
            meter_id=meter_of.get(i),
            eui64=network.layout.euis[i],
            detail=detail,
        )
    first = network.devices[network.mdt_indices[0]].eui
    deliveries = [d for d in network.dcap.deliveries if not (d.device == first and d.record.sequence in GAP)]
    ingest_deliveries(store, deliveries)
    start = start_of(network)
    end = start + timedelta(days=DAYS)
    for meter_id in ids:
        run_vee(store, meter_id=meter_id, start=start, end=end)
    edited = start + timedelta(hours=30)
    edit_intervals(store, meter_id=ids[1], rows=[(edited, 321)], edited_by="clerk", reason="meter test")
    raise_alert(store, AlertKind.TAMPER, at=start + timedelta(hours=5), meter_id=ids[2], eui64=None)
    check_reverse_phase(
        store, meter_id=ids[3], at=start + timedelta(hours=1), element_power_w=[480.0, -470.0]
    )
    store.add_event(
        kind=DIAGNOSIS_EVENT,
        at=start + timedelta(hours=1),
        meter_id=ids[3],
        detail={
            "elements": [
                {
                    "element": 1,
                    "voltage_v": 120.0,
                    "voltage_angle_deg": 0.0,
                    "current_a": 4.0,
                    "current_angle_deg": -10.0,
                    "power_w": 472.7,
                },
                {
                    "element": 2,
                    "voltage_v": 120.0,
                    "voltage_angle_deg": 180.0,
                    "current_a": 4.0,
                    "current_angle_deg": -10.0,
                    "power_w": -472.7,
                },
            ],
            "frequency_hz": 60.0,
        },
    )
    store.save_network_report(site=site.id, report=run.report, taken_at=end)
    positions = {
        eui.hex(): (round(x, 2), round(y, 2))
        for eui, (x, y) in zip(network.layout.euis, network.layout.positions_m.tolist(), strict=True)
    }
    rates = example_tariff("tiered-flat-example")
    bills = []
    for serial, meter_id in zip(serials, ids, strict=True):
        view = store.interval_view(meter_id=meter_id, start=start, end=end)
        ends, energy, quality = view.interval_end_s, view.energy_wh, view.quality
        bills.append(
            bill_meter(
                rates, ends, energy, quality, start=start, end=end, timezone=TIMEZONE, meter=serial,
                tenant=Tenant(account=f"Unit {serial[-1]}"),
            )
        )  # fmt: skip
    return DemoSite(
        site.id, serials, run.report, start, end, serials[3], serials[0], edited, positions, bills
    )
