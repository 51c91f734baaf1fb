"""Service settings, read once from the environment (AMCS_* variables and the Anthropic key)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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


@cache
def get_settings() -> Settings:
    return Settings()
