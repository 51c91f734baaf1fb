"""FIX: hard fails repaired, else only the weakest component; every change recorded, nothing else touched."""

from __future__ import annotations

from agent import phonetics
from agent.fix import FixOutcome, apply_fixes
from agent.models import LyricsArtifact, StyleArtifact, ValidationReport
from agent.profanity import find_profanity
from agent.taxonomy import living_artists
from agent.validate import validate_song
from tests.unit.agent.test_validate import CHORUS, VERSE1, VERSE2, Song, codes, good_sections, make_song


def fix(song: Song, report: ValidationReport | None = None, iteration: int = 1) -> FixOutcome:
    report = report or song.validate()
    return apply_fixes(
        song.sds,
        song.plan,
        song.blueprint,
        song.style,
        song.lyrics,
        song.producer,
        report,
        iteration,
        seed=11,
    )


def fixed(song: Song, outcome: FixOutcome) -> Song:
    return Song(song.sds, song.plan, song.blueprint, outcome.style, outcome.lyrics, outcome.producer)


def lines_by_position(lyrics: LyricsArtifact) -> dict[tuple[str, int], str]:
    return {(s.id, i): line for s in lyrics.sections for i, line in enumerate(s.lines)}


def changed_positions(before: LyricsArtifact, after: LyricsArtifact) -> set[tuple[str, int]]:
    old, new = lines_by_position(before), lines_by_position(after)
    return {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}


def test_broken_rhymes_are_rewritten_and_nothing_else_changes() -> None:
    sections = good_sections()
    sections["verse2"] = [
        VERSE2[0],
        VERSE2[1],
        "But time is standing in the doorway",
        "We dance upon the kitchen floor",
    ]
    song = make_song(sections)
    report = song.validate()
    assert report.hard_fails == []
    outcome = fix(song, report)
    assert outcome.record.component == "rhyme_tightness"
    assert changed_positions(song.lyrics, outcome.lyrics) == {("verse2", 2), ("verse2", 3)}
    assert [c.target for c in outcome.record.changes] == ["verse2 line 3", "verse2 line 4"]
    verse2 = next(s for s in outcome.lyrics.sections if s.id == "verse2")
    assert phonetics.rhymes(phonetics.end_word(verse2.lines[2]), "hill")
    assert phonetics.rhymes(phonetics.end_word(verse2.lines[3]), "train")
    for change in outcome.record.changes:
        assert change.artifact == "lyrics" and change.before in sections["verse2"] and change.after in verse2.lines
    after = fixed(song, outcome).validate()
    assert after.scores.rhyme_tightness > report.scores.rhyme_tightness
    assert outcome.style == song.style and outcome.producer == song.producer


def test_profane_word_is_replaced_in_place() -> None:
    sections = good_sections()
    sections["verse1"] = ["The city hums a shitty tune", *VERSE1[1:]]
    song = make_song(sections)
    report = song.validate()
    assert codes(report) == ["profanity"]
    outcome = fix(song, report)
    assert outcome.record.component == "profanity"
    assert changed_positions(song.lyrics, outcome.lyrics) == {("verse1", 0)}
    [change] = outcome.record.changes
    assert (change.artifact, change.target, change.before) == (
        "lyrics",
        "verse1 line 1",
        sections["verse1"][0],
    )
    assert change.after.startswith("The city hums a ") and change.after.endswith(" tune")
    assert find_profanity(change.after) == []
    assert "profanity" not in codes(fixed(song, outcome).validate())


def test_conflicting_tag_is_dropped_sds_tags_outrank_generated_ones() -> None:
    song = make_song(tags=["electronic", "radio-friendly", "acoustic"], negative_tags=["radio-friendly", "polka"])
    outcome = fix(song)
    assert outcome.style.tags_positive == ["electronic", "radio-friendly"]
    assert outcome.style.tags_negative == ["polka"]
    assert {(c.target, c.before) for c in outcome.record.changes} == {
        ("tags_positive", "acoustic"),
        ("tags_negative", "radio-friendly"),
    }
    assert "tag_conflict" not in codes(fixed(song, outcome).validate())

    given = make_song(tags=["electronic", "radio-friendly", "acoustic"], sds_tags=["acoustic"])
    assert fix(given).style.tags_positive == ["radio-friendly", "acoustic"]


def test_living_artist_becomes_its_generic_description() -> None:
    sections = good_sections()
    sections["verse2"] = ["I sing it like Taylor Swift", *VERSE2[1:]]
    song = make_song(sections, tags=["anthemic", "in the style of Taylor Swift"])
    assert {"living_artist"} == set(codes(song.validate()))
    outcome = fix(song)
    generic = next(a for a in living_artists() if a["name"] == "Taylor Swift")["generic_description"]
    assert outcome.style.tags_positive == ["anthemic", generic]
    assert changed_positions(song.lyrics, outcome.lyrics) == {("verse2", 0)}
    assert "Taylor Swift" not in outcome.lyrics.sections[2].lines[0]
    assert {c.artifact for c in outcome.record.changes} == {"style", "lyrics"}
    assert "living_artist" not in codes(fixed(song, outcome).validate())


def test_over_limit_lyrics_are_trimmed_from_verses_below_the_limit() -> None:
    sections = {"verse1": VERSE1 + VERSE2, "chorus1": CHORUS, "verse2": VERSE2 + VERSE1, "chorus2": CHORUS}
    roomy = make_song(sections)
    limit = len(roomy.prompt.lyrics_text) - 60
    song = make_song(sections, lyrics_max=limit)
    assert codes(song.validate()) == ["char_limit"]
    outcome = fix(song)
    trimmed = fixed(song, outcome)
    assert len(trimmed.prompt.lyrics_text) <= limit
    assert "char_limit" not in codes(trimmed.validate())
    changed = changed_positions(song.lyrics, outcome.lyrics)
    assert changed and {sid for sid, _ in changed} <= {"verse1", "verse2"}
    assert all(c.action == "drop_line_for_length" and c.after == "" for c in outcome.record.changes)
    assert len(outcome.record.changes) == sum(len(s.lines) for s in song.lyrics.sections) - sum(
        len(s.lines) for s in outcome.lyrics.sections
    )
    assert all(len(s.lines) >= 4 for s in outcome.lyrics.sections)


def test_fixed_artifacts_carry_no_stale_hash() -> None:
    sections = good_sections()
    sections["verse1"] = ["The city hums a damn tune", *VERSE1[1:]]
    song = make_song(sections)
    song.style = StyleArtifact.model_validate(song.style.to_state())
    song.lyrics = LyricsArtifact.model_validate(song.lyrics.to_state())
    assert song.lyrics.artifact_hash is not None
    outcome = fix(song)
    assert outcome.lyrics.artifact_hash is None and outcome.style.artifact_hash is None
    assert song.lyrics.sections[0].lines[0] == "The city hums a damn tune"


def test_missing_section_is_restored_in_plan_order() -> None:
    song = make_song({"verse1": VERSE1, "chorus1": CHORUS, "verse2": VERSE2})
    report = song.validate()
    assert codes(report) == ["missing_section"]
    outcome = fix(song, report)
    assert [s.id for s in outcome.lyrics.sections] == ["verse1", "chorus1", "verse2", "chorus2"]
    chorus2 = outcome.lyrics.sections[3]
    assert len(chorus2.lines) == 4
    assert [(c.target, c.action) for c in outcome.record.changes] == [("chorus2", "add_section")]
    assert changed_positions(song.lyrics, outcome.lyrics) == {("chorus2", i) for i in range(4)}
    after = fixed(song, outcome).validate()
    assert after.hard_fails == []
    assert after.scores.hook_density > report.scores.hook_density


def test_a_chorus_without_the_hook_gets_it_back() -> None:
    sections = good_sections()
    sections["chorus2"] = list(VERSE2)
    song = make_song(sections, scheme="FREE")
    report = song.validate()
    assert any(i.code == "hook_missing" and i.section == "chorus2" for i in report.issues)
    outcome = fix(song, report)
    assert outcome.record.component == "hook_density"
    assert changed_positions(song.lyrics, outcome.lyrics) == {("chorus2", 4)}
    [change] = outcome.record.changes
    assert (change.target, change.action, change.before) == ("chorus2 line 5", "add_hook_line", "")
    assert "hold on tonight" in change.after.lower()
    assert fixed(song, outcome).validate().scores.hook_density > report.scores.hook_density


def test_off_target_lines_are_refitted() -> None:
    sections = good_sections()
    sections["verse1"] = [VERSE1[0], "I walk alone and lonely underneath the yellow light", *VERSE1[2:]]
    song = make_song(sections, scheme="FREE")
    report = song.validate()
    assert report.hard_fails == []
    outcome = fix(song, report)
    assert outcome.record.component == "singability"
    assert changed_positions(song.lyrics, outcome.lyrics) == {("verse1", 1)}
    new_line = outcome.lyrics.sections[0].lines[1]
    assert phonetics.rhyme_kind(phonetics.end_word(new_line), "light") in ("identical", "perfect", "slant")
    assert abs(phonetics.line_syllables(new_line) - 8) <= 1
    assert fixed(song, outcome).validate().scores.singability > report.scores.singability


def test_unchanged_report_inputs_give_identical_fixes() -> None:
    sections = good_sections()
    sections["verse1"] = ["The city hums a shitty tune", *VERSE1[1:]]
    song = make_song(sections)
    report = validate_song(song.sds, song.plan, song.blueprint, song.style, song.lyrics, song.producer, song.prompt)
    assert fix(song, report).model_dump() == fix(song, report).model_dump()


def test_over_long_title_is_cut_at_a_word_boundary_within_the_limit() -> None:
    song = make_song()
    song.lyrics.title = "Neon Skyline " * 8 + "Forever"
    assert "char_limit" in codes(song.validate())
    outcome = fix(song)
    title = outcome.lyrics.title
    assert len(title) <= song.plan.limits.title_max
    assert song.lyrics.title.startswith(title) and not title.endswith(" ")
    assert song.lyrics.title[len(title)] == " ", "cut between words"
    assert [(c.target, c.action) for c in outcome.record.changes] == [("title", "trim_title_for_length")]
    assert changed_positions(song.lyrics, outcome.lyrics) == set()
    assert "char_limit" not in codes(fixed(song, outcome).validate())


def test_profane_title_is_cleaned_when_explicit_is_false() -> None:
    song = make_song()
    song.lyrics.title = "Damn Summer Nights"
    assert "profanity" in codes(song.validate())
    outcome = fix(song)
    assert "damn" not in outcome.lyrics.title.lower()
    assert outcome.lyrics.title.endswith("Summer Nights")
    assert "profanity" not in codes(fixed(song, outcome).validate())


def test_a_section_without_words_is_rewritten_and_nothing_else_changes() -> None:
    sections = good_sections()
    sections["verse2"] = ["", "  ", "...", ""]
    song = make_song(sections)
    report = song.validate()
    assert codes(report) == ["missing_section"]
    outcome = fix(song, report)
    assert changed_positions(song.lyrics, outcome.lyrics) == {("verse2", i) for i in range(4)}
    verse2 = outcome.lyrics.sections[2]
    assert all(phonetics.tokenize(line) for line in verse2.lines)
    assert [(c.target, c.action, c.before) for c in outcome.record.changes] == [
        ("verse2", "rewrite_empty_section", "\n".join(sections["verse2"]))
    ]
    assert outcome.record.changes[0].after == "\n".join(verse2.lines)
    assert fixed(song, outcome).validate().hard_fails == []


def test_a_living_artist_in_the_title_or_genre_is_replaced() -> None:
    song = make_song()
    song.lyrics.title = "Taylor-Swift Nights"
    song.style.genre = "Taylor Swift pop"
    assert {f.field for f in song.validate().hard_fails} == {"composed_prompt.title", "composed_prompt.style_text"}
    outcome = fix(song)
    assert "Taylor" not in outcome.lyrics.title and outcome.lyrics.title.endswith(" Nights")
    assert "Taylor" not in outcome.style.genre
    assert {(c.target, c.before) for c in outcome.record.changes} == {
        ("title", "Taylor-Swift Nights"),
        ("genre", "Taylor Swift pop"),
    }
    assert changed_positions(song.lyrics, outcome.lyrics) == set()
    assert fixed(song, outcome).validate().hard_fails == []


def test_a_disguised_profane_word_is_cleaned() -> None:
    sections = good_sections()
    sections["verse1"] = ["The city hums a \u017fhitty tune", *VERSE1[1:]]
    song = make_song(sections)
    assert codes(song.validate()) == ["profanity"]
    outcome = fix(song)
    assert changed_positions(song.lyrics, outcome.lyrics) == {("verse1", 0)}
    assert outcome.lyrics.sections[0].lines[0].endswith(" tune")
    assert fixed(song, outcome).validate().hard_fails == []


def test_profane_style_tags_fail_validation_and_are_cleaned_without_touching_lyrics() -> None:
    song = make_song(tags=["anthemic", "shitty lo-fi", "radio-friendly"], negative_tags=["fucking autotune"])
    report = song.validate()
    assert {(f.code, f.field) for f in report.hard_fails} >= {
        ("profanity", "composed_prompt.style_text"),
        ("profanity", "composed_prompt.exclude_text"),
    }
    outcome = fix(song)
    assert outcome.style.tags_positive[0] == "anthemic" and outcome.style.tags_positive[2] == "radio-friendly"
    assert "shit" not in " ".join(outcome.style.tags_positive).lower()
    assert "fuck" not in " ".join(outcome.style.tags_negative).lower()
    assert changed_positions(song.lyrics, outcome.lyrics) == set()
    assert {c.artifact for c in outcome.record.changes} == {"style"}
    assert "profanity" not in codes(fixed(song, outcome).validate())
