"""Settings of the read side, from the same ``STORYLINE_`` environment as the rest."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from storyline.settings import get_settings


class ReadSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STORYLINE_", frozen=True, extra="ignore")

    read_database_url: str | None = Field(
        default=None,
        description="postgresql://... for PostgreSQL, or a SQLite file path; "
        "default: <data_dir>/read/stories.sqlite3.",
    )
    api_keys: str | None = Field(
        default=None, description="Comma-separated keys for POST /v1/articles; unset: disabled."
    )
    max_request_bytes: int = Field(default=2_000_000, description="Larger POST bodies: 413.")
    sse_heartbeat_seconds: float = Field(default=15.0)
    sse_poll_seconds: float = Field(
        default=0.02, description="How often an API without a projector looks for new rows."
    )

    def store_target(self) -> str | Path:
        if self.read_database_url:
            return self.read_database_url
        return get_settings().data_dir / "read" / "stories.sqlite3"

    def key_set(self) -> frozenset[str]:
        if not self.api_keys:
            return frozenset()
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())


@lru_cache(maxsize=1)
def get_read_settings() -> ReadSettings:
    return ReadSettings()
