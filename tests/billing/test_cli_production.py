"""The ``meshmeter production`` command: the CSI PBI monthly report of a solar meter (store or CSV)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshmeter.cli import app
from meshmeter.store import Store

runner = CliRunner()
ENV = {"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"}

JULY_START = datetime(2026, 7, 1, 7, tzinfo=UTC)
"""Local midnight of 1 July 2026 in Los Angeles (PDT, UTC-7); July has 31 x 96 = 2976 intervals."""

# The solar month worked by hand (July 2026, Los Angeles, interval i ends at JULY_START + 15 min x (i + 1)):
#   i = 0..3      estimated (quality 8), 400 Wh each: excluded, counted apart: 4 intervals, 1.600 kWh
#   i = 4, 5      failed VEE (quality 10), 999 Wh: not counted
#   i = 100..105  absent: missing, not counted
#   every other   measured (quality 0), 250 Wh: 2976 - 4 - 2 - 6 = 2964 intervals, 2964 x 250 = 741,000 Wh
# Not counted: 2 failed + 6 missing = 8. Two intervals outside the month are stored and must be ignored:
# the one ending at local midnight of 1 July (it closes June) and the first of August, 5000 Wh each.
COUNTED_KWH = "741.000"
TOTAL_STATUS = "counted=2964;estimated_excluded=4;estimated_kwh=1.600;not_counted=8"


def july_rows() -> list[tuple[datetime, int, int]]:
    """The hand-worked month's validated intervals ``(interval_end, energy_wh, quality)``."""
    rows = [(JULY_START, 5000, 0), (JULY_START + timedelta(minutes=15 * 2977), 5000, 0)]
    for i in range(2976):
        if 100 <= i <= 105:
            continue
        end = JULY_START + timedelta(minutes=15 * (i + 1))
        rows.append((end, 400, 8) if i < 4 else (end, 999, 10) if i < 6 else (end, 250, 0))
    return rows


def solar_store(path: Path) -> str:
    """A SQLite store with site Sunny Flats (Los Angeles), its solar meter PV1 holding the hand-worked
    month, a meter PV2 with no validated intervals, and a meter LONE with no site."""
    url = f"sqlite:///{path / 'production.db'}"
    with Store(url) as store:
        site = store.create_site(name="Sunny Flats", timezone="America/Los_Angeles")
        pv1 = store.create_meter(
            serial="PV1", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id
        )
        store.create_meter(serial="PV2", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id)
        store.create_meter(serial="LONE", designation="MM-D1202001-T-SCC", ct_ratio=2000)
        store.put_validated_intervals(meter_id=pv1.id, rows=july_rows(), edited_by="vee", reason="test")
    return url


def run(*args: str):
    return runner.invoke(app, list(args), env=ENV)


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_production_from_the_store_to_stdout(tmp_path):
    url = solar_store(tmp_path)
    result = run("production", "--meter", "PV1", "--month", "2026-07", "--database", url)
    assert result.exit_code == 0, result.output
    rows = parse(result.stdout)
    assert rows[0] == ["system_id", "interval_end", "interval_end_local", "energy_kwh", "quality", "status"]
    assert len(rows) == 1 + 2976 + 1
    assert rows[1] == [
        "PV1",
        "2026-07-01T07:15:00Z",
        "2026-07-01T00:15:00-07:00",
        "0.400",
        "8",
        "estimated_excluded",
    ]
    assert rows[5][3:] == ["0.999", "10", "not_counted"]
    assert rows[7][3:] == ["0.250", "0", "counted"]
    assert rows[101][3:] == ["0.000", "14", "not_counted"]  # i = 100: missing
    assert rows[-2][1] == "2026-08-01T07:00:00Z"  # the last interval of July; August's is not there
    assert rows[-1] == ["PV1", "TOTAL", "2026-07", COUNTED_KWH, "", TOTAL_STATUS]
    # The summary goes to stderr, so that stdout is the CSV alone.
    assert "PV1 2026-07: 741.000 kWh from 2964 intervals counted" in result.stderr
    assert "estimated 4 (1.600 kWh, excluded)" in result.stderr
    assert "missing 6; failed VEE 2; of 2976" in result.stderr


def test_production_to_a_file(tmp_path):
    url = solar_store(tmp_path)
    out = tmp_path / "pv1-2026-07.csv"
    result = run("production", "--meter", "PV1", "--month", "2026-07", "--database", url, "-o", str(out))
    assert result.exit_code == 0, result.output
    rows = parse(out.read_text(encoding="utf-8"))
    assert rows[-1][3] == COUNTED_KWH
    assert rows[-1][5] == TOTAL_STATUS
    assert "741.000 kWh" in result.stdout
    assert str(out) in result.stdout


def test_production_time_zone_moves_the_month(tmp_path):
    # In UTC, July is 00:00Z 1 July to 00:00Z 1 August: it starts 7 hours (28 intervals) earlier than in
    # Los Angeles, so the June interval ending at 07:00Z on 1 July (5000 Wh, measured) is in it, and the
    # last 28 intervals of Los Angeles' July (i = 2948..2975, 250 Wh) are not:
    # counted 2964 - 28 + 1 = 2937 intervals, 741,000 - 28 x 250 + 5000 = 739,000 Wh; the 27 intervals of
    # UTC's 1 July ending 00:15Z to 06:45Z are missing, so not counted 8 + 27 = 35 (2937 + 4 + 35 = 2976).
    url = solar_store(tmp_path)
    result = run("production", "--meter", "PV1", "--month", "2026-07", "--timezone", "UTC", "--database", url)
    assert result.exit_code == 0, result.output
    total = parse(result.stdout)[-1]
    assert total[3] == "739.000"
    assert total[5] == "counted=2937;estimated_excluded=4;estimated_kwh=1.600;not_counted=35"


def test_production_from_a_csv(tmp_path):
    # The same month as a plain CSV (interval_end in UTC, energy_wh, quality): the same report, named by
    # the file.
    lines = ["interval_end,energy_wh,quality"]
    lines += [f"{t.isoformat().replace('+00:00', 'Z')},{wh},{q}" for t, wh, q in sorted(july_rows())]
    source = tmp_path / "pv-roof.csv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run(
        "production", "--intervals", str(source), "--month", "2026-07", "--timezone", "America/Los_Angeles"
    )
    assert result.exit_code == 0, result.output
    assert parse(result.stdout)[-1] == ["pv-roof", "TOTAL", "2026-07", COUNTED_KWH, "", TOTAL_STATUS]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--meter", "PV1", "--month", "2026-7"], "month must be a month written YYYY-MM"),
        (["--meter", "PV1", "--month", "2026-13"], "'2026-13'"),
        (["--meter", "PV1", "--month", "July"], "YYYY-MM"),
        (["--month", "2026-07"], "exactly one of"),
        (["--meter", "PV1", "--intervals", "x.csv", "--month", "2026-07"], "exactly one of"),
        (["--meter", "NOPE", "--month", "2026-07"], "'NOPE' is not in the store"),
        (["--meter", "PV2", "--month", "2026-07"], "no validated intervals in 2026-07; run meshmeter vee"),
        (["--meter", "PV1", "--month", "2026-09"], "no validated intervals in 2026-09"),
        (["--meter", "LONE", "--month", "2026-07"], "has no site; give its time zone"),
        (["--meter", "PV1", "--month", "2026-07", "--timezone", "Mars/Base"], "Mars/Base"),
    ],
)
def test_production_refuses_bad_input_from_the_store(tmp_path, args, needle):
    url = solar_store(tmp_path)
    result = run("production", *args, "--database", url)
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert result.stdout == ""


def test_production_refuses_bad_csv_input(tmp_path):
    tz = ["--timezone", "America/Los_Angeles"]
    missing = run("production", "--intervals", str(tmp_path / "none.csv"), "--month", "2026-07", *tz)
    assert missing.exit_code == 2
    assert "cannot read" in missing.output
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "interval_end,energy_wh\n2026-07-01T07:15:00Z,10\n2026-07-01T07:20:00Z,10\n", encoding="utf-8"
    )
    result = run("production", "--intervals", str(bad), "--month", "2026-07", *tz)
    assert result.exit_code == 2
    assert "line 3" in result.output
    no_tz = run("production", "--intervals", str(bad), "--month", "2026-07")
    assert no_tz.exit_code == 2
    assert "--timezone is needed" in no_tz.output


def test_production_refuses_an_unwritable_output(tmp_path):
    url = solar_store(tmp_path)
    out = tmp_path / "no-such-dir" / "r.csv"
    result = run("production", "--meter", "PV1", "--month", "2026-07", "--database", url, "-o", str(out))
    assert result.exit_code == 2
    assert "cannot write" in result.output
