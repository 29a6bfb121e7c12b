"""API keys stored hashed, provenance of submitted articles, rate limits, idempotent POST,
and no secret in any log line."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from storyline.cli import main
from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import ArticleReceived, Provenance
from storyline.ingest.http import HEADER_KEY_ID, HEADER_VIA, ArticleParser
from storyline.logconfig import configure_logging
from storyline.read.config import ReadSettings
from storyline.read.pages import CONTENT_SECURITY_POLICY
from storyline.read.store import ReadStore, open_store
from storyline.settings import Settings
from storyline.web.app import create_app
from storyline.web.keys import InvalidKeyEntry, KeyRing, hashed_entry, new_key
from storyline.web.limits import (
    Landed,
    Rate,
    RateLimiter,
    RecentArticles,
    parse_rate,
    retry_after,
)

OFF = "0"


class Invalid(Exception):
    pass


def parse(obj: Any, *, fmt: str, max_bytes: int) -> ArticleReceived:
    return ArticleReceived(uri=obj["uri"], version=obj.get("version", 1), source="Wire",
                           body=obj.get("body", "Text."),
                           published=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


class Sink:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[ArticleReceived, list[tuple[str, bytes]]]] = []
        self.fail = fail

    async def send(self, article: ArticleReceived,
                   headers: Sequence[tuple[str, bytes]] = ()) -> tuple[int, int]:
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append((article, list(headers)))
        return 0, len(self.sent) - 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def store(tmp_path: Path) -> ReadStore:
    return open_store(tmp_path / "read.sqlite3")


def app_for(store: ReadStore, sink: Sink, clock: Clock | None = None, **read: Any) -> Any:
    options: dict[str, Any] = {"rate_limit_get_per_client": OFF, "rate_limit_get_per_key": OFF,
                               "rate_limit_post_per_client": OFF,
                               "rate_limit_post_per_key": OFF}
    options.update(read)
    return create_app(store, settings=Settings(topic_prefix=""),
                      read_settings=ReadSettings(**options), sink=sink,
                      parser=ArticleParser(parse, Invalid), clock=clock or Clock())


# -- keys --------------------------------------------------------------------------------------


def test_a_stored_key_is_a_salted_hash_never_the_key() -> None:
    secret, entry = new_key("newsroom")
    assert secret not in entry and secret.removeprefix("slk_") not in entry
    key_id, rest = entry.split(":", 1)
    scheme, salt, digest = rest.split("$")
    assert (key_id, scheme, len(salt), len(digest)) == ("newsroom", "sha256", 32, 64)
    # salted: the same secret stored twice gives two different entries
    again = hashed_entry("newsroom", secret)
    assert again != entry and again.split("$")[2] != digest
    ring = KeyRing.parse(f"{entry}, other:{again.split(':', 1)[1]}")
    assert ring.verify(secret) in {"newsroom", "other"}  # both entries hold it
    assert KeyRing.parse(entry).verify(secret) == "newsroom"
    assert KeyRing.parse(entry).verify(secret + "x") is None
    assert KeyRing.parse(entry).verify(entry) is None  # the stored line is not a key


def test_bad_entries_fail_at_start_without_showing_the_hash() -> None:
    _, entry = new_key("a")
    digest = entry.rsplit("$", 1)[1]
    with pytest.raises(InvalidKeyEntry, match="unknown scheme 'md5'") as bad:
        KeyRing.parse(entry.replace("sha256$", "md5$"))
    assert digest not in str(bad.value)
    with pytest.raises(InvalidKeyEntry, match="expected"):
        KeyRing.parse(entry[:-2])
    with pytest.raises(InvalidKeyEntry, match="twice"):
        KeyRing.parse(f"{entry},{entry}")
    with pytest.raises(InvalidKeyEntry):
        hashed_entry("no spaces", "s")
    with pytest.raises(ValueError, match="STORYLINE_API_KEYS"):
        create_app(open_store(":memory:"), settings=Settings(),
                   read_settings=ReadSettings(api_keys=entry.replace("sha256$", "md5$")))


def test_keys_new_prints_the_secret_once_and_a_working_entry(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "new", "--id", "wire-desk"]) == 0
    out = capsys.readouterr().out
    secret = out.split("X-API-Key): ")[1].split()[0]
    entry = out.split("(comma separated): ")[1].split()[0]
    assert out.count(secret) == 1
    assert KeyRing.parse(entry).verify(secret) == "wire-desk"
    assert main(["keys", "new", "--id", "bad id"]) == 2


def test_post_with_a_hashed_key_records_its_id_as_provenance(store: ReadStore) -> None:
    secret, entry = new_key("desk-7")
    sink = Sink()
    with TestClient(app_for(store, sink, api_keys=entry)) as client:
        ok = client.post("/v1/articles", json={"uri": "urn:a"}, headers={"X-API-Key": secret})
        assert ok.status_code == 202, ok.text
        wrong = client.post("/v1/articles", json={"uri": "urn:a"},
                            headers={"X-API-Key": entry})
        assert wrong.status_code == 401
    [(article, headers)] = sink.sent
    assert article.uri == "urn:a"
    assert REGISTRY.get_sample_value("storyline_http_articles_total",
                                     {"key": "desk-7", "outcome": "accepted"}) == 1
    # in the event (the durable record) and, for header readers, beside it
    assert article.provenance == Provenance(via="http", api_key_id="desk-7")
    assert dict(headers) == {HEADER_VIA: b"http", HEADER_KEY_ID: b"desk-7"}
    written = canonical_bytes(article)  # what the producer puts on the log
    assert b'"provenance":{"api_key_id":"desk-7","via":"http"}' in written
    salt, digest = entry.split("$")[1:]
    for secret_part in (secret, secret.removeprefix("slk_"), salt, digest):
        assert secret_part.encode() not in written


def test_the_provenance_is_the_authenticated_key_whatever_the_parser_says(
        store: ReadStore) -> None:
    """The handler stamps what it knows, replacing anything the parsed item carried."""
    secret, entry = new_key("desk-7")

    def claiming(obj: Any, *, fmt: str, max_bytes: int) -> ArticleReceived:
        return parse(obj, fmt=fmt, max_bytes=max_bytes).received("http", "admin")

    sink = Sink()
    app = create_app(store, settings=Settings(topic_prefix=""),
                     read_settings=ReadSettings(api_keys=entry, rate_limit_post_per_client=OFF,
                                                rate_limit_post_per_key=OFF),
                     sink=sink, parser=ArticleParser(claiming, Invalid), clock=Clock())
    with TestClient(app) as client:
        ok = client.post("/v1/articles", json={"uri": "urn:c"}, headers={"X-API-Key": secret})
        assert ok.status_code == 202, ok.text
    assert sink.sent[0][0].provenance == Provenance(via="http", api_key_id="desk-7")


def test_a_flat_json_item_cannot_claim_a_provenance(store: ReadStore) -> None:
    secret, entry = new_key("desk-7")
    sink = Sink()
    app = create_app(store, settings=Settings(topic_prefix=""),
                     read_settings=ReadSettings(api_keys=entry), sink=sink)  # real parser
    item = {"uri": "urn:d", "source": "Wire", "body": "Text.",
            "published": "2026-03-01T00:00:00Z",
            "provenance": {"via": "file"}}
    with TestClient(app) as client:
        refused = client.post("/v1/articles?format=json", json=item,
                              headers={"X-API-Key": secret})
    assert refused.status_code == 422 and refused.json()["field"] == "provenance"
    assert sink.sent == []


def test_plain_keys_still_work_deprecated_with_a_warning(
        store: ReadStore, capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json")
    sink = Sink()
    with TestClient(app_for(store, sink, api_keys="old-plain-secret")) as client:
        ok = client.post("/v1/articles", json={"uri": "urn:b"},
                         headers={"X-API-Key": "old-plain-secret"})
        assert ok.status_code == 202
    err = capfd.readouterr().err
    assert "api_keys.plain_text_deprecated" in err and "plain-1" in err
    assert "old-plain-secret" not in err
    assert dict(sink.sent[0][1])[HEADER_KEY_ID] == b"plain-1"


# -- rate limits -------------------------------------------------------------------------------


def test_token_bucket_refills_at_its_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(per_second=2.0, burst=3), clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)  # empty: half a second to the next token
    assert limiter.take("b") == 0.0  # another caller has its own bucket
    clock.now += 0.5
    assert limiter.take("a") == 0.0
    clock.now += 100  # a long pause refills to the burst, no more
    assert [limiter.take("a") for _ in range(4)][-1] > 0
    assert retry_after(0.01) == "1" and retry_after(1.2) == "2"
    assert parse_rate("0") is None and parse_rate("5") == Rate(5.0, 10)
    assert parse_rate("0.5/3") == Rate(0.5, 3)
    with pytest.raises(ValueError):
        parse_rate("fast")
    with pytest.raises(ValueError):
        ReadSettings(rate_limit_get_per_client="lots")


def test_get_per_client_429_with_retry_after_then_refills(store: ReadStore) -> None:
    clock = Clock()
    app = app_for(store, Sink(), clock, rate_limit_get_per_client="1/2")
    with TestClient(app) as client:
        assert [client.get("/v1/stories").status_code for _ in range(2)] == [200, 200]
        limited = client.get("/v1/stories")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "1"
        assert limited.json()["field"] == "client"
        # probes and scrapes are never throttled
        assert client.get("/readyz").status_code == 200
        assert client.get("/metrics").status_code == 200
        other = TestClient(app, client=("10.0.0.2", 4000))
        assert other.get("/v1/stories").status_code == 200  # its own bucket
        clock.now += 1.0
        assert client.get("/v1/stories").status_code == 200
        assert client.get("/v1/stories").status_code == 429
        # a reader's page is refused with a page, and the pages' headers
        page = client.get("/stories/story-x")
        assert page.status_code == 429 and page.headers["Retry-After"] == "1"
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "Too many requests from this client" in page.text


def test_post_per_key_limits_the_key_across_clients(store: ReadStore) -> None:
    clock = Clock()
    secret, entry = new_key("bulk")
    app = app_for(store, Sink(), clock, api_keys=entry, rate_limit_post_per_key="0.5/2",
                  rate_limit_post_per_client="100/100")
    with TestClient(app) as one:
        two = TestClient(app, client=("10.0.0.3", 4000))
        headers = {"X-API-Key": secret}
        assert one.post("/v1/articles", json={"uri": "u1"}, headers=headers).status_code == 202
        assert two.post("/v1/articles", json={"uri": "u2"}, headers=headers).status_code == 202
        limited = two.post("/v1/articles", json={"uri": "u3"}, headers=headers)
        assert limited.status_code == 429 and limited.json()["field"] == "key"
        assert limited.headers["Retry-After"] == "2"  # 0.5 tokens a second
        # a GET does not spend POST tokens
        assert one.get("/v1/stories", headers=headers).status_code == 200
        clock.now += 2.0
        assert two.post("/v1/articles", json={"uri": "u3"}, headers=headers).status_code == 202


def test_get_per_key_follows_the_key_not_the_address(store: ReadStore) -> None:
    clock = Clock()
    secret, entry = new_key("reader")
    app = app_for(store, Sink(), clock, api_keys=entry, rate_limit_get_per_key="1/1")
    with TestClient(app) as one:
        two = TestClient(app, client=("10.0.0.9", 4000))
        assert one.get("/v1/stories", headers={"X-API-Key": secret}).status_code == 200
        limited = two.get("/v1/stories", headers={"X-API-Key": secret})
        assert limited.status_code == 429 and limited.json()["field"] == "key"
        assert limited.headers["Retry-After"] == "1"
        # without the key (or with a wrong one) only the per-client limit (off here) applies
        assert two.get("/v1/stories").status_code == 200
        assert two.get("/v1/stories", headers={"X-API-Key": "nope"}).status_code == 200
        clock.now += 1.0
        assert two.get("/v1/stories", headers={"X-API-Key": secret}).status_code == 200


# -- idempotent POST ---------------------------------------------------------------------------


def test_the_same_article_twice_is_acknowledged_not_written_twice(store: ReadStore) -> None:
    secret, entry = new_key("k")
    sink = Sink()
    headers = {"X-API-Key": secret}
    with TestClient(app_for(store, sink, api_keys=entry, idempotency_window=2)) as client:
        first = client.post("/v1/articles", json={"uri": "u", "body": "A."}, headers=headers)
        again = client.post("/v1/articles", json={"uri": "u", "body": "A."}, headers=headers)
        assert first.status_code == again.status_code == 202
        assert first.json()["duplicate"] is False and again.json()["duplicate"] is True
        assert again.json()["offset"] == first.json()["offset"]
        assert len(sink.sent) == 1
        # the same uri and version with other content is not a retry: written
        changed = client.post("/v1/articles", json={"uri": "u", "body": "B."}, headers=headers)
        assert changed.json()["duplicate"] is False and len(sink.sent) == 2
        # a new version is written
        client.post("/v1/articles", json={"uri": "u", "version": 2}, headers=headers)
        # bounded: 2 remembered, so the first (uri, version) has been forgotten by now
        client.post("/v1/articles", json={"uri": "v"}, headers=headers)
        client.post("/v1/articles", json={"uri": "u", "body": "B."}, headers=headers)
        assert len(sink.sent) == 5


def test_a_retry_is_recognised_whichever_key_sends_it(store: ReadStore) -> None:
    """The events carry the sender's key id, but a retry is judged on the article alone:
    the same item from another key is acknowledged as the first one, not written again."""
    secret_a, entry_a = new_key("desk-a")
    secret_b, entry_b = new_key("desk-b")
    sink = Sink()
    with TestClient(app_for(store, sink, api_keys=f"{entry_a},{entry_b}")) as client:
        first = client.post("/v1/articles", json={"uri": "u", "body": "A."},
                            headers={"X-API-Key": secret_a})
        again = client.post("/v1/articles", json={"uri": "u", "body": "A."},
                            headers={"X-API-Key": secret_a})
        other = client.post("/v1/articles", json={"uri": "u", "body": "A."},
                            headers={"X-API-Key": secret_b})
    assert [r.json()["duplicate"] for r in (first, again, other)] == [False, True, True]
    assert again.json()["offset"] == other.json()["offset"] == first.json()["offset"]
    [(article, _)] = sink.sent
    assert article.provenance == Provenance(via="http", api_key_id="desk-a")


async def test_concurrent_twins_are_written_once_and_failures_are_not_remembered() -> None:
    recent = RecentArticles(10)
    writes: list[int] = []
    release = asyncio.Event()

    async def slow_write() -> Landed:
        writes.append(1)
        await release.wait()
        return Landed(0, 7)

    first = asyncio.create_task(recent.once("u", 1, "h", slow_write))
    twin = asyncio.create_task(recent.once("u", 1, "h", slow_write))
    await asyncio.sleep(0.01)
    release.set()
    assert await first == (Landed(0, 7), True)
    assert await twin == (Landed(0, 7), False)
    assert len(writes) == 1

    async def failing() -> Landed:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        await recent.once("w", 1, "h", failing)
    assert recent.get("w", 1, "h") is None


# -- no secret in the logs ---------------------------------------------------------------------


def test_no_secret_is_ever_logged(store: ReadStore, capfd: pytest.CaptureFixture[str],
                                  caplog: pytest.LogCaptureFixture) -> None:
    configure_logging("debug", "json")
    caplog.set_level(logging.DEBUG)
    secret, entry = new_key("desk")
    plain = "plain-secret-0123456789"
    settings = {"api_keys": f"{entry},{plain}", "rate_limit_post_per_key": "1/1"}
    headers = {"X-API-Key": secret}
    with TestClient(app_for(store, Sink(), **settings)) as client:
        assert client.post("/v1/articles", json={"uri": "u"}, headers=headers).status_code == 202
        assert client.post("/v1/articles", json={"uri": "v"},
                           headers=headers).status_code == 429
        assert client.post("/v1/articles", json={"uri": "u"},
                           headers={"X-API-Key": plain}).status_code == 202
        assert client.post("/v1/articles", json={"uri": "u"},
                           headers={"X-API-Key": secret + "x"}).status_code == 401
    with TestClient(app_for(store, Sink(fail=True), **settings)) as client:
        failed = client.post("/v1/articles", json={"uri": "w"}, headers=headers)
        assert failed.status_code == 503
    logged = capfd.readouterr().err + caplog.text
    assert "api.produce_failed" in logged  # the error path did log
    assert "api_keys.plain_text_deprecated" in logged
    for leaked in (secret, secret.removeprefix("slk_"), plain):
        assert leaked not in logged
    structlog.reset_defaults()
    # the settings themselves do not show the keys either
    shown = repr(ReadSettings(api_keys=f"{entry},{plain}"))
    assert plain not in shown and entry not in shown
