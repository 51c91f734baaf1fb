"""PLAN: expand an SDS into section targets, node seeds, objectives and engine limits."""

from __future__ import annotations

import json
import math
import re
from functools import cache
from typing import Any

from agent.models import EngineLimits, Plan, PlannedSection
from agent.paths import taxonomy_file
from agent.profanity import TIER_ORDER, clean_line
from agent.rhyme_scheme import FREE, normalise_scheme
from agent.sds import feature_flag, validate_sds
from agent.taxonomy import Blueprint, artist_stand_in, engine_limits_table, resolve_blueprint, section_kinds
from agent.validate import artist_mentions

NODE_ORDER = ("PLAN", "STYLE", "LYRICS", "PRODUCER", "COMPOSE", "VALIDATE", "FIX", "RENDER", "REVIEW")
NUMBERED_KINDS = frozenset({"Verse", "Section", "Rap"})
MAX_HOOK_WORDS = 6
SEED_RANGE = 2**64  # checkpoints store integers in 64 bits


@cache
def _reading_levels() -> dict[str, float]:
    with taxonomy_file("reading_levels.json").open(encoding="utf-8") as handle:
        return {k: float(v) for k, v in json.load(handle)["words"].items()}


def section_kind(section_id: str) -> str:
    stem = re.sub(r"[\s_\-]*\d+$", "", section_id.strip().lower()).strip(" _-")
    kinds = section_kinds()
    return kinds.get(stem) or kinds.get(stem.replace("_", "-")) or "Section"


def reading_grade(level: str | None) -> tuple[float | None, str | None]:
    """Upper bound on Flesch-Kincaid grade for an SDS reading_level, with a warning if it is not understood."""
    if level is None or not level.strip():
        return None, None
    text = level.strip().lower()
    number = re.search(r"\d+(\.\d+)?", text)
    if number and ("grade" in text or text == number.group(0)):
        return float(number.group(0)), None
    for words, grade in sorted(_reading_levels().items(), key=lambda item: -len(item[0])):
        if words in text:
            return grade, None
    return None, f"lyrics.reading_level {level!r} is not a known level or 'grade N'; no reading-level target set"


def flag_enabled(value: bool | float | str) -> bool:
    """Feature flags may be booleans, numbers or strings; "false", "off", "no" and "0" mean off."""
    if isinstance(value, str):
        return value.strip().lower() not in {"", "false", "off", "no", "0"}
    return bool(value)


def hook_phrase(title: str) -> str:
    """The title as a singable hook: parenthetical asides dropped, at most a few words."""
    words = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", title).split()
    return " ".join(words[:MAX_HOOK_WORDS]) or title.strip()


def singable_hook(sds: dict[str, Any], explicit: bool, fallback: str) -> tuple[str, str | None]:
    """The hook from the title, without what VALIDATE forbids in a lyric (so neither LYRICS nor FIX sings it),
    or from the first theme (else `fallback`) when the title is blank; with a warning when it is not the title's."""
    title = sds["title"]
    hook = hook_phrase(title)
    if not title.strip():
        themes = [str(t).strip() for t in sds["lyrics"].get("themes") or [] if str(t).strip()]
        hook = themes[0][:1].upper() + themes[0][1:] if themes else fallback
    sung = clean_line(hook, ("slur",) if explicit else TIER_ORDER)
    for written, _ in artist_mentions(sung, in_lyrics=True):
        sung = sung.replace(written, artist_stand_in())
    if not title.strip():
        return sung, f"title is blank; the hook sung is {sung!r}"
    if sung != hook:
        return sung, f"the hook sung is {sung!r}: the title names a living artist or profanity the song may not use"
    return sung, None


def engine_limits(sds: dict[str, Any]) -> tuple[EngineLimits, list[str]]:
    render = sds["render"]
    engine = render["engine"]
    engines = engine_limits_table()["engines"]
    spec = engines[engine]
    model = render.get("model") or spec["default_model"]
    warnings = []
    if model not in spec["models"]:
        warnings.append(
            f"render.model {model!r} is not a known {engine} model "
            f"({', '.join(spec['models'])}); used {spec['default_model']} limits"
        )
        model = spec["default_model"]
    row = spec["models"][model]
    controls = sds.get("prompt_controls") or {}
    style_max = min(row["style_max"], controls.get("max_style_chars", row["style_max"]))
    lyrics_max = min(row["lyrics_max"], controls.get("max_prompt_chars", row["lyrics_max"]))
    limits = EngineLimits(
        engine=engine,
        model=model,
        lyrics_max=lyrics_max,
        style_max=style_max,
        exclude_max=row["exclude_max"],
        title_max=row["title_max"],
    )
    return limits, warnings


def _line_targets(kind: str, blueprint: Blueprint, requirement: dict[str, Any], stanza: int) -> tuple[int, int, int]:
    lo, hi = blueprint.sections.lines.get(kind, blueprint.sections.lines.get("Section", (2, 6)))
    lo = requirement.get("min_lines", lo)
    hi = max(lo, requirement.get("max_lines", hi))
    fitting = [n for n in range(hi, lo - 1, -1) if n > 0 and n % stanza == 0]
    target = fitting[0] if fitting else hi
    return lo, hi, target


def _shrink_to(sections: list[PlannedSection], max_lines: int, required: set[str]) -> None:
    """Trim line targets until the total fits: optional kinds before required ones, and every section of a
    kind by the same amount, so repeated choruses and verses keep the same length."""

    def total() -> int:
        return sum(s.target_lines for s in sections)

    def essential(section: PlannedSection) -> bool:
        return section.kind in required or section.hook_role

    for pass_essential in (False, True):
        while total() > max_lines:
            kinds = sorted(
                {s.kind for s in sections if essential(s) == pass_essential and s.target_lines > s.min_lines},
                key=lambda kind: (-max(s.target_lines for s in sections if s.kind == kind), kind),
            )
            if not kinds:
                break
            for section in sections:
                if section.kind == kinds[0] and section.target_lines > section.min_lines:
                    # whole couplets keep paired rhyme schemes intact
                    step = 2 if section.target_lines - 2 >= section.min_lines else 1
                    section.target_lines -= step


def plan_song(sds: dict[str, Any]) -> tuple[Plan, Blueprint, list[str]]:
    """Validate the SDS and expand it into a Plan; returns the plan, its blueprint and warnings."""
    validate_sds(sds)
    lyrics = sds["lyrics"]
    constraints = lyrics.get("constraints") or {}
    lookup = resolve_blueprint(sds["blueprint_ref"]["genre"], sds["style"]["genre_detail"]["primary"])
    blueprint, warnings = lookup.blueprint, list(lookup.warnings)

    scheme, scheme_warning = normalise_scheme(lyrics.get("rhyme_scheme"))
    grade, grade_warning = reading_grade(lyrics.get("reading_level"))
    limits, limit_warnings = engine_limits(sds)
    warnings += [w for w in (scheme_warning, grade_warning) if w] + limit_warnings

    stanza = len(scheme) if scheme != FREE else 4
    requirements = constraints.get("section_requirements") or {}
    kinds = [section_kind(section_id) for section_id in lyrics["section_order"]]
    counts: dict[str, int] = {}
    sections: list[PlannedSection] = []
    for section_id, kind in zip(lyrics["section_order"], kinds, strict=True):
        counts[kind] = counts.get(kind, 0) + 1
        requirement = requirements.get(section_id, {})
        lo, hi, target = _line_targets(kind, blueprint, requirement, stanza)
        syl_lo, syl_hi = blueprint.sections.syllables.get(kind, blueprint.sections.syllables["Verse"])
        syllables = lyrics.get("syllables_per_line") or math.ceil((syl_lo + syl_hi) / 2)
        label_kind = "Part" if kind == "Section" else kind
        label = f"{label_kind} {counts[kind]}" if kind in NUMBERED_KINDS else label_kind
        sections.append(
            PlannedSection(
                id=section_id,
                kind=kind,
                label=label,
                target_lines=target,
                min_lines=lo,
                max_lines=hi,
                target_syllables=syllables if target else 0,
                hook_role=blueprint.canonical_kind(kind) == "Chorus",
                must_end_with_hook=bool(requirement.get("must_end_with_hook", False)),
                target_duration_sec=blueprint.sections.duration_sec.get(kind, 20),
            )
        )
    unknown = sorted({s.id for s in sections if s.kind == "Section"})
    if unknown:
        warnings.append(f"lyrics.section_order ids {', '.join(unknown)} map to no known section kind; planned as parts")

    required = {blueprint.canonical_kind(k) for k in blueprint.sections.required}
    present = {blueprint.canonical_kind(s.kind) for s in sections}
    missing = sorted(required - present)
    if missing:
        warnings.append(
            f"lyrics.section_order lacks the {blueprint.display_name} blueprint's required "
            f"{', '.join(missing)}; validation will mark the song incomplete"
        )
    max_lines = constraints.get("max_lines")
    if max_lines is not None:
        _shrink_to(sections, max_lines, required)
        for section in sections:
            if section.target_lines == 0:
                section.target_syllables = 0
        if sum(s.target_lines for s in sections) > max_lines:
            warnings.append(f"lyrics.constraints.max_lines {max_lines} is below the sections' minimum line counts")

    seed = int(sds["seed"])
    explicit = bool(constraints.get("explicit", False))
    hook, hook_warning = singable_hook(sds, explicit, blueprint.display_name)
    warnings += [hook_warning] if hook_warning else []
    flag = feature_flag(sds, "render.enabled")
    render_enabled = flag_enabled(flag) if flag is not None else sds["render"]["engine"] != "none"
    section_names = ", ".join(s.label for s in sections)
    plan = Plan(
        title=sds["title"],
        genre=blueprint.genre,
        genre_display=blueprint.display_name,
        blueprint_version=blueprint.version,
        sections=sections,
        required_kinds=sorted(required),
        rhyme_scheme=scheme,
        hook_line=hook,
        node_seeds={node: (seed + index) % SEED_RANGE for index, node in enumerate(NODE_ORDER)},
        objectives={
            "STYLE": f"{blueprint.display_name} style inside {blueprint.tempo_bounds[0]}-"
            f"{blueprint.tempo_bounds[1]} BPM, at most 8 positive and 5 negative tags, no conflicting pair",
            "LYRICS": f"Write {section_names} with {scheme} rhyme, the hook '{hook}' in every chorus",
            "PRODUCER": f"Arrange {len(sections)} sections to fit {blueprint.typical_length_sec[0]}-"
            f"{blueprint.typical_length_sec[1]} s",
            "COMPOSE": f"Merge into a {limits.engine} {limits.model} prompt: style <= {limits.style_max}, "
            f"lyrics <= {limits.lyrics_max} characters",
            "VALIDATE": f"Score against the {blueprint.display_name} rubric, pass at {blueprint.rubric.min_total}",
        },
        limits=limits,
        render_enabled=render_enabled,
        explicit=explicit,
        max_lines=max_lines,
        target_reading_grade=grade,
    )
    return plan, blueprint, warnings
