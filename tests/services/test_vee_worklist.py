"""The VEE work list as a service (issue 15): what it lists, in words, and a person's three acts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from meshmeter.headend.vee import run_vee
from meshmeter.intervals import Quality
from meshmeter.services.vee_worklist import act, worklist
from meshmeter.store import Store
from tests.services.vee_world import END, GAP, SPIKE, T0, VeeWorld, build


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Store, VeeWorld]]:
    store = Store(f"sqlite:///{tmp_path / 'meshmeter.db'}")
    try:
        yield store, build(store)
    finally:
        store.close()


def _view(store: Store, meter_id: int, end: object) -> tuple[int, int]:
    view = store.interval_view(meter_id=meter_id, start=T0, end=END)
    i = list(view.interval_end_s).index(int(end.timestamp()))  # type: ignore[attr-defined]
    return int(view.energy_wh[i]), int(view.quality[i])


def test_the_list_names_the_meter_says_why_and_gives_values(world) -> None:
    store, w = world
    items = worklist(store, site_id=w.oak)
    assert [(i.serial, i.interval_end, i.state) for i in items] == [
        ("MM26000001", SPIKE, "open"),
        ("MM26000001", GAP[0], "open"),
        ("MM26000001", GAP[1], "open"),
    ]
    spike, gap, _ = items
    assert (spike.name.label, spike.name.occupant, spike.name.site) == (
        "Unit 101",
        "Alvarez household (1001)",
        "Oak Court",
    )
    assert spike.local_end == "2026-01-05 10:15 PST"
    assert spike.why == "spike: 3000 Wh is more than 5× the day's third highest interval (500 Wh)"
    assert (spike.raw_wh, spike.value_wh, spike.quality, spike.estimate_wh, spike.method) == (
        3000,
        3000,
        10,
        None,
        None,
    )
    assert gap.checks == (("missing", "no value"),)
    assert (gap.raw_wh, gap.estimate_wh, gap.method, gap.quality) == (None, 500, "interpolation", 9)
    assert worklist(store, site_id=w.elm) == []
    assert worklist(store) == items  # every site the store shows


def test_filters_by_meter_check_and_state(world) -> None:
    store, w = world
    assert [i.interval_end for i in worklist(store, site_id=w.oak, check="spike")] == [SPIKE]
    assert len(worklist(store, site_id=w.oak, check="missing")) == 2
    assert worklist(store, site_id=w.oak, meter="MM26000002") == []
    assert worklist(store, site_id=w.oak, state="accepted") == []
    assert len(worklist(store, site_id=w.oak, start=T0, end=T0 + timedelta(hours=12))) == 1
    with pytest.raises(ValueError, match="state must be") as info:
        worklist(store, site_id=w.oak, meter="NOPE", state="closed")
    assert "state must be one of open, accepted, edited, reread, got 'closed'" in str(info.value)
    assert "meter 'NOPE' is not a meter of site" in str(info.value)
    with pytest.raises(ValueError, match="meter 'MM26000003' is not a meter of site 1"):
        worklist(store, site_id=w.oak, meter="MM26000003")


def test_accept_a_spike_makes_it_billed_and_audited_and_vee_leaves_it(world) -> None:
    store, w = world
    assert _view(store, w.unit_meter, SPIKE) == (3000, int(Quality.QUESTIONABLE))
    item = act(
        store,
        action="accept",
        meter="MM26000001",
        interval_end=SPIKE,
        reason="oven test",
        by="ana",
        site_id=w.oak,
    )
    assert (item.state, item.value_wh, item.quality, item.acted_by, item.acted_reason) == (
        "accepted",
        3000,
        7,
        "ana",
        "oven test",
    )
    assert item.why.startswith("spike: 3000 Wh")  # why it was flagged stays with it
    assert _view(store, w.unit_meter, SPIKE) == (3000, int(Quality.EDITED))
    (edit,) = store.interval_edits(meter_id=w.unit_meter, start=SPIKE - timedelta(minutes=15), end=SPIKE)
    assert (edit.action, edit.edited_by, edit.reason, edit.old_quality, edit.new_quality) == (
        "accept",
        "ana",
        "oven test",
        10,
        7,
    )
    run_vee(store, meter_id=w.unit_meter, start=T0, end=END)  # VEE again: the person's act stands
    assert [i.state for i in worklist(store, site_id=w.oak, check="spike")] == ["accepted"]
    assert [i.interval_end for i in worklist(store, site_id=w.oak, state="open")] == list(GAP)


def test_edit_an_estimate_keeps_the_estimate_beside_the_new_value(world) -> None:
    store, w = world
    item = act(
        store,
        action="edit",
        meter="MM26000001",
        interval_end=GAP[0],
        value_wh=420,
        reason="register read 12,345 kWh",
        by="ana",
    )
    assert (item.state, item.value_wh, item.estimate_wh, item.method) == ("edited", 420, 500, "interpolation")
    assert _view(store, w.unit_meter, GAP[0]) == (420, int(Quality.EDITED))


def test_reread_is_recorded_until_new_data_arrives(world) -> None:
    store, w = world
    item = act(store, action="reread", meter="MM26000001", interval_end=GAP[1], reason="gap", by="ana")
    assert (item.state, item.state_words, item.value_wh, item.quality) == (
        "reread",
        "re-read requested",
        500,
        9,
    )
    assert _view(store, w.unit_meter, GAP[1]) == (500, 9)  # nothing changed but the audit
    edits = store.interval_edits(meter_id=w.unit_meter, start=GAP[1] - timedelta(minutes=15), end=GAP[1])
    assert [(e.action, e.edited_by, e.reason) for e in edits if e.action] == [("reread", "ana", "gap")]
    # the meter sends it again: open once more, with the raw value beside the estimate
    store.insert_raw_intervals(meter_id=w.unit_meter, rows=[(GAP[1], 480)], source="http")
    (again,) = worklist(store, site_id=w.oak, start=GAP[1] - timedelta(minutes=15), end=GAP[1])
    assert (again.state, again.raw_wh) == ("open", 480)
    run_vee(store, meter_id=w.unit_meter, start=T0, end=END)  # VEE passes it now: off the list
    assert worklist(store, site_id=w.oak, start=GAP[1] - timedelta(minutes=15), end=GAP[1]) == []


def test_bad_acts_name_every_problem_and_change_nothing(world) -> None:
    store, w = world
    before = store.interval_edits(meter_id=w.unit_meter, start=T0, end=END)
    with pytest.raises(ValueError, match="reason") as info:
        act(store, action="edit", meter="MM26000001", interval_end=SPIKE, value_wh=-5, reason=" ", by="ana")
    assert str(info.value) == "reason must be given (why, in words); value_wh must be 0 or more, got -5"
    with pytest.raises(ValueError, match=r"value_wh must be a whole number of Wh, got 12\.5"):
        act(store, action="edit", meter="MM26000001", interval_end=SPIKE, value_wh=12.5, reason="x", by="ana")
    with pytest.raises(ValueError, match="value_wh must be given to edit"):
        act(store, action="edit", meter="MM26000001", interval_end=SPIKE, reason="x", by="ana")
    with pytest.raises(ValueError, match="action") as info:
        act(store, action="approve", meter="XX", interval_end=SPIKE, reason="", by="ana", site_id=w.oak)
    assert str(info.value) == (
        "action must be one of accept, edit, reread, got 'approve'; reason must be given (why, in words); "
        "meter 'XX' is not a meter of site 1"
    )
    valid = T0 + timedelta(hours=1)
    with pytest.raises(ValueError, match="ending 2026-01-05T09:00:00\\+00:00 is not on the work list"):
        act(store, action="accept", meter="MM26000001", interval_end=valid, reason="x", by="ana")
    with pytest.raises(ValueError, match="is not the end of one of MM26000001's intervals"):
        act(
            store,
            action="accept",
            meter="MM26000001",
            interval_end=valid + timedelta(minutes=7),
            reason="x",
            by="a",
        )
    with pytest.raises(ValueError, match="meter 'MM26000003' is not a meter of site 1"):
        act(store, action="accept", meter="MM26000003", interval_end=SPIKE, reason="x", by="a", site_id=w.oak)
    assert store.interval_edits(meter_id=w.unit_meter, start=T0, end=END) == before
    act(store, action="accept", meter="MM26000001", interval_end=SPIKE, reason="ok", by="ana")
    with pytest.raises(ValueError, match="is accepted already; edit it to change its value"):
        act(store, action="accept", meter="MM26000001", interval_end=SPIKE, reason="again", by="ana")
