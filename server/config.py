"""Knobs of the HTTP run service (AMCS_* environment variables) beyond the shared `agent.settings`."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AMCS_", extra="ignore")

    max_concurrent_runs: int = Field(default=8, ge=1, description="Runs executing at once per process.")
    run_lease_seconds: float = Field(
        default=15.0,
        gt=0,
        description="A process renews its runs' lease every third of this; runs of a "
        "process silent for longer are resumed by another one.",
    )
    event_poll_seconds: float = Field(default=0.5, gt=0, description="Fallback poll of the event log.")
    heartbeat_seconds: float = Field(default=15.0, gt=0, description="Idle SSE/WebSocket streams get a ping.")
    examples_dir: Path = Field(default=REPO_ROOT / "examples" / "sds", description="Reference SDS files.")
    test_engine_module: str | None = Field(
        default=None,
        description="Test hook: a module (dotted name or .py path) imported at startup, e.g. to register "
        "a slow engine with graph.engines.register_engine.",
    )


@cache
def get_server_settings() -> ServerSettings:
    return ServerSettings()
