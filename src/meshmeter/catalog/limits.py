"""What a meter can register in one interval, read from its own registry record.

The one plausibility limit of an interval's energy: every door of the head-end (JSON and CSV files and
HTTP bodies, MQTT messages, Green Button files, the DCAP's interval records) refuses an energy above
:func:`max_interval_energy_wh` of the meter it names, and VEE's rating check flags one above it
(``docs/ingest.md``, ``docs/vee.md``).

The limit is the meter's highest demand held for a whole interval: every element at the highest supply
voltage and the highest primary current, at unity power factor. It is read from a meter's *record* (any
object with the attributes of :class:`MeterRecord`, such as :class:`meshmeter.store.Meter`), not from a
designation alone: a meter of another make (issue 14) states its own ratings in its record (``elements``,
``voltage_max_v``, ``current_max_a``), a Mini Meter's come from its designation and CT ratio
(:func:`rating_source` says which). :func:`rating_problems` is the rule a record's ratings follow.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal, Protocol

from meshmeter.catalog.designations import decode_meter
from meshmeter.catalog.ratings import MINI_METER_RATINGS
from meshmeter.errors import DesignationError

__all__ = [
    "DEFAULT_DESIGNATION",
    "MeterRecord",
    "RatedMeter",
    "RatingSource",
    "max_interval_energy_wh",
    "rating_problems",
    "rating_source",
]

DEFAULT_DESIGNATION: Final = "MM-D1202001-T-SCC"
"""The default Mini Meter: dual element, 200:0.1 A CT, Kh 100, self-contained (certificate p.1)."""

_DEFAULT_ELEMENTS: Final = 2
_DEFAULT_CT_RATIO: Final = 2000.0  # "2001" = 200:0.1 A (certificate p.1)
_DEFAULT_INTERVAL_S: Final = 900  # the MDT's 15-minute intervals (manual §2.6, §5.1)
_SECONDS_PER_HOUR: Final = 3600


class MeterRecord(Protocol):
    """
    What :func:`max_interval_energy_wh` reads of a meter's registry record.

    :class:`meshmeter.store.Meter` is one; :class:`RatedMeter` is one without a store.

    Attributes
    ----------
    designation : str
        Model designation, ``MM-{D|S}1202001[-T][-SCC]`` (certificate p.1), or free text.
    ct_ratio : float
        Ratio of the CTs installed, primary / secondary: 2000 for 200:0.1 A. [1]
    interval_s : int
        Length of the meter's intervals. [s]
    elements : int or None
        Measuring elements of a meter of another make, 1 to 3; None: the designation's. [1]
    voltage_max_v : float or None
        Highest voltage an element measures, line to neutral; None: the designation's. [V]
    current_max_a : float or None
        Highest primary current an element measures (with a CT-operated meter, through its CTs);
        None: the CT ratio times the Mini Meter's highest secondary current. [A]
    """

    @property
    def designation(self) -> str: ...

    @property
    def ct_ratio(self) -> float: ...

    @property
    def interval_s(self) -> int: ...

    @property
    def elements(self) -> int | None: ...

    @property
    def voltage_max_v(self) -> float | None: ...

    @property
    def current_max_a(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class RatedMeter:
    """
    A meter record of only what its limits depend on: for a limit where no stored meter is at hand.

    Parameters
    ----------
    designation : str, optional
        Default ``"MM-D1202001-T-SCC"``, the dual element Mini Meter (certificate p.1).
    ct_ratio : float, optional
        CT primary / secondary; default 2000, the 200:0.1 A CT of code "2001" (certificate p.1). [1]
    interval_s : int, optional
        Interval length; default 900, the MDT's 15 minutes (manual §2.6). [s]
    elements : int, optional
        A meter of another make: its measuring elements, 1 to 3. Default None, the designation's. [1]
    voltage_max_v : float, optional
        Its highest voltage, line to neutral. Default None, the designation's. [V]
    current_max_a : float, optional
        Its highest primary current per element. Default None, the CT ratio's. [A]
    """

    designation: str = DEFAULT_DESIGNATION
    ct_ratio: float = _DEFAULT_CT_RATIO
    interval_s: int = _DEFAULT_INTERVAL_S
    elements: int | None = None
    voltage_max_v: float | None = None
    current_max_a: float | None = None


RatingSource = Literal["ratings", "designation", "default"]
"""Where a record's limit comes from: its own ratings, its Mini Meter designation, or (a designation that
is not a Mini Meter's and no ratings) the default Mini Meter, :data:`DEFAULT_DESIGNATION`."""

_RATING_FIELDS: Final = ("elements", "voltage_max_v", "current_max_a")


def rating_problems(
    *,
    manufacturer: object = None,
    model: object = None,
    elements: object = None,
    voltage_max_v: object = None,
    current_max_a: object = None,
) -> list[str]:
    """
    Every problem of what a record says about a meter's make and ratings, each a sentence naming its
    field; empty when there is none.

    Parameters
    ----------
    manufacturer, model : str or None
        Who made the meter and their model name (``"Eastron"``, ``"SDM630MCT"``); None for a Mini Meter,
        whose designation says it all (certificate p.1).
    elements : int or None
        Measuring elements, 1 to 3. [1]
    voltage_max_v : float or None
        Highest voltage an element measures, line to neutral, > 0. [V]
    current_max_a : float or None
        Highest primary current an element measures, > 0: for a CT-operated meter the current its CTs'
        primaries carry at the meter's highest secondary current. [A]

    Returns
    -------
    problems : list of str

    Notes
    -----
    The rules: ``manufacturer`` and ``model`` are non-empty text when given, and a ``model`` needs its
    ``manufacturer``; the three ratings go together (all or none: one alone cannot bound an energy)
    and need a ``manufacturer`` (a Mini Meter's ratings come from its designation and CT ratio, manual
    §3.1); ``elements`` is a whole number 1 to 3 (a bool is not one); the voltage and the current are
    finite numbers above 0. A ``manufacturer`` with no ratings is allowed: its limit is then the
    designation's, or the default Mini Meter's (:func:`rating_source` ``"default"``), as before issue 14.
    """
    problems: list[str] = []
    for name, value in (("manufacturer", manufacturer), ("model", model)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            problems.append(f"{name} must be a non-empty string, got {value!r}")
    if model is not None and manufacturer is None:
        problems.append("model is the manufacturer's model name: give the manufacturer too")
    given = {"elements": elements, "voltage_max_v": voltage_max_v, "current_max_a": current_max_a}
    if elements is not None and (
        isinstance(elements, bool)
        or not isinstance(elements, numbers.Integral)
        or not 1 <= int(elements) <= 3
    ):
        problems.append(f"elements must be a whole number, 1 to 3, got {elements!r}")
    for name in ("voltage_max_v", "current_max_a"):
        value = given[name]
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not math.isfinite(float(value))
            or float(value) <= 0
        ):
            unit = "V, line to neutral" if name == "voltage_max_v" else "A, primary"
            problems.append(f"{name} must be a finite number > 0 [{unit}], got {value!r}")
    missing = [name for name in _RATING_FIELDS if given[name] is None]
    if 0 < len(missing) < len(_RATING_FIELDS):
        problems.append(
            "elements, voltage_max_v and current_max_a go together (all three or none): "
            f"missing {', '.join(missing)}"
        )
    if len(missing) < len(_RATING_FIELDS) and manufacturer is None:
        problems.append(
            "ratings are of a meter of another make: give its manufacturer (a Mini Meter's come from its"
            " designation and CT ratio)"
        )
    return problems


def _own_ratings(meter: MeterRecord) -> tuple[int, Decimal, Decimal] | None:
    """The record's own ratings, checked, or None when it gives none (ValueError naming each bad one: a
    record read from outside is checked, not trusted; one rating alone is as bad as a wrong one)."""
    elements: object = getattr(meter, "elements", None)
    voltage: object = getattr(meter, "voltage_max_v", None)
    current: object = getattr(meter, "current_max_a", None)
    if elements is None and voltage is None and current is None:
        return None
    problems: list[str] = []
    if (
        isinstance(elements, bool)
        or not isinstance(elements, numbers.Integral)
        or not 1 <= int(elements) <= 3
    ):
        problems.append(
            f"meter.elements must be a whole number 1 to 3 with the other ratings, got {elements!r}"
        )
    numbers_ok: list[Decimal] = []
    for name, value in (("voltage_max_v", voltage), ("current_max_a", current)):
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not math.isfinite(float(value))
            or float(value) <= 0
        ):
            problems.append(
                f"meter.{name} must be a positive finite number with the other ratings, got {value!r}"
            )
        else:
            numbers_ok.append(_exact(float(value)))  # an int's float is exact at any rating
    if problems:
        raise ValueError("; ".join(problems))
    assert isinstance(elements, numbers.Integral)
    return int(elements), numbers_ok[0], numbers_ok[1]


def rating_source(meter: MeterRecord) -> RatingSource:
    """
    Where :func:`max_interval_energy_wh` takes a record's ratings from.

    Returns
    -------
    source : {"ratings", "designation", "default"}
        ``"ratings"``: the record's own ``elements``, ``voltage_max_v``, ``current_max_a``;
        ``"designation"``: its Mini Meter designation (certificate p.1) and CT ratio; ``"default"``: a
        designation that is not a Mini Meter's and no ratings, read as :data:`DEFAULT_DESIGNATION`.
    """
    if any(getattr(meter, name, None) is not None for name in _RATING_FIELDS):
        return "ratings"
    try:
        decode_meter(meter.designation)
    except DesignationError:
        return "default"
    return "designation"


def _exact(value: float | int) -> Decimal:
    """A number as the decimal it is written as (0.11, not its binary neighbour)."""
    return Decimal(value) if isinstance(value, int) else Decimal(repr(float(value)))


def max_interval_energy_wh(meter: MeterRecord, *, interval_s: int | None = None) -> int:
    """
    The most energy a meter can register in one of its intervals: above it, a value is impossible.

    Parameters
    ----------
    meter : MeterRecord
        The meter's registry record (:class:`meshmeter.store.Meter`, :class:`RatedMeter`): its own
        ``elements``, ``voltage_max_v`` and ``current_max_a`` when it gives them (a meter of another
        make); else its ``designation`` gives the number of elements and the ratings, its ``ct_ratio``
        the highest primary current. Its ``interval_s`` gives the interval.
    interval_s : int, optional
        Another interval length than the meter's: the DCAP's records are the MDT's 15 minutes whatever
        the record says. Default: ``meter.interval_s``. [s]

    Returns
    -------
    energy_wh : int
        The largest whole energy the meter can register in the interval. [Wh]

    Raises
    ------
    ValueError
        Naming ``meter.ct_ratio`` or ``interval_s`` when it is not a positive finite number (a bool is
        not a number); naming each of ``meter.elements``, ``meter.voltage_max_v``,
        ``meter.current_max_a`` that is wrong or missing when the record gives any of them.

    Notes
    -----
    .. math::

        E_{max} = \\left\\lfloor n \\; V_{max} \\; (k_{CT} \\, I_{2,max}) \\; \\frac{t}{3600}
        \\right\\rfloor

    with :math:`n` the elements (``D`` 2, ``S`` 1, certificate p.1), :math:`V_{max}` = 138 V the highest
    supply voltage, L1 or L2 to neutral (manual §3.1), :math:`k_{CT}` the record's CT ratio,
    :math:`I_{2,max}` = 0.11 A the highest secondary current of a 0.1 A secondary meter (manual §3.1),
    :math:`t` the interval [s], at unity power factor (manual §3.1: 0.5 to 1.0; 1 gives the most).

    The highest primary current is :math:`k_{CT} I_{2,max}`, 110 % of the CT's rated primary: manual
    §3.1 note 1 gives "220 A primary for 200 A models" (2000 × 0.11 A) and "110 A primary for 100 A
    models" (1000 × 0.11 A). So a dual element meter on 200:0.1 A CTs registers at most
    2 × 138 V × 220 A × 0.25 h = 15,180 Wh in 15 minutes (60,720 Wh in an hour), a single element one
    half of that, 7,590 Wh; a meter on CTs of twice the ratio, twice. The certificate approves only
    200:0.1 A CTs ("Class: 200 (200 Amps Max.)", CT code "2001"); for other ratios the 110 % of the
    manual is carried over. The result is floored, so that an integer energy ``e`` is possible exactly
    when ``e <= max_interval_energy_wh(meter)``.

    A designation that does not decode as a Mini Meter's (``decode_meter``; free text such as
    ``"MM-1"``) is read as the default one, :data:`DEFAULT_DESIGNATION`: dual element, with the Mini
    Meter's ratings (:data:`~meshmeter.catalog.ratings.MINI_METER_RATINGS`); the record's CT ratio
    still counts.

    A meter of another make (issue 14) whose record gives its own ratings is bounded by them, the same
    way:

    .. math::

        E_{max} = \\left\\lfloor n \\; V_{max} \\; I_{max} \\; \\frac{t}{3600} \\right\\rfloor

    with :math:`n` = ``elements`` (1 to 3), :math:`V_{max}` = ``voltage_max_v``, the highest voltage an
    element measures, line to neutral (for a three-phase four-wire meter each element sees a phase to
    neutral), and :math:`I_{max}` = ``current_max_a``, the highest *primary* current an element
    measures, at unity power factor; the CT ratio does not enter (a CT-operated meter's highest primary
    current is its CTs' primary at the meter's highest secondary current, which the record states).
    For example an Eastron SDM630MCT, three elements, 289 V the highest phase to neutral voltage, on
    400:5 A CTs (400 A primary): 3 × 289 V × 400 A × 0.25 h = 86,700 Wh in 15 minutes. The three go
    together: a record with some but not all of them is refused, and the limit never mixes a record's
    ratings with a designation's.

    The record's ``multiplier`` does not count: the doors take energies [Wh], not register readings,
    and the CT ratio already bounds the energy the CTs let through.

    References
    ----------
    certificate p.1 (Model Designation: elements, CT ratio "2001" = 200:0.1 A); manual §3.1, Table 2
    (supply voltage range, maximum rated current and its note 1, power factor range); for other makes,
    the manufacturer's data sheet (its voltage range and, for CT-operated meters, the CTs fitted).
    """
    length: object = meter.interval_s if interval_s is None else interval_s
    if isinstance(length, bool) or not isinstance(length, numbers.Integral) or int(length) <= 0:
        name = "meter.interval_s" if interval_s is None else "interval_s"
        raise ValueError(f"{name} must be a positive whole number of seconds, got {length!r}")
    own = _own_ratings(meter)
    if own is not None:
        n, voltage_max_v, current_max_a = own
        return math.floor(n * voltage_max_v * current_max_a * int(length) / _SECONDS_PER_HOUR)
    try:
        spec = decode_meter(meter.designation)
    except DesignationError:
        elements, ratings = _DEFAULT_ELEMENTS, MINI_METER_RATINGS
    else:
        elements, ratings = spec.elements, spec.ratings
    given: object = meter.ct_ratio  # a record read from outside: checked, not trusted
    ratio = math.nan
    if isinstance(given, bool):
        pass  # a bool is not a ratio
    elif isinstance(given, numbers.Real):
        ratio = float(given)
    if not (math.isfinite(ratio) and ratio > 0):
        raise ValueError(f"meter.ct_ratio must be a positive finite number, got {given!r}")
    current_primary_max_a = _exact(ratio) * _exact(ratings.max_current_secondary_a)
    energy_wh = (
        elements * _exact(ratings.supply_max_v) * current_primary_max_a * int(length) / _SECONDS_PER_HOUR
    )
    return math.floor(energy_wh)
