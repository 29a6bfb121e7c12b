"""A partition added to the facts topic of a deployment that has written facts (what
`kafka-topics.sh --alter --partitions` does; `storyline worker` then plans one stripe more
by itself), on a real broker. The topic then holds two layouts: source offset o in
partition o mod 2 before, o mod 3 after. Every stage refuses it in one line (exit 2).

Before: the extract stage adopted the new count without a word and appended records of the
new layout behind the old ones; a fold or assign process rebuilding from the start then died
at every restart with a MisplacedRecord traceback, and a page process read merged articles'
facts back from the partition of the new layout, folded another article's facts as a dead
letter and published revisions that `replay --verify` rejects (147 of 498 in the session's
run: /tmp/upgrade/repro_f1_added_facts_partition.sh)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from partitions import grow_partitions

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import ArticleReceived
from storyline.domain.pipeline import LogPosition
from storyline.ingest.producer import ArticleProducer
from storyline.settings import Settings
from storyline.stream.facts import extract_record

pytestmark = pytest.mark.integration

STORYLINE = [sys.executable, "-m", "storyline.cli"]
ROOT = Path(__file__).resolve().parents[2]
ARTICLES = 8


def article(i: int) -> ArticleReceived:
    return ArticleReceived(uri=f"urn:it:added:{i}", version=1, source="Wire",
                           body=f"Work on the tunnel went on for a {i}th day on Monday.",
                           published=dt.datetime(2026, 3, 1, 8, i, tzinfo=dt.UTC))


async def written_with_two_stripes(env: dict[str, str], settings: Settings) -> Settings:
    """The articles, and their facts as two extract stripes wrote them; then a third facts
    partition, added by hand (``settings``: those of ``env``)."""
    applied = subprocess.run([*STORYLINE, "topics", "apply"], env=env, capture_output=True,
                             text=True, timeout=120, cwd=ROOT)
    assert applied.returncode == 0, applied
    async with ArticleProducer(settings) as producer:
        for i in range(ARTICLES):
            await producer.send(article(i))
    producer_ = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    await producer_.start()
    try:
        for i in range(ARTICLES):
            facts = extract_record(f"urn:it:added:{i}".encode(), canonical_bytes(article(i)),
                                   LogPosition(settings.articles, 0, i), max_bytes=1_000_000)
            await producer_.send_and_wait(settings.facts, facts.value, key=facts.key,
                                          partition=i % 2, headers=facts.headers)
    finally:
        await producer_.stop()
    await grow_partitions(settings.bootstrap_servers, settings.facts, 3)
    return settings


def refused(result: subprocess.CompletedProcess[str], settings: Settings) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    assert "with 3 stripes it belongs in" in result.stderr, output
    assert "partitions were added after facts were written" in result.stderr, output


async def test_an_extract_stage_refuses_a_facts_topic_with_partitions_added(
    command_env: dict[str, str], settings_for: Callable[..., Settings],
) -> None:
    settings = await written_with_two_stripes(command_env, settings_for(command_env))
    # on the old code it ran (until this timeout), writing the third layout's records
    extract = subprocess.run([*STORYLINE, "worker", "--stage", "extract", "--stripe", "0",
                              "--stripe", "1", "--stripe", "2", "--stripes", "3"],
                             env=command_env, capture_output=True, text=True, timeout=90,
                             cwd=ROOT)
    refused(extract, settings)
    assert f"{settings.facts} partition" in extract.stderr


@pytest.mark.parametrize("stage", ["fold", "assign"])
async def test_a_fold_from_the_start_refuses_facts_of_two_layouts_in_one_line(
    command_env: dict[str, str], settings_for: Callable[..., Settings], stage: str,
) -> None:
    settings = await written_with_two_stripes(command_env, settings_for(command_env))
    # on the old code: a MisplacedRecord traceback, exit 1, at every restart
    fold = subprocess.run([*STORYLINE, "worker", "--stage", stage], env=command_env,
                          capture_output=True, text=True, timeout=90, cwd=ROOT)
    refused(fold, settings)
