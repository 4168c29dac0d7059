"""Findings of VEE in words (``str(Finding)``), as ``meshmeter vee`` prints them (issue 11)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from meshmeter.cli import app
from meshmeter.headend.vee import (
    Finding,
    IntervalSeries,
    VeeConfig,
    check_spike,
    check_sum,
    like_day_class,
    outage_mask,
    run_vee,
    validate,
)
from meshmeter.store import Store
from tests.headend.conftest import add_meter

Q = 900
MON = int(datetime(2024, 4, 29, tzinfo=UTC).timestamp())  # Monday 29 April 2024, 00:00 UTC


def _words(values: list[float], config: VeeConfig | None = None, check: str = "spike") -> list[str]:
    ends = MON + Q * np.arange(1, len(values) + 1)
    v = validate(IntervalSeries.from_arrays(ends, values), config=config)
    return [str(f) for f in v.findings if f.check == check]


def test_finding_str_is_the_time_the_check_and_the_reason() -> None:
    f = Finding(5472, int(datetime(2026, 11, 3, 14, 15, tzinfo=UTC).timestamp()), "zero_run", "why", True)
    assert str(f) == "2026-11-03 14:15 UTC: zero run — why"
    assert repr(f).startswith("Finding(index=5472")  # the repr stays the dataclass's


def test_spike_by_ratio_names_the_third_highest() -> None:
    # 3000 Wh among 500 Wh intervals: 3000 > 5 x 500 and >= 100 Wh; below the rated 15,180 Wh
    assert _words([500.0] * 8 + [3000.0] + [500.0] * 3) == [
        "2024-04-29 02:15 UTC: spike — 3000 Wh is more than 5× the day's third highest interval (500 Wh)"
    ]


def test_spike_by_rating_names_the_rated_maximum() -> None:
    # rule "rating": only the rated maximum, 2 x 138 V x 220 A x 0.25 h = 15,180 Wh, is tested
    assert _words([500.0] * 8 + [20_000.0], VeeConfig(spike_rule="rating")) == [
        "2024-04-29 02:15 UTC: spike — 20000 Wh is above the rated maximum of 15180 Wh"
    ]


def test_spike_by_both_tests_names_both() -> None:
    assert _words([500.0] * 8 + [20_000.0] + [500.0]) == [
        "2024-04-29 02:15 UTC: spike — 20000 Wh is more than 5× the day's third highest interval (500 Wh) "
        "and above the rated maximum of 15180 Wh"
    ]


def test_other_findings_in_words() -> None:
    assert _words([10.0, np.nan, 10.0], check="missing") == ["2024-04-29 00:30 UTC: missing — no value"]
    assert _words([10.0, -5.0, 10.0], check="negative") == [
        "2024-04-29 00:30 UTC: negative — -5 Wh is negative"
    ]
    ends = [MON + Q, MON + 2 * Q + 120]
    v = validate(IntervalSeries.from_arrays(ends, [10.0, 20.0]), start=MON, end=MON + 2 * Q)
    assert [str(f) for f in v.findings] == [
        "2024-04-29 00:30 UTC: interval size — interval of 1020 s, expected 900 s",
        "2024-04-29 00:30 UTC: time tolerance — the record ends at 00:32:00 UTC, 120 s off its boundary",
    ]


def test_cli_vee_prints_findings_in_words(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meshmeter.db'}"
    with Store(url) as store:
        meter = add_meter(store, serial="MM00000042", eui64=None)
        values = [500] * 8 + [20_000] + [500] * 3
        rows = [(datetime.fromtimestamp(MON + Q * (k + 1), UTC), wh, None) for k, wh in enumerate(values)]
        store.insert_raw_intervals(meter_id=meter.id, rows=rows, source="test")
        report = run_vee(store, meter_id=meter.id, start=datetime.fromtimestamp(MON, UTC),
                         end=datetime.fromtimestamp(MON + 12 * Q, UTC))  # fmt: skip
        assert [f.check for f in report.findings] == ["spike"]
    result = CliRunner().invoke(
        app,
        ["vee", "--meter", "MM00000042", "--start", "2024-04-29T00:00Z", "--end", "2024-04-29T03:00Z",
         "--database", url, "--json"],
        env={"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["findings"] == [
        "2024-04-29 02:15 UTC: spike — 20000 Wh is more than 5× the day's third highest interval (500 Wh) "
        "and above the rated maximum of 15180 Wh"
    ]


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: VeeConfig(max_interval_wh=-1.0), "max_interval_wh"),
        (lambda: check_spike([1.0], rule="sometimes"), "rule"),
        (lambda: like_day_class(date(2024, 5, 1), holidays=(), by="moon"), "by"),
        (lambda: check_sum([Q], [1.0], [(0, 0), (Q, True)]), r"register_reads\[1\]\.energy_wh"),
        (lambda: outage_mask([Q], [(True, 2 * Q)]), r"outages\[0\]\[0\]"),
    ],
)
def test_arguments_are_checked_by_one_set(call: Callable[[], object], name: str) -> None:
    # VeeConfig and the pure functions refuse the same bad values with the same words (vee/_args.py)
    with pytest.raises(ValueError, match=name):
        call()
