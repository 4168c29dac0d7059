"""Test plans of the type-evaluation bench: data, in TOML, shipped with the package or from a user file.

A plan names the test points a meter is run at and what each must show. Three kinds:

* ``accuracy``: points at a voltage, current, power factor and element; the meter is read on its test
  output (Kt = 10 Wh) and its percent registration must lie within a tolerance (manual §3.1, certificate
  p.2);
* ``creep``: no-load points (the meter must emit at most ``max_pulses``) and starting-load points (it must
  emit at least ``min_pulses``) over a stated duration (ANSI C12.1 practice);
* ``permanence``: accuracy points tested, then the meter run in the field for ``field_days`` on a
  realistic load, then tested again; each point must pass both times and drift by no more than its
  tolerance (certificate p.2: "a permanence period of approximately 30 days").

The format is documented in ``docs/evaluation.md``; a malformed plan is refused with :class:`PlanError`
naming the field.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from meshmeter.catalog import MINI_METER_RATINGS, accuracy_tolerance_percent
from meshmeter.errors import PlanError

__all__ = [
    "BUILTIN_PLANS",
    "PLAN_SETS",
    "PlanError",
    "TestPlan",
    "TestPoint",
    "builtin_plan_text",
    "load_plan",
    "load_plans",
    "parse_plan",
]

BUILTIN_PLANS: tuple[str, ...] = ("ctep", "ansi", "spec", "creep", "permanence")
"""The plans shipped as package data under ``meshmeter/evaluation/plans/``."""

PLAN_SETS: dict[str, tuple[str, ...]] = {"all": BUILTIN_PLANS}
"""Names that stand for several built-in plans."""

Element = Literal["1", "2", "both"]
Kind = Literal["accuracy", "creep", "permanence"]
_ELEMENTS: tuple[str, ...] = ("1", "2", "both")
_KINDS: tuple[str, ...] = ("accuracy", "creep", "permanence")
_SENSES: tuple[str, ...] = ("lag", "lead")


@dataclass(frozen=True)
class TestPoint:
    """
    One test point of a plan.

    Parameters
    ----------
    element : {"1", "2", "both"}
        Which element carries the current (the other's voltage is applied, its current is zero).
    current_a : float
        Primary RMS current in each loaded line. [A]
    voltage_v : float
        RMS voltage of each line to neutral. [V]
    pf : float
        Power factor magnitude, 0.5 to 1.0 (manual §3.1). [1]
    lagging : bool
        True for a lagging (inductive) load, False for leading; irrelevant at PF 1.0.
    frequency_hz : float
        Line frequency. [Hz]
    tolerance_percent : float or None
        Allowed error of registration; None on creep points. [%]
    duration_s : float or None
        Length of the run; None lets the bench choose it from the resolution. [s]
    max_pulses, min_pulses : int or None
        Creep criteria: at most (no load) or at least (starting load) this many test-output pulses. [1]
    label : str
        A short name for people, e.g. ``"TA 0.5 lag"``.
    """

    __test__ = False  # not a pytest class

    element: Element
    current_a: float
    voltage_v: float
    pf: float
    lagging: bool
    frequency_hz: float
    tolerance_percent: float | None
    duration_s: float | None = None
    max_pulses: int | None = None
    min_pulses: int | None = None
    label: str = ""

    @property
    def phase_deg(self) -> float:
        """Lag of the current behind its voltage: positive lagging, negative leading. [deg]"""
        angle = math.degrees(math.acos(self.pf))
        return angle if self.lagging else -angle

    @property
    def pf_text(self) -> str:
        """``"1.0"``, ``"0.5 lag"`` or ``"0.5 lead"``."""
        if self.pf == 1.0:
            return "1.0"
        return f"{self.pf:g} {'lag' if self.lagging else 'lead'}"


@dataclass(frozen=True)
class TestPlan:
    """
    A test plan: its kind, description and points.

    Parameters
    ----------
    name : str
        Short name (``"ctep"``).
    title : str
        One line for the report.
    kind : {"accuracy", "creep", "permanence"}
        How the points are judged (see the module docstring).
    reference : str
        The clause or standard the plan follows.
    description : str
        What the plan does and why, for the report.
    resolution : float
        One test-output pulse is at most this fraction of a point's tolerance; sets the run length. [1]
    field_days : float
        Permanence plans: days in the field between the two tests. [d]
    points : tuple of TestPoint
    source : str
        Where the plan was read from.
    text : str
        The plan's TOML text as read (shown in the report).
    """

    __test__ = False

    name: str
    title: str
    kind: Kind
    reference: str
    description: str
    resolution: float
    field_days: float
    points: tuple[TestPoint, ...]
    source: str
    text: str


# --------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------


def builtin_plan_text(name: str) -> str:
    """The TOML text of a built-in plan (``ctep``, ``ansi``, ``spec``, ``creep``, ``permanence``)."""
    if name not in BUILTIN_PLANS:
        raise ValueError(f"name must be one of {list(BUILTIN_PLANS)}, got {name!r}")
    return (
        resources.files("meshmeter.evaluation").joinpath("plans").joinpath(f"{name}.toml").read_text("utf-8")
    )


def load_plan(name_or_path: str | Path) -> TestPlan:
    """
    Load one plan: a built-in name or a path to a TOML file.

    Parameters
    ----------
    name_or_path : str or Path
        ``"ctep"``, ``"ansi"``, ``"spec"``, ``"creep"``, ``"permanence"``, or a file.

    Returns
    -------
    TestPlan

    Raises
    ------
    PlanError
        The file cannot be read, is not TOML, or a field is missing or wrong.
    ValueError
        ``name_or_path`` is neither a built-in name nor an existing file.
    """
    if isinstance(name_or_path, str) and name_or_path in BUILTIN_PLANS:
        return parse_plan(builtin_plan_text(name_or_path), source=name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        known = [*BUILTIN_PLANS, *PLAN_SETS]
        raise ValueError(f"plan must be one of {known} or a TOML file, got {str(name_or_path)!r}")
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(str(path), "(file)", f"cannot be read: {exc}") from None
    return parse_plan(text, source=str(path))


def load_plans(name_or_path: str | Path) -> list[TestPlan]:
    """Load a plan, or every plan of a set (``"all"``); see :func:`load_plan`."""
    if isinstance(name_or_path, str) and name_or_path in PLAN_SETS:
        return [load_plan(name) for name in PLAN_SETS[name_or_path]]
    return [load_plan(name_or_path)]


def parse_plan(text: str, *, source: str = "<text>") -> TestPlan:
    """
    Parse a plan from TOML text and check every field.

    Parameters
    ----------
    text : str
        The plan (format in ``docs/evaluation.md``).
    source : str
        Where it came from, for error messages.

    Returns
    -------
    TestPlan

    Raises
    ------
    PlanError
        Naming the first field that is missing or wrong.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(source, "(file)", f"is not valid TOML: {exc}") from None
    return _Reader(source).plan(data, text)


class _Reader:
    """Checks a plan's fields one by one, naming the first that is wrong."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field: str, message: str) -> PlanError:
        return PlanError(self.source, field, message)

    def table(self, data: Mapping[str, Any], key: str, where: str = "") -> Mapping[str, Any]:
        value = data.get(key)
        if not isinstance(value, dict):
            raise self.fail(f"{where}{key}", "is required and must be a table")
        return value

    def text(self, data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
        value = data.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}{key}", f"must be a non-empty string, got {value!r}")
        return value

    def number(
        self,
        data: Mapping[str, Any],
        key: str,
        where: str,
        *,
        low: float,
        high: float,
        default: float | None = None,
        low_open: bool = False,
    ) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(f"{where}{key}", f"must be a number, got {value!r}")
        if value < low or value > high or (low_open and value == low):
            bracket = "(" if low_open else "["
            raise self.fail(f"{where}{key}", f"must be in {bracket}{low:g}, {high:g}], got {value!r}")
        return float(value)

    def optional_int(self, data: Mapping[str, Any], key: str, where: str) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(f"{where}{key}", f"must be an integer >= 0, got {value!r}")
        return value

    def plan(self, data: Mapping[str, Any], text: str) -> TestPlan:
        head = self.table(data, "plan")
        unknown = set(data) - {"plan", "defaults", "grid", "point"}
        if unknown:
            raise self.fail(sorted(unknown)[0], "is not a plan field (plan, defaults, grid, point)")
        name = self.text(head, "name", "plan.")
        kind = self.text(head, "kind", "plan.")
        if kind not in _KINDS:
            raise self.fail("plan.kind", f"must be one of {list(_KINDS)}, got {kind!r}")
        resolution = self.number(head, "resolution", "plan.", low=0.0, high=1.0, default=0.1, low_open=True)
        field_days = 0.0
        if kind == "permanence":
            field_days = self.number(head, "field_days", "plan.", low=0.0, high=366.0, low_open=True)
        defaults = data.get("defaults", {})
        if not isinstance(defaults, dict):
            raise self.fail("defaults", "must be a table")
        points: list[TestPoint] = []
        grids = data.get("grid", [])
        singles = data.get("point", [])
        for key, items in (("grid", grids), ("point", singles)):
            if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
                raise self.fail(key, "must be an array of tables ([[grid]] / [[point]])")
        for n, grid in enumerate(grids):
            points.extend(self.grid(grid, defaults, kind, f"grid[{n}]."))
        for n, single in enumerate(singles):
            points.append(self.point({**defaults, **single}, kind, f"point[{n}]."))
        if not points:
            raise self.fail("grid", "the plan has no points: give at least one [[grid]] or [[point]]")
        return TestPlan(
            name=name,
            title=self.text(head, "title", "plan.", default=name),
            kind=kind,  # type: ignore[arg-type]
            reference=self.text(head, "reference", "plan.", default="-"),
            description=self.text(head, "description", "plan.", default="-"),
            resolution=resolution,
            field_days=field_days,
            points=tuple(points),
            source=self.source,
            text=text,
        )

    def grid(
        self, grid: Mapping[str, Any], defaults: Mapping[str, Any], kind: str, where: str
    ) -> list[TestPoint]:
        """Every combination of the grid's lists (``element``, ``current_a``, ``pf``, ``sense``)."""
        merged = {**defaults, **grid}
        axes: dict[str, Sequence[Any]] = {}
        for key in ("element", "current_a", "pf", "sense", "voltage_v"):
            value = merged.get(key)
            if isinstance(value, list):
                if not value:
                    raise self.fail(f"{where}{key}", "must not be an empty list")
                axes[key] = value
        points = []
        seen: set[tuple[Any, ...]] = set()
        for combo in itertools.product(*axes.values()):
            values = dict(zip(axes, combo, strict=True))
            if (
                "sense" in values
                and "pf" in values
                and self._unity(values["pf"])
                and values["sense"] != "lag"
            ):
                continue  # at PF 1.0 lag and lead are the same point: keep one
            point = self.point({**merged, **values}, kind, where)
            identity = (point.element, point.current_a, point.voltage_v, point.pf, point.lagging)
            if identity not in seen:
                seen.add(identity)
                points.append(point)
        return points

    @staticmethod
    def _unity(pf: object) -> bool:
        return isinstance(pf, int | float) and not isinstance(pf, bool) and pf == 1.0

    def point(self, data: Mapping[str, Any], kind: str, where: str) -> TestPoint:
        known = {
            "element", "current_a", "voltage_v", "pf", "sense", "frequency_hz", "tolerance_percent",
            "duration_s", "max_pulses", "min_pulses", "label",
        }  # fmt: skip
        unknown = set(data) - known
        if unknown:
            raise self.fail(f"{where}{sorted(unknown)[0]}", f"is not a point field ({sorted(known)})")
        element = data.get("element", "both")
        if element not in _ELEMENTS:
            raise self.fail(f"{where}element", f"must be one of {list(_ELEMENTS)}, got {element!r}")
        ratings = MINI_METER_RATINGS
        current = self.number(data, "current_a", where, low=0.0, high=ratings.max_current_primary_a)
        voltage = self.number(
            data, "voltage_v", where, low=0.0, high=1.2 * ratings.supply_max_v, low_open=True
        )
        pf = self.number(data, "pf", where, low=ratings.pf_min, high=1.0, default=1.0)
        sense = data.get("sense", "lag")
        if sense not in _SENSES:
            raise self.fail(f"{where}sense", f"must be 'lag' or 'lead', got {sense!r}")
        low_f = ratings.frequency_min_hz - ratings.frequency_tolerance_hz
        high_f = ratings.frequency_max_hz + ratings.frequency_tolerance_hz
        frequency = self.number(data, "frequency_hz", where, low=low_f, high=high_f, default=60.0)
        duration: float | None = None
        if data.get("duration_s") is not None:
            duration = self.number(data, "duration_s", where, low=0.0, high=366 * 86400.0, low_open=True)
        label = data.get("label", "")
        if not isinstance(label, str):
            raise self.fail(f"{where}label", f"must be a string, got {label!r}")
        max_pulses = self.optional_int(data, "max_pulses", where)
        min_pulses = self.optional_int(data, "min_pulses", where)
        tolerance: float | None = None
        if kind == "creep":
            if (max_pulses is None) == (min_pulses is None):
                raise self.fail(
                    f"{where}max_pulses", "a creep point needs exactly one of max_pulses, min_pulses"
                )
            if duration is None:
                raise self.fail(f"{where}duration_s", "is required on a creep point")
            if min_pulses is not None and current == 0.0:
                raise self.fail(f"{where}current_a", "a starting-load point (min_pulses) needs a current > 0")
        else:
            if max_pulses is not None or min_pulses is not None:
                raise self.fail(f"{where}max_pulses", f"belongs to creep points, not to a {kind} plan")
            if current == 0.0:
                raise self.fail(f"{where}current_a", "must be > 0 on an accuracy point")
            if data.get("tolerance_percent") is None:
                tolerance = accuracy_tolerance_percent(pf)
            else:
                tolerance = self.number(data, "tolerance_percent", where, low=0.0, high=100.0, low_open=True)
        return TestPoint(
            element=element,
            current_a=current,
            voltage_v=voltage,
            pf=pf,
            lagging=sense == "lag" or pf == 1.0,
            frequency_hz=frequency,
            tolerance_percent=tolerance,
            duration_s=duration,
            max_pulses=max_pulses,
            min_pulses=min_pulses,
            label=label,
        )
