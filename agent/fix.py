"""FIX: targeted repairs of every hard fail, or else of the weakest rubric component, each change recorded."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, partial
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from agent import phonetics
from agent.compose import SEPARATOR, lyrics_text, style_phrases
from agent.lyrics import LineWriter
from agent.models import (
    FixChange,
    FixRecord,
    LyricsArtifact,
    LyricSection,
    Plan,
    PlannedSection,
    ProducerNotesArtifact,
    StyleArtifact,
    ValidationReport,
)
from agent.profanity import TIER_ORDER, clean_line
from agent.rhyme_scheme import FREE, rhyme_groups
from agent.taxonomy import Blueprint, artist_stand_in, tag_conflicts
from agent.validate import (
    BROKEN_RHYMES,
    COMPONENTS,
    RHYME_CREDIT,
    SectionPair,
    artist_mentions,
    contains_hook,
    hook_words,
    line_fit,
    pair_sections,
    rhyme_pairs,
    sung,
    syllable_tolerance,
    target_syllables,
)

ArtifactName = Literal["style", "lyrics", "producer_notes", "composed_prompt"]
HARD_FAIL_ORDER = ("profanity", "living_artist", "tag_conflict", "missing_section", "char_limit")
ESSENTIAL_STYLE_PHRASES = 4
FRESH_LINE_ATTEMPTS = 3
GOOD_RHYMES = frozenset({"identical", "perfect", "slant"})


class FixOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    style: StyleArtifact
    lyrics: LyricsArtifact
    producer: ProducerNotesArtifact
    record: FixRecord


def _rhymes_better(line: str, *, partner: str, than: float) -> bool:
    return RHYME_CREDIT[phonetics.rhyme_kind(phonetics.end_word(line), partner)] > than


def _keeps_rhyme_on_target(line: str, *, end: str, target: int) -> bool:
    on_target = abs(phonetics.line_syllables(line) - target) <= 1
    return on_target and (not end or phonetics.rhyme_kind(phonetics.end_word(line), end) in GOOD_RHYMES)


def _line_target(section_id: str, index: int) -> str:
    return f"{section_id} line {index + 1}"


class _Fixer:
    def __init__(
        self,
        sds: dict[str, Any],
        plan: Plan,
        blueprint: Blueprint,
        style: StyleArtifact,
        lyrics: LyricsArtifact,
        producer: ProducerNotesArtifact,
        iteration: int,
        seed: int,
    ) -> None:
        self.sds, self.plan, self.blueprint, self.iteration, self.seed = sds, plan, blueprint, iteration, seed
        self.style = style.model_copy(deep=True, update={"artifact_hash": None})
        self.lyrics = lyrics.model_copy(deep=True, update={"artifact_hash": None})
        self.producer = producer.model_copy(deep=True, update={"artifact_hash": None})
        self.changes: list[FixChange] = []

    @cached_property
    def writer(self) -> LineWriter:
        return LineWriter(self.sds, self.plan, self.blueprint, self.seed)

    @property
    def hooks(self) -> list[tuple[str, ...]]:
        return hook_words(self.plan, self.lyrics)

    def change(self, artifact: ArtifactName, target: str, action: str, before: str, after: str) -> None:
        self.changes.append(FixChange(artifact=artifact, target=target, action=action, before=before, after=after))

    def set_line(self, section: LyricSection, index: int, new: str, action: str) -> None:
        before = section.lines[index]
        if new == before:
            return
        section.lines[index] = new
        self.change("lyrics", _line_target(section.id, index), action, before, new)

    def salt(self, section_id: str, index: int) -> str:
        return f"fix{self.iteration}:{section_id}:{index}"

    # ------------------------------------------------------------------------------------- hard fails

    def fix_profanity(self) -> None:
        tiers = ("slur",) if self.plan.explicit else TIER_ORDER
        cleaned_title = clean_line(self.lyrics.title, tiers)
        if cleaned_title != self.lyrics.title:
            self.change("lyrics", "title", "replace_profanity", self.lyrics.title, cleaned_title)
            self.lyrics.title = cleaned_title
        for section in self.lyrics.sections:
            for index, line in enumerate(section.lines):
                self.set_line(section, index, clean_line(line, tiers), "replace_profanity")
        self._clean_style(tiers)

    def _clean_style(self, tiers: tuple[str, ...]) -> None:
        """Clean every style phrase the style and exclude fields are built from; a tag left empty is dropped."""
        style = self.style
        for field in ("genre", "key", "energy"):
            before = getattr(style, field)
            after = clean_line(before, tiers)
            if after != before:
                self.change("style", field, "replace_profanity", before, after)
                setattr(style, field, after)
        delivery = clean_line(style.vocal_profile.delivery, tiers)
        if delivery != style.vocal_profile.delivery:
            self.change("style", "vocal_profile.delivery", "replace_profanity", style.vocal_profile.delivery, delivery)
            style.vocal_profile.delivery = delivery
        for field in ("sub_genres", "mood", "instrumentation", "tags_positive", "tags_negative"):
            kept: list[str] = []
            for item in getattr(style, field):
                cleaned = clean_line(item, tiers).strip()
                if cleaned != item:
                    self.change("style", field, "replace_profanity" if cleaned else "drop_profane_tag", item, cleaned)
                if cleaned and cleaned.lower() not in {k.lower() for k in kept}:
                    kept.append(cleaned)
            setattr(style, field, kept)

    def fix_tag_conflicts(self) -> None:
        style_sds = self.sds.get("style") or {}
        controls = self.sds.get("prompt_controls") or {}
        given = {t.strip().lower() for t in [*(style_sds.get("tags") or []), *(controls.get("positive_tags") or [])]}
        conflicts = tag_conflicts()
        positive = self.style.tags_positive
        by_priority = sorted(range(len(positive)), key=lambda i: (positive[i].lower() not in given, i))
        kept: list[int] = []
        for i in by_priority:
            clash = next(
                (k for k in kept if positive[k].lower() in conflicts.get(positive[i].lower(), frozenset())),
                None,
            )
            if clash is None:
                kept.append(i)
            else:
                self.change(
                    "style",
                    "tags_positive",
                    f"drop_conflicting_tag (conflicts with {positive[clash]!r})",
                    positive[i],
                    "",
                )
        self.style.tags_positive = [positive[i] for i in sorted(kept)]
        kept_lower = {t.lower() for t in self.style.tags_positive}
        for tag in [t for t in self.style.tags_negative if t.lower() in kept_lower]:
            self.change("style", "tags_negative", "drop_tag_also_positive", tag, "")
        self.style.tags_negative = [t for t in self.style.tags_negative if t.lower() not in kept_lower]

    def _generic(self, text: str) -> str | None:
        mentions = artist_mentions(text)
        return mentions[0][1]["generic_description"] if mentions else None

    def _replace_items(self, artifact: ArtifactName, field: str, items: list[str], drop: bool = False) -> list[str]:
        result: list[str] = []
        for item in items:
            generic = self._generic(item)
            if generic is None:
                result.append(item)
            elif drop or generic.lower() in {r.lower() for r in result}:
                self.change(artifact, field, "drop_living_artist", item, "")
            else:
                result.append(generic)
                self.change(artifact, field, "replace_living_artist", item, generic)
        return result

    def _replace_names(self, text: str, stand_in: str | None = None) -> str:
        mentions = artist_mentions(text, in_lyrics=stand_in is not None)
        for written, artist in sorted(mentions, key=lambda m: -len(m[0])):
            text = text.replace(written, stand_in or artist["generic_description"])
        return text

    def fix_artists(self) -> None:
        title = self._replace_names(self.lyrics.title, artist_stand_in())
        if title != self.lyrics.title:
            self.change("lyrics", "title", "replace_living_artist", self.lyrics.title, title)
            self.lyrics.title = title
        style = self.style
        genre = self._replace_names(style.genre)
        if genre != style.genre:
            self.change("style", "genre", "replace_living_artist", style.genre, genre)
            style.genre = genre
        style.tags_positive = self._replace_items("style", "tags_positive", style.tags_positive)
        style.tags_negative = self._replace_items("style", "tags_negative", style.tags_negative, drop=True)
        style.sub_genres = self._replace_items("style", "sub_genres", style.sub_genres)
        style.mood = self._replace_items("style", "mood", style.mood)
        style.instrumentation = self._replace_items("style", "instrumentation", style.instrumentation)
        delivery = style.vocal_profile.delivery
        cleaned = self._replace_names(delivery)
        if cleaned != delivery:
            style.vocal_profile.delivery = cleaned
            self.change("style", "vocal_profile.delivery", "replace_living_artist", delivery, cleaned)
        producer = self.producer
        producer.instrumentation = self._replace_items("producer_notes", "instrumentation", producer.instrumentation)
        for index, note in enumerate(producer.arrangement_notes):
            cleaned = self._replace_names(note)
            if cleaned != note:
                producer.arrangement_notes[index] = cleaned
                self.change("producer_notes", f"arrangement_notes[{index}]", "replace_living_artist", note, cleaned)
        for section_id, meta in producer.section_meta.items():
            meta.tags = self._replace_items("producer_notes", f"section_meta.{section_id}.tags", meta.tags)
        for section in self.lyrics.sections:
            for index, line in enumerate(section.lines):
                self.set_line(section, index, self._replace_names(line, artist_stand_in()), "replace_living_artist")

    def fix_char_limit(self, field: str) -> None:
        if field.endswith(".title"):
            self.trim_title()
        elif field.endswith("lyrics_text"):
            self.trim_lyrics()
        elif field.endswith("exclude_text"):
            self.trim_exclude()
        elif field.endswith("style_text"):
            self.trim_style()

    def trim_title(self) -> None:
        """Cut the title at the last whole word that fits the engine's title field."""
        limit = self.plan.limits.title_max
        title = self.lyrics.title
        if len(title) <= limit:
            return
        cut = title[: limit + 1].rsplit(" ", 1)[0].rstrip(" ,;:-") if " " in title[: limit + 1] else ""
        shortened = cut or title[:limit]
        self.change("lyrics", "title", "trim_title_for_length", title, shortened)
        self.lyrics.title = shortened

    def _style_budget(self) -> int:
        limits = self.plan.limits
        exclude = SEPARATOR.join(self.style.tags_negative)
        if limits.exclude_max is None and exclude:
            return limits.style_max - len(exclude) - len(SEPARATOR)
        return limits.style_max

    def trim_style(self) -> None:
        given = {t.strip().lower() for t in (self.sds.get("style") or {}).get("tags") or []}
        while len(SEPARATOR.join(style_phrases(self.style))) > self._style_budget():
            tags = self.style.tags_positive
            generated = [i for i, t in enumerate(tags) if t.lower() not in given]
            if tags:
                index = generated[-1] if generated else len(tags) - 1
                self.change("style", "tags_positive", "drop_tag_for_length", tags.pop(index), "")
            elif len(self.style.instrumentation) > 1:
                self.change("style", "instrumentation", "drop_for_length", self.style.instrumentation.pop(), "")
            elif self.style.sub_genres:
                self.change("style", "sub_genres", "drop_for_length", self.style.sub_genres.pop(), "")
            else:
                return

    def trim_exclude(self) -> None:
        limits = self.plan.limits
        if limits.exclude_max is not None:
            budget = limits.exclude_max
        else:
            essentials = SEPARATOR.join(style_phrases(self.style)[:ESSENTIAL_STYLE_PHRASES])
            budget = limits.style_max - len(essentials) - len(SEPARATOR)
        while self.style.tags_negative and len(SEPARATOR.join(self.style.tags_negative)) > budget:
            self.change("style", "tags_negative", "drop_tag_for_length", self.style.tags_negative.pop(), "")

    def _drop_last_line(self, section: LyricSection, keep_hook: bool = True) -> bool:
        for index in range(len(section.lines) - 1, -1, -1):
            if keep_hook and contains_hook(section.lines[index], self.hooks):
                continue
            self.change(
                "lyrics",
                _line_target(section.id, index),
                "drop_line_for_length",
                section.lines.pop(index),
                "",
            )
            return True
        return False

    def trim_lyrics(self) -> None:
        limit = self.plan.limits.lyrics_max
        pairs = pair_sections(self.plan, self.lyrics)
        optional = {self.blueprint.canonical_kind(k) for k in self.blueprint.sections.optional}

        def floor(pair: SectionPair) -> int:
            return pair.planned.min_lines if pair.planned else 1

        phases = [
            (lambda p: not (p.planned and p.planned.hook_role), floor),
            (lambda p: True, floor),
            (lambda p: self.blueprint.canonical_kind(p.kind) in optional, lambda p: 1),
        ]
        for eligible, lowest in phases:
            while len(lyrics_text(self.lyrics)) > limit:
                candidates = [p for p in pairs if p.lyric and eligible(p) and len(p.lines) > lowest(p)]
                candidates.sort(key=lambda p: -len(p.lines))
                if not any(self._drop_last_line(p.lyric) for p in candidates):  # type: ignore[arg-type]
                    break

    def _write_lines(self, planned: PlannedSection, existing: list[str], count: int) -> list[str]:
        """`existing` extended to `count` lines, each new line rhyming with its scheme partner."""
        lines = list(existing)
        groups = rhyme_groups(self.plan.rhyme_scheme, count) if self.plan.rhyme_scheme != FREE else []
        anchor_of = {member: group[0] for group in groups for member in group[1:]}
        target = planned.target_syllables or target_syllables(SectionPair(planned, None), self.blueprint)
        for index in range(len(lines), count):
            if planned.hook_role and (index == 0 or (planned.must_end_with_hook and index == count - 1)):
                lines.append(self.writer.hook_line())
                continue
            anchor = anchor_of.get(index)
            rhyme_with = phonetics.end_word(lines[anchor]) if anchor is not None else None
            lines.append(
                self.writer.line(
                    section_kind=planned.kind,
                    syllables=target,
                    rhyme_with=rhyme_with or None,
                    avoid_end_words=tuple(phonetics.end_word(line) for line in lines),
                    salt=self.salt(planned.id, index),
                )
            )
        return lines

    def restore_sections(self) -> None:
        order = {planned.id: position for position, planned in enumerate(self.plan.sections)}
        for pair in pair_sections(self.plan, self.lyrics):
            planned = pair.planned
            if planned is None or planned.max_lines == 0:
                continue
            if pair.lyric is not None:
                if planned.min_lines > 0 and not any(sung(line) for line in pair.lyric.lines):
                    before = "\n".join(pair.lyric.lines)
                    pair.lyric.lines[:] = self._write_lines(planned, [], max(planned.target_lines, planned.min_lines))
                    self.change("lyrics", planned.id, "rewrite_empty_section", before, "\n".join(pair.lyric.lines))
                continue
            section = LyricSection(
                id=planned.id,
                kind=planned.kind,
                label=planned.label,
                lines=self._write_lines(planned, [], max(planned.target_lines, planned.min_lines)),
            )
            later = [i for i, s in enumerate(self.lyrics.sections) if order.get(s.id, len(order)) > order[planned.id]]
            self.lyrics.sections.insert(later[0] if later else len(self.lyrics.sections), section)
            self.change("lyrics", planned.id, "add_section", "", "\n".join(section.lines))

    # ------------------------------------------------------------------------------------- components

    def fix_rhyme_tightness(self) -> None:
        sections = {s.id: s for s in self.lyrics.sections}
        planned = {p.id: p for p in self.plan.sections}
        hooks = self.hooks
        for pair in rhyme_pairs(self.plan, self.lyrics):
            if pair.kind not in BROKEN_RHYMES:
                continue
            section = sections[pair.section]
            rewrite, partner = pair.line, pair.anchor
            if contains_hook(section.lines[rewrite], hooks):
                group = next(g for g in rhyme_groups(self.plan.rhyme_scheme, len(section.lines)) if rewrite in g)
                if len(group) != 2 or contains_hook(section.lines[partner], hooks):
                    continue
                rewrite, partner = partner, rewrite
            partner_word = phonetics.end_word(section.lines[partner])
            kind = planned[section.id].kind if section.id in planned else section.kind
            target = target_syllables(SectionPair(planned.get(section.id), section), self.blueprint)
            accept = partial(_rhymes_better, partner=partner_word, than=pair.credit)
            new = self._fresh_line(section, rewrite, kind, target, partner_word, accept)
            if new is not None:
                self.set_line(section, rewrite, new, "rerhyme_line")

    def _fresh_line(
        self,
        section: LyricSection,
        index: int,
        kind: str,
        target: int,
        rhyme_with: str | None,
        acceptable: Callable[[str], bool],
    ) -> str | None:
        """A writer line that `acceptable` takes; a few salts are tried, the first one as specified."""
        salt = self.salt(section.id, index)
        ends = tuple(phonetics.end_word(line) for line in section.lines)
        for attempt in range(FRESH_LINE_ATTEMPTS):
            new = self.writer.line(
                section_kind=kind,
                syllables=target,
                rhyme_with=rhyme_with or None,
                avoid_end_words=ends,
                salt=salt if attempt == 0 else f"{salt}:{attempt}",
            )
            if acceptable(new):
                return new
        return None

    def fix_singability(self) -> None:
        hooks = self.hooks
        for pair in pair_sections(self.plan, self.lyrics):
            if pair.lyric is None:
                continue
            target = target_syllables(pair, self.blueprint)
            tolerance = syllable_tolerance(target)
            for index, line in enumerate(pair.lyric.lines):
                count = phonetics.line_syllables(line)
                on_target = abs(count - target) <= tolerance and line_fit(count, target) > 0
                if on_target or contains_hook(line, hooks):
                    continue
                fitted = self.writer.fit(line, target) if count else line
                if abs(phonetics.line_syllables(fitted) - target) > 1:
                    # The same rhyme sound keeps the line's scheme partners rhyming.
                    end = phonetics.end_word(line)
                    accept = partial(_keeps_rhyme_on_target, end=end, target=target)
                    fresh = self._fresh_line(pair.lyric, index, pair.kind, target, end, accept)
                    fitted = fresh or fitted
                if abs(phonetics.line_syllables(fitted) - target) < abs(count - target):
                    self.set_line(pair.lyric, index, fitted, "fit_syllables")

    def fix_hook_density(self) -> None:
        hooks = self.hooks
        hook_pairs = [p for p in pair_sections(self.plan, self.lyrics) if p.planned and p.planned.hook_role and p.lyric]
        for pair in hook_pairs:
            section, planned = pair.lyric, pair.planned
            assert section is not None and planned is not None
            hooked = [contains_hook(line, hooks) for line in section.lines]
            needs_last = planned.must_end_with_hook and section.lines and not hooked[-1]
            if any(hooked) and not needs_last:
                continue
            hook = self.writer.hook_line()
            if len(section.lines) < max(planned.max_lines, 1):
                section.lines.append(hook)
                self.change("lyrics", _line_target(section.id, len(section.lines) - 1), "add_hook_line", "", hook)
            else:
                self.set_line(section, len(section.lines) - 1, hook, "restore_hook_line")
        wanted = self.blueprint.rubric.hook_min_recurrences
        count = sum(contains_hook(line, hooks) for s in self.lyrics.sections for line in s.lines)
        for pair in hook_pairs:
            section, planned = pair.lyric, pair.planned
            assert section is not None and planned is not None
            if count >= wanted:
                break
            if len(section.lines) < planned.max_lines:
                hook = self.writer.hook_line()
                section.lines.append(hook)
                self.change("lyrics", _line_target(section.id, len(section.lines) - 1), "add_hook_line", "", hook)
                count += 1

    def fix_section_completeness(self) -> None:
        self.restore_sections()
        for pair in pair_sections(self.plan, self.lyrics):
            planned, section = pair.planned, pair.lyric
            if planned is None or section is None or planned.max_lines == 0:
                continue
            if len(section.lines) < planned.min_lines:
                wanted = max(planned.min_lines, min(planned.target_lines, planned.max_lines))
                before = len(section.lines)
                section.lines[:] = self._write_lines(planned, section.lines, wanted)
                for index in range(before, len(section.lines)):
                    self.change("lyrics", _line_target(section.id, index), "add_line", "", section.lines[index])
            while len(section.lines) > planned.max_lines and self._drop_last_line(section):
                pass

    def fix_profanity_score(self) -> None:
        self.fix_profanity()

    # ---------------------------------------------------------------------------------------------- run

    def run(self, report: ValidationReport) -> FixRecord:
        if report.hard_fails:
            codes = [code for code in HARD_FAIL_ORDER if any(f.code == code for f in report.hard_fails)]
            for code in codes:
                if code == "profanity":
                    self.fix_profanity()
                elif code == "living_artist":
                    self.fix_artists()
                elif code == "tag_conflict":
                    self.fix_tag_conflicts()
                elif code == "missing_section":
                    self.restore_sections()
                elif code == "char_limit":
                    for field in dict.fromkeys(f.field for f in report.hard_fails if f.code == code):
                        self.fix_char_limit(field)
            return FixRecord(iteration=self.iteration, component=",".join(codes), changes=self.changes)
        weights = self.blueprint.rubric.weights.model_dump()
        scores = report.scores.model_dump()
        ranked = sorted(COMPONENTS, key=lambda c: (-weights[c] * (100.0 - scores[c]), COMPONENTS.index(c)))
        for component in ranked:
            getattr(self, f"fix_{component}")()
            if self.changes:
                return FixRecord(iteration=self.iteration, component=component, changes=self.changes)
        return FixRecord(iteration=self.iteration, component=ranked[0], changes=[])


def apply_fixes(
    sds: dict[str, Any],
    plan: Plan,
    blueprint: Blueprint,
    style: StyleArtifact,
    lyrics: LyricsArtifact,
    producer: ProducerNotesArtifact,
    report: ValidationReport,
    iteration: int,
    seed: int,
) -> FixOutcome:
    """Repair every hard fail, or else only the weakest component; artifacts return without artifact_hash."""
    fixer = _Fixer(sds, plan, blueprint, style, lyrics, producer, iteration, seed)
    record = fixer.run(report)
    return FixOutcome(style=fixer.style, lyrics=fixer.lyrics, producer=fixer.producer, record=record)
