"""Partitions added to the story updates topic of a deployment that has published
revisions (a downstream team scaling its consumers with `kafka-topics.sh --alter
--partitions`), on a real broker. A StoryUpdated goes to the partition of its story id's
hash, so a story's next revisions land in another partition than its earlier ones, where a
reader meets them in any order (Kafka orders a partition, not a topic): a projector meeting
revision n+1 first has no page to apply its changes to (PageChainBroken, a dead letter),
and a story's checkpoint in story-pages is kept twice by compaction, the old one in the
old partition. Every stage whose
commits were made with the old count refuses in one line (PartitionsChanged, exit 2), and
`storyline status` says why (exit 1).

Before: nothing refused; the fold and page processes went on publishing into the grown
topic."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable

import pytest
from partitions import folded_then_grown, run

from storyline.domain.events import ArticleReceived
from storyline.ingest.producer import ArticleProducer
from storyline.settings import Settings

pytestmark = pytest.mark.integration


async def published_then_grown(env: dict[str, str], settings: Settings, pages: int,
                               topic: str, worker: tuple[str, ...] = ()) -> Settings:
    return await folded_then_grown(env, settings, pages, lambda s: {
        "updates": s.story_updates, "pages": s.story_pages}[topic], 6, worker)


def refused(result: subprocess.CompletedProcess[str], topic: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    assert f"{topic} has 6 partitions, 3 when group" in result.stderr, output
    assert '"error_type": "PartitionsChanged"' in output, output


async def test_the_fold_refuses_a_story_updates_topic_grown_under_it(
    command_env: dict[str, str], settings_for: Callable[..., Settings],
) -> None:
    settings = await published_then_grown(command_env, settings_for(command_env), pages=0,
                                          topic="updates")
    status = run(command_env, "status")
    assert status.returncode == 1, status
    assert f"{settings.story_updates} has 6 partitions, 3 when group" in status.stderr, status
    # on the old code it ran (until this timeout), publishing into the grown topic
    refused(run(command_env, "worker", "--stage", "fold", timeout=60), settings.story_updates)


async def test_a_page_process_refuses_a_story_pages_topic_grown_under_it(
    command_env: dict[str, str], settings_for: Callable[..., Settings],
) -> None:
    settings = await published_then_grown(command_env, settings_for(command_env), pages=2,
                                          topic="pages")
    refused(run(command_env, "worker", "--stage", "page", "--partition", "0", timeout=60),
            settings.story_pages)


async def test_the_single_worker_refuses_a_story_pages_topic_grown_under_it(
    command_env: dict[str, str], settings_for: Callable[..., Settings],
) -> None:
    """The single worker (faust, `--single`) writes story updates and pages by story id too:
    it commits their counts (not those of the stage topics it does not read) and refuses
    other counts; on the old code it ran (until this timeout), publishing into the grown
    topic."""
    settings = await published_then_grown(command_env, settings_for(command_env), pages=0,
                                          topic="pages", worker=("--single",))
    status = run(command_env, "status")
    assert status.returncode == 1, status
    assert f"{settings.story_pages} has 6 partitions, 3 when group" in status.stderr, status
    # it looks at its commits as it meets its next record
    async with ArticleProducer(settings) as producer:
        await producer.send(ArticleReceived(
            uri="urn:it:grown:4", version=1, source="Wire",
            body="Work on the harbour tunnel went on for a 4th day.",
            published=dt.datetime(2026, 3, 1, 8, 4, tzinfo=dt.UTC)))
    refused(run(command_env, "worker", "--single", timeout=90), settings.story_pages)
