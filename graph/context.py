"""Runtime settings of a run, passed as LangGraph context (`context_schema=Context`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.settings import get_settings


def _default_engine() -> str:
    return get_settings().engine


def _default_model() -> str:
    return get_settings().model


def _default_data_dir() -> str:
    return str(get_settings().data_dir)


@dataclass(frozen=True)
class Context:
    """What may differ between runs of the same SDS without changing its artifacts (except `engine`/`model`)."""

    engine: str = ""
    model: str = ""
    data_dir: str = ""
    max_fix_iterations: int = 3
    llm_failure_policy: Literal["fail", "fallback"] = "fail"
    max_llm_calls: int = 40

    def resolved(self) -> Context:
        """The context with empty fields filled from the settings module; the offline engine has no model."""
        engine = self.engine or _default_engine()
        return Context(
            engine=engine,
            model=self.model or ("" if engine == "offline" else _default_model()),
            data_dir=self.data_dir or _default_data_dir(),
            max_fix_iterations=self.max_fix_iterations,
            llm_failure_policy=self.llm_failure_policy,
            max_llm_calls=self.max_llm_calls,
        )
