"""Store a simulated site as the head-end would have received it, validate it and bill it.

``meshmeter site simulate`` and ``meshmeter demo`` call these (``docs/site.md``): the one place where the twin
(``site/``) meets the head-end (``store/``, ``headend/``, ``billing/``), so that neither imports the other.

- :func:`store_simulation`: the site, its meters (with their roles), MDTs, tenants and accounts, the DCAP's
  deliveries through the head-end's ingest, register reads, device events and alerts, the network report;
  nothing that ends or happens after the simulated window.
- :func:`vee_site`: VEE over every meter of the window (a production meter's nights allowed).
- :func:`bill_site`: every account in service billed from the validated view
  (:func:`~meshmeter.services.billing.bill_meter_from_store`), each bill kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from meshmeter.amr.topology import DeviceKind
from meshmeter.billing import Bill, Tenant, example_tariff
from meshmeter.headend import ingest_deliveries
from meshmeter.headend.alerts import (
    alerts_from_dcap,
    check_battery,
    check_communication,
    check_reverse_phase,
)
from meshmeter.headend.vee import VeeConfig, VeeReport, run_vee
from meshmeter.meter.diagnostics import ElementMeasurement
from meshmeter.services.billing import bill_meter_from_store
from meshmeter.site.run import Progress, SiteSimulation
from meshmeter.store import Store

__all__ = [
    "DEMO_TARIFF",
    "ELEMENT_MEASUREMENTS_EVENT",
    "SOLAR_ZERO_RUN_MAX_H",
    "BillLine",
    "StoredSite",
    "bill_site",
    "element_measurements_detail",
    "finite_json",
    "store_element_measurements",
    "store_simulation",
    "vee_site",
]


@dataclass(frozen=True)
class StoredSite:
    """What :func:`store_simulation` put in the store."""

    site_id: int
    meter_ids: dict[str, int]
    """Meter id by serial."""
    intervals: int
    """Raw intervals stored. [1]"""
    provisional: int
    """Of them, stored with energy 0 because the record before them never arrived. [1]"""
    register_reads: int
    alerts: int
    """Alerts raised while storing (tamper, reverse phase, low battery, communication loss). [1]"""


def finite_json(value: Any) -> Any:
    """JSON members with NaN and infinities as None (the store refuses them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value


def store_simulation(store: Store, sim: SiteSimulation, *, progress: Progress | None = None) -> StoredSite:
    """
    Store a simulated site as the head-end would have received it.

    Parameters
    ----------
    store : Store
        The store; the site's name must not be in it yet.
    sim : SiteSimulation
        The run (:func:`meshmeter.site.run.simulate_site_file`).
    progress : Progress, optional
        Told after each step (stage ``"store"``).

    Returns
    -------
    StoredSite

    Notes
    -----
    In order: the site; its meters (CT ratio from the designation), each with its MDT (EUI-64 and key
    as commissioned in the DCAP) and an ``install`` event describing its role, unit, CTs, load and MDT
    placement; an ``install`` event for the DCAP and each repeater (position, power-up order); the
    tenants and accounts; the DCAP's deliveries of the window's intervals (interval end at or before
    ``sim.end``) through :func:`~meshmeter.headend.ingest_deliveries`; a register read of each meter at
    every UTC midnight and at the end; the DCAP's events of the window as alerts (tamper); the
    reverse-phase check of each meter's last measurement and those measurements as an
    ``element_measurements`` event (the dashboard's wiring diagnosis), the MDTs' batteries and
    communication at the end of the run; and the CIT report (``save_network_report``).

    Nothing stored ends or happens after ``sim.end`` (issue 11): the intervals the MDTs closed in the
    drain after the window (no pulses fed, energy 0, and, for a run up to now, in the future) and events
    of the drain are left out; the drain only brings the window's late reports.
    """
    config = sim.config
    net = sim.network
    steps = 7

    def tell(done: int) -> None:
        if progress is not None:
            progress("store", done, steps)

    if any(s.name == config.name for s in store.sites()):
        raise ValueError(f"site {config.name!r} is already in the store: use another database or rename it")
    site = store.create_site(name=config.name, timezone=config.timezone)
    meter_ids: dict[str, int] = {}
    euis: dict[bytes, int] = {}
    for number, m in enumerate(config.meters):
        meter = store.create_meter(
            serial=m.serial,
            designation=m.designation,
            ct_ratio=m.ct_ratio,
            multiplier=m.multiplier,
            install_date=sim.start.astimezone(ZoneInfo(config.timezone)).date(),
            site_id=site.id,
            role=m.role,
        )
        device = net.devices[sim.mdt_index(number)]
        store.create_mdt(eui64=device.eui, kit=m.mdt.kit, key=device.key, meter_id=meter.id)
        meter_ids[m.serial] = meter.id
        euis[device.eui] = meter.id
        store.add_event(
            kind="install",
            at=sim.start,
            meter_id=meter.id,
            eui64=device.eui,
            detail={
                "role": m.kind,
                "unit": m.unit,
                "ct": m.ct,
                "load": {k: v for k, v in m.load.__dict__.items() if v is not None},
                "mdt": {
                    "kit": m.mdt.kit,
                    "position_m": list(m.mdt.position_m),
                    "walls": m.mdt.walls,
                    "metal_box": m.mdt.metal_box,
                    "metal_wall": m.mdt.metal_wall,
                },
            },
        )
    tell(1)
    layout = net.layout
    reps = layout.indices(DeviceKind.REPEATER)
    dist = np.hypot(*(layout.positions_m[reps] - layout.positions_m[0]).T) if reps.size else np.zeros(0)
    order = np.argsort(dist if config.power_order == "near-first" else -dist, kind="stable")
    powered = {int(reps[k]): place for place, k in enumerate(order.tolist(), start=1)}
    for i, kind in enumerate(layout.kinds):
        if kind is DeviceKind.MDT:
            continue
        spec = config.dcap if kind is DeviceKind.DCAP else config.repeaters[i - 1]
        store.add_event(
            kind="install",
            at=sim.start,
            eui64=layout.euis[i],
            detail={
                "device": str(kind),
                "site": config.name,
                "name": spec.name,
                "position_m": list(spec.position_m),
                "power_up": powered.get(i, 0),  # the DCAP first (0), then the repeaters 1, 2 ...
            },
        )
    tenant_ids = {name: store.create_tenant(name=name).id for name in config.tenants}
    for a in config.accounts:
        store.create_account(
            tenant_id=tenant_ids[a.tenant],
            meter_id=meter_ids[a.meter],
            unit=a.unit,
            move_in=a.move_in,
            move_out=a.move_out,
        )
    tell(2)
    window_end_s = int(sim.end.timestamp())
    result = ingest_deliveries(
        store,
        (d for d in net.dcap.deliveries if d.record.interval_end_s <= window_end_s),
        source="dcap",
    )
    if result.refused:
        raise ValueError(f"the head-end refused the DCAP's data: {dict(result.refused)}")
    tell(3)
    reads = 0
    epoch = sim.start.timestamp()
    end_s = epoch + sim.days * 86_400.0
    midnights = np.arange(math.floor(epoch / 86_400.0) + 1, math.floor(end_s / 86_400.0) + 1) * 86_400.0
    times = [*(float(t) for t in midnights if t < end_s), end_s]
    for number, m in enumerate(config.meters):
        for t in times:
            at = datetime.fromtimestamp(int(t), UTC)
            if store.add_register_read(
                meter_id=meter_ids[m.serial], read_at=at, energy_wh=int(sim.feed.energy_wh(number, t))
            ):
                reads += 1
    tell(4)
    end = datetime.fromtimestamp(int(end_s), UTC)
    events = [e for e in net.dcap.events if e.event.time_s <= window_end_s]
    alerts = len(alerts_from_dcap(store, events, eui_to_meter=euis))
    for number, m in enumerate(config.meters):
        if check_reverse_phase(
            store, meter_id=meter_ids[m.serial], at=end, element_power_w=sim.feed.last_element_power_w[number]
        ):
            alerts += 1
    for number, m in enumerate(config.meters):
        store_element_measurements(
            store, meter_id=meter_ids[m.serial], at=end, measurements=sim.feed.meters[number].measurements
        )
    tell(5)
    fractions = {
        bytes.fromhex(row.eui64): row.battery_left
        for row in sim.report.devices
        if row.battery_left is not None
    }
    alerts += len(check_battery(store, fractions, at=end, eui_to_meter=euis))
    alerts += len(check_communication(store, now=end))
    tell(6)
    store.save_network_report(site=site.id, report=finite_json(sim.report.to_dict()), taken_at=end)
    tell(7)
    return StoredSite(
        site_id=site.id,
        meter_ids=meter_ids,
        intervals=result.stored,
        provisional=result.provisional,
        register_reads=reads,
        alerts=alerts,
    )


def element_measurements_detail(measurements: Sequence[ElementMeasurement]) -> dict[str, Any]:
    """
    The ``detail`` of an ``element_measurements`` event (``docs/dashboard.md``): what each element
    measured, for the dashboard's wiring diagnosis (manual §4.5, §4.7, §7).

    Parameters
    ----------
    measurements : sequence of ElementMeasurement
        One per element (``Meter.measurements``): voltage [V], current [A], their phasor angles [deg],
        power [W].

    Returns
    -------
    dict
        ``{"elements": [{"element", "voltage_v", "voltage_angle_deg", "current_a", "current_angle_deg",
        "power_w", "ct_open"}, ...]}``; NaN and infinities as None.
    """
    return {
        "elements": [
            finite_json(
                {
                    "element": int(e.element),
                    "voltage_v": float(e.voltage_v),
                    "voltage_angle_deg": float(e.voltage_angle_deg),
                    "current_a": float(e.current_a),
                    "current_angle_deg": float(e.current_angle_deg),
                    "power_w": float(e.power_w),
                    "ct_open": bool(e.ct_open),
                }
            )
            for e in measurements
        ]
    }


def store_element_measurements(
    store: Store, *, meter_id: int, at: datetime, measurements: Sequence[ElementMeasurement]
) -> bool:
    """
    Store a meter's element measurements as an ``element_measurements`` event, for the wiring diagnosis.

    Parameters
    ----------
    store : Store
        The store.
    meter_id : int
        The meter.
    at : datetime
        Aware instant of the measurements.
    measurements : sequence of ElementMeasurement
        One per element; none (a meter that never ran) stores nothing.

    Returns
    -------
    bool
        Whether an event was stored.
    """
    if not measurements:
        return False
    store.add_event(
        kind=ELEMENT_MEASUREMENTS_EVENT,
        at=at,
        meter_id=meter_id,
        detail=element_measurements_detail(measurements),
    )
    return True


ELEMENT_MEASUREMENTS_EVENT = "element_measurements"
"""Kind of the event holding a meter's per-element measurements (``docs/dashboard.md``)."""


SOLAR_ZERO_RUN_MAX_H = 18.0
"""Longest run of zero intervals VEE accepts from a production meter: the longest night at 55° of
latitude, with an hour to spare either side. [h]"""


def vee_site(
    store: Store, sim: SiteSimulation, stored: StoredSite, *, progress: Progress | None = None
) -> list[VeeReport]:
    """
    Run VEE (``headend/vee/``) on every meter of a stored site over the simulated window.

    A production (solar) meter's night is a run of zero intervals by nature: its zero-run check allows
    :data:`SOLAR_ZERO_RUN_MAX_H` instead of VEE's default 4 h (``docs/site.md``).
    """
    reports = []
    total = len(stored.meter_ids)
    kinds = {m.serial: m.kind for m in sim.config.meters}
    solar = VeeConfig(zero_run_max_h=SOLAR_ZERO_RUN_MAX_H)
    for k, (serial, meter_id) in enumerate(stored.meter_ids.items()):
        config = solar if kinds[serial] == "solar" else None
        reports.append(
            run_vee(
                store,
                meter_id=meter_id,
                start=sim.start,
                end=sim.end,
                timezone=sim.config.timezone,
                config=config,
            )
        )
        if progress is not None:
            progress("vee", k + 1, total)
    return reports


DEMO_TARIFF = "tiered-flat-example"
"""The example tariff the demo bills its tenants at (``billing/tariffs``, illustrative rates)."""


@dataclass(frozen=True)
class BillLine:
    """One bill of the summary."""

    account: str
    meter: str
    unit: str
    energy_kwh: float
    estimated_kwh: float
    total_usd: Decimal
    bill: Bill = field(repr=False, compare=False)
    """The whole bill (``meshmeter.billing.Bill``): its lines, inputs and outputs (``docs/billing.md``)."""
    bill_id: int | None = None
    """Its id in the store (``GET /bills/{bill_id}``), when it was saved."""


def bill_site(
    store: Store, sim: SiteSimulation, stored: StoredSite, *, tariff: str = DEMO_TARIFF, save: bool = True
) -> list[BillLine]:
    """
    Bill every account of a stored site over the simulated window from its validated intervals.

    Parameters
    ----------
    store : Store
        The store, after :func:`vee_site`.
    sim : SiteSimulation
        The run (its window is the billing period).
    stored : StoredSite
        Meter ids.
    tariff : str
        An example tariff of ``meshmeter.billing`` (illustrative rates).
    save : bool
        Store each bill with its inputs (``Store.save_bill``), tied to the site, the account and the
        meter; default True.

    Returns
    -------
    list of BillLine
        One per account in service during the window, in the site file's order.
    """
    rates = example_tariff(tariff)
    lines: list[BillLine] = []
    for account in sim.config.accounts:
        if account.move_out is not None and account.move_out <= sim.start:
            continue
        if account.move_in >= sim.end:
            continue
        meter_id = stored.meter_ids[account.meter]
        meter = store.get_meter(meter_id=meter_id)
        assert meter is not None  # stored by store_simulation
        tenant = Tenant(
            account=account.tenant,
            move_in=account.move_in if account.move_in > sim.start else None,
            move_out=account.move_out
            if account.move_out is not None and account.move_out < sim.end
            else None,
        )
        bill = bill_meter_from_store(
            store,
            meter=meter,
            tariff=rates,
            start=sim.start,
            end=sim.end,
            timezone=sim.config.timezone,
            tenant=tenant,
        )
        bill_id = None
        if save:
            account_ids = [
                a.id
                for a in store.accounts(meter_id=meter_id)
                if a.unit == account.unit and a.move_in == account.move_in
            ]
            saved, _ = store.save_bill(
                document=bill.to_dict(),
                site_id=stored.site_id,
                account_id=account_ids[0] if len(account_ids) == 1 else None,
                meter_id=meter_id,
            )
            bill_id = saved.id
        lines.append(
            BillLine(
                account=account.tenant,
                meter=account.meter,
                unit=account.unit,
                energy_kwh=bill.energy_wh / 1000.0,
                estimated_kwh=bill.estimated_wh / 1000.0,
                total_usd=bill.printed_total,
                bill=bill,
                bill_id=bill_id,
            )
        )
    return lines
