"""The LLM summary's settings, apart from its client: ``storyline.settings`` holds them, and
every process reads those, while only the processes that publish summaries talk to an
endpoint (the client's HTTP library is ~10 MB a process)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class LLMSettings(BaseSettings):
    """``STORYLINE_LLM_*`` environment variables. Off unless ``STORYLINE_LLM_ENABLED=true``."""

    model_config = SettingsConfigDict(env_prefix="STORYLINE_LLM_", frozen=True, extra="ignore")

    enabled: bool = False
    base_url: str = Field(
        default="http://127.0.0.1:8000/v1",
        description="Endpoint root; '/chat/completions' is appended (and '/v1' if missing).",
    )
    api_key: SecretStr | None = Field(default=None, description="Sent as a Bearer token.")
    model: str = Field(default="", description="Model name passed to the endpoint.")
    timeout: float = Field(default=30.0, gt=0, description="Seconds for the whole request.")
    max_tokens: int = Field(default=1200, ge=64)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)

    @property
    def completions_url(self) -> str:
        root = self.base_url.rstrip("/")
        if not root.endswith("/v1"):
            root += "/v1"
        return root + "/chat/completions"
