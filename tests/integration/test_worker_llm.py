"""The optional LLM summariser inside the live worker, against a real loopback HTTP model:
revisions are published with the model's summary, its records land on the summaries topic,
and replay reproduces every revision from those records with the model switched off."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from test_worker_replay import (
    STORYLINE,
    env,  # noqa: F401 - a fixture used by name below
    make_articles,
    produce,
    read_all,
    start_worker,
    stop,
    wait_caught_up,
)

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import StoryUpdated, SummaryGenerated
from storyline.domain.pages import PageFolder
from storyline.domain.upcasting import decode_any
from storyline.settings import Settings

pytestmark = pytest.mark.integration


def restate_first_fact(body: dict[str, Any]) -> dict[str, Any]:
    """A model that writes one paragraph restating the first fact of the prompt."""
    prompt = body["messages"][1]["content"]
    fact = re.search(r"^\[(F\d+|T\d+)\] (.+)$", prompt, re.M)
    assert fact is not None
    text = fact.group(2).split(": ", 1)[-1]
    answer = {"paragraphs": [{"key_phrase": "What happened",
                              "sentences": [{"text": text, "facts": [fact.group(1)]}]}]}
    return {"id": "x", "object": "chat.completion", "model": "loopback-model",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": json.dumps(answer)}}]}


@pytest.fixture()
def model_url() -> Iterator[tuple[str, list[int]]]:
    calls: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.append(1)
            data = json.dumps(restate_first_fact(body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", calls
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_llm_summaries_are_recorded_and_replayed_without_the_model(
    env: dict[str, str], settings_for: Callable[..., Settings],  # noqa: F811
    model_url: tuple[str, list[int]], tmp_path: Path,
) -> None:
    url, calls = model_url
    settings = settings_for(env)
    asyncio.run(produce(settings, [canonical_bytes(a) for a in make_articles(4)]))
    live = dict(env, STORYLINE_LLM_ENABLED="true", STORYLINE_LLM_BASE_URL=url,
                STORYLINE_LLM_MODEL="loopback-model")
    worker = start_worker(live, tmp_path / "worker.log")
    try:
        wait_caught_up(live)
    finally:
        stop(worker)

    published = [decode_any(v) for v in asyncio.run(read_all(settings, settings.story_updates))]
    revisions = [u for u in published if isinstance(u, StoryUpdated)]
    records = [decode_any(v) for v in asyncio.run(read_all(settings, settings.summaries))]
    assert len(revisions) == 4 and len(calls) == 4
    assert all(isinstance(r, SummaryGenerated) and r.model == "loopback-model" for r in records)
    assert {(r.story_id, r.revision) for r in records} == {  # type: ignore[union-attr]
        (u.story_id, u.revision) for u in revisions}
    # each change carries the model's summary, and the pages rebuilt from the changes hold it
    assert all(u.changes.summary and u.changes.summary[0].key_phrase == "What happened"
               for u in revisions)
    folder = PageFolder()
    for update in revisions:
        page = folder.apply(update)  # checks every page's hash and the chain
        assert page is not None and page.summary[0].key_phrase == "What happened"

    # replay with the model off (and unreachable): every revision from the records
    result = subprocess.run([*STORYLINE, "replay", "--verify"], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 identical" in result.stdout
    assert len(calls) == 4
