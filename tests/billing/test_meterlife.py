"""A meter's life on the bill, the pure part (``meshmeter.billing.meterlife``): register rollover, reads to
energy, the multiplier over intervals.

Numbers from the spec: the Mini Meter's pulse output "10" is 10 Wh a pulse (manual §5.1), so an interval's
energy is a multiple of 10 Wh; its LCD shows a 6-digit register that rolls over at 1,000,000 kWh
(``meter/display.py``); 200:0.1 A CTs are a ratio of 2000 (certificate p.1), and the same meter on
400:0.1 A CTs registers half the energy, a multiplier of 2.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from meshmeter.billing.bill import MeterEvent, MeterRead
from meshmeter.billing.meterlife import (
    apply_multipliers,
    energy_from_reads,
    meter_life_from_inputs,
    meter_life_inputs,
    register_modulus_wh,
    rollover_ends,
    scale_energy,
    shown_factor,
    shown_kwh,
    unwrap_reads,
)

SIX_DIGITS_WH = 10**9
"""A 6-digit register rolls over at 1,000,000 kWh = 10⁹ Wh."""


@pytest.mark.parametrize(("digits", "modulus"), [(None, None), (3, 10**6), (6, SIX_DIGITS_WH), (8, 10**11)])
def test_the_register_rolls_over_at_ten_to_the_digits_kwh(digits: int | None, modulus: int | None) -> None:
    assert register_modulus_wh(digits) == modulus


@pytest.mark.parametrize("digits", [0, -1, True, 6.0])
def test_register_digits_must_be_a_positive_int(digits: object) -> None:
    with pytest.raises(ValueError, match="register_digits"):
        register_modulus_wh(digits)  # type: ignore[arg-type]


def test_reads_through_a_rollover_unwrap_by_one_turn() -> None:
    # 999,950 kWh, 999,990 kWh, then the register passes 999,999.999 and shows 20 kWh, 30 kWh.
    reads = [999_950_000, 999_990_000, 20_000, 30_000]
    unwrapped, rolled = unwrap_reads(reads, modulus_wh=SIX_DIGITS_WH)
    assert unwrapped.tolist() == [999_950_000, 999_990_000, 1_000_020_000, 1_000_030_000]
    assert rolled.tolist() == [False, False, True, False]


def test_two_rollovers_are_two_turns() -> None:
    unwrapped, rolled = unwrap_reads([900, 100, 950, 50], modulus_wh=1000)
    assert unwrapped.tolist() == [900, 1100, 1950, 2050]
    assert rolled.sum() == 2


def test_a_register_that_never_rolls_over_never_runs_backwards() -> None:
    with pytest.raises(ValueError, match=r"reads_wh\[1\] 5 Wh is below reads_wh\[0\] 7 Wh"):
        unwrap_reads([7, 5], modulus_wh=None)


def test_a_read_the_register_cannot_show_is_refused() -> None:
    with pytest.raises(ValueError, match="below the register's rollover"):
        unwrap_reads([SIX_DIGITS_WH], modulus_wh=SIX_DIGITS_WH)
    with pytest.raises(ValueError, match="must not be negative"):
        unwrap_reads([-1], modulus_wh=None)


def test_empty_reads_unwrap_to_nothing() -> None:
    unwrapped, rolled = unwrap_reads([], modulus_wh=SIX_DIGITS_WH)
    assert unwrapped.size == 0
    assert rolled.size == 0


@pytest.mark.parametrize(
    ("opening", "closing", "multiplier", "modulus", "energy"),
    [
        (999_950_000, 30_000, 1.0, SIX_DIGITS_WH, 80_000),  # 999,950 kWh -> 30 kWh: 80 kWh
        (999_950_000, 30_000, 2.0, SIX_DIGITS_WH, 160_000),  # the same on a multiplier of 2
        (1_000, 1_000, 2.0, SIX_DIGITS_WH, 0),  # no energy
        (12_345_670, 12_845_670, 1.0, None, 500_000),  # no rollover: the difference
        (10, 15, 0.5, None, 2),  # 2.5 Wh, half to even: 2
    ],
)
def test_energy_from_two_reads(
    opening: int, closing: int, multiplier: float, modulus: int | None, energy: int
) -> None:
    assert energy_from_reads(opening, closing, multiplier=multiplier, modulus_wh=modulus) == energy


def test_scale_energy_keeps_the_total_and_loses_nothing() -> None:
    # 10 Wh pulses on a multiplier of 1.5: 15 Wh each.
    assert scale_energy([10, 10, 10], 1.5).tolist() == [15, 15, 15]
    # A quarter of 10 Wh each: the running totals 2.5, 5, 7.5, 10 round (half to even) to 2, 5, 8, 10.
    assert scale_energy([10, 10, 10, 10], 0.25).tolist() == [2, 3, 3, 2]
    assert scale_energy(np.full(2976, 10), 1 / 3).sum() == round(29_760 / 3)


def test_scale_energy_by_one_is_the_energy_itself() -> None:
    energy = np.array([0, 10, 120, 15_180], dtype=np.int64)
    assert scale_energy(energy, 1.0).tolist() == energy.tolist()
    assert scale_energy([], 2.0).size == 0


@pytest.mark.parametrize("bad", [0.0, -2.0, float("nan"), float("inf")])
def test_scale_energy_refuses_a_multiplier_that_is_not_one(bad: float) -> None:
    with pytest.raises(ValueError, match="multiplier"):
        scale_energy([10], bad)


def test_a_multiplier_change_applies_to_the_intervals_that_end_after_it() -> None:
    ends = np.array([900, 1800, 2700, 3600], dtype=np.int64)
    energy = np.full(4, 100, dtype=np.int64)
    # From 1800 s on (the interval ending at 1800 is still at 1): the last two at 2.
    assert apply_multipliers(ends, energy, multipliers=[(None, 1.0), (1800, 2.0)]).tolist() == [
        100,
        100,
        200,
        200,
    ]
    assert apply_multipliers(ends, energy, multipliers=[(None, 2.0)]).tolist() == [200] * 4
    assert apply_multipliers(ends, energy, multipliers=[(None, 1.0), (0, 3.0), (2700, 0.5)]).tolist() == [
        300,
        300,
        300,
        50,
    ]


def test_apply_multipliers_refuses_columns_of_two_lengths() -> None:
    with pytest.raises(ValueError, match="shape"):
        apply_multipliers([900, 1800], [10], multipliers=[(None, 1.0)])


def test_rollover_ends_from_a_counter_that_never_wraps() -> None:
    # The MDT's counter (pulses x 10 Wh) goes on past the register's 1000 Wh: the register passed 0
    # between the ends at 1800 and 2700.
    ends = [900, 1800, 2700, 3600]
    assert rollover_ends(ends, [900, 990, 1010, 1050], modulus_wh=1000).tolist() == [2700]


def test_rollover_ends_from_the_register_itself() -> None:
    ends = [900, 1800, 2700, 3600, 4500]
    # The register shows 900, 990, then (unknown), 10, 50: it rolled over before the end at 3600.
    assert rollover_ends(ends, [900, 990, -1, 10, 50], modulus_wh=1000).tolist() == [3600]
    assert rollover_ends(ends, [900, 990, -1, 10, 50], modulus_wh=None).tolist() == []
    assert rollover_ends([900], [5], modulus_wh=1000).tolist() == []


def test_reads_and_events_are_recorded_and_made_again() -> None:
    at = datetime(2026, 7, 16, 7, tzinfo=UTC)
    reads = (
        MeterRead(
            "A1", datetime(2026, 7, 1, 7, tzinfo=UTC), at, 0, 217_600, "intervals", "removal", 1.0, 217_600
        ),
        MeterRead("B1", at, datetime(2026, 8, 1, 7, tzinfo=UTC), 0, None, "install", "none", 2.0, None),
    )
    events = (MeterEvent(at, "B1", "exchange", "Meter A1 exchanged for meter B1"),)
    assert meter_life_from_inputs(meter_life_inputs(reads, events)) == (reads, events)


@pytest.mark.parametrize(
    ("wh", "text"), [(0, "0.000 kWh"), (999_950_000, "999,950.000 kWh"), (30_001, "30.001 kWh")]
)
def test_reads_in_words(wh: int, text: str) -> None:
    assert shown_kwh(wh) == text


@pytest.mark.parametrize(
    ("value", "text"), [(2.0, "2"), (0.5, "0.5"), (2000.0, "2000"), (1 / 3, "0.3333333333333333")]
)
def test_factors_in_words(value: float, text: str) -> None:
    assert shown_factor(value) == text
