"""Tests of meshmeter.amr.records: the fast constructor of interval records equals the class."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshmeter.amr.records import INTERVAL_S, IntervalRecord, interval_record

u32 = st.integers(0, 2**32 - 1)


@given(sequence=u32, k=st.integers(0, (2**32 - 1) // INTERVAL_S), pulses=u32)
def test_interval_record_equals_the_class(sequence: int, k: int, pulses: int) -> None:
    record = interval_record(sequence, INTERVAL_S * k, pulses)
    assert type(record) is IntervalRecord
    assert record == IntervalRecord(sequence, INTERVAL_S * k, pulses)
    assert hash(record) == hash(IntervalRecord(sequence, INTERVAL_S * k, pulses))
    assert record.cumulative_energy_wh == 10 * pulses


def test_interval_record_is_frozen() -> None:
    record = interval_record(1, 900, 2)
    with pytest.raises(AttributeError):
        record.sequence = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((-1, 900, 0), "sequence"),
        ((2**32, 900, 0), "sequence"),
        ((True, 900, 0), "sequence"),
        ((1.0, 900, 0), "sequence"),
        ((0, 901, 0), "interval_end_s must be a multiple of 900"),
        ((0, 2**32 + 900 * 7, 0), "interval_end_s"),
        ((0, 900, -5), "cumulative_pulses"),
        ((0, 900, 2**32), "cumulative_pulses"),
    ],
)
def test_interval_record_refuses_what_the_class_refuses(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        IntervalRecord(*args)
    with pytest.raises(ValueError, match=match):
        interval_record(*args)
