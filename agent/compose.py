"""COMPOSE: merge style, lyrics and producer notes into a render-ready prompt within the engine's limits."""

from __future__ import annotations

from agent.models import ComposedPrompt, LyricsArtifact, Plan, ProducerNotesArtifact, StyleArtifact

SEPARATOR = ", "


def style_phrases(style: StyleArtifact) -> list[str]:
    """Style-field phrases, essentials first: genre, tempo, key, subgenres, mood, instruments, vocals, tags."""
    phrases = [style.genre, f"{style.bpm} BPM", style.key, *style.sub_genres]
    phrases += style.mood + style.instrumentation
    phrases.append(f"{style.vocal_profile.delivery} {style.vocal_profile.range} vocals")
    phrases += style.tags_positive
    seen: set[str] = set()
    unique = []
    for phrase in phrases:
        if phrase.lower() not in seen:
            seen.add(phrase.lower())
            unique.append(phrase)
    return unique


def join_within(phrases: list[str], budget: int) -> tuple[str, list[str]]:
    """Join phrases in order while they fit the budget; returns the text and the phrases left out."""
    text, left_out = "", []
    for phrase in phrases:
        candidate = f"{text}{SEPARATOR}{phrase}" if text else phrase
        if len(candidate) <= budget:
            text = candidate
        else:
            left_out.append(phrase)
    return text, left_out


def lyrics_text(lyrics: LyricsArtifact) -> str:
    blocks = []
    for section in lyrics.sections:
        blocks.append("\n".join([f"[{section.label}]", *section.lines]))
    return "\n\n".join(blocks + ["[End]"])


def compose_prompt(
    plan: Plan, style: StyleArtifact, lyrics: LyricsArtifact, producer: ProducerNotesArtifact
) -> ComposedPrompt:
    """The composed prompt. The style field is filled essentials-first up to its limit; lyrics and the title
    (taken from the lyrics artifact) are never cut here: VALIDATE reports an over-long field and FIX trims it,
    recording what it removed."""
    limits = plan.limits
    exclude = SEPARATOR.join(style.tags_negative)
    style_budget = limits.style_max
    if limits.exclude_max is None and exclude:
        style_budget -= len(exclude) + len(SEPARATOR)
    style_text, left_out = join_within(style_phrases(style), style_budget)
    lyric_block = lyrics_text(lyrics)
    title = lyrics.title
    text = f"Title: {title}\nStyle: {style_text}\n"
    if exclude:
        text += f"Exclude: {exclude}\n"
    text += f"\n{lyric_block}\n"
    return ComposedPrompt(
        engine=limits.engine,
        model=limits.model,
        title=title,
        style_text=style_text,
        lyrics_text=lyric_block,
        exclude_text=exclude,
        text=text,
        meta={
            "genre": plan.genre,
            "tempo_bpm": style.bpm,
            "structure": producer.structure,
            "style_tags": style.tags_positive,
            "negative_tags": style.tags_negative,
            "section_tags": {sid: meta.tags for sid, meta in producer.section_meta.items()},
            "style_left_out": left_out,
            "model_limits": limits.model_dump(),
            "char_counts": {
                "title": len(title),
                "style_text": len(style_text),
                "lyrics_text": len(lyric_block),
                "exclude_text": len(exclude),
            },
        },
    )
