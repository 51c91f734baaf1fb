"""VALIDATE: rubric scores from real phonetics, issues, and every hard-fail rule, on hand-built songs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from agent.compose import compose_prompt
from agent.models import (
    ComposedPrompt,
    EngineLimits,
    LyricsArtifact,
    LyricSection,
    MixTargets,
    Plan,
    PlannedSection,
    ProducerNotesArtifact,
    StyleArtifact,
    ValidationReport,
    VocalProfile,
)
from agent.taxonomy import Blueprint, living_artists, load_blueprint_by_slug, profanity_data, tag_conflicts
from agent.validate import artist_mentions, validate_song

HOOK = "Hold On Tonight"
VERSE1 = [
    "The city hums a quiet tune",
    "I walk alone beneath the light",
    "We chase the silver of the moon",
    "And hold each other through the night",
]
CHORUS = [
    "So hold on tonight, we're burning bright",
    "The music takes us far away",
    "Just hold on tonight and hold me tight",
    "Tomorrow's just another day",
]
VERSE2 = [
    "The morning waits beyond the hill",
    "Our hearts are racing like a train",
    "But time is standing very still",
    "We dance together in the rain",
]
UNRHYMED_VERSE1 = [
    "The city hums a quiet tune",
    "I walk alone beside the car",
    "We chase the silver of the river",
    "And hold each other through the window",
]
UNRHYMED_CHORUS = [
    "So hold on tonight, we are burning",
    "The music takes us far from home",
    "Just hold on tonight and hold me close",
    "Tomorrow is another story",
]
UNRHYMED_VERSE2 = [
    "The morning waits beyond the field",
    "Our hearts are racing like a dog",
    "But time is standing in the doorway",
    "We dance together on the floor",
]
SECTION_IDS = ("verse1", "chorus1", "verse2", "chorus2")


@dataclass
class Song:
    """Everything validate_song and apply_fixes take, built by hand around a four-section pop song."""

    sds: dict[str, Any]
    plan: Plan
    blueprint: Blueprint
    style: StyleArtifact
    lyrics: LyricsArtifact
    producer: ProducerNotesArtifact

    @property
    def prompt(self) -> ComposedPrompt:
        return compose_prompt(self.plan, self.style, self.lyrics, self.producer)

    def validate(self) -> ValidationReport:
        return validate_song(self.sds, self.plan, self.blueprint, self.style, self.lyrics, self.producer, self.prompt)


def _kind(section_id: str) -> str:
    return "Chorus" if section_id.startswith("chorus") else "Verse"


def make_song(
    sections: dict[str, list[str]] | None = None,
    *,
    scheme: str = "ABAB",
    explicit: bool = False,
    tags: list[str] | None = None,
    negative_tags: list[str] | None = None,
    sds_tags: list[str] | None = None,
    lyrics_max: int = 5000,
) -> Song:
    sections = sections if sections is not None else good_sections()
    planned = [
        PlannedSection(
            id=section_id,
            kind=_kind(section_id),
            label=_kind(section_id),
            target_lines=4,
            min_lines=4,
            max_lines=8,
            target_syllables=9 if _kind(section_id) == "Chorus" else 8,
            hook_role=_kind(section_id) == "Chorus",
            target_duration_sec=20,
        )
        for section_id in SECTION_IDS
    ]
    plan = Plan(
        title=HOOK,
        genre="pop",
        genre_display="Pop",
        blueprint_version="test",
        sections=planned,
        required_kinds=["Chorus", "Verse"],
        rhyme_scheme=scheme,
        hook_line=HOOK,
        node_seeds={"FIX": 7},
        objectives={},
        limits=EngineLimits(
            engine="suno", model="v4.5", lyrics_max=lyrics_max, style_max=1000, exclude_max=None, title_max=80
        ),
        render_enabled=False,
        explicit=explicit,
        max_lines=None,
        target_reading_grade=None,
    )
    style = StyleArtifact(
        genre="pop",
        sub_genres=["synth-pop"],
        bpm=120,
        time_signature="4/4",
        key="C major",
        mood=["uplifting"],
        energy="high",
        instrumentation=["synth", "drums"],
        vocal_profile=VocalProfile(range="tenor", delivery="clean"),
        tags_positive=tags if tags is not None else ["anthemic", "radio-friendly"],
        tags_negative=negative_tags or [],
    )
    lyrics = LyricsArtifact(
        title=HOOK,
        language="en",
        pov="1st",
        tense="present",
        rhyme_scheme=scheme,
        hook_line=HOOK,
        sections=[
            LyricSection(id=sid, kind=_kind(sid), label=_kind(sid), lines=list(lines))
            for sid, lines in sections.items()
        ],
    )
    producer = ProducerNotesArtifact(
        structure="Verse-Chorus-Verse-Chorus",
        hooks=2,
        instrumentation=["synth", "drums"],
        section_meta={},
        mix=MixTargets(lufs=-14.0, space="wide room", stereo_width="wide"),
        duration_sec=180,
    )
    sds = {
        "title": HOOK,
        "style": {"tags": sds_tags or [], "negative_tags": []},
        "lyrics": {"rhyme_scheme": scheme, "constraints": {"explicit": explicit}},
        "seed": 7,
    }
    return Song(sds, plan, load_blueprint_by_slug("pop"), style, lyrics, producer)


def good_sections() -> dict[str, list[str]]:
    return {"verse1": VERSE1, "chorus1": CHORUS, "verse2": VERSE2, "chorus2": CHORUS}


def unrhymed_sections() -> dict[str, list[str]]:
    return {
        "verse1": UNRHYMED_VERSE1,
        "chorus1": UNRHYMED_CHORUS,
        "verse2": UNRHYMED_VERSE2,
        "chorus2": UNRHYMED_CHORUS,
    }


def codes(report: ValidationReport) -> list[str]:
    return [f.code for f in report.hard_fails]


def test_good_lyrics_pass_with_high_scores() -> None:
    report = make_song().validate()
    assert report.validation_result == "pass"
    assert report.hard_fails == []
    assert report.scores.rhyme_tightness >= 80
    assert report.scores.singability >= 80
    assert report.scores.hook_density >= 80
    assert report.scores.section_completeness == 100
    assert report.scores.profanity_score == 100
    assert report.threshold == load_blueprint_by_slug("pop").rubric.min_total
    assert report.metrics["hook_count"] == 4
    assert report.metrics["syllables"]["verse1"] == [8, 8, 8, 8]
    assert {p["kind"] for p in report.metrics["rhyme_pairs"]} == {"perfect"}
    assert {"fk_grade", "rhyme_density", "compression_ratio"} <= report.metrics.keys()


def test_total_is_the_rubric_weighted_sum() -> None:
    report = make_song(unrhymed_sections()).validate()
    weights = load_blueprint_by_slug("pop").rubric.weights.model_dump()
    scores = report.scores.model_dump()
    expected = sum(scores[name] * weight for name, weight in weights.items()) / sum(weights.values())
    assert report.scores.total == pytest.approx(expected, abs=0.1)


def test_unrhymed_lyrics_score_low_and_name_each_broken_line() -> None:
    report = make_song(unrhymed_sections()).validate()
    assert report.scores.rhyme_tightness < 50
    broken = {(i.section, i.line) for i in report.issues if i.code == "rhyme_broken"}
    assert ("verse1", 3) in broken and ("verse1", 4) in broken
    assert ("verse1", 1) not in broken
    low = [i for i in report.issues if i.code == "below_min_component"]
    assert [i.component for i in low] == ["rhyme_tightness"]
    assert low[0].severity == "warning"


def test_one_broken_pair_costs_only_that_pair() -> None:
    sections = good_sections()
    sections["verse2"] = [*VERSE2[:3], "We dance together on the floor"]
    report = make_song(sections).validate()
    assert report.scores.rhyme_tightness == pytest.approx(100 * 7 / 8, abs=0.1)
    assert [(i.section, i.line) for i in report.issues if i.code == "rhyme_broken"] == [("verse2", 4)]


def test_free_verse_is_not_failed_for_not_rhyming() -> None:
    report = make_song(unrhymed_sections(), scheme="FREE").validate()
    assert report.scores.rhyme_tightness >= 85
    assert not [i for i in report.issues if i.code == "rhyme_broken"]


def test_uneven_lines_score_low_singability() -> None:
    short, long = "Hold me now", "We are running through the empty streets of the city all night"
    sections = {sid: [short, long, short, long] for sid in SECTION_IDS}
    report = make_song(sections).validate()
    assert report.metrics["syllables"]["verse1"] == [3, 15, 3, 15]
    assert report.scores.singability < 50
    assert any(i.code == "syllables_off_target" and i.line == 2 for i in report.issues)


def test_empty_lines_are_penalised_heavily() -> None:
    sections = good_sections()
    sections["verse1"] = ["", "", "", ""]
    report = make_song(sections).validate()
    assert report.scores.singability < make_song().validate().scores.singability - 20
    assert report.scores.section_completeness < 100


def test_lyric_without_chorus_fails_hook_and_completeness() -> None:
    report = make_song({"verse1": VERSE1, "verse2": VERSE2}).validate()
    assert report.validation_result == "fail"
    assert report.scores.hook_density < 40
    assert report.scores.section_completeness < 60
    missing = [f for f in report.hard_fails if f.code == "missing_section"]
    assert {f.message.split("'")[1] for f in missing} == {"chorus1", "chorus2"}


def test_profanity_with_explicit_false_is_a_hard_fail() -> None:
    sections = good_sections()
    sections["verse1"] = ["The city hums a sh1tty tune", *VERSE1[1:]]
    report = make_song(sections).validate()
    assert "profanity" in codes(report)
    assert report.scores.profanity_score <= 40
    assert report.validation_result == "fail"
    explicit = make_song(sections, explicit=True).validate()
    assert "profanity" not in codes(explicit)
    assert explicit.scores.profanity_score >= 85


def test_slurs_fail_even_when_explicit() -> None:
    slur = profanity_data()["tiers"]["slur"][0]
    sections = good_sections()
    sections["verse1"] = [f"The city hums a {slur} tune", *VERSE1[1:]]
    report = make_song(sections, explicit=True).validate()
    assert codes(report) == ["profanity"]
    assert report.scores.profanity_score <= 30


def test_conflicting_tags_hard_fail() -> None:
    assert "electronic" in tag_conflicts()["acoustic"]
    report = make_song(tags=["acoustic", "electronic"], negative_tags=["radio-friendly"]).validate()
    assert codes(report) == ["tag_conflict"]
    both = make_song(tags=["anthemic"], negative_tags=["Anthemic"]).validate()
    assert [(f.code, f.field) for f in both.hard_fails] == [("tag_conflict", "style.tags_negative")]


def test_style_of_a_living_artist_hard_fails() -> None:
    assert "Taylor Swift" in {a["name"] for a in living_artists()}
    report = make_song(tags=["anthemic", "in the style of Taylor Swift"]).validate()
    fields = {f.field for f in report.hard_fails if f.code == "living_artist"}
    assert {"style.tags_positive", "composed_prompt.style_text"} <= fields
    sections = good_sections()
    sections["verse2"] = ["I sing it like Taylor Swift", *VERSE2[1:]]
    in_lyrics = make_song(sections).validate()
    assert [(f.code, f.field) for f in in_lyrics.hard_fails] == [("living_artist", "composed_prompt.lyrics_text")]


def test_artist_mentions_are_whole_word_and_case_insensitive() -> None:
    assert [m for m, _ in artist_mentions("sounds like taylor swift")] == ["taylor swift"]
    assert [a["name"] for _, a in artist_mentions("T-Swift energy")] == ["Taylor Swift"]
    assert artist_mentions("a swift tailor") == []
    assert artist_mentions("on a green day", in_lyrics=True) == []
    assert [a["name"] for _, a in artist_mentions("Green Day vibes", in_lyrics=True)] == ["Green Day"]


def test_over_limit_lyrics_hard_fail() -> None:
    song = make_song(lyrics_max=300)
    report = song.validate()
    assert [(f.code, f.field) for f in report.hard_fails] == [("char_limit", "composed_prompt.lyrics_text")]
    assert report.metrics["char_counts"]["lyrics_text"] == len(song.prompt.lyrics_text) > 300


def test_exclusions_share_the_style_field_without_an_exclude_field() -> None:
    song = make_song(negative_tags=["polka"])
    long_style = replace_prompt(song.prompt, style_text="x" * 995)
    report = validate_song(song.sds, song.plan, song.blueprint, song.style, song.lyrics, song.producer, long_style)
    assert [(f.code, f.field) for f in report.hard_fails] == [("char_limit", "composed_prompt.exclude_text")]


def replace_prompt(prompt: ComposedPrompt, **changes: Any) -> ComposedPrompt:
    return prompt.model_copy(update=changes)


def test_validation_is_deterministic() -> None:
    song = make_song(unrhymed_sections())
    assert song.validate().model_dump() == song.validate().model_dump()
    assert replace(song).validate().to_state() == song.validate().to_state()


def test_artist_names_split_by_punctuation_are_found() -> None:
    assert [a["name"] for _, a in artist_mentions("like Taylor-Swift tonight")] == ["Taylor Swift"]
    assert [a["name"] for _, a in artist_mentions("Taylor.Swift energy", in_lyrics=True)] == ["Taylor Swift"]
    assert [a["name"] for _, a in artist_mentions("K Dot flow")] == [a["name"] for _, a in artist_mentions("K-Dot")]
    assert [a["name"] for _, a in artist_mentions("H.E.R. and H-E-R")] == ["H.E.R."] * 2
    assert artist_mentions("a swift-tailor") == []


def test_a_living_artist_in_the_title_hard_fails() -> None:
    song = make_song()
    song.lyrics.title = "Taylor-Swift Dreams"
    assert [(f.code, f.field) for f in song.validate().hard_fails] == [("living_artist", "composed_prompt.title")]


@pytest.mark.parametrize("blank", [["", "", "", ""], ["   ", "\t", " ", ""], ["...", "!!!", "?", "--"]])
def test_a_planned_section_without_words_hard_fails_like_a_missing_one(blank: list[str]) -> None:
    sections = good_sections()
    sections["verse2"] = blank
    report = make_song(sections).validate()
    assert report.validation_result == "fail"
    assert [(f.code, f.field) for f in report.hard_fails] == [("missing_section", "lyrics.sections.verse2.lines")]
    assert "empty_section" in {i.code for i in report.issues}
