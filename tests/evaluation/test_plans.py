"""Test plans: the built-in ones, and malformed plans refused naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshmeter.evaluation.plans import (
    BUILTIN_PLANS,
    PlanError,
    builtin_plan_text,
    load_plan,
    load_plans,
    parse_plan,
)

MINIMAL = """
[plan]
name = "mine"
kind = "accuracy"

[[point]]
element = "both"
current_a = 30.0
voltage_v = 120.0
"""


def test_ctep_honours_over_350_tests() -> None:
    plan = load_plan("ctep")
    # certificate p.2: "over 350 tests from 3 amps to 60 amps at both unity and 0.5 power factors"
    assert len(plan.points) == 351
    assert min(p.current_a for p in plan.points) == 3.0
    assert max(p.current_a for p in plan.points) == 60.0
    assert {p.element for p in plan.points} == {"1", "2", "both"}
    assert {p.pf_text for p in plan.points} == {"1.0", "0.5 lag", "0.5 lead"}
    # tolerances default to the spec (manual §3.1)
    assert {p.tolerance_percent for p in plan.points if p.pf == 1.0} == {0.5}
    assert {p.tolerance_percent for p in plan.points if p.pf == 0.5} == {0.75}


def test_ansi_points() -> None:
    plan = load_plan("ansi")
    by_label = {p.label: p for p in plan.points}
    assert (by_label["FL"].current_a, by_label["FL"].pf) == (30.0, 1.0)  # TA, certificate p.1
    assert (by_label["LL"].current_a, by_label["LL"].pf) == (3.0, 1.0)  # 10 % of TA
    assert (by_label["PF"].current_a, by_label["PF"].pf, by_label["PF"].lagging) == (30.0, 0.5, True)


def test_spec_range() -> None:
    plan = load_plan("spec")
    assert len(plan.points) == 12 * 3 * 3
    assert {p.current_a for p in plan.points} >= {2.0, 200.0}  # manual §3.1: 2 to 200 A


def test_creep_points() -> None:
    plan = load_plan("creep")
    no_load = [p for p in plan.points if p.max_pulses is not None]
    assert len(no_load) == 1
    assert no_load[0].voltage_v == pytest.approx(1.1 * 120.0)  # 110 % of rated voltage
    assert (no_load[0].current_a, no_load[0].max_pulses) == (0.0, 1)
    starting = [p for p in plan.points if p.min_pulses is not None]
    assert {p.element for p in starting} == {"1", "2", "both"}
    assert all(p.current_a == 0.2 and p.min_pulses == 1 for p in starting)


def test_permanence_plan() -> None:
    plan = load_plan("permanence")
    assert plan.kind == "permanence"
    assert plan.field_days == 30.0  # certificate p.2: approximately 30 days
    assert len(plan.points) == 9


def test_all_is_every_builtin_plan() -> None:
    assert [p.name for p in load_plans("all")] == list(BUILTIN_PLANS)


def test_phase_sign() -> None:
    plan = load_plan("ansi")
    assert plan.points[2].phase_deg == pytest.approx(60.0)  # 0.5 lagging: current lags by 60°
    lead = [p for p in load_plan("ctep").points if not p.lagging]
    assert lead[0].phase_deg == pytest.approx(-60.0)


def test_user_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL + "tolerance_percent = 0.2\n", encoding="utf-8")
    plan = load_plan(path)
    assert plan.name == "mine"
    assert plan.source == str(path)
    assert plan.points[0].tolerance_percent == 0.2
    assert load_plans(str(path))[0].points == plan.points


def test_builtin_text_is_the_shipped_file() -> None:
    assert 'name = "ctep"' in builtin_plan_text("ctep")
    with pytest.raises(ValueError, match="name"):
        builtin_plan_text("nope")


def test_unknown_name_or_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="plan must be one of"):
        load_plan("nope")
    with pytest.raises(ValueError, match="plan must be one of"):
        load_plans(str(tmp_path / "missing.toml"))


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("this is = = not toml", "(file)"),
        ("[[point]]\ncurrent_a = 1.0\nvoltage_v = 120.0\n", "plan"),
        (MINIMAL.replace('kind = "accuracy"', 'kind = "speed"'), "plan.kind"),
        (MINIMAL.replace('name = "mine"\n', ""), "plan.name"),
        (MINIMAL.replace("current_a = 30.0", "current_a = 300.0"), "point[0].current_a"),
        (MINIMAL.replace("current_a = 30.0", 'current_a = "30"'), "point[0].current_a"),
        (MINIMAL.replace("current_a = 30.0", "current_a = 0.0"), "point[0].current_a"),
        (MINIMAL.replace('element = "both"', 'element = "3"'), "point[0].element"),
        (MINIMAL + "pf = 0.3\n", "point[0].pf"),
        (MINIMAL + 'sense = "sideways"\n', "point[0].sense"),
        (MINIMAL + "frequency_hz = 400.0\n", "point[0].frequency_hz"),
        (MINIMAL + "tolerance_percent = -1\n", "point[0].tolerance_percent"),
        (MINIMAL + "colour = 1\n", "point[0].colour"),
        (MINIMAL + "max_pulses = 1\n", "point[0].max_pulses"),
        (MINIMAL.replace("voltage_v = 120.0", ""), "point[0].voltage_v"),
        (
            MINIMAL.replace("[[point]]", "[[grid]]").replace("current_a = 30.0", "current_a = []"),
            "grid[0].current_a",
        ),
        ('[plan]\nname = "x"\nkind = "accuracy"\n', "grid"),
        (MINIMAL.replace('kind = "accuracy"', 'kind = "permanence"'), "plan.field_days"),
        (MINIMAL.replace('kind = "accuracy"', 'kind = "accuracy"\nresolution = 0'), "plan.resolution"),
        (MINIMAL.replace('kind = "accuracy"', 'kind = "creep"'), "point[0].max_pulses"),
        (MINIMAL.replace('kind = "accuracy"', 'kind = "creep"') + "max_pulses = 1\n", "point[0].duration_s"),
        (MINIMAL + "[extra]\nx = 1\n", "extra"),
        ('point = 3\n[plan]\nname = "x"\nkind = "accuracy"\n', "point"),
    ],
)
def test_malformed_plan_names_the_field(text: str, field: str) -> None:
    with pytest.raises(PlanError) as info:
        parse_plan(text, source="test")
    assert info.value.field == field
    assert repr(field) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(PlanError, match="cannot be read"):
        load_plan(path)


def test_grid_keeps_one_unity_point_for_lag_and_lead() -> None:
    text = """
[plan]
name = "g"
kind = "accuracy"
[[grid]]
element = "both"
voltage_v = 120.0
current_a = [10, 20]
pf = [1.0, 0.5]
sense = ["lag", "lead"]
"""
    plan = parse_plan(text)
    assert [(p.current_a, p.pf_text) for p in plan.points] == [
        (10.0, "1.0"),
        (10.0, "0.5 lag"),
        (10.0, "0.5 lead"),
        (20.0, "1.0"),
        (20.0, "0.5 lag"),
        (20.0, "0.5 lead"),
    ]
