"""PRODUCER: song length inside the blueprint, SDS section meta wins, structure string, duration fitting."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from agent.models import Plan, ProducerNotesArtifact
from agent.plan import plan_song
from agent.producer import arrangement_defaults, draft_producer_notes, fit_durations
from agent.taxonomy import Blueprint
from tests.support.fixtures import load_fixture, valid_fixture_names


def _notes(data: dict[str, Any]) -> tuple[ProducerNotesArtifact, list[str], Plan, Blueprint]:
    plan, blueprint, _ = plan_song(data)
    notes, warnings = draft_producer_notes(data, plan, blueprint, plan.node_seeds["PRODUCER"])
    return notes, warnings, plan, blueprint


def _sds(name: str = "pop_complexity_1") -> dict[str, Any]:
    return copy.deepcopy(load_fixture(name))


@pytest.mark.parametrize("name", valid_fixture_names())
def test_fixture_duration_within_blueprint_length(name: str) -> None:
    notes, warnings, plan, blueprint = _notes(load_fixture(name))
    low, high = blueprint.typical_length_sec
    assert low <= notes.duration_sec <= high
    assert notes.duration_sec == sum(m.target_duration_sec for m in notes.section_meta.values())
    assert list(notes.section_meta) == [s.id for s in plan.sections]
    assert not any("outside" in w for w in warnings)


def test_structure_joins_plan_labels() -> None:
    notes, _, plan, _ = _notes(_sds())
    assert notes.structure == "Intro-Verse 1-Chorus-Verse 2-Chorus-Bridge-Chorus-Outro"
    assert notes.structure == "-".join(s.label for s in plan.sections)


def test_sds_section_meta_tags_and_durations_win() -> None:
    data = _sds()
    data["producer_notes"]["section_meta"] = {
        "verse1": {"tags": ["muted guitar", "close mic"], "target_duration_sec": 33},
        "chorus2": {"target_duration_sec": 27},
        "bridge": {"tags": ["half-time bridge"]},
    }
    notes, _, _, blueprint = _notes(data)
    kinds = arrangement_defaults()["kinds"]
    meta = notes.section_meta
    assert meta["verse1"].tags == ["muted guitar", "close mic"]
    assert meta["verse1"].target_duration_sec == 33
    assert meta["chorus2"].target_duration_sec == 27
    assert meta["chorus2"].tags == kinds["Chorus"]["tags"]
    assert meta["bridge"].tags == ["half-time bridge"]
    assert meta["chorus1"].tags == kinds["Chorus"]["tags"]
    assert meta["chorus1"].energy == kinds["Chorus"]["energy"]
    low, high = blueprint.typical_length_sec
    assert low <= notes.duration_sec <= high


def test_fixed_durations_that_leave_room_still_fit_the_blueprint() -> None:
    """Pop allows 150-210 s; 94 + 109 s of fixed verses leave 7 s for six short sections, which is enough."""
    data = _sds()
    data["producer_notes"]["section_meta"] = {
        "verse1": {"target_duration_sec": 94},
        "verse2": {"target_duration_sec": 109},
    }
    notes, warnings, _, blueprint = _notes(data)
    assert blueprint.typical_length_sec == (150, 210)
    assert notes.section_meta["verse1"].target_duration_sec == 94
    assert notes.section_meta["verse2"].target_duration_sec == 109
    assert 150 <= notes.duration_sec <= 210, notes.duration_sec
    assert warnings == []


def test_hooks_count_is_the_sds_value() -> None:
    data = _sds()
    data["producer_notes"]["hooks"] = 5
    assert _notes(data)[0].hooks == 5
    data["producer_notes"]["hooks"] = 0
    assert _notes(data)[0].hooks == 0


def test_instrumentation_and_mix_fall_back_to_blueprint() -> None:
    data = _sds()
    data["producer_notes"]["instrumentation"] = ["rhodes"]
    data["producer_notes"]["mix"] = {"lufs": -9.5}
    notes, _, _, blueprint = _notes(data)
    assert notes.instrumentation == ["rhodes"]
    assert notes.mix.lufs == -9.5
    assert notes.mix.space == blueprint.mix["space"]
    data["producer_notes"].pop("instrumentation")
    data["style"]["instrumentation"] = []
    notes, _, _, blueprint = _notes(data)
    assert notes.instrumentation == blueprint.instrumentation[:3]


def test_sds_structure_is_kept_as_a_note() -> None:
    data = _sds()
    notes, _, _, _ = _notes(data)
    assert notes.arrangement_notes == [f"SDS structure: {data['producer_notes']['structure']}"]


# --- fit_durations ---


def test_fit_durations_leaves_fitting_durations_alone() -> None:
    durations = {"a": 50, "b": 60, "c": 70}
    assert fit_durations(durations, (150, 210)) == durations


def test_fit_durations_scales_up_to_the_lower_bound_exactly() -> None:
    out = fit_durations({"a": 10, "b": 20, "c": 30}, (120, 200))
    assert out == {"a": 20, "b": 40, "c": 60}


def test_fit_durations_scales_down_to_the_upper_bound_exactly() -> None:
    out = fit_durations({"a": 100, "b": 200, "c": 300}, (120, 200))
    assert sum(out.values()) == 200
    assert out["a"] < out["b"] < out["c"]
    assert set(out) == {"a", "b", "c"}


@pytest.mark.parametrize(
    ("durations", "bounds"),
    [
        ({"a": 7, "b": 7, "c": 7}, (100, 110)),
        ({"a": 13, "b": 29, "c": 41, "d": 5}, (151, 151)),
        ({"a": 99, "b": 98, "c": 97, "d": 96, "e": 95}, (60, 61)),
        ({"v1": 22, "c1": 20, "v2": 22, "c2": 20, "b": 15, "c3": 20}, (180, 240)),
    ],
)
def test_fit_durations_keeps_the_sum_exact(durations: dict[str, int], bounds: tuple[int, int]) -> None:
    out = fit_durations(durations, bounds)
    total = sum(durations.values())
    goal = bounds[0] if total < bounds[0] else bounds[1]
    assert sum(out.values()) == goal
    assert all(v >= 1 for v in out.values())
    assert set(out) == set(durations)


def test_fit_durations_exact_when_rounding_floors_small_sections() -> None:
    """1,1,3,3 into 4 s: 1,1,1,1 fits, but rounding lifts short ones and the drift lands on one section."""
    out = fit_durations({"s0": 1, "s1": 1, "s2": 3, "s3": 3}, (4, 4))
    assert sum(out.values()) == 4
    assert all(v >= 1 for v in out.values())


def test_fit_durations_zero_total_is_untouched() -> None:
    assert fit_durations({"a": 0, "b": 0}, (100, 200)) == {"a": 0, "b": 0}
