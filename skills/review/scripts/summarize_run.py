#!/usr/bin/env python3
"""summarize_run: the REVIEW node's state update ({"review", "status"}) from a finished run's state.

Usage: python skills/review/scripts/summarize_run.py [FILE|DIR|-] [--state]
Input: a graph state (run_id, artifacts, fix_iterations, fix_log, warnings, usage), or an
`amcs run --out` directory. Exit 0 when the run passed validation, 1 when it did not, 2 on bad input."""

from __future__ import annotations

import sys

try:
    from agent.review import review_summary
    from agent.skill_io import BadInput, ToolInput, ToolResult, run_tool
except ImportError as exc:  # the project is not installed in this interpreter
    sys.stderr.write(
        f"summarize_run.py: cannot import the AMCS packages ({exc}).\n"
        "Install the project first, from the repository root: pip install -e .\n"
    )
    raise SystemExit(3) from None


def summarize(tool: ToolInput) -> ToolResult:
    artifacts = tool.artifacts
    if not artifacts:
        raise BadInput.one("artifacts", "is missing (give a run's state or its --out directory)")
    for name, artifact in artifacts.items():
        if not isinstance(artifact, dict) or "artifact_hash" not in artifact:
            raise BadInput.one(f"artifacts.{name}.artifact_hash", "is missing")
    totals: dict[str, float] = {}
    for usage in (tool.get("usage") or {}).values():
        for key, value in usage.items():
            if isinstance(value, int | float):
                totals[key] = totals.get(key, 0) + value
    review = review_summary(
        run_id=tool.get("run_id", ""),
        artifacts=artifacts,
        fix_iterations=int(tool.get("fix_iterations", 0)),
        fix_log=tool.get("fix_log", []),
        warnings=tool.get("warnings", []),
        usage=totals,
    )
    return ToolResult({"review": review, "status": review["status"]}, failed=review["status"] != "pass")


if __name__ == "__main__":
    raise SystemExit(run_tool(summarize, prog="summarize_run.py", description=__doc__))
