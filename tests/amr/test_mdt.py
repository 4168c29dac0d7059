"""Tests of meshmeter.amr.mdt: the Meter Data Transceiver (manual §2.4, §2.5.2, §2.6, §5)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import numpy as np
import pytest

from meshmeter.amr.led import DeviceLed, PowerState
from meshmeter.amr.mdt import (
    DEBOUNCE_S,
    KitCapabilityError,
    Mdt,
    MdtReport,
    parse_eui64,
)
from meshmeter.amr.records import INTERVAL_S, PULSE_WH, IntervalRecord, TamperEvent, TemperatureReading
from meshmeter.errors import DesignationError, MeshmeterError
from meshmeter.meter.pulses import PulseEdges, pulse_edge_times

EUI = "00124B0001020304"
T0 = 1_700_000_100  # a boundary: 2023-11-14 22:15:00 UTC [s]
DAY_S = 86_400


def _mdt(kit: str = "MMSMT-C02", **kwargs) -> Mdt:
    kwargs.setdefault("start_s", T0)
    return Mdt(kit, EUI, **kwargs)


def _closures(starts, duration_s=1.0):
    starts = np.asarray(starts, dtype=np.float64)
    return starts, starts + duration_s


def _edges_at_power(power_w: float, duration_s: float, step_s: float = 900.0) -> PulseEdges:
    """Output "10" edges of a constant load, on the meter's clock from 0."""
    t = np.arange(0.0, duration_s + step_s / 2, step_s)
    return pulse_edge_times(t, power_w * t / 3600.0, float(PULSE_WH))


# --------------------------------------------------------------------------- construction


def test_t0_is_an_interval_end():
    assert T0 % INTERVAL_S == 0


@pytest.mark.parametrize("kit", ["MMSMT-C02", "MMSMT-D02", "MMSMT-E02", " mmsmt-e02 "])
def test_mmsmt_kits_have_a_transceiver(kit):
    mdt = Mdt(kit, EUI)
    assert mdt.kit.has_transceiver
    assert mdt.eui64 == bytes.fromhex(EUI)
    assert mdt.eui64_hex == EUI
    assert mdt.led.state is PowerState.OFF


def test_6psmt_has_no_transceiver():
    with pytest.raises(KitCapabilityError, match=r"'6PSMT-C02' has no Meter Data Transceiver") as info:
        Mdt("6PSMT-C02", EUI)
    assert isinstance(info.value, MeshmeterError)


@pytest.mark.parametrize("kit", ["MMSMT-F02", "MM-D1202001", "XYZ", ""])
def test_unknown_kit_is_a_designation_error(kit):
    with pytest.raises(DesignationError):
        Mdt(kit, EUI)


@pytest.mark.parametrize(
    "eui",
    [
        bytes.fromhex(EUI),
        bytearray.fromhex(EUI),
        EUI.lower(),
        "00:12:4B:00:01:02:03:04",
        "00-12-4b-00-01-02-03-04",
    ],
)
def test_eui64_forms(eui):
    assert parse_eui64(eui) == bytes.fromhex(EUI)


@pytest.mark.parametrize(
    "eui",
    [b"\x01" * 7, b"\x01" * 9, "00124B000102030", "00124B00010203045", "00124B000102030G",
     "00:12:4B:00:01:02-03:04", "0" * 16, "F" * 16, 12345],
)  # fmt: skip
def test_bad_eui64_refused(eui):
    with pytest.raises(ValueError, match="eui64"):
        Mdt("MMSMT-C02", eui)


@pytest.mark.parametrize("period", [0, -900, 600, 1000, 900.0, True])
def test_bad_report_period_refused(period):
    with pytest.raises(ValueError, match="report_period_s"):
        _mdt(report_period_s=period)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"retention_s": 0.0}, "retention_s"),
        ({"retention_s": float("inf")}, "retention_s"),
        ({"debounce_s": -0.001}, "debounce_s"),
        ({"start_s": float("nan")}, "start_s"),
    ],
)
def test_bad_parameters_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _mdt(**kwargs)


def test_retention_default_is_45_days_of_intervals():
    mdt = _mdt()
    assert mdt.retention_s == 45 * DAY_S
    assert mdt.backlog_capacity == 45 * 96 == 4320
    assert _mdt(retention_s=1.0).backlog_capacity == 1


# --------------------------------------------------------------------------- pulse input


def test_debounce_25_ms_rejected_26_ms_counted():
    # a closure must last MORE than 25 ms (issue 3, MDT pulse input)
    mdt = _mdt()
    starts = np.array([T0 + 10.0, T0 + 20.0, T0 + 30.0, T0 + 40.0])
    ends = starts + np.array([0.025, 0.026, 0.010, 0.0251])
    assert mdt.pulse_closures(starts, ends) == 2
    assert mdt.stats.pulses_counted == 2
    assert mdt.stats.bounces_rejected == 2
    assert DEBOUNCE_S == 0.025


def test_debounce_is_configurable():
    mdt = _mdt(debounce_s=0.05)
    assert mdt.pulse_closures(*_closures([T0 + 1.0, T0 + 2.0], 0.04)) == 0
    assert mdt.pulse_closures(*_closures([T0 + 3.0], 0.06)) == 1


def test_one_kwh_is_100_pulses():
    mdt = _mdt()
    mdt.pulse_closures(*_closures(T0 + 1.0 + 5.0 * np.arange(100)))
    mdt.close_intervals(T0 + INTERVAL_S)
    record = mdt.backlog[-1]
    assert record.cumulative_pulses == 100
    assert record.cumulative_energy_wh == 1000


def test_first_pulse_turns_the_mdt_on_and_bounces_do_not():
    # "the first pulse will automatically turn on the MDT" (manual §5.2)
    mdt = _mdt()
    mdt.pulse_closures(*_closures([T0 + 1.0], 0.01))
    assert mdt.led.state is PowerState.OFF
    mdt.pulse_closures(*_closures([T0 + 2.0]))
    assert mdt.led.state is PowerState.SEARCHING
    assert mdt.led.states == [(T0 + 2.0 + DEBOUNCE_S, PowerState.SEARCHING)]


def test_pulses_are_counted_and_logged_while_the_radio_is_off():
    led = DeviceLed(T0)
    mdt = _mdt(led=led)
    mdt.pulse_closures(*_closures([T0 + 1.0]))
    led.hold_button(T0 + 100.0, 4.0)  # turned OFF by hand
    assert led.state is PowerState.OFF
    mdt.pulse_closures(*_closures([T0 + 200.0, T0 + 300.0]))
    assert led.state is PowerState.OFF  # only the first pulse ever turns it on
    mdt.close_intervals(T0 + INTERVAL_S)
    assert mdt.backlog[-1].cumulative_pulses == 3
    assert not mdt.connected


def test_pulse_input_going_back_in_time_is_refused():
    mdt = _mdt()
    mdt.pulse_closures(*_closures([T0 + 100.0]))
    with pytest.raises(ValueError, match="closure_start_s must not go back"):
        mdt.pulse_closures(*_closures([T0 + 50.0]))
    mdt.close_intervals(T0 + 900.0)
    with pytest.raises(ValueError, match="must not go back"):
        mdt.pulse_closures(*_closures([T0 + 800.0]))
    assert mdt.stats.pulses_counted == 1


@pytest.mark.parametrize(
    ("starts", "ends", "match"),
    [
        ([1.0, 2.0], [1.5], "one length"),
        ([1.0, 2.0], [3.0, 4.0], "without overlap"),
        ([2.0, 1.0], [2.5, 1.5], "without overlap"),
        ([1.0], [0.5], ">= closure_start_s"),
        ([float("nan")], [1.0], "finite"),
    ],
)
def test_bad_closures_refused(starts, ends, match):
    mdt = _mdt()
    with pytest.raises(ValueError, match=match):
        mdt.pulse_closures(np.add(starts, T0), np.add(ends, T0))
    assert mdt.stats.pulses_counted == 0


# --------------------------------------------------------------------------- intervals


def test_interval_ends_on_00_15_30_45_utc_with_consecutive_sequences():
    mdt = _mdt(start_s=T0 + 123.4)
    assert mdt.next_interval_end_s == T0 + INTERVAL_S
    assert mdt.close_intervals(T0 + 4 * INTERVAL_S + 899.0) == 4
    records = mdt.backlog
    assert [r.sequence for r in records] == [0, 1, 2, 3]
    assert [datetime.fromtimestamp(r.interval_end_s, UTC).minute for r in records] == [30, 45, 0, 15]
    assert all(r.interval_end_s % INTERVAL_S == 0 for r in records)
    assert mdt.close_intervals(T0 + 4 * INTERVAL_S + 899.5) == 0
    assert mdt.close_intervals(T0 + 5 * INTERVAL_S) == 1
    assert mdt.backlog[-1].sequence == 4


def test_start_on_a_boundary_logs_a_baseline_record():
    mdt = _mdt()
    mdt.close_intervals(T0)
    assert mdt.backlog == (IntervalRecord(0, T0, 0),)


def test_pulse_exactly_at_a_boundary_belongs_to_the_interval_ending_there():
    mdt = _mdt()
    end = T0 + INTERVAL_S
    mdt.pulse_closures([end - 1.0, float(end), end + 1.0], [end - 0.5, end + 0.5, end + 1.5])
    mdt.close_intervals(end + INTERVAL_S)
    assert [r.cumulative_pulses for r in mdt.backlog] == [0, 2, 3]


def test_closure_spanning_two_calls_is_counted_once():
    edges = _edges_at_power(200.0, 3 * 3600.0)
    whole = _mdt()
    whole.pulses_from_edges(edges, T0)
    split = _mdt()
    for lo, hi in [(0, 7), (7, 8), (8, 31), (31, len(edges))]:  # split after closing edges too
        split.pulses_from_edges(edges[lo:hi], T0)
    end = T0 + 3 * 3600
    whole.close_intervals(end)
    split.close_intervals(end)
    assert whole.backlog == split.backlog
    assert whole.stats == split.stats
    assert whole.cumulative_pulses == 60  # 200 W x 3 h = 600 Wh


def test_open_closure_is_counted_at_close_intervals_once_longer_than_the_debounce():
    mdt = _mdt()
    close_t = 100.0
    mdt.pulses_from_edges(PulseEdges(np.array([close_t]), np.array([1]), 5.0), T0)  # closure open
    mdt.close_intervals(T0 + INTERVAL_S)
    assert mdt.backlog[-1].cumulative_pulses == 1
    mdt.pulses_from_edges(PulseEdges(np.array([1000.0]), np.array([2]), 5.0), T0)  # its opening
    mdt.close_intervals(T0 + 2 * INTERVAL_S)
    assert mdt.backlog[-1].cumulative_pulses == 1
    assert mdt.stats.pulses_counted == 1


def test_closure_undecided_at_a_boundary_goes_to_the_next_interval():
    mdt = _mdt()
    end = T0 + INTERVAL_S
    closing = end - T0 - 0.010  # 10 ms before the interval end, meter clock
    mdt.pulses_from_edges(PulseEdges(np.array([closing]), np.array([1]), 5.0), T0)
    mdt.close_intervals(end)  # only 10 ms closed: not yet a pulse
    assert mdt.backlog[-1].cumulative_pulses == 0
    mdt.pulses_from_edges(PulseEdges(np.array([closing + 5.0]), np.array([2]), 5.0), T0)
    mdt.close_intervals(end + INTERVAL_S)
    assert mdt.backlog[-1].cumulative_pulses == 1


def test_short_edge_closure_is_a_bounce():
    mdt = _mdt()
    edges = PulseEdges(np.array([10.0, 10.02, 20.0, 30.0]), np.array([1, 2, 3, 4]), 5.0)
    assert mdt.pulses_from_edges(edges, T0) == 1
    assert mdt.stats.bounces_rejected == 1


def test_leading_opening_edge_ends_an_unseen_closure():
    mdt = _mdt()
    edges = PulseEdges(np.array([10.0, 20.0, 30.0]), np.array([2, 3, 4]), 5.0)
    assert mdt.pulses_from_edges(edges, T0) == 1


@pytest.mark.parametrize(
    ("edges", "match"),
    [
        (PulseEdges(np.array([1.0, 2.0]), np.array([1, 2]), 50.0), "output '10'"),
        (PulseEdges(np.array([1.0, 2.0, 3.0]), np.array([1, 2, 4]), 5.0), "consecutive"),
        (PulseEdges(np.array([2.0, 1.0]), np.array([1, 2]), 5.0), "non-decreasing"),
        (PulseEdges(np.array([-5.0, 1.0]), np.array([1, 2]), 5.0), "must not go back"),
    ],
)
def test_bad_edges_refused(edges, match):
    mdt = _mdt()
    with pytest.raises(ValueError, match=match):
        mdt.pulses_from_edges(edges, T0)
    assert mdt.stats.pulses_counted == 0


def test_edges_must_continue_the_previous_call():
    mdt = _mdt()
    mdt.pulses_from_edges(PulseEdges(np.array([1.0, 2.0]), np.array([1, 2]), 5.0), T0)
    with pytest.raises(ValueError, match="continue from k=2"):
        mdt.pulses_from_edges(PulseEdges(np.array([3.0, 4.0]), np.array([5, 6]), 5.0), T0)


def test_a_month_of_200_w_edges():
    # 200 W x 720 h = 144 kWh = 14400 pulses of 10 Wh; 50 Wh = 5 pulses per interval. Edge k falls at
    # k x 5 Wh / 200 W = 90 k s, so closure m at 180 m - 90 s: 5 j closures by the j-th interval end.
    days = 30
    edges = _edges_at_power(200.0, days * DAY_S)
    assert len(edges) == 28_800
    mdt = _mdt()
    # about 6 ms here, vectorised; a test asserts no time (STYLE.md)
    counted = mdt.pulses_from_edges(edges, T0)
    logged = mdt.close_intervals(T0 + days * DAY_S)
    assert counted == 14_400
    assert logged == days * 96 + 1
    cumulative = np.array([r.cumulative_pulses for r in mdt.backlog])
    np.testing.assert_array_equal(cumulative, 5 * np.arange(days * 96 + 1))
    assert mdt.backlog[-1].cumulative_energy_wh == 144_000


def _scalar_mdt(edges: PulseEdges, epoch_s: float, start_s: int, end_s: int) -> list[tuple[int, int]]:
    """Reference: one closure at a time, then one interval end at a time."""
    times = []
    open_at = None
    for t, k in zip(edges.time_s.tolist(), edges.k.tolist(), strict=True):
        if k % 2:
            open_at = t + epoch_s
        elif open_at is not None:
            if (t + epoch_s) - open_at - DEBOUNCE_S > 1e-6:
                times.append(open_at)
            open_at = None
    out = []
    for b in range(start_s, end_s + 1, INTERVAL_S):
        out.append((b, sum(1 for x in times if x <= b)))
    return out


def test_vectorised_counting_equals_a_scalar_loop():
    rng = np.random.default_rng(7)
    t = np.sort(rng.uniform(0.0, DAY_S, 2000))
    t[0] = 0.0
    power_w = rng.choice([0.0, 50.0, 400.0, 3000.0, 1e6], size=t.size)  # 1 MW makes bounces
    energy = np.concatenate([[0.0], np.cumsum(power_w[:-1] * np.diff(t) / 3600.0)])
    edges = pulse_edge_times(t, energy, float(PULSE_WH))
    mdt = _mdt()
    mdt.pulses_from_edges(edges, T0)
    mdt.close_intervals(T0 + DAY_S)
    got = [(r.interval_end_s, r.cumulative_pulses) for r in mdt.backlog]
    assert got == _scalar_mdt(edges, T0, T0, T0 + DAY_S)
    assert mdt.stats.bounces_rejected > 0


def test_counters_rebuild_a_gap_exactly():
    # lost frames cost nothing: the difference of two counters is the pulses in between
    mdt = _mdt()
    rng = np.random.default_rng(3)
    per_interval = rng.integers(0, 20, size=12)
    starts = [T0 + j * INTERVAL_S + 1.0 + 10.0 * np.arange(n) for j, n in enumerate(per_interval)]
    mdt.pulse_closures(*_closures(np.concatenate(starts)))
    mdt.close_intervals(T0 + 12 * INTERVAL_S)
    records = mdt.backlog
    received = [records[i] for i in (0, 2, 7, 12)]  # records 1, 3-6, 8-11 lost on the air
    for a, b in itertools.pairwise(received):
        assert b.cumulative_pulses - a.cumulative_pulses == per_interval[a.sequence : b.sequence].sum()
        assert b.interval_end_s - a.interval_end_s == (b.sequence - a.sequence) * INTERVAL_S


# --------------------------------------------------------------------------- backlog


def test_45_days_kept_while_unreachable_and_sent_oldest_first():
    mdt = _mdt()
    assert mdt.close_intervals(T0 + 45 * DAY_S - INTERVAL_S) == 4320
    assert len(mdt.backlog) == 4320
    assert mdt.stats.records_dropped == 0
    first = mdt.records_to_send(T0 + 45 * DAY_S - INTERVAL_S, 100)
    assert [r.sequence for r in first] == list(range(100))
    # one more interval: the oldest is dropped and counted as lost
    mdt.close_intervals(T0 + 45 * DAY_S)
    assert len(mdt.backlog) == 4320
    assert mdt.backlog[0].sequence == 1
    assert mdt.stats.records_dropped == 1


def test_long_outage_drops_the_oldest_and_counts_them():
    mdt = _mdt(retention_s=DAY_S)
    mdt.close_intervals(T0)
    assert mdt.close_intervals(T0 + 365 * DAY_S) == 365 * 96
    assert len(mdt.backlog) == 96
    assert mdt.stats.records_logged == 365 * 96 + 1
    assert mdt.stats.records_dropped == 365 * 96 + 1 - 96
    assert mdt.backlog[-1].sequence == 365 * 96
    assert mdt.backlog[0].sequence == 365 * 96 - 95


def test_cumulative_acknowledge_is_idempotent_and_refuses_the_future():
    mdt = _mdt()
    mdt.close_intervals(T0 + 9 * INTERVAL_S)  # sequences 0-9
    assert mdt.acknowledge(3) == 4
    assert mdt.acknowledge(3) == 0  # repeated
    assert mdt.acknowledge(1) == 0  # stale
    assert mdt.backlog[0].sequence == 4
    with pytest.raises(ValueError, match="up_to_sequence"):
        mdt.acknowledge(10)
    assert mdt.acknowledge(9) == 6
    assert mdt.backlog == ()
    assert mdt.stats.records_acknowledged == 10


def test_records_to_send_logs_due_intervals_first():
    mdt = _mdt()
    records = mdt.records_to_send(T0 + 2 * INTERVAL_S, 10)
    assert [r.interval_end_s for r in records] == [T0, T0 + INTERVAL_S, T0 + 2 * INTERVAL_S]
    with pytest.raises(ValueError, match="max_records"):
        mdt.records_to_send(T0 + 2 * INTERVAL_S, 0)


# --------------------------------------------------------------------------- reports


def test_tou_reports_at_every_interval_end():
    mdt = _mdt(start_s=T0 + 10.0)
    assert mdt.next_report_s == T0 + INTERVAL_S
    assert not mdt.report_due(T0 + INTERVAL_S - 1.0)
    assert mdt.report_due(T0 + INTERVAL_S)
    report = mdt.report(T0 + INTERVAL_S, 16)
    assert isinstance(report, MdtReport)
    assert report.records == (IntervalRecord(0, T0 + INTERVAL_S, 0),)
    assert report.temperature is None
    assert report.eui64 == mdt.eui64
    assert mdt.next_report_s == T0 + 2 * INTERVAL_S
    assert not mdt.report_due(T0 + INTERVAL_S)


def test_hourly_batched_reports_carry_four_intervals():
    start = T0 - T0 % 3600
    mdt = _mdt(report_period_s=3600, start_s=start + 1.0)
    assert mdt.next_report_s == start + 3600
    assert not mdt.report_due(start + 2700)
    assert mdt.next_deadline() == start + 900
    report = mdt.report(start + 3600, 16)
    assert [r.interval_end_s for r in report.records] == [
        start + 900,
        start + 1800,
        start + 2700,
        start + 3600,
    ]
    assert mdt.next_report_s == start + 7200


def test_late_report_schedules_the_next_period_after_it():
    mdt = _mdt()
    mdt.report(T0 + 3 * INTERVAL_S + 5.0, 16)
    assert mdt.next_report_s == T0 + 4 * INTERVAL_S


def test_tamper_is_reported_at_once():
    # "tamper indication through the wireless AMR system when enclosure cover is removed" (manual §2.5.2)
    mdt = _mdt()
    assert mdt.cover_changed(T0 + 37.5, open=True)
    assert mdt.urgent() == (TamperEvent(T0 + 37, True),)
    assert not mdt.cover_changed(T0 + 40.0, open=True)  # no change
    assert mdt.cover_changed(T0 + 60.0, open=False)
    assert mdt.urgent() == (TamperEvent(T0 + 37, True), TamperEvent(T0 + 60, False))
    assert mdt.report(T0 + INTERVAL_S, 16).records[-1] == IntervalRecord(1, T0 + INTERVAL_S, 0)
    assert len(mdt.urgent()) == 2  # kept until delivered
    assert mdt.acknowledge_urgent(1) == 1
    assert mdt.urgent() == (TamperEvent(T0 + 60, False),)
    with pytest.raises(ValueError, match="count"):
        mdt.acknowledge_urgent(2)
    assert mdt.stats.tamper_events == 2


def test_d02_reports_temperature_c02_has_none():
    d02 = _mdt("MMSMT-D02")
    assert d02.set_temperature(T0 + 5.0, 21.234) is None
    report = d02.report(T0 + INTERVAL_S, 16)
    assert report.temperature == TemperatureReading(T0 + 5, 21.23)
    assert d02.temperature_delta_c is None
    assert d02.set_temperature(T0 + INTERVAL_S + 6.0, 40.0) is None  # D02: no delta reporting
    assert d02.urgent() == ()
    c02 = _mdt("MMSMT-C02")
    with pytest.raises(KitCapabilityError, match="no temperature"):
        c02.set_temperature(T0 + 5.0, 21.0)
    assert c02.report(T0 + INTERVAL_S, 16).temperature is None


def test_e02_one_percent_delta_is_1_25_c():
    # 1 % of the sensor's -40...+85 °C span
    mdt = _mdt("MMSMT-E02")
    assert mdt.temperature_delta_c == pytest.approx(1.25)
    assert mdt.set_temperature(T0 + 1.0, 20.0) is None  # the reference
    assert mdt.set_temperature(T0 + 2.0, 21.24) is None
    assert mdt.set_temperature(T0 + 3.0, 18.76) is None
    event = mdt.set_temperature(T0 + 4.0, 21.25)
    assert event == TemperatureReading(T0 + 4, 21.25)
    assert mdt.urgent() == (event,)
    assert mdt.set_temperature(T0 + 5.0, 20.01) is None  # 1.24 from the new reference
    assert mdt.set_temperature(T0 + 6.0, 20.0) == TemperatureReading(T0 + 6, 20.0)
    assert mdt.stats.temperature_events == 2
    # a report also moves the reference
    mdt.set_temperature(T0 + 7.0, 21.0)
    assert mdt.report(T0 + INTERVAL_S, 4).temperature == TemperatureReading(T0 + 7, 21.0)
    assert mdt.set_temperature(T0 + INTERVAL_S + 1.0, 22.0) is None
    assert mdt.set_temperature(T0 + INTERVAL_S + 2.0, 22.25) is not None


def test_temperature_out_of_range_refused():
    mdt = _mdt("MMSMT-D02")
    with pytest.raises(ValueError, match="temperature_c"):
        mdt.set_temperature(T0, 90.0)
    assert mdt.temperature is None


def test_event_time_going_backwards_refused():
    mdt = _mdt()
    mdt.close_intervals(T0 + 1000.0)
    with pytest.raises(ValueError, match="now_s must be >="):
        mdt.cover_changed(T0 + 999.0, open=True)
    with pytest.raises(ValueError, match="now_s must be >="):
        mdt.close_intervals(T0 + 10.0)
    assert mdt.urgent() == ()


def test_start_defaults_to_first_time_given():
    mdt = Mdt("MMSMT-C02", EUI)
    assert mdt.next_report_s is None
    assert mdt.next_interval_end_s is None
    mdt.pulse_closures([T0 + 100.0], [T0 + 101.0])
    assert mdt.start_s == T0 + 100.0
    assert mdt.next_interval_end_s == T0 + INTERVAL_S
    assert mdt.next_deadline() is not None


def test_stats_start_at_zero():
    s = _mdt().stats
    assert (s.pulses_counted, s.bounces_rejected, s.records_logged, s.records_acknowledged) == (0, 0, 0, 0)
    assert s.records_dropped == 0


def test_closing_one_interval_at_a_time_equals_closing_all_at_once():
    rng = np.random.default_rng(11)
    t = np.sort(rng.uniform(0.0, 6 * 3600.0, 300))
    t[0] = 0.0
    energy = np.concatenate([[0.0], np.cumsum(rng.uniform(0.0, 40.0, t.size - 1))])
    edges = pulse_edge_times(t, energy, float(PULSE_WH))
    batch = _mdt()
    batch.pulses_from_edges(edges, T0)
    batch.close_intervals(T0 + 6 * 3600)
    stepwise = _mdt()
    bounds = np.searchsorted(edges.time_s, np.arange(25) * 900.0, side="right")
    for j in range(24):
        stepwise.pulses_from_edges(edges[int(bounds[j]) : int(bounds[j + 1])], T0)
        stepwise.close_intervals(T0 + (j + 1) * INTERVAL_S)
    assert stepwise.backlog == batch.backlog
    assert stepwise.stats == batch.stats


def test_report_payload_is_what_report_carries_with_the_same_effects():
    a = _mdt("MMSMT-D02", report_period_s=3600)
    b = _mdt("MMSMT-D02", report_period_s=3600)
    for m in (a, b):
        m.pulse_closures(*_closures([T0 + 10.0, T0 + 950.0, T0 + 2000.0]))
        m.set_temperature(T0 + 3000.0, 21.37)
    report = a.report(T0 + 3600.0, 16)
    records, temperature = b.report_payload(T0 + 3600.0, 16)
    assert records == report.records
    # the interval ending at the start (T0) holds nothing; then (T0, +900] one pulse, and so on
    assert [(r.interval_end_s - T0, r.cumulative_pulses) for r in records] == [
        (0, 0),
        (900, 1),
        (1800, 2),
        (2700, 3),
        (3600, 3),
    ]
    assert temperature == report.temperature == TemperatureReading(T0 + 3000, 21.37)
    assert a.next_report_s == b.next_report_s == 1_700_006_400  # the next whole hour after T0 + 3600
    assert a.backlog == b.backlog
    with pytest.raises(ValueError, match="max_records"):
        b.report_payload(T0 + 7200.0, 0)
    with pytest.raises(ValueError, match="max_records"):
        b.report_payload(T0 + 7200.0, True)


@pytest.mark.parametrize("chunk_s", [450.0, 900.0, 1234.5, 3600.0, 86_400.0])
def test_intervals_are_the_same_whatever_the_input_slices_and_closing_times(chunk_s):
    # pulses merged from input given in slices of any size, ahead of the intervals closed (as the
    # network feeds a day ahead), the intervals closed after each slice: the same records as from the
    # whole input at once (the pending pulses' cuts are found when pulses are merged, and must not
    # depend on when)
    edges = _edges_at_power(3700.0, DAY_S + 2 * chunk_s, step_s=60.0)
    once = _mdt()
    once.pulses_from_edges(edges, T0)
    once.close_intervals(T0 + DAY_S)
    sliced = _mdt()
    t = np.asarray(edges.time_s)
    lo = 0
    for hi_t in np.arange(chunk_s, DAY_S + 2 * chunk_s, chunk_s):
        hi = int(np.searchsorted(t, hi_t, side="right"))
        if hi > lo:
            sliced.pulses_from_edges(edges[lo:hi], T0)
        lo = hi
        sliced.close_intervals(T0 + min(hi_t - chunk_s, DAY_S))
    assert sliced.backlog == once.backlog
    assert once.backlog[-1].cumulative_pulses == 8880  # 3700 W x 24 h = 88.8 kWh = 8880 pulses of 10 Wh
    assert len(once.backlog) == 97  # T0 and the 96 ends of the day


@pytest.mark.parametrize("chunk_s", [450.0, 900.0, 1234.5, 86_400.0])
@pytest.mark.parametrize("period_s", [900, 3600])
def test_report_payload_logs_as_close_intervals_does(chunk_s, period_s):
    # report_payload logs the interval due by itself when it is the usual one (the next end, its
    # pulses merged, no closure undecided) and through close_intervals otherwise; either way the
    # records, the backlog, the counters and the next report are those of close_intervals followed
    # by records_to_send, with input fed ahead in slices that leave closures open across calls
    rng = np.random.default_rng(int(chunk_s) + period_s)
    t = np.arange(0.0, DAY_S + 2 * chunk_s + 900.0, 60.0)
    energy = (
        np.cumsum(rng.uniform(0.0, 80.0, t.size)) * (rng.uniform(0.0, 1.0, t.size) < 0.9).cumsum() / t.size
    )
    edges = pulse_edge_times(t, np.maximum.accumulate(energy), float(PULSE_WH))
    reporting = _mdt(report_period_s=period_s)
    closing = _mdt(report_period_s=period_s)
    times = np.asarray(edges.time_s)
    lo = 0
    fed_s = 0.0
    for k in range(1, 97):
        end = T0 + k * INTERVAL_S
        while fed_s <= k * INTERVAL_S:  # the input is fed ahead of the intervals, a slice at a time
            fed_s += chunk_s
            hi = int(np.searchsorted(times, fed_s, side="right"))
            if hi > lo:
                for m in (reporting, closing):
                    m.pulses_from_edges(edges[lo:hi], T0)
            lo = hi
        now = float(end) if k % 7 else end  # an int time goes the general way
        if (end - T0) % period_s:
            reporting.close_intervals(now)
            closing.close_intervals(now)
        else:
            records, _ = reporting.report_payload(now, 8)
            closing.close_intervals(now)
            assert records == closing.records_to_send(now, 8)
            closing.report_payload(now, 8)  # its schedule (nothing left to log)
            if k % 5 == 0:
                for m in (reporting, closing):
                    m.acknowledge(records[-1].sequence)
        assert reporting.backlog == closing.backlog
        assert reporting.stats == closing.stats
        assert reporting.next_report_s == closing.next_report_s
        assert reporting.next_interval_end_s == closing.next_interval_end_s == end + INTERVAL_S
    assert reporting.stats.records_logged == 97  # T0 and the 96 ends of the day
    assert reporting.cumulative_pulses > 0
