"""Graph nodes: thin wrappers that read state, call the agent layer, and return plain-data updates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from agent.compose import compose_prompt as compose
from agent.engine import NodeJob
from agent.models import (
    ComposedPrompt,
    LyricsArtifact,
    Plan,
    ProducerNotesArtifact,
    StyleArtifact,
    ValidationReport,
)
from agent.plan import plan_song as expand_sds
from agent.render import LocalRenderConnector
from agent.review import review_summary
from agent.taxonomy import Blueprint, load_blueprint_by_slug
from agent.validate import validate_song as score_song
from graph.context import Context
from graph.engines import engine_for
from graph.events import emit, traced, traced_fix
from graph.state import SDS_KEYS, SongState


def _context(runtime: Runtime[Context] | None) -> Context:
    context = runtime.context if runtime is not None and runtime.context is not None else Context()
    return context.resolved()


def _said(node: str, text: str) -> dict[str, Any]:
    return {"messages": [AIMessage(content=text, name=node)]}


def _plan(state: SongState) -> tuple[Plan, Blueprint]:
    plan = Plan.model_validate(state["plan"])
    return plan, load_blueprint_by_slug(plan.genre)


def _job(state: SongState, node: str, seed_key: str) -> NodeJob:
    plan, blueprint = _plan(state)
    return NodeJob(
        node=node, sds=state["sds"], plan=plan, blueprint=blueprint, seed=plan.node_seeds[seed_key], emit=emit
    )


def _artifacts(state: SongState) -> tuple[StyleArtifact, LyricsArtifact, ProducerNotesArtifact]:
    artifacts = state["artifacts"]
    return (
        StyleArtifact.model_validate(artifacts["style"]),
        LyricsArtifact.model_validate(artifacts["lyrics"]),
        ProducerNotesArtifact.model_validate(artifacts["producer_notes"]),
    )


@traced
def plan_song(state: SongState, runtime: Runtime[Context]) -> dict[str, Any]:
    sds = {key: state[key] for key in SDS_KEYS if key in state}  # type: ignore[literal-required]
    plan, blueprint, warnings = expand_sds(sds)
    run_id = runtime.execution_info.thread_id if runtime.execution_info else None
    sections = ", ".join(s.label for s in plan.sections)
    return {
        "run_id": run_id or "",
        "status": "running",
        "sds": sds,
        "plan": plan.to_state(),
        "fix_iterations": 0,
        "warnings": warnings,
        **_said("plan_song", f"Planned '{plan.title}' as {blueprint.display_name}: {sections}."),
    }


@traced
def generate_style(state: SongState, runtime: Runtime[Context]) -> dict[str, Any]:
    drafted = engine_for(_context(runtime)).write_style(_job(state, "generate_style", "STYLE"))
    style = drafted.value
    return {
        "artifacts": {"style": style.to_state()},
        "warnings": drafted.warnings,
        "usage": {"generate_style": drafted.usage} if drafted.usage else {},
        **_said("generate_style", f"Style: {style.genre}, {style.bpm} BPM, {style.key}, {', '.join(style.mood)}."),
    }


@traced
def write_lyrics(state: SongState, runtime: Runtime[Context]) -> dict[str, Any]:
    drafted = engine_for(_context(runtime)).write_lyrics(_job(state, "write_lyrics", "LYRICS"))
    lyrics = drafted.value
    lines = sum(len(s.lines) for s in lyrics.sections)
    return {
        "artifacts": {"lyrics": lyrics.to_state()},
        "warnings": drafted.warnings,
        "usage": {"write_lyrics": drafted.usage} if drafted.usage else {},
        **_said("write_lyrics", f"Lyrics: {len(lyrics.sections)} sections, {lines} lines, hook '{lyrics.hook_line}'."),
    }


@traced
def draft_producer_notes(state: SongState, runtime: Runtime[Context]) -> dict[str, Any]:
    drafted = engine_for(_context(runtime)).write_producer_notes(_job(state, "draft_producer_notes", "PRODUCER"))
    notes = drafted.value
    return {
        "artifacts": {"producer_notes": notes.to_state()},
        "warnings": drafted.warnings,
        "usage": {"draft_producer_notes": drafted.usage} if drafted.usage else {},
        **_said("draft_producer_notes", f"Producer notes: {notes.structure}, {notes.duration_sec} s."),
    }


@traced
def compose_prompt(state: SongState) -> dict[str, Any]:
    plan, _ = _plan(state)
    style, lyrics, producer = _artifacts(state)
    prompt = compose(plan, style, lyrics, producer)
    counts = prompt.meta["char_counts"]
    return {
        "artifacts": {"composed_prompt": prompt.to_state()},
        **_said(
            "compose_prompt",
            f"Composed a {prompt.engine} {prompt.model} prompt: style {counts['style_text']}/{plan.limits.style_max}, "
            f"lyrics {counts['lyrics_text']}/{plan.limits.lyrics_max} characters.",
        ),
    }


@traced
def validate_song(state: SongState) -> dict[str, Any]:
    plan, blueprint = _plan(state)
    style, lyrics, producer = _artifacts(state)
    prompt = ComposedPrompt.model_validate(state["artifacts"]["composed_prompt"])
    report = score_song(state["sds"], plan, blueprint, style, lyrics, producer, prompt)
    scores = report.scores
    return {
        "artifacts": {"validation": report.to_state()},
        **_said(
            "validate_song",
            f"Validation {report.validation_result}: total {scores.total} (threshold {report.threshold}), "
            f"hook {scores.hook_density}, singability {scores.singability}, rhyme {scores.rhyme_tightness}, "
            f"completeness {scores.section_completeness}, profanity {scores.profanity_score}"
            + (f"; hard fails: {', '.join(f.code for f in report.hard_fails)}" if report.hard_fails else "")
            + ".",
        ),
    }


@traced_fix
def apply_fixes(state: SongState, runtime: Runtime[Context]) -> dict[str, Any]:
    iteration = int(state.get("fix_iterations", 0)) + 1
    style, lyrics, producer = _artifacts(state)
    report = ValidationReport.model_validate(state["artifacts"]["validation"])
    job = _job(state, "apply_fixes", "FIX")
    drafted = engine_for(_context(runtime)).fix(
        job, style=style, lyrics=lyrics, producer=producer, report=report, iteration=iteration
    )
    outcome = drafted.value
    record = outcome.record.model_dump(mode="json")
    changed = ", ".join(f"{c.target} ({c.action})" for c in outcome.record.changes) or "nothing"
    return {
        "fix_iterations": iteration,
        "fix_log": [record],
        "artifacts": {
            "style": outcome.style.to_state(),
            "lyrics": outcome.lyrics.to_state(),
            "producer_notes": outcome.producer.to_state(),
        },
        "warnings": drafted.warnings,
        "usage": {f"apply_fixes_{iteration}": drafted.usage} if drafted.usage else {},
        **_said("apply_fixes", f"Fix {iteration} on {outcome.record.component}: changed {changed}."),
    }


@traced
def render_song(state: SongState, runtime: Runtime[Context]) -> dict[str, Any]:
    context = _context(runtime)
    plan, _ = _plan(state)
    prompt = ComposedPrompt.model_validate(state["artifacts"]["composed_prompt"])
    connector = LocalRenderConnector(Path(context.data_dir) / "renders")
    job = connector.submit(
        prompt, num_variations=int(state["sds"]["render"].get("num_variations", 2)), seed=plan.node_seeds["RENDER"]
    )
    return {
        "artifacts": {"render_job": job.to_state()},
        **_said("render_song", f"Render job {job.job_id} on {job.engine} {job.model}: {job.status}."),
    }


@traced
def review_run(state: SongState) -> dict[str, Any]:
    usage_by_node = state.get("usage") or {}
    totals: dict[str, Any] = {}
    for usage in usage_by_node.values():
        for key, value in usage.items():
            if isinstance(value, int | float):
                totals[key] = totals.get(key, 0) + value
    review = review_summary(
        run_id=state.get("run_id", ""),
        artifacts=state["artifacts"],
        fix_iterations=int(state.get("fix_iterations", 0)),
        fix_log=state.get("fix_log", []),
        warnings=state.get("warnings", []),
        usage=totals,
    )
    scores = review["scores"]
    return {
        "review": review,
        "status": review["status"],
        **_said(
            "review_run",
            f"Run {review['status']} after {review['fix_iterations']} fix cycle(s), total score {scores.get('total')}.",
        ),
    }
