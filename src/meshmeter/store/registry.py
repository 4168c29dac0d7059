"""The registry of the store: sites, meters and MDTs (``docs/store.md``); tenants, units and accounts are in
:mod:`meshmeter.store.tenancy`."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from meshmeter.errors import NotFoundError
from meshmeter.intervals import INTERVAL_S, IntervalLength
from meshmeter.store import _validate as v
from meshmeter.store.base import StoreBase
from meshmeter.store.models import Mdt, Meter, Site
from meshmeter.store.schema import CORRECTION_MODES, METER_ROLES, mdts, meters, sites

__all__ = ["RegistryMixin"]


def _meter(r: Row[Any]) -> Meter:
    return Meter(
        r.id,
        r.serial,
        r.designation,
        r.ct_ratio,
        r.multiplier,
        r.install_date,
        r.site_id,
        int(r.interval_s),
        r.role,
        int(r.data_version),
        None if r.register_digits is None else int(r.register_digits),
        None if r.export_of_meter_id is None else int(r.export_of_meter_id),
    )


def _site(r: Row[Any]) -> Site:
    return Site(
        int(r.id),
        r.name,
        r.timezone,
        r.owner_name,
        r.owner_address,
        r.payment_instructions,
        int(r.due_days),
        r.correction_mode,
    )


_SITE_SETTINGS = ("owner_name", "owner_address", "payment_instructions", "due_days", "correction_mode")
"""What :meth:`RegistryMixin.update_site` may change: what a site's bills say and do."""


def _site_settings(settings: dict[str, object]) -> dict[str, object]:
    """The settings checked, each problem named at once (ValueError)."""
    problems: list[str] = []
    checked: dict[str, object] = {}
    for name, value in settings.items():
        if name not in _SITE_SETTINGS:
            problems.append(f"{name} is not a setting of a site (one of {', '.join(_SITE_SETTINGS)})")
            continue
        try:
            if name == "due_days":
                checked[name] = v.check_int(name, value, low=0, high=91, expected="whole days, 0 to 90")
            elif name == "correction_mode":
                checked[name] = v.check_choice(name, value, CORRECTION_MODES)
            else:
                checked[name] = None if value is None else v.check_text(name, value)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError("; ".join(problems))
    return checked


def _check_export_of(
    c: Connection, target_id: int, serial: str, site_id: int | None, interval_s: int, role: str
) -> None:
    """Refuse an export register that cannot be one, naming every reason at once (ValueError)."""
    target = c.execute(select(meters).where(meters.c.id == target_id)).first()
    if target is None:
        raise ValueError(f"export_of_meter_id {target_id!r} is not a known meter")
    problems: list[str] = []
    name = f"meter {target.serial!r}"
    if role != "production":
        problems.append(
            f"role must be production for an export register (energy delivered to the grid is never"
            f" consumption), got {role!r}"
        )
    if target.site_id != site_id:
        problems.append(f"{name} is of site {target.site_id}, the export register of site {site_id}")
    if target.export_of_meter_id is not None:
        problems.append(f"{name} is itself an export register")
    other = c.execute(select(meters.c.serial).where(meters.c.export_of_meter_id == target_id)).first()
    if other is not None:
        problems.append(f"{name} already has an export register, {other.serial!r}")
    if int(target.interval_s) != interval_s:
        problems.append(
            f"{name} has {int(target.interval_s)} s intervals, the export register {interval_s} s:"
            " they must be the same"
        )
    if c.execute(select(meters.c.id).where(meters.c.serial == serial)).first() is not None:
        problems.append(f"serial {serial!r} is already a meter")
    if problems:
        raise ValueError(f"export register {serial!r} of {name}: " + "; ".join(problems))


class RegistryMixin(StoreBase):
    """Sites, meters and MDTs."""

    def create_site(self, *, name: str, timezone: str, **settings: object) -> Site:
        """
        Create a site.

        Parameters
        ----------
        name : str
            Unique name.
        timezone : str
            IANA time zone of the site, e.g. ``"America/Los_Angeles"``.
        **settings
            What its bills say and do: ``owner_name``, ``owner_address``, ``payment_instructions``,
            ``due_days``, ``correction_mode`` (:class:`~meshmeter.store.Site`).
        """
        name = v.check_text("name", name)
        timezone = v.check_text("timezone", timezone)
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone must be an IANA time zone name, got {timezone!r}") from None
        checked = _site_settings(dict(settings))
        with self._write() as c:
            try:
                row = c.execute(
                    insert(sites).values(name=name, timezone=timezone, **checked).returning(*sites.c)
                ).one()
            except IntegrityError:
                raise ValueError(f"name {name!r} is already a site") from None
        return _site(row)

    def update_site(self, *, site_id: int, **settings: object) -> Site:
        """
        Change what a site's bills say and do; returns the site as it is now.

        Parameters
        ----------
        site_id : int
            The site.
        **settings
            Any of ``owner_name``, ``owner_address``, ``payment_instructions`` (None clears them),
            ``due_days`` (0 to 90) and ``correction_mode`` (``"corrected_bill"`` or ``"next_bill"``).

        Raises
        ------
        ValueError
            Naming every bad setting at once; nothing is changed.
        NotFoundError
            When there is no such site.
        """
        site_id = v.check_id("site_id", site_id)
        checked = _site_settings(dict(settings))
        with self._write() as c:
            if checked:
                c.execute(update(sites).where(sites.c.id == site_id).values(**checked))
            row = c.execute(select(sites).where(sites.c.id == site_id)).first()
            if row is None:
                raise NotFoundError("site", str(site_id), "meshmeter site add")
        return _site(row)

    def get_site(self, *, site_id: int) -> Site | None:
        """The site with this id, or None."""
        with self._read() as c:
            row = c.execute(select(sites).where(sites.c.id == site_id)).first()
        return None if row is None else _site(row)

    def sites(self) -> list[Site]:
        """Every site, by id."""
        with self._read() as c:
            rows = c.execute(select(sites).order_by(sites.c.id)).all()
        return [_site(r) for r in rows]

    def create_meter(
        self,
        *,
        serial: str,
        designation: str,
        ct_ratio: float,
        multiplier: float = 1.0,
        install_date: date | None = None,
        site_id: int | None = None,
        interval_s: int = INTERVAL_S,
        role: str | None = None,
        register_digits: int | None = None,
        export_of_meter_id: int | None = None,
    ) -> Meter:
        """
        Create a meter.

        Parameters
        ----------
        serial : str
            Serial number, unique.
        designation : str
            Model designation (certificate p.1).
        ct_ratio : float
            CT primary / secondary, e.g. 2000 for 200:0.1 A. [1]
        multiplier : float, optional
            Register reading to energy, default 1. [1]
        install_date : date, optional
            Local date of installation.
        site_id : int, optional
            The site, which must exist.
        interval_s : int, optional
            Length of the meter's intervals, 300, 900 (default, the Mini Meter's MDT), 1800 or 3600. [s]
        role : str, optional
            ``"unit"`` (default), ``"house"``, ``"production"`` or ``"master"``
            (:data:`~meshmeter.store.schema.METER_ROLES`); an export register's is ``"production"`` (its
            default), never consumption.
        register_digits : int, optional
            Whole-kWh digits of its register, 3 to 12: it rolls over to 0 at ``10**register_digits`` kWh;
            default None, a register that never does.
        export_of_meter_id : int, optional
            This row is the export (received) register of that bidirectional meter (``docs/store.md``):
            the meter must exist, be of the same site and interval length, not be an export register
            itself and have none yet.

        Raises
        ------
        ValueError
            Naming every problem of the export register at once (and any bad argument); nothing is stored.
        """
        serial = v.check_text("serial", serial)
        designation = v.check_text("designation", designation)
        ct_ratio = v.check_positive_float("ct_ratio", ct_ratio)
        multiplier = v.check_positive_float("multiplier", multiplier)
        length = int(IntervalLength.of(interval_s))
        if export_of_meter_id is not None:
            export_of_meter_id = v.check_id("export_of_meter_id", export_of_meter_id)
        role = v.check_choice(
            "role", role or ("unit" if export_of_meter_id is None else "production"), METER_ROLES
        )
        if register_digits is not None:
            register_digits = v.check_int(
                "register_digits", register_digits, low=3, high=13, expected="whole-kWh digits, 3 to 12"
            )
        if install_date is not None:
            install_date = v.check_date("install_date", install_date)
        if site_id is not None:
            site_id = v.check_id("site_id", site_id)
        values = {
            "serial": serial,
            "designation": designation,
            "ct_ratio": ct_ratio,
            "multiplier": multiplier,
            "install_date": install_date,
            "site_id": site_id,
            "interval_s": length,
            "role": role,
            "register_digits": register_digits,
            "export_of_meter_id": export_of_meter_id,
        }
        with self._write() as c:
            if site_id is not None:
                self._require(c, sites, site_id, "site_id", "site")
            if export_of_meter_id is not None:
                _check_export_of(c, export_of_meter_id, serial, site_id, length, role)
            try:
                meter_id = c.execute(insert(meters).values(**values).returning(meters.c.id)).scalar_one()
            except IntegrityError:
                raise ValueError(f"serial {serial!r} is already a meter") from None
        return Meter(
            int(meter_id),
            serial,
            designation,
            ct_ratio,
            multiplier,
            install_date,
            site_id,
            length,
            role,
            register_digits=register_digits,
            export_of_meter_id=export_of_meter_id,
        )

    def export_register(self, *, meter_id: int) -> Meter | None:
        """The export (received) register of a bidirectional meter (the meter row naming it in
        ``export_of_meter_id``), or None when the meter does not export."""
        meter_id = v.check_id("meter_id", meter_id)
        with self._read_one() as c:
            row = c.execute(select(meters).where(meters.c.export_of_meter_id == meter_id)).first()
        return None if row is None else _meter(row)

    def get_meter(self, *, serial: str | None = None, meter_id: int | None = None) -> Meter | None:
        """The meter with this serial number or id (give exactly one), or None.

        A serial holding NUL names no meter, on either backend: PostgreSQL's text cannot hold one (psycopg
        refuses to send it), so no meter has it, and the query is not sent."""
        if (serial is None) == (meter_id is None):
            raise ValueError("give exactly one of serial and meter_id")
        if serial is not None and "\x00" in serial:
            return None
        where = meters.c.serial == serial if serial is not None else meters.c.id == meter_id
        with self._read_one() as c:
            row = c.execute(select(meters).where(where)).first()
        return None if row is None else _meter(row)

    def meters(self, *, site_id: int | None = None) -> list[Meter]:
        """Every meter, or those of one site, by id."""
        query = select(meters).order_by(meters.c.id)
        if site_id is not None:
            query = query.where(meters.c.site_id == v.check_id("site_id", site_id))
        with self._read() as c:
            rows = c.execute(query).all()
        return [_meter(r) for r in rows]

    def create_mdt(self, *, eui64: bytes, kit: str, key: bytes, meter_id: int | None = None) -> Mdt:
        """
        Create an MDT.

        Parameters
        ----------
        eui64 : bytes
            IEEE EUI-64, 8 bytes, unique.
        kit : str
            Kit designation, e.g. ``"MMSMT-C02"`` (manual §2.4).
        key : bytes
            AES-128 key, 16 bytes.
        meter_id : int, optional
            The meter whose pulse output it counts.
        """
        eui64 = v.check_bytes("eui64", eui64, 8)
        kit = v.check_text("kit", kit)
        key = v.check_bytes("key", key, 16)
        if meter_id is not None:
            meter_id = v.check_id("meter_id", meter_id)
        with self._write() as c:
            if meter_id is not None:
                self._require(c, meters, meter_id, "meter_id", "meter")
            try:
                mdt_id = c.execute(
                    insert(mdts).values(eui64=eui64, kit=kit, key=key, meter_id=meter_id).returning(mdts.c.id)
                ).scalar_one()
            except IntegrityError:
                raise ValueError(f"eui64 {eui64.hex()} is already an MDT") from None
        return Mdt(id=int(mdt_id), eui64=eui64, kit=kit, key=key, meter_id=meter_id)

    def get_mdt(self, *, eui64: bytes) -> Mdt | None:
        """The MDT with this EUI-64, or None."""
        eui64 = v.check_bytes("eui64", eui64, 8)
        with self._read() as c:
            row = c.execute(select(mdts).where(mdts.c.eui64 == eui64)).first()
        if row is None:
            return None
        return Mdt(id=row.id, eui64=bytes(row.eui64), kit=row.kit, key=bytes(row.key), meter_id=row.meter_id)
