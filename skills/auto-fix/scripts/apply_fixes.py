#!/usr/bin/env python3
"""apply_fixes: the FIX node's state update: repaired artifacts, the fix record and the iteration.

Usage: python skills/auto-fix/scripts/apply_fixes.py [FILE|DIR|-] [--sds FILE] [--state]
Input: a state whose artifacts include the failing `validation` report (or {"sds" or "plan",
"artifacts": {...}, "fix_iterations": N}). The iteration is fix_iterations + 1, as in the graph; the
plan's FIX seed is used. Output: {"fix_iterations", "fix_log": [record], "artifacts": {"style", "lyrics",
"producer_notes"}, "warnings"}. Exit 0 when something was changed, 1 when nothing could be fixed,
2 on bad input."""

from __future__ import annotations

import sys

try:
    from agent.engine import NodeJob
    from agent.models import LyricsArtifact, ProducerNotesArtifact, StyleArtifact, ValidationReport
    from agent.offline import OfflineEngine
    from agent.skill_io import BadInput, ToolInput, ToolResult, run_tool
except ImportError as exc:  # the project is not installed in this interpreter
    sys.stderr.write(
        f"apply_fixes.py: cannot import the AMCS packages ({exc}).\n"
        "Install the project first, from the repository root: pip install -e .\n"
    )
    raise SystemExit(3) from None


def fix(tool: ToolInput) -> ToolResult:
    previous = tool.get("fix_iterations", 0) or 0
    if not isinstance(previous, int) or previous < 0:
        raise BadInput.one("fix_iterations", "must be a whole number of fix cycles already run")
    iteration = previous + 1
    style = tool.artifact("style", StyleArtifact)
    lyrics = tool.artifact("lyrics", LyricsArtifact)
    producer = tool.artifact("producer_notes", ProducerNotesArtifact)
    report = tool.artifact("validation", ValidationReport)
    job = NodeJob("apply_fixes", tool.sds, tool.plan, tool.blueprint, tool.plan.node_seeds["FIX"])
    drafted = OfflineEngine().fix(
        job, style=style, lyrics=lyrics, producer=producer, report=report, iteration=iteration
    )
    outcome = drafted.value
    update = {
        "fix_iterations": iteration,
        "fix_log": [outcome.record.model_dump(mode="json")],
        "artifacts": {
            "style": outcome.style.to_state(),
            "lyrics": outcome.lyrics.to_state(),
            "producer_notes": outcome.producer.to_state(),
        },
        "warnings": drafted.warnings,
    }
    return ToolResult(update, failed=not outcome.record.changes)


if __name__ == "__main__":
    raise SystemExit(run_tool(fix, prog="apply_fixes.py", description=__doc__))
