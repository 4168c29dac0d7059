"""Who sees what: the store as a scoped caller sees it, in one place.

A tenant token is bound to one account; an operator, billing or read-only token may be bound to a set of
sites (``docs/api.md``, "Scopes"). The routes do not filter for them one by one: the dependency
:data:`meshmeter.api.deps.StoreDep` gives a scoped caller a :class:`ScopedStore`, the store seen through
its scope, and every route, page and helper the route calls (alerts, communication status, the
dashboard's views, ingest, VEE, the Green Button writer) reads and writes through it.

* **Site-bound**: the sites named, their meters, units, accounts and occupancies; the tenants holding an
  account there; the bills of those sites and their corrections; the events and alerts of their meters
  and devices (an MDT of one of their meters, a DCAP or repeater installed at one of them); their network
  reports. Anything else is as if it did not exist: 404 for one thing named, left out of lists.
* **Tenant**: its account, its tenant, the units it occupies and their meters, whose intervals (raw,
  validated, the validated view, register reads) are cut to its occupancies ``(move_in, move_out]``;
  the bills of its account and their corrections. No events, no network report.

It fails closed: a method of :class:`~meshmeter.store.Store` that this class does not define is refused
(``AttributeError``) to a scoped caller, so that a new route using it cannot read past the scope
unnoticed; the tests try every route with a tenant token and a site-bound one. Unscoped callers (admin,
and tokens bound to nothing) get the store itself.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from meshmeter.api.auth import Principal
from meshmeter.errors import MeterLifeError, NotFoundError, TenancyError, UnknownMeterError
from meshmeter.intervals import IntervalColumns
from meshmeter.store import (
    Account,
    AccountTariff,
    Event,
    IntervalEdit,
    Mdt,
    Meter,
    MeterChange,
    NetworkReport,
    Occupancy,
    RawInsertResult,
    RawInterval,
    RawIntervalIn,
    RegisterRead,
    Site,
    Source,
    SourceChannel,
    Store,
    StoredBill,
    StoredCorrection,
    TenancyEvent,
    Tenant,
    Unit,
    ValidatedInterval,
    ValidatedIntervalIn,
    VeeFinding,
)

__all__ = ["ScopedStore", "Window", "bill_document", "is_scoped", "scoped", "view_key"]

Window = tuple[datetime, datetime | None]
"""An occupancy's tenure ``(move_in, move_out]``; None: it goes on."""

IntArray = npt.NDArray[np.int64]

_NEVER = 2**62
"""An end past every interval [s]: an open-ended tenure."""


def _mask(ends_s: IntArray, windows: Sequence[Window]) -> npt.NDArray[np.bool_]:
    keep = np.zeros(ends_s.shape, dtype=bool)
    for lo, hi in windows:
        top = _NEVER if hi is None else int(hi.timestamp())
        keep |= (ends_s > int(lo.timestamp())) & (ends_s <= top)
    return keep


def _within(moment: datetime, windows: Sequence[Window]) -> bool:
    return any(lo < moment and (hi is None or moment <= hi) for lo, hi in windows)


class ScopedStore(Store):
    """
    The store as a tenant or a site-bound token sees it (module docstring).

    Parameters
    ----------
    store : Store
        The app's store, which this one reads and writes through.
    principal : Principal
        A scoped caller (:attr:`Principal.scoped`).

    Notes
    -----
    It is a :class:`Store` for the type checker only: it opens no connection of its own, and every
    method it offers checks the scope and then calls ``store``'s. Any other public method of the store
    is refused.
    """

    def __init__(self, store: Store, principal: Principal) -> None:  # no Store.__init__: no engines
        if not principal.scoped:
            raise ValueError("a ScopedStore is for a tenant or a site-bound token")
        self._store = store
        self._principal = principal

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_") or name in _OFFERED:
            return object.__getattribute__(self, name)
        raise AttributeError(
            f"Store.{name} is not open to a scoped caller: offer it in meshmeter.api.scope.ScopedStore, "
            "with its scope"
        )

    def __repr__(self) -> str:
        p = self._principal
        return f"ScopedStore(role={p.role.value!r}, account_id={p.account_id}, site_ids={p.site_ids})"

    # -- the scope ------------------------------------------------------------------------------------

    @property
    def principal(self) -> Principal:
        """The caller."""
        return self._principal

    @property
    def dialect_name(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._store.dialect_name

    @cached_property
    def _account(self) -> Account | None:
        account_id = self._principal.account_id
        return None if account_id is None else self._store.get_account(account_id=account_id)

    @cached_property
    def _windows(self) -> dict[int, tuple[Window, ...]] | None:
        """A tenant's tenures per meter; None for a site-bound caller (whole meters)."""
        if self._principal.account_id is None:
            return None
        out: dict[int, list[Window]] = {}
        for o in self._store.occupancies(account_id=self._principal.account_id):
            out.setdefault(o.meter_id, []).append((o.move_in, o.move_out))
        return {meter_id: tuple(found) for meter_id, found in out.items()}

    @cached_property
    def _meter_ids(self) -> frozenset[int]:
        if self._windows is not None:
            return frozenset(self._windows)
        sites = self._site_ids
        return frozenset(m.id for m in self._store.meters() if m.site_id in sites)

    @cached_property
    def _site_ids(self) -> frozenset[int]:
        bound = self._principal.site_ids
        if bound is not None:
            return bound
        found = {self._account.site_id} if self._account is not None else set()
        for meter_id in self._windows or {}:
            meter = self._store.get_meter(meter_id=meter_id)
            if meter is not None:
                found.add(meter.site_id)
        return frozenset(s for s in found if s is not None)

    @property
    def tenant(self) -> bool:
        """True for a tenant's scope, False for a site-bound one."""
        return self._principal.account_id is not None

    def windows(self, meter_id: int) -> tuple[Window, ...] | None:
        """The tenures of a tenant on the meter (empty: none); None for a site-bound caller."""
        if self._windows is None:
            return None
        return self._windows.get(meter_id, ())

    def sees_meter(self, meter_id: int | None) -> bool:
        """Whether the meter is in the scope."""
        return meter_id is not None and meter_id in self._meter_ids

    def sees_site(self, site_id: int | None) -> bool:
        """Whether the site is in the scope."""
        return site_id is not None and site_id in self._site_ids

    def _require_meter(self, meter_id: int, field: str = "meter_id") -> None:
        if not self.sees_meter(meter_id):
            raise UnknownMeterError(f"{field} {meter_id!r} is not a known meter")

    def _cut(self, meter_id: int, view: IntervalColumns) -> IntervalColumns:
        windows = self.windows(meter_id)
        if windows is None:
            return view
        keep = _mask(view.interval_end_s, windows)
        cumulative = None if view.cumulative_wh is None else view.cumulative_wh[keep]
        return IntervalColumns(
            view.interval_end_s[keep], view.energy_wh[keep], view.quality[keep], view.interval_s, cumulative
        )

    def _kept(self, meter_id: int, stamps: Iterable[datetime]) -> list[bool]:
        windows = self.windows(meter_id)
        return [windows is None or _within(t, windows) for t in stamps]

    # -- sites, meters, MDTs --------------------------------------------------------------------------

    def sites(self) -> list[Site]:
        return [s for s in self._store.sites() if self.sees_site(s.id)]

    def get_site(self, *, site_id: int) -> Site | None:
        return self._store.get_site(site_id=site_id) if self.sees_site(site_id) else None

    def meters(self, *, site_id: int | None = None) -> list[Meter]:
        if site_id is not None and not self.sees_site(site_id):
            return []
        return [m for m in self._store.meters(site_id=site_id) if self.sees_meter(m.id)]

    def get_meter(self, *, serial: str | None = None, meter_id: int | None = None) -> Meter | None:
        found = self._store.get_meter(serial=serial, meter_id=meter_id)
        return found if found is not None and self.sees_meter(found.id) else None

    def get_mdt(self, *, eui64: bytes) -> Mdt | None:
        found = self._store.get_mdt(eui64=eui64)
        return found if found is not None and self.sees_meter(found.meter_id) else None

    # -- sources of real readings: those of the sites; a tenant sees and changes none -----------------

    def _sees_source(self, source: Source | None) -> bool:
        return source is not None and not self.tenant and self.sees_site(source.site_id)

    def sources(self, *, site_id: int | None = None) -> list[Source]:
        if self.tenant or (site_id is not None and not self.sees_site(site_id)):
            return []
        return [s for s in self._store.sources(site_id=site_id) if self._sees_source(s)]

    def get_source(
        self, *, source_id: int | None = None, site_id: int | None = None, name: str | None = None
    ) -> Source | None:
        found = self._store.get_source(source_id=source_id, site_id=site_id, name=name)
        return found if self._sees_source(found) else None

    def source_channels(
        self, *, source_id: int | None = None, site_id: int | None = None
    ) -> list[SourceChannel]:
        if self.tenant:
            return []
        seen = {s.id for s in self.sources(site_id=site_id)}
        found = self._store.source_channels(source_id=source_id, site_id=site_id)
        return [c for c in found if c.source_id in seen]

    def create_source(self, *, site_id: int, **values: Any) -> Source:
        if self.tenant or not self.sees_site(site_id):
            raise NotFoundError("site", site_id, "a token adds sources to its sites")
        return self._store.create_source(site_id=site_id, **values)

    def update_source(self, *, source_id: int, **changes: object) -> Source:
        if self.get_source(source_id=source_id) is None:
            raise NotFoundError("source", source_id, "meshmeter source list names a site's sources")
        return self._store.update_source(source_id=source_id, **changes)

    def add_source_channel(self, *, source_id: int, meter_id: int, **values: Any) -> SourceChannel:
        if self.get_source(source_id=source_id) is None:
            raise NotFoundError("source", source_id, "meshmeter source list names a site's sources")
        if not self.sees_meter(meter_id):
            raise UnknownMeterError(f"meter_id {meter_id!r} is not a known meter")
        return self._store.add_source_channel(source_id=source_id, meter_id=meter_id, **values)

    # -- a meter's life: the meters of the scope; a tenant changes none ------------------------------

    def meter_changes(
        self,
        *,
        meter_id: int | None = None,
        unit_id: int | None = None,
        meter_ids: Sequence[int] | None = None,
        replaces_meter_id: int | None = None,
    ) -> list[MeterChange]:
        found = self._store.meter_changes(
            meter_id=meter_id, unit_id=unit_id, meter_ids=meter_ids, replaces_meter_id=replaces_meter_id
        )
        return [c for c in found if self.sees_meter(c.meter_id)]

    def last_counter_wh(self, *, meter_id: int, at: datetime) -> tuple[datetime, int] | None:
        self._require_meter(meter_id)
        return self._store.last_counter_wh(meter_id=meter_id, at=at)

    def _life_writer(self, **meter_ids: int) -> None:
        if self.tenant:
            raise MeterLifeError(["a tenant token changes no meter"])
        unseen = [
            f"{field} {m} is not a known meter" for field, m in meter_ids.items() if not self.sees_meter(m)
        ]
        if unseen:
            raise MeterLifeError(unseen, unknown=True)

    def install_meter(
        self,
        *,
        meter_id: int,
        at: datetime,
        first_read_wh: int | None,
        unit_id: int | None = None,
        by: str | None = None,
        given_problems: Sequence[str] = (),
    ) -> MeterChange:
        self._life_writer(meter_id=meter_id)
        if unit_id is not None and self.get_unit(unit_id=unit_id) is None:
            raise MeterLifeError([f"unit_id {unit_id} is not a known unit"], unknown=True)
        return self._store.install_meter(
            meter_id=meter_id,
            at=at,
            first_read_wh=first_read_wh,
            unit_id=unit_id,
            by=by,
            given_problems=given_problems,
        )

    def remove_meter(
        self,
        *,
        meter_id: int,
        at: datetime,
        final_read_wh: int | None,
        by: str | None = None,
        given_problems: Sequence[str] = (),
    ) -> MeterChange:
        self._life_writer(meter_id=meter_id)
        return self._store.remove_meter(
            meter_id=meter_id, at=at, final_read_wh=final_read_wh, by=by, given_problems=given_problems
        )

    def exchange_meter(
        self,
        *,
        old_meter_id: int,
        new_meter_id: int,
        at: datetime,
        final_read_wh: int | None,
        first_read_wh: int | None,
        by: str | None = None,
        given_problems: Sequence[str] = (),
    ) -> tuple[MeterChange, MeterChange]:
        self._life_writer(old_meter_id=old_meter_id, new_meter_id=new_meter_id)
        return self._store.exchange_meter(
            old_meter_id=old_meter_id,
            new_meter_id=new_meter_id,
            at=at,
            final_read_wh=final_read_wh,
            first_read_wh=first_read_wh,
            by=by,
            given_problems=given_problems,
        )

    def change_meter_multiplier(
        self,
        *,
        meter_id: int,
        at: datetime,
        multiplier: float,
        read_wh: int | None = None,
        by: str | None = None,
        given_problems: Sequence[str] = (),
    ) -> MeterChange:
        self._life_writer(meter_id=meter_id)
        return self._store.change_meter_multiplier(
            meter_id=meter_id,
            at=at,
            multiplier=multiplier,
            read_wh=read_wh,
            by=by,
            given_problems=given_problems,
        )

    def change_meter_ct_ratio(
        self,
        *,
        meter_id: int,
        at: datetime,
        ct_ratio: float,
        read_wh: int | None = None,
        by: str | None = None,
        given_problems: Sequence[str] = (),
    ) -> MeterChange:
        self._life_writer(meter_id=meter_id)
        return self._store.change_meter_ct_ratio(
            meter_id=meter_id, at=at, ct_ratio=ct_ratio, read_wh=read_wh, by=by, given_problems=given_problems
        )

    # -- intervals and reads: whole meters of the sites; a tenant's cut to its tenures ---------------

    def raw_intervals(
        self, *, meter_id: int, start: datetime, end: datetime, all_revisions: bool = False
    ) -> list[RawInterval]:
        if not self.sees_meter(meter_id):
            return []
        rows = self._store.raw_intervals(meter_id=meter_id, start=start, end=end, all_revisions=all_revisions)
        return [
            r
            for r, keep in zip(rows, self._kept(meter_id, (r.interval_end for r in rows)), strict=True)
            if keep
        ]

    def raw_interval_columns(
        self, *, meter_id: int, start: datetime, end: datetime
    ) -> tuple[IntArray, IntArray]:
        self._require_meter(meter_id)
        ends, energy = self._store.raw_interval_columns(meter_id=meter_id, start=start, end=end)
        windows = self.windows(meter_id)
        if windows is None:
            return ends, energy
        keep = _mask(ends, windows)
        return ends[keep], energy[keep]

    def raw_interval_counters(
        self, *, meter_id: int, start: datetime, end: datetime
    ) -> tuple[IntArray, IntArray, IntArray]:
        self._require_meter(meter_id)
        ends, energy, counters = self._store.raw_interval_counters(meter_id=meter_id, start=start, end=end)
        windows = self.windows(meter_id)
        if windows is None:
            return ends, energy, counters
        keep = _mask(ends, windows)
        return ends[keep], energy[keep], counters[keep]

    def validated_intervals(
        self, *, meter_id: int, start: datetime, end: datetime
    ) -> list[ValidatedInterval]:
        if not self.sees_meter(meter_id):
            return []
        rows = self._store.validated_intervals(meter_id=meter_id, start=start, end=end)
        return [
            r
            for r, keep in zip(rows, self._kept(meter_id, (r.interval_end for r in rows)), strict=True)
            if keep
        ]

    def interval_view(
        self, *, meter_id: int, start: datetime, end: datetime, cumulative: bool = False
    ) -> IntervalColumns:
        self._require_meter(meter_id)
        view = self._store.interval_view(meter_id=meter_id, start=start, end=end, cumulative=cumulative)
        return self._cut(meter_id, view)

    def interval_edits(self, *, meter_id: int, start: datetime, end: datetime) -> list[IntervalEdit]:
        if not self.sees_meter(meter_id):
            return []
        rows = self._store.interval_edits(meter_id=meter_id, start=start, end=end)
        return [
            r
            for r, keep in zip(rows, self._kept(meter_id, (r.interval_end for r in rows)), strict=True)
            if keep
        ]

    def register_reads(self, *, meter_id: int, start: datetime, end: datetime) -> list[RegisterRead]:
        if not self.sees_meter(meter_id):
            return []
        rows = self._store.register_reads(meter_id=meter_id, start=start, end=end)
        return [
            r for r, keep in zip(rows, self._kept(meter_id, (r.read_at for r in rows)), strict=True) if keep
        ]

    # -- writes of a site-bound operator: ingest and VEE of its meters -------------------------------

    def insert_raw_intervals(
        self,
        *,
        meter_id: int,
        rows: Iterable[RawIntervalIn | tuple[Any, ...]],
        source: str,
        received_at: datetime | None = None,
    ) -> int:
        self._require_meter(meter_id)
        return self._store.insert_raw_intervals(
            meter_id=meter_id, rows=rows, source=source, received_at=received_at
        )

    def insert_raw_interval_columns(
        self,
        *,
        meter_id: int,
        interval_end_s: IntArray,
        energy_wh: IntArray,
        cumulative_wh: IntArray | None = None,
        source: str,
        received_at: datetime | None = None,
    ) -> RawInsertResult:
        self._require_meter(meter_id)
        return self._store.insert_raw_interval_columns(
            meter_id=meter_id,
            interval_end_s=interval_end_s,
            energy_wh=energy_wh,
            cumulative_wh=cumulative_wh,
            source=source,
            received_at=received_at,
        )

    def insert_raw_interval_batches(
        self,
        *,
        batches: Sequence[tuple[int | str, IntArray, IntArray, IntArray | None]],
        source: str,
        received_at: datetime | None = None,
    ) -> list[RawInsertResult]:
        for meter, *_ in batches:
            found = self.get_meter(meter_id=meter) if isinstance(meter, int) else self.get_meter(serial=meter)
            if found is None:
                raise UnknownMeterError(f"meter {meter!r} is not a known meter")
        return self._store.insert_raw_interval_batches(
            batches=batches, source=source, received_at=received_at
        )

    def put_validated_intervals(
        self,
        *,
        meter_id: int,
        rows: Iterable[ValidatedIntervalIn | tuple[Any, ...]],
        edited_by: str,
        reason: str,
        edited_at: datetime | None = None,
        action: str | None = None,
    ) -> int:
        self._require_meter(meter_id)
        return self._store.put_validated_intervals(
            meter_id=meter_id,
            rows=rows,
            edited_by=edited_by,
            reason=reason,
            edited_at=edited_at,
            action=action,
        )

    def request_reread(
        self,
        *,
        meter_id: int,
        interval_ends: Iterable[datetime],
        requested_by: str,
        reason: str,
        requested_at: datetime | None = None,
    ) -> int:
        self._require_meter(meter_id)
        return self._store.request_reread(
            meter_id=meter_id,
            interval_ends=interval_ends,
            requested_by=requested_by,
            reason=reason,
            requested_at=requested_at,
        )

    def put_vee_findings(
        self,
        *,
        meter_id: int,
        start: datetime,
        end: datetime,
        findings: Iterable[tuple[datetime, str, str]],
        keep: Iterable[datetime] = (),
    ) -> None:
        self._require_meter(meter_id)
        self._store.put_vee_findings(meter_id=meter_id, start=start, end=end, findings=findings, keep=keep)

    def vee_findings(self, *, meter_id: int, start: datetime, end: datetime) -> list[VeeFinding]:
        if not self.sees_meter(meter_id):
            return []
        rows = self._store.vee_findings(meter_id=meter_id, start=start, end=end)
        return [
            r
            for r, keep in zip(rows, self._kept(meter_id, (r.interval_end for r in rows)), strict=True)
            if keep
        ]

    def record_vee_run(
        self,
        *,
        meter_id: int,
        start: datetime,
        end: datetime,
        batch_watermark: int,
        ran_by: str,
        ran_at: datetime | None = None,
    ) -> None:
        self._require_meter(meter_id)
        self._store.record_vee_run(
            meter_id=meter_id,
            start=start,
            end=end,
            batch_watermark=batch_watermark,
            ran_by=ran_by,
            ran_at=ran_at,
        )

    def ingest_watermark(self, *, seal: bool = False) -> int:
        return self._store.ingest_watermark(seal=seal)

    def get_ingest_format(self, *, name: str) -> dict[str, Any] | None:
        return self._store.get_ingest_format(name=name)

    def ingest_formats(self) -> dict[str, dict[str, Any]]:
        return self._store.ingest_formats()

    # -- events, alerts, network reports: a site-bound caller's meters and devices; none for a tenant ---

    @cached_property
    def _devices(self) -> frozenset[bytes]:
        """EUI-64s of the devices in the scope: DCAPs and repeaters installed at its sites (by their
        ``install`` event's ``site``); MDTs go by their meter."""
        if self.tenant:
            return frozenset()
        names = {s.name for s in self.sites()}
        return frozenset(
            e.eui64
            for e in self._store.events(kind="install")
            if e.meter_id is None and e.eui64 is not None and e.detail.get("site") in names
        )

    def _sees_event(self, e: Event) -> bool:
        if e.meter_id is not None:
            return self.sees_meter(e.meter_id)
        if e.eui64 is None:
            return False
        if e.eui64 in self._devices:
            return True
        mdt = self._store.get_mdt(eui64=e.eui64)
        return mdt is not None and self.sees_meter(mdt.meter_id)

    def events(
        self,
        *,
        meter_id: int | None = None,
        kind: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Event]:
        if self.tenant or (meter_id is not None and not self.sees_meter(meter_id)):
            return []
        found = self._store.events(meter_id=meter_id, kind=kind, start=start, end=end)
        return [e for e in found if self._sees_event(e)]

    def latest_network_report(self, *, site: int | Site | None = None) -> NetworkReport | None:
        if self.tenant:
            return None
        if site is not None:
            site_id = site.id if isinstance(site, Site) else site
            return self._store.latest_network_report(site=site_id) if self.sees_site(site_id) else None
        found = [r for s in sorted(self._site_ids) if (r := self._store.latest_network_report(site=s))]
        return max(found, key=lambda r: (r.taken_at, r.id), default=None)

    # -- bills: the sites', or the tenant's account's -------------------------------------------------

    def _sees_bill(self, bill: StoredBill) -> bool:
        if self.tenant:
            return bill.account_id is not None and bill.account_id == self._principal.account_id
        return self.sees_site(bill.site_id)

    def list_bills(
        self,
        *,
        site: int | Site | None = None,
        account: str | None = None,
        account_id: int | None = None,
        meter: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[StoredBill]:
        found = self._store.list_bills(
            site=site, account=account, account_id=account_id, meter=meter, start=start, end=end
        )
        return [b for b in found if self._sees_bill(b)]

    def get_bill(self, bill_id: int) -> StoredBill | None:
        found = self._store.get_bill(bill_id)
        return found if found is not None and self._sees_bill(found) else None

    def save_bill(
        self,
        *,
        document: Mapping[str, Any],
        site_id: int | None = None,
        account_id: int | None = None,
        meter_id: int | None = None,
        created_at: datetime | None = None,
        carried: Sequence[int] = (),
    ) -> tuple[StoredBill, bool]:
        # a site-bound operator or billing token keeps bills of its sites' accounts and meters; a tenant none
        account = None if account_id is None else self.get_account(account_id=account_id)
        if (
            self.tenant
            or not self.sees_site(site_id)
            or (account_id is not None and account is None)
            or (meter_id is not None and not self.sees_meter(meter_id))
        ):
            raise NotFoundError("account", account_id, "a token bills the accounts of its sites")
        return self._store.save_bill(
            document=document,
            site_id=site_id,
            account_id=account_id,
            meter_id=meter_id,
            created_at=created_at,
            carried=carried,
        )

    def _sees_correction(self, c: StoredCorrection) -> bool:
        if self.tenant:
            return c.account_id is not None and c.account_id == self._principal.account_id
        return self.sees_site(c.site_id)

    def list_corrections(
        self,
        *,
        bill_id: int | None = None,
        account_id: int | None = None,
        site_id: int | None = None,
        pending: bool | None = None,
        applied_bill_id: int | None = None,
    ) -> list[StoredCorrection]:
        found = self._store.list_corrections(
            bill_id=bill_id,
            account_id=account_id,
            site_id=site_id,
            pending=pending,
            applied_bill_id=applied_bill_id,
        )
        return [c for c in found if self._sees_correction(c)]

    def get_correction(self, *, bill_id: int, sequence: int) -> StoredCorrection | None:
        found = self._store.get_correction(bill_id=bill_id, sequence=sequence)
        return found if found is not None and self._sees_correction(found) else None

    def issue_correction(self, *, bill_id: int, **correction: Any) -> StoredCorrection:
        # a site-bound operator or billing token corrects its sites' bills; a tenant none
        if self.tenant or self.get_bill(bill_id) is None:
            raise NotFoundError("bill", bill_id, "meshmeter bill --save stores bills")
        return self._store.issue_correction(bill_id=bill_id, **correction)

    # -- tenants, units, accounts, occupancies --------------------------------------------------------

    def _bound(self, site_ids: Collection[int] | None) -> list[int]:
        mine = self._site_ids
        return sorted(mine if site_ids is None else mine & {int(s) for s in site_ids})

    def tenants(self, *, site_ids: Collection[int] | None = None) -> list[Tenant]:
        if self.tenant:
            own = None if self._account is None else self._store.get_tenant(tenant_id=self._account.tenant_id)
            return [] if own is None else [own]
        return self._store.tenants(site_ids=self._bound(site_ids))

    def get_tenant(self, *, tenant_id: int) -> Tenant | None:
        return next((t for t in self.tenants() if t.id == tenant_id), None)

    def _sees_account(self, account: Account | None) -> bool:
        if account is None:
            return False
        if self.tenant:
            return account.id == self._principal.account_id
        return self.sees_site(account.site_id)

    def accounts(
        self,
        *,
        tenant_id: int | None = None,
        meter_id: int | None = None,
        site_id: int | None = None,
        unit_id: int | None = None,
        site_ids: Collection[int] | None = None,
    ) -> list[Account]:
        found = self._store.accounts(
            tenant_id=tenant_id,
            meter_id=meter_id,
            site_id=site_id,
            unit_id=unit_id,
            site_ids=self._bound(site_ids),
        )
        return [a for a in found if self._sees_account(a)]

    def get_account(self, *, account_id: int) -> Account | None:
        found = self._store.get_account(account_id=account_id)
        return found if self._sees_account(found) else None

    def find_account(self, *, site_id: int | None, number: str) -> Account | None:
        found = self._store.find_account(site_id=site_id, number=number)
        return found if self._sees_account(found) else None

    def occupancies(
        self,
        *,
        account_id: int | None = None,
        unit_id: int | None = None,
        meter_id: int | None = None,
        tenant_id: int | None = None,
        site_id: int | None = None,
        site_ids: Collection[int] | None = None,
    ) -> list[Occupancy]:
        if self.tenant:
            if account_id is not None and account_id != self._principal.account_id:
                return []
            account_id = self._principal.account_id
        found = self._store.occupancies(
            account_id=account_id,
            unit_id=unit_id,
            meter_id=meter_id,
            tenant_id=tenant_id,
            site_id=site_id,
            site_ids=None if self.tenant else self._bound(site_ids),
        )
        return found

    def account_history(self, *, account_id: int) -> list[TenancyEvent]:
        return (
            self._store.account_history(account_id=account_id)
            if self.get_account(account_id=account_id)
            else []
        )

    def _sees_unit(self, unit: Unit | None) -> bool:
        if unit is None:
            return False
        if self.tenant:
            return any(o.unit_id == unit.id for o in self.occupancies())
        return self.sees_site(unit.site_id)

    def get_unit(self, *, unit_id: int) -> Unit | None:
        found = self._store.get_unit(unit_id=unit_id)
        return found if self._sees_unit(found) else None

    def units(
        self,
        *,
        site_id: int | None = None,
        meter_id: int | None = None,
        site_ids: Collection[int] | None = None,
    ) -> list[Unit]:
        found = self._store.units(site_id=site_id, meter_id=meter_id, site_ids=self._bound(site_ids))
        return [u for u in found if self._sees_unit(u)]

    def export_register(self, *, meter_id: int) -> Meter | None:
        if not self.sees_meter(meter_id):
            return None
        found = self._store.export_register(meter_id=meter_id)
        return found if found is not None and self.sees_meter(found.id) else None

    def create_meter(self, **values: Any) -> Meter:
        """A site-bound operator's new meter: of one of its sites; an export register, of one of its
        meters."""
        self._writer()
        problems = []
        if not self.sees_site(values.get("site_id")):
            problems.append(f"site_id {values.get('site_id')!r} is not a known site")
        target = values.get("export_of_meter_id")
        if target is not None and not self.sees_meter(target):
            problems.append(f"export_of_meter_id {target!r} is not a known meter")
        if problems:
            raise TenancyError(problems, unknown=True)
        made = self._store.create_meter(**values)
        self.__dict__.pop("_meter_ids", None)  # the scope's meters, cached, now has one more
        return made

    # -- tenancy writes of a site-bound operator: its sites only --------------------------------------

    def _writer(self) -> None:
        if self.tenant:
            raise TenancyError(["a tenant token changes no tenancy"])

    def create_tenant(self, *, name: str, at: datetime | None = None, by: str | None = None) -> Tenant:
        self._writer()
        return self._store.create_tenant(name=name, at=at, by=by)

    def create_unit(
        self,
        *,
        site_id: int,
        name: str,
        meter_id: int,
        address: str | None = None,
        by: str | None = None,
        floor_area_ft2: float | None = None,
        occupants: int | None = None,
    ) -> Unit:
        self._writer()
        problems = []
        if not self.sees_site(site_id):
            problems.append(f"site_id {site_id} is not a known site")
        if not self.sees_meter(meter_id):
            problems.append(f"meter_id {meter_id} is not a known meter")
        if problems:
            raise TenancyError(problems, unknown=True)
        return self._store.create_unit(
            site_id=site_id,
            name=name,
            meter_id=meter_id,
            address=address,
            by=by,
            floor_area_ft2=floor_area_ft2,
            occupants=occupants,
        )

    def update_unit(self, *, unit_id: int, by: str | None = None, **settings: object) -> Unit:
        self._writer()
        if self.get_unit(unit_id=unit_id) is None:
            raise TenancyError([f"unit_id {unit_id} is not a known unit"], unknown=True)
        return self._store.update_unit(unit_id=unit_id, by=by, **settings)

    def open_account(
        self,
        *,
        tenant_id: int,
        site_id: int,
        number: str | None = None,
        opened_at: datetime | None = None,
        by: str | None = None,
    ) -> Account:
        self._writer()
        problems = []
        # a tenant of another owner's sites is not named here; a fresh one (no account anywhere) is
        fresh = not self._store.accounts(tenant_id=tenant_id)
        if self.get_tenant(tenant_id=tenant_id) is None and not (
            fresh and self._store.get_tenant(tenant_id=tenant_id) is not None
        ):
            problems.append(f"tenant_id {tenant_id} is not a known tenant")
        if not self.sees_site(site_id):
            problems.append(f"site_id {site_id} is not a known site")
        if problems:
            raise TenancyError(problems, unknown=True)
        return self._store.open_account(
            tenant_id=tenant_id, site_id=site_id, number=number, opened_at=opened_at, by=by
        )

    def open_tenancy(
        self,
        *,
        name: str,
        site_id: int,
        number: str | None = None,
        opened_at: datetime | None = None,
        unit_id: int | None = None,
        move_in: datetime | None = None,
        by: str | None = None,
    ) -> tuple[Tenant, Account, Occupancy | None]:
        self._writer()
        problems = []
        if not self.sees_site(site_id):
            problems.append(f"site_id {site_id} is not a known site")
        if unit_id is not None and self.get_unit(unit_id=unit_id) is None:
            problems.append(f"unit_id {unit_id} is not a known unit")
        if problems:
            raise TenancyError(problems, unknown=True)
        return self._store.open_tenancy(
            name=name,
            site_id=site_id,
            number=number,
            opened_at=opened_at,
            unit_id=unit_id,
            move_in=move_in,
            by=by,
        )

    def _require_account(self, account_id: int, unit_id: int | None = None) -> None:
        self._writer()
        problems = []
        if self.get_account(account_id=account_id) is None:
            problems.append(f"account_id {account_id} is not a known account")
        if unit_id is not None and self.get_unit(unit_id=unit_id) is None:
            problems.append(f"unit_id {unit_id} is not a known unit")
        if problems:
            raise TenancyError(problems, unknown=True)

    def move_in(self, *, account_id: int, unit_id: int, at: datetime, by: str | None = None) -> Occupancy:
        self._require_account(account_id, unit_id)
        return self._store.move_in(account_id=account_id, unit_id=unit_id, at=at, by=by)

    def move_out(self, *, account_id: int, at: datetime, by: str | None = None) -> Occupancy:
        self._require_account(account_id)
        return self._store.move_out(account_id=account_id, at=at, by=by)

    def transfer(
        self, *, account_id: int, unit_id: int, at: datetime, by: str | None = None
    ) -> tuple[Occupancy, Occupancy]:
        self._require_account(account_id, unit_id)
        return self._store.transfer(account_id=account_id, unit_id=unit_id, at=at, by=by)

    def close_account(
        self,
        *,
        account_id: int,
        at: datetime | None = None,
        move_out: datetime | None = None,
        by: str | None = None,
    ) -> Account:
        self._require_account(account_id)
        return self._store.close_account(account_id=account_id, at=at, move_out=move_out, by=by)

    # -- the tariff of an account: a tenant reads its own; a site-bound token those of its sites --------

    def account_tariff(self, *, account_id: int, at: datetime) -> AccountTariff | None:
        if self.get_account(account_id=account_id) is None:
            return None
        return self._store.account_tariff(account_id=account_id, at=at)

    def account_tariffs(
        self, *, account_id: int | None = None, site_id: int | None = None
    ) -> list[AccountTariff]:
        seen = {a.id for a in self.accounts(site_id=site_id)}
        if account_id is not None:
            seen &= {account_id}
        found = self._store.account_tariffs(account_id=account_id, site_id=site_id)
        return [t for t in found if t.account_id in seen]

    def set_account_tariff(self, *, account_id: int, **setting: Any) -> AccountTariff:
        if self.tenant:
            raise TenancyError(["a tenant token sets no tariff"])
        if self.get_account(account_id=account_id) is None:
            raise TenancyError([f"account_id {account_id} is not a known account"], unknown=True)
        return self._store.set_account_tariff(account_id=account_id, **setting)


_OFFERED = frozenset(name for name in vars(ScopedStore) if not name.startswith("_"))
"""The public names a scoped caller may use: those :class:`ScopedStore` defines, each with its scope."""


def scoped(store: Store, principal: Principal) -> Store:
    """The store as ``principal`` sees it: itself for an unscoped caller, else a :class:`ScopedStore`."""
    return ScopedStore(store, principal) if principal.scoped else store


def is_scoped(store: Store) -> bool:
    """Whether ``store`` is seen through a scope (what the app holds beside the store, such as its own
    network report or bills provider, is then not shown: it belongs to no stored site)."""
    return isinstance(store, ScopedStore)


def bill_document(store: Store, stored: StoredBill) -> dict[str, Any]:
    """
    A stored bill's document as the caller may read it.

    A bill keeps the meter's intervals over its whole period (``inputs.intervals``), to be billed again
    exactly; a tenant who moved in or out within the period reads only those of its occupancies (the
    others are its neighbour's before or after it). Everyone else reads the document as stored. The
    bill's CSV, HTML and PDF, made again from the whole inputs, print totals only.
    """
    document = stored.document
    if not isinstance(store, ScopedStore) or not store.tenant:
        return document
    # a bill of no known meter: none of its intervals can be told to be the tenant's
    windows = () if stored.meter_id is None else store.windows(stored.meter_id) or ()
    inputs = document.get("inputs")
    intervals = inputs.get("intervals") if isinstance(inputs, dict) else None
    if not isinstance(inputs, dict) or not isinstance(intervals, dict):
        return document
    ends = np.asarray(intervals.get("interval_end_s", []), dtype=np.int64)
    keep = _mask(ends, windows)
    cut = {
        name: [v for v, k in zip(column, keep.tolist(), strict=True) if k]
        if isinstance(column, list) and len(column) == ends.size
        else column
        for name, column in intervals.items()
    }
    out_inputs = dict(inputs, intervals=cut)
    exports = inputs.get("export_wh")
    if isinstance(exports, list) and len(exports) == ends.size:
        out_inputs["export_wh"] = [v for v, k in zip(exports, keep.tolist(), strict=True) if k]
    return dict(document, inputs=out_inputs)


def view_key(store: Store, meter_id: int) -> tuple[Any, ...]:
    """What an answer built from the meter's intervals depends on besides the request: a tenant's
    tenures on the meter (its answers are cut to them), nothing for anyone else. Part of the key of the
    read cache, so that no caller is served an answer made for another scope."""
    if isinstance(store, ScopedStore):
        windows = store.windows(meter_id)
        if windows is not None:
            return ("tenant", store.principal.account_id, windows)
    return ()
