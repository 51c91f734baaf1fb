#!/usr/bin/env python3
"""expand_sds: an SDS in, the PLAN node's state update out (plan, warnings), as agent.plan.plan_song makes it.

Usage: python skills/plan-song/scripts/expand_sds.py [FILE|-] [--state]
Input: an SDS, or a graph state holding one. Output: {"sds", "plan", "warnings", "fix_iterations": 0}.
Exit 0 on a valid SDS, 2 when the SDS breaks the schema (each broken field is named)."""

from __future__ import annotations

import sys

try:
    from agent.plan import plan_song
    from agent.skill_io import ToolInput, ToolResult, run_tool
except ImportError as exc:  # the project is not installed in this interpreter
    sys.stderr.write(
        f"expand_sds.py: cannot import the AMCS packages ({exc}).\n"
        "Install the project first, from the repository root: pip install -e .\n"
    )
    raise SystemExit(3) from None


def expand(tool: ToolInput) -> ToolResult:
    sds = tool.sds
    plan, _, warnings = plan_song(sds)
    return ToolResult({"sds": sds, "plan": plan.to_state(), "fix_iterations": 0, "warnings": warnings})


if __name__ == "__main__":
    raise SystemExit(run_tool(expand, prog="expand_sds.py", description=__doc__))
