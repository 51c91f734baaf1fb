"""LangGraph wiring of the AMCS workflow: state, nodes, routing, builder, checkpointing and events."""
