"""Reconciliation of a site with its master meter (issue 14): the balance, its rows, its alerts.

Sites are built through the store (meters with their roles, raw intervals as columns) and validated by VEE
(``run_vee``), as the head-end does; every figure below is worked by hand in the comments.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from meshmeter.errors import NotFoundError
from meshmeter.headend.alerts import AlertKind, active_alerts, alerts
from meshmeter.headend.reconcile import (
    BalanceRow,
    excess_tolerance_wh,
    period_bounds,
    remainder_jumps,
    site_meters,
)
from meshmeter.headend.vee import run_vee
from meshmeter.services.reconcile import find_site, reconcile_site, reconciliation_to_dict
from meshmeter.store import Meter, Store

LA = "America/Los_Angeles"
T0 = datetime(2026, 7, 1, 7, tzinfo=UTC)
"""Local midnight of Wednesday 1 July 2026 in Los Angeles (PDT, UTC-7)."""
DAYS = 10
DAY = timedelta(days=1)
Q = 96
"""Quarter-hours in a local day of July."""
DESIGNATION = "MM-D1202001-T-SCC"

# Birch Court, 1 to 11 July 2026 (10 local days), every meter 15-minute, validated by VEE.
#
#   day (July)    M master   U1 unit   U2 unit   H house   remainder per interval
#   ordinary        1000       300       400       200     1000 - 300 - 400 - 200 = 100 -> 9,600 Wh a day
#   2             U2's interval ending 12:00 local is not sent: VEE interpolates it (400, quality 9)
#   3             U1's 12 intervals 10:00-13:00 local are not sent: a 3-hour gap is too long to
#                 interpolate (8 at most) and no like day (an earlier Friday) exists: missing, so 84 of
#                 the 96 intervals reconcile: 84 x 100 = 8,400 Wh
#   5               1000       300       700       200     -200 -> -19,200 Wh: U2's CT on the wrong phase
#   6               1000       410       400       200     -10  -> -960 Wh: within the tolerance
#   9               1250       300       400       200     350  -> 33,600 Wh: an unmetered load
#
# Excess tolerance of 5 July (excess_tolerance_wh): 0.008 x (300 + 700 + 200) x 96 + 0.005 x 96,000
#   = 921.6 + 480 = 1,401.6 -> 1,402, plus one 10 Wh pulse for each of the 4 meters = 1,442 Wh;
#   the excess 19,200 Wh is above it: submeter_excess raised at local midnight of 5 July.
# 6 July: 0.008 x 1,010 x 96 + 480 = 775.68 + 480 = 1,255.68 -> 1,256 + 40 = 1,296 Wh; the excess 960 Wh
#   is not above it: the alert is cleared at local midnight of 6 July.
# Remainder jump of 9 July: the complete days of the 7 before (2 to 8 July, 3 July incomplete) have
#   9,600, 9,600, -19,200, -960, 9,600, 9,600: median 9,600; threshold max(3 x 9,600, 9,600 + max(5,000,
#   tolerance 1,332)) = 28,800; 33,600 > 28,800: remainder_jump raised; 10 July (9,600) clears it.
#   (Days 1 to 5 July are not judged: fewer than 4 complete days before them.)
#
# Totals over the 948 reconciled intervals (960 less the 12 missing on 3 July):
#   master 1000 x 948 + 250 x 96 = 972,000; U1 300 x 948 + 110 x 96 = 294,960;
#   U2 400 x 948 + 300 x 96 = 408,000; units 702,960; house 200 x 948 = 189,600;
#   remainder 972,000 - 702,960 - 189,600 = 79,440 = the days' 6 x 9,600 + 8,400 - 19,200 - 960 + 33,600.
DAY_REMAINDERS = [9600, 9600, 8400, 9600, -19200, -960, 9600, 9600, 33600, 9600]


def local(day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A local time of July 2026 in Los Angeles (PDT), as UTC."""
    return T0 + timedelta(days=day - 1, hours=hour, minutes=minute)


def _ends(start: datetime, count: int, interval_s: int = 900) -> np.ndarray:
    first = int(start.timestamp()) + interval_s
    return np.arange(first, first + count * interval_s, interval_s, dtype=np.int64)


def add_meter(
    store: Store,
    site_id: int,
    serial: str,
    role: str,
    energy_wh: np.ndarray,
    *,
    start: datetime = T0,
    interval_s: int = 900,
    drop: np.ndarray | None = None,
    export_of: int | None = None,
    multiplier: float = 1.0,
) -> Meter:
    """A meter of the site with its intervals from ``start`` stored raw (less ``drop``) and validated."""
    meter = store.create_meter(
        serial=serial,
        designation=DESIGNATION,
        ct_ratio=2000,
        site_id=site_id,
        role=role,
        interval_s=interval_s,
        export_of_meter_id=export_of,
        multiplier=multiplier,
    )
    ends = _ends(start, energy_wh.size, interval_s)
    keep = np.ones(ends.size, dtype=bool)
    if drop is not None:
        keep[drop] = False
    store.insert_raw_interval_columns(
        meter_id=meter.id, interval_end_s=ends[keep], energy_wh=energy_wh[keep], source="test"
    )
    end = start + timedelta(seconds=energy_wh.size * interval_s)
    run_vee(store, meter_id=meter.id, start=start, end=end)
    return meter


def _day_index(day: int, hour: int = 0, minute: int = 0) -> int:
    """Position of the quarter-hour starting at that local time of July."""
    return (day - 1) * Q + hour * 4 + minute // 15


def build_birch(store: Store) -> dict[str, Any]:
    """Birch Court as the comments above give it; the ids."""
    site = store.create_site(name="Birch Court", timezone=LA)
    n = DAYS * Q
    master = np.full(n, 1000, dtype=np.int64)
    master[_day_index(9) : _day_index(10)] = 1250
    u1 = np.full(n, 300, dtype=np.int64)
    u1[_day_index(6) : _day_index(7)] = 410
    u2 = np.full(n, 400, dtype=np.int64)
    u2[_day_index(5) : _day_index(6)] = 700
    house = np.full(n, 200, dtype=np.int64)
    ids = {"site": site.id}
    ids["M"] = add_meter(store, site.id, "M", "master", master).id
    gap = np.arange(_day_index(3, 10), _day_index(3, 13))  # 12 quarter-hours, 10:00 to 13:00
    ids["U1"] = add_meter(store, site.id, "U1", "unit", u1, drop=gap).id
    ids["U2"] = add_meter(store, site.id, "U2", "unit", u2, drop=np.array([_day_index(2, 11, 45)])).id
    ids["H"] = add_meter(store, site.id, "H", "house", house).id
    return ids


@pytest.fixture
def birch(store: Store) -> dict[str, Any]:
    return build_birch(store)


def test_days_balance_as_worked_by_hand(store: Store, birch: dict[str, Any]) -> None:
    site = find_site(store, "Birch Court")
    rec = reconcile_site(store, site=site, start=local(1), end=local(11), by="day")
    assert [r.remainder_wh for r in rec.rows] == DAY_REMAINDERS
    assert all(r.remainder_wh == r.master_wh + r.production_wh - r.units_wh - r.house_wh for r in rec.rows)
    assert [r.intervals for r in rec.rows] == [96] * 10
    day2, day3, day5, day6 = rec.rows[1], rec.rows[2], rec.rows[4], rec.rows[5]
    # 2 July: U2's interval interpolated: reconciled, counted as estimated on the sub-meter side
    assert (day2.reconciled, day2.submeters_estimated, day2.master_estimated) == (96, 1, 0)
    assert day2.units_wh == (300 + 400) * 96
    # 3 July: U1's 12 missing quarter-hours are not reconciled and count as missing, never as zero
    assert (day3.reconciled, day3.submeters_missing, day3.master_missing) == (84, 12, 0)
    assert (day3.master_wh, day3.units_wh, day3.house_wh) == (84_000, 58_800, 16_800)
    assert not day3.complete
    # 5 July: U2 reads 700: the sub-meters exceed the master by 19,200 Wh, tolerance 1,442 Wh
    assert (day5.excess_wh, day5.tolerance_wh, day5.excessive) == (19_200, 1_442, True)
    assert day5.metered_share == pytest.approx(1.2)
    # 6 July: 960 Wh over, within 1,296 Wh
    assert (day6.excess_wh, day6.tolerance_wh, day6.excessive) == (960, 1_296, False)
    assert rec.rows[0].metered_share == pytest.approx(0.9)
    assert [datetime.fromtimestamp(d.start_s, UTC) for d in rec.excess_days] == [local(5)]
    assert [datetime.fromtimestamp(j.day.start_s, UTC) for j in rec.jumps] == [local(9)]
    (jump,) = rec.jumps
    assert (jump.median_wh, jump.days, jump.threshold_wh) == (9600.0, 6, 28_800.0)
    total = rec.total
    assert (total.intervals, total.reconciled, total.submeters_missing) == (960, 948, 12)
    assert (total.master_wh, total.units_wh, total.house_wh) == (972_000, 702_960, 189_600)
    assert total.remainder_wh == 79_440 == sum(DAY_REMAINDERS)
    meters = {m.meter.serial: m for m in rec.meters}
    assert (meters["U1"].missing, meters["U1"].intervals, meters["U2"].estimated) == (12, 960, 1)
    assert meters["U2"].energy_wh == 400 * 960 + 300 * 96
    assert any("U1 (unit): 12 of 960 intervals missing" in w for w in rec.warnings)
    assert rec.alerts == ()  # not asked to raise them


def test_intervals_and_months(store: Store, birch: dict[str, Any]) -> None:
    site = find_site(store, str(birch["site"]))  # by id, as the command line takes it
    rec = reconcile_site(store, site=site, start=local(5), end=local(5, 1), by="interval")
    # 5 July, 00:00-01:00 local: 4 quarter-hours of 1000 - (300 + 700) - 200 = -200 Wh
    assert [r.end_s - r.start_s for r in rec.rows] == [900] * 4
    assert [(r.master_wh, r.units_wh, r.house_wh, r.remainder_wh) for r in rec.rows] == [
        (1000, 1000, 200, -200)
    ] * 4
    # one interval's tolerance: ceil(0.008 x 1,200 + 0.005 x 1,000) = ceil(14.6) = 15, + 40 = 55 Wh
    assert rec.rows[0].tolerance_wh == 55
    assert rec.rows[0].excessive
    # 3 July, 10:00 local: U1 missing: not reconciled, no energy counted
    gap = reconcile_site(store, site=site, start=local(3, 10), end=local(3, 10, 15), by="interval")
    (row,) = gap.rows
    assert (row.reconciled, row.submeters_missing, row.master_wh, row.remainder_wh) == (0, 1, 0, 0)
    assert row.metered_share is None
    months = reconcile_site(store, site=site, start=local(1), end=local(11), by="month")
    (month,) = months.rows  # July, cut to the period
    assert (month.start_s, month.end_s) == (int(local(1).timestamp()), int(local(11).timestamp()))
    assert month.remainder_wh == 79_440
    assert month == months.total


def test_alerts_raised_cleared_and_not_repeated(store: Store, birch: dict[str, Any]) -> None:
    site = find_site(store, "Birch Court")
    rec = reconcile_site(store, site=site, start=local(1), end=local(11), raise_alerts=True)
    m = birch["M"]
    got = [(a.kind, a.active, a.at, a.key) for a in rec.alerts]
    assert got == [
        (AlertKind.SUBMETER_EXCESS, True, local(5), f"submeter_excess:{m}:2026-07-05"),
        (AlertKind.SUBMETER_EXCESS, False, local(6), f"submeter_excess:{m}:2026-07-06:cleared"),
        (AlertKind.REMAINDER_JUMP, True, local(9), f"remainder_jump:{m}:2026-07-09"),
        (AlertKind.REMAINDER_JUMP, False, local(10), f"remainder_jump:{m}:2026-07-10:cleared"),
    ]
    excess = rec.alerts[0]
    assert excess.meter_id == m  # the subject: the master meter
    assert excess.detail["excess_wh"] == 19_200
    assert excess.detail["tolerance_wh"] == 1_442
    assert excess.detail["units_wh"] == 96_000
    assert excess.detail["master"] == "M"
    assert "manual §7" in excess.detail["check"]
    assert rec.alerts[2].detail["median_wh"] == 9600.0
    assert active_alerts(store) == []  # both cleared by a later day
    pending = store.outbox_pending()
    assert pending == 4 * 2  # each alert on mqtt and webhook
    again = reconcile_site(store, site=site, start=local(1), end=local(11), raise_alerts=True)
    assert again.alerts == ()
    assert len(alerts(store)) == 4
    assert store.outbox_pending() == pending
    # a run over 5 July alone finds its alert stored: nothing added
    assert reconcile_site(store, site=site, start=local(5), end=local(6), raise_alerts=True).alerts == ()


def test_production_and_the_masters_export_register(store: Store) -> None:
    # Sunny Court, 1 July: master import 500 Wh, its export register 100 Wh (net import 400), a solar
    # production meter behind the master 300 Wh, a unit 400 Wh and the house 150 Wh each quarter-hour:
    # load 400 + 300 = 700; remainder 700 - 400 - 150 = 150 Wh; a day: master 38,400, production 28,800,
    # units 38,400, house 14,400, remainder 14,400; metered (38,400 + 14,400) / 67,200 = 0.785714.
    site = store.create_site(name="Sunny Court", timezone=LA)
    n = Q

    def flat(wh: int) -> np.ndarray:
        return np.full(n, wh, dtype=np.int64)

    master = add_meter(store, site.id, "SM", "master", flat(500))
    add_meter(store, site.id, "SMX", "production", flat(100), export_of=master.id)
    add_meter(store, site.id, "PV", "production", flat(300))
    add_meter(store, site.id, "SU", "unit", flat(400))
    add_meter(store, site.id, "SH", "house", flat(150))
    rec = reconcile_site(store, site=site, start=local(1), end=local(2))
    row = rec.total
    assert (row.master_wh, row.production_wh, row.units_wh, row.house_wh) == (38_400, 28_800, 38_400, 14_400)
    assert row.remainder_wh == 14_400
    assert row.load_wh == 67_200
    assert reconciliation_to_dict(rec)["total"]["metered_share"] == 0.785714
    assert {m.meter.serial: m.side for m in rec.meters} == {
        "SM": "master",
        "SMX": "master_export",
        "PV": "production",
        "SU": "unit",
        "SH": "house",
    }


def test_a_coarser_submeter_sets_the_grid(store: Store) -> None:
    # Elm Yard: a 15-minute master of 1000 Wh and an hourly unit meter of 3000 Wh: reconciled hourly,
    # master 4 x 1000 = 4000, remainder 1000 Wh an hour; a day 24 rows.
    site = store.create_site(name="Elm Yard", timezone=LA)
    add_meter(store, site.id, "EM", "master", np.full(Q, 1000, dtype=np.int64))
    add_meter(store, site.id, "EU", "unit", np.full(24, 3000, dtype=np.int64), interval_s=3600)
    rec = reconcile_site(store, site=site, start=local(1), end=local(2), by="interval")
    assert rec.interval_s == 3600
    assert len(rec.rows) == 24
    assert {(r.master_wh, r.units_wh, r.remainder_wh) for r in rec.rows} == {(4000, 3000, 1000)}
    assert any("60-minute intervals: meter EU" in w for w in rec.warnings)
    with pytest.raises(
        ValueError, match=r"start must be on the 60-minute grid .* \(meter EU has 60-minute intervals\)"
    ):
        reconcile_site(store, site=site, start=local(1, 0, 15), end=local(2))


def test_an_exchanged_meter_is_expected_only_in_service(store: Store) -> None:
    # Ash Row, 1 and 2 July: master 1000 Wh, house 200 Wh a quarter-hour; unit meter A1 (300 Wh) exchanged
    # at local midnight of 2 July for B1, fitted with 400:0.1 A CTs (multiplier 2: 150 Wh registered is
    # 300 Wh). Every quarter-hour has its unit meter in service: 192 of 192 reconciled, remainder
    # 1000 - 300 - 200 = 500 Wh, 48,000 Wh a day. A1 is not expected after its removal, nor B1 before.
    site = store.create_site(name="Ash Row", timezone=LA)
    add_meter(store, site.id, "AM", "master", np.full(2 * Q, 1000, dtype=np.int64))
    add_meter(store, site.id, "AH", "house", np.full(2 * Q, 200, dtype=np.int64))
    a1 = add_meter(store, site.id, "A1", "unit", np.full(Q, 300, dtype=np.int64))
    b1 = add_meter(
        store, site.id, "B1", "unit", np.full(Q, 150, dtype=np.int64), start=local(2), multiplier=2.0
    )
    store.exchange_meter(
        old_meter_id=a1.id, new_meter_id=b1.id, at=local(2), final_read_wh=28_800, first_read_wh=0
    )
    rec = reconcile_site(store, site=site, start=local(1), end=local(3))
    assert [(d.reconciled, d.units_wh, d.remainder_wh) for d in rec.rows] == [(96, 28_800, 48_000)] * 2
    meters = {m.meter.serial: (m.intervals, m.missing, m.energy_wh) for m in rec.meters}
    assert meters["A1"] == (96, 0, 28_800)
    assert meters["B1"] == (96, 0, 28_800)
    assert rec.warnings == ()


def test_bad_sites_and_periods(store: Store, birch: dict[str, Any]) -> None:
    site = find_site(store, "Birch Court")
    with pytest.raises(NotFoundError, match="Nowhere"):
        find_site(store, "Nowhere")
    with pytest.raises(ValueError, match="end must be after start"):
        reconcile_site(store, site=site, start=local(3), end=local(2))
    with pytest.raises(ValueError, match="by must be one of interval, day, month, got 'week'"):
        reconcile_site(store, site=site, start=local(1), end=local(2), by="week")
    with pytest.raises(ValueError, match="start must be a timezone-aware datetime"):
        reconcile_site(store, site=site, start=datetime(2026, 7, 1), end=local(2))
    bare = store.create_site(name="No Master", timezone=LA)
    add_meter(store, bare.id, "NU", "unit", np.full(Q, 100, dtype=np.int64))
    with pytest.raises(ValueError, match="site 'No Master' has no master meter"):
        reconcile_site(store, site=bare, start=local(1), end=local(2))
    store.create_meter(serial="M-BIS", designation=DESIGNATION, ct_ratio=2000, site_id=site.id, role="master")
    before = len(store.events())
    with pytest.raises(ValueError, match=r"site 'Birch Court' has 2 master meters \(M, M-BIS\)"):
        reconcile_site(store, site=site, start=local(1), end=local(11), raise_alerts=True)
    assert len(store.events()) == before  # nothing raised


# -- the pure functions ------------------------------------------------------------------------------


def _meter(serial: str, role: str, meter_id: int, export_of: int | None = None) -> Meter:
    return Meter(meter_id, serial, DESIGNATION, 2000.0, 1.0, None, 1, 900, role, export_of_meter_id=export_of)


def test_site_meters_sorts_the_roles() -> None:
    master, export = _meter("M", "master", 1), _meter("MX", "production", 2, export_of=1)
    pv, unit_export = _meter("PV", "production", 3), _meter("UX", "production", 5, export_of=4)
    unit, house = _meter("U", "unit", 4), _meter("H", "house", 6)
    found = site_meters([unit, pv, export, master, house, unit_export], site="S")
    assert (found.master, found.master_export) == (master, export)
    assert found.production == (pv, unit_export)  # produced behind the master
    assert (found.units, found.house) == ((unit,), (house,))
    assert [side for side, _ in found.sides()] == ["master", "master_export", "production", "production",
                                                    "unit", "house"]  # fmt: skip


def test_excess_tolerance_by_hand() -> None:
    # 0.008 x 100,000 + 0.005 x 100,000 = 1,300, + 10 x 5 meters = 1,350 Wh
    assert excess_tolerance_wh(master_wh=100_000, submeters_wh=100_000, meters=5) == 1_350
    # the certificate's class 0.2 master and 1 Wh pulses: 800 + 200 + 5 = 1,005 Wh
    assert (
        excess_tolerance_wh(
            master_wh=100_000, submeters_wh=100_000, meters=5, master_accuracy=0.002, pulse_wh=1
        )
        == 1_005
    )
    with pytest.raises(ValueError, match="submeter_accuracy must be a fraction"):
        excess_tolerance_wh(master_wh=1, submeters_wh=1, meters=1, submeter_accuracy=1.5)


def _day(k: int, remainder_wh: int, *, complete: bool = True, tolerance_wh: int = 500) -> BalanceRow:
    return BalanceRow(
        start_s=k * 86400,
        end_s=(k + 1) * 86400,
        intervals=96,
        reconciled=96 if complete else 90,
        master_missing=0,
        submeters_missing=0 if complete else 6,
        master_estimated=0,
        submeters_estimated=0,
        master_wh=100_000,
        production_wh=0,
        units_wh=100_000 - remainder_wh,
        house_wh=0,
        remainder_wh=remainder_wh,
        tolerance_wh=tolerance_wh,
    )


def test_remainder_jumps_by_hand() -> None:
    # seven days of 4,000 Wh: median 4,000; 3 x 4,000 = 12,000 exactly is not a jump, 12,001 is
    base = [_day(k, 4000) for k in range(7)]
    judged = remainder_jumps([*base, _day(7, 12_000)])
    assert [(d.start_s // 86400, j) for d, j in judged] == [(4, None), (5, None), (6, None), (7, None)]
    (_, jump), *_ = reversed(remainder_jumps([*base, _day(7, 12_001)]))
    assert jump is not None
    assert (jump.median_wh, jump.days, jump.threshold_wh) == (4000.0, 7, 12_000.0)
    # a remainder near zero: median 100, 3 x 100 = 300, but a jump needs 100 + 5,000 = 5,100
    small = [_day(k, 100) for k in range(7)]
    assert remainder_jumps([*small, _day(7, 5_000)])[-1][1] is None
    assert remainder_jumps([*small, _day(7, 5_101)])[-1][1] is not None
    # incomplete days are neither judged nor counted in a median: 3 complete days are too few
    few = [_day(k, 4000, complete=k % 2 == 0) for k in range(6)]  # complete: 0, 2, 4
    assert [d.start_s // 86400 for d, _ in remainder_jumps([*few, _day(6, 50_000)])] == []


def test_period_bounds_follow_local_days() -> None:
    # 1 November 2026 in Los Angeles is 25 hours (PDT to PST); the period 31 Oct 12:00 to 2 Nov local
    start = datetime(2026, 10, 31, 19, tzinfo=UTC)  # 12:00 PDT
    end = datetime(2026, 11, 2, 8, tzinfo=UTC)  # midnight PST
    bounds = period_bounds(start, end, "day", LA, interval_s=900)
    assert [datetime.fromtimestamp(b, UTC) for b in bounds] == [
        start,
        datetime(2026, 11, 1, 7, tzinfo=UTC),
        end,
    ]
    assert bounds[2] - bounds[1] == 25 * 3600
    assert period_bounds(start, end, "month", LA, interval_s=900) == [
        int(start.timestamp()),
        int(datetime(2026, 11, 1, 7, tzinfo=UTC).timestamp()),
        int(end.timestamp()),
    ]
    assert len(period_bounds(start, end, "interval", LA, interval_s=3600)) == 1 + 37
