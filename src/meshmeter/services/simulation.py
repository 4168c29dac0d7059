"""Store a simulated site as the head-end would have received it, validate it and bill it.

``meshmeter site simulate`` and ``meshmeter demo`` call these (``docs/site.md``): the one place where the twin
(``site/``) meets the head-end (``store/``, ``headend/``, ``billing/``), so that neither imports the other.

- :func:`store_simulation`: the site, its meters (with their roles), MDTs, tenants and accounts, the DCAP's
  deliveries through the head-end's ingest, register reads, device events and alerts, the network report;
  nothing that ends or happens after the simulated window.
- :func:`vee_site`: VEE over every meter of the window (a production meter's nights allowed).
- :func:`bill_site`: every account in service billed from the validated view
  (:func:`~meshmeter.services.billing.bill_meter_from_store`), each bill kept.
- :func:`finish_run`: the run marked complete.

A run stores many things in many transactions, so it is made resumable (issue 12, defect 5): its first
write is a run marker (a ``site_run`` event: the site's name, the window, the seed and the SHA-256 of the
checked site file, :class:`SiteRun`), its last a ``site_run`` event that says it is complete. A run of a
site whose unfinished marker is in the store, with the same file, window and seed, finishes it: every
write of the run is idempotent (the site, meters, MDTs, tenants and accounts found by their natural keys,
events looked for before they are added, ingest, register reads, alerts and bills idempotent by design,
VEE run again only on meters it has not validated yet), so the store ends as one uninterrupted run leaves
it. Anything else of that name is refused with a message that says how to finish it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from meshmeter.amr.dcap import Delivery
from meshmeter.amr.topology import DeviceKind
from meshmeter.billing import Bill, Tenant, example_tariff
from meshmeter.headend import IngestResult, ingest_deliveries
from meshmeter.headend.alerts import (
    alerts_from_dcap,
    check_battery,
    check_communication,
    check_reverse_phase,
)
from meshmeter.headend.vee import VeeReport, run_vee
from meshmeter.headend.vee.config import SOLAR_ZERO_RUN_MAX_H
from meshmeter.intervals import Quality
from meshmeter.meter.diagnostics import ElementMeasurement
from meshmeter.services.account_tariffs import set_tariff
from meshmeter.services.billing import bill_meter_from_store
from meshmeter.site.config import SiteConfig
from meshmeter.site.run import Progress, SiteSimulation
from meshmeter.store import Store

__all__ = [
    "DEMO_TARIFF",
    "ELEMENT_MEASUREMENTS_EVENT",
    "KILL_AT_ENV",
    "SITE_RUN_EVENT",
    "SOLAR_ZERO_RUN_MAX_H",
    "BillLine",
    "SiteRun",
    "StoredSite",
    "bill_site",
    "element_measurements_detail",
    "finish_run",
    "finite_json",
    "store_element_measurements",
    "store_simulation",
    "vee_site",
]


SITE_RUN_EVENT = "site_run"
"""Kind of the events that mark a run of a site into the store: ``detail.stage`` is ``"started"`` (its
first write) or ``"complete"`` (its last); the other members are :meth:`SiteRun.detail`'s."""

KILL_AT_ENV = "MESHMETER_TEST_KILL_AT"
"""For tests only: ``<stage>`` or ``<stage>:<n>`` makes a run SIGKILL its own process there
(:func:`_kill_point`), as a user's kill would, so that a test can stop it at a named point and run it
again."""


def _kill_point(stage: str, n: int | None = None) -> None:
    """SIGKILL this process when :data:`KILL_AT_ENV` names this stage (tests only; nothing otherwise)."""
    wanted = os.environ.get(KILL_AT_ENV)
    if wanted and wanted == (stage if n is None else f"{stage}:{n}"):
        os.kill(os.getpid(), signal.SIGKILL)


def _site_sha256(sim: SiteSimulation) -> str:
    """SHA-256 of the checked site file: its content, not its spelling (comments and layout do not count)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if isinstance(value, datetime):
            return value.isoformat()
        if value is None or isinstance(value, bool | int | float | str):
            return value
        return str(value)

    text = json.dumps(plain(sim.config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SiteRun:
    """What names a run of a site into the store: the site, its window and seed, and its file's content."""

    site: str
    start: datetime
    end: datetime
    days: float
    """``end - start``. [day]"""
    seed: int
    site_sha256: str
    """SHA-256 of the checked site file (:func:`_site_sha256`), hex."""

    @classmethod
    def of(cls, sim: SiteSimulation) -> SiteRun:
        """The run of a simulation."""
        return cls(
            site=sim.config.name,
            start=sim.start,
            end=sim.end,
            days=(sim.end - sim.start).total_seconds() / 86_400.0,
            seed=sim.seed,
            site_sha256=_site_sha256(sim),
        )

    def detail(self, stage: str) -> dict[str, Any]:
        """The ``detail`` of its :data:`SITE_RUN_EVENT` at a stage."""
        return {
            "stage": stage,
            "site": self.site,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "seed": self.seed,
            "site_sha256": self.site_sha256,
        }


def _open_run(store: Store, run: SiteRun) -> tuple[bool, int]:
    """
    Start a run, or find the unfinished one it finishes.

    Returns
    -------
    resuming : bool
        True when the store holds this run unfinished.
    tenant_floor : int
        The highest tenant id before the run started: the run's tenants are above it.

    Raises
    ------
    ValueError
        The site is in the store from elsewhere, or complete, or unfinished with another file, window or
        seed (the message says how to finish it).
    """
    marks = [e for e in store.events(kind=SITE_RUN_EVENT) if e.detail.get("site") == run.site]
    taken = f"site {run.site!r} is already in the store"
    if any(e.detail.get("stage") == "complete" for e in marks):
        raise ValueError(f"{taken} (a complete run): use another database or rename it")
    started = [e.detail for e in marks if e.detail.get("stage") == "started"]
    if started:
        mark = started[0]
        if mark.get("site_sha256") != run.site_sha256:
            raise ValueError(
                f"an unfinished run of site {run.site!r} is in the store, from a different site file "
                f"(SHA-256 {str(mark.get('site_sha256'))[:12]}..., this one {run.site_sha256[:12]}...): "
                "run that file again to finish it, or use another database or rename the site"
            )
        if (mark.get("start"), mark.get("end"), mark.get("seed")) != (
            run.start.isoformat(),
            run.end.isoformat(),
            run.seed,
        ):
            begun = datetime.fromisoformat(str(mark["start"]))
            days = (datetime.fromisoformat(str(mark["end"])) - begun).total_seconds() / 86_400.0
            raise ValueError(
                f"an unfinished run of site {run.site!r} is in the store over another window or seed: finish "
                f"it with --start {begun.isoformat()} --days {days:g} --seed {mark.get('seed')}, or use "
                "another database"
            )
        return True, int(mark.get("tenant_id_floor", 0))
    if any(s.name == run.site for s in store.sites()):
        raise ValueError(f"{taken}: use another database or rename it")
    floor = max((t.id for t in store.tenants()), default=0)
    store.add_event(
        kind=SITE_RUN_EVENT, at=run.start, detail={**run.detail("started"), "tenant_id_floor": floor}
    )
    return False, floor


def finish_run(store: Store, stored: StoredSite) -> None:
    """Mark a run complete (its last write, after :func:`vee_site` and :func:`bill_site`); idempotent."""
    run = stored.run
    done = [
        e
        for e in store.events(kind=SITE_RUN_EVENT)
        if e.detail.get("site") == run.site and e.detail.get("stage") == "complete"
    ]
    if not done:
        store.add_event(kind=SITE_RUN_EVENT, at=run.start, detail=run.detail("complete"))


@dataclass(frozen=True)
class StoredSite:
    """What :func:`store_simulation` put in the store."""

    site_id: int
    meter_ids: dict[str, int]
    """Meter id by serial."""
    intervals: int
    """Raw intervals stored by this call. [1]"""
    provisional: int
    """Of them, stored with energy 0 because the record before them never arrived. [1]"""
    register_reads: int
    """Register reads stored by this call. [1]"""
    alerts: int
    """Alerts raised by this call (tamper, reverse phase, low battery, communication loss). [1]"""
    run: SiteRun = field(compare=False)
    """The run (its marker)."""
    resumed: bool = False
    """True when this call finished a run that had been stopped part-way."""


def finite_json(value: Any) -> Any:
    """JSON members with NaN and infinities as None (the store refuses them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value


def _unit_settings(store: Store, config: SiteConfig, site_id: int, meter_ids: dict[str, int]) -> None:
    """The units' floor area and occupants the site file gives (allocation, ``docs/billing.md``): set on the
    meter's units (idempotent: an unchanged unit records nothing); a unit no account made yet is made, so
    that a vacant unit's share is the owner's."""
    by = f"site file ({config.name})"
    for m in config.meters:
        given = {
            key: value
            for key, value in (("floor_area_ft2", m.floor_area_ft2), ("occupants", m.occupants))
            if value is not None
        }
        if not given or m.unit is None:
            continue
        units = store.units(meter_id=meter_ids[m.serial])
        if not units:
            taken = {u.name for u in store.units(site_id=site_id)}
            name = m.unit if m.unit not in taken else f"{m.unit} ({m.serial})"
            units = [store.create_unit(site_id=site_id, name=name, meter_id=meter_ids[m.serial], by=by)]
        for unit in units:
            store.update_unit(unit_id=unit.id, by=by, **given)


def _event_key(kind: str, meter_id: int | None, eui64: bytes | None, at: datetime) -> tuple[Any, ...]:
    return (kind, meter_id, eui64, at)


def store_simulation(store: Store, sim: SiteSimulation, *, progress: Progress | None = None) -> StoredSite:
    """
    Store a simulated site as the head-end would have received it; resumable.

    Parameters
    ----------
    store : Store
        The store; the site's name must not be in it yet, unless an unfinished run of this same site
        file, window and seed is (which this call then finishes).
    sim : SiteSimulation
        The run (:func:`meshmeter.site.run.simulate_site_file`).
    progress : Progress, optional
        Told after each step (stage ``"store"``).

    Returns
    -------
    StoredSite

    Raises
    ------
    ValueError
        The site's name is in the store from elsewhere or complete, or unfinished from another site file,
        window or seed (:func:`_open_run`); the head-end refused the DCAP's data.

    Notes
    -----
    In order: the run marker (:data:`SITE_RUN_EVENT`, ``started``); the site; its meters (CT ratio from
    the designation), each with its MDT (EUI-64 and key as commissioned in the DCAP) and an ``install``
    event describing its role, unit, CTs, load and MDT placement; an ``install`` event for the DCAP and
    each repeater (position, power-up order); the tenants and accounts; the DCAP's deliveries of the
    window's intervals (interval end at or before ``sim.end``) through
    :func:`~meshmeter.headend.ingest_deliveries`, a device at a time; a register read of each meter at
    every UTC midnight and at the end; the DCAP's events of the window as alerts (tamper); the
    reverse-phase check of each meter's last measurement and those measurements as an
    ``element_measurements`` event (the dashboard's wiring diagnosis), the MDTs' batteries and
    communication at the end of the run; and the CIT report (``save_network_report``).

    Nothing stored ends or happens after ``sim.end`` (issue 11): the intervals the MDTs closed in the
    drain after the window (no pulses fed, energy 0, and, for a run up to now, in the future) and events
    of the drain are left out; the drain only brings the window's late reports.

    Finishing a stopped run (issue 12, defect 5) writes only what is missing: rows found by their
    natural keys (site by name, meter by serial, MDT by EUI-64, tenant by name above the marker's
    ``tenant_id_floor``, account by tenant, meter, unit and dates, an event by kind, subject and time)
    are kept; ingest, register reads, alerts and bills are idempotent by design.
    """
    config = sim.config
    net = sim.network
    steps = 7
    run = SiteRun.of(sim)

    def tell(done: int) -> None:
        if progress is not None:
            progress("store", done, steps)

    if config.sources:  # what the collector could not run is refused before anything is stored
        from meshmeter.collect.runner import source_problems

        wrong = [
            f"sources[{k}] ({source.name}): {problem}"
            for k, source in enumerate(config.sources)
            for problem in source_problems(source.kind, source.format, source.address, source.settings)
        ]
        if wrong:
            raise ValueError("; ".join(wrong))
    resuming, tenant_floor = _open_run(store, run)
    _kill_point("started")
    known: set[tuple[Any, ...]] = set()
    if resuming:
        known = {_event_key(e.kind, e.meter_id, e.eui64, e.at) for e in store.events(kind="install")}
    site = next((s for s in store.sites() if s.name == config.name), None) if resuming else None
    if site is None:
        site = store.create_site(name=config.name, timezone=config.timezone)
    _kill_point("site")
    meter_ids: dict[str, int] = {}
    euis: dict[bytes, int] = {}
    for number, m in enumerate(config.meters):
        found = store.get_meter(serial=m.serial) if resuming else None
        if found is not None and found.site_id == site.id:
            meter_id = found.id
        else:
            meter_id = store.create_meter(
                serial=m.serial,
                designation=m.designation,
                ct_ratio=m.ct_ratio,
                multiplier=m.multiplier,
                install_date=sim.start.astimezone(ZoneInfo(config.timezone)).date(),
                site_id=site.id,
                role=m.role,
                register_digits=m.register_digits,
                export_of_meter_id=None if m.export_of is None else meter_ids[m.export_of],
                manufacturer=m.manufacturer,
                model=m.model,
                elements=m.elements,
                voltage_max_v=m.voltage_max_v,
                current_max_a=m.current_max_a,
            ).id
        device = net.devices[sim.mdt_index(number)]
        mdt = store.get_mdt(eui64=device.eui) if resuming else None
        if mdt is None or mdt.meter_id != meter_id:
            store.create_mdt(eui64=device.eui, kit=m.mdt.kit, key=device.key, meter_id=meter_id)
        meter_ids[m.serial] = meter_id
        euis[device.eui] = meter_id
        if _event_key("install", meter_id, device.eui, sim.start) not in known:
            store.add_event(
                kind="install",
                at=sim.start,
                meter_id=meter_id,
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
        _kill_point("meters", number + 1)
    tell(1)
    layout = net.layout
    reps = layout.indices(DeviceKind.REPEATER)
    dist = np.hypot(*(layout.positions_m[reps] - layout.positions_m[0]).T) if reps.size else np.zeros(0)
    order = np.argsort(dist if config.power_order == "near-first" else -dist, kind="stable")
    powered = {int(reps[k]): place for place, k in enumerate(order.tolist(), start=1)}
    for i, kind in enumerate(layout.kinds):
        if kind is DeviceKind.MDT:
            continue
        if _event_key("install", None, layout.euis[i], sim.start) in known:
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
    tenant_ids: dict[str, int] = {}
    if resuming:  # the run's tenants: made after its marker (ids above the floor), the first of each name
        for tenant in store.tenants():
            if tenant.id > tenant_floor and tenant.name in config.tenants:
                tenant_ids.setdefault(tenant.name, tenant.id)
    for k, name in enumerate(config.tenants):
        if name not in tenant_ids:
            tenant_ids[name] = store.create_tenant(
                name=name, at=sim.start, by=f"site file ({config.name})"
            ).id
        _kill_point("tenants", k + 1)
    for k, a in enumerate(config.accounts):
        tenant_id, meter_id = tenant_ids[a.tenant], meter_ids[a.meter]
        opened = resuming and any(
            # by tenant and dates on the meter: the unit's stored name gains the serial where two meters
            # of the site name their units alike
            (o.tenant_id, o.move_in, o.move_out) == (tenant_id, a.move_in, a.move_out)
            for o in store.occupancies(meter_id=meter_id)
        )
        if not opened:
            store.create_account(
                tenant_id=tenant_id,
                meter_id=meter_id,
                unit=a.unit,
                move_in=a.move_in,
                move_out=a.move_out,
                by=f"site file ({config.name})",
            )
        _kill_point("accounts", k + 1)
    _unit_settings(store, config, site.id, meter_ids)
    for source in config.sources:  # real devices' sources (docs/collect.md): added once
        from meshmeter.services.sources import add_source  # pymodbus and paho only where a file has one

        if store.get_source(site_id=site.id, name=source.name) is None:
            add_source(
                store,
                site_id=site.id,
                name=source.name,
                kind=source.kind,
                format=source.format,
                address=source.address,
                settings=source.settings,
                channels=source.channels,
                enabled=source.enabled,
            )
    tell(2)
    # a meter an enabled source feeds is read from its device: the twin's intervals, register reads and
    # element measurements of it would be a second, invented feed (its MDT stays on the mesh)
    twin_fed = [m.serial not in config.source_fed for m in config.meters]
    fed_euis = {
        eui for eui, meter_id in euis.items() if meter_id in {meter_ids[s] for s in config.source_fed}
    }
    window_end_s = int(sim.end.timestamp())
    by_device: dict[bytes, list[Delivery]] = {}
    for d in net.dcap.deliveries:
        if d.record.interval_end_s <= window_end_s and d.device not in fed_euis:
            by_device.setdefault(d.device, []).append(d)
    result = IngestResult()
    for k, deliveries in enumerate(by_device.values()):  # each device in its own transaction, as ingest does
        result += ingest_deliveries(store, deliveries, source="dcap")
        _kill_point("ingest", k + 1)
    if result.refused:
        raise ValueError(f"the head-end refused the DCAP's data: {dict(result.refused)}")
    tell(3)
    reads = 0
    epoch = sim.start.timestamp()
    end_s = epoch + sim.days * 86_400.0
    midnights = np.arange(math.floor(epoch / 86_400.0) + 1, math.floor(end_s / 86_400.0) + 1) * 86_400.0
    times = [*(float(t) for t in midnights if t < end_s), end_s]
    for number, m in enumerate(config.meters):
        if not twin_fed[number]:
            continue
        for t in times:
            at = datetime.fromtimestamp(int(t), UTC)
            if store.add_register_read(
                meter_id=meter_ids[m.serial], read_at=at, energy_wh=int(sim.feed.energy_wh(number, t))
            ):
                reads += 1
    _kill_point("reads")
    tell(4)
    end = datetime.fromtimestamp(int(end_s), UTC)
    events = [e for e in net.dcap.events if e.event.time_s <= window_end_s]
    alerts = len(alerts_from_dcap(store, events, eui_to_meter=euis))
    for number, m in enumerate(config.meters):
        if twin_fed[number] and check_reverse_phase(
            store, meter_id=meter_ids[m.serial], at=end, element_power_w=sim.feed.last_element_power_w[number]
        ):
            alerts += 1
    for number, m in enumerate(config.meters):
        meter_id = meter_ids[m.serial]
        if twin_fed[number] and not (
            resuming
            and store.events(
                meter_id=meter_id, kind=ELEMENT_MEASUREMENTS_EVENT, start=end - timedelta(seconds=1), end=end
            )
        ):
            store_element_measurements(
                store, meter_id=meter_id, at=end, measurements=sim.feed.meters[number].measurements
            )
        _kill_point("measurements", number + 1)
    tell(5)
    fractions = {
        bytes.fromhex(row.eui64): row.battery_left
        for row in sim.report.devices
        if row.battery_left is not None
    }
    alerts += len(check_battery(store, fractions, at=end, eui_to_meter=euis))
    alerts += len(check_communication(store, now=end))
    _kill_point("alerts")
    tell(6)
    latest = store.latest_network_report(site=site.id) if resuming else None
    if latest is None or latest.taken_at != end:
        store.save_network_report(site=site.id, report=finite_json(sim.report.to_dict()), taken_at=end)
    _kill_point("report")
    tell(7)
    return StoredSite(
        site_id=site.id,
        meter_ids=meter_ids,
        intervals=result.stored,
        provisional=result.provisional,
        register_reads=reads,
        alerts=alerts,
        run=run,
        resumed=resuming,
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


def vee_site(
    store: Store, sim: SiteSimulation, stored: StoredSite, *, progress: Progress | None = None
) -> list[VeeReport]:
    """
    Run VEE (``headend/vee/``) on every meter of a stored site over the simulated window.

    A production (solar) meter's night is a run of zero intervals by nature: a solar meter is stored with
    role ``production``, and VEE allows such a meter
    :data:`~meshmeter.headend.vee.config.SOLAR_ZERO_RUN_MAX_H` instead of its default 4 h, as it does from
    every door (``meshmeter vee``; ``docs/vee.md``).

    Returns
    -------
    list of VeeReport
        One per meter VEE ran on: every meter, except, when finishing a stopped run
        (``stored.resumed``), those it had validated already (:func:`_validated`).
    """
    reports = []
    total = len(stored.meter_ids)
    for k, meter_id in enumerate(stored.meter_ids.values()):
        if stored.resumed and _validated(store, meter_id, sim):
            if progress is not None:
                progress("vee", k + 1, total)
            continue
        reports.append(
            run_vee(
                store,
                meter_id=meter_id,
                start=sim.start,
                end=sim.end,
                timezone=sim.config.timezone,
            )
        )
        _kill_point("vee", k + 1)
        if progress is not None:
            progress("vee", k + 1, total)
    return reports


def _validated(store: Store, meter_id: int, sim: SiteSimulation) -> bool:
    """
    Whether VEE has run on the meter over the window: its view has intervals and none of them raw (14).

    A VEE run covers every raw interval of its window delivered before it (``Store.record_vee_run``),
    and records that last, after its validated rows: a run stopped before it leaves raw intervals, and
    runs again. A meter with no interval at all runs again (VEE stores nothing for it but the record
    of the run).
    """
    view = store.interval_view(meter_id=meter_id, start=sim.start, end=sim.end)
    return bool(view.quality.size) and not bool((view.quality == int(Quality.RAW)).any())


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
        One per account in service during the window, in the site file's order; none of an account on a
        meter a source feeds (``SiteConfig.source_fed``: its data comes from the collector, later).
    """
    rates = example_tariff(tariff)
    lines: list[BillLine] = []
    for account in sim.config.accounts:
        if account.move_out is not None and account.move_out <= sim.start:
            continue
        if account.move_in >= sim.end or account.meter in sim.config.source_fed:
            continue  # not in service in the window; or on a real meter, billed once its source is read
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
        account_ids = [
            o.account_id
            for o in store.occupancies(meter_id=meter_id)
            if o.move_in == account.move_in  # a meter's occupancies do not overlap
        ]
        if (
            save
            and len(account_ids) == 1
            and store.account_tariff(account_id=account_ids[0], at=sim.end) is None
        ):
            # the tariff it is billed at, kept as the account's own (docs/billing.md): `meshmeter bill`
            # and the overview's charges then price it with no tariff named
            set_tariff(store, account_id=account_ids[0], example=tariff, by=f"site file ({sim.config.name})")
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
            saved, _ = store.save_bill(
                document=bill.to_dict(),
                site_id=stored.site_id,
                account_id=account_ids[0] if len(account_ids) == 1 else None,
                meter_id=meter_id,
            )
            bill_id = saved.id
            _kill_point("bills", len(lines) + 1)
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
