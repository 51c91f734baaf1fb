"""STYLE: tag hygiene against the real conflict table, seeded tempo choice, tag order and instrumentation."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from agent.models import Plan, StyleArtifact
from agent.paths import TAXONOMIES_DIR
from agent.plan import plan_song
from agent.style import MAX_NEGATIVE_TAGS, MAX_POSITIVE_TAGS, generate_style, sanitize_tags
from agent.taxonomy import Blueprint, tag_conflicts
from tests.support.fixtures import load_fixture, valid_fixture_names

RAW_CONFLICTS = json.loads((TAXONOMIES_DIR / "tag_conflicts.json").read_text(encoding="utf-8"))["conflicts"]
ACOUSTIC = next(entry for entry in RAW_CONFLICTS if entry["tag"] == "acoustic")
assert "electronic" in ACOUSTIC["conflicts_with"]


def _sds(name: str = "pop_complexity_1") -> dict[str, Any]:
    return copy.deepcopy(load_fixture(name))


def _style(data: dict[str, Any], seed: int | None = None) -> tuple[StyleArtifact, list[str], Plan, Blueprint]:
    plan, blueprint, _ = plan_song(data)
    style, warnings = generate_style(data, plan, blueprint, plan.node_seeds["STYLE"] if seed is None else seed)
    return style, warnings, plan, blueprint


def _conflicting_pairs(tags: list[str]) -> list[tuple[str, str]]:
    table = tag_conflicts()
    lowered = [t.lower() for t in tags]
    return [(a, b) for i, a in enumerate(lowered) for b in lowered[i + 1 :] if b in table.get(a, frozenset())]


# --- sanitize_tags ---


def test_later_conflicting_tag_is_dropped_and_earlier_kept() -> None:
    positive, negative, dropped = sanitize_tags(["acoustic", "warm", "electronic"], [])
    assert positive == ["acoustic", "warm"]
    assert negative == []
    assert len(dropped) == 1 and dropped[0][0] == "electronic" and "acoustic" in dropped[0][1]


def test_conflicts_are_symmetric_so_order_decides() -> None:
    positive, _, _ = sanitize_tags(["electronic", "acoustic"], [])
    assert positive == ["electronic"]


def test_every_conflict_pair_in_the_table_is_enforced() -> None:
    for entry in RAW_CONFLICTS:
        for other in entry["conflicts_with"]:
            positive, _, _ = sanitize_tags([entry["tag"], other], [])
            assert positive == [entry["tag"]], (entry["tag"], other)


def test_conflict_check_is_case_insensitive() -> None:
    positive, _, _ = sanitize_tags(["Acoustic", "ELECTRONIC"], [])
    assert positive == ["Acoustic"]


def test_duplicates_removed_case_insensitively_keeping_first() -> None:
    positive, negative, _ = sanitize_tags(["Warm", "warm", " WARM ", "lush"], ["Muddy", "muddy"])
    assert positive == ["Warm", "lush"]
    assert negative == ["Muddy"]


def test_caps_eight_positive_and_five_negative() -> None:
    positive, negative, dropped = sanitize_tags([f"pos{i}" for i in range(12)], [f"neg{i}" for i in range(9)])
    assert MAX_POSITIVE_TAGS == 8 and MAX_NEGATIVE_TAGS == 5
    assert positive == [f"pos{i}" for i in range(8)]
    assert negative == [f"neg{i}" for i in range(5)]
    assert {tag for tag, _ in dropped} == {f"pos{i}" for i in range(8, 12)} | {f"neg{i}" for i in range(5, 9)}


def test_conflicting_tag_does_not_use_up_a_slot() -> None:
    tags = ["acoustic", "electronic", *[f"t{i}" for i in range(7)]]
    positive, _, _ = sanitize_tags(tags, [])
    assert positive == ["acoustic", *[f"t{i}" for i in range(7)]]


def test_negative_that_is_also_positive_is_dropped() -> None:
    positive, negative, dropped = sanitize_tags(["warm", "lush"], ["Warm", "muddy"])
    assert positive == ["warm", "lush"]
    assert negative == ["muddy"]
    assert ("Warm", "negative tag that is also a positive tag") in dropped


# --- tempo ---


def test_bpm_is_the_sds_tempo_when_inside_the_blueprint_range() -> None:
    data = _sds()
    data["style"]["tempo_bpm"] = 121
    style, warnings, _, blueprint = _style(data)
    low, high = blueprint.tempo_bounds
    assert low <= 121 <= high
    assert style.bpm == 121
    assert not any("tempo" in w for w in warnings)


def test_tempo_range_picks_a_seeded_value_inside_it() -> None:
    data = _sds()
    data["style"]["tempo_bpm"] = [100, 130]
    picks = {seed: _style(data, seed)[0].bpm for seed in range(12)}
    assert all(100 <= bpm <= 130 for bpm in picks.values())
    assert len(set(picks.values())) > 1, "different seeds should be able to pick different tempos"
    assert _style(data, 5)[0].bpm == picks[5]
    assert _style(data, 11)[0].bpm == picks[11]


def test_reversed_tempo_range_is_accepted() -> None:
    data = _sds()
    data["style"]["tempo_bpm"] = [130, 100]
    assert all(100 <= _style(data, seed)[0].bpm <= 130 for seed in range(5))


@pytest.mark.parametrize(("tempo", "expected_end"), [(40, 0), (220, 1)])
def test_out_of_range_tempo_is_clamped_with_warning(tempo: int, expected_end: int) -> None:
    data = _sds()
    data["style"]["tempo_bpm"] = tempo
    style, warnings, _, blueprint = _style(data)
    bounds = blueprint.tempo_bounds
    assert not bounds[0] <= tempo <= bounds[1], "precondition: tempo outside the pop blueprint"
    assert style.bpm == bounds[expected_end]
    assert any(str(tempo) in w and "tempo_bpm" in w and str(style.bpm) in w for w in warnings)


def test_tempo_range_outside_the_blueprint_is_clamped_with_warning() -> None:
    data = _sds()
    data["style"]["tempo_bpm"] = [40, 50]
    style, warnings, _, blueprint = _style(data)
    assert style.bpm == blueprint.tempo_bounds[0]
    assert any("tempo_bpm" in w for w in warnings)


# --- tags and instrumentation ---


def test_sds_tags_come_first() -> None:
    data = _sds()
    data["style"]["tags"] = ["dreamy", "nostalgic"]
    data["prompt_controls"]["positive_tags"] = ["glossy"]
    style, _, _, blueprint = _style(data)
    assert style.tags_positive[:3] == ["dreamy", "nostalgic", "glossy"]
    assert set(style.tags_positive[3:]) <= set(blueprint.production_tags)


def test_sds_negative_tags_are_kept() -> None:
    data = _sds()
    data["style"]["negative_tags"] = ["muddy mix"]
    data["prompt_controls"]["negative_tags"] = ["autotune"]
    style, _, _, _ = _style(data)
    assert style.tags_negative == ["muddy mix", "autotune"]


def test_sds_negative_tag_beats_a_generated_blueprint_tag() -> None:
    """An exclusion the SDS asks for must not be discarded because the blueprint would add that tag."""
    data = _sds("electronic_song_001")
    data["style"]["negative_tags"] = ["four-on-the-floor"]
    style, _, _, blueprint = _style(data)
    assert "four-on-the-floor" in blueprint.production_tags, "precondition"
    assert "four-on-the-floor" in style.tags_negative
    assert "four-on-the-floor" not in style.tags_positive


def test_sds_conflicting_tag_dropped_with_warning() -> None:
    data = _sds()
    data["style"]["tags"] = ["acoustic", "electronic"]
    style, warnings, _, _ = _style(data)
    assert "acoustic" in style.tags_positive and "electronic" not in style.tags_positive
    assert any("'electronic'" in w and "acoustic" in w for w in warnings)


@pytest.mark.parametrize("name", valid_fixture_names())
def test_fixture_style_has_no_conflicts_and_respects_caps(name: str) -> None:
    data = load_fixture(name)
    style, _, _, blueprint = _style(data)
    assert _conflicting_pairs(style.tags_positive) == []
    assert len(style.tags_positive) <= 8 and len(style.tags_negative) <= 5
    low, high = blueprint.tempo_bounds
    assert low <= style.bpm <= high
    assert style.instrumentation == data["style"]["instrumentation"]
    assert style.key == data["style"]["key"]["primary"]


def test_instrumentation_from_blueprint_when_sds_gives_none() -> None:
    data = _sds()
    data["style"]["instrumentation"] = []
    for seed in range(6):
        style, _, _, blueprint = _style(data, seed)
        assert 1 <= len(style.instrumentation) <= 3
        assert set(style.instrumentation) <= set(blueprint.instrumentation)
        # kept in the blueprint's own order
        positions = [blueprint.instrumentation.index(i) for i in style.instrumentation]
        assert positions == sorted(positions)
    assert _style(data, 3)[0].instrumentation == _style(data, 3)[0].instrumentation


def test_same_seed_gives_the_same_style() -> None:
    data = _sds("hiphop_song_002")
    first = _style(data, 9)[0]
    second = _style(data, 9)[0]
    assert first == second
    assert first.to_state()["artifact_hash"] == second.to_state()["artifact_hash"]
