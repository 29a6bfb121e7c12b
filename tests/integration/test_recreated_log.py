"""The articles topic deleted and made again under a running staged worker, on a real
broker: the new log's records have offsets the workers' state has folded already, and were
taken for redeliveries and skipped, while `storyline status` said "caught up" (its commit
min'ed with the new, shorter end). Now the stages refuse to go on, saying why, and status
says it in the same words."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from background import poll, running

from storyline.domain.events import ArticleReceived
from storyline.ingest.producer import ArticleProducer
from storyline.settings import Settings

pytestmark = pytest.mark.integration

STORYLINE = [sys.executable, "-m", "storyline.cli"]
ROOT = Path(__file__).resolve().parents[2]


def article(story: str, i: int) -> ArticleReceived:
    return ArticleReceived(
        uri=f"urn:it:again:{story}:{i}", version=1, source="Wire",
        body=f"The {story} council in Lowmere voted on the {story} plan on March {i + 1}, "
             f"2026. Mayor Ines Varga of Lowmere said the {story} vote was close.",
        published=dt.datetime(2026, 3, 1 + i, 8, tzinfo=dt.UTC))


async def send(settings: Settings, articles: list[ArticleReceived]) -> None:
    async with ArticleProducer(settings) as producer:
        for item in articles:
            await producer.send(item)


async def delete_topics(settings: Settings, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()


def apply_topics(env: dict[str, str]) -> None:
    subprocess.run([*STORYLINE, "topics", "apply"], env=env, capture_output=True,
                   timeout=120, cwd=ROOT)
    time.sleep(2)  # the new topics' metadata reaches every broker listener


async def test_a_log_made_again_under_the_workers_is_refused(
    command_env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
) -> None:
    env = dict(command_env, STORYLINE_LOG_LEVEL="info", STORYLINE_COMMIT_INTERVAL="0.5")
    settings = settings_for(env)
    apply_topics(env)
    await send(settings, [article("bridge", i) for i in range(5)])
    with running([*STORYLINE, "worker"], env, tmp_path / "worker.log", ROOT) as logged:
        poll(lambda: logged().count('"story_updated"') >= 5, 90)
        assert logged().count('"story_updated"') == 5, logged()[-3000:]
        time.sleep(2)  # the commits of the five
        await delete_topics(settings, [settings.articles])
        time.sleep(3)
        apply_topics(env)
        await send(settings, [article("tunnel", i) for i in range(3)])
        poll(lambda: '"stage_refused"' in logged(), 60)
        # then, restarted by the supervisor: where Kafka kept the old log's commits the
        # stages refuse again and status says why; where it dropped them with the topic,
        # the stages start the new log from its first record. Never skipped in silence.
        looks: list[subprocess.CompletedProcess[str]] = []

        def settled() -> bool:
            looks.append(subprocess.run([*STORYLINE, "status"], env=env, capture_output=True,
                                        text=True, timeout=120, cwd=ROOT))
            return looks[-1].returncode == 1 or "urn:it:again:tunnel:2" in logged()

        poll(settled, 90, every=1.0)
        text, status = logged(), looks[-1]
    refused = [line for line in text.splitlines() if '"stage_refused"' in line]
    assert refused and all('"error_type": "LogRewound"' in line for line in refused), text[-3000:]
    assert "the topic was deleted and made again" in refused[0]
    folded_new = [line for line in text.splitlines()
                  if '"story_updated"' in line and "urn:it:again:tunnel" in line]
    if status.returncode == 1:
        assert "the topic was deleted and made again" in status.stdout, status
    else:  # the new log folded from its start, all of it
        assert len(folded_new) == 3, (status, text[-3000:])
