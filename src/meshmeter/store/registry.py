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
        r.manufacturer,
        r.model,
        None if r.elements is None else int(r.elements),
        None if r.voltage_max_v is None else float(r.voltage_max_v),
        None if r.current_max_a is None else float(r.current_max_a),
    )


_RATINGS = ("elements", "voltage_max_v", "current_max_a")


def _meter_kind(
    manufacturer: object,
    model: object,
    elements: object,
    voltage_max_v: object,
    current_max_a: object,
    problems: list[str],
) -> dict[str, Any]:
    """
    A meter's make and ratings checked (schema version 9), every problem appended to ``problems``.

    The rules (``docs/store.md``, "Meters of any make"; the same as
    :func:`meshmeter.catalog.limits.rating_problems`, which the store may not import): manufacturer and
    model are non-empty text, a model needs its manufacturer; the three ratings go together and need a
    manufacturer (a Mini Meter's come from its designation and CT ratio); elements is 1 to 3, the voltage
    [V, line to neutral] and the primary current [A] finite numbers above 0.
    """
    checked: dict[str, Any] = {}
    for name, text in (("manufacturer", manufacturer), ("model", model)):
        try:
            checked[name] = None if text is None else v.check_text(name, text).strip()
        except ValueError as exc:
            problems.append(str(exc))
    if model is not None and manufacturer is None:
        problems.append("model is the manufacturer's model name: give the manufacturer too")
    try:
        checked["elements"] = (
            None
            if elements is None
            else v.check_int("elements", elements, low=1, high=4, expected="a whole number, 1 to 3")
        )
    except ValueError as exc:
        problems.append(str(exc))
    for name, value, unit in (
        ("voltage_max_v", voltage_max_v, "V, line to neutral"),
        ("current_max_a", current_max_a, "A, primary"),
    ):
        try:
            checked[name] = None if value is None else v.check_positive_float(name, value)
        except ValueError:
            problems.append(f"{name} must be a finite number > 0 [{unit}], got {value!r}")
    given = {"elements": elements, "voltage_max_v": voltage_max_v, "current_max_a": current_max_a}
    missing = [name for name in _RATINGS if given[name] is None]
    if 0 < len(missing) < len(_RATINGS):
        problems.append(
            "elements, voltage_max_v and current_max_a go together (all three or none): "
            f"missing {', '.join(missing)}"
        )
    if len(missing) < len(_RATINGS) and manufacturer is None:
        problems.append(
            "ratings are of a meter of another make: give its manufacturer (a Mini Meter's come from its"
            " designation and CT ratio)"
        )
    return checked


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
        manufacturer: str | None = None,
        model: str | None = None,
        elements: int | None = None,
        voltage_max_v: float | None = None,
        current_max_a: float | None = None,
    ) -> Meter:
        """
        Create a meter.

        Parameters
        ----------
        serial : str
            Serial number, unique.
        designation : str
            Model designation (certificate p.1); free text for a meter of another make.
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
        manufacturer, model : str, optional
            A meter of another make than the Mini Meter: who made it and their model name (schema version
            9). Default None, a Mini Meter: its designation says the rest.
        elements : int, optional
            Its measuring elements, 1 to 3. [1]
        voltage_max_v : float, optional
            The highest voltage an element measures, line to neutral. [V]
        current_max_a : float, optional
            The highest primary current an element measures (a CT-operated meter: its CTs' primary). The
            three ratings go together and need a manufacturer; with them, the meter's limit
            (:func:`meshmeter.catalog.max_interval_energy_wh`) is its own. Without them, the designation
            decides, as for a Mini Meter (a designation that is not one's: the default Mini Meter). [A]

        Raises
        ------
        ValueError
            Naming every bad argument at once, then every problem of the export register at once; nothing
            is stored.
        """
        problems: list[str] = []

        def checked(call: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return call(*args, **kwargs)
            except ValueError as exc:
                problems.append(str(exc))
                return None

        serial = checked(v.check_text, "serial", serial)
        designation = checked(v.check_text, "designation", designation)
        ct_ratio = checked(v.check_positive_float, "ct_ratio", ct_ratio)
        multiplier = checked(v.check_positive_float, "multiplier", multiplier)
        length = checked(lambda: int(IntervalLength.of(interval_s)))
        if export_of_meter_id is not None:
            export_of_meter_id = checked(v.check_id, "export_of_meter_id", export_of_meter_id)
        role = checked(
            v.check_choice,
            "role",
            role or ("unit" if export_of_meter_id is None else "production"),
            METER_ROLES,
        )
        if register_digits is not None:
            register_digits = checked(
                v.check_int,
                "register_digits",
                register_digits,
                low=3,
                high=13,
                expected="whole-kWh digits, 3 to 12",
            )
        if install_date is not None:
            install_date = checked(v.check_date, "install_date", install_date)
        if site_id is not None:
            site_id = checked(v.check_id, "site_id", site_id)
        kind = _meter_kind(manufacturer, model, elements, voltage_max_v, current_max_a, problems)
        if problems:
            if serial is not None and self.get_meter(serial=serial) is not None:
                problems.append(f"serial {serial!r} is already a meter")  # named beside the others
            raise ValueError("; ".join(problems))
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
            **kind,
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
            **kind,
        )

    def update_meter_kind(
        self,
        *,
        meter_id: int,
        manufacturer: str | None,
        model: str | None = None,
        elements: int | None = None,
        voltage_max_v: float | None = None,
        current_max_a: float | None = None,
    ) -> Meter:
        """
        Say what make of meter a meter row is, and its ratings; returns the meter as it is now.

        All five are set together (None clears one): ``manufacturer=None`` and nothing else makes the row
        a Mini Meter again, whose designation decides. The rules are :meth:`create_meter`'s. The limit of
        every door and of VEE's rating check follows from the next ingest or VEE run on; what was stored
        stays.

        Parameters
        ----------
        meter_id : int
            The meter.
        manufacturer, model : str or None
            Who made it and their model name.
        elements : int or None
            Measuring elements, 1 to 3. [1]
        voltage_max_v : float or None
            Highest voltage an element measures, line to neutral. [V]
        current_max_a : float or None
            Highest primary current an element measures. [A]

        Raises
        ------
        ValueError
            Naming every problem at once; nothing is changed.
        NotFoundError
            When there is no such meter.
        """
        problems: list[str] = []
        try:
            meter_id = v.check_id("meter_id", meter_id)
        except ValueError as exc:
            problems.append(str(exc))
        kind = _meter_kind(manufacturer, model, elements, voltage_max_v, current_max_a, problems)
        if problems:
            raise ValueError("; ".join(problems))
        with self._write() as c:
            c.execute(update(meters).where(meters.c.id == meter_id).values(**kind))
            row = c.execute(select(meters).where(meters.c.id == meter_id)).first()
            if row is None:
                raise NotFoundError("meter", str(meter_id), "meshmeter meter add")
        return _meter(row)

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
