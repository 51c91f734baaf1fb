"""STYLE: the style artifact from the SDS and blueprint: tempo in range, key, mood, instruments, clean tag lists."""

from __future__ import annotations

import random
from typing import Any

from agent.models import Plan, StyleArtifact, VocalProfile
from agent.taxonomy import Blueprint, tag_conflicts

MAX_POSITIVE_TAGS = 8
MAX_NEGATIVE_TAGS = 5
MAX_INSTRUMENTS = 3


def _unique(items: list[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for item in items:
        key = item.strip().lower()
        if key and key not in seen:
            seen.add(key)
            kept.append(item.strip())
    return kept


def sanitize_tags(positive: list[str], negative: list[str]) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Drop duplicates, later tags that conflict with earlier ones, and negatives that are also positive.

    Earlier tags win, so callers list the SDS's own tags before generated ones. Returns
    (positive, negative, dropped) where dropped pairs each removed tag with the reason.
    """
    conflicts = tag_conflicts()
    kept: list[str] = []
    notes: list[tuple[str, str]] = []
    for tag in _unique(positive):
        clash = next((k for k in kept if k.lower() in conflicts.get(tag.lower(), frozenset())), None)
        if clash is not None:
            notes.append((tag, f"conflicts with {clash!r}"))
            continue
        if len(kept) == MAX_POSITIVE_TAGS:
            notes.append((tag, f"at most {MAX_POSITIVE_TAGS} positive tags"))
            continue
        kept.append(tag)
    kept_lower = {k.lower() for k in kept}
    negatives: list[str] = []
    for tag in _unique(negative):
        if tag.lower() in kept_lower:
            notes.append((tag, "negative tag that is also a positive tag"))
        elif len(negatives) == MAX_NEGATIVE_TAGS:
            notes.append((tag, f"at most {MAX_NEGATIVE_TAGS} negative tags"))
        else:
            negatives.append(tag)
    return kept, negatives, notes


def choose_bpm(sds: dict[str, Any], blueprint: Blueprint, rng: random.Random) -> tuple[int, list[str]]:
    """The SDS tempo (a range picks a seeded value inside it), kept inside the blueprint's tempo range."""
    tempo = sds["style"]["tempo_bpm"]
    low, high = blueprint.tempo_bounds
    if isinstance(tempo, list):
        lo, hi = sorted(tempo)
        wanted = rng.randint(max(lo, low), min(hi, high)) if max(lo, low) <= min(hi, high) else lo
    else:
        wanted = int(tempo)
    bpm = min(max(wanted, low), high)
    if bpm != wanted:
        return bpm, [
            f"style.tempo_bpm {tempo} is outside the {blueprint.display_name} blueprint's {low}-{high} BPM; used {bpm}"
        ]
    return bpm, []


def generate_style(sds: dict[str, Any], plan: Plan, blueprint: Blueprint, seed: int) -> tuple[StyleArtifact, list[str]]:
    """The offline style: the SDS's choices first, the blueprint filling what the SDS leaves open."""
    rng = random.Random(seed)
    style = sds["style"]
    controls = sds.get("prompt_controls") or {}
    bpm, warnings = choose_bpm(sds, blueprint, rng)
    detail = style["genre_detail"]
    instruments = list(style.get("instrumentation") or [])
    if not instruments:
        pool = list(blueprint.instrumentation)
        instruments = sorted(rng.sample(pool, min(MAX_INSTRUMENTS, len(pool))), key=pool.index)
    excluded = {t.strip().lower() for t in (style.get("negative_tags") or []) + (controls.get("negative_tags") or [])}
    generated = [tag for tag in blueprint.production_tags if tag.lower() not in excluded]
    rng.shuffle(generated)
    given = list(style.get("tags") or []) + list(controls.get("positive_tags") or [])
    given_negative = list(style.get("negative_tags") or []) + list(controls.get("negative_tags") or [])
    positive, negative, dropped = sanitize_tags(given + generated, given_negative)
    requested = {t.strip().lower() for t in given + given_negative}
    warnings += [f"style tag {tag!r} dropped: {why}" for tag, why in dropped if tag.lower() in requested]
    artifact = StyleArtifact(
        genre=detail["primary"],
        sub_genres=_unique(list(detail.get("subgenres") or []) + list(detail.get("fusions") or [])),
        bpm=bpm,
        time_signature=style.get("time_signature", "4/4"),
        key=style["key"]["primary"],
        modulations=list(style["key"].get("modulations") or []),
        mood=list(style["mood"]),
        energy=style.get("energy", "medium"),
        instrumentation=instruments,
        vocal_profile=VocalProfile(
            range=blueprint.default_vocal_range,
            delivery=style.get("vocal_profile") or blueprint.vocal_style[0],
        ),
        tags_positive=positive,
        tags_negative=negative,
    )
    return artifact, warnings
