"""`storyline ingest` on a real broker: the sample files go onto the articles topic keyed by
uri, in file order, and the invalid items onto the dead-letter topic keyed by file:line."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storyline.domain.events import ArticleReceived, DeadLetter, Provenance
from storyline.domain.upcasting import decode_event
from storyline.ingest.files import iter_file
from storyline.ingest.producer import ArticleProducer, BrokerUnavailable
from storyline.settings import Settings
from storyline.stream.logreader import end_offsets, read_partition

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STORYLINE = [sys.executable, "-m", "storyline.cli"]
SAMPLES = ["samples/wire/articles.jsonl", "samples/wire/invalid.jsonl", "samples/wire/feed.rss"]


@pytest.fixture()
def settings(kafka_bootstrap: str, topic_prefix: str) -> Settings:
    env = dict(os.environ, STORYLINE_BOOTSTRAP_SERVERS=kafka_bootstrap,
               STORYLINE_TOPIC_PREFIX=topic_prefix)
    subprocess.run([*STORYLINE, "topics", "apply"], env=env, check=True, capture_output=True,
                   timeout=120, cwd=ROOT)
    return Settings(bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)


async def read_all(settings: Settings, topic: str) -> list[tuple[int, bytes, bytes]]:
    ends = await end_offsets(settings.bootstrap_servers, topic)
    assert list(ends) == [0]
    return [(r.offset, r.key, r.value)
            async for r in read_partition(settings.bootstrap_servers, topic, 0, stop=ends[0])]


async def test_ingest_command_publishes_samples_and_dead_letters(settings: Settings,
                                                                 tmp_path: Path) -> None:
    # a data dir of its own: the feed's version index goes there
    env = dict(os.environ, STORYLINE_BOOTSTRAP_SERVERS=settings.bootstrap_servers,
               STORYLINE_TOPIC_PREFIX=settings.topic_prefix, STORYLINE_LOG_LEVEL="warning",
               STORYLINE_DATA_DIR=str(tmp_path))
    result = subprocess.run([*STORYLINE, "ingest", *SAMPLES], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr  # some items were invalid
    assert ("samples/wire/invalid.jsonl line 1: field 'firstcreated': not an ISO 8601 "
            "date-time") in result.stderr

    parsed = [r.article for path in SAMPLES for r in iter_file(ROOT / path) if r.article]
    assert f"produced {len(parsed)} to {settings.articles}" in result.stdout

    records = await read_all(settings, settings.articles)
    assert [offset for offset, _, _ in records] == list(range(len(parsed)))
    assert [key.decode() for _, key, _ in records] == [a.uri for a in parsed]
    # each event is the parsed article with its provenance: a file, no API key
    events = [decode_event(value, ArticleReceived) for _, _, value in records]
    assert all(e.provenance == Provenance(via="file", api_key_id=None) for e in events)
    assert events == [a.received("file") for a in parsed]
    assert all(b'"provenance":{"via":"file"}' in value for _, _, value in records)

    invalid = [r for r in iter_file(ROOT / SAMPLES[1]) if r.error]
    letters = await read_all(settings, settings.dead_letters)
    assert [key.decode() for _, key, _ in letters] == [
        f"samples/wire/invalid.jsonl:{r.line}" for r in invalid]
    decoded = [DeadLetter.model_validate_json(value) for _, _, value in letters]
    assert all(d.stage == "ingest" and d.error_type == "InvalidArticle" for d in decoded)
    assert "field 'firstcreated'" in decoded[0].reason
    assert decoded[0].payload.startswith('{"uri": "urn:newsml:northernwire.example')


async def test_producer_send_returns_the_log_position(settings: Settings) -> None:
    article = ArticleReceived(uri="urn:it:send:1", version=1, source="Wire", body="Text.",
                              published=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    async with ArticleProducer(settings) as producer:
        first = await producer.send(article)
        second = await producer.send(article.model_copy(update={"version": 2}))
    assert second == (first[0], first[1] + 1)
    records = await read_all(settings, settings.articles)
    assert [ArticleReceived.model_validate_json(v).version for _, _, v in records] == [1, 2]


async def test_unreachable_broker_is_a_clear_error() -> None:
    settings = Settings(bootstrap_servers="127.0.0.1:9")
    with pytest.raises(BrokerUnavailable, match=r"cannot reach the Kafka broker at 127\.0\.0\.1:9"):
        await ArticleProducer(settings, start_timeout=10).start()


async def test_ingest_to_missing_topics_stops_and_creates_none(settings: Settings) -> None:
    """A wrong prefix: `storyline ingest` says the topic is missing, exits 1 and leaves the
    cluster as it was (asked for by name, the broker would create the articles log with its
    default retention: a week)."""
    wrong = settings.topic_prefix + "typo."
    env = dict(os.environ, STORYLINE_BOOTSTRAP_SERVERS=settings.bootstrap_servers,
               STORYLINE_TOPIC_PREFIX=wrong, STORYLINE_LOG_LEVEL="warning")
    result = subprocess.run([*STORYLINE, "ingest", SAMPLES[0]], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (f"the topic {wrong}storyline.articles does not exist (is STORYLINE_TOPIC_PREFIX "
            "right?") in result.stderr
    typo = Settings(bootstrap_servers=settings.bootstrap_servers, topic_prefix=wrong)
    for topic in (typo.articles, typo.dead_letters):
        assert await end_offsets(settings.bootstrap_servers, topic, missing_ok=True) == {}, topic
    # the right prefix still ingests
    with pytest.raises(BrokerUnavailable, match="does not exist"):
        await ArticleProducer(typo).start()
    producer = ArticleProducer(settings)
    await producer.start()
    await producer.stop()
