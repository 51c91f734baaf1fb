"""COMPOSE: the style field fits its limit essentials-first, exclusions get room, lyrics are tagged."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from agent.compose import SEPARATOR, compose_prompt, join_within, lyrics_text, style_phrases
from agent.models import ComposedPrompt, LyricsArtifact, LyricSection, Plan, StyleArtifact
from agent.plan import plan_song
from agent.producer import draft_producer_notes
from agent.style import generate_style
from tests.support.fixtures import load_fixture, valid_fixture_names


def _lyrics(plan: Plan) -> LyricsArtifact:
    return LyricsArtifact(
        title=plan.title,
        language="en",
        pov="1st",
        tense="present",
        rhyme_scheme=plan.rhyme_scheme,
        hook_line=plan.hook_line,
        sections=[
            LyricSection(
                id=s.id,
                kind=s.kind,
                label=s.label,
                lines=[f"{s.id} line {i + 1}" for i in range(s.target_lines)],
            )
            for s in plan.sections
        ],
    )


def _compose(data: dict[str, Any]) -> tuple[ComposedPrompt, Plan, StyleArtifact]:
    plan, blueprint, _ = plan_song(data)
    style, _ = generate_style(data, plan, blueprint, plan.node_seeds["STYLE"])
    producer, _ = draft_producer_notes(data, plan, blueprint, plan.node_seeds["PRODUCER"])
    return compose_prompt(plan, style, _lyrics(plan), producer), plan, style


def _sds(name: str = "pop_complexity_1", render: dict[str, Any] | None = None) -> dict[str, Any]:
    data = copy.deepcopy(load_fixture(name))
    if render is not None:
        data["render"] = render
    return data


def _phrases(text: str) -> list[str]:
    return text.split(SEPARATOR) if text else []


@pytest.mark.parametrize("name", valid_fixture_names())
@pytest.mark.parametrize("render", [{"engine": "none"}, {"engine": "suno", "model": "v3.5"}])
def test_style_text_fits_and_starts_with_essentials(name: str, render: dict[str, Any]) -> None:
    prompt, plan, style = _compose(_sds(name, render))
    assert len(prompt.style_text) <= plan.limits.style_max
    phrases = _phrases(prompt.style_text)
    assert phrases[0] == style.genre
    bpm = f"{style.bpm} BPM"
    assert bpm in phrases and style.key in phrases
    assert phrases.index(bpm) < phrases.index(style.key)
    # nothing optional (mood, instruments, tags) comes before the key
    optional = set(style.mood) | set(style.instrumentation) | set(style.tags_positive)
    optional -= {style.genre, *style.sub_genres}
    assert not optional & set(phrases[: phrases.index(style.key)])


def test_tiny_style_limit_leaves_out_optional_tags_only() -> None:
    prompt, plan, style = _compose(_sds(render={"engine": "suno", "model": "v3.5"}))
    assert plan.limits.style_max == 200
    left_out = prompt.meta["style_left_out"]
    assert left_out, "the pop fixture's full style does not fit 200 characters"
    assert set(left_out) <= set(style.tags_positive)
    phrases = _phrases(prompt.style_text)
    assert style.genre in phrases and f"{style.bpm} BPM" in phrases
    # nothing is lost silently: kept + left out == every phrase, in order
    everything = style_phrases(style)
    assert [p for p in everything if p not in left_out] == phrases
    assert len(prompt.style_text) <= 200


def test_roomy_style_limit_leaves_nothing_out() -> None:
    prompt, _, style = _compose(_sds(render={"engine": "suno", "model": "v5"}))
    assert prompt.meta["style_left_out"] == []
    assert _phrases(prompt.style_text) == style_phrases(style)


def test_bpm_survives_a_long_subgenre_list_under_a_tiny_limit() -> None:
    """Subgenres are free SDS text; however many there are, the tempo must still reach the style field."""
    data = _sds(render={"engine": "suno", "model": "v3.5"})
    data["style"]["genre_detail"]["subgenres"] = [f"subgenre number {i}" for i in range(12)]
    prompt, _, style = _compose(data)
    phrases = _phrases(prompt.style_text)
    assert style.genre in phrases
    assert f"{style.bpm} BPM" in phrases
    assert len(prompt.style_text) <= 200


def test_exclusions_get_room_when_the_engine_has_no_exclude_field() -> None:
    data = _sds(render={"engine": "suno", "model": "v3.5"})
    data["style"]["negative_tags"] = ["muddy mix", "autotune", "spoken word"]
    prompt, plan, _ = _compose(data)
    assert plan.limits.exclude_max is None
    assert prompt.exclude_text == "muddy mix, autotune, spoken word"
    assert len(prompt.style_text) + len(SEPARATOR) + len(prompt.exclude_text) <= plan.limits.style_max
    assert f"Exclude: {prompt.exclude_text}" in prompt.text


def test_style_budget_is_not_reduced_when_the_engine_has_an_exclude_field() -> None:
    # a style_max of 200 with an exclude field: the style text may use all 200 characters
    data = _sds(render={"engine": "suno", "model": "v6"})
    data["prompt_controls"]["max_style_chars"] = 200
    data["style"]["negative_tags"] = ["muddy mix", "autotune", "spoken word"]
    with_field, plan, style = _compose(data)
    assert plan.limits.exclude_max == 1000 and plan.limits.style_max == 200
    expected, _ = join_within(style_phrases(style), 200)
    assert with_field.style_text == expected
    data["render"] = {"engine": "suno", "model": "v3.5"}
    without_field, _, _ = _compose(data)
    assert len(without_field.style_text) < len(with_field.style_text)


def test_lyrics_text_tags_every_section_in_order_and_ends_with_end() -> None:
    prompt, plan, _ = _compose(_sds())
    lines = prompt.lyrics_text.split("\n")
    tags = [line for line in lines if line.startswith("[")]
    assert tags == [f"[{s.label}]" for s in plan.sections] + ["[End]"]
    assert lines[-1] == "[End]"
    assert prompt.lyrics_text.count("[End]") == 1
    # every lyric line appears once, under its own section tag
    for s in plan.sections:
        block = "\n".join([f"[{s.label}]", *[f"{s.id} line {i + 1}" for i in range(s.target_lines)]])
        assert block in prompt.lyrics_text
    assert prompt.lyrics_text in prompt.text


def test_lyrics_text_of_a_hand_built_artifact() -> None:
    lyrics = LyricsArtifact(
        title="T",
        language="en",
        pov="1st",
        tense="present",
        rhyme_scheme="AABB",
        hook_line="T",
        sections=[
            LyricSection(id="verse1", kind="Verse", label="Verse 1", lines=["a", "b"]),
            LyricSection(id="chorus1", kind="Chorus", label="Chorus", lines=["c"]),
        ],
    )
    assert lyrics_text(lyrics) == "[Verse 1]\na\nb\n\n[Chorus]\nc\n\n[End]"


def test_char_counts_match_the_fields() -> None:
    data = _sds(render={"engine": "udio"})
    data["style"]["negative_tags"] = ["muddy mix"]
    prompt, plan, _ = _compose(data)
    assert prompt.meta["char_counts"] == {
        "title": len(prompt.title),
        "style_text": len(prompt.style_text),
        "lyrics_text": len(prompt.lyrics_text),
        "exclude_text": len(prompt.exclude_text),
    }
    assert prompt.meta["model_limits"] == plan.limits.model_dump()
    assert (prompt.engine, prompt.model) == ("udio", "v1.5")


def test_join_within_skips_what_does_not_fit() -> None:
    text, left_out = join_within(["abc", "a very long phrase", "de"], 10)
    assert text == "abc, de"
    assert left_out == ["a very long phrase"]
    assert join_within([], 10) == ("", [])


def test_style_phrases_dedupe_case_insensitively() -> None:
    _, _, style = _compose(_sds())
    style = style.model_copy(update={"tags_positive": [style.genre.upper(), "Extra"]})
    phrases = style_phrases(style)
    assert [p.lower() for p in phrases].count(style.genre.lower()) == 1
    assert "Extra" in phrases
