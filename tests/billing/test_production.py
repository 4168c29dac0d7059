"""CSI PBI production reports."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from meshmeter.billing import interval_grid, production_report, production_report_csv
from tests.billing.conftest import LA, local


def test_month_report_by_hand():
    # March 2026 in Los Angeles has 31 x 96 - 4 = 2972 intervals (spring forward on the 8th).
    # 200 Wh each; 10 estimated (8, 9) excluded and counted separately; 3 questionable and 7 absent are
    # not counted. Counted: (2972 - 20) x 200 Wh = 590.4 kWh; estimated 2 kWh.
    grid = interval_grid(local(2026, 3, 1), local(2026, 4, 1))
    assert grid.size == 2972
    energy = np.full(grid.size, 200)
    quality = np.zeros(grid.size, dtype=np.int64)
    quality[:5] = 8
    quality[5:10] = 9
    quality[10:13] = 10
    keep = np.ones(grid.size, dtype=bool)
    keep[100:107] = False
    extra = np.r_[grid[keep], grid[-1] + 900]  # one interval of April: ignored
    report = production_report(
        "PV-1", extra, np.r_[energy[keep], 5000], np.r_[quality[keep], 0], year=2026, month=3, timezone=LA
    )
    assert report.counted_wh == 590_400
    assert report.counted_intervals == 2952
    assert report.estimated_intervals == 10
    assert report.estimated_wh == 2_000
    assert report.not_counted_intervals == 10
    rows = list(csv.DictReader(io.StringIO(production_report_csv(report))))
    assert len(rows) == 2973
    assert rows[0]["interval_end"] == "2026-03-01T08:15:00Z"
    assert rows[0]["status"] == "estimated_excluded"
    assert rows[100]["status"] == "not_counted"
    assert rows[-1]["interval_end"] == "TOTAL"
    assert rows[-1]["energy_kwh"] == "590.400"
    assert "estimated_excluded=10" in rows[-1]["status"]
    assert sum(float(r["energy_kwh"]) for r in rows[:-1] if r["status"] == "counted") == pytest.approx(590.4)


def test_bad_month():
    with pytest.raises(ValueError, match="month"):
        production_report("PV", [], [], [], year=2026, month=13, timezone=LA)
