"""The edge after VALIDATE: render or review on a pass, fix up to three times on a fail, then review."""

from __future__ import annotations

from typing import Any

import pytest

from graph.routing import MAX_FIX_ITERATIONS, route_after_validation


def _state(result: str, *, render: bool, iterations: int | None) -> Any:
    state: dict[str, Any] = {
        "artifacts": {"validation": {"validation_result": result}},
        "plan": {"render_enabled": render},
    }
    if iterations is not None:
        state["fix_iterations"] = iterations
    return state


def test_max_fix_iterations_is_three() -> None:
    assert MAX_FIX_ITERATIONS == 3


@pytest.mark.parametrize("iterations", [None, 0, 3])
def test_pass_with_render_goes_to_render(iterations: int | None) -> None:
    assert route_after_validation(_state("pass", render=True, iterations=iterations)) == "render_song"


@pytest.mark.parametrize("iterations", [None, 0, 3])
def test_pass_without_render_goes_to_review(iterations: int | None) -> None:
    assert route_after_validation(_state("pass", render=False, iterations=iterations)) == "review_run"


@pytest.mark.parametrize("iterations", [None, 0, 1, 2])
@pytest.mark.parametrize("render", [True, False])
def test_fail_under_the_cap_applies_fixes(iterations: int | None, render: bool) -> None:
    assert route_after_validation(_state("fail", render=render, iterations=iterations)) == "apply_fixes"


@pytest.mark.parametrize("iterations", [3, 4])
@pytest.mark.parametrize("render", [True, False])
def test_fail_at_the_cap_goes_to_review_never_render(iterations: int, render: bool) -> None:
    assert route_after_validation(_state("fail", render=render, iterations=iterations)) == "review_run"
