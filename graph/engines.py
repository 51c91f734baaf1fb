"""Engine registry: maps the context's engine name to a songwriting engine instance."""

from __future__ import annotations

from collections.abc import Callable

from agent.engine import SongwritingEngine
from agent.offline import OfflineEngine
from graph.context import Context

EngineFactory = Callable[[Context], SongwritingEngine]

_FACTORIES: dict[str, EngineFactory] = {"offline": lambda _: OfflineEngine()}


def register_engine(name: str, factory: EngineFactory) -> None:
    _FACTORIES[name] = factory


def engine_names() -> list[str]:
    return sorted(_FACTORIES)


def engine_for(context: Context) -> SongwritingEngine:
    if context.engine not in _FACTORIES:
        raise ValueError(f"engine {context.engine!r} is not one of {', '.join(engine_names())}")
    return _FACTORIES[context.engine](context)
