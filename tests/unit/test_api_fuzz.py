"""Property-based fuzzing of the HTTP API, driven by the app's own OpenAPI schema.

Schemathesis turns every operation of the app's OpenAPI document into Hypothesis strategies;
the HTML pages and static files, which the document leaves out, are added to the schema
here from the same routes. Each request is generated either valid (positive mode) or
breaking the schema (negative mode: wrong types, integers far outside their bounds, missing
required parameters, arbitrary unicode, empty and long strings, odd header values); half of
them are then steered, in the parameters their operation declares, onto stored story ids,
small revision numbers and the right API key, so that they reach the deep paths (diffs,
history pages, SSE replay, the article parser) and not only validation, or onto a dictionary
of hostile values (NUL, integers just past 2**63-1, odd cursors and event ids). The requests
go through FastAPI's TestClient, with server exceptions turned into responses, to an app over
a read store loaded with sample stories: SQLite, and PostgreSQL with a third of the requests
(skipped without PostgreSQL binaries or STORYLINE_TEST_POSTGRES_URL, as in test_read_store).

The property: no response is a 5xx, and the app still answers ``/healthz`` afterwards.

Profiles, chosen by STORYLINE_FUZZ_REQUESTS (the number of requests):

- CI (default): 1,000 requests on SQLite and 333 on PostgreSQL, about 30 s + 11 s of
  requests (under a minute for the file on 2 cores); derandomized, so every run sends the
  same requests and a failure reproduces.
- long: ``STORYLINE_FUZZ_REQUESTS=10000 pytest tests/unit/test_api_fuzz.py`` (any number
  above 1,000; 10,000 takes about 6 minutes on SQLite plus 2 on PostgreSQL): a fresh random
  seed per run; Hypothesis prints the smallest failing request it found.

SSE responses never end on their own; here the stream is cut at its first heartbeat (every
10 ms), after the replay, so that a request is one bounded exchange.
"""

from __future__ import annotations

import copy
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_read_store import postgres_server  # noqa: F401 - the fixture, shared

from storyline.domain.canonical import canonical_bytes
from storyline.read import api as read_api
from storyline.read.config import ReadSettings
from storyline.read.projector import decode_record
from storyline.read.samples import merge, story_history, story_revision, updates
from storyline.read.store import MAX_ID, ReadStore, SqliteStore, open_store
from storyline.settings import Settings
from storyline.web.app import create_app

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
# a dictionary of values that broke or could break a store or a parser
HOSTILE_TEXT = ["", " ", "\x00", "a\x00b", "😀", "\ud7ff\ufffd", "../../etc/passwd", "%",
                "_%", "'; DROP TABLE stories; --", "x" * 5000, "s", "s-1", "s²", "s١٢",
                f"s{MAX_ID}", f"s{MAX_ID + 1}", "1e3", "0x10", "1_000"]
HOSTILE_INTS = [0, -1, 2**31, MAX_ID, MAX_ID + 1, -MAX_ID - 2, 10**30]
INTS = st.one_of(st.integers(min_value=1, max_value=6), st.integers(min_value=-2, max_value=8),
                 st.sampled_from(HOSTILE_INTS))
EVENT_IDS = ["0", "3", "11", "12", str(MAX_ID), str(MAX_ID + 1), "-1", "abc", " 7 ", "1e3",
             "99999999999999999999999"]


# the fuzzer sends as fast as it can from one address: 429s would hide the handlers
NO_RATE_LIMITS = {f"rate_limit_{m}_per_{w}": "0" for m in ("get", "post")
                  for w in ("client", "key")}


class Sink:
    async def send(self, article: Any, headers: Any = ()) -> tuple[int, int]:
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


def query_names(schema: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    return {(method.upper(), path): {p["name"] for p in operation.get("parameters", [])
                                     if p["in"] == "query"}
            for path, methods in schema["paths"].items()
            for method, operation in methods.items()}


def steer(case: Any, declared: set[str], data: st.DataObject) -> None:
    """Point a generated request at stored stories, real revisions and the right key, or at
    the hostile values above (only in the parameters the operation declares)."""
    if "story_id" in case.path_parameters:
        story_id = data.draw(st.sampled_from(STORY_IDS) | st.sampled_from(HOSTILE_TEXT))
        case.path_parameters["story_id"] = quote(story_id, safe="")
    for name in declared & {"revision", "before", "from", "to", "limit", "last_event_id"}:
        if data.draw(st.booleans()):
            case.query[name] = data.draw(INTS)
    for name in declared & {"q", "name", "cursor", "as_of", "format"}:
        if data.draw(st.booleans()):
            case.query[name] = data.draw(st.sampled_from(HOSTILE_TEXT))
    if case.path.endswith("/events") and data.draw(st.booleans()):
        case.headers["Last-Event-ID"] = data.draw(st.sampled_from(EVENT_IDS))
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


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReadStore]:
    if request.param == "sqlite":
        opened = open_store(tmp_path / "read.sqlite3")
    else:
        import psycopg

        url = request.getfixturevalue("postgres_server")
        name = f"fuzz{uuid.uuid4().hex[:10]}"
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        opened = open_store(f"{url.rsplit('/', 1)[0]}/{name}")
    load_samples(opened)
    yield opened
    opened.close()


def test_no_request_gets_a_server_error(store: ReadStore, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    requests = REQUESTS if isinstance(store, SqliteStore) else max(REQUESTS // 3, 100)
    bounded_streams(monkeypatch)
    app = create_app(store, settings=Settings(topic_prefix="", story_updates_topic=TOPIC),
                     read_settings=ReadSettings(api_keys=API_KEY, sse_heartbeat_seconds=0.01,
                                                **NO_RATE_LIMITS),
                     sink=Sink())
    raw_schema = full_schema(app)
    declared = query_names(raw_schema)
    schema = schemathesis.openapi.from_dict(raw_schema)
    modes = schemathesis.GenerationMode
    cases = st.one_of(schema.as_strategy(generation_mode=modes.POSITIVE),
                      schema.as_strategy(generation_mode=modes.NEGATIVE))
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    started = time.perf_counter()

    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:

        @settings(max_examples=requests, deadline=None, database=None, derandomize=not LONG,
                  suppress_health_check=list(HealthCheck), print_blob=True)
        @given(case=cases, steered=st.booleans(), data=st.data())
        def fuzz(case: Any, steered: bool, data: st.DataObject) -> None:
            if steered:
                steer(case, declared[(case.method.upper(), case.path)], data)
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
    assert sent >= requests
    assert health.status_code == 200 and health.json()["status"] == "ok"
    # the requests reached the handlers, not only validation
    assert {200, 400, 401, 404, 422} <= set(statuses), statuses
