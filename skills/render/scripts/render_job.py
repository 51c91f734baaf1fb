#!/usr/bin/env python3
"""render_job: the RENDER node's state update ({"artifacts": {"render_job"}}) through the local connector.

Usage: python skills/render/scripts/render_job.py [FILE|DIR|-] [--sds FILE] [--data-dir DIR] [--state]
Input: a state (or {"sds" or "plan", "artifacts": {"composed_prompt"}}). The job record is written to
DIR/renders/<job id>.json (default: $AMCS_DATA_DIR, else .amcs); the job id derives from the prompt hash
and the plan's RENDER seed, so rendering the same prompt twice is idempotent. Exit 0 when the job
succeeded, 1 when it failed, 2 on bad input."""

from __future__ import annotations

import sys

try:
    from pathlib import Path

    from agent.models import ComposedPrompt
    from agent.render import LocalRenderConnector
    from agent.settings import get_settings
    from agent.skill_io import BadInput, ToolInput, ToolResult, run_tool
except ImportError as exc:  # the project is not installed in this interpreter
    sys.stderr.write(
        f"render_job.py: cannot import the AMCS packages ({exc}).\n"
        "Install the project first, from the repository root: pip install -e .\n"
    )
    raise SystemExit(3) from None


def _options(parser):  # type: ignore[no-untyped-def]
    parser.add_argument("--data-dir", help="data directory (default: $AMCS_DATA_DIR or .amcs)")


def render(tool: ToolInput) -> ToolResult:
    prompt = tool.artifact("composed_prompt", ComposedPrompt)
    plan = tool.plan
    variations = tool.sds["render"].get("num_variations", 2)
    if not isinstance(variations, int) or variations < 1:
        raise BadInput.one("sds.render.num_variations", "must be a positive whole number")
    data_dir = Path(tool.args.data_dir) if tool.args.data_dir else Path(get_settings().data_dir)
    job = LocalRenderConnector(data_dir / "renders").submit(
        prompt, num_variations=variations, seed=plan.node_seeds["RENDER"]
    )
    return ToolResult({"artifacts": {"render_job": job.to_state()}}, failed=job.status == "failed")


if __name__ == "__main__":
    raise SystemExit(run_tool(render, prog="render_job.py", description=__doc__, add_arguments=_options))
