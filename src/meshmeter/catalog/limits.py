"""What a meter can register in one interval, read from its own registry record.

The one plausibility limit of an interval's energy: every door of the head-end (JSON and CSV files and
HTTP bodies, MQTT messages, Green Button files, the DCAP's interval records) refuses an energy above
:func:`max_interval_energy_wh` of the meter it names, and VEE's rating check flags one above it
(``docs/ingest.md``, ``docs/vee.md``).

The limit is the meter's highest demand held for a whole interval: every element at the highest supply
voltage and the highest primary current, at unity power factor. It is read from a meter's *record* (any
object with the attributes of :class:`MeterRecord`, such as :class:`meshmeter.store.Meter`), not from a
designation alone, so that what a record says about a meter can grow (issue 14: a manufacturer's own
ratings) without another way of stating the limit.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Protocol

from meshmeter.catalog.designations import decode_meter
from meshmeter.catalog.ratings import MINI_METER_RATINGS
from meshmeter.errors import DesignationError

__all__ = [
    "DEFAULT_DESIGNATION",
    "MeterRecord",
    "RatedMeter",
    "max_interval_energy_wh",
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
    """

    @property
    def designation(self) -> str: ...

    @property
    def ct_ratio(self) -> float: ...

    @property
    def interval_s(self) -> int: ...


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
    """

    designation: str = DEFAULT_DESIGNATION
    ct_ratio: float = _DEFAULT_CT_RATIO
    interval_s: int = _DEFAULT_INTERVAL_S


def _exact(value: float | int) -> Decimal:
    """A number as the decimal it is written as (0.11, not its binary neighbour)."""
    return Decimal(value) if isinstance(value, int) else Decimal(repr(float(value)))


def max_interval_energy_wh(meter: MeterRecord, *, interval_s: int | None = None) -> int:
    """
    The most energy a meter can register in one of its intervals: above it, a value is impossible.

    Parameters
    ----------
    meter : MeterRecord
        The meter's registry record (:class:`meshmeter.store.Meter`, :class:`RatedMeter`): its
        ``designation`` gives the number of elements and the ratings, its ``ct_ratio`` the highest
        primary current, its ``interval_s`` the interval.
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
        not a number).

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

    The record's ``multiplier`` does not count: the doors take energies [Wh], not register readings,
    and the CT ratio already bounds the energy the CTs let through.

    References
    ----------
    certificate p.1 (Model Designation: elements, CT ratio "2001" = 200:0.1 A); manual §3.1, Table 2
    (supply voltage range, maximum rated current and its note 1, power factor range).
    """
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
    length: object = meter.interval_s if interval_s is None else interval_s
    if isinstance(length, bool) or not isinstance(length, numbers.Integral) or int(length) <= 0:
        name = "meter.interval_s" if interval_s is None else "interval_s"
        raise ValueError(f"{name} must be a positive whole number of seconds, got {length!r}")
    current_primary_max_a = _exact(ratio) * _exact(ratings.max_current_secondary_a)
    energy_wh = (
        elements * _exact(ratings.supply_max_v) * current_primary_max_a * int(length) / _SECONDS_PER_HOUR
    )
    return math.floor(energy_wh)
