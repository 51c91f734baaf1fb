"""Runs the workflow to completion on a checkpointer, forwarding events as they happen."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver

from graph.builder import build_graph
from graph.context import Context

EventHandler = Callable[[dict[str, Any]], None]


def _noop(_: dict[str, Any]) -> None:
    return None


def run_song(
    sds: dict[str, Any],
    *,
    checkpointer: BaseCheckpointSaver[Any],
    context: Context | None = None,
    run_id: str | None = None,
    on_event: EventHandler = _noop,
) -> dict[str, Any]:
    """Run one SDS through the graph with thread id = run id; returns the final state values."""
    run_id = run_id or str(uuid.uuid4())
    context = (context or Context()).resolved()
    app = build_graph().compile(checkpointer=checkpointer)
    config: RunnableConfig = {"configurable": {"thread_id": run_id}, "recursion_limit": 100}
    on_event({"event": "run.start", "node": None, "phase": "start", "run_id": run_id})
    try:
        for _, event in app.stream(sds, config, context=context, stream_mode=["custom"]):  # type: ignore[call-overload]
            on_event({**event, "run_id": run_id})
    except Exception:
        _end(on_event, run_id, "error")
        raise
    values: dict[str, Any] = dict(app.get_state(config).values)
    _end(on_event, run_id, values.get("status"))
    return values


def _end(on_event: EventHandler, run_id: str, status: str | None) -> None:
    on_event({"event": "run.end", "node": None, "phase": "end", "run_id": run_id, "metrics": {"status": status}})
