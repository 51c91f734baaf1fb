#!/usr/bin/env python3
"""score_rubric: the VALIDATE node's state update ({"artifacts": {"validation"}}): scores, issues, hard fails.

Usage: python skills/validation/scripts/score_rubric.py [FILE|DIR|-] [--sds FILE] [--state]
Input: a state (or {"sds" or "plan", "artifacts": {"style", "lyrics", "producer_notes", "composed_prompt"}}),
or an `amcs run --out` directory with --sds. Without a composed_prompt the artifacts are composed first, as
COMPOSE would. Exit 0 when validation_result is pass, 1 when it is fail, 2 on bad input."""

from __future__ import annotations

import sys

try:
    from agent.compose import compose_prompt
    from agent.models import ComposedPrompt, LyricsArtifact, ProducerNotesArtifact, StyleArtifact
    from agent.skill_io import ToolInput, ToolResult, run_tool
    from agent.validate import validate_song
except ImportError as exc:  # the project is not installed in this interpreter
    sys.stderr.write(
        f"score_rubric.py: cannot import the AMCS packages ({exc}).\n"
        "Install the project first, from the repository root: pip install -e .\n"
    )
    raise SystemExit(3) from None


def score(tool: ToolInput) -> ToolResult:
    style = tool.artifact("style", StyleArtifact)
    lyrics = tool.artifact("lyrics", LyricsArtifact)
    producer = tool.artifact("producer_notes", ProducerNotesArtifact)
    plan, blueprint = tool.plan, tool.blueprint
    if "composed_prompt" in tool.artifacts:
        prompt = tool.artifact("composed_prompt", ComposedPrompt)
    else:
        prompt = compose_prompt(plan, style, lyrics, producer)
    report = validate_song(tool.sds, plan, blueprint, style, lyrics, producer, prompt)
    return ToolResult({"artifacts": {"validation": report.to_state()}}, failed=report.validation_result != "pass")


if __name__ == "__main__":
    raise SystemExit(run_tool(score, prog="score_rubric.py", description=__doc__))
