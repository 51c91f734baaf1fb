"""Loads taxonomies/: genre blueprints and their alias index, tag conflicts, profanity, artists, engine limits."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.paths import taxonomy_file

GENERAL_SLUG = "general"


class TempoRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str
    range: tuple[int, int]


class SectionRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    required: list[str] = Field(description="Canonical kinds that must appear (after equivalents).")
    optional: list[str]
    equivalents: dict[str, str] = Field(description="Kind -> the kind whose role it plays, e.g. Hook -> Chorus.")
    default_order: list[str] = Field(description="Canonical order used when the SDS order is incomplete.")
    lines: dict[str, tuple[int, int]] = Field(description="Min/max lines per canonical kind.")
    syllables: dict[str, tuple[int, int]] = Field(description="Min/max syllables per line per canonical kind.")
    duration_sec: dict[str, int] = Field(description="Typical seconds per section of each kind.")


class RubricWeights(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hook_density: float
    singability: float
    rhyme_tightness: float
    section_completeness: float
    profanity_score: float


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weights: RubricWeights
    min_total: float = Field(ge=0, le=100, description="Pass threshold for the weighted total (0-100).")
    min_component: float = Field(ge=0, le=100, description="Any component below this is reported as an issue.")
    hook_min_recurrences: int = Field(ge=0)
    rationale: str


class Blueprint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    genre: str
    display_name: str
    version: str
    aliases: list[str]
    tempo: list[TempoRange]
    tempo_default: int
    typical_length_sec: tuple[int, int]
    keys: list[str]
    moods: list[str]
    sections: SectionRules
    lexicon_positive: list[str]
    lexicon_imagery: list[str]
    avoid_terms: list[str]
    instrumentation: list[str]
    production_tags: list[str]
    vocal_style: list[str]
    default_vocal_range: str
    mix: dict[str, Any]
    rubric: Rubric
    notes: list[str] = []

    @property
    def tempo_bounds(self) -> tuple[int, int]:
        return min(r.range[0] for r in self.tempo), max(r.range[1] for r in self.tempo)

    def canonical_kind(self, kind: str) -> str:
        """The role a kind plays in this genre: Hook and Drop play Chorus where the blueprint says so."""
        return self.sections.equivalents.get(kind, kind)


class BlueprintLookup(BaseModel):
    blueprint: Blueprint
    warnings: list[str]


def _read_json(*parts: str) -> Any:
    with taxonomy_file(*parts).open(encoding="utf-8") as handle:
        return json.load(handle)


def normalise_genre_name(name: str) -> str:
    return re.sub(r"\s+", " ", name.strip().lower().replace("_", " "))


@cache
def alias_index() -> dict[str, str]:
    """Lower-cased genre names and aliases -> blueprint slug."""
    raw: dict[str, str] = _read_json("genre_aliases.json")["aliases"]
    return {normalise_genre_name(k): v for k, v in raw.items()}


@cache
def blueprint_slugs() -> tuple[str, ...]:
    return tuple(sorted(_read_json("genre_aliases.json")["genres"]))


@cache
def load_blueprint_by_slug(slug: str) -> Blueprint:
    if slug not in blueprint_slugs():
        raise KeyError(f"no blueprint named {slug!r}")
    return Blueprint.model_validate(_read_json("blueprints", f"{slug}.json"))


def resolve_blueprint(genre: str, *fallback_names: str) -> BlueprintLookup:
    """Find the blueprint for an SDS genre through the alias index; unknown genres fall back to the general one."""
    index = alias_index()
    for name in (genre, *fallback_names):
        slug = index.get(normalise_genre_name(name))
        if slug is not None:
            warnings = []
            if name != genre:
                warnings.append(
                    f"blueprint_ref.genre {genre!r} has no blueprint; used {slug!r} from style.genre_detail"
                )
            return BlueprintLookup(blueprint=load_blueprint_by_slug(slug), warnings=warnings)
    return BlueprintLookup(
        blueprint=load_blueprint_by_slug(GENERAL_SLUG),
        warnings=[f"blueprint_ref.genre {genre!r} has no blueprint; used the general blueprint"],
    )


@cache
def tag_conflicts() -> dict[str, frozenset[str]]:
    """Symmetric map tag -> tags it conflicts with (lower-case)."""
    pairs: dict[str, set[str]] = {}
    for entry in _read_json("tag_conflicts.json")["conflicts"]:
        tag = entry["tag"].lower()
        for other in entry["conflicts_with"]:
            pairs.setdefault(tag, set()).add(other.lower())
            pairs.setdefault(other.lower(), set()).add(tag)
    return {k: frozenset(v) for k, v in pairs.items()}


@cache
def profanity_data() -> dict[str, Any]:
    return dict(_read_json("profanity.json"))


@cache
def living_artists() -> list[dict[str, Any]]:
    return list(_read_json("living_artists.json")["artists"])


@cache
def artist_stand_in() -> str:
    """What replaces a living artist's name inside a lyric line."""
    return str(_read_json("living_artists.json")["lyric_stand_in"])


@cache
def engine_limits_table() -> dict[str, Any]:
    return dict(_read_json("engine_limits.json"))


@cache
def section_kinds() -> dict[str, str]:
    """Lower-case section id stem -> canonical kind, e.g. 'pre-chorus' -> 'Pre-Chorus'."""
    return dict(_read_json("section_names.json")["map"])
