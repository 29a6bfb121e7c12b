"""An async client for any OpenAI-compatible ``/v1/chat/completions`` endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
import structlog

from storyline.llm.settings import LLMSettings

log = structlog.get_logger(__name__)


class LLMError(Exception):
    """The model could not be used; callers fall back to the extractive summary."""


class LLMTimeout(LLMError):
    pass


class LLMHTTPError(LLMError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"chat completions endpoint answered HTTP {status}: {body[:300]}")
        self.status = status


class LLMResponseError(LLMError):
    """The endpoint answered 2xx with something that is not a chat completion."""


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    model: str


class ChatClient:
    """One ``httpx.AsyncClient`` per worker; use as ``async with ChatClient(settings)``."""

    def __init__(self, settings: LLMSettings, *, transport: httpx.AsyncBaseTransport | None = None
                 ) -> None:
        self.settings = settings
        headers = {"Content-Type": "application/json"}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        self._http = httpx.AsyncClient(
            headers=headers, timeout=httpx.Timeout(settings.timeout), transport=transport
        )

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def request_body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "model": self.settings.model,
            "messages": messages,
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
            "response_format": {"type": "json_object"},
        }

    async def complete(self, messages: list[dict[str, str]]) -> Completion:
        url = self.settings.completions_url
        try:
            response = await self._http.post(url, json=self.request_body(messages))
        except httpx.TimeoutException as e:
            raise LLMTimeout(f"no answer from {url} within {self.settings.timeout:g}s") from e
        except httpx.HTTPError as e:
            raise LLMError(f"cannot reach {url}: {type(e).__name__}: {e}") from e
        if response.status_code >= 400:
            raise LLMHTTPError(response.status_code, response.text)
        try:
            payload = response.json()
            choice = payload["choices"][0]
            text = choice["message"]["content"]
            model = str(payload.get("model") or self.settings.model)
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise LLMResponseError(
                f"{url} answered without choices[0].message.content: {response.text[:300]}"
            ) from e
        if not isinstance(text, str) or not text.strip():
            raise LLMResponseError(f"{url} answered with empty content")
        log.debug("llm.completion", url=url, model=model, chars=len(text))
        return Completion(text=text, model=model)
