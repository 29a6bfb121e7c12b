"""A new pipeline version started on the commits of another, on a real broker.

Each StoryUpdated chains to the page before it (``previous_hash``). A worker of another
version used to rebuild its state from the log silently and go on where the old one had
committed: its next revision of a story chained to a page of its own making, which no
consumer held, so the projector refused it (``PageChainBroken``) and the API stayed on the
old revision for good. Every worker and stage now refuses commits made by another pipeline
version, and ``storyline status`` says so; the new version runs beside the old one on topics
of its own, reading the same articles (``STORYLINE_SOURCE_PREFIX``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata
from background import poll, running
from test_recreated_log import apply_topics, article, send
from test_replaced_log import articles_commits, commit_again

from storyline.domain.events import StoryUpdated
from storyline.settings import Settings
from storyline.stream.logreader import read_events

pytestmark = pytest.mark.integration

STORYLINE = [sys.executable, "-m", "storyline.cli"]
ROOT = Path(__file__).resolve().parents[2]
OTHER = "storyline-0.0.1/core-1+00000000.00000000/extract-1+00000000"
REFUSED = f"were made by pipeline {OTHER}"


def as_other_version(meta: OffsetAndMetadata) -> OffsetAndMetadata:
    """The same commit (offset, articles-log mark, times) as a worker of OTHER made it."""
    fields = json.loads(meta.metadata)
    fields["pipeline"] = OTHER
    return OffsetAndMetadata(meta.offset, json.dumps(fields, sort_keys=True))


async def updates(settings: Settings, topic: str) -> list[tuple[str, int]]:
    return [(event.story_id, event.revision)
            async for event in read_events(settings.bootstrap_servers, topic)
            if isinstance(event, StoryUpdated)]


@pytest.mark.parametrize(("worker", "page_processes"),
                         [(["worker"], "0"), (["worker"], "2"), (["worker", "--single"], "0")],
                         ids=["staged", "page-processes", "single"])
async def test_a_worker_refuses_commits_of_another_version_and_runs_beside_it(
    command_env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
    worker: list[str], page_processes: str,
) -> None:
    env = dict(command_env, STORYLINE_LOG_LEVEL="info", STORYLINE_COMMIT_INTERVAL="0.5",
               STORYLINE_WORKER_SESSION_TIMEOUT="6", STORYLINE_PAGE_PROCESSES=page_processes)
    prefix = env["STORYLINE_TOPIC_PREFIX"]
    settings = settings_for(env)
    apply_topics(env)
    await send(settings, [article("bridge", i) for i in range(3)])
    with running([*STORYLINE, *worker], env, tmp_path / "first.log", ROOT) as logged:
        assert poll(lambda: logged().count('"story_updated"') >= 3, 120), logged()[-3000:]
        time.sleep(3)  # the commits of the three
    published = await updates(settings, settings.story_updates)
    assert len(published) == 3, published
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        commits = await articles_commits(admin, settings.articles)
        commits.update(await articles_commits(admin, settings.assignments))  # page processes
    finally:
        await admin.close()
    assert commits, "the worker committed its position in the articles log"
    for group, offsets in commits.items():  # left so by a deployment of another version
        await commit_again(settings, group,
                           {tp: as_other_version(meta) for tp, meta in offsets.items()})
    await send(settings, [article("bridge", i) for i in range(3, 5)])

    status = subprocess.run([*STORYLINE, "status"], env=env, capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert status.returncode == 1, status  # not "behind": this code's workers will not go on
    assert REFUSED in status.stdout + status.stderr, status

    with running([*STORYLINE, *worker], env, tmp_path / "again.log", ROOT) as logged:
        assert poll(lambda: REFUSED in logged() or "urn:it:again:bridge:4" in logged(),
                    120), logged()[-3000:]
        time.sleep(2)
        text = logged()
    assert REFUSED in text, text[-3000:]
    assert "STORYLINE_SOURCE_PREFIX" in text, text[-3000:]  # the way on, in the refusal
    assert await updates(settings, settings.story_updates) == published  # nothing chained on

    # beside it: topics, groups and state of its own, the same articles
    beside = dict(env, STORYLINE_TOPIC_PREFIX=f"{prefix}next.", STORYLINE_SOURCE_PREFIX=prefix)
    beside_settings = settings_for(beside)
    assert beside_settings.articles == settings.articles
    apply_topics(beside)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        topics = set(await admin.list_topics())
    finally:
        await admin.close()
    assert beside_settings.story_updates in topics  # its own topics, but not articles
    assert beside_settings.topic(beside_settings.articles_topic) not in topics, topics
    with running([*STORYLINE, *worker], beside, tmp_path / "beside.log", ROOT) as logged:
        assert poll(lambda: logged().count('"story_updated"') >= 5, 120), logged()[-3000:]
        time.sleep(1)
        text = logged()
    assert REFUSED not in text, text[-3000:]
    mine = await updates(beside_settings, beside_settings.story_updates)
    assert [revision for _story, revision in mine] == [1, 2, 3, 4, 5], mine  # from the start
    assert await updates(settings, settings.story_updates) == published
