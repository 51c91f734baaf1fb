#!/usr/bin/env python3
"""draft_producer_notes: the PRODUCER node's state update ({"artifacts": {"producer_notes"}, "warnings"}).

Usage: python skills/producer-notes/scripts/draft_producer_notes.py [FILE|-] [--state]
Input: an SDS or a state. Runs the deterministic offline engine with the plan's PRODUCER seed, exactly as
the graph node does. Exit 0, or 2 on bad input."""

from __future__ import annotations

import sys

try:
    from agent.engine import NodeJob
    from agent.offline import OfflineEngine
    from agent.skill_io import ToolInput, ToolResult, run_tool
except ImportError as exc:  # the project is not installed in this interpreter
    sys.stderr.write(
        f"draft_producer_notes.py: cannot import the AMCS packages ({exc}).\n"
        "Install the project first, from the repository root: pip install -e .\n"
    )
    raise SystemExit(3) from None


def draft(tool: ToolInput) -> ToolResult:
    job = NodeJob("draft_producer_notes", tool.sds, tool.plan, tool.blueprint, tool.plan.node_seeds["PRODUCER"])
    drafted = OfflineEngine().write_producer_notes(job)
    return ToolResult({"artifacts": {"producer_notes": drafted.value.to_state()}, "warnings": drafted.warnings})


if __name__ == "__main__":
    raise SystemExit(run_tool(draft, prog="draft_producer_notes.py", description=__doc__))
