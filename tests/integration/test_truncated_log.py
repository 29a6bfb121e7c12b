"""An articles log whose oldest records were deleted (a topic made with a week's retention,
an operator's delete-records), on a real broker: every reader that needs the whole log from
an offset says which records are gone, where Kafka would have moved it on to the first record
left and the records in between would have been skipped without a word."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from storyline.domain.events import ArticleReceived
from storyline.ingest.producer import ArticleProducer
from storyline.settings import Settings
from storyline.stream.logreader import LogTruncated, read_events, read_partition

pytestmark = pytest.mark.integration

STORYLINE = [sys.executable, "-m", "storyline.cli"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def env(command_env: dict[str, str]) -> dict[str, str]:
    subprocess.run([*STORYLINE, "topics", "apply"], env=command_env, check=True,
                   capture_output=True, timeout=120, cwd=ROOT)
    return command_env


async def test_readers_of_the_whole_log_name_the_deleted_records(
    env: dict[str, str], settings_for: Callable[..., Settings],
) -> None:
    settings = settings_for(env)
    async with ArticleProducer(settings) as producer:
        for i in range(6):
            await producer.send(ArticleReceived(
                uri=f"urn:it:trunc:{i}", version=1, source="Wire", body=f"Item {i}.",
                published=dt.datetime(2026, 3, 1, 8, i, tzinfo=dt.UTC)))
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(settings.articles, 0): RecordsToDelete(3)})
    finally:
        await admin.close()

    with pytest.raises(LogTruncated, match="now begins at offset 3: its records from offset 0 "
                                           "to 2 were deleted"):
        async for _ in read_partition(settings.bootstrap_servers, settings.articles, 0,
                                      stop=6):
            pass
    # from where the log still holds every record, and for a view of what is left: as before
    kept = [r.offset async for r in read_partition(settings.bootstrap_servers,
                                                   settings.articles, 0, start=3, stop=6)]
    assert kept == [3, 4, 5]
    left = [e async for e in read_events(settings.bootstrap_servers, settings.articles)]
    assert [e.uri for e in left if isinstance(e, ArticleReceived)] == [
        f"urn:it:trunc:{i}" for i in (3, 4, 5)]

    replay = subprocess.run([*STORYLINE, "replay", "--verify"], env=env, capture_output=True,
                            text=True, timeout=120, cwd=ROOT)
    assert replay.returncode == 2, replay
    assert "error: " in replay.stderr and "now begins at offset 3" in replay.stderr, replay
    assert "Traceback" not in replay.stderr

    # the supervisor starts the refusing stage again until its crash loop stops the set
    # (six deaths in a row): at once here, not after its 0+1+2+5+10 s of pauses
    extract = subprocess.run([*STORYLINE, "worker", "--stage", "extract"],
                             env=dict(env, STORYLINE_STAGE_RESTART_PAUSES="0"),
                             capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert extract.returncode == 2, extract  # said in one line, not a traceback
    assert "6 times in a row" in extract.stderr, extract.stderr[-3000:]
    assert extract.stderr.startswith(f"error: {settings.articles} partition 0 now begins at "
                                     "offset 3: its records from offset 0 to 2 were deleted"
                                     ) or "\nerror: " in extract.stderr, extract.stderr
    assert "Traceback" not in extract.stdout + extract.stderr
    assert '"error_type": "LogTruncated"' in extract.stdout + extract.stderr

    # the single-process worker: its gap fill meets the deletion and the worker stops,
    # saying why (its agent used to be restarted at every record, the crash held back as
    # the start-up outage's noise, nothing folded and nothing said)
    single = subprocess.run([*STORYLINE, "worker", "--single"], capture_output=True,
                            text=True, timeout=120, cwd=ROOT,
                            env=dict(env, STORYLINE_LOG_LEVEL="info"))
    assert single.returncode == 2, single  # in one line, as the stages say it
    assert "Traceback" not in single.stdout + single.stderr, single.stderr[-3000:]
    refused = [line for line in (single.stdout + single.stderr).splitlines()
               if '"worker_refused"' in line]
    assert len(refused) == 1 and "now begins at offset 3" in refused[0], single.stderr[-3000:]
    assert '"story_updated"' not in single.stdout + single.stderr


async def test_a_topic_set_to_delete_records_is_an_error_at_start(
    env: dict[str, str], settings_for: Callable[..., Settings],
) -> None:
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
    from structlog.testing import capture_logs

    from storyline.kafka.articles_log import warn_if_the_log_loses_records

    settings = settings_for(env)
    with capture_logs() as logged:
        assert await warn_if_the_log_loses_records(settings.bootstrap_servers,
                                                   settings.articles) == []
    assert logged == []
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:  # what a cluster's default gives a topic made by hand: a week
        await admin.alter_configs([ConfigResource(
            ConfigResourceType.TOPIC, settings.articles,
            configs={"cleanup.policy": "delete", "retention.ms": "604800000",
                     "retention.bytes": "-1"})])
    finally:
        await admin.close()
    with capture_logs() as logged:
        problems = await warn_if_the_log_loses_records(settings.bootstrap_servers,
                                                       settings.articles)
    assert problems == ["retention.ms=604800000: older records are deleted"]
    assert [(e["event"], e["log_level"]) for e in logged] == [
        ("articles_topic_loses_records", "error")]
