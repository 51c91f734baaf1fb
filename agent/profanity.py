"""Tiered profanity detection (leetspeak, masks, spelled-out words, Unicode folding, allowlist) and clean words."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from agent.taxonomy import profanity_data

TIER_ORDER = ("slur", "strong", "moderate", "mild")
_SUFFIXES = ("in'", "ing", "in", "ers", "er", "es", "ed", "s")
_EDGE_PUNCTUATION = "!|(<+'-"
_RUN_OF_THREE = re.compile(r"(.)\1{2,}")
# Single characters joined by one repeated separator: "s.h.i.t", "f-u-c-k", "f u c k".
_SPELLED = re.compile(r"(?<![\w@$!])[\w@$!](?P<sep>[.\-_ ])[\w@$!](?:(?P=sep)[\w@$!])+(?![\w@$!])")


@dataclass(frozen=True)
class ProfanityHit:
    word: str
    normalised: str
    tier: str
    line: int
    offset: int

    @property
    def end(self) -> int:
        return self.offset + len(self.word)


@dataclass(frozen=True)
class _Lexicon:
    pattern: re.Pattern[str]
    tiers: dict[str, str]
    allowlist: frozenset[str]
    leet: dict[int, str]
    masked_by_length: dict[int, tuple[str, ...]]
    replacements: dict[str, str]
    homoglyphs: dict[str, str]


def _tier_rank(tier: str) -> int:
    return TIER_ORDER.index(tier) if tier in TIER_ORDER else len(TIER_ORDER)


@cache
def _lexicon() -> _Lexicon:
    data = profanity_data()
    tiers: dict[str, str] = {}
    # The most severe tier wins when a word is listed twice.
    for tier in sorted(data["tiers"], key=_tier_rank, reverse=True):
        for word in data["tiers"][tier]:
            tiers[word.lower()] = tier
    leet = {ord(char): letter.lower() for char, letter in data.get("leetspeak", {}).items() if len(char) == 1}
    allow_words = {w.lower() for w in data.get("allowlist", []) if " " not in w.strip()}
    allow_phrases = sorted((w.lower() for w in data.get("allowlist", []) if " " in w.strip()), key=len, reverse=True)
    leet_chars = "".join(re.escape(c) for c in sorted(chr(k) for k in leet) if not c.isspace())
    token = rf"[A-Za-z0-9'*{leet_chars}]*[A-Za-z0-9*{leet_chars}]"
    phrases = "|".join(r"\s+".join(map(re.escape, p.split())) for p in allow_phrases)
    allow_group = rf"(?P<allow>(?<![A-Za-z])(?:{phrases})(?![A-Za-z]))|" if phrases else ""
    pattern = re.compile(rf"{allow_group}(?P<token>{token}'?)", re.IGNORECASE)
    masked: dict[int, list[str]] = {}
    for word in sorted(tiers, key=lambda w: (_tier_rank(tiers[w]), w)):
        masked.setdefault(len(word), []).append(word)
    return _Lexicon(
        pattern=pattern,
        tiers=tiers,
        allowlist=frozenset(allow_words),
        leet=leet,
        masked_by_length={k: tuple(v) for k, v in masked.items()},
        replacements={k.lower(): v for k, v in data.get("replacements", {}).items()},
        homoglyphs=dict(data.get("homoglyphs", {})),
    )


def _match_masked(token: str, lexicon: _Lexicon) -> str | None:
    """A profane word that `token` spells with some letters replaced by '*', e.g. 'f*ck', 'sh**'."""
    if sum(c.isalpha() for c in token) < 1 or len(token) < 3:
        return None
    for word in lexicon.masked_by_length.get(len(token), ()):
        if all(t == "*" or t == w for t, w in zip(token, word, strict=True)):
            return word
    return None


def _exact(form: str, lexicon: _Lexicon) -> str | None:
    if form in lexicon.tiers:
        return form
    if "*" in form:
        return _match_masked(form, lexicon)
    return None


def _lookup(form: str, lexicon: _Lexicon) -> tuple[str, str] | None:
    """(listed word, inflection suffix) that `form` is, masks or inflects; allowlisted words are clean."""
    if form in lexicon.allowlist:
        return None
    found = _exact(form, lexicon)
    if found is not None:
        return found, ""
    for suffix in _SUFFIXES:
        stem = form[: -len(suffix)]
        if not form.endswith(suffix) or len(stem) < 3 or stem in lexicon.allowlist:
            continue
        if suffix.startswith("in"):
            found = _exact(stem + "ing", lexicon)
            if found is not None:
                return found, "in"
        stems = [stem, stem[:-1]] if len(stem) > 3 and stem[-1] == stem[-2] else [stem]
        for candidate in stems:
            found = _exact(candidate, lexicon)
            if found is not None:
                return found, suffix.rstrip("'")
    return None


def _forms(written: str, lexicon: _Lexicon) -> list[str]:
    """Normalised spellings of a written word to look up, most literal first."""
    form = written.lower().translate(lexicon.leet).strip("'")
    forms = [form]
    if _RUN_OF_THREE.search(form):
        forms += [_RUN_OF_THREE.sub(r"\1\1", form), _RUN_OF_THREE.sub(r"\1", form)]
    return forms


@dataclass(frozen=True)
class _Analysis:
    word: str
    suffix: str
    written: str
    offset: int


def _analyse(token: str, lexicon: _Lexicon) -> _Analysis | None:
    """The profane word a token spells, its inflection and the written span, or None when it is clean."""
    if token.isdigit():
        return None
    stripped = token.strip(_EDGE_PUNCTUATION + "'")
    spans = [token]
    if stripped and stripped != token:
        spans.append(stripped)
    for span in spans:
        if span.lower().strip("'") in lexicon.allowlist:
            return None
        for form in _forms(span, lexicon):
            found = _lookup(form, lexicon)
            if found is not None:
                written = span.lstrip("'") if span.lower().endswith("in'") else span.strip("'")
                return _Analysis(found[0], found[1], written, token.index(written))
    return None


def _is_invisible(char: str) -> bool:
    return unicodedata.category(char) == "Cf" or unicodedata.combining(char) > 0


def _fold(line: str, homoglyphs: dict[str, str]) -> tuple[str, list[int]]:
    """`line` with look-alike letters of other scripts (taxonomies/profanity.json `homoglyphs`), compatibility forms
    and accented letters folded to ASCII (Cyrillic i to "i", long s to "s", u-umlaut to "u") and
    invisible characters (zero-width joiners, soft hyphens, combining marks) dropped, with the index in `line`
    of each folded character."""
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(line):
        if char.isascii():
            parts = char
        elif char in homoglyphs:
            parts = homoglyphs[char]
        elif _is_invisible(char):
            continue
        else:
            parts = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            parts = parts if parts.isascii() else char
        folded.append(parts)
        origin += [index] * len(parts)
    return "".join(folded), origin


def _spans(folded: str, lexicon: _Lexicon) -> list[tuple[int, int, str]]:
    """(start, end, listed word) in `folded` for every profane token and spelled-out word."""
    spans = []
    for match in lexicon.pattern.finditer(folded):
        token = match.group("token")
        analysed = _analyse(token, lexicon) if token is not None else None
        if analysed is not None:
            start = match.start("token") + analysed.offset
            spans.append((start, start + len(analysed.written), analysed.word))
    for match in _SPELLED.finditer(folded):
        analysed = _analyse(match.group(0).replace(match.group("sep"), ""), lexicon)
        if analysed is not None:
            spans.append((match.start(), match.end(), analysed.word))
    return sorted(spans)


def find_profanity(text: str) -> list[ProfanityHit]:
    """Every listed profane word in `text`, by line (0-based) and character offset within the line."""
    lexicon = _lexicon()
    hits: list[ProfanityHit] = []
    for line_index, line in enumerate(text.split("\n")):
        folded, origin = (line, []) if line.isascii() else _fold(line, lexicon.homoglyphs)
        for start, end, word in _spans(folded, lexicon):
            if origin:
                start, end = origin[start], origin[end - 1] + 1
                while end < len(line) and _is_invisible(line[end]):
                    end += 1
            hits.append(ProfanityHit(line[start:end], word, lexicon.tiers[word], line_index, start))
    return hits


def _match_case(template: str, word: str) -> str:
    letters = [c for c in template if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return word.upper()
    if letters and letters[0].isupper():
        return word[:1].upper() + word[1:]
    return word


def _inflect(word: str, suffix: str) -> str:
    if suffix == "es" and not word.endswith(("s", "x", "z", "ch", "sh")):
        suffix = "s"
    if suffix.startswith("e") and word.endswith("e"):
        suffix = suffix[1:]
    return word + suffix


def clean_word(word: str) -> str:
    """The clean replacement for a profane word, in the same capitalisation; '' when the list has none."""
    folded = word if word.isascii() else _fold(word, _lexicon().homoglyphs)[0]
    match = _SPELLED.fullmatch(folded)
    analysed = _analyse(folded.replace(match.group("sep"), "") if match else folded, _lexicon())
    if analysed is None:
        return word
    replacement = _lexicon().replacements.get(analysed.word)
    if replacement is None:
        return ""
    if analysed.suffix == "in":
        replacement = replacement[:-1] if replacement.endswith("ing") else _inflect(replacement, "in")
    elif analysed.suffix:
        replacement = _inflect(replacement, analysed.suffix)
    if word.endswith("in'") and replacement.endswith("in"):
        replacement += "'"
    return _match_case(word, replacement)


def clean_line(line: str, tiers: tuple[str, ...] = TIER_ORDER) -> str:
    """`line` with every hit of the given tiers replaced by its clean word (dropped when there is none)."""
    for hit in sorted(find_profanity(line), key=lambda h: h.offset, reverse=True):
        if hit.tier not in tiers:
            continue
        replacement = clean_word(hit.word)
        line = line[: hit.offset] + replacement + line[hit.end :]
        if not replacement:
            line = re.sub(r"\s{2,}", " ", line).strip()
    return line
