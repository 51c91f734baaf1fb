"""Rhyme-scheme notation: normalising SDS schemes and mapping a scheme onto a section's lines."""

from __future__ import annotations

import re

FREE = "FREE"
_LETTERS = re.compile(r"^[A-Z]{2,16}$")


def normalise_scheme(raw: str | None, default: str = "ABAB") -> tuple[str, str | None]:
    """Return (scheme, warning): letters such as 'ABAB', or FREE; unknown notations fall back to `default`."""
    if raw is None or not raw.strip():
        return default, None
    cleaned = re.sub(r"[\s\-_/]", "", raw).upper()
    if cleaned in {"FREE", "FREEVERSE", "NONE", "BLANK"}:
        return FREE, None
    if _LETTERS.match(cleaned) and _is_canonical(cleaned):
        return cleaned, None
    return default, f"lyrics.rhyme_scheme {raw!r} is not a letter pattern or 'Free'; used {default}"


def _is_canonical(letters: str) -> bool:
    """True for patterns that introduce letters in order from A, as ABAB and AABC do (and COMPLEX does not)."""
    next_new = ord("A")
    for letter in letters:
        if ord(letter) == next_new:
            next_new += 1
        elif ord(letter) > next_new:
            return False
    return True


def rhyme_groups(scheme: str, line_count: int) -> list[list[int]]:
    """Groups of line indices that must rhyme with each other.

    The pattern repeats stanza by stanza; a letter names a new group in each stanza, and a letter that
    occurs once in a stanza (the C in ABCB) has no partner, so it forms no group.
    """
    if scheme == FREE or line_count < 2:
        return []
    groups: list[list[int]] = []
    width = len(scheme)
    for start in range(0, line_count, width):
        by_letter: dict[str, list[int]] = {}
        for offset, letter in enumerate(scheme):
            index = start + offset
            if index >= line_count:
                break
            by_letter.setdefault(letter, []).append(index)
        groups.extend(members for _, members in sorted(by_letter.items()) if len(members) > 1)
    return groups


def letters_for(scheme: str, line_count: int) -> list[str | None]:
    """The scheme letter each line carries (None under FREE)."""
    if scheme == FREE:
        return [None] * line_count
    return [scheme[i % len(scheme)] for i in range(line_count)]
