#!/usr/bin/env python3
"""merge_artifacts: the COMPOSE node's state update ({"artifacts": {"composed_prompt"}}).

Usage: python skills/prompt-composition/scripts/merge_artifacts.py [FILE|DIR|-] [--sds FILE] [--state]
Input: a state (or {"sds" or "plan", "artifacts": {"style", "lyrics", "producer_notes"}}), or an
`amcs run --out` directory with --sds. Exit 0 when every field fits the engine's character limits,
1 when one does not (the prompt is still printed; VALIDATE would hard-fail it), 2 on bad input."""

from __future__ import annotations

import sys

try:
    from agent.compose import compose_prompt
    from agent.models import LyricsArtifact, ProducerNotesArtifact, StyleArtifact
    from agent.skill_io import ToolInput, ToolResult, run_tool
except ImportError as exc:  # the project is not installed in this interpreter
    sys.stderr.write(
        f"merge_artifacts.py: cannot import the AMCS packages ({exc}).\n"
        "Install the project first, from the repository root: pip install -e .\n"
    )
    raise SystemExit(3) from None


def merge(tool: ToolInput) -> ToolResult:
    style = tool.artifact("style", StyleArtifact)
    lyrics = tool.artifact("lyrics", LyricsArtifact)
    producer = tool.artifact("producer_notes", ProducerNotesArtifact)
    plan = tool.plan
    prompt = compose_prompt(plan, style, lyrics, producer)
    counts, limits = prompt.meta["char_counts"], plan.limits
    over = [
        f"{name} has {counts[name]} characters; limit {limit}"
        for name, limit in (
            ("style_text", limits.style_max),
            ("lyrics_text", limits.lyrics_max),
            ("title", limits.title_max),
            ("exclude_text", limits.exclude_max),
        )
        if limit is not None and counts[name] > limit
    ]
    return ToolResult({"artifacts": {"composed_prompt": prompt.to_state()}}, failed=bool(over), notes=over)


if __name__ == "__main__":
    raise SystemExit(run_tool(merge, prog="merge_artifacts.py", description=__doc__))
