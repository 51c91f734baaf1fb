"""Typed graph state: the SDS as input, artifacts and bookkeeping as the full state, a narrow output."""

from __future__ import annotations

import operator
from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Parallel branches each add their own keys; a later write of the same key replaces it."""
    return {**(left or {}), **(right or {})}


def add_unique(left: list[str] | None, right: list[str] | None) -> list[str]:
    merged = list(left or [])
    merged += [item for item in (right or []) if item not in merged]
    return merged


class SongInput(TypedDict, total=False):
    """The Song Design Spec, field for field (see taxonomies/schemas/sds.schema.json)."""

    title: str
    blueprint_ref: dict[str, Any]
    style: dict[str, Any]
    lyrics: dict[str, Any]
    producer_notes: dict[str, Any]
    persona_id: str | None
    sources: list[dict[str, Any]]
    prompt_controls: dict[str, Any]
    render: dict[str, Any]
    seed: int
    feature_flags: dict[str, Any]


class SongOutput(TypedDict, total=False):
    run_id: str
    status: str
    artifacts: dict[str, dict[str, Any]]
    review: dict[str, Any]
    warnings: list[str]
    fix_iterations: int


class SongState(SongInput, total=False):
    run_id: str
    status: str
    sds: dict[str, Any]
    plan: dict[str, Any]
    artifacts: Annotated[dict[str, dict[str, Any]], merge_dicts]
    fix_iterations: int
    fix_log: Annotated[list[dict[str, Any]], operator.add]
    warnings: Annotated[list[str], add_unique]
    usage: Annotated[dict[str, dict[str, Any]], merge_dicts]
    review: dict[str, Any]
    messages: Annotated[list[AnyMessage], add_messages]


SDS_KEYS = tuple(SongInput.__annotations__)
