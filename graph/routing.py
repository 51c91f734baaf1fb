"""Conditional edges: the fix loop (at most three cycles, counted in state) and the render flag."""

from __future__ import annotations

from typing import Literal

from graph.state import SongState

MAX_FIX_ITERATIONS = 3


def route_after_validation(state: SongState) -> Literal["apply_fixes", "render_song", "review_run"]:
    passed = state["artifacts"]["validation"]["validation_result"] == "pass"
    if not passed:
        return "apply_fixes" if state.get("fix_iterations", 0) < MAX_FIX_ITERATIONS else "review_run"
    return "render_song" if state["plan"]["render_enabled"] else "review_run"
