"""Rhyme-scheme notation: normalising SDS schemes and which lines of a section must rhyme."""

from __future__ import annotations

import pytest

from agent.rhyme_scheme import FREE, letters_for, normalise_scheme, rhyme_groups


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ABAB", "ABAB"),
        ("abab", "ABAB"),
        ("A-B-A-B", "ABAB"),
        ("a b c b", "ABCB"),
        ("AABB", "AABB"),
        ("AAAA", "AAAA"),
        ("AABC", "AABC"),
        ("Free", FREE),
        ("free verse", FREE),
        ("none", FREE),
    ],
)
def test_normalise_known_schemes(raw: str, expected: str) -> None:
    assert normalise_scheme(raw) == (expected, None)


@pytest.mark.parametrize("raw", ["Complex", "BABA", "ACAB", "A", "AB12", "x" * 20])
def test_unknown_notation_falls_back_with_warning(raw: str) -> None:
    scheme, warning = normalise_scheme(raw)
    assert scheme == "ABAB"
    assert warning is not None and repr(raw) in warning


def test_fallback_default_is_configurable() -> None:
    assert normalise_scheme("Complex", default="AABB")[0] == "AABB"
    assert normalise_scheme(None, default="AABB") == ("AABB", None)


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_missing_scheme_is_default_without_warning(raw: str | None) -> None:
    assert normalise_scheme(raw) == ("ABAB", None)


def test_abab_over_six_lines() -> None:
    # the second stanza has only A and B once each, so it adds no rhyme group
    assert rhyme_groups("ABAB", 6) == [[0, 2], [1, 3]]
    assert letters_for("ABAB", 6) == ["A", "B", "A", "B", "A", "B"]


def test_abab_over_eight_lines_repeats_per_stanza() -> None:
    assert rhyme_groups("ABAB", 8) == [[0, 2], [1, 3], [4, 6], [5, 7]]


def test_abcb_leaves_the_unpaired_lines_free() -> None:
    assert rhyme_groups("ABCB", 4) == [[1, 3]]
    assert rhyme_groups("ABCB", 8) == [[1, 3], [5, 7]]
    assert letters_for("ABCB", 4) == ["A", "B", "C", "B"]


def test_aabb_with_an_odd_line_count() -> None:
    assert rhyme_groups("AABB", 5) == [[0, 1], [2, 3]]
    assert rhyme_groups("AABB", 7) == [[0, 1], [2, 3], [4, 5]]
    assert letters_for("AABB", 5) == ["A", "A", "B", "B", "A"]


def test_free_has_no_groups_and_no_letters() -> None:
    assert rhyme_groups(FREE, 8) == []
    assert letters_for(FREE, 3) == [None, None, None]


def test_aaaa_rhymes_every_line_of_a_stanza() -> None:
    assert rhyme_groups("AAAA", 4) == [[0, 1, 2, 3]]
    assert rhyme_groups("AAAA", 6) == [[0, 1, 2, 3], [4, 5]]
    assert letters_for("AAAA", 2) == ["A", "A"]


@pytest.mark.parametrize("count", [0, 1])
def test_too_few_lines_have_no_groups(count: int) -> None:
    assert rhyme_groups("ABAB", count) == []
    assert len(letters_for("ABAB", count)) == count
