"""Settings of the read side, from the same ``STORYLINE_`` environment as the rest."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storyline.settings import get_settings
from storyline.web.keys import KeyRing
from storyline.web.limits import parse_rate


class ReadSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STORYLINE_", frozen=True, extra="ignore")

    read_database_url: str | None = Field(
        default=None,
        description="postgresql://... for PostgreSQL, or a SQLite file path; "
        "default: <data_dir>/read/stories.sqlite3.",
    )
    api_keys: SecretStr | None = Field(
        default=None, description="Comma-separated API keys for POST /v1/articles, each "
        "ID:sha256$SALT$HASH as `storyline keys new --id ID` prints it (a plain-text key is "
        "deprecated: accepted with a warning); unset: POST is disabled.",
    )
    rate_limit_get_per_client: str = Field(
        default="100/200", description="GET/HEAD requests a second per client address, "
        "PER_SECOND/BURST; 0: no limit.")
    rate_limit_get_per_key: str = Field(
        default="100/200", description="GET/HEAD requests a second per API key (requests "
        "that send a valid X-API-Key); 0: no limit.")
    rate_limit_post_per_client: str = Field(
        default="50/200", description="POST requests a second per client address; 0: none.")
    rate_limit_post_per_key: str = Field(
        default="50/200", description="POST requests a second per API key; 0: no limit.")
    idempotency_window: int = Field(
        default=100_000, ge=0, description="Accepted (uri, version) remembered so that the "
        "same article POSTed again is acknowledged, not written twice (0: off).")
    max_request_bytes: int = Field(default=2_000_000, description="Larger POST bodies: 413.")
    sse_heartbeat_seconds: float = Field(default=15.0)
    sse_poll_seconds: float = Field(
        default=0.02, description="How often an API without a projector looks for new rows."
    )

    def store_target(self) -> str | Path:
        if self.read_database_url:
            return self.read_database_url
        return get_settings().data_dir / "read" / "stories.sqlite3"

    @field_validator("rate_limit_get_per_client", "rate_limit_get_per_key",
                     "rate_limit_post_per_client", "rate_limit_post_per_key")
    @classmethod
    def _rate(cls, value: str) -> str:
        parse_rate(value)
        return value

    def key_ring(self) -> KeyRing:
        return KeyRing.parse(self.api_keys.get_secret_value() if self.api_keys else None)


@lru_cache(maxsize=1)
def get_read_settings() -> ReadSettings:
    return ReadSettings()
