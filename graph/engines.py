"""Engine registry: maps the context's engine name to a songwriting engine instance."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from agent.engine import SongwritingEngine
from agent.offline import OfflineEngine
from agent.settings import get_settings
from graph.context import Context

EngineFactory = Callable[[Context], SongwritingEngine]

LLM_TIMEOUT_SECONDS = 120.0
LLM_TOTAL_SECONDS = 600.0
LLM_MAX_RETRIES = 4
LLM_BASE_DELAY_SECONDS = 1.0

_FACTORIES: dict[str, EngineFactory] = {"offline": lambda _: OfflineEngine()}


def register_engine(name: str, factory: EngineFactory) -> None:
    _FACTORIES[name] = factory


def engine_names() -> list[str]:
    return sorted(_FACTORIES)


def engine_for(context: Context) -> SongwritingEngine:
    if context.engine not in _FACTORIES:
        raise ValueError(f"engine {context.engine!r} is not one of {', '.join(engine_names())}")
    return _FACTORIES[context.engine](context)


def _current_run_id() -> str:
    """The LangGraph thread id (= run id) of the node being executed; empty outside a run."""
    try:
        from langgraph.config import get_config

        return str(get_config().get("configurable", {}).get("thread_id") or "")
    except RuntimeError:
        return ""


@lru_cache(maxsize=4)
def _anthropic_backend(
    api_key: str, base_url: str | None, timeout: float, total: float, retries: int, delay: float
) -> Any:
    # One client (and connection pool) per key and endpoint, kept in memory only.
    from agent.llm import AnthropicBackend

    return AnthropicBackend(
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
        total_timeout=total,
        max_retries=retries,
        base_delay=delay,
    )


def anthropic_engine(context: Context) -> SongwritingEngine:
    """Claude as the engine; the key is read from the environment here and never enters Context or state."""
    settings = get_settings()
    if settings.anthropic_api_key is None or not settings.anthropic_api_key.get_secret_value().strip():
        raise ValueError(
            "the anthropic engine needs ANTHROPIC_API_KEY in the environment "
            "(and ANTHROPIC_BASE_URL for another endpoint); or use --engine offline"
        )
    try:
        from agent.llm import AnthropicEngine
    except ImportError as exc:  # pragma: no cover - the llm extra is missing
        raise ValueError(f"the anthropic engine needs the 'llm' extra (pip install -e '.[llm]'): {exc}") from None
    from graph.llm_store import response_store

    # PostgreSQL when the service runs on it (shared by its processes), else <data_dir>/amcs.sqlite.
    store = response_store(context.data_dir or settings.data_dir, settings.database_url)
    return AnthropicEngine(
        _anthropic_backend(
            settings.anthropic_api_key.get_secret_value(),
            settings.anthropic_base_url,
            LLM_TIMEOUT_SECONDS,
            LLM_TOTAL_SECONDS,
            LLM_MAX_RETRIES,
            LLM_BASE_DELAY_SECONDS,
        ),
        model=context.model or settings.model,
        store=store,
        ledger=store,
        run_id=_current_run_id(),
        max_calls=context.max_llm_calls,
        policy=context.llm_failure_policy,
    )


register_engine("anthropic", anthropic_engine)
