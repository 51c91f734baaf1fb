"""A tiny stand-in for the workflow graph: same event and status conventions, controllable timing.

plan_song -> (style, lyrics) -> validate_song -> review_run. `FAKE_DELAY` seconds of sleep in the parallel
nodes make runs slow enough to cancel; `FAIL_NODE` makes one node raise.
"""

from __future__ import annotations

import hashlib
import operator
import time
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import get_runtime

from graph.events import emit, traced
from graph.state import merge_dicts

CONTROL: dict[str, Any] = {"delay": 0.0, "fail_node": None, "fail_times": 0, "contexts": []}


class FakeState(TypedDict, total=False):
    title: str
    seed: int
    run_id: str
    status: str
    artifacts: Annotated[dict[str, dict[str, Any]], merge_dicts]
    fix_iterations: int
    warnings: Annotated[list[str], operator.add]
    review: dict[str, Any]


def _artifact(name: str, state: FakeState) -> dict[str, Any]:
    text = f"{name}:{state.get('title')}:{state.get('seed')}"
    return {"text": text, "artifact_hash": hashlib.sha256(text.encode()).hexdigest()[:16]}


def _maybe_fail(node: str) -> None:
    if CONTROL["fail_node"] == node and CONTROL["fail_times"] > 0:
        CONTROL["fail_times"] -= 1
        raise RuntimeError(f"{node} broke on purpose")


@traced
def plan_song(state: FakeState) -> dict[str, Any]:
    return {"status": "running", "fix_iterations": 0}


@traced
def generate_style(state: FakeState) -> dict[str, Any]:
    runtime = get_runtime()
    CONTROL["contexts"].append((runtime.execution_info.thread_id if runtime.execution_info else None, runtime.context))
    time.sleep(CONTROL["delay"])
    _maybe_fail("generate_style")
    return {"artifacts": {"style": _artifact("style", state)}}


@traced
def write_lyrics(state: FakeState) -> dict[str, Any]:
    for word in ("la ", "la ", "love"):
        emit({"event": "token", "node": "write_lyrics", "phase": "token", "text": word})
    time.sleep(CONTROL["delay"])
    _maybe_fail("write_lyrics")
    return {"artifacts": {"lyrics": _artifact("lyrics", state)}}


@traced
def compose_prompt(state: FakeState) -> dict[str, Any]:
    time.sleep(CONTROL["delay"] / 2)
    _maybe_fail("compose_prompt")
    return {"artifacts": {"composed_prompt": {**_artifact("prompt", state), "text": f"PROMPT {state.get('title')}"}}}


@traced
def validate_song(state: FakeState) -> dict[str, Any]:
    scores = {"total": 0.9}
    return {
        "artifacts": {
            "validation": {
                **_artifact("validation", state),
                "scores": scores,
                "validation_result": "pass",
                "hard_fails": [],
                "issues": [],
            }
        }
    }


@traced
def review_run(state: FakeState) -> dict[str, Any]:
    artifacts = state["artifacts"]
    review = {
        "status": "pass",
        "scores": artifacts["validation"]["scores"],
        "hard_fails": [],
        "fix_iterations": 0,
        "warnings": state.get("warnings", []),
        "artifact_hashes": {k: v["artifact_hash"] for k, v in artifacts.items()},
    }
    return {"review": review, "status": "pass"}


def build_fake_graph() -> StateGraph:
    builder = StateGraph(FakeState)
    for node in (plan_song, generate_style, write_lyrics, compose_prompt, validate_song, review_run):
        builder.add_node(node)
    builder.add_edge(START, "plan_song")
    builder.add_edge("plan_song", "generate_style")
    builder.add_edge("plan_song", "write_lyrics")
    builder.add_edge(["generate_style", "write_lyrics"], "compose_prompt")
    builder.add_edge("compose_prompt", "validate_song")
    builder.add_edge("validate_song", "review_run")
    builder.add_edge("review_run", END)
    return builder


def check_fake_sds(sds: dict[str, Any]) -> str | None:
    from agent.sds import FieldError, SDSError

    if not isinstance(sds.get("title"), str) or not sds["title"]:
        raise SDSError([FieldError("$.title", "required", "'title' is required")])
    if not isinstance(sds.get("seed"), int) or sds["seed"] < 0:
        raise SDSError([FieldError("$.seed", "minimum", "must be an integer >= 0")])
    return "fake"


def fake_service_options() -> dict[str, Any]:
    return {"builder": build_fake_graph(), "check_sds": check_fake_sds}
