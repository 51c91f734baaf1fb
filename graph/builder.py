"""Builds the workflow StateGraph; `graph` is compiled without a checkpointer for the LangGraph server."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from graph.context import Context
from graph.nodes import (
    apply_fixes,
    compose_prompt,
    draft_producer_notes,
    generate_style,
    plan_song,
    render_song,
    review_run,
    validate_song,
    write_lyrics,
)
from graph.routing import route_after_validation
from graph.state import SongInput, SongOutput, SongState

WRITING_NODES = ("generate_style", "write_lyrics", "draft_producer_notes")


def build_graph() -> StateGraph[SongState, Context, SongInput, SongOutput]:
    builder = StateGraph(SongState, context_schema=Context, input_schema=SongInput, output_schema=SongOutput)
    for node_function in (
        plan_song,
        generate_style,
        write_lyrics,
        draft_producer_notes,
        compose_prompt,
        validate_song,
        apply_fixes,
        render_song,
        review_run,
    ):
        builder.add_node(node_function)
    builder.add_edge(START, "plan_song")
    for writer in WRITING_NODES:
        builder.add_edge("plan_song", writer)
    builder.add_edge(list(WRITING_NODES), "compose_prompt")
    builder.add_edge("compose_prompt", "validate_song")
    builder.add_conditional_edges("validate_song", route_after_validation)
    builder.add_edge("apply_fixes", "compose_prompt")
    builder.add_edge("render_song", "review_run")
    builder.add_edge("review_run", END)
    return builder


graph = build_graph().compile(name="amcs-song-workflow")
