"""Workflow events: one shape for node progress, token deltas and run boundaries, emitted on the custom stream."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from langgraph.config import get_stream_writer
from pydantic import BaseModel, Field

Phase = Literal["start", "end", "fail", "info", "token"]
F = TypeVar("F", bound=Callable[..., dict[str, Any]])


class WorkflowEvent(BaseModel):
    """A persisted event. `id` is a per-run monotonic sequence assigned by the event log, never a timestamp."""

    id: int | None = Field(default=None, description="Monotonic per run, from 1.", examples=[7])
    ts: str | None = Field(default=None, description="ISO-8601 UTC time the event was recorded.")
    run_id: str = Field(examples=["2f1c6a5e-6a8e-4f8e-9d7a-0d1f5d9b3c11"])
    event: str = Field(description="node.start, node.end, node.fail, node.info, token, run.start or run.end.")
    node: str | None = Field(default=None, examples=["write_lyrics"])
    phase: Phase
    duration_ms: int | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    issues: list[dict[str, Any]] = Field(default_factory=list)
    iteration: int = 0
    text: str | None = Field(default=None, description="Token delta, for token events.")


def _artifact_metrics(update: dict[str, Any]) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    for name, artifact in (update.get("artifacts") or {}).items():
        metrics[f"{name}_hash"] = artifact.get("artifact_hash")
        if name == "validation":
            metrics["scores"] = artifact.get("scores")
            metrics["validation_result"] = artifact.get("validation_result")
            metrics["hard_fails"] = len(artifact.get("hard_fails", []))
        elif name == "lyrics":
            metrics["lines"] = sum(len(s.get("lines", [])) for s in artifact.get("sections", []))
        elif name == "style":
            metrics["bpm"] = artifact.get("bpm")
    for usage in (update.get("usage") or {}).values():
        metrics.update(usage)
    return metrics


def _issues(update: dict[str, Any]) -> list[dict[str, Any]]:
    validation = (update.get("artifacts") or {}).get("validation")
    if validation:
        return list(validation.get("hard_fails", [])) + [
            i for i in validation.get("issues", []) if i.get("severity") == "error"
        ]
    return []


def emit(event: dict[str, Any]) -> None:
    """Send an event on the custom stream; a no-op outside a streaming run."""
    try:
        writer = get_stream_writer()
    except RuntimeError:
        return
    writer(event)


def traced(func: F) -> F:
    """Emit node start/end/fail events around a node, with duration, metrics and validation issues."""
    return _traced(func, 0)


def traced_fix(func: F) -> F:
    """`traced` for FIX: its start and fail events carry the cycle it performs, one past the state's count."""
    return _traced(func, 1)


def _traced(func: F, cycle_offset: int) -> F:
    node = func.__name__

    @functools.wraps(func)
    def wrapper(state: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        iteration = int(state.get("fix_iterations", 0) or 0) + cycle_offset
        emit({"event": "node.start", "node": node, "phase": "start", "iteration": iteration})
        started = time.perf_counter()
        try:
            update = func(state, *args, **kwargs)
        except Exception as exc:
            emit(
                {
                    "event": "node.fail",
                    "node": node,
                    "phase": "fail",
                    "iteration": iteration,
                    "duration_ms": round((time.perf_counter() - started) * 1000),
                    "issues": [{"code": type(exc).__name__, "message": str(exc)}],
                }
            )
            raise
        emit(
            {
                "event": "node.end",
                "node": node,
                "phase": "end",
                "iteration": int(update.get("fix_iterations", iteration) or 0),
                "duration_ms": round((time.perf_counter() - started) * 1000),
                "metrics": _artifact_metrics(update),
                "issues": _issues(update),
            }
        )
        return update

    return wrapper  # type: ignore[return-value]
