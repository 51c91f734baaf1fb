"""Service settings, read once from the environment (AMCS_* variables and the Anthropic key)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.paths import EXAMPLES_DIR


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AMCS_", extra="ignore")

    data_dir: Path = Field(default=Path(".amcs"), description="Where SQLite checkpoints, events and renders live.")
    database_url: str | None = Field(default=None, description="postgresql://... to keep runs in PostgreSQL.")
    api_token: SecretStr | None = Field(default=None, description="Bearer token every HTTP endpoint requires.")
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    engine: str = Field(default="offline", description="Default songwriting engine: offline or anthropic.")
    model: str = Field(default="claude-sonnet-5-5", description="Claude model the anthropic engine calls.")
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(default=None, validation_alias="ANTHROPIC_BASE_URL")
    max_concurrent_runs: int = Field(default=8, ge=1, description="Runs the HTTP service executes at once.")
    run_lease_seconds: float = Field(
        default=15.0,
        gt=0,
        description="A server renews its runs' lease every third of this; runs of a server silent for "
        "longer are resumed by another one.",
    )
    event_poll_seconds: float = Field(default=0.5, gt=0, description="Fallback poll of the event log.")
    heartbeat_seconds: float = Field(default=15.0, gt=0, description="Idle SSE/WebSocket streams get a ping.")
    examples_dir: Path = Field(default=EXAMPLES_DIR, description="Reference SDS files the chat page offers.")
    access_log: bool = Field(default=True, description="uvicorn access log for `amcs serve`.")
    log_level: str = Field(default="info", description="Log level for `amcs serve`.")
    test_engine_module: str | None = Field(
        default=None,
        description="Test hook: a module (dotted name or .py path) imported at start-up, e.g. to register "
        "a slow engine with graph.engines.register_engine.",
    )


@cache
def get_settings() -> Settings:
    return Settings()
