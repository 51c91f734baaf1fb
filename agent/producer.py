"""PRODUCER: arrangement notes: structure, hook count, per-section tags and durations, mix targets."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from agent.models import MixTargets, Plan, ProducerNotesArtifact, SectionMeta
from agent.paths import taxonomy_file
from agent.taxonomy import Blueprint


@cache
def arrangement_defaults() -> dict[str, Any]:
    with taxonomy_file("arrangement.json").open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def fit_durations(durations: dict[str, int], bounds: tuple[int, int]) -> dict[str, int]:
    """Scale section durations so their sum falls inside the blueprint's typical length (each at least 1 s)."""
    total = sum(durations.values())
    low, high = bounds
    if total == 0 or low <= total <= high:
        return durations
    goal = max(low if total < low else high, len(durations))
    scaled = {sid: max(1, round(sec * goal / total)) for sid, sec in durations.items()}
    # rounding leaves a few seconds over or under: move them one at a time, longest sections first
    by_length = sorted(scaled, key=lambda sid: (-scaled[sid], sid))
    drift = goal - sum(scaled.values())
    index = 0
    while drift:
        sid = by_length[index % len(by_length)]
        if drift > 0:
            scaled[sid] += 1
            drift -= 1
        elif scaled[sid] > 1:
            scaled[sid] -= 1
            drift += 1
        index += 1
    return scaled


def draft_producer_notes(
    sds: dict[str, Any], plan: Plan, blueprint: Blueprint, seed: int
) -> tuple[ProducerNotesArtifact, list[str]]:
    """The offline producer notes; the SDS's own section tags and durations win over the defaults."""
    notes = sds["producer_notes"]
    given_meta = notes.get("section_meta") or {}
    kinds = arrangement_defaults()["kinds"]
    durations = {
        s.id: int(given_meta.get(s.id, {}).get("target_duration_sec") or s.target_duration_sec) for s in plan.sections
    }
    fixed = {sid for sid in durations if given_meta.get(sid, {}).get("target_duration_sec")}
    scalable = {sid: sec for sid, sec in durations.items() if sid not in fixed}
    fixed_total = sum(durations[sid] for sid in fixed)
    low, high = blueprint.typical_length_sec
    durations.update(fit_durations(scalable, (max(1, low - fixed_total), max(1, high - fixed_total))))
    warnings = []
    total = sum(durations.values())
    if not low <= total <= high:
        warnings.append(
            f"producer_notes.section_meta durations total {total} s, outside the {blueprint.display_name} "
            f"blueprint's {low}-{high} s"
        )
    section_meta = {
        s.id: SectionMeta(
            tags=list(given_meta.get(s.id, {}).get("tags") or kinds.get(s.kind, kinds["Section"])["tags"]),
            target_duration_sec=durations[s.id],
            energy=kinds.get(s.kind, kinds["Section"])["energy"],
        )
        for s in plan.sections
    }
    mix = {**blueprint.mix, **(notes.get("mix") or {})}
    hook_sections = sum(1 for s in plan.sections if s.hook_role)
    instrumentation = list(notes.get("instrumentation") or sds["style"].get("instrumentation") or [])
    artifact = ProducerNotesArtifact(
        structure="-".join(s.label for s in plan.sections),
        hooks=int(notes.get("hooks", hook_sections)),
        instrumentation=instrumentation or blueprint.instrumentation[:3],
        section_meta=section_meta,
        mix=MixTargets(lufs=float(mix["lufs"]), space=str(mix["space"]), stereo_width=mix["stereo_width"]),
        duration_sec=total,
        arrangement_notes=[f"SDS structure: {notes['structure']}"] if notes.get("structure") else [],
    )
    return artifact, warnings
