"""Property-based fuzzing of the HTTP API, driven by the app's own OpenAPI schema.

Schemathesis turns every operation of the app's OpenAPI document into Hypothesis strategies;
the HTML pages and static files, which the document leaves out, are added to the schema
here from the same routes. Each request is generated either valid (positive mode) or
breaking the schema (negative mode: wrong types, integers far outside their bounds, missing
required parameters, arbitrary unicode, empty and long strings, odd header values); a share
of them is steered onto stored story ids, small revision numbers and the right API key so
that they reach the deep paths (diffs, history pages, SSE replay, the article parser) and not
only validation. The requests go through FastAPI's TestClient, with server exceptions
turned into responses, to an app over a SQLite store loaded with sample stories.

The property: no response is a 5xx, and the app still answers ``/healthz`` afterwards.

Profiles, chosen by STORYLINE_FUZZ_REQUESTS (the number of requests):

- CI (default, 1,000 requests, about 15 s): derandomized, so every run sends the same
  requests and a failure reproduces.
- long (e.g. ``STORYLINE_FUZZ_REQUESTS=10000``, a few minutes): a fresh random seed per
  run; Hypothesis prints the seed and the smallest failing request it found.

SSE responses never end on their own; here the stream is cut at its first heartbeat (every
10 ms), after the replay, so that a request is one bounded exchange.
"""

from __future__ import annotations

import copy
import os
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storyline.domain.canonical import canonical_bytes
from storyline.read import api as read_api
from storyline.read.api import create_app
from storyline.read.config import ReadSettings
from storyline.read.projector import decode_record
from storyline.read.samples import merge, story_history, story_revision, updates
from storyline.read.store import ReadStore, open_store
from storyline.settings import Settings

if os.environ.get("CI"):
    import schemathesis  # CI installs the dev extra: never skip the fuzzer there
else:
    schemathesis = pytest.importorskip(
        "schemathesis", reason="a dev dependency: pip install -c constraints.txt -e '.[dev]'")

TOPIC = "story-updates"
API_KEY = "fuzz-key"
REQUESTS = int(os.environ.get("STORYLINE_FUZZ_REQUESTS", "1000"))
LONG = "STORYLINE_FUZZ_REQUESTS" in os.environ and REQUESTS > 1000
STORY_IDS = ["story-kursk", "story-small", "oil-0", "never-stored"]
SMALL_INTS = st.integers(min_value=-2, max_value=8)


class Sink:
    async def send(self, article: Any) -> tuple[int, int]:
        return 0, 1


def load_samples(store: ReadStore) -> None:
    events: list[Any] = [*updates(story_history(revisions=5)),
                         *updates(story_history("story-small", 2)),
                         merge("story-kursk", "story-small", 6),
                         *updates([story_revision("oil-0", 1, title="Oil spill")])]
    store.apply(TOPIC, [decode_record(0, offset, b"k", canonical_bytes(event))
                        for offset, event in enumerate(events)])


def full_schema(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document plus the routes it hides (pages) and the static files."""
    routes = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            shown = copy.copy(route)
            shown.include_in_schema = True
            routes.append(shown)
    schema = get_openapi(title=app.title, version=app.version, routes=routes)
    schema["paths"]["/static/{path}"] = {"get": {
        "parameters": [{"name": "path", "in": "path", "required": True,
                        "schema": {"type": "string"}}],
        "responses": {"200": {"description": "a file"}}}}
    assert set(app.openapi()["paths"]) < set(schema["paths"])
    return schema


def bounded_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    real = read_api.stream_events

    async def until_first_heartbeat(*args: Any, **kwargs: Any) -> AsyncIterator[bytes]:
        async for chunk in real(*args, **kwargs):
            yield chunk
            if chunk.startswith(b": heartbeat"):
                return

    monkeypatch.setattr(read_api, "stream_events", until_first_heartbeat)


def steer(case: Any, data: st.DataObject) -> None:
    """Point a generated request at stored stories, real revisions and the right key."""
    if "story_id" in case.path_parameters:
        case.path_parameters["story_id"] = data.draw(st.sampled_from(STORY_IDS))
    for name in ("revision", "before", "from", "to", "limit", "last_event_id"):
        if name in case.query and data.draw(st.booleans()):
            case.query[name] = data.draw(SMALL_INTS)
    if case.path == "/v1/articles" and data.draw(st.booleans()):
        case.headers["X-API-Key"] = API_KEY


def send(client: TestClient, case: Any) -> Any:
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    extra: dict[str, Any] = {}
    if "json" in kwargs:
        extra["json"] = kwargs["json"]
    if "data" in kwargs:
        extra["content"] = kwargs["data"]
    if kwargs.get("cookies"):
        extra["cookies"] = kwargs["cookies"]
    return client.request(kwargs["method"], kwargs["url"], params=kwargs.get("params"),
                          headers=kwargs.get("headers"), **extra)


def test_no_request_gets_a_server_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(tmp_path / "read.sqlite3")
    load_samples(store)
    bounded_streams(monkeypatch)
    app = create_app(store, settings=Settings(topic_prefix="", story_updates_topic=TOPIC),
                     read_settings=ReadSettings(api_keys=API_KEY, sse_heartbeat_seconds=0.01),
                     sink=Sink())
    schema = schemathesis.openapi.from_dict(full_schema(app))
    modes = schemathesis.GenerationMode
    cases = st.one_of(schema.as_strategy(generation_mode=modes.POSITIVE),
                      schema.as_strategy(generation_mode=modes.NEGATIVE))
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    started = time.perf_counter()

    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:

        @settings(max_examples=REQUESTS, deadline=None, database=None, derandomize=not LONG,
                  suppress_health_check=list(HealthCheck), print_blob=True)
        @given(case=cases, steered=st.booleans(), data=st.data())
        def fuzz(case: Any, steered: bool, data: st.DataObject) -> None:
            if steered:
                steer(case, data)
            response = send(client, case)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                errors.append(f"{case.method} {case.formatted_path} {case.query} "
                              f"{dict(case.headers or {})} -> {response.status_code}")
            assert response.status_code < 500, errors[-1]

        fuzz()
        health = client.get("/healthz")

    elapsed = time.perf_counter() - started
    sent = sum(statuses.values())
    print(f"fuzzed {sent} requests in {elapsed:.1f} s: "
          f"{dict(sorted(statuses.items()))}, {len(errors)} server errors")
    assert errors == []
    assert sent >= REQUESTS
    assert health.status_code == 200 and health.json()["status"] == "ok"
    # the requests reached the handlers, not only validation
    assert {200, 308, 400, 404, 422} <= set(statuses), statuses
