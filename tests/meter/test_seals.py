"""Tests of meshmeter.meter.seals (certificate p.2 "Sealing", Fig. 2–5; manual §2.5.2, §7)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshmeter.errors import MeshmeterError, SealError
from meshmeter.meter.seals import (
    AuditEventKind,
    EventCounters,
    MeterAudit,
    Provision,
    Seal,
    SealKind,
    standard_seals,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
FACTORY_IDS = ["factory-adhesive-1", "factory-adhesive-2", "factory-epoxy"]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def sealed_meter(provision: Provision = Provision.NEW) -> MeterAudit:
    audit = MeterAudit()
    kinds = (SealKind.FACTORY, SealKind.INSTALLATION, SealKind.ENCLOSURE)
    for seal in standard_seals(provision, applied_at=T0, applied_by="factory", kinds=kinds):
        audit.apply_seal(seal)
    return audit


def snapshot(audit: MeterAudit):
    return (audit.seals, audit.events, audit.counters, dict(audit.calibration), audit.cover_open)


# --- standard seals ---------------------------------------------------------------------------


@pytest.mark.parametrize("provision", list(Provision))
def test_standard_seals_new_meter_all_intact(provision):
    seals = standard_seals(provision, applied_at=T0, applied_by="factory")
    assert [s.seal_id for s in seals] == [*FACTORY_IDS, "installation-wire-left", "installation-wire-right"]
    assert all(s.intact and s.provision is provision for s in seals)
    audit = MeterAudit()
    for s in seals:
        audit.apply_seal(s)
    assert audit.intact_seals() == seals
    assert audit.broken_seals() == []
    assert audit.is_sealed(SealKind.FACTORY)
    assert audit.is_sealed(SealKind.INSTALLATION)
    assert not audit.is_sealed(SealKind.TESTING)
    assert audit.counters == EventCounters(seal_applications=5)


def test_standard_seals_provision_decides_installation_location():
    old = standard_seals(Provision.OLD, applied_at=T0, applied_by="x", kinds=[SealKind.INSTALLATION])
    new = standard_seals(Provision.NEW, applied_at=T0, applied_by="x", kinds=[SealKind.INSTALLATION])
    assert "drilled hole" in old[0].location
    assert "pin" not in old[0].location
    assert "pin" in new[0].location


def test_standard_seals_all_kinds_counts():
    seals = standard_seals(Provision.NEW, applied_at=T0, applied_by="x", kinds=list(SealKind))
    per_kind = {k: sum(s.kind is k for s in seals) for k in SealKind}
    assert per_kind == {
        SealKind.FACTORY: 3,
        SealKind.TESTING: 2,
        SealKind.INSTALLATION: 2,
        SealKind.ENCLOSURE: 2,
    }


def test_kind_descriptions_cite_clauses():
    assert "metrologically adjustable" in SealKind.FACTORY.description
    assert "Fig. 5" in SealKind.INSTALLATION.description
    assert "§2.5.2" in SealKind.ENCLOSURE.description


@pytest.mark.parametrize(
    "kwargs",
    [{"kinds": [SealKind.FACTORY, SealKind.FACTORY]}, {"kinds": ["factory"]}, {"applied_by": ""}],
)
def test_standard_seals_bad_arguments(kwargs):
    args = {"applied_at": T0, "applied_by": "factory", **kwargs}
    with pytest.raises(ValueError, match=r"kinds|applied_by"):
        standard_seals(Provision.NEW, **args)


# --- seal records -----------------------------------------------------------------------------


def test_naive_datetime_refused():
    with pytest.raises(ValueError, match=r"applied_at.*naive"):
        Seal("s1", SealKind.FACTORY, Provision.NEW, "label", datetime(2024, 1, 1), "factory")


def test_non_utc_datetime_refused():
    plus_two = datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    with pytest.raises(ValueError, match="UTC"):
        Seal("s1", SealKind.FACTORY, Provision.NEW, "label", plus_two, "factory")


def test_naive_event_time_refused_and_nothing_changes():
    audit = sealed_meter()
    before = snapshot(audit)
    with pytest.raises(ValueError, match="naive"):
        audit.cover_opened(at=datetime(2024, 3, 1, 13, 0))
    with pytest.raises(ValueError, match="naive"):
        audit.break_seal("factory-epoxy", at=datetime(2024, 3, 1, 13, 0), by="lab")
    assert snapshot(audit) == before


@pytest.mark.parametrize(
    "changes",
    [
        {"broken_at": T0},  # broken_by missing
        {"reason": "why"},  # reason on an intact seal
        {"broken_at": T0 - timedelta(seconds=1), "broken_by": "x"},  # broken before applied
    ],
)
def test_inconsistent_seal_refused(changes):
    seal = Seal("s1", SealKind.FACTORY, Provision.NEW, "label", T0, "factory")
    with pytest.raises(ValueError, match=r"broken|reason"):
        dataclasses.replace(seal, **changes)


# --- breaking seals ---------------------------------------------------------------------------


def test_breaking_factory_seal_is_an_event_and_counts():
    audit = sealed_meter()
    broken = audit.break_seal("factory-adhesive-1", at=at(10), by="lab", reason="recalibration")
    assert not broken.intact
    assert broken.broken_at == at(10)
    assert audit.seal("factory-adhesive-1") == broken
    assert audit.counters.seal_breaks == 1
    last = audit.events[-1]
    assert last.kind is AuditEventKind.SEAL_BROKEN
    assert last.actor == "lab"
    assert last.detail["seal_id"] == "factory-adhesive-1"
    assert last.detail["reason"] == "recalibration"
    assert broken in audit.broken_seals()
    assert audit.is_sealed(SealKind.FACTORY)  # two factory seals still intact


def test_break_unknown_or_broken_seal_refused():
    audit = sealed_meter()
    with pytest.raises(SealError, match="no seal"):
        audit.break_seal("nope", at=at(1), by="x")
    audit.break_seal("factory-epoxy", at=at(1), by="x")
    before = snapshot(audit)
    with pytest.raises(SealError, match="already broken"):
        audit.break_seal("factory-epoxy", at=at(2), by="x")
    assert snapshot(audit) == before
    assert issubclass(SealError, MeshmeterError)


def test_duplicate_seal_id_refused():
    audit = sealed_meter()
    again = Seal("factory-epoxy", SealKind.FACTORY, Provision.NEW, "label", at(5), "factory")
    with pytest.raises(SealError, match="already on record"):
        audit.apply_seal(again)


def test_resealing_after_break():
    audit = sealed_meter()
    audit.break_seal("installation-wire-left", at=at(1), by="agent")
    audit.break_seal("installation-wire-right", at=at(1), by="agent")
    assert not audit.is_sealed(SealKind.INSTALLATION)
    audit.apply_seal(Seal("W-0042", SealKind.INSTALLATION, Provision.NEW, "left", at(2), "agent"))
    assert audit.is_sealed(SealKind.INSTALLATION)
    assert audit.counters.seal_applications == 8


# --- calibration and configuration -----------------------------------------------------------


def test_calibration_refused_while_factory_sealed_and_nothing_changes():
    audit = sealed_meter()
    audit.break_seal("factory-adhesive-1", at=at(1), by="lab")  # one is not enough
    before = snapshot(audit)
    with pytest.raises(SealError, match="factory seals"):
        audit.change_calibration("gain element 1", 1.0, 1.002, actor="lab", at=at(2))
    assert snapshot(audit) == before


def test_calibration_allowed_after_factory_seals_broken():
    audit = sealed_meter()
    for seal_id in FACTORY_IDS:
        audit.break_seal(seal_id, at=at(1), by="lab", reason="recalibration")
    assert not audit.is_sealed(SealKind.FACTORY)
    event = audit.change_calibration("gain element 1", 1.0, 1.002, actor="lab", at=at(2))
    assert event.kind is AuditEventKind.CALIBRATION_CHANGED
    assert dict(event.detail) == {"parameter": "gain element 1", "old": 1.0, "new": 1.002}
    assert audit.calibration == {"gain element 1": 1.002}
    assert audit.counters.calibration_changes == 1
    assert audit.counters.seal_breaks == 3
    # the next change must start from the recorded value
    with pytest.raises(ValueError, match="old"):
        audit.change_calibration("gain element 1", 1.0, 1.001, actor="lab", at=at(3))
    audit.change_calibration("gain element 1", 1.002, 1.001, actor="lab", at=at(3))
    # resealed: refused again
    audit.apply_seal(Seal("F-77", SealKind.FACTORY, Provision.NEW, "ID label", at(4), "lab"))
    with pytest.raises(SealError):
        audit.change_calibration("gain element 1", 1.001, 1.0, actor="lab", at=at(5))


def test_calibration_bad_values_refused():
    audit = MeterAudit()
    with pytest.raises(ValueError, match="new"):
        audit.change_calibration("gain", 1.0, float("nan"), actor="lab", at=T0)
    with pytest.raises(ValueError, match="parameter"):
        audit.change_calibration("", 1.0, 1.0, actor="lab", at=T0)
    assert audit.events == ()


def test_configuration_needs_no_seal_break():
    audit = sealed_meter()
    event = audit.change_configuration("demand_interval_min", 15, 5, actor="agent", at=at(1))
    assert event.kind is AuditEventKind.CONFIGURATION_CHANGED
    assert audit.counters.configuration_changes == 1
    assert audit.configuration == {"demand_interval_min": 5}
    assert audit.broken_seals() == []


# --- cover and power ----------------------------------------------------------------------------


def test_cover_open_close_events():
    audit = sealed_meter()
    assert audit.cover_opened(at=at(1))
    assert audit.cover_open
    assert not audit.cover_opened(at=at(2))  # already open: idempotent, nothing recorded
    assert audit.cover_closed(at=at(3))
    assert not audit.cover_closed(at=at(4))
    kinds = [e.kind for e in audit.events[-2:]]
    assert kinds == [AuditEventKind.COVER_OPENED, AuditEventKind.COVER_CLOSED]
    assert audit.counters.cover_openings == 1
    # opened while the enclosure seals are on record as intact: tamper evidence in the detail
    assert audit.events[-2].detail["intact_enclosure_seals"] == "enclosure-adhesive-1,enclosure-adhesive-2"


def test_power_events():
    audit = MeterAudit()
    assert audit.power_up(at=T0)
    assert not audit.power_up(at=at(1))
    assert audit.power_down(at=at(2))
    assert audit.counters.power_downs == 1
    assert [e.kind for e in audit.events] == [AuditEventKind.POWER_UP, AuditEventKind.POWER_DOWN]


def test_events_out_of_order_refused():
    audit = sealed_meter()
    audit.cover_opened(at=at(10))
    before = snapshot(audit)
    with pytest.raises(ValueError, match="earlier than the last event"):
        audit.cover_closed(at=at(5))
    with pytest.raises(ValueError, match="earlier than the last event"):
        audit.change_configuration("display", "kWh", "serial", actor="x", at=at(9))
    late_seal = Seal("T-1", SealKind.TESTING, Provision.NEW, "case side", at(9), "lab")
    with pytest.raises(ValueError, match="earlier than the last event"):
        audit.apply_seal(late_seal)
    assert snapshot(audit) == before
    audit.cover_closed(at=at(10))  # same time is allowed


def test_trail_sequence_and_detail_read_only():
    audit = sealed_meter()
    audit.cover_opened(at=at(1))
    assert [e.sequence for e in audit.events] == list(range(1, len(audit.events) + 1))
    with pytest.raises(TypeError):
        audit.events[0].detail["seal_id"] = "forged"  # type: ignore[index]


# --- counters never decrease ------------------------------------------------------------------

SEAL_IDS = [*FACTORY_IDS, "installation-wire-left", "installation-wire-right", "unknown"]

operations = st.lists(
    st.tuples(
        st.sampled_from(["break", "open", "close", "calibrate", "configure", "up", "down", "apply"]),
        st.integers(min_value=-5, max_value=30),  # time step in minutes: negative ones are refused
        st.sampled_from(SEAL_IDS),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(ops=operations)
def test_counters_never_decrease(ops):
    audit = sealed_meter(Provision.OLD)
    now = T0
    value = 1.0
    fields = [f.name for f in dataclasses.fields(EventCounters)]
    for n, (op, step, seal_id) in enumerate(ops):
        when = now + timedelta(minutes=step)
        before_counters = audit.counters
        before_len = len(audit.events)
        try:
            if op == "break":
                audit.break_seal(seal_id, at=when, by="x")
            elif op == "open":
                audit.cover_opened(at=when)
            elif op == "close":
                audit.cover_closed(at=when)
            elif op == "calibrate":
                audit.change_calibration(
                    "gain", audit.calibration.get("gain", value), value + 1, actor="x", at=when
                )
                value += 1
            elif op == "configure":
                audit.change_configuration(f"p{n}", None, n, actor="x", at=when)
            elif op == "up":
                audit.power_up(at=when)
            elif op == "down":
                audit.power_down(at=when)
            else:
                audit.apply_seal(Seal(f"new-{n}", SealKind.FACTORY, Provision.OLD, "label", when, "x"))
        except (SealError, ValueError):
            assert audit.counters == before_counters
            assert len(audit.events) == before_len
        else:
            now = max(now, when)
        after = audit.counters
        assert all(getattr(after, f) >= getattr(before_counters, f) for f in fields)
        assert len(audit.events) >= before_len
    events = audit.events
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert all(a.at <= b.at for a, b in pairwise(events))
    # counters agree with the trail
    assert audit.counters.seal_breaks == sum(e.kind is AuditEventKind.SEAL_BROKEN for e in events)
    assert audit.counters.calibration_changes == sum(
        e.kind is AuditEventKind.CALIBRATION_CHANGED for e in events
    )
    assert len(audit.broken_seals()) == audit.counters.seal_breaks
