"""Text analysis from CMUdict: syllables, stress, rhyme classes, readability, rhyme density, repetitiveness."""

from __future__ import annotations

from typing import Literal

RhymeKind = Literal["identical", "perfect", "slant", "assonance", "none"]


def tokenize(line: str) -> list[str]:
    """Lower-case words of a line, apostrophes kept inside words ("don't", "runnin'"), punctuation dropped."""
    raise NotImplementedError


def phones(word: str) -> list[str]:
    """ARPAbet phones (with stress digits) of a word's first CMUdict pronunciation, or a heuristic guess."""
    raise NotImplementedError


def syllables(word: str) -> int:
    raise NotImplementedError


def line_syllables(line: str) -> int:
    raise NotImplementedError


def stress_pattern(line: str) -> str:
    """One digit per syllable: 1 primary, 2 secondary, 0 unstressed (one-syllable function words as 0)."""
    raise NotImplementedError


def rhyming_part(word: str) -> tuple[str, ...]:
    """Phones from the last stressed vowel to the end, stress digits removed."""
    raise NotImplementedError


def rhyme_kind(a: str, b: str) -> RhymeKind:
    raise NotImplementedError


def rhymes(a: str, b: str) -> bool:
    """True for perfect or slant rhymes (not identical words, not mere assonance)."""
    raise NotImplementedError


def end_word(line: str) -> str:
    raise NotImplementedError


def flesch_kincaid_grade(lines: list[str]) -> float:
    raise NotImplementedError


def flesch_reading_ease(lines: list[str]) -> float:
    raise NotImplementedError


def rhyme_density(lines: list[str]) -> float:
    raise NotImplementedError


def compression_ratio(text: str) -> float:
    raise NotImplementedError
