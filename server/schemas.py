"""Request and response bodies of the run service (OpenAPI shows their descriptions and examples)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.paths import EXAMPLES_DIR
from graph.context import Context
from graph.runstore import StoredEvent

RunStatus = Literal["queued", "running", "passed", "failed", "cancelled", "error"]
EXAMPLE_RUN_ID = "2f1c6a5e-6a8e-4f8e-9d7a-0d1f5d9b3c11"
MAX_LLM_CALLS = 100_000
MAX_SEED = 2**64 - 1  # what the checkpoint serializer stores


@cache
def example_sds() -> dict[str, Any]:
    path = EXAMPLES_DIR / "pop_complexity_1.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data
    except (OSError, ValueError):
        return {"title": "Summer Dreams", "blueprint_ref": {"genre": "Pop", "version": "2025.11"}, "seed": 42}


class FieldProblem(BaseModel):
    field: str = Field(
        description="Dotted path of the offending field ('$' for the whole body).", examples=["sds.title"]
    )
    rule: str = Field(
        description="The rule that was broken (JSON Schema keyword or check name).", examples=["required"]
    )
    message: str = Field(examples=["'title' is required"])


class ErrorBody(BaseModel):
    """Every 4xx answer: the fields and rules that were wrong."""

    detail: list[FieldProblem]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"detail": [{"field": "sds.seed", "rule": "minimum", "message": "is -1; must be at least 0"}]}]
        }
    )


class RunCreate(BaseModel):
    """Start a run: an SDS, with optional overrides."""

    model_config = ConfigDict(extra="forbid")

    sds: dict[str, Any] = Field(
        description="The Song Design Spec (see taxonomies/schemas/sds.schema.json).",
        examples=[{"title": "Summer Dreams"}],
    )
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED, description="Overrides the SDS seed.", examples=[42])
    feature_flags: dict[str, Any] | None = Field(
        default=None, description="Merged into the SDS's feature_flags.", examples=[{"render": False}]
    )
    manifest: dict[str, Any] | None = Field(
        default=None,
        description="Free metadata kept with the run (labels, client ids).",
        examples=[{"team": "a&r"}],
    )
    engine: str | None = Field(
        default=None, description="Songwriting engine: offline (default) or anthropic.", examples=["offline"]
    )
    model: str | None = Field(default=None, description="Model for LLM engines.", examples=["claude-sonnet-5-5"])
    llm_failure_policy: Literal["fail", "fallback"] = Field(
        default=Context.llm_failure_policy,
        description="What an LLM node does when its output still fails validation after one repair: "
        "`fail` the node, or `fallback` to the offline engine for that node. Kept by retry, replay and resume.",
        examples=["fallback"],
    )
    max_llm_calls: int = Field(
        default=Context.max_llm_calls,
        ge=1,
        le=MAX_LLM_CALLS,
        strict=True,
        description="Per-run budget of model calls (LLM engines). Kept by retry, replay and resume.",
        examples=[40],
    )


class RetryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_node: str | None = Field(
        default=None,
        description="Re-run from the last checkpoint before this node instead of resuming the last checkpoint.",
        examples=["write_lyrics"],
    )


class ReplayBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint_id: str = Field(
        description="A checkpoint id from GET …/history.", examples=["1f0c3a4e-5b6d-6e7f-8001-23456789abcd"]
    )
    patch: dict[str, Any] | None = Field(
        default=None,
        description="State values written at the fork point before it runs.",
        examples=[{"warnings": ["forked"]}],
    )
    as_node: str | None = Field(
        default=None,
        description="Node the patch is attributed to (decides what runs next).",
        examples=["compose_prompt"],
    )
    engine: str | None = Field(default=None, examples=["offline"])
    model: str | None = Field(default=None, examples=["claude-sonnet-5-5"])
    manifest: dict[str, Any] | None = None


class RunLinks(BaseModel):
    self: str
    events: str
    history: str
    cancel: str
    retry: str
    replay: str
    artifacts: str


class RunOut(BaseModel):
    """A run's status and results."""

    run_id: str = Field(examples=[EXAMPLE_RUN_ID])
    status: RunStatus = Field(examples=["running"])
    title: str | None = Field(default=None, examples=["Summer Dreams"])
    genre: str | None = Field(default=None, examples=["pop"])
    engine: str | None = Field(default=None, examples=["offline"])
    model: str | None = None
    llm_failure_policy: Literal["fail", "fallback"] = Field(default="fail", examples=["fail"])
    max_llm_calls: int = Field(default=Context.max_llm_calls, examples=[40])
    current_node: str | None = Field(default=None, examples=["write_lyrics"])
    fix_iteration: int = Field(default=0, examples=[1])
    scores: dict[str, Any] = Field(default_factory=dict, examples=[{"total": 0.91, "hook_density": 0.88}])
    artifact_hashes: dict[str, str | None] = Field(default_factory=dict, examples=[{"style": "sha256:…"}])
    artifacts: list[str] = Field(default_factory=list, examples=[["style", "lyrics", "composed_prompt"]])
    issues: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    error: str | None = Field(default=None, description="Why the run ended in `error` (no traceback).")
    attempt: int = Field(default=0, description="How many times the run has been (re)started.")
    last_event_id: int = Field(default=0, description="Id of the run's latest event.")
    cancel_requested: bool = False
    parent_run_id: str | None = Field(default=None, description="Set on runs forked by replay.")
    parent_checkpoint_id: str | None = None
    manifest: dict[str, Any] = Field(default_factory=dict)
    created_at: str | None = None
    updated_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    cursor: int | None = Field(default=None, description="Pass as `cursor` to list the runs after this one.")
    links: RunLinks


class RunPage(BaseModel):
    items: list[RunOut]
    next_cursor: int | None = Field(default=None, description="Cursor of the next page; null on the last page.")


class CheckpointOut(BaseModel):
    checkpoint_id: str | None = Field(examples=["1f0c3a4e-5b6d-6e7f-8001-23456789abcd"])
    parent_checkpoint_id: str | None = None
    step: int | None = Field(default=None, examples=[3])
    source: str | None = Field(default=None, examples=["loop"])
    created_at: str | None = None
    next: list[str] = Field(default_factory=list, examples=[["validate_song"]])
    status: str | None = None
    fix_iterations: int = 0
    artifacts: list[str] = Field(default_factory=list)
    errors: list[dict[str, Any]] = Field(default_factory=list)


class HistoryOut(BaseModel):
    run_id: str
    checkpoints: list[CheckpointOut] = Field(description="Newest first.")


class ExampleOut(BaseModel):
    name: str = Field(examples=["pop_complexity_1"])
    title: str | None = Field(default=None, examples=["Summer Dreams"])
    genre: str | None = Field(default=None, examples=["Pop"])


class EventOut(StoredEvent):
    """One workflow event (the same JSON on SSE `data:`, WebSocket messages and the stored log)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "gid": 1042,
                    "ts": "2025-11-04T10:15:02.120Z",
                    "run_id": EXAMPLE_RUN_ID,
                    "event": "node.end",
                    "node": "validate_song",
                    "phase": "end",
                    "duration_ms": 12,
                    "metrics": {"scores": {"total": 0.91}, "validation_result": "pass"},
                    "issues": [],
                    "iteration": 0,
                }
            ]
        }
    )
