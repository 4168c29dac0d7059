"""A site described in a TOML file: the DCAP, repeaters, meters with their MDTs and loads, tenants, accounts.

:func:`parse_site` reads the text with :mod:`tomllib` and checks every field; a mistake raises
:class:`SiteFileError` naming the line and the field (``site.toml:14: meters[2].ct: ...``). tomllib gives
line numbers for syntax errors only, so a small line-aware pass (:class:`_Locator`) finds the line on which
each key or table of the document is written. The format is documented in ``docs/site.md``.
"""

from __future__ import annotations

import math
import re
import tomllib
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np

from meshmeter.amr.network import Outage, RepeaterFailure
from meshmeter.amr.topology import DeviceKind, Layout, eui64_for
from meshmeter.catalog import decode_ct, decode_kit, decode_meter
from meshmeter.catalog.limits import rating_problems
from meshmeter.errors import MeshmeterError, SiteFileError
from meshmeter.intervals import zone

__all__ = [
    "METER_KINDS",
    "PROFILES",
    "AccountSpec",
    "DeviceSpec",
    "IncidentSpec",
    "LoadSpec",
    "MdtSpec",
    "SiteConfig",
    "SiteFileError",
    "SiteMeter",
    "load_site",
    "parse_site",
]

METER_KINDS = ("unit", "house", "solar")
"""What a meter serves: a tenant's unit, the building's common areas, or a solar array's production."""

PROFILES = ("household", "house", "solar", "none")
"""Load profiles a meter can run on (``site/profiles.py``, ``site/solar.py``)."""

_DEFAULT_PROFILE = {"unit": "household", "house": "house", "solar": "solar"}


# --------------------------------------------------------------------------------------------------
# where each key is written
# --------------------------------------------------------------------------------------------------

_BARE = r"[A-Za-z0-9_-]+"
_KEY = rf'(?:{_BARE}|"[^"]*"|\'[^\']*\')'
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_TABLE = re.compile(rf"^\s*\[\s*({_DOTTED})\s*\]\s*(#.*)?$")
_ARRAY_TABLE = re.compile(rf"^\s*\[\[\s*({_DOTTED})\s*\]\]\s*(#.*)?$")
_ASSIGN = re.compile(rf"^\s*({_DOTTED})\s*=\s*(.*)$")


def _parts(dotted: str) -> list[str]:
    return [p.strip().strip("\"'") for p in re.findall(rf"{_KEY}", dotted)]


def _open_brackets(value: str) -> int:
    """Net ``[``/``{`` opened by a value, strings and comments ignored."""
    depth = 0
    quote = ""
    for ch in value:
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return depth


class _Locator:
    """The line of every key and table of a TOML document, by path (``meters[2].mdt.kit``)."""

    def __init__(self, text: str) -> None:
        self.lines: dict[str, int] = {}
        counts: dict[str, int] = {}
        prefix = ""
        depth = 0
        in_string = False
        for number, line in enumerate(text.splitlines(), start=1):
            if in_string:
                if line.count('"""') % 2 or line.count("'''") % 2:
                    in_string = False
                continue
            if depth > 0:
                depth += _open_brackets(line)
                continue
            if m := _ARRAY_TABLE.match(line):
                parts = _parts(m.group(1))
                name = self._resolve(parts[:-1], counts) + ("." if len(parts) > 1 else "") + parts[-1]
                name = name.lstrip(".")
                counts[name] = counts.get(name, -1) + 1
                prefix = f"{name}[{counts[name]}]"
                self.lines.setdefault(prefix, number)
                continue
            if m := _TABLE.match(line):
                prefix = self._resolve(_parts(m.group(1)), counts)
                self.lines.setdefault(prefix, number)
                continue
            if m := _ASSIGN.match(line):
                path = ".".join(p for p in (prefix, *_parts(m.group(1))) if p)
                self.lines.setdefault(path, number)
                value = m.group(2)
                if value.lstrip().startswith(('"""', "'''")) and value.count(value.lstrip()[:3]) == 1:
                    in_string = True
                depth = max(_open_brackets(value), 0)

    @staticmethod
    def _resolve(parts: list[str], counts: dict[str, int]) -> str:
        """A table path with each array of tables replaced by its latest element."""
        out: list[str] = []
        for part in parts:
            name = ".".join([*out, part]) if out else part
            plain = re.sub(r"\[\d+\]", "", name)
            if plain in counts:
                out.append(f"{part}[{counts[plain]}]")
            else:
                out.append(part)
        return ".".join(out)

    def line_of(self, path: str) -> int | None:
        """The line of a field, else of the nearest enclosing key or table written in the file."""
        while path:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return None


# --------------------------------------------------------------------------------------------------
# the site, as typed data
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceSpec:
    """The DCAP or a repeater: where it stands, and (repeaters) its place in the power-up order."""

    name: str
    position_m: tuple[float, float]
    """Plan position. [m]"""
    walls: int = 0
    """Walls around the device, added to every link of it (a closet, a floor slab). [1]"""
    eui64: bytes | None = None
    power_up: int | None = None
    """1 for the first repeater powered after the DCAP, 2 for the next ... (manual §5.2)."""


@dataclass(frozen=True)
class MdtSpec:
    """A meter's MDT: kit, placement (manual §5.2 cautions: not in a metal box, not near a metal wall)."""

    kit: str
    position_m: tuple[float, float]
    walls: int = 0
    metal_box: bool = False
    metal_wall: bool = False
    eui64: bytes | None = None


@dataclass(frozen=True)
class LoadSpec:
    """What a meter's circuits do: a load profile and its parameters (``docs/site.md``)."""

    profile: Literal["household", "house", "solar", "none"]
    annual_kwh: float | None = None
    """Household and house profiles: consumption of a year. [kWh]"""
    seed: int | None = None
    dc_capacity_kw: float | None = None
    """Solar: array rating. [kW]"""
    ac_capacity_kw: float | None = None
    tilt_deg: float = 20.0
    azimuth_deg: float = 180.0


@dataclass(frozen=True)
class SiteMeter:
    """A meter of the site with its CTs, its MDT and the load on it."""

    serial: str
    designation: str
    kind: Literal["unit", "house", "solar"]
    unit: str | None
    ct: str | None
    ct_ratio: float
    multiplier: float
    load: LoadSpec
    mdt: MdtSpec
    floor_area_ft2: float | None = None
    """The unit's floor area, for allocation by area (``meshmeter allocate``). [ft²]"""
    occupants: int | None = None
    """People living in the unit, for allocation by occupants."""
    register_digits: int | None = None
    """Whole-kWh digits of the meter's register: it rolls over to 0 at ``10**register_digits`` kWh; None:
    never (``docs/billing.md``, "A meter's life")."""
    export_of: str | None = None
    """Serial of the bidirectional meter (listed before it) whose export (received) register this is: a
    ``solar`` meter whose energy bills as that meter's exports (``docs/billing.md``, "Exports from the
    store"); None: a meter of its own."""
    manufacturer: str | None = None
    """Who made the meter as recorded in the store, for a meter of another make (``docs/site.md``, "Meters of
    any make"); None: a Mini Meter, its designation says the rest."""
    model: str | None = None
    """The manufacturer's model name."""
    elements: int | None = None
    """Its measuring elements, 1 to 3; None: the designation's. [1]"""
    voltage_max_v: float | None = None
    """Highest voltage an element measures, line to neutral; None: the designation's. [V]"""
    current_max_a: float | None = None
    """Highest primary current an element measures; None: the CT ratio's. The three ratings go together
    and bound what the meter can register in an interval (:func:`~meshmeter.catalog.max_interval_energy_wh`).
    [A]"""

    @property
    def role(self) -> str:
        """The meter's role in the store (``meshmeter.store.METER_ROLES``): a solar meter's is production."""
        return "production" if self.kind == "solar" else self.kind


@dataclass(frozen=True)
class AccountSpec:
    """A tenant's occupancy of a meter's unit, from ``move_in`` to ``move_out`` (UTC)."""

    tenant: str
    meter: str
    unit: str
    move_in: datetime
    move_out: datetime | None


@dataclass(frozen=True)
class SourceSpec:
    """A source of real readings of the site and its channels (``docs/collect.md``), as the file gives
    them: its kind, format and address are checked when it is stored (:func:`meshmeter.services.sources.
    add_source`), which names every problem; the file's checks are its shape and its meters."""

    name: str
    kind: str
    format: str
    address: str
    settings: dict[str, Any]
    enabled: bool
    channels: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class IncidentSpec:
    """Something that happens during a simulation, ``after_h`` hours after its start."""

    kind: Literal["tamper", "dcap_outage", "repeater_failure"]
    after_h: float
    duration_h: float | None
    meter: str | None = None
    repeater: str | None = None


@dataclass(frozen=True)
class SiteConfig:
    """A site file, checked."""

    name: str
    timezone: str
    latitude_deg: float | None
    longitude_deg: float | None
    wall_spacing_m: float
    max_walls: int
    dcap: DeviceSpec
    repeaters: tuple[DeviceSpec, ...]
    meters: tuple[SiteMeter, ...]
    tenants: tuple[str, ...]
    accounts: tuple[AccountSpec, ...]
    incidents: tuple[IncidentSpec, ...] = ()
    sources: tuple[SourceSpec, ...] = ()
    """Sources of real readings (pulse counters, Modbus meters, rtlamr) and their channels."""
    warnings: tuple[str, ...] = field(default=())
    """What the manual cautions against, found in the file: not errors, but worth a look."""

    @property
    def source_fed(self) -> frozenset[str]:
        """The serials of the meters an enabled source feeds: read from their devices, not from the twin."""
        return frozenset(str(c["meter"]) for s in self.sources if s.enabled for c in s.channels)

    @property
    def kit(self) -> str:
        """The MDTs' kit (one per site: the simulated network runs one kit)."""
        return self.meters[0].mdt.kit if self.meters else "MMSMT-C02"

    @property
    def power_order(self) -> Literal["near-first", "far-first"]:
        """The repeaters' power-up order: nearest the DCAP first (manual §5.2) or farthest first."""
        order = [r.power_up for r in self.repeaters]
        if not self.repeaters or order[0] is None:
            return "near-first"
        return "near-first" if _order_is(self, "near-first") else "far-first"

    def eui64s(self) -> tuple[bytes, ...]:
        """Each device's EUI-64 in :meth:`layout` order: the DCAP, the repeaters, the MDTs."""
        seed = site_seed(self.name)
        out = [self.dcap.eui64 or eui64_for(DeviceKind.DCAP, 0, seed)]
        out += [r.eui64 or eui64_for(DeviceKind.REPEATER, k, seed) for k, r in enumerate(self.repeaters)]
        out += [m.mdt.eui64 or eui64_for(DeviceKind.MDT, k, seed) for k, m in enumerate(self.meters)]
        return tuple(out)

    def layout(self) -> Layout:
        """
        The site as the radio sees it (:class:`~meshmeter.amr.topology.Layout`).

        Walls between two devices: one per ``wall_spacing_m`` of the straight line, at most
        ``max_walls``, plus the walls each end is written to stand behind (``walls``).
        """
        devices: list[tuple[tuple[float, float], int]] = [(self.dcap.position_m, self.dcap.walls)]
        devices += [(r.position_m, r.walls) for r in self.repeaters]
        devices += [(m.mdt.position_m, m.mdt.walls) for m in self.meters]
        positions = np.array([p for p, _ in devices], dtype=np.float64)
        extra = np.array([w for _, w in devices], dtype=np.int64)
        diff = positions[:, None, :] - positions[None, :, :]
        dist = np.sqrt((diff**2).sum(axis=2))
        walls = np.minimum(np.floor(dist / self.wall_spacing_m), self.max_walls).astype(np.int64)
        walls = walls + extra[:, None] + extra[None, :]
        np.fill_diagonal(walls, 0)
        n = len(devices)
        first_mdt = 1 + len(self.repeaters)
        metal_box = np.zeros(n, dtype=bool)
        metal_wall = np.zeros(n, dtype=bool)
        for k, m in enumerate(self.meters):
            metal_box[first_mdt + k] = m.mdt.metal_box
            metal_wall[first_mdt + k] = m.mdt.metal_wall
        kinds = (
            DeviceKind.DCAP,
            *([DeviceKind.REPEATER] * len(self.repeaters)),
            *([DeviceKind.MDT] * len(self.meters)),
        )
        return Layout(
            positions_m=positions,
            kinds=kinds,
            walls=walls,
            metal_box=metal_box,
            metal_wall=metal_wall,
            euis=self.eui64s(),
        )

    def outages_and_failures(self) -> tuple[tuple[Outage, ...], tuple[RepeaterFailure, ...]]:
        """The DCAP outages and repeater failures of :attr:`incidents`, in run time."""
        outages = tuple(
            Outage(start_s=i.after_h * 3600.0, duration_s=(i.duration_h or 1.0) * 3600.0)
            for i in self.incidents
            if i.kind == "dcap_outage"
        )
        names = [r.name for r in self.repeaters]
        failures = tuple(
            RepeaterFailure(
                repeater=names.index(i.repeater or "") + 1,
                at_s=i.after_h * 3600.0,
                down_s=None if i.duration_h is None else i.duration_h * 3600.0,
            )
            for i in self.incidents
            if i.kind == "repeater_failure"
        )
        return outages, failures


def site_seed(name: str) -> int:
    """A stable seed from a site's name (EUI-64s and radio shadowing differ between sites). [1]"""
    return zlib.crc32(name.encode("utf-8"))


def _order_is(config: SiteConfig, order: Literal["near-first", "far-first"]) -> bool:
    """Whether the repeaters' ``power_up`` numbers follow the distance order the twin powers them in."""
    origin = np.array(config.dcap.position_m)
    dist = np.array([float(np.hypot(*(np.array(r.position_m) - origin))) for r in config.repeaters])
    idx = np.argsort(dist if order == "near-first" else -dist, kind="stable")
    by_number = sorted(range(len(config.repeaters)), key=lambda k: config.repeaters[k].power_up or 0)
    # repeaters at the same distance may come in either order
    return all(
        math.isclose(dist[a], dist[b], abs_tol=1e-9) for a, b in zip(by_number, idx.tolist(), strict=True)
    )


# --------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, text: str, source: str) -> None:
        self.locator = _Locator(text)
        self.source = source

    def error(self, path: str, message: str) -> SiteFileError:
        return SiteFileError(message, line=self.locator.line_of(path), field=path, source=self.source)

    def table(self, parent: dict[str, Any], key: str, path: str, *, required: bool = True) -> dict[str, Any]:
        value = parent.get(key)
        if value is None:
            if required:
                raise self.error(path, "is missing (a table)")
            return {}
        if not isinstance(value, dict):
            raise self.error(path, f"must be a table, got {value!r}")
        return value

    def tables(self, parent: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = parent.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(key, f"must be an array of tables ([[{key}]]), got {value!r}")
        return value

    def only(self, table: dict[str, Any], path: str, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                where = f"{path}.{key}" if path else key
                raise self.error(where, f"is not a known field; allowed here: {', '.join(allowed)}")

    def text(self, table: dict[str, Any], key: str, path: str, default: str | None = None) -> str:
        value = table.get(key, default)
        where = f"{path}.{key}"
        if value is None:
            raise self.error(where, "is missing (a string)")
        if not isinstance(value, str) or not value.strip():
            raise self.error(where, f"must be a non-empty string, got {value!r}")
        return value.strip()

    def number(
        self,
        table: dict[str, Any],
        key: str,
        path: str,
        default: float | None = None,
        *,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
    ) -> float:
        value = table.get(key, default)
        where = f"{path}.{key}"
        if value is None:
            raise self.error(where, "is missing (a number)")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.error(where, f"must be a finite number, got {value!r}")
        if low is not None and (value < low or (low_open and value <= low)):
            raise self.error(where, f"must be {'>' if low_open else '>='} {low:g}, got {value!r}")
        if high is not None and value > high:
            raise self.error(where, f"must be <= {high:g}, got {value!r}")
        return float(value)

    def optional_number(self, table: dict[str, Any], key: str, path: str, **kw: Any) -> float | None:
        return None if key not in table else self.number(table, key, path, **kw)

    def integer(self, table: dict[str, Any], key: str, path: str, default: int, *, low: int = 0) -> int:
        value = table.get(key, default)
        where = f"{path}.{key}"
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.error(where, f"must be an integer >= {low}, got {value!r}")
        return value

    def flag(self, table: dict[str, Any], key: str, path: str) -> bool:
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise self.error(f"{path}.{key}", f"must be true or false, got {value!r}")
        return value

    def position(self, table: dict[str, Any], path: str) -> tuple[float, float]:
        value = table.get("position_m")
        where = f"{path}.position_m"
        if value is None:
            raise self.error(where, "is missing (a plan position [x, y] in metres)")
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(
                isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in value
            )
        ):
            raise self.error(where, f"must be [x, y], two finite numbers of metres, got {value!r}")
        return float(value[0]), float(value[1])

    def eui64(self, table: dict[str, Any], path: str) -> bytes | None:
        value = table.get("eui64")
        if value is None:
            return None
        text = value.replace(":", "").replace("-", "") if isinstance(value, str) else None
        if text is None or not re.fullmatch(r"[0-9A-Fa-f]{16}", text):
            raise self.error(f"{path}.eui64", f"must be 16 hex digits (8 bytes), got {value!r}")
        return bytes.fromhex(text)

    def instant(
        self, table: dict[str, Any], key: str, path: str, zone: ZoneInfo, *, required: bool
    ) -> datetime | None:
        value = table.get(key)
        where = f"{path}.{key}"
        if value is None:
            if required:
                raise self.error(where, "is missing (a date or date-time)")
            return None
        if isinstance(value, datetime):
            local = value if value.tzinfo is not None else value.replace(tzinfo=zone)
        elif isinstance(value, date):
            local = datetime.combine(value, time(0), tzinfo=zone)
        else:
            raise self.error(
                where,
                f"must be a TOML date (2026-01-01) or date-time (2026-01-01T00:00:00-08:00), got {value!r}",
            )
        return local.astimezone(UTC)


_SITE_KEYS = ("name", "timezone", "latitude_deg", "longitude_deg", "wall_spacing_m", "max_walls")
_DEVICE_KEYS = ("name", "position_m", "walls", "eui64")
_REPEATER_KEYS = (*_DEVICE_KEYS, "power_up")
_METER_KEYS = (
    "serial",
    "designation",
    "kind",
    "unit",
    "floor_area_ft2",
    "occupants",
    "ct",
    "multiplier",
    "register_digits",
    "export_of",
    "manufacturer",
    "model",
    "elements",
    "voltage_max_v",
    "current_max_a",
    "load",
    "mdt",
)
_MDT_KEYS = ("kit", "position_m", "walls", "metal_box", "metal_wall", "eui64")
_LOAD_KEYS = ("profile", "annual_kwh", "seed", "dc_capacity_kw", "ac_capacity_kw", "tilt_deg", "azimuth_deg")
_ACCOUNT_KEYS = ("tenant", "meter", "unit", "move_in", "move_out")
_INCIDENT_KEYS = ("kind", "after_h", "duration_h", "meter", "repeater")
_SOURCE_KEYS = ("name", "kind", "format", "address", "settings", "enabled", "channels")
_CHANNEL_KEYS = (
    "device",
    "channel",
    "meter",
    "unit",
    "wh_per_unit",
    "modulus",
    "msg_type",
    "resets",
    "max_apportion_s",
)


def _sources(r: _Reader, doc: dict[str, Any], by_serial: dict[str, SiteMeter]) -> tuple[SourceSpec, ...]:
    """The ``[[sources]]`` with their ``[[sources.channels]]``: their shape, names and meters."""
    out: list[SourceSpec] = []
    fed: dict[str, str] = {}
    for k, table in enumerate(r.tables(doc, "sources")):
        path = f"sources[{k}]"
        r.only(table, path, _SOURCE_KEYS)
        name = r.text(table, "name", path)
        if any(s.name == name for s in out):
            raise r.error(f"{path}.name", f"{name!r} names two sources")
        settings = r.table(table, "settings", f"{path}.settings", required=False)
        channels = []
        for j, channel in enumerate(r.tables(table, "channels")):
            where = f"{path}.channels[{j}]"
            r.only(channel, where, _CHANNEL_KEYS)
            for key in ("device", "channel", "unit"):
                r.text(channel, key, where)
            serial = r.text(channel, "meter", where)
            if serial not in by_serial:
                raise r.error(f"{where}.meter", f"{serial!r} is not the serial of one of the [[meters]]")
            if serial in fed:
                raise r.error(f"{where}.meter", f"{serial!r} is fed by {fed[serial]} already")
            fed[serial] = where
            channels.append(dict(channel))
        out.append(
            SourceSpec(
                name=name,
                kind=r.text(table, "kind", path),
                format=r.text(table, "format", path),
                address=r.text(table, "address", path),
                settings=dict(settings),
                enabled=table.get("enabled", True) is True,
                channels=tuple(channels),
            )
        )
        if "enabled" in table:
            r.flag(table, "enabled", path)
    return tuple(out)


def load_site(path: str | Path) -> SiteConfig:
    """
    Read and check a site file.

    Parameters
    ----------
    path : str or Path
        A TOML file (``docs/site.md``).

    Returns
    -------
    SiteConfig

    Raises
    ------
    SiteFileError
        The file cannot be read, is not TOML, or a field is wrong: the message names the line and field.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SiteFileError(f"cannot read the file: {reason}", line=None, field="", source=str(p)) from None
    return parse_site(text, source=str(p))


def parse_site(text: str, *, source: str = "<site>") -> SiteConfig:
    """
    Check a site file's text.

    Parameters
    ----------
    text : str
        TOML (``docs/site.md``).
    source : str
        The file's name, for messages.

    Returns
    -------
    SiteConfig

    Raises
    ------
    SiteFileError
        Naming the line and the field of the first mistake.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise SiteFileError(
            f"not valid TOML: {exc}", line=int(found.group(1)) if found else None, field="", source=source
        ) from None
    r = _Reader(text, source)
    r.only(doc, "", ("site", "dcap", "repeaters", "meters", "tenants", "accounts", "incidents", "sources"))
    warnings: list[str] = []

    site = r.table(doc, "site", "site")
    r.only(site, "site", _SITE_KEYS)
    name = r.text(site, "name", "site")
    tz_name = r.text(site, "timezone", "site")
    try:
        local_zone = zone(tz_name)
    except ValueError:
        raise r.error("site.timezone", f"must be an IANA time zone name, got {tz_name!r}") from None
    lat = r.optional_number(site, "latitude_deg", "site", low=-90.0, high=90.0)
    lon = r.optional_number(site, "longitude_deg", "site", low=-180.0, high=180.0)
    spacing = r.number(site, "wall_spacing_m", "site", 10.0, low=0.0, low_open=True)
    max_walls = r.integer(site, "max_walls", "site", 6)

    dcap_table = r.table(doc, "dcap", "dcap")
    r.only(dcap_table, "dcap", _DEVICE_KEYS)
    dcap = DeviceSpec(
        name=r.text(dcap_table, "name", "dcap", "DCAP"),
        position_m=r.position(dcap_table, "dcap"),
        walls=r.integer(dcap_table, "walls", "dcap", 0),
        eui64=r.eui64(dcap_table, "dcap"),
    )

    repeaters: list[DeviceSpec] = []
    for k, table in enumerate(r.tables(doc, "repeaters")):
        path = f"repeaters[{k}]"
        r.only(table, path, _REPEATER_KEYS)
        power_up = None
        if "power_up" in table:
            power_up = r.integer(table, "power_up", path, 0, low=1)
        repeaters.append(
            DeviceSpec(
                name=r.text(table, "name", path),
                position_m=r.position(table, path),
                walls=r.integer(table, "walls", path, 0),
                eui64=r.eui64(table, path),
                power_up=power_up,
            )
        )
    names = [rep.name for rep in repeaters]
    for k, rep in enumerate(repeaters):
        if rep.name in names[:k] or rep.name == dcap.name:
            raise r.error(f"repeaters[{k}].name", f"{rep.name!r} names two devices")
    given = [rep.power_up for rep in repeaters]
    if any(g is not None for g in given):
        for k, g in enumerate(given):
            if g is None:
                raise r.error(f"repeaters[{k}].power_up", "is missing: give every repeater its place or none")
        if sorted(given) != list(range(1, len(repeaters) + 1)):  # type: ignore[type-var]
            k = next(k for k, g in enumerate(given) if given[:k].count(g) or (g or 0) > len(repeaters))
            raise r.error(
                f"repeaters[{k}].power_up", f"the power_up numbers must be 1 to {len(repeaters)}, each once"
            )

    meters: list[SiteMeter] = []
    for k, table in enumerate(r.tables(doc, "meters")):
        meters.append(_meter(r, table, f"meters[{k}]", lat, lon, warnings))
    serials = [m.serial for m in meters]
    for k, m in enumerate(meters):
        if m.serial in serials[:k]:
            raise r.error(f"meters[{k}].serial", f"{m.serial!r} is already the serial of another meter")
        if m.export_of is not None:
            target = next((t for t in meters[:k] if t.serial == m.export_of), None)
            if target is None:
                raise r.error(
                    f"meters[{k}].export_of",
                    f"{m.export_of!r} is not the serial of one of the [[meters]] listed before it",
                )
            if target.export_of is not None:
                raise r.error(f"meters[{k}].export_of", f"{m.export_of!r} is itself an export register")
            if any(t.export_of == m.export_of for t in meters[:k]):
                raise r.error(f"meters[{k}].export_of", f"{m.export_of!r} already has an export register")
        if m.mdt.kit != meters[0].mdt.kit:
            raise r.error(
                f"meters[{k}].mdt.kit",
                f"{m.mdt.kit!r} differs from the first MDT's {meters[0].mdt.kit!r}: "
                "a simulated site runs one kit",
            )

    tenants: list[str] = []
    for k, table in enumerate(r.tables(doc, "tenants")):
        r.only(table, f"tenants[{k}]", ("name",))
        tenant = r.text(table, "name", f"tenants[{k}]")
        if tenant in tenants:
            raise r.error(f"tenants[{k}].name", f"{tenant!r} is already a tenant")
        tenants.append(tenant)

    by_serial = {m.serial: m for m in meters}
    accounts: list[AccountSpec] = []
    for k, table in enumerate(r.tables(doc, "accounts")):
        path = f"accounts[{k}]"
        r.only(table, path, _ACCOUNT_KEYS)
        tenant = r.text(table, "tenant", path)
        if tenant not in tenants:
            raise r.error(f"{path}.tenant", f"{tenant!r} is not one of the [[tenants]]")
        serial = r.text(table, "meter", path)
        if serial not in by_serial:
            raise r.error(f"{path}.meter", f"{serial!r} is not the serial of one of the [[meters]]")
        unit = r.text(table, "unit", path, by_serial[serial].unit or by_serial[serial].kind)
        move_in = r.instant(table, "move_in", path, local_zone, required=True)
        move_out = r.instant(table, "move_out", path, local_zone, required=False)
        assert move_in is not None
        if move_out is not None and move_out <= move_in:
            raise r.error(f"{path}.move_out", f"must be after move_in ({move_in.isoformat()})")
        for j, other in enumerate(accounts):
            if other.meter == serial and _overlap(other, move_in, move_out):
                raise r.error(f"{path}.move_in", f"overlaps accounts[{j}] on meter {serial!r}")
        accounts.append(AccountSpec(tenant, serial, unit, move_in, move_out))

    incidents: list[IncidentSpec] = []
    for k, table in enumerate(r.tables(doc, "incidents")):
        incidents.append(_incident(r, table, f"incidents[{k}]", serials, names))

    sources = _sources(r, doc, by_serial)

    config = SiteConfig(
        name=name,
        timezone=tz_name,
        latitude_deg=lat,
        longitude_deg=lon,
        wall_spacing_m=spacing,
        max_walls=max_walls,
        dcap=dcap,
        repeaters=tuple(repeaters),
        meters=tuple(meters),
        tenants=tuple(tenants),
        accounts=tuple(accounts),
        incidents=tuple(incidents),
        sources=sources,
    )
    euis = config.eui64s()
    if len(set(euis)) != len(euis):
        dup = next(e for e in euis if euis.count(e) > 1)
        raise r.error(
            _eui_path(config, euis.index(dup, euis.index(dup) + 1)), f"{dup.hex()} names two devices"
        )
    if repeaters and given[0] is not None and not _order_is(config, "near-first"):
        if not _order_is(config, "far-first"):
            raise r.error(
                "repeaters[0].power_up",
                "the twin powers repeaters nearest the DCAP first (manual §5.2) or farthest first; "
                "this order is neither",
            )
        warnings.append(
            "repeaters: powered farthest first; the manual (§5.2) says nearest the DCAP first, "
            "or remote repeaters may not join"
        )
    for m in meters:
        if m.kind == "unit" and not any(a.meter == m.serial for a in accounts):
            warnings.append(f"meter {m.serial} (unit {m.unit}): no account, nobody is billed for it")
    return SiteConfig(**{**config.__dict__, "warnings": tuple(warnings)})


def _eui_path(config: SiteConfig, index: int) -> str:
    if index == 0:
        return "dcap.eui64"
    if index <= len(config.repeaters):
        return f"repeaters[{index - 1}].eui64"
    return f"meters[{index - 1 - len(config.repeaters)}].mdt.eui64"


def _overlap(a: AccountSpec, move_in: datetime, move_out: datetime | None) -> bool:
    a_end = a.move_out or datetime.max.replace(tzinfo=UTC)
    b_end = move_out or datetime.max.replace(tzinfo=UTC)
    return a.move_in < b_end and move_in < a_end


def _meter(
    r: _Reader,
    table: dict[str, Any],
    path: str,
    lat: float | None,
    lon: float | None,
    warnings: list[str],
) -> SiteMeter:
    r.only(table, path, _METER_KEYS)
    serial = r.text(table, "serial", path)
    designation = r.text(table, "designation", path, "MM-D1202001-T-SCC")
    try:
        spec = decode_meter(designation)
    except (MeshmeterError, ValueError) as exc:
        raise r.error(f"{path}.designation", str(exc)) from None
    kind = r.text(table, "kind", path, "unit")
    if kind not in METER_KINDS:
        raise r.error(f"{path}.kind", f"must be one of {', '.join(METER_KINDS)}, got {kind!r}")
    unit = table.get("unit")
    if kind == "unit" or unit is not None:
        unit = r.text(table, "unit", path)
    for key in ("floor_area_ft2", "occupants"):
        if key in table and unit is None:
            raise r.error(f"{path}.{key}", "is of a unit: give the meter's unit (kind unit)")
    floor_area = r.optional_number(table, "floor_area_ft2", path, low=0.0, low_open=True)
    occupants = r.integer(table, "occupants", path, 0) if "occupants" in table else None
    ct = None
    if "ct" in table:
        ct = r.text(table, "ct", path)
        try:
            ct_spec = decode_ct(ct)
        except (MeshmeterError, ValueError) as exc:
            raise r.error(f"{path}.ct", str(exc)) from None
        ratio = ct_spec.primary_a / ct_spec.secondary_a
        if not math.isclose(ratio, spec.ct_ratio):
            raise r.error(
                f"{path}.ct",
                f"{ct} is {ct_spec.primary_a:g}:{ct_spec.secondary_a:g} A (ratio {ratio:g}), but "
                f"{spec.designation} takes {spec.ct_primary_a:g}:{spec.ct_secondary_a:g} A CTs",
            )
    multiplier = r.number(table, "multiplier", path, 1.0, low=0.0, low_open=True)
    digits = r.integer(table, "register_digits", path, 6, low=3) if "register_digits" in table else None
    if digits is not None and digits > 12:
        raise r.error(f"{path}.register_digits", f"must be 3 to 12 whole-kWh digits, got {digits!r}")
    export_of = r.text(table, "export_of", path) if "export_of" in table else None
    kind_of = _meter_kind(r, table, path)
    if export_of is not None and (kind != "solar" or unit is not None):
        raise r.error(
            f"{path}.export_of",
            "an export register is kind solar, with no unit: its energy is delivered to the grid, never"
            " consumption",
        )

    load_table = r.table(table, "load", f"{path}.load", required=False)
    lpath = f"{path}.load"
    r.only(load_table, lpath, _LOAD_KEYS)
    profile = r.text(load_table, "profile", lpath, _DEFAULT_PROFILE[kind])
    if profile not in PROFILES:
        raise r.error(f"{lpath}.profile", f"must be one of {', '.join(PROFILES)}, got {profile!r}")
    seed = None
    if "seed" in load_table:
        seed = r.integer(load_table, "seed", lpath, 0)
    dc = r.optional_number(load_table, "dc_capacity_kw", lpath, low=0.0, low_open=True)
    ac = r.optional_number(load_table, "ac_capacity_kw", lpath, low=0.0, low_open=True)
    if profile == "solar":
        if dc is None:
            raise r.error(
                f"{lpath}.dc_capacity_kw", "is missing: a solar profile needs the array's rating [kW]"
            )
        if lat is None or lon is None:
            raise r.error(f"{lpath}.profile", "a solar profile needs [site] latitude_deg and longitude_deg")
    elif dc is not None or ac is not None:
        raise r.error(f"{lpath}.dc_capacity_kw", f"is for solar profiles only, this one is {profile!r}")
    load = LoadSpec(
        profile=profile,  # type: ignore[arg-type]
        annual_kwh=r.optional_number(load_table, "annual_kwh", lpath, low=0.0),
        seed=seed,
        dc_capacity_kw=dc,
        ac_capacity_kw=ac,
        tilt_deg=r.number(load_table, "tilt_deg", lpath, 20.0, low=0.0, high=90.0),
        azimuth_deg=r.number(load_table, "azimuth_deg", lpath, 180.0, low=0.0, high=360.0),
    )

    mdt_table = r.table(table, "mdt", f"{path}.mdt")
    mpath = f"{path}.mdt"
    r.only(mdt_table, mpath, _MDT_KEYS)
    kit = r.text(mdt_table, "kit", mpath, "MMSMT-C02")
    try:
        kit_spec = decode_kit(kit)
    except (MeshmeterError, ValueError) as exc:
        raise r.error(f"{mpath}.kit", str(exc)) from None
    if not kit_spec.has_transceiver:
        raise r.error(f"{mpath}.kit", f"{kit} has no Meter Data Transceiver (manual §2.4)")
    mdt = MdtSpec(
        kit=kit_spec.designation,
        position_m=r.position(mdt_table, mpath),
        walls=r.integer(mdt_table, "walls", mpath, 0),
        metal_box=r.flag(mdt_table, "metal_box", mpath),
        metal_wall=r.flag(mdt_table, "metal_wall", mpath),
        eui64=r.eui64(mdt_table, mpath),
    )
    if mdt.metal_box:
        warnings.append(f"meter {serial}: its MDT is in a metal box (manual §5.2 caution: move it out)")
    if mdt.metal_wall:
        warnings.append(f"meter {serial}: its MDT is near a metal wall (manual §5.2 caution: move it away)")
    return SiteMeter(
        serial=serial,
        designation=spec.designation,
        kind=kind,  # type: ignore[arg-type]
        unit=unit,
        ct=ct,
        ct_ratio=spec.ct_ratio,
        multiplier=multiplier,
        load=load,
        mdt=mdt,
        floor_area_ft2=floor_area,
        occupants=occupants,
        register_digits=digits,
        export_of=export_of,
        **kind_of,
    )


_KIND_KEYS = ("manufacturer", "model", "elements", "voltage_max_v", "current_max_a")


def _meter_kind(r: _Reader, table: dict[str, Any], path: str) -> dict[str, Any]:
    """
    A meter's make and ratings (``docs/site.md``, "Meters of any make"), by the store's rules
    (:func:`meshmeter.catalog.limits.rating_problems`): every problem named at once, at the line of the
    first field wrong.
    """
    given = {key: table.get(key) for key in _KIND_KEYS}
    problems = rating_problems(**given)
    if problems:
        rated = [key for key in _KIND_KEYS[2:] if given[key] is not None]

        def field_of(problem: str) -> str:
            named = [key for key in _KIND_KEYS if problem.startswith(f"{key} ")]
            return named[0] if named else rated[0]  # "ratings are of a meter of another make ..."

        fields = {field_of(problem) for problem in problems}
        first = next(key for key in _KIND_KEYS if key in fields)
        raise r.error(f"{path}.{first}", "; ".join(problems))
    return {
        "manufacturer": None if given["manufacturer"] is None else str(given["manufacturer"]).strip(),
        "model": None if given["model"] is None else str(given["model"]).strip(),
        "elements": None if given["elements"] is None else int(given["elements"]),
        "voltage_max_v": None if given["voltage_max_v"] is None else float(given["voltage_max_v"]),
        "current_max_a": None if given["current_max_a"] is None else float(given["current_max_a"]),
    }


def _incident(
    r: _Reader, table: dict[str, Any], path: str, serials: list[str], repeaters: list[str]
) -> IncidentSpec:
    r.only(table, path, _INCIDENT_KEYS)
    kind = r.text(table, "kind", path)
    kinds = ("tamper", "dcap_outage", "repeater_failure")
    if kind not in kinds:
        raise r.error(f"{path}.kind", f"must be one of {', '.join(kinds)}, got {kind!r}")
    after_h = r.number(table, "after_h", path, low=0.0)
    duration_h = r.optional_number(table, "duration_h", path, low=0.0, low_open=True)
    meter = repeater = None
    if kind == "tamper":
        meter = r.text(table, "meter", path)
        if meter not in serials:
            raise r.error(f"{path}.meter", f"{meter!r} is not the serial of one of the [[meters]]")
    elif kind == "repeater_failure":
        repeater = r.text(table, "repeater", path)
        if repeater not in repeaters:
            raise r.error(f"{path}.repeater", f"{repeater!r} is not the name of one of the [[repeaters]]")
    elif duration_h is None:
        raise r.error(f"{path}.duration_h", "is missing: how long the DCAP is unreachable [h]")
    return IncidentSpec(kind=kind, after_h=after_h, duration_h=duration_h, meter=meter, repeater=repeater)  # type: ignore[arg-type]
