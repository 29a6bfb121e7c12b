"""The articles topic deleted and made again, its groups' commits outliving it (Kafka drops
a group's offsets with the topic, but a worker still running commits its own again), and
the new log refilled past them before the workers start again, on a real broker. Its end
alone cannot tell it from the old log: the commits lie below it. Its first record can: the
stages and the single-process worker compare it with the one their commits and state were
made from, and refuse the log. They used to resume at the old commit and skip the new log's
first records as if they had been folded."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import CommitFailedError, IllegalGenerationError, UnknownMemberIdError
from aiokafka.structs import OffsetAndMetadata
from background import poll, running
from test_recreated_log import apply_topics, article, delete_topics, send
from test_stages_kafka import stop

from storyline.settings import Settings
from storyline.stream.fold_stage import fold_state_dir
from storyline.stream.page_stage import page_group

pytestmark = pytest.mark.integration

STORYLINE = [sys.executable, "-m", "storyline.cli"]
ROOT = Path(__file__).resolve().parents[2]


async def articles_commits(admin: AIOKafkaAdminClient, topic: str
                           ) -> dict[str, dict[TopicPartition, OffsetAndMetadata]]:
    """Every group's commits on ``topic``, with their metadata."""
    found: dict[str, dict[TopicPartition, OffsetAndMetadata]] = {}
    for group, _kind in await admin.list_consumer_groups():
        offsets = await admin.list_consumer_group_offsets(group)
        mine = {tp: meta for tp, meta in offsets.items() if tp.topic == topic}
        if mine:
            found[group] = mine
    return found


async def commit_again(settings: Settings, group: str,
                       offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
    """Commit ``offsets`` for ``group`` from outside it; refused while a stopped static member
    (the faust worker's) is still in the group, so tried again until its session expires."""
    deadline = time.monotonic() + 90
    while True:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                                    group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(list(offsets))
            await consumer.commit(offsets)
            return
        except (CommitFailedError, UnknownMemberIdError, IllegalGenerationError):
            if time.monotonic() > deadline:
                raise
        finally:
            await consumer.stop()
        await asyncio.sleep(2)


async def fold_three_then_delete(env: dict[str, str], settings: Settings, worker: list[str],
                                 log: Path, commits_on: str, delete: list[str]
                                 ) -> dict[str, dict[TopicPartition, OffsetAndMetadata]]:
    """Three articles of one story folded by ``worker`` (stopped after their commits), then
    the groups' commits on ``commits_on`` read and the ``delete`` topics deleted."""
    apply_topics(env)
    await send(settings, [article("bridge", i) for i in range(3)])
    with running([*STORYLINE, *worker], env, log, ROOT) as logged:
        assert poll(lambda: logged().count('"story_updated"') >= 3, 120), logged()[-3000:]
        time.sleep(3)  # the commits of the three
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        commits = await articles_commits(admin, commits_on)
    finally:
        await admin.close()
    await delete_topics(settings, delete)
    return commits


def refuses_the_new_log(env: dict[str, str], worker: list[str], log: Path, *,
                        settle: float) -> None:
    """``worker`` started on the new log (``tunnel`` articles) refuses it, folding none."""
    refused = "begins with another record"
    with running([*STORYLINE, *worker], env, log, ROOT) as logged:
        assert poll(lambda: refused in logged() or "urn:it:again:tunnel:5" in logged(),
                    120), logged()[-3000:]
        time.sleep(settle)
        text = logged()
    folded = [line for line in text.splitlines() if '"story_updated"' in line]
    assert refused in text, text[-3000:]
    assert not any("urn:it:again:tunnel" in line for line in folded), folded


@pytest.mark.parametrize("worker", [["worker"], ["worker", "--single"]],
                         ids=["staged", "single"])
async def test_a_log_made_again_and_grown_past_the_commits_is_never_skipped(
    command_env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
    worker: list[str],
) -> None:
    env = dict(command_env, STORYLINE_LOG_LEVEL="info", STORYLINE_COMMIT_INTERVAL="0.5",
               STORYLINE_WORKER_SESSION_TIMEOUT="6")
    settings = settings_for(env)
    commits = await fold_three_then_delete(env, settings, worker, tmp_path / "first.log",
                                           settings.articles, [settings.articles])
    assert commits, "the workers committed their positions in the articles log"
    time.sleep(3)
    apply_topics(env)
    await send(settings, [article("tunnel", i) for i in range(6)])  # past the old commits
    for group, offsets in commits.items():  # as a worker still running commits again
        await commit_again(settings, group, offsets)
    status = subprocess.run([*STORYLINE, "status"], env=env, capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert status.returncode == 1, status  # it read as "caught up" or "behind"
    assert "begins with another record" in status.stdout + status.stderr, status

    refuses_the_new_log(env, worker, tmp_path / "again.log", settle=2)


async def test_a_facts_topic_that_stamps_its_own_times_is_not_another_log(
    command_env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
) -> None:
    """A cluster that stamps records with their append time (``log.message.timestamp.type=
    LogAppendTime``, here on the facts topic): the facts carry another time than their
    article. The fold stage reads the log's mark from the articles log itself, so a restart
    is not taken for a log made again."""
    env = dict(command_env, STORYLINE_LOG_LEVEL="info", STORYLINE_COMMIT_INTERVAL="0.5")
    settings = settings_for(env)
    apply_topics(env)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(
            ConfigResourceType.TOPIC, settings.facts,
            configs={"message.timestamp.type": "LogAppendTime"})])
    finally:
        await admin.close()
    with running([*STORYLINE, "worker"], env, tmp_path / "first.log", ROOT) as logged:
        # started on an empty log: the mark comes with the first record folded
        assert poll(lambda: '"fold_started"' in logged(), 120), logged()[-3000:]
        await send(settings, [article("bridge", i) for i in range(3)])
        assert poll(lambda: logged().count('"story_updated"') >= 3, 120), logged()[-3000:]
        time.sleep(3)  # the commits of the three
    await send(settings, [article("bridge", 3)])
    with running([*STORYLINE, "worker"], env, tmp_path / "again.log", ROOT) as logged:
        assert poll(lambda: "urn:it:again:bridge:3" in logged()
                    or "begins with another record" in logged(), 120), logged()[-3000:]
        text = logged()
    assert "begins with another record" not in text, text[-3000:]
    status = subprocess.run([*STORYLINE, "status"], env=env, capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert "begins with another record" not in status.stdout + status.stderr, status


async def test_page_processes_refuse_a_log_made_again_under_their_commits(
    command_env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
) -> None:
    """The page processes' commits are offsets of the assignments topic, which is made from
    the articles log. The articles log (and with it the facts and assignments topics) made
    again, the assign process started afresh on it (its state on a disk that did not
    survive), the page processes' commits written again by a page process still running:
    page processes used to take the new assignments below their old commits for folded
    and published, and published the new stories from the middle. Their commits and state
    now carry the articles log's first record, and they refuse the new log."""
    env = dict(command_env, STORYLINE_LOG_LEVEL="info", STORYLINE_COMMIT_INTERVAL="0.5",
               STORYLINE_PAGE_PROCESSES="2")
    settings = settings_for(env)  # (its data_dir too: the assign process's state is deleted)
    commits = await fold_three_then_delete(
        env, settings, ["worker"], tmp_path / "first.log", settings.assignments,
        [settings.articles, settings.facts, settings.assignments])
    assert sorted(commits) == [page_group(settings, p) for p in (0, 1)], commits
    shutil.rmtree(fold_state_dir(settings, pages=False))  # the assign process starts afresh
    time.sleep(3)
    apply_topics(env)
    await send(settings, [article("tunnel", i) for i in range(6)])
    for group, offsets in commits.items():  # as a page process still running commits again
        await commit_again(settings, group, offsets)
    status = subprocess.run([*STORYLINE, "status"], env=env, capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert status.returncode == 1, status
    assert "begins with another record" in status.stdout + status.stderr, status

    # the assign process writes the new log's assignments meanwhile
    refuses_the_new_log(env, ["worker"], tmp_path / "again.log", settle=5)


async def test_a_log_made_again_under_running_stages_is_refused_at_their_next_read(
    command_env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
) -> None:
    """The articles topic deleted and made again under running stages and refilled past their
    position before they read again (here: while they are frozen): their next read is of the
    new log, at their old position. They look at the log's first record before they read on
    after a pause, and refuse; they used to look every 30 s only, and folded the new log's
    records from their old position as the old log's continuation meanwhile."""
    env = dict(command_env, STORYLINE_LOG_LEVEL="info", STORYLINE_COMMIT_INTERVAL="0.5")
    settings = settings_for(env)
    apply_topics(env)
    await send(settings, [article("bridge", i) for i in range(3)])
    log = tmp_path / "stages.log"
    stages = [subprocess.Popen([*STORYLINE, "worker", "--stage", *args], env=env,
                               stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=ROOT)
              for args in (["extract", "--stripe", "0", "--stripe", "1", "--stripes", "2"],
                           ["fold"])]
    refused = "begins with another record"
    try:
        assert poll(lambda: log.read_text().count('"story_updated"') >= 3, 120), \
            log.read_text()[-3000:]
        time.sleep(2)  # their commits
        for stage in stages:
            stage.send_signal(signal.SIGSTOP)
        await delete_topics(settings, [settings.articles])
        time.sleep(3)
        apply_topics(env)
        await send(settings, [article("tunnel", i) for i in range(8)])  # past position 3
        for stage in stages:
            stage.send_signal(signal.SIGCONT)
        assert poll(lambda: refused in log.read_text()
                    or "urn:it:again:tunnel:7" in log.read_text(), 60), log.read_text()[-3000:]
        time.sleep(3)
    finally:
        for stage in stages:
            stage.send_signal(signal.SIGCONT)
            stop(stage)
    text = log.read_text()
    folded = [line for line in text.splitlines() if '"story_updated"' in line]
    assert refused in text, text[-3000:]
    assert not any("urn:it:again:tunnel" in line for line in folded), folded
