"""The store's modules: the Store composed of one mixin per resource, the column codecs, one set of checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import meshmeter.store as store_package
from meshmeter.store import _validate as v
from meshmeter.store import repository
from meshmeter.store.base import StoreBase
from meshmeter.store.columns import _pg_binary_columns, _pg_binary_rows


def test_each_method_of_the_store_has_one_home() -> None:
    """No two mixins define the same name: none silently hides another's in the Store's MRO."""
    homes: dict[str, str] = {}
    for mixin in repository.Store.__mro__[1:]:
        if mixin is StoreBase or not issubclass(mixin, StoreBase):
            continue
        for name in vars(mixin):
            if name.startswith("__"):
                continue
            assert name not in homes, f"{name} is defined by {homes[name]} and {mixin.__name__}"
            homes[name] = mixin.__name__
    assert "interval_view" in homes
    assert "insert_raw_interval_batches" in homes


def test_the_names_of_the_repository_module_are_kept() -> None:
    """What ``meshmeter.store.repository`` and ``meshmeter.store`` gave before the split, they still give."""
    for name in (
        *repository.__all__,
        "_PG_CUMULATIVE_AT",
        "_PG_ROW",
        "_pg_binary_rows",
        "_int_columns",
        "_decode_cumulative",
        "_driver",
        "_driver_columns",
        "_pg_copy_columns",
        "_main_columns",
        "_revision_columns",
        "_write_new_rows",
        "_check_columns",
        "_range",
        "_INTERVAL_S",
        "SQLITE_ROWS_PER_INSERT",
        "IntArray",
    ):
        assert hasattr(repository, name), name
    for name in store_package.__all__:
        assert hasattr(store_package, name), name
    assert store_package.Store is repository.Store


@settings(max_examples=50, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 2**40),
            st.integers(0, 2**62),
            st.integers(-1, 2**62),
        ),
        max_size=40,
    ),
    meter_id=st.integers(1, 2**31),
    batch_id=st.integers(1, 2**31),
)
def test_binary_copy_rows_read_back(rows: list[tuple[int, int, int]], meter_id: int, batch_id: int) -> None:
    """The COPY stream written for ``raw_intervals`` (no NULL) reads back as its five columns."""
    ends = np.array([946_684_800 + 900 * r[0] for r in rows], dtype=np.int64)
    energy = np.array([r[1] for r in rows], dtype=np.int64)
    cumulative = np.array([r[2] for r in rows], dtype=np.int64)
    stream = _pg_binary_rows(meter_id, batch_id, ends, energy, cumulative, np.zeros(ends.size, dtype=bool))
    got = _pg_binary_columns(stream, 5)
    assert got[0].tolist() == [meter_id] * len(rows)
    assert got[1].tolist() == ((ends - 946_684_800) * 1_000_000).tolist()
    assert got[2].tolist() == energy.tolist()
    assert got[3].tolist() == cumulative.tolist()
    assert got[4].tolist() == [batch_id] * len(rows)


def test_binary_copy_columns_refuse_a_null() -> None:
    ends = np.array([946_684_800 + 900], dtype=np.int64)
    one = np.array([1], dtype=np.int64)
    stream = _pg_binary_rows(1, 1, ends, one, one, np.array([True]))
    with pytest.raises(RuntimeError, match="non-null BIGINT"):
        _pg_binary_columns(stream, 5)


@pytest.mark.parametrize(
    ("value", "ok"), [(0, True), (2**32 - 1, True), (2**32, False), (-1, False), (True, False), (1.0, False)]
)
def test_check_int(value: object, ok: bool) -> None:
    if ok:
        assert v.check_int("n", value, low=0, high=2**32, expected="an int in [0, 2**32)") == value
    else:
        with pytest.raises(ValueError, match=r"n must be an int in \[0, 2\*\*32\), got"):
            v.check_int("n", value, low=0, high=2**32, expected="an int in [0, 2**32)")


def test_check_choice_and_quality() -> None:
    assert v.check_choice("role", "unit", ("unit", "house")) == "unit"
    with pytest.raises(ValueError, match="role must be one of unit, house, got 'x'"):
        v.check_choice("role", "x", ("unit", "house"))
    assert v.check_quality("q", 9) == 9
    with pytest.raises(ValueError, match="q must be an ESPI code"):
        v.check_quality("q", True)
