"""An articles topic with more than one partition, on a real broker: a cluster whose topics
are made with its default partition count (3 here), before `storyline topics apply` could
make it with one. The ingest path writes every article to partition 0, the log; a record a
producer put on another partition is reported by `storyline status` and refused by the
extract stage, where it used to be left unfolded without a word."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from background import poll, running

from storyline.domain.canonical import canonical_bytes
from storyline.domain.events import ArticleReceived
from storyline.ingest.producer import ArticleProducer
from storyline.settings import Settings
from storyline.stream.logreader import end_offsets

pytestmark = pytest.mark.integration

STORYLINE = [sys.executable, "-m", "storyline.cli"]
ROOT = Path(__file__).resolve().parents[2]


def article(i: int) -> ArticleReceived:
    return ArticleReceived(uri=f"urn:it:parts:{i}", version=1, source="Wire",
                           body=f"Item {i} of the wire.",
                           published=dt.datetime(2026, 3, 1, 8, i, tzinfo=dt.UTC))


@pytest.fixture()
def env(command_env: dict[str, str]) -> dict[str, str]:
    return command_env


async def off_the_log(settings: Settings, i: int, partition: int) -> None:
    """Article ``i`` as a producer of one's own writes it: on ``partition``, which the key's
    hash chose."""
    plain = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers)
    await plain.start()
    try:
        await plain.send_and_wait(settings.articles, canonical_bytes(article(i)),
                                  key=f"urn:it:parts:{i}".encode(), partition=partition)
    finally:
        await plain.stop()


async def make_topics(env: dict[str, str], settings: Settings) -> Settings:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(settings.articles, 3, 1)])
    finally:
        await admin.close()
    # the rest as declared; the articles topic is reported as differing and left as it is
    applied = subprocess.run([*STORYLINE, "topics", "apply"], env=env, capture_output=True,
                             text=True, timeout=120, cwd=ROOT)
    assert "partitions" in applied.stdout + applied.stderr, applied
    return settings


async def test_articles_go_to_the_log_and_records_off_it_are_refused(
    env: dict[str, str], settings_for: Callable[..., Settings],
) -> None:
    settings = await make_topics(env, settings_for(env))
    async with ArticleProducer(settings) as producer:
        landed = [await producer.send(article(i)) for i in range(6)]
    assert landed == [(0, i) for i in range(6)]  # the keys' hashes would spread them

    status = subprocess.run([*STORYLINE, "status"], env=env, capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert "records on partition" not in status.stdout + status.stderr, status

    await off_the_log(settings, 9, partition=2)
    assert (await end_offsets(settings.bootstrap_servers, settings.articles)) == {
        0: 6, 1: 0, 2: 1}

    status = subprocess.run([*STORYLINE, "status"], env=env, capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert status.returncode == 1, status
    assert (f"1 record on partition 2 of {settings.articles}: the articles log is partition 0"
            in status.stdout + status.stderr), status

    # the supervisor starts the refusing stage again until its crash loop stops the set
    # (six deaths in a row): at once here, not after its 0+1+2+5+10 s of pauses
    extract = subprocess.run([*STORYLINE, "worker", "--stage", "extract"],
                             env=dict(env, STORYLINE_STAGE_RESTART_PAUSES="0"),
                             capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert extract.returncode == 2, extract  # said in one line, not a traceback
    assert "6 times in a row" in extract.stderr, extract.stderr[-3000:]
    assert f"error: 1 record on partition 2 of {settings.articles}" in extract.stderr, extract
    assert "Traceback" not in extract.stdout + extract.stderr
    assert '"error_type": "ArticlesOffTheLog"' in extract.stdout + extract.stderr


async def test_the_single_process_worker_folds_the_log_and_names_what_is_off_it(
    env: dict[str, str], settings_for: Callable[..., Settings], tmp_path: Path,
) -> None:
    settings = await make_topics(env, settings_for(env))
    async with ArticleProducer(settings) as producer:
        for i in range(3):
            await producer.send(article(i))
    await off_the_log(settings, 9, partition=1)
    with running([*STORYLINE, "worker", "--single"], dict(env, STORYLINE_LOG_LEVEL="info"),
                 tmp_path / "worker.log", ROOT) as logged:
        poll(lambda: ("articles_off_the_log" in logged()
                      and logged().count('"story_updated"') >= 3), 90)
        text = logged()
    assert text.count('"articles_off_the_log"') == 1, text[-3000:]
    assert '"partition": 1' in text and "the articles log is partition 0" in text
    folded = [line for line in text.splitlines() if '"story_updated"' in line]
    assert len(folded) == 3 and not any("urn:it:parts:9" in line for line in folded), folded
