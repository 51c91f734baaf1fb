#!/usr/bin/env python3
"""write_lyrics: the LYRICS node's state update ({"artifacts": {"lyrics"}, "warnings"}) from an SDS/state.

Usage: python skills/lyrics-generation/scripts/write_lyrics.py [FILE|-] [--state]
Runs the deterministic offline engine with the plan's LYRICS seed, exactly as the graph node does.
Exit 0, or 2 on bad input."""

from __future__ import annotations

import sys

try:
    from agent.engine import NodeJob
    from agent.offline import OfflineEngine
    from agent.skill_io import ToolInput, ToolResult, run_tool
except ImportError as exc:  # the project is not installed in this interpreter
    sys.stderr.write(
        f"write_lyrics.py: cannot import the AMCS packages ({exc}).\n"
        "Install the project first, from the repository root: pip install -e .\n"
    )
    raise SystemExit(3) from None


def write(tool: ToolInput) -> ToolResult:
    job = NodeJob("write_lyrics", tool.sds, tool.plan, tool.blueprint, tool.plan.node_seeds["LYRICS"])
    drafted = OfflineEngine().write_lyrics(job)
    return ToolResult({"artifacts": {"lyrics": drafted.value.to_state()}, "warnings": drafted.warnings})


if __name__ == "__main__":
    raise SystemExit(run_tool(write, prog="write_lyrics.py", description=__doc__))
