"""The LLM summariser against a real HTTP server on loopback speaking the chat-completions
shape: valid answers become cited paragraphs and a record; anything else falls back."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from storyline.domain.events import ArticleReceived, StoryPage, StoryUpdated
from storyline.domain.pipeline import LogPosition, Pipeline
from storyline.llm.client import ChatClient, LLMHTTPError
from storyline.llm.records import SummaryGenerated
from storyline.llm.settings import LLMSettings
from storyline.llm.summariser import (
    LLMSummariser,
    RecordMismatch,
    apply_recorded,
    facts_of,
    summariser_from_settings,
)

Answer = Callable[[dict[str, Any]], tuple[int, dict[str, Any] | str, float]]


@dataclass
class FakeModel:
    """What the server answers: (status, body, delay seconds) from the request body."""

    answer: Answer
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[tuple[str, FakeModel]]:
    model = FakeModel(answer=lambda body: (500, "unset", 0.0))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            model.requests.append(body)
            model.headers.append(dict(self.headers))
            if self.path != "/v1/chat/completions":
                status, payload, delay = 404, "not found", 0.0
            else:
                status, payload, delay = model.answer(body)
            time.sleep(delay)
            data = payload if isinstance(payload, str) else json.dumps(payload)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data.encode())))
                self.end_headers()
                self.wfile.write(data.encode())
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    host, port = httpd.server_address[:2]
    try:
        yield f"http://{host!s}:{port}", model
    finally:
        httpd.shutdown()
        httpd.server_close()


def completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": "test-model-1",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
    }


BODIES = [
    ("Kim Jong Un welcomed about 1,000 military engineers home to Pyongyang after their "
     "mine-clearing mission in Russia's Kursk region.\n"
     "More than 11,000 North Korean troops have been sent to the Kursk region since the "
     "deployment began in October 2024.", "Yonhap"),
    ("Kim Jong Un welcomed about 1,000 military engineers home to Pyongyang after their "
     "mine-clearing mission in Russia's Kursk region.\n"
     "Construction of a memorial museum for soldiers killed in the Kursk region began in "
     "Pyongyang with Kim Jong Un attending the ceremony.", "CNN"),
]


def revision() -> StoryPage:
    """The newest page of a two-article story, as the real core builds it."""
    pipeline = Pipeline()
    last: StoryPage | None = None
    for offset, (body, source) in enumerate(BODIES):
        article = ArticleReceived(
            uri=f"urn:test:{offset}", version=1, source=source, body=body,
            headline="Kim welcomes engineers home from Kursk",
            published=dt.datetime(2025, 12, 12, 9 + offset, tzinfo=dt.UTC),
        )
        for event in pipeline.process(article, LogPosition("articles", 0, offset)):
            if isinstance(event, StoryUpdated):
                last = pipeline.page(event.story_id)
    assert last is not None and last.summary
    return last


def settings(url: str, **kw: Any) -> LLMSettings:
    return LLMSettings(enabled=True, base_url=url, model="test-model", timeout=kw.pop("timeout",
                       5.0), api_key=SecretStr("sk-test"), **kw)


async def test_a_well_formed_answer_becomes_cited_paragraphs_and_a_record(
    server: tuple[str, FakeModel],
) -> None:
    url, model = server
    update = revision()
    facts = {f.id: f for f in facts_of(update)}
    first = next(iter(facts))
    answer = {"paragraphs": [{"key_phrase": "Engineers return home", "sentences": [
        {"text": facts[first].text, "facts": [first]}]}]}
    model.answer = lambda body: (200, completion(json.dumps(answer)), 0.0)

    async with ChatClient(settings(url)) as client:
        outcome = await LLMSummariser(client).summarise(update)

    assert outcome.fallback is None and outcome.record is not None
    record = outcome.record
    assert record.model == "test-model-1"
    assert record.input_fact_ids == tuple(facts)
    assert record.prompt_hash.startswith("sha256:") and len(record.prompt_hash) == 71
    [paragraph] = outcome.update.summary
    assert paragraph.key_phrase == "Engineers return home"
    assert paragraph.sentences[0].citations == facts[first].citations
    assert outcome.update.content_hash != update.content_hash
    # the request: chat-completions shape, bearer token, the facts in the prompt
    request = model.requests[0]
    assert request["model"] == "test-model"
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    assert f"[{first}] {facts[first].text}" in request["messages"][1]["content"]
    assert model.headers[0]["Authorization"] == "Bearer sk-test"

    # Replay: the record alone reproduces the revision, byte for byte, without the model.
    stored = SummaryGenerated.model_validate_json(record.model_dump_json())
    replayed = apply_recorded(stored, revision())
    assert replayed.model_dump_json() == outcome.update.model_dump_json()
    assert len(model.requests) == 1
    with pytest.raises(RecordMismatch):
        apply_recorded(stored.model_copy(update={"revision": stored.revision + 1}), update)


async def test_an_answer_citing_an_unknown_fact_falls_back_to_extractive(
    server: tuple[str, FakeModel],
) -> None:
    url, model = server
    update = revision()
    text = next(iter(facts_of(update))).text
    answer = {"paragraphs": [{"key_phrase": "Engineers", "sentences": [
        {"text": text, "facts": ["F1", "F99"]}]}]}
    model.answer = lambda body: (200, completion(json.dumps(answer)), 0.0)
    async with ChatClient(settings(url)) as client:
        outcome = await LLMSummariser(client).summarise(update)
    assert outcome.record is None
    assert outcome.update == update  # the extractive summary, untouched
    assert outcome.fallback is not None and "F99" in outcome.fallback


async def test_a_sentence_its_facts_do_not_support_falls_back(
    server: tuple[str, FakeModel],
) -> None:
    url, model = server
    update = revision()
    answer = {"paragraphs": [{"key_phrase": "Weather", "sentences": [
        {"text": "Heavy snowfall closed every airport in Lisbon on Tuesday.", "facts": ["F1"]}]}]}
    model.answer = lambda body: (200, completion(json.dumps(answer)), 0.0)
    async with ChatClient(settings(url)) as client:
        outcome = await LLMSummariser(client).summarise(update)
    assert outcome.record is None and outcome.update == update
    assert outcome.fallback is not None and "not supported" in outcome.fallback


async def test_a_timeout_falls_back(server: tuple[str, FakeModel]) -> None:
    url, model = server
    update = revision()
    model.answer = lambda body: (200, completion('{"paragraphs": []}'), 2.0)
    started = time.perf_counter()
    async with ChatClient(settings(url, timeout=0.3)) as client:
        outcome = await LLMSummariser(client).summarise(update)
    assert time.perf_counter() - started < 1.5
    assert outcome.record is None and outcome.update == update
    assert outcome.fallback is not None and outcome.fallback.startswith("LLMTimeout")


async def test_http_errors_are_clear_and_fall_back(server: tuple[str, FakeModel]) -> None:
    url, model = server
    model.answer = lambda body: (503, {"error": {"message": "overloaded"}}, 0.0)
    async with ChatClient(settings(url)) as client:
        with pytest.raises(LLMHTTPError, match=r"HTTP 503.*overloaded"):
            await client.complete([{"role": "user", "content": "hi"}])
        outcome = await LLMSummariser(client).summarise(revision())
    assert outcome.record is None and outcome.fallback is not None


def test_off_by_default_and_configured_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENABLED", "BASE_URL", "MODEL", "API_KEY", "TIMEOUT"):
        monkeypatch.delenv(f"STORYLINE_LLM_{name}", raising=False)
    summariser, client = summariser_from_settings()
    assert client is None and type(summariser).__name__ == "ExtractiveSummariser"
    monkeypatch.setenv("STORYLINE_LLM_ENABLED", "true")
    monkeypatch.setenv("STORYLINE_LLM_BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("STORYLINE_LLM_MODEL", "m")
    monkeypatch.setenv("STORYLINE_LLM_API_KEY", "secret")
    monkeypatch.setenv("STORYLINE_LLM_TIMEOUT", "2.5")
    configured = LLMSettings()
    assert configured.completions_url == "http://127.0.0.1:9/v1/chat/completions"
    assert configured.timeout == 2.5
    assert "secret" not in repr(configured)
