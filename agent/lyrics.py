"""Offline lyric writer: deterministic template lines on CMUdict rhyme families, hooks and reading level."""

from __future__ import annotations

import itertools
import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from agent import phonetics
from agent.models import Citation, LyricsArtifact, LyricSection, Plan, PlannedSection
from agent.paths import taxonomy_file
from agent.rhyme_scheme import FREE, rhyme_groups
from agent.taxonomy import Blueprint

__all__ = ["LineWriter", "distinct_rhyme", "rhyme_partners", "write_lyrics"]

MAX_SIMPLICITY = 3
HOOK_STRATEGIES = ("melodic", "lyrical", "call-response", "chant")
REPETITION_POLICIES = ("sparse", "moderate", "hook-heavy")
_SLOT = re.compile(r"\{([^{}]+)\}")
_PART = re.compile(r"\[([^\[\]]*)\]|([^\[\]]+)")
_ARTICLE = re.compile(r"\b([Aa]n?) ([A-Za-z][\w']*)")
_VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"})


# ------------------------------------------------------------------------------------------------- data


@cache
def _read(name: str) -> dict[str, Any]:
    with taxonomy_file("lyrics", name).open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def _bank() -> dict[str, Any]:
    return _read("phrasebank.json")


@dataclass(frozen=True)
class _Template:
    text: str
    category: str
    roles: frozenset[str]
    parts: tuple[tuple[str, bool], ...]
    needs: str | None = None

    @property
    def mod_key(self) -> str:
        return f"{self.category}:{self.needs}" if self.needs else self.category

    @property
    def has_theme(self) -> bool:
        return "{theme}" in self.text

    @property
    def has_image(self) -> bool:
        return "{image}" in self.text


@dataclass(frozen=True)
class _Vocab:
    words: tuple[str, ...]
    by_category: dict[str, tuple[str, ...]]
    categories_of: dict[str, tuple[str, ...]]
    families: dict[tuple[str, ...], tuple[str, ...]]
    family_keys: tuple[tuple[str, ...], ...]
    tense_only: dict[str, frozenset[str]]
    templates: dict[str, tuple[_Template, ...]]


def _parse_template(text: str, category: str, roles: Iterable[str] | None, needs: str | None = None) -> _Template:
    parts = tuple((m.group(1), True) if m.group(1) is not None else (m.group(2), False) for m in _PART.finditer(text))
    all_roles = frozenset(_bank()["category_weights"])
    return _Template(
        text=text, category=category, roles=frozenset(roles) if roles else all_roles, parts=parts, needs=needs
    )


@dataclass(frozen=True)
class _Scene:
    """One verse's world: the end words it prefers, its {scene} subjects and {image} phrases."""

    id: str
    genres: frozenset[str]
    themes: frozenset[str]
    subjects: tuple[str, ...]
    images: tuple[str, ...]
    words: frozenset[str]


@dataclass(frozen=True)
class _World:
    """taxonomies/lyrics/scenes.json, parsed: scenes, beats, word affinities and template word tags."""

    scenes: tuple[_Scene, ...]
    beats: dict[str, tuple[str, ...]]
    beat_categories: dict[str, dict[str, float]]
    weights: dict[str, float]
    theme_phrases: dict[str, tuple[str, ...]]
    genre_avoid: dict[str, frozenset[str]]
    weak: dict[str, frozenset[str]]
    strong: frozenset[str]
    tags: dict[str, frozenset[str]]


@cache
def _world() -> _World:
    data = _read("scenes.json")
    scenes = tuple(
        _Scene(
            id=str(s["id"]),
            genres=frozenset(s["genres"]),
            themes=frozenset(s["themes"]),
            subjects=tuple(s.get("subjects") or ()),
            images=tuple(s.get("images") or ()),
            words=frozenset(s["words"]),
        )
        for s in data["scenes"]
    )
    return _World(
        scenes=scenes,
        beats={role: tuple(beats) for role, beats in data["beats"].items()},
        beat_categories={b: {c: float(w) for c, w in cats.items()} for b, cats in data["beat_categories"].items()},
        weights={k: float(v) for k, v in data["weights"].items()},
        theme_phrases={k: tuple(v) for k, v in data["theme_phrases"].items()},
        genre_avoid={g: frozenset(ws) for g, ws in data["genre_avoid"].items()},
        weak={c: frozenset(ws) for c, ws in data["weak"].items()},
        strong=frozenset(data["strong"]),
        tags={t: frozenset(ws) for t, ws in data["word_tags"].items()},
    )


@cache
def _vocab() -> _Vocab:
    data = _read("end_words.json")
    by_category = {cat: tuple(words) for cat, words in data["words"].items()}
    categories_of: dict[str, list[str]] = {}
    for cat, words in by_category.items():
        for word in words:
            categories_of.setdefault(word, []).append(cat)
    words = tuple(sorted(categories_of))
    grouped: dict[tuple[str, ...], list[str]] = {}
    for word in words:
        grouped.setdefault(phonetics.rhyming_part(word), []).append(word)
    families = {key: tuple(members) for key, members in grouped.items() if len(members) >= 2}
    templates = {
        cat: tuple(_parse_template(entry["t"], cat, entry.get("roles"), entry.get("needs")) for entry in entries)
        for cat, entries in _bank()["templates"].items()
    }
    return _Vocab(
        words=words,
        by_category=by_category,
        categories_of={w: tuple(c) for w, c in categories_of.items()},
        families=families,
        family_keys=tuple(sorted(families)),
        tense_only={w: frozenset(t) for w, t in data["tense_only"].items()},
        templates=templates,
    )


# ------------------------------------------------------------------------------------------------ rhyme


def _onset(word: str) -> tuple[str, ...]:
    """Consonants just before the rhyming part: equal onsets make an identical rhyme (light / moonlight)."""
    phones = phonetics.phones(word)
    before = phones[: len(phones) - len(phonetics.rhyming_part(word))]
    cluster: list[str] = []
    for phone in reversed(before):
        if phone[-1].isdigit():
            break
        cluster.append(phone)
    return tuple(reversed(cluster))


@lru_cache(maxsize=65536)
def distinct_rhyme(a: str, b: str) -> bool:
    """True when two end words rhyme (agent.phonetics.rhymes) and are genuinely different words.

    Rejects the same word, one word inside the other (dream/dreams, way/highway) and identical rhymes whose
    stressed syllables share their onset too (night/knight, light/moonlight).
    """
    x, y = a.lower(), b.lower()
    if x == y or x.startswith(y) or y.startswith(x) or x.endswith(y) or y.endswith(x):
        return False
    if not phonetics.rhymes(x, y):
        return False
    return _onset(x) != _onset(y)


@lru_cache(maxsize=4096)
def rhyme_partners(word: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(perfect, slant) rhymes for `word` from the end-word vocabulary, each sorted."""
    vocab = _vocab()
    key = phonetics.rhyming_part(word)
    perfect = tuple(w for w in vocab.families.get(key, ()) if distinct_rhyme(word, w))
    if not perfect and key in {phonetics.rhyming_part(w) for w in vocab.words}:
        perfect = tuple(w for w in vocab.words if phonetics.rhyming_part(w) == key and distinct_rhyme(word, w))
    chosen = set(perfect)
    slant = tuple(w for w in vocab.words if w not in chosen and distinct_rhyme(word, w))
    return perfect, slant


# ---------------------------------------------------------------------------------------------- helpers


def _syl(text: str) -> int:
    return phonetics.line_syllables(text)


def _starts_with_vowel_sound(word: str) -> bool:
    phones = phonetics.phones(word)
    return bool(phones) and phones[0][:2] in _VOWELS


def _fix_articles(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        article, word = match.group(1), match.group(2)
        return f"{article[0]}{'n' if _starts_with_vowel_sound(word) else ''} {word}"

    return _ARTICLE.sub(repl, text)


def _tidy(text: str, *, keep_comma: bool = False) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+,", ",", text)
    text = re.sub(r",+", ",", text).lstrip(" ,")
    return _fix_articles(text if keep_comma else text.rstrip(" ,"))


def _capitalise(text: str) -> str:
    for i, char in enumerate(text):
        if char.isalpha():
            return text[:i] + char.upper() + text[i + 1 :]
    return text


def _lower_first(text: str, keep: Iterable[str]) -> str:
    """Lower-case the first word unless it is 'I' (or a contraction of it) or a word to keep capitalised."""
    first = text.split(" ", 1)[0]
    bare = first.strip(",.!?")
    if bare == "I" or bare.startswith("I'") or bare.lower() in keep or bare in keep:
        return text
    return text[:1].lower() + text[1:]


def _weighted_choice(rng: random.Random, items: Sequence[Any], weights: Sequence[float]) -> Any:
    total = sum(weights)
    if total <= 0:
        return items[rng.randrange(len(items))]
    pick = rng.random() * total
    for item, weight in zip(items, weights, strict=True):
        pick -= weight
        if pick < 0:
            return item
    return items[-1]


def _echoes(text: str, word: str) -> bool:
    """True when the end word is said twice or echoes another word of the line (wake up feeling awake)."""
    tokens = [t.strip(",.!?'").lower() for t in text.split()]
    if tokens.count(word) > 1:
        return True
    return any(len(t) >= 4 and t != word and (t in word or word in t) for t in tokens[:-1])


def _clean_phrase(text: str) -> str:
    words = text.strip().split()
    while words and words[0].lower() in {"the", "a", "an"}:
        words = words[1:]
    return " ".join(words)


# ------------------------------------------------------------------------------------------ word fitness


@lru_cache(maxsize=4096)
def _role_templates(category: str, role: str) -> tuple[_Template, ...]:
    return tuple(t for t in _vocab().templates.get(category, ()) if role in t.roles)


def _templates_for(category: str, role: str, word: str) -> list[_Template]:
    """Templates of a category for a role that make sense with this word (only portable things are held)."""
    tags = _world().tags
    return [t for t in _role_templates(category, role) if t.needs is None or word in tags.get(t.needs, ())]


@lru_cache(maxsize=65536)
def _categories(word: str, role: str) -> tuple[str, ...]:
    """The word's end-word categories that have a template for it in this role."""
    return tuple(c for c in _vocab().categories_of.get(word, ()) if _templates_for(c, role, word))


@lru_cache(maxsize=65536)
def _category_fit(word: str, category: str, role: str, beat: str | None) -> float:
    """How well a category suits a line's beat (or, without one, its section role); weak words count little."""
    world = _world()
    if beat is not None and beat in world.beat_categories:
        fit = world.beat_categories[beat].get(category, 0.3)
    else:
        fit = float(_bank()["category_weights"][role].get(category, 1))
    return fit * (world.weights["weak"] if word in world.weak.get(category, ()) else 1.0)


@lru_cache(maxsize=65536)
def _word_fit(word: str, role: str, beat: str | None) -> float:
    return max((_category_fit(word, c, role, beat) for c in _categories(word, role)), default=0.0)


# ----------------------------------------------------------------------------------------------- writer


@dataclass
class _Spec:
    """What one line of a section must be: plain, or carrying the hook (end = ends in the hook phrase)."""

    kind: str  # plain | end | chant | tail
    word: str | None = None
    echo: bool = False


@dataclass
class _SongState:
    used_end: set[str] = field(default_factory=set)
    used_lines: set[str] = field(default_factory=set)
    usage: Counter[str] = field(default_factory=Counter)
    theme_turn: int = 0
    used_scenes: list[str] = field(default_factory=list)
    chorus_scene: _Scene | None = None


@dataclass
class _Context:
    """The section being written: its scene, the theme it sings about, and the beat of the current line."""

    scene: _Scene | None
    theme: str | None
    beats: tuple[str, ...]
    beat: str | None = None
    templates: Counter[str] = field(default_factory=Counter)

    def beat_of(self, index: int) -> str | None:
        return self.beats[index % len(self.beats)] if self.beats else None


class LineWriter:
    """Writes single lyric lines for one song: the toolbox behind write_lyrics and the FIX node."""

    def __init__(self, sds: dict[str, Any], plan: Plan, blueprint: Blueprint, seed: int, *, simplicity: int = 0):
        bank = _bank()
        lyrics = sds.get("lyrics") or {}
        self.plan = plan
        self.blueprint = blueprint
        self.seed = seed
        self.simplicity = max(0, min(MAX_SIMPLICITY, simplicity))
        self.pov: str = str(lyrics.get("pov")) if lyrics.get("pov") in bank["pronouns"] else "1st"
        tense = lyrics.get("tense")
        self.tense = tense if tense in ("past", "present", "future", "mixed") else "present"
        options = bank["pronouns"][self.pov]
        self.pronoun: dict[str, str] = options[random.Random(f"{seed}:pov").randrange(len(options))]
        strategy = lyrics.get("hook_strategy")
        self.hook_strategy = strategy if strategy in HOOK_STRATEGIES else "melodic"
        policy = lyrics.get("repetition_policy")
        self.repetition = policy if policy in REPETITION_POLICIES else "moderate"
        density = lyrics.get("imagery_density")
        self.imagery_density = float(density) if isinstance(density, int | float) else 0.4
        self.avoid = self._avoid_terms(blueprint)
        self.capitalise = frozenset(bank["capitalize"])
        self.hook = plan.hook_line.strip() or plan.title.strip()
        self.hook_syllables = _syl(self.hook)
        self.hook_end = phonetics.end_word(self.hook)
        mood = {str(m).strip().lower() for m in (sds.get("style") or {}).get("mood") or []}
        self.somber = (
            frozenset() if mood & set(bank["mood"]["somber_moods"]) else frozenset(bank["mood"]["somber_words"])
        )
        self.themes, self.extra_themes = self._theme_pool(lyrics, blueprint)
        self.images = self._image_pool(blueprint)
        self.keep_caps = self.capitalise | {w for w in self.hook.split()}
        world = _world()
        self.genre = blueprint.genre
        self.banned = world.genre_avoid.get(self.genre, frozenset())
        self.song_scenes = [sc for sc in world.scenes if self._scene_score(sc, None) >= 3]
        self.song_words = frozenset(w for sc in self.song_scenes for w in sc.words)
        self.ctx: _Context | None = None
        self._weights: dict[tuple[str, str, str | None, str | None], float] = {}

    # ----------------------------------------------------------------------------------- public API

    def line(
        self,
        *,
        section_kind: str,
        syllables: int,
        rhyme_with: str | None = None,
        avoid_end_words: Iterable[str] = (),
        salt: str = "",
    ) -> str:
        """A fresh line of about `syllables` syllables (±1), whose end word rhymes with rhyme_with
        (perfect rhyme, different word) when given. Deterministic for the same inputs and salt.

        Perfect rhymes from the vocabulary are preferred, then slant ones; if `rhyme_with` has no rhyme in
        the vocabulary at all, the line ends on any word.
        """
        avoid = sorted({w.lower() for w in avoid_end_words})
        rng = random.Random(f"{self.seed}:line:{salt}:{section_kind}:{syllables}:{rhyme_with}:{'|'.join(avoid)}")
        role = self.role_of(section_kind)
        tense = self.tense_for(role)
        word = None
        if rhyme_with:
            perfect, slant = rhyme_partners(phonetics.end_word(rhyme_with) or rhyme_with.lower())
            for pool in (perfect, slant):
                usable = [w for w in pool if w not in avoid and self._word_ok(w, tense) and self._categories(w, role)]
                if usable:
                    word = self._pick_word(rng, usable, role)
                    break
        if word is None:
            word = self._free_word(rng, role, tense, set(avoid))
        text = self._compose(rng, role, tense, word, max(3, syllables))
        return self._finish(text, max(3, syllables))

    def fit(self, line: str, syllables: int) -> str:
        """The same line adjusted to within ±1 syllable of the target (add/remove filler/adjectives),
        keeping its end word."""
        target = max(1, syllables)
        current = line.strip()
        rng = random.Random(f"{self.seed}:fit:{current}:{target}")
        for _ in range(12):
            count = _syl(current)
            if abs(count - target) <= 1:
                return current
            options = self._trims(current) if count > target else self._pads(current, rng)
            options = [o for o in options if phonetics.end_word(o) == phonetics.end_word(current)]
            if not options:
                break
            current = min(options, key=lambda o: (abs(_syl(o) - target), len(o)))
        return current

    def hook_line(self) -> str:
        """The hook phrase as a full chorus line sized for the first chorus, as write_lyrics opens one."""
        chorus = next((s for s in self.plan.sections if s.hook_role and s.target_lines), None)
        target = chorus.target_syllables if chorus else 10
        rng = random.Random(f"{self.seed}:hook_line")
        spec = self._hook_spec(target, first=True)
        if spec.kind == "tail":
            spec.word = self._free_word(rng, "chorus", self.tense_for("chorus"), set())
        return self._render(rng, spec, "chorus", self.tense_for("chorus"), target, theme_hint=None)

    # ----------------------------------------------------------------------------------- song-level

    def role_of(self, kind: str) -> str:
        if self.blueprint.canonical_kind(kind) == "Chorus":
            return "chorus"
        return str(_bank()["roles"].get(kind, "verse"))

    def tense_for(self, role: str) -> str:
        if self.tense == "mixed":
            return str(_bank()["mixed_tense"].get(role, "present"))
        return self.tense

    def write_section(
        self, section: PlannedSection, n: int, state: _SongState, salt: str, *, hook_positions: Sequence[int]
    ) -> list[str]:
        """The lines of one section, built around one scene and one theme, line by line through its beats."""
        role = "chorus" if section.hook_role else self.role_of(section.kind)
        rng = random.Random(f"{self.seed}:scene:{salt}")
        if role == "chorus":
            theme_index = 0
        else:
            theme_index = state.theme_turn + (1 if len(self.themes) > 1 else 0)
            state.theme_turn += 1
        theme = self.themes[theme_index % len(self.themes)]
        if role == "chorus" and state.chorus_scene is not None:
            scene: _Scene | None = state.chorus_scene
        else:
            scene = self._choose_scene(rng, theme, state.used_scenes)
        if scene is not None:
            state.used_scenes.append(scene.id)
            if role == "chorus":
                state.chorus_scene = scene
        self.ctx = _Context(scene=scene, theme=self._phrase(theme, rng), beats=_world().beats.get(role, ()))
        try:
            return self._write_section(section, n, state, salt, hook_positions, role, theme_index)
        finally:
            self.ctx = None

    def _write_section(
        self,
        section: PlannedSection,
        n: int,
        state: _SongState,
        salt: str,
        hook_positions: Sequence[int],
        role: str,
        theme_index: int,
    ) -> list[str]:
        tense = self.tense_for(role)
        target = max(3, section.target_syllables or 8)
        rng = random.Random(f"{self.seed}:section:{salt}")
        ctx = self.ctx
        assert ctx is not None
        groups = rhyme_groups(self.plan.rhyme_scheme, n) if self.plan.rhyme_scheme != FREE else []
        group_of = {i: g for g, members in enumerate(groups) for i in members}
        specs = [_Spec("plain") for _ in range(n)]
        fixed: dict[int, str] = {}
        for order, i in enumerate(hook_positions):
            spec = self._hook_spec(target, first=order == 0)
            g = group_of.get(i)
            if spec.kind in ("end", "chant") and g is not None:
                partners = rhyme_partners(self.hook_end) if self.hook_end else ((), ())
                clash = g in fixed or not (partners[0] or partners[1])
                if clash and self._tail_fits(target, spec.echo):
                    spec.kind = "tail"
                elif g not in fixed:
                    fixed[g] = self.hook_end
            specs[i] = spec
        section_words: set[str] = set()
        for g, members in enumerate(groups):
            free = [i for i in members if specs[i].kind in ("plain", "tail")]
            if not free:
                continue
            beats = tuple(b for b in (ctx.beat_of(i) for i in free) if b)
            if g in fixed:
                words = self._partners_for(rng, fixed[g], len(free), tense, state.used_end | section_words, role)
            else:
                words = self._family_words(rng, role, tense, len(free), state.used_end | section_words, beats)
            tails = [i for i in free if specs[i].kind == "tail"]
            if tails:
                # The hook leaves its tail clause few syllables: find a family with a word for a short line.
                echo = specs[tails[0]].echo
                for attempt in range(6):
                    misfit = {w: self._tail_misfit(w, role, tense, target, echo, f"{salt}:{g}") for w in words}
                    best = min(words, key=lambda w: (misfit[w], w))
                    if misfit[best] <= 1 or g in fixed or attempt == 5:
                        break
                    taken = state.used_end | section_words | set(words)
                    words = self._family_words(rng, role, tense, len(free), taken, beats)
                words = [best] + [w for w in words if w != best]
                free = tails + [i for i in free if i not in tails]
            else:
                words = self._by_beat(words, [ctx.beat_of(i) for i in free[: len(words)]], role)
            for i, word in zip(free, words, strict=False):
                specs[i].word = word
                section_words.add(word)
        for i, spec in enumerate(specs):
            ctx.beat = ctx.beat_of(i)
            if spec.kind in ("plain", "tail") and spec.word is None:
                spec.word = self._free_word(rng, role, tense, state.used_end | section_words)
                for _ in range(6):
                    if spec.kind != "tail" or self._tail_misfit(spec.word, role, tense, target, spec.echo, salt) <= 1:
                        break
                    spec.word = self._free_word(rng, role, tense, state.used_end | section_words | {spec.word})
                section_words.add(spec.word)
        lines: list[str] = []
        theme_line = 1 if n > 1 and 0 in hook_positions else 0
        for i, spec in enumerate(specs):
            ctx.beat = ctx.beat_of(i)
            hint = theme_index if i == theme_line or rng.random() < 0.15 else None
            text = ""
            for attempt in range(4):
                line_rng = random.Random(f"{self.seed}:section:{salt}:{i}:{attempt}")
                text = self._render(line_rng, spec, role, tense, target, theme_hint=hint, used=lines, usage=state.usage)
                if spec.kind != "plain" or (text.lower() not in state.used_lines and text not in lines):
                    break
            lines.append(text)
        if not section.hook_role:
            state.used_lines.update(line.lower() for line in lines)
        state.used_end.update(section_words)
        return lines

    def vary_line(self, lines: list[str], index: int, salt: str, section: PlannedSection) -> str:
        """Another line for lines[index] that keeps its rhyme partners in the section and its hook."""
        role = "chorus" if section.hook_role else self.role_of(section.kind)
        tense = self.tense_for(role)
        target = max(3, section.target_syllables or 8)
        old = lines[index]
        groups = rhyme_groups(self.plan.rhyme_scheme, len(lines)) if self.plan.rhyme_scheme != FREE else []
        partners = next(([j for j in g if j != index] for g in groups if index in g), [])
        ends = {phonetics.end_word(line) for line in lines}
        carries_hook = self.hook.lower() in old.lower()
        for attempt in range(6):
            rng = random.Random(f"{self.seed}:vary:{salt}:{index}:{attempt}")
            if carries_hook and phonetics.end_word(old) == self.hook_end:
                spec = _Spec("end", echo="(" in old)
            else:
                spec = _Spec("tail" if carries_hook else "plain", echo="(" in old)
                anchor = phonetics.end_word(lines[partners[0]]) if partners else None
                if anchor:
                    pool = [w for w in rhyme_partners(anchor)[0] + rhyme_partners(anchor)[1] if w not in ends]
                    pool = [w for w in pool if all(distinct_rhyme(w, phonetics.end_word(lines[j])) for j in partners)]
                else:
                    pool = []
                spec.word = self._pick_word(rng, pool, role) if pool else phonetics.end_word(old)
            text = self._render(rng, spec, role, tense, target, theme_hint=None)
            if text != old:
                return text
        return old

    # ----------------------------------------------------------------------------------- scenes

    def _scene_score(self, scene: _Scene, theme: str | None) -> float:
        """How well a scene suits this song (and the section's theme): genre first, then themes."""
        if self.genre in scene.genres:
            score = 4.0
        elif "*" in scene.genres:
            score = 1.0
        else:
            score = 0.2
        song_themes = [t for t in self.themes if t in scene.themes]
        if theme is not None and theme in scene.themes:
            score *= 4.0
        elif theme is None and song_themes and "*" in scene.genres:
            score *= 3.0
        return score * (1 + 0.5 * len(song_themes))

    def _choose_scene(self, rng: random.Random, theme: str, used: Sequence[str]) -> _Scene | None:
        scenes = list(_world().scenes)
        weights = [self._scene_score(sc, theme) ** 2 * (0.05 if sc.id in used else 1.0) for sc in scenes]
        return scenes[_weighted_choice(rng, range(len(scenes)), weights)] if scenes else None

    def _phrase(self, theme: str, rng: random.Random) -> str:
        """How a theme is sung: 'christmas' as itself, 'indie' as 'these quiet days'."""
        options = [p for p in _world().theme_phrases.get(theme, ()) if not self._has_avoided(p)]
        return self._simple_choice(rng, options) if options else theme

    def _affinity(self, word: str) -> float:
        world = _world()
        ctx = self.ctx
        if ctx is not None and ctx.scene is not None and word in ctx.scene.words:
            return world.weights["scene"]
        if word in self.song_words:
            return world.weights["song"]
        return world.weights["neutral"] * (2.0 if word in world.strong else 1.0)

    def _templates_for(self, category: str, role: str, word: str) -> list[_Template]:
        return _templates_for(category, role, word)

    def _categories(self, word: str, role: str) -> tuple[str, ...]:
        return _categories(word, role)

    def _category_fit(self, word: str, category: str, role: str, beat: str | None) -> float:
        return _category_fit(word, category, role, beat)

    def _weight(self, word: str, role: str, beat: str | None = None) -> float:
        """How much a word is wanted at the end of a line: scene and song affinity times category fit."""
        ctx = self.ctx
        scene_id = ctx.scene.id if ctx is not None and ctx.scene is not None else None
        key = (word, role, beat, scene_id)
        cached = self._weights.get(key)
        if cached is None:
            cached = 0.0 if word in self.banned else self._affinity(word) * _word_fit(word, role, beat)
            self._weights[key] = cached
        return cached

    def _weight_any(self, word: str, role: str, beats: Sequence[str]) -> float:
        if not beats:
            return self._weight(word, role, self.ctx.beat if self.ctx else None)
        return max(self._weight(word, role, b) for b in beats)

    def _by_beat(self, words: list[str], beats: Sequence[str | None], role: str) -> list[str]:
        """The words ordered to suit the lines' beats best (a setting word first, a feeling word later)."""
        if len(words) < 2 or len(words) > 5 or not any(beats):
            return words
        best = max(
            itertools.permutations(words),
            key=lambda order: sum(self._weight(w, role, b) for w, b in zip(order, beats, strict=False)),
        )
        return list(best)

    # ----------------------------------------------------------------------------------- hooks

    def _hook_spec(self, target: int, *, first: bool) -> _Spec:
        echo = self.hook_strategy == "call-response"
        base = target - (phonetics.syllables(self.hook_end) if echo else 0)
        if self.hook_strategy == "chant" and first and 2 * self.hook_syllables <= base + 1:
            return _Spec("chant", echo=echo)
        best = min(abs(_syl(form) - base) for form in self._hook_forms("end"))
        if best <= 1 or not self._tail_fits(target, echo):
            return _Spec("end", echo=echo)
        return _Spec("tail", echo=echo)

    def _tail_fits(self, target: int, echo: bool) -> bool:
        return self._tail_budget(target, echo) >= 4

    def _tail_budget(self, target: int, echo: bool, echo_syllables: int = 2) -> int:
        """Syllables left for the clause after 'Hook, ...' (and its echoed last word)."""
        return target - (echo_syllables if echo else 0) - self.hook_syllables

    def _tail_misfit(self, word: str, role: str, tense: str, target: int, echo: bool, salt: str) -> int:
        """How far the best 'Hook, clause' line ending in `word` lands from the syllable target."""
        budget = self._tail_budget(target, echo, phonetics.syllables(word))
        probe = random.Random(f"{self.seed}:probe:{salt}:{word}")
        return abs(_syl(self._compose(probe, role, tense, word, max(3, budget), lead=False)) - budget)

    def _hook_forms(self, kind: str) -> list[str]:
        pre = _bank()["hook_pre"]
        if kind == "chant":
            doubled = f"{self.hook}, {self.hook}"
            return [doubled] + [f"{p}, {doubled}" for p in pre[:3]]
        return [self.hook] + [f"{p}, {self.hook}" for p in pre]

    def _with_echo(self, text: str) -> str:
        """The line answered by a backing vocal repeating its last word: 'Summer Dreams (dreams)'."""
        echo = text.split()[-1].strip(",")
        echo = echo if echo in self.keep_caps else echo[:1].lower() + echo[1:]
        return f"{text} ({echo})"

    def _echo_syllables(self, spec: _Spec) -> int:
        if not spec.echo:
            return 0
        return phonetics.syllables(spec.word if spec.kind in ("plain", "tail") and spec.word else self.hook_end)

    # ----------------------------------------------------------------------------------- rendering

    def _render(
        self,
        rng: random.Random,
        spec: _Spec,
        role: str,
        tense: str,
        target: int,
        *,
        theme_hint: int | None,
        used: Sequence[str] = (),
        usage: Counter[str] | None = None,
    ) -> str:
        base = target - self._echo_syllables(spec)
        if spec.kind in ("end", "chant"):
            forms = self._hook_forms(spec.kind)
            rng.shuffle(forms)
            text = min(forms, key=lambda f: abs(_syl(f) - base))
        elif spec.kind == "tail":
            assert spec.word is not None
            clause = self._compose(
                rng,
                role,
                tense,
                spec.word,
                max(3, self._tail_budget(target, spec.echo, self._echo_syllables(spec))),
                lead=False,
                theme_hint=theme_hint,
                usage=usage,
            )
            text = f"{self.hook}, {_lower_first(_capitalise(clause), self.keep_caps)}"
        else:
            assert spec.word is not None
            used_lower = {u.lower() for u in used}
            text = self._compose(
                rng, role, tense, spec.word, base, theme_hint=theme_hint, avoid_lines=used_lower, usage=usage
            )
            text = _capitalise(text)
        text = self._finish(text, base)
        if spec.echo:
            text = self._with_echo(text)
        return text

    def _finish(self, text: str, target: int) -> str:
        text = _capitalise(self._proper_case(_tidy(text)))
        if abs(_syl(text) - target) > 1:
            text = self.fit(text, target)
        return text

    def _proper_case(self, text: str) -> str:
        def repl(match: re.Match[str]) -> str:
            word = match.group(0)
            return word.capitalize() if word.lower() in self.capitalise else word

        return re.sub(r"[A-Za-z]+", repl, text)

    def _compose(
        self,
        rng: random.Random,
        role: str,
        tense: str,
        word: str,
        target: int,
        *,
        lead: bool = True,
        theme_hint: int | None = None,
        avoid_lines: set[str] | None = None,
        usage: Counter[str] | None = None,
    ) -> str:
        """The best template line ending in `word` for the syllable target (raw text, not capitalised).

        Candidates are scored on syllable distance first; `usage` (templates and lead-ins already used in the
        song) makes repeats cost more, so a song varies its phrasing.
        """
        beat = self.ctx.beat if self.ctx is not None else None
        categories = list(self._categories(word, role))
        if not categories:
            return word
        ordered: list[str] = []
        pool = list(categories)
        while pool:
            pick = _weighted_choice(rng, pool, [self._category_fit(word, c, role, beat) ** 2 for c in pool])
            ordered.append(pick)
            pool.remove(pick)
        want_image = rng.random() < self.imagery_density
        usage = usage if usage is not None else Counter()
        best: tuple[float, str, str, str] | None = None
        for category in ordered[:2]:
            templates = [t for t in self._templates_for(category, role, word) if lead or "," not in t.text]
            rng.shuffle(templates)
            for template in templates[:8]:
                for _ in range(2):
                    fill: dict[str, str] = {}
                    parts = [
                        (self._fill(text, fill, rng, tense, template.mod_key, word, theme_hint), optional)
                        for text, optional in template.parts
                    ]
                    own_comma = "," in template.text
                    personal = template.text.startswith("{S")
                    leads = (
                        self._lead_ins(rng, role, tense, fill, theme_hint, personal=personal)
                        if lead and not own_comma
                        else []
                    )
                    bonus = 2.5 * usage[f"template:{template.text}"]
                    if self.ctx is not None:
                        bonus += 4 * self.ctx.templates[template.text]
                    if template.has_theme:
                        bonus += -3 if theme_hint is not None else 1.5
                    if template.has_image:
                        bonus += -1.5 if want_image else 1
                    for score, text, lead_text in self._candidates(rng, parts, leads, target, word):
                        if avoid_lines and _tidy(text).lower() in avoid_lines:
                            continue
                        if self._has_avoided(text) or _echoes(text, word):
                            continue
                        total = score + bonus + 8 * usage[f"lead:{lead_text}"] + rng.random()
                        if best is None or total < best[0]:
                            best = (total, text, template.text, lead_text)
        if best is None:
            return word
        usage[f"template:{best[2]}"] += 1
        if self.ctx is not None:
            self.ctx.templates[best[2]] += 1
        if best[3]:
            usage[f"lead:{best[3]}"] += 1
        return _tidy(best[1])

    def _candidates(
        self,
        rng: random.Random,
        parts: list[tuple[str, bool]],
        leads: list[tuple[str, str]],
        target: int,
        word: str,
    ) -> Iterable[tuple[float, str, str]]:
        counts = [_syl(text) for text, _ in parts]
        fixed = sum(c for c, (_, optional) in zip(counts, parts, strict=True) if not optional)
        optional_idx = [i for i, (_, optional) in enumerate(parts) if optional]
        lead_options: list[tuple[str, str, int, float]] = [("", "", 0, 0.0)]
        for lead, key in leads:
            if word in phonetics.tokenize(lead):
                continue
            # Lead-ins that only pad a line cost more than meaningful ones.
            cost = 4.0 if lead.lower() in _bank()["filler_lead_ins"] else 2.5
            lead_options.append((lead, key, _syl(lead), cost))
        for keep in itertools.product((False, True), repeat=len(optional_idx)):
            kept = {i for i, k in zip(optional_idx, keep, strict=True) if k}
            body = fixed + sum(counts[i] for i in kept)
            body_text = " ".join(text for i, (text, optional) in enumerate(parts) if not optional or i in kept)
            for lead, key, lead_syl, cost in lead_options:
                diff = abs(body + lead_syl - target)
                if diff > 3:
                    continue
                text = f"{lead} {body_text}" if lead else body_text
                yield diff * 10 + cost + 0.3 * len(kept), text, key

    def _templates(self, category: str, role: str) -> list[_Template]:
        return [t for t in _vocab().templates.get(category, ()) if role in t.roles]

    def _lead_ins(
        self,
        rng: random.Random,
        role: str,
        tense: str,
        fill: dict[str, str],
        theme_hint: int | None,
        *,
        personal: bool,
    ) -> list[tuple[str, str]]:
        """Candidate openers; ones naming the singer ('With love in my heart,') only open lines about them."""
        bank = _bank()["lead_ins"]
        options = list(bank.get(tense, [])) + list(bank["any"]) + list(bank.get(role, []))
        if self.simplicity >= 2 or not personal:
            options = [o for o in options if "{" not in o]
        rng.shuffle(options)
        leads = []
        for option in options[:5]:
            lead_fill = {k: v for k, v in fill.items() if k in ("theme", "P")}
            text = _tidy(self._fill(option, lead_fill, rng, tense, "", "", theme_hint), keep_comma=True)
            leads.append((text, option))
        return leads

    # ----------------------------------------------------------------------------------- slots

    def _fill(
        self,
        text: str,
        fill: dict[str, str],
        rng: random.Random,
        tense: str,
        category: str,
        word: str,
        theme_hint: int | None,
    ) -> str:
        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in fill:
                fill[name] = self._slot(name, rng, tense, category, word, theme_hint)
            return fill[name]

        return _SLOT.sub(repl, text)

    def _slot(self, name: str, rng: random.Random, tense: str, category: str, word: str, hint: int | None) -> str:
        bank = _bank()
        pron = self.pronoun
        person = pron["person"]
        if name == "X":
            return word
        if name in ("S", "O", "P", "R"):
            return pron[name]
        if name == "Sbe":
            if tense == "present":
                return pron["be"]
            if tense == "past":
                return f"{pron['S']} {bank['be']['past'][person]}"
            return f"{pron['will']} be"
        if name == "is":
            return str(bank["be"][tense]["3sg"])
        if name == "are":
            return str(bank["be"][tense]["plural"])
        if name == "there":
            return str(bank["there"][tense])
        if name == "can":
            return str(bank["can"][tense])
        if name == "theme":
            return self._theme(rng, hint)
        if name == "image":
            return self._image(rng)
        if name == "mod":
            mods = (
                bank["modifiers"].get(category)
                or bank["modifiers"].get(category.split(":")[0])
                or bank["modifiers"]["thing"]
            )
            return self._simple_choice(rng, mods)
        if name == "simile":
            return self._simple_choice(rng, bank["simile_adjectives"])
        if name == "scene":
            scene = self.ctx.scene if self.ctx is not None else None
            return str(rng.choice(scene.subjects if scene is not None and scene.subjects else bank["scene_subjects"]))
        if ":" in name:
            form, cls = name.split(":", 1)
            verb = self._simple_choice(rng, bank["verb_classes"][cls])
            return self._verb(form, verb, tense, person)
        raise KeyError(f"unknown phrasebank slot {{{name}}}")

    def _verb(self, form: str, verb: str, tense: str, person: str) -> str:
        bank = _bank()
        s3, past, ing = bank["verbs"][verb]
        if form == "base":
            return verb
        if form == "ing":
            return str(ing)
        if form == "not":
            return f"{bank['negation'][tense][person]} {verb}"
        if form == "v3":
            person = "3sg"
        if tense == "past":
            return str(past)
        if tense == "future":
            return f"will {verb}"
        return str(s3) if person == "3sg" else verb

    def _simple_choice(self, rng: random.Random, options: Sequence[str]) -> str:
        """A random option, limited to short words as the simplicity level rises (and to cheerful ones unless
        the song's mood is somber)."""
        limit = {0: 99, 1: 2, 2: 1, 3: 1}[self.simplicity]
        fitting = [o for o in options if o not in self.somber] or list(options)
        short = [o for o in fitting if all(phonetics.syllables(w) <= limit for w in o.split())]
        return str(rng.choice(short or fitting))

    def _theme(self, rng: random.Random, hint: int | None) -> str:
        if self.ctx is not None and self.ctx.theme:
            return self.ctx.theme
        if hint is not None:
            return self._phrase(self.themes[hint % len(self.themes)], rng)
        if self.extra_themes and rng.random() < 0.25:
            return self._simple_choice(rng, self.extra_themes)
        return self._phrase(self._simple_choice(rng, self.themes), rng)

    def _image(self, rng: random.Random) -> str:
        scene = self.ctx.scene if self.ctx is not None else None
        if scene is not None and scene.images:
            images = [i for i in scene.images if not self._has_avoided(i)]
            if images:
                return self._simple_choice(rng, images)
        return self._simple_choice(rng, self.images)

    # ----------------------------------------------------------------------------------- words

    def _word_ok(self, word: str, tense: str) -> bool:
        allowed = _vocab().tense_only.get(word)
        if allowed is not None and tense not in allowed:
            return False
        if word in self.avoid or word in self.somber or word in self.banned:
            return False
        limit = {0: 99, 1: 2, 2: 1, 3: 1}[self.simplicity]
        return phonetics.syllables(word) <= limit

    def _pick_word(self, rng: random.Random, words: Sequence[str], role: str) -> str:
        ordered = sorted(words)
        weights = [self._weight_any(w, role, ()) ** 2 for w in ordered]
        return str(_weighted_choice(rng, ordered, weights))

    def _free_word(self, rng: random.Random, role: str, tense: str, exclude: set[str]) -> str:
        """One end word for a line that rhymes with nothing: from the scene and song words when there are any."""
        vocab = _vocab()
        ctx = self.ctx
        scene_words = ctx.scene.words if ctx is not None and ctx.scene is not None else frozenset()
        pool = sorted(
            w
            for w in (scene_words | self.song_words | _world().strong)
            if w in vocab.categories_of and w not in exclude and self._word_ok(w, tense)
        )
        weights = [self._weight(w, role, ctx.beat if ctx else None) ** 2 for w in pool]
        if pool and sum(weights) > 0:
            return str(_weighted_choice(rng, pool, weights))
        weights = _bank()["category_weights"][role]
        cats = sorted(c for c in vocab.by_category if self._templates(c, role))
        for _ in range(8):
            cat = _weighted_choice(rng, cats, [weights.get(c, 1) for c in cats])
            words = [w for w in vocab.by_category[cat] if w not in exclude and self._word_ok(w, tense)]
            if words:
                return str(rng.choice(words))
        return str(rng.choice([w for w in vocab.words if w not in exclude] or list(vocab.words)))

    def _family_words(
        self, rng: random.Random, role: str, tense: str, k: int, exclude: set[str], beats: Sequence[str] = ()
    ) -> list[str]:
        """k different, mutually rhyming end words from one rhyme family, preferring words not yet used and
        words that suit the section's scene and the lines' beats (every word of the family counts, so a
        family is only as good as its k-th best word)."""
        vocab = _vocab()
        for relax in (False, True):
            candidates: list[list[str]] = []
            weights: list[float] = []
            for key in vocab.family_keys:
                words = [
                    w
                    for w in vocab.families[key]
                    if (relax or w not in exclude)
                    and (self._word_ok(w, tense) or (relax and w not in self.avoid))
                    and self._categories(w, role)
                ]
                if len(words) < k:
                    continue
                top = sorted((self._weight_any(w, role, beats) for w in words), reverse=True)[:k]
                score = top[-1] * sum(top)
                if score <= 0:
                    continue
                candidates.append(words)
                weights.append(score**1.5)
            for _ in range(12):
                if not candidates:
                    break
                index = _weighted_choice(rng, range(len(candidates)), weights)
                chosen = self._mutual(rng, candidates[index], k, role, beats)
                if len(chosen) == k:
                    return chosen
        return [self._free_word(rng, role, tense, exclude) for _ in range(k)]

    def _partners_for(
        self, rng: random.Random, anchor: str, k: int, tense: str, exclude: set[str], role: str = "chorus"
    ) -> list[str]:
        perfect, slant = rhyme_partners(anchor)
        for pool in (perfect, perfect + slant):
            words = [w for w in pool if w not in exclude and self._word_ok(w, tense) and self._categories(w, role)]
            chosen = self._mutual(rng, words, k, role)
            if len(chosen) == k:
                return chosen
        words = [w for w in perfect + slant if w not in self.avoid]
        return self._mutual(rng, words, k)

    def _mutual(
        self, rng: random.Random, words: Sequence[str], k: int, role: str | None = None, beats: Sequence[str] = ()
    ) -> list[str]:
        """Up to k words of `words` that rhyme with each other as distinct words; wanted words first."""
        pool = sorted(words)
        if role is not None:
            keys = {w: rng.random() ** (1.0 / max(1e-6, self._weight_any(w, role, beats) ** 2)) for w in pool}
            pool.sort(key=lambda w: -keys[w])
        else:
            rng.shuffle(pool)
        chosen: list[str] = []
        for word in pool:
            if all(distinct_rhyme(word, other) for other in chosen):
                chosen.append(word)
                if len(chosen) == k:
                    break
        return chosen

    # ----------------------------------------------------------------------------------- fitting

    def _trims(self, line: str) -> list[str]:
        words = line.split()
        removable = set(_bank()["removable"]) | {m for mods in _bank()["modifiers"].values() for m in mods}
        hook_words = {w.lower() for w in self.hook.split()}
        out = []
        for i, token in enumerate(words[:-1]):
            bare = token.strip(",").lower()
            after_article = i > 0 and words[i - 1].lower() in ("a", "an")
            if bare in removable and bare not in hook_words and not (after_article and bare == "little"):
                kept = words[:i] + words[i + 1 :]
                if i == 0 and kept:
                    kept[0] = _capitalise(kept[0])
                out.append(_tidy(" ".join(kept)))
        if "," in line:
            head, rest = line.split(",", 1)
            if len(rest.split()) >= 3 and self.hook.lower() not in head.lower():
                out.append(_capitalise(rest.strip()))
        return [_fix_articles(o) for o in out if o]

    def _pads(self, line: str, rng: random.Random) -> list[str]:
        body = _lower_first(line, self.keep_caps)
        options = list(_bank()["fillers"]) + list(_bank()["lead_ins"].get(self.tense_for("verse"), []))
        options = [o for o in options if "{" not in o]
        rng.shuffle(options)
        return [_capitalise(f"{o} {body}") for o in options]

    # ----------------------------------------------------------------------------------- pools

    @staticmethod
    def _avoid_terms(blueprint: Blueprint) -> frozenset[str]:
        return frozenset(t.strip().lower() for t in blueprint.avoid_terms if t.strip())

    def _has_avoided(self, text: str) -> bool:
        if not self.avoid:
            return False
        joined = f" {' '.join(phonetics.tokenize(text))} "
        return any(f" {term} " in joined for term in self.avoid)

    def _theme_pool(self, lyrics: dict[str, Any], blueprint: Blueprint) -> tuple[list[str], list[str]]:
        """(SDS themes, blueprint lexicon nouns usable as themes); the first list is never empty."""
        vocab = _vocab()
        nouns = {"abstract"}
        themes: list[str] = []
        for raw in lyrics.get("themes") or []:
            theme = _clean_phrase(str(raw)).lower()
            if theme and theme not in themes and not self._has_avoided(theme):
                themes.append(theme)
        extras: list[str] = []
        for raw in blueprint.lexicon_positive:
            word = str(raw).strip().lower()
            if nouns & set(vocab.categories_of.get(word, ())) and word not in themes and word not in self.avoid:
                extras.append(word)
        if not themes:
            themes, extras = (extras[:2], extras[2:]) if extras else (list(_bank()["default_themes"]), [])
        return themes, extras

    def _image_pool(self, blueprint: Blueprint) -> list[str]:
        pool: list[str] = []
        for raw in list(blueprint.lexicon_imagery) + list(_bank()["imagery"]):
            image = _clean_phrase(str(raw)).lower()
            if image and image not in pool and not self._has_avoided(image):
                pool.append(image)
        return pool


# ------------------------------------------------------------------------------------------------- song


def _line_budget(plan: Plan) -> list[int]:
    """Lines per planned section, trimmed (optional sections first) to stay within plan.max_lines."""
    counts = [s.target_lines for s in plan.sections]
    if plan.max_lines is None or sum(counts) <= plan.max_lines:
        return counts
    required = set(plan.required_kinds)

    def is_required(section: PlannedSection) -> bool:
        return section.hook_role or section.kind in required

    tiers = [
        (False, lambda s: s.min_lines),
        (True, lambda s: s.min_lines),
        (False, lambda s: 0),
        (True, lambda s: 1),
        (True, lambda s: 0),
    ]
    for want_required, floor in tiers:
        while sum(counts) > plan.max_lines:
            candidates = [
                i for i, s in enumerate(plan.sections) if is_required(s) == want_required and counts[i] > floor(s)
            ]
            if not candidates:
                break
            biggest = max(candidates, key=lambda i: (counts[i], i))
            counts[biggest] -= 1
    return counts


def _hook_positions(writer: LineWriter, section: PlannedSection, n: int) -> list[int]:
    if n == 0:
        return []
    last = n - 1
    if not section.hook_role:
        return [last] if section.must_end_with_hook else []
    if writer.repetition == "sparse":
        return [last] if section.must_end_with_hook else [0]
    if writer.hook_strategy == "chant" and n >= 3:
        return [0, 1, last]
    return sorted({0, last})


def _write(sds: dict[str, Any], plan: Plan, blueprint: Blueprint, seed: int, simplicity: int) -> LyricsArtifact:
    writer = LineWriter(sds, plan, blueprint, seed, simplicity=simplicity)
    state = _SongState()
    budget = _line_budget(plan)
    masters: dict[int, list[str]] = {}
    repeats: dict[int, int] = {}
    sections: list[LyricSection] = []
    for index, (section, n) in enumerate(zip(plan.sections, budget, strict=True)):
        salt = f"{simplicity}:{index}:{section.id}"
        lines: list[str] = []
        if n > 0:
            reuse = section.hook_role and writer.repetition != "sparse" and n in masters
            if reuse:
                lines = list(masters[n])
                repeats[n] = repeats.get(n, 0) + 1
                if writer.repetition == "moderate":
                    lines[-1] = writer.vary_line(lines, n - 1, f"{salt}:{repeats[n]}", section)
            else:
                positions = _hook_positions(writer, section, n)
                lines = writer.write_section(section, n, state, salt, hook_positions=positions)
                if section.hook_role:
                    masters.setdefault(n, list(lines))
            if section.must_end_with_hook and writer.hook.lower() not in lines[-1].lower():
                lines[-1] = writer.vary_line(lines, n - 1, f"{salt}:hook", section)
        sections.append(LyricSection(id=section.id, kind=section.kind, label=section.label, lines=lines))
    lyrics = sds.get("lyrics") or {}
    citations = sorted(
        (
            Citation(source_id=str(c["source_id"]), weight=float(c["weight"]))
            for c in lyrics.get("source_citations") or []
        ),
        key=lambda c: (c.source_id, c.weight),
    )
    return LyricsArtifact(
        title=plan.title,
        language=str(lyrics.get("language") or "en"),
        pov=writer.pov,
        tense=writer.tense,
        rhyme_scheme=plan.rhyme_scheme,
        hook_line=plan.hook_line,
        sections=sections,
        citations=citations,
    )


def _all_lines(artifact: LyricsArtifact) -> list[str]:
    return [line for section in artifact.sections for line in section.lines]


def write_lyrics(sds: dict[str, Any], plan: Plan, blueprint: Blueprint, seed: int) -> LyricsArtifact:
    """Write the whole lyric offline, rewriting with simpler words while it reads above the target grade."""
    best: tuple[float, LyricsArtifact] | None = None
    for simplicity in range(MAX_SIMPLICITY + 1):
        artifact = _write(sds, plan, blueprint, seed, simplicity)
        grade = phonetics.flesch_kincaid_grade(_all_lines(artifact))
        if plan.target_reading_grade is None or grade <= plan.target_reading_grade:
            return artifact
        if best is None or grade < best[0]:
            best = (grade, artifact)
    assert best is not None
    return best[1]
