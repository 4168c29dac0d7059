"""Real devices' intervals through VEE to the bill (issue 14, "Real meters in"), and production meters'
nights from every door.

A pulse counter's channel stores what its readings close (``Store.record_collected``): intervals read at
both ends, and intervals apportioned along the straight line between two readings that straddle them
(``docs/collect.md``). VEE checks those rows like any other raw row; where they pass, the validated view
gives them ESPI quality 11 (derived), and the bill counts their kWh and share. VEE's own outcome (a
questionable flag, an estimate) and a person's edit override it; an exact revision of the interval read
later is valid (0), not derived.

A production (solar) meter reads zero every night: ``meshmeter vee`` accepts runs of zeros up to
``SOLAR_ZERO_RUN_MAX_H`` (18 h) on a meter of role ``production``, as the demo always did, and still flags
a dead inverter's day; a unit meter with the same zeros is flagged after 4 h.

The figures are worked by hand in the comments.
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from meshmeter.billing import example_tariff
from meshmeter.cli import app
from meshmeter.headend.vee import VeeConfig, edit_intervals, run_vee
from meshmeter.headend.vee.config import SOLAR_ZERO_RUN_MAX_H
from meshmeter.intervals import Quality
from meshmeter.services.billing import bill_meter_from_store
from meshmeter.store import Meter, Store
from meshmeter.store.sources import CollectedRows

runner = CliRunner()
ENV = {"COLUMNS": "160", "NO_COLOR": "1", "TERM": "dumb"}
LA = "America/Los_Angeles"
DAY = datetime(2026, 7, 1, 7, tzinfo=UTC)
"""Local midnight of Wednesday 1 July 2026 in Los Angeles (PDT, UTC-7)."""
SOURCE = "collect:Elm Yard/garage"
VALID, DERIVED, RAW = int(Quality.VALID), int(Quality.DERIVED), int(Quality.RAW)

# The day's 96 intervals, read every 15 minutes (exactly, on the boundaries) at 120 Wh each, but twice an
# hour apart: the counter's Wi-Fi dropped 02:00-03:00 and 14:00-15:00 local. The register at a boundary
# between two readings c0, c1 an hour apart is c0 + floor((c1 - c0) k / 4), k = 1, 2, 3:
# - 02:00-03:00, 401 Wh: 100, 200, 300 -> intervals ending 02:15, 02:30, 02:45, 03:00 of 100, 100, 100, 101;
# - 14:00-15:00, 1,203 Wh: 300, 601, 902 -> 300, 301, 301, 301.
# Every interval with an end on the line is apportioned: those 8. The day: 88 × 120 + 401 + 1,203
# = 10,560 + 1,604 = 12,164 Wh, of which 1,604 apportioned.
APPORTIONED = {2 * 4 + 1: 100, 2 * 4 + 2: 100, 2 * 4 + 3: 100, 3 * 4: 101, 14 * 4 + 1: 300, 14 * 4 + 2: 301}
APPORTIONED |= {14 * 4 + 3: 301, 15 * 4: 301}
"""Interval number k (ending k × 15 min after local midnight) to its apportioned energy. [Wh]"""
DAY_WH, APPORTIONED_WH = 12_164, 1_604
REGISTER0 = 5_000_000
"""The counter's total before the day. [Wh]"""


def day_rows(
    first: datetime = DAY, days: int = 1, special: dict[int, int] | None = None, flat_wh: int = 120
) -> CollectedRows:
    """``days`` days from ``first`` of exact ``flat_wh`` intervals, with the apportioned ones of
    ``special`` (interval number of the first day to energy), cumulative from :data:`REGISTER0`."""
    special = APPORTIONED if special is None else special
    ends, energy, apportioned = [], [], []
    for k in range(1, 96 * days + 1):
        ends.append(int((first + timedelta(minutes=15 * k)).timestamp()))
        energy.append(special.get(k, flat_wh))
        apportioned.append(k in special)
    cumulative = (REGISTER0 + np.cumsum(energy)).tolist()
    return CollectedRows(ends, energy, cumulative, apportioned, readings=len(ends) - len(special) // 2)


def pulse_meter(store: Store, serial: str = "PC0001") -> tuple[Meter, int]:
    """An ESPHome pulse counter on the Mini Meter's output "10", over the site's MQTT broker."""
    site = store.create_site(name="Elm Yard", timezone=LA)
    meter = store.create_meter(serial=serial, designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id)
    source = store.create_source(
        site_id=site.id, name="garage", kind="mqtt", format="esphome_pulse_meter",
        address="mqtt://127.0.0.1:1883", settings={"topic": "garage/sensor/+/state"},
    )  # fmt: skip
    channel = store.add_source_channel(
        source_id=source.id, device="garage-pulse", channel="total", meter_id=meter.id, unit="pulse",
        wh_per_unit=10, resets=True,
    )  # fmt: skip
    return meter, channel.id


def qualities(store: Store, meter: Meter, start: datetime = DAY, days: int = 1) -> dict[int, int]:
    """The view's quality of each interval number k of the day: how many of each."""
    view = store.interval_view(meter_id=meter.id, start=start, end=start + timedelta(days=days))
    codes, counts = np.unique(view.quality, return_counts=True)
    return dict(zip(codes.tolist(), counts.tolist(), strict=True))


def quality_at(store: Store, meter: Meter, k: int) -> tuple[int, int]:
    """Energy and quality of interval number k of the day in the validated view."""
    end = DAY + timedelta(minutes=15 * k)
    view = store.interval_view(meter_id=meter.id, start=end - timedelta(minutes=15), end=end)
    assert view.interval_end_s.tolist() == [int(end.timestamp())]
    return int(view.energy_wh[0]), int(view.quality[0])


def next_second() -> None:
    """Wait for the clock's next whole second: the store names a delivery by its source and the second it
    arrived (``ingest_batches``), so a delivery in the same second as the one VEE last saw counts as seen."""
    now = time.time()
    time.sleep(math.ceil(now) - now + 0.01)


def bill_day(store: Store, meter: Meter):  # type: ignore[no-untyped-def]
    """The day billed as ``meshmeter bill --meter`` bills it."""
    return bill_meter_from_store(
        store, meter=meter, tariff=example_tariff("tiered-flat-example"), start=DAY,
        end=DAY + timedelta(days=1), timezone=LA,
    )  # fmt: skip


def test_collected_apportioned_intervals_pass_vee_as_derived_and_the_bill_counts_them(store: Store) -> None:
    meter, channel = pulse_meter(store)
    stored = store.record_collected(channel_id=channel, state=None, rows=day_rows(), source=SOURCE)
    assert (stored.new, stored.duplicates, stored.revised) == (96, 0, 0)
    assert qualities(store, meter) == {RAW: 96}  # before VEE: raw, apportioned or not
    report = run_vee(store, meter_id=meter.id, start=DAY, end=DAY + timedelta(days=1))
    # VEE checks them as any raw row: all 96 pass (no spike: the day's top intervals are 301, 301, 301)
    assert (report.intervals, report.valid, report.questionable, report.missing) == (96, 96, 0, 0)
    assert report.findings == ()
    assert qualities(store, meter) == {VALID: 88, DERIVED: 8}
    assert quality_at(store, meter, 3 * 4) == (101, DERIVED)
    assert quality_at(store, meter, 3 * 4 + 1) == (120, VALID)

    bill = bill_day(store, meter)
    assert bill.energy_wh == DAY_WH == 12_164
    assert (bill.apportioned_wh, bill.apportioned_intervals) == (APPORTIONED_WH, 8)
    assert (bill.estimated_wh, bill.unbilled_intervals) == (0, 0)
    doc = bill.to_dict()
    assert doc["apportioned_wh"] == 1_604
    assert doc["apportioned_intervals"] == 8
    assert doc["apportioned_share"].startswith("0.13186")  # 1,604 / 12,164 = 0.131864...


def test_an_exact_revision_read_later_is_valid_not_derived(store: Store) -> None:
    meter, channel = pulse_meter(store)
    store.record_collected(channel_id=channel, state=None, rows=day_rows(), source=SOURCE)
    run_vee(store, meter_id=meter.id, start=DAY, end=DAY + timedelta(days=1))
    # The counter's own log, fetched after its Wi-Fi came back, gives 02:15 and 02:30 exactly: 104 and
    # 96 Wh (the hour's 401 Wh unchanged: 104 + 96 + 100 + 101). 02:45 and 03:00 stay apportioned.
    revision = CollectedRows(
        [int((DAY + timedelta(minutes=15 * k)).timestamp()) for k in (9, 10)],
        [104, 96],
        [REGISTER0 + 8 * 120 + 104, REGISTER0 + 8 * 120 + 200],
        [False, False],
        readings=2,
    )
    next_second()
    stored = store.record_collected(channel_id=channel, state=None, rows=revision, source=SOURCE)
    assert (stored.new, stored.duplicates, stored.revised) == (0, 0, 2)
    assert quality_at(store, meter, 9) == (104, RAW)  # a revision VEE has not seen yet
    run_vee(store, meter_id=meter.id, start=DAY, end=DAY + timedelta(days=1))
    assert quality_at(store, meter, 9) == (104, VALID)
    assert quality_at(store, meter, 10) == (96, VALID)
    assert quality_at(store, meter, 11) == (100, DERIVED)
    assert qualities(store, meter) == {VALID: 90, DERIVED: 6}
    bill = bill_day(store, meter)
    # The same 12,164 Wh; apportioned 1,604 - 200 = 1,404 Wh in 6 intervals.
    assert bill.energy_wh == 12_164
    assert (bill.apportioned_wh, bill.apportioned_intervals) == (1_404, 6)


def test_the_same_value_sent_again_stays_derived(store: Store) -> None:
    """The collector restarted and sent the day again: nothing new, nothing revised, still derived."""
    meter, channel = pulse_meter(store)
    store.record_collected(channel_id=channel, state=None, rows=day_rows(), source=SOURCE)
    run_vee(store, meter_id=meter.id, start=DAY, end=DAY + timedelta(days=1))
    again = store.record_collected(channel_id=channel, state=None, rows=day_rows(), source=SOURCE)
    assert (again.new, again.duplicates, again.revised) == (0, 96, 0)
    assert qualities(store, meter) == {VALID: 88, DERIVED: 8}


def test_a_persons_edit_overrides_derived(store: Store) -> None:
    meter, channel = pulse_meter(store)
    store.record_collected(channel_id=channel, state=None, rows=day_rows(), source=SOURCE)
    run_vee(store, meter_id=meter.id, start=DAY, end=DAY + timedelta(days=1))
    changed = edit_intervals(
        store, meter_id=meter.id, rows=[(DAY + timedelta(minutes=15 * 12), 110)], edited_by="ops",
        reason="tenant's own reading of 03:00",
    )  # fmt: skip
    assert changed == 1
    assert quality_at(store, meter, 12) == (110, int(Quality.EDITED))
    run_vee(store, meter_id=meter.id, start=DAY, end=DAY + timedelta(days=1))  # VEE leaves the edit alone
    assert quality_at(store, meter, 12) == (110, int(Quality.EDITED))
    bill = bill_day(store, meter)
    # 12,164 - 101 + 110 = 12,173 Wh; apportioned 1,604 - 101 = 1,503 Wh in 7 intervals
    assert bill.energy_wh == 12_173
    assert (bill.apportioned_wh, bill.apportioned_intervals) == (1_503, 7)


def test_vee_flags_and_estimates_apportioned_rows_like_any_other(store: Store) -> None:
    """A vacant unit read hourly overnight: its counter did not move from 00:00 to 06:00, so the 24
    intervals between are apportioned zeros, a 6 h zero run: VEE flags them (10), not derived; told to
    estimate questionable values, it estimates them (8), from the like day a week before scaled to what the
    counter says was used over them: nothing."""
    meter, channel = pulse_meter(store)
    week_before = DAY - timedelta(days=7)  # Wednesday 24 June, exact 120 Wh intervals
    nights = {k: 0 for k in range(7 * 96 + 1, 7 * 96 + 25)}  # 1 July 00:15 .. 06:00
    store.record_collected(
        channel_id=channel, state=None, rows=day_rows(week_before, 8, nights), source=SOURCE
    )
    flagged = run_vee(store, meter_id=meter.id, start=DAY, end=DAY + timedelta(days=1))
    assert flagged.questionable == 24
    assert {f.check for f in flagged.findings} == {"zero_run"}
    assert qualities(store, meter) == {VALID: 72, int(Quality.QUESTIONABLE): 24}
    estimated = run_vee(
        store, meter_id=meter.id, start=DAY, end=DAY + timedelta(days=1),
        config=VeeConfig(estimate_questionable=True),
    )  # fmt: skip
    assert estimated.estimated_reference_day == 24
    assert qualities(store, meter) == {VALID: 72, int(Quality.ESTIMATED_REFERENCE_DAY): 24}
    assert quality_at(store, meter, 1) == (0, int(Quality.ESTIMATED_REFERENCE_DAY))
    assert any("scaled to the counter difference of 0 Wh" in e.reason for e in store.interval_edits(
        meter_id=meter.id, start=DAY, end=DAY + timedelta(hours=6)
    ))  # fmt: skip
    bill = bill_day(store, meter)
    assert bill.apportioned_intervals == 0
    assert bill.estimated_intervals == 24
    assert bill.energy_wh == 72 * 120  # the night's 24 estimates are 0 Wh


# -----------------------------------------------------------------------------------------------------
# Production meters' nights, from `meshmeter vee`
# -----------------------------------------------------------------------------------------------------


def solar_rows(first: datetime, days: int) -> list[tuple[datetime, int, int]]:
    """
    ``days`` days of a solar array's intervals from ``first``: 300 Wh in those ending 06:15 to 20:00
    local, zero from 20:00 to 06:00 (a 10 h night), except on 3 July: all zero (the inverter tripped), a
    34 h run from 20:00 on 2 July to 06:00 on 4 July.
    """
    rows = []
    total = 0
    for k in range(1, 96 * days + 1):
        end = first + timedelta(minutes=15 * k)
        local = end - timedelta(hours=7)  # PDT: the wall clock as a UTC-shifted time
        minutes = local.hour * 60 + local.minute
        day = local.date() if minutes else local.date() - timedelta(days=1)  # ending at 24:00: the day's
        sun = 6 * 60 < (minutes or 24 * 60) <= 20 * 60
        wh = 300 if sun and day != date(2026, 7, 3) else 0
        total += wh
        rows.append((end, wh, REGISTER0 + total))
    return rows


@pytest.fixture
def solar_site(tmp_path: Path) -> str:
    """A production meter (role ``production``) and a unit meter, both with the same solar intervals
    from noon 30 June to noon 4 July local, raw (not yet validated)."""
    url = f"sqlite:///{tmp_path / 'solar.db'}"
    rows = solar_rows(DAY - timedelta(hours=12), 4)
    with Store(url) as store:
        site = store.create_site(name="Elm Yard", timezone=LA)
        for serial, role in (("PV0001", "production"), ("MM0001", "unit")):
            meter = store.create_meter(
                serial=serial, designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id, role=role
            )
            store.insert_raw_intervals(meter_id=meter.id, rows=rows, source="csv")
    return url


def vee_cli(url: str, serial: str) -> dict[str, object]:
    result = runner.invoke(
        app,
        ["vee", "--meter", serial, "--start", "2026-07-01T07:00Z", "--end", "2026-07-04T07:00Z",
         "--database", url, "--json"],
        env=ENV,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out: dict[str, object] = json.loads(result.stdout)
    return out


def test_meshmeter_vee_accepts_a_production_meters_nights(solar_site: str) -> None:
    assert SOLAR_ZERO_RUN_MAX_H == 18.0
    # The window: 1 July 00:00 to 4 July 00:00 local, 288 intervals. Its zeros: 00:00-06:00 of 1 July (24,
    # the end of a 10 h night), 20:00 1 July - 06:00 2 July (40, a 10 h night), and 20:00 2 July to the
    # window's end (4 + 24 h = 112, part of the 34 h run of the tripped inverter, which goes on to 06:00
    # 4 July). The production meter: only the 34 h run is longer than 18 h: 112 flagged.
    production = vee_cli(solar_site, "PV0001")
    assert production["intervals"] == 288
    assert production["questionable"] == 112
    assert production["valid"] == 288 - 112
    # The unit meter, the same zeros: every night is longer than 4 h: 24 + 40 + 112 = 176 flagged.
    unit = vee_cli(solar_site, "MM0001")
    assert unit["questionable"] == 176
    assert unit["valid"] == 288 - 176
    with Store(solar_site) as store:
        for serial, flagged in (("PV0001", 112), ("MM0001", 176)):
            found = store.get_meter(serial=serial)
            assert found is not None
            view = store.interval_view(meter_id=found.id, start=DAY, end=DAY + timedelta(days=3))
            assert int((view.quality == int(Quality.QUESTIONABLE)).sum()) == flagged


def test_an_export_apportioned_between_readings_makes_the_interval_apportioned(store: Store) -> None:
    """A bidirectional Modbus meter: its import register read exactly every 15 minutes, its export
    register (a meter row of its own) read at 10:00 and 11:00 only that day: the export's four intervals
    between are apportioned, and so the bill's intervals there, whose net energy they make."""
    site = store.create_site(name="Elm Yard", timezone=LA)
    meter = store.create_meter(
        serial="SDM0001", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id
    )
    export = store.create_meter(
        serial="SDM0001-X", designation="MM-D1202001-T-SCC", ct_ratio=2000, site_id=site.id,
        export_of_meter_id=meter.id,
    )  # fmt: skip
    source = store.create_source(
        site_id=site.id, name="sdm", kind="modbus_tcp", format="eastron_sdm630mct", address="127.0.0.1:5020"
    )
    channels = [
        store.add_source_channel(
            source_id=source.id, device="1", channel=name, meter_id=row.id, unit="kWh", wh_per_unit=1000
        ).id
        for name, row in (("import", meter), ("export", export))
    ]
    # Import: 120 Wh in each interval, read exactly. Export: none but 10:00-11:00 local, 201 Wh between
    # two readings an hour apart: 201 × 1/4, 2/4, 3/4 rounded down = 50, 100, 150: 50, 50, 50, 51 Wh.
    exported = {40 + 1: 50, 40 + 2: 50, 40 + 3: 50, 40 + 4: 51}
    store.record_collected(channel_id=channels[0], state=None, rows=day_rows(special={}), source=SOURCE)
    rows = day_rows(special=exported, flat_wh=0)
    store.record_collected(channel_id=channels[1], state=None, rows=rows, source=SOURCE)
    for row in (meter, export):
        run_vee(store, meter_id=row.id, start=DAY, end=DAY + timedelta(days=1))
    assert qualities(store, meter) == {VALID: 96}
    assert qualities(store, export) == {VALID: 92, DERIVED: 4}  # an export register's zeros are no fault
    bill = bill_day(store, meter)
    # Net metering: 96 × 120 = 11,520 Wh in, 201 Wh out: 11,319 Wh billed. The four intervals 10:00-11:00
    # are apportioned (by their export): their 4 × 120 = 480 Wh of import, 480 / 11,319 of the bill.
    assert bill.energy_wh == 11_319
    assert (bill.apportioned_wh, bill.apportioned_intervals) == (480, 4)
    ends, _, quality = bill.interval_columns
    start_10 = int((DAY + timedelta(hours=10)).timestamp())
    assert ends[quality == DERIVED].tolist() == [start_10 + 900 * k for k in (1, 2, 3, 4)]
