#!/usr/bin/env python3
"""generate_style: the STYLE node's state update ({"artifacts": {"style"}, "warnings"}) from an SDS/state.

Usage: python skills/style-generation/scripts/generate_style.py [FILE|-] [--state]
Runs the deterministic offline engine with the plan's STYLE seed, exactly as the graph node does.
Exit 0, or 2 on bad input."""

from __future__ import annotations

import sys

try:
    from agent.engine import NodeJob
    from agent.offline import OfflineEngine
    from agent.skill_io import ToolInput, ToolResult, run_tool
except ImportError as exc:  # the project is not installed in this interpreter
    sys.stderr.write(
        f"generate_style.py: cannot import the AMCS packages ({exc}).\n"
        "Install the project first, from the repository root: pip install -e .\n"
    )
    raise SystemExit(3) from None


def generate(tool: ToolInput) -> ToolResult:
    job = NodeJob("generate_style", tool.sds, tool.plan, tool.blueprint, tool.plan.node_seeds["STYLE"])
    drafted = OfflineEngine().write_style(job)
    return ToolResult({"artifacts": {"style": drafted.value.to_state()}, "warnings": drafted.warnings})


if __name__ == "__main__":
    raise SystemExit(run_tool(generate, prog="generate_style.py", description=__doc__))
