"""PLAN: seeds, section kinds and labels, line budgets, reading level, rhyme scheme, engine limits,
render flag, genre fallback and the taxonomy path guard, all against the real taxonomies."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from agent.models import Plan
from agent.paths import TAXONOMIES_DIR, taxonomy_file
from agent.plan import NODE_ORDER, engine_limits, hook_phrase, plan_song, reading_grade, section_kind
from agent.sds import SDSError
from agent.taxonomy import load_blueprint_by_slug, resolve_blueprint
from tests.support.fixtures import load_fixture, valid_fixture_names

BASE = "pop_complexity_1"


def _sds(name: str = BASE, **lyrics: Any) -> dict[str, Any]:
    data = copy.deepcopy(load_fixture(name))
    data["lyrics"].update(lyrics)
    return data


def _plan(data: dict[str, Any]) -> tuple[Plan, list[str]]:
    plan, _, warnings = plan_song(data)
    return plan, warnings


def _by_id(plan: Plan) -> dict[str, Any]:
    return {s.id: s for s in plan.sections}


# --- seeds ---


@pytest.mark.parametrize("seed", [0, 42, 123456])
def test_node_seeds_are_seed_plus_index(seed: int) -> None:
    data = _sds()
    data["seed"] = seed
    plan, _ = _plan(data)
    assert list(plan.node_seeds) == list(NODE_ORDER)
    assert plan.node_seeds == {node: seed + i for i, node in enumerate(NODE_ORDER)}
    assert plan.node_seeds["PLAN"] == seed and plan.node_seeds["STYLE"] == seed + 1
    assert plan.node_seeds["REVIEW"] == seed + 8


def test_plan_rejects_invalid_sds() -> None:
    with pytest.raises(SDSError):
        plan_song(load_fixture("pop_complexity_4"))


@pytest.mark.parametrize("name", valid_fixture_names())
def test_every_valid_fixture_plans_in_sds_order(name: str) -> None:
    data = load_fixture(name)
    plan, _ = _plan(data)
    assert [s.id for s in plan.sections] == data["lyrics"]["section_order"]
    for s in plan.sections:
        assert s.min_lines <= s.target_lines <= s.max_lines or s.target_lines == 0 == s.max_lines


# --- section kinds and labels ---


@pytest.mark.parametrize(
    ("section_id", "kind"),
    [
        ("verse1", "Verse"),
        ("Verse 2", "Verse"),
        ("chorus2", "Chorus"),
        ("pre-chorus1", "Pre-Chorus"),
        ("final-chorus", "Chorus"),
        ("interlude1", "Instrumental"),
        ("section7", "Section"),
        ("section_12", "Section"),
        ("hook1", "Hook"),
        ("drop2", "Drop"),
        ("zzz9", "Section"),
    ],
)
def test_section_kind(section_id: str, kind: str) -> None:
    assert section_kind(section_id) == kind


def test_section_kinds_and_labels_in_plan() -> None:
    order = ["verse1", "chorus2", "pre-chorus1", "final-chorus", "interlude1", "verse2"]
    plan, _ = _plan(_sds(section_order=order))
    got = [(s.id, s.kind, s.label) for s in plan.sections]
    assert got == [
        ("verse1", "Verse", "Verse 1"),
        ("chorus2", "Chorus", "Chorus"),
        ("pre-chorus1", "Pre-Chorus", "Pre-Chorus"),
        ("final-chorus", "Chorus", "Chorus"),
        ("interlude1", "Instrumental", "Instrumental"),
        ("verse2", "Verse", "Verse 2"),
    ]
    sections = _by_id(plan)
    assert sections["chorus2"].hook_role and sections["final-chorus"].hook_role
    assert not sections["verse1"].hook_role
    # an instrumental section carries no lines and no syllable target
    assert sections["interlude1"].target_lines == 0 and sections["interlude1"].target_syllables == 0


def test_unknown_section_id_becomes_a_numbered_part_with_warning() -> None:
    plan, warnings = _plan(_sds(section_order=["verse1", "section7", "chorus1"]))
    part = _by_id(plan)["section7"]
    assert part.kind == "Section"
    # parts are numbered by their place among the song's parts, as verses are
    assert part.label == "Part 1"
    assert any("section7" in w and "no known section kind" in w for w in warnings)


def test_hip_hop_hook_plays_the_chorus_role() -> None:
    order = ["intro", "hook1", "verse1", "hook2", "verse2", "hook3", "outro"]
    plan, warnings = _plan(_sds("hiphop_song_001", section_order=order))
    assert plan.genre == "hip-hop"
    hooks = [s for s in plan.sections if s.id.startswith("hook")]
    assert [s.kind for s in hooks] == ["Hook"] * 3
    assert all(s.hook_role for s in hooks)
    assert not any(s.hook_role for s in plan.sections if not s.id.startswith("hook"))
    # Hook satisfies the required Chorus, so no incompleteness warning
    assert not any("required" in w for w in warnings)


def test_electronic_drop_plays_the_chorus_role() -> None:
    order = ["intro", "verse1", "build1", "drop1", "verse2", "drop2", "outro"]
    plan, warnings = _plan(_sds("electronic_song_001", section_order=order))
    assert plan.genre == "electronic"
    sections = _by_id(plan)
    assert sections["build1"].kind == "Pre-Chorus"
    assert sections["drop1"].kind == "Drop" and sections["drop1"].hook_role
    assert sections["drop2"].hook_role
    assert not any("required" in w for w in warnings)


def test_hook_without_equivalent_does_not_play_chorus_and_chorus_is_missing() -> None:
    # pop has no Hook -> Chorus equivalent: a song of hooks lacks the required Chorus
    plan, warnings = _plan(_sds(section_order=["verse1", "hook1", "verse2", "hook2"]))
    assert plan.genre == "pop"
    assert not any(s.hook_role for s in plan.sections)
    assert any("required" in w and "Chorus" in w for w in warnings)


# --- line budgets ---


@pytest.mark.parametrize("max_lines", [22, 24, 25, 28, 30, 33, 36, 40])
def test_max_lines_is_respected_and_repeats_stay_equal(max_lines: int) -> None:
    plan, warnings = _plan(_sds(constraints={"max_lines": max_lines}))
    assert plan.max_lines == max_lines
    assert sum(s.target_lines for s in plan.sections) <= max_lines
    for kind in ("Chorus", "Verse"):
        lengths = {s.target_lines for s in plan.sections if s.kind == kind}
        assert len(lengths) == 1, f"{kind} sections differ in length: {lengths}"
    for s in plan.sections:
        assert s.min_lines <= s.target_lines <= s.max_lines
    assert not any("max_lines" in w for w in warnings)


def test_max_lines_trims_optional_sections_before_required_ones() -> None:
    unconstrained, _ = _plan(_sds(constraints={}))
    full = _by_id(unconstrained)
    optional = ("intro", "bridge", "outro")
    optional_slack = sum(full[i].target_lines - full[i].min_lines for i in optional)
    assert optional_slack > 0, "precondition: optional sections have lines to give"
    budget = sum(s.target_lines for s in unconstrained.sections) - optional_slack
    plan, _ = _plan(_sds(constraints={"max_lines": budget}))
    trimmed = _by_id(plan)
    assert sum(s.target_lines for s in plan.sections) <= budget
    for sid in optional:
        assert trimmed[sid].target_lines == trimmed[sid].min_lines
    for sid in ("verse1", "verse2", "chorus1", "chorus2", "chorus3"):
        assert trimmed[sid].target_lines == full[sid].target_lines, sid


def test_max_lines_below_minimums_warns() -> None:
    plan, warnings = _plan(_sds(constraints={"max_lines": 10}))
    assert all(s.target_lines == s.min_lines for s in plan.sections)
    assert any("max_lines 10" in w for w in warnings)


@pytest.mark.parametrize("name", valid_fixture_names())
def test_fixture_line_totals_fit_max_lines(name: str) -> None:
    data = load_fixture(name)
    plan, _ = _plan(data)
    assert sum(s.target_lines for s in plan.sections) <= data["lyrics"]["constraints"]["max_lines"]


def test_section_requirements_override_bounds_and_hook_ending() -> None:
    requirements = {
        "chorus1": {"min_lines": 2, "max_lines": 3, "must_end_with_hook": True},
        "verse1": {"min_lines": 6},
    }
    plan, _ = _plan(_sds(constraints={"section_requirements": requirements}))
    sections = _by_id(plan)
    chorus1 = sections["chorus1"]
    assert (chorus1.min_lines, chorus1.max_lines) == (2, 3)
    assert 2 <= chorus1.target_lines <= 3
    assert chorus1.must_end_with_hook is True
    assert sections["verse1"].min_lines == 6
    assert sections["verse2"].min_lines != 6
    assert sections["chorus2"].must_end_with_hook is False
    assert sections["chorus2"].max_lines != 3


def test_syllables_per_line_from_sds_wins() -> None:
    plan, _ = _plan(_sds(syllables_per_line=13))
    assert {s.target_syllables for s in plan.sections if s.target_lines} == {13}
    default_plan, _ = _plan(_sds())
    assert {s.target_syllables for s in default_plan.sections if s.target_lines} != {13}


def test_default_syllables_are_the_middle_of_the_blueprint_range() -> None:
    data = _sds()
    data["lyrics"].pop("syllables_per_line", None)
    plan, blueprint, _ = plan_song(data)
    verse = _by_id(plan)["verse1"]
    lo, hi = blueprint.sections.syllables["Verse"]
    assert verse.target_syllables == -(-(lo + hi) // 2)


# --- reading level and rhyme scheme ---


def test_reading_levels() -> None:
    words = json.loads((TAXONOMIES_DIR / "reading_levels.json").read_text(encoding="utf-8"))["words"]
    assert reading_grade("grade 3") == (3.0, None)
    assert reading_grade("Grade 5.5") == (5.5, None)
    assert reading_grade("4") == (4.0, None)
    assert reading_grade("simple") == (float(words["simple"]), None)
    # the longest matching phrase wins: "very simple" is not "simple"
    assert reading_grade("very simple") == (float(words["very simple"]), None)
    assert reading_grade(None) == (None, None)
    assert reading_grade("  ") == (None, None)
    grade, warning = reading_grade("nonsense")
    assert grade is None
    assert warning is not None and "'nonsense'" in warning


def test_reading_level_reaches_the_plan_with_warning() -> None:
    plan, _ = _plan(_sds(reading_level="grade 3"))
    assert plan.target_reading_grade == 3.0
    plan, warnings = _plan(_sds(reading_level="gibberish level"))
    assert plan.target_reading_grade is None
    assert any("reading_level" in w and "gibberish level" in w for w in warnings)


def test_complex_rhyme_scheme_falls_back_to_abab_with_warning() -> None:
    plan, warnings = _plan(_sds(rhyme_scheme="Complex"))
    assert plan.rhyme_scheme == "ABAB"
    assert any("Complex" in w and "rhyme_scheme" in w for w in warnings)


def test_free_rhyme_scheme() -> None:
    plan, warnings = _plan(_sds(rhyme_scheme="Free"))
    assert plan.rhyme_scheme == "FREE"
    assert not any("rhyme_scheme" in w for w in warnings)


def test_rhyme_scheme_length_shapes_target_lines() -> None:
    plan, _ = _plan(_sds(rhyme_scheme="AABB", constraints={}))
    for s in plan.sections:
        if s.target_lines and s.max_lines >= 4 and s.min_lines <= 4:
            assert s.target_lines % 4 == 0, (s.id, s.target_lines)


# --- engine limits ---


def _limits(render: dict[str, Any], controls: dict[str, Any] | None = None) -> tuple[Any, list[str]]:
    data = _sds()
    data["render"] = render
    if controls is not None:
        data["prompt_controls"] = controls
    return engine_limits(data)


def test_engine_limits_suno_v35() -> None:
    limits, warnings = _limits({"engine": "suno", "model": "v3.5"}, {})
    assert (limits.engine, limits.model) == ("suno", "v3.5")
    assert (limits.style_max, limits.lyrics_max, limits.exclude_max) == (200, 3000, None)
    assert warnings == []


def test_engine_limits_suno_v6_has_exclude_field() -> None:
    limits, _ = _limits({"engine": "suno", "model": "v6"}, {})
    assert limits.exclude_max == 1000
    assert limits.style_max == 1000 and limits.lyrics_max == 5000


def test_engine_limits_unknown_model_uses_default_with_warning() -> None:
    limits, warnings = _limits({"engine": "suno", "model": "v99"}, {})
    assert limits.model == "v5"
    assert len(warnings) == 1 and "'v99'" in warnings[0]


def test_engine_limits_missing_model_uses_default_silently() -> None:
    limits, warnings = _limits({"engine": "udio"}, {})
    assert (limits.model, limits.style_max, limits.exclude_max) == ("v1.5", 500, 300)
    assert warnings == []


def test_prompt_controls_lower_the_limits_but_never_raise_them() -> None:
    limits, _ = _limits({"engine": "suno", "model": "v5"}, {"max_style_chars": 150, "max_prompt_chars": 2000})
    assert (limits.style_max, limits.lyrics_max) == (150, 2000)
    limits, _ = _limits({"engine": "suno", "model": "v3.5"}, {"max_style_chars": 900, "max_prompt_chars": 9000})
    assert (limits.style_max, limits.lyrics_max) == (200, 3000)


def test_plan_carries_engine_limits_and_warning() -> None:
    data = _sds()
    data["render"] = {"engine": "suno", "model": "v3.5"}
    plan, _ = _plan(data)
    assert plan.limits.style_max == 200
    data["render"] = {"engine": "suno", "model": "nope"}
    _, warnings = _plan(data)
    assert any("'nope'" in w for w in warnings)


# --- render flag ---


@pytest.mark.parametrize(
    ("engine", "flags", "expected"),
    [
        ("none", None, False),
        ("suno", None, True),
        ("external", None, True),
        ("none", {"render.enabled": True}, True),
        ("suno", {"render.enabled": False}, False),
        ("udio", {"render.enabled": False}, False),
        ("suno", {"other.flag": True}, True),
    ],
)
def test_render_enabled(engine: str, flags: dict[str, Any] | None, expected: bool) -> None:
    data = _sds()
    data["render"] = {"engine": engine}
    if flags is not None:
        data["feature_flags"] = flags
    plan, _ = _plan(data)
    assert plan.render_enabled is expected


def test_render_flag_given_as_string_false_disables_render() -> None:
    """The schema allows string flag values; the string "false" must not switch rendering on."""
    data = _sds()
    data["render"] = {"engine": "suno"}
    data["feature_flags"] = {"render.enabled": "false"}
    plan, _ = _plan(data)
    assert plan.render_enabled is False


# --- genre resolution and path safety ---


def test_unknown_genre_falls_back_to_general_with_warning() -> None:
    data = _sds()
    data["blueprint_ref"]["genre"] = "Experimental"
    data["style"]["genre_detail"]["primary"] = "experimental"
    plan, warnings = _plan(data)
    assert plan.genre == "general"
    assert any("'Experimental'" in w and "general" in w for w in warnings)


def test_unknown_genre_uses_known_primary_genre_with_warning() -> None:
    data = _sds()
    data["blueprint_ref"]["genre"] = "Mystery Genre"
    data["style"]["genre_detail"]["primary"] = "hip hop"
    plan, warnings = _plan(data)
    assert plan.genre == "hip-hop"
    assert any("'Mystery Genre'" in w for w in warnings)


@pytest.mark.parametrize("genre", ["Hiphop", "hip_hop", "  HIP-HOP  ", "Rap"])
def test_genre_aliases_resolve(genre: str) -> None:
    lookup = resolve_blueprint(genre)
    assert lookup.blueprint.genre == "hip-hop"
    assert lookup.warnings == []


@pytest.mark.parametrize(
    "genre",
    ["../../etc/passwd", "/etc/passwd", "..%2F..%2Fpyproject", "../blueprints/pop", "pop/../../pyproject"],
)
def test_path_like_genre_cannot_escape_taxonomies(genre: str) -> None:
    data = _sds()
    data["blueprint_ref"]["genre"] = genre
    data["style"]["genre_detail"]["primary"] = genre
    plan, warnings = _plan(data)
    assert plan.genre == "general"
    assert any(genre in w for w in warnings)


@pytest.mark.parametrize("slug", ["../general", "../../pyproject", "/etc/passwd", "blueprints/pop"])
def test_load_blueprint_by_slug_refuses_non_slugs(slug: str) -> None:
    with pytest.raises(KeyError):
        load_blueprint_by_slug(slug)


@pytest.mark.parametrize(
    "parts",
    [("..", "pyproject.toml"), ("blueprints", "..", "..", "pyproject.toml"), ("/etc/passwd",)],
)
def test_taxonomy_file_refuses_paths_outside_taxonomies(parts: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="outside taxonomies"):
        taxonomy_file(*parts)


def test_taxonomy_file_allows_paths_inside() -> None:
    path = taxonomy_file("blueprints", "pop.json")
    assert path.is_file()
    assert path.is_relative_to(TAXONOMIES_DIR.resolve())


# --- hook phrase ---


def test_hook_phrase_drops_asides_and_caps_words() -> None:
    assert hook_phrase("Summer Dreams (Radio Edit)") == "Summer Dreams"
    assert hook_phrase("One Two Three Four Five Six Seven Eight") == "One Two Three Four Five Six"
    assert hook_phrase("[Intro] Hello") == "Hello"


def test_plan_to_state_carries_hash() -> None:
    plan, _ = _plan(_sds())
    state = plan.to_state()
    assert state["artifact_type"] == "plan"
    assert state["artifact_hash"].startswith("sha256:")


# --- odd but schema-valid input ---


@pytest.mark.parametrize("seed", [2**63, 2**64 - 1])
def test_node_seeds_of_a_huge_seed_stay_within_64_bits(seed: int) -> None:
    data = _sds()
    data["seed"] = seed
    plan, _ = _plan(data)
    assert plan.node_seeds["PLAN"] == seed
    assert all(0 <= value < 2**64 for value in plan.node_seeds.values())
    assert len(set(plan.node_seeds.values())) == len(NODE_ORDER)


@pytest.mark.parametrize(
    ("title", "explicit", "sung"),
    [
        ("Sh1t Happens", False, "Shoot Happens"),
        ("Sh1t Happens", True, "Sh1t Happens"),
        ("Retard Love", True, "Goofball Love"),
        ("Taylor-Swift Dreams", False, "a legend Dreams"),
    ],
)
def test_the_hook_never_sings_what_validation_forbids(title: str, explicit: bool, sung: str) -> None:
    data = _sds()
    data["title"] = title
    data["lyrics"]["constraints"]["explicit"] = explicit
    plan, warnings = _plan(data)
    assert plan.title == title
    assert plan.hook_line == sung
    assert (sung != title) == any("hook" in w and repr(sung) in w for w in warnings)


def test_a_blank_title_still_gets_a_hook_and_a_warning() -> None:
    data = _sds()
    data["title"] = "   "
    plan, warnings = _plan(data)
    assert plan.hook_line == "Summer"
    assert any(w.startswith("title is blank") for w in warnings)
